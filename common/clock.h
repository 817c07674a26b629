/* clock.h - the monotonic clock in seconds, for deadlines (plugins). */
#ifndef OMA_COMMON_CLOCK_H
#define OMA_COMMON_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (not the time of day: for measuring only). */
double cm_now_s(void);

#endif
