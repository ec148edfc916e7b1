/*-------------------------------------------------------------------------
 *
 * ff_cache.c
 *	  Per-backend cache of compiled flags, segments and environments.
 *
 * Design (see the README section "Evaluation cache"):
 *
 * - The statement trigger ff.invalidate_cache() on ff.environments,
 *   ff.flags, ff.segments and ff.segment_keys sends one relcache
 *   invalidation per statement, of the empty table ff._cache_signal rather
 *   than of the changed table: invalidating ff.flags itself would also
 *   throw away its relcache entry and every cached plan over it (the
 *   writer's own prepared UPDATE included) at each commit, which cost a
 *   third of a single-flag change.  DDL on the configuration tables still
 *   invalidates the cache through their own relcache entries.  The
 *   invalidation is processed locally at the next
 *   CommandCounterIncrement, broadcast at commit, discarded (and the local
 *   cache flushed again) on rollback, and replayed on hot standbys.
 * - The relcache callback registered in _PG_init only clears a flag.
 * - Each evaluation calls AcceptInvalidationMessages() and, when the cache
 *   is invalid, starts a new generation: its own memory context under
 *   CacheMemoryContext.  Environments (their row and segments) are loaded
 *   on first use, each flag is read on first use by its key and compiled
 *   then, segment key lists are loaded on first use, each with the fresh
 *   snapshot the statement took when it first used the cache, so a
 *   transaction sees its own changes and the next statement of any session
 *   sees every committed change.
 * - Flags are read one at a time (1.25 library), by the primary key of
 *   ff.flags: reading all of an environment's flags when it was loaded
 *   made every rebuild cost as much as the environment has flags, and a
 *   transaction that changes many flags, each change rebuilding before the
 *   next one is checked (the scheduled-change runner), read every dead row
 *   version it had made at each change.  A key the environment does not
 *   have is remembered as missing (FFMissingFlag), for up to
 *   FF_MAX_MISSING_FLAGS keys; past that, past FF_MAX_LAZY_FLAGS flags read
 *   one at a time, and for whatever needs every flag
 *   (ff.evaluate_all, "perhaps you meant"), the rest are read in one scan
 *   (FFCacheLoadAllFlags), after which the map answers every key.  A flag
 *   read late follows the rules of every lazy load below.
 * - A generation used by a statement stays in use until that statement
 *   ends (same transaction, statement start and command id), even if other
 *   sessions commit meanwhile, and what it loads late is read with that
 *   statement's snapshot: one statement evaluates one config version.  A
 *   rolled-back subtransaction makes the next evaluation look again.
 * - A lazy load that an ERROR interrupts leaves its generation marked
 *   (loading > 0); the next evaluation discards it whole.  Reading flags
 *   is the exception: an interrupted read leaves whole flags only
 *   (FFAddFlag), so their generation stays (1.26 library).
 * - A generation is built in a child of the caller's memory context and
 *   moved under CacheMemoryContext only when complete, so an ERROR during
 *   a rebuild frees the half-built generation and leaves the previous one
 *   in place.  The previous generation is freed when the next one is
 *   installed, at the start of an evaluation, when nothing points into it.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>
#include <xxhash.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "feature_flags.h"
#include "ff_cache.h"
#include "ff_jsonb.h"
#include "ff_names.h"
#include "ff_stats.h"
#include "ff_trigger.h"

/* the configuration tables the cache reads */
typedef enum FFTable
{
	FF_TABLE_ENVIRONMENTS = 0,
	FF_TABLE_FLAGS,
	FF_TABLE_SEGMENTS,
	FF_TABLE_SEGMENT_KEYS,
	FF_TABLE_CACHE_SIGNAL,		/* never read: only its invalidations */
	FF_TABLE_KEYS_SIGNAL,		/* the same, for key list changes (1.20) */
	FF_NUM_TABLES
} FFTable;

static const char *const FFTableNames[FF_NUM_TABLES] = {
	"environments", "flags", "segments", "segment_keys", "_cache_signal",
	"_cache_signal_keys"
};

#define FFIsSignalTable(i) ((i) >= FF_TABLE_CACHE_SIGNAL)

#define FF_CACHE_SIGNAL_NAME "_cache_signal"
#define FF_KEYS_SIGNAL_NAME "_cache_signal_keys"


/* columns read, resolved by name once per generation */
typedef enum FFColumn
{
	FF_COL_ENV_NAME = 0,
	FF_COL_ENV_IS_DEFAULT,
	FF_COL_ENV_METADATA,
	FF_COL_FLAG_ENVIRONMENT,
	FF_COL_FLAG_KEY,
	FF_COL_FLAG_STATE,
	FF_COL_FLAG_VARIANTS,
	FF_COL_FLAG_DEFAULT_VARIANT,
	FF_COL_FLAG_TARGETING,
	FF_COL_FLAG_METADATA,
	FF_COL_SEG_ENVIRONMENT,
	FF_COL_SEG_NAME,
	FF_COL_SEG_RULE,
	FF_COL_KEY_ENVIRONMENT,
	FF_COL_KEY_SEGMENT,
	FF_COL_KEY_TARGETING_KEY,
	FF_COL_KEY_EXCLUDED,
	FF_NUM_COLUMNS
} FFColumn;

static const struct
{
	FFTable		table;
	const char *name;
}			FFColumns[FF_NUM_COLUMNS] = {
	{FF_TABLE_ENVIRONMENTS, "name"},
	{FF_TABLE_ENVIRONMENTS, "is_default"},
	{FF_TABLE_ENVIRONMENTS, "metadata"},
	{FF_TABLE_FLAGS, "environment"},
	{FF_TABLE_FLAGS, "key"},
	{FF_TABLE_FLAGS, "state"},
	{FF_TABLE_FLAGS, "variants"},
	{FF_TABLE_FLAGS, "default_variant"},
	{FF_TABLE_FLAGS, "targeting"},
	{FF_TABLE_FLAGS, "metadata"},
	{FF_TABLE_SEGMENTS, "environment"},
	{FF_TABLE_SEGMENTS, "name"},
	{FF_TABLE_SEGMENTS, "rule"},
	{FF_TABLE_SEGMENT_KEYS, "environment"},
	{FF_TABLE_SEGMENT_KEYS, "segment"},
	{FF_TABLE_SEGMENT_KEYS, "targeting_key"},
	{FF_TABLE_SEGMENT_KEYS, "excluded"},
};

/* one cache generation */
typedef struct FFCacheGen
{
	MemoryContext cxt;
	JLArena    *arena;
	int64		id;
	Oid			relids[FF_NUM_TABLES];
	AttrNumber	attnums[FF_NUM_COLUMNS];
	Oid			filenodes[FF_NUM_TABLES];	/* see FFCacheCheckRelations */
	TransactionId built_xmin;	/* xmin of the snapshot it was first loaded
								 * with (FFCacheCheckRelations) */
	int64		standby_version;	/* built on a hot standby: the newest
									 * configuration version seen
									 * (FFCacheStandbyCatchUp), -2 unknown;
									 * -1 built on a primary */
	FFStrMap	envs;			/* name -> FFCacheEnv, or FFMissingEnv */
	int			nmissing;		/* names remembered as missing */
	FFSuggestionMemo env_suggestions;	/* FFCacheSuggestEnvironment's
										 * answers */
	bool		default_known;
	char	   *default_name;	/* NULL = no default environment */
	int			loading;		/* lazy loads under way: > 0 after an ERROR
								 * in one, which left partial state behind */
	bool		statement_only; /* loads with an older statement's snapshot:
								 * not for the next statement */

	/* the statement that last used this generation */
	LocalTransactionId lxid;
	TimestampTz stmt_start;
	CommandId	cid;

	/* this transaction's configuration writes when it was built */
	uint64		write_seq;		/* FFWriteSeq */
	bool		during_write;	/* while a write statement was under way */

	/* other sessions' configuration commits when it was built (FFCommits) */
	uint32		commits_started;
	bool		commits_clean;	/* none was between its start and its end */
	TransactionId commit_inflight;	/* else the one that was, if known */
} FFCacheGen;

/*
 * FFMissingEnv stands in the environment map of a generation for a name
 * that was looked up and does not exist, so that an application whose
 * ff.environment names no environment pays one index scan per generation,
 * not one per evaluation.  At most FF_MAX_MISSING_ENVS names are kept.
 */
static FFCacheEnv FFMissingEnv;

#define FF_MAX_MISSING_ENVS 64

/*
 * FFMissingFlag stands in the flag map of an environment for a key that was
 * looked up and that the environment does not have, while its flags are not
 * all read (FFCacheGetFlag), so that a query evaluating a key that does not
 * exist reads ff.flags once per generation, not at every row.  At most
 * FF_MAX_MISSING_FLAGS keys are kept per environment; the next missing key
 * reads every flag of the environment instead.  It is never compiled, so
 * FFCacheGetFlag's test for a compiled flag keeps it off the fast path.
 */
static FFCacheFlag FFMissingFlag;

#define FF_MAX_MISSING_FLAGS 64

/*
 * FF_MAX_LAZY_FLAGS is how many flags of an environment a cache version
 * reads one at a time before it reads the rest in one scan (a statement
 * that evaluates every flag by key would otherwise make an index lookup per
 * flag).
 */
#define FF_MAX_LAZY_FLAGS 256

static FFCacheGen *FFCurrentGen = NULL;
static bool FFCacheValid = false;
static bool FFCacheRecheck = false;	/* see FFRelcacheCallback */
static bool FFCacheSubAborted = false;	/* see FFCacheSubXactCallback */
static uint64 FFInvalCount = 0;

/*
 * The configuration write statements of the current transaction.  The
 * relcache invalidation that tells this backend about its own writes is
 * queued by the AFTER STATEMENT trigger ff_invalidate_cache, which fires
 * after the AFTER ROW triggers of the statement and after the statement
 * triggers whose names sort before its own.  An evaluation in such a
 * trigger -- an audit trigger a user wrote on ff.flags -- runs with a
 * snapshot that sees the statement's rows, so it must not be served by a
 * generation built before them.  The BEFORE STATEMENT trigger
 * ff_01_writer_lock counts a write statement in (FFCacheNoteWriteStart),
 * ff_invalidate_cache counts it out (FFCacheNoteWriteEnd), and a
 * generation built before the current transaction's last write statement
 * began, or while one was under way, is rebuilt at the next command
 * (FFCacheAcquire).  FFWriteLevels keeps the subtransaction level of each
 * statement under way (as deep as triggers nest them), so that a write
 * statement ended by an error caught in an exception block stops counting
 * when its subtransaction aborts.
 */
static LocalTransactionId FFWriteLxid = InvalidLocalTransactionId;
static uint64 FFWriteSeq = 0;
static int	FFWriteDepth = 0;
static int *FFWriteLevels = NULL;	/* in TopMemoryContext */
static int	FFWriteLevelsSize = 0;

/*
 * Configuration commits under way, in shared memory (only when the library
 * is preloaded), per database (FF_COMMIT_SLOTS slots by database OID; two
 * databases that share a slot only cost each other rebuilds).
 * PostgreSQL makes a commit visible to new snapshots just before it queues
 * the commit's invalidations, so a statement that starts in between sees
 * the new rows but no invalidation yet, and a cache trusted on the
 * invalidations alone would answer it, and the statements after it until
 * the invalidation arrives, with the old configuration.  A transaction that
 * wrote configuration counts itself in "started", along with its
 * transaction id (one atomic value: the count in the high half, the id in
 * the low half), before its commit (XACT_EVENT_PRE_COMMIT), and in "done"
 * once the commit is visible (XACT_EVENT_COMMIT, which comes before the
 * invalidations are sent), or when it aborts after all.  A statement
 * reads "done", takes its snapshot, then reads "started": when the two are
 * equal, every commit counted was visible before the snapshot, and the
 * generation built then is "clean"; a commit its snapshot sees was counted
 * in "started" before it became visible.  So a clean generation serves a
 * later statement as long as "started" has not moved.  A generation built
 * while one commit was under way -- the writer lock lets only one
 * configuration writer of a database commit at a time -- remembers its
 * transaction id, and is rebuilt only once a statement's snapshot sees that
 * transaction committed: a commit that waits for its WAL flush or for a
 * synchronous standby makes no reader rebuild at every statement.  With
 * more than one under way (two subscriptions' apply workers), the next
 * statement rebuilds.  Prepared transactions are not counted: COMMIT
 * PREPARED runs in a session that did not write.  On a hot standby no
 * session writes, and replay makes commits visible before their
 * invalidations: FFCacheStandbyCatchUp closes that window.
 */
#define FF_COMMIT_SLOTS 64

typedef struct FFCacheCommitSlot
{
	pg_atomic_uint64 started;	/* count << 32 | the last one's TransactionId */
	pg_atomic_uint32 done;		/* count */
	pg_atomic_uint32 keys_started;	/* the same for commits that changed */
	pg_atomic_uint32 keys_done; /* segment key lists (FFKeyStore) */
} FFCacheCommitSlot;

typedef struct FFCacheCommits
{
	FFCacheCommitSlot slots[FF_COMMIT_SLOTS];
} FFCacheCommits;

#define FFCommitSlot() (&FFCommits->slots[MyDatabaseId % FF_COMMIT_SLOTS])

static FFCacheCommits *FFCommits = NULL;
static shmem_request_hook_type FFCachePrevShmemRequest = NULL;
static shmem_startup_hook_type FFCachePrevShmemStartup = NULL;
static bool FFCommitWrote = false;	/* this transaction wrote configuration */
static bool FFCommitCounted = false;	/* and counted itself in "started" */
static bool FFCommitWroteKeys = false;	/* it wrote ff.segment_keys */
static bool FFCommitKeysCounted = false;	/* and counted in "keys_started" */
static int64 FFRebuildCount = 0;
static int64 FFGenerationCounter = 0;
static Oid	FFWatchedRelids[FF_NUM_TABLES];

/*
 * The snapshot the lazy loads of the current statement read with, taken
 * when the statement first used the cache (FFCacheAcquire), so that what
 * a statement loads late -- a segment's key list, an environment -- is
 * of the same configuration version as what it found loaded, even when
 * another session commits a change in between.  Its arrays are malloc'd
 * once by GetSnapshotData.  It is never registered: it is used while the
 * statement that took it runs, whose own snapshot holds back the xmin
 * horizon at least as far.  Statements sent in one query message share
 * the statement key, so a later one could find it after the backend's
 * xmin moved past it (FFLoadSnapshot takes a new one then).
 */
static SnapshotData FFLoadSnapshotData = {SNAPSHOT_MVCC};

/*
 * Segment key lists kept across generations (1.20).  A flag change makes
 * every backend build a new generation, and a segment of 1,000,000 keys
 * took about half a second to load again although its keys had not
 * changed.  A list of at least FF_KEYS_KEEP_MIN keys is therefore kept in
 * FFKeyStore, under its environment and segment names, with what tells
 * whether a later statement may still use it:
 *
 * - FFKeysEpoch counts this backend's reasons to distrust every kept list:
 *   an invalidation of ff._cache_signal_keys (ff_invalidate_cache queues
 *   one for each statement that changes ff.segment_keys; replayed on hot
 *   standbys, sent by COMMIT PREPARED), of everything, or of the tables
 *   themselves when that changes them (FFCacheCheckRelations), other
 *   table OIDs, this transaction's own write statements on ff.segment_keys
 *   (FFCacheNoteWriteStart), and the abort of a (sub)transaction that held
 *   a write lock on it (FFCacheForgetOwnWrites).  A list carries the epoch read
 *   before the snapshot it was loaded with; a different epoch now means a
 *   change it may lack.
 * - With the library preloaded, the commit counters have a pair for key
 *   list changes ("keys_started"/"keys_done", FFCacheCommits): a list
 *   loaded with a snapshot that saw every counted key commit ("clean")
 *   serves a statement whose snapshot was taken while "keys_started" was
 *   the same, which also covers a commit visible before its invalidation
 *   arrives.
 * - A list is used only while ff.segment_keys is the table, with the
 *   storage, it was read from, and none of its triggers changed since (a
 *   TRUNCATE, or rows written while its triggers were disabled, signal
 *   nothing of their own; an invalidation of the table itself can arrive
 *   while the cache is already invalid, and go unchecked).
 * - A transaction that holds a lock on ff.segment_keys that a write, a
 *   TRUNCATE or ALTER TABLE takes (FFMayHaveWritten) neither uses nor keeps
 *   a list: its lists may hold its own uncommitted rows, written through
 *   the triggers or with them disabled.
 * - Without ff._cache_signal_keys (a database not yet updated to 1.20) no
 *   list is kept: a key change cannot be told from any other change.
 *
 * A list that failed the epoch is freed at the next rebuild (no generation
 * points to it then); so is (1.24 library) a list that none of this
 * backend's last FF_KEYS_UNUSED_GENERATIONS generations used: a segment no
 * flag uses any more, or an environment the session no longer evaluates in,
 * kept its lists until the next key-list write, in every pooled backend
 * that once used them.  The names of freed lists go once they are many
 * (FFKeyStoreTrim).  Smaller lists belong to their generation, as before.
 */
#define FF_KEYS_KEEP_MIN 1024
#define FF_KEYS_UNUSED_GENERATIONS 16

typedef struct FFKeyStoreEntry
{
	uint64		epoch;			/* FFKeysEpoch before the load's snapshot */
	uint32		keys_started;	/* "keys_started" after that snapshot */
	bool		keys_clean;		/* "keys_done" before it was the same */
	Oid			keys_relid;		/* ff.segment_keys then, */
	Oid			keys_filenode;	/* its storage (TRUNCATE makes new) */
	TransactionId keys_xmin;	/* and the snapshot's xmin (its triggers) */
	int64		used_gen;		/* the last generation that used it */
	MemoryContext cxt;			/* the set's memory; NULL = none kept */
	FFKeySet	set;
} FFKeyStoreEntry;

static MemoryContext FFKeyStoreCxt = NULL;
static FFStrMap FFKeyStore;
static uint64 FFKeysEpoch = 1;
static Oid	FFKeysSignalRelid = InvalidOid; /* kept across invalidations */
static int64 FFKeyLoads = 0;	/* key lists read from the table */

/* the statement's snapshot (FFTakeLoadSnapshot) as the key store sees it */
static uint64 FFSnapKeysEpoch = 0;
static uint32 FFSnapKeysStarted = 0;
static bool FFSnapKeysClean = false;

static FFArenaBudget FFScratchBudget = {NULL, 0, false};
static JLArena *FFScratch = NULL;

static void FFScratchTrim(void);

/* ---------------------------------------------------------------------
 * String hash map
 * --------------------------------------------------------------------- */

/*
 * FFStrMapInit initialises an empty map allocated in cxt.
 */
static void
FFStrMapInit(FFStrMap *map, MemoryContext cxt, uint32 expected)
{
	uint32		cap = 16;

	while (cap < PG_UINT32_MAX / 2 && cap * 7 / 10 < expected)
		cap <<= 1;
	map->cxt = cxt;
	map->capacity = cap;
	map->count = 0;
	map->entries = MemoryContextAllocExtended(cxt, sizeof(FFStrMapEntry) * cap,
											  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

/*
 * FFStrHash hashes a key with XXH3.
 */
static inline uint32
FFStrHash(const char *key, size_t len)
{
	return (uint32) XXH3_64bits(key, len);
}

/*
 * FFStrMapGet returns the value stored under key, or NULL.
 */
static void *
FFStrMapGet(const FFStrMap *map, const char *key, size_t len)
{
	uint32		hash;
	uint32		mask;
	uint32		i;

	if (map->entries == NULL)
		return NULL;
	hash = FFStrHash(key, len);
	mask = map->capacity - 1;
	for (i = hash & mask;; i = (i + 1) & mask)
	{
		const FFStrMapEntry *e = &map->entries[i];

		if (e->key == NULL)
			return NULL;
		if (e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0)
			return e->value;
	}
}

/*
 * FFStrMapInsertEntry places an entry into a table known to have room;
 * returns false when the key was there already (its value is replaced).
 */
static bool
FFStrMapInsertEntry(FFStrMapEntry *entries, uint32 capacity,
					const FFStrMapEntry *entry)
{
	uint32		mask = capacity - 1;
	uint32		i;

	for (i = entry->hash & mask;; i = (i + 1) & mask)
	{
		if (entries[i].key == NULL)
		{
			entries[i] = *entry;
			return true;
		}
		if (entries[i].hash == entry->hash && entries[i].len == entry->len &&
			memcmp(entries[i].key, entry->key, entry->len) == 0)
		{
			entries[i].value = entry->value;
			return false;
		}
	}
}

/*
 * FFStrMapPut stores value under key (which must stay allocated as long as
 * the map), growing the table as needed; a key already there keeps its
 * entry, with the new value.
 */
static void
FFStrMapPut(FFStrMap *map, const char *key, size_t len, void *value)
{
	FFStrMapEntry entry;

	if ((uint64) (map->count + 1) * 10 > (uint64) map->capacity * 7)
	{
		uint32		newcap = map->capacity * 2;
		FFStrMapEntry *newentries;
		uint32		i;

		if (newcap < map->capacity)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many entries in a feature_flags cache table")));
		newentries = MemoryContextAllocExtended(map->cxt,
												sizeof(FFStrMapEntry) * newcap,
												MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		for (i = 0; i < map->capacity; i++)
			if (map->entries[i].key != NULL)
				(void) FFStrMapInsertEntry(newentries, newcap, &map->entries[i]);
		pfree(map->entries);
		map->entries = newentries;
		map->capacity = newcap;
	}
	entry.key = key;
	entry.len = (uint32) len;
	entry.hash = FFStrHash(key, len);
	entry.value = value;
	if (FFStrMapInsertEntry(map->entries, map->capacity, &entry))
		map->count++;
}

/* ---------------------------------------------------------------------
 * Invalidation
 * --------------------------------------------------------------------- */

/*
 * FFRelcacheCallback marks the cache invalid when the signal table, or
 * everything (relid = InvalidOid), is invalidated: every configuration
 * change signals through ff._cache_signal.  An invalidation of one of the
 * configuration tables themselves comes from VACUUM, ANALYZE, GRANT or
 * DDL, which change no configuration: the next statement only checks that
 * the tables, columns, storage and triggers the generation depends on are
 * still the same (FFCacheRecheck, FFCacheCheckRelations), so that an
 * autovacuum does not make every backend reload its segments.  A 1.0 installation has no signal table, and its
 * trigger invalidates the changed table: there, any invalidation counts.
 * It must not allocate, access catalogs or raise errors.
 */
static void
FFRelcacheCallback(Datum arg, Oid relid)
{
	int			i;

	/*
	 * Everything, or a key list changed (the key signal is known even while
	 * the watched tables are cleared)
	 */
	if (relid == InvalidOid || relid == FFKeysSignalRelid)
	{
		FFCacheValid = false;
		FFInvalCount++;
		FFKeysEpoch++;
		memset(FFWatchedRelids, 0, sizeof(FFWatchedRelids));
		return;
	}
	for (i = 0; i < FF_NUM_TABLES; i++)
	{
		if (FFWatchedRelids[i] == relid)
		{
			if (!FFIsSignalTable(i) &&
				OidIsValid(FFWatchedRelids[FF_TABLE_CACHE_SIGNAL]))
			{
				FFCacheRecheck = true;
				return;
			}
			FFCacheValid = false;
			FFInvalCount++;
			memset(FFWatchedRelids, 0, sizeof(FFWatchedRelids));
			return;
		}
	}
}

/*
 * FFMayHaveWritten tells whether this transaction holds a lock on table
 * relid that writing it takes: RowExclusiveLock
 * (INSERT, UPDATE, DELETE, COPY), ShareRowExclusiveLock (ALTER TABLE ...
 * DISABLE TRIGGER) or AccessExclusiveLock (TRUNCATE, other ALTER TABLE).
 */
static bool
FFMayHaveWritten(Oid relid)
{
	LOCKTAG		tag;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	return LockHeldByMe(&tag, RowExclusiveLock) ||
		LockHeldByMe(&tag, ShareRowExclusiveLock) ||
		LockHeldByMe(&tag, AccessExclusiveLock);
}

/*
 * FFCacheForgetOwnWrites drops the cache, and the kept key lists, when a
 * (sub)transaction that may have written a configuration table aborts
 * while it holds its lock: rows written with the tables' triggers
 * disabled (or by a statement that failed before they fired) signal
 * nothing, and a generation loaded after them would keep them past the
 * rollback.
 */
static void
FFCacheForgetOwnWrites(void)
{
	int			i;

	if (FFCurrentGen == NULL)
		return;
	for (i = 0; i < FF_NUM_TABLES; i++)
		if (!FFIsSignalTable(i) && OidIsValid(FFCurrentGen->relids[i]) &&
			FFMayHaveWritten(FFCurrentGen->relids[i]))
		{
			FFCacheValid = false;
			if (i == FF_TABLE_SEGMENT_KEYS)
				FFKeysEpoch++;
		}
}

/*
 * FFCacheSubXactCallback notes a rolled-back subtransaction (a PL/pgSQL
 * exception block, ROLLBACK TO SAVEPOINT): the configuration it wrote,
 * which the cache may have loaded, is gone (its local invalidations are
 * replayed by the abort, right after this callback), and a lazy load it
 * interrupted left the generation incomplete.  The next evaluation looks
 * at the cache again, even within the same statement (FFCacheAcquire).
 */
static void
FFCacheSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			level = GetCurrentTransactionNestLevel();

		FFCacheSubAborted = true;
		FFCacheForgetOwnWrites();
		/* the write statements the aborted subtransaction began are over */
		if (FFWriteLxid == MyProc->lxid)
			while (FFWriteDepth > 0 && FFWriteLevels[FFWriteDepth - 1] >= level)
				FFWriteDepth--;
	}
}

/*
 * FFCacheXactCallback counts this transaction's commit of configuration in
 * the shared commit counters (see FFCacheCommits).
 */
static void
FFCacheXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (FFCommitWrote && FFCommits != NULL &&
				TransactionIdIsValid(GetTopTransactionIdIfAny()))
			{
				FFCacheCommitSlot *slot = FFCommitSlot();
				uint64		old = pg_atomic_read_u64(&slot->started);
				uint64		new;

				do
					new = ((uint64) ((uint32) (old >> 32) + 1) << 32) |
						GetTopTransactionIdIfAny();
				while (!pg_atomic_compare_exchange_u64(&slot->started, &old, new));
				FFCommitCounted = true;
				if (FFCommitWroteKeys)
				{
					pg_atomic_fetch_add_u32(&slot->keys_started, 1);
					FFCommitKeysCounted = true;
				}
			}
			break;
		case XACT_EVENT_ABORT:
			/* (its locks are still held here) */
			FFCacheForgetOwnWrites();
			/* FALLTHROUGH */
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			if (FFCommitKeysCounted)
				pg_atomic_fetch_add_u32(&FFCommitSlot()->keys_done, 1);
			if (FFCommitCounted)
				pg_atomic_fetch_add_u32(&FFCommitSlot()->done, 1);
			FFCommitCounted = false;
			FFCommitWrote = false;
			FFCommitKeysCounted = false;
			FFCommitWroteKeys = false;
			/* an idle session keeps no large evaluation's memory */
			FFScratchTrim();
			break;
		default:
			break;
	}
}

/*
 * FFCacheShmemRequest reserves the commit counters.
 */
static void
FFCacheShmemRequest(void)
{
	if (FFCachePrevShmemRequest)
		FFCachePrevShmemRequest();
	RequestAddinShmemSpace(MAXALIGN(sizeof(FFCacheCommits)));
}

/*
 * FFCacheShmemStartup attaches the commit counters, or creates them.
 */
static void
FFCacheShmemStartup(void)
{
	bool		found;

	if (FFCachePrevShmemStartup)
		FFCachePrevShmemStartup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	FFCommits = ShmemInitStruct("feature_flags configuration commits",
								sizeof(FFCacheCommits), &found);
	if (!found)
	{
		int			i;

		for (i = 0; i < FF_COMMIT_SLOTS; i++)
		{
			pg_atomic_init_u64(&FFCommits->slots[i].started, 0);
			pg_atomic_init_u32(&FFCommits->slots[i].done, 0);
			pg_atomic_init_u32(&FFCommits->slots[i].keys_started, 0);
			pg_atomic_init_u32(&FFCommits->slots[i].keys_done, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * FFCacheNoteCommitSignal notes that this transaction wrote configuration
 * (the statement trigger ff_invalidate_cache, or its row variant on a
 * subscriber), so that its commit is counted (FFCacheXactCallback).
 */
static inline void
FFCacheNoteCommitSignal(void)
{
	FFCommitWrote = true;
}

/*
 * FFCacheNoteKeysWrite notes a write of ff.segment_keys by this
 * transaction: its commit is counted as a key commit, and the key lists
 * kept before may miss its rows (see FFKeyStore).
 */
static inline void
FFCacheNoteKeysWrite(void)
{
	FFCommitWroteKeys = true;
	FFKeysEpoch++;
}

/*
 * FFCacheNoteWriteStart counts a write statement of this transaction on
 * table rel in, if it is one the cache reads; called by the BEFORE
 * STATEMENT trigger ff_01_writer_lock (see FFWriteDepth).  Those tables
 * have the statement trigger ff_invalidate_cache, which counts it out; the
 * writer lock's other tables (ff.approval_rules) have none, and change no
 * evaluation.
 */
void
FFCacheNoteWriteStart(Relation rel)
{
	const char *name = RelationGetRelationName(rel);
	int			i;

	for (i = 0; i < FF_TABLE_CACHE_SIGNAL; i++)
		if (strcmp(name, FFTableNames[i]) == 0)
			break;
	if (i == FF_TABLE_CACHE_SIGNAL)
		return;
	if (FFWriteLxid != MyProc->lxid)
	{
		FFWriteLxid = MyProc->lxid;
		FFWriteDepth = 0;
	}
	if (FFWriteDepth >= FFWriteLevelsSize)
	{
		int			size = Max(FFWriteLevelsSize * 2, 16);

		FFWriteLevels = FFWriteLevels == NULL ?
			MemoryContextAlloc(TopMemoryContext, size * sizeof(int)) :
			repalloc(FFWriteLevels, size * sizeof(int));
		FFWriteLevelsSize = size;
	}
	FFWriteLevels[FFWriteDepth] = GetCurrentTransactionNestLevel();
	FFWriteDepth++;
	FFWriteSeq++;
	FFCacheNoteCommitSignal();
	if (i == FF_TABLE_SEGMENT_KEYS)
		FFCacheNoteKeysWrite();
}

/*
 * FFCacheNoteWriteEnd counts a configuration write statement out; called by
 * the AFTER STATEMENT trigger ff_invalidate_cache.
 */
void
FFCacheNoteWriteEnd(void)
{
	if (FFWriteLxid == MyProc->lxid && FFWriteDepth > 0)
		FFWriteDepth--;
}

/*
 * FFCacheBehindOwnWrites tells whether generation gen may miss rows that
 * this transaction's write statements wrote and the current command sees:
 * it was built before the last of them began, or while one was under way.
 */
static inline bool
FFCacheBehindOwnWrites(const FFCacheGen *gen, LocalTransactionId lxid)
{
	return FFWriteLxid == lxid && FFWriteSeq != 0 &&
		(gen->write_seq != FFWriteSeq || gen->during_write);
}

/*
 * FFCacheCommitVisible tells whether the statement's snapshot sees the
 * commit of configuration writer xid.
 */
static inline bool
FFCacheCommitVisible(TransactionId xid)
{
	return !XidInMVCCSnapshot(xid, &FFLoadSnapshotData) && TransactionIdDidCommit(xid);
}

/*
 * FFCacheBehindCommits tells whether generation gen may miss a
 * configuration commit that the statement's snapshot (FFLoadSnapshotData,
 * taken between the reads of "done" and "started") sees; last is the
 * transaction id that came with "started".  A generation found up to date
 * takes the counts on (see FFCacheCommits).
 */
static bool
FFCacheBehindCommits(FFCacheGen *gen, uint32 started, uint32 done,
					 TransactionId last)
{
	if (gen->commits_started == started)
	{
		if (gen->commits_clean)
			return false;
		if (!TransactionIdIsValid(gen->commit_inflight))
			return true;		/* more than one was under way */
		if (FFCacheCommitVisible(gen->commit_inflight))
			return true;		/* the one under way is visible now */
		/* still under way for this snapshot, or rolled back */
		gen->commits_clean = done == started;
		return false;
	}
	/*
	 * Exactly one commit began since a clean generation was built: it only
	 * matters once this snapshot sees it (a commit that waits for its flush
	 * or a synchronous standby costs no rebuild meanwhile).
	 */
	if (gen->commits_clean && (uint32) (started - gen->commits_started) == 1 &&
		TransactionIdIsValid(last) && !FFCacheCommitVisible(last))
	{
		gen->commits_started = started;
		gen->commits_clean = done == started;
		gen->commit_inflight = last;
		return false;
	}
	return true;
}

/*
 * FFCacheInit registers the relcache, subtransaction and transaction
 * callbacks, and, while preloading, the commit counters' shared memory;
 * called once from _PG_init.
 */
void
FFCacheInit(void)
{
	CacheRegisterRelcacheCallback(FFRelcacheCallback, (Datum) 0);
	RegisterSubXactCallback(FFCacheSubXactCallback, NULL);
	RegisterXactCallback(FFCacheXactCallback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	FFCachePrevShmemRequest = shmem_request_hook;
	shmem_request_hook = FFCacheShmemRequest;
	FFCachePrevShmemStartup = shmem_startup_hook;
	shmem_startup_hook = FFCacheShmemStartup;
}

PG_FUNCTION_INFO_V1(ff_invalidate_cache);

/*
 * ff_invalidate_cache is the statement trigger on the configuration tables:
 * it queues one relcache invalidation of ff._cache_signal (in the schema of
 * the changed table), which every backend (including this one, at the next
 * command, and hot standbys at replay of the commit) turns into a cache
 * rebuild.  Should the signal table be missing, the changed table itself is
 * invalidated, which is slower but just as correct.
 */
Datum
ff_invalidate_cache(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata;
	Oid			signal;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function ff.invalidate_cache() was not called by the trigger manager"),
				 errhint("Attach it as an AFTER ... FOR EACH STATEMENT trigger.")));
	trigdata = (TriggerData *) fcinfo->context;
	if (TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		FFCacheNoteWriteEnd();
	FFCacheNoteCommitSignal();
	signal = get_relname_relid(FF_CACHE_SIGNAL_NAME,
							   RelationGetNamespace(trigdata->tg_relation));
	if (OidIsValid(signal))
		CacheInvalidateRelcacheByRelid(signal);
	else
		CacheInvalidateRelcache(trigdata->tg_relation);

	/*
	 * A key list changed: also ff._cache_signal_keys (1.20), which makes
	 * backends drop the key lists they kept.  Both are sent, so that a
	 * backend that does not know the second table yet rebuilds anyway.
	 */
	if (strcmp(RelationGetRelationName(trigdata->tg_relation),
			   FFTableNames[FF_TABLE_SEGMENT_KEYS]) == 0)
	{
		Oid			keys_signal = get_relname_relid(FF_KEYS_SIGNAL_NAME,
													RelationGetNamespace(trigdata->tg_relation));

		FFCacheNoteKeysWrite();
		if (OidIsValid(keys_signal))
			CacheInvalidateRelcacheByRelid(keys_signal);
	}
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------------
 * Generations
 * --------------------------------------------------------------------- */

/*
 * FFResolveRelations fills the table OIDs and column numbers of a new
 * generation, or raises an error when the extension is not installed.
 */
static void
FFResolveRelations(Oid *relids, AttrNumber *attnums)
{
	Oid			nsp;
	int			i;

	nsp = get_namespace_oid("ff", true);
	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"feature_flags\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION feature_flags.")));
	for (i = 0; i < FF_NUM_TABLES; i++)
	{
		/*
		 * The signal table arrived in 1.1: a 1.0 installation not yet
		 * updated (ALTER EXTENSION feature_flags UPDATE) has none, and its
		 * trigger invalidates the changed table itself, which is watched too.
		 */
		if (FFIsSignalTable(i))
			relids[i] = get_relname_relid(FFTableNames[i], nsp);
		else
			relids[i] = FFTriggerRelid(nsp, FFTableNames[i]);
	}
	for (i = 0; i < FF_NUM_COLUMNS; i++)
	{
		attnums[i] = get_attnum(relids[FFColumns[i].table], FFColumns[i].name);
		if (attnums[i] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"%s\" of table \"ff.%s\" does not exist",
							FFColumns[i].name, FFTableNames[FFColumns[i].table]),
					 errhint("Reinstall the extension with DROP EXTENSION and CREATE EXTENSION.")));
	}
}

/*
 * FFRelFilenodes fills the relfilenode of each table (InvalidOid for a
 * table that does not exist).
 */
static void
FFRelFilenodes(const Oid *relids, Oid *filenodes)
{
	int			i;

	for (i = 0; i < FF_NUM_TABLES; i++)
	{
		HeapTuple	tup;

		filenodes[i] = InvalidOid;
		if (!OidIsValid(relids[i]))
			continue;
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relids[i]));
		if (HeapTupleIsValid(tup))
		{
			filenodes[i] = ((Form_pg_class) GETSTRUCT(tup))->relfilenode;
			ReleaseSysCache(tup);
		}
	}
}

/*
 * FFTableTriggersChangedSince reports whether a trigger of table relid was
 * created, altered or renamed by a transaction that had not finished when
 * xmin was current (see FFTriggersChangedSince).
 */
static bool
FFTableTriggersChangedSince(Oid relid, TransactionId xmin)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		changed = false;

	if (!TransactionIdIsValid(xmin))
		return true;
	rel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TransactionId tx = HeapTupleHeaderGetXmin(tup->t_data);

		if (TransactionIdIsNormal(tx) &&
			(TransactionIdFollowsOrEquals(tx, xmin) ||
			 TransactionIdIsCurrentTransactionId(tx)))
		{
			changed = true;
			break;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return changed;
}

/*
 * FFTriggersChangedSince reports whether a trigger of one of the
 * configuration tables was created, altered (ENABLE/DISABLE TRIGGER, also
 * toggled back within one transaction) or renamed by a transaction that
 * had not finished when xmin was current: its pg_trigger row is that new.
 * Conservative: a change shortly before xmin may count as well.
 */
static bool
FFTriggersChangedSince(const Oid *relids, TransactionId xmin)
{
	int			i;

	for (i = 0; i < FF_NUM_TABLES; i++)
		if (!FFIsSignalTable(i) && OidIsValid(relids[i]) &&
			FFTableTriggersChangedSince(relids[i], xmin))
			return true;
	return false;
}

/*
 * FFCacheCheckRelations handles an invalidation of the configuration
 * tables themselves (FFRelcacheCallback): the current generation stays
 * valid when the tables, the columns it reads, their storage and their
 * triggers are the same, which they are after VACUUM, ANALYZE or GRANT.
 * After DDL that changed them, a new relfilenode (TRUNCATE, also one whose
 * statement trigger did not fire; VACUUM FULL, CLUSTER), or a trigger
 * disabled or enabled since the generation was loaded (rows written
 * meanwhile were not signalled), it is rebuilt.
 */
static void
FFCacheCheckRelations(void)
{
	Oid			relids[FF_NUM_TABLES];
	AttrNumber	attnums[FF_NUM_COLUMNS];
	Oid			filenodes[FF_NUM_TABLES];

	if (likely(!FFCacheRecheck))
		return;
	if (FFCurrentGen == NULL || !FFCacheValid)
	{
		FFCacheRecheck = false;
		return;
	}
	/* an ERROR here (a column renamed away) leaves the check pending */
	FFResolveRelations(relids, attnums);
	FFRelFilenodes(relids, filenodes);
	if (memcmp(relids, FFCurrentGen->relids, sizeof(relids)) != 0 ||
		memcmp(attnums, FFCurrentGen->attnums, sizeof(attnums)) != 0 ||
		memcmp(filenodes, FFCurrentGen->filenodes, sizeof(filenodes)) != 0 ||
		FFTriggersChangedSince(relids, FFCurrentGen->built_xmin))
	{
		FFCacheValid = false;
		FFKeysEpoch++;
	}
	FFCacheRecheck = false;
}

/*
 * FFCacheCheckSignal looks, for a generation of a 1.0 installation (no
 * signal table, so it watches the configuration tables themselves),
 * whether ff._cache_signal exists now: ALTER EXTENSION UPDATE creates it,
 * from then on every change signals through it alone, and a session that
 * loaded its cache before the update would not see another change.  One
 * catalog cache lookup per statement, only while a database is at 1.0.
 */
static void
FFCacheCheckSignal(void)
{
	FFCacheGen *gen = FFCurrentGen;

	if (likely(gen == NULL || !FFCacheValid ||
			   OidIsValid(gen->relids[FF_TABLE_CACHE_SIGNAL])))
		return;
	if (OidIsValid(get_relname_relid(FFTableNames[FF_TABLE_CACHE_SIGNAL],
									 get_rel_namespace(gen->relids[FF_TABLE_FLAGS]))))
	{
		FFCacheValid = false;
		FFKeysEpoch++;
	}
}

/*
 * FFKeyStoreTrim frees the kept key lists that no statement may use any
 * more (a different FFKeysEpoch) or that no generation of the last
 * FF_KEYS_UNUSED_GENERATIONS used, or all of them; called when a new
 * generation is installed, when no generation points to them.
 */
static void
FFKeyStoreTrim(bool all)
{
	uint32		i;
	uint32		kept = 0;

	if (FFKeyStoreCxt == NULL)
		return;
	for (i = 0; i < FFKeyStore.capacity; i++)
	{
		FFKeyStoreEntry *e = FFKeyStore.entries[i].value;

		if (FFKeyStore.entries[i].key == NULL || e->cxt == NULL)
			continue;
		if (e->epoch == FFKeysEpoch && !all &&
			FFGenerationCounter - e->used_gen <= FF_KEYS_UNUSED_GENERATIONS)
		{
			kept++;
			continue;
		}
		MemoryContextDelete(e->cxt);
		e->cxt = NULL;
		memset(&e->set, 0, sizeof(e->set));
	}

	/*
	 * The names of lists no longer kept: all gone with the context when
	 * none is kept, else the kept ones copied to a new one once the others
	 * are many (segments made and deleted every day in a pooled backend).
	 */
	if (kept == 0)
	{
		MemoryContextDelete(FFKeyStoreCxt);
		FFKeyStoreCxt = NULL;
	}
	else if (FFKeyStore.count - kept > Max(kept, 16))
	{
		MemoryContext newcxt = AllocSetContextCreate(TopMemoryContext,
													 "feature_flags kept key lists",
													 ALLOCSET_SMALL_SIZES);
		FFStrMap	newmap;

		FFStrMapInit(&newmap, newcxt, kept);
		for (i = 0; i < FFKeyStore.capacity; i++)
		{
			FFKeyStoreEntry *e = FFKeyStore.entries[i].value;
			FFKeyStoreEntry *copy;
			char	   *name;

			if (FFKeyStore.entries[i].key == NULL || e->cxt == NULL)
				continue;
			name = MemoryContextAlloc(newcxt, FFKeyStore.entries[i].len + 1);
			memcpy(name, FFKeyStore.entries[i].key, FFKeyStore.entries[i].len + 1);
			copy = MemoryContextAlloc(newcxt, sizeof(FFKeyStoreEntry));
			*copy = *e;
			MemoryContextSetParent(e->cxt, newcxt);
			FFStrMapPut(&newmap, name, FFKeyStore.entries[i].len, copy);
		}
		MemoryContextDelete(FFKeyStoreCxt);
		FFKeyStoreCxt = newcxt;
		FFKeyStore = newmap;
	}
}

/*
 * FFCacheRebuild installs a new, empty generation.  Nothing is read yet:
 * environments, flags and segments load on first use.
 */
static void
FFCacheRebuild(void)
{
	MemoryContext cxt;
	FFCacheGen *gen;
	FFCacheGen *old;
	uint64		inval_at_start = FFInvalCount;
	bool		forget_kept;

	if (CacheMemoryContext == NULL)
		CreateCacheMemoryContext();

	/* built under the caller's context: an ERROR frees it */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "feature_flags cache",
								ALLOCSET_DEFAULT_SIZES);
	gen = MemoryContextAllocZero(cxt, sizeof(FFCacheGen));
	gen->cxt = cxt;
	FFResolveRelations(gen->relids, gen->attnums);
	FFRelFilenodes(gen->relids, gen->filenodes);
	gen->arena = FFArenaCreate(cxt);
	FFStrMapInit(&gen->envs, cxt, 4);
	gen->id = ++FFGenerationCounter;

	/* complete: make it the current generation */
	MemoryContextSetParent(cxt, CacheMemoryContext);
	old = FFCurrentGen;
	FFCurrentGen = gen;
	memcpy(FFWatchedRelids, gen->relids, sizeof(FFWatchedRelids));
	/* other tables (the extension made anew, or updated to 1.20)? */
	forget_kept = FFKeysSignalRelid != gen->relids[FF_TABLE_KEYS_SIGNAL];
	FFKeysSignalRelid = gen->relids[FF_TABLE_KEYS_SIGNAL];
	FFRebuildCount++;
	/* an invalidation that arrived while resolving the OIDs still counts */
	FFCacheValid = (FFInvalCount == inval_at_start);
	if (old != NULL)
	{
		/* the counts of its flags first (ff_stats.c) */
		FFStatsFlush(true);
		MemoryContextDelete(old->cxt);
	}
	FFKeyStoreTrim(forget_kept);
}

/*
 * FFTakeLoadSnapshot takes the statement's snapshot for loading
 * (FFLoadSnapshotData) between the reads of the commit counters, "done"
 * before and "started" after (see FFCacheCommits; both 0 without them),
 * and notes what the key store needs (FFKeyStore).
 */
static void
FFTakeLoadSnapshot(uint32 *done, uint64 *started)
{
	FFCacheCommitSlot *slot = FFCommits != NULL ? FFCommitSlot() : NULL;
	uint32		keys_done = 0;

	*done = 0;
	*started = 0;
	FFSnapKeysEpoch = FFKeysEpoch;
	if (slot != NULL)
	{
		*done = pg_atomic_read_u32(&slot->done);
		keys_done = pg_atomic_read_u32(&slot->keys_done);
		pg_memory_barrier();
	}
	GetSnapshotData(&FFLoadSnapshotData);
	FFSnapKeysStarted = 0;
	if (slot != NULL)
	{
		pg_memory_barrier();
		*started = pg_atomic_read_u64(&slot->started);
		FFSnapKeysStarted = pg_atomic_read_u32(&slot->keys_started);
	}
	FFSnapKeysClean = keys_done == FFSnapKeysStarted;
}

/*
 * FFCacheProcessInvalidations processes the pending invalidations and the
 * checks they leave for the next statement (FFCacheCheckRelations,
 * FFCacheCheckSignal).
 */
static void
FFCacheProcessInvalidations(void)
{
	AcceptInvalidationMessages();
	FFCacheCheckRelations();
	FFCacheCheckSignal();
}

/*
 * FFCacheStandbyVersion returns the newest configuration version
 * (ff.versions) that the statement's snapshot sees, 0 for none, and sets
 * *keys when one of the versions after since changed a key list: a
 * backward scan of its primary key down to since.  Returns -1 when it
 * cannot tell: no ff.versions, or a lock on it that the startup process
 * holds (a replayed ALTER, VACUUM FULL or TRUNCATE), which an evaluation
 * does not wait for.
 */
static int64
FFCacheStandbyVersion(FFCacheGen *gen, int64 since, bool *keys)
{
	Oid			relid;
	Oid			pkindex;
	Relation	rel;
	Relation	idx;
	SysScanDesc scan;
	HeapTuple	tup;
	AttrNumber	opatt;
	int64		newest = 0;

	*keys = false;
	relid = get_relname_relid("versions", get_rel_namespace(gen->relids[FF_TABLE_FLAGS]));
	if (!OidIsValid(relid) || !ConditionalLockRelationOid(relid, AccessShareLock))
		return -1;
	rel = table_open(relid, NoLock);
	pkindex = RelationGetPrimaryKeyIndex(rel);
	opatt = get_attnum(relid, "operation");
	if (!OidIsValid(pkindex) || opatt == InvalidAttrNumber ||
		!ConditionalLockRelationOid(pkindex, AccessShareLock))
	{
		table_close(rel, AccessShareLock);
		return -1;
	}
	idx = index_open(pkindex, NoLock);
	scan = systable_beginscan_ordered(rel, idx, &FFLoadSnapshotData, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, BackwardScanDirection)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, idx->rd_index->indkey.values[0],
									 RelationGetDescr(rel), &isnull);
		int64		version = isnull ? 0 : DatumGetInt64(d);

		if (newest == 0)
			newest = version;
		if (since < 0 || version <= since)
			break;
		CHECK_FOR_INTERRUPTS();
		d = heap_getattr(tup, opatt, RelationGetDescr(rel), &isnull);
		if (!isnull)
		{
			text	   *op = DatumGetTextPP(d);

			if (VARSIZE_ANY_EXHDR(op) == 4 && memcmp(VARDATA_ANY(op), "KEYS", 4) == 0)
			{
				*keys = true;
				break;
			}
		}
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return newest;
}

/*
 * FFCacheStandbyCatchUp closes, on a hot standby, the window the commit
 * counters (FFCacheCommits) close on a primary, where no session of the
 * standby writes: replaying a commit makes it visible before it queues the
 * commit's invalidations, so a statement whose snapshot (just taken,
 * FFLoadSnapshotData) sees a configuration change may find no
 * invalidation yet.  When no WAL record is being replayed (the end of the
 * last one replayed is the end of the one being replayed), every commit the
 * snapshot sees has queued its invalidations: they are processed now.
 * While one is being replayed, it may be such a commit: the newest version
 * in ff.versions the snapshot sees tells whether the generation lacks a
 * change, and whether it changed a key list, which the kept lists
 * (FFKeyStore) must know even when the generation is already invalid
 * (every configuration change writes a version; one written with
 * session_replication_role = replica does not, and is only seen with its
 * invalidation).  It runs for a generation built during recovery, so also
 * for a statement that straddles the promotion (after it, both positions
 * are equal).  Returns true when something was invalidated, so that the
 * caller takes its snapshot again, after the invalidations it processed.
 */
static bool
FFCacheStandbyCatchUp(void)
{
	FFCacheGen *gen = FFCurrentGen;
	XLogRecPtr	replayed;
	XLogRecPtr	replaying;
	uint64		invals = FFInvalCount;
	uint64		epoch = FFKeysEpoch;

	if (likely(gen == NULL || gen->standby_version == -1))
		return false;
	/* the last one replayed first: then one that began before is done */
	replayed = GetXLogReplayRecPtr(NULL);
	replaying = GetCurrentReplayRecPtr(NULL);
	if (replayed == replaying)
		FFCacheProcessInvalidations();
	else
	{
		bool		keys;
		int64		newest = FFCacheStandbyVersion(gen, gen->standby_version, &keys);

		if (gen->standby_version == -2)
			gen->standby_version = newest >= 0 ? newest : -2;	/* a baseline */
		else if (newest > gen->standby_version)
		{
			/* seen: the next round compares with it */
			gen->standby_version = newest;
			if (FFCacheValid)
			{
				FFCacheValid = false;
				FFInvalCount++;
			}
			if (keys)
				FFKeysEpoch++;
		}
	}
	return FFInvalCount != invals || FFKeysEpoch != epoch;
}

/*
 * FFCacheAcquire returns the generation to use for the current statement:
 * the current one if it is valid or already used by this statement, else
 * a new one.  A statement keeps the generation of its first evaluation, so
 * only the first evaluation of a statement needs to process the pending
 * invalidations; the other rows of a bulk query skip that.
 */
static FFCacheGen *
FFCacheAcquire(void)
{
	LocalTransactionId lxid = MyProc->lxid;
	TimestampTz stmt_start = GetCurrentStatementStartTimestamp();
	CommandId	cid = GetCurrentCommandId(false);
	FFCacheGen *gen = FFCurrentGen;
	bool		same_statement;
	bool		rebuilt = false;
	uint32		commits_done = 0;
	uint32		commits_started = 0;
	TransactionId commit_inflight = InvalidTransactionId;
	TransactionId commit_last = InvalidTransactionId;

	same_statement = gen != NULL && gen->lxid == lxid &&
		gen->stmt_start == stmt_start && gen->cid == cid;
	if (likely(same_statement && !FFCacheSubAborted))
		return gen;
	FFCacheSubAborted = false;

	FFCacheProcessInvalidations();

	gen = FFCurrentGen;

	/*
	 * A new statement's snapshot, between the two commit counters (see
	 * FFCacheCommits): a configuration commit it sees but whose
	 * invalidation has not arrived yet moved "started" since the
	 * generation was built.
	 */
	if (!same_statement)
	{
		uint64		started;

		/* on a hot standby, again after the invalidations it caught up on */
		do
			FFTakeLoadSnapshot(&commits_done, &started);
		while (FFCacheStandbyCatchUp());
		commits_started = (uint32) (started >> 32);
		commit_last = (TransactionId) started;
		/* one under way: the last one counted, whose id came with it */
		if (FFCommits != NULL && (uint32) (commits_started - commits_done) == 1)
			commit_inflight = commit_last;
	}

	/*
	 * A generation whose lazy load was interrupted by an ERROR (a cancel, a
	 * timeout, out of memory) is discarded whole: its partial state and the
	 * memory it took go with it.
	 */
	if (gen == NULL || !FFCacheValid || gen->loading != 0 ||
		(gen->statement_only && !same_statement) ||
		FFCacheBehindOwnWrites(gen, lxid) ||
		(FFCommits != NULL && !same_statement &&
		 FFCacheBehindCommits(gen, commits_started, commits_done, commit_last)))
	{
		FFCacheRebuild();
		gen = FFCurrentGen;
		rebuilt = true;

		/*
		 * Within a statement, after a rolled-back subtransaction: the new
		 * generation loads with the statement's snapshot, so the statement
		 * keeps its configuration version without what the subtransaction
		 * wrote.  The invalidations just processed may also have been of
		 * changes other sessions committed since, which that snapshot does
		 * not see: the generation serves this statement only.
		 */
		gen->statement_only = same_statement;
		gen->write_seq = FFWriteSeq;
		gen->during_write = FFWriteLxid == lxid && FFWriteDepth > 0;
		gen->commits_started = commits_started;
		gen->commits_clean = !same_statement && commits_done == commits_started;
		gen->commit_inflight = same_statement ? InvalidTransactionId : commit_inflight;
	}
	gen->lxid = lxid;
	gen->stmt_start = stmt_start;
	gen->cid = cid;

	/*
	 * The snapshot was taken after the invalidations: a change whose commit
	 * it sees has normally invalidated the cache already.  PostgreSQL makes
	 * a commit visible just before it sends the invalidations, the same
	 * short window its own catalog caches have; with the library preloaded,
	 * the commit counters close it (FFCacheCommits), and on a hot standby,
	 * where replay does the same, FFCacheStandbyCatchUp.
	 */
	if (rebuilt)
	{
		bool		keys;

		gen->built_xmin = FFLoadSnapshotData.xmin;
		gen->standby_version = -1;
		if (RecoveryInProgress())
		{
			/* -2: built in recovery, version unknown (a lock not granted) */
			gen->standby_version = FFCacheStandbyVersion(gen, -1, &keys);
			if (gen->standby_version < 0)
				gen->standby_version = -2;
		}
	}
	return gen;
}

/* ---------------------------------------------------------------------
 * Loading rows
 * --------------------------------------------------------------------- */

/*
 * FFLoadSnapshot returns the snapshot for a lazy load: the statement's,
 * while the backend's advertised xmin still protects what it sees, else a
 * new one (see FFLoadSnapshotData).
 */
static Snapshot
FFLoadSnapshot(void)
{
	TransactionId xmin = MyProc->xmin;

	if (!TransactionIdIsValid(xmin) ||
		!TransactionIdPrecedesOrEquals(xmin, FFLoadSnapshotData.xmin))
	{
		uint32		done;
		uint64		started;

		FFTakeLoadSnapshot(&done, &started);
	}
	return &FFLoadSnapshotData;
}

/*
 * FFBeginScan scans table t for rows whose first nkeys text columns (a
 * prefix of its primary key) equal vals, with the snapshot the statement
 * took when it first used the cache.
 */
static SysScanDesc
FFBeginScan(FFCacheGen *gen, Relation rel, int nkeys, const FFColumn *cols,
			const Datum *vals)
{
	ScanKeyData skey[2];
	Oid			pkindex;
	int			i;

	Assert(nkeys <= 2);
	for (i = 0; i < nkeys; i++)
	{
		AttrNumber	att = gen->attnums[cols[i]];

		ScanKeyInit(&skey[i], att, BTEqualStrategyNumber, F_TEXTEQ, vals[i]);
		/* compare with the column's (and index's) collation */
		skey[i].sk_collation = TupleDescAttr(RelationGetDescr(rel), att - 1)->attcollation;
	}
	pkindex = nkeys > 0 ? RelationGetPrimaryKeyIndex(rel) : InvalidOid;
	return systable_beginscan(rel, pkindex, OidIsValid(pkindex),
							  FFLoadSnapshot(), nkeys, skey);
}

/*
 * FFGetText returns a text column as a C string in CurrentMemoryContext,
 * or NULL.
 */
static char *
FFGetText(HeapTuple tup, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, att, desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * FFGetJsonb returns a copy of a jsonb column in CurrentMemoryContext, or
 * NULL.
 */
static Jsonb *
FFGetJsonb(HeapTuple tup, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, att, desc, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

/*
 * FFArenaAllocZero returns size zeroed bytes of the arena (ERROR when out
 * of memory).  Objects kept as long as a generation go to its arena: no
 * allocator chunk header or power-of-two rounding.
 */
static void *
FFArenaAllocZero(JLArena *arena, size_t size)
{
	void	   *p = JLArenaAlloc(arena, size);

	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	memset(p, 0, size);
	return p;
}

/*
 * FFCacheEnvAllocZero returns size zeroed bytes that live as long as env's
 * generation, from its arena.
 */
void *
FFCacheEnvAllocZero(FFCacheEnv *env, size_t size)
{
	return FFArenaAllocZero(env->arena, size);
}

/*
 * FFArenaBytes copies len bytes into the arena as a NUL-terminated string.
 */
static char *
FFArenaBytes(JLArena *arena, const char *ptr, size_t len)
{
	char	   *copy = FFArenaAllocZero(arena, len + 1);

	memcpy(copy, ptr, len);
	return copy;
}

/*
 * FFArenaText moves a palloc'd string into the arena (NULL stays NULL).
 */
static char *
FFArenaText(JLArena *arena, char *str)
{
	char	   *copy;

	if (str == NULL)
		return NULL;
	copy = FFArenaBytes(arena, str, strlen(str));
	pfree(str);
	return copy;
}

/*
 * FFGetJsonbPacked returns a copy of a jsonb column in the arena (no
 * allocator chunk rounding or header: rules are the bulk of a loaded
 * environment), or NULL.
 */
static Jsonb *
FFGetJsonbPacked(JLArena *arena, HeapTuple tup, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, att, desc, &isnull);
	Jsonb	   *jb;
	Jsonb	   *copy;

	if (isnull)
		return NULL;
	jb = DatumGetJsonbP(d);
	copy = JLArenaAlloc(arena, VARSIZE(jb));
	if (copy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	memcpy(copy, jb, VARSIZE(jb));
	if ((Pointer) jb != DatumGetPointer(d))
		pfree(jb);
	return copy;
}

/*
 * FFEmptyObject returns a new empty jsonb object.
 */
static Jsonb *
FFEmptyObject(void)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * FFCacheCleanMetadata returns metadata as flagd has it: an object of its
 * string, number and boolean members ({} for NULL or a non-object).  Null
 * members are dropped, as flagd drops them, and so are arrays and objects,
 * which the validation refuses (flagd metadata is flat): one stored around
 * it is left out without being walked (1.26 library; jsonb_strip_nulls
 * walked it, and a value nested 20,000 levels deep made every evaluation
 * of the flag, or of its whole environment, fail with "stack depth limit
 * exceeded").
 */
Jsonb *
FFCacheCleanMetadata(Jsonb *meta)
{
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbValue *res;
	JsonbIteratorToken tok;

	if (meta == NULL || !JB_ROOT_IS_OBJECT(meta) || JB_ROOT_IS_SCALAR(meta))
		return FFEmptyObject();
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&meta->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (v.type == jbvString || v.type == jbvNumeric || v.type == jbvBool)
		{
			pushJsonbValue(&state, WJB_KEY, &k);
			pushJsonbValue(&state, WJB_VALUE, &v);
		}
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * FFLoadDefaultName finds the default environment's name.
 */
static void
FFLoadDefaultName(FFCacheGen *gen)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *name = NULL;

	rel = table_open(gen->relids[FF_TABLE_ENVIRONMENTS], AccessShareLock);
	scan = FFBeginScan(gen, rel, 0, NULL, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, gen->attnums[FF_COL_ENV_IS_DEFAULT],
									 RelationGetDescr(rel), &isnull);

		if (!isnull && DatumGetBool(d))
		{
			name = MemoryContextStrdup(gen->cxt,
									   FFGetText(tup, RelationGetDescr(rel),
												 gen->attnums[FF_COL_ENV_NAME]));
			break;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	gen->default_name = name;
	gen->default_known = true;
}

/*
 * FFNameCompare orders a list of C strings (list_sort comparator).
 */
static int
FFNameCompare(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

/*
 * FFCacheEnvironmentNames returns the names of the existing environments
 * for a HINT: quoted, comma-separated, in name order, at most 20 of them;
 * *closest is set to the one closest to missing (ff_names.c), or NULL.  It
 * returns NULL when the current user may not read ff.environments (the
 * evaluation functions are PUBLIC; the names are not), or when there are
 * none.  Call it after FFCacheGetEnv, in the same statement.
 */
char *
FFCacheEnvironmentNames(const char *missing, const char **closest)
{
	FFCacheGen *gen = FFCurrentGen;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *names = NIL;
	StringInfoData buf;
	ListCell   *lc;
	int			n = 0;
	FFNameMatch m;

	*closest = NULL;
	if (gen == NULL ||
		pg_class_aclcheck(gen->relids[FF_TABLE_ENVIRONMENTS], GetUserId(),
						  ACL_SELECT) != ACLCHECK_OK)
		return NULL;
	rel = table_open(gen->relids[FF_TABLE_ENVIRONMENTS], AccessShareLock);
	scan = FFBeginScan(gen, rel, 0, NULL, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		char	   *name = FFGetText(tup, RelationGetDescr(rel),
									 gen->attnums[FF_COL_ENV_NAME]);

		CHECK_FOR_INTERRUPTS();
		if (name != NULL)
			names = lappend(names, name);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (names == NIL)
		return NULL;
	list_sort(names, FFNameCompare);
	FFNameMatchInit(&m, missing, strlen(missing));
	foreach(lc, names)
		FFNameMatchOffer(&m, (const char *) lfirst(lc), strlen((const char *) lfirst(lc)));
	FFNameMatchEnd(&m);
	*closest = m.best;
	initStringInfo(&buf);
	foreach(lc, names)
	{
		if (n == 20)
		{
			appendStringInfo(&buf, " and %d more", list_length(names) - n);
			break;
		}
		appendStringInfo(&buf, "%s\"%s\"", n > 0 ? ", " : "", (char *) lfirst(lc));
		n++;
	}
	return buf.data;
}

/*
 * FFSuggestionFind returns the remembered answer for name (*found set),
 * or, when name was not asked before, the next free slot with the name
 * filled in (*found clear), which the caller counts (memo->n++) once it has
 * stored the answer, so that an ERROR while it searches leaves no slot
 * without one.  NULL when memo is full (FF_SUGGEST_MAX) or name too long
 * to remember (FF_SUGGEST_KEY_MAX): such names get no suggestion, so that
 * the cost stays bounded.
 */
static FFSuggestion *
FFSuggestionFind(FFSuggestionMemo *memo, MemoryContext cxt,
				 const char *name, size_t len, bool *found)
{
	FFSuggestion *s;
	int			i;

	*found = false;
	if (len > FF_SUGGEST_KEY_MAX)
		return NULL;
	for (i = 0; i < memo->n; i++)
	{
		s = &memo->items[i];
		if (s->len == len && memcmp(s->key, name, len) == 0)
		{
			*found = true;
			return s;
		}
	}
	if (memo->n >= FF_SUGGEST_MAX)
		return NULL;
	if (memo->items == NULL)
		memo->items = MemoryContextAlloc(cxt, sizeof(FFSuggestion) * FF_SUGGEST_MAX);
	s = &memo->items[memo->n];
	s->len = (uint8) len;
	memcpy(s->key, name, len);
	s->closest = NULL;
	return s;
}

/*
 * FFCacheSuggestEnvironment returns the existing environment closest to
 * missing, a name FFCacheGetEnv did not find in this statement, for
 * ff.evaluate's "perhaps you meant"; NULL when none is close, or when the
 * current user may not read ff.environments (the evaluation functions are
 * PUBLIC; the names are not).  As FFCacheSuggestFlag does for flags, the
 * answers for the first FF_SUGGEST_MAX distinct names of a generation are
 * remembered, so that a query evaluating with a mistyped environment for
 * every row reads ff.environments once; later names get none.
 */
const char *
FFCacheSuggestEnvironment(const char *missing)
{
	FFCacheGen *gen = FFCurrentGen;
	FFSuggestion *s;
	const char *closest;
	bool		found;

	if (gen == NULL ||
		pg_class_aclcheck(gen->relids[FF_TABLE_ENVIRONMENTS], GetUserId(),
						  ACL_SELECT) != ACLCHECK_OK)
		return NULL;
	s = FFSuggestionFind(&gen->env_suggestions, gen->cxt, missing,
						 strlen(missing), &found);
	if (s == NULL || found)
		return s ? s->closest : NULL;
	(void) FFCacheEnvironmentNames(missing, &closest);
	s->closest = closest != NULL ? MemoryContextStrdup(gen->cxt, closest) : NULL;
	gen->env_suggestions.n++;
	return s->closest;
}

/*
 * FFLoadEnv reads one environment and its segments (key lists not yet
 * loaded); NULL if it does not exist.  Its flags are read on first use
 * (FFCacheGetFlag, FFCacheLoadAllFlags).  The environment becomes visible
 * in the generation only once complete.
 */
static FFCacheEnv *
FFLoadEnv(FFCacheGen *gen, const char *name)
{
	Relation	rel;
	TupleDesc	desc;
	SysScanDesc scan;
	HeapTuple	tup;
	FFCacheEnv *env = NULL;
	Datum		keys[1];
	FFColumn	cols[1];
	MemoryContext oldcxt;

	keys[0] = CStringGetTextDatum(name);

	/* the environment row */
	rel = table_open(gen->relids[FF_TABLE_ENVIRONMENTS], AccessShareLock);
	desc = RelationGetDescr(rel);
	cols[0] = FF_COL_ENV_NAME;
	scan = FFBeginScan(gen, rel, 1, cols, keys);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Jsonb	   *meta = FFGetJsonb(tup, desc, gen->attnums[FF_COL_ENV_METADATA]);

		oldcxt = MemoryContextSwitchTo(gen->cxt);
		env = palloc0(sizeof(FFCacheEnv));
		env->cxt = gen->cxt;
		env->arena = gen->arena;
		env->name = pstrdup(name);
		env->metadata = FFCacheCleanMetadata(meta);
		MemoryContextSwitchTo(oldcxt);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (env == NULL)
		return NULL;

	/* its flags: none read yet */
	FFStrMapInit(&env->flags, gen->cxt, 16);
	env->flag_list_size = 16;
	env->flag_list = MemoryContextAlloc(gen->cxt,
										sizeof(FFCacheFlag *) * env->flag_list_size);

	/* its segments */
	FFStrMapInit(&env->segments, gen->cxt, 8);
	rel = table_open(gen->relids[FF_TABLE_SEGMENTS], AccessShareLock);
	desc = RelationGetDescr(rel);
	cols[0] = FF_COL_SEG_ENVIRONMENT;
	scan = FFBeginScan(gen, rel, 1, cols, keys);
	oldcxt = MemoryContextSwitchTo(gen->cxt);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		FFCacheSegment *s = palloc0(sizeof(FFCacheSegment));

		CHECK_FOR_INTERRUPTS();
		s->name = FFGetText(tup, desc, gen->attnums[FF_COL_SEG_NAME]);
		s->rule_raw = FFGetJsonb(tup, desc, gen->attnums[FF_COL_SEG_RULE]);
		FFStrMapPut(&env->segments, s->name, strlen(s->name), s);
		env->nsegments++;
	}
	MemoryContextSwitchTo(oldcxt);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	FFStrMapPut(&gen->envs, env->name, strlen(env->name), env);
	return env;
}

/*
 * FFReadFlag makes the flag of a row of ff.flags, uncompiled, in env's
 * arena; key is the row's key, palloc'd (it is moved into the arena).
 */
static FFCacheFlag *
FFReadFlag(FFCacheGen *gen, FFCacheEnv *env, HeapTuple tup, TupleDesc desc,
		   char *key)
{
	FFCacheFlag *f = FFArenaAllocZero(env->arena, sizeof(FFCacheFlag));
	char	   *state;

	f->key = FFArenaText(env->arena, key);
	f->keylen = strlen(f->key);
	state = FFGetText(tup, desc, gen->attnums[FF_COL_FLAG_STATE]);
	f->enabled = state == NULL || strcmp(state, "DISABLED") != 0;
	if (state != NULL)
		pfree(state);
	f->variants_raw = FFGetJsonbPacked(env->arena, tup, desc,
									   gen->attnums[FF_COL_FLAG_VARIANTS]);
	f->default_variant_raw = FFArenaText(env->arena,
										 FFGetText(tup, desc, gen->attnums[FF_COL_FLAG_DEFAULT_VARIANT]));
	f->targeting_raw = FFGetJsonbPacked(env->arena, tup, desc,
										gen->attnums[FF_COL_FLAG_TARGETING]);
	f->metadata_raw = FFGetJsonbPacked(env->arena, tup, desc,
									   gen->attnums[FF_COL_FLAG_METADATA]);
	return f;
}

/*
 * FFAddFlag adds a flag just read to env's map, where it replaces a missing
 * marker of its key, and to the end of its list.  The list grows first, so
 * that an out-of-memory leaves the two in step.
 */
static void
FFAddFlag(FFCacheEnv *env, FFCacheFlag *f)
{
	if (env->nflags == env->flag_list_size)
	{
		int			size = env->flag_list_size * 2;

		env->flag_list = repalloc_huge(env->flag_list, sizeof(FFCacheFlag *) * size);
		env->flag_list_size = size;
	}
	FFStrMapPut(&env->flags, f->key, f->keylen, f);
	env->flag_list[env->nflags++] = f;
}

/*
 * FFLoadFlag reads the flag called key (keylen bytes) of env, a key its map
 * does not have, through the primary key of ff.flags with the snapshot of
 * every lazy load, and adds it.  A key env does not have is remembered as
 * missing (FFMissingFlag) while fewer than FF_MAX_MISSING_FLAGS are;
 * otherwise, and once FF_MAX_LAZY_FLAGS flags were read so, every flag of
 * env is read (FFCacheLoadAllFlags).  Returns what the map holds for key
 * then: the flag, FFMissingFlag, or NULL.
 */
static FFCacheFlag *
FFLoadFlag(FFCacheGen *gen, FFCacheEnv *env, const char *key, size_t keylen)
{
	Relation	rel;
	TupleDesc	desc;
	SysScanDesc scan;
	HeapTuple	tup;
	FFColumn	cols[2] = {FF_COL_FLAG_ENVIRONMENT, FF_COL_FLAG_KEY};
	Datum		keys[2];
	FFCacheFlag *f = NULL;

	/*
	 * Many flags read one at a time cost more than one scan of them all (an
	 * index lookup each): past FF_MAX_LAZY_FLAGS, read the rest at once.
	 */
	if (env->nflags >= FF_MAX_LAZY_FLAGS)
	{
		FFCacheLoadAllFlags(env);
		return FFStrMapGet(&env->flags, key, keylen);
	}
	keys[0] = CStringGetTextDatum(env->name);
	keys[1] = PointerGetDatum(cstring_to_text_with_len(key, keylen));
	rel = table_open(gen->relids[FF_TABLE_FLAGS], AccessShareLock);
	desc = RelationGetDescr(rel);
	scan = FFBeginScan(gen, rel, 2, cols, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		char	   *stored = FFGetText(tup, desc, gen->attnums[FF_COL_FLAG_KEY]);

		/*
		 * The map compares bytes: a row that only a nondeterministic
		 * collation makes equal is another key, read under its own.
		 */
		if (f == NULL && strlen(stored) == keylen &&
			memcmp(stored, key, keylen) == 0)
		{
			f = FFReadFlag(gen, env, tup, desc, stored);
			FFAddFlag(env, f);
		}
		else
			pfree(stored);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	pfree(DatumGetPointer(keys[0]));
	pfree(DatumGetPointer(keys[1]));
	if (f != NULL)
		return f;
	if (env->nmissing_flags < FF_MAX_MISSING_FLAGS)
	{
		FFStrMapPut(&env->flags, FFArenaBytes(env->arena, key, keylen), keylen,
					&FFMissingFlag);
		env->nmissing_flags++;
		return &FFMissingFlag;
	}
	FFCacheLoadAllFlags(env);
	return FFStrMapGet(&env->flags, key, keylen);
}

/*
 * FFCacheLoadAllFlags reads the flags of env not read yet, in one scan with
 * the snapshot of every lazy load, so that flag_list and nflags hold every
 * flag: call it before using them.  A flag already read stays as it is
 * (compiled perhaps, with its counts); a key remembered as missing that the
 * scan finds -- only possible across statements, in the instant before a
 * commit's invalidation arrives without the preloaded library -- gets its
 * flag in place of the marker.  Nothing to do once done for env.
 */
void
FFCacheLoadAllFlags(FFCacheEnv *env)
{
	FFCacheGen *gen = FFCurrentGen;
	Relation	rel;
	TupleDesc	desc;
	SysScanDesc scan;
	HeapTuple	tup;
	FFColumn	cols[1] = {FF_COL_FLAG_ENVIRONMENT};
	Datum		keys[1];

	if (env->flags_complete)
		return;
	Assert(gen != NULL && env->cxt == gen->cxt);
	keys[0] = CStringGetTextDatum(env->name);
	rel = table_open(gen->relids[FF_TABLE_FLAGS], AccessShareLock);
	desc = RelationGetDescr(rel);
	scan = FFBeginScan(gen, rel, 1, cols, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		char	   *key;
		FFCacheFlag *known;

		CHECK_FOR_INTERRUPTS();
		key = FFGetText(tup, desc, gen->attnums[FF_COL_FLAG_KEY]);
		known = FFStrMapGet(&env->flags, key, strlen(key));
		if (known != NULL && known != &FFMissingFlag)
		{
			pfree(key);
			continue;
		}
		FFAddFlag(env, FFReadFlag(gen, env, tup, desc, key));
		if (known == &FFMissingFlag)
			env->nmissing_flags--;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	pfree(DatumGetPointer(keys[0]));
	env->flags_complete = true;
}

/*
 * FFCacheBegin processes pending invalidations and returns the id of the
 * generation the current statement uses (ids are never reused in a
 * backend).  Callers that remember environment and flag pointers key them
 * on this id: while it is unchanged, the pointers are valid and current.
 */
int64
FFCacheBegin(void)
{
	return FFCacheAcquire()->id;
}

/*
 * FFCacheCurrentId returns the id of the current generation without
 * processing invalidations (0 when there is none): the generation that
 * FFCacheGetEnv and FFCacheGetFlag returned their pointers from.
 */
int64
FFCacheCurrentId(void)
{
	return FFCurrentGen != NULL ? FFCurrentGen->id : 0;
}

/*
 * FFCacheGetEnv returns the environment called name (len bytes, not
 * necessarily NUL-terminated; NULL or empty = the default environment)
 * from the generation of the current statement, or NULL if there is no
 * such environment, in which case *missing_name is set to the name looked
 * for (NULL when there is no default environment).  A cache hit allocates
 * nothing.
 */
FFCacheEnv *
FFCacheGetEnv(const char *name, size_t len, char **missing_name)
{
	FFCacheAcquire();
	return FFCacheLookupEnv(name, len, missing_name);
}

/*
 * FFCacheLookupEnv is FFCacheGetEnv without processing invalidations: it
 * looks in the generation that FFCacheBegin (or FFCacheGetEnv) returned
 * for the current call.
 */
FFCacheEnv *
FFCacheLookupEnv(const char *name, size_t len, char **missing_name)
{
	FFCacheGen *gen = FFCurrentGen;
	FFCacheEnv *env;
	char	   *cname;

	Assert(gen != NULL);
	*missing_name = NULL;
	if (name == NULL || len == 0)
	{
		if (!gen->default_known)
		{
			gen->loading++;
			FFLoadDefaultName(gen);
			gen->loading--;
		}
		name = gen->default_name;
		if (name == NULL)
			return NULL;
		len = strlen(name);
	}
	env = FFStrMapGet(&gen->envs, name, len);
	if (env == &FFMissingEnv)
	{
		*missing_name = pnstrdup(name, len);
		return NULL;
	}
	if (env != NULL)
		return env;
	cname = pnstrdup(name, len);
	gen->loading++;
	env = FFLoadEnv(gen, cname);
	gen->loading--;
	if (env == NULL)
	{
		*missing_name = cname;
		if (gen->nmissing < FF_MAX_MISSING_ENVS)
		{
			FFStrMapPut(&gen->envs, MemoryContextStrdup(gen->cxt, cname), len,
						&FFMissingEnv);
			gen->nmissing++;
		}
	}
	return env;
}

/* ---------------------------------------------------------------------
 * Compiling flags
 * --------------------------------------------------------------------- */

static FFCacheSegment *FFPrepareSegment(FFCacheEnv *env, const char *name,
										size_t namelen);

/*
 * FFCompileScratch returns the per-backend context for the temporary
 * allocations of compiling one flag (jsonb iterators, build buffers),
 * emptied.  Only what a compiled flag keeps goes to the generation.
 */
static MemoryContext
FFCompileScratch(void)
{
	static MemoryContext cxt = NULL;

	if (cxt == NULL)
		cxt = AllocSetContextCreate(TopMemoryContext, "feature_flags compile",
									ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cxt);
	return cxt;
}

/*
 * FFArenaJsonb copies a jsonb datum into the arena at its exact size (a
 * jsonb freshly built by JsonbValueToJsonb sits in a buffer of at least
 * 1 kB).
 */
static Jsonb *
FFArenaJsonb(JLArena *arena, Jsonb *jb)
{
	Jsonb	   *copy = JLArenaAlloc(arena, VARSIZE(jb));

	if (copy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	memcpy(copy, jb, VARSIZE(jb));
	return copy;
}

/* a variant with its stored value, while sorting */
typedef struct FFVariantEntry
{
	FFVariant	variant;
	Jsonb	   *jsonb;
} FFVariantEntry;

/*
 * FFVariantOrderCmp orders variants the way FFFindVariant searches them:
 * bytewise, a shorter prefix first.
 */
static int
FFVariantOrderCmp(const void *a, const void *b)
{
	const FFVariant *va = &((const FFVariantEntry *) a)->variant;
	const FFVariant *vb = &((const FFVariantEntry *) b)->variant;

	return JLCompareBytes(va->name, va->namelen, vb->name, vb->namelen);
}

/*
 * FFFlagBroken records why a stored flag definition cannot be evaluated.
 */
static void
FFFlagBroken(FFCacheFlag *f, const char *fmt,...) pg_attribute_printf(2, 3);

static void
FFFlagBroken(FFCacheFlag *f, const char *fmt,...)
{
	char		buf[512];
	va_list		ap;

	int			n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* (1.25 library) a message cut by the buffer ends on a character */
	if (n >= (int) sizeof(buf))
		buf[pg_mbcliplen(buf, sizeof(buf) - 1, sizeof(buf) - 1)] = '\0';
	f->broken = true;
	f->broken_message = pstrdup(buf);
}

/*
 * FFVariantIntOf tells whether a number variant is exactly a whole number in
 * the bigint range, and gives it: exactly from the numeric as stored, so
 * that 9223372036854775807 is accepted and -9223372036854775809 is not, and
 * a fraction that a double rounds away (4.9999999999999999999, 1e-400) is
 * refused -- which doubles cannot tell.  Once per variant when the flag is
 * compiled (1.16 did this per get_int call).
 */
static FFVariantInt
FFVariantIntOf(Jsonb *value)
{
	FFVariantInt result = {false, 0};
	JsonbValue	jv;
	Numeric		num;
	int64		i;

	if (!JsonbExtractScalar(&value->root, &jv) || jv.type != jbvNumeric)
		return result;
	num = jv.val.numeric;
	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num),
										  NumericGetDatum(int64_to_numeric(PG_INT64_MIN)))) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num),
										  NumericGetDatum(int64_to_numeric(PG_INT64_MAX)))) > 0)
		return result;
	i = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(num)));
	/* numeric_int8 rounds: a whole number converts back to itself */
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq,
										  NumericGetDatum(int64_to_numeric(i)),
										  NumericGetDatum(num))))
		return result;
	result.whole = true;
	result.value = i;
	return result;
}

/*
 * FFCompileDefinition converts the variants, compiles the targeting rule
 * and merges the metadata (over env_metadata) of one flag, keeping what the
 * compiled flag needs in cxt and arena.  A flag whose definition is
 * unusable is marked broken (evaluations then report PARSE_ERROR) rather
 * than raising an error.  The segments the rule names are not looked at.
 */
static void
FFCompileDefinition(MemoryContext cxt, JLArena *arena, Jsonb *env_metadata,
					FFCacheFlag *f)
{
	MemoryContext tmpcxt = FFCompileScratch();
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	FFVariant  *variants = NULL;
	Jsonb	  **jsonbs = NULL;
	int			n = 0;
	Jsonb	   *meta;

	memset(&f->flag, 0, sizeof(FFFlag));
	f->broken = false;
	f->flag.key = f->key;
	f->flag.keylen = f->keylen;
	f->flag.enabled = f->enabled;
	f->flag.default_variant = -1;

	/* variants: an object of name -> value */
	if (f->variants_raw == NULL || JB_ROOT_IS_SCALAR(f->variants_raw) ||
		!JB_ROOT_IS_OBJECT(f->variants_raw))
		FFFlagBroken(f, "variants of flag \"%s\" are not a JSON object", FFNameForMessage(f->key));
	else
	{
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		int			count = JB_ROOT_COUNT(f->variants_raw);
		int			i;

		FFVariantEntry *entries;

		/* iterator state and the jsonb build buffers are scratch */
		MemoryContextSwitchTo(tmpcxt);
		it = JsonbIteratorInit(&f->variants_raw->root);
		entries = palloc0(sizeof(FFVariantEntry) * Max(count, 1));
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY && n < count)
			{
				entries[n].variant.name = FFArenaBytes(arena, v.val.string.val,
													   v.val.string.len);
				entries[n].variant.namelen = v.val.string.len;
			}
			else if (tok == WJB_VALUE && n < count)
			{
				bool		too_deep = false;

				entries[n].variant.value = FFJsonbValueToJL(arena, &v, true,
															&too_deep);
				if (too_deep && !f->broken)
				{
					MemoryContextSwitchTo(cxt);
					FFFlagBroken(f, "variant \"%s\" of flag \"%s\" nests deeper than %d levels",
								 FFNameForMessage(entries[n].variant.name), FFNameForMessage(f->key), FF_MAX_JSON_DEPTH);
					MemoryContextSwitchTo(tmpcxt);
				}
				/* the value exactly as stored, for results, at its exact size */
				entries[n].jsonb = FFArenaJsonb(arena, JsonbValueToJsonb(&v));
				n++;
			}
		}
		qsort(entries, n, sizeof(FFVariantEntry), FFVariantOrderCmp);
		MemoryContextSwitchTo(cxt);
		variants = FFArenaAllocZero(arena, sizeof(FFVariant) * Max(n, 1));
		jsonbs = FFArenaAllocZero(arena, sizeof(Jsonb *) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			variants[i] = entries[i].variant;
			jsonbs[i] = entries[i].jsonb;
		}
		if (n == 0)
			FFFlagBroken(f, "flag \"%s\" has no variants", FFNameForMessage(f->key));

		/*
		 * one type per flag (1.17): variants of mixed types, or null or
		 * array variants, which only a write that bypassed the triggers
		 * stores, make the flag broken instead of served as whichever
		 * variant was selected
		 */
		for (i = 0; i < n && !f->broken; i++)
		{
			static const char *const type_names[] = {
				"null", "a boolean", "a number", "a string", "an array", "an object"
			};
			JLType		type = variants[i].value->type;

			if (type == JL_NULL || type == JL_ARRAY)
				FFFlagBroken(f, "variant \"%s\" of flag \"%s\" is %s, not a boolean, string, number or object",
							 FFNameForMessage(variants[i].name), FFNameForMessage(f->key), type_names[type]);
			else if (type != variants[0].value->type)
				FFFlagBroken(f, "variants of flag \"%s\" have mixed types: \"%s\" is %s, \"%s\" is %s",
							 FFNameForMessage(f->key), FFNameForMessage(variants[0].name), type_names[variants[0].value->type],
							 FFNameForMessage(variants[i].name), type_names[type]);
		}
	}
	f->flag.variants = variants;
	f->flag.nvariants = n;
	f->variant_jsonb = jsonbs;
	f->variant_int = NULL;
	if (!f->broken && n > 0 && variants[0].value->type == JL_NUMBER)
	{
		int			i;

		f->variant_int = FFArenaAllocZero(arena, sizeof(FFVariantInt) * n);
		for (i = 0; i < n; i++)
			if (variants[i].value->type == JL_NUMBER)
				f->variant_int[i] = FFVariantIntOf(jsonbs[i]);
	}

	if (!f->broken && f->default_variant_raw != NULL)
	{
		f->flag.default_variant = FFFindVariant(&f->flag, f->default_variant_raw,
												strlen(f->default_variant_raw));
		if (f->flag.default_variant < 0)
			FFFlagBroken(f, "default variant \"%s\" of flag \"%s\" is not one of its variants",
						 FFNameForMessage(f->default_variant_raw), FFNameForMessage(f->key));
	}

	/*
	 * targeting: NULL, JSON null and {} mean none.  The rule is converted
	 * into a scratch arena; the compiled rule keeps copies of its literals,
	 * whose string bytes point into targeting_raw, which lives as long as
	 * the generation.
	 */
	if (!f->broken && f->targeting_raw != NULL &&
		!(JB_ROOT_IS_OBJECT(f->targeting_raw) && JB_ROOT_COUNT(f->targeting_raw) == 0))
	{
		bool		too_deep = false;
		const JLValue *rule;

		MemoryContextSwitchTo(tmpcxt);
		rule = FFJsonbToJL(FFArenaCreate(tmpcxt), f->targeting_raw, false,
						   &too_deep);
		MemoryContextSwitchTo(cxt);
		if (too_deep)
			FFFlagBroken(f, "invalid targeting for flag \"%s\": rule nesting exceeds the maximum depth of %d at $.targeting",
						 FFNameForMessage(f->key), JL_DEFAULT_MAX_DEPTH);

		/*
		 * A string, number, boolean or array is a literal result for JSON
		 * Logic, but no targeting for the validation nor for flagd's
		 * schema: stored around the validation, it is refused here too
		 * (1.26 library; it was served as a match).
		 */
		else if (rule->type != JL_NULL && rule->type != JL_OBJECT)
			FFFlagBroken(f, "invalid targeting for flag \"%s\": $.targeting is a JSON %s, not a JSON Logic rule",
						 FFNameForMessage(f->key), JLTypeNameOf(rule->type));
		else if (rule->type != JL_NULL)
		{
			JLCompileOptions opts;
			JLError		err;

			memset(&opts, 0, sizeof(opts));
			memset(&err, 0, sizeof(err));
			opts.allow_segments = true;
			opts.copy_literals = true;
			/* as flagd evaluates what it loads (see ff.invalid_targeting) */
			opts.flagd_lenient = true;
			f->flag.targeting = JLCompile(arena, rule, &opts, &err);
			/* the path relative to the flag, as the write-time checks give it */
			if (f->flag.targeting == NULL)
				FFFlagBroken(f, "invalid targeting for flag \"%s\": %s at $.targeting%s",
							 FFNameForMessage(f->key), err.message,
							 err.path[0] == '$' ? err.path + 1 : "");
		}
	}

	/*
	 * metadata: environment's (nulls already dropped) overlaid by the flag's
	 * members that are not null, as flagd merges them: a flag's null member
	 * leaves the environment's value of that key (1.25 library; before, it
	 * removed it).  A flag without metadata of its own shares the
	 * environment's.
	 */
	meta = f->metadata_raw;
	if (meta != NULL && JB_ROOT_IS_OBJECT(meta) && !JB_ROOT_IS_SCALAR(meta) &&
		JB_ROOT_COUNT(meta) > 0)
	{
		MemoryContextSwitchTo(tmpcxt);
		meta = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat,
												  JsonbPGetDatum(env_metadata),
												  JsonbPGetDatum(FFCacheCleanMetadata(meta))));
		f->metadata = FFArenaJsonb(arena, meta);
	}
	else
		f->metadata = env_metadata;

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(tmpcxt);
}

/*
 * FFCompileFlag compiles one flag of env in the generation's context and
 * resolves the segments its rule names: their rules are compiled and their
 * key lists loaded with the flag, not inside the first evaluation that
 * reaches in_segment.
 */
static void
FFCompileFlag(FFCacheEnv *env, FFCacheFlag *f)
{
	FFCompileDefinition(env->cxt, env->arena, env->metadata, f);
	if (f->flag.targeting != NULL)
	{
		size_t		nseg = JLRuleSegmentCount(f->flag.targeting);
		size_t		k;

		for (k = 0; k < nseg; k++)
		{
			size_t		len;
			const char *name = JLRuleSegmentName(f->flag.targeting, k, &len);

			(void) FFPrepareSegment(env, name, len);
		}
	}
	f->compiled = true;
}

/*
 * FFCacheCompileImage compiles a flag definition that is not in the cache
 * (a row image of the history) in cxt, outside any generation: key, state,
 * variants, default variant, targeting and metadata as a row of ff.flags
 * holds them, with the metadata merged over env_metadata (the
 * environment's, as stored).  The segments its rule names are left to the
 * caller's segment callback.  Everything it keeps is copied into cxt.
 */
FFCacheFlag *
FFCacheCompileImage(MemoryContext cxt, const char *key, bool enabled,
					Jsonb *variants, const char *default_variant,
					Jsonb *targeting, Jsonb *metadata, Jsonb *env_metadata)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	FFCacheFlag *f = palloc0(sizeof(FFCacheFlag));
	JLArena    *arena = FFArenaCreate(cxt);

	f->key = pstrdup(key);
	f->keylen = strlen(key);
	f->enabled = enabled;
	f->variants_raw = variants ? FFArenaJsonb(arena, variants) : NULL;
	f->default_variant_raw = default_variant ? pstrdup(default_variant) : NULL;
	/* the compiled rule's literal strings point into it */
	f->targeting_raw = targeting ? FFArenaJsonb(arena, targeting) : NULL;
	f->metadata_raw = metadata ? FFArenaJsonb(arena, metadata) : NULL;
	env_metadata = FFArenaJsonb(arena, FFCacheCleanMetadata(env_metadata));
	MemoryContextSwitchTo(oldcxt);

	FFCompileDefinition(cxt, arena, env_metadata, f);
	f->compiled = true;
	return f;
}

/*
 * FFCacheGetFlag returns the flag called key in env, compiled, or NULL.  A
 * key its map does not have is read from ff.flags while env's flags are
 * not all read (FFLoadFlag); a hit on a compiled flag reads nothing.
 */
FFCacheFlag *
FFCacheGetFlag(FFCacheEnv *env, const char *key, size_t keylen)
{
	FFCacheFlag *f = FFStrMapGet(&env->flags, key, keylen);

	/* FFMissingFlag is never compiled */
	if (likely(f != NULL && f->compiled))
		return f;
	/*
	 * Not under "loading": a read of flags that an ERROR interrupts (a lock
	 * timeout behind a lock on ff.flags, a cancel) leaves env as it was, or
	 * with whole flags more (FFAddFlag), so the generation stays; 1.25
	 * discarded it, and every flag already compiled then waited for the
	 * lock again.
	 */
	if (f == NULL && !env->flags_complete)
		f = FFLoadFlag(FFCurrentGen, env, key, keylen);
	if (f == NULL || f == &FFMissingFlag)
		return NULL;
	if (!f->compiled)
	{
		FFCurrentGen->loading++;
		FFCompileFlag(env, f);
		FFCurrentGen->loading--;
	}
	return f;
}

/*
 * FFCacheSuggestFlag returns the key of the flag of env closest to key, a
 * key env does not have, for ff.evaluate's "perhaps you meant"; NULL when
 * none is close.  The answers are remembered in env, so that a query that
 * evaluates a mistyped key for every row compares it with the
 * environment's flags once (read all for the first such key); after
 * FF_SUGGEST_MAX distinct keys there are no more suggestions until the
 * next change (a query over many unknown keys would otherwise compare each
 * row's key with every flag).
 */
const char *
FFCacheSuggestFlag(FFCacheEnv *env, const char *key, size_t keylen)
{
	FFSuggestion *s;
	FFNameMatch m;
	bool		found;
	int			i;

	s = FFSuggestionFind(&env->suggestions, env->cxt, key, keylen, &found);
	if (s == NULL || found)
		return s ? s->closest : NULL;
	FFCacheLoadAllFlags(env);
	FFNameMatchInit(&m, key, keylen);
	for (i = 0; i < env->nflags; i++)
	{
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		FFNameMatchOffer(&m, env->flag_list[i]->key, env->flag_list[i]->keylen);
	}
	FFNameMatchEnd(&m);
	s->closest = m.best;
	env->suggestions.n++;
	return m.best;
}

/* ---------------------------------------------------------------------
 * Segments
 * --------------------------------------------------------------------- */

/*
 * FFKeyTag is the one-byte tag of a hash (never 0, the empty tag).  It
 * uses the low bits: the slot number comes from the high ones.
 */
static inline uint8
FFKeyTag(uint32 hash)
{
	return (uint8) (0x80 | (hash & 0x7F));
}

/*
 * FFKeySetSlot maps a hash onto [0, capacity) (multiply-shift, so the
 * capacity need not be a power of two).
 */
static inline uint32
FFKeySetSlot(uint32 hash, uint32 capacity)
{
	return (uint32) (((uint64) hash * capacity) >> 32);
}

/*
 * FFKeySetFind returns the membership stored for key (+1 include, -1
 * exclude) or 0 when the key is not in the set.
 */
static int
FFKeySetFind(const FFKeySet *set, const char *key, size_t len)
{
	uint32		hash;
	uint8		tag;
	uint32		i;

	if (set->count == 0)
		return 0;
	hash = FFStrHash(key, len);
	tag = FFKeyTag(hash);
	for (i = FFKeySetSlot(hash, set->capacity);; i = (i + 1 == set->capacity) ? 0 : i + 1)
	{
		const FFKeySlot *slot;

		if (set->tags[i] != tag)
		{
			if (set->tags[i] == 0)
				return 0;
			continue;
		}
		slot = &set->slots[i];
		if (slot->hash != hash || slot->len != Min(len, PG_UINT16_MAX))
			continue;
		if (len <= FF_KEY_INLINE)
		{
			if (memcmp(slot->k.bytes, key, len) == 0)
				return slot->membership;
		}
		else
		{
			uint32		klen;

			memcpy(&klen, slot->k.ptr, sizeof(uint32));
			if (klen == len && memcmp(slot->k.ptr + sizeof(uint32), key, len) == 0)
				return slot->membership;
		}
	}
}

/* a transparent huge page of x86-64 and arm64 with 4 kB base pages */
#define FF_HUGE_PAGE ((uintptr_t) 2 * 1024 * 1024)

/*
 * FFCacheAllocTable allocates size bytes in cxt, not zeroed, for a large
 * table that lookups probe at random (a segment's key set).  Where the
 * kernel offers transparent huge pages on request (Linux, MADV_HUGEPAGE;
 * Debian's default mode is "madvise"), the whole 2 MB pages inside the
 * allocation are advised to be huge before anything touches them, so that
 * a probe into a table of tens of megabytes does not also miss the TLB.
 * The advice is only advice: where it is refused or unavailable the table
 * works the same on ordinary pages.
 */
static void *
FFCacheAllocTable(MemoryContext cxt, Size size)
{
	char	   *p = MemoryContextAllocExtended(cxt, size, MCXT_ALLOC_HUGE);

#ifdef MADV_HUGEPAGE
	if (size >= 2 * FF_HUGE_PAGE)
	{
		uintptr_t	start = TYPEALIGN(FF_HUGE_PAGE, (uintptr_t) p);
		uintptr_t	end = TYPEALIGN_DOWN(FF_HUGE_PAGE, (uintptr_t) p + size);

		if (end > start)
			(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
	}
#endif
	return p;
}

/*
 * Loading a segment's key list.  Its rows are gathered into chunks (no
 * copying as the list grows), then hashed into the set at 75% load.  A
 * segment that holds a large part of ff.segment_keys is read with a
 * sequential scan of the table, which visits each page once and checks
 * the visibility of a page's rows together; others through the primary
 * key, whose heap fetches follow the keys' order, a page at a time.  The
 * share is estimated from a few pages spread over the table
 * (FFKeysMostOfTable).  Measured on 1,000,000 keys that fill the table:
 * about 0.42 us per key through the index, 0.15 us per row scanned in
 * sequence, so the sequential scan wins above about a third.
 */
#define FF_KEY_CHUNK 65536		/* slots per chunk of the gathered list */
#define FF_KEYS_SEQ_MIN_PAGES 64	/* smaller tables: always the index */
#define FF_KEYS_SAMPLE_PAGES 16
#define FF_KEYS_SEQ_SHARE 3		/* sequential above 1/3 of the rows */

typedef struct FFKeyGather
{
	FFKeySlot **chunks;
	uint32		nchunks;
	uint32		maxchunks;
	uint32		count;
	JLArena    *keyarena;		/* where keys longer than FF_KEY_INLINE go */
	const char *segment;		/* for the error message */
} FFKeyGather;

/*
 * FFKeyGatherAdd appends one key (len bytes at key) to the gathered list.
 */
static void
FFKeyGatherAdd(FFKeyGather *g, const char *key, uint32 len, bool excluded)
{
	FFKeySlot  *slot;
	uint32		pos = g->count % FF_KEY_CHUNK;

	if (g->count == PG_UINT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("segment \"%s\" has too many keys", g->segment)));
	if (pos == 0)
	{
		if (g->nchunks == g->maxchunks)
		{
			g->maxchunks = Max(g->maxchunks * 2, 16);
			g->chunks = g->chunks == NULL ?
				palloc(sizeof(FFKeySlot *) * g->maxchunks) :
				repalloc(g->chunks, sizeof(FFKeySlot *) * g->maxchunks);
		}
		g->chunks[g->nchunks++] = palloc(sizeof(FFKeySlot) * FF_KEY_CHUNK);
	}
	slot = &g->chunks[g->nchunks - 1][pos];
	memset(slot, 0, sizeof(FFKeySlot));
	slot->membership = excluded ? -1 : 1;
	slot->len = (uint16) Min(len, PG_UINT16_MAX);
	slot->hash = FFStrHash(key, len);
	if (len <= FF_KEY_INLINE)
		memcpy(slot->k.bytes, key, len);
	else
	{
		char	   *copy = JLArenaAlloc(g->keyarena, sizeof(uint32) + len);

		if (copy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		memcpy(copy, &len, sizeof(uint32));
		memcpy(copy + sizeof(uint32), key, len);
		slot->k.ptr = copy;
	}
	g->count++;
}

/*
 * FFTextDatumIs tells whether text datum d (of a column with a
 * deterministic collation, where equal means byte-equal) is the len bytes
 * at str.  A compressed or out-of-line value is expanded only when
 * may_detoast (not under a buffer lock): else it counts as different.
 */
static inline bool
FFTextDatumIs(Datum d, const char *str, size_t len, bool may_detoast)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	bool		same;

	if (likely(!VARATT_IS_EXTENDED(v) || VARATT_IS_SHORT(v)))
		return VARSIZE_ANY_EXHDR(v) == len && memcmp(VARDATA_ANY(v), str, len) == 0;
	if (!may_detoast)
		return false;
	v = pg_detoast_datum_packed(v);
	same = VARSIZE_ANY_EXHDR(v) == len && memcmp(VARDATA_ANY(v), str, len) == 0;
	pfree(v);
	return same;
}

/* a row of ff.segment_keys as the loaders read it */
typedef struct FFKeyRow
{
	TupleDesc	desc;
	AttrNumber	eatt;			/* environment, segment, targeting_key and */
	AttrNumber	satt;			/* excluded: 0-based */
	AttrNumber	katt;
	AttrNumber	xatt;
	const char *env;
	size_t		elen;
	const char *seg;
	size_t		slen;
	Datum	   *values;			/* the row deformed */
	bool	   *isnull;
} FFKeyRow;

/*
 * FFKeyRowInit prepares r to read rows of ff.segment_keys (rel) for segment
 * seg of env.
 */
static void
FFKeyRowInit(FFKeyRow *r, FFCacheGen *gen, Relation rel, FFCacheEnv *env,
			 FFCacheSegment *seg)
{
	r->desc = RelationGetDescr(rel);
	r->eatt = gen->attnums[FF_COL_KEY_ENVIRONMENT] - 1;
	r->satt = gen->attnums[FF_COL_KEY_SEGMENT] - 1;
	r->katt = gen->attnums[FF_COL_KEY_TARGETING_KEY] - 1;
	r->xatt = gen->attnums[FF_COL_KEY_EXCLUDED] - 1;
	r->env = env->name;
	r->elen = strlen(env->name);
	r->seg = seg->name;
	r->slen = strlen(seg->name);
	r->values = palloc(sizeof(Datum) * r->desc->natts);
	r->isnull = palloc(sizeof(bool) * r->desc->natts);
}

/*
 * FFKeyRowFree frees what FFKeyRowInit allocated.
 */
static void
FFKeyRowFree(FFKeyRow *r)
{
	pfree(r->values);
	pfree(r->isnull);
}

/*
 * FFKeyRowMatches deforms tup into r and tells whether it is a row of r's
 * segment (see FFTextDatumIs for may_detoast).
 */
static inline bool
FFKeyRowMatches(FFKeyRow *r, HeapTuple tup, bool may_detoast)
{
	heap_deform_tuple(tup, r->desc, r->values, r->isnull);
	return !r->isnull[r->eatt] && !r->isnull[r->satt] &&
		FFTextDatumIs(r->values[r->satt], r->seg, r->slen, may_detoast) &&
		FFTextDatumIs(r->values[r->eatt], r->env, r->elen, may_detoast);
}

/*
 * FFKeyGatherRow adds the key of the row deformed into r to the list.
 */
static inline void
FFKeyGatherRow(FFKeyGather *g, FFKeyRow *r)
{
	struct varlena *v;
	struct varlena *t;

	if (r->isnull[r->katt])
		return;
	v = (struct varlena *) DatumGetPointer(r->values[r->katt]);
	t = pg_detoast_datum_packed(v);
	FFKeyGatherAdd(g, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
				   !r->isnull[r->xatt] && DatumGetBool(r->values[r->xatt]));
	if (t != v)
		pfree(t);
}

/*
 * FFKeysSeqScan gathers the keys of segment seg of env with a sequential
 * scan of ff.segment_keys (rel), comparing the environment and segment
 * bytes of each row.
 */
static void
FFKeysSeqScan(FFKeyGather *g, FFCacheGen *gen, Relation rel,
			  FFCacheEnv *env, FFCacheSegment *seg)
{
	FFKeyRow	r;
	TableScanDesc scan;
	HeapTuple	tup;
	uint32		n = 0;

	FFKeyRowInit(&r, gen, rel, env, seg);
	scan = table_beginscan(rel, FFLoadSnapshot(), 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		if ((++n & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (FFKeyRowMatches(&r, tup, true))
			FFKeyGatherRow(g, &r);
	}
	table_endscan(scan);
	FFKeyRowFree(&r);
}

/*
 * FFKeysIndexScan gathers the keys of segment seg of env through the
 * primary key of ff.segment_keys (rel).
 */
static void
FFKeysIndexScan(FFKeyGather *g, FFCacheGen *gen, Relation rel,
				FFCacheEnv *env, FFCacheSegment *seg)
{
	FFKeyRow	r;
	FFColumn	cols[2] = {FF_COL_KEY_ENVIRONMENT, FF_COL_KEY_SEGMENT};
	Datum		keys[2];
	SysScanDesc scan;
	HeapTuple	tup;

	FFKeyRowInit(&r, gen, rel, env, seg);
	keys[0] = CStringGetTextDatum(env->name);
	keys[1] = CStringGetTextDatum(seg->name);
	scan = FFBeginScan(gen, rel, 2, cols, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tup, r.desc, r.values, r.isnull);
		FFKeyGatherRow(g, &r);
	}
	systable_endscan(scan);
	FFKeyRowFree(&r);
}

/*
 * FFKeysCanCompareBytes tells whether the environment and segment columns
 * of ff.segment_keys compare equal exactly when their bytes are equal
 * (deterministic collations), as FFKeysSeqScan compares them.
 */
static bool
FFKeysCanCompareBytes(FFCacheGen *gen, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			ecoll = TupleDescAttr(desc, gen->attnums[FF_COL_KEY_ENVIRONMENT] - 1)->attcollation;
	Oid			scoll = TupleDescAttr(desc, gen->attnums[FF_COL_KEY_SEGMENT] - 1)->attcollation;

	return (!OidIsValid(ecoll) || get_collation_isdeterministic(ecoll)) &&
		(!OidIsValid(scoll) || get_collation_isdeterministic(scoll));
}

/*
 * FFKeysMostOfTable tells whether segment seg of env seems to hold at
 * least 1/FF_KEYS_SEQ_SHARE of the rows of ff.segment_keys (rel, of pages
 * pages), from the rows of FF_KEYS_SAMPLE_PAGES pages spread evenly over
 * it (dead rows included: an estimate).
 */
static bool
FFKeysMostOfTable(FFCacheGen *gen, Relation rel, FFCacheEnv *env,
				  FFCacheSegment *seg, BlockNumber pages)
{
	FFKeyRow	r;
	uint64		rows = 0;
	uint64		matches = 0;
	int			i;

	FFKeyRowInit(&r, gen, rel, env, seg);
	for (i = 0; i < FF_KEYS_SAMPLE_PAGES; i++)
	{
		BlockNumber blk = (BlockNumber) (((uint64) pages * (2 * i + 1)) /
										 (2 * FF_KEYS_SAMPLE_PAGES));
		Buffer		buf;
		Page		page;
		OffsetNumber off;
		OffsetNumber maxoff;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(rel, MAIN_FORKNUM, blk, RBM_NORMAL, NULL);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
		for (off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off))
		{
			ItemId		id = PageGetItemId(page, off);
			HeapTupleData tup;

			if (!ItemIdIsNormal(id))
				continue;
			tup.t_data = (HeapTupleHeader) PageGetItem(page, id);
			tup.t_len = ItemIdGetLength(id);
			tup.t_tableOid = RelationGetRelid(rel);
			ItemPointerSet(&tup.t_self, blk, off);
			rows++;
			/* under the buffer lock: no detoasting */
			if (FFKeyRowMatches(&r, &tup, false))
				matches++;
		}
		UnlockReleaseBuffer(buf);
	}
	FFKeyRowFree(&r);
	return rows > 0 && matches * FF_KEYS_SEQ_SHARE >= rows;
}

/*
 * FFKeyStoreFind returns the entry of the key store for segment seg of
 * env, creating it (with no list) when create; NULL when there is none.
 */
static FFKeyStoreEntry *
FFKeyStoreFind(FFCacheEnv *env, FFCacheSegment *seg, bool create)
{
	size_t		elen = strlen(env->name);
	size_t		slen = strlen(seg->name);
	size_t		len = elen + 1 + slen;
	char	   *name = palloc(len + 1);
	FFKeyStoreEntry *e;

	/* environment NUL segment: no name holds a NUL */
	memcpy(name, env->name, elen + 1);
	memcpy(name + elen + 1, seg->name, slen + 1);
	e = FFKeyStoreCxt != NULL ? FFStrMapGet(&FFKeyStore, name, len) : NULL;
	if (e == NULL && create)
	{
		char	   *kept_name;

		if (FFKeyStoreCxt == NULL)
		{
			FFKeyStoreCxt = AllocSetContextCreate(TopMemoryContext,
												  "feature_flags kept key lists",
												  ALLOCSET_SMALL_SIZES);
			FFStrMapInit(&FFKeyStore, FFKeyStoreCxt, 8);
		}
		kept_name = MemoryContextAlloc(FFKeyStoreCxt, len + 1);
		memcpy(kept_name, name, len + 1);
		e = MemoryContextAllocZero(FFKeyStoreCxt, sizeof(FFKeyStoreEntry));
		FFStrMapPut(&FFKeyStore, kept_name, len, e);
	}
	pfree(name);
	return e;
}

/*
 * FFLoadSegmentKeys gives segment seg of env its key set: the list kept
 * from an earlier generation when no change may have reached it since
 * (FFKeyStore), else the one read from ff.segment_keys (see FFKeyGather
 * above for how), which is kept in turn when it is large.
 */
static void
FFLoadSegmentKeys(FFCacheEnv *env, FFCacheSegment *seg)
{
	FFCacheGen *gen = FFCurrentGen;
	bool		may_keep;
	FFKeyStoreEntry *kept = NULL;
	MemoryContext cxt;
	Relation	rel;
	FFKeyGather g;
	FFKeySet	set;
	BlockNumber pages;
	uint32		c;

	may_keep = OidIsValid(gen->relids[FF_TABLE_KEYS_SIGNAL]) &&
		gen->relids[FF_TABLE_KEYS_SIGNAL] == FFKeysSignalRelid &&
		!FFMayHaveWritten(gen->relids[FF_TABLE_SEGMENT_KEYS]);
	if (may_keep)
	{
		kept = FFKeyStoreFind(env, seg, false);
		if (kept != NULL && kept->cxt != NULL && kept->epoch == FFKeysEpoch &&
			kept->keys_clean && kept->keys_started == FFSnapKeysStarted &&
			kept->keys_relid == gen->relids[FF_TABLE_SEGMENT_KEYS] &&
			kept->keys_filenode == gen->filenodes[FF_TABLE_SEGMENT_KEYS] &&
			!FFTableTriggersChangedSince(kept->keys_relid, kept->keys_xmin))
		{
			kept->used_gen = gen->id;
			seg->keys = kept->set;
			seg->keys_loaded = true;
			return;
		}
	}

	/* the set's own memory when it may be kept, freed by an ERROR */
	cxt = may_keep ? AllocSetContextCreate(CurrentMemoryContext,
										   "feature_flags segment keys",
										   ALLOCSET_SMALL_SIZES) : env->cxt;
	memset(&g, 0, sizeof(g));
	g.keyarena = may_keep ? FFArenaCreate(cxt) : env->arena;
	g.segment = seg->name;
	rel = table_open(gen->relids[FF_TABLE_SEGMENT_KEYS], AccessShareLock);
	pages = RelationGetNumberOfBlocks(rel);
	if (pages >= FF_KEYS_SEQ_MIN_PAGES && FFKeysCanCompareBytes(gen, rel) &&
		FFKeysMostOfTable(gen, rel, env, seg, pages))
		FFKeysSeqScan(&g, gen, rel, env, seg);
	else
		FFKeysIndexScan(&g, gen, rel, env, seg);
	table_close(rel, AccessShareLock);
	FFKeyLoads++;

	/* build the table */
	memset(&set, 0, sizeof(set));
	if (g.count > 0)
	{
		set.capacity = Max(g.count + g.count / 3 + 1, 8);
		set.slots = FFCacheAllocTable(cxt, sizeof(FFKeySlot) * set.capacity);
		set.tags = FFCacheAllocTable(cxt, set.capacity);
		memset(set.tags, 0, set.capacity);
		for (c = 0; c < g.nchunks; c++)
		{
			FFKeySlot  *chunk = g.chunks[c];
			uint32		n = Min(g.count - c * FF_KEY_CHUNK, FF_KEY_CHUNK);
			uint32		i;

			CHECK_FOR_INTERRUPTS();
			for (i = 0; i < n; i++)
			{
				uint32		j;

				for (j = FFKeySetSlot(chunk[i].hash, set.capacity); set.tags[j] != 0;
					 j = (j + 1 == set.capacity) ? 0 : j + 1)
					;
				set.slots[j] = chunk[i];
				set.tags[j] = FFKeyTag(chunk[i].hash);
			}
			pfree(chunk);
		}
		set.count = g.count;
	}
	if (g.chunks != NULL)
		pfree(g.chunks);

	if (may_keep && set.count >= FF_KEYS_KEEP_MIN && FFSnapKeysClean)
	{
		if (kept == NULL)
			kept = FFKeyStoreFind(env, seg, true);
		/* a list no generation points to: this one was loading it */
		if (kept->cxt != NULL)
			MemoryContextDelete(kept->cxt);
		MemoryContextSetParent(cxt, FFKeyStoreCxt);
		kept->cxt = cxt;
		kept->set = set;
		kept->epoch = FFSnapKeysEpoch;
		kept->keys_started = FFSnapKeysStarted;
		kept->keys_clean = true;
		kept->keys_relid = gen->relids[FF_TABLE_SEGMENT_KEYS];
		kept->keys_filenode = gen->filenodes[FF_TABLE_SEGMENT_KEYS];
		kept->keys_xmin = FFLoadSnapshotData.xmin;
		kept->used_gen = gen->id;
	}
	else if (may_keep)
		MemoryContextSetParent(cxt, env->cxt);
	seg->keys = set;
	seg->keys_loaded = true;
}

/*
 * FFSegmentBroken returns why a segment's stored rule cannot be used, as a
 * string in arena (a fixed text if the arena has no room for it).
 */
static const char *
FFSegmentBroken(JLArena *arena, const char *fmt,...) pg_attribute_printf(2, 3);

static const char *
FFSegmentBroken(JLArena *arena, const char *fmt,...)
{
	char		buf[384];
	char	   *copy;
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	copy = JLArenaAlloc(arena, strlen(buf) + 1);
	if (copy == NULL)
		return "its stored rule does not compile";
	strcpy(copy, buf);
	return copy;
}

/*
 * FFCacheCompileSegmentRule compiles a segment's stored rule into arena:
 * NULL for none (NULL, JSON null or {}), and also NULL with *broken set to
 * the reason when it does not compile -- a rule written around the
 * validation trigger.  in_segment then fails the evaluation that reads the
 * segment (PARSE_ERROR): treating the segment as missing would let a rule
 * such as {"!": {"in_segment": "blocked"}} let everyone through.
 */
const JLRule *
FFCacheCompileSegmentRule(JLArena *arena, Jsonb *rule_raw, const char **broken)
{
	bool		too_deep = false;
	const JLValue *rule;
	const JLRule *compiled;
	JLCompileOptions opts;
	JLError		err;

	*broken = NULL;
	if (rule_raw == NULL ||
		(JB_ROOT_IS_OBJECT(rule_raw) && JB_ROOT_COUNT(rule_raw) == 0))
		return NULL;
	rule = FFJsonbToJL(arena, rule_raw, true, &too_deep);
	if (too_deep)
	{
		*broken = FFSegmentBroken(arena, "its stored rule nests deeper than %d levels",
								  FF_MAX_JSON_DEPTH);
		return NULL;
	}
	if (rule->type == JL_NULL)
		return NULL;

	/*
	 * A literal rule (a string, number, boolean or array), which the
	 * validation refuses, would make every key a member or none (1.26
	 * library: it was used as such).
	 */
	if (rule->type != JL_OBJECT)
	{
		*broken = FFSegmentBroken(arena, "its stored rule is a JSON %s, not a JSON Logic rule",
								  JLTypeNameOf(rule->type));
		return NULL;
	}
	memset(&opts, 0, sizeof(opts));
	memset(&err, 0, sizeof(err));
	opts.allow_segments = true;
	compiled = JLCompile(arena, rule, &opts, &err);
	if (compiled == NULL)
		*broken = FFSegmentBroken(arena, "its stored rule does not compile: %s at %s",
								  err.message, err.path[0] != '\0' ? err.path : "$");
	return compiled;
}

/*
 * FFPrepareSegment finds segment name in env, compiles its rule and loads
 * its key list on first use; NULL when there is no such segment.  A
 * segment whose stored rule does not compile is returned with
 * broken_message set, and its key list is not loaded.
 */
static FFCacheSegment *
FFPrepareSegment(FFCacheEnv *env, const char *name, size_t namelen)
{
	FFCacheSegment *seg;

	/* a rule usually names one segment: try the one found last first */
	seg = env->last_segment;
	if (seg == NULL || strlen(seg->name) != namelen ||
		memcmp(seg->name, name, namelen) != 0)
	{
		seg = FFStrMapGet(&env->segments, name, namelen);
		if (seg == NULL)
			return NULL;
		env->last_segment = seg;
	}

	if (!seg->rule_compiled)
	{
		FFCurrentGen->loading++;
		seg->rule = FFCacheCompileSegmentRule(env->arena, seg->rule_raw,
											  &seg->broken_message);
		seg->rule_compiled = true;
		FFCurrentGen->loading--;
	}
	if (seg->broken_message != NULL)
		return seg;
	if (!seg->keys_loaded)
	{
		FFCurrentGen->loading++;
		FFLoadSegmentKeys(env, seg);
		FFCurrentGen->loading--;
	}
	return seg;
}

/*
 * FFCacheHasSegment reports whether env has a segment called name, loading
 * it as a flag's compilation does (one whose stored rule does not compile
 * counts: evaluations that read it answer PARSE_ERROR).
 */
bool
FFCacheHasSegment(FFCacheEnv *env, const char *name, size_t namelen)
{
	return FFPrepareSegment(env, name, namelen) != NULL;
}

/*
 * FFCacheSegmentCallback is the JLContext segment callback: it finds the
 * segment in the environment of the evaluation (prepared when the flag was
 * compiled, so normally without any work beyond the key lookup).  A
 * segment whose stored rule does not compile is reported as broken, and
 * in_segment fails the evaluation.
 */
bool
FFCacheSegmentCallback(void *opaque, const char *name, size_t namelen,
					   const char *key, size_t keylen, JLSegmentInfo *info)
{
	FFJsonbData *data = (FFJsonbData *) opaque;
	FFCacheEnv *env = (FFCacheEnv *) data->extra;
	FFCacheSegment *seg;

	if (env == NULL)
		return false;
	seg = FFPrepareSegment(env, name, namelen);
	if (seg == NULL)
		return false;
	if (seg->broken_message != NULL)
	{
		info->broken = seg->broken_message;
		return true;
	}
	info->rule = seg->rule;
	info->membership = key != NULL ? FFKeySetFind(&seg->keys, key, keylen) : 0;
	return true;
}

/* ---------------------------------------------------------------------
 * Scratch arena and statistics
 * --------------------------------------------------------------------- */

/*
 * FF_SCRATCH_KEEP is how much the scratch context may keep between
 * evaluations: the arena gives its chunks back one by one, and the memory
 * context keeps the blocks that held the medium-sized ones for reuse; the
 * budget counts what the context holds, so an evaluation after one that left
 * more than FF_SCRATCH_KEEP behind resets the context, and its budget is
 * whole again.
 */
#define FF_SCRATCH_KEEP (1024 * 1024)

/*
 * FFScratchTrim resets the scratch context when it holds more than
 * FF_SCRATCH_KEEP: the values of the last evaluation are gone with it.
 */
static void
FFScratchTrim(void)
{
	if (FFScratchBudget.cxt != NULL &&
		MemoryContextMemAllocated(FFScratchBudget.cxt, false) > FF_SCRATCH_KEEP)
	{
		/* (the arena itself lived in the context: made anew when needed) */
		FFScratch = NULL;
		MemoryContextReset(FFScratchBudget.cxt);
	}
}

/*
 * FFScratchArena returns the per-backend scratch arena, emptied, whose
 * allocations fail once it holds limit bytes.  Values evaluated into it
 * live until the next evaluation call.
 */
JLArena *
FFScratchArena(Size limit)
{
	if (FFScratch != NULL)
	{
		JLArenaReset(FFScratch);
		FFScratchTrim();
	}
	FFScratchBudget.limit = limit;
	if (FFScratch == NULL)
	{
		if (FFScratchBudget.cxt == NULL)
			FFScratchBudget.cxt = AllocSetContextCreate(TopMemoryContext,
														"feature_flags scratch",
														ALLOCSET_DEFAULT_SIZES);
		FFScratch = FFArenaCreateBudget(&FFScratchBudget);
	}
	FFScratchBudget.exhausted = false;
	return FFScratch;
}

/*
 * FFScratchLimit returns the budget of the current evaluation (bytes): what
 * lookups compare the values they would read with before they read them.
 */
Size
FFScratchLimit(void)
{
	return FFScratchBudget.limit;
}

/*
 * FFScratchExhausted tells whether an allocation from the scratch arena
 * failed since FFScratchArena last handed it out.
 */
bool
FFScratchExhausted(void)
{
	return FFScratchBudget.exhausted;
}

/*
 * FFCacheGetStats reports the state of the cache (after processing pending
 * invalidations, without rebuilding).
 */
void
FFCacheGetStats(FFCacheStats *stats)
{
	FFCacheGen *gen;
	uint32		i;

	AcceptInvalidationMessages();
	memset(stats, 0, sizeof(FFCacheStats));
	stats->rebuilds = FFRebuildCount;
	stats->key_loads = FFKeyLoads;
	gen = FFCurrentGen;
	stats->valid = gen != NULL && FFCacheValid;
	if (gen == NULL)
		return;
	stats->generation = gen->id;
	stats->memory_bytes = (int64) MemoryContextMemAllocated(gen->cxt, true);
	if (FFKeyStoreCxt != NULL)
	{
		stats->memory_bytes += (int64) MemoryContextMemAllocated(FFKeyStoreCxt, true);
		for (i = 0; i < FFKeyStore.capacity; i++)
		{
			FFKeyStoreEntry *e = FFKeyStore.entries[i].value;

			/* the lists a statement may still use (others go at a rebuild) */
			if (FFKeyStore.entries[i].key != NULL && e->cxt != NULL &&
				e->epoch == FFKeysEpoch)
			{
				stats->kept_key_lists++;
				stats->kept_keys += e->set.count;
			}
		}
	}
	for (i = 0; i < gen->envs.capacity; i++)
	{
		FFCacheEnv *env = gen->envs.entries[i].value;
		uint32		j;
		int			k;

		if (gen->envs.entries[i].key == NULL || env == &FFMissingEnv)
			continue;
		stats->environments++;
		/* the flags read so far: counting them reads none */
		stats->flags += env->nflags;
		for (k = 0; k < env->nflags; k++)
			if (env->flag_list[k]->compiled)
				stats->compiled_flags++;
		stats->segments += env->nsegments;
		for (j = 0; j < env->segments.capacity; j++)
		{
			FFCacheSegment *seg = env->segments.entries[j].value;

			if (env->segments.entries[j].key != NULL && seg->keys_loaded)
				stats->segment_keys += seg->keys.count;
		}
	}
}
