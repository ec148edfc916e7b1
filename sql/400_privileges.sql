--
-- 400_privileges: grant recipes (reader, editor, admin), what PUBLIC may do,
-- and protected environments (trigger ff_05_protect*) through raw DML and
-- the ff.* functions, with the exact errors users see.
--
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
CREATE EXTENSION feature_flags;
RESET client_min_messages;

CREATE ROLE regress_ff_reader;
CREATE ROLE regress_ff_editor;
CREATE ROLE regress_ff_admin;
CREATE ROLE regress_ff_release;
CREATE ROLE regress_ff_releaser IN ROLE regress_ff_release;
CREATE ROLE regress_ff_nobody;
CREATE ROLE "regress_ff Quoted";

-- ---- recipes
-- the statements of a level, with the grantee quoted
SELECT * FROM ff.privilege_recipe('reader', 'regress_ff Quoted');
SELECT * FROM ff.privilege_recipe('reader', 'regress_ff Quoted', revoke => true);
-- levels are cumulative: what admin adds to editor
SELECT * FROM ff.privilege_recipe('admin', 'regress_ff_admin')
EXCEPT SELECT * FROM ff.privilege_recipe('editor', 'regress_ff_admin') ORDER BY 1;
-- bad arguments
SELECT * FROM ff.privilege_recipe('owner', 'regress_ff_admin');
SELECT * FROM ff.grant_reader('regress_ff_missing');
SELECT * FROM ff.grant_reader(NULL);
-- (1.9) a role OID that names no role; a NULL level or revoke
SELECT * FROM ff.grant_reader(0::regrole);
SELECT * FROM ff.privilege_recipe(NULL, 'regress_ff_admin');
SELECT * FROM ff.privilege_recipe('reader', 'regress_ff_admin', NULL);
-- (1.20) public means every role: refused
SELECT * FROM ff.privilege_recipe('reader', 'public');
-- (1.20) the editor reads the sequences too (pg_dump needs it)
SELECT s FROM ff.privilege_recipe('editor', 'regress_ff_editor') AS s WHERE s LIKE '%SEQUENCE%';

SELECT count(*) > 0 AS granted FROM ff.grant_reader('regress_ff_reader');
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_editor');
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_releaser');
SELECT count(*) > 0 AS granted FROM ff.grant_admin('regress_ff_admin');

-- who may do what (PUBLIC and a role without grants are alike)
SELECT r AS role,
       has_schema_privilege(r, 'ff', 'USAGE') AS usage,
       has_table_privilege(r, 'ff.flags', 'SELECT') AS read_flags,
       has_table_privilege(r, 'ff.versions', 'SELECT') AS read_history,
       has_table_privilege(r, 'ff.flags', 'INSERT') AS write_flags,
       has_column_privilege(r, 'ff.environments', 'metadata', 'UPDATE') AS env_metadata,
       has_column_privilege(r, 'ff.environments', 'protected', 'UPDATE') AS env_protection,
       has_function_privilege(r, 'ff.create_flag(text, jsonb, text, text, jsonb, boolean, text, text[], text, jsonb)',
                              'EXECUTE') AS create_flag,
       has_function_privilege(r, 'ff.create_environment(text, text, jsonb, boolean)', 'EXECUTE') AS create_env,
       has_function_privilege(r, 'ff.current_version()', 'EXECUTE') AS current_version
  FROM unnest(ARRAY['public', 'regress_ff_nobody', 'regress_ff_reader', 'regress_ff_editor',
                    'regress_ff_admin']) AS r;

-- ---- protected environments
SELECT (ff.create_environment('production', 'Live traffic')).name;
SELECT name, protected, allowed_roles FROM ff.protect_environment('production', '{regress_ff_release}');
SELECT (ff.create_flag('checkout', environment => 'production')).key;
SELECT (ff.create_segment('beta', environment => 'production', include => '{u1}')).name;
SELECT (ff.create_flag('dev-only')).key;

-- allowed roles must exist, and the names are checked at write time
SELECT ff.protect_environment('production', '{regress_ff_release, regress_ff_missing}');
UPDATE ff.environments SET allowed_roles = '{regress_ff_release, NULL}' WHERE name = 'production';
-- (1.9) a role named twice is stored once; NULL in the list is refused
SELECT name, allowed_roles FROM ff.protect_environment('production', '{regress_ff_release, regress_ff_release}');
SELECT name, allowed_roles FROM ff.protect_environment('production', '{regress_ff_admin, regress_ff_release, regress_ff_admin}');
SELECT name, allowed_roles FROM ff.protect_environment('production', '{regress_ff_release, NULL}');
SELECT name, allowed_roles FROM ff.protect_environment('production', '{regress_ff_release}');
-- no list keeps the current one
SELECT name, allowed_roles FROM ff.protect_environment('production');
SELECT ff.protect_environment(NULL);
SELECT ff.protect_environment('prod');

-- table privileges are checked first: a role without grants gets the usual error
SET ROLE regress_ff_nobody;
INSERT INTO ff.flags (environment, key, variants) VALUES ('production', 'x', '{"a": 1}');
RESET ROLE;

-- an editor: everything in production is refused, by raw DML or through functions
SET ROLE regress_ff_editor;
SELECT ff.can_write_environment('production') AS production, ff.can_write_environment('development') AS development;
INSERT INTO ff.flags (environment, key, variants) VALUES ('production', 'raw', '{"a": 1}');
SELECT ff.create_flag('new-one', environment => 'production');
UPDATE ff.flags SET description = 'edited' WHERE environment = 'production' AND key = 'checkout';
SELECT ff.disable_flag('checkout', 'production');
DELETE FROM ff.flags WHERE environment = 'production';
UPDATE ff.flags SET environment = 'production' WHERE key = 'dev-only';
SELECT ff.copy_flag('dev-only', 'development', 'production');
SELECT ff.import_flagd('{"flags": {"imported": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}',
                       'production');
SELECT ff.create_segment('vip', environment => 'production');
SELECT ff.set_segment_rule('beta', '{"==": [{"var": "plan"}, "beta"]}', 'production');
SELECT ff.add_segment_keys('beta', '{u2, u3}', 'production');
SELECT ff.remove_segment_keys('beta', '{u1}', 'production');
UPDATE ff.segment_keys SET excluded = true WHERE environment = 'production';
UPDATE ff.environments SET description = 'mine now' WHERE name = 'production';
UPDATE ff.environments SET protected = false WHERE name = 'production';
DELETE FROM ff.environments WHERE name = 'production';
-- one statement that touches both environments writes nothing
INSERT INTO ff.flags (environment, key, variants)
VALUES ('development', 'both-1', '{"a": 1}'), ('production', 'both-2', '{"a": 1}');
SELECT count(*) FROM ff.flags WHERE key LIKE 'both-%';
-- ... while the unprotected environment is the editor's to change
UPDATE ff.flags SET description = 'edited' WHERE environment = 'development' AND key = 'dev-only';
UPDATE ff.environments SET description = 'Everyday work' WHERE name = 'development';
SELECT key, description FROM ff.flags WHERE environment = 'development';
-- the leniency of a restore (check_function_bodies = off) is not the editor's
-- (1.8): a dangling segment reference and a segment cycle are refused as ever
SET check_function_bodies = off;
SELECT ff.create_flag('dangling', targeting => '{"if": [{"in_segment": "nope"}, "on", "off"]}');
SELECT name FROM ff.create_segment('ed-s1');
SELECT name FROM ff.create_segment('ed-s2', '{"in_segment": "ed-s1"}');
SELECT ff.set_segment_rule('ed-s1', '{"in_segment": "ed-s2"}');
RESET check_function_bodies;
SELECT ff.delete_segment('ed-s2');
SELECT ff.delete_segment('ed-s1');
RESET ROLE;

-- TRUNCATE empties every environment; a role that may truncate still needs
-- every protected environment
GRANT TRUNCATE ON ff.segment_keys TO regress_ff_editor;
SET ROLE regress_ff_editor;
TRUNCATE ff.segment_keys;
RESET ROLE;
REVOKE TRUNCATE ON ff.segment_keys FROM regress_ff_editor;

-- a member of an allowed role writes in production, but cannot change the
-- protection, even when granted the column
SET ROLE regress_ff_releaser;
SELECT ff.can_write_environment('production') AS production;
SELECT key, state FROM ff.disable_flag('checkout', 'production');
SELECT ff.add_segment_keys('beta', '{u2}', 'production') AS added;
UPDATE ff.environments SET description = 'Live traffic (release managers)' WHERE name = 'production';
SELECT ff.unprotect_environment('production');
RESET ROLE;
GRANT UPDATE (allowed_roles) ON ff.environments TO regress_ff_releaser;
SET ROLE regress_ff_releaser;
UPDATE ff.environments SET allowed_roles = '{regress_ff_release, regress_ff_editor}' WHERE name = 'production';
RESET ROLE;
REVOKE UPDATE (allowed_roles) ON ff.environments FROM regress_ff_releaser;
SELECT changed_by, summary FROM ff.history ORDER BY version DESC LIMIT 3;

-- a protected environment with no allowed roles: only ff administrators
SELECT name, protected, allowed_roles FROM ff.protect_environment('production', '{}');
SET ROLE regress_ff_releaser;
SELECT ff.enable_flag('checkout', 'production');
RESET ROLE;

-- the admin recipe: writes everywhere, manages environments and protection
SET ROLE regress_ff_admin;
SELECT key, state FROM ff.enable_flag('checkout', 'production');
SELECT (ff.create_environment('staging')).name;
SELECT name, protected FROM ff.protect_environment('staging');
SELECT (ff.create_flag('staged', environment => 'staging')).key;
DELETE FROM ff.environments WHERE name = 'production';
RESET ROLE;

-- the reader evaluates production flags (the evaluator reads the tables
-- itself), but reads no rule
SELECT key, default_variant FROM ff.set_default_variant('checkout', 'on', 'production');
SET ROLE regress_ff_reader;
SELECT ff.get_bool('checkout', '{}', false, 'production') AS checkout,
       (ff.evaluate('checkout', '{}', NULL, 'production')).reason;
SELECT targeting FROM ff.flags WHERE key = 'checkout';
RESET ROLE;
-- (1.12 library) ff.evaluate names the closest environment to a role that
-- may read ff.environments, and not to one that may not, even after the
-- answer was remembered for the first
SELECT (ff.evaluate('checkout', '{}', NULL, 'prodution')).error_message AS superuser;
SET ROLE regress_ff_nobody;
SELECT (ff.evaluate('checkout', '{}', NULL, 'prodution')).error_message AS nobody;
RESET ROLE;

-- who may write, per role
SELECT e AS environment,
       ff.can_write_environment(e, 'regress_ff_editor') AS editor,
       ff.can_write_environment(e, 'regress_ff_releaser') AS releaser,
       ff.can_write_environment(e, 'regress_ff_admin') AS admin
  FROM unnest(ARRAY['development', 'staging', 'production', 'no-such-env']) AS e;
SELECT ff.can_write_environment('production', 'regress_ff_missing');

-- the checks follow current_user: a SECURITY DEFINER function owned by an
-- ff administrator acts with the administrator's rights (a deliberate
-- delegation, e.g. an on-call kill switch), one owned by the editor does not
CREATE SCHEMA regress_ff_ops AUTHORIZATION regress_ff_admin;
GRANT CREATE ON SCHEMA regress_ff_ops TO regress_ff_editor;
GRANT USAGE ON SCHEMA regress_ff_ops TO regress_ff_editor;
SET ROLE regress_ff_admin;
CREATE FUNCTION regress_ff_ops.kill(flag text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT (ff.disable_flag(flag, 'production')).state $$;
REVOKE ALL ON FUNCTION regress_ff_ops.kill(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION regress_ff_ops.kill(text) TO regress_ff_editor;
RESET ROLE;
SET ROLE regress_ff_editor;
SELECT regress_ff_ops.kill('checkout');
CREATE FUNCTION regress_ff_ops.sneaky(flag text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT (ff.enable_flag(flag, 'production')).state $$;
SELECT regress_ff_ops.sneaky('checkout');
RESET ROLE;
SELECT changed_by, summary FROM ff.history ORDER BY version DESC LIMIT 1;

-- unprotected again: the editor may write
SELECT name, protected, allowed_roles FROM ff.unprotect_environment('production');
SET ROLE regress_ff_editor;
SELECT key, state FROM ff.enable_flag('checkout', 'production');
RESET ROLE;

-- the triggers act as the extension's owner, with search_path pg_catalog,
-- only around the SQL they run on internal tables: an editor whose
-- search_path puts pg_temp (with a decoy table) first commits a change-set
-- of two versions, whose notification the owner's function composes at
-- commit, and is still itself inside the transaction
SET ROLE regress_ff_editor;
CREATE TEMP TABLE versions (version bigint, hash text);
SET search_path = pg_temp, public;
BEGIN;
UPDATE ff.flags SET description = 'pair' WHERE environment = 'production' AND key = 'checkout';
UPDATE ff.flags SET description = 'pair' WHERE environment = 'development' AND key = 'dev-only';
SELECT current_user, current_setting('search_path') AS search_path,
       (SELECT count(*) FROM pg_temp.versions) AS decoy_rows;
COMMIT;
SELECT changed_by, change_set = version - 1 AS second_of_set, entity_key
  FROM ff.versions ORDER BY version DESC LIMIT 1;
RESET search_path;
DROP TABLE pg_temp.versions;
RESET ROLE;

-- ---- revoking
SELECT count(*) > 0 AS revoked FROM ff.revoke_editor('regress_ff_editor');
SET ROLE regress_ff_editor;
SELECT count(*) FROM ff.flags;
RESET ROLE;
SELECT has_column_privilege('regress_ff_editor', 'ff.environments', 'metadata', 'UPDATE') AS env_metadata,
       (SELECT count(*) FROM pg_namespace AS n, aclexplode(n.nspacl) AS a
         WHERE n.nspname = 'ff' AND a.grantee = 'regress_ff_editor'::regrole) AS own_schema_grants;

-- (1.11) the internal helpers that write keep PUBLIC's EXECUTE, so that the
-- rollback functions can call them with the caller's rights, but refuse a
-- caller who may not run the rollback function they serve: a role with the
-- table privileges and no ff.rollback_flag cannot roll back through them
CREATE ROLE regress_ff_tables_only;
GRANT USAGE ON SCHEMA ff TO regress_ff_tables_only;
GRANT SELECT, INSERT, UPDATE, DELETE ON ff.flags, ff.segments, ff.segment_keys TO regress_ff_tables_only;
GRANT SELECT ON ff.environments, ff.versions TO regress_ff_tables_only;
SELECT (ff.create_flag('rb-guard')).key;
SELECT (ff.disable_flag('rb-guard')).state;
SET ROLE regress_ff_tables_only;
SELECT ff.rollback_flag('rb-guard', 1);
SELECT ff._history_rollback_entity('flag', 'rb-guard', 1, NULL);
SELECT ff._history_restore('flag', 'development', 'rb-guard', 1);
SELECT ff._history_write_image('flag', '{"environment": "development", "key": "rb-guard", "state": "ENABLED"}', false);
SELECT state FROM ff.flags WHERE key = 'rb-guard';
RESET ROLE;
-- an editor may roll flags and segments back, not environments
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_editor');
SET ROLE regress_ff_editor;
SELECT ff._history_restore('environment', 'development', 'development', 1);
SELECT ff.rollback_flag('rb-guard', (SELECT min(version) FROM ff.versions WHERE entity_key = 'rb-guard')) > 0 AS rolled_back;
SELECT state FROM ff.flags WHERE key = 'rb-guard';
-- (1.23) again, to the state the flag already has: the NOTICE (1.22 refused
-- the editor the history helper ff._history_drift_delta, 42501)
SELECT ff.rollback_flag('rb-guard', (SELECT min(version) FROM ff.versions WHERE entity_key = 'rb-guard')) > 0 AS rolled_back;
RESET ROLE;
SELECT count(*) > 0 AS revoked FROM ff.revoke_editor('regress_ff_editor');
REVOKE ALL ON ff.flags, ff.segments, ff.segment_keys, ff.environments, ff.versions FROM regress_ff_tables_only;
REVOKE ALL ON SCHEMA ff FROM regress_ff_tables_only;
DROP ROLE regress_ff_tables_only;

-- (1.21) the planner passes a table's row as columns to the row getter's
-- twin only for a role that may execute the row getter (and the twin); a
-- cached plan is planned again for another role and after a GRANT or
-- REVOKE, so the row getter's privilege decides as it did before 1.21:
-- when a query or cursor starts, also when no row is evaluated; the twin
-- cannot be called directly
CREATE TABLE regress_ff_rows (plan text, country text);
CREATE TABLE regress_ff_empty (plan text, country text);
INSERT INTO regress_ff_rows VALUES ('pro', 'US');
GRANT SELECT ON regress_ff_rows, regress_ff_empty TO regress_ff_nobody;
SET plan_cache_mode = force_generic_plan;
PREPARE regress_rows AS
    SELECT ff.get_bool_row('checkout', r, false, 'production') AS checkout FROM regress_ff_rows AS r;
EXECUTE regress_rows;
REVOKE EXECUTE ON FUNCTION ff.get_bool_row(text, anyelement, boolean, text) FROM PUBLIC;
-- planned (rewritten) for a role that may, then run by one that may not
PREPARE regress_rows_2 AS
    SELECT ff.get_bool_row('checkout', r, false, 'production') AS checkout FROM regress_ff_rows AS r;
EXECUTE regress_rows_2;
SET ROLE regress_ff_nobody;
EXECUTE regress_rows_2;
SELECT ff.get_bool_row('checkout', r, false, 'production') FROM regress_ff_rows AS r;
SELECT ff.get_bool_row('checkout', r, false, 'production') FROM regress_ff_empty AS r;
EXECUTE regress_rows;
BEGIN;
DECLARE regress_cur CURSOR FOR
    SELECT ff.get_bool_row('checkout', r, false, 'production') FROM regress_ff_rows AS r;
ROLLBACK;
SELECT ff._get_bool_row_cols('checkout', 'ff.get_bool_row(text,anyelement,boolean,text)'::regprocedure, false,
                             'production', '{plan}', 'pro'::text);
SELECT ff.get_string_row('checkout', r, 'allowed', 'production') AS other_getter FROM regress_ff_rows AS r;
RESET ROLE;
-- a cursor started by a role that may, fetched by one that may not: the
-- rows come, as they do without the rewrite
BEGIN;
DECLARE regress_cur CURSOR FOR
    SELECT ff.get_bool_row('checkout', r, false, 'production') AS checkout FROM regress_ff_rows AS r;
SET LOCAL ROLE regress_ff_nobody;
FETCH ALL FROM regress_cur;
ROLLBACK;
GRANT EXECUTE ON FUNCTION ff.get_bool_row(text, anyelement, boolean, text) TO regress_ff_nobody;
SET ROLE regress_ff_nobody;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE regress_rows;
EXECUTE regress_rows;
RESET ROLE;
-- the twin closed to PUBLIC: not rewritten for a role without it, which
-- still evaluates through the row getter it may execute
REVOKE EXECUTE ON FUNCTION ff._get_bool_row_cols(text, regprocedure, boolean, text, text[], "any") FROM PUBLIC;
SET ROLE regress_ff_nobody;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE regress_rows;
EXECUTE regress_rows;
RESET ROLE;
GRANT EXECUTE ON FUNCTION ff._get_bool_row_cols(text, regprocedure, boolean, text, text[], "any") TO PUBLIC;
-- a REVOKE reaches a plan cached (rewritten) for the same role
DEALLOCATE regress_rows;
PREPARE regress_rows AS
    SELECT ff.get_bool_row('checkout', r, false, 'production') AS checkout FROM regress_ff_rows AS r;
SET ROLE regress_ff_nobody;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE regress_rows;
EXECUTE regress_rows;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION ff.get_bool_row(text, anyelement, boolean, text) FROM regress_ff_nobody;
SET ROLE regress_ff_nobody;
EXECUTE regress_rows;
RESET ROLE;
GRANT EXECUTE ON FUNCTION ff.get_bool_row(text, anyelement, boolean, text) TO PUBLIC;
RESET plan_cache_mode;
DEALLOCATE regress_rows;
DEALLOCATE regress_rows_2;
DROP TABLE regress_ff_rows, regress_ff_empty;

-- clean up: after the revoke recipes no privilege is left, so DROP ROLE succeeds
DROP SCHEMA regress_ff_ops CASCADE;
SELECT count(*) > 0 AS revoked FROM ff.revoke_reader('regress_ff_reader');
SELECT count(*) > 0 AS revoked FROM ff.revoke_editor('regress_ff_releaser');
SELECT count(*) > 0 AS revoked FROM ff.revoke_admin('regress_ff_admin');
DROP ROLE regress_ff_reader, regress_ff_editor, regress_ff_admin, regress_ff_releaser, regress_ff_release,
          regress_ff_nobody, "regress_ff Quoted";
