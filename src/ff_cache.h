/*-------------------------------------------------------------------------
 *
 * ff_cache.h
 *	  Per-backend cache of compiled flags, segments and environments.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_cache.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_CACHE_H
#define FF_CACHE_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/relcache.h"

#include "jsonlogic.h"

/* a string -> pointer hash map allocated in one memory context */
typedef struct FFStrMapEntry
{
	const char *key;			/* NULL = empty slot */
	uint32		len;
	uint32		hash;
	void	   *value;
} FFStrMapEntry;

typedef struct FFStrMap
{
	MemoryContext cxt;
	FFStrMapEntry *entries;
	uint32		capacity;		/* power of two */
	uint32		count;
} FFStrMap;

/* one flag of one environment */
/* a number variant as get_int reads it (1.17: computed once per compile) */
typedef struct FFVariantInt
{
	bool		whole;			/* a whole number in the bigint range */
	int64		value;			/* that number */
} FFVariantInt;

typedef struct FFCacheFlag
{
	char	   *key;
	uint32		keylen;

	/* the row, as read */
	bool		enabled;
	Jsonb	   *variants_raw;
	char	   *default_variant_raw;	/* NULL = none */
	Jsonb	   *targeting_raw;	/* NULL = none */
	Jsonb	   *metadata_raw;

	/* compiled on first use */
	bool		compiled;
	bool		broken;			/* the stored definition cannot be used */
	char	   *broken_message;
	FFFlag		flag;
	Jsonb	  **variant_jsonb;	/* per variant index, the value as jsonb */
	struct FFVariantInt *variant_int;	/* per variant index, the value as
										 * a bigint when it is one exactly;
										 * NULL: no number variant */
	Jsonb	   *metadata;		/* environment metadata + flag metadata */

	/* evaluation statistics not yet in shared memory (ff_stats.c) */
	bool		stat_listed;	/* on the list of flags with counts */
	uint32	   *stat_counts;	/* FFStatsSlots() counters, from the first count */
	struct FFCacheEnv *stat_env;	/* the flag's environment, for its name */
	struct FFCacheFlag *stat_next;	/* the next flag on that list */
} FFCacheFlag;

/*
 * The include/exclude list of a segment: an open-addressing hash set of
 * exact keys sized for its final count (linear probing).  A slot holds the
 * hash, the membership and, for keys of up to FF_KEY_INLINE bytes, the key
 * itself, so that a lookup usually touches one cache line; longer keys are
 * stored in the generation's arena as [uint32 length][bytes].  A parallel
 * array of one-byte tags (a few hash bits) is probed first: it is small
 * enough to stay in the CPU cache, so most lookups of absent keys never
 * touch the slots.
 */
#define FF_KEY_INLINE 16

typedef struct FFKeySlot
{
	uint32		hash;
	uint16		len;			/* Min(length, PG_UINT16_MAX) */
	int8		membership;		/* +1 include, -1 exclude, 0 = empty slot */
	union
	{
		char		bytes[FF_KEY_INLINE];	/* len <= FF_KEY_INLINE */
		const char *ptr;		/* longer: [uint32 length][bytes] */
	}			k;
} FFKeySlot;

typedef struct FFKeySet
{
	uint32		capacity;		/* slots; 0 = empty set */
	uint32		count;
	FFKeySlot  *slots;
	uint8	   *tags;			/* per slot: 0 empty, else 0x80 | 7 hash bits */
} FFKeySet;

/* one segment of one environment */
typedef struct FFCacheSegment
{
	char	   *name;
	Jsonb	   *rule_raw;		/* NULL = none */
	bool		rule_compiled;
	const JLRule *rule;			/* NULL = none or broken */
	const char *broken_message; /* why the stored rule cannot be used */
	bool		keys_loaded;
	FFKeySet	keys;			/* targeting key -> +1 include / -1 exclude */
} FFCacheSegment;

/*
 * ff.evaluate's "perhaps you meant" for a missing flag key: the answers for
 * the first FF_SUGGEST_MAX distinct keys of a generation are remembered;
 * later keys get none, so that the cost stays bounded.  No key longer than
 * FF_SUGGEST_KEY_MAX bytes (the name rule's 200 characters) gets one.
 */
#define FF_SUGGEST_MAX 64
#define FF_SUGGEST_KEY_MAX 200

typedef struct FFSuggestion
{
	uint8		len;
	char		key[FF_SUGGEST_KEY_MAX];
	const char *closest;		/* the existing name, or NULL */
} FFSuggestion;

/* the remembered answers: FF_SUGGEST_MAX of them at most, items NULL at first */
typedef struct FFSuggestionMemo
{
	FFSuggestion *items;
	int			n;
} FFSuggestionMemo;

/* one environment */
typedef struct FFCacheEnv
{
	MemoryContext cxt;			/* the generation's context and arena */
	JLArena    *arena;
	char	   *name;
	Jsonb	   *metadata;		/* nulls stripped */
	FFStrMap	flags;			/* key -> FFCacheFlag, or the missing marker */
	FFCacheFlag **flag_list;	/* the flags read so far, in reading order */
	int			nflags;
	int			flag_list_size; /* flag_list's room */
	int			nmissing_flags; /* keys remembered as missing */
	bool		flags_complete; /* every flag is read (FFCacheLoadAllFlags) */
	FFCacheFlag **all_order;	/* flag_list in jsonb key order, or NULL */
	FFStrMap	segments;		/* name -> FFCacheSegment */
	int			nsegments;
	struct FFCacheSegment *last_segment;	/* the one in_segment found last */
	FFSuggestionMemo suggestions;	/* FFCacheSuggestFlag's answers */
} FFCacheEnv;

/* statistics for ff.cache_info() */
typedef struct FFCacheStats
{
	int64		rebuilds;
	int64		generation;
	bool		valid;
	int			environments;
	int			flags;			/* read into the cache so far */
	int			compiled_flags;
	int			segments;
	int64		segment_keys;
	int64		memory_bytes;
	int64		key_loads;		/* key lists this backend read (1.20) */
	int			kept_key_lists; /* lists kept across generations */
	int64		kept_keys;		/* their keys */
} FFCacheStats;

extern void FFCacheInit(void);

/*
 * The id of the cache generation the current statement uses, after
 * processing pending invalidations (FFCacheBegin), and the id of the
 * generation FFCacheGetEnv/FFCacheGetFlag last returned pointers from
 * (FFCacheCurrentId).  Pointers remembered under an id stay valid while
 * FFCacheBegin returns that id.
 */
extern int64 FFCacheBegin(void);
extern int64 FFCacheCurrentId(void);

/*
 * Look up an environment (name of len bytes; NULL or empty = the default
 * one) in the cache generation current for this statement.  Returns NULL
 * when it does not exist, with *missing_name set to the name looked for
 * (NULL if there is no default environment).
 */
extern FFCacheEnv *FFCacheGetEnv(const char *name, size_t len, char **missing_name);
/* the same, right after FFCacheBegin: no second invalidation pass */
extern FFCacheEnv *FFCacheLookupEnv(const char *name, size_t len, char **missing_name);
extern char *FFCacheEnvironmentNames(const char *missing, const char **closest);
extern const char *FFCacheSuggestEnvironment(const char *missing);
/* find a flag of env (read on first use) and compile it if needed; NULL if missing */
extern FFCacheFlag *FFCacheGetFlag(FFCacheEnv *env, const char *key, size_t keylen);
/* read every flag of env not read yet: before using flag_list/nflags */
extern void FFCacheLoadAllFlags(FFCacheEnv *env);
/* a flag definition outside the cache (a history row image), in cxt */
extern FFCacheFlag *FFCacheCompileImage(MemoryContext cxt, const char *key,
										bool enabled, Jsonb *variants,
										const char *default_variant,
										Jsonb *targeting, Jsonb *metadata,
										Jsonb *env_metadata);
/* whether env has a usable segment called name (loaded as for a flag) */
extern bool FFCacheHasSegment(FFCacheEnv *env, const char *name, size_t namelen);
/* metadata as an object without null members ({} for NULL or a non-object) */
extern Jsonb *FFCacheCleanMetadata(Jsonb *meta);
/* a segment's stored rule, compiled (NULL: none, or *broken) */
extern const JLRule *FFCacheCompileSegmentRule(JLArena *arena, Jsonb *rule_raw,
											   const char **broken);
/* the key of env's flag closest to a missing key, or NULL (with ff_names.c) */
extern const char *FFCacheSuggestFlag(FFCacheEnv *env, const char *key, size_t keylen);
/* the JLContext segment callback; opaque is an FFJsonbData whose extra is the env */
extern bool FFCacheSegmentCallback(void *opaque, const char *name, size_t namelen,
								   const char *key, size_t keylen,
								   JLSegmentInfo *info);
extern void FFCacheGetStats(FFCacheStats *stats);
/* size zeroed bytes that live as long as env's generation */
extern void *FFCacheEnvAllocZero(FFCacheEnv *env, size_t size);

/* the per-call scratch arena, reset, that may hold at most limit bytes */
extern JLArena *FFScratchArena(Size limit);

/* this transaction's configuration write statements (the triggers) */
extern void FFCacheNoteWriteStart(Relation rel);
extern void FFCacheNoteWriteEnd(void);
extern bool FFScratchExhausted(void);
extern Size FFScratchLimit(void);

#endif							/* FF_CACHE_H */
