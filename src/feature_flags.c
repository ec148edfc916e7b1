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
#include "utils/guc.h"

#include "feature_flags.h"
#include "ff_cache.h"
#include "ff_history.h"

PG_MODULE_MAGIC;

char	   *ff_environment = NULL;
char	   *ff_notify_channel = NULL;
char	   *ff_change_comment = NULL;
int			ff_invalid_targeting = FF_INVALID_TARGETING_ERROR;

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
							   NULL, NULL, NULL);

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

	MarkGUCPrefixReserved("ff");

	/* subsystems */
	FFCacheInit();
	FFHistoryInit();
}
