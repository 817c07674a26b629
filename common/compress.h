/* compress.h - what the compress plugins share: open()'s parameters and where their output goes. */
#ifndef OMA_COMMON_COMPRESS_H
#define OMA_COMMON_COMPRESS_H

#include <stddef.h>

#include <oma/plugin.h>

/* Where a stream's compressed bytes go: the core's sink (oma 0.2), or
 * the fd when sink is NULL. */
struct cm_out {
	int fd;
	int (*sink)(void *ctx, const void *buf, size_t len, char *err, size_t errlen);
	void *sink_ctx;
};

/* A compressor's name (for messages) and levels. */
struct cm_levels {
	const char *name;
	int def, min, max;
};

/* What open() was asked for, checked. */
struct cm_open {
	int level;   /* lv->min .. lv->max */
	int threads; /* 1 or more */
	struct cm_out out;
};

/* Read open()'s parameters as far as the core's struct has them (`size`):
 * a level below 0 (or none) is the default, a thread count below 2 (or
 * none) is 1, the sink only when the core set one.  Returns 0 with *o
 * filled, or -1 with err set when the level is outside the range ("NAME:
 * compression level L out of range MIN..MAX") or fd is negative ("NAME:
 * invalid file descriptor FD"). */
int cm_compress_open(const struct oma_compress_params *p, int fd, const struct cm_levels *lv,
                     struct cm_open *o, char *err, size_t errlen);

/* Hand len bytes to the sink, or write all of them to the fd (retrying
 * short writes and EINTR); nothing for len 0.  Returns 0, or -1 with err
 * set: the sink's reason, or "NAME: write: REASON". */
int cm_out_write(const struct cm_out *o, const void *buf, size_t len, const char *name, char *err,
                 size_t errlen);

#endif
