--
-- 240_bucket: ff.bucket(value, salt, buckets)
--
--   seed   = XXH3_64bits(salt bytes)
--   h      = XXH3_64bits_withSeed(value bytes, seed)
--   bucket = (h * buckets) >> 64      (128-bit product)
--
-- The vectors were computed with libxxhash's XXH3 and a 128-bit multiply.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS feature_flags;

SELECT value, salt, buckets, ff.bucket(value, salt, buckets) AS bucket
  FROM (VALUES ('user-1', '', 100), ('user-1', 'salt', 100), ('user-3', '', 100),
               ('user-4', '', 100), ('hello', '', 100), ('x', '', 100),
               ('abc', 's', 100), ('alice', 'exp1', 1000), ('', 'x', 2147483647),
               ('user-1', '', 1), ('ünïcødé', 'sälz', 10)) AS v(value, salt, buckets);

-- defaults: salt '' and 100 buckets
SELECT ff.bucket('user-1') AS default_args, ff.bucket('user-1', '') AS default_buckets;
-- the salt changes the assignment; the same inputs always give the same bucket
SELECT count(DISTINCT ff.bucket('user-' || g, 'a') = ff.bucket('user-' || g, 'b')) AS both_outcomes,
       bool_and(ff.bucket('user-' || g, 'a') = ff.bucket('user-' || g, 'a')) AS stable
  FROM generate_series(1, 1000) AS g;
-- roughly uniform: every one of 10 buckets gets 8-12% of 100,000 values
SELECT bool_and(n BETWEEN 8000 AND 12000) AS uniform, count(*) AS buckets_used
  FROM (SELECT ff.bucket(g::text, 'uniformity', 10) AS b, count(*) AS n
          FROM generate_series(1, 100000) AS g GROUP BY 1) AS s;
-- range: always in [0, buckets)
SELECT min(ff.bucket(g::text, '', 7)) AS lo, max(ff.bucket(g::text, '', 7)) AS hi
  FROM generate_series(1, 10000) AS g;
-- NULL in, NULL out
SELECT ff.bucket(NULL) IS NULL AS null_value, ff.bucket('a', NULL) IS NULL AS null_salt,
       ff.bucket('a', '', NULL) IS NULL AS null_buckets;
-- buckets must be 1..2147483647
SELECT ff.bucket('a', '', 0);
SELECT ff.bucket('a', '', -5);
-- the full 128-bit product at the largest bucket count: vectors computed
-- independently (python3-xxhash and Python integers: (h * n) >> 64), for
-- values where dropping the middle words' carry changes the bucket
-- (mutation testing, hP: that mutant survived every suite)
SELECT ff.bucket('user-0', 'salt', 2147483647) = 22674203 AS user_0,
       ff.bucket('user-10', 'salt', 2147483647) = 1505699779 AS user_10,
       ff.bucket('user-15', 'salt', 2147483647) = 1159941056 AS user_15;
