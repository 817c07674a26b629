/* check_util.c - unit tests for core/util.c and core/log.c. */
#include <check.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "log.h"
#include "testlib.h"
#include "util.h"

static char *repr(const char *const *items, size_t n)
{
	struct strv sv = {0};
	for (size_t i = 0; i < n; i++)
		strv_push(&sv, items[i]);
	char *s = py_list_repr(&sv);
	strv_free(&sv);
	return s;
}

START_TEST(test_py_list_repr)
{
	char *s = repr(NULL, 0);
	ck_assert_str_eq(s, "[]");
	free(s);
	const char *a[] = {"--single-transaction", "--quick"};
	s = repr(a, 2);
	ck_assert_str_eq(s, "['--single-transaction', '--quick']");
	free(s);
	const char *b[] = {"it's", "both ' and \"", "back\\slash", "tab\there", "\x01"};
	s = repr(b, 5);
	ck_assert_str_eq(s,
	                 "[\"it's\", 'both \\' and \"', 'back\\\\slash', 'tab\\there', '\\x01']");
	free(s);
}
END_TEST

START_TEST(test_json_string)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_append_string(&buf, &len, &cap, "a\"b\\c\n\x01ü");
	ck_assert_str_eq(buf, "\"a\\\"b\\\\c\\n\\u0001ü\"");
	ck_assert_uint_eq(len, strlen(buf));
	free(buf);
}
END_TEST

/* Bytes that are not UTF-8 (a cut multibyte character, Latin-1, an
 * overlong form) become U+FFFD, and the line separators are escaped:
 * result.json stays valid JSON and a JSON reader sees no line break. */
START_TEST(test_json_not_utf8)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_append_string(&buf, &len, &cap,
	                   "cut \xc3|latin \xe9t\xe9|over \xc0\xaf|ok \xe2\x82\xac");
	ck_assert_str_eq(
	        buf, "\"cut \\ufffd|latin \\ufffdt\\ufffd|over \\ufffd\\ufffd|ok \xe2\x82\xac\"");
	free(buf);
	buf = NULL, len = 0, cap = 0;
	json_append_string(&buf, &len, &cap,
	                   "a\xc2\x85"
	                   "b\xe2\x80\xa8"
	                   "c\xe2\x80\xa9"
	                   "d\x7f");
	ck_assert_str_eq(buf, "\"a\\u0085b\\u2028c\\u2029d\\u007f\"");
	free(buf);
}
END_TEST

/* A name reaching the log cannot break its line with NEL or U+2028, and
 * other text passes unchanged. */
START_TEST(test_escape_controls)
{
	char *s = escape_controls("a\nb\rc\x01"
	                          "d\te\xc2\x85"
	                          "f\xe2\x80\xa8"
	                          "g\xe2\x80\xa9"
	                          "h\xc2\x9b"
	                          "i");
	ck_assert_str_eq(s, "a\\nb\\rc\\x01d\te\\u0085f\\u2028g\\u2029h\\u009bi");
	free(s);
	s = escape_controls("caf\xc3\xa9 \xe9t\xe9 \xe2\x82\xac");
	ck_assert_str_eq(s, "caf\xc3\xa9 \xe9t\xe9 \xe2\x82\xac");
	free(s);
}
END_TEST

START_TEST(test_strv)
{
	struct strv sv = {0};
	for (int i = 0; i < 100; i++) {
		char s[16];
		(void)snprintf(s, sizeof(s), "x%d", i);
		strv_push(&sv, s);
	}
	ck_assert_uint_eq(sv.n, 100);
	ck_assert_ptr_null(sv.v[100]);
	ck_assert(strv_contains(&sv, "x42"));
	ck_assert(!strv_contains(&sv, "x100"));
	strv_free(&sv);
	ck_assert_uint_eq(sv.n, 0);
}
END_TEST

START_TEST(test_write_all_and_fsync_dir)
{
	char dir[] = "/tmp/oma-util-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char *path = xasprintf("%s/f", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	static char big[1 << 20];
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(cm_write_all(fd, big, sizeof(big)), 0);
	close(fd);
	ck_assert_int_eq(cm_write_all(fd, "x", 1), -1);
	ck_assert_int_eq(fsync_dir(dir), 0);
	ck_assert_int_eq(fsync_dir("/nonexistent-oma"), -1);
	FILE *f = fopen(path, "r");
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	ck_assert_int_eq(ftell(f), (long)sizeof(big));
	fclose(f);
	unlink(path);
	rmdir(dir);
	free(path);
}
END_TEST

START_TEST(test_log_format_and_levels)
{
	char dir[] = "/tmp/oma-log-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char *path = xasprintf("%s/oma.log", dir);
	log_set_stderr_level(OMA_LOG_ERROR + 1);
	log_set_level(OMA_LOG_INFO);
	ck_assert_int_eq(log_level_parse("debug"), OMA_LOG_DEBUG);
	ck_assert_int_eq(log_level_parse("WARNING"), OMA_LOG_WARNING);
	ck_assert_int_eq(log_level_parse("verbose"), -1);
	log_info("before open %d", 1); /* buffered until log_open */
	log_debug("dropped");
	ck_assert_int_eq(log_open(path), 0);
	log_warning("careful");
	log_error("broke: %s", "x");
	unsigned errors = log_error_count();
	ck_assert_uint_ge(errors, 1);
	log_close();

	char *text = t_read_file(path);
	ck_assert_ptr_nonnull(text);
	regex_t re;
	ck_assert_int_eq(
	        regcomp(&re,
	                "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} INFO before open 1\n"
	                "[0-9 :,-]{23} WARNING careful\n"
	                "[0-9 :,-]{23} ERROR broke: x\n$",
	                REG_EXTENDED),
	        0);
	ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "log was: %s", text);
	regfree(&re);
	ck_assert_ptr_null(strstr(text, "dropped"));
	free(text);
	unlink(path);
	rmdir(dir);
	free(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_py_list_repr);
	tcase_add_test(tc, test_json_string);
	tcase_add_test(tc, test_strv);
	tcase_add_test(tc, test_json_not_utf8);
	tcase_add_test(tc, test_escape_controls);
	tcase_add_test(tc, test_write_all_and_fsync_dir);
	tcase_add_test(tc, test_log_format_and_levels);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
