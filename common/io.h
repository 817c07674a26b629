/* io.h - writing a whole buffer to a file descriptor (core and plugins). */
#ifndef OMA_COMMON_IO_H
#define OMA_COMMON_IO_H

#include <stddef.h>

/* Write all `len` bytes of buf to fd, retrying on EINTR and short writes.
 * Returns 0, or -1 with errno set. */
int cm_write_all(int fd, const void *buf, size_t len);

#endif
