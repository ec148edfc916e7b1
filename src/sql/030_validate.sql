-- ---------------------------------------------------------------------
-- Write-time validation
--
-- BEFORE INSERT OR UPDATE OR DELETE row triggers ff_10_validate_<table>
-- on ff.environments, ff.flags, ff.segments and ff.segment_keys.  They run
-- before the history triggers (ff_90_*), so an invalid row never reaches
-- the history, and because they are row triggers raw DML is covered as
-- well as the ff.* administration functions.
--
-- Name rule (flag keys, environment and segment names):
--     ^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$
-- JSON paths in messages are relative to the flag as flagd sees it
-- ($.variants.on, $.defaultVariant, $.targeting.if[0], $.metadata.team).
--
-- Targeting and segment rules are compiled with ff._check_rule(rule,
-- label), which the C evaluator provides (050_evaluate.sql).
-- ---------------------------------------------------------------------

-- ff._name_pattern returns the regular expression every flag key,
-- environment name and segment name must match.
CREATE FUNCTION ff._name_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$';

COMMENT ON FUNCTION ff._name_pattern() IS
'Internal: the regular expression that flag keys, environment names and segment names must match';

-- ff._name_in_message returns a name as an error message shows it: whole
-- when it is at most 200 characters long (every valid name is), else its
-- first 64 characters and "..." (1.19: a 1,000,000-character name was
-- repeated whole in the message and the server log).
CREATE FUNCTION ff._name_in_message(name text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN length(name) <= 200 THEN name ELSE left(name, 64) || '...' END;

COMMENT ON FUNCTION ff._name_in_message(text) IS
'Internal: a name as error messages show it: whole up to 200 characters, else its first 64 and "..."';

-- ff._check_name raises an error when a flag key, environment name or
-- segment name does not follow the name rule.
CREATE FUNCTION ff._check_name(kind text, name text, context text DEFAULT '')
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR name ~ ff._name_pattern() THEN
        RETURN;
    END IF;
    RAISE EXCEPTION 'invalid % "%"%', kind, ff._name_in_message(name), context
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

-- ff._jsonb_depth_exceeds tells whether a jsonb value nests more than
-- max_depth containers, without converting it (1.11: the validation of
-- variant values).
CREATE FUNCTION ff._jsonb_depth_exceeds(value jsonb, max_depth integer)
RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_jsonb_depth_exceeds';

COMMENT ON FUNCTION ff._jsonb_depth_exceeds(jsonb, integer) IS
'Internal: whether a jsonb value nests more than max_depth containers (a scalar none, {"a": 1} one)';

-- ff._closest_name returns the candidate closest to a mistyped name (a
-- Levenshtein distance of at most a third of its length, and at most 5;
-- ties go to the first in byte order), or NULL (1.11).
CREATE FUNCTION ff._closest_name(name text, candidates text[])
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_closest_name';

COMMENT ON FUNCTION ff._closest_name(text, text[]) IS
'Internal: the candidate closest to a mistyped name (Levenshtein distance at most a third of its length, at most 5), or NULL';

-- ff._perhaps_you_meant returns the start of a HINT that names the
-- candidate closest to a mistyped name, or an empty string (1.11).
CREATE FUNCTION ff._perhaps_you_meant(name text, candidates text[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN COALESCE('Perhaps you meant "' || ff._closest_name(name, candidates) || '". ', '');

COMMENT ON FUNCTION ff._perhaps_you_meant(text, text[]) IS
'Internal: ''Perhaps you meant "<closest candidate>". '' for the HINT of a not-found error, or an empty string';

-- ff._create_hint returns the end of the HINT of a not-found error (1.17):
-- how to create the missing flag, segment or environment, in the
-- environment the caller named -- or, for a name that breaks the name rule,
-- that nothing can be named so (1.16 suggested ff.create_flag('a b'), and
-- left out the environment).
CREATE FUNCTION ff._create_hint(kind text, name text, environment text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN name IS NULL OR name !~ ff._name_pattern() THEN
        pg_catalog.format('No %s can be named so: %s starts with a letter or digit, followed by at most 199 letters, digits, ".", "_", ":" or "-".',
               kind, CASE kind WHEN 'flag' THEN 'a flag key' WHEN 'environment' THEN 'an environment name'
                               ELSE 'a ' || kind || ' name' END)
    WHEN kind = 'environment' OR environment IS NULL THEN
        pg_catalog.format('Create it with SELECT ff.create_%s(%L);', kind, name)
    ELSE pg_catalog.format('Create it with SELECT ff.create_%s(%L, environment => %L);', kind, name, environment)
END;

COMMENT ON FUNCTION ff._create_hint(text, text, text) IS
'Internal: the end of a not-found HINT: how to create the missing flag, segment or environment (in the given environment), or that the name breaks the name rule';

-- ff._existing_environments is the part of a HINT that lists the
-- environments (1.25: with none left, it said "Existing environments: .").
CREATE FUNCTION ff._existing_environments()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE('Existing environments: '
                    || (SELECT pg_catalog.string_agg(pg_catalog.format('"%s"', e.name), ', ' ORDER BY e.name)
                          FROM ff.environments AS e)
                    || '. ', 'There are no environments. ')
$$;

COMMENT ON FUNCTION ff._existing_environments() IS
'Internal: "Existing environments: ..." for a not-found HINT, or that there are none';

-- ff._variant_list is how messages list a flag's variants (1.26): the
-- first ten names in byte order, quoted and clipped, then how many there
-- are in all ("none" for none).  (1.25 listed them in three orders: the
-- collation's, jsonb's and, in C, storage order, and some messages listed
-- every name.)
CREATE FUNCTION ff._variant_list(variants jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(pg_catalog.string_agg(pg_catalog.format('"%s"', ff._name_in_message(v.k)), ', ' ORDER BY v.k COLLATE "C")
                    || CASE WHEN pg_catalog.max(v.n) > 10 THEN pg_catalog.format(', ... (%s in all)', pg_catalog.max(v.n)) ELSE '' END,
                    'none')
      FROM (SELECT k, pg_catalog.count(*) OVER () AS n,
                   pg_catalog.row_number() OVER (ORDER BY k COLLATE "C") AS i
              FROM pg_catalog.jsonb_object_keys(CASE pg_catalog.jsonb_typeof(variants) WHEN 'object' THEN variants END) AS k) AS v
     WHERE v.i <= 10
$$;

COMMENT ON FUNCTION ff._variant_list(jsonb) IS
'Internal: a flag''s variant names for a message: the first ten in byte order, quoted and clipped, and how many in all';

-- ff._environment_not_found_note is what the error for an environment name
-- that does not exist adds (1.25): the DETAIL of a deleted one (when, by
-- whom; else NULL) and the HINT: the closest name, the existing ones, and
-- how to create it -- or the rollback that restores a deleted one
-- (ff._deleted_note).
CREATE FUNCTION ff._environment_not_found_note(environment text, OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone        record;
BEGIN
    -- (PL/pgSQL: ff._deleted_note comes later in the install script)
    gone := ff._deleted_note('environment', environment, environment);
    detail := gone.detail;
    hint := ff._perhaps_you_meant(environment, ARRAY(SELECT e.name FROM ff.environments AS e))
            || ff._existing_environments()
            || COALESCE(gone.hint, ff._create_hint('environment', environment));
END;
$$;

COMMENT ON FUNCTION ff._environment_not_found_note(text) IS
'Internal: for an environment that does not exist, the DETAIL of a deleted one and the HINT: the closest name, the existing ones, and how to create it, or the rollback that restores a deleted one';

-- ff._segment_not_found_note is what the error for a segment that does not
-- exist adds (1.26), as ff._environment_not_found_note does for an
-- environment: the DETAIL of a deleted one (when, by whom; else NULL) and
-- the HINT: the closest name (not excluded, a segment's own name for its
-- rule), and the rollback that restores a deleted one or how to create it.
CREATE FUNCTION ff._segment_not_found_note(segment text, environment text, excluded text DEFAULT NULL,
                                           OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone        record;
BEGIN
    -- (PL/pgSQL: ff._deleted_note comes later in the install script)
    gone := ff._deleted_note('segment', environment, segment);
    detail := gone.detail;
    hint := ff._perhaps_you_meant(segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                  WHERE g.environment = _segment_not_found_note.environment
                                                    AND g.name IS DISTINCT FROM excluded))
            || COALESCE(gone.hint, ff._create_hint('segment', segment, environment));
END;
$$;

COMMENT ON FUNCTION ff._segment_not_found_note(text, text, text) IS
'Internal: for a segment that does not exist, the DETAIL of a deleted one and the HINT: the closest name, and the rollback that restores a deleted one or how to create it';

-- ff._actor is the role the session acts as: its role (SET ROLE, else the
-- session user).  The change-request functions record it as the history's
-- changed_by (they are SECURITY DEFINER, so current_user is the owner), and
-- ff._restoring requires it to be the extension's owner (1.23).
CREATE FUNCTION ff._actor()
RETURNS name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN pg_catalog.current_setting('role') = 'none' THEN SESSION_USER
            ELSE pg_catalog.current_setting('role')::name END;

COMMENT ON FUNCTION ff._actor() IS
'Internal: the role the change-request functions act for: the session''s role (SET ROLE, else the session user)';

-- ff._restoring tells whether the session runs a pg_dump script: dump
-- scripts set check_function_bodies = off, and load the rows of ff.flags
-- and ff.segments in an order that does not follow in_segment references,
-- so the checks between rows (referenced segments exist, no cycles) are
-- skipped then, just as PostgreSQL skips function body checks.  Any role
-- may set check_function_bodies, so only a role that could restore the
-- extension anyway -- a superuser, or a member of the role that owns schema
-- ff (the extension's owner) -- gets the restore's leniency (1.8; before,
-- an editor could store segment cycles and dangling references with it).
-- Both the current user and the session's role (SET ROLE, else the session
-- user) must be such a role: inside a SECURITY DEFINER function the current
-- user is the owner whoever called it (1.23; before, a reviewer who set
-- check_function_bodies = off approved a change request without its NOTIFY).
CREATE FUNCTION ff._restoring()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN pg_catalog.current_setting('check_function_bodies') = 'off'
   AND (SELECT pg_catalog.pg_has_role(CURRENT_USER, n.nspowner, 'MEMBER')
               AND pg_catalog.pg_has_role(ff._actor(), n.nspowner, 'MEMBER')
          FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'ff');

COMMENT ON FUNCTION ff._restoring() IS
'Internal: true while check_function_bodies is off (pg_dump scripts) for a superuser or the extension''s owner, as the current user and as the session''s role; segment reference checks between rows are skipped then';

-- ff._json_path_member appends an object member to a JSON path, quoting
-- the member name when it is not a plain identifier.
CREATE FUNCTION ff._json_path_member(path text, member text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN member ~ '^[A-Za-z_$][A-Za-z0-9_$]*$' THEN path || '.' || ff._name_in_message(member)
    -- (1.25) a long member as ff._name_in_message shows a name: a message
    -- repeated a 1 MB variant name whole
    ELSE path || '.' || pg_catalog.to_jsonb(ff._name_in_message(member))::text
END;

COMMENT ON FUNCTION ff._json_path_member(text, text) IS
'Internal: appends a member name to a JSON path for error messages ($.variants."dark mode")';

-- ff._check_metadata raises an error unless metadata is a flat JSON object
-- whose values are strings, numbers or booleans (flagd's metadata rule;
-- null values are accepted, evaluation drops them as flagd does).
CREATE FUNCTION ff._check_metadata(metadata jsonb, owner_label text, path text DEFAULT '$.metadata')
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
BEGIN
    IF metadata IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'invalid metadata for %: % is a JSON %, not an object', owner_label, path, jsonb_typeof(metadata)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Metadata is a flat JSON object, for example {"team": "payments", "ticket": 42}.';
    END IF;
    FOR m IN SELECT key, value FROM jsonb_each(metadata) LOOP
        IF jsonb_typeof(m.value) NOT IN ('string', 'number', 'boolean', 'null') THEN
            RAISE EXCEPTION 'invalid metadata for %: % is a JSON %', owner_label,
                ff._json_path_member(path, m.key), jsonb_typeof(m.value)
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Metadata values must be strings, numbers or booleans (flagd metadata is flat; null values are dropped).',
                      HINT = 'Flatten nested values into separate keys, or store them as a JSON string.';
        END IF;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION ff._check_metadata(jsonb, text, text) IS
'Internal: raises invalid_parameter_value unless the metadata is a flat object of string, number, boolean (or null) values';

-- ff._rule_walk walks a JSON Logic rule and reports, with their JSON paths,
-- the operators it uses ('operator'), the segments it references
-- ('segment'), the literal strings and booleans it can return ('result')
-- and the places where it can return something computed ('open').  It
-- only describes the rule; ff._check_rule is the authority on validity.
CREATE FUNCTION ff._rule_walk(node jsonb, path text DEFAULT '$', result_position boolean DEFAULT true)
RETURNS TABLE (item_kind text, item_path text, item_value jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    op          text;
    args        jsonb;
    opath       text;
    elem        jsonb;
    i           integer;
    n           integer;
BEGIN
    IF node IS NULL THEN
        RETURN;
    END IF;
    CASE jsonb_typeof(node)
        WHEN 'string', 'boolean' THEN
            IF result_position THEN
                RETURN QUERY SELECT 'result'::text, path, node;
            END IF;
        WHEN 'number' THEN
            IF result_position THEN
                RETURN QUERY SELECT 'open'::text, path, node;
            END IF;
        WHEN 'null' THEN
            NULL;
        WHEN 'array' THEN
            IF result_position THEN
                RETURN QUERY SELECT 'open'::text, path, NULL::jsonb;
            END IF;
            i := 0;
            FOR elem IN SELECT e FROM jsonb_array_elements(node) AS e LOOP
                RETURN QUERY SELECT * FROM ff._rule_walk(elem, path || '[' || i || ']', false);
                i := i + 1;
            END LOOP;
        ELSE
            -- an object with other than exactly one member is literal data
            IF (SELECT count(*) FROM jsonb_object_keys(node)) <> 1 THEN
                IF result_position THEN
                    RETURN QUERY SELECT 'open'::text, path, NULL::jsonb;
                END IF;
                RETURN;
            END IF;
            SELECT e.key, e.value INTO op, args FROM jsonb_each(node) AS e;
            opath := ff._json_path_member(path, op);
            RETURN QUERY SELECT 'operator'::text, opath, to_jsonb(op);

            IF jsonb_typeof(args) <> 'array' THEN
                -- unary shorthand: {"var": "x"}, {"in_segment": "beta"}
                IF op = 'in_segment' THEN
                    RETURN QUERY SELECT 'segment'::text, opath, args;
                END IF;
                IF result_position AND op NOT IN ('if', 'and', 'or') THEN
                    RETURN QUERY SELECT 'open'::text, opath, NULL::jsonb;
                END IF;
                RETURN QUERY SELECT * FROM ff._rule_walk(args, opath,
                    result_position AND op IN ('if', 'and', 'or'));
                RETURN;
            END IF;

            n := jsonb_array_length(args);
            IF op = 'in_segment' AND n > 0 THEN
                RETURN QUERY SELECT 'segment'::text, opath || '[0]', args -> 0;
            END IF;
            IF result_position AND op NOT IN ('if', 'and', 'or', 'fractional') THEN
                RETURN QUERY SELECT 'open'::text, opath, NULL::jsonb;
            END IF;
            FOR i IN 0 .. n - 1 LOOP
                elem := args -> i;
                IF op = 'if' THEN
                    RETURN QUERY SELECT * FROM ff._rule_walk(elem, opath || '[' || i || ']',
                        result_position AND (i % 2 = 1 OR (i = n - 1 AND n % 2 = 1)));
                ELSIF op IN ('and', 'or') THEN
                    RETURN QUERY SELECT * FROM ff._rule_walk(elem, opath || '[' || i || ']', result_position);
                ELSIF op = 'fractional' AND jsonb_typeof(elem) = 'array' THEN
                    -- a bucket: [variant, weight]
                    FOR j IN 0 .. jsonb_array_length(elem) - 1 LOOP
                        RETURN QUERY SELECT * FROM ff._rule_walk(elem -> j,
                            opath || '[' || i || '][' || j || ']', result_position AND j = 0);
                    END LOOP;
                ELSIF op = 'in_segment' AND i = 0 THEN
                    NULL;       -- the segment name, reported above
                ELSE
                    RETURN QUERY SELECT * FROM ff._rule_walk(elem, opath || '[' || i || ']', false);
                END IF;
            END LOOP;
    END CASE;
END;
$$;

COMMENT ON FUNCTION ff._rule_walk(jsonb, text, boolean) IS
'Internal: lists the operators, segment references and literal results of a JSON Logic rule with their JSON paths';

-- ff._rule_info compiles a rule with ff._check_rule (raising on an invalid
-- rule; with flagd, as flagd loads a flag rule) and normalises the answer:
-- segments as text[], results as jsonb.
CREATE FUNCTION ff._rule_info(rule jsonb, label text, flagd boolean DEFAULT false,
                              OUT segments text[], OUT results jsonb, OUT complete boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    info        jsonb;
BEGIN
    info := ff._check_rule(rule, label, flagd);
    segments := ARRAY(SELECT DISTINCT s FROM jsonb_array_elements_text(COALESCE(info -> 'segments', '[]')) AS s ORDER BY s);
    results := COALESCE(info -> 'results', '[]');
    complete := COALESCE((info ->> 'complete')::boolean, false);
END;
$$;

COMMENT ON FUNCTION ff._rule_info(jsonb, text, boolean) IS
'Internal: compiles a rule with ff._check_rule (flagd: as flagd loads a flag rule) and returns its segment references, literal results and completeness';

-- ff._rule_segment_names returns the segments a stored flag rule references.
-- A rule that does not compile (stored with ff.invalid_targeting = warning)
-- is read by its shape instead, so that it still counts as a user of the
-- segments it names.
CREATE FUNCTION ff._rule_segment_names(rule jsonb, label text)
RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._rule_compile_error(rule) IS NULL THEN
        RETURN (ff._rule_info(rule, label)).segments;
    END IF;
    RETURN ARRAY(SELECT DISTINCT w.item_value #>> '{}' FROM ff._rule_walk(rule, '$', true) AS w
                  WHERE w.item_kind = 'segment' AND jsonb_typeof(w.item_value) = 'string'
                  ORDER BY 1);
END;
$$;

COMMENT ON FUNCTION ff._rule_segment_names(jsonb, text) IS
'Internal: segments referenced by a stored flag rule; a rule that does not compile is read by its shape';

-- ff._rule_path_of finds the JSON path where a rule references a segment
-- or returns a literal, for error messages; NULL when not found.
CREATE FUNCTION ff._rule_path_of(rule jsonb, kind text, value jsonb, prefix text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT w.item_path
      FROM ff._rule_walk(rule, prefix, true) AS w
     WHERE w.item_kind = kind AND w.item_value = value
     LIMIT 1;
END;

COMMENT ON FUNCTION ff._rule_path_of(jsonb, text, jsonb, text) IS
'Internal: JSON path of the first place a rule references a segment or returns a literal (for error messages)';

-- ff._segment_refs returns the segments that a stored segment's rule
-- references.
CREATE FUNCTION ff._segment_refs(environment text, segment text)
RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r           jsonb;
BEGIN
    SELECT s.rule INTO r FROM ff.segments AS s
     WHERE s.environment = _segment_refs.environment AND s.name = _segment_refs.segment;
    IF r IS NULL THEN
        RETURN '{}';
    END IF;
    RETURN (ff._rule_info(r, format('rule of segment "%s" in environment "%s"', segment, environment))).segments;
END;
$$;

COMMENT ON FUNCTION ff._segment_refs(text, text) IS
'Internal: names of the segments referenced (in_segment) by a stored segment rule';

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

-- ff._segment_users lists the flags and segments of an environment whose
-- rules reference a segment.
CREATE FUNCTION ff._segment_users(environment text, segment text)
RETURNS TABLE (kind text, name text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r           record;
BEGIN
    FOR r IN SELECT f.key, f.targeting FROM ff.flags AS f
              WHERE f.environment = _segment_users.environment
                AND f.targeting IS NOT NULL
                AND strpos(f.targeting::text, '"in_segment"') > 0
                AND strpos(f.targeting::text, to_jsonb(segment)::text) > 0
              ORDER BY f.key
    LOOP
        IF segment = ANY (ff._rule_segment_names(r.targeting,
                format('targeting for flag "%s" in environment "%s"', r.key, environment))) THEN
            kind := 'flag';
            name := r.key;
            RETURN NEXT;
        END IF;
    END LOOP;
    FOR r IN SELECT s.name, s.rule FROM ff.segments AS s
              WHERE s.environment = _segment_users.environment
                AND s.name <> segment
                AND s.rule IS NOT NULL
                AND strpos(s.rule::text, '"in_segment"') > 0
                AND strpos(s.rule::text, to_jsonb(segment)::text) > 0
              ORDER BY s.name
    LOOP
        IF segment = ANY ((ff._rule_info(r.rule,
                format('rule of segment "%s" in environment "%s"', r.name, environment))).segments) THEN
            kind := 'segment';
            name := r.name;
            RETURN NEXT;
        END IF;
    END LOOP;
END;
$$;

COMMENT ON FUNCTION ff._segment_users(text, text) IS
'Internal: flags and segments of an environment whose rules reference the given segment';

-- ff._check_segment_refs raises an error when a rule references a segment
-- that does not exist in the environment.
CREATE FUNCTION ff._check_segment_refs(environment text, segments text[], rule jsonb,
                                       owner_label text, prefix text, owner_segment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    present     text[];
    missing     text;
    gone        record;
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
        -- (1.26) a deleted segment is named as such, with the rollback that
        -- restores it and its keys (creating it anew loses both); a
        -- segment's own rule may not name the segment: it is no suggestion
        gone := ff._segment_not_found_note(missing, environment, owner_segment);
        RAISE EXCEPTION '% references segment "%", which does not exist in environment "%"',
            owner_label, ff._name_in_message(missing), environment
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('The reference is at %s.',
                      COALESCE(ff._rule_path_of(rule, 'segment', to_jsonb(missing), prefix), prefix))
                      || COALESCE(' ' || gone.detail, ''),
                  HINT = gone.hint;
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._check_segment_refs(text, text[], jsonb, text, text, text) IS
'Internal: raises foreign_key_violation when a rule references a segment missing from the environment (owner_segment: the segment whose rule it is)';

-- ---------------------------------------------------------------------
-- Protected environments
--
-- An environment with protected = true (typically production) accepts
-- changes -- to its flags, segments, segment keys and its own row, by raw
-- DML or through the ff.* functions -- only from
--   * ff administrators: roles that may UPDATE ff.environments.protected
--     (superusers, the extension owner, roles given ff.grant_admin).  A
--     role that can switch protection off is never stopped by it, so it
--     is treated as allowed;
--   * members of a role listed in ff.environments.allowed_roles.
-- Everyone else gets insufficient_privilege.  The check is made for
-- current_user: the administration functions are SECURITY INVOKER, so
-- ff.create_flag() is checked exactly like the INSERT it runs.
--
-- When: ff_95_protect_insert/_update/_delete are AFTER ... FOR EACH
-- STATEMENT triggers on ff.flags, ff.segments and ff.segment_keys that
-- check each environment a statement touches once (million-row statements
-- stay cheap).  They fire after the history triggers (ff_90_*) have taken
-- the history writer lock, which every configuration write, and
-- so every protection change, holds until commit: the check sees every
-- committed protection change, and none can be in flight.  The environment
-- row itself is checked by ff_05_protect (BEFORE, per row: its own row lock
-- orders it).  TRUNCATE of any configuration table is refused by
-- ff_05_protect_truncate while a protected environment exists that the
-- role may not change.
-- ---------------------------------------------------------------------

ALTER TABLE ff.environments
    ADD COLUMN allowed_roles name[] NOT NULL DEFAULT '{}';

-- ff._environment_protection returns the protected environments (all of
-- them, or the one named) with their allowed roles.  It is SECURITY
-- DEFINER so that the protection triggers also work for a role that may
-- write ff.flags but not read ff.environments.
CREATE FUNCTION ff._environment_protection(environment text)
RETURNS TABLE (name text, allowed_roles name[])
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL rather than SQL: the protection triggers call it once per
    -- statement, and a PL/pgSQL query's plan is kept for the session
    RETURN QUERY
    SELECT e.name, e.allowed_roles
      FROM ff.environments AS e
     WHERE e.protected AND ($1 IS NULL OR e.name = $1)
     ORDER BY e.name;
END;
$$;

COMMENT ON FUNCTION ff._environment_protection(text) IS
'Internal: protected environments (all, or the named one) and their allowed roles; readable by the protection triggers of any writer';

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
CREATE FUNCTION ff._approvals_required(environment text)
RETURNS integer
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_approvals_required';

COMMENT ON FUNCTION ff._approvals_required(text) IS
'Internal: how many approvals a change of the environment needs (0: no approval rule), as last committed; asked by the protection triggers of any writer';

-- ff._approved_write is the write an approved change request is making
-- now: {environment, flag_key}, or NULL (C, src/ff_schedule.c).  PUBLIC's:
-- the protection triggers of every writer ask it, and it only tells.
CREATE FUNCTION ff._approved_write()
RETURNS text[]
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_approved_write';

COMMENT ON FUNCTION ff._approved_write() IS
'Internal: {environment, flag_key} of the write ff.apply_change is making right now, else NULL (the approval gate lets only that one through)';

-- ff._approval_denied raises the gate's error: current_user may not
-- change an environment with an approval rule directly; what describes
-- the change.
CREATE FUNCTION ff._approval_denied(environment text, what text, flag_key text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'environment "%" takes changes only through approved change requests', environment
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('The statement would %s. Role "%s" is not an ff administrator, and environment "%s" requires %s approval(s) of every change.',
                              what, current_user, environment, ff._approvals_required(environment)),
              -- (1.24) the flag's own key when a change request can make the
              -- change (a flag changed or created); else who can
              HINT = CASE WHEN flag_key IS NOT NULL
                          THEN format('Request the change: SELECT ff.request_change(%L, draft, %L); where draft is a jsonb object of the flag''s members to change (as ff.apply_draft takes it).', flag_key, environment)
                          ELSE 'Only ff administrators make this change there; change requests cover changing and creating flags.' END;
END;
$$;

COMMENT ON FUNCTION ff._approval_denied(text, text, text) IS
'Internal: raises insufficient_privilege for a direct change of an environment that requires approved change requests (flag_key: the flag a change request could change, for the HINT)';

-- ff._is_environment_admin tells whether a role is an ff administrator:
-- it may UPDATE ff.environments.protected (superusers and the owner may).
CREATE FUNCTION ff._is_environment_admin(role_name name)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.has_column_privilege($1, 'ff.environments'::pg_catalog.regclass, 'protected', 'UPDATE')
$$;

COMMENT ON FUNCTION ff._is_environment_admin(name) IS
'Internal: whether a role is an ff administrator, i.e. may UPDATE ff.environments.protected (superusers and the owner may)';

-- ff._may_write is the protection rule: may role_name change an
-- environment whose allowed roles are "allowed"?
CREATE FUNCTION ff._may_write(role_name name, allowed name[])
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ff._is_environment_admin($1)
        OR EXISTS (SELECT 1
                     FROM pg_catalog.unnest($2) AS a (rolname)
                     JOIN pg_catalog.pg_roles AS r ON r.rolname = a.rolname
                    WHERE pg_catalog.pg_has_role($1, r.oid, 'MEMBER'))
$$;

COMMENT ON FUNCTION ff._may_write(name, name[]) IS
'Internal: whether a role is an ff administrator or a member of one of the given roles';

-- ff.can_write_environment tells whether a role may change an environment:
-- always for an unprotected (or unknown) one, otherwise for ff
-- administrators and members of the environment's allowed roles.
CREATE FUNCTION ff.can_write_environment(environment text, role_name name DEFAULT CURRENT_USER)
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
    -- approvals (1.16): directly, only ff administrators
    IF ff._approvals_required(environment) > 0 THEN
        RETURN ff._is_environment_admin(role_name);
    END IF;
    RETURN ff._may_write(role_name, allowed);
END;
$$;

COMMENT ON FUNCTION ff.can_write_environment(text, name) IS
'Whether a role (default: current_user) may change the environment directly: true unless it is protected and the role is neither an ff administrator nor a member of its allowed roles, or it requires approvals (1.16) and the role is not an ff administrator';

-- ff._protection_denied raises the error for a change to a protected
-- environment that current_user may not make; what describes the change.
CREATE FUNCTION ff._protection_denied(environment text, allowed name[], what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'role "%" may not change protected environment "%"', current_user, environment
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('The statement would %s. Protected environments accept changes only from ff administrators and %s.',
                  what,
                  CASE WHEN cardinality(allowed) = 0 THEN 'no other roles'
                       ELSE 'members of ' || (SELECT string_agg(format('"%s"', a), ', ' ORDER BY a) FROM unnest(allowed) AS a)
                  END),
              HINT = CASE WHEN cardinality(allowed) = 0 THEN
                  format('Ask an ff administrator to make the change, or to allow a role of yours: SELECT ff.protect_environment(%L, allowed_roles => ''{role}'');', environment)
              ELSE
                  format('Ask an ff administrator for membership in an allowed role (GRANT %s TO %s;), or to make the change.',
                      quote_ident(allowed[1]), quote_ident(current_user))
              END;
END;
$$;

COMMENT ON FUNCTION ff._protection_denied(text, name[], text) IS
'Internal: raises insufficient_privilege for a change to a protected environment, naming the environment, the role and the allowed roles';

-- ff._check_environment_writable raises the protection error unless
-- current_user may change the environment.
CREATE FUNCTION ff._check_environment_writable(environment text, what text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    allowed     name[];
BEGIN
    SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(environment) AS p;
    IF FOUND AND NOT ff._may_write(current_user, allowed) THEN
        PERFORM ff._protection_denied(environment, allowed, what);
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._check_environment_writable(text, text) IS
'Internal: raises insufficient_privilege unless current_user may change the environment (see ff.can_write_environment)';

-- ff._protect_what describes one changed row of ff.flags, ff.segments or
-- ff.segment_keys for the protection error.
CREATE FUNCTION ff._protect_what(table_name text, verb text, r jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE $1
        WHEN 'flags' THEN pg_catalog.format('%s flag "%s"', $2, $3 ->> 'key')
        WHEN 'segments' THEN pg_catalog.format('%s segment "%s"', $2, $3 ->> 'name')
        ELSE pg_catalog.format('%s key "%s" of segment "%s"', $2, $3 ->> 'targeting_key', $3 ->> 'segment')
    END
$$;

COMMENT ON FUNCTION ff._protect_what(text, text, jsonb) IS
'Internal: describes a changed flag, segment or segment key for the protected-environment error';

-- ff._protect_statement_general does the work of the statement triggers
-- ff_95_protect_insert/_update/_delete on ff.flags, ff.segments and
-- ff.segment_keys when some environment is protected (their function,
-- ff._protect_statement, is C and returns at once when none is).  It reads
-- the transition tables ff_protect_new and ff_protect_old and checks every
-- environment the statement touches (usually one) once.  It runs after the
-- history triggers have taken the writer lock, so it sees every committed
-- protection change.
CREATE FUNCTION ff._protect_statement_general()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text;
    one         jsonb;
    verb        text;
    allowed     name[];
    protected_envs text[];
    gate        text[];
    keys_kept   boolean := false;
BEGIN
    -- no protected environment among the touched ones (the usual case: no
    -- protected environment at all) means nothing to check
    SELECT pg_catalog.array_agg(p.name) INTO protected_envs
      FROM ff._environment_protection(NULL) AS p;
    IF protected_envs IS NULL THEN
        RETURN NULL;
    END IF;

    -- for each touched protected environment, the check of
    -- ff._check_environment_writable(), written out so that the
    -- description of the change (a row image) is only built for the error
    IF TG_OP = 'INSERT' THEN
        verb := CASE TG_TABLE_NAME WHEN 'segment_keys' THEN 'add' ELSE 'create' END;
        FOR env IN SELECT DISTINCT k.environment FROM ff_protect_new AS k
                    WHERE k.environment = ANY (protected_envs) ORDER BY 1 LOOP
            SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(env) AS p;
            IF FOUND AND NOT ff._may_write(current_user, allowed) THEN
                SELECT to_jsonb(k) INTO one FROM ff_protect_new AS k WHERE k.environment = env LIMIT 1;
                PERFORM ff._protection_denied(env, allowed, ff._protect_what(TG_TABLE_NAME, verb, one));
            END IF;
        END LOOP;
        -- approvals (1.16): an environment with an approval rule takes
        -- direct changes from ff administrators only, and the one flag
        -- write of ff.apply_change (gate: its {environment, key})
        IF NOT ff._is_environment_admin(current_user) THEN
            gate := ff._approved_write();
            FOR env IN SELECT DISTINCT k.environment FROM ff_protect_new AS k
                        WHERE k.environment = ANY (protected_envs)
                          AND ff._approvals_required(k.environment) > 0 ORDER BY 1 LOOP
                IF TG_TABLE_NAME <> 'flags' OR gate IS NULL OR gate[1] <> env
                   OR EXISTS (SELECT 1 FROM ff_protect_new AS k
                               WHERE k.environment = env AND to_jsonb(k) ->> 'key' <> gate[2]) THEN
                    SELECT to_jsonb(k) INTO one FROM ff_protect_new AS k WHERE k.environment = env LIMIT 1;
                    PERFORM ff._approval_denied(env, ff._protect_what(TG_TABLE_NAME, verb, one), one ->> CASE WHEN TG_TABLE_NAME = 'flags' AND verb <> 'delete' THEN 'key' END);
                END IF;
            END LOOP;
        END IF;
        RETURN NULL;
    END IF;

    verb := CASE WHEN TG_OP = 'UPDATE' THEN 'change'
                 WHEN TG_TABLE_NAME = 'segment_keys' THEN 'remove' ELSE 'delete' END;
    FOR env IN SELECT DISTINCT k.environment FROM ff_protect_old AS k
                    WHERE k.environment = ANY (protected_envs) ORDER BY 1 LOOP
        SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(env) AS p;
        IF FOUND AND NOT ff._may_write(current_user, allowed) THEN
            SELECT to_jsonb(k) INTO one FROM ff_protect_old AS k WHERE k.environment = env LIMIT 1;
            PERFORM ff._protection_denied(env, allowed, ff._protect_what(TG_TABLE_NAME, verb, one));
        END IF;
    END LOOP;
    IF TG_OP = 'UPDATE' THEN
        -- rows moved into another environment
        FOR env IN SELECT DISTINCT n.environment FROM ff_protect_new AS n
                    WHERE n.environment = ANY (protected_envs)
                      AND NOT EXISTS (SELECT 1 FROM ff_protect_old AS o WHERE o.environment = n.environment)
                    ORDER BY 1 LOOP
            SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(env) AS p;
            IF FOUND AND NOT ff._may_write(current_user, allowed) THEN
                SELECT to_jsonb(k) INTO one FROM ff_protect_new AS k WHERE k.environment = env LIMIT 1;
                PERFORM ff._protection_denied(env, allowed,
                    ff._protect_what(TG_TABLE_NAME, 'move', one) || ' into this environment');
            END IF;
        END LOOP;
    END IF;
    -- approvals (1.16), as for INSERT above: the old rows' environments, and
    -- for an UPDATE the new rows' too
    IF NOT ff._is_environment_admin(current_user) THEN
        gate := ff._approved_write();
        -- (1.24) whether the HINT may offer a change request: an UPDATE of
        -- flags that keeps their keys and environments (a request cannot
        -- delete, rename or move a flag)
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'flags' THEN
            keys_kept := NOT EXISTS (SELECT to_jsonb(o) ->> 'environment', to_jsonb(o) ->> 'key' FROM ff_protect_old AS o
                                     EXCEPT
                                     SELECT to_jsonb(n) ->> 'environment', to_jsonb(n) ->> 'key' FROM ff_protect_new AS n);
        END IF;
        FOR env IN SELECT DISTINCT k.environment FROM ff_protect_old AS k
                    WHERE k.environment = ANY (protected_envs)
                      AND ff._approvals_required(k.environment) > 0 ORDER BY 1 LOOP
            IF TG_OP <> 'UPDATE' OR TG_TABLE_NAME <> 'flags' OR gate IS NULL OR gate[1] <> env
               OR EXISTS (SELECT 1 FROM ff_protect_old AS k
                           WHERE k.environment = env AND to_jsonb(k) ->> 'key' <> gate[2]) THEN
                SELECT to_jsonb(k) INTO one FROM ff_protect_old AS k WHERE k.environment = env LIMIT 1;
                PERFORM ff._approval_denied(env, ff._protect_what(TG_TABLE_NAME, verb, one),
                                            one ->> CASE WHEN keys_kept THEN 'key' END);
            END IF;
        END LOOP;
        IF TG_OP = 'UPDATE' THEN
            FOR env IN SELECT DISTINCT k.environment FROM ff_protect_new AS k
                        WHERE k.environment = ANY (protected_envs)
                          AND ff._approvals_required(k.environment) > 0 ORDER BY 1 LOOP
                IF TG_TABLE_NAME <> 'flags' OR gate IS NULL OR gate[1] <> env
                   OR EXISTS (SELECT 1 FROM ff_protect_new AS k
                               WHERE k.environment = env AND to_jsonb(k) ->> 'key' <> gate[2]) THEN
                    SELECT to_jsonb(k) INTO one FROM ff_protect_new AS k WHERE k.environment = env LIMIT 1;
                    PERFORM ff._approval_denied(env, ff._protect_what(TG_TABLE_NAME, verb, one),
                                            one ->> CASE WHEN keys_kept THEN 'key' END);
                END IF;
            END LOOP;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION ff._protect_statement_general() IS
'Internal: the check of ff._protect_statement() when an environment is protected: refuses changes in protected environments that current_user may not change';

-- ff._protect_statement is the trigger function of ff_95_protect_insert,
-- _update and _delete (src/ff_guard.c): nothing to do without a protected
-- environment (read with the snapshot a query here would use), else
-- ff._protect_statement_general().
CREATE FUNCTION ff._protect_statement()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_protect_statement';

COMMENT ON FUNCTION ff._protect_statement() IS
'Trigger function of ff_95_protect_insert/_update/_delete on ff.flags, ff.segments and ff.segment_keys: refuses changes in protected environments that current_user may not change';

-- ff._protect_truncate is the trigger function of ff_05_protect_truncate:
-- TRUNCATE empties every environment, so it needs every protected one.
CREATE FUNCTION ff._protect_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p           record;
BEGIN
    FOR p IN SELECT * FROM ff._environment_protection(NULL) LOOP
        IF NOT ff._may_write(current_user, p.allowed_roles) THEN
            PERFORM ff._protection_denied(p.name, p.allowed_roles,
                format('empty %s.%s (TRUNCATE), which holds rows of every environment', TG_TABLE_SCHEMA, TG_TABLE_NAME));
        END IF;
        -- approvals (1.16): only ff administrators change such an environment directly
        IF ff._approvals_required(p.name) > 0 AND NOT ff._is_environment_admin(current_user) THEN
            PERFORM ff._approval_denied(p.name,
                format('empty %s.%s (TRUNCATE), which holds rows of every environment', TG_TABLE_SCHEMA, TG_TABLE_NAME));
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION ff._protect_truncate() IS
'Trigger function of ff_05_protect_truncate: refuses TRUNCATE of a configuration table while a protected environment exists that current_user may not change';

-- ff._check_role_list refuses a list of roles of an environment (its
-- allowed_roles; 1.16: an approval rule's approver_roles) that holds a NULL
-- or names a role that does not exist.
CREATE FUNCTION ff._check_role_list(roles name[], list_name text, environment text, null_hint text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing     name;
BEGIN
    IF array_position(roles, NULL) IS NOT NULL THEN
        RAISE EXCEPTION '% of environment "%" contains NULL', list_name, environment
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = null_hint;
    END IF;
    SELECT a INTO missing FROM unnest(roles) AS a
     WHERE NOT EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = a)
     LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'role "%" in % of environment "%" does not exist', missing, list_name, environment
            USING ERRCODE = 'undefined_object',
                  HINT = format('Create it first (CREATE ROLE %s NOLOGIN;), or leave it out.', quote_ident(missing));
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._check_role_list(name[], text, text, text) IS
'Internal: refuses a role list of an environment (allowed_roles, approver_roles) that holds a NULL or a role that does not exist';

-- ff._protect_environment is the trigger function of ff_05_protect on
-- ff.environments: a protected environment's row changes only for
-- allowed roles; protected and allowed_roles change only for ff
-- administrators; allowed_roles names existing roles.
CREATE FUNCTION ff._protect_environment()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.protected
       AND NOT ff._may_write(current_user, OLD.allowed_roles) THEN
        PERFORM ff._protection_denied(OLD.name, OLD.allowed_roles,
            CASE TG_OP WHEN 'DELETE' THEN 'delete the environment' ELSE 'change the environment''s own row' END);
    END IF;
    -- approvals (1.16): the row of an environment with an approval rule
    -- changes only for ff administrators, and keeps its protection while
    -- the rule exists
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.protected AND ff._approvals_required(OLD.name) > 0 THEN
        IF NOT ff._is_environment_admin(current_user) THEN
            PERFORM ff._approval_denied(OLD.name,
                CASE TG_OP WHEN 'DELETE' THEN 'delete the environment' ELSE 'change the environment''s own row' END);
        END IF;
        IF TG_OP = 'UPDATE' AND NOT NEW.protected AND NOT ff._restoring() THEN
            RAISE EXCEPTION 'environment "%" requires approvals and must stay protected', OLD.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Remove its approval rule first: SELECT ff.require_approvals(%L, 0);', OLD.name);
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF (TG_OP = 'INSERT' AND (NEW.protected OR NEW.allowed_roles <> '{}'))
       OR (TG_OP = 'UPDATE' AND (NEW.protected IS DISTINCT FROM OLD.protected
                                 OR NEW.allowed_roles IS DISTINCT FROM OLD.allowed_roles)) THEN
        IF NOT ff._is_environment_admin(current_user) THEN
            RAISE EXCEPTION 'role "%" may not change the protection of environment "%"', current_user, NEW.name
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Only ff administrators (roles that may UPDATE ff.environments.protected) set protected and allowed_roles.',
                      HINT = format('Ask an ff administrator: SELECT ff.protect_environment(%L, allowed_roles => ''{role}'');', NEW.name);
        END IF;
        IF NEW.allowed_roles IS NOT NULL AND NOT ff._restoring() THEN
            PERFORM ff._check_role_list(NEW.allowed_roles, 'allowed_roles', NEW.name,
                                        'List role names, for example ''{release_managers}''.');
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._protect_environment() IS
'Trigger function of ff_05_protect on ff.environments: protected rows change only for allowed roles, protection settings only for ff administrators';

CREATE TRIGGER ff_05_protect
    BEFORE INSERT OR UPDATE OR DELETE ON ff.environments
    FOR EACH ROW EXECUTE FUNCTION ff._protect_environment();
CREATE TRIGGER ff_95_protect_insert
    AFTER INSERT ON ff.flags
    REFERENCING NEW TABLE AS ff_protect_new
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_statement();
CREATE TRIGGER ff_95_protect_update
    AFTER UPDATE ON ff.flags
    REFERENCING OLD TABLE AS ff_protect_old NEW TABLE AS ff_protect_new
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_statement();
CREATE TRIGGER ff_95_protect_delete
    AFTER DELETE ON ff.flags
    REFERENCING OLD TABLE AS ff_protect_old
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_statement();
CREATE TRIGGER ff_95_protect_insert
    AFTER INSERT ON ff.segments
    REFERENCING NEW TABLE AS ff_protect_new
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_statement();
CREATE TRIGGER ff_95_protect_update
    AFTER UPDATE ON ff.segments
    REFERENCING OLD TABLE AS ff_protect_old NEW TABLE AS ff_protect_new
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_statement();
CREATE TRIGGER ff_95_protect_delete
    AFTER DELETE ON ff.segments
    REFERENCING OLD TABLE AS ff_protect_old
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_statement();
CREATE TRIGGER ff_95_protect_insert
    AFTER INSERT ON ff.segment_keys
    REFERENCING NEW TABLE AS ff_protect_new
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_statement();
CREATE TRIGGER ff_95_protect_update
    AFTER UPDATE ON ff.segment_keys
    REFERENCING OLD TABLE AS ff_protect_old NEW TABLE AS ff_protect_new
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_statement();
CREATE TRIGGER ff_95_protect_delete
    AFTER DELETE ON ff.segment_keys
    REFERENCING OLD TABLE AS ff_protect_old
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_statement();
CREATE TRIGGER ff_05_protect_truncate
    BEFORE TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_truncate();
CREATE TRIGGER ff_05_protect_truncate
    BEFORE TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_truncate();
CREATE TRIGGER ff_05_protect_truncate
    BEFORE TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_truncate();
CREATE TRIGGER ff_05_protect_truncate
    BEFORE TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._protect_truncate();

COMMENT ON TRIGGER ff_05_protect ON ff.environments IS
'Protected environments: their row changes only for ff administrators and allowed roles; protected/allowed_roles only for ff administrators';
COMMENT ON TRIGGER ff_95_protect_insert ON ff.flags IS
'Refuses added flags in a protected environment that current_user may not change (once per statement and environment, after the history writer lock)';
COMMENT ON TRIGGER ff_95_protect_update ON ff.flags IS
'Refuses changed or moved flags in a protected environment that current_user may not change (once per statement and environment, after the history writer lock)';
COMMENT ON TRIGGER ff_95_protect_delete ON ff.flags IS
'Refuses deleted flags in a protected environment that current_user may not change (once per statement and environment, after the history writer lock)';
COMMENT ON TRIGGER ff_95_protect_insert ON ff.segments IS
'Refuses added segments in a protected environment that current_user may not change (once per statement and environment, after the history writer lock)';
COMMENT ON TRIGGER ff_95_protect_update ON ff.segments IS
'Refuses changed or moved segments in a protected environment that current_user may not change (once per statement and environment, after the history writer lock)';
COMMENT ON TRIGGER ff_95_protect_delete ON ff.segments IS
'Refuses deleted segments in a protected environment that current_user may not change (once per statement and environment, after the history writer lock)';
COMMENT ON TRIGGER ff_95_protect_insert ON ff.segment_keys IS
'Refuses added segment keys in a protected environment that current_user may not change (once per statement and environment, after the history writer lock)';
COMMENT ON TRIGGER ff_95_protect_update ON ff.segment_keys IS
'Refuses changed or moved segment keys in a protected environment that current_user may not change (once per statement and environment, after the history writer lock)';
COMMENT ON TRIGGER ff_95_protect_delete ON ff.segment_keys IS
'Refuses deleted segment keys in a protected environment that current_user may not change (once per statement and environment, after the history writer lock)';
COMMENT ON TRIGGER ff_05_protect_truncate ON ff.environments IS
'Refuses TRUNCATE while a protected environment exists that current_user may not change';
COMMENT ON TRIGGER ff_05_protect_truncate ON ff.flags IS
'Refuses TRUNCATE while a protected environment exists that current_user may not change';
COMMENT ON TRIGGER ff_05_protect_truncate ON ff.segments IS
'Refuses TRUNCATE while a protected environment exists that current_user may not change';
COMMENT ON TRIGGER ff_05_protect_truncate ON ff.segment_keys IS
'Refuses TRUNCATE while a protected environment exists that current_user may not change';

-- ---------------------------------------------------------------------
-- ff.environments
-- ---------------------------------------------------------------------

-- ff._environment_is_pristine_seed tells whether an environment row is
-- still the untouched "development" row created by CREATE EXTENSION.
CREATE FUNCTION ff._environment_is_pristine_seed(env ff.environments)
RETURNS boolean
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT env.name = 'development'
       AND env.metadata = '{}'::jsonb
       AND env.description IS NOT DISTINCT FROM
           'Default environment, created by CREATE EXTENSION feature_flags'
       AND NOT EXISTS (SELECT 1 FROM ff.flags AS f WHERE f.environment = env.name)
       AND NOT EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = env.name);
END;

COMMENT ON FUNCTION ff._environment_is_pristine_seed(ff.environments) IS
'Internal: true for the untouched, empty "development" row that CREATE EXTENSION inserts';

-- ff._validate_environment is the trigger function of ff_10_validate_environments.
CREATE FUNCTION ff._validate_environment()
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
            -- (1.22) with an approval rule, which keeps it protected, the
            -- rule goes first
            RAISE EXCEPTION 'cannot delete environment "%": it is protected', OLD.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = CASE WHEN ff._approvals_required(OLD.name) > 0
                                  THEN format('Remove its approval rule, then unprotect it: SELECT ff.require_approvals(%L, 0); UPDATE ff.environments SET protected = false WHERE name = %L;', OLD.name, OLD.name)
                                  ELSE format('Unprotect it first: UPDATE ff.environments SET protected = false WHERE name = %L;', OLD.name)
                             END;
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
    -- failing with a duplicate key.  (1.18) So does, during a restore, the
    -- default environment of a database whose "development" was renamed or
    -- deleted: the untouched row becomes it, and no "development" the
    -- source did not have is left behind, demoted by a version the source
    -- did not record.  The row takes every column of the restored one, its
    -- stamp included, so that the history trigger finds it in sync with
    -- the restored history and records nothing.
    IF TG_OP = 'INSERT' THEN
        SELECT * INTO seed FROM ff.environments AS e WHERE e.name = NEW.name;
        IF NOT FOUND AND NEW.is_default AND ff._restoring() THEN
            SELECT * INTO seed FROM ff.environments AS e WHERE e.is_default;
        END IF;
        IF FOUND AND ff._environment_is_pristine_seed(seed) THEN
            IF NEW.is_default THEN
                UPDATE ff.environments SET is_default = false
                 WHERE is_default AND name <> seed.name;
            END IF;
            IF seed.name <> NEW.name THEN
                PERFORM ff._check_name('environment name', NEW.name);
            END IF;
            PERFORM ff._check_metadata(NEW.metadata, format('environment "%s"', NEW.name));
            UPDATE ff.environments
               SET name = NEW.name, is_default = NEW.is_default, protected = NEW.protected,
                   allowed_roles = NEW.allowed_roles,
                   metadata = NEW.metadata, description = NEW.description,
                   created_at = NEW.created_at, updated_at = NEW.updated_at,
                   version = CASE WHEN seed.name <> NEW.name THEN NEW.version ELSE version END
             WHERE name = seed.name;
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

CREATE TRIGGER ff_10_validate_environments
    BEFORE INSERT OR UPDATE OR DELETE ON ff.environments
    FOR EACH ROW EXECUTE FUNCTION ff._validate_environment();

COMMENT ON TRIGGER ff_10_validate_environments ON ff.environments IS
'Validates environment names and metadata, keeps one default environment, refuses to delete the default or a non-empty environment';

-- ---------------------------------------------------------------------
-- ff.flags
-- ---------------------------------------------------------------------

-- ff._validate_flag_general does the checks of ff_10_validate_flags: every
-- case (its trigger function ff._validate_flag, in C, accepts an UPDATE that
-- leaves the definition alone and calls this function for the rest).
CREATE FUNCTION ff._validate_flag_general()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing     record;
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
    -- (1.18: a disabled flag answers DISABLED whatever its targeting)
    stored_broken constant text := 'The flag is stored because ff.invalid_targeting is "warning"; its evaluations return the caller''s default with reason ERROR and error code PARSE_ERROR'
        || CASE WHEN TG_OP <> 'DELETE' AND NEW.state = 'DISABLED'
                THEN ' once it is enabled (while it is disabled, they answer reason DISABLED).' ELSE '.' END;
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
            missing := ff._environment_not_found_note(NEW.environment);
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(NEW.environment)
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Flag "%s" cannot be stored in a missing environment.', ff._name_in_message(NEW.key))
                          || COALESCE(' ' || missing.detail, ''),
                      HINT = missing.hint;
        END IF;
        PERFORM ff._check_name('flag key', NEW.key, format(' in environment "%s"', NEW.environment));
    END IF;

    IF NEW.state IS NULL THEN
        RAISE EXCEPTION 'the state of % must not be NULL', label
            USING ERRCODE = 'not_null_violation',
                  HINT = 'The state is ''ENABLED'' or ''DISABLED'' (upper case); ff.enable_flag() and ff.disable_flag() set it.';
    END IF;
    IF NEW.state NOT IN ('ENABLED', 'DISABLED') THEN
        RAISE EXCEPTION 'invalid state "%" for %', ff._name_in_message(NEW.state), label
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
            RAISE EXCEPTION 'invalid flag_type "%" for %', ff._name_in_message(NEW.flag_type), label
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
        names := ff._variant_list(NEW.variants);
        RAISE EXCEPTION 'default variant "%" of % is not one of its variants', ff._name_in_message(NEW.default_variant), label
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
                    names := ff._variant_list(NEW.variants);
                    -- (1.26) a string in quotes, clipped inside them, as values are
                    err_msg := format('targeting for %s can return %s, which is not a variant', label,
                                      CASE jsonb_typeof(res) WHEN 'string' THEN format('"%s"', ff._name_in_message(res #>> '{}'))
                                           ELSE ff._name_in_message(res::text) END);
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

-- ff._validate_flag is the trigger function of ff_10_validate_flags
-- (src/ff_guard.c): an UPDATE that keeps the environment, key, variants,
-- type, metadata and targeting, with a valid state and default variant, is
-- accepted at once; anything else goes to ff._validate_flag_general().
CREATE FUNCTION ff._validate_flag()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_validate_flag';

COMMENT ON FUNCTION ff._validate_flag() IS
'Trigger function of ff_10_validate_flags: key rule, typed variants, default variant, flat metadata, targeting (operators, segments, results)';

CREATE TRIGGER ff_10_validate_flags
    BEFORE INSERT OR UPDATE ON ff.flags
    FOR EACH ROW EXECUTE FUNCTION ff._validate_flag();

COMMENT ON TRIGGER ff_10_validate_flags ON ff.flags IS
'Validates a flag before it is written; derives flag_type from the variants when it is NULL; normalises targeting {} to NULL';

-- ---------------------------------------------------------------------
-- ff.segments
-- ---------------------------------------------------------------------

-- ff._validate_segment is the trigger function of ff_10_validate_segments.
CREATE FUNCTION ff._validate_segment()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing     record;
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
            missing := ff._environment_not_found_note(NEW.environment);
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(NEW.environment)
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Segment "%s" cannot be stored in a missing environment.', ff._name_in_message(NEW.name))
                          || COALESCE(' ' || missing.detail, ''),
                      HINT = missing.hint;
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

CREATE TRIGGER ff_10_validate_segments
    BEFORE INSERT OR UPDATE OR DELETE ON ff.segments
    FOR EACH ROW EXECUTE FUNCTION ff._validate_segment();

COMMENT ON TRIGGER ff_10_validate_segments ON ff.segments IS
'Validates segment names and rules, rejects missing or cyclic segment references, refuses to delete a segment still in use';

-- ---------------------------------------------------------------------
-- ff.segment_keys
-- ---------------------------------------------------------------------

-- ff._validate_segment_key is the trigger function of ff_10_validate_segment_keys.
CREATE FUNCTION ff._validate_segment_key()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone        record;
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
                -- (1.26) the note of the other validation triggers: a
                -- deleted environment's rollback, the existing ones
                gone := ff._environment_not_found_note(NEW.environment);
                RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(NEW.environment)
                    USING ERRCODE = 'foreign_key_violation',
                          DETAIL = format('Targeting key "%s" cannot be added to segment "%s" of a missing environment.',
                                          ff._name_in_message(NEW.targeting_key), ff._name_in_message(NEW.segment))
                              || COALESCE(' ' || gone.detail, ''),
                          HINT = gone.hint;
            END IF;
            -- (1.26) a deleted segment: when, by whom, and its rollback
            gone := ff._segment_not_found_note(NEW.segment, NEW.environment);
            RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(NEW.segment), NEW.environment
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Targeting key "%s" cannot be added to a missing segment.', ff._name_in_message(NEW.targeting_key))
                          || COALESCE(' ' || gone.detail, ''),
                      HINT = gone.hint;
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

CREATE TRIGGER ff_10_validate_segment_keys
    BEFORE INSERT OR UPDATE ON ff.segment_keys
    FOR EACH ROW EXECUTE FUNCTION ff._validate_segment_key();

COMMENT ON TRIGGER ff_10_validate_segment_keys ON ff.segment_keys IS
'Checks that the segment exists and that the targeting key is not empty';

-- ---------------------------------------------------------------------
-- The default environment, present right after CREATE EXTENSION
-- ---------------------------------------------------------------------

INSERT INTO ff.environments (name, is_default, description)
VALUES ('development', true, 'Default environment, created by CREATE EXTENSION feature_flags');

-- pg_dump dumps the rows of ff.environments (registered with
-- pg_extension_config_dump in the history part); on restore a dumped
-- "development" row takes over the fresh one (see ff._validate_environment).

-- ---------------------------------------------------------------------
-- Comments on the configuration tables (010_tables.sql), so that \d+
-- explains them; the rules quoted here are enforced by the triggers above.
-- ---------------------------------------------------------------------

COMMENT ON TABLE ff.environments IS
'Environments: each one is a flagd flag set with its own flags, segments and metadata; at most one is the default (is_default), used when no environment is named';
COMMENT ON COLUMN ff.environments.name IS 'Environment name (letters, digits, ".", "_", ":", "-"; at most 200 characters)';
COMMENT ON COLUMN ff.environments.is_default IS 'The environment used when none is given and ff.environment is empty; setting it demotes the previous default';
COMMENT ON COLUMN ff.environments.protected IS 'A protected environment cannot be deleted, and only ff administrators and members of allowed_roles may change it, its flags, segments and segment keys';
COMMENT ON COLUMN ff.environments.allowed_roles IS 'Roles whose members may change the environment while it is protected, besides ff administrators (ff.protect_environment sets it)';
COMMENT ON COLUMN ff.environments.metadata IS 'flagd flag-set metadata: flat object of string/number/boolean values, merged under every flag''s metadata';
COMMENT ON COLUMN ff.environments.description IS 'Free-text description';
COMMENT ON COLUMN ff.environments.created_at IS 'When the environment was created';
COMMENT ON COLUMN ff.environments.updated_at IS 'When the environment row was last changed';
COMMENT ON COLUMN ff.environments.version IS 'Configuration version that last wrote this row (see ff.versions)';

COMMENT ON TABLE ff.flags IS
'Feature flags in the flagd model, one row per environment and key; validated on write by trigger ff_10_validate_flags';
COMMENT ON COLUMN ff.flags.environment IS 'Environment (flag set) the flag belongs to';
COMMENT ON COLUMN ff.flags.key IS 'Flag key (letters, digits, ".", "_", ":", "-"; at most 200 characters)';
COMMENT ON COLUMN ff.flags.state IS 'ENABLED, or DISABLED: the kill switch, evaluations return the caller''s default with reason DISABLED';
COMMENT ON COLUMN ff.flags.flag_type IS 'Type of all variant values: boolean, string, number or object; derived from the variants when written as NULL';
COMMENT ON COLUMN ff.flags.variants IS 'Variant name -> value; all values of one JSON type (boolean, string, number or object)';
COMMENT ON COLUMN ff.flags.default_variant IS 'Variant served without a targeting match; NULL = the caller''s code default';
COMMENT ON COLUMN ff.flags.targeting IS 'JSON Logic rule returning a variant name (flagd operators plus in_segment); NULL = none';
COMMENT ON COLUMN ff.flags.metadata IS 'flagd flag metadata: flat object of string/number/boolean values, returned with evaluations';
COMMENT ON COLUMN ff.flags.description IS 'Free-text description';
COMMENT ON COLUMN ff.flags.tags IS 'Free-form tags';
COMMENT ON COLUMN ff.flags.owner IS 'Owner of the flag (team or person)';
COMMENT ON COLUMN ff.flags.created_at IS 'When the flag was created';
COMMENT ON COLUMN ff.flags.updated_at IS 'When the flag was last changed';
COMMENT ON COLUMN ff.flags.version IS 'Configuration version that last wrote this row (see ff.versions)';

COMMENT ON TABLE ff.segments IS
'Segments: named reusable targeting, used in rules as {"in_segment": "name"}; membership = not excluded and (included or rule truthy)';
COMMENT ON COLUMN ff.segments.environment IS 'Environment the segment belongs to';
COMMENT ON COLUMN ff.segments.name IS 'Segment name (letters, digits, ".", "_", ":", "-"; at most 200 characters)';
COMMENT ON COLUMN ff.segments.rule IS 'JSON Logic rule, truthy for members; NULL = explicit keys only';
COMMENT ON COLUMN ff.segments.description IS 'Free-text description';
COMMENT ON COLUMN ff.segments.created_at IS 'When the segment was created';
COMMENT ON COLUMN ff.segments.updated_at IS 'When the segment was last changed';
COMMENT ON COLUMN ff.segments.version IS 'Configuration version that last wrote this row (see ff.versions)';

COMMENT ON TABLE ff.segment_keys IS
'Explicit segment membership: one row per targeting key, included or excluded';
COMMENT ON COLUMN ff.segment_keys.environment IS 'Environment of the segment';
COMMENT ON COLUMN ff.segment_keys.segment IS 'Segment name';
COMMENT ON COLUMN ff.segment_keys.targeting_key IS 'A targetingKey value of evaluation contexts (not empty)';
COMMENT ON COLUMN ff.segment_keys.excluded IS 'true: never a member (wins over the rule); false: always a member';
