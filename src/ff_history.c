/*-------------------------------------------------------------------------
 *
 * ff_history.c
 *	  C parts of the history's write path: the row trigger for everyday
 *	  changes, the writer lock, the commit-time notification trigger and the
 *	  row check of ff.versions.
 *
 * The history's specification is the PL/pgSQL in src/sql/020_history.sql,
 * which still handles the rarer cases.  The pieces that every single change
 * pays for live here because they are an order of magnitude cheaper in C:
 *
 * - ff_history_notify, the deferred trigger ff_90_notify: one NOTIFY per
 *   committing transaction.  A change-set of one version (the common case)
 *   gets its payload straight from the inserted row; larger change-sets ask
 *   ff._history_notify_payload().  It queues the notification, which the
 *   commit sends (FFHistoryQueueNotify), so that a change can be prepared;
 *   ff_replication_notify does the same for change-sets applied by logical
 *   replication.
 * - ff_history_row_trigger_1_5, the trigger ff_90_history, records everyday
 *   single-row changes (the INSERT of a new entity, UPDATE, DELETE) itself,
 *   writing the row images from the deformed row, and hands every other
 *   case to the PL/pgSQL implementation.
 * - ff_history_writer_lock_1_5, the statement trigger ff_01_writer_lock,
 *   and ff_history_next, which the PL/pgSQL calls: the lock that serializes
 *   writers until they commit, a heavyweight lock since 1.5.  The symbols
 *   without a version suffix keep the row lock of ff.history_lock for a
 *   database still at 1.4 or earlier, until ALTER EXTENSION ... UPDATE.
 * - ff_history_row_check, the single CHECK constraint of ff.versions.  A
 *   CHECK expression is read back from its stored node tree for every
 *   statement that inserts (a restore, a hand-written INSERT), so one
 *   function call replaces seven expressions; the triggers' own inserts use
 *   expressions planned once per backend (FFHistoryVersionExprs).
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
#include "access/twophase.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "replication/logicalworker.h"
#include "replication/worker_internal.h"
#include "rewrite/rewriteManip.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "feature_flags.h"
#include "ff_cache.h"
#include "ff_history.h"
#include "ff_schedule.h"
#include "jsonlogic.h"
#include "ff_trigger.h"

/* the byte budget of ff._history_notify_payload()'s default, less its margin */
#define FF_NOTIFY_NAME_BUDGET (7900 - 200)

PG_FUNCTION_INFO_V1(ff_history_notify);
PG_FUNCTION_INFO_V1(ff_replication_notify);
PG_FUNCTION_INFO_V1(ff_history_row_check);

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
 * FFHistoryAppendNames appends one JSON string array (empty when the name
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
FFHistoryManyPayload(FunctionCallInfo fcinfo, int64 change_set)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(change_set)};
	char	   *payload = NULL;
	char	   *value;
	int			rc;
	FFTriggerSavedUser saved;

	/* the internal function is the owner's to call */
	FFTriggerBecomeOwner(fcinfo, &saved);
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
	FFTriggerRestoreUser(&saved);
	return payload;
}

/*
 * The transaction's change notifications.  The deferred trigger does not
 * NOTIFY itself: it queues its notification here, and FFHistoryXactCallback
 * hands the queue to NOTIFY at XACT_EVENT_PRE_COMMIT, after every deferred
 * trigger and before PostgreSQL sends the transaction's notifications.  A
 * NOTIFY would make PREPARE TRANSACTION fail ("cannot PREPARE a transaction
 * that has executed ... NOTIFY"); a queued notification is dropped there
 * instead (FFHistoryDropPrepared), so a configuration change can be
 * prepared.  Each entry remembers the nesting level that queued it (the
 * trigger fires in a subtransaction after SET CONSTRAINTS ... IMMEDIATE
 * there), so that a rolled-back subtransaction takes its notification
 * with it, as NOTIFY's own queue does.  The list and its entries live in
 * TopTransactionContext; every end of a transaction forgets the list.
 */
typedef struct FFHistoryNotice
{
	int			nest_level;		/* nesting level that queued it */
	int64		change_set;		/* first version of the change-set */
	char	   *channel;
	char	   *payload;
} FFHistoryNotice;

static List *FFHistoryNotices = NIL;

/*
 * FFHistoryQueueNotify queues the notification of change-set change_set for
 * the commit of the transaction, on the channel that ff.notify_channel
 * names now (its check hook keeps it a valid channel name; empty means
 * ff_changes).  The payload fits NOTIFY's limit by construction.
 */
static void
FFHistoryQueueNotify(const char *payload, int64 change_set)
{
	const char *channel = (ff_notify_channel != NULL && ff_notify_channel[0] != '\0') ?
		ff_notify_channel : "ff_changes";
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	FFHistoryNotice *n = palloc(sizeof(FFHistoryNotice));

	n->nest_level = GetCurrentTransactionNestLevel();
	n->change_set = change_set;
	n->channel = pstrdup(channel);
	n->payload = pstrdup(payload ? payload : "");
	FFHistoryNotices = lappend(FFHistoryNotices, n);
	MemoryContextSwitchTo(old);
}

/*
 * FFHistorySendNotices sends the queued notifications with NOTIFY, in the
 * order they were queued; called at XACT_EVENT_PRE_COMMIT, where NOTIFY
 * still queues for this commit.
 */
static void
FFHistorySendNotices(void)
{
	List	   *notices = FFHistoryNotices;
	ListCell   *lc;

	FFHistoryNotices = NIL;
	foreach(lc, notices)
	{
		FFHistoryNotice *n = (FFHistoryNotice *) lfirst(lc);

		Async_Notify(n->channel, n->payload);
	}
}

/*
 * FFHistoryDropPrepared drops the queued notifications of a transaction
 * being prepared, where PostgreSQL cannot send a NOTIFY, and says so: the
 * change-sets reach ff.changes_since() at COMMIT PREPARED, and the
 * evaluation caches are invalidated then, but no notification is sent for
 * them.
 */
static void
FFHistoryDropPrepared(void)
{
	FFHistoryNotice *first;

	if (FFHistoryNotices == NIL)
		return;
	first = (FFHistoryNotice *) linitial(FFHistoryNotices);
	FFHistoryNotices = NIL;
	/* with prepared transactions disabled, the PREPARE fails right after */
	if (max_prepared_xacts <= 0)
		return;
	ereport(NOTICE,
			(errmsg("no change notification will be sent for the configuration change-set " INT64_FORMAT " of this prepared transaction",
					first->change_set),
			 errdetail("PostgreSQL cannot send NOTIFY from a prepared transaction."),
			 errhint("After COMMIT PREPARED, listeners find the change-set with ff.changes_since(); the next notification's version covers it.")));
}

/*
 * FFHistoryNoticesAtSubEnd follows the queue through the end of the
 * subtransaction at the current nesting level: an abort drops what it
 * queued, a commit passes it to the parent.
 */
static void
FFHistoryNoticesAtSubEnd(bool commit)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	foreach(lc, FFHistoryNotices)
	{
		FFHistoryNotice *n = (FFHistoryNotice *) lfirst(lc);

		if (n->nest_level < level)
			continue;
		if (commit)
			n->nest_level = level - 1;
		else
			FFHistoryNotices = foreach_delete_current(FFHistoryNotices, lc);
	}
}

/*
 * FFHistoryNotifyTriggerData returns the trigger data of a notification
 * trigger (fname, for the message), which must fire for INSERT, FOR EACH
 * ROW.
 */
static TriggerData *
FFHistoryNotifyTriggerData(FunctionCallInfo fcinfo, const char *fname)
{
	TriggerData *trigdata = FFTriggerData(fcinfo, fname);

	if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s() must be fired for INSERT, FOR EACH ROW", fname)));
	return trigdata;
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

	trigdata = FFHistoryNotifyTriggerData(fcinfo, "ff._history_notify");
	tuple = trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);

	row_xid = FullTransactionIdFromU64(DatumGetUInt64(heap_getattr(tuple, FFTriggerAttnum(trigdata->tg_relation, "xact_id"), desc, &isnull)));
	if (isnull || !FullTransactionIdEquals(row_xid, GetTopFullTransactionId()))
		return PointerGetDatum(NULL);

	version = DatumGetInt64(heap_getattr(tuple, FFTriggerAttnum(trigdata->tg_relation, "version"), desc, &isnull));
	change_set = DatumGetInt64(heap_getattr(tuple, FFTriggerAttnum(trigdata->tg_relation, "change_set"), desc, &isnull));

	/*
	 * The transaction held the writer lock from its first version on, so
	 * every version after change_set is its own: the change-set has one
	 * version exactly when version + 1 does not exist.
	 */
	if (version == change_set &&
		!FFHistoryVersionExists(trigdata->tg_relation, version + 1))
	{
		Datum		entity = heap_getattr(tuple, FFTriggerAttnum(trigdata->tg_relation, "entity"), desc, &isnull);
		Datum		environment = heap_getattr(tuple, FFTriggerAttnum(trigdata->tg_relation, "environment"), desc, &isnull);
		Datum		entity_key = heap_getattr(tuple, FFTriggerAttnum(trigdata->tg_relation, "entity_key"), desc, &isnull);

		payload = FFHistoryOnePayload(version,
									  TextDatumGetCString(entity),
									  TextDatumGetCString(environment),
									  TextDatumGetCString(entity_key));
	}
	else
		payload = FFHistoryManyPayload(fcinfo, change_set);

	FFHistoryQueueNotify(payload, change_set);
	return PointerGetDatum(NULL);
}

/*
 * ff_replication_notify is the deferred trigger ff_90_notify_apply on
 * ff.versions (ENABLE REPLICA), queued for the first version of each
 * change-set an apply worker writes: on a logical replication subscriber,
 * it queues the notification of the applied change-set, with the payload
 * of ff._history_notify_payload(), for the commit (so that a two_phase
 * subscription can prepare it, as ff_history_notify does on the publisher).
 *
 * The initial copy of ff.versions (a table synchronization worker) writes
 * the whole history in one transaction: it queues one notification, that
 * of the newest change-set it copied (1.24; the 1.23 library sent one per
 * past change-set, a flood for the listeners of a new subscriber).
 */
Datum
ff_replication_notify(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata;
	bool		isnull;
	Datum		change_set;

	trigdata = FFHistoryNotifyTriggerData(fcinfo, "ff._replication_notify");
	change_set = heap_getattr(trigdata->tg_trigtuple,
							  FFTriggerAttnum(trigdata->tg_relation, "change_set"),
							  RelationGetDescr(trigdata->tg_relation), &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	if (IsLogicalWorker() && am_tablesync_worker() && FFHistoryNotices != NIL)
	{
		FFHistoryNotice *last = (FFHistoryNotice *) llast(FFHistoryNotices);

		/* the copy's rows come in any order: keep the newest change-set */
		if (last->change_set >= DatumGetInt64(change_set))
			return PointerGetDatum(NULL);
		FFHistoryNotices = list_delete_last(FFHistoryNotices);
		pfree(last->channel);
		pfree(last->payload);
		pfree(last);
	}
	FFHistoryQueueNotify(FFHistoryManyPayload(fcinfo, DatumGetInt64(change_set)),
						 DatumGetInt64(change_set));
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
	if (!PG_ARGISNULL(2) && !FFTriggerTextIn(PG_GETARG_TEXT_PP(2), entities))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("history version " INT64_FORMAT " has unknown entity \"%s\"",
						version, text_to_cstring(PG_GETARG_TEXT_PP(2))),
				 errdetail("An entity is environment, flag or segment.")));
	if (!PG_ARGISNULL(3))
	{
		text	   *operation = PG_GETARG_TEXT_PP(3);

		if (!FFTriggerTextIn(operation, operations))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("history version " INT64_FORMAT " has unknown operation \"%s\"",
							version, text_to_cstring(operation)),
					 errdetail("An operation is INSERT, UPDATE, DELETE or KEYS.")));
		if (VARSIZE_ANY_EXHDR(operation) == 4 &&
			memcmp(VARDATA_ANY(operation), "KEYS", 4) == 0 &&
			!PG_ARGISNULL(2) &&
			!FFTriggerTextIn(PG_GETARG_TEXT_PP(2), entities + 2))
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

/* ---------------------------------------------------------------------
 * The history row trigger
 * --------------------------------------------------------------------- */

/* ff.versions columns, in table order (see src/sql/020_history.sql) */
enum
{
	FF_V_VERSION = 0,
	FF_V_CHANGE_SET,
	FF_V_ENTITY,
	FF_V_ENVIRONMENT,
	FF_V_ENTITY_KEY,
	FF_V_OPERATION,
	FF_V_BEFORE,
	FF_V_AFTER,
	FF_V_DELTA,
	FF_V_CHANGED_BY,
	FF_V_SESSION_USER,
	FF_V_APPLICATION_NAME,
	FF_V_CHANGED_AT,
	FF_V_COMMENT,
	FF_V_XACT_ID,
	FF_V_PREV_HASH,
	FF_V_HASH,
	FF_V_NUM
};

static const char *const FFVersionColumns[FF_V_NUM] = {
	"version", "change_set", "entity", "environment", "entity_key", "operation",
	"before", "after", "delta", "changed_by", "session_user_name",
	"application_name", "changed_at", "comment", "xact_id", "prev_hash", "hash"
};

static const Oid FFVersionTypes[FF_V_NUM] = {
	INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	JSONBOID, JSONBOID, JSONBOID, TEXTOID, TEXTOID,
	TEXTOID, TIMESTAMPTZOID, TEXTOID, XID8OID, TEXTOID, TEXTOID
};

/*
 * The subtransaction in which ff_history_writer_lock took the row lock of
 * 1.4 and earlier in the current transaction, else InvalidSubTransactionId.
 * Kept true by the transaction callbacks (FFHistoryInit): the row lock ends
 * with the transaction, or with the subtransaction that took it if that one
 * aborts.  When it is unset the lock row itself is read.  (The heavyweight
 * lock of 1.5 needs no such state: the lock manager knows.)
 */
static SubTransactionId FFHistoryLockSubid = InvalidSubTransactionId;

/*
 * How a column of a config table appears in its row image: the fast kinds
 * are the column types of ff.environments, ff.flags and ff.segments that
 * to_jsonb() renders without looking anything up; any other type (arrays,
 * domains, a column added by hand) is rendered by to_jsonb() itself.
 */
typedef enum FFHistoryImageKind
{
	FF_IMG_DROPPED,				/* a dropped column: not in the image */
	FF_IMG_STRING,				/* text, varchar: a JSON string */
	FF_IMG_INT,					/* int2, int4, int8: a JSON number */
	FF_IMG_BOOL,				/* boolean */
	FF_IMG_TIMESTAMPTZ,			/* a JSON string in ISO form */
	FF_IMG_JSONB,				/* the document itself */
	FF_IMG_OTHER				/* to_jsonb() of the value */
} FFHistoryImageKind;

typedef struct FFHistoryImageColumn
{
	FFHistoryImageKind kind;
	Oid			typid;
	char	   *name;			/* the image's key */
	int			namelen;
	FmgrInfo   *to_jsonb;		/* FF_IMG_OTHER: to_jsonb() of this type */
} FFHistoryImageColumn;

/*
 * Row images and hashes render timestamps in UTC whatever the session's
 * TimeZone: explicitly for timestamptz values (JsonEncodeDateTime with this
 * offset); for a column that to_jsonb() renders (FF_IMG_OTHER: an array of
 * timestamps, a composite, a column added by hand), TimeZone is set to UTC
 * around the trigger's work unless the type is one whose JSON form does not
 * depend on it (FFHistoryTrigCache.needs_utc).
 */
static const int FFHistoryUtc = 0;

/* per trigger call site, in fn_extra: what each call would look up again */
typedef struct FFHistoryTrigCache
{
	Oid			relid;			/* the config table the trigger is on */
	Oid			versions_relid;
	bool		xact_lock;		/* 1.5: the writer lock is a heavyweight lock */
	Oid			lock_relid;		/* 1.4 and earlier: ff.history_lock */
	AttrNumber	version_att;	/* config table's "version" */
	AttrNumber	updated_at_att; /* config table's "updated_at" */
	AttrNumber	env_att;		/* environment of the entity */
	AttrNumber	key_att;		/* key of the entity */
	FmgrInfo	general;		/* ff._history_row_trigger_general() */
	int			natts;			/* columns of the config table */
	FFHistoryImageColumn *columns;	/* how to_jsonb() renders each */
	int		   *key_order;		/* the live columns in jsonb's key order */
	int			nkeys;
	bool		needs_utc;		/* an FF_IMG_OTHER column that may render a
								 * timestamp */
} FFHistoryTrigCache;

/*
 * FFHistoryToJsonbInit prepares finfo to call to_jsonb(anyelement) on values
 * of the given type (to_jsonb reads the argument type from the call
 * expression).
 */
static void
FFHistoryToJsonbInit(FmgrInfo *finfo, Oid typid, MemoryContext cxt)
{
	MemoryContext old;

	fmgr_info_cxt(F_TO_JSONB, finfo, cxt);
	old = MemoryContextSwitchTo(cxt);
	finfo->fn_expr = (Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
										   list_make1(makeNullConst(typid, -1, InvalidOid)),
										   InvalidOid, InvalidOid,
										   COERCE_EXPLICIT_CALL);
	MemoryContextSwitchTo(old);
}

/*
 * FFHistoryKeyCmp orders column names as jsonb orders an object's keys.
 */
static int
FFHistoryKeyCmp(const void *a, const void *b, void *arg)
{
	FFHistoryImageColumn *columns = (FFHistoryImageColumn *) arg;
	FFHistoryImageColumn *ca = &columns[*(const int *) a];
	FFHistoryImageColumn *cb = &columns[*(const int *) b];

	return JLCompareKeys(ca->name, ca->namelen, cb->name, cb->namelen);
}

/*
 * FFHistoryImageColumnsInit decides, once per statement, how each column of
 * the config table is rendered in its row image, and the order in which the
 * image lists them: jsonb's, so that building the object finds its keys
 * already sorted.
 */
static void
FFHistoryImageColumnsInit(FFHistoryTrigCache *c, TupleDesc desc, MemoryContext cxt)
{
	int			i;

	c->natts = desc->natts;
	c->needs_utc = false;
	c->columns = MemoryContextAllocZero(cxt, sizeof(FFHistoryImageColumn) * Max(desc->natts, 1));
	c->key_order = MemoryContextAlloc(cxt, sizeof(int) * Max(desc->natts, 1));
	c->nkeys = 0;
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		FFHistoryImageColumn *col = &c->columns[i];

		col->typid = att->atttypid;
		if (att->attisdropped)
		{
			col->kind = FF_IMG_DROPPED;
			continue;
		}
		col->name = MemoryContextStrdup(cxt, NameStr(att->attname));
		col->namelen = strlen(col->name);
		c->key_order[c->nkeys++] = i;
		switch (att->atttypid)
		{
			case TEXTOID:
			case VARCHAROID:
				col->kind = FF_IMG_STRING;
				break;
			case INT2OID:
			case INT4OID:
			case INT8OID:
				col->kind = FF_IMG_INT;
				break;
			case BOOLOID:
				col->kind = FF_IMG_BOOL;
				break;
			case TIMESTAMPTZOID:
				col->kind = FF_IMG_TIMESTAMPTZ;
				break;
			case JSONBOID:
				col->kind = FF_IMG_JSONB;
				break;
			default:
				col->kind = FF_IMG_OTHER;
				/* ff.flags.tags; text needs no time zone */
				if (att->atttypid != TEXTARRAYOID)
					c->needs_utc = true;
				col->to_jsonb = MemoryContextAlloc(cxt, sizeof(FmgrInfo));
				FFHistoryToJsonbInit(col->to_jsonb, att->atttypid, cxt);
				break;
		}
	}
	qsort_arg(c->key_order, c->nkeys, sizeof(int), FFHistoryKeyCmp, c->columns);
}

/*
 * FFHistoryGetCache returns the call site's cache, building it on the first
 * call of each statement.
 */
static FFHistoryTrigCache *
FFHistoryGetCache(FunctionCallInfo fcinfo, TriggerData *trigdata, const char *entity,
				  bool xact_lock)
{
	FFHistoryTrigCache *c = (FFHistoryTrigCache *) fcinfo->flinfo->fn_extra;
	Relation	rel = trigdata->tg_relation;
	MemoryContext cxt = fcinfo->flinfo->fn_mcxt;
	Oid			nsp = RelationGetNamespace(rel);
	bool		is_env = strcmp(entity, "environment") == 0;
	bool		is_flag = strcmp(entity, "flag") == 0;

	if (c != NULL && c->relid == RelationGetRelid(rel))
		return c;

	c = MemoryContextAllocZero(cxt, sizeof(FFHistoryTrigCache));
	c->relid = RelationGetRelid(rel);
	c->versions_relid = FFTriggerRelid(nsp, "versions");
	c->xact_lock = xact_lock;
	if (!xact_lock)
		c->lock_relid = FFTriggerRelid(nsp, "history_lock");
	c->version_att = FFTriggerAttnum(rel, "version");
	c->updated_at_att = FFTriggerAttnum(rel, "updated_at");
	c->env_att = FFTriggerAttnum(rel, is_env ? "name" : "environment");
	c->key_att = FFTriggerAttnum(rel, is_flag ? "key" : "name");
	FFHistoryImageColumnsInit(c, RelationGetDescr(rel), cxt);
	FFTriggerFunctionInit(&c->general, nsp, "_history_row_trigger_general", cxt);
	fcinfo->flinfo->fn_extra = c;
	return c;
}

/*
 * FFHistoryImagePad pads a row image being written to a 4-byte boundary, as
 * jsonb aligns numbers and containers, and returns the padding's length.
 */
static int
FFHistoryImagePad(StringInfo buf)
{
	int			pad = INTALIGN(buf->len) - buf->len;

	if (pad > 0)
	{
		enlargeStringInfo(buf, pad);
		memset(buf->data + buf->len, 0, pad);
		buf->len += pad;
	}
	return pad;
}

/*
 * FFHistoryImageValue appends one member value of a row image in jsonb's
 * binary form and returns its JEntry (without an offset), as jsonb's own
 * conversion writes it: a string's bytes, a number's numeric after padding,
 * nothing for null and booleans, and a container's bytes after padding.  A
 * container taken from a jsonb column is copied whole: jsonb containers
 * hold only relative offsets, and alignment inside one is relative to a
 * 4-byte boundary it starts on in both places.
 */
static JEntry
FFHistoryImageValue(StringInfo buf, const JsonbValue *v)
{
	int			pad;

	switch (v->type)
	{
		case jbvNull:
			return JENTRY_ISNULL;
		case jbvBool:
			return v->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
		case jbvString:
			/* to_jsonb()'s limit, with its message */
			if (v->val.string.len > JENTRY_OFFLENMASK)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("string too long to represent as jsonb string"),
						 errdetail("Due to an implementation restriction, jsonb strings cannot exceed %d bytes.",
								   JENTRY_OFFLENMASK)));
			appendBinaryStringInfo(buf, v->val.string.val, v->val.string.len);
			return JENTRY_ISSTRING | v->val.string.len;
		case jbvNumeric:
			pad = FFHistoryImagePad(buf);
			appendBinaryStringInfo(buf, (const char *) v->val.numeric,
								   VARSIZE_ANY(v->val.numeric));
			return JENTRY_ISNUMERIC | (pad + VARSIZE_ANY(v->val.numeric));
		case jbvBinary:
			pad = FFHistoryImagePad(buf);
			appendBinaryStringInfo(buf, (const char *) v->val.binary.data, v->val.binary.len);
			return JENTRY_ISCONTAINER | (pad + v->val.binary.len);
		default:
			elog(ERROR, "unexpected jsonb value type %d in a row image", (int) v->type);
	}
	return 0;					/* keep compiler quiet */
}

/*
 * FFHistoryRowJsonb returns to_jsonb() of a config row: an object with one
 * member per column, rendered as to_jsonb() renders it.  The column types of
 * the config tables are written directly, from the deformed row, without
 * to_jsonb()'s type lookups for every column of every row; any other type
 * goes through to_jsonb() of the value.
 *
 * The object is written in jsonb's binary form directly, byte for byte as
 * jsonb's conversion writes it (convertJsonbObject in jsonb_util.c): the
 * header, the keys' JEntries then the values', every JB_OFFSET_STRIDE'th one
 * holding an offset instead of a length, then the keys' bytes and the
 * values'.  The keys are already in jsonb's order (key_order), and a jsonb
 * column's document is copied, not unpacked and converted again: building
 * an image with pushJsonbValue() cost about 16 k instructions, three images
 * per change.  The regression test compares the images with to_jsonb() of
 * the rows as text, and their stored size with jsonb's own conversion's.
 */
static Jsonb *
FFHistoryRowJsonb(FFHistoryTrigCache *c, HeapTuple tuple, TupleDesc desc)
{
	Datum	   *values = palloc(sizeof(Datum) * Max(c->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(c->natts, 1));
	JEntry	   *entries = palloc(sizeof(JEntry) * Max(c->nkeys * 2, 1));
	StringInfoData buf;
	uint32		header = (uint32) c->nkeys | JB_FOBJECT;
	int			entries_at;
	uint32		totallen = 0;
	int			k;

	Assert(desc->natts == c->natts);
	heap_deform_tuple(tuple, desc, values, nulls);

	/* the varlena header, the object's header, room for its JEntries */
	initStringInfo(&buf);
	enlargeStringInfo(&buf, VARHDRSZ + sizeof(uint32) + sizeof(JEntry) * c->nkeys * 2);
	buf.len = VARHDRSZ;
	appendBinaryStringInfo(&buf, (const char *) &header, sizeof(uint32));
	entries_at = buf.len;
	buf.len += sizeof(JEntry) * c->nkeys * 2;

	for (k = 0; k < c->nkeys; k++)
	{
		FFHistoryImageColumn *col = &c->columns[c->key_order[k]];

		appendBinaryStringInfo(&buf, col->name, col->namelen);
		entries[k] = JENTRY_ISSTRING | col->namelen;
	}
	for (k = 0; k < c->nkeys; k++)
	{
		int			i = c->key_order[k];
		FFHistoryImageColumn *col = &c->columns[i];
		JsonbValue	v;
		char		tsbuf[MAXDATELEN + 1];

		if (nulls[i])
			v.type = jbvNull;
		else
			switch (col->kind)
			{
				case FF_IMG_STRING:
					{
						text	   *t = DatumGetTextPP(values[i]);

						v.type = jbvString;
						v.val.string.val = VARDATA_ANY(t);
						v.val.string.len = VARSIZE_ANY_EXHDR(t);
					}
					break;
				case FF_IMG_INT:
					v.type = jbvNumeric;
					v.val.numeric = int64_to_numeric(col->typid == INT8OID ? DatumGetInt64(values[i]) :
													 col->typid == INT4OID ? DatumGetInt32(values[i]) :
													 DatumGetInt16(values[i]));
					break;
				case FF_IMG_BOOL:
					v.type = jbvBool;
					v.val.boolean = DatumGetBool(values[i]);
					break;
				case FF_IMG_TIMESTAMPTZ:
					v.type = jbvString;
					v.val.string.val = JsonEncodeDateTime(tsbuf, values[i], TIMESTAMPTZOID,
														  &FFHistoryUtc);
					v.val.string.len = strlen(v.val.string.val);
					break;
				case FF_IMG_JSONB:
				case FF_IMG_OTHER:
					{
						Jsonb	   *jb = col->kind == FF_IMG_JSONB ? DatumGetJsonbP(values[i]) :
						DatumGetJsonbP(FunctionCall1(col->to_jsonb, values[i]));

						if (JB_ROOT_IS_SCALAR(jb))
							(void) JsonbExtractScalar(&jb->root, &v);
						else
						{
							v.type = jbvBinary;
							v.val.binary.data = &jb->root;
							v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
						}
					}
					break;
				case FF_IMG_DROPPED:
				default:
					elog(ERROR, "unexpected column kind %d in a row image", (int) col->kind);
			}
		entries[c->nkeys + k] = FFHistoryImageValue(&buf, &v);
	}

	/* lengths to offsets at every JB_OFFSET_STRIDE'th entry, as jsonb does */
	for (k = 0; k < c->nkeys * 2; k++)
	{
		totallen += JBE_OFFLENFLD(entries[k]);
		if (totallen > JENTRY_OFFLENMASK)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("total size of jsonb object elements exceeds the maximum of %d bytes",
							JENTRY_OFFLENMASK)));
		if (k % JB_OFFSET_STRIDE == 0)
			entries[k] = (entries[k] & JENTRY_TYPEMASK) | totallen | JENTRY_HAS_OFF;
	}
	/* and the object as a whole, as jsonb checks it */
	if (buf.len - VARHDRSZ > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb object elements exceeds the maximum of %d bytes",
						JENTRY_OFFLENMASK)));
	memcpy(buf.data + entries_at, entries, sizeof(JEntry) * c->nkeys * 2);
	SET_VARSIZE(buf.data, buf.len);
	return (Jsonb *) buf.data;
}

/* the writer lock's state and the head of the chain */
typedef struct FFHistoryHead
{
	bool		held;			/* this transaction holds the writer lock */
	int64		change_set;		/* the transaction's change-set (if held) */
	int64		last_version;	/* 0 = empty history */
	char	   *last_hash;		/* NULL = empty history */
} FFHistoryHead;

/*
 * A version this backend saw committed, 0 at first: a lower bound of the
 * latest version for FFHistoryLatestVersion.  Versions are never removed,
 * so the bound only ever becomes wrong when ff.versions is dropped and
 * created again (DROP EXTENSION), and then it is only too high, which the
 * search notices.
 */
static int64 FFHistoryHeadHint = 0;

/*
 * FFHistoryLatestVersion starts an ordered scan of ff.versions' primary key
 * (returned in *scan, for the caller to end) and returns its latest row, or
 * NULL when the history is empty.
 *
 * A backward scan without keys reads every entry of the rightmost leaf page
 * before returning the first (up to about 400 versions), so it is bounded
 * below by FFHistoryHeadHint: version >= bound is required in that
 * direction, and the page is read only down to the bound.  When nothing is
 * at or above it (a bound from a history since dropped), the scan starts
 * again without the bound.
 */
static HeapTuple
FFHistoryLatestVersion(Relation versions, Relation pk, Snapshot snapshot,
					   SysScanDesc *scan)
{
	HeapTuple	tup;

	if (FFHistoryHeadHint > 0)
	{
		ScanKeyData key;

		ScanKeyInit(&key, FF_V_VERSION + 1, BTGreaterEqualStrategyNumber, F_INT8GE,
					Int64GetDatum(FFHistoryHeadHint));
		*scan = systable_beginscan_ordered(versions, pk, snapshot, 1, &key);
		tup = systable_getnext_ordered(*scan, BackwardScanDirection);
		if (HeapTupleIsValid(tup))
			return tup;
		systable_endscan_ordered(*scan);
		FFHistoryHeadHint = 0;
	}
	*scan = systable_beginscan_ordered(versions, pk, snapshot, 0, NULL);
	return systable_getnext_ordered(*scan, BackwardScanDirection);
}

/*
 * FFHistoryWriterLockTag sets tag to the writer lock of 1.5 and later: a
 * heavyweight lock, held until the transaction ends (or the subtransaction
 * that took it aborts), in exclusive mode on an object that nothing else
 * locks -- ff.versions as an object of pg_class (LOCKTAG_OBJECT; PostgreSQL
 * itself locks relations with LOCKTAG_RELATION, so this conflicts with no
 * table lock).  pg_locks shows it
 * as locktype "object" with classid pg_class and objid ff.versions.  It
 * replaces the UPDATE of ff.history_lock's row of 1.4 and earlier: no row
 * version, no WAL record, no executor, and a waiter that wakes up does not
 * re-check an updated row.
 */
static void
FFHistoryWriterLockTag(LOCKTAG *tag, Oid versions_relid)
{
	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId, RelationRelationId, versions_relid, 0);
}

/*
 * FFHistoryWriterLockHeld tells whether this transaction holds the writer
 * lock of 1.5 (from the backend's own lock table: no shared memory access).
 */
static bool
FFHistoryWriterLockHeld(Oid versions_relid)
{
	LOCKTAG		tag;

	FFHistoryWriterLockTag(&tag, versions_relid);
	return LockHeldByMe(&tag, ExclusiveLock);
}

/*
 * FFHistoryWriterLockWaitContext names the writer lock in the CONTEXT of an
 * error raised while a writer waits for it (lock_timeout, statement_timeout,
 * a deadlock, a cancel): PostgreSQL's own message names no object.
 */
static void
FFHistoryWriterLockWaitContext(void *arg)
{
	errcontext("waiting for the configuration history's writer lock, which another transaction holds until it ends (see ff.writer_lock)");
}

/*
 * FFHistoryTakeWriterLock takes the writer lock of 1.5 unless the
 * transaction holds it, waiting for the writer that holds it to commit or
 * roll back (lock_timeout, statement_timeout and the deadlock detector
 * apply).  Returns whether it took the lock now; a transaction whose
 * snapshot lives as long as the transaction must then check it
 * (FFHistoryReadLatest with check_snapshot).
 */
static bool
FFHistoryTakeWriterLock(Oid versions_relid)
{
	LOCKTAG		tag;

	FFHistoryWriterLockTag(&tag, versions_relid);
	if (LockHeldByMe(&tag, ExclusiveLock))
		return false;
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		ErrorContextCallback wait_context;

		wait_context.callback = FFHistoryWriterLockWaitContext;
		wait_context.arg = NULL;
		wait_context.previous = error_context_stack;
		error_context_stack = &wait_context;
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		error_context_stack = wait_context.previous;
	}
	return true;
}

/*
 * FFHistoryReadLatest reads the head of the chain for a transaction that
 * holds the writer lock: the latest version and its hash, with a fresh
 * snapshot, and the transaction's change-set.  Nobody else can add a version
 * while the lock is held, so every version after the latest committed one is
 * the holder's, and the change-set is the latest version's if that one is
 * the holder's, else the version about to be written.
 *
 * check_snapshot: the lock was just taken by a transaction whose snapshot
 * lives as long as the transaction (REPEATABLE READ, SERIALIZABLE).  If the
 * latest version was committed after that snapshot was taken, the
 * transaction's reads of the configuration and of the history are older than
 * the head it would chain to, and it gets a serialization failure.  (1.4 got
 * it from the UPDATE of the lock row, also when the previous holder had
 * recorded nothing.)
 */
static void
FFHistoryReadLatest(Oid versions_relid, FFHistoryHead *head, bool check_snapshot)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	uint64		me = U64FromFullTransactionId(GetTopFullTransactionId());
	Relation	versions = table_open(versions_relid, AccessShareLock);
	Relation	pk = index_open(RelationGetPrimaryKeyIndex(versions), AccessShareLock);
	TupleDesc	vdesc = RelationGetDescr(versions);
	SysScanDesc scan;
	HeapTuple	tup;
	bool		isnull;
	bool		unseen = false;

	head->change_set = 1;
	head->last_version = 0;
	head->last_hash = NULL;
	tup = FFHistoryLatestVersion(versions, pk, snapshot, &scan);
	if (HeapTupleIsValid(tup))
	{
		Datum		h;
		Datum		xid;

		head->last_version = DatumGetInt64(heap_getattr(tup, FF_V_VERSION + 1, vdesc, &isnull));
		if (check_snapshot)
		{
			TransactionId xmin = HeapTupleHeaderGetXmin(tup->t_data);

			unseen = !TransactionIdIsCurrentTransactionId(xmin) &&
				XidInMVCCSnapshot(xmin, GetTransactionSnapshot());
		}
		h = heap_getattr(tup, FF_V_HASH + 1, vdesc, &isnull);
		head->last_hash = isnull ? NULL : TextDatumGetCString(h);
		xid = heap_getattr(tup, FF_V_XACT_ID + 1, vdesc, &isnull);

		/*
		 * The latest version is this transaction's own when it carries its
		 * transaction id and this transaction inserted it: a version restored
		 * from another cluster (pg_dump, a subscriber) carries that cluster's
		 * id, which can equal this one's by coincidence.
		 */
		if (!isnull && DatumGetUInt64(xid) == me &&
			TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data)))
			head->change_set = DatumGetInt64(heap_getattr(tup, FF_V_CHANGE_SET + 1, vdesc, &isnull));
		else
		{
			head->change_set = head->last_version + 1;
			/* another transaction's, hence committed: it stays */
			FFHistoryHeadHint = head->last_version;
		}
	}
	systable_endscan_ordered(scan);
	index_close(pk, AccessShareLock);
	table_close(versions, AccessShareLock);
	UnregisterSnapshot(snapshot);
	if (unseen)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent update"),
				 errdetail("Version %lld of the configuration history was committed after this transaction's snapshot was taken.",
						   (long long) head->last_version),
				 errhint("Retry the transaction.")));
}

/*
 * FFHistoryRowLockHeld tells whether this transaction holds the writer lock
 * of 1.4 and earlier, the row lock of ff.history_lock: taken by
 * ff_history_writer_lock in this transaction, or by the PL/pgSQL
 * ff._history_next() of those versions, which records itself as the row's
 * holder.
 */
static bool
FFHistoryRowLockHeld(Oid lock_relid)
{
	Snapshot	snapshot;
	Relation	lock;
	Relation	lockpk;
	TupleDesc	ldesc;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		held = false;

	if (FFHistoryLockSubid != InvalidSubTransactionId)
		return true;

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	lock = table_open(lock_relid, AccessShareLock);
	lockpk = index_open(RelationGetPrimaryKeyIndex(lock), AccessShareLock);
	ldesc = RelationGetDescr(lock);
	/* through the primary key: the heap page holds the row's dead versions */
	ScanKeyInit(&key, FFTriggerAttnum(lock, "id"), BTEqualStrategyNumber, F_BOOLEQ,
				BoolGetDatum(true));
	scan = systable_beginscan(lock, RelationGetRelid(lockpk), true, snapshot, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		holder = heap_getattr(tup, FFTriggerAttnum(lock, "holder"), ldesc, &isnull);

		held = !isnull &&
			DatumGetUInt64(holder) == U64FromFullTransactionId(GetTopFullTransactionId());
	}
	systable_endscan(scan);
	index_close(lockpk, AccessShareLock);
	table_close(lock, AccessShareLock);
	UnregisterSnapshot(snapshot);
	return held;
}

/*
 * FFHistoryReadHead tells whether this transaction holds the writer lock
 * (the protocol of the call site's extension version) and, if so, reads the
 * head of the chain (FFHistoryReadLatest).  Only the holder's head is
 * meaningful.
 */
static void
FFHistoryReadHead(FFHistoryTrigCache *c, FFHistoryHead *head)
{
	memset(head, 0, sizeof(*head));
	if (c->xact_lock)
		head->held = FFHistoryWriterLockHeld(c->versions_relid);
	else
		head->held = FFHistoryRowLockHeld(c->lock_relid);
	if (head->held)
		FFHistoryReadLatest(c->versions_relid, head, false);
}

/*
 * FFHistoryJsonbValueEqual tells whether two jsonb values are equal as
 * jsonb's = operator says: scalars by type and content, containers by
 * compareJsonbContainers.
 */
static bool
FFHistoryJsonbValueEqual(JsonbValue *a, JsonbValue *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetBool(DirectFunctionCall2(numeric_eq,
													NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		case jbvBinary:
			return compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
		default:
			return false;
	}
}

/*
 * FFHistoryIsStamp tells whether a row image's member is one of the stamps
 * the history trigger writes: "version", and with updated_at also
 * "updated_at".
 */
static inline bool
FFHistoryIsStamp(const JsonbValue *key, bool updated_at)
{
	return (key->val.string.len == 7 &&
			memcmp(key->val.string.val, "version", 7) == 0) ||
		(updated_at && key->val.string.len == 10 &&
		 memcmp(key->val.string.val, "updated_at", 10) == 0);
}

/*
 * FFHistoryMembersIn tells whether every member of a but the stamps
 * ("version", and with updated_at "updated_at") is in b with an equal value,
 * for two row images (jsonb objects), without building either; *count is
 * set to the number of members compared.
 */
static bool
FFHistoryMembersIn(Jsonb *a, Jsonb *b, bool updated_at, int *count)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	value;
	JsonbIteratorToken tok;

	*count = 0;
	if (!JB_ROOT_IS_OBJECT(a) || !JB_ROOT_IS_OBJECT(b))
		return false;
	it = JsonbIteratorInit(&a->root);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		JsonbValue *other;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &value, true);
		Assert(tok == WJB_VALUE);
		if (FFHistoryIsStamp(&key, updated_at))
			continue;
		(*count)++;
		other = getKeyJsonValueFromContainer(&b->root, key.val.string.val,
											 key.val.string.len, NULL);
		if (other == NULL || !FFHistoryJsonbValueEqual(&value, other))
			return false;
	}
	return true;
}

/* what two row images differ in (FFHistoryImageDiff) */
#define FF_DIFF_VERSION		0x01	/* the "version" stamp */
#define FF_DIFF_UPDATED_AT	0x02	/* the "updated_at" stamp */
#define FF_DIFF_OTHER		0x04	/* any other member */
#define FF_DIFF_KEYS		(-1)	/* not the same keys in the same order */

/*
 * FFHistoryImageDiff compares two row images (jsonb objects) member by
 * member, as jsonb's = compares values, and returns the FF_DIFF_* bits of
 * the members that differ (0 when the images are equal), or FF_DIFF_KEYS
 * when the two do not have the same keys, for the caller to compare them
 * otherwise.
 *
 * Images of one table have the same keys in the same order, so the two
 * objects are walked side by side in their stored form, without unpacking
 * either.  A member whose stored bytes are the same in both is equal; one
 * whose bytes differ is unequal unless it is a number or a container of
 * the same type in both, which can be equal with other bytes (a numeric's
 * scale, a container's alignment padding, which depends on the members
 * before it) and is then compared by value.  Comparing images with jsonb's =
 * and member by member (FFHistoryMembersIn) cost about 12 k instructions a
 * time, three times per change; one walk of the old and new images now
 * answers both whether an UPDATE changes anything and whether it changes
 * only the stamps.
 */
static int
FFHistoryImageDiff(Jsonb *a, Jsonb *b)
{
	JsonbContainer *ca = &a->root;
	JsonbContainer *cb = &b->root;
	const char *data_a;
	const char *data_b;
	uint32		n;
	uint32		i;
	uint32		koff_a = 0;
	uint32		koff_b = 0;
	uint32		voff_a;
	uint32		voff_b;
	int			diff = 0;

	if (!JB_ROOT_IS_OBJECT(a) || !JB_ROOT_IS_OBJECT(b) ||
		JB_ROOT_COUNT(a) != JB_ROOT_COUNT(b))
		return FF_DIFF_KEYS;
	n = JB_ROOT_COUNT(a);
	/* an object's n keys come first, then its n values, in the same order */
	data_a = (const char *) &ca->children[n * 2];
	data_b = (const char *) &cb->children[n * 2];
	voff_a = getJsonbOffset(ca, n);
	voff_b = getJsonbOffset(cb, n);
	for (i = 0; i < n; i++)
	{
		JEntry		ka = ca->children[i];
		JEntry		kb = cb->children[i];
		JEntry		va = ca->children[n + i];
		JEntry		vb = cb->children[n + i];
		const char *key = data_a + koff_a;
		uint32		klen;
		uint32		vlen_a;
		uint32		vlen_b;
		uint32		next;

		next = koff_a;
		JBE_ADVANCE_OFFSET(next, ka);
		klen = next - koff_a;
		koff_a = next;
		next = koff_b;
		JBE_ADVANCE_OFFSET(next, kb);
		if (next - koff_b != klen || memcmp(key, data_b + koff_b, klen) != 0)
			return FF_DIFF_KEYS;
		koff_b = next;

		next = voff_a;
		JBE_ADVANCE_OFFSET(next, va);
		vlen_a = next - voff_a;
		next = voff_b;
		JBE_ADVANCE_OFFSET(next, vb);
		vlen_b = next - voff_b;
		if ((va & JENTRY_TYPEMASK) != (vb & JENTRY_TYPEMASK) || vlen_a != vlen_b ||
			memcmp(data_a + voff_a, data_b + voff_b, vlen_a) != 0)
		{
			bool		equal = false;

			if ((va & JENTRY_TYPEMASK) == (vb & JENTRY_TYPEMASK) &&
				(JBE_ISNUMERIC(va) || JBE_ISCONTAINER(va)))
			{
				JsonbValue *x = getKeyJsonValueFromContainer(ca, key, klen, NULL);
				JsonbValue *y = getKeyJsonValueFromContainer(cb, key, klen, NULL);

				equal = x != NULL && y != NULL && FFHistoryJsonbValueEqual(x, y);
			}
			if (!equal && klen == 7 && memcmp(key, "version", 7) == 0)
				diff |= FF_DIFF_VERSION;
			else if (!equal && klen == 10 && memcmp(key, "updated_at", 10) == 0)
				diff |= FF_DIFF_UPDATED_AT;
			else if (!equal)
				diff |= FF_DIFF_OTHER;
		}
		voff_a += vlen_a;
		voff_b += vlen_b;
	}
	return diff;
}

/*
 * FFHistoryEqualButStamps tells whether (a - 'version') = (b - 'version')
 * for two row images (jsonb objects): every member of a but "version" is in
 * b with an equal value, and b has no other.  With updated_at, "updated_at"
 * is left out of the comparison as well.
 */
static bool
FFHistoryEqualButStamps(Jsonb *a, Jsonb *b, bool updated_at)
{
	JsonbValue	value;
	int			count;
	int			b_count;
	int			diff = FFHistoryImageDiff(a, b);

	/* the same keys (images of one table): from the members that differ */
	if (diff != FF_DIFF_KEYS)
		return (diff & ~(FF_DIFF_VERSION | (updated_at ? FF_DIFF_UPDATED_AT : 0))) == 0;

	/* else member by member, by key */
	if (!FFHistoryMembersIn(a, b, updated_at, &count))
		return false;
	b_count = JB_ROOT_COUNT(b);
	if (getKeyJsonValueFromContainer(&b->root, "version", 7, &value) != NULL)
		b_count--;
	if (updated_at &&
		getKeyJsonValueFromContainer(&b->root, "updated_at", 10, &value) != NULL)
		b_count--;
	return count == b_count;
}

/*
 * FFHistoryInSync tells whether a config row image is exactly what the
 * history already records for its entity (the test of
 * ff._history_row_trigger_general(), for an UPDATE): the entity's latest
 * version other than KEYS is not a DELETE, its after image equals the row
 * apart from "version", and the row is stamped with that version (or both
 * the old and the new row are unstamped).
 *
 * A stamped row can only be in sync with its own version, so the entity's
 * versions are read from the newest down to that one (version >= the stamp
 * is required in that direction): a backward scan reads every matching
 * entry of an index page before returning the first, and an entity with a
 * long history fills its pages.
 *
 * With recorded, *recorded is set to a copy of the after image of the
 * entity's latest version at or above the stamp when that version is not a
 * DELETE (1.18: the caller tells from it a row that drifted from its
 * history), else to NULL.
 */
static bool
FFHistoryInSync(FFHistoryTrigCache *c, const char *entity, Datum env, Datum key,
				Jsonb *new_img, bool new_stamped, int64 new_version, bool old_stamped,
				Jsonb **recorded)
{
	Snapshot	snapshot;
	Relation	versions;
	TupleDesc	vdesc;
	Oid			idxoid;
	Relation	idx;
	ScanKeyData skey[4];
	Datum		vals[3];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		in_sync = false;
	bool		tup_seen = false;
	int			i;

	if (recorded)
		*recorded = NULL;
	/* an unstamped row whose old row was stamped is never in sync */
	if (!new_stamped && old_stamped)
	{
		/* (1.18) the entity's latest image, read without the stamp */
		if (recorded)
			(void) FFHistoryInSync(c, entity, env, key, new_img, false, 0, false, recorded);
		return false;
	}

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	versions = table_open(c->versions_relid, AccessShareLock);
	vdesc = RelationGetDescr(versions);
	idxoid = get_relname_relid("versions_entity_idx", RelationGetNamespace(versions));

	if (!OidIsValid(idxoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("index \"ff.versions_entity_idx\" of extension \"feature_flags\" does not exist"),
				 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	idx = index_open(idxoid, AccessShareLock);
	vals[0] = CStringGetTextDatum(entity);
	vals[1] = env;
	vals[2] = key;
	for (i = 0; i < 3; i++)
	{
		ScanKeyInit(&skey[i], FF_V_ENTITY + 1 + i, BTEqualStrategyNumber, F_TEXTEQ, vals[i]);
		skey[i].sk_collation = idx->rd_indcollation[i];
	}
	if (new_stamped)
		ScanKeyInit(&skey[3], FF_V_VERSION + 1, BTGreaterEqualStrategyNumber, F_INT8GE,
					Int64GetDatum(new_version));
	scan = systable_beginscan_ordered(versions, idx, snapshot, new_stamped ? 4 : 3, skey);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, BackwardScanDirection)))
	{
		bool		isnull;
		char	   *op;
		int64		version;
		Datum		after;

		CHECK_FOR_INTERRUPTS();
		op = TextDatumGetCString(heap_getattr(tup, FF_V_OPERATION + 1, vdesc, &isnull));
		if (strcmp(op, "KEYS") == 0)
			continue;
		tup_seen = true;
		if (strcmp(op, "DELETE") == 0)
			break;
		version = DatumGetInt64(heap_getattr(tup, FF_V_VERSION + 1, vdesc, &isnull));
		after = heap_getattr(tup, FF_V_AFTER + 1, vdesc, &isnull);
		if (isnull)
			break;
		if (recorded)
			*recorded = DatumGetJsonbPCopy(after);
		/*
		 * A stamped row is in sync only with its own version; an unstamped
		 * one (whose old row was unstamped too: the early return) with the
		 * latest.
		 */
		if (new_stamped && version != new_version)
			break;
		in_sync = FFHistoryEqualButStamps(DatumGetJsonbP(after), new_img, false);
		break;
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(versions, AccessShareLock);
	UnregisterSnapshot(snapshot);

	/*
	 * (1.18) a stamp above the entity's latest version (written along with
	 * an unrecorded change) hid that version from the scan: read the
	 * entity's latest image without the stamp
	 */
	if (recorded && *recorded == NULL && new_stamped && !tup_seen)
		(void) FFHistoryInSync(c, entity, env, key, new_img, false, 0, false, recorded);
	return in_sync;
}

/*
 * FFHistoryAppendJsonValue appends one value of a ff.versions row as
 * to_jsonb() renders it: null, a number (bigint), a string (text; xid8,
 * which has no JSON form, as its text), a timestamp (JSON's ISO form in
 * UTC) or a jsonb document.
 */
static void
FFHistoryAppendJsonValue(StringInfo out, int column, Datum value, bool isnull)
{
	char		buf[MAXDATELEN + 1];

	if (isnull)
	{
		appendStringInfoString(out, "null");
		return;
	}
	switch (FFVersionTypes[column])
	{
		case INT8OID:
			(void) pg_lltoa(DatumGetInt64(value), buf);
			appendStringInfoString(out, buf);
			break;
		case XID8OID:
			{
				int			len = pg_ulltoa_n(DatumGetUInt64(value), buf + 1);

				buf[0] = '"';
				buf[len + 1] = '"';
				appendBinaryStringInfo(out, buf, len + 2);
			}
			break;
		case TIMESTAMPTZOID:
			appendStringInfoChar(out, '"');
			appendStringInfoString(out, JsonEncodeDateTime(buf, value, TIMESTAMPTZOID, &FFHistoryUtc));
			appendStringInfoChar(out, '"');
			break;
		case JSONBOID:
			{
				Jsonb	   *jb = DatumGetJsonbP(value);

				(void) JsonbToCString(out, &jb->root, VARSIZE(jb));
			}
			break;
		default:
			escape_json(out, TextDatumGetCString(value));
			break;
	}
}

/*
 * FFHistoryHash returns the hash of a ff.versions row: hex SHA-256 of the
 * UTF-8 bytes of (to_jsonb(row) - 'hash')::text with TimeZone UTC, the
 * definition ff.verify_history() checks.  The text is written directly:
 * jsonb's text form lists an object's keys by length, then bytewise, with
 * ": " and ", " as separators, so it is known without building the
 * document.
 */
static char *
FFHistoryHash(Datum *values, bool *nulls)
{
	/* the columns but hash, in jsonb's key order */
	static const int order[FF_V_NUM - 1] = {
		FF_V_AFTER, FF_V_DELTA,			/* 5 */
		FF_V_BEFORE, FF_V_ENTITY,		/* 6 */
		FF_V_COMMENT, FF_V_VERSION, FF_V_XACT_ID,	/* 7 */
		FF_V_OPERATION, FF_V_PREV_HASH, /* 9 */
		FF_V_CHANGE_SET, FF_V_CHANGED_AT, FF_V_CHANGED_BY, FF_V_ENTITY_KEY,	/* 10 */
		FF_V_ENVIRONMENT,				/* 11 */
		FF_V_APPLICATION_NAME,			/* 16 */
		FF_V_SESSION_USER				/* 17 */
	};
	StringInfoData text;
	char	   *utf8;
	pg_cryptohash_ctx *ctx;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			i;

	initStringInfo(&text);
	appendStringInfoChar(&text, '{');
	for (i = 0; i < FF_V_NUM - 1; i++)
	{
		int			col = order[i];

		if (i > 0)
			appendBinaryStringInfo(&text, ", ", 2);
		appendStringInfoChar(&text, '"');
		appendStringInfoString(&text, FFVersionColumns[col]);
		appendBinaryStringInfo(&text, "\": ", 3);
		FFHistoryAppendJsonValue(&text, col, values[col], nulls[col]);
	}
	appendStringInfoChar(&text, '}');

	/* the hash is over the UTF-8 bytes (convert_to(..., 'UTF8')) */
	utf8 = pg_server_to_any(text.data, text.len, PG_UTF8);
	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) utf8, strlen(utf8)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the SHA-256 hash of history version " INT64_FORMAT,
						DatumGetInt64(values[FF_V_VERSION])),
				 errdetail("%s", pg_cryptohash_error(ctx))));
	pg_cryptohash_free(ctx);
	hex_encode((const char *) digest, PG_SHA256_DIGEST_LENGTH, hex);
	hex[PG_SHA256_DIGEST_LENGTH * 2] = '\0';
	return hex;
}

/*
 * The CHECK constraints of ff.versions and the WHEN conditions of its
 * triggers, ready to evaluate.  The executor reads both back from their
 * stored node trees and plans them for every statement that inserts -- for
 * this table, once per change, the largest single cost of appending a
 * version.  They are built once per backend instead, in FFVersionExprCxt,
 * and handed to each insert's ResultRelInfo (ri_ConstraintExprs, in the
 * order of the relcache entry's checks; ri_TrigWhenExprs, by the position
 * of the trigger in its trigger descriptor, as TriggerEnabled() indexes
 * it).  A relcache invalidation of ff.versions (a constraint or trigger
 * added or dropped, any ALTER TABLE) marks them stale, and the next insert
 * rebuilds them.  Only an insert that is not nested inside another one uses
 * them: a nested insert (from a trigger or a CHECK function a user added to
 * ff.versions, which may run while the outer insert evaluates one of these
 * expressions) gets none, and the executor builds its own for it, so an
 * ExprState is never evaluated re-entrantly nor freed while in use.
 */
typedef struct FFVersionExprs
{
	bool		valid;
	Oid			relid;
	int			ncheck;
	ExprState **checks;			/* ncheck, or NULL when ncheck is 0 */
	int			ntrig;
	Oid		   *tgoids;			/* the trigger at each position */
	ExprState **whens;			/* its WHEN condition, or NULL */
} FFVersionExprs;

static MemoryContext FFVersionExprCxt = NULL;
static FFVersionExprs FFVersionExprCache;
static int	FFVersionInsertDepth = 0;

/*
 * FFHistoryVersionsRelcacheCallback marks the cached expressions stale when
 * ff.versions (or every relation) is invalidated.
 */
static void
FFHistoryVersionsRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == FFVersionExprCache.relid)
		FFVersionExprCache.valid = false;
}

/*
 * FFHistoryVersionsProcCallback marks the cached expressions stale when any
 * function changes: planning inlined the SQL functions they call as they
 * were then (CREATE OR REPLACE FUNCTION sends no relcache invalidation of
 * ff.versions), as PostgreSQL's plan cache also replans on such a change.
 */
static void
FFHistoryVersionsProcCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	FFVersionExprCache.valid = false;
}

/*
 * FFHistoryVersionExprsMatch tells whether the cached expressions were built
 * for this relcache entry of ff.versions: the same checks and triggers.
 */
static bool
FFHistoryVersionExprsMatch(Relation versions)
{
	FFVersionExprs *x = &FFVersionExprCache;
	TupleConstr *constr = RelationGetDescr(versions)->constr;
	TriggerDesc *trigdesc = versions->trigdesc;
	int			i;

	if (!x->valid || x->relid != RelationGetRelid(versions) ||
		x->ncheck != (constr ? constr->num_check : 0) ||
		x->ntrig != (trigdesc ? trigdesc->numtriggers : 0))
		return false;
	for (i = 0; i < x->ntrig; i++)
		if (x->tgoids[i] != trigdesc->triggers[i].tgoid)
			return false;
	return true;
}

/*
 * FFHistoryVersionExprs returns the cached expressions for an insert into
 * ff.versions, building them if they are stale, or NULL when the insert is
 * nested in another one (see above).  The WHEN conditions are prepared as
 * TriggerEnabled() prepares them: OLD and NEW become the inner and outer
 * tuple, in implicit-AND form.
 */
static FFVersionExprs *
FFHistoryVersionExprs(Relation versions)
{
	FFVersionExprs *x = &FFVersionExprCache;
	TupleConstr *constr = RelationGetDescr(versions)->constr;
	TriggerDesc *trigdesc = versions->trigdesc;
	MemoryContext old;
	int			i;

	if (FFVersionInsertDepth > 0)
		return NULL;
	if (FFHistoryVersionExprsMatch(versions))
		return x;

	if (FFVersionExprCxt == NULL)
		FFVersionExprCxt = AllocSetContextCreate(CacheMemoryContext,
												 "feature_flags versions expressions",
												 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(FFVersionExprCxt);
	memset(x, 0, sizeof(*x));
	x->relid = RelationGetRelid(versions);
	/* an invalidation while building (catalog reads) leaves them stale */
	x->valid = true;
	old = MemoryContextSwitchTo(FFVersionExprCxt);
	if (constr != NULL && constr->num_check > 0)
	{
		ExprState **checks = palloc0(sizeof(ExprState *) * constr->num_check);

		for (i = 0; i < constr->num_check; i++)
		{
			Expr	   *expr = stringToNode(constr->check[i].ccbin);

			checks[i] = ExecInitExpr(expression_planner(expr), NULL);
		}
		x->checks = checks;
		x->ncheck = constr->num_check;
	}
	if (trigdesc != NULL && trigdesc->numtriggers > 0)
	{
		Oid		   *tgoids = palloc0(sizeof(Oid) * trigdesc->numtriggers);
		ExprState **whens = palloc0(sizeof(ExprState *) * trigdesc->numtriggers);

		for (i = 0; i < trigdesc->numtriggers; i++)
		{
			Trigger    *trigger = &trigdesc->triggers[i];

			tgoids[i] = trigger->tgoid;
			if (trigger->tgqual != NULL)
			{
				Node	   *qual = stringToNode(trigger->tgqual);

				ChangeVarNodes(qual, PRS2_OLD_VARNO, INNER_VAR, 0);
				ChangeVarNodes(qual, PRS2_NEW_VARNO, OUTER_VAR, 0);
				qual = (Node *) make_ands_implicit((Expr *) qual);
				whens[i] = ExecInitQual((List *) expression_planner((Expr *) qual), NULL);
			}
		}
		x->tgoids = tgoids;
		x->whens = whens;
		x->ntrig = trigdesc->numtriggers;
	}
	MemoryContextSwitchTo(old);
	return x->valid ? x : NULL;
}

/*
 * FFHistoryInsertVersion inserts one row into ff.versions as an INSERT
 * statement would -- BEFORE ROW triggers, NOT NULL and CHECK constraints,
 * the indexes (a duplicate version is a unique violation), AFTER ROW
 * triggers such as the deferred ff_90_notify -- but without planning and
 * starting a query for it, the way logical replication applies a row.  The
 * command counter advances afterwards, as after an SPI query, so the next
 * row of the same statement sees the new head of the history.
 */
static void
FFHistoryInsertVersion(Relation versions, Datum *values, bool *nulls)
{
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	TupleTableSlot *slot;
	FFVersionExprs *exprs;

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(versions);
	rte->relkind = versions->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make1(rte));
	InitResultRelInfo(rri, versions, 1, NULL, 0);
	/* where ExecGetTriggerResultRel() finds it for the AFTER triggers */
	estate->es_opened_result_relations = list_make1(rri);
	estate->es_output_cid = GetCurrentCommandId(true);

	slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(versions), &TTSOpsVirtual);
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * FF_V_NUM);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * FF_V_NUM);
	ExecStoreVirtualTuple(slot);

	/* else ExecConstraints() and TriggerEnabled() build them for this insert */
	exprs = FFHistoryVersionExprs(versions);
	if (exprs != NULL)
	{
		rri->ri_ConstraintExprs = exprs->checks;
		if (exprs->ntrig > 0)
			memcpy(rri->ri_TrigWhenExprs, exprs->whens, sizeof(ExprState *) * exprs->ntrig);
	}

	ExecOpenIndices(rri, false);
	AfterTriggerBeginQuery();
	FFVersionInsertDepth++;
	PG_TRY();
	{
		ExecSimpleRelationInsert(rri, estate, slot);
	}
	PG_FINALLY();
	{
		FFVersionInsertDepth--;
	}
	PG_END_TRY();
	AfterTriggerEndQuery(estate);
	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	CommandCounterIncrement();
}

/*
 * FFHistoryRecord appends one version to ff.versions (who, when, why,
 * transaction, hash chain): ff._history_record() in C.
 */
static void
FFHistoryRecord(FunctionCallInfo fcinfo, FFHistoryTrigCache *c, FFHistoryHead *head,
				const char *entity, Datum env, Datum key, const char *operation,
				Jsonb *before, Jsonb *after, Jsonb *delta)
{
	FFTriggerSavedUser saved;
	Relation	versions = table_open(c->versions_relid, RowExclusiveLock);
	TupleDesc	vdesc = RelationGetDescr(versions);
	Datum		values[FF_V_NUM];
	bool		nulls[FF_V_NUM];
	const char *role = GetConfigOptionByName("role", NULL, false);
	const char *appname = GetConfigOption("application_name", true, false);
	const char *session_user = GetUserNameFromId(GetSessionUserId(), false);
	int			i;

	/* the hash covers every column: the table must be exactly as expected */
	for (i = 0; i < vdesc->natts || i < FF_V_NUM; i++)
		if (i >= vdesc->natts || i >= FF_V_NUM ||
			TupleDescAttr(vdesc, i)->attisdropped ||
			TupleDescAttr(vdesc, i)->atttypid != FFVersionTypes[i] ||
			strcmp(NameStr(TupleDescAttr(vdesc, i)->attname), FFVersionColumns[i]) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"ff.versions\" does not have the columns of this version of feature_flags"),
					 errdetail("Column %d should be \"%s\".", i + 1,
							   i < FF_V_NUM ? FFVersionColumns[i] : "(none)"),
					 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	memset(nulls, 0, sizeof(nulls));
	values[FF_V_VERSION] = Int64GetDatum(head->last_version + 1);
	values[FF_V_CHANGE_SET] = Int64GetDatum(head->change_set);
	values[FF_V_ENTITY] = CStringGetTextDatum(entity);
	values[FF_V_ENVIRONMENT] = env;
	values[FF_V_ENTITY_KEY] = key;
	values[FF_V_OPERATION] = CStringGetTextDatum(operation);
	values[FF_V_BEFORE] = before ? JsonbPGetDatum(before) : (Datum) 0;
	nulls[FF_V_BEFORE] = before == NULL;
	values[FF_V_AFTER] = after ? JsonbPGetDatum(after) : (Datum) 0;
	nulls[FF_V_AFTER] = after == NULL;
	values[FF_V_DELTA] = delta ? JsonbPGetDatum(delta) : (Datum) 0;
	nulls[FF_V_DELTA] = delta == NULL;
	/*
	 * the role GUC names the session's role (SET ROLE), also under SECURITY
	 * DEFINER; a scheduled change is made as the role that scheduled it
	 */
	values[FF_V_SESSION_USER] = CStringGetTextDatum(session_user);
	if (OidIsValid(FFScheduleActingRole()))
		values[FF_V_CHANGED_BY] =
			CStringGetTextDatum(GetUserNameFromId(FFScheduleActingRole(), false));
	else
		values[FF_V_CHANGED_BY] = strcmp(role, "none") == 0 ?
			values[FF_V_SESSION_USER] : CStringGetTextDatum(role);
	nulls[FF_V_APPLICATION_NAME] = appname == NULL || appname[0] == '\0';
	values[FF_V_APPLICATION_NAME] = nulls[FF_V_APPLICATION_NAME] ? (Datum) 0 : CStringGetTextDatum(appname);
	values[FF_V_CHANGED_AT] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	nulls[FF_V_COMMENT] = ff_change_comment == NULL || ff_change_comment[0] == '\0';
	values[FF_V_COMMENT] = nulls[FF_V_COMMENT] ? (Datum) 0 : CStringGetTextDatum(ff_change_comment);
	values[FF_V_XACT_ID] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	nulls[FF_V_PREV_HASH] = head->last_hash == NULL;
	values[FF_V_PREV_HASH] = nulls[FF_V_PREV_HASH] ? (Datum) 0 : CStringGetTextDatum(head->last_hash);
	values[FF_V_HASH] = (Datum) 0;
	nulls[FF_V_HASH] = true;
	values[FF_V_HASH] = CStringGetTextDatum(FFHistoryHash(values, nulls));
	nulls[FF_V_HASH] = false;

	/*
	 * The row is appended as the extension's owner: the CHECK function of
	 * ff.versions is not executable by the caller (its planned expression is
	 * cached for the backend, whoever inserts next), and triggers on
	 * ff.versions run as they did when this trigger was SECURITY DEFINER.
	 */
	FFTriggerBecomeOwner(fcinfo, &saved);
	FFHistoryInsertVersion(versions, values, nulls);
	FFTriggerRestoreUser(&saved);
	table_close(versions, NoLock);

	head->last_version++;
	head->last_hash = TextDatumGetCString(values[FF_V_HASH]);
}

/*
 * FFHistoryDrifted tells whether an old row image differs from the after
 * image its history last recorded for it, stamps left out.  A row in sync
 * holds the very image that was recorded -- the same columns, made into
 * jsonb the same way, timestamps in UTC -- so equal bytes answer at once
 * (a member-by-member comparison on every UPDATE cost 16 k instructions).
 */
static bool
FFHistoryDrifted(Jsonb *recorded, Jsonb *old_img)
{
	int			count;

	if (VARSIZE(recorded) == VARSIZE(old_img) &&
		memcmp(recorded, old_img, VARSIZE(recorded)) == 0)
		return false;

	/*
	 * As ff.verify_history compares them: every member the history
	 * recorded, but the stamps, as the row holds it -- a column added to
	 * the table since is no drift
	 */
	return !FFHistoryMembersIn(recorded, old_img, true, &count);
}

/*
 * FFHistoryRecordedDelta returns the delta of an UPDATE of a row that
 * drifted from its history (written without being recorded):
 * {"recorded": <the after image of the entity's latest version>}, so that
 * the version tells the unrecorded change (between that image and its
 * before image) from its own (1.18; ff._history_summary shows both).
 */
static Jsonb *
FFHistoryRecordedDelta(Jsonb *recorded)
{
	JsonbParseState *state = NULL;
	JsonbValue	key;
	JsonbValue	value;
	JsonbValue *res;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	key.type = jbvString;
	key.val.string.val = "recorded";
	key.val.string.len = strlen("recorded");
	(void) pushJsonbValue(&state, WJB_KEY, &key);
	value.type = jbvBinary;
	value.val.binary.data = &recorded->root;
	value.val.binary.len = VARSIZE(recorded) - VARHDRSZ;
	(void) pushJsonbValue(&state, WJB_VALUE, &value);
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * FFHistoryRowExists tells whether the config table already holds a row
 * with the entity's identity, read through its primary key with a fresh
 * snapshot: ff._history_row_exists() in C.  A table whose primary key is
 * not the identity (changed by hand) answers true, which sends the INSERT
 * to the PL/pgSQL function.
 */
static bool
FFHistoryRowExists(FFHistoryTrigCache *c, Relation rel, Datum env, Datum key)
{
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	Relation	pk;
	ScanKeyData skey[2];
	int			nkeys;
	int			i;
	bool		exists = true;

	if (!OidIsValid(pkoid))
		return true;
	pk = index_open(pkoid, AccessShareLock);
	nkeys = pk->rd_index->indnkeyatts;
	/* (environment, key) or (environment, name); (name) for environments */
	if (nkeys == (c->env_att == c->key_att ? 1 : 2))
	{
		Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
		SysScanDesc scan;

		for (i = 0; i < nkeys; i++)
		{
			AttrNumber	att = pk->rd_index->indkey.values[i];

			if (att != c->env_att && att != c->key_att)
				break;
			ScanKeyInit(&skey[i], i + 1, BTEqualStrategyNumber, F_TEXTEQ,
						att == c->key_att ? key : env);
			skey[i].sk_collation = pk->rd_indcollation[i];
		}
		if (i == nkeys)
		{
			scan = systable_beginscan_ordered(rel, pk, snapshot, nkeys, skey);
			exists = HeapTupleIsValid(systable_getnext_ordered(scan, ForwardScanDirection));
			systable_endscan_ordered(scan);
		}
		UnregisterSnapshot(snapshot);
	}
	index_close(pk, AccessShareLock);
	return exists;
}

/*
 * FFHistoryInsertFast records the everyday INSERT (ff.create_flag,
 * ff.import_flagd, ff.copy_environment, a hand-written INSERT) in C, as
 * ff._history_row_trigger_general() records it: the row is stamped with its
 * new version and recorded with its image as after image.  It sets
 * *general instead for the PL/pgSQL function's cases: a stamped row (a
 * restore), a row in sync with its history (recorded already), and a row
 * whose identity exists (INSERT ... ON CONFLICT, whose UPDATE, if any, is
 * what gets recorded).
 */
static Datum
FFHistoryInsertFast(FunctionCallInfo fcinfo, FFHistoryTrigCache *c, TriggerData *trigdata,
					const char *entity, FFHistoryHead *head, bool *general)
{
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	HeapTuple	newtup = trigdata->tg_trigtuple;
	Datum		env;
	Datum		key;
	Jsonb	   *new_img;
	bool		isnull;
	int			cols[2];
	Datum		vals[2];
	bool		nulls[2] = {false, false};

	(void) heap_getattr(newtup, c->version_att, desc, &isnull);
	if (!isnull)
		return (Datum) 0;
	env = heap_getattr(newtup, c->env_att, desc, &isnull);
	key = heap_getattr(newtup, c->key_att, desc, &isnull);
	new_img = FFHistoryRowJsonb(c, newtup, desc);
	if (FFHistoryInSync(c, entity, env, key, new_img, false, 0, false, NULL) ||
		FFHistoryRowExists(c, trigdata->tg_relation, env, key))
		return (Datum) 0;

	cols[0] = c->version_att;
	vals[0] = Int64GetDatum(head->last_version + 1);
	cols[1] = c->updated_at_att;
	vals[1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	newtup = heap_modify_tuple_by_cols(newtup, desc, 2, cols, vals, nulls);
	FFHistoryRecord(fcinfo, c, head, entity, env, key, "INSERT", NULL,
					FFHistoryRowJsonb(c, newtup, desc), NULL);
	*general = false;
	return PointerGetDatum(newtup);
}

/*
 * FFHistoryRowFast records an INSERT of a new entity (FFHistoryInsertFast),
 * an UPDATE that keeps the row's identity, or a DELETE, in C (see
 * ff_history_row_trigger) and returns the row the trigger returns; it sets
 * *general instead when the case is the PL/pgSQL function's.
 */
static Datum
FFHistoryRowFast(FunctionCallInfo fcinfo, FFHistoryTrigCache *c, TriggerData *trigdata,
				 const char *entity, bool *general)
{
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	oldtup;
	HeapTuple	newtup;
	Jsonb	   *old_img;
	Jsonb	   *new_img;
	Datum		old_env,
				old_key,
				new_env,
				new_key;
	bool		isnull;
	bool		old_stamped;
	bool		new_stamped;
	int64		new_version = 0;
	Jsonb	   *recorded = NULL;
	int			diff;
	FFHistoryHead head;
	int			cols[2];
	Datum		vals[2];
	bool		nulls[2] = {false, false};

	*general = true;
	FFHistoryReadHead(c, &head);
	if (!head.held)
		return (Datum) 0;

	/* (1.4 and earlier record every INSERT with their own PL/pgSQL) */
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return c->xact_lock ?
			FFHistoryInsertFast(fcinfo, c, trigdata, entity, &head, general) : (Datum) 0;

	oldtup = trigdata->tg_trigtuple;
	old_env = heap_getattr(oldtup, c->env_att, desc, &isnull);
	old_key = heap_getattr(oldtup, c->key_att, desc, &isnull);
	old_img = FFHistoryRowJsonb(c, oldtup, desc);

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		/*
		 * (1.18) the deletion of a row that drifted from its history keeps
		 * the history's last image of it too, so that the unrecorded change
		 * is marked (the index read is paid by DELETEs alone)
		 */
		(void) FFHistoryInSync(c, entity, old_env, old_key, old_img, false, 0, false, &recorded);
		FFHistoryRecord(fcinfo, c, &head, entity, old_env, old_key, "DELETE", old_img, NULL,
						recorded && FFHistoryDrifted(recorded, old_img) ?
						FFHistoryRecordedDelta(recorded) : NULL);
		*general = false;
		return PointerGetDatum(oldtup);
	}

	newtup = trigdata->tg_newtuple;
	new_env = heap_getattr(newtup, c->env_att, desc, &isnull);
	new_key = heap_getattr(newtup, c->key_att, desc, &isnull);
	new_img = FFHistoryRowJsonb(c, newtup, desc);

	/*
	 * what the UPDATE changes: both images come from one row type, so they
	 * have the same keys (were they ever not to, FF_DIFF_KEYS counts as a
	 * change of more than the stamps, which is recorded)
	 */
	diff = FFHistoryImageDiff(old_img, new_img);
	Assert(diff != FF_DIFF_KEYS);

	/* an UPDATE that changes nothing is not a change */
	if (diff == 0)
	{
		*general = false;
		return PointerGetDatum(newtup);
	}

	/* a renamed key: the PL/pgSQL function records a DELETE and an INSERT */
	if (!DatumGetBool(DirectFunctionCall2Coll(texteq, DEFAULT_COLLATION_OID, old_env, new_env)) ||
		!DatumGetBool(DirectFunctionCall2Coll(texteq, DEFAULT_COLLATION_OID, old_key, new_key)))
		return (Datum) 0;

	/* a row brought back to what the history records (a restore) */
	(void) heap_getattr(oldtup, c->version_att, desc, &isnull);
	old_stamped = !isnull;
	vals[0] = heap_getattr(newtup, c->version_att, desc, &isnull);
	new_stamped = !isnull;
	if (new_stamped)
		new_version = DatumGetInt64(vals[0]);
	if (FFHistoryInSync(c, entity, new_env, new_key, new_img,
						new_stamped, new_version, old_stamped, &recorded))
		return (Datum) 0;

	/*
	 * an UPDATE of the stamps alone of a row that is in sync with its
	 * history -- stamps included -- is not a change either (1.17; it
	 * recorded a version with an empty diff): the row keeps its stamps.  A
	 * row that drifted from its history (written without being recorded,
	 * its stamps too) is recorded as it is: that is how it is repaired.
	 */
	if (old_stamped && (diff & ~(FF_DIFF_VERSION | FF_DIFF_UPDATED_AT)) == 0 &&
		FFHistoryInSync(c, entity, new_env, new_key, old_img, true,
						DatumGetInt64(heap_getattr(oldtup, c->version_att, desc, &isnull)),
						true, NULL))
	{
		cols[0] = c->version_att;
		vals[0] = heap_getattr(oldtup, c->version_att, desc, &nulls[0]);
		cols[1] = c->updated_at_att;
		vals[1] = heap_getattr(oldtup, c->updated_at_att, desc, &nulls[1]);
		*general = false;
		return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, 2, cols, vals, nulls));
	}

	/* stamp the row with its new version; the after image is the stamped row */
	cols[0] = c->version_att;
	vals[0] = Int64GetDatum(head.last_version + 1);
	cols[1] = c->updated_at_att;
	vals[1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	newtup = heap_modify_tuple_by_cols(newtup, desc, 2, cols, vals, nulls);
	FFHistoryRecord(fcinfo, c, &head, entity, new_env, new_key, "UPDATE", old_img,
					FFHistoryRowJsonb(c, newtup, desc),
					recorded && FFHistoryDrifted(recorded, old_img) ?
					FFHistoryRecordedDelta(recorded) : NULL);
	*general = false;
	return PointerGetDatum(newtup);
}

/*
 * FFHistoryNullHint returns the HINT for a NULL in a NOT NULL column of a
 * config table that is not part of the row's identity (1.17).
 */
static const char *
FFHistoryNullHint(const char *col)
{
	if (strcmp(col, "metadata") == 0)
		return "Use '{}' for no metadata.";
	if (strcmp(col, "tags") == 0)
		return "Use '{}' for no tags.";
	if (strcmp(col, "created_at") == 0)
		return "created_at records when the row was created; leave it out of the statement, and an INSERT gets now().";
	if (strcmp(col, "is_default") == 0)
		return "Use true or false; SELECT ff.set_default_environment('name'); moves the default.";
	if (strcmp(col, "protected") == 0)
		return "Use true or false; ff.protect_environment() and ff.unprotect_environment() set it.";
	return "Give the column a value, or leave it out of the statement to keep it (an INSERT gets its default).";
}

/*
 * FFHistoryCheckNotNull refuses a row with a NULL in a NOT NULL column,
 * before anything reads it, naming the row.  The NOT NULL constraints would
 * refuse it too, but they are checked after the BEFORE ROW triggers, and
 * this trigger compares and records the identity -- environment and key of
 * a flag, environment and name of a segment, name of an environment -- (a
 * NULL there used to crash the backend in the comparison, or fail inside
 * ff.versions); for the other columns (1.17) the constraint's message named
 * only the column and printed the whole row.  updated_at is not checked:
 * this trigger writes it.
 */
static void
FFHistoryCheckNotNull(FFHistoryTrigCache *c, TriggerData *trigdata, const char *entity)
{
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	bool		update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	HeapTuple	newtup = update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	bool		is_env = strcmp(entity, "environment") == 0;
	AttrNumber	atts[2];
	bool		isnull;
	char	   *env;
	char	   *key;
	int			i;

	/* the identity first: an environment's name is both (env_att = key_att) */
	atts[0] = c->env_att;
	atts[1] = c->key_att;
	for (i = 0; i < (is_env ? 1 : 2); i++)
	{
		const char *col = NameStr(TupleDescAttr(desc, atts[i] - 1)->attname);
		char	   *row = NULL;

		(void) heap_getattr(newtup, atts[i], desc, &isnull);
		if (!isnull)
			continue;
		if (update)
		{
			HeapTuple	oldtup = trigdata->tg_trigtuple;

			env = TextDatumGetCString(heap_getattr(oldtup, c->env_att, desc, &isnull));
			key = TextDatumGetCString(heap_getattr(oldtup, c->key_att, desc, &isnull));
			row = is_env ? psprintf("environment \"%s\"", env) :
				psprintf("%s \"%s\" in environment \"%s\"", entity, key, env);
		}
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("the %s of %s %s must not be NULL", col, is_env ? "an" : "a", entity),
				 row ? errdetail("The row is %s.", row) : 0,
				 !update ?
				 errhint("Give the new row its %s.", is_env ? "name" :
						 strcmp(entity, "flag") == 0 ? "environment and key" : "environment and name") :
				 errhint("To remove the %s, delete it: ff.delete_%s().", entity, entity),
				 errtablecol(rel, atts[i])));
	}

	/* then the other NOT NULL columns */
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *col;

		if (!att->attnotnull || att->attisdropped ||
			att->attnum == c->updated_at_att ||
			!heap_attisnull(newtup, att->attnum, desc))
			continue;
		col = NameStr(att->attname);
		env = TextDatumGetCString(heap_getattr(newtup, c->env_att, desc, &isnull));
		key = TextDatumGetCString(heap_getattr(newtup, c->key_att, desc, &isnull));
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 is_env ?
				 errmsg("column \"%s\" of environment \"%s\" must not be NULL", col, env) :
				 errmsg("column \"%s\" of %s \"%s\" in environment \"%s\" must not be NULL",
						col, entity, key, env),
				 errhint("%s", FFHistoryNullHint(col)),
				 errtablecol(rel, att->attnum)));
	}
}

/*
 * FFHistoryRowTrigger is the trigger ff_90_history (BEFORE INSERT OR
 * UPDATE OR DELETE FOR EACH ROW, argument: the entity) on ff.environments,
 * ff.flags and ff.segments.  It records the single-row changes that make up
 * everyday writes -- an UPDATE that keeps the row's identity, a DELETE -- in
 * C, once the statement trigger ff_01_writer_lock holds the writer lock;
 * everything else (INSERT, a renamed key, a row that a restore brings back
 * in sync with its history, a write without the lock) goes to the PL/pgSQL
 * ff._history_row_trigger_general(), which implements every case and is
 * the specification of this function.  xact_lock: the writer lock is the
 * heavyweight lock of 1.5 (else the row lock of ff.history_lock).
 *
 * Since 1.3 it runs as its caller, without SET clauses: it reads only the
 * extension's tables through their indexes, renders timestamps in UTC
 * itself, and acts as the extension's owner only to append the version
 * (FFHistoryRecord) and to call the PL/pgSQL function, which pins its own
 * search_path and TimeZone.
 */
static Datum
FFHistoryRowTrigger(FunctionCallInfo fcinfo, bool xact_lock)
{
	TriggerData *trigdata;
	FFHistoryTrigCache *c;
	const char *entity;
	Datum		result;
	bool		general;

	trigdata = FFTriggerData(fcinfo, "ff._history_row_trigger");
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function ff._history_row_trigger() must be a BEFORE ... FOR EACH ROW trigger with the entity as its argument")));
	entity = trigdata->tg_trigger->tgargs[0];
	if (strcmp(entity, "environment") != 0 && strcmp(entity, "flag") != 0 &&
		strcmp(entity, "segment") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("unknown history entity \"%s\"", entity),
				 errhint("The argument of ff._history_row_trigger() is environment, flag or segment.")));
	c = FFHistoryGetCache(fcinfo, trigdata, entity, xact_lock);
	if (!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		FFHistoryCheckNotNull(c, trigdata, entity);

	if (c->needs_utc)
	{
		int			nest = NewGUCNestLevel();

		(void) set_config_option("TimeZone", "UTC", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		result = FFHistoryRowFast(fcinfo, c, trigdata, entity, &general);
		AtEOXact_GUC(true, nest);
	}
	else
		result = FFHistoryRowFast(fcinfo, c, trigdata, entity, &general);
	if (general)
		return FFTriggerCallAsOwner(fcinfo, &c->general, trigdata);
	return result;
}

PG_FUNCTION_INFO_V1(ff_history_row_trigger_1_5);

/*
 * ff_history_row_trigger_1_5 is ff._history_row_trigger() of 1.5 and later:
 * the trigger ff_90_history (FFHistoryRowTrigger), with the heavyweight
 * writer lock.
 */
Datum
ff_history_row_trigger_1_5(PG_FUNCTION_ARGS)
{
	return FFHistoryRowTrigger(fcinfo, true);
}

PG_FUNCTION_INFO_V1(ff_history_row_trigger);

/*
 * ff_history_row_trigger is ff._history_row_trigger() of 1.4 and earlier,
 * kept for a database not yet updated to this library's version: the
 * writer lock is the row lock of ff.history_lock.
 */
Datum
ff_history_row_trigger(PG_FUNCTION_ARGS)
{
	return FFHistoryRowTrigger(fcinfo, false);
}

/* ---------------------------------------------------------------------
 * The writer lock
 * --------------------------------------------------------------------- */

static SPIPlanPtr FFLockTakePlan = NULL;

/*
 * FFHistoryXactCallback sends the queued change notifications before the
 * commit, drops them before a PREPARE, and forgets them and the writer lock
 * of 1.4 when the transaction ends.
 */
static void
FFHistoryXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			FFHistorySendNotices();
			break;
		case XACT_EVENT_PRE_PREPARE:
			FFHistoryDropPrepared();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			FFHistoryLockSubid = InvalidSubTransactionId;
			/* the list was in TopTransactionContext, gone with it */
			FFHistoryNotices = NIL;
			break;
		default:
			break;
	}
}

/*
 * FFHistorySubXactCallback follows the queued notifications and the writer
 * lock of 1.4 through subtransactions: what a subtransaction queued or took
 * goes with it if it aborts, and passes to the parent if it commits.
 */
static void
FFHistorySubXactCallback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (FFHistoryNotices != NIL &&
		(event == SUBXACT_EVENT_ABORT_SUB || event == SUBXACT_EVENT_COMMIT_SUB))
		FFHistoryNoticesAtSubEnd(event == SUBXACT_EVENT_COMMIT_SUB);
	if (FFHistoryLockSubid == InvalidSubTransactionId || FFHistoryLockSubid != mySubid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		FFHistoryLockSubid = InvalidSubTransactionId;
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		FFHistoryLockSubid = parentSubid;
}

/*
 * FFHistoryInit registers the transaction callbacks that keep
 * FFHistoryLockSubid true and the relcache and pg_proc callbacks that mark
 * the cached CHECK expressions of ff.versions stale; called once from
 * _PG_init.
 */
void
FFHistoryInit(void)
{
	RegisterXactCallback(FFHistoryXactCallback, NULL);
	RegisterSubXactCallback(FFHistorySubXactCallback, NULL);
	CacheRegisterRelcacheCallback(FFHistoryVersionsRelcacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, FFHistoryVersionsProcCallback, (Datum) 0);
}

/*
 * FFHistoryKeepPlan prepares and keeps a plan for the life of the backend
 * (inside SPI_connect), or raises an error.
 */
static SPIPlanPtr
FFHistoryKeepPlan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

PG_FUNCTION_INFO_V1(ff_history_writer_lock);

/*
 * ff_history_writer_lock is the statement trigger ff_01_writer_lock of 1.4
 * and earlier, kept for a database not yet updated to this library's
 * version: the first write statement of a transaction takes the writer lock
 * of those versions -- the row lock of ff.history_lock, held until the
 * transaction ends, waiting for the writer that holds it -- with the same
 * protocol as their PL/pgSQL ff._history_next().
 */
Datum
ff_history_writer_lock(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = FFTriggerData(fcinfo, "ff._history_writer_lock");
	Datum		arg;
	int			rc;
	FFTriggerSavedUser saved;

	/* the evaluation cache learns of the write statement (ff_cache.c) */
	FFCacheNoteWriteStart(trigdata->tg_relation);
	if (FFHistoryLockSubid != InvalidSubTransactionId)
		return PointerGetDatum(NULL);

	/*
	 * Not taken by this function in this transaction (the PL/pgSQL
	 * ff._history_next() may have taken it: updating the row again is
	 * harmless).
	 */
	/* the lock row is the owner's to update */
	FFTriggerBecomeOwner(fcinfo, &saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (FFLockTakePlan == NULL)
	{
		Oid			types[1] = {XID8OID};

		FFLockTakePlan = FFHistoryKeepPlan("UPDATE ff.history_lock SET holder = $1", 1, types);
	}
	/* waits for the writer holding the lock to commit or roll back */
	arg = FullTransactionIdGetDatum(GetTopFullTransactionId());
	rc = SPI_execute_plan(FFLockTakePlan, &arg, NULL, false, 0);
	if (rc != SPI_OK_UPDATE || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ff.history_lock has no row"),
				 errhint("Reinstall the feature_flags extension.")));
	SPI_finish();
	FFTriggerRestoreUser(&saved);
	FFHistoryLockSubid = GetCurrentSubTransactionId();
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(ff_history_writer_lock_1_5);

/*
 * ff_history_writer_lock_1_5 is the statement trigger ff_01_writer_lock of
 * 1.5 and later (BEFORE INSERT, UPDATE, DELETE or TRUNCATE of every
 * configuration table): the first write statement of a transaction takes
 * the history writer lock (FFHistoryTakeWriterLock), before any
 * configuration row is locked, which keeps writers free of lock-order
 * deadlocks.
 */
Datum
ff_history_writer_lock_1_5(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = FFTriggerData(fcinfo, "ff._history_writer_lock");
	Oid			versions_relid = FFTriggerRelid(RelationGetNamespace(trigdata->tg_relation),
												"versions");

	/* the evaluation cache learns of the write statement (ff_cache.c) */
	FFCacheNoteWriteStart(trigdata->tg_relation);
	if (FFHistoryTakeWriterLock(versions_relid) && IsolationUsesXactSnapshot())
	{
		FFHistoryHead head;

		FFHistoryReadLatest(versions_relid, &head, true);
	}
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(ff_history_next);

/*
 * ff_history_next is ff._history_next(), new in C in 1.5: takes the writer
 * lock unless the transaction holds it and returns the next version, the
 * transaction's change-set and the hash to chain to (FFHistoryReadLatest).
 * The PL/pgSQL history functions call it before each version they record.
 */
Datum
ff_history_next(PG_FUNCTION_ARGS)
{
	Oid			versions_relid = FFTriggerRelid(get_func_namespace(fcinfo->flinfo->fn_oid),
												"versions");
	TupleDesc	desc;
	FFHistoryHead head;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	bool		taken_now;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != 3)
		elog(ERROR, "ff._history_next() must return (bigint, bigint, text)");
	taken_now = FFHistoryTakeWriterLock(versions_relid);
	FFHistoryReadLatest(versions_relid, &head, taken_now && IsolationUsesXactSnapshot());
	values[0] = Int64GetDatum(head.last_version + 1);
	values[1] = Int64GetDatum(head.change_set);
	if (head.last_hash != NULL)
		values[2] = CStringGetTextDatum(head.last_hash);
	else
		nulls[2] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

PG_FUNCTION_INFO_V1(ff_comment_change);

/*
 * ff_comment_change is ff.comment_change(comment) (in C from 1.25): sets
 * ff.change_comment for the rest of the transaction, as SET LOCAL does, and
 * returns it.  Outside a transaction block that is the rest of the calling
 * statement, so a comment set by itself in psql's autocommit reached no
 * change; it now gives a WARNING, as SET LOCAL does there.
 */
Datum
ff_comment_change(PG_FUNCTION_ARGS)
{
	char	   *comment = PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (!IsTransactionBlock())
		ereport(WARNING,
				(errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
				 errmsg("ff.comment_change() outside a transaction block comments only the changes of this statement"),
				 errhint("Call it after BEGIN, before the changes it describes, and COMMIT them together.")));
	(void) set_config_option("ff.change_comment", comment, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	PG_RETURN_TEXT_P(cstring_to_text(comment));
}
