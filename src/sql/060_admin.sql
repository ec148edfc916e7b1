-- ---------------------------------------------------------------------
-- Administration from psql
--
-- Everyday operations as functions with named, defaulted arguments.  An
-- environment argument that is NULL (or left out) means: the ff.environment
-- setting when it is set, otherwise the default environment
-- (ff._resolve_environment).  Every write goes through ordinary DML, so the
-- validation triggers (030_validate.sql) and the history triggers apply
-- exactly as they do to raw INSERT/UPDATE/DELETE.
--
-- None of these functions is granted to PUBLIC.
-- ---------------------------------------------------------------------

-- ff._resolve_environment returns the environment an administration or
-- evaluation call works on: the argument, else ff.environment, else the
-- default environment; an unknown name is an error.
CREATE FUNCTION ff._resolve_environment(environment text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := environment;
    source      text := 'argument';
    note        record;
    detail      text;
BEGIN
    IF env IS NULL THEN
        env := nullif(current_setting('ff.environment', true), '');
        source := 'setting';
    END IF;
    IF env IS NULL THEN
        SELECT e.name INTO env FROM ff.environments AS e WHERE e.is_default;
        IF env IS NULL THEN
            RAISE EXCEPTION 'no environment given and there is no default environment'
                USING ERRCODE = 'undefined_object',
                      HINT = 'Pass environment => ''name'', SET ff.environment = ''name'', or make one the default with SELECT ff.set_default_environment(''name'');';
        END IF;
        RETURN env;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = env) THEN
        -- (1.25) one that was deleted: when, and the rollback that restores it
        note := ff._environment_not_found_note(env);
        detail := NULLIF(concat_ws(' ', note.detail,
                                   CASE WHEN source = 'setting' THEN 'The name comes from the ff.environment setting.' END), '');
        -- (a RAISE option must not be NULL)
        IF detail IS NULL THEN
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object', HINT = note.hint;
        END IF;
        RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
            USING ERRCODE = 'undefined_object', DETAIL = detail, HINT = note.hint;
    END IF;
    RETURN env;
END;
$$;

COMMENT ON FUNCTION ff._resolve_environment(text) IS
'Internal: the environment to work on: the argument, else the ff.environment setting, else the default environment; ERROR if unknown';

-- ff._deleted_note tells how a flag, segment or environment that does not
-- exist was deleted, when its history ends with a DELETE (1.25): the
-- DETAIL of a not-found error (the version, who) and a HINT to bring it
-- back with its history: the rollback to the version before the deleting
-- change-set (a change-set's number is its first version), preceded by the
-- rollbacks of the segments its rule uses that were deleted too, directly
-- or through such segments, the most deeply used first (a rollback of a
-- segment whose rule names a missing segment fails).  NULLs when the
-- history does not end so, or when the caller may not read ff.versions.
CREATE FUNCTION ff._deleted_note(entity text, environment text, key text,
                                 OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v           ff.versions;
    first       text;
BEGIN
    IF key IS NULL OR environment IS NULL
       OR NOT pg_catalog.has_table_privilege('ff.versions', 'SELECT') THEN
        RETURN;
    END IF;
    SELECT * INTO v FROM ff.versions AS x
     WHERE x.entity = _deleted_note.entity AND x.environment = _deleted_note.environment
       AND x.entity_key = _deleted_note.key
     ORDER BY x.version DESC LIMIT 1;
    IF NOT FOUND OR v.operation <> 'DELETE' THEN
        RETURN;
    END IF;
    detail := pg_catalog.format('%s "%s" was deleted at version %s by %s.',
                                pg_catalog.initcap(entity), ff._name_in_message(key), v.version,
                                v.changed_by);
    IF entity = 'environment' THEN
        hint := pg_catalog.format('SELECT ff.rollback_environment(%L, %s); restores it with its flags and segments.',
                                  key, v.change_set - 1);
        RETURN;
    END IF;
    -- every segment the rule uses, directly or through segments deleted
    -- too, that is gone: its last version a DELETE and no such segment now;
    -- from the deleted object itself (depth 0), the most deeply used first
    WITH RECURSIVE gone(name, change_set, rule, depth, path) AS (
        SELECT key, v.change_set, v.before -> CASE entity WHEN 'flag' THEN 'targeting' ELSE 'rule' END,
               0, ARRAY[key]
        UNION ALL
        SELECT d.entity_key, d.change_set, d.before -> 'rule', g.depth + 1, g.path || d.entity_key
          FROM gone AS g
         CROSS JOIN LATERAL (SELECT DISTINCT COALESCE(a ->> 0, a #>> '{}') AS name
                               FROM pg_catalog.jsonb_path_query(g.rule, 'lax $.**.in_segment') AS a) AS u
          JOIN LATERAL (SELECT x.entity_key, x.change_set, x.before, x.operation
                          FROM ff.versions AS x
                         WHERE x.entity = 'segment' AND x.environment = _deleted_note.environment
                           AND x.entity_key = u.name
                         ORDER BY x.version DESC LIMIT 1) AS d ON d.operation = 'DELETE'
         WHERE NOT u.name = ANY (g.path) AND g.depth < 100
           AND NOT EXISTS (SELECT 1 FROM ff.segments AS s
                            WHERE s.environment = _deleted_note.environment AND s.name = u.name)
    )
    SELECT pg_catalog.string_agg(pg_catalog.format('SELECT ff.rollback_segment(%L, %s, environment => %L); ',
                                                   o.name, o.change_set - 1, environment), '' ORDER BY o.depth DESC, o.name)
      INTO first
      FROM (SELECT g.name, pg_catalog.min(g.change_set) AS change_set, pg_catalog.max(g.depth) AS depth
              FROM gone AS g WHERE g.depth > 0 GROUP BY g.name) AS o;
    hint := COALESCE(first, '')
            || pg_catalog.format('SELECT ff.rollback_%s(%L, %s, environment => %L); restores it with its history%s.',
                                 entity, key, v.change_set - 1, environment,
                                 CASE WHEN first IS NOT NULL THEN ', after the segments it uses' ELSE '' END);
END;
$$;

COMMENT ON FUNCTION ff._deleted_note(text, text, text) IS
'Internal: for a flag, segment or environment whose history ends with a DELETE, a not-found DETAIL (when and by whom) and a HINT (the rollbacks that restore it); NULLs otherwise';

-- ff._flag_not_found raises the error for a flag key missing from an
-- environment.  deleting: the caller was deleting it, so the HINT does not
-- suggest creating it (1.25).
CREATE FUNCTION ff._flag_not_found(key text, environment text, deleting boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    elsewhere   text;
    gone        record;
    hint        text;
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'flag key must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass the key of a flag of environment "%s"; ff.flags lists them.', environment);
    END IF;
    SELECT string_agg(format('"%s"', f.environment), ', ' ORDER BY f.environment) INTO elsewhere
      FROM ff.flags AS f WHERE f.key = _flag_not_found.key;
    IF elsewhere IS NULL THEN
        gone := ff._deleted_note('flag', environment, key);
        hint := ff._perhaps_you_meant(key, ARRAY(SELECT f.key FROM ff.flags AS f
                                                  WHERE f.environment = _flag_not_found.environment))
             || CASE WHEN deleting AND key ~ ff._name_pattern() THEN format('ff.flags lists the flags of environment "%s".', environment)
                     WHEN gone.hint IS NOT NULL THEN gone.hint
                     ELSE ff._create_hint('flag', key, environment) END;
        IF gone.detail IS NULL THEN
            RAISE EXCEPTION 'flag "%" does not exist in environment "%"', ff._name_in_message(key), environment
                USING ERRCODE = 'undefined_object', HINT = hint;
        END IF;
        RAISE EXCEPTION 'flag "%" does not exist in environment "%"', ff._name_in_message(key), environment
            USING ERRCODE = 'undefined_object', DETAIL = gone.detail, HINT = hint;
    END IF;
    -- (1.17) the HINT names an environment that has the flag and the call
    -- that copies it (it said "Pass environment => 'name'", which
    -- ff.copy_flag has no argument for)
    RAISE EXCEPTION 'flag "%" does not exist in environment "%"', key, environment
        USING ERRCODE = 'undefined_object',
              DETAIL = format('The flag exists in environment %s.', elsewhere),
              HINT = CASE WHEN deleting THEN 'Name the environment that has it.'
                          ELSE format('Name the environment that has it, or copy it here with SELECT ff.copy_flag(%L, %L, %L);',
                                      key, (SELECT min(f.environment) FROM ff.flags AS f WHERE f.key = _flag_not_found.key),
                                      environment) END;
END;
$$;

COMMENT ON FUNCTION ff._flag_not_found(text, text, boolean) IS
'Internal: raises undefined_object for a flag key missing from an environment, naming where it does exist, or when it was deleted';

-- ff._segment_not_found raises the error for a segment missing from an
-- environment (deleting: as for ff._flag_not_found, 1.25).
CREATE FUNCTION ff._segment_not_found(segment text, environment text, deleting boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone        record;
    hint        text;
BEGIN
    IF segment IS NULL THEN
        RAISE EXCEPTION 'segment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass the name of a segment of environment "%s"; ff.segments lists them.', environment);
    END IF;
    gone := ff._segment_not_found_note(segment, environment);
    hint := CASE WHEN deleting AND segment ~ ff._name_pattern()
                 THEN ff._perhaps_you_meant(segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                            WHERE g.environment = _segment_not_found.environment))
                      || format('ff.segments lists the segments of environment "%s".', environment)
                 ELSE gone.hint END;
    IF gone.detail IS NULL THEN
        RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(segment), environment
            USING ERRCODE = 'undefined_object', HINT = hint;
    END IF;
    RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(segment), environment
        USING ERRCODE = 'undefined_object', DETAIL = gone.detail, HINT = hint;
END;
$$;

COMMENT ON FUNCTION ff._segment_not_found(text, text, boolean) IS
'Internal: raises undefined_object for a segment missing from an environment, or when it was deleted';

-- ---------------------------------------------------------------------
-- Environments
-- ---------------------------------------------------------------------

-- ff.create_environment creates an environment (a flagd flag set).
CREATE FUNCTION ff.create_environment(name text, description text DEFAULT NULL,
                                      metadata jsonb DEFAULT '{}', make_default boolean DEFAULT false)
RETURNS ff.environments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    result      ff.environments;
BEGIN
    IF create_environment.name IS NULL THEN
        RAISE EXCEPTION 'environment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.create_environment(''staging'');';
    END IF;
    IF EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = create_environment.name) THEN
        RAISE EXCEPTION 'environment "%" already exists', create_environment.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Pick another name, or copy flags into it with ff.copy_environment() / ff.copy_flag().';
    END IF;
    INSERT INTO ff.environments (name, description, metadata, is_default)
    VALUES (create_environment.name, create_environment.description,
            COALESCE(create_environment.metadata, '{}'), COALESCE(make_default, false))
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.create_environment(text, text, jsonb, boolean) IS
'Creates an environment (a flagd flag set) with optional description, flag-set metadata, and optionally makes it the default';

-- ff.set_default_environment makes an environment the default one.
CREATE FUNCTION ff.set_default_environment(name text)
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

-- ff.delete_environment deletes an environment; with force it first
-- deletes its flags, segments and segment keys.
CREATE FUNCTION ff.delete_environment(name text, force boolean DEFAULT false)
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
        -- (1.25) not ff._resolve_environment's error, whose HINT said how to
        -- create it
        DECLARE
            detail  text := (ff._deleted_note('environment', env, env)).detail;
            hint    text := ff._perhaps_you_meant(env, ARRAY(SELECT e.name FROM ff.environments AS e))
                            || 'ff.environments lists the environments.';
        BEGIN
            IF detail IS NULL THEN
                RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                    USING ERRCODE = 'undefined_object', HINT = hint;
            END IF;
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object', DETAIL = detail, HINT = hint;
        END;
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
'Deletes an environment; refuses the default one and a protected one, and one with flags or segments unless force => true deletes them too';

-- ff._segment_alike tells whether a segment has the same rule and keys in
-- two environments (a description does not count).
CREATE FUNCTION ff._segment_alike(env_a text, env_b text, segment text)
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

-- ff._copy_segments copies segments (with their keys) from one environment
-- to another, referenced segments first; existing target segments are
-- replaced when overwrite is true and kept as they are otherwise (1.24:
-- with a NOTICE naming, among them and what they reference, those that
-- differ from the source's, since what is copied then uses them as they
-- are).
CREATE FUNCTION ff._copy_segments(source_env text, target_env text, names text[], overwrite boolean)
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

-- ff.copy_environment copies every segment and flag of one environment
-- into another, creating the target when it does not exist.
CREATE FUNCTION ff.copy_environment(from_environment text, to_environment text, overwrite boolean DEFAULT false)
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

-- ---------------------------------------------------------------------
-- Flags
-- ---------------------------------------------------------------------

-- ff.create_flag creates a flag; without variants it is a boolean flag
-- with variants "on"/"off" that defaults to "off".
CREATE FUNCTION ff.create_flag(key text,
                               variants jsonb DEFAULT '{"on": true, "off": false}',
                               default_variant text DEFAULT NULL,
                               environment text DEFAULT NULL,
                               targeting jsonb DEFAULT NULL,
                               enabled boolean DEFAULT true,
                               description text DEFAULT NULL,
                               tags text[] DEFAULT '{}',
                               owner text DEFAULT NULL,
                               metadata jsonb DEFAULT '{}')
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(create_flag.environment);
    dv          text := create_flag.default_variant;
    result      ff.flags;
BEGIN
    IF create_flag.key IS NULL THEN
        RAISE EXCEPTION 'flag key must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.create_flag(''new-checkout'');';
    END IF;
    -- (1.17) a NULL is no choice: it created an enabled flag
    IF enabled IS NULL THEN
        RAISE EXCEPTION 'enabled must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass enabled => true (the default) or false for flag "%s".', create_flag.key);
    END IF;
    IF EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = env AND f.key = create_flag.key) THEN
        RAISE EXCEPTION 'flag "%" already exists in environment "%"', create_flag.key, env
            USING ERRCODE = 'unique_violation',
                  HINT = 'Change it with ff.set_targeting(), ff.set_default_variant(), ff.enable_flag()/ff.disable_flag() or UPDATE ff.flags, or remove it with ff.delete_flag().';
    END IF;
    IF dv IS NULL AND create_flag.variants = '{"on": true, "off": false}'::jsonb THEN
        dv := 'off';
    END IF;
    INSERT INTO ff.flags (environment, key, state, variants, default_variant, targeting,
                          description, tags, owner, metadata)
    VALUES (env, create_flag.key,
            CASE WHEN enabled THEN 'ENABLED' ELSE 'DISABLED' END,
            create_flag.variants, dv, create_flag.targeting, create_flag.description,
            COALESCE(create_flag.tags, '{}'), create_flag.owner, COALESCE(create_flag.metadata, '{}'))
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.create_flag(text, jsonb, text, text, jsonb, boolean, text, text[], text, jsonb) IS
'Creates a flag; by default a boolean flag with variants on/off, default variant off, enabled, no targeting; the type is derived from the variants';

-- ff._flag_row returns the row of a flag; an unknown flag is an error.
CREATE FUNCTION ff._flag_row(key text, environment text)
RETURNS ff.flags
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    result      ff.flags;
BEGIN
    SELECT * INTO result FROM ff.flags AS f WHERE f.environment = _flag_row.environment AND f.key = _flag_row.key;
    IF NOT FOUND THEN
        PERFORM ff._flag_not_found(_flag_row.key, _flag_row.environment);
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff._flag_row(text, text) IS
'Internal: the row of a flag; raises undefined_object when the flag does not exist in the environment';

-- ff.set_targeting replaces the targeting rule of a flag (NULL removes it).
CREATE FUNCTION ff.set_targeting(key text, targeting jsonb, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(set_targeting.environment);
    result      ff.flags := ff._flag_row(set_targeting.key, env);
BEGIN
    UPDATE ff.flags AS f SET targeting = set_targeting.targeting
     WHERE f.environment = env AND f.key = set_targeting.key
       AND f.targeting IS DISTINCT FROM set_targeting.targeting
    RETURNING * INTO result;
    IF NOT FOUND THEN
        result := ff._flag_row(set_targeting.key, env);
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.set_targeting(text, jsonb, text) IS
'Replaces the targeting (JSON Logic) of a flag; NULL or {} removes it, so the default variant is served';

-- ff.set_default_variant changes the default variant of a flag (NULL:
-- callers get their code default).
CREATE FUNCTION ff.set_default_variant(key text, variant text, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(set_default_variant.environment);
    result      ff.flags := ff._flag_row(set_default_variant.key, env);
BEGIN
    UPDATE ff.flags AS f SET default_variant = set_default_variant.variant
     WHERE f.environment = env AND f.key = set_default_variant.key
       AND f.default_variant IS DISTINCT FROM set_default_variant.variant
    RETURNING * INTO result;
    IF NOT FOUND THEN
        result := ff._flag_row(set_default_variant.key, env);
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.set_default_variant(text, text, text) IS
'Sets the default variant of a flag (NULL means callers get their code default)';

-- ff._set_state sets the state of a flag (shared by enable_flag and
-- disable_flag).
CREATE FUNCTION ff._set_state(key text, state text, environment text)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(_set_state.environment);
    result      ff.flags := ff._flag_row(_set_state.key, env);
BEGIN
    UPDATE ff.flags AS f SET state = _set_state.state
     WHERE f.environment = env AND f.key = _set_state.key AND f.state <> _set_state.state
    RETURNING * INTO result;
    IF NOT FOUND THEN
        result := ff._flag_row(_set_state.key, env);
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff._set_state(text, text, text) IS
'Internal: sets a flag''s state to ENABLED or DISABLED';

-- ff.enable_flag turns a flag on (state ENABLED).
CREATE FUNCTION ff.enable_flag(key text, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE sql
BEGIN ATOMIC
    SELECT ff._set_state(key, 'ENABLED', environment);
END;

COMMENT ON FUNCTION ff.enable_flag(text, text) IS
'Enables a flag (state ENABLED): its targeting and default variant are served again';

-- ff.disable_flag is the kill switch: state DISABLED, so every evaluation
-- returns the caller's default with reason DISABLED.
CREATE FUNCTION ff.disable_flag(key text, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE sql
BEGIN ATOMIC
    SELECT ff._set_state(key, 'DISABLED', environment);
END;

COMMENT ON FUNCTION ff.disable_flag(text, text) IS
'Kill switch: disables a flag (state DISABLED); evaluations return the caller''s default with reason DISABLED';

-- ff._pick_variant returns the first of the candidate names that is a
-- variant of the flag and differs from "other".
CREATE FUNCTION ff._pick_variant(variants jsonb, candidates text[], other text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT c FROM pg_catalog.unnest(candidates) WITH ORDINALITY AS t(c, o)
     WHERE c IS NOT NULL AND variants ? c AND c IS DISTINCT FROM other
     ORDER BY o LIMIT 1;
END;

COMMENT ON FUNCTION ff._pick_variant(jsonb, text[], text) IS
'Internal: the first candidate that names a variant and differs from another name';

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
                 ELSE format('"%s" is not one of its variants', ff._name_in_message(v_on)) END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the variant to roll out, e.g. variant => %L. Variants: %s.',
                      (SELECT k FROM jsonb_object_keys(flag.variants) AS k ORDER BY k COLLATE "C" LIMIT 1),
                      ff._variant_list(flag.variants));
    END IF;
    v_off := COALESCE(otherwise, ff._pick_variant(flag.variants, ARRAY[flag.default_variant, 'off', 'false'], v_on));
    IF v_off IS NULL AND (SELECT count(*) FROM jsonb_object_keys(flag.variants)) = 2 THEN
        -- a two-variant flag: the other one
        SELECT k INTO v_off FROM jsonb_object_keys(flag.variants) AS k WHERE k <> v_on;
    END IF;
    IF v_off IS NULL OR NOT flag.variants ? v_off OR v_off = v_on THEN
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', _rollout_rule.key, env,
            CASE WHEN v_off IS NULL THEN format('no variant to serve outside the rollout of "%s"', ff._name_in_message(v_on))
                 WHEN v_off = v_on THEN format('"otherwise" and "variant" are both "%s"', ff._name_in_message(v_on))
                 ELSE format('"%s" is not one of its variants', ff._name_in_message(v_off)) END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the variant served to everyone else with otherwise => ''...''. Variants: %s.',
                      ff._variant_list(flag.variants));
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
CREATE FUNCTION ff.set_rollout(key text, percentage numeric, environment text DEFAULT NULL,
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

-- ff.copy_flag copies a flag into another environment, together with the
-- segments its targeting needs that are missing there.
CREATE FUNCTION ff.copy_flag(key text, from_environment text, to_environment text,
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

-- ff.delete_flag deletes a flag from an environment.
CREATE FUNCTION ff.delete_flag(key text, environment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(delete_flag.environment);
BEGIN
    DELETE FROM ff.flags AS f WHERE f.environment = env AND f.key = delete_flag.key;
    IF NOT FOUND THEN
        PERFORM ff._flag_not_found(delete_flag.key, env, deleting => true);
    END IF;
END;
$$;

COMMENT ON FUNCTION ff.delete_flag(text, text) IS
'Deletes a flag from an environment (the history keeps its past versions)';

-- ---------------------------------------------------------------------
-- Segments
-- ---------------------------------------------------------------------

-- ff.create_segment creates a segment: a rule and/or explicit lists of
-- included and excluded targeting keys.
CREATE FUNCTION ff.create_segment(name text, rule jsonb DEFAULT NULL, environment text DEFAULT NULL,
                                  description text DEFAULT NULL,
                                  include text[] DEFAULT '{}', exclude text[] DEFAULT '{}')
RETURNS ff.segments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(create_segment.environment);
    result      ff.segments;
BEGIN
    IF create_segment.name IS NULL THEN
        RAISE EXCEPTION 'segment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.create_segment(''beta-testers'', include => ''{user-1,user-2}'');';
    END IF;
    IF EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = env AND s.name = create_segment.name) THEN
        RAISE EXCEPTION 'segment "%" already exists in environment "%"', create_segment.name, env
            USING ERRCODE = 'unique_violation',
                  HINT = 'Change it with ff.set_segment_rule(), ff.add_segment_keys() and ff.remove_segment_keys().';
    END IF;
    IF COALESCE(include, '{}') && COALESCE(exclude, '{}') THEN
        RAISE EXCEPTION 'segment "%" in environment "%" cannot both include and exclude %', create_segment.name, env,
            (SELECT string_agg(format('"%s"', k), ', ') FROM (SELECT unnest(include) INTERSECT SELECT unnest(exclude)) AS x(k))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A targeting key is either included or excluded.';
    END IF;
    INSERT INTO ff.segments (environment, name, rule, description)
    VALUES (env, create_segment.name, create_segment.rule, create_segment.description)
    RETURNING * INTO result;
    PERFORM ff.add_segment_keys(create_segment.name, include, env, false);
    PERFORM ff.add_segment_keys(create_segment.name, exclude, env, true);
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.create_segment(text, jsonb, text, text, text[], text[]) IS
'Creates a segment: a JSON Logic rule (truthy = member) and/or included and excluded targeting keys; flags use it with {"in_segment": "name"}';

-- ff.set_segment_rule replaces the rule of a segment (NULL: keys only).
CREATE FUNCTION ff.set_segment_rule(name text, rule jsonb, environment text DEFAULT NULL)
RETURNS ff.segments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(set_segment_rule.environment);
    result      ff.segments;
BEGIN
    SELECT * INTO result FROM ff.segments AS s WHERE s.environment = env AND s.name = set_segment_rule.name;
    IF NOT FOUND THEN
        PERFORM ff._segment_not_found(set_segment_rule.name, env);
    END IF;
    UPDATE ff.segments AS s SET rule = set_segment_rule.rule
     WHERE s.environment = env AND s.name = set_segment_rule.name
       AND s.rule IS DISTINCT FROM set_segment_rule.rule
    RETURNING * INTO result;
    IF NOT FOUND THEN
        SELECT * INTO result FROM ff.segments AS s WHERE s.environment = env AND s.name = set_segment_rule.name;
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.set_segment_rule(text, jsonb, text) IS
'Replaces the rule of a segment; NULL leaves only its explicit key lists';

-- ff.delete_segment deletes a segment and its key lists; a segment still
-- referenced by a flag or another segment cannot be deleted.
CREATE FUNCTION ff.delete_segment(name text, environment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(delete_segment.environment);
BEGIN
    DELETE FROM ff.segments AS s WHERE s.environment = env AND s.name = delete_segment.name;
    IF NOT FOUND THEN
        PERFORM ff._segment_not_found(delete_segment.name, env, deleting => true);
    END IF;
END;
$$;

COMMENT ON FUNCTION ff.delete_segment(text, text) IS
'Deletes a segment with its key lists; refused while a flag or another segment references it';

-- ff.add_segment_keys adds targeting keys to a segment's include list (or,
-- with excluded => true, to its exclude list), moving keys already on the
-- other list.
CREATE FUNCTION ff.add_segment_keys(segment text, keys text[], environment text DEFAULT NULL,
                                    excluded boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(add_segment_keys.environment);
    n           integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = env AND s.name = add_segment_keys.segment) THEN
        PERFORM ff._segment_not_found(add_segment_keys.segment, env);
    END IF;
    -- (1.17) a NULL is no choice: it put the keys on the include list
    IF add_segment_keys.excluded IS NULL THEN
        RAISE EXCEPTION 'excluded must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass excluded => false (the default) to include the keys in segment "%s", or true to exclude them.',
                                add_segment_keys.segment);
    END IF;
    IF array_position(keys, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'targeting keys for segment "%" in environment "%" contain NULL', add_segment_keys.segment, env
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Remove the NULL elements from the array.';
    END IF;
    INSERT INTO ff.segment_keys AS k (environment, segment, targeting_key, excluded)
    SELECT DISTINCT env, add_segment_keys.segment, t, add_segment_keys.excluded
      FROM unnest(keys) AS t
    ON CONFLICT (environment, segment, targeting_key) DO UPDATE SET excluded = EXCLUDED.excluded
     WHERE k.excluded IS DISTINCT FROM EXCLUDED.excluded;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;

COMMENT ON FUNCTION ff.add_segment_keys(text, text[], text, boolean) IS
'Adds targeting keys to a segment''s include list, or exclude list with excluded => true; returns the number of keys added or moved';

-- ff.remove_segment_keys removes targeting keys from a segment (from
-- whichever list holds them).
CREATE FUNCTION ff.remove_segment_keys(segment text, keys text[], environment text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(remove_segment_keys.environment);
    n           integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = env AND s.name = remove_segment_keys.segment) THEN
        PERFORM ff._segment_not_found(remove_segment_keys.segment, env);
    END IF;
    IF array_position(keys, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'targeting keys for segment "%" in environment "%" contain NULL', remove_segment_keys.segment, env
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Remove the NULL elements from the array.';
    END IF;
    DELETE FROM ff.segment_keys AS k
     WHERE k.environment = env AND k.segment = remove_segment_keys.segment AND k.targeting_key = ANY (keys);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;

COMMENT ON FUNCTION ff.remove_segment_keys(text, text[], text) IS
'Removes targeting keys from a segment''s include or exclude list; returns the number removed';

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
    PERFORM ff._check_name('flag key', flag_key, format(' in environment "%s"', env));
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

-- write functions are for the extension owner and the roles it grants them to
REVOKE ALL ON FUNCTION ff.create_environment(text, text, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_default_environment(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.delete_environment(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._copy_segments(text, text, text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.copy_environment(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.create_flag(text, jsonb, text, text, jsonb, boolean, text, text[], text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_targeting(text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_default_variant(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._set_state(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.enable_flag(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.disable_flag(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_rollout(text, numeric, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.copy_flag(text, text, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.delete_flag(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.create_segment(text, jsonb, text, text, text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_segment_rule(text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.delete_segment(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.add_segment_keys(text, text[], text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.remove_segment_keys(text, text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.apply_draft(text, jsonb, text) FROM PUBLIC;
