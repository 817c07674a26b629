/* gzip.c - compress plugin "gzip": streams a dump through zlib into a .sql.gz file. */
/*
 * One thread (params->threads == 1): one deflate stream on the calling
 * thread, exactly what gzip(1) writes.
 *
 * Several threads: the input is cut into blocks of GZ_BLOCK bytes that
 * worker threads deflate independently, each primed with the 32 KiB of input
 * before it (so matches still reach back across block ends) and ended with a
 * sync flush (a byte-aligned empty stored block), the last one with the final
 * block bit.  Joined in order they form ONE raw deflate stream; with a gzip
 * header and a trailer carrying the crc32 (per-block checksums combined with
 * crc32_combine) and the length, it is one ordinary gzip member that gunzip,
 * zcat and `gzip -t` read.  Whichever worker completes the oldest pending
 * block writes it and every completed block after it, so output stays in
 * order without a writer thread.  Memory is fixed once the workers start:
 * 2 * threads + 1 block slots (input with its dictionary, and output), and
 * one deflate state per worker; nothing grows with the size of the input.
 * Streams shorter than one block never start a thread.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <oma/plugin.h>

#define GZ_MIN_LEVEL 1
#define GZ_MAX_LEVEL 9
#define GZ_DEFAULT_LEVEL 6
#define GZ_OUT_SIZE (128 * 1024)
#define GZ_WINDOW_BITS (15 + 16) /* 32 KiB window, gzip header and trailer */
#define GZ_MEM_LEVEL 8

#define GZ_BLOCK (256 * 1024)  /* input bytes per block when threaded */
#define GZ_DICT (32 * 1024)    /* input before a block that primes its window */
#define GZ_MAX_THREADS 64
#define GZ_HEADER_SIZE 10
#define GZ_TRAILER_SIZE 8

static void gz_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void gz_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Write all of buf to fd, retrying short writes and EINTR.  Returns -1 with
 * err set when the write fails. */
static int gz_write_fd(int fd, const unsigned char *p, size_t len, char *err, size_t errlen)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			gz_err(err, errlen, "gzip: write to fd %d: %s", fd, strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- one thread: a single deflate stream -------------------------------- */

struct gz_stream {
	int threaded; /* 0: this struct; 1: struct gz_par (same first member) */
	z_stream zs;
	int fd;
	int failed; /* a write to fd failed; nothing more is written */
	unsigned char out[GZ_OUT_SIZE];
};

/* Write the compressed bytes gathered in s->out to the fd and empty the
 * buffer.  Returns -1 with err set when the write fails. */
static int gz_flush_out(struct gz_stream *s, char *err, size_t errlen)
{
	if (gz_write_fd(s->fd, s->out, GZ_OUT_SIZE - s->zs.avail_out, err, errlen) != 0) {
		s->failed = 1;
		return -1;
	}
	s->zs.next_out = s->out;
	s->zs.avail_out = GZ_OUT_SIZE;
	return 0;
}

/* Run deflate with `flush` over the pending input, writing out every full
 * buffer; with Z_FINISH, until the trailer is in the buffer.  Returns -1
 * with err set on a write or zlib failure. */
static int gz_deflate(struct gz_stream *s, int flush, char *err, size_t errlen)
{
	for (;;) {
		int zrc = deflate(&s->zs, flush);
		if (zrc == Z_STREAM_ERROR) {
			gz_err(err, errlen, "gzip: deflate failed: %s",
			       s->zs.msg != NULL ? s->zs.msg : "stream error");
			s->failed = 1;
			return -1;
		}
		if (s->zs.avail_out == 0) {
			if (gz_flush_out(s, err, errlen) != 0)
				return -1;
			continue;
		}
		/* Room left in the buffer: deflate took all input, and with
		 * Z_FINISH it must have written the trailer. */
		if (flush != Z_FINISH || zrc == Z_STREAM_END)
			return 0;
		gz_err(err, errlen, "gzip: deflate did not finish the stream (zlib code %d)", zrc);
		s->failed = 1;
		return -1;
	}
}

/* Start a single-stream compressor.  Returns -1 with err set when zlib has
 * no memory. */
static int gz_open_single(void **stream, int fd, int level, char *err, size_t errlen)
{
	struct gz_stream *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		gz_err(err, errlen, "gzip: out of memory");
		return -1;
	}
	int zrc = deflateInit2(&s->zs, level, Z_DEFLATED, GZ_WINDOW_BITS, GZ_MEM_LEVEL,
	                       Z_DEFAULT_STRATEGY);
	if (zrc != Z_OK) {
		gz_err(err, errlen, "gzip: cannot start stream: %s",
		       zrc == Z_MEM_ERROR ? "out of memory" : "zlib error");
		free(s);
		return -1;
	}
	s->fd = fd;
	s->zs.next_out = s->out;
	s->zs.avail_out = GZ_OUT_SIZE;
	*stream = s;
	return 0;
}

static int gz_write_single(struct gz_stream *s, const void *buf, size_t len, char *err,
                           size_t errlen)
{
	if (s->failed) {
		gz_err(err, errlen, "gzip: stream failed earlier");
		return -1;
	}
	const unsigned char *p = buf;
	while (len > 0) {
		uInt chunk = len > UINT_MAX ? UINT_MAX : (uInt)len;
		s->zs.next_in = (unsigned char *)(uintptr_t)p; /* zlib does not write input */
		s->zs.avail_in = chunk;
		if (gz_deflate(s, Z_NO_FLUSH, err, errlen) != 0)
			return -1;
		p += chunk;
		len -= chunk;
	}
	return 0;
}

static void gz_free_single(struct gz_stream *s)
{
	(void)deflateEnd(&s->zs);
	free(s);
}

static int gz_finish_single(struct gz_stream *s, char *err, size_t errlen)
{
	int rc = -1;
	if (s->failed) {
		gz_err(err, errlen, "gzip: stream failed earlier");
		goto out;
	}
	s->zs.next_in = NULL;
	s->zs.avail_in = 0;
	if (gz_deflate(s, Z_FINISH, err, errlen) != 0)
		goto out;
	if (gz_flush_out(s, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	gz_free_single(s);
	return rc;
}

/* ---- several threads: independently deflated blocks, one member -------- */

/* One block of input and its compressed form.  Slot i holds the blocks
 * i, i + nslots, i + 2 * nslots ... in turn. */
struct gz_block {
	unsigned char *in;  /* GZ_DICT + GZ_BLOCK bytes: dictionary, then input */
	size_t dict;        /* bytes of dictionary at the start of in */
	size_t len;         /* bytes of input after the dictionary */
	unsigned char *out; /* out_cap bytes; out_len of them compressed */
	size_t out_cap, out_len;
	uLong crc;          /* crc32 of the input (without the dictionary) */
	int last;           /* ends the deflate stream (Z_FINISH) */
	int done;           /* compressed, not yet written */
};

struct gz_par;

struct gz_worker {
	struct gz_par *s;
	z_stream zs; /* raw deflate, reset for every block */
	pthread_t tid;
	int started;
};

struct gz_par {
	int threaded; /* 1 */
	int fd;
	int level;
	int nthreads;       /* workers to start */
	size_t nslots;
	struct gz_block *slots;     /* nslots; only slot 0 until the workers start */
	struct gz_worker *workers;  /* nthreads, once started */
	struct gz_block *cur;       /* slot being filled by the caller, or NULL */
	int running;                /* workers were started */

	pthread_mutex_t mu;
	pthread_cond_t work;        /* a block was queued, or stop */
	pthread_cond_t room;        /* a block was written, or failed */
	uint64_t queued;            /* blocks handed to the workers */
	uint64_t taken;             /* blocks a worker has started on */
	uint64_t written;           /* blocks written to fd */
	int writing;                /* a thread is writing blocks out */
	int stop;                   /* workers end; nothing more is written */
	int failed;                 /* a write or deflate failed; err says why */
	char err[256];

	/* Owned by the writing thread (and by finish once all is written). */
	uLong crc;                  /* crc32 of the input written so far */
	uint64_t total;             /* bytes of input written so far */
};

static struct gz_block *gz_slot(struct gz_par *s, uint64_t seq)
{
	return &s->slots[seq % s->nslots];
}

/* Allocate the buffers of one slot.  Returns -1 when out of memory. */
static int gz_block_alloc(struct gz_block *b)
{
	b->in = malloc(GZ_DICT + GZ_BLOCK);
	/* Raw deflate of a full block never exceeds this (deflateBound's
	 * formula), plus the sync flush marker; gz_block_deflate grows the
	 * buffer should zlib ever need more. */
	b->out_cap = GZ_BLOCK + (GZ_BLOCK >> 12) + (GZ_BLOCK >> 14) + (GZ_BLOCK >> 25) + 64;
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

/* Start a raw deflate stream for blocks.  Returns -1 with err set when zlib
 * has no memory. */
static int gz_raw_init(z_stream *zs, int level, char *err, size_t errlen)
{
	memset(zs, 0, sizeof(*zs));
	int zrc = deflateInit2(zs, level, Z_DEFLATED, -15, GZ_MEM_LEVEL, Z_DEFAULT_STRATEGY);
	if (zrc == Z_OK)
		return 0;
	gz_err(err, errlen, "gzip: cannot start stream: %s",
	       zrc == Z_MEM_ERROR ? "out of memory" : "zlib error");
	return -1;
}

/* Deflate one block with its dictionary into b->out (ending with a sync
 * flush, or the final block when b->last) and compute its crc32.  Returns -1
 * with err set on a zlib failure or when no memory is left for output. */
static int gz_block_deflate(z_stream *zs, struct gz_block *b, char *err, size_t errlen)
{
	int flush = b->last ? Z_FINISH : Z_SYNC_FLUSH;
	int zrc = deflateReset(zs);
	if (zrc == Z_OK && b->dict > 0)
		zrc = deflateSetDictionary(zs, b->in, (uInt)b->dict);
	if (zrc != Z_OK) {
		gz_err(err, errlen, "gzip: cannot start block (zlib code %d)", zrc);
		return -1;
	}
	zs->next_in = b->in + b->dict;
	zs->avail_in = (uInt)b->len;
	zs->next_out = b->out;
	zs->avail_out = (uInt)b->out_cap;
	for (;;) {
		zrc = deflate(zs, flush);
		if (zrc == Z_STREAM_ERROR) {
			gz_err(err, errlen, "gzip: deflate failed: %s",
			       zs->msg != NULL ? zs->msg : "stream error");
			return -1;
		}
		if (zs->avail_out > 0 && (flush != Z_FINISH || zrc == Z_STREAM_END))
			break;
		if (zs->avail_out > 0) {
			gz_err(err, errlen, "gzip: deflate did not finish the block (zlib code %d)", zrc);
			return -1;
		}
		/* Out of room (not expected): grow the buffer and go on. */
		size_t used = b->out_cap;
		unsigned char *bigger = realloc(b->out, used * 2);
		if (bigger == NULL) {
			gz_err(err, errlen, "gzip: out of memory");
			return -1;
		}
		b->out = bigger;
		b->out_cap = used * 2;
		zs->next_out = b->out + used;
		zs->avail_out = (uInt)(b->out_cap - used);
	}
	b->out_len = b->out_cap - zs->avail_out;
	b->crc = crc32(0L, b->in + b->dict, (uInt)b->len);
	return 0;
}

/* The gzip header that zlib writes for `level` (no name, no time, OS Unix). */
static void gz_put_header(unsigned char h[GZ_HEADER_SIZE], int level)
{
	static const unsigned char fixed[GZ_HEADER_SIZE] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
	memcpy(h, fixed, GZ_HEADER_SIZE);
	h[8] = level == 9 ? 2 : level < 2 ? 4 : 0;
}

/* Write block `seq` (with the header before block 0) and fold its crc32
 * and length into the stream's.  Called by the writing thread without the
 * lock.  Returns -1 with err set when the write fails. */
static int gz_emit(struct gz_par *s, uint64_t seq, struct gz_block *b, char *err, size_t errlen)
{
	if (seq == 0) {
		unsigned char h[GZ_HEADER_SIZE];
		gz_put_header(h, s->level);
		if (gz_write_fd(s->fd, h, sizeof(h), err, errlen) != 0)
			return -1;
	}
	if (gz_write_fd(s->fd, b->out, b->out_len, err, errlen) != 0)
		return -1;
	s->crc = crc32_combine(s->crc, b->crc, (z_off_t)b->len);
	s->total += b->len;
	return 0;
}

/* Record the first failure and wake everybody waiting.  Lock held. */
static void gz_fail(struct gz_par *s, const char *why)
{
	if (!s->failed) {
		s->failed = 1;
		(void)snprintf(s->err, sizeof(s->err), "%s", why);
	}
	pthread_cond_broadcast(&s->room);
}

/* Write out, in order, every compressed block that is next in line, unless
 * another thread is doing so already.  Lock held (dropped while writing). */
static void gz_drain(struct gz_par *s)
{
	if (s->writing)
		return;
	s->writing = 1;
	while (!s->failed && !s->stop && s->written < s->queued && gz_slot(s, s->written)->done) {
		uint64_t seq = s->written;
		struct gz_block *b = gz_slot(s, seq);
		char err[256] = "";
		pthread_mutex_unlock(&s->mu);
		int rc = gz_emit(s, seq, b, err, sizeof(err));
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

/* A worker: take the oldest queued block, deflate it, write out what is in
 * line.  Ends when the stream stops. */
static void *gz_work(void *arg)
{
	struct gz_worker *w = arg;
	struct gz_par *s = w->s;
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
		int rc = skip ? 0 : gz_block_deflate(&w->zs, b, err, sizeof(err));
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
static void gz_stop_workers(struct gz_par *s)
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
		(void)deflateEnd(&s->workers[i].zs);
	free(s->workers);
	s->workers = NULL;
	s->running = 0;
}

static void gz_free_par(struct gz_par *s)
{
	if (s == NULL)
		return;
	gz_stop_workers(s);
	for (size_t i = 0; i < s->nslots; i++)
		gz_block_free(&s->slots[i]);
	free(s->slots);
	pthread_cond_destroy(&s->room);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Allocate the remaining slots and deflate states and start the workers
 * (with every signal blocked: signals belong to the core's threads).
 * Returns -1 with err set when memory or threads run out. */
static int gz_start_workers(struct gz_par *s, char *err, size_t errlen)
{
	for (size_t i = 1; i < s->nslots; i++) {
		if (gz_block_alloc(&s->slots[i]) != 0) {
			gz_err(err, errlen, "gzip: out of memory");
			return -1;
		}
	}
	s->workers = calloc((size_t)s->nthreads, sizeof(*s->workers));
	if (s->workers == NULL) {
		gz_err(err, errlen, "gzip: out of memory");
		return -1;
	}
	for (int i = 0; i < s->nthreads; i++) {
		s->workers[i].s = s;
		if (gz_raw_init(&s->workers[i].zs, s->level, err, errlen) != 0) {
			for (int k = 0; k < i; k++)
				(void)deflateEnd(&s->workers[k].zs);
			free(s->workers);
			s->workers = NULL;
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
		gz_err(err, errlen, "gzip: cannot start a worker thread: %s", strerror(e));
		return -1;
	}
	return 0;
}

/* Start a threaded compressor; only the first slot is allocated now.
 * Returns -1 with err set when out of memory. */
static int gz_open_par(void **stream, int fd, int level, int threads, char *err, size_t errlen)
{
	struct gz_par *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		gz_err(err, errlen, "gzip: out of memory");
		return -1;
	}
	s->threaded = 1;
	s->fd = fd;
	s->level = level;
	s->nthreads = threads > GZ_MAX_THREADS ? GZ_MAX_THREADS : threads;
	s->nslots = 2 * (size_t)s->nthreads + 1;
	s->crc = crc32(0L, Z_NULL, 0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->room, NULL);
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (s->slots == NULL || gz_block_alloc(&s->slots[0]) != 0) {
		gz_err(err, errlen, "gzip: out of memory");
		gz_free_par(s);
		return -1;
	}
	s->cur = &s->slots[0];
	*stream = s;
	return 0;
}

/* Copy the failure into err.  Lock held. */
static int gz_failed(struct gz_par *s, char *err, size_t errlen)
{
	gz_err(err, errlen, "%s", s->err);
	return -1;
}

/* Hand the filled current block to the workers (starting them the first
 * time) and wait for a free slot to go on with, primed with the last
 * GZ_DICT bytes of input.  With `last`, nothing follows.  Returns -1 with
 * err set when a worker failed or the workers cannot start. */
static int gz_queue(struct gz_par *s, int last, char *err, size_t errlen)
{
	if (!s->running && gz_start_workers(s, err, errlen) != 0) {
		pthread_mutex_lock(&s->mu);
		gz_fail(s, err);
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	struct gz_block *prev = s->cur;
	prev->last = last;
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
	/* prev stays intact until it is written, which needs this slot's
	 * block to be queued first: reading its tail here is safe. */
	struct gz_block *b = gz_slot(s, seq + 1);
	size_t have = prev->dict + prev->len;
	b->dict = have < GZ_DICT ? have : GZ_DICT;
	memcpy(b->in, prev->in + have - b->dict, b->dict);
	b->len = 0;
	b->last = 0;
	s->cur = b;
	return 0;
}

static int gz_write_par(struct gz_par *s, const void *buf, size_t len, char *err, size_t errlen)
{
	pthread_mutex_lock(&s->mu);
	int failed = s->failed;
	if (failed)
		(void)gz_failed(s, err, errlen);
	pthread_mutex_unlock(&s->mu);
	if (failed || s->cur == NULL) {
		if (!failed)
			gz_err(err, errlen, "gzip: stream failed earlier");
		return -1;
	}
	const unsigned char *p = buf;
	while (len > 0) {
		struct gz_block *b = s->cur;
		size_t n = GZ_BLOCK - b->len;
		if (n > len)
			n = len;
		memcpy(b->in + b->dict + b->len, p, n);
		b->len += n;
		p += n;
		len -= n;
		if (b->len == GZ_BLOCK && gz_queue(s, 0, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* Write the whole stream on the calling thread: it never reached a second
 * block.  Returns -1 with err set on a zlib or write failure. */
static int gz_finish_inline(struct gz_par *s, char *err, size_t errlen)
{
	z_stream zs;
	if (gz_raw_init(&zs, s->level, err, errlen) != 0)
		return -1;
	struct gz_block *b = s->cur;
	b->last = 1;
	int rc = gz_block_deflate(&zs, b, err, errlen);
	(void)deflateEnd(&zs);
	if (rc == 0)
		rc = gz_emit(s, 0, b, err, errlen);
	return rc;
}

/* The gzip trailer: crc32 and length modulo 2^32, little-endian. */
static int gz_trailer(struct gz_par *s, char *err, size_t errlen)
{
	unsigned char t[GZ_TRAILER_SIZE];
	for (int i = 0; i < 4; i++) {
		t[i] = (unsigned char)(s->crc >> (8 * i));
		t[4 + i] = (unsigned char)(s->total >> (8 * i));
	}
	return gz_write_fd(s->fd, t, sizeof(t), err, errlen);
}

static int gz_finish_par(struct gz_par *s, char *err, size_t errlen)
{
	int rc = -1;
	pthread_mutex_lock(&s->mu);
	int failed = s->failed;
	if (failed)
		(void)gz_failed(s, err, errlen);
	pthread_mutex_unlock(&s->mu);
	if (failed)
		goto out;
	if (s->cur == NULL) {
		gz_err(err, errlen, "gzip: stream failed earlier");
		goto out;
	}
	if (!s->running) {
		if (gz_finish_inline(s, err, errlen) != 0)
			goto out;
	} else {
		if (gz_queue(s, 1, err, errlen) != 0)
			goto out;
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
	rc = gz_trailer(s, err, errlen);
out:
	gz_free_par(s);
	return rc;
}

/* ---- the plugin --------------------------------------------------------- */

/* Start a stream at the requested level (default 6): single-stream with one
 * thread, blocks on params->threads workers otherwise.  Returns -1 with err
 * set on a bad level or fd, or when out of memory. */
static int gz_open(void **stream, int fd, const struct oma_compress_params *p, char *err,
                   size_t errlen)
{
	int level = GZ_DEFAULT_LEVEL;
	int threads = 1;
	if (p != NULL && p->size >= offsetof(struct oma_compress_params, level) + sizeof(p->level) &&
	    p->level >= 0)
		level = p->level;
	if (p != NULL &&
	    p->size >= offsetof(struct oma_compress_params, threads) + sizeof(p->threads) &&
	    p->threads > 1)
		threads = p->threads;
	if (level < GZ_MIN_LEVEL || level > GZ_MAX_LEVEL) {
		gz_err(err, errlen, "gzip: compression level %d out of range %d..%d", level,
		       GZ_MIN_LEVEL, GZ_MAX_LEVEL);
		return -1;
	}
	if (fd < 0) {
		gz_err(err, errlen, "gzip: invalid file descriptor %d", fd);
		return -1;
	}
	if (threads > 1)
		return gz_open_par(stream, fd, level, threads, err, errlen);
	return gz_open_single(stream, fd, level, err, errlen);
}

static int gz_write(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
	if (*(int *)stream)
		return gz_write_par(stream, buf, len, err, errlen);
	return gz_write_single(stream, buf, len, err, errlen);
}

static int gz_finish(void *stream, char *err, size_t errlen)
{
	if (*(int *)stream)
		return gz_finish_par(stream, err, errlen);
	return gz_finish_single(stream, err, errlen);
}

static void gz_abort(void *stream)
{
	if (*(int *)stream)
		gz_free_par(stream);
	else
		gz_free_single(stream);
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
};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_COMPRESS, .name = "gzip", .version = "1.1 (zlib)",
                  .compress = &gz_ops);
