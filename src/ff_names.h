/*-------------------------------------------------------------------------
 *
 * ff_names.h
 *	  "Perhaps you meant": the existing name closest to a mistyped flag
 *	  key, segment or environment name (ff_names.c).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_names.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_NAMES_H
#define FF_NAMES_H

#include "postgres.h"

/* a search for the candidate closest to one name */
typedef struct FFNameMatch
{
	const char *name;			/* the name asked for */
	int			len;
	int			max_d;			/* the largest distance that counts; -1 = none */
	const char *best;			/* the closest candidate so far, or NULL */
	int			best_len;
	int			best_d;
} FFNameMatch;

extern void FFNameMatchInit(FFNameMatch *m, const char *name, size_t len);
extern void FFNameMatchOffer(FFNameMatch *m, const char *candidate, size_t len);

#endif							/* FF_NAMES_H */
