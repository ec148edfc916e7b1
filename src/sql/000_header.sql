/*-------------------------------------------------------------------------
 *
 * feature_flags--1.0.sql
 *	  Install script of the feature_flags extension.
 *
 * Assembled by the Makefile from src/sql/NNN_*.sql in name order; edit
 * those files, not the generated script.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 *-------------------------------------------------------------------------
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION feature_flags" to load this file. \quit

CREATE SCHEMA ff;
COMMENT ON SCHEMA ff IS 'feature_flags: flags, segments, environments, their history, and evaluation functions';
REVOKE ALL ON SCHEMA ff FROM PUBLIC;
GRANT USAGE ON SCHEMA ff TO PUBLIC;
