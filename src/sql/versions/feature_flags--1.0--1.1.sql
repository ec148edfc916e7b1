-- feature_flags 1.0 -> 1.1 (ALTER EXTENSION feature_flags UPDATE TO '1.1')
--
-- 1.1 moves what every configuration write pays for into C and signals the
-- evaluation cache through a dedicated empty table.  The data are untouched:
-- no configuration row and no history row changes.  What changes:
--   * ff._cache_signal, an empty table whose relcache invalidation replaces
--     that of the changed configuration table;
--   * ff.versions: one CHECK in C (versions_row_check) instead of seven
--     expressions, same rules;
--   * ff.history_lock loses change_set: a transaction's change-set is derived
--     from the latest version (ff._history_next);
--   * C trigger functions (same names, same triggers): ff._history_row_trigger,
--     ff._history_writer_lock, ff._history_notify, ff._replication_guard,
--     ff._protect_statement, ff._validate_flag; the PL/pgSQL implementations
--     they hand the rare cases to are ff._history_row_trigger_general,
--     ff._protect_statement_general and ff._validate_flag_general;
--   * ff._history_notify_payload reads a change-set through the primary key.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.1'" to load this file. \quit

-- the cache signal ------------------------------------------------------------

CREATE TABLE ff._cache_signal ();
COMMENT ON TABLE ff._cache_signal IS
    'Internal, always empty: its relcache invalidation at commit tells every backend (and hot standbys) to rebuild the evaluation cache';
REVOKE ALL ON TABLE ff._cache_signal FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('ff._cache_signal', 'WHERE false');
-- from the next statement on, backends that load the 1.1 library watch it
-- the row check of ff.versions -------------------------------------------------

CREATE FUNCTION ff._history_row_check(version bigint, change_set bigint, entity text,
                                      operation text, hash text, prev_hash text)
RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_history_row_check';
COMMENT ON FUNCTION ff._history_row_check(bigint, bigint, text, text, text, text) IS
    'Internal: CHECK constraint of ff.versions: raises check_violation naming the version and the rule it breaks, else true';
REVOKE ALL ON FUNCTION ff._history_row_check(bigint, bigint, text, text, text, text) FROM PUBLIC;
ALTER TABLE ff.versions
    DROP CONSTRAINT versions_version_check,
    DROP CONSTRAINT versions_change_set_check,
    DROP CONSTRAINT versions_entity_check,
    DROP CONSTRAINT versions_operation_check,
    DROP CONSTRAINT versions_keys_check,
    DROP CONSTRAINT versions_hash_check,
    DROP CONSTRAINT versions_prev_hash_check,
    ADD CONSTRAINT versions_row_check
        CHECK (ff._history_row_check(version, change_set, entity, operation, hash, prev_hash));

-- the writer lock: the change-set is derived, not stored ------------------------

CREATE OR REPLACE FUNCTION ff._history_next(OUT next_version bigint, OUT next_change_set bigint,
                                 OUT last_hash text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me          pg_catalog.xid8 := pg_catalog.pg_current_xact_id();
    held        boolean;
    last_mine   boolean;
    cs          bigint;
BEGIN
    -- the lock row and, for a transaction that already holds the lock (no
    -- other writer can commit a version meanwhile), the latest version
    SELECT l.holder = me, lv.version, lv.hash, lv.xact_id = me, lv.change_set
      INTO held, next_version, last_hash, last_mine, cs
      FROM ff.history_lock AS l
      LEFT JOIN LATERAL (SELECT v.version, v.hash, v.xact_id, v.change_set
                           FROM ff.versions AS v
                          ORDER BY v.version DESC
                          LIMIT 1) AS lv ON true;
    IF held IS NOT TRUE THEN
        -- first write of this transaction: take the writer lock (waits for
        -- the writer holding it to commit or roll back)
        UPDATE ff.history_lock SET holder = me;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ff.history_lock has no row'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Reinstall the feature_flags extension.';
        END IF;
        -- a new snapshot (READ COMMITTED): sees every version committed
        -- before us
        SELECT v.version, v.hash, v.xact_id = me, v.change_set
          INTO next_version, last_hash, last_mine, cs
          FROM ff.versions AS v ORDER BY v.version DESC LIMIT 1;
    END IF;
    next_version := coalesce(next_version, 0) + 1;
    -- the change-set is the transaction's first version: while the lock is
    -- held every version after the latest committed one is ours, so it is
    -- the latest version's change-set if that version is ours, else the
    -- version about to be written (versions of a rolled-back subtransaction
    -- are not visible, and their numbers are written again)
    IF last_mine IS NOT TRUE THEN
        cs := next_version;
    END IF;
    next_change_set := cs;
END;
$$;
COMMENT ON FUNCTION ff._history_next() IS
    'Internal: takes the writer lock and returns the next version, the change-set of the transaction and the hash to chain to';
ALTER TABLE ff.history_lock DROP COLUMN change_set;

-- notification ----------------------------------------------------------------

CREATE OR REPLACE FUNCTION ff._history_notify_payload(change_set bigint, max_bytes integer DEFAULT 7900)
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
BEGIN
    -- names listed in order (environments, flags, segments), each costing
    -- its JSON length plus the ", " separator, until the budget is spent
    budget := max_bytes - 200;

    -- a change-set of one version (a single change, the usual case): the
    -- payload straight from that row, the same as the general query below
    -- gives for it
    SELECT pg_catalog.count(*) AS n, pg_catalog.max(v.version) AS version,
           pg_catalog.min(v.entity) AS entity, pg_catalog.min(v.environment) AS environment,
           pg_catalog.min(v.entity_key) AS entity_key
      INTO one
      FROM ff.versions AS v
     WHERE v.version >= $1 AND v.change_set = $1;
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
         WHERE v.version >= $1 AND v.change_set = $1),
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
CREATE OR REPLACE FUNCTION ff._history_notify()
RETURNS trigger
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ff_history_notify';
COMMENT ON FUNCTION ff._history_notify() IS
    'Trigger ff_90_notify: at commit, sends one NOTIFY for the change-set of the committing transaction';

-- the history row trigger -----------------------------------------------------

CREATE FUNCTION ff._history_row_trigger_general()
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
    SELECT l.version INTO in_sync
      FROM (SELECT v.version, v.operation, v.after
              FROM ff.versions AS v
             WHERE v.entity = TG_ARGV[0] AND v.environment = new_env AND v.entity_key = new_key
               AND v.operation <> 'KEYS'
             ORDER BY v.version DESC
             LIMIT 1) AS l
     WHERE l.operation <> 'DELETE'
       AND (l.after - 'version') = (new_img - 'version')
       AND (l.version = (new_img ->> 'version')::bigint
            OR (unstamped_ok AND new_img ->> 'version' IS NULL));
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
REVOKE ALL ON FUNCTION ff._history_row_trigger_general() FROM PUBLIC;
CREATE OR REPLACE FUNCTION ff._history_row_trigger()
RETURNS trigger
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS 'MODULE_PATHNAME', 'ff_history_row_trigger';
COMMENT ON FUNCTION ff._history_row_trigger() IS
    'Trigger ff_90_history: stamps the row with its new version and appends the version to ff.versions';
CREATE OR REPLACE FUNCTION ff._history_writer_lock()
RETURNS trigger
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ff_history_writer_lock';
COMMENT ON FUNCTION ff._history_writer_lock() IS
    'Trigger ff_01_writer_lock: takes the history writer lock at the start of each write statement, before any config row is locked (no lock-order deadlocks between writers)';

-- guards -----------------------------------------------------------------------

CREATE OR REPLACE FUNCTION ff._replication_guard()
RETURNS trigger
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ff_replication_guard';
COMMENT ON FUNCTION ff._replication_guard() IS
    'Trigger ff_00_subscriber_guard: refuses configuration writes made directly on a logical replication subscriber of the ff tables';
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
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._protect_statement_general() IS
'Internal: the check of ff._protect_statement() when an environment is protected: refuses changes in protected environments that current_user may not change';
CREATE OR REPLACE FUNCTION ff._protect_statement()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_protect_statement';
COMMENT ON FUNCTION ff._protect_statement() IS
'Trigger function of ff_95_protect_insert/_update/_delete on ff.flags, ff.segments and ff.segment_keys: refuses changes in protected environments that current_user may not change';
CREATE FUNCTION ff._validate_flag_general()
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

    IF NEW.state IS NOT NULL AND NEW.state NOT IN ('ENABLED', 'DISABLED') THEN
        RAISE EXCEPTION 'invalid state "%" for %', NEW.state, label
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The problem is at $.state.',
                  HINT = 'The state is ''ENABLED'' or ''DISABLED'' (upper case); ff.enable_flag() and ff.disable_flag() set it.';
    END IF;

    -- variants and flag type
    IF is_new OR NEW.variants IS DISTINCT FROM OLD.variants
       OR NEW.flag_type IS DISTINCT FROM OLD.flag_type THEN
        IF NEW.variants IS NULL THEN
            RETURN NEW;         -- the NOT NULL constraint reports it
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
        info := ff._rule_info(NEW.targeting, format('targeting for %s', label));
        PERFORM ff._check_segment_refs(NEW.environment, info.segments, NEW.targeting,
                                       format('targeting for %s', label), '$.targeting');
        FOR res IN SELECT r FROM jsonb_array_elements(info.results) AS r LOOP
            IF (jsonb_typeof(res) = 'string' AND NOT NEW.variants ? (res #>> '{}'))
               OR (jsonb_typeof(res) = 'boolean' AND NOT NEW.variants ? (res #>> '{}')) THEN
                res_path := COALESCE(ff._rule_path_of(NEW.targeting, 'result', res, '$.targeting'), '$.targeting');
                SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) INTO names FROM jsonb_object_keys(NEW.variants) AS k;
                RAISE EXCEPTION 'targeting for % can return %, which is not a variant', label, res::text
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = format('The result is at %s; the variants are %s.', res_path, names),
                          HINT = CASE jsonb_typeof(res)
                              WHEN 'boolean' THEN 'A rule that returns true/false selects the variants named "true"/"false"; add them or return variant names.'
                              ELSE 'Targeting results name variants; return one of the variant names, or null for the default variant.'
                          END;
            END IF;
        END LOOP;
    END IF;

    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION ff._validate_flag_general() IS
'Internal: the checks of ff_10_validate_flags for every case: key rule, typed variants, default variant, flat metadata, targeting (operators, segments, results)';
CREATE OR REPLACE FUNCTION ff._validate_flag()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_validate_flag';
COMMENT ON FUNCTION ff._validate_flag() IS
'Trigger function of ff_10_validate_flags: key rule, typed variants, default variant, flat metadata, targeting (operators, segments, results)';
