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
    CONSTRAINT flags_state_check CHECK (state IN ('ENABLED', 'DISABLED')),
    CONSTRAINT flags_type_check CHECK (flag_type IN ('boolean', 'string', 'number', 'object'))
);

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
