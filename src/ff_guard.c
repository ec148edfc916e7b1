/*-------------------------------------------------------------------------
 *
 * ff_guard.c
 *	  The triggers that guard every configuration write, in C: the
 *	  subscriber guard, the fast path of environment protection and the
 *	  fast path of flag validation.
 *
 * They run for every write and almost always find nothing to refuse: no
 * subscription of the ff tables, no protected environment, an UPDATE that
 * leaves the flag's definition alone.  They answer that from the catalogs,
 * ff.environments and the row directly; when there is something to check,
 * the PL/pgSQL implementation does it (protection, validation) or the error
 * is raised here (subscriber guard).
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
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "feature_flags.h"
#include "ff_trigger.h"

/* the tables a configuration publication carries (ff._replication_tables()) */
static const char *const FFReplicatedTables[] = {
	"versions", "environments", "flags", "segments", "segment_keys", NULL
};

PG_FUNCTION_INFO_V1(ff_replication_guard);
PG_FUNCTION_INFO_V1(ff_protect_statement);

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
	TriggerData *trigdata = FFTriggerData(fcinfo, "ff._replication_guard");
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
	Relation	rel = table_open(FFTriggerRelid(nsp, "environments"), AccessShareLock);
	Snapshot	snapshot;
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	ScanKeyInit(&key, FFTriggerAttnum(rel, "protected"), BTEqualStrategyNumber, F_BOOLEQ, BoolGetDatum(true));
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
	TriggerData *trigdata = FFTriggerData(fcinfo, "ff._protect_statement");
	Oid			nsp = RelationGetNamespace(trigdata->tg_relation);
	FmgrInfo   *general = (FmgrInfo *) fcinfo->flinfo->fn_extra;

	if (!FFGuardAnyProtected(nsp))
		return PointerGetDatum(NULL);

	if (general == NULL)
	{
		general = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		FFTriggerFunctionInit(general, nsp, "_protect_statement_general", fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = general;
	}
	return FFTriggerCall(general, trigdata);
}

/* ---------------------------------------------------------------------
 * Flag validation: the fast path of an UPDATE that changes no definition
 * --------------------------------------------------------------------- */

/* the ff.flags columns the fast path looks at */
typedef enum FFGuardFlagCol
{
	FF_F_ENVIRONMENT = 0,
	FF_F_KEY,
	FF_F_STATE,
	FF_F_FLAG_TYPE,
	FF_F_VARIANTS,
	FF_F_DEFAULT_VARIANT,
	FF_F_TARGETING,
	FF_F_METADATA,
	FF_F_NUM
} FFGuardFlagCol;

static const char *const FFGuardFlagColNames[FF_F_NUM] = {
	"environment", "key", "state", "flag_type", "variants", "default_variant",
	"targeting", "metadata"
};

/* per trigger call site, in fn_extra */
typedef struct FFGuardValidateCache
{
	Oid			relid;
	AttrNumber	att[FF_F_NUM];
	FmgrInfo	general;		/* ff._validate_flag_general() */
} FFGuardValidateCache;

/*
 * FFGuardSameColumn tells whether a column has the same value (both NULL,
 * or the same bytes) in the old and the new row.  Equal bytes mean equal
 * values; different bytes send the row to the full check.
 */
static bool
FFGuardSameColumn(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, AttrNumber att)
{
	Form_pg_attribute a = TupleDescAttr(desc, att - 1);
	bool		oldnull;
	bool		newnull;
	Datum		oldval = heap_getattr(oldtup, att, desc, &oldnull);
	Datum		newval = heap_getattr(newtup, att, desc, &newnull);

	if (oldnull || newnull)
		return oldnull && newnull;
	return datumIsEqual(oldval, newval, a->attbyval, a->attlen);
}

/*
 * FFGuardEmptyTargeting tells whether a targeting document is {} or JSON
 * null, which the full check normalises to NULL.
 */
static bool
FFGuardEmptyTargeting(Jsonb *targeting)
{
	JsonbValue	v;

	if (JB_ROOT_IS_OBJECT(targeting))
		return JB_ROOT_COUNT(targeting) == 0;
	if (JB_ROOT_IS_SCALAR(targeting) &&
		JsonbExtractScalar(&targeting->root, &v))
		return v.type == jbvNull;
	return false;
}

/* the values of ff.flags.state and ff.flags.flag_type */
static const char *const FFGuardFlagStates[] = {"ENABLED", "DISABLED", NULL};
static const char *const FFGuardFlagTypes[] = {"boolean", "string", "number", "object", NULL};

PG_FUNCTION_INFO_V1(ff_is_flag_state);
PG_FUNCTION_INFO_V1(ff_is_flag_type);

/*
 * ff_is_flag_state is ff._is_flag_state(text), the expression of the CHECK
 * constraint flags_state_check: 'ENABLED' or 'DISABLED'.  A CHECK is read
 * back from its stored node tree and planned for every statement that writes
 * the table; a call of a C function with one column argument costs a small
 * fraction of what the equivalent state IN (...) costs there (1.3).
 */
Datum
ff_is_flag_state(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(FFTriggerTextIn(PG_GETARG_TEXT_PP(0), FFGuardFlagStates));
}

/*
 * ff_is_flag_type is ff._is_flag_type(text), the expression of the CHECK
 * constraint flags_type_check: 'boolean', 'string', 'number' or 'object'.
 */
Datum
ff_is_flag_type(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(FFTriggerTextIn(PG_GETARG_TEXT_PP(0), FFGuardFlagTypes));
}

PG_FUNCTION_INFO_V1(ff_validate_flag);

/*
 * ff_validate_flag is the trigger function of ff_10_validate_flags (BEFORE
 * INSERT OR UPDATE FOR EACH ROW on ff.flags).  An UPDATE that keeps the
 * flag's environment, key, variants, type, metadata and targeting -- a
 * state, default variant, description or owner change, the everyday edits
 * -- only needs a valid state and a default variant that is a variant: when
 * those hold the row is accepted here.  Everything else, and every row that
 * breaks a rule (for the exact error), goes to the PL/pgSQL
 * ff._validate_flag_general(), which is the specification.
 */
Datum
ff_validate_flag(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = FFTriggerData(fcinfo, "ff._validate_flag");
	FFGuardValidateCache *c = (FFGuardValidateCache *) fcinfo->flinfo->fn_extra;
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	oldtup;
	HeapTuple	newtup;
	bool		isnull;
	Datum		value;
	int			i;

	if (c == NULL || c->relid != RelationGetRelid(rel))
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FFGuardValidateCache));
		c->relid = RelationGetRelid(rel);
		for (i = 0; i < FF_F_NUM; i++)
			c->att[i] = FFTriggerAttnum(rel, FFGuardFlagColNames[i]);
		FFTriggerFunctionInit(&c->general, RelationGetNamespace(rel), "_validate_flag_general",
							  fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = c;
	}

	if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		goto general;
	oldtup = trigdata->tg_trigtuple;
	newtup = trigdata->tg_newtuple;

	/* the definition is unchanged */
	if (!FFGuardSameColumn(oldtup, newtup, desc, c->att[FF_F_ENVIRONMENT]) ||
		!FFGuardSameColumn(oldtup, newtup, desc, c->att[FF_F_KEY]) ||
		!FFGuardSameColumn(oldtup, newtup, desc, c->att[FF_F_FLAG_TYPE]) ||
		!FFGuardSameColumn(oldtup, newtup, desc, c->att[FF_F_VARIANTS]) ||
		!FFGuardSameColumn(oldtup, newtup, desc, c->att[FF_F_METADATA]) ||
		!FFGuardSameColumn(oldtup, newtup, desc, c->att[FF_F_TARGETING]))
		goto general;
	(void) heap_getattr(newtup, c->att[FF_F_ENVIRONMENT], desc, &isnull);
	if (isnull)
		goto general;
	(void) heap_getattr(newtup, c->att[FF_F_KEY], desc, &isnull);
	if (isnull)
		goto general;

	/* a valid state (a NULL one gets the general function's error) */
	value = heap_getattr(newtup, c->att[FF_F_STATE], desc, &isnull);
	if (isnull || !FFTriggerTextIn(DatumGetTextPP(value), FFGuardFlagStates))
		goto general;

	/* a default variant that is one of the variants */
	value = heap_getattr(newtup, c->att[FF_F_DEFAULT_VARIANT], desc, &isnull);
	if (!isnull)
	{
		bool		vnull;
		Datum		variants = heap_getattr(newtup, c->att[FF_F_VARIANTS], desc, &vnull);

		if (vnull ||
			!DatumGetBool(DirectFunctionCall2(jsonb_exists, variants, value)))
			goto general;
	}

	/* targeting {} or null is normalised to NULL by the full check */
	value = heap_getattr(newtup, c->att[FF_F_TARGETING], desc, &isnull);
	if (!isnull && FFGuardEmptyTargeting(DatumGetJsonbP(value)))
		goto general;

	return PointerGetDatum(newtup);

general:
	return FFTriggerCall(&c->general, trigdata);
}
