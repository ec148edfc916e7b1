-- feature_flags 1.19 -> 1.20 (ALTER EXTENSION feature_flags UPDATE TO '1.20')
--
-- 1.20 adds one internal table, ff._cache_signal_keys: a change to
-- ff.segment_keys invalidates it instead of ff._cache_signal, so that a
-- backend can tell a change of a segment's key list from the other
-- configuration changes, and keeps the key lists it loaded across those;
-- ff.cache_info() gains three columns (segment_loads, kept_segments,
-- kept_segment_keys) that show it.
-- The 1.20 library (key lists kept across changes; a large segment read
-- with a sequential scan of ff.segment_keys) serves every earlier version
-- as well: without this table, every change reloads the key lists, as
-- before.

\echo Use "ALTER EXTENSION feature_flags UPDATE TO '1.20'" to load this file. \quit

CREATE TABLE ff._cache_signal_keys ();
COMMENT ON TABLE ff._cache_signal_keys IS
    'Internal, always empty: its relcache invalidation at commit tells every backend (and hot standbys) to rebuild the evaluation cache and reload segment key lists';
REVOKE ALL ON TABLE ff._cache_signal_keys FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('ff._cache_signal_keys', 'WHERE false');

-- ff.cache_info: three more columns (1.20); its OUT columns change, so it is
-- made anew (EXECUTE stays with PUBLIC, as before)
DROP FUNCTION ff.cache_info();
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
