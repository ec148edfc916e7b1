/*-------------------------------------------------------------------------
 *
 * ff_stats.c
 *	  Evaluation statistics: how often each flag of each environment was
 *	  evaluated, per variant, reason and error code, and when last.
 *
 * Counting costs the evaluation path a few instructions and no lock: each
 * flag of the backend's cache has an array of counters (FFStatsCountFlag
 * in ff_stats.h), allocated at its first count, and the flags with counts
 * are on a list.  Evaluations of keys that found no flag are counted in a
 * small backend-local table.  FFStatsFlush adds these counts to a hash
 * table in shared memory, keyed by database, environment, flag key,
 * variant, reason and error code:
 *
 *	 * at the end of a transaction, at most once a second;
 *	 * before the cache generation holding the counted flags is freed;
 *	 * when the backend reads or resets the statistics;
 *	 * when the backend exits (parallel workers too).
 *
 * The shared table exists only when the library is in
 * shared_preload_libraries; otherwise nothing is counted and the SQL
 * functions say how to enable it.  It has ff.stats_max_entries entries;
 * the evaluations of outcomes that find it full are added to a "dropped"
 * count instead.  The postmaster writes the table to
 * pg_stat/feature_flags.stat at a clean shutdown and reads it back at the
 * next start, as pg_stat_statements does; after a crash the statistics
 * start empty.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/xact.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "ff_stats.h"

bool		ff_track_evaluations = true;
int			ff_stats_max_entries = 10000;
bool		FFStatsActive = false;

/* names longer than this many bytes are cut (at a character boundary) */
#define FF_STATS_NAME_MAX 200

/* the key of one shared entry; zero-padded, compared as bytes */
typedef struct FFStatsKey
{
	Oid			dbid;
	int16		reason;			/* FFReason; FF_STATS_RESET_ENTRY: see below */
	int16		error;			/* FFErrorCode */
	char		environment[FF_STATS_NAME_MAX + 1];
	char		flag_key[FF_STATS_NAME_MAX + 1];
	char		variant[FF_STATS_NAME_MAX + 1]; /* "" = none */
} FFStatsKey;

/*
 * The entry of reason FF_STATS_RESET_ENTRY (names empty) of a database
 * holds in first_evaluated since when it is counted: its first flush, or
 * its last full reset.
 */
#define FF_STATS_RESET_ENTRY (-1)

typedef struct FFStatsEntry
{
	FFStatsKey	key;
	int64		evaluations;
	TimestampTz first_evaluated;	/* when the entry was created */
	TimestampTz last_evaluated; /* the last flush that added to it */
} FFStatsEntry;

typedef struct FFStatsSharedState
{
	LWLock	   *lock;
	int64		dropped;		/* evaluations not counted: table full */
} FFStatsSharedState;

/* the statistics file: header, dropped, entry count, entries */
#define FF_STATS_FILE PGSTAT_STAT_PERMANENT_DIRECTORY "/feature_flags.stat"
#define FF_STATS_FILE_MAGIC 0x46465331	/* "FFS1" */

static FFStatsSharedState *FFStatsShared = NULL;
static HTAB *FFStatsHash = NULL;

static shmem_request_hook_type FFStatsPrevShmemRequest = NULL;
static shmem_startup_hook_type FFStatsPrevShmemStartup = NULL;

/* this backend's flags with counts, and the missing keys' counts */
static FFCacheFlag *FFStatsFlags = NULL;
static HTAB *FFStatsMissing = NULL;

#define FF_STATS_MISSING_MAX 256	/* flushed when it has this many */
#define FF_STATS_FLUSH_MS 1000

typedef struct FFStatsMissingEntry
{
	FFStatsKey	key;
	int64		evaluations;
} FFStatsMissingEntry;

/* the missing key counted last: a bulk query asks for the same one again */
static FFStatsMissingEntry *FFStatsLastMissing = NULL;

static TimestampTz FFStatsLastFlush = 0;
static bool FFStatsExitRegistered = false;
static bool FFStatsSinceKnown = false;	/* this database has its entry */

static void FFStatsAtExit(int code, Datum arg);

/* ---------------------------------------------------------------------
 * Shared memory
 * --------------------------------------------------------------------- */

/*
 * FFStatsShmemSize is the shared memory the statistics need.
 */
static Size
FFStatsShmemSize(void)
{
	return add_size(MAXALIGN(sizeof(FFStatsSharedState)),
					hash_estimate_size(ff_stats_max_entries, sizeof(FFStatsEntry)));
}

/*
 * FFStatsShmemRequest reserves the shared memory and the lock.
 */
static void
FFStatsShmemRequest(void)
{
	if (FFStatsPrevShmemRequest)
		FFStatsPrevShmemRequest();
	RequestAddinShmemSpace(FFStatsShmemSize());
	RequestNamedLWLockTranche("feature_flags", 1);
}

/*
 * FFStatsSetName copies a name into a key field, cut to FF_STATS_NAME_MAX
 * bytes at a character boundary.
 */
static void
FFStatsSetName(char *dst, const char *src, size_t len)
{
	if (len > FF_STATS_NAME_MAX)
		len = pg_mbcliplen(src, (int) len, FF_STATS_NAME_MAX);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * FFStatsSave writes the shared table to FF_STATS_FILE: the postmaster's
 * on_shmem_exit callback, after a clean shutdown only (code 0).
 */
static void
FFStatsSave(int code, Datum arg)
{
	FILE	   *file;
	HASH_SEQ_STATUS seq;
	FFStatsEntry *entry;
	uint32		header[2] = {FF_STATS_FILE_MAGIC, (uint32) sizeof(FFStatsEntry)};
	int64		count;

	if (code != 0 || FFStatsShared == NULL || FFStatsHash == NULL)
		return;
	file = AllocateFile(FF_STATS_FILE ".tmp", PG_BINARY_W);
	if (file == NULL)
		goto error;
	count = hash_get_num_entries(FFStatsHash);
	if (fwrite(header, sizeof(header), 1, file) != 1 ||
		fwrite(&FFStatsShared->dropped, sizeof(int64), 1, file) != 1 ||
		fwrite(&count, sizeof(int64), 1, file) != 1)
		goto error;
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (fwrite(entry, sizeof(FFStatsEntry), 1, file) != 1)
		{
			hash_seq_term(&seq);
			goto error;
		}
	}
	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(FF_STATS_FILE ".tmp", FF_STATS_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write feature_flags evaluation statistics file \"%s\": %m",
					FF_STATS_FILE ".tmp")));
	if (file)
		FreeFile(file);
	unlink(FF_STATS_FILE ".tmp");
}

/*
 * FFStatsLoad reads FF_STATS_FILE into the new shared table and removes
 * it (so that a crash later does not bring back old counts).  A missing
 * file is no error; an unreadable one is logged and skipped.
 */
static void
FFStatsLoad(void)
{
	FILE	   *file = AllocateFile(FF_STATS_FILE, PG_BINARY_R);
	uint32		header[2];
	int64		dropped;
	int64		count;
	int64		i;

	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read feature_flags evaluation statistics file \"%s\": %m",
							FF_STATS_FILE)));
		return;
	}
	if (fread(header, sizeof(header), 1, file) != 1 ||
		header[0] != FF_STATS_FILE_MAGIC || header[1] != sizeof(FFStatsEntry) ||
		fread(&dropped, sizeof(int64), 1, file) != 1 ||
		fread(&count, sizeof(int64), 1, file) != 1 || count < 0)
	{
		ereport(LOG,
				(errmsg("ignoring feature_flags evaluation statistics file \"%s\": not written by this version",
						FF_STATS_FILE)));
		goto done;
	}
	FFStatsShared->dropped = dropped;
	for (i = 0; i < count; i++)
	{
		FFStatsEntry temp;
		FFStatsEntry *entry;
		bool		found;

		if (fread(&temp, sizeof(FFStatsEntry), 1, file) != 1)
		{
			ereport(LOG,
					(errmsg("feature_flags evaluation statistics file \"%s\" is truncated after %lld entries",
							FF_STATS_FILE, (long long) i)));
			break;
		}
		/* a smaller ff.stats_max_entries than before: keep what fits */
		if (hash_get_num_entries(FFStatsHash) >= ff_stats_max_entries)
		{
			if (temp.key.reason != FF_STATS_RESET_ENTRY)
				FFStatsShared->dropped += temp.evaluations;
			continue;
		}
		entry = hash_search(FFStatsHash, &temp.key, HASH_ENTER, &found);
		*entry = temp;
	}

done:
	FreeFile(file);
	unlink(FF_STATS_FILE);
}

/*
 * FFStatsNameIs tells whether a key field holds the name of len bytes (as
 * FFStatsSetName would store it).
 */
static bool
FFStatsNameIs(const char *field, const char *name, size_t len)
{
	if (len > FF_STATS_NAME_MAX)
		len = pg_mbcliplen(name, (int) len, FF_STATS_NAME_MAX);
	return memcmp(field, name, len) == 0 && field[len] == '\0';
}

/*
 * FFStatsShmemStartup creates or attaches the shared state and table.
 */
static void
FFStatsShmemStartup(void)
{
	HASHCTL		info;
	bool		found;

	if (FFStatsPrevShmemStartup)
		FFStatsPrevShmemStartup();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	FFStatsShared = ShmemInitStruct("feature_flags evaluation statistics",
									sizeof(FFStatsSharedState), &found);
	if (!found)
	{
		FFStatsShared->lock = &(GetNamedLWLockTranche("feature_flags"))->lock;
		FFStatsShared->dropped = 0;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(FFStatsKey);
	info.entrysize = sizeof(FFStatsEntry);
	FFStatsHash = ShmemInitHash("feature_flags evaluation statistics hash",
								ff_stats_max_entries, ff_stats_max_entries,
								&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
	FFStatsActive = ff_track_evaluations;

	if (!IsUnderPostmaster)
		on_shmem_exit(FFStatsSave, (Datum) 0);
	if (!found)
		FFStatsLoad();
}

/* ---------------------------------------------------------------------
 * Counting and flushing
 * --------------------------------------------------------------------- */

/*
 * FFStatsAssignTrack is the assign hook of ff.track_evaluations.
 */
void
FFStatsAssignTrack(bool newval, void *extra)
{
	FFStatsActive = newval && FFStatsHash != NULL;
}

/*
 * FFStatsListFlag allocates a flag's counters (in its generation's memory)
 * if it has none, and puts it on the list of flags with counts.
 */
void
FFStatsListFlag(FFCacheEnv *env, FFCacheFlag *flag)
{
	if (!FFStatsExitRegistered)
	{
		before_shmem_exit(FFStatsAtExit, (Datum) 0);
		FFStatsExitRegistered = true;
	}
	if (flag->stat_counts == NULL)
		flag->stat_counts = MemoryContextAllocZero(env->cxt,
												   sizeof(uint64) * FFStatsSlots(flag));
	flag->stat_env = env;
	flag->stat_next = FFStatsFlags;
	FFStatsFlags = flag;
	flag->stat_listed = true;
}

/*
 * FFStatsCountMissing counts an evaluation of a key that found no flag,
 * or no environment (envname is then the one asked for; empty when there
 * was no default environment).
 */
void
FFStatsCountMissing(const char *envname, size_t envlen, const char *key,
					size_t keylen, FFErrorCode error)
{
	FFStatsKey	k;
	FFStatsMissingEntry *e;
	bool		found;

	if (!FFStatsActive || key == NULL)
		return;
	e = FFStatsLastMissing;
	if (e != NULL && e->key.error == error &&
		FFStatsNameIs(e->key.flag_key, key, keylen) &&
		FFStatsNameIs(e->key.environment, envname ? envname : "", envname ? envlen : 0))
	{
		e->evaluations++;
		return;
	}
	if (!FFStatsExitRegistered)
	{
		before_shmem_exit(FFStatsAtExit, (Datum) 0);
		FFStatsExitRegistered = true;
	}
	if (FFStatsMissing == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(FFStatsKey);
		info.entrysize = sizeof(FFStatsMissingEntry);
		info.hcxt = TopMemoryContext;
		FFStatsMissing = hash_create("feature_flags evaluation statistics of missing flags",
									 64, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&k, 0, sizeof(k));
	k.dbid = MyDatabaseId;
	k.reason = FF_REASON_ERROR;
	k.error = error;
	FFStatsSetName(k.environment, envname ? envname : "", envname ? envlen : 0);
	FFStatsSetName(k.flag_key, key, keylen);
	e = hash_search(FFStatsMissing, &k, HASH_ENTER, &found);
	if (!found)
		e->evaluations = 0;
	e->evaluations++;
	FFStatsLastMissing = e;
	if (hash_get_num_entries(FFStatsMissing) >= FF_STATS_MISSING_MAX)
		FFStatsFlush(true);
}

/*
 * FFStatsAdd adds count evaluations under key to the shared table (the
 * lock held exclusively).
 */
static void
FFStatsAdd(const FFStatsKey *key, int64 count, TimestampTz now)
{
	FFStatsEntry *entry = hash_search(FFStatsHash, key, HASH_FIND, NULL);

	if (entry == NULL)
	{
		bool		found;

		if (hash_get_num_entries(FFStatsHash) >= ff_stats_max_entries ||
			(entry = hash_search(FFStatsHash, key, HASH_ENTER_NULL, &found)) == NULL)
		{
			FFStatsShared->dropped += count;
			return;
		}
		entry->evaluations = 0;
		entry->first_evaluated = now;
	}
	entry->evaluations += count;
	entry->last_evaluated = now;
}

/*
 * FFStatsSince makes sure the current database has its entry saying since
 * when it is counted, with the time now if it had none or if reset (the
 * lock held exclusively).  Returns false if the table is full.
 */
static bool
FFStatsSince(TimestampTz now, bool reset)
{
	FFStatsKey	key;
	FFStatsEntry *entry;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.reason = FF_STATS_RESET_ENTRY;
	entry = hash_search(FFStatsHash, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		if (hash_get_num_entries(FFStatsHash) >= ff_stats_max_entries ||
			(entry = hash_search(FFStatsHash, &key, HASH_ENTER_NULL, &found)) == NULL)
			return false;
		reset = true;
	}
	if (reset)
	{
		entry->evaluations = 0;
		entry->first_evaluated = now;
		entry->last_evaluated = now;
	}
	return true;
}

/*
 * FFStatsFlushFlag adds one flag's counts to the shared table and zeroes
 * them (the lock held exclusively).
 */
static void
FFStatsFlushFlag(FFCacheFlag *flag, FFStatsKey *key, TimestampTz now)
{
	int			nslots = FFStatsSlots(flag);
	int			nvariants = (int) flag->flag.nvariants;
	int			slot;

	memset(key, 0, sizeof(FFStatsKey));
	key->dbid = MyDatabaseId;
	FFStatsSetName(key->environment, flag->stat_env->name, strlen(flag->stat_env->name));
	FFStatsSetName(key->flag_key, flag->key, flag->keylen);
	for (slot = 0; slot < nslots; slot++)
	{
		uint64		count = flag->stat_counts[slot];
		int			variant;

		if (count == 0)
			continue;
		flag->stat_counts[slot] = 0;
		memset(key->variant, 0, sizeof(key->variant));
		if (slot >= (nvariants + 1) * FF_REASON_ERROR)
		{
			key->reason = FF_REASON_ERROR;
			key->error = slot - (nvariants + 1) * FF_REASON_ERROR;
		}
		else
		{
			key->reason = slot % FF_REASON_ERROR;
			key->error = FF_ERROR_NONE;
			variant = slot / FF_REASON_ERROR - 1;
			if (variant >= 0)
				FFStatsSetName(key->variant, flag->flag.variants[variant].name,
							   flag->flag.variants[variant].namelen);
		}
		FFStatsAdd(key, (int64) Min(count, (uint64) PG_INT64_MAX), now);
	}
}

/*
 * FFStatsFlush adds this backend's counts to the shared table: when force,
 * or when the last flush is at least FF_STATS_FLUSH_MS old.  It raises no
 * error; the list is emptied before it is walked, so an interruption
 * loses counts, never leaves a pointer to freed memory.
 */
void
FFStatsFlush(bool force)
{
	FFCacheFlag *flags = FFStatsFlags;
	TimestampTz now;
	FFStatsKey	key;

	if (flags == NULL && (FFStatsMissing == NULL || hash_get_num_entries(FFStatsMissing) == 0))
		return;
	if (FFStatsHash == NULL)
	{
		FFStatsFlags = NULL;
		return;
	}
	now = GetCurrentTimestamp();
	if (!force && !TimestampDifferenceExceeds(FFStatsLastFlush, now, FF_STATS_FLUSH_MS))
		return;

	FFStatsFlags = NULL;
	LWLockAcquire(FFStatsShared->lock, LW_EXCLUSIVE);
	if (!FFStatsSinceKnown)
		FFStatsSinceKnown = FFStatsSince(now, false);
	while (flags != NULL)
	{
		FFCacheFlag *next = flags->stat_next;

		FFStatsFlushFlag(flags, &key, now);
		flags->stat_listed = false;
		flags->stat_next = NULL;
		flags = next;
	}
	FFStatsLastMissing = NULL;
	if (FFStatsMissing != NULL)
	{
		HASH_SEQ_STATUS seq;
		FFStatsMissingEntry *e;

		hash_seq_init(&seq, FFStatsMissing);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			FFStatsAdd(&e->key, e->evaluations, now);
			(void) hash_search(FFStatsMissing, &e->key, HASH_REMOVE, NULL);
		}
	}
	LWLockRelease(FFStatsShared->lock);
	FFStatsLastFlush = now;
}

/*
 * FFStatsXactCallback flushes at the end of a transaction (at most once
 * a second).
 */
static void
FFStatsXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		FFStatsFlush(false);
}

/*
 * FFStatsAtExit flushes when the backend exits.
 */
static void
FFStatsAtExit(int code, Datum arg)
{
	FFStatsFlush(true);
}

/*
 * FFStatsInit sets up the shared memory when the library is being
 * preloaded, and the flushes; called once from _PG_init.
 */
void
FFStatsInit(void)
{
	RegisterXactCallback(FFStatsXactCallback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	FFStatsPrevShmemRequest = shmem_request_hook;
	shmem_request_hook = FFStatsShmemRequest;
	FFStatsPrevShmemStartup = shmem_startup_hook;
	shmem_startup_hook = FFStatsShmemStartup;
}

/* ---------------------------------------------------------------------
 * SQL functions
 * --------------------------------------------------------------------- */

/*
 * FFStatsRequire raises an error unless the shared table exists, and
 * flushes this backend's counts.
 */
static void
FFStatsRequire(void)
{
	if (FFStatsHash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("feature_flags must be loaded via shared_preload_libraries to collect evaluation statistics"),
				 errhint("Add feature_flags to shared_preload_libraries in postgresql.conf and restart the server.")));
	FFStatsFlush(true);
}

/*
 * FFStatsNameDatum turns a key name into text ("" = NULL).
 */
static Datum
FFStatsNameDatum(const char *name, bool *isnull)
{
	*isnull = name[0] == '\0';
	return *isnull ? (Datum) 0 : CStringGetTextDatum(name);
}

PG_FUNCTION_INFO_V1(ff_evaluation_stats);

/*
 * ff_evaluation_stats returns the statistics of the current database: one
 * row per environment, flag key, variant, reason and error code.
 */
Datum
ff_evaluation_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	FFStatsEntry *entry;

	FFStatsRequire();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(FFStatsShared->lock, LW_SHARED);
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[8];
		bool		nulls[8];
		const char *error;

		if (entry->key.dbid != MyDatabaseId || entry->key.reason == FF_STATS_RESET_ENTRY)
			continue;
		memset(nulls, 0, sizeof(nulls));
		values[0] = FFStatsNameDatum(entry->key.environment, &nulls[0]);
		values[1] = FFStatsNameDatum(entry->key.flag_key, &nulls[1]);
		values[2] = FFStatsNameDatum(entry->key.variant, &nulls[2]);
		values[3] = CStringGetTextDatum(FFReasonName((FFReason) entry->key.reason));
		error = FFErrorCodeName((FFErrorCode) entry->key.error);
		nulls[4] = error == NULL;
		values[4] = error ? CStringGetTextDatum(error) : (Datum) 0;
		values[5] = Int64GetDatum(entry->evaluations);
		values[6] = TimestampTzGetDatum(entry->first_evaluated);
		values[7] = TimestampTzGetDatum(entry->last_evaluated);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(FFStatsShared->lock);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ff_evaluation_stats_info);

/*
 * ff_evaluation_stats_info returns one row: the entries of the current
 * database, how many entries the table holds for all databases and its
 * size, the evaluations dropped because it was full, whether evaluations
 * are counted, and since when the current database is counted (NULL: no
 * evaluation counted yet).
 */
Datum
ff_evaluation_stats_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6];
	HASH_SEQ_STATUS seq;
	FFStatsEntry *entry;
	int64		mine = 0;
	TimestampTz since = 0;
	bool		since_known = false;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	FFStatsRequire();
	memset(nulls, 0, sizeof(nulls));
	LWLockAcquire(FFStatsShared->lock, LW_SHARED);
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (entry->key.dbid != MyDatabaseId)
			continue;
		if (entry->key.reason == FF_STATS_RESET_ENTRY)
		{
			since = entry->first_evaluated;
			since_known = true;
		}
		else
			mine++;
	}
	values[0] = Int64GetDatum(mine);
	values[1] = Int64GetDatum(hash_get_num_entries(FFStatsHash));
	values[2] = Int32GetDatum(ff_stats_max_entries);
	values[3] = Int64GetDatum(FFStatsShared->dropped);
	values[4] = BoolGetDatum(ff_track_evaluations);
	values[5] = TimestampTzGetDatum(since);
	nulls[5] = !since_known;
	LWLockRelease(FFStatsShared->lock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(ff_reset_evaluation_stats);

/*
 * ff_reset_evaluation_stats removes the current database's entries: all of
 * them (and records the time of the reset), or those of one environment,
 * of one flag key, or of both.  Returns the number of entries removed.
 */
Datum
ff_reset_evaluation_stats(PG_FUNCTION_ARGS)
{
	text	   *env = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	text	   *key = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	FFStatsKey	match;
	HASH_SEQ_STATUS seq;
	FFStatsEntry *entry;
	int64		removed = 0;
	TimestampTz now = GetCurrentTimestamp();

	FFStatsRequire();
	memset(&match, 0, sizeof(match));
	if (env)
		FFStatsSetName(match.environment, VARDATA_ANY(env), VARSIZE_ANY_EXHDR(env));
	if (key)
		FFStatsSetName(match.flag_key, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));

	LWLockAcquire(FFStatsShared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (entry->key.dbid != MyDatabaseId || entry->key.reason == FF_STATS_RESET_ENTRY)
			continue;
		if (env && strcmp(entry->key.environment, match.environment) != 0)
			continue;
		if (key && strcmp(entry->key.flag_key, match.flag_key) != 0)
			continue;
		(void) hash_search(FFStatsHash, &entry->key, HASH_REMOVE, NULL);
		removed++;
	}
	if (env == NULL && key == NULL)
	{
		FFStatsSinceKnown = FFStatsSince(now, true);
		FFStatsShared->dropped = 0;
	}
	LWLockRelease(FFStatsShared->lock);
	PG_RETURN_INT64(removed);
}
