--
-- 150_schedule: ff.apply_draft saves a draft (the write counterpart of
-- ff.evaluate_draft); scheduled changes save one at a given time, applied
-- by ff.run_scheduled_changes() with the privileges of the role that
-- scheduled them.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_flags;

SELECT (ff.create_environment('sched')).name;
SET ff.environment = 'sched';
SELECT (ff.create_segment('beta', '{"ends_with": [{"var": "email"}, "@beta.test"]}')).name;
SELECT (ff.create_flag('banner', '{"on": true, "off": false}', 'off')).key;

-- ---- ff.apply_draft

-- the members given replace the stored ones; the others stay
SELECT key, state, variants, default_variant, targeting, metadata, flag_type
  FROM ff.apply_draft('banner', '{"targeting": {"if": [{"in_segment": "beta"}, "on", null]}, "metadata": {"team": "web"}}');
SELECT key, state, variants, default_variant, targeting, metadata
  FROM ff.apply_draft('banner', '{"state": "DISABLED"}');
-- a draft saved answers as ff.evaluate_draft predicted
SELECT (ff.evaluate_draft('banner', '{"email": "a@beta.test"}', '{"state": "ENABLED"}')).variant AS predicted;
SELECT (ff.apply_draft('banner', '{"state": "ENABLED"}')).state;
SELECT (ff.evaluate('banner', '{"email": "a@beta.test"}')).variant AS saved;
-- null removes the default variant and the targeting; null metadata is {}
SELECT default_variant, targeting, metadata
  FROM ff.apply_draft('banner', '{"defaultVariant": null, "targeting": null, "metadata": null}');
-- a draft that changes nothing writes nothing: no new version
SELECT ff.current_version() AS before_version \gset
SELECT (ff.apply_draft('banner', '{"state": "ENABLED", "targeting": null}')).version = :before_version AS same_version,
       ff.current_version() = :before_version AS no_new_version;
-- ({} is no targeting too, as when written)
SELECT (ff.apply_draft('banner', '{"targeting": {}}')).targeting IS NULL AS none,
       ff.current_version() = :before_version AS no_new_version;
-- a missing flag is created from the draft (ENABLED unless it says so)
SELECT key, state, variants, default_variant, flag_type
  FROM ff.apply_draft('theme', '{"variants": {"light": "L", "dark": "D"}, "defaultVariant": "light"}');
-- variants of another type change the flag's type, with a WARNING
SELECT flag_type, variants FROM ff.apply_draft('theme', '{"variants": {"light": 1, "dark": 2}}');
-- each save is one recorded change
SELECT entity_key, operation, changed_by = current_user AS by_me
  FROM ff.versions WHERE environment = 'sched' AND entity = 'flag' ORDER BY version;

-- ff.apply_draft is always strict: a session's ff.invalid_targeting = 'warning'
-- does not let it store what a write refuses (a scheduled change is saved the same
-- way whoever runs it)
SET ff.invalid_targeting = 'warning';
SELECT ff.apply_draft('banner', '{"targeting": {"if": [true, "zzz", "on"]}}');
RESET ff.invalid_targeting;

-- bad drafts: the errors of ff.evaluate_draft, and nothing written
\set VERBOSITY default
SELECT ff.current_version() AS v0 \gset
SELECT ff.apply_draft('banner', NULL);
SELECT ff.apply_draft(NULL, '{}');
SELECT ff.apply_draft('banner', '[1]');
SELECT ff.apply_draft('banner', '{"state": "ON"}');
SELECT ff.apply_draft('banner', '{"enabled": true}');
SELECT ff.apply_draft('banner', '{"targeting": {"nope": [1]}}');
SELECT ff.apply_draft('banner', '{"targeting": {"in_segment": "gamma"}}');
SELECT ff.apply_draft('banner', '{"defaultVariant": "maybe"}');
SELECT ff.apply_draft('newflag', '{"state": "ENABLED"}');
SELECT ff.apply_draft('Bad Key!', '{"variants": {"a": 1}}');
SELECT ff.apply_draft('banner', '{}', 'prodution');
SELECT ff.current_version() = :v0 AS nothing_written;
\set VERBOSITY terse

-- ---- scheduling

-- a change is checked when it is scheduled
SELECT ff.schedule_change('banner', '{"state": "DISABLED"}', now() - interval '1 minute');
\set VERBOSITY default
SELECT ff.schedule_change('banner', '{"state": "DISABLED"}', NULL);
SELECT ff.schedule_change('banner', '{"targeting": {"nope": 1}}', now() + interval '1 hour');
SELECT ff.schedule_change('banner', '{"state": "DISABLED"}', now() + interval '1 hour', 'prodution');
-- the change is tried when it is scheduled (and rolled back): what the write
-- refuses is refused now, with the write's error
SELECT ff.current_version() AS v1 \gset
SELECT ff.schedule_change('banner', '{"targeting": {"if": [true, "zzz", "on"]}}', now() + interval '1 hour');
SELECT ff.current_version() = :v1 AS nothing_written;
INSERT INTO ff.scheduled_changes (environment, flag_key, draft, run_at, created_by)
VALUES ('sched', 'banner', '{}', now(), 'someone_else');
INSERT INTO ff.scheduled_changes (environment, flag_key, draft, run_at, status)
VALUES ('sched', 'banner', '{}', now(), 'applied');
\set VERBOSITY terse
SELECT count(*) AS none_scheduled FROM ff.scheduled_changes;

-- due now (in order of run_at, then id), and later
SELECT id, environment, flag_key, status, created_by = current_user AS mine, finished_at IS NULL AS open
  FROM ff.schedule_change('banner', '{"state": "DISABLED"}', now(), comment => 'maintenance window');
SELECT id FROM ff.schedule_change('theme', '{"defaultVariant": "dark"}', now() - interval '0 s',
                                  environment => 'sched');
SELECT id FROM ff.schedule_change('banner', '{"state": "ENABLED"}', now() + interval '1 hour');
-- a new flag, created when the change runs
SELECT id FROM ff.schedule_change('launch', '{"variants": {"on": true, "off": false}, "defaultVariant": "on"}', now());
-- raw DML works too, checked the same way
INSERT INTO ff.scheduled_changes (environment, flag_key, draft, run_at, comment)
VALUES ('sched', 'theme', '{"metadata": {"note": "raw"}}', now(), 'by INSERT')
RETURNING id, created_by = current_user AS mine, status;

SELECT id, flag_key, status, version IS NOT NULL AS has_version, error
  FROM ff.run_scheduled_changes() ORDER BY id;
-- applied: the flags are as the drafts say, the later change still pending
SELECT key, state, default_variant, metadata FROM ff.flags WHERE environment = 'sched' ORDER BY key;
SELECT id, flag_key, status, finished_by = session_user AS by_runner,
       EXISTS (SELECT 1 FROM ff.versions AS v
                WHERE v.version = s.version AND v.entity_key = s.flag_key
                  AND v.comment LIKE format('scheduled change %s by %%', s.id)) AS version_wrote_it
  FROM ff.scheduled_changes AS s ORDER BY id;
-- the history says who scheduled each change and why
SELECT entity_key, operation, comment, changed_by = current_user AS by_creator
  FROM ff.versions
 WHERE comment LIKE 'scheduled change%' ORDER BY version;
-- nothing more is due
SELECT count(*) AS ran FROM ff.run_scheduled_changes();

-- a change that fails is marked failed with its error; the others are applied
SELECT id FROM ff.schedule_change('banner', '{"targeting": {"if": [{"in_segment": "beta"}, "on", "off"]}}', now());
SELECT id FROM ff.schedule_change('theme', '{"state": "DISABLED"}', now());
DELETE FROM ff.segments WHERE environment = 'sched' AND name = 'beta';
SELECT id, flag_key, status, error FROM ff.run_scheduled_changes() ORDER BY id;
SELECT key, state, targeting FROM ff.flags WHERE environment = 'sched' AND key IN ('banner', 'theme') ORDER BY key;

-- max_changes
SELECT id FROM ff.schedule_change('theme', '{"state": "ENABLED"}', now());
SELECT id FROM ff.schedule_change('launch', '{"state": "DISABLED"}', now());
SELECT id, flag_key, status FROM ff.run_scheduled_changes(max_changes => 1);
SELECT id, flag_key, status FROM ff.run_scheduled_changes(1);
\set VERBOSITY default
SELECT ff.run_scheduled_changes(0);
\set VERBOSITY terse

-- ---- cancelling, and what cannot change

SELECT id AS later FROM ff.scheduled_changes WHERE status = 'pending' \gset
\set VERBOSITY default
UPDATE ff.scheduled_changes SET draft = '{"state": "DISABLED"}' WHERE id = :later;
UPDATE ff.scheduled_changes SET run_at = now() WHERE id = :later;
UPDATE ff.scheduled_changes SET error = 'x' WHERE id = :later;
SELECT id, status, finished_by = current_user AS by_me FROM ff.cancel_scheduled_change(:later);
\set VERBOSITY terse
SELECT ff.cancel_scheduled_change(:later);
UPDATE ff.scheduled_changes SET status = 'pending' WHERE flag_key = 'launch' AND status = 'applied';
\set VERBOSITY default
SELECT ff.cancel_scheduled_change(424242);
SELECT ff.cancel_scheduled_change(NULL);
\set VERBOSITY terse
SELECT status, count(*) FROM ff.scheduled_changes GROUP BY status ORDER BY status;

-- ---- privileges: a change is made with its creator's privileges

CREATE ROLE regress_ff_sched_a;
CREATE ROLE regress_ff_sched_b;
CREATE ROLE regress_ff_sched_reader;
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_sched_a');
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_sched_b');
SELECT count(*) > 0 AS granted FROM ff.grant_reader('regress_ff_sched_reader');
SELECT (ff.create_environment('locked')).name;
SELECT (ff.create_flag('gate', '{"on": true, "off": false}', 'off', environment => 'locked')).key;

SET ROLE regress_ff_sched_a;
SELECT id AS a1 FROM ff.schedule_change('banner', '{"state": "ENABLED"}', now(), comment => 'by a') \gset
SELECT id AS a2 FROM ff.schedule_change('gate', '{"state": "DISABLED"}', now(), 'locked') \gset
SELECT id AS a3 FROM ff.schedule_change('theme', '{"state": "DISABLED"}', now() + interval '1 day') \gset
SELECT id AS a4 FROM ff.schedule_change('launch', '{"state": "ENABLED"}', now() + interval '1 day') \gset
SELECT id AS a5 FROM ff.schedule_change('fresh', '{"variants": {"on": true, "off": false}, "defaultVariant": "off"}', now()) \gset
-- a role may not mark a change applied, nor schedule in another's name
\set VERBOSITY default
UPDATE ff.scheduled_changes SET status = 'applied' WHERE id = :a1;
INSERT INTO ff.scheduled_changes (environment, flag_key, draft, run_at, created_by)
VALUES ('sched', 'banner', '{}', now(), 'regress_ff_sched_b');
-- nor pick the id (others would collide with it), nor lock a pending row with an
-- UPDATE that changes nothing
INSERT INTO ff.scheduled_changes (id, environment, flag_key, draft, run_at) OVERRIDING SYSTEM VALUE
VALUES (1000, 'sched', 'banner', '{}', now());
UPDATE ff.scheduled_changes SET status = 'pending' WHERE id = :a1;
\set VERBOSITY terse
RESET ROLE;

-- a reader may neither schedule nor cancel
SET ROLE regress_ff_sched_reader;
SELECT ff.schedule_change('banner', '{"state": "DISABLED"}', now());
SELECT ff.cancel_scheduled_change(:a3);
SELECT ff.run_scheduled_changes();
RESET ROLE;

-- another editor may cancel a change it could make itself
SET ROLE regress_ff_sched_b;
SELECT id, status, finished_by FROM ff.cancel_scheduled_change(:a3);
RESET ROLE;

-- the environment is protected before the change runs: it fails
SELECT (ff.protect_environment('locked')).protected;
SET ROLE regress_ff_sched_b;
\set VERBOSITY default
SELECT ff.schedule_change('gate', '{"state": "ENABLED"}', now(), 'locked');
SELECT ff.cancel_scheduled_change(:a2);
\set VERBOSITY terse
-- any editor may run the due changes: they are applied as their creators
SELECT id, flag_key, environment, status, error FROM ff.run_scheduled_changes() ORDER BY id;
RESET ROLE;
SELECT entity_key, operation, changed_by, session_user_name = session_user AS runner_session, comment
  FROM ff.versions WHERE comment LIKE 'scheduled change % by regress_ff_sched_a%' ORDER BY version;
SELECT key, state FROM ff.flags WHERE key IN ('banner', 'gate') ORDER BY key;

-- the creator is dropped before the change runs: it fails
REASSIGN OWNED BY regress_ff_sched_a TO CURRENT_USER;
DROP OWNED BY regress_ff_sched_a;
DROP ROLE regress_ff_sched_a;
SELECT id, flag_key, status FROM ff.scheduled_changes WHERE id = :a4;
-- (due in a day: make it due, as only a restore may)
SET check_function_bodies = off;
UPDATE ff.scheduled_changes SET run_at = now() WHERE id = :a4;
RESET check_function_bodies;
SELECT id, flag_key, status, error FROM ff.run_scheduled_changes();

-- the runner restores the caller's change comment
BEGIN;
SELECT ff.comment_change('my own comment');
SELECT id FROM ff.schedule_change('theme', '{"state": "ENABLED"}', now()) \gset
SELECT count(*) AS ran FROM ff.run_scheduled_changes();
SELECT current_setting('ff.change_comment') AS comment_after;
ROLLBACK;

-- ---- a progressive rollout: one scheduled change per step, the rule of ff.set_rollout
SELECT flag_key, status, run_at - now() AS after_now, comment
  FROM ff.schedule_rollout('launch', '{10, 50, 100}', now() + interval '1 hour', interval '1 day',
                           comment => 'launch plan');
BEGIN;
SELECT (ff.set_rollout('launch', 10)).targeting = s.draft -> 'targeting' AS same_rule_as_set_rollout
  FROM ff.scheduled_changes AS s WHERE s.comment = 'rollout 10% (step 1 of 3): launch plan';
ROLLBACK;
SELECT s.draft -> 'targeting' AS last_step FROM ff.scheduled_changes AS s WHERE s.comment LIKE 'rollout 100%';
SELECT count(*) AS cancelled
  FROM ff.scheduled_changes AS s, ff.cancel_scheduled_change(s.id) AS c
 WHERE s.status = 'pending' AND s.comment LIKE 'rollout %';
SELECT ff.schedule_rollout('launch', '{}', now());
SELECT ff.schedule_rollout('launch', '{10, NULL}', now());
SELECT ff.schedule_rollout('launch', '{10, 120}', now());
SELECT ff.schedule_rollout('launch', '{10, 20}', now(), interval '0');
SELECT ff.schedule_rollout('launch', '{10}', NULL);
-- (1.17) a change at infinity would never run
SELECT ff.schedule_change('launch', '{"state": "DISABLED"}', 'infinity');
SELECT ff.schedule_rollout('launch', '{10, 20}', 'infinity');
-- (1.17) NULL percentages: 22004; a 2-D array: a clear 22023 (it was
-- array_position's "multidimensional arrays" error)
\set VERBOSITY default
SELECT ff.schedule_rollout('launch', NULL, now());
SELECT ff.schedule_rollout('launch', '{{5,10},{20,30}}', now());
\set VERBOSITY sqlstate
SELECT ff.schedule_rollout('launch', NULL, now());
SELECT ff.schedule_rollout('launch', '{{5,10},{20,30}}', now());
\set VERBOSITY terse
SELECT ff.schedule_rollout('nope', '{10}', now());
SELECT count(*) AS nothing_left_pending FROM ff.scheduled_changes WHERE status = 'pending';

-- (1.24) a change that changes nothing (the flag already is so) is
-- applied with no version: none was written (1.23 gave the flag's
-- version, that of an earlier, unrelated change)
SELECT (ff.schedule_change('banner', jsonb_build_object('state', f.state), now(), 'sched', 'no-op')).id IS NOT NULL AS scheduled
  FROM ff.flags AS f WHERE f.environment = 'sched' AND f.key = 'banner';
SELECT max(version) AS before_noop FROM ff.versions \gset
SELECT flag_key, status, version, error FROM ff.run_scheduled_changes();
SELECT max(version) = :before_noop AS nothing_recorded FROM ff.versions;
SELECT status, version FROM ff.scheduled_changes WHERE comment = 'no-op';

-- only the runner may apply as another role
\set VERBOSITY default
SELECT ff._apply_draft_as('nobody_at_all', 'banner', '{}', 'sched', NULL);
SET ROLE regress_ff_sched_b;
SELECT ff._apply_draft_as('regress_ff_sched_reader', 'banner', '{}', 'sched', NULL);
RESET ROLE;
GRANT EXECUTE ON FUNCTION ff._apply_draft_as(name, text, jsonb, text, text) TO regress_ff_sched_b;
SET ROLE regress_ff_sched_b;
SELECT ff._apply_draft_as('regress_ff_sched_reader', 'banner', '{}', 'sched', NULL);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION ff._apply_draft_as(name, text, jsonb, text, text) FROM regress_ff_sched_b;
\set VERBOSITY terse

SELECT (ff.unprotect_environment('locked')).protected;
SELECT count(*) > 0 AS revoked FROM ff.revoke_editor('regress_ff_sched_b');
SELECT count(*) > 0 AS revoked FROM ff.revoke_reader('regress_ff_sched_reader');
DROP ROLE regress_ff_sched_b;
DROP ROLE regress_ff_sched_reader;
SELECT (ff.verify_history()).ok;
