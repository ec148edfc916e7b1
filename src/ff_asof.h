/*-------------------------------------------------------------------------
 *
 * ff_asof.h
 *	  Segments as of a version of the history, for point-in-time
 *	  evaluation (ff_asof.c).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_asof.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_ASOF_H
#define FF_ASOF_H

#include "fmgr.h"

#include "core/jsonlogic.h"

typedef struct FFAsOfSegment FFAsOfSegment;

/* the SQL functions the lookups call, kept at the caller's call site */
typedef struct FFAsOfFunctions
{
	FmgrInfo	state_at;		/* ff._history_state_at */
	FmgrInfo	key_at;			/* ff._history_key_at */
} FFAsOfFunctions;

/* the state of one point-in-time evaluation */
typedef struct FFAsOf
{
	MemoryContext cxt;			/* what the segments keep; the caller's */
	FFAsOfFunctions *fns;
	JLArena    *arena;			/* compiled segment rules, in cxt */
	const char *environment;
	int64		version;
	FFAsOfSegment *segments;	/* the segments looked up so far */
} FFAsOf;

extern FFAsOfFunctions *FFAsOfFunctionsCreate(MemoryContext cxt);
extern void FFAsOfInit(FFAsOf *asof, MemoryContext cxt, FFAsOfFunctions *fns,
					   const char *environment, int64 version);
extern bool FFAsOfSegmentCallback(void *opaque, const char *name, size_t namelen,
								  const char *key, size_t keylen,
								  JLSegmentInfo *info);

#endif							/* FF_ASOF_H */
