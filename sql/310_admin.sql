--
-- 310_admin: administration functions, environment resolution, views and
-- privileges.
--
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
CREATE EXTENSION feature_flags;
RESET client_min_messages;

--
-- environments
--
SELECT name, is_default, metadata, description
  FROM ff.create_environment('production', 'Live traffic', '{"flagSetId": "shop"}');
SELECT name FROM ff.create_environment('production');
SELECT name FROM ff.create_environment('bad name');
SELECT name FROM ff.create_environment(NULL);

--
-- flags: create, enable/disable, default variant, targeting
--
-- the default is a boolean on/off flag, serving "off", in the default environment
SELECT environment, key, state, flag_type, variants, default_variant, targeting
  FROM ff.create_flag('new-checkout', description => 'New checkout flow', owner => 'payments',
                      tags => '{checkout,web}');
SELECT key FROM ff.create_flag('new-checkout');
SELECT environment, key, flag_type, default_variant
  FROM ff.create_flag('ui-theme', '{"classic": "classic", "dark": "dark"}', 'classic',
                      environment => 'production', metadata => '{"team": "design"}');
SELECT key, default_variant, state FROM ff.create_flag('page-size', '{"s": 10, "l": 50}', enabled => false);
SELECT key FROM ff.create_flag('broken', '{"a": 1, "b": "x"}');
SELECT key FROM ff.create_flag('x', environment => 'nope');

-- kill switch
SELECT key, state FROM ff.disable_flag('new-checkout');
SELECT key, state FROM ff.disable_flag('new-checkout');
SELECT key, state FROM ff.enable_flag('new-checkout');
SELECT key, state FROM ff.enable_flag('ui-theme');
SELECT key, state FROM ff.enable_flag('ui-theme', 'production');
SELECT key, state FROM ff.enable_flag('nope');

SELECT key, default_variant FROM ff.set_default_variant('page-size', 'l');
SELECT key, default_variant FROM ff.set_default_variant('page-size', NULL);
SELECT key, default_variant FROM ff.set_default_variant('page-size', 'xl');

SELECT key, targeting FROM ff.set_targeting('new-checkout',
    '{"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on"]}');
SELECT key, targeting FROM ff.set_targeting('new-checkout', '{"if": [true, "yes"]}');
SELECT key, targeting FROM ff.set_targeting('new-checkout', NULL);

--
-- environment resolution: argument, then ff.environment, then the default
--
SET ff.environment = 'production';
SELECT environment, key, state FROM ff.disable_flag('ui-theme');
SELECT key FROM ff.disable_flag('new-checkout');
SET ff.environment = 'nope';
SELECT key FROM ff.disable_flag('ui-theme');
RESET ff.environment;
SELECT name, is_default FROM ff.set_default_environment('production');
SELECT environment, key, state FROM ff.enable_flag('ui-theme');
SELECT name, is_default FROM ff.set_default_environment('development');

--
-- percentage rollouts
--
SELECT key, targeting FROM ff.set_rollout('new-checkout', 25);
SELECT key, targeting FROM ff.set_rollout('new-checkout', 12.5, bucket_by => 'email');
SELECT key, targeting_summary FROM ff.flags_overview WHERE key = 'new-checkout';
SELECT key, targeting FROM ff.set_rollout('new-checkout', 100);
SELECT key, targeting_summary FROM ff.flags_overview WHERE key = 'new-checkout';
SELECT key, targeting FROM ff.set_rollout('new-checkout', 0);
SELECT key, targeting FROM ff.set_rollout('new-checkout', 101);
SELECT key, targeting FROM ff.set_rollout('new-checkout', NULL);
SELECT key, targeting FROM ff.set_rollout('new-checkout', 33.333);
SELECT key, targeting FROM ff.set_rollout('ui-theme', 50, 'production');
SELECT key, targeting FROM ff.set_rollout('ui-theme', 50, 'production', variant => 'dark');
-- with two variants, the other one is served outside the rollout
SELECT key, targeting FROM ff.set_rollout('ui-theme', 20, 'production', variant => 'classic');
SELECT key FROM ff.create_flag('three', '{"a": "a", "b": "b", "c": "c"}');
SELECT key, targeting FROM ff.set_rollout('three', 50, variant => 'a');
SELECT key, targeting FROM ff.set_rollout('three', 50, variant => 'a', otherwise => 'a');
SELECT key, targeting FROM ff.set_rollout('three', 50, variant => 'a', otherwise => 'c');
SELECT ff.delete_flag('three');
SELECT key, targeting FROM ff.set_rollout('ui-theme', 50, 'production', variant => 'neon');
SELECT key, targeting FROM ff.set_rollout('page-size', 10, variant => 'l', otherwise => 's');

--
-- segments
--
SELECT environment, name, rule, description
  FROM ff.create_segment('beta-users', '{"==": [{"var": "plan"}, "beta"]}',
                         description => 'Beta plan', include => '{user-1,user-2}', exclude => '{user-9}');
SELECT targeting_key, excluded FROM ff.segment_keys WHERE segment = 'beta-users' ORDER BY 1;
SELECT name FROM ff.create_segment('beta-users');
SELECT name FROM ff.create_segment('both', include => '{a,b}', exclude => '{b}');
SELECT name FROM ff.create_segment('staff', '{"ends_with": [{"var": "email"}, "@example.com"]}');
-- adding keys: new ones are added, keys on the other list move, duplicates count once
SELECT ff.add_segment_keys('beta-users', '{user-3,user-3,user-9}');
SELECT ff.add_segment_keys('beta-users', '{user-3}');
SELECT ff.add_segment_keys('beta-users', '{user-1}', excluded => true);
SELECT targeting_key, excluded FROM ff.segment_keys WHERE segment = 'beta-users' ORDER BY 1;
SELECT ff.remove_segment_keys('beta-users', '{user-1,user-404}');
SELECT ff.add_segment_keys('beta-users', ARRAY['ok', NULL]);
SELECT ff.add_segment_keys('nope', '{a}');
SELECT ff.remove_segment_keys('nope', '{a}');
SELECT name, rule FROM ff.set_segment_rule('staff', '{"in_segment": "beta-users"}');
SELECT name, rule FROM ff.set_segment_rule('beta-users', '{"in_segment": "staff"}');
SELECT name, rule FROM ff.set_segment_rule('nope', NULL);
SELECT key, targeting FROM ff.set_targeting('new-checkout',
    '{"if": [{"in_segment": "staff"}, "on", {"fractional": [["on", 10], ["off", 90]]}]}');
SELECT ff.delete_segment('beta-users');
SELECT ff.delete_segment('nope');

--
-- views
--
SELECT environment, key, state, type, default_variant, variants, has_targeting, targeting_summary, tags, owner
  FROM ff.flags_overview;
SELECT environment, name, has_rule, rule_summary, included_keys, excluded_keys, used_by, description
  FROM ff.segments_overview;
SELECT name, is_default, flags, enabled, disabled, segments, metadata FROM ff.environments_overview;

--
-- copying flags and environments
--
-- the segments the flag needs (staff, and beta-users through staff) come along
SELECT environment, key, state, targeting FROM ff.copy_flag('new-checkout', 'development', 'production');
SELECT environment, name, rule FROM ff.segments WHERE environment = 'production' ORDER BY name;
SELECT targeting_key, excluded FROM ff.segment_keys WHERE environment = 'production' ORDER BY 1;
SELECT key FROM ff.copy_flag('new-checkout', 'development', 'production');
SELECT key, state FROM ff.copy_flag('new-checkout', 'development', 'production', overwrite => true);
SELECT environment, key FROM ff.copy_flag('new-checkout', 'development', 'development', new_key => 'new-checkout-copy');
SELECT key FROM ff.copy_flag('new-checkout', 'development', 'development');
SELECT key FROM ff.copy_flag('nope', 'development', 'production');
SELECT key FROM ff.copy_flag('new-checkout', 'development', 'nope');
-- a whole environment: created when missing
SELECT ff.copy_environment('development', 'staging');
SELECT environment, key, state, default_variant FROM ff.flags WHERE environment = 'staging' ORDER BY key;
SELECT name, description FROM ff.environments WHERE name = 'staging';
SELECT ff.copy_environment('development', 'staging');
SELECT ff.copy_environment('development', 'development');
SELECT ff.copy_environment('nope', 'staging');
SELECT key, state FROM ff.enable_flag('page-size', 'staging');
SELECT ff.copy_environment('development', 'staging', overwrite => true);
SELECT key, state FROM ff.flags WHERE environment = 'staging' AND key = 'page-size';

--
-- deleting
--
SELECT ff.delete_flag('new-checkout-copy');
SELECT ff.delete_flag('new-checkout-copy');
SELECT ff.delete_flag('ui-theme');
SELECT ff.delete_environment('staging');
SELECT ff.delete_environment('staging', force => true);
SELECT ff.delete_environment('staging');
SELECT ff.delete_environment('development', force => true);
SELECT name FROM ff.environments ORDER BY name;

--
-- privileges: write functions are not granted to PUBLIC
--
SELECT p.oid::regprocedure AS function
  FROM pg_proc AS p
 WHERE p.pronamespace = 'ff'::regnamespace
   AND p.proname IN ('create_environment', 'set_default_environment', 'delete_environment',
                     'copy_environment', 'create_flag', 'set_targeting', 'set_default_variant',
                     'enable_flag', 'disable_flag', 'set_rollout', 'copy_flag', 'delete_flag',
                     'create_segment', 'set_segment_rule', 'delete_segment', 'add_segment_keys',
                     'remove_segment_keys', 'import_flagd')
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1;
SELECT count(*) AS admin_functions_revoked
  FROM pg_proc AS p
 WHERE p.pronamespace = 'ff'::regnamespace
   AND p.proname IN ('create_environment', 'set_default_environment', 'delete_environment',
                     'copy_environment', 'create_flag', 'set_targeting', 'set_default_variant',
                     'enable_flag', 'disable_flag', 'set_rollout', 'copy_flag', 'delete_flag',
                     'create_segment', 'set_segment_rule', 'delete_segment', 'add_segment_keys',
                     'remove_segment_keys', 'import_flagd')
   AND NOT has_function_privilege('public', p.oid, 'EXECUTE');
-- every column of the overview views has a comment
SELECT c.relname || '.' || a.attname AS uncommented_column
  FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid
 WHERE c.oid IN ('ff.flags_overview'::regclass, 'ff.segments_overview'::regclass,
                 'ff.environments_overview'::regclass) AND a.attnum > 0
   AND col_description(c.oid, a.attnum) IS NULL;

--
-- "Perhaps you meant" (1.11): errors about a missing flag, segment or
-- environment name the closest existing one (a Levenshtein distance of at
-- most a third of the name's length, at most 5; ties go to the first in
-- byte order); ff.evaluate's error_message does the same for flags
--
SELECT name FROM ff.create_environment('typo-env');
SELECT key FROM ff.create_flag('checkout-v2', environment => 'typo-env');
SELECT key FROM ff.create_flag('checkout-v3', environment => 'typo-env');
SELECT key FROM ff.create_flag('cw', environment => 'typo-env');
SELECT name FROM ff.create_segment('beta-users', environment => 'typo-env');
-- one letter missing; a tie (v4 is as close to v2 as to v3); too short; too far
SELECT key FROM ff.enable_flag('chekout-v2', environment => 'typo-env');
SELECT key FROM ff.enable_flag('checkout-v4', environment => 'typo-env');
SELECT key FROM ff.enable_flag('cv', environment => 'typo-env');
SELECT key FROM ff.enable_flag('checkout', environment => 'typo-env');
-- environments: an argument, the setting, a raw INSERT
SELECT key FROM ff.create_flag('x', environment => 'typo-evn');
SET ff.environment = 'Typo-Env';
SELECT key FROM ff.create_flag('x');
RESET ff.environment;
INSERT INTO ff.flags (environment, key, variants, default_variant)
VALUES ('typo_env', 'x', '{"a": 1}', 'a');
INSERT INTO ff.segments (environment, name) VALUES ('typoenv', 'x');
SELECT ff.evaluate_all('{}', 'typo-evn');
-- segments: a function, a rule's reference, a raw INSERT of a key
SELECT ff.add_segment_keys('beta-user', ARRAY['k'], environment => 'typo-env');
SELECT key FROM ff.set_targeting('checkout-v2', '{"if": [{"in_segment": "beta-usrs"}, "on", "off"]}',
                                 environment => 'typo-env');
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('typo-env', 'Beta-Users', 'k');
-- a segment's own rule may not name it: no suggestion of the segment itself
SELECT name FROM ff.create_segment('internal-staff', environment => 'typo-env');
SELECT ff.set_segment_rule('internal-staff', '{"in_segment": "internal-stuff"}', 'typo-env');
-- a rollback of a key without history suggests a key that has one
SELECT ff.rollback_flag('chekout-v2', 1, 'typo-env');
-- (1.12) an environment's rollback suggests an environment; a raw INSERT of
-- a segment key into a missing environment names the environment, not the
-- segment
SELECT ff.rollback_environment('typo-evn', 1);
SELECT ff.rollback_flag('checkout-v2', 1, 'typo-evn');
SELECT ff.rollback_segment('beta-users', 1, 'typo-evn');
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('typo-evn', 'beta-users', 'k');
-- nothing was written
SELECT count(*) AS typo_env_rows FROM ff.flags WHERE environment = 'typo-env' AND key NOT IN ('checkout-v2', 'checkout-v3', 'cw');
-- the helper itself: NULL elements skipped, the name itself is no suggestion,
-- non-ASCII names, names too long to be a typo of a stored one
SELECT ff._closest_name('abcdef', ARRAY['abcxyz', NULL, 'abcdeg', 'abcdef']) AS closest,
       ff._closest_name('abcdef', ARRAY['abcdef']) AS itself,
       ff._closest_name('abc', ARRAY['xyz', 'abd', 'acb', 'ab']) AS three_chars,
       ff._closest_name('abcdef', '{}') AS none,
       ff._closest_name('chéckout', ARRAY['checkout']) AS non_ascii,
       ff._closest_name('checkout－v２', ARRAY['checkout-v2']) AS full_width,
       ff._closest_name(repeat('a', 255), ARRAY[repeat('a', 254) || 'b']) IS NOT NULL AS longest,
       ff._closest_name(repeat('a', 256), ARRAY[repeat('a', 255)]) AS too_long,
       ff._perhaps_you_meant('chekout-v2', ARRAY['checkout-v2']) AS hint_start,
       ff._perhaps_you_meant('zzz', ARRAY['checkout-v2']) = '' AS no_hint;
-- ff.evaluate: the suggestion is remembered per key and per cache
-- generation (a query mixing two typos gets each its own; after a change
-- the environment's flags are read again)
SELECT flag_key, error_code, error_message
  FROM ff.evaluate('chekout-v2', '{}', 'false', 'typo-env');
SELECT k, (ff.evaluate(k, '{}', 'false', 'typo-env')).error_message
  FROM unnest(ARRAY['checkout-v4', 'chekout-v3', 'checkout-v4', 'zzz', 'cw']) WITH ORDINALITY AS t(k, n)
 ORDER BY n;
SELECT ff.get_bool('chekout-v2', '{}', true, 'typo-env') AS getter_default;
-- (1.12 library) a missing environment gets a suggestion too, from the
-- argument or the setting, once per name and generation
SELECT n, e.error_code, e.error_message
  FROM generate_series(1, 3) AS n, ff.evaluate('checkout-v2', '{}', 'false', 'typo-evn') AS e;
SET ff.environment = 'typo-env2';
SELECT error_code, error_message FROM ff.evaluate('checkout-v2', '{}', 'false');
RESET ff.environment;
SELECT error_message FROM ff.evaluate('checkout-v2', '{}', 'false', 'zzzzzz');
-- bounded like the flags' suggestions: 3 names are remembered already, so
-- 61 more get one, and typo-env2 its remembered one
SELECT count(*) FILTER (WHERE e.error_message LIKE '%(perhaps you meant "typo-env")') AS suggested,
       count(*) AS evaluated
  FROM generate_series(1, 100) AS i, ff.evaluate('checkout-v2', '{}', 'false', 'typo-env' || i) AS e;
SELECT ff.delete_flag('checkout-v2', environment => 'typo-env');
SELECT (ff.evaluate('checkout-v4', '{}', 'false', 'typo-env')).error_message;
SELECT ff.delete_flag('checkout-v3', environment => 'typo-env');
SELECT (ff.evaluate('checkout-v4', '{}', 'false', 'typo-env')).error_message;
-- the suggestions of a generation are bounded: the first 64 distinct
-- missing keys get one (remembered), later ones none until the next change
SELECT key FROM ff.create_flag('checkout-v2', environment => 'typo-env');
SELECT count(*) FILTER (WHERE e.error_message LIKE '%(perhaps you meant "checkout-v2")') AS suggested,
       count(*) AS evaluated
  FROM generate_series(1, 100) AS i, ff.evaluate('checkout-x' || i, '{}', 'false', 'typo-env') AS e;
SELECT (ff.evaluate('checkout-x1', '{}', 'false', 'typo-env')).error_message;
SELECT (ff.evaluate('checkout-x99', '{}', 'false', 'typo-env')).error_message;
SELECT key FROM ff.disable_flag('checkout-v2', environment => 'typo-env');
SELECT (ff.evaluate('checkout-x99', '{}', 'false', 'typo-env')).error_message;

-- (1.16) NULL is not a choice: overwrite => NULL used to overwrite, and
-- ff.set_default_environment(NULL) to do nothing without a word
SELECT (ff.create_environment('null-src')).name;
SELECT (ff.create_environment('null-dst')).name;
SELECT key FROM ff.create_flag('ow', '{"a": "A", "b": "B"}', 'a', environment => 'null-src');
SELECT key FROM ff.create_flag('ow', '{"a": "A", "b": "B"}', 'b', environment => 'null-dst');
SELECT ff.copy_flag('ow', 'null-src', 'null-dst', overwrite => NULL);
-- (1.17) a NULL target is refused, as by ff.copy_environment (it copied
-- into the default environment)
\set VERBOSITY default
SELECT ff.copy_flag('ow', 'null-src', NULL);
\set VERBOSITY sqlstate
SELECT ff.copy_flag('ow', 'null-src', NULL);
\set VERBOSITY terse
SELECT count(*) AS not_copied FROM ff.flags WHERE key = 'ow' AND environment = 'development';
SELECT ff.copy_environment('null-src', 'null-dst', overwrite => NULL);
SELECT ff.set_default_environment(NULL);
SELECT default_variant AS untouched FROM ff.flags WHERE environment = 'null-dst' AND key = 'ow';
SELECT ff.delete_environment('null-src', force => true);
SELECT ff.delete_environment('null-dst', force => true);

-- (1.17) a not-found HINT names the environment of the call, and suggests
-- creating only a name that can be created
\set VERBOSITY default
SELECT (ff.create_environment('hint-env')).name;
SELECT ff.set_targeting('nope', '{}', 'hint-env');
SELECT ff.enable_flag('a b', 'hint-env');
SELECT ff.enable_flag('', 'hint-env');
SELECT ff.enable_flag(repeat('x', 201), 'hint-env');
SELECT ff.add_segment_keys('no-seg', '{k1}', 'hint-env');
SELECT ff.add_segment_keys('no seg', '{k1}', 'hint-env');
SELECT ff.set_default_environment('');
SELECT ff.set_default_environment('hint env');
SELECT ff.set_default_environment('hint-env2');
SELECT * FROM ff.evaluate_all('{}', 'hint env');
SELECT * FROM ff.evaluate_all('{}', 'hint-env2');
INSERT INTO ff.flags (environment, key, variants) VALUES ('hint env', 'f', '{"on": true}');
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('hint-env', 'no seg', 'k1');
\set VERBOSITY terse
SELECT ff.delete_environment('hint-env', force => true);

-- (1.17) NULLs that were taken as a choice; a NULL name of a row with
-- dependents meets the NOT NULL check (23502, naming the row), not the
-- rename check; a missing segment whose name breaks the rule is not
-- suggested for creation
\set VERBOSITY default
SELECT (ff.create_environment('null-choice')).name;
SELECT key FROM ff.create_flag('nc', environment => 'null-choice', enabled => NULL);
SELECT name FROM ff.create_segment('nc-seg', '{"==": [1, 1]}', environment => 'null-choice');
SELECT ff.add_segment_keys('nc-seg', '{k1}', 'null-choice', excluded => NULL);
SELECT ff.add_segment_keys('nc-seg', '{k0}', 'null-choice');
SELECT key FROM ff.create_flag('nc', environment => 'null-choice');
SELECT ff.set_targeting('nc', '{"if": [{"in_segment": "a b"}, "on", "off"]}', 'null-choice');
UPDATE ff.environments SET name = NULL WHERE name = 'null-choice';
UPDATE ff.segments SET name = NULL WHERE environment = 'null-choice' AND name = 'nc-seg';
\set VERBOSITY sqlstate
SELECT key FROM ff.create_flag('nc2', environment => 'null-choice', enabled => NULL);
SELECT ff.add_segment_keys('nc-seg', '{k1}', 'null-choice', excluded => NULL);
UPDATE ff.environments SET name = NULL WHERE name = 'null-choice';
\set VERBOSITY terse
SELECT array_agg(targeting_key) AS keys_added FROM ff.segment_keys WHERE environment = 'null-choice';
SELECT ff.delete_environment('null-choice', force => true);

-- (1.24) ff.copy_flag keeps the target's segments of the same names and
-- says so when they differ from the source's; it copies what the target
-- lacks, but not what only a kept segment of the source references
SELECT (ff.create_environment('seg-src')).name, (ff.create_environment('seg-dst')).name;
SELECT (ff.create_segment('inner', NULL, 'seg-src', include => '{a}')).name;
SELECT (ff.create_segment('outer', '{"in_segment": "inner"}', 'seg-src')).name;
SELECT (ff.create_segment('same', NULL, 'seg-src', include => '{s}')).name;
SELECT (ff.create_segment('outer', NULL, 'seg-dst', include => '{b}')).name;
SELECT (ff.create_segment('same', NULL, 'seg-dst', include => '{s}')).name;
SELECT key FROM ff.create_flag('seg-flag', environment => 'seg-src');
SELECT (ff.set_targeting('seg-flag', '{"if": [{"or": [{"in_segment": "outer"}, {"in_segment": "same"}]}, "on", "off"]}', 'seg-src')).key;
\set VERBOSITY default
SELECT key FROM ff.copy_flag('seg-flag', 'seg-src', 'seg-dst');
\set VERBOSITY terse
SELECT name FROM ff.segments WHERE environment = 'seg-dst' ORDER BY name;
SELECT ff.get_bool('seg-flag', '{"targetingKey": "a"}', NULL, 'seg-src') AS in_src,
       ff.get_bool('seg-flag', '{"targetingKey": "a"}', NULL, 'seg-dst') AS in_dst;
-- a difference below a kept segment counts (its reference is read in the
-- target); a description alone does not
SELECT (ff.create_environment('seg-dst2')).name;
SELECT (ff.create_segment('inner', NULL, 'seg-dst2', include => '{zz}')).name;
SELECT (ff.create_segment('outer', '{"in_segment": "inner"}', 'seg-dst2')).name;
SELECT (ff.create_segment('same', NULL, 'seg-dst2', include => '{s}', description => 'another text')).name;
\set VERBOSITY default
SELECT key FROM ff.copy_flag('seg-flag', 'seg-src', 'seg-dst2');
\set VERBOSITY terse
SELECT ff.delete_environment('seg-src', force => true), ff.delete_environment('seg-dst', force => true),
       ff.delete_environment('seg-dst2', force => true);
\set VERBOSITY default
-- (1.25) a flag or segment that was deleted: the error says when and by
-- whom, and the HINT gives the rollback that restores it; deleting what is
-- not there suggests no creation
SELECT (ff.create_environment('gone-env')).name;
SELECT key FROM ff.create_flag('gone', environment => 'gone-env');
SELECT key FROM ff.set_default_variant('gone', 'on', 'gone-env');
SELECT name FROM ff.create_segment('gone-seg', '{"==": [1, 1]}', 'gone-env');
SELECT ff.delete_flag('gone', 'gone-env'), ff.delete_segment('gone-seg', 'gone-env');
SELECT ff.disable_flag('gone', 'gone-env');
SELECT ff.delete_flag('gone', 'gone-env');
SELECT ff.delete_flag('never-was', 'gone-env');
SELECT ff.set_segment_rule('gone-seg', NULL, 'gone-env');
SELECT ff.delete_segment('never-was', 'gone-env');
-- (1.26) a rule or a segment key that names the deleted segment: the same
-- note (1.25 suggested creating it, which loses its keys and history)
SELECT ff.create_flag('uses-gone', environment => 'gone-env',
                      targeting => '{"if": [{"in_segment": "gone-seg"}, "on", "off"]}');
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('gone-env', 'gone-seg', 'user-1');
-- (1.26) variants are listed in byte order, ten at most, clipped
SELECT key FROM ff.create_flag('many-variants', environment => 'gone-env',
    variants => (SELECT jsonb_object_agg(CASE WHEN i = 7 THEN 'a' || repeat('é', 300) ELSE 'v' || i END, i)
                   FROM generate_series(1, 12) AS i));
SELECT ff.set_default_variant('many-variants', 'v13', 'gone-env');
SELECT ff.delete_flag('many-variants', 'gone-env');
-- the HINT's rollback brings the flag back as it was
SELECT ff.rollback_flag('gone', (SELECT min(version) - 1 FROM ff.versions
                                  WHERE entity = 'flag' AND environment = 'gone-env' AND entity_key = 'gone'
                                    AND operation = 'DELETE'), environment => 'gone-env') > 0 AS restored;
SELECT key, default_variant FROM ff.flags WHERE environment = 'gone-env';
-- a flag deleted with the segment it uses: the HINT restores the segment first
SELECT name FROM ff.create_segment('gone-beta', '{"==": [{"var": "plan"}, "pro"]}', 'gone-env');
SELECT key FROM ff.create_flag('gone-ui', environment => 'gone-env', targeting => '{"if": [{"in_segment": "gone-beta"}, "on", "off"]}');
BEGIN;
SELECT ff.delete_flag('gone-ui', 'gone-env');
SELECT ff.delete_segment('gone-beta', 'gone-env');
COMMIT;
SELECT ff.enable_flag('gone-ui', 'gone-env');
SELECT ff.rollback_segment('gone-beta', (SELECT change_set - 1 FROM ff.versions WHERE entity = 'segment'
                                          AND environment = 'gone-env' AND entity_key = 'gone-beta'
                                          AND operation = 'DELETE'), environment => 'gone-env') > 0 AS segment_back,
       ff.rollback_flag('gone-ui', (SELECT change_set - 1 FROM ff.versions WHERE entity = 'flag'
                                     AND environment = 'gone-env' AND entity_key = 'gone-ui'
                                     AND operation = 'DELETE'), environment => 'gone-env') > 0 AS flag_back;
SELECT ff.get_bool('gone-ui', '{"plan": "pro"}', NULL, 'gone-env') AS restored_answer;
-- through segments deleted too, the most deeply used first: the HINT's
-- statements, run as given, bring everything back
SELECT name FROM ff.create_segment('gone-t', '{"==": [{"var": "a"}, 1]}', 'gone-env');
SELECT name FROM ff.create_segment('gone-s', '{"in_segment": "gone-t"}', 'gone-env');
SELECT name FROM ff.create_segment('gone-a', '{"or": [{"in_segment": "gone-s"}, {"in_segment": ["gone-t", {"var": "email"}]}]}', 'gone-env');
SELECT key FROM ff.create_flag('gone-deep', environment => 'gone-env',
    targeting => '{"if": [{"and": [{"in_segment": "gone-a"}, {"in_segment": "gone-t"}]}, "on", "off"]}');
BEGIN;
SELECT ff.delete_flag('gone-deep', 'gone-env');
SELECT ff.delete_segment('gone-a', 'gone-env');
SELECT ff.delete_segment('gone-s', 'gone-env');
SELECT ff.delete_segment('gone-t', 'gone-env');
COMMIT;
CREATE TEMP TABLE gone_hint (hint text);
DO $$
DECLARE
    h text;
BEGIN
    PERFORM ff.enable_flag('gone-deep', 'gone-env');
EXCEPTION WHEN undefined_object THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    INSERT INTO gone_hint VALUES (h);
END;
$$;
SELECT hint FROM gone_hint;
DO $$
DECLARE
    stmt text;
BEGIN
    FOR stmt IN SELECT s FROM gone_hint, regexp_split_to_table(split_part(hint, ' restores it', 1), '; ') AS s WHERE s <> '' LOOP
        EXECUTE stmt;
    END LOOP;
END;
$$;
SELECT ff.get_bool('gone-deep', '{"a": 1, "targetingKey": "x"}', NULL, 'gone-env') AS deep_restored;
DROP TABLE gone_hint;
SELECT ff.delete_environment('gone-env', force => true);
SELECT ff.delete_environment('gone-env');
-- any function naming a deleted environment says so, with the rollback
SELECT ff.enable_flag('gone', 'gone-env');
-- (1.26) also a segment key written into it
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('gone-env', 'gone-seg', 'user-1');
SELECT ff.rollback_flag('gone', (SELECT max(version) FROM ff.versions WHERE entity = 'flag'
                                  AND environment = 'gone-env' AND entity_key = 'gone' AND operation <> 'DELETE'), 'gone-env');
\set VERBOSITY terse
-- (1.25) with no environment left, the HINT says so (it said
-- "Existing environments: .")
BEGIN;
DELETE FROM ff.flags;
UPDATE ff.segments SET rule = NULL;
DELETE FROM ff.segments;
UPDATE ff.environments SET is_default = false, protected = false;
DELETE FROM ff.approval_rules;
DELETE FROM ff.environments;
\set VERBOSITY default
SELECT ff.enable_flag('x', 'nowhere');
ROLLBACK;
\set VERBOSITY terse
-- (1.26) variants are listed in byte order, whatever the database's
-- collation: here one that sorts "a" before "B"
SELECT current_database() AS regress_db \gset
CREATE DATABASE regress_ff_icu TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8' ENCODING 'UTF8';
\c regress_ff_icu
SET client_min_messages = warning;
CREATE EXTENSION feature_flags;
RESET client_min_messages;
\set VERBOSITY default
SELECT array_agg(k ORDER BY k) AS collation_order FROM unnest(ARRAY['B', 'a', 'é', 'z']) AS k;
SELECT ff._variant_list('{"B": 1, "a": 2, "é": 3, "z": 4}') AS variant_list, ff._variant_list('{}') AS no_variants;
SELECT key FROM ff.create_flag('cased', '{"B": 1, "a": 2, "é": 3, "z": 4}', 'a');
SELECT ff.set_default_variant('cased', 'A');
SELECT ff.set_rollout('cased', 50);
\set VERBOSITY terse
\c :regress_db
DROP DATABASE regress_ff_icu;
