/*-------------------------------------------------------------------------
 *
 * feature_flags--1.0.sql
 *	  Install script of the feature_flags extension.
 *
 * Assembled by the Makefile from src/sql/NNN_*.sql in name order; edit
 * those files, not the generated script.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 *-------------------------------------------------------------------------
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION feature_flags" to load this file. \quit

-- Bind every name in this script to pg_catalog (and the ff names, which are
-- always written out).  Views and SQL-standard function bodies resolve their
-- functions and operators now, when the extension is created, and the
-- search_path CREATE EXTENSION sets starts with the schema it is run from,
-- usually public, where the database owner may create functions: a
-- public.format(text, text, text) would beat pg_catalog's variadic format and
-- run with the rights of whoever calls the ff function (1.23).  SET LOCAL: the
-- setting ends with the script (a plain SET would outlive it, in the session
-- that created the extension).
SET LOCAL search_path = pg_catalog, pg_temp;

-- The evaluator works on UTF-8 text: fractional and ff.bucket hash the
-- UTF-8 bytes of a key (as flagd does), substr counts characters.  This
-- script is ASCII, so this check runs in any database encoding.  SQL_ASCII
-- stores the bytes clients send, UTF-8 in practice, and is accepted.
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() NOT IN ('UTF8', 'SQL_ASCII') THEN
        RAISE EXCEPTION 'feature_flags needs a UTF-8 database; database "%" uses %',
                        pg_catalog.current_database(), pg_catalog.getdatabaseencoding()
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Bucketing hashes the UTF-8 bytes of a key, as flagd does, and JSON Logic counts characters of UTF-8 text: in another encoding users would land in other buckets than in flagd.',
                  HINT = 'Create the database with ENCODING ''UTF8'' (CREATE DATABASE ... TEMPLATE template0 ENCODING ''UTF8'' LOCALE ''C.UTF-8''), or initdb with -E UTF8.';
    END IF;
END
$$;

CREATE SCHEMA ff;
COMMENT ON SCHEMA ff IS 'feature_flags: flags, segments, environments, their history, and evaluation functions';
REVOKE ALL ON SCHEMA ff FROM PUBLIC;
GRANT USAGE ON SCHEMA ff TO PUBLIC;
-- ---------------------------------------------------------------------
-- Configuration tables
--
-- These table and column names are a contract shared by the C evaluation
-- cache (src/ff_cache.c reads them) and the SQL layer.  Add columns
-- freely; rename nothing without updating both.
-- ---------------------------------------------------------------------

-- Version stamps: every config row carries the config version that last
-- wrote it (column "version"); the history itself is in 020_history.sql.

CREATE TABLE ff.environments (
    name            text        PRIMARY KEY,
    is_default      boolean     NOT NULL DEFAULT false,
    protected       boolean     NOT NULL DEFAULT false,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    description     text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    version         bigint
);
CREATE UNIQUE INDEX environments_one_default ON ff.environments (is_default) WHERE is_default;

-- The value rules of ff.flags.state and ff.flags.flag_type, as functions in
-- C (src/ff_guard.c).  PostgreSQL reads a CHECK expression back from its
-- stored form and plans it for every statement that writes the table: a
-- call with one column argument costs a fraction of what the equivalent
-- "state IN ('ENABLED', 'DISABLED')" costs there (1.3).  The validation
-- trigger ff_10_validate_flags reports a bad value first, with the flag's
-- name and a hint; these constraints hold also for a write that bypasses
-- the triggers.  Pure functions of their argument: executable by anyone
-- (every writer of ff.flags evaluates them).
CREATE FUNCTION ff._is_flag_state(state text)
RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_is_flag_state';
COMMENT ON FUNCTION ff._is_flag_state(text) IS
    'Internal: CHECK constraint flags_state_check: state is ''ENABLED'' or ''DISABLED''';

CREATE FUNCTION ff._is_flag_type(flag_type text)
RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_is_flag_type';
COMMENT ON FUNCTION ff._is_flag_type(text) IS
    'Internal: CHECK constraint flags_type_check: flag_type is ''boolean'', ''string'', ''number'' or ''object''';

CREATE TABLE ff.flags (
    environment     text        NOT NULL REFERENCES ff.environments (name),
    key             text        NOT NULL,
    state           text        NOT NULL DEFAULT 'ENABLED',
    flag_type       text        NOT NULL,
    variants        jsonb       NOT NULL,
    default_variant text,
    targeting       jsonb,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    description     text,
    tags            text[]      NOT NULL DEFAULT '{}',
    owner           text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    version         bigint,
    PRIMARY KEY (environment, key),
    CONSTRAINT flags_state_check CHECK (ff._is_flag_state(state)),
    CONSTRAINT flags_type_check CHECK (ff._is_flag_type(flag_type))
);
COMMENT ON CONSTRAINT flags_state_check ON ff.flags IS 'state is ''ENABLED'' or ''DISABLED''';
COMMENT ON CONSTRAINT flags_type_check ON ff.flags IS 'flag_type is ''boolean'', ''string'', ''number'' or ''object''';

CREATE TABLE ff.segments (
    environment     text        NOT NULL REFERENCES ff.environments (name),
    name            text        NOT NULL,
    rule            jsonb,
    description     text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    version         bigint,
    PRIMARY KEY (environment, name)
);

-- explicit include/exclude lists: one row per key, so a 1,000,000-key
-- segment is an indexed table, not an array rewritten on every change
CREATE TABLE ff.segment_keys (
    environment     text        NOT NULL,
    segment         text        NOT NULL,
    targeting_key   text        NOT NULL,
    excluded        boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (environment, segment, targeting_key),
    FOREIGN KEY (environment, segment) REFERENCES ff.segments (environment, name) ON DELETE CASCADE
);
-- ---------------------------------------------------------------------
-- History: an immutable, hash-chained, gap-free log of configuration
-- versions (src/sql/020_history.sql)
--
-- Every INSERT, UPDATE, DELETE or TRUNCATE of ff.environments, ff.flags,
-- ff.segments and ff.segment_keys appends rows to ff.versions, one row per
-- changed entity.  The triggers that do it are created at the very end of
-- the install script (080_history_views.sql), so the rows the install
-- script itself creates (the default environment) are not history: a
-- fresh installation starts at version 0 with an empty history, which is
-- what makes a pg_dump restore reproduce the history exactly.
--
-- Design (the README's History section has the user-facing version):
--  * Writers are serialized by the writer lock, a heavyweight lock in
--    exclusive mode (pg_locks: locktype object, classid pg_class, objid
--    ff.versions) taken by the first write of a transaction and held until
--    it ends (src/ff_history.c; until 1.4, the row lock of a one-row table
--    ff.history_lock).  Version numbers are therefore gap-free and commit in
--    version order: a reader that saw version N never later discovers a
--    version below N.  Under REPEATABLE READ or SERIALIZABLE a writer whose
--    snapshot predates the latest version gets a serialization failure
--    (SQLSTATE 40001) when it takes the lock: retry it.
--  * change_set is the first version written by the transaction.
--  * hash = hex(SHA-256(UTF-8 bytes of the row rendered as jsonb text,
--    without the "hash" key, timestamps in UTC)).  The row contains
--    prev_hash, the hash of the previous version, so the rows form a
--    chain that ff.verify_history() recomputes.
--  * Config rows are stamped (columns version and updated_at) with the
--    version that wrote them; ff.environments.version references
--    ff.versions, which makes pg_dump restore the history before the
--    config tables (ff.flags and ff.segments reference ff.environments).
--  * A write that leaves the table in the state the history already
--    records (a row whose image equals the latest recorded image of that
--    entity at its stamped version; a key list whose count and digest
--    equal the recorded ones) records nothing.  This is what a pg_dump
--    restore does, and what a no-op UPDATE does.
-- ---------------------------------------------------------------------

CREATE TABLE ff.versions (
    version             bigint      NOT NULL,
    change_set          bigint      NOT NULL,
    entity              text        NOT NULL,
    environment         text        NOT NULL,
    entity_key          text        NOT NULL,
    operation           text        NOT NULL,
    before              jsonb,
    after               jsonb,
    delta               jsonb,
    changed_by          text        NOT NULL,
    session_user_name   text        NOT NULL,
    application_name    text,
    changed_at          timestamptz NOT NULL,
    comment             text,
    xact_id             xid8        NOT NULL,
    prev_hash           text,
    hash                text        NOT NULL,
    CONSTRAINT versions_pkey PRIMARY KEY (version)
);
CREATE INDEX versions_entity_idx ON ff.versions (entity, environment, entity_key, version);
-- (1.18) ff.version_at: the first version whose transaction started after a
-- time, found among the versions after it
CREATE INDEX versions_changed_at_idx ON ff.versions (changed_at);

-- The row rules of ff.versions, as one CHECK that calls C (src/ff_history.c):
-- version > 0; 0 < change_set <= version; entity environment, flag or
-- segment; operation INSERT, UPDATE, DELETE or KEYS, KEYS only for a
-- segment; hash and prev_hash 64 lower-case hex digits.  A CHECK expression
-- is rebuilt from its stored form by every statement that inserts, so one
-- call is much cheaper than seven expressions on the write path, and a bad
-- row (a tampered dump) is rejected with a message that names the rule.
CREATE FUNCTION ff._history_row_check(version bigint, change_set bigint, entity text,
                                      operation text, hash text, prev_hash text)
RETURNS boolean
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_history_row_check';
COMMENT ON FUNCTION ff._history_row_check(bigint, bigint, text, text, text, text) IS
    'Internal: CHECK constraint of ff.versions: raises check_violation naming the version and the rule it breaks, else true';
REVOKE ALL ON FUNCTION ff._history_row_check(bigint, bigint, text, text, text, text) FROM PUBLIC;
ALTER TABLE ff.versions ADD CONSTRAINT versions_row_check
    CHECK (ff._history_row_check(version, change_set, entity, operation, hash, prev_hash));

COMMENT ON TABLE ff.versions IS 'Immutable, hash-chained history of every configuration change: one row (version) per changed environment, flag or segment';
COMMENT ON COLUMN ff.versions.version IS 'Global configuration version: gap-free, starts at 1, assigned in commit order';
COMMENT ON COLUMN ff.versions.change_set IS 'First version written by the same transaction: the versions of one transaction form one atomic change-set';
COMMENT ON COLUMN ff.versions.entity IS 'What changed: environment, flag or segment';
COMMENT ON COLUMN ff.versions.environment IS 'Environment of the changed entity (for an environment: its own name)';
COMMENT ON COLUMN ff.versions.entity_key IS 'Flag key, segment name or environment name';
COMMENT ON COLUMN ff.versions.operation IS 'INSERT, UPDATE or DELETE of the entity''s row, or KEYS for a change of a segment''s include/exclude key list';
COMMENT ON COLUMN ff.versions.before IS 'Row image before the change (NULL for INSERT); for KEYS: {"key_count", "keys_digest"} before the change';
COMMENT ON COLUMN ff.versions.after IS 'Row image after the change (NULL for DELETE); for KEYS: {"key_count", "keys_digest"} after the change';
COMMENT ON COLUMN ff.versions.delta IS 'KEYS only: {"include": [...], "exclude": [...], "remove": [...]} or {"cleared": true, "removed_count": n}';
COMMENT ON COLUMN ff.versions.changed_by IS 'Role in effect for the session (SET ROLE, else the session user) that made the change';
COMMENT ON COLUMN ff.versions.session_user_name IS 'session_user of the connection that made the change';
COMMENT ON COLUMN ff.versions.application_name IS 'application_name of the connection that made the change';
COMMENT ON COLUMN ff.versions.changed_at IS 'Start time of the transaction that made the change';
COMMENT ON COLUMN ff.versions.comment IS 'Change comment: ff.change_comment of the transaction (SET LOCAL ff.change_comment or ff.comment_change())';
COMMENT ON COLUMN ff.versions.xact_id IS 'Transaction id of the change';
COMMENT ON COLUMN ff.versions.prev_hash IS 'hash of the previous version (NULL for version 1)';
COMMENT ON COLUMN ff.versions.hash IS 'hex SHA-256 of this row rendered as jsonb text without the "hash" key (timestamps in UTC); see ff.verify_history()';

REVOKE ALL ON ff.versions FROM PUBLIC;

-- pg_dump restores the data of an extension's tables in the order of the
-- foreign keys between them, and the history must be restored before the
-- config rows that it records (so that the triggers recognise them as
-- recorded).  This key orders ff.versions before ff.environments, which
-- ff.flags and ff.segments reference, and so before them too.  The version
-- stamps of ff.flags and ff.segments have no foreign key (since 1.5): the
-- history trigger writes them itself, a stamp that names no recorded
-- version is never taken as in sync (the write is recorded and stamped
-- again), and the check cost a query on every change.
ALTER TABLE ff.environments
    ADD CONSTRAINT environments_version_fkey FOREIGN KEY (version) REFERENCES ff.versions (version);


-- ---------------------------------------------------------------------
-- Internal helpers
-- ---------------------------------------------------------------------

-- ff._history_hash: the hash of a history row: hex SHA-256 of the row as jsonb text without
--   "hash", timestamps in UTC
CREATE FUNCTION ff._history_hash(v ff.versions)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
    SELECT pg_catalog.encode(
        pg_catalog.sha256(pg_catalog.convert_to((pg_catalog.to_jsonb(v) - 'hash')::text, 'UTF8')),
        'hex')
$$;
COMMENT ON FUNCTION ff._history_hash(ff.versions) IS
    'Internal: the hash of a history row: hex SHA-256 of the row as jsonb text without "hash", timestamps in UTC';

-- ff._history_identity: the (environment, entity_key) of a row image of ff.environments, ff.flags
--   or ff.segments
CREATE FUNCTION ff._history_identity(entity text, image jsonb,
                                     OUT environment text, OUT entity_key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE entity WHEN 'environment' THEN image ->> 'name' ELSE image ->> 'environment' END,
           CASE entity WHEN 'flag' THEN image ->> 'key' ELSE image ->> 'name' END
$$;
COMMENT ON FUNCTION ff._history_identity(text, jsonb) IS
    'Internal: the (environment, entity_key) of a row image of ff.environments, ff.flags or ff.segments';

-- ff._history_table: the config table of a history entity
CREATE FUNCTION ff._history_table(entity text)
RETURNS regclass
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE entity
        WHEN 'environment' THEN 'ff.environments'::regclass
        WHEN 'flag' THEN 'ff.flags'::regclass
        WHEN 'segment' THEN 'ff.segments'::regclass
    END
$$;
COMMENT ON FUNCTION ff._history_table(text) IS 'Internal: the config table of a history entity';

-- ff._history_next: takes the writer lock (unless the transaction holds it) and returns the
--   next version, the change-set of the transaction and the hash to chain to (src/ff_history.c;
--   PL/pgSQL on a row lock until 1.4).  The change-set is the transaction's first version: while
--   the lock is held every version after the latest committed one is the holder's, so it is the
--   latest version's change-set if that version is the holder's, else the version about to be
--   written (versions of a rolled-back subtransaction are not visible, and their numbers are
--   written again).
CREATE FUNCTION ff._history_next(OUT next_version bigint, OUT next_change_set bigint,
                                 OUT last_hash text)
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_next';
COMMENT ON FUNCTION ff._history_next() IS
    'Internal: takes the writer lock and returns the next version, the change-set of the transaction and the hash to chain to';

-- ff._history_lock_writer: takes the history writer lock now, as the first write statement on the
--   entity's table would (a statement that changes no row still fires ff_01_writer_lock), so that
--   what the caller reads next is read after every writer before it committed: a rollback read
--   the row, the key list and the environment's flags before its first write waited for the lock,
--   and recorded a state that a change committed meanwhile had overtaken (1.23, found by a
--   randomized concurrent write test).  The rollbacks, the copies, ff.set_rollout,
--   ff.apply_draft and ff.import_flagd call it; the caller needs UPDATE on the table.
CREATE FUNCTION ff._history_lock_writer(entity text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE entity
        WHEN 'flag' THEN
            UPDATE ff.flags AS t SET key = t.key WHERE false;
        WHEN 'segment' THEN
            UPDATE ff.segments AS t SET name = t.name WHERE false;
        ELSE
            UPDATE ff.environments AS t SET metadata = t.metadata WHERE false;
    END CASE;
END;
$$;
COMMENT ON FUNCTION ff._history_lock_writer(text) IS
    'Internal: takes the history writer lock by an UPDATE of no row of the entity''s table (the caller''s UPDATE privilege on it), before the caller reads what it will write: rollbacks, copies, ff.set_rollout, ff.apply_draft, ff.import_flagd (1.23)';

-- ff._history_acting_role: the role a scheduled change is being applied as (src/ff_schedule.c),
--   or NULL: the history records it as changed_by (1.14)
CREATE FUNCTION ff._history_acting_role()
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_acting_role';
COMMENT ON FUNCTION ff._history_acting_role() IS
    'Internal: the role a scheduled change is being applied as (ff.run_scheduled_changes), or NULL';

-- ff._history_record: appends one version to ff.versions (who, when, why, transaction, hash
--   chain)
CREATE FUNCTION ff._history_record(version bigint, change_set bigint, prev_hash text, entity text, environment text, entity_key text,
                                   operation text, before jsonb, after jsonb, delta jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    r           ff.versions;
    role_name   text := pg_catalog.current_setting('role');
BEGIN
    r.version := version;
    r.change_set := change_set;
    r.entity := entity;
    r.environment := environment;
    r.entity_key := entity_key;
    r.operation := operation;
    r.before := before;
    r.after := after;
    r.delta := delta;
    -- the triggers run as the extension owner (SECURITY DEFINER); the role
    -- GUC still says which role the session acts as, unless a scheduled
    -- change is being applied as the role that scheduled it (1.14)
    r.changed_by := COALESCE(ff._history_acting_role(),
                             CASE WHEN role_name = 'none' THEN SESSION_USER::text ELSE role_name END);
    r.session_user_name := SESSION_USER;
    r.application_name := nullif(pg_catalog.current_setting('application_name', true), '');
    r.changed_at := pg_catalog.now();
    r.comment := nullif(pg_catalog.current_setting('ff.change_comment', true), '');
    r.xact_id := pg_catalog.pg_current_xact_id();
    r.prev_hash := prev_hash;
    -- the expression of ff._history_hash(r), written out so that its plan
    -- is cached with this function's (a call of the SQL function would be
    -- parsed and planned again in every transaction); TimeZone is UTC here
    r.hash := pg_catalog.encode(
        pg_catalog.sha256(pg_catalog.convert_to((pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.-) 'hash')::text, 'UTF8')),
        'hex');
    INSERT INTO ff.versions VALUES (r.*);
    RETURN r.version;
END;
$$;
COMMENT ON FUNCTION ff._history_record(bigint, bigint, text, text, text, text, text, jsonb, jsonb, jsonb) IS
    'Internal: appends one version to ff.versions (who, when, why, transaction, hash chain)';

-- ff._history_in_sync: the latest recorded version of an entity if the row image equals its
--   recorded image (at the row's stamped version, or unstamped when unstamped_ok), else NULL
CREATE FUNCTION ff._history_in_sync(entity text, environment text, entity_key text, image jsonb,
                                    unstamped_ok boolean)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.version
      FROM (SELECT v.version, v.operation, v.after
              FROM ff.versions AS v
             WHERE v.entity = $1 AND v.environment = $2 AND v.entity_key = $3
               AND v.operation <> 'KEYS'
             ORDER BY v.version DESC
             LIMIT 1) AS l
     WHERE l.operation <> 'DELETE'
       AND (l.after - 'version') = (image - 'version')
       AND (l.version = (image ->> 'version')::bigint
            OR (unstamped_ok AND image ->> 'version' IS NULL))
$$;
COMMENT ON FUNCTION ff._history_in_sync(text, text, text, jsonb, boolean) IS
    'Internal: the latest recorded version of an entity if the row image equals its recorded image (at the row''s stamped version, or unstamped when unstamped_ok), else NULL';

-- ff._history_row_exists: whether the config row of an entity exists (with unwritten: and was
--   never written since installation)
CREATE FUNCTION ff._history_row_exists(entity text, environment text, entity_key text,
                                       unwritten boolean DEFAULT false)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE entity
        WHEN 'environment' THEN EXISTS (SELECT 1 FROM ff.environments AS e
                                         WHERE e.name = $3 AND (NOT $4 OR e.version IS NULL))
        WHEN 'flag' THEN EXISTS (SELECT 1 FROM ff.flags AS f
                                  WHERE f.environment = $2 AND f.key = $3 AND (NOT $4 OR f.version IS NULL))
        WHEN 'segment' THEN EXISTS (SELECT 1 FROM ff.segments AS s
                                     WHERE s.environment = $2 AND s.name = $3 AND (NOT $4 OR s.version IS NULL))
    END
$$;
COMMENT ON FUNCTION ff._history_row_exists(text, text, text, boolean) IS
    'Internal: whether the config row of an entity exists (with unwritten: and was never written since installation)';

-- ff._history_check_rollback: raises insufficient_privilege unless the current user may run a
--   rollback function that writes entity (1.11).  The internal helpers that write
--   (_history_rollback_entity, _history_restore, _history_write_image) keep PUBLIC's EXECUTE so
--   that the rollback functions can call them with the caller's rights, and call this first:
--   a flag needs ff.rollback_flag, a segment ff.rollback_segment, and either one, or an
--   environment, ff.rollback_environment.  The recording triggers call _history_write_image
--   as the extension owner, who may run them all.
CREATE FUNCTION ff._history_check_rollback(entity text, helper text)
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
COMMENT ON FUNCTION ff._history_check_rollback(text, text) IS
    'Internal: raises insufficient_privilege unless the current user may run the rollback function that writes an entity (guards the internal helpers that write)';

-- ff._history_write_image: upserts a config row from a history image (with_stamps: also its
--   version and updated_at); 1.11: only for a user who may roll the entity back
CREATE FUNCTION ff._history_write_image(entity text, image jsonb, with_stamps boolean)
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
COMMENT ON FUNCTION ff._history_write_image(text, jsonb, boolean) IS
    'Internal: upserts a config row from a history image (with_stamps: also its version and updated_at)';

-- ---------------------------------------------------------------------
-- Trigger functions (the triggers are created in 080_history_views.sql)
-- ---------------------------------------------------------------------

-- ff._history_drifted: whether a row image differs from the image its history recorded, as
--   ff.verify_history compares them: a member the history recorded (but the stamps) that the row
--   does not hold as recorded; a column added to the table since is no drift (1.18)
CREATE FUNCTION ff._history_drifted(recorded jsonb, image jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT recorded IS NOT NULL AND image IS NOT NULL
       AND EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(recorded) AS a
                    WHERE a.key NOT IN ('version', 'updated_at')
                      AND (image -> a.key) IS DISTINCT FROM a.value)
$$;
COMMENT ON FUNCTION ff._history_drifted(jsonb, jsonb) IS
    'Internal: whether a row image differs from the image its history recorded (every recorded member but the stamps), as ff.verify_history compares them (1.18)';

-- ff._history_drift_delta: the delta of a version that updates, deletes or renames away a row
--   that drifted from its history: {"recorded": <the after image of the entity's latest
--   version>} when the row differs from it, stamps left out; else NULL (1.18; the C path builds
--   the same in FFHistoryRecordedDelta)
CREATE FUNCTION ff._history_drift_delta(entity text, environment text, entity_key text, image jsonb)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN l.operation <> 'DELETE' AND ff._history_drifted(l.after, image)
                THEN pg_catalog.jsonb_build_object('recorded', l.after) END
      FROM (SELECT v.operation, v.after
              FROM ff.versions AS v
             WHERE v.entity = $1 AND v.environment = $2 AND v.entity_key = $3 AND v.operation <> 'KEYS'
             ORDER BY v.version DESC
             LIMIT 1) AS l
$$;
COMMENT ON FUNCTION ff._history_drift_delta(text, text, text, jsonb) IS
    'Internal: {"recorded": <the history''s last image>} for a version that changes or deletes a row that drifted from its history, else NULL (1.18)';
REVOKE ALL ON FUNCTION ff._history_drift_delta(text, text, text, jsonb) FROM PUBLIC;
-- (1.23) like the other SECURITY INVOKER history helpers, open to PUBLIC: it
-- reads ff.versions with the caller's privileges.  Revoked, it stopped an
-- editor's rollback to the state a flag already has (42501 instead of the
-- NOTICE "nothing changed").
GRANT EXECUTE ON FUNCTION ff._history_drift_delta(text, text, text, jsonb) TO PUBLIC;

-- ff._history_row_trigger_general: stamps the row with its new version and appends the
--   version to ff.versions; every case (the trigger ff._history_row_trigger, in C, handles
--   everyday UPDATEs and DELETEs itself and calls this function for the rest; not SECURITY
--   DEFINER: its only caller calls it as the extension owner)
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
                                       'DELETE', old_img, NULL,
                                       ff._history_drift_delta(entity, old_env, old_key, old_img));
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
            OR (unstamped_ok AND new_img ->> 'version' IS NULL))
       -- (1.18) but an UPDATE of a stamped row that had drifted from its
       -- history (a rollback, or any write, of an unrecorded change) is a
       -- change: it is recorded below, the unrecorded change marked
       AND NOT (TG_OP = 'UPDATE' AND old_img ->> 'version' IS NOT NULL
                AND ff._history_drifted(latest.after, old_img)) THEN
        in_sync := latest.version;
    END IF;
    -- (1.18) a restore loads a row that had drifted from its history as it
    -- was dumped: stamped with a version this entity's history records, and
    -- the entity not deleted since.  Recording it would give the copy a
    -- "created" version the source never had, and hide the drift that
    -- ff.verify_history names in the source.
    IF in_sync IS NULL AND TG_OP = 'INSERT' AND new_img ->> 'version' IS NOT NULL
       AND latest.operation <> 'DELETE' AND ff._restoring()
       AND EXISTS (SELECT 1 FROM ff.versions AS v
                    WHERE v.version = (new_img ->> 'version')::bigint AND v.entity = TG_ARGV[0]
                      AND v.environment = new_env AND v.entity_key = new_key)
       AND NOT ff._history_row_exists(entity, new_env, new_key) THEN
        RETURN NEW;
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
                                           'DELETE', old_img, NULL,
                                           ff._history_drift_delta(entity, old_env, old_key, old_img));
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
    -- (1.18) an UPDATE of a row that drifted from its history (written
    -- without being recorded) keeps the history's last image of it in the
    -- delta, so that the version tells that unrecorded change from its own
    recorded := ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, entity, new_env, new_key,
                                   op, old_img,
                                   new_img || pg_catalog.jsonb_build_object('version', NEW.version,
                                                                            'updated_at', NEW.updated_at),
                                   CASE WHEN op = 'UPDATE'
                                        THEN ff._history_drift_delta(entity, old_env, old_key, old_img) END);
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION ff._history_row_trigger_general() IS
    'Internal: the history row trigger for every case (INSERT, renamed keys, rows restored in sync with their history); called by ff._history_row_trigger()';

-- ff._history_row_trigger: the trigger ff_90_history (src/ff_history.c): the INSERT of a new
--   entity, an UPDATE that keeps the row's identity or a DELETE, once the writer lock is
--   held, is recorded in C; every other case goes to
--   ff._history_row_trigger_general().  Not SECURITY DEFINER and no SET
--   clause (1.3): it runs as the caller, renders timestamps in UTC itself and acts as the
--   extension's owner only to append the version and to call the general function
CREATE FUNCTION ff._history_row_trigger()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_row_trigger_1_5';
COMMENT ON FUNCTION ff._history_row_trigger() IS
    'Trigger ff_90_history: stamps the row with its new version and appends the version to ff.versions';

-- ff._history_truncate_trigger: records a DELETE version for every row a TRUNCATE removes
CREATE FUNCTION ff._history_truncate_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    entity      text := TG_ARGV[0];
    img         jsonb;
    id          record;
    nx          record;
BEGIN
    FOR img IN EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t', TG_RELID::regclass)
    LOOP
        id := ff._history_identity(entity, img);
        nx := ff._history_next();
        -- (1.18) a row that drifted from its history is marked, as by a DELETE
        PERFORM ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, entity, id.environment, id.entity_key,
                                   'DELETE', img, NULL,
                                   ff._history_drift_delta(entity, id.environment, id.entity_key, img));
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_truncate_trigger() IS
    'Trigger ff_90_history_truncate: records a DELETE version for every row a TRUNCATE removes';

-- ---- segment key lists: one version per statement and segment, as a delta

-- ff._history_key_hash: 64-bit hash of one segment key row; a key list's digest is the XOR of its
--   rows' hashes
CREATE FUNCTION ff._history_key_hash(targeting_key text, excluded boolean)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ('x' || pg_catalog.left(pg_catalog.md5(CASE WHEN excluded THEN 'x:' ELSE 'i:' END
                                                  || targeting_key), 16))::bit(64)::bigint
$$;
COMMENT ON FUNCTION ff._history_key_hash(text, boolean) IS
    'Internal: 64-bit hash of one segment key row; a key list''s digest is the XOR of its rows'' hashes';

-- ff._history_keys_state: recorded size and digest of a segment's key list (0, 0 after the
--   segment's deletion)
CREATE FUNCTION ff._history_keys_state(environment text, segment text,
                                       OUT key_count bigint, OUT keys_digest bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((
        SELECT CASE WHEN l.operation = 'KEYS' THEN (l.after ->> 'key_count')::bigint ELSE 0 END
          FROM ff.versions AS l
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.operation IN ('KEYS', 'DELETE')
         ORDER BY l.version DESC LIMIT 1), 0),
           coalesce((
        SELECT CASE WHEN l.operation = 'KEYS' THEN (l.after ->> 'keys_digest')::bigint ELSE 0 END
          FROM ff.versions AS l
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.operation IN ('KEYS', 'DELETE')
         ORDER BY l.version DESC LIMIT 1), 0)
$$;
COMMENT ON FUNCTION ff._history_keys_state(text, text) IS
    'Internal: recorded size and digest of a segment''s key list (0, 0 after the segment''s deletion)';

-- ff._history_keys_apply: records one KEYS version of a segment from the delta of one statement
CREATE FUNCTION ff._history_keys_apply(environment text, segment text, count_delta bigint,
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

-- ff._history_keys_needed: whether a statement's change of a segment's key list is to be recorded
--   (1.10): not when the segment is gone (its DELETE version says the list went with it), nor
--   for the rows of a pg_dump restore (an INSERT that leaves the table holding exactly the recorded
--   list), nor for the removal of keys the history already has as gone (1.22: because this
--   transaction deleted the segment); decided before the keys are gathered into a delta, so that
--   none of these builds one
CREATE FUNCTION ff._history_keys_needed(environment text, segment text, count_delta bigint,
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

-- ff._history_keys_too_large: refuses a key list change whose delta one jsonb array cannot hold
--   (1.10: instead of jsonb's bare 54000 after the work)
CREATE FUNCTION ff._history_keys_too_large(environment text, segment text, keys bigint, key_bytes bigint)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- a jsonb array holds at most 268435455 bytes of elements: a string costs its bytes and 4
    IF key_bytes + 4 * keys > 268435455 THEN
        RAISE EXCEPTION 'the change of the key list of segment "%" in environment "%" is too large to record in one version: % keys, % MB',
            segment, environment, keys, key_bytes / 1048576
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'The history records the keys one statement adds or removes in one JSON array, which holds at most 256 MB.',
                  HINT = 'Change the list in several statements, for example 100,000 keys each (ff.add_segment_keys, ff.remove_segment_keys).';
    END IF;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_too_large(text, text, bigint, bigint) IS
    'Internal: refuses a key list change whose delta is more than one jsonb array can hold, with a HINT';

-- ff._history_keys_insert_trigger: one KEYS version per segment whose key list an INSERT statement
--   extended (the delta is gathered only once ff._history_keys_needed says it is recorded)
CREATE FUNCTION ff._history_keys_insert_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    s           record;
    inc         jsonb;
    exc         jsonb;
BEGIN
    FOR s IN
        SELECT n.environment, n.segment, pg_catalog.count(*) AS cnt,
               pg_catalog.bit_xor(ff._history_key_hash(n.targeting_key, n.excluded)) AS dig,
               pg_catalog.sum(pg_catalog.octet_length(n.targeting_key)) AS bytes
          FROM ff_new_keys AS n
         GROUP BY n.environment, n.segment
         ORDER BY n.environment, n.segment
    LOOP
        CONTINUE WHEN NOT ff._history_keys_needed(s.environment, s.segment, s.cnt, s.dig, true);
        PERFORM ff._history_keys_too_large(s.environment, s.segment, s.cnt, s.bytes);
        SELECT pg_catalog.jsonb_agg(n.targeting_key ORDER BY n.targeting_key) FILTER (WHERE NOT n.excluded),
               pg_catalog.jsonb_agg(n.targeting_key ORDER BY n.targeting_key) FILTER (WHERE n.excluded)
          INTO inc, exc
          FROM ff_new_keys AS n
         WHERE n.environment = s.environment AND n.segment = s.segment;
        PERFORM ff._history_keys_apply(s.environment, s.segment, s.cnt, s.dig, inc, exc, NULL, true);
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_insert_trigger() IS
    'Trigger ff_90_history_keys_insert: one KEYS version per segment whose key list an INSERT statement extended';

-- ff._history_keys_update_trigger: one KEYS version per segment whose key list an UPDATE statement
--   changed
CREATE FUNCTION ff._history_keys_update_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    s           record;
BEGIN
    FOR s IN
        WITH j AS (
            SELECT coalesce(o.environment, n.environment) AS environment,
                   coalesce(o.segment, n.segment) AS segment,
                   coalesce(o.targeting_key, n.targeting_key) AS k,
                   o.targeting_key IS NOT NULL AS had, n.targeting_key IS NOT NULL AS has,
                   o.excluded AS old_ex, n.excluded AS new_ex
              FROM ff_old_keys AS o
              FULL JOIN ff_new_keys AS n
                ON o.environment = n.environment AND o.segment = n.segment
               AND o.targeting_key = n.targeting_key)
        SELECT j.environment, j.segment,
               pg_catalog.count(*) FILTER (WHERE j.has) - pg_catalog.count(*) FILTER (WHERE j.had) AS cnt,
               coalesce(pg_catalog.bit_xor(ff._history_key_hash(j.k, j.old_ex)) FILTER (WHERE j.had), 0)
               # coalesce(pg_catalog.bit_xor(ff._history_key_hash(j.k, j.new_ex)) FILTER (WHERE j.has), 0) AS dig,
               pg_catalog.jsonb_agg(j.k ORDER BY j.k) FILTER (WHERE j.has AND NOT j.new_ex) AS inc,
               pg_catalog.jsonb_agg(j.k ORDER BY j.k) FILTER (WHERE j.has AND j.new_ex) AS exc,
               pg_catalog.jsonb_agg(j.k ORDER BY j.k) FILTER (WHERE j.had AND NOT j.has) AS rem
          FROM j
         WHERE NOT (j.had AND j.has AND j.old_ex = j.new_ex)
         GROUP BY j.environment, j.segment
         ORDER BY j.environment, j.segment
    LOOP
        PERFORM ff._history_keys_apply(s.environment, s.segment, s.cnt, s.dig,
                                       s.inc, s.exc, s.rem, false);
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_update_trigger() IS
    'Trigger ff_90_history_keys_update: one KEYS version per segment whose key list an UPDATE statement changed';

-- ff._history_keys_delete_trigger: one KEYS version per segment whose key list a DELETE statement
--   shortened (none for the keys of a deleted segment, whose removed keys are not gathered)
CREATE FUNCTION ff._history_keys_delete_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    s           record;
    rem         jsonb;
BEGIN
    FOR s IN
        SELECT o.environment, o.segment, -pg_catalog.count(*) AS cnt,
               pg_catalog.bit_xor(ff._history_key_hash(o.targeting_key, o.excluded)) AS dig,
               pg_catalog.sum(pg_catalog.octet_length(o.targeting_key)) AS bytes
          FROM ff_old_keys AS o
         GROUP BY o.environment, o.segment
         ORDER BY o.environment, o.segment
    LOOP
        CONTINUE WHEN NOT ff._history_keys_needed(s.environment, s.segment, s.cnt, s.dig, false);
        PERFORM ff._history_keys_too_large(s.environment, s.segment, -s.cnt, s.bytes);
        SELECT pg_catalog.jsonb_agg(o.targeting_key ORDER BY o.targeting_key) INTO rem
          FROM ff_old_keys AS o
         WHERE o.environment = s.environment AND o.segment = s.segment;
        PERFORM ff._history_keys_apply(s.environment, s.segment, s.cnt, s.dig, NULL, NULL, rem, false);
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_delete_trigger() IS
    'Trigger ff_90_history_keys_delete: one KEYS version per segment whose key list a DELETE statement shortened';

-- ff._history_keys_truncate_trigger: records the clearing of every segment key list a TRUNCATE
--   empties
CREATE FUNCTION ff._history_keys_truncate_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    s           record;
    st          record;
    nx          record;
BEGIN
    FOR s IN
        SELECT k.environment, k.segment, pg_catalog.count(*) AS cnt
          FROM ff.segment_keys AS k
         GROUP BY k.environment, k.segment
         ORDER BY k.environment, k.segment
    LOOP
        st := ff._history_keys_state(s.environment, s.segment);
        nx := ff._history_next();
        PERFORM ff._history_record(nx.next_version, nx.next_change_set, nx.last_hash, 'segment', s.environment, s.segment, 'KEYS',
            pg_catalog.jsonb_build_object('key_count', st.key_count, 'keys_digest', st.keys_digest),
            pg_catalog.jsonb_build_object('key_count', 0, 'keys_digest', 0),
            pg_catalog.jsonb_build_object('cleared', true, 'removed_count', s.cnt));
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION ff._history_keys_truncate_trigger() IS
    'Trigger ff_90_history_keys_truncate: records the clearing of every segment key list a TRUNCATE empties';

-- ---- immutability and notification

-- ff._history_immutable: rejects UPDATE, DELETE and TRUNCATE of ff.versions
CREATE FUNCTION ff._history_immutable()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        RAISE EXCEPTION 'cannot % version % of ff.versions: the configuration history is append-only',
                        TG_OP, OLD.version
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'No role, not even the owner or a superuser, may change or remove recorded versions.',
                  HINT = 'To undo a change, use ff.rollback_flag(), ff.rollback_segment() or ff.rollback_environment(): they append new versions.';
    END IF;
    RAISE EXCEPTION 'cannot TRUNCATE ff.versions: the configuration history is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'No role, not even the owner or a superuser, may change or remove recorded versions.',
              HINT = 'To undo a change, use ff.rollback_flag(), ff.rollback_segment() or ff.rollback_environment(): they append new versions.';
END;
$$;
COMMENT ON FUNCTION ff._history_immutable() IS
    'Trigger ff_versions_append_only: rejects UPDATE, DELETE and TRUNCATE of ff.versions';

CREATE TRIGGER ff_versions_append_only
    BEFORE UPDATE OR DELETE ON ff.versions
    FOR EACH ROW EXECUTE FUNCTION ff._history_immutable();
CREATE TRIGGER ff_versions_append_only_truncate
    BEFORE TRUNCATE ON ff.versions
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_immutable();
-- session_replication_role = replica must not bypass them
ALTER TABLE ff.versions ENABLE ALWAYS TRIGGER ff_versions_append_only;
ALTER TABLE ff.versions ENABLE ALWAYS TRIGGER ff_versions_append_only_truncate;

REVOKE ALL ON FUNCTION ff._history_next() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_acting_role() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_record(bigint, bigint, text, text, text, text, text, jsonb, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_in_sync(text, text, text, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_row_exists(text, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_row_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_row_trigger_general() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_truncate_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_key_hash(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_state(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_apply(text, text, bigint, bigint, jsonb, jsonb, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_needed(text, text, bigint, bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_too_large(text, text, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_insert_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_update_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_delete_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_keys_truncate_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._history_immutable() FROM PUBLIC;
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
            owner_label, ff._name_in_message(missing), environment
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
        SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) INTO names FROM jsonb_object_keys(NEW.variants) AS k;
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
                    SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) INTO names FROM jsonb_object_keys(NEW.variants) AS k;
                    err_msg := format('targeting for %s can return %s, which is not a variant', label, ff._name_in_message(res::text));
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
                RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(NEW.environment)
                    USING ERRCODE = 'foreign_key_violation',
                          DETAIL = format('Targeting key "%s" cannot be added to segment "%s" of a missing environment.',
                                          NEW.targeting_key, ff._name_in_message(NEW.segment)),
                          HINT = ff._perhaps_you_meant(NEW.environment, ARRAY(SELECT e.name FROM ff.environments AS e))
                              || ff._create_hint('environment', NEW.environment);
            END IF;
            RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(NEW.segment), NEW.environment
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
-- ---------------------------------------------------------------------
-- Evaluation (src/ff_evaluate.c, src/ff_cache.c, src/ff_jsonb.c)
--
-- Flags are evaluated in C from a per-backend cache of compiled flags.
-- The cache is invalidated by the statement triggers below and rebuilt
-- lazily; evaluation reflects the latest committed configuration (plus
-- the current transaction's own changes), like catalog lookups do, and
-- one statement always evaluates against one configuration version.
-- ---------------------------------------------------------------------

CREATE TYPE ff.evaluation_details AS (
    flag_key        text,
    value           jsonb,
    variant         text,
    reason          text,
    error_code      text,
    error_message   text,
    flag_metadata   jsonb
);
COMMENT ON TYPE ff.evaluation_details IS
    'OpenFeature evaluation details returned by ff.evaluate()';
COMMENT ON COLUMN ff.evaluation_details.flag_key IS 'The flag key that was asked for';
COMMENT ON COLUMN ff.evaluation_details.value IS
    'The variant''s value, or the caller''s default (DISABLED, DEFAULT without a default variant, every ERROR)';
COMMENT ON COLUMN ff.evaluation_details.variant IS 'Name of the chosen variant; NULL when the caller''s default is returned';
COMMENT ON COLUMN ff.evaluation_details.reason IS 'STATIC, DEFAULT, TARGETING_MATCH, DISABLED or ERROR';
COMMENT ON COLUMN ff.evaluation_details.error_code IS
    'FLAG_NOT_FOUND, PARSE_ERROR, TYPE_MISMATCH, GENERAL or INVALID_CONTEXT when reason is ERROR, else NULL';
COMMENT ON COLUMN ff.evaluation_details.error_message IS 'Human-readable description of the error, else NULL';
COMMENT ON COLUMN ff.evaluation_details.flag_metadata IS
    'Environment metadata overlaid by the flag''s metadata (null members dropped)';

-- the cache invalidation trigger ----------------------------------------

-- A change to the configuration invalidates the relcache entry of this
-- empty table, not of the changed table: every backend's evaluation cache
-- watches it, and ff.flags keeps its relcache entry and cached plans.
CREATE TABLE ff._cache_signal ();
COMMENT ON TABLE ff._cache_signal IS
    'Internal, always empty: its relcache invalidation at commit tells every backend (and hot standbys) to rebuild the evaluation cache';
REVOKE ALL ON TABLE ff._cache_signal FROM PUBLIC;

-- A change to ff.segment_keys invalidates this one instead (1.20): it tells
-- every backend that segment key lists changed too, so that a backend keeps
-- its loaded key lists across the other changes.
CREATE TABLE ff._cache_signal_keys ();
COMMENT ON TABLE ff._cache_signal_keys IS
    'Internal, always empty: its relcache invalidation at commit tells every backend (and hot standbys) to rebuild the evaluation cache and reload segment key lists';
REVOKE ALL ON TABLE ff._cache_signal_keys FROM PUBLIC;

CREATE FUNCTION ff.invalidate_cache()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_invalidate_cache';
COMMENT ON FUNCTION ff.invalidate_cache() IS
    'Statement trigger: invalidates every backend''s evaluation cache when configuration changes (at commit for other sessions)';
REVOKE ALL ON FUNCTION ff.invalidate_cache() FROM PUBLIC;

CREATE TRIGGER ff_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();

-- flag evaluation ----------------------------------------------------------

CREATE FUNCTION ff.evaluate(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb DEFAULT '{}'::pg_catalog.jsonb,
    default_value   pg_catalog.jsonb DEFAULT NULL,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate';
COMMENT ON FUNCTION ff.evaluate(pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) IS
    'Evaluate a flag for an evaluation context and return OpenFeature evaluation details; never raises for flag problems';

-- ff.evaluate_draft (1.13): what ff.evaluate would answer if a draft of the flag were saved: the
--   draft is a flagd flag object (state, variants, defaultVariant, targeting, metadata; members
--   left out are the stored flag's), evaluated with the environment's segments as they are now.
--   Not PUBLIC's: a draft can test any segment for any key.
CREATE FUNCTION ff.evaluate_draft(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    draft           pg_catalog.jsonb,
    default_value   pg_catalog.jsonb DEFAULT NULL,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate_draft';
COMMENT ON FUNCTION ff.evaluate_draft(pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) IS
    'What ff.evaluate would answer if a draft of the flag (a flagd flag object; members left out are the stored flag''s) were saved';
REVOKE ALL ON FUNCTION ff.evaluate_draft(pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) FROM PUBLIC;

-- ff.evaluate_draft_row (1.13): ff.evaluate_draft with a table row as the context (attributes by name)
CREATE FUNCTION ff.evaluate_draft_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    draft           pg_catalog.jsonb,
    default_value   pg_catalog.jsonb DEFAULT NULL,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate_draft';
COMMENT ON FUNCTION ff.evaluate_draft_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) IS
    'ff.evaluate_draft with a table row as the context (attributes by name)';
REVOKE ALL ON FUNCTION ff.evaluate_draft_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) FROM PUBLIC;

CREATE FUNCTION ff.get_bool(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.bool,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_bool';
COMMENT ON FUNCTION ff.get_bool(pg_catalog.text, pg_catalog.jsonb, pg_catalog.bool, pg_catalog.text) IS
    'Value of a boolean flag for a context, or the given default on any problem';

CREATE FUNCTION ff.get_string(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.text,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.text
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_string';
COMMENT ON FUNCTION ff.get_string(pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text) IS
    'Value of a string flag for a context, or the given default on any problem';

CREATE FUNCTION ff.get_int(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.int8,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_int';
COMMENT ON FUNCTION ff.get_int(pg_catalog.text, pg_catalog.jsonb, pg_catalog.int8, pg_catalog.text) IS
    'Whole value of a number flag for a context, or the given default on any problem (including a fractional value)';

CREATE FUNCTION ff.get_float(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.float8,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.float8
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_float';
COMMENT ON FUNCTION ff.get_float(pg_catalog.text, pg_catalog.jsonb, pg_catalog.float8, pg_catalog.text) IS
    'Value of a number flag for a context, or the given default on any problem';

CREATE FUNCTION ff.get_object(
    flag_key        pg_catalog.text,
    context         pg_catalog.jsonb,
    "default"       pg_catalog.jsonb,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.jsonb
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_object';
COMMENT ON FUNCTION ff.get_object(pg_catalog.text, pg_catalog.jsonb, pg_catalog.jsonb, pg_catalog.text) IS
    'Value of an object flag for a context, or the given default on any problem';

CREATE FUNCTION ff.evaluate_all(
    context         pg_catalog.jsonb DEFAULT '{}'::pg_catalog.jsonb,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.jsonb
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate_all';
COMMENT ON FUNCTION ff.evaluate_all(pg_catalog.jsonb, pg_catalog.text) IS
    'Value, variant and reason of every flag of an environment for one context (client bootstrap)';

-- JSON Logic and rule checking ---------------------------------------------

CREATE FUNCTION ff.json_logic(
    rule            pg_catalog.jsonb,
    data            pg_catalog.jsonb DEFAULT '{}'::pg_catalog.jsonb)
RETURNS pg_catalog.jsonb
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_json_logic';
COMMENT ON FUNCTION ff.json_logic(pg_catalog.jsonb, pg_catalog.jsonb) IS
    'Apply a JSON Logic rule (with flagd''s fractional, sem_ver, starts_with, ends_with) to data';

CREATE OR REPLACE FUNCTION ff._check_rule(
    rule            pg_catalog.jsonb,
    label           pg_catalog.text)
RETURNS pg_catalog.jsonb
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_check_rule';
COMMENT ON FUNCTION ff._check_rule(pg_catalog.jsonb, pg_catalog.text) IS
    'Internal: compile a targeting or segment rule; raise an error naming label if invalid, else return its segments and literal results';

-- ff._check_rule with flagd = true (1.7) compiles a flag rule as flagd
-- loads it: a call of flagd's own operators that flagd's schema forbids
-- (ff._rule_compile_error says flagd_call) is accepted, and evaluates to
-- null as in flagd.
CREATE FUNCTION ff._check_rule(
    rule            pg_catalog.jsonb,
    label           pg_catalog.text,
    flagd           pg_catalog.bool)
RETURNS pg_catalog.jsonb
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_check_rule';
COMMENT ON FUNCTION ff._check_rule(pg_catalog.jsonb, pg_catalog.text, pg_catalog.bool) IS
    'Internal: ff._check_rule(rule, label), compiling a flag rule as flagd loads it when flagd is true';

CREATE FUNCTION ff._rule_compile_error(rule pg_catalog.jsonb)
RETURNS pg_catalog.text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_rule_compile_error';
COMMENT ON FUNCTION ff._rule_compile_error(pg_catalog.jsonb) IS
    'Internal: why a flag rule does not compile (unknown_operator, flagd_call, bad_arguments, too_deep, too_large), or NULL; never raises';

-- bucketing and diagnostics ------------------------------------------------

CREATE FUNCTION ff.bucket(
    value           pg_catalog.text,
    salt            pg_catalog.text DEFAULT '',
    buckets         pg_catalog.int4 DEFAULT 100)
RETURNS pg_catalog.int4
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_bucket';
COMMENT ON FUNCTION ff.bucket(pg_catalog.text, pg_catalog.text, pg_catalog.int4) IS
    'Stable bucket in [0, buckets) of value: (XXH3_64bits_withSeed(value, XXH3_64bits(salt)) * buckets) >> 64';

CREATE FUNCTION ff.cache_info(
    OUT rebuilds        pg_catalog.int8,
    OUT generation      pg_catalog.int8,
    OUT valid           pg_catalog.bool,
    OUT environments    pg_catalog.int4,
    OUT flags           pg_catalog.int4,
    OUT compiled_flags  pg_catalog.int4,
    OUT segments        pg_catalog.int4,
    OUT segment_keys    pg_catalog.int8,
    OUT memory_bytes    pg_catalog.int8,
    OUT segment_loads   pg_catalog.int8,
    OUT kept_segments   pg_catalog.int4,
    OUT kept_segment_keys pg_catalog.int8)
RETURNS record
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ff_cache_info';
COMMENT ON FUNCTION ff.cache_info() IS
    'State of this backend''s evaluation cache: rebuild count, current generation, validity, what is loaded, bytes used, segment key lists read and kept across changes';

-- a table row as the context ----------------------------------------------
--
-- The same evaluation with a row (any composite value) as the context:
-- attributes are read by name straight from the tuple.  These cannot be
-- overloads of ff.evaluate/ff.get_*: with an untyped literal context such
-- as '{}' an anyelement overload would make every existing call ambiguous.
--
-- (1.21) A call whose row is a table of the query, such as
-- ff.get_bool_row('f', u, false) ... FROM users AS u, is rewritten by the
-- planner (support function ff._row_support) into a call of the getter's
-- _cols function with the table's columns as arguments, so that no
-- composite value is formed per row (src/ff_rowplan.c).  A _cols function
-- shares its getter's C entry point, and checks that the caller may
-- execute the getter that its second argument names.

CREATE FUNCTION ff._row_support(pg_catalog.internal)
RETURNS pg_catalog.internal
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'ff_row_support';
COMMENT ON FUNCTION ff._row_support(pg_catalog.internal) IS
    'Internal: planner support function of the row getters; rewrites a call over a table''s whole row into its _cols function with the columns';
REVOKE ALL ON FUNCTION ff._row_support(pg_catalog.internal) FROM PUBLIC;

CREATE FUNCTION ff._evaluate_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    default_value   pg_catalog.jsonb,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_evaluate';
COMMENT ON FUNCTION ff._evaluate_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.evaluate_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_bool_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.bool,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.bool
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_bool';
COMMENT ON FUNCTION ff._get_bool_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.bool, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_bool_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_string_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.text,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.text
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_string';
COMMENT ON FUNCTION ff._get_string_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.text, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_string_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_int_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.int8,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.int8
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_int';
COMMENT ON FUNCTION ff._get_int_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.int8, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_int_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_float_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.float8,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.float8
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_float';
COMMENT ON FUNCTION ff._get_float_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.float8, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_float_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff._get_object_row_cols(
    flag_key        pg_catalog.text,
    row_function    pg_catalog.regprocedure,
    "default"       pg_catalog.jsonb,
    environment     pg_catalog.text,
    column_names    pg_catalog.text[],
    VARIADIC "columns" "any")
RETURNS pg_catalog.jsonb
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_get_object';
COMMENT ON FUNCTION ff._get_object_row_cols(pg_catalog.text, pg_catalog.regprocedure, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text[], "any") IS
    'Internal: ff.get_object_row with the row as columns, written by the planner (ff._row_support)';

CREATE FUNCTION ff.evaluate_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    default_value   pg_catalog.jsonb DEFAULT NULL,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_evaluate';
COMMENT ON FUNCTION ff.evaluate_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.text) IS
    'Evaluate a flag with a table row as the context (attributes by name) and return OpenFeature evaluation details';

CREATE FUNCTION ff.get_bool_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.bool,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.bool
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_bool';
COMMENT ON FUNCTION ff.get_bool_row(pg_catalog.text, anyelement, pg_catalog.bool, pg_catalog.text) IS
    'Value of a boolean flag with a table row as the context, or the given default on any problem';

CREATE FUNCTION ff.get_string_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.text,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.text
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_string';
COMMENT ON FUNCTION ff.get_string_row(pg_catalog.text, anyelement, pg_catalog.text, pg_catalog.text) IS
    'Value of a string flag with a table row as the context, or the given default on any problem';

CREATE FUNCTION ff.get_int_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.int8,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_int';
COMMENT ON FUNCTION ff.get_int_row(pg_catalog.text, anyelement, pg_catalog.int8, pg_catalog.text) IS
    'Whole value of a number flag with a table row as the context, or the given default on any problem';

CREATE FUNCTION ff.get_float_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.float8,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.float8
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_float';
COMMENT ON FUNCTION ff.get_float_row(pg_catalog.text, anyelement, pg_catalog.float8, pg_catalog.text) IS
    'Value of a number flag with a table row as the context, or the given default on any problem';

CREATE FUNCTION ff.get_object_row(
    flag_key        pg_catalog.text,
    "row"           anyelement,
    "default"       pg_catalog.jsonb,
    environment     pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.jsonb
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT ff._row_support
AS 'MODULE_PATHNAME', 'ff_get_object';
COMMENT ON FUNCTION ff.get_object_row(pg_catalog.text, anyelement, pg_catalog.jsonb, pg_catalog.text) IS
    'Value of an object flag with a table row as the context, or the given default on any problem';
-- ---------------------------------------------------------------------
-- Administration from psql
--
-- Everyday operations as functions with named, defaulted arguments.  An
-- environment argument that is NULL (or left out) means: the ff.environment
-- setting when it is set, otherwise the default environment
-- (ff._resolve_environment).  Every write goes through ordinary DML, so the
-- validation triggers (030_validate.sql) and the history triggers apply
-- exactly as they do to raw INSERT/UPDATE/DELETE.
--
-- None of these functions is granted to PUBLIC.
-- ---------------------------------------------------------------------

-- ff._resolve_environment returns the environment an administration or
-- evaluation call works on: the argument, else ff.environment, else the
-- default environment; an unknown name is an error.
CREATE FUNCTION ff._resolve_environment(environment text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := environment;
    source      text := 'argument';
    note        record;
    detail      text;
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
        -- (1.25) one that was deleted: when, and the rollback that restores it
        note := ff._environment_not_found_note(env);
        detail := NULLIF(concat_ws(' ', note.detail,
                                   CASE WHEN source = 'setting' THEN 'The name comes from the ff.environment setting.' END), '');
        -- (a RAISE option must not be NULL)
        IF detail IS NULL THEN
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object', HINT = note.hint;
        END IF;
        RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
            USING ERRCODE = 'undefined_object', DETAIL = detail, HINT = note.hint;
    END IF;
    RETURN env;
END;
$$;

COMMENT ON FUNCTION ff._resolve_environment(text) IS
'Internal: the environment to work on: the argument, else the ff.environment setting, else the default environment; ERROR if unknown';

-- ff._deleted_note tells how a flag, segment or environment that does not
-- exist was deleted, when its history ends with a DELETE (1.25): the
-- DETAIL of a not-found error (the version, who) and a HINT to bring it
-- back with its history: the rollback to the version before the deleting
-- change-set (a change-set's number is its first version), preceded by the
-- rollbacks of the segments its rule uses that were deleted too, directly
-- or through such segments, the most deeply used first (a rollback of a
-- segment whose rule names a missing segment fails).  NULLs when the
-- history does not end so, or when the caller may not read ff.versions.
CREATE FUNCTION ff._deleted_note(entity text, environment text, key text,
                                 OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v           ff.versions;
    first       text;
BEGIN
    IF key IS NULL OR environment IS NULL
       OR NOT pg_catalog.has_table_privilege('ff.versions', 'SELECT') THEN
        RETURN;
    END IF;
    SELECT * INTO v FROM ff.versions AS x
     WHERE x.entity = _deleted_note.entity AND x.environment = _deleted_note.environment
       AND x.entity_key = _deleted_note.key
     ORDER BY x.version DESC LIMIT 1;
    IF NOT FOUND OR v.operation <> 'DELETE' THEN
        RETURN;
    END IF;
    detail := pg_catalog.format('%s "%s" was deleted at version %s by %s.',
                                pg_catalog.initcap(entity), ff._name_in_message(key), v.version,
                                v.changed_by);
    IF entity = 'environment' THEN
        hint := pg_catalog.format('SELECT ff.rollback_environment(%L, %s); restores it with its flags and segments.',
                                  key, v.change_set - 1);
        RETURN;
    END IF;
    -- every segment the rule uses, directly or through segments deleted
    -- too, that is gone: its last version a DELETE and no such segment now;
    -- from the deleted object itself (depth 0), the most deeply used first
    WITH RECURSIVE gone(name, change_set, rule, depth, path) AS (
        SELECT key, v.change_set, v.before -> CASE entity WHEN 'flag' THEN 'targeting' ELSE 'rule' END,
               0, ARRAY[key]
        UNION ALL
        SELECT d.entity_key, d.change_set, d.before -> 'rule', g.depth + 1, g.path || d.entity_key
          FROM gone AS g
         CROSS JOIN LATERAL (SELECT DISTINCT COALESCE(a ->> 0, a #>> '{}') AS name
                               FROM pg_catalog.jsonb_path_query(g.rule, 'lax $.**.in_segment') AS a) AS u
          JOIN LATERAL (SELECT x.entity_key, x.change_set, x.before, x.operation
                          FROM ff.versions AS x
                         WHERE x.entity = 'segment' AND x.environment = _deleted_note.environment
                           AND x.entity_key = u.name
                         ORDER BY x.version DESC LIMIT 1) AS d ON d.operation = 'DELETE'
         WHERE NOT u.name = ANY (g.path) AND g.depth < 100
           AND NOT EXISTS (SELECT 1 FROM ff.segments AS s
                            WHERE s.environment = _deleted_note.environment AND s.name = u.name)
    )
    SELECT pg_catalog.string_agg(pg_catalog.format('SELECT ff.rollback_segment(%L, %s, environment => %L); ',
                                                   o.name, o.change_set - 1, environment), '' ORDER BY o.depth DESC, o.name)
      INTO first
      FROM (SELECT g.name, pg_catalog.min(g.change_set) AS change_set, pg_catalog.max(g.depth) AS depth
              FROM gone AS g WHERE g.depth > 0 GROUP BY g.name) AS o;
    hint := COALESCE(first, '')
            || pg_catalog.format('SELECT ff.rollback_%s(%L, %s, environment => %L); restores it with its history%s.',
                                 entity, key, v.change_set - 1, environment,
                                 CASE WHEN first IS NOT NULL THEN ', after the segments it uses' ELSE '' END);
END;
$$;

COMMENT ON FUNCTION ff._deleted_note(text, text, text) IS
'Internal: for a flag, segment or environment whose history ends with a DELETE, a not-found DETAIL (when and by whom) and a HINT (the rollbacks that restore it); NULLs otherwise';

-- ff._flag_not_found raises the error for a flag key missing from an
-- environment.  deleting: the caller was deleting it, so the HINT does not
-- suggest creating it (1.25).
CREATE FUNCTION ff._flag_not_found(key text, environment text, deleting boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    elsewhere   text;
    gone        record;
    hint        text;
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'flag key must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass the key of a flag of environment "%s"; ff.flags lists them.', environment);
    END IF;
    SELECT string_agg(format('"%s"', f.environment), ', ' ORDER BY f.environment) INTO elsewhere
      FROM ff.flags AS f WHERE f.key = _flag_not_found.key;
    IF elsewhere IS NULL THEN
        gone := ff._deleted_note('flag', environment, key);
        hint := ff._perhaps_you_meant(key, ARRAY(SELECT f.key FROM ff.flags AS f
                                                  WHERE f.environment = _flag_not_found.environment))
             || CASE WHEN deleting AND key ~ ff._name_pattern() THEN format('ff.flags lists the flags of environment "%s".', environment)
                     WHEN gone.hint IS NOT NULL THEN gone.hint
                     ELSE ff._create_hint('flag', key, environment) END;
        IF gone.detail IS NULL THEN
            RAISE EXCEPTION 'flag "%" does not exist in environment "%"', ff._name_in_message(key), environment
                USING ERRCODE = 'undefined_object', HINT = hint;
        END IF;
        RAISE EXCEPTION 'flag "%" does not exist in environment "%"', ff._name_in_message(key), environment
            USING ERRCODE = 'undefined_object', DETAIL = gone.detail, HINT = hint;
    END IF;
    -- (1.17) the HINT names an environment that has the flag and the call
    -- that copies it (it said "Pass environment => 'name'", which
    -- ff.copy_flag has no argument for)
    RAISE EXCEPTION 'flag "%" does not exist in environment "%"', key, environment
        USING ERRCODE = 'undefined_object',
              DETAIL = format('The flag exists in environment %s.', elsewhere),
              HINT = CASE WHEN deleting THEN 'Name the environment that has it.'
                          ELSE format('Name the environment that has it, or copy it here with SELECT ff.copy_flag(%L, %L, %L);',
                                      key, (SELECT min(f.environment) FROM ff.flags AS f WHERE f.key = _flag_not_found.key),
                                      environment) END;
END;
$$;

COMMENT ON FUNCTION ff._flag_not_found(text, text, boolean) IS
'Internal: raises undefined_object for a flag key missing from an environment, naming where it does exist, or when it was deleted';

-- ff._segment_not_found raises the error for a segment missing from an
-- environment (deleting: as for ff._flag_not_found, 1.25).
CREATE FUNCTION ff._segment_not_found(segment text, environment text, deleting boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone        record;
    hint        text;
BEGIN
    IF segment IS NULL THEN
        RAISE EXCEPTION 'segment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = format('Pass the name of a segment of environment "%s"; ff.segments lists them.', environment);
    END IF;
    gone := ff._deleted_note('segment', environment, segment);
    hint := ff._perhaps_you_meant(segment, ARRAY(SELECT g.name FROM ff.segments AS g
                                                  WHERE g.environment = _segment_not_found.environment))
         || CASE WHEN deleting AND segment ~ ff._name_pattern() THEN format('ff.segments lists the segments of environment "%s".', environment)
                 WHEN gone.hint IS NOT NULL THEN gone.hint
                 ELSE ff._create_hint('segment', segment, environment) END;
    IF gone.detail IS NULL THEN
        RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(segment), environment
            USING ERRCODE = 'undefined_object', HINT = hint;
    END IF;
    RAISE EXCEPTION 'segment "%" does not exist in environment "%"', ff._name_in_message(segment), environment
        USING ERRCODE = 'undefined_object', DETAIL = gone.detail, HINT = hint;
END;
$$;

COMMENT ON FUNCTION ff._segment_not_found(text, text, boolean) IS
'Internal: raises undefined_object for a segment missing from an environment, or when it was deleted';

-- ---------------------------------------------------------------------
-- Environments
-- ---------------------------------------------------------------------

-- ff.create_environment creates an environment (a flagd flag set).
CREATE FUNCTION ff.create_environment(name text, description text DEFAULT NULL,
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

-- ff.set_default_environment makes an environment the default one.
CREATE FUNCTION ff.set_default_environment(name text)
RETURNS ff.environments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text;
    result      ff.environments;
BEGIN
    -- (NULL would resolve to the default environment: a silent no-op)
    IF set_default_environment.name IS NULL THEN
        RAISE EXCEPTION 'environment name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment, for example SELECT ff.set_default_environment(''production'');';
    END IF;
    env := ff._resolve_environment(set_default_environment.name);
    UPDATE ff.environments SET is_default = true WHERE name = env AND NOT is_default;
    SELECT * INTO result FROM ff.environments WHERE name = env;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.set_default_environment(text) IS
'Makes the environment the default one (used when no environment is given and ff.environment is empty)';

-- ff.delete_environment deletes an environment; with force it first
-- deletes its flags, segments and segment keys.
CREATE FUNCTION ff.delete_environment(name text, force boolean DEFAULT false)
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
    -- (1.23) the writer lock before the environment's flags and segments are
    -- read: with force, a flag created meanwhile is deleted too (1.22 failed
    -- with "still has 1 flag(s)").  A DELETE of no row, not
    -- ff._history_lock_writer: the privilege this function needs anyway.
    DELETE FROM ff.environments AS t WHERE false;
    IF NOT EXISTS (SELECT 1 FROM ff.environments WHERE name = env) THEN
        -- (1.25) not ff._resolve_environment's error, whose HINT said how to
        -- create it
        DECLARE
            detail  text := (ff._deleted_note('environment', env, env)).detail;
            hint    text := ff._perhaps_you_meant(env, ARRAY(SELECT e.name FROM ff.environments AS e))
                            || 'ff.environments lists the environments.';
        BEGIN
            IF detail IS NULL THEN
                RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                    USING ERRCODE = 'undefined_object', HINT = hint;
            END IF;
            RAISE EXCEPTION 'environment "%" does not exist', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object', DETAIL = detail, HINT = hint;
        END;
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

COMMENT ON FUNCTION ff.delete_environment(text, boolean) IS
'Deletes an environment; refuses the default one and a protected one, and one with flags or segments unless force => true deletes them too';

-- ff._segment_alike tells whether a segment has the same rule and keys in
-- two environments (a description does not count).
CREATE FUNCTION ff._segment_alike(env_a text, env_b text, segment text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM ff.segments AS a, ff.segments AS b
                    WHERE a.environment = $1 AND a.name = $3
                      AND b.environment = $2 AND b.name = $3
                      AND a.rule IS NOT DISTINCT FROM b.rule)
       AND NOT EXISTS ((SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                         WHERE k.environment = $1 AND k.segment = $3
                        EXCEPT
                        SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                         WHERE k.environment = $2 AND k.segment = $3)
                       UNION ALL
                       (SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                         WHERE k.environment = $2 AND k.segment = $3
                        EXCEPT
                        SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                         WHERE k.environment = $1 AND k.segment = $3))
$$;

COMMENT ON FUNCTION ff._segment_alike(text, text, text) IS
'Internal: whether a segment has the same rule and keys in two environments (1.24)';

-- ff._copy_segments copies segments (with their keys) from one environment
-- to another, referenced segments first; existing target segments are
-- replaced when overwrite is true and kept as they are otherwise (1.24:
-- with a NOTICE naming, among them and what they reference, those that
-- differ from the source's, since what is copied then uses them as they
-- are).
CREATE FUNCTION ff._copy_segments(source_env text, target_env text, names text[], overwrite boolean)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    todo        text[];
    done        text[] := '{}';
    seg         text;
    progress    boolean;
    copied      integer := 0;
    src         ff.segments;
    gone        text[];
    kept        text[] := '{}';
    differing   text;
BEGIN
    -- the closure of the requested segments over in_segment references
    -- (not through a segment the target has and keeps: the target's own is
    -- used, with its own references)
    WITH RECURSIVE closure (seg) AS (
        SELECT s FROM unnest(names) AS s
        UNION
        SELECT r FROM closure AS c, unnest(ff._segment_refs(source_env, c.seg)) AS r
         WHERE overwrite
            OR NOT EXISTS (SELECT 1 FROM ff.segments AS t WHERE t.environment = target_env AND t.name = c.seg)
    )
    SELECT array_agg(c.seg ORDER BY c.seg) INTO todo FROM closure AS c;
    todo := COALESCE(todo, '{}');

    WHILE cardinality(todo) > 0 LOOP
        progress := false;
        FOREACH seg IN ARRAY todo LOOP
            IF ff._segment_refs(source_env, seg) <@ done
               OR (NOT overwrite AND EXISTS (SELECT 1 FROM ff.segments AS t
                                              WHERE t.environment = target_env AND t.name = seg)) THEN
                SELECT * INTO src FROM ff.segments WHERE environment = source_env AND name = seg;
                IF NOT FOUND THEN
                    PERFORM ff._segment_not_found(seg, source_env);
                END IF;
                IF NOT EXISTS (SELECT 1 FROM ff.segments WHERE environment = target_env AND name = seg) THEN
                    INSERT INTO ff.segments (environment, name, rule, description)
                    VALUES (target_env, seg, src.rule, src.description);
                    INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
                    SELECT target_env, seg, k.targeting_key, k.excluded
                      FROM ff.segment_keys AS k WHERE k.environment = source_env AND k.segment = seg;
                    copied := copied + 1;
                ELSIF overwrite THEN
                    UPDATE ff.segments SET rule = src.rule, description = src.description
                     WHERE environment = target_env AND name = seg
                       AND (rule, description) IS DISTINCT FROM (src.rule, src.description);
                    -- (1.24) the keys to remove are found by a set
                    -- difference and removed by the primary key, whatever
                    -- the statistics say: the target's keys are often
                    -- written in this transaction or just before, and
                    -- estimated at a row or two; a NOT EXISTS then ran as a
                    -- nested loop over all the keys (100,000 keys: 580 s,
                    -- holding the writer lock)
                    gone := ARRAY(SELECT d.targeting_key
                                    FROM (SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                                           WHERE k.environment = target_env AND k.segment = seg
                                          EXCEPT
                                          SELECT k.targeting_key, k.excluded FROM ff.segment_keys AS k
                                           WHERE k.environment = source_env AND k.segment = seg) AS d);
                    DELETE FROM ff.segment_keys AS t
                     WHERE t.environment = target_env AND t.segment = seg
                       AND t.targeting_key = ANY (gone);
                    INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
                    SELECT target_env, seg, k.targeting_key, k.excluded
                      FROM ff.segment_keys AS k WHERE k.environment = source_env AND k.segment = seg
                    ON CONFLICT (environment, segment, targeting_key) DO NOTHING;
                    copied := copied + 1;
                ELSE
                    kept := kept || seg;
                END IF;
                done := done || seg;
                todo := array_remove(todo, seg);
                progress := true;
            END IF;
        END LOOP;
        IF NOT progress THEN
            RAISE EXCEPTION 'segments % of environment "%" reference each other in a cycle', todo, source_env
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    -- the kept segments and what they reference in the target, each
    -- compared once: those whose rule or keys differ are named (below a
    -- segment that is alike, the references are the same on both sides)
    IF cardinality(kept) > 0 THEN
        WITH RECURSIVE closure (seg, alike) AS (
            SELECT k, ff._segment_alike(source_env, target_env, k) FROM unnest(kept) AS k
            UNION
            SELECT r, ff._segment_alike(source_env, target_env, r)
              FROM closure AS c, unnest(ff._segment_refs(source_env, c.seg)) AS r
             WHERE c.alike
        )
        SELECT string_agg(format('"%s"', c.seg), ', ' ORDER BY c.seg) INTO differing
          FROM closure AS c
         WHERE NOT c.alike;
        IF differing IS NOT NULL THEN
            RAISE NOTICE 'the segments of environment "%" that the copy uses as they are differ from those of environment "%": %',
                target_env, source_env, differing
                USING DETAIL = format('Kept: %s, and the segments they reference. What was copied can evaluate differently there.',
                                      (SELECT string_agg(format('"%s"', k), ', ' ORDER BY k) FROM unnest(kept) AS k)),
                      HINT = format('SELECT * FROM ff.diff_environments(%L, %L) WHERE entity = ''segment'' shows how they differ.',
                                    source_env, target_env);
        END IF;
    END IF;
    RETURN copied;
END;
$$;

COMMENT ON FUNCTION ff._copy_segments(text, text, text[], boolean) IS
'Internal: copies segments and everything they reference (rules and keys) to another environment, dependencies first';

-- ff.copy_environment copies every segment and flag of one environment
-- into another, creating the target when it does not exist.
CREATE FUNCTION ff.copy_environment(from_environment text, to_environment text, overwrite boolean DEFAULT false)
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
    clashes     bigint;
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
    -- (1.23) the writer lock before the source and the clashes are read: a
    -- change committed while this copy waited is copied, and a flag created
    -- meanwhile in the target is a clash (1.22 copied the older source and
    -- overwrote such a flag despite overwrite => false)
    PERFORM ff._history_lock_writer('flag');
    IF NOT EXISTS (SELECT 1 FROM ff.environments WHERE name = dst_env) THEN
        INSERT INTO ff.environments (name, description, metadata)
        SELECT dst_env, format('Copy of environment "%s"', src_env), e.metadata
          FROM ff.environments AS e WHERE e.name = src_env;
    ELSIF NOT overwrite THEN
        -- (1.24) the first ten by name, and how many in all (1.23 listed
        -- every one: 89 kB for 5,000 flags)
        SELECT string_agg(c.x, ', ' ORDER BY c.kind, c.name) FILTER (WHERE c.n <= 10), max(c.n)
          INTO clash, clashes
          FROM (SELECT d.*, row_number() OVER (ORDER BY d.kind, d.name) AS n FROM (
                    SELECT 1 AS kind, f.key AS name, format('flag "%s"', f.key) AS x FROM ff.flags AS f
                     WHERE f.environment = src_env
                       AND EXISTS (SELECT 1 FROM ff.flags AS t WHERE t.environment = dst_env AND t.key = f.key)
                    UNION ALL
                    SELECT 2, s.name, format('segment "%s"', s.name) FROM ff.segments AS s
                     WHERE s.environment = src_env
                       AND EXISTS (SELECT 1 FROM ff.segments AS t WHERE t.environment = dst_env AND t.name = s.name)
                ) AS d) AS c;
        IF clash IS NOT NULL THEN
            RAISE EXCEPTION 'cannot copy environment "%" into "%": both have %', src_env, dst_env,
                            clash || CASE WHEN clashes > 10 THEN format(' and %s more', clashes - 10) ELSE '' END
                USING ERRCODE = 'unique_violation',
                      HINT = format('Pass overwrite => true to replace them with the source''s definitions; SELECT * FROM ff.diff_environments(%L, %L) lists what that changes.',
                                    src_env, dst_env);
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

-- ---------------------------------------------------------------------
-- Flags
-- ---------------------------------------------------------------------

-- ff.create_flag creates a flag; without variants it is a boolean flag
-- with variants "on"/"off" that defaults to "off".
CREATE FUNCTION ff.create_flag(key text,
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

-- ff._flag_row returns the row of a flag; an unknown flag is an error.
CREATE FUNCTION ff._flag_row(key text, environment text)
RETURNS ff.flags
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    result      ff.flags;
BEGIN
    SELECT * INTO result FROM ff.flags AS f WHERE f.environment = _flag_row.environment AND f.key = _flag_row.key;
    IF NOT FOUND THEN
        PERFORM ff._flag_not_found(_flag_row.key, _flag_row.environment);
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff._flag_row(text, text) IS
'Internal: the row of a flag; raises undefined_object when the flag does not exist in the environment';

-- ff.set_targeting replaces the targeting rule of a flag (NULL removes it).
CREATE FUNCTION ff.set_targeting(key text, targeting jsonb, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(set_targeting.environment);
    result      ff.flags := ff._flag_row(set_targeting.key, env);
BEGIN
    UPDATE ff.flags AS f SET targeting = set_targeting.targeting
     WHERE f.environment = env AND f.key = set_targeting.key
       AND f.targeting IS DISTINCT FROM set_targeting.targeting
    RETURNING * INTO result;
    IF NOT FOUND THEN
        result := ff._flag_row(set_targeting.key, env);
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.set_targeting(text, jsonb, text) IS
'Replaces the targeting (JSON Logic) of a flag; NULL or {} removes it, so the default variant is served';

-- ff.set_default_variant changes the default variant of a flag (NULL:
-- callers get their code default).
CREATE FUNCTION ff.set_default_variant(key text, variant text, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(set_default_variant.environment);
    result      ff.flags := ff._flag_row(set_default_variant.key, env);
BEGIN
    UPDATE ff.flags AS f SET default_variant = set_default_variant.variant
     WHERE f.environment = env AND f.key = set_default_variant.key
       AND f.default_variant IS DISTINCT FROM set_default_variant.variant
    RETURNING * INTO result;
    IF NOT FOUND THEN
        result := ff._flag_row(set_default_variant.key, env);
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.set_default_variant(text, text, text) IS
'Sets the default variant of a flag (NULL means callers get their code default)';

-- ff._set_state sets the state of a flag (shared by enable_flag and
-- disable_flag).
CREATE FUNCTION ff._set_state(key text, state text, environment text)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(_set_state.environment);
    result      ff.flags := ff._flag_row(_set_state.key, env);
BEGIN
    UPDATE ff.flags AS f SET state = _set_state.state
     WHERE f.environment = env AND f.key = _set_state.key AND f.state <> _set_state.state
    RETURNING * INTO result;
    IF NOT FOUND THEN
        result := ff._flag_row(_set_state.key, env);
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff._set_state(text, text, text) IS
'Internal: sets a flag''s state to ENABLED or DISABLED';

-- ff.enable_flag turns a flag on (state ENABLED).
CREATE FUNCTION ff.enable_flag(key text, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE sql
BEGIN ATOMIC
    SELECT ff._set_state(key, 'ENABLED', environment);
END;

COMMENT ON FUNCTION ff.enable_flag(text, text) IS
'Enables a flag (state ENABLED): its targeting and default variant are served again';

-- ff.disable_flag is the kill switch: state DISABLED, so every evaluation
-- returns the caller's default with reason DISABLED.
CREATE FUNCTION ff.disable_flag(key text, environment text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE sql
BEGIN ATOMIC
    SELECT ff._set_state(key, 'DISABLED', environment);
END;

COMMENT ON FUNCTION ff.disable_flag(text, text) IS
'Kill switch: disables a flag (state DISABLED); evaluations return the caller''s default with reason DISABLED';

-- ff._pick_variant returns the first of the candidate names that is a
-- variant of the flag and differs from "other".
CREATE FUNCTION ff._pick_variant(variants jsonb, candidates text[], other text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT c FROM pg_catalog.unnest(candidates) WITH ORDINALITY AS t(c, o)
     WHERE c IS NOT NULL AND variants ? c AND c IS DISTINCT FROM other
     ORDER BY o LIMIT 1;
END;

COMMENT ON FUNCTION ff._pick_variant(jsonb, text[], text) IS
'Internal: the first candidate that names a variant and differs from another name';

-- ff._rollout_rule returns the targeting of a percentage rollout of a
-- flag: a flagd "fractional" split between two variants (the rule
-- ff.set_rollout writes and ff.schedule_rollout schedules; 1.14: taken out
-- of ff.set_rollout).
CREATE FUNCTION ff._rollout_rule(key text, percentage numeric, env text,
                                 variant text, otherwise text, bucket_by text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    flag        ff.flags := ff._flag_row(_rollout_rule.key, env);
    v_on        text;
    v_off       text;
    w_on        bigint;
    w_off       bigint;
    rule        jsonb;
BEGIN
    IF percentage IS NULL THEN
        RAISE EXCEPTION 'rollout percentage of flag "%" in environment "%" must not be NULL', _rollout_rule.key, env
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'The percentage is a number from 0 to 100, with at most two decimals (e.g. 12.5).';
    END IF;
    IF percentage < 0 OR percentage > 100 THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"',
            percentage, _rollout_rule.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The percentage is a number from 0 to 100, with at most two decimals (e.g. 12.5).';
    END IF;
    IF percentage * 100 <> trunc(percentage * 100) THEN
        RAISE EXCEPTION 'invalid rollout percentage % for flag "%" in environment "%"', percentage, _rollout_rule.key, env
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'fractional weights are integers, so percentages have at most two decimals.',
                  HINT = 'Round the percentage to two decimals.';
    END IF;

    v_on := COALESCE(_rollout_rule.variant, ff._pick_variant(flag.variants, ARRAY['on', 'true'], NULL));
    IF v_on IS NULL OR NOT flag.variants ? v_on THEN
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', _rollout_rule.key, env,
            CASE WHEN v_on IS NULL THEN 'it has no variant "on" or "true"'
                 ELSE format('"%s" is not one of its variants', ff._name_in_message(v_on)) END
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
        RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": %', _rollout_rule.key, env,
            CASE WHEN v_off IS NULL THEN format('no variant to serve outside the rollout of "%s"', ff._name_in_message(v_on))
                 WHEN v_off = v_on THEN format('"otherwise" and "variant" are both "%s"', ff._name_in_message(v_on))
                 ELSE format('"%s" is not one of its variants', ff._name_in_message(v_off)) END
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
            RAISE EXCEPTION 'cannot roll out flag "%" in environment "%": bucket_by is empty', _rollout_rule.key, env
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'An empty attribute name reads the whole context, which puts every user in the same bucket.',
                      HINT = 'Name the context attribute to bucket by, e.g. bucket_by => ''email'', or omit it to use targetingKey.';
        END IF;
        IF bucket_by IS NOT NULL THEN
            rule := jsonb_build_array(jsonb_build_object('cat', jsonb_build_array(
                        jsonb_build_object('var', '$flagd.flagKey'), jsonb_build_object('var', bucket_by)))) || rule;
        END IF;
        rule := jsonb_build_object('fractional', rule);
        IF bucket_by IS NOT NULL THEN
            -- a context without the attribute (missing, null or "") gets the
            -- default variant, like one without a targetingKey in the
            -- shorthand: all of them would otherwise share one bucket
            rule := jsonb_build_object('if', jsonb_build_array(
                        jsonb_build_object('missing', jsonb_build_array(bucket_by)), NULL::jsonb, rule));
        END IF;
    END IF;
    RETURN rule;
END;
$$;

COMMENT ON FUNCTION ff._rollout_rule(text, numeric, text, text, text, text) IS
'Internal: the targeting of a percentage rollout of a flag (what ff.set_rollout writes)';

-- ff.set_rollout replaces a flag's targeting by a percentage rollout: a
-- flagd "fractional" split between two variants.
CREATE FUNCTION ff.set_rollout(key text, percentage numeric, environment text DEFAULT NULL,
                               variant text DEFAULT NULL, otherwise text DEFAULT NULL,
                               bucket_by text DEFAULT NULL)
RETURNS ff.flags
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._resolve_environment(set_rollout.environment);
BEGIN
    -- (1.23) the writer lock before the flag's variants are read for the rule
    PERFORM ff._history_lock_writer('flag');
    RETURN ff.set_targeting(set_rollout.key,
                            ff._rollout_rule(set_rollout.key, percentage, env, variant, otherwise, bucket_by),
                            env);
END;
$$;

COMMENT ON FUNCTION ff.set_rollout(text, numeric, text, text, text, text) IS
'Replaces the targeting of a flag with a percentage rollout (flagd fractional, bucketed by flag key + targetingKey or by the bucket_by attribute); 0 and 100 serve one variant to everyone';

-- ff.copy_flag copies a flag into another environment, together with the
-- segments its targeting needs that are missing there.
CREATE FUNCTION ff.copy_flag(key text, from_environment text, to_environment text,
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
    -- (1.23) the writer lock before the source is read again: a change of
    -- it committed while this copy waited is what gets copied (1.22 copied
    -- the source as it was before, as a version after that change)
    PERFORM ff._history_lock_writer('flag');
    src := ff._flag_row(copy_flag.key, src_env);
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
            -- ((1.24) those the target has too: kept, with a NOTICE if they differ)
            ARRAY(SELECT s FROM unnest(ff._rule_segment_names(src.targeting,
                      format('targeting for flag "%s" in environment "%s"', src.key, src_env))) AS s
                   WHERE EXISTS (SELECT 1 FROM ff.segments AS g WHERE g.environment = src_env AND g.name = s)),
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

-- ff.delete_flag deletes a flag from an environment.
CREATE FUNCTION ff.delete_flag(key text, environment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(delete_flag.environment);
BEGIN
    DELETE FROM ff.flags AS f WHERE f.environment = env AND f.key = delete_flag.key;
    IF NOT FOUND THEN
        PERFORM ff._flag_not_found(delete_flag.key, env, deleting => true);
    END IF;
END;
$$;

COMMENT ON FUNCTION ff.delete_flag(text, text) IS
'Deletes a flag from an environment (the history keeps its past versions)';

-- ---------------------------------------------------------------------
-- Segments
-- ---------------------------------------------------------------------

-- ff.create_segment creates a segment: a rule and/or explicit lists of
-- included and excluded targeting keys.
CREATE FUNCTION ff.create_segment(name text, rule jsonb DEFAULT NULL, environment text DEFAULT NULL,
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

-- ff.set_segment_rule replaces the rule of a segment (NULL: keys only).
CREATE FUNCTION ff.set_segment_rule(name text, rule jsonb, environment text DEFAULT NULL)
RETURNS ff.segments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(set_segment_rule.environment);
    result      ff.segments;
BEGIN
    SELECT * INTO result FROM ff.segments AS s WHERE s.environment = env AND s.name = set_segment_rule.name;
    IF NOT FOUND THEN
        PERFORM ff._segment_not_found(set_segment_rule.name, env);
    END IF;
    UPDATE ff.segments AS s SET rule = set_segment_rule.rule
     WHERE s.environment = env AND s.name = set_segment_rule.name
       AND s.rule IS DISTINCT FROM set_segment_rule.rule
    RETURNING * INTO result;
    IF NOT FOUND THEN
        SELECT * INTO result FROM ff.segments AS s WHERE s.environment = env AND s.name = set_segment_rule.name;
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.set_segment_rule(text, jsonb, text) IS
'Replaces the rule of a segment; NULL leaves only its explicit key lists';

-- ff.delete_segment deletes a segment and its key lists; a segment still
-- referenced by a flag or another segment cannot be deleted.
CREATE FUNCTION ff.delete_segment(name text, environment text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    env         text := ff._resolve_environment(delete_segment.environment);
BEGIN
    DELETE FROM ff.segments AS s WHERE s.environment = env AND s.name = delete_segment.name;
    IF NOT FOUND THEN
        PERFORM ff._segment_not_found(delete_segment.name, env, deleting => true);
    END IF;
END;
$$;

COMMENT ON FUNCTION ff.delete_segment(text, text) IS
'Deletes a segment with its key lists; refused while a flag or another segment references it';

-- ff.add_segment_keys adds targeting keys to a segment's include list (or,
-- with excluded => true, to its exclude list), moving keys already on the
-- other list.
CREATE FUNCTION ff.add_segment_keys(segment text, keys text[], environment text DEFAULT NULL,
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

-- ff.remove_segment_keys removes targeting keys from a segment (from
-- whichever list holds them).
CREATE FUNCTION ff.remove_segment_keys(segment text, keys text[], environment text DEFAULT NULL)
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

COMMENT ON FUNCTION ff.remove_segment_keys(text, text[], text) IS
'Removes targeting keys from a segment''s include or exclude list; returns the number removed';

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
CREATE FUNCTION ff.apply_draft(flag_key text, draft jsonb, environment text DEFAULT NULL)
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
    PERFORM ff._check_name('flag key', flag_key, format(' in environment "%s"', env));
    -- (1.19) the history's writer lock before the flag's row lock, the
    -- order every writer takes them in: a statement that changes no row
    -- still fires ff_01_writer_lock.  1.18 locked the row first, and
    -- deadlocked with a writer that held the writer lock and then wrote
    -- the same flag (the scheduled-change runner calls this function).
    -- (1.23) Before the draft is checked over the stored flag: a flag
    -- deleted while this call waited is then not found, with the check's
    -- own error (1.22 checked first and then failed on the deleted row's
    -- NULL variants).
    PERFORM ff._history_lock_writer('flag');
    -- the checks of ff.evaluate_draft: an object of known members that
    -- compiles over the stored flag, with segments the environment has
    PERFORM ff.evaluate_draft(flag_key, '{}'::jsonb, draft, NULL::jsonb, env);
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

-- write functions are for the extension owner and the roles it grants them to
REVOKE ALL ON FUNCTION ff.create_environment(text, text, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_default_environment(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.delete_environment(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._copy_segments(text, text, text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.copy_environment(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.create_flag(text, jsonb, text, text, jsonb, boolean, text, text[], text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_targeting(text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_default_variant(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._set_state(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.enable_flag(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.disable_flag(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_rollout(text, numeric, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.copy_flag(text, text, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.delete_flag(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.create_segment(text, jsonb, text, text, text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.set_segment_rule(text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.delete_segment(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.add_segment_keys(text, text[], text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.remove_segment_keys(text, text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.apply_draft(text, jsonb, text) FROM PUBLIC;
-- ---------------------------------------------------------------------
-- flagd interoperability: ff.import_flagd and ff.export_flagd
--
-- A flagd flag-definition document ({"$schema", "metadata", "flags",
-- "$evaluators"}) maps onto one environment: "metadata" is the
-- environment's flag-set metadata, each member of "flags" one row of
-- ff.flags.  Shared rules ("$evaluators" + {"$ref": name}) are resolved on
-- import.  Segments are not a flagd concept: on export every in_segment
-- reference becomes plain JSON Logic (see ff._segment_as_jsonlogic).
-- ---------------------------------------------------------------------

-- ff._flagd_resolve_refs replaces every {"$ref": "name"} object inside a
-- rule by the named shared rule.  A reference that cannot be resolved (an
-- unknown name, a name that is not a string) is left in place, as flagd
-- leaves it: the rule then fails to compile, so ff.import_flagd stores the
-- flag with a WARNING and its evaluations return PARSE_ERROR.
CREATE FUNCTION ff._flagd_resolve_refs(node jsonb, evaluators jsonb, flag text, path text,
                                       depth integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
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
    -- (1.20) one object at the end: grown member by member, it was copied
    -- for every member (quadratic in a large object variant's size)
    SELECT pg_catalog.json_object_agg(e.key,
               ff._flagd_resolve_refs(e.value, evaluators, flag, ff._json_path_member(path, e.key), depth + 1))::jsonb
      INTO result
      FROM jsonb_each(node) AS e;
    RETURN coalesce(result, '{}');
END;
$$;

COMMENT ON FUNCTION ff._flagd_resolve_refs(jsonb, jsonb, text, text, integer) IS
'Internal: replaces {"$ref": name} objects in a rule by the shared rules of a flagd document''s $evaluators';

-- ff.import_flagd loads a flagd flag-definition document into an
-- environment, atomically.
CREATE FUNCTION ff.import_flagd(document jsonb, environment text DEFAULT NULL, replace boolean DEFAULT false)
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
    vr          jsonb;
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
                  HINT = 'The document needs "flags": an object mapping flag keys to flag definitions, or an array of flag definitions that each have a "key".';
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
        -- (1.20) json_object_agg, cast once: jsonb_object_agg takes time
        -- quadratic in the size of a large value (a flag with a long list)
        SELECT json_object_agg(a ->> 'key', a - 'key')::jsonb INTO flags FROM jsonb_array_elements(flags) AS a;
        flags := COALESCE(flags, '{}');
    ELSIF jsonb_typeof(flags) <> 'object' THEN
        RAISE EXCEPTION 'invalid flagd document: $.flags is a JSON %, not an object or an array', jsonb_typeof(flags)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The document needs "flags": an object mapping flag keys to flag definitions, or an array of flag definitions that each have a "key".';
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
            RAISE EXCEPTION 'invalid flagd document: flag "%" has state %', ff._name_in_message(fl.key), ff._name_in_message((f -> 'state')::text)
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.state.', fpath),
                      HINT = 'The state is "ENABLED" or "DISABLED".';
        END IF;
        IF f ? 'defaultVariant' AND jsonb_typeof(f -> 'defaultVariant') NOT IN ('string', 'null') THEN
            RAISE EXCEPTION 'invalid flagd document: flag "%" has a defaultVariant that is a JSON %', fl.key,
                jsonb_typeof(f -> 'defaultVariant')
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('The problem is at %s.defaultVariant.', fpath),
                      HINT = 'defaultVariant is the name of a variant, or null.';
        END IF;
        -- (1.20) "" is no default variant, as flagd reads it (no variant
        -- may have an empty name)
        dv := NULLIF(f ->> 'defaultVariant', '');
        tg := ff._flagd_resolve_refs(f -> 'targeting', evaluators, fl.key, fpath || '.targeting');
        md := COALESCE(NULLIF(f -> 'metadata', 'null'), '{}');
        -- (1.20) {"$ref": name} inside a variant's value is replaced too, as
        -- flagd replaces it anywhere in the document; variants nested too
        -- deep to walk for it (rules stop at 256 levels) are left as written
        vr := f -> 'variants';
        IF evaluators IS NOT NULL AND strpos(vr::text, '"$ref"') > 0 THEN
            BEGIN
                vr := ff._flagd_resolve_refs(vr, evaluators, fl.key, fpath || '.variants');
            EXCEPTION WHEN invalid_parameter_value OR statement_too_complex THEN
                vr := f -> 'variants';
            END;
        END IF;
        -- appended in place (a jsonb array would be copied for every flag)
        parsed := array_append(parsed, jsonb_build_object(
            'key', fl.key, 'state', f -> 'state', 'variants', vr,
            'defaultVariant', dv, 'targeting', tg, 'metadata', md));
    END LOOP;

    -- the history's writer lock first (1.20), so that the types read next
    -- are not changed by a concurrent writer before this one writes
    PERFORM ff._history_lock_writer('flag');
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
         -- compared as text (1.20): jsonb equality takes 10 and 10.0 for
         -- one value, and a document that only respells a number was
         -- skipped, so the flag kept the old spelling
         WHERE (t.state, t.variants::text, t.default_variant, t.targeting::text, t.metadata::text)
               IS DISTINCT FROM
               (EXCLUDED.state, EXCLUDED.variants::text, EXCLUDED.default_variant, EXCLUDED.targeting::text,
                EXCLUDED.metadata::text)
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

COMMENT ON FUNCTION ff.import_flagd(jsonb, text, boolean) IS
'Loads a flagd flag-definition document into an environment atomically ($ref resolved, metadata = flag-set metadata); replace => true deletes the environment''s flags absent from the document; returns the number of flags created, changed or deleted';

-- ff._flagd_unsafe_key_pattern: the targeting keys that flagd's text
-- substitution of $evaluators would change (1.25): a "$" (flagd Go expands
-- $name in the replacement) or anything JSON writes with a "\" (flagd Java
-- takes \ as an escape there): a backslash, a double quote, a control
-- character.
CREATE FUNCTION ff._flagd_unsafe_key_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '[$\\"[:cntrl:]]';

COMMENT ON FUNCTION ff._flagd_unsafe_key_pattern() IS
'Internal: the regular expression of the targeting keys flagd''s text substitution of $evaluators would change ($, \, ", control characters); ff.export_flagd keeps them out of $evaluators (1.25)';

-- ff._segment_key_tests returns the if-branches of a segment membership
-- test for an exclude and an include list of targeting keys:
-- [is a string key in excluded, false, is a string key in included, true],
-- each pair left out when its list is empty (1.25, from
-- ff._segment_as_jsonlogic).
CREATE FUNCTION ff._segment_key_tests(key_expression jsonb, excluded jsonb, included jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    is_string   jsonb;
    parts       jsonb := '[]';
BEGIN
    -- like in_segment: the lists match string keys only (e.g. not a missing
    -- targetingKey); the key is a string when {"cat": [key]} is the key
    -- itself, asked only of a key that is not null (1.20: json-logic-engine's
    -- interpreter, which flagd-core uses without code generation, fails on
    -- {"cat": [null]}, and so did every evaluation without a targetingKey;
    -- "===", because its "==" fails on an array or an object)
    is_string := ff._flagd_is_string(key_expression);
    IF COALESCE(excluded, '[]') <> '[]' THEN
        parts := parts || jsonb_build_array(jsonb_build_object('and', jsonb_build_array(
                     is_string, jsonb_build_object('in', jsonb_build_array(key_expression, excluded)))), false);
    END IF;
    IF COALESCE(included, '[]') <> '[]' THEN
        parts := parts || jsonb_build_array(jsonb_build_object('and', jsonb_build_array(
                     is_string, jsonb_build_object('in', jsonb_build_array(key_expression, included)))), true);
    END IF;
    RETURN parts;
END;
$$;

COMMENT ON FUNCTION ff._segment_key_tests(jsonb, jsonb, jsonb) IS
'Internal: the exclude- and include-list branches of a plain JSON Logic segment membership test, used by ff.export_flagd (1.25)';

-- ff._flagd_is_string: plain JSON Logic that is true when key_expression
-- is a string (see ff._segment_key_tests).
CREATE FUNCTION ff._flagd_is_string(key_expression jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN pg_catalog.jsonb_build_object('if', pg_catalog.jsonb_build_array(
           pg_catalog.jsonb_build_object('===', pg_catalog.jsonb_build_array(key_expression, NULL::jsonb)), false,
           pg_catalog.jsonb_build_object('===', pg_catalog.jsonb_build_array(
               pg_catalog.jsonb_build_object('cat', pg_catalog.jsonb_build_array(key_expression)), key_expression))));

COMMENT ON FUNCTION ff._flagd_is_string(jsonb) IS
'Internal: plain JSON Logic true when an expression is a string, for exported segment tests (1.25)';

-- ff._segment_as_jsonlogic returns plain JSON Logic equivalent to
-- {"in_segment": [segment, key_expression]}: false for excluded keys, true
-- for included keys, otherwise the truthiness of the segment rule; without
-- a rule, false for a string key and null for any other key (1.10: the
-- rule decides for keys that are not strings, as in_segment does).
-- flagd_safe_keys (1.25): only the keys that flagd's substitution of
-- $evaluators keeps as they are (ff._flagd_unsafe_key_pattern); the export
-- tests the others where the flag refers to the $evaluators entry.
-- lists, rule (1.25): false leaves the lists out (the rule alone), or the
-- rule (the lists, then null: undecided), for an export that keeps a
-- segment's lists in its $evaluators entry and its rule in the flags.
CREATE FUNCTION ff._segment_as_jsonlogic(environment text, segment text, key_expression jsonb,
                                         flagd_safe_keys boolean DEFAULT false,
                                         lists boolean DEFAULT true, rule boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    seg         ff.segments;
    inc         jsonb;
    exc         jsonb;
    logic       jsonb;
    parts       jsonb := '[]';
BEGIN
    SELECT * INTO seg FROM ff.segments AS s
     WHERE s.environment = _segment_as_jsonlogic.environment AND s.name = _segment_as_jsonlogic.segment;
    IF NOT FOUND THEN
        PERFORM ff._segment_not_found(segment, _segment_as_jsonlogic.environment);
    END IF;
    IF lists THEN
        SELECT COALESCE(jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE k.excluded), '[]'),
               COALESCE(jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE NOT k.excluded), '[]')
          INTO exc, inc
          FROM ff.segment_keys AS k
         WHERE k.environment = _segment_as_jsonlogic.environment AND k.segment = _segment_as_jsonlogic.segment
           AND NOT (flagd_safe_keys AND k.targeting_key ~ ff._flagd_unsafe_key_pattern());
        parts := ff._segment_key_tests(key_expression, exc, inc);
    END IF;
    IF NOT _segment_as_jsonlogic.rule THEN
        -- the lists alone: undecided (null) for a key on neither
        logic := NULL::jsonb;
    ELSIF seg.rule IS NULL THEN
        -- no rule: not a member, or undecided without a key
        logic := jsonb_build_object('if', jsonb_build_array(ff._flagd_is_string(key_expression), false, NULL::jsonb));
    ELSE
        logic := (ff._flagd_inline_segments(seg.rule, _segment_as_jsonlogic.environment, NULL)).rule;
        -- membership is the truthiness of the rule
        IF NOT (jsonb_typeof(logic) = 'object' AND logic ? '!!') THEN
            logic := jsonb_build_object('!!', jsonb_build_array(logic));
        END IF;
    END IF;
    IF parts = '[]' THEN
        RETURN COALESCE(logic, 'null');
    END IF;
    RETURN jsonb_build_object('if', parts || jsonb_build_array(COALESCE(logic, 'null')));
END;
$$;

COMMENT ON FUNCTION ff._segment_as_jsonlogic(text, text, jsonb, boolean, boolean, boolean) IS
'Internal: plain JSON Logic equivalent of a segment membership test (exclude list, include list, rule), used by ff.export_flagd (1.25: flagd_safe_keys, only the keys flagd''s $evaluators substitution keeps; lists or rule false, the rule or the lists alone)';

-- ff._flagd_inline_segments rewrites the in_segment operators of a rule
-- for flagd: {"in_segment": "s"} becomes {"$ref": "s"} when refs is not
-- NULL (the names used are added to refs), and inline JSON Logic
-- otherwise or when a key expression is given.
CREATE FUNCTION ff._flagd_inline_segments(node jsonb, environment text, INOUT refs text[],
                                          wrappers jsonb DEFAULT NULL, OUT rule jsonb)
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
            sub := ff._flagd_inline_segments(node -> i, environment, refs, wrappers);
            refs := sub.refs;
            parts := array_append(parts, sub.rule);
        END LOOP;
        rule := to_jsonb(parts);
        RETURN;
    END IF;
    IF node ? 'in_segment' AND (SELECT count(*) FROM jsonb_object_keys(node)) = 1 THEN
        args := node -> 'in_segment';
        IF jsonb_typeof(args) = 'array' AND jsonb_array_length(args) >= 2 THEN
            sub := ff._flagd_inline_segments(args -> 1, environment, refs, wrappers);
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
            -- (1.25) what the $evaluators entry leaves out, in the flag: the
            -- rule where the entry (its lists alone) is undecided, and the
            -- keys that flagd's substitution would change in front
            IF wrappers -> op ? 'rule' THEN
                rule := jsonb_build_object('if', jsonb_build_array(
                            jsonb_build_object('===', jsonb_build_array(rule, NULL::jsonb)),
                            wrappers -> op -> 'rule', rule));
            END IF;
            IF wrappers -> op ? 'tests' THEN
                rule := jsonb_build_object('if', (wrappers -> op -> 'tests') || jsonb_build_array(rule));
            END IF;
        END IF;
        RETURN;
    END IF;
    result := '{}';
    FOR m IN SELECT e.key, e.value FROM jsonb_each(node) AS e LOOP
        sub := ff._flagd_inline_segments(m.value, environment, refs, wrappers);
        refs := sub.refs;
        result := result || jsonb_build_object(m.key, sub.rule);
    END LOOP;
    rule := result;
END;
$$;

COMMENT ON FUNCTION ff._flagd_inline_segments(jsonb, text, text[], jsonb) IS
'Internal: rewrites in_segment operators as flagd $ref references (or inline JSON Logic) for ff.export_flagd; wrappers (1.25): per segment, the key tests and the rule its $evaluators entry leaves out';

-- ff._without_null_members returns an object without its members whose
-- value is JSON null (nested values are left as they are): metadata as
-- flagd's schema has it (string, number or boolean values) and as
-- evaluation reports it, which drops null members (1.18).
CREATE FUNCTION ff._without_null_members(obj jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(obj) <> 'object' THEN obj
                ELSE (SELECT coalesce(pg_catalog.jsonb_object_agg(m.key, m.value), '{}')
                        FROM pg_catalog.jsonb_each(obj) AS m
                       WHERE pg_catalog.jsonb_typeof(m.value) <> 'null') END
$$;

COMMENT ON FUNCTION ff._without_null_members(jsonb) IS
'Internal: an object without its members whose value is JSON null (metadata as flagd''s schema and evaluation have it) (1.18)';

-- ff.export_flagd returns an environment as a flagd flag-definition
-- document.
CREATE FUNCTION ff.export_flagd(environment text DEFAULT NULL)
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
    unsafe      text[];
    split       text[] := '{}';
    fresh       text[];
    wrappers    jsonb;
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
    -- (1.20: in variants too, which flagd also resolves; 1.25: and in the
    -- flags' and the environment's metadata, whose text flagd substitutes
    -- as well)
    dangling := ARRAY(SELECT DISTINCT r #>> '{}'
                        FROM ff.flags AS f,
                             jsonb_path_query(jsonb_build_array(f.targeting, f.variants, f.metadata), 'lax $.**."$ref"') AS r
                       WHERE f.environment = env AND jsonb_typeof(r) = 'string'
                      UNION
                      SELECT r #>> '{}'
                        FROM ff.environments AS e,
                             jsonb_path_query(e.metadata, 'lax $.**."$ref"') AS r
                       WHERE e.name = env AND jsonb_typeof(r) = 'string');
    -- (1.25) flagd puts $evaluators into the document by text substitution:
    -- each entry's name is a regular expression there ("beta.1" also
    -- replaces {"$ref": "beta-1"}), and its logic a replacement text, in
    -- which flagd Go expands $name ("$flagd.timestamp" became ".timestamp")
    -- and flagd Java also \.  The keys of a segment that such text would
    -- hold (ff._flagd_unsafe_key_pattern) are tested in the flags, in front
    -- of the {"$ref"} (wrappers, ff._flagd_inline_segments), and its entry
    -- has the others.  A segment whose entry still has a "$" or a "\" (its
    -- rule, or a segment it references) keeps its lists in its entry, which
    -- ends in null, and its rule goes to the flags (split; the lists can be
    -- large, the rule is not).  A segment whose name has a "." (a regular expression in
    -- flagd), or whose rule is all it has, is not emitted as an evaluator:
    -- the flags that use it get their segments inline, as for a dangling
    -- name.  Both are found from the evaluators of a first pass.
    SELECT jsonb_object_agg(u.segment, jsonb_build_object('tests',
               ff._segment_key_tests('{"var": "targetingKey"}', u.exc, u.inc)))
      INTO wrappers
      FROM (SELECT k.segment,
                   jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE k.excluded) AS exc,
                   jsonb_agg(k.targeting_key ORDER BY k.targeting_key) FILTER (WHERE NOT k.excluded) AS inc
              FROM ff.segment_keys AS k
             WHERE k.environment = env AND k.targeting_key ~ ff._flagd_unsafe_key_pattern()
             GROUP BY k.segment) AS u;
    <<passes>>
    LOOP
        refs := '{}';
        keys := '{}';
        objs := '{}';
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
                sub := ff._flagd_inline_segments(fl.targeting, env, refs, wrappers);
                refs := sub.refs;
                obj := obj || jsonb_build_object('targeting', sub.rule);
            END IF;
            -- (1.18) without null members, which flagd's schema does not allow
            -- and evaluation drops (they were exported, and a flagd SDK then
            -- reported them)
            IF ff._without_null_members(fl.metadata) <> '{}'::jsonb THEN
                obj := obj || jsonb_build_object('metadata', ff._without_null_members(fl.metadata));
            END IF;
            -- appended in place, and made one object at the end (1.11: a jsonb
            -- grown flag by flag was copied for every flag, quadratic)
            keys := array_append(keys, fl.key);
            objs := array_append(objs, obj);
        END LOOP;
        -- (1.20) json_object_agg, cast once: jsonb_object_agg takes time
        -- quadratic in the size of a large value, and a 1,000,000-key segment's
        -- logic made the export take 75 s
        SELECT COALESCE(json_object_agg(k, o)::jsonb, '{}') INTO flags FROM unnest(keys, objs) AS u(k, o);
        SELECT json_object_agg(r.name, ff._segment_as_jsonlogic(env, r.name, '{"var": "targetingKey"}',
                                                                 flagd_safe_keys => true,
                                                                 rule => NOT r.name = ANY (split)))::jsonb
          INTO evaluators FROM unnest(refs) AS r(name);
        unsafe := ARRAY(SELECT e.key FROM jsonb_each(evaluators) AS e
                         WHERE strpos(e.key, '.') > 0 OR e.value::text ~ '[$\\]');
        EXIT passes WHEN unsafe = '{}';
        -- split: an unsafe rule, a name without "." and keys for the entry
        -- (once: a split entry found unsafe again goes inline)
        fresh := ARRAY(
            SELECT u.name FROM unnest(unsafe) AS u(name)
             WHERE strpos(u.name, '.') = 0 AND NOT u.name = ANY (split)
               AND EXISTS (SELECT 1 FROM ff.segment_keys AS k
                            WHERE k.environment = env AND k.segment = u.name
                              AND k.targeting_key !~ ff._flagd_unsafe_key_pattern()));
        dangling := dangling || ARRAY(SELECT u.name FROM unnest(unsafe) AS u(name) WHERE NOT u.name = ANY (fresh));
        split := split || fresh;
        wrappers := COALESCE(wrappers, '{}') || COALESCE((
            SELECT jsonb_object_agg(u.name, COALESCE(wrappers -> u.name, '{}')
                       || jsonb_build_object('rule', ff._segment_as_jsonlogic(env, u.name, '{"var": "targetingKey"}',
                                                                              lists => false)))
              FROM unnest(fresh) AS u(name)), '{}');
    END LOOP;
    obj := jsonb_build_object('$schema', 'https://flagd.dev/schema/v0/flags.json',
                              'metadata', (SELECT ff._without_null_members(e.metadata)
                                             FROM ff.environments AS e WHERE e.name = env),
                              'flags', flags);
    IF evaluators IS NOT NULL THEN
        obj := obj || jsonb_build_object('$evaluators', evaluators);
    END IF;
    RETURN obj;
END;
$$;

COMMENT ON FUNCTION ff.export_flagd(text) IS
'Returns an environment as a flagd flag-definition document ($schema, metadata, flags); segments used by flags are emitted as $evaluators entries of plain JSON Logic';

REVOKE ALL ON FUNCTION ff.import_flagd(jsonb, text, boolean) FROM PUBLIC;
-- ---------------------------------------------------------------------
-- History: public functions, readable views, rollback, and the recording
-- triggers (src/sql/080_history_views.sql)
--
-- The recording triggers are created last in the install script, so the
-- rows the install script itself writes (the default environment) are the
-- baseline of an empty history rather than versions.
-- ---------------------------------------------------------------------

-- ---- reading the history

-- ff.current_version: the latest configuration version visible to this transaction (0 when nothing
--   was ever changed)
CREATE FUNCTION ff.current_version()
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.max(v.version), 0) FROM ff.versions AS v
$$;
COMMENT ON FUNCTION ff.current_version() IS
    'The latest configuration version visible to this transaction (0 when nothing was ever changed)';

-- ff.changes_since: every version after since_version, in version order; a poller that remembers
--   the last version it saw never misses one
CREATE FUNCTION ff.changes_since(since_version bigint)
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
REVOKE ALL ON FUNCTION ff.changes_since(bigint) FROM PUBLIC;

-- ff.verify_history: recomputes the hash chain of ff.versions; names the first broken version
--   (gap, altered row, or broken link)
CREATE FUNCTION ff.verify_history(OUT ok boolean, OUT checked bigint,
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
REVOKE ALL ON FUNCTION ff.verify_history() FROM PUBLIC;

-- ---- comments

-- ff.comment_change: sets the comment recorded with the changes that follow in the current
--   transaction (like SET LOCAL ff.change_comment)
-- (1.25: in C, src/ff_history.c, which warns outside a transaction block:
-- a comment set alone in autocommit reached no change)
CREATE FUNCTION ff.comment_change(comment text)
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_comment_change';
COMMENT ON FUNCTION ff.comment_change(text) IS
    'Sets the comment recorded with the changes that follow in the current transaction (like SET LOCAL ff.change_comment)';

-- ---- readable views

-- ff._history_short: a JSON scalar as display text (strings unquoted)
CREATE FUNCTION ff._history_short(value jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN value IS NULL THEN 'null'
                WHEN pg_catalog.jsonb_typeof(value) = 'string' THEN value #>> '{}'
                ELSE value::text END
$$;
COMMENT ON FUNCTION ff._history_short(jsonb) IS 'Internal: a JSON scalar as display text (strings unquoted)';

-- ff._history_diff: {"field": {"old": ..., "new": ...}} for every changed top-level field (version
--   and updated_at left out); the delta for KEYS
CREATE FUNCTION ff._history_diff(operation text, before jsonb, after jsonb, delta jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN operation = 'KEYS' THEN delta
    -- (1.20) json_object_agg, cast once: jsonb_object_agg takes time
    -- quadratic in the size of a large value (a rule with a 1,000,000-element
    -- list: a minute, without checking for interrupts)
    ELSE (SELECT coalesce(
                     pg_catalog.json_object_agg(k.key, pg_catalog.jsonb_build_object(
                         'old', before -> k.key, 'new', after -> k.key))::jsonb,
                     '{}')
            FROM (SELECT pg_catalog.jsonb_object_keys(coalesce(before, '{}'))
                  UNION
                  SELECT pg_catalog.jsonb_object_keys(coalesce(after, '{}'))) AS k (key)
           WHERE k.key NOT IN ('version', 'updated_at')
             -- (1.18) a field absent on one side (a created or deleted row)
             -- counts as null: a null field is not listed as changed
             AND coalesce(before -> k.key, 'null') IS DISTINCT FROM coalesce(after -> k.key, 'null'))
    END
$$;
COMMENT ON FUNCTION ff._history_diff(text, jsonb, jsonb, jsonb) IS
    'Internal: {"field": {"old": ..., "new": ...}} for every changed top-level field (version and updated_at left out; a field absent on one side counts as null, 1.18); the delta for KEYS';

-- ff._history_fields_summary: the changed fields of a diff as one line, e.g. "state: ENABLED ->
--   DISABLED; targeting changed" (fields in alphabetical order), each followed by suffix; NULL for
--   an empty diff (the arrow it writes is U+2192, given by its UTF-8 bytes: the install script is
--   ASCII; a database neither UTF-8 nor SQL_ASCII, which only an update from 1.9 or earlier has,
--   gets "->")
CREATE FUNCTION ff._history_fields_summary(diff jsonb, suffix text DEFAULT '')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.string_agg(
               CASE WHEN coalesce(pg_catalog.jsonb_typeof(d.value -> 'old'), 'null') NOT IN ('object', 'array')
                     AND coalesce(pg_catalog.jsonb_typeof(d.value -> 'new'), 'null') NOT IN ('object', 'array')
                     AND pg_catalog.length(ff._history_short(d.value -> 'old')) <= 40
                     AND pg_catalog.length(ff._history_short(d.value -> 'new')) <= 40
                    THEN pg_catalog.format('%s: %s %s %s', d.key, ff._history_short(d.value -> 'old'),
                                           CASE WHEN pg_catalog.getdatabaseencoding() IN ('UTF8', 'SQL_ASCII')
                                                THEN pg_catalog.convert_from('\xe28692', 'UTF8') ELSE '->' END,
                                           ff._history_short(d.value -> 'new'))
                    ELSE d.key || ' changed' END || suffix,
               '; ' ORDER BY d.key)
      FROM pg_catalog.jsonb_each(diff) AS d
$$;
COMMENT ON FUNCTION ff._history_fields_summary(jsonb, text) IS
    'Internal: the changed fields of a diff as one line, e.g. "state: ENABLED -> DISABLED" (with an arrow, U+2192, where the encoding has one), each followed by a suffix; NULL for an empty diff (1.18)';

-- ff._history_summary: one line describing a version, e.g. "state: ENABLED -> DISABLED"; an
--   UPDATE of a row that drifted from its history (1.18: its delta holds the history's last image
--   of it) first lists the unrecorded changes it found, e.g. "state: ENABLED -> DISABLED
--   (unrecorded)"
CREATE FUNCTION ff._history_summary(operation text, before jsonb, after jsonb, delta jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE operation
        WHEN 'INSERT' THEN 'created'
        WHEN 'DELETE' THEN pg_catalog.concat_ws('; ', u.unrecorded, 'deleted')
        WHEN 'KEYS' THEN
            CASE WHEN delta ? 'cleared'
                 THEN pg_catalog.format('keys: all %s removed', delta ->> 'removed_count')
                 ELSE 'keys: ' || pg_catalog.concat_ws(', ',
                     '+' || pg_catalog.jsonb_array_length(delta -> 'include') || ' included',
                     '+' || pg_catalog.jsonb_array_length(delta -> 'exclude') || ' excluded',
                     '-' || pg_catalog.jsonb_array_length(delta -> 'remove') || ' removed')
            END
        ELSE coalesce(nullif(pg_catalog.concat_ws('; ', u.unrecorded,
                 ff._history_fields_summary(ff._history_diff(operation, before, after, delta))), ''),
                 'no visible change')
    END
      -- the change a drifted row carried without being recorded (1.18)
      FROM (SELECT CASE WHEN operation IN ('UPDATE', 'DELETE') AND delta ? 'recorded'
                        THEN ff._history_fields_summary(
                                 ff._history_diff('UPDATE', delta -> 'recorded', before, NULL), ' (unrecorded)')
                   END AS unrecorded) AS u
$$;
COMMENT ON FUNCTION ff._history_summary(text, jsonb, jsonb, jsonb) IS
    'Internal: one line describing a version, e.g. "state: ENABLED -> DISABLED" (with an arrow, U+2192, where the encoding has one); unrecorded changes found in a drifted row come first, marked "(unrecorded)"';

CREATE VIEW ff.history AS
SELECT v.version,
       v.change_set,
       v.changed_at,
       v.environment,
       v.entity,
       v.entity_key,
       v.operation,
       ff._history_summary(v.operation, v.before, v.after, v.delta) AS summary,
       ff._history_diff(v.operation, v.before, v.after, v.delta) AS diff,
       v.changed_by,
       v.application_name,
       v.comment
  FROM ff.versions AS v;
COMMENT ON VIEW ff.history IS 'The configuration history, one row per version, with a readable diff and summary (ORDER BY version yourself; 1.10 dropped the view''s own ORDER BY, which made "latest N" compute every summary)';
COMMENT ON COLUMN ff.history.version IS 'Configuration version';
COMMENT ON COLUMN ff.history.change_set IS 'First version of the transaction that wrote this version';
COMMENT ON COLUMN ff.history.changed_at IS 'Start time of the writing transaction';
COMMENT ON COLUMN ff.history.environment IS 'Environment of the changed entity';
COMMENT ON COLUMN ff.history.entity IS 'environment, flag or segment';
COMMENT ON COLUMN ff.history.entity_key IS 'Flag key, segment name or environment name';
COMMENT ON COLUMN ff.history.operation IS 'INSERT, UPDATE, DELETE, or KEYS (segment key list change)';
COMMENT ON COLUMN ff.history.summary IS 'One-line description: created, deleted, "field: old -> new; ..." (with an arrow, U+2192), "keys: +n included, ..."';
COMMENT ON COLUMN ff.history.diff IS '{"field": {"old": ..., "new": ...}} for the changed fields (version and updated_at left out); for KEYS the key delta';
COMMENT ON COLUMN ff.history.changed_by IS 'Role that made the change';
COMMENT ON COLUMN ff.history.application_name IS 'application_name of the connection that made the change';
COMMENT ON COLUMN ff.history.comment IS 'Change comment of the transaction';
REVOKE ALL ON ff.history FROM PUBLIC;

-- ff.change_sets: one row per change-set.  The versions of a change-set are
-- consecutive (writers hold the writer lock until commit) and change_set is
-- the first of them, so each change-set is its first version plus the run
-- after it (1.10): "latest N" walks the primary key backwards and a lookup
-- by change_set is a key lookup.  1.9 grouped and sorted the whole history.
CREATE VIEW ff.change_sets AS
SELECT f.version AS change_set,
       c.last_version,
       c.changes,
       c.changed_at,
       c.changed_by,
       c.comment,
       c.environments,
       c.entities
  FROM ff.versions AS f
 CROSS JOIN LATERAL (
    SELECT pg_catalog.max(v.version) AS last_version,
           pg_catalog.count(*) AS changes,
           pg_catalog.min(v.changed_at) AS changed_at,
           (pg_catalog.array_agg(v.changed_by ORDER BY v.version))[1] AS changed_by,
           (pg_catalog.array_agg(v.comment ORDER BY v.version) FILTER (WHERE v.comment IS NOT NULL))[1] AS comment,
           pg_catalog.array_agg(DISTINCT v.environment ORDER BY v.environment) AS environments,
           pg_catalog.array_agg(DISTINCT v.entity || ':' || v.entity_key ORDER BY v.entity || ':' || v.entity_key) AS entities
      FROM ff.versions AS v
     WHERE v.version >= f.version
       AND v.version < COALESCE((SELECT n.version FROM ff.versions AS n
                                  WHERE n.version > f.version AND n.change_set <> f.version
                                  ORDER BY n.version LIMIT 1), 9223372036854775807)
       AND v.change_set = f.version) AS c
 WHERE f.change_set = f.version;
COMMENT ON VIEW ff.change_sets IS 'One row per committed transaction that changed the configuration (an atomic change-set)';
COMMENT ON COLUMN ff.change_sets.change_set IS 'First version of the change-set';
COMMENT ON COLUMN ff.change_sets.last_version IS 'Last version of the change-set';
COMMENT ON COLUMN ff.change_sets.changes IS 'Number of versions in the change-set';
COMMENT ON COLUMN ff.change_sets.changed_at IS 'Start time of the transaction';
COMMENT ON COLUMN ff.change_sets.changed_by IS 'Role that made the changes (that of the first version, if it changed within the transaction)';
COMMENT ON COLUMN ff.change_sets.comment IS 'Change comment (the first one recorded, if it changed within the transaction)';
COMMENT ON COLUMN ff.change_sets.environments IS 'Environments touched';
COMMENT ON COLUMN ff.change_sets.entities IS 'Changed entities as entity:key';
REVOKE ALL ON ff.change_sets FROM PUBLIC;

-- ---- the writer lock

-- ff.writer_lock: who holds the history writer lock and who waits for it (1.5: a heavyweight
--   lock, src/ff_history.c; until 1.4 ff.history_lock.holder named the last holder)
CREATE VIEW ff.writer_lock WITH (security_invoker = true) AS
SELECT l.granted AS holds_lock,
       l.pid,
       l.virtualtransaction,
       a.usename AS session_user_name,
       a.application_name,
       a.client_addr,
       a.xact_start,
       l.waitstart AS waiting_since,
       a.state,
       a.query
  FROM pg_catalog.pg_locks AS l
  LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
 WHERE l.locktype = 'object'
   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d
                      WHERE d.datname = pg_catalog.current_database())
   AND l.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
   AND l.objid = 'ff.versions'::pg_catalog.regclass
   AND l.objsubid = 0
 ORDER BY l.granted DESC, l.waitstart;
COMMENT ON VIEW ff.writer_lock IS 'The transaction that holds the history writer lock (every configuration write takes it until commit) and those waiting for it';
COMMENT ON COLUMN ff.writer_lock.holds_lock IS 'true for the holder, false for a waiter';
COMMENT ON COLUMN ff.writer_lock.pid IS 'Backend process id (NULL for a prepared transaction)';
COMMENT ON COLUMN ff.writer_lock.virtualtransaction IS 'Virtual transaction id, as in pg_locks';
COMMENT ON COLUMN ff.writer_lock.session_user_name IS 'Session user of the backend (pg_stat_activity.usename)';
COMMENT ON COLUMN ff.writer_lock.application_name IS 'application_name of the backend';
COMMENT ON COLUMN ff.writer_lock.client_addr IS 'Client address of the backend';
COMMENT ON COLUMN ff.writer_lock.xact_start IS 'Start of the backend''s transaction';
COMMENT ON COLUMN ff.writer_lock.waiting_since IS 'When a waiter started waiting (NULL for the holder)';
COMMENT ON COLUMN ff.writer_lock.state IS 'Backend state, e.g. idle in transaction for a holder that does not commit';
COMMENT ON COLUMN ff.writer_lock.query IS 'Last statement of the backend (visible as pg_stat_activity shows it to the caller)';
REVOKE ALL ON ff.writer_lock FROM PUBLIC;

-- ---- rollback

-- ff._history_environment: the environment argument, else ff.environment, else the default
--   environment
CREATE FUNCTION ff._history_environment(environment text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    resolved    text;
BEGIN
    resolved := coalesce(nullif(environment, ''),
                                    nullif(pg_catalog.current_setting('ff.environment', true), ''));
    IF resolved IS NULL THEN
        SELECT e.name INTO resolved FROM ff.environments AS e WHERE e.is_default;
    END IF;
    IF resolved IS NULL THEN
        RAISE EXCEPTION 'no environment given and there is no default environment'
            USING ERRCODE = 'undefined_object',
                  HINT = 'Pass environment => ''name'', SET ff.environment = ''name'', or make one the default with SELECT ff.set_default_environment(''name'');';
    END IF;
    RETURN resolved;
END;
$$;
COMMENT ON FUNCTION ff._history_environment(text) IS
    'Internal: the environment argument, else ff.environment, else the default environment';

-- ff._history_check_version: raises unless to_version is a recorded version
CREATE FUNCTION ff._history_check_version(to_version bigint)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur         bigint := ff.current_version();
BEGIN
    IF to_version IS NULL THEN
        RAISE EXCEPTION 'to_version must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions.';
    END IF;
    IF to_version < 1 OR to_version > cur THEN
        RAISE EXCEPTION 'version % does not exist', to_version
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN cur = 0 THEN 'The history is empty.'
                                ELSE pg_catalog.format('Recorded versions run from 1 to %s.', cur) END,
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions.';
    END IF;
END;
$$;
COMMENT ON FUNCTION ff._history_check_version(bigint) IS 'Internal: raises unless to_version is a recorded version';

-- ff._history_image_at: the row image of an entity as of a version (NULL: it did not exist then)
CREATE FUNCTION ff._history_image_at(entity text, environment text, entity_key text, at_version bigint)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN l.operation = 'DELETE' THEN NULL ELSE l.after END
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version <= $4
     ORDER BY l.version DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION ff._history_image_at(text, text, text, bigint) IS
    'Internal: the row image of an entity as of a version (NULL: it did not exist then)';

-- ff._history_segment_keys_of: the names of the segments an environment has had (1.10), each once,
--   for ff.rollback_environment to look each one up once: it looked up every version of them,
--   key list versions included, which was quadratic in the number of key list changes
CREATE FUNCTION ff._history_segment_keys_of(environment text)
RETURNS TABLE (entity_key text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT v.entity_key FROM ff.versions AS v
     WHERE v.entity = 'segment' AND v.environment = $1
$$;
COMMENT ON FUNCTION ff._history_segment_keys_of(text) IS
    'Internal: the names of the segments an environment has had, each once';

-- ff._history_keys_at: a segment's include/exclude key list as of a version, replayed from the
--   KEYS deltas
CREATE FUNCTION ff._history_keys_at(environment text, segment text, at_version bigint)
RETURNS TABLE (targeting_key text, excluded boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- since is materialized (1.10): inlined, it was computed again for every
    -- KEYS version, which was quadratic in the number of key list changes
    WITH since AS MATERIALIZED (
        SELECT coalesce(pg_catalog.max(l.version), 0) AS v
          FROM ff.versions AS l
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.version <= $3
           AND (l.operation = 'DELETE' OR (l.operation = 'KEYS' AND l.delta ? 'cleared'))),
    events AS (
        SELECT l.version, e.k, e.action
          FROM ff.versions AS l
          CROSS JOIN since
          CROSS JOIN LATERAL (
              SELECT x.k, 'include' AS action
                FROM pg_catalog.jsonb_array_elements_text(coalesce(l.delta -> 'include', '[]')) AS x (k)
              UNION ALL
              SELECT x.k, 'exclude'
                FROM pg_catalog.jsonb_array_elements_text(coalesce(l.delta -> 'exclude', '[]')) AS x (k)
              UNION ALL
              SELECT x.k, 'remove'
                FROM pg_catalog.jsonb_array_elements_text(coalesce(l.delta -> 'remove', '[]')) AS x (k)
          ) AS e
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.operation = 'KEYS' AND l.version > since.v AND l.version <= $3)
    SELECT last.k, last.action = 'exclude'
      FROM (SELECT DISTINCT ON (ev.k) ev.k, ev.action
              FROM events AS ev
             ORDER BY ev.k, ev.version DESC) AS last
     WHERE last.action <> 'remove'
$$;
COMMENT ON FUNCTION ff._history_keys_at(text, text, bigint) IS
    'Internal: a segment''s include/exclude key list as of a version, replayed from the KEYS deltas';

-- ff._history_restore: writes an entity (and a segment's key list) back to its state as of a
--   version; true if anything changed (1.11: only for a user who may roll the entity back)
CREATE FUNCTION ff._history_restore(entity text, environment text, entity_key text, at_version bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
SET ff.invalid_targeting = 'warning'
SET enable_nestloop = off
SET jit = off
AS $$
DECLARE
    target      jsonb;
    cur         jsonb;
    before_v    bigint := ff.current_version();
    -- the entity's row, by environment $1 and key $2
    row_where   constant text := CASE entity WHEN 'environment' THEN 't.name = $2'
                                             WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                             ELSE 't.environment = $1 AND t.name = $2' END;
BEGIN
    PERFORM ff._history_check_rollback(entity, 'ff._history_restore');
    target := ff._history_image_at(entity, environment, entity_key, at_version);
    EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t WHERE %s',
                              ff._history_table(entity),
                              row_where)
       INTO cur USING environment, entity_key;

    IF target IS NULL THEN
        IF cur IS NOT NULL THEN
            EXECUTE pg_catalog.format('DELETE FROM %s AS t WHERE %s',
                                      ff._history_table(entity),
                                      row_where)
               USING environment, entity_key;
        END IF;
    ELSIF cur IS NULL OR (cur - 'version' - 'updated_at') <> (target - 'version' - 'updated_at') THEN
        PERFORM ff._history_write_image(entity, target, false);
    ELSIF ff._history_drift_delta(entity, environment, entity_key, cur) IS NOT NULL THEN
        -- (1.18) the row is already the target, but only through a change
        -- its history does not record (it says something else now): touch
        -- it, so that the version records that change, marked unrecorded
        -- (1.17 said "nothing changed")
        EXECUTE pg_catalog.format('UPDATE %s AS t SET updated_at = pg_catalog.now() WHERE %s',
                                  ff._history_table(entity),
                                  row_where)
           USING environment, entity_key;
    END IF;

    IF entity = 'segment' AND target IS NOT NULL THEN
        -- (enable_nestloop is off for this function: right after a bulk load
        -- of keys, before statistics, the planner would otherwise rescan the
        -- replayed list once per key, quadratic under the writer lock; and
        -- jit is off (1.18): the nested loop that remains inside
        -- ff._history_keys_at then carries the planner's disable cost, which
        -- made every call JIT-compile for about a second, under the lock)
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
COMMENT ON FUNCTION ff._history_restore(text, text, text, bigint) IS
    'Internal: writes an entity (and a segment''s key list) back to its state as of a version; true if anything changed';

-- ff._history_with_comment: sets ff.change_comment for the transaction unless the caller already
--   did; returns what it set (or NULL)
CREATE FUNCTION ff._history_with_comment(auto_comment text)
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN coalesce(pg_catalog.current_setting('ff.change_comment', true), '') = ''
                THEN pg_catalog.set_config('ff.change_comment', auto_comment, true) END
$$;
COMMENT ON FUNCTION ff._history_with_comment(text) IS
    'Internal: sets ff.change_comment for the transaction unless the caller already did; returns what it set (or NULL)';

-- ff._history_rollback_entity: the body shared by rollback_flag and rollback_segment: writes a
--   flag or a segment (with its key list) back to its state as of to_version (deleting it if it did
--   not exist then) as new versions, commenting the change unless the caller already did (1.11:
--   only for a user who may run ff.rollback_flag or ff.rollback_segment, as the case may be)
CREATE FUNCTION ff._history_rollback_entity(entity text, key text, to_version bigint, environment text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- (1.25) an empty name is a name, which no environment has: 1.24 took
    -- it for "not given" and rolled back in the default environment
    env         text := CASE WHEN environment = '' THEN '' ELSE ff._history_environment(environment) END;
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
        -- (1.12) a mistyped environment is named as such, with a suggestion
        IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = env)
           AND NOT EXISTS (SELECT 1 FROM ff.versions AS v WHERE v.entity = 'environment' AND v.environment = env) THEN
            RAISE EXCEPTION 'environment "%" does not exist and has no history', ff._name_in_message(env)
                USING ERRCODE = 'undefined_object',
                      DETAIL = CASE WHEN environment IS NULL THEN 'The name comes from the ff.environment setting.'
                                    ELSE 'No environment of this name exists or existed.' END,
                      HINT = ff._perhaps_you_meant(env, ARRAY(
                                 SELECT e.name FROM ff.environments AS e
                                 UNION
                                 SELECT v.environment FROM ff.versions AS v WHERE v.entity = 'environment'))
                          || 'Check the environment; ff.history lists the recorded changes of each environment.';
        END IF;
        RAISE EXCEPTION '% "%" has no history in environment "%"', entity, ff._name_in_message(key), env
            USING ERRCODE = 'undefined_object',
                  HINT = ff._perhaps_you_meant(key, ARRAY(SELECT DISTINCT v.entity_key FROM ff.versions AS v
                                                           WHERE v.entity = _history_rollback_entity.entity
                                                             AND v.environment = env))
                      || pg_catalog.format('Check the %s %s and the environment; ff.history lists the recorded changes.',
                                           entity, CASE entity WHEN 'flag' THEN 'key' ELSE 'name' END);
    END IF;
    -- (1.23) the writer lock before ff._history_restore reads the row, the
    -- key list and the history (ff.rollback_environment takes it once for
    -- all its entities)
    PERFORM ff._history_lock_writer(entity);
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
COMMENT ON FUNCTION ff._history_rollback_entity(text, text, bigint, text) IS
    'Internal: the shared body of ff.rollback_flag and ff.rollback_segment (runs with the caller''s rights)';

-- ff.rollback_flag: writes a flag back to its state as of to_version (deleting it if it did not
--   exist then) as a new version; returns the current version
CREATE FUNCTION ff.rollback_flag(key text, to_version bigint, environment text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._history_rollback_entity('flag', key, to_version, environment) $$;
COMMENT ON FUNCTION ff.rollback_flag(text, bigint, text) IS
    'Writes a flag back to its state as of to_version (deleting it if it did not exist then) as a new version; returns the current version';
REVOKE ALL ON FUNCTION ff.rollback_flag(text, bigint, text) FROM PUBLIC;

-- ff.rollback_segment: writes a segment and its key list back to their state as of to_version
--   (deleting it if it did not exist then) as new versions; returns the current version
CREATE FUNCTION ff.rollback_segment(name text, to_version bigint, environment text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._history_rollback_entity('segment', name, to_version, environment) $$;
COMMENT ON FUNCTION ff.rollback_segment(text, bigint, text) IS
    'Writes a segment and its key list back to their state as of to_version (deleting it if it did not exist then) as new versions; returns the current version';
REVOKE ALL ON FUNCTION ff.rollback_segment(text, bigint, text) FROM PUBLIC;

-- ff._history_dependency_order orders names so that each comes after the
-- names it depends on (deps[i]: the comma-separated names names[i] depends
-- on; names outside the list do not count); names in a cycle, which a valid
-- configuration does not have, come in some order
CREATE FUNCTION ff._history_dependency_order(names text[], deps text[])
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    -- the level of a name: 0, or one more than that of a name it depends
    -- on (bounded: segment references nest at most 16 deep, and a cycle
    -- must not recurse for ever)
    WITH RECURSIVE nodes (n, k) AS (
        SELECT u.n, u.k FROM pg_catalog.unnest(names) WITH ORDINALITY AS u (n, k)
    ), edges (n, d) AS (
        SELECT DISTINCT a.n, d.n
          FROM nodes AS a
          JOIN pg_catalog.unnest(pg_catalog.string_to_array(deps[a.k], ',')) AS e (d) ON true
          JOIN nodes AS d ON d.n = e.d
         WHERE d.n <> a.n
    ), levels (n, lvl) AS (
        SELECT nodes.n, 0 FROM nodes
        UNION
        SELECT e.n, l.lvl + 1
          FROM edges AS e JOIN levels AS l ON l.n = e.d
         WHERE l.lvl < 64
    )
    SELECT COALESCE(pg_catalog.array_agg(o.n ORDER BY o.lvl, o.k), '{}')
      FROM (SELECT nodes.n, nodes.k, pg_catalog.max(l.lvl) AS lvl
              FROM nodes JOIN levels AS l ON l.n = nodes.n
             GROUP BY nodes.n, nodes.k) AS o
$$;
COMMENT ON FUNCTION ff._history_dependency_order(text[], text[]) IS
    'Internal: names ordered so that each follows the names it depends on (rollback order of segments)';

-- ff.rollback_environment: writes an environment, its segments and its flags back to their state
--   as of to_version, as one change-set of new versions; returns the current version
CREATE FUNCTION ff.rollback_environment(environment text, to_version bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    set_by_us   text;
    before_v    bigint := ff.current_version();
    has_history boolean;
    item        record;
    pending     text[];
    refs        text[];
    order_      text[];
    seg         text;
BEGIN
    IF environment IS NULL THEN
        RAISE EXCEPTION 'environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to roll back.';
    END IF;
    PERFORM ff._history_check_version(to_version);
    -- (1.23) the writer lock before the environment's flags and segments are
    -- listed: a flag created while this rollback waited is rolled back too
    PERFORM ff._history_lock_writer('environment');
    has_history := EXISTS (SELECT 1 FROM ff.versions AS v
                            WHERE v.entity = 'environment' AND v.environment = $1
                              AND v.entity_key = $1);
    IF NOT has_history AND NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = $1) THEN
        RAISE EXCEPTION 'environment "%" does not exist and has no history', ff._name_in_message(environment)
            USING ERRCODE = 'undefined_object',
                  HINT = ff._perhaps_you_meant(environment, ARRAY(
                             SELECT e.name FROM ff.environments AS e
                             UNION
                             SELECT v.environment FROM ff.versions AS v WHERE v.entity = 'environment'))
                      || 'Check the name; ff.history lists the recorded changes of each environment.';
    END IF;
    -- an environment created by the install script and never changed has
    -- no history: it existed all along
    IF has_history AND ff._history_image_at('environment', $1, $1, to_version) IS NULL THEN
        RAISE EXCEPTION 'environment "%" did not exist at version %', environment, to_version
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'To go back to a state without it, delete its flags, its segments and the environment.';
    END IF;
    set_by_us := ff._history_with_comment(pg_catalog.format(
        'rollback of environment "%s" to version %s', environment, to_version));
    IF has_history THEN
        PERFORM ff._history_restore('environment', environment, environment, to_version);
    END IF;

    -- segments that existed then, each after the segments its rule of then
    -- references; then every flag; then the segments that did not exist
    -- then, each before the segments its rule of now references (a valid
    -- state has no cycle: what is left of one is restored as it comes, and
    -- the validation names the problem)
    SELECT COALESCE(pg_catalog.array_agg(s.entity_key ORDER BY s.entity_key), '{}'),
           COALESCE(pg_catalog.array_agg(pg_catalog.array_to_string(
               COALESCE(ff._rule_segment_names(s.image->'rule', 'segment'), '{}'), ',')
               ORDER BY s.entity_key), '{}')
      INTO pending, refs
      FROM (SELECT k.entity_key, ff._history_image_at('segment', $1, k.entity_key, to_version) AS image
              FROM ff._history_segment_keys_of($1) AS k) AS s
     WHERE s.image IS NOT NULL;
    FOREACH seg IN ARRAY ff._history_dependency_order(pending, refs) LOOP
        PERFORM ff._history_restore('segment', environment, seg, to_version);
    END LOOP;
    FOR item IN
        SELECT DISTINCT v.entity_key FROM ff.versions AS v
         WHERE v.entity = 'flag' AND v.environment = $1
         ORDER BY 1
    LOOP
        PERFORM ff._history_restore('flag', environment, item.entity_key, to_version);
    END LOOP;
    SELECT COALESCE(pg_catalog.array_agg(s.entity_key ORDER BY s.entity_key), '{}'),
           COALESCE(pg_catalog.array_agg(pg_catalog.array_to_string(
               ff._segment_refs($1, s.entity_key), ',') ORDER BY s.entity_key), '{}')
      INTO pending, refs
      FROM ff._history_segment_keys_of($1) AS s
     WHERE ff._history_image_at('segment', $1, s.entity_key, to_version) IS NULL;
    -- deleted in the reverse order: whoever references a segment goes first
    order_ := ff._history_dependency_order(pending, refs);
    FOR i IN REVERSE COALESCE(pg_catalog.array_upper(order_, 1), 0) .. 1 LOOP
        PERFORM ff._history_restore('segment', environment, order_[i], to_version);
    END LOOP;

    IF ff.current_version() = before_v THEN
        RAISE NOTICE 'environment "%" is already as of version %: nothing changed', environment, to_version;
    END IF;
    IF set_by_us IS NOT NULL THEN
        PERFORM pg_catalog.set_config('ff.change_comment', '', true);
    END IF;
    RETURN ff.current_version();
END;
$$;
COMMENT ON FUNCTION ff.rollback_environment(text, bigint) IS
    'Writes an environment, its segments and its flags back to their state as of to_version, as one change-set of new versions; returns the current version';
REVOKE ALL ON FUNCTION ff.rollback_environment(text, bigint) FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Point-in-time evaluation (1.13): what a flag answered for a context at
-- a past version or time, from the history alone -- the flag's row image,
-- its environment's metadata, and the segments its rule uses (rules and
-- key lists) as they were then.
-- ---------------------------------------------------------------------

-- ff._history_state_at: the row image of an environment, flag or segment as of a version (NULL: it
--   did not exist then).  Unlike ff._history_image_at, it also knows the rows that were there
--   before their first recorded change -- the environment the installation creates, rows written
--   with the history triggers disabled: the first change after the version found them as its
--   before image, and a row never changed since is as it is now (1.13)
CREATE FUNCTION ff._history_state_at(entity text, environment text, entity_key text, at_version bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- (1.18) The generic plan PL/pgSQL switches to after five calls once walked
-- the primary key past a frequently changed entity's versions (90 ms a call
-- instead of 0.2 ms), and 1.18 planned every call anew for it (60-100 us a
-- call).  (1.20) The lookups are ordered by all the columns of
-- versions_entity_idx instead, an order only that index gives, so that
-- every plan reads it, and the plan is kept again.
AS $$
DECLARE
    op          text;
    image       jsonb;
BEGIN
    SELECT l.operation, l.after INTO op, image
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version <= $4
     ORDER BY l.entity DESC, l.environment DESC, l.entity_key DESC, l.version DESC
     LIMIT 1;
    IF FOUND THEN
        RETURN CASE WHEN op = 'DELETE' THEN NULL ELSE image END;
    END IF;
    SELECT l.operation, l.before INTO op, image
      FROM ff.versions AS l
     WHERE l.entity = $1 AND l.environment = $2 AND l.entity_key = $3
       AND l.operation <> 'KEYS' AND l.version > $4
     ORDER BY l.entity, l.environment, l.entity_key, l.version
     LIMIT 1;
    IF FOUND THEN
        RETURN CASE WHEN op = 'INSERT' THEN NULL ELSE image END;
    END IF;
    EXECUTE pg_catalog.format('SELECT pg_catalog.to_jsonb(t) FROM %s AS t WHERE %s',
                              ff._history_table(entity),
                              CASE entity WHEN 'environment' THEN 't.name = $2'
                                          WHEN 'flag' THEN 't.environment = $1 AND t.key = $2'
                                          ELSE 't.environment = $1 AND t.name = $2' END)
       INTO image USING environment, entity_key;
    RETURN image;
END;
$$;
COMMENT ON FUNCTION ff._history_state_at(text, text, text, bigint) IS
    'Internal: the row image of an entity as of a version (NULL: it did not exist then), also for rows that predate their first recorded change';

-- ff._history_key_at: whether a targeting key was on a segment's exclude list (true), its include
--   list (false) or neither (NULL) as of a version, from the KEYS deltas (1.13: one key of
--   ff._history_keys_at, for point-in-time evaluation)
CREATE FUNCTION ff._history_key_at(environment text, segment text, targeting_key text, at_version bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH since AS MATERIALIZED (
        SELECT coalesce(pg_catalog.max(l.version), 0) AS v
          FROM ff.versions AS l
         WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
           AND l.version <= $4
           AND (l.operation = 'DELETE' OR (l.operation = 'KEYS' AND l.delta ? 'cleared')))
    SELECT CASE WHEN l.delta -> 'include' ? $3 THEN false
                WHEN l.delta -> 'exclude' ? $3 THEN true END
      FROM ff.versions AS l
      CROSS JOIN since
     WHERE l.entity = 'segment' AND l.environment = $1 AND l.entity_key = $2
       AND l.operation = 'KEYS' AND l.version > since.v AND l.version <= $4
       AND (l.delta -> 'include' ? $3 OR l.delta -> 'exclude' ? $3 OR l.delta -> 'remove' ? $3)
     ORDER BY l.version DESC
     LIMIT 1
$$;
COMMENT ON FUNCTION ff._history_key_at(text, text, text, bigint) IS
    'Internal: whether a targeting key was on a segment''s exclude list (true), include list (false) or neither (NULL) as of a version';

-- ff._evaluate_image: evaluates a flag from the row images of the flag and its environment as of
--   a version, reading the segments it uses as of that version (C; the body of ff.evaluate_at and
--   ff.evaluate_at_version)
CREATE FUNCTION ff._evaluate_image(flag_key text, context jsonb, default_value jsonb, environment text,
                                   at_version bigint, at_time timestamptz, flag_image jsonb,
                                   environment_image jsonb)
RETURNS ff.evaluation_details
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'ff_evaluate_image';
COMMENT ON FUNCTION ff._evaluate_image(text, jsonb, jsonb, text, bigint, timestamptz, jsonb, jsonb) IS
    'Internal: evaluates a flag from its and its environment''s row images as of a version, with the segments as of that version';
REVOKE ALL ON FUNCTION ff._evaluate_image(text, jsonb, jsonb, text, bigint, timestamptz, jsonb, jsonb) FROM PUBLIC;

-- ff.version_at: the configuration version at a time: the last version whose transaction had
--   started by then (changed_at), 0 before the first
CREATE FUNCTION ff.version_at(at_time timestamptz)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- (1.18) planned for the time at hand: the generic plan walked the primary
-- key through the whole history for a recent time
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    found       bigint;
BEGIN
    IF at_time IS NULL THEN
        RAISE EXCEPTION 'at_time must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a time, for example SELECT ff.version_at(now() - interval ''1 day'');';
    END IF;
    -- (1.18) the versions are a prefix: the last one before the first
    -- version whose transaction started after at_time.  Versions are
    -- numbered in commit order, and a transaction that started earlier can
    -- commit later: 1.17 took the last version whose transaction had
    -- started by at_time, and with it every version before it, among them
    -- changes whose transactions started after at_time.  The index on
    -- changed_at reads only the versions after at_time.
    SELECT pg_catalog.min(v.version) - 1 INTO found
      FROM ff.versions AS v
     WHERE v.changed_at > at_time;
    IF found IS NULL THEN
        SELECT pg_catalog.max(v.version) INTO found FROM ff.versions AS v;
    END IF;
    RETURN coalesce(found, 0);
END;
$$;
COMMENT ON FUNCTION ff.version_at(timestamptz) IS
    'The configuration version at a time: the last version before the first one whose transaction started after it (changed_at), 0 before the first';
REVOKE ALL ON FUNCTION ff.version_at(timestamptz) FROM PUBLIC;

-- ff.evaluate_at_version: a flag's evaluation details for a context as of a version: the flag, its
--   environment's metadata and the segments it uses as they were then; $flagd.timestamp is now
CREATE FUNCTION ff.evaluate_at_version(flag_key text, context jsonb, at_version bigint,
                                       default_value jsonb DEFAULT NULL, environment text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
    cur         bigint := ff.current_version();
BEGIN
    IF at_version IS NULL THEN
        RAISE EXCEPTION 'at_version must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions; ff.evaluate_at takes a time instead.';
    END IF;
    IF at_version < 0 OR at_version > cur THEN
        RAISE EXCEPTION 'version % does not exist', at_version
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Versions run from 0 (before the first recorded change) to %s.', cur),
                  HINT = 'SELECT version, entity, entity_key, summary FROM ff.history lists the versions.';
    END IF;
    RETURN ff._evaluate_image(flag_key, context, default_value, env, at_version, NULL,
                              ff._history_state_at('flag', env, flag_key, at_version),
                              ff._history_state_at('environment', env, env, at_version));
END;
$$;
COMMENT ON FUNCTION ff.evaluate_at_version(text, jsonb, bigint, jsonb, text) IS
    'Evaluation details of a flag for a context as of a version of the history (the flag, its environment and its segments as they were then)';
REVOKE ALL ON FUNCTION ff.evaluate_at_version(text, jsonb, bigint, jsonb, text) FROM PUBLIC;

-- ff.evaluate_at: a flag's evaluation details for a context at a time: as of ff.version_at(at_time),
--   with $flagd.timestamp = at_time
CREATE FUNCTION ff.evaluate_at(flag_key text, context jsonb, at_time timestamptz,
                               default_value jsonb DEFAULT NULL, environment text DEFAULT NULL)
RETURNS ff.evaluation_details
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text := ff._history_environment(environment);
    v           bigint;
BEGIN
    IF at_time IS NULL THEN
        RAISE EXCEPTION 'at_time must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a time, for example now() - interval ''1 day''; ff.evaluate_at_version takes a version instead.';
    END IF;
    v := ff.version_at(at_time);
    RETURN ff._evaluate_image(flag_key, context, default_value, env, v, at_time,
                              ff._history_state_at('flag', env, flag_key, v),
                              ff._history_state_at('environment', env, env, v));
END;
$$;
COMMENT ON FUNCTION ff.evaluate_at(text, jsonb, timestamptz, jsonb, text) IS
    'Evaluation details of a flag for a context at a time (as of ff.version_at(at_time); $flagd.timestamp is at_time)';
REVOKE ALL ON FUNCTION ff.evaluate_at(text, jsonb, timestamptz, jsonb, text) FROM PUBLIC;


-- ---------------------------------------------------------------------
-- The recording triggers.  Named ff_90_* so that they run after the
-- validation triggers (ff_10_validate_*): BEFORE ROW triggers of a table
-- fire in name order, and the row they stamp and record is final.
-- ---------------------------------------------------------------------

CREATE TRIGGER ff_90_history
    BEFORE INSERT OR UPDATE OR DELETE ON ff.environments
    FOR EACH ROW EXECUTE FUNCTION ff._history_row_trigger('environment');
CREATE TRIGGER ff_90_history
    BEFORE INSERT OR UPDATE OR DELETE ON ff.flags
    FOR EACH ROW EXECUTE FUNCTION ff._history_row_trigger('flag');
CREATE TRIGGER ff_90_history
    BEFORE INSERT OR UPDATE OR DELETE ON ff.segments
    FOR EACH ROW EXECUTE FUNCTION ff._history_row_trigger('segment');

CREATE TRIGGER ff_90_history_truncate
    BEFORE TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_truncate_trigger('environment');
CREATE TRIGGER ff_90_history_truncate
    BEFORE TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_truncate_trigger('flag');
CREATE TRIGGER ff_90_history_truncate
    BEFORE TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_truncate_trigger('segment');

CREATE TRIGGER ff_90_history_keys_insert
    AFTER INSERT ON ff.segment_keys
    REFERENCING NEW TABLE AS ff_new_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_keys_insert_trigger();
CREATE TRIGGER ff_90_history_keys_update
    AFTER UPDATE ON ff.segment_keys
    REFERENCING OLD TABLE AS ff_old_keys NEW TABLE AS ff_new_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_keys_update_trigger();
CREATE TRIGGER ff_90_history_keys_delete
    AFTER DELETE ON ff.segment_keys
    REFERENCING OLD TABLE AS ff_old_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_keys_delete_trigger();
CREATE TRIGGER ff_90_history_keys_truncate
    BEFORE TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_keys_truncate_trigger();

-- ---------------------------------------------------------------------
-- pg_dump registration (here, at the end of the install script, so that
-- these calls are the ones in force).  Restored rows do not duplicate
-- history: the recording triggers recognise rows that are exactly what the
-- restored history says (see 020_history.sql).  Environment rows never
-- written since installation (version IS NULL: the default environment
-- created by the install script) are re-created by CREATE EXTENSION and are
-- not dumped.
-- ---------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('ff.versions', '');
SELECT pg_catalog.pg_extension_config_dump('ff.environments', 'WHERE version IS NOT NULL');
SELECT pg_catalog.pg_extension_config_dump('ff.flags', '');
SELECT pg_catalog.pg_extension_config_dump('ff.segments', '');
SELECT pg_catalog.pg_extension_config_dump('ff.segment_keys', '');
-- never holds rows; registered so that every ff table is accounted for,
-- with nothing to dump
SELECT pg_catalog.pg_extension_config_dump('ff._cache_signal', 'WHERE false');
SELECT pg_catalog.pg_extension_config_dump('ff._cache_signal_keys', 'WHERE false');
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
-- string, without the semicolons and empty statements around it (C;
-- STABLE: where a string literal ends depends on standard_conforming_strings).
CREATE FUNCTION ff._single_statement(query text)
RETURNS text
LANGUAGE C STABLE STRICT PARALLEL SAFE
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

-- ff._experiment_moments aggregates a variant's outcomes and covariates
-- (C, src/ff_experiment.c): units, and the sums of the values' differences
-- from the first value seen, and of their squares and products.  1.23 used
-- avg, var_samp and covar_samp, which add the values themselves: with a
-- large common offset (1e10 plus a fraction, a million units) the running
-- sums lost the fractions, and equal arms looked significant (1.24).  The
-- state is a float8[] (units, outcome shift, sum, sum of squares, units
-- with a covariate, its shift, sum, sum of squares, sum of products), read
-- by ff._experiment_results; the combine function lets it run in parallel.
CREATE FUNCTION ff._experiment_moments_accum(state double precision[], outcome double precision,
                                             covariate double precision)
RETURNS double precision[]
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_experiment_moments_accum';

COMMENT ON FUNCTION ff._experiment_moments_accum(double precision[], double precision, double precision) IS
'Internal: transition function of ff._experiment_moments (1.24)';

CREATE FUNCTION ff._experiment_moments_combine(a double precision[], b double precision[])
RETURNS double precision[]
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ff_experiment_moments_combine';

COMMENT ON FUNCTION ff._experiment_moments_combine(double precision[], double precision[]) IS
'Internal: combine function of ff._experiment_moments (1.24)';

CREATE AGGREGATE ff._experiment_moments(double precision, double precision) (
    SFUNC = ff._experiment_moments_accum,
    STYPE = double precision[],
    COMBINEFUNC = ff._experiment_moments_combine,
    INITCOND = '{0,0,0,0,0,0,0,0,0}',
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE ff._experiment_moments(double precision, double precision) IS
'Internal: the shifted sums of a variant''s outcomes and covariates for ff.experiment_results (1.24)';

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
LANGUAGE sql IMMUTABLE PARALLEL SAFE
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
    m           double precision[];
    totals      double precision[];
    means       double precision[];
    variances   double precision[];
    x_means     double precision[];
    x_variances double precision[];
    covariances double precision[];
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
               pg_catalog.array_agg(s.m ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS moments,
               pg_catalog.array_agg(s.y_min ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS y_mins,
               pg_catalog.array_agg(s.y_max ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS y_maxs,
               pg_catalog.array_agg(s.x_min ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_mins,
               pg_catalog.array_agg(s.x_max ORDER BY s.variant) FILTER (WHERE s.variant IS NOT NULL) AS x_maxs
          FROM (SELECT r.variant, pg_catalog.count(*) AS n, ff._experiment_moments(r.y, r.x) AS m,
                       pg_catalog.min(r.y) AS y_min, pg_catalog.max(r.y) AS y_max,
                       pg_catalog.min(r.x) AS x_min, pg_catalog.max(r.x) AS x_max
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
        RAISE EXCEPTION 'the control variant % has no units in the query''s result', to_jsonb(ff._name_in_message(control))
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN seen IS NULL THEN 'The query returned no row with a variant.'
                                ELSE format('The variants in the result are %s%s.', seen,
                                            CASE WHEN cardinality(a.variants) > 20
                                                 THEN format(' and %s more', cardinality(a.variants) - 20) ELSE '' END) END,
                  HINT = 'Name the variant the others are compared with, as the query returns it (control => ''off'').';
    END IF;
    -- a NaN or an infinity makes every figure NaN: refused, not reported
    -- (max() sorts NaN above every number)
    IF EXISTS (SELECT FROM unnest(a.y_mins || a.y_maxs || a.x_mins || a.x_maxs) AS v
                WHERE v = 'NaN'::double precision OR abs(v) = 'Infinity'::double precision) THEN
        RAISE EXCEPTION 'the outcome or covariate of an experiment is NaN or infinite for some units'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave those units out of the query (WHERE outcome <> ''NaN'' AND abs(outcome) < ''Infinity''), or fix the data.';
    END IF;
    -- (1.24) and so are magnitudes whose squares and products leave double
    -- precision (an underflow error, or a variance that underflows to 0
    -- and makes any difference significant)
    SELECT v.what INTO seen
      FROM (SELECT greatest(abs(u.lo), abs(u.hi)) AS m, 'outcome' AS what FROM unnest(a.y_mins, a.y_maxs) AS u (lo, hi)
            UNION ALL
            SELECT greatest(abs(u.lo), abs(u.hi)), 'covariate' FROM unnest(a.x_mins, a.x_maxs) AS u (lo, hi)) AS v
     WHERE v.m > 0 AND NOT v.m BETWEEN 1e-100 AND 1e100
     LIMIT 1;
    IF seen IS NOT NULL THEN
        RAISE EXCEPTION 'the % of an experiment is too small or too large to be analysed in double precision', seen
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The largest value of some variant is outside 1e-100 to 1e100 in size.',
                  HINT = 'Rescale it in the query (for example revenue in thousands, or a rate per million).';
    END IF;

    -- each variant's figures from its shifted sums (ff._experiment_moments:
    -- units, shift, sum, sum of squares, and the same for the covariate,
    -- and the sum of products), here, with the pinned search_path; a
    -- variance of one unit is NULL, as var_samp's.  An outcome that is the
    -- same for every unit (9.99) has sums of 0: its mean is that value and
    -- its variance 0 exactly (1.23's avg() gave two such arms means that
    -- differed in their last digits, a variance of about 1e-30 and p = 0).
    FOR i IN 1 .. cardinality(a.variants) LOOP
        m := ARRAY(SELECT unnest(a.moments[i:i][1:9]));
        totals[i] := m[2] * m[1] + m[3];
        means[i] := m[2] + m[3] / m[1];
        variances[i] := CASE WHEN m[1] > 1 THEN greatest(m[4] - m[3] * m[3] / m[1], 0) / (m[1] - 1) END;
        x_means[i] := CASE WHEN m[5] > 0 THEN m[6] + m[7] / m[5] END;
        x_variances[i] := CASE WHEN m[5] > 1 THEN greatest(m[8] - m[7] * m[7] / m[5], 0) / (m[5] - 1) END;
        covariances[i] := CASE WHEN m[5] > 1 THEN (m[9] - m[3] * m[7] / m[5]) / (m[5] - 1) END;
    END LOOP;

    -- (1.24) one variant: nothing to compare, and a split that went wrong
    -- (every unit got the caller's default) would pass unseen
    IF cardinality(a.variants) = 1 AND expected_split IS NULL THEN
        RAISE WARNING 'the query''s result has only the control variant %: nothing to compare', to_jsonb(control)
            USING DETAIL = format('All %s units are in it.', a.units[1]),
                  HINT = 'If the flag''s variants are not strings, ff.get_string returns its default for every unit (TYPE_MISMATCH); (ff.evaluate(...)).variant names the variant whatever its value''s type. Give expected_split to test the split.';
    END IF;

    -- (1.24) within that range, a variant's outcome and covariate can
    -- still be too far apart in scale (a covariate in 1e-90s with an
    -- outcome in 1e90s): said so, not a bare "value out of range"
    BEGIN
        RETURN QUERY
        SELECT * FROM ff._experiment_statistics(control, a.variants, a.units, totals, means, variances,
                                                x_means, x_variances, covariances,
                                                expected_split, confidence);
    EXCEPTION WHEN numeric_value_out_of_range THEN
        RAISE EXCEPTION 'the figures of an experiment leave the range of double precision'
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('%s.', SQLERRM),
                  HINT = 'Rescale the outcome or the covariate in the query so that both are of a moderate size (for example revenue in thousands, or a rate per million).';
    END;
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
-- ---------------------------------------------------------------------
-- Scheduled changes (1.14): a draft of a flag saved at a given time, by a
-- runner -- a pg_cron job, or anyone calling ff.run_scheduled_changes() --
-- with the privileges of the role that scheduled it.
--
--   ff.schedule_change(flag_key, draft, run_at, environment, comment)
--   ff.schedule_rollout(flag_key, percentages, start_at, step, ...)
--   ff.cancel_scheduled_change(id)
--   ff.run_scheduled_changes(max_changes)
--
-- The draft is the one ff.evaluate_draft previews and ff.apply_draft
-- saves.  A scheduled change is checked when it is scheduled (the draft,
-- the scheduler's right to make the change now), and applied as its
-- creator: the runner switches to that role for the write (C, src/
-- ff_schedule.c), so a protected environment, revoked privileges or a
-- dropped role stop it, and the history records the creator as the role
-- that made the change and the runner's session user beside it.  Each
-- change is applied in a subtransaction: one that fails is marked failed
-- with its error, and the others go on.  Rows of ff.scheduled_changes are
-- immutable but for the status: pending, then applied, failed or
-- cancelled, once.
-- ---------------------------------------------------------------------

CREATE TABLE ff.scheduled_changes (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment     text        NOT NULL,
    flag_key        text        NOT NULL,
    draft           jsonb       NOT NULL,
    run_at          timestamptz NOT NULL,
    comment         text,
    created_by      name        NOT NULL DEFAULT CURRENT_USER,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    status          text        NOT NULL DEFAULT 'pending',
    finished_at     timestamptz,
    finished_by     name,
    version         bigint,
    error           text,
    CONSTRAINT scheduled_changes_status_check
        CHECK (status IN ('pending', 'applied', 'failed', 'cancelled')),
    CONSTRAINT scheduled_changes_finished_check
        CHECK ((status = 'pending') = (finished_at IS NULL))
);
-- the runner's question: the pending changes that are due, oldest first
CREATE INDEX scheduled_changes_pending ON ff.scheduled_changes (run_at, id) WHERE status = 'pending';

COMMENT ON TABLE ff.scheduled_changes IS
    'Scheduled changes: drafts of flags saved at run_at by ff.run_scheduled_changes() with their creator''s privileges (1.14)';
COMMENT ON COLUMN ff.scheduled_changes.id IS 'Number of the scheduled change';
COMMENT ON COLUMN ff.scheduled_changes.environment IS 'Environment of the flag';
COMMENT ON COLUMN ff.scheduled_changes.flag_key IS 'Key of the flag the change saves a draft of (created if it does not exist then)';
COMMENT ON COLUMN ff.scheduled_changes.draft IS 'The draft: a flagd flag object whose members replace the flag''s (as ff.apply_draft saves it)';
COMMENT ON COLUMN ff.scheduled_changes.run_at IS 'When the change is due; the next run of ff.run_scheduled_changes() at or after it applies it';
COMMENT ON COLUMN ff.scheduled_changes.comment IS 'Why: recorded in the history of the change, after "scheduled change N by ROLE"';
COMMENT ON COLUMN ff.scheduled_changes.created_by IS 'The role that scheduled the change (current_user then); the change is applied with its privileges';
COMMENT ON COLUMN ff.scheduled_changes.created_at IS 'When the change was scheduled';
COMMENT ON COLUMN ff.scheduled_changes.status IS 'pending, then applied, failed or cancelled';
COMMENT ON COLUMN ff.scheduled_changes.finished_at IS 'When the change was applied, failed or was cancelled (NULL while pending)';
COMMENT ON COLUMN ff.scheduled_changes.finished_by IS 'Who ran it (the runner''s session user) or cancelled it (current_user)';
COMMENT ON COLUMN ff.scheduled_changes.version IS 'The flag''s config version after the change was applied (the version that wrote it); NULL when the draft changed nothing, the flag already being so (1.24)';
COMMENT ON COLUMN ff.scheduled_changes.error IS 'Why the change failed: the error''s SQLSTATE and message';
COMMENT ON CONSTRAINT scheduled_changes_status_check ON ff.scheduled_changes IS
    'status is pending, applied, failed or cancelled';
COMMENT ON CONSTRAINT scheduled_changes_finished_check ON ff.scheduled_changes IS
    'a change has finished_at exactly when it is no longer pending';
COMMENT ON INDEX ff.scheduled_changes_pending IS 'The pending changes by due time, for ff.run_scheduled_changes()';

-- ff._is_extension_owner tells whether a role has the privileges of the
-- extension's owner (the owner of schema ff): the runner, which is
-- SECURITY DEFINER, runs as that role.
CREATE FUNCTION ff._is_extension_owner(role_name name)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.pg_has_role(role_name,
                              (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'ff'),
                              'USAGE');

COMMENT ON FUNCTION ff._is_extension_owner(name) IS
'Internal: whether a role has the privileges of the extension''s owner (the role ff.run_scheduled_changes() runs as)';

-- ff._check_may_change raises insufficient_privilege unless role_name may
-- change flag_key in env, but for an approval rule: write ff.flags (INSERT
-- for a new flag, UPDATE for an existing one) and the environment
-- (protection).  The checks of a new scheduled change and of a change
-- request (1.16); for a scheduled change the approval rule is the gate's,
-- met by the dry run of the write that follows.
CREATE FUNCTION ff._check_may_change(role_name name, env text, flag_key text, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    priv        text := CASE WHEN EXISTS (SELECT 1 FROM ff.flags AS f
                                           WHERE f.environment = env AND f.key = flag_key)
                             THEN 'UPDATE' ELSE 'INSERT' END;
    allowed     name[];
BEGIN
    IF NOT has_function_privilege(role_name, 'ff.apply_draft(text, jsonb, text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied to % flag "%" in environment "%"', what, flag_key, env
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Role "%s" may not execute ff.apply_draft(), which applies the change.', role_name),
                  HINT = 'A scheduled change or a change request is applied with the privileges of the role that makes it; ff.grant_editor() gives a role the privileges to change flags.';
    END IF;
    IF NOT has_table_privilege(role_name, 'ff.flags', priv) THEN
        RAISE EXCEPTION 'permission denied to % flag "%" in environment "%"', what, flag_key, env
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Role "%s" has no %s privilege on ff.flags.', role_name, priv),
                  HINT = 'A scheduled change or a change request is applied with the privileges of the role that makes it; ff.grant_editor() gives a role the privileges to change flags.';
    END IF;
    SELECT p.allowed_roles INTO allowed FROM ff._environment_protection(env) AS p;
    IF FOUND AND NOT ff._may_write(role_name, allowed) THEN
        RAISE EXCEPTION 'permission denied to % flag "%" in environment "%"', what, flag_key, env
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Environment "%s" is protected, and role "%s" is neither an ff administrator nor a member of its allowed roles.', env, role_name),
                  HINT = 'A scheduled change or a change request is applied with the privileges of the role that makes it; ff.protect_environment() sets the roles that may change a protected environment.';
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._check_may_change(name, text, text, text) IS
'Internal: raises insufficient_privilege unless a role may change a flag in an environment, but for an approval rule (table privilege and environment protection)';

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
CREATE FUNCTION ff._scheduled_changes_guard()
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

CREATE TRIGGER ff_10_guard
    BEFORE INSERT OR UPDATE ON ff.scheduled_changes
    FOR EACH ROW EXECUTE FUNCTION ff._scheduled_changes_guard();

-- ff.schedule_change schedules a draft of a flag to be saved at run_at.
CREATE FUNCTION ff.schedule_change(flag_key text, draft jsonb, run_at timestamptz,
                                   environment text DEFAULT NULL, comment text DEFAULT NULL)
RETURNS ff.scheduled_changes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result      ff.scheduled_changes;
BEGIN
    IF flag_key IS NULL OR draft IS NULL OR run_at IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN flag_key IS NULL THEN 'flag key' WHEN draft IS NULL THEN 'draft' ELSE 'run_at' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.schedule_change(''checkout'', ''{"state": "ENABLED"}'', now() + interval ''1 hour'');';
    END IF;
    INSERT INTO ff.scheduled_changes AS s (environment, flag_key, draft, run_at, comment)
    VALUES (schedule_change.environment, schedule_change.flag_key, schedule_change.draft,
            schedule_change.run_at, schedule_change.comment)
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.schedule_change(text, jsonb, timestamptz, text, text) IS
'Schedules a draft of a flag (as ff.apply_draft saves it) to be saved at run_at with the caller''s privileges; returns the scheduled change';

-- ff.cancel_scheduled_change cancels a pending change.
CREATE FUNCTION ff.cancel_scheduled_change(id bigint)
RETURNS ff.scheduled_changes
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    result      ff.scheduled_changes;
BEGIN
    IF cancel_scheduled_change.id IS NULL THEN
        RAISE EXCEPTION 'scheduled change id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT id, flag_key, run_at FROM ff.scheduled_changes WHERE status = ''pending'' lists the pending changes.';
    END IF;
    UPDATE ff.scheduled_changes AS s SET status = 'cancelled'
     WHERE s.id = cancel_scheduled_change.id
    RETURNING * INTO result;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'scheduled change % does not exist', cancel_scheduled_change.id
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT id, flag_key, run_at FROM ff.scheduled_changes WHERE status = ''pending'' lists the pending changes.';
    END IF;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.cancel_scheduled_change(bigint) IS
'Cancels a pending scheduled change (its creator, or a role that may make the change); returns it';

-- ff.schedule_rollout schedules a progressive rollout: one scheduled
-- change per percentage, step apart from start_at, each writing the rule
-- ff.set_rollout writes (computed now, from the flag's variants now).
CREATE FUNCTION ff.schedule_rollout(flag_key text, percentages numeric[], start_at timestamptz,
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

-- ff._apply_draft_as saves a draft as a role (C, src/ff_schedule.c): the
-- runner's write, with the role's privileges, the comment recorded in the
-- history; returns the version the write gave the flag (1.24 library: NULL
-- when the draft changed nothing).
CREATE FUNCTION ff._apply_draft_as(role_name name, flag_key text, draft jsonb, environment text, comment text)
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_apply_draft_as';

COMMENT ON FUNCTION ff._apply_draft_as(name, text, jsonb, text, text) IS
'Internal: ff.apply_draft run with the privileges of a role (superuser, or a member of the role, only); the runner of scheduled changes';

-- ff.run_scheduled_changes applies the pending changes that are due, in
-- order of run_at, each in a subtransaction, with its creator's
-- privileges; returns what it did.  It is SECURITY DEFINER: any role
-- allowed to run it applies only what is due, as it was scheduled.  The
-- settings that decide how strictly a write is checked are pinned, so the
-- caller's session cannot loosen the checks of other roles' changes.
--
-- Order (1.24).  When something is due, the runner takes the history's
-- writer lock first, then locks the due rows in one statement (SKIP
-- LOCKED: a row that a cancellation holds is left to it).  So concurrent
-- runners take turns: one that waited sees what the other applied.  (1.23
-- locked the rows as its loop fetched them: a second runner took rows from
-- the middle of the queue, waited for the writer lock, and applied them
-- after the first runner had applied later changes of the same flag.)  A
-- change of a flag is applied only if no earlier change of that flag is
-- still pending: one left pending by a transient error in this run (a
-- deadlock, a serialization failure, a lock timeout), or one this run could
-- not lock.  It waits with it ("waits for scheduled change N"), so that the
-- next run applies them in order; a waiting change does not count against
-- max_changes (the run goes on with other flags' changes, and the limit
-- bounds the changes it tries).  The due changes are read in one pass (a
-- query per change would step over the index entries of the changes
-- already applied in this transaction: quadratic).
CREATE FUNCTION ff.run_scheduled_changes(max_changes integer DEFAULT NULL)
RETURNS TABLE (id bigint, flag_key text, environment text, status text, version bigint, error text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET ff.invalid_targeting = 'error'
SET check_function_bodies = on
AS $$
#variable_conflict use_column
DECLARE
    c           ff.scheduled_changes;
    taken       bigint[];
    blockers    bigint[];
    held        jsonb := '{}';
    waited      jsonb := '{}';
    one         text;
    i           integer;
    tried       integer := 0;
    v           bigint;
    st          text;
    msg         text;
    left_due    bigint;
    saved       text := pg_catalog.current_setting('ff.change_comment', true);
BEGIN
    IF max_changes IS NOT NULL AND max_changes < 1 THEN
        RAISE EXCEPTION 'max_changes must be at least 1 (or NULL: no limit), not %', max_changes
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.scheduled_changes AS s
                    WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now()) THEN
        RETURN;                                 -- nothing due: no lock taken
    END IF;
    BEGIN
        PERFORM ff._history_lock_writer('flag');
    EXCEPTION WHEN serialization_failure OR deadlock_detected OR lock_not_available THEN
        -- a transient error: every due change stays pending, returned with it
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        msg := st || ': ' || msg;
        RAISE WARNING 'the due scheduled changes stay pending: the history''s writer lock was not taken: %', msg
            USING HINT = 'A transient error: the next run tries them again.';
        RETURN QUERY
            SELECT s.id, s.flag_key, s.environment, 'pending'::text, NULL::bigint, msg
              FROM ff.scheduled_changes AS s
             WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now()
             ORDER BY s.run_at, s.id
             LIMIT max_changes;
        RETURN;
    END;
    -- the due changes this run takes, in order (all it can lock: max_changes
    -- counts the ones it tries, below), for each the earliest pending change
    -- of its flag that it does not take (locked by another transaction) if
    -- that one comes before it, and how many it does not take
    WITH mine AS (
        SELECT s.id, s.run_at, s.environment, s.flag_key
          FROM ff.scheduled_changes AS s
         WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now()
           FOR UPDATE SKIP LOCKED
    ), locked AS (
        SELECT s.id, s.run_at, s.environment, s.flag_key
          FROM ff.scheduled_changes AS s
         WHERE s.status = 'pending' AND s.run_at <= pg_catalog.now()
           AND s.id NOT IN (SELECT m.id FROM mine AS m)
    ), others AS (
        SELECT DISTINCT ON (l.environment, l.flag_key) l.id, l.run_at, l.environment, l.flag_key
          FROM locked AS l
         ORDER BY l.environment, l.flag_key, l.run_at, l.id
    )
    SELECT pg_catalog.array_agg(m.id ORDER BY m.run_at, m.id),
           pg_catalog.array_agg(o.id ORDER BY m.run_at, m.id),
           (SELECT count(*) FROM locked)
      INTO taken, blockers, left_due
      FROM mine AS m
      LEFT JOIN others AS o
        ON o.environment = m.environment AND o.flag_key = m.flag_key
       AND (o.run_at, o.id) < (m.run_at, m.id);
    FOR i IN 1 .. COALESCE(pg_catalog.cardinality(taken), 0) LOOP
        EXIT WHEN tried >= max_changes;         -- (NULL: no limit)
        SELECT * INTO c FROM ff.scheduled_changes AS s WHERE s.id = taken[i];
        one := pg_catalog.jsonb_build_array(c.environment, c.flag_key)::text;
        v := NULL;
        msg := NULL;
        IF blockers[i] IS NOT NULL OR held ? one THEN
            st := 'pending';
            msg := pg_catalog.format('waits for scheduled change %s of the same flag', COALESCE(blockers[i], (held ->> one)::bigint));
            -- one WARNING per flag (its first waiting change), not per change
            IF NOT waited ? one THEN
                RAISE WARNING 'scheduled change % of flag "%" in environment "%" stays pending: it %',
                    c.id, c.flag_key, c.environment, msg
                    USING HINT = 'The changes of a flag are applied in run_at order: this one and any later ones of the flag wait for a later run.';
                waited := waited || pg_catalog.jsonb_build_object(one, true);
            END IF;
            IF NOT held ? one THEN
                held := held || pg_catalog.jsonb_build_object(one, blockers[i]);
            END IF;
        ELSE
            tried := tried + 1;
            BEGIN
                -- (NULL: the flag already was so, nothing was written)
                v := ff._apply_draft_as(c.created_by, c.flag_key, c.draft, c.environment,
                                        pg_catalog.format('scheduled change %s by %s', c.id, c.created_by)
                                        || COALESCE(': ' || c.comment, ''));
                st := 'applied';
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
                msg := st || ': ' || msg;
                IF st IN ('40001', '40P01', '55P03') THEN
                    st := 'pending';
                    held := held || pg_catalog.jsonb_build_object(one, c.id);
                    RAISE WARNING 'scheduled change % of flag "%" in environment "%" stays pending: %',
                        c.id, c.flag_key, c.environment, msg
                        USING HINT = 'A transient error: the next run tries it again.';
                ELSE
                    st := 'failed';
                    -- in the server log too: a pg_cron job's own record says only "SELECT n"
                    RAISE WARNING 'scheduled change % of flag "%" in environment "%" failed: %',
                        c.id, c.flag_key, c.environment, msg
                        USING HINT = 'ff.scheduled_changes keeps the error; schedule the change again once it can be made.';
                END IF;
            END;
        END IF;
        IF st <> 'pending' THEN
            UPDATE ff.scheduled_changes AS s
               SET status = st, version = v, error = msg,
                   finished_at = pg_catalog.clock_timestamp(), finished_by = SESSION_USER
             WHERE s.id = c.id;
        END IF;
        id := c.id;
        flag_key := c.flag_key;
        environment := c.environment;
        status := st;
        version := v;
        error := msg;
        RETURN NEXT;
    END LOOP;
    PERFORM pg_catalog.set_config('ff.change_comment', COALESCE(saved, ''), true);
    -- due changes this run could not take: row-locked by another transaction
    -- (a cancellation in progress, or a role that locks them)
    IF left_due > 0 THEN
        RAISE WARNING '% due scheduled change(s) are locked by other transactions and were left for the next run', left_due
            USING HINT = 'SELECT pid, state, xact_start FROM pg_stat_activity shows who holds them (ff.scheduled_changes rows are locked by cancellations and SELECT ... FOR UPDATE).';
    END IF;
END;
$$;

COMMENT ON FUNCTION ff.run_scheduled_changes(integer) IS
'Applies the pending scheduled changes that are due (at most max_changes), each with its creator''s privileges; returns what it did (call it from pg_cron)';

SELECT pg_catalog.pg_extension_config_dump('ff.scheduled_changes', '');
SELECT pg_catalog.pg_extension_config_dump('ff.scheduled_changes_id_seq', '');

-- ff._is_extension_owner and ff._check_may_change keep PUBLIC's EXECUTE:
-- SECURITY INVOKER helpers of the trigger, which runs as every writer
REVOKE ALL ON FUNCTION ff._scheduled_changes_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.schedule_change(text, jsonb, timestamptz, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.cancel_scheduled_change(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.schedule_rollout(text, numeric[], timestamptz, interval, text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._apply_draft_as(name, text, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.run_scheduled_changes(integer) FROM PUBLIC;
-- ---------------------------------------------------------------------
-- Approvals (1.16): change requests that need other people's sign-off
-- before they reach a protected environment.
--
--   ff.require_approvals(environment, approvals, approver_roles)
--   ff.request_change(flag_key, draft, environment, comment)
--   ff.approve_change(id, comment) / ff.reject_change(id, comment)
--   ff.withdraw_change(id)
--   ff.apply_change(id)
--
-- An ff administrator gives a protected environment an approval rule
-- (ff.approval_rules): from then on only ff administrators change it
-- directly.  Everyone else -- the members of its allowed roles included --
-- changes its flags through change requests (ff.change_requests): a draft
-- of one flag (the format ff.evaluate_draft previews and ff.apply_draft
-- saves), checked when it is requested, approved by as many other people
-- as the rule asks (never by the requester: neither the same role nor the
-- same login), then applied with the requester's privileges, in the
-- history as the requester's change with the approvers in its comment.
--
-- The gate is the protection trigger of ff.flags, ff.segments and
-- ff.segment_keys (ff._protect_statement_general), TRUNCATE's and the
-- environment row's: they refuse every write to an environment with a rule
-- by a role that is not an ff administrator, except the one write that
-- ff.apply_change makes (C, src/ff_schedule.c: the gate opens for that
-- flag only, for the duration of the write).  Segments and key lists have
-- no change requests: in an environment with a rule, ff administrators
-- change them.
--
-- A request is immutable: only its status and reviews change, by these
-- functions.  It applies only over the flag it was reviewed against: if
-- the flag changed since it was requested (its version stamp moved), the
-- request cannot be applied and must be made again.  The functions are
-- SECURITY DEFINER and act for the session's role (SET ROLE, else the
-- session user), as the history's changed_by does.
-- ---------------------------------------------------------------------

CREATE TABLE ff.approval_rules (
    environment         text        NOT NULL,
    required_approvals  integer     NOT NULL,
    approver_roles      name[]      NOT NULL DEFAULT '{}',
    set_by              name        NOT NULL DEFAULT CURRENT_USER,
    set_at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT approval_rules_pkey PRIMARY KEY (environment),
    CONSTRAINT approval_rules_environment_fkey FOREIGN KEY (environment)
        REFERENCES ff.environments (name) ON UPDATE CASCADE ON DELETE CASCADE,
    CONSTRAINT approval_rules_required_check CHECK (required_approvals BETWEEN 1 AND 10)
);

COMMENT ON TABLE ff.approval_rules IS
    'Approval rules (1.16): a protected environment listed here is changed directly only by ff administrators; everyone else goes through approved change requests';
COMMENT ON COLUMN ff.approval_rules.environment IS 'The environment (protected)';
COMMENT ON COLUMN ff.approval_rules.required_approvals IS 'How many approvals a change request needs (1 to 10), none of them by the requester';
COMMENT ON COLUMN ff.approval_rules.approver_roles IS 'Whose members may approve; empty: the ff administrators and the members of the environment''s allowed roles';
COMMENT ON COLUMN ff.approval_rules.set_by IS 'The ff administrator who set the rule';
COMMENT ON COLUMN ff.approval_rules.set_at IS 'When the rule was set';
COMMENT ON CONSTRAINT approval_rules_required_check ON ff.approval_rules IS
    'a rule asks for 1 to 10 approvals (ff.require_approvals(environment, 0) removes it)';

CREATE TABLE ff.change_requests (
    id                      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    environment             text        NOT NULL,
    flag_key                text        NOT NULL,
    draft                   jsonb       NOT NULL,
    comment                 text,
    base_version            bigint,
    requested_by            name        NOT NULL,
    requested_session_user  name        NOT NULL,
    requested_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    status                  text        NOT NULL DEFAULT 'pending',
    reviews                 jsonb       NOT NULL DEFAULT '[]',
    finished_at             timestamptz,
    finished_by             name,
    version                 bigint,
    CONSTRAINT change_requests_status_check
        CHECK (status IN ('pending', 'approved', 'applied', 'rejected', 'withdrawn')),
    CONSTRAINT change_requests_finished_check
        CHECK ((status IN ('pending', 'approved')) = (finished_at IS NULL))
);
CREATE INDEX change_requests_open ON ff.change_requests (environment, flag_key, id)
    WHERE status IN ('pending', 'approved');

COMMENT ON TABLE ff.change_requests IS
    'Change requests (1.16): drafts of flags in environments with an approval rule, applied once approved';
COMMENT ON COLUMN ff.change_requests.id IS 'Number of the request';
COMMENT ON COLUMN ff.change_requests.environment IS 'Environment of the flag';
COMMENT ON COLUMN ff.change_requests.flag_key IS 'Key of the flag the request saves a draft of (created if it does not exist)';
COMMENT ON COLUMN ff.change_requests.draft IS 'The draft: a flagd flag object whose members replace the flag''s (as ff.apply_draft saves it)';
COMMENT ON COLUMN ff.change_requests.comment IS 'Why: recorded in the history of the change';
COMMENT ON COLUMN ff.change_requests.base_version IS 'The flag''s version when the change was requested (NULL: the flag did not exist); the request applies only over that version';
COMMENT ON COLUMN ff.change_requests.requested_by IS 'The role that requested the change (the session''s role); the change is applied with its privileges';
COMMENT ON COLUMN ff.change_requests.requested_session_user IS 'The session user of the request: nobody approves a request from their own login';
COMMENT ON COLUMN ff.change_requests.requested_at IS 'When the change was requested';
COMMENT ON COLUMN ff.change_requests.status IS 'pending, approved (enough approvals), then applied; or rejected or withdrawn';
COMMENT ON COLUMN ff.change_requests.reviews IS 'The approvals and the rejection, in order: [{"role", "session_user", "decision", "comment", "at"}]';
COMMENT ON COLUMN ff.change_requests.finished_at IS 'When the request was applied, rejected or withdrawn (NULL while open)';
COMMENT ON COLUMN ff.change_requests.finished_by IS 'Who applied, rejected or withdrew it';
COMMENT ON COLUMN ff.change_requests.version IS 'The flag''s config version after the change was applied; NULL when the draft changed nothing, the flag already being so (1.24)';
COMMENT ON CONSTRAINT change_requests_status_check ON ff.change_requests IS
    'status is pending, approved, applied, rejected or withdrawn';
COMMENT ON CONSTRAINT change_requests_finished_check ON ff.change_requests IS
    'a request has finished_at exactly when it is no longer open (pending or approved)';
COMMENT ON INDEX ff.change_requests_open IS 'The open requests of each flag';

-- ff._approval_rules_guard is the trigger ff_10_guard of ff.approval_rules:
-- only ff administrators set rules, only on protected environments, with
-- existing approver roles; set_by and set_at say who and when.
CREATE FUNCTION ff._approval_rules_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._restoring() THEN
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF NOT ff._is_environment_admin(CURRENT_USER) THEN
        RAISE EXCEPTION 'role "%" may not change the approval rule of environment "%"', CURRENT_USER,
            CASE TG_OP WHEN 'DELETE' THEN OLD.environment ELSE NEW.environment END
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only ff administrators (roles that may UPDATE ff.environments.protected) set approval rules.',
                  HINT = 'Ask an ff administrator.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ff.environments AS e WHERE e.name = NEW.environment AND e.protected) THEN
        RAISE EXCEPTION 'environment "%" must be protected to require approvals', NEW.environment
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Protection says who may request changes; the approval rule says who must approve them.',
                  HINT = format('Protect it first: SELECT ff.protect_environment(%L, allowed_roles => ''{role}'');', NEW.environment);
    END IF;
    PERFORM ff._check_role_list(NEW.approver_roles, 'approver_roles', NEW.environment,
        'List role names, for example ''{release_managers}'', or ''{}'' for the ff administrators and the allowed roles.');
    NEW.set_by := CURRENT_USER;
    NEW.set_at := pg_catalog.now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._approval_rules_guard() IS
'Trigger ff_10_guard on ff.approval_rules: only ff administrators set rules, on protected environments, with existing approver roles';

CREATE TRIGGER ff_10_guard
    BEFORE INSERT OR UPDATE OR DELETE ON ff.approval_rules
    FOR EACH ROW EXECUTE FUNCTION ff._approval_rules_guard();

-- ff.require_approvals sets (or, with approvals 0, removes) the approval
-- rule of a protected environment.
CREATE FUNCTION ff.require_approvals(environment text, approvals integer DEFAULT 1,
                                     approver_roles name[] DEFAULT '{}')
RETURNS ff.approval_rules
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text;
    result      ff.approval_rules;
BEGIN
    IF environment IS NULL OR approvals IS NULL OR approver_roles IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
            CASE WHEN environment IS NULL THEN 'environment' WHEN approvals IS NULL THEN 'approvals' ELSE 'approver_roles' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example SELECT ff.require_approvals(''production'', 1, ''{release_managers}''); approvals 0 removes the rule.';
    END IF;
    env := ff._resolve_environment(environment);
    IF approvals = 0 THEN
        DELETE FROM ff.approval_rules AS r WHERE r.environment = env;
        RETURN NULL;
    END IF;
    IF approvals NOT BETWEEN 1 AND 10 THEN
        RAISE EXCEPTION 'an approval rule asks for 1 to 10 approvals, not %', approvals
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'approvals 0 removes the rule.';
    END IF;
    INSERT INTO ff.approval_rules AS r (environment, required_approvals, approver_roles)
    VALUES (env, approvals,
            ARRAY(SELECT a FROM unnest(require_approvals.approver_roles) WITH ORDINALITY AS u(a, i)
                  GROUP BY a ORDER BY min(i)))
    ON CONFLICT ON CONSTRAINT approval_rules_pkey DO UPDATE
       SET required_approvals = EXCLUDED.required_approvals, approver_roles = EXCLUDED.approver_roles
    RETURNING * INTO result;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.require_approvals(text, integer, name[]) IS
'Sets the approval rule of a protected environment (approvals 1 to 10; approver_roles empty: ff administrators and allowed roles); approvals 0 removes it (ff administrators only)';

-- ff._may_approve tells whether a role may approve changes of env: a
-- member of the rule's approver roles, or, when the rule names none, an
-- ff administrator or a member of the environment's allowed roles.
CREATE FUNCTION ff._may_approve(role_name name, env text)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    approvers   name[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS o WHERE o.rolname = role_name) THEN
        RETURN false;               -- a dropped role approves nothing
    END IF;
    SELECT r.approver_roles INTO approvers FROM ff.approval_rules AS r WHERE r.environment = env;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF cardinality(approvers) > 0 THEN
        RETURN EXISTS (SELECT 1 FROM unnest(approvers) AS a (rolname)
                         JOIN pg_catalog.pg_roles AS r ON r.rolname = a.rolname
                        WHERE pg_catalog.pg_has_role(role_name, r.oid, 'MEMBER'));
    END IF;
    RETURN ff._may_write(role_name, (SELECT e.allowed_roles FROM ff.environments AS e WHERE e.name = env));
END;
$$;

COMMENT ON FUNCTION ff._may_approve(name, text) IS
'Internal: whether a role may approve change requests of an environment (its approver roles; if none, ff administrators and allowed roles)';

-- ff._flag_version is the version stamp of a flag now (NULL: no flag).
CREATE FUNCTION ff._flag_version(env text, flag_key text)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT f.version FROM ff.flags AS f WHERE f.environment = $1 AND f.key = $2);

COMMENT ON FUNCTION ff._flag_version(text, text) IS
'Internal: the version stamp of a flag now (NULL when it does not exist)';

-- ff._change_request_guard is the trigger ff_10_guard of
-- ff.change_requests: a request's content never changes; only the status
-- moves forward (pending -> approved -> applied, or to rejected or
-- withdrawn), with its reviews growing.  The functions below are the way
-- in; the guard also holds for an administrator's DML.
CREATE FUNCTION ff._change_request_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF ff._restoring() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'change request % cannot be deleted', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Change requests are a log of what was asked, approved and applied.',
                  HINT = format('Withdraw it instead: SELECT ff.withdraw_change(%s);', OLD.id);
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' OR NEW.reviews <> '[]' OR NEW.finished_at IS NOT NULL
           OR NEW.finished_by IS NOT NULL OR NEW.version IS NOT NULL THEN
            RAISE EXCEPTION 'a new change request must be pending, without reviews'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use ff.request_change().';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status NOT IN ('pending', 'approved') THEN
        RAISE EXCEPTION 'change request % is % and cannot change', OLD.id, OLD.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It was %s at %s by %s.', OLD.status, OLD.finished_at, OLD.finished_by),
                  HINT = 'Request the change again with ff.request_change().';
    END IF;
    IF (NEW.id, NEW.environment, NEW.flag_key, NEW.draft, NEW.comment, NEW.base_version,
        NEW.requested_by, NEW.requested_session_user, NEW.requested_at)
       IS DISTINCT FROM
       (OLD.id, OLD.environment, OLD.flag_key, OLD.draft, OLD.comment, OLD.base_version,
        OLD.requested_by, OLD.requested_session_user, OLD.requested_at)
       OR NOT (NEW.reviews @> OLD.reviews AND pg_catalog.jsonb_array_length(NEW.reviews) >= pg_catalog.jsonb_array_length(OLD.reviews))
       OR (OLD.status = 'approved' AND NEW.status = 'pending') THEN
        RAISE EXCEPTION 'change request % cannot be edited', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A request''s draft never changes after it is made: what was approved is what is applied.',
                  HINT = format('Withdraw it (SELECT ff.withdraw_change(%s);) and request the new change.', OLD.id);
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ff._change_request_guard() IS
'Trigger ff_10_guard on ff.change_requests: a request''s content never changes, only its status moves forward and its reviews grow';

CREATE TRIGGER ff_10_guard
    BEFORE INSERT OR UPDATE OR DELETE ON ff.change_requests
    FOR EACH ROW EXECUTE FUNCTION ff._change_request_guard();

-- ff._apply_approved_draft saves (or, dry_run, only tries) the draft of a
-- change request as its requester, through the approval gate (C,
-- src/ff_schedule.c); returns the version the write gave the flag (1.24
-- library: NULL when the draft changed nothing).
CREATE FUNCTION ff._apply_approved_draft(role_name name, flag_key text, draft jsonb, environment text,
                                         comment text, dry_run boolean)
RETURNS bigint
LANGUAGE C
AS 'MODULE_PATHNAME', 'ff_apply_approved_draft';

COMMENT ON FUNCTION ff._apply_approved_draft(name, text, jsonb, text, text, boolean) IS
'Internal: ff.apply_draft as a role, let through the approval gate for that flag only (dry_run: rolled back at once); the write of ff.apply_change';

-- ff._change_request_row locks and returns a change request, or raises
-- undefined_object.
CREATE FUNCTION ff._change_request_row(request_id bigint)
RETURNS ff.change_requests
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r           ff.change_requests;
BEGIN
    IF request_id IS NULL THEN
        RAISE EXCEPTION 'change request id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT id, environment, flag_key, status FROM ff.change_requests WHERE status IN (''pending'', ''approved'') lists the open requests.';
    END IF;
    SELECT * INTO r FROM ff.change_requests AS c WHERE c.id = request_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'change request % does not exist', request_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT id, environment, flag_key, status FROM ff.change_requests WHERE status IN (''pending'', ''approved'') lists the open requests.';
    END IF;
    RETURN r;
END;
$$;

COMMENT ON FUNCTION ff._change_request_row(bigint) IS
'Internal: locks and returns a change request (undefined_object if there is none)';

-- ff._change_request_stale refuses a change request whose flag changed
-- since it was requested (its version is not the request's base_version):
-- ff.apply_change would not apply it, so (1.24) it is not approved either.
CREATE FUNCTION ff._change_request_stale(r ff.change_requests, now_version bigint, hint text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF now_version IS DISTINCT FROM r.base_version THEN
        RAISE EXCEPTION 'flag "%" in environment "%" changed since change request % was made', r.flag_key, r.environment, r.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The request was made over version %s of the flag; it is now %s.',
                                  COALESCE(r.base_version::text, 'none (no flag)'), COALESCE(now_version::text, 'none (deleted)')),
                  HINT = hint;
    END IF;
END;
$$;

COMMENT ON FUNCTION ff._change_request_stale(ff.change_requests, bigint, text) IS
'Internal: raises object_not_in_prerequisite_state when a change request''s flag is no longer at the version it was requested over';

-- ff.request_change asks for a change of a flag in an environment with an
-- approval rule: checked now as the write would be (a dry run through the
-- gate, rolled back), by a role that could make it but for the rule.
CREATE FUNCTION ff.request_change(flag_key text, draft jsonb, environment text DEFAULT NULL,
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

-- ff.approve_change approves (ff.reject_change rejects) a pending request:
-- by a role that may approve in its environment, other than the requester
-- (neither its role nor its login), once per role.
CREATE FUNCTION ff._review_change(request_id bigint, decision text, review_comment text)
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
    -- (1.24) a request that can no longer be applied is not approved
    IF decision = 'approve' THEN
        PERFORM ff._change_request_stale(r, ff._flag_version(r.environment, r.flag_key),
            format('Reject it (SELECT ff.reject_change(%s, ''the flag changed'');) or ask its requester to withdraw it and request the change again over the flag as it is now.', r.id));
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

CREATE FUNCTION ff.approve_change(id bigint, comment text DEFAULT NULL)
RETURNS ff.change_requests
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET check_function_bodies = on
RETURN ff._review_change($1, 'approve', $2);

COMMENT ON FUNCTION ff.approve_change(bigint, text) IS
'Approves a pending change request (not the requester''s own); with enough approvals it becomes approved, ready for ff.apply_change; returns it';

CREATE FUNCTION ff.reject_change(id bigint, comment text DEFAULT NULL)
RETURNS ff.change_requests
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET check_function_bodies = on
RETURN ff._review_change($1, 'reject', $2);

COMMENT ON FUNCTION ff.reject_change(bigint, text) IS
'Rejects a pending change request (by a reviewer other than the requester); returns it';

-- ff.withdraw_change closes an open request: by its requester (or a member
-- of the requesting role) or an ff administrator.
CREATE FUNCTION ff.withdraw_change(id bigint)
RETURNS ff.change_requests
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET check_function_bodies = on
AS $$
DECLARE
    actor       name := ff._actor();
    r           ff.change_requests := ff._change_request_row(withdraw_change.id);
BEGIN
    IF r.status NOT IN ('pending', 'approved') THEN
        RAISE EXCEPTION 'change request % is % and cannot be withdrawn', r.id, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It was %s at %s by %s.', r.status, r.finished_at, r.finished_by);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS o
                    WHERE o.rolname = r.requested_by AND pg_catalog.pg_has_role(actor, o.oid, 'MEMBER'))
       AND NOT ff._is_environment_admin(actor) THEN
        RAISE EXCEPTION 'role "%" may not withdraw change request %', actor, r.id
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It was requested by role "%s"; its requester and ff administrators withdraw it.', r.requested_by),
                  HINT = format('A reviewer rejects it instead: SELECT ff.reject_change(%s, ''why'');', r.id);
    END IF;
    UPDATE ff.change_requests AS c
       SET status = 'withdrawn', finished_at = pg_catalog.clock_timestamp(), finished_by = actor
     WHERE c.id = r.id
    RETURNING * INTO r;
    RETURN r;
END;
$$;

COMMENT ON FUNCTION ff.withdraw_change(bigint) IS
'Withdraws an open change request (its requester or an ff administrator); returns it';

-- ff.apply_change applies an approved request: by its requester, one of
-- its approvers or an ff administrator; with the requester's privileges
-- (a protection or privilege lost since stops it); only over the flag
-- version it was requested against, and only while the rule's count of
-- approvals is still met.
CREATE FUNCTION ff.apply_change(id bigint)
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
    PERFORM ff._change_request_stale(r, now_version,
        format('Withdraw it (SELECT ff.withdraw_change(%s);) and request the change again over the flag as it is now.', r.id));
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

SELECT pg_catalog.pg_extension_config_dump('ff.approval_rules', '');
SELECT pg_catalog.pg_extension_config_dump('ff.change_requests', '');
SELECT pg_catalog.pg_extension_config_dump('ff.change_requests_id_seq', '');

REVOKE ALL ON FUNCTION ff._approval_rules_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._change_request_guard() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.require_approvals(text, integer, name[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._apply_approved_draft(name, text, jsonb, text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._change_request_row(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._review_change(bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.request_change(text, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.approve_change(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.reject_change(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.withdraw_change(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.apply_change(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._change_request_notify() FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._approvals_truncate_guard() FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Evaluation statistics (1.15; src/ff_stats.c)
-- ---------------------------------------------------------------------
--
-- Every evaluation by ff.evaluate, the getters, their _row forms and
-- ff.evaluate_all is counted per environment, flag key, variant, reason and
-- error code, in shared memory (feature_flags must be in
-- shared_preload_libraries).  Point-in-time evaluation, drafts and
-- ff.json_logic are not counted.  Readable by editors and admins, reset by
-- admins; nothing for PUBLIC.

-- ff.evaluation_stats: the counts of the current database
CREATE FUNCTION ff.evaluation_stats(
    OUT environment text,
    OUT flag_key text,
    OUT variant text,
    OUT reason text,
    OUT error_code text,
    OUT evaluations bigint,
    OUT first_evaluated timestamptz,
    OUT last_evaluated timestamptz)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ff_evaluation_stats';

COMMENT ON FUNCTION ff.evaluation_stats() IS
'Evaluations counted per environment, flag key, variant, reason and error code in the current database (needs feature_flags in shared_preload_libraries)';
REVOKE ALL ON FUNCTION ff.evaluation_stats() FROM PUBLIC;

CREATE VIEW ff.evaluation_stats WITH (security_invoker = true) AS
    SELECT s.environment, s.flag_key, s.variant, s.reason, s.error_code,
           s.evaluations, s.first_evaluated, s.last_evaluated
      FROM ff.evaluation_stats() AS s;

COMMENT ON VIEW ff.evaluation_stats IS
'Evaluations counted per environment, flag key, variant, reason and error code (variant NULL: the caller''s default was returned); last_evaluated is accurate to about a second';
COMMENT ON COLUMN ff.evaluation_stats.environment IS 'Environment the evaluation asked for (the default one by its name); NULL with flag_key NULL: the missing keys over the cap, together';
COMMENT ON COLUMN ff.evaluation_stats.flag_key IS 'Flag key the evaluation asked for (also keys that do not exist: error_code FLAG_NOT_FOUND, with entries of their own up to a tenth of ff.stats_max_entries per database); cut to 200 bytes';
COMMENT ON COLUMN ff.evaluation_stats.variant IS 'Variant returned; NULL when the caller''s default was returned (DISABLED, ERROR, no default variant)';
COMMENT ON COLUMN ff.evaluation_stats.reason IS 'STATIC, DEFAULT, TARGETING_MATCH, DISABLED or ERROR';
COMMENT ON COLUMN ff.evaluation_stats.error_code IS 'For reason ERROR: FLAG_NOT_FOUND, PARSE_ERROR, TYPE_MISMATCH, INVALID_CONTEXT or GENERAL';
COMMENT ON COLUMN ff.evaluation_stats.evaluations IS 'Evaluations with this outcome since the entry was created';
COMMENT ON COLUMN ff.evaluation_stats.first_evaluated IS 'When the entry was created (the first count of this outcome after stats_since)';
COMMENT ON COLUMN ff.evaluation_stats.last_evaluated IS 'When counts of this outcome were last added (within about a second of the evaluation)';
REVOKE ALL ON ff.evaluation_stats FROM PUBLIC;

-- ff.evaluation_stats_info: the state of the statistics table
CREATE FUNCTION ff.evaluation_stats_info(
    OUT entries bigint,
    OUT entries_all_databases bigint,
    OUT max_entries integer,
    OUT dropped bigint,
    OUT track_evaluations boolean,
    OUT stats_since timestamptz)
RETURNS record
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ff_evaluation_stats_info';

COMMENT ON FUNCTION ff.evaluation_stats_info() IS
'Entries of ff.evaluation_stats (this database, all databases, ff.stats_max_entries), this database''s evaluations dropped because the table was full, ff.track_evaluations, and since when this database is counted';
REVOKE ALL ON FUNCTION ff.evaluation_stats_info() FROM PUBLIC;

-- ff.reset_evaluation_stats: forget counts of the current database
CREATE FUNCTION ff.reset_evaluation_stats(environment text DEFAULT NULL, flag_key text DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'ff_reset_evaluation_stats';

COMMENT ON FUNCTION ff.reset_evaluation_stats(text, text) IS
'Removes the evaluation statistics of the current database (of one environment and/or flag key if given; all: stats_since restarts) and those of dropped databases; returns the number of the current database''s entries removed';
REVOKE ALL ON FUNCTION ff.reset_evaluation_stats(text, text) FROM PUBLIC;

-- ff.flag_usage: one row per flag, counted or not (stale-flag detection).
-- (1.24) A flag without entries has evaluations NULL, not 0, when this
-- database's evaluations were dropped since stats_since (the table was
-- full): its own may be among them, and "WHERE evaluations = 0" must not
-- call it unused.
CREATE VIEW ff.flag_usage WITH (security_invoker = true) AS
    SELECT f.environment,
           f.key AS flag_key,
           f.state,
           (CASE WHEN s.evaluations IS NOT NULL THEN s.evaluations
                 WHEN i.dropped = 0 THEN 0 END)::bigint AS evaluations,
           COALESCE(s.errors, 0)::bigint AS errors,
           COALESCE(s.variants_served, '{}'::text[]) AS variants_served,
           s.last_evaluated
      FROM ff.flags AS f
      LEFT JOIN (SELECT e.environment, e.flag_key,
                        pg_catalog.sum(e.evaluations) AS evaluations,
                        pg_catalog.sum(e.evaluations) FILTER (WHERE e.reason = 'ERROR') AS errors,
                        pg_catalog.array_agg(DISTINCT e.variant ORDER BY e.variant)
                            FILTER (WHERE e.variant IS NOT NULL) AS variants_served,
                        pg_catalog.max(e.last_evaluated) AS last_evaluated
                   FROM ff.evaluation_stats() AS e
                  GROUP BY e.environment, e.flag_key) AS s
        ON s.environment = f.environment AND s.flag_key = f.key
      CROSS JOIN ff.evaluation_stats_info() AS i;

COMMENT ON VIEW ff.flag_usage IS
'Per flag: evaluations counted since ff.evaluation_stats_info().stats_since, errors, the variants served and the last evaluation (0 evaluations: unused; one variant served: constant)';
COMMENT ON COLUMN ff.flag_usage.environment IS 'Environment of the flag';
COMMENT ON COLUMN ff.flag_usage.flag_key IS 'Flag key';
COMMENT ON COLUMN ff.flag_usage.state IS 'ENABLED or DISABLED';
COMMENT ON COLUMN ff.flag_usage.evaluations IS 'Evaluations counted (0: not evaluated since stats_since; NULL: none counted, but the table was full and dropped some of this database''s, 1.24)';
COMMENT ON COLUMN ff.flag_usage.errors IS 'Evaluations that returned the caller''s default with reason ERROR';
COMMENT ON COLUMN ff.flag_usage.variants_served IS 'Variants returned, sorted (one: the flag is constant in practice)';
COMMENT ON COLUMN ff.flag_usage.last_evaluated IS 'When it was last evaluated (NULL: not since stats_since)';
REVOKE ALL ON ff.flag_usage FROM PUBLIC;
-- ---------------------------------------------------------------------
-- Privileges: protected-environment administration, grant recipes for
-- the three roles (reader, editor, admin), and what PUBLIC may do
-- (src/sql/090_privileges.sql)
--
-- Roles are cluster-wide, so the install script creates none.  The
-- recipes grant the privileges of a level to an existing role:
--   reader  evaluates flags; reads neither rules nor history
--   editor  reader + reads everything, changes flags, segments and keys
--           (and environment metadata/description) in environments that
--           are not protected, reads and rolls back the history
--   admin   editor + environment management, protection settings; an
--           admin may UPDATE ff.environments.protected, which makes it an
--           ff administrator that protected environments accept
-- The levels are cumulative; ff.privilege_recipe() shows the statements.
--
-- PUBLIC keeps USAGE on schema ff and EXECUTE on the evaluation functions
-- and on the SECURITY INVOKER helpers (they run with the caller's table
-- privileges); nothing that writes, reads rules or history, or runs with
-- the owner's rights on data is granted to PUBLIC.  See the README (Privileges and protected environments).
-- ---------------------------------------------------------------------

-- ---- protected environments

-- ff.protect_environment protects an environment and, when allowed_roles
-- is given, sets the roles whose members may still change it.
CREATE FUNCTION ff.protect_environment(environment text, allowed_roles name[] DEFAULT NULL)
RETURNS ff.environments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text;
    roles       name[];
    result      ff.environments;
BEGIN
    IF environment IS NULL THEN
        RAISE EXCEPTION 'environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment to protect, for example SELECT ff.protect_environment(''production'');';
    END IF;
    env := ff._resolve_environment(environment);
    -- a role named twice is listed once (first place kept); a NULL element
    -- stays for the validation trigger to refuse
    IF protect_environment.allowed_roles IS NOT NULL THEN
        roles := ARRAY(SELECT r FROM unnest(protect_environment.allowed_roles) WITH ORDINALITY AS u(r, i)
                       GROUP BY r ORDER BY min(i));
    END IF;
    UPDATE ff.environments AS e
       SET protected = true,
           allowed_roles = COALESCE(roles, e.allowed_roles)
     WHERE e.name = env
       AND (NOT e.protected OR e.allowed_roles IS DISTINCT FROM COALESCE(roles, e.allowed_roles));
    SELECT * INTO result FROM ff.environments AS e WHERE e.name = env;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.protect_environment(text, name[]) IS
'Protects an environment: only ff administrators and members of allowed_roles (NULL: keep the current list) may change it';

-- ff.unprotect_environment removes the protection of an environment (its
-- allowed roles are kept for a later ff.protect_environment).
CREATE FUNCTION ff.unprotect_environment(environment text)
RETURNS ff.environments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    env         text;
    result      ff.environments;
BEGIN
    IF environment IS NULL THEN
        RAISE EXCEPTION 'environment must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the environment, for example SELECT ff.unprotect_environment(''staging'');';
    END IF;
    env := ff._resolve_environment(environment);
    UPDATE ff.environments AS e SET protected = false WHERE e.name = env AND e.protected;
    SELECT * INTO result FROM ff.environments AS e WHERE e.name = env;
    RETURN result;
END;
$$;

COMMENT ON FUNCTION ff.unprotect_environment(text) IS
'Removes the protection of an environment; any role with the table privileges may change it again (allowed_roles is kept); refused while the environment requires approvals';

-- ---- grant recipes

-- ff._recipe_functions lists the functions whose EXECUTE a level adds to
-- the level below it (the ones that exist: each part of the extension
-- brings its own).
CREATE FUNCTION ff._recipe_functions(level text)
RETURNS SETOF regprocedure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT p.oid::pg_catalog.regprocedure
      FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = 'ff'::pg_catalog.regnamespace
       AND p.proname = ANY (CASE $1
           WHEN 'reader' THEN ARRAY[
               'evaluate', 'get_bool', 'get_string', 'get_int', 'get_float', 'get_object',
               'evaluate_all', 'evaluate_row', 'get_bool_row', 'get_string_row', 'get_int_row',
               'get_float_row', 'get_object_row', 'json_logic', 'bucket', 'cache_info',
               'current_version', '_evaluate_row_cols', '_get_bool_row_cols',
               '_get_string_row_cols', '_get_int_row_cols', '_get_float_row_cols',
               '_get_object_row_cols']
           WHEN 'editor' THEN ARRAY[
               'create_flag', 'set_targeting', 'set_default_variant', 'enable_flag', 'disable_flag',
               '_set_state', 'set_rollout', 'copy_flag', '_copy_segments', 'delete_flag',
               'create_segment', 'set_segment_rule', 'delete_segment', 'add_segment_keys',
               'remove_segment_keys', 'import_flagd', 'export_flagd', 'can_write_environment',
               'changes_since', 'verify_history', 'comment_change', 'rollback_flag', 'rollback_segment',
               'version_at', 'evaluate_at', 'evaluate_at_version', '_evaluate_image',
               'evaluate_draft', 'evaluate_draft_row', 'apply_draft', 'schedule_change',
               'schedule_rollout', 'cancel_scheduled_change', 'run_scheduled_changes',
               'evaluation_stats', 'evaluation_stats_info', 'request_change', 'approve_change',
               'reject_change', 'withdraw_change', 'apply_change', 'diff_environments']
           WHEN 'admin' THEN ARRAY[
               'create_environment', 'set_default_environment', 'delete_environment',
               'copy_environment', 'rollback_environment', 'protect_environment',
               'unprotect_environment', 'reset_evaluation_stats', 'require_approvals']
       END::pg_catalog.name[])
     ORDER BY p.proname, p.oid::pg_catalog.regprocedure::pg_catalog.text
$$;

COMMENT ON FUNCTION ff._recipe_functions(text) IS
'Internal: the functions whose EXECUTE privilege a recipe level (reader, editor, admin) adds to the level below';

-- ff.privilege_recipe returns the GRANT (or, with revoke, REVOKE)
-- statements of a level for a grantee, in the order they are run.  The
-- levels are cumulative: editor includes reader, admin includes editor.
CREATE FUNCTION ff.privilege_recipe(level text, grantee name, revoke boolean DEFAULT false)
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
    IF grantee = '' THEN
        -- (1.25) it gave GRANT ... TO "", which cannot run
        RAISE EXCEPTION 'grantee must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name the role, for example SELECT * FROM ff.privilege_recipe(''editor'', ''app_editor'');';
    END IF;
    IF grantee = 'public' THEN
        -- GRANT ... TO public (quoted or not) grants to every role (1.20)
        RAISE EXCEPTION 'grantee "public" means every role'
            USING ERRCODE = 'reserved_name',
                  DETAIL = 'GRANT ... TO public, quoted or not, gives the privileges to PUBLIC, every role.',
                  HINT = 'Name a role. PUBLIC already has what the README''s "What PUBLIC may do" lists.';
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
        RAISE EXCEPTION 'unknown privilege level "%"', ff._name_in_message(level)
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
            -- and every sequence, so that pg_dump can read their values (1.20)
            SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.relname) INTO readable
              FROM pg_class AS c
             WHERE c.relnamespace = 'ff'::regnamespace AND c.relkind = 'S';
            IF readable IS NOT NULL THEN
                RETURN NEXT format('%s SELECT ON SEQUENCE %s %s %s', verb, readable, dir, who);
            END IF;
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
CREATE FUNCTION ff._apply_recipe(level text, grantee regrole, revoke boolean)
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

-- ff.grant_reader lets a role evaluate flags (nothing else).
CREATE FUNCTION ff.grant_reader(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('reader', $1, false) $$;

COMMENT ON FUNCTION ff.grant_reader(regrole) IS
'Grants the reader recipe: USAGE on schema ff and EXECUTE on the evaluation functions; returns the statements run';

-- ff.grant_editor lets a role read everything and change flags and
-- segments in environments that are not protected.
CREATE FUNCTION ff.grant_editor(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('editor', $1, false) $$;

COMMENT ON FUNCTION ff.grant_editor(regrole) IS
'Grants the editor recipe (includes reader): read all, write flags/segments/keys outside protected environments, history and rollback; returns the statements run';

-- ff.grant_admin makes a role an ff administrator.
CREATE FUNCTION ff.grant_admin(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('admin', $1, false) $$;

COMMENT ON FUNCTION ff.grant_admin(regrole) IS
'Grants the admin recipe (includes editor): environment management and protection, writes in protected environments; returns the statements run';

-- ff.revoke_reader undoes ff.grant_reader.
CREATE FUNCTION ff.revoke_reader(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('reader', $1, true) $$;

COMMENT ON FUNCTION ff.revoke_reader(regrole) IS
'Revokes what ff.grant_reader grants; returns the statements run';

-- ff.revoke_editor undoes ff.grant_editor (reader privileges included).
CREATE FUNCTION ff.revoke_editor(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('editor', $1, true) $$;

COMMENT ON FUNCTION ff.revoke_editor(regrole) IS
'Revokes what ff.grant_editor grants (reader privileges included); returns the statements run';

-- ff.revoke_admin undoes ff.grant_admin (editor and reader privileges
-- included).
CREATE FUNCTION ff.revoke_admin(grantee regrole)
RETURNS SETOF text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ff._apply_recipe('admin', $1, true) $$;

COMMENT ON FUNCTION ff.revoke_admin(regrole) IS
'Revokes what ff.grant_admin grants (editor and reader privileges included); returns the statements run';

-- ---- names bound when the extension was created or updated

-- ff._foreign_dependencies lists what the extension's own objects (and the
-- rules of its views, the defaults and constraints of its tables) use
-- outside pg_catalog and ff: a function, operator, aggregate or type that
-- took the place of PostgreSQL's own while a script of the extension ran
-- (1.23; scripts before 1.23 ran with the search_path CREATE EXTENSION
-- sets, which starts with the schema it is run from).  Triggers and indexes
-- are left out: the extension's own name only ff functions and pg_catalog
-- operators, and users add their own (audit triggers, expression indexes)
-- that may call anything.  Empty when all is well; the 1.22 -> 1.23 update
-- warns about each row.
CREATE FUNCTION ff._foreign_dependencies(OUT object text, OUT uses text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH members AS (
        SELECT d.classid, d.objid
          FROM pg_catalog.pg_depend AS d
          JOIN pg_catalog.pg_extension AS x ON x.oid = d.refobjid
         WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
           AND x.extname = 'feature_flags'
    ), owned AS (
        SELECT classid, objid FROM members
        UNION ALL
        SELECT 'pg_catalog.pg_rewrite'::regclass, r.oid
          FROM pg_catalog.pg_rewrite AS r JOIN members AS m ON m.objid = r.ev_class
         WHERE m.classid = 'pg_catalog.pg_class'::regclass
        UNION ALL
        SELECT 'pg_catalog.pg_attrdef'::regclass, a.oid
          FROM pg_catalog.pg_attrdef AS a JOIN members AS m ON m.objid = a.adrelid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass
        UNION ALL
        SELECT 'pg_catalog.pg_constraint'::regclass, c.oid
          FROM pg_catalog.pg_constraint AS c JOIN members AS m ON m.objid = c.conrelid
         WHERE m.classid = 'pg_catalog.pg_class'::regclass
    )
    SELECT DISTINCT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid),
           pg_catalog.pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
      FROM owned AS o
      JOIN pg_catalog.pg_depend AS d ON d.classid = o.classid AND d.objid = o.objid
     CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.refclassid, d.refobjid, 0) AS r
     WHERE d.deptype = 'n'
       AND d.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass,
                            'pg_catalog.pg_type'::regclass, 'pg_catalog.pg_collation'::regclass,
                            'pg_catalog.pg_class'::regclass)
       AND r.schema IS NOT NULL AND r.schema NOT IN ('pg_catalog', 'ff')
     ORDER BY 1, 2
$$;

COMMENT ON FUNCTION ff._foreign_dependencies() IS
'Internal: what the extension''s objects (functions, views, column defaults and constraints; not triggers or indexes) use outside pg_catalog and ff (a look-alike bound while an install or update script ran); empty when all is well';

REVOKE ALL ON FUNCTION ff._foreign_dependencies() FROM PUBLIC;

-- ---- what PUBLIC may do

-- no table, view or sequence of ff is readable or writable by PUBLIC
REVOKE ALL ON ALL TABLES IN SCHEMA ff FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ff FROM PUBLIC;

-- the functions above are for administrators
REVOKE ALL ON FUNCTION ff.protect_environment(text, name[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.unprotect_environment(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._recipe_functions(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.privilege_recipe(text, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff._apply_recipe(text, regrole, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.grant_reader(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.grant_editor(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.grant_admin(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.revoke_reader(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.revoke_editor(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION ff.revoke_admin(regrole) FROM PUBLIC;

-- Every function that runs with the owner's rights is closed to PUBLIC,
-- except the two whose answers are safe for anyone: ff.current_version
-- (a number) and ff._environment_protection (which environments are
-- protected), for the protection triggers of every writer (as is
-- ff._approvals_required, C from 1.17, which tells how many approvals an
-- environment asks for).  The admin
-- functions (SECURITY INVOKER) were revoked where they are defined; the
-- recipes grant them back by level.
DO $$
DECLARE
    fn          regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_catalog.pg_proc AS p
               WHERE p.pronamespace = 'ff'::pg_catalog.regnamespace AND p.prosecdef
                 AND p.proname NOT IN ('current_version', '_environment_protection')
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
    END LOOP;
END;
$$;
-- ---------------------------------------------------------------------
-- Logical replication: regional read copies of the configuration
-- (src/sql/095_replication.sql)
--
-- Design (the README's "Regional copies" section has the user-facing recipe):
--  * One publication carries ff.versions together with the config tables
--    (ff.create_publication).  The subscriber receives the publisher's
--    history rows verbatim, so its chain is the publisher's chain and
--    verifies; config rows arrive with the stamps that reference them.
--  * The apply worker runs with session_replication_role = replica, where
--    ordinary triggers do not fire: the subscriber's validation and
--    history triggers (ff_10_*, ff_90_*) stay silent on apply, so nothing
--    is validated or recorded twice.
--  * The evaluation cache must still learn about applied rows: the
--    ordinary statement triggers ff_invalidate_cache do not fire on apply
--    (and the apply worker fires no statement triggers except for
--    TRUNCATE), so row triggers ff_invalidate_cache_apply, ENABLE REPLICA,
--    invalidate it.  They fire only when session_replication_role =
--    replica and cost nothing in ordinary sessions.
--  * The change notification is sent by ff_90_notify_apply (ENABLE
--    REPLICA) for every change-set the apply worker commits; a change-set
--    that a two_phase subscription prepares gets none, as on the publisher.
--  * A database subscribed to any ff table refuses configuration writes
--    made directly on it (ff_00_subscriber_guard): they would be lost or
--    overwritten, and their versions would collide with the publisher's.
--
-- Concurrency (test/t/050_mixed_load.pl): every write statement on a
-- config table takes the history writer lock (src/ff_history.c) in a
-- BEFORE STATEMENT trigger, ff_01_writer_lock, i.e. before it locks any
-- config row.  Without it, the lock was taken by the first BEFORE ROW
-- trigger, after the row itself was locked, so two transactions writing
-- the same flags in a different order (or one writing two flags while
-- another writes one of them) deadlocked: the one holding the writer
-- lock waited for a row lock held by the one waiting for the writer lock.
-- ---------------------------------------------------------------------

-- ff._replication_tables: the tables a configuration publication carries, history first
CREATE FUNCTION ff._replication_tables()
RETURNS regclass[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ARRAY['ff.versions'::regclass, 'ff.environments'::regclass, 'ff.flags'::regclass,
                 'ff.segments'::regclass, 'ff.segment_keys'::regclass]
$$;
COMMENT ON FUNCTION ff._replication_tables() IS
    'Internal: the tables a configuration publication carries: ff.versions, ff.environments, ff.flags, ff.segments, ff.segment_keys';

-- ff.create_publication: creates a publication of the configuration and its history
CREATE FUNCTION ff.create_publication(name text DEFAULT 'ff_config')
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
REVOKE ALL ON FUNCTION ff.create_publication(text) FROM PUBLIC;

-- ff.prepare_subscriber: empties a freshly installed database so that it can subscribe to a
--   configuration publication
CREATE FUNCTION ff.prepare_subscriber()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n_versions  bigint;
    n_written   bigint;
    n_keys      bigint;
    n_removed   bigint := 0;
    n           bigint;
    old_role    text := pg_catalog.current_setting('session_replication_role');
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = CURRENT_USER) THEN
        RAISE EXCEPTION 'permission denied to prepare a subscriber'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'ff.prepare_subscriber() removes configuration rows without recording history.',
                  HINT = 'Run it as a superuser, like CREATE SUBSCRIPTION.';
    END IF;
    SELECT pg_catalog.count(*) INTO n_versions FROM ff.versions;
    SELECT (SELECT pg_catalog.count(*) FROM ff.environments AS e WHERE e.version IS NOT NULL)
         + (SELECT pg_catalog.count(*) FROM ff.flags)
         + (SELECT pg_catalog.count(*) FROM ff.segments)
      INTO n_written;
    SELECT pg_catalog.count(*) INTO n_keys FROM ff.segment_keys;
    IF n_versions > 0 OR n_written > 0 OR n_keys > 0 THEN
        RAISE EXCEPTION 'database "%" already holds feature flag configuration', pg_catalog.current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('%s versions, %s written environments, flags or segments, %s segment keys.',
                                             n_versions, n_written, n_keys),
                  HINT = 'A subscriber receives its configuration and history from the publisher: start from a database where CREATE EXTENSION feature_flags has just run.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_subscription_rel AS r
                WHERE r.srrelid = ANY (ff._replication_tables())) THEN
        RAISE EXCEPTION 'database "%" already subscribes to feature flag tables', pg_catalog.current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- the environments the install script created (the default one) would
    -- collide with the publisher's copies; remove them without validation
    -- or history (ordinary triggers are silent under replica)
    PERFORM pg_catalog.set_config('session_replication_role', 'replica', true);
    DELETE FROM ff.environments;
    GET DIAGNOSTICS n = ROW_COUNT;
    n_removed := n_removed + n;
    PERFORM pg_catalog.set_config('session_replication_role', old_role, true);
    RETURN n_removed;
END;
$$;
COMMENT ON FUNCTION ff.prepare_subscriber() IS
    'Removes the rows CREATE EXTENSION created (the default environment) from a fresh database, without history, so that it can subscribe to a publication made by ff.create_publication(); superuser only; returns the number of rows removed';
REVOKE ALL ON FUNCTION ff.prepare_subscriber() FROM PUBLIC;

-- ff.subscribed_tables: the ff tables this database receives by logical replication, and from which
--   subscription
CREATE FUNCTION ff.subscribed_tables(OUT table_name regclass, OUT subscription name, OUT sync_state text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.srrelid::regclass, s.subname,
           CASE r.srsubstate
               WHEN 'i' THEN 'initialize' WHEN 'd' THEN 'data copy' WHEN 'f' THEN 'finished copy'
               WHEN 's' THEN 'synchronized' WHEN 'r' THEN 'ready' ELSE r.srsubstate::text
           END
      FROM pg_catalog.pg_subscription_rel AS r
      JOIN pg_catalog.pg_subscription AS s ON s.oid = r.srsubid
     WHERE r.srrelid = ANY (ff._replication_tables())
     ORDER BY pg_catalog.array_position(ff._replication_tables(), r.srrelid), s.subname
$$;
COMMENT ON FUNCTION ff.subscribed_tables() IS
    'The ff tables this database receives by logical replication: table, subscription and synchronisation state (ready when caught up); empty on a primary';

-- ff._replication_guard: refuses configuration writes made directly on a subscriber
--   (it reads only system catalogs, by OID and through their indexes: no privilege
--   or search_path is involved, so it runs as the caller)
CREATE FUNCTION ff._replication_guard()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_replication_guard';
COMMENT ON FUNCTION ff._replication_guard() IS
    'Trigger ff_00_subscriber_guard: refuses configuration writes made directly on a logical replication subscriber of the ff tables';
REVOKE ALL ON FUNCTION ff._replication_guard() FROM PUBLIC;

-- ff._history_writer_lock: takes the history writer lock at the start of a write statement,
--   before any config row is locked: a heavyweight lock held until the transaction ends
--   (src/ff_history.c; until 1.4, the row lock of ff.history_lock)
CREATE FUNCTION ff._history_writer_lock()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_history_writer_lock_1_5';
COMMENT ON FUNCTION ff._history_writer_lock() IS
    'Trigger ff_01_writer_lock: takes the history writer lock at the start of each write statement, before any config row is locked (no lock-order deadlocks between writers)';
REVOKE ALL ON FUNCTION ff._history_writer_lock() FROM PUBLIC;

-- ff._replication_notify: on a subscriber, queues the change notification of each change-set
--   the apply worker commits (src/ff_history.c; until 1.5 PL/pgSQL with pg_notify, which made
--   a two_phase subscription fail at every PREPARE it applied)
CREATE FUNCTION ff._replication_notify()
RETURNS trigger
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'ff_replication_notify';
COMMENT ON FUNCTION ff._replication_notify() IS
    'Trigger ff_90_notify_apply: on a subscriber, sends the change notification of each change-set the apply worker commits';
REVOKE ALL ON FUNCTION ff._replication_notify() FROM PUBLIC;

-- writes made directly on a subscriber: refused once per statement (an
-- ordinary trigger, so the apply worker itself is not affected)
CREATE TRIGGER ff_00_subscriber_guard
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._replication_guard();
CREATE TRIGGER ff_00_subscriber_guard
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff._replication_guard();
CREATE TRIGGER ff_00_subscriber_guard
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._replication_guard();
CREATE TRIGGER ff_00_subscriber_guard
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._replication_guard();

-- the writer lock first, then rows (an ordinary trigger: replicated rows
-- carry their versions and take no lock)
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();
-- (1.17) approval rules too: a rule set while a configuration write is in
-- flight waits for it, and a write that takes the lock later sees the rule
-- (ff._approvals_required reads it as last committed)
CREATE TRIGGER ff_01_writer_lock
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ff.approval_rules
    FOR EACH STATEMENT EXECUTE FUNCTION ff._history_writer_lock();

-- applied rows invalidate the evaluation cache: row triggers, because the
-- apply worker fires statement triggers only for TRUNCATE; one relcache
-- invalidation per table and transaction (duplicates are merged)
CREATE TRIGGER ff_invalidate_cache_apply
    AFTER INSERT OR UPDATE OR DELETE ON ff.environments
    FOR EACH ROW EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply
    AFTER INSERT OR UPDATE OR DELETE ON ff.flags
    FOR EACH ROW EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply
    AFTER INSERT OR UPDATE OR DELETE ON ff.segments
    FOR EACH ROW EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply
    AFTER INSERT OR UPDATE OR DELETE ON ff.segment_keys
    FOR EACH ROW EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply_truncate
    AFTER TRUNCATE ON ff.environments
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply_truncate
    AFTER TRUNCATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply_truncate
    AFTER TRUNCATE ON ff.segments
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();
CREATE TRIGGER ff_invalidate_cache_apply_truncate
    AFTER TRUNCATE ON ff.segment_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ff.invalidate_cache();

-- the change notification of applied change-sets, at commit
CREATE CONSTRAINT TRIGGER ff_90_notify_apply
    AFTER INSERT ON ff.versions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.version = NEW.change_set)
    EXECUTE FUNCTION ff._replication_notify();

-- these fire only when session_replication_role = replica (the apply worker)
ALTER TABLE ff.environments ENABLE REPLICA TRIGGER ff_invalidate_cache_apply;
ALTER TABLE ff.flags ENABLE REPLICA TRIGGER ff_invalidate_cache_apply;
ALTER TABLE ff.segments ENABLE REPLICA TRIGGER ff_invalidate_cache_apply;
ALTER TABLE ff.segment_keys ENABLE REPLICA TRIGGER ff_invalidate_cache_apply;
ALTER TABLE ff.environments ENABLE REPLICA TRIGGER ff_invalidate_cache_apply_truncate;
ALTER TABLE ff.flags ENABLE REPLICA TRIGGER ff_invalidate_cache_apply_truncate;
ALTER TABLE ff.segments ENABLE REPLICA TRIGGER ff_invalidate_cache_apply_truncate;
ALTER TABLE ff.segment_keys ENABLE REPLICA TRIGGER ff_invalidate_cache_apply_truncate;
ALTER TABLE ff.versions ENABLE REPLICA TRIGGER ff_90_notify_apply;

COMMENT ON TRIGGER ff_00_subscriber_guard ON ff.environments IS
    'Refuses writes on a logical replication subscriber of the configuration (ordinary: the apply worker is not affected)';
COMMENT ON TRIGGER ff_00_subscriber_guard ON ff.flags IS
    'Refuses writes on a logical replication subscriber of the configuration (ordinary: the apply worker is not affected)';
COMMENT ON TRIGGER ff_00_subscriber_guard ON ff.segments IS
    'Refuses writes on a logical replication subscriber of the configuration (ordinary: the apply worker is not affected)';
COMMENT ON TRIGGER ff_00_subscriber_guard ON ff.segment_keys IS
    'Refuses writes on a logical replication subscriber of the configuration (ordinary: the apply worker is not affected)';
COMMENT ON TRIGGER ff_01_writer_lock ON ff.environments IS
    'Takes the history writer lock before the statement locks any row (writers never deadlock on lock order)';
COMMENT ON TRIGGER ff_01_writer_lock ON ff.flags IS
    'Takes the history writer lock before the statement locks any row (writers never deadlock on lock order)';
COMMENT ON TRIGGER ff_01_writer_lock ON ff.segments IS
    'Takes the history writer lock before the statement locks any row (writers never deadlock on lock order)';
COMMENT ON TRIGGER ff_01_writer_lock ON ff.segment_keys IS
    'Takes the history writer lock before the statement locks any row (writers never deadlock on lock order)';
COMMENT ON TRIGGER ff_invalidate_cache_apply ON ff.environments IS
    'ENABLE REPLICA: rows applied by logical replication invalidate the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply ON ff.flags IS
    'ENABLE REPLICA: rows applied by logical replication invalidate the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply ON ff.segments IS
    'ENABLE REPLICA: rows applied by logical replication invalidate the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply ON ff.segment_keys IS
    'ENABLE REPLICA: rows applied by logical replication invalidate the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply_truncate ON ff.environments IS
    'ENABLE REPLICA: a TRUNCATE applied by logical replication invalidates the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply_truncate ON ff.flags IS
    'ENABLE REPLICA: a TRUNCATE applied by logical replication invalidates the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply_truncate ON ff.segments IS
    'ENABLE REPLICA: a TRUNCATE applied by logical replication invalidates the evaluation cache';
COMMENT ON TRIGGER ff_invalidate_cache_apply_truncate ON ff.segment_keys IS
    'ENABLE REPLICA: a TRUNCATE applied by logical replication invalidates the evaluation cache';
COMMENT ON TRIGGER ff_90_notify_apply ON ff.versions IS
    'ENABLE REPLICA: the change notification of each change-set applied by logical replication';
