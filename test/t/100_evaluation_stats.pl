# 100_evaluation_stats.pl — evaluation statistics (1.15) in shared memory.
#
#   * every outcome is counted once, under its variant, reason and error
#     code: the getters, their _row forms, ff.evaluate and ff.evaluate_all;
#     flags and environments that do not exist; type mismatches, disabled
#     and broken flags, invalid contexts; point-in-time evaluation, drafts
#     and ff.json_logic are not counted;
#   * the counts of a session reach the others when it ends, and survive a
#     cache rebuild in the middle of a session; (1.24 library) a PREPARE
#     TRANSACTION hands them over too; parallel workers count;
#   * ff.flag_usage shows every flag, evaluated or not; missing flags are
#     counted per key and environment, also in bulk;
#   * reset: all (stats_since restarts), one environment, one flag;
#   * ff.track_evaluations: off counts nothing; only a superuser sets it;
#   * privileges: nothing for PUBLIC, reading for the editor recipe,
#     resetting for the admin recipe;
#   * missing keys are capped per database; a full table counts evaluations
#     as dropped, per database, and (1.24) ff.flag_usage then says NULL,
#     not 0, for a flag without entries; a reset removes the entries of
#     dropped databases; long names are cut and marked with a hash of the
#     whole name (1.24 library: two variants that differ after the cut
#     stay apart);
#   * the counts survive a clean restart, an immediate shutdown and a start
#     that fails; a crash (a backend killed) loses them, unless nothing was
#     counted since the start.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('evaluation_stats');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'feature_flags'
ff.stats_max_entries = 100
max_parallel_workers_per_gather = 2
max_prepared_transactions = 2
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION feature_flags');
$node->safe_psql('postgres', q{
    SELECT ff.import_flagd('{"flags": {
        "checkout": {"state": "ENABLED", "variants": {"on": true, "off": false},
                     "defaultVariant": "off",
                     "targeting": {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", null]}},
        "theme": {"state": "ENABLED", "variants": {"dark": "dark", "light": "light"},
                  "defaultVariant": "light"},
        "killed": {"state": "DISABLED", "variants": {"on": true, "off": false},
                   "defaultVariant": "off"},
        "unused": {"state": "ENABLED", "variants": {"on": true, "off": false},
                   "defaultVariant": "off"}}}'::jsonb)});
$node->safe_psql('postgres', q{SELECT ff.create_environment('staging')});
$node->safe_psql('postgres', q{
    INSERT INTO ff.flags (environment, key, variants, default_variant)
    VALUES ('staging', 'checkout', '{"on": true, "off": false}', 'on')});
# a broken flag, as an import with invalid targeting stores it
$node->safe_psql('postgres', q{
    SET ff.invalid_targeting = 'warning';
    INSERT INTO ff.flags (environment, key, variants, default_variant, targeting)
    VALUES ('development', 'broken', '{"on": true, "off": false}', 'off', '{"nosuchop": [1]}')});

my $stats = q{SELECT environment || '|' || flag_key || '|' || coalesce(variant, '-') || '|' || reason
                     || '|' || coalesce(error_code, '-') || '|' || evaluations
                FROM ff.evaluation_stats ORDER BY 1};

is($node->safe_psql('postgres', 'SELECT entries, stats_since IS NULL FROM ff.evaluation_stats_info()'),
    '0|t', 'nothing is counted before the first evaluation');

# ---- each outcome, once
$node->safe_psql('postgres', q{
    CREATE TABLE users (id int, plan text);
    INSERT INTO users VALUES (1, 'pro'), (2, 'free'), (3, 'free');
    SELECT ff.get_bool('checkout', '{"plan": "pro"}', false);        -- on, TARGETING_MATCH
    SELECT ff.get_bool('checkout', '{"plan": "free"}', false);       -- off, DEFAULT
    SELECT ff.get_bool('checkout', '{}', false, 'staging');          -- on, STATIC (staging)
    SELECT ff.get_string('theme', NULL, 'x');                        -- light, STATIC
    SELECT ff.get_string('checkout', '{}', 'x');                     -- TYPE_MISMATCH
    SELECT ff.get_bool('killed', '{}', true);                        -- DISABLED
    SELECT ff.get_bool('broken', '{}', true);                        -- PARSE_ERROR
    SELECT ff.get_bool('checkout', '[1]', true);                     -- INVALID_CONTEXT
    SELECT ff.get_bool('nosuch', '{}', true);                        -- FLAG_NOT_FOUND
    SELECT ff.get_bool('checkout', '{}', true, 'nosuchenv');         -- FLAG_NOT_FOUND
    SELECT (ff.evaluate('theme', '{}')).variant;                     -- light, STATIC
    SELECT ff.get_bool_row('checkout', u, false) FROM users AS u;    -- on once, off twice
    SELECT ff.evaluate_all('{"plan": "pro"}');                       -- every development flag
    -- not counted
    SELECT ff.evaluate_draft('checkout', '{"defaultVariant": "on"}', '{}');
    SELECT ff.evaluate_at('checkout', '{}', now());
    SELECT ff.evaluate_at_version('checkout', '{}', ff.current_version());
    SELECT ff.json_logic('{"var": "a"}', '{"a": 1}');
});
is($node->safe_psql('postgres', $stats), join("\n",
    'development|broken|-|ERROR|PARSE_ERROR|2',
    'development|checkout|-|ERROR|INVALID_CONTEXT|1',
    'development|checkout|-|ERROR|TYPE_MISMATCH|1',
    'development|checkout|off|DEFAULT|-|3',
    'development|checkout|on|TARGETING_MATCH|-|3',
    'development|killed|-|DISABLED|-|2',
    'development|nosuch|-|ERROR|FLAG_NOT_FOUND|1',
    'development|theme|light|STATIC|-|3',
    'development|unused|off|STATIC|-|1',
    'nosuchenv|checkout|-|ERROR|FLAG_NOT_FOUND|1',
    'staging|checkout|on|STATIC|-|1'),
    'each evaluation is counted once under its variant, reason and error code; history, drafts and json_logic are not counted');

is($node->safe_psql('postgres', q{
    SELECT string_agg(environment || '|' || flag_key || '|' || state || '|' || evaluations || '|'
                      || errors || '|' || variants_served::text || '|' || (last_evaluated IS NOT NULL)::int,
                      E'\n' ORDER BY environment, flag_key)
      FROM ff.flag_usage}), join("\n",
    'development|broken|ENABLED|2|2|{}|1',
    'development|checkout|ENABLED|8|2|{off,on}|1',
    'development|killed|DISABLED|2|0|{}|1',
    'development|theme|ENABLED|3|0|{light}|1',
    'development|unused|ENABLED|1|0|{off}|1',
    'staging|checkout|ENABLED|1|0|{on}|1'),
    'ff.flag_usage: one row per flag with its evaluations, errors and the variants served');
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM ff.flag_usage WHERE evaluations = 0}), '0', 'no flag left unevaluated yet');

# ---- a session's counts reach the others when it ends; a rebuild keeps them
$node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats()});
my $s = $node->background_psql('postgres');
$s->query_safe(q{SELECT ff.get_string('theme', '{}', 'x')});
$s->query_safe(q{SELECT ff.get_string('theme', '{}', 'x')});
# the change rebuilds the session's cache at its next evaluation
$node->safe_psql('postgres', q{SELECT ff.set_default_variant('theme', 'dark')});
$s->query_safe(q{SELECT ff.get_string('theme', '{}', 'x')});
$s->quit;
is($node->safe_psql('postgres', $stats), join("\n",
    'development|theme|dark|STATIC|-|1',
    'development|theme|light|STATIC|-|2'),
    "a session's counts reach the others when it ends, also those from before a cache rebuild");
# (1.24 library) a prepared transaction's session hands its counts over at
# the PREPARE, not at its next transaction
$node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats()});
$s = $node->background_psql('postgres');
$s->query_safe(q{BEGIN});
$s->query_safe(q{SELECT ff.get_string('theme', '{}', 'x') FROM generate_series(1, 5)});
$s->query_safe(q{PREPARE TRANSACTION 'ff_stats_prepared'});
is($node->safe_psql('postgres', $stats), 'development|theme|dark|STATIC|-|5',
    'the counts of a prepared transaction are there while its session is idle');
$s->quit;
$node->safe_psql('postgres', q{COMMIT PREPARED 'ff_stats_prepared'});

# ---- parallel workers count
$node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats()});
$node->safe_psql('postgres', q{
    CREATE TABLE ctx AS SELECT jsonb_build_object('plan', CASE WHEN i % 4 = 0 THEN 'pro' END) AS c
      FROM generate_series(1, 200000) AS i;
    ANALYZE ctx});
my $plan = $node->safe_psql('postgres', q{
    SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
    EXPLAIN (COSTS OFF) SELECT count(*) FILTER (WHERE ff.get_bool('checkout', c, false)) FROM ctx});
like($plan, qr/Workers Planned: 2/, 'the bulk query runs in parallel');
is($node->safe_psql('postgres', q{
    SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
    SELECT count(*) FILTER (WHERE ff.get_bool('checkout', c, false)) FROM ctx}), '50000',
    'the parallel bulk query answers');
is($node->safe_psql('postgres', $stats), join("\n",
    'development|checkout|off|DEFAULT|-|150000',
    'development|checkout|on|TARGETING_MATCH|-|50000'),
    'the evaluations of parallel workers are counted, each once');

# ---- resets
$node->safe_psql('postgres', q{
    SELECT ff.get_bool('checkout', '{}', false, 'staging');
    SELECT ff.get_string('theme', '{}', 'x')});
my $since = $node->safe_psql('postgres', 'SELECT stats_since FROM ff.evaluation_stats_info()');
is($node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats(environment => 'staging')}), '1',
    'a reset of one environment removes its entries');
is($node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats(flag_key => 'theme')}), '1',
    'a reset of one flag key removes its entries');
is($node->safe_psql('postgres', $stats), join("\n",
    'development|checkout|off|DEFAULT|-|150000',
    'development|checkout|on|TARGETING_MATCH|-|50000'),
    'the other entries stay');
is($node->safe_psql('postgres', 'SELECT stats_since FROM ff.evaluation_stats_info()'), $since,
    'a partial reset keeps stats_since');
is($node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats()}), '2', 'a full reset removes every entry');
is($node->safe_psql('postgres', qq{
    SELECT entries, stats_since > '$since' FROM ff.evaluation_stats_info()}), '0|t',
    'a full reset restarts stats_since');

# ---- a flag the code still asks for after it was deleted: counted per key
# and environment in bulk, also when the keys alternate
$node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats()});
$node->safe_psql('postgres', q{
    SELECT count(*) FILTER (WHERE ff.get_bool(CASE WHEN i % 3 = 0 THEN 'gone-a' ELSE 'gone-b' END,
                                              '{}', false, CASE WHEN i % 5 = 0 THEN 'staging' END))
      FROM generate_series(1, 3000) AS i});
is($node->safe_psql('postgres', $stats), join("\n",
    'development|gone-a|-|ERROR|FLAG_NOT_FOUND|800',
    'development|gone-b|-|ERROR|FLAG_NOT_FOUND|1600',
    'staging|gone-a|-|ERROR|FLAG_NOT_FOUND|200',
    'staging|gone-b|-|ERROR|FLAG_NOT_FOUND|400'),
    'evaluations of missing flags are counted per key and environment');
is($node->safe_psql('postgres', q{
    SELECT ff.reset_evaluation_stats();
    SELECT ff.get_bool('gone-a', '{}', false);
    SELECT count(*) FROM ff.evaluation_stats;    -- adds this session's counts
    SELECT ff.get_bool('gone-a', '{}', false);
    SELECT evaluations FROM ff.evaluation_stats}), "4\nf\n1\nf\n2",
    'the same missing key is counted again after its counts were added');
$node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats()});

# ---- ff.track_evaluations
$node->safe_psql('postgres', q{
    SET ff.track_evaluations = off;
    SELECT ff.get_bool('checkout', '{}', false)});
is($node->safe_psql('postgres', 'SELECT entries FROM ff.evaluation_stats_info()'), '0',
    'with ff.track_evaluations off nothing is counted');
$node->safe_psql('postgres', q{
    CREATE ROLE app LOGIN;
    CREATE ROLE editors NOLOGIN; SELECT ff.grant_editor('editors');
    CREATE ROLE admins NOLOGIN; SELECT ff.grant_admin('admins');
    CREATE ROLE ed LOGIN IN ROLE editors;
    CREATE ROLE adm LOGIN IN ROLE admins});
my ($ret, $out, $err) = $node->psql('postgres', q{SET ff.track_evaluations = off}, extra_params => ['-U', 'app']);
like($err, qr/permission denied to set parameter "ff\.track_evaluations"/,
    'only a superuser may turn counting off');

# ---- privileges
$node->safe_psql('postgres', q{SELECT ff.get_bool('checkout', '{}', false)}, extra_params => ['-U', 'app']);
($ret, $out, $err) = $node->psql('postgres', q{SELECT * FROM ff.evaluation_stats}, extra_params => ['-U', 'app']);
like($err, qr/permission denied/, 'PUBLIC cannot read the statistics');
($ret, $out, $err) = $node->psql('postgres', q{SELECT * FROM ff.evaluation_stats()}, extra_params => ['-U', 'app']);
like($err, qr/permission denied for function evaluation_stats/, 'PUBLIC cannot call ff.evaluation_stats()');
is($node->safe_psql('postgres', $stats, extra_params => ['-U', 'ed']),
    'development|checkout|off|DEFAULT|-|1',
    "an editor reads the statistics, including PUBLIC's evaluations");
is($node->safe_psql('postgres', q{SELECT count(*) FROM ff.flag_usage}, extra_params => ['-U', 'ed']),
    '6', 'an editor reads ff.flag_usage');
($ret, $out, $err) = $node->psql('postgres', q{SELECT ff.reset_evaluation_stats()}, extra_params => ['-U', 'ed']);
like($err, qr/permission denied for function reset_evaluation_stats/, 'an editor cannot reset');
is($node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats()}, extra_params => ['-U', 'adm']), '1',
    'an admin resets');

# ---- missing keys are capped per database; a full table; other databases
$node->safe_psql('postgres', q{
    SELECT ff.reset_evaluation_stats();
    SELECT count(*) FILTER (WHERE ff.get_bool('missing-' || i, '{}', false)) FROM generate_series(1, 150) AS i});
is($node->safe_psql('postgres', q{
    SELECT count(*) FILTER (WHERE flag_key IS NOT NULL), sum(evaluations) FILTER (WHERE flag_key IS NULL),
           count(*) FILTER (WHERE flag_key IS NULL AND environment IS NULL)
      FROM ff.evaluation_stats WHERE error_code = 'FLAG_NOT_FOUND'}), '10|140|1',
    'missing keys get entries up to a tenth of the table, the others are counted together');
# ... and at a quarter of the table in all databases together: a role that
# may connect to many databases cannot fill the table with missing keys
$node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats()});
for my $i (1 .. 4)
{
    $node->safe_psql('postgres', "CREATE DATABASE miss$i");
    $node->safe_psql("miss$i", q{
        CREATE EXTENSION feature_flags;
        SELECT count(*) FILTER (WHERE ff.get_bool('missing-' || i, '{}', false)) FROM generate_series(1, 20) AS i});
}
is(join(',', map { $node->safe_psql("miss$_", q{
    SELECT count(*) FILTER (WHERE flag_key IS NOT NULL) || '+' || sum(evaluations) FILTER (WHERE flag_key IS NULL)
      FROM ff.evaluation_stats WHERE error_code = 'FLAG_NOT_FOUND'}) } 1 .. 4),
    '10+10,10+10,5+15,0+20',
    'missing keys of all databases together get entries up to a quarter of the table');
$node->safe_psql('postgres', q{SELECT ff.get_bool('checkout', '{}', false)});
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM ff.evaluation_stats WHERE flag_key = 'checkout' AND error_code IS NULL}),
    '1', 'a real flag is still counted');
$node->safe_psql('postgres', "DROP DATABASE miss$_") for 1 .. 4;
# back to the 10 + 1 entries of missing keys above
$node->safe_psql('postgres', q{
    SELECT ff.reset_evaluation_stats();
    SELECT count(*) FILTER (WHERE ff.get_bool('missing-' || i, '{}', false)) FROM generate_series(1, 150) AS i});
$node->safe_psql('postgres', q{
    SELECT ff.create_environment('many');
    INSERT INTO ff.flags (environment, key, variants, default_variant)
    SELECT 'many', 'f' || i, '{"on": true, "off": false}', 'on' FROM generate_series(1, 120) AS i});
$node->safe_psql('postgres', q{SELECT ff.evaluate_all('{}', 'many')});
is($node->safe_psql('postgres', q{
    SELECT entries, entries_all_databases, max_entries, dropped FROM ff.evaluation_stats_info()}),
    '100|100|100|31', 'a full table counts the evaluations it cannot hold as dropped');
is($node->safe_psql('postgres', q{
    SELECT count(*) FILTER (WHERE evaluations IS NULL), count(*) FILTER (WHERE evaluations = 0),
           count(*) FILTER (WHERE evaluations = 1)
      FROM ff.flag_usage WHERE environment = 'many'}),
    '31|0|89', 'ff.flag_usage: a flag without entries has evaluations NULL (unknown), not 0, once some were dropped');
$node->safe_psql('postgres', q{CREATE DATABASE other});
$node->safe_psql('other', q{
    CREATE EXTENSION feature_flags;
    SELECT ff.get_bool('checkout', '{}', false)});
is($node->safe_psql('other', q{
    SELECT entries, entries_all_databases, dropped, stats_since IS NOT NULL FROM ff.evaluation_stats_info()}),
    '0|100|1|t', 'another database has its own dropped count and stats_since');
$node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats()});
is($node->safe_psql('postgres', 'SELECT entries, dropped FROM ff.evaluation_stats_info()'), '0|0',
    'a full reset clears the entries and the dropped count of its database');
is($node->safe_psql('other', 'SELECT dropped FROM ff.evaluation_stats_info()'), '1',
    'not those of another database');
$node->safe_psql('other', q{SELECT ff.get_bool('checkout', '{}', false)});
is($node->safe_psql('postgres', 'SELECT entries_all_databases FROM ff.evaluation_stats_info()'), '1',
    'the other database counts again once there is room');
$node->safe_psql('postgres', q{DROP DATABASE other});
$node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats(flag_key => 'nothing')});
is($node->safe_psql('postgres', 'SELECT entries_all_databases FROM ff.evaluation_stats_info()'), '0',
    'a reset removes the entries of databases that no longer exist');

# ---- long names
$node->safe_psql('postgres', q{SELECT ff.get_bool(repeat('é', 150), '{}', false)});
is($node->safe_psql('postgres', q{SELECT octet_length(flag_key), flag_key ~ ('^' || repeat('é', 95) || '~[0-9a-f]{8}$') FROM ff.evaluation_stats}),
    '199|t', 'a key longer than 200 bytes is cut at a character boundary and ends with ~ and a hash');
# (1.24 library) variants whose names differ only after the cut keep
# entries of their own (ff.flag_usage called such a flag constant)
$node->safe_psql('postgres', q{
    SELECT ff.reset_evaluation_stats();
    SELECT ff.create_flag('longvar', jsonb_build_object(repeat('v', 250), true, repeat('v', 249) || 'w', false),
                          repeat('v', 250));
    SELECT ff.get_bool('longvar', '{}', NULL);
    SELECT ff.set_default_variant('longvar', repeat('v', 249) || 'w');
    SELECT ff.get_bool('longvar', '{}', NULL)});
is($node->safe_psql('postgres', q{
    SELECT count(DISTINCT variant), max(octet_length(variant)), bool_and(variant LIKE repeat('v', 191) || '~%')
      FROM ff.evaluation_stats WHERE flag_key = 'longvar'}),
    '2|200|t', 'two long variants that differ after the cut keep entries of their own');
is($node->safe_psql('postgres', q{SELECT cardinality(variants_served) FROM ff.flag_usage WHERE flag_key = 'longvar'}),
    '2', 'and ff.flag_usage sees both');

# ---- restarts
$node->safe_psql('postgres', q{SELECT ff.reset_evaluation_stats(); SELECT ff.get_bool('checkout', '{}', false)});
my $before = $node->safe_psql('postgres', $stats . ', first_evaluated, last_evaluated');
$since = $node->safe_psql('postgres', 'SELECT stats_since FROM ff.evaluation_stats_info()');
$node->restart;
is($node->safe_psql('postgres', $stats . ', first_evaluated, last_evaluated'), $before,
    'the statistics survive a clean restart');
is($node->safe_psql('postgres', 'SELECT stats_since FROM ff.evaluation_stats_info()'), $since,
    'and so does stats_since');
ok(!-e $node->data_dir . '/pg_stat/feature_flags.stat', 'the file is removed once read');
# a start that fails after reading the file keeps it
$node->stop;
my $hba = slurp_file($node->data_dir . '/pg_hba.conf');
$node->append_conf('pg_hba.conf', 'this line is not valid');
ok(!$node->start(fail_ok => 1), 'a start with a broken pg_hba.conf fails');
open(my $fh, '>', $node->data_dir . '/pg_hba.conf') or die;
print $fh $hba;
close $fh;
$node->start;
is($node->safe_psql('postgres', $stats . ', first_evaluated, last_evaluated'), $before,
    'the statistics survive a start that failed');

# an immediate shutdown stops the backends first: the table is consistent and saved
$node->safe_psql('postgres', q{SELECT ff.get_bool('checkout', '{}', false)});
$before = $node->safe_psql('postgres', $stats);
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', $stats), $before, 'and an immediate shutdown (pg_ctl stop -m immediate)');
like($before, qr/\|2$/, 'which had counted the evaluation before it');

# a backend that crashes makes the server reinitialise shared memory: the
# counts since the start are lost; if there were none, nothing is
sub crash
{
	my $victim = $node->background_psql('postgres', on_error_stop => 0);
	my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
	kill 'KILL', $victim_pid;
	$victim->quit;
	$node->poll_query_until('postgres', 'SELECT 1', '1')
	  or die 'the server did not come back after the crash';
}
crash();
is($node->safe_psql('postgres', $stats), $before,
    'a crash before anything was counted since the start keeps the statistics');
$node->safe_psql('postgres', q{SELECT ff.get_bool('checkout', '{}', false)});
crash();
is($node->safe_psql('postgres', 'SELECT entries, stats_since IS NULL FROM ff.evaluation_stats_info()'),
    '0|t', 'a crash after counting: the statistics start empty');

# ---- a cluster without the library preloaded
my $plain = PostgreSQL::Test::Cluster->new('no_preload');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION feature_flags');
($ret, $out, $err) = $plain->psql('postgres', q{SELECT * FROM ff.evaluation_stats});
like($err, qr/feature_flags must be loaded via shared_preload_libraries to collect evaluation statistics/,
    'without shared_preload_libraries the statistics say what is missing');
like($err, qr/HINT:\s+Add feature_flags to shared_preload_libraries/, 'with a hint');
is($plain->safe_psql('postgres', q{
    SELECT ff.get_bool('nosuch', '{}', true)}), 't', 'evaluation works without the statistics');
$plain->stop;

$node->stop;
done_testing();
