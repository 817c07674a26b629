/* store.h - backup folders: naming, info.json, last/last.log links, pruning, size (core/store*.c). */
#ifndef OMA_STORE_H
#define OMA_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

#define STORE_PREFIX "oma_"

/* A backup folder's info.json.  Upstream wrote the first three keys; oma
 * adds when the run started and completed (epoch seconds), which order
 * the folders (a folder's name is local time, which a clock change or a
 * time zone makes lie).  0 means not recorded (upstream, oma before 0.2).
 * failed_databases: how many databases of that run failed (their last good
 * dumps are in older folders, which delete_before must then keep). */
struct store_info {
	uint64_t mysql_data_dir_bytes_used;
	uint64_t backup_bytes_used;
	double compression_ratio;
	int64_t started, completed;
	uint64_t failed_databases;
};

/* Create backup_dir/oma_YYYYMMDD-HHMMSS for local time `now`; when that name
 * exists, waits for the next second and tries again (bounded), so two runs
 * never share a folder.  Sets *path (malloc'ed full path).
 * Returns 0, or -1 with err set. */
int store_create_current(const char *backup_dir, time_t now, char **path, char *err, size_t errlen);

/* Seconds a folder's recorded start may lie ahead of the clock before it
 * counts as dated in the future; for a folder whose time comes from its
 * name only (local time: a time zone or DST change shifts it by hours),
 * more. */
#define STORE_FUTURE_SLACK      60
#define STORE_FUTURE_SLACK_NAME (26 * 3600)

/* One backup folder as store_scan sees it. */
struct store_folder {
	char *name;    /* base name, oma_YYYYMMDD-HHMMSS */
	bool complete; /* has info.json, which a run writes once its dumps are
	                 * final: a folder without one is an interrupted run's */
	bool recorded; /* `time` is info.json's "started" (else: the name) */
	bool future;   /* dated later than now (STORE_FUTURE_SLACK*) */
	int64_t time;  /* when its run started, epoch seconds */
};

struct store_folders {
	struct store_folder *v;
	size_t n;
};

/* The backup folders of backup_dir (real folders named exactly
 * oma_YYYYMMDD-HHMMSS), oldest first: those dated in the future first, then
 * by `time`, then by name.  Returns 0, or -1 with err set when the folder
 * cannot be read. */
int store_scan(const char *backup_dir, time_t now, struct store_folders *out, char *err,
               size_t errlen);
void store_folders_free(struct store_folders *f);

/* The backup to compare with and reuse from: the newest complete folder
 * other than `exclude` (base name or NULL) that is not dated in the future
 * (nor, when recorded, after `now` at all), as a malloc'ed full path, or
 * NULL when there is none. */
char *store_previous(const char *backup_dir, const char *exclude, time_t now);

/* Keep the newest `keep` complete backup folders besides `current` (base
 * name or NULL; never removed, not counted), in store_scan's order, and
 * remove older complete ones; remove incomplete folders (other than
 * current) that are older than the newest complete folder, current
 * included.  Before any folder goes, backup_dir/last, last.log and
 * last.result.json pointing into it are pointed at the newest kept
 * complete folder (removed when that has no such file yet), so they never
 * dangle; a kept folder's symbolic link into it gets the file back (see
 * rescue_links in store_prune.c); a folder's info.json
 * goes first, so an interrupted removal leaves an incomplete folder.  Only
 * real folders named like backup folders are considered; other entries
 * are never touched.  Removed base names are pushed to *removed.  Returns
 * 0, or -1 with err set (also for keep < 0; folders removed before a
 * failure stay in *removed). */
int store_prune(const char *backup_dir, long keep, const char *current, time_t now,
                struct strv *removed, char *err, size_t errlen);

/* Remove the temporary files interrupted runs left: "*.part",
 * ".*.tmp-*" (info.json, SHA256SUMS) and ".*.link-*" in every backup folder but `current`,
 * ".last*.tmp-*" and "last.result.json.part" in backup_dir.  Only call with the backup
 * folder locked (lock_dir), so no other run is writing them.  Their paths
 * are pushed to *removed.  Returns 0, or -1 with err set. */
int store_clean_temp(const char *backup_dir, const char *current, struct strv *removed, char *err,
                     size_t errlen);

/* Make sure backup_dir/last names a complete backup folder and last.log and
 * last.result.json are not dangling: a link that is broken (or, for last,
 * names an incomplete folder) is pointed at the newest complete folder (its
 * oma.log, result.json), or removed when there is none.  Plain files and
 * absent links are left alone.  One line per change goes to *notes.
 * Returns 0, or -1 with err set. */
int store_fix_links(const char *backup_dir, time_t now, struct strv *notes, char *err,
                    size_t errlen);

/* Allocated size of `path` and everything below it, like `du -sB1`: the sum
 * of st_blocks * 512 of every file, folder and symlink, counting a hard
 * linked file once.  `path` itself is followed if it is a symlink (a datadir
 * or database folder may be one); nothing below it is.  Entries that vanish
 * during the walk are skipped.  Returns 0, or -1 with err set naming the
 * path and the reason. */
int store_dir_bytes(const char *path, uint64_t *bytes, char *err, size_t errlen);

/* What store_prune(keep, current) would remove, without removing it: the
 * base names pushed to *names (--dry-run).  Returns 0, or -1 with err set. */
int store_prune_plan(const char *backup_dir, long keep, const char *current, time_t now,
                     struct strv *names, char *err, size_t errlen);

/* What store_prune(keep, current) would free: the allocated size of the
 * folders it would remove, a file linked into several of them counted
 * once (a file also linked from a kept folder is counted though it stays).
 * Returns 0, or -1 with err set. */
int store_prunable_bytes(const char *backup_dir, long keep, const char *current, time_t now,
                         uint64_t *bytes, char *err, size_t errlen);

/* Free bytes for unprivileged users on the file system holding `path`. */
int store_free_bytes(const char *path, uint64_t *bytes, char *err, size_t errlen);

/* Write dir/info.json ({"mysql_data_dir_bytes_used": N, "backup_bytes_used": N,
 * "compression_ratio": X}, byte for byte as upstream's json.dumps(indent=4),
 * X as Python's repr; a non-finite X is written as 0.0; then "started": S,
 * "completed": C, "failed_databases": F when either time is set) atomically: a
 * temporary file in dir, fsync, rename, fsync of dir.  Returns 0, or -1
 * with err set. */
int store_write_info(const char *dir, const struct store_info *info, char *err, size_t errlen);

/* Write len bytes of text to dir/name atomically: ".name.tmp-PID" in dir,
 * fsync, rename, fsync of dir (a leftover temporary file is removed by the
 * next run: store_clean_temp).  Returns 0, or -1 with err set. */
int store_write_file(const char *dir, const char *name, const char *text, size_t len, char *err,
                     size_t errlen);

/* Read the regular file `path` (not a symbolic link) of at most max bytes
 * into *text (malloc'ed, NUL-terminated; its length in *len).  Returns 0,
 * 1 when there is no such file, -1 with err set (unreadable, not a regular
 * file, larger than max). */
int store_read_file(const char *path, size_t max, char **text, size_t *len, char *err,
                    size_t errlen);

/* Read dir/info.json (any JSON layout and key order; counts may be written
 * as floats, the ratio as an integer; unknown keys are ignored; all three
 * keys are required).  Returns 0, 1 when there is no such file, -1 on a
 * malformed or unreadable file (err set, naming the file). */
int store_read_info(const char *dir, struct store_info *info, char *err, size_t errlen);

/* Atomically point backup_dir/<name> (a symlink) at `target`, replacing an
 * existing symlink or plain file of that name (via a temporary link and
 * rename).  A target that does not exist is refused, so no link is ever
 * made dangling.  Returns 0, or -1 with err set. */
int store_set_link(const char *backup_dir, const char *name, const char *target, char *err,
                   size_t errlen);

/* Remove `path` and everything below it without following any symlink (a
 * symlink at `path` itself is removed, not its target).  Used for the
 * current folder on abort and by store_prune.  Returns 0, or -1 with err
 * set naming the entry that could not be removed. */
int store_remove_tree(const char *path, char *err, size_t errlen);

#endif
