-- feature_flags 1.6 -> 1.7 (ALTER EXTENSION feature_flags UPDATE TO '1.7')
--
-- 1.7 loads flagd documents that flagd loads.  flagd's schema forbids some
-- calls of flagd's own operators -- starts_with/ends_with without 2 and
-- sem_ver without 3 arguments, a sem_ver operator outside the eight, a
-- literal fractional weight that is negative or not whole, an unknown
-- $flagd property -- but flagd loads a document that has them and
-- evaluates such a call to null (a negative weight counts as 0).  Under
-- ff.invalid_targeting = 'warning' (always in ff.import_flagd, the copy
-- functions and rollbacks) such a flag is now stored with a WARNING and
-- evaluates as in flagd; with 'error' (the default for direct writes) it is
-- refused as before.  The library compiles every stored flag rule that way
-- (a rule refused by the checks of 1.6 and earlier never reaches it).
-- What this script changes:
--   * ff._check_rule(rule, label, flagd): new, compiles as flagd loads;
--   * ff._rule_info gains the argument flagd (default false);
--   * ff._rule_compile_error also answers flagd_call (the library's);
--   * ff._validate_flag_general stores a flagd_call rule with a WARNING,
--     and a pg_dump script's rows as they were stored (a flag stored with a
--     WARNING made the COPY of ff.flags fail, and a restore lost every
--     flag);
--   * ff.export_flagd writes a segment inline, instead of as an $evaluators
--     entry, in the flags that use it when a flag keeps an unresolved $ref
--     of the same name (which the entry would resolve).
-- No table is touched, so the update takes no lock that writers wait for.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.7'" to load this file. \quit

CREATE FUNCTION ff._check_rule(
    rule            pg_catalog.jsonb,
    label           pg_catalog.text,
    flagd           pg_catalog.bool)
RETURNS pg_catalog.jsonb
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_check_rule';
COMMENT ON FUNCTION ff._check_rule(pg_catalog.jsonb, pg_catalog.text, pg_catalog.bool) IS
    'Internal: ff._check_rule(rule, label), compiling a flag rule as flagd loads it when flagd is true';

COMMENT ON FUNCTION ff._rule_compile_error(pg_catalog.jsonb) IS
    'Internal: why a flag rule does not compile (unknown_operator, flagd_call, bad_arguments, too_deep, too_large), or NULL; never raises';

DROP FUNCTION ff._rule_info(jsonb, text);

CREATE FUNCTION ff._rule_info(rule jsonb, label text, flagd boolean DEFAULT false,
                              OUT segments text[], OUT results jsonb, OUT complete boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    info        jsonb;
BEGIN
    info := ff._check_rule(rule, label, flagd);
    segments := ARRAY(SELECT DISTINCT s FROM jsonb_array_elements_text(COALESCE(info -> 'segments', '[]')) AS s ORDER BY s);
    results := COALESCE(info -> 'results', '[]');
    complete := COALESCE((info ->> 'complete')::boolean, false);
END;
$$;

COMMENT ON FUNCTION ff._rule_info(jsonb, text, boolean) IS
'Internal: compiles a rule with ff._check_rule (flagd: as flagd loads a flag rule) and returns its segment references, literal results and completeness';

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

    IF NEW.state IS NOT NULL AND NEW.state NOT IN ('ENABLED', 'DISABLED') THEN
        RAISE EXCEPTION 'invalid state "%" for %', NEW.state, label
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The problem is at $.state.',
                  HINT = 'The state is ''ENABLED'' or ''DISABLED'' (upper case); ff.enable_flag() and ff.disable_flag() set it.';
    END IF;

    -- variants and flag type
    IF is_new OR NEW.variants IS DISTINCT FROM OLD.variants
       OR NEW.flag_type IS DISTINCT FROM OLD.flag_type THEN
        IF NEW.variants IS NULL THEN
            RETURN NEW;         -- the NOT NULL constraint reports it
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
                    USING DETAIL = CASE WHEN compiled
                        THEN 'The flag is stored because ff.invalid_targeting is "warning", as flagd loads it; the call evaluates as in flagd: to null, and a negative whole weight counts as 0.'
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

CREATE OR REPLACE FUNCTION ff.export_flagd(environment text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(export_flagd.environment);
    flags       jsonb := '{}';
    evaluators  jsonb := '{}';
    refs        text[] := '{}';
    fl          record;
    sub         record;
    obj         jsonb;
    seg         text;
    dangling    text[];
BEGIN
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
        IF fl.targeting IS NOT NULL AND dangling <> '{}' AND EXISTS (
               SELECT 1 FROM jsonb_path_query(fl.targeting, 'lax $.**.in_segment') AS a
                WHERE COALESCE(a ->> 0, a #>> '{}') = ANY (dangling)) THEN
            obj := obj || jsonb_build_object('targeting',
                                             (ff._flagd_inline_segments(fl.targeting, env, NULL)).rule);
        ELSIF fl.targeting IS NOT NULL THEN
            sub := ff._flagd_inline_segments(fl.targeting, env, refs);
            refs := sub.refs;
            obj := obj || jsonb_build_object('targeting', sub.rule);
        END IF;
        IF fl.metadata <> '{}'::jsonb THEN
            obj := obj || jsonb_build_object('metadata', fl.metadata);
        END IF;
        flags := flags || jsonb_build_object(fl.key, obj);
    END LOOP;
    FOREACH seg IN ARRAY refs LOOP
        evaluators := evaluators || jsonb_build_object(seg,
            ff._segment_as_jsonlogic(env, seg, '{"var": "targetingKey"}'));
    END LOOP;
    obj := jsonb_build_object('$schema', 'https://flagd.dev/schema/v0/flags.json',
                              'metadata', (SELECT e.metadata FROM ff.environments AS e WHERE e.name = env),
                              'flags', flags);
    IF evaluators <> '{}' THEN
        obj := obj || jsonb_build_object('$evaluators', evaluators);
    END IF;
    RETURN obj;
END;
$$;
