/* sums.h - SHA256SUMS of a backup folder in the format of coreutils' sha256sum. */
#ifndef OMA_SUMS_H
#define OMA_SUMS_H

#include <stddef.h>

#include "digest.h"

/* The file every complete backup folder has beside its dumps, so that
 * `sha256sum -c SHA256SUMS` checks them with no oma installed. */
#define SUMS_FILE "SHA256SUMS"

/* One line: a file's base name and its SHA-256 (lower-case hex). */
struct sums_entry {
	char *name;
	char hex[DIGEST_HEX_LEN + 1];
};

/* The lines of one file, in the order read or added. */
struct sums {
	struct sums_entry *v;
	size_t n, cap;
};

/* Add a line (name copied).  hex must be DIGEST_HEX_LEN hex digits. */
void sums_add(struct sums *s, const char *name, const char *hex);

/* The entry of `name`, or NULL. */
const struct sums_entry *sums_find(const struct sums *s, const char *name);

/* Free the lines; *s is empty again. */
void sums_free(struct sums *s);

/* The text of the file: one "HEX  NAME\n" line per entry, sorted by name
 * (bytewise).  A name holding a backslash or a newline is written as
 * coreutils does: the line begins with '\' and those characters become
 * "\\" and "\n".  Returned malloc'ed, its length in *len. */
char *sums_format(const struct sums *s, size_t *len);

/* Write dir/SHA256SUMS atomically (store_write_file).  Returns 0, or -1
 * with err set. */
int sums_write(const char *dir, const struct sums *s, char *err, size_t errlen);

/* Parse text (len bytes) as sha256sum writes it: "HEX  NAME" (text mode)
 * or "HEX *NAME" (binary mode) lines, the escaped form above, a CR before
 * the LF tolerated, blank lines ignored.  *out is emptied first.  Returns
 * 0, or -1 with err naming the line (`what` begins it, e.g. the path). */
int sums_parse(const char *text, size_t len, const char *what, struct sums *out, char *err,
               size_t errlen);

/* Read and parse dir/SHA256SUMS.  Returns 0, 1 when there is none, -1 with
 * err set (unreadable, malformed, larger than SUMS_MAX_BYTES). */
int sums_read(const char *dir, struct sums *out, char *err, size_t errlen);

#define SUMS_MAX_BYTES (64u * 1024 * 1024)

#endif
