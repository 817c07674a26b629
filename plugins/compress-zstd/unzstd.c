/* unzstd.c - the zstd plugin's reader (--verify): every frame of a .sql.zst decompressed, a cut frame reported as truncated. */
#include "unzstd.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <zstd.h>

#include "common/errbuf.h"

struct unzstd {
	struct oma_read_params p;
	ZSTD_DStream *d;
	bool any;          /* a byte came at all */
	bool in_frame;     /* the last call left a frame unfinished */
	uint64_t consumed; /* compressed bytes taken so far */
	void *out;
	size_t outlen;
};

static int unzstd_open(void **stream, const struct oma_read_params *p, char *err, size_t errlen)
{
	struct unzstd *u = calloc(1, sizeof(*u));
	if (u != NULL) {
		u->p = *p;
		u->d = ZSTD_createDStream();
		u->outlen = ZSTD_DStreamOutSize();
		u->out = malloc(u->outlen);
	}
	if (u == NULL || u->d == NULL || u->out == NULL) {
		if (u != NULL) {
			ZSTD_freeDStream(u->d);
			free(u->out);
			free(u);
		}
		cm_errf(err, errlen, "zstd: out of memory");
		return -1;
	}
	*stream = u;
	return 0;
}

static int unzstd_write(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
	struct unzstd *u = stream;
	ZSTD_inBuffer in = {buf, len, 0};
	if (len > 0)
		u->any = true;
	while (in.pos < in.size) {
		ZSTD_outBuffer out = {u->out, u->outlen, 0};
		size_t before = in.pos;
		size_t r = ZSTD_decompressStream(u->d, &out, &in);
		if (ZSTD_isError(r)) {
			cm_errf(err, errlen, "zstd: data error near byte %llu: %s",
			        (unsigned long long)(u->consumed + in.pos), ZSTD_getErrorName(r));
			return -1;
		}
		u->consumed += in.pos - before;
		u->in_frame = r != 0;
		if (out.pos > 0 && u->p.out != NULL &&
		    u->p.out(u->p.out_ctx, u->out, out.pos, err, errlen) != 0)
			return -1;
	}
	/* Output the decoder still holds for input it has taken. */
	while (u->in_frame) {
		ZSTD_outBuffer out = {u->out, u->outlen, 0};
		size_t r = ZSTD_decompressStream(u->d, &out, &in);
		if (ZSTD_isError(r)) {
			cm_errf(err, errlen, "zstd: data error near byte %llu: %s",
			        (unsigned long long)u->consumed, ZSTD_getErrorName(r));
			return -1;
		}
		u->in_frame = r != 0;
		if (out.pos == 0)
			break;
		if (u->p.out != NULL && u->p.out(u->p.out_ctx, u->out, out.pos, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static void unzstd_free(struct unzstd *u)
{
	ZSTD_freeDStream(u->d);
	free(u->out);
	free(u);
}

static int unzstd_finish(void *stream, char *err, size_t errlen)
{
	struct unzstd *u = stream;
	int rc = 0;
	if (!u->any) {
		cm_errf(err, errlen, "zstd: empty file");
		rc = -1;
	} else if (u->in_frame) {
		cm_errf(err, errlen,
		        "zstd: truncated: the file ends inside a zstd frame (after %llu bytes)",
		        (unsigned long long)u->consumed);
		rc = -1;
	}
	unzstd_free(u);
	return rc;
}

static void unzstd_abort(void *stream)
{
	unzstd_free(stream);
}

const struct oma_read_ops zs_read_ops = {
        .size = sizeof(struct oma_read_ops),
        .open = unzstd_open,
        .write = unzstd_write,
        .finish = unzstd_finish,
        .abort = unzstd_abort,
};
