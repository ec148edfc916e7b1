-- feature_flags 1.11 -> 1.12 (ALTER EXTENSION feature_flags UPDATE TO '1.12')
--
-- 1.12 changes no table and no signature.
--   * "Perhaps you meant" where 1.11 had none: the rollback functions'
--     unknown environment (ff.rollback_environment, and ff.rollback_flag
--     and ff.rollback_segment through ff._history_rollback_entity), and a
--     raw INSERT into ff.segment_keys naming a missing environment
--     (ff._validate_segment_key; 1.11 said the segment was missing).
--   * flagd imports: a rule with a call of flagd's own operators that flagd
--     loads, followed by an unknown operator, is stored with a WARNING naming
--     the unknown operator; followed by a refused call, refused with the
--     error of that call (ff._validate_flag_general; with the 1.12 library's
--     ff._rule_compile_error).

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
    stored_broken constant text := 'The flag is stored because ff.invalid_targeting is "warning"; its evaluations return the caller''s default with reason ERROR and error code PARSE_ERROR.';
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
                          || format('Create it with SELECT ff.create_environment(%L); or pick one of: %s.', NEW.environment,
                          (SELECT string_agg(format('"%s"', e.name), ', ' ORDER BY e.name) FROM ff.environments AS e));
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
