-- Segment key lists kept across configuration changes (1.20 library): a
-- list of at least 1,024 keys stays loaded in the backend until a key list
-- changes, and every answer stays that of the table.  A segment that is
-- most of ff.segment_keys is read with a sequential scan, the others
-- through the primary key: both must give the same sets, excluded and long
-- keys included.
SET client_min_messages = warning;
INSERT INTO ff.environments (name) VALUES ('kept'), ('kept_other');
SET ff.environment = 'kept';
SELECT name FROM ff.create_segment('big');
SELECT name FROM ff.create_segment('mid');
SELECT name FROM ff.create_segment('small');
SELECT name FROM ff.create_segment('big', environment => 'kept_other');
-- big: 30,000 keys, most of the table: every 7th excluded, every 100th longer than 16 bytes
INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
SELECT 'kept', 'big', CASE WHEN i % 100 = 0 THEN 'a-rather-long-targeting-key-' || i ELSE 'b' || i END, i % 7 = 0
  FROM generate_series(1, 30000) AS i;
-- mid: 2,000 keys (through the primary key), small: 10 (not kept)
INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
SELECT 'kept', 'mid', CASE WHEN i % 100 = 0 THEN 'a-rather-long-targeting-key-' || i ELSE 'b' || i END, i % 7 = 0
  FROM generate_series(1, 2000) AS i;
INSERT INTO ff.segment_keys (environment, segment, targeting_key)
SELECT 'kept', 'small', 'b' || i FROM generate_series(1, 10) AS i;
-- the same segment name in another environment, with other keys
INSERT INTO ff.segment_keys (environment, segment, targeting_key)
SELECT 'kept_other', 'big', 'other' || i FROM generate_series(1, 3000) AS i;
SELECT key FROM ff.create_flag('f-big', '{"on": true, "off": false}', 'off',
    targeting => '{"if": [{"in_segment": "big"}, "on", "off"]}');
SELECT key FROM ff.create_flag('f-mid', '{"on": true, "off": false}', 'off',
    targeting => '{"if": [{"in_segment": "mid"}, "on", "off"]}');
SELECT key FROM ff.create_flag('f-small', '{"on": true, "off": false}', 'off',
    targeting => '{"if": [{"in_segment": "small"}, "on", "off"]}');
SELECT key FROM ff.create_flag('unrelated', '{"a": "a", "b": "b"}', 'a');

-- every candidate key's answer against the table: members, excluded,
-- absent, long, and the other environment's keys
CREATE TEMP TABLE kept_candidates AS
SELECT k FROM (
    SELECT 'b' || i AS k FROM generate_series(1, 30010) AS i
    UNION ALL SELECT 'a-rather-long-targeting-key-' || i FROM generate_series(100, 30000, 100) AS i
    UNION ALL SELECT 'other' || i FROM generate_series(1, 20) AS i
    UNION ALL SELECT 'zz-new') AS c;
CREATE FUNCTION pg_temp.kept_check()
RETURNS TABLE (segment text, members bigint, mismatches bigint)
LANGUAGE sql AS $$
    SELECT s.seg,
           count(*) FILTER (WHERE ff.get_bool('f-' || s.seg, jsonb_build_object('targetingKey', c.k), NULL)),
           count(*) FILTER (WHERE ff.get_bool('f-' || s.seg, jsonb_build_object('targetingKey', c.k), NULL)
                            IS DISTINCT FROM EXISTS (
                                SELECT 1 FROM ff.segment_keys AS t
                                 WHERE t.environment = 'kept' AND t.segment = s.seg
                                   AND t.targeting_key = c.k AND NOT t.excluded))
      FROM unnest(ARRAY['big', 'mid', 'small']) AS s(seg), kept_candidates AS c
     GROUP BY s.seg ORDER BY s.seg
$$;
-- what the backend read and kept, relative to the start
SELECT segment_loads AS loads0 FROM ff.cache_info() \gset
CREATE FUNCTION pg_temp.kept_state(loads0 bigint)
RETURNS TABLE (loads bigint, kept_segments int, kept_segment_keys bigint)
LANGUAGE sql AS $$
    SELECT segment_loads - loads0, kept_segments, kept_segment_keys FROM ff.cache_info()
$$;

-- first use: the three lists are read; big and mid (25,715 + 1,715 included
-- or excluded keys: 30,000 and 2,000 rows) are kept
SELECT * FROM pg_temp.kept_check();
SELECT * FROM pg_temp.kept_state(:loads0);

-- a change of a flag: big and mid are not read again, small is
SELECT key FROM ff.set_default_variant('unrelated', 'b');
SELECT * FROM pg_temp.kept_check();
SELECT * FROM pg_temp.kept_state(:loads0);

-- a change of another segment's rule, and of an environment: the same
SELECT name FROM ff.set_segment_rule('small', '{"==": [{"var": "plan"}, "gold"]}');
UPDATE ff.environments SET description = 'kept lists' WHERE name = 'kept';
SELECT * FROM pg_temp.kept_check();
SELECT * FROM pg_temp.kept_state(:loads0);

-- a key added: every list is read again, with the new key
SELECT ff.add_segment_keys('big', ARRAY['zz-new']);
SELECT * FROM pg_temp.kept_check();
SELECT * FROM pg_temp.kept_state(:loads0);

-- a key change rolled back: seen inside the transaction, gone after it
BEGIN;
SELECT ff.remove_segment_keys('big', ARRAY['b1', 'b2']);
UPDATE ff.segment_keys SET excluded = true WHERE environment = 'kept' AND segment = 'mid' AND targeting_key = 'b3';
SELECT * FROM pg_temp.kept_check();
ROLLBACK;
SELECT * FROM pg_temp.kept_check();

-- the same in a subtransaction rolled back, and a key change after a
-- flag change in one transaction that commits
BEGIN;
SELECT * FROM pg_temp.kept_check();
SAVEPOINT s;
DELETE FROM ff.segment_keys WHERE environment = 'kept' AND segment = 'mid' AND targeting_key IN ('b4', 'b5');
SELECT * FROM pg_temp.kept_check();
ROLLBACK TO SAVEPOINT s;
SELECT * FROM pg_temp.kept_check();
SELECT key FROM ff.set_default_variant('unrelated', 'a');
SELECT ff.add_segment_keys('mid', ARRAY['zz-new']);
SELECT * FROM pg_temp.kept_check();
COMMIT;
SELECT * FROM pg_temp.kept_check();
-- kept again once read after the commit
SELECT kept_segments, kept_segment_keys FROM pg_temp.kept_state(:loads0);

-- a whole segment deleted (its keys go with it): its list is not kept
SELECT ff.delete_flag('f-mid');
SELECT ff.delete_segment('mid');
SELECT count(*) FILTER (WHERE ff.get_bool('f-big', jsonb_build_object('targetingKey', k), NULL)) AS big_members
  FROM kept_candidates;
SELECT kept_segments, kept_segment_keys FROM pg_temp.kept_state(:loads0);

-- rows written while the table's triggers were disabled signal nothing:
-- a kept list is not used once a trigger of ff.segment_keys changed since
-- it was read, even when another change made the cache invalid first and
-- the table's own invalidation went unnoticed (helper 58)
SELECT ff.get_bool('f-big', '{"targetingKey": "ghost"}', NULL) AS ghost_before;
BEGIN;
SELECT key FROM ff.set_default_variant('unrelated', 'b');
ALTER TABLE ff.segment_keys DISABLE TRIGGER ALL;
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('kept', 'big', 'ghost');
ALTER TABLE ff.segment_keys ENABLE TRIGGER ALL;
COMMIT;
SELECT ff.get_bool('f-big', '{"targetingKey": "ghost"}', NULL) AS ghost_after;
-- (the history does not have the ghost: remove it the same way)
ALTER TABLE ff.segment_keys DISABLE TRIGGER ALL;
DELETE FROM ff.segment_keys WHERE environment = 'kept' AND targeting_key = 'ghost';
ALTER TABLE ff.segment_keys ENABLE TRIGGER ALL;
SELECT ff.get_bool('f-big', '{"targetingKey": "ghost"}', NULL) AS ghost_removed;

-- a list read by a transaction that wrote the table with its triggers
-- disabled holds its uncommitted rows: it is not kept
BEGIN;
ALTER TABLE ff.segment_keys DISABLE TRIGGER ALL;
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('kept', 'big', 'phantom');
ALTER TABLE ff.segment_keys ENABLE TRIGGER ALL;
SELECT ff.get_bool('f-big', '{"targetingKey": "phantom"}', NULL) AS phantom_inside;
ROLLBACK;
SELECT ff.get_bool('f-big', '{"targetingKey": "phantom"}', NULL) AS phantom_after_rollback;
SELECT key FROM ff.set_default_variant('unrelated', 'a');
SELECT ff.get_bool('f-big', '{"targetingKey": "phantom"}', NULL) AS phantom_after_change;
SELECT kept_segments, kept_segment_keys FROM pg_temp.kept_state(:loads0);

-- (1.24 library) a kept list that 16 generations in a row did not use (a
-- segment no flag uses any more, an environment the session left) is
-- freed; before, it stayed until the next key-list write
SELECT ff.get_bool('f-big', '{"targetingKey": "phantom"}', NULL) AS big_used;
SELECT kept_segments FROM pg_temp.kept_state(:loads0);
\o /dev/null
SELECT format('SELECT ff.set_default_variant(%L, %L); SELECT ff.get_string(%L, %L, NULL);',
              'unrelated', CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 'unrelated', '{}')
  FROM generate_series(1, 16) AS i \gexec
\o
SELECT kept_segments AS kept_after_16 FROM pg_temp.kept_state(:loads0);
\o /dev/null
SELECT ff.set_default_variant('unrelated', 'b');
SELECT ff.get_string('unrelated', '{}', NULL);
\o
SELECT kept_segments AS kept_after_17 FROM pg_temp.kept_state(:loads0);
SELECT ff.get_bool('f-big', '{"targetingKey": "phantom"}', NULL) AS big_used_again;
SELECT kept_segments AS kept_again FROM pg_temp.kept_state(:loads0);
SELECT ok FROM ff.verify_history();
