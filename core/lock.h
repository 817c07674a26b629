/* lock.h - single-instance locks: 127.0.0.1:lock_port, and the backup folder itself. */
#ifndef OMA_LOCK_H
#define OMA_LOCK_H

#include <stddef.h>

/* The lock file in the backup folder. */
#define LOCK_DIR_FILE ".oma.lock"

/* Bind 127.0.0.1:port (as upstream does) and keep the socket open for the
 * life of the process.  Returns the socket fd, -2 when the port is in use
 * (another instance runs), -1 on any other error (err set). */
int lock_acquire(long port, char *err, size_t errlen);

/* Lock the backup folder `dir` for this process: an exclusive flock() on
 * dir/.oma.lock (created with mode 0600), which then holds this process's
 * PID.  Two configurations with different lock ports but the same
 * backup_dir thus never run at once.  Keep the fd open for the whole run;
 * it is close-on-exec, so no child holds the lock.  Returns the fd; -2 when
 * another process holds the lock (err: "backup folder DIR is locked by PID
 * N"); -1 on any other error (err set). */
int lock_dir(const char *dir, char *err, size_t errlen);

/* For --dry-run: whether lock_dir would get the lock, without writing
 * anything (the lock file is only opened for reading, and only when it
 * exists; a lock taken is let go at once).  Returns 0 when it would, -2
 * when another process holds it (err says who), -1 on an error. */
int lock_dir_check(const char *dir, char *err, size_t errlen);

#endif
