-- feature_flags 1.2 -> 1.3 (ALTER EXTENSION feature_flags UPDATE TO '1.3')
--
-- 1.3 makes every configuration change cheaper again; no configuration or
-- history row changes.  What changes:
--   * the CHECK constraints flags_state_check and flags_type_check of
--     ff.flags call the C functions ff._is_flag_state(text) and
--     ff._is_flag_type(text) instead of comparing with a list of constants:
--     PostgreSQL reads a CHECK back from its stored form and plans it for
--     every statement that writes the table, and the lists cost several
--     times more there.  They accept exactly the same values;
--   * ff._history_row_trigger (the trigger ff_90_history) stops being
--     SECURITY DEFINER with SET search_path and SET TimeZone: it runs as the
--     caller, renders timestamps in UTC itself, and acts as the extension's
--     owner only to append the version and to call
--     ff._history_row_trigger_general() (src/ff_history.c).
-- The 1.3 library also works with a database still at 1.0, 1.1 or 1.2:
-- there the trigger keeps its SECURITY DEFINER behaviour and the
-- constraints their lists until this update.
\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.3'" to load this file. \quit

CREATE FUNCTION ff._is_flag_state(state text)
RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_is_flag_state';
COMMENT ON FUNCTION ff._is_flag_state(text) IS
    'Internal: CHECK constraint flags_state_check: state is ''ENABLED'' or ''DISABLED''';

CREATE FUNCTION ff._is_flag_type(flag_type text)
RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_is_flag_type';
COMMENT ON FUNCTION ff._is_flag_type(text) IS
    'Internal: CHECK constraint flags_type_check: flag_type is ''boolean'', ''string'', ''number'' or ''object''';

-- one ALTER TABLE: the table is scanned once to validate both
ALTER TABLE ff.flags
    DROP CONSTRAINT flags_state_check,
    DROP CONSTRAINT flags_type_check,
    ADD CONSTRAINT flags_state_check CHECK (ff._is_flag_state(state)),
    ADD CONSTRAINT flags_type_check CHECK (ff._is_flag_type(flag_type));
COMMENT ON CONSTRAINT flags_state_check ON ff.flags IS 'state is ''ENABLED'' or ''DISABLED''';
COMMENT ON CONSTRAINT flags_type_check ON ff.flags IS 'flag_type is ''boolean'', ''string'', ''number'' or ''object''';

ALTER FUNCTION ff._history_row_trigger() SECURITY INVOKER RESET ALL;
