# 060_upgrade.pl — ALTER EXTENSION feature_flags UPDATE keeps the data intact.
#
# For every installable version V of feature_flags that has an update path
# to the default version (pg_extension_update_paths), and for the default
# version itself (where ALTER EXTENSION ... UPDATE is a no-op):
#   1. a new database; CREATE EXTENSION feature_flags VERSION 'V';
#   2. load configuration and history with plain DML on the contract
#      tables (environments, flags, segments with include/exclude keys,
#      a comment, a rollback, a deletion);
#   3. snapshot: the history, the config rows, an evaluation grid;
#   4. ALTER EXTENSION feature_flags UPDATE;
#   5. check: the extension is at the default version; the history and
#      the config rows are unchanged (columns that existed before);
#      ff.verify_history() is ok; the evaluation grid is unchanged; the
#      extension's objects equal those of a fresh installation of the
#      default version; the next change continues the chain.
# Versions: 1.0 (src/sql/versions/feature_flags--1.0.sql, as released) and
# 1.1 (src/sql/versions/feature_flags--1.1.sql, as released) and 1.2 (the
# default), with the update scripts 1.0 -> 1.1 and 1.1 -> 1.2.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'feature_flags'");
$node->start;

my $default = $node->safe_psql('postgres',
    q{SELECT default_version FROM pg_available_extensions WHERE name = 'feature_flags'});
ok($default ne '', "feature_flags is available, default version $default");

my @from = split /\n/, $node->safe_psql('postgres', qq{
    SELECT p.source FROM pg_extension_update_paths('feature_flags') AS p
     WHERE p.target = '$default' AND p.source <> '$default' AND p.path IS NOT NULL
     ORDER BY string_to_array(p.source, '.')::int[]});
if (@from)
{
    note 'upgrade paths to ' . $default . ': from ' . join(', ', @from);
}
else
{
    note "no upgrade script leads to $default yet: only the no-op ALTER EXTENSION UPDATE is tested";
}

# the reference: a fresh installation of the default version
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION feature_flags');
my $members = q{
    SELECT string_agg(pg_describe_object(d.classid, d.objid, 0), E'\n'
                      ORDER BY pg_describe_object(d.classid, d.objid, 0))
      FROM pg_depend AS d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'feature_flags')};
my $fresh_members = $node->safe_psql('fresh', $members);
# the definitions behind the names: function bodies, options and privileges,
# columns, constraints, indexes, views, triggers, comments, dump registrations
my $definitions = q{
    SELECT string_agg(x, E'\n' ORDER BY x) FROM (
        SELECT 'function ' || p.oid::regprocedure || E'\n' || pg_get_functiondef(p.oid)
               || ' acl ' || coalesce(p.proacl::text, '-')
               || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '-') AS x
          FROM pg_proc AS p WHERE p.pronamespace = 'ff'::regnamespace AND p.prokind IN ('f', 'p')
        UNION ALL
        SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' acl ' || coalesce(c.relacl::text, '-')
               || ' options ' || coalesce(c.reloptions::text, '-')
               || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '-')
               || CASE c.relkind WHEN 'v' THEN ' view ' || pg_get_viewdef(c.oid)
                                 WHEN 'i' THEN ' index ' || pg_get_indexdef(c.oid) ELSE '' END
          FROM pg_class AS c WHERE c.relnamespace = 'ff'::regnamespace
        UNION ALL
        SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || ' not null ' || a.attnotnull || ' default ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
               || ' comment ' || coalesce(col_description(a.attrelid, a.attnum), '-')
          FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'ff'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT 'constraint ' || co.conrelid::regclass || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
          FROM pg_constraint AS co WHERE co.connamespace = 'ff'::regnamespace
        UNION ALL
        SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text
          FROM pg_trigger AS t WHERE t.tgrelid::regclass::text LIKE 'ff.%' AND NOT t.tgisinternal
        UNION ALL
        SELECT 'dumped ' || cfg::regclass || ' ' || coalesce(cond, '-')
          FROM pg_extension AS e, unnest(e.extconfig, e.extcondition) AS u(cfg, cond)
         WHERE e.extname = 'feature_flags'
    ) AS s};
my $fresh_definitions = $node->safe_psql('fresh', $definitions);
my $fresh_triggers = $node->safe_psql('fresh', q{
    SELECT string_agg(format('%s %s %s', tgrelid::regclass, tgname, tgenabled), E'\n'
                      ORDER BY format('%s %s %s', tgrelid::regclass, tgname, tgenabled))
      FROM pg_trigger WHERE tgrelid::regclass::text LIKE 'ff.%' AND NOT tgisinternal});

# configuration and history, by plain DML on the contract tables (the
# table and column names of 010_tables.sql never change)
my $load = q{
    INSERT INTO ff.environments (name, description, metadata)
    VALUES ('prod', 'production', '{"region": "eu"}');
    INSERT INTO ff.segments (environment, name, rule, description)
    VALUES ('prod', 'beta', '{"==": [{"var": "plan"}, "beta"]}', 'beta testers');
    INSERT INTO ff.segment_keys (environment, segment, targeting_key, excluded)
    VALUES ('prod', 'beta', 'user-1', false), ('prod', 'beta', 'user-2', false),
           ('prod', 'beta', 'user-9', true);
    INSERT INTO ff.flags (environment, key, flag_type, variants, default_variant, targeting, tags, owner)
    VALUES ('prod', 'checkout', 'boolean', '{"on": true, "off": false}', 'off',
            '{"if": [{"in_segment": "beta"}, "on", null]}', '{payments}', 'team-pay'),
           ('prod', 'banner', 'string', '{"red": "#f00", "blue": "#00f"}', 'blue',
            '{"fractional": [["red", 30], ["blue", 70]]}', '{}', NULL),
           ('prod', 'limits', 'object', '{"small": {"rps": 10}, "large": {"rps": 1000}}', 'small',
            '{"if": [{"sem_ver": [{"var": "app"}, ">=", "2.0.0"]}, "large", null]}', '{}', NULL),
           ('prod', 'ratio', 'number', '{"low": 0.25, "high": 0.75}', 'low', NULL, '{}', NULL),
           ('prod', 'doomed', 'boolean', '{"on": true, "off": false}', 'on', NULL, '{}', NULL);
    BEGIN;
    SET LOCAL ff.change_comment = 'before the upgrade';
    UPDATE ff.flags SET default_variant = 'high' WHERE environment = 'prod' AND key = 'ratio';
    UPDATE ff.flags SET state = 'DISABLED' WHERE environment = 'prod' AND key = 'limits';
    COMMIT;
    DELETE FROM ff.segment_keys WHERE environment = 'prod' AND targeting_key = 'user-2';
    DELETE FROM ff.flags WHERE environment = 'prod' AND key = 'doomed';
    UPDATE ff.flags SET default_variant = 'red' WHERE environment = 'prod' AND key = 'banner';
};
my $rollback = q{
    SELECT ff.rollback_flag('banner', (SELECT min(version) FROM ff.versions WHERE entity_key = 'banner'), 'prod')
     WHERE to_regprocedure('ff.rollback_flag(text,bigint,text)') IS NOT NULL};

my @contexts = ('{}', '{"targetingKey": "user-1"}', '{"targetingKey": "user-9", "plan": "beta"}',
    '{"targetingKey": "user-3", "plan": "beta", "app": "2.0.1"}', '{"targetingKey": "user-2", "app": "1.0.0"}');
push @contexts, map { qq({"targetingKey": "k$_"}) } 1 .. 20;
my $ctx_values = join(', ', map { "('$_')" } @contexts);
my $grid = qq{
    SELECT string_agg(f.k || ' ' || c.ctx || ' => ' || ff.evaluate(f.k, c.ctx::jsonb, NULL, 'prod')::text,
                      E'\n' ORDER BY f.k, c.ctx)
      FROM (VALUES ('checkout'), ('banner'), ('limits'), ('ratio'), ('doomed')) AS f(k)
     CROSS JOIN (VALUES $ctx_values) AS c(ctx)};

# a table's rows as jsonb restricted to the given columns (an upgrade may
# add columns; the ones that existed must keep their values)
sub rows_digest
{
    my ($db, $table, $order) = @_;
    my $cols = $node->safe_psql($db, qq{
        SELECT string_agg(quote_literal(attname), ',' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped});
    return sub {
        my ($db2) = @_;
        return $node->safe_psql($db2, qq{
            SELECT count(*) || ' ' || coalesce(md5(string_agg(
                       (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(to_jsonb(t)) AS e
                         WHERE e.key IN ($cols))::text, E'\n' ORDER BY $order)), '-')
              FROM $table AS t});
    };
}

my $n_db = 0;
for my $from (@from, $default)
{
    my $db = 'upgrade_' . ++$n_db;
    my $what = $from eq $default ? "$default (no-op update)" : "$from -> $default";
    $node->safe_psql('postgres', "CREATE DATABASE $db");
    $node->safe_psql($db, "CREATE EXTENSION feature_flags VERSION '$from'");
    is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'feature_flags'}),
        $from, "$what: installed at $from");

    $node->safe_psql($db, $load);
    $node->safe_psql($db, $rollback);
    my $n = $node->safe_psql($db, 'SELECT count(*) FROM ff.versions');
    cmp_ok($n, '>=', 14, "$what: history loaded ($n versions)");

    my %digest = (
        'ff.versions'     => rows_digest($db, 'ff.versions', 't.version'),
        'ff.environments' => rows_digest($db, 'ff.environments', 't.name'),
        'ff.flags'        => rows_digest($db, 'ff.flags', 't.environment, t.key'),
        'ff.segments'     => rows_digest($db, 'ff.segments', 't.environment, t.name'),
        'ff.segment_keys' => rows_digest($db, 'ff.segment_keys', 't.environment, t.segment, t.targeting_key'),
    );
    my %before = map { $_ => $digest{$_}->($db) } keys %digest;
    my $grid_before = $node->safe_psql($db, $grid);
    like($grid_before, qr/^checkout \{"targetingKey": "user-1"\} => \(checkout,true,on,TARGETING_MATCH/m,
        "$what: evaluation works before the update");

    my ($ret, $out, $err) = $node->psql($db, 'ALTER EXTENSION feature_flags UPDATE');
    is($ret, 0, "$what: ALTER EXTENSION feature_flags UPDATE succeeds");
    if ($from eq $default)
    {
        like($err, qr/NOTICE:  version "$default" of extension "feature_flags" is already installed/,
            "$what: and says the version is already installed");
    }
    is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'feature_flags'}),
        $default, "$what: the extension is at $default");

    for my $table (sort keys %digest)
    {
        is($digest{$table}->($db), $before{$table}, "$what: $table unchanged");
    }
    is($node->safe_psql($db, q{SELECT CASE WHEN ok THEN 'ok ' || checked ELSE detail END FROM ff.verify_history()}),
        "ok $n", "$what: ff.verify_history() checks every version and is ok");
    is($node->safe_psql($db, $grid), $grid_before, "$what: evaluations unchanged");
    is($node->safe_psql($db, $members), $fresh_members,
        "$what: the extension's objects equal a fresh installation of $default");
    is($node->safe_psql($db, q{
        SELECT string_agg(format('%s %s %s', tgrelid::regclass, tgname, tgenabled), E'\n'
                      ORDER BY format('%s %s %s', tgrelid::regclass, tgname, tgenabled))
          FROM pg_trigger WHERE tgrelid::regclass::text LIKE 'ff.%' AND NOT tgisinternal}),
        $fresh_triggers, "$what: triggers and their firing modes equal a fresh installation");
    is($node->safe_psql($db, $definitions), $fresh_definitions,
        "$what: functions, tables, constraints, indexes, views, triggers, privileges and comments are defined as in a fresh installation");

    # life goes on: the next change continues the chain
    $node->safe_psql($db, q{UPDATE ff.flags SET state = 'ENABLED' WHERE environment = 'prod' AND key = 'limits'});
    is($node->safe_psql($db, q{
        SELECT v.version || ' ' || v.operation || ' ' || (v.prev_hash = p.hash)
          FROM ff.versions AS v JOIN ff.versions AS p ON p.version = v.version - 1
         ORDER BY v.version DESC LIMIT 1}),
        ($n + 1) . ' UPDATE true', "$what: the next change is version N+1, chained");
    is($node->safe_psql($db, q{SELECT ok FROM ff.verify_history()}), 't', "$what: the history still verifies");
    like($node->safe_psql($db, q{SELECT ff.evaluate('limits', '{"app": "2.5.0"}', NULL, 'prod')::text}),
        qr/^\(limits,"\{""rps"": 1000\}",large,TARGETING_MATCH/, "$what: the cache sees the change");
}

$node->stop;
done_testing();
