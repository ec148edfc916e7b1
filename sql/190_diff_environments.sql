--
-- 190_diff_environments: ff.diff_environments (1.18), what differs between
-- two environments, read as what ff.copy_environment(from, to, overwrite =>
-- true) would change.  The copy itself checks the claim: after it, only the
-- rows the copy keeps are left, and the history records the diffs listed.
--
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
CREATE EXTENSION feature_flags;
RESET client_min_messages;

SELECT name FROM ff.create_environment('staging', metadata => '{"team": "web", "region": "eu"}');
SELECT name FROM ff.create_environment('production', metadata => '{"team": "web"}');

-- the same in both: never listed
SELECT key FROM ff.create_flag('same', environment => 'staging', description => 'identical');
SELECT key FROM ff.create_flag('same', environment => 'production', description => 'identical');
SELECT name FROM ff.create_segment('staff', rule => '{"ends_with": [{"var": "email"}, "@example.com"]}', environment => 'staging');
SELECT name FROM ff.create_segment('staff', rule => '{"ends_with": [{"var": "email"}, "@example.com"]}', environment => 'production');
SELECT ff.add_segment_keys('staff', ARRAY['u1', 'u2'], environment => 'staging');
SELECT ff.add_segment_keys('staff', ARRAY['u1', 'u2'], environment => 'production');

-- only in staging: missing in production
SELECT key FROM ff.create_flag('new-search', environment => 'staging', tags => '{search}');
SELECT name FROM ff.create_segment('beta', environment => 'staging');
SELECT ff.add_segment_keys('beta', ARRAY['b1', 'b2', 'b3'], environment => 'staging');
SELECT ff.add_segment_keys('beta', ARRAY['b4'], excluded => true, environment => 'staging');

-- only in production: extra (a copy keeps it)
SELECT key FROM ff.create_flag('legacy', environment => 'production');

-- in both, different: fields, targeting, key lists
SELECT key FROM ff.create_flag('checkout', '{"on": true, "off": false}', 'on', environment => 'staging',
                               targeting => '{"if": [{"in_segment": "staff"}, "on", "off"]}', owner => 'web');
SELECT key FROM ff.create_flag('checkout', '{"on": true, "off": false}', 'off', environment => 'production',
                               owner => 'web');
SELECT name FROM ff.create_segment('vip', rule => '{"==": [{"var": "plan"}, "gold"]}', environment => 'staging');
SELECT name FROM ff.create_segment('vip', rule => '{"==": [{"var": "plan"}, "pro"]}', environment => 'production');
SELECT ff.add_segment_keys('vip', ARRAY['k1', 'k2', 'k3'], environment => 'staging');
SELECT ff.add_segment_keys('vip', ARRAY['k3'], excluded => true, environment => 'production');
SELECT ff.add_segment_keys('vip', ARRAY['k4', 'k5'], environment => 'production');
-- keys alone differ
SELECT name FROM ff.create_segment('keys-only', environment => 'staging');
SELECT name FROM ff.create_segment('keys-only', environment => 'production');
SELECT ff.add_segment_keys('keys-only', ARRAY['x'], environment => 'staging');

SELECT entity, name, difference, summary, diff
  FROM ff.diff_environments('staging', 'production');

-- the other way round: missing and extra swap, old and new swap
SELECT entity, name, difference, summary
  FROM ff.diff_environments('production', 'staging');

-- an environment compared with itself: nothing
SELECT count(*) AS self_differences FROM ff.diff_environments('staging', 'staging');

-- a copy without overwrite points at the comparison
SELECT ff.copy_environment('staging', 'production');

-- the copy with overwrite records, per changed flag and segment, the diff listed before it
CREATE TEMP TABLE before_copy AS SELECT * FROM ff.diff_environments('staging', 'production');
SELECT ff.current_version() AS v0 \gset
SELECT ff.copy_environment('staging', 'production', overwrite => true) AS copied;
SELECT b.entity, b.name, b.difference,
       (SELECT string_agg(h.operation, ',' ORDER BY h.version) FROM ff.history AS h
         WHERE h.version > :v0 AND h.environment = 'production' AND h.entity = b.entity
           AND h.entity_key = b.name) AS recorded,
       CASE WHEN b.difference = 'changed' AND b.diff - 'keys' <> '{}'
            THEN (SELECT h.diff FROM ff.history AS h
                   WHERE h.version > :v0 AND h.environment = 'production' AND h.entity = b.entity
                     AND h.entity_key = b.name AND h.operation = 'UPDATE') = b.diff - 'keys'
       END AS same_diff,
       -- a missing one is created with the values listed
       CASE WHEN b.difference = 'missing'
            THEN NOT EXISTS (SELECT 1 FROM ff.history AS h, jsonb_each(b.diff - 'keys') AS d
                              WHERE h.version > :v0 AND h.environment = 'production'
                                AND h.entity = b.entity AND h.entity_key = b.name
                                AND h.operation = 'INSERT'
                                AND h.diff -> d.key -> 'new' IS DISTINCT FROM d.value -> 'new')
       END AS created_as_listed
  FROM before_copy AS b
 ORDER BY b.entity, b.name;
-- after it: what the copy keeps (a flag only production has, its own metadata)
SELECT entity, name, difference, summary FROM ff.diff_environments('staging', 'production');
SELECT count(*) AS key_differences
  FROM ff.diff_environments('staging', 'production') WHERE diff ? 'keys';

-- NULL and unknown environments
SELECT * FROM ff.diff_environments(NULL, 'production');
SELECT * FROM ff.diff_environments('staging', NULL);
SELECT * FROM ff.diff_environments('stagng', 'production');
SELECT * FROM ff.diff_environments('staging', 'nowhere');

-- the editor recipe grants it; it reads with the caller's rights
SELECT count(*) AS in_editor_recipe
  FROM ff.privilege_recipe('editor', 'somebody') AS s WHERE s LIKE '%ff.diff_environments(text,text)%';
CREATE ROLE ff_diff_reader;
SELECT count(*) > 0 AS granted FROM ff.grant_reader('ff_diff_reader');
SET ROLE ff_diff_reader;
SELECT * FROM ff.diff_environments('staging', 'production');
RESET ROLE;
SELECT count(*) > 0 AS revoked FROM ff.revoke_reader('ff_diff_reader');
DROP ROLE ff_diff_reader;

-- (1.24) a copy that clashes on many names lists the first ten and counts
-- the others (1.23 listed every one)
SELECT (ff.create_environment('many-a')).name, (ff.create_environment('many-b')).name;
INSERT INTO ff.flags (environment, key, variants, default_variant)
SELECT e, 'clash-' || lpad(i::text, 2, '0'), '{"on": true, "off": false}', 'off'
  FROM unnest(ARRAY['many-a', 'many-b']) AS e, generate_series(1, 12) AS i;
SELECT ff.copy_environment('many-a', 'many-b');
-- (1.24) equal environments: nothing to list (the diff of equal images is
-- not computed)
SELECT count(*) AS differences FROM ff.diff_environments('many-a', 'many-b');
