/* names.c - database name <-> file name stem, safe and reversible. */
#include "names.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/utf8.h"
#include "digest.h"

/* A cut stem ends in "@@" and 16 hex digits of the name's hash. */
#define HASH_DIGITS     16
#define HASH_SUFFIX_LEN (2 + HASH_DIGITS)

static const char hexdigits[] = "0123456789abcdef";

/* One encoding: how the name is split into units, which are kept, and
 * the hash of a cut stem. */
struct scheme {
	/* Bytes of the unit starting at db[i] (at least 1); *keep says
	 * whether they are written as they are or as "@hh" each. */
	size_t (*unit)(const char *db, size_t i, bool *keep);
	/* HASH_DIGITS hex digits and a NUL into hex.  Returns 0 or -1. */
	int (*hash)(const char *db, char *hex);
};

/* Whether code point cp, the first character of the name when pos is 0,
 * is escaped (the list in names.h). */
static bool unsafe(unsigned cp, size_t pos)
{
	if (cm_utf8_breaks_line(cp))
		return true; /* C0, DEL, C1, U+2028, U+2029 */
	if (cp == '/' || cp == '@' || (cp == '.' && pos == 0))
		return true;
	return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* A unit is one UTF-8 character, or one byte that does not begin one. */
static size_t utf8_unit(const char *db, size_t i, bool *keep)
{
	size_t n = cm_utf8_len(db + i);
	if (n == 0) {
		*keep = false;
		return 1;
	}
	*keep = !unsafe(cm_utf8_cp(db + i, n), i);
	return n;
}

/* The first HASH_DIGITS hex digits of the SHA-256 of db. */
static int sha256_hash(const char *db, char *hex)
{
	struct digest *d = digest_new();
	if (d == NULL)
		return -1;
	char full[DIGEST_HEX_LEN + 1];
	digest_update(d, db, strlen(db));
	digest_hex(d, full);
	digest_free(d);
	if (full[0] == '\0')
		return -1;
	memcpy(hex, full, HASH_DIGITS);
	hex[HASH_DIGITS] = '\0';
	return 0;
}

/* The first encoding: byte by byte, a small ASCII set kept. */
static size_t legacy_unit(const char *db, size_t i, bool *keep)
{
	unsigned char c = (unsigned char)db[i];
	*keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	        c == '_' || c == '-' || (c == '.' && i > 0);
	return 1;
}

/* 64-bit FNV-1a of the bytes of db, as 16 hex digits. */
static int fnv1a_hash(const char *db, char *hex)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)db; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	for (int k = 0; k < HASH_DIGITS; k++)
		hex[k] = hexdigits[(h >> (60 - 4 * k)) & 0xf];
	hex[HASH_DIGITS] = '\0';
	return 0;
}

static const struct scheme utf8_scheme = {utf8_unit, sha256_hash};
static const struct scheme legacy_scheme = {legacy_unit, fnv1a_hash};

/* Encode db by scheme sc into out (names_encode's contract).  Returns 0
 * or -1. */
static int encode_with(const struct scheme *sc, const char *db, char *out, size_t outlen)
{
	if (db == NULL || db[0] == '\0' || out == NULL || outlen == 0)
		return -1;

	/* Encode the whole name while it fits; remember where the last whole
	 * unit ended that still leaves room for the hash suffix. */
	size_t len = 0;
	size_t cut = 0;
	bool too_long = false;
	for (size_t i = 0; db[i] != '\0';) {
		bool keep;
		size_t n = sc->unit(db, i, &keep);
		size_t width = keep ? n : 3 * n;
		if (len + width > NAMES_STEM_MAX) {
			too_long = true;
			break;
		}
		if (len + width > outlen - 1)
			return -1;
		if (keep) {
			memcpy(out + len, db + i, n);
		} else {
			for (size_t k = 0; k < n; k++) {
				unsigned char c = (unsigned char)db[i + k];
				out[len + 3 * k] = '@';
				out[len + 3 * k + 1] = hexdigits[c >> 4];
				out[len + 3 * k + 2] = hexdigits[c & 0xf];
			}
		}
		len += width;
		i += n;
		if (len <= NAMES_STEM_MAX - HASH_SUFFIX_LEN)
			cut = len;
	}
	if (!too_long) {
		out[len] = '\0';
		return 0;
	}

	if (cut + HASH_SUFFIX_LEN > outlen - 1)
		return -1;
	out[cut++] = '@';
	out[cut++] = '@';
	return sc->hash(db, out + cut);
}

int names_encode(const char *db, char *out, size_t outlen)
{
	return encode_with(&utf8_scheme, db, out, outlen);
}

int names_encode_legacy(const char *db, char *out, size_t outlen)
{
	return encode_with(&legacy_scheme, db, out, outlen);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase is not an encoding encode produces */
}

int names_decode(const char *stem, char *out, size_t outlen)
{
	if (stem == NULL || stem[0] == '\0' || out == NULL || outlen == 0)
		return -1;
	if (strlen(stem) > NAMES_STEM_MAX)
		return -1; /* encode never makes such a stem without cutting it */

	char name[NAMES_STEM_MAX + 1];
	size_t len = 0;
	for (size_t i = 0; stem[i] != '\0';) {
		if (stem[i] != '@') {
			name[len++] = stem[i++];
			continue;
		}
		int hi = hexval(stem[i + 1]);
		int lo = hi < 0 ? -1 : hexval(stem[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1; /* also rejects the "@@" of a cut stem, and NUL */
		name[len++] = (char)(hi << 4 | lo);
		i += 3;
	}
	name[len] = '\0';
	/* Exactly what encode writes, nothing else: one stem per name. */
	char again[NAMES_STEM_MAX + 1];
	if (names_encode(name, again, sizeof(again)) != 0 || strcmp(again, stem) != 0)
		return -1;
	if (len + 1 > outlen)
		return -1;
	memcpy(out, name, len + 1);
	return 0;
}
