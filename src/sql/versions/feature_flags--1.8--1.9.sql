-- feature_flags 1.8 -> 1.9 (ALTER EXTENSION feature_flags UPDATE TO '1.9')
--
-- 1.9 refuses arguments that the privilege functions misread:
-- ff.grant_reader/editor/admin and ff.revoke_* given a role OID that names
-- no role (0::regrole, or the OID of a dropped role) said "grantee must not
-- be NULL"; they now say that no role has that OID (42704).
-- ff.privilege_recipe treated a NULL revoke as false and a NULL level as an
-- unknown level (22023); both are now 22004.  ff.protect_environment
-- stores a role named twice in allowed_roles once.
-- What this script changes (same signatures, same privileges):
--   * ff.protect_environment, ff.privilege_recipe;
--   * ff._apply_recipe.
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
