-- feature_flags 1.21 -> 1.22
--
-- 1.22 changes no table.  It replaces three functions of the history
-- (found by a review of the history and its guarantees):
--   * ff._history_keys_needed: a statement that removes more keys than the
--     recorded size of a segment's key list is recorded unless this
--     transaction deleted the segment (the writable-CTE case the rule was
--     for).  1.21 skipped every such removal: after one key list change made
--     without being recorded (keys added with session_replication_role =
--     replica), a later ordinary removal, ff.rollback_segment's as well, was
--     lost from the history.
--   * ff._history_keys_apply: such a version's after figures are those of
--     the list the history replays, with the statement's change applied (a
--     size below zero before).
--   * ff.verify_history also checks every segment's key list against the
--     size and digest its latest KEYS version records: a list changed
--     without being recorded, or its newest KEYS versions deleted, are named.
-- Same signatures, same privileges; nothing to wait for.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.22'" to load this file. \quit

CREATE OR REPLACE FUNCTION ff._history_keys_apply(environment text, segment text, count_delta bigint,
                                       digest_delta bigint, included jsonb, excluded jsonb,
                                       removed jsonb, inserted_only boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st          record;
    nx          record;
    total       bigint;
    after_count bigint;
    after_digest bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ff.segments AS s
                    WHERE s.environment = $1 AND s.name = $2) THEN
        -- keys removed by the deletion of their segment: the segment's
        -- DELETE version already says its list is gone
        RETURN;
    END IF;
    st := ff._history_keys_state(environment, segment);
    IF inserted_only AND st.key_count = count_delta AND st.keys_digest = digest_delta THEN
        SELECT pg_catalog.count(*) INTO total FROM ff.segment_keys AS k
         WHERE k.environment = $1 AND k.segment = $2;
        IF total = count_delta THEN
            -- the table now holds exactly the recorded list (pg_dump restore)
            RETURN;
        END IF;
    END IF;
    nx := ff._history_next();
    after_count := st.key_count + count_delta;
    after_digest := st.keys_digest # digest_delta;
    IF after_count < 0 THEN
        -- (1.22) more keys removed than the recorded list holds: the list
        -- was changed without being recorded before (keys added with
        -- session_replication_role = replica, say), so its recorded figures
        -- are off.  The after figures are those of the list the history
        -- replays, with this statement's change applied, so that they say
        -- again what ff.rollback_segment and ff.verify_history go by.
        SELECT pg_catalog.count(*), coalesce(pg_catalog.bit_xor(ff._history_key_hash(r.targeting_key, r.excluded)), 0)
          INTO after_count, after_digest
          FROM (SELECT h.targeting_key, h.excluded
                  FROM ff._history_keys_at($1, $2, nx.next_version - 1) AS h
                 WHERE NOT EXISTS (SELECT 1
                                     FROM pg_catalog.jsonb_array_elements_text(
                                              coalesce($7, '[]') || coalesce($5, '[]')
                                              || coalesce($6, '[]')) AS c (k)
                                    WHERE c.k = h.targeting_key)
                UNION ALL
                SELECT i.k, false FROM pg_catalog.jsonb_array_elements_text(coalesce($5, '[]')) AS i (k)
                UNION ALL
                SELECT x.k, true FROM pg_catalog.jsonb_array_elements_text(coalesce($6, '[]')) AS x (k)) AS r;
    END IF;
    PERFORM ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, 'segment', environment, segment, 'KEYS',
        pg_catalog.jsonb_build_object('key_count', st.key_count, 'keys_digest', st.keys_digest),
        pg_catalog.jsonb_build_object('key_count', after_count, 'keys_digest', after_digest),
        pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
            'include', included, 'exclude', excluded, 'remove', removed)));
END;
$$;
COMMENT ON FUNCTION ff._history_keys_apply(text, text, bigint, bigint, jsonb, jsonb, jsonb, boolean) IS
    'Internal: records one KEYS version of a segment from the delta of one statement';

CREATE OR REPLACE FUNCTION ff._history_keys_needed(environment text, segment text, count_delta bigint,
                                        digest_delta bigint, inserted_only boolean)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st          record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = $1 AND s.name = $2) THEN
        RETURN false;
    END IF;
    st := ff._history_keys_state(environment, segment);
    IF inserted_only THEN
        IF st.key_count = count_delta AND st.keys_digest = digest_delta
           AND (SELECT pg_catalog.count(*) FROM ff.segment_keys AS k
                 WHERE k.environment = $1 AND k.segment = $2) = count_delta THEN
            RETURN false;
        END IF;
    ELSIF st.key_count + count_delta < 0
          AND (SELECT l.operation = 'DELETE' AND l.xact_id = pg_catalog.pg_current_xact_id()
                 FROM ff.versions AS l
                WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
                  AND l.operation IN ('KEYS', 'DELETE')
                ORDER BY l.version DESC LIMIT 1) THEN
        -- keys removed that the history already has as gone: a segment
        -- deleted and created again in one statement (a writable CTE), whose
        -- old keys the foreign key's cascade removes only after the new row
        -- exists; its DELETE version, written by this transaction, recorded
        -- their removal.  (1.22: only then.  1.21 also skipped any removal
        -- that took the recorded size below zero, which one earlier key list
        -- change made without being recorded was enough for: a recorded
        -- key's removal was lost.)
        RETURN false;
    END IF;
    RETURN true;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_needed(text, text, bigint, bigint, boolean) IS
    'Internal: whether a statement''s change of a segment''s key list is recorded (not for a deleted segment, nor for the rows of a pg_dump restore)';

CREATE OR REPLACE FUNCTION ff.verify_history(OUT ok boolean, OUT checked bigint,
                                  OUT first_broken_version bigint, OUT detail text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    bad         record;
    last_v      bigint;
BEGIN
    SELECT pg_catalog.count(*), pg_catalog.max(v.version) INTO checked, last_v FROM ff.versions AS v;
    SELECT r.* INTO bad
      FROM (SELECT v.version, v.hash, v.prev_hash,
                   ff._history_hash(v) AS recomputed,
                   pg_catalog.lag(v.version) OVER w AS prev_version,
                   pg_catalog.lag(v.hash) OVER w AS prev_row_hash
              FROM ff.versions AS v
            WINDOW w AS (ORDER BY v.version)) AS r
     WHERE r.version <> coalesce(r.prev_version, 0) + 1
        OR r.hash <> r.recomputed
        OR r.prev_hash IS DISTINCT FROM r.prev_row_hash
     ORDER BY r.version
     LIMIT 1;
    IF NOT FOUND THEN
        -- the chain holds; the configuration rows must be what it says: each
        -- stamped with the latest version of its own entity, whose after
        -- image it still holds, and every entity whose latest version did not
        -- delete it present (this catches the newest versions deleted, and
        -- rows written or deleted without being recorded: with
        -- session_replication_role = replica or the triggers disabled, by a
        -- superuser).  A role that may not read the configuration tables
        -- gets the chain's verdict alone.
        IF NOT (pg_catalog.has_table_privilege('ff.flags', 'SELECT')
                AND pg_catalog.has_table_privilege('ff.segments', 'SELECT')
                AND pg_catalog.has_table_privilege('ff.environments', 'SELECT')
                AND pg_catalog.has_table_privilege('ff.segment_keys', 'SELECT')) THEN
            ok := true;
            detail := pg_catalog.format('%s versions, hash chain intact (the configuration rows were not compared with it: this role may not read them)',
                                        checked);
            RETURN;
        END IF;
        WITH latest AS (
            SELECT DISTINCT ON (v.entity, v.environment, v.entity_key)
                   v.entity, v.environment AS env, v.entity_key AS k, v.version, v.operation, v.after
              FROM ff.versions AS v
             WHERE v.operation <> 'KEYS'
             ORDER BY v.entity, v.environment, v.entity_key, v.version DESC
        ), cfg AS (
            SELECT 'flag' AS entity, f.environment AS env, f.key AS k, f.version AS stamp,
                   pg_catalog.to_jsonb(f) AS img
              FROM ff.flags AS f
            UNION ALL
            SELECT 'segment', s.environment, s.name, s.version, pg_catalog.to_jsonb(s)
              FROM ff.segments AS s
            UNION ALL
            SELECT 'environment', e.name, e.name, e.version, pg_catalog.to_jsonb(e)
              FROM ff.environments AS e
        )
        SELECT COALESCE(c.entity, l.entity) AS entity, COALESCE(c.env, l.env) AS env,
               COALESCE(c.k, l.k) AS k, c.entity IS NULL AS missing, c.stamp, l.version AS latest
          INTO bad
          FROM cfg AS c
          FULL JOIN latest AS l ON l.entity = c.entity AND l.env = c.env AND l.k = c.k
         WHERE (c.entity IS NULL AND l.operation <> 'DELETE')
            OR (c.entity IS NOT NULL AND c.stamp IS NULL
                AND (c.entity <> 'environment' OR l.version IS NOT NULL))
            OR (c.entity IS NOT NULL AND c.stamp IS NOT NULL
                AND (l.version IS NULL OR c.stamp <> l.version OR l.operation = 'DELETE'
                     OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(l.after) AS a
                                 WHERE (c.img -> a.key) IS DISTINCT FROM a.value)))
         ORDER BY (c.stamp > last_v) DESC NULLS LAST,
                  COALESCE(c.stamp, l.version), 1, 2, 3
         LIMIT 1;
        IF NOT FOUND THEN
            -- (1.22) and every segment's key list must be the list its
            -- history replays (ff._history_keys_at, as ff.rollback_segment
            -- and ff.evaluate_at_version replay it): this catches keys added,
            -- removed or switched between include and exclude without being
            -- recorded, and the newest KEYS versions deleted, which leave
            -- every configuration row as recorded
            WITH replayed AS (
                SELECT s.environment, s.name AS segment, h.targeting_key AS k, h.excluded
                  FROM ff.segments AS s
                 CROSS JOIN LATERAL ff._history_keys_at(s.environment, s.name, last_v) AS h
            )
            SELECT COALESCE(t.environment, r.environment) AS env, COALESCE(t.segment, r.segment) AS k,
                   COALESCE(t.targeting_key, r.k) AS key, t.excluded AS has_ex, r.excluded AS rec_ex,
                   pg_catalog.count(*) OVER () AS differing
              INTO bad
              FROM ff.segment_keys AS t
              FULL JOIN replayed AS r
                ON r.environment = t.environment AND r.segment = t.segment AND r.k = t.targeting_key
             WHERE t.targeting_key IS NULL OR r.k IS NULL OR t.excluded <> r.excluded
             ORDER BY 1, 2, 3
             LIMIT 1;
            IF NOT FOUND THEN
                ok := true;
                detail := pg_catalog.format('%s versions, hash chain intact', checked);
                RETURN;
            END IF;
            ok := false;
            SELECT pg_catalog.max(v.version) INTO first_broken_version
              FROM ff.versions AS v
             WHERE v.entity = 'segment' AND v.environment = bad.env AND v.entity_key = bad.k;
            detail := pg_catalog.format('the key list of segment "%s" in environment "%s" differs from its history as of version %s: key "%s" ',
                                        bad.k, bad.env, first_broken_version, ff._name_in_message(bad.key))
                      || CASE WHEN bad.rec_ex IS NULL
                              THEN pg_catalog.format('is in the list (%s), but not in the history',
                                                     CASE WHEN bad.has_ex THEN 'excluded' ELSE 'included' END)
                              WHEN bad.has_ex IS NULL
                              THEN pg_catalog.format('is in the history (%s), but not in the list',
                                                     CASE WHEN bad.rec_ex THEN 'excluded' ELSE 'included' END)
                              ELSE pg_catalog.format('is %s in the list, but %s in the history',
                                                     CASE WHEN bad.has_ex THEN 'excluded' ELSE 'included' END,
                                                     CASE WHEN bad.rec_ex THEN 'excluded' ELSE 'included' END)
                         END
                      || CASE WHEN bad.differing > 1
                              THEN pg_catalog.format(' (%s keys differ in all)', bad.differing) ELSE '' END
                      || ': it was changed without being recorded (with session_replication_role = replica, or with the triggers disabled), or its newest versions were deleted';
            RETURN;
        END IF;
        ok := false;
        first_broken_version := COALESCE(bad.stamp, bad.latest);
        detail := CASE bad.entity WHEN 'environment' THEN pg_catalog.format('environment "%s"', bad.k)
                  ELSE pg_catalog.format('%s "%s" in environment "%s"', bad.entity, bad.k, bad.env) END;
        IF bad.missing THEN
            -- (1.18: a restore that failed, pg_restore -j's above all, leaves this too)
            detail := pg_catalog.format('%s does not exist, but its latest version %s did not delete it: it was deleted without being recorded (with session_replication_role = replica, or with the triggers disabled), or a restore did not bring its row back (one that failed, or a pg_restore -j)',
                                        detail, bad.latest);
        ELSIF bad.stamp IS NULL THEN
            detail := detail || ' has no version: it was written without being recorded (with session_replication_role = replica, or with the triggers disabled)';
        ELSIF bad.stamp > COALESCE(last_v, 0) THEN
            detail := pg_catalog.format('the newest versions are missing: %s is stamped with version %s, and the history ends at version %s',
                                        detail, bad.stamp, COALESCE(last_v, 0));
        ELSE
            detail := pg_catalog.format('%s differs from its latest version %s: it was changed without being recorded (with session_replication_role = replica, or with the triggers disabled)',
                                        detail, COALESCE(bad.latest, bad.stamp));
        END IF;
        RETURN;
    END IF;
    ok := false;
    first_broken_version := bad.version;
    IF bad.version <> coalesce(bad.prev_version, 0) + 1 THEN
        -- (1.18) the first missing version is the first broken one (1.17
        -- named the version after the gap)
        first_broken_version := coalesce(bad.prev_version, 0) + 1;
        detail := CASE WHEN bad.version - 1 = first_broken_version
                       THEN pg_catalog.format('version %s is missing', first_broken_version)
                       ELSE pg_catalog.format('versions %s to %s are missing', first_broken_version, bad.version - 1)
                  END
                  || CASE WHEN bad.prev_version IS NULL
                          THEN pg_catalog.format(' (the history starts at version %s)', bad.version)
                          ELSE pg_catalog.format(' (version %s follows version %s)', bad.version, bad.prev_version)
                     END;
    ELSIF bad.hash <> bad.recomputed THEN
        detail := pg_catalog.format('version %s: the stored hash does not match the row''s content (the row was altered)',
                                    bad.version);
    ELSE
        detail := pg_catalog.format('version %s: prev_hash does not match the hash of version %s (the chain was re-linked)',
                                    bad.version, bad.prev_version);
    END IF;
END;
$$;
COMMENT ON FUNCTION ff.verify_history() IS
    'Recomputes the hash chain of ff.versions and checks that the configuration rows and segment key lists are what it records; names the first broken version (gap, altered row, broken link, missing newest versions, unrecorded change)';
