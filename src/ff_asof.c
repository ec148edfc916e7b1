/*-------------------------------------------------------------------------
 *
 * ff_asof.c
 *	  Segments as of a version of the history, for point-in-time evaluation
 *	  (ff.evaluate_at, ff.evaluate_at_version).
 *
 * The per-backend cache holds the configuration as it is now.  A flag as it
 * was at version N is evaluated from its row image in ff.versions (the
 * caller, ff_evaluate_image, gets it), and the segments its rule names are
 * answered here, as they were at version N: the segment's rule from its row
 * image (ff._history_state_at) and a key's membership from the segment's
 * key-list deltas (ff._history_key_at).  Both SQL functions are called
 * through FmgrInfos that the caller keeps at its call site
 * (FFAsOfFunctionsCreate), so that their plans are made once per
 * transaction rather than once per lookup, as a query through SPI would;
 * they run with the caller's rights.  A segment's rule is compiled once
 * per evaluation; nothing else is kept between evaluations, so nothing can
 * go stale.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_asof.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "ff_asof.h"
#include "ff_cache.h"
#include "ff_jsonb.h"

/* a segment as of the version: found or not, and its compiled rule */
struct FFAsOfSegment
{
	FFAsOfSegment *next;
	char	   *name;
	size_t		namelen;
	bool		exists;			/* false: none then */
	const JLRule *rule;			/* NULL = none */
	const char *broken;			/* why its rule cannot be used, or NULL */
};

/*
 * FFAsOfInit prepares a point-in-time evaluation of environment as of
 * version; what it finds is kept in cxt.
 */
void
FFAsOfInit(FFAsOf *asof, MemoryContext cxt, FFAsOfFunctions *fns,
		   const char *environment, int64 version)
{
	asof->cxt = cxt;
	asof->fns = fns;
	asof->arena = FFArenaCreate(cxt);
	asof->environment = environment;
	asof->version = version;
	asof->segments = NULL;
}

/*
 * FFAsOfFunctionsCreate looks up the two SQL functions the lookups call and
 * prepares their FmgrInfos in cxt (the caller's call-site context).
 */
FFAsOfFunctions *
FFAsOfFunctionsCreate(MemoryContext cxt)
{
	FFAsOfFunctions *fns = MemoryContextAllocZero(cxt, sizeof(FFAsOfFunctions));
	/* (entity, environment, entity_key, at_version), (environment, segment, targeting_key, at_version) */
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT8OID};

	fmgr_info_cxt(LookupFuncName(list_make2(makeString("ff"),
											makeString("_history_state_at")),
								 4, types, false),
				  &fns->state_at, cxt);
	fmgr_info_cxt(LookupFuncName(list_make2(makeString("ff"),
											makeString("_history_key_at")),
								 4, types, false),
				  &fns->key_at, cxt);
	return fns;
}

/*
 * FFAsOfCall calls one of the SQL functions with four non-null arguments
 * (text comparisons in the default collation); *isnull reports a NULL
 * result.
 */
static Datum
FFAsOfCall(FmgrInfo *fn, Datum *args, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 4);
	Datum		result;
	int			i;

	InitFunctionCallInfoData(*fcinfo, fn, 4, DEFAULT_COLLATION_OID, NULL, NULL);
	for (i = 0; i < 4; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = false;
	}
	result = FunctionCallInvoke(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/*
 * FFAsOfLoadSegment reads segment name as of the version and compiles its
 * rule into the evaluation's arena.
 */
static FFAsOfSegment *
FFAsOfLoadSegment(FFAsOf *asof, const char *name, size_t namelen)
{
	FFAsOfSegment *seg;
	Datum		args[4];
	Datum		image;
	Jsonb	   *rule;
	bool		exists;
	bool		isnull;
	MemoryContext oldcxt;

	seg = MemoryContextAllocZero(asof->cxt, sizeof(FFAsOfSegment));
	seg->name = MemoryContextAlloc(asof->cxt, namelen + 1);
	memcpy(seg->name, name, namelen);
	seg->name[namelen] = '\0';
	seg->namelen = namelen;

	args[0] = CStringGetTextDatum("segment");
	args[1] = CStringGetTextDatum(asof->environment);
	args[2] = PointerGetDatum(cstring_to_text_with_len(name, namelen));
	args[3] = Int64GetDatum(asof->version);
	image = FFAsOfCall(&asof->fns->state_at, args, &isnull);
	exists = !isnull;
	if (exists)
	{
		/* the rule, copied into the evaluation's context, and compiled */
		oldcxt = MemoryContextSwitchTo(asof->cxt);
		rule = FFJsonbMember(DatumGetJsonbP(image), "rule");
		seg->rule = FFCacheCompileSegmentRule(asof->arena, rule, &seg->broken);
		MemoryContextSwitchTo(oldcxt);
	}
	/* as in the cache: a segment whose rule does not compile fails */
	seg->exists = exists;
	seg->next = asof->segments;
	asof->segments = seg;
	return seg;
}

/*
 * FFAsOfKeyMembership reports whether key was on segment name's include
 * list (+1), its exclude list (-1) or neither (0) as of the version.
 */
static int
FFAsOfKeyMembership(FFAsOf *asof, const FFAsOfSegment *seg, const char *key,
					size_t keylen)
{
	Datum		args[4];
	Datum		excluded;
	bool		isnull;

	args[0] = CStringGetTextDatum(asof->environment);
	args[1] = CStringGetTextDatum(seg->name);
	args[2] = PointerGetDatum(cstring_to_text_with_len(key, keylen));
	args[3] = Int64GetDatum(asof->version);
	excluded = FFAsOfCall(&asof->fns->key_at, args, &isnull);
	/* excluded: true, included: false, on neither list: NULL */
	if (isnull)
		return 0;
	return DatumGetBool(excluded) ? -1 : 1;
}

/*
 * FFAsOfSegmentCallback is the JLContext segment callback of a
 * point-in-time evaluation: the segment and the key's membership as of the
 * version (the data's extra is the FFAsOf).  Like the cache's callback, it
 * answers false for a segment that did not exist then, and reports one
 * whose rule then does not compile as broken.
 */
bool
FFAsOfSegmentCallback(void *opaque, const char *name, size_t namelen,
					  const char *key, size_t keylen, JLSegmentInfo *info)
{
	FFAsOf	   *asof = (FFAsOf *) ((FFJsonbData *) opaque)->extra;
	FFAsOfSegment *seg;

	if (asof == NULL)
		return false;
	for (seg = asof->segments; seg != NULL; seg = seg->next)
		if (seg->namelen == namelen && memcmp(seg->name, name, namelen) == 0)
			break;
	if (seg == NULL)
		seg = FFAsOfLoadSegment(asof, name, namelen);
	if (!seg->exists)
		return false;
	if (seg->broken != NULL)
	{
		info->broken = seg->broken;
		return true;
	}
	info->rule = seg->rule;
	info->membership = key != NULL ? FFAsOfKeyMembership(asof, seg, key, keylen) : 0;
	return true;
}
