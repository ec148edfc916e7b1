/*-------------------------------------------------------------------------
 *
 * ff_guard.c
 *	  The statement triggers that guard every configuration write, in C:
 *	  the subscriber guard and the fast path of environment protection.
 *
 * Both run for every write statement and almost always find nothing to
 * refuse: no subscription of the ff tables, no protected environment.  They
 * answer that from the catalogs and ff.environments directly; when there is
 * something to check, the PL/pgSQL implementation does it (protection) or
 * the error is raised here (subscriber guard).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_guard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_subscription.h"
#include "catalog/pg_subscription_rel.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "feature_flags.h"

/* the tables a configuration publication carries (ff._replication_tables()) */
static const char *const FFReplicatedTables[] = {
	"versions", "environments", "flags", "segments", "segment_keys", NULL
};

PG_FUNCTION_INFO_V1(ff_replication_guard);
PG_FUNCTION_INFO_V1(ff_protect_statement);

/*
 * FFGuardTriggerData checks that the function was called as a trigger and
 * returns the trigger data.
 */
static TriggerData *
FFGuardTriggerData(FunctionCallInfo fcinfo, const char *name)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s() was not called by the trigger manager", name)));
	return (TriggerData *) fcinfo->context;
}

/*
 * FFGuardOperation returns the SQL verb of the triggering event.
 */
static const char *
FFGuardOperation(TriggerData *trigdata)
{
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return "INSERT";
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return "UPDATE";
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return "DELETE";
	return "TRUNCATE";
}

/*
 * ff_replication_guard is the statement trigger ff_00_subscriber_guard:
 * a write made directly on a logical replication subscriber of the ff tables
 * would diverge from the publisher and break the version sequence, so it is
 * refused, naming the subscription (the first by name).  The apply worker
 * fires no ordinary trigger, so it is not affected.
 */
Datum
ff_replication_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = FFGuardTriggerData(fcinfo, "ff._replication_guard");
	Oid			nsp = RelationGetNamespace(trigdata->tg_relation);
	Relation	subrel;
	char	   *sub = NULL;
	int			i;

	/* no subscription in the cluster at all: the usual case, one look */
	{
		Relation	subs = table_open(SubscriptionRelationId, AccessShareLock);
		SysScanDesc scan = systable_beginscan(subs, InvalidOid, false, NULL, 0, NULL);
		bool		any = HeapTupleIsValid(systable_getnext(scan));

		systable_endscan(scan);
		table_close(subs, AccessShareLock);
		if (!any)
			return PointerGetDatum(NULL);
	}

	subrel = table_open(SubscriptionRelRelationId, AccessShareLock);
	for (i = 0; FFReplicatedTables[i] != NULL; i++)
	{
		Oid			relid = get_relname_relid(FFReplicatedTables[i], nsp);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		if (!OidIsValid(relid))
			continue;
		ScanKeyInit(&key, Anum_pg_subscription_rel_srrelid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(relid));
		scan = systable_beginscan(subrel, SubscriptionRelSrrelidSrsubidIndexId, true,
								  NULL, 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Oid			subid = ((Form_pg_subscription_rel) GETSTRUCT(tup))->srsubid;
			HeapTuple	subtup = SearchSysCache1(SUBSCRIPTIONOID, ObjectIdGetDatum(subid));

			if (HeapTupleIsValid(subtup))
			{
				char	   *name = NameStr(((Form_pg_subscription) GETSTRUCT(subtup))->subname);

				if (sub == NULL || strcmp(name, sub) < 0)
					sub = pstrdup(name);
				ReleaseSysCache(subtup);
			}
		}
		systable_endscan(scan);
	}
	table_close(subrel, AccessShareLock);

	if (sub != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s ff.%s on a subscriber of the feature flag configuration",
						FFGuardOperation(trigdata),
						RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("This database receives its configuration and history from subscription \"%s\"; a change made here would diverge from the publisher and break the version sequence.",
						   sub),
				 errhint("Make the change on the publisher.  To turn this database into a primary, DROP SUBSCRIPTION %s first.",
						 quote_identifier(sub))));
	return PointerGetDatum(NULL);
}

/*
 * FFGuardAnyProtected tells whether ff.environments has a protected
 * environment, read with the snapshot a query of the trigger would use.
 */
static bool
FFGuardAnyProtected(Oid nsp)
{
	Oid			relid = get_relname_relid("environments", nsp);
	Relation	rel;
	int			attnum;
	Snapshot	snapshot;
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"ff.environments\" of extension \"feature_flags\" does not exist"),
				 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	rel = table_open(relid, AccessShareLock);
	attnum = SPI_fnumber(RelationGetDescr(rel), "protected");
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"protected\" of table \"ff.environments\" does not exist"),
				 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	ScanKeyInit(&key, attnum, BTEqualStrategyNumber, F_BOOLEQ, BoolGetDatum(true));
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	scan = systable_beginscan(rel, InvalidOid, false, snapshot, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * ff_protect_statement is the statement trigger of ff_95_protect_insert,
 * _update and _delete on ff.flags, ff.segments and ff.segment_keys.  With no
 * protected environment (the usual case) there is nothing to refuse;
 * otherwise ff._protect_statement_general() checks the transition tables
 * against each touched protected environment's allowed roles.
 */
Datum
ff_protect_statement(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = FFGuardTriggerData(fcinfo, "ff._protect_statement");
	Oid			nsp = RelationGetNamespace(trigdata->tg_relation);
	FmgrInfo   *general = (FmgrInfo *) fcinfo->flinfo->fn_extra;

	LOCAL_FCINFO(call, 0);

	if (!FFGuardAnyProtected(nsp))
		return PointerGetDatum(NULL);

	if (general == NULL)
	{
		Oid			funcid = LookupFuncName(list_make2(makeString(get_namespace_name(nsp)),
													   makeString("_protect_statement_general")),
											0, NULL, false);

		general = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		fmgr_info_cxt(funcid, general, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = general;
	}
	InitFunctionCallInfoData(*call, general, 0, InvalidOid, (Node *) trigdata, NULL);
	return FunctionCallInvoke(call);
}
