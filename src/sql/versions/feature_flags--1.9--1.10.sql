-- feature_flags 1.9 -> 1.10 (ALTER EXTENSION feature_flags UPDATE TO '1.10')
--
-- 1.10 changes no table.  It replaces functions whose behaviour users
-- found wrong or unclear:
--   * ff.set_rollout with bucket_by guards the split with
--     {"missing": [attribute]}: a context without the attribute gets the
--     default variant instead of sharing one bucket with every other such
--     context; a NULL percentage is 22004;
--   * ff._segment_as_jsonlogic (ff.export_flagd) writes in_segment's 1.10
--     semantics: a key that is not a string is on neither list and the
--     segment's rule decides (the 1.10 library evaluates in_segment so);
--   * ff._validate_segment refuses to rename or move a segment that has
--     keys with a message and a HINT (it was the foreign key's 23503);
--   * ff._validate_flag_general: a new flag whose flag_type does not match
--     its variants is not told about "changing the type"; the WARNING of a
--     flagd call stored leniently says what the call evaluates to (null, or
--     a negative whole weight counting as 0), not both;
--   * ff._targeting_summary counts negative weights as 0, and says what a
--     rollout is bucketed by when it is not targetingKey;
--   * ff._history_summary and ff._targeting_summary (ff._ellipsis) write
--     their arrow and ellipsis from UTF-8 bytes, or as "->" and "..." in a
--     database that is neither UTF-8 nor SQL_ASCII: the install script is
--     ASCII, so that its UTF-8 check runs in any encoding (a new CREATE
--     EXTENSION refuses a database that is not UTF-8 or SQL_ASCII; an
--     update does not).
-- The history (found by an audit of a history of a million versions):
--   * the view ff.history has no ORDER BY of its own: "ORDER BY version DESC
--     LIMIT 5" computed the summary of every version (minutes at 1 M);
--   * the view ff.change_sets is built on a change-set's versions being
--     consecutive: "latest N" and a lookup by change_set use the primary
--     key instead of grouping and sorting the whole history;
--   * ff.rollback_environment looks each segment up once
--     (ff._history_segment_keys_of), and ff._history_keys_at computes where
--     its replay starts once (a materialized CTE): both were quadratic in
--     the number of key list changes, half of it under the writer lock;
--   * the key list triggers decide whether to record before they gather the
--     delta (ff._history_keys_needed): a pg_dump restore of a list over
--     256 MB failed and pg_restore went on without it; a change too large
--     for one version is refused up front with a HINT
--     (ff._history_keys_too_large).
-- Same signatures, same privileges (the new helpers are not PUBLIC's);
-- nothing to wait for.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.10'" to load this file. \quit

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

    IF moved THEN
        IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment) THEN
            RAISE EXCEPTION 'environment "%" does not exist', NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Flag "%s" cannot be stored in a missing environment.', NEW.key),
                      HINT = format('Create it with SELECT ff.create_environment(%L); or pick one of: %s.', NEW.environment,
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
        -- ff.invalid_targeting = warning (ff.import_flagd, the copy
        -- functions, rollbacks): a rule that flagd would load but cannot
        -- evaluate (an unknown operator, a literal result that is not a
        -- variant) is stored with a WARNING; its evaluations return the
        -- caller's default with reason ERROR, as in flagd (and a malformed
        -- call of flagd's own operators: see below)
        -- A pg_dump script (ff._restoring()) loads the rows as they were
        -- stored, those stored with a WARNING included, and says nothing
        -- again (1.7; before, the COPY of ff.flags failed on such a row and
        -- a restore lost every flag).
        lenient := current_setting('ff.invalid_targeting', true) = 'warning' OR ff._restoring();
        -- an INSERT ... ON CONFLICT DO UPDATE (ff.import_flagd, the copies)
        -- of an existing flag is checked again as an UPDATE: warn once
        quiet := ff._restoring();
        IF lenient AND is_new AND NOT quiet THEN
            quiet := EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = NEW.environment AND f.key = NEW.key);
        END IF;
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
                PERFORM ff._check_rule(NEW.targeting, format('targeting for %s', label));
            EXCEPTION WHEN invalid_parameter_value THEN
                GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT, err_hint = PG_EXCEPTION_HINT;
                RAISE WARNING '%', err_msg
                    USING DETAIL = CASE
                        WHEN compiled AND err_msg ~ 'fractional weight -[0-9]+ is not an integer'
                        THEN 'The flag is stored because ff.invalid_targeting is "warning", as flagd loads it; as in flagd, a negative whole weight counts as 0.'
                        WHEN compiled
                        THEN 'The flag is stored because ff.invalid_targeting is "warning", as flagd loads it; as in flagd, the call evaluates to null.'
                        ELSE 'The flag is stored because ff.invalid_targeting is "warning"; its evaluations return the caller''s default with reason ERROR and error code PARSE_ERROR.'
                    END,
                          HINT = err_hint;
            END;
        END IF;
        IF compiled THEN
            info := ff._rule_info(NEW.targeting, format('targeting for %s', label),
                                  problem IS NOT DISTINCT FROM 'flagd_call');
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

-- ff._validate_segment is the trigger function of ff_10_validate_segments.
CREATE OR REPLACE FUNCTION ff._validate_segment()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    label       text;
    info        record;
    users       text;
    cycle       text[];
    nkeys       bigint;
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (NEW.name IS DISTINCT FROM OLD.name
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
            RAISE EXCEPTION 'environment "%" does not exist', NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Segment "%s" cannot be stored in a missing environment.', NEW.name),
                      HINT = format('Create it with SELECT ff.create_environment(%L);', NEW.environment);
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
        PERFORM ff._check_segment_refs(NEW.environment, info.segments, NEW.rule, format('rule of %s', label), '$.rule');

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

-- ff.set_rollout replaces a flag's targeting by a percentage rollout: a
-- flagd "fractional" split between two variants.
CREATE OR REPLACE FUNCTION ff.set_rollout(key text, percentage numeric, environment text DEFAULT NULL,
                               variant text DEFAULT NULL, otherwise text DEFAULT NULL,
                               bucket_by text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(set_rollout.environment);
    flag        ff.flags := ff._flag_row(set_rollout.key, env);
    v_on        text;
    v_off       text;
    w_on        bigint;
    w_off       bigint;
    rule        jsonb;
BEGIN
    IF percentage IS NULL THEN
        RAISE EXCEPTION 'rollout percentage of flag "%" in environment "%" must not be NULL', set_rollout.key, env
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'The percentage is a number from 0 to 100, with at most two decimals (e.g. 12.5).';
    END IF;
    IF percentage < 0 OR percentage > 100 THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"',
            percentage, set_rollout.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The percentage is a number from 0 to 100, with at most two decimals (e.g. 12.5).';
    END IF;
    IF percentage * 100 <> trunc(percentage * 100) THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"', percentage, set_rollout.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'fractional weights are integers, so percentages have at most two decimals.',
                  HINT = 'Round the percentage to two decimals.';
    END IF;

    v_on := COALESCE(set_rollout.variant, ff._pick_variant(flag.variants, ARRAY['on', 'true'], NULL));
    IF v_on IS NULL OR NOT flag.variants ? v_on THEN
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', set_rollout.key, env,
            CASE WHEN v_on IS NULL THEN 'it has no variant "on" or "true"'
                 ELSE format('"%s" is not one of its variants', v_on) END
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
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', set_rollout.key, env,
            CASE WHEN v_off IS NULL THEN format('no variant to serve outside the rollout of "%s"', v_on)
                 WHEN v_off = v_on THEN format('"otherwise" and "variant" are both "%s"', v_on)
                 ELSE format('"%s" is not one of its variants', v_off) END
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
            RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": bucket_by is empty', set_rollout.key, env
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
    RETURN ff.set_targeting(set_rollout.key, rule, env);
END;
$$;

-- ff._segment_as_jsonlogic returns plain JSON Logic equivalent to
-- {"in_segment": [segment, key_expression]}: false for excluded keys, true
-- for included keys, otherwise the truthiness of the segment rule; without
-- a rule, false for a string key and null for any other key (1.10: the
-- rule decides for keys that are not strings, as in_segment does).
CREATE OR REPLACE FUNCTION ff._segment_as_jsonlogic(environment text, segment text, key_expression jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    seg         ff.segments;
    inc         jsonb;
    exc         jsonb;
    rule        jsonb;
    is_string   jsonb;
    parts       jsonb := '[]';
BEGIN
    SELECT * INTO seg FROM ff.segments AS s
     WHERE s.environment = _segment_as_jsonlogic.environment AND s.name = _segment_as_jsonlogic.segment;
    IF NOT FOUND THEN
        PERFORM ff._segment_not_found(segment, _segment_as_jsonlogic.environment);
    END IF;
    SELECT COALESCE(jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE k.excluded), '[]'),
           COALESCE(jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE NOT k.excluded), '[]')
      INTO exc, inc
      FROM ff.segment_keys AS k
     WHERE k.environment = _segment_as_jsonlogic.environment AND k.segment = _segment_as_jsonlogic.segment;
    -- like in_segment: the lists match string keys only (e.g. not a missing
    -- targetingKey); the key is a string when {"cat": [key]} is the key itself
    is_string := jsonb_build_object('===', jsonb_build_array(
        jsonb_build_object('cat', jsonb_build_array(key_expression)), key_expression));
    IF exc <> '[]' THEN
        parts := parts || jsonb_build_array(jsonb_build_object('and', jsonb_build_array(
                     is_string, jsonb_build_object('in', jsonb_build_array(key_expression, exc)))), false);
    END IF;
    IF inc <> '[]' THEN
        parts := parts || jsonb_build_array(jsonb_build_object('and', jsonb_build_array(
                     is_string, jsonb_build_object('in', jsonb_build_array(key_expression, inc)))), true);
    END IF;
    IF seg.rule IS NULL THEN
        -- no rule: not a member, or undecided without a key
        rule := jsonb_build_object('if', jsonb_build_array(is_string, false, NULL::jsonb));
    ELSE
        rule := (ff._flagd_inline_segments(seg.rule, _segment_as_jsonlogic.environment, NULL)).rule;
        -- membership is the truthiness of the rule
        IF NOT (jsonb_typeof(rule) = 'object' AND rule ? '!!') THEN
            rule := jsonb_build_object('!!', jsonb_build_array(rule));
        END IF;
    END IF;
    IF parts = '[]' THEN
        RETURN rule;
    END IF;
    RETURN jsonb_build_object('if', parts || jsonb_build_array(rule));
END;
$$;

-- ff._history_summary: one line describing a version, e.g. "state: ENABLED -> DISABLED"
-- (the arrow it writes is U+2192, given by its UTF-8 bytes: the install script is ASCII; a
-- database neither UTF-8 nor SQL_ASCII, which only an update from 1.9 or earlier has, gets "->")
CREATE OR REPLACE FUNCTION ff._history_summary(operation text, before jsonb, after jsonb, delta jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE operation
        WHEN 'INSERT' THEN 'created'
        WHEN 'DELETE' THEN 'deleted'
        WHEN 'KEYS' THEN
            CASE WHEN delta ? 'cleared'
                 THEN pg_catalog.format('keys: all %s removed', delta ->> 'removed_count')
                 ELSE 'keys: ' || pg_catalog.concat_ws(', ',
                     '+' || pg_catalog.jsonb_array_length(delta -> 'include') || ' included',
                     '+' || pg_catalog.jsonb_array_length(delta -> 'exclude') || ' excluded',
                     '-' || pg_catalog.jsonb_array_length(delta -> 'remove') || ' removed')
            END
        ELSE (SELECT coalesce(pg_catalog.string_agg(
                  CASE WHEN coalesce(pg_catalog.jsonb_typeof(d.value -> 'old'), 'null') NOT IN ('object', 'array')
                        AND coalesce(pg_catalog.jsonb_typeof(d.value -> 'new'), 'null') NOT IN ('object', 'array')
                        AND pg_catalog.length(ff._history_short(d.value -> 'old')) <= 40
                        AND pg_catalog.length(ff._history_short(d.value -> 'new')) <= 40
                       THEN pg_catalog.format('%s: %s %s %s', d.key, ff._history_short(d.value -> 'old'),
                                              CASE WHEN pg_catalog.getdatabaseencoding() IN ('UTF8', 'SQL_ASCII')
                                                   THEN pg_catalog.convert_from('\xe28692', 'UTF8') ELSE '->' END,
                                              ff._history_short(d.value -> 'new'))
                       ELSE d.key || ' changed' END,
                  '; ' ORDER BY d.key), 'no visible change')
                FROM pg_catalog.jsonb_each(ff._history_diff(operation, before, after, delta)) AS d)
    END
$$;

-- ff._ellipsis: U+2026, given by its UTF-8 bytes (the install script is ASCII), in a UTF-8 or
--   SQL_ASCII database; "..." in another (which only an update from 1.9 or earlier has)
CREATE OR REPLACE FUNCTION ff._ellipsis()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.getdatabaseencoding() IN ('UTF8', 'SQL_ASCII')
                THEN pg_catalog.convert_from('\xe280a6', 'UTF8') ELSE '...' END
$$;

-- ff._targeting_summary describes a targeting rule in one short line:
-- "rollout on 25%, off 75%" (with "by <attribute>" when not bucketed by
-- targetingKey), "everyone: on", or the operators used, the segments
-- referenced and the variants it can return.
CREATE OR REPLACE FUNCTION ff._targeting_summary(targeting jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    frac        jsonb := targeting;
    args        jsonb;
    bucket      jsonb;
    by_what     text;
    guard       text;
    total       numeric;
    ops         text;
    segs        text;
    results     text;
    summary     text;
BEGIN
    IF targeting IS NULL THEN
        RETURN NULL;
    END IF;
    -- set_rollout's shapes
    IF targeting ? 'if' AND jsonb_typeof(targeting -> 'if') = 'array'
       AND jsonb_array_length(targeting -> 'if') = 2 AND targeting -> 'if' -> 0 = 'true'::jsonb THEN
        RETURN 'everyone: ' || COALESCE(targeting -> 'if' ->> 1, 'null');
    END IF;
    -- bucket_by (1.10): {"if": [{"missing": [attribute]}, null, {"fractional": ...}]}
    IF targeting ? 'if' AND jsonb_typeof(targeting -> 'if') = 'array'
       AND jsonb_array_length(targeting -> 'if') = 3 AND targeting -> 'if' -> 1 = 'null'::jsonb
       AND jsonb_typeof(targeting -> 'if' -> 0 -> 'missing') = 'array'
       AND jsonb_array_length(targeting -> 'if' -> 0 -> 'missing') = 1 THEN
        frac := targeting -> 'if' -> 2;
        guard := targeting -> 'if' -> 0 -> 'missing' ->> 0;
    END IF;
    IF jsonb_typeof(frac) = 'object' AND frac ? 'fractional' AND jsonb_typeof(frac -> 'fractional') = 'array' THEN
        args := (SELECT jsonb_agg(b) FROM jsonb_array_elements(frac -> 'fractional') AS b
                  WHERE jsonb_typeof(b) = 'array');
        bucket := frac -> 'fractional' -> 0;
        IF jsonb_typeof(bucket) <> 'array' THEN
            -- set_rollout's bucket_by: {"cat": [{"var": "$flagd.flagKey"}, {"var": attribute}]}
            IF bucket -> 'cat' -> 0 = '{"var": "$flagd.flagKey"}'::jsonb AND jsonb_array_length(bucket -> 'cat') = 2
               AND jsonb_typeof(bucket -> 'cat' -> 1 -> 'var') = 'string' THEN
                by_what := bucket -> 'cat' -> 1 ->> 'var';
            ELSIF bucket = '{"var": "targetingKey"}'::jsonb THEN
                by_what := 'targetingKey';
            ELSE
                by_what := left(bucket::text, 40) || CASE WHEN length(bucket::text) > 40 THEN ff._ellipsis() ELSE '' END;
            END IF;
        END IF;
        -- the guard of set_rollout's bucket_by is on the attribute bucketed by;
        -- any other guard is a condition of its own, summarised as a rule
        IF args IS NOT NULL AND (guard IS NULL OR guard = by_what) AND NOT EXISTS (
                SELECT 1 FROM jsonb_array_elements(args) AS b
                 WHERE jsonb_typeof(b -> 0) NOT IN ('string', 'boolean')
                    OR (jsonb_array_length(b) > 1 AND jsonb_typeof(b -> 1) <> 'number')) THEN
            -- a weight counts 1 when absent, 0 when negative (as in flagd)
            SELECT sum(GREATEST(COALESCE((b ->> 1)::numeric, 1), 0)) INTO total FROM jsonb_array_elements(args) AS b;
            IF total > 0 THEN
                RETURN 'rollout ' || (
                    SELECT string_agg(format('%s %s%%', b ->> 0,
                               trim_scale(round(GREATEST(COALESCE((b ->> 1)::numeric, 1), 0) * 100 / total, 2))),
                               ', ' ORDER BY o)
                      FROM jsonb_array_elements(args) WITH ORDINALITY AS x(b, o))
                    || COALESCE(' by ' || by_what, '');
            END IF;
        END IF;
    END IF;
    SELECT string_agg(op, ', ' ORDER BY first) INTO ops
      FROM (SELECT w.item_value #>> '{}' AS op, min(w.ord) AS first
              FROM ff._rule_walk(targeting, '$', true) WITH ORDINALITY AS w(item_kind, item_path, item_value, ord)
             WHERE w.item_kind = 'operator' AND w.item_value #>> '{}' NOT IN ('var', 'in_segment')
             GROUP BY 1) AS o;
    SELECT string_agg(DISTINCT w.item_value #>> '{}', ', ') INTO segs
      FROM ff._rule_walk(targeting, '$', true) AS w WHERE w.item_kind = 'segment';
    SELECT string_agg(r, ', ' ORDER BY first) INTO results
      FROM (SELECT w.item_value #>> '{}' AS r, min(w.ord) AS first
              FROM ff._rule_walk(targeting, '$', true) WITH ORDINALITY AS w(item_kind, item_path, item_value, ord)
             WHERE w.item_kind = 'result' GROUP BY 1) AS x;
    summary := concat_ws(' ', ops,
                         CASE WHEN segs IS NOT NULL THEN '(segments: ' || segs || ')' END,
                         CASE WHEN results IS NOT NULL THEN '-> ' || results END);
    IF length(summary) > 100 THEN
        summary := left(summary, 99) || ff._ellipsis();
    END IF;
    RETURN summary;
END;
$$;

-- ff._history_keys_needed: whether a statement's change of a segment's key list is to be recorded
--   (1.10): not when the segment is gone (its DELETE version says the list went with it), nor
--   for the rows of a pg_dump restore (an INSERT that leaves the table holding exactly the recorded
--   list), nor for the removal of keys the history already has as gone; decided before the keys
--   are gathered into a delta, so that none of these builds one
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
    ELSIF st.key_count + count_delta < 0 THEN
        -- keys removed that the history already has as gone: a segment
        -- deleted and created again in one statement (a writable CTE), whose
        -- old keys the foreign key's cascade removes only after the new row
        -- exists; its DELETE version recorded their removal
        RETURN false;
    END IF;
    RETURN true;
END;
$$;

-- ff._history_keys_too_large: refuses a key list change whose delta one jsonb array cannot hold
--   (1.10: instead of jsonb's bare 54000 after the work)
CREATE OR REPLACE FUNCTION ff._history_keys_too_large(environment text, segment text, keys bigint, key_bytes bigint)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
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

-- ff._history_keys_insert_trigger: one KEYS version per segment whose key list an INSERT statement
--   extended (the delta is gathered only once ff._history_keys_needed says it is recorded)
CREATE OR REPLACE FUNCTION ff._history_keys_insert_trigger()
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

-- ff._history_keys_delete_trigger: one KEYS version per segment whose key list a DELETE statement
--   shortened (none for the keys of a deleted segment, whose removed keys are not gathered)
CREATE OR REPLACE FUNCTION ff._history_keys_delete_trigger()
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

-- ff._history_segment_keys_of: the names of the segments an environment has had (1.10), each once,
--   for ff.rollback_environment to look each one up once: it looked up every version of them,
--   key list versions included, which was quadratic in the number of key list changes
CREATE OR REPLACE FUNCTION ff._history_segment_keys_of(environment text)
RETURNS TABLE (entity_key text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT v.entity_key FROM ff.versions AS v
     WHERE v.entity = 'segment' AND v.environment = $1
$$;

-- ff._history_keys_at: a segment's include/exclude key list as of a version, replayed from the
--   KEYS deltas
CREATE OR REPLACE FUNCTION ff._history_keys_at(environment text, segment text, at_version bigint)
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
                  HINT = 'Check the name; ff.history lists the recorded changes of each environment.';
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

COMMENT ON FUNCTION ff._history_summary(text, jsonb, jsonb, jsonb) IS
    'Internal: one line describing a version, e.g. "state: ENABLED -> DISABLED" (with an arrow, U+2192, where the encoding has one)';
COMMENT ON COLUMN ff.history.summary IS 'One-line description: created, deleted, "field: old -> new; ..." (with an arrow, U+2192), "keys: +n included, ..."';
COMMENT ON TABLE ff.environments IS
'Environments: each one is a flagd flag set with its own flags, segments and metadata; at most one is the default (is_default), used when no environment is named';
COMMENT ON FUNCTION ff._ellipsis() IS
    'Internal: an ellipsis, U+2026 in a UTF-8 or SQL_ASCII database and "..." in another';
COMMENT ON FUNCTION ff._history_keys_needed(text, text, bigint, bigint, boolean) IS
    'Internal: whether a statement''s change of a segment''s key list is recorded (not for a deleted segment, nor for the rows of a pg_dump restore)';
COMMENT ON FUNCTION ff._history_keys_too_large(text, text, bigint, bigint) IS
    'Internal: refuses a key list change whose delta is more than one jsonb array can hold, with a HINT';
COMMENT ON FUNCTION ff._history_segment_keys_of(text) IS
    'Internal: the names of the segments an environment has had, each once';
REVOKE ALL ON FUNCTION ff._history_keys_needed(text, text, bigint, bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_too_large(text, text, bigint, bigint) FROM PUBLIC;

CREATE OR REPLACE VIEW ff.history AS
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

-- ff.change_sets: one row per change-set.  The versions of a change-set are
-- consecutive (writers hold the writer lock until commit) and change_set is
-- the first of them, so each change-set is its first version plus the run
-- after it (1.10): "latest N" walks the primary key backwards and a lookup
-- by change_set is a key lookup.  1.9 grouped and sorted the whole history.
CREATE OR REPLACE VIEW ff.change_sets AS
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
