--
-- 320_flagd: ff.import_flagd / ff.export_flagd
--
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
CREATE EXTENSION feature_flags;
RESET client_min_messages;

-- the benchmark workload, read from ../shared next to the repository
\set docpath `echo "$PWD/../shared/bench/workload/flags.json"`
SELECT CASE WHEN pg_stat_file(:'docpath', true) IS NULL
            THEN 'MISSING: ../shared/bench/workload/flags.json (the shared/ directory must sit next to the repository)'
            ELSE 'found ../shared/bench/workload/flags.json' END AS workload;
SELECT pg_read_file(:'docpath')::jsonb AS doc \gset

--
-- round trip: import -> export -> import elsewhere -> export, equal
--
SELECT ff.import_flagd(:'doc');
SELECT key, state, flag_type, default_variant, targeting IS NOT NULL AS has_targeting
  FROM ff.flags ORDER BY key;
-- importing the same document again changes nothing
SELECT ff.import_flagd(:'doc');
SELECT ff.export_flagd() AS export1 \gset
SELECT name FROM ff.create_environment('copy');
SELECT ff.import_flagd(:'export1', 'copy');
SELECT ff.export_flagd('copy') AS export2 \gset
SELECT :'export1'::jsonb = :'export2'::jsonb AS round_trip_equal;
-- the export carries the same flags as the source document
SELECT :'export1'::jsonb -> 'flags' = (:'doc'::jsonb -> 'flags') AS flags_equal_to_source,
       :'export1'::jsonb ->> '$schema' AS schema;

--
-- $ref, metadata, defaultVariant null/absent, array form
--
SELECT name FROM ff.create_environment('production');
SELECT ff.import_flagd($${
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "metadata": {"flagSetId": "shop", "version": "7"},
  "$evaluators": {
    "is-employee": {"ends_with": [{"var": "email"}, "@example.com"]},
    "rich": {"in": [{"var": "plan"}, ["pro", "enterprise"]]}
  },
  "flags": {
    "checkout": {
      "state": "ENABLED",
      "variants": {"on": true, "off": false},
      "defaultVariant": "off",
      "targeting": {"if": [{"$ref": "is-employee"}, "on", {"$ref" : "rich"}, "on"]},
      "metadata": {"team": "payments", "ticket": 42}
    },
    "banner": {
      "state": "DISABLED",
      "variants": {"none": {}, "sale": {"text": "-20%"}},
      "defaultVariant": null
    },
    "limit": {
      "state": "ENABLED",
      "variants": {"low": 10, "high": 100}
    }
  }
}$$, 'production');
SELECT key, state, flag_type, default_variant, targeting, metadata
  FROM ff.flags WHERE environment = 'production' ORDER BY key;
SELECT metadata FROM ff.environments WHERE name = 'production';
SELECT jsonb_pretty(ff.export_flagd('production'));
-- the flagd daemon's array form of "flags"
SELECT ff.import_flagd('{"flags": [{"key": "from-array", "state": "ENABLED", "variants": {"a": "a"}, "defaultVariant": "a"}]}',
                       'production');
SELECT key, flag_type FROM ff.flags WHERE environment = 'production' AND key = 'from-array';

--
-- replace => true removes the flags the document does not mention
--
SELECT ff.import_flagd('{"flags": {"limit": {"state": "ENABLED", "variants": {"low": 10, "high": 100}, "defaultVariant": "high"}}}',
                       'production', replace => true);
SELECT key, default_variant FROM ff.flags WHERE environment = 'production' ORDER BY key;
-- metadata is kept when the document has none
SELECT metadata FROM ff.environments WHERE name = 'production';

--
-- invalid documents: an error naming the flag, and nothing written
--
SELECT ff.import_flagd(NULL);
SELECT ff.import_flagd('[]');
SELECT ff.import_flagd('{"flag": {}}');
SELECT ff.import_flagd('{"flags": "x"}');
SELECT ff.import_flagd('{"flags": [{"state": "ENABLED"}]}');
SELECT ff.import_flagd('{"flags": [{"key": "a", "state": "ENABLED", "variants": {"x": 1}}, {"key": "a", "state": "ENABLED", "variants": {"x": 1}}]}');
SELECT ff.import_flagd('{"flags": {"a": true}}');
SELECT ff.import_flagd('{"flags": {"a": {"variants": {"x": 1}}}}');
SELECT ff.import_flagd('{"flags": {"a": {"state": "ENABLED"}}}');
SELECT ff.import_flagd('{"flags": {"a": {"state": "on", "variants": {"x": 1}}}}');
SELECT ff.import_flagd('{"flags": {"a": {"state": "ENABLED", "variants": {"x": 1}, "defaultVariant": 1}}}');
SELECT ff.import_flagd('{"flags": {"a": {"state": "ENABLED", "variants": {"x": 1}, "defaultVariant": "y"}}}');
SELECT ff.import_flagd('{"flags": {}, "metadata": {"owner": {"team": "x"}}}');
SELECT ff.import_flagd('{"flags": {}, "$evaluators": []}');
-- flagd resolves "$ref" one level deep and leaves an unknown one in place:
-- the flag is stored with a WARNING (see "rules flagd loads" below)
SELECT ff.import_flagd('{"flags": {}, "$evaluators": {"a": {"$ref": "b"}, "b": {"var": "x"}}}');
SELECT ff.import_flagd('{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "targeting": {"if": [{"$ref": "nope"}, "on"]}}}}');
SELECT ff.import_flagd('{"$evaluators": {"x": {"var": "y"}}, "flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "targeting": {"if": [{"$ref": "nope"}, "on"]}}}}');
SELECT ff.import_flagd('{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "targeting": {"$ref": 1}}}}');
SELECT ff.import_flagd('{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}}}}', 'nope');
-- atomicity: the first flags are valid, the last one is not
SELECT ff.import_flagd('{"metadata": {"flagSetId": "changed"}, "flags": {
    "aaa-new": {"state": "ENABLED", "variants": {"on": true}},
    "limit": {"state": "DISABLED", "variants": {"low": 10, "high": 100}},
    "zzz-bad": {"state": "ENABLED", "variants": {"on": true, "off": "no"}}}}', 'production', replace => true);
SELECT key, state FROM ff.flags WHERE environment = 'production' ORDER BY key;
SELECT metadata FROM ff.environments WHERE name = 'production';
-- a literal result that is not a variant: flagd loads the flag, and so does
-- the import, with a WARNING that names the flag and the path
SELECT ff.import_flagd('{"flags": {"a": {"state": "ENABLED", "variants": {"on": true, "off": false},
                        "targeting": {"if": [true, "maybe"]}}}}', 'production');

--
-- export of segments: each segment used by a flag becomes a $evaluators
-- entry of plain JSON Logic (exclude list, include list, rule)
--
SELECT name FROM ff.create_segment('staff', '{"ends_with": [{"var": "email"}, "@example.com"]}', 'production');
SELECT name FROM ff.create_segment('beta', '{"in_segment": "staff"}', 'production',
                                   include => '{u1,u2}', exclude => '{u3}');
SELECT name FROM ff.create_segment('keys-only', NULL, 'production', include => '{u7}');
SELECT key FROM ff.set_targeting('limit', '{"if": [{"in_segment": "beta"}, "high",
    {"in_segment": ["keys-only", {"var": "account"}]}, "high"]}', 'production');
-- probes: which segment decides, and null (default variant) against false
SELECT key FROM ff.create_flag('seg-probe', '{"beta": "beta", "keys": "keys", "neither": "neither"}', 'neither',
    environment => 'production',
    targeting => '{"if": [{"in_segment": "beta"}, "beta", {"in_segment": ["keys-only", {"var": "account"}]}, "keys", "neither"]}');
SELECT key FROM ff.create_flag('keys-probe', '{"true": true, "false": false, "undecided": false}', 'undecided',
    environment => 'production', targeting => '{"in_segment": ["keys-only", {"var": "account"}]}');
SELECT ff.export_flagd('production') -> 'flags' -> 'limit' -> 'targeting' AS exported_targeting;
SELECT e.key AS evaluator, e.value AS rule FROM jsonb_each(ff.export_flagd('production') -> '$evaluators') AS e;
-- re-imported, the segments' logic is inlined and evaluates the same way
SELECT name FROM ff.create_environment('restore');
SELECT ff.import_flagd(ff.export_flagd('production'), 'restore');
SELECT targeting FROM ff.flags WHERE environment = 'restore' AND key = 'limit';
-- the same answers as the segments, with and without a (string) targeting key
SELECT c::text AS context, f AS flag, p.variant || ' ' || p.reason AS production,
       r.variant || ' ' || r.reason AS restored, (p.variant, p.reason) IS NOT DISTINCT FROM (r.variant, r.reason) AS same
  FROM unnest(ARRAY['{"targetingKey": "u1"}', '{"targetingKey": "u3", "email": "a@example.com"}',
                    '{"targetingKey": "u9", "email": "a@example.com"}', '{"targetingKey": "u9"}',
                    '{"email": "a@example.com"}', '{"email": "a@elsewhere.org"}', '{}',
                    '{"targetingKey": 7, "email": "a@example.com"}',
                    '{"account": "u7"}', '{"account": "u8"}', '{"account": 7}',
                    '{"targetingKey": "u3", "account": "u7"}']::jsonb[]) WITH ORDINALITY AS c(c, n),
       unnest(ARRAY['seg-probe', 'keys-probe']) AS f,
       LATERAL ff.evaluate(f, c, NULL, 'production') AS p,
       LATERAL ff.evaluate(f, c, NULL, 'restore') AS r
 ORDER BY n, f DESC;
SELECT count(*) AS segments_in_restore FROM ff.segments WHERE environment = 'restore';

--
-- rules flagd loads but cannot evaluate: ff.import_flagd loads them too
-- (ff.invalid_targeting = warning inside it), each with a WARNING; their
-- evaluations return the caller's default with reason ERROR, as flagd's do
--
SHOW ff.invalid_targeting;
SELECT name FROM ff.create_environment('compat');
SELECT ff.import_flagd($${
  "$evaluators": {"staff": {"ends_with": [{"var": "email"}, "@example.com"]},
                  "nested": {"$ref": "staff"}},
  "flags": {
    "typo-op": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "b",
                "targeting": {"iff": [true, "a", "b"]}},
    "lost-ref": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                 "targeting": {"if": [{"$ref": "stafff"}, "on", "off"]}},
    "nested-ref": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                   "targeting": {"if": [{"$ref": "nested"}, "on", "off"]}},
    "stray-result": {"state": "ENABLED", "variants": {"new": "new", "old": "old"}, "defaultVariant": "old",
                     "targeting": {"if": [{"==": [{"var": "v"}, 1]}, "new", {"==": [{"var": "v"}, 2]}, "retired", null]}},
    "good": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
             "targeting": {"if": [{"$ref": "staff"}, "on", "off"]}}
  }}$$, 'compat');
-- the session's setting is back to its default after the import
SHOW ff.invalid_targeting;
-- other schema violations are still refused (the malformed calls of flagd's
-- own operators are not: see the end), and the import writes nothing
SELECT ff.current_version() AS before_refused \gset
SELECT ff.import_flagd('{"flags": {"ok": {"state": "ENABLED", "variants": {"on": true, "off": false}},
    "bad-arity": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                  "targeting": {"if": [{"substr": [{"var": "email"}, 1, 2, 3]}, "on", "off"]}}}}', 'compat');
SELECT ff.import_flagd('{"flags": {"two-keys": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"==": [1, 1], "!=": [1, 2]}, "on", "off"]}}}}', 'compat');
SELECT ff.import_flagd('{"flags": {"bad-segment": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"in_segment": []}, "on", "off"]}}}}', 'compat');
SELECT ff.current_version() = :before_refused AS nothing_written;
SELECT key, targeting FROM ff.flags WHERE environment = 'compat' ORDER BY key;
SELECT c.ctx, r.flag_key, r.value, r.variant, r.reason, r.error_code, r.error_message
  FROM (VALUES ('typo-op', '{}', '0'), ('lost-ref', '{"email": "a@example.com"}', 'false'),
               ('nested-ref', '{"email": "a@example.com"}', 'false'), ('good', '{"email": "a@example.com"}', 'false'),
               ('stray-result', '{"v": 1}', '"caller"'), ('stray-result', '{"v": 2}', '"caller"'),
               ('stray-result', '{"v": 3}', '"caller"')) AS c(k, ctx, dflt),
       ff.evaluate(c.k, c.ctx::jsonb, c.dflt::jsonb, 'compat') AS r;
-- the typed getters answer the caller's default
SELECT ff.get_int('typo-op', '{}', 7, 'compat') AS typo_op,
       ff.get_bool('lost-ref', '{"email": "a@example.com"}', true, 'compat') AS lost_ref,
       ff.get_string('stray-result', '{"v": 2}', 'caller', 'compat') AS stray_result;
-- export gives the rules back as stored; a re-import warns again and
-- exports the same document (re-importing unchanged flags writes nothing)
SELECT ff.export_flagd('compat') -> 'flags' -> 'lost-ref' -> 'targeting' AS lost_ref_exported;
SELECT name FROM ff.create_environment('compat2');
SELECT ff.import_flagd(ff.export_flagd('compat'), 'compat2');
SELECT ff.export_flagd('compat') -> 'flags' = ff.export_flagd('compat2') -> 'flags' AS round_trip_equal;
SELECT ff.import_flagd(ff.export_flagd('compat'), 'compat2') AS reimported;
-- direct writes still refuse such a rule, unless the session asks otherwise
SELECT key FROM ff.set_targeting('good', '{"iff": [true, "on", "off"]}', 'compat');
-- (a flagd "$ref" pasted into a rule gets its own hint)
SELECT key FROM ff.set_targeting('good', '{"if": [{"$ref": "staff"}, "on", "off"]}', 'compat');
SELECT key FROM ff.set_targeting('good', '{"if": [true, "maybe", "off"]}', 'compat');
SELECT name FROM ff.create_segment('testers', NULL, 'compat');
SET ff.invalid_targeting = warning;
SELECT key FROM ff.set_targeting('good', '{"if": [{"in_segment": "testers"}, "on", {"iff": []}]}', 'compat');
-- a malformed call is refused even so (unless it is one of flagd's own
-- operators: see the end)
SELECT key FROM ff.set_targeting('good', '{"if": [{"substr": [{"var": "email"}, 1, 2, 3]}, "on", "off"]}', 'compat');
RESET ff.invalid_targeting;
SELECT targeting FROM ff.flags WHERE environment = 'compat' AND key = 'good';
SELECT r, ff._rule_compile_error(r::jsonb) AS compile_error
  FROM unnest(ARRAY['{"if": [true, "on"]}', '{"iff": []}', '{"$ref": "x"}', '{"ends_with": [1]}',
                    '{"var": "$flagd.nope"}', '{"a": 1, "b": 2}', '{"in_segment": "s"}']) AS r;
-- (1.12 library, from a differential test against flagd-core) a flagd call
-- that flagd loads, followed by an unknown operator, is an unknown operator,
-- as the reverse order always was: the import stores both orders (1.11
-- refused the first and so the whole document), and the WARNING names the
-- unknown operator that the evaluations report; a flagd call followed by a
-- call that is refused names the refused one (1.11 named the flagd call)
SELECT ff._rule_compile_error('{"if": [{"sem_ver": [{"var": "v"}, "~>", "1.0.0"]}, "on", {"iff": [true]}]}') AS flagd_call_then_unknown,
       ff._rule_compile_error('{"if": [{"iff": [true]}, "on", {"sem_ver": [{"var": "v"}, "~>", "1.0.0"]}]}') AS unknown_then_flagd_call,
       ff._rule_compile_error('{"if": [{"ends_with": ["abc", "c", "x"]}, {"*": []}, "off"]}') AS flagd_call_then_malformed;
SELECT name FROM ff.create_environment('compat-order');
SELECT ff.import_flagd('{"flags": {
    "call-then-unknown": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
        "targeting": {"if": [{"sem_ver": [{"var": "v"}, "~>", "1.0.0"]}, "on", {"iff": [true]}]}},
    "unknown-then-call": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
        "targeting": {"if": [{"iff": [true]}, "on", {"ends_with": ["abc", "c", "x"]}]}}}}', 'compat-order');
SELECT f.key, e.reason, e.error_code, e.error_message
  FROM ff.flags AS f, ff.evaluate(f.key, '{"v": "1.0.0"}', 'true', 'compat-order') AS e
 WHERE f.environment = 'compat-order' ORDER BY f.key;
SELECT ff.import_flagd('{"flags": {"call-then-malformed": {"state": "ENABLED", "variants": {"on": true, "off": false},
    "defaultVariant": "off", "targeting": {"if": [{"ends_with": ["abc", "c", "x"]}, {"*": []}, "off"]}}}}', 'compat-order');
-- a direct write refuses the first problem, the flagd call
SELECT key FROM ff.create_flag('direct', environment => 'compat-order');
SELECT key FROM ff.set_targeting('direct', '{"if": [{"sem_ver": [{"var": "v"}, "~>", "1.0.0"]}, "on", {"iff": [true]}]}', 'compat-order');
SELECT ff.current_version() AS broken_version \gset
-- a rule that does not compile still holds on to the segments it names
SELECT ff.delete_segment('testers', 'compat');
-- copies reproduce stored flags (and the segments they name), with the warning
SELECT key FROM ff.copy_flag('good', 'compat', 'production');
SELECT f.targeting, EXISTS (SELECT 1 FROM ff.segments AS s WHERE s.environment = 'production' AND s.name = 'testers') AS segment_copied
  FROM ff.flags AS f WHERE f.environment = 'production' AND f.key = 'good';
-- so do rollbacks: fixed, then rolled back to the broken rule
SELECT key FROM ff.set_targeting('good', '{"if": [{"in_segment": "testers"}, "on", "off"]}', 'compat');
SELECT ff.rollback_flag('good', :broken_version, 'compat');
SELECT targeting FROM ff.flags WHERE environment = 'compat' AND key = 'good';
-- a bad value for the setting
SET ff.invalid_targeting = 'ignore';
SELECT (ff.verify_history()).ok AS history_ok;

--
-- the kill switch wins: a disabled flag answers DISABLED (the caller's
-- default, its metadata) without looking at its targeting, even one that
-- cannot be evaluated, and without looking at the context
--
SELECT name FROM ff.create_environment('kill');
SELECT ff.import_flagd('{"flags": {
    "lost-ref": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                 "metadata": {"team": "web"}, "targeting": {"if": [{"$ref": "gone"}, "on", "off"]}},
    "typo-off": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                 "targeting": {"iff": [1]}}}}', 'kill');
SELECT key, state FROM ff.disable_flag('lost-ref', 'kill');
SELECT c.k, c.ctx, r.value, r.variant, r.reason, r.error_code, r.flag_metadata
  FROM (VALUES ('lost-ref', '{}'), ('lost-ref', '[1]'), ('typo-off', '{"targetingKey": "u"}'),
               ('typo-off', '"text"')) AS c(k, ctx),
       ff.evaluate(c.k, c.ctx::jsonb, 'true', 'kill') AS r;
SELECT ff.get_bool('lost-ref', '{}', true, 'kill') AS lost_ref_default,
       (ff.evaluate_all('{}', 'kill') -> 'typo-off' ->> 'reason') AS typo_off_in_evaluate_all;
-- enabled again, the broken targeting is what it answers with
SELECT key, state FROM ff.enable_flag('lost-ref', 'kill');
SELECT reason, error_code FROM ff.evaluate('lost-ref', '{}', 'true', 'kill');

--
-- calls of flagd's own operators that flagd's schema forbids but flagd
-- loads (the flagd testbed's edge-case flags): ff.import_flagd stores them
-- with a WARNING, and they evaluate as flagd evaluates them -- the call is
-- null (so an enclosing if takes its else branch, and a bare one selects the
-- default variant), a negative whole weight counts as 0, an unknown $flagd
-- property is missing
--
SELECT name FROM ff.create_environment('edge');
SELECT ff.import_flagd($${"flags": {
  "starts-with-wrong-args-flag": {"state": "ENABLED", "variants": {"true": "true", "false": "false", "fallback": "fallback"},
      "defaultVariant": "fallback", "targeting": {"starts_with": ["abc"]}},
  "ends-with-wrong-args-flag": {"state": "ENABLED", "variants": {"true": "true", "false": "false", "fallback": "fallback"},
      "defaultVariant": "fallback", "targeting": {"ends_with": ["xyz"]}},
  "semver-wrong-args-flag": {"state": "ENABLED", "variants": {"true": "true", "false": "false", "fallback": "fallback"},
      "defaultVariant": "fallback", "targeting": {"sem_ver": [{"var": "version"}, "="]}},
  "semver-invalid-operator-flag": {"state": "ENABLED", "variants": {"true": "true", "false": "false", "fallback": "fallback"},
      "defaultVariant": "fallback", "targeting": {"sem_ver": [{"var": "version"}, "===", "1.0.0"]}},
  "fractional-negative-weight-flag": {"state": "ENABLED", "variants": {"one": "one", "two": "two", "fallback": "fallback"},
      "defaultVariant": "fallback", "targeting": {"fractional": [{"var": "targetingKey"}, ["one", -50], ["two", 100]]}},
  "fractional-half-weight-flag": {"state": "ENABLED", "variants": {"one": "one", "two": "two", "fallback": "fallback"},
      "defaultVariant": "fallback", "targeting": {"fractional": [["one", 25.5], ["two", 1]]}},
  "wrapped-wrong-args-flag": {"state": "ENABLED", "variants": {"true": "true", "false": "false", "fallback": "fallback"},
      "defaultVariant": "fallback", "targeting": {"if": [{"starts_with": ["abc"]}, "true", "false"]}},
  "flagd-other-flag": {"state": "ENABLED", "variants": {"set": "set", "unset": "unset"},
      "defaultVariant": "unset", "targeting": {"if": [{"var": "$flagd.other"}, "set", {"var": ["$flagd.nope", "unset"]}]}},
  "starts-with-non-string-flag": {"state": "ENABLED", "variants": {"true": "true", "false": "false", "fallback": "fallback"},
      "defaultVariant": "fallback", "targeting": {"starts_with": [{"var": "num"}, "abc"]}}
}}$$, 'edge');
SELECT c.k, r.value, r.variant, r.reason, r.error_code
  FROM (VALUES ('starts-with-wrong-args-flag', '{}'), ('ends-with-wrong-args-flag', '{}'),
               ('semver-wrong-args-flag', '{"version": "1.0.0"}'), ('semver-invalid-operator-flag', '{"version": "1.0.0"}'),
               ('fractional-negative-weight-flag', '{"targetingKey": "any-user"}'),
               ('fractional-negative-weight-flag', '{"targetingKey": "another-user"}'),
               ('fractional-half-weight-flag', '{"targetingKey": "any-user"}'),
               ('wrapped-wrong-args-flag', '{}'),
               ('flagd-other-flag', '{"$flagd": {"other": true}}'),
               ('starts-with-non-string-flag', '{"num": 123}')) AS c(k, ctx),
       ff.evaluate(c.k, c.ctx::jsonb, '"wrong"', 'edge') AS r;
SELECT ff.get_string('fractional-negative-weight-flag', '{"targetingKey": "u1"}', 'wrong', 'edge') AS negative_weight;
-- the document comes back as written, and re-imports the same
SELECT ff.export_flagd('edge') -> 'flags' -> 'fractional-negative-weight-flag' -> 'targeting' AS exported;
SELECT name FROM ff.create_environment('edge2');
SET client_min_messages = error;
SELECT ff.import_flagd(ff.export_flagd('edge'), 'edge2') AS copied;
RESET client_min_messages;
SELECT ff.export_flagd('edge') -> 'flags' = ff.export_flagd('edge2') -> 'flags' AS round_trip_equal;
-- a direct write (ff.invalid_targeting = error) still refuses them, with the
-- path and the problem
SELECT key FROM ff.set_targeting('semver-wrong-args-flag', '{"sem_ver": [{"var": "version"}, "=", "1.0.0", "2.0.0"]}', 'edge');
SELECT key FROM ff.create_flag('direct', environment => 'edge', variants => '{"one": "one", "two": "two"}',
                               default_variant => 'one',
                               targeting => '{"fractional": [["one", -50], ["two", 100]]}');
SELECT key FROM ff.set_targeting('flagd-other-flag', '{"var": "$flagd.other"}', 'edge');

--
-- an unresolved $ref that has the name of a segment: the export writes that
-- segment inline in the flags that use it, not as an $evaluators entry
-- that would resolve the $ref after a re-import
--
SELECT name FROM ff.create_environment('clash');
SELECT name FROM ff.create_environment('clash2');
SET client_min_messages = error;
SELECT ff.import_flagd('{"flags": {"f": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"$ref": "beta"}, "on", "off"]}}}}', 'clash');
RESET client_min_messages;
SELECT name FROM ff.create_segment('beta', '{"==": [{"var": "plan"}, "pro"]}', 'clash');
SELECT name FROM ff.create_segment('gamma', '{"==": [{"var": "plan"}, "free"]}', 'clash');
SELECT key FROM ff.create_flag('g', environment => 'clash', targeting => '{"if": [{"in_segment": "beta"}, "on", "off"]}');
SELECT key FROM ff.create_flag('h', environment => 'clash', targeting => '{"if": [{"in_segment": "gamma"}, "on", "off"]}');
SELECT ff.export_flagd('clash') -> '$evaluators' AS evaluators,
       ff.export_flagd('clash') #> '{flags,g,targeting,if,0}' ? '$ref' AS g_uses_ref,
       ff.export_flagd('clash') #> '{flags,h,targeting,if,0}' AS h_condition;
SET client_min_messages = error;
SELECT ff.import_flagd(ff.export_flagd('clash'), 'clash2');
RESET client_min_messages;
SELECT c.k, c.ctx, a.reason AS here, a.error_code AS here_error, b.reason AS copy, b.error_code AS copy_error,
       a.value = b.value AS same_value
  FROM (VALUES ('f', '{"targetingKey": "u", "plan": "pro"}'), ('g', '{"targetingKey": "u", "plan": "pro"}'),
               ('g', '{"targetingKey": "u", "plan": "free"}'), ('h', '{"targetingKey": "u", "plan": "free"}')) AS c(k, ctx),
       ff.evaluate(c.k, c.ctx::jsonb, 'false', 'clash') AS a,
       ff.evaluate(c.k, c.ctx::jsonb, 'false', 'clash2') AS b;

--
-- an optional member that is JSON null is absent (1.8), as "defaultVariant"
-- and "targeting" always were: a flag's "metadata": null is no metadata, a
-- top-level one leaves the environment's metadata alone, "$evaluators": null
-- is no shared rules; the required members are still refused when null
--
SELECT name, metadata FROM ff.create_environment('nulls', metadata => '{"flagSetId": "kept"}');
SELECT ff.import_flagd('{"$schema": null, "metadata": null, "$evaluators": null, "flags": {
    "m": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on", "metadata": null, "targeting": null},
    "r": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": null,
          "targeting": {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", "off"]}, "metadata": {"team": "web"}}}}', 'nulls');
SELECT key, default_variant, targeting, metadata FROM ff.flags WHERE environment = 'nulls' ORDER BY key;
SELECT metadata FROM ff.environments WHERE name = 'nulls';
SELECT r.value, r.variant, r.reason, r.flag_metadata FROM ff.evaluate('m', '{}', 'false', 'nulls') AS r;
-- a flag that had metadata loses it to a null, as to an absent member
SELECT ff.import_flagd('{"flags": {"r": {"state": "ENABLED", "variants": {"on": true, "off": false},
    "targeting": {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", "off"]}, "metadata": null}}}', 'nulls');
SELECT key, metadata FROM ff.flags WHERE environment = 'nulls' AND key = 'r';
-- a "$ref" with "$evaluators": null stays unresolved, with the WARNING
SELECT ff.import_flagd('{"$evaluators": null, "flags": {"x": {"state": "ENABLED", "variants": {"on": true, "off": false},
    "defaultVariant": "off", "targeting": {"$ref": "beta"}}}}', 'nulls');
SELECT ff.import_flagd('{"flags": null}', 'nulls');
SELECT ff.import_flagd('{"flags": {"v": {"state": "ENABLED", "variants": null}}}', 'nulls');
SELECT ff.import_flagd('{"flags": {"v": {"state": null, "variants": {"on": true}}}}', 'nulls');
SELECT ff.import_flagd('{"flags": {"v": {"state": "ENABLED", "variants": {"on": true}, "metadata": []}}}', 'nulls');
SELECT count(*) AS flags_in_nulls FROM ff.flags WHERE environment = 'nulls';
-- the export leaves out the members that were null (a defaultVariant of
-- null is written as null), and re-imports the same
SELECT ff.export_flagd('nulls') #> '{flags,m}' AS m_exported, ff.export_flagd('nulls') #> '{flags,r}' AS r_exported,
       ff.export_flagd('nulls') ? 'metadata' AS has_set_metadata, ff.export_flagd('nulls') -> 'metadata' AS set_metadata;
SELECT ff.import_flagd(ff.export_flagd('nulls'), 'nulls') AS rewritten;

--
-- an environment whose segments reference each other in a cycle (only a
-- restore, check_function_bodies = off, stores one) is refused by the
-- export, naming the cycle, instead of recursing until the stack is full
--
SELECT name FROM ff.create_environment('cy');
SELECT name FROM ff.create_segment('c1', environment => 'cy');
SELECT name FROM ff.create_segment('c2', '{"in_segment": "c1"}', environment => 'cy');
SELECT key FROM ff.create_flag('cf', environment => 'cy', targeting => '{"if": [{"in_segment": "c2"}, "on", "off"]}');
SET check_function_bodies = off;
SELECT name FROM ff.set_segment_rule('c1', '{"in_segment": "c2"}', 'cy');
RESET check_function_bodies;
SELECT ff.export_flagd('cy');
-- evaluation answers the caller's default with PARSE_ERROR
SELECT value, reason, error_code FROM ff.evaluate('cf', '{"targetingKey": "u"}', 'false', 'cy');
SELECT name FROM ff.set_segment_rule('c1', NULL, 'cy');
SELECT ff.export_flagd('cy') -> '$evaluators' ? 'c2' AS exported_again;

--
-- (1.11, from an audit of import and export)
-- a rule stored with a WARNING (unknown operator, unresolved $ref) naming a
-- segment that does not exist, or naming it by an expression, is exported
-- as written: it made the whole export fail, and ff.copy_flag too
--
SELECT name FROM ff.create_environment('lax');
SELECT name FROM ff.create_environment('lax2');
SELECT ff.import_flagd('{"flags": {
  "ok":   {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "typo": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
           "targeting": {"if": [{"or": [{"iff": [true, true, false]}, {"in_segment": "beta"}]}, "on", "off"]}},
  "expr": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
           "targeting": {"if": [{"or": [{"$ref": "nowhere"}, {"in_segment": {"var": "seg"}}]}, "on", "off"]}}}}', 'lax');
SELECT ff.export_flagd('lax') -> 'flags' -> 'typo' -> 'targeting' AS typo_as_written,
       ff.export_flagd('lax') -> 'flags' -> 'expr' -> 'targeting' AS expr_as_written,
       ff.export_flagd('lax') ? '$evaluators' AS has_evaluators;
SELECT key, targeting FROM ff.copy_flag('typo', 'lax', 'lax2');
-- the round trip: the export imported elsewhere exports the same flags
SELECT ff.import_flagd(ff.export_flagd('lax'), 'lax2');
SELECT ff.export_flagd('lax2') -> 'flags' = ff.export_flagd('lax') -> 'flags' AS same_flags;
-- a document that changes a flag's type is loaded, as flagd loads it, with a WARNING
SELECT ff.import_flagd('{"flags": {"ok": {"state": "ENABLED", "variants": {"on": "yes", "off": "no"}, "defaultVariant": "off"}}}', 'lax');
SELECT flag_type FROM ff.flags WHERE environment = 'lax' AND key = 'ok';
-- no WARNING for a flag whose type stays, or that the document leaves alone
SELECT ff.import_flagd('{"flags": {"ok": {"state": "DISABLED", "variants": {"on": "yes", "off": "no"}, "defaultVariant": "off"}}}', 'lax');
SELECT ff.import_flagd('{"flags": {"ok": {"state": "DISABLED", "variants": {"on": "yes", "off": "no"}, "defaultVariant": "off"}}}', 'lax');
-- variant values nested deeper than evaluation converts (10,000 levels) are
-- refused by direct writes, and stored with a WARNING by imports, copies and
-- rollbacks (ff.invalid_targeting = 'warning'), like targeting that cannot be
-- evaluated; such a flag alone answers PARSE_ERROR
SELECT key FROM ff.create_flag('deep', jsonb_build_object('x', (repeat('{"a":', 10001) || '1' || repeat('}', 10001))::jsonb),
                               'x', environment => 'lax');
SELECT ff.import_flagd(jsonb_build_object('flags', jsonb_build_object('deep', jsonb_build_object(
  'state', 'ENABLED', 'defaultVariant', 'x',
  'variants', jsonb_build_object('x', (repeat('{"a":', 10001) || '1' || repeat('}', 10001))::jsonb)))), 'lax');
SELECT reason, error_code FROM ff.evaluate('deep', '{}', '{"fallback": true}', 'lax');
-- the environment still exports, re-imports unchanged (no WARNING), copies and rolls back
SELECT ff.import_flagd(ff.export_flagd('lax'), 'lax') AS unchanged;
SELECT key FROM ff.copy_flag('deep', 'lax', 'lax2');
SELECT key, state FROM ff.disable_flag('deep', 'lax');
SELECT ff.rollback_flag('deep', ff.current_version() - 1, 'lax') > 0 AS rolled_back;
SELECT state FROM ff.flags WHERE environment = 'lax' AND key = 'deep';
-- 10,000 levels evaluate
SELECT ff.import_flagd(jsonb_build_object('flags', jsonb_build_object('deep', jsonb_build_object(
  'state', 'ENABLED', 'defaultVariant', 'x',
  'variants', jsonb_build_object('x', (repeat('{"a":', 10000) || '1' || repeat('}', 10000))::jsonb)))), 'lax');
SELECT reason, error_code FROM ff.evaluate('deep', '{}', '{"fallback": true}', 'lax');
SELECT ff._jsonb_depth_exceeds('1', 0) AS scalar, ff._jsonb_depth_exceeds('{"a": 1}', 0) AS one_over,
       ff._jsonb_depth_exceeds('{"a": 1}', 1) AS one_at, ff._jsonb_depth_exceeds('[[1], {}]', 1) AS two_over,
       ff._jsonb_depth_exceeds('[[1], {}]', 2) AS two_at;
-- (1.18) null metadata members are not exported (flagd's schema allows
-- strings, numbers and booleans; evaluation drops nulls): the flag's and
-- the environment's
SELECT name FROM ff.create_environment('meta-nulls', metadata => '{"team": "env", "a": null, "flagSetId": "S"}');
SELECT key FROM ff.create_flag('mf', metadata => '{"team": null, "b": null, "c": 1}', environment => 'meta-nulls');
SELECT key FROM ff.create_flag('all-null', metadata => '{"x": null}', environment => 'meta-nulls');
SELECT ff.export_flagd('meta-nulls') -> 'metadata' AS set_metadata,
       ff.export_flagd('meta-nulls') #> '{flags,mf,metadata}' AS flag_metadata,
       ff.export_flagd('meta-nulls') #> '{flags,all-null}' ? 'metadata' AS all_null_has_metadata,
       (ff.evaluate('mf', '{}', 'false', 'meta-nulls')).flag_metadata AS evaluated;
-- (1.18) rollbacks run without JIT: the nested loop left in the key-list
-- replay carries the planner's disable cost (enable_nestloop is off there),
-- which made every segment rollback JIT-compile for about a second
SELECT 'jit=off' = ANY (proconfig) AS restore_without_jit
  FROM pg_proc WHERE oid = 'ff._history_restore(text, text, text, bigint)'::regprocedure;
-- (1.20) a document that only respells a number (10.0 -> 10) is written:
-- jsonb equality took them for one value and skipped the flag, so export
-- and evaluation kept the old spelling (the history records values: the
-- respelling is no new version, as for a plain UPDATE)
SELECT name FROM ff.create_environment('spell');
SELECT ff.import_flagd('{"flags": {"ten": {"state": "ENABLED", "variants": {"ten": 10.0, "tenth": 0.1}, "defaultVariant": "ten"}}}', 'spell') AS first;
SELECT ff.import_flagd('{"flags": {"ten": {"state": "ENABLED", "variants": {"ten": 10, "tenth": 0.1}, "defaultVariant": "ten"}}}', 'spell') AS respelled;
SELECT ff.export_flagd('spell') #> '{flags,ten,variants}' AS exported, (ff.evaluate('ten', '{}', NULL, 'spell')).value;
SELECT ff.import_flagd('{"flags": {"ten": {"state": "ENABLED", "variants": {"ten": 10, "tenth": 0.1}, "defaultVariant": "ten"}}}', 'spell') AS again;
-- (1.20) "defaultVariant": "" is no default variant, as flagd reads it
SELECT ff.import_flagd('{"flags": {"dv-empty": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": ""}}}', 'spell') AS empty_default;
SELECT default_variant IS NULL AS no_default FROM ff.flags WHERE environment = 'spell' AND key = 'dv-empty';
SELECT reason, value FROM ff.evaluate('dv-empty', '{}', '7', 'spell');
-- (1.20) {"$ref": name} in a variant's value is replaced by the shared rule,
-- as flagd replaces it anywhere; an unknown name stays as written
SELECT ff.import_flagd('{"$evaluators": {"a": {"==": [{"var": "x"}, 1]}},
  "flags": {"r-variant": {"state": "ENABLED", "defaultVariant": "o",
                          "variants": {"o": {"$ref": "a"}, "p": {"k": [{"$ref": "zz"}]}}}}}', 'spell') AS with_refs;
SELECT variants FROM ff.flags WHERE environment = 'spell' AND key = 'r-variant';
-- ... and on export, a segment named like a $ref kept in a variant is
-- inlined, not exported as an $evaluators entry flagd would substitute
SELECT name FROM ff.create_segment('zz', environment => 'spell', include => ARRAY['u1']);
SELECT key FROM ff.create_flag('uses-zz', environment => 'spell',
    targeting => '{"if": [{"in_segment": "zz"}, "on", "off"]}');
SELECT ff.export_flagd('spell') ? '$evaluators' AS has_evaluators,
       strpos((ff.export_flagd('spell') #> '{flags,uses-zz,targeting}')::text, '$ref') = 0 AS inlined,
       ff.export_flagd('spell') #> '{flags,r-variant,variants,p}' AS kept_ref;
-- (1.20) a variant that holds the text "$ref" as a value, or nested deeper
-- than rules may be, is imported as written (helper 59: the walk refused
-- the second with a message about targeting)
SELECT ff.import_flagd(jsonb_build_object('$evaluators', '{"a": {"==": [1, 1]}}'::jsonb,
  'flags', jsonb_build_object('ref-text', jsonb_build_object('state', 'ENABLED', 'defaultVariant', 'a',
    'variants', jsonb_build_object('a', '{"k": "$ref", "n": [1, {"$ref": "a"}]}'::jsonb, 'b', '{}'::jsonb)),
  'ref-deep', jsonb_build_object('state', 'ENABLED', 'defaultVariant', 'a',
    'variants', jsonb_build_object('a', (repeat('{"a":', 300) || '{"x": "$ref"}' || repeat('}', 300))::jsonb, 'b', '{}'::jsonb)))), 'spell') AS imported;
SELECT variants -> 'a' AS ref_text FROM ff.flags WHERE environment = 'spell' AND key = 'ref-text';
SELECT (variants -> 'a')::text = repeat('{"a": ', 300) || '{"x": "$ref"}' || repeat('}', 300) AS deep_as_written
  FROM ff.flags WHERE environment = 'spell' AND key = 'ref-deep';
-- (1.20) the exported segment logic gives an array or object key no
-- membership, as in_segment does (its null test is "===": json-logic-engine's
-- "==" fails on an array or an object)
SELECT ff.export_flagd('spell') #> '{flags,uses-zz,targeting,if,0,if,0,and,0,if,0}' AS null_test;
SELECT k, ff.get_bool('uses-zz', jsonb_build_object('targetingKey', k), NULL, 'spell') AS native
  FROM (VALUES ('"u1"'::jsonb), ('["u1"]'), ('{"u1": 1}'), ('null')) AS t (k);
-- (1.25) flagd substitutes $evaluators into the document as text: an
-- entry's name is a regular expression ("beta.1" also matches
-- {"$ref": "beta-1"}) and its logic a replacement text in which "$" (flagd
-- Go) and "\" (flagd Java) are special.  Such segments are inlined into the
-- flags that use them, and only safe ones stay evaluators.
SELECT name FROM ff.create_environment('subst', metadata => '{"$ref": "meta-ref"}');
SELECT name FROM ff.create_segment('launched', '{">=": [{"var": "$flagd.timestamp"}, 1700000000]}', environment => 'subst');
SELECT name FROM ff.create_segment('vip', NULL, environment => 'subst', include => ARRAY['acct$1']);
SELECT name FROM ff.create_segment('quoted', NULL, environment => 'subst', include => ARRAY['a"b']);
SELECT name FROM ff.create_segment('beta.1', '{"==": [{"var": "plan"}, "a"]}', environment => 'subst');
SELECT name FROM ff.create_segment('beta-1', '{"==": [{"var": "plan"}, "b"]}', environment => 'subst');
SELECT name FROM ff.create_segment('plain', '{"==": [{"var": "plan"}, "c"]}', environment => 'subst');
SELECT name FROM ff.create_segment('meta-ref', '{"==": [{"var": "plan"}, "d"]}', environment => 'subst');
SELECT name FROM ff.create_segment('flag-meta-ref', '{"==": [{"var": "plan"}, "e"]}', environment => 'subst');
SELECT key FROM ff.create_flag('launch', environment => 'subst',
    targeting => '{"if": [{"or": [{"in_segment": "launched"}, {"in_segment": "vip"}]}, "on", "off"]}');
SELECT key FROM ff.create_flag('quote', environment => 'subst', targeting => '{"if": [{"in_segment": "quoted"}, "on", "off"]}');
SELECT key FROM ff.create_flag('betas', environment => 'subst',
    targeting => '{"if": [{"in_segment": "beta-1"}, "on", {"in_segment": "beta.1"}, "off", null]}');
SELECT key FROM ff.create_flag('only-beta-1', environment => 'subst', targeting => '{"if": [{"in_segment": "beta-1"}, "on", "off"]}');
SELECT key FROM ff.create_flag('safe', environment => 'subst', targeting => '{"if": [{"in_segment": "plain"}, "on", "off"]}');
SELECT key FROM ff.create_flag('uses-meta-ref', environment => 'subst', targeting => '{"if": [{"in_segment": "meta-ref"}, "on", "off"]}');
SELECT key FROM ff.create_flag('uses-flag-meta-ref', environment => 'subst', targeting => '{"if": [{"in_segment": "flag-meta-ref"}, "on", "off"]}');
SELECT key FROM ff.create_flag('md', environment => 'subst', metadata => '{"$ref": "flag-meta-ref"}');
-- only the safe segments that nothing else names are evaluators; the
-- flags that use the others hold no $ref
SELECT ARRAY(SELECT jsonb_object_keys(ff.export_flagd('subst') -> '$evaluators') ORDER BY 1) AS evaluators;
SELECT k AS flag, strpos((ff.export_flagd('subst') #> ARRAY['flags', k, 'targeting'])::text, '$ref') > 0 AS has_ref
  FROM unnest(ARRAY['launch', 'quote', 'betas', 'only-beta-1', 'safe', 'uses-meta-ref', 'uses-flag-meta-ref']) AS k ORDER BY 1;
-- (1.25) no evaluator holds what flagd's substitution would change
SELECT count(*) AS evaluators,
       count(*) FILTER (WHERE strpos(e.key, '.') > 0 OR e.value::text ~ '[$\\]') AS unsafe_evaluators
  FROM jsonb_each(ff.export_flagd('subst') -> '$evaluators') AS e;
-- a key flagd would change is tested in the flag, in front of the $ref;
-- the segment's other keys stay in its one $evaluators entry (a list of
-- 1,000 keys with one "$" key, used by three flags, is written once)
SELECT name FROM ff.create_segment('big', NULL, environment => 'subst',
    include => ARRAY(SELECT 'k-' || g FROM generate_series(1, 1000) AS g) || ARRAY['odd$key'],
    exclude => ARRAY['no\key']);
SELECT count(ff.create_flag('uses-big-' || g, environment => 'subst',
                            targeting => '{"if": [{"in_segment": "big"}, "on", "off"]}')) AS flags
  FROM generate_series(1, 3) AS g;
SELECT ff.export_flagd('subst') #> '{flags,uses-big-1,targeting,if,0}' AS flag_site,
       (SELECT count(*) FROM regexp_matches(ff.export_flagd('subst')::text, '"k-500"', 'g')) AS safe_key_written,
       (SELECT count(*) FROM regexp_matches(ff.export_flagd('subst')::text, 'odd\$key', 'g')) AS odd_key_written,
       ff.export_flagd('subst') -> '$evaluators' ? 'big' AS big_is_an_evaluator;
-- a segment whose rule has a "$" keeps its lists in its entry, which
-- ends in null, and its rule goes to the flags (a large list is written
-- once, not into every flag)
SELECT name FROM ff.create_segment('window', '{"and": [{">=": [{"var": "$flagd.timestamp"}, 1700000000]}, {"==": [{"var": "plan"}, "w"]}]}',
    environment => 'subst', include => ARRAY(SELECT 'win-' || g FROM generate_series(1, 1000) AS g) || ARRAY['w$1'],
    exclude => ARRAY['win-out']);
SELECT count(ff.create_flag('uses-window-' || g, environment => 'subst',
                            targeting => '{"if": [{"in_segment": "window"}, "on", "off"]}')) AS flags
  FROM generate_series(1, 3) AS g;
SELECT ff.export_flagd('subst') -> '$evaluators' ? 'window' AS window_is_an_evaluator,
       strpos((ff.export_flagd('subst') #> '{$evaluators,window}')::text, '$') = 0 AS entry_without_dollar,
       (SELECT count(*) FROM regexp_matches(ff.export_flagd('subst')::text, '"win-500"', 'g')) AS list_written,
       (SELECT count(*) FROM regexp_matches(ff.export_flagd('subst')::text, 'flagd\.timestamp', 'g')) AS rule_written,
       ff.export_flagd('subst') #> '{flags,uses-window-1,targeting,if,0,if,2,if,1}' AS flag_site_rule_part;
-- the export means what the environment means (import resolves each $ref
-- as the JSON it names, which is what flagd's substitution gives for the
-- entries kept): imported elsewhere, every flag answers the same
SELECT name FROM ff.create_environment('subst-copy');
SELECT ff.import_flagd(ff.export_flagd('subst'), 'subst-copy') AS imported;
SELECT count(*) AS contexts_compared,
       count(*) FILTER (WHERE (ff.evaluate(f.key, c, NULL, 'subst')).variant IS DISTINCT FROM (ff.evaluate(f.key, c, NULL, 'subst-copy')).variant) AS differ,
       count(DISTINCT (f.key, (ff.evaluate(f.key, c, NULL, 'subst')).variant)) AS answers
  FROM ff.flags AS f,
       (VALUES ('{}'::jsonb), ('{"targetingKey": "acct$1"}'), ('{"targetingKey": "a\"b"}'), ('{"plan": "a"}'),
               ('{"targetingKey": "odd$key"}'), ('{"targetingKey": "no\\key"}'), ('{"targetingKey": "k-7"}'),
               ('{"targetingKey": "win-7"}'), ('{"targetingKey": "win-out", "plan": "w"}'), ('{"plan": "w"}'),
               ('{"targetingKey": "w$1"}'), ('{"targetingKey": "zz", "plan": "w"}'),
               ('{"plan": "b"}'), ('{"plan": "c"}'), ('{"plan": "d"}'), ('{"plan": "e"}')) AS t (c)
 WHERE f.environment = 'subst';
