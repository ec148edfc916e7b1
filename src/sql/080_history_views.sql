-- ---------------------------------------------------------------------
-- History: public functions, readable views, rollback, and the recording
-- triggers (src/sql/080_history_views.sql)
--
-- The recording triggers are created last in the install script, so the
-- rows the install script itself writes (the default environment) are the
-- baseline of an empty history rather than versions.
-- ---------------------------------------------------------------------

-- ---- reading the history

-- ff.current_version: the latest configuration version visible to this transaction (0 when nothing
--   was ever changed)
CREATE FUNCTION ff.current_version()
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.max(v.version), 0) FROM ff.versions AS v
$$;
COMMENT ON FUNCTION ff.current_version() IS
    'The latest configuration version visible to this transaction (0 when nothing was ever changed)';

-- ff.changes_since: every version after since_version, in version order; a poller that remembers
--   the last version it saw never misses one
CREATE FUNCTION ff.changes_since(since_version bigint)
RETURNS SETOF ff.versions
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (1.17) NULL is 22004, as elsewhere (it was 22023)
    IF since_version IS NULL THEN
        RAISE EXCEPTION 'since_version must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass 0 to read the whole history, or the last version you have seen.';
    END IF;
    IF since_version < 0 THEN
        RAISE EXCEPTION 'invalid version %: versions are >= 0', since_version
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass 0 to read the whole history, or the last version you have seen.';
    END IF;
    RETURN QUERY SELECT v.* FROM ff.versions AS v WHERE v.version > since_version ORDER BY v.version;
END;
$$;
COMMENT ON FUNCTION ff.changes_since(bigint) IS
    'Every version after since_version, in version order; a poller that remembers the last version it saw never misses one';
REVOKE ALL ON FUNCTION ff.changes_since(bigint) FROM PUBLIC;

-- ff.verify_history: recomputes the hash chain of ff.versions; names the first broken version
--   (gap, altered row, or broken link)
CREATE FUNCTION ff.verify_history(OUT ok boolean, OUT checked bigint,
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
                AND pg_catalog.has_table_privilege('ff.environments', 'SELECT')
                AND pg_catalog.has_table_privilege('ff.segment_keys', 'SELECT')) THEN
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
            -- (1.22) and every segment's key list must be the list its
            -- history replays (ff._history_keys_at, as ff.rollback_segment
            -- and ff.evaluate_at_version replay it): this catches keys added,
            -- removed or switched between include and exclude without being
            -- recorded, and the newest KEYS versions deleted, which leave
            -- every configuration row as recorded
            WITH replayed AS (
                SELECT s.environment, s.name AS segment, h.targeting_key AS k, h.excluded
                  FROM ff.segments AS s
                 CROSS JOIN LATERAL ff._history_keys_at(s.environment, s.name, last_v) AS h
            )
            SELECT COALESCE(t.environment, r.environment) AS env, COALESCE(t.segment, r.segment) AS k,
                   COALESCE(t.targeting_key, r.k) AS key, t.excluded AS has_ex, r.excluded AS rec_ex,
                   pg_catalog.count(*) OVER () AS differing
              INTO bad
              FROM ff.segment_keys AS t
              FULL JOIN replayed AS r
                ON r.environment = t.environment AND r.segment = t.segment AND r.k = t.targeting_key
             WHERE t.targeting_key IS NULL OR r.k IS NULL OR t.excluded <> r.excluded
             ORDER BY 1, 2, 3
             LIMIT 1;
            IF NOT FOUND THEN
                ok := true;
                detail := pg_catalog.format('%s versions, hash chain intact', checked);
                RETURN;
            END IF;
            ok := false;
            SELECT pg_catalog.max(v.version) INTO first_broken_version
              FROM ff.versions AS v
             WHERE v.entity = 'segment' AND v.environment = bad.env AND v.entity_key = bad.k;
            detail := pg_catalog.format('the key list of segment "%s" in environment "%s" differs from its history as of version %s: key "%s" ',
                                        bad.k, bad.env, first_broken_version, ff._name_in_message(bad.key))
                      || CASE WHEN bad.rec_ex IS NULL
                              THEN pg_catalog.format('is in the list (%s), but not in the history',
                                                     CASE WHEN bad.has_ex THEN 'excluded' ELSE 'included' END)
                              WHEN bad.has_ex IS NULL
                              THEN pg_catalog.format('is in the history (%s), but not in the list',
                                                     CASE WHEN bad.rec_ex THEN 'excluded' ELSE 'included' END)
                              ELSE pg_catalog.format('is %s in the list, but %s in the history',
                                                     CASE WHEN bad.has_ex THEN 'excluded' ELSE 'included' END,
                                                     CASE WHEN bad.rec_ex THEN 'excluded' ELSE 'included' END)
                         END
                      || CASE WHEN bad.differing > 1
                              THEN pg_catalog.format(' (%s keys differ in all)', bad.differing) ELSE '' END
                      || ': it was changed without being recorded (with session_replication_role = replica, or with the triggers disabled), or its newest versions were deleted';
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
    'Recomputes the hash chain of ff.versions and checks that the configuration rows and segment key lists are what it records; names the first broken version (gap, altered row, broken link, missing newest versions, unrecorded change)';
REVOKE ALL ON FUNCTION ff.verify_history() FROM PUBLIC;

-- ---- comments

-- ff.comment_change: sets the comment recorded with the changes that follow in the current
--   transaction (like SET LOCAL ff.change_comment)
-- (1.25: in C, src/ff_history.c, which warns outside a transaction block:
-- a comment set alone in autocommit reached no change)
CREATE FUNCTION ff.comment_change(comment text)
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_comment_change';
COMMENT ON FUNCTION ff.comment_change(text) IS
    'Sets the comment recorded with the changes that follow in the current transaction (like SET LOCAL ff.change_comment)';

-- ---- readable views

-- ff._history_short: a JSON scalar as display text (strings unquoted)
CREATE FUNCTION ff._history_short(value jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN value IS NULL THEN 'null'
                WHEN pg_catalog.jsonb_typeof(value) = 'string' THEN value #>> '{}'
                ELSE value::text END
$$;
COMMENT ON FUNCTION ff._history_short(jsonb) IS 'Internal: a JSON scalar as display text (strings unquoted)';

-- ff._history_diff: {"field": {"old": ..., "new": ...}} for every changed top-level field (version
--   and updated_at left out); the delta for KEYS
CREATE FUNCTION ff._history_diff(operation text, before jsonb, after jsonb, delta jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN operation = 'KEYS' THEN delta
    -- (1.20) json_object_agg, cast once: jsonb_object_agg takes time
    -- quadratic in the size of a large value (a rule with a 1,000,000-element
    -- list: a minute, without checking for interrupts)
    ELSE (SELECT coalesce(
                     pg_catalog.json_object_agg(k.key, pg_catalog.jsonb_build_object(
                         'old', before -> k.key, 'new', after -> k.key))::jsonb,
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
CREATE FUNCTION ff._history_fields_summary(diff jsonb, suffix text DEFAULT '')
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
CREATE FUNCTION ff._history_summary(operation text, before jsonb, after jsonb, delta jsonb)
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

CREATE VIEW ff.history AS
SELECT v.version,
       v.change_set,
       v.changed_at,
       v.environment,
       v.entity,
       v.entity_key,
       v.operation,
       ff._history_summary(v.operation, v.before, v.after, v.delta) AS summary,
       ff._history_diff(v.operation, v.before, v.after, v.delta) AS diff,
       v.changed_by,
       v.application_name,
       v.comment
  FROM ff.versions AS v;
COMMENT ON VIEW ff.history IS 'The configuration history, one row per version, with a readable diff and summary (ORDER BY version yourself; 1.10 dropped the view''s own ORDER BY, which made "latest N" compute every summary)';
COMMENT ON COLUMN ff.history.version IS 'Configuration version';
COMMENT ON COLUMN ff.history.change_set IS 'First version of the transaction that wrote this version';
COMMENT ON COLUMN ff.history.changed_at IS 'Start time of the writing transaction';
COMMENT ON COLUMN ff.history.environment IS 'Environment of the changed entity';
COMMENT ON COLUMN ff.history.entity IS 'environment, flag or segment';
COMMENT ON COLUMN ff.history.entity_key IS 'Flag key, segment name or environment name';
COMMENT ON COLUMN ff.history.operation IS 'INSERT, UPDATE, DELETE, or KEYS (segment key list change)';
COMMENT ON COLUMN ff.history.summary IS 'One-line description: created, deleted, "field: old -> new; ..." (with an arrow, U+2192), "keys: +n included, ..."';
COMMENT ON COLUMN ff.history.diff IS '{"field": {"old": ..., "new": ...}} for the changed fields (version and updated_at left out); for KEYS the key delta';
COMMENT ON COLUMN ff.history.changed_by IS 'Role that made the change';
COMMENT ON COLUMN ff.history.application_name IS 'application_name of the connection that made the change';
COMMENT ON COLUMN ff.history.comment IS 'Change comment of the transaction';
REVOKE ALL ON ff.history FROM PUBLIC;

-- ff.change_sets: one row per change-set.  The versions of a change-set are
-- consecutive (writers hold the writer lock until commit) and change_set is
-- the first of them, so each change-set is its first version plus the run
-- after it (1.10): "latest N" walks the primary key backwards and a lookup
-- by change_set is a key lookup.  1.9 grouped and sorted the whole history.
CREATE VIEW ff.change_sets AS
SELECT f.version AS change_set,
       c.last_version,
       c.changes,
       c.changed_at,
       c.changed_by,
       c.comment,
       c.environments,
       c.entities
  FROM ff.versions AS f
 CROSS JOIN LATERAL (
    SELECT pg_catalog.max(v.version) AS last_version,
           pg_catalog.count(*) AS changes,
           pg_catalog.min(v.changed_at) AS changed_at,
           (pg_catalog.array_agg(v.changed_by ORDER BY v.version))[1] AS changed_by,
           (pg_catalog.array_agg(v.comment ORDER BY v.version) FILTER (WHERE v.comment IS NOT NULL))[1] AS comment,
           pg_catalog.array_agg(DISTINCT v.environment ORDER BY v.environment) AS environments,
           pg_catalog.array_agg(DISTINCT v.entity || ':' || v.entity_key ORDER BY v.entity || ':' || v.entity_key) AS entities
      FROM ff.versions AS v
     WHERE v.version >= f.version
       AND v.version < COALESCE((SELECT n.version FROM ff.versions AS n
                                  WHERE n.version > f.version AND n.change_set <> f.version
                                  ORDER BY n.version LIMIT 1), 9223372036854775807)
       AND v.change_set = f.version) AS c
 WHERE f.change_set = f.version;
COMMENT ON VIEW ff.change_sets IS 'One row per committed transaction that changed the configuration (an atomic change-set)';
COMMENT ON COLUMN ff.change_sets.change_set IS 'First version of the change-set';
COMMENT ON COLUMN ff.change_sets.last_version IS 'Last version of the change-set';
COMMENT ON COLUMN ff.change_sets.changes IS 'Number of versions in the change-set';
COMMENT ON COLUMN ff.change_sets.changed_at IS 'Start time of the transaction';
COMMENT ON COLUMN ff.change_sets.changed_by IS 'Role that made the changes (that of the first version, if it changed within the transaction)';
COMMENT ON COLUMN ff.change_sets.comment IS 'Change comment (the first one recorded, if it changed within the transaction)';
COMMENT ON COLUMN ff.change_sets.environments IS 'Environments touched';
COMMENT ON COLUMN ff.change_sets.entities IS 'Changed entities as entity:key';
REVOKE ALL ON ff.change_sets FROM PUBLIC;

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

-- ---- rollback

-- ff._history_environment: the environment argument, else ff.environment, else the default
--   environment
CREATE FUNCTION ff._history_environment(environment text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    resolved    text;
BEGIN
    resolved := coalesce(nullif(environment, ''),
                                    nullif(pg_catalog.current_setting('ff.environment', true), ''));
    IF resolved IS NULL THEN
        SELECT e.name INTO resolved FROM ff.environments AS e WHERE e.is_default;
    END IF;
    IF resolved IS NULL THEN
        RAISE EXCEPTION 'no environment given and there is no default environment'
            USING ERRCODE = 'undefined_object',
                  HINT = 'Pass environment => ''name'', SET ff.environment = ''name'', or make one the default with SELECT ff.set_default_environment(''name'');';
    END IF;
    RETURN resolved;
END;
$$;
COMMENT ON FUNCTION ff._history_environment(text) IS
    'Internal: the environment argument, else ff.environment, else the default environment';

-- ff._history_check_version: raises unless to_version is a recorded version
CREATE FUNCTION ff._history_check_version(to_version bigint)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur         bigint := ff.current_version();
BEGIN
    IF to_version IS NULL THEN
        RAISE EXCEPTION 'to_version must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions.';
    END IF;
    IF to_version < 1 OR to_version > cur THEN
        RAISE EXCEPTION 'version % does not exist', to_version
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN cur = 0 THEN 'The history is empty.'
                                ELSE pg_catalog.format('Recorded versions run from 1 to %s.', cur) END,
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions.';
    END IF;
END;
$$;
COMMENT ON FUNCTION ff._history_check_version(bigint) IS 'Internal: raises unless to_version is a recorded version';

-- ff._history_image_at: the row image of an entity as of a version (NULL: it did not exist then)
CREATE FUNCTION ff._history_image_at(entity text, environment text, entity_key text, at_version bigint)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN l.operation = 'DELETE' THEN NULL ELSE l.after END
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version <= $4
     ORDER BY l.version DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION ff._history_image_at(text, text, text, bigint) IS
    'Internal: the row image of an entity as of a version (NULL: it did not exist then)';

-- ff._history_segment_keys_of: the names of the segments an environment has had (1.10), each once,
--   for ff.rollback_environment to look each one up once: it looked up every version of them,
--   key list versions included, which was quadratic in the number of key list changes
CREATE FUNCTION ff._history_segment_keys_of(environment text)
RETURNS TABLE (entity_key text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT v.entity_key FROM ff.versions AS v
     WHERE v.entity = 'segment' AND v.environment = $1
$$;
COMMENT ON FUNCTION ff._history_segment_keys_of(text) IS
    'Internal: the names of the segments an environment has had, each once';

-- ff._history_keys_at: a segment's include/exclude key list as of a version, replayed from the
--   KEYS deltas
CREATE FUNCTION ff._history_keys_at(environment text, segment text, at_version bigint)
RETURNS TABLE (targeting_key text, excluded boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- since is materialized (1.10): inlined, it was computed again for every
    -- KEYS version, which was quadratic in the number of key list changes
    WITH since AS MATERIALIZED (
        SELECT coalesce(pg_catalog.max(l.version), 0) AS v
          FROM ff.versions AS l
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.version <= $3
           AND (l.operation = 'DELETE' OR (l.operation = 'KEYS' AND l.delta ? 'cleared'))),
    events AS (
        SELECT l.version, e.k, e.action
          FROM ff.versions AS l
          CROSS JOIN since
          CROSS JOIN LATERAL (
              SELECT x.k, 'include' AS action
                FROM pg_catalog.jsonb_array_elements_text(coalesce(l.delta -> 'include', '[]')) AS x (k)
              UNION ALL
              SELECT x.k, 'exclude'
                FROM pg_catalog.jsonb_array_elements_text(coalesce(l.delta -> 'exclude', '[]')) AS x (k)
              UNION ALL
              SELECT x.k, 'remove'
                FROM pg_catalog.jsonb_array_elements_text(coalesce(l.delta -> 'remove', '[]')) AS x (k)
          ) AS e
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.operation = 'KEYS' AND l.version > since.v AND l.version <= $3)
    SELECT last.k, last.action = 'exclude'
      FROM (SELECT DISTINCT ON (ev.k) ev.k, ev.action
              FROM events AS ev
             ORDER BY ev.k, ev.version DESC) AS last
     WHERE last.action <> 'remove'
$$;
COMMENT ON FUNCTION ff._history_keys_at(text, text, bigint) IS
    'Internal: a segment''s include/exclude key list as of a version, replayed from the KEYS deltas';

-- ff._history_restore: writes an entity (and a segment's key list) back to its state as of a
--   version; true if anything changed (1.11: only for a user who may roll the entity back)
CREATE FUNCTION ff._history_restore(entity text, environment text, entity_key text, at_version bigint)
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

-- ff._history_with_comment: sets ff.change_comment for the transaction unless the caller already
--   did; returns what it set (or NULL)
CREATE FUNCTION ff._history_with_comment(auto_comment text)
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN coalesce(pg_catalog.current_setting('ff.change_comment', true), '') = ''
                THEN pg_catalog.set_config('ff.change_comment', auto_comment, true) END
$$;
COMMENT ON FUNCTION ff._history_with_comment(text) IS
    'Internal: sets ff.change_comment for the transaction unless the caller already did; returns what it set (or NULL)';

-- ff._history_rollback_entity: the body shared by rollback_flag and rollback_segment: writes a
--   flag or a segment (with its key list) back to its state as of to_version (deleting it if it did
--   not exist then) as new versions, commenting the change unless the caller already did (1.11:
--   only for a user who may run ff.rollback_flag or ff.rollback_segment, as the case may be)
CREATE FUNCTION ff._history_rollback_entity(entity text, key text, to_version bigint, environment text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- (1.25) an empty name is a name, which no environment has: 1.24 took
    -- it for "not given" and rolled back in the default environment
    env         text := CASE WHEN environment = '' THEN '' ELSE ff._history_environment(environment) END;
    set_by_us   text;
BEGIN
    PERFORM ff._history_check_rollback(entity, 'ff._history_rollback_entity');
    PERFORM ff._history_check_version(to_version);
    IF key IS NULL THEN
        RAISE EXCEPTION '% % must not be NULL', entity, CASE entity WHEN 'flag' THEN 'key' ELSE 'name' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'ff.history lists the recorded changes and their keys.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.versions AS v
                    WHERE v.entity = _history_rollback_entity.entity AND v.environment = env
                      AND v.entity_key = key) THEN
        -- (1.12) a mistyped environment is named as such, with a suggestion
        IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = env)
           AND NOT EXISTS (SELECT 1 FROM ff.versions AS v WHERE v.entity = 'environment' AND v.environment = env) THEN
            RAISE EXCEPTION 'environment "%" does not exist and has no history', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object',
                      DETAIL = CASE WHEN environment IS NULL THEN 'The name comes from the ff.environment setting.'
                                    ELSE 'No environment of this name exists or existed.' END,
                      HINT = ff._perhaps_you_meant(env, ARRAY(
                                 SELECT e.name FROM ff.environments AS e
                                 UNION
                                 SELECT v.environment FROM ff.versions AS v WHERE v.entity = 'environment'))
                          || 'Check the environment; ff.history lists the recorded changes of each environment.';
        END IF;
        RAISE EXCEPTION '% "%" has no history in environment "%"', entity, ff._name_in_message(key), env
            USING ERRCODE = 'undefined_object',
                  HINT = ff._perhaps_you_meant(key, ARRAY(SELECT DISTINCT v.entity_key FROM ff.versions AS v
                                                           WHERE v.entity = _history_rollback_entity.entity
                                                             AND v.environment = env))
                      || pg_catalog.format('Check the %s %s and the environment; ff.history lists the recorded changes.',
                                           entity, CASE entity WHEN 'flag' THEN 'key' ELSE 'name' END);
    END IF;
    -- (1.23) the writer lock before ff._history_restore reads the row, the
    -- key list and the history (ff.rollback_environment takes it once for
    -- all its entities)
    PERFORM ff._history_lock_writer(entity);
    set_by_us := ff._history_with_comment(pg_catalog.format(
        'rollback of %s "%s" in environment "%s" to version %s', entity, key, env, to_version));
    IF NOT ff._history_restore(entity, env, key, to_version) THEN
        RAISE NOTICE '% "%" in environment "%" is already as of version %: nothing changed',
                     entity, key, env, to_version;
    END IF;
    IF set_by_us IS NOT NULL THEN
        PERFORM pg_catalog.set_config('ff.change_comment', '', true);
    END IF;
    RETURN ff.current_version();
END;
$$;
COMMENT ON FUNCTION ff._history_rollback_entity(text, text, bigint, text) IS
    'Internal: the shared body of ff.rollback_flag and ff.rollback_segment (runs with the caller''s rights)';

-- ff.rollback_flag: writes a flag back to its state as of to_version (deleting it if it did not
--   exist then) as a new version; returns the current version
CREATE FUNCTION ff.rollback_flag(key text, to_version bigint, environment text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._history_rollback_entity('flag', key, to_version, environment) $$;
COMMENT ON FUNCTION ff.rollback_flag(text, bigint, text) IS
    'Writes a flag back to its state as of to_version (deleting it if it did not exist then) as a new version; returns the current version';
REVOKE ALL ON FUNCTION ff.rollback_flag(text, bigint, text) FROM PUBLIC;

-- ff.rollback_segment: writes a segment and its key list back to their state as of to_version
--   (deleting it if it did not exist then) as new versions; returns the current version
CREATE FUNCTION ff.rollback_segment(name text, to_version bigint, environment text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._history_rollback_entity('segment', name, to_version, environment) $$;
COMMENT ON FUNCTION ff.rollback_segment(text, bigint, text) IS
    'Writes a segment and its key list back to their state as of to_version (deleting it if it did not exist then) as new versions; returns the current version';
REVOKE ALL ON FUNCTION ff.rollback_segment(text, bigint, text) FROM PUBLIC;

-- ff._history_dependency_order orders names so that each comes after the
-- names it depends on (deps[i]: the comma-separated names names[i] depends
-- on; names outside the list do not count); names in a cycle, which a valid
-- configuration does not have, come in some order
CREATE FUNCTION ff._history_dependency_order(names text[], deps text[])
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- the level of a name: 0, or one more than that of a name it depends
    -- on (bounded: segment references nest at most 16 deep, and a cycle
    -- must not recurse for ever)
    WITH RECURSIVE nodes (n, k) AS (
        SELECT u.n, u.k FROM pg_catalog.unnest(names) WITH ORDINALITY AS u (n, k)
    ), edges (n, d) AS (
        SELECT DISTINCT a.n, d.n
          FROM nodes AS a
          JOIN pg_catalog.unnest(pg_catalog.string_to_array(deps[a.k], ',')) AS e (d) ON true
          JOIN nodes AS d ON d.n = e.d
         WHERE d.n <> a.n
    ), levels (n, lvl) AS (
        SELECT nodes.n, 0 FROM nodes
        UNION
        SELECT e.n, l.lvl + 1
          FROM edges AS e JOIN levels AS l ON l.n = e.d
         WHERE l.lvl < 64
    )
    SELECT COALESCE(pg_catalog.array_agg(o.n ORDER BY o.lvl, o.k), '{}')
      FROM (SELECT nodes.n, nodes.k, pg_catalog.max(l.lvl) AS lvl
              FROM nodes JOIN levels AS l ON l.n = nodes.n
             GROUP BY nodes.n, nodes.k) AS o
$$;
COMMENT ON FUNCTION ff._history_dependency_order(text[], text[]) IS
    'Internal: names ordered so that each follows the names it depends on (rollback order of segments)';

-- ff.rollback_environment: writes an environment, its segments and its flags back to their state
--   as of to_version, as one change-set of new versions; returns the current version
CREATE FUNCTION ff.rollback_environment(environment text, to_version bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    set_by_us   text;
    before_v    bigint := ff.current_version();
    has_history boolean;
    item        record;
    pending     text[];
    refs        text[];
    order_      text[];
    seg         text;
BEGIN
    IF environment IS NULL THEN
        RAISE EXCEPTION 'environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to roll back.';
    END IF;
    PERFORM ff._history_check_version(to_version);
    -- (1.23) the writer lock before the environment's flags and segments are
    -- listed: a flag created while this rollback waited is rolled back too
    PERFORM ff._history_lock_writer('environment');
    has_history := EXISTS (SELECT 1 FROM ff.versions AS v
                            WHERE v.entity = 'environment' AND v.environment = $1
                              AND v.entity_key = $1);
    IF NOT has_history AND NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = $1) THEN
        RAISE EXCEPTION 'environment "%" does not exist and has no history', ff._name_in_message(environment)
            USING ERRCODE = 'undefined_object',
                  HINT = ff._perhaps_you_meant(environment, ARRAY(
                             SELECT e.name FROM ff.environments AS e
                             UNION
                             SELECT v.environment FROM ff.versions AS v WHERE v.entity = 'environment'))
                      || 'Check the name; ff.history lists the recorded changes of each environment.';
    END IF;
    -- an environment created by the install script and never changed has
    -- no history: it existed all along
    IF has_history AND ff._history_image_at('environment', $1, $1, to_version) IS NULL THEN
        RAISE EXCEPTION 'environment "%" did not exist at version %', environment, to_version
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'To go back to a state without it, delete its flags, its segments and the environment.';
    END IF;
    set_by_us := ff._history_with_comment(pg_catalog.format(
        'rollback of environment "%s" to version %s', environment, to_version));
    IF has_history THEN
        PERFORM ff._history_restore('environment', environment, environment, to_version);
    END IF;

    -- segments that existed then, each after the segments its rule of then
    -- references; then every flag; then the segments that did not exist
    -- then, each before the segments its rule of now references (a valid
    -- state has no cycle: what is left of one is restored as it comes, and
    -- the validation names the problem)
    SELECT COALESCE(pg_catalog.array_agg(s.entity_key ORDER BY s.entity_key), '{}'),
           COALESCE(pg_catalog.array_agg(pg_catalog.array_to_string(
               COALESCE(ff._rule_segment_names(s.image->'rule', 'segment'), '{}'), ',')
               ORDER BY s.entity_key), '{}')
      INTO pending, refs
      FROM (SELECT k.entity_key, ff._history_image_at('segment', $1, k.entity_key, to_version) AS image
              FROM ff._history_segment_keys_of($1) AS k) AS s
     WHERE s.image IS NOT NULL;
    FOREACH seg IN ARRAY ff._history_dependency_order(pending, refs) LOOP
        PERFORM ff._history_restore('segment', environment, seg, to_version);
    END LOOP;
    FOR item IN
        SELECT DISTINCT v.entity_key FROM ff.versions AS v
         WHERE v.entity = 'flag' AND v.environment = $1
         ORDER BY 1
    LOOP
        PERFORM ff._history_restore('flag', environment, item.entity_key, to_version);
    END LOOP;
    SELECT COALESCE(pg_catalog.array_agg(s.entity_key ORDER BY s.entity_key), '{}'),
           COALESCE(pg_catalog.array_agg(pg_catalog.array_to_string(
               ff._segment_refs($1, s.entity_key), ',') ORDER BY s.entity_key), '{}')
      INTO pending, refs
      FROM ff._history_segment_keys_of($1) AS s
     WHERE ff._history_image_at('segment', $1, s.entity_key, to_version) IS NULL;
    -- deleted in the reverse order: whoever references a segment goes first
    order_ := ff._history_dependency_order(pending, refs);
    FOR i IN REVERSE COALESCE(pg_catalog.array_upper(order_, 1), 0) .. 1 LOOP
        PERFORM ff._history_restore('segment', environment, order_[i], to_version);
    END LOOP;

    IF ff.current_version() = before_v THEN
        RAISE NOTICE 'environment "%" is already as of version %: nothing changed', environment, to_version;
    END IF;
    IF set_by_us IS NOT NULL THEN
        PERFORM pg_catalog.set_config('ff.change_comment', '', true);
    END IF;
    RETURN ff.current_version();
END;
$$;
COMMENT ON FUNCTION ff.rollback_environment(text, bigint) IS
    'Writes an environment, its segments and its flags back to their state as of to_version, as one change-set of new versions; returns the current version';
REVOKE ALL ON FUNCTION ff.rollback_environment(text, bigint) FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Point-in-time evaluation (1.13): what a flag answered for a context at
-- a past version or time, from the history alone -- the flag's row image,
-- its environment's metadata, and the segments its rule uses (rules and
-- key lists) as they were then.
-- ---------------------------------------------------------------------

-- ff._history_state_at: the row image of an environment, flag or segment as of a version (NULL: it
--   did not exist then).  Unlike ff._history_image_at, it also knows the rows that were there
--   before their first recorded change -- the environment the installation creates, rows written
--   with the history triggers disabled: the first change after the version found them as its
--   before image, and a row never changed since is as it is now (1.13)
CREATE FUNCTION ff._history_state_at(entity text, environment text, entity_key text, at_version bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- (1.18) The generic plan PL/pgSQL switches to after five calls once walked
-- the primary key past a frequently changed entity's versions (90 ms a call
-- instead of 0.2 ms), and 1.18 planned every call anew for it (60-100 us a
-- call).  (1.20) The lookups are ordered by all the columns of
-- versions_entity_idx instead, an order only that index gives, so that
-- every plan reads it, and the plan is kept again.
AS $$
DECLARE
    op          text;
    image       jsonb;
BEGIN
    SELECT l.operation, l.after INTO op, image
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version <= $4
     ORDER BY l.entity DESC, l.environment DESC, l.entity_key DESC, l.version DESC
     LIMIT 1;
    IF FOUND THEN
        RETURN CASE WHEN op = 'DELETE' THEN NULL ELSE image END;
    END IF;
    SELECT l.operation, l.before INTO op, image
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version > $4
     ORDER BY l.entity, l.environment, l.entity_key, l.version
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

-- ff._history_key_at: whether a targeting key was on a segment's exclude list (true), its include
--   list (false) or neither (NULL) as of a version, from the KEYS deltas (1.13: one key of
--   ff._history_keys_at, for point-in-time evaluation)
CREATE FUNCTION ff._history_key_at(environment text, segment text, targeting_key text, at_version bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH since AS MATERIALIZED (
        SELECT coalesce(pg_catalog.max(l.version), 0) AS v
          FROM ff.versions AS l
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.version <= $4
           AND (l.operation = 'DELETE' OR (l.operation = 'KEYS' AND l.delta ? 'cleared')))
    SELECT CASE WHEN l.delta -> 'include' ? $3 THEN false
                WHEN l.delta -> 'exclude' ? $3 THEN true END
      FROM ff.versions AS l
      CROSS JOIN since
     WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
       AND l.operation = 'KEYS' AND l.version > since.v AND l.version <= $4
       AND (l.delta -> 'include' ? $3 OR l.delta -> 'exclude' ? $3 OR l.delta -> 'remove' ? $3)
     ORDER BY l.version DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION ff._history_key_at(text, text, text, bigint) IS
    'Internal: whether a targeting key was on a segment''s exclude list (true), include list (false) or neither (NULL) as of a version';

-- ff._evaluate_image: evaluates a flag from the row images of the flag and its environment as of
--   a version, reading the segments it uses as of that version (C; the body of ff.evaluate_at and
--   ff.evaluate_at_version)
CREATE FUNCTION ff._evaluate_image(flag_key text, context jsonb, default_value jsonb, environment text,
                                   at_version bigint, at_time timestamptz, flag_image jsonb,
                                   environment_image jsonb)
RETURNS ff.evaluation_details
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'ff_evaluate_image';
COMMENT ON FUNCTION ff._evaluate_image(text, jsonb, jsonb, text, bigint, timestamptz, jsonb, jsonb) IS
    'Internal: evaluates a flag from its and its environment''s row images as of a version, with the segments as of that version';
REVOKE ALL ON FUNCTION ff._evaluate_image(text, jsonb, jsonb, text, bigint, timestamptz, jsonb, jsonb) FROM PUBLIC;

-- ff.version_at: the configuration version at a time: the last version whose transaction had
--   started by then (changed_at), 0 before the first
CREATE FUNCTION ff.version_at(at_time timestamptz)
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
REVOKE ALL ON FUNCTION ff.version_at(timestamptz) FROM PUBLIC;

-- ff.evaluate_at_version: a flag's evaluation details for a context as of a version: the flag, its
--   environment's metadata and the segments it uses as they were then; $flagd.timestamp is now
CREATE FUNCTION ff.evaluate_at_version(flag_key text, context jsonb, at_version bigint,
                                       default_value jsonb DEFAULT NULL, environment text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
    cur         bigint := ff.current_version();
BEGIN
    IF at_version IS NULL THEN
        RAISE EXCEPTION 'at_version must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions; ff.evaluate_at takes a time instead.';
    END IF;
    IF at_version < 0 OR at_version > cur THEN
        RAISE EXCEPTION 'version % does not exist', at_version
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Versions run from 0 (before the first recorded change) to %s.', cur),
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions.';
    END IF;
    RETURN ff._evaluate_image(flag_key, context, default_value, env, at_version, NULL,
                              ff._history_state_at('flag', env, flag_key, at_version),
                              ff._history_state_at('environment', env, env, at_version));
END;
$$;
COMMENT ON FUNCTION ff.evaluate_at_version(text, jsonb, bigint, jsonb, text) IS
    'Evaluation details of a flag for a context as of a version of the history (the flag, its environment and its segments as they were then)';
REVOKE ALL ON FUNCTION ff.evaluate_at_version(text, jsonb, bigint, jsonb, text) FROM PUBLIC;

-- ff.evaluate_at: a flag's evaluation details for a context at a time: as of ff.version_at(at_time),
--   with $flagd.timestamp = at_time
CREATE FUNCTION ff.evaluate_at(flag_key text, context jsonb, at_time timestamptz,
                               default_value jsonb DEFAULT NULL, environment text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
    v           bigint;
BEGIN
    IF at_time IS NULL THEN
        RAISE EXCEPTION 'at_time must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a time, for example now() - interval ''1 day''; ff.evaluate_at_version takes a version instead.';
    END IF;
    v := ff.version_at(at_time);
    RETURN ff._evaluate_image(flag_key, context, default_value, env, v, at_time,
                              ff._history_state_at('flag', env, flag_key, v),
                              ff._history_state_at('environment', env, env, v));
END;
$$;
COMMENT ON FUNCTION ff.evaluate_at(text, jsonb, timestamptz, jsonb, text) IS
    'Evaluation details of a flag for a context at a time (as of ff.version_at(at_time); $flagd.timestamp is at_time)';
REVOKE ALL ON FUNCTION ff.evaluate_at(text, jsonb, timestamptz, jsonb, text) FROM PUBLIC;


-- ---------------------------------------------------------------------
-- The recording triggers.  Named ff_90_* so that they run after the
-- validation triggers (ff_10_validate_*): BEFORE ROW triggers of a table
-- fire in name order, and the row they stamp and record is final.
-- ---------------------------------------------------------------------

CREATE TRIGGER ff_90_history
    BEFORE INSERT OR UPDATE OR DELETE ON ff.environments
    FOR EACH ROW EXECUTE FUNCTION ff._history_row_trigger('environment');
CREATE TRIGGER ff_90_history
    BEFORE INSERT OR UPDATE OR DELETE ON ff.flags
    FOR EACH ROW EXECUTE FUNCTION ff._history_row_trigger('flag');
CREATE TRIGGER ff_90_history
    BEFORE INSERT OR UPDATE OR DELETE ON ff.segments
    FOR EACH ROW EXECUTE FUNCTION ff._history_row_trigger('segment');

CREATE TRIGGER ff_90_history_truncate
    BEFORE TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_truncate_trigger('environment');
CREATE TRIGGER ff_90_history_truncate
    BEFORE TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_truncate_trigger('flag');
CREATE TRIGGER ff_90_history_truncate
    BEFORE TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_truncate_trigger('segment');

CREATE TRIGGER ff_90_history_keys_insert
    AFTER INSERT ON ff.segment_keys
    REFERENCING NEW TABLE AS ff_new_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_keys_insert_trigger();
CREATE TRIGGER ff_90_history_keys_update
    AFTER UPDATE ON ff.segment_keys
    REFERENCING OLD TABLE AS ff_old_keys NEW TABLE AS ff_new_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_keys_update_trigger();
CREATE TRIGGER ff_90_history_keys_delete
    AFTER DELETE ON ff.segment_keys
    REFERENCING OLD TABLE AS ff_old_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_keys_delete_trigger();
CREATE TRIGGER ff_90_history_keys_truncate
    BEFORE TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_keys_truncate_trigger();

-- ---------------------------------------------------------------------
-- pg_dump registration (here, at the end of the install script, so that
-- these calls are the ones in force).  Restored rows do not duplicate
-- history: the recording triggers recognise rows that are exactly what the
-- restored history says (see 020_history.sql).  Environment rows never
-- written since installation (version IS NULL: the default environment
-- created by the install script) are re-created by CREATE EXTENSION and are
-- not dumped.
-- ---------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('ff.versions', '');
SELECT pg_catalog.pg_extension_config_dump('ff.environments', 'WHERE version IS NOT NULL');
SELECT pg_catalog.pg_extension_config_dump('ff.flags', '');
SELECT pg_catalog.pg_extension_config_dump('ff.segments', '');
SELECT pg_catalog.pg_extension_config_dump('ff.segment_keys', '');
-- never holds rows; registered so that every ff table is accounted for,
-- with nothing to dump
SELECT pg_catalog.pg_extension_config_dump('ff._cache_signal', 'WHERE false');
SELECT pg_catalog.pg_extension_config_dump('ff._cache_signal_keys', 'WHERE false');
