--
-- 210_json_logic: every operator through ff.json_logic, rule errors, and
-- ff._check_rule.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS feature_flags;

CREATE TEMP TABLE cases (n serial, rule jsonb, data jsonb);
INSERT INTO cases (rule, data) VALUES
    -- literals and arrays evaluate to themselves / element-wise
    ('17', '{}'), ('"text"', '{}'), ('null', '{}'), ('[1, {"var": "a"}]', '{"a": 2}'),
    -- var: dotted paths, array indices, defaults, the whole data, numbers as text
    ('{"var": "a"}', '{"a": 1}'),
    ('{"var": "user.name"}', '{"user": {"name": "ann"}}'),
    ('{"var": "list.1"}', '{"list": ["x", "y", "z"]}'),
    ('{"var": "list.01"}', '{"list": ["x", "y", "z"]}'),
    ('{"var": 1}', '["x", "y"]'),
    ('{"var": ["missing", "fallback"]}', '{}'),
    ('{"var": ["a", "fallback"]}', '{"a": null}'),
    ('{"var": ""}', '{"a": [1, 2]}'),
    ('{"var": "a.b.c"}', '{"a": {"b": 5}}'),
    ('{"var": "big"}', '{"big": 12345678901234567890}'),
    ('{"var": "frac"}', '{"frac": 0.1}'),
    ('{"var": "tiny"}', '{"tiny": 1e-30}'),
    -- missing, missing_some
    ('{"missing": ["a", "b", "c"]}', '{"a": 1, "c": ""}'),
    ('{"missing": [["a", "b"]]}', '{"b": 0}'),
    ('{"missing_some": [1, ["a", "b", "c"]]}', '{"b": 1}'),
    ('{"missing_some": [2, ["a", "b", "c"]]}', '{"b": 1}'),
    -- if and ?:
    ('{"if": [true, "yes", "no"]}', '{}'),
    ('{"if": [0, "a", "", "b", "c"]}', '{}'),
    ('{"if": [false, "x"]}', '{}'),
    ('{"if": ["only"]}', '{}'),
    ('{"if": []}', '{}'),
    ('{"?:": [[], "truthy", "falsy"]}', '{}'),
    -- equality
    ('{"==": [1, "1"]}', '{}'), ('{"===": [1, "1"]}', '{}'),
    ('{"!=": [1, "1"]}', '{}'), ('{"!==": [1, "1"]}', '{}'),
    ('{"==": [null, null]}', '{}'), ('{"==": [0, false]}', '{}'),
    -- negation and truthiness ("0" is truthy, [] is falsy)
    ('{"!": [[]]}', '{}'), ('{"!": "0"}', '{}'), ('{"!!": [[0]]}', '{}'), ('{"!!": ""}', '{}'),
    -- and / or return an operand
    ('{"and": [1, "a", 0, "b"]}', '{}'), ('{"and": [1, "last"]}', '{}'),
    ('{"or": [0, "", "first"]}', '{}'), ('{"or": [0, false]}', '{}'),
    -- comparisons, including the 3-argument between forms
    ('{">": [2, 1]}', '{}'), ('{">=": [1, 1]}', '{}'), ('{"<": [1, 2]}', '{}'), ('{"<=": [2, 1]}', '{}'),
    ('{"<": [1, 2, 3]}', '{}'), ('{"<": [1, 1, 3]}', '{}'), ('{"<=": [1, 1, 3]}', '{}'),
    ('{">": ["10", 9]}', '{}'),
    -- arithmetic
    ('{"+": [1, "2", 3.5]}', '{}'), ('{"+": "7"}', '{}'), ('{"-": [10, 4]}', '{}'), ('{"-": 3}', '{}'),
    ('{"*": [2, 3, 4]}', '{}'), ('{"/": [7, 2]}', '{}'), ('{"%": [7, 3]}', '{}'),
    ('{"+": [0.1, 0.2]}', '{}'), ('{"/": [1, 0]}', '{}'),
    ('{"min": [3, 1, 2]}', '{}'), ('{"max": [3, 1, 2]}', '{}'),
    -- strings
    ('{"cat": ["a", 1, "-", true]}', '{}'),
    ('{"substr": ["jsonlogic", 4]}', '{}'), ('{"substr": ["jsonlogic", -5]}', '{}'),
    ('{"substr": ["jsonlogic", 1, 3]}', '{}'), ('{"substr": ["jsonlogic", 4, -2]}', '{}'),
    ('{"in": ["Spring", "Springfield"]}', '{}'), ('{"in": ["b", ["a", "b"]]}', '{}'),
    ('{"in": ["z", ["a", "b"]]}', '{}'),
    -- arrays
    ('{"merge": [[1, 2], 3, [[4]]]}', '{}'),
    ('{"map": [{"var": "xs"}, {"*": [{"var": ""}, 2]}]}', '{"xs": [1, 2, 3]}'),
    ('{"filter": [{"var": "xs"}, {">": [{"var": ""}, 1]}]}', '{"xs": [1, 2, 3]}'),
    ('{"reduce": [{"var": "xs"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 10]}', '{"xs": [1, 2, 3]}'),
    ('{"all": [{"var": "xs"}, {">": [{"var": ""}, 0]}]}', '{"xs": [1, 2, 3]}'),
    ('{"all": [[], true]}', '{}'),
    ('{"some": [{"var": "xs"}, {">": [{"var": ""}, 2]}]}', '{"xs": [1, 2, 3]}'),
    ('{"none": [{"var": "xs"}, {">": [{"var": ""}, 2]}]}', '{"xs": [1, 2, 3]}'),
    -- starts_with / ends_with: both arguments must be strings, else null
    ('{"starts_with": [{"var": "email"}, "admin"]}', '{"email": "admin@x.org"}'),
    ('{"ends_with": [{"var": "email"}, "@x.org"]}', '{"email": "admin@x.org"}'),
    ('{"ends_with": [{"var": "email"}, "@y.org"]}', '{"email": "admin@x.org"}'),
    ('{"starts_with": [123, "1"]}', '{}'),
    ('{"ends_with": ["3", 3]}', '{}'),
    -- sem_ver
    ('{"sem_ver": ["3.0.1", "~", "3.0.0"]}', '{}'),
    ('{"sem_ver": ["3.1.0", "^", "3.0.0"]}', '{}'),
    ('{"sem_ver": ["3.1.0", "~", "3.0.0"]}', '{}'),
    ('{"sem_ver": ["4.0.0", "^", "3.0.0"]}', '{}'),
    ('{"sem_ver": ["2.0.0-alpha", "<", "2.0.0"]}', '{}'),
    ('{"sem_ver": ["v1.2", "=", "1.2.0"]}', '{}'),
    ('{"sem_ver": ["1.0.0+build", "=", "1.0.0+other"]}', '{}'),
    ('{"sem_ver": [{"var": "version"}, ">=", "1.10.0"]}', '{"version": "1.9.9"}'),
    ('{"sem_ver": ["not-a-version", "=", "1.0.0"]}', '{}'),
    ('{"sem_ver": [1.2, ">", "1.1"]}', '{}'),
    -- fractional (flagd v2 bucketing: murmur3 of the bucketing string)
    ('{"fractional": [{"var": "seed"}, ["clubs", 25], ["diamonds", 25], ["hearts", 25], ["spades", 25]]}',
     '{"seed": "fractional-flagjack"}'),
    ('{"fractional": [{"var": "seed"}, ["clubs", 25], ["diamonds", 25], ["hearts", 25], ["spades", 25]]}',
     '{"seed": "fractional-flagqueen"}'),
    ('{"fractional": [{"var": "targetingKey"}, ["lower", 50], ["upper", 50]]}', '{"targetingKey": "SI7p-"}'),
    ('{"fractional": [{"var": "targetingKey"}, ["lower", 50], ["upper", 50]]}', '{"targetingKey": "6LvT0"}'),
    ('{"fractional": [{"var": "k"}, ["one", {"var": "w"}], ["two", 100]]}', '{"k": "anything", "w": -50}'),
    ('{"fractional": [{"var": "k"}, ["one", 0], ["two", 0]]}', '{"k": "anything"}'),
    ('{"fractional": [{"var": "k"}, ["only"]]}', '{"k": "anything"}'),
    -- $flagd is only injected for flags, not here
    ('{"var": "$flagd.flagKey"}', '{}');
SELECT n, rule::text, data::text, ff.json_logic(rule, data) AS result FROM cases ORDER BY n;


-- the data defaults to {}; SQL NULL data is JSON null; a NULL rule gives NULL
SELECT ff.json_logic('{"var": "a"}') AS no_data,
       ff.json_logic('{"var": ""}', NULL) AS null_data,
       ff.json_logic(NULL, '{}') AS null_rule;
-- results of every JSON type come back as jsonb
SELECT jsonb_typeof(ff.json_logic('{"var": "x"}', jsonb_build_object('x', v))) AS type
  FROM unnest(ARRAY['1', '"s"', 'true', 'null', '[1]', '{"a": 1}']::jsonb[]) AS v;

-- invalid rules raise invalid_parameter_value, naming the path and the problem
\set VERBOSITY default
SELECT ff.json_logic('{"nope": [1]}');
SELECT ff.json_logic('{"if": [{"==": [1, 1]}, {"bogus": 1}, 2]}');
SELECT ff.json_logic('{"starts_with": ["a"]}');
SELECT ff.json_logic('{"sem_ver": ["1.0.0", "===", "1.0.0"]}');
SELECT ff.json_logic('{"fractional": [{"var": "k"}, ["a", 25.5], ["b", 74.5]]}');
SELECT ff.json_logic('{"fractional": [{"var": "k"}, ["a", -50], ["b", 100]]}');
-- segments exist only for flags
SELECT ff.json_logic('{"in_segment": "beta"}');
-- the errcode is invalid_parameter_value
SET client_min_messages = notice;
DO $$
BEGIN
    PERFORM ff.json_logic('{"nope": 1}');
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE NOTICE 'caught invalid_parameter_value';
END;
$$;
SET client_min_messages = warning;

-- a call site compiles its rule once and keeps it while the rule stays the
-- same (compared byte for byte): one rule over many rows, a rule read from
-- a table that changes from row to row (and comes back; two of its rules
-- differ in one byte, not in length), short and long
-- data documents read from a table, a PL/pgSQL loop whose expression keeps
-- its call site across calls, and a rule that does not compile on a later
-- row, which raises its ERROR there as before
CREATE TEMP TABLE jl_rows (id int, rule jsonb, doc jsonb);
INSERT INTO jl_rows
SELECT g,
       CASE g % 3 WHEN 0 THEN CASE WHEN g % 2 = 0 THEN '{"==": [{"var": "n"}, 3]}' ELSE '{"!=": [{"var": "n"}, 3]}' END
                  WHEN 1 THEN '{"cat": [{"var": "s"}, "-", {"var": "n"}]}'
                  ELSE '{"if": [{">": [{"var": "n"}, 10]}, "big", "small"]}' END::jsonb,
       jsonb_build_object('n', g % 20, 's', 'row' || g)
       || CASE WHEN g % 7 = 0 THEN jsonb_build_object('pad', repeat('x', 300)) ELSE '{}' END
  FROM generate_series(1, 300) AS g;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE ff.json_logic('{"and": [{">=": [{"var": "n"}, 5]}, {"<": [{"var": "n"}, 8]}]}', doc) = 'true') AS five_to_seven,
       count(*) FILTER (WHERE doc->'n' IN ('5', '6', '7')) AS five_to_seven_expected
  FROM jl_rows;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE ff.json_logic(rule, doc) IS DISTINCT FROM ff.json_logic(rule::text::jsonb, doc::text::jsonb)) AS unlike_fresh_documents,
       count(*) FILTER (WHERE ff.json_logic(rule, doc) IS DISTINCT FROM
                             CASE id % 3 WHEN 0 THEN to_jsonb((id % 20 = 3) = (id % 2 = 0))
                                         WHEN 1 THEN to_jsonb('row' || id || '-' || id % 20)
                                         ELSE to_jsonb(CASE WHEN id % 20 > 10 THEN 'big' ELSE 'small' END) END) AS unlike_expected
  FROM jl_rows;
CREATE FUNCTION pg_temp.jl_loop() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r       record;
    answers text := '';
BEGIN
    FOR r IN SELECT rule, doc FROM jl_rows WHERE id <= 6 ORDER BY id LOOP
        answers := answers || ff.json_logic(r.rule, r.doc)::text || ' ';
    END LOOP;
    RETURN answers;
END $$;
SELECT pg_temp.jl_loop();
SELECT id, ff.json_logic(CASE WHEN id < 3 THEN '{"var": "n"}' ELSE '{"nope": 1}' END::jsonb, doc)
  FROM jl_rows WHERE id <= 4 ORDER BY id;
DROP TABLE jl_rows;

-- ff._check_rule: what the write-time validation uses
SELECT ff._check_rule('{"if": [{"in_segment": "beta"}, "on", "off"]}', 'targeting for flag "x"');
SELECT ff._check_rule('{"if": [{"==": [{"var": "a"}, 1]}, "on", {"var": "choice"}]}', 'targeting for flag "x"');
SELECT ff._check_rule('{"fractional": [["red", 50], ["blue", 50]]}', 'targeting for flag "x"');
SELECT ff._check_rule('true', 'targeting for flag "x"');
SELECT ff._check_rule(NULL, 'targeting for flag "x"');
SELECT ff._check_rule('{"if": [{"nope": 1}, "a", "b"]}', 'targeting for flag "x"');
SELECT ff._check_rule('{"in_segment": 1}', 'rule for segment "s"');
