/* log.c - the run's log: "YYYY-MM-DD HH:MM:SS,mmm LEVEL message" lines in oma.log. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int level = OMA_LOG_INFO;
static int stderr_level = OMA_LOG_ERROR;
static void (*stderr_hook)(void); /* before a line goes to stderr (progress.c) */
static int fd = -1;
static char *path;
static unsigned lost; /* lines that could not be written to the file */
static char *pending; /* lines logged before log_open */
static size_t pending_len, pending_cap;
static unsigned errors;

/* The levels: the number, the word in the log line, the word in oma.conf. */
static const struct {
	int level;
	const char *name, *word;
} levels[] = {
        {OMA_LOG_DEBUG, "DEBUG", "debug"},
        {OMA_LOG_INFO, "INFO", "info"},
        {OMA_LOG_WARNING, "WARNING", "warning"},
        {OMA_LOG_ERROR, "ERROR", "error"},
};
#define NLEVELS (sizeof(levels) / sizeof(levels[0]))

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < NLEVELS; i++)
		if (strcasecmp(name, levels[i].word) == 0)
			return levels[i].level;
	return -1;
}

/* The entry for `lvl`: the nearest one at or below it (ERROR above all). */
static size_t level_index(int lvl)
{
	size_t k = 0;
	for (size_t i = 0; i < NLEVELS; i++)
		if (lvl >= levels[i].level)
			k = i;
	return k;
}

const char *log_level_name(int lvl)
{
	return levels[level_index(lvl)].name;
}

const char *log_level_word(int lvl)
{
	return levels[level_index(lvl)].word;
}

void log_set_level(int lvl)
{
	level = lvl;
}
int log_get_level(void)
{
	return level;
}
void log_set_stderr_hook(void (*fn)(void))
{
	__atomic_store_n(&stderr_hook, fn, __ATOMIC_RELEASE);
}

void log_set_stderr_level(int lvl)
{
	stderr_level = lvl;
}
const char *log_path(void)
{
	return path;
}
unsigned log_error_count(void)
{
	return errors;
}

/* Write one line to the log file; a failure (a full disk) is said on
 * stderr the first time, and the lines lost are counted.  Lock held. */
static void write_line(const char *line, size_t len)
{
	if (cm_write_all(fd, line, len) == 0)
		return;
	if (lost++ == 0)
		(void)fprintf(stderr, "oma: cannot write the log file %s: %s (lines are lost)\n",
		              path, strerror(errno));
}

int log_open(const char *p)
{
	int f = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0666);
	if (f < 0)
		return -1;
	return log_use_fd(f, p);
}

int log_use_fd(int f, const char *p)
{
	pthread_mutex_lock(&lock);
	if (fd >= 0)
		close(fd);
	fd = f;
	free(path);
	path = xstrdup(p);
	lost = 0;
	if (pending_len > 0)
		write_line(pending, pending_len);
	free(pending);
	pending = NULL;
	pending_len = pending_cap = 0;
	pthread_mutex_unlock(&lock);
	return 0;
}

void log_moved(const char *new_path)
{
	pthread_mutex_lock(&lock);
	free(path);
	path = xstrdup(new_path);
	pthread_mutex_unlock(&lock);
}

void log_close(void)
{
	pthread_mutex_lock(&lock);
	if (fd >= 0 && close(fd) != 0 && lost++ == 0)
		(void)fprintf(stderr, "oma: cannot write the log file %s: %s\n", path,
		              strerror(errno));
	if (lost > 1)
		(void)fprintf(stderr, "oma: %u lines could not be written to %s\n", lost, path);
	fd = -1;
	lost = 0;
	free(path);
	path = NULL;
	free(pending);
	pending = NULL;
	pending_len = pending_cap = 0;
	pthread_mutex_unlock(&lock);
}

void log_vmsg(int lvl, const char *fmt, va_list ap)
{
	if (lvl >= OMA_LOG_ERROR)
		__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
	if (lvl < level && lvl < stderr_level)
		return;

	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	localtime_r(&tv.tv_sec, &tm);
	char stamp[32];
	size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	(void)snprintf(stamp + n, sizeof(stamp) - n, ",%03ld", (long)(tv.tv_usec / 1000));

	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	/* One message, one line: a newline in a database name (or anything
	 * else) cannot forge a line of its own. */
	char *safe = escape_controls(msg);
	char *line = xasprintf("%s %s %s\n", stamp, log_level_name(lvl), safe);
	free(safe);
	free(msg);

	pthread_mutex_lock(&lock);
	if (lvl >= level) {
		if (fd >= 0)
			write_line(line, strlen(line));
		else
			buf_append(&pending, &pending_len, &pending_cap, line, strlen(line));
	}
	if (lvl >= stderr_level) {
		void (*hook)(void) = __atomic_load_n(&stderr_hook, __ATOMIC_ACQUIRE);
		if (hook != NULL)
			hook();
		(void)fputs(line, stderr);
	}
	pthread_mutex_unlock(&lock);
	free(line);
}

void log_msg(int lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}
