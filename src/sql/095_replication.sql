-- ---------------------------------------------------------------------
-- Logical replication: regional read copies of the configuration
-- (src/sql/095_replication.sql)
--
-- Design (the README's "Regional copies" section has the user-facing recipe):
--  * One publication carries ff.versions together with the config tables
--    (ff.create_publication).  The subscriber receives the publisher's
--    history rows verbatim, so its chain is the publisher's chain and
--    verifies; config rows arrive with the stamps that reference them.
--  * The apply worker runs with session_replication_role = replica, where
--    ordinary triggers do not fire: the subscriber's validation and
--    history triggers (ff_10_*, ff_90_*) stay silent on apply, so nothing
--    is validated or recorded twice.
--  * The evaluation cache must still learn about applied rows: the
--    ordinary statement triggers ff_invalidate_cache do not fire on apply
--    (and the apply worker fires no statement triggers except for
--    TRUNCATE), so row triggers ff_invalidate_cache_apply, ENABLE REPLICA,
--    invalidate it.  They fire only when session_replication_role =
--    replica and cost nothing in ordinary sessions.
--  * The change notification is sent by ff_90_notify_apply (ENABLE
--    REPLICA) for every change-set the apply worker commits; a change-set
--    that a two_phase subscription prepares gets none, as on the publisher.
--  * A database subscribed to any ff table refuses configuration writes
--    made directly on it (ff_00_subscriber_guard): they would be lost or
--    overwritten, and their versions would collide with the publisher's.
--
-- Concurrency (test/t/050_mixed_load.pl): every write statement on a
-- config table takes the history writer lock (src/ff_history.c) in a
-- BEFORE STATEMENT trigger, ff_01_writer_lock, i.e. before it locks any
-- config row.  Without it, the lock was taken by the first BEFORE ROW
-- trigger, after the row itself was locked, so two transactions writing
-- the same flags in a different order (or one writing two flags while
-- another writes one of them) deadlocked: the one holding the writer
-- lock waited for a row lock held by the one waiting for the writer lock.
-- ---------------------------------------------------------------------

-- ff._replication_tables: the tables a configuration publication carries, history first
CREATE FUNCTION ff._replication_tables()
RETURNS regclass[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY['ff.versions'::regclass, 'ff.environments'::regclass, 'ff.flags'::regclass,
                 'ff.segments'::regclass, 'ff.segment_keys'::regclass]
$$;
COMMENT ON FUNCTION ff._replication_tables() IS
    'Internal: the tables a configuration publication carries: ff.versions, ff.environments, ff.flags, ff.segments, ff.segment_keys';

-- ff.create_publication: creates a publication of the configuration and its history
CREATE FUNCTION ff.create_publication(name text DEFAULT 'ff_config')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (1.17) NULL is 22004, as elsewhere
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'publication name must not be NULL or empty'
            USING ERRCODE = CASE WHEN name IS NULL THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END,
                  HINT = 'Pass a name, e.g. ff.create_publication(''ff_config'').';
    END IF;
    IF pg_catalog.octet_length(name) > 63 THEN
        -- PostgreSQL would truncate it, and the name returned would not exist
        RAISE EXCEPTION 'publication name "%" is too long', name
            USING ERRCODE = 'name_too_long',
                  DETAIL = pg_catalog.format('The name is %s bytes long; PostgreSQL names are at most 63 bytes.',
                                             pg_catalog.octet_length(name)),
                  HINT = 'Choose a shorter name.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_publication AS p WHERE p.pubname = name) THEN
        RAISE EXCEPTION 'publication "%" already exists', name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Choose another name, or DROP PUBLICATION it first.';
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE PUBLICATION %I FOR TABLE ff.versions, ff.environments, ff.flags, ff.segments, ff.segment_keys',
        name);
    EXECUTE pg_catalog.format('COMMENT ON PUBLICATION %I IS %L', name,
        'feature_flags configuration and history (ff.create_publication)');
    RETURN name;
END;
$$;
COMMENT ON FUNCTION ff.create_publication(text) IS
    'Creates a publication of ff.versions, ff.environments, ff.flags, ff.segments and ff.segment_keys (the history and the configuration) for regional subscribers; returns its name';
REVOKE ALL ON FUNCTION ff.create_publication(text) FROM PUBLIC;

-- ff.prepare_subscriber: empties a freshly installed database so that it can subscribe to a
--   configuration publication
CREATE FUNCTION ff.prepare_subscriber()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n_versions  bigint;
    n_written   bigint;
    n_keys      bigint;
    n_removed   bigint := 0;
    n           bigint;
    old_role    text := pg_catalog.current_setting('session_replication_role');
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = CURRENT_USER) THEN
        RAISE EXCEPTION 'permission denied to prepare a subscriber'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'ff.prepare_subscriber() removes configuration rows without recording history.',
                  HINT = 'Run it as a superuser, like CREATE SUBSCRIPTION.';
    END IF;
    SELECT pg_catalog.count(*) INTO n_versions FROM ff.versions;
    SELECT (SELECT pg_catalog.count(*) FROM ff.environments AS e WHERE e.version IS NOT NULL)
         + (SELECT pg_catalog.count(*) FROM ff.flags)
         + (SELECT pg_catalog.count(*) FROM ff.segments)
      INTO n_written;
    SELECT pg_catalog.count(*) INTO n_keys FROM ff.segment_keys;
    IF n_versions > 0 OR n_written > 0 OR n_keys > 0 THEN
        RAISE EXCEPTION 'database "%" already holds feature flag configuration', pg_catalog.current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('%s versions, %s written environments, flags or segments, %s segment keys.',
                                             n_versions, n_written, n_keys),
                  HINT = 'A subscriber receives its configuration and history from the publisher: start from a database where CREATE EXTENSION feature_flags has just run.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_subscription_rel AS r
                WHERE r.srrelid = ANY (ff._replication_tables())) THEN
        RAISE EXCEPTION 'database "%" already subscribes to feature flag tables', pg_catalog.current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- the environments the install script created (the default one) would
    -- collide with the publisher's copies; remove them without validation
    -- or history (ordinary triggers are silent under replica)
    PERFORM pg_catalog.set_config('session_replication_role', 'replica', true);
    DELETE FROM ff.environments;
    GET DIAGNOSTICS n = ROW_COUNT;
    n_removed := n_removed + n;
    PERFORM pg_catalog.set_config('session_replication_role', old_role, true);
    RETURN n_removed;
END;
$$;
COMMENT ON FUNCTION ff.prepare_subscriber() IS
    'Removes the rows CREATE EXTENSION created (the default environment) from a fresh database, without history, so that it can subscribe to a publication made by ff.create_publication(); superuser only; returns the number of rows removed';
REVOKE ALL ON FUNCTION ff.prepare_subscriber() FROM PUBLIC;

-- ff.subscribed_tables: the ff tables this database receives by logical replication, and from which
--   subscription
CREATE FUNCTION ff.subscribed_tables(OUT table_name regclass, OUT subscription name, OUT sync_state text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.srrelid::regclass, s.subname,
           CASE r.srsubstate
               WHEN 'i' THEN 'initialize' WHEN 'd' THEN 'data copy' WHEN 'f' THEN 'finished copy'
               WHEN 's' THEN 'synchronized' WHEN 'r' THEN 'ready' ELSE r.srsubstate::text
           END
      FROM pg_catalog.pg_subscription_rel AS r
      JOIN pg_catalog.pg_subscription AS s ON s.oid = r.srsubid
     WHERE r.srrelid = ANY (ff._replication_tables())
     ORDER BY pg_catalog.array_position(ff._replication_tables(), r.srrelid), s.subname
$$;
COMMENT ON FUNCTION ff.subscribed_tables() IS
    'The ff tables this database receives by logical replication: table, subscription and synchronisation state (ready when caught up); empty on a primary';

-- ff._replication_guard: refuses configuration writes made directly on a subscriber
--   (it reads only system catalogs, by OID and through their indexes: no privilege
--   or search_path is involved, so it runs as the caller)
CREATE FUNCTION ff._replication_guard()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_replication_guard';
COMMENT ON FUNCTION ff._replication_guard() IS
    'Trigger ff_00_subscriber_guard: refuses configuration writes made directly on a logical replication subscriber of the ff tables';
REVOKE ALL ON FUNCTION ff._replication_guard() FROM PUBLIC;

-- ff._history_writer_lock: takes the history writer lock at the start of a write statement,
--   before any config row is locked: a heavyweight lock held until the transaction ends
--   (src/ff_history.c; until 1.4, the row lock of ff.history_lock)
CREATE FUNCTION ff._history_writer_lock()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_writer_lock_1_5';
COMMENT ON FUNCTION ff._history_writer_lock() IS
    'Trigger ff_01_writer_lock: takes the history writer lock at the start of each write statement, before any config row is locked (no lock-order deadlocks between writers)';
REVOKE ALL ON FUNCTION ff._history_writer_lock() FROM PUBLIC;

-- ff._replication_notify: on a subscriber, queues the change notification of each change-set
--   the apply worker commits (src/ff_history.c; until 1.5 PL/pgSQL with pg_notify, which made
--   a two_phase subscription fail at every PREPARE it applied)
CREATE FUNCTION ff._replication_notify()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_replication_notify';
COMMENT ON FUNCTION ff._replication_notify() IS
    'Trigger ff_90_notify_apply: on a subscriber, sends the change notification of each change-set the apply worker commits';
REVOKE ALL ON FUNCTION ff._replication_notify() FROM PUBLIC;

-- writes made directly on a subscriber: refused once per statement (an
-- ordinary trigger, so the apply worker itself is not affected)
CREATE TRIGGER ff_00_subscriber_guard
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._replication_guard();
CREATE TRIGGER ff_00_subscriber_guard
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff._replication_guard();
CREATE TRIGGER ff_00_subscriber_guard
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._replication_guard();
CREATE TRIGGER ff_00_subscriber_guard
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._replication_guard();

-- the writer lock first, then rows (an ordinary trigger: replicated rows
-- carry their versions and take no lock)
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();
-- (1.17) approval rules too: a rule set while a configuration write is in
-- flight waits for it, and a write that takes the lock later sees the rule
-- (ff._approvals_required reads it as last committed)
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.approval_rules
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();

-- applied rows invalidate the evaluation cache: row triggers, because the
-- apply worker fires statement triggers only for TRUNCATE; one relcache
-- invalidation per table and transaction (duplicates are merged)
CREATE TRIGGER ff_invalidate_cache_apply
    AFTER INSERT OR UPDATE OR DELETE ON ff.environments
    FOR EACH ROW EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply
    AFTER INSERT OR UPDATE OR DELETE ON ff.flags
    FOR EACH ROW EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply
    AFTER INSERT OR UPDATE OR DELETE ON ff.segments
    FOR EACH ROW EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply
    AFTER INSERT OR UPDATE OR DELETE ON ff.segment_keys
    FOR EACH ROW EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply_truncate
    AFTER TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply_truncate
    AFTER TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply_truncate
    AFTER TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply_truncate
    AFTER TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();

-- the change notification of applied change-sets, at commit
CREATE CONSTRAINT TRIGGER ff_90_notify_apply
    AFTER INSERT ON ff.versions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.version = NEW.change_set)
    EXECUTE FUNCTION ff._replication_notify();

-- these fire only when session_replication_role = replica (the apply worker)
ALTER TABLE ff.environments ENABLE REPLICA TRIGGER ff_invalidate_cache_apply;
ALTER TABLE ff.flags ENABLE REPLICA TRIGGER ff_invalidate_cache_apply;
ALTER TABLE ff.segments ENABLE REPLICA TRIGGER ff_invalidate_cache_apply;
ALTER TABLE ff.segment_keys ENABLE REPLICA TRIGGER ff_invalidate_cache_apply;
ALTER TABLE ff.environments ENABLE REPLICA TRIGGER ff_invalidate_cache_apply_truncate;
ALTER TABLE ff.flags ENABLE REPLICA TRIGGER ff_invalidate_cache_apply_truncate;
ALTER TABLE ff.segments ENABLE REPLICA TRIGGER ff_invalidate_cache_apply_truncate;
ALTER TABLE ff.segment_keys ENABLE REPLICA TRIGGER ff_invalidate_cache_apply_truncate;
ALTER TABLE ff.versions ENABLE REPLICA TRIGGER ff_90_notify_apply;

COMMENT ON TRIGGER ff_00_subscriber_guard ON ff.environments IS
    'Refuses writes on a logical replication subscriber of the configuration (ordinary: the apply worker is not affected)';
COMMENT ON TRIGGER ff_00_subscriber_guard ON ff.flags IS
    'Refuses writes on a logical replication subscriber of the configuration (ordinary: the apply worker is not affected)';
COMMENT ON TRIGGER ff_00_subscriber_guard ON ff.segments IS
    'Refuses writes on a logical replication subscriber of the configuration (ordinary: the apply worker is not affected)';
COMMENT ON TRIGGER ff_00_subscriber_guard ON ff.segment_keys IS
    'Refuses writes on a logical replication subscriber of the configuration (ordinary: the apply worker is not affected)';
COMMENT ON TRIGGER ff_01_writer_lock ON ff.environments IS
    'Takes the history writer lock before the statement locks any row (writers never deadlock on lock order)';
COMMENT ON TRIGGER ff_01_writer_lock ON ff.flags IS
    'Takes the history writer lock before the statement locks any row (writers never deadlock on lock order)';
COMMENT ON TRIGGER ff_01_writer_lock ON ff.segments IS
    'Takes the history writer lock before the statement locks any row (writers never deadlock on lock order)';
COMMENT ON TRIGGER ff_01_writer_lock ON ff.segment_keys IS
    'Takes the history writer lock before the statement locks any row (writers never deadlock on lock order)';
COMMENT ON TRIGGER ff_invalidate_cache_apply ON ff.environments IS
    'ENABLE REPLICA: rows applied by logical replication invalidate the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply ON ff.flags IS
    'ENABLE REPLICA: rows applied by logical replication invalidate the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply ON ff.segments IS
    'ENABLE REPLICA: rows applied by logical replication invalidate the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply ON ff.segment_keys IS
    'ENABLE REPLICA: rows applied by logical replication invalidate the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply_truncate ON ff.environments IS
    'ENABLE REPLICA: a TRUNCATE applied by logical replication invalidates the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply_truncate ON ff.flags IS
    'ENABLE REPLICA: a TRUNCATE applied by logical replication invalidates the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply_truncate ON ff.segments IS
    'ENABLE REPLICA: a TRUNCATE applied by logical replication invalidates the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply_truncate ON ff.segment_keys IS
    'ENABLE REPLICA: a TRUNCATE applied by logical replication invalidates the evaluation cache';
COMMENT ON TRIGGER ff_90_notify_apply ON ff.versions IS
    'ENABLE REPLICA: the change notification of each change-set applied by logical replication';
