\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.25'" to load this file. \quit
-- feature_flags 1.24 -> 1.25
--
-- 1.25 changes no table.  It fixes what reviews of flagd import and
-- export, of the evaluation results and of the administration API's errors
-- found:
--   * ff.export_flagd leaves a segment out of $evaluators (the flags that
--     use it get their segments inline) when flagd's text substitution of
--     evaluators would change it: a name with a "." (a regular expression
--     in flagd: "beta.1" also replaced {"$ref": "beta-1"}) or logic with a
--     "$" or a "\" (flagd Go expands $name in the replacement:
--     "$flagd.timestamp" became ".timestamp"); a {"$ref": name} in a flag's
--     or the environment's metadata keeps the segment of that name out of
--     $evaluators too, as one in targeting or variants did.  Targeting
--     keys with a "$", a "\" or what JSON writes with one (a quote, a
--     control character) are tested in the flags, in front of the
--     {"$ref"}, and left out of the entry (new internal
--     ff._flagd_unsafe_key_pattern, ff._segment_key_tests,
--     ff._flagd_is_string; ff._segment_as_jsonlogic takes three more
--     arguments, flagd_safe_keys, lists and rule, and
--     ff._flagd_inline_segments one, wrappers).  A
--     segment whose rule has such text keeps its lists in its entry, which
--     ends in null, and its rule goes to the flags; one with a "." in its
--     name is written inline.
--   * ff.rollback_flag and ff.rollback_segment refuse an empty environment
--     name (1.24 took it for "not given" and wrote in the default
--     environment); the no-default HINT is the one of the other functions.
--   * Not-found errors of a flag, segment or environment whose history
--     ends with a DELETE say when and by whom it was deleted and which
--     rollback restores it (new internal ff._deleted_note); the delete
--     functions no longer suggest creating what they did not find
--     (ff._flag_not_found and ff._segment_not_found take a third argument,
--     deleting).
--     The rollbacks come after those of the segments the rule used that
--     were deleted too (transitively, most deeply used first); a function
--     or a write naming a deleted environment says so, with the rollback
--     (new internal ff._environment_not_found_note).
--   * ff.apply_draft names the environment in its invalid-key error.
--   * Values in error messages are shown as names are (whole up to 200
--     characters, else the first 64 and "..."): a default variant, a
--     rollout variant, a state, a flag type, a variant name or metadata key
--     in a path (ff._json_path_member), an imported state, a privilege
--     level, an experiment's control variant were repeated whole (1 MB in
--     the message for a 1 MB value).  ff.privilege_recipe refuses an empty
--     grantee (it wrote GRANT ... TO "").
--   * ff.comment_change is in C and warns when called outside a
--     transaction block, where its comment reaches only the changes of the
--     same statement (alone in psql's autocommit: none).
--   * A HINT listing the environments says when there are none (new
--     internal ff._existing_environments); the comments of
--     ff.delete_environment and ff.unprotect_environment say what they
--     refuse.
SET LOCAL search_path = pg_catalog, pg_temp;

DROP FUNCTION ff._flag_not_found(text, text);
DROP FUNCTION ff._segment_not_found(text, text);
DROP FUNCTION ff._segment_as_jsonlogic(text, text, jsonb);
DROP FUNCTION ff._flagd_inline_segments(jsonb, text, text[]);

CREATE OR REPLACE FUNCTION ff._deleted_note(entity text, environment text, key text,
                                 OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v           ff.versions;
    first       text;
BEGIN
    IF key IS NULL OR environment IS NULL
       OR NOT pg_catalog.has_table_privilege('ff.versions', 'SELECT') THEN
        RETURN;
    END IF;
    SELECT * INTO v FROM ff.versions AS x
     WHERE x.entity = _deleted_note.entity AND x.environment = _deleted_note.environment
       AND x.entity_key = _deleted_note.key
     ORDER BY x.version DESC LIMIT 1;
    IF NOT FOUND OR v.operation <> 'DELETE' THEN
        RETURN;
    END IF;
    detail := pg_catalog.format('%s "%s" was deleted at version %s by %s.',
                                pg_catalog.initcap(entity), ff._name_in_message(key), v.version,
                                v.changed_by);
    IF entity = 'environment' THEN
        hint := pg_catalog.format('SELECT ff.rollback_environment(%L, %s); restores it with its flags and segments.',
                                  key, v.change_set - 1);
        RETURN;
    END IF;
    -- every segment the rule uses, directly or through segments deleted
    -- too, that is gone: its last version a DELETE and no such segment now;
    -- from the deleted object itself (depth 0), the most deeply used first
    WITH RECURSIVE gone(name, change_set, rule, depth, path) AS (
        SELECT key, v.change_set, v.before -> CASE entity WHEN 'flag' THEN 'targeting' ELSE 'rule' END,
               0, ARRAY[key]
        UNION ALL
        SELECT d.entity_key, d.change_set, d.before -> 'rule', g.depth + 1, g.path || d.entity_key
          FROM gone AS g
         CROSS JOIN LATERAL (SELECT DISTINCT COALESCE(a ->> 0, a #>> '{}') AS name
                               FROM pg_catalog.jsonb_path_query(g.rule, 'lax $.**.in_segment') AS a) AS u
          JOIN LATERAL (SELECT x.entity_key, x.change_set, x.before, x.operation
                          FROM ff.versions AS x
                         WHERE x.entity = 'segment' AND x.environment = _deleted_note.environment
                           AND x.entity_key = u.name
                         ORDER BY x.version DESC LIMIT 1) AS d ON d.operation = 'DELETE'
         WHERE NOT u.name = ANY (g.path) AND g.depth < 100
           AND NOT EXISTS (SELECT 1 FROM ff.segments AS s
                            WHERE s.environment = _deleted_note.environment AND s.name = u.name)
    )
    SELECT pg_catalog.string_agg(pg_catalog.format('SELECT ff.rollback_segment(%L, %s, environment => %L); ',
                                                   o.name, o.change_set - 1, environment), '' ORDER BY o.depth DESC, o.name)
      INTO first
      FROM (SELECT g.name, pg_catalog.min(g.change_set) AS change_set, pg_catalog.max(g.depth) AS depth
              FROM gone AS g WHERE g.depth > 0 GROUP BY g.name) AS o;
    hint := COALESCE(first, '')
            || pg_catalog.format('SELECT ff.rollback_%s(%L, %s, environment => %L); restores it with its history%s.',
                                 entity, key, v.change_set - 1, environment,
                                 CASE WHEN first IS NOT NULL THEN ', after the segments it uses' ELSE '' END);
END;
$$;

COMMENT ON FUNCTION ff._deleted_note(text, text, text) IS
'Internal: for a flag, segment or environment whose history ends with a DELETE, a not-found DETAIL (when and by whom) and a HINT (the rollbacks that restore it); NULLs otherwise';

CREATE OR REPLACE FUNCTION ff._flag_not_found(key text, environment text, deleting boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    elsewhere   text;
    gone        record;
    hint        text;
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'flag key must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass the key of a flag of environment "%s"; ff.flags lists them.', environment);
    END IF;
    SELECT string_agg(format('"%s"', f.environment), ', ' ORDER BY f.environment) INTO elsewhere
      FROM ff.flags AS f WHERE f.key = _flag_not_found.key;
    IF elsewhere IS NULL THEN
        gone := ff._deleted_note('flag', environment, key);
        hint := ff._perhaps_you_meant(key, ARRAY(SELECT f.key FROM ff.flags AS f
                                                  WHERE f.environment = _flag_not_found.environment))
             || CASE WHEN deleting AND key ~ ff._name_pattern() THEN format('ff.flags lists the flags of environment "%s".', environment)
                     WHEN gone.hint IS NOT NULL THEN gone.hint
                     ELSE ff._create_hint('flag', key, environment) END;
        IF gone.detail IS NULL THEN
            RAISE EXCEPTION 'flag "%" does not exist in environment "%"', ff._name_in_message(key), environment
                USING ERRCODE = 'undefined_object', HINT = hint;
        END IF;
        RAISE EXCEPTION 'flag "%" does not exist in environment "%"', ff._name_in_message(key), environment
            USING ERRCODE = 'undefined_object', DETAIL = gone.detail, HINT = hint;
    END IF;
    -- (1.17) the HINT names an environment that has the flag and the call
    -- that copies it (it said "Pass environment => 'name'", which
    -- ff.copy_flag has no argument for)
    RAISE EXCEPTION 'flag "%" does not exist in environment "%"', key, environment
        USING ERRCODE = 'undefined_object',
              DETAIL = format('The flag exists in environment %s.', elsewhere),
              HINT = CASE WHEN deleting THEN 'Name the environment that has it.'
                          ELSE format('Name the environment that has it, or copy it here with SELECT ff.copy_flag(%L, %L, %L);',
                                      key, (SELECT min(f.environment) FROM ff.flags AS f WHERE f.key = _flag_not_found.key),
                                      environment) END;
END;
$$;

COMMENT ON FUNCTION ff._flag_not_found(text, text, boolean) IS
'Internal: raises undefined_object for a flag key missing from an environment, naming where it does exist, or when it was deleted';

CREATE OR REPLACE FUNCTION ff._segment_not_found(segment text, environment text, deleting boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone        record;
    hint        text;
BEGIN
    IF segment IS NULL THEN
        RAISE EXCEPTION 'segment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass the name of a segment of environment "%s"; ff.segments lists them.', environment);
    END IF;
    gone := ff._deleted_note('segment', environment, segment);
    hint := ff._perhaps_you_meant(segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                  WHERE g.environment = _segment_not_found.environment))
         || CASE WHEN deleting AND segment ~ ff._name_pattern() THEN format('ff.segments lists the segments of environment "%s".', environment)
                 WHEN gone.hint IS NOT NULL THEN gone.hint
                 ELSE ff._create_hint('segment', segment, environment) END;
    IF gone.detail IS NULL THEN
        RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(segment), environment
            USING ERRCODE = 'undefined_object', HINT = hint;
    END IF;
    RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(segment), environment
        USING ERRCODE = 'undefined_object', DETAIL = gone.detail, HINT = hint;
END;
$$;

COMMENT ON FUNCTION ff._segment_not_found(text, text, boolean) IS
'Internal: raises undefined_object for a segment missing from an environment, or when it was deleted';

CREATE OR REPLACE FUNCTION ff.delete_environment(name text, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := delete_environment.name;
    seg         text;
    n           integer;
BEGIN
    IF env IS NULL THEN
        -- not the default environment: a NULL here is a caller's mistake
        RAISE EXCEPTION 'environment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to delete; ff.environments lists them.';
    END IF;
    -- (1.23) the writer lock before the environment's flags and segments are
    -- read: with force, a flag created meanwhile is deleted too (1.22 failed
    -- with "still has 1 flag(s)").  A DELETE of no row, not
    -- ff._history_lock_writer: the privilege this function needs anyway.
    DELETE FROM ff.environments AS t WHERE false;
    IF NOT EXISTS (SELECT 1 FROM ff.environments WHERE name = env) THEN
        -- (1.25) not ff._resolve_environment's error, whose HINT said how to
        -- create it
        DECLARE
            detail  text := (ff._deleted_note('environment', env, env)).detail;
            hint    text := ff._perhaps_you_meant(env, ARRAY(SELECT e.name FROM ff.environments AS e))
                            || 'ff.environments lists the environments.';
        BEGIN
            IF detail IS NULL THEN
                RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                    USING ERRCODE = 'undefined_object', HINT = hint;
            END IF;
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object', DETAIL = detail, HINT = hint;
        END;
    END IF;
    IF (SELECT is_default FROM ff.environments WHERE name = env) THEN
        DELETE FROM ff.environments WHERE name = env;  -- the trigger explains why not
    END IF;
    IF force THEN
        DELETE FROM ff.flags WHERE environment = env;
        -- delete segments that no remaining segment references, until none is left
        LOOP
            n := 0;
            FOR seg IN SELECT s.name FROM ff.segments AS s WHERE s.environment = env ORDER BY s.name LOOP
                IF NOT EXISTS (SELECT 1 FROM ff.segments AS o
                                WHERE o.environment = env AND o.name <> seg
                                  AND seg = ANY (ff._segment_refs(env, o.name))) THEN
                    DELETE FROM ff.segments WHERE environment = env AND name = seg;
                    n := n + 1;
                END IF;
            END LOOP;
            EXIT WHEN n = 0;
        END LOOP;
    END IF;
    DELETE FROM ff.environments WHERE name = env;
END;
$$;

COMMENT ON FUNCTION ff.delete_environment(text, boolean) IS
'Deletes an environment; refuses the default one and a protected one, and one with flags or segments unless force => true deletes them too';

CREATE OR REPLACE FUNCTION ff.delete_flag(key text, environment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(delete_flag.environment);
BEGIN
    DELETE FROM ff.flags AS f WHERE f.environment = env AND f.key = delete_flag.key;
    IF NOT FOUND THEN
        PERFORM ff._flag_not_found(delete_flag.key, env, deleting => true);
    END IF;
END;
$$;

COMMENT ON FUNCTION ff.delete_flag(text, text) IS
'Deletes a flag from an environment (the history keeps its past versions)';

CREATE OR REPLACE FUNCTION ff.delete_segment(name text, environment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(delete_segment.environment);
BEGIN
    DELETE FROM ff.segments AS s WHERE s.environment = env AND s.name = delete_segment.name;
    IF NOT FOUND THEN
        PERFORM ff._segment_not_found(delete_segment.name, env, deleting => true);
    END IF;
END;
$$;

COMMENT ON FUNCTION ff.delete_segment(text, text) IS
'Deletes a segment with its key lists; refused while a flag or another segment references it';

CREATE OR REPLACE FUNCTION ff.apply_draft(flag_key text, draft jsonb, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'error'
SET check_function_bodies = on
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(apply_draft.environment);
    old         ff.flags;
    merged      ff.flags;
    result      ff.flags;
    stored      boolean;
BEGIN
    IF flag_key IS NULL OR draft IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN flag_key IS NULL THEN 'flag key' ELSE 'draft' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a flag key and a flagd flag object, for example SELECT ff.apply_draft(''checkout'', ''{"state": "DISABLED"}'');';
    END IF;
    PERFORM ff._check_name('flag key', flag_key, format(' in environment "%s"', env));
    -- (1.19) the history's writer lock before the flag's row lock, the
    -- order every writer takes them in: a statement that changes no row
    -- still fires ff_01_writer_lock.  1.18 locked the row first, and
    -- deadlocked with a writer that held the writer lock and then wrote
    -- the same flag (the scheduled-change runner calls this function).
    -- (1.23) Before the draft is checked over the stored flag: a flag
    -- deleted while this call waited is then not found, with the check's
    -- own error (1.22 checked first and then failed on the deleted row's
    -- NULL variants).
    PERFORM ff._history_lock_writer('flag');
    -- the checks of ff.evaluate_draft: an object of known members that
    -- compiles over the stored flag, with segments the environment has
    PERFORM ff.evaluate_draft(flag_key, '{}'::jsonb, draft, NULL::jsonb, env);
    -- the stored flag (if any) with the draft's members over it; JSON null
    -- removes the default variant or the targeting (the validation trigger
    -- stores {} as none too), and null metadata is {}
    SELECT * INTO old FROM ff.flags AS f WHERE f.environment = env AND f.key = flag_key FOR UPDATE;
    stored := FOUND;
    merged := old;
    IF draft ? 'state' THEN
        merged.state := draft ->> 'state';
    END IF;
    IF draft ? 'variants' THEN
        merged.variants := draft -> 'variants';
    END IF;
    IF draft ? 'defaultVariant' THEN
        merged.default_variant := draft ->> 'defaultVariant';
    END IF;
    IF draft ? 'targeting' THEN
        merged.targeting := NULLIF(draft -> 'targeting', 'null');
    END IF;
    IF draft ? 'metadata' THEN
        merged.metadata := COALESCE(NULLIF(draft -> 'metadata', 'null'), '{}');
    END IF;

    IF NOT stored THEN
        INSERT INTO ff.flags AS t (environment, key, state, variants, default_variant, targeting, metadata)
        VALUES (env, flag_key, COALESCE(merged.state, 'ENABLED'), merged.variants, merged.default_variant,
                merged.targeting, COALESCE(merged.metadata, '{}'))
        RETURNING * INTO result;
        RETURN result;
    END IF;
    IF (merged.state, merged.variants, merged.default_variant, merged.targeting, merged.metadata)
       IS NOT DISTINCT FROM (old.state, old.variants, old.default_variant, old.targeting, old.metadata) THEN
        RETURN old;
    END IF;
    UPDATE ff.flags AS t
       SET state = merged.state,
           variants = merged.variants,
           -- variants of another type change the flag's type: derived again
           flag_type = CASE WHEN merged.variants IS DISTINCT FROM old.variants THEN NULL ELSE t.flag_type END,
           default_variant = merged.default_variant,
           targeting = merged.targeting,
           metadata = merged.metadata
     WHERE t.environment = env AND t.key = flag_key
    RETURNING * INTO result;
    IF result.flag_type IS DISTINCT FROM old.flag_type THEN
        RAISE WARNING 'flag "%" in environment "%" changes type from % to %', flag_key, env, old.flag_type, result.flag_type
            USING DETAIL = pg_catalog.format('The draft''s variants are of type %s; applications that read the flag as %s get their default, with error code TYPE_MISMATCH.',
                                             result.flag_type, old.flag_type),
                  HINT = 'If the change is a mistake, apply a draft with variants of the old type.';
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.apply_draft(text, jsonb, text) IS
'Saves a draft of a flag (a flagd flag object: members given replace the stored flag''s, a missing flag is created); the write counterpart of ff.evaluate_draft; returns the flag''s row';

CREATE OR REPLACE FUNCTION ff._history_environment(environment text)
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

CREATE OR REPLACE FUNCTION ff._history_rollback_entity(entity text, key text, to_version bigint, environment text)
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
    unsafe      text[];
    split       text[] := '{}';
    fresh       text[];
    wrappers    jsonb;
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
    -- (1.20: in variants too, which flagd also resolves; 1.25: and in the
    -- flags' and the environment's metadata, whose text flagd substitutes
    -- as well)
    dangling := ARRAY(SELECT DISTINCT r #>> '{}'
                        FROM ff.flags AS f,
                             jsonb_path_query(jsonb_build_array(f.targeting, f.variants, f.metadata), 'lax $.**."$ref"') AS r
                       WHERE f.environment = env AND jsonb_typeof(r) = 'string'
                      UNION
                      SELECT r #>> '{}'
                        FROM ff.environments AS e,
                             jsonb_path_query(e.metadata, 'lax $.**."$ref"') AS r
                       WHERE e.name = env AND jsonb_typeof(r) = 'string');
    -- (1.25) flagd puts $evaluators into the document by text substitution:
    -- each entry's name is a regular expression there ("beta.1" also
    -- replaces {"$ref": "beta-1"}), and its logic a replacement text, in
    -- which flagd Go expands $name ("$flagd.timestamp" became ".timestamp")
    -- and flagd Java also \.  The keys of a segment that such text would
    -- hold (ff._flagd_unsafe_key_pattern) are tested in the flags, in front
    -- of the {"$ref"} (wrappers, ff._flagd_inline_segments), and its entry
    -- has the others.  A segment whose entry still has a "$" or a "\" (its
    -- rule, or a segment it references) keeps its lists in its entry, which
    -- ends in null, and its rule goes to the flags (split; the lists can be
    -- large, the rule is not).  A segment whose name has a "." (a regular expression in
    -- flagd), or whose rule is all it has, is not emitted as an evaluator:
    -- the flags that use it get their segments inline, as for a dangling
    -- name.  Both are found from the evaluators of a first pass.
    SELECT jsonb_object_agg(u.segment, jsonb_build_object('tests',
               ff._segment_key_tests('{"var": "targetingKey"}', u.exc, u.inc)))
      INTO wrappers
      FROM (SELECT k.segment,
                   jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE k.excluded) AS exc,
                   jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE NOT k.excluded) AS inc
              FROM ff.segment_keys AS k
             WHERE k.environment = env AND k.targeting_key ~ ff._flagd_unsafe_key_pattern()
             GROUP BY k.segment) AS u;
    <<passes>>
    LOOP
        refs := '{}';
        keys := '{}';
        objs := '{}';
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
                sub := ff._flagd_inline_segments(fl.targeting, env, refs, wrappers);
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
        -- (1.20) json_object_agg, cast once: jsonb_object_agg takes time
        -- quadratic in the size of a large value, and a 1,000,000-key segment's
        -- logic made the export take 75 s
        SELECT COALESCE(json_object_agg(k, o)::jsonb, '{}') INTO flags FROM unnest(keys, objs) AS u(k, o);
        SELECT json_object_agg(r.name, ff._segment_as_jsonlogic(env, r.name, '{"var": "targetingKey"}',
                                                                 flagd_safe_keys => true,
                                                                 rule => NOT r.name = ANY (split)))::jsonb
          INTO evaluators FROM unnest(refs) AS r(name);
        unsafe := ARRAY(SELECT e.key FROM jsonb_each(evaluators) AS e
                         WHERE strpos(e.key, '.') > 0 OR e.value::text ~ '[$\\]');
        EXIT passes WHEN unsafe = '{}';
        -- split: an unsafe rule, a name without "." and keys for the entry
        -- (once: a split entry found unsafe again goes inline)
        fresh := ARRAY(
            SELECT u.name FROM unnest(unsafe) AS u(name)
             WHERE strpos(u.name, '.') = 0 AND NOT u.name = ANY (split)
               AND EXISTS (SELECT 1 FROM ff.segment_keys AS k
                            WHERE k.environment = env AND k.segment = u.name
                              AND k.targeting_key !~ ff._flagd_unsafe_key_pattern()));
        dangling := dangling || ARRAY(SELECT u.name FROM unnest(unsafe) AS u(name) WHERE NOT u.name = ANY (fresh));
        split := split || fresh;
        wrappers := COALESCE(wrappers, '{}') || COALESCE((
            SELECT jsonb_object_agg(u.name, COALESCE(wrappers -> u.name, '{}')
                       || jsonb_build_object('rule', ff._segment_as_jsonlogic(env, u.name, '{"var": "targetingKey"}',
                                                                              lists => false)))
              FROM unnest(fresh) AS u(name)), '{}');
    END LOOP;
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

CREATE OR REPLACE FUNCTION ff._json_path_member(path text, member text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN member ~ '^[A-Za-z_$][A-Za-z0-9_$]*$' THEN path || '.' || ff._name_in_message(member)
    -- (1.25) a long member as ff._name_in_message shows a name: a message
    -- repeated a 1 MB variant name whole
    ELSE path || '.' || pg_catalog.to_jsonb(ff._name_in_message(member))::text
END;

COMMENT ON FUNCTION ff._json_path_member(text, text) IS
'Internal: appends a member name to a JSON path for error messages ($.variants."dark mode")';

CREATE OR REPLACE FUNCTION ff._validate_flag_general()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing     record;
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
            missing := ff._environment_not_found_note(NEW.environment);
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(NEW.environment)
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Flag "%s" cannot be stored in a missing environment.', ff._name_in_message(NEW.key))
                          || COALESCE(' ' || missing.detail, ''),
                      HINT = missing.hint;
        END IF;
        PERFORM ff._check_name('flag key', NEW.key, format(' in environment "%s"', NEW.environment));
    END IF;

    IF NEW.state IS NULL THEN
        RAISE EXCEPTION 'the state of % must not be NULL', label
            USING ERRCODE = 'not_null_violation',
                  HINT = 'The state is ''ENABLED'' or ''DISABLED'' (upper case); ff.enable_flag() and ff.disable_flag() set it.';
    END IF;
    IF NEW.state NOT IN ('ENABLED', 'DISABLED') THEN
        RAISE EXCEPTION 'invalid state "%" for %', ff._name_in_message(NEW.state), label
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
            RAISE EXCEPTION 'invalid flag_type "%" for %', ff._name_in_message(NEW.flag_type), label
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
        RAISE EXCEPTION 'default variant "%" of % is not one of its variants', ff._name_in_message(NEW.default_variant), label
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
                    err_msg := format('targeting for %s can return %s, which is not a variant', label, ff._name_in_message(res::text));
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

CREATE OR REPLACE FUNCTION ff._rollout_rule(key text, percentage numeric, env text,
                                 variant text, otherwise text, bucket_by text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    flag        ff.flags := ff._flag_row(_rollout_rule.key, env);
    v_on        text;
    v_off       text;
    w_on        bigint;
    w_off       bigint;
    rule        jsonb;
BEGIN
    IF percentage IS NULL THEN
        RAISE EXCEPTION 'rollout percentage of flag "%" in environment "%" must not be NULL', _rollout_rule.key, env
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'The percentage is a number from 0 to 100, with at most two decimals (e.g. 12.5).';
    END IF;
    IF percentage < 0 OR percentage > 100 THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"',
            percentage, _rollout_rule.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The percentage is a number from 0 to 100, with at most two decimals (e.g. 12.5).';
    END IF;
    IF percentage * 100 <> trunc(percentage * 100) THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"', percentage, _rollout_rule.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'fractional weights are integers, so percentages have at most two decimals.',
                  HINT = 'Round the percentage to two decimals.';
    END IF;

    v_on := COALESCE(_rollout_rule.variant, ff._pick_variant(flag.variants, ARRAY['on', 'true'], NULL));
    IF v_on IS NULL OR NOT flag.variants ? v_on THEN
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', _rollout_rule.key, env,
            CASE WHEN v_on IS NULL THEN 'it has no variant "on" or "true"'
                 ELSE format('"%s" is not one of its variants', ff._name_in_message(v_on)) END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the variant to roll out, e.g. variant => %L. Variants: %s.',
                      (SELECT k FROM jsonb_object_keys(flag.variants) AS k ORDER BY k LIMIT 1),
                      (SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) FROM jsonb_object_keys(flag.variants) AS k));
    END IF;
    v_off := COALESCE(otherwise, ff._pick_variant(flag.variants, ARRAY[flag.default_variant, 'off', 'false'], v_on));
    IF v_off IS NULL AND (SELECT count(*) FROM jsonb_object_keys(flag.variants)) = 2 THEN
        -- a two-variant flag: the other one
        SELECT k INTO v_off FROM jsonb_object_keys(flag.variants) AS k WHERE k <> v_on;
    END IF;
    IF v_off IS NULL OR NOT flag.variants ? v_off OR v_off = v_on THEN
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', _rollout_rule.key, env,
            CASE WHEN v_off IS NULL THEN format('no variant to serve outside the rollout of "%s"', ff._name_in_message(v_on))
                 WHEN v_off = v_on THEN format('"otherwise" and "variant" are both "%s"', ff._name_in_message(v_on))
                 ELSE format('"%s" is not one of its variants', ff._name_in_message(v_off)) END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the variant served to everyone else with otherwise => ''...''. Variants: %s.',
                      (SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) FROM jsonb_object_keys(flag.variants) AS k));
    END IF;

    IF percentage = 100 OR percentage = 0 THEN
        -- everyone, including contexts without a targeting key
        rule := jsonb_build_object('if', jsonb_build_array(true, CASE WHEN percentage = 100 THEN v_on ELSE v_off END));
    ELSE
        IF percentage = trunc(percentage) THEN
            w_on := percentage;
            w_off := 100 - percentage;
        ELSE
            w_on := percentage * 100;
            w_off := 10000 - percentage * 100;
        END IF;
        rule := jsonb_build_array(jsonb_build_array(v_on, w_on), jsonb_build_array(v_off, w_off));
        IF bucket_by = '' THEN
            -- {"var": ""} is the whole context: every user would get one bucket
            RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": bucket_by is empty', _rollout_rule.key, env
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'An empty attribute name reads the whole context, which puts every user in the same bucket.',
                      HINT = 'Name the context attribute to bucket by, e.g. bucket_by => ''email'', or omit it to use targetingKey.';
        END IF;
        IF bucket_by IS NOT NULL THEN
            rule := jsonb_build_array(jsonb_build_object('cat', jsonb_build_array(
                        jsonb_build_object('var', '$flagd.flagKey'), jsonb_build_object('var', bucket_by)))) || rule;
        END IF;
        rule := jsonb_build_object('fractional', rule);
        IF bucket_by IS NOT NULL THEN
            -- a context without the attribute (missing, null or "") gets the
            -- default variant, like one without a targetingKey in the
            -- shorthand: all of them would otherwise share one bucket
            rule := jsonb_build_object('if', jsonb_build_array(
                        jsonb_build_object('missing', jsonb_build_array(bucket_by)), NULL::jsonb, rule));
        END IF;
    END IF;
    RETURN rule;
END;
$$;

COMMENT ON FUNCTION ff._rollout_rule(text, numeric, text, text, text, text) IS
'Internal: the targeting of a percentage rollout of a flag (what ff.set_rollout writes)';

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
            RAISE EXCEPTION 'invalid flagd document: flag "%" has state %', ff._name_in_message(fl.key), ff._name_in_message((f -> 'state')::text)
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
    PERFORM ff._history_lock_writer('flag');
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
        RAISE EXCEPTION 'grantee must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the role, for example SELECT * FROM ff.privilege_recipe(''editor'', ''app_editor'');';
    END IF;
    IF grantee = '' THEN
        -- (1.25) it gave GRANT ... TO "", which cannot run
        RAISE EXCEPTION 'grantee must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the role, for example SELECT * FROM ff.privilege_recipe(''editor'', ''app_editor'');';
    END IF;
    IF grantee = 'public' THEN
        -- GRANT ... TO public (quoted or not) grants to every role (1.20)
        RAISE EXCEPTION 'grantee "public" means every role'
            USING ERRCODE = 'reserved_name',
                  DETAIL = 'GRANT ... TO public, quoted or not, gives the privileges to PUBLIC, every role.',
                  HINT = 'Name a role. PUBLIC already has what the README''s "What PUBLIC may do" lists.';
    END IF;
    IF level IS NULL OR revoke IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN level IS NULL THEN 'level' ELSE 'revoke' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'The levels are ''reader'', ''editor'' and ''admin''; revoke is true or false.';
    END IF;
    levels := CASE level
        WHEN 'reader' THEN ARRAY['reader']
        WHEN 'editor' THEN ARRAY['reader', 'editor']
        WHEN 'admin' THEN ARRAY['reader', 'editor', 'admin']
    END;
    IF levels IS NULL THEN
        RAISE EXCEPTION 'unknown privilege level "%"', ff._name_in_message(level)
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
            -- and every sequence, so that pg_dump can read their values (1.20)
            SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.relname) INTO readable
              FROM pg_class AS c
             WHERE c.relnamespace = 'ff'::regnamespace AND c.relkind = 'S';
            IF readable IS NOT NULL THEN
                RETURN NEXT format('%s SELECT ON SEQUENCE %s %s %s', verb, readable, dir, who);
            END IF;
            RETURN NEXT format('%s INSERT, UPDATE, DELETE ON ff.flags, ff.segments, ff.segment_keys %s %s',
                               verb, dir, who);
            RETURN NEXT format('%s UPDATE (metadata, description) ON ff.environments %s %s', verb, dir, who);
            -- schedule (INSERT of the columns a change is made of: not its
            -- id, creator or status) and cancel (the status) changes (1.14)
            RETURN NEXT format('%s INSERT (environment, flag_key, draft, run_at, comment), UPDATE (status) ON ff.scheduled_changes %s %s',
                               verb, dir, who);
        ELSIF lvl = 'admin' THEN
            -- UPDATE on the whole table, hence on "protected": an ff administrator
            RETURN NEXT format('%s INSERT, UPDATE, DELETE ON ff.environments %s %s', verb, dir, who);
            -- approval rules (1.16; their guard checks the administrator too)
            RETURN NEXT format('%s INSERT, UPDATE, DELETE ON ff.approval_rules %s %s', verb, dir, who);
        END IF;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION ff.privilege_recipe(text, name, boolean) IS
'The GRANT (revoke => true: REVOKE) statements of a privilege level (reader, editor, admin; cumulative) for a grantee';

CREATE OR REPLACE FUNCTION ff._experiment_results(query text, control text, expected_split jsonb,
                                       confidence double precision, caller_search_path text)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    q           text;
    types       regtype[];
    sql         text;
    a           record;
    seen        text;
    m           double precision[];
    totals      double precision[];
    means       double precision[];
    variances   double precision[];
    x_means     double precision[];
    x_variances double precision[];
    covariances double precision[];
    example     constant text := 'For example SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id::text), ''off''), u.converted FROM users AS u';
BEGIN
    IF query IS NULL OR control IS NULL OR confidence IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN query IS NULL THEN 'query' WHEN control IS NULL THEN 'control' ELSE 'confidence' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT * FROM ff.experiment_results($q$SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id::text), ''off''), u.converted FROM users AS u$q$, control => ''off'');';
    END IF;
    -- (an interval of a confidence closer to 1 than a double tells apart
    -- from it has no quantile)
    IF NOT (confidence > 0 AND (1 + confidence) / 2 < 1) THEN
        RAISE EXCEPTION 'confidence % is not between 0 and 1 (exclusive)', confidence
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example 0.95 for 95 % intervals.';
    END IF;
    IF expected_split IS NOT NULL AND (
           jsonb_typeof(expected_split) <> 'object'
           OR NOT EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                           WHERE jsonb_typeof(e.value) = 'number' AND e.value::text::numeric > 0)
           OR EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                       WHERE jsonb_typeof(e.value) <> 'number' OR e.value::text::numeric < 0
                          OR e.value::text::numeric > 1e300
                          OR (e.value::text::numeric > 0
                              AND e.value::text::numeric < 1e-12 * (SELECT max(m.value::text::numeric)
                                                                      FROM jsonb_each(expected_split) AS m
                                                                     WHERE jsonb_typeof(m.value) = 'number'))))
    THEN
        RAISE EXCEPTION 'invalid expected_split %',
                        CASE WHEN length(expected_split::text) > 60
                             THEN left(expected_split::text, 57) || '...' ELSE expected_split::text END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must be an object of variant names to weights: numbers from 0 to 1e300, one of them above 0, and each positive one at least a trillionth of the largest.',
                  HINT = 'For example ''{"on": 10, "off": 90}'' for a 10 % rollout; leave it out for an equal split.';
    END IF;

    -- one SELECT, of two or three columns: variant, outcome[, covariate],
    -- parsed with the caller's search_path
    q := ff._single_statement(query);
    PERFORM set_config('search_path', caller_search_path, true);
    BEGIN
        types := ff._query_result_types(q);
    EXCEPTION WHEN undefined_parameter THEN
        RAISE EXCEPTION 'the query of an experiment cannot take parameters'
            USING ERRCODE = 'undefined_parameter',
                  DETAIL = format('%s.', SQLERRM),
                  HINT = 'Write the values into the query, for example with format(''... WHERE o.created_at >= %L'', since).';
    END;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    IF cardinality(types) NOT IN (2, 3) THEN
        RAISE EXCEPTION 'the query of an experiment returns % column%, not 2 or 3', cardinality(types),
                        CASE WHEN cardinality(types) = 1 THEN '' ELSE 's' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The columns are: the variant, the outcome (a boolean or a number) and, optionally, a covariate measured before the experiment (a number, for CUPED).',
                  HINT = example;
    END IF;
    -- the caller's query, on lines of its own (a "--" comment at its end
    -- ends there), in a frame of schema-qualified names run with the
    -- caller's search_path: one GROUP BY, which can run in parallel; units
    -- whose variant is NULL take no part (their group is filtered out
    -- above it: a WHERE on the variant would be pushed down into the
    -- caller's query and evaluate its variant expression twice)
    sql := format($f$
        SELECT pg_catalog.array_agg(s.variant ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS variants,
               pg_catalog.array_agg(s.n ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS units,
               pg_catalog.array_agg(s.m ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS moments,
               pg_catalog.array_agg(s.y_min ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS y_mins,
               pg_catalog.array_agg(s.y_max ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS y_maxs,
               pg_catalog.array_agg(s.x_min ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_mins,
               pg_catalog.array_agg(s.x_max ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_maxs
          FROM (SELECT r.variant, pg_catalog.count(*) AS n, ff._experiment_moments(r.y, r.x) AS m,
                       pg_catalog.min(r.y) AS y_min, pg_catalog.max(r.y) AS y_max,
                       pg_catalog.min(r.x) AS x_min, pg_catalog.max(r.x) AS x_max
                  FROM (SELECT CAST(q.variant AS pg_catalog.text) AS variant, %s AS y, %s AS x
                          FROM (
%s
                               ) AS q (variant, outcome%s)) AS r
                 GROUP BY r.variant) AS s$f$,
        ff._experiment_value_sql('q.outcome', types[2], 'outcome'),
        CASE WHEN cardinality(types) = 3
             THEN ff._experiment_value_sql('q.covariate', types[3], 'covariate') ELSE 'NULL::pg_catalog.float8' END,
        q,
        CASE WHEN cardinality(types) = 3 THEN ', covariate' ELSE '' END);
    PERFORM set_config('search_path', caller_search_path, true);
    EXECUTE sql INTO a;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);

    IF a.variants IS NULL OR NOT control = ANY (a.variants) THEN
        SELECT string_agg(to_jsonb(v)::text, ', ') INTO seen
          FROM (SELECT v FROM unnest(a.variants) AS v LIMIT 20) AS v;
        RAISE EXCEPTION 'the control variant % has no units in the query''s result', to_jsonb(ff._name_in_message(control))
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN seen IS NULL THEN 'The query returned no row with a variant.'
                                ELSE format('The variants in the result are %s%s.', seen,
                                            CASE WHEN cardinality(a.variants) > 20
                                                 THEN format(' and %s more', cardinality(a.variants) - 20) ELSE '' END) END,
                  HINT = 'Name the variant the others are compared with, as the query returns it (control => ''off'').';
    END IF;
    -- a NaN or an infinity makes every figure NaN: refused, not reported
    -- (max() sorts NaN above every number)
    IF EXISTS (SELECT FROM unnest(a.y_mins || a.y_maxs || a.x_mins || a.x_maxs) AS v
                WHERE v = 'NaN'::double precision OR abs(v) = 'Infinity'::double precision) THEN
        RAISE EXCEPTION 'the outcome or covariate of an experiment is NaN or infinite for some units'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave those units out of the query (WHERE outcome <> ''NaN'' AND abs(outcome) < ''Infinity''), or fix the data.';
    END IF;
    -- (1.24) and so are magnitudes whose squares and products leave double
    -- precision (an underflow error, or a variance that underflows to 0
    -- and makes any difference significant)
    SELECT v.what INTO seen
      FROM (SELECT greatest(abs(u.lo), abs(u.hi)) AS m, 'outcome' AS what FROM unnest(a.y_mins, a.y_maxs) AS u (lo, hi)
            UNION ALL
            SELECT greatest(abs(u.lo), abs(u.hi)), 'covariate' FROM unnest(a.x_mins, a.x_maxs) AS u (lo, hi)) AS v
     WHERE v.m > 0 AND NOT v.m BETWEEN 1e-100 AND 1e100
     LIMIT 1;
    IF seen IS NOT NULL THEN
        RAISE EXCEPTION 'the % of an experiment is too small or too large to be analysed in double precision', seen
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The largest value of some variant is outside 1e-100 to 1e100 in size.',
                  HINT = 'Rescale it in the query (for example revenue in thousands, or a rate per million).';
    END IF;

    -- each variant's figures from its shifted sums (ff._experiment_moments:
    -- units, shift, sum, sum of squares, and the same for the covariate,
    -- and the sum of products), here, with the pinned search_path; a
    -- variance of one unit is NULL, as var_samp's.  An outcome that is the
    -- same for every unit (9.99) has sums of 0: its mean is that value and
    -- its variance 0 exactly (1.23's avg() gave two such arms means that
    -- differed in their last digits, a variance of about 1e-30 and p = 0).
    FOR i IN 1 .. cardinality(a.variants) LOOP
        m := ARRAY(SELECT unnest(a.moments[i:i][1:9]));
        totals[i] := m[2] * m[1] + m[3];
        means[i] := m[2] + m[3] / m[1];
        variances[i] := CASE WHEN m[1] > 1 THEN greatest(m[4] - m[3] * m[3] / m[1], 0) / (m[1] - 1) END;
        x_means[i] := CASE WHEN m[5] > 0 THEN m[6] + m[7] / m[5] END;
        x_variances[i] := CASE WHEN m[5] > 1 THEN greatest(m[8] - m[7] * m[7] / m[5], 0) / (m[5] - 1) END;
        covariances[i] := CASE WHEN m[5] > 1 THEN (m[9] - m[3] * m[7] / m[5]) / (m[5] - 1) END;
    END LOOP;

    -- (1.24) one variant: nothing to compare, and a split that went wrong
    -- (every unit got the caller's default) would pass unseen
    IF cardinality(a.variants) = 1 AND expected_split IS NULL THEN
        RAISE WARNING 'the query''s result has only the control variant %: nothing to compare', to_jsonb(control)
            USING DETAIL = format('All %s units are in it.', a.units[1]),
                  HINT = 'If the flag''s variants are not strings, ff.get_string returns its default for every unit (TYPE_MISMATCH); (ff.evaluate(...)).variant names the variant whatever its value''s type. Give expected_split to test the split.';
    END IF;

    -- (1.24) within that range, a variant's outcome and covariate can
    -- still be too far apart in scale (a covariate in 1e-90s with an
    -- outcome in 1e90s): said so, not a bare "value out of range"
    BEGIN
        RETURN QUERY
        SELECT * FROM ff._experiment_statistics(control, a.variants, a.units, totals, means, variances,
                                                x_means, x_variances, covariances,
                                                expected_split, confidence);
    EXCEPTION WHEN numeric_value_out_of_range THEN
        RAISE EXCEPTION 'the figures of an experiment leave the range of double precision'
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('%s.', SQLERRM),
                  HINT = 'Rescale the outcome or the covariate in the query so that both are of a moderate size (for example revenue in thousands, or a rate per million).';
    END;
END;
$$;

COMMENT ON FUNCTION ff._experiment_results(text, text, jsonb, double precision, text) IS
'Internal: the work of ff.experiment_results; the caller''s query is parsed and run with the caller''s search_path';

CREATE OR REPLACE FUNCTION ff.comment_change(comment text)
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_comment_change';

COMMENT ON FUNCTION ff.comment_change(text) IS
    'Sets the comment recorded with the changes that follow in the current transaction (like SET LOCAL ff.change_comment)';

CREATE OR REPLACE FUNCTION ff._existing_environments()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE('Existing environments: '
                    || (SELECT pg_catalog.string_agg(pg_catalog.format('"%s"', e.name), ', ' ORDER BY e.name)
                          FROM ff.environments AS e)
                    || '. ', 'There are no environments. ')
$$;

COMMENT ON FUNCTION ff._existing_environments() IS
'Internal: "Existing environments: ..." for a not-found HINT, or that there are none';

CREATE OR REPLACE FUNCTION ff._resolve_environment(environment text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := environment;
    source      text := 'argument';
    note        record;
    detail      text;
BEGIN
    IF env IS NULL THEN
        env := nullif(current_setting('ff.environment', true), '');
        source := 'setting';
    END IF;
    IF env IS NULL THEN
        SELECT e.name INTO env FROM ff.environments AS e WHERE e.is_default;
        IF env IS NULL THEN
            RAISE EXCEPTION 'no environment given and there is no default environment'
                USING ERRCODE = 'undefined_object',
                      HINT = 'Pass environment => ''name'', SET ff.environment = ''name'', or make one the default with SELECT ff.set_default_environment(''name'');';
        END IF;
        RETURN env;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = env) THEN
        -- (1.25) one that was deleted: when, and the rollback that restores it
        note := ff._environment_not_found_note(env);
        detail := NULLIF(concat_ws(' ', note.detail,
                                   CASE WHEN source = 'setting' THEN 'The name comes from the ff.environment setting.' END), '');
        -- (a RAISE option must not be NULL)
        IF detail IS NULL THEN
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object', HINT = note.hint;
        END IF;
        RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
            USING ERRCODE = 'undefined_object', DETAIL = detail, HINT = note.hint;
    END IF;
    RETURN env;
END;
$$;

COMMENT ON FUNCTION ff._resolve_environment(text) IS
'Internal: the environment to work on: the argument, else the ff.environment setting, else the default environment; ERROR if unknown';

CREATE OR REPLACE FUNCTION ff._flagd_unsafe_key_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '[$\\"[:cntrl:]]';

COMMENT ON FUNCTION ff._flagd_unsafe_key_pattern() IS
'Internal: the regular expression of the targeting keys flagd''s text substitution of $evaluators would change ($, \, ", control characters); ff.export_flagd keeps them out of $evaluators (1.25)';

CREATE OR REPLACE FUNCTION ff._flagd_is_string(key_expression jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN pg_catalog.jsonb_build_object('if', pg_catalog.jsonb_build_array(
           pg_catalog.jsonb_build_object('===', pg_catalog.jsonb_build_array(key_expression, NULL::jsonb)), false,
           pg_catalog.jsonb_build_object('===', pg_catalog.jsonb_build_array(
               pg_catalog.jsonb_build_object('cat', pg_catalog.jsonb_build_array(key_expression)), key_expression))));

COMMENT ON FUNCTION ff._flagd_is_string(jsonb) IS
'Internal: plain JSON Logic true when an expression is a string, for exported segment tests (1.25)';

CREATE OR REPLACE FUNCTION ff._segment_key_tests(key_expression jsonb, excluded jsonb, included jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    is_string   jsonb;
    parts       jsonb := '[]';
BEGIN
    -- like in_segment: the lists match string keys only (e.g. not a missing
    -- targetingKey); the key is a string when {"cat": [key]} is the key
    -- itself, asked only of a key that is not null (1.20: json-logic-engine's
    -- interpreter, which flagd-core uses without code generation, fails on
    -- {"cat": [null]}, and so did every evaluation without a targetingKey;
    -- "===", because its "==" fails on an array or an object)
    is_string := ff._flagd_is_string(key_expression);
    IF COALESCE(excluded, '[]') <> '[]' THEN
        parts := parts || jsonb_build_array(jsonb_build_object('and', jsonb_build_array(
                     is_string, jsonb_build_object('in', jsonb_build_array(key_expression, excluded)))), false);
    END IF;
    IF COALESCE(included, '[]') <> '[]' THEN
        parts := parts || jsonb_build_array(jsonb_build_object('and', jsonb_build_array(
                     is_string, jsonb_build_object('in', jsonb_build_array(key_expression, included)))), true);
    END IF;
    RETURN parts;
END;
$$;

COMMENT ON FUNCTION ff._segment_key_tests(jsonb, jsonb, jsonb) IS
'Internal: the exclude- and include-list branches of a plain JSON Logic segment membership test, used by ff.export_flagd (1.25)';

CREATE OR REPLACE FUNCTION ff._segment_as_jsonlogic(environment text, segment text, key_expression jsonb,
                                         flagd_safe_keys boolean DEFAULT false,
                                         lists boolean DEFAULT true, rule boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    seg         ff.segments;
    inc         jsonb;
    exc         jsonb;
    logic       jsonb;
    parts       jsonb := '[]';
BEGIN
    SELECT * INTO seg FROM ff.segments AS s
     WHERE s.environment = _segment_as_jsonlogic.environment AND s.name = _segment_as_jsonlogic.segment;
    IF NOT FOUND THEN
        PERFORM ff._segment_not_found(segment, _segment_as_jsonlogic.environment);
    END IF;
    IF lists THEN
        SELECT COALESCE(jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE k.excluded), '[]'),
               COALESCE(jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE NOT k.excluded), '[]')
          INTO exc, inc
          FROM ff.segment_keys AS k
         WHERE k.environment = _segment_as_jsonlogic.environment AND k.segment = _segment_as_jsonlogic.segment
           AND NOT (flagd_safe_keys AND k.targeting_key ~ ff._flagd_unsafe_key_pattern());
        parts := ff._segment_key_tests(key_expression, exc, inc);
    END IF;
    IF NOT _segment_as_jsonlogic.rule THEN
        -- the lists alone: undecided (null) for a key on neither
        logic := NULL::jsonb;
    ELSIF seg.rule IS NULL THEN
        -- no rule: not a member, or undecided without a key
        logic := jsonb_build_object('if', jsonb_build_array(ff._flagd_is_string(key_expression), false, NULL::jsonb));
    ELSE
        logic := (ff._flagd_inline_segments(seg.rule, _segment_as_jsonlogic.environment, NULL)).rule;
        -- membership is the truthiness of the rule
        IF NOT (jsonb_typeof(logic) = 'object' AND logic ? '!!') THEN
            logic := jsonb_build_object('!!', jsonb_build_array(logic));
        END IF;
    END IF;
    IF parts = '[]' THEN
        RETURN COALESCE(logic, 'null');
    END IF;
    RETURN jsonb_build_object('if', parts || jsonb_build_array(COALESCE(logic, 'null')));
END;
$$;

COMMENT ON FUNCTION ff._segment_as_jsonlogic(text, text, jsonb, boolean, boolean, boolean) IS
'Internal: plain JSON Logic equivalent of a segment membership test (exclude list, include list, rule), used by ff.export_flagd (1.25: flagd_safe_keys, only the keys flagd''s $evaluators substitution keeps; lists or rule false, the rule or the lists alone)';

CREATE OR REPLACE FUNCTION ff._flagd_inline_segments(node jsonb, environment text, INOUT refs text[],
                                          wrappers jsonb DEFAULT NULL, OUT rule jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    op          text;
    args        jsonb;
    sub         record;
    m           record;
    i           integer;
    result      jsonb;
    parts       jsonb[];
BEGIN
    IF node IS NULL OR jsonb_typeof(node) NOT IN ('object', 'array')
       OR strpos(node::text, '"in_segment"') = 0 THEN
        rule := node;
        RETURN;
    END IF;
    IF jsonb_typeof(node) = 'array' THEN
        -- appended in place, one array at the end (1.11, as in
        -- ff._flagd_resolve_refs)
        parts := '{}';
        FOR i IN 0 .. jsonb_array_length(node) - 1 LOOP
            sub := ff._flagd_inline_segments(node -> i, environment, refs, wrappers);
            refs := sub.refs;
            parts := array_append(parts, sub.rule);
        END LOOP;
        rule := to_jsonb(parts);
        RETURN;
    END IF;
    IF node ? 'in_segment' AND (SELECT count(*) FROM jsonb_object_keys(node)) = 1 THEN
        args := node -> 'in_segment';
        IF jsonb_typeof(args) = 'array' AND jsonb_array_length(args) >= 2 THEN
            sub := ff._flagd_inline_segments(args -> 1, environment, refs, wrappers);
            refs := sub.refs;
            rule := ff._segment_as_jsonlogic(environment, args ->> 0, sub.rule);
            RETURN;
        END IF;
        IF jsonb_typeof(args) = 'array' THEN
            op := args ->> 0;
        ELSE
            op := args #>> '{}';
        END IF;
        IF refs IS NULL THEN
            rule := ff._segment_as_jsonlogic(environment, op, '{"var": "targetingKey"}');
        ELSE
            IF NOT op = ANY (refs) THEN
                refs := refs || op;
            END IF;
            rule := jsonb_build_object('$ref', op);
            -- (1.25) what the $evaluators entry leaves out, in the flag: the
            -- rule where the entry (its lists alone) is undecided, and the
            -- keys that flagd's substitution would change in front
            IF wrappers -> op ? 'rule' THEN
                rule := jsonb_build_object('if', jsonb_build_array(
                            jsonb_build_object('===', jsonb_build_array(rule, NULL::jsonb)),
                            wrappers -> op -> 'rule', rule));
            END IF;
            IF wrappers -> op ? 'tests' THEN
                rule := jsonb_build_object('if', (wrappers -> op -> 'tests') || jsonb_build_array(rule));
            END IF;
        END IF;
        RETURN;
    END IF;
    result := '{}';
    FOR m IN SELECT e.key, e.value FROM jsonb_each(node) AS e LOOP
        sub := ff._flagd_inline_segments(m.value, environment, refs, wrappers);
        refs := sub.refs;
        result := result || jsonb_build_object(m.key, sub.rule);
    END LOOP;
    rule := result;
END;
$$;

COMMENT ON FUNCTION ff._flagd_inline_segments(jsonb, text, text[], jsonb) IS
'Internal: rewrites in_segment operators as flagd $ref references (or inline JSON Logic) for ff.export_flagd; wrappers (1.25): per segment, the key tests and the rule its $evaluators entry leaves out';

CREATE OR REPLACE FUNCTION ff._environment_not_found_note(environment text, OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone        record;
BEGIN
    -- (PL/pgSQL: ff._deleted_note comes later in the install script)
    gone := ff._deleted_note('environment', environment, environment);
    detail := gone.detail;
    hint := ff._perhaps_you_meant(environment, ARRAY(SELECT e.name FROM ff.environments AS e))
            || ff._existing_environments()
            || COALESCE(gone.hint, ff._create_hint('environment', environment));
END;
$$;

COMMENT ON FUNCTION ff._environment_not_found_note(text) IS
'Internal: for an environment that does not exist, the DETAIL of a deleted one and the HINT: the closest name, the existing ones, and how to create it, or the rollback that restores a deleted one';

CREATE OR REPLACE FUNCTION ff._validate_segment()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing     record;
    label       text;
    info        record;
    users       text;
    cycle       text[];
    nkeys       bigint;
BEGIN
    -- (1.17) a NULL name or environment is left to the history trigger's
    -- 23502, which names the row; it met the rename checks first
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.name IS NOT NULL AND NEW.environment IS NOT NULL
                            AND (NEW.name IS DISTINCT FROM OLD.name
                                 OR NEW.environment IS DISTINCT FROM OLD.environment)) THEN
        SELECT string_agg(format('%s "%s"', u.kind, u.name), ', ') INTO users
          FROM ff._segment_users(OLD.environment, OLD.name) AS u;
        IF users IS NOT NULL THEN
            RAISE EXCEPTION 'cannot % segment "%" in environment "%": it is still used',
                CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'rename or move' END, OLD.name, OLD.environment
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = format('Referenced with in_segment by %s.', users),
                      HINT = 'Remove the in_segment references first (ff.set_targeting, ff.set_segment_rule).';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        -- the key lists refer to the segment by name (1.10: instead of the
        -- foreign key's bare error)
        SELECT count(*) INTO nkeys FROM ff.segment_keys AS k
         WHERE k.environment = OLD.environment AND k.segment = OLD.name;
        IF nkeys > 0 THEN
            RAISE EXCEPTION 'cannot rename or move segment "%" in environment "%": it has % targeting keys',
                OLD.name, OLD.environment, nkeys
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = 'The rows of ff.segment_keys refer to the segment by its name and environment.',
                      HINT = 'Create a segment under the new name with the same rule and keys (ff.create_segment(..., include => ..., exclude => ...)), point the flags at it with ff.set_targeting, then delete this one with ff.delete_segment.';
        END IF;
    END IF;
    IF NEW.environment IS NULL OR NEW.name IS NULL THEN
        RETURN NEW;
    END IF;
    label := format('segment "%s" in environment "%s"', NEW.name, NEW.environment);

    IF TG_OP = 'INSERT' OR NEW.environment IS DISTINCT FROM OLD.environment OR NEW.name IS DISTINCT FROM OLD.name THEN
        IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment) THEN
            missing := ff._environment_not_found_note(NEW.environment);
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(NEW.environment)
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Segment "%s" cannot be stored in a missing environment.', ff._name_in_message(NEW.name))
                          || COALESCE(' ' || missing.detail, ''),
                      HINT = missing.hint;
        END IF;
        PERFORM ff._check_name('segment name', NEW.name, format(' in environment "%s"', NEW.environment));
    END IF;

    IF NEW.rule IS NOT NULL AND (NEW.rule = '{}'::jsonb OR NEW.rule = 'null'::jsonb) THEN
        NEW.rule := NULL;
    END IF;
    IF NEW.rule IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.rule IS DISTINCT FROM OLD.rule
                                 OR NEW.environment IS DISTINCT FROM OLD.environment
                                 OR NEW.name IS DISTINCT FROM OLD.name) THEN
        IF jsonb_typeof(NEW.rule) <> 'object' THEN
            RAISE EXCEPTION 'invalid rule for %: $.rule is a JSON %, not a JSON Logic rule', label, jsonb_typeof(NEW.rule)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A segment rule is a JSON Logic object that is truthy for members, e.g. {"==": [{"var": "plan"}, "pro"]}.';
        END IF;
        info := ff._rule_info(NEW.rule, format('rule of %s', label));
        IF NEW.name = ANY (info.segments) THEN
            RAISE EXCEPTION 'rule of % references the segment itself', label
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('The reference is at %s.',
                          COALESCE(ff._rule_path_of(NEW.rule, 'segment', to_jsonb(NEW.name), '$.rule'), '$.rule')),
                      HINT = 'Segments may reference other segments, but not in a cycle.';
        END IF;
        PERFORM ff._check_segment_refs(NEW.environment, info.segments, NEW.rule, format('rule of %s', label), '$.rule',
                                       NEW.name);

        cycle := ff._segment_cycle(NEW.environment, NEW.name, info.segments);
        IF cycle IS NOT NULL AND NOT ff._restoring() THEN
            RAISE EXCEPTION 'rule of % would create a cycle of segments', label
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('The cycle is %s.',
                          (SELECT string_agg(format('"%s"', c), ' -> ') FROM unnest(cycle) AS c)),
                      HINT = 'Segments may reference other segments, but not in a cycle.';
        END IF;
    END IF;

    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._validate_segment() IS
'Trigger function of ff_10_validate_segments: name rule, rule validation, existing and acyclic segment references, protected deletes';

COMMENT ON FUNCTION ff.unprotect_environment(text) IS
'Removes the protection of an environment; any role with the table privileges may change it again (allowed_roles is kept); refused while the environment requires approvals';

