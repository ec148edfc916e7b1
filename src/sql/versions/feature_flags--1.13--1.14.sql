-- feature_flags 1.13 -> 1.14 (ALTER EXTENSION feature_flags UPDATE TO '1.14')
--
-- 1.14 changes no existing table and no existing signature.  It adds
-- scheduled changes:
--   * ff._history_acting_role() (C) and ff._history_record: the history
--     records a scheduled change as made by the role that scheduled it;
--   * ff._rollout_rule: the rule of ff.set_rollout (which now calls it),
--     shared with ff.schedule_rollout;
--   * ff.apply_draft(flag_key, draft, environment): saves a draft of a flag
--     (the write counterpart of ff.evaluate_draft);
--   * ff.scheduled_changes (table, registered for pg_dump, with its
--     identity sequence) and its trigger ff_10_guard;
--   * ff.schedule_change, ff.schedule_rollout, ff.cancel_scheduled_change and
--     ff.run_scheduled_changes (SECURITY DEFINER), with the internals
--     ff._apply_draft_as (C, the 1.14 library), ff._is_extension_owner,
--     ff._check_may_change and ff._scheduled_changes_guard;
--   * the editor recipe (ff._recipe_functions, ff.privilege_recipe)
--     includes the new functions and INSERT, UPDATE (status) on
--     ff.scheduled_changes; roles given a recipe before the update get them
--     by running ff.grant_editor (or ff.grant_admin) again (see the README).

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.14'" to load this file. \quit

-- ---- the history names the role a scheduled change is applied as

-- ff._history_acting_role: the role a scheduled change is being applied as (src/ff_schedule.c),
--   or NULL: the history records it as changed_by (1.14)
CREATE FUNCTION ff._history_acting_role()
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_acting_role';
COMMENT ON FUNCTION ff._history_acting_role() IS
    'Internal: the role a scheduled change is being applied as (ff.run_scheduled_changes), or NULL';

-- ff._history_record: appends one version to ff.versions (who, when, why, transaction, hash
--   chain)
CREATE OR REPLACE FUNCTION ff._history_record(version bigint, change_set bigint, prev_hash text, entity text, environment text, entity_key text,
                                   operation text, before jsonb, after jsonb, delta jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    r           ff.versions;
    role_name   text := pg_catalog.current_setting('role');
BEGIN
    r.version := version;
    r.change_set := change_set;
    r.entity := entity;
    r.environment := environment;
    r.entity_key := entity_key;
    r.operation := operation;
    r.before := before;
    r.after := after;
    r.delta := delta;
    -- the triggers run as the extension owner (SECURITY DEFINER); the role
    -- GUC still says which role the session acts as, unless a scheduled
    -- change is being applied as the role that scheduled it (1.14)
    r.changed_by := COALESCE(ff._history_acting_role(),
                             CASE WHEN role_name = 'none' THEN SESSION_USER::text ELSE role_name END);
    r.session_user_name := SESSION_USER;
    r.application_name := nullif(pg_catalog.current_setting('application_name', true), '');
    r.changed_at := pg_catalog.now();
    r.comment := nullif(pg_catalog.current_setting('ff.change_comment', true), '');
    r.xact_id := pg_catalog.pg_current_xact_id();
    r.prev_hash := prev_hash;
    -- the expression of ff._history_hash(r), written out so that its plan
    -- is cached with this function's (a call of the SQL function would be
    -- parsed and planned again in every transaction); TimeZone is UTC here
    r.hash := pg_catalog.encode(
        pg_catalog.sha256(pg_catalog.convert_to((pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.-) 'hash')::text, 'UTF8')),
        'hex');
    INSERT INTO ff.versions VALUES (r.*);
    RETURN r.version;
END;
$$;
REVOKE ALL ON FUNCTION ff._history_acting_role() FROM PUBLIC;

-- ---- ff.set_rollout's rule, shared with ff.schedule_rollout

-- ff._rollout_rule returns the targeting of a percentage rollout of a
-- flag: a flagd "fractional" split between two variants (the rule
-- ff.set_rollout writes and ff.schedule_rollout schedules; 1.14: taken out
-- of ff.set_rollout).
CREATE FUNCTION ff._rollout_rule(key text, percentage numeric, env text,
                                 variant text, otherwise text, bucket_by text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    flag        ff.flags := ff._flag_row(_rollout_rule.key, env);
    v_on        text;
    v_off       text;
    w_on        bigint;
    w_off       bigint;
    rule        jsonb;
BEGIN
    IF percentage IS NULL THEN
        RAISE EXCEPTION 'rollout percentage of flag "%" in environment "%" must not be NULL', _rollout_rule.key, env
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'The percentage is a number from 0 to 100, with at most two decimals (e.g. 12.5).';
    END IF;
    IF percentage < 0 OR percentage > 100 THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"',
            percentage, _rollout_rule.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The percentage is a number from 0 to 100, with at most two decimals (e.g. 12.5).';
    END IF;
    IF percentage * 100 <> trunc(percentage * 100) THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"', percentage, _rollout_rule.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'fractional weights are integers, so percentages have at most two decimals.',
                  HINT = 'Round the percentage to two decimals.';
    END IF;

    v_on := COALESCE(_rollout_rule.variant, ff._pick_variant(flag.variants, ARRAY['on', 'true'], NULL));
    IF v_on IS NULL OR NOT flag.variants ? v_on THEN
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', _rollout_rule.key, env,
            CASE WHEN v_on IS NULL THEN 'it has no variant "on" or "true"'
                 ELSE format('"%s" is not one of its variants', v_on) END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the variant to roll out, e.g. variant => %L. Variants: %s.',
                      (SELECT k FROM jsonb_object_keys(flag.variants) AS k ORDER BY k LIMIT 1),
                      (SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) FROM jsonb_object_keys(flag.variants) AS k));
    END IF;
    v_off := COALESCE(otherwise, ff._pick_variant(flag.variants, ARRAY[flag.default_variant, 'off', 'false'], v_on));
    IF v_off IS NULL AND (SELECT count(*) FROM jsonb_object_keys(flag.variants)) = 2 THEN
        -- a two-variant flag: the other one
        SELECT k INTO v_off FROM jsonb_object_keys(flag.variants) AS k WHERE k <> v_on;
    END IF;
    IF v_off IS NULL OR NOT flag.variants ? v_off OR v_off = v_on THEN
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', _rollout_rule.key, env,
            CASE WHEN v_off IS NULL THEN format('no variant to serve outside the rollout of "%s"', v_on)
                 WHEN v_off = v_on THEN format('"otherwise" and "variant" are both "%s"', v_on)
                 ELSE format('"%s" is not one of its variants', v_off) END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the variant served to everyone else with otherwise => ''...''. Variants: %s.',
                      (SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) FROM jsonb_object_keys(flag.variants) AS k));
    END IF;

    IF percentage = 100 OR percentage = 0 THEN
        -- everyone, including contexts without a targeting key
        rule := jsonb_build_object('if', jsonb_build_array(true, CASE WHEN percentage = 100 THEN v_on ELSE v_off END));
    ELSE
        IF percentage = trunc(percentage) THEN
            w_on := percentage;
            w_off := 100 - percentage;
        ELSE
            w_on := percentage * 100;
            w_off := 10000 - percentage * 100;
        END IF;
        rule := jsonb_build_array(jsonb_build_array(v_on, w_on), jsonb_build_array(v_off, w_off));
        IF bucket_by = '' THEN
            -- {"var": ""} is the whole context: every user would get one bucket
            RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": bucket_by is empty', _rollout_rule.key, env
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'An empty attribute name reads the whole context, which puts every user in the same bucket.',
                      HINT = 'Name the context attribute to bucket by, e.g. bucket_by => ''email'', or omit it to use targetingKey.';
        END IF;
        IF bucket_by IS NOT NULL THEN
            rule := jsonb_build_array(jsonb_build_object('cat', jsonb_build_array(
                        jsonb_build_object('var', '$flagd.flagKey'), jsonb_build_object('var', bucket_by)))) || rule;
        END IF;
        rule := jsonb_build_object('fractional', rule);
        IF bucket_by IS NOT NULL THEN
            -- a context without the attribute (missing, null or "") gets the
            -- default variant, like one without a targetingKey in the
            -- shorthand: all of them would otherwise share one bucket
            rule := jsonb_build_object('if', jsonb_build_array(
                        jsonb_build_object('missing', jsonb_build_array(bucket_by)), NULL::jsonb, rule));
        END IF;
    END IF;
    RETURN rule;
END;
$$;

COMMENT ON FUNCTION ff._rollout_rule(text, numeric, text, text, text, text) IS
'Internal: the targeting of a percentage rollout of a flag (what ff.set_rollout writes)';

-- ff.set_rollout replaces a flag's targeting by a percentage rollout: a
-- flagd "fractional" split between two variants.
CREATE OR REPLACE FUNCTION ff.set_rollout(key text, percentage numeric, environment text DEFAULT NULL,
                               variant text DEFAULT NULL, otherwise text DEFAULT NULL,
                               bucket_by text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._resolve_environment(set_rollout.environment);
BEGIN
    RETURN ff.set_targeting(set_rollout.key,
                            ff._rollout_rule(set_rollout.key, percentage, env, variant, otherwise, bucket_by),
                            env);
END;
$$;

COMMENT ON FUNCTION ff.set_rollout(text, numeric, text, text, text, text) IS
'Replaces the targeting of a flag with a percentage rollout (flagd fractional, bucketed by flag key + targetingKey or by the bucket_by attribute); 0 and 100 serve one variant to everyone';

-- ---- ff.apply_draft

-- ff.apply_draft saves a draft of a flag: the write counterpart of
-- ff.evaluate_draft (1.14).  The draft is a flagd flag object; the members
-- it gives replace the stored flag's, the others are kept (description,
-- tags and owner always are).  A flag that does not exist is created from
-- the draft, which must give its variants then.  The draft is checked with
-- ff.evaluate_draft's checks first, so both refuse the same drafts with the
-- same errors, then written through ff.flags, whose triggers validate,
-- record and notify as for any write.  A draft that changes nothing writes
-- nothing (no new version).  It is always strict: ff.invalid_targeting and
-- check_function_bodies (a restore's leniency) are pinned, so what a
-- scheduled change saves does not depend on the session that runs it.
CREATE FUNCTION ff.apply_draft(flag_key text, draft jsonb, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'error'
SET check_function_bodies = on
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(apply_draft.environment);
    old         ff.flags;
    merged      ff.flags;
    result      ff.flags;
    stored      boolean;
BEGIN
    IF flag_key IS NULL OR draft IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN flag_key IS NULL THEN 'flag key' ELSE 'draft' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a flag key and a flagd flag object, for example SELECT ff.apply_draft(''checkout'', ''{"state": "DISABLED"}'');';
    END IF;
    PERFORM ff._check_name('flag', flag_key);
    -- the checks of ff.evaluate_draft: an object of known members that
    -- compiles over the stored flag, with segments the environment has
    PERFORM ff.evaluate_draft(flag_key, '{}'::jsonb, draft, NULL::jsonb, env);

    -- the stored flag (if any) with the draft's members over it; JSON null
    -- removes the default variant or the targeting (the validation trigger
    -- stores {} as none too), and null metadata is {}
    SELECT * INTO old FROM ff.flags AS f WHERE f.environment = env AND f.key = flag_key FOR UPDATE;
    stored := FOUND;
    merged := old;
    IF draft ? 'state' THEN
        merged.state := draft ->> 'state';
    END IF;
    IF draft ? 'variants' THEN
        merged.variants := draft -> 'variants';
    END IF;
    IF draft ? 'defaultVariant' THEN
        merged.default_variant := draft ->> 'defaultVariant';
    END IF;
    IF draft ? 'targeting' THEN
        merged.targeting := NULLIF(draft -> 'targeting', 'null');
    END IF;
    IF draft ? 'metadata' THEN
        merged.metadata := COALESCE(NULLIF(draft -> 'metadata', 'null'), '{}');
    END IF;

    IF NOT stored THEN
        INSERT INTO ff.flags AS t (environment, key, state, variants, default_variant, targeting, metadata)
        VALUES (env, flag_key, COALESCE(merged.state, 'ENABLED'), merged.variants, merged.default_variant,
                merged.targeting, COALESCE(merged.metadata, '{}'))
        RETURNING * INTO result;
        RETURN result;
    END IF;
    IF (merged.state, merged.variants, merged.default_variant, merged.targeting, merged.metadata)
       IS NOT DISTINCT FROM (old.state, old.variants, old.default_variant, old.targeting, old.metadata) THEN
        RETURN old;
    END IF;
    UPDATE ff.flags AS t
       SET state = merged.state,
           variants = merged.variants,
           -- variants of another type change the flag's type: derived again
           flag_type = CASE WHEN merged.variants IS DISTINCT FROM old.variants THEN NULL ELSE t.flag_type END,
           default_variant = merged.default_variant,
           targeting = merged.targeting,
           metadata = merged.metadata
     WHERE t.environment = env AND t.key = flag_key
    RETURNING * INTO result;
    IF result.flag_type IS DISTINCT FROM old.flag_type THEN
        RAISE WARNING 'flag "%" in environment "%" changes type from % to %', flag_key, env, old.flag_type, result.flag_type
            USING DETAIL = pg_catalog.format('The draft''s variants are of type %s; applications that read the flag as %s get their default, with error code TYPE_MISMATCH.',
                                             result.flag_type, old.flag_type),
                  HINT = 'If the change is a mistake, apply a draft with variants of the old type.';
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.apply_draft(text, jsonb, text) IS
'Saves a draft of a flag (a flagd flag object: members given replace the stored flag''s, a missing flag is created); the write counterpart of ff.evaluate_draft; returns the flag''s row';

REVOKE ALL ON FUNCTION ff.apply_draft(text, jsonb, text) FROM PUBLIC;

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
COMMENT ON COLUMN ff.scheduled_changes.version IS 'The flag''s config version after the change was applied (the version that wrote it)';
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
-- change flag_key in env now: write ff.flags (INSERT for a new flag,
-- UPDATE for an existing one) and the environment (protection).
CREATE FUNCTION ff._check_may_change(role_name name, env text, flag_key text, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    priv        text := CASE WHEN EXISTS (SELECT 1 FROM ff.flags AS f
                                           WHERE f.environment = env AND f.key = flag_key)
                             THEN 'UPDATE' ELSE 'INSERT' END;
BEGIN
    IF NOT has_function_privilege(role_name, 'ff.apply_draft(text, jsonb, text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied to % flag "%" in environment "%"', what, flag_key, env
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Role "%s" may not execute ff.apply_draft(), which applies a scheduled change.', role_name),
                  HINT = 'A scheduled change is applied with the privileges of the role that schedules it; ff.grant_editor() gives a role the privileges to change flags.';
    END IF;
    IF NOT has_table_privilege(role_name, 'ff.flags', priv) THEN
        RAISE EXCEPTION 'permission denied to % flag "%" in environment "%"', what, flag_key, env
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Role "%s" has no %s privilege on ff.flags.', role_name, priv),
                  HINT = 'A scheduled change is applied with the privileges of the role that schedules it; ff.grant_editor() gives a role the privileges to change flags.';
    END IF;
    IF NOT ff.can_write_environment(env, role_name) THEN
        RAISE EXCEPTION 'permission denied to % flag "%" in environment "%"', what, flag_key, env
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Environment "%s" is protected, and role "%s" is neither an ff administrator nor a member of its allowed roles.', env, role_name),
                  HINT = 'A scheduled change is applied with the privileges of the role that schedules it; ff.protect_environment() sets the roles that may change a protected environment.';
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._check_may_change(name, text, text, text) IS
'Internal: raises insufficient_privilege unless a role may change a flag in an environment now (table privilege and environment protection)';

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
-- history; returns the flag's version.
CREATE FUNCTION ff._apply_draft_as(role_name name, flag_key text, draft jsonb, environment text, comment text)
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_apply_draft_as';

COMMENT ON FUNCTION ff._apply_draft_as(name, text, jsonb, text, text) IS
'Internal: ff.apply_draft run with the privileges of a role (superuser, or a member of the role, only); the runner of scheduled changes';

-- ff.run_scheduled_changes applies the pending changes that are due, in
-- order of run_at, each in a subtransaction, with its creator's
-- privileges; returns what it did.  Concurrent runners share the work
-- (SKIP LOCKED).  It is SECURITY DEFINER: any role allowed to run it applies
-- only what is due, as it was scheduled.  The due changes are read in one
-- pass (a query per change would step over the index entries of the
-- changes already applied in this transaction: quadratic).  A change that
-- meets a transient error (a deadlock, a serialization failure, a lock
-- timeout) stays pending for the next run; any other error fails it.  The
-- settings that decide how strictly a write is checked are pinned, so the
-- caller's session cannot loosen the checks of other roles' changes.
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
    done        integer := 0;
    seen        bigint[] := '{}';
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
    FOR c IN SELECT * FROM ff.scheduled_changes AS s
              WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now()
              ORDER BY s.run_at, s.id
              LIMIT max_changes             -- (NULL: all) the loop fetches ahead, locking what it fetches
                FOR UPDATE SKIP LOCKED
    LOOP
        v := NULL;
        msg := NULL;
        BEGIN
            v := ff._apply_draft_as(c.created_by, c.flag_key, c.draft, c.environment,
                                    pg_catalog.format('scheduled change %s by %s', c.id, c.created_by)
                                    || COALESCE(': ' || c.comment, ''));
            st := 'applied';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            msg := st || ': ' || msg;
            IF st IN ('40001', '40P01', '55P03') THEN
                st := 'pending';
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
        IF st <> 'pending' THEN
            UPDATE ff.scheduled_changes AS s
               SET status = st, version = v, error = msg,
                   finished_at = pg_catalog.clock_timestamp(), finished_by = SESSION_USER
             WHERE s.id = c.id;
        END IF;
        done := done + 1;
        seen := seen || c.id;
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
    -- (a runner, a cancellation in progress, or a role that locks them)
    IF max_changes IS NULL OR done < max_changes THEN
        SELECT count(*) INTO left_due FROM ff.scheduled_changes AS s
         WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now() AND s.id <> ALL (seen);
        IF left_due > 0 THEN
            RAISE WARNING '% due scheduled change(s) are locked by other transactions and were left for the next run', left_due
                USING HINT = 'SELECT pid, state, xact_start FROM pg_stat_activity shows who holds them (ff.scheduled_changes rows are locked by runners, cancellations and SELECT ... FOR UPDATE).';
        END IF;
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

-- ---- the recipes

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
               'schedule_rollout', 'cancel_scheduled_change', 'run_scheduled_changes']
           WHEN 'admin' THEN ARRAY[
               'create_environment', 'set_default_environment', 'delete_environment',
               'copy_environment', 'rollback_environment', 'protect_environment',
               'unprotect_environment']
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
        END IF;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION ff.privilege_recipe(text, name, boolean) IS
'The GRANT (revoke => true: REVOKE) statements of a privilege level (reader, editor, admin; cumulative) for a grantee';

-- as 090_privileges.sql does for every table and sequence of ff (which makes
-- their ACLs explicit)
REVOKE ALL ON TABLE ff.scheduled_changes FROM PUBLIC;
REVOKE ALL ON SEQUENCE ff.scheduled_changes_id_seq FROM PUBLIC;
