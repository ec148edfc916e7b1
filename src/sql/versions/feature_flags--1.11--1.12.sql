-- feature_flags 1.11 -> 1.12 (ALTER EXTENSION feature_flags UPDATE TO '1.12')
--
-- 1.12 changes no table and no signature.
--   * "Perhaps you meant" where 1.11 had none: the rollback functions'
--     unknown environment (ff.rollback_environment, and ff.rollback_flag
--     and ff.rollback_segment through ff._history_rollback_entity), and a
--     raw INSERT into ff.segment_keys naming a missing environment
--     (ff._validate_segment_key; 1.11 said the segment was missing).

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.12'" to load this file. \quit

-- ff._validate_segment_key is the trigger function of ff_10_validate_segment_keys.
CREATE OR REPLACE FUNCTION ff._validate_segment_key()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.environment IS NULL OR NEW.segment IS NULL OR NEW.targeting_key IS NULL THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.environment IS DISTINCT FROM OLD.environment OR NEW.segment IS DISTINCT FROM OLD.segment THEN
        IF NOT EXISTS (SELECT 1 FROM ff.segments AS s
                        WHERE s.environment = NEW.environment AND s.name = NEW.segment) THEN
            -- (1.12) a missing environment is named as such, with a suggestion
            IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment) THEN
                RAISE EXCEPTION 'environment "%" does not exist', NEW.environment
                    USING ERRCODE = 'foreign_key_violation',
                          DETAIL = format('Targeting key "%s" cannot be added to segment "%s" of a missing environment.',
                                          NEW.targeting_key, NEW.segment),
                          HINT = ff._perhaps_you_meant(NEW.environment, ARRAY(SELECT e.name FROM ff.environments AS e))
                              || format('Create it with SELECT ff.create_environment(%L);', NEW.environment);
            END IF;
            RAISE EXCEPTION 'segment "%" does not exist in environment "%"', NEW.segment, NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Targeting key "%s" cannot be added to a missing segment.', NEW.targeting_key),
                      HINT = ff._perhaps_you_meant(NEW.segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                                       WHERE g.environment = NEW.environment))
                          || format('Create it with SELECT ff.create_segment(%L, environment => %L);', NEW.segment, NEW.environment);
        END IF;
    END IF;
    IF NEW.targeting_key = '' THEN
        RAISE EXCEPTION 'empty targeting key for segment "%" in environment "%"', NEW.segment, NEW.environment
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Targeting keys are the non-empty targetingKey values of evaluation contexts (user ids, emails...).';
    END IF;
    -- the key is indexed: refuse what a btree could not hold, with a clear message
    IF pg_catalog.octet_length(NEW.targeting_key) > 1024 THEN
        RAISE EXCEPTION 'targeting key "%..." for segment "%" in environment "%" is too long',
                        pg_catalog.left(NEW.targeting_key, 20), NEW.segment, NEW.environment
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The key is %s bytes long; at most 1024 are allowed.', pg_catalog.octet_length(NEW.targeting_key)),
                  HINT = 'Targeting keys are the targetingKey values of evaluation contexts (user ids, emails...); use a shorter identifier.';
    END IF;
    RETURN NEW;
END;
$$;

-- ff._history_rollback_entity: the body shared by rollback_flag and rollback_segment: writes a
--   flag or a segment (with its key list) back to its state as of to_version (deleting it if it did
--   not exist then) as new versions, commenting the change unless the caller already did (1.11:
--   only for a user who may run ff.rollback_flag or ff.rollback_segment, as the case may be)
CREATE OR REPLACE FUNCTION ff._history_rollback_entity(entity text, key text, to_version bigint, environment text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
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
            RAISE EXCEPTION 'environment "%" does not exist and has no history', env
                USING ERRCODE = 'undefined_object',
                      HINT = ff._perhaps_you_meant(env, ARRAY(
                                 SELECT e.name FROM ff.environments AS e
                                 UNION
                                 SELECT v.environment FROM ff.versions AS v WHERE v.entity = 'environment'))
                          || 'Check the environment; ff.history lists the recorded changes of each environment.';
        END IF;
        RAISE EXCEPTION '% "%" has no history in environment "%"', entity, key, env
            USING ERRCODE = 'undefined_object',
                  HINT = ff._perhaps_you_meant(key, ARRAY(SELECT DISTINCT v.entity_key FROM ff.versions AS v
                                                           WHERE v.entity = _history_rollback_entity.entity
                                                             AND v.environment = env))
                      || pg_catalog.format('Check the %s %s and the environment; ff.history lists the recorded changes.',
                                           entity, CASE entity WHEN 'flag' THEN 'key' ELSE 'name' END);
    END IF;
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

-- ff.rollback_environment: writes an environment, its segments and its flags back to their state
--   as of to_version, as one change-set of new versions; returns the current version
CREATE OR REPLACE FUNCTION ff.rollback_environment(environment text, to_version bigint)
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
    has_history := EXISTS (SELECT 1 FROM ff.versions AS v
                            WHERE v.entity = 'environment' AND v.environment = $1
                              AND v.entity_key = $1);
    IF NOT has_history AND NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = $1) THEN
        RAISE EXCEPTION 'environment "%" does not exist and has no history', environment
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
