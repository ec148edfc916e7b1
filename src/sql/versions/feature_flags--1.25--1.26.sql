\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.26'" to load this file. \quit
-- feature_flags 1.25 -> 1.26
--
-- 1.26 changes no table.  It fixes what a walk through the README found:
--   * a flag rule or a segment key that names a deleted segment says so
--     (when, by whom) and gives the rollback that restores it with its
--     keys; 1.25 suggested ff.create_segment, which loses both
--     (ff._check_segment_refs, ff._validate_segment_key, through the new
--     internal ff._segment_not_found_note, which ff._segment_not_found
--     uses too; a segment key of a deleted environment gets the note the
--     flag and segment triggers give);
--   * messages list a flag's variants one way (new internal
--     ff._variant_list: the first ten in byte order, clipped, and how many
--     in all); 1.25 used three orders and listed every name; a refused
--     targeting result keeps its closing quote;
--   * a restore (pg_dump's COPY) of a key list that drifted from its
--     history in the source records nothing, as for drifted rows
--     (ff._history_keys_needed).
SET LOCAL search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION ff._variant_list(variants jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.string_agg(pg_catalog.format('"%s"', ff._name_in_message(v.k)), ', ' ORDER BY v.k COLLATE "C")
                    || CASE WHEN pg_catalog.max(v.n) > 10 THEN pg_catalog.format(', ... (%s in all)', pg_catalog.max(v.n)) ELSE '' END,
                    'none')
      FROM (SELECT k, pg_catalog.count(*) OVER () AS n,
                   pg_catalog.row_number() OVER (ORDER BY k COLLATE "C") AS i
              FROM pg_catalog.jsonb_object_keys(CASE pg_catalog.jsonb_typeof(variants) WHEN 'object' THEN variants END) AS k) AS v
     WHERE v.i <= 10
$$;

COMMENT ON FUNCTION ff._variant_list(jsonb) IS
'Internal: a flag''s variant names for a message: the first ten in byte order, quoted and clipped, and how many in all';

CREATE OR REPLACE FUNCTION ff._check_segment_refs(environment text, segments text[], rule jsonb,
                                       owner_label text, prefix text, owner_segment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    present     text[];
    missing     text;
    gone        record;
BEGIN
    IF cardinality(segments) = 0 THEN
        RETURN;
    END IF;
    -- lock the referenced segments, so that a concurrent DELETE waits for
    -- this transaction and then sees the new reference
    present := ARRAY(SELECT g.name FROM ff.segments AS g
                      WHERE g.environment = _check_segment_refs.environment AND g.name = ANY (segments)
                      ORDER BY g.name
                        FOR KEY SHARE);
    SELECT s INTO missing FROM unnest(segments) AS s
     WHERE NOT s = ANY (present)
     ORDER BY s LIMIT 1;
    IF missing IS NOT NULL AND NOT ff._restoring() THEN
        -- (1.26) a deleted segment is named as such, with the rollback that
        -- restores it and its keys (creating it anew loses both); a
        -- segment's own rule may not name the segment: it is no suggestion
        gone := ff._segment_not_found_note(missing, environment, owner_segment);
        RAISE EXCEPTION '% references segment "%", which does not exist in environment "%"',
            owner_label, ff._name_in_message(missing), environment
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('The reference is at %s.',
                      COALESCE(ff._rule_path_of(rule, 'segment', to_jsonb(missing), prefix), prefix))
                      || COALESCE(' ' || gone.detail, ''),
                  HINT = gone.hint;
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._check_segment_refs(text, text[], jsonb, text, text, text) IS
'Internal: raises foreign_key_violation when a rule references a segment missing from the environment (owner_segment: the segment whose rule it is)';

CREATE OR REPLACE FUNCTION ff._validate_segment_key()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone        record;
BEGIN
    -- (1.17) a NULL is refused here, naming the row, rather than by the NOT
    -- NULL constraint, whose DETAIL printed the whole row and no HINT
    IF NEW.environment IS NULL OR NEW.segment IS NULL OR NEW.targeting_key IS NULL OR NEW.excluded IS NULL THEN
        RAISE EXCEPTION 'the % of a segment key must not be NULL',
                        CASE WHEN NEW.environment IS NULL THEN 'environment'
                             WHEN NEW.segment IS NULL THEN 'segment'
                             WHEN NEW.targeting_key IS NULL THEN 'targeting key'
                             ELSE 'excluded flag' END
            USING ERRCODE = 'not_null_violation',
                  DETAIL = CASE WHEN NEW.environment IS NOT NULL AND NEW.segment IS NOT NULL
                                THEN format('The row is %ssegment "%s" in environment "%s".',
                                            CASE WHEN NEW.targeting_key IS NOT NULL
                                                 THEN format('targeting key "%s" of ', NEW.targeting_key) ELSE '' END,
                                            NEW.segment, NEW.environment)
                                ELSE 'A segment key names its environment and segment.' END,
                  HINT = CASE WHEN NEW.excluded IS NULL AND NEW.targeting_key IS NOT NULL
                              THEN 'excluded is true for a key excluded from the segment, false (the default) for a key included in it.'
                              ELSE format('Add keys with SELECT ff.add_segment_keys(%L, ARRAY[''user-1'', ''user-2''], environment => %L);',
                                          COALESCE(NEW.segment, 'segment'), COALESCE(NEW.environment, 'environment')) END;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.environment IS DISTINCT FROM OLD.environment OR NEW.segment IS DISTINCT FROM OLD.segment THEN
        IF NOT EXISTS (SELECT 1 FROM ff.segments AS s
                        WHERE s.environment = NEW.environment AND s.name = NEW.segment) THEN
            -- (1.12) a missing environment is named as such, with a suggestion
            IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment) THEN
                -- (1.26) the note of the other validation triggers: a
                -- deleted environment's rollback, the existing ones
                gone := ff._environment_not_found_note(NEW.environment);
                RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(NEW.environment)
                    USING ERRCODE = 'foreign_key_violation',
                          DETAIL = format('Targeting key "%s" cannot be added to segment "%s" of a missing environment.',
                                          ff._name_in_message(NEW.targeting_key), ff._name_in_message(NEW.segment))
                              || COALESCE(' ' || gone.detail, ''),
                          HINT = gone.hint;
            END IF;
            -- (1.26) a deleted segment: when, by whom, and its rollback
            gone := ff._segment_not_found_note(NEW.segment, NEW.environment);
            RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(NEW.segment), NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Targeting key "%s" cannot be added to a missing segment.', ff._name_in_message(NEW.targeting_key))
                          || COALESCE(' ' || gone.detail, ''),
                      HINT = gone.hint;
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

COMMENT ON FUNCTION ff._validate_segment_key() IS
'Trigger function of ff_10_validate_segment_keys: the segment exists and the targeting key is not empty and at most 1024 bytes';

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
        names := ff._variant_list(NEW.variants);
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
                    names := ff._variant_list(NEW.variants);
                    -- (1.26) a string in quotes, clipped inside them, as values are
                    err_msg := format('targeting for %s can return %s, which is not a variant', label,
                                      CASE jsonb_typeof(res) WHEN 'string' THEN format('"%s"', ff._name_in_message(res #>> '{}'))
                                           ELSE ff._name_in_message(res::text) END);
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
                      (SELECT k FROM jsonb_object_keys(flag.variants) AS k ORDER BY k COLLATE "C" LIMIT 1),
                      ff._variant_list(flag.variants));
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
                      ff._variant_list(flag.variants));
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

CREATE OR REPLACE FUNCTION ff._history_keys_needed(environment text, segment text, count_delta bigint,
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

CREATE OR REPLACE FUNCTION ff._segment_not_found_note(segment text, environment text, excluded text DEFAULT NULL,
                                           OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone        record;
BEGIN
    -- (PL/pgSQL: ff._deleted_note comes later in the install script)
    gone := ff._deleted_note('segment', environment, segment);
    detail := gone.detail;
    hint := ff._perhaps_you_meant(segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                  WHERE g.environment = _segment_not_found_note.environment
                                                    AND g.name IS DISTINCT FROM excluded))
            || COALESCE(gone.hint, ff._create_hint('segment', segment, environment));
END;
$$;

COMMENT ON FUNCTION ff._segment_not_found_note(text, text, text) IS
'Internal: for a segment that does not exist, the DETAIL of a deleted one and the HINT: the closest name, and the rollback that restores a deleted one or how to create it';

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
    gone := ff._segment_not_found_note(segment, environment);
    hint := CASE WHEN deleting AND segment ~ ff._name_pattern()
                 THEN ff._perhaps_you_meant(segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                            WHERE g.environment = _segment_not_found.environment))
                      || format('ff.segments lists the segments of environment "%s".', environment)
                 ELSE gone.hint END;
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

