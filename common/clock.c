/* clock.c - the monotonic clock in seconds, for deadlines (plugins). */
#include "common/clock.h"

#include <time.h>

double cm_now_s(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
