/* store_internal.h - what the store_*.c files share, and the store functions only tests and fuzz targets call. */
#ifndef OMA_STORE_INTERNAL_H
#define OMA_STORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "store.h"
#include "util.h"
#include "walk.h"

/* A backup folder is complete once it has this file (store_write_info). */
#define STORE_INFO_FILE "info.json"

/* dir + "/" + name, without doubling a trailing slash; malloc'ed. */
static inline char *store_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	if (n > 0 && dir[n - 1] == '/')
		return xasprintf("%s%s", dir, name);
	return xasprintf("%s/%s", dir, name);
}

/* Whether `name` (a base name) is a backup folder: oma_\d{8}-\d{6} exactly. */
bool store_is_backup_name(const char *name);

/* Backup folders in backup_dir, oldest first (by name), as base names.
 * Returns 0, or -1 with err set when the folder cannot be read. */
int store_list(const char *backup_dir, struct strv *out, char *err, size_t errlen);

/* Remove one backup folder: its info.json first (synced), then the rest.
 * Returns 0, or -1 with err set. */
int store_remove_backup(const char *backup_dir, const char *name, char *err, size_t errlen);

/* Parse the `len` bytes of an info.json's text (not NUL-terminated; a NUL
 * byte in it is an error), as store_read_info does; `name` is used in
 * messages.  Returns 0, or -1 with err set. */
int store_parse_info(const char *text, size_t len, const char *name, struct store_info *info,
                     char *err, size_t errlen);

/* store_fix_links on the folders `all` (store_scan), treating those `gone`
 * marks (NULL: none) as already removed; without `notes`, quietly.
 * Returns 0, or -1 with err set. */
int store_relink(const char *backup_dir, const struct store_folders *all, const bool *gone,
                 struct strv *notes, char *err, size_t errlen);

/* Add the allocated size of `path` and everything below it to *bytes, as
 * store_dir_bytes counts it, skipping files with several links that are in
 * `seen` already (and adding the others).  Returns 0, or -1 with err set. */
int store_du(const char *path, struct walk_inodes *seen, uint64_t *bytes, char *err, size_t errlen);

#endif
