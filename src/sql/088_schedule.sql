-- ---------------------------------------------------------------------
-- Scheduled changes (1.14): a draft of a flag saved at a given time, by a
-- runner -- a pg_cron job, or anyone calling ff.run_scheduled_changes() --
-- with the privileges of the role that scheduled it.
--
--   ff.schedule_change(flag_key, draft, run_at, environment, comment)
--   ff.schedule_rollout(flag_key, percentages, start_at, step, ...)
--   ff.cancel_scheduled_change(id)
--   ff.run_scheduled_changes(max_changes)
--
-- The draft is the one ff.evaluate_draft previews and ff.apply_draft
-- saves.  A scheduled change is checked when it is scheduled (the draft,
-- the scheduler's right to make the change now), and applied as its
-- creator: the runner switches to that role for the write (C, src/
-- ff_schedule.c), so a protected environment, revoked privileges or a
-- dropped role stop it, and the history records the creator as the role
-- that made the change and the runner's session user beside it.  Each
-- change is applied in a subtransaction: one that fails is marked failed
-- with its error, and the others go on.  Rows of ff.scheduled_changes are
-- immutable but for the status: pending, then applied, failed or
-- cancelled, once.
-- ---------------------------------------------------------------------

CREATE TABLE ff.scheduled_changes (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment     text        NOT NULL,
    flag_key        text        NOT NULL,
    draft           jsonb       NOT NULL,
    run_at          timestamptz NOT NULL,
    comment         text,
    created_by      name        NOT NULL DEFAULT CURRENT_USER,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    status          text        NOT NULL DEFAULT 'pending',
    finished_at     timestamptz,
    finished_by     name,
    version         bigint,
    error           text,
    CONSTRAINT scheduled_changes_status_check
        CHECK (status IN ('pending', 'applied', 'failed', 'cancelled')),
    CONSTRAINT scheduled_changes_finished_check
        CHECK ((status = 'pending') = (finished_at IS NULL))
);
-- the runner's question: the pending changes that are due, oldest first
CREATE INDEX scheduled_changes_pending ON ff.scheduled_changes (run_at, id) WHERE status = 'pending';

COMMENT ON TABLE ff.scheduled_changes IS
    'Scheduled changes: drafts of flags saved at run_at by ff.run_scheduled_changes() with their creator''s privileges (1.14)';
COMMENT ON COLUMN ff.scheduled_changes.id IS 'Number of the scheduled change';
COMMENT ON COLUMN ff.scheduled_changes.environment IS 'Environment of the flag';
COMMENT ON COLUMN ff.scheduled_changes.flag_key IS 'Key of the flag the change saves a draft of (created if it does not exist then)';
COMMENT ON COLUMN ff.scheduled_changes.draft IS 'The draft: a flagd flag object whose members replace the flag''s (as ff.apply_draft saves it)';
COMMENT ON COLUMN ff.scheduled_changes.run_at IS 'When the change is due; the next run of ff.run_scheduled_changes() at or after it applies it';
COMMENT ON COLUMN ff.scheduled_changes.comment IS 'Why: recorded in the history of the change, after "scheduled change N by ROLE"';
COMMENT ON COLUMN ff.scheduled_changes.created_by IS 'The role that scheduled the change (current_user then); the change is applied with its privileges';
COMMENT ON COLUMN ff.scheduled_changes.created_at IS 'When the change was scheduled';
COMMENT ON COLUMN ff.scheduled_changes.status IS 'pending, then applied, failed or cancelled';
COMMENT ON COLUMN ff.scheduled_changes.finished_at IS 'When the change was applied, failed or was cancelled (NULL while pending)';
COMMENT ON COLUMN ff.scheduled_changes.finished_by IS 'Who ran it (the runner''s session user) or cancelled it (current_user)';
COMMENT ON COLUMN ff.scheduled_changes.version IS 'The flag''s config version after the change was applied (the version that wrote it); NULL when the draft changed nothing, the flag already being so (1.24)';
COMMENT ON COLUMN ff.scheduled_changes.error IS 'Why the change failed: the error''s SQLSTATE and message';
COMMENT ON CONSTRAINT scheduled_changes_status_check ON ff.scheduled_changes IS
    'status is pending, applied, failed or cancelled';
COMMENT ON CONSTRAINT scheduled_changes_finished_check ON ff.scheduled_changes IS
    'a change has finished_at exactly when it is no longer pending';
COMMENT ON INDEX ff.scheduled_changes_pending IS 'The pending changes by due time, for ff.run_scheduled_changes()';

-- ff._is_extension_owner tells whether a role has the privileges of the
-- extension's owner (the owner of schema ff): the runner, which is
-- SECURITY DEFINER, runs as that role.
CREATE FUNCTION ff._is_extension_owner(role_name name)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.pg_has_role(role_name,
                              (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'ff'),
                              'USAGE');

COMMENT ON FUNCTION ff._is_extension_owner(name) IS
'Internal: whether a role has the privileges of the extension''s owner (the role ff.run_scheduled_changes() runs as)';

-- ff._check_may_change raises insufficient_privilege unless role_name may
-- change flag_key in env, but for an approval rule: write ff.flags (INSERT
-- for a new flag, UPDATE for an existing one) and the environment
-- (protection).  The checks of a new scheduled change and of a change
-- request (1.16); for a scheduled change the approval rule is the gate's,
-- met by the dry run of the write that follows.
CREATE FUNCTION ff._check_may_change(role_name name, env text, flag_key text, what text)
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

-- ff._scheduled_changes_guard is the trigger that keeps ff.scheduled_changes
-- honest for raw DML as for the functions:
--   INSERT: created_by is current_user, the change is pending, run_at is
--     not in the past, and the change could be made now: the creator may
--     make it, and the draft saves (a dry run of ff.apply_draft, rolled
--     back);
--   UPDATE: only a pending change changes, and only its status (with
--     finished_at, finished_by, version and error): to cancelled by a role
--     that may make the change (or its creator), to applied or failed by
--     the runner (the extension's owner);
-- the rows of a pg_dump restore (ff._restoring()) are loaded as they were.
CREATE FUNCTION ff._scheduled_changes_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._restoring() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.created_by IS DISTINCT FROM CURRENT_USER THEN
            RAISE EXCEPTION 'a scheduled change is created by current_user ("%"), not "%"', CURRENT_USER, NEW.created_by
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Leave created_by out: it is filled in, and the change is applied with the privileges of its creator.';
        END IF;
        IF NEW.status <> 'pending' OR NEW.finished_at IS NOT NULL OR NEW.finished_by IS NOT NULL
           OR NEW.version IS NOT NULL OR NEW.error IS NOT NULL THEN
            RAISE EXCEPTION 'a new scheduled change must be pending'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Leave status, finished_at, finished_by, version and error out; ff.schedule_change() fills in the rest.';
        END IF;
        NEW.environment := ff._resolve_environment(NEW.environment);
        -- (1.17) 'infinity' never comes: a change that never runs is no plan
        IF NOT pg_catalog.isfinite(NEW.run_at) THEN
            RAISE EXCEPTION 'cannot schedule a change of flag "%" in environment "%" at %',
                NEW.flag_key, NEW.environment, NEW.run_at
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'run_at is a finite time, for example now() + interval ''1 day''.';
        END IF;
        IF NEW.run_at < pg_catalog.now() THEN
            RAISE EXCEPTION 'cannot schedule a change of flag "%" in environment "%" in the past',
                NEW.flag_key, NEW.environment
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('run_at is %s; now() is %s.', NEW.run_at, pg_catalog.now()),
                      HINT = 'run_at is a timestamp with time zone no earlier than now(); to change the flag now, use ff.apply_draft().';
        END IF;
        PERFORM ff._check_may_change(CURRENT_USER, NEW.environment, NEW.flag_key, 'schedule a change of');
        -- the draft as saving it now would check it: ff.apply_draft in a
        -- subtransaction that is always rolled back, so that a change that
        -- could not be made now is refused now, with the write's own error
        BEGIN
            PERFORM ff.apply_draft(NEW.flag_key, NEW.draft, NEW.environment);
            RAISE EXCEPTION USING ERRCODE = 'FF001';
        EXCEPTION WHEN SQLSTATE 'FF001' THEN
            NULL;
        END;
        NEW.created_at := pg_catalog.now();
        RETURN NEW;
    END IF;

    -- UPDATE
    IF OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'scheduled change % is % and cannot change', OLD.id, OLD.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It was %s at %s by %s.', OLD.status, OLD.finished_at, OLD.finished_by),
                  HINT = 'Schedule a new change with ff.schedule_change().';
    END IF;
    IF (NEW.id, NEW.environment, NEW.flag_key, NEW.draft, NEW.run_at, NEW.comment, NEW.created_by, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.environment, OLD.flag_key, OLD.draft, OLD.run_at, OLD.comment, OLD.created_by, OLD.created_at) THEN
        RAISE EXCEPTION 'scheduled change % cannot be edited', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only the status of a pending change changes.',
                  HINT = format('Cancel it with SELECT ff.cancel_scheduled_change(%s); and schedule a new one.', OLD.id);
    END IF;
    IF NEW.status = 'cancelled' THEN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS r
                        WHERE r.rolname = OLD.created_by AND pg_catalog.pg_has_role(CURRENT_USER, r.oid, 'USAGE'))
           AND NOT ff._is_extension_owner(CURRENT_USER) THEN
            PERFORM ff._check_may_change(CURRENT_USER, OLD.environment, OLD.flag_key, 'cancel a scheduled change of');
            -- (1.17) with an approval rule, a change is an ff
            -- administrator's, and so is cancelling one (1.16 let the
            -- members of the allowed roles cancel them)
            IF ff._approvals_required(OLD.environment) > 0 AND NOT ff._is_environment_admin(CURRENT_USER) THEN
                RAISE EXCEPTION 'permission denied to cancel scheduled change % of flag "%" in environment "%"',
                                OLD.id, OLD.flag_key, OLD.environment
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = format('Environment "%s" takes changes only through approved change requests; its scheduled changes are cancelled by their creator (%s) and ff administrators.',
                                          OLD.environment, OLD.created_by),
                          HINT = 'Ask the creator or an ff administrator to cancel it.';
            END IF;
        END IF;
        NEW.finished_at := pg_catalog.now();
        NEW.finished_by := CURRENT_USER;
        NEW.version := NULL;
        NEW.error := NULL;
    ELSIF NEW.status IN ('applied', 'failed') THEN
        IF NOT ff._is_extension_owner(CURRENT_USER) THEN
            RAISE EXCEPTION 'permission denied to mark scheduled change % %', OLD.id, NEW.status
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'ff.run_scheduled_changes() applies the changes that are due.';
        END IF;
        NEW.finished_at := COALESCE(NEW.finished_at, pg_catalog.now());
    ELSE
        -- still pending: nothing may change (and an UPDATE that changes
        -- nothing would only lock the row against the runner)
        RAISE EXCEPTION 'scheduled change % cannot be edited', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only the status of a pending change changes: to cancelled, or (by the runner) to applied or failed.',
                  HINT = format('Cancel it with SELECT ff.cancel_scheduled_change(%s);', OLD.id);
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._scheduled_changes_guard() IS
'Trigger ff_10_guard on ff.scheduled_changes: checks a new change (creator, draft, privileges, time) and lets only the status of a pending change change';

CREATE TRIGGER ff_10_guard
    BEFORE INSERT OR UPDATE ON ff.scheduled_changes
    FOR EACH ROW EXECUTE FUNCTION ff._scheduled_changes_guard();

-- ff.schedule_change schedules a draft of a flag to be saved at run_at.
CREATE FUNCTION ff.schedule_change(flag_key text, draft jsonb, run_at timestamptz,
                                   environment text DEFAULT NULL, comment text DEFAULT NULL)
RETURNS ff.scheduled_changes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result      ff.scheduled_changes;
BEGIN
    IF flag_key IS NULL OR draft IS NULL OR run_at IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN flag_key IS NULL THEN 'flag key' WHEN draft IS NULL THEN 'draft' ELSE 'run_at' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.schedule_change(''checkout'', ''{"state": "ENABLED"}'', now() + interval ''1 hour'');';
    END IF;
    INSERT INTO ff.scheduled_changes AS s (environment, flag_key, draft, run_at, comment)
    VALUES (schedule_change.environment, schedule_change.flag_key, schedule_change.draft,
            schedule_change.run_at, schedule_change.comment)
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.schedule_change(text, jsonb, timestamptz, text, text) IS
'Schedules a draft of a flag (as ff.apply_draft saves it) to be saved at run_at with the caller''s privileges; returns the scheduled change';

-- ff.cancel_scheduled_change cancels a pending change.
CREATE FUNCTION ff.cancel_scheduled_change(id bigint)
RETURNS ff.scheduled_changes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    result      ff.scheduled_changes;
BEGIN
    IF cancel_scheduled_change.id IS NULL THEN
        RAISE EXCEPTION 'scheduled change id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT id, flag_key, run_at FROM ff.scheduled_changes WHERE status = ''pending'' lists the pending changes.';
    END IF;
    UPDATE ff.scheduled_changes AS s SET status = 'cancelled'
     WHERE s.id = cancel_scheduled_change.id
    RETURNING * INTO result;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'scheduled change % does not exist', cancel_scheduled_change.id
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT id, flag_key, run_at FROM ff.scheduled_changes WHERE status = ''pending'' lists the pending changes.';
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.cancel_scheduled_change(bigint) IS
'Cancels a pending scheduled change (its creator, or a role that may make the change); returns it';

-- ff.schedule_rollout schedules a progressive rollout: one scheduled
-- change per percentage, step apart from start_at, each writing the rule
-- ff.set_rollout writes (computed now, from the flag's variants now).
CREATE FUNCTION ff.schedule_rollout(flag_key text, percentages numeric[], start_at timestamptz,
                                    step interval DEFAULT '1 day', environment text DEFAULT NULL,
                                    variant text DEFAULT NULL, otherwise text DEFAULT NULL,
                                    bucket_by text DEFAULT NULL, comment text DEFAULT NULL)
RETURNS SETOF ff.scheduled_changes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._resolve_environment(schedule_rollout.environment);
    n           integer := COALESCE(cardinality(percentages), 0);
BEGIN
    IF flag_key IS NULL OR start_at IS NULL OR step IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN flag_key IS NULL THEN 'flag key' WHEN start_at IS NULL THEN 'start_at' ELSE 'step' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT * FROM ff.schedule_rollout(''checkout'', ''{10, 25, 50, 100}'', now() + interval ''1 hour'', interval ''1 day'');';
    END IF;
    -- (1.17) NULL is 22004, as for the other arguments; a 2-D array got
    -- array_position's "searching for elements in multidimensional arrays
    -- is not supported"
    IF percentages IS NULL THEN
        RAISE EXCEPTION 'the percentages of a rollout of flag "%" must not be NULL', flag_key
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example ''{10, 25, 50, 100}'': one scheduled change per percentage, step apart.';
    END IF;
    IF array_ndims(percentages) > 1 THEN
        RAISE EXCEPTION 'the percentages of a rollout of flag "%" must be a one-dimensional array, not %', flag_key, percentages
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''{10, 25, 50, 100}'': one scheduled change per percentage, step apart.';
    END IF;
    IF n = 0 OR array_position(percentages, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'the percentages of a rollout of flag "%" must be a non-empty array without NULLs', flag_key
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''{10, 25, 50, 100}'': one scheduled change per percentage, step apart.';
    END IF;
    IF n > 1 AND step <= interval '0' THEN
        RAISE EXCEPTION 'the step of a rollout of flag "%" must be positive, not %', flag_key, step
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The changes run at start_at, start_at + step, start_at + 2 * step, ...';
    END IF;
    FOR i IN 1 .. n LOOP
        RETURN QUERY
        SELECT * FROM ff.schedule_change(
            flag_key,
            jsonb_build_object('targeting', ff._rollout_rule(flag_key, percentages[i], env, variant, otherwise, bucket_by)),
            start_at + (i - 1) * step, env,
            format('rollout %s%% (step %s of %s)', percentages[i], i, n) || COALESCE(': ' || comment, ''));
    END LOOP;
END;
$$;

COMMENT ON FUNCTION ff.schedule_rollout(text, numeric[], timestamptz, interval, text, text, text, text, text) IS
'Schedules a progressive rollout: one scheduled change per percentage, step apart from start_at, each writing the rule ff.set_rollout writes; returns the scheduled changes';

-- ff._apply_draft_as saves a draft as a role (C, src/ff_schedule.c): the
-- runner's write, with the role's privileges, the comment recorded in the
-- history; returns the version the write gave the flag (1.24 library: NULL
-- when the draft changed nothing).
CREATE FUNCTION ff._apply_draft_as(role_name name, flag_key text, draft jsonb, environment text, comment text)
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_apply_draft_as';

COMMENT ON FUNCTION ff._apply_draft_as(name, text, jsonb, text, text) IS
'Internal: ff.apply_draft run with the privileges of a role (superuser, or a member of the role, only); the runner of scheduled changes';

-- ff.run_scheduled_changes applies the pending changes that are due, in
-- order of run_at, each in a subtransaction, with its creator's
-- privileges; returns what it did.  It is SECURITY DEFINER: any role
-- allowed to run it applies only what is due, as it was scheduled.  The
-- settings that decide how strictly a write is checked are pinned, so the
-- caller's session cannot loosen the checks of other roles' changes.
--
-- Order (1.24).  When something is due, the runner takes the history's
-- writer lock first, then locks the due rows in one statement (SKIP
-- LOCKED: a row that a cancellation holds is left to it).  So concurrent
-- runners take turns: one that waited sees what the other applied.  (1.23
-- locked the rows as its loop fetched them: a second runner took rows from
-- the middle of the queue, waited for the writer lock, and applied them
-- after the first runner had applied later changes of the same flag.)  A
-- change of a flag is applied only if no earlier change of that flag is
-- still pending: one left pending by a transient error in this run (a
-- deadlock, a serialization failure, a lock timeout), or one this run could
-- not lock.  It waits with it ("waits for scheduled change N"), so that the
-- next run applies them in order; a waiting change does not count against
-- max_changes (the run goes on with other flags' changes, and the limit
-- bounds the changes it tries).  The due changes are read in one pass (a
-- query per change would step over the index entries of the changes
-- already applied in this transaction: quadratic).
CREATE FUNCTION ff.run_scheduled_changes(max_changes integer DEFAULT NULL)
RETURNS TABLE (id bigint, flag_key text, environment text, status text, version bigint, error text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'error'
SET check_function_bodies = on
AS $$
#variable_conflict use_column
DECLARE
    c           ff.scheduled_changes;
    taken       bigint[];
    blockers    bigint[];
    held        jsonb := '{}';
    waited      jsonb := '{}';
    one         text;
    i           integer;
    tried       integer := 0;
    v           bigint;
    st          text;
    msg         text;
    left_due    bigint;
    saved       text := pg_catalog.current_setting('ff.change_comment', true);
BEGIN
    IF max_changes IS NOT NULL AND max_changes < 1 THEN
        RAISE EXCEPTION 'max_changes must be at least 1 (or NULL: no limit), not %', max_changes
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.scheduled_changes AS s
                    WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now()) THEN
        RETURN;                                 -- nothing due: no lock taken
    END IF;
    BEGIN
        PERFORM ff._history_lock_writer('flag');
    EXCEPTION WHEN serialization_failure OR deadlock_detected OR lock_not_available THEN
        -- a transient error: every due change stays pending, returned with it
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        msg := st || ': ' || msg;
        RAISE WARNING 'the due scheduled changes stay pending: the history''s writer lock was not taken: %', msg
            USING HINT = 'A transient error: the next run tries them again.';
        RETURN QUERY
            SELECT s.id, s.flag_key, s.environment, 'pending'::text, NULL::bigint, msg
              FROM ff.scheduled_changes AS s
             WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now()
             ORDER BY s.run_at, s.id
             LIMIT max_changes;
        RETURN;
    END;
    -- the due changes this run takes, in order (all it can lock: max_changes
    -- counts the ones it tries, below), for each the earliest pending change
    -- of its flag that it does not take (locked by another transaction) if
    -- that one comes before it, and how many it does not take
    WITH mine AS (
        SELECT s.id, s.run_at, s.environment, s.flag_key
          FROM ff.scheduled_changes AS s
         WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now()
           FOR UPDATE SKIP LOCKED
    ), locked AS (
        SELECT s.id, s.run_at, s.environment, s.flag_key
          FROM ff.scheduled_changes AS s
         WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now()
           AND s.id NOT IN (SELECT m.id FROM mine AS m)
    ), others AS (
        SELECT DISTINCT ON (l.environment, l.flag_key) l.id, l.run_at, l.environment, l.flag_key
          FROM locked AS l
         ORDER BY l.environment, l.flag_key, l.run_at, l.id
    )
    SELECT pg_catalog.array_agg(m.id ORDER BY m.run_at, m.id),
           pg_catalog.array_agg(o.id ORDER BY m.run_at, m.id),
           (SELECT count(*) FROM locked)
      INTO taken, blockers, left_due
      FROM mine AS m
      LEFT JOIN others AS o
        ON o.environment = m.environment AND o.flag_key = m.flag_key
       AND (o.run_at, o.id) < (m.run_at, m.id);
    FOR i IN 1 .. COALESCE(pg_catalog.cardinality(taken), 0) LOOP
        EXIT WHEN tried >= max_changes;         -- (NULL: no limit)
        SELECT * INTO c FROM ff.scheduled_changes AS s WHERE s.id = taken[i];
        one := pg_catalog.jsonb_build_array(c.environment, c.flag_key)::text;
        v := NULL;
        msg := NULL;
        IF blockers[i] IS NOT NULL OR held ? one THEN
            st := 'pending';
            msg := pg_catalog.format('waits for scheduled change %s of the same flag', COALESCE(blockers[i], (held ->> one)::bigint));
            -- one WARNING per flag (its first waiting change), not per change
            IF NOT waited ? one THEN
                RAISE WARNING 'scheduled change % of flag "%" in environment "%" stays pending: it %',
                    c.id, c.flag_key, c.environment, msg
                    USING HINT = 'The changes of a flag are applied in run_at order: this one and any later ones of the flag wait for a later run.';
                waited := waited || pg_catalog.jsonb_build_object(one, true);
            END IF;
            IF NOT held ? one THEN
                held := held || pg_catalog.jsonb_build_object(one, blockers[i]);
            END IF;
        ELSE
            tried := tried + 1;
            BEGIN
                -- (NULL: the flag already was so, nothing was written)
                v := ff._apply_draft_as(c.created_by, c.flag_key, c.draft, c.environment,
                                        pg_catalog.format('scheduled change %s by %s', c.id, c.created_by)
                                        || COALESCE(': ' || c.comment, ''));
                st := 'applied';
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
                msg := st || ': ' || msg;
                IF st IN ('40001', '40P01', '55P03') THEN
                    st := 'pending';
                    held := held || pg_catalog.jsonb_build_object(one, c.id);
                    RAISE WARNING 'scheduled change % of flag "%" in environment "%" stays pending: %',
                        c.id, c.flag_key, c.environment, msg
                        USING HINT = 'A transient error: the next run tries it again.';
                ELSE
                    st := 'failed';
                    -- in the server log too: a pg_cron job's own record says only "SELECT n"
                    RAISE WARNING 'scheduled change % of flag "%" in environment "%" failed: %',
                        c.id, c.flag_key, c.environment, msg
                        USING HINT = 'ff.scheduled_changes keeps the error; schedule the change again once it can be made.';
                END IF;
            END;
        END IF;
        IF st <> 'pending' THEN
            UPDATE ff.scheduled_changes AS s
               SET status = st, version = v, error = msg,
                   finished_at = pg_catalog.clock_timestamp(), finished_by = SESSION_USER
             WHERE s.id = c.id;
        END IF;
        id := c.id;
        flag_key := c.flag_key;
        environment := c.environment;
        status := st;
        version := v;
        error := msg;
        RETURN NEXT;
    END LOOP;
    PERFORM pg_catalog.set_config('ff.change_comment', COALESCE(saved, ''), true);
    -- due changes this run could not take: row-locked by another transaction
    -- (a cancellation in progress, or a role that locks them)
    IF left_due > 0 THEN
        RAISE WARNING '% due scheduled change(s) are locked by other transactions and were left for the next run', left_due
            USING HINT = 'SELECT pid, state, xact_start FROM pg_stat_activity shows who holds them (ff.scheduled_changes rows are locked by cancellations and SELECT ... FOR UPDATE).';
    END IF;
END;
$$;

COMMENT ON FUNCTION ff.run_scheduled_changes(integer) IS
'Applies the pending scheduled changes that are due (at most max_changes), each with its creator''s privileges; returns what it did (call it from pg_cron)';

SELECT pg_catalog.pg_extension_config_dump('ff.scheduled_changes', '');
SELECT pg_catalog.pg_extension_config_dump('ff.scheduled_changes_id_seq', '');

-- ff._is_extension_owner and ff._check_may_change keep PUBLIC's EXECUTE:
-- SECURITY INVOKER helpers of the trigger, which runs as every writer
REVOKE ALL ON FUNCTION ff._scheduled_changes_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.schedule_change(text, jsonb, timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.cancel_scheduled_change(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.schedule_rollout(text, numeric[], timestamptz, interval, text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._apply_draft_as(name, text, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.run_scheduled_changes(integer) FROM PUBLIC;
