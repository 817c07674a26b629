/* measure.c - bench helper: run a command and report wall time, CPU time of its process tree and peak RSS. */
/*
 * Usage: measure [-n NAME] [-s PID] -- COMMAND [ARGS...]
 *
 * Runs COMMAND and, when it has exited, prints one line to stderr:
 *
 *   wall=S cpu=S user=S sys=S tree_maxrss_kb=K peak_kb=K srv_cpu=S forks=N rc=N
 *
 * wall     elapsed time (CLOCK_MONOTONIC)
 * cpu      user + system time of COMMAND and every descendant it waited for
 *          (getrusage(RUSAGE_CHILDREN) after waiting for COMMAND)
 * tree_maxrss_kb  the largest peak RSS of any single process of the tree
 * peak_kb  peak RSS of the processes named NAME (-n), each measured by
 *          itself: COMMAND runs with LD_PRELOAD=MEASURE_HWM_SO (a library
 *          built from hwm.c) whose destructor writes the process's own
 *          getrusage(RUSAGE_SELF) peak at exit; the largest is reported
 *          (-1 when none was written)
 * srv_cpu  CPU time used meanwhile by process PID (-s; the database server)
 * forks    processes created on the whole machine meanwhile (/proc/stat);
 *          an upper bound for the tree, other programs included
 * rc       COMMAND's exit code (128 + N when killed by signal N)
 *
 * measure exits with COMMAND's exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Processes created since boot, from the "processes" line of /proc/stat;
 * -1 when unreadable. */
static long long forks_since_boot(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (f == NULL)
		return -1;
	char line[512];
	long long n = -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "processes ", 10) == 0)
			n = strtoll(line + 10, NULL, 10);
	fclose(f);
	return n;
}

/* utime + stime of process pid in seconds; -1 when unreadable. */
static double proc_cpu(pid_t pid)
{
	if (pid <= 0)
		return -1;
	char path[64], buf[2048];
	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (p == NULL)
		return -1;
	/* Fields after ")": state(3) ... utime(14) stime(15). */
	unsigned long long ut = 0, st = 0;
	int field = 2;
	char *save = NULL;
	for (char *tok = strtok_r(p + 1, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 14)
			ut = strtoull(tok, NULL, 10);
		else if (field == 15) {
			st = strtoull(tok, NULL, 10);
			break;
		}
	}
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The largest peak (kB) that hwm.so wrote to `file` for processes; -1 when
 * nothing was written. */
static long read_peak(const char *file)
{
	FILE *f = fopen(file, "r");
	if (f == NULL)
		return -1;
	long best = -1, pid, kb;
	while (fscanf(f, "%ld %ld", &pid, &kb) == 2)
		if (kb > best)
			best = kb;
	fclose(f);
	return best;
}

int main(int argc, char **argv)
{
	const char *name = NULL;
	pid_t srv = 0;
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			srv = (pid_t)strtol(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: measure [-n NAME] [-s PID] -- COMMAND [ARGS...]\n");
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "measure: no command\n");
		return 2;
	}

	char hwm_file[] = "/tmp/measure-hwm-XXXXXX";
	if (name != NULL) {
		const char *so = getenv("MEASURE_HWM_SO");
		if (so == NULL) {
			fprintf(stderr, "measure: -n needs MEASURE_HWM_SO (the path of hwm.so)\n");
			return 2;
		}
		int fd = mkstemp(hwm_file);
		if (fd < 0) {
			perror("measure: temp file");
			return 2;
		}
		close(fd);
		setenv("LD_PRELOAD", so, 1);
		setenv("MEASURE_HWM_FILE", hwm_file, 1);
		setenv("MEASURE_HWM_NAME", name, 1);
	}

	long long forks0 = forks_since_boot();
	double srv0 = proc_cpu(srv);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[i], argv + i);
		fprintf(stderr, "measure: %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double srv1 = proc_cpu(srv);
	long long forks1 = forks_since_boot();
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	long peak = -1;
	if (name != NULL) {
		peak = read_peak(hwm_file);
		unlink(hwm_file);
	}
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr,
	        "wall=%.3f cpu=%.3f user=%.3f sys=%.3f tree_maxrss_kb=%ld peak_kb=%ld srv_cpu=%.2f "
	        "forks=%lld rc=%d\n",
	        wall, tv_sec(ru.ru_utime) + tv_sec(ru.ru_stime), tv_sec(ru.ru_utime),
	        tv_sec(ru.ru_stime), ru.ru_maxrss, peak,
	        srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1.0,
	        forks0 >= 0 && forks1 >= 0 ? forks1 - forks0 - 1 : -1LL, rc);
	return rc;
}
