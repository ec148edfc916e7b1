--
-- 140_evaluate_draft: ff.evaluate_draft answers what ff.evaluate would
-- answer if a draft of the flag were saved: a flagd flag object whose
-- members override the stored flag's, with the environment's segments and
-- metadata as they are now.  The main checks: an empty draft is the stored
-- flag; a draft, once saved, gives exactly the answers it predicted.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_flags CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_flags;

SELECT (ff.create_environment('preview', metadata => '{"team": "web", "tier": 1}')).name;
SET ff.environment = 'preview';
SELECT (ff.create_segment('beta', '{"ends_with": [{"var": "email"}, "@beta.test"]}',
                          include => '{u1}', exclude => '{u9}')).name;
SELECT (ff.create_flag('checkout', '{"a": "A", "b": "B", "c": "C"}', 'a',
        targeting => '{"if": [{"in_segment": "beta"}, "b", {"==": [{"var": "country"}, "FR"]}, "c", null]}',
        metadata => '{"owner": "pay"}')).key;
CREATE TEMP TABLE ctxs (name text PRIMARY KEY, ctx jsonb);
INSERT INTO ctxs VALUES
    ('u1',        '{"targetingKey": "u1"}'),
    ('u2 FR',     '{"targetingKey": "u2", "country": "FR"}'),
    ('u9 beta',   '{"targetingKey": "u9", "email": "u9@beta.test"}'),
    ('u5 beta',   '{"targetingKey": "u5", "email": "u5@beta.test"}'),
    ('no key',    '{"email": "who@beta.test"}'),
    ('empty',     '{}'),
    ('not object', '[1, 2]');

-- an empty draft is the stored flag, for every context and default
SELECT count(*) AS compared, count(*) FILTER (WHERE e = d) AS equal,
       count(DISTINCT e.variant) AS variants
  FROM ctxs AS c
  CROSS JOIN (VALUES (NULL::jsonb), ('"x"'), ('true')) AS def (v)
  CROSS JOIN LATERAL ff.evaluate('checkout', c.ctx, def.v) AS e
  CROSS JOIN LATERAL ff.evaluate_draft('checkout', c.ctx, '{}', def.v) AS d;

-- each member overrides the stored one; the others stay
SELECT c.name, d.variant, d.reason, d.error_code
  FROM ctxs AS c
  CROSS JOIN LATERAL ff.evaluate_draft('checkout', c.ctx,
      '{"targeting": {"if": [{"in_segment": "beta"}, "c", "b"]}}') AS d
 ORDER BY 1;
SELECT variant, reason, value FROM ff.evaluate_draft('checkout', '{"targetingKey": "u1"}', '{"state": "DISABLED"}', '"z"');
SELECT variant, reason, value FROM ff.evaluate_draft('checkout', '{"targetingKey": "u7"}', '{"defaultVariant": "c"}');
SELECT variant, reason, value FROM ff.evaluate_draft('checkout', '{"targetingKey": "u7"}', '{"defaultVariant": null}', '"z"');
SELECT variant, reason, value FROM ff.evaluate_draft('checkout', '{"targetingKey": "u1"}',
    '{"variants": {"b": {"color": "blue"}, "n": {}}, "defaultVariant": "n", "targeting": null}');
SELECT variant, value, flag_metadata FROM ff.evaluate_draft('checkout', '{"targetingKey": "u1"}', '{"metadata": {"owner": "growth", "team": null}}');
-- a flag that does not exist yet: the draft must say everything
SELECT variant, reason, value, flag_metadata FROM ff.evaluate_draft('new-flag', '{"targetingKey": "u1"}',
    '{"variants": {"on": true, "off": false}, "defaultVariant": "off",
      "targeting": {"if": [{"in_segment": "beta"}, "on", "off"]}, "metadata": {"x": 1}}');
SELECT variant, reason FROM ff.evaluate_draft('new-flag', '{"targetingKey": "u2"}',
    '{"variants": {"on": true, "off": false}, "defaultVariant": "off",
      "targeting": {"if": [{"in_segment": "beta"}, "on", "off"]}}', 'false');
-- evaluation problems of a draft are reported as ff.evaluate reports them (a rule
-- result that is not a variant name)
SELECT variant, reason, error_code, error_message FROM ff.evaluate_draft('new-flag', '{"targetingKey": "u1"}',
    '{"variants": {"on": true, "off": false}, "targeting": {"in_segment": "beta"}}');
-- the caller's default decides the requested type, as for ff.evaluate
SELECT reason, error_code, error_message FROM ff.evaluate_draft('checkout', '{}', '{}', 'true');

-- a draft, once saved, answers exactly as it predicted
CREATE TEMP TABLE predicted AS
SELECT c.name, d FROM ctxs AS c
 CROSS JOIN LATERAL ff.evaluate_draft('checkout', c.ctx,
     '{"variants": {"a": "A", "b": "B", "c": "C", "d": "D"}, "defaultVariant": "d",
       "targeting": {"if": [{"in_segment": "beta"}, "a", {"fractional": [["b", 50], ["c", 50]]}]},
       "metadata": {"owner": "growth"}}', '"z"') AS d;
UPDATE ff.flags SET variants = '{"a": "A", "b": "B", "c": "C", "d": "D"}', default_variant = 'd',
       targeting = '{"if": [{"in_segment": "beta"}, "a", {"fractional": [["b", 50], ["c", 50]]}]}',
       metadata = '{"owner": "growth"}'
 WHERE environment = 'preview' AND key = 'checkout';
SELECT count(*) AS compared, count(*) FILTER (WHERE p.d = e) AS equal,
       count(DISTINCT (p.d).variant) AS variants, count(DISTINCT (p.d).reason) AS reasons
  FROM predicted AS p JOIN ctxs AS c USING (name)
  CROSS JOIN LATERAL ff.evaluate('checkout', c.ctx, '"z"') AS e;

-- the blast radius of a rollout over real rows: now against the draft
SELECT now_variant, draft_variant, count(*)
  FROM (SELECT (ff.evaluate('checkout', u.ctx)).variant AS now_variant,
               (ff.evaluate_draft('checkout', u.ctx,
                   '{"targeting": {"fractional": [["b", 25], ["c", 75]]}}')).variant AS draft_variant
          FROM (SELECT jsonb_build_object('targetingKey', 'user-' || i) AS ctx
                  FROM generate_series(1, 20000) AS i) AS u) AS s
 GROUP BY 1, 2
 ORDER BY 1, 2;

-- ff.evaluate_draft_row: a table row as the context, attributes read by name; the
-- same answers as from the jsonb built from the same row
CREATE TEMP TABLE users AS
SELECT 'user-' || i AS "targetingKey", (ARRAY['FR', 'DE', 'US'])[1 + i % 3] AS country,
       CASE WHEN i % 5 = 0 THEN 'u' || i || '@beta.test' END AS email
  FROM generate_series(1, 3000) AS i;
SELECT count(*) AS compared, count(*) FILTER (WHERE r = j) AS equal, count(DISTINCT r.variant) AS variants
  FROM users AS u
  CROSS JOIN LATERAL ff.evaluate_draft_row('checkout', u,
      '{"targeting": {"if": [{"in_segment": "beta"}, "a", {"==": [{"var": "country"}, "FR"]}, "b",
                             {"fractional": [["c", 50], ["d", 50]]}]}}') AS r
  CROSS JOIN LATERAL ff.evaluate_draft('checkout', jsonb_strip_nulls(to_jsonb(u)),
      '{"targeting": {"if": [{"in_segment": "beta"}, "a", {"==": [{"var": "country"}, "FR"]}, "b",
                             {"fractional": [["c", 50], ["d", 50]]}]}}') AS j;
SELECT (ff.evaluate_draft_row('checkout', NULL::users, '{}')).reason;
SELECT ff.evaluate_draft_row('checkout', 42, '{}');

-- the compiled draft kept at a call site follows changes of the stored flag
CREATE FUNCTION pg_temp.draft_follows() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    seen text := '';
    i int;
BEGIN
    FOR i IN 1..3 LOOP
        seen := seen || (ff.evaluate_draft('checkout', '{"targetingKey": "nobody"}', '{"targeting": null}')).variant || ' ';
        PERFORM ff.set_default_variant('checkout', CASE i WHEN 1 THEN 'b' ELSE 'c' END);
    END LOOP;
    RETURN seen;
END $$;
SELECT pg_temp.draft_follows();
-- and it is not reused for another draft, flag or environment at the same call site
SELECT x.n, d.flag_key, d.variant, d.flag_metadata
  FROM (VALUES (1, 'checkout', '{"defaultVariant": "a"}', 'preview'), (2, 'checkout', '{"defaultVariant": "b"}', 'preview'),
               (3, 'checkout', '{}', 'preview'),
               (4, 'checkout', '{"variants": {"dev": 1}, "defaultVariant": "dev"}', 'preview'),
               (5, 'checkout', '{"variants": {"dev": 1}, "defaultVariant": "dev"}', 'development'),
               (6, 'checkout', '{"variants": {"checkout": 1, "other": 2}, "targeting": {"var": "$flagd.flagKey"}}', 'development'),
               (7, 'other', '{"variants": {"checkout": 1, "other": 2}, "targeting": {"var": "$flagd.flagKey"}}', 'development')) AS x (n, k, draft, env)
  CROSS JOIN LATERAL ff.evaluate_draft(x.k, '{}', x.draft::jsonb, NULL, x.env) AS d
 ORDER BY x.n;

-- ---- bad drafts are errors (the caller's input), flag problems are not
SELECT ff.evaluate_draft('checkout', '{}', NULL);
SELECT ff.evaluate_draft('checkout', '{}', '[1]');
SELECT ff.evaluate_draft('checkout', '{}', '{"defaultvariant": "a"}');
SELECT ff.evaluate_draft('checkout', '{}', '{"state": "OFF"}');
SELECT ff.evaluate_draft('checkout', '{}', '{"defaultVariant": 1}');
SELECT ff.evaluate_draft('checkout', '{}', '{"defaultVariant": "maybe"}');
SELECT ff.evaluate_draft('checkout', '{}', '{"variants": []}');
SELECT ff.evaluate_draft('checkout', '{}', '{"targeting": {"nope": [1]}}');
SELECT ff.evaluate_draft('checkout', '{}', '{"targeting": {"in_segment": "btea"}}');
SELECT ff.evaluate_draft('brand-new', '{}', '{"defaultVariant": "on"}');
SELECT ff.evaluate_draft('chekout', '{}', '{"defaultVariant": "a"}');
-- what no write could store is refused too (1.14), as the validation trigger refuses it
SELECT ff.evaluate_draft('checkout', '{}', '{"variants": {"a": "A", "b": 2}}');
SELECT ff.evaluate_draft('checkout', '{}', '{"variants": {"a": null}, "defaultVariant": "a"}');
SELECT ff.evaluate_draft('checkout', '{}', '{"variants": {"a": [1]}, "defaultVariant": "a"}');
SELECT ff.evaluate_draft('checkout', '{}', '{"variants": {"": "A", "a": "B"}, "defaultVariant": "a"}');
SELECT ff.evaluate_draft('checkout', '{}', '{"metadata": {"a": {"b": 1}}}');
SELECT ff.evaluate_draft('checkout', '{}', '{"metadata": [1]}');
SELECT ff.evaluate_draft('checkout', '{}', '{"targeting": "b"}');
SELECT ff.evaluate_draft('checkout', '{}', '{"targeting": ["b"]}');
-- null metadata values are allowed (and dropped), as when written
SELECT variant, flag_metadata FROM ff.evaluate_draft('checkout', '{}', '{"metadata": {"x": null, "y": 1}}');
-- a flag import_flagd stored with a WARNING can still be previewed: a draft that
-- leaves its rule be answers what ff.evaluate answers (1.13 raised an ERROR)
SET client_min_messages = error;
SELECT ff.import_flagd('{"flags": {"lenient": {"state": "ENABLED", "variants": {"on": true, "off": false},
                        "defaultVariant": "on", "targeting": {"iff": [true, "on"]}}}}');
RESET client_min_messages;
SELECT reason, error_code FROM ff.evaluate('lenient', '{}');
SELECT reason, error_code FROM ff.evaluate_draft('lenient', '{}', '{}');
SELECT reason, error_code FROM ff.evaluate_draft('lenient', '{}', '{"state": "DISABLED"}');
SELECT reason, variant FROM ff.evaluate_draft('lenient', '{}', '{"targeting": null}');
SELECT ff.evaluate_draft('lenient', '{}', '{"defaultVariant": "maybe"}');
-- (1.26) ten names at most, in byte order (as the validation trigger lists
-- them), clipped
SELECT ff.evaluate_draft('lenient', '{}', jsonb_build_object('defaultVariant', 'maybe', 'variants',
    (SELECT jsonb_object_agg(CASE WHEN i = 7 THEN 'a' || repeat('é', 300) ELSE 'v' || i END, i > 6)
       FROM generate_series(1, 12) AS i)));
-- no variants: the message says so, and there is no empty DETAIL
SELECT ff.evaluate_draft('lenient', '{}', '{"defaultVariant": "maybe", "variants": {}}');
SELECT ff.evaluate_draft('lenient', '{}', '{"targeting": {"iff": [false, "off"]}}');
SELECT reason, error_code, error_message FROM ff.evaluate_draft('checkout', '{}', '{}', NULL, 'nope');
SELECT reason, error_code, error_message FROM ff.evaluate_draft(NULL, '{}', '{}');
SELECT reason, error_code, error_message FROM ff.evaluate_draft('checkout', '"scalar"', '{}');

-- hostile drafts: nesting beyond the limits is refused, not a crash
CREATE FUNCTION pg_temp.draft_error(draft jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ff.evaluate_draft('checkout', '{}', draft);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || left(SQLERRM, 100);
END $$;
SELECT pg_temp.draft_error(('{"targeting": ' || repeat('{"!": [', 300) || 'true' || repeat(']}', 300) || '}')::jsonb);
SELECT pg_temp.draft_error(('{"variants": {"a": ' || repeat('{"x": ', 12000) || '1' || repeat('}', 12000) || '}, "defaultVariant": "a"}')::jsonb);

-- ---- privileges: not PUBLIC's (a draft can test any segment for any key)
CREATE ROLE regress_ff_draft;
SET ROLE regress_ff_draft;
SELECT ff.evaluate_draft('checkout', '{}', '{}');
SELECT ff.evaluate_draft_row('checkout', NULL::int, '{}');
RESET ROLE;
SELECT count(*) > 0 AS granted FROM ff.grant_editor('regress_ff_draft');
SET ROLE regress_ff_draft;
SELECT (ff.evaluate_draft('checkout', '{}', '{"defaultVariant": "a"}')).variant;
RESET ROLE;
DROP OWNED BY regress_ff_draft;
DROP ROLE regress_ff_draft;
RESET ff.environment;
