/* walk.h - walking folder trees without following symlinks, and counting hard-linked files once. */
#ifndef OMA_WALK_H
#define OMA_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util.h"

/* How deep a walk with max_depth 0 may go below its top before it fails
 * (WALK_TOO_DEEP): each level holds one open folder. */
#define WALK_DEPTH_LIMIT 256

/* The error number a walk reports for a folder nested deeper than it may
 * go (not an errno value; walk_reason names it). */
#define WALK_TOO_DEEP (-1)

/* Flags of struct walk. */
enum {
	WALK_TOP_FOLLOW = 1, /* the top may be a symbolic link, which is followed */
	WALK_TOP_DIR = 2,    /* the top must be a folder: it is opened first, then
	                      * looked at (a file there fails as "open folder") */
	WALK_FOLLOW = 4,     /* entries below the top are looked at through
	                      * symbolic links (stat, not lstat) */
};

/* What the entry callback returns besides 0 (go on, into it if it is a
 * folder) and -1 (stop the walk: it failed). */
#define WALK_PRUNE 1 /* do not go into this folder */

/* Where a walk is: one per level, so that a message can name the full path
 * without a path being built for every entry. */
struct walk_entry {
	const struct walk_entry *up; /* the folder holding it; NULL for the top */
	int dirfd;                   /* that folder, open (the top: as given) */
	const char *name;            /* its name there (the top: as given) */
	const struct stat *st;       /* NULL when it could not be looked at */
	int depth;                   /* 0 for the top */
	int fd;                      /* in `leave`: the folder itself, open */
	long mark;                   /* the holder's mark (the top: -1); the entry
	                              * callback may change it for all below */
};

struct walk_inodes;

struct walk {
	unsigned flags;
	/* Entries at this depth are not gone into (0: WALK_DEPTH_LIMIT, which
	 * is an error when reached). */
	int max_depth;
	/* When set, a file (not a folder) with several links that is already
	 * in the set is skipped; others are added. */
	struct walk_inodes *seen;
	/* Every entry, the top first, a folder before what is in it.
	 * Returns 0, WALK_PRUNE or -1 (err set, e.g. by walk_report). */
	int (*entry)(struct walk *w, struct walk_entry *e);
	/* A folder after everything in it (may be NULL).  Returns 0 or -1. */
	int (*leave)(struct walk *w, const struct walk_entry *e);
	/* A step that failed: `what` is "stat", "open folder" or "read folder",
	 * `err` an errno value or WALK_TOO_DEEP; e->st is NULL for "stat".
	 * Returns 0 to go on without that entry (or the rest of that folder),
	 * or -1 to stop.  NULL: walk_report.  An entry below the top that
	 * vanished meanwhile (ENOENT) is skipped without a call. */
	int (*fail)(struct walk *w, const struct walk_entry *e, const char *what, int err);
	const char *subsystem; /* first word of walk_report's messages */
	void *data;            /* for the callbacks */
	char *err;
	size_t errlen;
};

/* Walk the tree at `name` in folder `dirfd` (AT_FDCWD: a path) as `w`
 * says, never following a symbolic link below the top unless WALK_FOLLOW.
 * A folder's names are read before anything in it is visited, so the
 * callbacks may remove entries.  A walk does not stop when the run is
 * cancelled (proc_cancel): removing the current folder on abort must
 * finish; a callback that wants to stop returns -1.  Returns 0, or -1 when
 * a callback or a failed step (see w->fail) stopped it, with w->err set. */
int walk_tree(struct walk *w, int dirfd, const char *name);

/* Fill w->err with "SUBSYSTEM: cannot WHAT 'PATH': REASON" for entry e.
 * Returns -1. */
int walk_report(struct walk *w, const struct walk_entry *e, const char *what, int err);

/* The full path of e (the top's name, then "/NAME" for each level);
 * malloc'ed. */
char *walk_path(const struct walk_entry *e);

/* strerror(err), or what WALK_TOO_DEEP means. */
const char *walk_reason(int err);

/* The names in the open folder fd, from its start, without "." and ".."
 * (fd stays open).  Returns 0, or -1 with errno set (the names read until
 * then are in *out). */
int walk_names(int fd, struct strv *out);

/* A set of (device, inode, tag) keys; the tag tells apart counts that each
 * take a file once (e.g. -1 for a total, a folder's number for its own). */
struct walk_inodes *walk_inodes_new(void);
void walk_inodes_free(struct walk_inodes *s);
/* Add the key; returns true when it was in the set already. */
bool walk_inodes_add(struct walk_inodes *s, dev_t dev, ino_t ino, long tag);

#endif
