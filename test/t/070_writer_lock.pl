# 070_writer_lock.pl — the history writer lock (1.5) as other sessions see it.
#
#   * a transaction that changed the configuration holds the writer lock
#     (a heavyweight lock) until it ends; ff.writer_lock shows it;
#   * another writer waits for it; with lock_timeout it fails with SQLSTATE
#     55P03, and the error's CONTEXT names the writer lock and the view,
#     which PostgreSQL's own message does not;
#   * after the holder commits, the waiter's retry numbers after it, and the
#     chain verifies;
#   * a configuration change cannot be prepared (PREPARE TRANSACTION): its
#     change notification is a NOTIFY, which PostgreSQL does not prepare.
#     The PREPARE fails, the change rolls back whole, and the lock is free.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('writer_lock');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'feature_flags'");
$node->append_conf('postgresql.conf', "max_prepared_transactions = 4");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION feature_flags');
$node->safe_psql('postgres', q{
    INSERT INTO ff.flags (environment, key, variants) VALUES
        ('development', 'prepared', '{"on": true, "off": false}'),
        ('development', 'waiter', '{"on": true, "off": false}')});
my $v0 = $node->safe_psql('postgres', 'SELECT ff.current_version()');

# a session in the middle of a configuration change holds the writer lock
my $holder = $node->background_psql('postgres');
$holder->query_safe(q{BEGIN});
$holder->query_safe(q{UPDATE ff.flags SET description = 'held' WHERE key = 'prepared'});
my $holder_pid = $holder->query_safe(q{SELECT pg_backend_pid()});
is($node->safe_psql('postgres',
        q{SELECT count(*), bool_and(holds_lock), min(pid), min(state) FROM ff.writer_lock}),
    "1|t|$holder_pid|idle in transaction", 'ff.writer_lock shows the holder, idle in transaction');

# another writer waits for it and times out with a CONTEXT that names the lock
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
    SET lock_timeout = '200ms';
    UPDATE ff.flags SET description = 'waiter' WHERE key = 'waiter'},
    extra_params => ['-v', 'VERBOSITY=verbose']);
isnt($ret, 0, 'a writer cannot take the lock while another transaction holds it');
like($stderr, qr/55P03/, 'the waiter fails with lock_not_available (55P03)');
like($stderr, qr/lock timeout/, 'the waiter fails on lock_timeout');
like($stderr, qr/CONTEXT:\s+waiting for the configuration history's writer lock.*see ff\.writer_lock/s,
    'the error names the writer lock and the view that shows its holder');

# the holder commits; the waiter's retry numbers after it
$holder->query_safe(q{COMMIT});
$holder->quit;
is($node->safe_psql('postgres', 'SELECT count(*) FROM ff.writer_lock'), '0',
    'the commit releases the writer lock');
$node->safe_psql('postgres', q{UPDATE ff.flags SET description = 'waiter' WHERE key = 'waiter'});
is($node->safe_psql('postgres', qq{
    SELECT string_agg(version - $v0 || ':' || entity_key, ',' ORDER BY version)
      FROM ff.versions WHERE version > $v0}),
    '1:prepared,2:waiter', 'the holder\'s change is the next version, the retried write follows it');

# PREPARE TRANSACTION of a configuration change fails and leaves nothing
my $v1 = $node->safe_psql('postgres', 'SELECT ff.current_version()');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
    BEGIN;
    UPDATE ff.flags SET description = 'prepared' WHERE key = 'prepared';
    PREPARE TRANSACTION 'ff_change'});
like($stderr, qr/cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY/,
    'a configuration change cannot be prepared (its notification is a NOTIFY)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0',
    'no prepared transaction is left');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ff.writer_lock'), '0',
    'the writer lock is free');
$node->safe_psql('postgres', q{UPDATE ff.flags SET description = 'after' WHERE key = 'prepared'});
is($node->safe_psql('postgres', qq{
    SELECT string_agg(version - $v1 || ':' || (after ->> 'description'), ',' ORDER BY version)
      FROM ff.versions WHERE version > $v1}),
    '1:after', 'the failed PREPARE recorded nothing and left no gap');

is($node->safe_psql('postgres',
        'SELECT count(*) = max(version), (SELECT ok FROM ff.verify_history()) FROM ff.versions'),
    't|t', 'the history is gap-free and its chain verifies');

$node->stop;
done_testing();
