-- feature_flags 1.17 -> 1.18 (ALTER EXTENSION feature_flags UPDATE TO '1.18')
--
-- 1.18 changes no table column and no signature.  It adds the comparison of
-- two environments (src/sql/087_compare.sql, appended below:
-- ff.diff_environments and its helper ff._environment_images, SECURITY
-- INVOKER: they read with the caller's rights), the index
-- ff.versions_changed_at_idx, two internal helpers (ff._without_null_members,
-- ff._history_fields_summary), and replaces:
--   * ff._recipe_functions: the editor recipe lists ff.diff_environments;
--   * ff.copy_environment: its refusal of same-named flags and segments
--     names the ff.diff_environments call that lists what overwrite => true
--     would change;
--   * ff._history_restore runs with jit = off: with enable_nestloop = off,
--     the nested loop left in the key-list replay carried the disable cost,
--     and every segment rollback JIT-compiled for about a second under the
--     writer lock;
--   * ff.version_at: the version before the first one whose transaction
--     started after the time (1.17: the last version whose transaction had
--     started by then, with every version before it, among them changes
--     started later), through the new index;
--   * ff.verify_history names the first missing version of a gap;
--   * ff._history_diff leaves out fields null on both sides (a created or
--     deleted row listed its null fields as changed);
--   * ff._history_row_trigger_general records, for an UPDATE of a row that
--     drifted from its history, the history's last image of it in the
--     delta ({"recorded": ...}), and ff._history_summary lists the
--     unrecorded changes first, marked "(unrecorded)" (the 1.18 library
--     does the same in C);
--   * ff._validate_flag_general: the WARNING for a disabled flag stored
--     with targeting that cannot be evaluated says it answers DISABLED
--     while disabled;
--   * ff._history_drift_delta (new) and ff._history_row_trigger_general:
--     the deletion (or rename) of a drifted row keeps the history's last
--     image too, and ff._history_summary marks its unrecorded change;
--   * ff._history_drifted (new): drift compared as ff.verify_history
--     compares (the recorded members but the stamps; a column added since
--     is no drift); ff._history_truncate_trigger marks drifted rows;
--     ff._history_restore records a rollback whose target the row already
--     holds through an unrecorded change; a restore loads a drifted row as
--     it was dumped, recording nothing;
--   * ff._history_row_trigger_general records a write that brings a
--     drifted row back to what its history records (a rollback), the
--     unrecorded change marked (1.17 recorded nothing);
--   * ff.version_at and ff._history_state_at run with plan_cache_mode =
--     force_custom_plan (their generic plans walked the whole history);
--   * ff.export_flagd leaves out null metadata members;
--   * ff._validate_environment: during a restore, the restored default
--     environment takes over the untouched "development" row of CREATE
--     EXTENSION when the source's "development" was renamed or deleted
--     (1.17 kept that row, demoted by a version of its own);
--   * ff.verify_history's detail for a missing row names a failed restore
--     (pg_restore -j) as a cause.
-- The 1.18 library (the drift delta in the C write path) serves every
-- earlier version as well.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.18'" to load this file. \quit

-- ff._recipe_functions lists the functions whose EXECUTE a level adds to
-- the level below it (the ones that exist: each part of the extension
-- brings its own).
CREATE OR REPLACE FUNCTION ff._recipe_functions(level text)
RETURNS SETOF regprocedure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.oid::pg_catalog.regprocedure
      FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'ff'::pg_catalog.regnamespace
       AND p.proname = ANY (CASE $1
           WHEN 'reader' THEN ARRAY[
               'evaluate', 'get_bool', 'get_string', 'get_int', 'get_float', 'get_object',
               'evaluate_all', 'evaluate_row', 'get_bool_row', 'get_string_row', 'get_int_row',
               'get_float_row', 'get_object_row', 'json_logic', 'bucket', 'cache_info',
               'current_version']
           WHEN 'editor' THEN ARRAY[
               'create_flag', 'set_targeting', 'set_default_variant', 'enable_flag', 'disable_flag',
               '_set_state', 'set_rollout', 'copy_flag', '_copy_segments', 'delete_flag',
               'create_segment', 'set_segment_rule', 'delete_segment', 'add_segment_keys',
               'remove_segment_keys', 'import_flagd', 'export_flagd', 'can_write_environment',
               'changes_since', 'verify_history', 'comment_change', 'rollback_flag', 'rollback_segment',
               'version_at', 'evaluate_at', 'evaluate_at_version', '_evaluate_image',
               'evaluate_draft', 'evaluate_draft_row', 'apply_draft', 'schedule_change',
               'schedule_rollout', 'cancel_scheduled_change', 'run_scheduled_changes',
               'evaluation_stats', 'evaluation_stats_info', 'request_change', 'approve_change',
               'reject_change', 'withdraw_change', 'apply_change', 'diff_environments']
           WHEN 'admin' THEN ARRAY[
               'create_environment', 'set_default_environment', 'delete_environment',
               'copy_environment', 'rollback_environment', 'protect_environment',
               'unprotect_environment', 'reset_evaluation_stats', 'require_approvals']
       END::pg_catalog.name[])
     ORDER BY p.proname, p.oid::pg_catalog.regprocedure::pg_catalog.text
$$;

COMMENT ON FUNCTION ff._recipe_functions(text) IS
'Internal: the functions whose EXECUTE privilege a recipe level (reader, editor, admin) adds to the level below';

-- ff.copy_environment copies every segment and flag of one environment
-- into another, creating the target when it does not exist.
CREATE OR REPLACE FUNCTION ff.copy_environment(from_environment text, to_environment text, overwrite boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'warning'
AS $$
#variable_conflict use_column
DECLARE
    src_env     text := ff._resolve_environment(from_environment);
    dst_env     text := to_environment;
    clash       text;
    n           integer;
BEGIN
    IF dst_env IS NULL THEN
        RAISE EXCEPTION 'to_environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to copy into; it is created when it does not exist.';
    END IF;
    -- (a NULL overwrite used to skip the clash check, and so overwrite)
    IF overwrite IS NULL THEN
        RAISE EXCEPTION 'overwrite must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass overwrite => true to replace same-named flags and segments, or false (the default) to refuse them.';
    END IF;
    IF dst_env = src_env THEN
        RAISE EXCEPTION 'cannot copy environment "%" onto itself', src_env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name another environment as to_environment; it is created when it does not exist.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.environments WHERE name = dst_env) THEN
        INSERT INTO ff.environments (name, description, metadata)
        SELECT dst_env, format('Copy of environment "%s"', src_env), e.metadata
          FROM ff.environments AS e WHERE e.name = src_env;
    ELSIF NOT overwrite THEN
        SELECT string_agg(x, ', ') INTO clash FROM (
            SELECT format('flag "%s"', f.key) AS x FROM ff.flags AS f
             WHERE f.environment = src_env
               AND EXISTS (SELECT 1 FROM ff.flags AS t WHERE t.environment = dst_env AND t.key = f.key)
            UNION ALL
            SELECT format('segment "%s"', s.name) FROM ff.segments AS s
             WHERE s.environment = src_env
               AND EXISTS (SELECT 1 FROM ff.segments AS t WHERE t.environment = dst_env AND t.name = s.name)
        ) AS c;
        IF clash IS NOT NULL THEN
            RAISE EXCEPTION 'cannot copy environment "%" into "%": both have %', src_env, dst_env, clash
                USING ERRCODE = 'unique_violation',
                      HINT = format('Pass overwrite => true to replace them with the source''s definitions; SELECT * FROM ff.diff_environments(%L, %L) lists what that changes.',
                                    src_env, dst_env);
        END IF;
    END IF;

    PERFORM ff._copy_segments(src_env, dst_env,
        ARRAY(SELECT s.name FROM ff.segments AS s WHERE s.environment = src_env), overwrite);

    INSERT INTO ff.flags AS t (environment, key, state, flag_type, variants, default_variant, targeting,
                               metadata, description, tags, owner)
    SELECT dst_env, f.key, f.state, f.flag_type, f.variants, f.default_variant, f.targeting,
           f.metadata, f.description, f.tags, f.owner
      FROM ff.flags AS f WHERE f.environment = src_env
     ORDER BY f.key
    ON CONFLICT (environment, key) DO UPDATE
       SET state = EXCLUDED.state, flag_type = EXCLUDED.flag_type, variants = EXCLUDED.variants,
           default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
           metadata = EXCLUDED.metadata, description = EXCLUDED.description,
           tags = EXCLUDED.tags, owner = EXCLUDED.owner
     WHERE (t.state, t.flag_type, t.variants, t.default_variant, t.targeting, t.metadata,
            t.description, t.tags, t.owner)
           IS DISTINCT FROM
           (EXCLUDED.state, EXCLUDED.flag_type, EXCLUDED.variants, EXCLUDED.default_variant,
            EXCLUDED.targeting, EXCLUDED.metadata, EXCLUDED.description, EXCLUDED.tags, EXCLUDED.owner);
    SELECT count(*) INTO n FROM ff.flags AS f WHERE f.environment = src_env;
    RETURN n;
END;
$$;

COMMENT ON FUNCTION ff.copy_environment(text, text, boolean) IS
'Copies all segments (with keys) and flags of an environment into another (created if missing); returns the number of flags copied; overwrite => true replaces same-named ones';

-- ff._history_restore: writes an entity (and a segment's key list) back to its state as of a
--   version; true if anything changed (1.11: only for a user who may roll the entity back)
CREATE OR REPLACE FUNCTION ff._history_restore(entity text, environment text, entity_key text, at_version bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET ff.invalid_targeting = 'warning'
SET enable_nestloop = off
SET jit = off
AS $$
DECLARE
    target      jsonb;
    cur         jsonb;
    before_v    bigint := ff.current_version();
    -- the entity's row, by environment $1 and key $2
    row_where   constant text := CASE entity WHEN 'environment' THEN 't.name = $2'
                                             WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                             ELSE 't.environment = $1 AND t.name = $2' END;
BEGIN
    PERFORM ff._history_check_rollback(entity, 'ff._history_restore');
    target := ff._history_image_at(entity, environment, entity_key, at_version);
    EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t WHERE %s',
                              ff._history_table(entity),
                              row_where)
       INTO cur USING environment, entity_key;

    IF target IS NULL THEN
        IF cur IS NOT NULL THEN
            EXECUTE pg_catalog.format('DELETE FROM %s AS t WHERE %s',
                                      ff._history_table(entity),
                                      row_where)
               USING environment, entity_key;
        END IF;
    ELSIF cur IS NULL OR (cur - 'version' - 'updated_at') <> (target - 'version' - 'updated_at') THEN
        PERFORM ff._history_write_image(entity, target, false);
    ELSIF ff._history_drift_delta(entity, environment, entity_key, cur) IS NOT NULL THEN
        -- (1.18) the row is already the target, but only through a change
        -- its history does not record (it says something else now): touch
        -- it, so that the version records that change, marked unrecorded
        -- (1.17 said "nothing changed")
        EXECUTE pg_catalog.format('UPDATE %s AS t SET updated_at = pg_catalog.now() WHERE %s',
                                  ff._history_table(entity),
                                  row_where)
           USING environment, entity_key;
    END IF;

    IF entity = 'segment' AND target IS NOT NULL THEN
        -- (enable_nestloop is off for this function: right after a bulk load
        -- of keys, before statistics, the planner would otherwise rescan the
        -- replayed list once per key, quadratic under the writer lock; and
        -- jit is off (1.18): the nested loop that remains inside
        -- ff._history_keys_at then carries the planner's disable cost, which
        -- made every call JIT-compile for about a second, under the lock)
        DELETE FROM ff.segment_keys AS k
         WHERE k.environment = $2 AND k.segment = $3
           AND NOT EXISTS (SELECT 1 FROM ff._history_keys_at($2, $3, $4) AS t
                            WHERE t.targeting_key = k.targeting_key);
        INSERT INTO ff.segment_keys AS k (environment, segment, targeting_key, excluded)
        SELECT $2, $3, t.targeting_key, t.excluded
          FROM ff._history_keys_at($2, $3, $4) AS t
         WHERE NOT EXISTS (SELECT 1 FROM ff.segment_keys AS c
                            WHERE c.environment = $2 AND c.segment = $3
                              AND c.targeting_key = t.targeting_key AND c.excluded = t.excluded)
            ON CONFLICT ON CONSTRAINT segment_keys_pkey
            DO UPDATE SET excluded = EXCLUDED.excluded;
    END IF;
    RETURN ff.current_version() > before_v;
END;
$$;
COMMENT ON FUNCTION ff._history_restore(text, text, text, bigint) IS
    'Internal: writes an entity (and a segment''s key list) back to its state as of a version; true if anything changed';

-- ff._history_diff: {"field": {"old": ..., "new": ...}} for every changed top-level field (version
--   and updated_at left out); the delta for KEYS
CREATE OR REPLACE FUNCTION ff._history_diff(operation text, before jsonb, after jsonb, delta jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN operation = 'KEYS' THEN delta
    ELSE (SELECT coalesce(
                     pg_catalog.jsonb_object_agg(k.key, pg_catalog.jsonb_build_object(
                         'old', before -> k.key, 'new', after -> k.key)),
                     '{}')
            FROM (SELECT pg_catalog.jsonb_object_keys(coalesce(before, '{}'))
                  UNION
                  SELECT pg_catalog.jsonb_object_keys(coalesce(after, '{}'))) AS k (key)
           WHERE k.key NOT IN ('version', 'updated_at')
             -- (1.18) a field absent on one side (a created or deleted row)
             -- counts as null: a null field is not listed as changed
             AND coalesce(before -> k.key, 'null') IS DISTINCT FROM coalesce(after -> k.key, 'null'))
    END
$$;
COMMENT ON FUNCTION ff._history_diff(text, jsonb, jsonb, jsonb) IS
    'Internal: {"field": {"old": ..., "new": ...}} for every changed top-level field (version and updated_at left out; a field absent on one side counts as null, 1.18); the delta for KEYS';

-- ff._history_fields_summary: the changed fields of a diff as one line, e.g. "state: ENABLED ->
--   DISABLED; targeting changed" (fields in alphabetical order), each followed by suffix; NULL for
--   an empty diff (the arrow it writes is U+2192, given by its UTF-8 bytes: the install script is
--   ASCII; a database neither UTF-8 nor SQL_ASCII, which only an update from 1.9 or earlier has,
--   gets "->")
CREATE OR REPLACE FUNCTION ff._history_fields_summary(diff jsonb, suffix text DEFAULT '')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.string_agg(
               CASE WHEN coalesce(pg_catalog.jsonb_typeof(d.value -> 'old'), 'null') NOT IN ('object', 'array')
                     AND coalesce(pg_catalog.jsonb_typeof(d.value -> 'new'), 'null') NOT IN ('object', 'array')
                     AND pg_catalog.length(ff._history_short(d.value -> 'old')) <= 40
                     AND pg_catalog.length(ff._history_short(d.value -> 'new')) <= 40
                    THEN pg_catalog.format('%s: %s %s %s', d.key, ff._history_short(d.value -> 'old'),
                                           CASE WHEN pg_catalog.getdatabaseencoding() IN ('UTF8', 'SQL_ASCII')
                                                THEN pg_catalog.convert_from('\xe28692', 'UTF8') ELSE '->' END,
                                           ff._history_short(d.value -> 'new'))
                    ELSE d.key || ' changed' END || suffix,
               '; ' ORDER BY d.key)
      FROM pg_catalog.jsonb_each(diff) AS d
$$;
COMMENT ON FUNCTION ff._history_fields_summary(jsonb, text) IS
    'Internal: the changed fields of a diff as one line, e.g. "state: ENABLED -> DISABLED" (with an arrow, U+2192, where the encoding has one), each followed by a suffix; NULL for an empty diff (1.18)';

-- ff._history_summary: one line describing a version, e.g. "state: ENABLED -> DISABLED"; an
--   UPDATE of a row that drifted from its history (1.18: its delta holds the history's last image
--   of it) first lists the unrecorded changes it found, e.g. "state: ENABLED -> DISABLED
--   (unrecorded)"
CREATE OR REPLACE FUNCTION ff._history_summary(operation text, before jsonb, after jsonb, delta jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE operation
        WHEN 'INSERT' THEN 'created'
        WHEN 'DELETE' THEN pg_catalog.concat_ws('; ', u.unrecorded, 'deleted')
        WHEN 'KEYS' THEN
            CASE WHEN delta ? 'cleared'
                 THEN pg_catalog.format('keys: all %s removed', delta ->> 'removed_count')
                 ELSE 'keys: ' || pg_catalog.concat_ws(', ',
                     '+' || pg_catalog.jsonb_array_length(delta -> 'include') || ' included',
                     '+' || pg_catalog.jsonb_array_length(delta -> 'exclude') || ' excluded',
                     '-' || pg_catalog.jsonb_array_length(delta -> 'remove') || ' removed')
            END
        ELSE coalesce(nullif(pg_catalog.concat_ws('; ', u.unrecorded,
                 ff._history_fields_summary(ff._history_diff(operation, before, after, delta))), ''),
                 'no visible change')
    END
      -- the change a drifted row carried without being recorded (1.18)
      FROM (SELECT CASE WHEN operation IN ('UPDATE', 'DELETE') AND delta ? 'recorded'
                        THEN ff._history_fields_summary(
                                 ff._history_diff('UPDATE', delta -> 'recorded', before, NULL), ' (unrecorded)')
                   END AS unrecorded) AS u
$$;
COMMENT ON FUNCTION ff._history_summary(text, jsonb, jsonb, jsonb) IS
    'Internal: one line describing a version, e.g. "state: ENABLED -> DISABLED" (with an arrow, U+2192, where the encoding has one); unrecorded changes found in a drifted row come first, marked "(unrecorded)"';

-- ff.verify_history: recomputes the hash chain of ff.versions; names the first broken version
--   (gap, altered row, or broken link)
CREATE OR REPLACE FUNCTION ff.verify_history(OUT ok boolean, OUT checked bigint,
                                  OUT first_broken_version bigint, OUT detail text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    bad         record;
    last_v      bigint;
BEGIN
    SELECT pg_catalog.count(*), pg_catalog.max(v.version) INTO checked, last_v FROM ff.versions AS v;
    SELECT r.* INTO bad
      FROM (SELECT v.version, v.hash, v.prev_hash,
                   ff._history_hash(v) AS recomputed,
                   pg_catalog.lag(v.version) OVER w AS prev_version,
                   pg_catalog.lag(v.hash) OVER w AS prev_row_hash
              FROM ff.versions AS v
            WINDOW w AS (ORDER BY v.version)) AS r
     WHERE r.version <> coalesce(r.prev_version, 0) + 1
        OR r.hash <> r.recomputed
        OR r.prev_hash IS DISTINCT FROM r.prev_row_hash
     ORDER BY r.version
     LIMIT 1;
    IF NOT FOUND THEN
        -- the chain holds; the configuration rows must be what it says: each
        -- stamped with the latest version of its own entity, whose after
        -- image it still holds, and every entity whose latest version did not
        -- delete it present (this catches the newest versions deleted, and
        -- rows written or deleted without being recorded: with
        -- session_replication_role = replica or the triggers disabled, by a
        -- superuser).  A role that may not read the configuration tables
        -- gets the chain's verdict alone.
        IF NOT (pg_catalog.has_table_privilege('ff.flags', 'SELECT')
                AND pg_catalog.has_table_privilege('ff.segments', 'SELECT')
                AND pg_catalog.has_table_privilege('ff.environments', 'SELECT')) THEN
            ok := true;
            detail := pg_catalog.format('%s versions, hash chain intact (the configuration rows were not compared with it: this role may not read them)',
                                        checked);
            RETURN;
        END IF;
        WITH latest AS (
            SELECT DISTINCT ON (v.entity, v.environment, v.entity_key)
                   v.entity, v.environment AS env, v.entity_key AS k, v.version, v.operation, v.after
              FROM ff.versions AS v
             WHERE v.operation <> 'KEYS'
             ORDER BY v.entity, v.environment, v.entity_key, v.version DESC
        ), cfg AS (
            SELECT 'flag' AS entity, f.environment AS env, f.key AS k, f.version AS stamp,
                   pg_catalog.to_jsonb(f) AS img
              FROM ff.flags AS f
            UNION ALL
            SELECT 'segment', s.environment, s.name, s.version, pg_catalog.to_jsonb(s)
              FROM ff.segments AS s
            UNION ALL
            SELECT 'environment', e.name, e.name, e.version, pg_catalog.to_jsonb(e)
              FROM ff.environments AS e
        )
        SELECT COALESCE(c.entity, l.entity) AS entity, COALESCE(c.env, l.env) AS env,
               COALESCE(c.k, l.k) AS k, c.entity IS NULL AS missing, c.stamp, l.version AS latest
          INTO bad
          FROM cfg AS c
          FULL JOIN latest AS l ON l.entity = c.entity AND l.env = c.env AND l.k = c.k
         WHERE (c.entity IS NULL AND l.operation <> 'DELETE')
            OR (c.entity IS NOT NULL AND c.stamp IS NULL
                AND (c.entity <> 'environment' OR l.version IS NOT NULL))
            OR (c.entity IS NOT NULL AND c.stamp IS NOT NULL
                AND (l.version IS NULL OR c.stamp <> l.version OR l.operation = 'DELETE'
                     OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(l.after) AS a
                                 WHERE (c.img -> a.key) IS DISTINCT FROM a.value)))
         ORDER BY (c.stamp > last_v) DESC NULLS LAST,
                  COALESCE(c.stamp, l.version), 1, 2, 3
         LIMIT 1;
        IF NOT FOUND THEN
            ok := true;
            detail := pg_catalog.format('%s versions, hash chain intact', checked);
            RETURN;
        END IF;
        ok := false;
        first_broken_version := COALESCE(bad.stamp, bad.latest);
        detail := CASE bad.entity WHEN 'environment' THEN pg_catalog.format('environment "%s"', bad.k)
                  ELSE pg_catalog.format('%s "%s" in environment "%s"', bad.entity, bad.k, bad.env) END;
        IF bad.missing THEN
            -- (1.18: a restore that failed, pg_restore -j's above all, leaves this too)
            detail := pg_catalog.format('%s does not exist, but its latest version %s did not delete it: it was deleted without being recorded (with session_replication_role = replica, or with the triggers disabled), or a restore did not bring its row back (one that failed, or a pg_restore -j)',
                                        detail, bad.latest);
        ELSIF bad.stamp IS NULL THEN
            detail := detail || ' has no version: it was written without being recorded (with session_replication_role = replica, or with the triggers disabled)';
        ELSIF bad.stamp > COALESCE(last_v, 0) THEN
            detail := pg_catalog.format('the newest versions are missing: %s is stamped with version %s, and the history ends at version %s',
                                        detail, bad.stamp, COALESCE(last_v, 0));
        ELSE
            detail := pg_catalog.format('%s differs from its latest version %s: it was changed without being recorded (with session_replication_role = replica, or with the triggers disabled)',
                                        detail, COALESCE(bad.latest, bad.stamp));
        END IF;
        RETURN;
    END IF;
    ok := false;
    first_broken_version := bad.version;
    IF bad.version <> coalesce(bad.prev_version, 0) + 1 THEN
        -- (1.18) the first missing version is the first broken one (1.17
        -- named the version after the gap)
        first_broken_version := coalesce(bad.prev_version, 0) + 1;
        detail := CASE WHEN bad.version - 1 = first_broken_version
                       THEN pg_catalog.format('version %s is missing', first_broken_version)
                       ELSE pg_catalog.format('versions %s to %s are missing', first_broken_version, bad.version - 1)
                  END
                  || CASE WHEN bad.prev_version IS NULL
                          THEN pg_catalog.format(' (the history starts at version %s)', bad.version)
                          ELSE pg_catalog.format(' (version %s follows version %s)', bad.version, bad.prev_version)
                     END;
    ELSIF bad.hash <> bad.recomputed THEN
        detail := pg_catalog.format('version %s: the stored hash does not match the row''s content (the row was altered)',
                                    bad.version);
    ELSE
        detail := pg_catalog.format('version %s: prev_hash does not match the hash of version %s (the chain was re-linked)',
                                    bad.version, bad.prev_version);
    END IF;
END;
$$;
COMMENT ON FUNCTION ff.verify_history() IS
    'Recomputes the hash chain of ff.versions and checks that the configuration rows are what it records; names the first broken version (gap, altered row, broken link, missing newest versions, unrecorded change)';

-- ff.version_at: the configuration version at a time: the last version whose transaction had
--   started by then (changed_at), 0 before the first
CREATE OR REPLACE FUNCTION ff.version_at(at_time timestamptz)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- (1.18) planned for the time at hand: the generic plan walked the primary
-- key through the whole history for a recent time
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    found       bigint;
BEGIN
    IF at_time IS NULL THEN
        RAISE EXCEPTION 'at_time must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a time, for example SELECT ff.version_at(now() - interval ''1 day'');';
    END IF;
    -- (1.18) the versions are a prefix: the last one before the first
    -- version whose transaction started after at_time.  Versions are
    -- numbered in commit order, and a transaction that started earlier can
    -- commit later: 1.17 took the last version whose transaction had
    -- started by at_time, and with it every version before it, among them
    -- changes whose transactions started after at_time.  The index on
    -- changed_at reads only the versions after at_time.
    SELECT pg_catalog.min(v.version) - 1 INTO found
      FROM ff.versions AS v
     WHERE v.changed_at > at_time;
    IF found IS NULL THEN
        SELECT pg_catalog.max(v.version) INTO found FROM ff.versions AS v;
    END IF;
    RETURN coalesce(found, 0);
END;
$$;
COMMENT ON FUNCTION ff.version_at(timestamptz) IS
    'The configuration version at a time: the last version before the first one whose transaction started after it (changed_at), 0 before the first';

-- ff._history_state_at: the row image of an environment, flag or segment as of a version (NULL: it
--   did not exist then).  Unlike ff._history_image_at, it also knows the rows that were there
--   before their first recorded change -- the environment the installation creates, rows written
--   with the history triggers disabled: the first change after the version found them as its
--   before image, and a row never changed since is as it is now (1.13)
CREATE OR REPLACE FUNCTION ff._history_state_at(entity text, environment text, entity_key text, at_version bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- (1.18) planned for the entity at hand: the generic plan PL/pgSQL switches
-- to after five calls walked the primary key past a frequently changed
-- entity's versions, 90 ms a call instead of 0.2 ms
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    op          text;
    image       jsonb;
BEGIN
    SELECT l.operation, l.after INTO op, image
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version <= $4
     ORDER BY l.version DESC
     LIMIT 1;
    IF FOUND THEN
        RETURN CASE WHEN op = 'DELETE' THEN NULL ELSE image END;
    END IF;
    SELECT l.operation, l.before INTO op, image
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version > $4
     ORDER BY l.version
     LIMIT 1;
    IF FOUND THEN
        RETURN CASE WHEN op = 'INSERT' THEN NULL ELSE image END;
    END IF;
    EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t WHERE %s',
                              ff._history_table(entity),
                              CASE entity WHEN 'environment' THEN 't.name = $2'
                                          WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                          ELSE 't.environment = $1 AND t.name = $2' END)
       INTO image USING environment, entity_key;
    RETURN image;
END;
$$;
COMMENT ON FUNCTION ff._history_state_at(text, text, text, bigint) IS
    'Internal: the row image of an entity as of a version (NULL: it did not exist then), also for rows that predate their first recorded change';

-- ff._history_drifted: whether a row image differs from the image its history recorded, as
--   ff.verify_history compares them: a member the history recorded (but the stamps) that the row
--   does not hold as recorded; a column added to the table since is no drift (1.18)
CREATE OR REPLACE FUNCTION ff._history_drifted(recorded jsonb, image jsonb)
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
CREATE OR REPLACE FUNCTION ff._history_drift_delta(entity text, environment text, entity_key text, image jsonb)
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

-- ff._history_truncate_trigger: records a DELETE version for every row a TRUNCATE removes
CREATE OR REPLACE FUNCTION ff._history_truncate_trigger()
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

-- ff._history_row_trigger_general: stamps the row with its new version and appends the
--   version to ff.versions; every case (the trigger ff._history_row_trigger, in C, handles
--   everyday UPDATEs and DELETEs itself and calls this function for the rest; not SECURITY
--   DEFINER: its only caller calls it as the extension owner)
CREATE OR REPLACE FUNCTION ff._history_row_trigger_general()
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

-- ff._validate_flag_general does the checks of ff_10_validate_flags: every
-- case (its trigger function ff._validate_flag, in C, accepts an UPDATE that
-- leaves the definition alone and calls this function for the rest).
CREATE OR REPLACE FUNCTION ff._validate_flag_general()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    label       text;
    v           record;
    vtype       text;
    names       text;
    info        record;
    res         jsonb;
    res_path    text;
    is_new      boolean := TG_OP = 'INSERT';
    moved       boolean;
    lenient     boolean;
    quiet       boolean;
    -- (1.18: a disabled flag answers DISABLED whatever its targeting)
    stored_broken constant text := 'The flag is stored because ff.invalid_targeting is "warning"; its evaluations return the caller''s default with reason ERROR and error code PARSE_ERROR'
        || CASE WHEN TG_OP <> 'DELETE' AND NEW.state = 'DISABLED'
                THEN ' once it is enabled (while it is disabled, they answer reason DISABLED).' ELSE '.' END;
    compiled    boolean := true;
    problem     text;
    err_msg     text;
    err_hint    text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.environment IS NULL OR NEW.key IS NULL THEN
        RETURN NEW;             -- the NOT NULL constraints report it
    END IF;
    moved := is_new OR NEW.environment IS DISTINCT FROM OLD.environment
             OR NEW.key IS DISTINCT FROM OLD.key;
    label := format('flag "%s" in environment "%s"', NEW.key, NEW.environment);
    -- ff.invalid_targeting = warning (ff.import_flagd, the copy
    -- functions, rollbacks): a definition that flagd would load but that
    -- cannot be evaluated (targeting, below; from 1.11 a variant value
    -- nested too deep) is stored with a WARNING; its evaluations return the
    -- caller's default with reason ERROR, as in flagd.  A pg_dump script
    -- (ff._restoring()) loads the rows as they were stored, those stored
    -- with a WARNING included, and says nothing again (1.7; before, the
    -- COPY of ff.flags failed on such a row and a restore lost every flag).
    -- (only for the writes that the variant and targeting checks below
    -- look at: not for a change of state or default variant)
    IF moved OR NEW.variants IS DISTINCT FROM OLD.variants OR NEW.flag_type IS DISTINCT FROM OLD.flag_type
       OR NEW.targeting IS DISTINCT FROM OLD.targeting THEN
        lenient := current_setting('ff.invalid_targeting', true) = 'warning' OR ff._restoring();
        -- an INSERT ... ON CONFLICT DO UPDATE (ff.import_flagd, the copies)
        -- of an existing flag is checked again as an UPDATE: warn once
        quiet := ff._restoring();
        IF lenient AND is_new AND NOT quiet THEN
            quiet := EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = NEW.environment AND f.key = NEW.key);
        END IF;
    END IF;

    IF moved THEN
        IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment) THEN
            RAISE EXCEPTION 'environment "%" does not exist', NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Flag "%s" cannot be stored in a missing environment.', NEW.key),
                      HINT = ff._perhaps_you_meant(NEW.environment, ARRAY(SELECT e.name FROM ff.environments AS e))
                          || format('Existing environments: %s. ',
                                    (SELECT string_agg(format('"%s"', e.name), ', ' ORDER BY e.name) FROM ff.environments AS e))
                          || ff._create_hint('environment', NEW.environment);
        END IF;
        PERFORM ff._check_name('flag key', NEW.key, format(' in environment "%s"', NEW.environment));
    END IF;

    IF NEW.state IS NULL THEN
        RAISE EXCEPTION 'the state of % must not be NULL', label
            USING ERRCODE = 'not_null_violation',
                  HINT = 'The state is ''ENABLED'' or ''DISABLED'' (upper case); ff.enable_flag() and ff.disable_flag() set it.';
    END IF;
    IF NEW.state NOT IN ('ENABLED', 'DISABLED') THEN
        RAISE EXCEPTION 'invalid state "%" for %', NEW.state, label
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The problem is at $.state.',
                  HINT = 'The state is ''ENABLED'' or ''DISABLED'' (upper case); ff.enable_flag() and ff.disable_flag() set it.';
    END IF;

    -- variants and flag type
    IF is_new OR NEW.variants IS DISTINCT FROM OLD.variants
       OR NEW.flag_type IS DISTINCT FROM OLD.flag_type THEN
        IF NEW.variants IS NULL THEN
            RAISE EXCEPTION 'the variants of % must not be NULL', label
                USING ERRCODE = 'not_null_violation',
                      HINT = 'Variants map variant names to values, e.g. {"on": true, "off": false}.';
        END IF;
        IF jsonb_typeof(NEW.variants) <> 'object' THEN
            RAISE EXCEPTION 'invalid variants for %: $.variants is a JSON %, not an object', label, jsonb_typeof(NEW.variants)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Variants map variant names to values, e.g. {"on": true, "off": false}.';
        END IF;
        IF NEW.variants = '{}'::jsonb THEN
            RAISE EXCEPTION 'invalid variants for %: $.variants is empty', label
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A flag needs at least one variant, e.g. {"on": true, "off": false}.';
        END IF;
        vtype := NULL;
        FOR v IN SELECT e.key, e.value, jsonb_typeof(e.value) AS t FROM jsonb_each(NEW.variants) AS e LOOP
            IF v.key = '' THEN
                RAISE EXCEPTION 'invalid variants for %: $.variants has a variant with an empty name', label
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Give every variant a non-empty name.';
            END IF;
            IF v.t NOT IN ('boolean', 'string', 'number', 'object') THEN
                RAISE EXCEPTION 'invalid variants for %: % is a JSON %', label,
                    ff._json_path_member('$.variants', v.key), v.t
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Variant values are booleans, strings, numbers or JSON objects, all of one type (wrap an array in an object).';
            END IF;
            -- (1.11) a value evaluation could never convert is refused, or
            -- stored with a WARNING when lenient (see above)
            IF v.t = 'object' AND ff._jsonb_depth_exceeds(v.value, 10000) THEN
                IF NOT lenient THEN
                    RAISE EXCEPTION 'invalid variants for %: % nests deeper than 10000 levels', label,
                        ff._json_path_member('$.variants', v.key)
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'Evaluation converts variant values up to 10000 levels deep; a deeper one would answer PARSE_ERROR to every caller.';
                ELSIF NOT quiet THEN
                    RAISE WARNING 'invalid variants for %: % nests deeper than 10000 levels', label,
                        ff._json_path_member('$.variants', v.key)
                        USING DETAIL = stored_broken,
                              HINT = 'Evaluation converts variant values up to 10000 levels deep.';
                END IF;
            END IF;
            IF vtype IS NULL THEN
                vtype := v.t;
            ELSIF v.t <> vtype THEN
                RAISE EXCEPTION 'invalid variants for %: % is a %, but other variants are % values', label,
                    ff._json_path_member('$.variants', v.key), v.t, vtype
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'All variants of a flag have one JSON type: all boolean, all string, all number or all object.';
            END IF;
        END LOOP;

        IF NEW.flag_type IS NULL THEN
            NEW.flag_type := vtype;
        ELSIF NEW.flag_type NOT IN ('boolean', 'string', 'number', 'object') THEN
            RAISE EXCEPTION 'invalid flag_type "%" for %', NEW.flag_type, label
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'flag_type is ''boolean'', ''string'', ''number'' or ''object'', or NULL to derive it from the variants.';
        ELSIF NEW.flag_type <> vtype AND is_new THEN
            RAISE EXCEPTION 'flag_type "%" of % does not match its variants, which are % values', NEW.flag_type, label, vtype
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Give variants of type %s, or set flag_type = %L (or leave it NULL, to derive it from the variants).',
                                    NEW.flag_type, vtype);
        ELSIF NEW.flag_type <> vtype THEN
            RAISE EXCEPTION 'flag_type "%" of % does not match its variants, which are % values', NEW.flag_type, label, vtype
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Changing the type of a flag breaks the applications that read it with the old type.',
                      HINT = format('If the change is intended, set flag_type = %L (or NULL, to derive it) in the same statement.', vtype);
        END IF;
    END IF;

    -- default variant
    IF NEW.default_variant IS NOT NULL AND NOT NEW.variants ? NEW.default_variant THEN
        SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) INTO names FROM jsonb_object_keys(NEW.variants) AS k;
        RAISE EXCEPTION 'default variant "%" of % is not one of its variants', NEW.default_variant, label
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The problem is at $.defaultVariant; the variants are %s.', names),
                  HINT = 'Set default_variant to a variant name, or to NULL so that callers get their code default.';
    END IF;

    -- metadata
    IF is_new OR NEW.metadata IS DISTINCT FROM OLD.metadata THEN
        PERFORM ff._check_metadata(NEW.metadata, label);
    END IF;

    -- targeting: NULL, JSON null and {} all mean "no targeting"
    IF NEW.targeting IS NOT NULL AND (NEW.targeting = '{}'::jsonb OR NEW.targeting = 'null'::jsonb) THEN
        NEW.targeting := NULL;
    END IF;
    IF NEW.targeting IS NOT NULL
       AND (moved OR NEW.targeting IS DISTINCT FROM OLD.targeting OR NEW.variants IS DISTINCT FROM OLD.variants) THEN
        IF jsonb_typeof(NEW.targeting) <> 'object' THEN
            RAISE EXCEPTION 'invalid targeting for %: $.targeting is a JSON %, not a JSON Logic rule', label, jsonb_typeof(NEW.targeting)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Targeting is a JSON Logic object such as {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", "off"]}, or NULL for none.';
        END IF;
        -- lenient (see above): a rule that flagd would load but cannot
        -- evaluate (an unknown operator, a literal result that is not a
        -- variant) is stored with a WARNING (and a malformed call of flagd's
        -- own operators: see below)
        -- flagd stores an unknown operator (or an unresolved $ref) and fails
        -- at evaluation.  It also stores a call of its own operators that
        -- its schema forbids (starts_with/ends_with/sem_ver arity, an
        -- unknown sem_ver operator, a literal fractional weight that is
        -- negative or not whole, an unknown $flagd property: flagd_call),
        -- and evaluates that call to null (a negative weight counts as 0).
        -- Any other schema violation (a multi-key rule object, in_segment
        -- or a standard operator of the wrong shape, too deep a rule) is
        -- refused as always, below.
        IF lenient THEN
            problem := ff._rule_compile_error(NEW.targeting);
            compiled := problem IS DISTINCT FROM 'unknown_operator';
        END IF;
        IF (NOT compiled OR problem = 'flagd_call') AND NOT quiet THEN
            BEGIN
                -- (1.12) a rule that does not compile is checked as flagd
                -- loads it, so that the WARNING names what its evaluations
                -- will report (the unknown operator), not a flagd call before it
                PERFORM ff._check_rule(NEW.targeting, format('targeting for %s', label), NOT compiled);
            EXCEPTION WHEN invalid_parameter_value THEN
                GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT, err_hint = PG_EXCEPTION_HINT;
                RAISE WARNING '%', err_msg
                    USING DETAIL = CASE
                        WHEN compiled AND err_msg ~ 'fractional weight -[0-9]+ is not an integer'
                        THEN 'The flag is stored because ff.invalid_targeting is "warning", as flagd loads it; as in flagd, a negative whole weight counts as 0.'
                        WHEN compiled
                        THEN 'The flag is stored because ff.invalid_targeting is "warning", as flagd loads it; as in flagd, the call evaluates to null.'
                        ELSE stored_broken
                    END,
                          HINT = err_hint;
            END;
        END IF;
        IF compiled THEN
            -- (1.12) when even the lenient compile fails (bad_arguments), the
            -- error comes from it: it names the call that is refused, not a
            -- flagd call before it that would be stored
            info := ff._rule_info(NEW.targeting, format('targeting for %s', label),
                                  problem IN ('flagd_call', 'bad_arguments'));
            PERFORM ff._check_segment_refs(NEW.environment, info.segments, NEW.targeting,
                                           format('targeting for %s', label), '$.targeting');
            FOR res IN SELECT r FROM jsonb_array_elements(info.results) AS r LOOP
                IF (jsonb_typeof(res) = 'string' AND NOT NEW.variants ? (res #>> '{}'))
                   OR (jsonb_typeof(res) = 'boolean' AND NOT NEW.variants ? (res #>> '{}')) THEN
                    res_path := COALESCE(ff._rule_path_of(NEW.targeting, 'result', res, '$.targeting'), '$.targeting');
                    SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) INTO names FROM jsonb_object_keys(NEW.variants) AS k;
                    err_msg := format('targeting for %s can return %s, which is not a variant', label, res::text);
                    err_hint := CASE jsonb_typeof(res)
                        WHEN 'boolean' THEN 'A rule that returns true/false selects the variants named "true"/"false"; add them or return variant names.'
                        ELSE 'Targeting results name variants; return one of the variant names, or null for the default variant.'
                    END;
                    IF quiet THEN
                        NULL;
                    ELSIF lenient THEN
                        RAISE WARNING '%', err_msg
                            USING DETAIL = format('The result is at %s; the variants are %s. The flag is stored because ff.invalid_targeting is "warning"; an evaluation that reaches this result returns the caller''s default with reason ERROR and error code GENERAL.', res_path, names),
                                  HINT = err_hint;
                    ELSE
                        RAISE EXCEPTION '%', err_msg
                            USING ERRCODE = 'invalid_parameter_value',
                                  DETAIL = format('The result is at %s; the variants are %s.', res_path, names),
                                  HINT = err_hint;
                    END IF;
                END IF;
            END LOOP;
        END IF;
    END IF;

    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._validate_flag_general() IS
'Internal: the checks of ff_10_validate_flags for every case: key rule, typed variants, default variant, flat metadata, targeting (operators, segments, results)';

-- ff._validate_environment is the trigger function of ff_10_validate_environments.
CREATE OR REPLACE FUNCTION ff._validate_environment()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seed        ff.environments;
    nflags      bigint;
    nsegs       bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.is_default THEN
            RAISE EXCEPTION 'cannot delete environment "%": it is the default environment', OLD.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Functions called without an environment, and ff.environment = '''', use the default environment.',
                      HINT = 'Make another environment the default first: SELECT ff.set_default_environment(''name'');';
        END IF;
        IF OLD.protected THEN
            RAISE EXCEPTION 'cannot delete environment "%": it is protected', OLD.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Unprotect it first: UPDATE ff.environments SET protected = false WHERE name = %L;', OLD.name);
        END IF;
        SELECT count(*) INTO nflags FROM ff.flags AS f WHERE f.environment = OLD.name;
        SELECT count(*) INTO nsegs FROM ff.segments AS s WHERE s.environment = OLD.name;
        IF nflags > 0 OR nsegs > 0 THEN
            RAISE EXCEPTION 'cannot delete environment "%": it still has % flag(s) and % segment(s)', OLD.name, nflags, nsegs
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = format('Delete them first, or use SELECT ff.delete_environment(%L, force => true);', OLD.name);
        END IF;
        RETURN OLD;
    END IF;

    IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
        PERFORM ff._check_name('environment name', NEW.name);
    END IF;

    -- A dump of the configuration tables contains the "development" row;
    -- restoring it into a fresh CREATE EXTENSION, whose untouched
    -- "development" row is already there, takes the row over instead of
    -- failing with a duplicate key.  (1.18) So does, during a restore, the
    -- default environment of a database whose "development" was renamed or
    -- deleted: the untouched row becomes it, and no "development" the
    -- source did not have is left behind, demoted by a version the source
    -- did not record.  The row takes every column of the restored one, its
    -- stamp included, so that the history trigger finds it in sync with
    -- the restored history and records nothing.
    IF TG_OP = 'INSERT' THEN
        SELECT * INTO seed FROM ff.environments AS e WHERE e.name = NEW.name;
        IF NOT FOUND AND NEW.is_default AND ff._restoring() THEN
            SELECT * INTO seed FROM ff.environments AS e WHERE e.is_default;
        END IF;
        IF FOUND AND ff._environment_is_pristine_seed(seed) THEN
            IF NEW.is_default THEN
                UPDATE ff.environments SET is_default = false
                 WHERE is_default AND name <> seed.name;
            END IF;
            IF seed.name <> NEW.name THEN
                PERFORM ff._check_name('environment name', NEW.name);
            END IF;
            PERFORM ff._check_metadata(NEW.metadata, format('environment "%s"', NEW.name));
            UPDATE ff.environments
               SET name = NEW.name, is_default = NEW.is_default, protected = NEW.protected,
                   allowed_roles = NEW.allowed_roles,
                   metadata = NEW.metadata, description = NEW.description,
                   created_at = NEW.created_at, updated_at = NEW.updated_at,
                   version = CASE WHEN seed.name <> NEW.name THEN NEW.version ELSE version END
             WHERE name = seed.name;
            RETURN NULL;
        END IF;
    END IF;

    -- (1.17) a NULL name is left to the history trigger's 23502, which
    -- names the row; it met the rename check first
    IF TG_OP = 'UPDATE' AND NEW.name IS DISTINCT FROM OLD.name AND NEW.name IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = OLD.name)
           OR EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = OLD.name) THEN
            RAISE EXCEPTION 'cannot rename environment "%" to "%": it has flags or segments', OLD.name, NEW.name
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = format('Copy it with SELECT ff.copy_environment(%L, %L); and then delete the old one.',
                                    OLD.name, NEW.name);
        END IF;
    END IF;

    IF TG_OP = 'INSERT' OR NEW.metadata IS DISTINCT FROM OLD.metadata THEN
        PERFORM ff._check_metadata(NEW.metadata, format('environment "%s"', NEW.name));
    END IF;

    -- at most one default: making an environment the default demotes the
    -- previous one
    IF NEW.is_default AND (TG_OP = 'INSERT' OR NOT OLD.is_default) THEN
        UPDATE ff.environments SET is_default = false
         WHERE is_default AND name IS DISTINCT FROM NEW.name;
    END IF;

    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._validate_environment() IS
'Trigger function of ff_10_validate_environments: name rule, flat metadata, one default, protected deletes';

-- ff._without_null_members returns an object without its members whose
-- value is JSON null (nested values are left as they are): metadata as
-- flagd's schema has it (string, number or boolean values) and as
-- evaluation reports it, which drops null members (1.18).
CREATE OR REPLACE FUNCTION ff._without_null_members(obj jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(obj) <> 'object' THEN obj
                ELSE (SELECT coalesce(pg_catalog.jsonb_object_agg(m.key, m.value), '{}')
                        FROM pg_catalog.jsonb_each(obj) AS m
                       WHERE pg_catalog.jsonb_typeof(m.value) <> 'null') END
$$;

COMMENT ON FUNCTION ff._without_null_members(jsonb) IS
'Internal: an object without its members whose value is JSON null (metadata as flagd''s schema and evaluation have it) (1.18)';

-- ff.export_flagd returns an environment as a flagd flag-definition
-- document.
CREATE OR REPLACE FUNCTION ff.export_flagd(environment text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(export_flagd.environment);
    flags       jsonb;
    evaluators  jsonb;
    refs        text[] := '{}';
    keys        text[] := '{}';
    objs        jsonb[] := '{}';
    fl          record;
    sub         record;
    obj         jsonb;
    dangling    text[];
    cycle       text[];
BEGIN
    -- segments inline the segments they reference: a cycle (which only a
    -- restore or bypassed triggers can store) has no finite export
    SELECT c INTO cycle
      FROM ff.segments AS s, ff._segment_cycle(env, s.name, ff._segment_refs(env, s.name)) AS c
     WHERE s.environment = env AND c IS NOT NULL
     ORDER BY s.name LIMIT 1;
    IF cycle IS NOT NULL THEN
        RAISE EXCEPTION 'cannot export environment "%": its segments reference each other in a cycle', env
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The cycle is %s.', (SELECT string_agg(format('"%s"', c), ' -> ') FROM unnest(cycle) AS c)),
                  HINT = 'Break the cycle with ff.set_segment_rule(); only a restore (check_function_bodies = off in a superuser''s or the owner''s session) or bypassed triggers can store one.';
    END IF;
    -- the names of the unresolved {"$ref": name} that flags keep (stored
    -- with a WARNING, 1.7): an $evaluators entry of such a name would
    -- resolve them in the exported document, so a flag that uses a segment
    -- of such a name gets its segments inline instead
    dangling := ARRAY(SELECT DISTINCT r #>> '{}'
                        FROM ff.flags AS f, jsonb_path_query(f.targeting, 'lax $.**."$ref"') AS r
                       WHERE f.environment = env AND jsonb_typeof(r) = 'string');
    FOR fl IN SELECT * FROM ff.flags AS f WHERE f.environment = env ORDER BY f.key LOOP
        obj := jsonb_build_object('state', fl.state, 'variants', fl.variants,
                                  'defaultVariant', fl.default_variant);
        IF fl.targeting IS NOT NULL AND ff._rule_compile_error(fl.targeting) = 'unknown_operator' THEN
            -- stored with a WARNING (an unknown operator, an unresolved $ref):
            -- exported as written (1.11: its in_segment calls were inlined,
            -- and one naming a missing segment made the whole export fail)
            obj := obj || jsonb_build_object('targeting', fl.targeting);
        ELSIF fl.targeting IS NOT NULL AND dangling <> '{}' AND EXISTS (
               SELECT 1 FROM jsonb_path_query(fl.targeting, 'lax $.**.in_segment') AS a
                WHERE COALESCE(a ->> 0, a #>> '{}') = ANY (dangling)) THEN
            obj := obj || jsonb_build_object('targeting',
                                             (ff._flagd_inline_segments(fl.targeting, env, NULL)).rule);
        ELSIF fl.targeting IS NOT NULL THEN
            sub := ff._flagd_inline_segments(fl.targeting, env, refs);
            refs := sub.refs;
            obj := obj || jsonb_build_object('targeting', sub.rule);
        END IF;
        -- (1.18) without null members, which flagd's schema does not allow
        -- and evaluation drops (they were exported, and a flagd SDK then
        -- reported them)
        IF ff._without_null_members(fl.metadata) <> '{}'::jsonb THEN
            obj := obj || jsonb_build_object('metadata', ff._without_null_members(fl.metadata));
        END IF;
        -- appended in place, and made one object at the end (1.11: a jsonb
        -- grown flag by flag was copied for every flag, quadratic)
        keys := array_append(keys, fl.key);
        objs := array_append(objs, obj);
    END LOOP;
    SELECT COALESCE(jsonb_object_agg(k, o), '{}') INTO flags FROM unnest(keys, objs) AS u(k, o);
    SELECT jsonb_object_agg(r.name, ff._segment_as_jsonlogic(env, r.name, '{"var": "targetingKey"}'))
      INTO evaluators FROM unnest(refs) AS r(name);
    obj := jsonb_build_object('$schema', 'https://flagd.dev/schema/v0/flags.json',
                              'metadata', (SELECT ff._without_null_members(e.metadata)
                                             FROM ff.environments AS e WHERE e.name = env),
                              'flags', flags);
    IF evaluators IS NOT NULL THEN
        obj := obj || jsonb_build_object('$evaluators', evaluators);
    END IF;
    RETURN obj;
END;
$$;

COMMENT ON FUNCTION ff.export_flagd(text) IS
'Returns an environment as a flagd flag-definition document ($schema, metadata, flags); segments used by flags are emitted as $evaluators entries of plain JSON Logic';

-- as the install script: the new history helper is not PUBLIC's
REVOKE ALL ON FUNCTION ff._history_drift_delta(text, text, text, jsonb) FROM PUBLIC;

-- (1.18) ff.version_at reads the versions after a time through this index
CREATE INDEX versions_changed_at_idx ON ff.versions (changed_at);

-- ---------------------------------------------------------------------
-- Comparing two environments (1.18)
-- ---------------------------------------------------------------------

-- ff._environment_images returns the comparable image of every flag and
-- segment of an environment, and of the environment itself: the row as
-- JSON without what belongs to the environment or to the row's history
-- (environment, version, created_at, updated_at; of an environment only
-- its metadata), so that two environments' rows compare equal when a copy
-- of one would store the other.  A new column of a config table is
-- compared without a change here.
CREATE FUNCTION ff._environment_images(environment text)
RETURNS TABLE (entity text, name text, image jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'environment', e.name, pg_catalog.jsonb_build_object('metadata', e.metadata)
      FROM ff.environments AS e WHERE e.name = $1
    UNION ALL
    SELECT 'segment', s.name,
           pg_catalog.to_jsonb(s) - ARRAY['environment', 'name', 'version', 'created_at', 'updated_at']
      FROM ff.segments AS s WHERE s.environment = $1
    UNION ALL
    SELECT 'flag', f.key,
           pg_catalog.to_jsonb(f) - ARRAY['environment', 'key', 'version', 'created_at', 'updated_at']
      FROM ff.flags AS f WHERE f.environment = $1
$$;

COMMENT ON FUNCTION ff._environment_images(text) IS
'Internal: the comparable image of an environment''s metadata, segments and flags (without environment, identity, version and timestamps), for ff.diff_environments';

-- ff.diff_environments lists what differs between two environments, read
-- as what copying from_environment over to_environment would change: a
-- flag or segment missing in to_environment (ff.copy_environment adds
-- it), one that differs (overwrite => true replaces it), one that only
-- to_environment has (the copy keeps it), and different environment
-- metadata (which the copy does not change).  diff is what the history
-- would record: {"field": {"old": <to_environment's>, "new":
-- <from_environment's>}}, and for a segment's keys {"keys": {"added": n,
-- "removed": n, "switched": n}}.  Identical rows are not listed.
CREATE FUNCTION ff.diff_environments(from_environment text, to_environment text)
RETURNS TABLE (entity text, name text, difference text, summary text, diff jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    src         text;
    dst         text;
BEGIN
    -- (unlike the other functions, neither side defaults: a comparison
    -- with an environment picked by a setting would answer a question
    -- nobody asked)
    IF from_environment IS NULL OR to_environment IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
                        CASE WHEN from_environment IS NULL THEN 'from_environment' ELSE 'to_environment' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name both environments, for example SELECT * FROM ff.diff_environments(''staging'', ''production'');';
    END IF;
    src := ff._resolve_environment(from_environment);
    dst := ff._resolve_environment(to_environment);

    RETURN QUERY
    WITH f AS (SELECT * FROM ff._environment_images(src)),
         t AS (SELECT * FROM ff._environment_images(dst)),
         rows AS (
             SELECT coalesce(f.entity, t.entity) AS entity,
                    -- an environment is listed under the one that would change
                    CASE WHEN coalesce(f.entity, t.entity) = 'environment' THEN dst
                         ELSE coalesce(f.name, t.name) END AS name,
                    f.image AS new_image, t.image AS old_image
               FROM f FULL JOIN t ON t.entity = f.entity AND (t.entity = 'environment' OR t.name = f.name)
         ),
         -- the key lists of the segments of either side, compared by key
         keys AS (
             SELECT coalesce(k.segment, l.segment) AS segment,
                    count(*) FILTER (WHERE l.segment IS NULL) AS added,
                    count(*) FILTER (WHERE k.segment IS NULL) AS removed,
                    count(*) FILTER (WHERE k.excluded <> l.excluded) AS switched
               FROM (SELECT * FROM ff.segment_keys AS sk WHERE sk.environment = src) AS k
               FULL JOIN (SELECT * FROM ff.segment_keys AS sk WHERE sk.environment = dst) AS l
                 ON l.segment = k.segment AND l.targeting_key = k.targeting_key
              GROUP BY 1
             HAVING count(*) FILTER (WHERE l.segment IS NULL OR k.segment IS NULL
                                     OR k.excluded <> l.excluded) > 0
         ),
         diffs AS (
             SELECT r.entity, r.name, r.old_image, r.new_image,
                    CASE WHEN r.old_image IS NULL THEN 'missing'
                         WHEN r.new_image IS NULL THEN 'extra'
                         ELSE 'changed' END AS difference,
                    -- (of a missing one: its fields that have a value)
                    CASE WHEN r.new_image IS NOT NULL
                         THEN ff._history_diff('UPDATE', r.old_image, r.new_image, NULL) END AS fields,
                    CASE WHEN r.entity = 'segment' AND r.new_image IS NOT NULL AND k.segment IS NOT NULL
                         THEN pg_catalog.jsonb_build_object('added', k.added, 'removed', k.removed,
                                                            'switched', k.switched) END AS key_delta
               FROM rows AS r
               LEFT JOIN keys AS k ON r.entity = 'segment' AND k.segment = r.name
         )
    SELECT d.entity, d.name, d.difference,
           CASE d.difference
               WHEN 'missing' THEN pg_catalog.format('missing in "%s"', dst)
               WHEN 'extra' THEN pg_catalog.format('only in "%s"', dst)
               ELSE pg_catalog.concat_ws('; ',
                        ff._history_fields_summary(d.fields),
                        CASE WHEN d.key_delta IS NOT NULL
                             THEN 'keys: ' || pg_catalog.concat_ws(', ',
                                      CASE WHEN (d.key_delta ->> 'added')::bigint > 0
                                           THEN '+' || (d.key_delta ->> 'added') || ' added' END,
                                      CASE WHEN (d.key_delta ->> 'removed')::bigint > 0
                                           THEN '-' || (d.key_delta ->> 'removed') || ' removed' END,
                                      CASE WHEN (d.key_delta ->> 'switched')::bigint > 0
                                           THEN (d.key_delta ->> 'switched') || ' switched' END) END)
           END,
           CASE WHEN d.difference = 'extra' THEN NULL
                WHEN d.key_delta IS NULL THEN d.fields
                ELSE d.fields || pg_catalog.jsonb_build_object('keys', d.key_delta) END
      FROM diffs AS d
     WHERE d.difference <> 'changed' OR d.fields <> '{}' OR d.key_delta IS NOT NULL
     ORDER BY CASE d.entity WHEN 'environment' THEN 0 WHEN 'segment' THEN 1 ELSE 2 END, d.name;
END;
$$;

COMMENT ON FUNCTION ff.diff_environments(text, text) IS
'What differs between two environments, read as what copying from_environment over to_environment would change: flags and segments missing in to_environment, changed (with a diff and a summary as the history would record them, and the key delta of a segment), or only in to_environment, and different environment metadata';
