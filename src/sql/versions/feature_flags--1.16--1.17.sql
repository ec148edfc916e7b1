-- feature_flags 1.16 -> 1.17 (ALTER EXTENSION feature_flags UPDATE TO '1.17')
--
-- 1.17 changes no table and no signature.  It adds the view
-- ff.open_change_requests and the NOTIFY ff_change_requests at each step
-- of a change request (trigger ff_90_notify, appended below; editors read
-- the view once ff.grant_editor has run again), experiment analysis
-- (src/sql/086_experiments.sql, appended below: ff.experiment_results and
-- its helpers, executable by PUBLIC: they run as the caller and read
-- nothing of schema ff), replaces functions whose answers to bad input were
-- unclear, and adds one internal helper for them:
--   * ff._create_hint (new): the end of a not-found HINT; it names the
--     environment (ff.create_flag('k', environment => 'e')) and suggests no
--     name that breaks the name rule -- used by ff._resolve_environment,
--     ff._flag_not_found, ff._segment_not_found and the validation
--     triggers ff._validate_flag_general, ff._validate_segment and
--     ff._validate_segment_key;
--   * ff._check_name names a non-ASCII character that is not allowed, also
--     at the start of a name;
--   * ff._validate_segment_key refuses a NULL with a message naming the row;
--   * ff._history_row_trigger_general: an UPDATE of the stamps alone
--     (version, updated_at) of a row in sync with its history records
--     nothing;
--   * ff.copy_flag refuses to_environment => NULL (22004), ff.changes_since
--     a NULL version (22004, was 22023), ff.schedule_rollout a NULL array
--     (22004) and multidimensional percentages (22023), ff.create_flag
--     enabled => NULL and ff.add_segment_keys excluded => NULL (22004: they
--     were taken as true and false);
--   * ff._flag_not_found names the call that copies a flag found in another
--     environment; ff._check_segment_refs suggests creating no segment
--     whose name breaks the name rule; ff.request_change's HINT names the
--     environment; ff._validate_environment and ff._validate_segment leave
--     a NULL name to the history trigger's 23502 (it met the rename check);
--   * a HINT for the NULL names of ff.create_environment, ff.copy_environment,
--     ff.create_segment, ff.privilege_recipe and ff._apply_recipe;
--     ff.create_publication(NULL) is 22004 (was 22023);
--   * approvals: ff._approvals_required is C and reads the rule as last
--     committed (it was SECURITY DEFINER, reading the transaction's
--     snapshot), approval rules take the writer lock (trigger
--     ff_01_writer_lock), ff.apply_change takes it before it reads the
--     rule, the members of allowed roles no longer cancel scheduled
--     changes of an environment with a rule (ff._scheduled_changes_guard),
--     and TRUNCATE of ff.approval_rules (ff administrators only) and of
--     ff.change_requests (never) is guarded (ff._approvals_truncate_guard);
--     a scheduled change at infinity is refused (ff._scheduled_changes_guard);
--     ff.apply_change applies a pending request whose approvals meet a
--     lowered rule, and its refusals and ff._review_change's HINT say what
--     can be done under the rule as it is now; reviews, applies, the view
--     and the notifications count approvals alike (new
--     ff._counting_approvals: those by roles that may still approve).
-- The 1.17 library is needed for the experiment helpers and the rest (the history trigger's NOT NULL
-- messages and stamps, the cache's mixed-type check, the HINT of
-- ff.evaluate_all); it serves every earlier version as well.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.17'" to load this file. \quit

-- ff._check_name raises an error when a flag key, environment name or
-- segment name does not follow the name rule.
CREATE OR REPLACE FUNCTION ff._check_name(kind text, name text, context text DEFAULT '')
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR name ~ ff._name_pattern() THEN
        RETURN;
    END IF;
    RAISE EXCEPTION 'invalid % "%"%', kind, name, context
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = CASE
                  WHEN name = '' THEN 'The name is empty.'
                  WHEN length(name) > 200 THEN format('The name is %s characters long; at most 200 are allowed.', length(name))
                  -- (1.17) a character outside the rule is named, also at the
                  -- start: 'ü' is a letter, but not one of A-Z and a-z
                  WHEN name ~ '[^A-Za-z0-9._:-]' THEN
                      format('The character %s is not allowed%s.',
                             to_jsonb(substring(name FROM '[^A-Za-z0-9._:-]')),
                             CASE WHEN substring(name FROM '[^A-Za-z0-9._:-]') ~ '[^\x01-\x7f]'
                                  THEN ' (names use ASCII letters and digits)' ELSE '' END)
                  ELSE 'The name must start with a letter or a digit.'
              END,
              HINT = format('Names start with a letter or digit, followed by at most 199 letters, digits, ".", "_", ":" or "-" (pattern %s).',
                            ff._name_pattern());
END;
$$;

COMMENT ON FUNCTION ff._check_name(text, text, text) IS
'Internal: raises invalid_parameter_value when a flag key, environment or segment name breaks the name rule';

-- ff._create_hint returns the end of the HINT of a not-found error (1.17):
-- how to create the missing flag, segment or environment, in the
-- environment the caller named -- or, for a name that breaks the name rule,
-- that nothing can be named so (1.16 suggested ff.create_flag('a b'), and
-- left out the environment).
CREATE OR REPLACE FUNCTION ff._create_hint(kind text, name text, environment text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN name IS NULL OR name !~ ff._name_pattern() THEN
        format('No %s can be named so: %s starts with a letter or digit, followed by at most 199 letters, digits, ".", "_", ":" or "-".',
               kind, CASE kind WHEN 'flag' THEN 'a flag key' WHEN 'environment' THEN 'an environment name'
                               ELSE 'a ' || kind || ' name' END)
    WHEN kind = 'environment' OR environment IS NULL THEN
        format('Create it with SELECT ff.create_%s(%L);', kind, name)
    ELSE format('Create it with SELECT ff.create_%s(%L, environment => %L);', kind, name, environment)
END;

COMMENT ON FUNCTION ff._create_hint(text, text, text) IS
'Internal: the end of a not-found HINT: how to create the missing flag, segment or environment (in the given environment), or that the name breaks the name rule';

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
            || format('Existing environments: %s. ',
                      (SELECT string_agg(format('"%s"', e.name), ', ' ORDER BY e.name) FROM ff.environments AS e))
            || ff._create_hint('environment', env);
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

COMMENT ON FUNCTION ff._resolve_environment(text) IS
'Internal: the environment to work on: the argument, else the ff.environment setting, else the default environment; ERROR if unknown';

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
                      || ff._create_hint('flag', key, environment);
    END IF;
    -- (1.17) the HINT names an environment that has the flag and the call
    -- that copies it (it said "Pass environment => 'name'", which
    -- ff.copy_flag has no argument for)
    RAISE EXCEPTION 'flag "%" does not exist in environment "%"', key, environment
        USING ERRCODE = 'undefined_object',
              DETAIL = format('The flag exists in environment %s.', elsewhere),
              HINT = format('Name the environment that has it, or copy it here with SELECT ff.copy_flag(%L, %L, %L);',
                            key, (SELECT min(f.environment) FROM ff.flags AS f WHERE f.key = _flag_not_found.key),
                            environment);
END;
$$;

COMMENT ON FUNCTION ff._flag_not_found(text, text) IS
'Internal: raises undefined_object for a flag key missing from an environment, naming where it does exist';

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
                  || ff._create_hint('segment', segment, environment);
END;
$$;

COMMENT ON FUNCTION ff._segment_not_found(text, text) IS
'Internal: raises undefined_object for a segment missing from an environment';

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
                          || format('Existing environments: %s. ',
                                    (SELECT string_agg(format('"%s"', e.name), ', ' ORDER BY e.name) FROM ff.environments AS e))
                          || ff._create_hint('environment', NEW.environment);
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
                -- (1.12) a rule that does not compile is checked as flagd
                -- loads it, so that the WARNING names what its evaluations
                -- will report (the unknown operator), not a flagd call before it
                PERFORM ff._check_rule(NEW.targeting, format('targeting for %s', label), NOT compiled);
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
            -- (1.12) when even the lenient compile fails (bad_arguments), the
            -- error comes from it: it names the call that is refused, not a
            -- flagd call before it that would be stored
            info := ff._rule_info(NEW.targeting, format('targeting for %s', label),
                                  problem IN ('flagd_call', 'bad_arguments'));
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

COMMENT ON FUNCTION ff._validate_flag_general() IS
'Internal: the checks of ff_10_validate_flags for every case: key rule, typed variants, default variant, flat metadata, targeting (operators, segments, results)';

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
    -- (1.17) a NULL name or environment is left to the history trigger's
    -- 23502, which names the row; it met the rename checks first
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.name IS NOT NULL AND NEW.environment IS NOT NULL
                            AND (NEW.name IS DISTINCT FROM OLD.name
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
                          || ff._create_hint('environment', NEW.environment);
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

COMMENT ON FUNCTION ff._validate_segment() IS
'Trigger function of ff_10_validate_segments: name rule, rule validation, existing and acyclic segment references, protected deletes';

-- ff._validate_segment_key is the trigger function of ff_10_validate_segment_keys.
CREATE OR REPLACE FUNCTION ff._validate_segment_key()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (1.17) a NULL is refused here, naming the row, rather than by the NOT
    -- NULL constraint, whose DETAIL printed the whole row and no HINT
    IF NEW.environment IS NULL OR NEW.segment IS NULL OR NEW.targeting_key IS NULL OR NEW.excluded IS NULL THEN
        RAISE EXCEPTION 'the % of a segment key must not be NULL',
                        CASE WHEN NEW.environment IS NULL THEN 'environment'
                             WHEN NEW.segment IS NULL THEN 'segment'
                             WHEN NEW.targeting_key IS NULL THEN 'targeting key'
                             ELSE 'excluded flag' END
            USING ERRCODE = 'not_null_violation',
                  DETAIL = CASE WHEN NEW.environment IS NOT NULL AND NEW.segment IS NOT NULL
                                THEN format('The row is %ssegment "%s" in environment "%s".',
                                            CASE WHEN NEW.targeting_key IS NOT NULL
                                                 THEN format('targeting key "%s" of ', NEW.targeting_key) ELSE '' END,
                                            NEW.segment, NEW.environment)
                                ELSE 'A segment key names its environment and segment.' END,
                  HINT = CASE WHEN NEW.excluded IS NULL AND NEW.targeting_key IS NOT NULL
                              THEN 'excluded is true for a key excluded from the segment, false (the default) for a key included in it.'
                              ELSE format('Add keys with SELECT ff.add_segment_keys(%L, ARRAY[''user-1'', ''user-2''], environment => %L);',
                                          COALESCE(NEW.segment, 'segment'), COALESCE(NEW.environment, 'environment')) END;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.environment IS DISTINCT FROM OLD.environment OR NEW.segment IS DISTINCT FROM OLD.segment THEN
        IF NOT EXISTS (SELECT 1 FROM ff.segments AS s
                        WHERE s.environment = NEW.environment AND s.name = NEW.segment) THEN
            -- (1.12) a missing environment is named as such, with a suggestion
            IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment) THEN
                RAISE EXCEPTION 'environment "%" does not exist', NEW.environment
                    USING ERRCODE = 'foreign_key_violation',
                          DETAIL = format('Targeting key "%s" cannot be added to segment "%s" of a missing environment.',
                                          NEW.targeting_key, NEW.segment),
                          HINT = ff._perhaps_you_meant(NEW.environment, ARRAY(SELECT e.name FROM ff.environments AS e))
                              || ff._create_hint('environment', NEW.environment);
            END IF;
            RAISE EXCEPTION 'segment "%" does not exist in environment "%"', NEW.segment, NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Targeting key "%s" cannot be added to a missing segment.', NEW.targeting_key),
                      HINT = ff._perhaps_you_meant(NEW.segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                                       WHERE g.environment = NEW.environment))
                          || ff._create_hint('segment', NEW.segment, NEW.environment);
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

COMMENT ON FUNCTION ff._validate_segment_key() IS
'Trigger function of ff_10_validate_segment_keys: the segment exists and the targeting key is not empty and at most 1024 bytes';

-- ff._history_row_trigger_general: stamps the row with its new version and appends the
--   version to ff.versions; every case (the trigger ff._history_row_trigger, in C, handles
--   everyday UPDATEs and DELETEs itself and calls this function for the rest; not SECURITY
--   DEFINER: its only caller calls it as the extension owner)
CREATE OR REPLACE FUNCTION ff._history_row_trigger_general()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    entity      text := TG_ARGV[0];
    new_img     jsonb;
    old_img     jsonb;
    new_env     text;
    new_key     text;
    old_env     text;
    old_key     text;
    unstamped_ok boolean;
    op          text := TG_OP;
    nx          record;
    latest      record;
    in_sync     bigint;
    recorded    bigint;
BEGIN
    -- (functions whose result is not needed are called in assignments, not
    -- with PERFORM: an assignment of a function call is evaluated directly,
    -- PERFORM runs a query through the executor)
    -- the identities are those of ff._history_identity(), written out:
    -- a call of an SQL function from PL/pgSQL is planned again in every
    -- transaction, these expressions are planned once per session
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_img := pg_catalog.to_jsonb(OLD);
        old_env := CASE entity WHEN 'environment' THEN old_img ->> 'name' ELSE old_img ->> 'environment' END;
        old_key := CASE entity WHEN 'flag' THEN old_img ->> 'key' ELSE old_img ->> 'name' END;
    END IF;

    IF TG_OP = 'DELETE' THEN
        nx := ff._history_next();
        recorded := ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, entity, old_env, old_key,
                                       'DELETE', old_img, NULL, NULL);
        RETURN OLD;
    END IF;

    new_img := pg_catalog.to_jsonb(NEW);
    new_env := CASE entity WHEN 'environment' THEN new_img ->> 'name' ELSE new_img ->> 'environment' END;
    new_key := CASE entity WHEN 'flag' THEN new_img ->> 'key' ELSE new_img ->> 'name' END;

    -- an UPDATE that changes nothing is not a change
    IF TG_OP = 'UPDATE' AND new_img = old_img THEN
        RETURN NEW;
    END IF;

    -- the row is exactly what the history says it is (pg_dump restore):
    -- either stamped with that version, or unstamped and inserted or
    -- written over a row never written since installation
    -- (the query of ff._history_in_sync(), written out for the same reason)
    unstamped_ok := TG_OP = 'INSERT' OR old_img ->> 'version' IS NULL;
    SELECT v.version, v.operation, v.after INTO latest
      FROM ff.versions AS v
     WHERE v.entity = TG_ARGV[0] AND v.environment = new_env AND v.entity_key = new_key
       AND v.operation <> 'KEYS'
     ORDER BY v.version DESC
     LIMIT 1;
    IF latest.operation <> 'DELETE'
       AND (latest.after - 'version') = (new_img - 'version')
       AND (latest.version = (new_img ->> 'version')::bigint
            OR (unstamped_ok AND new_img ->> 'version' IS NULL)) THEN
        in_sync := latest.version;
    END IF;
    IF in_sync IS NOT NULL THEN
        IF TG_OP = 'INSERT'
           AND ff._history_row_exists(entity, new_env, new_key, true) THEN
            -- the install script re-created this row (the default
            -- environment): overwrite it with the restored image
            PERFORM ff._history_write_image(entity, new_img, true);
            RETURN NULL;
        END IF;
        IF new_img ->> 'version' IS NULL THEN
            NEW := pg_catalog.jsonb_populate_record(NEW,
                       pg_catalog.jsonb_build_object('version', in_sync));
        END IF;
        RETURN NEW;
    END IF;

    -- (1.17) an UPDATE of the stamps alone of a row that is in sync with
    -- its history, stamped with its latest version, is not a change
    -- either: the row keeps its stamps (a row that drifted from its
    -- history, its stamps too, is recorded as it is: that is how it is
    -- repaired)
    IF TG_OP = 'UPDATE'
       AND (new_img - '{version,updated_at}'::text[])
           = (old_img - '{version,updated_at}'::text[])
       AND latest.operation <> 'DELETE'
       AND (latest.after - 'version') = (old_img - 'version')
       AND latest.version = (old_img ->> 'version')::bigint THEN
        NEW.version := OLD.version;
        NEW.updated_at := OLD.updated_at;
        RETURN NEW;
    END IF;

    -- INSERT ... ON CONFLICT: the UPDATE (or nothing) that follows is what
    -- gets recorded; a plain INSERT fails with a unique violation
    IF TG_OP = 'INSERT' THEN
        nx := ff._history_next();
        IF ff._history_row_exists(entity, new_env, new_key) THEN
            RETURN NEW;
        END IF;
        old_img := NULL;
    ELSE
        nx := ff._history_next();
        -- a renamed key is the deletion of the old entity and the creation
        -- of a new one, so that each entity's history stays under its key
        IF (old_env, old_key) IS DISTINCT FROM (new_env, new_key) THEN
            recorded := ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, entity, old_env, old_key,
                                           'DELETE', old_img, NULL, NULL);
            nx := ff._history_next();
            op := 'INSERT';
            old_img := NULL;
        END IF;
    END IF;

    -- (every history table has the columns version and updated_at; the
    -- after image is new_img with the same two members replaced, which is
    -- what to_jsonb(NEW) would now give)
    NEW.version := nx.next_version;
    NEW.updated_at := pg_catalog.now();
    recorded := ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, entity, new_env, new_key,
                                   op, old_img,
                                   new_img || pg_catalog.jsonb_build_object('version', NEW.version,
                                                                            'updated_at', NEW.updated_at),
                                   NULL);
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION ff._history_row_trigger_general() IS
    'Internal: the history row trigger for every case (INSERT, renamed keys, rows restored in sync with their history); called by ff._history_row_trigger()';

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
    dst_env     text;
    src         ff.flags := ff._flag_row(copy_flag.key, src_env);
    dst_key     text := COALESCE(new_key, copy_flag.key);
    result      ff.flags;
BEGIN
    -- (1.17) a NULL target is refused, as by ff.copy_environment: it copied
    -- into the default environment
    IF to_environment IS NULL THEN
        RAISE EXCEPTION 'to_environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to copy the flag into.';
    END IF;
    dst_env := ff._resolve_environment(to_environment);
    -- (a NULL overwrite used to skip the check below, and so overwrite)
    IF overwrite IS NULL THEN
        RAISE EXCEPTION 'overwrite must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass overwrite => true to replace an existing flag, or false (the default) to refuse it.';
    END IF;
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

COMMENT ON FUNCTION ff.copy_flag(text, text, text, boolean, text) IS
'Copies a flag to another environment (or to new_key), copying the segments its targeting references that the target lacks; overwrite => true replaces an existing flag';

-- ff.changes_since: every version after since_version, in version order; a poller that remembers
--   the last version it saw never misses one
CREATE OR REPLACE FUNCTION ff.changes_since(since_version bigint)
RETURNS SETOF ff.versions
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (1.17) NULL is 22004, as elsewhere (it was 22023)
    IF since_version IS NULL THEN
        RAISE EXCEPTION 'since_version must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass 0 to read the whole history, or the last version you have seen.';
    END IF;
    IF since_version < 0 THEN
        RAISE EXCEPTION 'invalid version %: versions are >= 0', since_version
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass 0 to read the whole history, or the last version you have seen.';
    END IF;
    RETURN QUERY SELECT v.* FROM ff.versions AS v WHERE v.version > since_version ORDER BY v.version;
END;
$$;
COMMENT ON FUNCTION ff.changes_since(bigint) IS
    'Every version after since_version, in version order; a poller that remembers the last version it saw never misses one';

-- ff.schedule_rollout schedules a progressive rollout: one scheduled
-- change per percentage, step apart from start_at, each writing the rule
-- ff.set_rollout writes (computed now, from the flag's variants now).
CREATE OR REPLACE FUNCTION ff.schedule_rollout(flag_key text, percentages numeric[], start_at timestamptz,
                                    step interval DEFAULT '1 day', environment text DEFAULT NULL,
                                    variant text DEFAULT NULL, otherwise text DEFAULT NULL,
                                    bucket_by text DEFAULT NULL, comment text DEFAULT NULL)
RETURNS SETOF ff.scheduled_changes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._resolve_environment(schedule_rollout.environment);
    n           integer := COALESCE(cardinality(percentages), 0);
BEGIN
    IF flag_key IS NULL OR start_at IS NULL OR step IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN flag_key IS NULL THEN 'flag key' WHEN start_at IS NULL THEN 'start_at' ELSE 'step' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT * FROM ff.schedule_rollout(''checkout'', ''{10, 25, 50, 100}'', now() + interval ''1 hour'', interval ''1 day'');';
    END IF;
    -- (1.17) NULL is 22004, as for the other arguments; a 2-D array got
    -- array_position's "searching for elements in multidimensional arrays
    -- is not supported"
    IF percentages IS NULL THEN
        RAISE EXCEPTION 'the percentages of a rollout of flag "%" must not be NULL', flag_key
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example ''{10, 25, 50, 100}'': one scheduled change per percentage, step apart.';
    END IF;
    IF array_ndims(percentages) > 1 THEN
        RAISE EXCEPTION 'the percentages of a rollout of flag "%" must be a one-dimensional array, not %', flag_key, percentages
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''{10, 25, 50, 100}'': one scheduled change per percentage, step apart.';
    END IF;
    IF n = 0 OR array_position(percentages, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'the percentages of a rollout of flag "%" must be a non-empty array without NULLs', flag_key
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example ''{10, 25, 50, 100}'': one scheduled change per percentage, step apart.';
    END IF;
    IF n > 1 AND step <= interval '0' THEN
        RAISE EXCEPTION 'the step of a rollout of flag "%" must be positive, not %', flag_key, step
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The changes run at start_at, start_at + step, start_at + 2 * step, ...';
    END IF;
    FOR i IN 1 .. n LOOP
        RETURN QUERY
        SELECT * FROM ff.schedule_change(
            flag_key,
            jsonb_build_object('targeting', ff._rollout_rule(flag_key, percentages[i], env, variant, otherwise, bucket_by)),
            start_at + (i - 1) * step, env,
            format('rollout %s%% (step %s of %s)', percentages[i], i, n) || COALESCE(': ' || comment, ''));
    END LOOP;
END;
$$;

COMMENT ON FUNCTION ff.schedule_rollout(text, numeric[], timestamptz, interval, text, text, text, text, text) IS
'Schedules a progressive rollout: one scheduled change per percentage, step apart from start_at, each writing the rule ff.set_rollout writes; returns the scheduled changes';

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
                      -- (1.17) the shared HINT: no suggestion to create a
                      -- name that breaks the name rule
                      || ff._create_hint('segment', missing, environment);
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._check_segment_refs(text, text[], jsonb, text, text, text) IS
'Internal: raises foreign_key_violation when a rule references a segment missing from the environment (owner_segment: the segment whose rule it is)';

-- ff._validate_environment is the trigger function of ff_10_validate_environments.
CREATE OR REPLACE FUNCTION ff._validate_environment()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seed        ff.environments;
    nflags      bigint;
    nsegs       bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.is_default THEN
            RAISE EXCEPTION 'cannot delete environment "%": it is the default environment', OLD.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Functions called without an environment, and ff.environment = '''', use the default environment.',
                      HINT = 'Make another environment the default first: SELECT ff.set_default_environment(''name'');';
        END IF;
        IF OLD.protected THEN
            RAISE EXCEPTION 'cannot delete environment "%": it is protected', OLD.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Unprotect it first: UPDATE ff.environments SET protected = false WHERE name = %L;', OLD.name);
        END IF;
        SELECT count(*) INTO nflags FROM ff.flags AS f WHERE f.environment = OLD.name;
        SELECT count(*) INTO nsegs FROM ff.segments AS s WHERE s.environment = OLD.name;
        IF nflags > 0 OR nsegs > 0 THEN
            RAISE EXCEPTION 'cannot delete environment "%": it still has % flag(s) and % segment(s)', OLD.name, nflags, nsegs
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = format('Delete them first, or use SELECT ff.delete_environment(%L, force => true);', OLD.name);
        END IF;
        RETURN OLD;
    END IF;

    IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
        PERFORM ff._check_name('environment name', NEW.name);
    END IF;

    -- A dump of the configuration tables contains the "development" row;
    -- restoring it into a fresh CREATE EXTENSION, whose untouched
    -- "development" row is already there, takes the row over instead of
    -- failing with a duplicate key.
    IF TG_OP = 'INSERT' THEN
        SELECT * INTO seed FROM ff.environments AS e WHERE e.name = NEW.name;
        IF FOUND AND ff._environment_is_pristine_seed(seed) THEN
            IF NEW.is_default THEN
                UPDATE ff.environments SET is_default = false
                 WHERE is_default AND name <> NEW.name;
            END IF;
            PERFORM ff._check_metadata(NEW.metadata, format('environment "%s"', NEW.name));
            UPDATE ff.environments
               SET is_default = NEW.is_default, protected = NEW.protected,
                   metadata = NEW.metadata, description = NEW.description,
                   created_at = NEW.created_at, updated_at = NEW.updated_at
             WHERE name = NEW.name;
            RETURN NULL;
        END IF;
    END IF;

    -- (1.17) a NULL name is left to the history trigger's 23502, which
    -- names the row; it met the rename check first
    IF TG_OP = 'UPDATE' AND NEW.name IS DISTINCT FROM OLD.name AND NEW.name IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = OLD.name)
           OR EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = OLD.name) THEN
            RAISE EXCEPTION 'cannot rename environment "%" to "%": it has flags or segments', OLD.name, NEW.name
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = format('Copy it with SELECT ff.copy_environment(%L, %L); and then delete the old one.',
                                    OLD.name, NEW.name);
        END IF;
    END IF;

    IF TG_OP = 'INSERT' OR NEW.metadata IS DISTINCT FROM OLD.metadata THEN
        PERFORM ff._check_metadata(NEW.metadata, format('environment "%s"', NEW.name));
    END IF;

    -- at most one default: making an environment the default demotes the
    -- previous one
    IF NEW.is_default AND (TG_OP = 'INSERT' OR NOT OLD.is_default) THEN
        UPDATE ff.environments SET is_default = false
         WHERE is_default AND name IS DISTINCT FROM NEW.name;
    END IF;

    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._validate_environment() IS
'Trigger function of ff_10_validate_environments: name rule, flat metadata, one default, protected deletes';

-- ff.create_flag creates a flag; without variants it is a boolean flag
-- with variants "on"/"off" that defaults to "off".
CREATE OR REPLACE FUNCTION ff.create_flag(key text,
                               variants jsonb DEFAULT '{"on": true, "off": false}',
                               default_variant text DEFAULT NULL,
                               environment text DEFAULT NULL,
                               targeting jsonb DEFAULT NULL,
                               enabled boolean DEFAULT true,
                               description text DEFAULT NULL,
                               tags text[] DEFAULT '{}',
                               owner text DEFAULT NULL,
                               metadata jsonb DEFAULT '{}')
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(create_flag.environment);
    dv          text := create_flag.default_variant;
    result      ff.flags;
BEGIN
    IF create_flag.key IS NULL THEN
        RAISE EXCEPTION 'flag key must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.create_flag(''new-checkout'');';
    END IF;
    -- (1.17) a NULL is no choice: it created an enabled flag
    IF enabled IS NULL THEN
        RAISE EXCEPTION 'enabled must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass enabled => true (the default) or false for flag "%s".', create_flag.key);
    END IF;
    IF EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = env AND f.key = create_flag.key) THEN
        RAISE EXCEPTION 'flag "%" already exists in environment "%"', create_flag.key, env
            USING ERRCODE = 'unique_violation',
                  HINT = 'Change it with ff.set_targeting(), ff.set_default_variant(), ff.enable_flag()/ff.disable_flag() or UPDATE ff.flags, or remove it with ff.delete_flag().';
    END IF;
    IF dv IS NULL AND create_flag.variants = '{"on": true, "off": false}'::jsonb THEN
        dv := 'off';
    END IF;
    INSERT INTO ff.flags (environment, key, state, variants, default_variant, targeting,
                          description, tags, owner, metadata)
    VALUES (env, create_flag.key,
            CASE WHEN enabled THEN 'ENABLED' ELSE 'DISABLED' END,
            create_flag.variants, dv, create_flag.targeting, create_flag.description,
            COALESCE(create_flag.tags, '{}'), create_flag.owner, COALESCE(create_flag.metadata, '{}'))
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.create_flag(text, jsonb, text, text, jsonb, boolean, text, text[], text, jsonb) IS
'Creates a flag; by default a boolean flag with variants on/off, default variant off, enabled, no targeting; the type is derived from the variants';

-- ff.add_segment_keys adds targeting keys to a segment's include list (or,
-- with excluded => true, to its exclude list), moving keys already on the
-- other list.
CREATE OR REPLACE FUNCTION ff.add_segment_keys(segment text, keys text[], environment text DEFAULT NULL,
                                    excluded boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(add_segment_keys.environment);
    n           integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = env AND s.name = add_segment_keys.segment) THEN
        PERFORM ff._segment_not_found(add_segment_keys.segment, env);
    END IF;
    -- (1.17) a NULL is no choice: it put the keys on the include list
    IF add_segment_keys.excluded IS NULL THEN
        RAISE EXCEPTION 'excluded must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass excluded => false (the default) to include the keys in segment "%s", or true to exclude them.',
                                add_segment_keys.segment);
    END IF;
    IF array_position(keys, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'targeting keys for segment "%" in environment "%" contain NULL', add_segment_keys.segment, env
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Remove the NULL elements from the array.';
    END IF;
    INSERT INTO ff.segment_keys AS k (environment, segment, targeting_key, excluded)
    SELECT DISTINCT env, add_segment_keys.segment, t, add_segment_keys.excluded
      FROM unnest(keys) AS t
    ON CONFLICT (environment, segment, targeting_key) DO UPDATE SET excluded = EXCLUDED.excluded
     WHERE k.excluded IS DISTINCT FROM EXCLUDED.excluded;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;

COMMENT ON FUNCTION ff.add_segment_keys(text, text[], text, boolean) IS
'Adds targeting keys to a segment''s include list, or exclude list with excluded => true; returns the number of keys added or moved';

-- ff.request_change asks for a change of a flag in an environment with an
-- approval rule: checked now as the write would be (a dry run through the
-- gate, rolled back), by a role that could make it but for the rule.
CREATE OR REPLACE FUNCTION ff.request_change(flag_key text, draft jsonb, environment text DEFAULT NULL,
                                  comment text DEFAULT NULL)
RETURNS ff.change_requests
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'error'
SET check_function_bodies = on
AS $$
DECLARE
    actor       name := ff._actor();
    env         text;
    result      ff.change_requests;
BEGIN
    IF flag_key IS NULL OR draft IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN flag_key IS NULL THEN 'flag key' ELSE 'draft' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.request_change(''checkout'', ''{"state": "ENABLED"}'', ''production'', comment => ''launch'');';
    END IF;
    env := ff._resolve_environment(environment);
    IF ff._approvals_required(env) = 0 THEN
        RAISE EXCEPTION 'environment "%" does not require approvals', env
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Make the change directly (ff.apply_draft()), or have an ff administrator require approvals: SELECT ff.require_approvals(%L, 1);', env);
    END IF;
    -- the requester could make the change, but for the approval rule
    PERFORM ff._check_may_change(actor, env, flag_key, 'request a change of');
    -- the draft as saving it now would check it, with the requester's
    -- privileges; rolled back at once
    PERFORM ff._apply_approved_draft(actor, flag_key, draft, env, NULL, true);
    INSERT INTO ff.change_requests AS c (environment, flag_key, draft, comment, base_version,
                                         requested_by, requested_session_user)
    VALUES (env, flag_key, draft, request_change.comment, ff._flag_version(env, flag_key),
            actor, SESSION_USER)
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.request_change(text, jsonb, text, text) IS
'Requests a change of a flag (a draft, as ff.apply_draft saves it) in an environment that requires approvals; checked now; returns the request';

-- ff.create_environment creates an environment (a flagd flag set).
CREATE OR REPLACE FUNCTION ff.create_environment(name text, description text DEFAULT NULL,
                                      metadata jsonb DEFAULT '{}', make_default boolean DEFAULT false)
RETURNS ff.environments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    result      ff.environments;
BEGIN
    IF create_environment.name IS NULL THEN
        RAISE EXCEPTION 'environment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.create_environment(''staging'');';
    END IF;
    IF EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = create_environment.name) THEN
        RAISE EXCEPTION 'environment "%" already exists', create_environment.name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Pick another name, or copy flags into it with ff.copy_environment() / ff.copy_flag().';
    END IF;
    INSERT INTO ff.environments (name, description, metadata, is_default)
    VALUES (create_environment.name, create_environment.description,
            COALESCE(create_environment.metadata, '{}'), COALESCE(make_default, false))
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.create_environment(text, text, jsonb, boolean) IS
'Creates an environment (a flagd flag set) with optional description, flag-set metadata, and optionally makes it the default';

-- ff.copy_environment copies every segment and flag of one environment
-- into another, creating the target when it does not exist.
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
        RAISE EXCEPTION 'to_environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to copy into; it is created when it does not exist.';
    END IF;
    -- (a NULL overwrite used to skip the clash check, and so overwrite)
    IF overwrite IS NULL THEN
        RAISE EXCEPTION 'overwrite must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass overwrite => true to replace same-named flags and segments, or false (the default) to refuse them.';
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

COMMENT ON FUNCTION ff.copy_environment(text, text, boolean) IS
'Copies all segments (with keys) and flags of an environment into another (created if missing); returns the number of flags copied; overwrite => true replaces same-named ones';

-- ff.create_segment creates a segment: a rule and/or explicit lists of
-- included and excluded targeting keys.
CREATE OR REPLACE FUNCTION ff.create_segment(name text, rule jsonb DEFAULT NULL, environment text DEFAULT NULL,
                                  description text DEFAULT NULL,
                                  include text[] DEFAULT '{}', exclude text[] DEFAULT '{}')
RETURNS ff.segments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(create_segment.environment);
    result      ff.segments;
BEGIN
    IF create_segment.name IS NULL THEN
        RAISE EXCEPTION 'segment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.create_segment(''beta-testers'', include => ''{user-1,user-2}'');';
    END IF;
    IF EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = env AND s.name = create_segment.name) THEN
        RAISE EXCEPTION 'segment "%" already exists in environment "%"', create_segment.name, env
            USING ERRCODE = 'unique_violation',
                  HINT = 'Change it with ff.set_segment_rule(), ff.add_segment_keys() and ff.remove_segment_keys().';
    END IF;
    IF COALESCE(include, '{}') && COALESCE(exclude, '{}') THEN
        RAISE EXCEPTION 'segment "%" in environment "%" cannot both include and exclude %', create_segment.name, env,
            (SELECT string_agg(format('"%s"', k), ', ') FROM (SELECT unnest(include) INTERSECT SELECT unnest(exclude)) AS x(k))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A targeting key is either included or excluded.';
    END IF;
    INSERT INTO ff.segments (environment, name, rule, description)
    VALUES (env, create_segment.name, create_segment.rule, create_segment.description)
    RETURNING * INTO result;
    PERFORM ff.add_segment_keys(create_segment.name, include, env, false);
    PERFORM ff.add_segment_keys(create_segment.name, exclude, env, true);
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.create_segment(text, jsonb, text, text, text[], text[]) IS
'Creates a segment: a JSON Logic rule (truthy = member) and/or included and excluded targeting keys; flags use it with {"in_segment": "name"}';

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
CREATE OR REPLACE FUNCTION ff._apply_recipe(level text, grantee regrole, revoke boolean)
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

-- ff.create_publication: creates a publication of the configuration and its history
CREATE OR REPLACE FUNCTION ff.create_publication(name text DEFAULT 'ff_config')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (1.17) NULL is 22004, as elsewhere
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'publication name must not be NULL or empty'
            USING ERRCODE = CASE WHEN name IS NULL THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END,
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
COMMENT ON FUNCTION ff.create_publication(text) IS
    'Creates a publication of ff.versions, ff.environments, ff.flags, ff.segments and ff.segment_keys (the history and the configuration) for regional subscribers; returns its name';

-- Approvals (1.16; src/sql/089_approvals.sql): the gate's helpers, here
-- because the protection triggers below call them.
--
-- ff._approvals_required is the gate's question: how many approvals a
-- change of the environment needs (0: it has no rule; ff.approval_rules
-- is created with the rest of the approvals).  PUBLIC's, like
-- ff._environment_protection: the protection triggers of every writer ask
-- it.  C (src/ff_schedule.c) from 1.17: it reads the rule as last
-- committed, so that a rule set after a writer's snapshot stops it too (it
-- was a SECURITY DEFINER function reading the transaction's snapshot).
CREATE OR REPLACE FUNCTION ff._approvals_required(environment text)
RETURNS integer
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_approvals_required';

COMMENT ON FUNCTION ff._approvals_required(text) IS
'Internal: how many approvals a change of the environment needs (0: no approval rule), as last committed; asked by the protection triggers of any writer';

-- ff._scheduled_changes_guard is the trigger that keeps ff.scheduled_changes
-- honest for raw DML as for the functions:
--   INSERT: created_by is current_user, the change is pending, run_at is
--     not in the past, and the change could be made now: the creator may
--     make it, and the draft saves (a dry run of ff.apply_draft, rolled
--     back);
--   UPDATE: only a pending change changes, and only its status (with
--     finished_at, finished_by, version and error): to cancelled by a role
--     that may make the change (or its creator), to applied or failed by
--     the runner (the extension's owner);
-- the rows of a pg_dump restore (ff._restoring()) are loaded as they were.
CREATE OR REPLACE FUNCTION ff._scheduled_changes_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._restoring() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.created_by IS DISTINCT FROM CURRENT_USER THEN
            RAISE EXCEPTION 'a scheduled change is created by current_user ("%"), not "%"', CURRENT_USER, NEW.created_by
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Leave created_by out: it is filled in, and the change is applied with the privileges of its creator.';
        END IF;
        IF NEW.status <> 'pending' OR NEW.finished_at IS NOT NULL OR NEW.finished_by IS NOT NULL
           OR NEW.version IS NOT NULL OR NEW.error IS NOT NULL THEN
            RAISE EXCEPTION 'a new scheduled change must be pending'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Leave status, finished_at, finished_by, version and error out; ff.schedule_change() fills in the rest.';
        END IF;
        NEW.environment := ff._resolve_environment(NEW.environment);
        -- (1.17) 'infinity' never comes: a change that never runs is no plan
        IF NOT pg_catalog.isfinite(NEW.run_at) THEN
            RAISE EXCEPTION 'cannot schedule a change of flag "%" in environment "%" at %',
                NEW.flag_key, NEW.environment, NEW.run_at
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'run_at is a finite time, for example now() + interval ''1 day''.';
        END IF;
        IF NEW.run_at < pg_catalog.now() THEN
            RAISE EXCEPTION 'cannot schedule a change of flag "%" in environment "%" in the past',
                NEW.flag_key, NEW.environment
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('run_at is %s; now() is %s.', NEW.run_at, pg_catalog.now()),
                      HINT = 'run_at is a timestamp with time zone no earlier than now(); to change the flag now, use ff.apply_draft().';
        END IF;
        PERFORM ff._check_may_change(CURRENT_USER, NEW.environment, NEW.flag_key, 'schedule a change of');
        -- the draft as saving it now would check it: ff.apply_draft in a
        -- subtransaction that is always rolled back, so that a change that
        -- could not be made now is refused now, with the write's own error
        BEGIN
            PERFORM ff.apply_draft(NEW.flag_key, NEW.draft, NEW.environment);
            RAISE EXCEPTION USING ERRCODE = 'FF001';
        EXCEPTION WHEN SQLSTATE 'FF001' THEN
            NULL;
        END;
        NEW.created_at := pg_catalog.now();
        RETURN NEW;
    END IF;

    -- UPDATE
    IF OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'scheduled change % is % and cannot change', OLD.id, OLD.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It was %s at %s by %s.', OLD.status, OLD.finished_at, OLD.finished_by),
                  HINT = 'Schedule a new change with ff.schedule_change().';
    END IF;
    IF (NEW.id, NEW.environment, NEW.flag_key, NEW.draft, NEW.run_at, NEW.comment, NEW.created_by, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.environment, OLD.flag_key, OLD.draft, OLD.run_at, OLD.comment, OLD.created_by, OLD.created_at) THEN
        RAISE EXCEPTION 'scheduled change % cannot be edited', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only the status of a pending change changes.',
                  HINT = format('Cancel it with SELECT ff.cancel_scheduled_change(%s); and schedule a new one.', OLD.id);
    END IF;
    IF NEW.status = 'cancelled' THEN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS r
                        WHERE r.rolname = OLD.created_by AND pg_catalog.pg_has_role(CURRENT_USER, r.oid, 'USAGE'))
           AND NOT ff._is_extension_owner(CURRENT_USER) THEN
            PERFORM ff._check_may_change(CURRENT_USER, OLD.environment, OLD.flag_key, 'cancel a scheduled change of');
            -- (1.17) with an approval rule, a change is an ff
            -- administrator's, and so is cancelling one (1.16 let the
            -- members of the allowed roles cancel them)
            IF ff._approvals_required(OLD.environment) > 0 AND NOT ff._is_environment_admin(CURRENT_USER) THEN
                RAISE EXCEPTION 'permission denied to cancel scheduled change % of flag "%" in environment "%"',
                                OLD.id, OLD.flag_key, OLD.environment
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = format('Environment "%s" takes changes only through approved change requests; its scheduled changes are cancelled by their creator (%s) and ff administrators.',
                                          OLD.environment, OLD.created_by),
                          HINT = 'Ask the creator or an ff administrator to cancel it.';
            END IF;
        END IF;
        NEW.finished_at := pg_catalog.now();
        NEW.finished_by := CURRENT_USER;
        NEW.version := NULL;
        NEW.error := NULL;
    ELSIF NEW.status IN ('applied', 'failed') THEN
        IF NOT ff._is_extension_owner(CURRENT_USER) THEN
            RAISE EXCEPTION 'permission denied to mark scheduled change % %', OLD.id, NEW.status
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'ff.run_scheduled_changes() applies the changes that are due.';
        END IF;
        NEW.finished_at := COALESCE(NEW.finished_at, pg_catalog.now());
    ELSE
        -- still pending: nothing may change (and an UPDATE that changes
        -- nothing would only lock the row against the runner)
        RAISE EXCEPTION 'scheduled change % cannot be edited', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only the status of a pending change changes: to cancelled, or (by the runner) to applied or failed.',
                  HINT = format('Cancel it with SELECT ff.cancel_scheduled_change(%s);', OLD.id);
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._scheduled_changes_guard() IS
'Trigger ff_10_guard on ff.scheduled_changes: checks a new change (creator, draft, privileges, time) and lets only the status of a pending change change';

-- ff.apply_change applies an approved request: by its requester, one of
-- its approvers or an ff administrator; with the requester's privileges
-- (a protection or privilege lost since stops it); only over the flag
-- version it was requested against, and only while the rule's count of
-- approvals is still met.
CREATE OR REPLACE FUNCTION ff.apply_change(id bigint)
RETURNS ff.change_requests
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'error'
SET check_function_bodies = on
AS $$
DECLARE
    actor       name := ff._actor();
    r           ff.change_requests := ff._change_request_row(apply_change.id);
    needed      integer;
    counting    bigint;
    approvers   text;
    now_version bigint;
    v           bigint;
    saved       text := pg_catalog.current_setting('ff.change_comment', true);
BEGIN
    -- (1.17) the writer lock before the rule is read: a rule being changed
    -- (its statements take the lock too) is committed and seen, or waits
    -- until this change is made
    PERFORM ff._history_next();
    needed := ff._approvals_required(r.environment);
    counting := ff._counting_approvals(r.reviews, r.environment);
    -- (1.17) a pending request whose approvals meet the rule as it is now
    -- (the rule was lowered since its last review) is applied as approved
    IF r.status = 'pending' AND needed = 0 THEN
        RAISE EXCEPTION 'change request % is pending and cannot be applied', r.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Environment "%s" no longer requires approvals, and the request was never approved.', r.environment),
                  HINT = format('Make the change directly, and withdraw the request: SELECT ff.withdraw_change(%s);', r.id);
    ELSIF r.status NOT IN ('pending', 'approved') OR (r.status = 'pending' AND counting < needed) THEN
        RAISE EXCEPTION 'change request % is % and cannot be applied', r.id, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = CASE WHEN r.status = 'pending'
                                THEN format('It has %s of the %s approvals it needs.', counting, needed)
                                ELSE format('It was %s at %s by %s.', r.status, r.finished_at, r.finished_by) END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS o
                    WHERE o.rolname = r.requested_by AND pg_catalog.pg_has_role(actor, o.oid, 'MEMBER'))
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(r.reviews) AS x WHERE x ->> 'role' = actor)
       AND NOT ff._is_environment_admin(actor) THEN
        RAISE EXCEPTION 'role "%" may not apply change request %', actor, r.id
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Its requester, its approvers and ff administrators apply it.';
    END IF;
    IF needed > counting THEN
        RAISE EXCEPTION 'change request % no longer has the approvals environment "%" requires', r.id, r.environment
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The rule now asks for %s approval(s) by its reviewers; the request has %s that still count.', needed, counting),
                  HINT = format('Withdraw it and request the change again: SELECT ff.withdraw_change(%s);', r.id);
    END IF;
    -- the flag's row is locked before its version is compared, so that a
    -- concurrent change either commits first (and is seen here) or waits
    SELECT f.version INTO now_version FROM ff.flags AS f
     WHERE f.environment = r.environment AND f.key = r.flag_key
       FOR UPDATE;
    IF now_version IS DISTINCT FROM r.base_version THEN
        RAISE EXCEPTION 'flag "%" in environment "%" changed since change request % was made', r.flag_key, r.environment, r.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The request was reviewed against version %s of the flag; it is now %s.',
                                  COALESCE(r.base_version::text, 'none (no flag)'), COALESCE(now_version::text, 'none (deleted)')),
                  HINT = format('Withdraw it (SELECT ff.withdraw_change(%s);) and request the change again over the flag as it is now.', r.id);
    END IF;
    SELECT string_agg(x ->> 'role', ', ' ORDER BY o) INTO approvers
      FROM pg_catalog.jsonb_array_elements(r.reviews) WITH ORDINALITY AS e (x, o)
     WHERE x ->> 'decision' = 'approve';
    v := ff._apply_approved_draft(r.requested_by, r.flag_key, r.draft, r.environment,
                                  pg_catalog.format('change request %s by %s, approved by %s', r.id, r.requested_by, approvers)
                                  || COALESCE(': ' || r.comment, ''),
                                  false);
    PERFORM pg_catalog.set_config('ff.change_comment', COALESCE(saved, ''), true);
    UPDATE ff.change_requests AS c
       SET status = 'applied', finished_at = pg_catalog.clock_timestamp(), finished_by = actor, version = v
     WHERE c.id = r.id
    RETURNING * INTO r;
    RETURN r;
END;
$$;

COMMENT ON FUNCTION ff.apply_change(bigint) IS
'Applies an approved change request with its requester''s privileges, if the flag has not changed since it was requested; returns it';

-- ff.approve_change approves (ff.reject_change rejects) a pending request:
-- by a role that may approve in its environment, other than the requester
-- (neither its role nor its login), once per role.
CREATE OR REPLACE FUNCTION ff._review_change(request_id bigint, decision text, review_comment text)
RETURNS ff.change_requests
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    actor       name := ff._actor();
    r           ff.change_requests := ff._change_request_row(request_id);
    needed      integer;
    approvals   integer;
BEGIN
    IF r.status = 'approved' THEN
        -- (1.17) the HINT says whether it can still be applied under the
        -- rule as it is now
        RAISE EXCEPTION 'change request % is already approved', r.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only pending requests are reviewed.',
                  HINT = CASE WHEN ff._approvals_required(r.environment)
                                   > ff._counting_approvals(r.reviews, r.environment)
                              THEN format('Its approvals no longer meet the rule as it is now: withdraw it (SELECT ff.withdraw_change(%s);) and request the change again.', r.id)
                              ELSE format('Apply it: SELECT ff.apply_change(%s);', r.id) END;
    ELSIF r.status <> 'pending' THEN
        RAISE EXCEPTION 'change request % is % and cannot be reviewed', r.id, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It was %s at %s by %s.', r.status, r.finished_at, r.finished_by);
    END IF;
    needed := ff._approvals_required(r.environment);
    IF needed = 0 THEN
        RAISE EXCEPTION 'environment "%" no longer requires approvals', r.environment
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Withdraw change request %s and make the change directly.', r.id);
    END IF;
    IF NOT ff._may_approve(actor, r.environment) THEN
        RAISE EXCEPTION 'role "%" may not review change requests of environment "%"', actor, r.environment
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = (SELECT CASE WHEN cardinality(a.approver_roles) > 0
                                   THEN 'Reviewers are members of ' || (SELECT string_agg(format('"%s"', x), ', ' ORDER BY x) FROM unnest(a.approver_roles) AS x) || '.'
                                   ELSE 'Reviewers are ff administrators and members of the environment''s allowed roles.' END
                              FROM ff.approval_rules AS a WHERE a.environment = r.environment),
                  HINT = 'Ask an ff administrator; SELECT * FROM ff.approval_rules shows the rules.';
    END IF;
    IF actor = r.requested_by OR SESSION_USER = r.requested_session_user THEN
        RAISE EXCEPTION 'change request % cannot be reviewed by its requester', r.id
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It was requested by role "%s" (session user "%s"); you act as role "%s" (session user "%s").',
                                  r.requested_by, r.requested_session_user, actor, SESSION_USER),
                  HINT = CASE WHEN decision = 'approve' THEN 'Someone else must approve it.'
                              ELSE format('Withdraw it instead: SELECT ff.withdraw_change(%s);', r.id) END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(r.reviews) AS v
                WHERE v ->> 'role' = actor OR v ->> 'session_user' = SESSION_USER) THEN
        RAISE EXCEPTION 'change request % was already approved by role "%" or from login "%"', r.id, actor, SESSION_USER
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Each approval must come from another role and another login; it has %s of %s.',
                                  ff._counting_approvals(r.reviews, r.environment), needed),
                  HINT = 'Someone else must approve it.';
    END IF;
    r.reviews := r.reviews || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'role', actor, 'session_user', SESSION_USER, 'decision', decision,
        'comment', review_comment, 'at', pg_catalog.clock_timestamp()));
    IF decision = 'reject' THEN
        r.status := 'rejected';
        r.finished_at := pg_catalog.clock_timestamp();
        r.finished_by := actor;
    ELSE
        approvals := ff._counting_approvals(r.reviews, r.environment);
        IF approvals >= needed THEN
            r.status := 'approved';
        END IF;
    END IF;
    UPDATE ff.change_requests AS c
       SET status = r.status, reviews = r.reviews, finished_at = r.finished_at, finished_by = r.finished_by
     WHERE c.id = r.id
    RETURNING * INTO r;
    RETURN r;
END;
$$;

COMMENT ON FUNCTION ff._review_change(bigint, text, text) IS
'Internal: records an approval or a rejection of a pending change request by the session''s role';

-- ---------------------------------------------------------------------
-- Experiment analysis (1.17)
--
-- ff.experiment_results(query, control) compares the variants of an
-- experiment on an outcome, next to the business data: the caller's query
-- returns one row per unit (a user) with its variant, its outcome (a
-- boolean conversion or a number such as revenue) and optionally a
-- pre-period covariate (CUPED).  PostgreSQL aggregates the rows per
-- variant; ff._experiment_statistics turns the aggregates into lifts,
-- intervals, p-values, chances to beat the control and a sample-ratio
-- check.  The numerical helpers are C (src/ff_experiment.c).
--
-- Everything runs with the caller's rights: the functions are SECURITY
-- INVOKER and read nothing of schema ff, so PUBLIC may call them.
-- ---------------------------------------------------------------------

-- ff._single_statement returns the text of the one statement in a query
-- string, without the semicolons and empty statements around it (C).
CREATE FUNCTION ff._single_statement(query text)
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_single_statement';

COMMENT ON FUNCTION ff._single_statement(text) IS
'Internal: the text of the one statement of a query string, as the parser delimits it (no surrounding semicolons or empty statements)';

-- ff._query_result_types returns the column types of a query without
-- running it (C); only a single SELECT is accepted; a domain is given as
-- its base type.
CREATE FUNCTION ff._query_result_types(query text)
RETURNS regtype[]
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'ff_query_result_types';

COMMENT ON FUNCTION ff._query_result_types(text) IS
'Internal: the column types of a query (a single SELECT, no data-modifying WITH), found by parsing it as the caller, without running it; domains as their base types';

-- ff._normal_cdf is the standard normal distribution function (C).
CREATE FUNCTION ff._normal_cdf(x double precision)
RETURNS double precision
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_normal_cdf';

COMMENT ON FUNCTION ff._normal_cdf(double precision) IS
'Internal: P(Z <= x) for a standard normal Z';

-- ff._normal_quantile is its inverse (C).
CREATE FUNCTION ff._normal_quantile(p double precision)
RETURNS double precision
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_normal_quantile';

COMMENT ON FUNCTION ff._normal_quantile(double precision) IS
'Internal: the x with P(Z <= x) = p for a standard normal Z, 0 < p < 1';

-- ff._chi_square_sf is the upper tail of the chi-square distribution (C).
CREATE FUNCTION ff._chi_square_sf(x double precision, df integer)
RETURNS double precision
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_chi_square_sf';

COMMENT ON FUNCTION ff._chi_square_sf(double precision, integer) IS
'Internal: P(X >= x) for a chi-square X with df degrees of freedom';

-- ff._experiment_statistics computes the results of an experiment from the
-- aggregates of each variant (parallel arrays, one element per variant):
-- units, the sum, mean and sample variance of the outcome, and with a
-- covariate its mean and variance and the covariance of both.  The pooled
-- figures of the CUPED coefficient are combined from the variants' (so the
-- caller's query is aggregated by one GROUP BY, which can run in
-- parallel).  One set-based statement: its cost grows with the number of
-- variants as a sort does.  See ff.experiment_results.
CREATE FUNCTION ff._experiment_statistics(
    control text, variant_names text[], unit_counts bigint[], totals double precision[],
    means double precision[], variances double precision[],
    x_means double precision[], x_variances double precision[], covariances double precision[],
    expected_split jsonb, confidence double precision)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH v AS (
        SELECT u.name, u.n, u.total, u.mean, u.var, u.x_mean, u.x_var, u.cov
          FROM unnest(variant_names, unit_counts, totals, means, variances, x_means, x_variances, covariances)
               AS u (name, n, total, mean, var, x_mean, x_var, cov)
    ),
    -- over every unit: N, the means, and the sums of squares and products
    -- (within the variants plus between them)
    grand AS (
        SELECT sum(v.n)::double precision AS n,
               sum(v.n * v.mean) / sum(v.n) AS y_mean,
               sum(v.n * v.x_mean) / sum(v.n) AS x_mean,
               count(*) AS k
          FROM v
    ),
    -- (a covariate that is constant but for rounding -- 0.1 summed in
    -- double precision -- has a variance of a few ulps, not 0: it gets no
    -- coefficient, rather than a huge one)
    pooled AS (
        SELECT CASE WHEN sum((v.n - 1) * COALESCE(v.x_var, 0) + v.n * (v.x_mean - g.x_mean) ^ 2)
                         > 1e-20 * (g.n - 1) * g.x_mean ^ 2
                     AND sum((v.n - 1) * COALESCE(v.x_var, 0) + v.n * (v.x_mean - g.x_mean) ^ 2) > 0
                    THEN sum((v.n - 1) * COALESCE(v.cov, 0) + v.n * (v.x_mean - g.x_mean) * (v.mean - g.y_mean))
                         / sum((v.n - 1) * COALESCE(v.x_var, 0) + v.n * (v.x_mean - g.x_mean) ^ 2)
                    ELSE 0 END AS theta
          FROM v, grand AS g
         GROUP BY g.n, g.x_mean
    ),
    adj AS (
        SELECT v.*,
               v.mean - p.theta * COALESCE(v.x_mean - g.x_mean, 0) AS adj_mean,
               -- the variance of the adjusted outcome; a variant of one unit has none
               CASE WHEN v.var IS NOT NULL
                    THEN greatest(v.var + p.theta ^ 2 * COALESCE(v.x_var, 0)
                                  - 2 * p.theta * COALESCE(v.cov, 0), 0) / v.n END AS se2
          FROM v, pooled AS p, grand AS g
    ),
    -- the sample-ratio check: the units per variant against the split the
    -- experiment was meant to have (equal, unless expected_split says):
    -- units in a variant the plan does not have are a mismatch for sure
    planned AS (
        SELECT e.key AS name, e.value::text::double precision AS w
          FROM jsonb_each(expected_split) AS e
         WHERE e.value::text::double precision > 0
        UNION ALL
        SELECT v.name, 1 FROM v WHERE expected_split IS NULL
    ),
    srm AS (
        SELECT CASE
                   WHEN EXISTS (SELECT FROM v WHERE v.n > 0 AND NOT EXISTS (SELECT FROM planned AS p WHERE p.name = v.name))
                   THEN 0::double precision
                   WHEN count(*) > 1
                   THEN ff._chi_square_sf(
                            sum((COALESCE(v.n, 0) - g.n * p.w / t.w) ^ 2 / (g.n * p.w / t.w)),
                            (count(*) - 1)::integer)
               END AS p_value
          FROM planned AS p
          LEFT JOIN v ON v.name = p.name
          CROSS JOIN grand AS g
          CROSS JOIN (SELECT sum(w) AS w FROM planned) AS t
    ),
    z AS (
        SELECT ff._normal_quantile((1 + confidence) / 2) AS z
    )
    SELECT a.name, a.n, a.total, a.mean, a.adj_mean, sqrt(a.var),
           cmp.lift, cmp.lift - z.z * cmp.lift_se, cmp.lift + z.z * cmp.lift_se,
           cmp.p_value, cmp.chance, srm.p_value
      FROM adj AS a
      CROSS JOIN srm
      CROSS JOIN z
      CROSS JOIN (SELECT * FROM adj WHERE adj.name = control) AS c
      LEFT JOIN LATERAL (
          SELECT d.diff,
                 CASE WHEN d.se > 0 THEN 2 * ff._normal_cdf(-abs(d.diff) / d.se)
                      WHEN d.diff = 0 THEN 1 ELSE 0 END AS p_value,
                 CASE WHEN d.se > 0 THEN ff._normal_cdf(d.diff / d.se)
                      WHEN d.diff > 0 THEN 1 WHEN d.diff < 0 THEN 0 ELSE 0.5 END AS chance,
                 -- relative to the size of the control's (adjusted) mean, so that
                 -- its sign is the difference's; the interval by the delta method,
                 -- written so that no fourth power overflows
                 CASE WHEN c.adj_mean <> 0 THEN d.diff / abs(c.adj_mean) END AS lift,
                 CASE WHEN c.adj_mean <> 0
                      THEN sqrt(a.se2 + (a.adj_mean / c.adj_mean) ^ 2 * c.se2) / abs(c.adj_mean) END AS lift_se
            FROM (SELECT a.adj_mean - c.adj_mean AS diff, sqrt(a.se2 + c.se2) AS se) AS d
           WHERE a.name <> control AND a.se2 IS NOT NULL AND c.se2 IS NOT NULL
      ) AS cmp ON true
     ORDER BY a.name <> control, a.name;
$$;

COMMENT ON FUNCTION ff._experiment_statistics(text, text[], bigint[], double precision[], double precision[], double precision[], double precision[], double precision[], double precision[], jsonb, double precision) IS
'Internal: the results of ff.experiment_results from the aggregates of each variant';

-- ff._experiment_value_sql returns the SQL expression that reads an
-- outcome or covariate column of the given type as a double precision
-- (NULL counts as 0), or raises an error for a type that is neither
-- boolean nor numeric.
CREATE FUNCTION ff._experiment_value_sql(column_ref text, column_type regtype, what text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF column_type = 'boolean'::regtype THEN
        RETURN format('CASE WHEN %s THEN 1.0::pg_catalog.float8 ELSE 0.0::pg_catalog.float8 END', column_ref);
    ELSIF column_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
                          'real'::regtype, 'double precision'::regtype, 'money'::regtype) THEN
        RETURN format('COALESCE(CAST(%s AS pg_catalog.float8), 0.0::pg_catalog.float8)',
                      CASE WHEN column_type = 'money'::regtype
                           THEN format('CAST(%s AS pg_catalog.numeric)', column_ref) ELSE column_ref END);
    END IF;
    RAISE EXCEPTION 'the % column of an experiment''s query is of type %, not boolean or a number', what, column_type
        USING ERRCODE = 'datatype_mismatch',
              HINT = 'Return a boolean (converted or not) or a number (revenue, count) per unit, for example EXISTS (SELECT FROM orders AS o WHERE o.user_id = u.id).';
END;
$$;

COMMENT ON FUNCTION ff._experiment_value_sql(text, regtype, text) IS
'Internal: the SQL expression reading an outcome or covariate column (boolean or a number) as a double precision, NULL as 0';

-- ff._experiment_results does the work of ff.experiment_results, which
-- passes the caller's search_path: the caller's query is parsed and run
-- with it (and the caller's rights: SECURITY INVOKER), everything else with
-- the pinned one.
CREATE FUNCTION ff._experiment_results(query text, control text, expected_split jsonb,
                                       confidence double precision, caller_search_path text)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    q           text;
    types       regtype[];
    sql         text;
    a           record;
    seen        text;
    example     constant text := 'For example SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id), ''off''), u.converted FROM users AS u';
BEGIN
    IF query IS NULL OR control IS NULL OR confidence IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN query IS NULL THEN 'query' WHEN control IS NULL THEN 'control' ELSE 'confidence' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT * FROM ff.experiment_results($q$SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id), ''off''), u.converted FROM users AS u$q$, control => ''off'');';
    END IF;
    -- (an interval of a confidence closer to 1 than a double tells apart
    -- from it has no quantile)
    IF NOT (confidence > 0 AND (1 + confidence) / 2 < 1) THEN
        RAISE EXCEPTION 'confidence % is not between 0 and 1 (exclusive)', confidence
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example 0.95 for 95 % intervals.';
    END IF;
    IF expected_split IS NOT NULL AND (
           jsonb_typeof(expected_split) <> 'object'
           OR NOT EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                           WHERE jsonb_typeof(e.value) = 'number' AND e.value::text::numeric > 0)
           OR EXISTS (SELECT FROM jsonb_each(expected_split) AS e
                       WHERE jsonb_typeof(e.value) <> 'number' OR e.value::text::numeric < 0
                          OR e.value::text::numeric > 1e300
                          OR (e.value::text::numeric > 0
                              AND e.value::text::numeric < 1e-12 * (SELECT max(m.value::text::numeric)
                                                                      FROM jsonb_each(expected_split) AS m
                                                                     WHERE jsonb_typeof(m.value) = 'number'))))
    THEN
        RAISE EXCEPTION 'invalid expected_split %',
                        CASE WHEN length(expected_split::text) > 60
                             THEN left(expected_split::text, 57) || '...' ELSE expected_split::text END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It must be an object of variant names to weights: numbers from 0 to 1e300, one of them above 0, and each positive one at least a trillionth of the largest.',
                  HINT = 'For example ''{"on": 10, "off": 90}'' for a 10 % rollout; leave it out for an equal split.';
    END IF;

    -- one SELECT, of two or three columns: variant, outcome[, covariate],
    -- parsed with the caller's search_path
    q := ff._single_statement(query);
    PERFORM set_config('search_path', caller_search_path, true);
    BEGIN
        types := ff._query_result_types(q);
    EXCEPTION WHEN undefined_parameter THEN
        RAISE EXCEPTION 'the query of an experiment cannot take parameters'
            USING ERRCODE = 'undefined_parameter',
                  DETAIL = format('%s.', SQLERRM),
                  HINT = 'Write the values into the query, for example with format(''... WHERE o.created_at >= %L'', since).';
    END;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
    IF cardinality(types) NOT IN (2, 3) THEN
        RAISE EXCEPTION 'the query of an experiment returns % column%, not 2 or 3', cardinality(types),
                        CASE WHEN cardinality(types) = 1 THEN '' ELSE 's' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The columns are: the variant, the outcome (a boolean or a number) and, optionally, a covariate measured before the experiment (a number, for CUPED).',
                  HINT = example;
    END IF;
    -- the caller's query, on lines of its own (a "--" comment at its end
    -- ends there), in a frame of schema-qualified names run with the
    -- caller's search_path: one GROUP BY, which can run in parallel; units
    -- whose variant is NULL take no part (their group is filtered out
    -- above it: a WHERE on the variant would be pushed down into the
    -- caller's query and evaluate its variant expression twice)
    sql := format($f$
        SELECT pg_catalog.array_agg(s.variant ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS variants,
               pg_catalog.array_agg(s.n ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS units,
               pg_catalog.array_agg(s.total ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS totals,
               pg_catalog.array_agg(s.mean ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS means,
               pg_catalog.array_agg(s.var ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS variances,
               pg_catalog.array_agg(s.x_mean ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_means,
               pg_catalog.array_agg(s.x_var ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_variances,
               pg_catalog.array_agg(s.cov ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS covariances
          FROM (SELECT r.variant, pg_catalog.count(*) AS n,
                       pg_catalog.sum(r.y) AS total, pg_catalog.avg(r.y) AS mean,
                       pg_catalog.var_samp(r.y) AS var, pg_catalog.avg(r.x) AS x_mean,
                       pg_catalog.var_samp(r.x) AS x_var, pg_catalog.covar_samp(r.y, r.x) AS cov
                  FROM (SELECT CAST(q.variant AS pg_catalog.text) AS variant, %s AS y, %s AS x
                          FROM (
%s
                               ) AS q (variant, outcome%s)) AS r
                 GROUP BY r.variant) AS s$f$,
        ff._experiment_value_sql('q.outcome', types[2], 'outcome'),
        CASE WHEN cardinality(types) = 3
             THEN ff._experiment_value_sql('q.covariate', types[3], 'covariate') ELSE 'NULL::pg_catalog.float8' END,
        q,
        CASE WHEN cardinality(types) = 3 THEN ', covariate' ELSE '' END);
    PERFORM set_config('search_path', caller_search_path, true);
    EXECUTE sql INTO a;
    PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);

    IF a.variants IS NULL OR NOT control = ANY (a.variants) THEN
        SELECT string_agg(to_jsonb(v)::text, ', ') INTO seen
          FROM (SELECT v FROM unnest(a.variants) AS v LIMIT 20) AS v;
        RAISE EXCEPTION 'the control variant % has no units in the query''s result', to_jsonb(control)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN seen IS NULL THEN 'The query returned no row with a variant.'
                                ELSE format('The variants in the result are %s%s.', seen,
                                            CASE WHEN cardinality(a.variants) > 20
                                                 THEN format(' and %s more', cardinality(a.variants) - 20) ELSE '' END) END,
                  HINT = 'Name the variant the others are compared with, as the query returns it (control => ''off'').';
    END IF;
    -- a NaN or an infinity makes every figure NaN: refused, not reported
    IF EXISTS (SELECT FROM unnest(a.means || a.x_means) AS m
                WHERE m = 'NaN'::double precision OR abs(m) = 'Infinity'::double precision) THEN
        RAISE EXCEPTION 'the outcome or covariate of an experiment is NaN or infinite for some units'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave those units out of the query (WHERE outcome <> ''NaN'' AND abs(outcome) < ''Infinity''), or fix the data.';
    END IF;

    RETURN QUERY
    SELECT * FROM ff._experiment_statistics(control, a.variants, a.units, a.totals, a.means, a.variances,
                                            a.x_means, a.x_variances, a.covariances,
                                            expected_split, confidence);
END;
$$;

COMMENT ON FUNCTION ff._experiment_results(text, text, jsonb, double precision, text) IS
'Internal: the work of ff.experiment_results; the caller''s query is parsed and run with the caller''s search_path';

-- ff.experiment_results compares the variants of an experiment on an
-- outcome: see the README (Experiment analysis).  An SQL-standard body
-- (bound at creation) that passes the caller's search_path on.
CREATE FUNCTION ff.experiment_results(query text, control text,
                                      expected_split jsonb DEFAULT NULL,
                                      confidence double precision DEFAULT 0.95)
RETURNS TABLE (variant text, units bigint, total double precision, mean double precision,
               adjusted_mean double precision, stddev double precision, lift double precision,
               lift_low double precision, lift_high double precision, p_value double precision,
               chance_to_beat_control double precision, srm_p_value double precision)
LANGUAGE sql
BEGIN ATOMIC
    SELECT * FROM ff._experiment_results(query, control, expected_split, confidence,
                                         pg_catalog.current_setting('search_path'));
END;

COMMENT ON FUNCTION ff.experiment_results(text, text, jsonb, double precision) IS
'Compares the variants of an experiment on an outcome: the query returns variant, outcome (boolean or number) and optionally a pre-period covariate (CUPED) per unit; per variant: units, mean, lift with its interval, p-value, chance to beat the control, and a sample-ratio check';

-- ff._counting_approvals returns how many approvals of a request count
-- under the environment's rule as it is now: those of roles that may still
-- approve (1.17: one count for reviews, applies, the view and the
-- notifications; before, a review counted every approval given).
CREATE FUNCTION ff._counting_approvals(reviews jsonb, environment text)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*) FROM pg_catalog.jsonb_array_elements(reviews) AS x
     WHERE x ->> 'decision' = 'approve'
       AND ff._may_approve((x ->> 'role')::name, environment)
$$;

COMMENT ON FUNCTION ff._counting_approvals(jsonb, text) IS
'Internal: the approvals of a change request that count under the environment''s rule as it is now (by roles that may still approve)';

-- ff._approvals_truncate_guard is the trigger ff_10_guard_truncate of
-- ff.approval_rules and ff.change_requests (1.17): TRUNCATE gets around the
-- row guards, so the rules are emptied only by ff administrators (as they
-- are changed), and the log of requests never (1.16 let a role granted
-- TRUNCATE, and the owner, do both).
CREATE FUNCTION ff._approvals_truncate_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._restoring() THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'approval_rules' THEN
        IF NOT ff._is_environment_admin(CURRENT_USER) THEN
            RAISE EXCEPTION 'role "%" may not remove the approval rules', CURRENT_USER
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Only ff administrators (roles that may UPDATE ff.environments.protected) set approval rules.',
                      HINT = 'Ask an ff administrator: SELECT ff.require_approvals(''environment'', 0); removes one rule.';
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'change requests cannot be deleted'
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'Change requests are a log of what was asked, approved and applied.',
              HINT = 'Withdraw open requests with ff.withdraw_change(id).';
END;
$$;

COMMENT ON FUNCTION ff._approvals_truncate_guard() IS
'Trigger ff_10_guard_truncate on ff.approval_rules and ff.change_requests: only ff administrators empty the rules, and nobody the log of requests (1.17)';

CREATE TRIGGER ff_10_guard_truncate
    BEFORE TRUNCATE ON ff.approval_rules
    FOR EACH STATEMENT EXECUTE FUNCTION ff._approvals_truncate_guard();
CREATE TRIGGER ff_10_guard_truncate
    BEFORE TRUNCATE ON ff.change_requests
    FOR EACH STATEMENT EXECUTE FUNCTION ff._approvals_truncate_guard();

-- ---------------------------------------------------------------------
-- What is waiting for whom (1.17): a view of the open requests, and a
-- notification at each step of a request
-- ---------------------------------------------------------------------

-- ff.open_change_requests lists the requests that are pending or approved,
-- with the approvals that count under the rule as it is now, and whether
-- the flag is still at the version the request was made over.
CREATE VIEW ff.open_change_requests WITH (security_invoker = true) AS
SELECT r.id, r.environment, r.flag_key, r.status, r.requested_by, r.requested_at, r.comment,
       ff._counting_approvals(r.reviews, r.environment) AS approvals,
       ff._approvals_required(r.environment) AS approvals_required,
       COALESCE(a.approved_by, '{}') AS approved_by,
       f.version IS NOT DISTINCT FROM r.base_version AS flag_unchanged,
       r.draft
  FROM ff.change_requests AS r
  LEFT JOIN ff.flags AS f ON f.environment = r.environment AND f.key = r.flag_key
 CROSS JOIN LATERAL (
       SELECT pg_catalog.array_agg((x ->> 'role')::name ORDER BY o) AS approved_by
         FROM pg_catalog.jsonb_array_elements(r.reviews) WITH ORDINALITY AS e (x, o)
        WHERE x ->> 'decision' = 'approve') AS a
 WHERE r.status IN ('pending', 'approved');

COMMENT ON VIEW ff.open_change_requests IS
    'The open change requests (pending or approved; 1.17): approvals that count under the rule as it is now, approvals required, and whether the flag is unchanged since the request';
COMMENT ON COLUMN ff.open_change_requests.id IS 'Number of the request';
COMMENT ON COLUMN ff.open_change_requests.environment IS 'Environment of the flag';
COMMENT ON COLUMN ff.open_change_requests.flag_key IS 'Key of the flag';
COMMENT ON COLUMN ff.open_change_requests.status IS 'pending, or approved (ready to apply)';
COMMENT ON COLUMN ff.open_change_requests.requested_by IS 'The role that requested the change';
COMMENT ON COLUMN ff.open_change_requests.requested_at IS 'When the change was requested';
COMMENT ON COLUMN ff.open_change_requests.comment IS 'Why';
COMMENT ON COLUMN ff.open_change_requests.approvals IS 'Approvals by roles that may still approve under the environment''s rule';
COMMENT ON COLUMN ff.open_change_requests.approvals_required IS 'Approvals the environment''s rule asks for now (0: the rule was removed)';
COMMENT ON COLUMN ff.open_change_requests.approved_by IS 'The roles that approved, in order';
COMMENT ON COLUMN ff.open_change_requests.flag_unchanged IS 'Whether the flag is still at the version the request was made over (else it cannot be applied)';
COMMENT ON COLUMN ff.open_change_requests.draft IS 'The draft';

-- ff._change_request_notify is the trigger ff_90_notify of
-- ff.change_requests: a NOTIFY on channel ff_change_requests at each step
-- of a request (made, reviewed, approved, applied, rejected, withdrawn),
-- sent at commit, for a bot or a review screen to act on.
CREATE FUNCTION ff._change_request_notify()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event       text;
    by_role     name;
BEGIN
    IF ff._restoring() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        event := 'requested';
        by_role := NEW.requested_by;
    ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status <> 'approved' THEN
        event := NEW.status;
        by_role := NEW.finished_by;
    ELSIF jsonb_array_length(NEW.reviews) > jsonb_array_length(OLD.reviews) THEN
        -- an approval (that may complete the request)
        event := CASE WHEN NEW.status = 'approved' AND OLD.status = 'pending' THEN 'approved' ELSE 'reviewed' END;
        by_role := (NEW.reviews -> -1 ->> 'role')::name;
    ELSE
        RETURN NULL;
    END IF;
    PERFORM pg_notify('ff_change_requests',
                      jsonb_build_object('id', NEW.id, 'environment', NEW.environment, 'flag_key', NEW.flag_key,
                                         'event', event, 'status', NEW.status, 'by', by_role,
                                         'approvals', ff._counting_approvals(NEW.reviews, NEW.environment),
                                         'approvals_required', ff._approvals_required(NEW.environment))::text);
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION ff._change_request_notify() IS
'Trigger ff_90_notify on ff.change_requests: NOTIFY ff_change_requests at each step of a request (1.17)';

CREATE TRIGGER ff_90_notify
    AFTER INSERT OR UPDATE ON ff.change_requests
    FOR EACH ROW EXECUTE FUNCTION ff._change_request_notify();

COMMENT ON TRIGGER ff_90_notify ON ff.change_requests IS
    'Sends a NOTIFY on channel ff_change_requests at each step of a request (1.17)';

-- as the install script's REVOKE ALL ON ALL TABLES IN SCHEMA ff and its
-- revocation of the guard functions
REVOKE ALL ON ff.open_change_requests FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._change_request_notify() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._approvals_truncate_guard() FROM PUBLIC;

-- (1.17) approval rules take the writer lock, as configuration writes do
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.approval_rules
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();
