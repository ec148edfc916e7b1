-- feature_flags 1.18 -> 1.19 (ALTER EXTENSION feature_flags UPDATE TO '1.19')
--
-- 1.19 changes no table, column or signature.  It adds one internal helper,
-- ff._name_in_message, and replaces:
--   * ff._check_name, ff._resolve_environment, ff._flag_not_found and
--     ff._segment_not_found: a name longer than 200 characters (none is
--     valid) is shown as its first 64 characters and "..." in the error
--     message (1.18 repeated a 1,000,000-character name whole, in the
--     message to the client and in the server log);
--   * ff._experiment_results: the HINTs' example query converts the user id
--     to text (jsonb_build_object('targetingKey', u.id::text)); a number
--     is no targeting key, so the example put every user in one group;
--   * ff.apply_draft takes the history's writer lock before it locks the
--     flag's row, as every writer does (1.18 locked the row first and
--     deadlocked with a writer of the same flag; the scheduled-change
--     runner calls it).
-- The 1.19 library (the memory budget of a flag evaluation,
-- ff.evaluation_memory; evaluations in triggers on the configuration tables
-- see the statement's rows; with the library preloaded, shared commit
-- counters close the instant between a commit becoming visible and its
-- invalidation arriving) serves every earlier version as well.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.19'" to load this file. \quit

-- ff._name_in_message returns a name as an error message shows it: whole
-- when it is at most 200 characters long (every valid name is), else its
-- first 64 characters and "..." (1.19: a 1,000,000-character name was
-- repeated whole in the message and the server log).
CREATE OR REPLACE FUNCTION ff._name_in_message(name text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN length(name) <= 200 THEN name ELSE left(name, 64) || '...' END;

COMMENT ON FUNCTION ff._name_in_message(text) IS
'Internal: a name as error messages show it: whole up to 200 characters, else its first 64 and "..."';

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
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object',
                      DETAIL = 'The name comes from the ff.environment setting.', HINT = hint;
        ELSE
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
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
        RAISE EXCEPTION 'flag "%" does not exist in environment "%"', ff._name_in_message(key), environment
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
    RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(segment), environment
        USING ERRCODE = 'undefined_object',
              HINT = ff._perhaps_you_meant(segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                           WHERE g.environment = _segment_not_found.environment))
                  || ff._create_hint('segment', segment, environment);
END;
$$;

COMMENT ON FUNCTION ff._segment_not_found(text, text) IS
'Internal: raises undefined_object for a segment missing from an environment';

-- ff._experiment_results does the work of ff.experiment_results, which
-- passes the caller's search_path: the caller's query is parsed and run
-- with it (and the caller's rights: SECURITY INVOKER), everything else with
-- the pinned one.
CREATE OR REPLACE FUNCTION ff._experiment_results(query text, control text, expected_split jsonb,
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
    example     constant text := 'For example SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id::text), ''off''), u.converted FROM users AS u';
BEGIN
    IF query IS NULL OR control IS NULL OR confidence IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN query IS NULL THEN 'query' WHEN control IS NULL THEN 'control' ELSE 'confidence' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT * FROM ff.experiment_results($q$SELECT ff.get_string(''checkout'', jsonb_build_object(''targetingKey'', u.id::text), ''off''), u.converted FROM users AS u$q$, control => ''off'');';
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

-- ff.apply_draft saves a draft of a flag: the write counterpart of
-- ff.evaluate_draft (1.14).  The draft is a flagd flag object; the members
-- it gives replace the stored flag's, the others are kept (description,
-- tags and owner always are).  A flag that does not exist is created from
-- the draft, which must give its variants then.  The draft is checked with
-- ff.evaluate_draft's checks first, so both refuse the same drafts with the
-- same errors, then written through ff.flags, whose triggers validate,
-- record and notify as for any write.  A draft that changes nothing writes
-- nothing (no new version).  It is always strict: ff.invalid_targeting and
-- check_function_bodies (a restore's leniency) are pinned, so what a
-- scheduled change saves does not depend on the session that runs it.
CREATE OR REPLACE FUNCTION ff.apply_draft(flag_key text, draft jsonb, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'error'
SET check_function_bodies = on
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(apply_draft.environment);
    old         ff.flags;
    merged      ff.flags;
    result      ff.flags;
    stored      boolean;
BEGIN
    IF flag_key IS NULL OR draft IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN flag_key IS NULL THEN 'flag key' ELSE 'draft' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a flag key and a flagd flag object, for example SELECT ff.apply_draft(''checkout'', ''{"state": "DISABLED"}'');';
    END IF;
    PERFORM ff._check_name('flag', flag_key);
    -- the checks of ff.evaluate_draft: an object of known members that
    -- compiles over the stored flag, with segments the environment has
    PERFORM ff.evaluate_draft(flag_key, '{}'::jsonb, draft, NULL::jsonb, env);

    -- (1.19) the history's writer lock before the flag's row lock, the
    -- order every writer takes them in: a statement that changes no row
    -- still fires ff_01_writer_lock.  1.18 locked the row first, and
    -- deadlocked with a writer that held the writer lock and then wrote
    -- the same flag (the scheduled-change runner calls this function).
    UPDATE ff.flags SET key = key WHERE false;
    -- the stored flag (if any) with the draft's members over it; JSON null
    -- removes the default variant or the targeting (the validation trigger
    -- stores {} as none too), and null metadata is {}
    SELECT * INTO old FROM ff.flags AS f WHERE f.environment = env AND f.key = flag_key FOR UPDATE;
    stored := FOUND;
    merged := old;
    IF draft ? 'state' THEN
        merged.state := draft ->> 'state';
    END IF;
    IF draft ? 'variants' THEN
        merged.variants := draft -> 'variants';
    END IF;
    IF draft ? 'defaultVariant' THEN
        merged.default_variant := draft ->> 'defaultVariant';
    END IF;
    IF draft ? 'targeting' THEN
        merged.targeting := NULLIF(draft -> 'targeting', 'null');
    END IF;
    IF draft ? 'metadata' THEN
        merged.metadata := COALESCE(NULLIF(draft -> 'metadata', 'null'), '{}');
    END IF;

    IF NOT stored THEN
        INSERT INTO ff.flags AS t (environment, key, state, variants, default_variant, targeting, metadata)
        VALUES (env, flag_key, COALESCE(merged.state, 'ENABLED'), merged.variants, merged.default_variant,
                merged.targeting, COALESCE(merged.metadata, '{}'))
        RETURNING * INTO result;
        RETURN result;
    END IF;
    IF (merged.state, merged.variants, merged.default_variant, merged.targeting, merged.metadata)
       IS NOT DISTINCT FROM (old.state, old.variants, old.default_variant, old.targeting, old.metadata) THEN
        RETURN old;
    END IF;
    UPDATE ff.flags AS t
       SET state = merged.state,
           variants = merged.variants,
           -- variants of another type change the flag's type: derived again
           flag_type = CASE WHEN merged.variants IS DISTINCT FROM old.variants THEN NULL ELSE t.flag_type END,
           default_variant = merged.default_variant,
           targeting = merged.targeting,
           metadata = merged.metadata
     WHERE t.environment = env AND t.key = flag_key
    RETURNING * INTO result;
    IF result.flag_type IS DISTINCT FROM old.flag_type THEN
        RAISE WARNING 'flag "%" in environment "%" changes type from % to %', flag_key, env, old.flag_type, result.flag_type
            USING DETAIL = pg_catalog.format('The draft''s variants are of type %s; applications that read the flag as %s get their default, with error code TYPE_MISMATCH.',
                                             result.flag_type, old.flag_type),
                  HINT = 'If the change is a mistake, apply a draft with variants of the old type.';
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.apply_draft(text, jsonb, text) IS
'Saves a draft of a flag (a flagd flag object: members given replace the stored flag''s, a missing flag is created); the write counterpart of ff.evaluate_draft; returns the flag''s row';
