# 040_privileges_dump.pl — a pg_dump → pg_restore round trip keeps what
# The README (Privileges and protected environments) promises: protected environments with their allowed roles,
# the grants of the recipes, a PUBLIC lock-down of evaluation, and the
# protection itself (an editor is still refused in production, a member of an
# allowed role still writes).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('privileges');
$node->init;
$node->start;

# roles are cluster-wide: they exist before the restore, as with pg_dumpall
$node->safe_psql('postgres', q{
    CREATE ROLE ff_release;
    CREATE ROLE ff_editor;
    CREATE ROLE ff_releaser IN ROLE ff_release;
    CREATE DATABASE src;
    CREATE DATABASE dst;
});
$node->safe_psql('src', q{
    SET client_min_messages = warning;
    CREATE EXTENSION feature_flags;
    SELECT count(*) FROM ff.grant_editor('ff_editor');
    SELECT count(*) FROM ff.grant_editor('ff_releaser');
    SELECT ff.create_environment('production');
    SELECT ff.protect_environment('production', '{ff_release}');
    SELECT ff.create_flag('checkout', environment => 'production');
    REVOKE EXECUTE ON FUNCTION ff.get_bool(text, jsonb, boolean, text) FROM PUBLIC;
});

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ], 'pg_dump');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

my $state = q{
    SELECT string_agg(format('%s:%s:%s', name, protected, allowed_roles), ' ' ORDER BY name)
      FROM ff.environments
};
is($node->safe_psql('dst', $state), $node->safe_psql('src', $state),
    'protected environments and allowed roles are restored');
is($node->safe_psql('dst', $state), 'development:f:{} production:t:{ff_release}',
    'production is protected for ff_release');

my $privs = q{
    SELECT has_function_privilege('public', 'ff.get_bool(text, jsonb, boolean, text)', 'EXECUTE'),
           has_table_privilege('ff_editor', 'ff.flags', 'INSERT'),
           has_column_privilege('ff_editor', 'ff.environments', 'metadata', 'UPDATE'),
           has_column_privilege('ff_editor', 'ff.environments', 'protected', 'UPDATE'),
           has_function_privilege('ff_editor',
               'ff.create_flag(text, jsonb, text, text, jsonb, boolean, text, text[], text, jsonb)', 'EXECUTE')
};
is($node->safe_psql('dst', $privs), $node->safe_psql('src', $privs), 'privileges are restored');
is($node->safe_psql('dst', $privs), 'f|t|t|f|t', 'PUBLIC stays locked out of get_bool; the editor recipe is intact');

my ($ret, $stdout, $stderr) = $node->psql('dst', q{
    SET ROLE ff_editor;
    SELECT ff.disable_flag('checkout', 'production');
});
isnt($ret, 0, 'after the restore the editor is still refused in production');
like($stderr, qr/role "ff_editor" may not change protected environment "production"/,
    'with the protection error');

is($node->safe_psql('dst', q{
    SET ROLE ff_releaser;
    SELECT (ff.disable_flag('checkout', 'production')).state;
}), 'DISABLED', 'after the restore a member of the allowed role writes in production');
is($node->safe_psql('dst', 'SELECT ok FROM ff.verify_history()'), 't', 'the history chain verifies');

# (1.20) a role given the editor recipe can read every table and sequence of
# ff, so it can dump the database's ff data (1.19: permission denied for
# sequence change_requests_id_seq)
$node->safe_psql('postgres', q{ALTER ROLE ff_editor LOGIN});
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$dump.editor", '-n', 'ff', '-U', 'ff_editor',
    '-d', $node->connstr('src') ], 'pg_dump of schema ff by a role given the editor recipe');

$node->stop;
done_testing();
