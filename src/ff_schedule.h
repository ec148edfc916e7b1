/*-------------------------------------------------------------------------
 *
 * ff_schedule.h
 *	  The write of a scheduled change (ff_schedule.c).
 *
 * Copyright (c) 2026, feature_flags developers
 *
 * src/ff_schedule.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FF_SCHEDULE_H
#define FF_SCHEDULE_H

/* the role a scheduled change is being applied as, or InvalidOid */
extern Oid	FFScheduleActingRole(void);

#endif							/* FF_SCHEDULE_H */
