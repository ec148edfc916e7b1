-- ---------------------------------------------------------------------
-- flagd interoperability: ff.import_flagd and ff.export_flagd
--
-- A flagd flag-definition document ({"$schema", "metadata", "flags",
-- "$evaluators"}) maps onto one environment: "metadata" is the
-- environment's flag-set metadata, each member of "flags" one row of
-- ff.flags.  Shared rules ("$evaluators" + {"$ref": name}) are resolved on
-- import.  Segments are not a flagd concept: on export every in_segment
-- reference becomes plain JSON Logic (see ff._segment_as_jsonlogic).
-- ---------------------------------------------------------------------

-- ff._flagd_resolve_refs replaces every {"$ref": "name"} object inside a
-- rule by the named shared rule.  A reference that cannot be resolved (an
-- unknown name, a name that is not a string) is left in place, as flagd
-- leaves it: the rule then fails to compile, so ff.import_flagd stores the
-- flag with a WARNING and its evaluations return PARSE_ERROR.
CREATE FUNCTION ff._flagd_resolve_refs(node jsonb, evaluators jsonb, flag text, path text,
                                       depth integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref         jsonb;
    result      jsonb;
    parts       jsonb[];
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
        -- appended in place, one array at the end (1.11: a jsonb array grown
        -- element by element was quadratic in the array's length)
        parts := '{}';
        FOR i IN 0 .. jsonb_array_length(node) - 1 LOOP
            parts := array_append(parts,
                ff._flagd_resolve_refs(node -> i, evaluators, flag, path || '[' || i || ']', depth + 1));
        END LOOP;
        RETURN to_jsonb(parts);
    END IF;
    IF node ? '$ref' AND (SELECT count(*) FROM jsonb_object_keys(node)) = 1 THEN
        ref := node -> '$ref';
        IF jsonb_typeof(ref) <> 'string' OR evaluators IS NULL OR NOT evaluators ? (ref #>> '{}') THEN
            RETURN node;
        END IF;
        RETURN evaluators -> (ref #>> '{}');
    END IF;
    -- (1.20) one object at the end: grown member by member, it was copied
    -- for every member (quadratic in a large object variant's size)
    SELECT pg_catalog.json_object_agg(e.key,
               ff._flagd_resolve_refs(e.value, evaluators, flag, ff._json_path_member(path, e.key), depth + 1))::jsonb
      INTO result
      FROM jsonb_each(node) AS e;
    RETURN coalesce(result, '{}');
END;
$$;

COMMENT ON FUNCTION ff._flagd_resolve_refs(jsonb, jsonb, text, text, integer) IS
'Internal: replaces {"$ref": name} objects in a rule by the shared rules of a flagd document''s $evaluators';

-- ff.import_flagd loads a flagd flag-definition document into an
-- environment, atomically.
CREATE FUNCTION ff.import_flagd(document jsonb, environment text DEFAULT NULL, replace boolean DEFAULT false)
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

-- ff._flagd_unsafe_key_pattern: the targeting keys that flagd's text
-- substitution of $evaluators would change (1.25): a "$" (flagd Go expands
-- $name in the replacement) or anything JSON writes with a "\" (flagd Java
-- takes \ as an escape there): a backslash, a double quote, a control
-- character.
CREATE FUNCTION ff._flagd_unsafe_key_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '[$\\"[:cntrl:]]';

COMMENT ON FUNCTION ff._flagd_unsafe_key_pattern() IS
'Internal: the regular expression of the targeting keys flagd''s text substitution of $evaluators would change ($, \, ", control characters); ff.export_flagd keeps them out of $evaluators (1.25)';

-- ff._segment_key_tests returns the if-branches of a segment membership
-- test for an exclude and an include list of targeting keys:
-- [is a string key in excluded, false, is a string key in included, true],
-- each pair left out when its list is empty (1.25, from
-- ff._segment_as_jsonlogic).
CREATE FUNCTION ff._segment_key_tests(key_expression jsonb, excluded jsonb, included jsonb)
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

-- ff._flagd_is_string: plain JSON Logic that is true when key_expression
-- is a string (see ff._segment_key_tests).
CREATE FUNCTION ff._flagd_is_string(key_expression jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN pg_catalog.jsonb_build_object('if', pg_catalog.jsonb_build_array(
           pg_catalog.jsonb_build_object('===', pg_catalog.jsonb_build_array(key_expression, NULL::jsonb)), false,
           pg_catalog.jsonb_build_object('===', pg_catalog.jsonb_build_array(
               pg_catalog.jsonb_build_object('cat', pg_catalog.jsonb_build_array(key_expression)), key_expression))));

COMMENT ON FUNCTION ff._flagd_is_string(jsonb) IS
'Internal: plain JSON Logic true when an expression is a string, for exported segment tests (1.25)';

-- ff._segment_as_jsonlogic returns plain JSON Logic equivalent to
-- {"in_segment": [segment, key_expression]}: false for excluded keys, true
-- for included keys, otherwise the truthiness of the segment rule; without
-- a rule, false for a string key and null for any other key (1.10: the
-- rule decides for keys that are not strings, as in_segment does).
-- flagd_safe_keys (1.25): only the keys that flagd's substitution of
-- $evaluators keeps as they are (ff._flagd_unsafe_key_pattern); the export
-- tests the others where the flag refers to the $evaluators entry.
-- lists, rule (1.25): false leaves the lists out (the rule alone), or the
-- rule (the lists, then null: undecided), for an export that keeps a
-- segment's lists in its $evaluators entry and its rule in the flags.
CREATE FUNCTION ff._segment_as_jsonlogic(environment text, segment text, key_expression jsonb,
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

-- ff._flagd_inline_segments rewrites the in_segment operators of a rule
-- for flagd: {"in_segment": "s"} becomes {"$ref": "s"} when refs is not
-- NULL (the names used are added to refs), and inline JSON Logic
-- otherwise or when a key expression is given.
CREATE FUNCTION ff._flagd_inline_segments(node jsonb, environment text, INOUT refs text[],
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

-- ff._without_null_members returns an object without its members whose
-- value is JSON null (nested values are left as they are): metadata as
-- flagd's schema has it (string, number or boolean values) and as
-- evaluation reports it, which drops null members (1.18).
CREATE FUNCTION ff._without_null_members(obj jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(obj) <> 'object' THEN obj
                ELSE (SELECT coalesce(pg_catalog.jsonb_object_agg(m.key, m.value), '{}')
                        FROM pg_catalog.jsonb_each(obj) AS m
                       WHERE pg_catalog.jsonb_typeof(m.value) <> 'null') END
$$;

COMMENT ON FUNCTION ff._without_null_members(jsonb) IS
'Internal: an object without its members whose value is JSON null (metadata as flagd''s schema and evaluation have it) (1.18)';

-- ff.export_flagd returns an environment as a flagd flag-definition
-- document.
CREATE FUNCTION ff.export_flagd(environment text DEFAULT NULL)
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

REVOKE ALL ON FUNCTION ff.import_flagd(jsonb, text, boolean) FROM PUBLIC;
