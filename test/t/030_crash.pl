# 030_crash.pl — crash safety of the config store and its history.
#
# A client streams multi-flag change-sets (one transaction = three flag
# updates) while the server is killed with SIGKILL.  After restart: every
# change-set the client saw committed is present, no change-set is partial,
# versions are gap-free and the hash chain verifies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION feature_flags');
$node->safe_psql('postgres', q{
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
    SELECT 'development', 'crash-' || i, 'number', '{"a": 1, "b": 2}', 'a'
      FROM generate_series(1, 3) AS i});
my $base_version = $node->safe_psql('postgres', 'SELECT ff.current_version()');

# a script of 5000 change-sets, each acknowledged with an \echo after COMMIT
my $script = '';
for my $i (1 .. 5000)
{
    my $v = $i % 2 ? 'b' : 'a';
    $script .= "BEGIN;\n"
      . "UPDATE ff.flags SET default_variant = '$v', description = 'change $i'"
      . " WHERE environment = 'development' AND key LIKE 'crash-%';\n"
      . "COMMIT;\n\\echo acked $i\n";
}
my $script_file = $node->basedir . '/stream.sql';
PostgreSQL::Test::Utils::append_to_file($script_file, $script);
my ($stdout, $stderr) = ('', '');
my $psql = IPC::Run::start(
    [ 'psql', '-X', '-q', '-f', $script_file, '-d', $node->connstr('postgres') ],
    '>', \$stdout, '2>', \$stderr);

# let a few hundred change-sets commit, then kill the server mid-stream
$node->poll_query_until('postgres',
    "SELECT ff.current_version() >= $base_version + 600")
  or die "the change stream did not start: $stderr";
$node->kill9;
$psql->finish;    # psql exits with an error: the connection is gone

my @acked = ($stdout =~ /acked (\d+)/g);
my $last_acked = @acked ? $acked[-1] : 0;
cmp_ok($last_acked, '>', 100, "the client saw $last_acked change-sets commit before the crash");

$node->start;

my $sets = $node->safe_psql('postgres', qq{
    SELECT count(DISTINCT change_set) FROM ff.versions WHERE version > $base_version});
cmp_ok($sets, '>=', $last_acked, 'every acknowledged change-set survived the crash');
cmp_ok($sets, '<=', $last_acked + 1, 'at most the one in-flight change-set committed unacknowledged');

is($node->safe_psql('postgres', qq{
    SELECT count(*) FROM (SELECT change_set FROM ff.versions WHERE version > $base_version
                           GROUP BY change_set HAVING count(*) <> 3) AS partial}),
    '0', 'no change-set is partial');

is($node->safe_psql('postgres', q{
    SELECT count(*) = max(version) AND min(version) = 1 FROM ff.versions}),
    't', 'versions are gap-free from 1');

is($node->safe_psql('postgres', q{SELECT bool_and(ok) FROM ff.verify_history()}),
    't', 'the hash chain verifies after the crash');

# the flags hold the state of the last committed change-set
my $last_desc = $node->safe_psql('postgres', q{
    SELECT string_agg(DISTINCT description, ',') FROM ff.flags WHERE key LIKE 'crash-%'});
is($last_desc, "change $sets", 'the flags hold the state of the last committed change-set');

# and the store keeps working
$node->safe_psql('postgres', q{
    UPDATE ff.flags SET state = 'DISABLED' WHERE key = 'crash-1'});
is($node->safe_psql('postgres', q{SELECT bool_and(ok) FROM ff.verify_history()}),
    't', 'the chain continues after the restart');

$node->stop;
done_testing();
