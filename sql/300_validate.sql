--
-- 300_validate: write-time validation of environments, flags, segments and
-- segment keys (triggers ff_10_validate_*), through raw DML.
--
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
CREATE EXTENSION feature_flags;
RESET client_min_messages;

-- errors raised by ff._check_rule (the evaluator's compiler) are reported
-- by SQLSTATE and by what the message must mention, not verbatim
CREATE FUNCTION pg_temp.error_of(stmt text, VARIADIC needles text[])
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; hint text; found text := '';
    n text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    FOREACH n IN ARRAY needles LOOP
        found := found || format(' mentions %s: %s;', n, strpos(msg, n) > 0);
    END LOOP;
    RETURN format('%s%s has hint: %s', st, found, coalesce(hint, '') <> '');
END;
$$;

-- the default environment exists right after CREATE EXTENSION
SELECT name, is_default, description FROM ff.environments;

--
-- environments
--
INSERT INTO ff.environments (name) VALUES ('prod env');
INSERT INTO ff.environments (name) VALUES ('');
INSERT INTO ff.environments (name) VALUES ('-staging');
INSERT INTO ff.environments (name) VALUES (repeat('x', 201));
INSERT INTO ff.environments (name, metadata) VALUES ('staging', '[1]');
INSERT INTO ff.environments (name, metadata) VALUES ('staging', '{"team": {"name": "x"}}');
INSERT INTO ff.environments (name, metadata)
VALUES ('staging', '{"flagSetId": "shop", "version": 3, "beta": true, "dropped": null}');
-- making another environment the default demotes the previous one
INSERT INTO ff.environments (name, is_default) VALUES ('production', true);
SELECT name, is_default FROM ff.environments ORDER BY name;
UPDATE ff.environments SET is_default = true WHERE name = 'development';
SELECT name, is_default FROM ff.environments ORDER BY name;
-- the default environment cannot be deleted
DELETE FROM ff.environments WHERE name = 'development';

--
-- flags: key, environment, state
--
INSERT INTO ff.flags (environment, key, variants) VALUES ('nowhere', 'checkout', '{"on": true}');
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'new checkout', '{"on": true}');
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'café', '{"on": true}');
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', '_x', '{"on": true}');
INSERT INTO ff.flags (environment, key, state, variants) VALUES ('development', 'checkout', 'enabled', '{"on": true}');

--
-- flags: variants and flag type
--
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'checkout', '[true, false]');
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'checkout', '{}');
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'checkout', '{"on": true, "off": null}');
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'checkout', '{"list": [1, 2]}');
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'checkout', '{"on": true, "off": "no"}');
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'checkout', '{"": true}');
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'checkout', '{"dark mode": 1, "light": "x"}');
INSERT INTO ff.flags (environment, key, flag_type, variants) VALUES ('development', 'checkout', 'string', '{"on": true}');
INSERT INTO ff.flags (environment, key, flag_type, variants) VALUES ('development', 'checkout', 'integer', '{"on": 1}');
-- flag_type is derived from the variants when it is NULL
INSERT INTO ff.flags (environment, key, variants, default_variant) VALUES
    ('development', 'bool-flag', '{"on": true, "off": false}', 'off'),
    ('development', 'string-flag', '{"a": "alpha", "b": "beta"}', 'a'),
    ('development', 'number-flag', '{"small": 10, "large": 2.5e3}', NULL),
    ('development', 'object-flag', '{"none": {}, "banner": {"show": true, "items": [1, 2]}}', 'none');
SELECT key, flag_type, default_variant FROM ff.flags ORDER BY key;
-- everyday edits that leave the definition alone (checked without the full
-- validation) fail with the same errors as any other write
UPDATE ff.flags SET default_variant = 'of' WHERE key = 'bool-flag';
UPDATE ff.flags SET state = 'enabled' WHERE key = 'bool-flag';
UPDATE ff.flags SET default_variant = 'on', state = 'DISABLED', description = 'edited' WHERE key = 'bool-flag';
UPDATE ff.flags SET default_variant = NULL WHERE key = 'string-flag';
SELECT key, state, default_variant, description FROM ff.flags WHERE key IN ('bool-flag', 'string-flag') ORDER BY key;
UPDATE ff.flags SET default_variant = 'off', state = 'ENABLED', description = NULL WHERE key = 'bool-flag';
UPDATE ff.flags SET default_variant = 'a' WHERE key = 'string-flag';
-- changing the type of a flag needs flag_type in the same statement
UPDATE ff.flags SET variants = '{"on": "yes", "off": "no"}' WHERE key = 'bool-flag';
UPDATE ff.flags SET variants = '{"on": "yes", "off": "no"}', flag_type = NULL WHERE key = 'bool-flag';
SELECT key, flag_type, variants FROM ff.flags WHERE key = 'bool-flag';
UPDATE ff.flags SET variants = '{"on": true, "off": false}', flag_type = 'boolean' WHERE key = 'bool-flag';

--
-- flags: default variant and metadata
--
INSERT INTO ff.flags (environment, key, variants, default_variant)
VALUES ('development', 'checkout', '{"on": true, "off": false}', 'of');
UPDATE ff.flags SET variants = '{"yes": true, "no": false}' WHERE key = 'bool-flag';
INSERT INTO ff.flags (environment, key, variants, metadata)
VALUES ('development', 'checkout', '{"on": true}', '"team"');
INSERT INTO ff.flags (environment, key, variants, metadata)
VALUES ('development', 'checkout', '{"on": true}', '{"team": "payments", "owners": ["a", "b"]}');
UPDATE ff.flags SET metadata = '{"team": "payments", "ticket": 42, "internal": false}' WHERE key = 'bool-flag';

--
-- flags: targeting
--
-- {} and JSON null mean "no targeting" and are stored as NULL
UPDATE ff.flags SET targeting = '{}' WHERE key = 'bool-flag';
UPDATE ff.flags SET targeting = 'null' WHERE key = 'string-flag';
SELECT key, targeting IS NULL AS no_targeting FROM ff.flags WHERE key IN ('bool-flag', 'string-flag') ORDER BY key;
UPDATE ff.flags SET targeting = '"on"' WHERE key = 'bool-flag';
UPDATE ff.flags SET targeting = '[{"var": "x"}]' WHERE key = 'bool-flag';
-- an unknown operator is rejected by the rule compiler, naming flag and operator
SELECT pg_temp.error_of($$UPDATE ff.flags SET targeting = '{"if": [{"nope": [1]}, "on", "off"]}' WHERE key = 'bool-flag'$$,
                        'flag "bool-flag"', 'nope');
-- results must be variant names
UPDATE ff.flags SET targeting = '{"if": [{"==": [{"var": "plan"}, "pro"]}, "on", "of"]}' WHERE key = 'bool-flag';
UPDATE ff.flags SET targeting = '{"fractional": [["a", 50], ["c", 50]]}' WHERE key = 'string-flag';
-- true/false results need variants named "true"/"false"
UPDATE ff.flags SET targeting = '{"if": [{"==": [{"var": "plan"}, "pro"]}, true, false]}' WHERE key = 'bool-flag';
INSERT INTO ff.flags (environment, key, variants, default_variant, targeting)
VALUES ('development', 'shorthand', '{"true": true, "false": false}', 'false',
        '{"if": [{"starts_with": [{"var": "email"}, "admin@"]}, true, false]}');
-- a valid rule with every custom operator
UPDATE ff.flags SET targeting = '{"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on",
    {"sem_ver": [{"var": "app_version"}, ">=", "2.3.0"]}, {"fractional": [{"var": "email"}, ["on", 10], ["off", 90]]},
    {"starts_with": [{"var": "$flagd.flagKey"}, "bool"]}, "off"]}' WHERE key = 'bool-flag';
SELECT key, targeting FROM ff.flags WHERE key = 'bool-flag';
-- a variant used by the targeting cannot be removed
UPDATE ff.flags SET variants = '{"on": true, "no": false}', default_variant = 'on' WHERE key = 'bool-flag';
-- segments referenced by targeting must exist in the same environment
UPDATE ff.flags SET targeting = '{"if": [{"in_segment": "beta-users"}, "on", "off"]}' WHERE key = 'bool-flag';

-- ... except while a pg_dump script is restored (check_function_bodies =
-- off): rows of ff.flags can arrive before the segments they use
BEGIN;
SET LOCAL check_function_bodies = off;
UPDATE ff.flags SET targeting = '{"if": [{"in_segment": "beta-users"}, "on", "off"]}' WHERE key = 'bool-flag';
ROLLBACK;

--
-- segments and segment keys
--
INSERT INTO ff.segments (environment, name) VALUES ('development', 'beta users');
INSERT INTO ff.segments (environment, name) VALUES ('qa', 'beta-users');
INSERT INTO ff.segments (environment, name, rule) VALUES ('development', 'beta-users', '["x"]');
SELECT pg_temp.error_of($$INSERT INTO ff.segments (environment, name, rule) VALUES ('development', 'beta-users', '{"plan_is": "beta"}')$$,
                        'segment "beta-users"', 'plan_is');
INSERT INTO ff.segments (environment, name, rule) VALUES ('development', 'beta-users', '{"in_segment": "beta-users"}');
INSERT INTO ff.segments (environment, name, rule) VALUES ('development', 'beta-users', '{"in_segment": "staff"}');
INSERT INTO ff.segments (environment, name, rule, description)
VALUES ('development', 'beta-users', '{"==": [{"var": "plan"}, "beta"]}', 'Users on the beta plan'),
       ('development', 'staff', '{"ends_with": [{"var": "email"}, "@example.com"]}', 'Employees'),
       ('development', 'testers', '{}', 'Keys only');
SELECT name, rule IS NULL AS keys_only FROM ff.segments ORDER BY name;
-- cycles between segments are rejected, with the cycle in the DETAIL
UPDATE ff.segments SET rule = '{"in_segment": "beta-users"}' WHERE name = 'staff';
UPDATE ff.segments SET rule = '{"or": [{"in_segment": "staff"}, {"==": [{"var": "plan"}, "beta"]}]}' WHERE name = 'beta-users';
UPDATE ff.segments SET rule = '{"in_segment": ["beta-users", {"var": "email"}]}' WHERE name = 'staff';
UPDATE ff.flags SET targeting = '{"if": [{"in_segment": "beta-users"}, "on", "off"]}' WHERE key = 'bool-flag';
-- a segment in use can be neither deleted nor renamed
DELETE FROM ff.segments WHERE name = 'beta-users';
UPDATE ff.segments SET name = 'beta' WHERE name = 'beta-users';
-- staff itself is not used by anything
DELETE FROM ff.segments WHERE name = 'staff';
-- keys
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('development', 'nope', 'user-1');
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('development', 'testers', '');
INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
VALUES ('development', 'testers', 'user-1', false), ('development', 'testers', 'user-2', true);
SELECT segment, targeting_key, excluded FROM ff.segment_keys ORDER BY targeting_key;
-- an unused segment can be deleted, its keys go with it
DELETE FROM ff.segments WHERE name = 'testers';
SELECT count(*) AS keys_left FROM ff.segment_keys;

--
-- environments that still hold flags or segments
--
INSERT INTO ff.flags (environment, key, variants) VALUES ('staging', 'x', '{"on": true}');
DELETE FROM ff.environments WHERE name = 'staging';
UPDATE ff.environments SET name = 'stage' WHERE name = 'staging';
-- an empty environment can be renamed and deleted, unless it is protected
DELETE FROM ff.flags WHERE environment = 'staging';
UPDATE ff.environments SET name = 'stage', protected = true WHERE name = 'staging';
DELETE FROM ff.environments WHERE name = 'stage';
UPDATE ff.environments SET protected = false WHERE name = 'stage';
DELETE FROM ff.environments WHERE name = 'stage';
-- flags reject a missing environment
INSERT INTO ff.flags (environment, key, variants) VALUES ('staging', 'x', '{"on": true}');

--
-- nothing is half-written: one bad row fails the whole statement
--
INSERT INTO ff.flags (environment, key, variants) VALUES
    ('production', 'good-1', '{"on": true}'),
    ('production', 'good-2', '{"on": true}'),
    ('production', 'bad', '{"on": true, "off": 0}');
SELECT count(*) AS production_flags FROM ff.flags WHERE environment = 'production';

--
-- restoring a dump: the dumped "development" row takes over the untouched
-- one created by CREATE EXTENSION instead of failing with a duplicate key
--
BEGIN;
DELETE FROM ff.flags WHERE environment = 'development';
DELETE FROM ff.segments WHERE environment = 'development';
UPDATE ff.environments SET is_default = true WHERE name = 'production';
DELETE FROM ff.environments WHERE name = 'development';
INSERT INTO ff.environments (name, is_default, description)
VALUES ('development', true, 'Default environment, created by CREATE EXTENSION feature_flags');
-- now "development" is pristine again: a restored row replaces it
INSERT INTO ff.environments (name, is_default, metadata, description)
VALUES ('development', true, '{"flagSetId": "dev"}', 'Restored description');
SELECT name, is_default, metadata, description FROM ff.environments ORDER BY name;
-- a non-pristine environment is not taken over
INSERT INTO ff.environments (name) VALUES ('development');
ROLLBACK;
-- compile errors give the path relative to the segment (and to the flag):
-- $.rule..., as the other checks of a write do
SELECT ff.create_segment('bad-rule', '{"and": [true, {"iff": [1]}]}');
INSERT INTO ff.segments (environment, name, rule) VALUES ('development', 'bad-rule', '{"!": [{"substr": []}]}');
-- renaming a segment that has keys: a clear refusal, not the foreign key's
SELECT name FROM ff.create_segment('keyed', NULL, include => '{k1,k2}', exclude => '{k3}');
UPDATE ff.segments SET name = 'keyed2' WHERE environment = 'development' AND name = 'keyed';
SELECT name FROM ff.create_segment('unkeyed', '{"==": [1, 1]}');
UPDATE ff.segments SET name = 'unkeyed2' WHERE environment = 'development' AND name = 'unkeyed' RETURNING name;
-- (1.17) a NULL in a NOT NULL column is refused naming the row, with a
-- HINT, and nothing is written (PostgreSQL's own message named the column
-- only and printed the whole row)
\set VERBOSITY default
SELECT key FROM ff.create_flag('nn', environment => 'development');
SELECT ff.current_version() AS before_nulls \gset
UPDATE ff.flags SET tags = NULL WHERE environment = 'development' AND key = 'nn';
UPDATE ff.flags SET metadata = NULL WHERE environment = 'development' AND key = 'nn';
UPDATE ff.flags SET created_at = NULL WHERE environment = 'development' AND key = 'nn';
INSERT INTO ff.flags (environment, key, variants, tags) VALUES ('development', 'nn2', '{"on": true}', NULL);
UPDATE ff.environments SET is_default = NULL WHERE name = 'development';
UPDATE ff.environments SET metadata = NULL WHERE name = 'development';
INSERT INTO ff.environments (name, protected) VALUES ('nn-env', NULL);
UPDATE ff.segments SET created_at = NULL WHERE environment = 'development' AND name = 'unkeyed2';
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('development', 'unkeyed2', NULL);
INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded) VALUES ('development', 'unkeyed2', 'k1', NULL);
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('development', NULL, 'k1');
SELECT pg_temp.error_of($$UPDATE ff.flags SET tags = NULL WHERE key = 'nn'$$, 'tags', 'nn') AS flag_tags,
       pg_temp.error_of($$INSERT INTO ff.segment_keys VALUES ('development', 'unkeyed2', NULL)$$, 'targeting key') AS null_key;
-- updated_at is the history's to write: NULL is taken as "stamp it"
UPDATE ff.flags SET updated_at = NULL, description = 'stamped' WHERE environment = 'development' AND key = 'nn';
SELECT ff.current_version() - :before_nulls AS new_versions,
       (SELECT updated_at IS NOT NULL FROM ff.flags WHERE environment = 'development' AND key = 'nn') AS stamped,
       (SELECT count(*) FROM ff.flags WHERE key = 'nn2') AS nn2_rows,
       (SELECT count(*) FROM ff.environments WHERE name = 'nn-env') AS env_rows,
       (SELECT count(*) FROM ff.segment_keys WHERE segment = 'unkeyed2') AS key_rows;
-- (1.17) a character outside the name rule is named, also at the start:
-- "ü" is a letter, but not an ASCII one
SELECT ff.create_environment('ünï');
SELECT ff.create_environment('-x');
\set VERBOSITY terse
