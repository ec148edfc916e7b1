# 030_crash.pl — crash safety of the config store and its history.
#
# A client streams multi-flag change-sets (one transaction = three flag
# updates) and the server crashes in the middle, twice:
#   1. SIGKILL of the backend that writes: the postmaster treats it as a
#      crash, terminates every backend and runs crash recovery (WAL replay);
#   2. an immediate shutdown (no checkpoint) followed by a restart.
# After each: every change-set the client saw committed is present, no
# change-set is partial, versions are gap-free, the hash chain verifies,
# and the flags hold the state of the last committed change-set.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "restart_after_crash = on");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION feature_flags');
$node->safe_psql('postgres', q{
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
    SELECT 'development', 'crash-' || i, 'number', '{"a": 1, "b": 2}', 'a'
      FROM generate_series(1, 3) AS i});

my $round = 0;

# stream_and_crash(CRASH) — start a stream of 5000 change-sets, call CRASH
# once a few hundred have committed, return how many the client saw commit
sub stream_and_crash
{
    my ($crash) = @_;
    $round++;
    my $base = $node->safe_psql('postgres', 'SELECT ff.current_version()');
    my $script = '';
    for my $i (1 .. 5000)
    {
        my $v = $i % 2 ? 'b' : 'a';
        $script .= "BEGIN;\n"
          . "UPDATE ff.flags SET default_variant = '$v', description = 'round $round change $i'"
          . " WHERE environment = 'development' AND key LIKE 'crash-%';\n"
          . "COMMIT;\n\\echo acked $i\n";
    }
    my $file = $node->basedir . "/stream-$round.sql";
    PostgreSQL::Test::Utils::append_to_file($file, $script);
    my ($stdout, $stderr) = ('', '');
    my $psql;
    {
        local $ENV{PGAPPNAME} = 'ff_stream';
        $psql = IPC::Run::start(
            [ 'psql', '-X', '-q', '-f', $file, '-d', $node->connstr('postgres') ],
            '>', \$stdout, '2>', \$stderr);
    }
    $node->poll_query_until('postgres', "SELECT ff.current_version() >= $base + 900")
      or die "the change stream did not start: $stderr";
    $crash->();
    $psql->finish;    # psql ends with an error: its connection is gone
    my @acked = ($stdout =~ /acked (\d+)/g);
    return ($base, @acked ? $acked[-1] : 0);
}

# check_after(BASE, ACKED, WHAT) — the invariants after a crash
sub check_after
{
    my ($base, $acked, $what) = @_;
    cmp_ok($acked, '>', 100, "$what: the client saw $acked change-sets commit");
    my $sets = $node->safe_psql('postgres', qq{
        SELECT count(DISTINCT change_set) FROM ff.versions WHERE version > $base});
    cmp_ok($sets, '>=', $acked, "$what: every acknowledged change-set survived");
    cmp_ok($sets, '<=', $acked + 1, "$what: at most the in-flight change-set committed unacknowledged");
    is($node->safe_psql('postgres', qq{
        SELECT count(*) FROM (SELECT change_set FROM ff.versions WHERE version > $base
                               GROUP BY change_set HAVING count(*) <> 3) AS partial}),
        '0', "$what: no change-set is partial");
    is($node->safe_psql('postgres', q{
        SELECT count(*) = max(version) AND min(version) = 1 FROM ff.versions}),
        't', "$what: versions are gap-free from 1");
    is($node->safe_psql('postgres', q{SELECT ok FROM ff.verify_history()}),
        't', "$what: the hash chain verifies");
    is($node->safe_psql('postgres', q{
        SELECT string_agg(DISTINCT description, ',') FROM ff.flags WHERE key LIKE 'crash-%'}),
        "round $round change $sets", "$what: the flags hold the last committed change-set");
}

# round 1: SIGKILL the writing backend -> crash recovery of the whole server
my ($base, $acked) = stream_and_crash(sub {
    my $pid = $node->safe_psql('postgres',
        q{SELECT pid FROM pg_stat_activity
           WHERE application_name = 'ff_stream' AND pid <> pg_backend_pid()});
    die 'no stream backend' unless $pid;
    kill 9, $pid;
});
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'the server did not come back after crash recovery';
ok($node->log_contains('terminated by signal 9'), 'the backend crash triggered crash recovery');
check_after($base, $acked, 'backend SIGKILL');

# round 2: immediate shutdown mid-stream, then restart
($base, $acked) = stream_and_crash(sub { $node->stop('immediate'); });
$node->start;
check_after($base, $acked, 'immediate shutdown');

# and the store keeps working
$node->safe_psql('postgres', q{UPDATE ff.flags SET state = 'DISABLED' WHERE key = 'crash-1'});
is($node->safe_psql('postgres', q{SELECT ok FROM ff.verify_history()}),
    't', 'the chain continues after the restarts');

$node->stop;
done_testing();
