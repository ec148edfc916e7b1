-- feature_flags 1.1 -> 1.2 (ALTER EXTENSION feature_flags UPDATE TO '1.2')
--
-- 1.2 makes every configuration change cheaper; no configuration or history
-- row changes.  What changes:
--   * ff.history_lock gets fillfactor 10, so the dead versions its one row
--     leaves behind are pruned every dozen updates instead of piling up on
--     the page that each write statement scans;
--   * three C trigger functions stop being SECURITY DEFINER with SET
--     clauses (the configuration-parameter work of a SET clause costs every
--     call more than the function itself):
--       ff._replication_guard reads only system catalogs, through their
--       indexes, and runs as the caller;
--       ff._history_writer_lock and ff._history_notify run as the caller and
--       act as the function's owner, with search_path pg_catalog, only
--       around the SQL they run on internal tables (src/ff_trigger.c,
--       FFTriggerBecomeOwner).
-- The 1.2 library also works with a database still at 1.0 or 1.1: there
-- the functions keep their SECURITY DEFINER behaviour until this update.
\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.2'" to load this file. \quit

ALTER TABLE ff.history_lock SET (fillfactor = 10);

ALTER FUNCTION ff._replication_guard() SECURITY INVOKER RESET ALL;
ALTER FUNCTION ff._history_writer_lock() SECURITY INVOKER RESET ALL;
ALTER FUNCTION ff._history_notify() SECURITY INVOKER RESET ALL;
