-- ---------------------------------------------------------------------
-- Experiment analysis (1.17)
--
-- ff.experiment_results(query, control) compares the variants of an
-- experiment on an outcome, next to the business data: the caller's query
-- returns one row per unit (a user) with its variant, its outcome (a
-- boolean conversion or a number such as revenue) and optionally a
-- pre-period covariate (CUPED).  PostgreSQL aggregates the rows per
-- variant; ff._experiment_statistics turns the aggregates into lifts,
-- intervals, p-values, chances to beat the control and a sample-ratio
-- check.  The numerical helpers are C (src/ff_experiment.c).
--
-- Everything runs with the caller's rights: the functions are SECURITY
-- INVOKER and read nothing of schema ff, so PUBLIC may call them.
-- ---------------------------------------------------------------------

-- ff._single_statement returns the text of the one statement in a query
-- string, without the semicolons and empty statements around it (C;
-- STABLE: where a string literal ends depends on standard_conforming_strings).
CREATE FUNCTION ff._single_statement(query text)
RETURNS text
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_single_statement';

COMMENT ON FUNCTION ff._single_statement(text) IS
'Internal: the text of the one statement of a query string, as the parser delimits it (no surrounding semicolons or empty statements)';

-- ff._query_result_types returns the column types of a query without
-- running it (C); only a single SELECT is accepted; a domain is given as
-- its base type.
CREATE FUNCTION ff._query_result_types(query text)
RETURNS regtype[]
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'ff_query_result_types';

COMMENT ON FUNCTION ff._query_result_types(text) IS
'Internal: the column types of a query (a single SELECT, no data-modifying WITH), found by parsing it as the caller, without running it; domains as their base types';

-- ff._normal_cdf is the standard normal distribution function (C).
CREATE FUNCTION ff._normal_cdf(x double precision)
RETURNS double precision
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_normal_cdf';

COMMENT ON FUNCTION ff._normal_cdf(double precision) IS
'Internal: P(Z <= x) for a standard normal Z';

-- ff._normal_quantile is its inverse (C).
CREATE FUNCTION ff._normal_quantile(p double precision)
RETURNS double precision
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_normal_quantile';

COMMENT ON FUNCTION ff._normal_quantile(double precision) IS
'Internal: the x with P(Z <= x) = p for a standard normal Z, 0 < p < 1';

-- ff._chi_square_sf is the upper tail of the chi-square distribution (C).
CREATE FUNCTION ff._chi_square_sf(x double precision, df integer)
RETURNS double precision
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_chi_square_sf';

COMMENT ON FUNCTION ff._chi_square_sf(double precision, integer) IS
'Internal: P(X >= x) for a chi-square X with df degrees of freedom';

-- ff._experiment_moments aggregates a variant's outcomes and covariates
-- (C, src/ff_experiment.c): units, and the sums of the values' differences
-- from the first value seen, and of their squares and products.  1.23 used
-- avg, var_samp and covar_samp, which add the values themselves: with a
-- large common offset (1e10 plus a fraction, a million units) the running
-- sums lost the fractions, and equal arms looked significant (1.24).  The
-- state is a float8[] (units, outcome shift, sum, sum of squares, units
-- with a covariate, its shift, sum, sum of squares, sum of products), read
-- by ff._experiment_results; the combine function lets it run in parallel.
CREATE FUNCTION ff._experiment_moments_accum(state double precision[], outcome double precision,
                                             covariate double precision)
RETURNS double precision[]
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_experiment_moments_accum';

COMMENT ON FUNCTION ff._experiment_moments_accum(double precision[], double precision, double precision) IS
'Internal: transition function of ff._experiment_moments (1.24)';

CREATE FUNCTION ff._experiment_moments_combine(a double precision[], b double precision[])
RETURNS double precision[]
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_experiment_moments_combine';

COMMENT ON FUNCTION ff._experiment_moments_combine(double precision[], double precision[]) IS
'Internal: combine function of ff._experiment_moments (1.24)';

CREATE AGGREGATE ff._experiment_moments(double precision, double precision) (
    SFUNC = ff._experiment_moments_accum,
    STYPE = double precision[],
    COMBINEFUNC = ff._experiment_moments_combine,
    INITCOND = '{0,0,0,0,0,0,0,0,0}',
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE ff._experiment_moments(double precision, double precision) IS
'Internal: the shifted sums of a variant''s outcomes and covariates for ff.experiment_results (1.24)';

-- ff._experiment_statistics computes the results of an experiment from the
-- aggregates of each variant (parallel arrays, one element per variant):
-- units, the sum, mean and sample variance of the outcome, and with a
-- covariate its mean and variance and the covariance of both.  The pooled
-- figures of the CUPED coefficient are combined from the variants' (so the
-- caller's query is aggregated by one GROUP BY, which can run in
-- parallel).  One set-based statement: its cost grows with the number of
-- variants as a sort does.  See ff.experiment_results.
CREATE FUNCTION ff._experiment_statistics(
    control text, variant_names text[], unit_counts bigint[], totals double precision[],
    means double precision[], variances double precision[],
    x_means double precision[], x_variances double precision[], covariances double precision[],
    expected_split jsonb, confidence double precision)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH v AS (
        SELECT u.name, u.n, u.total, u.mean, u.var, u.x_mean, u.x_var, u.cov
          FROM unnest(variant_names, unit_counts, totals, means, variances, x_means, x_variances, covariances)
               AS u (name, n, total, mean, var, x_mean, x_var, cov)
    ),
    -- over every unit: N, the means, and the sums of squares and products
    -- (within the variants plus between them)
    grand AS (
        SELECT sum(v.n)::double precision AS n,
               sum(v.n * v.mean) / sum(v.n) AS y_mean,
               sum(v.n * v.x_mean) / sum(v.n) AS x_mean,
               count(*) AS k
          FROM v
    ),
    -- (a covariate that is constant but for rounding -- 0.1 summed in
    -- double precision -- has a variance of a few ulps, not 0: it gets no
    -- coefficient, rather than a huge one)
    pooled AS (
        SELECT CASE WHEN sum((v.n - 1) * COALESCE(v.x_var, 0) + v.n * (v.x_mean - g.x_mean) ^ 2)
                         > 1e-20 * (g.n - 1) * g.x_mean ^ 2
                     AND sum((v.n - 1) * COALESCE(v.x_var, 0) + v.n * (v.x_mean - g.x_mean) ^ 2) > 0
                    THEN sum((v.n - 1) * COALESCE(v.cov, 0) + v.n * (v.x_mean - g.x_mean) * (v.mean - g.y_mean))
                         / sum((v.n - 1) * COALESCE(v.x_var, 0) + v.n * (v.x_mean - g.x_mean) ^ 2)
                    ELSE 0 END AS theta
          FROM v, grand AS g
         GROUP BY g.n, g.x_mean
    ),
    adj AS (
        SELECT v.*,
               v.mean - p.theta * COALESCE(v.x_mean - g.x_mean, 0) AS adj_mean,
               -- the variance of the adjusted outcome; a variant of one unit has none
               CASE WHEN v.var IS NOT NULL
                    THEN greatest(v.var + p.theta ^ 2 * COALESCE(v.x_var, 0)
                                  - 2 * p.theta * COALESCE(v.cov, 0), 0) / v.n END AS se2
          FROM v, pooled AS p, grand AS g
    ),
    -- the sample-ratio check: the units per variant against the split the
    -- experiment was meant to have (equal, unless expected_split says):
    -- units in a variant the plan does not have are a mismatch for sure
    planned AS (
        SELECT e.key AS name, e.value::text::double precision AS w
          FROM jsonb_each(expected_split) AS e
         WHERE e.value::text::double precision > 0
        UNION ALL
        SELECT v.name, 1 FROM v WHERE expected_split IS NULL
    ),
    srm AS (
        SELECT CASE
                   WHEN EXISTS (SELECT FROM v WHERE v.n > 0 AND NOT EXISTS (SELECT FROM planned AS p WHERE p.name = v.name))
                   THEN 0::double precision
                   WHEN count(*) > 1
                   THEN ff._chi_square_sf(
                            sum((COALESCE(v.n, 0) - g.n * p.w / t.w) ^ 2 / (g.n * p.w / t.w)),
                            (count(*) - 1)::integer)
               END AS p_value
          FROM planned AS p
          LEFT JOIN v ON v.name = p.name
          CROSS JOIN grand AS g
          CROSS JOIN (SELECT sum(w) AS w FROM planned) AS t
    ),
    z AS (
        SELECT ff._normal_quantile((1 + confidence) / 2) AS z
    )
    SELECT a.name, a.n, a.total, a.mean, a.adj_mean, sqrt(a.var),
           cmp.lift, cmp.lift - z.z * cmp.lift_se, cmp.lift + z.z * cmp.lift_se,
           cmp.p_value, cmp.chance, srm.p_value
      FROM adj AS a
      CROSS JOIN srm
      CROSS JOIN z
      CROSS JOIN (SELECT * FROM adj WHERE adj.name = control) AS c
      LEFT JOIN LATERAL (
          SELECT d.diff,
                 CASE WHEN d.se > 0 THEN 2 * ff._normal_cdf(-abs(d.diff) / d.se)
                      WHEN d.diff = 0 THEN 1 ELSE 0 END AS p_value,
                 CASE WHEN d.se > 0 THEN ff._normal_cdf(d.diff / d.se)
                      WHEN d.diff > 0 THEN 1 WHEN d.diff < 0 THEN 0 ELSE 0.5 END AS chance,
                 -- relative to the size of the control's (adjusted) mean, so that
                 -- its sign is the difference's; the interval by the delta method,
                 -- written so that no fourth power overflows
                 CASE WHEN c.adj_mean <> 0 THEN d.diff / abs(c.adj_mean) END AS lift,
                 CASE WHEN c.adj_mean <> 0
                      THEN sqrt(a.se2 + (a.adj_mean / c.adj_mean) ^ 2 * c.se2) / abs(c.adj_mean) END AS lift_se
            FROM (SELECT a.adj_mean - c.adj_mean AS diff, sqrt(a.se2 + c.se2) AS se) AS d
           WHERE a.name <> control AND a.se2 IS NOT NULL AND c.se2 IS NOT NULL
      ) AS cmp ON true
     ORDER BY a.name <> control, a.name;
$$;

COMMENT ON FUNCTION ff._experiment_statistics(text, text[], bigint[], double precision[], double precision[], double precision[], double precision[], double precision[], double precision[], jsonb, double precision) IS
'Internal: the results of ff.experiment_results from the aggregates of each variant';

-- ff._experiment_value_sql returns the SQL expression that reads an
-- outcome or covariate column of the given type as a double precision
-- (NULL counts as 0), or raises an error for a type that is neither
-- boolean nor numeric.
CREATE FUNCTION ff._experiment_value_sql(column_ref text, column_type regtype, what text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF column_type = 'boolean'::regtype THEN
        RETURN format('CASE WHEN %s THEN 1.0::pg_catalog.float8 ELSE 0.0::pg_catalog.float8 END', column_ref);
    ELSIF column_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
                          'real'::regtype, 'double precision'::regtype, 'money'::regtype) THEN
        RETURN format('COALESCE(CAST(%s AS pg_catalog.float8), 0.0::pg_catalog.float8)',
                      CASE WHEN column_type = 'money'::regtype
                           THEN format('CAST(%s AS pg_catalog.numeric)', column_ref) ELSE column_ref END);
    END IF;
    RAISE EXCEPTION 'the % column of an experiment''s query is of type %, not boolean or a number', what, column_type
        USING ERRCODE = 'datatype_mismatch',
              HINT = 'Return a boolean (converted or not) or a number (revenue, count) per unit, for example EXISTS (SELECT FROM orders AS o WHERE o.user_id = u.id).';
END;
$$;

COMMENT ON FUNCTION ff._experiment_value_sql(text, regtype, text) IS
'Internal: the SQL expression reading an outcome or covariate column (boolean or a number) as a double precision, NULL as 0';

-- ff._experiment_results does the work of ff.experiment_results, which
-- passes the caller's search_path: the caller's query is parsed and run
-- with it (and the caller's rights: SECURITY INVOKER), everything else with
-- the pinned one.
CREATE FUNCTION ff._experiment_results(query text, control text, expected_split jsonb,
                                       confidence double precision, caller_search_path text)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    q           text;
    types       regtype[];
    sql         text;
    a           record;
    seen        text;
    m           double precision[];
    totals      double precision[];
    means       double precision[];
    variances   double precision[];
    x_means     double precision[];
    x_variances double precision[];
    covariances double precision[];
    example     constant text := 'For example SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id::text), ''off''), u.converted FROM users AS u';
BEGIN
    IF query IS NULL OR control IS NULL OR confidence IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN query IS NULL THEN 'query' WHEN control IS NULL THEN 'control' ELSE 'confidence' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT * FROM ff.experiment_results($q$SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id::text), ''off''), u.converted FROM users AS u$q$, control => ''off'');';
    END IF;
    -- (an interval of a confidence closer to 1 than a double tells apart
    -- from it has no quantile)
    IF NOT (confidence > 0 AND (1 + confidence) / 2 < 1) THEN
        RAISE EXCEPTION 'confidence % is not between 0 and 1 (exclusive)', confidence
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example 0.95 for 95 % intervals.';
    END IF;
    IF expected_split IS NOT NULL AND (
           jsonb_typeof(expected_split) <> 'object'
           OR NOT EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                           WHERE jsonb_typeof(e.value) = 'number' AND e.value::text::numeric > 0)
           OR EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                       WHERE jsonb_typeof(e.value) <> 'number' OR e.value::text::numeric < 0
                          OR e.value::text::numeric > 1e300
                          OR (e.value::text::numeric > 0
                              AND e.value::text::numeric < 1e-12 * (SELECT max(m.value::text::numeric)
                                                                      FROM jsonb_each(expected_split) AS m
                                                                     WHERE jsonb_typeof(m.value) = 'number'))))
    THEN
        RAISE EXCEPTION 'invalid expected_split %',
                        CASE WHEN length(expected_split::text) > 60
                             THEN left(expected_split::text, 57) || '...' ELSE expected_split::text END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must be an object of variant names to weights: numbers from 0 to 1e300, one of them above 0, and each positive one at least a trillionth of the largest.',
                  HINT = 'For example ''{"on": 10, "off": 90}'' for a 10 % rollout; leave it out for an equal split.';
    END IF;

    -- one SELECT, of two or three columns: variant, outcome[, covariate],
    -- parsed with the caller's search_path
    q := ff._single_statement(query);
    PERFORM set_config('search_path', caller_search_path, true);
    BEGIN
        types := ff._query_result_types(q);
    EXCEPTION WHEN undefined_parameter THEN
        RAISE EXCEPTION 'the query of an experiment cannot take parameters'
            USING ERRCODE = 'undefined_parameter',
                  DETAIL = format('%s.', SQLERRM),
                  HINT = 'Write the values into the query, for example with format(''... WHERE o.created_at >= %L'', since).';
    END;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    IF cardinality(types) NOT IN (2, 3) THEN
        RAISE EXCEPTION 'the query of an experiment returns % column%, not 2 or 3', cardinality(types),
                        CASE WHEN cardinality(types) = 1 THEN '' ELSE 's' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The columns are: the variant, the outcome (a boolean or a number) and, optionally, a covariate measured before the experiment (a number, for CUPED).',
                  HINT = example;
    END IF;
    -- the caller's query, on lines of its own (a "--" comment at its end
    -- ends there), in a frame of schema-qualified names run with the
    -- caller's search_path: one GROUP BY, which can run in parallel; units
    -- whose variant is NULL take no part (their group is filtered out
    -- above it: a WHERE on the variant would be pushed down into the
    -- caller's query and evaluate its variant expression twice)
    sql := format($f$
        SELECT pg_catalog.array_agg(s.variant ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS variants,
               pg_catalog.array_agg(s.n ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS units,
               pg_catalog.array_agg(s.m ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS moments,
               pg_catalog.array_agg(s.y_min ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS y_mins,
               pg_catalog.array_agg(s.y_max ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS y_maxs,
               pg_catalog.array_agg(s.x_min ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_mins,
               pg_catalog.array_agg(s.x_max ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_maxs
          FROM (SELECT r.variant, pg_catalog.count(*) AS n, ff._experiment_moments(r.y, r.x) AS m,
                       pg_catalog.min(r.y) AS y_min, pg_catalog.max(r.y) AS y_max,
                       pg_catalog.min(r.x) AS x_min, pg_catalog.max(r.x) AS x_max
                  FROM (SELECT CAST(q.variant AS pg_catalog.text) AS variant, %s AS y, %s AS x
                          FROM (
%s
                               ) AS q (variant, outcome%s)) AS r
                 GROUP BY r.variant) AS s$f$,
        ff._experiment_value_sql('q.outcome', types[2], 'outcome'),
        CASE WHEN cardinality(types) = 3
             THEN ff._experiment_value_sql('q.covariate', types[3], 'covariate') ELSE 'NULL::pg_catalog.float8' END,
        q,
        CASE WHEN cardinality(types) = 3 THEN ', covariate' ELSE '' END);
    PERFORM set_config('search_path', caller_search_path, true);
    EXECUTE sql INTO a;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);

    IF a.variants IS NULL OR NOT control = ANY (a.variants) THEN
        SELECT string_agg(to_jsonb(v)::text, ', ') INTO seen
          FROM (SELECT v FROM unnest(a.variants) AS v LIMIT 20) AS v;
        RAISE EXCEPTION 'the control variant % has no units in the query''s result', to_jsonb(ff._name_in_message(control))
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN seen IS NULL THEN 'The query returned no row with a variant.'
                                ELSE format('The variants in the result are %s%s.', seen,
                                            CASE WHEN cardinality(a.variants) > 20
                                                 THEN format(' and %s more', cardinality(a.variants) - 20) ELSE '' END) END,
                  HINT = 'Name the variant the others are compared with, as the query returns it (control => ''off'').';
    END IF;
    -- a NaN or an infinity makes every figure NaN: refused, not reported
    -- (max() sorts NaN above every number)
    IF EXISTS (SELECT FROM unnest(a.y_mins || a.y_maxs || a.x_mins || a.x_maxs) AS v
                WHERE v = 'NaN'::double precision OR abs(v) = 'Infinity'::double precision) THEN
        RAISE EXCEPTION 'the outcome or covariate of an experiment is NaN or infinite for some units'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave those units out of the query (WHERE outcome <> ''NaN'' AND abs(outcome) < ''Infinity''), or fix the data.';
    END IF;
    -- (1.24) and so are magnitudes whose squares and products leave double
    -- precision (an underflow error, or a variance that underflows to 0
    -- and makes any difference significant)
    SELECT v.what INTO seen
      FROM (SELECT greatest(abs(u.lo), abs(u.hi)) AS m, 'outcome' AS what FROM unnest(a.y_mins, a.y_maxs) AS u (lo, hi)
            UNION ALL
            SELECT greatest(abs(u.lo), abs(u.hi)), 'covariate' FROM unnest(a.x_mins, a.x_maxs) AS u (lo, hi)) AS v
     WHERE v.m > 0 AND NOT v.m BETWEEN 1e-100 AND 1e100
     LIMIT 1;
    IF seen IS NOT NULL THEN
        RAISE EXCEPTION 'the % of an experiment is too small or too large to be analysed in double precision', seen
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The largest value of some variant is outside 1e-100 to 1e100 in size.',
                  HINT = 'Rescale it in the query (for example revenue in thousands, or a rate per million).';
    END IF;

    -- each variant's figures from its shifted sums (ff._experiment_moments:
    -- units, shift, sum, sum of squares, and the same for the covariate,
    -- and the sum of products), here, with the pinned search_path; a
    -- variance of one unit is NULL, as var_samp's.  An outcome that is the
    -- same for every unit (9.99) has sums of 0: its mean is that value and
    -- its variance 0 exactly (1.23's avg() gave two such arms means that
    -- differed in their last digits, a variance of about 1e-30 and p = 0).
    FOR i IN 1 .. cardinality(a.variants) LOOP
        m := ARRAY(SELECT unnest(a.moments[i:i][1:9]));
        totals[i] := m[2] * m[1] + m[3];
        means[i] := m[2] + m[3] / m[1];
        variances[i] := CASE WHEN m[1] > 1 THEN greatest(m[4] - m[3] * m[3] / m[1], 0) / (m[1] - 1) END;
        x_means[i] := CASE WHEN m[5] > 0 THEN m[6] + m[7] / m[5] END;
        x_variances[i] := CASE WHEN m[5] > 1 THEN greatest(m[8] - m[7] * m[7] / m[5], 0) / (m[5] - 1) END;
        covariances[i] := CASE WHEN m[5] > 1 THEN (m[9] - m[3] * m[7] / m[5]) / (m[5] - 1) END;
    END LOOP;

    -- (1.24) one variant: nothing to compare, and a split that went wrong
    -- (every unit got the caller's default) would pass unseen
    IF cardinality(a.variants) = 1 AND expected_split IS NULL THEN
        RAISE WARNING 'the query''s result has only the control variant %: nothing to compare', to_jsonb(control)
            USING DETAIL = format('All %s units are in it.', a.units[1]),
                  HINT = 'If the flag''s variants are not strings, ff.get_string returns its default for every unit (TYPE_MISMATCH); (ff.evaluate(...)).variant names the variant whatever its value''s type. Give expected_split to test the split.';
    END IF;

    -- (1.24) within that range, a variant's outcome and covariate can
    -- still be too far apart in scale (a covariate in 1e-90s with an
    -- outcome in 1e90s): said so, not a bare "value out of range"
    BEGIN
        RETURN QUERY
        SELECT * FROM ff._experiment_statistics(control, a.variants, a.units, totals, means, variances,
                                                x_means, x_variances, covariances,
                                                expected_split, confidence);
    EXCEPTION WHEN numeric_value_out_of_range THEN
        RAISE EXCEPTION 'the figures of an experiment leave the range of double precision'
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('%s.', SQLERRM),
                  HINT = 'Rescale the outcome or the covariate in the query so that both are of a moderate size (for example revenue in thousands, or a rate per million).';
    END;
END;
$$;

COMMENT ON FUNCTION ff._experiment_results(text, text, jsonb, double precision, text) IS
'Internal: the work of ff.experiment_results; the caller''s query is parsed and run with the caller''s search_path';

-- ff.experiment_results compares the variants of an experiment on an
-- outcome: see the README (Experiment analysis).  An SQL-standard body
-- (bound at creation) that passes the caller's search_path on.
CREATE FUNCTION ff.experiment_results(query text, control text,
                                      expected_split jsonb DEFAULT NULL,
                                      confidence double precision DEFAULT 0.95)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE sql
BEGIN ATOMIC
    SELECT * FROM ff._experiment_results(query, control, expected_split, confidence,
                                         pg_catalog.current_setting('search_path'));
END;

COMMENT ON FUNCTION ff.experiment_results(text, text, jsonb, double precision) IS
'Compares the variants of an experiment on an outcome: the query returns variant, outcome (boolean or number) and optionally a pre-period covariate (CUPED) per unit; per variant: units, mean, lift with its interval, p-value, chance to beat the control, and a sample-ratio check';
