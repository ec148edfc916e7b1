-- feature_flags 1.10 -> 1.11 (ALTER EXTENSION feature_flags UPDATE TO '1.11')
--
-- 1.11 changes no table and no signature.  It adds "Perhaps you meant" to
-- the HINT of every error about a missing flag, segment or environment,
-- naming the existing name closest to the one given (a Levenshtein
-- distance of at most a third of its length, and at most 5):
--   * new: ff._closest_name(name, candidates) (C) and
--     ff._perhaps_you_meant(name, candidates), both pure;
--   * replaced: ff._resolve_environment, ff._flag_not_found,
--     ff._segment_not_found (the administration functions),
--     ff._check_segment_refs (in_segment references in rules), and the
--     validation triggers' functions ff._validate_flag_general,
--     ff._validate_segment and ff._validate_segment_key (raw INSERT and
--     UPDATE naming a missing environment or segment), and
--     ff._history_rollback_entity (a rollback of a flag or segment that
--     has no history suggests one that has).
-- Privileges (found by an audit of the README): the internal helpers that
-- write, ff._history_rollback_entity, ff._history_restore and
-- ff._history_write_image, keep PUBLIC's EXECUTE (the rollback functions
-- call them with the caller's rights, and roles granted rollback before
-- 1.11 must keep it) but refuse a caller who may not run the rollback
-- function they serve: new ff._history_check_rollback.
-- flagd documents (found by an audit of import and export):
--   * ff.export_flagd builds the document in one aggregate (a jsonb grown
--     flag by flag made it quadratic: 130 s for 10,000 flags), and writes
--     a rule stored with a WARNING (unknown operator, unresolved $ref) as
--     written (one naming a missing segment made the whole export fail);
--   * ff.copy_flag copies only the referenced segments that exist (the
--     same rules made it fail);
--   * ff.import_flagd warns when a document changes a flag's type;
--   * ff._flagd_resolve_refs (import) and ff._flagd_inline_segments
--     (export) build arrays in one step (quadratic in an array's length:
--     8 s for 8,000 $refs in one array);
--   * variant values nested deeper than evaluation can convert (10,000
--     levels) are refused by direct writes and stored with a WARNING by
--     imports, copies and rollbacks (new ff._jsonb_depth_exceeds, C).
-- The 1.11 library also adds the suggestion to ff.evaluate's error_message
-- for FLAG_NOT_FOUND, in every installed version.
-- Same signatures, same privileges; nothing to wait for.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.11'" to load this file. \quit

-- ff._check_segment_refs gains an argument, the segment whose rule it
-- checks (that segment is never suggested); its callers are replaced below
DROP FUNCTION ff._check_segment_refs(text, text[], jsonb, text, text);

-- ff._jsonb_depth_exceeds tells whether a jsonb value nests more than
-- max_depth containers, without converting it (1.11: the validation of
-- variant values).
CREATE OR REPLACE FUNCTION ff._jsonb_depth_exceeds(value jsonb, max_depth integer)
RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_jsonb_depth_exceeds';

-- ff._closest_name returns the candidate closest to a mistyped name (a
-- Levenshtein distance of at most a third of its length, and at most 5;
-- ties go to the first in byte order), or NULL (1.11).
CREATE OR REPLACE FUNCTION ff._closest_name(name text, candidates text[])
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_closest_name';

-- ff._perhaps_you_meant returns the start of a HINT that names the
-- candidate closest to a mistyped name, or an empty string (1.11).
CREATE OR REPLACE FUNCTION ff._perhaps_you_meant(name text, candidates text[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN COALESCE('Perhaps you meant "' || ff._closest_name(name, candidates) || '". ', '');

-- ff._resolve_environment returns the environment an administration or
-- evaluation call works on: the argument, else ff.environment, else the
-- default environment; an unknown name is an error.
CREATE OR REPLACE FUNCTION ff._resolve_environment(environment text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := environment;
    source      text := 'argument';
    hint        text;
BEGIN
    IF env IS NULL THEN
        env := nullif(current_setting('ff.environment', true), '');
        source := 'setting';
    END IF;
    IF env IS NULL THEN
        SELECT e.name INTO env FROM ff.environments AS e WHERE e.is_default;
        IF env IS NULL THEN
            RAISE EXCEPTION 'no environment given and there is no default environment'
                USING ERRCODE = 'undefined_object',
                      HINT = 'Pass environment => ''name'', SET ff.environment = ''name'', or make one the default with SELECT ff.set_default_environment(''name'');';
        END IF;
        RETURN env;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = env) THEN
        hint := ff._perhaps_you_meant(env, ARRAY(SELECT e.name FROM ff.environments AS e))
            || format('Existing environments: %s. Create one with SELECT ff.create_environment(%L);',
            (SELECT string_agg(format('"%s"', e.name), ', ' ORDER BY e.name) FROM ff.environments AS e), env);
        IF source = 'setting' THEN
            RAISE EXCEPTION 'environment "%" does not exist', env
                USING ERRCODE = 'undefined_object',
                      DETAIL = 'The name comes from the ff.environment setting.', HINT = hint;
        ELSE
            RAISE EXCEPTION 'environment "%" does not exist', env
                USING ERRCODE = 'undefined_object', HINT = hint;
        END IF;
    END IF;
    RETURN env;
END;
$$;

-- ff._flag_not_found raises the error for a flag key missing from an
-- environment.
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
                  HINT = ff._perhaps_you_meant(key, ARRAY(SELECT f.key FROM ff.flags AS f
                                                           WHERE f.environment = _flag_not_found.environment))
                      || format('Create it with SELECT ff.create_flag(%L);', key);
    END IF;
    RAISE EXCEPTION 'flag "%" does not exist in environment "%"', key, environment
        USING ERRCODE = 'undefined_object',
              DETAIL = format('The flag exists in environment %s.', elsewhere),
              HINT = 'Pass environment => ''name'', or copy it with ff.copy_flag().';
END;
$$;

-- ff._segment_not_found raises the error for a segment missing from an
-- environment.
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
              HINT = ff._perhaps_you_meant(segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                           WHERE g.environment = _segment_not_found.environment))
                  || format('Create it with SELECT ff.create_segment(%L, environment => %L);', segment, environment);
END;
$$;

-- ff._check_segment_refs raises an error when a rule references a segment
-- that does not exist in the environment.
CREATE OR REPLACE FUNCTION ff._check_segment_refs(environment text, segments text[], rule jsonb,
                                       owner_label text, prefix text, owner_segment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    present     text[];
    missing     text;
BEGIN
    IF cardinality(segments) = 0 THEN
        RETURN;
    END IF;
    -- lock the referenced segments, so that a concurrent DELETE waits for
    -- this transaction and then sees the new reference
    present := ARRAY(SELECT g.name FROM ff.segments AS g
                      WHERE g.environment = _check_segment_refs.environment AND g.name = ANY (segments)
                      ORDER BY g.name
                        FOR KEY SHARE);
    SELECT s INTO missing FROM unnest(segments) AS s
     WHERE NOT s = ANY (present)
     ORDER BY s LIMIT 1;
    IF missing IS NOT NULL AND NOT ff._restoring() THEN
        RAISE EXCEPTION '% references segment "%", which does not exist in environment "%"',
            owner_label, missing, environment
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('The reference is at %s.',
                      COALESCE(ff._rule_path_of(rule, 'segment', to_jsonb(missing), prefix), prefix)),
                  -- (a segment's own rule may not name the segment: it is no suggestion)
                  HINT = ff._perhaps_you_meant(missing, ARRAY(SELECT g.name FROM ff.segments AS g
                                                               WHERE g.environment = _check_segment_refs.environment
                                                                 AND g.name IS DISTINCT FROM owner_segment))
                      || format('Create the segment first, e.g. SELECT ff.create_segment(%L, environment => %L);',
                                missing, environment);
    END IF;
END;
$$;

-- ff._validate_flag_general does the checks of ff_10_validate_flags: every
-- case (its trigger function ff._validate_flag, in C, accepts an UPDATE that
-- leaves the definition alone and calls this function for the rest).
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
    stored_broken constant text := 'The flag is stored because ff.invalid_targeting is "warning"; its evaluations return the caller''s default with reason ERROR and error code PARSE_ERROR.';
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
    -- ff.invalid_targeting = warning (ff.import_flagd, the copy
    -- functions, rollbacks): a definition that flagd would load but that
    -- cannot be evaluated (targeting, below; from 1.11 a variant value
    -- nested too deep) is stored with a WARNING; its evaluations return the
    -- caller's default with reason ERROR, as in flagd.  A pg_dump script
    -- (ff._restoring()) loads the rows as they were stored, those stored
    -- with a WARNING included, and says nothing again (1.7; before, the
    -- COPY of ff.flags failed on such a row and a restore lost every flag).
    -- (only for the writes that the variant and targeting checks below
    -- look at: not for a change of state or default variant)
    IF moved OR NEW.variants IS DISTINCT FROM OLD.variants OR NEW.flag_type IS DISTINCT FROM OLD.flag_type
       OR NEW.targeting IS DISTINCT FROM OLD.targeting THEN
        lenient := current_setting('ff.invalid_targeting', true) = 'warning' OR ff._restoring();
        -- an INSERT ... ON CONFLICT DO UPDATE (ff.import_flagd, the copies)
        -- of an existing flag is checked again as an UPDATE: warn once
        quiet := ff._restoring();
        IF lenient AND is_new AND NOT quiet THEN
            quiet := EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = NEW.environment AND f.key = NEW.key);
        END IF;
    END IF;

    IF moved THEN
        IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment) THEN
            RAISE EXCEPTION 'environment "%" does not exist', NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Flag "%s" cannot be stored in a missing environment.', NEW.key),
                      HINT = ff._perhaps_you_meant(NEW.environment, ARRAY(SELECT e.name FROM ff.environments AS e))
                          || format('Create it with SELECT ff.create_environment(%L); or pick one of: %s.', NEW.environment,
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
            -- (1.11) a value evaluation could never convert is refused, or
            -- stored with a WARNING when lenient (see above)
            IF v.t = 'object' AND ff._jsonb_depth_exceeds(v.value, 10000) THEN
                IF NOT lenient THEN
                    RAISE EXCEPTION 'invalid variants for %: % nests deeper than 10000 levels', label,
                        ff._json_path_member('$.variants', v.key)
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'Evaluation converts variant values up to 10000 levels deep; a deeper one would answer PARSE_ERROR to every caller.';
                ELSIF NOT quiet THEN
                    RAISE WARNING 'invalid variants for %: % nests deeper than 10000 levels', label,
                        ff._json_path_member('$.variants', v.key)
                        USING DETAIL = stored_broken,
                              HINT = 'Evaluation converts variant values up to 10000 levels deep.';
                END IF;
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
        ELSIF NEW.flag_type <> vtype AND is_new THEN
            RAISE EXCEPTION 'flag_type "%" of % does not match its variants, which are % values', NEW.flag_type, label, vtype
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Give variants of type %s, or set flag_type = %L (or leave it NULL, to derive it from the variants).',
                                    NEW.flag_type, vtype);
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
        -- lenient (see above): a rule that flagd would load but cannot
        -- evaluate (an unknown operator, a literal result that is not a
        -- variant) is stored with a WARNING (and a malformed call of flagd's
        -- own operators: see below)
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
                    USING DETAIL = CASE
                        WHEN compiled AND err_msg ~ 'fractional weight -[0-9]+ is not an integer'
                        THEN 'The flag is stored because ff.invalid_targeting is "warning", as flagd loads it; as in flagd, a negative whole weight counts as 0.'
                        WHEN compiled
                        THEN 'The flag is stored because ff.invalid_targeting is "warning", as flagd loads it; as in flagd, the call evaluates to null.'
                        ELSE stored_broken
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

-- ff._validate_segment is the trigger function of ff_10_validate_segments.
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
    nkeys       bigint;
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
        -- the key lists refer to the segment by name (1.10: instead of the
        -- foreign key's bare error)
        SELECT count(*) INTO nkeys FROM ff.segment_keys AS k
         WHERE k.environment = OLD.environment AND k.segment = OLD.name;
        IF nkeys > 0 THEN
            RAISE EXCEPTION 'cannot rename or move segment "%" in environment "%": it has % targeting keys',
                OLD.name, OLD.environment, nkeys
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = 'The rows of ff.segment_keys refer to the segment by its name and environment.',
                      HINT = 'Create a segment under the new name with the same rule and keys (ff.create_segment(..., include => ..., exclude => ...)), point the flags at it with ff.set_targeting, then delete this one with ff.delete_segment.';
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
                      HINT = ff._perhaps_you_meant(NEW.environment, ARRAY(SELECT e.name FROM ff.environments AS e))
                          || format('Create it with SELECT ff.create_environment(%L);', NEW.environment);
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
        PERFORM ff._check_segment_refs(NEW.environment, info.segments, NEW.rule, format('rule of %s', label), '$.rule',
                                       NEW.name);

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

-- ff._validate_segment_key is the trigger function of ff_10_validate_segment_keys.
CREATE OR REPLACE FUNCTION ff._validate_segment_key()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.environment IS NULL OR NEW.segment IS NULL OR NEW.targeting_key IS NULL THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.environment IS DISTINCT FROM OLD.environment OR NEW.segment IS DISTINCT FROM OLD.segment THEN
        IF NOT EXISTS (SELECT 1 FROM ff.segments AS s
                        WHERE s.environment = NEW.environment AND s.name = NEW.segment) THEN
            RAISE EXCEPTION 'segment "%" does not exist in environment "%"', NEW.segment, NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Targeting key "%s" cannot be added to a missing segment.', NEW.targeting_key),
                      HINT = ff._perhaps_you_meant(NEW.segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                                       WHERE g.environment = NEW.environment))
                          || format('Create it with SELECT ff.create_segment(%L, environment => %L);', NEW.segment, NEW.environment);
        END IF;
    END IF;
    IF NEW.targeting_key = '' THEN
        RAISE EXCEPTION 'empty targeting key for segment "%" in environment "%"', NEW.segment, NEW.environment
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Targeting keys are the non-empty targetingKey values of evaluation contexts (user ids, emails...).';
    END IF;
    -- the key is indexed: refuse what a btree could not hold, with a clear message
    IF pg_catalog.octet_length(NEW.targeting_key) > 1024 THEN
        RAISE EXCEPTION 'targeting key "%..." for segment "%" in environment "%" is too long',
                        pg_catalog.left(NEW.targeting_key, 20), NEW.segment, NEW.environment
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The key is %s bytes long; at most 1024 are allowed.', pg_catalog.octet_length(NEW.targeting_key)),
                  HINT = 'Targeting keys are the targetingKey values of evaluation contexts (user ids, emails...); use a shorter identifier.';
    END IF;
    RETURN NEW;
END;
$$;

-- ff._history_check_rollback: raises insufficient_privilege unless the current user may run a
--   rollback function that writes entity (1.11).  The internal helpers that write
--   (_history_rollback_entity, _history_restore, _history_write_image) keep PUBLIC's EXECUTE so
--   that the rollback functions can call them with the caller's rights, and call this first:
--   a flag needs ff.rollback_flag, a segment ff.rollback_segment, and either one, or an
--   environment, ff.rollback_environment.  The recording triggers call _history_write_image
--   as the extension owner, who may run them all.
CREATE OR REPLACE FUNCTION ff._history_check_rollback(entity text, helper text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.has_function_privilege('ff.rollback_environment(text, bigint)', 'EXECUTE')
       OR (entity = 'flag'
           AND pg_catalog.has_function_privilege('ff.rollback_flag(text, bigint, text)', 'EXECUTE'))
       OR (entity = 'segment'
           AND pg_catalog.has_function_privilege('ff.rollback_segment(text, bigint, text)', 'EXECUTE')) THEN
        RETURN;
    END IF;
    RAISE EXCEPTION 'permission denied for function %', helper
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('It is an internal part of %s, which the current user may not run.',
                                         CASE entity WHEN 'flag' THEN 'ff.rollback_flag'
                                                     WHEN 'segment' THEN 'ff.rollback_segment'
                                                     ELSE 'ff.rollback_environment' END),
              HINT = 'Roll back with ff.rollback_flag, ff.rollback_segment or ff.rollback_environment; SELECT ff.grant_editor(''role'') grants the first two, ff.grant_admin the third.';
END;
$$;

-- ff._history_write_image: upserts a config row from a history image (with_stamps: also its
--   version and updated_at); 1.11: only for a user who may roll the entity back
CREATE OR REPLACE FUNCTION ff._history_write_image(entity text, image jsonb, with_stamps boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl         regclass := ff._history_table(entity);
    pk          text[];
    cols        text[];
    sets        text;
    sql         text;
BEGIN
    PERFORM ff._history_check_rollback(entity, 'ff._history_write_image');
    pk := CASE entity WHEN 'environment' THEN ARRAY['name']
                      WHEN 'flag' THEN ARRAY['environment', 'key']
                      ELSE ARRAY['environment', 'name'] END;
    SELECT pg_catalog.array_agg(pg_catalog.quote_ident(a.attname) ORDER BY a.attnum)
      INTO cols
      FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attgenerated = ''
       AND (with_stamps OR a.attname NOT IN ('version', 'updated_at'));
    SELECT pg_catalog.string_agg(pg_catalog.format('%s = EXCLUDED.%s', c, c), ', ')
      INTO sets
      FROM pg_catalog.unnest(cols) AS c
     WHERE c <> ALL (pk);
    sql := pg_catalog.format(
        'INSERT INTO %s AS t (%s) SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1) '
        'ON CONFLICT (%s) DO UPDATE SET %s',
        tbl, pg_catalog.array_to_string(cols, ', '), pg_catalog.array_to_string(cols, ', '),
        tbl, pg_catalog.array_to_string(pk, ', '), sets);
    EXECUTE sql USING image;
END;
$$;

-- ff._history_restore: writes an entity (and a segment's key list) back to its state as of a
--   version; true if anything changed (1.11: only for a user who may roll the entity back)
CREATE OR REPLACE FUNCTION ff._history_restore(entity text, environment text, entity_key text, at_version bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET ff.invalid_targeting = 'warning'
SET enable_nestloop = off
AS $$
DECLARE
    target      jsonb;
    cur         jsonb;
    before_v    bigint := ff.current_version();
BEGIN
    PERFORM ff._history_check_rollback(entity, 'ff._history_restore');
    target := ff._history_image_at(entity, environment, entity_key, at_version);
    EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t WHERE %s',
                              ff._history_table(entity),
                              CASE entity WHEN 'environment' THEN 't.name = $2'
                                          WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                          ELSE 't.environment = $1 AND t.name = $2' END)
       INTO cur USING environment, entity_key;

    IF target IS NULL THEN
        IF cur IS NOT NULL THEN
            EXECUTE pg_catalog.format('DELETE FROM %s AS t WHERE %s',
                                      ff._history_table(entity),
                                      CASE entity WHEN 'environment' THEN 't.name = $2'
                                                  WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                                  ELSE 't.environment = $1 AND t.name = $2' END)
               USING environment, entity_key;
        END IF;
    ELSIF cur IS NULL OR (cur - 'version' - 'updated_at') <> (target - 'version' - 'updated_at') THEN
        PERFORM ff._history_write_image(entity, target, false);
    END IF;

    IF entity = 'segment' AND target IS NOT NULL THEN
        -- (enable_nestloop is off for this function: right after a bulk load
        -- of keys, before statistics, the planner would otherwise rescan the
        -- replayed list once per key, quadratic under the writer lock)
        DELETE FROM ff.segment_keys AS k
         WHERE k.environment = $2 AND k.segment = $3
           AND NOT EXISTS (SELECT 1 FROM ff._history_keys_at($2, $3, $4) AS t
                            WHERE t.targeting_key = k.targeting_key);
        INSERT INTO ff.segment_keys AS k (environment, segment, targeting_key, excluded)
        SELECT $2, $3, t.targeting_key, t.excluded
          FROM ff._history_keys_at($2, $3, $4) AS t
         WHERE NOT EXISTS (SELECT 1 FROM ff.segment_keys AS c
                            WHERE c.environment = $2 AND c.segment = $3
                              AND c.targeting_key = t.targeting_key AND c.excluded = t.excluded)
            ON CONFLICT ON CONSTRAINT segment_keys_pkey
            DO UPDATE SET excluded = EXCLUDED.excluded;
    END IF;
    RETURN ff.current_version() > before_v;
END;
$$;

-- ff._history_rollback_entity: the body shared by rollback_flag and rollback_segment: writes a
--   flag or a segment (with its key list) back to its state as of to_version (deleting it if it did
--   not exist then) as new versions, commenting the change unless the caller already did (1.11:
--   only for a user who may run ff.rollback_flag or ff.rollback_segment, as the case may be)
CREATE OR REPLACE FUNCTION ff._history_rollback_entity(entity text, key text, to_version bigint, environment text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
    set_by_us   text;
BEGIN
    PERFORM ff._history_check_rollback(entity, 'ff._history_rollback_entity');
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
                  HINT = ff._perhaps_you_meant(key, ARRAY(SELECT DISTINCT v.entity_key FROM ff.versions AS v
                                                           WHERE v.entity = _history_rollback_entity.entity
                                                             AND v.environment = env))
                      || pg_catalog.format('Check the %s %s and the environment; ff.history lists the recorded changes.',
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

-- ff.copy_flag copies a flag into another environment, together with the
-- segments its targeting needs that are missing there.
CREATE OR REPLACE FUNCTION ff.copy_flag(key text, from_environment text, to_environment text,
                             overwrite boolean DEFAULT false, new_key text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'warning'
AS $$
#variable_conflict use_column
DECLARE
    src_env     text := ff._resolve_environment(from_environment);
    dst_env     text := ff._resolve_environment(to_environment);
    src         ff.flags := ff._flag_row(copy_flag.key, src_env);
    dst_key     text := COALESCE(new_key, copy_flag.key);
    result      ff.flags;
BEGIN
    IF src_env = dst_env AND dst_key = src.key THEN
        RAISE EXCEPTION 'cannot copy flag "%" onto itself in environment "%"', src.key, src_env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name another environment, or a new key with new_key => ''...''.';
    END IF;
    IF NOT overwrite AND EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = dst_env AND f.key = dst_key) THEN
        RAISE EXCEPTION 'flag "%" already exists in environment "%"', dst_key, dst_env
            USING ERRCODE = 'unique_violation',
                  HINT = 'Pass overwrite => true to replace it.';
    END IF;
    IF src.targeting IS NOT NULL AND src_env <> dst_env THEN
        -- (the segments that exist: a rule stored with a WARNING, which is
        -- not checked for segment references, may name a missing one, 1.11)
        PERFORM ff._copy_segments(src_env, dst_env,
            ARRAY(SELECT s FROM unnest(ff._rule_segment_names(src.targeting,
                      format('targeting for flag "%s" in environment "%s"', src.key, src_env))) AS s
                   WHERE NOT EXISTS (SELECT 1 FROM ff.segments AS g WHERE g.environment = dst_env AND g.name = s)
                     AND EXISTS (SELECT 1 FROM ff.segments AS g WHERE g.environment = src_env AND g.name = s)),
            false);
    END IF;
    INSERT INTO ff.flags AS t (environment, key, state, flag_type, variants, default_variant, targeting,
                               metadata, description, tags, owner)
    VALUES (dst_env, dst_key, src.state, src.flag_type, src.variants, src.default_variant, src.targeting,
            src.metadata, src.description, src.tags, src.owner)
    ON CONFLICT (environment, key) DO UPDATE
       SET state = EXCLUDED.state, flag_type = EXCLUDED.flag_type, variants = EXCLUDED.variants,
           default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
           metadata = EXCLUDED.metadata, description = EXCLUDED.description,
           tags = EXCLUDED.tags, owner = EXCLUDED.owner
    RETURNING * INTO result;
    RETURN result;
END;
$$;

-- ff._flagd_resolve_refs replaces every {"$ref": "name"} object inside a
-- rule by the named shared rule.  A reference that cannot be resolved (an
-- unknown name, a name that is not a string) is left in place, as flagd
-- leaves it: the rule then fails to compile, so ff.import_flagd stores the
-- flag with a WARNING and its evaluations return PARSE_ERROR.
CREATE OR REPLACE FUNCTION ff._flagd_resolve_refs(node jsonb, evaluators jsonb, flag text, path text,
                                       depth integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref         jsonb;
    result      jsonb;
    parts       jsonb[];
    m           record;
    i           integer;
BEGIN
    IF node IS NULL OR jsonb_typeof(node) NOT IN ('object', 'array')
       OR strpos(node::text, '"$ref"') = 0 THEN
        RETURN node;
    END IF;
    -- the rule compiler's own limit, checked before PL/pgSQL recursion
    -- runs out of stack
    IF depth >= 256 THEN
        RAISE EXCEPTION 'invalid targeting for flag "%": rule nesting exceeds the maximum depth of 256 at %', flag, path
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Reduce the nesting depth of the rule.';
    END IF;
    IF jsonb_typeof(node) = 'array' THEN
        -- appended in place, one array at the end (1.11: a jsonb array grown
        -- element by element was quadratic in the array's length)
        parts := '{}';
        FOR i IN 0 .. jsonb_array_length(node) - 1 LOOP
            parts := array_append(parts,
                ff._flagd_resolve_refs(node -> i, evaluators, flag, path || '[' || i || ']', depth + 1));
        END LOOP;
        RETURN to_jsonb(parts);
    END IF;
    IF node ? '$ref' AND (SELECT count(*) FROM jsonb_object_keys(node)) = 1 THEN
        ref := node -> '$ref';
        IF jsonb_typeof(ref) <> 'string' OR evaluators IS NULL OR NOT evaluators ? (ref #>> '{}') THEN
            RETURN node;
        END IF;
        RETURN evaluators -> (ref #>> '{}');
    END IF;
    result := '{}';
    FOR m IN SELECT e.key, e.value FROM jsonb_each(node) AS e LOOP
        result := result || jsonb_build_object(m.key,
            ff._flagd_resolve_refs(m.value, evaluators, flag, ff._json_path_member(path, m.key), depth + 1));
    END LOOP;
    RETURN result;
END;
$$;

-- ff.import_flagd loads a flagd flag-definition document into an
-- environment, atomically.
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
    old_types   jsonb;
    new_type    text;
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

    -- the types of the flags the document changes (1.11: a document whose
    -- variants have another type changes the flag's type, as flagd loads
    -- it, with a WARNING instead of silently)
    SELECT jsonb_object_agg(t.key, t.flag_type) INTO old_types
      FROM ff.flags AS t WHERE t.environment = env AND flags ? t.key;

    -- write: unchanged flags are left alone (no new version, no history)
    FOREACH f IN ARRAY parsed LOOP
        tg := f -> 'targeting';
        IF tg = 'null'::jsonb OR tg = '{}'::jsonb THEN
            tg := NULL;
        END IF;
        new_type := NULL;
        INSERT INTO ff.flags AS t (environment, key, state, variants, default_variant, targeting, metadata)
        VALUES (env, f ->> 'key', f ->> 'state', f -> 'variants', f ->> 'defaultVariant', tg, f -> 'metadata')
        ON CONFLICT (environment, key) DO UPDATE
           SET state = EXCLUDED.state, variants = EXCLUDED.variants,
               flag_type = CASE WHEN t.variants = EXCLUDED.variants THEN t.flag_type END,
               default_variant = EXCLUDED.default_variant, targeting = EXCLUDED.targeting,
               metadata = EXCLUDED.metadata
         WHERE (t.state, t.variants, t.default_variant, t.targeting, t.metadata)
               IS DISTINCT FROM
               (EXCLUDED.state, EXCLUDED.variants, EXCLUDED.default_variant, EXCLUDED.targeting, EXCLUDED.metadata)
        RETURNING t.flag_type INTO new_type;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
        IF n > 0 AND old_types ? (f ->> 'key') AND new_type IS DISTINCT FROM (old_types ->> (f ->> 'key')) THEN
            RAISE WARNING 'flag "%" in environment "%" changes type from % to %',
                f ->> 'key', env, old_types ->> (f ->> 'key'), new_type
                USING DETAIL = pg_catalog.format('The document''s variants are of type %s; applications that read the flag as %s get their default, with error code TYPE_MISMATCH.',
                                                 new_type, old_types ->> (f ->> 'key')),
                      HINT = 'flagd loads a document so; if the change is a mistake, import the flag with variants of the old type.';
        END IF;
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

-- ff._flagd_inline_segments rewrites the in_segment operators of a rule
-- for flagd: {"in_segment": "s"} becomes {"$ref": "s"} when refs is not
-- NULL (the names used are added to refs), and inline JSON Logic
-- otherwise or when a key expression is given.
CREATE OR REPLACE FUNCTION ff._flagd_inline_segments(node jsonb, environment text, INOUT refs text[],
                                          OUT rule jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    op          text;
    args        jsonb;
    sub         record;
    m           record;
    i           integer;
    result      jsonb;
    parts       jsonb[];
BEGIN
    IF node IS NULL OR jsonb_typeof(node) NOT IN ('object', 'array')
       OR strpos(node::text, '"in_segment"') = 0 THEN
        rule := node;
        RETURN;
    END IF;
    IF jsonb_typeof(node) = 'array' THEN
        -- appended in place, one array at the end (1.11, as in
        -- ff._flagd_resolve_refs)
        parts := '{}';
        FOR i IN 0 .. jsonb_array_length(node) - 1 LOOP
            sub := ff._flagd_inline_segments(node -> i, environment, refs);
            refs := sub.refs;
            parts := array_append(parts, sub.rule);
        END LOOP;
        rule := to_jsonb(parts);
        RETURN;
    END IF;
    IF node ? 'in_segment' AND (SELECT count(*) FROM jsonb_object_keys(node)) = 1 THEN
        args := node -> 'in_segment';
        IF jsonb_typeof(args) = 'array' AND jsonb_array_length(args) >= 2 THEN
            sub := ff._flagd_inline_segments(args -> 1, environment, refs);
            refs := sub.refs;
            rule := ff._segment_as_jsonlogic(environment, args ->> 0, sub.rule);
            RETURN;
        END IF;
        IF jsonb_typeof(args) = 'array' THEN
            op := args ->> 0;
        ELSE
            op := args #>> '{}';
        END IF;
        IF refs IS NULL THEN
            rule := ff._segment_as_jsonlogic(environment, op, '{"var": "targetingKey"}');
        ELSE
            IF NOT op = ANY (refs) THEN
                refs := refs || op;
            END IF;
            rule := jsonb_build_object('$ref', op);
        END IF;
        RETURN;
    END IF;
    result := '{}';
    FOR m IN SELECT e.key, e.value FROM jsonb_each(node) AS e LOOP
        sub := ff._flagd_inline_segments(m.value, environment, refs);
        refs := sub.refs;
        result := result || jsonb_build_object(m.key, sub.rule);
    END LOOP;
    rule := result;
END;
$$;

-- ff.export_flagd returns an environment as a flagd flag-definition
-- document.
CREATE OR REPLACE FUNCTION ff.export_flagd(environment text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(export_flagd.environment);
    flags       jsonb;
    evaluators  jsonb;
    refs        text[] := '{}';
    keys        text[] := '{}';
    objs        jsonb[] := '{}';
    fl          record;
    sub         record;
    obj         jsonb;
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
        IF fl.targeting IS NOT NULL AND ff._rule_compile_error(fl.targeting) = 'unknown_operator' THEN
            -- stored with a WARNING (an unknown operator, an unresolved $ref):
            -- exported as written (1.11: its in_segment calls were inlined,
            -- and one naming a missing segment made the whole export fail)
            obj := obj || jsonb_build_object('targeting', fl.targeting);
        ELSIF fl.targeting IS NOT NULL AND dangling <> '{}' AND EXISTS (
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
        -- appended in place, and made one object at the end (1.11: a jsonb
        -- grown flag by flag was copied for every flag, quadratic)
        keys := array_append(keys, fl.key);
        objs := array_append(objs, obj);
    END LOOP;
    SELECT COALESCE(jsonb_object_agg(k, o), '{}') INTO flags FROM unnest(keys, objs) AS u(k, o);
    SELECT jsonb_object_agg(r.name, ff._segment_as_jsonlogic(env, r.name, '{"var": "targetingKey"}'))
      INTO evaluators FROM unnest(refs) AS r(name);
    obj := jsonb_build_object('$schema', 'https://flagd.dev/schema/v0/flags.json',
                              'metadata', (SELECT e.metadata FROM ff.environments AS e WHERE e.name = env),
                              'flags', flags);
    IF evaluators IS NOT NULL THEN
        obj := obj || jsonb_build_object('$evaluators', evaluators);
    END IF;
    RETURN obj;
END;
$$;

COMMENT ON FUNCTION ff._jsonb_depth_exceeds(jsonb, integer) IS
'Internal: whether a jsonb value nests more than max_depth containers (a scalar none, {"a": 1} one)';
COMMENT ON FUNCTION ff._closest_name(text, text[]) IS
'Internal: the candidate closest to a mistyped name (Levenshtein distance at most a third of its length, at most 5), or NULL';
COMMENT ON FUNCTION ff._perhaps_you_meant(text, text[]) IS
'Internal: ''Perhaps you meant "<closest candidate>". '' for the HINT of a not-found error, or an empty string';
COMMENT ON FUNCTION ff._check_segment_refs(text, text[], jsonb, text, text, text) IS
'Internal: raises foreign_key_violation when a rule references a segment missing from the environment (owner_segment: the segment whose rule it is)';
COMMENT ON FUNCTION ff._history_check_rollback(text, text) IS
    'Internal: raises insufficient_privilege unless the current user may run the rollback function that writes an entity (guards the internal helpers that write)';
