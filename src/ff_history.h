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

extern void FFHistoryInit(void);

#endif							/* FF_HISTORY_H */
