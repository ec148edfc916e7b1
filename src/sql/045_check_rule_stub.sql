-- ---------------------------------------------------------------------
-- TEMPORARY stand-in for ff._check_rule
--
-- The real ff._check_rule(rule jsonb, label text) is a C function that
-- compiles the rule with the evaluator core (050_evaluate.sql replaces
-- this one with CREATE OR REPLACE).  This PL/pgSQL version only exists so
-- that the validation layer can be built and tested before the C side is
-- merged; the coordinator deletes this file at merge time.
--
-- Contract: raises invalid_parameter_value on an invalid rule, otherwise
-- returns {"segments": [...], "results": [...], "complete": bool}.
-- ---------------------------------------------------------------------

-- ff._check_rule validates a JSON Logic rule (stand-in: operator names
-- and in_segment arguments only) and describes it.
CREATE FUNCTION ff._check_rule(rule jsonb, label text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w           record;
    segments    jsonb := '[]';
    results     jsonb := '[]';
    complete    boolean := true;
    known       text[] := ARRAY['var', 'missing', 'missing_some', 'if', '==', '===', '!=', '!==',
                                '>', '>=', '<', '<=', '!', '!!', 'and', 'or', '+', '-', '*', '/', '%',
                                'min', 'max', 'cat', 'substr', 'in', 'merge', 'map', 'filter', 'reduce',
                                'all', 'some', 'none', 'fractional', 'sem_ver', 'starts_with',
                                'ends_with', 'in_segment'];
BEGIN
    FOR w IN SELECT * FROM ff._rule_walk(rule, '$', true) LOOP
        IF w.item_kind = 'operator' AND NOT (w.item_value #>> '{}') = ANY (known) THEN
            RAISE EXCEPTION 'invalid %: unknown operator "%" at %', label, w.item_value #>> '{}', w.item_path
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Supported operators are the JSON Logic operators of flagd plus fractional, sem_ver, starts_with, ends_with and in_segment.';
        ELSIF w.item_kind = 'segment' THEN
            IF jsonb_typeof(w.item_value) IS DISTINCT FROM 'string' THEN
                RAISE EXCEPTION 'invalid %: in_segment needs a segment name at %', label, w.item_path
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Write {"in_segment": "name"} or {"in_segment": ["name", keyExpression]}.';
            END IF;
            IF NOT segments @> jsonb_build_array(w.item_value) THEN
                segments := segments || jsonb_build_array(w.item_value);
            END IF;
        ELSIF w.item_kind = 'result' THEN
            IF NOT results @> jsonb_build_array(w.item_value) THEN
                results := results || jsonb_build_array(w.item_value);
            END IF;
        ELSIF w.item_kind = 'open' THEN
            complete := false;
        END IF;
    END LOOP;
    RETURN jsonb_build_object('segments', segments, 'results', results, 'complete', complete);
END;
$$;

COMMENT ON FUNCTION ff._check_rule(jsonb, text) IS
'Internal: compiles a JSON Logic rule; ERROR when invalid, otherwise {"segments": [...], "results": [...], "complete": bool} (temporary PL/pgSQL stand-in)';
