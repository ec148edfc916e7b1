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
--     $evaluators too, as one in targeting or variants did.
--   * ff.rollback_flag and ff.rollback_segment refuse an empty environment
--     name (1.24 took it for "not given" and wrote in the default
--     environment); the no-default HINT is the one of the other functions.
--   * Not-found errors of a flag, segment or environment whose history
--     ends with a DELETE say when and by whom it was deleted and which
--     rollback restores it (new internal ff._deleted_note); the delete
--     functions no longer suggest creating what they did not find
--     (ff._flag_not_found and ff._segment_not_found take a third argument,
--     deleting).
--   * ff.apply_draft names the environment in its invalid-key error.
SET LOCAL search_path = pg_catalog, pg_temp;

DROP FUNCTION ff._flag_not_found(text, text);
DROP FUNCTION ff._segment_not_found(text, text);

CREATE OR REPLACE FUNCTION ff._deleted_note(entity text, environment text, key text,
                                 OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v           ff.versions;
    before_set  bigint;
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
    SELECT pg_catalog.min(x.version) - 1 INTO before_set FROM ff.versions AS x WHERE x.change_set = v.change_set;
    detail := pg_catalog.format('%s "%s" was deleted at version %s by %s.',
                                pg_catalog.initcap(entity), ff._name_in_message(key), v.version,
                                v.changed_by);
    hint := CASE entity
                WHEN 'environment' THEN pg_catalog.format('SELECT ff.rollback_environment(%L, %s); restores it with its flags and segments.', key, before_set)
                ELSE pg_catalog.format('SELECT ff.rollback_%s(%L, %s, environment => %L); restores it with its history.',
                                       entity, key, before_set, environment)
            END;
END;
$$;

COMMENT ON FUNCTION ff._deleted_note(text, text, text) IS
'Internal: for a flag, segment or environment whose history ends with a DELETE, a not-found DETAIL (when and by whom) and a HINT (the rollback that restores it); NULLs otherwise';

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
        IF gone.detail IS NOT NULL THEN
            RAISE EXCEPTION 'flag "%" does not exist in environment "%"', ff._name_in_message(key), environment
                USING ERRCODE = 'undefined_object', DETAIL = gone.detail, HINT = hint;
        END IF;
        RAISE EXCEPTION 'flag "%" does not exist in environment "%"', ff._name_in_message(key), environment
            USING ERRCODE = 'undefined_object', HINT = hint;
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
    IF gone.detail IS NOT NULL THEN
        RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(segment), environment
            USING ERRCODE = 'undefined_object', DETAIL = gone.detail, HINT = hint;
    END IF;
    RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(segment), environment
        USING ERRCODE = 'undefined_object', HINT = hint;
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
            gone    record := ff._deleted_note('environment', env, env);
            hint    text := ff._perhaps_you_meant(env, ARRAY(SELECT e.name FROM ff.environments AS e))
                            || 'ff.environments lists the environments.';
        BEGIN
            IF gone.detail IS NOT NULL THEN
                RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                    USING ERRCODE = 'undefined_object', DETAIL = gone.detail, HINT = hint;
            END IF;
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object', HINT = hint;
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
'Deletes an environment; refuses the default one, and one with flags or segments unless force => true deletes them too';

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
    -- and flagd Java also \.  A segment whose name has a "." or whose
    -- logic has a "$" or a "\" is therefore not emitted as an evaluator:
    -- the flags that use it get their segments inline, as for a dangling
    -- name.  They are found from the evaluators of a first pass, which a
    -- second pass then leaves out.
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
        -- (1.20) json_object_agg, cast once: jsonb_object_agg takes time
        -- quadratic in the size of a large value, and a 1,000,000-key segment's
        -- logic made the export take 75 s
        SELECT COALESCE(json_object_agg(k, o)::jsonb, '{}') INTO flags FROM unnest(keys, objs) AS u(k, o);
        SELECT json_object_agg(r.name, ff._segment_as_jsonlogic(env, r.name, '{"var": "targetingKey"}'))::jsonb
          INTO evaluators FROM unnest(refs) AS r(name);
        unsafe := ARRAY(SELECT e.key FROM jsonb_each(evaluators) AS e
                         WHERE strpos(e.key, '.') > 0 OR e.value::text ~ '[$\\]');
        EXIT passes WHEN unsafe = '{}';
        dangling := dangling || unsafe;
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

