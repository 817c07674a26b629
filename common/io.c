/* io.c - writing a whole buffer to a file descriptor (core and plugins). */
#include "common/io.h"

#include <errno.h>
#include <unistd.h>

int cm_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
