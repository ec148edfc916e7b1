/*-------------------------------------------------------------------------
 *
 * feature_flags.c
 *	  Module entry point: GUC definitions and subsystem wiring.
 *
 * _PG_init only defines the GUCs and calls each subsystem's Init function;
 * the subsystems live in their own files (ff_cache.c, ff_evaluate.c, ...).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/feature_flags.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "feature_flags.h"
#include "ff_cache.h"
#include "ff_history.h"
#include "ff_stats.h"

PG_MODULE_MAGIC;

char	   *ff_environment = NULL;
char	   *ff_notify_channel = NULL;
char	   *ff_change_comment = NULL;
int			ff_invalid_targeting = FF_INVALID_TARGETING_ERROR;
int			ff_evaluation_memory = 16 * 1024;

/* the values of ff.invalid_targeting */
static const struct config_enum_entry ff_invalid_targeting_options[] = {
	{"error", FF_INVALID_TARGETING_ERROR, false},
	{"warning", FF_INVALID_TARGETING_WARNING, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/*
 * FFCheckNotifyChannel is the check hook of ff.notify_channel: a channel
 * name that NOTIFY accepts (shorter than NAMEDATALEN bytes; empty means
 * ff_changes), so that a bad setting fails when it is set rather than at
 * the commit of every configuration change.
 */
static bool
FFCheckNotifyChannel(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL && strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errdetail("A LISTEN/NOTIFY channel name is at most %d bytes long; this one has %zu.",
							NAMEDATALEN - 1, strlen(*newval));
		return false;
	}
	return true;
}

/*
 * FFCheckEnvironment is the check hook of ff.environment: empty (the
 * default environment) or a name that an environment can have (the rule
 * of ff._name_pattern(): a letter or digit, then up to 199 letters,
 * digits, '.', '_', ':' or '-').  A typo of that kind would otherwise make
 * every evaluation of the session answer the caller's default.  Whether
 * the environment exists can only be known in a transaction, so that is
 * left to the evaluation (reason ERROR) and the administration functions.
 * Only SET, set_config and the validation of ALTER ROLE/DATABASE ... SET
 * are refused: a value from postgresql.conf, PGOPTIONS or a stored role or
 * database setting that failed here would be replaced by the default,
 * i.e. silently by the default environment, so it is kept, and every
 * evaluation reports it as an unknown environment instead.
 */
static bool
FFCheckEnvironment(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	size_t		len;
	size_t		i;

	if (v == NULL || v[0] == '\0' || source < PGC_S_INTERACTIVE)
		return true;
	len = strlen(v);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) v[i];
		bool		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') ||
			(i > 0 && (c == '.' || c == '_' || c == ':' || c == '-'));

		if (!ok)
			break;
	}
	if (i == len && len <= 200)
		return true;
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	if (len > 200)
		GUC_check_errdetail("An environment name is at most 200 characters long; this one has %zu bytes.",
							len);
	else
		GUC_check_errdetail("An environment name starts with a letter or digit and contains only letters, digits, \".\", \"_\", \":\" and \"-\".");
	GUC_check_errhint("Set it to the name of a row of ff.environments, or to '' for the default environment.");
	return false;
}

/*
 * _PG_init defines the GUCs and initialises the subsystems.
 */
void
_PG_init(void)
{
	DefineCustomStringVariable("ff.environment",
							   "Environment used by evaluation functions when none is given.",
							   "Empty means the default environment (ff.environments.is_default).",
							   &ff_environment,
							   "",
							   PGC_USERSET,
							   0,
							   FFCheckEnvironment, NULL, NULL);

	DefineCustomStringVariable("ff.notify_channel",
							   "LISTEN/NOTIFY channel that receives one message per committed change-set.",
							   NULL,
							   &ff_notify_channel,
							   "ff_changes",
							   PGC_SUSET,
							   0,
							   FFCheckNotifyChannel, NULL, NULL);

	DefineCustomStringVariable("ff.change_comment",
							   "Comment recorded in the history for changes made by the current transaction.",
							   "Set with SET LOCAL or ff.comment_change(text).",
							   &ff_change_comment,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomEnumVariable("ff.invalid_targeting",
							 "What a write of a flag does with targeting that cannot be evaluated.",
							 "error refuses the write; warning stores the flag with a WARNING, and its "
							 "evaluations return the caller's default with reason ERROR, as flagd does. "
							 "ff.import_flagd, the copy functions and rollbacks use warning.",
							 &ff_invalid_targeting,
							 FF_INVALID_TARGETING_ERROR,
							 ff_invalid_targeting_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("ff.track_evaluations",
							 "Counts flag evaluations for ff.evaluation_stats.",
							 "Needs feature_flags in shared_preload_libraries.",
							 &ff_track_evaluations,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, FFStatsAssignTrack, NULL);

	DefineCustomIntVariable("ff.evaluation_memory",
							"Memory one flag evaluation may use for the values its targeting computes and reads from the context.",
							"An evaluation that needs more answers the caller's default with reason ERROR (PARSE_ERROR). "
							"ff.json_logic is not limited by it (1 GB).",
							&ff_evaluation_memory,
							16 * 1024,
							1024,
							1024 * 1024,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	/* a PGC_POSTMASTER setting can only be defined while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("ff.stats_max_entries",
								"Number of entries (environment, flag, variant, reason, error code) of ff.evaluation_stats.",
								"Evaluations of outcomes that find the table full are counted as dropped.",
								&ff_stats_max_entries,
								10000,
								100,
								1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	MarkGUCPrefixReserved("ff");

	/* subsystems */
	FFCacheInit();
	FFHistoryInit();
	FFStatsInit();
}
