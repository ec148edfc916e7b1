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
/* json/jsonb attributes of one row kept converted (more are read each time) */
#define FF_ROW_JSON_CACHE 8

/*
 * The data of a row-backed JLContext; base.extra is for the segment
 * callback.  The row is a composite datum (tuple, desc), or (1.21) the
 * columns a planner-rewritten call passes one by one (FFRowDataInitColumns:
 * no tuple, values/isnull given and desc built by the caller).
 */
typedef struct FFRowData
{
	FFJsonbData base;			/* must be first */
	HeapTupleData tuple;		/* unused for columns */
	TupleDesc	desc;			/* reference-counted, see FFRowDataRelease */
	uint64		desc_id;		/* tells desc from others at its address (FFRowFindAttr) */
	bool		deformed;		/* values/isnull hold every attribute */
	bool		nested;			/* a composite attribute, not the context */
	Datum	   *values;			/* values_buf, or the caller's columns */
	bool	   *isnull;
	Datum		values_buf[FF_ROW_MAX_DEFORM];
	bool		isnull_buf[FF_ROW_MAX_DEFORM];
	/* json/jsonb attributes read so far, as jsonb: read once per row */
	int			njson;
	AttrNumber	json_attnum[FF_ROW_JSON_CACHE];
	Jsonb	   *json_value[FF_ROW_JSON_CACHE];
} FFRowData;

/* is typid usable as a row context (a composite type)? */
extern bool FFTypeIsRow(Oid typid);
extern void FFRowDataInit(FFRowData *data, Datum row);
extern void FFRowDataInitColumns(FFRowData *data, TupleDesc desc,
								 uint64 serial, Datum *values, bool *isnull);
extern void FFRowDataRelease(FFRowData *data);
extern void FFContextInitRow(JLContext *ctx, FFRowData *data);

#endif							/* FF_ROW_H */
