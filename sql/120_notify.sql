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

-- ---- the WHEN condition of ff_90_notify is planned once per backend (with
-- the CHECK of ff.versions): a trigger of ff.versions replaced, or another
-- one added before it, applies to the very next change of the session
LISTEN ff_changes;
\o results/120_notify.when
UPDATE ff.flags SET description = 'when-1' WHERE key = 'alpha';
BEGIN;
DROP TRIGGER ff_90_notify ON ff.versions;
CREATE CONSTRAINT TRIGGER ff_90_notify AFTER INSERT ON ff.versions DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.version = NEW.change_set AND NEW.comment IS DISTINCT FROM 'quiet')
    EXECUTE FUNCTION ff._history_notify();
CREATE TRIGGER ff_00_regress_when AFTER INSERT ON ff.versions
    FOR EACH ROW WHEN (NEW.version < 0) EXECUTE FUNCTION ff._history_notify();
COMMIT;
BEGIN;
SELECT ff.comment_change('quiet') IS NOT NULL AS commented;
UPDATE ff.flags SET description = 'when-2' WHERE key = 'alpha';
COMMIT;
UPDATE ff.flags SET description = 'when-3' WHERE key = 'alpha';
BEGIN;
DROP TRIGGER ff_00_regress_when ON ff.versions;
DROP TRIGGER ff_90_notify ON ff.versions;
CREATE CONSTRAINT TRIGGER ff_90_notify AFTER INSERT ON ff.versions DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.version = NEW.change_set) EXECUTE FUNCTION ff._history_notify();
COMMIT;
BEGIN;
SELECT ff.comment_change('quiet') IS NOT NULL AS commented;
UPDATE ff.flags SET description = 'when-4' WHERE key = 'alpha';
COMMIT;
\o
-- when-1, when-3 and when-4 notify; when-2 (comment 'quiet') does not
\! sed -E 's/PID [0-9]+/PID <pid>/' results/120_notify.when
SELECT version - :big_version AS after_big, entity_key, after ->> 'description' AS description, comment
  FROM ff.versions WHERE after ->> 'description' LIKE 'when-%' ORDER BY version;
UNLISTEN *;

-- ---- ff.notify_channel must be a channel name NOTIFY accepts: a name too
-- long is refused when it is set (not at the commit of every later change),
-- and the setting in force is unchanged
SHOW ff.notify_channel;
SET ff.notify_channel = 'a-channel-name-longer-than-sixty-three-bytes-is-not-a-valid-name';
SET ff.notify_channel = 'a-channel-name-of-exactly-sixty-three-bytes-is-a-valid-one-okay';
SHOW ff.notify_channel;
SELECT octet_length(current_setting('ff.notify_channel')) AS bytes;
-- and a change commits, notifying on it
LISTEN "a-channel-name-of-exactly-sixty-three-bytes-is-a-valid-one-okay";
\o results/120_notify.long
UPDATE ff.flags SET description = 'long-channel' WHERE key = 'alpha';
\o
\! sed -E 's/PID [0-9]+/PID <pid>/' results/120_notify.long
UNLISTEN *;
RESET ff.notify_channel;
-- an empty setting means the default channel
LISTEN ff_changes;
\o results/120_notify.empty
SET ff.notify_channel = '';
UPDATE ff.flags SET description = 'empty-channel' WHERE key = 'alpha';
RESET ff.notify_channel;
\o
\! sed -E 's/PID [0-9]+/PID <pid>/' results/120_notify.empty
UNLISTEN *;

-- ---- PREPARE TRANSACTION of a configuration change (pg_regress's
-- instance allows prepared transactions): a NOTICE says that no
-- notification will be sent for the change-set; while it is prepared,
-- nothing is visible; ROLLBACK PREPARED records nothing
-- (test/t/070_writer_lock.pl covers COMMIT PREPARED, the lock and a restart)
SELECT ff.current_version() AS before_prepare \gset
BEGIN;
UPDATE ff.flags SET description = 'prepared' WHERE key = 'alpha';
PREPARE TRANSACTION 'ff_regress';
SELECT gid FROM pg_prepared_xacts;
SELECT ff.current_version() = :before_prepare AS nothing_visible,
       (SELECT description FROM ff.flags WHERE key = 'alpha') AS description;
ROLLBACK PREPARED 'ff_regress';
SELECT ff.current_version() = :before_prepare AS nothing_recorded,
       (SELECT count(*) FROM ff.writer_lock) AS lock_holders;
