/* check_names.c - unit tests for core/names.c (database name <-> file stem). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "names.h"
#include "util.h"

static const struct {
	const char *db;
	const char *stem;
} known[] = {
        {"d-e-m-o-2", "d-e-m-o-2"},
        {"plain_DB_09", "plain_DB_09"},
        {"sl/ash", "sl@2fash"},
        {"..", "@2e."},
        {".", "@2e"},
        {"a.b.", "a.b."},
        {".hidden", "@2ehidden"},
        {"quote'db", "quote'db"},
        {"$(touch x)", "$(touch x)"},
        {"\xc3\xbcn\xc3\xaf", "\xc3\xbcn\xc3\xaf"},                 /* ünï */
        {"\xe2\x98\x83x\xe2\x9d\xa4", "\xe2\x98\x83x\xe2\x9d\xa4"}, /* ☃x❤ */
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},                   /* U+1F600 */
        {"a@b", "a@40b"},
        {"@", "@40"},
        {"sp ace", "sp ace"},
        {" ", " "},
        {"-dash", "-dash"},
        {"new\nline", "new@0aline"},
        {"tab\tbed", "tab@09bed"},
        {"del\x7f", "del@7f"},
        {"back\\slash", "back\\slash"},
        {"\xff\xfe", "@ff@fe"},
        {"`x`;\"y\"", "`x`;\"y\""},
        {"*?[]<>|:%~=+&#", "*?[]<>|:%~=+&#"},
        /* C1 controls (NEL), line and paragraph separators */
        {"a\xc2\x85z", "a@c2@85z"},
        {"a\xc2\x9fz", "a@c2@9fz"},
        {"a\xc2\xa0z", "a\xc2\xa0z"}, /* NO-BREAK SPACE is printable */
        {"a\xe2\x80\xa8z", "a@e2@80@a8z"},
        {"a\xe2\x80\xa9z", "a@e2@80@a9z"},
        /* bidirectional formatting characters */
        {"x\xe2\x80\xaegz.lqs", "x@e2@80@aegz.lqs"}, /* U+202E RLO */
        {"\xe2\x80\xaa\xe2\x80\xad", "@e2@80@aa@e2@80@ad"},
        {"\xe2\x81\xa6\xe2\x81\xa9", "@e2@81@a6@e2@81@a9"},
        {"\xe2\x80\x8e\xe2\x80\x8f", "@e2@80@8e@e2@80@8f"},
        {"\xd8\x9c", "@d8@9c"}, /* U+061C ARABIC LETTER MARK */
        /* zero width joiner and non-joiner stay (scripts, emoji need them) */
        {"a\xe2\x80\x8d\xe2\x80\x8c", "a\xe2\x80\x8d\xe2\x80\x8c"},
        /* a leading dot in any form is escaped, a leading non-ASCII is not */
        {".\xc3\xa9", "@2e\xc3\xa9"},
        {"\xc3\xa9.", "\xc3\xa9."},
        /* not UTF-8: overlong, surrogate, above U+10FFFF, cut short, lone
         * continuation bytes: each byte on its own */
        {"\xc0\xaf", "@c0@af"},
        {"\xe0\x80\xaf", "@e0@80@af"},
        {"\xed\xa0\x80", "@ed@a0@80"},
        {"\xf4\x90\x80\x80", "@f4@90@80@80"},
        {"\xc3", "@c3"},
        {"a\xe2\x82", "a@e2@82"},
        {"\x80\xbf", "@80@bf"},
        {"\xc3(", "@c3("},
        /* NFC and NFD of "é" are different names and different files */
        {"\xc3\xa9", "\xc3\xa9"},
        {"e\xcc\x81", "e\xcc\x81"},
};

START_TEST(test_known_encodings)
{
	char out[NAMES_STEM_MAX + 1];
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		ck_assert_int_eq(names_encode(known[i].db, out, sizeof(out)), 0);
		ck_assert_str_eq(out, known[i].stem);
		char back[1024];
		ck_assert_msg(names_decode(out, back, sizeof(back)) == 0, "decode of '%s'", out);
		ck_assert_str_eq(back, known[i].db);
	}
}
END_TEST

/* Whether the stem has a character names_encode escapes (names.h). */
static int has_unsafe(const char *stem)
{
	for (const char *p = stem; *p;) {
		size_t n = cm_utf8_len(p);
		if (n == 0)
			return 1;
		unsigned cp = cm_utf8_cp(p, n);
		if (cm_utf8_breaks_line(cp) || cp == '/' || cp == 0x061c || cp == 0x200e ||
		    cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			return 1;
		p += n;
	}
	return 0;
}

/* A stem is safe as a single file name in a folder: valid UTF-8, no '/',
 * no control, no leading '.', and every '@' an escape or the cut mark. */
static void assert_safe_stem(const char *stem)
{
	ck_assert_uint_gt(strlen(stem), 0);
	ck_assert_uint_le(strlen(stem), NAMES_STEM_MAX);
	ck_assert_int_ne(stem[0], '.');
	ck_assert_msg(!has_unsafe(stem), "stem '%s' has an unsafe character", stem);
	for (const char *p = strchr(stem, '@'); p != NULL; p = strchr(p + 1, '@')) {
		if (p[1] == '@') {
			ck_assert_uint_eq(strlen(p), 18);
			break;
		}
		ck_assert_msg(strchr("0123456789abcdef", p[1]) && p[1] &&
		                      strchr("0123456789abcdef", p[2]) && p[2],
		              "stem '%s' has a bare '@'", stem);
	}
}

struct pair {
	const char *name, *stem;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->stem, y->stem);
	return c != 0 ? c : strcmp(x->name, y->name);
}

/* stems->v[i] is the stem of names->v[i]: no two different names share one. */
static void assert_distinct(const struct strv *names, const struct strv *stems)
{
	struct pair *v = xcalloc(names->n + 1, sizeof(*v));
	for (size_t i = 0; i < names->n; i++)
		v[i] = (struct pair){names->v[i], stems->v[i]};
	qsort(v, names->n, sizeof(*v), cmp_pair);
	for (size_t i = 1; i < names->n; i++)
		if (strcmp(v[i].stem, v[i - 1].stem) == 0)
			ck_assert_msg(strcmp(v[i].name, v[i - 1].name) == 0,
			              "stem '%s' produced by two names", v[i].stem);
	free(v);
}

/* names made of n copies of s (buf of at least n * strlen(s) + 1). */
static void repeat(char *buf, const char *s, size_t n)
{
	size_t len = strlen(s);
	for (size_t k = 0; k < n; k++)
		memcpy(buf + k * len, s, len);
	buf[n * len] = '\0';
}

START_TEST(test_hostile_round_trip)
{
	struct strv names = {0};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		strv_push(&names, known[i].db);
	/* Only dots, 1 to 70 of them. */
	char dots[71];
	for (size_t n = 1; n <= 70; n++) {
		memset(dots, '.', n);
		dots[n] = '\0';
		strv_push(&names, dots);
	}
	/* 64 characters of non-ASCII (2, 3 and 4 byte UTF-8), kept; and of
	 * escaped characters. */
	const char *chars[] =
	        {"\xc3\xa4", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xd0\xaf", "/", "\xe2\x80\xae",
	         "@",        "\x01"};
	for (size_t c = 0; c < sizeof(chars) / sizeof(chars[0]); c++) {
		char buf[64 * 4 + 1];
		repeat(buf, chars[c], 64);
		strv_push(&names, buf);
	}
	/* Every single byte 1..255 alone and in the middle of a name. */
	for (int b = 1; b < 256; b++) {
		char one[2] = {(char)b, '\0'};
		char mid[4] = {'x', (char)b, 'y', '\0'};
		strv_push(&names, one);
		strv_push(&names, mid);
	}
	/* Every code point of the first three planes' edges and every
	 * 0x101st one below U+10FFFF, alone. */
	for (unsigned cp = 0x80; cp <= 0x10ffff; cp += cp < 0x3000 ? 1 : 0x101) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		char u[5] = "";
		if (cp < 0x800) {
			u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			u[2] = (char)(0x80 | (cp & 0x3f));
		} else {
			u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f));
		}
		strv_push(&names, u);
	}
	/* Names whose encoding is exactly at and just over the limit. */
	char edge[NAMES_STEM_MAX + 2];
	memset(edge, 'q', NAMES_STEM_MAX);
	edge[NAMES_STEM_MAX] = '\0';
	strv_push(&names, edge);
	memset(edge, 'q', 66);
	edge[66] = '/';
	edge[67] = '\0'; /* 66 + 3 = 69, short */
	strv_push(&names, edge);

	char stem[NAMES_STEM_MAX + 1];
	char back[1024];
	size_t cut = 0;
	struct strv stems = {0};
	for (size_t i = 0; i < names.n; i++) {
		ck_assert_int_eq(names_encode(names.v[i], stem, sizeof(stem)), 0);
		assert_safe_stem(stem);
		if (strstr(stem, "@@") != NULL) {
			/* Cut (hashed) stems are not reversible. */
			ck_assert_int_eq(names_decode(stem, back, sizeof(back)), -1);
			cut++;
		} else {
			ck_assert_msg(names_decode(stem, back, sizeof(back)) == 0,
			              "decode of '%s' failed", stem);
			ck_assert_str_eq(back, names.v[i]);
		}
		strv_push(&stems, stem);
	}
	/* 64 x U+1F600 (256 bytes), U+202E (576) and U+0001 (192, not cut). */
	ck_assert_uint_eq(cut, 2);
	assert_distinct(&names, &stems);
	strv_free(&stems);
	strv_free(&names);
}
END_TEST

START_TEST(test_exact_limit_not_cut)
{
	char name[NAMES_STEM_MAX + 1];
	memset(name, 'a', NAMES_STEM_MAX);
	name[NAMES_STEM_MAX] = '\0';
	char stem[NAMES_STEM_MAX + 1];
	ck_assert_int_eq(names_encode(name, stem, sizeof(stem)), 0);
	ck_assert_str_eq(stem, name);
	ck_assert_ptr_null(strstr(stem, "@@"));
	/* 100 two-byte characters: 200 bytes, kept whole. */
	char two[201];
	repeat(two, "\xc3\xa4", 100);
	ck_assert_int_eq(names_encode(two, stem, sizeof(stem)), 0);
	ck_assert_str_eq(stem, two);
	/* The longest name MariaDB allows, 64 characters of 3 bytes: kept. */
	char three[193];
	repeat(three, "\xe2\x82\xac", 64);
	ck_assert_int_eq(names_encode(three, stem, sizeof(stem)), 0);
	ck_assert_str_eq(stem, three);
}
END_TEST

/* The part of a cut stem before "@@": valid UTF-8, decodes, and is the
 * encoding of a prefix of the name, cut between two characters. */
static void assert_good_cut(const char *name, const char *stem)
{
	const char *mark = strstr(stem, "@@");
	ck_assert_ptr_nonnull(mark);
	ck_assert_uint_eq(strlen(mark), 18);
	for (const char *h = mark + 2; *h; h++)
		ck_assert((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f'));
	ck_assert_uint_ge(strlen(stem), NAMES_STEM_MAX - 11); /* a unit is at most 12 bytes */
	char head[NAMES_STEM_MAX + 1], back[NAMES_STEM_MAX + 1];
	memcpy(head, stem, (size_t)(mark - stem));
	head[mark - stem] = '\0';
	if (head[0] == '\0')
		return;
	ck_assert_msg(names_decode(head, back, sizeof(back)) == 0, "head '%s' of '%s'", head, stem);
	size_t n = strlen(back);
	ck_assert(strncmp(back, name, n) == 0);
	/* Walking the name by characters (a byte that begins none on its
	 * own) lands on the cut: no character was split. */
	size_t i = 0;
	while (i < n) {
		size_t len = cm_utf8_len(name + i);
		i += len > 0 ? len : 1;
	}
	ck_assert_uint_eq(i, n);
}

START_TEST(test_long_names_cut_and_distinct)
{
	char stem[NAMES_STEM_MAX + 1];
	char back[2048];
	struct strv stems = {0};
	/* Long names that share a long common prefix and differ only at the end. */
	for (int variant = 0; variant < 40; variant++) {
		char name[600];
		repeat(name, "\xe2\x80\xa8", 60); /* each byte becomes "@hh" */
		size_t len = strlen(name);
		name[len++] = (char)('A' + variant % 26);
		name[len++] = (char)('0' + variant / 26);
		name[len] = '\0';
		ck_assert_int_eq(names_encode(name, stem, sizeof(stem)), 0);
		assert_safe_stem(stem);
		assert_good_cut(name, stem);
		ck_assert_int_eq(names_decode(stem, back, sizeof(back)), -1);
		ck_assert(!strv_contains(&stems, stem));
		strv_push(&stems, stem);
		/* Deterministic. */
		char again[NAMES_STEM_MAX + 1];
		ck_assert_int_eq(names_encode(name, again, sizeof(again)), 0);
		ck_assert_str_eq(again, stem);
	}
	/* A very long plain name, cut between plain characters. */
	char plain[5000];
	memset(plain, 'z', sizeof(plain) - 1);
	plain[sizeof(plain) - 1] = '\0';
	ck_assert_int_eq(names_encode(plain, stem, sizeof(stem)), 0);
	assert_safe_stem(stem);
	ck_assert_uint_eq(strlen(stem), NAMES_STEM_MAX);
	ck_assert(!strv_contains(&stems, stem));
	/* A long name of dots is cut too and stays safe. */
	memset(plain, '.', 300);
	plain[300] = '\0';
	ck_assert_int_eq(names_encode(plain, stem, sizeof(stem)), 0);
	assert_safe_stem(stem);
	assert_good_cut(plain, stem);
	strv_free(&stems);
}
END_TEST

START_TEST(test_cut_on_character_boundary)
{
	/* Vary the ASCII prefix so that every alignment of 2, 3 and 4 byte
	 * characters, kept or escaped, against the cut point occurs. */
	static const char *const chars[] =
	        {"\xc3\xa4", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x80\xae", "\xc2\x85", " ",
	         "/"};
	char stem[NAMES_STEM_MAX + 1];
	for (size_t c = 0; c < sizeof(chars) / sizeof(chars[0]); c++)
		for (int prefix = 0; prefix < 12; prefix++) {
			char name[1024];
			memset(name, 'p', (size_t)prefix);
			repeat(name + prefix, chars[c], 240);
			ck_assert_int_eq(names_encode(name, stem, sizeof(stem)), 0);
			assert_safe_stem(stem);
			assert_good_cut(name, stem);
		}
}
END_TEST

START_TEST(test_sha256_suffix)
{
	/* The hash is the first 16 hex digits of the name's SHA-256:
	 * printf 'z%.0s' {1..300} | sha256sum */
	char name[301], stem[NAMES_STEM_MAX + 1];
	memset(name, 'z', 300);
	name[300] = '\0';
	ck_assert_int_eq(names_encode(name, stem, sizeof(stem)), 0);
	ck_assert_uint_eq(strlen(stem), NAMES_STEM_MAX);
	ck_assert_int_eq(strncmp(stem, name, NAMES_STEM_MAX - 18), 0);
	ck_assert_str_eq(stem + NAMES_STEM_MAX - 18, "@@7cf7dc7f99e7185a");
}
END_TEST

START_TEST(test_legacy_encoding)
{
	static const struct {
		const char *db, *stem;
	} old[] = {
	        {"plain_DB_09", "plain_DB_09"},
	        {"sl/ash", "sl@2fash"},
	        {"..", "@2e."},
	        {"a.b.", "a.b."},
	        {"quote'db", "quote@27db"},
	        {"$(touch x)", "@24@28touch@20x@29"},
	        {"\xc3\xbcn\xc3\xaf", "@c3@bcn@c3@af"},
	        {"a@b", "a@40b"},
	        {"sp ace", "sp@20ace"},
	        {"\xff\xfe", "@ff@fe"},
	};
	char out[NAMES_STEM_MAX + 1], now[NAMES_STEM_MAX + 1];
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		ck_assert_int_eq(names_encode_legacy(old[i].db, out, sizeof(out)), 0);
		ck_assert_str_eq(out, old[i].stem);
	}
	/* Names of [A-Za-z0-9_.-], '/' and '@' have the same stem in both. */
	static const char *const same[] = {"shop", "d-e-m-o-2", "sl/ash", "..", "@at", "a.b"};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		ck_assert_int_eq(names_encode_legacy(same[i], out, sizeof(out)), 0);
		ck_assert_int_eq(names_encode(same[i], now, sizeof(now)), 0);
		ck_assert_str_eq(out, now);
	}
	/* An old stem is never the new stem of another name: both decode
	 * "@hh" the same way and keep everything else. */
	static const char *const other[] = {"my db", "my@20db", "\xc3\xbc", "@c3@bc", "x y"};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		for (size_t j = 0; j < sizeof(other) / sizeof(other[0]); j++) {
			if (i == j)
				continue;
			ck_assert_int_eq(names_encode_legacy(other[i], out, sizeof(out)), 0);
			ck_assert_int_eq(names_encode(other[j], now, sizeof(now)), 0);
			ck_assert_str_ne(out, now);
		}
	/* The old cut: 16 hex digits of FNV-1a 64. */
	char name[301];
	memset(name, ' ', 300);
	name[300] = '\0';
	ck_assert_int_eq(names_encode_legacy(name, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "@@"));
	ck_assert_uint_le(strlen(out), NAMES_STEM_MAX);
}
END_TEST

START_TEST(test_encode_errors)
{
	char out[NAMES_STEM_MAX + 1];
	ck_assert_int_eq(names_encode("", out, sizeof(out)), -1);
	ck_assert_int_eq(names_encode(NULL, out, sizeof(out)), -1);
	char tiny[4];
	ck_assert_int_eq(names_encode("abcdef", tiny, sizeof(tiny)), -1);
	ck_assert_int_eq(names_encode("abc", tiny, sizeof(tiny)), 0);
	ck_assert_str_eq(tiny, "abc");
	ck_assert_int_eq(names_encode("\xc3\xa4\xc3\xa4", tiny, sizeof(tiny)), -1);
	ck_assert_int_eq(names_encode("/", tiny, sizeof(tiny)), 0);
	ck_assert_str_eq(tiny, "@2f");
}
END_TEST

START_TEST(test_decode_rejects)
{
	static const char *const bad[] = {
	        "",   /* empty */
	        ".x", /* leading dot is always escaped */
	        ".",
	        "..",
	        "a/b",           /* '/' would have been escaped */
	        "a\nb",          /* controls too */
	        "a\x7f",         /* DEL */
	        "a\xc2\x85",     /* NEL */
	        "a\xe2\x80\xae", /* RLO */
	        "a\xe2\x80\xa8", /* LINE SEPARATOR */
	        "\xff",          /* not UTF-8 */
	        "\xc3",
	        "\xed\xa0\x80", /* surrogate */
	        "a@",           /* truncated escape */
	        "a@2",
	        "a@2G", /* not hex */
	        "a@zz",
	        "a@2F", /* uppercase hex is never produced */
	        "@C3@BC",
	        "@61",                /* 'a' would have been kept */
	        "@20",                /* so would a space */
	        "@c3@bc",             /* and "ü" */
	        "@c3\xbc",            /* half escaped */
	        "x@2e",               /* non-leading '.' is kept, not escaped */
	        "@2d",                /* '-' is kept */
	        "@00",                /* NUL cannot be in a name */
	        "@@0123456789abcdef", /* cut stems do not decode */
	        "abc@@0123456789abcdef",
	        "a@@b",
	        "a@b", /* '@' itself is escaped */
	};
	char out[512];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(names_decode(bad[i], out, sizeof(out)) == -1, "accepted '%s'",
		              bad[i]);

	/* Longer than any uncut stem. */
	char big[NAMES_STEM_MAX + 2];
	memset(big, 'a', NAMES_STEM_MAX + 1);
	big[NAMES_STEM_MAX + 1] = '\0';
	ck_assert_int_eq(names_decode(big, out, sizeof(out)), -1);
	big[NAMES_STEM_MAX] = '\0';
	ck_assert_int_eq(names_decode(big, out, sizeof(out)), 0);

	/* Output buffer too small. */
	char tiny[3];
	ck_assert_int_eq(names_decode("abc", tiny, sizeof(tiny)), -1);
	ck_assert_int_eq(names_decode("@2e", tiny, sizeof(tiny)), 0);
	ck_assert_str_eq(tiny, ".");
}
END_TEST

/* For every accepted stem x, encode(decode(x)) == x: try every short stem
 * over an alphabet that mixes kept bytes, escapes and junk. */
START_TEST(test_decode_encode_identity)
{
	static const char *const parts[] = {"a",        ".",
	                                    "@2e",      "@2f",
	                                    "@40",      "@61",
	                                    "@",        "/",
	                                    "Z",        "@ff",
	                                    "@FF",      "-",
	                                    "@0",       "@2",
	                                    "e",        " ",
	                                    "@20",      "\xc3",
	                                    "\xbc",     "@c3",
	                                    "@bc",      "\xc3\xbc",
	                                    "@e2",      "@80",
	                                    "@ae",      "\xe2\x80\xae",
	                                    "\xcc\x81", "@cc",
	                                    "@81",      "@0a"};
	const size_t np = sizeof(parts) / sizeof(parts[0]);
	size_t accepted = 0;
	for (size_t i = 0; i < np; i++)
		for (size_t j = 0; j < np; j++)
			for (size_t k = 0; k < np; k++) {
				char stem[32] = "";
				size_t len = 0;
				const char *pick[3] = {parts[i], parts[j], parts[k]};
				for (int m = 0; m < 3; m++) {
					memcpy(stem + len, pick[m], strlen(pick[m]));
					len += strlen(pick[m]);
				}
				stem[len] = '\0';
				char name[64];
				if (names_decode(stem, name, sizeof(name)) != 0)
					continue;
				accepted++;
				char again[NAMES_STEM_MAX + 1];
				ck_assert_int_eq(names_encode(name, again, sizeof(again)), 0);
				ck_assert_str_eq(again, stem);
			}
	ck_assert_uint_gt(accepted, 1000);
}
END_TEST

/* Random names (a fixed seed) of bytes drawn from a mix of ASCII, escaped
 * and multi-byte characters, and junk: encode and decode are inverse, and
 * no two names share a stem. */
START_TEST(test_random_names)
{
	static const char *const pieces[] = {"a",
	                                     "Z",
	                                     ".",
	                                     "/",
	                                     "@",
	                                     " ",
	                                     "\x01",
	                                     "\xc3\xa9",
	                                     "e\xcc\x81",
	                                     "\xe2\x80\xae",
	                                     "\xe2\x82\xac",
	                                     "\xf0\x9f\x98\x80",
	                                     "\xff",
	                                     "\xc3",
	                                     "\x80",
	                                     "@2e"};
	const size_t np = sizeof(pieces) / sizeof(pieces[0]);
	uint64_t x = 88172645463325252ULL; /* xorshift64 */
	struct strv names = {0}, stems = {0};
	for (int i = 0; i < 3000; i++) {
		char name[1024];
		size_t len = 0;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t count = 1 + (size_t)(x % 80);
		for (size_t k = 0; k < count; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			const char *p = pieces[x % np];
			memcpy(name + len, p, strlen(p));
			len += strlen(p);
		}
		name[len] = '\0';
		char stem[NAMES_STEM_MAX + 1], back[1024];
		ck_assert_int_eq(names_encode(name, stem, sizeof(stem)), 0);
		assert_safe_stem(stem);
		if (strstr(stem, "@@") != NULL) {
			assert_good_cut(name, stem);
		} else {
			ck_assert_int_eq(names_decode(stem, back, sizeof(back)), 0);
			ck_assert_str_eq(back, name);
		}
		strv_push(&names, name);
		strv_push(&stems, stem);
	}
	assert_distinct(&names, &stems);
	strv_free(&names);
	strv_free(&stems);
}
END_TEST

static Suite *names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_known_encodings);
	tcase_add_test(tc, test_hostile_round_trip);
	tcase_add_test(tc, test_exact_limit_not_cut);
	tcase_add_test(tc, test_long_names_cut_and_distinct);
	tcase_add_test(tc, test_cut_on_character_boundary);
	tcase_add_test(tc, test_sha256_suffix);
	tcase_add_test(tc, test_legacy_encoding);
	tcase_add_test(tc, test_encode_errors);
	tcase_add_test(tc, test_decode_rejects);
	tcase_add_test(tc, test_decode_encode_identity);
	tcase_add_test(tc, test_random_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(names_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
