/* gzip.c - compress plugin "gzip": compresses a dump with libdeflate into a .sql.gz file. */
/*
 * The input is cut into blocks of GZ_BLOCK bytes and every block becomes
 * one complete gzip member (libdeflate_gzip_compress: header, deflate data,
 * crc32 and length).  A gzip file may hold any number of members, which
 * decompress to their concatenation (RFC 1952, 2.2): gunzip, zcat,
 * `gzip -t`, pigz and Python's gzip module read the file whole.
 *
 * Why libdeflate and not zlib: at the same level it compresses SQL dumps
 * about twice as fast and a few percent smaller.  It has no streaming
 * interface, which blocks do not need.  A member starts with an empty
 * window, so a smaller block would cost ratio.  The figures:
 * docs/PERFORMANCE.md "gzip plugin: libdeflate, 1 MiB members, at most 8
 * threads".
 *
 * One thread (params->threads == 1): each block is compressed on the
 * calling thread as soon as it is full; one block of input and one of
 * output, plus the compressor's state.
 *
 * Several threads: workers compress the blocks; whichever completes the
 * oldest pending block writes it and every completed block after it, so
 * the output stays in order without a writer thread.  Memory is fixed once
 * the workers start: 2 * threads + 1 block slots (input and output) and
 * one compressor per worker, whatever the size of the input (sizes in
 * docs/PERFORMANCE.md "Memory").  A stream shorter than one block never
 * starts a thread.
 *
 * Empty input still gives a valid file: one empty member.
 */
#include <libdeflate.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oma/plugin.h>

#include "gunzip.h"

#include "common/compress.h"
#include "common/errbuf.h"

#define GZ_MIN_LEVEL     1
#define GZ_MAX_LEVEL     9
#define GZ_DEFAULT_LEVEL 6
#define GZ_BLOCK         (1024 * 1024) /* input bytes per member */
/* More workers than one mysqldump can keep busy would only wait, and each
 * one costs two slots: 8 is above what one mysqldump feeds at level 6
 * (docs/PERFORMANCE.md "gzip plugin: libdeflate, 1 MiB members, at most 8
 * threads"). */
#define GZ_MAX_THREADS   8

static const struct cm_levels gz_levels = {.name = "gzip",
                                           .def = GZ_DEFAULT_LEVEL,
                                           .min = GZ_MIN_LEVEL,
                                           .max = GZ_MAX_LEVEL};

/* ---- blocks ------------------------------------------------------------- */

/* One block of input and its member.  Slot i holds the blocks i, i +
 * nslots, i + 2 * nslots ... in turn. */
struct gz_block {
	unsigned char *in; /* GZ_BLOCK bytes; len of them filled */
	size_t len;
	unsigned char *out; /* out_cap bytes; out_len of them hold the member */
	size_t out_cap, out_len;
	int done; /* compressed, not yet written */
};

/* Allocate the buffers of one slot.  Returns -1 when out of memory. */
static int gz_block_alloc(struct gz_block *b)
{
	b->in = malloc(GZ_BLOCK);
	/* The bound of any compressor: a member always fits. */
	b->out_cap = libdeflate_gzip_compress_bound(NULL, GZ_BLOCK);
	b->out = malloc(b->out_cap);
	if (b->in == NULL || b->out == NULL) {
		free(b->in);
		free(b->out);
		b->in = b->out = NULL;
		return -1;
	}
	return 0;
}

static void gz_block_free(struct gz_block *b)
{
	free(b->in);
	free(b->out);
	b->in = b->out = NULL;
}

/* Compress a block into one member.  Returns -1 with err set when
 * libdeflate gives up (it cannot within the bound; checked anyway). */
static int gz_block_compress(struct libdeflate_compressor *c, struct gz_block *b, char *err,
                             size_t errlen)
{
	b->out_len = libdeflate_gzip_compress(c, b->in, b->len, b->out, b->out_cap);
	if (b->out_len == 0) {
		cm_errf(err, errlen, "gzip: compressing a block of %zu bytes failed", b->len);
		return -1;
	}
	return 0;
}

/* ---- the stream --------------------------------------------------------- */

struct gz_stream;

struct gz_worker {
	struct gz_stream *s;
	struct libdeflate_compressor *c;
	pthread_t tid;
	int started;
};

struct gz_stream {
	struct cm_out out;
	int level;
	int nthreads; /* 1: no workers; else workers to start */
	size_t nslots;
	struct gz_block *slots;          /* nslots; only slot 0 until the workers start */
	struct gz_worker *workers;       /* nthreads, once started */
	struct gz_block *cur;            /* slot being filled by the caller, or NULL */
	struct libdeflate_compressor *c; /* the calling thread's */
	int running;                     /* workers were started */

	pthread_mutex_t mu;
	pthread_cond_t work; /* a block was queued, or stop */
	pthread_cond_t room; /* a block was written, or failed */
	uint64_t queued;     /* blocks handed over (to the workers or inline) */
	uint64_t taken;      /* blocks a worker has started on */
	uint64_t written;    /* blocks written to fd */
	int writing;         /* a thread is writing blocks out */
	int stop;            /* workers end; nothing more is written */
	int failed;          /* a write or compression failed; err says why */
	char err[256];
};

static struct gz_block *gz_slot(struct gz_stream *s, uint64_t seq)
{
	return &s->slots[seq % s->nslots];
}

/* Record the first failure and wake everybody waiting.  Lock held. */
static void gz_fail(struct gz_stream *s, const char *why)
{
	if (!s->failed) {
		s->failed = 1;
		(void)snprintf(s->err, sizeof(s->err), "%s", why);
	}
	pthread_cond_broadcast(&s->room);
}

/* Copy the failure into err.  Lock held. */
static int gz_failed(struct gz_stream *s, char *err, size_t errlen)
{
	cm_errf(err, errlen, "%s", s->err);
	return -1;
}

/* Write out, in order, every compressed block that is next in line, unless
 * another thread is doing so already.  Lock held (dropped while writing). */
static void gz_drain(struct gz_stream *s)
{
	if (s->writing)
		return;
	s->writing = 1;
	while (!s->failed && !s->stop && s->written < s->queued && gz_slot(s, s->written)->done) {
		struct gz_block *b = gz_slot(s, s->written);
		char err[256] = "";
		pthread_mutex_unlock(&s->mu);
		int rc = cm_out_write(&s->out, b->out, b->out_len, "gzip", err, sizeof(err));
		pthread_mutex_lock(&s->mu);
		if (rc != 0) {
			gz_fail(s, err);
			break;
		}
		b->done = 0;
		s->written++;
		pthread_cond_broadcast(&s->room);
	}
	s->writing = 0;
}

/* A worker: take the oldest queued block, compress it, write out what is
 * in line.  Ends when the stream stops. */
static void *gz_work(void *arg)
{
	struct gz_worker *w = arg;
	struct gz_stream *s = w->s;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && s->taken == s->queued)
			pthread_cond_wait(&s->work, &s->mu);
		if (s->stop)
			break;
		struct gz_block *b = gz_slot(s, s->taken++);
		int skip = s->failed;
		pthread_mutex_unlock(&s->mu);
		char err[256] = "";
		int rc = skip ? 0 : gz_block_compress(w->c, b, err, sizeof(err));
		pthread_mutex_lock(&s->mu);
		if (rc != 0) {
			gz_fail(s, err);
			continue;
		}
		b->done = 1;
		gz_drain(s);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Stop and join the workers; whatever they hold is dropped. */
static void gz_stop_workers(struct gz_stream *s)
{
	if (s->workers == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nthreads; i++)
		if (s->workers[i].started)
			pthread_join(s->workers[i].tid, NULL);
	for (int i = 0; i < s->nthreads; i++)
		libdeflate_free_compressor(s->workers[i].c);
	free(s->workers);
	s->workers = NULL;
	s->running = 0;
}

static void gz_free(struct gz_stream *s)
{
	if (s == NULL)
		return;
	gz_stop_workers(s);
	for (size_t i = 0; i < s->nslots; i++)
		gz_block_free(&s->slots[i]);
	free(s->slots);
	libdeflate_free_compressor(s->c);
	pthread_cond_destroy(&s->room);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Allocate the remaining slots and compressors and start the workers (with
 * every signal blocked: signals belong to the core's threads).  Returns -1
 * with err set when memory or threads run out. */
static int gz_start_workers(struct gz_stream *s, char *err, size_t errlen)
{
	for (size_t i = 1; i < s->nslots; i++) {
		if (gz_block_alloc(&s->slots[i]) != 0) {
			cm_errf(err, errlen, "gzip: out of memory");
			return -1;
		}
	}
	s->workers = calloc((size_t)s->nthreads, sizeof(*s->workers));
	if (s->workers == NULL) {
		cm_errf(err, errlen, "gzip: out of memory");
		return -1;
	}
	/* The caller's compressor goes to the first worker: once the workers
	 * run, the caller compresses nothing. */
	s->workers[0].c = s->c;
	s->c = NULL;
	for (int i = 0; i < s->nthreads; i++) {
		s->workers[i].s = s;
		if (s->workers[i].c == NULL)
			s->workers[i].c = libdeflate_alloc_compressor(s->level);
		if (s->workers[i].c == NULL) {
			cm_errf(err, errlen, "gzip: out of memory");
			return -1;
		}
	}
	s->running = 1;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = 0;
	for (int i = 0; i < s->nthreads && e == 0; i++) {
		e = pthread_create(&s->workers[i].tid, NULL, gz_work, &s->workers[i]);
		s->workers[i].started = e == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		cm_errf(err, errlen, "gzip: cannot start a worker thread: %s", strerror(e));
		return -1;
	}
	return 0;
}

/* Compress the current block on the calling thread and write it.  Returns
 * -1 with err set (and the stream failed) on a failure. */
static int gz_inline(struct gz_stream *s, char *err, size_t errlen)
{
	struct gz_block *b = s->cur;
	if (gz_block_compress(s->c, b, err, errlen) != 0 ||
	    cm_out_write(&s->out, b->out, b->out_len, "gzip", err, errlen) != 0) {
		s->failed = 1;
		(void)snprintf(s->err, sizeof(s->err), "%s", err);
		s->cur = NULL;
		return -1;
	}
	s->queued++;
	s->written++;
	b->len = 0;
	return 0;
}

/* Hand the filled current block over: compress it here with one thread,
 * else queue it for the workers (starting them the first time) and wait
 * for a free slot to go on with.  With `last`, nothing follows.  Returns -1
 * with err set when a worker failed or the workers cannot start. */
static int gz_queue(struct gz_stream *s, int last, char *err, size_t errlen)
{
	if (s->nthreads <= 1)
		return gz_inline(s, err, errlen);
	if (!s->running && gz_start_workers(s, err, errlen) != 0) {
		pthread_mutex_lock(&s->mu);
		gz_fail(s, err);
		pthread_mutex_unlock(&s->mu);
		s->cur = NULL;
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	if (s->failed) {
		int rc = gz_failed(s, err, errlen);
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	uint64_t seq = s->queued++;
	s->cur = NULL;
	pthread_cond_signal(&s->work);
	if (last) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	/* The next block's slot is free once the block nslots before it is out. */
	while (!s->failed && seq + 1 >= s->written + s->nslots)
		pthread_cond_wait(&s->room, &s->mu);
	if (s->failed) {
		int rc = gz_failed(s, err, errlen);
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	pthread_mutex_unlock(&s->mu);
	s->cur = gz_slot(s, seq + 1);
	s->cur->len = 0;
	return 0;
}

/* Start a stream at the requested level (default 6), on params->threads
 * workers when above 1.  Only the first slot is allocated now.  Returns -1
 * with err set on a bad level or fd, or when out of memory. */
static int gz_open(void **stream, int fd, const struct oma_compress_params *p, char *err,
                   size_t errlen)
{
	struct cm_open o;
	if (cm_compress_open(p, fd, &gz_levels, &o, err, errlen) != 0)
		return -1;
	struct gz_stream *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		cm_errf(err, errlen, "gzip: out of memory");
		return -1;
	}
	s->out = o.out;
	s->level = o.level;
	s->nthreads = o.threads > GZ_MAX_THREADS ? GZ_MAX_THREADS : o.threads;
	s->nslots = s->nthreads > 1 ? 2 * (size_t)s->nthreads + 1 : 1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->room, NULL);
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	s->c = libdeflate_alloc_compressor(s->level);
	if (s->slots == NULL || s->c == NULL || gz_block_alloc(&s->slots[0]) != 0) {
		cm_errf(err, errlen, "gzip: out of memory");
		gz_free(s);
		return -1;
	}
	s->cur = &s->slots[0];
	*stream = s;
	return 0;
}

static int gz_write(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
	struct gz_stream *s = stream;
	pthread_mutex_lock(&s->mu);
	int failed = s->failed;
	if (failed)
		(void)gz_failed(s, err, errlen);
	pthread_mutex_unlock(&s->mu);
	if (failed || s->cur == NULL) {
		if (!failed)
			cm_errf(err, errlen, "gzip: stream failed earlier");
		return -1;
	}
	const unsigned char *p = buf;
	while (len > 0) {
		struct gz_block *b = s->cur;
		size_t n = GZ_BLOCK - b->len;
		if (n > len)
			n = len;
		memcpy(b->in + b->len, p, n);
		b->len += n;
		p += n;
		len -= n;
		if (b->len == GZ_BLOCK && gz_queue(s, 0, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static int gz_finish(void *stream, char *err, size_t errlen)
{
	struct gz_stream *s = stream;
	int rc = -1;
	pthread_mutex_lock(&s->mu);
	int failed = s->failed;
	if (failed)
		(void)gz_failed(s, err, errlen);
	pthread_mutex_unlock(&s->mu);
	if (failed)
		goto out;
	if (s->cur == NULL) {
		cm_errf(err, errlen, "gzip: stream failed earlier");
		goto out;
	}
	/* The last, partly filled block; an empty one only when the input was
	 * empty (the file needs one member). */
	if (s->cur->len > 0 || s->queued == 0) {
		if (!s->running) {
			if (gz_inline(s, err, errlen) != 0)
				goto out;
		} else if (gz_queue(s, 1, err, errlen) != 0) {
			goto out;
		}
	}
	if (s->running) {
		pthread_mutex_lock(&s->mu);
		while (!s->failed && s->written < s->queued)
			pthread_cond_wait(&s->room, &s->mu);
		failed = s->failed;
		if (failed)
			(void)gz_failed(s, err, errlen);
		pthread_mutex_unlock(&s->mu);
		if (failed)
			goto out;
	}
	rc = 0;
out:
	gz_free(s);
	return rc;
}

static void gz_abort(void *stream)
{
	gz_free(stream);
}

static const struct oma_compress_ops gz_ops = {
        .suffix = ".sql.gz",
        .default_level = GZ_DEFAULT_LEVEL,
        .min_level = GZ_MIN_LEVEL,
        .max_level = GZ_MAX_LEVEL,
        .open = gz_open,
        .write = gz_write,
        .finish = gz_finish,
        .abort = gz_abort,
        .flags = OMA_COMPRESS_SINK,
        .decompress = &gz_read_ops,
};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_COMPRESS, .name = "gzip",
                  .version = "2.0 (libdeflate " LIBDEFLATE_VERSION_STRING ")", .compress = &gz_ops);
