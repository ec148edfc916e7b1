/*-------------------------------------------------------------------------
 *
 * ff_trigger.c
 *	  Helpers shared by the C trigger functions: the trigger-protocol check,
 *	  finding the extension's tables and columns by name (with the same error
 *	  when an installation is damaged), handing a trigger call to the
 *	  PL/pgSQL function that implements the general case, acting as the
 *	  function's owner for the SQL a trigger runs on internal tables, and the
 *	  word-list test of the triggers and CHECK functions.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_trigger.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "ff_trigger.h"

/*
 * FFTriggerData checks that funcname was called by the trigger manager and
 * returns the trigger data.
 */
TriggerData *
FFTriggerData(FunctionCallInfo fcinfo, const char *funcname)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s() was not called by the trigger manager", funcname)));
	return (TriggerData *) fcinfo->context;
}

/*
 * FFTriggerRelid returns the OID of the extension's table <name> in schema
 * nsp (the schema of the trigger's table), or raises an error.
 */
Oid
FFTriggerRelid(Oid nsp, const char *name)
{
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"ff.%s\" of extension \"feature_flags\" does not exist", name),
				 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	return relid;
}

/*
 * FFTriggerAttnum returns the attribute number of a column of one of the
 * extension's tables, or raises an error naming the table.
 */
AttrNumber
FFTriggerAttnum(Relation rel, const char *name)
{
	int			attnum = SPI_fnumber(RelationGetDescr(rel), name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of table \"ff.%s\" does not exist",
						name, RelationGetRelationName(rel)),
				 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	return (AttrNumber) attnum;
}

/*
 * FFTriggerFunctionInit looks up the extension's argument-less function
 * <name> in schema nsp and prepares finfo (allocated in cxt) to call it.
 */
void
FFTriggerFunctionInit(FmgrInfo *finfo, Oid nsp, const char *name, MemoryContext cxt)
{
	Oid			funcid = LookupFuncName(list_make2(makeString(get_namespace_name(nsp)),
												   makeString(pstrdup(name))),
										0, NULL, false);

	fmgr_info_cxt(funcid, finfo, cxt);
}

/*
 * FFTriggerCall hands a trigger call, unchanged, to another trigger function
 * (the PL/pgSQL implementation of the general case) and returns its result.
 */
Datum
FFTriggerCall(FmgrInfo *finfo, TriggerData *trigdata)
{
	LOCAL_FCINFO(call, 0);

	InitFunctionCallInfoData(*call, finfo, 0, InvalidOid, (Node *) trigdata, NULL);
	return FunctionCallInvoke(call);
}

/*
 * FFTriggerTextIn tells whether a text value is exactly one of a
 * NULL-terminated list of words (byte for byte, as text = compares under
 * every deterministic collation).
 */
bool
FFTriggerTextIn(text *value, const char *const *words)
{
	int			len = VARSIZE_ANY_EXHDR(value);

	for (; *words != NULL; words++)
		if ((int) strlen(*words) == len && memcmp(VARDATA_ANY(value), *words, len) == 0)
			return true;
	return false;
}

/*
 * FFTriggerSwitchToOwner saves the caller's user and security context in
 * saved and makes the calling function (fcinfo) act as its owner, the
 * extension's owner.
 */
static void
FFTriggerSwitchToOwner(FunctionCallInfo fcinfo, FFTriggerSavedUser *saved)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/*
 * FFTriggerCallAsOwner is FFTriggerCall made as the owner of the calling
 * function (fcinfo): for a trigger function that runs as its caller and
 * hands the general case to a PL/pgSQL function that must act as the
 * extension's owner.  That function pins its own search_path and TimeZone
 * with SET clauses; only the user is switched here.  An ERROR in between is
 * undone by the (sub)transaction abort, which restores the user.
 */
Datum
FFTriggerCallAsOwner(FunctionCallInfo fcinfo, FmgrInfo *finfo, TriggerData *trigdata)
{
	FFTriggerSavedUser saved;
	Datum		result;

	FFTriggerSwitchToOwner(fcinfo, &saved);
	result = FFTriggerCall(finfo, trigdata);
	SetUserIdAndSecContext(saved.userid, saved.sec_context);
	return result;
}

/*
 * FFTriggerBecomeOwner makes the calling trigger function act as its owner
 * (the extension's owner) with search_path pinned to pg_catalog alone, for
 * the SQL it runs on the extension's internal tables -- what SECURITY
 * DEFINER with SET search_path = pg_catalog, pg_temp gives a whole call, but
 * only around that SQL, and without the configuration-parameter work that a
 * SET clause costs every call.  The temporary schema is not searched at all.
 * FFTriggerRestoreUser undoes both; an ERROR in between is undone by the
 * (sub)transaction abort, which restores the user and pops the path.
 */
void
FFTriggerBecomeOwner(FunctionCallInfo fcinfo, FFTriggerSavedUser *saved)
{
	OverrideSearchPath *path;

	FFTriggerSwitchToOwner(fcinfo, saved);
	path = GetOverrideSearchPath(CurrentMemoryContext);
	path->schemas = NIL;
	path->addCatalog = true;
	path->addTemp = false;
	PushOverrideSearchPath(path);
}

/*
 * FFTriggerRestoreUser ends FFTriggerBecomeOwner: the caller's search_path,
 * user and security context again.
 */
void
FFTriggerRestoreUser(FFTriggerSavedUser *saved)
{
	PopOverrideSearchPath();
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}
