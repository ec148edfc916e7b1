-- feature_flags 1.12 -> 1.13 (ALTER EXTENSION feature_flags UPDATE TO '1.13')
--
-- 1.13 changes no table and no existing signature.  It adds point-in-time
-- evaluation from the history, and draft evaluation:
--   * ff.evaluate_at(flag_key, context, at_time, default_value, environment)
--     and ff.evaluate_at_version(flag_key, context, at_version, ...): the
--     evaluation details of a flag as it was then, with its environment's
--     metadata and the segments it uses (rules and key lists) as of that
--     version; ff.version_at(at_time), the version at a time;
--   * ff.evaluate_draft(flag_key, context, draft, default_value,
--     environment) (C): what ff.evaluate would answer if a draft of the flag
--     (a flagd flag object over the stored one) were saved, and
--     ff.evaluate_draft_row, the same with a table row as the context;
--   * the point-in-time internals ff._evaluate_image (C, the 1.13 library),
--     ff._history_state_at (a row as of a version, also one that predates
--     its first recorded change) and ff._history_key_at (one key of a
--     segment's key list as of a version);
--   * the editor recipe (ff._recipe_functions) includes the new functions;
--     roles given a recipe before the update get them by running
--     ff.grant_editor (or ff.grant_admin) again (see the README).

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.13'" to load this file. \quit

-- ---------------------------------------------------------------------
-- Point-in-time evaluation (1.13): what a flag answered for a context at
-- a past version or time, from the history alone -- the flag's row image,
-- its environment's metadata, and the segments its rule uses (rules and
-- key lists) as they were then.
-- ---------------------------------------------------------------------

-- ff._history_state_at: the row image of an environment, flag or segment as of a version (NULL: it
--   did not exist then).  Unlike ff._history_image_at, it also knows the rows that were there
--   before their first recorded change -- the environment the installation creates, rows written
--   with the history triggers disabled: the first change after the version found them as its
--   before image, and a row never changed since is as it is now (1.13)
CREATE FUNCTION ff._history_state_at(entity text, environment text, entity_key text, at_version bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    op          text;
    image       jsonb;
BEGIN
    SELECT l.operation, l.after INTO op, image
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version <= $4
     ORDER BY l.version DESC
     LIMIT 1;
    IF FOUND THEN
        RETURN CASE WHEN op = 'DELETE' THEN NULL ELSE image END;
    END IF;
    SELECT l.operation, l.before INTO op, image
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version > $4
     ORDER BY l.version
     LIMIT 1;
    IF FOUND THEN
        RETURN CASE WHEN op = 'INSERT' THEN NULL ELSE image END;
    END IF;
    EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t WHERE %s',
                              ff._history_table(entity),
                              CASE entity WHEN 'environment' THEN 't.name = $2'
                                          WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                          ELSE 't.environment = $1 AND t.name = $2' END)
       INTO image USING environment, entity_key;
    RETURN image;
END;
$$;
COMMENT ON FUNCTION ff._history_state_at(text, text, text, bigint) IS
    'Internal: the row image of an entity as of a version (NULL: it did not exist then), also for rows that predate their first recorded change';

-- ff._history_key_at: whether a targeting key was on a segment's exclude list (true), its include
--   list (false) or neither (NULL) as of a version, from the KEYS deltas (1.13: one key of
--   ff._history_keys_at, for point-in-time evaluation)
CREATE FUNCTION ff._history_key_at(environment text, segment text, targeting_key text, at_version bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH since AS MATERIALIZED (
        SELECT coalesce(pg_catalog.max(l.version), 0) AS v
          FROM ff.versions AS l
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.version <= $4
           AND (l.operation = 'DELETE' OR (l.operation = 'KEYS' AND l.delta ? 'cleared')))
    SELECT CASE WHEN l.delta -> 'include' ? $3 THEN false
                WHEN l.delta -> 'exclude' ? $3 THEN true END
      FROM ff.versions AS l
      CROSS JOIN since
     WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
       AND l.operation = 'KEYS' AND l.version > since.v AND l.version <= $4
       AND (l.delta -> 'include' ? $3 OR l.delta -> 'exclude' ? $3 OR l.delta -> 'remove' ? $3)
     ORDER BY l.version DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION ff._history_key_at(text, text, text, bigint) IS
    'Internal: whether a targeting key was on a segment''s exclude list (true), include list (false) or neither (NULL) as of a version';

-- ff._evaluate_image: evaluates a flag from the row images of the flag and its environment as of
--   a version, reading the segments it uses as of that version (C; the body of ff.evaluate_at and
--   ff.evaluate_at_version)
CREATE FUNCTION ff._evaluate_image(flag_key text, context jsonb, default_value jsonb, environment text,
                                   at_version bigint, at_time timestamptz, flag_image jsonb,
                                   environment_image jsonb)
RETURNS ff.evaluation_details
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'ff_evaluate_image';
COMMENT ON FUNCTION ff._evaluate_image(text, jsonb, jsonb, text, bigint, timestamptz, jsonb, jsonb) IS
    'Internal: evaluates a flag from its and its environment''s row images as of a version, with the segments as of that version';
REVOKE ALL ON FUNCTION ff._evaluate_image(text, jsonb, jsonb, text, bigint, timestamptz, jsonb, jsonb) FROM PUBLIC;

-- ff.version_at: the configuration version at a time: the last version whose transaction had
--   started by then (changed_at), 0 before the first
CREATE FUNCTION ff.version_at(at_time timestamptz)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found       bigint;
BEGIN
    IF at_time IS NULL THEN
        RAISE EXCEPTION 'at_time must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a time, for example SELECT ff.version_at(now() - interval ''1 day'');';
    END IF;
    -- walks the history back from its end: the cost grows with the versions after at_time
    SELECT v.version INTO found
      FROM ff.versions AS v
     WHERE v.changed_at <= at_time
     ORDER BY v.version DESC
     LIMIT 1;
    RETURN coalesce(found, 0);
END;
$$;
COMMENT ON FUNCTION ff.version_at(timestamptz) IS
    'The configuration version at a time: the last version whose transaction had started by then (changed_at), 0 before the first';
REVOKE ALL ON FUNCTION ff.version_at(timestamptz) FROM PUBLIC;

-- ff.evaluate_at_version: a flag's evaluation details for a context as of a version: the flag, its
--   environment's metadata and the segments it uses as they were then; $flagd.timestamp is now
CREATE FUNCTION ff.evaluate_at_version(flag_key text, context jsonb, at_version bigint,
                                       default_value jsonb DEFAULT NULL, environment text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
    cur         bigint := ff.current_version();
BEGIN
    IF at_version IS NULL THEN
        RAISE EXCEPTION 'at_version must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions; ff.evaluate_at takes a time instead.';
    END IF;
    IF at_version < 0 OR at_version > cur THEN
        RAISE EXCEPTION 'version % does not exist', at_version
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Versions run from 0 (before the first recorded change) to %s.', cur),
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions.';
    END IF;
    RETURN ff._evaluate_image(flag_key, context, default_value, env, at_version, NULL,
                              ff._history_state_at('flag', env, flag_key, at_version),
                              ff._history_state_at('environment', env, env, at_version));
END;
$$;
COMMENT ON FUNCTION ff.evaluate_at_version(text, jsonb, bigint, jsonb, text) IS
    'Evaluation details of a flag for a context as of a version of the history (the flag, its environment and its segments as they were then)';
REVOKE ALL ON FUNCTION ff.evaluate_at_version(text, jsonb, bigint, jsonb, text) FROM PUBLIC;

-- ff.evaluate_at: a flag's evaluation details for a context at a time: as of ff.version_at(at_time),
--   with $flagd.timestamp = at_time
CREATE FUNCTION ff.evaluate_at(flag_key text, context jsonb, at_time timestamptz,
                               default_value jsonb DEFAULT NULL, environment text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
    v           bigint;
BEGIN
    IF at_time IS NULL THEN
        RAISE EXCEPTION 'at_time must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a time, for example now() - interval ''1 day''; ff.evaluate_at_version takes a version instead.';
    END IF;
    v := ff.version_at(at_time);
    RETURN ff._evaluate_image(flag_key, context, default_value, env, v, at_time,
                              ff._history_state_at('flag', env, flag_key, v),
                              ff._history_state_at('environment', env, env, v));
END;
$$;
COMMENT ON FUNCTION ff.evaluate_at(text, jsonb, timestamptz, jsonb, text) IS
    'Evaluation details of a flag for a context at a time (as of ff.version_at(at_time); $flagd.timestamp is at_time)';
REVOKE ALL ON FUNCTION ff.evaluate_at(text, jsonb, timestamptz, jsonb, text) FROM PUBLIC;

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
               'current_version']
           WHEN 'editor' THEN ARRAY[
               'create_flag', 'set_targeting', 'set_default_variant', 'enable_flag', 'disable_flag',
               '_set_state', 'set_rollout', 'copy_flag', '_copy_segments', 'delete_flag',
               'create_segment', 'set_segment_rule', 'delete_segment', 'add_segment_keys',
               'remove_segment_keys', 'import_flagd', 'export_flagd', 'can_write_environment',
               'changes_since', 'verify_history', 'comment_change', 'rollback_flag', 'rollback_segment',
               'version_at', 'evaluate_at', 'evaluate_at_version', '_evaluate_image',
               'evaluate_draft', 'evaluate_draft_row']
           WHEN 'admin' THEN ARRAY[
               'create_environment', 'set_default_environment', 'delete_environment',
               'copy_environment', 'rollback_environment', 'protect_environment',
               'unprotect_environment']
       END::pg_catalog.name[])
     ORDER BY p.proname, p.oid::pg_catalog.regprocedure::pg_catalog.text
$$;
