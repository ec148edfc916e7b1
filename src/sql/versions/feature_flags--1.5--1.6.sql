-- feature_flags 1.5 -> 1.6 (ALTER EXTENSION feature_flags UPDATE TO '1.6')
--
-- 1.6 lets configuration changes take part in two-phase commit.  The change
-- notifications are queued by their deferred triggers and sent by the
-- commit; PREPARE TRANSACTION drops them (with a NOTICE) instead of failing
-- with "cannot PREPARE a transaction that has executed ... NOTIFY".  For
-- ff_90_notify (the publisher, or any primary) that is the library alone:
-- a database at 1.5 gets it as soon as the 1.6 library is installed.  What
-- this script changes:
--   * ff._replication_notify (the trigger ff_90_notify_apply of a logical
--     replication subscriber) is C instead of PL/pgSQL with pg_notify, and
--     queues its notification the same way, so that a subscription with
--     two_phase = true can prepare the change-sets it applies.  It was
--     SECURITY DEFINER to read the payload as the owner; the C function
--     does that for the one query it runs.
-- Nothing else changes; no table is touched, so the update takes no lock
-- that writers wait for.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.6'" to load this file. \quit

CREATE OR REPLACE FUNCTION ff._replication_notify()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_replication_notify';
COMMENT ON FUNCTION ff._replication_notify() IS
    'Trigger ff_90_notify_apply: on a subscriber, sends the change notification of each change-set the apply worker commits';
