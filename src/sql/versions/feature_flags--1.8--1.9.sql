-- feature_flags 1.8 -> 1.9 (ALTER EXTENSION feature_flags UPDATE TO '1.9')
--
-- 1.9 refuses arguments that the privilege functions misread:
-- ff.grant_reader/editor/admin and ff.revoke_* given a role OID that names
-- no role (0::regrole, or the OID of a dropped role) said "grantee must not
-- be NULL"; they now say that no role has that OID (42704).
-- ff.privilege_recipe treated a NULL revoke as false and a NULL level as an
-- unknown level (22023); both are now 22004.  ff.protect_environment
-- stores a role named twice in allowed_roles once.
-- The history: ff.rollback_environment restores segments that reference
-- each other in dependency order (it failed for a chain of in_segment
-- references, and when it had to delete such segments); a segment's key
-- list is restored without nested loops (it could take minutes right after
-- a bulk load of keys, before statistics); ff.verify_history also checks
-- that the configuration rows are what the history records (the newest
-- versions deleted, rows written or deleted without being recorded);
-- ff.change_sets shows the first comment and role of a change-set, not the
-- alphabetically smallest.
-- What this script changes (same signatures, same privileges):
--   * ff.protect_environment, ff.privilege_recipe, ff.rollback_environment,
--     ff.verify_history (and its comment);
--   * ff._apply_recipe, ff._history_restore (and its settings);
--   * the view ff.change_sets (same columns; two column comments);
--   * new: ff._history_dependency_order.
-- No table is touched, so the update takes no lock that writers wait for.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.9'" to load this file. \quit

-- ff.protect_environment protects an environment and, when allowed_roles
-- is given, sets the roles whose members may still change it.
CREATE OR REPLACE FUNCTION ff.protect_environment(environment text, allowed_roles name[] DEFAULT NULL)
RETURNS ff.environments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text;
    roles       name[];
    result      ff.environments;
BEGIN
    IF environment IS NULL THEN
        RAISE EXCEPTION 'environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to protect, for example SELECT ff.protect_environment(''production'');';
    END IF;
    env := ff._resolve_environment(environment);
    -- a role named twice is listed once (first place kept); a NULL element
    -- stays for the validation trigger to refuse
    IF protect_environment.allowed_roles IS NOT NULL THEN
        roles := ARRAY(SELECT r FROM unnest(protect_environment.allowed_roles) WITH ORDINALITY AS u(r, i)
                       GROUP BY r ORDER BY min(i));
    END IF;
    UPDATE ff.environments AS e
       SET protected = true,
           allowed_roles = COALESCE(roles, e.allowed_roles)
     WHERE e.name = env
       AND (NOT e.protected OR e.allowed_roles IS DISTINCT FROM COALESCE(roles, e.allowed_roles));
    SELECT * INTO result FROM ff.environments AS e WHERE e.name = env;
    RETURN result;
END;
$$;

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
        ELSIF lvl = 'admin' THEN
            -- UPDATE on the whole table, hence on "protected": an ff administrator
            RETURN NEXT format('%s INSERT, UPDATE, DELETE ON ff.environments %s %s', verb, dir, who);
        END IF;
    END LOOP;
END;
$$;

-- ff._apply_recipe runs the statements of ff.privilege_recipe and returns
-- them.
CREATE OR REPLACE FUNCTION ff._apply_recipe(level text, grantee regrole, revoke boolean)
RETURNS SETOF text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stmt        text;
    who         name;
BEGIN
    IF grantee IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT r.rolname INTO who FROM pg_roles AS r WHERE r.oid = grantee;
    IF who IS NULL THEN
        RAISE EXCEPTION 'role with OID % does not exist', grantee::oid
            USING ERRCODE = 'undefined_object',
                  HINT = 'Name an existing role, for example SELECT ff.grant_reader(''app_user'');';
    END IF;
    FOR stmt IN SELECT s FROM ff.privilege_recipe(level, who, revoke) AS s LOOP
        EXECUTE stmt;
        RETURN NEXT stmt;
    END LOOP;
END;
$$;

-- ff._history_restore: writes an entity (and a segment's key list) back to its state as of a
--   version; true if anything changed
CREATE OR REPLACE FUNCTION ff._history_restore(entity text, environment text, entity_key text, at_version bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET ff.invalid_targeting = 'warning'
SET enable_nestloop = off
AS $$
DECLARE
    target      jsonb := ff._history_image_at(entity, environment, entity_key, at_version);
    cur         jsonb;
    before_v    bigint := ff.current_version();
BEGIN
    EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t WHERE %s',
                              ff._history_table(entity),
                              CASE entity WHEN 'environment' THEN 't.name = $2'
                                          WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                          ELSE 't.environment = $1 AND t.name = $2' END)
       INTO cur USING environment, entity_key;

    IF target IS NULL THEN
        IF cur IS NOT NULL THEN
            EXECUTE pg_catalog.format('DELETE FROM %s AS t WHERE %s',
                                      ff._history_table(entity),
                                      CASE entity WHEN 'environment' THEN 't.name = $2'
                                                  WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                                  ELSE 't.environment = $1 AND t.name = $2' END)
               USING environment, entity_key;
        END IF;
    ELSIF cur IS NULL OR (cur - 'version' - 'updated_at') <> (target - 'version' - 'updated_at') THEN
        PERFORM ff._history_write_image(entity, target, false);
    END IF;

    IF entity = 'segment' AND target IS NOT NULL THEN
        -- (enable_nestloop is off for this function: right after a bulk load
        -- of keys, before statistics, the planner would otherwise rescan the
        -- replayed list once per key, quadratic under the writer lock)
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

-- ff._history_dependency_order orders names so that each comes after the
-- names it depends on (deps[i]: the comma-separated names names[i] depends
-- on; names outside the list do not count); names in a cycle, which a valid
-- configuration does not have, come in some order
CREATE OR REPLACE FUNCTION ff._history_dependency_order(names text[], deps text[])
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- the level of a name: 0, or one more than that of a name it depends
    -- on (bounded: segment references nest at most 16 deep, and a cycle
    -- must not recurse for ever)
    WITH RECURSIVE nodes (n, k) AS (
        SELECT u.n, u.k FROM pg_catalog.unnest(names) WITH ORDINALITY AS u (n, k)
    ), edges (n, d) AS (
        SELECT DISTINCT a.n, d.n
          FROM nodes AS a
          JOIN pg_catalog.unnest(pg_catalog.string_to_array(deps[a.k], ',')) AS e (d) ON true
          JOIN nodes AS d ON d.n = e.d
         WHERE d.n <> a.n
    ), levels (n, lvl) AS (
        SELECT nodes.n, 0 FROM nodes
        UNION
        SELECT e.n, l.lvl + 1
          FROM edges AS e JOIN levels AS l ON l.n = e.d
         WHERE l.lvl < 64
    )
    SELECT COALESCE(pg_catalog.array_agg(o.n ORDER BY o.lvl, o.k), '{}')
      FROM (SELECT nodes.n, nodes.k, pg_catalog.max(l.lvl) AS lvl
              FROM nodes JOIN levels AS l ON l.n = nodes.n
             GROUP BY nodes.n, nodes.k) AS o
$$;

-- ff.rollback_environment: writes an environment, its segments and its flags back to their state
--   as of to_version, as one change-set of new versions; returns the current version
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
    has_history := EXISTS (SELECT 1 FROM ff.versions AS v
                            WHERE v.entity = 'environment' AND v.environment = $1
                              AND v.entity_key = $1);
    IF NOT has_history AND NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = $1) THEN
        RAISE EXCEPTION 'environment "%" does not exist and has no history', environment
            USING ERRCODE = 'undefined_object',
                  HINT = 'Check the name; ff.history lists the recorded changes of each environment.';
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
      FROM (SELECT DISTINCT v.entity_key,
                   ff._history_image_at('segment', $1, v.entity_key, to_version) AS image
              FROM ff.versions AS v
             WHERE v.entity = 'segment' AND v.environment = $1) AS s
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
      FROM (SELECT DISTINCT v.entity_key FROM ff.versions AS v
             WHERE v.entity = 'segment' AND v.environment = $1
               AND ff._history_image_at('segment', $1, v.entity_key, to_version) IS NULL) AS s;
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

-- ff.verify_history: recomputes the hash chain of ff.versions; names the first broken version
--   (gap, altered row, or broken link)
CREATE OR REPLACE FUNCTION ff.verify_history(OUT ok boolean, OUT checked bigint,
                                  OUT first_broken_version bigint, OUT detail text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    bad         record;
    last_v      bigint;
BEGIN
    SELECT pg_catalog.count(*), pg_catalog.max(v.version) INTO checked, last_v FROM ff.versions AS v;
    SELECT r.* INTO bad
      FROM (SELECT v.version, v.hash, v.prev_hash,
                   ff._history_hash(v) AS recomputed,
                   pg_catalog.lag(v.version) OVER w AS prev_version,
                   pg_catalog.lag(v.hash) OVER w AS prev_row_hash
              FROM ff.versions AS v
            WINDOW w AS (ORDER BY v.version)) AS r
     WHERE r.version <> coalesce(r.prev_version, 0) + 1
        OR r.hash <> r.recomputed
        OR r.prev_hash IS DISTINCT FROM r.prev_row_hash
     ORDER BY r.version
     LIMIT 1;
    IF NOT FOUND THEN
        -- the chain holds; the configuration rows must be what it says: each
        -- stamped with the latest version of its own entity, whose after
        -- image it still holds, and every entity whose latest version did not
        -- delete it present (this catches the newest versions deleted, and
        -- rows written or deleted without being recorded: with
        -- session_replication_role = replica or the triggers disabled, by a
        -- superuser).  A role that may not read the configuration tables
        -- gets the chain's verdict alone.
        IF NOT (pg_catalog.has_table_privilege('ff.flags', 'SELECT')
                AND pg_catalog.has_table_privilege('ff.segments', 'SELECT')
                AND pg_catalog.has_table_privilege('ff.environments', 'SELECT')) THEN
            ok := true;
            detail := pg_catalog.format('%s versions, hash chain intact (the configuration rows were not compared with it: this role may not read them)',
                                        checked);
            RETURN;
        END IF;
        WITH latest AS (
            SELECT DISTINCT ON (v.entity, v.environment, v.entity_key)
                   v.entity, v.environment AS env, v.entity_key AS k, v.version, v.operation, v.after
              FROM ff.versions AS v
             WHERE v.operation <> 'KEYS'
             ORDER BY v.entity, v.environment, v.entity_key, v.version DESC
        ), cfg AS (
            SELECT 'flag' AS entity, f.environment AS env, f.key AS k, f.version AS stamp,
                   pg_catalog.to_jsonb(f) AS img
              FROM ff.flags AS f
            UNION ALL
            SELECT 'segment', s.environment, s.name, s.version, pg_catalog.to_jsonb(s)
              FROM ff.segments AS s
            UNION ALL
            SELECT 'environment', e.name, e.name, e.version, pg_catalog.to_jsonb(e)
              FROM ff.environments AS e
        )
        SELECT COALESCE(c.entity, l.entity) AS entity, COALESCE(c.env, l.env) AS env,
               COALESCE(c.k, l.k) AS k, c.entity IS NULL AS missing, c.stamp, l.version AS latest
          INTO bad
          FROM cfg AS c
          FULL JOIN latest AS l ON l.entity = c.entity AND l.env = c.env AND l.k = c.k
         WHERE (c.entity IS NULL AND l.operation <> 'DELETE')
            OR (c.entity IS NOT NULL AND c.stamp IS NULL
                AND (c.entity <> 'environment' OR l.version IS NOT NULL))
            OR (c.entity IS NOT NULL AND c.stamp IS NOT NULL
                AND (l.version IS NULL OR c.stamp <> l.version OR l.operation = 'DELETE'
                     OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(l.after) AS a
                                 WHERE (c.img -> a.key) IS DISTINCT FROM a.value)))
         ORDER BY (c.stamp > last_v) DESC NULLS LAST,
                  COALESCE(c.stamp, l.version), 1, 2, 3
         LIMIT 1;
        IF NOT FOUND THEN
            ok := true;
            detail := pg_catalog.format('%s versions, hash chain intact', checked);
            RETURN;
        END IF;
        ok := false;
        first_broken_version := COALESCE(bad.stamp, bad.latest);
        detail := CASE bad.entity WHEN 'environment' THEN pg_catalog.format('environment "%s"', bad.k)
                  ELSE pg_catalog.format('%s "%s" in environment "%s"', bad.entity, bad.k, bad.env) END;
        IF bad.missing THEN
            detail := pg_catalog.format('%s does not exist, but its latest version %s did not delete it: it was deleted without being recorded (with session_replication_role = replica, or with the triggers disabled)',
                                        detail, bad.latest);
        ELSIF bad.stamp IS NULL THEN
            detail := detail || ' has no version: it was written without being recorded (with session_replication_role = replica, or with the triggers disabled)';
        ELSIF bad.stamp > COALESCE(last_v, 0) THEN
            detail := pg_catalog.format('the newest versions are missing: %s is stamped with version %s, and the history ends at version %s',
                                        detail, bad.stamp, COALESCE(last_v, 0));
        ELSE
            detail := pg_catalog.format('%s differs from its latest version %s: it was changed without being recorded (with session_replication_role = replica, or with the triggers disabled)',
                                        detail, COALESCE(bad.latest, bad.stamp));
        END IF;
        RETURN;
    END IF;
    ok := false;
    first_broken_version := bad.version;
    IF bad.version <> coalesce(bad.prev_version, 0) + 1 THEN
        detail := pg_catalog.format('version %s follows version %s: versions %s to %s are missing',
                                    bad.version, coalesce(bad.prev_version, 0),
                                    coalesce(bad.prev_version, 0) + 1, bad.version - 1);
    ELSIF bad.hash <> bad.recomputed THEN
        detail := pg_catalog.format('version %s: the stored hash does not match the row''s content (the row was altered)',
                                    bad.version);
    ELSE
        detail := pg_catalog.format('version %s: prev_hash does not match the hash of version %s (the chain was re-linked)',
                                    bad.version, bad.prev_version);
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._history_dependency_order(text[], text[]) IS
    'Internal: names ordered so that each follows the names it depends on (rollback order of segments)';

COMMENT ON FUNCTION ff.verify_history() IS
    'Recomputes the hash chain of ff.versions and checks that the configuration rows are what it records; names the first broken version (gap, altered row, broken link, missing newest versions, unrecorded change)';

-- ff.change_sets: the first comment and role of a change-set
CREATE OR REPLACE VIEW ff.change_sets AS
SELECT v.change_set,
       pg_catalog.max(v.version) AS last_version,
       pg_catalog.count(*) AS changes,
       pg_catalog.min(v.changed_at) AS changed_at,
       (pg_catalog.array_agg(v.changed_by ORDER BY v.version))[1] AS changed_by,
       (pg_catalog.array_agg(v.comment ORDER BY v.version) FILTER (WHERE v.comment IS NOT NULL))[1] AS comment,
       pg_catalog.array_agg(DISTINCT v.environment ORDER BY v.environment) AS environments,
       pg_catalog.array_agg(DISTINCT v.entity || ':' || v.entity_key ORDER BY v.entity || ':' || v.entity_key) AS entities
  FROM ff.versions AS v
 GROUP BY v.change_set
 ORDER BY v.change_set;
COMMENT ON COLUMN ff.change_sets.changed_by IS 'Role that made the changes (that of the first version, if it changed within the transaction)';
COMMENT ON COLUMN ff.change_sets.comment IS 'Change comment (the first one recorded, if it changed within the transaction)';
