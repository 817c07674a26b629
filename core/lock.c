/* lock.c - single-instance locks: 127.0.0.1:lock_port, and the backup folder itself. */
#include "lock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "util.h"

int lock_acquire(long port, char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cm_errf(err, errlen, "lock: socket: %s", strerror(errno));
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
		cm_errf(err, errlen, "lock: bind 127.0.0.1:%ld: %s", port, strerror(e));
		return -1;
	}
	if (listen(fd, 1) != 0) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE)
			return -2;
		cm_errf(err, errlen, "lock: listen 127.0.0.1:%ld: %s", port, strerror(e));
		return -1;
	}
	return fd;
}

/* err: who holds the lock of dir (the PID its lock file fd names). */
static void locked_by(int fd, const char *dir, char *err, size_t errlen)
{
	char pid[32] = "";
	ssize_t got = pread(fd, pid, sizeof(pid) - 1, 0);
	pid[got > 0 ? got : 0] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	cm_errf(err, errlen, "backup folder %s is locked by %s%s", dir,
	        pid[0] ? "PID " : "another process", pid);
}

int lock_dir(const char *dir, char *err, size_t errlen)
{
	size_t n = strlen(dir);
	char *path = xasprintf("%s%s" LOCK_DIR_FILE, dir, n > 0 && dir[n - 1] == '/' ? "" : "/");
	int rc = -1;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	int writable = fd >= 0;
	if (fd < 0 && (errno == EROFS || errno == EACCES)) {
		/* A folder oma cannot write to: lock it all the same (flock needs
		 * no write access); the run then fails where it must write. */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		cm_errf(err, errlen, "lock: cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		if (e == EWOULDBLOCK) {
			locked_by(fd, dir, err, errlen);
			rc = -2;
		} else {
			cm_errf(err, errlen, "lock: cannot lock %s: %s", path, strerror(e));
		}
		close(fd);
		fd = -1;
		goto out;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (writable && (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)) {
		cm_errf(err, errlen, "lock: cannot write %s: %s", path, strerror(errno));
		close(fd);
		fd = -1;
		goto out;
	}
	rc = fd;
out:
	free(path);
	return rc;
}

int lock_dir_check(const char *dir, char *err, size_t errlen)
{
	size_t n = strlen(dir);
	char *path = xasprintf("%s%s" LOCK_DIR_FILE, dir, n > 0 && dir[n - 1] == '/' ? "" : "/");
	int rc = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT) {
			cm_errf(err, errlen, "lock: cannot open %s: %s", path, strerror(errno));
			rc = -1;
		}
		free(path);
		return rc; /* no lock file: no run has the folder */
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			locked_by(fd, dir, err, errlen);
			rc = -2;
		} else {
			cm_errf(err, errlen, "lock: cannot lock %s: %s", path, strerror(errno));
			rc = -1;
		}
		break;
	}
	close(fd); /* releases the lock taken, if any */
	free(path);
	return rc;
}
