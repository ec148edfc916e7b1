--
-- 100_history: every write path appends exactly one version per changed
-- entity, with full images, who/when/why, gap-free numbering, change-sets,
-- an append-only table and a verifiable hash chain.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_flags;
-- rows written by the install script are the baseline, not history
SELECT ff.current_version();

-- a compact view of the history without volatile columns
CREATE TEMP VIEW h AS
SELECT version, change_set, entity, environment, entity_key, operation, summary, comment
  FROM ff.history
 WHERE environment LIKE 'hist-%';

-- ---- raw DML on every table
INSERT INTO ff.environments (name, description) VALUES ('hist-a', 'history tests');
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
VALUES ('hist-a', 'checkout', 'boolean', '{"on": true, "off": false}', 'on'),
       ('hist-a', 'banner', 'string', '{"red": "r", "blue": "b"}', 'red');
UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'hist-a' AND key = 'checkout';
-- an UPDATE that changes nothing records nothing
UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'hist-a' AND key = 'checkout';
BEGIN;
SET LOCAL ff.change_comment = 'blue is the new red';
UPDATE ff.flags SET default_variant = 'blue', description = 'site banner'
 WHERE environment = 'hist-a' AND key = 'banner';
COMMIT;
-- INSERT ... ON CONFLICT: DO UPDATE records the update, DO NOTHING nothing
INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
VALUES ('hist-a', 'checkout', 'boolean', '{"on": true, "off": false}', 'off')
ON CONFLICT (environment, key) DO UPDATE SET default_variant = EXCLUDED.default_variant;
INSERT INTO ff.flags (environment, key, flag_type, variants)
VALUES ('hist-a', 'checkout', 'boolean', '{"on": true}')
ON CONFLICT DO NOTHING;
-- renaming a key ends the old flag's history and starts the new one's
UPDATE ff.flags SET key = 'checkout-v2' WHERE environment = 'hist-a' AND key = 'checkout';
DELETE FROM ff.flags WHERE environment = 'hist-a' AND key = 'banner';
INSERT INTO ff.segments (environment, name, rule, description)
VALUES ('hist-a', 'beta-testers', NULL, 'people who asked');
UPDATE ff.segments SET description = 'people who asked nicely' WHERE environment = 'hist-a';
UPDATE ff.environments SET metadata = '{"team": "web"}' WHERE name = 'hist-a';
SELECT * FROM h;

-- full images: the after image is the stored row (timestamps in UTC)
SELECT version, before ->> 'state' AS before_state, after ->> 'state' AS after_state,
       (after ->> 'version')::bigint = version AS stamped
  FROM ff.versions WHERE entity = 'flag' AND entity_key = 'checkout' ORDER BY version;
SET TimeZone = 'UTC';
SELECT f.key, v.version, v.after = to_jsonb(f) AS image_is_row,
       f.updated_at = v.changed_at AS updated_at_stamped
  FROM ff.flags AS f JOIN ff.versions AS v ON v.version = f.version
 WHERE f.environment = 'hist-a';
RESET TimeZone;
SELECT version, before - 'created_at' - 'updated_at' AS before, after
  FROM ff.versions WHERE entity = 'flag' AND entity_key = 'banner' AND operation = 'DELETE';
SELECT version, diff, summary FROM ff.history WHERE version = 5;

-- ---- segment key lists: one version per statement and segment, as a delta
INSERT INTO ff.segments (environment, name) VALUES ('hist-a', 'staff');
INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
SELECT 'hist-a', 'beta-testers', 'user-' || i, i % 5 = 0 FROM generate_series(1, 10) AS i
UNION ALL
SELECT 'hist-a', 'staff', 'emp-' || i, false FROM generate_series(1, 3) AS i;
UPDATE ff.segment_keys SET excluded = NOT excluded
 WHERE environment = 'hist-a' AND targeting_key IN ('user-1', 'user-5');
-- an UPDATE that moves a key between segments changes both lists
UPDATE ff.segment_keys SET segment = 'staff' WHERE targeting_key = 'user-2';
DELETE FROM ff.segment_keys WHERE targeting_key IN ('user-3', 'user-4', 'emp-1');
-- unchanged rows are not a change
UPDATE ff.segment_keys SET excluded = excluded WHERE environment = 'hist-a';
SELECT v.version, v.change_set, v.entity_key, h.summary, v.delta,
       v.before ->> 'key_count' AS count_before, v.after ->> 'key_count' AS count_after
  FROM ff.versions AS v JOIN ff.history AS h USING (version)
 WHERE v.operation = 'KEYS' ORDER BY v.version;
-- the recorded size is the table's
SELECT k.segment, count(*) AS rows,
       (SELECT (v.after ->> 'key_count')::bigint FROM ff.versions AS v
         WHERE v.entity = 'segment' AND v.entity_key = k.segment AND v.operation = 'KEYS'
         ORDER BY v.version DESC LIMIT 1) AS recorded
  FROM ff.segment_keys AS k WHERE k.environment = 'hist-a' GROUP BY k.segment ORDER BY 1;

-- ---- TRUNCATE is recorded too
INSERT INTO ff.environments (name) VALUES ('hist-b');
INSERT INTO ff.flags (environment, key, flag_type, variants)
VALUES ('hist-b', 'one', 'number', '{"a": 1}'), ('hist-b', 'two', 'number', '{"a": 2}');
SELECT ff.current_version() AS before_truncate \gset
TRUNCATE ff.segment_keys;
BEGIN;
TRUNCATE ff.flags;
SELECT version - :before_truncate AS n, entity, environment, entity_key, operation, summary
  FROM ff.history WHERE version > :before_truncate;
ROLLBACK;
SELECT ff.current_version() - :before_truncate AS recorded_after_rollback;

-- ---- gap-free numbering and change-sets
SELECT count(*) = max(version) AND min(version) = 1 AS gap_free FROM ff.versions;
BEGIN;
SELECT ff.comment_change('three changes, one change-set');
UPDATE ff.flags SET description = 'one' WHERE environment = 'hist-b' AND key = 'one';
SAVEPOINT s;
UPDATE ff.flags SET description = 'lost' WHERE environment = 'hist-b' AND key = 'two';
ROLLBACK TO SAVEPOINT s;
UPDATE ff.flags SET description = 'two' WHERE environment = 'hist-b' AND key = 'two';
INSERT INTO ff.flags (environment, key, flag_type, variants) VALUES ('hist-b', 'three', 'number', '{"a": 3}');
COMMIT;
SELECT version - :before_truncate AS n, change_set - :before_truncate AS cs, entity_key, operation, summary, comment
  FROM ff.history WHERE version > :before_truncate;
SELECT change_set - :before_truncate AS cs, last_version - :before_truncate AS last, changes,
       changed_by = current_user AS by_me, comment, environments, entities
  FROM ff.change_sets WHERE change_set > :before_truncate;
SELECT count(*) = max(version) AND min(version) = 1 AS gap_free FROM ff.versions;
-- a rolled-back transaction leaves no trace and no gap
BEGIN;
UPDATE ff.flags SET description = 'never' WHERE environment = 'hist-b';
ROLLBACK;
SELECT count(*) = max(version) AND max(version) = ff.current_version() AS gap_free FROM ff.versions;

-- ---- who and when
CREATE ROLE regress_hist_writer;
GRANT USAGE ON SCHEMA ff TO regress_hist_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON ff.flags TO regress_hist_writer;
SET application_name = 'hist-test';
SET ROLE regress_hist_writer;
UPDATE ff.flags SET owner = 'web-team' WHERE environment = 'hist-b' AND key = 'one';
-- the writer cannot touch the history itself
SELECT count(*) FROM ff.versions;
INSERT INTO ff.versions (version) VALUES (1000);
RESET ROLE;
RESET application_name;
SELECT changed_by, session_user_name = session_user AS session_user_ok, application_name,
       changed_at <= now() AS changed_at_ok, xact_id < pg_current_xact_id() AS xact_id_ok
  FROM ff.versions WHERE version = ff.current_version();
SELECT changed_by = current_user AS changed_by_ok, changed_at <= now() AS not_future
  FROM ff.versions WHERE version = 1;

-- ---- changes_since
SELECT version, entity_key, operation FROM ff.changes_since(ff.current_version() - 2);
SELECT count(*) = ff.current_version() AS all_versions FROM ff.changes_since(0);
SELECT count(*) FROM ff.changes_since(ff.current_version());
SELECT * FROM ff.changes_since(NULL);
SELECT * FROM ff.changes_since(-1);

-- ---- a flag change in the same transaction as a schema migration
BEGIN;
CREATE TABLE hist_orders (id int PRIMARY KEY);
UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'hist-b' AND key = 'one';
COMMIT;
SELECT to_regclass('hist_orders') IS NOT NULL AS table_exists,
       (SELECT state FROM ff.flags WHERE environment = 'hist-b' AND key = 'one') AS state,
       (SELECT summary FROM ff.history ORDER BY version DESC LIMIT 1) AS last_change;
SELECT ff.current_version() AS before_migration \gset
BEGIN;
ALTER TABLE hist_orders ADD COLUMN total numeric;
UPDATE ff.flags SET state = 'ENABLED' WHERE environment = 'hist-b' AND key = 'one';
ROLLBACK;
SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = 'hist_orders'::regclass AND attname = 'total') AS total_column,
       (SELECT state FROM ff.flags WHERE environment = 'hist-b' AND key = 'one') AS state,
       ff.current_version() = :before_migration AS no_new_version;
-- a failing migration takes the flag change down with it
BEGIN;
UPDATE ff.flags SET state = 'ENABLED' WHERE environment = 'hist-b' AND key = 'one';
ALTER TABLE hist_orders ADD COLUMN id int;
COMMIT;
SELECT state, ff.current_version() = :before_migration AS no_new_version
  FROM ff.flags WHERE environment = 'hist-b' AND key = 'one';
DROP TABLE hist_orders;

-- ---- the history is append-only for every role, the owner included
UPDATE ff.versions SET comment = 'rewritten' WHERE version = 1;
DELETE FROM ff.versions WHERE version = 2;
TRUNCATE ff.versions;
TRUNCATE ff.versions CASCADE;
SET session_replication_role = replica;
UPDATE ff.versions SET comment = 'rewritten' WHERE version = 1;
DELETE FROM ff.versions;
TRUNCATE ff.versions CASCADE;
RESET session_replication_role;
SELECT count(*) = ff.current_version() AS intact FROM ff.versions;
-- rows that break the rules of a version are refused, each with the rule
-- (a tampered dump fails at the row): version 1 with one field changed
SELECT max(version) + 1 AS next_version FROM ff.versions \gset
INSERT INTO ff.versions SELECT (jsonb_populate_record(v, '{"version": 0}')).* FROM ff.versions v WHERE version = 1;
INSERT INTO ff.versions SELECT (jsonb_populate_record(v, jsonb_build_object('version', :next_version, 'change_set', :next_version + 1))).* FROM ff.versions v WHERE version = 1;
INSERT INTO ff.versions SELECT (jsonb_populate_record(v, jsonb_build_object('version', :next_version, 'entity', 'widget'))).* FROM ff.versions v WHERE version = 1;
INSERT INTO ff.versions SELECT (jsonb_populate_record(v, jsonb_build_object('version', :next_version, 'operation', 'MERGE'))).* FROM ff.versions v WHERE version = 1;
INSERT INTO ff.versions SELECT (jsonb_populate_record(v, jsonb_build_object('version', :next_version, 'operation', 'KEYS', 'entity', 'flag'))).* FROM ff.versions v WHERE version = 1;
INSERT INTO ff.versions SELECT (jsonb_populate_record(v, jsonb_build_object('version', :next_version, 'hash', upper(v.hash)))).* FROM ff.versions v WHERE version = 1;
INSERT INTO ff.versions SELECT (jsonb_populate_record(v, jsonb_build_object('version', :next_version, 'prev_hash', left(v.hash, 63)))).* FROM ff.versions v WHERE version = 1;
SELECT count(*) = ff.current_version() AS intact FROM ff.versions;
-- reading the history is not granted to PUBLIC
SELECT has_table_privilege('regress_hist_writer', 'ff.versions', 'SELECT') AS versions,
       has_table_privilege('regress_hist_writer', 'ff.history', 'SELECT') AS history,
       has_function_privilege('regress_hist_writer', 'ff.changes_since(bigint)', 'EXECUTE') AS changes_since,
       has_function_privilege('regress_hist_writer', 'ff.current_version()', 'EXECUTE') AS current_version;

-- ---- the hash chain
SELECT * FROM ff.verify_history();
-- the hash is SHA-256 over the row as jsonb text without "hash", in UTC
SET TimeZone = 'UTC';
SELECT bool_and(encode(sha256(convert_to((to_jsonb(v) - 'hash')::text, 'UTF8')), 'hex') = v.hash) AS definition_holds,
       bool_and(v.prev_hash IS NOT DISTINCT FROM (SELECT p.hash FROM ff.versions AS p WHERE p.version = v.version - 1)) AS linked
  FROM ff.versions AS v;
RESET TimeZone;
-- tampering, by a superuser who disables the guard (rolled back)
BEGIN;
ALTER TABLE ff.versions DISABLE TRIGGER ff_versions_append_only;
UPDATE ff.versions SET after = jsonb_set(after, '{state}', '"ENABLED"') WHERE version = 4;
SELECT * FROM ff.verify_history();
ROLLBACK;
BEGIN;
ALTER TABLE ff.versions DISABLE TRIGGER ff_versions_append_only;
-- re-hashing the altered row breaks the next link instead
UPDATE ff.versions SET comment = 'forged' WHERE version = 4;
UPDATE ff.versions AS v SET hash = ff._history_hash(v) WHERE version = 4;
SELECT * FROM ff.verify_history();
ROLLBACK;
BEGIN;
ALTER TABLE ff.versions DISABLE TRIGGER ff_versions_append_only;
DELETE FROM ff.versions WHERE version IN (6, 7);
SELECT * FROM ff.verify_history();
ROLLBACK;
SELECT ok, detail ~ 'chain intact' AS intact FROM ff.verify_history();

-- text that JSON must escape, in every free-text field of a version: the
-- hash (computed in C for updates and deletes) still follows the definition
BEGIN;
SET LOCAL application_name = 'app "quoted" \ x';
SELECT ff.comment_change(E'line 1\nline 2\t"tab" \\ back\\slash \u00e9 \u2713 \u0001') IS NOT NULL AS commented;
INSERT INTO ff.flags (environment, key, flag_type, variants) VALUES ('hist-b', 'esc', 'boolean', '{"on": true}');
UPDATE ff.flags SET description = E'esc "x" \\ \n \u00e9' WHERE environment = 'hist-b' AND key = 'esc';
DELETE FROM ff.flags WHERE environment = 'hist-b' AND key = 'esc';
COMMIT;
SELECT operation, comment = E'line 1\nline 2\t"tab" \\ back\\slash \u00e9 \u2713 \u0001' AS comment_kept,
       application_name, before ->> 'description' AS description
  FROM ff.versions WHERE version > ff.current_version() - 3 ORDER BY version;
SET TimeZone = 'UTC';
SELECT bool_and(encode(sha256(convert_to((to_jsonb(v) - 'hash')::text, 'UTF8')), 'hex') = v.hash) AS definition_holds
  FROM ff.versions AS v WHERE version > ff.current_version() - 3;
RESET TimeZone;
SELECT ok, detail ~ 'chain intact' AS intact FROM ff.verify_history();

-- an UPDATE that brings a row back to the image its latest version records
-- after a change made with the history trigger disabled is recorded
-- (1.18; 1.17 recorded nothing): the unrecorded change is a change that
-- ended; the next real change is recorded too
SELECT ff.current_version() AS before_drift \gset
ALTER TABLE ff.flags DISABLE TRIGGER ff_90_history;
UPDATE ff.flags SET description = 'drifted' WHERE environment = 'hist-b' AND key = 'one';
ALTER TABLE ff.flags ENABLE TRIGGER ff_90_history;
SELECT description FROM ff.flags WHERE environment = 'hist-b' AND key = 'one';
UPDATE ff.flags SET description = (SELECT after ->> 'description' FROM ff.versions
                                    WHERE entity = 'flag' AND environment = 'hist-b' AND entity_key = 'one'
                                    ORDER BY version DESC LIMIT 1)
 WHERE environment = 'hist-b' AND key = 'one';
SELECT ff.current_version() - :before_drift AS new_versions;
UPDATE ff.flags SET description = 'changed again' WHERE environment = 'hist-b' AND key = 'one';
SELECT ff.current_version() - :before_drift AS new_versions,
       (SELECT operation FROM ff.versions ORDER BY version DESC LIMIT 1) AS operation;
SELECT ok FROM ff.verify_history();

-- the row images that UPDATE and DELETE record are exactly to_jsonb() of
-- the rows, text form included (the hash covers the text): numbers keep
-- their scale, strings their escapes, arrays their dimensions and NULLs,
-- timestamps are in UTC whatever the session's time zone
SET TimeZone = 'America/New_York';
INSERT INTO ff.environments (name, metadata, allowed_roles)
VALUES ('hist-img', '{"n": 1.50, "s": "\u00e9 \" \\ \n"}', '{pg_monitor}');
INSERT INTO ff.flags (environment, key, state, flag_type, variants, default_variant,
                      metadata, description, tags)
VALUES ('hist-img', 'img', 'ENABLED', 'number', '{"a": 1.50, "b": -0.0, "c": 1e3, "d": 12345678901234567890}',
        'a', '{"k": 1.0, "x": "\u0001", "z": true}', E'tab\there "q" \u00e9',
        '{{x,NULL},{"y z",""}}');
SET TimeZone = 'UTC';
CREATE TEMP TABLE img_rows AS
SELECT 'flag' AS entity, to_jsonb(f) AS img FROM ff.flags AS f WHERE environment = 'hist-img'
UNION ALL
SELECT 'environment', to_jsonb(e) FROM ff.environments AS e WHERE name = 'hist-img';
SET TimeZone = 'America/New_York';
SELECT ff.current_version() AS before_img \gset
UPDATE ff.flags SET default_variant = 'b', description = NULL, tags = '{}'
 WHERE environment = 'hist-img' AND key = 'img';
UPDATE ff.environments SET description = 'images', allowed_roles = '{}' WHERE name = 'hist-img';
SET TimeZone = 'UTC';
INSERT INTO img_rows
SELECT 'flag-after', to_jsonb(f) FROM ff.flags AS f WHERE environment = 'hist-img'
UNION ALL
SELECT 'environment-after', to_jsonb(e) FROM ff.environments AS e WHERE name = 'hist-img';
SET TimeZone = 'America/New_York';
DELETE FROM ff.flags WHERE environment = 'hist-img';
SELECT v.version - :before_img AS version, v.entity, v.operation,
       v.before::text = (SELECT img::text FROM img_rows
                          WHERE entity = v.entity || CASE v.operation WHEN 'DELETE' THEN '-after' ELSE '' END)
         AS before_is_row,
       CASE v.operation
         WHEN 'UPDATE' THEN v.after::text = (SELECT img::text FROM img_rows WHERE entity = v.entity || '-after')
         ELSE v.after IS NULL END AS after_is_row,
       -- stored as jsonb stores them (written directly since 1.22)
       pg_column_size(v.before) = pg_column_size(v.before::text::jsonb) AS before_canonical,
       pg_column_size(v.after) IS NOT DISTINCT FROM pg_column_size(v.after::text::jsonb) AS after_canonical
  FROM ff.versions AS v WHERE v.version > :before_img ORDER BY v.version;
RESET TimeZone;
SELECT after -> 'variants' AS variants, before -> 'tags' AS tags_before
  FROM ff.versions WHERE version = :before_img + 1;

-- columns added to a config table by hand, and a dropped one, appear in the
-- images as in to_jsonb(): other types go through to_jsonb() of the value,
-- in UTC also for a type whose JSON form holds a timestamp (ts)
BEGIN;
ALTER TABLE ff.flags ADD COLUMN extra int4[], ADD COLUMN note varchar(10), ADD COLUMN gone text,
                     ADD COLUMN n numeric, ADD COLUMN d date, ADD COLUMN ts timestamptz[];
ALTER TABLE ff.flags DROP COLUMN gone;
INSERT INTO ff.flags (environment, key, state, flag_type, variants, default_variant, extra, note, n, d, ts)
VALUES ('hist-img', 'added', 'ENABLED', 'boolean', '{"on": true, "off": false}', 'on',
        '{1,NULL,3}', 'hi', 1.50, '2026-01-02', '{"2026-01-02 03:04:05+00"}');
SELECT ff.current_version() AS before_cols \gset
SET LOCAL TimeZone = 'Asia/Kolkata';
UPDATE ff.flags SET default_variant = 'off', n = 2.000 WHERE environment = 'hist-img' AND key = 'added';
SHOW TimeZone;
SET LOCAL TimeZone = 'UTC';
SELECT v.version - :before_cols AS version, v.after::text = to_jsonb(f)::text AS after_is_row,
       v.after -> 'extra' AS extra, v.after -> 'n' AS n, v.after -> 'd' AS d, v.after ? 'gone' AS has_gone,
       v.after -> 'ts' AS ts
  FROM ff.versions AS v JOIN ff.flags AS f ON f.version = v.version
 WHERE f.environment = 'hist-img' AND f.key = 'added';
SELECT ok FROM ff.verify_history();
ROLLBACK;

-- the CHECK constraints of ff.versions are built once per backend: a
-- constraint added later (here by hand, rolled back) applies to the very
-- next change of the same session, and one dropped stops applying
INSERT INTO ff.flags (environment, key, state, flag_type, variants, default_variant)
VALUES ('hist-img', 'added-check', 'ENABLED', 'boolean', '{"on": true, "off": false}', 'on');
UPDATE ff.flags SET default_variant = 'off' WHERE environment = 'hist-img' AND key = 'added-check';
BEGIN;
ALTER TABLE ff.versions ADD CONSTRAINT regress_no_refused CHECK (comment IS DISTINCT FROM 'refused');
SET LOCAL ff.change_comment = 'refused';
SAVEPOINT s;
\set VERBOSITY terse
UPDATE ff.flags SET default_variant = 'on' WHERE environment = 'hist-img' AND key = 'added-check';
\set VERBOSITY default
ROLLBACK TO SAVEPOINT s;
ALTER TABLE ff.versions DROP CONSTRAINT regress_no_refused;
UPDATE ff.flags SET default_variant = 'on' WHERE environment = 'hist-img' AND key = 'added-check';
SELECT operation, comment, after ->> 'default_variant' AS default_variant
  FROM ff.versions WHERE version = ff.current_version();
ROLLBACK;
SELECT operation, comment, after ->> 'default_variant' AS default_variant
  FROM ff.versions WHERE version = ff.current_version();

-- a row stamped with an older version of its entity is not in sync with
-- it, even with that version's content: only the latest version counts
SELECT version AS one_v FROM ff.flags WHERE environment = 'hist-b' AND key = 'one' \gset
UPDATE ff.flags SET description = 'newest' WHERE environment = 'hist-b' AND key = 'one';
SELECT ff.current_version() AS before_old_stamp \gset
UPDATE ff.flags SET version = :one_v, description = 'changed again'
 WHERE environment = 'hist-b' AND key = 'one';
SELECT ff.current_version() - :before_old_stamp AS new_versions,
       f.version = ff.current_version() AS restamped, v.after ->> 'description' AS description
  FROM ff.flags AS f JOIN ff.versions AS v ON v.version = f.version
 WHERE f.environment = 'hist-b' AND f.key = 'one';
-- (1.17) changing only the stamps (version, updated_at) of a row that holds
-- what its history records is not a change: nothing is recorded, no
-- notification is sent and the row keeps its stamps (1.16 recorded a
-- version with an empty diff): unstamping it, a stamp that names no
-- recorded version, another updated_at, both at once -- for a flag, a
-- segment and an environment, in C and (the writer lock not held by the
-- statement trigger) in ff._history_row_trigger_general()
SELECT (ff.create_segment('stamps-seg', '{"==": [1, 1]}', environment => 'hist-b')).name;
SELECT ff.current_version() AS before_stamps \gset
CREATE TEMP TABLE stamps_before AS
SELECT 'flag' AS entity, f.key AS name, f.version, f.updated_at FROM ff.flags AS f WHERE f.environment = 'hist-b' AND f.key = 'one'
UNION ALL SELECT 'segment', g.name, g.version, g.updated_at FROM ff.segments AS g WHERE g.environment = 'hist-b' AND g.name = 'stamps-seg'
UNION ALL SELECT 'environment', e.name, e.version, e.updated_at FROM ff.environments AS e WHERE e.name = 'hist-b';
LISTEN ff_changes;
UPDATE ff.flags SET version = NULL WHERE environment = 'hist-b' AND key = 'one';
UPDATE ff.flags SET version = 999999999 WHERE environment = 'hist-b' AND key = 'one';
UPDATE ff.flags SET updated_at = now() - interval '1 day' WHERE environment = 'hist-b' AND key = 'one';
UPDATE ff.flags SET version = version + 1, updated_at = NULL WHERE environment = 'hist-b' AND key = 'one';
UPDATE ff.segments SET updated_at = now() - interval '1 day' WHERE environment = 'hist-b' AND name = 'stamps-seg';
UPDATE ff.segments SET version = NULL WHERE environment = 'hist-b' AND name = 'stamps-seg';
UPDATE ff.environments SET updated_at = now() - interval '1 day', version = 7 WHERE name = 'hist-b';
BEGIN;
ALTER TABLE ff.flags DISABLE TRIGGER ff_01_writer_lock;
UPDATE ff.flags SET updated_at = now() - interval '2 days', version = NULL WHERE environment = 'hist-b' AND key = 'one';
ALTER TABLE ff.flags ENABLE TRIGGER ff_01_writer_lock;
COMMIT;
UNLISTEN ff_changes;
SELECT ff.current_version() - :before_stamps AS new_versions;
SELECT b.entity, r.version = b.version AS same_version, r.updated_at = b.updated_at AS same_updated_at
  FROM stamps_before AS b
  JOIN (SELECT 'flag' AS entity, f.key AS name, f.version, f.updated_at FROM ff.flags AS f WHERE f.environment = 'hist-b'
        UNION ALL SELECT 'segment', g.name, g.version, g.updated_at FROM ff.segments AS g WHERE g.environment = 'hist-b'
        UNION ALL SELECT 'environment', e.name, e.version, e.updated_at FROM ff.environments AS e) AS r
    ON r.entity = b.entity AND r.name = b.name
 ORDER BY 1;
-- a real change that also sets the stamps is recorded and stamped as always
UPDATE ff.flags SET updated_at = now() - interval '1 day', description = 'stamped anew'
 WHERE environment = 'hist-b' AND key = 'one';
SELECT ff.current_version() - :before_stamps AS new_versions,
       f.version = ff.current_version() AS restamped, f.updated_at > now() - interval '1 hour' AS updated_now
  FROM ff.flags AS f WHERE f.environment = 'hist-b' AND f.key = 'one';
DROP TABLE stamps_before;
SELECT ok FROM ff.verify_history();
-- row images are compared in their stored form (1.22): a number written
-- with another scale is the same value, so nothing is recorded (the row
-- takes the new text); a stamp of another length moves the members stored
-- after it (a container's alignment padding) without changing them, so a
-- stamps-only UPDATE is still no change
SELECT ff.current_version() AS before_stored \gset
INSERT INTO ff.flags (environment, key, variants, default_variant, metadata)
VALUES ('hist-b', 'scaled', '{"a": 1.0, "b": 2}', 'a', '{"team": "x"}');
UPDATE ff.flags SET variants = '{"a": 1.00, "b": 2.0}' WHERE environment = 'hist-b' AND key = 'scaled';
UPDATE ff.flags SET version = 12345 WHERE environment = 'hist-b' AND key = 'scaled';
UPDATE ff.flags SET version = 123456789, metadata = '{"team": "x"}' WHERE environment = 'hist-b' AND key = 'scaled';
SELECT ff.current_version() - :before_stored AS new_versions,
       f.version = ff.current_version() AS keeps_its_stamp, f.variants::text AS variants
  FROM ff.flags AS f WHERE f.environment = 'hist-b' AND f.key = 'scaled';
-- the same for a number that is a member of its own (a column added by hand)
BEGIN;
ALTER TABLE ff.flags ADD COLUMN weight numeric;
UPDATE ff.flags SET weight = 1.0 WHERE environment = 'hist-b' AND key = 'scaled';
SELECT ff.current_version() AS before_weight \gset
UPDATE ff.flags SET weight = 1.000 WHERE environment = 'hist-b' AND key = 'scaled';
UPDATE ff.flags SET weight = 1.5 WHERE environment = 'hist-b' AND key = 'scaled';
SELECT ff.current_version() - :before_weight AS new_versions, v.after -> 'weight' AS recorded
  FROM ff.versions AS v WHERE v.version = ff.current_version();
ROLLBACK;
-- ... and a real change next to them is recorded
UPDATE ff.flags SET variants = '{"a": 1.5, "b": 2.0}' WHERE environment = 'hist-b' AND key = 'scaled';
SELECT ff.current_version() - :before_stored AS new_versions, v.delta IS NULL AS no_drift,
       v.after -> 'variants' AS recorded
  FROM ff.versions AS v WHERE v.version = ff.current_version();
SELECT ok FROM ff.verify_history();
-- an INSERT is recorded in C too: a new entity is stamped and recorded,
-- but an unstamped row that is exactly what the history records (here its
-- unrecorded deletion undone) is no change and gets its stamp back, and an
-- INSERT ... ON CONFLICT of an existing row records only its UPDATE
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM ff.flags WHERE environment = 'hist-b' AND key = 'scaled';
SET LOCAL session_replication_role = origin;
SELECT ff.current_version() AS before_back \gset
INSERT INTO ff.flags
SELECT (pg_catalog.jsonb_populate_record(NULL::ff.flags, v.after - 'version')).*
  FROM ff.versions AS v WHERE v.version = :before_back;
SELECT ff.current_version() - :before_back AS new_versions, f.version = :before_back AS stamped_back
  FROM ff.flags AS f WHERE f.environment = 'hist-b' AND f.key = 'scaled';
INSERT INTO ff.flags (environment, key, variants, default_variant)
VALUES ('hist-b', 'scaled', '{"a": 1.5, "b": 2.0}', 'a')
ON CONFLICT (environment, key) DO NOTHING;
INSERT INTO ff.flags (environment, key, variants, default_variant)
VALUES ('hist-b', 'scaled', '{"a": 1.5, "b": 2.0}', 'b')
ON CONFLICT (environment, key) DO UPDATE SET default_variant = EXCLUDED.default_variant;
INSERT INTO ff.flags (environment, key, variants, default_variant)
VALUES ('hist-b', 'fresh', '{"x": 1}', 'x');
SET LOCAL TimeZone = 'UTC';
SELECT v.version - :before_back AS nth_new, v.operation, v.entity_key, v.before IS NULL AS no_before,
       v.after = to_jsonb(f) AS after_is_row, f.version = v.version AS stamped_with_it
  FROM ff.versions AS v JOIN ff.flags AS f ON f.environment = v.environment AND f.key = v.entity_key
 WHERE v.version > :before_back ORDER BY v.version;
ROLLBACK;
-- a stamp that names no recorded version (the stamps of ff.flags and
-- ff.segments have no foreign key since 1.5) is never in sync: a write
-- with it is recorded and stamped again, by an UPDATE and by an INSERT alike
SELECT ff.current_version() AS before_bad_stamp \gset
UPDATE ff.flags SET version = 999999999, description = 'bad stamp' WHERE environment = 'hist-b' AND key = 'one';
INSERT INTO ff.flags (environment, key, variants, version)
VALUES ('hist-b', 'bad-stamp', '{"on": true}', 999999999);
SELECT v.version - :before_bad_stamp AS nth_new, v.operation, v.entity_key,
       f.version = v.version AS stamped_with_it
  FROM ff.versions AS v JOIN ff.flags AS f ON f.environment = v.environment AND f.key = v.entity_key
 WHERE v.version > :before_bad_stamp ORDER BY v.version;
SELECT ok FROM ff.verify_history();
-- ... but a row whose stamps drifted from its history (written without
-- being recorded) is recorded when its stamps are touched: that is the
-- documented repair; for updated_at, for version, in C and in
-- ff._history_row_trigger_general()
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE ff.flags SET updated_at = '2001-01-01' WHERE environment = 'hist-b' AND key = 'one';
UPDATE ff.segments SET version = NULL WHERE environment = 'hist-b' AND name = 'stamps-seg';
SET LOCAL session_replication_role = origin;
SELECT ok, regexp_replace(detail, '[0-9]+', 'N', 'g') AS detail FROM ff.verify_history();
SELECT ff.current_version() AS before_repair \gset
UPDATE ff.flags SET updated_at = now() WHERE environment = 'hist-b' AND key = 'one';
ALTER TABLE ff.segments DISABLE TRIGGER ff_01_writer_lock;
UPDATE ff.segments SET updated_at = now() WHERE environment = 'hist-b' AND name = 'stamps-seg';
ALTER TABLE ff.segments ENABLE TRIGGER ff_01_writer_lock;
SELECT ff.current_version() - :before_repair AS repairs, ok FROM ff.verify_history();
ROLLBACK;
-- which stamps reference ff.versions: the environments' key orders
-- pg_dump's data (history first, then environments, flags, segments)
SELECT conrelid::regclass AS config_table, conname
  FROM pg_constraint WHERE contype = 'f' AND confrelid = 'ff.versions'::regclass
 ORDER BY 1;

-- ff.writer_lock: the holder of the writer lock is this transaction from its
-- first write until it ends (the waiters are in the isolation spec
-- history_writers)
SELECT count(*) AS lock_rows_before FROM ff.writer_lock;
BEGIN;
UPDATE ff.flags SET description = 'holding the lock' WHERE environment = 'hist-b' AND key = 'one';
SELECT holds_lock, pid = pg_backend_pid() AS this_backend, waiting_since IS NULL AS not_waiting,
       session_user_name = session_user AS same_user, xact_start = now() AS this_transaction
  FROM ff.writer_lock;
ROLLBACK;
SELECT count(*) AS lock_rows_after FROM ff.writer_lock;
-- the lock ends with a savepoint rolled back before any other write
BEGIN;
SAVEPOINT s;
UPDATE ff.flags SET description = 'holding the lock' WHERE environment = 'hist-b' AND key = 'one';
SELECT count(*) AS held_in_savepoint FROM ff.writer_lock;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS held_after_rollback_to FROM ff.writer_lock;
COMMIT;

DROP OWNED BY regress_hist_writer;
DROP ROLE regress_hist_writer;

-- the backend remembers the latest version it saw to find the head of the
-- chain quickly; after the extension is dropped and created again in the
-- same session that bound is too high, and the history starts at 1 anyway
DROP EXTENSION feature_flags CASCADE;
CREATE EXTENSION feature_flags;
INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'again', '{"on": true}');
UPDATE ff.flags SET description = 'a' WHERE key = 'again';
UPDATE ff.flags SET description = 'b' WHERE key = 'again';
SELECT array_agg(version ORDER BY version) AS versions FROM ff.versions;
SELECT ok FROM ff.verify_history();

-- ---- (1.9) ff.change_sets shows the first comment and role of a change-set
BEGIN;
UPDATE ff.flags SET description = 'first, no comment' WHERE key = 'again';
SELECT ff.comment_change('the second');
UPDATE ff.flags SET description = 'second' WHERE key = 'again';
SELECT ff.comment_change('a third, alphabetically first');
UPDATE ff.flags SET description = 'third' WHERE key = 'again';
COMMIT;
SELECT changes, changed_by = current_user AS by_me, comment
  FROM ff.change_sets ORDER BY change_set DESC LIMIT 1;

-- ---- (1.9) ff.verify_history checks that the configuration rows are what
-- the history records: the newest versions deleted (by a superuser who
-- disables the append-only guards) and rows written without being recorded
-- are named
UPDATE ff.flags SET description = 'to be lost' WHERE key = 'again';
BEGIN;
ALTER TABLE ff.versions DISABLE TRIGGER USER;
DELETE FROM ff.versions WHERE version = (SELECT max(version) FROM ff.versions);
ALTER TABLE ff.versions ENABLE TRIGGER USER;
SELECT ok, first_broken_version = ff.current_version() + 1 AS names_it,
       regexp_replace(detail, '[0-9]+', 'N', 'g') AS detail
  FROM ff.verify_history();
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE ff.flags SET description = 'unrecorded' WHERE key = 'again';
SELECT ok, regexp_replace(detail, '[0-9]+', 'N', 'g') AS detail FROM ff.verify_history();
INSERT INTO ff.flags (environment, key, flag_type, variants) VALUES ('development', 'ghost', 'boolean', '{"on": true}');
-- touching a row records it as it is, which repairs it
SET LOCAL session_replication_role = origin;
UPDATE ff.flags SET updated_at = now() WHERE key = 'again' AND environment = 'development';
SELECT ok, first_broken_version, detail FROM ff.verify_history();
-- a row deleted without being recorded
SET LOCAL session_replication_role = replica;
DELETE FROM ff.flags WHERE key = 'ghost';
DELETE FROM ff.flags WHERE key = 'again' AND environment = 'development';
SELECT ok, regexp_replace(detail, '[0-9]+', 'N', 'g') AS detail FROM ff.verify_history();
ROLLBACK;
-- a role that may read the history but not the configuration gets the
-- chain's verdict alone
CREATE ROLE regress_hist_auditor;
GRANT USAGE ON SCHEMA ff TO regress_hist_auditor;
GRANT SELECT ON ff.versions TO regress_hist_auditor;
GRANT EXECUTE ON FUNCTION ff.verify_history() TO regress_hist_auditor;
SET ROLE regress_hist_auditor;
SELECT ok, regexp_replace(detail, '[0-9]+', 'N', 'g') AS detail FROM ff.verify_history();
RESET ROLE;
DROP OWNED BY regress_hist_auditor;
DROP ROLE regress_hist_auditor;
SELECT ok FROM ff.verify_history();
-- a CHECK a user adds to ff.versions is planned once per backend; a new
-- body of a function it calls (CREATE OR REPLACE) applies from the next write
CREATE FUNCTION public.regress_vcheck(c text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
ALTER TABLE ff.versions ADD CONSTRAINT regress_user_check CHECK (public.regress_vcheck(comment));
UPDATE ff.flags SET description = 'checked once' WHERE key = 'again' AND environment = 'development';
CREATE OR REPLACE FUNCTION public.regress_vcheck(c text) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS $$ SELECT c IS NOT NULL $$;
\set VERBOSITY terse
UPDATE ff.flags SET description = 'checked twice' WHERE key = 'again' AND environment = 'development';
\set VERBOSITY default
BEGIN;
SELECT ff.comment_change('with a comment');
UPDATE ff.flags SET description = 'checked twice' WHERE key = 'again' AND environment = 'development';
COMMIT;
ALTER TABLE ff.versions DROP CONSTRAINT regress_user_check;
DROP FUNCTION public.regress_vcheck(text);
SELECT ok FROM ff.verify_history();
-- the views read only what a "latest N" or a lookup asks for (1.10): no sort
-- of the whole history, one summary per row returned
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT version, summary FROM ff.history ORDER BY version DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT * FROM ff.change_sets ORDER BY change_set DESC LIMIT 3;
RESET enable_seqscan;
-- ff.change_sets is the grouping of the versions by change_set
SELECT count(*) AS change_sets,
       count(*) FILTER (WHERE g IS DISTINCT FROM c) AS different
  FROM (SELECT v.change_set,
               ROW(max(v.version), count(*), min(v.changed_at),
                   (array_agg(v.changed_by ORDER BY v.version))[1],
                   (array_agg(v.comment ORDER BY v.version) FILTER (WHERE v.comment IS NOT NULL))[1],
                   array_agg(DISTINCT v.environment ORDER BY v.environment),
                   array_agg(DISTINCT v.entity || ':' || v.entity_key ORDER BY v.entity || ':' || v.entity_key)) AS g
          FROM ff.versions AS v GROUP BY v.change_set) AS grouped
  FULL JOIN (SELECT s.change_set, ROW(s.last_version, s.changes, s.changed_at, s.changed_by, s.comment,
                                      s.environments, s.entities) AS c
               FROM ff.change_sets AS s) AS viewed USING (change_set);
-- a key list change too large for one version is refused before the work
-- (the numbers stand for a statement adding 280,000 keys of 1,000 bytes)
SELECT ff._history_keys_too_large('development', 'big', 280000, 280000000);
SELECT 'fits' AS result FROM ff._history_keys_too_large('development', 'big', 100000, 100000000);
-- a segment deleted and created again in one statement: its old keys,
-- removed by the cascade after the new row exists, are covered by its
-- DELETE version; no KEYS version with a negative count
SELECT name FROM ff.create_segment('dr', '{"==": [1, 1]}', include => '{k1,k2}');
WITH d AS (DELETE FROM ff.segments WHERE environment = 'development' AND name = 'dr' RETURNING environment, name, rule)
INSERT INTO ff.segments (environment, name, rule) SELECT environment, name, rule FROM d;
SELECT added FROM ff.add_segment_keys('dr', '{k1,k2}') AS added;
SELECT operation, after -> 'key_count' AS key_count
  FROM ff.versions WHERE entity = 'segment' AND entity_key = 'dr' ORDER BY version;
-- (1.18) a created or deleted row's diff lists the fields that have a
-- value, not those null on both sides (owner, targeting, description)
SELECT key FROM ff.create_flag('diff-nulls');
SELECT ff.delete_flag('diff-nulls');
SELECT operation, summary, (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(diff) AS k) AS fields
  FROM ff.history WHERE entity = 'flag' AND entity_key = 'diff-nulls' ORDER BY version;
-- (1.18) touching a row whose content drifted from its history (written
-- without being recorded) records the row as it is, and the version keeps
-- the history's last image of it in its delta: the summary lists the
-- unrecorded change first (1.17: "no visible change", the diff empty) --
-- in C (the flag) and in ff._history_row_trigger_general() (the segment,
-- the writer lock not held by the statement trigger); a row in sync gets
-- no such delta
SELECT key FROM ff.create_flag('drift', environment => 'development');
SELECT name FROM ff.create_segment('drift-seg', '{"==": [1, 1]}', environment => 'development');
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'development' AND key = 'drift';
UPDATE ff.segments SET rule = '{"==": [1, 2]}', description = 'drifted' WHERE environment = 'development' AND name = 'drift-seg';
COMMIT;
SELECT ff.current_version() AS before_touch \gset
UPDATE ff.flags SET updated_at = now() WHERE environment = 'development' AND key = 'drift';
UPDATE ff.flags SET default_variant = 'on' WHERE environment = 'development' AND key = 'drift';
BEGIN;
ALTER TABLE ff.segments DISABLE TRIGGER ff_01_writer_lock;
UPDATE ff.segments SET description = 'touched' WHERE environment = 'development' AND name = 'drift-seg';
ALTER TABLE ff.segments ENABLE TRIGGER ff_01_writer_lock;
COMMIT;
SELECT h.version - :before_touch AS nth, h.entity, h.entity_key, h.summary,
       v.delta ? 'recorded' AS has_recorded
  FROM ff.history AS h JOIN ff.versions AS v USING (version)
 WHERE h.version > :before_touch ORDER BY h.version;
SELECT ok FROM ff.verify_history();
-- (1.18) a write that brings a drifted row back to what its history
-- records -- a rollback, here -- is a change too: it is recorded, the
-- unrecorded change marked (1.17 recorded nothing, and the rollback said
-- "nothing changed" while it released an unrecorded kill switch)
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE ff.flags SET state = 'ENABLED' WHERE environment = 'development' AND key = 'drift';
COMMIT;
SELECT ff.current_version() AS before_rollback \gset
SELECT ff.rollback_flag('drift', :before_rollback, 'development') AS rolled_back_to;
SELECT h.version - :before_rollback AS nth, h.entity_key, h.summary, v.delta ? 'recorded' AS has_recorded
  FROM ff.history AS h JOIN ff.versions AS v USING (version)
 WHERE h.version > :before_rollback ORDER BY h.version;
SELECT state, version = ff.current_version() AS stamped FROM ff.flags WHERE environment = 'development' AND key = 'drift';
SELECT ok FROM ff.verify_history();
-- (1.18) ff.version_at is planned for its argument: the generic plan
-- PL/pgSQL switches to after five calls read the whole history for a
-- recent time.  (1.20) ff._history_state_at keeps its plans again: its
-- lookups are ordered by every column of versions_entity_idx, which only
-- that index gives, so that even a generic plan reads it
SELECT p.oid::regprocedure AS function, 'plan_cache_mode=force_custom_plan' = ANY (p.proconfig) AS custom_plans
  FROM pg_proc AS p WHERE p.oid IN ('ff.version_at(timestamptz)'::regprocedure,
                                    'ff._history_state_at(text, text, text, bigint)'::regprocedure)
 ORDER BY 1;
SET plan_cache_mode = force_generic_plan;
PREPARE state_at_lookup(text, text, text, bigint) AS
    SELECT l.operation, l.after FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version <= $4
     ORDER BY l.entity DESC, l.environment DESC, l.entity_key DESC, l.version DESC
     LIMIT 1;
EXPLAIN (COSTS OFF) EXECUTE state_at_lookup('flag', 'development', 'drift', 1);
DEALLOCATE state_at_lookup;
RESET plan_cache_mode;
-- (1.18) deleting or renaming a drifted row marks the unrecorded change
-- too: a DELETE in C, a rename (a deletion and an insertion) in
-- ff._history_row_trigger_general()
SELECT key FROM ff.create_flag('drift-del', environment => 'development');
SELECT key FROM ff.create_flag('drift-ren', environment => 'development');
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'development' AND key IN ('drift-del', 'drift-ren');
COMMIT;
SELECT ff.current_version() AS before_delete \gset
DELETE FROM ff.flags WHERE environment = 'development' AND key = 'drift-del';
UPDATE ff.flags SET key = 'drift-ren2' WHERE environment = 'development' AND key = 'drift-ren';
SELECT h.version - :before_delete AS nth, h.entity_key, h.operation, h.summary
  FROM ff.history AS h WHERE h.version > :before_delete ORDER BY h.version;
SELECT ok FROM ff.verify_history();
-- (1.18) more drift: a rollback to what the row already holds through an
-- unrecorded change records that change (1.17: "nothing changed"); a stamp
-- written along with the change does not hide it; TRUNCATE marks it; a
-- column added to the table since is no drift
SELECT key FROM ff.create_flag('drift2', environment => 'development');
SELECT ff.current_version() AS drift2_v \gset
SELECT state FROM ff.disable_flag('drift2', 'development');
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE ff.flags SET state = 'ENABLED' WHERE environment = 'development' AND key = 'drift2';
COMMIT;
SELECT ff.current_version() AS before_r2 \gset
SELECT ff.rollback_flag('drift2', :drift2_v, 'development') - :before_r2 AS new_versions;
SELECT summary FROM ff.history WHERE version > :before_r2 ORDER BY version;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE ff.flags SET state = 'DISABLED', version = 1 WHERE environment = 'development' AND key = 'drift2';
UPDATE ff.flags SET state = 'ENABLED', version = NULL WHERE environment = 'development' AND key = 'drift';
COMMIT;
SELECT ff.current_version() AS before_s \gset
UPDATE ff.flags SET description = 'stamped' WHERE environment = 'development' AND key IN ('drift2', 'drift');
SELECT entity_key, summary FROM ff.history WHERE version > :before_s ORDER BY version;
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE ff.flags SET owner = 'someone' WHERE environment = 'development' AND key = 'drift2';
SET LOCAL session_replication_role = origin;
SELECT ff.current_version() AS before_t \gset
TRUNCATE ff.flags;
SELECT count(*) AS deletions, count(*) FILTER (WHERE summary LIKE '%(unrecorded)%') AS marked,
       min(summary) FILTER (WHERE summary LIKE '%(unrecorded)%') AS summary
  FROM ff.history WHERE version > :before_t;
ROLLBACK;
BEGIN;
ALTER TABLE ff.flags ADD COLUMN archived boolean NOT NULL DEFAULT false;
SELECT ff.current_version() AS before_col \gset
UPDATE ff.flags SET description = 'after a new column' WHERE environment = 'development' AND key = 'drift2';
SELECT v.delta ? 'recorded' AS marked, h.summary
  FROM ff.history AS h JOIN ff.versions AS v USING (version) WHERE h.version > :before_col;
ROLLBACK;
SELECT ok FROM ff.verify_history();
-- (1.22) key lists against their history.  Keys added without being
-- recorded (replica mode) are named by verify_history, with the segment and
-- both sizes; an editor's later removal of them together with a recorded
-- key is recorded (1.21 recorded nothing: the removal took the recorded
-- size below zero, which it took for a segment deleted in the same
-- statement), with the after figures of the list the history replays, and
-- the next removal is counted from those
SELECT name FROM ff.create_segment('kd', '{"==": [1, 1]}', include => '{u1,u2,u3}', environment => 'development');
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO ff.segment_keys VALUES ('development', 'kd', 'x1', false), ('development', 'kd', 'x2', false),
                                   ('development', 'kd', 'x3', false);
COMMIT;
SELECT ok, first_broken_version = (SELECT max(version) FROM ff.versions WHERE entity_key = 'kd') AS names_latest,
       detail FROM ff.verify_history();
SELECT ff.current_version() AS before_kd \gset
CREATE ROLE regress_kd_editor;
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_kd_editor');
SET ROLE regress_kd_editor;
DELETE FROM ff.segment_keys WHERE segment = 'kd' AND (targeting_key LIKE 'x%' OR targeting_key = 'u1');
DELETE FROM ff.segment_keys WHERE segment = 'kd' AND targeting_key = 'u2';
RESET ROLE;
SELECT version - :before_kd AS nth, operation, delta, after -> 'key_count' AS key_count
  FROM ff.versions WHERE version > :before_kd ORDER BY version;
SELECT array_agg(targeting_key ORDER BY targeting_key) AS replayed
  FROM ff._history_keys_at('development', 'kd', ff.current_version());
SELECT ok, detail FROM ff.verify_history();
-- the same through ff.rollback_segment: after an unrecorded key, a rollback
-- removes a recorded key along with it and records that (1.21: the removal
-- unrecorded, and the NOTICE "nothing changed")
SELECT ff.current_version() AS kd_one \gset
SELECT added FROM ff.add_segment_keys('kd', '{u4}', 'development') AS added;
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO ff.segment_keys VALUES ('development', 'kd', 'evil', false);
COMMIT;
SELECT ff.rollback_segment('kd', :kd_one, 'development') - :kd_one AS new_versions;
SELECT array_agg(targeting_key ORDER BY targeting_key) AS keys FROM ff.segment_keys WHERE segment = 'kd';
SELECT delta, after -> 'key_count' AS key_count FROM ff.versions WHERE version > :kd_one + 1 ORDER BY version;
SELECT ok, detail FROM ff.verify_history();
-- a key's include or exclude changed without being recorded: the size is
-- as recorded, the digest is not
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE ff.segment_keys SET excluded = true WHERE segment = 'kd' AND targeting_key = 'u3';
SELECT ok, detail FROM ff.verify_history();
ROLLBACK;
-- the newest versions deleted when they are KEYS versions (no
-- configuration row carries their stamp): named by the key list
SELECT added FROM ff.add_segment_keys('kd', '{u5}', 'development') AS added;
BEGIN;
ALTER TABLE ff.versions DISABLE TRIGGER USER;
DELETE FROM ff.versions WHERE version = (SELECT max(version) FROM ff.versions);
SELECT ok, first_broken_version = ff.current_version() AS names_latest, detail FROM ff.verify_history();
ROLLBACK;
SELECT ok FROM ff.verify_history();
DROP OWNED BY regress_kd_editor;
DROP ROLE regress_kd_editor;
-- (1.25) outside a transaction block the comment reaches only the
-- statement's own changes: alone, none, and a WARNING says so
SELECT ff.comment_change('lost in autocommit');
SELECT current_setting('ff.change_comment') = '' AS gone_after_the_statement;
BEGIN;
SELECT ff.comment_change('kept') AS in_a_block;
SELECT current_setting('ff.change_comment') AS still_set;
COMMIT;
-- (1.26) a restore loads a key list that drifted from its history as it
-- was dumped, unrecorded (test/t/010_dump_restore.pl); that leniency needs
-- a list the history has keys for: the extension owner's session with
-- check_function_bodies off (what a restore looks like) that fills a new,
-- empty list is recorded as ever
SET check_function_bodies = off;
SELECT (ff.create_environment('cfb-env')).name;
SELECT (ff.create_segment('cfb', NULL, environment => 'cfb-env')).name;
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('cfb-env', 'cfb', 'a'), ('cfb-env', 'cfb', 'b');
RESET check_function_bodies;
SELECT operation, delta FROM ff.versions WHERE environment = 'cfb-env' AND entity_key = 'cfb' ORDER BY version;
SELECT ok FROM ff.verify_history();
-- nor one statement that empties and refills a list, nor
-- ff.add_segment_keys into a list emptied without being recorded: only a
-- COPY is taken for a restore's data
SET check_function_bodies = off;
WITH d AS (DELETE FROM ff.segment_keys WHERE environment = 'cfb-env' AND segment = 'cfb')
INSERT INTO ff.segment_keys (environment, segment, targeting_key)
VALUES ('cfb-env', 'cfb', 'x'), ('cfb-env', 'cfb', 'y'), ('cfb-env', 'cfb', 'z');
SELECT (ff.create_segment('cfb2', NULL, environment => 'cfb-env', include => ARRAY['a', 'b'])).name;
SET session_replication_role = replica;
DELETE FROM ff.segment_keys WHERE environment = 'cfb-env' AND segment = 'cfb2';
RESET session_replication_role;
SELECT ff.add_segment_keys('cfb2', ARRAY['c', 'd', 'e'], environment => 'cfb-env');
RESET check_function_bodies;
SELECT entity_key, operation, delta FROM ff.versions WHERE environment = 'cfb-env' AND operation = 'KEYS' ORDER BY version;
SELECT ok, first_broken_version IS NOT NULL AS drift_reported FROM ff.verify_history();
