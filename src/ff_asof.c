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
 * key-list deltas (ff._history_key_at), one query each through SPI, run
 * with the caller's rights.  A segment's rule is compiled once per
 * evaluation; nothing is kept between evaluations, so nothing can go
 * stale.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_asof.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "ff_asof.h"
#include "ff_cache.h"
#include "ff_history.h"
#include "ff_jsonb.h"

/* a segment as of the version: found or not, and its compiled rule */
struct FFAsOfSegment
{
	FFAsOfSegment *next;
	char	   *name;
	size_t		namelen;
	bool		exists;			/* false: none then, or its rule is broken */
	const JLRule *rule;			/* NULL = none */
};

/* plans kept for the life of the backend (NULL until first needed) */
static SPIPlanPtr FFAsOfSegmentPlan = NULL;
static SPIPlanPtr FFAsOfKeyPlan = NULL;

/*
 * FFAsOfInit prepares a point-in-time evaluation of environment as of
 * version; what it finds is kept in cxt.
 */
void
FFAsOfInit(FFAsOf *asof, MemoryContext cxt, const char *environment,
		   int64 version)
{
	asof->cxt = cxt;
	asof->arena = FFArenaCreate(cxt);
	asof->environment = environment;
	asof->version = version;
	asof->segments = NULL;
}

/*
 * FFAsOfQuery runs one of the queries (preparing and keeping its plan on
 * first use) and checks that it returned one row, which the caller reads
 * from SPI_tuptable before SPI_finish.  what names the query in errors.
 */
static void
FFAsOfQuery(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types,
			Datum *args, const char *what)
{
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (*plan == NULL)
		*plan = FFHistoryKeepPlan(sql, nargs, types);
	rc = SPI_execute_plan(*plan, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading %s failed", what);
}

/*
 * FFAsOfLoadSegment reads segment name as of the version and compiles its
 * rule into the evaluation's arena.
 */
static FFAsOfSegment *
FFAsOfLoadSegment(FFAsOf *asof, const char *name, size_t namelen)
{
	FFAsOfSegment *seg;
	Oid			types[3] = {TEXTOID, TEXTOID, INT8OID};
	Datum		args[3];
	Jsonb	   *rule = NULL;
	bool		exists;
	bool		broken = false;
	bool		isnull;
	Datum		d;
	MemoryContext oldcxt;

	seg = MemoryContextAllocZero(asof->cxt, sizeof(FFAsOfSegment));
	seg->name = MemoryContextAlloc(asof->cxt, namelen + 1);
	memcpy(seg->name, name, namelen);
	seg->name[namelen] = '\0';
	seg->namelen = namelen;

	args[0] = CStringGetTextDatum(asof->environment);
	args[1] = PointerGetDatum(cstring_to_text_with_len(name, namelen));
	args[2] = Int64GetDatum(asof->version);
	FFAsOfQuery(&FFAsOfSegmentPlan,
				"SELECT i IS NOT NULL, i OPERATOR(pg_catalog.->) 'rule'"
				"  FROM ff._history_state_at('segment', $1, $2, $3) AS i",
				3, types, args, "a segment as of a version");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	exists = !isnull && DatumGetBool(d);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (exists && !isnull)
	{
		/* the rule outlives SPI_finish: copy it into the evaluation's */
		oldcxt = MemoryContextSwitchTo(asof->cxt);
		rule = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();

	if (exists)
	{
		oldcxt = MemoryContextSwitchTo(asof->cxt);
		seg->rule = FFCacheCompileSegmentRule(asof->arena, rule, &broken);
		MemoryContextSwitchTo(oldcxt);
	}
	/* as in the cache: a segment whose rule does not compile is missing */
	seg->exists = exists && !broken;
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
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		args[4];
	int			membership = 0;
	bool		isnull;
	Datum		d;

	args[0] = CStringGetTextDatum(asof->environment);
	args[1] = CStringGetTextDatum(seg->name);
	args[2] = PointerGetDatum(cstring_to_text_with_len(key, keylen));
	args[3] = Int64GetDatum(asof->version);
	FFAsOfQuery(&FFAsOfKeyPlan, "SELECT ff._history_key_at($1, $2, $3, $4)",
				4, types, args, "a segment key as of a version");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	/* excluded: true, included: false, on neither list: NULL */
	if (!isnull)
		membership = DatumGetBool(d) ? -1 : 1;
	SPI_finish();
	return membership;
}

/*
 * FFAsOfSegmentCallback is the JLContext segment callback of a
 * point-in-time evaluation: the segment and the key's membership as of the
 * version (the data's extra is the FFAsOf).  Like the cache's callback, it
 * answers false for a segment that did not exist then.
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
	info->rule = seg->rule;
	info->membership = key != NULL ? FFAsOfKeyMembership(asof, seg, key, keylen) : 0;
	return true;
}
