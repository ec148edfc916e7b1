--
-- 220_conformance: the jsonlogic.com conformance list (277 cases), read
-- from ../shared/conformance/jsonlogic/tests.json (relative to the
-- repository root), through ff.json_logic.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS feature_flags;

-- the repository root is the working directory of pg_regress; the shared
-- directory sits next to it (or next to the worktrees' parent directory)
\set conf `for d in "$PWD/../shared" "$PWD/../../shared"; do if [ -f "$d/conformance/jsonlogic/tests.json" ]; then echo "$d/conformance/jsonlogic/tests.json"; exit 0; fi; done; echo "$PWD/../shared/conformance/jsonlogic/tests.json"`
SELECT (pg_stat_file(:'conf', true)).size IS NOT NULL AS conformance_file_present \gset
\if :conformance_file_present
\else
\echo 'MISSING: ../shared/conformance/jsonlogic/tests.json was not found next to the repository; this test cannot run'
\quit
\endif

CREATE TEMP TABLE conformance AS
SELECT ord, c -> 0 AS rule, c -> 1 AS data, c -> 2 AS expected
  FROM jsonb_array_elements(pg_read_file(:'conf')::jsonb) WITH ORDINALITY AS t(c, ord)
 WHERE jsonb_typeof(c) = 'array';

-- ff.json_logic raises on invalid rules; record the error instead
CREATE FUNCTION pg_temp.try_json_logic(rule jsonb, data jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN ff.json_logic(rule, data);
EXCEPTION WHEN OTHERS THEN
    RETURN jsonb_build_object('ERROR', SQLERRM);
END;
$$;

CREATE TEMP TABLE conformance_results AS
SELECT ord, rule, data, expected, pg_temp.try_json_logic(rule, data) AS got
  FROM conformance;

SELECT count(*) AS cases,
       count(*) FILTER (WHERE got = expected) AS passed,
       count(*) FILTER (WHERE got IS DISTINCT FROM expected) AS failed
  FROM conformance_results;

-- every failure, if any
SELECT ord, rule::text, data::text, expected::text, got::text
  FROM conformance_results
 WHERE got IS DISTINCT FROM expected
 ORDER BY ord;
