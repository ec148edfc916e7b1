# 010_dump_restore.pl — a pg_dump → restore round trip into a new database
# reproduces flags, segments, segment keys and the history exactly: no
# duplicated versions, the hash chain verifies, and the next change after the
# restore continues the chain with the next version.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION feature_flags');

# a history with every kind of change
$node->safe_psql('src', q{
    -- the default environment: created by the install script, or here
    INSERT INTO ff.environments (name, is_default, description)
    VALUES ('development', true, 'changed after install')
    ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description;
    INSERT INTO ff.environments (name, metadata) VALUES ('production', '{"tier": "gold"}');
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, tags)
    SELECT env, 'flag-' || i, 'string', '{"a": "A", "b": "B"}', 'a', ARRAY['t' || i % 3]
      FROM unnest(ARRAY['development', 'production']) AS env, generate_series(1, 20) AS i;
    BEGIN;
    SELECT ff.comment_change('switch half of them');
    UPDATE ff.flags SET default_variant = 'b' WHERE key LIKE 'flag-1%';
    COMMIT;
    DELETE FROM ff.flags WHERE key = 'flag-7';
    INSERT INTO ff.segments (environment, name, description) VALUES ('production', 'beta', 'opt-in');
    INSERT INTO ff.segments (environment, name) VALUES ('production', 'staff');
    INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
    SELECT 'production', 'beta', 'user-' || i, i % 10 = 0 FROM generate_series(1, 2000) AS i;
    INSERT INTO ff.segment_keys (environment, segment, targeting_key)
    SELECT 'production', 'staff', 'emp-' || i FROM generate_series(1, 5) AS i;
    UPDATE ff.segment_keys SET excluded = true WHERE targeting_key IN ('user-1', 'user-2');
    DELETE FROM ff.segment_keys WHERE targeting_key = 'user-3';
    UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'production' AND key = 'flag-2';
});
$node->safe_psql('src', q{SELECT ff.rollback_flag('flag-2', 50, 'production')});
# flags that ff.import_flagd stores with a WARNING, as flagd loads them: an
# unknown operator, a result that is not a variant, calls of flagd's own
# operators that its schema forbids (until 1.7 the restore's COPY of
# ff.flags failed on them, and every flag was lost)
$node->safe_psql('src', q{
    SET client_min_messages = error;
    SELECT ff.import_flagd('{"flags": {
        "typo": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a", "targeting": {"iff": [1]}},
        "stray": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a", "targeting": {"if": [true, "zzz", "a"]}},
        "neg-weight": {"state": "ENABLED", "variants": {"one": "one", "two": "two"}, "defaultVariant": "one",
                       "targeting": {"fractional": [["one", -50], ["two", 100]]}},
        "short-call": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                       "targeting": {"if": [{"ends_with": ["xyz"]}, "on", "off"]}}}}', 'production');
});

# scheduled changes (1.14) of every status, by an editor: the restore loads
# them as they were (not re-checked, not re-owned), and the identity goes on
$node->safe_psql('src', q{
    CREATE ROLE dump_scheduler;
    SELECT ff.grant_editor('dump_scheduler');
    SET ROLE dump_scheduler;
    SELECT ff.schedule_change('flag-3', '{"state": "DISABLED"}', now(), 'production', 'applied before the dump');
    SELECT ff.schedule_change('flag-4', '{"state": "DISABLED"}', now() + interval '1 day', 'production', 'cancelled');
    SELECT ff.schedule_change('flag-5', '{"defaultVariant": "b"}', now() + interval '1 day', 'production', 'pending');
    SELECT ff.cancel_scheduled_change(2);
});
$node->safe_psql('src', q{SELECT ff.run_scheduled_changes()});
is($node->safe_psql('src', q{SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM ff.scheduled_changes}),
    '1:applied,2:cancelled,3:pending', 'source has an applied, a cancelled and a pending scheduled change');

# approvals (1.16): a rule and change requests of every status; the
# restore loads them as they were, and the gate holds afterwards
$node->safe_psql('src', q{
    CREATE ROLE dump_dev LOGIN;
    CREATE ROLE dump_lead LOGIN;
    SELECT ff.grant_editor('dump_dev');
    SELECT ff.grant_editor('dump_lead');
    INSERT INTO ff.environments (name) VALUES ('guarded');
    SELECT ff.create_flag('g1', '{"on": true, "off": false}', 'off', environment => 'guarded');
    SELECT ff.protect_environment('guarded', '{dump_dev}');
    SELECT ff.require_approvals('guarded', 1, '{dump_lead}');
});
$node->safe_psql('src', q{
    SELECT ff.request_change('g1', '{"defaultVariant": "on"}', 'guarded', 'applied before the dump');
    SELECT ff.request_change('g1', '{"state": "DISABLED"}', 'guarded', 'withdrawn');
    SELECT ff.withdraw_change(2);
}, extra_params => [ '-U', 'dump_dev' ]);
$node->safe_psql('src', q{SELECT ff.approve_change(1); SELECT ff.apply_change(1);},
    extra_params => [ '-U', 'dump_lead' ]);
$node->safe_psql('src', q{SELECT ff.request_change('g1', '{"state": "DISABLED"}', 'guarded', 'pending')},
    extra_params => [ '-U', 'dump_dev' ]);
is($node->safe_psql('src', q{SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM ff.change_requests}),
    '1:applied,2:withdrawn,3:pending', 'source has an applied, a withdrawn and a pending change request');

my $versions_src = $node->safe_psql('src', 'SELECT ff.current_version()');
cmp_ok($versions_src, '>', 50, "source history has $versions_src versions");
is($node->safe_psql('src', 'SELECT ok FROM ff.verify_history()'), 't', 'source chain verifies');

# what must survive, rendered identically in both databases
my %snapshot = (
    environments => q{SELECT * FROM ff.environments ORDER BY name},
    flags        => q{SELECT * FROM ff.flags ORDER BY environment, key},
    segments     => q{SELECT * FROM ff.segments ORDER BY environment, name},
    segment_keys => q{SELECT * FROM ff.segment_keys ORDER BY environment, segment, targeting_key},
    versions     => q{SELECT * FROM ff.versions ORDER BY version},
    scheduled_changes => q{SELECT * FROM ff.scheduled_changes ORDER BY id},
    approval_rules => q{SELECT * FROM ff.approval_rules ORDER BY environment},
    change_requests => q{SELECT * FROM ff.change_requests ORDER BY id},
);

sub snapshot
{
    my ($db) = @_;
    my %out;
    for my $name (sort keys %snapshot)
    {
        $out{$name} = $node->safe_psql($db,
            "SET TimeZone = 'UTC'; COPY ($snapshot{$name}) TO STDOUT");
    }
    return \%out;
}

my $before = snapshot('src');
cmp_ok(length($before->{segment_keys}), '>', 10000, 'the snapshot holds the key lists');

my $dumpdir = $node->basedir;

# check one restored database against the source
sub check_restored
{
    my ($db, $how) = @_;
    my $after = snapshot($db);
    for my $name (sort keys %snapshot)
    {
        ok($after->{$name} eq $before->{$name}, "$how: $name reproduced exactly");
    }
    is($node->safe_psql($db, 'SELECT ff.current_version()'), $versions_src,
        "$how: no version added by the restore");
    is($node->safe_psql($db, 'SELECT count(*) = count(DISTINCT version) AND count(*) = max(version) FROM ff.versions'),
        't', "$how: no duplicated or missing version");
    is($node->safe_psql($db, 'SELECT ok FROM ff.verify_history()'), 't',
        "$how: the restored chain verifies");
    is($node->safe_psql($db, q{
        SELECT string_agg(k || '=' || coalesce(r.variant, r.error_code), ' ' ORDER BY k)
          FROM unnest(ARRAY['typo', 'stray', 'neg-weight', 'short-call']) AS k,
               ff.evaluate(k, '{"targetingKey": "u1"}', NULL, 'production') AS r}),
        'neg-weight=two short-call=off stray=GENERAL typo=PARSE_ERROR',
        "$how: the flags stored with a WARNING evaluate as before");

    # the next change continues the chain
    $node->safe_psql($db, q{
        UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'development' AND key = 'flag-1'});
    is($node->safe_psql($db, 'SELECT ff.current_version()'), $versions_src + 1,
        "$how: the next change is version " . ($versions_src + 1));
    is($node->safe_psql($db, q{
        SELECT v.prev_hash = p.hash AND v.operation = 'UPDATE' AND f.version = v.version
          FROM ff.versions AS v
          JOIN ff.versions AS p ON p.version = v.version - 1
          JOIN ff.flags AS f ON f.environment = 'development' AND f.key = 'flag-1'
         WHERE v.version = ff.current_version()}),
        't', "$how: it is chained to the last restored version and stamped on the row");
    is($node->safe_psql($db, 'SELECT ok FROM ff.verify_history()'), 't',
        "$how: the chain still verifies");
    # scheduled changes go on: the next one is number 4, the pending one is not due
    is($node->safe_psql($db, q{
        SET ROLE dump_scheduler;
        SELECT (ff.schedule_change('flag-6', '{"state": "DISABLED"}', now() + interval '1 hour', 'production')).id;
        SELECT count(*) FROM ff.run_scheduled_changes()}),
        "4\n0", "$how: the scheduled changes' numbering goes on; nothing is due");
    # the approval gate holds, and the requests' numbering goes on
    my ($ret, $out, $err) = $node->psql($db,
        q{UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'guarded'},
        extra_params => [ '-U', 'dump_dev' ]);
    like($err, qr/takes changes only through approved change requests/,
        "$how: a direct write to the guarded environment is still refused");
    is($node->safe_psql($db, q{SELECT (ff.request_change('g1', '{"state": "DISABLED"}', 'guarded')).id},
        extra_params => [ '-U', 'dump_dev' ]), '4', "$how: the change requests' numbering goes on");
    # the key lists continue too: the recorded size follows the table
    $node->safe_psql($db, q{
        INSERT INTO ff.segment_keys (environment, segment, targeting_key)
        VALUES ('production', 'beta', 'late-user')});
    is($node->safe_psql($db, q{
        SELECT (after ->> 'key_count')::bigint = (SELECT count(*) FROM ff.segment_keys WHERE segment = 'beta')
          FROM ff.versions WHERE version = ff.current_version()}),
        't', "$how: a key added after the restore is counted on top of the restored list");
}

# plain SQL dump, restored with psql
my $plain = "$dumpdir/src.sql";
$node->command_ok([ 'pg_dump', '-f', $plain, '-d', $node->connstr('src') ], 'pg_dump (plain)');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok(
    [ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('dst'), '-f', $plain ],
    'the plain dump restores with psql without an error');
check_restored('dst', 'psql restore');

# custom-format dump, restored with pg_restore
my $custom = "$dumpdir/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $custom, '-d', $node->connstr('src') ], 'pg_dump (custom)');
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst2'), $custom ],
    'the custom dump restores with pg_restore without an error');
check_restored('dst2', 'pg_restore');

# the source keeps its own history: a restore does not notify or write there
is($node->safe_psql('src', 'SELECT ff.current_version()'), $versions_src, 'the source is untouched');

# A history restored into another cluster carries this cluster's
# transaction ids.  The first change there made by the transaction whose id
# happens to equal the restored last version's xact_id is a change-set of
# its own (the 1.9 library took it for its own transaction's and joined the
# restored change-set).
my $burn = "$dumpdir/burn.sql";
PostgreSQL::Test::Utils::append_to_file($burn, "SELECT txid_current();\n");
$node->command_ok([ 'pgbench', '-n', '-f', $burn, '-t', '2000', 'postgres' ], 'the source burns 2,000 transaction ids');
$node->safe_psql('postgres', 'CREATE DATABASE src3');
$node->safe_psql('src3', "CREATE EXTENSION feature_flags; SELECT ff.create_flag('restored');");
my $xs = $node->safe_psql('src3', 'SELECT xact_id FROM ff.versions ORDER BY version DESC LIMIT 1');
my $small = "$dumpdir/src3.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $small, '-d', $node->connstr('src3') ], 'pg_dump (src3)');
my $other = PostgreSQL::Test::Cluster->new('dump_other');
$other->init;
$other->start;
$other->safe_psql('postgres', 'CREATE DATABASE dst3');
$other->command_ok([ 'pg_restore', '--exit-on-error', '-d', $other->connstr('dst3'), $small ],
    'the dump restores into another cluster');
my $now = $other->safe_psql('postgres', 'SELECT txid_current()');
cmp_ok($now, '<', $xs - 1, "the other cluster's transaction ids ($now) are behind the restored xact_id ($xs)");
$other->command_ok([ 'pgbench', '-n', '-f', $burn, '-t', $xs - $now - 1, 'postgres' ],
    'the other cluster burns transaction ids up to the restored one');
is($other->safe_psql('dst3', q{
    BEGIN;
    SELECT txid_current();
    SELECT (ff.create_flag('after-restore')).key;
    COMMIT;
    SELECT string_agg(version || ' ' || change_set || ' ' || entity_key || ' ' || (xact_id::text = '} . $xs . q{'), ', ' ORDER BY version)
      FROM ff.versions;
}), "$xs\nafter-restore\n1 1 restored true, 2 2 after-restore true",
    'the change made by the transaction of the same id is a change-set of its own');
$other->stop;

# (1.18) a source whose "development" was renamed, or deleted after another
# environment became the default: the restore's default takes over the
# untouched "development" that CREATE EXTENSION made, so no "development"
# the source did not have is left, and no version is added (1.17 demoted it
# with a version of its own)
for my $case (
    [ 'renamed', q{UPDATE ff.environments SET name = 'dev' WHERE name = 'development';
                   SELECT (ff.create_flag('x', environment => 'dev')).key;} ],
    [ 'deleted', q{SELECT (ff.create_environment('production', make_default => true)).name;
                   SELECT ff.delete_environment('development');
                   SELECT (ff.create_flag('x')).key;} ])
{
    my ($name, $sql) = @$case;
    $node->safe_psql('postgres', "CREATE DATABASE seed_$name; CREATE DATABASE seed_${name}_to; CREATE DATABASE seed_${name}_data");
    $node->safe_psql("seed_$name", "CREATE EXTENSION feature_flags; $sql");
    my $file = "$dumpdir/seed_$name.dump";
    $node->command_ok([ 'pg_dump', '-Fc', '-f', $file, '-d', $node->connstr("seed_$name") ], "pg_dump ($name default)");
    my $want = $node->safe_psql("seed_$name", q{
        SELECT string_agg(name || ':' || is_default || ':' || version, ' ' ORDER BY name) FROM ff.environments});
    my $want_v = $node->safe_psql("seed_$name", 'SELECT ff.current_version()');
    $node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr("seed_${name}_to"), $file ],
        "the dump restores ($name default)");
    $node->safe_psql("seed_${name}_data", 'CREATE EXTENSION feature_flags');
    $node->command_ok([ 'pg_restore', '--exit-on-error', '--data-only', '-d', $node->connstr("seed_${name}_data"), $file ],
        "the dump restores data-only into a fresh CREATE EXTENSION ($name default)");
    for my $db ("seed_${name}_to", "seed_${name}_data")
    {
        is($node->safe_psql($db, q{
            SELECT string_agg(name || ':' || is_default || ':' || version, ' ' ORDER BY name) FROM ff.environments}),
            $want, "$db: the environments are the source's");
        is($node->safe_psql($db, 'SELECT ff.current_version()'), $want_v, "$db: no version added");
        is($node->safe_psql($db, 'SELECT ok FROM ff.verify_history()'), 't', "$db: the chain verifies");
    }
}

# (1.18) a source with rows that drifted from their history (changed
# without being recorded): the restore loads them as they were dumped and
# records nothing, so the copy has the source's history and the same
# verdict (1.17 recorded each as "created", and the copy verified ok).
# (1.26) The same for a key list: 1.25 recorded the restored list as a
# KEYS version by the restoring role, and reported the drift there.
$node->safe_psql('postgres', 'CREATE DATABASE drifted; CREATE DATABASE drifted_to');
$node->safe_psql('drifted', q{
    CREATE EXTENSION feature_flags;
    SELECT (ff.create_environment('prod')).name;
    SELECT (ff.create_flag('f1', environment => 'prod')).key;
    SELECT (ff.create_segment('s2', NULL, environment => 'prod')).name;
    SELECT (ff.create_segment('k3', NULL, environment => 'prod', include => '{u1,u2,u3}')).name;
    SET session_replication_role = replica;
    DELETE FROM ff.segment_keys WHERE segment = 'k3' AND targeting_key = 'u2';
    UPDATE ff.flags SET state = 'DISABLED' WHERE key = 'f1';
    UPDATE ff.segments SET description = 'unrecorded' WHERE name = 's2';
    UPDATE ff.environments SET description = 'unrecorded' WHERE name = 'prod';});
my $drift_file = "$dumpdir/drifted.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $drift_file, '-d', $node->connstr('drifted') ], 'pg_dump (drifted rows)');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('drifted_to'), $drift_file ],
    'the dump with drifted rows restores');
for my $q ('SELECT ff.current_version()',
           'SELECT ok, first_broken_version, detail FROM ff.verify_history()',
           q{SELECT string_agg(key || ':' || state || ':' || version, ' ' ORDER BY key) FROM ff.flags},
           q{SELECT string_agg(segment || ':' || targeting_key, ' ' ORDER BY segment, targeting_key) FROM ff.segment_keys})
{
    is($node->safe_psql('drifted_to', $q), $node->safe_psql('drifted', $q),
        "drifted rows restored as dumped: $q");
}

$node->stop;
done_testing();
