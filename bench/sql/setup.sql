-- bench/sql/setup.sql
--	  Helper objects of the feature_flags benchmark (schema ffbench).
--
-- Loaded by bench/run.sh into its scratch database after CREATE EXTENSION
-- feature_flags; never part of the extension.  Idempotent.

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS ffbench CASCADE;
CREATE SCHEMA ffbench;
COMMENT ON SCHEMA ffbench IS 'feature_flags benchmark helpers (bench/sql/setup.sql)';

-- ffbench.variant: the (text, jsonb) -> text shape that the peer harness
-- /work/shared/bench/pg/run.sh expects as EVAL_FN: the variant chosen by
-- ff.evaluate (the full OpenFeature path, not the getter fast path).
CREATE FUNCTION ffbench.variant(flag text, ctx jsonb) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT (ff.evaluate(flag, ctx)).variant $$;
COMMENT ON FUNCTION ffbench.variant(text, jsonb) IS
    'variant of ff.evaluate(flag, ctx): the EVAL_FN shape of the peer harness';

-- ffbench.scale_flag: one boolean flag with ten targeting rules, none of
-- which matches a workload context before the last one (a fractional
-- split), so every evaluation walks all ten.  k makes each flag distinct.
-- (built as text and cast: nested jsonb_build_object calls are ~15x slower)
CREATE FUNCTION ffbench.scale_flag(k integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT pg_catalog.format('{"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off", "targeting": {"if": [{"ends_with": [{"var": "email"}, "@corp-%1$s.test"]}, "on", {"starts_with": [{"var": "targetingKey"}, "tester-%1$s-"]}, "on", {"in": [{"var": "country"}, ["XA", "XB", "X%1$s"]]}, "on", {"==": [{"var": "plan"}, "plan-%1$s"]}, "on", {"sem_ver": [{"var": "app_version"}, ">=", "9.%2$s.0"]}, "on", {"and": [{"==": [{"var": "country"}, "DE"]}, {"==": [{"var": "plan"}, "enterprise-%1$s"]}]}, "on", {"in": [{"var": "targetingKey"}, ["vip-%1$s", "vip-%3$s"]]}, "on", {">": [{"var": "age"}, %4$s]}, "on", {"==": [{"var": "email"}, "x%1$s@nowhere.test"]}, "on", {"fractional": [{"var": "targetingKey"}, ["on", 10], ["off", 90]]}]}}',
    k, k % 10, k + 1, 200 + k)::jsonb
$$;
COMMENT ON FUNCTION ffbench.scale_flag(integer) IS
    'flagd definition of one synthetic boolean flag with 10 targeting rules (scale benchmark)';

-- ffbench.scale_key: the key of synthetic flag k ("f000042")
CREATE FUNCTION ffbench.scale_key(k integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 'f' || pg_catalog.lpad(k::text, 6, '0') $$;
COMMENT ON FUNCTION ffbench.scale_key(integer) IS 'key of synthetic flag k';

-- ffbench.scale_doc: a flagd document with the synthetic flags lo..hi
CREATE FUNCTION ffbench.scale_doc(lo integer, hi integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT pg_catalog.jsonb_build_object('flags',
    pg_catalog.jsonb_object_agg(ffbench.scale_key(k), ffbench.scale_flag(k)))
FROM pg_catalog.generate_series(lo, hi) AS k
$$;
COMMENT ON FUNCTION ffbench.scale_doc(integer, integer) IS
    'flagd document holding the synthetic 10-rule flags number lo..hi (f000001..)';

-- ffbench.bool_doc: a flagd document with n static boolean flags <prefix>1..n
CREATE FUNCTION ffbench.bool_doc(prefix text, n integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT pg_catalog.jsonb_build_object('flags',
    pg_catalog.jsonb_object_agg(prefix || k, pg_catalog.jsonb_build_object(
        'state', 'ENABLED',
        'variants', pg_catalog.jsonb_build_object('on', true, 'off', false),
        'defaultVariant', 'off')))
FROM pg_catalog.generate_series(1, n) AS k
$$;
COMMENT ON FUNCTION ffbench.bool_doc(text, integer) IS
    'flagd document holding n boolean flags without targeting (write benchmark)';
