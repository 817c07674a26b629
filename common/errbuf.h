/* errbuf.h - formatting a failure's one-line reason into the caller's error buffer (core and plugins). */
#ifndef OMA_COMMON_ERRBUF_H
#define OMA_COMMON_ERRBUF_H

#include <stddef.h>

/* Format into err (errlen bytes, always NUL-terminated); nothing when err
 * is NULL or errlen is 0.  Truncation is silent: the buffers hold one line. */
void cm_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
