/* store_rmtree.c - removing a folder and everything below it without following symlinks (rm -rf). */
#include "common/errbuf.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

/* A failed step of the removal: a failed look at an entry is named
 * "remove", as the removal is what failed. */
static int remove_fail(struct walk *w, const struct walk_entry *e, const char *what, int err)
{
	return walk_report(w, e, strcmp(what, "stat") == 0 ? "remove" : what, err);
}

/* Remove an entry that is not a folder (a folder goes in remove_folder,
 * once it is empty).  Returns 0, or -1 with w->err set. */
static int remove_entry(struct walk *w, struct walk_entry *e)
{
	if (S_ISDIR(e->st->st_mode))
		return 0;
	if (unlinkat(e->dirfd, e->name, 0) != 0 && !(errno == ENOENT && e->up != NULL))
		return walk_report(w, e, "remove", errno);
	return 0;
}

/* Remove a folder whose entries are gone.  Returns 0, or -1 with w->err set. */
static int remove_folder(struct walk *w, const struct walk_entry *e)
{
	if (unlinkat(e->dirfd, e->name, AT_REMOVEDIR) != 0)
		return walk_report(w, e, "remove folder", errno);
	return 0;
}

int store_remove_tree(const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	char *p = xstrndup(path, n);
	const char *base = strrchr(p, '/');
	base = base != NULL ? base + 1 : p;
	int rc = -1;
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		cm_errf(err, errlen, "store: refusing to remove '%s'", path);
		goto out;
	}
	struct walk w = {
	        .entry = remove_entry,
	        .leave = remove_folder,
	        .fail = remove_fail,
	        .subsystem = "store",
	        .err = err,
	        .errlen = errlen,
	};
	rc = walk_tree(&w, AT_FDCWD, p);
out:
	free(p);
	return rc;
}
