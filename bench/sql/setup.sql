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
CREATE FUNCTION ffbench.scale_flag(k integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT pg_catalog.jsonb_build_object(
    'state', 'ENABLED',
    'variants', pg_catalog.jsonb_build_object('on', true, 'off', false),
    'defaultVariant', 'off',
    'targeting', pg_catalog.jsonb_build_object('if', pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('ends_with', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('var', 'email'), '@corp-' || k || '.test')), 'on',
        pg_catalog.jsonb_build_object('starts_with', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('var', 'targetingKey'), 'tester-' || k || '-')), 'on',
        pg_catalog.jsonb_build_object('in', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('var', 'country'), pg_catalog.jsonb_build_array('XA', 'XB', 'X' || k))), 'on',
        pg_catalog.jsonb_build_object('==', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('var', 'plan'), 'plan-' || k)), 'on',
        pg_catalog.jsonb_build_object('sem_ver', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('var', 'app_version'), '>=', '9.' || (k % 10) || '.0')), 'on',
        pg_catalog.jsonb_build_object('and', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('==', pg_catalog.jsonb_build_array(
                pg_catalog.jsonb_build_object('var', 'country'), 'DE')),
            pg_catalog.jsonb_build_object('==', pg_catalog.jsonb_build_array(
                pg_catalog.jsonb_build_object('var', 'plan'), 'enterprise-' || k)))), 'on',
        pg_catalog.jsonb_build_object('in', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('var', 'targetingKey'),
            pg_catalog.jsonb_build_array('vip-' || k, 'vip-' || (k + 1)))), 'on',
        pg_catalog.jsonb_build_object('>', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('var', 'age'), 200 + k)), 'on',
        pg_catalog.jsonb_build_object('==', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('var', 'email'), 'x' || k || '@nowhere.test')), 'on',
        pg_catalog.jsonb_build_object('fractional', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('var', 'targetingKey'),
            pg_catalog.jsonb_build_array('on', 10), pg_catalog.jsonb_build_array('off', 90))))))
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
