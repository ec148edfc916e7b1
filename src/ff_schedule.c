/*-------------------------------------------------------------------------
 *
 * ff_schedule.c
 *	  The write of a scheduled change: ff.apply_draft run with the
 *	  privileges of the role that scheduled it.
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

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "ff_schedule.h"

/* the role of the scheduled change being applied, while it is */
static Oid	FFScheduleActing = InvalidOid;

PG_FUNCTION_INFO_V1(ff_apply_draft_as);
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
	const char *role_name;
	Oid			roleid;
	Oid			save_userid;
	int			save_sec_context;
	Oid			save_acting = FFScheduleActing;
	volatile int64 version = 0;
	volatile bool version_null = true;
	Oid			argtypes[3] = {TEXTOID, JSONBOID, TEXTOID};
	Datum		values[3];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL",
						PG_ARGISNULL(0) ? "role_name" : PG_ARGISNULL(1) ? "flag_key" :
						PG_ARGISNULL(2) ? "draft" : "environment")));
	role_name = NameStr(*PG_GETARG_NAME(0));
	roleid = get_role_oid(role_name, true);
	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", role_name),
				 errdetail("A scheduled change is applied with the privileges of the role that scheduled it.")));
	if (!superuser() && !has_privs_of_role(GetUserId(), roleid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to apply a change as role \"%s\"", role_name),
				 errhint("Only a superuser, or a member of the role, may; ff.run_scheduled_changes() runs as the extension's owner.")));

	values[0] = PG_GETARG_DATUM(1);
	values[1] = PG_GETARG_DATUM(2);
	values[2] = PG_GETARG_DATUM(3);

	/* the history records it with the change (ff.comment_change does this) */
	(void) set_config_option("ff.change_comment",
							 PG_ARGISNULL(4) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(4)),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(roleid, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	FFScheduleActing = roleid;
	PG_TRY();
	{
		int			ret;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT (ff.apply_draft($1, $2, $3)).version",
									3, argtypes, values, NULL, false, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "ff.apply_draft failed: %s", SPI_result_code_string(ret));
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										  1, &isnull);

			version_null = isnull;
			if (!isnull)
				version = DatumGetInt64(d);
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		FFScheduleActing = save_acting;
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();

	if (version_null)
		PG_RETURN_NULL();
	PG_RETURN_INT64(version);
}
