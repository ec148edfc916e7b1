# 050_mixed_load.pl — writers, readers and a poller at once, for a bounded time.
#
# Two pgbench runs against one node, side by side for LOAD_SECONDS:
#  * writers: single-flag UPDATEs by plain DML, changes through ff
#    functions (set_rollout, disable_flag/enable_flag), and transactions
#    that change two flags in either order (the deadlock-prone shape);
#  * readers: evaluation at full speed (ff.get_bool over 100 contexts,
#    ff.evaluate), and observations recorded as (client, version seen by
#    ff.current_version(), flag, value) in the same statement;
# and a poller following ff.changes_since(last) the whole time.
# Asserted afterwards (never timing):
#  * both pgbench runs exit 0 with zero failed transactions: no error, no
#    deadlock, no serialization failure;
#  * the poller received every version 1..N exactly once, in order;
#  * ff.verify_history() is ok;
#  * every version a reader observed existed; every value a reader
#    observed is a state the history recorded for that flag; no reader
#    ever went back to an older version or an older state of a flag, nor
#    got a flag older than the version its own statement saw.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $seconds = $ENV{LOAD_SECONDS} || 12;

my $node = PostgreSQL::Test::Cluster->new('load');
$node->init(allows_streaming => 1);    # (a synchronous standby setting below)
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'feature_flags'
max_connections = 30
deadlock_timeout = 100ms
log_lock_waits = on
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION feature_flags;
    SELECT ff.create_environment('load');
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
    SELECT 'load', 's' || i, 'string', jsonb_build_object('cur', 'init-' || i), 'cur'
      FROM generate_series(1, 8) AS i;
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
    SELECT 'load', 'b' || i, 'boolean', '{"on": true, "off": false}', 'off'
      FROM generate_series(1, 8) AS i;
    CREATE UNLOGGED TABLE load_obs (
        id      bigserial PRIMARY KEY,
        client  integer NOT NULL,
        v       bigint NOT NULL,
        flag    text NOT NULL,
        token   text NOT NULL);
});
my $v_setup = $node->safe_psql('postgres', 'SELECT ff.current_version()');
is($v_setup, '17', 'setup: an environment and 16 flags, one version each');
# (1.20 library) a segment whose key list readers keep across the other
# writers' changes, and a writer that adds one key per transaction
$node->safe_psql('postgres', q{
    SELECT name FROM ff.create_segment('big', environment => 'load');
    INSERT INTO ff.segment_keys (environment, segment, targeting_key)
    SELECT 'load', 'big', 'u' || i FROM generate_series(1, 2000) AS i;
    SELECT key FROM ff.create_flag('in-big', environment => 'load',
        targeting => '{"if": [{"in_segment": "big"}, "on", "off"]}');
    CREATE SEQUENCE load_m;
    CREATE UNLOGGED TABLE load_keys_obs (m bigint NOT NULL, member boolean);
});
$v_setup = $node->safe_psql('postgres', 'SELECT ff.current_version()');

# ---- the pgbench scripts
my $dir = PostgreSQL::Test::Utils::tempdir;
my %scripts = (
    'w_dml.sql' => q{
\set f random(1, 8)
UPDATE ff.flags SET variants = jsonb_build_object('cur', 'dml-' || pg_current_xact_id()::text)
 WHERE environment = 'load' AND key = 's' || :f;
},
    'w_fn.sql' => q{
\set f random(1, 8)
\set p random(0, 100)
SELECT (ff.set_rollout('b' || :f, :p, 'load')).version;
SELECT CASE WHEN :p % 2 = 0 THEN (ff.disable_flag('b' || :f, 'load')).version
            ELSE (ff.enable_flag('b' || :f, 'load')).version END;
},
    'w_two.sql' => q{
\set a random(1, 8)
\set b random(1, 8)
BEGIN;
SELECT ff.comment_change('two flags');
UPDATE ff.flags SET variants = jsonb_build_object('cur', 'two-a-' || pg_current_xact_id()::text)
 WHERE environment = 'load' AND key = 's' || :a;
UPDATE ff.flags SET variants = jsonb_build_object('cur', 'two-b-' || pg_current_xact_id()::text)
 WHERE environment = 'load' AND key = 's' || :b;
END;
},
    'w_keys.sql' => q{
INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('load', 'big', 'm' || nextval('load_m'));
},
    'r_keys.sql' => q{
INSERT INTO load_keys_obs (m, member)
SELECT s.m, ff.get_bool('in-big', jsonb_build_object('targetingKey', 'm' || s.m), NULL, 'load')
  FROM (SELECT max(substr(targeting_key, 2)::bigint) AS m FROM ff.segment_keys
         WHERE environment = 'load' AND segment = 'big' AND targeting_key LIKE 'm%') AS s
 WHERE s.m IS NOT NULL;
},
    'r_obs.sql' => q{
\set f random(1, 8)
INSERT INTO load_obs (client, v, flag, token)
SELECT :client_id, ff.current_version(), 's' || :f, ff.get_string('s' || :f, '{}', 'none', 'load');
},
    'r_eval.sql' => q{
\set f random(1, 8)
SELECT count(*) FILTER (WHERE ff.get_bool('b' || :f, jsonb_build_object('targetingKey', 'u' || i), false))
  FROM generate_series(1, 100) AS i;
SELECT (ff.evaluate('s' || :f, '{}', NULL, 'load')).reason;
},
);
for my $name (keys %scripts)
{
    open(my $fh, '>', "$dir/$name") or die "cannot write $dir/$name: $!";
    print $fh $scripts{$name};
    close($fh);
}

my @conn = ('-h', $node->host, '-p', $node->port, 'postgres');
my @common = ('pgbench', '-n', '-T', $seconds, '--failures-detailed');
my ($w_out, $w_err, $r_out, $r_err) = ('', '', '', '');
my $writers = IPC::Run::start(
    [ @common, '-c', '3', '-j', '1',
      '-f', "$dir/w_dml.sql\@4", '-f', "$dir/w_fn.sql\@2", '-f', "$dir/w_two.sql\@3",
      '-f', "$dir/w_keys.sql\@1", @conn ],
    '>', \$w_out, '2>', \$w_err);
my $readers = IPC::Run::start(
    [ @common, '-c', '3', '-j', '1',
      '-f', "$dir/r_obs.sql\@1", '-f', "$dir/r_eval.sql\@1", '-f', "$dir/r_keys.sql\@1", @conn ],
    '>', \$r_out, '2>', \$r_err);

# ---- the poller: follows ff.changes_since() while the load runs
my $poller = $node->background_psql('postgres');
my @seen;
my $last = 0;
my $polls = 0;
my $poll = sub {
    my $got = $poller->query_safe(
        "SELECT coalesce(string_agg(version::text, ',' ORDER BY version), '') FROM ff.changes_since($last)");
    $polls++;
    return if $got eq '';
    my @v = split /,/, $got;
    push @seen, @v;
    $last = $v[-1];
};
while ($writers->pumpable || $readers->pumpable)
{
    $poll->();
    usleep(20_000);
    $writers->pump_nb if $writers->pumpable;
    $readers->pump_nb if $readers->pumpable;
}
$writers->finish;
my $w_status = $?;
$readers->finish;
my $r_status = $?;
$poll->();
$poller->quit;
note "writers:\n$w_out$w_err";
note "readers:\n$r_out$r_err";

# ---- pgbench: no errors, no deadlocks
is($w_status, 0, 'the writers\' pgbench exits 0');
is($r_status, 0, 'the readers\' pgbench exits 0');
like($w_out, qr/^number of failed transactions: 0 \(0\.000%\)$/m, 'no writer transaction failed');
like($r_out, qr/^number of failed transactions: 0 \(0\.000%\)$/m, 'no reader transaction failed');
my ($w_done) = $w_out =~ /^number of transactions actually processed: (\d+)/m;
my ($r_done) = $r_out =~ /^number of transactions actually processed: (\d+)/m;
ok(defined $w_done && $w_done > 0, 'writers committed transactions');
ok(defined $r_done && $r_done > 0, 'readers ran transactions');
unlike($w_err . $r_err, qr/deadlock|ERROR|aborted/i, 'pgbench reported no error');
my $log = slurp_file($node->logfile);
my $deadlocks = () = $log =~ /deadlock detected/g;
is($deadlocks, 0, 'the server log has no deadlock');

# ---- the history and the poller
my $n = $node->safe_psql('postgres', 'SELECT ff.current_version()');
cmp_ok($n, '>', $v_setup, "the writers added versions (now $n)");
is($node->safe_psql('postgres', 'SELECT count(*) FROM ff.versions'), $n, 'versions are gap-free');
is($node->safe_psql('postgres', q{SELECT CASE WHEN ok THEN 'ok' ELSE detail END FROM ff.verify_history()}),
    'ok', 'ff.verify_history() is ok after the load');
cmp_ok($polls, '>', 1, "the poller polled during the load ($polls polls)");
is(scalar(@seen), $n, 'the poller received N versions');
is(join(',', @seen), join(',', 1 .. $n), 'the poller received every version 1..N exactly once, in order');
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM (SELECT change_set FROM ff.versions WHERE comment = 'two flags'
                           GROUP BY change_set HAVING count(*) NOT IN (1, 2)) AS x}),
    '0', 'two-flag transactions are change-sets of one or two versions');

# ---- what the readers observed
my $obs = $node->safe_psql('postgres', 'SELECT count(*) FROM load_obs');
cmp_ok($obs, '>', 0, "readers recorded observations ($obs)");
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM load_obs AS o
     WHERE o.v <> 0 AND NOT EXISTS (SELECT 1 FROM ff.versions AS v WHERE v.version = o.v)}),
    '0', 'every version a reader observed existed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM load_obs WHERE token = 'none'}),
    '0', 'no evaluation fell back to the caller\'s default');

# the version at which each observed value was written
$node->safe_psql('postgres', q{
    CREATE TABLE load_obs_tv AS
    SELECT o.*, (SELECT max(v.version) FROM ff.versions AS v
                  WHERE v.entity = 'flag' AND v.environment = 'load' AND v.entity_key = o.flag
                    AND v.after -> 'variants' ->> 'cur' = o.token) AS tv
      FROM load_obs AS o});
is($node->safe_psql('postgres', 'SELECT count(*) FROM load_obs_tv WHERE tv IS NULL'),
    '0', 'every value a reader observed is a state the history recorded for that flag');
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM (
        SELECT v < lag(v) OVER w AS back FROM load_obs_tv WINDOW w AS (PARTITION BY client ORDER BY id)) AS x
     WHERE back}),
    '0', 'no reader saw ff.current_version() go backwards');
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM (
        SELECT tv < lag(tv) OVER w AS back FROM load_obs_tv WINDOW w AS (PARTITION BY client, flag ORDER BY id)) AS x
     WHERE back}),
    '0', 'no reader saw a flag go back to an older state');

# (1.19 library, preloaded) no observation's value was older than the
# flag's state at the version the same statement saw: a commit visible to
# the statement whose invalidation had not arrived yet is caught by the
# shared commit counters (FFCacheCommits in src/ff_cache.c); 1.18 served
# the old state in that window (a review measured 40 statements of 93,000
# with two writers and four readers; without the library preloaded it
# still does)
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM load_obs_tv AS o
     WHERE o.tv < (SELECT max(v.version) FROM ff.versions AS v
                    WHERE v.entity = 'flag' AND v.environment = 'load' AND v.entity_key = o.flag
                      AND v.version <= o.v)}),
    '0', 'no reader got a flag older than the version its statement saw');
# (1.20 library, preloaded) a key the statement sees in ff.segment_keys is
# a member for its evaluation: a key list kept across changes is never used
# once a key change is visible, also before its invalidation arrives (the
# shared key commit counters)
my $kobs = $node->safe_psql('postgres', 'SELECT count(*) FROM load_keys_obs');
cmp_ok($kobs, '>', 0, "readers checked segment keys ($kobs)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM load_keys_obs WHERE member IS NOT TRUE}),
    '0', 'every key a reader\'s statement saw was a member of the segment');
# for information (not asserted: evaluation may legitimately use a flag
# state newer than the statement's snapshot)
note 'observations newer than their statement\'s version: ' . $node->safe_psql('postgres', q{
    SELECT count(*) FROM load_obs_tv AS o WHERE o.tv > o.v});

# ---- (1.19 library) a commit that waits does not make readers rebuild:
# a writer held in its commit by a synchronous standby that does not exist
# is under way for as long as it waits; readers of its database and of
# another database evaluate from their cache, and see the change once it
# is committed
$node->safe_psql('postgres', q{CREATE DATABASE other_db});
$node->safe_psql('other_db', q{
    CREATE EXTENSION feature_flags;
    SELECT key FROM ff.create_flag('o', '{"a": "a"}', 'a')});
$node->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = 'nobody'; SELECT pg_reload_conf()});
my $same = $node->background_psql('postgres');
my $other = $node->background_psql('other_db');
$same->query_safe(q{SELECT ff.get_string('s1', '{}', '-', 'load')});
$other->query_safe(q{SELECT ff.get_string('o', '{}', '-')});
my $waiter = $node->background_psql('postgres', on_error_stop => 0);
$waiter->query_until(qr/sent/, q{
    \echo sent
    UPDATE ff.flags SET variants = '{"cur": "held"}' WHERE environment = 'load' AND key = 's1';
});
$node->poll_query_until('postgres',
    q{SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'})
  or die 'the writer does not wait for the standby';
my $r_same = $same->query_safe('SELECT rebuilds FROM ff.cache_info()');
my $r_other = $other->query_safe('SELECT rebuilds FROM ff.cache_info()');
for my $i (1 .. 20)
{
    $same->query_safe(q{SELECT ff.get_string('s1', '{}', '-', 'load')});
    $other->query_safe(q{SELECT ff.get_string('o', '{}', '-')});
}
is($same->query_safe('SELECT rebuilds FROM ff.cache_info()') - $r_same, 0,
    'a commit waiting for a synchronous standby makes no reader of its database rebuild');
is($other->query_safe('SELECT rebuilds FROM ff.cache_info()') - $r_other, 0,
    'nor a reader of another database');
is($same->query_safe(q{
    SELECT ff.get_string('s1', '{}', '-', 'load') = variants ->> 'cur' AND variants ->> 'cur' <> 'held'
      FROM ff.flags WHERE environment = 'load' AND key = 's1'}), 't',
    'while it waits, readers evaluate what they see stored: the value before it');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf()});
$node->poll_query_until('postgres',
    q{SELECT variants ->> 'cur' = 'held' FROM ff.flags WHERE environment = 'load' AND key = 's1'})
  or die 'the writer did not commit';
is($same->query_safe(q{SELECT ff.get_string('s1', '{}', '-', 'load')}), 'held',
    'once it has committed, the next statement evaluates the change');
$waiter->quit;
$same->quit;
$other->quit;

$node->stop;
done_testing();
