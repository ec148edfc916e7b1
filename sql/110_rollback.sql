--
-- 110_rollback: rolling a flag, a segment or a whole environment back to a
-- past version writes NEW versions; errors name what is wrong.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_flags;
CREATE TEMP VIEW h AS
SELECT version, change_set, entity, entity_key, operation, summary, comment
  FROM ff.history WHERE environment = 'rb';

INSERT INTO ff.environments (name, description) VALUES ('rb', 'rollback tests');    -- 1
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
VALUES ('rb', 'checkout', 'boolean', '{"on": true, "off": false}', 'off');          -- 2
UPDATE ff.flags SET default_variant = 'on' WHERE key = 'checkout';                   -- 3
UPDATE ff.flags SET state = 'DISABLED', description = 'incident 42' WHERE key = 'checkout'; -- 4
INSERT INTO ff.segments (environment, name, description) VALUES ('rb', 'vip', 'v1'); -- 5
INSERT INTO ff.segment_keys (environment, segment, targeting_key)
VALUES ('rb', 'vip', 'alice'), ('rb', 'vip', 'bob');                                 -- 6
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
VALUES ('rb', 'theme', 'string', '{"light": "l", "dark": "d"}', 'light');           -- 7
UPDATE ff.segments SET description = 'v2' WHERE name = 'vip';                        -- 8
UPDATE ff.segment_keys SET excluded = true WHERE targeting_key = 'bob';              -- 9
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('rb', 'vip', 'carol'); -- 10
DELETE FROM ff.segment_keys WHERE targeting_key = 'alice';                           -- 11
DELETE FROM ff.flags WHERE key = 'theme';                                            -- 12
SELECT * FROM h;

-- ---- flag: back to version 3 (enabled, default "on")
SELECT ff.rollback_flag('checkout', 3, 'rb');
SELECT key, state, default_variant, description, version FROM ff.flags WHERE environment = 'rb';
SELECT * FROM h WHERE version > 12;
SELECT diff FROM ff.history WHERE version = 13;
-- rolling back to where it already is changes nothing
SELECT ff.rollback_flag('checkout', 13, 'rb');
-- a deleted flag comes back, with its original created_at
SELECT ff.rollback_flag('theme', 7, 'rb');
SELECT key, default_variant, created_at = (SELECT (after ->> 'created_at')::timestamptz FROM ff.versions WHERE version = 7) AS same_created_at
  FROM ff.flags WHERE environment = 'rb' AND key = 'theme';
-- a flag that did not exist yet is deleted
SELECT ff.rollback_flag('theme', 4, 'rb');
SELECT count(*) AS theme_rows FROM ff.flags WHERE key = 'theme';
-- the caller's comment wins over the automatic one
BEGIN;
SELECT ff.comment_change('back to the incident state');
SELECT ff.rollback_flag('checkout', 4, 'rb');
SELECT current_setting('ff.change_comment') AS comment_still_set;
COMMIT;
SELECT * FROM h WHERE version > 13;
-- the environment argument defaults to ff.environment, then to the default environment
SET ff.environment = 'rb';
SELECT ff.rollback_flag('checkout', 3);
RESET ff.environment;
SELECT state FROM ff.flags WHERE environment = 'rb' AND key = 'checkout';

-- ---- segment: row and key list
SELECT targeting_key, excluded FROM ff.segment_keys WHERE segment = 'vip' ORDER BY 1;
SELECT ff.rollback_segment('vip', 6, 'rb');
SELECT name, description FROM ff.segments WHERE environment = 'rb';
SELECT targeting_key, excluded FROM ff.segment_keys WHERE segment = 'vip' ORDER BY 1;
SELECT version, entity_key, operation, summary, comment FROM ff.history
 WHERE version > (SELECT max(version) FROM ff.versions WHERE version < ff.current_version() - 2);
SELECT ff.rollback_segment('vip', 10, 'rb');
SELECT targeting_key, excluded FROM ff.segment_keys WHERE segment = 'vip' ORDER BY 1;
-- before the segment existed: it is deleted with its keys
SELECT ff.rollback_segment('vip', 4, 'rb');
SELECT count(*) AS segments, (SELECT count(*) FROM ff.segment_keys) AS keys FROM ff.segments;
-- and back again: the key list is replayed across the deletion
SELECT ff.rollback_segment('vip', 11, 'rb');
SELECT targeting_key, excluded FROM ff.segment_keys WHERE segment = 'vip' ORDER BY 1;

-- ---- environment: everything at once, as one change-set
SELECT ff.current_version() AS before_env \gset
SELECT ff.rollback_environment('rb', 2);
SELECT version - :before_env AS n, change_set - :before_env AS cs, entity, entity_key, operation, summary, comment
  FROM ff.history WHERE version > :before_env;
SELECT key, state, default_variant FROM ff.flags WHERE environment = 'rb';
SELECT count(*) AS segments FROM ff.segments WHERE environment = 'rb';
SELECT ff.rollback_environment('rb', 12);
SELECT key, state, default_variant FROM ff.flags WHERE environment = 'rb' ORDER BY key;
SELECT name, description FROM ff.segments WHERE environment = 'rb';
SELECT targeting_key, excluded FROM ff.segment_keys WHERE segment = 'vip' ORDER BY 1;
SELECT ff.rollback_environment('rb', 12);

-- ---- errors
SELECT ff.rollback_flag('checkout', 0, 'rb');
SELECT ff.rollback_flag('checkout', 100000, 'rb');
SELECT ff.rollback_flag('checkout', NULL, 'rb');
SELECT ff.rollback_flag('nope', 3, 'rb');
SELECT ff.rollback_flag('checkout', 3, 'nowhere');
SELECT ff.rollback_segment('nope', 3, 'rb');
SELECT ff.rollback_environment('nowhere', 3);
SELECT ff.rollback_environment(NULL, 3);
INSERT INTO ff.environments (name) VALUES ('rb-late');
SELECT ff.rollback_environment('rb-late', 3);
-- a failed rollback writes nothing
SELECT ff.current_version() AS before_fail \gset
BEGIN;
SELECT ff.rollback_flag('checkout', 2, 'rb');
SELECT ff.rollback_flag('checkout', -1, 'rb');
ROLLBACK;
SELECT ff.current_version() = :before_fail AS nothing_written;

SELECT ok, detail FROM ff.verify_history();

-- ---- a role that may read the history and roll flags back
CREATE ROLE regress_hist_admin;
GRANT USAGE ON SCHEMA ff TO regress_hist_admin;
GRANT SELECT ON ff.versions, ff.history, ff.environments, ff.segments TO regress_hist_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON ff.flags TO regress_hist_admin;
GRANT EXECUTE ON FUNCTION ff.rollback_flag(text, bigint, text) TO regress_hist_admin;
SET ROLE regress_hist_admin;
SELECT version, summary FROM ff.history WHERE entity_key = 'checkout' ORDER BY version DESC LIMIT 1;
SELECT ff.rollback_flag('checkout', 3, 'rb');
-- without the grant, rolling back a segment is refused
SELECT ff.rollback_segment('vip', 6, 'rb');
RESET ROLE;
SELECT changed_by, summary, comment FROM ff.history ORDER BY version DESC LIMIT 1;
DROP OWNED BY regress_hist_admin;
DROP ROLE regress_hist_admin;

-- ---- (1.9) an environment rollback restores segments that reference each
-- other in a chain in dependency order (the referenced one first), and
-- deletes segments that did not exist then in the reverse order
SELECT (ff.create_environment('chain')).name;
SELECT (ff.create_segment('c', '{"==": [{"var": "x"}, 1]}', 'chain')).name;
SELECT (ff.create_segment('b', '{"in_segment": "c"}', 'chain')).name;
SELECT (ff.create_segment('a', '{"in_segment": "b"}', 'chain')).name;
SELECT ff.current_version() AS chain_v \gset
DELETE FROM ff.segments WHERE environment = 'chain' AND name = 'a';
DELETE FROM ff.segments WHERE environment = 'chain' AND name = 'b';
DELETE FROM ff.segments WHERE environment = 'chain' AND name = 'c';
SELECT ff.rollback_environment('chain', :chain_v) > :chain_v AS rolled_back;
SELECT name, rule FROM ff.segments WHERE environment = 'chain' ORDER BY name;
SELECT (ff.create_environment('chain2')).name;
SELECT ff.current_version() AS chain2_v \gset
SELECT (ff.create_segment('x', '{"==": [{"var": "x"}, 1]}', 'chain2')).name;
SELECT (ff.create_segment('y', '{"in_segment": "x"}', 'chain2')).name;
SELECT (ff.create_segment('w', '{"in_segment": "y"}', 'chain2')).name;
SELECT ff.rollback_environment('chain2', :chain2_v) > :chain2_v AS rolled_back;
SELECT count(*) AS segments_left FROM ff.segments WHERE environment = 'chain2';
SELECT ok, detail FROM ff.verify_history();
-- (1.25) an empty environment name is refused, as by every write function
-- (1.24 took it for "not given" and rolled back in the default environment)
-- (with the setting naming rb, where both have a history to roll back to)
SET ff.environment = 'rb';
SELECT ff.current_version() AS before_empty \gset
SELECT ff.rollback_flag('checkout', 3, '');
SELECT ff.rollback_segment('vip', 5, '');
SELECT ff.current_version() = :before_empty AS nothing_written;
-- left out, the setting is used, and a setting that names no environment
-- is said to be the source of the name
SET ff.environment = 'no-such-env';
SELECT ff.rollback_flag('checkout', 3);
RESET ff.environment;
