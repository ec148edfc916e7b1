/*-------------------------------------------------------------------------
 *
 * ff_trigger.h
 *	  Helpers shared by the C trigger and CHECK functions (ff_history.c,
 *	  ff_guard.c); the cache (ff_cache.c) resolves its tables with
 *	  FFTriggerRelid too.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_trigger.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_TRIGGER_H
#define FF_TRIGGER_H

#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/rel.h"

extern TriggerData *FFTriggerData(FunctionCallInfo fcinfo, const char *funcname);
extern Oid	FFTriggerRelid(Oid nsp, const char *name);
extern AttrNumber FFTriggerAttnum(Relation rel, const char *name);
extern void FFTriggerFunctionInit(FmgrInfo *finfo, Oid nsp, const char *name,
								  MemoryContext cxt);
extern bool FFTriggerTextIn(text *value, const char *const *words);
extern Datum FFTriggerCall(FmgrInfo *finfo, TriggerData *trigdata);

/* the caller's user and security context, while a trigger acts as owner */
typedef struct FFTriggerSavedUser
{
	Oid			userid;
	int			sec_context;
} FFTriggerSavedUser;

extern Datum FFTriggerCallAsOwner(FunctionCallInfo fcinfo, FmgrInfo *finfo,
								  TriggerData *trigdata);

extern void FFTriggerBecomeOwner(FunctionCallInfo fcinfo, FFTriggerSavedUser *saved);
extern void FFTriggerRestoreUser(FFTriggerSavedUser *saved);

#endif							/* FF_TRIGGER_H */
