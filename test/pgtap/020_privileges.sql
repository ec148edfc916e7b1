-- 020_privileges.sql — pgTAP: what PUBLIC and the three recipe roles (reader,
-- editor, admin) may do, protected environments, and that a hostile
-- search_path cannot change a write or an evaluation.  Runs in one
-- transaction that is rolled back; the test roles are created inside it.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION feature_flags;

SELECT plan(97);

-- ---------------------------------------------------------------- roles
CREATE ROLE ff_test_reader;
CREATE ROLE ff_test_editor;
CREATE ROLE ff_test_admin;
CREATE ROLE ff_test_release;            -- allowed role of "production"
CREATE ROLE ff_test_releaser IN ROLE ff_test_release;
CREATE ROLE ff_test_nobody;                -- no grants at all
DO $$
BEGIN
    PERFORM ff.grant_reader('ff_test_reader');
    PERFORM ff.grant_editor('ff_test_editor');
    PERFORM ff.grant_editor('ff_test_releaser');
    PERFORM ff.grant_admin('ff_test_admin');
END;
$$;

-- ---------------------------------------------------------------- PUBLIC
SELECT schema_privs_are('ff', 'public', ARRAY['USAGE'], 'PUBLIC may only look up names in schema ff');
SELECT table_privs_are('ff', 'flags', 'public', ARRAY[]::name[], 'PUBLIC has no privilege on ff.flags');
SELECT table_privs_are('ff', 'environments', 'public', ARRAY[]::name[], 'PUBLIC has no privilege on ff.environments');
SELECT table_privs_are('ff', 'segments', 'public', ARRAY[]::name[], 'PUBLIC has no privilege on ff.segments');
SELECT table_privs_are('ff', 'segment_keys', 'public', ARRAY[]::name[], 'PUBLIC has no privilege on ff.segment_keys');
SELECT table_privs_are('ff', 'versions', 'public', ARRAY[]::name[], 'PUBLIC has no privilege on ff.versions');
SELECT table_privs_are('ff', '_cache_signal', 'public', ARRAY[]::name[], 'PUBLIC has no privilege on ff._cache_signal');
SELECT table_privs_are('ff', 'scheduled_changes', 'public', ARRAY[]::name[], 'PUBLIC has no privilege on ff.scheduled_changes');
SELECT is_empty(
    $$SELECT c.oid::regclass::text FROM pg_class c
       WHERE c.relnamespace = 'ff'::regnamespace
         AND (has_table_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
              OR has_any_column_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))$$,
    'PUBLIC has no privilege on any table, view or sequence of ff');
SELECT function_privs_are('ff', 'create_flag',
    ARRAY['text', 'jsonb', 'text', 'text', 'jsonb', 'boolean', 'text', 'text[]', 'text', 'jsonb'],
    'public', ARRAY[]::name[], 'PUBLIC cannot execute ff.create_flag');
SELECT function_privs_are('ff', 'create_environment', ARRAY['text', 'text', 'jsonb', 'boolean'],
    'public', ARRAY[]::name[], 'PUBLIC cannot execute ff.create_environment');
SELECT function_privs_are('ff', 'protect_environment', ARRAY['text', 'name[]'],
    'public', ARRAY[]::name[], 'PUBLIC cannot execute ff.protect_environment');
SELECT function_privs_are('ff', 'grant_admin', ARRAY['regrole'],
    'public', ARRAY[]::name[], 'PUBLIC cannot execute ff.grant_admin');
SELECT function_privs_are('ff', 'import_flagd', ARRAY['jsonb', 'text', 'boolean'],
    'public', ARRAY[]::name[], 'PUBLIC cannot execute ff.import_flagd');
SELECT function_privs_are('ff', 'rollback_flag', ARRAY['text', 'bigint', 'text'],
    'public', ARRAY[]::name[], 'PUBLIC cannot execute ff.rollback_flag');
-- 1.5: ff._history_next() takes the writer lock, which every configuration
-- write waits for: a role that could call it could hold every writer off
SELECT function_privs_are('ff', '_history_next', ARRAY[]::text[],
    'public', ARRAY[]::name[], 'PUBLIC cannot execute ff._history_next (it takes the writer lock)');
SELECT is_empty(
    $$SELECT f::text FROM ff._recipe_functions('editor') AS f
       WHERE has_function_privilege('public', f, 'EXECUTE')
         AND f::text NOT IN ('ff.export_flagd(text)', 'ff.can_write_environment(text,name)',
                             'ff.comment_change(text)', 'ff.diff_environments(text,text)')
      UNION ALL
      SELECT f::text FROM ff._recipe_functions('admin') AS f
       WHERE has_function_privilege('public', f, 'EXECUTE')$$,
    'PUBLIC cannot execute any function that writes (export, can_write_environment, comment_change and diff_environments only read or set a GUC)');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_proc p
       WHERE p.pronamespace = 'ff'::regnamespace AND p.prosecdef
         AND has_function_privilege('public', p.oid, 'EXECUTE')
         AND p.proname NOT IN ('current_version', '_environment_protection')$$,
    'PUBLIC executes no SECURITY DEFINER function but ff.current_version and ff._environment_protection');

SELECT function_privs_are('ff', 'evaluate', ARRAY['text', 'jsonb', 'jsonb', 'text'], 'public', ARRAY['EXECUTE'],
    'evaluation stays open to PUBLIC (zero setup; see the README)');

-- ---------------------------------------------------------------- reader
SELECT function_privs_are('ff', 'get_bool', ARRAY['text', 'jsonb', 'boolean', 'text'], 'ff_test_reader', ARRAY['EXECUTE'],
    'reader may execute ff.get_bool (also after PUBLIC is locked out)');
SELECT function_privs_are('ff', '_get_bool_row_cols', ARRAY['text', 'regprocedure', 'boolean', 'text', 'text[]', '"any"'],
    'ff_test_reader', ARRAY['EXECUTE'],
    'reader may execute ff._get_bool_row_cols, which the planner calls for ff.get_bool_row over a table (1.21)');
SELECT function_privs_are('ff', '_row_support', ARRAY['internal'], 'public', ARRAY[]::name[],
    'PUBLIC cannot execute the planner support function ff._row_support (1.21)');
SELECT schema_privs_are('ff', 'ff_test_reader', ARRAY['USAGE'], 'reader: USAGE on schema ff');
SELECT table_privs_are('ff', 'flags', 'ff_test_reader', ARRAY[]::name[], 'reader cannot read or write ff.flags');
SELECT table_privs_are('ff', 'segments', 'ff_test_reader', ARRAY[]::name[], 'reader cannot read ff.segments');
SELECT table_privs_are('ff', 'segment_keys', 'ff_test_reader', ARRAY[]::name[], 'reader cannot read ff.segment_keys');
SELECT table_privs_are('ff', 'versions', 'ff_test_reader', ARRAY[]::name[], 'reader cannot read ff.versions');
SELECT table_privs_are('ff', 'history', 'ff_test_reader', ARRAY[]::name[], 'reader cannot read ff.history');
SELECT table_privs_are('ff', 'scheduled_changes', 'ff_test_reader', ARRAY[]::name[], 'reader cannot read ff.scheduled_changes');
SELECT function_privs_are('ff', 'schedule_change', ARRAY['text', 'jsonb', 'timestamp with time zone', 'text', 'text'],
    'ff_test_reader', ARRAY[]::name[], 'reader cannot schedule changes');
SELECT function_privs_are('ff', 'current_version', ARRAY[]::name[], 'ff_test_reader', ARRAY['EXECUTE'],
    'reader may execute ff.current_version');
SELECT function_privs_are('ff', 'set_targeting', ARRAY['text', 'jsonb', 'text'], 'ff_test_reader', ARRAY[]::name[],
    'reader cannot execute ff.set_targeting');
SELECT function_privs_are('ff', 'changes_since', ARRAY['bigint'], 'ff_test_reader', ARRAY[]::name[],
    'reader cannot execute ff.changes_since (history)');

-- ---------------------------------------------------------------- editor
SELECT table_privs_are('ff', 'flags', 'ff_test_editor', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    'editor reads and writes ff.flags');
SELECT table_privs_are('ff', 'segments', 'ff_test_editor', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    'editor reads and writes ff.segments');
SELECT table_privs_are('ff', 'segment_keys', 'ff_test_editor', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    'editor reads and writes ff.segment_keys');
SELECT table_privs_are('ff', 'environments', 'ff_test_editor', ARRAY['SELECT'],
    'editor reads ff.environments (and may update two columns)');
SELECT column_privs_are('ff', 'environments', 'metadata', 'ff_test_editor', ARRAY['SELECT', 'UPDATE'],
    'editor may update environment metadata');
SELECT column_privs_are('ff', 'environments', 'protected', 'ff_test_editor', ARRAY['SELECT'],
    'editor cannot update ff.environments.protected');
SELECT table_privs_are('ff', 'versions', 'ff_test_editor', ARRAY['SELECT'], 'editor reads ff.versions, never writes it');
SELECT table_privs_are('ff', 'scheduled_changes', 'ff_test_editor', ARRAY['SELECT'],
    'editor reads ff.scheduled_changes (and may insert and update some columns)');
SELECT column_privs_are('ff', 'scheduled_changes', 'status', 'ff_test_editor', ARRAY['SELECT', 'UPDATE'],
    'editor may update the status of a scheduled change (to cancel it), not insert one');
SELECT column_privs_are('ff', 'scheduled_changes', 'draft', 'ff_test_editor', ARRAY['SELECT', 'INSERT'],
    'editor schedules a draft, and cannot update it');
SELECT column_privs_are('ff', 'scheduled_changes', 'id', 'ff_test_editor', ARRAY['SELECT'],
    'editor cannot choose the id of a scheduled change');
SELECT function_privs_are('ff', 'run_scheduled_changes', ARRAY['integer'], 'ff_test_editor', ARRAY['EXECUTE'],
    'editor may run the due scheduled changes');
SELECT function_privs_are('ff', '_apply_draft_as', ARRAY['name', 'text', 'jsonb', 'text', 'text'], 'ff_test_editor',
    ARRAY[]::name[], 'editor cannot apply a draft as another role');
SELECT function_privs_are('ff', 'create_flag',
    ARRAY['text', 'jsonb', 'text', 'text', 'jsonb', 'boolean', 'text', 'text[]', 'text', 'jsonb'],
    'ff_test_editor', ARRAY['EXECUTE'], 'editor may execute ff.create_flag');
SELECT function_privs_are('ff', 'rollback_flag', ARRAY['text', 'bigint', 'text'], 'ff_test_editor', ARRAY['EXECUTE'],
    'editor may execute ff.rollback_flag');
SELECT function_privs_are('ff', 'create_environment', ARRAY['text', 'text', 'jsonb', 'boolean'],
    'ff_test_editor', ARRAY[]::name[], 'editor cannot execute ff.create_environment');
SELECT function_privs_are('ff', 'protect_environment', ARRAY['text', 'name[]'],
    'ff_test_editor', ARRAY[]::name[], 'editor cannot execute ff.protect_environment');

-- ---------------------------------------------------------------- admin
SELECT table_privs_are('ff', 'environments', 'ff_test_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    'admin reads and writes ff.environments');
SELECT table_privs_are('ff', 'flags', 'ff_test_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    'admin reads and writes ff.flags (no TRUNCATE)');
SELECT function_privs_are('ff', 'protect_environment', ARRAY['text', 'name[]'], 'ff_test_admin', ARRAY['EXECUTE'],
    'admin may execute ff.protect_environment');
SELECT function_privs_are('ff', 'delete_environment', ARRAY['text', 'boolean'], 'ff_test_admin', ARRAY['EXECUTE'],
    'admin may execute ff.delete_environment');
SELECT function_privs_are('ff', 'grant_editor', ARRAY['regrole'], 'ff_test_admin', ARRAY[]::name[],
    'the recipes themselves stay with the owner');

-- ---------------------------------------------------------------- behaviour
DO $$
BEGIN
    PERFORM ff.create_environment('production');
    PERFORM ff.protect_environment('production', '{ff_test_release}');
    PERFORM ff.create_flag('shared', environment => 'production');
END;
$$;

SET ROLE ff_test_reader;
SELECT throws_ok($$SELECT count(*) FROM ff.flags$$, '42501', NULL, 'reader cannot SELECT ff.flags');
SELECT throws_ok($$SELECT count(*) FROM ff.versions$$, '42501', NULL, 'reader cannot SELECT ff.versions');
SELECT throws_ok($$INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'r', '{"a": 1}')$$,
    '42501', NULL, 'reader cannot INSERT into ff.flags');
SELECT throws_ok($$SELECT ff.create_flag('r')$$, '42501', NULL, 'reader cannot call ff.create_flag');
SELECT lives_ok($$SELECT ff.current_version()$$, 'reader may read the configuration version');
SELECT is(ff.get_bool('shared', '{}', true, 'production'), false,
    'reader evaluates a production flag (its default variant "off", not the caller''s default)');
SELECT is((ff.evaluate('shared', '{}', NULL, 'production')).reason, 'STATIC', 'reader gets evaluation details');
RESET ROLE;

-- closing evaluation to PUBLIC leaves the reader recipe working
REVOKE EXECUTE ON FUNCTION ff.get_bool(text, jsonb, boolean, text) FROM PUBLIC;
SET ROLE ff_test_nobody;
SELECT throws_ok($$SELECT ff.get_bool('shared', '{}', true, 'production')$$, '42501', NULL,
    'after the lock-down a role without the reader recipe cannot evaluate');
RESET ROLE;
SET ROLE ff_test_reader;
SELECT lives_ok($$SELECT ff.get_bool('shared', '{}', true, 'production')$$, 'after the lock-down the reader still evaluates');
RESET ROLE;
GRANT EXECUTE ON FUNCTION ff.get_bool(text, jsonb, boolean, text) TO PUBLIC;

SET ROLE ff_test_editor;
SELECT lives_ok($$SELECT ff.create_flag('ed-dev')$$, 'editor creates a flag in an unprotected environment');
SELECT lives_ok($$UPDATE ff.flags SET description = 'raw' WHERE environment = 'development' AND key = 'ed-dev'$$,
    'editor updates a flag with raw DML in an unprotected environment');
SELECT throws_ok($$SELECT ff.create_flag('ed-prod', environment => 'production')$$, '42501',
    'role "ff_test_editor" may not change protected environment "production"',
    'editor cannot create a flag in production through ff.create_flag');
SELECT throws_ok($$INSERT INTO ff.flags (environment, key, variants) VALUES ('production', 'raw', '{"a": 1}')$$,
    '42501', 'role "ff_test_editor" may not change protected environment "production"',
    'editor cannot INSERT a flag into production');
SELECT throws_ok($$SELECT ff.disable_flag('shared', 'production')$$, '42501', NULL,
    'editor cannot use the kill switch in production');
SELECT throws_ok($$DELETE FROM ff.flags WHERE environment = 'production'$$, '42501', NULL,
    'editor cannot DELETE flags in production');
SELECT throws_ok($$UPDATE ff.flags SET environment = 'production' WHERE key = 'ed-dev'$$, '42501', NULL,
    'editor cannot move a flag into production');
SELECT throws_ok($$SELECT ff.copy_flag('ed-dev', 'development', 'production')$$, '42501', NULL,
    'editor cannot copy a flag into production');
SELECT throws_ok($$UPDATE ff.environments SET protected = false WHERE name = 'production'$$, '42501', NULL,
    'editor cannot unprotect production');
SELECT throws_ok($$UPDATE ff.environments SET metadata = '{"x": 1}' WHERE name = 'production'$$, '42501',
    'role "ff_test_editor" may not change protected environment "production"',
    'editor cannot change the metadata of production');
SELECT lives_ok($$UPDATE ff.environments SET metadata = '{"x": 1}' WHERE name = 'development'$$,
    'editor changes the metadata of an unprotected environment');
SELECT throws_ok($$SELECT ff.create_environment('mine')$$, '42501', NULL, 'editor cannot create environments');
SELECT is(ff.can_write_environment('production'), false, 'ff.can_write_environment: editor may not write production');
RESET ROLE;

SET ROLE ff_test_releaser;
SELECT lives_ok($$SELECT ff.create_flag('release-1', environment => 'production')$$,
    'a member of an allowed role writes in production');
SELECT throws_ok($$SELECT ff.unprotect_environment('production')$$, '42501', NULL,
    'a member of an allowed role still cannot unprotect production');
RESET ROLE;

SET ROLE ff_test_admin;
SELECT lives_ok($$SELECT ff.create_flag('admin-1', environment => 'production')$$, 'admin writes in production');
SELECT lives_ok($$SELECT ff.disable_flag('shared', 'production')$$, 'admin uses the kill switch in production');
SELECT lives_ok($$SELECT ff.create_environment('staging')$$, 'admin creates environments');
SELECT lives_ok($$SELECT ff.protect_environment('staging')$$, 'admin protects environments');
SELECT is(ff.can_write_environment('staging'), true, 'ff.can_write_environment: admin may write protected staging');
RESET ROLE;

SELECT results_eq(
    $$SELECT environment, key FROM ff.flags ORDER BY environment, key$$,
    $$VALUES ('development', 'ed-dev'), ('production', 'admin-1'), ('production', 'release-1'),
             ('production', 'shared')$$,
    'exactly the permitted writes happened');
SELECT is((SELECT state FROM ff.flags WHERE environment = 'production' AND key = 'shared'), 'DISABLED',
    'the admin''s kill switch took effect');

-- ---------------------------------------------------------------- search_path
-- every function either runs with a pinned search_path, or has an SQL-standard
-- body (names bound at CREATE time), or is C; the only exception is inlined
-- into pinned callers and not executable by PUBLIC (an aggregate runs its
-- support functions, which are checked themselves)
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
       WHERE p.pronamespace = 'ff'::regnamespace AND p.prokind <> 'a'
         AND l.lanname <> 'c' AND p.prosqlbody IS NULL
         AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
         AND p.oid <> 'ff._history_key_hash(text, boolean)'::regprocedure$$,
    'every ff function pins search_path = pg_catalog, pg_temp (or is bound at creation, or C)');
SELECT function_privs_are('ff', '_history_key_hash', ARRAY['text', 'boolean'], 'public', ARRAY[]::name[],
    'the one unpinned (inlinable) helper is not executable by PUBLIC');
SELECT bag_eq(
    $$SELECT p.proname::text FROM pg_proc p WHERE p.pronamespace = 'ff'::regnamespace AND p.prosecdef$$,
    $$VALUES ('current_version'), ('_environment_protection'),
             ('_history_truncate_trigger'), ('_history_keys_insert_trigger'), ('_history_keys_update_trigger'),
             ('_history_keys_delete_trigger'), ('_history_keys_truncate_trigger'),
             -- writes configuration rows only through ff._apply_draft_as, as the role
             -- that scheduled the change (1.14)
             ('run_scheduled_changes'),
             -- (ff._approvals_required, SECURITY DEFINER in 1.16, is C from 1.17)
             -- change requests (1.16): write ff.change_requests as the owner
             -- for the session's role, and configuration rows only through
             -- ff._apply_approved_draft, as the role that requested the change
             ('request_change'), ('approve_change'), ('reject_change'), ('withdraw_change'),
             ('apply_change')$$,
    'SECURITY DEFINER functions are exactly the reviewed ones (none writes configuration rows)');
-- 1.2: three C trigger functions run as the caller; the two that run SQL on
-- internal tables act as their owner, with search_path pg_catalog, only
-- around that SQL (src/ff_trigger.c).  1.3: so does the history row trigger,
-- around the insert into ff.versions and the call of its PL/pgSQL general
-- case (which pins its own search_path and TimeZone).  1.6: so does the
-- subscriber's notification trigger (PL/pgSQL SECURITY DEFINER until 1.5),
-- around the payload query
SELECT bag_eq(
    $$SELECT p.proname::text || ' ' || p.prosecdef || ' ' || coalesce(p.proconfig::text, '-')
        FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
       WHERE p.pronamespace = 'ff'::regnamespace AND l.lanname = 'c'
         AND p.proname IN ('_history_notify', '_history_writer_lock', '_replication_guard',
                           '_history_row_trigger', '_replication_notify')$$,
    $$VALUES ('_history_notify false -'), ('_history_writer_lock false -'), ('_replication_guard false -'),
             ('_history_row_trigger false -'), ('_replication_notify false -')$$,
    'the writer lock, the commit notifications, the subscriber guard and the history row trigger are C, with no SECURITY DEFINER and no SET clause');
SELECT is(
    (SELECT p.proconfig FROM pg_proc p
      WHERE p.oid = 'ff._history_row_trigger_general()'::regprocedure),
    ARRAY['search_path=pg_catalog, pg_temp', 'TimeZone=UTC'],
    'the general case of the history row trigger pins search_path and TimeZone itself');

-- a schema that shadows built-ins used by validation, protection and history
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$SELECT 'object'::text$$;
CREATE FUNCTION hostile.lower(text) RETURNS text LANGUAGE sql AS $$SELECT 'pwned'::text$$;
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE sql AS $$SELECT '2000-01-01'::timestamptz$$;
CREATE FUNCTION hostile.current_setting(text) RETURNS text LANGUAGE sql AS $$SELECT 'off'::text$$;
CREATE FUNCTION hostile.has_column_privilege(name, oid, text, text) RETURNS boolean LANGUAGE sql AS $$SELECT true$$;
CREATE FUNCTION hostile.pg_has_role(name, oid, text) RETURNS boolean LANGUAGE sql AS $$SELECT true$$;
CREATE FUNCTION hostile.always(text, text) RETURNS boolean LANGUAGE sql AS $$SELECT true$$;
CREATE FUNCTION hostile.never(text, text) RETURNS boolean LANGUAGE sql AS $$SELECT false$$;
CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.always);
CREATE OPERATOR hostile.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.never);
CREATE OPERATOR hostile.~ (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.always);
GRANT USAGE ON SCHEMA hostile TO PUBLIC;

-- attempts run under the hostile search_path and are recorded without
-- using any operator; they are checked afterwards under a clean one
CREATE TEMP TABLE outcome (label text, sqlstate text);
GRANT ALL ON outcome TO PUBLIC;
CREATE FUNCTION pg_temp.attempt(label text, q text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    INSERT INTO pg_temp.outcome VALUES (label, '00000');
EXCEPTION WHEN OTHERS THEN
    INSERT INTO pg_temp.outcome VALUES (label, SQLSTATE);
END;
$$;

CREATE TEMP TABLE observed (label text, value text);
GRANT ALL ON observed TO PUBLIC;
CREATE FUNCTION pg_temp.observe(label text, q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v text;
BEGIN
    EXECUTE q INTO v;
    INSERT INTO pg_temp.observed VALUES (label, v);
END;
$$;
DO $$
BEGIN
    PERFORM ff.create_flag('hostile-eval', '{"yes": "Y", "no": "N"}', 'no', targeting =>
        '{"if": [{"and": [{"==": [{"var": "plan"}, "pro"]}, {"ends_with": [{"var": "email"}, "@example.com"]},
                          {"in": [{"var": "country"}, ["DE", "FR"]]}]}, "yes", "no"]}');
END;
$$;

SET search_path = hostile, pg_catalog, ff;
SET ROLE ff_test_reader;
SELECT pg_temp.observe('pro',
    $q$SELECT ff.get_string('hostile-eval', '{"plan": "pro", "email": "a@example.com", "country": "DE"}', 'default')$q$);
SELECT pg_temp.observe('free',
    $q$SELECT ff.get_string('hostile-eval', '{"plan": "free", "email": "a@example.com", "country": "DE"}', 'default')$q$);
SELECT pg_temp.observe('elsewhere',
    $q$SELECT ff.get_string('hostile-eval', '{"plan": "pro", "email": "a@example.org", "country": "US"}', 'default')$q$);
RESET ROLE;
SET ROLE ff_test_editor;
SELECT pg_temp.attempt('editor: flag in production',
    $q$SELECT ff.create_flag('hostile-prod', environment => 'production')$q$);
SELECT pg_temp.attempt('editor: segment in production',
    $q$INSERT INTO ff.segments (environment, name) VALUES ('production', 'hostile-seg')$q$);
SELECT pg_temp.attempt('editor: array variant',
    $q$INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'hostile-array', '{"a": [1]}')$q$);
SELECT pg_temp.attempt('editor: bad key',
    $q$INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'bad key!', '{"a": 1}')$q$);
SELECT pg_temp.attempt('editor: bad default variant',
    $q$INSERT INTO ff.flags (environment, key, variants, default_variant) VALUES ('development', 'hostile-dv', '{"a": 1}', 'zzz')$q$);
SELECT pg_temp.attempt('editor: good flag',
    $q$SELECT ff.create_flag('hostile-ok', '{"x": "one", "y": "two"}', 'x')$q$);
RESET ROLE;
RESET search_path;

SELECT results_eq(
    $$SELECT label, sqlstate FROM outcome ORDER BY label$$,
    $$VALUES ('editor: array variant', '22023'), ('editor: bad default variant', '22023'),
             ('editor: bad key', '22023'), ('editor: flag in production', '42501'),
             ('editor: good flag', '00000'), ('editor: segment in production', '42501')$$,
    'a hostile search_path changes no validation or protection decision');
SELECT results_eq(
    $$SELECT label, value FROM observed ORDER BY label$$,
    $$VALUES ('elsewhere', 'N'), ('free', 'N'), ('pro', 'Y')$$,
    'a hostile search_path does not change evaluation results');
SELECT is((SELECT flag_type FROM ff.flags WHERE environment = 'development' AND key = 'hostile-ok'), 'string',
    'the flag written under a hostile search_path has the right derived type');
SELECT cmp_ok((SELECT changed_at FROM ff.versions ORDER BY version DESC LIMIT 1), '>', '2001-01-01'::timestamptz,
    'the history entry written under a hostile search_path has the real time');
SELECT is((SELECT changed_by FROM ff.versions ORDER BY version DESC LIMIT 1), 'ff_test_editor',
    'the history entry names the editor');
SELECT is((SELECT ok FROM ff.verify_history()), true, 'the history chain verifies');

SELECT * FROM finish();
ROLLBACK;
