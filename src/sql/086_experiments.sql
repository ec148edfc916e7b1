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

-- ff._query_result_types returns the column types of a query without
-- running it (C); only a single SELECT is accepted.
CREATE FUNCTION ff._query_result_types(query text)
RETURNS regtype[]
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'ff_query_result_types';

COMMENT ON FUNCTION ff._query_result_types(text) IS
'Internal: the column types of a query (a single SELECT), found by parsing it as the caller, without running it';

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

-- ff._experiment_statistics computes the results of an experiment from the
-- aggregates of each variant (parallel arrays, one element per variant):
-- units, the mean and sample variance of the outcome, and with a covariate
-- its mean and variance and the covariance of both; all_* are the same
-- over every unit (for the CUPED coefficient).  See ff.experiment_results.
CREATE FUNCTION ff._experiment_statistics(
    control text, variant_names text[], unit_counts bigint[], totals double precision[],
    means double precision[], variances double precision[],
    x_means double precision[], x_variances double precision[], covariances double precision[],
    all_x_mean double precision, all_x_variance double precision, all_covariance double precision,
    expected_split jsonb, confidence double precision)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    k           integer := cardinality(variant_names);
    c           integer := array_position(variant_names, control);
    theta       double precision := 0;
    z           double precision := ff._normal_quantile((1 + confidence) / 2);
    adj_means   double precision[] := '{}';
    se2         double precision[] := '{}';
    n_all       double precision := 0;
    chi2        double precision := 0;
    weight_sum  double precision;
    cells       integer;
    srm         double precision;
    diff        double precision;
    se_diff     double precision;
    var_rel     double precision;
    i           integer;
BEGIN
    -- the CUPED coefficient: the pooled regression of outcome on covariate
    IF all_x_variance > 0 THEN
        theta := all_covariance / all_x_variance;
    END IF;
    FOR i IN 1 .. k LOOP
        n_all := n_all + unit_counts[i];
        adj_means[i] := means[i] - theta * COALESCE(x_means[i] - all_x_mean, 0);
        -- the variance of the adjusted outcome; units of one have none
        se2[i] := CASE WHEN variances[i] IS NOT NULL
                       THEN greatest(variances[i] + theta * theta * COALESCE(x_variances[i], 0)
                                     - 2 * theta * COALESCE(covariances[i], 0), 0) / unit_counts[i] END;
    END LOOP;

    -- the sample-ratio check: the units per variant against the split the
    -- experiment was meant to have (equal, unless expected_split says)
    IF expected_split IS NULL THEN
        IF k > 1 THEN
            FOR i IN 1 .. k LOOP
                chi2 := chi2 + (unit_counts[i] - n_all / k) ^ 2 / (n_all / k);
            END LOOP;
            srm := ff._chi_square_sf(chi2, k - 1);
        END IF;
    ELSE
        SELECT sum(e.value::text::double precision) INTO weight_sum FROM jsonb_each(expected_split) AS e;
        cells := (SELECT count(*) FROM jsonb_each(expected_split) AS e) +
                 (SELECT count(*) FROM unnest(variant_names) AS v(name) WHERE NOT expected_split ? v.name);
        IF EXISTS (SELECT FROM unnest(variant_names, unit_counts) AS v(name, n)
                    WHERE v.n > 0 AND COALESCE((expected_split ->> v.name)::double precision, 0) = 0) THEN
            -- units in a variant that should have none: a mismatch for sure
            srm := 0;
        ELSIF cells > 1 THEN
            SELECT sum((COALESCE(v.n, 0) - n_all * e.value::text::double precision / weight_sum) ^ 2
                       / (n_all * e.value::text::double precision / weight_sum))
              INTO chi2
              FROM jsonb_each(expected_split) AS e
              LEFT JOIN unnest(variant_names, unit_counts) AS v(name, n) ON v.name = e.key
             WHERE e.value::text::double precision > 0;
            srm := ff._chi_square_sf(chi2, cells - 1);
        END IF;
    END IF;

    FOR i IN SELECT o.i FROM generate_series(1, k) AS o(i)
              ORDER BY o.i <> c, variant_names[o.i] LOOP
        variant := variant_names[i];
        units := unit_counts[i];
        total := totals[i];
        mean := means[i];
        adjusted_mean := adj_means[i];
        stddev := sqrt(variances[i]);
        lift := NULL; lift_low := NULL; lift_high := NULL;
        p_value := NULL; chance_to_beat_control := NULL;
        IF i <> c AND se2[i] IS NOT NULL AND se2[c] IS NOT NULL THEN
            diff := adj_means[i] - adj_means[c];
            se_diff := sqrt(se2[i] + se2[c]);
            IF se_diff > 0 THEN
                p_value := 2 * ff._normal_cdf(-abs(diff) / se_diff);
                chance_to_beat_control := ff._normal_cdf(diff / se_diff);
            ELSE
                p_value := CASE WHEN diff = 0 THEN 1 ELSE 0 END;
                chance_to_beat_control := CASE WHEN diff > 0 THEN 1 WHEN diff < 0 THEN 0 ELSE 0.5 END;
            END IF;
            IF adj_means[c] <> 0 THEN
                -- relative lift, its interval by the delta method
                lift := diff / adj_means[c];
                var_rel := se2[i] / adj_means[c] ^ 2 + adj_means[i] ^ 2 * se2[c] / adj_means[c] ^ 4;
                lift_low := lift - z * sqrt(var_rel);
                lift_high := lift + z * sqrt(var_rel);
            END IF;
        END IF;
        srm_p_value := srm;
        RETURN NEXT;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION ff._experiment_statistics(text, text[], bigint[], double precision[], double precision[], double precision[], double precision[], double precision[], double precision[], double precision, double precision, double precision, jsonb, double precision) IS
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
BEGIN
    IF query IS NULL OR control IS NULL OR confidence IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN query IS NULL THEN 'query' WHEN control IS NULL THEN 'control' ELSE 'confidence' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT * FROM ff.experiment_results($q$SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id), ''off''), u.converted FROM users AS u$q$, control => ''off'');';
    END IF;
    IF NOT (confidence > 0 AND confidence < 1) THEN
        RAISE EXCEPTION 'confidence % is not between 0 and 1 (exclusive)', confidence
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example 0.95 for 95 % intervals.';
    END IF;
    IF expected_split IS NOT NULL AND (
           jsonb_typeof(expected_split) <> 'object'
           OR NOT EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                           WHERE jsonb_typeof(e.value) = 'number' AND e.value::text::double precision > 0)
           OR EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                       WHERE jsonb_typeof(e.value) <> 'number' OR e.value::text::double precision < 0)) THEN
        RAISE EXCEPTION 'invalid expected_split %', expected_split
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must be an object of variant names to weights: numbers of at least 0, one of them above 0.',
                  HINT = 'For example ''{"on": 10, "off": 90}'' for a 10 % rollout; leave it out for an equal split.';
    END IF;

    -- one SELECT, of two or three columns: variant, outcome[, covariate],
    -- parsed with the caller's search_path
    q := regexp_replace(query, '[[:space:];]+$', '');
    PERFORM set_config('search_path', caller_search_path, true);
    types := ff._query_result_types(q);
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    IF cardinality(types) NOT IN (2, 3) THEN
        RAISE EXCEPTION 'the query of an experiment returns % column%, not 2 or 3', cardinality(types),
                        CASE WHEN cardinality(types) = 1 THEN '' ELSE 's' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The columns are: the variant, the outcome (a boolean or a number) and, optionally, a covariate measured before the experiment (a number, for CUPED).',
                  HINT = 'For example SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id), ''off''), u.converted FROM users AS u';
    END IF;
    sql := format(
        'SELECT CAST(q.variant AS pg_catalog.text) AS variant, %s AS y, %s AS x FROM (%s) AS q (variant, outcome%s)',
        ff._experiment_value_sql('q.outcome', types[2], 'outcome'),
        CASE WHEN cardinality(types) = 3
             THEN ff._experiment_value_sql('q.covariate', types[3], 'covariate') ELSE 'NULL::pg_catalog.float8' END,
        q,
        CASE WHEN cardinality(types) = 3 THEN ', covariate' ELSE '' END);
    -- per variant and (the empty grouping set) over every unit; units whose
    -- variant is NULL take no part; the statement is the caller's query in
    -- a frame of schema-qualified names, run with the caller's search_path
    sql := format($f$
        SELECT pg_catalog.array_agg(s.variant ORDER BY s.variant) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 0) AS variants,
               pg_catalog.array_agg(s.n ORDER BY s.variant) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 0) AS units,
               pg_catalog.array_agg(s.total ORDER BY s.variant) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 0) AS totals,
               pg_catalog.array_agg(s.mean ORDER BY s.variant) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 0) AS means,
               pg_catalog.array_agg(s.var ORDER BY s.variant) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 0) AS variances,
               pg_catalog.array_agg(s.x_mean ORDER BY s.variant) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 0) AS x_means,
               pg_catalog.array_agg(s.x_var ORDER BY s.variant) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 0) AS x_variances,
               pg_catalog.array_agg(s.cov ORDER BY s.variant) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 0) AS covariances,
               pg_catalog.max(s.x_mean) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 1) AS all_x_mean,
               pg_catalog.max(s.x_var) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 1) AS all_x_variance,
               pg_catalog.max(s.cov) FILTER (WHERE s.g OPERATOR(pg_catalog.=) 1) AS all_covariance
          FROM (SELECT r.variant, GROUPING(r.variant) AS g, pg_catalog.count(*) AS n,
                       pg_catalog.sum(r.y) AS total, pg_catalog.avg(r.y) AS mean,
                       pg_catalog.var_samp(r.y) AS var, pg_catalog.avg(r.x) AS x_mean,
                       pg_catalog.var_samp(r.x) AS x_var, pg_catalog.covar_samp(r.y, r.x) AS cov
                  FROM (%s) AS r
                 WHERE r.variant IS NOT NULL
                 GROUP BY GROUPING SETS ((r.variant), ())) AS s$f$, sql);
    PERFORM set_config('search_path', caller_search_path, true);
    EXECUTE sql INTO a;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);

    IF a.variants IS NULL OR NOT control = ANY (a.variants) THEN
        SELECT string_agg(format('"%s"', v), ', ') INTO seen FROM unnest(a.variants) AS v;
        RAISE EXCEPTION 'the control variant "%" has no units in the query''s result', control
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN seen IS NULL THEN 'The query returned no row with a variant.'
                                ELSE format('The variants in the result are %s.', seen) END,
                  HINT = 'Name the variant the others are compared with, as the query returns it (control => ''off'').';
    END IF;

    RETURN QUERY
    SELECT * FROM ff._experiment_statistics(control, a.variants, a.units, a.totals, a.means, a.variances,
                                            a.x_means, a.x_variances, a.covariances,
                                            a.all_x_mean, a.all_x_variance, a.all_covariance,
                                            expected_split, confidence);
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
