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

/* the data of a row-backed JLContext; base.extra is for the segment callback */
typedef struct FFRowData
{
	FFJsonbData base;			/* must be first */
	HeapTupleData tuple;
	TupleDesc	desc;			/* reference-counted, see FFRowDataRelease */
	bool		deformed;		/* values/isnull hold every attribute */
	bool		nested;			/* a composite attribute, not the context */
	Datum		values[FF_ROW_MAX_DEFORM];
	bool		isnull[FF_ROW_MAX_DEFORM];
	/* json/jsonb attributes read so far, as jsonb: read once per row */
	int			njson;
	AttrNumber	json_attnum[FF_ROW_JSON_CACHE];
	Jsonb	   *json_value[FF_ROW_JSON_CACHE];
} FFRowData;

/* is typid usable as a row context (a composite type)? */
extern bool FFTypeIsRow(Oid typid);
extern void FFRowDataInit(FFRowData *data, Datum row);
extern void FFRowDataRelease(FFRowData *data);
extern void FFContextInitRow(JLContext *ctx, FFRowData *data);

#endif							/* FF_ROW_H */
