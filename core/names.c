/* names.c - database name <-> file name stem, safe and reversible. */
#include "names.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* A cut stem ends in "@@" and 16 hex digits of the name's hash. */
#define HASH_SUFFIX_LEN (2 + 16)

static const char hexdigits[] = "0123456789abcdef";

/* Whether encode keeps byte `c` at position `pos` of the name as it is. */
static bool kept(unsigned char c, size_t pos)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	if (c == '_' || c == '-')
		return true;
	return c == '.' && pos > 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* uppercase is not an encoding encode produces */
}

/* 64-bit FNV-1a of the bytes of s. */
static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int names_encode(const char *db, char *out, size_t outlen)
{
	if (db == NULL || db[0] == '\0' || out == NULL || outlen == 0)
		return -1;

	/* Encode the whole name while it fits; remember where the last whole
	 * unit ended that still leaves room for the hash suffix. */
	size_t len = 0;
	size_t cut = 0;
	bool too_long = false;
	for (size_t i = 0; db[i] != '\0'; i++) {
		unsigned char c = (unsigned char)db[i];
		size_t unit = kept(c, i) ? 1 : 3;
		if (len + unit > NAMES_STEM_MAX) {
			too_long = true;
			break;
		}
		if (len + unit > outlen - 1)
			return -1;
		if (unit == 1) {
			out[len] = (char)c;
		} else {
			out[len] = '@';
			out[len + 1] = hexdigits[c >> 4];
			out[len + 2] = hexdigits[c & 0xf];
		}
		len += unit;
		if (len <= NAMES_STEM_MAX - HASH_SUFFIX_LEN)
			cut = len;
	}
	if (!too_long) {
		out[len] = '\0';
		return 0;
	}

	if (cut + HASH_SUFFIX_LEN > outlen - 1)
		return -1;
	uint64_t h = fnv1a64(db);
	out[cut++] = '@';
	out[cut++] = '@';
	for (int shift = 60; shift >= 0; shift -= 4)
		out[cut++] = hexdigits[(h >> shift) & 0xf];
	out[cut] = '\0';
	return 0;
}

int names_decode(const char *stem, char *out, size_t outlen)
{
	if (stem == NULL || stem[0] == '\0' || out == NULL || outlen == 0)
		return -1;
	if (strlen(stem) > NAMES_STEM_MAX)
		return -1; /* encode never makes such a stem without cutting it */

	size_t len = 0;
	for (size_t i = 0; stem[i] != '\0';) {
		unsigned char c;
		if (stem[i] == '@') {
			int hi = hexval(stem[i + 1]);
			int lo = hi < 0 ? -1 : hexval(stem[i + 2]);
			if (hi < 0 || lo < 0)
				return -1; /* also rejects the "@@" of a cut stem */
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0' || kept(c, len))
				return -1; /* encode would not have written this */
			i += 3;
		} else {
			c = (unsigned char)stem[i];
			if (!kept(c, len))
				return -1;
			i++;
		}
		if (len + 1 > outlen - 1)
			return -1;
		out[len++] = (char)c;
	}
	out[len] = '\0';
	return 0;
}
