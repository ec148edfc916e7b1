-- ---------------------------------------------------------------------
-- Evaluation (src/ff_evaluate.c, src/ff_cache.c, src/ff_jsonb.c)
--
-- Flags are evaluated in C from a per-backend cache of compiled flags.
-- The cache is invalidated by the statement triggers below and rebuilt
-- lazily; evaluation reflects the latest committed configuration (plus
-- the current transaction's own changes), like catalog lookups do, and
-- one statement always evaluates against one configuration version.
-- ---------------------------------------------------------------------

CREATE TYPE ff.evaluation_details AS (
    flag_key        text,
    value           jsonb,
    variant         text,
    reason          text,
    error_code      text,
    error_message   text,
    flag_metadata   jsonb
);
COMMENT ON TYPE ff.evaluation_details IS
    'OpenFeature evaluation details returned by ff.evaluate()';
COMMENT ON COLUMN ff.evaluation_details.flag_key IS 'The flag key that was asked for';
COMMENT ON COLUMN ff.evaluation_details.value IS
    'The variant''s value, or the caller''s default (DISABLED, DEFAULT without a default variant, every ERROR)';
COMMENT ON COLUMN ff.evaluation_details.variant IS 'Name of the chosen variant; NULL when the caller''s default is returned';
COMMENT ON COLUMN ff.evaluation_details.reason IS 'STATIC, DEFAULT, TARGETING_MATCH, DISABLED or ERROR';
COMMENT ON COLUMN ff.evaluation_details.error_code IS
    'FLAG_NOT_FOUND, PARSE_ERROR, TYPE_MISMATCH, GENERAL or INVALID_CONTEXT when reason is ERROR, else NULL';
COMMENT ON COLUMN ff.evaluation_details.error_message IS 'Human-readable description of the error, else NULL';
COMMENT ON COLUMN ff.evaluation_details.flag_metadata IS
    'Environment metadata overlaid by the flag''s metadata (null members dropped)';

-- the cache invalidation trigger ----------------------------------------

-- A change to the configuration invalidates the relcache entry of this
-- empty table, not of the changed table: every backend's evaluation cache
-- watches it, and ff.flags keeps its relcache entry and cached plans.
CREATE TABLE ff._cache_signal ();
COMMENT ON TABLE ff._cache_signal IS
    'Internal, always empty: its relcache invalidation at commit tells every backend (and hot standbys) to rebuild the evaluation cache';
REVOKE ALL ON TABLE ff._cache_signal FROM PUBLIC;

-- A change to ff.segment_keys invalidates this one instead (1.20): it tells
-- every backend that segment key lists changed too, so that a backend keeps
-- its loaded key lists across the other changes.
CREATE TABLE ff._cache_signal_keys ();
COMMENT ON TABLE ff._cache_signal_keys IS
    'Internal, always empty: its relcache invalidation at commit tells every backend (and hot standbys) to rebuild the evaluation cache and reload segment key lists';
REVOKE ALL ON TABLE ff._cache_signal_keys FROM PUBLIC;

CREATE FUNCTION ff.invalidate_cache()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_invalidate_cache';
COMMENT ON FUNCTION ff.invalidate_cache() IS
    'Statement trigger: invalidates every backend''s evaluation cache when configuration changes (at commit for other sessions)';
REVOKE ALL ON FUNCTION ff.invalidate_cache() FROM PUBLIC;

CREATE TRIGGER ff_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();

-- flag evaluation ----------------------------------------------------------

CREATE FUNCTION ff.evaluate(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb DEFAULT '{}'::pg_catalog.jsonb,
    default_value   pg_catalog.jsonb DEFAULT NULL,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate';
COMMENT ON FUNCTION ff.evaluate(pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) IS
    'Evaluate a flag for an evaluation context and return OpenFeature evaluation details; never raises for flag problems';

-- ff.evaluate_draft (1.13): what ff.evaluate would answer if a draft of the flag were saved: the
--   draft is a flagd flag object (state, variants, defaultVariant, targeting, metadata; members
--   left out are the stored flag's), evaluated with the environment's segments as they are now.
--   Not PUBLIC's: a draft can test any segment for any key.
CREATE FUNCTION ff.evaluate_draft(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    draft           pg_catalog.jsonb,
    default_value   pg_catalog.jsonb DEFAULT NULL,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate_draft';
COMMENT ON FUNCTION ff.evaluate_draft(pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) IS
    'What ff.evaluate would answer if a draft of the flag (a flagd flag object; members left out are the stored flag''s) were saved';
REVOKE ALL ON FUNCTION ff.evaluate_draft(pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) FROM PUBLIC;

-- ff.evaluate_draft_row (1.13): ff.evaluate_draft with a table row as the context (attributes by name)
CREATE FUNCTION ff.evaluate_draft_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    draft           pg_catalog.jsonb,
    default_value   pg_catalog.jsonb DEFAULT NULL,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate_draft';
COMMENT ON FUNCTION ff.evaluate_draft_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) IS
    'ff.evaluate_draft with a table row as the context (attributes by name)';
REVOKE ALL ON FUNCTION ff.evaluate_draft_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) FROM PUBLIC;

CREATE FUNCTION ff.get_bool(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.bool,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_bool';
COMMENT ON FUNCTION ff.get_bool(pg_catalog.text, pg_catalog.jsonb, pg_catalog.bool, pg_catalog.text) IS
    'Value of a boolean flag for a context, or the given default on any problem';

CREATE FUNCTION ff.get_string(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.text,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.text
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_string';
COMMENT ON FUNCTION ff.get_string(pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text) IS
    'Value of a string flag for a context, or the given default on any problem';

CREATE FUNCTION ff.get_int(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.int8,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_int';
COMMENT ON FUNCTION ff.get_int(pg_catalog.text, pg_catalog.jsonb, pg_catalog.int8, pg_catalog.text) IS
    'Whole value of a number flag for a context, or the given default on any problem (including a fractional value)';

CREATE FUNCTION ff.get_float(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.float8,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.float8
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_float';
COMMENT ON FUNCTION ff.get_float(pg_catalog.text, pg_catalog.jsonb, pg_catalog.float8, pg_catalog.text) IS
    'Value of a number flag for a context, or the given default on any problem';

CREATE FUNCTION ff.get_object(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.jsonb,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.jsonb
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_object';
COMMENT ON FUNCTION ff.get_object(pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) IS
    'Value of an object flag for a context, or the given default on any problem';

CREATE FUNCTION ff.evaluate_all(
    context         pg_catalog.jsonb DEFAULT '{}'::pg_catalog.jsonb,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.jsonb
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate_all';
COMMENT ON FUNCTION ff.evaluate_all(pg_catalog.jsonb, pg_catalog.text) IS
    'Value, variant and reason of every flag of an environment for one context (client bootstrap)';

-- JSON Logic and rule checking ---------------------------------------------

CREATE FUNCTION ff.json_logic(
    rule            pg_catalog.jsonb,
    data            pg_catalog.jsonb DEFAULT '{}'::pg_catalog.jsonb)
RETURNS pg_catalog.jsonb
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_json_logic';
COMMENT ON FUNCTION ff.json_logic(pg_catalog.jsonb, pg_catalog.jsonb) IS
    'Apply a JSON Logic rule (with flagd''s fractional, sem_ver, starts_with, ends_with) to data';

CREATE OR REPLACE FUNCTION ff._check_rule(
    rule            pg_catalog.jsonb,
    label           pg_catalog.text)
RETURNS pg_catalog.jsonb
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_check_rule';
COMMENT ON FUNCTION ff._check_rule(pg_catalog.jsonb, pg_catalog.text) IS
    'Internal: compile a targeting or segment rule; raise an error naming label if invalid, else return its segments and literal results';

-- ff._check_rule with flagd = true (1.7) compiles a flag rule as flagd
-- loads it: a call of flagd's own operators that flagd's schema forbids
-- (ff._rule_compile_error says flagd_call) is accepted, and evaluates to
-- null as in flagd.
CREATE FUNCTION ff._check_rule(
    rule            pg_catalog.jsonb,
    label           pg_catalog.text,
    flagd           pg_catalog.bool)
RETURNS pg_catalog.jsonb
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_check_rule';
COMMENT ON FUNCTION ff._check_rule(pg_catalog.jsonb, pg_catalog.text, pg_catalog.bool) IS
    'Internal: ff._check_rule(rule, label), compiling a flag rule as flagd loads it when flagd is true';

CREATE FUNCTION ff._rule_compile_error(rule pg_catalog.jsonb)
RETURNS pg_catalog.text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_rule_compile_error';
COMMENT ON FUNCTION ff._rule_compile_error(pg_catalog.jsonb) IS
    'Internal: why a flag rule does not compile (unknown_operator, flagd_call, bad_arguments, too_deep, too_large), or NULL; never raises';

-- bucketing and diagnostics ------------------------------------------------

CREATE FUNCTION ff.bucket(
    value           pg_catalog.text,
    salt            pg_catalog.text DEFAULT '',
    buckets         pg_catalog.int4 DEFAULT 100)
RETURNS pg_catalog.int4
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_bucket';
COMMENT ON FUNCTION ff.bucket(pg_catalog.text, pg_catalog.text, pg_catalog.int4) IS
    'Stable bucket in [0, buckets) of value: (XXH3_64bits_withSeed(value, XXH3_64bits(salt)) * buckets) >> 64';

CREATE FUNCTION ff.cache_info(
    OUT rebuilds        pg_catalog.int8,
    OUT generation      pg_catalog.int8,
    OUT valid           pg_catalog.bool,
    OUT environments    pg_catalog.int4,
    OUT flags           pg_catalog.int4,
    OUT compiled_flags  pg_catalog.int4,
    OUT segments        pg_catalog.int4,
    OUT segment_keys    pg_catalog.int8,
    OUT memory_bytes    pg_catalog.int8,
    OUT segment_loads   pg_catalog.int8,
    OUT kept_segments   pg_catalog.int4,
    OUT kept_segment_keys pg_catalog.int8)
RETURNS record
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ff_cache_info';
COMMENT ON FUNCTION ff.cache_info() IS
    'State of this backend''s evaluation cache: rebuild count, current generation, validity, what is loaded, bytes used, segment key lists read and kept across changes';

-- a table row as the context ----------------------------------------------
--
-- The same evaluation with a row (any composite value) as the context:
-- attributes are read by name straight from the tuple.  These cannot be
-- overloads of ff.evaluate/ff.get_*: with an untyped literal context such
-- as '{}' an anyelement overload would make every existing call ambiguous.
--
-- (1.21) A call whose row is a table of the query, such as
-- ff.get_bool_row('f', u, false) ... FROM users AS u, is rewritten by the
-- planner (support function ff._row_support) into a call of the getter's
-- _cols function with the table's columns as arguments, so that no
-- composite value is formed per row (src/ff_rowplan.c).  A _cols function
-- shares its getter's C entry point, and checks that the caller may
-- execute the getter that its second argument names.

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

CREATE FUNCTION ff.evaluate_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    default_value   pg_catalog.jsonb DEFAULT NULL,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_evaluate';
COMMENT ON FUNCTION ff.evaluate_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.text) IS
    'Evaluate a flag with a table row as the context (attributes by name) and return OpenFeature evaluation details';

CREATE FUNCTION ff.get_bool_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.bool,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_bool';
COMMENT ON FUNCTION ff.get_bool_row(pg_catalog.text, anyelement, pg_catalog.bool, pg_catalog.text) IS
    'Value of a boolean flag with a table row as the context, or the given default on any problem';

CREATE FUNCTION ff.get_string_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.text,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.text
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_string';
COMMENT ON FUNCTION ff.get_string_row(pg_catalog.text, anyelement, pg_catalog.text, pg_catalog.text) IS
    'Value of a string flag with a table row as the context, or the given default on any problem';

CREATE FUNCTION ff.get_int_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.int8,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_int';
COMMENT ON FUNCTION ff.get_int_row(pg_catalog.text, anyelement, pg_catalog.int8, pg_catalog.text) IS
    'Whole value of a number flag with a table row as the context, or the given default on any problem';

CREATE FUNCTION ff.get_float_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.float8,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.float8
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_float';
COMMENT ON FUNCTION ff.get_float_row(pg_catalog.text, anyelement, pg_catalog.float8, pg_catalog.text) IS
    'Value of a number flag with a table row as the context, or the given default on any problem';

CREATE FUNCTION ff.get_object_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.jsonb,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.jsonb
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_object';
COMMENT ON FUNCTION ff.get_object_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.text) IS
    'Value of an object flag with a table row as the context, or the given default on any problem';
