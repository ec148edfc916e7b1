/*-------------------------------------------------------------------------
 *
 * feature_flags.h
 *	  Declarations shared by the PostgreSQL side of feature_flags.
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/feature_flags.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FEATURE_FLAGS_H
#define FEATURE_FLAGS_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "feature_flags requires PostgreSQL 15 or later"
#endif

/* GUCs (feature_flags.c) */
extern char *ff_environment;
extern char *ff_notify_channel;
extern char *ff_change_comment;

/* ff.invalid_targeting: refuse (error) or store with a WARNING (warning) */
typedef enum FFInvalidTargeting
{
	FF_INVALID_TARGETING_ERROR,
	FF_INVALID_TARGETING_WARNING
}			FFInvalidTargeting;

extern int	ff_invalid_targeting;
extern int	ff_evaluation_memory;	/* kB */

#endif							/* FEATURE_FLAGS_H */
