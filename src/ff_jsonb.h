/*-------------------------------------------------------------------------
 *
 * ff_jsonb.h
 *	  Conversions between PostgreSQL jsonb and the evaluator core's JLValue,
 *	  and a JLContext that reads attributes straight from a jsonb document.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_jsonb.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_JSONB_H
#define FF_JSONB_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "jsonlogic.h"

/* scalar values a jsonb-backed context can return without allocating */
#define FF_LOOKUP_SLOTS 8

/*
 * The data a jsonb-backed JLContext looks attributes up in.  "root" is the
 * top container of the evaluation context (or NULL for JSON null data).
 */
typedef struct FFJsonbData
{
	JsonbContainer *root;
	void	   *extra;			/* for the segment callback (ff_cache.c) */
	bool		too_deep;		/* a looked-up value nested beyond FF_MAX_JSON_DEPTH */
	bool		no_memory;		/* converting a looked-up value ran out of the
								 * scratch arena's budget */
	int			no_memory_attnum;	/* a row context's column larger than
									 * the budget (0: none), */
	uint64		no_memory_bytes;	/* and its size expanded */
	char	   *invalid;		/* a looked-up value that cannot be read (a
								 * json column jsonb cannot hold): why */

	/*
	 * Storage for the first strings and numbers looked up: they live as
	 * long as this struct, which must then outlive the evaluation (as in
	 * FFContextInitJsonb's callers).  nslots = FF_LOOKUP_SLOTS disables
	 * it: values then go to the scratch arena.
	 */
	int			nslots;			/* slots used */
	JLValue		slots[FF_LOOKUP_SLOTS];
} FFJsonbData;

/*
 * Nesting limit of the jsonb documents converted to JLValues (contexts,
 * variants, rules before compilation) and of the JLValues converted back
 * (ff.json_logic results).  It matches the core's limits for equality and
 * serialisation; check_stack_depth stays as the backstop below it.
 */
#define FF_MAX_JSON_DEPTH 10000

/* arenas over palloc in a memory context */
/*
 * FFLookupCheck returns p; a failed arena allocation (NULL) in a context
 * lookup is recorded in jd->no_memory, which ends the evaluation with an
 * error result.
 */
static inline void *
FFLookupCheck(void *p, FFJsonbData *jd)
{
	if (unlikely(p == NULL))
		jd->no_memory = true;
	return p;
}

/*
 * FFLookupString returns a string looked up in a context, pointing at
 * [ptr, ptr + len) without a copy: in one of jd's slots while there are
 * free ones, else in the scratch arena.
 */
static inline const JLValue *
FFLookupString(JLArena *scratch, FFJsonbData *jd, const char *ptr, size_t len)
{
	JLValue    *v;

	if (jd->nslots >= FF_LOOKUP_SLOTS)
		return FFLookupCheck(JLMakeString(scratch, ptr, len, false), jd);
	v = &jd->slots[jd->nslots++];
	v->type = JL_STRING;
	v->u.string.ptr = ptr;
	v->u.string.len = len;
	return v;
}

/*
 * FFIsShortVarlena tells whether varlena v is stored with a 1-byte header
 * (up to 126 bytes, in a table row) and neither out of line nor
 * compressed: readers that need a 4-byte header copy it with
 * FFUnshortVarlena instead of detoasting it into a palloc'd copy.
 */
static inline bool
FFIsShortVarlena(const struct varlena *v)
{
	return VARATT_IS_SHORT(v) && !VARATT_IS_EXTERNAL(v);
}

/* room for any short varlena with a 4-byte header, int-aligned */
typedef union FFUnshortBuf
{
	int32		align;
	char		data[VARHDRSZ + VARATT_SHORT_MAX];
} FFUnshortBuf;

/*
 * FFUnshortVarlena copies short varlena v (FFIsShortVarlena) into dst, an
 * int-aligned buffer of at least VARHDRSZ + VARSIZE_SHORT(v) bytes (an
 * FFUnshortBuf's data), with a 4-byte header, and returns dst.
 */
static inline struct varlena *
FFUnshortVarlena(char *dst, const struct varlena *v)
{
	Size		len = VARSIZE_SHORT(v) - VARHDRSZ_SHORT;

	SET_VARSIZE(dst, VARHDRSZ + len);
	memcpy(dst + VARHDRSZ, VARDATA_SHORT(v), len);
	return (struct varlena *) dst;
}

extern JLArena *FFArenaCreate(MemoryContext cxt);

/*
 * a budgeted arena's memory context and the most it may hold; the owner
 * may change limit between two evaluations
 */
typedef struct FFArenaBudget
{
	MemoryContext cxt;
	Size		limit;
	bool		exhausted;		/* an allocation failed since the owner reset it */
} FFArenaBudget;

/* an arena in budget->cxt that fails (NULL) once the context holds budget->limit bytes */
extern JLArena *FFArenaCreateBudget(FFArenaBudget *budget);

/*
 * The memory one ff.json_logic call may use for the values it computes and
 * converts, in MB.  Flag evaluations have their own, smaller budget,
 * ff.evaluation_memory.
 */
#define FF_SCRATCH_LIMIT_MB 1024
#define FF_SCRATCH_LIMIT ((Size) FF_SCRATCH_LIMIT_MB * 1024 * 1024)

/*
 * jsonb -> JLValue; copy = false lets strings point into the jsonb.
 * Containers nested deeper than FF_MAX_JSON_DEPTH become null and set
 * *too_deep; too_deep NULL raises an ERROR instead.
 */
extern const JLValue *FFJsonbToJL(JLArena *arena, Jsonb *jb, bool copy,
								  bool *too_deep);
extern const JLValue *FFJsonbValueToJL(JLArena *arena, JsonbValue *jbv,
									   bool copy, bool *too_deep);

/* numeric -> double without a text round trip where it is exact */
extern double FFNumericToDouble(Numeric num);

/* JLValue -> jsonb */
extern Jsonb *FFJLToJsonb(const JLValue *v);
extern JsonbValue *FFPushJL(JsonbParseState **state, JsonbIteratorToken tok,
							const JLValue *v);
extern void FFJLToJsonbScalar(const JLValue *v, JsonbValue *out);

/* JSON type name of a JLValue ("boolean", "string", ...) */

/*
 * prepares data for lookups in jb (NULL = JSON null data); with_slots =
 * false when data does not outlive the values looked up
 */
extern void FFJsonbDataInit(FFJsonbData *data, Jsonb *jb, bool with_slots);

/*
 * JLContext whose lookup callback reads data->root; data must outlive the
 * evaluation
 */
extern void FFContextInitJsonb(JLContext *ctx, FFJsonbData *data, Jsonb *jb);
extern const JLValue *FFJsonbLookup(void *opaque,
									const JLPathSegment *segments,
									size_t nsegments, JLArena *scratch);

/* the interrupt callback: CHECK_FOR_INTERRUPTS, never aborts by itself */
extern bool FFInterruptCallback(void *opaque);

/* a member of a jsonb object (a row image), NULL if missing or null */
extern Jsonb *FFJsonbMember(Jsonb *jb, const char *name);
extern char *FFJsonbMemberString(Jsonb *jb, const char *name);

#endif							/* FF_JSONB_H */
