--
-- 410_install_search_path: views and SQL-standard function bodies bind their
-- names when a script of the extension runs, and CREATE EXTENSION / ALTER
-- EXTENSION UPDATE run it with the search_path "<schema it is run from>,
-- pg_temp".  Look-alikes planted in public by a role that may create there
-- (in PostgreSQL 15 the database owner, or anyone granted CREATE on public)
-- must not be bound (1.23; 1.22 bound two of them).
--
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
RESET client_min_messages;

CREATE ROLE regress_ff_dbowner;
GRANT CREATE ON SCHEMA public TO regress_ff_dbowner;
SET ROLE regress_ff_dbowner;
-- each look-alike matches some call better than pg_catalog's function (a
-- variadic, polymorphic or "any" one) and says who ran it
CREATE FUNCTION public.regress_ff_trojan(what text) RETURNS void LANGUAGE plpgsql AS
$$BEGIN RAISE WARNING 'look-alike % ran as %', what, current_user; END$$;
CREATE FUNCTION public.format(text, text, text) RETURNS text LANGUAGE plpgsql AS
$$BEGIN PERFORM public.regress_ff_trojan('format'); RETURN pg_catalog.format($1, $2, $3); END$$;
CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE plpgsql AS
$$BEGIN PERFORM public.regress_ff_trojan('format'); RETURN pg_catalog.format($1, $2); END$$;
CREATE FUNCTION public.unnest(text[]) RETURNS SETOF text LANGUAGE plpgsql AS
$$BEGIN PERFORM public.regress_ff_trojan('unnest'); RETURN QUERY SELECT pg_catalog.unnest($1); END$$;
CREATE FUNCTION public.to_jsonb(text) RETURNS jsonb LANGUAGE plpgsql AS
$$BEGIN PERFORM public.regress_ff_trojan('to_jsonb'); RETURN pg_catalog.to_jsonb($1); END$$;
CREATE FUNCTION public.jsonb_build_object(text, text) RETURNS jsonb LANGUAGE plpgsql AS
$$BEGIN PERFORM public.regress_ff_trojan('jsonb_build_object'); RETURN pg_catalog.jsonb_build_object($1, $2); END$$;
CREATE FUNCTION public.cardinality(text[]) RETURNS integer LANGUAGE plpgsql AS
$$BEGIN PERFORM public.regress_ff_trojan('cardinality'); RETURN pg_catalog.cardinality($1); END$$;
CREATE FUNCTION public.regress_ff_count_step(bigint, text) RETURNS bigint LANGUAGE plpgsql AS
$$BEGIN PERFORM public.regress_ff_trojan('count'); RETURN $1 + CASE WHEN $2 IS NULL THEN 0 ELSE 1 END; END$$;
CREATE AGGREGATE public.count(text) (SFUNC = public.regress_ff_count_step, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION public.regress_ff_agg_step(text[], text) RETURNS text[] LANGUAGE plpgsql AS
$$BEGIN PERFORM public.regress_ff_trojan('array_agg'); RETURN $1 || $2; END$$;
CREATE AGGREGATE public.array_agg(text) (SFUNC = public.regress_ff_agg_step, STYPE = text[]);
RESET ROLE;

-- what the objects of schema ff use from public (pg_depend records no use of
-- pg_catalog's own objects, so any row is a look-alike)
CREATE VIEW pg_temp.uses_public AS
SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid) AS object,
       pg_describe_object(d.refclassid, d.refobjid, 0) AS uses
  FROM pg_depend AS d
 WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass, 'pg_type'::regclass)
   AND (d.refclassid <> 'pg_proc'::regclass
        OR d.refobjid IN (SELECT oid FROM pg_proc WHERE pronamespace = 'public'::regnamespace))
   AND (d.refclassid <> 'pg_operator'::regclass
        OR d.refobjid IN (SELECT oid FROM pg_operator WHERE oprnamespace = 'public'::regnamespace))
   AND (d.refclassid <> 'pg_type'::regclass
        OR d.refobjid IN (SELECT oid FROM pg_type WHERE typnamespace = 'public'::regnamespace))
   AND pg_describe_object(d.classid, d.objid, d.objsubid) LIKE '% ff.%';

-- 1.22 bound two of them
SET client_min_messages = warning;
CREATE EXTENSION feature_flags VERSION '1.22';
RESET client_min_messages;
SELECT * FROM pg_temp.uses_public ORDER BY 1, 2;
-- a use the update does not replace (a column default) is reported
ALTER TABLE ff.flags ALTER COLUMN metadata SET DEFAULT public.jsonb_build_object('planted', 'default');
-- the update to 1.23 binds every view and SQL-standard body again
ALTER EXTENSION feature_flags UPDATE TO '1.23';
-- the scripts' own search_path ends with them
SHOW search_path;
SELECT * FROM pg_temp.uses_public ORDER BY 1, 2;
SELECT * FROM ff._foreign_dependencies();
ALTER TABLE ff.flags ALTER COLUMN metadata SET DEFAULT '{}';
SELECT count(*) AS foreign_uses FROM ff._foreign_dependencies();
-- a trigger or an index users add to an ff table may call anything: not
-- reported
CREATE FUNCTION public.regress_ff_audit() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN RETURN NULL; END$$;
CREATE TRIGGER zz_regress_audit AFTER UPDATE ON ff.flags
    FOR EACH STATEMENT EXECUTE FUNCTION public.regress_ff_audit();
CREATE FUNCTION public.regress_ff_lower(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower($1)';
CREATE INDEX regress_ff_lower_key ON ff.flags (public.regress_ff_lower(key));
SELECT count(*) AS foreign_uses FROM ff._foreign_dependencies();
DROP TRIGGER zz_regress_audit ON ff.flags;
DROP INDEX ff.regress_ff_lower_key;
DROP FUNCTION public.regress_ff_audit(), public.regress_ff_lower(text);

-- a fresh 1.23 binds nothing of public
SET client_min_messages = warning;
DROP EXTENSION feature_flags;
CREATE EXTENSION feature_flags;
RESET client_min_messages;
SHOW search_path;
SELECT * FROM pg_temp.uses_public ORDER BY 1, 2;
SELECT count(*) AS foreign_uses FROM ff._foreign_dependencies();
SELECT has_function_privilege('public', 'ff._foreign_dependencies()', 'EXECUTE') AS public_may_check;

-- and the functions that called look-alikes run none (a WARNING would show)
SELECT key FROM ff.create_flag('rollout', variants => '{"on": true, "off": false}', default_variant => 'off');
SELECT key, targeting IS NOT NULL AS targeted FROM ff.set_rollout('rollout', 25);
SELECT ff.delete_flag('missing', 'no-such-environment');
SELECT ff.delete_flag('no such flag');
SELECT count(*) >= 0 AS read FROM ff.flags_overview;
SELECT count(*) >= 0 AS read FROM ff.segments_overview;
SELECT count(*) >= 0 AS read FROM ff.environments_overview;
SELECT count(*) >= 0 AS read FROM ff.history;
SELECT count(*) >= 0 AS read FROM ff.change_sets;
SELECT count(*) >= 0 AS read FROM ff.open_change_requests;

-- clean up
SET client_min_messages = warning;
DROP EXTENSION feature_flags;
RESET client_min_messages;
DROP AGGREGATE public.count(text);
DROP AGGREGATE public.array_agg(text);
DROP FUNCTION public.regress_ff_count_step(bigint, text), public.regress_ff_agg_step(text[], text),
              public.format(text, text, text), public.format(text, text), public.unnest(text[]),
              public.to_jsonb(text), public.jsonb_build_object(text, text), public.cardinality(text[]),
              public.regress_ff_trojan(text);
REVOKE CREATE ON SCHEMA public FROM regress_ff_dbowner;
DROP ROLE regress_ff_dbowner;
