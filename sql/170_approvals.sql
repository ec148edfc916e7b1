--
-- 170_approvals: approval rules and change requests (1.16).  A protected
-- environment with an approval rule is changed directly only by ff
-- administrators; everyone else requests a change, other people approve
-- it, and it is applied with the requester's privileges over the flag it
-- was reviewed against.  The roles log in (\c) because nobody may approve
-- a request from the login that made it.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
DROP ROLE IF EXISTS regress_ff_appr_dev, regress_ff_appr_lead1, regress_ff_appr_lead2,
    regress_ff_appr_out, regress_ff_appr_admin, regress_ff_appr_devs, regress_ff_appr_leads;
RESET client_min_messages;
CREATE EXTENSION feature_flags;
\set SHOW_CONTEXT never
\set VERBOSITY terse

CREATE ROLE regress_ff_appr_devs;
CREATE ROLE regress_ff_appr_leads;
CREATE ROLE regress_ff_appr_dev LOGIN IN ROLE regress_ff_appr_devs;
-- lead1 may also act as a developer (SET ROLE): the four-eyes test below
CREATE ROLE regress_ff_appr_lead1 LOGIN IN ROLE regress_ff_appr_leads, regress_ff_appr_devs;
CREATE ROLE regress_ff_appr_lead2 LOGIN IN ROLE regress_ff_appr_leads;
CREATE ROLE regress_ff_appr_out LOGIN;
CREATE ROLE regress_ff_appr_admin LOGIN;
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_appr_devs');
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_appr_leads');
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_appr_out');
SELECT count(*) > 0 AS granted FROM ff.grant_admin('regress_ff_appr_admin');

SELECT (ff.create_environment('appr')).name;
SELECT (ff.create_environment('free')).name;
SELECT (ff.create_flag('checkout', '{"on": true, "off": false}', 'off', environment => 'appr')).key;
SELECT (ff.create_flag('checkout', '{"on": true, "off": false}', 'off', environment => 'free')).key;

-- ---- the rule: ff administrators only, on protected environments

SELECT ff.require_approvals('appr', 1);
SELECT (ff.protect_environment('appr', '{regress_ff_appr_devs}')).protected;
SELECT ff.require_approvals('appr', 11);
SELECT ff.require_approvals('appr', NULL);
SELECT ff.require_approvals('appr', 1, '{regress_ff_appr_nobody}');
SELECT ff.require_approvals('appr', 1, '{NULL}');
SELECT ff.require_approvals('nowhere', 1);
SET ROLE regress_ff_appr_dev;
SELECT ff.require_approvals('appr', 1);
INSERT INTO ff.approval_rules (environment, required_approvals) VALUES ('appr', 1);
RESET ROLE;
SELECT environment, required_approvals, approver_roles, set_by
  FROM ff.require_approvals('appr', 2, '{regress_ff_appr_leads, regress_ff_appr_leads}');
-- the environment keeps its protection while the rule exists
SELECT ff.unprotect_environment('appr');
-- (1.22) and deleting it names the rule first in its HINT
\set VERBOSITY default
SELECT ff.delete_environment('appr', force => true);
\set VERBOSITY terse

-- ---- direct writes: refused for everyone but ff administrators

\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT ff.current_version() AS v0 \gset
\set VERBOSITY default
SELECT ff.disable_flag('checkout', 'appr');
\set VERBOSITY terse
UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'appr';
INSERT INTO ff.flags (environment, key, variants, default_variant) VALUES ('appr', 'x', '{"a": 1}', 'a');
-- (1.24) the HINT names the flag (above); for what change requests do not
-- cover (deleting a flag, segments), it says who makes the change
\set VERBOSITY default
DELETE FROM ff.flags WHERE environment = 'appr';
UPDATE ff.flags SET key = 'checkout-renamed' WHERE environment = 'appr' AND key = 'checkout';
SELECT ff.create_segment('beta', NULL, 'appr');
\set VERBOSITY terse
SELECT ff.import_flagd('{"flags": {"y": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"}}}', 'appr');
TRUNCATE ff.flags;       -- (no TRUNCATE privilege: see below for one that has it)
UPDATE ff.environments SET description = 'mine' WHERE name = 'appr';
SELECT ff.schedule_change('checkout', '{"state": "DISABLED"}', now() + interval '1 hour', 'appr');
\c - postgres
GRANT TRUNCATE ON ff.segment_keys TO regress_ff_appr_devs;
\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
TRUNCATE ff.segment_keys;
\c - postgres
REVOKE TRUNCATE ON ff.segment_keys FROM regress_ff_appr_devs;
\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT ff.can_write_environment('appr') AS dev_may_write, ff.can_write_environment('free') AS dev_may_write_free;
-- other environments are unaffected
SELECT (ff.disable_flag('checkout', 'free')).state;
SELECT ff.current_version() = :v0 + 1 AS only_the_free_change;

-- ---- requests

-- checked now, as the write would be; nothing is written
SELECT ff.request_change('checkout', '{"defaultVariant": "maybe"}', 'appr');
SELECT ff.request_change('checkout', '{"state": "ENABLED"}', 'free');
SELECT ff.request_change(NULL, '{}', 'appr');
SELECT ff.current_version() = :v0 + 1 AS nothing_written;
SELECT id, environment, flag_key, draft, comment, base_version, requested_by, status, reviews
  FROM ff.request_change('checkout', '{"defaultVariant": "on"}', 'appr', comment => 'launch');
SELECT ff.current_version() = :v0 + 1 AS nothing_written;
-- a role outside the allowed roles may not even request
\c - regress_ff_appr_out
\set SHOW_CONTEXT never
SELECT ff.request_change('checkout', '{"defaultVariant": "on"}', 'appr');

-- ---- reviews: approvers only, never the requester, once each

SELECT ff.approve_change(1);
SELECT ff.apply_change(1);
\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT ff.approve_change(1);
\c - regress_ff_appr_lead1
\set SHOW_CONTEXT never
SELECT id, status, jsonb_array_length(reviews) AS approvals FROM ff.approve_change(1, 'looks right');
SELECT ff.approve_change(1);
SELECT ff.apply_change(1);
\c - regress_ff_appr_lead2
\set SHOW_CONTEXT never
SELECT id, status, jsonb_array_length(reviews) AS approvals,
       reviews -> 0 ->> 'role' AS first, reviews -> 1 ->> 'role' AS second
  FROM ff.approve_change(1);
SELECT ff.reject_change(1, 'too late');

-- ---- applying: requester, approvers or ff administrators

\c - regress_ff_appr_out
\set SHOW_CONTEXT never
SELECT ff.apply_change(1);
\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT ff.get_bool('checkout', '{}', false, 'appr') AS before_apply;
SELECT id, status, finished_by FROM ff.apply_change(1);
SELECT c.version = (SELECT max(v.version) FROM ff.versions AS v) AS version_recorded
  FROM ff.change_requests AS c WHERE c.id = 1;
SELECT ff.get_bool('checkout', '{}', false, 'appr') AS after_apply;
SELECT changed_by, session_user_name, comment
  FROM ff.versions ORDER BY version DESC LIMIT 1;
SELECT ff.apply_change(1);
-- the gate closed again: a direct write is still refused
SELECT ff._approved_write() IS NULL AS gate_closed;
SELECT ff.disable_flag('checkout', 'appr');

-- a new flag through a request (no base version)
SELECT id, base_version FROM ff.request_change('theme', '{"variants": {"light": "L", "dark": "D"}, "defaultVariant": "light"}', 'appr');
\c - regress_ff_appr_lead1
\set SHOW_CONTEXT never
SELECT status FROM ff.approve_change(2);
\c - regress_ff_appr_lead2
\set SHOW_CONTEXT never
SELECT status FROM ff.approve_change(2);
SELECT status, finished_by FROM ff.apply_change(2);
SELECT ff.get_string('theme', '{}', 'none', 'appr') AS theme;
SELECT changed_by, session_user_name, operation FROM ff.versions ORDER BY version DESC LIMIT 1;

-- ---- four eyes: the requester's login cannot approve under another role

\c - regress_ff_appr_lead1
\set SHOW_CONTEXT never
SET ROLE regress_ff_appr_devs;
SELECT id, requested_by, requested_session_user FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr');
RESET ROLE;
\set VERBOSITY default
SELECT ff.approve_change(3);
\set VERBOSITY terse
SELECT ff.reject_change(3);
-- the requester (a member of the requesting role) withdraws it
SELECT status, finished_by FROM ff.withdraw_change(3);
SELECT ff.withdraw_change(3);

-- ---- a request applies only over the flag it was reviewed against

\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT id FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr');
\c - regress_ff_appr_lead1
\set SHOW_CONTEXT never
SELECT status FROM ff.approve_change(4);
\c - regress_ff_appr_lead2
\set SHOW_CONTEXT never
SELECT status FROM ff.approve_change(4);
\c - regress_ff_appr_admin
\set SHOW_CONTEXT never
-- ff administrators change the environment directly (recorded as usual)
SELECT (ff.set_default_variant('checkout', 'off', 'appr')).default_variant;
\c - regress_ff_appr_lead2
\set SHOW_CONTEXT never
\set VERBOSITY default
SELECT ff.apply_change(4);
\set VERBOSITY terse
SELECT status FROM ff.change_requests WHERE id = 4;

-- ---- the rule at apply time: approvals that no longer count

\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT status, finished_by FROM ff.withdraw_change(4);
\c - regress_ff_appr_admin
\set SHOW_CONTEXT never
SELECT status FROM ff.withdraw_change(4);
SELECT required_approvals FROM ff.require_approvals('appr', 1, '{regress_ff_appr_leads}');
\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT id FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr');
\c - regress_ff_appr_lead1
\set SHOW_CONTEXT never
SELECT status FROM ff.approve_change(5);
\c - regress_ff_appr_admin
\set SHOW_CONTEXT never
SELECT required_approvals FROM ff.require_approvals('appr', 2, '{regress_ff_appr_leads}');
\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT ff.apply_change(5);
-- (the rule no longer met, it stays approved until it is withdrawn)
SELECT status FROM ff.change_requests WHERE id = 5;
-- a rejected request stays rejected
SELECT id FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr');
\c - regress_ff_appr_lead1
\set SHOW_CONTEXT never
SELECT id, status, reviews -> 0 ->> 'decision' AS decision, reviews -> 0 ->> 'comment' AS why
  FROM ff.reject_change(6, 'not during the sale');
SELECT ff.approve_change(6);
SELECT ff.apply_change(6);

-- only the requester (or its role's members) and ff administrators withdraw
\c - regress_ff_appr_out
\set SHOW_CONTEXT never
SELECT ff.withdraw_change(5);
-- the dry run of a request leaves the caller's own change comment alone
\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
BEGIN;
SET LOCAL ff.change_comment = 'my own comment';
SELECT status FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr');
SHOW ff.change_comment;
ROLLBACK;

-- ---- the log cannot be edited, even by the extension's owner

\c - postgres
\set SHOW_CONTEXT never
UPDATE ff.change_requests SET draft = '{"state": "ENABLED"}' WHERE id = 5;
UPDATE ff.change_requests SET status = 'pending' WHERE id = 6;
UPDATE ff.change_requests SET reviews = '[]' WHERE id = 5;
DELETE FROM ff.change_requests WHERE id = 1;
INSERT INTO ff.change_requests (environment, flag_key, draft, requested_by, requested_session_user, status)
VALUES ('appr', 'checkout', '{}', 'x', 'x', 'approved');
SELECT ff.approve_change(999);
SELECT ff.apply_change(NULL);

-- ---- what PUBLIC and the recipes get

SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may
  FROM pg_proc AS p
 WHERE p.pronamespace = 'ff'::regnamespace
   AND p.proname IN ('require_approvals', 'request_change', 'approve_change', 'reject_change',
                     'withdraw_change', 'apply_change', '_apply_approved_draft', '_approvals_required',
                     '_approved_write')
 ORDER BY 1;
SELECT has_table_privilege('regress_ff_appr_dev', 'ff.change_requests', 'SELECT') AS dev_reads,
       has_table_privilege('regress_ff_appr_dev', 'ff.change_requests', 'INSERT') AS dev_inserts,
       has_table_privilege('regress_ff_appr_dev', 'ff.approval_rules', 'UPDATE') AS dev_sets_rules,
       has_table_privilege('regress_ff_appr_admin', 'ff.approval_rules', 'UPDATE') AS admin_sets_rules;
-- the owner may call it; an empty draft writes nothing (1.24 library: NULL, not the flag's version)
SELECT ff._apply_approved_draft('regress_ff_appr_dev', 'checkout', '{}', 'appr', NULL, false) IS NULL AS owner_writes_nothing;
SET ROLE regress_ff_appr_admin;
SELECT ff._apply_approved_draft('regress_ff_appr_dev', 'checkout', '{}', 'appr', NULL, false);
RESET ROLE;

-- ---- (1.17) the open requests, and a NOTIFY on ff_change_requests at each
-- step of a request (psql prints a notification with the sender's PID:
-- captured and masked, as in 120_notify)
SELECT id, flag_key, status, approvals, approvals_required, approved_by, flag_unchanged
  FROM ff.open_change_requests ORDER BY id;
SET ROLE regress_ff_appr_dev;
SELECT id, status FROM ff.open_change_requests ORDER BY id;
RESET ROLE;
LISTEN ff_change_requests;
\o results/170_approvals.notifications
SELECT id AS notify_id FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr', comment => 'notify') \gset
SELECT status FROM ff.withdraw_change(:notify_id);
-- the other steps, written as the request functions write them (a
-- superuser's UPDATE meets the same guard): a review, the approval that
-- completes a request, its application, a rejection
SELECT id AS notify_id FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr') \gset
UPDATE ff.change_requests
   SET reviews = reviews || '[{"role": "regress_ff_appr_lead1", "decision": "approve"}]'
 WHERE id = :notify_id;
UPDATE ff.change_requests
   SET reviews = reviews || '[{"role": "regress_ff_appr_lead2", "decision": "approve"}]', status = 'approved'
 WHERE id = :notify_id;
UPDATE ff.change_requests SET status = 'applied', finished_at = now(), finished_by = 'regress_ff_appr_lead2'
 WHERE id = :notify_id;
SELECT id AS notify_id FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr') \gset
UPDATE ff.change_requests
   SET reviews = reviews || '[{"role": "regress_ff_appr_lead1", "decision": "reject"}]',
       status = 'rejected', finished_at = now(), finished_by = 'regress_ff_appr_lead1'
 WHERE id = :notify_id;
-- a rolled-back request sends nothing
BEGIN;
SELECT id > 0 AS requested FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr');
ROLLBACK;
\o
\! sed -E -e 's/PID [0-9]+/PID <pid>/' -e 's/"id": [0-9]+/"id": <id>/' results/170_approvals.notifications
UNLISTEN ff_change_requests;
SELECT count(*) AS still_open FROM ff.open_change_requests WHERE comment = 'notify';
-- (1.23) check_function_bodies = off is the pg_dump leniency of the
-- extension's owner only: reviewers and administrators who set it still
-- notify (the request functions run as the owner, so 1.22 took their
-- writes for a restore's and skipped the guard and its NOTIFY)
\c - regress_ff_appr_dev
SELECT id AS notify_id FROM ff.request_change('checkout', '{"state": "DISABLED"}', 'appr', comment => 'cfb') \gset
\c - postgres
LISTEN ff_change_requests;
\o results/170_approvals.notifications
SET check_function_bodies = off;
SET ROLE regress_ff_appr_lead1;
SELECT status FROM ff.approve_change(:notify_id, 'cfb');
RESET ROLE;
SET ROLE regress_ff_appr_admin;
SELECT status FROM ff.withdraw_change(:notify_id);
RESET ROLE;
RESET check_function_bodies;
\o
\! sed -E -e 's/PID [0-9]+/PID <pid>/' -e 's/"id": [0-9]+/"id": <id>/' results/170_approvals.notifications
UNLISTEN ff_change_requests;
SELECT status, count(*) FROM ff.change_requests WHERE comment = 'cfb' GROUP BY status ORDER BY status;

-- ---- (1.17) with a rule, the members of the allowed roles no longer cancel
-- an administrator's scheduled change (a cancellation is a change too);
-- TRUNCATE gets around no guard
SELECT id AS sched_id FROM ff.schedule_change('checkout', '{"state": "DISABLED"}', now() + interval '1 day', 'appr') \gset
SET ROLE regress_ff_appr_dev;
\set VERBOSITY default
SELECT status FROM ff.cancel_scheduled_change(:sched_id);
UPDATE ff.scheduled_changes SET status = 'cancelled' WHERE id = :sched_id;
\set VERBOSITY terse
RESET ROLE;
SELECT status FROM ff.cancel_scheduled_change(:sched_id);
TRUNCATE ff.change_requests;
GRANT TRUNCATE ON ff.approval_rules TO regress_ff_appr_out;
SET ROLE regress_ff_appr_out;
TRUNCATE ff.approval_rules;
RESET ROLE;
REVOKE TRUNCATE ON ff.approval_rules FROM regress_ff_appr_out;
SELECT count(*) AS rules, (SELECT count(*) FROM ff.change_requests) AS requests FROM ff.approval_rules;
-- (1.17) an approval by a role that may not approve (any more) does not
-- count towards approving a request: a review counts as an apply does
SELECT id AS cnt_id FROM ff.request_change('checkout', '{"metadata": {"note": "counted"}}', 'appr') \gset
UPDATE ff.change_requests
   SET reviews = reviews || '[{"role": "regress_ff_appr_out", "session_user": "regress_ff_appr_out", "decision": "approve"}]'
 WHERE id = :cnt_id;
\c - regress_ff_appr_lead1
SELECT status FROM ff.approve_change(:cnt_id);
\c - postgres
SELECT approvals, approvals_required, approved_by FROM ff.open_change_requests WHERE id = :cnt_id;
SELECT status FROM ff.withdraw_change(:cnt_id);
-- (1.17) a pending request whose approvals meet a lowered rule is applied
-- as approved; one with too few says how many it has
SELECT id AS low_id FROM ff.request_change('checkout', '{"metadata": {"note": "lowered"}}', 'appr') \gset
UPDATE ff.change_requests
   SET reviews = reviews || '[{"role": "regress_ff_appr_lead1", "session_user": "regress_ff_appr_lead1", "decision": "approve"}]'
 WHERE id = :low_id;
\set VERBOSITY default
SELECT status FROM ff.apply_change(:low_id);
\set VERBOSITY terse
SELECT required_approvals FROM ff.require_approvals('appr', 1, '{regress_ff_appr_leads}');
SELECT status, version IS NOT NULL AS applied FROM ff.apply_change(:low_id);
SELECT required_approvals FROM ff.require_approvals('appr', 2, '{regress_ff_appr_leads}');

-- ---- (1.24) a request whose flag changed since is not approved (it could
-- not be applied), and a draft that changes nothing is applied with no
-- version
\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT id AS stale_id FROM ff.request_change('checkout', '{"metadata": {"note": "stale"}}', 'appr') \gset
\c - regress_ff_appr_admin
\set SHOW_CONTEXT never
SELECT (ff.apply_draft('checkout', '{"metadata": {"note": "by an admin"}}', 'appr')).metadata;
\c - regress_ff_appr_lead1
\set SHOW_CONTEXT never
\set VERBOSITY default
SELECT ff.approve_change(:stale_id);
\set VERBOSITY terse
SELECT status, jsonb_array_length(reviews) AS reviews FROM ff.change_requests WHERE id = :stale_id;
SELECT status FROM ff.reject_change(:stale_id, 'the flag changed');
\c - regress_ff_appr_dev
\set SHOW_CONTEXT never
SELECT id AS same_id FROM ff.request_change('checkout', '{"metadata": {"note": "by an admin"}}', 'appr') \gset
\c - regress_ff_appr_lead1
SELECT status FROM ff.approve_change(:same_id);
\c - regress_ff_appr_lead2
SELECT status FROM ff.approve_change(:same_id);
SELECT max(version) AS before_same FROM ff.versions \gset
SELECT status, version FROM ff.apply_change(:same_id);
SELECT max(version) = :before_same AS nothing_recorded FROM ff.versions;
\c - postgres

-- ---- removing the rule

SELECT ff.require_approvals('appr', 0) IS NULL AS removed;
SELECT count(*) AS rules FROM ff.approval_rules;
SET ROLE regress_ff_appr_dev;
SELECT (ff.disable_flag('checkout', 'appr')).state;
RESET ROLE;
SELECT (ff.unprotect_environment('appr')).protected;
SELECT id, flag_key, status, requested_by, finished_by FROM ff.change_requests ORDER BY id;
SELECT (ff.verify_history()).ok;

SELECT count(*) > 0 AS revoked FROM ff.revoke_editor('regress_ff_appr_devs');
SELECT count(*) > 0 AS revoked FROM ff.revoke_editor('regress_ff_appr_leads');
SELECT count(*) > 0 AS revoked FROM ff.revoke_editor('regress_ff_appr_out');
SELECT count(*) > 0 AS revoked FROM ff.revoke_admin('regress_ff_appr_admin');
DROP EXTENSION feature_flags CASCADE;
DROP ROLE regress_ff_appr_dev, regress_ff_appr_lead1, regress_ff_appr_lead2,
    regress_ff_appr_out, regress_ff_appr_admin, regress_ff_appr_devs, regress_ff_appr_leads;
