--
-- 130_evaluate_at: point-in-time evaluation.  ff.evaluate_at_version and
-- ff.evaluate_at answer, from the history alone, what ff.evaluate answered
-- when the configuration was at a past version: the flag, its environment's
-- metadata and the segments it uses (rules, include and exclude lists) as
-- they were then.  The main check records ff.evaluate's live answers after
-- every change and compares each with the point-in-time answer for that
-- version, after all the changes have been made.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_flags;
SET TimeZone = 'UTC';

CREATE TEMP TABLE ctxs (name text PRIMARY KEY, ctx jsonb);
INSERT INTO ctxs VALUES
    ('u1',        '{"targetingKey": "u1"}'),
    ('u2',        '{"targetingKey": "u2"}'),
    ('u9 beta',   '{"targetingKey": "u9", "email": "u9@beta.test"}'),
    ('u5 beta',   '{"targetingKey": "u5", "email": "u5@beta.test"}'),
    ('u5 new',    '{"targetingKey": "u5", "email": "u5@new.test"}'),
    ('u6 vip',    '{"targetingKey": "u6", "email": "vip@x.test"}'),
    ('k1',        '{"targetingKey": "k1"}'),
    ('no key',    '{"email": "who@beta.test"}'),
    ('not object', '[1, 2]');
-- the live answers, recorded after each change
CREATE TEMP TABLE live (version bigint, name text, d ff.evaluation_details);
\set snap 'INSERT INTO live SELECT ff.current_version(), c.name, ff.evaluate(''checkout'', c.ctx, ''"none"'', ''pit'') FROM ctxs AS c;'

SELECT (ff.create_environment('pit', metadata => '{"team": "web", "tier": 1}')).name;
SELECT (ff.create_segment('beta', '{"ends_with": [{"var": "email"}, "@beta.test"]}', 'pit',
                          include => '{u1}', exclude => '{u9}')).name;
SELECT (ff.create_segment('vip', NULL, 'pit', include => '{vip@x.test}')).name;
SELECT (ff.create_segment('inner', NULL, 'pit', include => '{k1}')).name;
SELECT (ff.create_segment('outer', '{"in_segment": "inner"}', 'pit')).name;
SELECT (ff.create_flag('checkout', '{"a": "A", "b": "B", "c": "C", "d": "D"}', 'a', 'pit',
        '{"if": [{"in_segment": "beta"}, "b", {"in_segment": ["vip", {"var": "email"}]}, "c",
                 {"in_segment": "outer"}, "d", null]}',
        metadata => '{"owner": "pay", "tier": null}')).key;
:snap
SELECT ff.add_segment_keys('beta', '{u2}', 'pit');
:snap
SELECT ff.remove_segment_keys('beta', '{u1}', 'pit');
:snap
SELECT ff.add_segment_keys('beta', '{u2}', 'pit', excluded => true);
:snap
SELECT (ff.set_segment_rule('beta', '{"ends_with": [{"var": "email"}, "@new.test"]}', 'pit')).name;
:snap
SELECT ff.remove_segment_keys('inner', '{k1}', 'pit');
:snap
UPDATE ff.environments SET metadata = '{"team": "checkout"}' WHERE name = 'pit';
:snap
SELECT (ff.set_targeting('checkout', '{"if": [{"in_segment": ["vip", {"var": "email"}]}, "c", "b"]}', 'pit')).key;
:snap
-- a segment deleted and created again starts with an empty key list
SELECT ff.delete_segment('beta', 'pit');
SELECT (ff.create_segment('beta', NULL, 'pit', include => '{u5}')).name;
SELECT (ff.set_targeting('checkout', '{"if": [{"in_segment": "beta"}, "b", "c"]}', 'pit')).key;
:snap
-- TRUNCATE clears every key list
TRUNCATE ff.segment_keys;
:snap
SELECT ff.add_segment_keys('beta', '{u1}', 'pit');
:snap
-- a definition that cannot be evaluated, stored with a WARNING
SET ff.invalid_targeting = 'warning';
SET client_min_messages = error;
UPDATE ff.flags SET targeting = '{"no_such_op": [1]}' WHERE environment = 'pit' AND key = 'checkout';
RESET client_min_messages;
RESET ff.invalid_targeting;
:snap
UPDATE ff.flags SET targeting = NULL, default_variant = NULL WHERE environment = 'pit' AND key = 'checkout';
:snap
UPDATE ff.flags SET default_variant = 'd' WHERE environment = 'pit' AND key = 'checkout';
:snap
SELECT (ff.disable_flag('checkout', 'pit')).state;
:snap
SELECT ff.delete_flag('checkout', 'pit');
:snap
-- created again as a number flag: a string default is now a type mismatch
SELECT (ff.create_flag('checkout', '{"one": 1, "two": 2}', 'two', 'pit')).key;
:snap

-- every recorded answer again, from the history: only error messages may
-- differ (a flag that does not exist now "did not exist ... at version N")
SELECT count(*) AS compared, count(DISTINCT l.version) AS versions,
       count(DISTINCT (l.d).reason) AS reasons,
       count(DISTINCT (l.d).variant) AS variants,
       count(*) FILTER (WHERE (l.d).value IS NOT DISTINCT FROM (a).value
                          AND (l.d).variant IS NOT DISTINCT FROM (a).variant
                          AND (l.d).reason = (a).reason
                          AND (l.d).error_code IS NOT DISTINCT FROM (a).error_code
                          AND (l.d).flag_metadata = (a).flag_metadata) AS equal
  FROM live AS l
  JOIN ctxs AS c USING (name)
  CROSS JOIN LATERAL ff.evaluate_at_version('checkout', c.ctx, l.version, '"none"', 'pit') AS a;
-- the differences, if any (none expected)
SELECT l.version, l.name, l.d AS live, a AS at_version
  FROM live AS l
  JOIN ctxs AS c USING (name)
  CROSS JOIN LATERAL ff.evaluate_at_version('checkout', c.ctx, l.version, '"none"', 'pit') AS a
 WHERE (l.d).value IS DISTINCT FROM (a).value OR (l.d).variant IS DISTINCT FROM (a).variant
    OR (l.d).reason <> (a).reason OR (l.d).error_code IS DISTINCT FROM (a).error_code
    OR (l.d).flag_metadata <> (a).flag_metadata
 ORDER BY 1, 2;

-- the answers themselves, for a few contexts, version by version
SELECT v.version, v.entity, v.entity_key, v.summary,
       string_agg(c.name || ': ' || coalesce(a.variant, a.reason || coalesce('/' || a.error_code, '')), ', '
                  ORDER BY c.name) AS answers
  FROM (SELECT DISTINCT version FROM live) AS s
  JOIN ff.history AS v ON v.version = s.version
  CROSS JOIN ctxs AS c
  CROSS JOIN LATERAL ff.evaluate_at_version('checkout', c.ctx, s.version, NULL, 'pit') AS a
 WHERE c.name IN ('u1', 'u2', 'u5 beta', 'u6 vip', 'k1', 'no key')
 GROUP BY 1, 2, 3, 4
 ORDER BY 1;
-- the metadata as of a version: the environment's then, overlaid by the flag's (nulls dropped)
SELECT l.version, (ff.evaluate_at_version('checkout', '{}', l.version, NULL, 'pit')).flag_metadata
  FROM (SELECT DISTINCT version FROM live) AS l
 ORDER BY 1 LIMIT 1;
SELECT (ff.evaluate_at_version('checkout', '{}', v.version, NULL, 'pit')).flag_metadata
  FROM ff.versions AS v
 WHERE v.entity = 'environment' AND v.environment = 'pit' AND v.operation = 'UPDATE';
-- a key's membership as of each version (true: excluded, false: included, NULL: neither)
SELECT v.version, ff._history_key_at('pit', 'beta', 'u1', v.version) AS u1,
       ff._history_key_at('pit', 'beta', 'u2', v.version) AS u2,
       ff._history_key_at('pit', 'beta', 'u5', v.version) AS u5
  FROM ff.versions AS v
 WHERE v.environment = 'pit' AND v.entity = 'segment' AND v.entity_key = 'beta'
 ORDER BY 1;

-- ---- ff.evaluate_at: the version at a time, and $flagd.timestamp = that time
-- the versions of one transaction share its start time: the last of them is the version then
SELECT count(*) AS compared,
       count(*) FILTER (WHERE ff.version_at(v.changed_at) =
                              (SELECT max(w.version) FROM ff.versions AS w
                                WHERE w.change_set = v.change_set)) AS version_at_own_time,
       count(*) FILTER (WHERE ff.version_at(v.changed_at - interval '1 microsecond') =
                              v.change_set - 1) AS version_just_before
  FROM ff.versions AS v;
SELECT count(*) AS compared,
       count(*) FILTER (WHERE a IS NOT DISTINCT FROM b) AS equal
  FROM (SELECT DISTINCT version FROM live) AS l
  JOIN ff.versions AS v USING (version)
  CROSS JOIN ctxs AS c
  CROSS JOIN LATERAL ff.evaluate_at('checkout', c.ctx, v.changed_at, '"none"', 'pit') AS a
  CROSS JOIN LATERAL ff.evaluate_at_version('checkout', c.ctx, v.version, '"none"', 'pit') AS b
 WHERE (a).error_code IS DISTINCT FROM 'FLAG_NOT_FOUND';
SELECT (ff.create_flag('clock', '{"past": "p", "future": "f"}', 'past', 'pit',
        '{"if": [{">=": [{"var": "$flagd.timestamp"}, 1893456000]}, "future", "past"]}')).key;
SELECT (ff.evaluate_at('clock', '{}', '2031-01-01', NULL, 'pit')).variant AS in_2031,
       (ff.evaluate_at('clock', '{}', '2029-12-31 23:59:59', NULL, 'pit')).variant AS before_2030,
       (ff.evaluate_at('clock', '{}', '2030-01-01 00:00:00', NULL, 'pit')).variant AS at_2030,
       (ff.evaluate_at('clock', '{}', now(), NULL, 'pit')).variant AS now,
       (ff.evaluate_at_version('clock', '{}', ff.current_version(), NULL, 'pit')).variant AS at_version_now;
-- ff.environment applies as to ff.evaluate
SET ff.environment = 'pit';
SELECT (ff.evaluate_at('clock', '{}', '2031-01-01')).variant;
RESET ff.environment;
SELECT ff.version_at('-infinity') AS before_all, ff.version_at('infinity') = ff.current_version() AS at_end;
SELECT (ff.evaluate_at('checkout', '{}', '-infinity', NULL, 'pit')).error_message;

-- ---- the environment the installation creates has no recorded creation
SELECT (ff.create_flag('dev-flag')).environment;
SELECT ff.current_version() AS dev_v \gset
SELECT reason, variant, error_message FROM ff.evaluate_at_version('dev-flag', '{}', :dev_v);
SELECT reason, error_message FROM ff.evaluate_at_version('dev-flag', '{}', 0);
SELECT reason, error_message FROM ff.evaluate_at_version('dev-flag', '{}', :dev_v - 1);
-- changed now for the first time: as of dev_v it is the change's before image
UPDATE ff.environments SET metadata = '{"region": "eu"}' WHERE name = 'development';
SELECT reason, variant, flag_metadata FROM ff.evaluate_at_version('dev-flag', '{}', :dev_v);
SELECT reason, variant, flag_metadata FROM ff.evaluate_at_version('dev-flag', '{}', ff.current_version());

-- ---- not found, bad arguments
SELECT reason, error_code, error_message FROM ff.evaluate_at_version('nope', '{}', :dev_v, NULL, 'pit');
SELECT reason, error_code, error_message FROM ff.evaluate_at_version('checkout', '{}', :dev_v, NULL, 'staging');
SELECT reason, error_code, error_message FROM ff.evaluate_at_version(NULL, '{}', :dev_v, NULL, 'pit');
SELECT reason, value FROM ff.evaluate_at_version('checkout', NULL, :dev_v, '3', 'pit');
SELECT ff.evaluate_at_version('checkout', '{}', NULL, NULL, 'pit');
SELECT ff.evaluate_at_version('checkout', '{}', -1, NULL, 'pit');
SELECT ff.evaluate_at_version('checkout', '{}', ff.current_version() + 1, NULL, 'pit');
SELECT ff.evaluate_at('checkout', '{}', NULL, NULL, 'pit');
SELECT ff.version_at(NULL);

-- ---- privileges: not PUBLIC's; the editor recipe grants them
CREATE ROLE regress_ff_pit;
SET ROLE regress_ff_pit;
SELECT ff.evaluate_at_version('checkout', '{}', 1, NULL, 'pit');
SELECT ff.version_at(now());
RESET ROLE;
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_pit');
SET ROLE regress_ff_pit;
SELECT (ff.evaluate_at_version('clock', '{}', ff.current_version(), NULL, 'pit')).variant;
SELECT (ff.evaluate_at('clock', '{}', '2031-01-01', NULL, 'pit')).variant;
RESET ROLE;
DROP OWNED BY regress_ff_pit;
DROP ROLE regress_ff_pit;

SELECT ok, detail FROM ff.verify_history();
