/* hwm.c - bench helper preloaded by measure: a process named $MEASURE_HWM_NAME records its own peak RSS at exit. */
/*
 * Built as a shared object and put in LD_PRELOAD by measure -n NAME.  In
 * every process of the measured tree the destructor runs at exit(); when
 * the program's name is MEASURE_HWM_NAME it appends "PID PEAK_KB" (from
 * getrusage(RUSAGE_SELF), the process's own peak resident set, children
 * not included) to MEASURE_HWM_FILE.  Other processes write nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

extern char *program_invocation_short_name;

__attribute__((destructor)) static void hwm_at_exit(void)
{
	const char *file = getenv("MEASURE_HWM_FILE");
	const char *name = getenv("MEASURE_HWM_NAME");
	if (file == NULL || name == NULL || strcmp(program_invocation_short_name, name) != 0)
		return;
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return;
	int saved = errno;
	int fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd >= 0) {
		char line[64];
		int n = snprintf(line, sizeof(line), "%ld %ld\n", (long)getpid(), ru.ru_maxrss);
		if (n > 0)
			(void)!write(fd, line, (size_t)n);
		close(fd);
	}
	errno = saved;
}
