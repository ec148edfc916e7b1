--
-- 260_row_context: a table row as the evaluation context
-- (ff.evaluate_row, ff.get_*_row): attributes are read by name from the
-- tuple, without building jsonb.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS feature_flags;

INSERT INTO ff.environments (name, is_default) VALUES ('development', true)
    ON CONFLICT DO NOTHING;
INSERT INTO ff.environments (name) VALUES ('glue_row');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_row', 'checkout-v2', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on",
              {"and": [{"in": [{"var": "country"}, ["US", "CA"]]}, {"==": [{"var": "plan"}, "pro"]}]}, "on",
              {"fractional": [{"var": "targetingKey"}, ["on", 50], ["off", 50]]}]}'),
    ('glue_row', 'ui-theme', 'string', '{"classic": "classic", "dark": "dark", "neon": "neon"}', 'classic',
     '{"if": [{"sem_ver": [{"var": "app_version"}, ">=", "2.3.0"]}, "neon",
              {"==": [{"var": "country"}, "DE"]}, "dark"]}'),
    ('glue_row', 'typed', 'string', '{"yes": "yes", "no": "no"}', 'no',
     '{"if": [{"and": [{"var": "active"}, {">": [{"var": "score"}, 1.5]}, {"==": [{"var": "n"}, 7]},
                       {"==": [{"var": "big"}, 9000000000]}, {"==": [{"var": "tags.1"}, "b"]},
                       {"in": ["c", {"var": "tags"}]}, {"==": [{"var": "doc.nested.x"}, 1]},
                       {"==": [{"var": "addr.city"}, "Oslo"]}, {"==": [{"var": "day"}, "2026-01-02"]},
                       {"==": [{"var": "code"}, "ab  "]}]},
                      "yes", "no"]}');

-- the workload over 100,000 generated users as a table (same ground truth
-- as 250_workload, from flagd-core): the targeting key is the column
-- targeting_key, which "targetingKey" falls back to
CREATE TEMP TABLE workload_users AS
SELECT i, 'user-' || i AS targeting_key,
       (ARRAY['US','CA','DE','FR','GB','JP','BR','IN'])[1 + i % 8] AS country,
       CASE WHEN (i / 8) % 3 = 0 THEN 'pro' ELSE 'free' END AS plan,
       CASE WHEN i % 20 = 0 THEN 'u' || i || '@example.com' ELSE 'u' || i || '@mail.test' END AS email,
       (1 + i % 3) || '.' || ((i / 3) % 6) || '.' || ((i / 18) % 10) AS app_version
  FROM generate_series(1, 100000) AS i;
SELECT count(*) FILTER (WHERE ff.get_bool_row('checkout-v2', u, NULL, 'glue_row')) AS checkout_on
  FROM workload_users AS u;
SELECT ff.get_string_row('ui-theme', u, NULL, 'glue_row') AS theme, count(*)
  FROM workload_users AS u GROUP BY 1 ORDER BY 1;
-- row and jsonb contexts agree
SELECT count(*) AS disagreements
  FROM workload_users AS u
 WHERE ff.get_bool_row('checkout-v2', u, NULL, 'glue_row')
       IS DISTINCT FROM ff.get_bool('checkout-v2', to_jsonb(u) || jsonb_build_object('targetingKey', u.targeting_key), NULL, 'glue_row');
SELECT u.i, d.* FROM workload_users AS u, LATERAL ff.evaluate_row('ui-theme', u, '""', 'glue_row') AS d
 WHERE u.i IN (3, 5, 18) ORDER BY u.i;

-- column types: boolean, numeric, integers, arrays (indexed and whole),
-- jsonb (walked), composite (walked), other types as their text output,
-- char(n) with its padding
CREATE TYPE glue_address AS (street text, city text);
CREATE TEMP TABLE typed_rows (id int, active boolean, score numeric, n smallint, big bigint,
                              tags text[], doc jsonb, addr glue_address, day date, code char(4));
INSERT INTO typed_rows VALUES
    (1, true, 2.5, 7, 9000000000, '{a,b,c}', '{"nested": {"x": 1}}', ROW('Main St', 'Oslo'), '2026-01-02', 'ab'),
    (2, true, 1.5, 7, 9000000000, '{a,b,c}', '{"nested": {"x": 1}}', ROW('Main St', 'Oslo'), '2026-01-02', 'ab'),
    (3, true, 2.5, 7, 9000000000, '{a,b,c}', '{"nested": {"x": 2}}', ROW('Main St', 'Oslo'), '2026-01-02', 'ab'),
    (4, true, 2.5, 7, 9000000000, '{a,b,c}', '{"nested": {"x": 1}}', ROW('Main St', 'Bergen'), '2026-01-02', 'ab'),
    (5, NULL, 2.5, 7, 9000000000, '{a,b,c}', '{"nested": {"x": 1}}', ROW('Main St', 'Oslo'), '2026-01-02', 'ab');
SELECT id, ff.get_string_row('typed', t, NULL, 'glue_row') AS typed FROM typed_rows AS t ORDER BY id;
-- a NULL row is the empty context {}
SELECT ff.get_string_row('typed', NULL::typed_rows, 'caller default', 'glue_row') AS null_row;
-- a non-row context is an error (a call problem, not a flag problem)
SELECT ff.get_bool_row('checkout-v2', 42, false, 'glue_row');
-- flag problems still come back as the default
SELECT ff.get_bool_row('no-such-flag', t, true, 'glue_row') AS missing,
       ff.get_int_row('ui-theme', t, -1, 'glue_row') AS mismatch
  FROM typed_rows AS t WHERE id = 1;

-- the attribute positions remembered between rows follow the table's shape:
-- a domain column, a dropped column, and columns added, dropped and moved
-- between statements of one session
CREATE DOMAIN glue_plan AS text CHECK (VALUE IN ('pro', 'free'));
CREATE TEMP TABLE shape_rows (pad int, country text, plan glue_plan, email text);
INSERT INTO shape_rows VALUES (0, 'US', 'pro', 'a@mail.test'), (0, 'FR', 'pro', 'b@example.com'), (0, 'FR', 'free', 'c@mail.test');
SELECT country, plan, ff.get_bool_row('checkout-v2', s, NULL, 'glue_row') AS on FROM shape_rows AS s ORDER BY email;
ALTER TABLE shape_rows DROP COLUMN pad;
SELECT country, plan, ff.get_bool_row('checkout-v2', s, NULL, 'glue_row') AS on FROM shape_rows AS s ORDER BY email;
ALTER TABLE shape_rows DROP COLUMN country;
ALTER TABLE shape_rows ADD COLUMN country text DEFAULT 'CA';
SELECT country, plan, ff.get_bool_row('checkout-v2', s, NULL, 'glue_row') AS on FROM shape_rows AS s ORDER BY email;
-- an anonymous record: attributes f1, f2, ... (no "country" or "plan")
SELECT ff.get_bool_row('checkout-v2', ROW('US', 'pro'), NULL, 'glue_row') AS anonymous;
DROP TABLE shape_rows;
DROP DOMAIN glue_plan;
DROP TABLE typed_rows;
DROP TYPE glue_address;
-- a json column that jsonb cannot hold (\u0000, a number beyond numeric,
-- a lone surrogate escape) ends the evaluation with INVALID_CONTEXT when a
-- rule reads it; a rule that does not read it is not affected
CREATE TABLE json_rows (id int, j json, plan text);
INSERT INTO json_rows VALUES (1, '{"a": "\u0000"}', 'pro'), (2, '{"a": 1e999999}', 'pro'),
    (3, '{"a": "\ud800"}', 'pro'), (4, '{"b": 1}', 'pro');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_row', 'json-b', 'boolean', '{"on": true, "off": false}', 'off', '{"if": [{"==": [{"var": "j.b"}, 1]}, "on", "off"]}'),
    ('glue_row', 'plan-only', 'boolean', '{"on": true, "off": false}', 'off', '{"if": [{"==": [{"var": "plan"}, "pro"]}, "on", "off"]}');
SELECT id, e.value, e.reason, e.error_code, e.error_message
  FROM json_rows AS r, ff.evaluate_row('json-b', r, 'false', 'glue_row') AS e ORDER BY id;
SELECT id, ff.get_bool_row('json-b', r, NULL, 'glue_row') AS json_b,
       ff.get_bool_row('plan-only', r, NULL, 'glue_row') AS plan_only
  FROM json_rows AS r ORDER BY id;
-- a json column too deep for the conversion's parse at the stack depth at
-- hand (PostgreSQL's "stack depth limit exceeded", here provoked with the
-- smallest max_stack_depth) is INVALID_CONTEXT too, not the error: the
-- getter answers the default, and a rule that does not read it is not
-- affected
INSERT INTO json_rows VALUES (5, ('{"b": 1, "d": ' || repeat('[', 5000) || repeat(']', 5000) || '}')::json, 'pro');
SELECT ff.get_bool_row('json-b', r, NULL, 'glue_row') AS json_b FROM json_rows AS r WHERE id = 5;
SET max_stack_depth = '100kB';
SELECT id, e.value, e.reason, e.error_code, e.error_message
  FROM json_rows AS r, ff.evaluate_row('json-b', r, 'false', 'glue_row') AS e WHERE id = 5;
SELECT id, ff.get_bool_row('json-b', r, NULL, 'glue_row') AS json_b,
       ff.get_bool_row('plan-only', r, NULL, 'glue_row') AS plan_only
  FROM json_rows AS r WHERE id = 5;
RESET max_stack_depth;
DROP TABLE json_rows;
-- a domain over jsonb is a jsonb context
CREATE DOMAIN glue_ctx AS jsonb CHECK (jsonb_typeof(VALUE) = 'object');
SELECT ff.get_bool_row('plan-only', '{"plan": "pro"}'::glue_ctx, NULL, 'glue_row') AS domain_ctx;
DROP DOMAIN glue_ctx;
-- a numeric beyond the double range is Infinity to rules, as in a jsonb context
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_row', 'n-big', 'boolean', '{"on": true, "off": false}', 'off', '{"if": [{">": [{"var": "n"}, 1e300]}, "on", "off"]}');
SELECT label, ff.get_bool_row('n-big', r, NULL, 'glue_row') AS above_1e300
  FROM (VALUES ('1e400', 1e400::numeric), ('-1e400', -1e400), ('1e300', 1e300)) AS r (label, n);
-- too large to convert within the evaluation's budget (ff.evaluation_memory):
-- an error result
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
SELECT 'glue_row', 'tags', 'boolean', '{"on": true, "off": false}', 'off',
       jsonb_build_object('if', jsonb_build_array(
           jsonb_build_object('or', (SELECT jsonb_agg(jsonb_build_object('in', jsonb_build_array('tag-' || i, '{"var": "tags"}'::jsonb)))
                                       FROM generate_series(1, 40) AS i)), 'on', 'off'));
SELECT e.value, e.reason, e.error_code, e.error_message
  FROM (SELECT array_fill(''::text, ARRAY[1000000]) AS tags) AS r, ff.evaluate_row('tags', r, 'false', 'glue_row') AS e;
-- (1.19 library) what a lookup would read from a row counts against the
-- budget before it is read: a compressed value larger than the budget, or a
-- whole array whose elements would not fit, ends the evaluation with an
-- error result; one element of a large array is read in place (1.18
-- expanded the whole array at every such lookup, outside the budget: 2.5 GB
-- for 100 lookups of a 2,000,000-element array)
CREATE TEMP TABLE big_row (a int[], s text);
INSERT INTO big_row VALUES (array_fill(7, ARRAY[200000]), repeat('x', 3000000));
SELECT pg_column_size(a) < 200000 * 4 AND pg_column_size(s) < 3000000 AS stored_compressed FROM big_row;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
SELECT 'glue_row', 'row-elements', 'boolean', '{"on": true, "off": false}', 'off',
       jsonb_build_object('if', jsonb_build_array(
           jsonb_build_object('and', (SELECT jsonb_agg(jsonb_build_object('==', jsonb_build_array(jsonb_build_object('var', 'a.' || i), 7)))
                                        FROM generate_series(0, 199999, 4000) AS i)), 'on', 'off'));
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_row', 'row-array', 'boolean', '{"on": true, "off": false}', 'off', '{"if": [{"in": [7, {"var": "a"}]}, "on", "off"]}'),
    ('glue_row', 'row-text', 'boolean', '{"on": true, "off": false}', 'off', '{"if": [{"starts_with": [{"var": "s"}, "xx"]}, "on", "off"]}');
SET ff.evaluation_memory = '1MB';
SELECT k.key, e.value, e.reason, e.error_code, e.error_message
  FROM big_row AS r, (VALUES ('row-elements'), ('row-array'), ('row-text')) AS k (key),
       ff.evaluate_row(k.key, r, 'false', 'glue_row') AS e
 ORDER BY k.key;
RESET ff.evaluation_memory;
SELECT k.key, e.value, e.reason, e.error_code
  FROM big_row AS r, (VALUES ('row-elements'), ('row-array'), ('row-text')) AS k (key),
       ff.evaluate_row(k.key, r, 'false', 'glue_row') AS e
 ORDER BY k.key;
DELETE FROM ff.flags WHERE environment = 'glue_row';
DELETE FROM ff.environments WHERE name = 'glue_row';

--
-- (1.11, from a differential audit of row against jsonb contexts) a row
-- gives a rule what to_jsonb(row) gives it: multidimensional arrays nest,
-- a real is its shortest decimal, NaN and infinities are strings, times
-- are their text output, targetingKey falls back to targeting_key only at
-- the top, and a json or
-- jsonb attribute is converted once per row however often a rule reads it
--
SELECT name FROM ff.create_environment('row_diff');
CREATE TYPE pg_temp.acct AS (plan text, targeting_key text);
CREATE TEMP TABLE row_diff (
    id int, m int[], mt text[], r real, f double precision, nn numeric, t time, tz timetz,
    acct pg_temp.acct, j json, jb jsonb);
INSERT INTO row_diff VALUES
    (1, '{{1,2},{3,4}}', '{{{a,b}},{{c,NULL}}}', 0.1, 'NaN', 'NaN', '09:30', '09:00+02', ROW('pro', 'acct-9'),
     '{"k1": 1, "k2": [1, 2]}', '{"k1": "x", "k2": {"y": true}}'),
    (2, '[0:1]={5,6}', '{}', '-Infinity', 'Infinity', '-Infinity', '23:59:59.5', '12:00-03:30', ROW('free', NULL),
     '[1, {"a": 2}]', '"scalar"'),
    (3, '{}', '{{x}}', 1.5e-7, '-0', 1.0, '00:00', '00:00+00', NULL, NULL, NULL);
-- one flag per path, whose targeting returns the value: the error message
-- shows what the rule saw
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
SELECT 'row_diff', 'p' || n, 'string', '{"a": "a"}', 'a', jsonb_build_object('var', p)
  FROM unnest(ARRAY['m', 'm.1', 'm.1.0', 'm.0.5', 'mt', 'mt.1.0.1', 'mt.0.0', 'r', 'f', 'nn', 't', 'tz',
                    'acct', 'acct.targetingKey', 'acct.targeting_key', 'j', 'j.k2.1', 'j.1.a', 'jb', 'jb.k2.y',
                    '']) WITH ORDINALITY AS u(p, n);

SELECT d.id, f.key, (ff.evaluate_row(f.key, d, '"?"', 'row_diff')).error_message AS row_context,
       (ff.evaluate(f.key, to_jsonb(d), '"?"', 'row_diff')).error_message
           IS NOT DISTINCT FROM (ff.evaluate_row(f.key, d, '"?"', 'row_diff')).error_message AS same_as_jsonb
  FROM row_diff AS d, ff.flags AS f WHERE f.environment = 'row_diff'
 ORDER BY d.id, length(f.key), f.key;
-- -0 is 0 to a rule, as in to_jsonb: 1 / f is Infinity, not -Infinity
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_diff', 'neg-zero', 'string', '{"true": "negative", "false": "not negative"}', 'false',
     '{"<": [{"/": [1, {"var": "f"}]}, 0]}');
SELECT id, f, ff.get_string_row('neg-zero', d, '?', 'row_diff') AS row_context,
       ff.get_string('neg-zero', to_jsonb(d), '?', 'row_diff') AS jsonb_context
  FROM row_diff AS d WHERE id = 3;
-- a real equals the literal it was written as
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_diff', 'tenth', 'boolean', '{"on": true, "off": false}', 'off', '{"if": [{"==": [{"var": "r"}, 0.1]}, "on", "off"]}');
SELECT id, ff.get_bool_row('tenth', d, NULL, 'row_diff') AS row_context,
       ff.get_bool('tenth', to_jsonb(d), NULL, 'row_diff') AS jsonb_context
  FROM row_diff AS d ORDER BY id;
-- two attributes named a: var reads the first (to_jsonb keeps the last),
-- missing finds it
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_diff', 'pa', 'string', '{"a": "a"}', 'a', '{"var": "a"}'),
    ('row_diff', 'pa-keys', 'string', '{"a": "a"}', 'a', '{"missing": ["a", "b"]}');
SELECT (ff.evaluate_row('pa', r, '"?"', 'row_diff')).error_message AS row_context,
       (ff.evaluate('pa', to_jsonb(r), '"?"', 'row_diff')).error_message AS jsonb_context,
       (ff.evaluate_row('pa-keys', r, '"?"', 'row_diff')).error_message AS missing
  FROM (SELECT 1 AS a, 2 AS a) AS r;
DELETE FROM ff.flags WHERE environment = 'row_diff';
DELETE FROM ff.environments WHERE name = 'row_diff';

--
-- (1.21 library) the row path reads string columns in place, remembers a
-- named row type's descriptor through the type cache and keeps up to 64
-- column positions: every string a rule reads is the column's value however
-- many one evaluation reads (more than the row's 8 lookup slots), for
-- varchar and char(n), compressed, out-of-line and nested values, with more
-- column names than remembered positions, and after the table changes
-- shape inside a transaction and back at its rollback.  Each rule compares
-- the concatenation of what it read with column "expect", written by SQL.
--
SELECT name FROM ff.create_environment('row_str');
CREATE TYPE pg_temp.inner_str AS (s text, v varchar(20));
CREATE TEMP TABLE row_str (
    id int, c1 text, c2 varchar(10), c3 char(4), c4 text, c5 text, c6 text, c7 text,
    c8 text, c9 text, c10 text, c11 text, c12 text, big text, ext text, nest pg_temp.inner_str, expect text);
ALTER TABLE row_str ALTER COLUMN ext SET STORAGE EXTERNAL;
INSERT INTO row_str
SELECT i, 'a' || i, 'b' || i, 'c' || (i % 10), 'd' || i, 'e' || i, 'f' || i, 'g' || i,
       'h' || i, 'i' || i, 'j' || i, 'k' || i, 'l' || i,
       repeat('m' || i, 20000), repeat('n', 3000) || i, ROW('o' || i, 'p' || i)::pg_temp.inner_str
  FROM generate_series(1, 3) AS i;
UPDATE row_str SET expect = concat_ws('|', c1, c2, rpad(c3, 4), c4, c5, c6, c7, c8, c9, c10, c11, c12,
                                      right(big, 6), right(ext, 5), (nest).s, (nest).v);
SELECT id, expect, pg_column_size(big) < length(big) AS big_compressed,
       pg_column_size(ext) >= 3000 AS ext_uncompressed
  FROM row_str ORDER BY id;
-- sixteen string reads in one evaluation, each a different column
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_str', 'cat-all', 'string', '{"same": "same", "different": "different"}', 'different',
     '{"if": [{"==": [{"cat": [{"var": "c1"}, "|", {"var": "c2"}, "|", {"var": "c3"}, "|", {"var": "c4"}, "|",
                               {"var": "c5"}, "|", {"var": "c6"}, "|", {"var": "c7"}, "|", {"var": "c8"}, "|",
                               {"var": "c9"}, "|", {"var": "c10"}, "|", {"var": "c11"}, "|", {"var": "c12"}, "|",
                               {"substr": [{"var": "big"}, -6]}, "|", {"substr": [{"var": "ext"}, -5]}, "|",
                               {"var": "nest.s"}, "|", {"var": "nest.v"}]},
                      {"var": "expect"}]}, "same", "different"]}'),
    ('row_str', 'pick', 'string', '{"one": "one", "two": "two", "three": "three", "none": "none"}', 'none',
     '{"if": [{"and": [{"==": [{"var": "c1"}, "a1"]}, {"==": [{"var": "c12"}, "l1"]}, {"==": [{"var": "c3"}, "c1  "]}]}, "one",
              {"and": [{"==": [{"var": "c2"}, "b2"]}, {"ends_with": [{"var": "ext"}, "n2"]}, {"==": [{"var": "nest.v"}, "p2"]}]}, "two",
              {"and": [{"starts_with": [{"var": "big"}, "m3m3"]}, {"==": [{"var": "c11"}, "k3"]}]}, "three", "none"]}');
SELECT id, ff.get_string_row('cat-all', r, '?', 'row_str') AS cat_all,
       ff.get_string('cat-all', to_jsonb(r), '?', 'row_str') AS cat_all_jsonb,
       ff.get_string_row('pick', r, '?', 'row_str') AS pick,
       ff.get_string('pick', to_jsonb(r), '?', 'row_str') AS pick_jsonb
  FROM row_str AS r ORDER BY id;
-- a table of 100 columns, each read once: more names than remembered positions
DO $$
BEGIN
    EXECUTE 'CREATE TEMP TABLE row_wide (' ||
        (SELECT string_agg(format('w%s text', i), ', ' ORDER BY i) FROM generate_series(1, 100) AS i) ||
        ', expect text)';
    EXECUTE 'INSERT INTO row_wide SELECT ' ||
        (SELECT string_agg(format('%L || r', 'v' || i || '-'), ', ' ORDER BY i) FROM generate_series(1, 100) AS i) ||
        ', NULL FROM generate_series(1, 3) AS r';
    EXECUTE 'UPDATE row_wide SET expect = concat(' ||
        (SELECT string_agg(format('w%s', i), ', ' ORDER BY i) FROM generate_series(1, 100) AS i) || ')';
END $$;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
SELECT 'row_str', 'cat-wide', 'string', '{"same": "same", "different": "different"}', 'different',
       jsonb_build_object('if', jsonb_build_array(
           jsonb_build_object('==', jsonb_build_array(
               jsonb_build_object('cat', (SELECT jsonb_agg(jsonb_build_object('var', 'w' || i) ORDER BY i)
                                            FROM generate_series(1, 100) AS i)),
               '{"var": "expect"}'::jsonb)),
           'same', 'different'));
SELECT w1, w100, length(expect) AS expect_length, count(*) AS evaluations,
       string_agg(DISTINCT ff.get_string_row('cat-wide', r, '?', 'row_str'), ',') AS cat_wide
  FROM row_wide AS r, generate_series(1, 3) GROUP BY w1, w100, expect ORDER BY w1;
-- the shape changes inside a transaction, and back at its rollback
BEGIN;
SELECT id, ff.get_string_row('pick', r, '?', 'row_str') AS before_alter FROM row_str AS r ORDER BY id;
ALTER TABLE row_str RENAME COLUMN c1 TO c1_old;
ALTER TABLE row_str ADD COLUMN c1 text DEFAULT 'a1';
ALTER TABLE row_str DROP COLUMN c2;
SELECT id, ff.get_string_row('pick', r, '?', 'row_str') AS after_alter,
       ff.get_string('pick', to_jsonb(r), '?', 'row_str') AS after_alter_jsonb
  FROM row_str AS r ORDER BY id;
ROLLBACK;
SELECT id, ff.get_string_row('pick', r, '?', 'row_str') AS after_rollback,
       ff.get_string_row('cat-all', r, '?', 'row_str') AS cat_all
  FROM row_str AS r ORDER BY id;
-- a nested row's type changes: its descriptor is read again (the table's
-- own is not, and the evaluation reads the nested one first)
ALTER TYPE pg_temp.inner_str ADD ATTRIBUTE w text;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_str', 'nest-first', 'string', '{"a": "a"}', 'a', '{"cat": [{"var": "nest.v"}, {"var": "nest.w"}, {"var": "c1"}]}');
SELECT id, (ff.evaluate_row('nest-first', r, '"?"', 'row_str')).error_message AS nest_first
  FROM row_str AS r ORDER BY id;
ALTER TYPE pg_temp.inner_str DROP ATTRIBUTE s;
SELECT id, (ff.evaluate_row('nest-first', r, '"?"', 'row_str')).error_message AS nest_first,
       ff.get_string_row('cat-all', r, '?', 'row_str') AS cat_all
  FROM row_str AS r ORDER BY id;
DROP TABLE row_wide;
DROP TABLE row_str;
DELETE FROM ff.flags WHERE environment = 'row_str';
DELETE FROM ff.environments WHERE name = 'row_str';

--
-- (1.21) the planner passes a table's row, and a ROW(...) (a view's or a
-- flattened subquery's row), as columns (ff._row_support): EXPLAIN shows the
-- call it writes.  A row that an outer join may null, a composite column or
-- value of another kind, grouping sets and a table of more than 95 columns
-- keep the row getter.  A rule sees the same row either way: the same
-- attributes in the same order, without dropped columns, and the same
-- answers as to_jsonb(row)
--
SELECT name FROM ff.create_environment('row_plan');
CREATE FUNCTION pg_temp.rewritten(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    line    text;
    plan    text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
        plan := plan || line;
    END LOOP;
    RETURN position('_row_cols(' IN plan) > 0;
END $$;
CREATE TEMP TABLE plan_rows (id int, plan text, gone int, country text, email text, "targetingKey" text,
                             doc jsonb, n numeric);
ALTER TABLE plan_rows DROP COLUMN gone;
INSERT INTO plan_rows VALUES
    (1, 'pro', 'US', 'a@mail.test', 'user-1', '{"tier": 2}', 1.5),
    (2, 'free', 'FR', 'b@example.com', 'user-2', NULL, NULL),
    (3, 'pro', 'CA', NULL, NULL, '{"tier": 1}', -0.0),
    (4, 'free', 'US', repeat('z', 5000) || '@example.com', 'user-4', '[1, 2]', 1e20);
ALTER TABLE plan_rows ALTER COLUMN email SET STORAGE EXTERNAL;
UPDATE plan_rows SET email = email WHERE id = 4;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_plan', 'checkout', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on",
              {"and": [{"in": [{"var": "country"}, ["US", "CA"]]}, {"==": [{"var": "plan"}, "pro"]}]}, "on",
              {"fractional": [["on", 50], ["off", 50]]}]}'),
    ('row_plan', 'whole', 'string', '{"a": "a"}', 'a', '{"var": ""}'),
    ('row_plan', 'keys', 'string', '{"a": "a"}', 'a', '{"missing": ["id", "plan", "gone", "extra", "targetingKey"]}'),
    ('row_plan', 'tier', 'string', '{"a": "a"}', 'a', '{"cat": [{"var": "doc.tier"}, "/", {"var": "n"}, "/", {"var": "targetingKey"}]}');
EXPLAIN (VERBOSE, COSTS OFF) SELECT ff.get_bool_row('checkout', p, false, 'row_plan') FROM plan_rows AS p;
EXPLAIN (VERBOSE, COSTS OFF) SELECT (ff.evaluate_row('whole', p, NULL, 'row_plan')).error_message FROM plan_rows AS p;
-- the same answers from the rewritten call, the row getter over a
-- subquery's row (not rewritten) and the jsonb getter
SELECT p.id,
       ff.get_bool_row('checkout', p, NULL, 'row_plan') AS checkout,
       ff.get_bool_row('checkout', p, NULL, 'row_plan')
           IS NOT DISTINCT FROM ff.get_bool_row('checkout', s, NULL, 'row_plan') AS same_as_subquery,
       ff.get_bool_row('checkout', p, NULL, 'row_plan')
           IS NOT DISTINCT FROM ff.get_bool('checkout', to_jsonb(p), NULL, 'row_plan') AS same_as_jsonb,
       (ff.evaluate_row('tier', p, NULL, 'row_plan')).error_message AS tier,
       (ff.evaluate_row('whole', p, NULL, 'row_plan')).error_message
           = (ff.evaluate_row('whole', s, NULL, 'row_plan')).error_message AS whole_same_as_subquery
  FROM plan_rows AS p JOIN (SELECT * FROM plan_rows OFFSET 0) AS s USING (id)
 ORDER BY p.id;
SELECT (ff.evaluate_row('whole', p, NULL, 'row_plan')).error_message AS whole_row
  FROM plan_rows AS p WHERE id = 1;
-- every getter, rewritten
EXPLAIN (VERBOSE, COSTS OFF)
SELECT ff.get_string_row('whole', p, 'x', 'row_plan'), ff.get_int_row('checkout', p, 0, 'row_plan'),
       ff.get_float_row('checkout', p, 0, 'row_plan'), ff.get_object_row('checkout', p, '{}', 'row_plan')
  FROM plan_rows AS p;
SELECT id, ff.get_string_row('checkout', p, 'x', 'row_plan') AS s, ff.get_int_row('checkout', p, -1, 'row_plan') AS i,
       ff.get_float_row('checkout', p, -1, 'row_plan') AS f, ff.get_object_row('checkout', p, '{}', 'row_plan') AS o,
       (ff.evaluate_row('checkout', p, NULL, 'row_plan')).reason
  FROM plan_rows AS p ORDER BY id;
-- kept: the nullable side of an outer join (a missing row is the empty
-- context, not a row of NULLs)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT v.id, ff.get_bool_row('checkout', p, NULL, 'row_plan')
  FROM (VALUES (1), (5)) AS v (id) LEFT JOIN plan_rows AS p ON p.id = v.id;
SELECT v.id, ff.get_bool_row('checkout', p, NULL, 'row_plan') AS checkout,
       (ff.evaluate_row('keys', p, NULL, 'row_plan')).error_message AS keys
  FROM (VALUES (1), (5)) AS v (id) LEFT JOIN plan_rows AS p ON p.id = v.id ORDER BY v.id;
-- the preserved side of the same join is rewritten
EXPLAIN (VERBOSE, COSTS OFF)
SELECT ff.get_bool_row('checkout', p, NULL, 'row_plan')
  FROM plan_rows AS p LEFT JOIN (VALUES (1)) AS v (id) ON p.id = v.id;
-- a flattened subquery's row and ROW(...): passed as columns, named as the
-- row value would be (the subquery's columns; f1, f2, ... for ROW)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT ff.get_bool_row('checkout', s, NULL, 'row_plan') FROM (SELECT * FROM plan_rows) AS s;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT ff.get_bool_row('checkout', ROW(p.plan, p.country), NULL, 'row_plan') FROM plan_rows AS p;
-- a view's row (its own column names), the same on the view not flattened;
-- on the nullable side of an outer join kept
CREATE TEMP VIEW plan_view AS SELECT id, plan AS tier, country, "targetingKey" FROM plan_rows;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT ff.get_bool_row('checkout', v, NULL, 'row_plan') FROM plan_view AS v;
SELECT v.id, ff.get_bool_row('checkout', v, NULL, 'row_plan') AS checkout,
       (ff.evaluate_row('keys', v, NULL, 'row_plan')).error_message AS keys,
       (ff.evaluate_row('whole', v, NULL, 'row_plan')).error_message
           = (ff.evaluate_row('whole', w, NULL, 'row_plan')).error_message AS whole_same_as_unflattened
  FROM plan_view AS v JOIN (SELECT * FROM plan_view OFFSET 0) AS w USING (id) ORDER BY v.id;
SELECT pg_temp.rewritten('SELECT ff.get_bool_row(''checkout'', v, NULL, ''row_plan'') FROM (VALUES (1), (5)) AS x (id) LEFT JOIN plan_view AS v ON v.id = x.id') AS nullable_view;
SELECT x.id, (ff.evaluate_row('keys', v, NULL, 'row_plan')).error_message AS keys
  FROM (VALUES (1), (5)) AS x (id) LEFT JOIN plan_view AS v ON v.id = x.id ORDER BY x.id;
-- a cached plan over ROW(...)::type is planned again when the type changes
-- (its names were the type's as planned): the same as the value passed
-- through an unflattened subquery
CREATE TYPE pg_temp.plan_c AS (plan text, country text);
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_plan', 'names', 'string', '{"a": "a"}', 'a',
     '{"cat": ["plan=", {"var": "plan"}, " id=", {"var": "id"}, " country=", {"var": "country"},
               " extra=", {"var": "extra"}, " keys=", {"missing": ["plan", "id", "country", "extra"]}]}');
PREPARE plan_cast AS
    SELECT (ff.evaluate_row('names', ROW(p.plan, p.country)::pg_temp.plan_c, NULL, 'row_plan')).error_message AS names,
           (ff.evaluate_row('whole', ROW(p.plan, p.country)::pg_temp.plan_c, NULL, 'row_plan')).error_message
               = (ff.evaluate_row('whole', q.r, NULL, 'row_plan')).error_message AS whole_same_as_value
      FROM plan_rows AS p,
           (SELECT ROW(plan, country)::pg_temp.plan_c AS r FROM plan_rows WHERE id = 1 OFFSET 0) AS q
     WHERE p.id = 1;
EXECUTE plan_cast;
ALTER TYPE pg_temp.plan_c RENAME ATTRIBUTE plan TO id;
EXECUTE plan_cast;
ALTER TYPE pg_temp.plan_c DROP ATTRIBUTE country;
ALTER TYPE pg_temp.plan_c ADD ATTRIBUTE extra int;
EXECUTE plan_cast;
DEALLOCATE plan_cast;
-- ROW(...) cast to a composite type with a dropped attribute: left out
-- (the row_diff section above has a flattened subquery with two columns
-- named a, which now comes as columns too: var still reads the first)
CREATE TYPE pg_temp.plan_t AS (plan text, gone int, country text);
ALTER TYPE pg_temp.plan_t DROP ATTRIBUTE gone;
SELECT pg_temp.rewritten('SELECT ff.get_bool_row(''checkout'', ROW(p.plan, p.country)::pg_temp.plan_t, NULL, ''row_plan'') FROM plan_rows AS p') AS cast_row,
       pg_temp.rewritten('SELECT ff.get_bool_row(''checkout'', ROW(generate_series(1, 2)), NULL, ''row_plan'')') AS set_returning;
SELECT p.id, (ff.evaluate_row('keys', ROW(p.id, p.plan)::pg_temp.plan_t, NULL, 'row_plan')).error_message AS cast_keys,
       (ff.evaluate_row('whole', ROW(p.id, p.plan)::pg_temp.plan_t, NULL, 'row_plan')).error_message
           = (ff.evaluate_row('whole', q.r, NULL, 'row_plan')).error_message AS whole_same_as_value
  FROM plan_rows AS p, (SELECT ROW(id, plan)::pg_temp.plan_t AS r, id FROM plan_rows OFFSET 0) AS q
 WHERE p.id = 1 AND q.id = 1;
-- in WHERE, in an aggregate's FILTER, and in an UPDATE of the table itself
SELECT count(*) FILTER (WHERE ff.get_bool_row('checkout', p, false, 'row_plan')) AS on_count,
       count(*) FILTER (WHERE NOT ff.get_bool_row('checkout', p, true, 'row_plan')) AS off_count
  FROM plan_rows AS p;
SELECT id FROM plan_rows AS p WHERE ff.get_bool_row('checkout', p, false, 'row_plan') ORDER BY id;
-- grouped by the row: rewritten (the columns pass the Agg as the row did);
-- under grouping sets kept (a total row's row is NULL, its columns are not)
SELECT pg_temp.rewritten('SELECT ff.get_bool_row(''checkout'', p, NULL, ''row_plan'') FROM plan_rows AS p GROUP BY p') AS group_by_row,
       pg_temp.rewritten('SELECT ff.get_bool_row(''checkout'', p, NULL, ''row_plan'') FROM plan_rows AS p GROUP BY ROLLUP (p)') AS rollup;
SELECT min(p.id) AS id, ff.get_bool_row('checkout', p, NULL, 'row_plan') AS checkout,
       (ff.evaluate_row('keys', p, NULL, 'row_plan')).error_message AS keys, count(*)
  FROM plan_rows AS p GROUP BY p ORDER BY 4, 1;
SELECT min(p.id) AS id, ff.get_bool_row('checkout', p, NULL, 'row_plan') AS checkout,
       (ff.evaluate_row('keys', p, NULL, 'row_plan')).error_message AS keys, count(*)
  FROM plan_rows AS p GROUP BY ROLLUP (p) ORDER BY 4, 1;
UPDATE plan_rows AS p SET plan = ff.get_string_row('checkout', p, 'x', 'row_plan') WHERE id <= 2
RETURNING id, plan;
-- a prepared plan follows the table: planned again after a column is added
PREPARE plan_whole AS
    SELECT id, (ff.evaluate_row('keys', p, NULL, 'row_plan')).error_message AS keys FROM plan_rows AS p WHERE id = 1;
EXECUTE plan_whole;
ALTER TABLE plan_rows ADD COLUMN extra text DEFAULT 'added';
EXECUTE plan_whole;
DEALLOCATE plan_whole;
-- a partitioned table whose partitions order their columns differently
CREATE TEMP TABLE plan_parted (plan text, country text, email text) PARTITION BY LIST (plan);
CREATE TEMP TABLE plan_parted_pro (email text, junk int, country text, plan text);
ALTER TABLE plan_parted_pro DROP COLUMN junk;
ALTER TABLE plan_parted ATTACH PARTITION plan_parted_pro FOR VALUES IN ('pro');
CREATE TEMP TABLE plan_parted_free PARTITION OF plan_parted FOR VALUES IN ('free');
INSERT INTO plan_parted VALUES ('pro', 'US', 'a@mail.test'), ('free', 'US', 'b@mail.test'), ('free', 'DE', 'c@example.com');
SELECT plan, country, ff.get_bool_row('checkout', t, NULL, 'row_plan') AS checkout,
       (ff.evaluate_row('keys', t, NULL, 'row_plan')).error_message AS keys,
       (ff.evaluate_row('whole', t, NULL, 'row_plan')).error_message
           = (ff.evaluate('whole', to_jsonb(t), NULL, 'row_plan')).error_message AS whole_same_as_jsonb
  FROM plan_parted AS t ORDER BY email;
-- ff.evaluation_memory: expanding an uncompressed out-of-line value does not
-- count in either way (a row's tuple holds it fetched), a compressed one
-- does in both
CREATE TEMP TABLE plan_big (id int, s text);
ALTER TABLE plan_big ALTER COLUMN s SET STORAGE EXTERNAL;
INSERT INTO plan_big VALUES (1, repeat('x', 3000000));
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_plan', 'big-text', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{"starts_with": [{"var": "s"}, "xx"]}, "on", "off"]}');
SET ff.evaluation_memory = '1MB';
SELECT pg_column_size(b.s) >= 3000000 AS uncompressed,
       (ff.evaluate_row('big-text', b, NULL, 'row_plan')).value AS rewritten,
       (ff.evaluate_row('big-text', q, NULL, 'row_plan')).value AS subquery
  FROM plan_big AS b, (SELECT * FROM plan_big OFFSET 0) AS q;
ALTER TABLE plan_big ALTER COLUMN s SET STORAGE EXTENDED;
UPDATE plan_big SET s = s || '';
SELECT pg_column_size(b.s) < 3000000 AS compressed,
       (ff.evaluate_row('big-text', b, NULL, 'row_plan')).error_message AS rewritten,
       (ff.evaluate_row('big-text', b, NULL, 'row_plan')).error_message
           = (ff.evaluate_row('big-text', q, NULL, 'row_plan')).error_message AS same_as_subquery
  FROM plan_big AS b, (SELECT * FROM plan_big OFFSET 0) AS q;
RESET ff.evaluation_memory;
DROP TABLE plan_big;
-- a table of more than 95 columns keeps the row getter; 95 are rewritten
CREATE TEMP TABLE plan_wide AS SELECT 1 AS c0;
DO $$
BEGIN
    EXECUTE 'ALTER TABLE plan_wide ' ||
        (SELECT string_agg(format('ADD COLUMN c%s int', i), ', ' ORDER BY i) FROM generate_series(1, 95) AS i);
END $$;
SELECT pg_temp.rewritten('SELECT ff.get_bool_row(''checkout'', w, NULL, ''row_plan'') FROM plan_wide AS w') AS rewritten_96;
ALTER TABLE plan_wide DROP COLUMN c95;
SELECT pg_temp.rewritten('SELECT ff.get_bool_row(''checkout'', w, NULL, ''row_plan'') FROM plan_wide AS w') AS rewritten_95,
       ff.get_bool_row('checkout', w, NULL, 'row_plan') AS checkout
  FROM plan_wide AS w;
DROP TABLE plan_wide;
-- (1.21 library) short numeric and jsonb values (a 1-byte header, as a
-- table stores values of up to 126 bytes) are copied into the evaluation's
-- scratch arena instead of detoasted into a new copy per row.  Over many
-- rows in a row, passed as columns and as a row value (the nullable side
-- of an outer join), each row answers what to_jsonb(row) answers, and a
-- number read from a numeric column equals the same number in a jsonb one
CREATE TEMP TABLE plan_short (id int, score numeric, attrs jsonb);
INSERT INTO plan_short
SELECT g, (g % 100) + 0.25,
       jsonb_build_object('plan', CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'free' END, 'score', (g % 100) + 0.25, 'id', g)
  FROM generate_series(1, 300) AS g;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_plan', 'short', 'string', '{"pro-high": "pro-high", "other": "other", "wrong": "wrong"}', 'other',
     '{"if": [{"!": {"and": [{"==": [{"var": "score"}, {"var": "attrs.score"}]}, {"==": [{"var": "id"}, {"var": "attrs.id"}]}]}}, "wrong",
              {"and": [{">": [{"var": "score"}, 50.5]}, {"==": [{"var": "attrs.plan"}, "pro"]}]}, "pro-high"]}');
SELECT pg_temp.rewritten('SELECT ff.get_string_row(''short'', p, ''?'', ''row_plan'') FROM plan_short AS p') AS as_columns,
       max(pg_column_size(score)) < 127 AND max(pg_column_size(attrs)) < 127 AS one_byte_headers
  FROM plan_short;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE v = 'pro-high') AS pro_high,
       count(*) FILTER (WHERE v = 'wrong') AS wrong,
       count(*) FILTER (WHERE v IS DISTINCT FROM j) AS unlike_jsonb,
       count(*) FILTER (WHERE v IS DISTINCT FROM o) AS unlike_outer_join
  FROM (SELECT ff.get_string_row('short', p, '?', 'row_plan') AS v,
               ff.get_string('short', to_jsonb(p), '?', 'row_plan') AS j,
               ff.get_string_row('short', o, '?', 'row_plan') AS o
          FROM plan_short AS p LEFT JOIN plan_short AS o USING (id)) AS r;
-- the count computed without the extension
SELECT count(*) AS pro_high FROM plan_short WHERE score > 50.5 AND attrs->>'plan' = 'pro';
DROP TABLE plan_short;
-- a record holding one name twice: var reads the first, whatever query ran
-- before (a query's columns descriptor may take the address of the one
-- before it, which had the name once, at another position)
CREATE TEMP TABLE plan_dup (p text, q text);
INSERT INTO plan_dup VALUES ('first', 'second');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('row_plan', 'dup-a', 'string', '{"first": "first", "second": "second"}', NULL, '{"var": "a"}');
SELECT pg_temp.rewritten('SELECT ff.get_string_row(''dup-a'', s, ''?'', ''row_plan'') FROM (SELECT p AS a, q AS a FROM plan_dup) AS s') AS rewritten;
SELECT 'b, a' AS names, ff.get_string_row('dup-a', s, '?', 'row_plan') AS a FROM (SELECT p AS b, q AS a FROM plan_dup) AS s;
SELECT 'a, a' AS names, ff.get_string_row('dup-a', s, '?', 'row_plan') AS a FROM (SELECT p AS a, q AS a FROM plan_dup) AS s;
SELECT 'b, a' AS names, ff.get_string_row('dup-a', s, '?', 'row_plan') AS a FROM (SELECT p AS b, q AS a FROM plan_dup) AS s;
SELECT 'a, a' AS names, ff.get_string_row('dup-a', s, '?', 'row_plan') AS a FROM (SELECT p AS a, q AS a FROM plan_dup) AS s;
SELECT 'b, a' AS names, ff.get_string_row('dup-a', s, '?', 'row_plan') AS a FROM (SELECT p AS b, q AS a FROM plan_dup) AS s;
SELECT 'a, a' AS names, ff.get_string_row('dup-a', s, '?', 'row_plan') AS a FROM (SELECT p AS a, q AS a FROM plan_dup) AS s;
DROP TABLE plan_dup;
-- a _cols function cannot be called directly, even as EXPLAIN shows it
SELECT ff._get_bool_row_cols('checkout', 'ff.get_bool_row(text,anyelement,boolean,text)'::regprocedure, NULL, 'row_plan',
                             '{plan,country}', 'pro'::text, 'US'::text) AS direct;
DROP TABLE plan_parted;
DROP VIEW plan_view;
DROP TABLE plan_rows;
DELETE FROM ff.flags WHERE environment = 'row_plan';
DELETE FROM ff.environments WHERE name = 'row_plan';
