--
-- 230_sql_integration: the getters in WHERE, joins, UPDATE ... SET, a
-- view, a row-level security policy and parallel queries.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS feature_flags;

INSERT INTO ff.environments (name, is_default) VALUES ('development', true)
    ON CONFLICT DO NOTHING;
INSERT INTO ff.environments (name) VALUES ('glue_sql');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_sql', 'premium', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{"in": [{"var": "country"}, ["DE", "FR"]]}, "on", "off"]}'),
    ('glue_sql', 'discount', 'number', '{"none": 0, "some": 10, "lots": 25}', 'none',
     '{"if": [{">=": [{"var": "orders"}, 10]}, "lots", {">=": [{"var": "orders"}, 3]}, "some", null]}'),
    ('glue_sql', 'banner', 'string', '{"a": "Welcome", "b": "Hello"}', 'a',
     '{"fractional": [{"var": "targetingKey"}, ["a", 50], ["b", 50]]}');

CREATE TABLE glue_customers (id int PRIMARY KEY, name text, country text, orders int, discount int);
INSERT INTO glue_customers (id, name, country, orders)
VALUES (1, 'ann', 'DE', 12), (2, 'bob', 'US', 4), (3, 'cyd', 'FR', 0), (4, 'dan', 'UK', 3);
CREATE TABLE glue_orders (customer int, amount numeric);
INSERT INTO glue_orders VALUES (1, 100), (2, 50), (3, 70), (4, 20), (1, 10);

-- in WHERE
SELECT id, name FROM glue_customers
 WHERE ff.get_bool('premium', jsonb_build_object('country', country), false, 'glue_sql')
 ORDER BY id;
-- in a join condition and an aggregate
SELECT c.name, sum(o.amount * (100 - ff.get_int('discount', jsonb_build_object('orders', c.orders), 0, 'glue_sql')) / 100) AS due
  FROM glue_customers c
  JOIN glue_orders o ON o.customer = c.id
                    AND ff.get_bool('premium', jsonb_build_object('country', c.country), true, 'glue_sql') IS NOT NULL
 GROUP BY c.name ORDER BY c.name;
-- in UPDATE ... SET
UPDATE glue_customers
   SET discount = ff.get_int('discount', jsonb_build_object('orders', orders), -1, 'glue_sql');
SELECT id, orders, discount FROM glue_customers ORDER BY id;
-- a whole row as context, through to_jsonb
SELECT id, ff.get_bool('premium', to_jsonb(c), NULL, 'glue_sql') AS premium
  FROM glue_customers AS c ORDER BY id;
-- in a view
CREATE VIEW glue_customer_features AS
SELECT id, name,
       ff.get_bool('premium', jsonb_build_object('country', country), false, 'glue_sql') AS premium,
       (ff.evaluate('discount', jsonb_build_object('orders', orders), '0', 'glue_sql')).*
  FROM glue_customers;
SELECT id, name, premium, value, variant, reason FROM glue_customer_features ORDER BY id;
-- the view follows flag changes
UPDATE ff.flags SET variants = '{"none": 0, "some": 15, "lots": 30}'
 WHERE environment = 'glue_sql' AND key = 'discount';
SELECT id, value, variant FROM glue_customer_features ORDER BY id;

-- in a row-level security policy, for an unprivileged role
CREATE ROLE glue_rls_user;
GRANT USAGE ON SCHEMA public TO glue_rls_user;
GRANT SELECT ON glue_customers TO glue_rls_user;
ALTER TABLE glue_customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY premium_only ON glue_customers FOR SELECT TO glue_rls_user
    USING (ff.get_bool('premium', jsonb_build_object('country', country), false, 'glue_sql'));
SET ROLE glue_rls_user;
SELECT id, name FROM glue_customers ORDER BY id;
-- the role cannot read the flag tables, only evaluate
SELECT count(*) FROM ff.flags;
RESET ROLE;
-- turning the flag on for the US shows bob to the role
UPDATE ff.flags SET targeting = '{"if": [{"in": [{"var": "country"}, ["DE", "FR", "US"]]}, "on", "off"]}'
 WHERE environment = 'glue_sql' AND key = 'premium';
SET ROLE glue_rls_user;
SELECT id, name FROM glue_customers ORDER BY id;
RESET ROLE;
DROP POLICY premium_only ON glue_customers;
REVOKE ALL ON glue_customers FROM glue_rls_user;
REVOKE ALL ON SCHEMA public FROM glue_rls_user;
DROP ROLE glue_rls_user;

-- parallel query over generated rows: the workers evaluate too, with
-- their own cache, and agree with a serial run
CREATE TABLE glue_users AS
SELECT g AS id, 'user-' || g AS key, (ARRAY['DE', 'FR', 'US', 'UK', 'JP'])[1 + g % 5] AS country, g % 20 AS orders
  FROM generate_series(1, 20000) AS g;
ANALYZE glue_users;
CREATE TEMP TABLE serial_result AS
SELECT count(*) FILTER (WHERE ff.get_bool('premium', jsonb_build_object('country', country), false, 'glue_sql')) AS premium,
       sum(ff.get_int('discount', jsonb_build_object('orders', orders), 0, 'glue_sql')) AS discount,
       count(*) FILTER (WHERE ff.get_string('banner', jsonb_build_object('targetingKey', key), '?', 'glue_sql') = 'Hello') AS hello
  FROM glue_users;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF)
SELECT count(*) FILTER (WHERE ff.get_bool('premium', jsonb_build_object('country', country), false, 'glue_sql'))
  FROM glue_users;
SELECT count(*) FILTER (WHERE ff.get_bool('premium', jsonb_build_object('country', country), false, 'glue_sql')) AS premium,
       sum(ff.get_int('discount', jsonb_build_object('orders', orders), 0, 'glue_sql')) AS discount,
       count(*) FILTER (WHERE ff.get_string('banner', jsonb_build_object('targetingKey', key), '?', 'glue_sql') = 'Hello') AS hello
  FROM glue_users \gset par_
RESET force_parallel_mode;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SELECT premium, discount, hello,
       (premium, discount, hello) = (:par_premium, :par_discount, :par_hello) AS parallel_agrees
  FROM serial_result;
-- the expected counts, computed without the extension: 3 of 5 countries,
-- discount 0/15/30 by orders, and the banner split close to 50/50
SELECT count(*) FILTER (WHERE country IN ('DE', 'FR', 'US')) AS premium,
       sum(CASE WHEN orders >= 10 THEN 30 WHEN orders >= 3 THEN 15 ELSE 0 END) AS discount
  FROM glue_users;
SELECT hello BETWEEN 9500 AND 10500 AS banner_split_near_half FROM serial_result;

-- contexts read from a table, in each form PostgreSQL stores a jsonb in:
-- short (a 1-byte header, up to 126 bytes: copied into the call site's
-- buffer, not detoasted into a copy per row), inline, compressed and out
-- of line.  Each row evaluates as the same document built anew
-- (ctx::text::jsonb); the short rows come one after another, so a copy
-- that kept bytes of the row before would show.
CREATE TABLE glue_ctx (id int, form text, ctx jsonb);
CREATE TABLE glue_ctx_external (id int, form text, ctx jsonb);
ALTER TABLE glue_ctx_external ALTER COLUMN ctx SET STORAGE EXTERNAL;
INSERT INTO glue_ctx
SELECT g, f.form,
       jsonb_build_object('targetingKey', 'user-' || g, 'country', (ARRAY['DE', 'FR', 'US', 'UK', 'JP'])[1 + g % 5],
                          'orders', g % 20)
       || CASE f.form WHEN 'short' THEN '{}'::jsonb
                      WHEN 'inline' THEN jsonb_build_object('pad', repeat('p', 300))
                      ELSE jsonb_build_object('pad', repeat('c', 5000)) END
  FROM (VALUES ('short', 0), ('inline', 200), ('compressed', 400)) AS f(form, base),
       generate_series(f.base + 1, f.base + 200) AS g;
INSERT INTO glue_ctx_external
SELECT g, 'external', jsonb_build_object('targetingKey', 'user-' || g, 'country', (ARRAY['DE', 'FR', 'US', 'UK', 'JP'])[1 + g % 5],
                                         'orders', g % 20, 'pad', repeat('e', 5000))
  FROM generate_series(601, 800) AS g;
SELECT form, count(*) AS rows,
       max(pg_column_size(ctx)) < 127 AS one_byte_header,
       count(pg_column_compression(ctx)) AS compressed,
       count(*) FILTER (WHERE ff.get_bool('premium', ctx, false, 'glue_sql')) AS premium,
       count(*) FILTER (WHERE ff.get_string('banner', ctx, '?', 'glue_sql') = 'Hello') AS hello,
       count(*) FILTER (WHERE (ff.get_bool('premium', ctx, NULL, 'glue_sql'),
                               ff.get_int('discount', ctx, -1, 'glue_sql'),
                               ff.get_string('banner', ctx, '?', 'glue_sql'),
                               (ff.evaluate('banner', ctx, NULL, 'glue_sql')).variant)
                              IS DISTINCT FROM
                              (ff.get_bool('premium', ctx::text::jsonb, NULL, 'glue_sql'),
                               ff.get_int('discount', ctx::text::jsonb, -1, 'glue_sql'),
                               ff.get_string('banner', ctx::text::jsonb, '?', 'glue_sql'),
                               (ff.evaluate('banner', ctx::text::jsonb, NULL, 'glue_sql')).variant)) AS disagreements
  FROM (SELECT * FROM glue_ctx UNION ALL SELECT * FROM glue_ctx_external) AS c
 GROUP BY form ORDER BY min(id);
-- the out-of-line documents are in the TOAST table
SELECT pg_relation_size(reltoastrelid) > 0 AS external_toasted
  FROM pg_class WHERE oid = 'glue_ctx_external'::regclass;
-- the same rows in an order that alternates short and long documents
SELECT count(*) AS rows,
       count(*) FILTER (WHERE ff.get_int('discount', ctx, -1, 'glue_sql')
                              IS DISTINCT FROM ff.get_int('discount', ctx::text::jsonb, -1, 'glue_sql')) AS disagreements,
       count(DISTINCT ff.get_int('discount', ctx, -1, 'glue_sql')) AS discounts_seen
  FROM (SELECT ctx FROM glue_ctx ORDER BY id % 200, id) AS c;
DROP TABLE glue_ctx, glue_ctx_external;

-- clean up
DROP VIEW glue_customer_features;
DROP TABLE glue_customers, glue_orders, glue_users;
DELETE FROM ff.flags WHERE environment = 'glue_sql';
DELETE FROM ff.environments WHERE name = 'glue_sql';
