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

/*
 * The data a jsonb-backed JLContext looks attributes up in.  "root" is the
 * top container of the evaluation context (or NULL for JSON null data).
 */
typedef struct FFJsonbData
{
	JsonbContainer *root;
	void	   *extra;			/* for the segment callback (ff_cache.c) */
} FFJsonbData;

/* arenas over palloc in a memory context */
extern JLArena *FFArenaCreate(MemoryContext cxt);

/* jsonb -> JLValue; copy = false lets strings point into the jsonb */
extern const JLValue *FFJsonbToJL(JLArena *arena, Jsonb *jb, bool copy);
extern const JLValue *FFJsonbValueToJL(JLArena *arena, JsonbValue *jbv,
									   bool copy);

/* numeric -> double without a text round trip where it is exact */
extern double FFNumericToDouble(Numeric num);

/* JLValue -> jsonb */
extern Jsonb *FFJLToJsonb(const JLValue *v);
extern JsonbValue *FFPushJL(JsonbParseState **state, JsonbIteratorToken tok,
							const JLValue *v);
extern void FFJLToJsonbScalar(const JLValue *v, JsonbValue *out);

/* JSON type name of a JLValue ("boolean", "string", ...) */

/* JLContext whose lookup callback reads data->root */
extern void FFContextInitJsonb(JLContext *ctx, FFJsonbData *data, Jsonb *jb);
extern const JLValue *FFJsonbLookup(void *opaque,
									const JLPathSegment *segments,
									size_t nsegments, JLArena *scratch);

/* the interrupt callback: CHECK_FOR_INTERRUPTS, never aborts by itself */
extern bool FFInterruptCallback(void *opaque);

#endif							/* FF_JSONB_H */
