-- feature_flags 1.7 -> 1.8 (ALTER EXTENSION feature_flags UPDATE TO '1.8')
--
-- 1.8 reads an optional member of a flagd document that is JSON null as
-- absent, as it already did for "defaultVariant" and "targeting": a flag's
-- "metadata": null is no metadata ({}), a top-level "metadata": null leaves
-- the environment's metadata alone (as when it is absent), and
-- "$evaluators": null is no shared rules.  1.7 refused such a document
-- whole ("$.metadata is a JSON null, not an object").
-- It also refuses NULL where it used to misread it: a NULL flag key or
-- segment name in the functions that name one (22004, instead of
-- "flag "<NULL>" does not exist" with a HINT to create it), a NULL
-- environment in ff.delete_environment (which did nothing and succeeded),
-- a NULL environment or role in ff.can_write_environment, a NULL state or
-- variants of a flag (23502 naming the flag, instead of the bare NOT NULL
-- error, which named flag_type for a NULL variants); and an empty bucket_by
-- in ff.set_rollout, which put every user in the same bucket.  And
-- ff.export_flagd refuses an environment whose segments reference each
-- other in a cycle, naming it, instead of recursing until "stack depth
-- limit exceeded".  ff.create_publication refuses a name longer than 63
-- bytes (PostgreSQL truncated it, and the name returned did not exist).
-- ff.remove_segment_keys refuses NULL keys as ff.add_segment_keys does, and
-- ff.copy_environment onto itself says what to do instead.
-- The leniency of a restore (ff._restoring(): check_function_bodies = off)
-- is kept for superusers and the extension's owner: any role may set that
-- setting, and an editor could store segment cycles and dangling segment
-- references with it.
-- What this script changes (same signatures, same privileges):
--   * ff.import_flagd, ff.export_flagd, ff.set_rollout, ff.delete_environment,
--     ff.can_write_environment, ff.create_publication, ff.copy_environment,
--     ff.remove_segment_keys;
--   * ff._flag_not_found, ff._segment_not_found, ff._history_rollback_entity,
--     ff._validate_flag_general, ff._restoring, ff._validate_segment;
--   * new: ff._segment_cycle (the cycle walk of ff._validate_segment, which
--     ff.export_flagd uses too).
-- No table is touched, so the update takes no lock that writers wait for.

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.8'" to load this file. \quit

-- ff._segment_cycle returns the cycle of segments that a segment whose rule
-- references refs closes -- segment, the segments on the way, segment --
-- or NULL.  The validation passes the references of a rule being written;
-- the export those of stored rules (ff._segment_refs).
CREATE FUNCTION ff._segment_cycle(environment text, segment text, refs text[])
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE walk (seg, trail) AS (
        SELECT r, ARRAY[$2, r] FROM unnest($3) AS r
        UNION ALL
        SELECT r, w.trail || r
          FROM walk AS w, unnest(ff._segment_refs($1, w.seg)) AS r
         WHERE w.seg <> $2 AND NOT r = ANY (w.trail[2:])
    )
    SELECT w.trail FROM walk AS w WHERE w.seg = $2 LIMIT 1
$$;

COMMENT ON FUNCTION ff._segment_cycle(text, text, text[]) IS
'Internal: the cycle of segments (segment ... segment) that a segment with these in_segment references closes, or NULL';

CREATE OR REPLACE FUNCTION ff.import_flagd(document jsonb, environment text DEFAULT NULL, replace boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'warning'
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(import_flagd.environment);
    flags       jsonb;
    evaluators  jsonb;
    fl          record;
    f           jsonb;
    fpath       text;
    dv          text;
    tg          jsonb;
    md          jsonb;
    set_md      jsonb;
    parsed      jsonb[] := '{}';
    written     integer := 0;
    n           integer;
BEGIN
    IF document IS NULL OR jsonb_typeof(document) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: the document is %',
            CASE WHEN document IS NULL THEN 'NULL' ELSE 'a JSON ' || jsonb_typeof(document) || ', not an object' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A flagd document is an object such as {"flags": {"my-flag": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}.';
    END IF;

    -- flags: the map form, or the flagd daemon's array form
    flags := document -> 'flags';
    IF flags IS NULL THEN
        RAISE EXCEPTION 'invalid flagd document: $.flags is missing'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The document needs a "flags" object mapping flag keys to flag definitions.';
    ELSIF jsonb_typeof(flags) = 'array' THEN
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(flags) AS a
                    WHERE jsonb_typeof(a) <> 'object' OR jsonb_typeof(a -> 'key') IS DISTINCT FROM 'string') THEN
            RAISE EXCEPTION 'invalid flagd document: $.flags is an array whose elements are not all objects with a string "key"'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use the map form {"flags": {"my-flag": {...}}}, or give every flag object a "key".';
        END IF;
        SELECT k INTO fpath FROM (SELECT a ->> 'key' AS k FROM jsonb_array_elements(flags) AS a) AS x
         GROUP BY k HAVING count(*) > 1 ORDER BY k LIMIT 1;
        IF fpath IS NOT NULL THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" is defined more than once in $.flags', fpath
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Flag keys are unique within a document.';
        END IF;
        SELECT jsonb_object_agg(a ->> 'key', a - 'key') INTO flags FROM jsonb_array_elements(flags) AS a;
        flags := COALESCE(flags, '{}');
    ELSIF jsonb_typeof(flags) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: $.flags is a JSON %, not an object', jsonb_typeof(flags)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The document needs a "flags" object mapping flag keys to flag definitions.';
    END IF;

    -- shared rules; here and below, an optional member that is JSON null is absent
    evaluators := NULLIF(document -> '$evaluators', 'null');
    IF evaluators IS NOT NULL AND jsonb_typeof(evaluators) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: $."$evaluators" is a JSON %, not an object', jsonb_typeof(evaluators)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '"$evaluators" maps names to JSON Logic rules that flags reference with {"$ref": "name"}.';
    END IF;
    -- flag-set metadata
    set_md := NULLIF(document -> 'metadata', 'null');
    IF set_md IS NOT NULL THEN
        PERFORM ff._check_metadata(set_md, 'the flag set of the document', '$.metadata');
    END IF;

    -- check the shape of every flag before writing anything
    FOR fl IN SELECT e.key, e.value FROM jsonb_each(flags) AS e ORDER BY e.key LOOP
        f := fl.value;
        fpath := ff._json_path_member('$.flags', fl.key);
        IF jsonb_typeof(f) <> 'object' THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" is a JSON %, not an object', fl.key, jsonb_typeof(f)
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.', fpath),
                      HINT = 'A flag is an object with "state", "variants" and optionally "defaultVariant", "targeting" and "metadata".';
        END IF;
        IF NOT f ? 'state' OR NOT f ? 'variants' THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has no "%"', fl.key,
                CASE WHEN NOT f ? 'state' THEN 'state' ELSE 'variants' END
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.', fpath),
                      HINT = 'Every flag needs "state" ("ENABLED" or "DISABLED") and "variants".';
        END IF;
        IF jsonb_typeof(f -> 'state') <> 'string' OR (f ->> 'state') NOT IN ('ENABLED', 'DISABLED') THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has state %', fl.key, (f -> 'state')::text
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.state.', fpath),
                      HINT = 'The state is "ENABLED" or "DISABLED".';
        END IF;
        IF f ? 'defaultVariant' AND jsonb_typeof(f -> 'defaultVariant') NOT IN ('string', 'null') THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has a defaultVariant that is a JSON %', fl.key,
                jsonb_typeof(f -> 'defaultVariant')
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.defaultVariant.', fpath),
                      HINT = 'defaultVariant is the name of a variant, or null.';
        END IF;
        dv := f ->> 'defaultVariant';
        tg := ff._flagd_resolve_refs(f -> 'targeting', evaluators, fl.key, fpath || '.targeting');
        md := COALESCE(NULLIF(f -> 'metadata', 'null'), '{}');
        -- appended in place (a jsonb array would be copied for every flag)
        parsed := array_append(parsed, jsonb_build_object(
            'key', fl.key, 'state', f -> 'state', 'variants', f -> 'variants',
            'defaultVariant', dv, 'targeting', tg, 'metadata', md));
    END LOOP;

    -- write: unchanged flags are left alone (no new version, no history)
    FOREACH f IN ARRAY parsed LOOP
        tg := f -> 'targeting';
        IF tg = 'null'::jsonb OR tg = '{}'::jsonb THEN
            tg := NULL;
        END IF;
        INSERT INTO ff.flags AS t (environment, key, state, variants, default_variant, targeting, metadata)
        VALUES (env, f ->> 'key', f ->> 'state', f -> 'variants', f ->> 'defaultVariant', tg, f -> 'metadata')
        ON CONFLICT (environment, key) DO UPDATE
           SET state = EXCLUDED.state, variants = EXCLUDED.variants,
               flag_type = CASE WHEN t.variants = EXCLUDED.variants THEN t.flag_type END,
               default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
               metadata = EXCLUDED.metadata
         WHERE (t.state, t.variants, t.default_variant, t.targeting, t.metadata)
               IS DISTINCT FROM
               (EXCLUDED.state, EXCLUDED.variants, EXCLUDED.default_variant, EXCLUDED.targeting, EXCLUDED.metadata);
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END LOOP;

    IF replace THEN
        DELETE FROM ff.flags AS t WHERE t.environment = env AND NOT flags ? t.key;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END IF;

    IF set_md IS NOT NULL THEN
        UPDATE ff.environments AS e SET metadata = set_md
         WHERE e.name = env AND e.metadata IS DISTINCT FROM set_md;
    END IF;
    RETURN written;
END;
$$;

COMMENT ON FUNCTION ff.import_flagd(jsonb, text, boolean) IS
'Loads a flagd flag-definition document into an environment atomically ($ref resolved, metadata = flag-set metadata); replace => true deletes the environment''s flags absent from the document; returns the number of flags created, changed or deleted';

CREATE OR REPLACE FUNCTION ff.can_write_environment(environment text, role_name name DEFAULT CURRENT_USER)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    allowed     name[];
BEGIN
    IF environment IS NULL OR role_name IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN environment IS NULL THEN 'environment' ELSE 'role_name' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass an environment name and a role (role_name defaults to current_user).';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = role_name) THEN
        RAISE EXCEPTION 'role "%" does not exist', role_name
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(environment) AS p;
    IF NOT FOUND THEN
        RETURN true;
    END IF;
    RETURN ff._may_write(role_name, allowed);
END;
$$;


CREATE OR REPLACE FUNCTION ff._validate_flag_general()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    label       text;
    v           record;
    vtype       text;
    names       text;
    info        record;
    res         jsonb;
    res_path    text;
    is_new      boolean := TG_OP = 'INSERT';
    moved       boolean;
    lenient     boolean;
    quiet       boolean;
    compiled    boolean := true;
    problem     text;
    err_msg     text;
    err_hint    text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.environment IS NULL OR NEW.key IS NULL THEN
        RETURN NEW;             -- the NOT NULL constraints report it
    END IF;
    moved := is_new OR NEW.environment IS DISTINCT FROM OLD.environment
             OR NEW.key IS DISTINCT FROM OLD.key;
    label := format('flag "%s" in environment "%s"', NEW.key, NEW.environment);

    IF moved THEN
        IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment) THEN
            RAISE EXCEPTION 'environment "%" does not exist', NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Flag "%s" cannot be stored in a missing environment.', NEW.key),
                      HINT = format('Create it with SELECT ff.create_environment(%L); or pick one of: %s.', NEW.environment,
                          (SELECT string_agg(format('"%s"', e.name), ', ' ORDER BY e.name) FROM ff.environments AS e));
        END IF;
        PERFORM ff._check_name('flag key', NEW.key, format(' in environment "%s"', NEW.environment));
    END IF;

    IF NEW.state IS NULL THEN
        RAISE EXCEPTION 'the state of % must not be NULL', label
            USING ERRCODE = 'not_null_violation',
                  HINT = 'The state is ''ENABLED'' or ''DISABLED'' (upper case); ff.enable_flag() and ff.disable_flag() set it.';
    END IF;
    IF NEW.state NOT IN ('ENABLED', 'DISABLED') THEN
        RAISE EXCEPTION 'invalid state "%" for %', NEW.state, label
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The problem is at $.state.',
                  HINT = 'The state is ''ENABLED'' or ''DISABLED'' (upper case); ff.enable_flag() and ff.disable_flag() set it.';
    END IF;

    -- variants and flag type
    IF is_new OR NEW.variants IS DISTINCT FROM OLD.variants
       OR NEW.flag_type IS DISTINCT FROM OLD.flag_type THEN
        IF NEW.variants IS NULL THEN
            RAISE EXCEPTION 'the variants of % must not be NULL', label
                USING ERRCODE = 'not_null_violation',
                      HINT = 'Variants map variant names to values, e.g. {"on": true, "off": false}.';
        END IF;
        IF jsonb_typeof(NEW.variants) <> 'object' THEN
            RAISE EXCEPTION 'invalid variants for %: $.variants is a JSON %, not an object', label, jsonb_typeof(NEW.variants)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Variants map variant names to values, e.g. {"on": true, "off": false}.';
        END IF;
        IF NEW.variants = '{}'::jsonb THEN
            RAISE EXCEPTION 'invalid variants for %: $.variants is empty', label
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A flag needs at least one variant, e.g. {"on": true, "off": false}.';
        END IF;
        vtype := NULL;
        FOR v IN SELECT e.key, e.value, jsonb_typeof(e.value) AS t FROM jsonb_each(NEW.variants) AS e LOOP
            IF v.key = '' THEN
                RAISE EXCEPTION 'invalid variants for %: $.variants has a variant with an empty name', label
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Give every variant a non-empty name.';
            END IF;
            IF v.t NOT IN ('boolean', 'string', 'number', 'object') THEN
                RAISE EXCEPTION 'invalid variants for %: % is a JSON %', label,
                    ff._json_path_member('$.variants', v.key), v.t
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Variant values are booleans, strings, numbers or JSON objects, all of one type (wrap an array in an object).';
            END IF;
            IF vtype IS NULL THEN
                vtype := v.t;
            ELSIF v.t <> vtype THEN
                RAISE EXCEPTION 'invalid variants for %: % is a %, but other variants are % values', label,
                    ff._json_path_member('$.variants', v.key), v.t, vtype
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'All variants of a flag have one JSON type: all boolean, all string, all number or all object.';
            END IF;
        END LOOP;

        IF NEW.flag_type IS NULL THEN
            NEW.flag_type := vtype;
        ELSIF NEW.flag_type NOT IN ('boolean', 'string', 'number', 'object') THEN
            RAISE EXCEPTION 'invalid flag_type "%" for %', NEW.flag_type, label
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'flag_type is ''boolean'', ''string'', ''number'' or ''object'', or NULL to derive it from the variants.';
        ELSIF NEW.flag_type <> vtype THEN
            RAISE EXCEPTION 'flag_type "%" of % does not match its variants, which are % values', NEW.flag_type, label, vtype
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Changing the type of a flag breaks the applications that read it with the old type.',
                      HINT = format('If the change is intended, set flag_type = %L (or NULL, to derive it) in the same statement.', vtype);
        END IF;
    END IF;

    -- default variant
    IF NEW.default_variant IS NOT NULL AND NOT NEW.variants ? NEW.default_variant THEN
        SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) INTO names FROM jsonb_object_keys(NEW.variants) AS k;
        RAISE EXCEPTION 'default variant "%" of % is not one of its variants', NEW.default_variant, label
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The problem is at $.defaultVariant; the variants are %s.', names),
                  HINT = 'Set default_variant to a variant name, or to NULL so that callers get their code default.';
    END IF;

    -- metadata
    IF is_new OR NEW.metadata IS DISTINCT FROM OLD.metadata THEN
        PERFORM ff._check_metadata(NEW.metadata, label);
    END IF;

    -- targeting: NULL, JSON null and {} all mean "no targeting"
    IF NEW.targeting IS NOT NULL AND (NEW.targeting = '{}'::jsonb OR NEW.targeting = 'null'::jsonb) THEN
        NEW.targeting := NULL;
    END IF;
    IF NEW.targeting IS NOT NULL
       AND (moved OR NEW.targeting IS DISTINCT FROM OLD.targeting OR NEW.variants IS DISTINCT FROM OLD.variants) THEN
        IF jsonb_typeof(NEW.targeting) <> 'object' THEN
            RAISE EXCEPTION 'invalid targeting for %: $.targeting is a JSON %, not a JSON Logic rule', label, jsonb_typeof(NEW.targeting)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Targeting is a JSON Logic object such as {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", "off"]}, or NULL for none.';
        END IF;
        -- ff.invalid_targeting = warning (ff.import_flagd, the copy
        -- functions, rollbacks): a rule that flagd would load but cannot
        -- evaluate (an unknown operator, a literal result that is not a
        -- variant) is stored with a WARNING; its evaluations return the
        -- caller's default with reason ERROR, as in flagd (and a malformed
        -- call of flagd's own operators: see below)
        -- A pg_dump script (ff._restoring()) loads the rows as they were
        -- stored, those stored with a WARNING included, and says nothing
        -- again (1.7; before, the COPY of ff.flags failed on such a row and
        -- a restore lost every flag).
        lenient := current_setting('ff.invalid_targeting', true) = 'warning' OR ff._restoring();
        -- an INSERT ... ON CONFLICT DO UPDATE (ff.import_flagd, the copies)
        -- of an existing flag is checked again as an UPDATE: warn once
        quiet := ff._restoring();
        IF lenient AND is_new AND NOT quiet THEN
            quiet := EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = NEW.environment AND f.key = NEW.key);
        END IF;
        -- flagd stores an unknown operator (or an unresolved $ref) and fails
        -- at evaluation.  It also stores a call of its own operators that
        -- its schema forbids (starts_with/ends_with/sem_ver arity, an
        -- unknown sem_ver operator, a literal fractional weight that is
        -- negative or not whole, an unknown $flagd property: flagd_call),
        -- and evaluates that call to null (a negative weight counts as 0).
        -- Any other schema violation (a multi-key rule object, in_segment
        -- or a standard operator of the wrong shape, too deep a rule) is
        -- refused as always, below.
        IF lenient THEN
            problem := ff._rule_compile_error(NEW.targeting);
            compiled := problem IS DISTINCT FROM 'unknown_operator';
        END IF;
        IF (NOT compiled OR problem = 'flagd_call') AND NOT quiet THEN
            BEGIN
                PERFORM ff._check_rule(NEW.targeting, format('targeting for %s', label));
            EXCEPTION WHEN invalid_parameter_value THEN
                GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT, err_hint = PG_EXCEPTION_HINT;
                RAISE WARNING '%', err_msg
                    USING DETAIL = CASE WHEN compiled
                        THEN 'The flag is stored because ff.invalid_targeting is "warning", as flagd loads it; the call evaluates as in flagd: to null, and a negative whole weight counts as 0.'
                        ELSE 'The flag is stored because ff.invalid_targeting is "warning"; its evaluations return the caller''s default with reason ERROR and error code PARSE_ERROR.'
                    END,
                          HINT = err_hint;
            END;
        END IF;
        IF compiled THEN
            info := ff._rule_info(NEW.targeting, format('targeting for %s', label),
                                  problem IS NOT DISTINCT FROM 'flagd_call');
            PERFORM ff._check_segment_refs(NEW.environment, info.segments, NEW.targeting,
                                           format('targeting for %s', label), '$.targeting');
            FOR res IN SELECT r FROM jsonb_array_elements(info.results) AS r LOOP
                IF (jsonb_typeof(res) = 'string' AND NOT NEW.variants ? (res #>> '{}'))
                   OR (jsonb_typeof(res) = 'boolean' AND NOT NEW.variants ? (res #>> '{}')) THEN
                    res_path := COALESCE(ff._rule_path_of(NEW.targeting, 'result', res, '$.targeting'), '$.targeting');
                    SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) INTO names FROM jsonb_object_keys(NEW.variants) AS k;
                    err_msg := format('targeting for %s can return %s, which is not a variant', label, res::text);
                    err_hint := CASE jsonb_typeof(res)
                        WHEN 'boolean' THEN 'A rule that returns true/false selects the variants named "true"/"false"; add them or return variant names.'
                        ELSE 'Targeting results name variants; return one of the variant names, or null for the default variant.'
                    END;
                    IF quiet THEN
                        NULL;
                    ELSIF lenient THEN
                        RAISE WARNING '%', err_msg
                            USING DETAIL = format('The result is at %s; the variants are %s. The flag is stored because ff.invalid_targeting is "warning"; an evaluation that reaches this result returns the caller''s default with reason ERROR and error code GENERAL.', res_path, names),
                                  HINT = err_hint;
                    ELSE
                        RAISE EXCEPTION '%', err_msg
                            USING ERRCODE = 'invalid_parameter_value',
                                  DETAIL = format('The result is at %s; the variants are %s.', res_path, names),
                                  HINT = err_hint;
                    END IF;
                END IF;
            END LOOP;
        END IF;
    END IF;

    RETURN NEW;
END;
$$;


CREATE OR REPLACE FUNCTION ff._flag_not_found(key text, environment text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    elsewhere   text;
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'flag key must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass the key of a flag of environment "%s"; ff.flags lists them.', environment);
    END IF;
    SELECT string_agg(format('"%s"', f.environment), ', ' ORDER BY f.environment) INTO elsewhere
      FROM ff.flags AS f WHERE f.key = _flag_not_found.key;
    IF elsewhere IS NULL THEN
        RAISE EXCEPTION 'flag "%" does not exist in environment "%"', key, environment
            USING ERRCODE = 'undefined_object',
                  HINT = format('Create it with SELECT ff.create_flag(%L);', key);
    END IF;
    RAISE EXCEPTION 'flag "%" does not exist in environment "%"', key, environment
        USING ERRCODE = 'undefined_object',
              DETAIL = format('The flag exists in environment %s.', elsewhere),
              HINT = 'Pass environment => ''name'', or copy it with ff.copy_flag().';
END;
$$;


CREATE OR REPLACE FUNCTION ff._segment_not_found(segment text, environment text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF segment IS NULL THEN
        RAISE EXCEPTION 'segment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass the name of a segment of environment "%s"; ff.segments lists them.', environment);
    END IF;
    RAISE EXCEPTION 'segment "%" does not exist in environment "%"', segment, environment
        USING ERRCODE = 'undefined_object',
              HINT = format('Create it with SELECT ff.create_segment(%L, environment => %L);', segment, environment);
END;
$$;


CREATE OR REPLACE FUNCTION ff.delete_environment(name text, force boolean DEFAULT false)
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
    IF NOT EXISTS (SELECT 1 FROM ff.environments WHERE name = env) THEN
        PERFORM ff._resolve_environment(env);      -- raises the error
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


CREATE OR REPLACE FUNCTION ff.set_rollout(key text, percentage numeric, environment text DEFAULT NULL,
                               variant text DEFAULT NULL, otherwise text DEFAULT NULL,
                               bucket_by text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(set_rollout.environment);
    flag        ff.flags := ff._flag_row(set_rollout.key, env);
    v_on        text;
    v_off       text;
    w_on        bigint;
    w_off       bigint;
    rule        jsonb;
BEGIN
    IF percentage IS NULL OR percentage < 0 OR percentage > 100 THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"',
            COALESCE(percentage::text, 'NULL'), set_rollout.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The percentage is a number from 0 to 100, with at most two decimals (e.g. 12.5).';
    END IF;
    IF percentage * 100 <> trunc(percentage * 100) THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"', percentage, set_rollout.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'fractional weights are integers, so percentages have at most two decimals.',
                  HINT = 'Round the percentage to two decimals.';
    END IF;

    v_on := COALESCE(set_rollout.variant, ff._pick_variant(flag.variants, ARRAY['on', 'true'], NULL));
    IF v_on IS NULL OR NOT flag.variants ? v_on THEN
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', set_rollout.key, env,
            CASE WHEN v_on IS NULL THEN 'it has no variant "on" or "true"'
                 ELSE format('"%s" is not one of its variants', v_on) END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the variant to roll out, e.g. variant => %L. Variants: %s.',
                      (SELECT k FROM jsonb_object_keys(flag.variants) AS k ORDER BY k LIMIT 1),
                      (SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) FROM jsonb_object_keys(flag.variants) AS k));
    END IF;
    v_off := COALESCE(otherwise, ff._pick_variant(flag.variants, ARRAY[flag.default_variant, 'off', 'false'], v_on));
    IF v_off IS NULL AND (SELECT count(*) FROM jsonb_object_keys(flag.variants)) = 2 THEN
        -- a two-variant flag: the other one
        SELECT k INTO v_off FROM jsonb_object_keys(flag.variants) AS k WHERE k <> v_on;
    END IF;
    IF v_off IS NULL OR NOT flag.variants ? v_off OR v_off = v_on THEN
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', set_rollout.key, env,
            CASE WHEN v_off IS NULL THEN format('no variant to serve outside the rollout of "%s"', v_on)
                 WHEN v_off = v_on THEN format('"otherwise" and "variant" are both "%s"', v_on)
                 ELSE format('"%s" is not one of its variants', v_off) END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the variant served to everyone else with otherwise => ''...''. Variants: %s.',
                      (SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) FROM jsonb_object_keys(flag.variants) AS k));
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
            RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": bucket_by is empty', set_rollout.key, env
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'An empty attribute name reads the whole context, which puts every user in the same bucket.',
                      HINT = 'Name the context attribute to bucket by, e.g. bucket_by => ''email'', or omit it to use targetingKey.';
        END IF;
        IF bucket_by IS NOT NULL THEN
            rule := jsonb_build_array(jsonb_build_object('cat', jsonb_build_array(
                        jsonb_build_object('var', '$flagd.flagKey'), jsonb_build_object('var', bucket_by)))) || rule;
        END IF;
        rule := jsonb_build_object('fractional', rule);
    END IF;
    RETURN ff.set_targeting(set_rollout.key, rule, env);
END;
$$;


CREATE OR REPLACE FUNCTION ff._history_rollback_entity(entity text, key text, to_version bigint, environment text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
    set_by_us   text;
BEGIN
    PERFORM ff._history_check_version(to_version);
    IF key IS NULL THEN
        RAISE EXCEPTION '% % must not be NULL', entity, CASE entity WHEN 'flag' THEN 'key' ELSE 'name' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'ff.history lists the recorded changes and their keys.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.versions AS v
                    WHERE v.entity = _history_rollback_entity.entity AND v.environment = env
                      AND v.entity_key = key) THEN
        RAISE EXCEPTION '% "%" has no history in environment "%"', entity, key, env
            USING ERRCODE = 'undefined_object',
                  HINT = pg_catalog.format('Check the %s %s and the environment; ff.history lists the recorded changes.',
                                           entity, CASE entity WHEN 'flag' THEN 'key' ELSE 'name' END);
    END IF;
    set_by_us := ff._history_with_comment(pg_catalog.format(
        'rollback of %s "%s" in environment "%s" to version %s', entity, key, env, to_version));
    IF NOT ff._history_restore(entity, env, key, to_version) THEN
        RAISE NOTICE '% "%" in environment "%" is already as of version %: nothing changed',
                     entity, key, env, to_version;
    END IF;
    IF set_by_us IS NOT NULL THEN
        PERFORM pg_catalog.set_config('ff.change_comment', '', true);
    END IF;
    RETURN ff.current_version();
END;
$$;

CREATE OR REPLACE FUNCTION ff.export_flagd(environment text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(export_flagd.environment);
    flags       jsonb := '{}';
    evaluators  jsonb := '{}';
    refs        text[] := '{}';
    fl          record;
    sub         record;
    obj         jsonb;
    seg         text;
    dangling    text[];
    cycle       text[];
BEGIN
    -- segments inline the segments they reference: a cycle (which only a
    -- restore or bypassed triggers can store) has no finite export
    SELECT c INTO cycle
      FROM ff.segments AS s, ff._segment_cycle(env, s.name, ff._segment_refs(env, s.name)) AS c
     WHERE s.environment = env AND c IS NOT NULL
     ORDER BY s.name LIMIT 1;
    IF cycle IS NOT NULL THEN
        RAISE EXCEPTION 'cannot export environment "%": its segments reference each other in a cycle', env
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The cycle is %s.', (SELECT string_agg(format('"%s"', c), ' -> ') FROM unnest(cycle) AS c)),
                  HINT = 'Break the cycle with ff.set_segment_rule(); only a restore (check_function_bodies = off in a superuser''s or the owner''s session) or bypassed triggers can store one.';
    END IF;
    -- the names of the unresolved {"$ref": name} that flags keep (stored
    -- with a WARNING, 1.7): an $evaluators entry of such a name would
    -- resolve them in the exported document, so a flag that uses a segment
    -- of such a name gets its segments inline instead
    dangling := ARRAY(SELECT DISTINCT r #>> '{}'
                        FROM ff.flags AS f, jsonb_path_query(f.targeting, 'lax $.**."$ref"') AS r
                       WHERE f.environment = env AND jsonb_typeof(r) = 'string');
    FOR fl IN SELECT * FROM ff.flags AS f WHERE f.environment = env ORDER BY f.key LOOP
        obj := jsonb_build_object('state', fl.state, 'variants', fl.variants,
                                  'defaultVariant', fl.default_variant);
        IF fl.targeting IS NOT NULL AND dangling <> '{}' AND EXISTS (
               SELECT 1 FROM jsonb_path_query(fl.targeting, 'lax $.**.in_segment') AS a
                WHERE COALESCE(a ->> 0, a #>> '{}') = ANY (dangling)) THEN
            obj := obj || jsonb_build_object('targeting',
                                             (ff._flagd_inline_segments(fl.targeting, env, NULL)).rule);
        ELSIF fl.targeting IS NOT NULL THEN
            sub := ff._flagd_inline_segments(fl.targeting, env, refs);
            refs := sub.refs;
            obj := obj || jsonb_build_object('targeting', sub.rule);
        END IF;
        IF fl.metadata <> '{}'::jsonb THEN
            obj := obj || jsonb_build_object('metadata', fl.metadata);
        END IF;
        flags := flags || jsonb_build_object(fl.key, obj);
    END LOOP;
    FOREACH seg IN ARRAY refs LOOP
        evaluators := evaluators || jsonb_build_object(seg,
            ff._segment_as_jsonlogic(env, seg, '{"var": "targetingKey"}'));
    END LOOP;
    obj := jsonb_build_object('$schema', 'https://flagd.dev/schema/v0/flags.json',
                              'metadata', (SELECT e.metadata FROM ff.environments AS e WHERE e.name = env),
                              'flags', flags);
    IF evaluators <> '{}' THEN
        obj := obj || jsonb_build_object('$evaluators', evaluators);
    END IF;
    RETURN obj;
END;
$$;

CREATE OR REPLACE FUNCTION ff.create_publication(name text DEFAULT 'ff_config')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'publication name must not be NULL or empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a name, e.g. ff.create_publication(''ff_config'').';
    END IF;
    IF pg_catalog.octet_length(name) > 63 THEN
        -- PostgreSQL would truncate it, and the name returned would not exist
        RAISE EXCEPTION 'publication name "%" is too long', name
            USING ERRCODE = 'name_too_long',
                  DETAIL = pg_catalog.format('The name is %s bytes long; PostgreSQL names are at most 63 bytes.',
                                             pg_catalog.octet_length(name)),
                  HINT = 'Choose a shorter name.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_publication AS p WHERE p.pubname = name) THEN
        RAISE EXCEPTION 'publication "%" already exists', name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Choose another name, or DROP PUBLICATION it first.';
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE PUBLICATION %I FOR TABLE ff.versions, ff.environments, ff.flags, ff.segments, ff.segment_keys',
        name);
    EXECUTE pg_catalog.format('COMMENT ON PUBLICATION %I IS %L', name,
        'feature_flags configuration and history (ff.create_publication)');
    RETURN name;
END;
$$;

CREATE OR REPLACE FUNCTION ff.copy_environment(from_environment text, to_environment text, overwrite boolean DEFAULT false)
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
    n           integer;
BEGIN
    IF dst_env IS NULL THEN
        RAISE EXCEPTION 'to_environment must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF dst_env = src_env THEN
        RAISE EXCEPTION 'cannot copy environment "%" onto itself', src_env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name another environment as to_environment; it is created when it does not exist.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.environments WHERE name = dst_env) THEN
        INSERT INTO ff.environments (name, description, metadata)
        SELECT dst_env, format('Copy of environment "%s"', src_env), e.metadata
          FROM ff.environments AS e WHERE e.name = src_env;
    ELSIF NOT overwrite THEN
        SELECT string_agg(x, ', ') INTO clash FROM (
            SELECT format('flag "%s"', f.key) AS x FROM ff.flags AS f
             WHERE f.environment = src_env
               AND EXISTS (SELECT 1 FROM ff.flags AS t WHERE t.environment = dst_env AND t.key = f.key)
            UNION ALL
            SELECT format('segment "%s"', s.name) FROM ff.segments AS s
             WHERE s.environment = src_env
               AND EXISTS (SELECT 1 FROM ff.segments AS t WHERE t.environment = dst_env AND t.name = s.name)
        ) AS c;
        IF clash IS NOT NULL THEN
            RAISE EXCEPTION 'cannot copy environment "%" into "%": both have %', src_env, dst_env, clash
                USING ERRCODE = 'unique_violation',
                      HINT = 'Pass overwrite => true to replace them with the source''s definitions.';
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


CREATE OR REPLACE FUNCTION ff.remove_segment_keys(segment text, keys text[], environment text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION ff._restoring()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN pg_catalog.current_setting('check_function_bodies') = 'off'
   AND pg_catalog.pg_has_role(CURRENT_USER,
                              (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'ff'),
                              'MEMBER');

COMMENT ON FUNCTION ff._restoring() IS
'Internal: true while check_function_bodies is off (pg_dump scripts) for a superuser or the extension''s owner; segment reference checks between rows are skipped then';

CREATE OR REPLACE FUNCTION ff._validate_segment()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    label       text;
    info        record;
    users       text;
    cycle       text[];
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (NEW.name IS DISTINCT FROM OLD.name
                                                  OR NEW.environment IS DISTINCT FROM OLD.environment)) THEN
        SELECT string_agg(format('%s "%s"', u.kind, u.name), ', ') INTO users
          FROM ff._segment_users(OLD.environment, OLD.name) AS u;
        IF users IS NOT NULL THEN
            RAISE EXCEPTION 'cannot % segment "%" in environment "%": it is still used',
                CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'rename or move' END, OLD.name, OLD.environment
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = format('Referenced with in_segment by %s.', users),
                      HINT = 'Remove the in_segment references first (ff.set_targeting, ff.set_segment_rule).';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
    END IF;
    IF NEW.environment IS NULL OR NEW.name IS NULL THEN
        RETURN NEW;
    END IF;
    label := format('segment "%s" in environment "%s"', NEW.name, NEW.environment);

    IF TG_OP = 'INSERT' OR NEW.environment IS DISTINCT FROM OLD.environment OR NEW.name IS DISTINCT FROM OLD.name THEN
        IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment) THEN
            RAISE EXCEPTION 'environment "%" does not exist', NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Segment "%s" cannot be stored in a missing environment.', NEW.name),
                      HINT = format('Create it with SELECT ff.create_environment(%L);', NEW.environment);
        END IF;
        PERFORM ff._check_name('segment name', NEW.name, format(' in environment "%s"', NEW.environment));
    END IF;

    IF NEW.rule IS NOT NULL AND (NEW.rule = '{}'::jsonb OR NEW.rule = 'null'::jsonb) THEN
        NEW.rule := NULL;
    END IF;
    IF NEW.rule IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.rule IS DISTINCT FROM OLD.rule
                                 OR NEW.environment IS DISTINCT FROM OLD.environment
                                 OR NEW.name IS DISTINCT FROM OLD.name) THEN
        IF jsonb_typeof(NEW.rule) <> 'object' THEN
            RAISE EXCEPTION 'invalid rule for %: $.rule is a JSON %, not a JSON Logic rule', label, jsonb_typeof(NEW.rule)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A segment rule is a JSON Logic object that is truthy for members, e.g. {"==": [{"var": "plan"}, "pro"]}.';
        END IF;
        info := ff._rule_info(NEW.rule, format('rule of %s', label));
        IF NEW.name = ANY (info.segments) THEN
            RAISE EXCEPTION 'rule of % references the segment itself', label
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('The reference is at %s.',
                          COALESCE(ff._rule_path_of(NEW.rule, 'segment', to_jsonb(NEW.name), '$.rule'), '$.rule')),
                      HINT = 'Segments may reference other segments, but not in a cycle.';
        END IF;
        PERFORM ff._check_segment_refs(NEW.environment, info.segments, NEW.rule, format('rule of %s', label), '$.rule');

        cycle := ff._segment_cycle(NEW.environment, NEW.name, info.segments);
        IF cycle IS NOT NULL AND NOT ff._restoring() THEN
            RAISE EXCEPTION 'rule of % would create a cycle of segments', label
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('The cycle is %s.',
                          (SELECT string_agg(format('"%s"', c), ' -> ') FROM unnest(cycle) AS c)),
                      HINT = 'Segments may reference other segments, but not in a cycle.';
        END IF;
    END IF;

    RETURN NEW;
END;
$$;
