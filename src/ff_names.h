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

/*
 * a search for the candidate closest to one name: FFNameMatchInit, then
 * FFNameMatchOffer for each candidate, then FFNameMatchEnd
 */
typedef struct FFNameMatch
{
	const char *name;			/* the name asked for */
	int			len;			/* its bytes */
	int			chars;			/* its characters */
	int			max_d;			/* the largest distance that counts; -1 = none */
	bool		ascii;			/* the name is ASCII: hist is set */
	int16		hist[128];		/* how often each byte occurs in the name */
	MemoryContext cxt;			/* for the distance function, or NULL */
	const char *best;			/* the closest candidate so far, or NULL */
	int			best_len;
	int			best_d;
} FFNameMatch;

extern void FFNameMatchInit(FFNameMatch *m, const char *name, size_t len);
extern void FFNameMatchOffer(FFNameMatch *m, const char *candidate, size_t len);
extern void FFNameMatchEnd(FFNameMatch *m);
extern bool FFNameIsValid(const char *name);
extern const char *FFNameForMessage(const char *name);

#endif							/* FF_NAMES_H */
