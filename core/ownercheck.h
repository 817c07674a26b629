/* ownercheck.h - running as root, refuse plugin files and folders that anyone but root can change. */
#ifndef OMA_OWNERCHECK_H
#define OMA_OWNERCHECK_H

#include <stddef.h>
#include <sys/stat.h>

/* Running as root (else nothing is checked), oma loads code only from
 * files and folders that only root can change: `st`, the fstat/stat of
 * `path`, owned by root and not writable by group or others.  `what` is
 * "file" or "folder", for the message.  Returns 0, or -1 with err set
 * ("plugin folder P is writable by others (mode 0777): refusing to load
 * code from it as root"). */
int owner_check(const char *what, const char *path, const struct stat *st, char *err,
                size_t errlen);

/* Running as root (else nothing is checked), every folder above `dir` (a
 * real path, no links), up to /, must be one only root can change too:
 * whoever can write to one can rename what is in it and put a folder of
 * their own in its place.  A root-owned folder with the sticky bit (/tmp)
 * is safe there: others can add to it but not rename or remove what root
 * put in it.  Returns 0, or -1 with err set. */
int owner_check_above(const char *dir, char *err, size_t errlen);

/* The folder the file at the real path `real` is in and every folder
 * above, as owner_check and owner_check_above say.  Returns 0, or -1 with
 * err set (also when that folder cannot be stat'ed, as any user). */
int owner_check_folders(const char *real, char *err, size_t errlen);

#endif
