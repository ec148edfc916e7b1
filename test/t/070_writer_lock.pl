# 070_writer_lock.pl — the history writer lock (1.5) as other sessions see it.
#
#   * a transaction that changed the configuration holds the writer lock
#     (a heavyweight lock) until it ends; ff.writer_lock shows it;
#   * another writer waits for it; with lock_timeout it fails with SQLSTATE
#     55P03, and the error's CONTEXT names the writer lock and the view,
#     which PostgreSQL's own message does not;
#   * after the holder commits, the waiter's retry numbers after it, and the
#     chain verifies;
#   * a configuration change can be prepared (PREPARE TRANSACTION): the
#     prepared transaction holds the writer lock, also across a restart;
#     COMMIT PREPARED records it as the next version and invalidates other
#     sessions' caches; no notification is sent for it (a NOTICE says so),
#     the next one covers it; ROLLBACK PREPARED leaves no gap; where
#     prepared transactions are disabled, PostgreSQL's error and no NOTICE.
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

# a configuration change can be prepared (two-phase commit): the change
# notification is queued for the commit, and dropped with a NOTICE when the
# transaction is prepared instead
my $v1 = $node->safe_psql('postgres', 'SELECT ff.current_version()');
my $listener = $node->background_psql('postgres');
$listener->query_safe(q{LISTEN ff_changes});
my $reader = $node->background_psql('postgres');
is($reader->query_safe(q{SELECT ff.get_bool('prepared', '{}', false)}), 'f',
    'before: the flag has no default variant, the caller\'s default');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
    BEGIN;
    UPDATE ff.flags SET default_variant = 'on' WHERE key = 'prepared';
    PREPARE TRANSACTION 'ff_change'});
is($ret, 0, 'a configuration change can be prepared');
like($stderr,
    qr/NOTICE:  no change notification will be sent for the configuration change-set ${\($v1 + 1)} of this prepared transaction/,
    'the PREPARE says that no notification will be sent for its change-set');
is($node->safe_psql('postgres', 'SELECT gid FROM pg_prepared_xacts'), 'ff_change',
    'the transaction is prepared');
is($node->safe_psql('postgres', q{SELECT count(*), bool_and(holds_lock), count(pid) FROM ff.writer_lock}),
    '1|t|0', 'ff.writer_lock shows the prepared transaction (no backend) as the holder');
is($reader->query_safe(q{SELECT ff.get_bool('prepared', '{}', false)}), 'f',
    'a prepared change is not seen by evaluation');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
    SET lock_timeout = '200ms';
    UPDATE ff.flags SET description = 'waiter' WHERE key = 'waiter'},
    extra_params => ['-v', 'VERBOSITY=verbose']);
like($stderr, qr/55P03.*CONTEXT:\s+waiting for the configuration history's writer lock/s,
    'a prepared change holds the writer lock: another writer times out');

$node->safe_psql('postgres', q{COMMIT PREPARED 'ff_change'});
is($reader->query_safe(q{SELECT ff.get_bool('prepared', '{}', false)}), 't',
    'after COMMIT PREPARED, another session\'s evaluation cache has the new value');
is($node->safe_psql('postgres', qq{
    SELECT string_agg(version - $v1 || ':' || entity_key || ':' || operation, ',' ORDER BY version)
      FROM ff.changes_since($v1)}),
    '1:prepared:UPDATE', 'ff.changes_since() has the prepared change as the next version');
unlike($listener->query_safe(q{SELECT 1}), qr/Asynchronous notification/,
    'no notification was sent for the prepared change-set');
$node->safe_psql('postgres', q{UPDATE ff.flags SET description = 'next' WHERE key = 'waiter'});
my $next = $v1 + 2;
like($listener->query_safe(q{SELECT 1}),
    qr/Asynchronous notification "ff_changes" with payload "\{.*"version": $next(?:,|\})/,
    'the next change rings, with a version that covers the prepared one');
$listener->quit;
$reader->quit;

# a change prepared, then the server restarted: the prepared transaction
# keeps the writer lock across the restart; ROLLBACK PREPARED records
# nothing, and the next write takes the same version (no gap)
my $v2 = $node->safe_psql('postgres', 'SELECT ff.current_version()');
$node->psql('postgres', q{
    BEGIN;
    UPDATE ff.flags SET description = 'lost' WHERE key = 'prepared';
    PREPARE TRANSACTION 'ff_lost'});
$node->restart;
is($node->safe_psql('postgres', q{SELECT count(*), bool_and(holds_lock) FROM ff.writer_lock}),
    '1|t', 'after a restart, the prepared transaction still holds the writer lock');
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'ff_lost'});
is($node->safe_psql('postgres', 'SELECT count(*) FROM ff.writer_lock'), '0',
    'ROLLBACK PREPARED releases the writer lock');
$node->safe_psql('postgres', q{UPDATE ff.flags SET description = 'after' WHERE key = 'prepared'});
is($node->safe_psql('postgres', qq{
    SELECT string_agg(version - $v2 || ':' || (after ->> 'description'), ',' ORDER BY version)
      FROM ff.versions WHERE version > $v2}),
    '1:after', 'the rolled-back prepared change recorded nothing and left no gap');

# a scheduled change (1.14) whose runner times out on the writer lock stays
# pending (a transient error: with a WARNING), and the next run applies it;
# (1.24) the runner takes the writer lock before it locks any change, so
# the timeout leaves every due change pending with one WARNING
$node->safe_psql('postgres', q{SELECT ff.schedule_change('waiter', '{"state": "DISABLED"}', now())});
my $busy = $node->background_psql('postgres');
$busy->query_safe(q{BEGIN});
$busy->query_safe(q{UPDATE ff.flags SET description = 'busy' WHERE key = 'prepared'});
($ret, $stdout, $stderr) = $node->psql('postgres', q{
    SET lock_timeout = '200ms';
    SELECT id || ' ' || status || ' ' || left(error, 5) FROM ff.run_scheduled_changes()});
is($stdout, '1 pending 55P03', 'a scheduled change that meets a lock timeout stays pending');
like($stderr, qr/WARNING:  the due scheduled changes stay pending: the history's writer lock was not taken: 55P03: canceling statement due to lock timeout/,
    'with a WARNING that says so');
is($node->safe_psql('postgres', q{SELECT status FROM ff.scheduled_changes WHERE id = 1}), 'pending',
    'the change is still pending');
$busy->query_safe(q{COMMIT});
$busy->quit;
is($node->safe_psql('postgres', q{SELECT string_agg(status, ',') FROM ff.run_scheduled_changes()}),
    'applied', 'the next run applies it');
is($node->safe_psql('postgres', q{SELECT state FROM ff.flags WHERE key = 'waiter'}), 'DISABLED',
    'and the flag is as the draft says');

# (1.24) a change that meets a lock timeout on its flag's row stays pending,
# and so do the later changes of that flag in the same run (1.23 applied
# them, and the next run applied the older change over them); other flags'
# changes go on
$node->safe_psql('postgres', q{
    SELECT ff.schedule_change('waiter', '{"metadata": {"step": 1}}', now());
    SELECT ff.schedule_change('waiter', '{"metadata": {"step": 2}}', now());
    SELECT ff.schedule_change('prepared', '{"metadata": {"step": 1}}', now())});
$busy = $node->background_psql('postgres');
$busy->query_safe(q{BEGIN});
$busy->query_safe(q{SELECT 1 FROM ff.flags WHERE key = 'waiter' FOR UPDATE});
($ret, $stdout, $stderr) = $node->psql('postgres', q{
    SET lock_timeout = '200ms';
    SELECT string_agg(concat_ws(' ', id, status, error), ', ' ORDER BY id) FROM ff.run_scheduled_changes()});
is($stdout, '2 pending 55P03: canceling statement due to lock timeout, 3 pending waits for scheduled change 2 of the same flag, 4 applied',
    'the later change of a flag waits for its earlier one that met a lock timeout');
like($stderr, qr/WARNING:  scheduled change 3 of flag "waiter" in environment "development" stays pending: it waits for scheduled change 2 of the same flag/,
    'with a WARNING that says so');
$busy->query_safe(q{COMMIT});
$busy->quit;
is($node->safe_psql('postgres', q{SELECT string_agg(id || ' ' || status, ', ' ORDER BY id) FROM ff.run_scheduled_changes()}),
    '2 applied, 3 applied', 'the next run applies both, in order');
is($node->safe_psql('postgres', q{SELECT metadata ->> 'step' FROM ff.flags WHERE key = 'waiter'}), '2',
    'and the flag is as the later draft says');

# (1.24) a change that waits does not count against max_changes: with one
# flag's earlier change locked by another transaction, a run limited to one
# change still applies another flag's change (a first 1.24 draft counted
# the waiting ones and could stall every flag)
$node->safe_psql('postgres', q{
    SELECT ff.schedule_change('waiter', '{"metadata": {"step": 3}}', now());
    SELECT ff.schedule_change('waiter', '{"metadata": {"step": 4}}', now());
    SELECT ff.schedule_change('waiter', '{"metadata": {"step": 5}}', now());
    SELECT ff.schedule_change('prepared', '{"metadata": {"step": 2}}', now())});
$busy = $node->background_psql('postgres');
$busy->query_safe(q{BEGIN});
$busy->query_safe(q{SELECT 1 FROM ff.scheduled_changes WHERE id = 5 FOR UPDATE});
($ret, $stdout, $stderr) = $node->psql('postgres', q{
    SELECT string_agg(concat_ws(' ', id, status, error), ', ' ORDER BY id) FROM ff.run_scheduled_changes(1)});
is($stdout, '6 pending waits for scheduled change 5 of the same flag, 7 pending waits for scheduled change 5 of the same flag, 8 applied',
    'waiting changes do not count against max_changes');
like($stderr, qr/WARNING:  1 due scheduled change\(s\) are locked by other transactions/,
    'and the locked one is reported');
is(scalar(() = $stderr =~ /stays pending: it waits/g), 1, 'with one WARNING for the flag, not one per waiting change');
$busy->query_safe(q{ROLLBACK});
$busy->quit;
is($node->safe_psql('postgres', q{SELECT string_agg(id || ' ' || status, ', ' ORDER BY id) FROM ff.run_scheduled_changes(1)}),
    '5 applied', 'the next run, limited to one, applies the earlier change');
is($node->safe_psql('postgres', q{SELECT string_agg(id || ' ' || status, ', ' ORDER BY id) FROM ff.run_scheduled_changes()}),
    '6 applied, 7 applied', 'and the one after it the later ones');
is($node->safe_psql('postgres', q{SELECT metadata ->> 'step' FROM ff.flags WHERE key = 'waiter'}), '5',
    'the flag is as the last draft says');

is($node->safe_psql('postgres',
        'SELECT count(*) = max(version), (SELECT ok FROM ff.verify_history()) FROM ff.versions'),
    't|t', 'the history is gap-free and its chain verifies');

$node->stop;

# where prepared transactions are disabled, the PREPARE of a configuration
# change fails with PostgreSQL's own error, without the NOTICE about its
# notification, and the change rolls back whole
my $no2pc = PostgreSQL::Test::Cluster->new('no_2pc');
$no2pc->init;
$no2pc->append_conf('postgresql.conf', "max_prepared_transactions = 0");
$no2pc->start;
$no2pc->safe_psql('postgres', 'CREATE EXTENSION feature_flags');
$no2pc->safe_psql('postgres', q{
    INSERT INTO ff.flags (environment, key, variants) VALUES ('development', 'p', '{"on": true}')});
my $v3 = $no2pc->safe_psql('postgres', 'SELECT ff.current_version()');
($ret, $stdout, $stderr) = $no2pc->psql('postgres', q{
    BEGIN;
    UPDATE ff.flags SET description = 'prepared' WHERE key = 'p';
    PREPARE TRANSACTION 'ff_no_2pc'});
like($stderr, qr/ERROR:  prepared transactions are disabled/,
    'with max_prepared_transactions = 0 the PREPARE fails with PostgreSQL\'s error');
unlike($stderr, qr/no change notification will be sent/, 'and no NOTICE about a notification');
is($no2pc->safe_psql('postgres', 'SELECT ff.current_version()'), $v3, 'the change rolled back whole');
$no2pc->stop;
done_testing();
