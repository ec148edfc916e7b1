-- 010_schema.sql — pgTAP: the objects of schema ff exist, have the public
-- contract's shapes, and explain themselves (COMMENT on everything).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION feature_flags;

SELECT plan(31);

SELECT has_schema('ff', 'schema ff exists');
SELECT has_table('ff', 'environments', 'table ff.environments');
SELECT has_table('ff', 'flags', 'table ff.flags');
SELECT has_table('ff', 'segments', 'table ff.segments');
SELECT has_table('ff', 'segment_keys', 'table ff.segment_keys');
SELECT has_table('ff', 'versions', 'table ff.versions (history)');
SELECT has_table('ff', '_cache_signal', 'table ff._cache_signal (cache invalidation signal)');
SELECT is((SELECT relnatts FROM pg_class WHERE oid = 'ff._cache_signal'::regclass), 0::int2,
          'ff._cache_signal has no columns: it never holds data');
SELECT col_is_pk('ff', 'flags', ARRAY['environment', 'key'], 'flags are keyed by (environment, key)');
SELECT col_is_pk('ff', 'segment_keys', ARRAY['environment', 'segment', 'targeting_key'],
                 'segment keys are one row per key');

-- the public contract of issue #3
SELECT has_type('ff', 'evaluation_details', 'type ff.evaluation_details');
SELECT is(
    (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
       FROM pg_attribute
      WHERE attrelid = 'ff.evaluation_details'::regclass AND attnum > 0 AND NOT attisdropped),
    'flag_key text, value jsonb, variant text, reason text, error_code text, error_message text, flag_metadata jsonb',
    'ff.evaluation_details has the OpenFeature columns in order');
SELECT function_returns('ff', 'evaluate', ARRAY['text', 'jsonb', 'jsonb', 'text'], 'ff.evaluation_details',
                        'ff.evaluate(text, jsonb, jsonb, text) returns ff.evaluation_details');
SELECT function_returns('ff', 'get_bool', ARRAY['text', 'jsonb', 'boolean', 'text'], 'boolean', 'ff.get_bool');
SELECT function_returns('ff', 'get_string', ARRAY['text', 'jsonb', 'text', 'text'], 'text', 'ff.get_string');
SELECT function_returns('ff', 'get_int', ARRAY['text', 'jsonb', 'bigint', 'text'], 'bigint', 'ff.get_int');
SELECT function_returns('ff', 'get_float', ARRAY['text', 'jsonb', 'double precision', 'text'],
                        'double precision', 'ff.get_float');
SELECT function_returns('ff', 'get_object', ARRAY['text', 'jsonb', 'jsonb', 'text'], 'jsonb', 'ff.get_object');
SELECT function_returns('ff', 'evaluate_all', ARRAY['jsonb', 'text'], 'jsonb', 'ff.evaluate_all');
SELECT function_returns('ff', 'json_logic', ARRAY['jsonb', 'jsonb'], 'jsonb', 'ff.json_logic');
SELECT function_returns('ff', 'bucket', ARRAY['text', 'text', 'integer'], 'integer', 'ff.bucket');
SELECT function_returns('ff', 'import_flagd', ARRAY['jsonb', 'text', 'boolean'], 'integer', 'ff.import_flagd');
SELECT function_returns('ff', 'export_flagd', ARRAY['text'], 'jsonb', 'ff.export_flagd');
SELECT function_returns('ff', 'current_version', ARRAY[]::text[], 'bigint', 'ff.current_version');

-- evaluation functions are STABLE and PARALLEL SAFE
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text
        FROM pg_proc p
       WHERE p.pronamespace = 'ff'::regnamespace
         AND p.proname IN ('evaluate', 'get_bool', 'get_string', 'get_int', 'get_float',
                           'get_object', 'evaluate_all')
         AND (p.provolatile <> 's' OR p.proparallel <> 's')$$,
    'evaluation functions are STABLE and PARALLEL SAFE');

-- everything explains itself in \d+ and \df+
SELECT is_empty(
    $$SELECT c.relname::text FROM pg_class c
       WHERE c.relnamespace = 'ff'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
         AND obj_description(c.oid, 'pg_class') IS NULL$$,
    'every table and view in ff has a COMMENT');
SELECT is_empty(
    $$SELECT c.relname || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
       WHERE c.relnamespace = 'ff'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p')
         AND a.attnum > 0 AND NOT a.attisdropped
         AND col_description(c.oid, a.attnum) IS NULL$$,
    'every column of every table and view in ff has a COMMENT');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_proc p
       WHERE p.pronamespace = 'ff'::regnamespace
         AND obj_description(p.oid, 'pg_proc') IS NULL$$,
    'every function in ff has a COMMENT');

-- security conventions
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_proc p
       WHERE p.pronamespace = 'ff'::regnamespace AND p.prosecdef
         AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)$$,
    'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp');
SELECT is_empty(
    $$SELECT table_name || ':' || privilege_type FROM information_schema.role_table_grants
       WHERE table_schema = 'ff' AND grantee = 'PUBLIC'
         AND privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')$$,
    'PUBLIC cannot write any ff table');
SELECT is_empty(
    $$SELECT c.relname::text FROM pg_class c
       WHERE c.relnamespace = 'ff'::regnamespace AND c.relkind = 'r'
         AND NOT EXISTS (SELECT 1 FROM pg_extension e
                          WHERE e.extname = 'feature_flags' AND c.oid = ANY (e.extconfig))$$,
    'every ff table is registered with pg_extension_config_dump');

SELECT * FROM finish();
ROLLBACK;
