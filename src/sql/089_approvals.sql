-- ---------------------------------------------------------------------
-- Approvals (1.16): change requests that need other people's sign-off
-- before they reach a protected environment.
--
--   ff.require_approvals(environment, approvals, approver_roles)
--   ff.request_change(flag_key, draft, environment, comment)
--   ff.approve_change(id, comment) / ff.reject_change(id, comment)
--   ff.withdraw_change(id)
--   ff.apply_change(id)
--
-- An ff administrator gives a protected environment an approval rule
-- (ff.approval_rules): from then on only ff administrators change it
-- directly.  Everyone else -- the members of its allowed roles included --
-- changes its flags through change requests (ff.change_requests): a draft
-- of one flag (the format ff.evaluate_draft previews and ff.apply_draft
-- saves), checked when it is requested, approved by as many other people
-- as the rule asks (never by the requester: neither the same role nor the
-- same login), then applied with the requester's privileges, in the
-- history as the requester's change with the approvers in its comment.
--
-- The gate is the protection trigger of ff.flags, ff.segments and
-- ff.segment_keys (ff._protect_statement_general), TRUNCATE's and the
-- environment row's: they refuse every write to an environment with a rule
-- by a role that is not an ff administrator, except the one write that
-- ff.apply_change makes (C, src/ff_schedule.c: the gate opens for that
-- flag only, for the duration of the write).  Segments and key lists have
-- no change requests: in an environment with a rule, ff administrators
-- change them.
--
-- A request is immutable: only its status and reviews change, by these
-- functions.  It applies only over the flag it was reviewed against: if
-- the flag changed since it was requested (its version stamp moved), the
-- request cannot be applied and must be made again.  The functions are
-- SECURITY DEFINER and act for the session's role (SET ROLE, else the
-- session user), as the history's changed_by does.
-- ---------------------------------------------------------------------

CREATE TABLE ff.approval_rules (
    environment         text        NOT NULL,
    required_approvals  integer     NOT NULL,
    approver_roles      name[]      NOT NULL DEFAULT '{}',
    set_by              name        NOT NULL DEFAULT CURRENT_USER,
    set_at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT approval_rules_pkey PRIMARY KEY (environment),
    CONSTRAINT approval_rules_environment_fkey FOREIGN KEY (environment)
        REFERENCES ff.environments (name) ON UPDATE CASCADE ON DELETE CASCADE,
    CONSTRAINT approval_rules_required_check CHECK (required_approvals BETWEEN 1 AND 10)
);

COMMENT ON TABLE ff.approval_rules IS
    'Approval rules (1.16): a protected environment listed here is changed directly only by ff administrators; everyone else goes through approved change requests';
COMMENT ON COLUMN ff.approval_rules.environment IS 'The environment (protected)';
COMMENT ON COLUMN ff.approval_rules.required_approvals IS 'How many approvals a change request needs (1 to 10), none of them by the requester';
COMMENT ON COLUMN ff.approval_rules.approver_roles IS 'Whose members may approve; empty: the ff administrators and the members of the environment''s allowed roles';
COMMENT ON COLUMN ff.approval_rules.set_by IS 'The ff administrator who set the rule';
COMMENT ON COLUMN ff.approval_rules.set_at IS 'When the rule was set';
COMMENT ON CONSTRAINT approval_rules_required_check ON ff.approval_rules IS
    'a rule asks for 1 to 10 approvals (ff.require_approvals(environment, 0) removes it)';

CREATE TABLE ff.change_requests (
    id                      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment             text        NOT NULL,
    flag_key                text        NOT NULL,
    draft                   jsonb       NOT NULL,
    comment                 text,
    base_version            bigint,
    requested_by            name        NOT NULL,
    requested_session_user  name        NOT NULL,
    requested_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    status                  text        NOT NULL DEFAULT 'pending',
    reviews                 jsonb       NOT NULL DEFAULT '[]',
    finished_at             timestamptz,
    finished_by             name,
    version                 bigint,
    CONSTRAINT change_requests_status_check
        CHECK (status IN ('pending', 'approved', 'applied', 'rejected', 'withdrawn')),
    CONSTRAINT change_requests_finished_check
        CHECK ((status IN ('pending', 'approved')) = (finished_at IS NULL))
);
CREATE INDEX change_requests_open ON ff.change_requests (environment, flag_key, id)
    WHERE status IN ('pending', 'approved');

COMMENT ON TABLE ff.change_requests IS
    'Change requests (1.16): drafts of flags in environments with an approval rule, applied once approved';
COMMENT ON COLUMN ff.change_requests.id IS 'Number of the request';
COMMENT ON COLUMN ff.change_requests.environment IS 'Environment of the flag';
COMMENT ON COLUMN ff.change_requests.flag_key IS 'Key of the flag the request saves a draft of (created if it does not exist)';
COMMENT ON COLUMN ff.change_requests.draft IS 'The draft: a flagd flag object whose members replace the flag''s (as ff.apply_draft saves it)';
COMMENT ON COLUMN ff.change_requests.comment IS 'Why: recorded in the history of the change';
COMMENT ON COLUMN ff.change_requests.base_version IS 'The flag''s version when the change was requested (NULL: the flag did not exist); the request applies only over that version';
COMMENT ON COLUMN ff.change_requests.requested_by IS 'The role that requested the change (the session''s role); the change is applied with its privileges';
COMMENT ON COLUMN ff.change_requests.requested_session_user IS 'The session user of the request: nobody approves a request from their own login';
COMMENT ON COLUMN ff.change_requests.requested_at IS 'When the change was requested';
COMMENT ON COLUMN ff.change_requests.status IS 'pending, approved (enough approvals), then applied; or rejected or withdrawn';
COMMENT ON COLUMN ff.change_requests.reviews IS 'The approvals and the rejection, in order: [{"role", "session_user", "decision", "comment", "at"}]';
COMMENT ON COLUMN ff.change_requests.finished_at IS 'When the request was applied, rejected or withdrawn (NULL while open)';
COMMENT ON COLUMN ff.change_requests.finished_by IS 'Who applied, rejected or withdrew it';
COMMENT ON COLUMN ff.change_requests.version IS 'The flag''s config version after the change was applied; NULL when the draft changed nothing, the flag already being so (1.24)';
COMMENT ON CONSTRAINT change_requests_status_check ON ff.change_requests IS
    'status is pending, approved, applied, rejected or withdrawn';
COMMENT ON CONSTRAINT change_requests_finished_check ON ff.change_requests IS
    'a request has finished_at exactly when it is no longer open (pending or approved)';
COMMENT ON INDEX ff.change_requests_open IS 'The open requests of each flag';

-- ff._approval_rules_guard is the trigger ff_10_guard of ff.approval_rules:
-- only ff administrators set rules, only on protected environments, with
-- existing approver roles; set_by and set_at say who and when.
CREATE FUNCTION ff._approval_rules_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._restoring() THEN
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF NOT ff._is_environment_admin(CURRENT_USER) THEN
        RAISE EXCEPTION 'role "%" may not change the approval rule of environment "%"', CURRENT_USER,
            CASE TG_OP WHEN 'DELETE' THEN OLD.environment ELSE NEW.environment END
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only ff administrators (roles that may UPDATE ff.environments.protected) set approval rules.',
                  HINT = 'Ask an ff administrator.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment AND e.protected) THEN
        RAISE EXCEPTION 'environment "%" must be protected to require approvals', NEW.environment
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Protection says who may request changes; the approval rule says who must approve them.',
                  HINT = format('Protect it first: SELECT ff.protect_environment(%L, allowed_roles => ''{role}'');', NEW.environment);
    END IF;
    PERFORM ff._check_role_list(NEW.approver_roles, 'approver_roles', NEW.environment,
        'List role names, for example ''{release_managers}'', or ''{}'' for the ff administrators and the allowed roles.');
    NEW.set_by := CURRENT_USER;
    NEW.set_at := pg_catalog.now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._approval_rules_guard() IS
'Trigger ff_10_guard on ff.approval_rules: only ff administrators set rules, on protected environments, with existing approver roles';

CREATE TRIGGER ff_10_guard
    BEFORE INSERT OR UPDATE OR DELETE ON ff.approval_rules
    FOR EACH ROW EXECUTE FUNCTION ff._approval_rules_guard();

-- ff.require_approvals sets (or, with approvals 0, removes) the approval
-- rule of a protected environment.
CREATE FUNCTION ff.require_approvals(environment text, approvals integer DEFAULT 1,
                                     approver_roles name[] DEFAULT '{}')
RETURNS ff.approval_rules
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text;
    result      ff.approval_rules;
BEGIN
    IF environment IS NULL OR approvals IS NULL OR approver_roles IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN environment IS NULL THEN 'environment' WHEN approvals IS NULL THEN 'approvals' ELSE 'approver_roles' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.require_approvals(''production'', 1, ''{release_managers}''); approvals 0 removes the rule.';
    END IF;
    env := ff._resolve_environment(environment);
    IF approvals = 0 THEN
        DELETE FROM ff.approval_rules AS r WHERE r.environment = env;
        RETURN NULL;
    END IF;
    IF approvals NOT BETWEEN 1 AND 10 THEN
        RAISE EXCEPTION 'an approval rule asks for 1 to 10 approvals, not %', approvals
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'approvals 0 removes the rule.';
    END IF;
    INSERT INTO ff.approval_rules AS r (environment, required_approvals, approver_roles)
    VALUES (env, approvals,
            ARRAY(SELECT a FROM unnest(require_approvals.approver_roles) WITH ORDINALITY AS u(a, i)
                  GROUP BY a ORDER BY min(i)))
    ON CONFLICT ON CONSTRAINT approval_rules_pkey DO UPDATE
       SET required_approvals = EXCLUDED.required_approvals, approver_roles = EXCLUDED.approver_roles
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.require_approvals(text, integer, name[]) IS
'Sets the approval rule of a protected environment (approvals 1 to 10; approver_roles empty: ff administrators and allowed roles); approvals 0 removes it (ff administrators only)';

-- ff._may_approve tells whether a role may approve changes of env: a
-- member of the rule's approver roles, or, when the rule names none, an
-- ff administrator or a member of the environment's allowed roles.
CREATE FUNCTION ff._may_approve(role_name name, env text)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    approvers   name[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS o WHERE o.rolname = role_name) THEN
        RETURN false;               -- a dropped role approves nothing
    END IF;
    SELECT r.approver_roles INTO approvers FROM ff.approval_rules AS r WHERE r.environment = env;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF cardinality(approvers) > 0 THEN
        RETURN EXISTS (SELECT 1 FROM unnest(approvers) AS a (rolname)
                         JOIN pg_catalog.pg_roles AS r ON r.rolname = a.rolname
                        WHERE pg_catalog.pg_has_role(role_name, r.oid, 'MEMBER'));
    END IF;
    RETURN ff._may_write(role_name, (SELECT e.allowed_roles FROM ff.environments AS e WHERE e.name = env));
END;
$$;

COMMENT ON FUNCTION ff._may_approve(name, text) IS
'Internal: whether a role may approve change requests of an environment (its approver roles; if none, ff administrators and allowed roles)';

-- ff._flag_version is the version stamp of a flag now (NULL: no flag).
CREATE FUNCTION ff._flag_version(env text, flag_key text)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT f.version FROM ff.flags AS f WHERE f.environment = $1 AND f.key = $2);

COMMENT ON FUNCTION ff._flag_version(text, text) IS
'Internal: the version stamp of a flag now (NULL when it does not exist)';

-- ff._change_request_guard is the trigger ff_10_guard of
-- ff.change_requests: a request's content never changes; only the status
-- moves forward (pending -> approved -> applied, or to rejected or
-- withdrawn), with its reviews growing.  The functions below are the way
-- in; the guard also holds for an administrator's DML.
CREATE FUNCTION ff._change_request_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._restoring() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'change request % cannot be deleted', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Change requests are a log of what was asked, approved and applied.',
                  HINT = format('Withdraw it instead: SELECT ff.withdraw_change(%s);', OLD.id);
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' OR NEW.reviews <> '[]' OR NEW.finished_at IS NOT NULL
           OR NEW.finished_by IS NOT NULL OR NEW.version IS NOT NULL THEN
            RAISE EXCEPTION 'a new change request must be pending, without reviews'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use ff.request_change().';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status NOT IN ('pending', 'approved') THEN
        RAISE EXCEPTION 'change request % is % and cannot change', OLD.id, OLD.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It was %s at %s by %s.', OLD.status, OLD.finished_at, OLD.finished_by),
                  HINT = 'Request the change again with ff.request_change().';
    END IF;
    IF (NEW.id, NEW.environment, NEW.flag_key, NEW.draft, NEW.comment, NEW.base_version,
        NEW.requested_by, NEW.requested_session_user, NEW.requested_at)
       IS DISTINCT FROM
       (OLD.id, OLD.environment, OLD.flag_key, OLD.draft, OLD.comment, OLD.base_version,
        OLD.requested_by, OLD.requested_session_user, OLD.requested_at)
       OR NOT (NEW.reviews @> OLD.reviews AND pg_catalog.jsonb_array_length(NEW.reviews) >= pg_catalog.jsonb_array_length(OLD.reviews))
       OR (OLD.status = 'approved' AND NEW.status = 'pending') THEN
        RAISE EXCEPTION 'change request % cannot be edited', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A request''s draft never changes after it is made: what was approved is what is applied.',
                  HINT = format('Withdraw it (SELECT ff.withdraw_change(%s);) and request the new change.', OLD.id);
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._change_request_guard() IS
'Trigger ff_10_guard on ff.change_requests: a request''s content never changes, only its status moves forward and its reviews grow';

CREATE TRIGGER ff_10_guard
    BEFORE INSERT OR UPDATE OR DELETE ON ff.change_requests
    FOR EACH ROW EXECUTE FUNCTION ff._change_request_guard();

-- ff._apply_approved_draft saves (or, dry_run, only tries) the draft of a
-- change request as its requester, through the approval gate (C,
-- src/ff_schedule.c); returns the version the write gave the flag (1.24
-- library: NULL when the draft changed nothing).
CREATE FUNCTION ff._apply_approved_draft(role_name name, flag_key text, draft jsonb, environment text,
                                         comment text, dry_run boolean)
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_apply_approved_draft';

COMMENT ON FUNCTION ff._apply_approved_draft(name, text, jsonb, text, text, boolean) IS
'Internal: ff.apply_draft as a role, let through the approval gate for that flag only (dry_run: rolled back at once); the write of ff.apply_change';

-- ff._change_request_row locks and returns a change request, or raises
-- undefined_object.
CREATE FUNCTION ff._change_request_row(request_id bigint)
RETURNS ff.change_requests
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r           ff.change_requests;
BEGIN
    IF request_id IS NULL THEN
        RAISE EXCEPTION 'change request id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT id, environment, flag_key, status FROM ff.change_requests WHERE status IN (''pending'', ''approved'') lists the open requests.';
    END IF;
    SELECT * INTO r FROM ff.change_requests AS c WHERE c.id = request_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'change request % does not exist', request_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT id, environment, flag_key, status FROM ff.change_requests WHERE status IN (''pending'', ''approved'') lists the open requests.';
    END IF;
    RETURN r;
END;
$$;

COMMENT ON FUNCTION ff._change_request_row(bigint) IS
'Internal: locks and returns a change request (undefined_object if there is none)';

-- ff._change_request_stale refuses a change request whose flag changed
-- since it was requested (its version is not the request's base_version):
-- ff.apply_change would not apply it, so (1.24) it is not approved either.
CREATE FUNCTION ff._change_request_stale(r ff.change_requests, now_version bigint, hint text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF now_version IS DISTINCT FROM r.base_version THEN
        RAISE EXCEPTION 'flag "%" in environment "%" changed since change request % was made', r.flag_key, r.environment, r.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The request was made over version %s of the flag; it is now %s.',
                                  COALESCE(r.base_version::text, 'none (no flag)'), COALESCE(now_version::text, 'none (deleted)')),
                  HINT = hint;
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._change_request_stale(ff.change_requests, bigint, text) IS
'Internal: raises object_not_in_prerequisite_state when a change request''s flag is no longer at the version it was requested over';

-- ff.request_change asks for a change of a flag in an environment with an
-- approval rule: checked now as the write would be (a dry run through the
-- gate, rolled back), by a role that could make it but for the rule.
CREATE FUNCTION ff.request_change(flag_key text, draft jsonb, environment text DEFAULT NULL,
                                  comment text DEFAULT NULL)
RETURNS ff.change_requests
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'error'
SET check_function_bodies = on
AS $$
DECLARE
    actor       name := ff._actor();
    env         text;
    result      ff.change_requests;
BEGIN
    IF flag_key IS NULL OR draft IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN flag_key IS NULL THEN 'flag key' ELSE 'draft' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.request_change(''checkout'', ''{"state": "ENABLED"}'', ''production'', comment => ''launch'');';
    END IF;
    env := ff._resolve_environment(environment);
    IF ff._approvals_required(env) = 0 THEN
        RAISE EXCEPTION 'environment "%" does not require approvals', env
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Make the change directly (ff.apply_draft()), or have an ff administrator require approvals: SELECT ff.require_approvals(%L, 1);', env);
    END IF;
    -- the requester could make the change, but for the approval rule
    PERFORM ff._check_may_change(actor, env, flag_key, 'request a change of');
    -- the draft as saving it now would check it, with the requester's
    -- privileges; rolled back at once
    PERFORM ff._apply_approved_draft(actor, flag_key, draft, env, NULL, true);
    INSERT INTO ff.change_requests AS c (environment, flag_key, draft, comment, base_version,
                                         requested_by, requested_session_user)
    VALUES (env, flag_key, draft, request_change.comment, ff._flag_version(env, flag_key),
            actor, SESSION_USER)
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.request_change(text, jsonb, text, text) IS
'Requests a change of a flag (a draft, as ff.apply_draft saves it) in an environment that requires approvals; checked now; returns the request';

-- ff.approve_change approves (ff.reject_change rejects) a pending request:
-- by a role that may approve in its environment, other than the requester
-- (neither its role nor its login), once per role.
CREATE FUNCTION ff._review_change(request_id bigint, decision text, review_comment text)
RETURNS ff.change_requests
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor       name := ff._actor();
    r           ff.change_requests := ff._change_request_row(request_id);
    needed      integer;
    approvals   integer;
BEGIN
    IF r.status = 'approved' THEN
        -- (1.17) the HINT says whether it can still be applied under the
        -- rule as it is now
        RAISE EXCEPTION 'change request % is already approved', r.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only pending requests are reviewed.',
                  HINT = CASE WHEN ff._approvals_required(r.environment)
                                   > ff._counting_approvals(r.reviews, r.environment)
                              THEN format('Its approvals no longer meet the rule as it is now: withdraw it (SELECT ff.withdraw_change(%s);) and request the change again.', r.id)
                              ELSE format('Apply it: SELECT ff.apply_change(%s);', r.id) END;
    ELSIF r.status <> 'pending' THEN
        RAISE EXCEPTION 'change request % is % and cannot be reviewed', r.id, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It was %s at %s by %s.', r.status, r.finished_at, r.finished_by);
    END IF;
    needed := ff._approvals_required(r.environment);
    IF needed = 0 THEN
        RAISE EXCEPTION 'environment "%" no longer requires approvals', r.environment
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Withdraw change request %s and make the change directly.', r.id);
    END IF;
    IF NOT ff._may_approve(actor, r.environment) THEN
        RAISE EXCEPTION 'role "%" may not review change requests of environment "%"', actor, r.environment
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = (SELECT CASE WHEN cardinality(a.approver_roles) > 0
                                   THEN 'Reviewers are members of ' || (SELECT string_agg(format('"%s"', x), ', ' ORDER BY x) FROM unnest(a.approver_roles) AS x) || '.'
                                   ELSE 'Reviewers are ff administrators and members of the environment''s allowed roles.' END
                              FROM ff.approval_rules AS a WHERE a.environment = r.environment),
                  HINT = 'Ask an ff administrator; SELECT * FROM ff.approval_rules shows the rules.';
    END IF;
    IF actor = r.requested_by OR SESSION_USER = r.requested_session_user THEN
        RAISE EXCEPTION 'change request % cannot be reviewed by its requester', r.id
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It was requested by role "%s" (session user "%s"); you act as role "%s" (session user "%s").',
                                  r.requested_by, r.requested_session_user, actor, SESSION_USER),
                  HINT = CASE WHEN decision = 'approve' THEN 'Someone else must approve it.'
                              ELSE format('Withdraw it instead: SELECT ff.withdraw_change(%s);', r.id) END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(r.reviews) AS v
                WHERE v ->> 'role' = actor OR v ->> 'session_user' = SESSION_USER) THEN
        RAISE EXCEPTION 'change request % was already approved by role "%" or from login "%"', r.id, actor, SESSION_USER
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Each approval must come from another role and another login; it has %s of %s.',
                                  ff._counting_approvals(r.reviews, r.environment), needed),
                  HINT = 'Someone else must approve it.';
    END IF;
    -- (1.24) a request that can no longer be applied is not approved
    IF decision = 'approve' THEN
        PERFORM ff._change_request_stale(r, ff._flag_version(r.environment, r.flag_key),
            format('Reject it (SELECT ff.reject_change(%s, ''the flag changed'');) or ask its requester to withdraw it and request the change again over the flag as it is now.', r.id));
    END IF;
    r.reviews := r.reviews || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'role', actor, 'session_user', SESSION_USER, 'decision', decision,
        'comment', review_comment, 'at', pg_catalog.clock_timestamp()));
    IF decision = 'reject' THEN
        r.status := 'rejected';
        r.finished_at := pg_catalog.clock_timestamp();
        r.finished_by := actor;
    ELSE
        approvals := ff._counting_approvals(r.reviews, r.environment);
        IF approvals >= needed THEN
            r.status := 'approved';
        END IF;
    END IF;
    UPDATE ff.change_requests AS c
       SET status = r.status, reviews = r.reviews, finished_at = r.finished_at, finished_by = r.finished_by
     WHERE c.id = r.id
    RETURNING * INTO r;
    RETURN r;
END;
$$;

COMMENT ON FUNCTION ff._review_change(bigint, text, text) IS
'Internal: records an approval or a rejection of a pending change request by the session''s role';

CREATE FUNCTION ff.approve_change(id bigint, comment text DEFAULT NULL)
RETURNS ff.change_requests
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET check_function_bodies = on
RETURN ff._review_change($1, 'approve', $2);

COMMENT ON FUNCTION ff.approve_change(bigint, text) IS
'Approves a pending change request (not the requester''s own); with enough approvals it becomes approved, ready for ff.apply_change; returns it';

CREATE FUNCTION ff.reject_change(id bigint, comment text DEFAULT NULL)
RETURNS ff.change_requests
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET check_function_bodies = on
RETURN ff._review_change($1, 'reject', $2);

COMMENT ON FUNCTION ff.reject_change(bigint, text) IS
'Rejects a pending change request (by a reviewer other than the requester); returns it';

-- ff.withdraw_change closes an open request: by its requester (or a member
-- of the requesting role) or an ff administrator.
CREATE FUNCTION ff.withdraw_change(id bigint)
RETURNS ff.change_requests
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET check_function_bodies = on
AS $$
DECLARE
    actor       name := ff._actor();
    r           ff.change_requests := ff._change_request_row(withdraw_change.id);
BEGIN
    IF r.status NOT IN ('pending', 'approved') THEN
        RAISE EXCEPTION 'change request % is % and cannot be withdrawn', r.id, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It was %s at %s by %s.', r.status, r.finished_at, r.finished_by);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS o
                    WHERE o.rolname = r.requested_by AND pg_catalog.pg_has_role(actor, o.oid, 'MEMBER'))
       AND NOT ff._is_environment_admin(actor) THEN
        RAISE EXCEPTION 'role "%" may not withdraw change request %', actor, r.id
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It was requested by role "%s"; its requester and ff administrators withdraw it.', r.requested_by),
                  HINT = format('A reviewer rejects it instead: SELECT ff.reject_change(%s, ''why'');', r.id);
    END IF;
    UPDATE ff.change_requests AS c
       SET status = 'withdrawn', finished_at = pg_catalog.clock_timestamp(), finished_by = actor
     WHERE c.id = r.id
    RETURNING * INTO r;
    RETURN r;
END;
$$;

COMMENT ON FUNCTION ff.withdraw_change(bigint) IS
'Withdraws an open change request (its requester or an ff administrator); returns it';

-- ff.apply_change applies an approved request: by its requester, one of
-- its approvers or an ff administrator; with the requester's privileges
-- (a protection or privilege lost since stops it); only over the flag
-- version it was requested against, and only while the rule's count of
-- approvals is still met.
CREATE FUNCTION ff.apply_change(id bigint)
RETURNS ff.change_requests
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'error'
SET check_function_bodies = on
AS $$
DECLARE
    actor       name := ff._actor();
    r           ff.change_requests := ff._change_request_row(apply_change.id);
    needed      integer;
    counting    bigint;
    approvers   text;
    now_version bigint;
    v           bigint;
    saved       text := pg_catalog.current_setting('ff.change_comment', true);
BEGIN
    -- (1.17) the writer lock before the rule is read: a rule being changed
    -- (its statements take the lock too) is committed and seen, or waits
    -- until this change is made
    PERFORM ff._history_next();
    needed := ff._approvals_required(r.environment);
    counting := ff._counting_approvals(r.reviews, r.environment);
    -- (1.17) a pending request whose approvals meet the rule as it is now
    -- (the rule was lowered since its last review) is applied as approved
    IF r.status = 'pending' AND needed = 0 THEN
        RAISE EXCEPTION 'change request % is pending and cannot be applied', r.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Environment "%s" no longer requires approvals, and the request was never approved.', r.environment),
                  HINT = format('Make the change directly, and withdraw the request: SELECT ff.withdraw_change(%s);', r.id);
    ELSIF r.status NOT IN ('pending', 'approved') OR (r.status = 'pending' AND counting < needed) THEN
        RAISE EXCEPTION 'change request % is % and cannot be applied', r.id, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = CASE WHEN r.status = 'pending'
                                THEN format('It has %s of the %s approvals it needs.', counting, needed)
                                ELSE format('It was %s at %s by %s.', r.status, r.finished_at, r.finished_by) END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS o
                    WHERE o.rolname = r.requested_by AND pg_catalog.pg_has_role(actor, o.oid, 'MEMBER'))
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(r.reviews) AS x WHERE x ->> 'role' = actor)
       AND NOT ff._is_environment_admin(actor) THEN
        RAISE EXCEPTION 'role "%" may not apply change request %', actor, r.id
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Its requester, its approvers and ff administrators apply it.';
    END IF;
    IF needed > counting THEN
        RAISE EXCEPTION 'change request % no longer has the approvals environment "%" requires', r.id, r.environment
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The rule now asks for %s approval(s) by its reviewers; the request has %s that still count.', needed, counting),
                  HINT = format('Withdraw it and request the change again: SELECT ff.withdraw_change(%s);', r.id);
    END IF;
    -- the flag's row is locked before its version is compared, so that a
    -- concurrent change either commits first (and is seen here) or waits
    SELECT f.version INTO now_version FROM ff.flags AS f
     WHERE f.environment = r.environment AND f.key = r.flag_key
       FOR UPDATE;
    PERFORM ff._change_request_stale(r, now_version,
        format('Withdraw it (SELECT ff.withdraw_change(%s);) and request the change again over the flag as it is now.', r.id));
    SELECT string_agg(x ->> 'role', ', ' ORDER BY o) INTO approvers
      FROM pg_catalog.jsonb_array_elements(r.reviews) WITH ORDINALITY AS e (x, o)
     WHERE x ->> 'decision' = 'approve';
    v := ff._apply_approved_draft(r.requested_by, r.flag_key, r.draft, r.environment,
                                  pg_catalog.format('change request %s by %s, approved by %s', r.id, r.requested_by, approvers)
                                  || COALESCE(': ' || r.comment, ''),
                                  false);
    PERFORM pg_catalog.set_config('ff.change_comment', COALESCE(saved, ''), true);
    UPDATE ff.change_requests AS c
       SET status = 'applied', finished_at = pg_catalog.clock_timestamp(), finished_by = actor, version = v
     WHERE c.id = r.id
    RETURNING * INTO r;
    RETURN r;
END;
$$;

COMMENT ON FUNCTION ff.apply_change(bigint) IS
'Applies an approved change request with its requester''s privileges, if the flag has not changed since it was requested; returns it';

-- ff._counting_approvals returns how many approvals of a request count
-- under the environment's rule as it is now: those of roles that may still
-- approve (1.17: one count for reviews, applies, the view and the
-- notifications; before, a review counted every approval given).
CREATE FUNCTION ff._counting_approvals(reviews jsonb, environment text)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*) FROM pg_catalog.jsonb_array_elements(reviews) AS x
     WHERE x ->> 'decision' = 'approve'
       AND ff._may_approve((x ->> 'role')::name, environment)
$$;

COMMENT ON FUNCTION ff._counting_approvals(jsonb, text) IS
'Internal: the approvals of a change request that count under the environment''s rule as it is now (by roles that may still approve)';

-- ff._approvals_truncate_guard is the trigger ff_10_guard_truncate of
-- ff.approval_rules and ff.change_requests (1.17): TRUNCATE gets around the
-- row guards, so the rules are emptied only by ff administrators (as they
-- are changed), and the log of requests never (1.16 let a role granted
-- TRUNCATE, and the owner, do both).
CREATE FUNCTION ff._approvals_truncate_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._restoring() THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'approval_rules' THEN
        IF NOT ff._is_environment_admin(CURRENT_USER) THEN
            RAISE EXCEPTION 'role "%" may not remove the approval rules', CURRENT_USER
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Only ff administrators (roles that may UPDATE ff.environments.protected) set approval rules.',
                      HINT = 'Ask an ff administrator: SELECT ff.require_approvals(''environment'', 0); removes one rule.';
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'change requests cannot be deleted'
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'Change requests are a log of what was asked, approved and applied.',
              HINT = 'Withdraw open requests with ff.withdraw_change(id).';
END;
$$;

COMMENT ON FUNCTION ff._approvals_truncate_guard() IS
'Trigger ff_10_guard_truncate on ff.approval_rules and ff.change_requests: only ff administrators empty the rules, and nobody the log of requests (1.17)';

CREATE TRIGGER ff_10_guard_truncate
    BEFORE TRUNCATE ON ff.approval_rules
    FOR EACH STATEMENT EXECUTE FUNCTION ff._approvals_truncate_guard();
CREATE TRIGGER ff_10_guard_truncate
    BEFORE TRUNCATE ON ff.change_requests
    FOR EACH STATEMENT EXECUTE FUNCTION ff._approvals_truncate_guard();

-- ---------------------------------------------------------------------
-- What is waiting for whom (1.17): a view of the open requests, and a
-- notification at each step of a request
-- ---------------------------------------------------------------------

-- ff.open_change_requests lists the requests that are pending or approved,
-- with the approvals that count under the rule as it is now, and whether
-- the flag is still at the version the request was made over.
CREATE VIEW ff.open_change_requests WITH (security_invoker = true) AS
SELECT r.id, r.environment, r.flag_key, r.status, r.requested_by, r.requested_at, r.comment,
       ff._counting_approvals(r.reviews, r.environment) AS approvals,
       ff._approvals_required(r.environment) AS approvals_required,
       COALESCE(a.approved_by, '{}') AS approved_by,
       f.version IS NOT DISTINCT FROM r.base_version AS flag_unchanged,
       r.draft
  FROM ff.change_requests AS r
  LEFT JOIN ff.flags AS f ON f.environment = r.environment AND f.key = r.flag_key
 CROSS JOIN LATERAL (
       SELECT pg_catalog.array_agg((x ->> 'role')::name ORDER BY o) AS approved_by
         FROM pg_catalog.jsonb_array_elements(r.reviews) WITH ORDINALITY AS e (x, o)
        WHERE x ->> 'decision' = 'approve') AS a
 WHERE r.status IN ('pending', 'approved');

COMMENT ON VIEW ff.open_change_requests IS
    'The open change requests (pending or approved; 1.17): approvals that count under the rule as it is now, approvals required, and whether the flag is unchanged since the request';
COMMENT ON COLUMN ff.open_change_requests.id IS 'Number of the request';
COMMENT ON COLUMN ff.open_change_requests.environment IS 'Environment of the flag';
COMMENT ON COLUMN ff.open_change_requests.flag_key IS 'Key of the flag';
COMMENT ON COLUMN ff.open_change_requests.status IS 'pending, or approved (ready to apply)';
COMMENT ON COLUMN ff.open_change_requests.requested_by IS 'The role that requested the change';
COMMENT ON COLUMN ff.open_change_requests.requested_at IS 'When the change was requested';
COMMENT ON COLUMN ff.open_change_requests.comment IS 'Why';
COMMENT ON COLUMN ff.open_change_requests.approvals IS 'Approvals by roles that may still approve under the environment''s rule';
COMMENT ON COLUMN ff.open_change_requests.approvals_required IS 'Approvals the environment''s rule asks for now (0: the rule was removed)';
COMMENT ON COLUMN ff.open_change_requests.approved_by IS 'The roles that approved, in order';
COMMENT ON COLUMN ff.open_change_requests.flag_unchanged IS 'Whether the flag is still at the version the request was made over (else it cannot be applied)';
COMMENT ON COLUMN ff.open_change_requests.draft IS 'The draft';

-- ff._change_request_notify is the trigger ff_90_notify of
-- ff.change_requests: a NOTIFY on channel ff_change_requests at each step
-- of a request (made, reviewed, approved, applied, rejected, withdrawn),
-- sent at commit, for a bot or a review screen to act on.
CREATE FUNCTION ff._change_request_notify()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event       text;
    by_role     name;
BEGIN
    IF ff._restoring() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        event := 'requested';
        by_role := NEW.requested_by;
    ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status <> 'approved' THEN
        event := NEW.status;
        by_role := NEW.finished_by;
    ELSIF jsonb_array_length(NEW.reviews) > jsonb_array_length(OLD.reviews) THEN
        -- an approval (that may complete the request)
        event := CASE WHEN NEW.status = 'approved' AND OLD.status = 'pending' THEN 'approved' ELSE 'reviewed' END;
        by_role := (NEW.reviews -> -1 ->> 'role')::name;
    ELSE
        RETURN NULL;
    END IF;
    PERFORM pg_notify('ff_change_requests',
                      jsonb_build_object('id', NEW.id, 'environment', NEW.environment, 'flag_key', NEW.flag_key,
                                         'event', event, 'status', NEW.status, 'by', by_role,
                                         'approvals', ff._counting_approvals(NEW.reviews, NEW.environment),
                                         'approvals_required', ff._approvals_required(NEW.environment))::text);
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION ff._change_request_notify() IS
'Trigger ff_90_notify on ff.change_requests: NOTIFY ff_change_requests at each step of a request (1.17)';

CREATE TRIGGER ff_90_notify
    AFTER INSERT OR UPDATE ON ff.change_requests
    FOR EACH ROW EXECUTE FUNCTION ff._change_request_notify();

COMMENT ON TRIGGER ff_90_notify ON ff.change_requests IS
    'Sends a NOTIFY on channel ff_change_requests at each step of a request (1.17)';

SELECT pg_catalog.pg_extension_config_dump('ff.approval_rules', '');
SELECT pg_catalog.pg_extension_config_dump('ff.change_requests', '');
SELECT pg_catalog.pg_extension_config_dump('ff.change_requests_id_seq', '');

REVOKE ALL ON FUNCTION ff._approval_rules_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._change_request_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.require_approvals(text, integer, name[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._apply_approved_draft(name, text, jsonb, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._change_request_row(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._review_change(bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.request_change(text, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.approve_change(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.reject_change(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.withdraw_change(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.apply_change(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._change_request_notify() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._approvals_truncate_guard() FROM PUBLIC;
