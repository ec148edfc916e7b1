/*-------------------------------------------------------------------------
 *
 * ff_rowplan.c
 *	  Row contexts passed column by column (1.21): the planner support
 *	  function of the row getters and the calls it writes.
 *
 * In a call such as ff.get_bool_row('f', u, false) over a table u, the
 * executor forms a composite datum of every row (ExecEvalWholeRowVar: the
 * scan tuple's columns, out-of-line values fetched, a new tuple formed),
 * and evaluation takes it apart again: about 40 % of the instructions of
 * a row query.  ff._row_support (ff_row_support), the planner support
 * function of the row getters, rewrites such a call when its row is a
 * whole-row reference to a table of the query that no outer join can
 * null, into a call of the matching ff._<getter>_cols function with the
 * table's columns as arguments:
 *
 *	  ff._get_bool_row_cols(flag_key, 'ff.get_bool_row(...)'::regprocedure,
 *							default, environment, '{a,b,...}', u.a, u.b, ...)
 *
 * Evaluation then reads the columns the scan already has, and fetches an
 * out-of-line value only when a rule reads it.  A rule sees the same row:
 * the same names in the same order, dropped columns left out.  The _cols
 * functions share the getters' C entry points; a regprocedure as argument
 * 1 (the row getter, which EXPLAIN then shows) selects this mode, and
 * FFRowColumnsPrepare reads the names and types once per call site.
 *
 * Privileges follow what PostgreSQL does when it inlines a SQL function:
 * the call is rewritten only when the role planning it may execute both
 * the row getter and its twin; a cached plan is planned again after a
 * GRANT or REVOKE on either and when another role runs it, and the
 * executor then checks the twin.  So the row getter's privilege decides
 * when a query or cursor starts, as before.  The twin only runs as written
 * here: its call is marked with COERCE_SQL_SYNTAX, which no SQL text can
 * produce for it, and a call without the mark is refused, so calling a
 * twin directly is no way around a REVOKE on its row getter.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_rowplan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "ff_rowplan.h"

/* where a range table entry is in a join tree */
typedef enum FFJoinSide
{
	FF_SIDE_ABSENT,				/* not there */
	FF_SIDE_KEPT,				/* its rows reach the top as they are */
	FF_SIDE_NULLABLE			/* an outer join may null them */
} FFJoinSide;

/*
 * FFRowPlanSide finds range table entry rtindex in join tree jtnode
 * (nullable: jtnode itself is on a side that an outer join may null).
 * The right side of a semi or anti join counts as nullable, and so does
 * anything under a node this function does not know.
 */
static FFJoinSide
FFRowPlanSide(Node *jtnode, int rtindex, bool nullable)
{
	check_stack_depth();
	if (jtnode == NULL)
		return FF_SIDE_ABSENT;
	if (IsA(jtnode, RangeTblRef))
	{
		if (((RangeTblRef *) jtnode)->rtindex != rtindex)
			return FF_SIDE_ABSENT;
		return nullable ? FF_SIDE_NULLABLE : FF_SIDE_KEPT;
	}
	if (IsA(jtnode, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) jtnode)->fromlist)
		{
			FFJoinSide	side = FFRowPlanSide(lfirst(lc), rtindex, nullable);

			if (side != FF_SIDE_ABSENT)
				return side;
		}
		return FF_SIDE_ABSENT;
	}
	if (IsA(jtnode, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jtnode;
		FFJoinSide	side;

		side = FFRowPlanSide(j->larg, rtindex,
							 nullable || j->jointype == JOIN_RIGHT ||
							 j->jointype == JOIN_FULL);
		if (side != FF_SIDE_ABSENT)
			return side;
		return FFRowPlanSide(j->rarg, rtindex,
							 nullable || (j->jointype != JOIN_INNER &&
										  j->jointype != JOIN_RIGHT));
	}
	return FF_SIDE_NULLABLE;
}

/*
 * FFRowColsName returns the name of the _cols function of row getter
 * rowname: _get_bool_row_cols for get_bool_row.
 */
static char *
FFRowColsName(const char *rowname)
{
	return psprintf("_%s_cols", rowname);
}

/*
 * FFRowColsFunction returns the _cols function of row getter rowfn (in
 * its schema), or InvalidOid when there is none: a database whose
 * extension is older than 1.21 has none (and no support function either).
 */
static Oid
FFRowColsFunction(Oid rowfn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(rowfn));
	Form_pg_proc proc;
	Oid			argtypes[FF_COLS_FIRST + 1];
	Oid			result = InvalidOid;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->pronargs == 4 && proc->proargtypes.values[1] == ANYELEMENTOID)
	{
		argtypes[0] = proc->proargtypes.values[0];
		argtypes[FF_COLS_ROWFN_ARG] = REGPROCEDUREOID;
		argtypes[2] = proc->proargtypes.values[2];
		argtypes[3] = proc->proargtypes.values[3];
		argtypes[FF_COLS_NAMES_ARG] = TEXTARRAYOID;
		argtypes[FF_COLS_FIRST] = ANYOID;
		result = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
								 CStringGetDatum(FFRowColsName(NameStr(proc->proname))),
								 PointerGetDatum(buildoidvector(argtypes, FF_COLS_FIRST + 1)),
								 ObjectIdGetDatum(proc->pronamespace));
	}
	ReleaseSysCache(tup);
	return result;
}

/*
 * FFRowPlanTable finds the columns of a whole-row reference var to a
 * table of query level root that no outer join can null: their names
 * (*names, *n) and Vars; NIL when the call must stay as written.
 */
static List *
FFRowPlanTable(PlannerInfo *root, Var *var, Datum **names, int *n)
{
	RangeTblEntry *rte;
	Relation	rel;
	TupleDesc	desc;
	List	   *cols = NIL;
	int			i;

	if (var->varattno != InvalidAttrNumber || var->varlevelsup != 0 ||
		var->varno < 1 || var->varno > list_length(root->parse->rtable))
		return NIL;
	rte = rt_fetch(var->varno, root->parse->rtable);
	if (rte->rtekind != RTE_RELATION ||
		FFRowPlanSide((Node *) root->parse->jointree, var->varno, false) != FF_SIDE_KEPT)
		return NIL;

	/* the parser locked the table */
	rel = table_open(rte->relid, NoLock);
	desc = RelationGetDescr(rel);
	*names = palloc(sizeof(Datum) * Max(desc->natts, 1));
	*n = 0;
	for (i = 0; i < desc->natts && var->vartype == rel->rd_rel->reltype; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		(*names)[(*n)++] = CStringGetTextDatum(NameStr(att->attname));
		cols = lappend(cols, makeVar(var->varno, att->attnum, att->atttypid,
									 att->atttypmod, att->attcollation, 0));
	}
	table_close(rel, NoLock);
	return cols;
}

/*
 * FFRowPlanRowExpr finds the columns of a ROW(...) expression, which is
 * what a view's or a flattened subquery's row becomes: the names the row
 * value would have (ExecInitExprRec: a named type's attributes, trailing
 * ones NULL, or for a record the column aliases, else f1, f2, ...) and the
 * expressions; NIL when the call must stay as written.  A ROW(...) is
 * never NULL itself (under an outer join the planner wraps it in a
 * PlaceHolderVar, which stays as written).  The plan then depends on a
 * named type.
 */
static List *
FFRowPlanRowExpr(PlannerInfo *root, RowExpr *row, Datum **names, int *n)
{
	List	   *cols = NIL;
	int			nargs = list_length(row->args);
	int			i;

	*n = 0;
	if (expression_returns_set((Node *) row))
		return NIL;
	if (row->row_typeid == RECORDOID)
	{
		ListCell   *lc;

		*names = palloc(sizeof(Datum) * Max(nargs, 1));
		i = 0;
		foreach(lc, row->args)
		{
			const char *alias = i < list_length(row->colnames) ?
				strVal(list_nth(row->colnames, i)) : "";

			if (alias[0] == '\0')
				alias = psprintf("f%d", i + 1);
			(*names)[(*n)++] = CStringGetTextDatum(alias);
			cols = lappend(cols, lfirst(lc));
			i++;
		}
	}
	else
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(row->row_typeid, -1);
		bool		ok = nargs <= desc->natts;

		*names = palloc(sizeof(Datum) * Max(desc->natts, 1));
		for (i = 0; ok && i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			Node	   *arg = i < nargs ? list_nth(row->args, i) : NULL;

			if (att->attisdropped)
				continue;
			/* a changed column type: the executor's error, as written */
			if (arg != NULL && exprType(arg) != att->atttypid)
				ok = false;
			(*names)[(*n)++] = CStringGetTextDatum(NameStr(att->attname));
			cols = lappend(cols, arg != NULL ? arg :
						   (Node *) makeNullConst(att->atttypid, att->atttypmod,
												  att->attcollation));
		}
		ReleaseTupleDesc(desc);
		if (!ok)
			return NIL;

		/*
		 * The names are the type's as planned: a change of the type
		 * (ALTER TYPE, or ALTER TABLE of a table's row type) must plan the
		 * query again, which nothing else in it may ask for.
		 */
		root->glob->relationOids = lappend_oid(root->glob->relationOids,
											   get_typ_typrelid(row->row_typeid));
	}
	return cols;
}

PG_FUNCTION_INFO_V1(ff_row_support);

/*
 * ff_row_support is the planner support function of the row getters
 * (ff.evaluate_row, ff.get_bool_row, ...): it answers SupportRequestSimplify
 * for a call whose row is a table's own row (a whole-row reference to a
 * table of this query level that no outer join can null) or a ROW(...)
 * expression, of at most FF_COLS_MAX columns, with the call of the getter's
 * _cols function; NULL (keep the call) otherwise.
 */
Datum
ff_row_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestSimplify *req;
	FuncExpr   *call;
	FuncExpr   *result;
	Node	   *row;
	Oid			colsfn;
	Datum	   *names = NULL;
	List	   *cols = NIL;
	List	   *args;
	int			n = 0;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	call = req->fcall;

	/*
	 * Under grouping sets a row grouped on may be NULL in a total row,
	 * where its columns are not: keep the call.
	 */
	if (req->root == NULL || req->root->parse->groupingSets != NIL ||
		list_length(call->args) != 4)
		PG_RETURN_POINTER(NULL);
	colsfn = FFRowColsFunction(call->funcid);
	if (!OidIsValid(colsfn) ||
		pg_proc_aclcheck(call->funcid, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK ||
		pg_proc_aclcheck(colsfn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		PG_RETURN_POINTER(NULL);
	row = lsecond(call->args);
	if (IsA(row, Var))
		cols = FFRowPlanTable(req->root, (Var *) row, &names, &n);
	else if (IsA(row, RowExpr))
		cols = FFRowPlanRowExpr(req->root, (RowExpr *) row, &names, &n);
	if (cols == NIL || n > FF_COLS_MAX)
		PG_RETURN_POINTER(NULL);

	args = list_make4(linitial(call->args),
					  makeConst(REGPROCEDUREOID, -1, InvalidOid, sizeof(Oid),
								ObjectIdGetDatum(call->funcid), false, true),
					  lthird(call->args),
					  lfourth(call->args));
	args = lappend(args, makeConst(TEXTARRAYOID, -1, InvalidOid, -1,
								   PointerGetDatum(construct_array(names, n, TEXTOID, -1,
																   false, TYPALIGN_INT)),
								   false, false));
	args = list_concat(args, cols);
	result = makeFuncExpr(colsfn, call->funcresulttype, args, call->funccollid,
						  call->inputcollid, FF_COLS_MARK);
	result->location = call->location;

	/*
	 * The privileges checked above hold for this role: a cached plan run by
	 * another role is planned again.  A GRANT or REVOKE on either function
	 * plans it again too, as PostgreSQL records a cached plan's dependency
	 * on every function of its query (the row getter) and of its plan (the
	 * twin).
	 */
	req->root->glob->dependsOnRole = true;
	PG_RETURN_POINTER(result);
}

/* the last serial number given to a call site's columns (FFRowColumns) */
static uint64 FFRowColumnsSerial = 0;

/*
 * FFRowColumnsPrepare refuses a _cols call that ff_row_support did not
 * write, and returns the call site's columns' descriptor (names from the
 * constant array, types from the call) and value arrays, allocated in the
 * call site's memory, with a serial number no other call site of the
 * backend has.  The row getter named by argument 1 is shown by EXPLAIN;
 * the planner checked its privilege.
 */
FFRowColumns *
FFRowColumnsPrepare(FunctionCallInfo fcinfo)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	int			ncols = PG_NARGS() - FF_COLS_FIRST;
	FFRowColumns *cols;
	MemoryContext old;
	ArrayType  *arr;
	Datum	   *names;
	bool	   *nulls;
	int			nnames;
	int			i;

	if (flinfo->fn_expr == NULL || !IsA(flinfo->fn_expr, FuncExpr) ||
		((FuncExpr *) flinfo->fn_expr)->funcformat != FF_COLS_MARK)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function %s cannot be called directly",
						format_procedure(flinfo->fn_oid)),
				 errdetail("The planner calls it in place of a row getter over a table's rows."),
				 errhint("Call the row getter instead, as in SELECT ff.get_bool_row('flag', t, false) FROM t.")));
	/* the rest is as ff_row_support wrote it: checked, not explained */
	if (ncols < 1 || PG_ARGISNULL(FF_COLS_NAMES_ARG))
		elog(ERROR, "function %s called without column names or columns",
			 format_procedure(flinfo->fn_oid));
	arr = PG_GETARG_ARRAYTYPE_P(FF_COLS_NAMES_ARG);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &nnames);
	if (ARR_NDIM(arr) != 1 || nnames != ncols)
		elog(ERROR, "function %s called with %d column names for %d columns",
			 format_procedure(flinfo->fn_oid), nnames, ncols);

	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	cols = palloc(sizeof(FFRowColumns));
	cols->ncols = ncols;
	cols->values = palloc(sizeof(Datum) * ncols);
	cols->isnull = palloc(sizeof(bool) * ncols);
	cols->desc = CreateTemplateTupleDesc(ncols);
	cols->serial = ++FFRowColumnsSerial;
	for (i = 0; i < ncols; i++)
	{
		Oid			typid = get_fn_expr_argtype(flinfo, FF_COLS_FIRST + i);
		char	   *name;

		if (nulls[i] || !OidIsValid(typid))
			elog(ERROR, "function %s called with no name or type for column %d",
				 format_procedure(flinfo->fn_oid), i + 1);
		name = TextDatumGetCString(names[i]);
		TupleDescInitEntry(cols->desc, i + 1, name, typid, -1, 0);
	}
	MemoryContextSwitchTo(old);
	return cols;
}
