-- feature_flags 1.15 -> 1.16 (ALTER EXTENSION feature_flags UPDATE TO '1.16')
--
-- 1.16 changes no existing table and no existing signature.  It adds
-- approvals (src/sql/089_approvals.sql):
--   * ff.approval_rules and ff.require_approvals(environment, approvals,
--     approver_roles): a protected environment with a rule is changed
--     directly only by ff administrators;
--   * ff.change_requests and ff.request_change, ff.approve_change,
--     ff.reject_change, ff.withdraw_change, ff.apply_change;
--   * the gate in the protection triggers (ff._protect_statement_general,
--     ff._protect_truncate, ff._protect_environment), in
--     ff.can_write_environment and in ff._check_may_change (scheduled
--     changes), replaced here;
--   * the editor recipe (ff._recipe_functions) includes the request,
--     review, withdraw and apply functions, the admin recipe
--     ff.require_approvals and (ff.privilege_recipe) the writes of
--     ff.approval_rules; roles given a recipe before the update get them by
--     running ff.grant_editor (or ff.grant_admin) again.
-- The 1.16 library is needed (ff_apply_approved_draft, ff_approved_write).

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.16'" to load this file. \quit

-- ---------------------------------------------------------------------
-- The approval gate's helpers (src/sql/030_validate.sql)
-- ---------------------------------------------------------------------

-- Approvals (1.16; src/sql/089_approvals.sql): the gate's helpers, here
-- because the protection triggers below call them.
--
-- ff._approvals_required is the gate's question: how many approvals a
-- change of the environment needs (0: it has no rule; ff.approval_rules
-- is created with the rest of the approvals).  SECURITY DEFINER,
-- and PUBLIC's, like ff._environment_protection: the protection triggers
-- of every writer ask it.
CREATE FUNCTION ff._approvals_required(environment text)
RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n           integer;
BEGIN
    SELECT r.required_approvals INTO n FROM ff.approval_rules AS r WHERE r.environment = $1;
    RETURN COALESCE(n, 0);
END;
$$;

COMMENT ON FUNCTION ff._approvals_required(text) IS
'Internal: how many approvals a change of the environment needs (0: no approval rule); asked by the protection triggers of any writer';

-- ff._approved_write is the write an approved change request is making
-- now: {environment, flag_key}, or NULL (C, src/ff_schedule.c).  PUBLIC's:
-- the protection triggers of every writer ask it, and it only tells.
CREATE FUNCTION ff._approved_write()
RETURNS text[]
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_approved_write';

COMMENT ON FUNCTION ff._approved_write() IS
'Internal: {environment, flag_key} of the write ff.apply_change is making right now, else NULL (the approval gate lets only that one through)';

-- ff._approval_denied raises the gate's error: current_user may not
-- change an environment with an approval rule directly; what describes
-- the change.
CREATE FUNCTION ff._approval_denied(environment text, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'environment "%" takes changes only through approved change requests', environment
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('The statement would %s. Role "%s" is not an ff administrator, and environment "%s" requires %s approval(s) of every change.',
                              what, current_user, environment, ff._approvals_required(environment)),
              HINT = format('Request the change, for example SELECT ff.request_change(''flag-key'', ''{"state": "ENABLED"}'', %L); segments and key lists there are changed by ff administrators.', environment);
END;
$$;

COMMENT ON FUNCTION ff._approval_denied(text, text) IS
'Internal: raises insufficient_privilege for a direct change of an environment that requires approved change requests';

-- ---------------------------------------------------------------------
-- The protection triggers and ff.can_write_environment with the gate
-- ---------------------------------------------------------------------

-- ff.can_write_environment tells whether a role may change an environment:
-- always for an unprotected (or unknown) one, otherwise for ff
-- administrators and members of the environment's allowed roles.
CREATE OR REPLACE FUNCTION ff.can_write_environment(environment text, role_name name DEFAULT CURRENT_USER)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    allowed     name[];
BEGIN
    IF environment IS NULL OR role_name IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN environment IS NULL THEN 'environment' ELSE 'role_name' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an environment name and a role (role_name defaults to current_user).';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = role_name) THEN
        RAISE EXCEPTION 'role "%" does not exist', role_name
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(environment) AS p;
    IF NOT FOUND THEN
        RETURN true;
    END IF;
    -- approvals (1.16): directly, only ff administrators
    IF ff._approvals_required(environment) > 0 THEN
        RETURN ff._is_environment_admin(role_name);
    END IF;
    RETURN ff._may_write(role_name, allowed);
END;
$$;

COMMENT ON FUNCTION ff.can_write_environment(text, name) IS
'Whether a role (default: current_user) may change the environment directly: true unless it is protected and the role is neither an ff administrator nor a member of its allowed roles, or it requires approvals (1.16) and the role is not an ff administrator';

-- ff._protect_statement_general does the work of the statement triggers
-- ff_95_protect_insert/_update/_delete on ff.flags, ff.segments and
-- ff.segment_keys when some environment is protected (their function,
-- ff._protect_statement, is C and returns at once when none is).  It reads
-- the transition tables ff_protect_new and ff_protect_old and checks every
-- environment the statement touches (usually one) once.  It runs after the
-- history triggers have taken the writer lock, so it sees every committed
-- protection change.
CREATE OR REPLACE FUNCTION ff._protect_statement_general()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text;
    one         jsonb;
    verb        text;
    allowed     name[];
    protected_envs text[];
    gate        text[];
BEGIN
    -- no protected environment among the touched ones (the usual case: no
    -- protected environment at all) means nothing to check
    SELECT pg_catalog.array_agg(p.name) INTO protected_envs
      FROM ff._environment_protection(NULL) AS p;
    IF protected_envs IS NULL THEN
        RETURN NULL;
    END IF;

    -- for each touched protected environment, the check of
    -- ff._check_environment_writable(), written out so that the
    -- description of the change (a row image) is only built for the error
    IF TG_OP = 'INSERT' THEN
        verb := CASE TG_TABLE_NAME WHEN 'segment_keys' THEN 'add' ELSE 'create' END;
        FOR env IN SELECT DISTINCT k.environment FROM ff_protect_new AS k
                    WHERE k.environment = ANY (protected_envs) ORDER BY 1 LOOP
            SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(env) AS p;
            IF FOUND AND NOT ff._may_write(current_user, allowed) THEN
                SELECT to_jsonb(k) INTO one FROM ff_protect_new AS k WHERE k.environment = env LIMIT 1;
                PERFORM ff._protection_denied(env, allowed, ff._protect_what(TG_TABLE_NAME, verb, one));
            END IF;
        END LOOP;
        -- approvals (1.16): an environment with an approval rule takes
        -- direct changes from ff administrators only, and the one flag
        -- write of ff.apply_change (gate: its {environment, key})
        IF NOT ff._is_environment_admin(current_user) THEN
            gate := ff._approved_write();
            FOR env IN SELECT DISTINCT k.environment FROM ff_protect_new AS k
                        WHERE k.environment = ANY (protected_envs)
                          AND ff._approvals_required(k.environment) > 0 ORDER BY 1 LOOP
                IF TG_TABLE_NAME <> 'flags' OR gate IS NULL OR gate[1] <> env
                   OR EXISTS (SELECT 1 FROM ff_protect_new AS k
                               WHERE k.environment = env AND to_jsonb(k) ->> 'key' <> gate[2]) THEN
                    SELECT to_jsonb(k) INTO one FROM ff_protect_new AS k WHERE k.environment = env LIMIT 1;
                    PERFORM ff._approval_denied(env, ff._protect_what(TG_TABLE_NAME, verb, one));
                END IF;
            END LOOP;
        END IF;
        RETURN NULL;
    END IF;

    verb := CASE WHEN TG_OP = 'UPDATE' THEN 'change'
                 WHEN TG_TABLE_NAME = 'segment_keys' THEN 'remove' ELSE 'delete' END;
    FOR env IN SELECT DISTINCT k.environment FROM ff_protect_old AS k
                    WHERE k.environment = ANY (protected_envs) ORDER BY 1 LOOP
        SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(env) AS p;
        IF FOUND AND NOT ff._may_write(current_user, allowed) THEN
            SELECT to_jsonb(k) INTO one FROM ff_protect_old AS k WHERE k.environment = env LIMIT 1;
            PERFORM ff._protection_denied(env, allowed, ff._protect_what(TG_TABLE_NAME, verb, one));
        END IF;
    END LOOP;
    IF TG_OP = 'UPDATE' THEN
        -- rows moved into another environment
        FOR env IN SELECT DISTINCT n.environment FROM ff_protect_new AS n
                    WHERE n.environment = ANY (protected_envs)
                      AND NOT EXISTS (SELECT 1 FROM ff_protect_old AS o WHERE o.environment = n.environment)
                    ORDER BY 1 LOOP
            SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(env) AS p;
            IF FOUND AND NOT ff._may_write(current_user, allowed) THEN
                SELECT to_jsonb(k) INTO one FROM ff_protect_new AS k WHERE k.environment = env LIMIT 1;
                PERFORM ff._protection_denied(env, allowed,
                    ff._protect_what(TG_TABLE_NAME, 'move', one) || ' into this environment');
            END IF;
        END LOOP;
    END IF;
    -- approvals (1.16), as for INSERT above: the old rows' environments, and
    -- for an UPDATE the new rows' too
    IF NOT ff._is_environment_admin(current_user) THEN
        gate := ff._approved_write();
        FOR env IN SELECT DISTINCT k.environment FROM ff_protect_old AS k
                    WHERE k.environment = ANY (protected_envs)
                      AND ff._approvals_required(k.environment) > 0 ORDER BY 1 LOOP
            IF TG_OP <> 'UPDATE' OR TG_TABLE_NAME <> 'flags' OR gate IS NULL OR gate[1] <> env
               OR EXISTS (SELECT 1 FROM ff_protect_old AS k
                           WHERE k.environment = env AND to_jsonb(k) ->> 'key' <> gate[2]) THEN
                SELECT to_jsonb(k) INTO one FROM ff_protect_old AS k WHERE k.environment = env LIMIT 1;
                PERFORM ff._approval_denied(env, ff._protect_what(TG_TABLE_NAME, verb, one));
            END IF;
        END LOOP;
        IF TG_OP = 'UPDATE' THEN
            FOR env IN SELECT DISTINCT k.environment FROM ff_protect_new AS k
                        WHERE k.environment = ANY (protected_envs)
                          AND ff._approvals_required(k.environment) > 0 ORDER BY 1 LOOP
                IF TG_TABLE_NAME <> 'flags' OR gate IS NULL OR gate[1] <> env
                   OR EXISTS (SELECT 1 FROM ff_protect_new AS k
                               WHERE k.environment = env AND to_jsonb(k) ->> 'key' <> gate[2]) THEN
                    SELECT to_jsonb(k) INTO one FROM ff_protect_new AS k WHERE k.environment = env LIMIT 1;
                    PERFORM ff._approval_denied(env, ff._protect_what(TG_TABLE_NAME, verb, one));
                END IF;
            END LOOP;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION ff._protect_statement_general() IS
'Internal: the check of ff._protect_statement() when an environment is protected: refuses changes in protected environments that current_user may not change';

-- ff._protect_truncate is the trigger function of ff_05_protect_truncate:
-- TRUNCATE empties every environment, so it needs every protected one.
CREATE OR REPLACE FUNCTION ff._protect_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p           record;
BEGIN
    FOR p IN SELECT * FROM ff._environment_protection(NULL) LOOP
        IF NOT ff._may_write(current_user, p.allowed_roles) THEN
            PERFORM ff._protection_denied(p.name, p.allowed_roles,
                format('empty %s.%s (TRUNCATE), which holds rows of every environment', TG_TABLE_SCHEMA, TG_TABLE_NAME));
        END IF;
        -- approvals (1.16): only ff administrators change such an environment directly
        IF ff._approvals_required(p.name) > 0 AND NOT ff._is_environment_admin(current_user) THEN
            PERFORM ff._approval_denied(p.name,
                format('empty %s.%s (TRUNCATE), which holds rows of every environment', TG_TABLE_SCHEMA, TG_TABLE_NAME));
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION ff._protect_truncate() IS
'Trigger function of ff_05_protect_truncate: refuses TRUNCATE of a configuration table while a protected environment exists that current_user may not change';

-- ff._check_role_list refuses a list of roles of an environment (its
-- allowed_roles; 1.16: an approval rule's approver_roles) that holds a NULL
-- or names a role that does not exist.
CREATE FUNCTION ff._check_role_list(roles name[], list_name text, environment text, null_hint text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing     name;
BEGIN
    IF array_position(roles, NULL) IS NOT NULL THEN
        RAISE EXCEPTION '% of environment "%" contains NULL', list_name, environment
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = null_hint;
    END IF;
    SELECT a INTO missing FROM unnest(roles) AS a
     WHERE NOT EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = a)
     LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'role "%" in % of environment "%" does not exist', missing, list_name, environment
            USING ERRCODE = 'undefined_object',
                  HINT = format('Create it first (CREATE ROLE %s NOLOGIN;), or leave it out.', quote_ident(missing));
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._check_role_list(name[], text, text, text) IS
'Internal: refuses a role list of an environment (allowed_roles, approver_roles) that holds a NULL or a role that does not exist';

-- ff._protect_environment is the trigger function of ff_05_protect on
-- ff.environments: a protected environment's row changes only for
-- allowed roles; protected and allowed_roles change only for ff
-- administrators; allowed_roles names existing roles.
CREATE OR REPLACE FUNCTION ff._protect_environment()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.protected
       AND NOT ff._may_write(current_user, OLD.allowed_roles) THEN
        PERFORM ff._protection_denied(OLD.name, OLD.allowed_roles,
            CASE TG_OP WHEN 'DELETE' THEN 'delete the environment' ELSE 'change the environment''s own row' END);
    END IF;
    -- approvals (1.16): the row of an environment with an approval rule
    -- changes only for ff administrators, and keeps its protection while
    -- the rule exists
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.protected AND ff._approvals_required(OLD.name) > 0 THEN
        IF NOT ff._is_environment_admin(current_user) THEN
            PERFORM ff._approval_denied(OLD.name,
                CASE TG_OP WHEN 'DELETE' THEN 'delete the environment' ELSE 'change the environment''s own row' END);
        END IF;
        IF TG_OP = 'UPDATE' AND NOT NEW.protected AND NOT ff._restoring() THEN
            RAISE EXCEPTION 'environment "%" requires approvals and must stay protected', OLD.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Remove its approval rule first: SELECT ff.require_approvals(%L, 0);', OLD.name);
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF (TG_OP = 'INSERT' AND (NEW.protected OR NEW.allowed_roles <> '{}'))
       OR (TG_OP = 'UPDATE' AND (NEW.protected IS DISTINCT FROM OLD.protected
                                 OR NEW.allowed_roles IS DISTINCT FROM OLD.allowed_roles)) THEN
        IF NOT ff._is_environment_admin(current_user) THEN
            RAISE EXCEPTION 'role "%" may not change the protection of environment "%"', current_user, NEW.name
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Only ff administrators (roles that may UPDATE ff.environments.protected) set protected and allowed_roles.',
                      HINT = format('Ask an ff administrator: SELECT ff.protect_environment(%L, allowed_roles => ''{role}'');', NEW.name);
        END IF;
        IF NEW.allowed_roles IS NOT NULL AND NOT ff._restoring() THEN
            PERFORM ff._check_role_list(NEW.allowed_roles, 'allowed_roles', NEW.name,
                                        'List role names, for example ''{release_managers}''.');
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._protect_environment() IS
'Trigger function of ff_05_protect on ff.environments: protected rows change only for allowed roles, protection settings only for ff administrators';

-- ---------------------------------------------------------------------
-- Scheduled changes: the check a change request shares
-- ---------------------------------------------------------------------

-- ff._check_may_change raises insufficient_privilege unless role_name may
-- change flag_key in env, but for an approval rule: write ff.flags (INSERT
-- for a new flag, UPDATE for an existing one) and the environment
-- (protection).  The checks of a new scheduled change and of a change
-- request (1.16); for a scheduled change the approval rule is the gate's,
-- met by the dry run of the write that follows.
CREATE OR REPLACE FUNCTION ff._check_may_change(role_name name, env text, flag_key text, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    priv        text := CASE WHEN EXISTS (SELECT 1 FROM ff.flags AS f
                                           WHERE f.environment = env AND f.key = flag_key)
                             THEN 'UPDATE' ELSE 'INSERT' END;
    allowed     name[];
BEGIN
    IF NOT has_function_privilege(role_name, 'ff.apply_draft(text, jsonb, text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied to % flag "%" in environment "%"', what, flag_key, env
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Role "%s" may not execute ff.apply_draft(), which applies the change.', role_name),
                  HINT = 'A scheduled change or a change request is applied with the privileges of the role that makes it; ff.grant_editor() gives a role the privileges to change flags.';
    END IF;
    IF NOT has_table_privilege(role_name, 'ff.flags', priv) THEN
        RAISE EXCEPTION 'permission denied to % flag "%" in environment "%"', what, flag_key, env
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Role "%s" has no %s privilege on ff.flags.', role_name, priv),
                  HINT = 'A scheduled change or a change request is applied with the privileges of the role that makes it; ff.grant_editor() gives a role the privileges to change flags.';
    END IF;
    SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(env) AS p;
    IF FOUND AND NOT ff._may_write(role_name, allowed) THEN
        RAISE EXCEPTION 'permission denied to % flag "%" in environment "%"', what, flag_key, env
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Environment "%s" is protected, and role "%s" is neither an ff administrator nor a member of its allowed roles.', env, role_name),
                  HINT = 'A scheduled change or a change request is applied with the privileges of the role that makes it; ff.protect_environment() sets the roles that may change a protected environment.';
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._check_may_change(name, text, text, text) IS
'Internal: raises insufficient_privilege unless a role may change a flag in an environment, but for an approval rule (table privilege and environment protection)';

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
COMMENT ON COLUMN ff.change_requests.version IS 'The flag''s config version after the change was applied';
COMMENT ON CONSTRAINT change_requests_status_check ON ff.change_requests IS
    'status is pending, approved, applied, rejected or withdrawn';
COMMENT ON CONSTRAINT change_requests_finished_check ON ff.change_requests IS
    'a request has finished_at exactly when it is no longer open (pending or approved)';
COMMENT ON INDEX ff.change_requests_open IS 'The open requests of each flag';

-- ff._actor is the role the change-request functions act for: the
-- session's role (SET ROLE, else the session user), as the history's
-- changed_by; they are SECURITY DEFINER, so current_user is the owner.
CREATE FUNCTION ff._actor()
RETURNS name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN pg_catalog.current_setting('role') = 'none' THEN SESSION_USER
            ELSE pg_catalog.current_setting('role')::name END;

COMMENT ON FUNCTION ff._actor() IS
'Internal: the role the change-request functions act for: the session''s role (SET ROLE, else the session user)';

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
-- src/ff_schedule.c); returns the flag's version.
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
                  HINT = 'Make the change directly (ff.apply_draft()), or have an ff administrator require approvals: SELECT ff.require_approvals(environment, 1);';
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
        RAISE EXCEPTION 'change request % is already approved', r.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It has all the approvals it needs; only pending requests are reviewed.',
                  HINT = format('Apply it: SELECT ff.apply_change(%s);', r.id);
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
                                  pg_catalog.jsonb_array_length(r.reviews), needed),
                  HINT = 'Someone else must approve it.';
    END IF;
    r.reviews := r.reviews || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'role', actor, 'session_user', SESSION_USER, 'decision', decision,
        'comment', review_comment, 'at', pg_catalog.clock_timestamp()));
    IF decision = 'reject' THEN
        r.status := 'rejected';
        r.finished_at := pg_catalog.clock_timestamp();
        r.finished_by := actor;
    ELSE
        SELECT count(*) INTO approvals FROM pg_catalog.jsonb_array_elements(r.reviews) AS v
         WHERE v ->> 'decision' = 'approve';
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
RETURN ff._review_change($1, 'approve', $2);

COMMENT ON FUNCTION ff.approve_change(bigint, text) IS
'Approves a pending change request (not the requester''s own); with enough approvals it becomes approved, ready for ff.apply_change; returns it';

CREATE FUNCTION ff.reject_change(id bigint, comment text DEFAULT NULL)
RETURNS ff.change_requests
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
    approvers   text;
    now_version bigint;
    v           bigint;
    saved       text := pg_catalog.current_setting('ff.change_comment', true);
BEGIN
    IF r.status <> 'approved' THEN
        RAISE EXCEPTION 'change request % is % and cannot be applied', r.id, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = CASE WHEN r.status = 'pending'
                                THEN format('It has %s of the %s approvals it needs.',
                                            (SELECT count(*) FROM pg_catalog.jsonb_array_elements(r.reviews) AS x
                                              WHERE x ->> 'decision' = 'approve'),
                                            ff._approvals_required(r.environment))
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
    needed := ff._approvals_required(r.environment);
    IF needed > (SELECT count(*) FROM pg_catalog.jsonb_array_elements(r.reviews) AS x
                  WHERE x ->> 'decision' = 'approve'
                    AND ff._may_approve((x ->> 'role')::name, r.environment)) THEN
        RAISE EXCEPTION 'change request % no longer has the approvals environment "%" requires', r.id, r.environment
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The rule now asks for %s approval(s) by its reviewers (or has been removed); the request has fewer that still count.', needed),
                  HINT = format('Withdraw it and request the change again: SELECT ff.withdraw_change(%s);', r.id);
    END IF;
    -- the flag's row is locked before its version is compared, so that a
    -- concurrent change either commits first (and is seen here) or waits
    SELECT f.version INTO now_version FROM ff.flags AS f
     WHERE f.environment = r.environment AND f.key = r.flag_key
       FOR UPDATE;
    IF now_version IS DISTINCT FROM r.base_version THEN
        RAISE EXCEPTION 'flag "%" in environment "%" changed since change request % was made', r.flag_key, r.environment, r.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The request was reviewed against version %s of the flag; it is now %s.',
                                  COALESCE(r.base_version::text, 'none (no flag)'), COALESCE(now_version::text, 'none (deleted)')),
                  HINT = format('Withdraw it (SELECT ff.withdraw_change(%s);) and request the change again over the flag as it is now.', r.id);
    END IF;
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

-- ---------------------------------------------------------------------
-- The recipes
-- ---------------------------------------------------------------------

-- ff._recipe_functions lists the functions whose EXECUTE a level adds to
-- the level below it (the ones that exist: each part of the extension
-- brings its own).
CREATE OR REPLACE FUNCTION ff._recipe_functions(level text)
RETURNS SETOF regprocedure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.oid::pg_catalog.regprocedure
      FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'ff'::pg_catalog.regnamespace
       AND p.proname = ANY (CASE $1
           WHEN 'reader' THEN ARRAY[
               'evaluate', 'get_bool', 'get_string', 'get_int', 'get_float', 'get_object',
               'evaluate_all', 'evaluate_row', 'get_bool_row', 'get_string_row', 'get_int_row',
               'get_float_row', 'get_object_row', 'json_logic', 'bucket', 'cache_info',
               'current_version']
           WHEN 'editor' THEN ARRAY[
               'create_flag', 'set_targeting', 'set_default_variant', 'enable_flag', 'disable_flag',
               '_set_state', 'set_rollout', 'copy_flag', '_copy_segments', 'delete_flag',
               'create_segment', 'set_segment_rule', 'delete_segment', 'add_segment_keys',
               'remove_segment_keys', 'import_flagd', 'export_flagd', 'can_write_environment',
               'changes_since', 'verify_history', 'comment_change', 'rollback_flag', 'rollback_segment',
               'version_at', 'evaluate_at', 'evaluate_at_version', '_evaluate_image',
               'evaluate_draft', 'evaluate_draft_row', 'apply_draft', 'schedule_change',
               'schedule_rollout', 'cancel_scheduled_change', 'run_scheduled_changes',
               'evaluation_stats', 'evaluation_stats_info', 'request_change', 'approve_change',
               'reject_change', 'withdraw_change', 'apply_change']
           WHEN 'admin' THEN ARRAY[
               'create_environment', 'set_default_environment', 'delete_environment',
               'copy_environment', 'rollback_environment', 'protect_environment',
               'unprotect_environment', 'reset_evaluation_stats', 'require_approvals']
       END::pg_catalog.name[])
     ORDER BY p.proname, p.oid::pg_catalog.regprocedure::pg_catalog.text
$$;

COMMENT ON FUNCTION ff._recipe_functions(text) IS
'Internal: the functions whose EXECUTE privilege a recipe level (reader, editor, admin) adds to the level below';

-- ff.privilege_recipe returns the GRANT (or, with revoke, REVOKE)
-- statements of a level for a grantee, in the order they are run.  The
-- levels are cumulative: editor includes reader, admin includes editor.
CREATE OR REPLACE FUNCTION ff.privilege_recipe(level text, grantee name, revoke boolean DEFAULT false)
RETURNS SETOF text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    levels      text[];
    lvl         text;
    verb        text := CASE WHEN revoke THEN 'REVOKE' ELSE 'GRANT' END;
    dir         text := CASE WHEN revoke THEN 'FROM' ELSE 'TO' END;
    who         text := quote_ident(grantee);
    fn          regprocedure;
    rel         text;
    readable    text;
BEGIN
    IF grantee IS NULL THEN
        RAISE EXCEPTION 'grantee must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF level IS NULL OR revoke IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN level IS NULL THEN 'level' ELSE 'revoke' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'The levels are ''reader'', ''editor'' and ''admin''; revoke is true or false.';
    END IF;
    levels := CASE level
        WHEN 'reader' THEN ARRAY['reader']
        WHEN 'editor' THEN ARRAY['reader', 'editor']
        WHEN 'admin' THEN ARRAY['reader', 'editor', 'admin']
    END;
    IF levels IS NULL THEN
        RAISE EXCEPTION 'unknown privilege level "%"', level
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The levels are ''reader'', ''editor'' and ''admin''.';
    END IF;

    RETURN NEXT format('%s USAGE ON SCHEMA ff %s %s', verb, dir, who);
    FOREACH lvl IN ARRAY levels LOOP
        FOR fn IN SELECT f FROM ff._recipe_functions(lvl) AS f LOOP
            RETURN NEXT format('%s EXECUTE ON FUNCTION %s %s %s', verb, fn, dir, who);
        END LOOP;
        IF lvl = 'editor' THEN
            -- read every table and view
            SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.relname) INTO readable
              FROM pg_class AS c
             WHERE c.relnamespace = 'ff'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p');
            RETURN NEXT format('%s SELECT ON %s %s %s', verb, readable, dir, who);
            RETURN NEXT format('%s INSERT, UPDATE, DELETE ON ff.flags, ff.segments, ff.segment_keys %s %s',
                               verb, dir, who);
            RETURN NEXT format('%s UPDATE (metadata, description) ON ff.environments %s %s', verb, dir, who);
            -- schedule (INSERT of the columns a change is made of: not its
            -- id, creator or status) and cancel (the status) changes (1.14)
            RETURN NEXT format('%s INSERT (environment, flag_key, draft, run_at, comment), UPDATE (status) ON ff.scheduled_changes %s %s',
                               verb, dir, who);
        ELSIF lvl = 'admin' THEN
            -- UPDATE on the whole table, hence on "protected": an ff administrator
            RETURN NEXT format('%s INSERT, UPDATE, DELETE ON ff.environments %s %s', verb, dir, who);
            -- approval rules (1.16; their guard checks the administrator too)
            RETURN NEXT format('%s INSERT, UPDATE, DELETE ON ff.approval_rules %s %s', verb, dir, who);
        END IF;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION ff.privilege_recipe(text, name, boolean) IS
'The GRANT (revoke => true: REVOKE) statements of a privilege level (reader, editor, admin; cumulative) for a grantee';

-- ---------------------------------------------------------------------
-- NULL arguments that were taken as a choice (1.16): ff.copy_flag and
-- ff.copy_environment overwrote with overwrite => NULL, and
-- ff.set_default_environment(NULL) did nothing without a word
-- ---------------------------------------------------------------------

CREATE OR REPLACE FUNCTION ff.set_default_environment(name text)
RETURNS ff.environments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text;
    result      ff.environments;
BEGIN
    -- (NULL would resolve to the default environment: a silent no-op)
    IF set_default_environment.name IS NULL THEN
        RAISE EXCEPTION 'environment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment, for example SELECT ff.set_default_environment(''production'');';
    END IF;
    env := ff._resolve_environment(set_default_environment.name);
    UPDATE ff.environments SET is_default = true WHERE name = env AND NOT is_default;
    SELECT * INTO result FROM ff.environments WHERE name = env;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.set_default_environment(text) IS
'Makes the environment the default one (used when no environment is given and ff.environment is empty)';

CREATE OR REPLACE FUNCTION ff.copy_environment(from_environment text, to_environment text, overwrite boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'warning'
AS $$
#variable_conflict use_column
DECLARE
    src_env     text := ff._resolve_environment(from_environment);
    dst_env     text := to_environment;
    clash       text;
    n           integer;
BEGIN
    IF dst_env IS NULL THEN
        RAISE EXCEPTION 'to_environment must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- (a NULL overwrite used to skip the clash check, and so overwrite)
    IF overwrite IS NULL THEN
        RAISE EXCEPTION 'overwrite must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass overwrite => true to replace same-named flags and segments, or false (the default) to refuse them.';
    END IF;
    IF dst_env = src_env THEN
        RAISE EXCEPTION 'cannot copy environment "%" onto itself', src_env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name another environment as to_environment; it is created when it does not exist.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.environments WHERE name = dst_env) THEN
        INSERT INTO ff.environments (name, description, metadata)
        SELECT dst_env, format('Copy of environment "%s"', src_env), e.metadata
          FROM ff.environments AS e WHERE e.name = src_env;
    ELSIF NOT overwrite THEN
        SELECT string_agg(x, ', ') INTO clash FROM (
            SELECT format('flag "%s"', f.key) AS x FROM ff.flags AS f
             WHERE f.environment = src_env
               AND EXISTS (SELECT 1 FROM ff.flags AS t WHERE t.environment = dst_env AND t.key = f.key)
            UNION ALL
            SELECT format('segment "%s"', s.name) FROM ff.segments AS s
             WHERE s.environment = src_env
               AND EXISTS (SELECT 1 FROM ff.segments AS t WHERE t.environment = dst_env AND t.name = s.name)
        ) AS c;
        IF clash IS NOT NULL THEN
            RAISE EXCEPTION 'cannot copy environment "%" into "%": both have %', src_env, dst_env, clash
                USING ERRCODE = 'unique_violation',
                      HINT = 'Pass overwrite => true to replace them with the source''s definitions.';
        END IF;
    END IF;

    PERFORM ff._copy_segments(src_env, dst_env,
        ARRAY(SELECT s.name FROM ff.segments AS s WHERE s.environment = src_env), overwrite);

    INSERT INTO ff.flags AS t (environment, key, state, flag_type, variants, default_variant, targeting,
                               metadata, description, tags, owner)
    SELECT dst_env, f.key, f.state, f.flag_type, f.variants, f.default_variant, f.targeting,
           f.metadata, f.description, f.tags, f.owner
      FROM ff.flags AS f WHERE f.environment = src_env
     ORDER BY f.key
    ON CONFLICT (environment, key) DO UPDATE
       SET state = EXCLUDED.state, flag_type = EXCLUDED.flag_type, variants = EXCLUDED.variants,
           default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
           metadata = EXCLUDED.metadata, description = EXCLUDED.description,
           tags = EXCLUDED.tags, owner = EXCLUDED.owner
     WHERE (t.state, t.flag_type, t.variants, t.default_variant, t.targeting, t.metadata,
            t.description, t.tags, t.owner)
           IS DISTINCT FROM
           (EXCLUDED.state, EXCLUDED.flag_type, EXCLUDED.variants, EXCLUDED.default_variant,
            EXCLUDED.targeting, EXCLUDED.metadata, EXCLUDED.description, EXCLUDED.tags, EXCLUDED.owner);
    SELECT count(*) INTO n FROM ff.flags AS f WHERE f.environment = src_env;
    RETURN n;
END;
$$;

COMMENT ON FUNCTION ff.copy_environment(text, text, boolean) IS
'Copies all segments (with keys) and flags of an environment into another (created if missing); returns the number of flags copied; overwrite => true replaces same-named ones';

-- ---------------------------------------------------------------------
-- Flags
-- ---------------------------------------------------------------------

CREATE OR REPLACE FUNCTION ff.copy_flag(key text, from_environment text, to_environment text,
                             overwrite boolean DEFAULT false, new_key text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'warning'
AS $$
#variable_conflict use_column
DECLARE
    src_env     text := ff._resolve_environment(from_environment);
    dst_env     text := ff._resolve_environment(to_environment);
    src         ff.flags := ff._flag_row(copy_flag.key, src_env);
    dst_key     text := COALESCE(new_key, copy_flag.key);
    result      ff.flags;
BEGIN
    -- (a NULL overwrite used to skip the check below, and so overwrite)
    IF overwrite IS NULL THEN
        RAISE EXCEPTION 'overwrite must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass overwrite => true to replace an existing flag, or false (the default) to refuse it.';
    END IF;
    IF src_env = dst_env AND dst_key = src.key THEN
        RAISE EXCEPTION 'cannot copy flag "%" onto itself in environment "%"', src.key, src_env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name another environment, or a new key with new_key => ''...''.';
    END IF;
    IF NOT overwrite AND EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = dst_env AND f.key = dst_key) THEN
        RAISE EXCEPTION 'flag "%" already exists in environment "%"', dst_key, dst_env
            USING ERRCODE = 'unique_violation',
                  HINT = 'Pass overwrite => true to replace it.';
    END IF;
    IF src.targeting IS NOT NULL AND src_env <> dst_env THEN
        -- (the segments that exist: a rule stored with a WARNING, which is
        -- not checked for segment references, may name a missing one, 1.11)
        PERFORM ff._copy_segments(src_env, dst_env,
            ARRAY(SELECT s FROM unnest(ff._rule_segment_names(src.targeting,
                      format('targeting for flag "%s" in environment "%s"', src.key, src_env))) AS s
                   WHERE NOT EXISTS (SELECT 1 FROM ff.segments AS g WHERE g.environment = dst_env AND g.name = s)
                     AND EXISTS (SELECT 1 FROM ff.segments AS g WHERE g.environment = src_env AND g.name = s)),
            false);
    END IF;
    INSERT INTO ff.flags AS t (environment, key, state, flag_type, variants, default_variant, targeting,
                               metadata, description, tags, owner)
    VALUES (dst_env, dst_key, src.state, src.flag_type, src.variants, src.default_variant, src.targeting,
            src.metadata, src.description, src.tags, src.owner)
    ON CONFLICT (environment, key) DO UPDATE
       SET state = EXCLUDED.state, flag_type = EXCLUDED.flag_type, variants = EXCLUDED.variants,
           default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
           metadata = EXCLUDED.metadata, description = EXCLUDED.description,
           tags = EXCLUDED.tags, owner = EXCLUDED.owner
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.copy_flag(text, text, text, boolean, text) IS
'Copies a flag to another environment (or to new_key), copying the segments its targeting references that the target lacks; overwrite => true replaces an existing flag';

-- as the install script's REVOKE ALL ON ALL TABLES / SEQUENCES IN SCHEMA ff
-- leaves them (090_privileges.sql): explicit privileges, none for PUBLIC
REVOKE ALL ON ff.approval_rules, ff.change_requests FROM PUBLIC;
REVOKE ALL ON SEQUENCE ff.change_requests_id_seq FROM PUBLIC;
