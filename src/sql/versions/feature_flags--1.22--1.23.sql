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
   AND pg_catalog.pg_has_role(CURRENT_USER,
                              (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'ff'),
                              'MEMBER')
   AND pg_catalog.pg_has_role(CASE WHEN pg_catalog.current_setting('role') = 'none' THEN SESSION_USER
                                   ELSE pg_catalog.current_setting('role')::name END,
                              (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'ff'),
                              'MEMBER');

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

-- ff._foreign_dependencies lists what the extension's own objects (and the
-- rules of its views, the triggers, defaults and constraints of its tables)
-- use outside pg_catalog and ff: a function, operator, aggregate or type
-- that took the place of PostgreSQL's own while a script of the extension
-- ran (1.23; scripts before 1.23 ran with the search_path CREATE EXTENSION
-- sets, which starts with the schema it is run from).  Empty when all is
-- well; the 1.22 -> 1.23 update warns about each row.
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
        SELECT 'pg_catalog.pg_trigger'::regclass, t.oid
          FROM pg_catalog.pg_trigger AS t JOIN members AS m ON m.objid = t.tgrelid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass
        UNION ALL
        SELECT 'pg_catalog.pg_attrdef'::regclass, a.oid
          FROM pg_catalog.pg_attrdef AS a JOIN members AS m ON m.objid = a.adrelid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass
        UNION ALL
        SELECT 'pg_catalog.pg_constraint'::regclass, c.oid
          FROM pg_catalog.pg_constraint AS c JOIN members AS m ON m.objid = c.conrelid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass
        UNION ALL
        SELECT 'pg_catalog.pg_class'::regclass, i.indexrelid
          FROM pg_catalog.pg_index AS i JOIN members AS m ON m.objid = i.indrelid
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
'Internal: what the extension''s objects use outside pg_catalog and ff (a look-alike bound while an install or update script ran); empty when all is well';

REVOKE ALL ON FUNCTION ff._foreign_dependencies() FROM PUBLIC;

-- what still uses a function, operator, aggregate or type outside pg_catalog
-- and ff (something this script does not replace) is named
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM ff._foreign_dependencies() LOOP
        RAISE WARNING '% uses %, which is not PostgreSQL''s own', r.object, r.uses
            USING DETAIL = 'It was bound when the extension was created or updated, from a schema on the search_path of that time.',
                  HINT = 'Inspect it; drop it (DROP ... CASCADE drops the ff object too) and recreate the extension from a dump, or replace the ff object with its definition from the install script.';
    END LOOP;
END
$$;
