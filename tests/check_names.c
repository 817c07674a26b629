/* check_names.c - unit tests for core/names.c (database name <-> file stem). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

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
        {"quote'db", "quote@27db"},
        {"$(touch x)", "@24@28touch@20x@29"},
        {"\xc3\xbcn\xc3\xaf", "@c3@bcn@c3@af"},
        {"a@b", "a@40b"},
        {"sp ace", "sp@20ace"},
        {"new\nline", "new@0aline"},
        {"tab\tbed", "tab@09bed"},
        {"back\\slash", "back@5cslash"},
        {"\xff\xfe", "@ff@fe"},
        {"`x`;\"y\"", "@60x@60@3b@22y@22"},
};

START_TEST(test_known_encodings)
{
	char out[NAMES_STEM_MAX + 1];
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		ck_assert_int_eq(names_encode(known[i].db, out, sizeof(out)), 0);
		ck_assert_str_eq(out, known[i].stem);
		char back[1024];
		ck_assert_int_eq(names_decode(out, back, sizeof(back)), 0);
		ck_assert_str_eq(back, known[i].db);
	}
}
END_TEST

/* A stem is safe as a single file name in a folder. */
static void assert_safe_stem(const char *stem)
{
	ck_assert_uint_gt(strlen(stem), 0);
	ck_assert_uint_le(strlen(stem), NAMES_STEM_MAX);
	ck_assert_ptr_null(strchr(stem, '/'));
	ck_assert_int_ne(stem[0], '.');
	ck_assert_str_ne(stem, ".");
	ck_assert_str_ne(stem, "..");
	for (const unsigned char *p = (const unsigned char *)stem; *p; p++) {
		int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		         (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.' ||
		         *p == '@';
		ck_assert_msg(ok, "stem '%s' has byte 0x%02x", stem, *p);
	}
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
	/* 64 characters of non-ASCII (2, 3 and 4 byte UTF-8). */
	const char *chars[] = {"\xc3\xa4", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xd0\xaf"};
	for (size_t c = 0; c < sizeof(chars) / sizeof(chars[0]); c++) {
		char buf[64 * 4 + 1] = "";
		size_t len = 0;
		for (int k = 0; k < 64; k++) {
			memcpy(buf + len, chars[c], strlen(chars[c]));
			len += strlen(chars[c]);
		}
		buf[len] = '\0';
		strv_push(&names, buf);
	}
	/* 33 two-byte characters: 66 escaped bytes, 198 stem bytes, not cut. */
	{
		char buf[67];
		for (int k = 0; k < 33; k++)
			memcpy(buf + 2 * k, "\xc3\xa4", 2);
		buf[66] = '\0';
		strv_push(&names, buf);
	}
	/* Every single byte 1..255 alone and in the middle of a name. */
	for (int b = 1; b < 256; b++) {
		char one[2] = {(char)b, '\0'};
		char mid[4] = {'x', (char)b, 'y', '\0'};
		strv_push(&names, one);
		strv_push(&names, mid);
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
	for (size_t i = 0; i < names.n; i++) {
		ck_assert_int_eq(names_encode(names.v[i], stem, sizeof(stem)), 0);
		assert_safe_stem(stem);
		if (strstr(stem, "@@") != NULL) {
			/* Cut (hashed) stems are not reversible. */
			ck_assert_int_eq(names_decode(stem, back, sizeof(back)), -1);
			cut++;
			continue;
		}
		ck_assert_msg(names_decode(stem, back, sizeof(back)) == 0, "decode of '%s' failed",
		              stem);
		ck_assert_str_eq(back, names.v[i]);
	}
	ck_assert_uint_eq(cut, 4); /* the four 64-character non-ASCII names */
	/* Distinct names give distinct stems. */
	struct strv stems = {0};
	for (size_t i = 0; i < names.n; i++) {
		ck_assert_int_eq(names_encode(names.v[i], stem, sizeof(stem)), 0);
		if (strv_contains(&stems, stem)) {
			/* The same name may appear twice in the list; only flag real clashes. */
			size_t same = 0;
			for (size_t j = 0; j < i; j++)
				same += strcmp(names.v[j], names.v[i]) == 0;
			ck_assert_msg(same > 0, "stem '%s' produced by two names", stem);
		}
		strv_push(&stems, stem);
	}
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
}
END_TEST

START_TEST(test_long_names_cut_and_distinct)
{
	char stem[NAMES_STEM_MAX + 1];
	char back[2048];
	struct strv stems = {0};
	/* Long names that share a long common prefix and differ only at the end. */
	for (int variant = 0; variant < 40; variant++) {
		char name[600];
		size_t len = 0;
		for (int k = 0; k < 150; k++) {
			memcpy(name + len, "\xc3\xa9", 2); /* each byte becomes "@hh" */
			len += 2;
		}
		name[len++] = (char)('A' + variant % 26);
		name[len++] = (char)('0' + variant / 26);
		name[len] = '\0';
		ck_assert_int_eq(names_encode(name, stem, sizeof(stem)), 0);
		assert_safe_stem(stem);
		const char *mark = strstr(stem, "@@");
		ck_assert_ptr_nonnull(mark);
		ck_assert_uint_eq(strlen(mark), 18);
		for (const char *h = mark + 2; *h; h++)
			ck_assert((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f'));
		/* The cut did not split an "@hh": the part before "@@" decodes. */
		char head[NAMES_STEM_MAX + 1];
		memcpy(head, stem, (size_t)(mark - stem));
		head[mark - stem] = '\0';
		ck_assert_int_eq(names_decode(head, back, sizeof(back)), 0);
		ck_assert(strncmp(back, name, strlen(back)) == 0);
		/* A cut stem is not decodable. */
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
	ck_assert_ptr_nonnull(strstr(stem, "@@"));
	strv_free(&stems);
}
END_TEST

START_TEST(test_cut_never_splits_escape)
{
	/* Vary the plain prefix length so that every alignment of the "@hh"
	 * units against the cut point occurs. */
	char stem[NAMES_STEM_MAX + 1];
	char back[2048];
	for (int prefix = 0; prefix < 6; prefix++) {
		char name[400];
		memset(name, 'p', (size_t)prefix);
		memset(name + prefix, ' ', 200);
		name[prefix + 200] = '\0';
		ck_assert_int_eq(names_encode(name, stem, sizeof(stem)), 0);
		const char *mark = strstr(stem, "@@");
		ck_assert_ptr_nonnull(mark);
		char head[NAMES_STEM_MAX + 1];
		memcpy(head, stem, (size_t)(mark - stem));
		head[mark - stem] = '\0';
		ck_assert_int_eq(names_decode(head, back, sizeof(back)), 0);
		ck_assert_uint_le(strlen(stem), NAMES_STEM_MAX);
		ck_assert_uint_ge(strlen(stem), NAMES_STEM_MAX - 2);
	}
}
END_TEST

START_TEST(test_encode_errors)
{
	char out[NAMES_STEM_MAX + 1];
	ck_assert_int_eq(names_encode("", out, sizeof(out)), -1);
	char tiny[4];
	ck_assert_int_eq(names_encode("abcdef", tiny, sizeof(tiny)), -1);
	ck_assert_int_eq(names_encode("abc", tiny, sizeof(tiny)), 0);
	ck_assert_str_eq(tiny, "abc");
}
END_TEST

START_TEST(test_decode_rejects)
{
	static const char *const bad[] = {
	        "",   /* empty */
	        ".x", /* leading dot is always escaped */
	        ".",
	        "..",
	        "a/b", /* '/' would have been escaped */
	        "a b",
	        "a'b",
	        "\xc3\xa4", /* raw non-ASCII */
	        "a@",       /* truncated escape */
	        "a@2",
	        "a@2G", /* not hex */
	        "a@zz",
	        "a@2F", /* uppercase hex is never produced */
	        "@C3@BC",
	        "@61",                /* 'a' would have been kept */
	        "x@2e",               /* non-leading '.' is kept, not escaped */
	        "@2d",                /* '-' is kept */
	        "@00",                /* NUL cannot be in a name */
	        "@@0123456789abcdef", /* cut stems do not decode */
	        "abc@@0123456789abcdef",
	        "a@@b",
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
	static const char *const parts[] = {"a", ".",   "@2e", "@2f", "@40", "@61", "@", "/",
	                                    "Z", "@ff", "@FF", "-",   "@0",  "@2",  "e"};
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
	ck_assert_uint_gt(accepted, 100);
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
	tcase_add_test(tc, test_cut_never_splits_escape);
	tcase_add_test(tc, test_encode_errors);
	tcase_add_test(tc, test_decode_rejects);
	tcase_add_test(tc, test_decode_encode_identity);
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
