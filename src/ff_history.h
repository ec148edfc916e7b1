/*-------------------------------------------------------------------------
 *
 * ff_history.h
 *	  The C parts of the history's write path (ff_history.c).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_history.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_HISTORY_H
#define FF_HISTORY_H

#include "executor/spi.h"

extern void FFHistoryInit(void);
extern SPIPlanPtr FFHistoryKeepPlan(const char *sql, int nargs, Oid *argtypes);

#endif							/* FF_HISTORY_H */
