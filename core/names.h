/* names.h - database name <-> file name stem, safe and reversible. */
#ifndef OMA_NAMES_H
#define OMA_NAMES_H

#include <stddef.h>

/* Longest stem names_encode produces (excluding the NUL); leaves room for
 * a suffix and ".part" within NAME_MAX. */
#define NAMES_STEM_MAX 200

/* Encode database name `db` into a file name stem in `out` (capacity
 * `outlen`, at least NAMES_STEM_MAX + 1).  The name is read one UTF-8
 * character at a time (well-formed UTF-8 only: no overlong forms, no
 * surrogates, nothing above U+10FFFF).  A character is kept as it is
 * unless it is one of
 *   - the controls: U+0000..U+001F, U+007F, U+0080..U+009F (C1, NEL),
 *   - U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR,
 *   - the bidirectional formatting characters U+061C, U+200E, U+200F,
 *     U+202A..U+202E, U+2066..U+2069 (they change how a listing reads),
 *   - '/' and '@' (the escape), and '.' as the first character;
 * then each of its bytes becomes "@hh" (two lowercase hex digits).  A
 * byte that does not begin a well-formed character becomes "@hh" on its
 * own.  So "ünï" stays "ünï", "a b" stays "a b", "sl/ash" becomes
 * "sl@2fash".  When the result would be longer than NAMES_STEM_MAX bytes,
 * it is cut after the last whole character that leaves room for "@@" and
 * the first 16 hex digits of the SHA-256 of the whole name, which are
 * appended.  The stem is always valid UTF-8 and never contains "/", a
 * control or a leading '.'.  Returns 0, or -1 for an empty name, a too
 * small buffer or no SHA-256 (out of memory). */
int names_encode(const char *db, char *out, size_t outlen);

/* Reverse names_encode: every "@hh" becomes its byte.  Returns 0, or -1
 * when `stem` is not exactly what names_encode makes of some name (an
 * escape it would not write, a character it would have escaped, upper
 * case hex) or is a cut one (with "@@"). */
int names_decode(const char *stem, char *out, size_t outlen);

/* The stem that oma's first encoding (before UTF-8 names were kept) gave
 * `db`: [A-Za-z0-9_-] and a '.' not leading kept, every other byte "@hh",
 * cut with "@@" and 16 hex digits of an FNV-1a hash.  Only to recognise
 * the files of a backup folder written by such a version.  Returns as
 * names_encode. */
int names_encode_legacy(const char *db, char *out, size_t outlen);

#endif
