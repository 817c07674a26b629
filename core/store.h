/* store.h - backup folders: naming, info.json, last/last.log links, pruning. */
#ifndef OMA_STORE_H
#define OMA_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

#define STORE_PREFIX "oma_"

struct store_info {
	uint64_t mysql_data_dir_bytes_used;
	uint64_t backup_bytes_used;
	double compression_ratio;
};

/* Whether `name` (a base name) is a backup folder: oma_\d{8}-\d{6} exactly. */
bool store_is_backup_name(const char *name);

/* Backup folders in backup_dir, oldest first (by name), as base names.
 * Returns 0, or -1 with err set when the folder cannot be read. */
int store_list(const char *backup_dir, struct strv *out, char *err, size_t errlen);

/* Create backup_dir/oma_YYYYMMDD-HHMMSS for local time `now`; when that name
 * exists, waits for the next second and tries again (bounded), so two runs
 * never share a folder.  Sets *path (malloc'ed full path).
 * Returns 0, or -1 with err set. */
int store_create_current(const char *backup_dir, time_t now, char **path,
                         char *err, size_t errlen);

/* The newest backup folder other than `exclude` (base name or NULL), as a
 * malloc'ed full path, or NULL when there is none. */
char *store_previous(const char *backup_dir, const char *exclude);

/* Remove the oldest backup folders so that at most `keep` remain, never
 * removing `current` (base name or NULL; it does not count towards keep).
 * Removed base names are pushed to *removed.  Returns 0, or -1 with err set
 * (folders removed before the failure stay in *removed). */
int store_prune(const char *backup_dir, long keep, const char *current,
                struct strv *removed, char *err, size_t errlen);

/* Sum of the sizes of the regular files below `path` (du-like, in bytes of
 * allocated blocks: st_blocks * 512), not following symlinks, counting hard
 * linked files once.  Returns 0, or -1 with err set naming the path. */
int store_dir_bytes(const char *path, uint64_t *bytes, char *err, size_t errlen);

/* Free bytes for unprivileged users on the file system holding `path`. */
int store_free_bytes(const char *path, uint64_t *bytes, char *err, size_t errlen);

/* Write dir/info.json ({"mysql_data_dir_bytes_used": N, "backup_bytes_used": N,
 * "compression_ratio": X}, 4-space indent as upstream) atomically. */
int store_write_info(const char *dir, const struct store_info *info, char *err, size_t errlen);

/* Read dir/info.json.  Returns 0, 1 when there is no such file, -1 on a
 * malformed file (err set). */
int store_read_info(const char *dir, struct store_info *info, char *err, size_t errlen);

/* Atomically point backup_dir/<name> (a symlink) at `target`, replacing an
 * existing symlink or plain file of that name (via a temporary link and
 * rename).  Returns 0, or -1 with err set. */
int store_set_link(const char *backup_dir, const char *name, const char *target,
                   char *err, size_t errlen);

/* Remove a folder tree (used for the current folder on abort).  Returns 0 or -1. */
int store_remove_tree(const char *path, char *err, size_t errlen);

#endif
