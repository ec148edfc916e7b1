/*-------------------------------------------------------------------------
 *
 * ff_history.c
 *	  C parts of the history's write path: the commit-time notification
 *	  trigger and the row check of ff.versions.
 *
 * The history itself is written by PL/pgSQL triggers (src/sql/020_history.sql).
 * Two pieces that every single change pays for live here because they are
 * an order of magnitude cheaper in C:
 *
 * - ff_history_notify, the deferred trigger ff_90_notify: one NOTIFY per
 *   committing transaction.  A change-set of one version (the common case)
 *   gets its payload straight from the inserted row; larger change-sets ask
 *   ff._history_notify_payload().
 * - ff_history_row_check, the single CHECK constraint of ff.versions.  A
 *   CHECK expression is read back from its stored node tree for every
 *   statement that inserts, so one function call replaces seven expressions.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_history.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

#include "feature_flags.h"

/* the byte budget of ff._history_notify_payload()'s default, less its margin */
#define FF_NOTIFY_NAME_BUDGET (7900 - 200)

PG_FUNCTION_INFO_V1(ff_history_notify);
PG_FUNCTION_INFO_V1(ff_history_row_check);

/*
 * FFHistoryAttr returns the value of the named column of a row of
 * ff.versions, or raises an error when the table lacks it.
 */
static Datum
FFHistoryAttr(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of table \"ff.versions\" does not exist", name),
				 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	return heap_getattr(tuple, attnum, desc, isnull);
}

/*
 * FFHistoryVersionExists tells whether ff.versions has a row with the given
 * version, by a lookup in its primary key with a fresh snapshot (which sees
 * the rows this transaction inserted).
 */
static bool
FFHistoryVersionExists(Relation versions, int64 version)
{
	Oid			pkindex = RelationGetPrimaryKeyIndex(versions);
	Snapshot	snapshot;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(pkindex))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"ff.versions\" has no primary key"),
				 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(version));
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(versions, pkindex, true, snapshot, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	return found;
}

/*
 * FFHistoryAppendName appends one JSON string array (empty when the name
 * does not fit) for the one-version payload.
 */
static void
FFHistoryAppendNames(StringInfo out, const char *json_name, bool include)
{
	appendStringInfoChar(out, '[');
	if (include)
		appendStringInfoString(out, json_name);
	appendStringInfoChar(out, ']');
}

/*
 * FFHistoryOnePayload builds the payload of a change-set of exactly one
 * version, the text ff._history_notify_payload() returns for it: the keys
 * in jsonb's order (by length, then bytes), names dropped and "truncated"
 * set when they do not fit the budget.
 */
static char *
FFHistoryOnePayload(int64 version, const char *entity,
					const char *environment, const char *entity_key)
{
	StringInfoData env_json;
	StringInfoData key_json;
	StringInfoData out;
	bool		is_flag = strcmp(entity, "flag") == 0;
	bool		is_segment = strcmp(entity, "segment") == 0;
	int			env_cost;
	int			key_cost = 0;
	bool		env_fits;
	bool		key_fits = true;

	initStringInfo(&env_json);
	escape_json(&env_json, environment);
	env_cost = env_json.len + 2;
	env_fits = env_cost <= FF_NOTIFY_NAME_BUDGET;

	initStringInfo(&key_json);
	if (is_flag || is_segment)
	{
		escape_json(&key_json, entity_key);
		key_cost = env_cost + key_json.len + 2;
		key_fits = key_cost <= FF_NOTIFY_NAME_BUDGET;
	}

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"flags\": ");
	FFHistoryAppendNames(&out, key_json.data, is_flag && key_fits);
	appendStringInfo(&out, ", \"changes\": 1, \"version\": " INT64_FORMAT
					 ", \"segments\": ", version);
	FFHistoryAppendNames(&out, key_json.data, is_segment && key_fits);
	appendStringInfo(&out, ", \"truncated\": %s, \"change_set\": " INT64_FORMAT
					 ", \"environments\": ",
					 (!env_fits || !key_fits) ? "true" : "false", version);
	FFHistoryAppendNames(&out, env_json.data, env_fits);
	appendStringInfoChar(&out, '}');
	return out.data;
}

/*
 * FFHistoryManyPayload asks ff._history_notify_payload() for the payload of
 * a change-set of several versions.
 */
static char *
FFHistoryManyPayload(int64 change_set)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(change_set)};
	char	   *payload = NULL;
	char	   *value;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT ff._history_notify_payload($1)",
							   1, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ff._history_notify_payload() returned no row");
	value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (value != NULL)
	{
		/* in the caller's context: SPI_finish frees the SPI one */
		payload = SPI_palloc(strlen(value) + 1);
		strcpy(payload, value);
	}
	SPI_finish();
	return payload;
}

/*
 * ff_history_notify is the deferred trigger ff_90_notify on ff.versions,
 * queued for the first version of each change-set: at commit it sends one
 * NOTIFY on ff.notify_channel for the transaction's change-set.  Rows copied
 * in by a restore (another transaction's xact_id) send nothing.
 */
Datum
ff_history_notify(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	FullTransactionId row_xid;
	int64		version;
	int64		change_set;
	char	   *payload;
	const char *channel;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function ff._history_notify() was not called by the trigger manager")));
	trigdata = (TriggerData *) fcinfo->context;
	if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function ff._history_notify() must be fired for INSERT, FOR EACH ROW")));
	tuple = trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);

	row_xid = FullTransactionIdFromU64(DatumGetUInt64(FFHistoryAttr(tuple, desc, "xact_id", &isnull)));
	if (isnull || !FullTransactionIdEquals(row_xid, GetTopFullTransactionId()))
		return PointerGetDatum(NULL);

	version = DatumGetInt64(FFHistoryAttr(tuple, desc, "version", &isnull));
	change_set = DatumGetInt64(FFHistoryAttr(tuple, desc, "change_set", &isnull));

	/*
	 * The transaction held the writer lock from its first version on, so
	 * every version after change_set is its own: the change-set has one
	 * version exactly when version + 1 does not exist.
	 */
	if (version == change_set &&
		!FFHistoryVersionExists(trigdata->tg_relation, version + 1))
	{
		Datum		entity = FFHistoryAttr(tuple, desc, "entity", &isnull);
		Datum		environment = FFHistoryAttr(tuple, desc, "environment", &isnull);
		Datum		entity_key = FFHistoryAttr(tuple, desc, "entity_key", &isnull);

		payload = FFHistoryOnePayload(version,
									  TextDatumGetCString(entity),
									  TextDatumGetCString(environment),
									  TextDatumGetCString(entity_key));
	}
	else
		payload = FFHistoryManyPayload(change_set);

	channel = (ff_notify_channel != NULL && ff_notify_channel[0] != '\0') ?
		ff_notify_channel : "ff_changes";
	DirectFunctionCall2(pg_notify,
						CStringGetTextDatum(channel),
						CStringGetTextDatum(payload ? payload : ""));
	return PointerGetDatum(NULL);
}

/*
 * FFHistoryIsSha256Hex tells whether s is 64 lower-case hexadecimal digits.
 */
static bool
FFHistoryIsSha256Hex(text *t)
{
	const char *s = VARDATA_ANY(t);
	int			i;

	if (VARSIZE_ANY_EXHDR(t) != 64)
		return false;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * FFHistoryTextIn tells whether the text equals one of the NULL-terminated
 * list of words.
 */
static bool
FFHistoryTextIn(text *t, const char *const *words)
{
	int			len = VARSIZE_ANY_EXHDR(t);

	for (; *words != NULL; words++)
		if ((int) strlen(*words) == len && memcmp(VARDATA_ANY(t), *words, len) == 0)
			return true;
	return false;
}

/*
 * ff_history_row_check is the CHECK constraint versions_row_check of
 * ff.versions: version > 0, 0 < change_set <= version, a known entity and
 * operation (KEYS only for segments), hash and prev_hash 64 lower-case hex
 * digits.  It raises check_violation naming the version and the rule, so a
 * bad row (a tampered dump, say) is rejected with a precise message.
 * Arguments: version, change_set, entity, operation, hash, prev_hash; NULL
 * arguments pass (NOT NULL constraints cover the columns that need them).
 */
Datum
ff_history_row_check(PG_FUNCTION_ARGS)
{
	static const char *const entities[] = {"environment", "flag", "segment", NULL};
	static const char *const operations[] = {"INSERT", "UPDATE", "DELETE", "KEYS", NULL};
	int64		version = PG_ARGISNULL(0) ? 1 : PG_GETARG_INT64(0);

	if (version <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("history version " INT64_FORMAT " is not positive", version),
				 errdetail("Versions start at 1.")));
	if (!PG_ARGISNULL(1))
	{
		int64		change_set = PG_GETARG_INT64(1);

		if (change_set <= 0 || change_set > version)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("history version " INT64_FORMAT " has change_set " INT64_FORMAT,
							version, change_set),
					 errdetail("A change-set is the first version of its transaction: positive and not after the version.")));
	}
	if (!PG_ARGISNULL(2) && !FFHistoryTextIn(PG_GETARG_TEXT_PP(2), entities))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("history version " INT64_FORMAT " has unknown entity \"%s\"",
						version, text_to_cstring(PG_GETARG_TEXT_PP(2))),
				 errdetail("An entity is environment, flag or segment.")));
	if (!PG_ARGISNULL(3))
	{
		text	   *operation = PG_GETARG_TEXT_PP(3);

		if (!FFHistoryTextIn(operation, operations))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("history version " INT64_FORMAT " has unknown operation \"%s\"",
							version, text_to_cstring(operation)),
					 errdetail("An operation is INSERT, UPDATE, DELETE or KEYS.")));
		if (VARSIZE_ANY_EXHDR(operation) == 4 &&
			memcmp(VARDATA_ANY(operation), "KEYS", 4) == 0 &&
			!PG_ARGISNULL(2) &&
			!FFHistoryTextIn(PG_GETARG_TEXT_PP(2), entities + 2))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("history version " INT64_FORMAT " records KEYS for a %s",
							version, text_to_cstring(PG_GETARG_TEXT_PP(2))),
					 errdetail("Only segments have key lists.")));
	}
	if (!PG_ARGISNULL(4) && !FFHistoryIsSha256Hex(PG_GETARG_TEXT_PP(4)))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("history version " INT64_FORMAT " has a malformed hash", version),
				 errdetail("A hash is 64 lower-case hexadecimal digits (hex SHA-256).")));
	if (!PG_ARGISNULL(5) && !FFHistoryIsSha256Hex(PG_GETARG_TEXT_PP(5)))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("history version " INT64_FORMAT " has a malformed prev_hash", version),
				 errdetail("A hash is 64 lower-case hexadecimal digits (hex SHA-256).")));
	PG_RETURN_BOOL(true);
}
