/* buf.c - growable NUL-terminated byte buffers that report running out of memory (core and plugins). */
#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CM_BUF_FIRST 64 /* bytes allocated by the first append, doubled from then on */

/* Make room for n more bytes and the NUL.  Returns 0, or -1 with `failed`
 * set (the text as it was) when out of memory or the size overflows. */
static int cm_buf_room(struct cm_buf *b, size_t n)
{
	if (b->failed)
		return -1;
	if (n > (size_t)-1 / 2 - b->len) {
		b->failed = 1;
		return -1;
	}
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : CM_BUF_FIRST;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int cm_buf_add(struct cm_buf *b, const void *data, size_t n)
{
	if (cm_buf_room(b, n) != 0)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int cm_buf_str(struct cm_buf *b, const char *s)
{
	return cm_buf_add(b, s, strlen(s));
}

int cm_buf_vfmt(struct cm_buf *b, const char *fmt, va_list ap)
{
	if (b->failed)
		return -1;
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0) {
		b->failed = 1;
		return -1;
	}
	if (cm_buf_room(b, (size_t)n) != 0)
		return -1;
	(void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int cm_buf_fmt(struct cm_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = cm_buf_vfmt(b, fmt, ap);
	va_end(ap);
	return rc;
}

void cm_buf_free(struct cm_buf *b)
{
	free(b->p);
	*b = (struct cm_buf){0};
}
