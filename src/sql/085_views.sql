-- ---------------------------------------------------------------------
-- Views: flags, segments and environments at a glance
--
-- The views are security_invoker: they show what the querying role may
-- read in the underlying tables, nothing more.
-- ---------------------------------------------------------------------

-- ff._ellipsis: U+2026, given by its UTF-8 bytes (the install script is ASCII), in a UTF-8 or
--   SQL_ASCII database; "..." in another (which only an update from 1.9 or earlier has)
CREATE FUNCTION ff._ellipsis()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.getdatabaseencoding() IN ('UTF8', 'SQL_ASCII')
                THEN pg_catalog.convert_from('\xe280a6', 'UTF8') ELSE '...' END
$$;
COMMENT ON FUNCTION ff._ellipsis() IS
    'Internal: an ellipsis, U+2026 in a UTF-8 or SQL_ASCII database and "..." in another';

-- ff._targeting_summary describes a targeting rule in one short line:
-- "rollout on 25%, off 75%" (with "by <attribute>" when not bucketed by
-- targetingKey), "everyone: on", or the operators used, the segments
-- referenced and the variants it can return.
CREATE FUNCTION ff._targeting_summary(targeting jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    frac        jsonb := targeting;
    args        jsonb;
    bucket      jsonb;
    by_what     text;
    guard       text;
    total       numeric;
    ops         text;
    segs        text;
    results     text;
    summary     text;
BEGIN
    IF targeting IS NULL THEN
        RETURN NULL;
    END IF;
    -- set_rollout's shapes
    IF targeting ? 'if' AND jsonb_typeof(targeting -> 'if') = 'array'
       AND jsonb_array_length(targeting -> 'if') = 2 AND targeting -> 'if' -> 0 = 'true'::jsonb THEN
        RETURN 'everyone: ' || COALESCE(targeting -> 'if' ->> 1, 'null');
    END IF;
    -- bucket_by (1.10): {"if": [{"missing": [attribute]}, null, {"fractional": ...}]}
    IF targeting ? 'if' AND jsonb_typeof(targeting -> 'if') = 'array'
       AND jsonb_array_length(targeting -> 'if') = 3 AND targeting -> 'if' -> 1 = 'null'::jsonb
       AND jsonb_typeof(targeting -> 'if' -> 0 -> 'missing') = 'array'
       AND jsonb_array_length(targeting -> 'if' -> 0 -> 'missing') = 1 THEN
        frac := targeting -> 'if' -> 2;
        guard := targeting -> 'if' -> 0 -> 'missing' ->> 0;
    END IF;
    IF jsonb_typeof(frac) = 'object' AND frac ? 'fractional' AND jsonb_typeof(frac -> 'fractional') = 'array' THEN
        args := (SELECT jsonb_agg(b) FROM jsonb_array_elements(frac -> 'fractional') AS b
                  WHERE jsonb_typeof(b) = 'array');
        bucket := frac -> 'fractional' -> 0;
        IF jsonb_typeof(bucket) <> 'array' THEN
            -- set_rollout's bucket_by: {"cat": [{"var": "$flagd.flagKey"}, {"var": attribute}]}
            IF bucket -> 'cat' -> 0 = '{"var": "$flagd.flagKey"}'::jsonb AND jsonb_array_length(bucket -> 'cat') = 2
               AND jsonb_typeof(bucket -> 'cat' -> 1 -> 'var') = 'string' THEN
                by_what := bucket -> 'cat' -> 1 ->> 'var';
            ELSIF bucket = '{"var": "targetingKey"}'::jsonb THEN
                by_what := 'targetingKey';
            ELSE
                by_what := left(bucket::text, 40) || CASE WHEN length(bucket::text) > 40 THEN ff._ellipsis() ELSE '' END;
            END IF;
        END IF;
        -- the guard of set_rollout's bucket_by is on the attribute bucketed by;
        -- any other guard is a condition of its own, summarised as a rule
        IF args IS NOT NULL AND (guard IS NULL OR guard = by_what) AND NOT EXISTS (
                SELECT 1 FROM jsonb_array_elements(args) AS b
                 WHERE jsonb_typeof(b -> 0) NOT IN ('string', 'boolean')
                    OR (jsonb_array_length(b) > 1 AND jsonb_typeof(b -> 1) <> 'number')) THEN
            -- a weight counts 1 when absent, 0 when negative (as in flagd)
            SELECT sum(GREATEST(COALESCE((b ->> 1)::numeric, 1), 0)) INTO total FROM jsonb_array_elements(args) AS b;
            IF total > 0 THEN
                RETURN 'rollout ' || (
                    SELECT string_agg(format('%s %s%%', b ->> 0,
                               trim_scale(round(GREATEST(COALESCE((b ->> 1)::numeric, 1), 0) * 100 / total, 2))),
                               ', ' ORDER BY o)
                      FROM jsonb_array_elements(args) WITH ORDINALITY AS x(b, o))
                    || COALESCE(' by ' || by_what, '');
            END IF;
        END IF;
    END IF;
    SELECT string_agg(op, ', ' ORDER BY first) INTO ops
      FROM (SELECT w.item_value #>> '{}' AS op, min(w.ord) AS first
              FROM ff._rule_walk(targeting, '$', true) WITH ORDINALITY AS w(item_kind, item_path, item_value, ord)
             WHERE w.item_kind = 'operator' AND w.item_value #>> '{}' NOT IN ('var', 'in_segment')
             GROUP BY 1) AS o;
    SELECT string_agg(DISTINCT w.item_value #>> '{}', ', ') INTO segs
      FROM ff._rule_walk(targeting, '$', true) AS w WHERE w.item_kind = 'segment';
    SELECT string_agg(r, ', ' ORDER BY first) INTO results
      FROM (SELECT w.item_value #>> '{}' AS r, min(w.ord) AS first
              FROM ff._rule_walk(targeting, '$', true) WITH ORDINALITY AS w(item_kind, item_path, item_value, ord)
             WHERE w.item_kind = 'result' GROUP BY 1) AS x;
    summary := concat_ws(' ', ops,
                         CASE WHEN segs IS NOT NULL THEN '(segments: ' || segs || ')' END,
                         CASE WHEN results IS NOT NULL THEN '-> ' || results END);
    IF length(summary) > 100 THEN
        summary := left(summary, 99) || ff._ellipsis();
    END IF;
    RETURN summary;
END;
$$;

COMMENT ON FUNCTION ff._targeting_summary(jsonb) IS
'Internal: one-line description of a targeting rule for ff.flags_overview';

CREATE VIEW ff.flags_overview WITH (security_invoker = true) AS
SELECT f.environment,
       f.key,
       f.state,
       f.flag_type AS type,
       f.default_variant,
       ARRAY(SELECT k FROM jsonb_object_keys(f.variants) AS k ORDER BY k) AS variants,
       f.targeting IS NOT NULL AS has_targeting,
       ff._targeting_summary(f.targeting) AS targeting_summary,
       f.tags,
       f.owner,
       f.updated_at,
       f.version
  FROM ff.flags AS f
 ORDER BY f.environment, f.key;

COMMENT ON VIEW ff.flags_overview IS
'Flags at a glance: one row per flag and environment with its state, type, variants and a one-line targeting summary';
COMMENT ON COLUMN ff.flags_overview.environment IS 'Environment (flagd flag set) of the flag';
COMMENT ON COLUMN ff.flags_overview.key IS 'Flag key';
COMMENT ON COLUMN ff.flags_overview.state IS 'ENABLED, or DISABLED (kill switch: callers get their code default)';
COMMENT ON COLUMN ff.flags_overview.type IS 'Type of the variant values: boolean, string, number or object';
COMMENT ON COLUMN ff.flags_overview.default_variant IS 'Variant served without targeting match; NULL = the caller''s code default';
COMMENT ON COLUMN ff.flags_overview.variants IS 'Variant names, sorted';
COMMENT ON COLUMN ff.flags_overview.has_targeting IS 'Whether the flag has a targeting rule';
COMMENT ON COLUMN ff.flags_overview.targeting_summary IS 'One-line summary of the targeting: rollout split, or operators, segments and possible results';
COMMENT ON COLUMN ff.flags_overview.tags IS 'Free-form tags of the flag';
COMMENT ON COLUMN ff.flags_overview.owner IS 'Owner of the flag (team or person)';
COMMENT ON COLUMN ff.flags_overview.updated_at IS 'When the flag was last changed';
COMMENT ON COLUMN ff.flags_overview.version IS 'Configuration version that last wrote the flag';

CREATE VIEW ff.segments_overview WITH (security_invoker = true) AS
SELECT s.environment,
       s.name,
       s.rule IS NOT NULL AS has_rule,
       CASE WHEN length(s.rule::text) <= 80 THEN s.rule::text
            ELSE ff._targeting_summary(s.rule) END AS rule_summary,
       (SELECT count(*) FROM ff.segment_keys AS k
         WHERE k.environment = s.environment AND k.segment = s.name AND NOT k.excluded) AS included_keys,
       (SELECT count(*) FROM ff.segment_keys AS k
         WHERE k.environment = s.environment AND k.segment = s.name AND k.excluded) AS excluded_keys,
       ARRAY(SELECT u.kind || ' ' || u.name FROM ff._segment_users(s.environment, s.name) AS u) AS used_by,
       s.description,
       s.updated_at
  FROM ff.segments AS s
 ORDER BY s.environment, s.name;

COMMENT ON VIEW ff.segments_overview IS
'Segments at a glance: rule, size of the include and exclude lists, and the flags and segments that use each one';
COMMENT ON COLUMN ff.segments_overview.environment IS 'Environment of the segment';
COMMENT ON COLUMN ff.segments_overview.name IS 'Segment name, as used in {"in_segment": "name"}';
COMMENT ON COLUMN ff.segments_overview.has_rule IS 'Whether the segment has a JSON Logic rule';
COMMENT ON COLUMN ff.segments_overview.rule_summary IS 'The rule itself when short, otherwise a one-line summary (operators, segments)';
COMMENT ON COLUMN ff.segments_overview.included_keys IS 'Number of targeting keys that are always members';
COMMENT ON COLUMN ff.segments_overview.excluded_keys IS 'Number of targeting keys that are never members';
COMMENT ON COLUMN ff.segments_overview.used_by IS 'Flags and segments whose rules reference this segment';
COMMENT ON COLUMN ff.segments_overview.description IS 'Description of the segment';
COMMENT ON COLUMN ff.segments_overview.updated_at IS 'When the segment was last changed';

CREATE VIEW ff.environments_overview WITH (security_invoker = true) AS
SELECT e.name,
       e.is_default,
       (SELECT count(*) FROM ff.flags AS f WHERE f.environment = e.name) AS flags,
       (SELECT count(*) FROM ff.flags AS f WHERE f.environment = e.name AND f.state = 'ENABLED') AS enabled,
       (SELECT count(*) FROM ff.flags AS f WHERE f.environment = e.name AND f.state = 'DISABLED') AS disabled,
       (SELECT count(*) FROM ff.segments AS s WHERE s.environment = e.name) AS segments,
       e.metadata,
       e.description,
       e.updated_at
  FROM ff.environments AS e
 ORDER BY e.name;

COMMENT ON VIEW ff.environments_overview IS
'Environments at a glance: default marker, number of flags (enabled/disabled) and segments, flag-set metadata';
COMMENT ON COLUMN ff.environments_overview.name IS 'Environment name';
COMMENT ON COLUMN ff.environments_overview.is_default IS 'Whether this is the default environment';
COMMENT ON COLUMN ff.environments_overview.flags IS 'Number of flags';
COMMENT ON COLUMN ff.environments_overview.enabled IS 'Number of ENABLED flags';
COMMENT ON COLUMN ff.environments_overview.disabled IS 'Number of DISABLED flags';
COMMENT ON COLUMN ff.environments_overview.segments IS 'Number of segments';
COMMENT ON COLUMN ff.environments_overview.metadata IS 'Flag-set metadata (flagd "metadata"), merged under every flag''s metadata';
COMMENT ON COLUMN ff.environments_overview.description IS 'Description of the environment';
COMMENT ON COLUMN ff.environments_overview.updated_at IS 'When the environment row was last changed';
