# 025_standby_replay_window.pl — a hot standby never answers from a cache
# older than what the statement sees.
#
# Replaying a commit makes it visible before it queues the commit's
# invalidations (xact_redo_commit: the transaction's end, then
# ProcessCommittedInvalidationMessages).  A statement on the standby that
# starts in between sees the new rows; without FFCacheStandbyCatchUp
# (src/ff_cache.c) its evaluations came from the old cache.  The test holds
# the standby's startup process at ProcessCommittedInvalidationMessages with
# gdb, so that the window stays open, and checks in one statement that the
# row and the evaluation agree: a flag's default variant, and a key removed
# from a segment whose list the backend keeps across generations (also
# when the cache is already invalid at the statement's start).  Skipped without gdb, or where gdb may not attach.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $gdb = `command -v gdb 2>/dev/null`;
chomp $gdb;
plan skip_all => 'gdb is not installed' if $gdb eq '';

my $primary = PostgreSQL::Test::Cluster->new('window_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'feature_flags'");
# no commit but the test's may reach the standby while it is held
$primary->append_conf('postgresql.conf', "autovacuum = off");
$primary->start;
$primary->safe_psql('postgres', q{
    CREATE EXTENSION feature_flags;
    SELECT ff.create_flag('w', '{"small": 1, "big": 2}', 'small');
    -- a list long enough to be kept across generations (FF_KEYS_KEEP_MIN)
    SELECT ff.create_segment('ws', NULL, include => ARRAY(SELECT 'k' || i FROM generate_series(1, 5000) AS i));
    SELECT ff.create_flag('wk', '{"on": true, "off": false}', 'off',
                          targeting => '{"if": [{"in_segment": "ws"}, "on", null]}');
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('window_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "autovacuum = off");
$standby->start;
$primary->wait_for_catchup($standby, 'replay');

my $startup = $standby->safe_psql('postgres',
    q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'startup'});

# may gdb attach to it here?  (a restricted ptrace_scope or a container
# without CAP_SYS_PTRACE says no)
my ($out, $err) = ('', '');
IPC::Run::run([ $gdb, '-p', $startup, '-batch', '-ex', 'detach' ], '>', \$out, '2>', \$err);
if ("$out$err" !~ /\bdetached\b|Detaching from/)
{
    $standby->stop;
    $primary->stop;
    plan skip_all => "gdb cannot attach to the startup process: $out$err";
}
ok($startup =~ /^\d+$/, "gdb attaches to the standby's startup process ($startup)");

my $session = $standby->background_psql('postgres');
is($session->query_safe(q{SELECT ff.get_int('w', '{}', -1)}), '1',
    'the standby session serves the flag (its cache is built)');
is($session->query_safe(q{SELECT ff.get_bool('wk', '{"targetingKey": "k3"}', false)}), 't',
    'and the segment with key k3');

# hold_replay: gdb stops the startup process at the next commit's
# invalidations and keeps it there for $seconds; returns the harness and
# the file gdb writes to
sub hold_replay
{
    my ($seconds) = @_;
    my $log = $PostgreSQL::Test::Utils::tmp_check . "/gdb_$seconds.log";
    unlink $log;
    my $h = IPC::Run::start(
        [ $gdb, '-p', $startup, '-batch',
          '-ex', 'break ProcessCommittedInvalidationMessages',
          '-ex', 'continue',
          '-ex', 'echo HELD\n',
          '-ex', "shell sleep $seconds",
          '-ex', 'detach' ],
        '>', $log, '2>&1');
    # wait until the breakpoint is set (the process is stopped until then)
    for (1 .. 300)
    {
        last if -e $log && slurp_file($log) =~ /Breakpoint 1 at/;
        usleep(100_000);
    }
    return ($h, $log);
}

# in_window: runs $query on the standby session until its first column
# says the commit is visible ($visible), while replay is held at the
# commit's invalidations; returns the row
sub in_window
{
    my ($query, $visible, $log) = @_;
    my $row = '';
    for (1 .. 300)
    {
        $row = $session->query_safe($query);
        last if (split /\|/, $row)[0] eq $visible;
        usleep(50_000);
    }
    like(slurp_file($log), qr/HELD/, 'replay was held at the commit\'s invalidations');
    return $row;
}

# a flag's default variant
my ($h, $log) = hold_replay(8);
$primary->safe_psql('postgres', q{SELECT ff.set_default_variant('w', 'big')});
my $row = in_window(q{SELECT (SELECT default_variant FROM ff.flags WHERE key = 'w'), ff.get_int('w', '{}', -1),
                             (ff.evaluate('w', '{}')).variant},
                    'big', $log);
is($row, 'big|2|big',
    'a statement that sees the new default variant evaluates with it, before the invalidation is replayed');
is($session->query_safe(q{SELECT ff.get_int('w', '{}', -1)}), '2', 'and so does the next statement');
$h->finish;
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe(q{SELECT ff.get_int('w', '{}', -1)}), '2', 'after the invalidation too');

# a key removed from a segment
($h, $log) = hold_replay(8);
$primary->safe_psql('postgres', q{SELECT ff.remove_segment_keys('ws', '{k3}')});
$row = in_window(q{SELECT EXISTS (SELECT 1 FROM ff.segment_keys WHERE targeting_key = 'k3'),
                          ff.get_bool('wk', '{"targetingKey": "k3"}', false)},
                 'f', $log);
is($row, 'f|f',
    'a statement that sees a key removed evaluates without it, before the invalidation is replayed');
$h->finish;
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe(q{SELECT ff.get_bool('wk', '{"targetingKey": "k3"}', true)}), 'f',
    'after the invalidation too');

# a flag change replayed while the session was idle (its cache is invalid
# when the next statement starts), then a key added, held: the kept list
# must not serve the statement that sees the key
$primary->safe_psql('postgres', q{SELECT ff.set_default_variant('w', 'small')});
$primary->wait_for_catchup($standby, 'replay');
($h, $log) = hold_replay(8);
$primary->safe_psql('postgres', q{SELECT ff.add_segment_keys('ws', '{zz1}')});
$row = in_window(q{SELECT EXISTS (SELECT 1 FROM ff.segment_keys WHERE targeting_key = 'zz1'),
                          ff.get_bool('wk', '{"targetingKey": "zz1"}', false), ff.get_int('w', '{}', -1)},
                 't', $log);
is($row, 't|t|1',
    'after an invalidation already queued, a key added that the statement sees is in the kept list too');
$h->finish;
$primary->wait_for_catchup($standby, 'replay');

$session->quit;
$standby->stop;
$primary->stop;
done_testing();
