-- ---------------------------------------------------------------------
-- Change notifications (src/sql/040_notify.sql)
--
-- At commit, never on rollback, one NOTIFY per committing transaction that
-- changed the configuration, on the channel named by ff.notify_channel
-- (default ff_changes).  The payload is a small JSON object:
--   {"version": last version of the change-set, "change_set": its first,
--    "changes": number of versions, "environments": [...], "flags": [...],
--    "segments": [...], "truncated": whether names were left out}
-- Names are left out (and "truncated" is true) before the payload reaches
-- PostgreSQL's 8000-byte limit.  The notification is a doorbell: read the
-- history (ff.changes_since) for the truth.
-- ---------------------------------------------------------------------

-- ff._history_notify_payload: the NOTIFY payload of a change-set: version, change_set, changes,
--   environments, flags, segments, truncated
CREATE FUNCTION ff._history_notify_payload(change_set bigint, max_bytes integer DEFAULT 7900)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- the generic plan (an index scan from change_set on) is the right one;
-- without this the estimate of "version >= $1" makes every call plan anew
SET plan_cache_mode = force_generic_plan
-- the generic plan is made once per session; with the table's statistics of
-- that moment (a small history) it could be a sequential scan, which then
-- grows with the history for the rest of the session: the change-set's rows
-- are always read through the primary key
SET enable_seqscan = off
AS $$
DECLARE
    last_version    bigint;
    n_changes       bigint;
    envs            jsonb;
    flags           jsonb;
    segs            jsonb;
    n_names         bigint;
    n_kept          bigint;
    budget          integer;
    one             record;
    env_cost        bigint;
    key_cost        bigint;
    next_set        bigint;
BEGIN
    -- names listed in order (environments, flags, segments), each costing
    -- its JSON length plus the ", " separator, until the budget is spent
    budget := max_bytes - 200;

    -- (1.24) where the change-set ends: its versions are consecutive (their
    -- transaction held the writer lock), so at the first later version of
    -- another change-set.  1.23 read every version after change_set: cheap
    -- at a commit, the newest change-set, but at the initial copy of a
    -- subscription, which notified every past change-set, the time grew
    -- with the square of the history's length (30,000 versions: 75 s).
    SELECT v.version INTO next_set
      FROM ff.versions AS v
     WHERE v.version > $1 AND v.change_set <> $1
     ORDER BY v.version
     LIMIT 1;
    next_set := COALESCE(next_set, 9223372036854775807);

    -- a change-set of one version (a single change, the usual case): the
    -- payload straight from that row, the same as the general query below
    -- gives for it
    SELECT pg_catalog.count(*) AS n, pg_catalog.max(v.version) AS version,
           pg_catalog.min(v.entity) AS entity, pg_catalog.min(v.environment) AS environment,
           pg_catalog.min(v.entity_key) AS entity_key
      INTO one
      FROM ff.versions AS v
     WHERE v.version >= $1 AND v.version < next_set AND v.change_set = $1;
    IF one.n = 1 THEN
        env_cost := pg_catalog.octet_length(pg_catalog.to_jsonb(one.environment)::text) + 2;
        IF one.entity IN ('flag', 'segment') THEN
            key_cost := env_cost + pg_catalog.octet_length(pg_catalog.to_jsonb(one.entity_key)::text) + 2;
        END IF;
        RETURN pg_catalog.jsonb_build_object(
            'version', one.version,
            'change_set', $1,
            'changes', 1,
            'environments', CASE WHEN env_cost <= budget
                                 THEN pg_catalog.jsonb_build_array(one.environment)
                                 ELSE '[]'::jsonb END,
            'flags', CASE WHEN one.entity = 'flag' AND key_cost <= budget
                          THEN pg_catalog.jsonb_build_array(one.entity_key)
                          ELSE '[]'::jsonb END,
            'segments', CASE WHEN one.entity = 'segment' AND key_cost <= budget
                             THEN pg_catalog.jsonb_build_array(one.entity_key)
                             ELSE '[]'::jsonb END,
            'truncated', env_cost > budget OR coalesce(key_cost > budget, false))::text;
    END IF;

    -- several versions: one statement, one index scan of the change-set's
    -- rows (they are the versions from change_set on that carry it)
    WITH cs AS MATERIALIZED (
        SELECT v.version, v.entity, v.environment, v.entity_key
          FROM ff.versions AS v
         WHERE v.version >= $1 AND v.version < next_set AND v.change_set = $1),
    names AS (
        SELECT DISTINCT 1 AS kind, c.environment AS name
          FROM cs AS c
        UNION
        SELECT DISTINCT 2, c.entity_key
          FROM cs AS c WHERE c.entity = 'flag'
        UNION
        SELECT DISTINCT 3, c.entity_key
          FROM cs AS c WHERE c.entity = 'segment'),
    costed AS (
        SELECT n.kind, n.name,
               pg_catalog.sum(pg_catalog.octet_length(pg_catalog.to_jsonb(n.name)::text) + 2)
                   OVER (ORDER BY n.kind, n.name) AS running
          FROM names AS n)
    SELECT (SELECT pg_catalog.max(c.version) FROM cs AS c),
           (SELECT pg_catalog.count(*) FROM cs AS c),
           coalesce(pg_catalog.jsonb_agg(c.name ORDER BY c.name) FILTER (WHERE c.kind = 1 AND c.running <= budget), '[]'),
           coalesce(pg_catalog.jsonb_agg(c.name ORDER BY c.name) FILTER (WHERE c.kind = 2 AND c.running <= budget), '[]'),
           coalesce(pg_catalog.jsonb_agg(c.name ORDER BY c.name) FILTER (WHERE c.kind = 3 AND c.running <= budget), '[]'),
           pg_catalog.count(*),
           pg_catalog.count(*) FILTER (WHERE c.running <= budget)
      INTO last_version, n_changes, envs, flags, segs, n_names, n_kept
      FROM costed AS c;

    RETURN pg_catalog.jsonb_build_object(
        'version', last_version,
        'change_set', $1,
        'changes', n_changes,
        'environments', envs,
        'flags', flags,
        'segments', segs,
        'truncated', n_kept < n_names)::text;
END;
$$;
COMMENT ON FUNCTION ff._history_notify_payload(bigint, integer) IS
    'Internal: the NOTIFY payload of a change-set: version, change_set, changes, environments, flags, segments, truncated';

-- ff._history_notify: at commit, sends one NOTIFY for the change-set of the committing
--   transaction (src/ff_history.c: a one-version change-set, the usual single change, gets
--   its payload from the row itself; larger ones call ff._history_notify_payload(), as the
--   function's owner with search_path pg_catalog: not SECURITY DEFINER, whose SET clause
--   would cost every commit more than the call itself (1.2)
CREATE FUNCTION ff._history_notify()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_notify';
COMMENT ON FUNCTION ff._history_notify() IS
    'Trigger ff_90_notify: at commit, sends one NOTIFY for the change-set of the committing transaction';

-- deferred to commit, and queued only for the first version of each
-- change-set: one NOTIFY per committing transaction, none on rollback
CREATE CONSTRAINT TRIGGER ff_90_notify
    AFTER INSERT ON ff.versions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.version = NEW.change_set)
    EXECUTE FUNCTION ff._history_notify();

REVOKE ALL ON FUNCTION ff._history_notify_payload(bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_notify() FROM PUBLIC;
