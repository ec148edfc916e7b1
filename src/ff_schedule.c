/*-------------------------------------------------------------------------
 *
 * ff_schedule.c
 *	  The write of a scheduled change: ff.apply_draft run with the
 *	  privileges of the role that scheduled it; and the write of an
 *	  approved change request, the one write the approval gate lets through.
 *
 * ff.run_scheduled_changes (SECURITY DEFINER, so it runs as the extension's
 * owner whoever calls it) applies each due change through
 * ff._apply_draft_as, which switches the current user to the change's
 * creator for the write, the way PostgreSQL itself switches users for a
 * SECURITY DEFINER function: SET ROLE is not allowed inside one, and a
 * change must be made with its creator's privileges, not the runner's, so
 * that a protected environment, a revoked privilege or a dropped role stop
 * it and the history records who made it.  Only a superuser, or a role
 * that has the privileges of the creator anyway, may switch.
 *
 * The history names the role a change was made as from the session's role
 * (the role GUC: its triggers run as the extension's owner), which the
 * switch does not change; while a change is applied, FFScheduleActingRole
 * tells the history the creator instead.  It is set only here, for the
 * duration of the write, and put back on the way out, ERROR or not.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_schedule.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "ff_schedule.h"

/* the role of the scheduled change being applied, while it is */
static Oid	FFScheduleActing = InvalidOid;

/*
 * The flag an approved change request is writing, while it is (in
 * TopTransactionContext; put back by FFScheduleApply on the way out, so an
 * ERROR never leaves the gate open).
 */
static char *FFApprovedEnv = NULL;
static char *FFApprovedKey = NULL;

PG_FUNCTION_INFO_V1(ff_apply_draft_as);
PG_FUNCTION_INFO_V1(ff_apply_approved_draft);
PG_FUNCTION_INFO_V1(ff_approved_write);
PG_FUNCTION_INFO_V1(ff_approvals_required);
PG_FUNCTION_INFO_V1(ff_history_acting_role);

/*
 * FFScheduleActingRole returns the role a scheduled change is being applied
 * as, or InvalidOid outside ff_apply_draft_as.
 */
Oid
FFScheduleActingRole(void)
{
	return FFScheduleActing;
}

/*
 * ff_history_acting_role is FFScheduleActingRole for the history's SQL
 * write path (ff._history_record): the role's name, or NULL.
 */
Datum
ff_history_acting_role(PG_FUNCTION_ARGS)
{
	char	   *name;

	if (!OidIsValid(FFScheduleActing))
		PG_RETURN_NULL();
	name = GetUserNameFromId(FFScheduleActing, false);
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/*
 * FFScheduleApply saves a draft of a flag as a role: ff.apply_draft(flag_key,
 * draft, environment) run with roleid as the current user, comment set as
 * the transaction's change comment, and the history told that the change is
 * roleid's.  approved: the write applies an approved change request, so the
 * approval gate lets this one flag through (FFApprovedEnv/Key) for the
 * duration of the write.  dry_run: the write is made in a subtransaction that
 * is always rolled back, so that only its errors remain.  Returns the
 * version the write gave the flag (*isnull on a dry run, and (1.24 library)
 * when the draft changed nothing: the flag's version was then that of an
 * earlier change, which the scheduled change or the change request recorded
 * as its own).  The current user, the acting role and the gate are put back
 * on the way out, ERROR or not.
 */
static int64
FFScheduleApply(Oid roleid, Datum flag_key, Datum draft, Datum environment,
				const char *comment, bool approved, bool dry_run, bool *isnull)
{
	Oid			save_userid;
	int			save_sec_context;
	Oid			save_acting = FFScheduleActing;
	char	   *save_env = FFApprovedEnv;
	char	   *save_key = FFApprovedKey;
	MemoryContext caller_cxt = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	volatile int64 version = 0;
	volatile bool version_null = true;
	Oid			argtypes[3] = {TEXTOID, JSONBOID, TEXTOID};
	Datum		values[3];

	values[0] = flag_key;
	values[1] = draft;
	values[2] = environment;

	/*
	 * A dry run starts its subtransaction first, so that its rollback also
	 * undoes the change comment set below: the caller's own stays.
	 */
	if (dry_run)
		BeginInternalSubTransaction(NULL);

	/* the history records it with the change (ff.comment_change does this) */
	(void) set_config_option("ff.change_comment", comment ? comment : "",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(roleid, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	FFScheduleActing = roleid;
	if (approved)
	{
		FFApprovedEnv = MemoryContextStrdup(TopTransactionContext, TextDatumGetCString(environment));
		FFApprovedKey = MemoryContextStrdup(TopTransactionContext, TextDatumGetCString(flag_key));
	}
	PG_TRY();
	{
		int			ret;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* the version before: the statement's snapshot, taken before the write */
		ret = SPI_execute_with_args("SELECT (SELECT f.version FROM ff.flags AS f"
									" WHERE f.environment = $3 AND f.key = $1),"
									" (ff.apply_draft($1, $2, $3)).version",
									3, argtypes, values, NULL, false, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "ff.apply_draft failed: %s", SPI_result_code_string(ret));
		if (!dry_run)
		{
			bool		before_null;
			bool		null;
			Datum		before = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											   1, &before_null);
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										  2, &null);

			version_null = null ||
				(!before_null && DatumGetInt64(before) == DatumGetInt64(d));
			if (!version_null)
				version = DatumGetInt64(d);
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		FFScheduleActing = save_acting;
		FFApprovedEnv = save_env;
		FFApprovedKey = save_key;
		SetUserIdAndSecContext(save_userid, save_sec_context);
		if (dry_run)
		{
			ErrorData  *edata;

			/* keep the error, roll the subtransaction back, raise it again */
			MemoryContextSwitchTo(caller_cxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(caller_cxt);
			CurrentResourceOwner = caller_owner;
			ReThrowError(edata);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();

	FFScheduleActing = save_acting;
	FFApprovedEnv = save_env;
	FFApprovedKey = save_key;
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (dry_run)
	{
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_cxt);
		CurrentResourceOwner = caller_owner;
	}

	*isnull = version_null;
	return version;
}

/*
 * FFScheduleRole looks up the role a change is applied as, and refuses the
 * switch unless the current user is a superuser or has the role's privileges
 * anyway.
 */
static Oid
FFScheduleRole(const char *role_name, const char *why)
{
	Oid			roleid = get_role_oid(role_name, true);

	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", role_name),
				 errdetail("%s", why)));
	if (!superuser() && !has_privs_of_role(GetUserId(), roleid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to apply a change as role \"%s\"", role_name),
				 errhint("Only a superuser, or a member of the role, may; ff.run_scheduled_changes() and ff.apply_change() run as the extension's owner.")));
	return roleid;
}

/*
 * ff_apply_draft_as saves a draft of a flag as a role: arguments (role_name,
 * flag_key, draft, environment, comment).  The comment is set as the
 * change comment of the transaction (ff.change_comment) before the write.
 * Returns the flag's version after the write.  An ERROR in the write
 * propagates (the caller runs it in a subtransaction); the current user is
 * restored on the way out either way.
 */
Datum
ff_apply_draft_as(PG_FUNCTION_ARGS)
{
	Oid			roleid;
	int64		version;
	bool		isnull;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL",
						PG_ARGISNULL(0) ? "role_name" : PG_ARGISNULL(1) ? "flag_key" :
						PG_ARGISNULL(2) ? "draft" : "environment")));
	roleid = FFScheduleRole(NameStr(*PG_GETARG_NAME(0)),
							"A scheduled change is applied with the privileges of the role that scheduled it.");
	version = FFScheduleApply(roleid, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2), PG_GETARG_DATUM(3),
							  PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4)),
							  false, false, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_INT64(version);
}

/*
 * ff_apply_approved_draft saves the draft of an approved change request as
 * the role that requested it: arguments (role_name, flag_key, draft,
 * environment, comment, dry_run).  The approval gate of the environment
 * lets this write of this flag through, and nothing else; with dry_run the
 * write is rolled back at once (the check of a new request: its errors are
 * the write's own).  Callable by the extension's owner only (the SECURITY
 * DEFINER functions of the change requests).
 */
Datum
ff_apply_approved_draft(PG_FUNCTION_ARGS)
{
	Oid			roleid;
	int64		version;
	bool		isnull;
	bool		dry_run;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL",
						PG_ARGISNULL(0) ? "role_name" : PG_ARGISNULL(1) ? "flag_key" :
						PG_ARGISNULL(2) ? "draft" : PG_ARGISNULL(3) ? "environment" : "dry_run")));
	dry_run = PG_GETARG_BOOL(5);
	roleid = FFScheduleRole(NameStr(*PG_GETARG_NAME(0)),
							"A change request is applied with the privileges of the role that requested it.");
	version = FFScheduleApply(roleid, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2), PG_GETARG_DATUM(3),
							  PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4)),
							  true, dry_run, &isnull);
	if (isnull || dry_run)
		PG_RETURN_NULL();
	PG_RETURN_INT64(version);
}

/*
 * ff_approved_write tells the approval gate (ff._protect_statement_general)
 * which write an approved change request is making right now: {environment,
 * flag_key}, or NULL outside ff_apply_approved_draft.
 */
Datum
ff_approved_write(PG_FUNCTION_ARGS)
{
	Datum		elems[2];

	if (FFApprovedEnv == NULL || FFApprovedKey == NULL)
		PG_RETURN_NULL();
	elems[0] = CStringGetTextDatum(FFApprovedEnv);
	elems[1] = CStringGetTextDatum(FFApprovedKey);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, 2, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * ff_approvals_required is ff._approvals_required(environment): how many
 * approvals a change of the environment needs, 0 when it has no approval
 * rule (or for NULL).  The protection triggers of every writer ask it, so
 * PUBLIC may: it tells only a number.
 *
 * The rule is read as the latest committed state, not as the transaction's
 * snapshot (1.17): a rule set after a REPEATABLE READ writer took its
 * snapshot must stop that writer too (its statements take the writer lock,
 * as rule changes do, so a rule committed before a write's lock is seen).
 * It is read directly, through the primary key, whatever the caller's
 * privileges on ff.approval_rules: as the SECURITY DEFINER function of 1.16
 * did.
 */
Datum
ff_approvals_required(PG_FUNCTION_ARGS)
{
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	Oid			relid;
	Relation	rules;
	Relation	pk;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Snapshot	snapshot;
	int32		result = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(0);
	relid = get_relname_relid("approval_rules", nsp);
	if (!OidIsValid(relid))
		PG_RETURN_INT32(0);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	rules = table_open(relid, AccessShareLock);
	pk = index_open(RelationGetPrimaryKeyIndex(rules), AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, PG_GETARG_DATUM(0));
	key.sk_collation = pk->rd_indcollation[0];
	scan = systable_beginscan(rules, RelationGetRelid(pk), true, snapshot, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		int			attnum = get_attnum(relid, "required_approvals");
		Datum		d = heap_getattr(tup, attnum, RelationGetDescr(rules), &isnull);

		if (!isnull)
			result = DatumGetInt32(d);
	}
	systable_endscan(scan);
	index_close(pk, AccessShareLock);
	table_close(rules, AccessShareLock);
	UnregisterSnapshot(snapshot);
	PG_RETURN_INT32(result);
}
