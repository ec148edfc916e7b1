/*-------------------------------------------------------------------------
 *
 * ff_rowplan.h
 *	  Row contexts passed column by column: the planner support function
 *	  of the row getters and the calls it writes (1.21).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_rowplan.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_ROWPLAN_H
#define FF_ROWPLAN_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "nodes/primnodes.h"

/*
 * The arguments of a ff._<getter>_cols function: those of the row getter
 * (flag key, row, default, environment) with the row replaced by the row
 * getter itself (regprocedure), then the column names (text[]) and the
 * columns.
 */
#define FF_COLS_ROWFN_ARG 1
#define FF_COLS_NAMES_ARG 4
#define FF_COLS_FIRST 5
#define FF_COLS_MAX (FUNC_MAX_ARGS - FF_COLS_FIRST)

/*
 * The mark of a _cols call written by the planner (ff_row_support): SQL
 * text never gives a call of an ff function this form.  EXPLAIN shows such
 * a call as an ordinary one.
 */
#define FF_COLS_MARK COERCE_SQL_SYNTAX

/* a _cols call site's columns: checked once, loaded at every call */
typedef struct FFRowColumns
{
	TupleDesc	desc;			/* names and types, not reference-counted */
	uint64		serial;			/* unique in the backend (FFRowFindAttr's hints) */
	int			ncols;
	Datum	   *values;
	bool	   *isnull;
} FFRowColumns;

extern FFRowColumns *FFRowColumnsPrepare(FunctionCallInfo fcinfo);

/*
 * FFRowColumnsLoad copies a call's columns into cols (evaluation may
 * replace a value with an expanded copy; the call's arguments stay).
 */
static inline void
FFRowColumnsLoad(FunctionCallInfo fcinfo, FFRowColumns *cols)
{
	int			i;

	for (i = 0; i < cols->ncols; i++)
	{
		cols->values[i] = fcinfo->args[FF_COLS_FIRST + i].value;
		cols->isnull[i] = fcinfo->args[FF_COLS_FIRST + i].isnull;
	}
}

#endif							/* FF_ROWPLAN_H */
