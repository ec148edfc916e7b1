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

-- Bind every name in this script to pg_catalog (and the ff names, which are
-- always written out).  Views and SQL-standard function bodies resolve their
-- functions and operators now, when the extension is created, and the
-- search_path CREATE EXTENSION sets starts with the schema it is run from,
-- usually public, where the database owner may create functions: a
-- public.format(text, text, text) would beat pg_catalog's variadic format and
-- run with the rights of whoever calls the ff function (1.23).  SET LOCAL: the
-- setting ends with the script (a plain SET would outlive it, in the session
-- that created the extension).
SET LOCAL search_path = pg_catalog, pg_temp;

-- The evaluator works on UTF-8 text: fractional and ff.bucket hash the
-- UTF-8 bytes of a key (as flagd does), substr counts characters.  This
-- script is ASCII, so this check runs in any database encoding.  SQL_ASCII
-- stores the bytes clients send, UTF-8 in practice, and is accepted.
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() NOT IN ('UTF8', 'SQL_ASCII') THEN
        RAISE EXCEPTION 'feature_flags needs a UTF-8 database; database "%" uses %',
                        pg_catalog.current_database(), pg_catalog.getdatabaseencoding()
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Bucketing hashes the UTF-8 bytes of a key, as flagd does, and JSON Logic counts characters of UTF-8 text: in another encoding users would land in other buckets than in flagd.',
                  HINT = 'Create the database with ENCODING ''UTF8'' (CREATE DATABASE ... TEMPLATE template0 ENCODING ''UTF8'' LOCALE ''C.UTF-8''), or initdb with -E UTF8.';
    END IF;
END
$$;

CREATE SCHEMA ff;
COMMENT ON SCHEMA ff IS 'feature_flags: flags, segments, environments, their history, and evaluation functions';
REVOKE ALL ON SCHEMA ff FROM PUBLIC;
GRANT USAGE ON SCHEMA ff TO PUBLIC;
