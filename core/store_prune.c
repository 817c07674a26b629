/* store_prune.c - pruning old backup folders: which go, rescuing symlinks into them, removing them, what that frees. */
#include "common/errbuf.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

/* The folder a symbolic link at dirfd/name points into, compared by
 * device and inode with `st`.  Returns 1 and the target's path (malloc'ed,
 * relative targets made relative to `dir`) when it does, else 0. */
static int link_into(int dirfd, const char *dir, const char *name, const struct stat *st,
                     char **target)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *t = buf[0] == '/' ? xstrdup(buf) : store_join(dir, buf);
	char *slash = strrchr(t, '/');
	int hit = 0;
	if (slash != NULL && slash[1] != '\0') {
		*slash = '\0';
		struct stat ps;
		hit = stat(t[0] != '\0' ? t : "/", &ps) == 0 && ps.st_dev == st->st_dev &&
		      ps.st_ino == st->st_ino;
		*slash = '/';
	}
	if (hit)
		*target = t;
	else
		free(t);
	return hit;
}

/* What rescue_links looks for in one kept folder. */
struct rescue {
	const char *kept;      /* its path */
	const char *doomed;    /* the path of the folder about to go ... */
	struct stat doomed_st; /* ... and what it is */
	size_t entries;        /* entries seen in the kept folder */
};

/* A symbolic link in a kept folder into the doomed one: move the file it
 * names back in its place.  Returns 0, or -1 with w->err set. */
static int rescue_entry(struct walk *w, struct walk_entry *e)
{
	struct rescue *r = w->data;
	char *target = NULL;
	if (e->depth == 0)
		return 0;
	r->entries++;
	if (!S_ISLNK(e->st->st_mode) ||
	    !link_into(e->dirfd, r->kept, e->name, &r->doomed_st, &target))
		return 0;
	char *lpath = store_join(r->kept, e->name);
	int rc = 0;
	if (rename(target, lpath) != 0 && errno != ENOENT) {
		cm_errf(w->err, w->errlen,
		        "store: cannot move %s back to %s before removing %s: %s", target, lpath,
		        r->doomed, strerror(errno));
		rc = -1;
	}
	free(lpath);
	free(target);
	return rc;
}

/* The kept folder once its links are back: sync it.  Returns 0, or -1
 * with w->err set. */
static int rescue_leave(struct walk *w, const struct walk_entry *e)
{
	const struct rescue *r = w->data;
	if (r->entries > 0 && fsync(e->fd) != 0) {
		cm_errf(w->err, w->errlen, "store: cannot sync folder '%s': %s", r->kept,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* A kept folder or entry that cannot be read holds no link to rescue. */
static int rescue_fail(struct walk *w, const struct walk_entry *e, const char *what, int err)
{
	(void)what;
	(void)err;
	if (e->depth > 0)
		((struct rescue *)w->data)->entries++;
	return 0;
}

/* Before `doomed` goes: a kept folder's symbolic link into it (left by a
 * reuse with link_type = symbolic, which moved the dump into the newer
 * folder) gets the file it points at moved back in its place, so no kept
 * backup loses a dump.  Returns 0, or -1 with err set (nothing removed
 * then). */
static int rescue_links(const char *backup_dir, const char *doomed, const struct store_folders *all,
                        const bool *removing, char *err, size_t errlen)
{
	char *dpath = store_join(backup_dir, doomed);
	struct rescue r = {.doomed = dpath};
	struct walk w = {
	        .flags = WALK_TOP_DIR,
	        .max_depth = 1,
	        .entry = rescue_entry,
	        .leave = rescue_leave,
	        .fail = rescue_fail,
	        .data = &r,
	        .err = err,
	        .errlen = errlen,
	};
	int rc = 0;
	if (stat(dpath, &r.doomed_st) != 0) {
		free(dpath);
		return 0;
	}
	for (size_t i = 0; i < all->n && rc == 0; i++) {
		if (removing[i] || strcmp(all->v[i].name, doomed) == 0)
			continue;
		char *kpath = store_join(backup_dir, all->v[i].name);
		r.kept = kpath;
		r.entries = 0;
		rc = walk_tree(&w, AT_FDCWD, kpath);
		free(kpath);
	}
	free(dpath);
	return rc;
}

int store_remove_backup(const char *backup_dir, const char *name, char *err, size_t errlen)
{
	char *p = store_join(backup_dir, name);
	char *info = store_join(p, STORE_INFO_FILE);
	int rc = -1;
	/* info.json first: a removal cut short leaves an incomplete folder,
	 * which the next run finishes off, never a "complete" one with dumps
	 * missing. */
	if (unlink(info) == 0) {
		if (fsync_dir(p) != 0) {
			cm_errf(err, errlen, "store: cannot sync folder '%s': %s", p,
			        strerror(errno));
			goto out;
		}
	} else if (errno != ENOENT) {
		cm_errf(err, errlen, "store: cannot remove '%s': %s", info, strerror(errno));
		goto out;
	}
	rc = store_remove_tree(p, err, errlen);
out:
	free(info);
	free(p);
	return rc;
}

/* Which folders store_prune(keep, current) removes: *all as store_scan
 * gives it, (*removing)[i] for each (malloc'ed).  Returns 0, or -1 with
 * err set. */
static int plan_prune(const char *backup_dir, long keep, const char *current, time_t now,
                      struct store_folders *all, bool **removing, char *err, size_t errlen)
{
	if (keep < 0) {
		cm_errf(err, errlen, "store: cannot keep %ld backup folders", keep);
		return -1;
	}
	if (store_scan(backup_dir, now, all, err, errlen) != 0)
		return -1;
	bool *rm = xcalloc(all->n + 1, sizeof(*rm));
	size_t complete = 0, newest = SIZE_MAX;
	for (size_t i = 0; i < all->n; i++) {
		if (!all->v[i].complete)
			continue;
		newest = i;
		if (current == NULL || strcmp(all->v[i].name, current) != 0)
			complete++;
	}
	size_t excess = complete > (size_t)keep ? complete - (size_t)keep : 0;
	for (size_t i = 0; i < all->n; i++) {
		const struct store_folder *f = &all->v[i];
		if (current != NULL && strcmp(f->name, current) == 0)
			continue;
		if (f->complete && excess > 0) {
			rm[i] = true;
			excess--;
		} else if (!f->complete && newest != SIZE_MAX && i < newest) {
			rm[i] = true; /* a newer complete backup supersedes it */
		}
	}
	*removing = rm;
	return 0;
}

int store_prune(const char *backup_dir, long keep, const char *current, time_t now,
                struct strv *removed, char *err, size_t errlen)
{
	struct store_folders all = {0};
	bool *removing = NULL;
	int rc = -1;
	if (plan_prune(backup_dir, keep, current, now, &all, &removing, err, errlen) != 0)
		goto out;
	/* last, last.log and last.result.json never point into a folder being
	 * removed, not even if this process dies half-way. */
	for (size_t i = 0; i < all.n; i++)
		if (removing[i]) {
			if (store_relink(backup_dir, &all, removing, NULL, err, errlen) != 0)
				goto out;
			break;
		}
	for (size_t i = 0; i < all.n; i++) {
		if (!removing[i])
			continue;
		if (rescue_links(backup_dir, all.v[i].name, &all, removing, err, errlen) != 0 ||
		    store_remove_backup(backup_dir, all.v[i].name, err, errlen) != 0)
			goto out;
		strv_push(removed, all.v[i].name);
	}
	rc = 0;
out:
	free(removing);
	store_folders_free(&all);
	return rc;
}

int store_prune_plan(const char *backup_dir, long keep, const char *current, time_t now,
                     struct strv *names, char *err, size_t errlen)
{
	struct store_folders all = {0};
	bool *removing = NULL;
	int rc = plan_prune(backup_dir, keep, current, now, &all, &removing, err, errlen);
	for (size_t i = 0; rc == 0 && i < all.n; i++)
		if (removing[i])
			strv_push(names, all.v[i].name);
	free(removing);
	store_folders_free(&all);
	return rc;
}

int store_prunable_bytes(const char *backup_dir, long keep, const char *current, time_t now,
                         uint64_t *bytes, char *err, size_t errlen)
{
	struct store_folders all = {0};
	bool *removing = NULL;
	struct walk_inodes *seen = walk_inodes_new();
	uint64_t total = 0;
	int rc = plan_prune(backup_dir, keep, current, now, &all, &removing, err, errlen);
	for (size_t i = 0; rc == 0 && i < all.n; i++) {
		if (!removing[i])
			continue;
		char *p = store_join(backup_dir, all.v[i].name);
		rc = store_du(p, seen, &total, err, errlen);
		free(p);
	}
	walk_inodes_free(seen);
	free(removing);
	store_folders_free(&all);
	if (rc == 0)
		*bytes = total;
	return rc;
}
