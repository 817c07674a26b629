/* progress.c - the live status line on a terminal while the dumps run: databases done, bytes, rate, who is dumping. */
#include "progress.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define PROGRESS_TICK_MS 500
#define PROGRESS_WIDTH   100 /* when the terminal does not say */

struct progress {
	const struct dump_job *jobs;
	size_t njobs, reused, total;
	struct timespec t0;
	pthread_t thread;
	pthread_mutex_t lock; /* stop, shown, and writes to stderr */
	pthread_cond_t cond;
	bool stop, shown;
};

/* The one status line (log lines clear it through log_set_stderr_hook). */
static struct progress *active;

/* Columns of the terminal on stderr. */
static size_t term_width(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		return ws.ws_col;
	return PROGRESS_WIDTH;
}

/* The status text into out (at most width - 1 characters). */
static void status_text(const struct progress *p, char *out, size_t width)
{
	size_t done = p->reused;
	uint64_t bytes = 0;
	for (size_t i = 0; i < p->njobs; i++) {
		done += __atomic_load_n(&p->jobs[i].phase, __ATOMIC_ACQUIRE) == DUMP_ENDED;
		bytes += __atomic_load_n(&p->jobs[i].written, __ATOMIC_RELAXED);
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - p->t0.tv_sec) +
	              (double)(now.tv_nsec - p->t0.tv_nsec) / 1e9;
	char b[32], rate[32];
	format_size((double)bytes, b, sizeof(b));
	format_size(secs > 0.1 ? (double)bytes / secs : 0, rate, sizeof(rate));
	char *text = xasprintf("oma: %zu/%zu databases, %s written, %s/s", done, p->total, b, rate);
	size_t len = strlen(text), cap = len + 1;
	const char *sep = ", dumping ";
	for (size_t i = 0; i < p->njobs; i++) {
		if (__atomic_load_n(&p->jobs[i].phase, __ATOMIC_ACQUIRE) != DUMP_RUNNING)
			continue;
		char *name = escape_controls(p->jobs[i].db);
		buf_appendf(&text, &len, &cap, "%s%s", sep, name);
		free(name);
		sep = ", ";
	}
	if (len >= width) {
		/* cut on a character boundary, "..." at the end */
		size_t cut = width > 4 ? width - 4 : 0;
		while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
			cut--;
		(void)snprintf(out, width, "%.*s...", (int)cut, text);
	} else {
		(void)snprintf(out, width, "%s", text);
	}
	free(text);
}

/* Clear the status line (lock held). */
static void clear_line(struct progress *p)
{
	if (p->shown) {
		(void)fputs("\r\033[K", stderr);
		(void)fflush(stderr);
		p->shown = false;
	}
}

/* Before a log line goes to stderr. */
static void before_stderr(void)
{
	struct progress *p = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	clear_line(p);
	pthread_mutex_unlock(&p->lock);
}

static void *ticker(void *arg)
{
	struct progress *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		size_t width = term_width();
		char *line = xmalloc(width + 1);
		status_text(p, line, width);
		(void)fprintf(stderr, "\r%s\033[K", line);
		(void)fflush(stderr);
		p->shown = true;
		free(line);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += PROGRESS_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &until) != ETIMEDOUT)
			;
	}
	clear_line(p);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct progress *progress_start(const struct dump_job *jobs, size_t njobs, size_t reused,
                                size_t total)
{
	const char *term = getenv("TERM");
	if (!isatty(STDERR_FILENO) || (term != NULL && strcmp(term, "dumb") == 0))
		return NULL;
	struct progress *p = xcalloc(1, sizeof(*p));
	*p = (struct progress){.jobs = jobs, .njobs = njobs, .reused = reused, .total = total};
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	/* The ticker takes no process signals: the main thread handles them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&p->thread, NULL, ticker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	__atomic_store_n(&active, p, __ATOMIC_RELEASE);
	log_set_stderr_hook(before_stderr);
	return p;
}

void progress_stop(struct progress *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	log_set_stderr_hook(NULL);
	__atomic_store_n(&active, NULL, __ATOMIC_RELEASE);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
