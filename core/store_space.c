/* store_space.c - disk space: the allocated size of a tree (du, hard links once) and the free space of a file system. */
#include "common/errbuf.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "store_internal.h"

/* Count one entry's allocated size.  Returns 0. */
static int du_entry(struct walk *w, struct walk_entry *e)
{
	*(uint64_t *)w->data += (uint64_t)e->st->st_blocks * 512;
	return 0;
}

int store_du(const char *path, struct walk_inodes *seen, uint64_t *bytes, char *err, size_t errlen)
{
	/* The top is followed (a datadir or database folder may be a
	 * symbolic link); vanished entries below it are skipped. */
	struct walk w = {
	        .flags = WALK_TOP_FOLLOW,
	        .seen = seen,
	        .entry = du_entry,
	        .subsystem = "store",
	        .data = bytes,
	        .err = err,
	        .errlen = errlen,
	};
	return walk_tree(&w, AT_FDCWD, path);
}

int store_dir_bytes(const char *path, uint64_t *bytes, char *err, size_t errlen)
{
	struct walk_inodes *seen = walk_inodes_new();
	uint64_t total = 0;
	int rc = store_du(path, seen, &total, err, errlen);
	walk_inodes_free(seen);
	if (rc == 0)
		*bytes = total;
	return rc;
}

int store_free_bytes(const char *path, uint64_t *bytes, char *err, size_t errlen)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0) {
		cm_errf(err, errlen, "store: cannot read free space of '%s': %s", path,
		        strerror(errno));
		return -1;
	}
	*bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return 0;
}
