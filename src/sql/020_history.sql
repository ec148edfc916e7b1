-- ---------------------------------------------------------------------
-- History: an immutable, hash-chained, gap-free log of configuration
-- versions (src/sql/020_history.sql)
--
-- Every INSERT, UPDATE, DELETE or TRUNCATE of ff.environments, ff.flags,
-- ff.segments and ff.segment_keys appends rows to ff.versions, one row per
-- changed entity.  The triggers that do it are created at the very end of
-- the install script (080_history_views.sql), so the rows the install
-- script itself creates (the default environment) are not history: a
-- fresh installation starts at version 0 with an empty history, which is
-- what makes a pg_dump restore reproduce the history exactly.
--
-- Design (the README's History section has the user-facing version):
--  * Writers are serialized by the writer lock, a heavyweight lock in
--    exclusive mode (pg_locks: locktype object, classid pg_class, objid
--    ff.versions) taken by the first write of a transaction and held until
--    it ends (src/ff_history.c; until 1.4, the row lock of a one-row table
--    ff.history_lock).  Version numbers are therefore gap-free and commit in
--    version order: a reader that saw version N never later discovers a
--    version below N.  Under REPEATABLE READ or SERIALIZABLE a writer whose
--    snapshot predates the latest version gets a serialization failure
--    (SQLSTATE 40001) when it takes the lock: retry it.
--  * change_set is the first version written by the transaction.
--  * hash = hex(SHA-256(UTF-8 bytes of the row rendered as jsonb text,
--    without the "hash" key, timestamps in UTC)).  The row contains
--    prev_hash, the hash of the previous version, so the rows form a
--    chain that ff.verify_history() recomputes.
--  * Config rows are stamped (columns version and updated_at) with the
--    version that wrote them; ff.environments.version references
--    ff.versions, which makes pg_dump restore the history before the
--    config tables (ff.flags and ff.segments reference ff.environments).
--  * A write that leaves the table in the state the history already
--    records (a row whose image equals the latest recorded image of that
--    entity at its stamped version; a key list whose count and digest
--    equal the recorded ones) records nothing.  This is what a pg_dump
--    restore does, and what a no-op UPDATE does.
-- ---------------------------------------------------------------------

CREATE TABLE ff.versions (
    version             bigint      NOT NULL,
    change_set          bigint      NOT NULL,
    entity              text        NOT NULL,
    environment         text        NOT NULL,
    entity_key          text        NOT NULL,
    operation           text        NOT NULL,
    before              jsonb,
    after               jsonb,
    delta               jsonb,
    changed_by          text        NOT NULL,
    session_user_name   text        NOT NULL,
    application_name    text,
    changed_at          timestamptz NOT NULL,
    comment             text,
    xact_id             xid8        NOT NULL,
    prev_hash           text,
    hash                text        NOT NULL,
    CONSTRAINT versions_pkey PRIMARY KEY (version)
);
CREATE INDEX versions_entity_idx ON ff.versions (entity, environment, entity_key, version);
-- (1.18) ff.version_at: the first version whose transaction started after a
-- time, found among the versions after it
CREATE INDEX versions_changed_at_idx ON ff.versions (changed_at);

-- The row rules of ff.versions, as one CHECK that calls C (src/ff_history.c):
-- version > 0; 0 < change_set <= version; entity environment, flag or
-- segment; operation INSERT, UPDATE, DELETE or KEYS, KEYS only for a
-- segment; hash and prev_hash 64 lower-case hex digits.  A CHECK expression
-- is rebuilt from its stored form by every statement that inserts, so one
-- call is much cheaper than seven expressions on the write path, and a bad
-- row (a tampered dump) is rejected with a message that names the rule.
CREATE FUNCTION ff._history_row_check(version bigint, change_set bigint, entity text,
                                      operation text, hash text, prev_hash text)
RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_history_row_check';
COMMENT ON FUNCTION ff._history_row_check(bigint, bigint, text, text, text, text) IS
    'Internal: CHECK constraint of ff.versions: raises check_violation naming the version and the rule it breaks, else true';
REVOKE ALL ON FUNCTION ff._history_row_check(bigint, bigint, text, text, text, text) FROM PUBLIC;
ALTER TABLE ff.versions ADD CONSTRAINT versions_row_check
    CHECK (ff._history_row_check(version, change_set, entity, operation, hash, prev_hash));

COMMENT ON TABLE ff.versions IS 'Immutable, hash-chained history of every configuration change: one row (version) per changed environment, flag or segment';
COMMENT ON COLUMN ff.versions.version IS 'Global configuration version: gap-free, starts at 1, assigned in commit order';
COMMENT ON COLUMN ff.versions.change_set IS 'First version written by the same transaction: the versions of one transaction form one atomic change-set';
COMMENT ON COLUMN ff.versions.entity IS 'What changed: environment, flag or segment';
COMMENT ON COLUMN ff.versions.environment IS 'Environment of the changed entity (for an environment: its own name)';
COMMENT ON COLUMN ff.versions.entity_key IS 'Flag key, segment name or environment name';
COMMENT ON COLUMN ff.versions.operation IS 'INSERT, UPDATE or DELETE of the entity''s row, or KEYS for a change of a segment''s include/exclude key list';
COMMENT ON COLUMN ff.versions.before IS 'Row image before the change (NULL for INSERT); for KEYS: {"key_count", "keys_digest"} before the change';
COMMENT ON COLUMN ff.versions.after IS 'Row image after the change (NULL for DELETE); for KEYS: {"key_count", "keys_digest"} after the change';
COMMENT ON COLUMN ff.versions.delta IS 'KEYS only: {"include": [...], "exclude": [...], "remove": [...]} or {"cleared": true, "removed_count": n}';
COMMENT ON COLUMN ff.versions.changed_by IS 'Role in effect for the session (SET ROLE, else the session user) that made the change';
COMMENT ON COLUMN ff.versions.session_user_name IS 'session_user of the connection that made the change';
COMMENT ON COLUMN ff.versions.application_name IS 'application_name of the connection that made the change';
COMMENT ON COLUMN ff.versions.changed_at IS 'Start time of the transaction that made the change';
COMMENT ON COLUMN ff.versions.comment IS 'Change comment: ff.change_comment of the transaction (SET LOCAL ff.change_comment or ff.comment_change())';
COMMENT ON COLUMN ff.versions.xact_id IS 'Transaction id of the change';
COMMENT ON COLUMN ff.versions.prev_hash IS 'hash of the previous version (NULL for version 1)';
COMMENT ON COLUMN ff.versions.hash IS 'hex SHA-256 of this row rendered as jsonb text without the "hash" key (timestamps in UTC); see ff.verify_history()';

REVOKE ALL ON ff.versions FROM PUBLIC;

-- pg_dump restores the data of an extension's tables in the order of the
-- foreign keys between them, and the history must be restored before the
-- config rows that it records (so that the triggers recognise them as
-- recorded).  This key orders ff.versions before ff.environments, which
-- ff.flags and ff.segments reference, and so before them too.  The version
-- stamps of ff.flags and ff.segments have no foreign key (since 1.5): the
-- history trigger writes them itself, a stamp that names no recorded
-- version is never taken as in sync (the write is recorded and stamped
-- again), and the check cost a query on every change.
ALTER TABLE ff.environments
    ADD CONSTRAINT environments_version_fkey FOREIGN KEY (version) REFERENCES ff.versions (version);


-- ---------------------------------------------------------------------
-- Internal helpers
-- ---------------------------------------------------------------------

-- ff._history_hash: the hash of a history row: hex SHA-256 of the row as jsonb text without
--   "hash", timestamps in UTC
CREATE FUNCTION ff._history_hash(v ff.versions)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
    SELECT pg_catalog.encode(
        pg_catalog.sha256(pg_catalog.convert_to((pg_catalog.to_jsonb(v) - 'hash')::text, 'UTF8')),
        'hex')
$$;
COMMENT ON FUNCTION ff._history_hash(ff.versions) IS
    'Internal: the hash of a history row: hex SHA-256 of the row as jsonb text without "hash", timestamps in UTC';

-- ff._history_identity: the (environment, entity_key) of a row image of ff.environments, ff.flags
--   or ff.segments
CREATE FUNCTION ff._history_identity(entity text, image jsonb,
                                     OUT environment text, OUT entity_key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE entity WHEN 'environment' THEN image ->> 'name' ELSE image ->> 'environment' END,
           CASE entity WHEN 'flag' THEN image ->> 'key' ELSE image ->> 'name' END
$$;
COMMENT ON FUNCTION ff._history_identity(text, jsonb) IS
    'Internal: the (environment, entity_key) of a row image of ff.environments, ff.flags or ff.segments';

-- ff._history_table: the config table of a history entity
CREATE FUNCTION ff._history_table(entity text)
RETURNS regclass
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE entity
        WHEN 'environment' THEN 'ff.environments'::regclass
        WHEN 'flag' THEN 'ff.flags'::regclass
        WHEN 'segment' THEN 'ff.segments'::regclass
    END
$$;
COMMENT ON FUNCTION ff._history_table(text) IS 'Internal: the config table of a history entity';

-- ff._history_next: takes the writer lock (unless the transaction holds it) and returns the
--   next version, the change-set of the transaction and the hash to chain to (src/ff_history.c;
--   PL/pgSQL on a row lock until 1.4).  The change-set is the transaction's first version: while
--   the lock is held every version after the latest committed one is the holder's, so it is the
--   latest version's change-set if that version is the holder's, else the version about to be
--   written (versions of a rolled-back subtransaction are not visible, and their numbers are
--   written again).
CREATE FUNCTION ff._history_next(OUT next_version bigint, OUT next_change_set bigint,
                                 OUT last_hash text)
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_next';
COMMENT ON FUNCTION ff._history_next() IS
    'Internal: takes the writer lock and returns the next version, the change-set of the transaction and the hash to chain to';

-- ff._history_lock_writer: takes the history writer lock now, as the first write statement on the
--   entity's table would (a statement that changes no row still fires ff_01_writer_lock), so that
--   what the caller reads next is read after every writer before it committed: a rollback read
--   the row, the key list and the environment's flags before its first write waited for the lock,
--   and recorded a state that a change committed meanwhile had overtaken (1.23, found by a
--   randomized concurrent write test).  The rollbacks, the copies, ff.set_rollout,
--   ff.apply_draft and ff.import_flagd call it; the caller needs UPDATE on the table.
CREATE FUNCTION ff._history_lock_writer(entity text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE entity
        WHEN 'flag' THEN
            UPDATE ff.flags AS t SET key = t.key WHERE false;
        WHEN 'segment' THEN
            UPDATE ff.segments AS t SET name = t.name WHERE false;
        ELSE
            UPDATE ff.environments AS t SET metadata = t.metadata WHERE false;
    END CASE;
END;
$$;
COMMENT ON FUNCTION ff._history_lock_writer(text) IS
    'Internal: takes the history writer lock by an UPDATE of no row of the entity''s table (the caller''s UPDATE privilege on it), before the caller reads what it will write: rollbacks, copies, ff.set_rollout, ff.apply_draft, ff.import_flagd (1.23)';

-- ff._history_acting_role: the role a scheduled change is being applied as (src/ff_schedule.c),
--   or NULL: the history records it as changed_by (1.14)
CREATE FUNCTION ff._history_acting_role()
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_acting_role';
COMMENT ON FUNCTION ff._history_acting_role() IS
    'Internal: the role a scheduled change is being applied as (ff.run_scheduled_changes), or NULL';

-- ff._history_record: appends one version to ff.versions (who, when, why, transaction, hash
--   chain)
CREATE FUNCTION ff._history_record(version bigint, change_set bigint, prev_hash text, entity text, environment text, entity_key text,
                                   operation text, before jsonb, after jsonb, delta jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    r           ff.versions;
    role_name   text := pg_catalog.current_setting('role');
BEGIN
    r.version := version;
    r.change_set := change_set;
    r.entity := entity;
    r.environment := environment;
    r.entity_key := entity_key;
    r.operation := operation;
    r.before := before;
    r.after := after;
    r.delta := delta;
    -- the triggers run as the extension owner (SECURITY DEFINER); the role
    -- GUC still says which role the session acts as, unless a scheduled
    -- change is being applied as the role that scheduled it (1.14)
    r.changed_by := COALESCE(ff._history_acting_role(),
                             CASE WHEN role_name = 'none' THEN SESSION_USER::text ELSE role_name END);
    r.session_user_name := SESSION_USER;
    r.application_name := nullif(pg_catalog.current_setting('application_name', true), '');
    r.changed_at := pg_catalog.now();
    r.comment := nullif(pg_catalog.current_setting('ff.change_comment', true), '');
    r.xact_id := pg_catalog.pg_current_xact_id();
    r.prev_hash := prev_hash;
    -- the expression of ff._history_hash(r), written out so that its plan
    -- is cached with this function's (a call of the SQL function would be
    -- parsed and planned again in every transaction); TimeZone is UTC here
    r.hash := pg_catalog.encode(
        pg_catalog.sha256(pg_catalog.convert_to((pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.-) 'hash')::text, 'UTF8')),
        'hex');
    INSERT INTO ff.versions VALUES (r.*);
    RETURN r.version;
END;
$$;
COMMENT ON FUNCTION ff._history_record(bigint, bigint, text, text, text, text, text, jsonb, jsonb, jsonb) IS
    'Internal: appends one version to ff.versions (who, when, why, transaction, hash chain)';

-- ff._history_in_sync: the latest recorded version of an entity if the row image equals its
--   recorded image (at the row's stamped version, or unstamped when unstamped_ok), else NULL
CREATE FUNCTION ff._history_in_sync(entity text, environment text, entity_key text, image jsonb,
                                    unstamped_ok boolean)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.version
      FROM (SELECT v.version, v.operation, v.after
              FROM ff.versions AS v
             WHERE v.entity = $1 AND v.environment = $2 AND v.entity_key = $3
               AND v.operation <> 'KEYS'
             ORDER BY v.version DESC
             LIMIT 1) AS l
     WHERE l.operation <> 'DELETE'
       AND (l.after - 'version') = (image - 'version')
       AND (l.version = (image ->> 'version')::bigint
            OR (unstamped_ok AND image ->> 'version' IS NULL))
$$;
COMMENT ON FUNCTION ff._history_in_sync(text, text, text, jsonb, boolean) IS
    'Internal: the latest recorded version of an entity if the row image equals its recorded image (at the row''s stamped version, or unstamped when unstamped_ok), else NULL';

-- ff._history_row_exists: whether the config row of an entity exists (with unwritten: and was
--   never written since installation)
CREATE FUNCTION ff._history_row_exists(entity text, environment text, entity_key text,
                                       unwritten boolean DEFAULT false)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE entity
        WHEN 'environment' THEN EXISTS (SELECT 1 FROM ff.environments AS e
                                         WHERE e.name = $3 AND (NOT $4 OR e.version IS NULL))
        WHEN 'flag' THEN EXISTS (SELECT 1 FROM ff.flags AS f
                                  WHERE f.environment = $2 AND f.key = $3 AND (NOT $4 OR f.version IS NULL))
        WHEN 'segment' THEN EXISTS (SELECT 1 FROM ff.segments AS s
                                     WHERE s.environment = $2 AND s.name = $3 AND (NOT $4 OR s.version IS NULL))
    END
$$;
COMMENT ON FUNCTION ff._history_row_exists(text, text, text, boolean) IS
    'Internal: whether the config row of an entity exists (with unwritten: and was never written since installation)';

-- ff._history_check_rollback: raises insufficient_privilege unless the current user may run a
--   rollback function that writes entity (1.11).  The internal helpers that write
--   (_history_rollback_entity, _history_restore, _history_write_image) keep PUBLIC's EXECUTE so
--   that the rollback functions can call them with the caller's rights, and call this first:
--   a flag needs ff.rollback_flag, a segment ff.rollback_segment, and either one, or an
--   environment, ff.rollback_environment.  The recording triggers call _history_write_image
--   as the extension owner, who may run them all.
CREATE FUNCTION ff._history_check_rollback(entity text, helper text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.has_function_privilege('ff.rollback_environment(text, bigint)', 'EXECUTE')
       OR (entity = 'flag'
           AND pg_catalog.has_function_privilege('ff.rollback_flag(text, bigint, text)', 'EXECUTE'))
       OR (entity = 'segment'
           AND pg_catalog.has_function_privilege('ff.rollback_segment(text, bigint, text)', 'EXECUTE')) THEN
        RETURN;
    END IF;
    RAISE EXCEPTION 'permission denied for function %', helper
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('It is an internal part of %s, which the current user may not run.',
                                         CASE entity WHEN 'flag' THEN 'ff.rollback_flag'
                                                     WHEN 'segment' THEN 'ff.rollback_segment'
                                                     ELSE 'ff.rollback_environment' END),
              HINT = 'Roll back with ff.rollback_flag, ff.rollback_segment or ff.rollback_environment; SELECT ff.grant_editor(''role'') grants the first two, ff.grant_admin the third.';
END;
$$;
COMMENT ON FUNCTION ff._history_check_rollback(text, text) IS
    'Internal: raises insufficient_privilege unless the current user may run the rollback function that writes an entity (guards the internal helpers that write)';

-- ff._history_write_image: upserts a config row from a history image (with_stamps: also its
--   version and updated_at); 1.11: only for a user who may roll the entity back
CREATE FUNCTION ff._history_write_image(entity text, image jsonb, with_stamps boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl         regclass := ff._history_table(entity);
    pk          text[];
    cols        text[];
    sets        text;
    sql         text;
BEGIN
    PERFORM ff._history_check_rollback(entity, 'ff._history_write_image');
    pk := CASE entity WHEN 'environment' THEN ARRAY['name']
                      WHEN 'flag' THEN ARRAY['environment', 'key']
                      ELSE ARRAY['environment', 'name'] END;
    SELECT pg_catalog.array_agg(pg_catalog.quote_ident(a.attname) ORDER BY a.attnum)
      INTO cols
      FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attgenerated = ''
       AND (with_stamps OR a.attname NOT IN ('version', 'updated_at'));
    SELECT pg_catalog.string_agg(pg_catalog.format('%s = EXCLUDED.%s', c, c), ', ')
      INTO sets
      FROM pg_catalog.unnest(cols) AS c
     WHERE c <> ALL (pk);
    sql := pg_catalog.format(
        'INSERT INTO %s AS t (%s) SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1) '
        'ON CONFLICT (%s) DO UPDATE SET %s',
        tbl, pg_catalog.array_to_string(cols, ', '), pg_catalog.array_to_string(cols, ', '),
        tbl, pg_catalog.array_to_string(pk, ', '), sets);
    EXECUTE sql USING image;
END;
$$;
COMMENT ON FUNCTION ff._history_write_image(text, jsonb, boolean) IS
    'Internal: upserts a config row from a history image (with_stamps: also its version and updated_at)';

-- ---------------------------------------------------------------------
-- Trigger functions (the triggers are created in 080_history_views.sql)
-- ---------------------------------------------------------------------

-- ff._history_drifted: whether a row image differs from the image its history recorded, as
--   ff.verify_history compares them: a member the history recorded (but the stamps) that the row
--   does not hold as recorded; a column added to the table since is no drift (1.18)
CREATE FUNCTION ff._history_drifted(recorded jsonb, image jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT recorded IS NOT NULL AND image IS NOT NULL
       AND EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(recorded) AS a
                    WHERE a.key NOT IN ('version', 'updated_at')
                      AND (image -> a.key) IS DISTINCT FROM a.value)
$$;
COMMENT ON FUNCTION ff._history_drifted(jsonb, jsonb) IS
    'Internal: whether a row image differs from the image its history recorded (every recorded member but the stamps), as ff.verify_history compares them (1.18)';

-- ff._history_drift_delta: the delta of a version that updates, deletes or renames away a row
--   that drifted from its history: {"recorded": <the after image of the entity's latest
--   version>} when the row differs from it, stamps left out; else NULL (1.18; the C path builds
--   the same in FFHistoryRecordedDelta)
CREATE FUNCTION ff._history_drift_delta(entity text, environment text, entity_key text, image jsonb)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN l.operation <> 'DELETE' AND ff._history_drifted(l.after, image)
                THEN pg_catalog.jsonb_build_object('recorded', l.after) END
      FROM (SELECT v.operation, v.after
              FROM ff.versions AS v
             WHERE v.entity = $1 AND v.environment = $2 AND v.entity_key = $3 AND v.operation <> 'KEYS'
             ORDER BY v.version DESC
             LIMIT 1) AS l
$$;
COMMENT ON FUNCTION ff._history_drift_delta(text, text, text, jsonb) IS
    'Internal: {"recorded": <the history''s last image>} for a version that changes or deletes a row that drifted from its history, else NULL (1.18)';
REVOKE ALL ON FUNCTION ff._history_drift_delta(text, text, text, jsonb) FROM PUBLIC;
-- (1.23) like the other SECURITY INVOKER history helpers, open to PUBLIC: it
-- reads ff.versions with the caller's privileges.  Revoked, it stopped an
-- editor's rollback to the state a flag already has (42501 instead of the
-- NOTICE "nothing changed").
GRANT EXECUTE ON FUNCTION ff._history_drift_delta(text, text, text, jsonb) TO PUBLIC;

-- ff._history_row_trigger_general: stamps the row with its new version and appends the
--   version to ff.versions; every case (the trigger ff._history_row_trigger, in C, handles
--   everyday UPDATEs and DELETEs itself and calls this function for the rest; not SECURITY
--   DEFINER: its only caller calls it as the extension owner)
CREATE FUNCTION ff._history_row_trigger_general()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    entity      text := TG_ARGV[0];
    new_img     jsonb;
    old_img     jsonb;
    new_env     text;
    new_key     text;
    old_env     text;
    old_key     text;
    unstamped_ok boolean;
    op          text := TG_OP;
    nx          record;
    latest      record;
    in_sync     bigint;
    recorded    bigint;
BEGIN
    -- (functions whose result is not needed are called in assignments, not
    -- with PERFORM: an assignment of a function call is evaluated directly,
    -- PERFORM runs a query through the executor)
    -- the identities are those of ff._history_identity(), written out:
    -- a call of an SQL function from PL/pgSQL is planned again in every
    -- transaction, these expressions are planned once per session
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_img := pg_catalog.to_jsonb(OLD);
        old_env := CASE entity WHEN 'environment' THEN old_img ->> 'name' ELSE old_img ->> 'environment' END;
        old_key := CASE entity WHEN 'flag' THEN old_img ->> 'key' ELSE old_img ->> 'name' END;
    END IF;

    IF TG_OP = 'DELETE' THEN
        nx := ff._history_next();
        recorded := ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, entity, old_env, old_key,
                                       'DELETE', old_img, NULL,
                                       ff._history_drift_delta(entity, old_env, old_key, old_img));
        RETURN OLD;
    END IF;

    new_img := pg_catalog.to_jsonb(NEW);
    new_env := CASE entity WHEN 'environment' THEN new_img ->> 'name' ELSE new_img ->> 'environment' END;
    new_key := CASE entity WHEN 'flag' THEN new_img ->> 'key' ELSE new_img ->> 'name' END;

    -- an UPDATE that changes nothing is not a change
    IF TG_OP = 'UPDATE' AND new_img = old_img THEN
        RETURN NEW;
    END IF;

    -- the row is exactly what the history says it is (pg_dump restore):
    -- either stamped with that version, or unstamped and inserted or
    -- written over a row never written since installation
    -- (the query of ff._history_in_sync(), written out for the same reason)
    unstamped_ok := TG_OP = 'INSERT' OR old_img ->> 'version' IS NULL;
    SELECT v.version, v.operation, v.after INTO latest
      FROM ff.versions AS v
     WHERE v.entity = TG_ARGV[0] AND v.environment = new_env AND v.entity_key = new_key
       AND v.operation <> 'KEYS'
     ORDER BY v.version DESC
     LIMIT 1;
    IF latest.operation <> 'DELETE'
       AND (latest.after - 'version') = (new_img - 'version')
       AND (latest.version = (new_img ->> 'version')::bigint
            OR (unstamped_ok AND new_img ->> 'version' IS NULL))
       -- (1.18) but an UPDATE of a stamped row that had drifted from its
       -- history (a rollback, or any write, of an unrecorded change) is a
       -- change: it is recorded below, the unrecorded change marked
       AND NOT (TG_OP = 'UPDATE' AND old_img ->> 'version' IS NOT NULL
                AND ff._history_drifted(latest.after, old_img)) THEN
        in_sync := latest.version;
    END IF;
    -- (1.18) a restore loads a row that had drifted from its history as it
    -- was dumped: stamped with a version this entity's history records, and
    -- the entity not deleted since.  Recording it would give the copy a
    -- "created" version the source never had, and hide the drift that
    -- ff.verify_history names in the source.
    IF in_sync IS NULL AND TG_OP = 'INSERT' AND new_img ->> 'version' IS NOT NULL
       AND latest.operation <> 'DELETE' AND ff._restoring()
       AND EXISTS (SELECT 1 FROM ff.versions AS v
                    WHERE v.version = (new_img ->> 'version')::bigint AND v.entity = TG_ARGV[0]
                      AND v.environment = new_env AND v.entity_key = new_key)
       AND NOT ff._history_row_exists(entity, new_env, new_key) THEN
        RETURN NEW;
    END IF;
    IF in_sync IS NOT NULL THEN
        IF TG_OP = 'INSERT'
           AND ff._history_row_exists(entity, new_env, new_key, true) THEN
            -- the install script re-created this row (the default
            -- environment): overwrite it with the restored image
            PERFORM ff._history_write_image(entity, new_img, true);
            RETURN NULL;
        END IF;
        IF new_img ->> 'version' IS NULL THEN
            NEW := pg_catalog.jsonb_populate_record(NEW,
                       pg_catalog.jsonb_build_object('version', in_sync));
        END IF;
        RETURN NEW;
    END IF;

    -- (1.17) an UPDATE of the stamps alone of a row that is in sync with
    -- its history, stamped with its latest version, is not a change
    -- either: the row keeps its stamps (a row that drifted from its
    -- history, its stamps too, is recorded as it is: that is how it is
    -- repaired)
    IF TG_OP = 'UPDATE'
       AND (new_img - '{version,updated_at}'::text[])
           = (old_img - '{version,updated_at}'::text[])
       AND latest.operation <> 'DELETE'
       AND (latest.after - 'version') = (old_img - 'version')
       AND latest.version = (old_img ->> 'version')::bigint THEN
        NEW.version := OLD.version;
        NEW.updated_at := OLD.updated_at;
        RETURN NEW;
    END IF;

    -- INSERT ... ON CONFLICT: the UPDATE (or nothing) that follows is what
    -- gets recorded; a plain INSERT fails with a unique violation
    IF TG_OP = 'INSERT' THEN
        nx := ff._history_next();
        IF ff._history_row_exists(entity, new_env, new_key) THEN
            RETURN NEW;
        END IF;
        old_img := NULL;
    ELSE
        nx := ff._history_next();
        -- a renamed key is the deletion of the old entity and the creation
        -- of a new one, so that each entity's history stays under its key
        IF (old_env, old_key) IS DISTINCT FROM (new_env, new_key) THEN
            recorded := ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, entity, old_env, old_key,
                                           'DELETE', old_img, NULL,
                                           ff._history_drift_delta(entity, old_env, old_key, old_img));
            nx := ff._history_next();
            op := 'INSERT';
            old_img := NULL;
        END IF;
    END IF;

    -- (every history table has the columns version and updated_at; the
    -- after image is new_img with the same two members replaced, which is
    -- what to_jsonb(NEW) would now give)
    NEW.version := nx.next_version;
    NEW.updated_at := pg_catalog.now();
    -- (1.18) an UPDATE of a row that drifted from its history (written
    -- without being recorded) keeps the history's last image of it in the
    -- delta, so that the version tells that unrecorded change from its own
    recorded := ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, entity, new_env, new_key,
                                   op, old_img,
                                   new_img || pg_catalog.jsonb_build_object('version', NEW.version,
                                                                            'updated_at', NEW.updated_at),
                                   CASE WHEN op = 'UPDATE'
                                        THEN ff._history_drift_delta(entity, old_env, old_key, old_img) END);
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION ff._history_row_trigger_general() IS
    'Internal: the history row trigger for every case (INSERT, renamed keys, rows restored in sync with their history); called by ff._history_row_trigger()';

-- ff._history_row_trigger: the trigger ff_90_history (src/ff_history.c): the INSERT of a new
--   entity, an UPDATE that keeps the row's identity or a DELETE, once the writer lock is
--   held, is recorded in C; every other case goes to
--   ff._history_row_trigger_general().  Not SECURITY DEFINER and no SET
--   clause (1.3): it runs as the caller, renders timestamps in UTC itself and acts as the
--   extension's owner only to append the version and to call the general function
CREATE FUNCTION ff._history_row_trigger()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_row_trigger_1_5';
COMMENT ON FUNCTION ff._history_row_trigger() IS
    'Trigger ff_90_history: stamps the row with its new version and appends the version to ff.versions';

-- ff._history_truncate_trigger: records a DELETE version for every row a TRUNCATE removes
CREATE FUNCTION ff._history_truncate_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    entity      text := TG_ARGV[0];
    img         jsonb;
    id          record;
    nx          record;
BEGIN
    FOR img IN EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t', TG_RELID::regclass)
    LOOP
        id := ff._history_identity(entity, img);
        nx := ff._history_next();
        -- (1.18) a row that drifted from its history is marked, as by a DELETE
        PERFORM ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, entity, id.environment, id.entity_key,
                                   'DELETE', img, NULL,
                                   ff._history_drift_delta(entity, id.environment, id.entity_key, img));
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_truncate_trigger() IS
    'Trigger ff_90_history_truncate: records a DELETE version for every row a TRUNCATE removes';

-- ---- segment key lists: one version per statement and segment, as a delta

-- ff._history_key_hash: 64-bit hash of one segment key row; a key list's digest is the XOR of its
--   rows' hashes
CREATE FUNCTION ff._history_key_hash(targeting_key text, excluded boolean)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ('x' || pg_catalog.left(pg_catalog.md5(CASE WHEN excluded THEN 'x:' ELSE 'i:' END
                                                  || targeting_key), 16))::bit(64)::bigint
$$;
COMMENT ON FUNCTION ff._history_key_hash(text, boolean) IS
    'Internal: 64-bit hash of one segment key row; a key list''s digest is the XOR of its rows'' hashes';

-- ff._history_keys_state: recorded size and digest of a segment's key list (0, 0 after the
--   segment's deletion)
CREATE FUNCTION ff._history_keys_state(environment text, segment text,
                                       OUT key_count bigint, OUT keys_digest bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((
        SELECT CASE WHEN l.operation = 'KEYS' THEN (l.after ->> 'key_count')::bigint ELSE 0 END
          FROM ff.versions AS l
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.operation IN ('KEYS', 'DELETE')
         ORDER BY l.version DESC LIMIT 1), 0),
           coalesce((
        SELECT CASE WHEN l.operation = 'KEYS' THEN (l.after ->> 'keys_digest')::bigint ELSE 0 END
          FROM ff.versions AS l
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.operation IN ('KEYS', 'DELETE')
         ORDER BY l.version DESC LIMIT 1), 0)
$$;
COMMENT ON FUNCTION ff._history_keys_state(text, text) IS
    'Internal: recorded size and digest of a segment''s key list (0, 0 after the segment''s deletion)';

-- ff._history_keys_apply: records one KEYS version of a segment from the delta of one statement
CREATE FUNCTION ff._history_keys_apply(environment text, segment text, count_delta bigint,
                                       digest_delta bigint, included jsonb, excluded jsonb,
                                       removed jsonb, inserted_only boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st          record;
    nx          record;
    total       bigint;
    after_count bigint;
    after_digest bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ff.segments AS s
                    WHERE s.environment = $1 AND s.name = $2) THEN
        -- keys removed by the deletion of their segment: the segment's
        -- DELETE version already says its list is gone
        RETURN;
    END IF;
    st := ff._history_keys_state(environment, segment);
    IF inserted_only AND st.key_count = count_delta AND st.keys_digest = digest_delta THEN
        SELECT pg_catalog.count(*) INTO total FROM ff.segment_keys AS k
         WHERE k.environment = $1 AND k.segment = $2;
        IF total = count_delta THEN
            -- the table now holds exactly the recorded list (pg_dump restore)
            RETURN;
        END IF;
    END IF;
    nx := ff._history_next();
    after_count := st.key_count + count_delta;
    after_digest := st.keys_digest # digest_delta;
    IF after_count < 0 THEN
        -- (1.22) more keys removed than the recorded list holds: the list
        -- was changed without being recorded before (keys added with
        -- session_replication_role = replica, say), so its recorded figures
        -- are off.  The after figures are those of the list the history
        -- replays, with this statement's change applied, so that they say
        -- again what ff.rollback_segment and ff.verify_history go by.
        SELECT pg_catalog.count(*), coalesce(pg_catalog.bit_xor(ff._history_key_hash(r.targeting_key, r.excluded)), 0)
          INTO after_count, after_digest
          FROM (SELECT h.targeting_key, h.excluded
                  FROM ff._history_keys_at($1, $2, nx.next_version - 1) AS h
                 WHERE NOT EXISTS (SELECT 1
                                     FROM pg_catalog.jsonb_array_elements_text(
                                              coalesce($7, '[]') || coalesce($5, '[]')
                                              || coalesce($6, '[]')) AS c (k)
                                    WHERE c.k = h.targeting_key)
                UNION ALL
                SELECT i.k, false FROM pg_catalog.jsonb_array_elements_text(coalesce($5, '[]')) AS i (k)
                UNION ALL
                SELECT x.k, true FROM pg_catalog.jsonb_array_elements_text(coalesce($6, '[]')) AS x (k)) AS r;
    END IF;
    PERFORM ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, 'segment', environment, segment, 'KEYS',
        pg_catalog.jsonb_build_object('key_count', st.key_count, 'keys_digest', st.keys_digest),
        pg_catalog.jsonb_build_object('key_count', after_count, 'keys_digest', after_digest),
        pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
            'include', included, 'exclude', excluded, 'remove', removed)));
END;
$$;
COMMENT ON FUNCTION ff._history_keys_apply(text, text, bigint, bigint, jsonb, jsonb, jsonb, boolean) IS
    'Internal: records one KEYS version of a segment from the delta of one statement';

-- ff._history_keys_needed: whether a statement's change of a segment's key list is to be recorded
--   (1.10): not when the segment is gone (its DELETE version says the list went with it), nor
--   for the rows of a pg_dump restore (an INSERT that leaves the table holding exactly the recorded
--   list, or, 1.26, while restoring, holding only the inserted rows), nor for the removal of keys the history already has as gone (1.22: because this
--   transaction deleted the segment); decided before the keys are gathered into a delta, so that
--   none of these builds one
CREATE FUNCTION ff._history_keys_needed(environment text, segment text, count_delta bigint,
                                        digest_delta bigint, inserted_only boolean)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st          record;
    held        bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = $1 AND s.name = $2) THEN
        RETURN false;
    END IF;
    st := ff._history_keys_state(environment, segment);
    IF inserted_only THEN
        held := (SELECT pg_catalog.count(*) FROM ff.segment_keys AS k
                  WHERE k.environment = $1 AND k.segment = $2);
        IF st.key_count = count_delta AND st.keys_digest = digest_delta AND held = count_delta THEN
            RETURN false;
        END IF;
        -- (1.26) a restore's list that is not the recorded one (it drifted
        -- in the source, changed without being recorded) is loaded as it
        -- was dumped, as drifted rows are: ff.verify_history reports the
        -- drift as in the source.  1.25 recorded it as a change by the
        -- restoring role.  Only for what a restore does: a COPY (pg_dump's
        -- data), into a list the table had no keys of before the statement
        -- and the history has keys for.  An owner's session with
        -- check_function_bodies off that fills an empty list, or that
        -- empties and refills one in a statement, or ff.add_segment_keys,
        -- is recorded.
        IF held = count_delta AND st.key_count > 0 AND ff._restoring()
           AND pg_catalog.current_query() ~* '^\s*copy\M' THEN
            RETURN false;
        END IF;
    ELSIF st.key_count + count_delta < 0
          AND (SELECT l.operation = 'DELETE' AND l.xact_id = pg_catalog.pg_current_xact_id()
                 FROM ff.versions AS l
                WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
                  AND l.operation IN ('KEYS', 'DELETE')
                ORDER BY l.version DESC LIMIT 1) THEN
        -- keys removed that the history already has as gone: a segment
        -- deleted and created again in one statement (a writable CTE), whose
        -- old keys the foreign key's cascade removes only after the new row
        -- exists; its DELETE version, written by this transaction, recorded
        -- their removal.  (1.22: only then.  1.21 also skipped any removal
        -- that took the recorded size below zero, which one earlier key list
        -- change made without being recorded was enough for: a recorded
        -- key's removal was lost.)
        RETURN false;
    END IF;
    RETURN true;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_needed(text, text, bigint, bigint, boolean) IS
    'Internal: whether a statement''s change of a segment''s key list is recorded (not for a deleted segment, nor for the rows of a pg_dump restore)';

-- ff._history_keys_too_large: refuses a key list change whose delta one jsonb array cannot hold
--   (1.10: instead of jsonb's bare 54000 after the work)
CREATE FUNCTION ff._history_keys_too_large(environment text, segment text, keys bigint, key_bytes bigint)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- a jsonb array holds at most 268435455 bytes of elements: a string costs its bytes and 4
    IF key_bytes + 4 * keys > 268435455 THEN
        RAISE EXCEPTION 'the change of the key list of segment "%" in environment "%" is too large to record in one version: % keys, % MB',
            segment, environment, keys, key_bytes / 1048576
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'The history records the keys one statement adds or removes in one JSON array, which holds at most 256 MB.',
                  HINT = 'Change the list in several statements, for example 100,000 keys each (ff.add_segment_keys, ff.remove_segment_keys).';
    END IF;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_too_large(text, text, bigint, bigint) IS
    'Internal: refuses a key list change whose delta is more than one jsonb array can hold, with a HINT';

-- ff._history_keys_insert_trigger: one KEYS version per segment whose key list an INSERT statement
--   extended (the delta is gathered only once ff._history_keys_needed says it is recorded)
CREATE FUNCTION ff._history_keys_insert_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    s           record;
    inc         jsonb;
    exc         jsonb;
BEGIN
    FOR s IN
        SELECT n.environment, n.segment, pg_catalog.count(*) AS cnt,
               pg_catalog.bit_xor(ff._history_key_hash(n.targeting_key, n.excluded)) AS dig,
               pg_catalog.sum(pg_catalog.octet_length(n.targeting_key)) AS bytes
          FROM ff_new_keys AS n
         GROUP BY n.environment, n.segment
         ORDER BY n.environment, n.segment
    LOOP
        CONTINUE WHEN NOT ff._history_keys_needed(s.environment, s.segment, s.cnt, s.dig, true);
        PERFORM ff._history_keys_too_large(s.environment, s.segment, s.cnt, s.bytes);
        SELECT pg_catalog.jsonb_agg(n.targeting_key ORDER BY n.targeting_key) FILTER (WHERE NOT n.excluded),
               pg_catalog.jsonb_agg(n.targeting_key ORDER BY n.targeting_key) FILTER (WHERE n.excluded)
          INTO inc, exc
          FROM ff_new_keys AS n
         WHERE n.environment = s.environment AND n.segment = s.segment;
        PERFORM ff._history_keys_apply(s.environment, s.segment, s.cnt, s.dig, inc, exc, NULL, true);
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_insert_trigger() IS
    'Trigger ff_90_history_keys_insert: one KEYS version per segment whose key list an INSERT statement extended';

-- ff._history_keys_update_trigger: one KEYS version per segment whose key list an UPDATE statement
--   changed
CREATE FUNCTION ff._history_keys_update_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    s           record;
BEGIN
    FOR s IN
        WITH j AS (
            SELECT coalesce(o.environment, n.environment) AS environment,
                   coalesce(o.segment, n.segment) AS segment,
                   coalesce(o.targeting_key, n.targeting_key) AS k,
                   o.targeting_key IS NOT NULL AS had, n.targeting_key IS NOT NULL AS has,
                   o.excluded AS old_ex, n.excluded AS new_ex
              FROM ff_old_keys AS o
              FULL JOIN ff_new_keys AS n
                ON o.environment = n.environment AND o.segment = n.segment
               AND o.targeting_key = n.targeting_key)
        SELECT j.environment, j.segment,
               pg_catalog.count(*) FILTER (WHERE j.has) - pg_catalog.count(*) FILTER (WHERE j.had) AS cnt,
               coalesce(pg_catalog.bit_xor(ff._history_key_hash(j.k, j.old_ex)) FILTER (WHERE j.had), 0)
               # coalesce(pg_catalog.bit_xor(ff._history_key_hash(j.k, j.new_ex)) FILTER (WHERE j.has), 0) AS dig,
               pg_catalog.jsonb_agg(j.k ORDER BY j.k) FILTER (WHERE j.has AND NOT j.new_ex) AS inc,
               pg_catalog.jsonb_agg(j.k ORDER BY j.k) FILTER (WHERE j.has AND j.new_ex) AS exc,
               pg_catalog.jsonb_agg(j.k ORDER BY j.k) FILTER (WHERE j.had AND NOT j.has) AS rem
          FROM j
         WHERE NOT (j.had AND j.has AND j.old_ex = j.new_ex)
         GROUP BY j.environment, j.segment
         ORDER BY j.environment, j.segment
    LOOP
        PERFORM ff._history_keys_apply(s.environment, s.segment, s.cnt, s.dig,
                                       s.inc, s.exc, s.rem, false);
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_update_trigger() IS
    'Trigger ff_90_history_keys_update: one KEYS version per segment whose key list an UPDATE statement changed';

-- ff._history_keys_delete_trigger: one KEYS version per segment whose key list a DELETE statement
--   shortened (none for the keys of a deleted segment, whose removed keys are not gathered)
CREATE FUNCTION ff._history_keys_delete_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    s           record;
    rem         jsonb;
BEGIN
    FOR s IN
        SELECT o.environment, o.segment, -pg_catalog.count(*) AS cnt,
               pg_catalog.bit_xor(ff._history_key_hash(o.targeting_key, o.excluded)) AS dig,
               pg_catalog.sum(pg_catalog.octet_length(o.targeting_key)) AS bytes
          FROM ff_old_keys AS o
         GROUP BY o.environment, o.segment
         ORDER BY o.environment, o.segment
    LOOP
        CONTINUE WHEN NOT ff._history_keys_needed(s.environment, s.segment, s.cnt, s.dig, false);
        PERFORM ff._history_keys_too_large(s.environment, s.segment, -s.cnt, s.bytes);
        SELECT pg_catalog.jsonb_agg(o.targeting_key ORDER BY o.targeting_key) INTO rem
          FROM ff_old_keys AS o
         WHERE o.environment = s.environment AND o.segment = s.segment;
        PERFORM ff._history_keys_apply(s.environment, s.segment, s.cnt, s.dig, NULL, NULL, rem, false);
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_delete_trigger() IS
    'Trigger ff_90_history_keys_delete: one KEYS version per segment whose key list a DELETE statement shortened';

-- ff._history_keys_truncate_trigger: records the clearing of every segment key list a TRUNCATE
--   empties
CREATE FUNCTION ff._history_keys_truncate_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    s           record;
    st          record;
    nx          record;
BEGIN
    FOR s IN
        SELECT k.environment, k.segment, pg_catalog.count(*) AS cnt
          FROM ff.segment_keys AS k
         GROUP BY k.environment, k.segment
         ORDER BY k.environment, k.segment
    LOOP
        st := ff._history_keys_state(s.environment, s.segment);
        nx := ff._history_next();
        PERFORM ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, 'segment', s.environment, s.segment, 'KEYS',
            pg_catalog.jsonb_build_object('key_count', st.key_count, 'keys_digest', st.keys_digest),
            pg_catalog.jsonb_build_object('key_count', 0, 'keys_digest', 0),
            pg_catalog.jsonb_build_object('cleared', true, 'removed_count', s.cnt));
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_truncate_trigger() IS
    'Trigger ff_90_history_keys_truncate: records the clearing of every segment key list a TRUNCATE empties';

-- ---- immutability and notification

-- ff._history_immutable: rejects UPDATE, DELETE and TRUNCATE of ff.versions
CREATE FUNCTION ff._history_immutable()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        RAISE EXCEPTION 'cannot % version % of ff.versions: the configuration history is append-only',
                        TG_OP, OLD.version
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'No role, not even the owner or a superuser, may change or remove recorded versions.',
                  HINT = 'To undo a change, use ff.rollback_flag(), ff.rollback_segment() or ff.rollback_environment(): they append new versions.';
    END IF;
    RAISE EXCEPTION 'cannot TRUNCATE ff.versions: the configuration history is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'No role, not even the owner or a superuser, may change or remove recorded versions.',
              HINT = 'To undo a change, use ff.rollback_flag(), ff.rollback_segment() or ff.rollback_environment(): they append new versions.';
END;
$$;
COMMENT ON FUNCTION ff._history_immutable() IS
    'Trigger ff_versions_append_only: rejects UPDATE, DELETE and TRUNCATE of ff.versions';

CREATE TRIGGER ff_versions_append_only
    BEFORE UPDATE OR DELETE ON ff.versions
    FOR EACH ROW EXECUTE FUNCTION ff._history_immutable();
CREATE TRIGGER ff_versions_append_only_truncate
    BEFORE TRUNCATE ON ff.versions
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_immutable();
-- session_replication_role = replica must not bypass them
ALTER TABLE ff.versions ENABLE ALWAYS TRIGGER ff_versions_append_only;
ALTER TABLE ff.versions ENABLE ALWAYS TRIGGER ff_versions_append_only_truncate;

REVOKE ALL ON FUNCTION ff._history_next() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_acting_role() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_record(bigint, bigint, text, text, text, text, text, jsonb, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_in_sync(text, text, text, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_row_exists(text, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_row_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_row_trigger_general() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_truncate_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_key_hash(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_state(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_apply(text, text, bigint, bigint, jsonb, jsonb, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_needed(text, text, bigint, bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_too_large(text, text, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_insert_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_update_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_delete_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_truncate_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_immutable() FROM PUBLIC;
