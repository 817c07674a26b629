/* offsite.c - off-site copies of the current backup folder: a queue of final files, each store's put() workers, the folder's completion. */
#include "offsite.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "util.h"

#define WORKERS_MAX 16

/* The size of regular file `path` in *bytes; -1 when it is not one. */
static int regular_size(const char *path, uint64_t *bytes)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	*bytes = (uint64_t)st.st_size;
	return 0;
}

/* One queued file; the strings are the queue's own. */
struct qfile {
	char *name, *path, *sha256, *db, *reused_from;
	uint64_t bytes;
};

/* One store plugin's copy of the folder. */
struct target {
	struct offsite *o;
	const char *name; /* the plugin's name (its section) */
	const struct oma_store_ops *ops;
	void *run;     /* begin()'s state; valid while begun */
	int begun;     /* begin() succeeded and end() is still due */
	char *failure; /* the first reason it failed, or NULL */
	int completed; /* commit() succeeded */
	size_t next;   /* the next file of the queue to take */
	unsigned busy; /* put() calls running */
	pthread_t tids[WORKERS_MAX];
	unsigned nthreads;
};

/* A file's outcome at one store: 0 pending, 1 stored, 2 failed. */
struct result {
	int state;
	char *why;
};

struct offsite {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a file was queued, or stop */
	pthread_cond_t idle; /* a put() ended */
	char *dir, *name;
	char host[256];
	struct qfile *files;
	struct result *res; /* files x targets, row by row */
	size_t n, cap;
	struct target *t;
	size_t nt;
	int stop;
	int stopped;
};

/* Record the outcome of file i at target t (lock held). */
static void set_result(struct target *t, size_t i, int ok, const char *why)
{
	struct offsite *o = t->o;
	struct result *r = &o->res[i * o->nt + (size_t)(t - o->t)];
	r->state = ok ? 1 : 2;
	if (!ok) {
		r->why = xstrdup(why);
		if (t->failure == NULL)
			t->failure = xstrdup(why);
	}
}

/* A worker of one store: take the next file, put() it, record how it
 * went.  Files still queued once oma is told to stop are given up, and so
 * are all after the store's first failure: the folder cannot be completed
 * then, and a dead or hung server would make every file wait out the
 * store's retries. */
static void *worker(void *arg)
{
	struct target *t = arg;
	struct offsite *o = t->o;
	pthread_mutex_lock(&o->mu);
	for (;;) {
		while (!o->stop && t->next >= o->n)
			pthread_cond_wait(&o->work, &o->mu);
		if (t->next >= o->n)
			break;
		size_t i = t->next++;
		if (o->stop || proc_cancelled() || t->failure != NULL) {
			char why[1200];
			if (t->failure == NULL || o->stop || proc_cancelled())
				(void)snprintf(why, sizeof(why), "cancelled");
			else
				(void)snprintf(why, sizeof(why),
				               "not copied after an earlier failure: %s",
				               t->failure);
			set_result(t, i, 0, why);
			pthread_cond_broadcast(&o->idle);
			continue;
		}
		struct qfile f = o->files[i]; /* the strings stay put */
		t->busy++;
		pthread_mutex_unlock(&o->mu);

		struct oma_store_file sf = {
		        .size = sizeof(sf),
		        .name = f.name,
		        .path = f.path,
		        .bytes = f.bytes,
		        .sha256 = f.sha256,
		        .db = f.db,
		        .reused_from = f.reused_from,
		};
		char err[1024] = "";
		int rc = t->ops->put(t->run, &sf, err, sizeof(err));
		if (rc != 0) {
			if (err[0] == '\0')
				(void)snprintf(err, sizeof(err), "put() failed without a reason");
			log_error("Off-site copy '%s' of %s failed: %s", t->name, f.name, err);
		}
		pthread_mutex_lock(&o->mu);
		set_result(t, i, rc == 0, err);
		t->busy--;
		pthread_cond_broadcast(&o->idle);
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

/* The first thread of a store: begin() (in the background, so the dumps
 * never wait for a slow or dead server), then the other workers, then a
 * worker itself.  A failed begin() is logged and recorded, and the files
 * queued meanwhile or later are given up by this thread's worker loop. */
static void *lead(void *arg)
{
	struct target *t = arg;
	struct offsite *o = t->o;
	struct oma_store_folder f = {.size = sizeof(f),
	                             .name = o->name,
	                             .local_dir = o->dir,
	                             .host = o->host};
	char err[1024] = "";
	unsigned workers = 0;
	void *run = NULL;
	int rc = t->ops->begin(&run, &f, &workers, err, sizeof(err));
	if (rc != 0) {
		if (err[0] == '\0')
			(void)snprintf(err, sizeof(err), "begin() failed without a reason");
		log_error("Off-site copy '%s' failed: %s", t->name, err);
	}
	if (workers == 0)
		workers = 1;
	if (workers > WORKERS_MAX)
		workers = WORKERS_MAX;
	pthread_mutex_lock(&o->mu);
	if (rc != 0) {
		t->failure = xstrdup(err);
	} else {
		t->run = run;
		t->begun = 1;
		for (unsigned i = 1; i < workers && !o->stop; i++) {
			if (pthread_create(&t->tids[t->nthreads], NULL, worker, t) != 0)
				break; /* fewer workers, still copying */
			t->nthreads++;
		}
	}
	t->busy--; /* the begin() */
	pthread_cond_broadcast(&o->idle);
	pthread_mutex_unlock(&o->mu);
	return worker(t);
}

struct offsite *offsite_start(const struct loader *ld, const char *name, const char *local_dir)
{
	size_t nt = 0;
	for (struct loaded_plugin *p = loader_next(ld, OMA_PLUGIN_STORE, NULL); p != NULL;
	     p = loader_next(ld, OMA_PLUGIN_STORE, p))
		nt += p->initialized ? 1 : 0;
	if (nt == 0)
		return NULL;
	struct offsite *o = xcalloc(1, sizeof(*o));
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->work, NULL);
	pthread_cond_init(&o->idle, NULL);
	o->dir = xstrdup(local_dir);
	o->name = xstrdup(name);
	o->t = xcalloc(nt, sizeof(*o->t));
	if (gethostname(o->host, sizeof(o->host) - 1) != 0)
		(void)snprintf(o->host, sizeof(o->host), "localhost");
	o->host[sizeof(o->host) - 1] = '\0';
	for (struct loaded_plugin *p = loader_next(ld, OMA_PLUGIN_STORE, NULL); p != NULL;
	     p = loader_next(ld, OMA_PLUGIN_STORE, p)) {
		if (!p->initialized)
			continue;
		struct target *t = &o->t[o->nt++];
		t->o = o;
		t->name = p->desc->name;
		t->ops = p->desc->store;
	}
	/* Signals stay the main thread's. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_mutex_lock(&o->mu);
	for (size_t k = 0; k < o->nt; k++) {
		struct target *t = &o->t[k];
		t->busy = 1; /* begin() */
		if (pthread_create(&t->tids[0], NULL, lead, t) == 0) {
			t->nthreads = 1;
		} else {
			t->busy = 0;
			t->failure = xstrdup("cannot start a thread");
			log_error("Off-site copy '%s' failed: cannot start a thread", t->name);
		}
	}
	pthread_mutex_unlock(&o->mu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return o;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void offsite_put(struct offsite *o, const char *file, uint64_t bytes, const char *sha256,
                 const char *db, const char *reused_from)
{
	if (o == NULL)
		return;
	struct qfile f = {
	        .name = xstrdup(file),
	        .path = xasprintf("%s/%s", o->dir, file),
	        .sha256 = sha256 != NULL && sha256[0] != '\0' ? xstrdup(sha256) : NULL,
	        .db = dup_or_null(db),
	        .reused_from = dup_or_null(reused_from),
	        .bytes = bytes,
	};
	pthread_mutex_lock(&o->mu);
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 64;
		o->files = xrealloc(o->files, o->cap * sizeof(*o->files));
		o->res = xrealloc(o->res, o->cap * o->nt * sizeof(*o->res));
	}
	memset(&o->res[o->n * o->nt], 0, o->nt * sizeof(*o->res));
	o->files[o->n] = f;
	/* A store without a thread cannot take it: failed at once. */
	for (size_t k = 0; k < o->nt; k++) {
		struct target *t = &o->t[k];
		if (t->nthreads == 0) {
			set_result(t, o->n, 0, t->failure ? t->failure : "not started");
			t->next = o->n + 1;
		}
	}
	o->n++;
	pthread_cond_broadcast(&o->work);
	pthread_mutex_unlock(&o->mu);
}

void offsite_wait(struct offsite *o)
{
	if (o == NULL)
		return;
	pthread_mutex_lock(&o->mu);
	for (;;) {
		int pending = 0;
		for (size_t k = 0; k < o->nt; k++)
			if (o->t[k].nthreads > 0 && (o->t[k].next < o->n || o->t[k].busy > 0))
				pending = 1;
		if (!pending || o->stopped)
			break;
		pthread_cond_wait(&o->idle, &o->mu);
	}
	pthread_mutex_unlock(&o->mu);
}

int offsite_db_outcome(const struct offsite *o, const char *db, const char **why)
{
	*why = NULL;
	if (o == NULL)
		return OMA_OFFSITE_NONE;
	int outcome = OMA_OFFSITE_NONE;
	for (size_t i = 0; i < o->n; i++) {
		if (o->files[i].db == NULL || strcmp(o->files[i].db, db) != 0)
			continue;
		for (size_t k = 0; k < o->nt; k++) {
			const struct result *r = &o->res[i * o->nt + k];
			if (r->state == 1 && outcome == OMA_OFFSITE_NONE)
				outcome = OMA_OFFSITE_COPIED;
			if (r->state != 1 && outcome != OMA_OFFSITE_FAILED) {
				outcome = OMA_OFFSITE_FAILED;
				*why = r->why != NULL ? r->why : "not copied";
			}
		}
	}
	return outcome;
}

/* Let store t complete the folder (its files are all stored). */
static void target_commit(struct target *t, const char *marker, int prune, long versions)
{
	struct offsite *o = t->o;
	char *path = xasprintf("%s/%s", o->dir, marker);
	uint64_t bytes = 0;
	(void)regular_size(path, &bytes);
	struct oma_store_file m = {.size = sizeof(m), .name = marker, .path = path, .bytes = bytes};
	struct oma_store_commit c = {.size = sizeof(c),
	                             .marker = &m,
	                             .prune = prune,
	                             .versions = versions};
	char err[1024] = "";
	if (proc_cancelled()) {
		(void)snprintf(err, sizeof(err), "cancelled");
	} else if (t->ops->commit(t->run, &c, err, sizeof(err)) == 0) {
		t->completed = 1;
		log_info("Off-site copy '%s' complete: %s (%zu files)", t->name, o->name, o->n + 1);
	}
	if (!t->completed) {
		if (err[0] == '\0')
			(void)snprintf(err, sizeof(err), "commit() failed without a reason");
		log_error("Off-site copy '%s' failed: %s", t->name, err);
		if (t->failure == NULL)
			t->failure = xstrdup(err);
	}
	free(path);
}

void offsite_finish(struct offsite *o, const char *const *files, const char *marker, int prune,
                    long versions)
{
	if (o == NULL)
		return;
	for (size_t i = 0; files != NULL && files[i] != NULL; i++) {
		char *path = xasprintf("%s/%s", o->dir, files[i]);
		uint64_t bytes = 0;
		int have = regular_size(path, &bytes) == 0;
		free(path);
		if (have)
			offsite_put(o, files[i], bytes, NULL, NULL, NULL);
	}
	offsite_wait(o);
	for (size_t k = 0; k < o->nt; k++)
		if (o->t[k].begun && o->t[k].failure == NULL)
			target_commit(&o->t[k], marker, prune, versions);
}

int offsite_outcome(const struct offsite *o, const char **why)
{
	*why = NULL;
	if (o == NULL)
		return OMA_OFFSITE_NONE;
	for (size_t k = 0; k < o->nt; k++) {
		if (o->t[k].failure != NULL) {
			*why = o->t[k].failure;
			return OMA_OFFSITE_FAILED;
		}
		if (!o->t[k].completed) {
			*why = "the backup folder was not completed";
			return OMA_OFFSITE_FAILED;
		}
	}
	return OMA_OFFSITE_COPIED;
}

void offsite_stop(struct offsite *o)
{
	if (o == NULL || o->stopped)
		return;
	pthread_mutex_lock(&o->mu);
	o->stop = 1;
	pthread_cond_broadcast(&o->work);
	pthread_mutex_unlock(&o->mu);
	for (size_t k = 0; k < o->nt; k++) {
		struct target *t = &o->t[k];
		/* The lead first: it starts the others before it works. */
		if (t->nthreads > 0)
			pthread_join(t->tids[0], NULL);
		for (unsigned i = 1; i < t->nthreads; i++)
			pthread_join(t->tids[i], NULL);
		if (t->begun)
			t->ops->end(t->run);
		t->begun = 0;
	}
	o->stopped = 1;
}

void offsite_free(struct offsite *o)
{
	if (o == NULL)
		return;
	offsite_stop(o);
	for (size_t i = 0; i < o->n; i++) {
		struct qfile *f = &o->files[i];
		free(f->name);
		free(f->path);
		free(f->sha256);
		free(f->db);
		free(f->reused_from);
		for (size_t k = 0; k < o->nt; k++)
			free(o->res[i * o->nt + k].why);
	}
	for (size_t k = 0; k < o->nt; k++)
		free(o->t[k].failure);
	free(o->files);
	free(o->res);
	free(o->t);
	free(o->dir);
	free(o->name);
	pthread_cond_destroy(&o->work);
	pthread_cond_destroy(&o->idle);
	pthread_mutex_destroy(&o->mu);
	free(o);
}
