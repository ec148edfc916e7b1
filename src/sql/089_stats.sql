
-- ---------------------------------------------------------------------
-- Evaluation statistics (1.15; src/ff_stats.c)
-- ---------------------------------------------------------------------
--
-- Every evaluation by ff.evaluate, the getters, their _row forms and
-- ff.evaluate_all is counted per environment, flag key, variant, reason and
-- error code, in shared memory (feature_flags must be in
-- shared_preload_libraries).  Point-in-time evaluation, drafts and
-- ff.json_logic are not counted.  Readable by editors and admins, reset by
-- admins; nothing for PUBLIC.

-- ff.evaluation_stats: the counts of the current database
CREATE FUNCTION ff.evaluation_stats(
    OUT environment text,
    OUT flag_key text,
    OUT variant text,
    OUT reason text,
    OUT error_code text,
    OUT evaluations bigint,
    OUT first_evaluated timestamptz,
    OUT last_evaluated timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ff_evaluation_stats';

COMMENT ON FUNCTION ff.evaluation_stats() IS
'Evaluations counted per environment, flag key, variant, reason and error code in the current database (needs feature_flags in shared_preload_libraries)';
REVOKE ALL ON FUNCTION ff.evaluation_stats() FROM PUBLIC;

CREATE VIEW ff.evaluation_stats WITH (security_invoker = true) AS
    SELECT s.environment, s.flag_key, s.variant, s.reason, s.error_code,
           s.evaluations, s.first_evaluated, s.last_evaluated
      FROM ff.evaluation_stats() AS s;

COMMENT ON VIEW ff.evaluation_stats IS
'Evaluations counted per environment, flag key, variant, reason and error code (variant NULL: the caller''s default was returned); last_evaluated is accurate to about a second';
COMMENT ON COLUMN ff.evaluation_stats.environment IS 'Environment the evaluation asked for (the default one by its name); NULL with flag_key NULL: the missing keys over the cap, together';
COMMENT ON COLUMN ff.evaluation_stats.flag_key IS 'Flag key the evaluation asked for (also keys that do not exist: error_code FLAG_NOT_FOUND, with entries of their own up to a tenth of ff.stats_max_entries per database); cut to 200 bytes';
COMMENT ON COLUMN ff.evaluation_stats.variant IS 'Variant returned; NULL when the caller''s default was returned (DISABLED, ERROR, no default variant)';
COMMENT ON COLUMN ff.evaluation_stats.reason IS 'STATIC, DEFAULT, TARGETING_MATCH, DISABLED or ERROR';
COMMENT ON COLUMN ff.evaluation_stats.error_code IS 'For reason ERROR: FLAG_NOT_FOUND, PARSE_ERROR, TYPE_MISMATCH, INVALID_CONTEXT or GENERAL';
COMMENT ON COLUMN ff.evaluation_stats.evaluations IS 'Evaluations with this outcome since the entry was created';
COMMENT ON COLUMN ff.evaluation_stats.first_evaluated IS 'When the entry was created (the first count of this outcome after stats_since)';
COMMENT ON COLUMN ff.evaluation_stats.last_evaluated IS 'When counts of this outcome were last added (within about a second of the evaluation)';
REVOKE ALL ON ff.evaluation_stats FROM PUBLIC;

-- ff.evaluation_stats_info: the state of the statistics table
CREATE FUNCTION ff.evaluation_stats_info(
    OUT entries bigint,
    OUT entries_all_databases bigint,
    OUT max_entries integer,
    OUT dropped bigint,
    OUT track_evaluations boolean,
    OUT stats_since timestamptz)
RETURNS record
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ff_evaluation_stats_info';

COMMENT ON FUNCTION ff.evaluation_stats_info() IS
'Entries of ff.evaluation_stats (this database, all databases, ff.stats_max_entries), this database''s evaluations dropped because the table was full, ff.track_evaluations, and since when this database is counted';
REVOKE ALL ON FUNCTION ff.evaluation_stats_info() FROM PUBLIC;

-- ff.reset_evaluation_stats: forget counts of the current database
CREATE FUNCTION ff.reset_evaluation_stats(environment text DEFAULT NULL, flag_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ff_reset_evaluation_stats';

COMMENT ON FUNCTION ff.reset_evaluation_stats(text, text) IS
'Removes the evaluation statistics of the current database (of one environment and/or flag key if given; all: stats_since restarts) and those of dropped databases; returns the number of the current database''s entries removed';
REVOKE ALL ON FUNCTION ff.reset_evaluation_stats(text, text) FROM PUBLIC;

-- ff.flag_usage: one row per flag, counted or not (stale-flag detection).
-- (1.24) A flag without entries has evaluations NULL, not 0, when this
-- database's evaluations were dropped since stats_since (the table was
-- full): its own may be among them, and "WHERE evaluations = 0" must not
-- call it unused.
CREATE VIEW ff.flag_usage WITH (security_invoker = true) AS
    SELECT f.environment,
           f.key AS flag_key,
           f.state,
           (CASE WHEN s.evaluations IS NOT NULL THEN s.evaluations
                 WHEN i.dropped = 0 THEN 0 END)::bigint AS evaluations,
           COALESCE(s.errors, 0)::bigint AS errors,
           COALESCE(s.variants_served, '{}'::text[]) AS variants_served,
           s.last_evaluated
      FROM ff.flags AS f
      LEFT JOIN (SELECT e.environment, e.flag_key,
                        pg_catalog.sum(e.evaluations) AS evaluations,
                        pg_catalog.sum(e.evaluations) FILTER (WHERE e.reason = 'ERROR') AS errors,
                        pg_catalog.array_agg(DISTINCT e.variant ORDER BY e.variant)
                            FILTER (WHERE e.variant IS NOT NULL) AS variants_served,
                        pg_catalog.max(e.last_evaluated) AS last_evaluated
                   FROM ff.evaluation_stats() AS e
                  GROUP BY e.environment, e.flag_key) AS s
        ON s.environment = f.environment AND s.flag_key = f.key
      CROSS JOIN ff.evaluation_stats_info() AS i;

COMMENT ON VIEW ff.flag_usage IS
'Per flag: evaluations counted since ff.evaluation_stats_info().stats_since, errors, the variants served and the last evaluation (0 evaluations: unused; one variant served: constant)';
COMMENT ON COLUMN ff.flag_usage.environment IS 'Environment of the flag';
COMMENT ON COLUMN ff.flag_usage.flag_key IS 'Flag key';
COMMENT ON COLUMN ff.flag_usage.state IS 'ENABLED or DISABLED';
COMMENT ON COLUMN ff.flag_usage.evaluations IS 'Evaluations counted (0: not evaluated since stats_since; NULL: none counted, but the table was full and dropped some of this database''s, 1.24)';
COMMENT ON COLUMN ff.flag_usage.errors IS 'Evaluations that returned the caller''s default with reason ERROR';
COMMENT ON COLUMN ff.flag_usage.variants_served IS 'Variants returned, sorted (one: the flag is constant in practice)';
COMMENT ON COLUMN ff.flag_usage.last_evaluated IS 'When it was last evaluated (NULL: not since stats_since)';
REVOKE ALL ON ff.flag_usage FROM PUBLIC;
