--
-- 120_notify: one NOTIFY per committing transaction, at commit, with a small
-- JSON payload; none on rollback; truncated (and marked so) before 8000 bytes.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_flags;
INSERT INTO ff.environments (name) VALUES ('nt-a'), ('nt-b');

-- psql prints received notifications with the sender's PID: capture them
-- in a file and print them with the PID masked
LISTEN ff_changes;
\o results/120_notify.notifications
-- one statement, one transaction
INSERT INTO ff.flags (environment, key, flag_type, variants)
VALUES ('nt-a', 'alpha', 'boolean', '{"on": true}');
-- several statements and environments, one transaction: one notification
BEGIN;
INSERT INTO ff.flags (environment, key, flag_type, variants)
VALUES ('nt-a', 'beta', 'boolean', '{"on": true}'), ('nt-b', 'beta', 'boolean', '{"on": true}');
INSERT INTO ff.segments (environment, name) VALUES ('nt-b', 'vip');
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('nt-b', 'vip', 'u1');
COMMIT;
-- rolled back: no notification
BEGIN;
UPDATE ff.flags SET state = 'DISABLED';
ROLLBACK;
-- a rolled-back subtransaction leaks nothing into the payload
BEGIN;
SAVEPOINT s;
UPDATE ff.flags SET state = 'DISABLED' WHERE key = 'alpha';
ROLLBACK TO SAVEPOINT s;
UPDATE ff.flags SET description = 'b' WHERE key = 'beta' AND environment = 'nt-b';
COMMIT;
-- a transaction that writes nothing sends nothing
BEGIN;
UPDATE ff.flags SET state = state;
COMMIT;
-- the channel is ff.notify_channel
SET ff.notify_channel = 'nt_other';
UPDATE ff.flags SET description = 'elsewhere' WHERE key = 'alpha';
RESET ff.notify_channel;
LISTEN nt_other;
SET ff.notify_channel = 'nt_other';
UPDATE ff.flags SET description = 'here' WHERE key = 'alpha';
RESET ff.notify_channel;
UNLISTEN nt_other;
-- one-version change-sets of a segment and of an environment
UPDATE ff.segments SET description = 'single' WHERE name = 'vip';
UPDATE ff.environments SET description = 'single' WHERE name = 'nt-b';
\o
\! sed -E 's/PID [0-9]+/PID <pid>/' results/120_notify.notifications
SELECT version, change_set, environment, entity_key, operation FROM ff.versions ORDER BY version;

-- ---- a change-set too large for one payload (pg_notify would fail the
-- COMMIT if the payload reached 8000 bytes)
UNLISTEN *;
BEGIN;
INSERT INTO ff.flags (environment, key, flag_type, variants)
SELECT 'nt-a', 'a-rather-long-flag-key-for-the-payload-test-' || lpad(i::text, 4, '0'),
       'boolean', '{"on": true}'
  FROM generate_series(1, 400) AS i;
SELECT ff.current_version() AS big_version, min(change_set) AS big_cs
  FROM ff.versions WHERE version = ff.current_version() \gset
COMMIT;
SELECT octet_length(p) AS bytes, octet_length(p) < 8000 AS fits,
       (p::jsonb) -> 'truncated' AS truncated,
       (p::jsonb) -> 'changes' AS changes,
       (p::jsonb) -> 'version' = to_jsonb(:big_version) AS version_ok,
       jsonb_array_length((p::jsonb) -> 'flags') AS listed,
       (p::jsonb) -> 'flags' -> 0 AS first_listed,
       (p::jsonb) -> 'environments' AS environments
  FROM ff._history_notify_payload(:big_cs) AS p;
SELECT count(*) AS committed FROM ff.versions WHERE change_set = :big_cs;
-- many short keys: the separators count too
BEGIN;
INSERT INTO ff.flags (environment, key, flag_type, variants)
SELECT 'nt-b', 'k' || i, 'boolean', '{"on": true}' FROM generate_series(1, 3000) AS i;
SELECT min(change_set) AS short_cs FROM ff.versions WHERE version = ff.current_version() \gset
COMMIT;
SELECT octet_length(p) < 8000 AS fits, (p::jsonb) -> 'truncated' AS truncated,
       (p::jsonb) -> 'changes' AS changes
  FROM ff._history_notify_payload(:short_cs) AS p;
SELECT (ff._history_notify_payload(1)::jsonb) -> 'truncated' AS small_truncated;
