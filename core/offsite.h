/* offsite.h - off-site copies of the current backup folder through the store plugins (docs/BEHAVIOUR.md "Off-site copies"). */
#ifndef OMA_OFFSITE_H
#define OMA_OFFSITE_H

#include <stdint.h>

#include "loader.h"

struct offsite;

/* Begin the copy of folder `local_dir` (base name `name`) with every
 * initialised store plugin of `ld`: each store's begin() runs in a thread
 * of its own, which then starts the store's put() workers, so the dumps
 * never wait for the server.  A store whose begin() fails is logged
 * ("Off-site copy 'NAME' failed: REASON") and counts as failed, and so
 * does one with a failed put(): the files after that are given up at once
 * ("not copied after an earlier failure: ..."); the other stores go on.  Returns NULL when ld
 * has no initialised store plugin (every other function then does
 * nothing). */
struct offsite *offsite_start(const struct loader *ld, const char *name, const char *local_dir);

/* Queue the final file local_dir/`file` (`bytes` long, SHA-256 `sha256` or
 * NULL; the dump of database `db`, NULL for the folder's own files;
 * `reused_from`: the earlier folder it was taken from, or NULL) for every
 * store.  Thread-safe (called from dump threads); copies its arguments. */
void offsite_put(struct offsite *o, const char *file, uint64_t bytes, const char *sha256,
                 const char *db, const char *reused_from);

/* Wait until every queued file was put (or failed, or given up because oma
 * is told to stop). */
void offsite_wait(struct offsite *o);

/* How the copies of database `db`'s dump went (enum oma_offsite; NONE
 * when none was queued); *why: the first failure's reason or NULL.  Call
 * after offsite_wait(). */
int offsite_db_outcome(const struct offsite *o, const char *db, const char **why);

/* Put the folder's own files `files` (NULL-terminated names in local_dir),
 * wait, and then let every store that stored all files complete the
 * folder with `marker` (the folder's info.json) stored last, pruning the
 * remote side when `prune` (to `versions` unless the store has its own).
 * A store that failed before is not asked to complete. */
void offsite_finish(struct offsite *o, const char *const *files, const char *marker, int prune,
                    long versions);

/* How the copy as a whole went (enum oma_offsite: COPIED only when every
 * store completed the folder); *why: the first failure's reason or
 * NULL. */
int offsite_outcome(const struct offsite *o, const char **why);

/* Stop the workers (files still queued are given up) and end() every
 * store that began; the outcomes stay readable.  Idempotent; NULL is fine.
 * Call before forking the reporters. */
void offsite_stop(struct offsite *o);

/* offsite_stop(), then free everything.  NULL is fine. */
void offsite_free(struct offsite *o);

#endif
