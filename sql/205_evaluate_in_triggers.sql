-- Evaluations inside triggers that users write on the configuration tables
-- (1.19 library): an AFTER trigger, row or statement, whatever its name,
-- evaluates the configuration its own queries see -- the statement's rows
-- included -- and the bookkeeping behind it ends with the statement, also
-- when an exception block catches the statement's error.
SET client_min_messages = warning;
INSERT INTO ff.environments (name) VALUES ('glue_trg');
SET ff.environment = 'glue_trg';
SELECT key FROM ff.create_flag('paint', '{"red": "r", "blue": "b"}', 'blue');
SELECT key FROM ff.create_flag('trim', '{"red": "r", "blue": "b"}', 'blue');
SELECT name FROM ff.create_segment('beta');
SELECT key FROM ff.create_flag('beta-on', targeting => '{"if": [{"in_segment": "beta"}, "on", "off"]}');

CREATE TABLE public.trg_audit (n serial, msg text);
-- what the trigger's query sees, and what an evaluation answers
CREATE FUNCTION public.trg_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.trg_audit (msg) VALUES (format('%s: table %s/%s, get_string %s/%s',
        TG_NAME,
        (SELECT default_variant FROM ff.flags WHERE environment = 'glue_trg' AND key = 'paint'),
        (SELECT default_variant FROM ff.flags WHERE environment = 'glue_trg' AND key = 'trim'),
        ff.get_string('paint', '{}', '-'), ff.get_string('trim', '{}', '-')));
    RETURN NULL;
END;
$$;
CREATE TRIGGER aa_row AFTER UPDATE ON ff.flags FOR EACH ROW EXECUTE FUNCTION public.trg_log();
CREATE TRIGGER aa_statement AFTER UPDATE ON ff.flags FOR EACH STATEMENT EXECUTE FUNCTION public.trg_log();
CREATE TRIGGER zz_statement AFTER UPDATE ON ff.flags FOR EACH STATEMENT EXECUTE FUNCTION public.trg_log();

-- the cache is loaded before the write: the triggers must not be answered from it
SELECT ff.get_string('paint', '{}', '-') AS paint, ff.get_string('trim', '{}', '-') AS trim;
UPDATE ff.flags SET default_variant = 'red' WHERE environment = 'glue_trg' AND key = 'paint';
-- two rows in one statement: each AFTER ROW call sees both
UPDATE ff.flags SET default_variant = CASE key WHEN 'paint' THEN 'blue' ELSE 'red' END
 WHERE environment = 'glue_trg' AND key IN ('paint', 'trim');
SELECT regexp_replace(msg, '^aa_row', 'aa_row (either row)') AS msg FROM public.trg_audit ORDER BY n;
SELECT ff.get_string('paint', '{}', '-') AS paint, ff.get_string('trim', '{}', '-') AS trim;
DROP TRIGGER aa_row ON ff.flags;
DROP TRIGGER aa_statement ON ff.flags;
DROP TRIGGER zz_statement ON ff.flags;

-- a row trigger on the key list: the key just added is a member
CREATE FUNCTION public.trg_key_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.trg_audit (msg) VALUES (format('key %s: get_bool %s',
        NEW.targeting_key, ff.get_bool('beta-on', jsonb_build_object('targetingKey', NEW.targeting_key), NULL)));
    RETURN NULL;
END;
$$;
CREATE TRIGGER aa_key_row AFTER INSERT ON ff.segment_keys FOR EACH ROW EXECUTE FUNCTION public.trg_key_log();
TRUNCATE public.trg_audit;
SELECT ff.get_bool('beta-on', '{"targetingKey": "u42"}', NULL) AS before_the_key;
SELECT ff.add_segment_keys('beta', ARRAY['u42']);
SELECT msg FROM public.trg_audit ORDER BY n;
SELECT ff.get_bool('beta-on', '{"targetingKey": "u42"}', NULL) AS after_the_key;
DROP TRIGGER aa_key_row ON ff.segment_keys;

-- a write statement that fails inside an exception block ends with its
-- subtransaction: the statements after it use the cache without
-- rebuilding it at every command
BEGIN;
DO $$
BEGIN
    UPDATE ff.flags SET state = 'BOGUS' WHERE environment = 'glue_trg' AND key = 'paint';
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE WARNING 'caught';
END;
$$;
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT rebuilds AS r0 FROM ff.cache_info() \gset
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT ff.get_string('trim', '{}', '-') AS trim;
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT rebuilds - :r0 AS rebuilds_after_the_caught_error FROM ff.cache_info();
COMMIT;
-- and a write that succeeds in the same transaction as later reads: one
-- rebuild after it, not one per statement
BEGIN;
UPDATE ff.flags SET default_variant = 'red' WHERE environment = 'glue_trg' AND key = 'paint';
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT rebuilds AS r1 FROM ff.cache_info() \gset
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT rebuilds - :r1 AS rebuilds_after_the_write FROM ff.cache_info();
ROLLBACK;

-- a write to ff.approval_rules (the writer lock's other table, which no
-- evaluation reads) leaves no rebuild at every later command
BEGIN;
DELETE FROM ff.approval_rules WHERE false;
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT rebuilds AS r2 FROM ff.cache_info() \gset
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT rebuilds - :r2 AS rebuilds_after_approval_rules FROM ff.cache_info();
ROLLBACK;
-- write statements nested 40 deep by a trigger, the deepest one failing
-- in an exception block: all of them end, none keeps the rebuilds on
CREATE FUNCTION public.trg_nest() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key = 'paint' AND pg_trigger_depth() < 40 THEN
        UPDATE ff.flags SET description = pg_trigger_depth()::text
         WHERE environment = 'glue_trg' AND key = 'paint';
    ELSIF NEW.key = 'paint' THEN
        BEGIN
            UPDATE ff.flags SET state = 'BOGUS' WHERE environment = 'glue_trg' AND key = 'trim';
        EXCEPTION WHEN invalid_parameter_value THEN
            NULL;
        END;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER ab_nest AFTER UPDATE ON ff.flags FOR EACH ROW EXECUTE FUNCTION public.trg_nest();
BEGIN;
UPDATE ff.flags SET description = 'x' WHERE environment = 'glue_trg' AND key = 'paint';
SELECT description FROM ff.flags WHERE environment = 'glue_trg' AND key = 'paint';
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT rebuilds AS r3 FROM ff.cache_info() \gset
SELECT ff.get_string('paint', '{}', '-') AS paint;
SELECT ff.get_string('trim', '{}', '-') AS trim;
SELECT rebuilds - :r3 AS rebuilds_after_nested_writes FROM ff.cache_info();
ROLLBACK;
DROP TRIGGER ab_nest ON ff.flags;
DROP FUNCTION public.trg_nest();

RESET ff.environment;
DROP FUNCTION public.trg_log();
DROP FUNCTION public.trg_key_log();
DROP TABLE public.trg_audit;
DELETE FROM ff.flags WHERE environment = 'glue_trg';
DELETE FROM ff.segments WHERE environment = 'glue_trg';
DELETE FROM ff.environments WHERE name = 'glue_trg';
