-- feature_flags 1.3 -> 1.4 (ALTER EXTENSION feature_flags UPDATE TO '1.4')
--
-- 1.4 loads every flagd document that flagd loads.  A flag whose targeting
-- flagd would load but cannot evaluate (an unknown operator, a "$ref" to
-- an evaluator the document does not define, a literal result that is not
-- a variant) used to make ff.import_flagd fail as a whole; it is now stored
-- with a WARNING, and its evaluations return the caller's default with
-- reason ERROR (PARSE_ERROR, or GENERAL for a result that is not a
-- variant), as flagd's do.  What changes:
--   * the GUC ff.invalid_targeting (error | warning, default error; in the
--     1.4 library) decides what a write of ff.flags does with such
--     targeting; direct writes still refuse it by default;
--   * ff.import_flagd, ff.copy_environment, ff.copy_flag and the rollbacks
--     (ff._history_restore) run with ff.invalid_targeting = warning;
--   * ff._flagd_resolve_refs leaves an unresolvable "$ref" in place, and
--     ff.import_flagd no longer refuses an evaluator that contains one
--     (flagd resolves one level; the flags using it fail at evaluation);
--   * ff._rule_compile_error (C): why a rule does not compile, without
--     raising; only unknown operators are stored, schema violations (an
--     operator call of the wrong shape) are refused as before;
--   * ff._rule_segment_names: the segments a stored flag rule references,
--     read by its shape when it does not compile, for ff.copy_flag and for
--     the check that refuses to delete a segment still in use.
-- No table, row or history changes.
\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.4'" to load this file. \quit


CREATE FUNCTION ff._rule_compile_error(rule pg_catalog.jsonb)
RETURNS pg_catalog.text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_rule_compile_error';
COMMENT ON FUNCTION ff._rule_compile_error(pg_catalog.jsonb) IS
    'Internal: why a flag rule does not compile (unknown_operator, bad_arguments, too_deep, too_large), or NULL; never raises';


CREATE FUNCTION ff._rule_segment_names(rule jsonb, label text)
RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._rule_compile_error(rule) IS NULL THEN
        RETURN (ff._rule_info(rule, label)).segments;
    END IF;
    RETURN ARRAY(SELECT DISTINCT w.item_value #>> '{}' FROM ff._rule_walk(rule, '$', true) AS w
                  WHERE w.item_kind = 'segment' AND jsonb_typeof(w.item_value) = 'string'
                  ORDER BY 1);
END;
$$;

COMMENT ON FUNCTION ff._rule_segment_names(jsonb, text) IS
'Internal: segments referenced by a stored flag rule; a rule that does not compile is read by its shape';


CREATE OR REPLACE FUNCTION ff._segment_users(environment text, segment text)
RETURNS TABLE (kind text, name text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r           record;
BEGIN
    FOR r IN SELECT f.key, f.targeting FROM ff.flags AS f
              WHERE f.environment = _segment_users.environment
                AND f.targeting IS NOT NULL
                AND strpos(f.targeting::text, '"in_segment"') > 0
                AND strpos(f.targeting::text, to_jsonb(segment)::text) > 0
              ORDER BY f.key
    LOOP
        IF segment = ANY (ff._rule_segment_names(r.targeting,
                format('targeting for flag "%s" in environment "%s"', r.key, environment))) THEN
            kind := 'flag';
            name := r.key;
            RETURN NEXT;
        END IF;
    END LOOP;
    FOR r IN SELECT s.name, s.rule FROM ff.segments AS s
              WHERE s.environment = _segment_users.environment
                AND s.name <> segment
                AND s.rule IS NOT NULL
                AND strpos(s.rule::text, '"in_segment"') > 0
                AND strpos(s.rule::text, to_jsonb(segment)::text) > 0
              ORDER BY s.name
    LOOP
        IF segment = ANY ((ff._rule_info(r.rule,
                format('rule of segment "%s" in environment "%s"', r.name, environment))).segments) THEN
            kind := 'segment';
            name := r.name;
            RETURN NEXT;
        END IF;
    END LOOP;
END;
$$;


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
        -- caller's default with reason ERROR, as in flagd
        lenient := current_setting('ff.invalid_targeting', true) = 'warning';
        -- an INSERT ... ON CONFLICT DO UPDATE (ff.import_flagd, the copies)
        -- of an existing flag is checked again as an UPDATE: warn once
        quiet := false;
        IF lenient AND is_new THEN
            quiet := EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = NEW.environment AND f.key = NEW.key);
        END IF;
        -- flagd stores an unknown operator (or an unresolved $ref) and fails
        -- at evaluation; a schema violation (an operator call of the wrong
        -- shape, a bad sem_ver operator or fractional weight, an unknown
        -- $flagd property, too deep a rule) is refused as always, below
        IF lenient THEN
            compiled := ff._rule_compile_error(NEW.targeting) IS DISTINCT FROM 'unknown_operator';
        END IF;
        IF NOT compiled THEN
            IF NOT quiet THEN
                BEGIN
                    PERFORM ff._check_rule(NEW.targeting, format('targeting for %s', label));
                EXCEPTION WHEN invalid_parameter_value THEN
                    GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT, err_hint = PG_EXCEPTION_HINT;
                    RAISE WARNING '%', err_msg
                        USING DETAIL = 'The flag is stored because ff.invalid_targeting is "warning"; its evaluations return the caller''s default with reason ERROR and error code PARSE_ERROR.',
                              HINT = err_hint;
                END;
            END IF;
        ELSE
            info := ff._rule_info(NEW.targeting, format('targeting for %s', label));
        END IF;
        IF compiled THEN
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


CREATE OR REPLACE FUNCTION ff.copy_flag(key text, from_environment text, to_environment text,
                             overwrite boolean DEFAULT false, new_key text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'warning'
AS $$
#variable_conflict use_column
DECLARE
    src_env     text := ff._resolve_environment(from_environment);
    dst_env     text := ff._resolve_environment(to_environment);
    src         ff.flags := ff._flag_row(copy_flag.key, src_env);
    dst_key     text := COALESCE(new_key, copy_flag.key);
    result      ff.flags;
BEGIN
    IF src_env = dst_env AND dst_key = src.key THEN
        RAISE EXCEPTION 'cannot copy flag "%" onto itself in environment "%"', src.key, src_env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name another environment, or a new key with new_key => ''...''.';
    END IF;
    IF NOT overwrite AND EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = dst_env AND f.key = dst_key) THEN
        RAISE EXCEPTION 'flag "%" already exists in environment "%"', dst_key, dst_env
            USING ERRCODE = 'unique_violation',
                  HINT = 'Pass overwrite => true to replace it.';
    END IF;
    IF src.targeting IS NOT NULL AND src_env <> dst_env THEN
        PERFORM ff._copy_segments(src_env, dst_env,
            ARRAY(SELECT s FROM unnest(ff._rule_segment_names(src.targeting,
                      format('targeting for flag "%s" in environment "%s"', src.key, src_env))) AS s
                   WHERE NOT EXISTS (SELECT 1 FROM ff.segments AS g WHERE g.environment = dst_env AND g.name = s)),
            false);
    END IF;
    INSERT INTO ff.flags AS t (environment, key, state, flag_type, variants, default_variant, targeting,
                               metadata, description, tags, owner)
    VALUES (dst_env, dst_key, src.state, src.flag_type, src.variants, src.default_variant, src.targeting,
            src.metadata, src.description, src.tags, src.owner)
    ON CONFLICT (environment, key) DO UPDATE
       SET state = EXCLUDED.state, flag_type = EXCLUDED.flag_type, variants = EXCLUDED.variants,
           default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
           metadata = EXCLUDED.metadata, description = EXCLUDED.description,
           tags = EXCLUDED.tags, owner = EXCLUDED.owner
    RETURNING * INTO result;
    RETURN result;
END;
$$;


CREATE OR REPLACE FUNCTION ff._flagd_resolve_refs(node jsonb, evaluators jsonb, flag text, path text,
                                       depth integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref         jsonb;
    result      jsonb;
    m           record;
    i           integer;
BEGIN
    IF node IS NULL OR jsonb_typeof(node) NOT IN ('object', 'array')
       OR strpos(node::text, '"$ref"') = 0 THEN
        RETURN node;
    END IF;
    -- the rule compiler's own limit, checked before PL/pgSQL recursion
    -- runs out of stack
    IF depth >= 256 THEN
        RAISE EXCEPTION 'invalid targeting for flag "%": rule nesting exceeds the maximum depth of 256 at %', flag, path
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Reduce the nesting depth of the rule.';
    END IF;
    IF jsonb_typeof(node) = 'array' THEN
        result := '[]';
        FOR i IN 0 .. jsonb_array_length(node) - 1 LOOP
            result := result || jsonb_build_array(
                ff._flagd_resolve_refs(node -> i, evaluators, flag, path || '[' || i || ']', depth + 1));
        END LOOP;
        RETURN result;
    END IF;
    IF node ? '$ref' AND (SELECT count(*) FROM jsonb_object_keys(node)) = 1 THEN
        ref := node -> '$ref';
        IF jsonb_typeof(ref) <> 'string' OR evaluators IS NULL OR NOT evaluators ? (ref #>> '{}') THEN
            RETURN node;
        END IF;
        RETURN evaluators -> (ref #>> '{}');
    END IF;
    result := '{}';
    FOR m IN SELECT e.key, e.value FROM jsonb_each(node) AS e LOOP
        result := result || jsonb_build_object(m.key,
            ff._flagd_resolve_refs(m.value, evaluators, flag, ff._json_path_member(path, m.key), depth + 1));
    END LOOP;
    RETURN result;
END;
$$;


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
    parsed      jsonb[] := '{}';
    written     integer := 0;
    n           integer;
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
                  HINT = 'The document needs a "flags" object mapping flag keys to flag definitions.';
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
        SELECT jsonb_object_agg(a ->> 'key', a - 'key') INTO flags FROM jsonb_array_elements(flags) AS a;
        flags := COALESCE(flags, '{}');
    ELSIF jsonb_typeof(flags) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: $.flags is a JSON %, not an object', jsonb_typeof(flags)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The document needs a "flags" object mapping flag keys to flag definitions.';
    END IF;

    -- shared rules
    evaluators := document -> '$evaluators';
    IF evaluators IS NOT NULL AND jsonb_typeof(evaluators) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: $."$evaluators" is a JSON %, not an object', jsonb_typeof(evaluators)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '"$evaluators" maps names to JSON Logic rules that flags reference with {"$ref": "name"}.';
    END IF;
    -- flag-set metadata
    IF document ? 'metadata' THEN
        PERFORM ff._check_metadata(document -> 'metadata', 'the flag set of the document', '$.metadata');
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
        dv := f ->> 'defaultVariant';
        tg := ff._flagd_resolve_refs(f -> 'targeting', evaluators, fl.key, fpath || '.targeting');
        md := COALESCE(f -> 'metadata', '{}');
        -- appended in place (a jsonb array would be copied for every flag)
        parsed := array_append(parsed, jsonb_build_object(
            'key', fl.key, 'state', f -> 'state', 'variants', f -> 'variants',
            'defaultVariant', dv, 'targeting', tg, 'metadata', md));
    END LOOP;

    -- write: unchanged flags are left alone (no new version, no history)
    FOREACH f IN ARRAY parsed LOOP
        tg := f -> 'targeting';
        IF tg = 'null'::jsonb OR tg = '{}'::jsonb THEN
            tg := NULL;
        END IF;
        INSERT INTO ff.flags AS t (environment, key, state, variants, default_variant, targeting, metadata)
        VALUES (env, f ->> 'key', f ->> 'state', f -> 'variants', f ->> 'defaultVariant', tg, f -> 'metadata')
        ON CONFLICT (environment, key) DO UPDATE
           SET state = EXCLUDED.state, variants = EXCLUDED.variants,
               flag_type = CASE WHEN t.variants = EXCLUDED.variants THEN t.flag_type END,
               default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
               metadata = EXCLUDED.metadata
         WHERE (t.state, t.variants, t.default_variant, t.targeting, t.metadata)
               IS DISTINCT FROM
               (EXCLUDED.state, EXCLUDED.variants, EXCLUDED.default_variant, EXCLUDED.targeting, EXCLUDED.metadata);
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END LOOP;

    IF replace THEN
        DELETE FROM ff.flags AS t WHERE t.environment = env AND NOT flags ? t.key;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END IF;

    IF document ? 'metadata' THEN
        UPDATE ff.environments AS e SET metadata = document -> 'metadata'
         WHERE e.name = env AND e.metadata IS DISTINCT FROM document -> 'metadata';
    END IF;
    RETURN written;
END;
$$;


ALTER FUNCTION ff.copy_environment(text, text, boolean) SET ff.invalid_targeting = 'warning';
ALTER FUNCTION ff._history_restore(text, text, text, bigint) SET ff.invalid_targeting = 'warning';
