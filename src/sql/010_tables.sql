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
