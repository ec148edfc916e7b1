/*-------------------------------------------------------------------------
 *
 * ff_row.h
 *	  A JLContext that reads attributes by name from a table row.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_row.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_ROW_H
#define FF_ROW_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"

#include "ff_jsonb.h"

/* rows with up to this many attributes are deformed once, on first lookup */
#define FF_ROW_MAX_DEFORM 32

/* the data of a row-backed JLContext; base.extra is for the segment callback */
typedef struct FFRowData
{
	FFJsonbData base;			/* must be first */
	HeapTupleData tuple;
	TupleDesc	desc;			/* reference-counted, see FFRowDataRelease */
	bool		deformed;		/* values/isnull hold every attribute */
	Datum		values[FF_ROW_MAX_DEFORM];
	bool		isnull[FF_ROW_MAX_DEFORM];
} FFRowData;

/* is typid usable as a row context (a composite type)? */
extern bool FFTypeIsRow(Oid typid);
extern void FFRowDataInit(FFRowData *data, Datum row);
extern void FFRowDataRelease(FFRowData *data);
extern void FFContextInitRow(JLContext *ctx, FFRowData *data);

#endif							/* FF_ROW_H */
