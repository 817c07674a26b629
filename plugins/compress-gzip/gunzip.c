/* gunzip.c - the gzip plugin's reader (--verify): every member of a .sql.gz decompressed with zlib, its CRC and length checked. */
#include "gunzip.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/errbuf.h"

#define GUNZIP_OUT (256 * 1024) /* decompressed bytes handed on at once */

struct gunzip {
	struct oma_read_params p;
	z_stream z;
	bool in_member;    /* a member began and has not ended */
	bool any;          /* a member began at all */
	uint64_t consumed; /* compressed bytes taken so far (for messages) */
	unsigned char out[GUNZIP_OUT];
};

static int gunzip_open(void **stream, const struct oma_read_params *p, char *err, size_t errlen)
{
	struct gunzip *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		cm_errf(err, errlen, "gzip: out of memory");
		return -1;
	}
	g->p = *p;
	if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
		cm_errf(err, errlen, "gzip: cannot start zlib: %s",
		        g->z.msg ? g->z.msg : "no memory");
		free(g);
		return -1;
	}
	*stream = g;
	return 0;
}

/* Hand the output produced so far on.  Returns 0, or out's failure. */
static int flush_out(struct gunzip *g, char *err, size_t errlen)
{
	size_t n = GUNZIP_OUT - g->z.avail_out;
	g->z.next_out = g->out;
	g->z.avail_out = GUNZIP_OUT;
	if (n == 0 || g->p.out == NULL)
		return 0;
	return g->p.out(g->p.out_ctx, g->out, n, err, errlen);
}

static int gunzip_write(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
	struct gunzip *g = stream;
	const unsigned char *in = buf;
	while (len > 0) {
		if (!g->in_member) {
			/* A member ended (or none began): what follows must be
			 * another gzip member, not trailing bytes. */
			if (g->any && inflateReset(&g->z) != Z_OK) {
				cm_errf(err, errlen, "gzip: cannot restart zlib");
				return -1;
			}
			if (in[0] != 0x1f) {
				cm_errf(err, errlen,
				        g->any ? "data after the end of the gzip stream at byte %llu"
				               : "not a gzip file (byte %llu)",
				        (unsigned long long)g->consumed);
				return -1;
			}
			g->in_member = g->any = true;
		}
		size_t piece = len > UINT32_MAX ? UINT32_MAX : len;
		g->z.next_in = (unsigned char *)(uintptr_t)in;
		g->z.avail_in = (uInt)piece;
		g->z.next_out = g->out;
		g->z.avail_out = GUNZIP_OUT;
		int zr = Z_OK;
		while (g->z.avail_in > 0 && zr != Z_STREAM_END) {
			zr = inflate(&g->z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
				cm_errf(err, errlen, "gzip: data error near byte %llu: %s",
				        (unsigned long long)(g->consumed + piece - g->z.avail_in),
				        g->z.msg ? g->z.msg : "corrupt stream");
				return -1;
			}
			if (flush_out(g, err, errlen) != 0)
				return -1;
		}
		size_t used = piece - g->z.avail_in;
		g->consumed += used;
		in += used;
		len -= used;
		if (zr == Z_STREAM_END)
			g->in_member = false;
	}
	return 0;
}

static int gunzip_finish(void *stream, char *err, size_t errlen)
{
	struct gunzip *g = stream;
	int rc = 0;
	if (!g->any) {
		cm_errf(err, errlen, "gzip: empty file");
		rc = -1;
	} else if (g->in_member) {
		cm_errf(err, errlen,
		        "gzip: truncated: the file ends inside a gzip member (after %llu bytes)",
		        (unsigned long long)g->consumed);
		rc = -1;
	}
	inflateEnd(&g->z);
	free(g);
	return rc;
}

static void gunzip_abort(void *stream)
{
	struct gunzip *g = stream;
	inflateEnd(&g->z);
	free(g);
}

const struct oma_read_ops gz_read_ops = {
        .size = sizeof(struct oma_read_ops),
        .open = gunzip_open,
        .write = gunzip_write,
        .finish = gunzip_finish,
        .abort = gunzip_abort,
};
