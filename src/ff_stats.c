/*-------------------------------------------------------------------------
 *
 * ff_stats.c
 *	  Evaluation statistics: how often each flag of each environment was
 *	  evaluated, per variant, reason and error code, and when last.
 *
 * Counting costs the evaluation path a few instructions and no lock: each
 * flag of the backend's cache has an array of 32-bit counters
 * (FFStatsCountFlag in ff_stats.h), allocated in the generation's arena at
 * its first count (72 bytes for a flag of two variants), and the flags with
 * counts are on a list.  Evaluations of keys that found no flag are counted
 * in a small backend-local table.  FFStatsFlush adds these counts to a hash
 * table in shared memory, keyed by database, environment, flag key,
 * variant, reason and error code:
 *
 *	 * at the end of a transaction, at most once a second, and only if the
 *	   lock is free (else at the next one);
 *	 * before the cache generation holding the counted flags is freed;
 *	 * when the backend reads or resets the statistics;
 *	 * when the backend exits (parallel workers too).
 *
 * The table's lock is taken shared to add to existing entries (each entry
 * has a spinlock for its counts) and exclusively only to create or remove
 * entries; readers copy what they need under the shared lock and build
 * their result after releasing it.
 *
 * Each database has a bookkeeping entry: since when it is counted, the
 * evaluations it could not count because the table was full, and how many
 * entries of keys that found no flag it has.  Those are capped, at a tenth
 * of the table per database and a quarter of it in all databases together:
 * any role that may evaluate can ask for as many missing keys as it likes,
 * in every database it may connect to, and must not crowd out the counts
 * of real flags or of other databases.  Missing keys beyond the caps are
 * counted together under an entry with no environment and no key.
 *
 * The shared table exists only when the library is in
 * shared_preload_libraries; otherwise nothing is counted and the SQL
 * functions say how to enable it.  The postmaster writes the table to
 * pg_stat/feature_flags.stat when it exits after a clean shutdown, or
 * after any exit if nothing changed the table since it was read, and reads
 * it back (then deletes it) at the next start, as pg_stat_statements does;
 * after a crash the counts since the last start are lost.
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
#include "common/hashfn.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "ff_stats.h"

bool		ff_track_evaluations = true;
int			ff_stats_max_entries = 10000;
bool		FFStatsActive = false;

/*
 * names longer than this many bytes are cut (at a character boundary) and
 * marked with a hash of the whole name: "~" and 8 hex digits
 */
#define FF_STATS_NAME_MAX 200
#define FF_STATS_CUT_MARK 9

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
 * The bookkeeping entry of a database has reason FF_STATS_RESET_ENTRY and
 * empty names; see FFStatsEntry.
 */
#define FF_STATS_RESET_ENTRY (-1)

/* bookkeeping entries may exceed ff.stats_max_entries by this many */
#define FF_STATS_RESERVED 64

typedef struct FFStatsEntry
{
	FFStatsKey	key;
	slock_t		mutex;			/* the counts, when the lock is held shared */
	int64		evaluations;	/* bookkeeping: evaluations not counted (full) */
	int64		missing_entries;	/* bookkeeping: FLAG_NOT_FOUND entries */
	TimestampTz first_evaluated;	/* bookkeeping: since when it is counted */
	TimestampTz last_evaluated;
} FFStatsEntry;

typedef struct FFStatsSharedState
{
	LWLock	   *lock;
	int64		regular_entries;	/* entries that are not bookkeeping */
	int64		missing_entries;	/* FLAG_NOT_FOUND entries, all databases */
	int64		dropped;		/* not counted, and no bookkeeping entry */
	bool		changed;		/* since the table was read from the file */
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

static void FFStatsAtExit(int code, Datum arg);
static void FFStatsRecountMissing(void);

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
					hash_estimate_size(ff_stats_max_entries + FF_STATS_RESERVED,
									   sizeof(FFStatsEntry)));
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
 * FFStatsSetName copies a name into a key field.  A name longer than
 * FF_STATS_NAME_MAX bytes is cut at a character boundary and ends with "~"
 * and a hash of the whole name, so that two long names that differ only
 * after the cut (two variants of a flag) keep entries of their own (the
 * 1.23 library merged them).
 */
static void
FFStatsSetName(char *dst, const char *src, size_t len)
{
	if (len > FF_STATS_NAME_MAX)
	{
		int			cut = pg_mbcliplen(src, (int) len, FF_STATS_NAME_MAX - FF_STATS_CUT_MARK);

		memcpy(dst, src, cut);
		snprintf(dst + cut, FF_STATS_CUT_MARK + 1, "~%08x",
				 (unsigned int) hash_bytes((const unsigned char *) src, (int) len));
		return;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * FFStatsSave writes the shared table to FF_STATS_FILE: the postmaster's
 * on_shmem_exit callback, after a clean shutdown (code 0), or after any
 * exit when nothing changed the table since it was read (a start that
 * failed must not lose the file it read).
 */
static void
FFStatsSave(int code, Datum arg)
{
	FILE	   *file;
	HASH_SEQ_STATUS seq;
	FFStatsEntry *entry;
	uint32		header[2] = {FF_STATS_FILE_MAGIC, (uint32) sizeof(FFStatsEntry)};
	int64		count;

	if (FFStatsShared == NULL || FFStatsHash == NULL)
		return;
	/* after a crash the table may be inconsistent, unless nobody touched it */
	if (code != 0 && FFStatsShared->changed)
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
		if (temp.key.reason == FF_STATS_RESET_ENTRY ?
			hash_get_num_entries(FFStatsHash) >= ff_stats_max_entries + FF_STATS_RESERVED :
			FFStatsShared->regular_entries >= ff_stats_max_entries)
			continue;
		entry = hash_search(FFStatsHash, &temp.key, HASH_ENTER, &found);
		*entry = temp;
		SpinLockInit(&entry->mutex);
		if (temp.key.reason != FF_STATS_RESET_ENTRY)
			FFStatsShared->regular_entries++;
	}
	FFStatsRecountMissing();

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
	char		stored[FF_STATS_NAME_MAX + 1];

	if (len <= FF_STATS_NAME_MAX)
		return memcmp(field, name, len) == 0 && field[len] == '\0';
	FFStatsSetName(stored, name, len);
	return strcmp(field, stored) == 0;
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
		FFStatsShared->regular_entries = 0;
		FFStatsShared->missing_entries = 0;
		FFStatsShared->dropped = 0;
		FFStatsShared->changed = false;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(FFStatsKey);
	info.entrysize = sizeof(FFStatsEntry);
	FFStatsHash = ShmemInitHash("feature_flags evaluation statistics hash",
								ff_stats_max_entries + FF_STATS_RESERVED,
								ff_stats_max_entries + FF_STATS_RESERVED,
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
 * FFStatsPrepareCount puts a flag on the list of flags with counts,
 * allocating its counters (in its generation's arena) at its first count;
 * a counter that is full (2^32 - 1 evaluations since the last flush, in one
 * long statement) is added to shared memory first.
 */
void
FFStatsPrepareCount(FFCacheEnv *env, FFCacheFlag *flag, int slot)
{
	if (flag->stat_listed && flag->stat_counts[slot] == PG_UINT32_MAX)
		FFStatsFlush(true);
	if (flag->stat_listed)
		return;
	if (!FFStatsExitRegistered)
	{
		before_shmem_exit(FFStatsAtExit, (Datum) 0);
		FFStatsExitRegistered = true;
	}
	if (flag->stat_counts == NULL)
		flag->stat_counts = FFCacheEnvAllocZero(env, sizeof(uint32) * FFStatsSlots(flag));
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
 * FFStatsMissingCap is how many FLAG_NOT_FOUND entries a database may have.
 */
static int64
FFStatsMissingCap(void)
{
	return Max(ff_stats_max_entries / 10, 10);
}

/*
 * FFStatsMissingCapAll is how many FLAG_NOT_FOUND entries all databases
 * together may have.
 */
static int64
FFStatsMissingCapAll(void)
{
	return Max(ff_stats_max_entries / 4, 10);
}

/*
 * FFStatsIsMissingKey tells whether key counts against the missing-key
 * cap: FLAG_NOT_FOUND of a named key.
 */
static inline bool
FFStatsIsMissingKey(const FFStatsKey *key)
{
	return key->reason == FF_REASON_ERROR && key->error == FF_ERROR_FLAG_NOT_FOUND &&
		key->flag_key[0] != '\0';
}

/*
 * FFStatsRecountMissing sets every bookkeeping entry's count of missing-key
 * entries (the lock held exclusively, or at startup).
 */
static void
FFStatsRecountMissing(void)
{
	HASH_SEQ_STATUS seq;
	FFStatsEntry *entry;
	FFStatsKey	key;

	FFStatsShared->missing_entries = 0;
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (entry->key.reason == FF_STATS_RESET_ENTRY)
			entry->missing_entries = 0;
	memset(&key, 0, sizeof(key));
	key.reason = FF_STATS_RESET_ENTRY;
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		FFStatsEntry *book;

		if (!FFStatsIsMissingKey(&entry->key))
			continue;
		FFStatsShared->missing_entries++;
		key.dbid = entry->key.dbid;
		book = hash_search(FFStatsHash, &key, HASH_FIND, NULL);
		if (book != NULL)
			book->missing_entries++;
	}
}

/*
 * FFStatsBook returns the current database's bookkeeping entry, creating
 * it (since: now) if allowed and missing; NULL if there is none.
 */
static FFStatsEntry *
FFStatsBook(TimestampTz now, bool create)
{
	FFStatsKey	key;
	FFStatsEntry *entry;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.reason = FF_STATS_RESET_ENTRY;
	entry = hash_search(FFStatsHash, &key, HASH_FIND, NULL);
	if (entry != NULL || !create)
		return entry;
	if (hash_get_num_entries(FFStatsHash) >= ff_stats_max_entries + FF_STATS_RESERVED ||
		(entry = hash_search(FFStatsHash, &key, HASH_ENTER_NULL, &found)) == NULL)
		return NULL;
	SpinLockInit(&entry->mutex);
	entry->evaluations = 0;
	entry->missing_entries = 0;
	entry->first_evaluated = now;
	entry->last_evaluated = now;
	FFStatsShared->changed = true;
	return entry;
}

/*
 * FFStatsAddExisting adds count evaluations to key's entry if it exists
 * (the lock held shared or exclusively).  Returns whether it did.
 */
static bool
FFStatsAddExisting(const FFStatsKey *key, int64 count, TimestampTz now)
{
	FFStatsEntry *entry = hash_search(FFStatsHash, key, HASH_FIND, NULL);

	if (entry == NULL)
		return false;
	SpinLockAcquire(&entry->mutex);
	entry->evaluations += count;
	entry->last_evaluated = now;
	SpinLockRelease(&entry->mutex);
	return true;
}

/*
 * FFStatsAdd adds count evaluations under key, creating its entry (the lock
 * held exclusively): a missing key over its database's cap goes to the
 * entry of all other missing keys; what the full table cannot hold is
 * counted as dropped.
 */
static void
FFStatsAdd(const FFStatsKey *key, int64 count, TimestampTz now, FFStatsEntry *book)
{
	FFStatsKey	other;
	FFStatsEntry *entry;
	bool		found;
	bool		missing = FFStatsIsMissingKey(key);

	if (FFStatsAddExisting(key, count, now))
		return;

	/*
	 * A database without a bookkeeping entry (the table was full when it
	 * came) gets no new entry either: its caps, its stats_since and the
	 * cleanup of dropped databases need that entry (the 1.23 library created
	 * entries of missing keys past the caps).  Its counts are dropped, and
	 * ff.evaluation_stats_info() reports them.
	 */
	if (book == NULL)
	{
		FFStatsShared->dropped += count;
		return;
	}
	if (missing &&
		(book->missing_entries >= FFStatsMissingCap() ||
		 FFStatsShared->missing_entries >= FFStatsMissingCapAll()))
	{
		memset(&other, 0, sizeof(other));
		other.dbid = key->dbid;
		other.reason = key->reason;
		other.error = key->error;
		key = &other;
		missing = false;
		if (FFStatsAddExisting(key, count, now))
			return;
	}
	if (FFStatsShared->regular_entries >= ff_stats_max_entries ||
		(entry = hash_search(FFStatsHash, key, HASH_ENTER_NULL, &found)) == NULL)
	{
		book->evaluations += count;
		return;
	}
	SpinLockInit(&entry->mutex);
	entry->evaluations = count;
	entry->missing_entries = 0;
	entry->first_evaluated = now;
	entry->last_evaluated = now;
	FFStatsShared->regular_entries++;
	if (missing)
	{
		book->missing_entries++;
		FFStatsShared->missing_entries++;
	}
}

/*
 * FFStatsFlushFlag adds one flag's counts to the shared table and zeroes
 * them: to existing entries only unless exclusive (the lock held so).
 * Returns whether counts are left (they need a new entry).
 */
static bool
FFStatsFlushFlag(FFCacheFlag *flag, bool exclusive, TimestampTz now, FFStatsEntry *book)
{
	int			nslots = FFStatsSlots(flag);
	int			nvariants = (int) flag->flag.nvariants;
	int			slot;
	bool		left = false;
	FFStatsKey	key;

	memset(&key, 0, sizeof(FFStatsKey));
	key.dbid = MyDatabaseId;
	FFStatsSetName(key.environment, flag->stat_env->name, strlen(flag->stat_env->name));
	FFStatsSetName(key.flag_key, flag->key, flag->keylen);
	for (slot = 0; slot < nslots; slot++)
	{
		uint32		count = flag->stat_counts[slot];
		int			variant;

		if (count == 0)
			continue;
		memset(key.variant, 0, sizeof(key.variant));
		if (slot >= (nvariants + 1) * FF_REASON_ERROR)
		{
			key.reason = FF_REASON_ERROR;
			key.error = slot - (nvariants + 1) * FF_REASON_ERROR;
		}
		else
		{
			key.reason = slot % FF_REASON_ERROR;
			key.error = FF_ERROR_NONE;
			variant = slot / FF_REASON_ERROR - 1;
			if (variant >= 0)
				FFStatsSetName(key.variant, flag->flag.variants[variant].name,
							   flag->flag.variants[variant].namelen);
		}
		if (exclusive)
			FFStatsAdd(&key, (int64) count, now, book);
		else if (!FFStatsAddExisting(&key, (int64) count, now))
		{
			left = true;
			continue;
		}
		flag->stat_counts[slot] = 0;
	}
	return left;
}

/*
 * FFStatsFlushPass adds this backend's counts (the flags of the list, the
 * missing keys) with the lock held: in shared mode to existing entries
 * only, returning whether counts are left; exclusively all of them.
 */
static bool
FFStatsFlushPass(FFCacheFlag *flags, bool exclusive, TimestampTz now)
{
	FFStatsEntry *book = FFStatsBook(now, exclusive);
	bool		left = book == NULL && !exclusive;
	FFCacheFlag *flag;

	for (flag = flags; flag != NULL; flag = flag->stat_next)
		left |= FFStatsFlushFlag(flag, exclusive, now, book);
	if (FFStatsMissing != NULL)
	{
		HASH_SEQ_STATUS seq;
		FFStatsMissingEntry *e;

		hash_seq_init(&seq, FFStatsMissing);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			if (exclusive)
				FFStatsAdd(&e->key, e->evaluations, now, book);
			else if (!FFStatsAddExisting(&e->key, e->evaluations, now))
			{
				left = true;
				continue;
			}
			(void) hash_search(FFStatsMissing, &e->key, HASH_REMOVE, NULL);
		}
	}
	return left;
}

/*
 * FFStatsFlush adds this backend's counts to the shared table: when force,
 * or when the last flush is at least FF_STATS_FLUSH_MS old and the lock is
 * free (the counts then wait for the next transaction's end).  Nothing in
 * it raises an error while the lock is held.
 */
void
FFStatsFlush(bool force)
{
	FFCacheFlag *flags = FFStatsFlags;
	TimestampTz now;
	bool		left;

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

	/* the entries of missing keys may go away below */
	FFStatsLastMissing = NULL;
	if (force)
		LWLockAcquire(FFStatsShared->lock, LW_SHARED);
	else if (!LWLockConditionalAcquire(FFStatsShared->lock, LW_SHARED))
		return;
	left = FFStatsFlushPass(flags, false, now);
	LWLockRelease(FFStatsShared->lock);
	if (left)
	{
		if (force)
			LWLockAcquire(FFStatsShared->lock, LW_EXCLUSIVE);
		else if (!LWLockConditionalAcquire(FFStatsShared->lock, LW_EXCLUSIVE))
			return;
		FFStatsShared->changed = true;
		(void) FFStatsFlushPass(flags, true, now);
		LWLockRelease(FFStatsShared->lock);
	}
	else
		FFStatsShared->changed = true;	/* a plain store: no lock needed */

	/* every count is in shared memory: empty the list */
	FFStatsFlags = NULL;
	while (flags != NULL)
	{
		FFCacheFlag *next = flags->stat_next;

		flags->stat_listed = false;
		flags->stat_next = NULL;
		flags = next;
	}
	FFStatsLastFlush = now;
}

/*
 * FFStatsXactCallback flushes at the end of a transaction (at most once
 * a second), a PREPARE TRANSACTION included (the 1.23 library left a
 * prepared transaction's counts to the session's next transaction).
 */
static void
FFStatsXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE ||
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

/* one row of ff.evaluation_stats, copied out of the shared table */
typedef struct FFStatsRow
{
	char	   *names[3];		/* environment, flag key, variant */
	int16		reason;
	int16		error;
	int64		evaluations;
	TimestampTz first_evaluated;
	TimestampTz last_evaluated;
} FFStatsRow;

/*
 * ff_evaluation_stats returns the statistics of the current database: one
 * row per environment, flag key, variant, reason and error code.  The rows
 * are copied under the shared lock and returned after it is released, so
 * that a slow consumer does not hold up the backends that add counts.
 */
Datum
ff_evaluation_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	FFStatsEntry *entry;
	FFStatsRow *rows;
	int64		nrows = 0;
	int64		capacity;
	int64		i;

	FFStatsRequire();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(FFStatsShared->lock, LW_SHARED);
	capacity = Max(hash_get_num_entries(FFStatsHash), 1);
	rows = palloc_extended(sizeof(FFStatsRow) * capacity, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (rows == NULL)
	{
		LWLockRelease(FFStatsShared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		FFStatsRow *row;

		if (entry->key.dbid != MyDatabaseId || entry->key.reason == FF_STATS_RESET_ENTRY ||
			nrows >= capacity)
			continue;
		row = &rows[nrows++];
		/* palloc failing under the lock: the lock is released by the abort */
		row->names[0] = pstrdup(entry->key.environment);
		row->names[1] = pstrdup(entry->key.flag_key);
		row->names[2] = pstrdup(entry->key.variant);
		row->reason = entry->key.reason;
		row->error = entry->key.error;
		SpinLockAcquire(&entry->mutex);
		row->evaluations = entry->evaluations;
		row->first_evaluated = entry->first_evaluated;
		row->last_evaluated = entry->last_evaluated;
		SpinLockRelease(&entry->mutex);
	}
	LWLockRelease(FFStatsShared->lock);

	for (i = 0; i < nrows; i++)
	{
		FFStatsRow *row = &rows[i];
		Datum		values[8];
		bool		nulls[8];
		const char *error;

		CHECK_FOR_INTERRUPTS();
		memset(nulls, 0, sizeof(nulls));
		values[0] = FFStatsNameDatum(row->names[0], &nulls[0]);
		values[1] = FFStatsNameDatum(row->names[1], &nulls[1]);
		values[2] = FFStatsNameDatum(row->names[2], &nulls[2]);
		values[3] = CStringGetTextDatum(FFReasonName((FFReason) row->reason));
		error = FFErrorCodeName((FFErrorCode) row->error);
		nulls[4] = error == NULL;
		values[4] = error ? CStringGetTextDatum(error) : (Datum) 0;
		values[5] = Int64GetDatum(row->evaluations);
		values[6] = TimestampTzGetDatum(row->first_evaluated);
		values[7] = TimestampTzGetDatum(row->last_evaluated);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(ff_evaluation_stats_info);

/*
 * ff_evaluation_stats_info returns one row: the entries of the current
 * database and of all databases, the table's size, the evaluations of the
 * current database dropped because the table was full (for a database that
 * found no room for its bookkeeping entry: those of all such databases),
 * whether this session counts, and since when the current database is
 * counted (NULL: no evaluation counted yet).
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

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	FFStatsRequire();
	memset(nulls, 0, sizeof(nulls));
	nulls[3] = nulls[5] = true;
	LWLockAcquire(FFStatsShared->lock, LW_SHARED);
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (entry->key.dbid != MyDatabaseId)
			continue;
		if (entry->key.reason == FF_STATS_RESET_ENTRY)
		{
			SpinLockAcquire(&entry->mutex);
			values[3] = Int64GetDatum(entry->evaluations);
			values[5] = TimestampTzGetDatum(entry->first_evaluated);
			SpinLockRelease(&entry->mutex);
			nulls[3] = nulls[5] = false;
		}
		else
			mine++;
	}
	values[0] = Int64GetDatum(mine);
	values[1] = Int64GetDatum(FFStatsShared->regular_entries);
	if (nulls[3] && FFStatsShared->dropped > 0)
	{
		values[3] = Int64GetDatum(FFStatsShared->dropped);
		nulls[3] = false;
	}
	LWLockRelease(FFStatsShared->lock);
	values[2] = Int32GetDatum(ff_stats_max_entries);
	if (nulls[3])
	{
		values[3] = Int64GetDatum(0);
		nulls[3] = false;
	}
	values[4] = BoolGetDatum(ff_track_evaluations);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(ff_reset_evaluation_stats);

/*
 * ff_reset_evaluation_stats removes the current database's entries: all of
 * them (its bookkeeping starts again: stats_since now, nothing dropped), or
 * those of one environment, of one flag key, or of both.  It also removes
 * the entries of databases that no longer exist.  Returns the number of
 * the current database's entries removed.
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
	List	   *dbids = NIL;
	List	   *dead = NIL;
	ListCell   *lc;

	FFStatsRequire();
	memset(&match, 0, sizeof(match));
	if (env)
		FFStatsSetName(match.environment, VARDATA_ANY(env), VARSIZE_ANY_EXHDR(env));
	if (key)
		FFStatsSetName(match.flag_key, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));

	/*
	 * the databases with entries, then which are gone (all entries: a
	 * statistics file of the 1.23 library can hold entries of a database
	 * without a bookkeeping entry)
	 */
	LWLockAcquire(FFStatsShared->lock, LW_SHARED);
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (entry->key.dbid != MyDatabaseId)
			dbids = list_append_unique_oid(dbids, entry->key.dbid);
	LWLockRelease(FFStatsShared->lock);
	foreach(lc, dbids)
		if (!SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(lfirst_oid(lc))))
			dead = lappend_oid(dead, lfirst_oid(lc));

	LWLockAcquire(FFStatsShared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, FFStatsHash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		bool		gone = list_member_oid(dead, entry->key.dbid);

		if (!gone)
		{
			if (entry->key.dbid != MyDatabaseId || entry->key.reason == FF_STATS_RESET_ENTRY)
				continue;
			if (env && strcmp(entry->key.environment, match.environment) != 0)
				continue;
			if (key && strcmp(entry->key.flag_key, match.flag_key) != 0)
				continue;
			removed++;
		}
		if (entry->key.reason != FF_STATS_RESET_ENTRY)
			FFStatsShared->regular_entries--;
		(void) hash_search(FFStatsHash, &entry->key, HASH_REMOVE, NULL);
	}
	if (env == NULL && key == NULL)
	{
		FFStatsEntry *book = FFStatsBook(now, true);

		if (book != NULL)
		{
			book->evaluations = 0;
			book->first_evaluated = now;
			book->last_evaluated = now;
		}
	}
	FFStatsRecountMissing();
	FFStatsShared->changed = true;
	LWLockRelease(FFStatsShared->lock);
	PG_RETURN_INT64(removed);
}
