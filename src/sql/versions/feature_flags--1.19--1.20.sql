-- feature_flags 1.19 -> 1.20 (ALTER EXTENSION feature_flags UPDATE TO '1.20')
--
-- 1.20 adds one internal table, ff._cache_signal_keys: a change to
-- ff.segment_keys invalidates it instead of ff._cache_signal, so that a
-- backend can tell a change of a segment's key list from the other
-- configuration changes, and keeps the key lists it loaded across those;
-- ff.cache_info() gains three columns (segment_loads, kept_segments,
-- kept_segment_keys) that show it.  ff.privilege_recipe gives the editor
-- level SELECT on the sequences of ff (pg_dump by an editor or admin failed
-- on them) and refuses "public" as the grantee (its GRANTs went to every
-- role).
-- The 1.20 library (key lists kept across changes; a large segment read
-- with a sequential scan of ff.segment_keys) serves every earlier version
-- as well: without this table, every change reloads the key lists, as
-- before.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.20'" to load this file. \quit

CREATE TABLE ff._cache_signal_keys ();
COMMENT ON TABLE ff._cache_signal_keys IS
    'Internal, always empty: its relcache invalidation at commit tells every backend (and hot standbys) to rebuild the evaluation cache and reload segment key lists';
REVOKE ALL ON TABLE ff._cache_signal_keys FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('ff._cache_signal_keys', 'WHERE false');

-- ff.cache_info: three more columns (1.20); its OUT columns change, so it is
-- made anew (EXECUTE stays with PUBLIC, as before)
DROP FUNCTION ff.cache_info();
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
        RAISE EXCEPTION 'grantee must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
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
