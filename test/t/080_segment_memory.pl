# 080_segment_memory.pl — a large segment's key set: every member found,
# every non-member and excluded key refused after the load, and its table
# (tens of megabytes in production, a few here) on transparent huge pages
# where the kernel gives them on request (the README, Segments: "a segment
# of many keys"), so that a probe does not also miss the TLB.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $keys = 250000;    # 333,334 slots of 24 bytes: about 8 MB

my $node = PostgreSQL::Test::Cluster->new('segment_memory');
$node->init;
$node->start;

$node->safe_psql('postgres', qq{
    SET client_min_messages = warning;
    CREATE EXTENSION feature_flags;
    SELECT ff.create_environment('seg');
    INSERT INTO ff.segments (environment, name) VALUES ('seg', 'big');
    INSERT INTO ff.segment_keys (environment, segment, targeting_key)
        SELECT 'seg', 'big', 'user-' || (2 * i) FROM pg_catalog.generate_series(1, $keys) i;
    -- excluded keys are not members
    UPDATE ff.segment_keys SET excluded = true WHERE targeting_key = 'user-4';
    INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
        VALUES ('seg', 'big', 'user-x', true);
    SELECT ff.import_flagd('{"flags": {"seg-flag": {"state": "ENABLED",
        "variants": {"on": true, "off": false}, "defaultVariant": "off",
        "targeting": {"if": [{"in_segment": "big"}, "on", "off"]}}}}'::jsonb, 'seg');
});

# one session: the memory before the first evaluation, the whole key set
# probed (members, non-members, the excluded keys), the memory after
my $smaps = q{SELECT COALESCE((pg_catalog.regexp_match(
    pg_catalog.pg_read_file('/proc/' || pg_catalog.pg_backend_pid() || '/smaps_rollup'),
    'AnonHugePages:\s+(\d+) kB'))[1], '0')};
my $out = $node->safe_psql('postgres', qq{
    $smaps;
    SELECT pg_catalog.count(*) FILTER (WHERE ff.get_bool('seg-flag',
               pg_catalog.jsonb_build_object('targetingKey', 'user-' || i), false, 'seg'))
      FROM pg_catalog.generate_series(1, 2 * $keys + 2) i;
    SELECT pg_catalog.string_agg(k || '=' || ff.get_bool('seg-flag',
               pg_catalog.jsonb_build_object('targetingKey', k), false, 'seg'), ' ' ORDER BY k COLLATE "C")
      FROM pg_catalog.unnest(ARRAY['user-2', 'user-3', 'user-4', 'user-x',
                                   'user-$keys', 'user-@{[2 * $keys]}']) k;
    $smaps;
});
my ($before, $count, $sample, $after) = split /\n/, $out;

# the even users 2 .. 2 * keys are members, except the excluded user-4
is($count, $keys - 1, 'every member of a 250,000-key segment is found, and nobody else');
is($sample, "user-2=true user-250000=true user-3=false user-4=false user-500000=true user-x=false",
    'members, a non-member and excluded keys');

SKIP:
{
    my $mode = '';
    if (open my $fh, '<', '/sys/kernel/mm/transparent_hugepage/enabled')
    {
        $mode = <$fh> // '';
        close $fh;
    }
    skip "transparent huge pages are not available on request here ("
      . ($mode eq '' ? 'no /sys/kernel/mm/transparent_hugepage' : "mode: $mode") . ')', 1
      unless $mode =~ /\[(madvise|always)\]/;
    cmp_ok($after, '>', $before,
        "the key set's table is on transparent huge pages ($before kB before, $after kB after)");
}

# a load cancelled halfway (statement_timeout while the key set is read)
# leaves nothing behind: the next evaluation discards that cache version
# and loads again, and the cache then takes as much memory as a load that
# was never interrupted (it used to keep the partial copies of every
# cancelled attempt)
# (keys longer than 16 bytes are copied into the cache version's memory as
# they are read; shorter ones only when the table is built, at the end)
$node->safe_psql('postgres', qq{
    SET client_min_messages = warning;
    SELECT ff.create_environment('long');
    INSERT INTO ff.segments (environment, name) VALUES ('long', 'big');
    INSERT INTO ff.segment_keys (environment, segment, targeting_key)
        SELECT 'long', 'big', 'a-rather-long-targeting-key-' || i FROM pg_catalog.generate_series(1, $keys) i;
    SELECT ff.import_flagd('{"flags": {"seg-flag": {"state": "ENABLED",
        "variants": {"on": true, "off": false}, "defaultVariant": "off",
        "targeting": {"if": [{"in_segment": "big"}, "on", "off"]}}}}'::jsonb, 'long');
});
my $clean = $node->safe_psql('postgres', q{
    SELECT ff.get_bool('seg-flag', '{"targetingKey": "a-rather-long-targeting-key-7"}', false, 'long');
    SELECT memory_bytes || ' ' || segment_keys FROM ff.cache_info();
});
my ($rc, $stdout, $stderr) = $node->psql('postgres', q{
    SELECT ff.get_bool('seg-flag', '{}', false, 'no-such-environment');
    SET statement_timeout = '20ms';
    SELECT ff.get_bool('seg-flag', '{"targetingKey": "a-rather-long-targeting-key-7"}', false, 'long');
    SELECT ff.get_bool('seg-flag', '{"targetingKey": "a-rather-long-targeting-key-7"}', false, 'long');
    SELECT ff.get_bool('seg-flag', '{"targetingKey": "a-rather-long-targeting-key-7"}', false, 'long');
    RESET statement_timeout;
    SELECT ff.get_bool('seg-flag', '{"targetingKey": "a-rather-long-targeting-key-7"}', false, 'long');
    SELECT memory_bytes || ' ' || segment_keys FROM ff.cache_info();
}, on_error_stop => 0);
like($stderr, qr/canceling statement due to statement timeout/,
    'a segment load was cancelled by statement_timeout');
is((split /\n/, $stdout)[-1], (split /\n/, $clean)[-1],
    'after cancelled loads, the cache holds what an uninterrupted load holds (memory, keys)');
like($stdout, qr/^t$/m, 'and the evaluation after them is right');

$node->stop;
done_testing();
