--
-- 200_evaluate: ff.evaluate, reasons and error codes, the typed getters,
-- environments, metadata, $flagd injection, segments, ff.evaluate_all and
-- the evaluation cache.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS feature_flags;

-- the default environment exists after install once the admin/history
-- parts are merged; create it otherwise
INSERT INTO ff.environments (name, is_default) VALUES ('development', true)
    ON CONFLICT DO NOTHING;
INSERT INTO ff.environments (name, metadata)
    VALUES ('glue_eval', '{"team": "glue", "region": "eu", "dropped": null}');
INSERT INTO ff.environments (name) VALUES ('glue_other');

INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting, metadata) VALUES
    -- STATIC: no targeting, a default variant
    ('glue_eval', 'static-on', 'boolean', '{"on": true, "off": false}', 'on', NULL,
     '{"owner": "ops", "region": "us"}'),
    -- {} is the same as no targeting
    ('glue_eval', 'empty-targeting', 'string', '{"a": "A", "b": "B"}', 'b', '{}', '{}'),
    -- DEFAULT without a default variant
    ('glue_eval', 'no-default', 'string', '{"a": "A"}', NULL, NULL, '{}'),
    -- TARGETING_MATCH / DEFAULT through null
    ('glue_eval', 'tiered', 'string', '{"basic": "#000", "gold": "#fc0"}', 'basic',
     '{"if": [{"==": [{"var": "user.tier"}, "gold"]}, "gold", null]}', '{"dropped": 1}'),
    -- the same, no default variant
    ('glue_eval', 'tiered-nodefault', 'string', '{"basic": "#000", "gold": "#fc0"}', NULL,
     '{"if": [{"==": [{"var": "user.tier"}, "gold"]}, "gold", null]}', '{}'),
    -- DISABLED
    ('glue_eval', 'off-flag', 'number', '{"one": 1, "two": 2}', 'one', NULL, '{"why": "incident"}'),
    -- boolean variant shorthand: the rule's true/false picks "true"/"false"
    ('glue_eval', 'shorthand', 'boolean', '{"true": true, "false": false}', 'false',
     '{"starts_with": [{"var": "email"}, "admin@"]}', '{}'),
    -- GENERAL: targeting computes a name that is not a variant
    ('glue_eval', 'computed', 'string', '{"x": "X", "y": "Y"}', 'x',
     '{"var": "wanted"}', '{}'),
    -- numbers, integers, objects
    ('glue_eval', 'limit', 'number', '{"small": 10, "big": 1000000, "half": 2.5}', 'small',
     '{"if": [{"==": [{"var": "plan"}, "big"]}, "big", {"==": [{"var": "plan"}, "half"]}, "half", null]}', '{}'),
    ('glue_eval', 'config', 'object', '{"v1": {"retries": 3, "hosts": ["a", "b"]}, "v2": {"retries": 5}}', 'v1',
     '{"if": [{"==": [{"var": "targetingKey"}, "user-2"]}, "v2", null]}', '{}'),
    -- $flagd injection
    ('glue_eval', 'whoami', 'string', '{"self": "self", "other": "other"}', 'other',
     '{"if": [{"==": [{"var": "$flagd.flagKey"}, "whoami"]}, "self", "other"]}', '{}'),
    ('glue_eval', 'clock', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{">": [{"var": "$flagd.timestamp"}, 1600000000]}, "on", "off"]}', '{}'),
    -- targetingKey as the key
    ('glue_eval', 'by-key', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{"==": [{"var": "targetingKey"}, "user-1"]}, "on", "off"]}', '{}'),
    -- fractional without a bucketing value hashes flag key + targeting key
    ('glue_eval', 'fractional-flag-shorthand', 'string', '{"heads": "heads", "tails": "tails"}', NULL,
     '{"fractional": [["heads"], ["tails", 1]]}', '{}'),
    -- same key in another environment
    ('glue_other', 'static-on', 'boolean', '{"on": true, "off": false}', 'off', NULL, '{}');
UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'glue_eval' AND key = 'off-flag';

-- STATIC, with the metadata of the environment overlaid by the flag's
SELECT * FROM ff.evaluate('static-on', '{}', 'false', 'glue_eval');
SELECT * FROM ff.evaluate('empty-targeting', '{}', '"z"', 'glue_eval');
-- DEFAULT without a default variant: the caller's default, no variant
SELECT * FROM ff.evaluate('no-default', '{}', '"caller"', 'glue_eval');
SELECT * FROM ff.evaluate('no-default', '{}', NULL, 'glue_eval');
-- TARGETING_MATCH, then DEFAULT through a null result (with and without a default variant)
SELECT * FROM ff.evaluate('tiered', '{"user": {"tier": "gold"}}', '"x"', 'glue_eval');
SELECT * FROM ff.evaluate('tiered', '{"user": {"tier": "silver"}}', '"x"', 'glue_eval');
SELECT * FROM ff.evaluate('tiered-nodefault', '{"user": {"tier": "silver"}}', '"x"', 'glue_eval');
-- DISABLED: the caller's default, metadata still there
SELECT * FROM ff.evaluate('off-flag', '{}', '42', 'glue_eval');
-- boolean shorthand
SELECT * FROM ff.evaluate('shorthand', '{"email": "admin@example.com"}', 'false', 'glue_eval');
SELECT * FROM ff.evaluate('shorthand', '{"email": "bob@example.com"}', 'true', 'glue_eval');
-- a custom operator given bad input returns null, so the default variant
SELECT * FROM ff.evaluate('shorthand', '{"email": 17}', 'true', 'glue_eval');
-- GENERAL: the computed name is not a variant
SELECT * FROM ff.evaluate('computed', '{"wanted": "y"}', '"d"', 'glue_eval');
SELECT * FROM ff.evaluate('computed', '{"wanted": "nope"}', '"d"', 'glue_eval');
SELECT * FROM ff.evaluate('computed', '{"wanted": 5}', '"d"', 'glue_eval');
-- FLAG_NOT_FOUND: unknown flag, unknown environment, NULL key
SELECT * FROM ff.evaluate('no-such-flag', '{}', '"d"', 'glue_eval');
SELECT * FROM ff.evaluate('static-on', '{}', 'false', 'no_such_env');
SELECT * FROM ff.evaluate(NULL, '{}', 'false', 'glue_eval');
-- TYPE_MISMATCH: the requested type is the JSON type of the default
SELECT * FROM ff.evaluate('static-on', '{}', '"a string"', 'glue_eval');
SELECT * FROM ff.evaluate('limit', '{}', '{}', 'glue_eval');
SELECT * FROM ff.evaluate('config', '{}', '[]', 'glue_eval');
-- no type check for a NULL or JSON null default
SELECT value, variant, reason FROM ff.evaluate('limit', '{}', NULL, 'glue_eval');
SELECT value, variant, reason FROM ff.evaluate('limit', '{}', 'null', 'glue_eval');
-- INVALID_CONTEXT; a NULL context is {}
SELECT * FROM ff.evaluate('tiered', '[1, 2]', '"d"', 'glue_eval');
SELECT * FROM ff.evaluate('tiered', '"user"', '"d"', 'glue_eval');
SELECT value, variant, reason FROM ff.evaluate('tiered', NULL, '"d"', 'glue_eval');
-- $flagd.flagKey and $flagd.timestamp; a caller-supplied $flagd is overwritten
SELECT value, variant, reason FROM ff.evaluate('whoami', '{}', '"d"', 'glue_eval');
SELECT value, variant, reason FROM ff.evaluate('whoami', '{"$flagd": {"flagKey": "spoof"}}', '"d"', 'glue_eval');
SELECT value, variant, reason FROM ff.evaluate('clock', '{"$flagd": {"timestamp": 0}}', 'false', 'glue_eval');
-- fractional shorthand (flagd's worked example: heads), and without a
-- targeting key (null, so DEFAULT)
SELECT value, variant, reason FROM ff.evaluate('fractional-flag-shorthand', '{"targetingKey": "jon@company.com"}', '"d"', 'glue_eval');
SELECT value, variant, reason FROM ff.evaluate('fractional-flag-shorthand', '{}', '"d"', 'glue_eval');
-- targetingKey
SELECT value, variant, reason FROM ff.evaluate('by-key', '{"targetingKey": "user-1"}', 'false', 'glue_eval');
SELECT value, variant, reason FROM ff.evaluate('by-key', '{"targetingKey": "user-9"}', 'false', 'glue_eval');

-- the typed getters: the value, or the caller's default on any problem
SELECT ff.get_bool('static-on', '{}', false, 'glue_eval') AS on_,
       ff.get_bool('off-flag', '{}', true, 'glue_eval') AS disabled,
       ff.get_bool('tiered', '{}', true, 'glue_eval') AS mismatch,
       ff.get_bool('nope', '{}', NULL, 'glue_eval') AS missing,
       ff.get_bool('static-on', '[]', NULL, 'glue_eval') AS bad_context;
SELECT ff.get_string('tiered', '{"user": {"tier": "gold"}}', 'dflt', 'glue_eval') AS gold,
       ff.get_string('tiered-nodefault', '{}', 'dflt', 'glue_eval') AS code_default,
       ff.get_string('limit', '{}', 'dflt', 'glue_eval') AS mismatch,
       ff.get_string('computed', '{"wanted": "zzz"}', 'dflt', 'glue_eval') AS general;
SELECT ff.get_int('limit', '{}', -1, 'glue_eval') AS small,
       ff.get_int('limit', '{"plan": "big"}', -1, 'glue_eval') AS big,
       ff.get_int('limit', '{"plan": "half"}', -1, 'glue_eval') AS half_is_not_whole,
       ff.get_int('tiered', '{}', -1, 'glue_eval') AS mismatch;
SELECT * FROM ff.evaluate('limit', '{"plan": "half"}', '1', 'glue_eval');
SELECT ff.get_float('limit', '{"plan": "half"}', -1, 'glue_eval') AS half,
       ff.get_float('limit', '{}', -1, 'glue_eval') AS small,
       ff.get_float('static-on', '{}', -1.5, 'glue_eval') AS mismatch;
SELECT ff.get_object('config', '{"targetingKey": "user-1"}', '{}', 'glue_eval') AS v1,
       ff.get_object('config', '{"targetingKey": "user-2"}', '{}', 'glue_eval') AS v2,
       ff.get_object('limit', '{}', '{"fallback": true}', 'glue_eval') AS mismatch;
-- named notation
SELECT ff.get_bool(flag_key => 'static-on', context => '{}', "default" => false, environment => 'glue_eval');

-- environment resolution: argument, then ff.environment, then the default
SELECT ff.get_bool('static-on', '{}', NULL, 'glue_other') AS explicit_other;
SET ff.environment = 'glue_eval';
SELECT ff.get_bool('static-on', '{}', NULL) AS from_setting;
SELECT ff.get_bool('static-on', '{}', NULL, 'glue_other') AS argument_wins;
SELECT * FROM ff.evaluate('static-on', '{}', 'false');
SET ff.environment = 'no_such_env';
SELECT * FROM ff.evaluate('static-on', '{}', 'false');
-- evaluate_all raises: the DETAIL says the name came from the setting, the
-- HINT lists the environments (other tests of this database add some, so
-- the function shows the HINT with everything but the first three cut)
CREATE FUNCTION pg_temp.all_error(env text) RETURNS TABLE (state text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ff.evaluate_all('{}', env);
    RETURN;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    hint := regexp_replace(hint, '^(Existing environments: "development", "glue_eval", "glue_other")[^.]*\.', '\1 ....');
    RETURN NEXT;
END $$;
SELECT * FROM pg_temp.all_error(NULL);
-- the setting must be a name an environment can have (checked when set)
SET ff.environment = 'no such env';
SET ff.environment = '-leading-dash';
SELECT set_config('ff.environment', 'a b', false);
CREATE ROLE regress_ff_env_role;
ALTER ROLE regress_ff_env_role SET ff.environment = 'a b';
DROP ROLE regress_ff_env_role;
SHOW ff.environment;
RESET ff.environment;
-- a name found missing is remembered until the next change: creating the
-- environment makes it visible to the next statement, also in a transaction
BEGIN;
SELECT reason, error_message FROM ff.evaluate('static-on', '{}', 'false', 'late_env');
SELECT reason, error_message FROM ff.evaluate('static-on', '{}', 'false', 'late_env');
SELECT name FROM ff.create_environment('late_env');
SELECT reason, error_code FROM ff.evaluate('static-on', '{}', 'false', 'late_env');
SELECT ff.evaluate_all('{}', 'late_env');
ROLLBACK;
SELECT reason, error_message FROM ff.evaluate('static-on', '{}', 'false', 'late_env');
-- the default environment ("development") has no such flag
SELECT flag_key, reason, error_code, error_message FROM ff.evaluate('static-on', '{}', 'false');
-- an empty environment argument means "not given"
SELECT flag_key, reason, error_code, error_message FROM ff.evaluate('static-on', '{}', 'false', '');

-- changes are seen by the next statement
UPDATE ff.flags SET default_variant = 'off' WHERE environment = 'glue_eval' AND key = 'static-on';
SELECT value, variant, reason FROM ff.evaluate('static-on', '{}', 'false', 'glue_eval');
UPDATE ff.environments SET metadata = '{"team": "glue2"}' WHERE name = 'glue_eval';
SELECT flag_metadata FROM ff.evaluate('static-on', '{}', 'false', 'glue_eval');
-- ... within a transaction too, and rolled back changes disappear
BEGIN;
UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'glue_eval' AND key = 'static-on';
SELECT value, variant, reason FROM ff.evaluate('static-on', '{}', 'true', 'glue_eval');
ROLLBACK;
SELECT value, variant, reason FROM ff.evaluate('static-on', '{}', 'true', 'glue_eval');
BEGIN;
DELETE FROM ff.flags WHERE environment = 'glue_eval' AND key = 'static-on';
SELECT reason, error_code, error_message FROM ff.evaluate('static-on', '{}', 'true', 'glue_eval');
SAVEPOINT s1;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
    VALUES ('glue_eval', 'static-on', 'string', '{"s": "S"}', 's');
SELECT value, variant, reason FROM ff.evaluate('static-on', '{}', NULL, 'glue_eval');
ROLLBACK TO SAVEPOINT s1;
SELECT reason, error_code FROM ff.evaluate('static-on', '{}', NULL, 'glue_eval');
ROLLBACK;
SELECT value, variant, reason FROM ff.evaluate('static-on', '{}', NULL, 'glue_eval');

-- segments: include/exclude lists and segment rules
INSERT INTO ff.segments (environment, name, rule) VALUES
    ('glue_eval', 'staff', '{"ends_with": [{"var": "email"}, "@example.com"]}'),
    ('glue_eval', 'beta', NULL);
INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded) VALUES
    ('glue_eval', 'beta', 'user-1', false),
    ('glue_eval', 'beta', 'user-2', false),
    ('glue_eval', 'staff', 'contractor', true),
    ('glue_eval', 'staff', 'friend', false);
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_eval', 'beta-feature', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{"in_segment": "beta"}, "on", "off"]}'),
    ('glue_eval', 'staff-feature', 'boolean', '{"on": true, "off": false}', 'off',
     '{"if": [{"in_segment": "staff"}, "on", "off"]}');
SELECT k, ff.get_bool('beta-feature', jsonb_build_object('targetingKey', k), NULL, 'glue_eval') AS beta
  FROM unnest(ARRAY['user-1', 'user-2', 'user-3']) AS k;
SELECT c::text, ff.get_bool('staff-feature', c, NULL, 'glue_eval') AS staff
  FROM unnest(ARRAY['{"targetingKey": "x", "email": "a@example.com"}',
                    '{"targetingKey": "contractor", "email": "c@example.com"}',
                    '{"targetingKey": "friend", "email": "f@elsewhere.org"}',
                    '{"targetingKey": "y", "email": "y@elsewhere.org"}',
                    '{"email": "z@elsewhere.org"}']::jsonb[]) AS c;
-- without a targeting key the lists cannot match and the segment's rule decides;
-- a segment of lists alone then gives null (the if takes its else branch)
SELECT c::text, (ff.evaluate('staff-feature', c, NULL, 'glue_eval')).variant AS staff,
       (ff.evaluate('beta-feature', c, NULL, 'glue_eval')).variant AS beta
  FROM unnest(ARRAY['{"email": "w@example.com"}',
                    '{"targetingKey": 42, "email": "w@example.com"}',
                    '{"email": "w@elsewhere.org"}']::jsonb[]) AS c;
CREATE TEMP TABLE shop_staff (id int, email text);
INSERT INTO shop_staff VALUES (1, 'a@example.com'), (2, 'b@elsewhere.org');
SELECT id, ff.get_bool_row('staff-feature', s, NULL, 'glue_eval') AS staff FROM shop_staff s ORDER BY id;
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('glue_eval', 'beta', 'user-3');
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-3"}', NULL, 'glue_eval') AS user3_added;
DELETE FROM ff.segment_keys WHERE environment = 'glue_eval' AND segment = 'beta' AND targeting_key = 'user-1';
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-1"}', NULL, 'glue_eval') AS user1_removed;
SELECT environments, flags, segments, segment_keys FROM ff.cache_info();

-- evaluate_all: one call for every flag of an environment
SELECT jsonb_pretty(ff.evaluate_all('{"targetingKey": "user-2", "user": {"tier": "gold"}, "wanted": "q"}', 'glue_eval'));
SELECT ff.evaluate_all(NULL, 'glue_other');
SELECT * FROM pg_temp.all_error('no_such_env');
-- a role that may evaluate but not read ff.environments is not told the names
CREATE ROLE regress_ff_eval_only;
SET ROLE regress_ff_eval_only;
SELECT ff.evaluate_all('{}', 'no_such_env');
RESET ROLE;
DROP ROLE regress_ff_eval_only;
SELECT ff.evaluate_all('[]', 'glue_eval');

-- the cache: a hit reads nothing, a change makes the next statement rebuild
SELECT ff.get_bool('static-on', '{}', NULL, 'glue_eval');
SELECT rebuilds AS before_rebuilds, generation AS before_generation, valid FROM ff.cache_info() \gset
SELECT ff.get_bool('static-on', '{}', NULL, 'glue_eval'), ff.get_bool('beta-feature', '{}', NULL, 'glue_eval');
SELECT rebuilds - :before_rebuilds AS rebuilds_after_hits, valid FROM ff.cache_info();
-- a cache hit reads no table: the scan counters of the ff tables do not move
BEGIN;
SELECT sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)) AS scans_before
  FROM pg_stat_xact_user_tables WHERE schemaname = 'ff' \gset
SELECT count(*) FILTER (WHERE ff.get_bool('beta-feature', jsonb_build_object('targetingKey', 'user-' || g), NULL, 'glue_eval'))
  FROM generate_series(1, 1000) AS g;
SELECT sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)) - :scans_before AS scans_by_cache_hits
  FROM pg_stat_xact_user_tables WHERE schemaname = 'ff';
COMMIT;
-- maintenance is not a change: VACUUM and ANALYZE of the configuration tables
-- (autovacuum's too) keep the cache and its loaded segments
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-2"}', NULL, 'glue_eval');
SELECT rebuilds AS before_maintenance FROM ff.cache_info() \gset
VACUUM ff.flags;
VACUUM ANALYZE ff.segment_keys;
ANALYZE ff.environments;
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-2"}', NULL, 'glue_eval');
SELECT rebuilds - :before_maintenance AS rebuilds_after_maintenance, valid FROM ff.cache_info();
-- but new storage is: a TRUNCATE whose signalling trigger did not fire
-- still reaches the cache through the table's new relfilenode
BEGIN;
ALTER TABLE ff.segment_keys DISABLE TRIGGER ff_invalidate_cache;
TRUNCATE ff.segment_keys;
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-2"}', NULL, 'glue_eval') AS after_unsignalled_truncate;
ROLLBACK;
-- and so are rows written with the triggers disabled: the trigger change
-- that brackets them rebuilds the cache, also when it is undone in the
-- same transaction
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-2"}', NULL, 'glue_eval') AS before_unsignalled;
BEGIN;
ALTER TABLE ff.flags DISABLE TRIGGER ALL;
UPDATE ff.flags SET default_variant = 'on', targeting = NULL WHERE environment = 'glue_eval' AND key = 'beta-feature';
ALTER TABLE ff.flags ENABLE TRIGGER ALL;
COMMIT;
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-9"}', NULL, 'glue_eval') AS after_unsignalled_in_one_transaction;
ALTER TABLE ff.flags DISABLE TRIGGER ALL;
UPDATE ff.flags SET default_variant = 'off' WHERE environment = 'glue_eval' AND key = 'beta-feature';
ALTER TABLE ff.flags ENABLE TRIGGER ALL;
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-9"}', NULL, 'glue_eval') AS after_unsignalled;
UPDATE ff.flags SET targeting = '{"if": [{"in_segment": "beta"}, "on", "off"]}'
 WHERE environment = 'glue_eval' AND key = 'beta-feature';
-- a column the cache reads renamed away: an error at every evaluation, not
-- once and then the old cache
BEGIN;
ALTER TABLE ff.flags RENAME COLUMN default_variant TO dv;
SAVEPOINT s;
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-2"}', NULL, 'glue_eval');
ROLLBACK TO SAVEPOINT s;
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-2"}', NULL, 'glue_eval');
ROLLBACK;
UPDATE ff.flags SET description = 'touched' WHERE environment = 'glue_eval' AND key = 'static-on';
SELECT valid AS valid_after_change FROM ff.cache_info();
SELECT ff.get_bool('static-on', '{}', NULL, 'glue_eval');
SELECT rebuilds - :before_rebuilds AS rebuilds_after_change, generation > :before_generation AS new_generation,
       valid, memory_bytes > 0 AS has_memory
  FROM ff.cache_info();
TRUNCATE ff.segment_keys;
SELECT valid AS valid_after_truncate FROM ff.cache_info();
SELECT ff.get_bool('beta-feature', '{"targetingKey": "user-2"}', NULL, 'glue_eval') AS after_truncate;

-- flags are read one at a time (1.25 library): a point evaluation reads its
-- own flag, not the environment's other flags; ff.cache_info() counts the
-- flags read so far
INSERT INTO ff.environments (name) VALUES ('lazy_eval');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
SELECT 'lazy_eval', 'lazy-' || g, 'boolean', '{"on": true, "off": false}',
       CASE WHEN g % 2 = 0 THEN 'on' ELSE 'off' END
  FROM generate_series(1, 200) AS g;
SELECT ff.get_bool('lazy-2', '{}', NULL, 'lazy_eval') AS lazy_2;
SELECT environments, flags, compiled_flags FROM ff.cache_info();
-- a key the environment lacks is remembered as missing, 64 keys at most;
-- the next one reads every flag, and every answer stays right
SELECT count(*) FILTER (WHERE ff.get_bool('lazy-missing-' || g, '{}', NULL, 'lazy_eval') IS NULL) AS missing_keys
  FROM generate_series(1, 64) AS g;
SELECT ff.get_bool('lazy-missing-1', '{}', true, 'lazy_eval') AS remembered_missing,
       ff.get_bool('lazy-3', '{}', NULL, 'lazy_eval') AS lazy_3;
SELECT flags AS flags_after_64_missing_keys FROM ff.cache_info();
SELECT count(*) FILTER (WHERE ff.get_bool('lazy-missing-' || g, '{}', NULL, 'lazy_eval') IS NULL) AS missing_keys
  FROM generate_series(1, 65) AS g;
SELECT flags AS flags_after_65_missing_keys FROM ff.cache_info();
SELECT ff.get_bool('lazy-missing-1', '{}', true, 'lazy_eval') AS missing_1,
       ff.get_bool('lazy-missing-999', '{}', true, 'lazy_eval') AS missing_999,
       ff.get_bool('lazy-4', '{}', NULL, 'lazy_eval') AS lazy_4,
       ff.get_bool('lazy-5', '{}', NULL, 'lazy_eval') AS lazy_5;
-- a flag created after its key was remembered as missing is found at the
-- next statement
SELECT ff.get_bool('lazy-new', '{}', NULL, 'lazy_eval') AS lazy_new_missing;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
VALUES ('lazy_eval', 'lazy-new', 'boolean', '{"on": true, "off": false}', 'on');
SELECT ff.get_bool('lazy-new', '{}', NULL, 'lazy_eval') AS lazy_new_created;
SELECT flags AS flags_after_the_write FROM ff.cache_info();
-- ff.evaluate_all after some flags were read, and a key remembered as
-- missing: every flag once, with its value
SELECT ff.get_bool('lazy-6', '{}', NULL, 'lazy_eval') AS lazy_6,
       ff.get_bool('lazy-7', '{}', NULL, 'lazy_eval') AS lazy_7,
       ff.get_bool('lazy-none', '{}', NULL, 'lazy_eval') AS lazy_none;
SELECT flags AS flags_before_evaluate_all FROM ff.cache_info();
SELECT count(*) AS members, count(DISTINCT k) AS distinct_keys,
       count(*) FILTER (WHERE (v ->> 'value')::boolean) AS members_on,
       bool_and(v ->> 'value' = CASE WHEN k = 'lazy-new' OR substr(k, 6)::int % 2 = 0
                                     THEN 'true' ELSE 'false' END) AS values_right
  FROM jsonb_each(ff.evaluate_all('{}', 'lazy_eval')) AS e(k, v);
SELECT environments, flags, compiled_flags FROM ff.cache_info();
SELECT ff.get_bool('lazy-none', '{}', true, 'lazy_eval') AS lazy_none_still_missing;
-- ff.evaluate's "perhaps you meant" compares with every flag: it reads them
UPDATE ff.flags SET description = 'touched' WHERE environment = 'lazy_eval' AND key = 'lazy-1';
SELECT (ff.evaluate('lazy-1o', '{}', NULL, 'lazy_eval')).error_message;
SELECT flags AS flags_after_a_suggestion FROM ff.cache_info();
-- rows written with the triggers disabled are not signalled (see above): a
-- key remembered as missing before such a row is found by the next read of
-- every flag, once, in place of the marker
BEGIN;
ALTER TABLE ff.flags DISABLE TRIGGER ALL;
SELECT ff.get_bool('lazy-hidden', '{}', NULL, 'lazy_eval') AS hidden_missing;
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
VALUES ('lazy_eval', 'lazy-hidden', 'boolean', '{"on": true, "off": false}', 'on');
SELECT ff.get_bool('lazy-hidden', '{}', NULL, 'lazy_eval') AS hidden_still_missing;
SELECT count(*) AS members, count(DISTINCT k) AS distinct_keys,
       count(*) FILTER (WHERE k = 'lazy-hidden') AS hidden_members
  FROM jsonb_object_keys(ff.evaluate_all('{}', 'lazy_eval')) AS k;
SELECT ff.get_bool('lazy-hidden', '{}', NULL, 'lazy_eval') AS hidden_found;
ROLLBACK;
SELECT ff.get_bool('lazy-hidden', '{}', NULL, 'lazy_eval') AS hidden_after_rollback;
-- one at a time up to 256 flags; the next one reads the rest in one scan
UPDATE ff.flags SET description = 'touched again' WHERE environment = 'lazy_eval' AND key = 'lazy-1';
SELECT count(*) FILTER (WHERE ff.get_bool('lazy-' || g, '{}', NULL, 'lazy_eval') = (g % 2 = 0)) AS right_answers
  FROM generate_series(1, 100) AS g;
SELECT flags AS flags_after_100_read FROM ff.cache_info();
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
SELECT 'lazy_eval', 'lazy-' || g, 'boolean', '{"on": true, "off": false}',
       CASE WHEN g % 2 = 0 THEN 'on' ELSE 'off' END
  FROM generate_series(201, 400) AS g;
SELECT count(*) FILTER (WHERE ff.get_bool('lazy-' || g, '{}', NULL, 'lazy_eval') = (g % 2 = 0)) AS right_answers
  FROM generate_series(1, 256) AS g;
SELECT flags AS flags_after_256_read FROM ff.cache_info();
SELECT ff.get_bool('lazy-257', '{}', NULL, 'lazy_eval') AS lazy_257;
SELECT flags AS flags_after_257_read FROM ff.cache_info();
DELETE FROM ff.flags WHERE environment = 'lazy_eval';
DELETE FROM ff.environments WHERE name = 'lazy_eval';

-- PARSE_ERROR: writes validate targeting, so store an invalid rule with
-- the validation triggers (any trigger but the cache's) disabled
CREATE FUNCTION pg_temp.set_flag_triggers(enable boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tgname FROM pg_trigger
              WHERE tgrelid = 'ff.flags'::regclass AND NOT tgisinternal
                AND tgname <> 'ff_invalidate_cache'
    LOOP
        EXECUTE format('ALTER TABLE ff.flags %s TRIGGER %I',
                       CASE WHEN enable THEN 'ENABLE' ELSE 'DISABLE' END, t.tgname);
    END LOOP;
END;
$$;
SELECT pg_temp.set_flag_triggers(false);
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_eval', 'broken-rule', 'string', '{"a": "A"}', 'a', '{"if": [{"nope": [1]}, "a", null]}'),
    ('glue_eval', 'broken-default', 'string', '{"a": "A"}', 'zz', NULL),
    ('glue_eval', 'broken-variants', 'string', '["a"]', NULL, NULL);
SELECT * FROM ff.evaluate('broken-rule', '{}', '"d"', 'glue_eval');
SELECT * FROM ff.evaluate('broken-default', '{}', '"d"', 'glue_eval');
SELECT * FROM ff.evaluate('broken-variants', '{}', '"d"', 'glue_eval');
SELECT ff.get_string('broken-rule', '{}', 'getter default', 'glue_eval');
DELETE FROM ff.flags WHERE environment = 'glue_eval' AND key LIKE 'broken-%';
SELECT pg_temp.set_flag_triggers(true);

-- the trigger function cannot be called directly
SELECT ff.invalidate_cache();

-- variant values come back exactly as stored, even beyond double precision
-- (targeting and the typed getters work with doubles, as flagd does)
INSERT INTO ff.environments (name) VALUES ('glue_num');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant) VALUES
    ('glue_num', 'precise', 'number', '{"big": 12345678901234567890, "pi": 3.14159265358979323846}', 'big');
SELECT value FROM ff.evaluate('precise', '{}', '0', 'glue_num');
SELECT ff.evaluate_all('{}', 'glue_num');
SELECT ff.get_float('precise', '{}', 0, 'glue_num') AS as_double,
       ff.get_int('precise', '{}', -1, 'glue_num') AS beyond_bigint;
UPDATE ff.flags SET default_variant = 'pi' WHERE environment = 'glue_num';
SELECT value, ff.get_float('precise', '{}', 0, 'glue_num') AS as_double
  FROM ff.evaluate('precise', '{}', '0', 'glue_num');
-- get_int at the ends of bigint: exact from the stored numeric beyond 2^53
-- (a double cannot tell 2^63 - 1 from 2^63, nor -2^63 - 1 from -2^63)
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_num', 'ends', 'number',
     '{"max": 9223372036854775807, "min": -9223372036854775808, "above_max": 9223372036854775808,
       "below_min": -9223372036854775809, "odd": 9007199254740993, "half": 9007199254740993.5, "z": 0}',
     'z', '{"var": "v"}');
SELECT v, ff.get_int('ends', jsonb_build_object('v', v), 42, 'glue_num')
  FROM unnest(ARRAY['max', 'min', 'above_max', 'below_min', 'odd', 'half', 'z']) AS v;
-- a context number beyond the double range is Infinity to rules, as in
-- JavaScript (not null: it compares greater than any finite number)
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_num', 'huge', 'string', '{"null": "null", "big": "big", "small": "small"}', 'small',
     '{"if": [{"==": [{"var": "v"}, null]}, "null", {">": [{"var": "v"}, 5]}, "big", "small"]}');
SELECT n, ff.get_string('huge', jsonb_build_object('v', n::numeric), 'd', 'glue_num')
  FROM unnest(ARRAY['1e400', '-1e400', '1e300', '1e-400']) AS n;
DELETE FROM ff.flags WHERE environment = 'glue_num';
DELETE FROM ff.environments WHERE name = 'glue_num';

-- error messages are cut on a character boundary, never inside one
INSERT INTO ff.environments (name) VALUES ('glue_utf8');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting) VALUES
    ('glue_utf8', 'echo', 'string', '{"a": "a"}', 'a', '{"var": "x"}');
SELECT length(error_message) > 100 AS long, convert_to(error_message, 'UTF8') IS NOT NULL AS valid,
       right(error_message, 12) AS tail
  FROM ff.evaluate('echo', jsonb_build_object('x', 'a' || repeat('é', 100)), '"d"', 'glue_utf8');
SELECT octet_length(error_message) <= 511 AS cut, convert_to(error_message, 'UTF8') IS NOT NULL AS valid,
       error_message LIKE 'flag "üüü%' AS starts
  FROM ff.evaluate(repeat('ü', 300), '{}', NULL, 'glue_utf8');
SELECT e->'echo'->>'error_code' AS code, right(e->'echo'->>'error_message', 12) AS tail
  FROM ff.evaluate_all(jsonb_build_object('x', 'a' || repeat('é', 100)), 'glue_utf8') AS e;

-- a rolled-back subtransaction's change is not served for the rest of the
-- statement (an exception block: the statement and command id stay the same)
CREATE FUNCTION pg_temp.rolled_back() RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text := '';
BEGIN
  r := 'start=' || ff.get_string('echo', '{"x": "a"}', 'd', 'glue_utf8');
  BEGIN
    UPDATE ff.flags SET variants = '{"a": "changed"}' WHERE environment = 'glue_utf8' AND key = 'echo';
    r := r || ' inside=' || ff.get_string('echo', '{"x": "a"}', 'd', 'glue_utf8');
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN
    r := r || ' handler=' || ff.get_string('echo', '{"x": "a"}', 'd', 'glue_utf8');
  END;
  RETURN r || ' after=' || ff.get_string('echo', '{"x": "a"}', 'd', 'glue_utf8');
END $$;
SELECT pg_temp.rolled_back();
DELETE FROM ff.flags WHERE environment = 'glue_utf8';
DELETE FROM ff.environments WHERE name = 'glue_utf8';

-- context values too large to convert within the evaluation's memory
-- budget (ff.evaluation_memory, 16MB by default) end the
-- evaluation with an error result, not an ERROR: 40 reads of a
-- 1,000,000-element array
INSERT INTO ff.environments (name) VALUES ('glue_big');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
SELECT 'glue_big', 'tags', 'boolean', '{"on": true, "off": false}', 'off',
       jsonb_build_object('if', jsonb_build_array(
           jsonb_build_object('or', (SELECT jsonb_agg(jsonb_build_object('in', jsonb_build_array('tag-' || i, '{"var": "tags"}'::jsonb)))
                                       FROM generate_series(1, 40) AS i)), 'on', 'off'));
SELECT value, reason, error_code, error_message
  FROM ff.evaluate('tags', jsonb_build_object('tags', (SELECT jsonb_agg(''::text) FROM generate_series(1, 1000000))),
                   'false', 'glue_big');
SELECT ff.get_bool('tags', '{"tags": ["tag-7"]}', false, 'glue_big') AS small_is_fine;
DELETE FROM ff.flags WHERE environment = 'glue_big';
DELETE FROM ff.environments WHERE name = 'glue_big';

-- the next statement sees a change, through every entry point, after the
-- same flag was evaluated by the same statement text before it (the
-- backend remembers recently used flags per cache generation; found by
-- mutation testing, hP: without the generation in that memo, the old value
-- and then freed memory were served, and no test noticed)
INSERT INTO ff.environments (name) VALUES ('glue_memo');
INSERT INTO ff.flags (environment, key, variants, default_variant)
VALUES ('glue_memo', 'k', '{"a": "A", "b": "B"}', 'a');
SELECT ff.get_string('k', '{}', 'x', 'glue_memo') AS before_change;
UPDATE ff.flags SET default_variant = 'b' WHERE environment = 'glue_memo' AND key = 'k';
SELECT ff.get_string('k', '{}', 'x', 'glue_memo') AS after_change,
       (ff.evaluate('k', '{}', '"x"', 'glue_memo')).variant AS evaluate_variant;
UPDATE ff.flags SET default_variant = 'a' WHERE environment = 'glue_memo' AND key = 'k';
SELECT ff.get_string('k', '{}', 'x', 'glue_memo') AS changed_back;
-- one key in two environments whose names have the same length, in turn;
-- an empty environment argument means "not given" (the setting decides)
INSERT INTO ff.environments (name) VALUES ('glue_memb');
INSERT INTO ff.flags (environment, key, variants, default_variant)
VALUES ('glue_memb', 'k', '{"a": "A", "b": "B"}', 'b');
SELECT e, ff.get_string('k', '{}', 'x', e) AS value
  FROM unnest(ARRAY['glue_memo', 'glue_memb', 'glue_memo', 'glue_memb']) WITH ORDINALITY AS t(e, n)
 ORDER BY n;
SET ff.environment = 'glue_memb';
SELECT ff.get_string('k', '{}', 'x', '') AS empty_means_setting,
       (ff.evaluate('k', '{}', '"x"', '')).value AS evaluate_empty;
RESET ff.environment;
DELETE FROM ff.flags WHERE environment IN ('glue_memo', 'glue_memb');
DELETE FROM ff.environments WHERE name IN ('glue_memo', 'glue_memb');

-- $flagd.timestamp is the start of the statement, not of the transaction
-- (mutation testing, hP: the transaction start survived every suite)
INSERT INTO ff.environments (name) VALUES ('glue_ts');
INSERT INTO ff.flags (environment, key, variants, default_variant, targeting)
VALUES ('glue_ts', 'ts', '{"now": "now", "before": "before"}', 'before',
        '{"if": [{">=": [{"var": "$flagd.timestamp"}, {"var": "stmt"}]}, "now", "before"]}');
BEGIN;
SELECT pg_sleep(1.2);
SELECT ff.get_string('ts', jsonb_build_object('stmt', floor(extract(epoch FROM statement_timestamp()))),
                     'x', 'glue_ts') AS statement_start;
COMMIT;
DELETE FROM ff.flags WHERE environment = 'glue_ts';
DELETE FROM ff.environments WHERE name = 'glue_ts';

-- (1.16) get_int takes whole-valued numbers only, judged on the number as
-- stored: a fraction that a double would round away is still a fraction
INSERT INTO ff.environments (name) VALUES ('glue_int');
INSERT INTO ff.flags (environment, key, variants, default_variant, targeting)
VALUES ('glue_int', 'n', '{"almost5": 4.9999999999999999999, "over5": 5.0000000000000000001, "tiny": 1e-330,
                           "five": 5.0, "big": 9007199254740993, "neg": -7, "half": 2.5}', 'five',
        '{"var": "v"}');
SELECT v, ff.get_int('n', jsonb_build_object('v', v), 42, 'glue_int') AS value,
       (ff.evaluate('n', jsonb_build_object('v', v), '0', 'glue_int')).error_code
  FROM unnest('{almost5,over5,tiny,five,big,neg,half}'::text[]) AS v;
-- (1.16) targeting that computes NaN or an infinity returned a number, which
-- is not a variant name: ERROR / GENERAL and the caller's default, not the
-- default variant as if targeting had returned null
INSERT INTO ff.flags (environment, key, variants, default_variant, targeting)
VALUES ('glue_int', 'inf', '{"on": true, "off": false}', 'on', '{"/": [1, {"var": "d"}]}');
SELECT d, e.value, e.variant, e.reason, e.error_code, e.error_message,
       ff.get_bool('inf', jsonb_build_object('d', d), false, 'glue_int') AS get_bool
  FROM (VALUES ('0'::jsonb), ('"x"'), ('-0.0'), ('2')) AS t (d),
       ff.evaluate('inf', jsonb_build_object('d', d), 'false', 'glue_int') AS e;
DELETE FROM ff.flags WHERE environment = 'glue_int';
DELETE FROM ff.environments WHERE name = 'glue_int';

-- the details row over many rows: the variant's value, its name (a short one
-- and one longer than 64 bytes), the reason and the metadata, each as the flag
-- holds it, for every row
INSERT INTO ff.flags (environment, key, variants, default_variant, targeting, metadata)
VALUES ('glue_eval', 'names', jsonb_build_object('short', '{"n": 1}'::jsonb, repeat('long-', 20), '{"n": 2}'::jsonb),
        'short', jsonb_build_object('if', jsonb_build_array('{"==": [{"%": [{"var": "i"}, 2]}, 0]}'::jsonb, repeat('long-', 20))),
        '{"team": "core"}');
SELECT count(*) AS rows,
       count(*) FILTER (WHERE e.variant = CASE WHEN i % 2 = 0 THEN repeat('long-', 20) ELSE 'short' END
                          AND e.value = CASE WHEN i % 2 = 0 THEN '{"n": 2}' ELSE '{"n": 1}' END::jsonb
                          AND e.reason = CASE WHEN i % 2 = 0 THEN 'TARGETING_MATCH' ELSE 'DEFAULT' END
                          AND e.error_code IS NULL
                          AND e.flag_metadata = '{"team": "core"}') AS as_expected,
       max(length(e.variant)) AS longest_variant
  FROM generate_series(1, 200) AS i,
       ff.evaluate('names', jsonb_build_object('i', i), NULL, 'glue_eval') AS e;
DELETE FROM ff.flags WHERE environment = 'glue_eval' AND key = 'names';

-- clean up
DELETE FROM ff.flags WHERE environment IN ('glue_eval', 'glue_other');
DELETE FROM ff.segments WHERE environment = 'glue_eval';
DELETE FROM ff.environments WHERE name IN ('glue_eval', 'glue_other');
