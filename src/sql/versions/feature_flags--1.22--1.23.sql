-- feature_flags 1.22 -> 1.23
--
-- 1.23 changes no table.  It is a security update (found by an audit of the
-- catalog against the README):
--   * Names in views and in SQL-standard function bodies are bound when they
--     are created, and CREATE EXTENSION / ALTER EXTENSION UPDATE run their
--     script with the search_path "<the schema the extension was created
--     from, usually public>, pg_temp".  A role that may create functions
--     there -- in PostgreSQL 15 the database owner, or anyone granted CREATE
--     on public -- could plant a function that matches better than
--     pg_catalog's (public.format(text, text, text) against the variadic
--     format(text, "any"), public.unnest(text[]) against unnest(anyarray),
--     an aggregate public.count(text) against count("any")) before the
--     extension was created or updated: ff._create_hint and ff._pick_variant
--     (called by ff.delete_flag, ff.set_rollout, ...) or a view then ran it
--     with the rights of whoever called them, a superuser included.  Install
--     and update scripts now set search_path = pg_catalog, pg_temp first,
--     the two functions name pg_catalog's functions, and this script
--     replaces every view and every SQL-standard function with the same
--     definition, so that they bind to pg_catalog again.  A look-alike still
--     referenced afterwards (by something this script does not replace) is
--     reported with a WARNING.
--   * ff._restoring (the pg_dump leniency while check_function_bodies is off)
--     also requires the session's role to be the extension's owner (or a
--     superuser): inside a SECURITY DEFINER function the current user is the
--     owner whoever called it, so a reviewer who set check_function_bodies =
--     off got ff.approve_change, ff.reject_change or ff.withdraw_change to
--     skip the NOTIFY on ff_change_requests.  Those three also pin
--     check_function_bodies = on, as ff.request_change and ff.apply_change do.
--   * Under concurrent writes (found by a randomized concurrent write test):
--     ff.rollback_flag, ff.rollback_segment, ff.rollback_environment,
--     ff.copy_flag, ff.copy_environment, ff.set_rollout and
--     ff.delete_environment take the writer lock before
--     they read what they write (new ff._history_lock_writer; 1.22 read
--     first and recorded a state a change committed meanwhile had
--     overtaken), ff.apply_draft takes it before it checks the draft (a
--     flag deleted meanwhile gave a NULL-variants error), and
--     ff._history_drift_delta is open to PUBLIC like the other SECURITY
--     INVOKER history helpers (an editor's rollback to the current state
--     got 42501).
--   * Markings: ff._single_statement is STABLE (where a string literal ends
--     depends on standard_conforming_strings); six pure helpers are PARALLEL
--     SAFE.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.23'" to load this file. \quit

SET LOCAL search_path = pg_catalog, pg_temp;

ALTER FUNCTION ff._single_statement(text) STABLE;
ALTER FUNCTION ff._protect_what(text, text, jsonb) PARALLEL SAFE;
ALTER FUNCTION ff._history_dependency_order(text[], text[]) PARALLEL SAFE;
ALTER FUNCTION ff._history_keys_too_large(text, text, bigint, bigint) PARALLEL SAFE;
ALTER FUNCTION ff.withdraw_change(bigint) SET check_function_bodies = on;

ALTER FUNCTION ff._flagd_resolve_refs(jsonb, jsonb, text, text, integer) PARALLEL SAFE;
ALTER FUNCTION ff._experiment_statistics(control text, variant_names text[], unit_counts bigint[], totals double precision[], means double precision[], variances double precision[], x_means double precision[], x_variances double precision[], covariances double precision[], expected_split jsonb, confidence double precision) PARALLEL SAFE;

-- every SQL-standard function body, as in the 1.23 install script

CREATE OR REPLACE FUNCTION ff._name_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$';

COMMENT ON FUNCTION ff._name_pattern() IS
'Internal: the regular expression that flag keys, environment names and segment names must match';

CREATE OR REPLACE FUNCTION ff._name_in_message(name text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN length(name) <= 200 THEN name ELSE left(name, 64) || '...' END;

COMMENT ON FUNCTION ff._name_in_message(text) IS
'Internal: a name as error messages show it: whole up to 200 characters, else its first 64 and "..."';

CREATE OR REPLACE FUNCTION ff._perhaps_you_meant(name text, candidates text[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN COALESCE('Perhaps you meant "' || ff._closest_name(name, candidates) || '". ', '');

COMMENT ON FUNCTION ff._perhaps_you_meant(text, text[]) IS
'Internal: ''Perhaps you meant "<closest candidate>". '' for the HINT of a not-found error, or an empty string';

CREATE OR REPLACE FUNCTION ff._create_hint(kind text, name text, environment text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN name IS NULL OR name !~ ff._name_pattern() THEN
        pg_catalog.format('No %s can be named so: %s starts with a letter or digit, followed by at most 199 letters, digits, ".", "_", ":" or "-".',
               kind, CASE kind WHEN 'flag' THEN 'a flag key' WHEN 'environment' THEN 'an environment name'
                               ELSE 'a ' || kind || ' name' END)
    WHEN kind = 'environment' OR environment IS NULL THEN
        pg_catalog.format('Create it with SELECT ff.create_%s(%L);', kind, name)
    ELSE pg_catalog.format('Create it with SELECT ff.create_%s(%L, environment => %L);', kind, name, environment)
END;

COMMENT ON FUNCTION ff._create_hint(text, text, text) IS
'Internal: the end of a not-found HINT: how to create the missing flag, segment or environment (in the given environment), or that the name breaks the name rule';

CREATE OR REPLACE FUNCTION ff._restoring()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN pg_catalog.current_setting('check_function_bodies') = 'off'
   AND (SELECT pg_catalog.pg_has_role(CURRENT_USER, n.nspowner, 'MEMBER')
               AND pg_catalog.pg_has_role(ff._actor(), n.nspowner, 'MEMBER')
          FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'ff');

COMMENT ON FUNCTION ff._restoring() IS
'Internal: true while check_function_bodies is off (pg_dump scripts) for a superuser or the extension''s owner, as the current user and as the session''s role; segment reference checks between rows are skipped then';

CREATE OR REPLACE FUNCTION ff._json_path_member(path text, member text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN member ~ '^[A-Za-z_$][A-Za-z0-9_$]*$' THEN path || '.' || member
    ELSE path || '.' || pg_catalog.to_jsonb(member)::text
END;

COMMENT ON FUNCTION ff._json_path_member(text, text) IS
'Internal: appends a member name to a JSON path for error messages ($.variants."dark mode")';

CREATE OR REPLACE FUNCTION ff._rule_path_of(rule jsonb, kind text, value jsonb, prefix text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT w.item_path
      FROM ff._rule_walk(rule, prefix, true) AS w
     WHERE w.item_kind = kind AND w.item_value = value
     LIMIT 1;
END;

COMMENT ON FUNCTION ff._rule_path_of(jsonb, text, jsonb, text) IS
'Internal: JSON path of the first place a rule references a segment or returns a literal (for error messages)';

CREATE OR REPLACE FUNCTION ff._environment_is_pristine_seed(env ff.environments)
RETURNS boolean
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT env.name = 'development'
       AND env.metadata = '{}'::jsonb
       AND env.description IS NOT DISTINCT FROM
           'Default environment, created by CREATE EXTENSION feature_flags'
       AND NOT EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = env.name)
       AND NOT EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = env.name);
END;

COMMENT ON FUNCTION ff._environment_is_pristine_seed(ff.environments) IS
'Internal: true for the untouched, empty "development" row that CREATE EXTENSION inserts';

CREATE OR REPLACE FUNCTION ff.enable_flag(key text, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE sql
BEGIN ATOMIC
    SELECT ff._set_state(key, 'ENABLED', environment);
END;

COMMENT ON FUNCTION ff.enable_flag(text, text) IS
'Enables a flag (state ENABLED): its targeting and default variant are served again';

CREATE OR REPLACE FUNCTION ff.disable_flag(key text, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE sql
BEGIN ATOMIC
    SELECT ff._set_state(key, 'DISABLED', environment);
END;

COMMENT ON FUNCTION ff.disable_flag(text, text) IS
'Kill switch: disables a flag (state DISABLED); evaluations return the caller''s default with reason DISABLED';

CREATE OR REPLACE FUNCTION ff._pick_variant(variants jsonb, candidates text[], other text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT c FROM pg_catalog.unnest(candidates) WITH ORDINALITY AS t(c, o)
     WHERE c IS NOT NULL AND variants ? c AND c IS DISTINCT FROM other
     ORDER BY o LIMIT 1;
END;

COMMENT ON FUNCTION ff._pick_variant(jsonb, text[], text) IS
'Internal: the first candidate that names a variant and differs from another name';

CREATE OR REPLACE FUNCTION ff.experiment_results(query text, control text,
                                      expected_split jsonb DEFAULT NULL,
                                      confidence double precision DEFAULT 0.95)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE sql
BEGIN ATOMIC
    SELECT * FROM ff._experiment_results(query, control, expected_split, confidence,
                                         pg_catalog.current_setting('search_path'));
END;

COMMENT ON FUNCTION ff.experiment_results(text, text, jsonb, double precision) IS
'Compares the variants of an experiment on an outcome: the query returns variant, outcome (boolean or number) and optionally a pre-period covariate (CUPED) per unit; per variant: units, mean, lift with its interval, p-value, chance to beat the control, and a sample-ratio check';

CREATE OR REPLACE FUNCTION ff._is_extension_owner(role_name name)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.pg_has_role(role_name,
                              (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'ff'),
                              'USAGE');

COMMENT ON FUNCTION ff._is_extension_owner(name) IS
'Internal: whether a role has the privileges of the extension''s owner (the role ff.run_scheduled_changes() runs as)';

CREATE OR REPLACE FUNCTION ff._actor()
RETURNS name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN pg_catalog.current_setting('role') = 'none' THEN SESSION_USER
            ELSE pg_catalog.current_setting('role')::name END;

COMMENT ON FUNCTION ff._actor() IS
'Internal: the role the change-request functions act for: the session''s role (SET ROLE, else the session user)';

CREATE OR REPLACE FUNCTION ff._flag_version(env text, flag_key text)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT f.version FROM ff.flags AS f WHERE f.environment = $1 AND f.key = $2);

COMMENT ON FUNCTION ff._flag_version(text, text) IS
'Internal: the version stamp of a flag now (NULL when it does not exist)';

CREATE OR REPLACE FUNCTION ff.approve_change(id bigint, comment text DEFAULT NULL)
RETURNS ff.change_requests
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET check_function_bodies = on
RETURN ff._review_change($1, 'approve', $2);

COMMENT ON FUNCTION ff.approve_change(bigint, text) IS
'Approves a pending change request (not the requester''s own); with enough approvals it becomes approved, ready for ff.apply_change; returns it';

CREATE OR REPLACE FUNCTION ff.reject_change(id bigint, comment text DEFAULT NULL)
RETURNS ff.change_requests
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET check_function_bodies = on
RETURN ff._review_change($1, 'reject', $2);

COMMENT ON FUNCTION ff.reject_change(bigint, text) IS
'Rejects a pending change request (by a reviewer other than the requester); returns it';

-- every view, as in the 1.23 install script

CREATE OR REPLACE VIEW ff.history AS
SELECT v.version,
       v.change_set,
       v.changed_at,
       v.environment,
       v.entity,
       v.entity_key,
       v.operation,
       ff._history_summary(v.operation, v.before, v.after, v.delta) AS summary,
       ff._history_diff(v.operation, v.before, v.after, v.delta) AS diff,
       v.changed_by,
       v.application_name,
       v.comment
  FROM ff.versions AS v;

COMMENT ON VIEW ff.history IS 'The configuration history, one row per version, with a readable diff and summary (ORDER BY version yourself; 1.10 dropped the view''s own ORDER BY, which made "latest N" compute every summary)';

CREATE OR REPLACE VIEW ff.change_sets AS
SELECT f.version AS change_set,
       c.last_version,
       c.changes,
       c.changed_at,
       c.changed_by,
       c.comment,
       c.environments,
       c.entities
  FROM ff.versions AS f
 CROSS JOIN LATERAL (
    SELECT pg_catalog.max(v.version) AS last_version,
           pg_catalog.count(*) AS changes,
           pg_catalog.min(v.changed_at) AS changed_at,
           (pg_catalog.array_agg(v.changed_by ORDER BY v.version))[1] AS changed_by,
           (pg_catalog.array_agg(v.comment ORDER BY v.version) FILTER (WHERE v.comment IS NOT NULL))[1] AS comment,
           pg_catalog.array_agg(DISTINCT v.environment ORDER BY v.environment) AS environments,
           pg_catalog.array_agg(DISTINCT v.entity || ':' || v.entity_key ORDER BY v.entity || ':' || v.entity_key) AS entities
      FROM ff.versions AS v
     WHERE v.version >= f.version
       AND v.version < COALESCE((SELECT n.version FROM ff.versions AS n
                                  WHERE n.version > f.version AND n.change_set <> f.version
                                  ORDER BY n.version LIMIT 1), 9223372036854775807)
       AND v.change_set = f.version) AS c
 WHERE f.change_set = f.version;

COMMENT ON VIEW ff.change_sets IS 'One row per committed transaction that changed the configuration (an atomic change-set)';

CREATE OR REPLACE VIEW ff.writer_lock WITH (security_invoker = true) AS
SELECT l.granted AS holds_lock,
       l.pid,
       l.virtualtransaction,
       a.usename AS session_user_name,
       a.application_name,
       a.client_addr,
       a.xact_start,
       l.waitstart AS waiting_since,
       a.state,
       a.query
  FROM pg_catalog.pg_locks AS l
  LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
 WHERE l.locktype = 'object'
   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d
                      WHERE d.datname = pg_catalog.current_database())
   AND l.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
   AND l.objid = 'ff.versions'::pg_catalog.regclass
   AND l.objsubid = 0
 ORDER BY l.granted DESC, l.waitstart;

COMMENT ON VIEW ff.writer_lock IS 'The transaction that holds the history writer lock (every configuration write takes it until commit) and those waiting for it';

CREATE OR REPLACE VIEW ff.flags_overview WITH (security_invoker = true) AS
SELECT f.environment,
       f.key,
       f.state,
       f.flag_type AS type,
       f.default_variant,
       ARRAY(SELECT k FROM jsonb_object_keys(f.variants) AS k ORDER BY k) AS variants,
       f.targeting IS NOT NULL AS has_targeting,
       ff._targeting_summary(f.targeting) AS targeting_summary,
       f.tags,
       f.owner,
       f.updated_at,
       f.version
  FROM ff.flags AS f
 ORDER BY f.environment, f.key;

COMMENT ON VIEW ff.flags_overview IS
'Flags at a glance: one row per flag and environment with its state, type, variants and a one-line targeting summary';

CREATE OR REPLACE VIEW ff.segments_overview WITH (security_invoker = true) AS
SELECT s.environment,
       s.name,
       s.rule IS NOT NULL AS has_rule,
       CASE WHEN length(s.rule::text) <= 80 THEN s.rule::text
            ELSE ff._targeting_summary(s.rule) END AS rule_summary,
       (SELECT count(*) FROM ff.segment_keys AS k
         WHERE k.environment = s.environment AND k.segment = s.name AND NOT k.excluded) AS included_keys,
       (SELECT count(*) FROM ff.segment_keys AS k
         WHERE k.environment = s.environment AND k.segment = s.name AND k.excluded) AS excluded_keys,
       ARRAY(SELECT u.kind || ' ' || u.name FROM ff._segment_users(s.environment, s.name) AS u) AS used_by,
       s.description,
       s.updated_at
  FROM ff.segments AS s
 ORDER BY s.environment, s.name;

COMMENT ON VIEW ff.segments_overview IS
'Segments at a glance: rule, size of the include and exclude lists, and the flags and segments that use each one';

CREATE OR REPLACE VIEW ff.environments_overview WITH (security_invoker = true) AS
SELECT e.name,
       e.is_default,
       (SELECT count(*) FROM ff.flags AS f WHERE f.environment = e.name) AS flags,
       (SELECT count(*) FROM ff.flags AS f WHERE f.environment = e.name AND f.state = 'ENABLED') AS enabled,
       (SELECT count(*) FROM ff.flags AS f WHERE f.environment = e.name AND f.state = 'DISABLED') AS disabled,
       (SELECT count(*) FROM ff.segments AS s WHERE s.environment = e.name) AS segments,
       e.metadata,
       e.description,
       e.updated_at
  FROM ff.environments AS e
 ORDER BY e.name;

COMMENT ON VIEW ff.environments_overview IS
'Environments at a glance: default marker, number of flags (enabled/disabled) and segments, flag-set metadata';

CREATE OR REPLACE VIEW ff.open_change_requests WITH (security_invoker = true) AS
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

CREATE OR REPLACE FUNCTION ff.evaluation_stats(
    OUT environment text,
    OUT flag_key text,
    OUT variant text,
    OUT reason text,
    OUT error_code text,
    OUT evaluations bigint,
    OUT first_evaluated timestamptz,
    OUT last_evaluated timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ff_evaluation_stats';

COMMENT ON FUNCTION ff.evaluation_stats() IS
'Evaluations counted per environment, flag key, variant, reason and error code in the current database (needs feature_flags in shared_preload_libraries)';

CREATE OR REPLACE VIEW ff.flag_usage WITH (security_invoker = true) AS
    SELECT f.environment,
           f.key AS flag_key,
           f.state,
           COALESCE(s.evaluations, 0)::bigint AS evaluations,
           COALESCE(s.errors, 0)::bigint AS errors,
           COALESCE(s.variants_served, '{}'::text[]) AS variants_served,
           s.last_evaluated
      FROM ff.flags AS f
      LEFT JOIN (SELECT e.environment, e.flag_key,
                        pg_catalog.sum(e.evaluations) AS evaluations,
                        pg_catalog.sum(e.evaluations) FILTER (WHERE e.reason = 'ERROR') AS errors,
                        pg_catalog.array_agg(DISTINCT e.variant ORDER BY e.variant)
                            FILTER (WHERE e.variant IS NOT NULL) AS variants_served,
                        pg_catalog.max(e.last_evaluated) AS last_evaluated
                   FROM ff.evaluation_stats() AS e
                  GROUP BY e.environment, e.flag_key) AS s
        ON s.environment = f.environment AND s.flag_key = f.key;

COMMENT ON VIEW ff.flag_usage IS
'Per flag: evaluations counted since ff.evaluation_stats_info().stats_since, errors, the variants served and the last evaluation (0 evaluations: unused; one variant served: constant)';

-- (found by a randomized concurrent write test) rollbacks, ff.copy_flag and
-- ff.delete_environment take the writer lock before they read what they
-- write, ff.apply_draft before it checks the draft over the stored flag;
-- an editor's rollback to the state a flag already has may read the history
-- through ff._history_drift_delta

-- ff._history_lock_writer: takes the history writer lock now, as the first write statement on the
--   entity's table would (a statement that changes no row still fires ff_01_writer_lock), so that
--   what the caller reads next is read after every writer before it committed: a rollback read
--   the row, the key list and the environment's flags before its first write waited for the lock,
--   and recorded a state that a change committed meanwhile had overtaken (1.23, found by a
--   randomized concurrent write test).  The rollbacks, the copies, ff.set_rollout,
--   ff.apply_draft and ff.import_flagd call it; the caller needs UPDATE on the table.
CREATE FUNCTION ff._history_lock_writer(entity text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE entity
        WHEN 'flag' THEN
            UPDATE ff.flags AS t SET key = t.key WHERE false;
        WHEN 'segment' THEN
            UPDATE ff.segments AS t SET name = t.name WHERE false;
        ELSE
            UPDATE ff.environments AS t SET metadata = t.metadata WHERE false;
    END CASE;
END;
$$;
COMMENT ON FUNCTION ff._history_lock_writer(text) IS
    'Internal: takes the history writer lock by an UPDATE of no row of the entity''s table (the caller''s UPDATE privilege on it), before the caller reads what it will write: rollbacks, copies, ff.set_rollout, ff.apply_draft, ff.import_flagd (1.23)';

CREATE OR REPLACE FUNCTION ff._history_restore(entity text, environment text, entity_key text, at_version bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET ff.invalid_targeting = 'warning'
SET enable_nestloop = off
SET jit = off
AS $$
DECLARE
    target      jsonb;
    cur         jsonb;
    before_v    bigint := ff.current_version();
    -- the entity's row, by environment $1 and key $2
    row_where   constant text := CASE entity WHEN 'environment' THEN 't.name = $2'
                                             WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                             ELSE 't.environment = $1 AND t.name = $2' END;
BEGIN
    PERFORM ff._history_check_rollback(entity, 'ff._history_restore');
    target := ff._history_image_at(entity, environment, entity_key, at_version);
    EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t WHERE %s',
                              ff._history_table(entity),
                              row_where)
       INTO cur USING environment, entity_key;

    IF target IS NULL THEN
        IF cur IS NOT NULL THEN
            EXECUTE pg_catalog.format('DELETE FROM %s AS t WHERE %s',
                                      ff._history_table(entity),
                                      row_where)
               USING environment, entity_key;
        END IF;
    ELSIF cur IS NULL OR (cur - 'version' - 'updated_at') <> (target - 'version' - 'updated_at') THEN
        PERFORM ff._history_write_image(entity, target, false);
    ELSIF ff._history_drift_delta(entity, environment, entity_key, cur) IS NOT NULL THEN
        -- (1.18) the row is already the target, but only through a change
        -- its history does not record (it says something else now): touch
        -- it, so that the version records that change, marked unrecorded
        -- (1.17 said "nothing changed")
        EXECUTE pg_catalog.format('UPDATE %s AS t SET updated_at = pg_catalog.now() WHERE %s',
                                  ff._history_table(entity),
                                  row_where)
           USING environment, entity_key;
    END IF;

    IF entity = 'segment' AND target IS NOT NULL THEN
        -- (enable_nestloop is off for this function: right after a bulk load
        -- of keys, before statistics, the planner would otherwise rescan the
        -- replayed list once per key, quadratic under the writer lock; and
        -- jit is off (1.18): the nested loop that remains inside
        -- ff._history_keys_at then carries the planner's disable cost, which
        -- made every call JIT-compile for about a second, under the lock)
        DELETE FROM ff.segment_keys AS k
         WHERE k.environment = $2 AND k.segment = $3
           AND NOT EXISTS (SELECT 1 FROM ff._history_keys_at($2, $3, $4) AS t
                            WHERE t.targeting_key = k.targeting_key);
        INSERT INTO ff.segment_keys AS k (environment, segment, targeting_key, excluded)
        SELECT $2, $3, t.targeting_key, t.excluded
          FROM ff._history_keys_at($2, $3, $4) AS t
         WHERE NOT EXISTS (SELECT 1 FROM ff.segment_keys AS c
                            WHERE c.environment = $2 AND c.segment = $3
                              AND c.targeting_key = t.targeting_key AND c.excluded = t.excluded)
            ON CONFLICT ON CONSTRAINT segment_keys_pkey
            DO UPDATE SET excluded = EXCLUDED.excluded;
    END IF;
    RETURN ff.current_version() > before_v;
END;
$$;

COMMENT ON FUNCTION ff._history_restore(text, text, text, bigint) IS
    'Internal: writes an entity (and a segment''s key list) back to its state as of a version; true if anything changed';

CREATE OR REPLACE FUNCTION ff.rollback_environment(environment text, to_version bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    set_by_us   text;
    before_v    bigint := ff.current_version();
    has_history boolean;
    item        record;
    pending     text[];
    refs        text[];
    order_      text[];
    seg         text;
BEGIN
    IF environment IS NULL THEN
        RAISE EXCEPTION 'environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to roll back.';
    END IF;
    PERFORM ff._history_check_version(to_version);
    -- (1.23) the writer lock before the environment's flags and segments are
    -- listed: a flag created while this rollback waited is rolled back too
    PERFORM ff._history_lock_writer('environment');
    has_history := EXISTS (SELECT 1 FROM ff.versions AS v
                            WHERE v.entity = 'environment' AND v.environment = $1
                              AND v.entity_key = $1);
    IF NOT has_history AND NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = $1) THEN
        RAISE EXCEPTION 'environment "%" does not exist and has no history', ff._name_in_message(environment)
            USING ERRCODE = 'undefined_object',
                  HINT = ff._perhaps_you_meant(environment, ARRAY(
                             SELECT e.name FROM ff.environments AS e
                             UNION
                             SELECT v.environment FROM ff.versions AS v WHERE v.entity = 'environment'))
                      || 'Check the name; ff.history lists the recorded changes of each environment.';
    END IF;
    -- an environment created by the install script and never changed has
    -- no history: it existed all along
    IF has_history AND ff._history_image_at('environment', $1, $1, to_version) IS NULL THEN
        RAISE EXCEPTION 'environment "%" did not exist at version %', environment, to_version
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'To go back to a state without it, delete its flags, its segments and the environment.';
    END IF;
    set_by_us := ff._history_with_comment(pg_catalog.format(
        'rollback of environment "%s" to version %s', environment, to_version));
    IF has_history THEN
        PERFORM ff._history_restore('environment', environment, environment, to_version);
    END IF;

    -- segments that existed then, each after the segments its rule of then
    -- references; then every flag; then the segments that did not exist
    -- then, each before the segments its rule of now references (a valid
    -- state has no cycle: what is left of one is restored as it comes, and
    -- the validation names the problem)
    SELECT COALESCE(pg_catalog.array_agg(s.entity_key ORDER BY s.entity_key), '{}'),
           COALESCE(pg_catalog.array_agg(pg_catalog.array_to_string(
               COALESCE(ff._rule_segment_names(s.image->'rule', 'segment'), '{}'), ',')
               ORDER BY s.entity_key), '{}')
      INTO pending, refs
      FROM (SELECT k.entity_key, ff._history_image_at('segment', $1, k.entity_key, to_version) AS image
              FROM ff._history_segment_keys_of($1) AS k) AS s
     WHERE s.image IS NOT NULL;
    FOREACH seg IN ARRAY ff._history_dependency_order(pending, refs) LOOP
        PERFORM ff._history_restore('segment', environment, seg, to_version);
    END LOOP;
    FOR item IN
        SELECT DISTINCT v.entity_key FROM ff.versions AS v
         WHERE v.entity = 'flag' AND v.environment = $1
         ORDER BY 1
    LOOP
        PERFORM ff._history_restore('flag', environment, item.entity_key, to_version);
    END LOOP;
    SELECT COALESCE(pg_catalog.array_agg(s.entity_key ORDER BY s.entity_key), '{}'),
           COALESCE(pg_catalog.array_agg(pg_catalog.array_to_string(
               ff._segment_refs($1, s.entity_key), ',') ORDER BY s.entity_key), '{}')
      INTO pending, refs
      FROM ff._history_segment_keys_of($1) AS s
     WHERE ff._history_image_at('segment', $1, s.entity_key, to_version) IS NULL;
    -- deleted in the reverse order: whoever references a segment goes first
    order_ := ff._history_dependency_order(pending, refs);
    FOR i IN REVERSE COALESCE(pg_catalog.array_upper(order_, 1), 0) .. 1 LOOP
        PERFORM ff._history_restore('segment', environment, order_[i], to_version);
    END LOOP;

    IF ff.current_version() = before_v THEN
        RAISE NOTICE 'environment "%" is already as of version %: nothing changed', environment, to_version;
    END IF;
    IF set_by_us IS NOT NULL THEN
        PERFORM pg_catalog.set_config('ff.change_comment', '', true);
    END IF;
    RETURN ff.current_version();
END;
$$;

COMMENT ON FUNCTION ff.rollback_environment(text, bigint) IS
    'Writes an environment, its segments and its flags back to their state as of to_version, as one change-set of new versions; returns the current version';

CREATE OR REPLACE FUNCTION ff.delete_environment(name text, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := delete_environment.name;
    seg         text;
    n           integer;
BEGIN
    IF env IS NULL THEN
        -- not the default environment: a NULL here is a caller's mistake
        RAISE EXCEPTION 'environment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to delete; ff.environments lists them.';
    END IF;
    -- (1.23) the writer lock before the environment's flags and segments are
    -- read: with force, a flag created meanwhile is deleted too (1.22 failed
    -- with "still has 1 flag(s)").  A DELETE of no row, not
    -- ff._history_lock_writer: the privilege this function needs anyway.
    DELETE FROM ff.environments AS t WHERE false;
    IF NOT EXISTS (SELECT 1 FROM ff.environments WHERE name = env) THEN
        PERFORM ff._resolve_environment(env);      -- raises the error
    END IF;
    IF (SELECT is_default FROM ff.environments WHERE name = env) THEN
        DELETE FROM ff.environments WHERE name = env;  -- the trigger explains why not
    END IF;
    IF force THEN
        DELETE FROM ff.flags WHERE environment = env;
        -- delete segments that no remaining segment references, until none is left
        LOOP
            n := 0;
            FOR seg IN SELECT s.name FROM ff.segments AS s WHERE s.environment = env ORDER BY s.name LOOP
                IF NOT EXISTS (SELECT 1 FROM ff.segments AS o
                                WHERE o.environment = env AND o.name <> seg
                                  AND seg = ANY (ff._segment_refs(env, o.name))) THEN
                    DELETE FROM ff.segments WHERE environment = env AND name = seg;
                    n := n + 1;
                END IF;
            END LOOP;
            EXIT WHEN n = 0;
        END LOOP;
    END IF;
    DELETE FROM ff.environments WHERE name = env;
END;
$$;

COMMENT ON FUNCTION ff.delete_environment(text, boolean) IS
'Deletes an environment; refuses the default one, and one with flags or segments unless force => true deletes them too';

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
    dst_env     text;
    src         ff.flags := ff._flag_row(copy_flag.key, src_env);
    dst_key     text := COALESCE(new_key, copy_flag.key);
    result      ff.flags;
BEGIN
    -- (1.17) a NULL target is refused, as by ff.copy_environment: it copied
    -- into the default environment
    IF to_environment IS NULL THEN
        RAISE EXCEPTION 'to_environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to copy the flag into.';
    END IF;
    dst_env := ff._resolve_environment(to_environment);
    -- (a NULL overwrite used to skip the check below, and so overwrite)
    IF overwrite IS NULL THEN
        RAISE EXCEPTION 'overwrite must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass overwrite => true to replace an existing flag, or false (the default) to refuse it.';
    END IF;
    -- (1.23) the writer lock before the source is read again: a change of
    -- it committed while this copy waited is what gets copied (1.22 copied
    -- the source as it was before, as a version after that change)
    PERFORM ff._history_lock_writer('flag');
    src := ff._flag_row(copy_flag.key, src_env);
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

CREATE OR REPLACE FUNCTION ff.apply_draft(flag_key text, draft jsonb, environment text DEFAULT NULL)
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
    -- (1.19) the history's writer lock before the flag's row lock, the
    -- order every writer takes them in: a statement that changes no row
    -- still fires ff_01_writer_lock.  1.18 locked the row first, and
    -- deadlocked with a writer that held the writer lock and then wrote
    -- the same flag (the scheduled-change runner calls this function).
    -- (1.23) Before the draft is checked over the stored flag: a flag
    -- deleted while this call waited is then not found, with the check's
    -- own error (1.22 checked first and then failed on the deleted row's
    -- NULL variants).
    PERFORM ff._history_lock_writer('flag');
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

GRANT EXECUTE ON FUNCTION ff._history_drift_delta(text, text, text, jsonb) TO PUBLIC;

CREATE OR REPLACE FUNCTION ff._history_rollback_entity(entity text, key text, to_version bigint, environment text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
    set_by_us   text;
BEGIN
    PERFORM ff._history_check_rollback(entity, 'ff._history_rollback_entity');
    PERFORM ff._history_check_version(to_version);
    IF key IS NULL THEN
        RAISE EXCEPTION '% % must not be NULL', entity, CASE entity WHEN 'flag' THEN 'key' ELSE 'name' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'ff.history lists the recorded changes and their keys.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.versions AS v
                    WHERE v.entity = _history_rollback_entity.entity AND v.environment = env
                      AND v.entity_key = key) THEN
        -- (1.12) a mistyped environment is named as such, with a suggestion
        IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = env)
           AND NOT EXISTS (SELECT 1 FROM ff.versions AS v WHERE v.entity = 'environment' AND v.environment = env) THEN
            RAISE EXCEPTION 'environment "%" does not exist and has no history', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object',
                      HINT = ff._perhaps_you_meant(env, ARRAY(
                                 SELECT e.name FROM ff.environments AS e
                                 UNION
                                 SELECT v.environment FROM ff.versions AS v WHERE v.entity = 'environment'))
                          || 'Check the environment; ff.history lists the recorded changes of each environment.';
        END IF;
        RAISE EXCEPTION '% "%" has no history in environment "%"', entity, ff._name_in_message(key), env
            USING ERRCODE = 'undefined_object',
                  HINT = ff._perhaps_you_meant(key, ARRAY(SELECT DISTINCT v.entity_key FROM ff.versions AS v
                                                           WHERE v.entity = _history_rollback_entity.entity
                                                             AND v.environment = env))
                      || pg_catalog.format('Check the %s %s and the environment; ff.history lists the recorded changes.',
                                           entity, CASE entity WHEN 'flag' THEN 'key' ELSE 'name' END);
    END IF;
    -- (1.23) the writer lock before ff._history_restore reads the row, the
    -- key list and the history (ff.rollback_environment takes it once for
    -- all its entities)
    PERFORM ff._history_lock_writer(entity);
    set_by_us := ff._history_with_comment(pg_catalog.format(
        'rollback of %s "%s" in environment "%s" to version %s', entity, key, env, to_version));
    IF NOT ff._history_restore(entity, env, key, to_version) THEN
        RAISE NOTICE '% "%" in environment "%" is already as of version %: nothing changed',
                     entity, key, env, to_version;
    END IF;
    IF set_by_us IS NOT NULL THEN
        PERFORM pg_catalog.set_config('ff.change_comment', '', true);
    END IF;
    RETURN ff.current_version();
END;
$$;

COMMENT ON FUNCTION ff._history_rollback_entity(text, text, bigint, text) IS
    'Internal: the shared body of ff.rollback_flag and ff.rollback_segment (runs with the caller''s rights)';

CREATE OR REPLACE FUNCTION ff.import_flagd(document jsonb, environment text DEFAULT NULL, replace boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'warning'
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(import_flagd.environment);
    flags       jsonb;
    evaluators  jsonb;
    fl          record;
    f           jsonb;
    fpath       text;
    dv          text;
    tg          jsonb;
    md          jsonb;
    vr          jsonb;
    set_md      jsonb;
    parsed      jsonb[] := '{}';
    written     integer := 0;
    n           integer;
    old_types   jsonb;
    new_type    text;
BEGIN
    IF document IS NULL OR jsonb_typeof(document) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: the document is %',
            CASE WHEN document IS NULL THEN 'NULL' ELSE 'a JSON ' || jsonb_typeof(document) || ', not an object' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A flagd document is an object such as {"flags": {"my-flag": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}.';
    END IF;

    -- flags: the map form, or the flagd daemon's array form
    flags := document -> 'flags';
    IF flags IS NULL THEN
        RAISE EXCEPTION 'invalid flagd document: $.flags is missing'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The document needs "flags": an object mapping flag keys to flag definitions, or an array of flag definitions that each have a "key".';
    ELSIF jsonb_typeof(flags) = 'array' THEN
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(flags) AS a
                    WHERE jsonb_typeof(a) <> 'object' OR jsonb_typeof(a -> 'key') IS DISTINCT FROM 'string') THEN
            RAISE EXCEPTION 'invalid flagd document: $.flags is an array whose elements are not all objects with a string "key"'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use the map form {"flags": {"my-flag": {...}}}, or give every flag object a "key".';
        END IF;
        SELECT k INTO fpath FROM (SELECT a ->> 'key' AS k FROM jsonb_array_elements(flags) AS a) AS x
         GROUP BY k HAVING count(*) > 1 ORDER BY k LIMIT 1;
        IF fpath IS NOT NULL THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" is defined more than once in $.flags', fpath
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Flag keys are unique within a document.';
        END IF;
        -- (1.20) json_object_agg, cast once: jsonb_object_agg takes time
        -- quadratic in the size of a large value (a flag with a long list)
        SELECT json_object_agg(a ->> 'key', a - 'key')::jsonb INTO flags FROM jsonb_array_elements(flags) AS a;
        flags := COALESCE(flags, '{}');
    ELSIF jsonb_typeof(flags) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: $.flags is a JSON %, not an object or an array', jsonb_typeof(flags)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The document needs "flags": an object mapping flag keys to flag definitions, or an array of flag definitions that each have a "key".';
    END IF;

    -- shared rules; here and below, an optional member that is JSON null is absent
    evaluators := NULLIF(document -> '$evaluators', 'null');
    IF evaluators IS NOT NULL AND jsonb_typeof(evaluators) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: $."$evaluators" is a JSON %, not an object', jsonb_typeof(evaluators)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '"$evaluators" maps names to JSON Logic rules that flags reference with {"$ref": "name"}.';
    END IF;
    -- flag-set metadata
    set_md := NULLIF(document -> 'metadata', 'null');
    IF set_md IS NOT NULL THEN
        PERFORM ff._check_metadata(set_md, 'the flag set of the document', '$.metadata');
    END IF;

    -- check the shape of every flag before writing anything
    FOR fl IN SELECT e.key, e.value FROM jsonb_each(flags) AS e ORDER BY e.key LOOP
        f := fl.value;
        fpath := ff._json_path_member('$.flags', fl.key);
        IF jsonb_typeof(f) <> 'object' THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" is a JSON %, not an object', fl.key, jsonb_typeof(f)
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.', fpath),
                      HINT = 'A flag is an object with "state", "variants" and optionally "defaultVariant", "targeting" and "metadata".';
        END IF;
        IF NOT f ? 'state' OR NOT f ? 'variants' THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has no "%"', fl.key,
                CASE WHEN NOT f ? 'state' THEN 'state' ELSE 'variants' END
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.', fpath),
                      HINT = 'Every flag needs "state" ("ENABLED" or "DISABLED") and "variants".';
        END IF;
        IF jsonb_typeof(f -> 'state') <> 'string' OR (f ->> 'state') NOT IN ('ENABLED', 'DISABLED') THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has state %', fl.key, (f -> 'state')::text
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.state.', fpath),
                      HINT = 'The state is "ENABLED" or "DISABLED".';
        END IF;
        IF f ? 'defaultVariant' AND jsonb_typeof(f -> 'defaultVariant') NOT IN ('string', 'null') THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has a defaultVariant that is a JSON %', fl.key,
                jsonb_typeof(f -> 'defaultVariant')
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.defaultVariant.', fpath),
                      HINT = 'defaultVariant is the name of a variant, or null.';
        END IF;
        -- (1.20) "" is no default variant, as flagd reads it (no variant
        -- may have an empty name)
        dv := NULLIF(f ->> 'defaultVariant', '');
        tg := ff._flagd_resolve_refs(f -> 'targeting', evaluators, fl.key, fpath || '.targeting');
        md := COALESCE(NULLIF(f -> 'metadata', 'null'), '{}');
        -- (1.20) {"$ref": name} inside a variant's value is replaced too, as
        -- flagd replaces it anywhere in the document; variants nested too
        -- deep to walk for it (rules stop at 256 levels) are left as written
        vr := f -> 'variants';
        IF evaluators IS NOT NULL AND strpos(vr::text, '"$ref"') > 0 THEN
            BEGIN
                vr := ff._flagd_resolve_refs(vr, evaluators, fl.key, fpath || '.variants');
            EXCEPTION WHEN invalid_parameter_value OR statement_too_complex THEN
                vr := f -> 'variants';
            END;
        END IF;
        -- appended in place (a jsonb array would be copied for every flag)
        parsed := array_append(parsed, jsonb_build_object(
            'key', fl.key, 'state', f -> 'state', 'variants', vr,
            'defaultVariant', dv, 'targeting', tg, 'metadata', md));
    END LOOP;

    -- the history's writer lock first (1.20), so that the types read next
    -- are not changed by a concurrent writer before this one writes
    PERFORM ff._history_lock_writer('flag');
    -- the types of the flags the document changes (1.11: a document whose
    -- variants have another type changes the flag's type, as flagd loads
    -- it, with a WARNING instead of silently)
    SELECT jsonb_object_agg(t.key, t.flag_type) INTO old_types
      FROM ff.flags AS t WHERE t.environment = env AND flags ? t.key;

    -- write: unchanged flags are left alone (no new version, no history)
    FOREACH f IN ARRAY parsed LOOP
        tg := f -> 'targeting';
        IF tg = 'null'::jsonb OR tg = '{}'::jsonb THEN
            tg := NULL;
        END IF;
        new_type := NULL;
        INSERT INTO ff.flags AS t (environment, key, state, variants, default_variant, targeting, metadata)
        VALUES (env, f ->> 'key', f ->> 'state', f -> 'variants', f ->> 'defaultVariant', tg, f -> 'metadata')
        ON CONFLICT (environment, key) DO UPDATE
           SET state = EXCLUDED.state, variants = EXCLUDED.variants,
               flag_type = CASE WHEN t.variants = EXCLUDED.variants THEN t.flag_type END,
               default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
               metadata = EXCLUDED.metadata
         -- compared as text (1.20): jsonb equality takes 10 and 10.0 for
         -- one value, and a document that only respells a number was
         -- skipped, so the flag kept the old spelling
         WHERE (t.state, t.variants::text, t.default_variant, t.targeting::text, t.metadata::text)
               IS DISTINCT FROM
               (EXCLUDED.state, EXCLUDED.variants::text, EXCLUDED.default_variant, EXCLUDED.targeting::text,
                EXCLUDED.metadata::text)
        RETURNING t.flag_type INTO new_type;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
        IF n > 0 AND old_types ? (f ->> 'key') AND new_type IS DISTINCT FROM (old_types ->> (f ->> 'key')) THEN
            RAISE WARNING 'flag "%" in environment "%" changes type from % to %',
                f ->> 'key', env, old_types ->> (f ->> 'key'), new_type
                USING DETAIL = pg_catalog.format('The document''s variants are of type %s; applications that read the flag as %s get their default, with error code TYPE_MISMATCH.',
                                                 new_type, old_types ->> (f ->> 'key')),
                      HINT = 'flagd loads a document so; if the change is a mistake, import the flag with variants of the old type.';
        END IF;
    END LOOP;

    IF replace THEN
        DELETE FROM ff.flags AS t WHERE t.environment = env AND NOT flags ? t.key;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END IF;

    IF set_md IS NOT NULL THEN
        UPDATE ff.environments AS e SET metadata = set_md
         WHERE e.name = env AND e.metadata IS DISTINCT FROM set_md;
    END IF;
    RETURN written;
END;
$$;

COMMENT ON FUNCTION ff.import_flagd(jsonb, text, boolean) IS
'Loads a flagd flag-definition document into an environment atomically ($ref resolved, metadata = flag-set metadata); replace => true deletes the environment''s flags absent from the document; returns the number of flags created, changed or deleted';

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
        RAISE EXCEPTION 'to_environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to copy into; it is created when it does not exist.';
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
    -- (1.23) the writer lock before the source and the clashes are read: a
    -- change committed while this copy waited is copied, and a flag created
    -- meanwhile in the target is a clash (1.22 copied the older source and
    -- overwrote such a flag despite overwrite => false)
    PERFORM ff._history_lock_writer('flag');
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
                      HINT = format('Pass overwrite => true to replace them with the source''s definitions; SELECT * FROM ff.diff_environments(%L, %L) lists what that changes.',
                                    src_env, dst_env);
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
    -- (1.23) the writer lock before the flag's variants are read for the rule
    PERFORM ff._history_lock_writer('flag');
    RETURN ff.set_targeting(set_rollout.key,
                            ff._rollout_rule(set_rollout.key, percentage, env, variant, otherwise, bucket_by),
                            env);
END;
$$;

COMMENT ON FUNCTION ff.set_rollout(text, numeric, text, text, text, text) IS
'Replaces the targeting of a flag with a percentage rollout (flagd fractional, bucketed by flag key + targetingKey or by the bucket_by attribute); 0 and 100 serve one variant to everyone';

-- ff._foreign_dependencies lists what the extension's own objects (and the
-- rules of its views, the defaults and constraints of its tables) use
-- outside pg_catalog and ff: a function, operator, aggregate or type that
-- took the place of PostgreSQL's own while a script of the extension ran
-- (1.23; scripts before 1.23 ran with the search_path CREATE EXTENSION
-- sets, which starts with the schema it is run from).  Triggers and indexes
-- are left out: the extension's own name only ff functions and pg_catalog
-- operators, and users add their own (audit triggers, expression indexes)
-- that may call anything.  Empty when all is well; the 1.22 -> 1.23 update
-- warns about each row.
CREATE FUNCTION ff._foreign_dependencies(OUT object text, OUT uses text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH members AS (
        SELECT d.classid, d.objid
          FROM pg_catalog.pg_depend AS d
          JOIN pg_catalog.pg_extension AS x ON x.oid = d.refobjid
         WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
           AND x.extname = 'feature_flags'
    ), owned AS (
        SELECT classid, objid FROM members
        UNION ALL
        SELECT 'pg_catalog.pg_rewrite'::regclass, r.oid
          FROM pg_catalog.pg_rewrite AS r JOIN members AS m ON m.objid = r.ev_class
         WHERE m.classid = 'pg_catalog.pg_class'::regclass
        UNION ALL
        SELECT 'pg_catalog.pg_attrdef'::regclass, a.oid
          FROM pg_catalog.pg_attrdef AS a JOIN members AS m ON m.objid = a.adrelid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass
        UNION ALL
        SELECT 'pg_catalog.pg_constraint'::regclass, c.oid
          FROM pg_catalog.pg_constraint AS c JOIN members AS m ON m.objid = c.conrelid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass
    )
    SELECT DISTINCT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid),
           pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
      FROM owned AS o
      JOIN pg_catalog.pg_depend AS d ON d.classid = o.classid AND d.objid = o.objid
     CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.refclassid, d.refobjid, 0) AS r
     WHERE d.deptype = 'n'
       AND d.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass,
                            'pg_catalog.pg_type'::regclass, 'pg_catalog.pg_collation'::regclass,
                            'pg_catalog.pg_class'::regclass)
       AND r.schema IS NOT NULL AND r.schema NOT IN ('pg_catalog', 'ff')
     ORDER BY 1, 2
$$;

COMMENT ON FUNCTION ff._foreign_dependencies() IS
'Internal: what the extension''s objects (functions, views, column defaults and constraints; not triggers or indexes) use outside pg_catalog and ff (a look-alike bound while an install or update script ran); empty when all is well';

REVOKE ALL ON FUNCTION ff._foreign_dependencies() FROM PUBLIC;

-- what still uses a function, operator, aggregate or type outside pg_catalog
-- and ff (something this script does not replace) is named
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM ff._foreign_dependencies() LOOP
        RAISE WARNING '% uses %, which is not PostgreSQL''s own', r.object, r.uses
            USING DETAIL = 'The extension means PostgreSQL''s own function there; this one was found first on the search_path when the extension was created or updated (before 1.23), or was put into the ff object since.',
                  HINT = 'Check who created it and what it does; if it is not yours, define the ff object again as the install script does (a column default: ALTER TABLE ... ALTER COLUMN ... SET DEFAULT ...), then drop it.';
    END LOOP;
END
$$;
