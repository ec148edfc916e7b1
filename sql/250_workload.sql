--
-- 250_workload: the benchmark workload (/work/shared/bench/workload) over
-- 100,000 generated users.  The expected counts were computed with
-- flagd-core (the reference implementation) over the same users:
--   checkout-v2 on: 56,228 (12,500 by the deterministic rules)
--   ui-theme: classic 44,446, dark 5,555, neon 49,999
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS feature_flags;

INSERT INTO ff.environments (name, is_default) VALUES ('development', true)
    ON CONFLICT DO NOTHING;
INSERT INTO ff.environments (name) VALUES ('glue_workload');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_workload', 'static-bool', 'boolean', '{"on": true, "off": false}', 'on', NULL),
    ('glue_workload', 'checkout-v2', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on",
              {"and": [{"in": [{"var": "country"}, ["US", "CA"]]}, {"==": [{"var": "plan"}, "pro"]}]}, "on",
              {"fractional": [{"var": "targetingKey"}, ["on", 50], ["off", 50]]}]}'),
    ('glue_workload', 'ui-theme', 'string', '{"classic": "classic", "dark": "dark", "neon": "neon"}', 'classic',
     '{"if": [{"sem_ver": [{"var": "app_version"}, ">=", "2.3.0"]}, "neon",
              {"==": [{"var": "country"}, "DE"]}, "dark"]}');

-- the users of workload/contexts.js, i = 1..100000
CREATE TEMP TABLE workload_users AS
SELECT i, jsonb_build_object(
           'targetingKey', 'user-' || i,
           'country', (ARRAY['US','CA','DE','FR','GB','JP','BR','IN'])[1 + i % 8],
           'plan', CASE WHEN (i / 8) % 3 = 0 THEN 'pro' ELSE 'free' END,
           'email', CASE WHEN i % 20 = 0 THEN 'u' || i || '@example.com' ELSE 'u' || i || '@mail.test' END,
           'app_version', (1 + i % 3) || '.' || ((i / 3) % 6) || '.' || ((i / 18) % 10)) AS ctx
  FROM generate_series(1, 100000) AS i;

SELECT count(*) FILTER (WHERE ff.get_bool('checkout-v2', ctx, NULL, 'glue_workload')) AS checkout_on,
       count(*) FILTER (WHERE ctx ->> 'email' LIKE '%@example.com'
                           OR (ctx ->> 'country' IN ('US', 'CA') AND ctx ->> 'plan' = 'pro')) AS deterministic,
       count(*) FILTER (WHERE ff.get_bool('static-bool', ctx, NULL, 'glue_workload')) AS static_on
  FROM workload_users;
SELECT ff.get_string('ui-theme', ctx, NULL, 'glue_workload') AS theme, count(*)
  FROM workload_users GROUP BY 1 ORDER BY 1;
-- the same through ff.evaluate, with reasons
SELECT d.variant, d.reason, count(*)
  FROM workload_users, LATERAL ff.evaluate('checkout-v2', ctx, 'false', 'glue_workload') AS d
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT d.variant, d.reason, count(*)
  FROM workload_users, LATERAL ff.evaluate('ui-theme', ctx, '""', 'glue_workload') AS d
 GROUP BY 1, 2 ORDER BY 1, 2;
-- ff.evaluate_all agrees with the single-flag calls for a sample of users
SELECT count(*) AS disagreements
  FROM workload_users
 WHERE i % 97 = 0
   AND (ff.evaluate_all(ctx, 'glue_workload') #>> '{checkout-v2,variant}'
          IS DISTINCT FROM (ff.evaluate('checkout-v2', ctx, NULL, 'glue_workload')).variant
        OR ff.evaluate_all(ctx, 'glue_workload') #>> '{ui-theme,value}'
          IS DISTINCT FROM ff.get_string('ui-theme', ctx, NULL, 'glue_workload'));

DELETE FROM ff.flags WHERE environment = 'glue_workload';
DELETE FROM ff.environments WHERE name = 'glue_workload';
