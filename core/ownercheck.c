/* ownercheck.c - running as root, refuse plugin files and folders that anyone but root can change. */
#include "ownercheck.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "util.h"

int owner_check(const char *what, const char *path, const struct stat *st, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return 0;
	if (st->st_uid != 0) {
		cm_errf(err, errlen,
		        "plugin %s %s is owned by uid %u, not root: refusing to load "
		        "code from it as root",
		        what, path, (unsigned)st->st_uid);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		cm_errf(err, errlen,
		        "plugin %s %s is writable by %s (mode %04o): refusing to load "
		        "code from it as root",
		        what, path, (st->st_mode & S_IWOTH) ? "others" : "its group",
		        (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

int owner_check_above(const char *dir, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return 0;
	char *up = xstrdup(dir);
	int rc = 0;
	/* "/a/b": "/a", then "/" (up cut to ""). */
	for (char *slash = strrchr(up, '/'); rc == 0 && slash != NULL; slash = strrchr(up, '/')) {
		*slash = '\0';
		const char *name = up[0] != '\0' ? up : "/";
		struct stat st;
		if (stat(name, &st) != 0) {
			cm_errf(err, errlen, "plugin folder %s: %s", name, strerror(errno));
			rc = -1;
		} else if (!(st.st_uid == 0 && (st.st_mode & S_ISVTX))) {
			rc = owner_check("folder", name, &st, err, errlen);
		}
	}
	free(up);
	return rc;
}

int owner_check_folders(const char *real, char *err, size_t errlen)
{
	char *dir = xstrdup(real);
	char *slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		dir[0] = '\0';
	struct stat st;
	int rc = -1;
	if (stat(dir[0] != '\0' ? dir : "/", &st) != 0)
		cm_errf(err, errlen, "plugin folder %s: %s", dir, strerror(errno));
	else
		rc = owner_check("folder", dir, &st, err, errlen);
	if (rc == 0)
		rc = owner_check_above(dir, err, errlen);
	free(dir);
	return rc;
}
