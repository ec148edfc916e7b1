--
-- 500_hostile: hostile and bad input on the write side (raw DML, ff.create_flag,
-- ff.set_targeting, ff.create_segment, ff.import_flagd: a clear ERROR and
-- nothing written) and on the evaluation side (ff.evaluate: reason ERROR, an
-- error code and the caller's default; the getters: the default;
-- ff.json_logic / ff.bucket: a clear ERROR or a defined result).
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
CREATE EXTENSION feature_flags;
\set SHOW_CONTEXT never

-- pg_temp.try runs one statement and reports its SQLSTATE and message
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || pg_catalog.left(SQLERRM, 160);
END;
$$;

-- pg_temp.try_hint reports the SQLSTATE, message, detail and hint
CREATE FUNCTION pg_temp.try_hint(stmt text) RETURNS TABLE (state text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
DECLARE
    s text; m text; d text; h text;
BEGIN
    EXECUTE stmt;
    RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN QUERY SELECT s, pg_catalog.left(m, 160), pg_catalog.left(d, 160), pg_catalog.left(h, 160);
END;
$$;

INSERT INTO ff.environments (name) VALUES ('hostile');
SET ff.environment = 'hostile';
SELECT key FROM ff.create_flag('target', '{"on": true, "off": false}', 'off',
    targeting => '{"if": [{"==": [{"var": "x"}, 1]}, "on", null]}');
SELECT key FROM ff.create_flag('color', '{"red": "#f00", "blue": "#00f"}', 'red');
SELECT key FROM ff.create_flag('limit', '{"small": 10, "huge": 1e1000, "wide": 123456789012345678901234567890}', 'small');
SELECT ff.current_version() AS v0 \gset

-- =====================================================================
-- 1. malformed JSON Logic and unknown operators
-- =====================================================================
-- write side: every path answers with an ERROR that names the flag and the path
SELECT * FROM pg_temp.try_hint($$SELECT ff.set_targeting('target', '{"foo": [1, 2]}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.set_targeting('target', '{"if": [true, "on", "off"], "and": []}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.set_targeting('target', '{"if": [{"starts_with": [{"var": "e"}]}, "on", "off"]}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.set_targeting('target', '{"fractional": [["on", "half"], ["off", 50]]}')$$);
SELECT pg_temp.try($$SELECT ff.create_flag('bad-rule', targeting => '{"nope": 1}')$$);
SELECT pg_temp.try($$INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
                     VALUES ('hostile', 'raw-bad', 'boolean', '{"on": true, "off": false}', 'off', '{"if": [{"var": {"x": 1}}, "on", "off"]}')$$);
SELECT pg_temp.try($$UPDATE ff.flags SET targeting = '{"sem_ver": [{"var": "v"}, "~>", "1.0.0"]}' WHERE environment = 'hostile' AND key = 'target'$$);
SELECT pg_temp.try($$SELECT ff.create_segment('bad-seg', '{"nope": 1}')$$);
-- jsonlogic.com's "?:" is not a flagd operator
SELECT pg_temp.try($$SELECT ff.set_targeting('target', '{"?:": [true, "on", "off"]}')$$);
-- (ff.import_flagd stores a rule that flagd loads but cannot evaluate, with a
-- WARNING: see 320_flagd; a document it refuses writes nothing)
SELECT pg_temp.try($$SELECT ff.import_flagd('{"flags": {"imp": {"state": "ENABLED", "variants": {"on": true, "off": "no"}, "defaultVariant": "off", "targeting": {"nope": []}}}}')$$);
-- JSON text that is not JSON never reaches the extension
SELECT pg_temp.try($$SELECT ff.set_targeting('target', '{"if": [true, "on", "off"]')$$);
-- nothing was written
SELECT ff.current_version() = :v0 AS nothing_written,
       (SELECT targeting FROM ff.flags WHERE environment = 'hostile' AND key = 'target') AS targeting_unchanged,
       (SELECT count(*) FROM ff.flags WHERE environment = 'hostile') AS flags,
       (SELECT count(*) FROM ff.segments WHERE environment = 'hostile') AS segments;

-- ff.json_logic: a clear ERROR for an invalid rule
SELECT * FROM pg_temp.try_hint($$SELECT ff.json_logic('{"foo": [1, 2]}', '{}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.json_logic('{"in_segment": "beta"}', '{}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.json_logic('{"map": [[1, 2]]}', '{}')$$);
-- data that is not an object is plain JSON Logic data
SELECT ff.json_logic('{"var": 1}', '["a", "b"]') AS array_data,
       ff.json_logic('{"var": ""}', '"text"') AS scalar_data,
       ff.json_logic('{"var": "x"}', NULL) AS null_data,
       ff.json_logic(NULL, '{}') AS null_rule;

-- evaluation side: a stored rule that bypassed the validation triggers
-- (replication role replica) gives PARSE_ERROR and the caller's default
INSERT INTO ff.environments (name) VALUES ('hostile_raw');
SET session_replication_role = replica;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('hostile_raw', 'unknown-op', 'boolean', '{"on": true, "off": false}', 'off', '{"nope": [1]}'),
    ('hostile_raw', 'mixed', 'string', '{"a": "A", "b": 2}', 'b', NULL),
    ('hostile_raw', 'array-variants', 'boolean', '[true, false]', NULL, NULL),
    -- (1.17) the served variant's type matched the request, so get_string
    -- returned "x" from a boolean flag; a null variant was served as null
    ('hostile_raw', 'mixed-served', 'boolean', '{"on": true, "off": "x"}', 'off', NULL),
    ('hostile_raw', 'null-variant', 'boolean', '{"on": true, "off": null}', 'off', NULL),
    ('hostile_raw', 'deep-rule', 'boolean', '{"on": true, "off": false}', 'off',
     (repeat('{"!": ', 5000) || 'true' || repeat('}', 5000))::jsonb);
-- the CHECK constraints of ff.flags hold also for a write that bypasses the
-- triggers: state and flag_type are compared exactly (case and spaces count)
SELECT state, message FROM pg_temp.try_hint($$INSERT INTO ff.flags (environment, key, state, flag_type, variants)
    VALUES ('hostile_raw', 'bad-state', 'enabled', 'boolean', '{"on": true}')$$);
SELECT state, message FROM pg_temp.try_hint($$INSERT INTO ff.flags (environment, key, state, flag_type, variants)
    VALUES ('hostile_raw', 'bad-type', 'ENABLED', 'bool', '{"on": true}')$$);
SELECT state, message FROM pg_temp.try_hint($$INSERT INTO ff.flags (environment, key, state, flag_type, variants)
    VALUES ('hostile_raw', 'bad-type', 'ENABLED', 'string ', '{"on": "x"}')$$);
SELECT state, message FROM pg_temp.try_hint($$UPDATE ff.flags SET state = 'DISABLED ' WHERE environment = 'hostile_raw' AND key = 'mixed'$$);
RESET session_replication_role;
SELECT v, ff._is_flag_state(v) AS is_state, ff._is_flag_type(v) AS is_type
  FROM unnest(ARRAY['ENABLED', 'DISABLED', 'boolean', 'string', 'number', 'object',
                    'Enabled', 'DISABLE', 'DISABLEDX', 'objects', '', NULL]) AS v;
SELECT count(*) AS raw_rows FROM ff.flags WHERE environment = 'hostile_raw';
SELECT flag_key, value, variant, reason, error_code, left(error_message, 110) AS error_message
  FROM ff.evaluate('unknown-op', '{}', 'true', 'hostile_raw')
UNION ALL
SELECT flag_key, value, variant, reason, error_code, left(error_message, 110)
  FROM ff.evaluate('deep-rule', '{}', 'true', 'hostile_raw')
UNION ALL
SELECT flag_key, value, variant, reason, error_code, left(error_message, 110)
  FROM ff.evaluate('array-variants', '{}', 'true', 'hostile_raw')
UNION ALL
SELECT flag_key, value, variant, reason, error_code, left(error_message, 110)
  FROM ff.evaluate('mixed', '{}', '"z"', 'hostile_raw')
UNION ALL
SELECT flag_key, value, variant, reason, error_code, left(error_message, 110)
  FROM ff.evaluate('mixed-served', '{}', '"z"', 'hostile_raw')
UNION ALL
SELECT flag_key, value, variant, reason, error_code, left(error_message, 110)
  FROM ff.evaluate('null-variant', '{}', 'true', 'hostile_raw');
SELECT ff.get_bool('unknown-op', '{}', true, 'hostile_raw') AS get_bool,
       ff.get_string('mixed', '{}', 'z', 'hostile_raw') AS get_string,
       ff.get_string('mixed-served', '{}', 'z', 'hostile_raw') AS get_string_served,
       ff.get_bool('null-variant', '{}', true, 'hostile_raw') AS get_bool_null;
-- (1.21 library) a segment whose stored rule bypassed validation fails the
-- evaluations that read it (PARSE_ERROR), whatever its key lists say.  It
-- used to count as missing: in_segment gave null, and a deny rule
-- {"!": {"in_segment": ...}} let every key through, the listed ones too.
-- Point-in-time evaluation reads the same rule from the history.
SELECT name FROM ff.create_segment('blocked', '{"==": [{"var": "country"}, "XX"]}', 'hostile_raw',
                                   include => '{u-bad}', exclude => '{u-good}');
SELECT key FROM ff.create_flag('allow', default_variant => 'off', environment => 'hostile_raw',
                               targeting => '{"if": [{"!": {"in_segment": "blocked"}}, "on", "off"]}');
SELECT k, e.value, e.reason, e.error_code
  FROM unnest(ARRAY['u-bad', 'u-good', 'u-other']) AS k,
       ff.evaluate('allow', jsonb_build_object('targetingKey', k, 'country', 'XX'), 'false', 'hostile_raw') AS e;
BEGIN;
ALTER TABLE ff.segments DISABLE TRIGGER ff_10_validate_segments;
UPDATE ff.segments SET rule = '{"nope": 1}' WHERE environment = 'hostile_raw' AND name = 'blocked';
ALTER TABLE ff.segments ENABLE TRIGGER ff_10_validate_segments;
COMMIT;
SELECT k, e.value, e.reason, e.error_code, e.error_message
  FROM unnest(ARRAY['u-bad', 'u-good', 'u-other']) AS k,
       ff.evaluate('allow', jsonb_build_object('targetingKey', k, 'country', 'XX'), 'false', 'hostile_raw') AS e;
SELECT ff.get_bool('allow', '{"targetingKey": "u-good", "country": "XX"}', NULL, 'hostile_raw') AS get_bool,
       (ff.evaluate_at('allow', '{"targetingKey": "u-good", "country": "XX"}', now() + interval '1 hour',
                       'false', 'hostile_raw')).error_code AS evaluate_at,
       (ff.evaluate_draft('allow', '{"targetingKey": "u-good", "country": "XX"}', '{"defaultVariant": "on"}',
                          'false', 'hostile_raw')).error_code AS evaluate_draft,
       ff.evaluate_all('{"targetingKey": "u-good"}', 'hostile_raw') #>> '{allow,error_code}' AS evaluate_all;
-- (1.26 library) a literal targeting or segment rule (a string, boolean,
-- number or array), which the validation refuses, is refused by the cache
-- too: the flag was served the literal as a match, and a literal segment
-- rule made every key a member, or none (a deny rule over it let everyone
-- through)
SET session_replication_role = replica;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('hostile_raw', 'literal-targeting', 'boolean', '{"on": true, "off": false}', 'off', '"on"'),
    ('hostile_raw', 'array-targeting', 'boolean', '{"on": true, "off": false}', 'off', '["on"]');
INSERT INTO ff.segments (environment, name, rule) VALUES ('hostile_raw', 'literal-seg', 'false');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('hostile_raw', 'deny-literal', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{"!": {"in_segment": "literal-seg"}}, "on", "off"]}');
RESET session_replication_role;
SELECT e.flag_key, e.value, e.reason, e.error_code, e.error_message
  FROM unnest(ARRAY['literal-targeting', 'array-targeting', 'deny-literal']) AS k,
       ff.evaluate(k, '{"targetingKey": "u-1"}', 'false', 'hostile_raw') AS e;
-- (1.26 library) metadata nested 20,000 levels deep, stored around the
-- validation (which allows strings, numbers and booleans only), is left
-- out; a flag's and its environment's: the getters raised "stack depth
-- limit exceeded", the environment's for every flag of it
SET max_stack_depth = '6MB';
SET session_replication_role = replica;
UPDATE ff.flags SET metadata = jsonb_build_object('deep', (repeat('[', 20000) || repeat(']', 20000))::jsonb,
                                                  'team', 'payments', 'gone', NULL, 'list', '[1]'::jsonb)
 WHERE environment = 'hostile_raw' AND key = 'allow';
UPDATE ff.environments SET metadata = jsonb_build_object('deeper', (repeat('[', 20000) || repeat(']', 20000))::jsonb,
                                                         'region', 'eu', 'team', 'platform')
 WHERE name = 'hostile_raw';
RESET session_replication_role;
RESET max_stack_depth;
SELECT (ff.evaluate('allow', '{"targetingKey": "u-other"}', 'false', 'hostile_raw')).flag_metadata AS flag_and_env,
       (ff.evaluate('mixed', '{}', '"z"', 'hostile_raw')).flag_metadata AS env_only,
       ff.get_bool('allow', '{"targetingKey": "u-other"}', NULL, 'hostile_raw') AS get_bool,
       jsonb_typeof(ff.evaluate_all('{}', 'hostile_raw')) AS evaluate_all;
SET session_replication_role = replica;
UPDATE ff.flags SET metadata = '{}' WHERE environment = 'hostile_raw' AND key = 'allow';
UPDATE ff.environments SET metadata = '{}' WHERE name = 'hostile_raw';
DELETE FROM ff.flags WHERE environment = 'hostile_raw' AND key IN ('literal-targeting', 'array-targeting', 'deny-literal');
DELETE FROM ff.segments WHERE environment = 'hostile_raw' AND name = 'literal-seg';
RESET session_replication_role;
SELECT ff.current_version() AS v1 \gset

-- =====================================================================
-- 2. deep nesting
-- =====================================================================
-- 100,000 levels: jsonb itself refuses the text (PostgreSQL's stack check)
SELECT pg_temp.try($$SELECT ff.set_targeting('target', (repeat('{"!": ', 100000) || 'true' || repeat('}', 100000))::jsonb)$$);
SELECT pg_temp.try($$SELECT ff.evaluate('target', ('{"x": ' || repeat('[', 100000) || repeat(']', 100000) || '}')::jsonb, 'false')$$);
-- 5,000 levels: jsonb holds it, the rule compiler's limit (256) answers
SELECT pg_temp.try($$SELECT ff.set_targeting('target', (repeat('{"!": ', 5000) || 'true' || repeat('}', 5000))::jsonb)$$);
SELECT pg_temp.try($$SELECT ff.create_flag('deep', targeting => (repeat('{"!": [', 5000) || 'true' || repeat(']}', 5000))::jsonb)$$);
SELECT pg_temp.try($$SELECT ff.json_logic((repeat('[', 5000) || repeat(']', 5000))::jsonb, '{}')$$);
-- ff.import_flagd resolves "$ref"s before validation: its walk stops at the same depth
SELECT * FROM pg_temp.try_hint($$SELECT ff.import_flagd(jsonb_build_object('$evaluators', '{"e": true}'::jsonb,
    'flags', jsonb_build_object('imported', jsonb_build_object('state', 'ENABLED', 'variants', '{"true": true, "false": false}'::jsonb,
    'defaultVariant', 'false', 'targeting', (repeat('{"!": ', 5000) || '{"$ref": "e"}' || repeat('}', 5000))::jsonb))))$$);
SELECT ff.current_version() = :v1 AS nothing_written;
-- the limit: 255 operators around a literal (256 levels) compile, one more does not
SELECT ff.json_logic((repeat('{"!": ', 255) || 'true' || repeat('}', 255))::jsonb, '{}') AS depth_256,
       left(pg_temp.try($$SELECT ff.json_logic((repeat('{"!": ', 256) || 'true' || repeat('}', 256))::jsonb, '{}')$$), 90) AS depth_257;
-- contexts: deep values are fine until 10,000 levels
SELECT (ff.evaluate('target', ('{"x": ' || repeat('[', 5000) || repeat(']', 5000) || '}')::jsonb, 'false')).reason AS ctx_5000,
       jsonb_typeof(ff.json_logic('{"var": "x"}', ('{"x": ' || repeat('[', 5000) || repeat(']', 5000) || '}')::jsonb)) AS json_logic_5000;
-- beyond 10,000 levels (jsonb needs a larger stack to even hold that):
-- our own limit answers, not the stack
SET max_stack_depth = '6MB';
SELECT flag_key, value, variant, reason, error_code, error_message
  FROM ff.evaluate('target', ('{"x": ' || repeat('[', 20000) || repeat(']', 20000) || '}')::jsonb, 'false');
-- a deep attribute the rule does not read is never converted
SELECT reason FROM ff.evaluate('target', ('{"x": 1, "y": ' || repeat('[', 20000) || repeat(']', 20000) || '}')::jsonb, 'false');
SELECT ff.get_bool('target', ('{"x": ' || repeat('{"x": ', 20000) || '1' || repeat('}', 20000) || '}')::jsonb, true) AS get_bool_default;
-- the same for row contexts: a deep jsonb column, or a deep jsonb in an array column
CREATE TEMP TABLE deep_rows (id int, doc jsonb, docs jsonb[]);
INSERT INTO deep_rows VALUES
    (1, ('{"x": ' || repeat('[', 20000) || repeat(']', 20000) || '}')::jsonb, NULL),
    (2, '{"x": 1}', ARRAY[('{"x": ' || repeat('[', 20000) || repeat(']', 20000) || '}')::jsonb]),
    (3, '{"x": 1}', ARRAY['{"x": 1}'::jsonb]);
SELECT key FROM ff.create_flag('row-doc', targeting => '{"if": [{"==": [{"var": "doc.x"}, 1]}, "on", "off"]}');
SELECT key FROM ff.create_flag('row-docs', targeting => '{"if": [{"==": [{"var": "docs.0.x"}, 1]}, "on", "off"]}');
SELECT d.id, r.flag_key, r.value, r.variant, r.reason, r.error_code, r.error_message
  FROM deep_rows AS d, ff.evaluate_row('row-doc', d, 'false') AS r
UNION ALL
SELECT d.id, r.flag_key, r.value, r.variant, r.reason, r.error_code, r.error_message
  FROM deep_rows AS d, ff.evaluate_row('row-docs', d, 'false') AS r
 ORDER BY 2, 1;
SELECT id, ff.get_bool_row('row-docs', d, true) AS get_bool_row FROM deep_rows AS d ORDER BY id;
SELECT * FROM pg_temp.try_hint($$SELECT ff.json_logic('{"var": "x"}', ('{"x": ' || repeat('[', 20000) || repeat(']', 20000) || '}')::jsonb)$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.json_logic((repeat('{"!": ', 20000) || 'true' || repeat('}', 20000))::jsonb, '{}')$$);
SELECT pg_temp.try($$SELECT ff.set_targeting('target', (repeat('{"!": ', 20000) || 'true' || repeat('}', 20000))::jsonb)$$);
-- a variant value nested deeper than 10,000 levels is refused (1.11; 1.10
-- stored it, and the flag answered PARSE_ERROR to every caller) ...
SELECT pg_temp.try($$SELECT ff.create_flag('deep-variant',
    jsonb_build_object('deep', (repeat('{"a": ', 15000) || '1' || repeat('}', 15000))::jsonb, 'flat', '{}'::jsonb), 'flat')$$);
-- ... except by a restore, which loads what an earlier version stored:
-- that flag alone answers PARSE_ERROR
SET check_function_bodies = off;
SELECT key FROM ff.create_flag('deep-variant',
    jsonb_build_object('deep', (repeat('{"a": ', 15000) || '1' || repeat('}', 15000))::jsonb, 'flat', '{}'::jsonb), 'flat');
RESET check_function_bodies;
RESET max_stack_depth;
SELECT flag_key, value, variant, reason, error_code, error_message FROM ff.evaluate('deep-variant', '{}', '{"d": 1}');
SELECT ff.get_object('deep-variant', '{}', '{"d": 1}') AS get_object, ff.get_string('color', '{}', 'x') AS other_flag;
-- (only a superuser can raise max_stack_depth; without it, such a value
-- cannot even be read back as text, so remove it again)
SET max_stack_depth = '6MB';
SELECT ff.delete_flag('deep-variant');
RESET max_stack_depth;
-- a rule that builds a deeper value than 10,000 levels (reduce wrapping the
-- accumulator in an array): a clear ERROR from ff.json_logic ...
SELECT * FROM pg_temp.try_hint($$SELECT ff.json_logic('{"reduce": [{"var": "a"}, [{"var": "accumulator"}], 0]}',
                                    jsonb_build_object('a', (SELECT jsonb_agg(i) FROM generate_series(1, 20000) i)))$$);
SELECT ff.current_version() = :v1 + 4 AS only_row_flags_and_deep_variant_written_and_deleted;
-- ... and an ordinary GENERAL error (a non-string result) in targeting
SELECT key FROM ff.create_flag('wrapper', targeting => '{"reduce": [{"var": "a"}, [{"var": "accumulator"}], 0]}');
SELECT flag_key, value, variant, reason, error_code, left(error_message, 100) AS error_message
  FROM ff.evaluate('wrapper', jsonb_build_object('a', (SELECT jsonb_agg(i) FROM generate_series(1, 20000) i)), 'false');

-- =====================================================================
-- 3. arrays of 1,000,000 elements, long evaluations, cancel, memory
-- =====================================================================
CREATE TEMP TABLE big AS
    SELECT jsonb_build_object('a', jsonb_agg(i), 'targetingKey', 'user-1') AS ctx,
           jsonb_agg(i) AS arr
      FROM generate_series(1, 1000000) AS i;
-- a context attribute that is a huge array; in, map, reduce over it
SELECT ff.json_logic('{"in": [999999, {"var": "a"}]}', ctx) AS found,
       ff.json_logic('{"reduce": [{"var": "a"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}', ctx) AS total,
       jsonb_array_length(ff.json_logic('{"map": [{"var": "a"}, {"*": [{"var": ""}, 2]}]}', ctx)) AS mapped
  FROM big;
-- an in over a 1,000,000-element literal list, stored as targeting
SELECT key FROM big, ff.create_flag('big-list', targeting =>
    jsonb_build_object('if', jsonb_build_array(jsonb_build_object('in', jsonb_build_array(jsonb_build_object('var', 'n'), arr)), 'on', 'off')));
SELECT ff.get_bool('big-list', '{"n": 1000000}', false) AS member,
       ff.get_bool('big-list', '{"n": 1000001}', true) AS not_member;
-- statement_timeout cancels a long evaluation with the standard error; the
-- rule is a reduce nested in a reduce over 5,000 numbers (25,000,000 steps)
CREATE TEMP TABLE slow AS
    SELECT jsonb_build_object('reduce', jsonb_build_array(arr,
               jsonb_build_object('+', jsonb_build_array(jsonb_build_object('var', 'accumulator'),
                   jsonb_build_object('reduce', jsonb_build_array(arr, '{"+": [{"var": "current"}, {"var": "accumulator"}]}'::jsonb, 0)))),
               0)) AS rule
      FROM (SELECT jsonb_agg(i) AS arr FROM generate_series(1, 5000) AS i) AS s;
SELECT key FROM slow, ff.create_flag('slow', targeting =>
    jsonb_build_object('if', jsonb_build_array(jsonb_build_object('>', jsonb_build_array(rule, 0)), 'on', 'off')));
-- (its 25,000,000 steps allocate more than ff.evaluation_memory's 16MB;
-- with 1GB, the timeout comes first)
SET ff.evaluation_memory = '1GB';
SET statement_timeout = '200ms';
SELECT ff.json_logic(rule, '{}') FROM slow;
SELECT * FROM ff.evaluate('slow', '{}', 'false');
SELECT ff.get_bool('slow', '{}', false);
SELECT ff.evaluate_all('{}');
RESET statement_timeout;
RESET ff.evaluation_memory;
-- the session is fine afterwards, and the cache still serves
SELECT ff.get_string('color', '{}', 'none') AS color;
-- a rule whose memory grows quadratically (reduce merging its accumulator
-- into a new array at each step: 100,000 steps would need 40 GB) stops at
-- the per-evaluation budget (1 GB for ff.json_logic, ff.evaluation_memory
-- for a flag): an ERROR from ff.json_logic, reason ERROR and the default
-- from ff.evaluate, and the memory is given back
CREATE TEMP TABLE hog AS
    SELECT jsonb_build_object('a', jsonb_agg(i)) AS ctx FROM generate_series(1, 100000) AS i;
SELECT * FROM pg_temp.try_hint($$SELECT ff.json_logic('{"reduce": [{"var": "a"}, {"merge": [{"var": "accumulator"}, [{"var": "current"}]]}, []]}', ctx) FROM hog$$);
SELECT key FROM ff.create_flag('hog', targeting =>
    '{"if": [{"reduce": [{"var": "a"}, {"merge": [{"var": "accumulator"}, [{"var": "current"}]]}, []]}, "on", "off"]}');
SELECT r.flag_key, r.value, r.variant, r.reason, r.error_code, r.error_message
  FROM hog, ff.evaluate('hog', ctx, 'false') AS r;
SELECT ff.get_bool('hog', ctx, true) AS get_bool FROM hog;
SELECT ff.get_bool('hog', '{"a": [1, 2, 3]}', false) AS small_input_works;
SELECT sum(total_bytes) < 64 * 1024 * 1024 AS scratch_given_back
  FROM pg_backend_memory_contexts WHERE name = 'feature_flags scratch';
-- flag evaluations have their own, smaller budget, ff.evaluation_memory
-- (default 16MB, 1MB to 1GB): a flag that needs more answers ERROR and the
-- caller's default and names the setting, ff.json_logic keeps its 1 GB,
-- and a session may raise the setting
SHOW ff.evaluation_memory;
SELECT * FROM pg_temp.try_hint($$SET ff.evaluation_memory = '512kB'$$);
SELECT * FROM pg_temp.try_hint($$SET ff.evaluation_memory = '2GB'$$);
SELECT key FROM ff.create_flag('doubler', targeting =>
    '{"if": [{"reduce": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40], {"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}, "x"]}, "on", "off"]}');
SELECT r.value, r.reason, r.error_code, r.error_message FROM ff.evaluate('doubler', '{}', 'false') AS r;
CREATE TEMP TABLE list100k AS
    SELECT jsonb_build_object('targetingKey', 'u5', 'beta', jsonb_agg('u' || i)) AS ctx
      FROM generate_series(1, 100000) AS i;
SELECT key FROM ff.create_flag('beta-list', targeting =>
    '{"if": [{"in": [{"var": "targetingKey"}, {"var": "beta"}]}, "on", "off"]}');
SET ff.evaluation_memory = '1MB';
SELECT r.value, r.reason, r.error_code, r.error_message
  FROM list100k, ff.evaluate('beta-list', ctx, 'false') AS r;
SELECT ff.get_bool('beta-list', ctx, true) AS over_1mb_gives_default FROM list100k;
SELECT ff.json_logic('{"in": [{"var": "targetingKey"}, {"var": "beta"}]}', ctx) AS json_logic_unaffected
  FROM list100k;
SET ff.evaluation_memory = '64MB';
SELECT ff.get_bool('beta-list', ctx, false) AS fits_in_64mb FROM list100k;
RESET ff.evaluation_memory;
SELECT ff.get_bool('beta-list', ctx, false) AS fits_in_the_default FROM list100k;
-- cat sizes its result from its arguments: a 10 MB context string is
-- concatenated within the default budget (it grew by doubling, and needed
-- three times the result)
SELECT key FROM ff.create_flag('cat-long', targeting =>
    '{"if": [{"==": [{"cat": [{"var": "s"}, "x"]}, "x"]}, "on", "off"]}');
SELECT e.reason AS ten_mb_cat, e.error_message FROM ff.evaluate('cat-long', jsonb_build_object('s', repeat('a', 10000000)), 'false') AS e;
-- memory: evaluations over 1,000,000 elements do not accumulate memory
CREATE FUNCTION pg_temp.backend_bytes() RETURNS bigint
LANGUAGE sql AS $$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;
CREATE FUNCTION pg_temp.churn() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c jsonb := (SELECT ctx FROM big);
    r jsonb;
BEGIN
    r := ff.json_logic('{"map": [{"var": "a"}, {"*": [{"var": ""}, 2]}]}', c);
    r := ff.json_logic('{"reduce": [{"var": "a"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}', c);
    PERFORM ff.get_bool('big-list', c, false);
    PERFORM ff.evaluate('target', c, 'false');
END;
$$;
SELECT pg_temp.churn();
SELECT pg_temp.backend_bytes() AS before \gset
SELECT pg_temp.churn();
SELECT pg_temp.churn();
SELECT pg_temp.churn();
SELECT pg_temp.backend_bytes() - :before < 4 * 1024 * 1024 AS memory_does_not_grow;

-- =====================================================================
-- 4. very long strings and 10 MB contexts
-- =====================================================================
-- flag keys: the key syntax caps them at 200 characters
SELECT * FROM pg_temp.try_hint($$SELECT ff.create_flag(repeat('k', 1000000))$$);
-- (1.26) names cut in messages end on a character boundary: a "€" (three
-- bytes) across the cut left its first byte, invalid UTF-8, in the message
-- (lost whole by a client in another encoding) and in an evaluation's
-- error_message
SELECT m AS message, convert_to(m, 'UTF8') IS NOT NULL AS valid
  FROM (VALUES (pg_temp.try($$SELECT ff.json_logic(jsonb_build_object(repeat('a', 39) || chr(8364), 1, 'b', 2))$$)),
               (pg_temp.try($$SELECT ff.json_logic(jsonb_build_object('sem_ver', jsonb_build_array('1.0.0', repeat('a', 39) || chr(8364), '1.0.0')))$$)),
               (pg_temp.try($$SELECT ff.json_logic(jsonb_build_object('var', '$flagd.' || repeat('a', 92) || chr(8364)))$$))) AS t(m);
SELECT (ff.create_environment('hostile_utf8')).name;
SET session_replication_role = replica;
INSERT INTO ff.segments (environment, name, rule) VALUES ('hostile_utf8', repeat('s', 59) || chr(8364) || 't', '{"bogus": [1]}');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
VALUES ('hostile_utf8', 'f', 'boolean', '{"on": true, "off": false}', 'off',
        jsonb_build_object('if', jsonb_build_array(jsonb_build_object('in_segment', repeat('s', 59) || chr(8364) || 't'), 'on', 'off')));
RESET session_replication_role;
SELECT e.error_code, e.error_message, convert_to(e.error_message, 'UTF8') IS NOT NULL AS valid
  FROM ff.evaluate('f', '{"targetingKey": "u"}', NULL, 'hostile_utf8') AS e;
SET session_replication_role = replica;
DELETE FROM ff.flags WHERE environment = 'hostile_utf8';
DELETE FROM ff.segments WHERE environment = 'hostile_utf8';
RESET session_replication_role;
SELECT ff.delete_environment('hostile_utf8');
-- (1.26) a long string value keeps its closing quote, in a draft's message
-- as in the trigger's
SELECT pg_temp.try($$SELECT ff.evaluate_draft('target', '{}', jsonb_build_object('state', repeat('d', 300)))$$) AS draft_state,
       pg_temp.try($$SELECT ff.create_flag('long-result', '{"a": "x", "b": "y"}', 'a', targeting => jsonb_build_object('if', jsonb_build_array(true, repeat('r', 300))))$$) AS targeting_result;
-- (1.19) the write side's messages show such a name as its first 64
-- characters and "...": 1.18 repeated it whole, 1 MB per error
CREATE FUNCTION pg_temp.try_lengths(stmt text, OUT state text, OUT message text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    state := 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
END;
$$;
SELECT s.call, h.state, length(h.message) AS message_length, right(h.message, 48) AS message_end,
       length(h.hint) AS hint_length
  FROM (VALUES ('create_flag', $$SELECT ff.create_flag(repeat('k', 1000000))$$),
               ('create_segment', $$SELECT ff.create_segment(repeat('s', 1000000))$$),
               ('create_environment', $$SELECT ff.create_environment(repeat('e', 1000000))$$),
               ('enable_flag', $$SELECT ff.enable_flag(repeat('k', 1000000))$$),
               ('add_segment_keys', $$SELECT ff.add_segment_keys(repeat('s', 1000000), '{a}')$$),
               ('environment argument', $$SELECT ff.enable_flag('x', repeat('e', 1000000))$$),
               ('rollback_flag', $$SELECT ff.rollback_flag(repeat('k', 1000000), 1)$$),
               ('rollback_environment', $$SELECT ff.rollback_environment(repeat('e', 1000000), 1)$$),
               ('evaluate_draft', $$SELECT ff.evaluate_draft(repeat('k', 1000000), '{}', '{}')$$),
               ('evaluate_all', $$SELECT ff.evaluate_all('{}', repeat('e', 1000000))$$),
               ('in_segment', $$SELECT ff.set_targeting('target', jsonb_build_object('in_segment', repeat('s', 1000000)))$$),
               ('segment_keys', $$INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('hostile', repeat('s', 1000000), 'k')$$),
               ('flags environment', $$INSERT INTO ff.flags (environment, key, variants) VALUES (repeat('e', 1000000), 'k', '{"a": 1}')$$))
       AS s (call, stmt),
       pg_temp.try_lengths(s.stmt) AS h;
-- (1.25) values are shown as names are: a 1,000,000-character variant name,
-- state, flag type, metadata key or privilege level was repeated whole
SELECT s.call, h.state, length(h.message) AS message_length, right(h.message, 40) AS message_end
  FROM (VALUES ('set_default_variant', $$SELECT ff.set_default_variant('target', repeat('v', 1000000))$$),
               ('set_rollout', $$SELECT ff.set_rollout('target', 50, variant => repeat('v', 1000000))$$),
               ('state', $$UPDATE ff.flags SET state = repeat('S', 1000000) WHERE key = 'target'$$),
               ('flag_type', $$UPDATE ff.flags SET flag_type = repeat('t', 1000000) WHERE key = 'target'$$),
               ('variant name', $$UPDATE ff.flags SET variants = jsonb_build_object(repeat('v', 1000000), '[1]'::jsonb) WHERE key = 'target'$$),
               ('metadata key', $$UPDATE ff.flags SET metadata = jsonb_build_object(repeat('m', 1000000), '[1]'::jsonb) WHERE key = 'target'$$),
               ('import state', $$SELECT ff.import_flagd(jsonb_build_object('flags', jsonb_build_object('x', jsonb_build_object('state', repeat('S', 1000000), 'variants', '{"a": 1}'::jsonb))))$$),
               ('privilege_recipe', $$SELECT ff.privilege_recipe(repeat('l', 1000000), 'x')$$),
               ('quoted variant name', $$UPDATE ff.flags SET variants = jsonb_build_object('a b' || repeat('v', 1000000), '[1]'::jsonb) WHERE key = 'target'$$),
               ('targeting result', $$SELECT ff.set_targeting('target', jsonb_build_object('if', jsonb_build_array(true, repeat('z', 1000000), 'on')))$$),
               ('draft variant name', $$SELECT ff.evaluate_draft('target', '{}', jsonb_build_object('variants', jsonb_build_object('a', 1, repeat('b', 1000000), 'x')))$$),
               ('draft default variant', $$SELECT ff.evaluate_draft('target', '{}', jsonb_build_object('defaultVariant', 'x' || repeat('é', 1000)))$$),
               ('experiment control', $$SELECT * FROM ff.experiment_results('SELECT ''a'' AS variant, 1.0 AS outcome', repeat('c', 1000000))$$))
       AS s (call, stmt),
       pg_temp.try_lengths(s.stmt) AS h;
SELECT * FROM pg_temp.try_hint($$SELECT ff.privilege_recipe('editor', '')$$);
-- evaluating a 1,000,000-character key is FLAG_NOT_FOUND, nothing more
SELECT reason, error_code, left(error_message, 20) AS message_start, length(error_message) AS message_length
  FROM ff.evaluate(repeat('k', 1000000), '{}', 'false');
SELECT ff.get_bool(repeat('k', 1000000), '{}', true) AS get_bool,
       (ff.evaluate('target', '{}', 'false', repeat('e', 1000000))).error_code AS long_environment;
-- a 10 MB context: one 10 MB string plus 10,000 attributes
CREATE TEMP TABLE ten_mb AS
    SELECT jsonb_build_object('x', 1, 'blob', repeat('ab', 5 * 1024 * 1024),
                              'email', repeat('z', 1000000) || '@example.com')
           || (SELECT jsonb_object_agg('attr' || i, i) FROM generate_series(1, 10000) AS i) AS ctx;
SELECT octet_length(ctx::text) > 10 * 1024 * 1024 AS over_10mb FROM ten_mb;
SELECT r.reason, r.value FROM ten_mb, ff.evaluate('target', ctx, 'false') AS r;
SELECT ff.json_logic('{"ends_with": [{"var": "email"}, "@example.com"]}', ctx) AS ends_with,
       ff.json_logic('{"starts_with": [{"var": "blob"}, "abab"]}', ctx) AS starts_with,
       ff.json_logic('{"in": ["ba", {"var": "blob"}]}', ctx) AS substring_in,
       ff.json_logic('{"var": "attr9999"}', ctx) AS attribute,
       length(ff.json_logic('{"cat": [{"var": "blob"}, {"var": "blob"}]}', ctx)::text) AS cat_length,
       ff.json_logic('{"fractional": [{"var": "blob"}, ["a", 50], ["b", 50]]}', ctx) IS NOT NULL AS bucketed
  FROM ten_mb;
-- substring search is linear: a 1 MB needle that almost matches everywhere
-- in a 10 MB haystack (a naive scan would compare about 10^13 bytes; the
-- generous timeout only turns such a hang into a failure)
SET statement_timeout = '60s';
SELECT ff.json_logic('{"in": [{"var": "n"}, {"var": "h"}]}',
                     jsonb_build_object('n', repeat('a', 1000000) || 'b', 'h', repeat('a', 10000000))) AS near_miss,
       ff.json_logic('{"in": [{"var": "n"}, {"var": "h"}]}',
                     jsonb_build_object('n', repeat('a', 1000000) || 'b', 'h', repeat('a', 10000000) || 'b')) AS found_at_the_end;
RESET statement_timeout;
-- and it agrees with strpos on 2,000 random long needles over a 3-letter alphabet
SELECT setseed(0.5);
SELECT count(*) AS cases,
       count(*) FILTER (WHERE ff.json_logic('{"in": [{"var": "n"}, {"var": "h"}]}', jsonb_build_object('n', n, 'h', h))
                              = to_jsonb(strpos(h, n) > 0)) AS agree,
       count(*) FILTER (WHERE strpos(h, n) > 0) > 0 AS some_found,
       count(*) FILTER (WHERE strpos(h, n) = 0) > 0 AS some_not_found
  FROM (SELECT h, substr(h, 1 + (random() * 300)::int, 65 + (random() * 100)::int)
                  || (ARRAY['', '', 'a', 'b', 'c'])[1 + (random() * 4)::int] AS n
          FROM (SELECT string_agg((ARRAY['a', 'b', 'c'])[1 + (random() * 2)::int], '') AS h
                  FROM generate_series(1, 2000) AS g, generate_series(1, 500) AS j
                 GROUP BY g) AS x) AS y;
-- a rule holding a 1 MB string literal is stored and used
SELECT key FROM ff.create_flag('long-literal', targeting =>
    jsonb_build_object('if', jsonb_build_array(jsonb_build_object('==', jsonb_build_array(jsonb_build_object('var', 's'), repeat('q', 1000000))), 'on', 'off')));
SELECT ff.get_bool('long-literal', jsonb_build_object('s', repeat('q', 1000000)), false) AS long_match;

-- =====================================================================
-- 5. NaN, Infinity and huge numbers
-- =====================================================================
-- jsonb has no NaN/Infinity literals ...
SELECT pg_temp.try($$SELECT ff.create_flag('nan', '{"a": NaN, "b": 1}', 'a')$$);
SELECT pg_temp.try($$SELECT ff.json_logic('{"+": [Infinity, 1]}', '{}')$$);
-- ... numeric has NaN and Infinity, and ff.set_rollout takes a numeric
SELECT pg_temp.try($$SELECT ff.set_rollout('target', 'NaN')$$) AS nan,
       pg_temp.try($$SELECT ff.set_rollout('target', 'Infinity')$$) AS infinity;
SELECT left(pg_temp.try($$SELECT ff.set_rollout('target', 1e1000)$$), 60) AS huge;
-- ... but arithmetic produces them: results are JSON null, never an invalid jsonb
SELECT ff.json_logic('{"/": [1, 0]}', '{}') AS div_zero,
       ff.json_logic('{"%": [1, 0]}', '{}') AS mod_zero,
       ff.json_logic('{"*": [1e300, 1e300]}', '{}') AS overflow,
       ff.json_logic('{"-": [{"*": [1e300, 1e300]}, {"*": [1e300, 1e300]}]}', '{}') AS inf_minus_inf,
       ff.json_logic('[{"/": [1, 0]}, {"max": [{"/": [-1, 0]}, 0]}]', '{}') AS in_array,
       ff.json_logic('{"map": [[1, 0], {"/": [1, {"var": ""}]}]}', '{}') AS in_map,
       ff.json_logic('{"<": [{"/": [-1, 0]}, 0, {"/": [1, 0]}]}', '{}') AS comparisons_work;
SELECT jsonb_typeof(ff.json_logic('{"/": [1, 0]}', '{}')) AS jsonb_type,
       ff.json_logic('{"/": [1, 0]}', '{}')::text::jsonb IS NOT NULL AS round_trips;
-- huge numbers in contexts are doubles in rules, as in flagd
SELECT ff.json_logic('{"var": "n"}', '{"n": 123456789012345678901234567890}') AS wide,
       ff.json_logic('{"var": "n"}', '{"n": 1e1000}') AS beyond_double,
       ff.json_logic('{">": [{"var": "n"}, 1e308]}', '{"n": 1e1000}') AS still_compares,
       ff.json_logic('{"==": [{"var": "n"}, 0]}', '{"n": 1e-1000}') AS underflows_to_zero;
SELECT reason, value FROM ff.evaluate('target', '{"x": 1.0000000000000000000000000001}', 'false');
-- huge numbers as variants: ff.evaluate returns them exactly as stored;
-- get_float gives the default beyond the double range, get_int beyond bigint
SELECT (ff.set_default_variant('limit', 'wide')).default_variant;
SELECT value, variant, reason FROM ff.evaluate('limit', '{}', '0');
SELECT ff.get_float('limit', '{}', -1) AS get_float, ff.get_int('limit', '{}', -1) AS get_int;
SELECT (ff.set_default_variant('limit', 'huge')).default_variant;
SELECT value = '1e1000'::jsonb AS exact, variant, reason FROM ff.evaluate('limit', '{}', '0');
SELECT ff.get_float('limit', '{}', -1) AS get_float, ff.get_int('limit', '{}', -1) AS get_int;
SELECT reason, error_code, error_message FROM ff.evaluate('limit', '{}', '"text"');
SELECT (ff.set_default_variant('limit', 'small')).default_variant;
-- fractional weights: huge literal weights are rejected at write time
SELECT pg_temp.try($$SELECT ff.set_targeting('color', '{"fractional": [["red", 1e30], ["blue", 1]]}')$$);
SELECT pg_temp.try($$SELECT ff.set_targeting('color', '{"fractional": [["red", 2147483647], ["blue", 1]]}')$$);

-- =====================================================================
-- 6. contexts that are not objects
-- =====================================================================
SELECT c AS context, r.value, r.reason, r.error_code, r.error_message
  FROM (VALUES ('[1, 2]'::jsonb), ('"user-1"'), ('42'), ('true'), ('null')) AS t(c),
       ff.evaluate('target', c, 'false') AS r;
SELECT ff.get_bool('target', '[]', true) AS get_bool, ff.get_string('color', '"x"', 'dflt') AS get_string,
       ff.get_int('limit', 'null', -1) AS get_int;
SELECT (ff.evaluate('target', NULL, 'false')).reason AS sql_null_is_empty;
SELECT * FROM pg_temp.try_hint($$SELECT ff.evaluate_all('[1]')$$);
-- a targetingKey that is not a non-empty string: fractional treats the key
-- as missing (flagd), so the default variant is served
SELECT key FROM ff.create_flag('split', '{"a": "A", "b": "B"}', 'a', targeting => '{"fractional": [["a", 50], ["b", 50]]}');
SELECT t AS context, r.value, r.variant, r.reason, r.error_code
  FROM (VALUES ('{"targetingKey": 123}'::jsonb), ('{"targetingKey": {"a": 1}}'), ('{"targetingKey": ["u"]}'),
               ('{"targetingKey": null}'), ('{"targetingKey": ""}')) AS v(t),
       ff.evaluate('split', t, '"z"') AS r;

-- =====================================================================
-- 7. wrongly typed variants
-- =====================================================================
SELECT * FROM pg_temp.try_hint($$SELECT ff.create_flag('typed', '{"a": true, "b": "yes"}', 'a')$$);
SELECT pg_temp.try($$SELECT ff.create_flag('typed', '{"a": [1], "b": [2]}', 'a')$$);
SELECT pg_temp.try($$SELECT ff.create_flag('typed', '{"a": null}', 'a')$$);
SELECT pg_temp.try($$SELECT ff.create_flag('typed', '[true, false]')$$);
SELECT pg_temp.try($$SELECT ff.create_flag('typed', '{}')$$);
SELECT pg_temp.try($$SELECT ff.create_flag('typed', '{"a": 1, "b": 2}', 'c')$$);
SELECT pg_temp.try($$INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
                     VALUES ('hostile', 'typed', 'boolean', '{"a": "x", "b": "y"}', 'a')$$);
SELECT pg_temp.try($$UPDATE ff.flags SET variants = '{"red": 1, "blue": "#00f"}' WHERE environment = 'hostile' AND key = 'color'$$);
SELECT pg_temp.try($$SELECT ff.import_flagd('{"flags": {"typed": {"state": "ENABLED", "variants": {"a": true, "b": 1}, "defaultVariant": "a"}}}')$$);
SELECT NOT EXISTS (SELECT 1 FROM ff.flags WHERE key = 'typed') AS nothing_written,
       (SELECT variants FROM ff.flags WHERE environment = 'hostile' AND key = 'color') AS color_unchanged;
-- evaluation side: asking for the wrong type is TYPE_MISMATCH and the default
SELECT d AS default_value, r.value, r.reason, r.error_code, r.error_message
  FROM (VALUES ('true'::jsonb), ('1'), ('{}'), ('[]')) AS t(d),
       ff.evaluate('color', '{}', d) AS r;
SELECT ff.get_bool('color', '{}', true) AS get_bool, ff.get_int('color', '{}', 7) AS get_int,
       ff.get_float('color', '{}', 0.5) AS get_float, ff.get_object('color', '{}', '{"d": 1}') AS get_object;

-- =====================================================================
-- 8. quotes, backslashes, NUL and non-ASCII text
-- =====================================================================
-- flag keys and segment names: the key syntax rejects them with a clear error
SELECT * FROM pg_temp.try_hint($$SELECT ff.create_flag('dark-mode-😀')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.create_flag('a"b')$$);
SELECT pg_temp.try($$SELECT ff.create_flag('a\b')$$), pg_temp.try($$SELECT ff.create_flag('ünïcode')$$),
       pg_temp.try($$SELECT ff.create_segment('bêta')$$);
-- variant names are JSON keys: any text, quotes and emoji included
SELECT key, variants FROM ff.create_flag('quoted-variants', '{"😀": 1, "a\"b\\c": 2}', 'a"b\c',
    targeting => '{"if": [{"var": "q"}, "😀", "a\"b\\c"]}');
SELECT q, r.value, r.variant, r.reason
  FROM (VALUES (true), (false)) AS t(q), ff.evaluate('quoted-variants', jsonb_build_object('q', q), '0') AS r;
SELECT * FROM pg_temp.try_hint($$SELECT ff.set_targeting('quoted-variants', '{"if": [{"var": "q"}, "😀", "nope\"x"]}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.create_flag('typed-emoji', '{"😀": 1, "ok": "x"}', 'ok')$$);
-- raw DML on segments is validated like the functions
SELECT pg_temp.try($$INSERT INTO ff.segments (environment, name, rule) VALUES ('hostile', 'raw-seg', '{"in": [{"var": "x"}, "abc"], "or": []}')$$);
SELECT pg_temp.try($$INSERT INTO ff.environments (name) VALUES ('bad env😀')$$);
-- NUL: jsonb refuses \u0000 in text, and text refuses NUL bytes
SELECT * FROM pg_temp.try_hint($$SELECT ff.evaluate('target', '{"x": "a\u0000b"}', 'false')$$);
SELECT pg_temp.try($$SELECT ff.add_segment_keys('keys', ARRAY['a' || chr(0)])$$);
-- context attribute names and values with quotes, backslashes and emoji
SELECT ff.json_logic('{"var": "a\"b\\c"}', '{"a\"b\\c": "q\"\\😀"}') AS quoted,
       ff.json_logic('{"var": "ключ.😀"}', '{"ключ": {"😀": "значение"}}') AS nested_non_ascii,
       ff.json_logic('{"==": [{"var": "é"}, "é"]}', '{"é": "é"}') AS same_bytes,
       ff.json_logic('{"==": [{"var": "é"}, "é"]}', '{"é": "e\u0301"}') AS nfd_differs,
       ff.json_logic('{"cat": ["\u00e9", "\\", "\"", "\t"]}', '{}') AS escapes;
SELECT ff.json_logic('{"starts_with": [{"var": "s"}, "😀"]}', '{"s": "😀 party"}') AS starts_with,
       ff.json_logic('{"ends_with": [{"var": "s"}, "é"]}', '{"s": "café"}') AS ends_with,
       ff.json_logic('{"substr": [{"var": "s"}, 0, 1]}', '{"s": "😀x"}') AS substr;
-- segments: any text is a targeting key
SELECT pg_temp.try($$SELECT ff.create_segment('keys', include => ARRAY['user-1', ''])$$) AS empty_key;
SELECT name FROM ff.create_segment('keys', include => ARRAY['user-😀', 'quote"key', 'back\slash', 'ключ']);
-- segment keys are indexed, so they are limited to 1024 bytes (emoji count 4 each)
SELECT * FROM pg_temp.try_hint($$SELECT ff.add_segment_keys('keys', ARRAY[repeat('😀', 257)])$$);
SELECT pg_temp.try($$INSERT INTO ff.segment_keys (environment, segment, targeting_key)
                     SELECT 'hostile', 'keys', string_agg(md5(i::text), '') FROM generate_series(1, 200) AS i$$);
SELECT ff.add_segment_keys('keys', ARRAY[repeat('😀', 256)]) AS added_1024_bytes;
SELECT ff.remove_segment_keys('keys', ARRAY[repeat('😀', 256)]) AS removed;
SELECT key FROM ff.create_flag('in-keys', targeting => '{"if": [{"in_segment": "keys"}, "on", "off"]}');
SELECT k AS targeting_key, ff.get_bool('in-keys', jsonb_build_object('targetingKey', k), false) AS member
  FROM unnest(ARRAY['user-😀', 'quote"key', 'back\slash', 'ключ', '', 'user-🙂', 'quote''key']) AS k;
SELECT targeting_key FROM ff.segment_keys WHERE environment = 'hostile' AND segment = 'keys' ORDER BY targeting_key COLLATE "C";
-- fractional bucketing hashes the UTF-8 bytes: stable, and NFC/NFD differ
SELECT ff.json_logic('{"fractional": [{"var": "k"}, ["a", 50], ["b", 50]]}', jsonb_build_object('k', k)) AS variant,
       ff.bucket(k, '', 100) AS bucket, k AS value
  FROM unnest(ARRAY['😀', U&'\00e9', U&'e\0301', 'a"b\c', '']) AS k;
SELECT ff.bucket('😀', '😀', 2147483647) AS big_buckets, ff.bucket(repeat('😀', 1000000), 'x', 10) AS long_value;
SELECT * FROM pg_temp.try_hint($$SELECT ff.bucket('a', 'b', 0)$$);
-- a $ref inside 254 levels is resolved, stored, evaluated and exported
SELECT ff.import_flagd(jsonb_build_object('$evaluators', '{"e": true}'::jsonb,
    'flags', jsonb_build_object('imported', jsonb_build_object('state', 'ENABLED', 'variants', '{"true": true, "false": false}'::jsonb,
    'defaultVariant', 'false', 'targeting', (repeat('{"!": ', 254) || '{"$ref": "e"}' || repeat('}', 254))::jsonb))), 'hostile') AS imported;
SELECT ff.get_bool('imported', '{}', false) AS even_negations_of_true,
       ff.export_flagd('hostile') #> '{flags,imported,targeting}' = (repeat('{"!": ', 254) || 'true' || repeat('}', 254))::jsonb AS exported;
SELECT ff.current_version() - :v1 AS versions_written_by_the_successful_statements;

--
-- NULL where a name, a state or variants belong: a clear error naming the
-- row, and nothing written (an UPDATE that set a row's key, name or
-- environment to NULL used to crash the backend in the history trigger)
--
SELECT key FROM ff.create_flag('solo');
SELECT name FROM ff.create_segment('lonely');
SELECT name FROM ff.create_environment('empty-env');
SELECT ff.current_version() AS v2 \gset
SELECT * FROM pg_temp.try_hint($$UPDATE ff.flags SET key = NULL WHERE environment = 'hostile' AND key = 'solo'$$);
SELECT * FROM pg_temp.try_hint($$UPDATE ff.flags SET environment = NULL WHERE environment = 'hostile' AND key = 'solo'$$);
SELECT * FROM pg_temp.try_hint($$UPDATE ff.segments SET name = NULL WHERE environment = 'hostile' AND name = 'lonely'$$);
SELECT * FROM pg_temp.try_hint($$UPDATE ff.segments SET environment = NULL WHERE environment = 'hostile' AND name = 'lonely'$$);
SELECT * FROM pg_temp.try_hint($$UPDATE ff.environments SET name = NULL WHERE name = 'empty-env'$$);
SELECT * FROM pg_temp.try_hint($$INSERT INTO ff.flags (environment, key, variants) VALUES (NULL, 'r6', '{"a": true}')$$);
SELECT * FROM pg_temp.try_hint($$INSERT INTO ff.flags (environment, key, variants) VALUES ('hostile', NULL, '{"a": true}')$$);
SELECT * FROM pg_temp.try_hint($$INSERT INTO ff.segments (environment, name) VALUES (NULL, 'q1')$$);
SELECT * FROM pg_temp.try_hint($$INSERT INTO ff.segments (environment, name) VALUES ('hostile', NULL)$$);
SELECT * FROM pg_temp.try_hint($$INSERT INTO ff.environments (name) VALUES (NULL)$$);
-- a NULL state or variants names the flag (a NULL variants used to be
-- reported as a NULL flag_type)
SELECT * FROM pg_temp.try_hint($$SELECT ff.create_flag('x1', NULL)$$);
SELECT * FROM pg_temp.try_hint($$INSERT INTO ff.flags (environment, key, variants, state) VALUES ('hostile', 'r7', '{"a": true}', NULL)$$);
SELECT * FROM pg_temp.try_hint($$UPDATE ff.flags SET state = NULL WHERE environment = 'hostile' AND key = 'solo'$$);
SELECT * FROM pg_temp.try_hint($$UPDATE ff.flags SET variants = NULL WHERE environment = 'hostile' AND key = 'solo'$$);
-- a NULL key or name in the functions that name a flag or segment is not a
-- missing flag or segment
SELECT * FROM pg_temp.try_hint($$SELECT ff.set_targeting(NULL, '{}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.disable_flag(NULL)$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.delete_flag(NULL)$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.set_segment_rule(NULL, '{}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.add_segment_keys(NULL, '{a}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.rollback_flag(NULL, 1)$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.rollback_segment(NULL, 1)$$);
-- ff.delete_environment(NULL) deleted nothing and succeeded
SELECT * FROM pg_temp.try_hint($$SELECT ff.delete_environment(NULL)$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.delete_environment(NULL, true)$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.can_write_environment('hostile', NULL)$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.can_write_environment(NULL)$$);
-- NULL keys are refused by the removal as by the addition; a copy onto itself says what to do
SELECT * FROM pg_temp.try_hint($$SELECT ff.remove_segment_keys('lonely', '{a,NULL}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.add_segment_keys('lonely', '{a,NULL}')$$);
SELECT * FROM pg_temp.try_hint($$SELECT ff.copy_environment('hostile', 'hostile')$$);
-- an empty bucket_by reads the whole context: every user in one bucket
SELECT * FROM pg_temp.try_hint($$SELECT ff.set_rollout('solo', 50, bucket_by => '')$$);
SELECT (ff.set_rollout('solo', 50, bucket_by => 'email')).targeting #> '{fractional,0}' AS bucketed_by_email;
SELECT ff.current_version() - :v2 AS versions_written_by_the_null_section;
SELECT count(*) AS rows_with_null_identity
  FROM (SELECT key FROM ff.flags WHERE key IS NULL OR environment IS NULL
        UNION ALL SELECT name FROM ff.segments WHERE name IS NULL OR environment IS NULL) AS x;

-- a database that is not UTF-8: CREATE EXTENSION refuses it with a clear
-- error (the install script is ASCII, so this works in any encoding)
\set regress_db :DBNAME
CREATE DATABASE regress_ff_latin1 TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C';
CREATE DATABASE regress_ff_eucjp TEMPLATE template0 ENCODING 'EUC_JP' LOCALE 'C';
\c regress_ff_latin1
CREATE EXTENSION feature_flags;
SELECT count(*) AS ff_schemas FROM pg_namespace WHERE nspname = 'ff';
\c regress_ff_eucjp
CREATE EXTENSION feature_flags;
-- SQL_ASCII keeps the bytes clients send (UTF-8 in practice): accepted
CREATE DATABASE regress_ff_sqlascii TEMPLATE template0 ENCODING 'SQL_ASCII' LOCALE 'C';
\c regress_ff_sqlascii
CREATE EXTENSION feature_flags;
SELECT extversion IS NOT NULL AS installed FROM pg_extension WHERE extname = 'feature_flags';
-- the history's summaries and the overview work there (chr(8594) did not)
SELECT key FROM ff.create_flag('f', targeting => '{"fractional": [{"cat": ["a-seed-long-enough-to-be-cut-in-the-summary", {"var": "email"}]}, ["on", 1], ["off", 3]]}');
SELECT key FROM ff.disable_flag('f');
SELECT version, summary FROM ff.history ORDER BY version;
SELECT key, targeting_summary FROM ff.flags_overview;
-- a LATIN1 database from before 1.10 is updated, not refused, and works
\c regress_ff_latin1
CREATE EXTENSION feature_flags VERSION '1.9';
ALTER EXTENSION feature_flags UPDATE;
SELECT key FROM ff.create_flag('f');
SELECT key FROM ff.disable_flag('f');
SELECT version, summary FROM ff.history ORDER BY version;
\c :regress_db
DROP DATABASE regress_ff_latin1;
DROP DATABASE regress_ff_eucjp;
DROP DATABASE regress_ff_sqlascii;
-- (1.25 library) the message shows a long key as its first 64 characters
-- and "...", and says the rest (1.24 cut the whole message at 511 bytes,
-- inside the key)
SELECT error_message FROM ff.evaluate(repeat('k', 600), '{}', 'false');
SELECT error_message FROM ff.evaluate('target', '{}', 'false', repeat('e', 600));
