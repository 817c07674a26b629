/* log.c - the run's log: "YYYY-MM-DD HH:MM:SS,mmm LEVEL message" lines in oma.log. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int level = OMA_LOG_INFO;
static int stderr_level = OMA_LOG_ERROR;
static FILE *file;
static char *path;
static char *pending; /* lines logged before log_open */
static size_t pending_len, pending_cap;
static unsigned errors;

int log_level_parse(const char *name)
{
	if (strcasecmp(name, "debug") == 0)
		return OMA_LOG_DEBUG;
	if (strcasecmp(name, "info") == 0)
		return OMA_LOG_INFO;
	if (strcasecmp(name, "warning") == 0)
		return OMA_LOG_WARNING;
	if (strcasecmp(name, "error") == 0)
		return OMA_LOG_ERROR;
	return -1;
}

const char *log_level_name(int lvl)
{
	switch (lvl) {
	case OMA_LOG_DEBUG: return "DEBUG";
	case OMA_LOG_INFO: return "INFO";
	case OMA_LOG_WARNING: return "WARNING";
	default: return "ERROR";
	}
}

void log_set_level(int lvl) { level = lvl; }
int log_get_level(void) { return level; }
void log_set_stderr_level(int lvl) { stderr_level = lvl; }
const char *log_path(void) { return path; }
unsigned log_error_count(void) { return errors; }

int log_open(const char *p)
{
	FILE *f = fopen(p, "we");
	if (f == NULL)
		return -1;
	pthread_mutex_lock(&lock);
	if (file != NULL)
		fclose(file);
	file = f;
	free(path);
	path = xstrdup(p);
	if (pending_len > 0)
		(void)fwrite(pending, 1, pending_len, file);
	free(pending);
	pending = NULL;
	pending_len = pending_cap = 0;
	fflush(file);
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
	if (file != NULL)
		fclose(file);
	file = NULL;
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
	char *line = xasprintf("%s %s %s\n", stamp, log_level_name(lvl), msg);
	free(msg);

	pthread_mutex_lock(&lock);
	if (lvl >= level) {
		if (file != NULL) {
			(void)fputs(line, file);
			fflush(file);
		} else {
			buf_append(&pending, &pending_len, &pending_cap, line, strlen(line));
		}
	}
	if (lvl >= stderr_level)
		(void)fputs(line, stderr);
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
