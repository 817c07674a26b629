/* names.h - database name <-> file name stem, safe and reversible. */
#ifndef OMA_NAMES_H
#define OMA_NAMES_H

#include <stddef.h>

/* Longest stem names_encode produces (excluding the NUL); leaves room for
 * a suffix and ".part" within NAME_MAX. */
#define NAMES_STEM_MAX 200

/* Encode database name `db` into a file name stem in `out` (capacity
 * `outlen`, at least NAMES_STEM_MAX + 1).  Bytes in [A-Za-z0-9_-], and '.'
 * when not leading, are kept; every other byte becomes "@hh" (two lowercase
 * hex digits).  When the result would be longer than NAMES_STEM_MAX, it is
 * cut (never inside an "@hh") and "@@" plus 16 hex digits of a hash of the
 * whole name are appended, so distinct names stay distinct.
 * Returns 0, or -1 for an empty name or a too small buffer. */
int names_encode(const char *db, char *out, size_t outlen);

/* Reverse names_encode.  Returns 0, or -1 when `stem` is not a valid
 * encoding or is a hashed (cut) one. */
int names_decode(const char *stem, char *out, size_t outlen);

#endif
