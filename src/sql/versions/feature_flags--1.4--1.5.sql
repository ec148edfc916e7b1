-- feature_flags 1.4 -> 1.5 (ALTER EXTENSION feature_flags UPDATE TO '1.5')
--
-- 1.5 makes every configuration change cheaper: the history writer lock,
-- which serializes writers until they commit, becomes a heavyweight lock
-- (exclusive, on ff.versions as an object of pg_class: pg_locks shows it
-- with locktype 'object') instead of the row lock of the one-row table
-- ff.history_lock.  Taking it costs no UPDATE, no row version and no WAL
-- record, and a writer that waited for it does not re-check a row.  What
-- changes:
--   * ff.history_lock is dropped (it never held anything but its one row);
--   * ff._history_writer_lock (the trigger ff_01_writer_lock) and
--     ff._history_row_trigger (ff_90_history) use the 1.5 symbols of the
--     library, which take and test the new lock;
--   * ff._history_next() is C instead of PL/pgSQL (same result);
--   * under REPEATABLE READ or SERIALIZABLE, a writer gets the serialization
--     failure (40001) only when a version was committed after its snapshot
--     was taken; 1.4 also failed it when the previous holder of the lock had
--     recorded nothing (a no-op write);
--   * the version stamps of ff.flags and ff.segments lose their foreign
--     keys to ff.versions (flags_version_fkey, segments_version_fkey): the
--     history trigger writes the stamps itself and never takes one that
--     names no recorded version as in sync, and the check was a query on
--     every change.  ff.environments keeps environments_version_fkey, which
--     makes pg_dump restore the history before every config table;
--   * the view ff.writer_lock shows the holder of the writer lock and its
--     waiters (ff.history_lock.holder named the last holder);
--   * ff.privilege_recipe no longer leaves ff.history_lock out of the
--     editor's SELECT grant (there is no such table any more).
-- The update may run while applications write (see the LOCK TABLE below
-- and test/isolation/specs/upgrade_concurrent.spec).
-- No configuration or history row changes.  The 1.5 library also works with
-- a database still at 1.4 or earlier: there the trigger functions keep the
-- row lock until this update.
\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.5'" to load this file. \quit

-- The update drops ff.history_lock and two foreign keys, which needs
-- ACCESS EXCLUSIVE locks on ff.flags, ff.segments, ff.history_lock and
-- ff.versions.  Taken one by one as the statements below need them, they
-- would be taken in another order than a configuration write takes its
-- locks (its own table first, then ff.history_lock, then ff.versions), and
-- a write arriving during the update could deadlock with it.  Taken here at
-- once, tables written first before the tables written later, a write in
-- progress makes the update wait, and a write that starts later waits for
-- the update; only a transaction that writes several configuration tables
-- in separate statements can still deadlock with it (PostgreSQL then
-- aborts one of the two, which can be retried).
LOCK TABLE ff.flags, ff.segment_keys, ff.segments, ff.environments, ff.history_lock, ff.versions
    IN ACCESS EXCLUSIVE MODE;

CREATE OR REPLACE FUNCTION ff._history_next(OUT next_version bigint, OUT next_change_set bigint,
                                            OUT last_hash text)
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_next';

CREATE OR REPLACE FUNCTION ff._history_row_trigger()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_row_trigger_1_5';

CREATE OR REPLACE FUNCTION ff._history_writer_lock()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_writer_lock_1_5';

-- no writer updates the lock row any more: the trigger functions above take
-- the 1.5 lock in every write that starts after this update commits
ALTER EXTENSION feature_flags DROP TABLE ff.history_lock;
DROP TABLE ff.history_lock;

ALTER TABLE ff.flags DROP CONSTRAINT flags_version_fkey;
ALTER TABLE ff.segments DROP CONSTRAINT segments_version_fkey;

-- ---- the writer lock

-- ff.writer_lock: who holds the history writer lock and who waits for it (1.5: a heavyweight
--   lock, src/ff_history.c; until 1.4 ff.history_lock.holder named the last holder)
CREATE VIEW ff.writer_lock WITH (security_invoker = true) AS
SELECT l.granted AS holds_lock,
       l.pid,
       l.virtualtransaction,
       a.usename AS session_user_name,
       a.application_name,
       a.client_addr,
       a.xact_start,
       l.waitstart AS waiting_since,
       a.state,
       a.query
  FROM pg_catalog.pg_locks AS l
  LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
 WHERE l.locktype = 'object'
   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d
                      WHERE d.datname = pg_catalog.current_database())
   AND l.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
   AND l.objid = 'ff.versions'::pg_catalog.regclass
   AND l.objsubid = 0
 ORDER BY l.granted DESC, l.waitstart;
COMMENT ON VIEW ff.writer_lock IS 'The transaction that holds the history writer lock (every configuration write takes it until commit) and those waiting for it';
COMMENT ON COLUMN ff.writer_lock.holds_lock IS 'true for the holder, false for a waiter';
COMMENT ON COLUMN ff.writer_lock.pid IS 'Backend process id (NULL for a prepared transaction)';
COMMENT ON COLUMN ff.writer_lock.virtualtransaction IS 'Virtual transaction id, as in pg_locks';
COMMENT ON COLUMN ff.writer_lock.session_user_name IS 'Session user of the backend (pg_stat_activity.usename)';
COMMENT ON COLUMN ff.writer_lock.application_name IS 'application_name of the backend';
COMMENT ON COLUMN ff.writer_lock.client_addr IS 'Client address of the backend';
COMMENT ON COLUMN ff.writer_lock.xact_start IS 'Start of the backend''s transaction';
COMMENT ON COLUMN ff.writer_lock.waiting_since IS 'When a waiter started waiting (NULL for the holder)';
COMMENT ON COLUMN ff.writer_lock.state IS 'Backend state, e.g. idle in transaction for a holder that does not commit';
COMMENT ON COLUMN ff.writer_lock.query IS 'Last statement of the backend (visible as pg_stat_activity shows it to the caller)';
REVOKE ALL ON ff.writer_lock FROM PUBLIC;

CREATE OR REPLACE FUNCTION ff.privilege_recipe(level text, grantee name, revoke boolean DEFAULT false)
RETURNS SETOF text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    levels      text[];
    lvl         text;
    verb        text := CASE WHEN revoke THEN 'REVOKE' ELSE 'GRANT' END;
    dir         text := CASE WHEN revoke THEN 'FROM' ELSE 'TO' END;
    who         text := quote_ident(grantee);
    fn          regprocedure;
    rel         text;
    readable    text;
BEGIN
    IF grantee IS NULL THEN
        RAISE EXCEPTION 'grantee must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    levels := CASE level
        WHEN 'reader' THEN ARRAY['reader']
        WHEN 'editor' THEN ARRAY['reader', 'editor']
        WHEN 'admin' THEN ARRAY['reader', 'editor', 'admin']
    END;
    IF levels IS NULL THEN
        RAISE EXCEPTION 'unknown privilege level "%"', level
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The levels are ''reader'', ''editor'' and ''admin''.';
    END IF;

    RETURN NEXT format('%s USAGE ON SCHEMA ff %s %s', verb, dir, who);
    FOREACH lvl IN ARRAY levels LOOP
        FOR fn IN SELECT f FROM ff._recipe_functions(lvl) AS f LOOP
            RETURN NEXT format('%s EXECUTE ON FUNCTION %s %s %s', verb, fn, dir, who);
        END LOOP;
        IF lvl = 'editor' THEN
            -- read every table and view
            SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.relname) INTO readable
              FROM pg_class AS c
             WHERE c.relnamespace = 'ff'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p');
            RETURN NEXT format('%s SELECT ON %s %s %s', verb, readable, dir, who);
            RETURN NEXT format('%s INSERT, UPDATE, DELETE ON ff.flags, ff.segments, ff.segment_keys %s %s',
                               verb, dir, who);
            RETURN NEXT format('%s UPDATE (metadata, description) ON ff.environments %s %s', verb, dir, who);
        ELSIF lvl = 'admin' THEN
            -- UPDATE on the whole table, hence on "protected": an ff administrator
            RETURN NEXT format('%s INSERT, UPDATE, DELETE ON ff.environments %s %s', verb, dir, who);
        END IF;
    END LOOP;
END;
$$;
