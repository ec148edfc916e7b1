# 090_pg_cron.pl — scheduled changes run by pg_cron, as the README sets it up.
#
#   * pg_cron (Debian's postgresql-15-cron) in shared_preload_libraries, with
#     its jobs run by background workers, and a job every minute that calls
#     ff.run_scheduled_changes();
#   * an editor schedules two changes: one due now and one a few seconds
#     later; a third is cancelled;
#   * within two cron minutes both are applied by the job: the flags are as
#     the drafts say, the history records the editor as the role that made
#     each change and the job's user as the session user, with the comment;
#     the cancelled change stays cancelled; the job's run succeeded;
#   * a change its creator may no longer make (the environment is protected
#     meanwhile, with only the other editor allowed) is marked failed by the
#     job, with the error, which the server log shows too.
# pg_cron 1.4 (Debian 12) schedules by the minute, so this test waits up to
# about two minutes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'feature_flags,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
    CREATE EXTENSION pg_cron;
    CREATE EXTENSION feature_flags;
    SELECT ff.create_environment('production');
    SELECT ff.create_flag('checkout-v2', '{"on": true, "off": false}', 'off', environment => 'production');
    SELECT ff.create_flag('banner', '{"on": true, "off": false}', 'off', environment => 'production');
    SELECT ff.create_flag('gate', '{"on": true, "off": false}', 'off', environment => 'production');
    CREATE ROLE release_editor;
    SELECT ff.grant_editor('release_editor');
    SELECT cron.schedule('ff-scheduled-changes', '* * * * *', 'SELECT ff.run_scheduled_changes()');
});

$node->safe_psql('postgres', q{
    CREATE ROLE release_other;
    SELECT ff.grant_editor('release_other');
});
my ($now_id, $later_id, $cancel_id) = split /\|/, $node->safe_psql('postgres', q{
    SET ROLE release_editor;
    SELECT (ff.schedule_change('checkout-v2', '{"targeting": {"fractional": [["on", 25], ["off", 75]]}}',
                               now(), 'production', '25% rollout')).id,
           (ff.schedule_change('banner', '{"defaultVariant": "on"}',
                               now() + interval '5 seconds', 'production', 'banner on')).id,
           (ff.schedule_change('banner', '{"state": "DISABLED"}',
                               now() + interval '5 seconds', 'production')).id;
});
$node->safe_psql('postgres', qq{SET ROLE release_editor; SELECT ff.cancel_scheduled_change($cancel_id)});
my $other_id = $node->safe_psql('postgres', q{
    SET ROLE release_other;
    SELECT (ff.schedule_change('gate', '{"defaultVariant": "on"}', now() + interval '5 seconds', 'production')).id;
});
# before the job runs, production is protected: only release_editor may change it
$node->safe_psql('postgres', q{SELECT ff.protect_environment('production', ARRAY['release_editor']::name[])});

# wait for the job: every change due is applied or failed
my $deadline = time() + 150;
my $open;
while (1)
{
    $open = $node->safe_psql('postgres', q{SELECT count(*) FROM ff.scheduled_changes WHERE status = 'pending'});
    last if $open eq '0' || time() > $deadline;
    usleep(500_000);
}
is($open, '0', 'pg_cron ran ff.run_scheduled_changes(): no change is left pending');

is($node->safe_psql('postgres', q{
    SELECT string_agg(id || ':' || status || ':' || coalesce(finished_by::text, '-'), ',' ORDER BY id)
      FROM ff.scheduled_changes}),
   "$now_id:applied:postgres,$later_id:applied:postgres,$cancel_id:cancelled:release_editor,"
   . "$other_id:failed:postgres",
   'the due changes were applied by the job (run by postgres), the cancelled one stayed cancelled, the forbidden one failed');
like($node->safe_psql('postgres', qq{SELECT error FROM ff.scheduled_changes WHERE id = $other_id}),
     qr/^42501: role "release_other" may not change protected environment "production"/,
     'the failed change says why');
like(slurp_file($node->logfile),
     qr/WARNING:  scheduled change $other_id of flag "gate" in environment "production" failed: 42501/,
     'the failure is in the server log too');
is($node->safe_psql('postgres', q{
    SELECT string_agg(key || ':' || state || ':' || default_variant || ':' || coalesce(targeting::text, '-'), ',' ORDER BY key)
      FROM ff.flags WHERE environment = 'production'}),
   'banner:ENABLED:on:-,checkout-v2:ENABLED:off:{"fractional": [["on", 25], ["off", 75]]},gate:ENABLED:off:-',
   'the flags are as the applied drafts say');
is($node->safe_psql('postgres', q{
    SELECT string_agg(entity_key || ':' || changed_by || ':' || session_user_name || ':' || comment, ',' ORDER BY version)
      FROM ff.versions WHERE comment LIKE 'scheduled change%'}),
   "checkout-v2:release_editor:postgres:scheduled change $now_id by release_editor: 25% rollout,"
   . "banner:release_editor:postgres:scheduled change $later_id by release_editor: banner on",
   'the history records the editor as the role that made each change, the job as the session');
is($node->safe_psql('postgres', q{SELECT (ff.verify_history()).ok}), 't', 'the history verifies');
is($node->safe_psql('postgres', q{
    SELECT count(*) > 0 AND bool_and(d.status = 'succeeded')
      FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid)
     WHERE j.jobname = 'ff-scheduled-changes'}),
   't', 'the pg_cron job ran and succeeded');

$node->stop;
done_testing();
