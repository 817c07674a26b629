/* check_shim.c - unit tests for core/shim.c: what libinih does to lines, and values that survive it. */
#include <check.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "settings.h"
#include "util.h"

static struct oma_config cfg;
static char err[1024];

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
}

static void teardown(void)
{
	cfg_free(&cfg);
}

/* ---- what the installed libinih does -------------------------------------
 *
 * shim.c writes its lines around these behaviours of Debian's libinih 55;
 * each test puts one to the library itself, so that a libinih that
 * behaves otherwise is noticed here. */

/* What inih handed to the handler, one "[section] key=value" line each. */
static struct strv calls;

static int record(void *user, const char *section, const char *key, const char *value)
{
	(void)user;
	char *s = xasprintf("[%s] %s=%s", section, key, value);
	strv_push(&calls, s);
	free(s);
	return 1;
}

/* Parse `text` with ini_parse_string into calls; returns inih's result. */
static int inih(const char *text)
{
	strv_free(&calls);
	return ini_parse_string(text, record, NULL);
}

#define CALL(i, want) ck_assert_str_eq(calls.v[i], want)

static int reader_num;

static char *one_line(char *str, int num, void *stream)
{
	int *left = stream;
	reader_num = num;
	if ((*left)-- <= 0)
		return NULL;
	(void)snprintf(str, (size_t)num, "k = v\n");
	return str;
}

START_TEST(test_inih_line_buffer)
{
	/* The reader gets INI_MAX_LINE (200) bytes for a line ... */
	int left = 1;
	ck_assert_int_eq(ini_parse_stream(one_line, &left, record, NULL), 0);
	ck_assert_int_eq(reader_num, INI_MAX_LINE);
	ck_assert_int_eq(reader_num, 200);
	/* ... and what does not fit is read as a line of its own. */
	char *line = xmalloc(301);
	memset(line, 'v', 300);
	memcpy(line, "k = ", 4);
	line[300] = '\0';
	ck_assert_int_eq(inih(line), 2); /* line 2: the rest, without '=' */
	ck_assert_uint_eq(calls.n, 1);
	ck_assert_uint_eq(strlen(calls.v[0]), strlen("[] k=") + 199 - 4);
	free(line);
}
END_TEST

START_TEST(test_inih_comments_and_trimming)
{
	ck_assert_int_eq(inih("a = x ;c\nb = x;c\nc = ;x\nc2 =;x\n  # indented\n;c\n#c\n"
	                      "d\t=  spaced out \t\ne = #x\nf = x\t;c\n"),
	                 0);
	ck_assert_uint_eq(calls.n, 7);
	CALL(0, "[] a=x");   /* ';' after whitespace starts a comment */
	CALL(1, "[] b=x;c"); /* not without the whitespace */
	CALL(2, "[] c=");    /* the whitespace before the value counts */
	CALL(3, "[] c2=;x");
	CALL(4, "[] d=spaced out");
	CALL(5, "[] e=#x"); /* '#' is a comment only at the start of a line */
	CALL(6, "[] f=x");
}
END_TEST

START_TEST(test_inih_continuation)
{
	char *key = xmalloc(61);
	memset(key, 'k', 60);
	key[60] = '\0';
	char *text = xasprintf("a = 1\n  two  \n\tthree ;x\n  #four\n  ;five\n  [six]\n"
	                       "%s = x\n y\n",
	                       key);
	ck_assert_int_eq(inih(text), 0);
	ck_assert_uint_eq(calls.n, 6);
	CALL(0, "[] a=1");
	CALL(1, "[] a=two");      /* trimmed, under the same key */
	CALL(2, "[] a=three ;x"); /* no inline comment in a continuation */
	CALL(3, "[] a=[six]");    /* '#' and ';' lines are comments, '[' is not a section */
	char *want = xasprintf("[] %s=x", key);
	CALL(4, want);
	free(want);
	/* a continuation comes under the first 49 bytes of a long key */
	want = xasprintf("[] %.49s=y", key);
	CALL(5, want);
	free(want);
	free(text);
	free(key);
}
END_TEST

START_TEST(test_inih_delimiters_and_sections)
{
	char *name = xmalloc(61);
	memset(name, 's', 60);
	name[60] = '\0';
	char *text = xasprintf("a : b = c\n[x] junk\nq = 1\n[a]b]\nr = 1\n[]\nt = 1\n"
	                       "[%.49s]\nu = 1\n[%s]\nv = 1\n[y ;c]\nw = 1\n",
	                       name, name);
	ck_assert_int_eq(inih(text), 12); /* "[y ;c]": no ']' before the comment */
	ck_assert_uint_eq(calls.n, 7);
	CALL(0, "[] a=b = c"); /* ':' ends a key as '=' does */
	CALL(1, "[x] q=1");
	CALL(2, "[a] r=1"); /* ']' ends a section name */
	CALL(3, "[] t=1");  /* "[]" is the top level again */
	char *want = xasprintf("[%.49s] u=1", name);
	CALL(4, want); /* 49 bytes of a name are kept ... */
	free(want);
	want = xasprintf("[%.49s] v=1", name);
	CALL(5, want); /* ... and no more */
	free(want);
	want = xasprintf("[%.49s] w=1", name);
	CALL(6, want); /* the refused section line changed nothing */
	free(want);
	free(text);
	free(name);
}
END_TEST

/* ---- values, keys and tables that inih would cut ------------------------- */

/* Load `text` after a [main] header with backup_dir /tmp (lines 1-2)
 * into cfg.  Returns 0 or -1 (err set). */
static int load(const char *text)
{
	cfg_free(&cfg);
	char *s = xasprintf("[main]\nbackup_dir = \"/tmp\"\n%s", text);
	int rc = cfg_load_string("t.conf", s, &cfg, err, sizeof(err));
	free(s);
	return rc;
}

/* load(text), which must succeed. */
static void load_ok(const char *text)
{
	ck_assert_msg(load(text) == 0, "unexpected error: %s", err);
}

static const struct cfg_value *value(const char *section, const char *key)
{
	const struct cfg_value *v = settings_file_value(&cfg, section, key);
	ck_assert_msg(v != NULL, "no value %s.%s", section, key);
	return v;
}

/* `s` as a TOML basic string; the caller frees. */
static char *quoted(const char *s)
{
	char *out = NULL;
	size_t len = 0, cap = 0;
	buf_append(&out, &len, &cap, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_append(&out, &len, &cap, "\\", 1);
		buf_append(&out, &len, &cap, s, 1);
	}
	buf_append(&out, &len, &cap, "\"", 1);
	return out;
}

START_TEST(test_inih_characters_in_values)
{
	/* ';' is no TOML comment, even where inih would take it for one */
	ck_assert_int_eq(load("[x]\nlist = [\"a\"] ; comment\n"), -1);
	ck_assert_str_eq(err, "config t.conf:4: unexpected ';' after value");
	load_ok("[x]\n"
	        "semi = \"a ; b;c\t;d\"\n"
	        "hash = '# not a comment #'\n"
	        "colon = \"k: v = w\"\n"
	        "brackets = \"[not] [a section]\"\n"
	        "edges = \"  spaces and tabs\t \"\n"
	        "list = [\"; a\", '#b', \" c:\", \"[d]\", \"=e\"]\n");
	ck_assert_str_eq(cfg_get(&cfg, "x", "semi"), "a ; b;c\t;d");
	ck_assert_str_eq(cfg_get(&cfg, "x", "hash"), "# not a comment #");
	ck_assert_str_eq(cfg_get(&cfg, "x", "colon"), "k: v = w");
	ck_assert_str_eq(cfg_get(&cfg, "x", "brackets"), "[not] [a section]");
	ck_assert_str_eq(cfg_get(&cfg, "x", "edges"), "  spaces and tabs\t ");
	const struct cfg_value *l = value("x", "list");
	ck_assert_uint_eq(l->arr.n, 5);
	ck_assert_str_eq(l->arr.v[0], "; a");
	ck_assert_str_eq(l->arr.v[1], "#b");
	ck_assert_str_eq(l->arr.v[2], " c:");
	ck_assert_str_eq(l->arr.v[3], "[d]");
	ck_assert_str_eq(l->arr.v[4], "=e");
	ck_assert_int_eq(l->line, 9);
}
END_TEST

START_TEST(test_inih_characters_in_names)
{
	load_ok("[\"a ; b\"]\n"
	        "\"k ; 1\" = 1\n"
	        "\"k:2\" = 2\n"
	        "\"k=3\" = 3\n"
	        "\"#k4\" = 4\n"
	        "\"[k5]\" = 5\n"
	        "\" k6 \" = 6\n"
	        "[\"s]t\".\"u:v\"]\n"
	        "\"w = x\" = 7\n"
	        "['#y'.\"\"]\n"
	        "z = 8\n");
	ck_assert(cfg_has_section(&cfg, "a ; b"));
	ck_assert_str_eq(cfg_get(&cfg, "a ; b", "k ; 1"), "1");
	ck_assert_str_eq(cfg_get(&cfg, "a ; b", "k:2"), "2");
	ck_assert_str_eq(cfg_get(&cfg, "a ; b", "k=3"), "3");
	ck_assert_str_eq(cfg_get(&cfg, "a ; b", "#k4"), "4");
	ck_assert_str_eq(cfg_get(&cfg, "a ; b", "[k5]"), "5");
	ck_assert_str_eq(cfg_get(&cfg, "a ; b", " k6 "), "6");
	ck_assert(cfg_has_section(&cfg, "s]t"));
	ck_assert_str_eq(cfg_get(&cfg, "s]t", "u:v.w = x"), "7");
	ck_assert(cfg_has_section(&cfg, "#y"));
	ck_assert_str_eq(cfg_get(&cfg, "#y", ".z"), "8");
	ck_assert_int_eq(value("#y", ".z")->line, 13);
}
END_TEST

/* Strings of every length from 1 to 700 bytes made of characters inih
 * trims or takes for comments, so that cuts into continuation lines fall
 * on each of them at every offset. */
START_TEST(test_inih_cuts_in_long_strings)
{
	static const char *const patterns[] = {"a ", " ", "#", "# ", " ;", "ab#;", "x\t", "  #  x"};
	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		for (size_t n = 1; n <= 700; n += (n < 420 ? 1 : 7)) {
			char *s = xmalloc(n + 1);
			size_t plen = strlen(patterns[p]);
			for (size_t i = 0; i < n; i++)
				s[i] = patterns[p][i % plen];
			s[n] = '\0';
			char *q = quoted(s);
			char *text = xasprintf("[x]\nk = %s\nafter = [%s, %s]\nlast = 1\n", q, q,
			                       q);
			int rc = load(text);
			ck_assert_msg(rc == 0, "pattern %zu length %zu: %s", p, n, err);
			ck_assert_msg(strcmp(cfg_get(&cfg, "x", "k"), s) == 0,
			              "pattern %zu length %zu", p, n);
			const struct cfg_value *a = value("x", "after");
			ck_assert_uint_eq(a->arr.n, 2);
			ck_assert_str_eq(a->arr.v[1], s);
			ck_assert_int_eq(value("x", "last")->line, 6);
			free(text);
			free(q);
			free(s);
		}
	}
}
END_TEST

/* Lists of hundreds of databases, names of every length around the cuts. */
START_TEST(test_inih_long_arrays)
{
	for (int len = 1; len <= 40; len++) {
		char *arr = NULL;
		size_t alen = 0, acap = 0;
		buf_append(&arr, &alen, &acap, "[\n", 2);
		for (int i = 0; i < 300; i++)
			buf_appendf(&arr, &alen, &acap, "  \"%0*d\", # database %d\n", len, i, i);
		buf_append(&arr, &alen, &acap, "]", 1);
		char *text = xasprintf("exclude_databases = %s\nversions = \"x\"\n", arr);
		ck_assert_int_eq(load(text), -1);
		/* the line of the key after the array: 3 + 302 */
		ck_assert_str_eq(
		        err,
		        "config t.conf:305: [main] versions: expected an integer, got a string");
		free(text);
		text = xasprintf("exclude_databases = %s\nversions = 2\n", arr);
		load_ok(text);
		ck_assert_uint_eq(cfg.main.exclude_databases.n, 300);
		for (int i = 0; i < 300; i++) {
			char want[64];
			(void)snprintf(want, sizeof(want), "%0*d", len, i);
			ck_assert_str_eq(cfg.main.exclude_databases.v[i], want);
		}
		ck_assert_int_eq(cfg.main.versions, 2);
		free(text);
		free(arr);
	}
}
END_TEST

/* Names around inih's limits: 49 bytes of a section, a key's first line,
 * and far beyond both. */
START_TEST(test_inih_long_names)
{
	for (size_t n = 40; n <= 420; n += (n < 60 || (n > 160 && n < 200) ? 1 : 13)) {
		char *name = xmalloc(n + 1);
		for (size_t i = 0; i < n; i++)
			name[i] = (char)('a' + i % 26);
		name[n] = '\0';
		char *text = xasprintf("[%s]\n%s = 1\n\"%s x\".y = 'v'\n[%s.sub]\n[[%s]]\n%s = 2\n"
		                       "[[%s]]\n[[%s]]\n%s = 3\n[t]\n%s = {}\n",
		                       name, name, name, name, "arr", name, "arr", "arr", name,
		                       name);
		int rc = load(text);
		ck_assert_msg(rc == 0, "length %zu: %s", n, err);
		ck_assert(cfg_has_section(&cfg, name));
		ck_assert_str_eq(cfg_get(&cfg, name, name), "1");
		char *k = xasprintf("%s x.y", name);
		ck_assert_str_eq(cfg_get(&cfg, name, k), "v");
		free(k);
		const struct cfg_value *v = value(name, name);
		ck_assert_int_eq(v->line, 4);
		ck_assert_int_eq(v->index, -1);
		/* [[arr]] elements keep their index */
		ck_assert_int_eq(cfg_find_section(&cfg, "arr")->elems, 3);
		ck_assert_int_eq(value("arr", name)->index, 0);
		ck_assert_int_eq(cfg.data->values[cfg.data->nvalues - 1].index, 2);
		ck_assert_int_eq(cfg.data->values[cfg.data->nvalues - 1].line, 11);
		ck_assert(cfg_has_section(&cfg, "t"));
		free(text);
		/* a table where a known key belongs, under a long name too */
		text = xasprintf("[\"%s\"]\n[main.versions]\n", name);
		ck_assert_int_eq(load(text), -1);
		ck_assert_str_eq(
		        err, "config t.conf:4: [main] versions: expected an integer, got a table");
		free(text);
		free(name);
	}
}
END_TEST

/* A libinih that does not do what the shim counts on (here: one told not
 * to read continuation lines) makes the load fail, never misread. */
START_TEST(test_inih_not_as_expected)
{
	char *s = xmalloc(401);
	memset(s, 'x', 400);
	s[400] = '\0';
	char *text = xasprintf("[x]\nshort = 1\nlong = \"%s\"\n", s);
	ini_allow_multiline = false;
	int rc = load(text);
	ini_allow_multiline = true;
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(err, "config t.conf:5: libinih did not hand back the line as written "
	                      "(a line was not handed back)");
	load_ok(text);
	ck_assert_str_eq(cfg_get(&cfg, "x", "long"), s);
	free(text);
	free(s);
}
END_TEST

static Suite *shim_suite(void)
{
	Suite *s = suite_create("shim");
	TCase *tc = tcase_create("libinih");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_inih_line_buffer);
	tcase_add_test(tc, test_inih_comments_and_trimming);
	tcase_add_test(tc, test_inih_continuation);
	tcase_add_test(tc, test_inih_delimiters_and_sections);
	suite_add_tcase(s, tc);
	tc = tcase_create("values");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_inih_characters_in_values);
	tcase_add_test(tc, test_inih_characters_in_names);
	tcase_add_test(tc, test_inih_cuts_in_long_strings);
	tcase_add_test(tc, test_inih_long_arrays);
	tcase_add_test(tc, test_inih_long_names);
	tcase_add_test(tc, test_inih_not_as_expected);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	log_set_level(OMA_LOG_ERROR + 10);
	SRunner *sr = srunner_create(shim_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	strv_free(&calls);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
