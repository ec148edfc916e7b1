--
-- 160_evaluation_stats: evaluation statistics (1.15) in a server where
-- feature_flags is not in shared_preload_libraries (this suite's server).
-- Counting, flushing, resets, restarts and privileges with the library
-- preloaded are tested in test/t/100_evaluation_stats.pl.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_flags;
SELECT (ff.create_flag('stats-flag', '{"on": true, "off": false}', 'on')).key;

-- evaluation works, and is not counted anywhere
SELECT ff.get_bool('stats-flag', '{}', false), ff.get_bool('no-such-flag', '{}', true);
SELECT (ff.evaluate_all('{}'))->'stats-flag'->>'variant' AS variant;

-- every statistics function says what is missing, with SQLSTATE 55000
SELECT * FROM ff.evaluation_stats;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM ff.evaluation_stats_info();
\echo :LAST_ERROR_SQLSTATE
SELECT ff.reset_evaluation_stats();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM ff.flag_usage;
\echo :LAST_ERROR_SQLSTATE

-- ff.track_evaluations can be set (it has no effect here); ff.stats_max_entries
-- exists only when the library is preloaded
SET ff.track_evaluations = off;
SHOW ff.track_evaluations;
RESET ff.track_evaluations;
SHOW ff.stats_max_entries;

-- nothing is PUBLIC's
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc AS p
 WHERE p.pronamespace = 'ff'::regnamespace AND p.proname ~ 'evaluation_stats'
 ORDER BY 1;
SELECT c.relname, has_table_privilege('public', c.oid, 'SELECT') AS public_select
  FROM pg_class AS c
 WHERE c.relnamespace = 'ff'::regnamespace AND c.relname IN ('evaluation_stats', 'flag_usage')
 ORDER BY 1;
