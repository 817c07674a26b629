/* zstd.c - compress plugin "zstd": streams a dump through libzstd into a .sql.zst file. */
/*
 * Levels 1..19, default 3.  The "ultra" levels 20..22 are refused: their
 * 32..128 MiB windows take hundreds of MiB per stream to compress (times
 * the number of parallel dumps, more with workers), and every restore then
 * needs as much as the window to decompress, for a gain of a few percent
 * over level 19.
 *
 * Memory per stream: single-threaded, all of it is allocated at the first
 * write.  With workers, libzstd cuts the input into jobs, keeps an input
 * ring of (workers + 3) jobs and an output buffer per job in flight; its
 * default job is 4 windows, tens of MiB of heap per stream.  Up to level
 * ZS_SMALL_JOBS_MAX this plugin asks for ZS_JOB_SIZE (1 MiB) jobs instead:
 * a fraction of that memory, a file no larger (jobs still see the previous
 * window/8 of input), and a compressor still faster than one mysqldump
 * delivers.  Above level 12 the jobs overlap by half or all of a much
 * larger window, so small jobs would repeat most of the work and libzstd's
 * default is kept.  None of it grows with the size of the input.  The
 * figures: docs/PERFORMANCE.md "zstd plugin: no ultra levels, 1 MiB jobs
 * up to level 12" and "Memory".
 *
 * Frames carry a checksum (so `zstd -t` verifies them) and never a content
 * size (the size of a dump is not known in advance).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include <oma/plugin.h>

#include "unzstd.h"

#include "common/compress.h"
#include "common/errbuf.h"

#define ZS_MIN_LEVEL      1
#define ZS_MAX_LEVEL      19
#define ZS_DEFAULT_LEVEL  3
/* Job size with workers up to level ZS_SMALL_JOBS_MAX (see above). */
#define ZS_JOB_SIZE       (1024 * 1024)
#define ZS_SMALL_JOBS_MAX 12
/* ZSTD_compressStream2() and the ZSTD_c_* parameters are stable since 1.4.0. */
#define ZS_MIN_VERSION    10400

static const struct cm_levels zs_levels = {.name = "zstd",
                                           .def = ZS_DEFAULT_LEVEL,
                                           .min = ZS_MIN_LEVEL,
                                           .max = ZS_MAX_LEVEL};

struct zs_stream {
	ZSTD_CCtx *cctx;
	struct cm_out dst; /* the core's sink (oma 0.2), or the fd */
	int failed;        /* a write to fd or libzstd failed; nothing more is written */
	int workers;       /* the context has worker threads: never pooled */
	ZSTD_outBuffer out;
	unsigned char buf[]; /* out.size bytes (ZSTD_CStreamOutSize()) */
};

/* The host table from init(); NULL when the plugin was not initialised. */
static const struct oma_host *zs_host;

/* Finished streams, kept for the next ones: a new context allocates its
 * workspace and faults its pages in, which with hundreds of small
 * databases costs more than compressing them; a reset one keeps its memory
 * and libzstd need not clear its tables (the output buffer is kept too).
 * At most ZS_POOL_MAX idle ones (no more than the dumps that ran at once),
 * freed by fini().  Only streams without workers are kept: no idle thread
 * outlives its stream. */
#define ZS_POOL_MAX 8
static pthread_mutex_t zs_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zs_stream *zs_pool[ZS_POOL_MAX];
static int zs_pooled;
static int zs_pool_closed; /* after fini(): nothing is kept any more */

static void zs_destroy(struct zs_stream *s)
{
	if (s == NULL)
		return;
	ZSTD_freeCCtx(s->cctx);
	free(s);
}

/* An idle stream with its context reset to libzstd's defaults, or a new
 * one (NULL: no memory).  Everything but the context is zeroed. */
static struct zs_stream *zs_take(size_t out_size)
{
	struct zs_stream *s = NULL;
	pthread_mutex_lock(&zs_pool_lock);
	if (zs_pooled > 0)
		s = zs_pool[--zs_pooled];
	pthread_mutex_unlock(&zs_pool_lock);
	if (s != NULL &&
	    !ZSTD_isError(ZSTD_CCtx_reset(s->cctx, ZSTD_reset_session_and_parameters))) {
		ZSTD_CCtx *c = s->cctx;
		memset(s, 0, sizeof(*s));
		s->cctx = c;
		return s;
	}
	zs_destroy(s);
	s = calloc(1, sizeof(*s) + out_size);
	if (s == NULL)
		return NULL;
	s->cctx = ZSTD_createCCtx();
	if (s->cctx == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

/* Keep a stream for later, or free it when the pool is full. */
static void zs_give(struct zs_stream *s)
{
	pthread_mutex_lock(&zs_pool_lock);
	if (!zs_pool_closed && zs_pooled < ZS_POOL_MAX) {
		zs_pool[zs_pooled++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&zs_pool_lock);
	zs_destroy(s);
}

/* Check the libzstd loaded at run time and keep the host table for
 * logging.  Returns -1 with err set when libzstd is older than 1.4.0. */
static int zs_init(const struct oma_host *host, char *err, size_t errlen)
{
	unsigned version = ZSTD_versionNumber();
	if (version < ZS_MIN_VERSION) {
		cm_errf(err, errlen, "zstd: libzstd %s is too old (need 1.4.0 or later)",
		        ZSTD_versionString());
		return -1;
	}
	pthread_mutex_lock(&zs_pool_lock);
	zs_pool_closed = 0;
	pthread_mutex_unlock(&zs_pool_lock);
	if (host != NULL && host->size >= offsetof(struct oma_host, log) + sizeof(host->log) &&
	    host->log != NULL)
		zs_host = host;
	else
		zs_host = NULL;
	return 0;
}

static void zs_fini(void)
{
	pthread_mutex_lock(&zs_pool_lock);
	while (zs_pooled > 0)
		zs_destroy(zs_pool[--zs_pooled]);
	zs_pool_closed = 1;
	pthread_mutex_unlock(&zs_pool_lock);
	zs_host = NULL;
}

/* Hand the compressed bytes gathered in s->buf to the sink or the fd and
 * empty the buffer.  Returns -1 with err set when the write fails. */
static int zs_flush_out(struct zs_stream *s, char *err, size_t errlen)
{
	if (cm_out_write(&s->dst, s->buf, s->out.pos, "zstd", err, errlen) != 0) {
		s->failed = 1;
		return -1;
	}
	s->out.pos = 0;
	return 0;
}

/* Feed `in` to libzstd with `op`, writing out every full buffer: with
 * ZSTD_e_continue until all input is taken, with ZSTD_e_end until the
 * frame (epilogue and checksum included) is in the buffer.  Returns -1
 * with err set on a write or libzstd failure. */
static int zs_compress(struct zs_stream *s, ZSTD_inBuffer *in, ZSTD_EndDirective op, char *err,
                       size_t errlen)
{
	for (;;) {
		size_t left = ZSTD_compressStream2(s->cctx, &s->out, in, op);
		if (ZSTD_isError(left)) {
			s->failed = 1;
			cm_errf(err, errlen, "zstd: compression failed: %s",
			        ZSTD_getErrorName(left));
			return -1;
		}
		if (s->out.pos == s->out.size) {
			if (zs_flush_out(s, err, errlen) != 0)
				return -1;
			continue;
		}
		/* Room left in the buffer: libzstd stopped for lack of input
		 * or, with ZSTD_e_end, because the frame is complete. */
		if (op == ZSTD_e_end ? left == 0 : in->pos == in->size)
			return 0;
	}
}

/* Set one compression parameter.  Returns -1 with err set when libzstd
 * refuses it. */
static int zs_param(ZSTD_CCtx *cctx, ZSTD_cParameter param, int value, const char *what, char *err,
                    size_t errlen)
{
	size_t rc = ZSTD_CCtx_setParameter(cctx, param, value);
	if (!ZSTD_isError(rc))
		return 0;
	cm_errf(err, errlen, "zstd: cannot set %s to %d: %s", what, value, ZSTD_getErrorName(rc));
	return -1;
}

/* End a stream; `reuse`: its context is in a clean state (the frame was
 * finished without error) and may serve another stream. */
static void zs_free(struct zs_stream *s, int reuse)
{
	if (s == NULL)
		return;
	if (reuse && !s->workers)
		zs_give(s);
	else
		zs_destroy(s);
}

/* Start a stream at the requested level (default 3) with a checksum and no
 * content size, with params->threads workers when above 1.  Returns -1
 * with err set on a bad level or fd, or when libzstd has no memory. */
static int zs_open(void **stream, int fd, const struct oma_compress_params *p, char *err,
                   size_t errlen)
{
	struct cm_open o;
	if (cm_compress_open(p, fd, &zs_levels, &o, err, errlen) != 0)
		return -1;
	int level = o.level;
	int threads = o.threads;

	size_t out_size = ZSTD_CStreamOutSize();
	struct zs_stream *s = zs_take(out_size);
	if (s == NULL) {
		cm_errf(err, errlen, "zstd: cannot start stream: out of memory");
		return -1;
	}
	if (zs_param(s->cctx, ZSTD_c_compressionLevel, level, "compression level", err, errlen) !=
	            0 ||
	    zs_param(s->cctx, ZSTD_c_checksumFlag, 1, "checksum flag", err, errlen) != 0 ||
	    zs_param(s->cctx, ZSTD_c_contentSizeFlag, 0, "content size flag", err, errlen) != 0)
		goto fail;
	if (threads > 1) {
		/* libzstd built without threads refuses any worker count:
		 * compress on the calling thread instead. */
		size_t rc = ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_nbWorkers, threads);
		s->workers = !ZSTD_isError(rc);
		if (ZSTD_isError(rc) && zs_host != NULL)
			zs_host->log(
			        OMA_LOG_DEBUG,
			        "zstd: cannot use %d worker threads (%s), compressing on one thread",
			        threads, ZSTD_getErrorName(rc));
		if (!ZSTD_isError(rc) && level <= ZS_SMALL_JOBS_MAX &&
		    zs_param(s->cctx, ZSTD_c_jobSize, ZS_JOB_SIZE, "job size", err, errlen) != 0)
			goto fail;
	}
	s->dst = o.out;
	s->out.dst = s->buf;
	s->out.size = out_size;
	s->out.pos = 0;
	*stream = s;
	return 0;
fail:
	zs_free(s, 0);
	return -1;
}

static int zs_write(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
	struct zs_stream *s = stream;
	if (s->failed) {
		cm_errf(err, errlen, "zstd: stream failed earlier");
		return -1;
	}
	if (len == 0)
		return 0;
	ZSTD_inBuffer in = {.src = buf, .size = len, .pos = 0};
	return zs_compress(s, &in, ZSTD_e_continue, err, errlen);
}

static int zs_finish(void *stream, char *err, size_t errlen)
{
	struct zs_stream *s = stream;
	int rc = -1;
	if (s->failed) {
		cm_errf(err, errlen, "zstd: stream failed earlier");
		goto out;
	}
	ZSTD_inBuffer in = {.src = NULL, .size = 0, .pos = 0};
	if (zs_compress(s, &in, ZSTD_e_end, err, errlen) != 0)
		goto out;
	if (zs_flush_out(s, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	zs_free(s, rc == 0);
	return rc;
}

static void zs_abort(void *stream)
{
	zs_free(stream, 0);
}

static const struct oma_compress_ops zs_ops = {
        .suffix = ".sql.zst",
        .default_level = ZS_DEFAULT_LEVEL,
        .min_level = ZS_MIN_LEVEL,
        .max_level = ZS_MAX_LEVEL,
        .open = zs_open,
        .write = zs_write,
        .finish = zs_finish,
        .abort = zs_abort,
        .flags = OMA_COMPRESS_SINK,
        .decompress = &zs_read_ops,
};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_COMPRESS, .name = "zstd",
                  .version = "1.0 (libzstd " ZSTD_VERSION_STRING ")", .init = zs_init,
                  .fini = zs_fini, .compress = &zs_ops);
