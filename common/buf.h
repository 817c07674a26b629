/* buf.h - growable NUL-terminated byte buffers that report running out of memory (core and plugins). */
#ifndef OMA_COMMON_BUF_H
#define OMA_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* {0} is an empty buffer.  After the first append p is malloc'ed and
 * NUL-terminated (p[len] == '\0'); free it with cm_buf_free (or free(p)).
 * Once an allocation failed, `failed` stays set, every later append is
 * ignored and fails, and p keeps what was there before: build a whole
 * text, then check `failed` once. */
struct cm_buf {
	char *p;
	size_t len, cap;
	int failed;
};

/* Append n bytes of data (n may be 0: the buffer is still allocated).
 * Returns 0, or -1 with `failed` set when out of memory (now or before). */
int cm_buf_add(struct cm_buf *b, const void *data, size_t n);
/* Append the string s.  Returns 0, or -1 as cm_buf_add. */
int cm_buf_str(struct cm_buf *b, const char *s);
/* Append printf-formatted text.  Returns 0, or -1 with `failed` set when
 * out of memory or the format fails. */
int cm_buf_fmt(struct cm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cm_buf_vfmt(struct cm_buf *b, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
/* Free the text and make the buffer empty ({0}) again. */
void cm_buf_free(struct cm_buf *b);

#endif
