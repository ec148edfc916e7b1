-- feature_flags 1.21 -> 1.22
--
-- 1.22 changes no table.  It replaces three functions of the history
-- (found by a review of the history and its guarantees):
--   * ff._history_keys_needed: a statement that removes more keys than the
--     recorded size of a segment's key list is recorded unless this
--     transaction deleted the segment (the writable-CTE case the rule was
--     for).  1.21 skipped every such removal: after one key list change made
--     without being recorded (keys added with session_replication_role =
--     replica), a later ordinary removal, ff.rollback_segment's as well, was
--     lost from the history.
--   * ff._history_keys_apply: such a version's after figures are those of
--     the list the history replays, with the statement's change applied (a
--     size below zero before).
--   * ff.verify_history also checks every segment's key list against the
--     list its history replays (ff._history_keys_at): a list changed
--     without being recorded, or its newest KEYS versions deleted, are
--     named, with the first key that differs.
-- And two hints (found by a walk through the README):
--   * ff._validate_environment: deleting a protected environment that has an
--     approval rule says to remove the rule first (unprotecting it alone is
--     refused while the rule exists);
--   * ff.import_flagd: a "flags" member of the wrong type is told that the
--     array form is accepted too.
-- Same signatures, same privileges; nothing to wait for.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.22'" to load this file. \quit

CREATE OR REPLACE FUNCTION ff._history_keys_apply(environment text, segment text, count_delta bigint,
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

CREATE OR REPLACE FUNCTION ff._history_keys_needed(environment text, segment text, count_delta bigint,
                                        digest_delta bigint, inserted_only boolean)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st          record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = $1 AND s.name = $2) THEN
        RETURN false;
    END IF;
    st := ff._history_keys_state(environment, segment);
    IF inserted_only THEN
        IF st.key_count = count_delta AND st.keys_digest = digest_delta
           AND (SELECT pg_catalog.count(*) FROM ff.segment_keys AS k
                 WHERE k.environment = $1 AND k.segment = $2) = count_delta THEN
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
            -- (1.22) with an approval rule, which keeps it protected, the
            -- rule goes first
            RAISE EXCEPTION 'cannot delete environment "%": it is protected', OLD.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = CASE WHEN ff._approvals_required(OLD.name) > 0
                                  THEN format('Remove its approval rule, then unprotect it: SELECT ff.require_approvals(%L, 0); UPDATE ff.environments SET protected = false WHERE name = %L;', OLD.name, OLD.name)
                                  ELSE format('Unprotect it first: UPDATE ff.environments SET protected = false WHERE name = %L;', OLD.name)
                             END;
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

CREATE OR REPLACE FUNCTION ff.import_flagd(document jsonb, environment text DEFAULT NULL, replace boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'warning'
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(import_flagd.environment);
    flags       jsonb;
    evaluators  jsonb;
    fl          record;
    f           jsonb;
    fpath       text;
    dv          text;
    tg          jsonb;
    md          jsonb;
    vr          jsonb;
    set_md      jsonb;
    parsed      jsonb[] := '{}';
    written     integer := 0;
    n           integer;
    old_types   jsonb;
    new_type    text;
BEGIN
    IF document IS NULL OR jsonb_typeof(document) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: the document is %',
            CASE WHEN document IS NULL THEN 'NULL' ELSE 'a JSON ' || jsonb_typeof(document) || ', not an object' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A flagd document is an object such as {"flags": {"my-flag": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}.';
    END IF;

    -- flags: the map form, or the flagd daemon's array form
    flags := document -> 'flags';
    IF flags IS NULL THEN
        RAISE EXCEPTION 'invalid flagd document: $.flags is missing'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The document needs "flags": an object mapping flag keys to flag definitions, or an array of flag definitions that each have a "key".';
    ELSIF jsonb_typeof(flags) = 'array' THEN
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(flags) AS a
                    WHERE jsonb_typeof(a) <> 'object' OR jsonb_typeof(a -> 'key') IS DISTINCT FROM 'string') THEN
            RAISE EXCEPTION 'invalid flagd document: $.flags is an array whose elements are not all objects with a string "key"'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use the map form {"flags": {"my-flag": {...}}}, or give every flag object a "key".';
        END IF;
        SELECT k INTO fpath FROM (SELECT a ->> 'key' AS k FROM jsonb_array_elements(flags) AS a) AS x
         GROUP BY k HAVING count(*) > 1 ORDER BY k LIMIT 1;
        IF fpath IS NOT NULL THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" is defined more than once in $.flags', fpath
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Flag keys are unique within a document.';
        END IF;
        -- (1.20) json_object_agg, cast once: jsonb_object_agg takes time
        -- quadratic in the size of a large value (a flag with a long list)
        SELECT json_object_agg(a ->> 'key', a - 'key')::jsonb INTO flags FROM jsonb_array_elements(flags) AS a;
        flags := COALESCE(flags, '{}');
    ELSIF jsonb_typeof(flags) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: $.flags is a JSON %, not an object or an array', jsonb_typeof(flags)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The document needs "flags": an object mapping flag keys to flag definitions, or an array of flag definitions that each have a "key".';
    END IF;

    -- shared rules; here and below, an optional member that is JSON null is absent
    evaluators := NULLIF(document -> '$evaluators', 'null');
    IF evaluators IS NOT NULL AND jsonb_typeof(evaluators) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: $."$evaluators" is a JSON %, not an object', jsonb_typeof(evaluators)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '"$evaluators" maps names to JSON Logic rules that flags reference with {"$ref": "name"}.';
    END IF;
    -- flag-set metadata
    set_md := NULLIF(document -> 'metadata', 'null');
    IF set_md IS NOT NULL THEN
        PERFORM ff._check_metadata(set_md, 'the flag set of the document', '$.metadata');
    END IF;

    -- check the shape of every flag before writing anything
    FOR fl IN SELECT e.key, e.value FROM jsonb_each(flags) AS e ORDER BY e.key LOOP
        f := fl.value;
        fpath := ff._json_path_member('$.flags', fl.key);
        IF jsonb_typeof(f) <> 'object' THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" is a JSON %, not an object', fl.key, jsonb_typeof(f)
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.', fpath),
                      HINT = 'A flag is an object with "state", "variants" and optionally "defaultVariant", "targeting" and "metadata".';
        END IF;
        IF NOT f ? 'state' OR NOT f ? 'variants' THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has no "%"', fl.key,
                CASE WHEN NOT f ? 'state' THEN 'state' ELSE 'variants' END
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.', fpath),
                      HINT = 'Every flag needs "state" ("ENABLED" or "DISABLED") and "variants".';
        END IF;
        IF jsonb_typeof(f -> 'state') <> 'string' OR (f ->> 'state') NOT IN ('ENABLED', 'DISABLED') THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has state %', fl.key, (f -> 'state')::text
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.state.', fpath),
                      HINT = 'The state is "ENABLED" or "DISABLED".';
        END IF;
        IF f ? 'defaultVariant' AND jsonb_typeof(f -> 'defaultVariant') NOT IN ('string', 'null') THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has a defaultVariant that is a JSON %', fl.key,
                jsonb_typeof(f -> 'defaultVariant')
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.defaultVariant.', fpath),
                      HINT = 'defaultVariant is the name of a variant, or null.';
        END IF;
        -- (1.20) "" is no default variant, as flagd reads it (no variant
        -- may have an empty name)
        dv := NULLIF(f ->> 'defaultVariant', '');
        tg := ff._flagd_resolve_refs(f -> 'targeting', evaluators, fl.key, fpath || '.targeting');
        md := COALESCE(NULLIF(f -> 'metadata', 'null'), '{}');
        -- (1.20) {"$ref": name} inside a variant's value is replaced too, as
        -- flagd replaces it anywhere in the document; variants nested too
        -- deep to walk for it (rules stop at 256 levels) are left as written
        vr := f -> 'variants';
        IF evaluators IS NOT NULL AND strpos(vr::text, '"$ref"') > 0 THEN
            BEGIN
                vr := ff._flagd_resolve_refs(vr, evaluators, fl.key, fpath || '.variants');
            EXCEPTION WHEN invalid_parameter_value OR statement_too_complex THEN
                vr := f -> 'variants';
            END;
        END IF;
        -- appended in place (a jsonb array would be copied for every flag)
        parsed := array_append(parsed, jsonb_build_object(
            'key', fl.key, 'state', f -> 'state', 'variants', vr,
            'defaultVariant', dv, 'targeting', tg, 'metadata', md));
    END LOOP;

    -- the history's writer lock first (1.20), so that the types read next
    -- are not changed by a concurrent writer before this one writes
    UPDATE ff.flags AS t SET key = t.key WHERE false;
    -- the types of the flags the document changes (1.11: a document whose
    -- variants have another type changes the flag's type, as flagd loads
    -- it, with a WARNING instead of silently)
    SELECT jsonb_object_agg(t.key, t.flag_type) INTO old_types
      FROM ff.flags AS t WHERE t.environment = env AND flags ? t.key;

    -- write: unchanged flags are left alone (no new version, no history)
    FOREACH f IN ARRAY parsed LOOP
        tg := f -> 'targeting';
        IF tg = 'null'::jsonb OR tg = '{}'::jsonb THEN
            tg := NULL;
        END IF;
        new_type := NULL;
        INSERT INTO ff.flags AS t (environment, key, state, variants, default_variant, targeting, metadata)
        VALUES (env, f ->> 'key', f ->> 'state', f -> 'variants', f ->> 'defaultVariant', tg, f -> 'metadata')
        ON CONFLICT (environment, key) DO UPDATE
           SET state = EXCLUDED.state, variants = EXCLUDED.variants,
               flag_type = CASE WHEN t.variants = EXCLUDED.variants THEN t.flag_type END,
               default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
               metadata = EXCLUDED.metadata
         -- compared as text (1.20): jsonb equality takes 10 and 10.0 for
         -- one value, and a document that only respells a number was
         -- skipped, so the flag kept the old spelling
         WHERE (t.state, t.variants::text, t.default_variant, t.targeting::text, t.metadata::text)
               IS DISTINCT FROM
               (EXCLUDED.state, EXCLUDED.variants::text, EXCLUDED.default_variant, EXCLUDED.targeting::text,
                EXCLUDED.metadata::text)
        RETURNING t.flag_type INTO new_type;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
        IF n > 0 AND old_types ? (f ->> 'key') AND new_type IS DISTINCT FROM (old_types ->> (f ->> 'key')) THEN
            RAISE WARNING 'flag "%" in environment "%" changes type from % to %',
                f ->> 'key', env, old_types ->> (f ->> 'key'), new_type
                USING DETAIL = pg_catalog.format('The document''s variants are of type %s; applications that read the flag as %s get their default, with error code TYPE_MISMATCH.',
                                                 new_type, old_types ->> (f ->> 'key')),
                      HINT = 'flagd loads a document so; if the change is a mistake, import the flag with variants of the old type.';
        END IF;
    END LOOP;

    IF replace THEN
        DELETE FROM ff.flags AS t WHERE t.environment = env AND NOT flags ? t.key;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END IF;

    IF set_md IS NOT NULL THEN
        UPDATE ff.environments AS e SET metadata = set_md
         WHERE e.name = env AND e.metadata IS DISTINCT FROM set_md;
    END IF;
    RETURN written;
END;
$$;
COMMENT ON FUNCTION ff.import_flagd(jsonb, text, boolean) IS
'Loads a flagd flag-definition document into an environment atomically ($ref resolved, metadata = flag-set metadata); replace => true deletes the environment''s flags absent from the document; returns the number of flags created, changed or deleted';
