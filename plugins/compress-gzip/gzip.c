/* gzip.c - compress plugin "gzip": streams a dump through zlib into a .sql.gz file. */
#include <errno.h>
#include <limits.h>
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

struct gz_stream {
	z_stream zs;
	int fd;
	int failed; /* a write to fd failed; nothing more is written */
	unsigned char out[GZ_OUT_SIZE];
};

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

/* Write the compressed bytes gathered in s->out to the fd (retrying short
 * writes and EINTR) and empty the buffer.  Returns -1 with err set when
 * the write fails. */
static int gz_flush_out(struct gz_stream *s, char *err, size_t errlen)
{
	const unsigned char *p = s->out;
	size_t len = GZ_OUT_SIZE - s->zs.avail_out;
	while (len > 0) {
		ssize_t n = write(s->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			s->failed = 1;
			gz_err(err, errlen, "gzip: write to fd %d: %s", s->fd, strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
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

static int gz_open(void **stream, int fd, const struct oma_compress_params *p, char *err,
                   size_t errlen)
{
	int level = GZ_DEFAULT_LEVEL;
	/* threads: accepted; this plugin compresses on the calling thread. */
	if (p != NULL && p->size >= offsetof(struct oma_compress_params, level) + sizeof(p->level) &&
	    p->level >= 0)
		level = p->level;
	if (level < GZ_MIN_LEVEL || level > GZ_MAX_LEVEL) {
		gz_err(err, errlen, "gzip: compression level %d out of range %d..%d", level,
		       GZ_MIN_LEVEL, GZ_MAX_LEVEL);
		return -1;
	}
	if (fd < 0) {
		gz_err(err, errlen, "gzip: invalid file descriptor %d", fd);
		return -1;
	}

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

static int gz_write(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
	struct gz_stream *s = stream;
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

static void gz_free(struct gz_stream *s)
{
	(void)deflateEnd(&s->zs);
	free(s);
}

static int gz_finish(void *stream, char *err, size_t errlen)
{
	struct gz_stream *s = stream;
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
};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_COMPRESS, .name = "gzip", .version = "1.0 (zlib)",
                  .compress = &gz_ops);
