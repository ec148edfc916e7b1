# 040_logical_replication.pl — a regional copy by logical replication.
#
# A publisher (wal_level = logical) and a subscriber, the extension on both.
# The publication made by ff.create_publication() carries ff.versions with
# the config tables; the subscriber is emptied by ff.prepare_subscriber()
# and subscribes.  After changes on the publisher (flags, segments with key
# lists, a rollback, a rolled-back transaction, a TRUNCATE) and catch-up:
#  * the subscriber's evaluations equal the publisher's for a grid of
#    flags x contexts, in a session that stayed connected (its cache was
#    invalidated by the applied rows) and in a new one;
#  * the histories are identical, row for row, and verify on both sides:
#    nothing was recorded twice, nothing was lost;
#  * the config tables are identical;
#  * a listener on the subscriber gets the change notification;
#  * writes made directly on the subscriber are refused;
#  * with two_phase = true, a change-set prepared on the publisher is
#    prepared on the subscriber (no notification) and applied by COMMIT
#    PREPARED;
#  * after DROP SUBSCRIPTION the copy becomes a primary whose history
#    continues the replicated chain.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

# notifications_until(listener, change_set): psql prints notifications after
# the next query, so poll (bounded) until change_set has been announced;
# returns what the listener printed and the announced change-sets, in order
sub notifications_until
{
    my ($listener, $cs) = @_;
    my $notes = '';
    for (1 .. 100)
    {
        $notes .= $listener->query_safe('SELECT 1');
        last if $notes =~ /"change_set": $cs\b/;
        usleep(100_000);
    }
    return ($notes,
        $notes =~ /Asynchronous notification "ff_changes" with payload "\{[^\n]*"change_set": (\d+)/g);
}

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', "shared_preload_libraries = 'feature_flags'");
$pub->append_conf('postgresql.conf', "max_prepared_transactions = 4");
$pub->start;

my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->append_conf('postgresql.conf', "shared_preload_libraries = 'feature_flags'");
$sub->append_conf('postgresql.conf', "max_prepared_transactions = 4");
$sub->start;

$pub->safe_psql('postgres', 'CREATE EXTENSION feature_flags');
$sub->safe_psql('postgres', 'CREATE EXTENSION feature_flags');

# ---- configuration that exists before the subscription (initial copy)
$pub->safe_psql('postgres', q{
    SELECT ff.create_environment('production', 'live traffic');
    SELECT ff.create_segment('beta', '{"==": [{"var": "plan"}, "beta"]}', 'production',
                             include => '{user-1,user-2}', exclude => '{user-9}');
    SELECT ff.create_flag('checkout', environment => 'production', default_variant => 'off',
                          targeting => '{"if": [{"in_segment": "beta"}, "on", null]}');
    SELECT ff.create_flag('banner', '{"blue": "#00f", "red": "#f00"}', 'blue', 'production');
    SELECT ff.set_rollout('banner', 30, 'production', 'red');
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
    VALUES ('production', 'limits', 'object', '{"small": {"rps": 10}, "large": {"rps": 1000}}', 'small',
            '{"if": [{"sem_ver": [{"var": "app"}, ">=", "2.0.0"]}, "large", null]}'),
           ('production', 'doomed', 'number', '{"one": 1, "two": 2}', 'two', NULL);
});

is($pub->safe_psql('postgres', 'SELECT ff.create_publication()'), 'ff_config',
    'ff.create_publication() creates the publication ff_config');
is($pub->safe_psql('postgres', q{
    SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename)
      FROM pg_publication_tables WHERE pubname = 'ff_config'}),
    'ff.environments,ff.flags,ff.segment_keys,ff.segments,ff.versions',
    'the publication carries the history and the four config tables');
my ($ret, $out, $err) = $pub->psql('postgres', 'SELECT ff.create_publication()');
like($err, qr/publication "ff_config" already exists/, 'a second publication of the same name is refused');

($ret, $out, $err) = $pub->psql('postgres', 'SELECT ff.create_publication(NULL)');
like($err, qr/ERROR:  publication name must not be NULL or empty/, 'a NULL publication name is refused');
($ret, $out, $err) = $pub->psql('postgres', "SELECT ff.create_publication(repeat('p', 64))");
like($err, qr/ERROR:  publication name "p{64}" is too long/,
    'a publication name that PostgreSQL would truncate is refused');
is($pub->safe_psql('postgres', q{SELECT count(*) FROM pg_publication WHERE pubname LIKE 'ppp%'}), '0',
    'and no truncated publication is created');
is($pub->safe_psql('postgres', "SELECT ff.create_publication(repeat('q', 63))"), 'q' x 63,
    'a 63-byte publication name is created under the name returned');
$pub->safe_psql('postgres', "DROP PUBLICATION " . ('q' x 63));

# ---- subscribe
$sub->safe_psql('postgres', q{
    CREATE ROLE app LOGIN;
    GRANT EXECUTE ON FUNCTION ff.prepare_subscriber() TO app;});
($ret, $out, $err) = $sub->psql('postgres', 'SET ROLE app; SELECT ff.prepare_subscriber()');
like($err, qr/ERROR:  permission denied to prepare a subscriber/,
    'ff.prepare_subscriber() refuses a non-superuser, even one granted EXECUTE');
($ret, $out, $err) = $pub->psql('postgres', 'SELECT ff.prepare_subscriber()');
like($err, qr/database "postgres" already holds feature flag configuration/,
    'ff.prepare_subscriber() refuses a database that has configuration');
is($sub->safe_psql('postgres', 'SELECT ff.prepare_subscriber()'), '1',
    'ff.prepare_subscriber() removes the default environment of a fresh installation');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM ff.versions'), '0',
    'and records no history for it');

my $connstr = $pub->connstr() . " dbname=postgres";
# (1.24 library) the initial copy of the history rings once, with the
# newest change-set it copied (the 1.23 library rang once per past
# change-set); a listener that is there before the subscription hears it
my $early = $sub->background_psql('postgres');
$early->query_safe('LISTEN ff_changes');
# two_phase: a transaction prepared on the publisher is prepared on the
# subscriber too (see the two-phase part below)
$sub->safe_psql('postgres',
    "CREATE SUBSCRIPTION ff_sub CONNECTION '$connstr' PUBLICATION ff_config WITH (two_phase = true)");
$sub->wait_for_subscription_sync($pub, 'ff_sub');
$sub->poll_query_until('postgres',
    q{SELECT bool_and(subtwophasestate = 'e') FROM pg_subscription WHERE subname = 'ff_sub'})
  or die 'the subscription did not enable two_phase';

is($sub->safe_psql('postgres', q{
    SELECT string_agg(table_name::text || ':' || subscription || ':' || sync_state, ',')
      FROM ff.subscribed_tables()}),
    'ff.versions:ff_sub:ready,ff.environments:ff_sub:ready,ff.flags:ff_sub:ready,'
  . 'ff.segments:ff_sub:ready,ff.segment_keys:ff_sub:ready',
    'ff.subscribed_tables() lists the five tables, ready');
is($pub->safe_psql('postgres', 'SELECT count(*) FROM ff.subscribed_tables()'), '0',
    'ff.subscribed_tables() is empty on the publisher');
my ($past_sets, $newest_set) = split /\|/, $pub->safe_psql('postgres',
    'SELECT count(DISTINCT change_set), max(change_set) FROM ff.versions');
cmp_ok($past_sets, '>', 1, 'the copied history has several change-sets');
my (undef, @copied) = notifications_until($early, $newest_set);
is(join(',', @copied), $newest_set, 'the initial copy sends one notification, of the newest change-set');
$early->quit;

# the grid: every flag (including one that will be deleted and one that
# will be created) x a set of contexts, as ff.evaluate() details
my @contexts = (
    '{}',
    '{"targetingKey": "user-1"}',
    '{"targetingKey": "user-2", "plan": "free"}',
    '{"targetingKey": "user-9", "plan": "beta"}',
    '{"targetingKey": "user-3", "plan": "beta", "app": "2.1.0"}',
    '{"targetingKey": "user-4", "app": "1.9.9"}',
    '{"targetingKey": "user-77", "country": "DE"}',
    '{"targetingKey": "zed"}',
);
push @contexts, map { qq({"targetingKey": "u$_"}) } 1 .. 40;
my $ctx_values = join(', ', map { "('$_')" } @contexts);
my $grid = qq{
    SELECT string_agg(f.k || ' ' || c.ctx || ' => ' || ff.evaluate(f.k, c.ctx::jsonb, NULL, 'production')::text,
                      E'\n' ORDER BY f.k, c.ctx)
      FROM (VALUES ('checkout'), ('banner'), ('limits'), ('doomed'), ('late')) AS f(k)
     CROSS JOIN (VALUES $ctx_values) AS c(ctx)};

# a subscriber session that stays connected: its cache is warm before
# the changes arrive
my $session = $sub->background_psql('postgres');
my $before = $session->query_safe($grid);
is($before, $pub->safe_psql('postgres', $grid), 'after the initial copy the subscriber evaluates like the publisher');
like($before, qr/^checkout \{"targetingKey": "user-1"\} => \(checkout,true,on,TARGETING_MATCH/m,
    'segment keys were copied (user-1 is in beta)');
# and a listener
my $listener = $sub->background_psql('postgres');
$listener->query_safe('LISTEN ff_changes');
my $v0 = $pub->safe_psql('postgres', 'SELECT ff.current_version()');

# ---- changes on the publisher
$pub->safe_psql('postgres', q{
    BEGIN;
    SELECT ff.comment_change('flag edits');
    UPDATE ff.flags SET default_variant = 'on' WHERE environment = 'production' AND key = 'checkout';
    SELECT ff.set_targeting('limits', '{"if": [{"starts_with": [{"var": "targetingKey"}, "user-"]}, "large", null]}',
                            'production');
    COMMIT;
});
$pub->safe_psql('postgres', q{
    BEGIN;
    SELECT ff.add_segment_keys('beta', '{user-3,user-4}', 'production');
    SELECT ff.remove_segment_keys('beta', '{user-1}', 'production');
    UPDATE ff.segments SET rule = '{"==": [{"var": "country"}, "DE"]}'
     WHERE environment = 'production' AND name = 'beta';
    COMMIT;
});
$pub->safe_psql('postgres', q{
    DELETE FROM ff.flags WHERE environment = 'production' AND key = 'doomed';
    SELECT ff.create_flag('late', '{"x": "ex", "y": "why"}', 'y', 'production',
                          '{"if": [{"ends_with": [{"var": "targetingKey"}, "7"]}, "x", null]}');
});
# a whole environment with a flag and a segment with keys, created then
# deleted (the cascaded key deletions arrive as row deletions)
$pub->safe_psql('postgres', q{
    SELECT ff.copy_environment('production', 'staging');
    SELECT ff.create_segment('tmp', NULL, 'staging', include => '{a,b,c}');
});
$pub->wait_for_catchup('ff_sub');
my $staging = q{
    SELECT (SELECT count(*) FROM ff.flags WHERE environment = 'staging') || ' '
        || (SELECT count(*) FROM ff.segment_keys WHERE environment = 'staging')};
is($pub->safe_psql('postgres', $staging), '4 7', 'staging: 4 flags, 7 segment keys on the publisher');
is($sub->safe_psql('postgres', $staging), '4 7', 'a copied environment arrives with its flags and segment keys');
$pub->safe_psql('postgres', q{
    DELETE FROM ff.segments WHERE environment = 'staging' AND name = 'tmp';
    SELECT ff.delete_environment('staging', force => true);
});
# a rolled-back transaction leaves no trace on either side
$pub->safe_psql('postgres', q{
    BEGIN;
    UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'production';
    ROLLBACK;
});
# a rollback to an earlier version is new versions
my $v_banner = $pub->safe_psql('postgres', q{
    SELECT max(version) FROM ff.versions WHERE entity_key = 'banner'});
$pub->safe_psql('postgres', q{
    SELECT ff.set_rollout('banner', 80, 'production', 'red');
    SELECT ff.disable_flag('checkout', 'production');
});
$pub->safe_psql('postgres', "SELECT ff.rollback_flag('banner', $v_banner, 'production')");
# (checked before the TRUNCATE below, whose new relfilenode would
# invalidate every cache by itself)
$pub->wait_for_catchup('ff_sub');
is($session->query_safe($grid), $pub->safe_psql('postgres', $grid),
    'applied rows invalidate the cache of a connected subscriber session');

# TRUNCATE of a key list (applied as a TRUNCATE), then a fresh list
$pub->safe_psql('postgres', q{
    TRUNCATE ff.segment_keys;
    SELECT ff.add_segment_keys('beta', '{user-2,u7,u17}', 'production');
});

$pub->wait_for_catchup('ff_sub');

my $pub_grid = $pub->safe_psql('postgres', $grid);
isnt($pub_grid, $before, 'the changes changed the publisher\'s answers');
is($session->query_safe($grid), $pub_grid,
    'a subscriber session connected before the changes evaluates like the publisher after catch-up');
is($sub->safe_psql('postgres', $grid), $pub_grid, 'so does a new subscriber session');
like($pub_grid, qr/^checkout \S+ => \(checkout,,,DISABLED/m, 'the grid covers a disabled flag');
like($pub_grid, qr/^doomed \S+ => \(doomed,,,ERROR,FLAG_NOT_FOUND/m, 'and a deleted flag');
like($pub_grid, qr/^late \{"targetingKey": "u17"\} => \(late,"""ex""",x,TARGETING_MATCH/m,
    'and a flag created after the subscription');

# the notification of every applied change-set reached the listener, once
my $change_sets = $pub->safe_psql('postgres', qq{
    SELECT string_agg(cs::text, ',' ORDER BY cs)
      FROM (SELECT DISTINCT change_set AS cs FROM ff.versions WHERE version > $v0) AS c});
my ($last_cs) = $change_sets =~ /(\d+)$/;
my ($notes, @announced) = notifications_until($listener, $last_cs);
is(join(',', @announced), $change_sets,
    'a listener on the subscriber receives one notification per applied change-set, in order');
like($notes, qr/"flags": \["checkout", "limits"\], "changes": 2, "version": \d+, "segments": \[\], "truncated": false, "change_set": \d+/,
    'with the publisher\'s payload');
$listener->quit;

# ---- history: identical and verifiable, nothing recorded twice or lost
my $hist = q{SELECT count(*) || ' ' || max(version) || ' '
                    || md5(string_agg(to_jsonb(v)::text, E'\n' ORDER BY version))
               FROM ff.versions AS v};
my $pub_hist = $pub->safe_psql('postgres', $hist);
like($pub_hist, qr/^(\d+) \1 [0-9a-f]{32}$/, 'the publisher\'s history is gap-free');
is($sub->safe_psql('postgres', $hist), $pub_hist,
    'the subscriber\'s history is the publisher\'s, row for row (nothing twice, nothing lost)');
is($pub->safe_psql('postgres', 'SELECT ok FROM ff.verify_history()'), 't', 'verify_history() on the publisher');
is($sub->safe_psql('postgres', q{SELECT CASE WHEN ok THEN 'ok ' ELSE 'broken ' END || checked FROM ff.verify_history()}),
    'ok ' . (split / /, $pub_hist)[0], 'verify_history() on the subscriber checks every version');
is($sub->safe_psql('postgres', 'SELECT ff.current_version()'),
    $pub->safe_psql('postgres', 'SELECT ff.current_version()'), 'ff.current_version() is the same');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM ff.versions WHERE comment = 'flag edits'}), '2',
    'comments and authorship come with the history');

my $tables = q{
    SELECT md5(string_agg(t, E'\n' ORDER BY t)) FROM (
        SELECT to_jsonb(e)::text AS t FROM ff.environments AS e
        UNION ALL SELECT to_jsonb(f)::text FROM ff.flags AS f
        UNION ALL SELECT to_jsonb(s)::text FROM ff.segments AS s
        UNION ALL SELECT to_jsonb(k)::text FROM ff.segment_keys AS k) AS x};
is($sub->safe_psql('postgres', $tables), $pub->safe_psql('postgres', $tables),
    'the config tables are identical, version stamps included');
is($sub->safe_psql('postgres', q{
    SELECT count(*) FROM ff.environments WHERE name = 'staging'}) . ' '
  . $sub->safe_psql('postgres', q{SELECT count(*) FROM ff.segment_keys WHERE environment = 'staging'}),
    '0 0', 'the deleted environment and its segment keys are gone on the subscriber');

# ---- writes on the subscriber are refused
for my $write (
    q{UPDATE ff.flags SET state = 'ENABLED' WHERE key = 'checkout'},
    q{SELECT ff.create_flag('local', environment => 'production')},
    q{SELECT ff.add_segment_keys('beta', '{local}', 'production')},
    q{TRUNCATE ff.segment_keys})
{
    ($ret, $out, $err) = $sub->psql('postgres', $write, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
    isnt($ret, 0, "refused on the subscriber: $write");
    like($err, qr/ERROR:  25006: cannot \w+ ff\.\w+ on a subscriber of the feature flag configuration/,
        'with SQLSTATE 25006');
}
like($err, qr/DETAIL:  This database receives its configuration and history from subscription "ff_sub"/,
    'the error names the subscription');
like($err, qr/HINT:  Make the change on the publisher\.  To turn this database into a primary, DROP SUBSCRIPTION ff_sub first\./,
    'and says what to do');
is($sub->safe_psql('postgres', $hist), $pub_hist, 'refused writes left the history untouched');

# ---- the replication keeps flowing after refused writes
$pub->safe_psql('postgres', "SELECT ff.enable_flag('checkout', 'production')");
$pub->wait_for_catchup('ff_sub');
is($session->query_safe($grid), $pub->safe_psql('postgres', $grid), 'a later change is applied too');

# ---- two-phase commit: a change-set prepared on the publisher is prepared
# on the subscriber (two_phase = true), where it sends no notification, and
# applied by COMMIT PREPARED
my $listener2 = $sub->background_psql('postgres');
$listener2->query_safe('LISTEN ff_changes');
my $grid_before_2pc = $pub->safe_psql('postgres', $grid);
$pub->safe_psql('postgres', q{
    BEGIN;
    SELECT ff.disable_flag('banner', 'production');
    PREPARE TRANSACTION 'ff_2pc'});
$pub->wait_for_catchup('ff_sub');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '1',
    'a change-set prepared on the publisher is prepared on the subscriber (the apply worker could prepare it)');
is($session->query_safe($grid), $grid_before_2pc, 'a prepared change-set is not evaluated on the subscriber');
$pub->safe_psql('postgres', q{COMMIT PREPARED 'ff_2pc'});
$pub->wait_for_catchup('ff_sub');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0',
    'COMMIT PREPARED on the publisher commits it on the subscriber');
my $grid_2pc = $pub->safe_psql('postgres', $grid);
isnt($grid_2pc, $grid_before_2pc, 'the prepared change-set changed the publisher\'s answers');
is($session->query_safe($grid), $grid_2pc,
    'after COMMIT PREPARED, a connected subscriber session evaluates like the publisher');
is($sub->safe_psql('postgres', $hist), $pub->safe_psql('postgres', $hist),
    'the prepared change-set is in the subscriber\'s history, row for row');
# no notification for the prepared change-set; the next change-set rings
$pub->safe_psql('postgres', "SELECT ff.enable_flag('banner', 'production')");
my $next_cs = $pub->safe_psql('postgres', 'SELECT max(change_set) FROM ff.versions');
my (undef, @announced2) = notifications_until($listener2, $next_cs);
is(join(',', @announced2), $next_cs,
    'no notification for the prepared change-set on the subscriber; the next change-set\'s is received');
$listener2->quit;
$session->quit;

# ---- promotion: the regional copy becomes a primary
$sub->safe_psql('postgres', 'DROP SUBSCRIPTION ff_sub');
my $last = $pub->safe_psql('postgres', 'SELECT ff.current_version()');
$sub->safe_psql('postgres', "SELECT ff.disable_flag('late', 'production')");
is($sub->safe_psql('postgres', q{SELECT version || ' ' || (prev_hash = (SELECT hash FROM ff.versions WHERE version = v.version - 1))
                                   FROM ff.versions AS v ORDER BY version DESC LIMIT 1}),
    ($last + 1) . ' true', 'after DROP SUBSCRIPTION a local change continues the replicated chain');
is($sub->safe_psql('postgres', 'SELECT ok FROM ff.verify_history()'), 't', 'and the history still verifies');

$sub->stop;
$pub->stop;
done_testing();
