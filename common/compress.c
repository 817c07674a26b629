/* compress.c - what the compress plugins share: open()'s parameters and where their output goes. */
#include "common/compress.h"

#include <errno.h>
#include <string.h>

#include "common/errbuf.h"
#include "common/io.h"

/* Whether the core's params (p->size bytes) reach to the end of `member`. */
#define HAS(p, member) \
	((p)->size >= offsetof(struct oma_compress_params, member) + sizeof((p)->member))

int cm_compress_open(const struct oma_compress_params *p, int fd, const struct cm_levels *lv,
                     struct cm_open *o, char *err, size_t errlen)
{
	*o = (struct cm_open){.level = lv->def, .threads = 1, .out = {.fd = fd}};
	if (p != NULL && HAS(p, level) && p->level >= 0)
		o->level = p->level;
	if (p != NULL && HAS(p, threads) && p->threads > 1)
		o->threads = p->threads;
	if (o->level < lv->min || o->level > lv->max) {
		cm_errf(err, errlen, "%s: compression level %d out of range %d..%d", lv->name,
		        o->level, lv->min, lv->max);
		return -1;
	}
	if (fd < 0) {
		cm_errf(err, errlen, "%s: invalid file descriptor %d", lv->name, fd);
		return -1;
	}
	if (p != NULL && HAS(p, sink_ctx)) {
		o->out.sink = p->sink;
		o->out.sink_ctx = p->sink_ctx;
	}
	return 0;
}

int cm_out_write(const struct cm_out *o, const void *buf, size_t len, const char *name, char *err,
                 size_t errlen)
{
	if (len == 0)
		return 0;
	if (o->sink != NULL)
		return o->sink(o->sink_ctx, buf, len, err, errlen) == 0 ? 0 : -1;
	if (cm_write_all(o->fd, buf, len) != 0) {
		cm_errf(err, errlen, "%s: write: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}
