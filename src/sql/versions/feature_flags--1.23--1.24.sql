\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.24'" to load this file. \quit
-- feature_flags 1.23 -> 1.24
--
-- 1.24 changes no table.  It fixes what reviews of the scheduled changes,
-- the approvals and the experiment analysis found:
--   * ff.run_scheduled_changes applies the changes of a flag in run_at
--     order whatever it meets.  It takes the history's writer lock before
--     it locks any due change (1.23 locked them as its loop fetched them,
--     ten at a time: a second runner took changes from the middle of the
--     queue, waited for the writer lock, and applied them after the first
--     runner had applied later changes of the same flag, so the flag ended
--     in an older state).  A change of a flag waits, pending, while an
--     earlier change of that flag is still pending: one left so by a
--     transient error in the same run (1.23 applied the later one, and the
--     next run the earlier one over it), or one that another transaction
--     holds locked; a waiting change does not count against max_changes.
--     A lock timeout on the writer lock leaves every due change pending
--     with one WARNING.  A change that changes nothing (the
--     flag already is so) is applied with version NULL (1.23 gave the
--     flag's version, that of an earlier change); so is such a change
--     request in ff.apply_change (both through the library's
--     ff._apply_draft_as / ff._apply_approved_draft, which return NULL then).
--   * ff.approve_change refuses a request whose flag changed since it was
--     made (ff.apply_change would refuse it anyway; 1.23 took the approval
--     and sent the "approved" notification); new ff._change_request_stale
--     is the one check of both.
--   * The HINT of the approval gate names the flag to request a change of;
--     for what a request cannot do (deleting, renaming or moving a flag,
--     segments, key lists, the environment's row) it says that only ff
--     administrators make it
--     (1.23 suggested a change request for a placeholder 'flag-key' in
--     every case).  ff._approval_denied takes the flag's key as a third
--     argument.
--   * ff.experiment_results: a variant whose outcome or covariate is the
--     same for every unit (its minimum is its maximum) has exactly that mean
--     and no variance (an outcome of 9.99 for every unit, summed in double
--     precision, gave identical arms p = 0); each variant is aggregated by
--     the new ff._experiment_moments (C; sums of differences from a shift,
--     so a large common offset keeps its fractions: 1e12 plus a fraction
--     over 100,000 units gave equal arms p = 0.000); magnitudes outside 1e-100 to 1e100 are refused
--     with a HINT to rescale (a variance that underflowed to 0 made any
--     difference significant), and an overflow in the statistics says so;
--     a result with only the control variant gives a WARNING.
--   * ff.flag_usage: evaluations is NULL, not 0, for a flag without entries
--     when the statistics table dropped evaluations of this database since
--     stats_since (the flag's may be among them).
--   * Copies and regional copies (a review of comparing, copying and
--     logical replication): an overwriting copy removes the target's keys
--     that the source lacks by a set difference (ff._copy_segments; its NOT
--     EXISTS ran as a nested loop when the keys' statistics were stale:
--     100,000 keys, 580 s holding the writer lock); ff.copy_flag says with a
--     NOTICE which of the target's same-named segments it uses as they are,
--     or what they reference there, differ from the source's (new internal
--     ff._segment_alike); ff.copy_environment names the
--     first ten clashes and counts the rest; ff.diff_environments does not
--     diff equal images; ff._history_notify_payload reads only its
--     change-set's versions (it read every later version: at the initial
--     copy of a subscription, which notified each past change-set, the
--     time grew with the square of the history).
SET LOCAL search_path = pg_catalog, pg_temp;

DROP FUNCTION ff._approval_denied(text, text);
CREATE OR REPLACE FUNCTION ff._approval_denied(environment text, what text, flag_key text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'environment "%" takes changes only through approved change requests', environment
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('The statement would %s. Role "%s" is not an ff administrator, and environment "%s" requires %s approval(s) of every change.',
                              what, current_user, environment, ff._approvals_required(environment)),
              -- (1.24) the flag's own key when a change request can make the
              -- change (a flag changed or created); else who can
              HINT = CASE WHEN flag_key IS NOT NULL
                          THEN format('Request the change: SELECT ff.request_change(%L, draft, %L); where draft is a jsonb object of the flag''s members to change (as ff.apply_draft takes it).', flag_key, environment)
                          ELSE 'Only ff administrators make this change there; change requests cover changing and creating flags.' END;
END;
$$;

COMMENT ON FUNCTION ff._approval_denied(text, text, text) IS
'Internal: raises insufficient_privilege for a direct change of an environment that requires approved change requests (flag_key: the flag a change request could change, for the HINT)';

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
    keys_kept   boolean := false;
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
                    PERFORM ff._approval_denied(env, ff._protect_what(TG_TABLE_NAME, verb, one), one ->> CASE WHEN TG_TABLE_NAME = 'flags' AND verb <> 'delete' THEN 'key' END);
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
        -- (1.24) whether the HINT may offer a change request: an UPDATE of
        -- flags that keeps their keys and environments (a request cannot
        -- delete, rename or move a flag)
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'flags' THEN
            keys_kept := NOT EXISTS (SELECT to_jsonb(o) ->> 'environment', to_jsonb(o) ->> 'key' FROM ff_protect_old AS o
                                     EXCEPT
                                     SELECT to_jsonb(n) ->> 'environment', to_jsonb(n) ->> 'key' FROM ff_protect_new AS n);
        END IF;
        FOR env IN SELECT DISTINCT k.environment FROM ff_protect_old AS k
                    WHERE k.environment = ANY (protected_envs)
                      AND ff._approvals_required(k.environment) > 0 ORDER BY 1 LOOP
            IF TG_OP <> 'UPDATE' OR TG_TABLE_NAME <> 'flags' OR gate IS NULL OR gate[1] <> env
               OR EXISTS (SELECT 1 FROM ff_protect_old AS k
                           WHERE k.environment = env AND to_jsonb(k) ->> 'key' <> gate[2]) THEN
                SELECT to_jsonb(k) INTO one FROM ff_protect_old AS k WHERE k.environment = env LIMIT 1;
                PERFORM ff._approval_denied(env, ff._protect_what(TG_TABLE_NAME, verb, one),
                                            one ->> CASE WHEN keys_kept THEN 'key' END);
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
                    PERFORM ff._approval_denied(env, ff._protect_what(TG_TABLE_NAME, verb, one),
                                            one ->> CASE WHEN keys_kept THEN 'key' END);
                END IF;
            END LOOP;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION ff._protect_statement_general() IS
'Internal: the check of ff._protect_statement() when an environment is protected: refuses changes in protected environments that current_user may not change';

CREATE OR REPLACE FUNCTION ff._history_notify_payload(change_set bigint, max_bytes integer DEFAULT 7900)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- the generic plan (an index scan from change_set on) is the right one;
-- without this the estimate of "version >= $1" makes every call plan anew
SET plan_cache_mode = force_generic_plan
-- the generic plan is made once per session; with the table's statistics of
-- that moment (a small history) it could be a sequential scan, which then
-- grows with the history for the rest of the session: the change-set's rows
-- are always read through the primary key
SET enable_seqscan = off
AS $$
DECLARE
    last_version    bigint;
    n_changes       bigint;
    envs            jsonb;
    flags           jsonb;
    segs            jsonb;
    n_names         bigint;
    n_kept          bigint;
    budget          integer;
    one             record;
    env_cost        bigint;
    key_cost        bigint;
    next_set        bigint;
BEGIN
    -- names listed in order (environments, flags, segments), each costing
    -- its JSON length plus the ", " separator, until the budget is spent
    budget := max_bytes - 200;

    -- (1.24) where the change-set ends: its versions are consecutive (their
    -- transaction held the writer lock), so at the first later version of
    -- another change-set.  1.23 read every version after change_set: cheap
    -- at a commit, the newest change-set, but at the initial copy of a
    -- subscription, which notified every past change-set, the time grew
    -- with the square of the history's length (30,000 versions: 75 s).
    SELECT v.version INTO next_set
      FROM ff.versions AS v
     WHERE v.version > $1 AND v.change_set <> $1
     ORDER BY v.version
     LIMIT 1;
    next_set := COALESCE(next_set, 9223372036854775807);

    -- a change-set of one version (a single change, the usual case): the
    -- payload straight from that row, the same as the general query below
    -- gives for it
    SELECT pg_catalog.count(*) AS n, pg_catalog.max(v.version) AS version,
           pg_catalog.min(v.entity) AS entity, pg_catalog.min(v.environment) AS environment,
           pg_catalog.min(v.entity_key) AS entity_key
      INTO one
      FROM ff.versions AS v
     WHERE v.version >= $1 AND v.version < next_set AND v.change_set = $1;
    IF one.n = 1 THEN
        env_cost := pg_catalog.octet_length(pg_catalog.to_jsonb(one.environment)::text) + 2;
        IF one.entity IN ('flag', 'segment') THEN
            key_cost := env_cost + pg_catalog.octet_length(pg_catalog.to_jsonb(one.entity_key)::text) + 2;
        END IF;
        RETURN pg_catalog.jsonb_build_object(
            'version', one.version,
            'change_set', $1,
            'changes', 1,
            'environments', CASE WHEN env_cost <= budget
                                 THEN pg_catalog.jsonb_build_array(one.environment)
                                 ELSE '[]'::jsonb END,
            'flags', CASE WHEN one.entity = 'flag' AND key_cost <= budget
                          THEN pg_catalog.jsonb_build_array(one.entity_key)
                          ELSE '[]'::jsonb END,
            'segments', CASE WHEN one.entity = 'segment' AND key_cost <= budget
                             THEN pg_catalog.jsonb_build_array(one.entity_key)
                             ELSE '[]'::jsonb END,
            'truncated', env_cost > budget OR coalesce(key_cost > budget, false))::text;
    END IF;

    -- several versions: one statement, one index scan of the change-set's
    -- rows (they are the versions from change_set on that carry it)
    WITH cs AS MATERIALIZED (
        SELECT v.version, v.entity, v.environment, v.entity_key
          FROM ff.versions AS v
         WHERE v.version >= $1 AND v.version < next_set AND v.change_set = $1),
    names AS (
        SELECT DISTINCT 1 AS kind, c.environment AS name
          FROM cs AS c
        UNION
        SELECT DISTINCT 2, c.entity_key
          FROM cs AS c WHERE c.entity = 'flag'
        UNION
        SELECT DISTINCT 3, c.entity_key
          FROM cs AS c WHERE c.entity = 'segment'),
    costed AS (
        SELECT n.kind, n.name,
               pg_catalog.sum(pg_catalog.octet_length(pg_catalog.to_jsonb(n.name)::text) + 2)
                   OVER (ORDER BY n.kind, n.name) AS running
          FROM names AS n)
    SELECT (SELECT pg_catalog.max(c.version) FROM cs AS c),
           (SELECT pg_catalog.count(*) FROM cs AS c),
           coalesce(pg_catalog.jsonb_agg(c.name ORDER BY c.name) FILTER (WHERE c.kind = 1 AND c.running <= budget), '[]'),
           coalesce(pg_catalog.jsonb_agg(c.name ORDER BY c.name) FILTER (WHERE c.kind = 2 AND c.running <= budget), '[]'),
           coalesce(pg_catalog.jsonb_agg(c.name ORDER BY c.name) FILTER (WHERE c.kind = 3 AND c.running <= budget), '[]'),
           pg_catalog.count(*),
           pg_catalog.count(*) FILTER (WHERE c.running <= budget)
      INTO last_version, n_changes, envs, flags, segs, n_names, n_kept
      FROM costed AS c;

    RETURN pg_catalog.jsonb_build_object(
        'version', last_version,
        'change_set', $1,
        'changes', n_changes,
        'environments', envs,
        'flags', flags,
        'segments', segs,
        'truncated', n_kept < n_names)::text;
END;
$$;

COMMENT ON FUNCTION ff._history_notify_payload(bigint, integer) IS
    'Internal: the NOTIFY payload of a change-set: version, change_set, changes, environments, flags, segments, truncated';

CREATE OR REPLACE FUNCTION ff._segment_alike(env_a text, env_b text, segment text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM ff.segments AS a, ff.segments AS b
                    WHERE a.environment = $1 AND a.name = $3
                      AND b.environment = $2 AND b.name = $3
                      AND a.rule IS NOT DISTINCT FROM b.rule)
       AND NOT EXISTS ((SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                         WHERE k.environment = $1 AND k.segment = $3
                        EXCEPT
                        SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                         WHERE k.environment = $2 AND k.segment = $3)
                       UNION ALL
                       (SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                         WHERE k.environment = $2 AND k.segment = $3
                        EXCEPT
                        SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                         WHERE k.environment = $1 AND k.segment = $3))
$$;

COMMENT ON FUNCTION ff._segment_alike(text, text, text) IS
'Internal: whether a segment has the same rule and keys in two environments (1.24)';

CREATE OR REPLACE FUNCTION ff._copy_segments(source_env text, target_env text, names text[], overwrite boolean)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    todo        text[];
    done        text[] := '{}';
    seg         text;
    progress    boolean;
    copied      integer := 0;
    src         ff.segments;
    gone        text[];
    kept        text[] := '{}';
    differing   text;
BEGIN
    -- the closure of the requested segments over in_segment references
    -- (not through a segment the target has and keeps: the target's own is
    -- used, with its own references)
    WITH RECURSIVE closure (seg) AS (
        SELECT s FROM unnest(names) AS s
        UNION
        SELECT r FROM closure AS c, unnest(ff._segment_refs(source_env, c.seg)) AS r
         WHERE overwrite
            OR NOT EXISTS (SELECT 1 FROM ff.segments AS t WHERE t.environment = target_env AND t.name = c.seg)
    )
    SELECT array_agg(c.seg ORDER BY c.seg) INTO todo FROM closure AS c;
    todo := COALESCE(todo, '{}');

    WHILE cardinality(todo) > 0 LOOP
        progress := false;
        FOREACH seg IN ARRAY todo LOOP
            IF ff._segment_refs(source_env, seg) <@ done
               OR (NOT overwrite AND EXISTS (SELECT 1 FROM ff.segments AS t
                                              WHERE t.environment = target_env AND t.name = seg)) THEN
                SELECT * INTO src FROM ff.segments WHERE environment = source_env AND name = seg;
                IF NOT FOUND THEN
                    PERFORM ff._segment_not_found(seg, source_env);
                END IF;
                IF NOT EXISTS (SELECT 1 FROM ff.segments WHERE environment = target_env AND name = seg) THEN
                    INSERT INTO ff.segments (environment, name, rule, description)
                    VALUES (target_env, seg, src.rule, src.description);
                    INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
                    SELECT target_env, seg, k.targeting_key, k.excluded
                      FROM ff.segment_keys AS k WHERE k.environment = source_env AND k.segment = seg;
                    copied := copied + 1;
                ELSIF overwrite THEN
                    UPDATE ff.segments SET rule = src.rule, description = src.description
                     WHERE environment = target_env AND name = seg
                       AND (rule, description) IS DISTINCT FROM (src.rule, src.description);
                    -- (1.24) the keys to remove are found by a set
                    -- difference and removed by the primary key, whatever
                    -- the statistics say: the target's keys are often
                    -- written in this transaction or just before, and
                    -- estimated at a row or two; a NOT EXISTS then ran as a
                    -- nested loop over all the keys (100,000 keys: 580 s,
                    -- holding the writer lock)
                    gone := ARRAY(SELECT d.targeting_key
                                    FROM (SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                                           WHERE k.environment = target_env AND k.segment = seg
                                          EXCEPT
                                          SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                                           WHERE k.environment = source_env AND k.segment = seg) AS d);
                    DELETE FROM ff.segment_keys AS t
                     WHERE t.environment = target_env AND t.segment = seg
                       AND t.targeting_key = ANY (gone);
                    INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
                    SELECT target_env, seg, k.targeting_key, k.excluded
                      FROM ff.segment_keys AS k WHERE k.environment = source_env AND k.segment = seg
                    ON CONFLICT (environment, segment, targeting_key) DO NOTHING;
                    copied := copied + 1;
                ELSE
                    kept := kept || seg;
                END IF;
                done := done || seg;
                todo := array_remove(todo, seg);
                progress := true;
            END IF;
        END LOOP;
        IF NOT progress THEN
            RAISE EXCEPTION 'segments % of environment "%" reference each other in a cycle', todo, source_env
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    -- the kept segments and what they reference in the target, each
    -- compared once: those whose rule or keys differ are named (below a
    -- segment that is alike, the references are the same on both sides)
    IF cardinality(kept) > 0 THEN
        WITH RECURSIVE closure (seg, alike) AS (
            SELECT k, ff._segment_alike(source_env, target_env, k) FROM unnest(kept) AS k
            UNION
            SELECT r, ff._segment_alike(source_env, target_env, r)
              FROM closure AS c, unnest(ff._segment_refs(source_env, c.seg)) AS r
             WHERE c.alike
        )
        SELECT string_agg(format('"%s"', c.seg), ', ' ORDER BY c.seg) INTO differing
          FROM closure AS c
         WHERE NOT c.alike;
        IF differing IS NOT NULL THEN
            RAISE NOTICE 'the segments of environment "%" that the copy uses as they are differ from those of environment "%": %',
                target_env, source_env, differing
                USING DETAIL = format('Kept: %s, and the segments they reference. What was copied can evaluate differently there.',
                                      (SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) FROM unnest(kept) AS k)),
                      HINT = format('SELECT * FROM ff.diff_environments(%L, %L) WHERE entity = ''segment'' shows how they differ.',
                                    source_env, target_env);
        END IF;
    END IF;
    RETURN copied;
END;
$$;

COMMENT ON FUNCTION ff._copy_segments(text, text, text[], boolean) IS
'Internal: copies segments and everything they reference (rules and keys) to another environment, dependencies first';

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
    clashes     bigint;
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
        -- (1.24) the first ten by name, and how many in all (1.23 listed
        -- every one: 89 kB for 5,000 flags)
        SELECT string_agg(c.x, ', ' ORDER BY c.kind, c.name) FILTER (WHERE c.n <= 10), max(c.n)
          INTO clash, clashes
          FROM (SELECT d.*, row_number() OVER (ORDER BY d.kind, d.name) AS n FROM (
                    SELECT 1 AS kind, f.key AS name, format('flag "%s"', f.key) AS x FROM ff.flags AS f
                     WHERE f.environment = src_env
                       AND EXISTS (SELECT 1 FROM ff.flags AS t WHERE t.environment = dst_env AND t.key = f.key)
                    UNION ALL
                    SELECT 2, s.name, format('segment "%s"', s.name) FROM ff.segments AS s
                     WHERE s.environment = src_env
                       AND EXISTS (SELECT 1 FROM ff.segments AS t WHERE t.environment = dst_env AND t.name = s.name)
                ) AS d) AS c;
        IF clash IS NOT NULL THEN
            RAISE EXCEPTION 'cannot copy environment "%" into "%": both have %', src_env, dst_env,
                            clash || CASE WHEN clashes > 10 THEN format(' and %s more', clashes - 10) ELSE '' END
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
            -- ((1.24) those the target has too: kept, with a NOTICE if they differ)
            ARRAY(SELECT s FROM unnest(ff._rule_segment_names(src.targeting,
                      format('targeting for flag "%s" in environment "%s"', src.key, src_env))) AS s
                   WHERE EXISTS (SELECT 1 FROM ff.segments AS g WHERE g.environment = src_env AND g.name = s)),
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

CREATE OR REPLACE FUNCTION ff._experiment_moments_accum(state double precision[], outcome double precision,
                                             covariate double precision)
RETURNS double precision[]
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_experiment_moments_accum';

COMMENT ON FUNCTION ff._experiment_moments_accum(double precision[], double precision, double precision) IS
'Internal: transition function of ff._experiment_moments (1.24)';

CREATE OR REPLACE FUNCTION ff._experiment_moments_combine(a double precision[], b double precision[])
RETURNS double precision[]
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_experiment_moments_combine';

COMMENT ON FUNCTION ff._experiment_moments_combine(double precision[], double precision[]) IS
'Internal: combine function of ff._experiment_moments (1.24)';

CREATE AGGREGATE ff._experiment_moments(double precision, double precision) (
    SFUNC = ff._experiment_moments_accum,
    STYPE = double precision[],
    COMBINEFUNC = ff._experiment_moments_combine,
    INITCOND = '{0,0,0,0,0,0,0,0,0}',
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE ff._experiment_moments(double precision, double precision) IS
'Internal: the shifted sums of a variant''s outcomes and covariates for ff.experiment_results (1.24)';

CREATE OR REPLACE FUNCTION ff._experiment_results(query text, control text, expected_split jsonb,
                                       confidence double precision, caller_search_path text)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    q           text;
    types       regtype[];
    sql         text;
    a           record;
    seen        text;
    m           double precision[];
    totals      double precision[];
    means       double precision[];
    variances   double precision[];
    x_means     double precision[];
    x_variances double precision[];
    covariances double precision[];
    example     constant text := 'For example SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id::text), ''off''), u.converted FROM users AS u';
BEGIN
    IF query IS NULL OR control IS NULL OR confidence IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN query IS NULL THEN 'query' WHEN control IS NULL THEN 'control' ELSE 'confidence' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT * FROM ff.experiment_results($q$SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id::text), ''off''), u.converted FROM users AS u$q$, control => ''off'');';
    END IF;
    -- (an interval of a confidence closer to 1 than a double tells apart
    -- from it has no quantile)
    IF NOT (confidence > 0 AND (1 + confidence) / 2 < 1) THEN
        RAISE EXCEPTION 'confidence % is not between 0 and 1 (exclusive)', confidence
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example 0.95 for 95 % intervals.';
    END IF;
    IF expected_split IS NOT NULL AND (
           jsonb_typeof(expected_split) <> 'object'
           OR NOT EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                           WHERE jsonb_typeof(e.value) = 'number' AND e.value::text::numeric > 0)
           OR EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                       WHERE jsonb_typeof(e.value) <> 'number' OR e.value::text::numeric < 0
                          OR e.value::text::numeric > 1e300
                          OR (e.value::text::numeric > 0
                              AND e.value::text::numeric < 1e-12 * (SELECT max(m.value::text::numeric)
                                                                      FROM jsonb_each(expected_split) AS m
                                                                     WHERE jsonb_typeof(m.value) = 'number'))))
    THEN
        RAISE EXCEPTION 'invalid expected_split %',
                        CASE WHEN length(expected_split::text) > 60
                             THEN left(expected_split::text, 57) || '...' ELSE expected_split::text END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must be an object of variant names to weights: numbers from 0 to 1e300, one of them above 0, and each positive one at least a trillionth of the largest.',
                  HINT = 'For example ''{"on": 10, "off": 90}'' for a 10 % rollout; leave it out for an equal split.';
    END IF;

    -- one SELECT, of two or three columns: variant, outcome[, covariate],
    -- parsed with the caller's search_path
    q := ff._single_statement(query);
    PERFORM set_config('search_path', caller_search_path, true);
    BEGIN
        types := ff._query_result_types(q);
    EXCEPTION WHEN undefined_parameter THEN
        RAISE EXCEPTION 'the query of an experiment cannot take parameters'
            USING ERRCODE = 'undefined_parameter',
                  DETAIL = format('%s.', SQLERRM),
                  HINT = 'Write the values into the query, for example with format(''... WHERE o.created_at >= %L'', since).';
    END;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    IF cardinality(types) NOT IN (2, 3) THEN
        RAISE EXCEPTION 'the query of an experiment returns % column%, not 2 or 3', cardinality(types),
                        CASE WHEN cardinality(types) = 1 THEN '' ELSE 's' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The columns are: the variant, the outcome (a boolean or a number) and, optionally, a covariate measured before the experiment (a number, for CUPED).',
                  HINT = example;
    END IF;
    -- the caller's query, on lines of its own (a "--" comment at its end
    -- ends there), in a frame of schema-qualified names run with the
    -- caller's search_path: one GROUP BY, which can run in parallel; units
    -- whose variant is NULL take no part (their group is filtered out
    -- above it: a WHERE on the variant would be pushed down into the
    -- caller's query and evaluate its variant expression twice)
    sql := format($f$
        SELECT pg_catalog.array_agg(s.variant ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS variants,
               pg_catalog.array_agg(s.n ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS units,
               pg_catalog.array_agg(s.m ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS moments,
               pg_catalog.array_agg(s.y_min ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS y_mins,
               pg_catalog.array_agg(s.y_max ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS y_maxs,
               pg_catalog.array_agg(s.x_min ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_mins,
               pg_catalog.array_agg(s.x_max ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_maxs
          FROM (SELECT r.variant, pg_catalog.count(*) AS n, ff._experiment_moments(r.y, r.x) AS m,
                       pg_catalog.min(r.y) AS y_min, pg_catalog.max(r.y) AS y_max,
                       pg_catalog.min(r.x) AS x_min, pg_catalog.max(r.x) AS x_max
                  FROM (SELECT CAST(q.variant AS pg_catalog.text) AS variant, %s AS y, %s AS x
                          FROM (
%s
                               ) AS q (variant, outcome%s)) AS r
                 GROUP BY r.variant) AS s$f$,
        ff._experiment_value_sql('q.outcome', types[2], 'outcome'),
        CASE WHEN cardinality(types) = 3
             THEN ff._experiment_value_sql('q.covariate', types[3], 'covariate') ELSE 'NULL::pg_catalog.float8' END,
        q,
        CASE WHEN cardinality(types) = 3 THEN ', covariate' ELSE '' END);
    PERFORM set_config('search_path', caller_search_path, true);
    EXECUTE sql INTO a;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);

    IF a.variants IS NULL OR NOT control = ANY (a.variants) THEN
        SELECT string_agg(to_jsonb(v)::text, ', ') INTO seen
          FROM (SELECT v FROM unnest(a.variants) AS v LIMIT 20) AS v;
        RAISE EXCEPTION 'the control variant % has no units in the query''s result', to_jsonb(control)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN seen IS NULL THEN 'The query returned no row with a variant.'
                                ELSE format('The variants in the result are %s%s.', seen,
                                            CASE WHEN cardinality(a.variants) > 20
                                                 THEN format(' and %s more', cardinality(a.variants) - 20) ELSE '' END) END,
                  HINT = 'Name the variant the others are compared with, as the query returns it (control => ''off'').';
    END IF;
    -- a NaN or an infinity makes every figure NaN: refused, not reported
    -- (max() sorts NaN above every number)
    IF EXISTS (SELECT FROM unnest(a.y_mins || a.y_maxs || a.x_mins || a.x_maxs) AS v
                WHERE v = 'NaN'::double precision OR abs(v) = 'Infinity'::double precision) THEN
        RAISE EXCEPTION 'the outcome or covariate of an experiment is NaN or infinite for some units'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave those units out of the query (WHERE outcome <> ''NaN'' AND abs(outcome) < ''Infinity''), or fix the data.';
    END IF;
    -- (1.24) and so are magnitudes whose squares and products leave double
    -- precision (an underflow error, or a variance that underflows to 0
    -- and makes any difference significant)
    SELECT v.what INTO seen
      FROM (SELECT greatest(abs(u.lo), abs(u.hi)) AS m, 'outcome' AS what FROM unnest(a.y_mins, a.y_maxs) AS u (lo, hi)
            UNION ALL
            SELECT greatest(abs(u.lo), abs(u.hi)), 'covariate' FROM unnest(a.x_mins, a.x_maxs) AS u (lo, hi)) AS v
     WHERE v.m > 0 AND NOT v.m BETWEEN 1e-100 AND 1e100
     LIMIT 1;
    IF seen IS NOT NULL THEN
        RAISE EXCEPTION 'the % of an experiment is too small or too large to be analysed in double precision', seen
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The largest value of some variant is outside 1e-100 to 1e100 in size.',
                  HINT = 'Rescale it in the query (for example revenue in thousands, or a rate per million).';
    END IF;

    -- each variant's figures from its shifted sums (ff._experiment_moments:
    -- units, shift, sum, sum of squares, and the same for the covariate,
    -- and the sum of products), here, with the pinned search_path; a
    -- variance of one unit is NULL, as var_samp's.  An outcome that is the
    -- same for every unit (9.99) has sums of 0: its mean is that value and
    -- its variance 0 exactly (1.23's avg() gave two such arms means that
    -- differed in their last digits, a variance of about 1e-30 and p = 0).
    FOR i IN 1 .. cardinality(a.variants) LOOP
        m := ARRAY(SELECT unnest(a.moments[i:i][1:9]));
        totals[i] := m[2] * m[1] + m[3];
        means[i] := m[2] + m[3] / m[1];
        variances[i] := CASE WHEN m[1] > 1 THEN greatest(m[4] - m[3] * m[3] / m[1], 0) / (m[1] - 1) END;
        x_means[i] := CASE WHEN m[5] > 0 THEN m[6] + m[7] / m[5] END;
        x_variances[i] := CASE WHEN m[5] > 1 THEN greatest(m[8] - m[7] * m[7] / m[5], 0) / (m[5] - 1) END;
        covariances[i] := CASE WHEN m[5] > 1 THEN (m[9] - m[3] * m[7] / m[5]) / (m[5] - 1) END;
    END LOOP;

    -- (1.24) one variant: nothing to compare, and a split that went wrong
    -- (every unit got the caller's default) would pass unseen
    IF cardinality(a.variants) = 1 AND expected_split IS NULL THEN
        RAISE WARNING 'the query''s result has only the control variant %: nothing to compare', to_jsonb(control)
            USING DETAIL = format('All %s units are in it.', a.units[1]),
                  HINT = 'If the flag''s variants are not strings, ff.get_string returns its default for every unit (TYPE_MISMATCH); (ff.evaluate(...)).variant names the variant whatever its value''s type. Give expected_split to test the split.';
    END IF;

    -- (1.24) within that range, a variant's outcome and covariate can
    -- still be too far apart in scale (a covariate in 1e-90s with an
    -- outcome in 1e90s): said so, not a bare "value out of range"
    BEGIN
        RETURN QUERY
        SELECT * FROM ff._experiment_statistics(control, a.variants, a.units, totals, means, variances,
                                                x_means, x_variances, covariances,
                                                expected_split, confidence);
    EXCEPTION WHEN numeric_value_out_of_range THEN
        RAISE EXCEPTION 'the figures of an experiment leave the range of double precision'
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('%s.', SQLERRM),
                  HINT = 'Rescale the outcome or the covariate in the query so that both are of a moderate size (for example revenue in thousands, or a rate per million).';
    END;
END;
$$;

COMMENT ON FUNCTION ff._experiment_results(text, text, jsonb, double precision, text) IS
'Internal: the work of ff.experiment_results; the caller''s query is parsed and run with the caller''s search_path';

CREATE OR REPLACE FUNCTION ff.diff_environments(from_environment text, to_environment text)
RETURNS TABLE (entity text, name text, difference text, summary text, diff jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    src         text;
    dst         text;
BEGIN
    -- (unlike the other functions, neither side defaults: a comparison
    -- with an environment picked by a setting would answer a question
    -- nobody asked)
    IF from_environment IS NULL OR to_environment IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
                        CASE WHEN from_environment IS NULL THEN 'from_environment' ELSE 'to_environment' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name both environments, for example SELECT * FROM ff.diff_environments(''staging'', ''production'');';
    END IF;
    src := ff._resolve_environment(from_environment);
    dst := ff._resolve_environment(to_environment);

    RETURN QUERY
    WITH f AS (SELECT * FROM ff._environment_images(src)),
         t AS (SELECT * FROM ff._environment_images(dst)),
         rows AS (
             SELECT coalesce(f.entity, t.entity) AS entity,
                    -- an environment is listed under the one that would change
                    CASE WHEN coalesce(f.entity, t.entity) = 'environment' THEN dst
                         ELSE coalesce(f.name, t.name) END AS name,
                    f.image AS new_image, t.image AS old_image
               FROM f FULL JOIN t ON t.entity = f.entity AND (t.entity = 'environment' OR t.name = f.name)
         ),
         -- the key lists of the segments of either side, compared by key
         keys AS (
             SELECT coalesce(k.segment, l.segment) AS segment,
                    count(*) FILTER (WHERE l.segment IS NULL) AS added,
                    count(*) FILTER (WHERE k.segment IS NULL) AS removed,
                    count(*) FILTER (WHERE k.excluded <> l.excluded) AS switched
               FROM (SELECT * FROM ff.segment_keys AS sk WHERE sk.environment = src) AS k
               FULL JOIN (SELECT * FROM ff.segment_keys AS sk WHERE sk.environment = dst) AS l
                 ON l.segment = k.segment AND l.targeting_key = k.targeting_key
              GROUP BY 1
             HAVING count(*) FILTER (WHERE l.segment IS NULL OR k.segment IS NULL
                                     OR k.excluded <> l.excluded) > 0
         ),
         diffs AS (
             SELECT r.entity, r.name, r.old_image, r.new_image,
                    CASE WHEN r.old_image IS NULL THEN 'missing'
                         WHEN r.new_image IS NULL THEN 'extra'
                         ELSE 'changed' END AS difference,
                    -- (of a missing one: its fields that have a value)
                    -- ((1.24) not computed for equal images: about 0.5 ms a
                    -- flag, 2.4 s for two equal environments of 5,000 flags)
                    CASE WHEN r.new_image IS NULL THEN NULL
                         WHEN r.old_image = r.new_image THEN '{}'::jsonb
                         ELSE ff._history_diff('UPDATE', r.old_image, r.new_image, NULL) END AS fields,
                    CASE WHEN r.entity = 'segment' AND r.new_image IS NOT NULL AND k.segment IS NOT NULL
                         THEN pg_catalog.jsonb_build_object('added', k.added, 'removed', k.removed,
                                                            'switched', k.switched) END AS key_delta
               FROM rows AS r
               LEFT JOIN keys AS k ON r.entity = 'segment' AND k.segment = r.name
         )
    SELECT d.entity, d.name, d.difference,
           CASE d.difference
               WHEN 'missing' THEN pg_catalog.format('missing in "%s"', dst)
               WHEN 'extra' THEN pg_catalog.format('only in "%s"', dst)
               ELSE pg_catalog.concat_ws('; ',
                        ff._history_fields_summary(d.fields),
                        CASE WHEN d.key_delta IS NOT NULL
                             THEN 'keys: ' || pg_catalog.concat_ws(', ',
                                      CASE WHEN (d.key_delta ->> 'added')::bigint > 0
                                           THEN '+' || (d.key_delta ->> 'added') || ' added' END,
                                      CASE WHEN (d.key_delta ->> 'removed')::bigint > 0
                                           THEN '-' || (d.key_delta ->> 'removed') || ' removed' END,
                                      CASE WHEN (d.key_delta ->> 'switched')::bigint > 0
                                           THEN (d.key_delta ->> 'switched') || ' switched' END) END)
           END,
           CASE WHEN d.difference = 'extra' THEN NULL
                WHEN d.key_delta IS NULL THEN d.fields
                ELSE d.fields || pg_catalog.jsonb_build_object('keys', d.key_delta) END
      FROM diffs AS d
     WHERE d.difference <> 'changed' OR d.fields <> '{}' OR d.key_delta IS NOT NULL
     ORDER BY CASE d.entity WHEN 'environment' THEN 0 WHEN 'segment' THEN 1 ELSE 2 END, d.name;
END;
$$;

COMMENT ON FUNCTION ff.diff_environments(text, text) IS
'What differs between two environments, read as what copying from_environment over to_environment would change: flags and segments missing in to_environment, changed (with a diff and a summary as the history would record them, and the key delta of a segment), or only in to_environment, and different environment metadata';

CREATE OR REPLACE FUNCTION ff.run_scheduled_changes(max_changes integer DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION ff._change_request_stale(r ff.change_requests, now_version bigint, hint text)
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

CREATE OR REPLACE FUNCTION ff._review_change(request_id bigint, decision text, review_comment text)
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

CREATE OR REPLACE FUNCTION ff.apply_change(id bigint)
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

CREATE OR REPLACE VIEW ff.flag_usage WITH (security_invoker = true) AS
    SELECT f.environment,
           f.key AS flag_key,
           f.state,
           (CASE WHEN s.evaluations IS NOT NULL THEN s.evaluations
                 WHEN i.dropped = 0 THEN 0 END)::bigint AS evaluations,
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
        ON s.environment = f.environment AND s.flag_key = f.key
      CROSS JOIN ff.evaluation_stats_info() AS i;

COMMENT ON VIEW ff.flag_usage IS
'Per flag: evaluations counted since ff.evaluation_stats_info().stats_since, errors, the variants served and the last evaluation (0 evaluations: unused; one variant served: constant)';


COMMENT ON COLUMN ff.scheduled_changes.version IS 'The flag''s config version after the change was applied (the version that wrote it); NULL when the draft changed nothing, the flag already being so (1.24)';
COMMENT ON COLUMN ff.change_requests.version IS 'The flag''s config version after the change was applied; NULL when the draft changed nothing, the flag already being so (1.24)';
COMMENT ON COLUMN ff.flag_usage.evaluations IS 'Evaluations counted (0: not evaluated since stats_since; NULL: none counted, but the table was full and dropped some of this database''s, 1.24)';
