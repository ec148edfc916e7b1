-- ---------------------------------------------------------------------
-- Privileges: protected-environment administration, grant recipes for
-- the three roles (reader, editor, admin), and what PUBLIC may do
-- (src/sql/090_privileges.sql)
--
-- Roles are cluster-wide, so the install script creates none.  The
-- recipes grant the privileges of a level to an existing role:
--   reader  evaluates flags; reads neither rules nor history
--   editor  reader + reads everything, changes flags, segments and keys
--           (and environment metadata/description) in environments that
--           are not protected, reads and rolls back the history
--   admin   editor + environment management, protection settings; an
--           admin may UPDATE ff.environments.protected, which makes it an
--           ff administrator that protected environments accept
-- The levels are cumulative; ff.privilege_recipe() shows the statements.
--
-- PUBLIC keeps USAGE on schema ff and EXECUTE on the evaluation functions
-- and on the SECURITY INVOKER helpers (they run with the caller's table
-- privileges); nothing that writes, reads rules or history, or runs with
-- the owner's rights on data is granted to PUBLIC.  See the README (Privileges and protected environments).
-- ---------------------------------------------------------------------

-- ---- protected environments

-- ff.protect_environment protects an environment and, when allowed_roles
-- is given, sets the roles whose members may still change it.
CREATE FUNCTION ff.protect_environment(environment text, allowed_roles name[] DEFAULT NULL)
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

COMMENT ON FUNCTION ff.protect_environment(text, name[]) IS
'Protects an environment: only ff administrators and members of allowed_roles (NULL: keep the current list) may change it';

-- ff.unprotect_environment removes the protection of an environment (its
-- allowed roles are kept for a later ff.protect_environment).
CREATE FUNCTION ff.unprotect_environment(environment text)
RETURNS ff.environments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text;
    result      ff.environments;
BEGIN
    IF environment IS NULL THEN
        RAISE EXCEPTION 'environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment, for example SELECT ff.unprotect_environment(''staging'');';
    END IF;
    env := ff._resolve_environment(environment);
    UPDATE ff.environments AS e SET protected = false WHERE e.name = env AND e.protected;
    SELECT * INTO result FROM ff.environments AS e WHERE e.name = env;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.unprotect_environment(text) IS
'Removes the protection of an environment; any role with the table privileges may change it again (allowed_roles is kept); refused while the environment requires approvals';

-- ---- grant recipes

-- ff._recipe_functions lists the functions whose EXECUTE a level adds to
-- the level below it (the ones that exist: each part of the extension
-- brings its own).
CREATE FUNCTION ff._recipe_functions(level text)
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
               'current_version', '_evaluate_row_cols', '_get_bool_row_cols',
               '_get_string_row_cols', '_get_int_row_cols', '_get_float_row_cols',
               '_get_object_row_cols']
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
               'reject_change', 'withdraw_change', 'apply_change', 'diff_environments']
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
CREATE FUNCTION ff.privilege_recipe(level text, grantee name, revoke boolean DEFAULT false)
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
        RAISE EXCEPTION 'grantee must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the role, for example SELECT * FROM ff.privilege_recipe(''editor'', ''app_editor'');';
    END IF;
    IF grantee = '' THEN
        -- (1.25) it gave GRANT ... TO "", which cannot run
        RAISE EXCEPTION 'grantee must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the role, for example SELECT * FROM ff.privilege_recipe(''editor'', ''app_editor'');';
    END IF;
    IF grantee = 'public' THEN
        -- GRANT ... TO public (quoted or not) grants to every role (1.20)
        RAISE EXCEPTION 'grantee "public" means every role'
            USING ERRCODE = 'reserved_name',
                  DETAIL = 'GRANT ... TO public, quoted or not, gives the privileges to PUBLIC, every role.',
                  HINT = 'Name a role. PUBLIC already has what the README''s "What PUBLIC may do" lists.';
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
        RAISE EXCEPTION 'unknown privilege level "%"', ff._name_in_message(level)
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
            -- and every sequence, so that pg_dump can read their values (1.20)
            SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.relname) INTO readable
              FROM pg_class AS c
             WHERE c.relnamespace = 'ff'::regnamespace AND c.relkind = 'S';
            IF readable IS NOT NULL THEN
                RETURN NEXT format('%s SELECT ON SEQUENCE %s %s %s', verb, readable, dir, who);
            END IF;
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

-- ff._apply_recipe runs the statements of ff.privilege_recipe and returns
-- them.
CREATE FUNCTION ff._apply_recipe(level text, grantee regrole, revoke boolean)
RETURNS SETOF text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stmt        text;
    who         name;
BEGIN
    IF grantee IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the role, for example SELECT ff.grant_editor(''app_editor'');';
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

COMMENT ON FUNCTION ff._apply_recipe(text, regrole, boolean) IS
'Internal: runs the GRANT or REVOKE statements of a privilege level for a role and returns them';

-- ff.grant_reader lets a role evaluate flags (nothing else).
CREATE FUNCTION ff.grant_reader(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('reader', $1, false) $$;

COMMENT ON FUNCTION ff.grant_reader(regrole) IS
'Grants the reader recipe: USAGE on schema ff and EXECUTE on the evaluation functions; returns the statements run';

-- ff.grant_editor lets a role read everything and change flags and
-- segments in environments that are not protected.
CREATE FUNCTION ff.grant_editor(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('editor', $1, false) $$;

COMMENT ON FUNCTION ff.grant_editor(regrole) IS
'Grants the editor recipe (includes reader): read all, write flags/segments/keys outside protected environments, history and rollback; returns the statements run';

-- ff.grant_admin makes a role an ff administrator.
CREATE FUNCTION ff.grant_admin(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('admin', $1, false) $$;

COMMENT ON FUNCTION ff.grant_admin(regrole) IS
'Grants the admin recipe (includes editor): environment management and protection, writes in protected environments; returns the statements run';

-- ff.revoke_reader undoes ff.grant_reader.
CREATE FUNCTION ff.revoke_reader(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('reader', $1, true) $$;

COMMENT ON FUNCTION ff.revoke_reader(regrole) IS
'Revokes what ff.grant_reader grants; returns the statements run';

-- ff.revoke_editor undoes ff.grant_editor (reader privileges included).
CREATE FUNCTION ff.revoke_editor(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('editor', $1, true) $$;

COMMENT ON FUNCTION ff.revoke_editor(regrole) IS
'Revokes what ff.grant_editor grants (reader privileges included); returns the statements run';

-- ff.revoke_admin undoes ff.grant_admin (editor and reader privileges
-- included).
CREATE FUNCTION ff.revoke_admin(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('admin', $1, true) $$;

COMMENT ON FUNCTION ff.revoke_admin(regrole) IS
'Revokes what ff.grant_admin grants (editor and reader privileges included); returns the statements run';

-- ---- names bound when the extension was created or updated

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

-- ---- what PUBLIC may do

-- no table, view or sequence of ff is readable or writable by PUBLIC
REVOKE ALL ON ALL TABLES IN SCHEMA ff FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ff FROM PUBLIC;

-- the functions above are for administrators
REVOKE ALL ON FUNCTION ff.protect_environment(text, name[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.unprotect_environment(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._recipe_functions(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.privilege_recipe(text, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._apply_recipe(text, regrole, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.grant_reader(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.grant_editor(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.grant_admin(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.revoke_reader(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.revoke_editor(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.revoke_admin(regrole) FROM PUBLIC;

-- Every function that runs with the owner's rights is closed to PUBLIC,
-- except the two whose answers are safe for anyone: ff.current_version
-- (a number) and ff._environment_protection (which environments are
-- protected), for the protection triggers of every writer (as is
-- ff._approvals_required, C from 1.17, which tells how many approvals an
-- environment asks for).  The admin
-- functions (SECURITY INVOKER) were revoked where they are defined; the
-- recipes grant them back by level.
DO $$
DECLARE
    fn          regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_catalog.pg_proc AS p
               WHERE p.pronamespace = 'ff'::pg_catalog.regnamespace AND p.prosecdef
                 AND p.proname NOT IN ('current_version', '_environment_protection')
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
    END LOOP;
END;
$$;
