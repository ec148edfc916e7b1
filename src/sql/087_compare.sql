-- ---------------------------------------------------------------------
-- Comparing two environments (1.18)
-- ---------------------------------------------------------------------

-- ff._environment_images returns the comparable image of every flag and
-- segment of an environment, and of the environment itself: the row as
-- JSON without what belongs to the environment or to the row's history
-- (environment, version, created_at, updated_at; of an environment only
-- its metadata), so that two environments' rows compare equal when a copy
-- of one would store the other.  A new column of a config table is
-- compared without a change here.
CREATE FUNCTION ff._environment_images(environment text)
RETURNS TABLE (entity text, name text, image jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'environment', e.name, pg_catalog.jsonb_build_object('metadata', e.metadata)
      FROM ff.environments AS e WHERE e.name = $1
    UNION ALL
    SELECT 'segment', s.name,
           pg_catalog.to_jsonb(s) - ARRAY['environment', 'name', 'version', 'created_at', 'updated_at']
      FROM ff.segments AS s WHERE s.environment = $1
    UNION ALL
    SELECT 'flag', f.key,
           pg_catalog.to_jsonb(f) - ARRAY['environment', 'key', 'version', 'created_at', 'updated_at']
      FROM ff.flags AS f WHERE f.environment = $1
$$;

COMMENT ON FUNCTION ff._environment_images(text) IS
'Internal: the comparable image of an environment''s metadata, segments and flags (without environment, identity, version and timestamps), for ff.diff_environments';

-- ff.diff_environments lists what differs between two environments, read
-- as what copying from_environment over to_environment would change: a
-- flag or segment missing in to_environment (ff.copy_environment adds
-- it), one that differs (overwrite => true replaces it), one that only
-- to_environment has (the copy keeps it), and different environment
-- metadata (which the copy does not change).  diff is what the history
-- would record: {"field": {"old": <to_environment's>, "new":
-- <from_environment's>}}, and for a segment's keys {"keys": {"added": n,
-- "removed": n, "switched": n}}.  Identical rows are not listed.
CREATE FUNCTION ff.diff_environments(from_environment text, to_environment text)
RETURNS TABLE (entity text, name text, difference text, summary text, diff jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    src         text;
    dst         text;
BEGIN
    -- (unlike the other functions, neither side defaults: a comparison
    -- with an environment picked by a setting would answer a question
    -- nobody asked)
    IF from_environment IS NULL OR to_environment IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
                        CASE WHEN from_environment IS NULL THEN 'from_environment' ELSE 'to_environment' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name both environments, for example SELECT * FROM ff.diff_environments(''staging'', ''production'');';
    END IF;
    src := ff._resolve_environment(from_environment);
    dst := ff._resolve_environment(to_environment);

    RETURN QUERY
    WITH f AS (SELECT * FROM ff._environment_images(src)),
         t AS (SELECT * FROM ff._environment_images(dst)),
         rows AS (
             SELECT coalesce(f.entity, t.entity) AS entity,
                    -- an environment is listed under the one that would change
                    CASE WHEN coalesce(f.entity, t.entity) = 'environment' THEN dst
                         ELSE coalesce(f.name, t.name) END AS name,
                    f.image AS new_image, t.image AS old_image
               FROM f FULL JOIN t ON t.entity = f.entity AND (t.entity = 'environment' OR t.name = f.name)
         ),
         -- the key lists of the segments of either side, compared by key
         keys AS (
             SELECT coalesce(k.segment, l.segment) AS segment,
                    count(*) FILTER (WHERE l.segment IS NULL) AS added,
                    count(*) FILTER (WHERE k.segment IS NULL) AS removed,
                    count(*) FILTER (WHERE k.excluded <> l.excluded) AS switched
               FROM (SELECT * FROM ff.segment_keys AS sk WHERE sk.environment = src) AS k
               FULL JOIN (SELECT * FROM ff.segment_keys AS sk WHERE sk.environment = dst) AS l
                 ON l.segment = k.segment AND l.targeting_key = k.targeting_key
              GROUP BY 1
             HAVING count(*) FILTER (WHERE l.segment IS NULL OR k.segment IS NULL
                                     OR k.excluded <> l.excluded) > 0
         ),
         diffs AS (
             SELECT r.entity, r.name, r.old_image, r.new_image,
                    CASE WHEN r.old_image IS NULL THEN 'missing'
                         WHEN r.new_image IS NULL THEN 'extra'
                         ELSE 'changed' END AS difference,
                    -- (of a missing one: its fields that have a value)
                    -- ((1.24) not computed for equal images: about 0.5 ms a
                    -- flag, 2.4 s for two equal environments of 5,000 flags)
                    CASE WHEN r.new_image IS NULL THEN NULL
                         WHEN r.old_image = r.new_image THEN '{}'::jsonb
                         ELSE ff._history_diff('UPDATE', r.old_image, r.new_image, NULL) END AS fields,
                    CASE WHEN r.entity = 'segment' AND r.new_image IS NOT NULL AND k.segment IS NOT NULL
                         THEN pg_catalog.jsonb_build_object('added', k.added, 'removed', k.removed,
                                                            'switched', k.switched) END AS key_delta
               FROM rows AS r
               LEFT JOIN keys AS k ON r.entity = 'segment' AND k.segment = r.name
         )
    SELECT d.entity, d.name, d.difference,
           CASE d.difference
               WHEN 'missing' THEN pg_catalog.format('missing in "%s"', dst)
               WHEN 'extra' THEN pg_catalog.format('only in "%s"', dst)
               ELSE pg_catalog.concat_ws('; ',
                        ff._history_fields_summary(d.fields),
                        CASE WHEN d.key_delta IS NOT NULL
                             THEN 'keys: ' || pg_catalog.concat_ws(', ',
                                      CASE WHEN (d.key_delta ->> 'added')::bigint > 0
                                           THEN '+' || (d.key_delta ->> 'added') || ' added' END,
                                      CASE WHEN (d.key_delta ->> 'removed')::bigint > 0
                                           THEN '-' || (d.key_delta ->> 'removed') || ' removed' END,
                                      CASE WHEN (d.key_delta ->> 'switched')::bigint > 0
                                           THEN (d.key_delta ->> 'switched') || ' switched' END) END)
           END,
           CASE WHEN d.difference = 'extra' THEN NULL
                WHEN d.key_delta IS NULL THEN d.fields
                ELSE d.fields || pg_catalog.jsonb_build_object('keys', d.key_delta) END
      FROM diffs AS d
     WHERE d.difference <> 'changed' OR d.fields <> '{}' OR d.key_delta IS NOT NULL
     ORDER BY CASE d.entity WHEN 'environment' THEN 0 WHEN 'segment' THEN 1 ELSE 2 END, d.name;
END;
$$;

COMMENT ON FUNCTION ff.diff_environments(text, text) IS
'What differs between two environments, read as what copying from_environment over to_environment would change: flags and segments missing in to_environment, changed (with a diff and a summary as the history would record them, and the key delta of a segment), or only in to_environment, and different environment metadata';
