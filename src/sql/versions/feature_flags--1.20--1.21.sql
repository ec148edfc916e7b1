-- feature_flags 1.20 -> 1.21
--
-- * ff._row_support (C): planner support function of the row getters; a
--   call whose row is a whole-row reference to a table of the query (no
--   outer join can null it) becomes a call of the getter's _cols function
--   with the table's columns, so that no composite value is formed per row.
-- * ff._evaluate_row_cols, ff._get_bool_row_cols, ff._get_string_row_cols,
--   ff._get_int_row_cols, ff._get_float_row_cols, ff._get_object_row_cols
--   (C, the getters' entry points): the calls the planner writes.
-- * ff._recipe_functions: the reader level also grants the _cols functions.
\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.21'" to load this file. \quit

CREATE FUNCTION ff._row_support(pg_catalog.internal)
RETURNS pg_catalog.internal
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'ff_row_support';
COMMENT ON FUNCTION ff._row_support(pg_catalog.internal) IS
    'Internal: planner support function of the row getters; rewrites a call over a table''s whole row into its _cols function with the columns';
REVOKE ALL ON FUNCTION ff._row_support(pg_catalog.internal) FROM PUBLIC;

CREATE FUNCTION ff._evaluate_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    default_value   pg_catalog.jsonb,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate';
COMMENT ON FUNCTION ff._evaluate_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.evaluate_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_bool_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.bool,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.bool
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_bool';
COMMENT ON FUNCTION ff._get_bool_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.bool, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_bool_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_string_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.text,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.text
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_string';
COMMENT ON FUNCTION ff._get_string_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.text, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_string_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_int_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.int8,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.int8
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_int';
COMMENT ON FUNCTION ff._get_int_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.int8, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_int_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_float_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.float8,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.float8
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_float';
COMMENT ON FUNCTION ff._get_float_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.float8, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_float_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_object_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.jsonb,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.jsonb
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_object';
COMMENT ON FUNCTION ff._get_object_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_object_row with the row as columns, written by the planner (ff._row_support)';

ALTER FUNCTION ff.evaluate_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.text) SUPPORT ff._row_support;
ALTER FUNCTION ff.get_bool_row(pg_catalog.text, anyelement, pg_catalog.bool, pg_catalog.text) SUPPORT ff._row_support;
ALTER FUNCTION ff.get_string_row(pg_catalog.text, anyelement, pg_catalog.text, pg_catalog.text) SUPPORT ff._row_support;
ALTER FUNCTION ff.get_int_row(pg_catalog.text, anyelement, pg_catalog.int8, pg_catalog.text) SUPPORT ff._row_support;
ALTER FUNCTION ff.get_float_row(pg_catalog.text, anyelement, pg_catalog.float8, pg_catalog.text) SUPPORT ff._row_support;
ALTER FUNCTION ff.get_object_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.text) SUPPORT ff._row_support;

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
