# 020_standby.pl — evaluation on a hot standby follows the primary.
#
# A primary and a streaming standby.  A long-lived session on the standby
# evaluates flags; a change committed on the primary changes that same
# session's answers after replay, with no reconnect: the relcache
# invalidations queued by the config tables' triggers are WAL-logged and
# replayed on the standby.  A change prepared on the primary (two-phase
# commit) reaches the session when COMMIT PREPARED is replayed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'feature_flags'");
$primary->append_conf('postgresql.conf', "max_prepared_transactions = 4");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION feature_flags');
$primary->safe_psql('postgres', q{
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
    VALUES ('development', 'standby-flag', 'boolean', '{"on": true, "off": false}', 'off',
            '{"if": [{"==": [{"var": "country"}, "DE"]}, "on", null]}')});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay');

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');

# one session that stays connected for the whole test
my $session = $standby->background_psql('postgres');

is($session->query_safe(q{SELECT ff.get_bool('standby-flag', '{"country": "DE"}', false)}),
    't', 'standby evaluates targeting');
is($session->query_safe(q{SELECT ff.get_bool('standby-flag', '{"country": "FR"}', true)}),
    'f', 'standby falls back to the default variant');
is($session->query_safe(q{SELECT (ff.evaluate('standby-flag', '{"country": "FR"}')).reason}),
    'DEFAULT', 'standby returns evaluation details');

# change on the primary: the same standby session sees it after replay
$primary->safe_psql('postgres', q{
    UPDATE ff.flags SET default_variant = 'on'
     WHERE environment = 'development' AND key = 'standby-flag'});
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe(q{SELECT ff.get_bool('standby-flag', '{"country": "FR"}', false)}),
    't', 'a change on the primary reaches a connected standby session without reconnect');

# the kill switch too
$primary->safe_psql('postgres', q{
    UPDATE ff.flags SET state = 'DISABLED'
     WHERE environment = 'development' AND key = 'standby-flag'});
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe(q{SELECT (ff.evaluate('standby-flag', '{"country": "DE"}', 'false')).reason}),
    'DISABLED', 'disabling on the primary disables on the standby');

# a new flag appears on the standby
$primary->safe_psql('postgres', q{
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant)
    VALUES ('development', 'late-flag', 'string', '{"a": "alpha", "b": "beta"}', 'b')});
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe(q{SELECT ff.get_string('late-flag', '{}', 'none')}),
    'beta', 'a flag created on the primary is found on the standby');

# a change prepared on the primary (two-phase commit) is not evaluated on
# the standby until COMMIT PREPARED, whose replay invalidates the same
# connected session's cache
$primary->safe_psql('postgres', q{
    BEGIN;
    UPDATE ff.flags SET default_variant = 'a' WHERE environment = 'development' AND key = 'late-flag';
    PREPARE TRANSACTION 'ff_standby'});
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe(q{SELECT ff.get_string('late-flag', '{}', 'none')}),
    'beta', 'a change prepared on the primary is not evaluated on the standby');
$primary->safe_psql('postgres', q{COMMIT PREPARED 'ff_standby'});
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe(q{SELECT ff.get_string('late-flag', '{}', 'none')}),
    'alpha', 'after COMMIT PREPARED is replayed, the connected standby session evaluates the change');

# (1.20 library) a segment's key list stays loaded on the standby across
# replayed flag changes, and is read again after a replayed key change, a
# committed prepared one included
$primary->safe_psql('postgres', q{
    INSERT INTO ff.segments (environment, name) VALUES ('development', 'kept');
    INSERT INTO ff.segment_keys (environment, segment, targeting_key)
    SELECT 'development', 'kept', 'k' || i FROM generate_series(1, 1500) AS i;
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting)
    VALUES ('development', 'kept-flag', 'boolean', '{"on": true, "off": false}', 'off',
            '{"if": [{"in_segment": "kept"}, "on", "off"]}')});
$primary->wait_for_catchup($standby, 'replay');
my $kept_q = q{SELECT ff.get_bool('kept-flag', '{"targetingKey": "k1"}', NULL) || ' '
    || (SELECT segment_loads || ' ' || kept_segments FROM ff.cache_info())};
my ($kept_member, $kept_loads) = split / /, $session->query_safe($kept_q);
is($kept_member, 'true', 'standby: a key of a kept segment is a member');
$primary->safe_psql('postgres', q{
    UPDATE ff.flags SET default_variant = 'b' WHERE environment = 'development' AND key = 'late-flag'});
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe(q{SELECT ff.get_string('late-flag', '{}', 'none')}),
    'beta', 'standby: the flag change is replayed');
is($session->query_safe($kept_q), "true $kept_loads 1",
    'standby: the key list is kept across a replayed flag change');
$primary->safe_psql('postgres', q{
    DELETE FROM ff.segment_keys WHERE environment = 'development' AND targeting_key = 'k1'});
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe($kept_q), 'false ' . ($kept_loads + 1) . ' 1',
    'standby: a replayed key change reads the list again');
$primary->safe_psql('postgres', q{
    BEGIN;
    INSERT INTO ff.segment_keys (environment, segment, targeting_key) VALUES ('development', 'kept', 'k1');
    PREPARE TRANSACTION 'ff_standby_keys'});
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe($kept_q), 'false ' . ($kept_loads + 1) . ' 1',
    'standby: a prepared key change is not seen');
$primary->safe_psql('postgres', q{COMMIT PREPARED 'ff_standby_keys'});
$primary->wait_for_catchup($standby, 'replay');
is($session->query_safe($kept_q), 'true ' . ($kept_loads + 2) . ' 1',
    'standby: after COMMIT PREPARED is replayed, the list is read again');
$primary->safe_psql('postgres', q{
    UPDATE ff.flags SET default_variant = 'a' WHERE environment = 'development' AND key = 'late-flag'});
$primary->wait_for_catchup($standby, 'replay');

# followers on a replica poll the version instead of LISTEN
is($standby->safe_psql('postgres', 'SELECT ff.current_version()'),
    $primary->safe_psql('postgres', 'SELECT ff.current_version()'),
    'ff.current_version() on the standby equals the primary after replay');

# point-in-time evaluation and drafts (1.13) read the replayed history and
# cache: the standby answers as the primary does
for my $q (
    q{SELECT row(d.*)::text FROM ff.evaluate_at_version('late-flag', '{}', ff.current_version() - 1) AS d},
    q{SELECT row(d.*)::text FROM ff.evaluate_at_version('standby-flag', '{"country": "DE"}', 3, 'false') AS d},
    q{SELECT row(d.*)::text FROM ff.evaluate_at('late-flag', '{}', now()) AS d},
    q{SELECT row(d.*)::text FROM ff.evaluate_draft('late-flag', '{}', '{"defaultVariant": "b"}') AS d})
{
    is($session->query_safe($q), $primary->safe_psql('postgres', $q), "standby answers as the primary: $q");
}

# the standby refuses writes with PostgreSQL's own error
my ($ret, $out, $err) = $standby->psql('postgres', q{
    UPDATE ff.flags SET state = 'ENABLED' WHERE key = 'standby-flag'});
isnt($ret, 0, 'writes fail on the standby');
like($err, qr/read-only transaction/, 'with the read-only transaction error');

$session->quit;

# evaluation statistics (1.15) work on the read-only standby: each server
# counts its own evaluations, and the primary's do not reach it
$primary->safe_psql('postgres', q{
    SELECT ff.reset_evaluation_stats();
    SELECT ff.get_string('late-flag', '{}', 'none')});
$standby->safe_psql('postgres', q{
    SELECT ff.reset_evaluation_stats();
    SELECT ff.get_string('late-flag', '{}', 'none');
    SELECT ff.get_string('late-flag', '{}', 'none')});
is($standby->safe_psql('postgres', q{
    SELECT flag_key || '|' || variant || '|' || evaluations FROM ff.evaluation_stats}),
    'late-flag|a|2', 'the standby counts its own evaluations');
is($primary->safe_psql('postgres', q{
    SELECT flag_key || '|' || variant || '|' || evaluations FROM ff.evaluation_stats}),
    'late-flag|a|1', 'and the primary its own');

$standby->stop;
$primary->stop;
done_testing();
