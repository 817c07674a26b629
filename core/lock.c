/* lock.c - single-instance lock: a listening socket bound to 127.0.0.1:lock_port. */
#include "lock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

int lock_acquire(long port, char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errf(err, errlen, "lock: socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE)
			return -2;
		errf(err, errlen, "lock: bind 127.0.0.1:%ld: %s", port, strerror(e));
		return -1;
	}
	if (listen(fd, 1) != 0) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE)
			return -2;
		errf(err, errlen, "lock: listen 127.0.0.1:%ld: %s", port, strerror(e));
		return -1;
	}
	return fd;
}
