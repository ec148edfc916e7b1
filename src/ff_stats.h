/*-------------------------------------------------------------------------
 *
 * ff_stats.h
 *	  Evaluation statistics (ff_stats.c): how often each flag was evaluated,
 *	  per variant, reason and error code.
 *
 * The evaluation path counts with FFStatsCountFlag, a few instructions and
 * no lock; the counts reach shared memory later (FFStatsFlush).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_stats.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_STATS_H
#define FF_STATS_H

#include "ff_cache.h"

/* GUCs (feature_flags.c) */
extern bool ff_track_evaluations;
extern int	ff_stats_max_entries;

/*
 * Whether evaluations are counted: the library was preloaded (the shared
 * table exists) and ff.track_evaluations is on.
 */
extern bool FFStatsActive;

extern void FFStatsInit(void);
extern void FFStatsAssignTrack(bool newval, void *extra);

/*
 * Make a flag ready to count in slot: put it on the list of flags with
 * counts (its first count since a flush), or add the counts to shared
 * memory first if that counter is full.
 */
extern void FFStatsPrepareCount(FFCacheEnv *env, FFCacheFlag *flag, int slot);

/* count an evaluation of an environment's key that found no flag */
extern void FFStatsCountMissing(const char *envname, size_t envlen,
								const char *key, size_t keylen,
								FFErrorCode error);

/*
 * Add the counts of this backend to shared memory: always when force, else
 * when the last flush is a second old.  Must run before the generation
 * holding counted flags is freed.
 */
extern void FFStatsFlush(bool force);

/*
 * FFStatsSlot is the index of an outcome in a flag's counters: per variant
 * (and "none", -1) and non-error reason, then one per error code.
 */
static inline int
FFStatsSlot(const FFCacheFlag *flag, FFReason reason, FFErrorCode error, int variant)
{
	int			nvariants = (int) flag->flag.nvariants;

	if (reason == FF_REASON_ERROR || error != FF_ERROR_NONE)
		return (nvariants + 1) * FF_REASON_ERROR + (int) error;
	if (variant < -1 || variant >= nvariants)
		variant = -1;
	return (variant + 1) * FF_REASON_ERROR + (int) reason;
}

/* the number of counters of a flag */
static inline int
FFStatsSlots(const FFCacheFlag *flag)
{
	return ((int) flag->flag.nvariants + 1) * FF_REASON_ERROR + FF_ERROR_INVALID_CONTEXT + 1;
}

/*
 * FFStatsCountFlag counts one evaluation of a flag found in the cache.
 */
static inline void
FFStatsCountFlag(FFCacheEnv *env, FFCacheFlag *flag, FFReason reason,
				 FFErrorCode error, int variant)
{
	int			slot;

	if (!FFStatsActive)
		return;
	slot = FFStatsSlot(flag, reason, error, variant);
	if (unlikely(!flag->stat_listed || flag->stat_counts[slot] == PG_UINT32_MAX))
		FFStatsPrepareCount(env, flag, slot);
	flag->stat_counts[slot]++;
}

#endif							/* FF_STATS_H */
