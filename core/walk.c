/* walk.c - walking folder trees without following symlinks, and counting hard-linked files once. */
#include "walk.h"
#include "common/errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

const char *walk_reason(int err)
{
	if (err == WALK_TOO_DEEP)
		return "folders nested more than " STR(WALK_DEPTH_LIMIT) " deep";
	return strerror(err);
}

static void append_path(const struct walk_entry *e, char **buf, size_t *len, size_t *cap)
{
	if (e->up != NULL) {
		append_path(e->up, buf, len, cap);
		buf_append(buf, len, cap, "/", 1);
	}
	buf_append(buf, len, cap, e->name, strlen(e->name));
}

char *walk_path(const struct walk_entry *e)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	append_path(e, &buf, &len, &cap);
	return buf;
}

int walk_report(struct walk *w, const struct walk_entry *e, const char *what, int err)
{
	char *path = walk_path(e);
	cm_errf(w->err, w->errlen, "%s: cannot %s '%s': %s",
	        w->subsystem != NULL ? w->subsystem : "walk", what, path, walk_reason(err));
	free(path);
	return -1;
}

int walk_names(int fd, struct strv *out)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return -1;
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		int e = errno;
		close(dfd);
		errno = e;
		return -1;
	}
	rewinddir(d); /* the copy shares fd's offset */
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				rc = -1;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		strv_push(out, de->d_name);
	}
	int e = errno;
	closedir(d);
	errno = e;
	return rc;
}

/* A failed step at e: the caller's hook or walk_report.  Returns 0 (go on
 * without it) or -1. */
static int fail(struct walk *w, const struct walk_entry *e, const char *what, int err)
{
	if (w->fail != NULL)
		return w->fail(w, e, what, err) != 0 ? -1 : 0;
	return walk_report(w, e, what, err);
}

/* Whether symbolic links at e's level are followed. */
static bool follows(const struct walk *w, const struct walk_entry *e)
{
	return (w->flags & (e->up == NULL ? WALK_TOP_FOLLOW : WALK_FOLLOW)) != 0;
}

static int visit(struct walk *w, struct walk_entry *e, const struct stat *st, int fd);

/* Visit every entry of the open folder `fd` that e is; then `leave`.
 * Returns 0 or -1. */
static int visit_folder(struct walk *w, struct walk_entry *e, int fd)
{
	struct strv names = {0};
	int rc = 0;
	if (walk_names(fd, &names) != 0) {
		/* The hook may go on with the names read so far. */
		rc = fail(w, e, "read folder", errno);
		if (rc != 0)
			goto out;
	}
	for (size_t i = 0; i < names.n; i++) {
		struct walk_entry sub = {e, fd, names.v[i], NULL, e->depth + 1, -1, e->mark};
		struct stat st;
		if (fstatat(fd, sub.name, &st, follows(w, &sub) ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
			int err = errno;
			if (err == ENOENT)
				continue; /* removed while we looked */
			rc = fail(w, &sub, "stat", err);
		} else {
			rc = visit(w, &sub, &st, -1);
		}
		if (rc != 0)
			goto out;
	}
	if (w->leave != NULL) {
		e->fd = fd;
		rc = w->leave(w, e) != 0 ? -1 : 0;
		e->fd = -1;
	}
out:
	strv_free(&names);
	return rc;
}

/* Visit e (looked at as *st; `fd`, when not -1, is e opened as a folder,
 * which this function closes) and, if it is a folder to go into,
 * everything below it.  Returns 0 or -1. */
static int visit(struct walk *w, struct walk_entry *e, const struct stat *st, int fd)
{
	int rc = 0;
	e->st = st;
	if (w->seen != NULL && !S_ISDIR(st->st_mode) && st->st_nlink > 1 &&
	    walk_inodes_add(w->seen, st->st_dev, st->st_ino, -1))
		goto out;
	if (w->entry != NULL) {
		rc = w->entry(w, e);
		if (rc < 0) {
			rc = -1;
			goto out;
		}
	}
	if (rc == WALK_PRUNE || !S_ISDIR(st->st_mode)) {
		rc = 0;
		goto out;
	}
	if (e->depth >= (w->max_depth > 0 ? w->max_depth : WALK_DEPTH_LIMIT)) {
		rc = w->max_depth > 0 ? 0 : fail(w, e, "open folder", WALK_TOO_DEEP);
		goto out;
	}
	if (fd < 0) {
		fd = openat(e->dirfd, e->name,
		            O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follows(w, e) ? 0 : O_NOFOLLOW));
		if (fd < 0) {
			int err = errno;
			rc = err == ENOENT && e->up != NULL ? 0 : fail(w, e, "open folder", err);
			goto out;
		}
	}
	rc = visit_folder(w, e, fd);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int walk_tree(struct walk *w, int dirfd, const char *name)
{
	struct walk_entry top = {NULL, dirfd, name, NULL, 0, -1, -1};
	struct stat st;
	int fd = -1;
	if (w->flags & WALK_TOP_DIR) {
		fd = openat(dirfd, name,
		            O_RDONLY | O_DIRECTORY | O_CLOEXEC |
		                    (follows(w, &top) ? 0 : O_NOFOLLOW));
		if (fd < 0)
			return fail(w, &top, "open folder", errno);
		if (fstat(fd, &st) != 0) {
			int err = errno;
			close(fd);
			return fail(w, &top, "stat", err);
		}
	} else if (fstatat(dirfd, name, &st, follows(w, &top) ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
		return fail(w, &top, "stat", errno);
	}
	return visit(w, &top, &st, fd);
}

/* ---- the inode set ------------------------------------------------------ */

struct walk_inodes {
	struct inode_key {
		dev_t dev;
		ino_t ino;
		long tag;
		bool used;
	} * slot;
	size_t cap, n; /* cap: 0 or a power of two */
};

struct walk_inodes *walk_inodes_new(void)
{
	return xcalloc(1, sizeof(struct walk_inodes));
}

void walk_inodes_free(struct walk_inodes *s)
{
	if (s == NULL)
		return;
	free(s->slot);
	free(s);
}

static size_t inode_hash(dev_t dev, ino_t ino, long tag, size_t cap)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev ^
	             (uint64_t)tag * 0xc2b2ae3d27d4eb4fULL;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* The slot of the key, or the free one where it goes. */
static struct inode_key *inode_slot(const struct walk_inodes *s, dev_t dev, ino_t ino, long tag)
{
	size_t i = inode_hash(dev, ino, tag, s->cap);
	while (s->slot[i].used &&
	       !(s->slot[i].dev == dev && s->slot[i].ino == ino && s->slot[i].tag == tag))
		i = (i + 1) & (s->cap - 1);
	return &s->slot[i];
}

bool walk_inodes_add(struct walk_inodes *s, dev_t dev, ino_t ino, long tag)
{
	if (2 * (s->n + 1) > s->cap) {
		struct walk_inodes big = {xcalloc(s->cap ? 2 * s->cap : 64, sizeof(*s->slot)),
		                          s->cap ? 2 * s->cap : 64, s->n};
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i].used)
				*inode_slot(&big, s->slot[i].dev, s->slot[i].ino,
				            s->slot[i].tag) = s->slot[i];
		free(s->slot);
		*s = big;
	}
	struct inode_key *k = inode_slot(s, dev, ino, tag);
	if (k->used)
		return true;
	*k = (struct inode_key){dev, ino, tag, true};
	s->n++;
	return false;
}
