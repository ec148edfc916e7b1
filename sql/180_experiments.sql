--
-- 180_experiments: experiment analysis (1.17), ff.experiment_results and
-- its numerical helpers.  The expected figures were computed independently
-- (by hand and in Python) from the same counts: see the comments.
--
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
CREATE EXTENSION feature_flags;
RESET client_min_messages;

-- ---- the numerical helpers against known values and against each other
SELECT round(ff._normal_cdf(0)::numeric, 12) AS half,
       round(ff._normal_cdf(1.959963984540054)::numeric, 12) AS p975,
       round(ff._normal_cdf(-1.959963984540054)::numeric, 12) AS p025,
       ff._normal_cdf(-40) < 1e-300 AS far_tail,
       round(ff._normal_quantile(0.975)::numeric, 9) AS z975,
       round(ff._normal_quantile(0.5)::numeric, 12) AS z50,
       round(ff._normal_quantile(1e-10)::numeric, 6) AS z_tiny;
-- chi-square: 3.841458820694124 and 5.991464547107979 are the 95 %
-- quantiles for 1 and 2 degrees of freedom; for 2, P(X >= x) = exp(-x/2);
-- for 1, 2 P(Z >= sqrt(x)); large df cross the series/continued fraction
SELECT round(ff._chi_square_sf(3.841458820694124, 1)::numeric, 12) AS df1_95,
       round(ff._chi_square_sf(5.991464547107979, 2)::numeric, 12) AS df2_95,
       bool_and(abs(ff._chi_square_sf(x, 2) - exp(-x / 2)) < 1e-14) AS df2_is_exp,
       bool_and(abs(ff._chi_square_sf(x, 1) - 2 * ff._normal_cdf(-sqrt(x))) < 1e-13) AS df1_is_normal,
       round(ff._chi_square_sf(0, 3)::numeric, 12) AS at_zero
  FROM generate_series(0.01, 60, 0.37) AS x;
-- 18.307038053275146 is the 95 % quantile for 10 degrees of freedom,
-- 124.34211340400407 the 95 % quantile for 100
SELECT round(ff._chi_square_sf(18.307038053275146, 10)::numeric, 10) AS df10_95,
       round(ff._chi_square_sf(124.34211340400407, 100)::numeric, 10) AS df100_95;
SELECT ff._normal_quantile(1);
SELECT ff._chi_square_sf(1, 0);

-- ---- counts with known answers: 1,000 units each, 100 and 130 conversions
-- control: mean 0.1, var_samp 0.1 * 0.9 * 1000/999; on: 0.13, 0.13 * 0.87 * 1000/999
-- difference 0.03, standard error 0.014258..., z 2.10405, p 0.035377,
-- chance to beat 0.982311, lift 0.3 +- 1.959964 * 0.162931 = -0.019339 .. 0.619339;
-- with "on" as control at 99 %: -0.479102 .. 0.017564
CREATE TABLE exp_counts AS
SELECT v AS variant, i <= CASE v WHEN 'off' THEN 100 ELSE 130 END AS converted
  FROM unnest('{off,on}'::text[]) AS v, generate_series(1, 1000) AS i;
SELECT variant, units, total, round(mean::numeric, 6) AS mean, round(stddev::numeric, 6) AS stddev,
       round(lift::numeric, 6) AS lift, round(lift_low::numeric, 6) AS lift_low,
       round(lift_high::numeric, 6) AS lift_high, round(p_value::numeric, 6) AS p_value,
       round(chance_to_beat_control::numeric, 6) AS chance, round(srm_p_value::numeric, 6) AS srm
  FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off');
-- the control comes first whatever its name; a 99 % interval is wider
SELECT variant, round(lift_low::numeric, 6) AS lift_low, round(lift_high::numeric, 6) AS lift_high
  FROM ff.experiment_results('SELECT variant, converted FROM exp_counts;  ', 'on', confidence => 0.99);

-- ---- the sample-ratio check: 1,000 / 1,000 against 50/50 is perfect; a
-- 10/90 plan makes it impossible; 1,000 / 1,100 against 50/50 gives
-- chi2 = 4.761905 (df 1), p = 0.029096; a variant the plan does not have
-- is a mismatch for sure (0)
SELECT DISTINCT round(srm_p_value::numeric, 6) AS planned_even
  FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '{"off": 1, "on": 1}');
SELECT DISTINCT srm_p_value < 1e-100 AS planned_10_90
  FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '{"off": 90, "on": 10}');
SELECT DISTINCT round(srm_p_value::numeric, 6) AS uneven
  FROM ff.experiment_results($$SELECT variant, converted FROM exp_counts
                               UNION ALL SELECT 'on', false FROM generate_series(1, 100)$$, 'off');
SELECT DISTINCT srm_p_value AS unplanned_variant
  FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '{"off": 1}');
-- a planned variant with no units counts in the check (df 2)
SELECT DISTINCT srm_p_value < 1e-100 AS missing_variant
  FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '{"off": 1, "on": 1, "dark": 1}');

-- a weight of 0 plans no units: it adds no degree of freedom (1,000 /
-- 1,170 against 50/50: chi2 13.318, df 1, p 0.000263, with "beta": 0 too)
SELECT DISTINCT round(srm_p_value::numeric, 9) AS zero_weight
  FROM ff.experiment_results($$SELECT CASE WHEN i <= 1000 THEN 'off' ELSE 'on' END, false
                               FROM generate_series(1, 2170) AS i$$, 'off', '{"off": 50, "on": 50, "beta": 0}');

-- ---- query forms: comments and semicolons around the statement, a
-- domain over numeric, the variant of another type
CREATE DOMAIN exp_revenue_amount AS numeric CHECK (VALUE >= 0);
SELECT variant, units, mean FROM ff.experiment_results($$VALUES ('a', 1.0), ('a', 2.0), ('b', 3.0), ('b', 5.0) -- revenue$$, 'a');
SELECT variant, units, mean FROM ff.experiment_results($$;VALUES ('a', 1.0), ('a', 2.0), ('b', 3.0), ('b', 5.0); -- revenue$$, 'a');
SELECT variant, units, mean FROM ff.experiment_results($$-- revenue per user
VALUES ('a', 1::exp_revenue_amount), ('a', 2), ('b', 3), ('b', 5) /* the end */ ;$$, 'a');
SELECT variant, units, mean FROM ff.experiment_results($$VALUES (1, true), (1, false), (2, true)$$, '1');

-- ---- scale: the relative lift does not depend on the unit of the outcome
-- (its interval used a fourth power that overflowed or lost precision)
SELECT s AS scale, round(lift_low::numeric, 12) AS lift_low, round(lift_high::numeric, 12) AS lift_high
  FROM unnest('{1e-80,1,1e77}'::double precision[]) AS s,
       ff.experiment_results(format($$VALUES ('a', 1 * %s::float8), ('a', 2 * %1$s::float8),
                                            ('b', 2 * %1$s::float8), ('b', 3 * %1$s::float8)$$, s), 'a')
 WHERE variant = 'b';
-- a covariate constant but for rounding (0.1 summed in double precision)
-- gets no CUPED coefficient: the adjusted means are the means
SELECT variant, adjusted_mean = mean AS unadjusted
  FROM ff.experiment_results($$
      SELECT CASE WHEN i % 10 < 3 THEN 'a' WHEN i % 10 < 7 THEN 'b' ELSE 'c' END, (i * 7919 % 1000) / 100.0, 0.1::float8
        FROM generate_series(1, 10007) AS i$$, 'a');
-- a negative control mean: the lift has the sign of the difference
SELECT variant, lift, round(chance_to_beat_control::numeric, 3) AS chance
  FROM ff.experiment_results($$VALUES ('a', -2), ('a', -4), ('b', -1), ('b', -3)$$, 'a');

-- ---- from a flag, next to the business data: a 50/50 rollout bucketed by
-- user, and orders that the "on" users place a little more often
SELECT key FROM ff.create_flag('exp-checkout', '{"on": "on", "off": "off"}', 'off');
SELECT (ff.set_rollout('exp-checkout', 50, variant => 'on', otherwise => 'off')).key AS rolled_out;
CREATE TABLE exp_users AS SELECT 'user-' || i AS id, (i % 7) * 10.0 AS spent_before FROM generate_series(1, 20000) AS i;
CREATE TABLE exp_orders AS
SELECT u.id AS user_id, 10 + (u.spent_before / 2) + ff.bucket(u.id, 'amount', 20) AS amount
  FROM exp_users AS u
 WHERE ff.bucket(u.id, 'order', 100) < CASE ff.get_string('exp-checkout', jsonb_build_object('targetingKey', u.id), 'off')
                                           WHEN 'on' THEN 12 ELSE 10 END;
SELECT variant, units, total::bigint AS conversions, round(mean::numeric, 4) AS rate,
       round(lift::numeric, 3) AS lift, p_value < 0.05 AS significant, round(srm_p_value::numeric, 3) AS srm
  FROM ff.experiment_results($$
      SELECT ff.get_string('exp-checkout', jsonb_build_object('targetingKey', u.id), 'off'),
             EXISTS (SELECT FROM exp_orders AS o WHERE o.user_id = u.id)
        FROM exp_users AS u$$, 'off');
-- revenue per user (a LEFT JOIN: no order is NULL, which counts as 0)
SELECT variant, units, round(total::numeric, 1) AS revenue, round(mean::numeric, 4) AS mean,
       round(lift::numeric, 3) AS lift
  FROM ff.experiment_results($$
    SELECT ff.get_string('exp-checkout', jsonb_build_object('targetingKey', u.id), 'off'), o.amount
      FROM exp_users AS u LEFT JOIN exp_orders AS o ON o.user_id = u.id$$, 'off');
-- CUPED: spending during the experiment follows spending before it, and
-- "on" adds 1.0 per user; with the pre-period spend as covariate the
-- estimate comes closer to 1.0 and the interval is much narrower (checked
-- against an independent computation over the same rows)
CREATE TEMP TABLE exp_revenue AS
SELECT 'plain' AS analysis, r.* FROM ff.experiment_results($$
    SELECT v, u.spent_before + ff.bucket(u.id, 'noise', 10) + CASE v WHEN 'on' THEN 1.0 ELSE 0 END
      FROM exp_users AS u,
           ff.get_string('exp-checkout', jsonb_build_object('targetingKey', u.id), 'off') AS v$$, 'off') AS r
UNION ALL
SELECT 'cuped', r.* FROM ff.experiment_results($$
    SELECT v, u.spent_before + ff.bucket(u.id, 'noise', 10) + CASE v WHEN 'on' THEN 1.0 ELSE 0 END, u.spent_before
      FROM exp_users AS u,
           ff.get_string('exp-checkout', jsonb_build_object('targetingKey', u.id), 'off') AS v$$, 'off') AS r;
SELECT analysis, variant, units, round(mean::numeric, 3) AS mean, round(adjusted_mean::numeric, 3) AS adjusted_mean,
       round((adjusted_mean - first_value(adjusted_mean) OVER w)::numeric, 3) AS difference,
       round((lift_high - lift_low)::numeric, 4) AS interval_width
  FROM exp_revenue WINDOW w AS (PARTITION BY analysis ORDER BY variant <> 'off')
 ORDER BY analysis DESC, variant;
SELECT (SELECT lift_high - lift_low FROM exp_revenue WHERE analysis = 'cuped' AND variant = 'on')
     < (SELECT lift_high - lift_low FROM exp_revenue WHERE analysis = 'plain' AND variant = 'on') / 5 AS cuped_narrows;
-- without a covariate the adjusted mean is the mean
SELECT bool_and(adjusted_mean = mean) AS unadjusted FROM exp_revenue WHERE analysis = 'plain';

-- ---- the caller's search_path and rights: an unqualified table of the
-- caller's schema; a role without SELECT on it is refused by PostgreSQL
CREATE SCHEMA exp_app;
CREATE TABLE exp_app.visits (variant text, converted boolean);
INSERT INTO exp_app.visits SELECT 'a', i % 3 = 0 FROM generate_series(1, 300) AS i;
INSERT INTO exp_app.visits SELECT 'b', i % 2 = 0 FROM generate_series(1, 300) AS i;
INSERT INTO exp_app.visits VALUES (NULL, true), (NULL, false);
SET search_path = exp_app, public;
SELECT variant, units, total FROM ff.experiment_results('SELECT * FROM visits', 'a');
-- the caller's search_path is the same afterwards, also after an error
SELECT * FROM ff.experiment_results('SELECT * FROM no_such_visits', 'a');
SHOW search_path;
RESET search_path;
CREATE ROLE exp_analyst;
SET ROLE exp_analyst;
SELECT variant FROM ff.experiment_results('SELECT * FROM exp_app.visits', 'a');
RESET ROLE;
DROP ROLE exp_analyst;
-- small groups: one unit has no variance, so no comparison
SELECT variant, units, mean, stddev, lift, p_value
  FROM ff.experiment_results($$VALUES ('a', 1.0), ('b', 2.0), ('b', 4.0)$$, 'a');
-- a constant outcome: no variance anywhere, a difference is certain
SELECT variant, p_value, chance_to_beat_control
  FROM ff.experiment_results($$SELECT 'a', 1 UNION ALL SELECT 'a', 1 UNION ALL SELECT 'b', 2 UNION ALL SELECT 'b', 2$$, 'a');
-- (1.24) an outcome that is the same for every unit (9.99, summed in
-- double precision: the two means differ in their last digits) is
-- constant: no spread, no difference (1.23 said p = 0 and chance 0)
SELECT variant, units, stddev, p_value, chance_to_beat_control AS chance, lift
  FROM ff.experiment_results($$SELECT CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END, 9.99
                                 FROM generate_series(1, 10000) AS g$$, 'a');
-- ... while an outcome with a large common offset and a small spread keeps
-- its spread and its difference (a first 1.24 draft treated anything within
-- n ulps of the mean as rounding, and called this 7-sigma effect nothing)
SELECT variant, units, round(stddev::numeric, 3) AS stddev, p_value < 1e-9 AS significant,
       round((lift * 1e12)::numeric, 2) AS lift_e12
  FROM ff.experiment_results($$SELECT CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END,
                                      1e10::float8 + (g / 2 % 1000) / 1000.0 + CASE WHEN g % 2 = 1 THEN 0.01 ELSE 0 END
                                 FROM generate_series(1, 200000) AS g$$, 'a');
-- ... and (1.24) whatever the offset and the units: the sums are kept as
-- differences from a shift (ff._experiment_moments).  Two arms of 1e12 plus
-- the same spread of fractions, 100,000 and 10,000 units: avg() added the
-- values themselves, its running sums passed 2^53 and lost the fractions
-- (means 0.045 and 0.451 above 1e12), and the arms looked different at
-- p = 0.000
SELECT variant, round((mean - 1e12)::numeric, 2) AS mean_minus_1e12, round(stddev::numeric, 2) AS stddev,
       p_value > 0.05 AS no_difference
  FROM ff.experiment_results($$SELECT CASE WHEN g % 11 = 0 THEN 'b' ELSE 'a' END, 1e12::float8 + (g * 0.6180339887) % 1
                                 FROM generate_series(1, 110000) AS g$$, 'a', '{"a": 10, "b": 1}');
-- (1.24) only the control in the result: nothing to compare, with a
-- WARNING (a split that went wrong would otherwise pass unseen)
SELECT variant, units, srm_p_value FROM ff.experiment_results($$VALUES ('off', true), ('off', false)$$, 'off');

-- ---- bad input: clear errors
\set VERBOSITY default
SELECT * FROM ff.experiment_results(NULL, 'off');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', NULL);
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', confidence => 1);
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '{"off": "half"}');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '{"off": 0}');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '[1, 2]');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'of');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts WHERE false', 'off');
SELECT * FROM ff.experiment_results('SELECT variant FROM exp_counts', 'off');
SELECT * FROM ff.experiment_results('SELECT variant, variant FROM exp_counts', 'off');
SELECT * FROM ff.experiment_results('SELECT variant, converted, variant FROM exp_counts', 'off');
SELECT * FROM ff.experiment_results('DELETE FROM exp_counts RETURNING variant, converted', 'off');
SELECT * FROM ff.experiment_results('WITH d AS (DELETE FROM exp_counts RETURNING *) SELECT variant, converted FROM d', 'off');
SELECT * FROM ff.experiment_results('SELECT variant, converted INTO exp_copy FROM exp_counts', 'off');
SELECT * FROM ff.experiment_results('SELECT 1, 2; SELECT 3, 4', 'off');
SELECT * FROM ff.experiment_results(' ; -- nothing', 'off');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts WHERE variant = $1', 'off');
SELECT * FROM ff.experiment_results($$VALUES ('a', 'NaN'::float8), ('a', 1), ('b', 2), ('b', 3)$$, 'a');
SELECT * FROM ff.experiment_results($$VALUES ('a', 1, 'Infinity'::float8), ('b', 2, 0)$$, 'a');
SELECT * FROM ff.experiment_results($$VALUES ('it''s', 1), ('"a", "b"', 2)$$, 'a');
-- (1.24) magnitudes whose squares leave double precision (a variance that
-- underflowed to 0 made any difference significant), and a covariate too
-- far in scale from the outcome
SELECT * FROM ff.experiment_results($$VALUES ('a', 1e-170::float8), ('a', 2e-170), ('b', 3e-170), ('b', 1e-170)$$, 'a');
SELECT * FROM ff.experiment_results($$VALUES ('a', 1e90::float8, 1e-90::float8), ('a', 2e90, 3e-90),
                                             ('b', 3e90, 2e-90), ('b', 1e90, 5e-90)$$, 'a');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '{"off": 1e400}');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '{"off": 1, "on": 1e-400}');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', '{"off": 1, "on": 1, "dark": 1e-200}');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM exp_counts', 'off', confidence => 0.9999999999999999);
SELECT * FROM ff.experiment_results('SELEC variant, converted FROM exp_counts', 'off');
SELECT * FROM ff.experiment_results('SELECT variant, converted FROM no_such_table', 'off');
\set VERBOSITY terse
SELECT count(*) AS rows_kept FROM exp_counts;

-- ---- PUBLIC may call it: it runs as the caller and reads nothing of ff
SELECT has_function_privilege('public', 'ff.experiment_results(text, text, jsonb, double precision)', 'EXECUTE') AS public_may,
       p.prosecdef AS security_definer
  FROM pg_proc AS p WHERE p.oid = 'ff.experiment_results(text, text, jsonb, double precision)'::regprocedure;

DROP SCHEMA exp_app CASCADE;
DROP TABLE exp_counts, exp_users, exp_orders;
DROP DOMAIN exp_revenue_amount;
