/* check_log.c - unit tests for core/log.c (the run's log lines). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "testlib.h"
#include "util.h"

/* Run `fn` with stderr going to a file; returns what it printed. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	char *dir = t_mkdtemp("log-stderr");
	char *path = xasprintf("%s/stderr", dir);
	fflush(stderr);
	int saved = dup(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char *text = t_read_file(path);
	free(path);
	t_remove_tree(dir);
	free(dir);
	return text;
}

/* A control character cannot make a line of its own. */
START_TEST(test_escapes_controls)
{
	char *dir = t_mkdtemp("log");
	char *path = xasprintf("%s/oma.log", dir);
	ck_assert_int_eq(log_open(path), 0);
	log_info("DB '%s': Backup successfully",
	         "evil\n2026-01-01 00:00:00,000 INFO forged\rX\x1b[2J\x7f\tok\\n");
	log_close();
	char *text = t_read_file(path);
	ck_assert_ptr_nonnull(text);
	const char *msg = strstr(text, " INFO ");
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(
	        msg,
	        " INFO DB 'evil\\n2026-01-01 00:00:00,000 INFO forged\\rX\\x1b[2J\\x7f\tok\\n': "
	        "Backup successfully\n");
	ck_assert_ptr_null(strchr(text, '\r'));
	ck_assert_ptr_eq(strchr(text, '\n'), text + strlen(text) - 1);
	char *e = escape_controls("a\x01"
	                          "b");
	ck_assert_str_eq(e, "a\\x01b");
	free(e);
	free(text);
	free(path);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

static void write_to_full(void *arg)
{
	(void)arg;
	ck_assert_int_eq(log_open("/dev/full"), 0);
	log_info("one");
	log_info("two");
	log_warning("three");
	log_close();
}

/* A log that cannot be written (a full disk) says so on stderr once, and
 * how many lines were lost at the end. */
START_TEST(test_failed_write_reported)
{
	char *err = capture_stderr(write_to_full, NULL);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "oma: cannot write the log file /dev/full: No space left "
	                                  "on device (lines are lost)\n"));
	/* once */
	const char *first = strstr(err, "cannot write");
	ck_assert_ptr_null(strstr(first + 1, "cannot write"));
	ck_assert_ptr_nonnull(strstr(err, "oma: 3 lines could not be written to /dev/full\n"));
	free(err);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_escapes_controls);
	tcase_add_test(tc, test_failed_write_reported);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	log_set_stderr_level(OMA_LOG_ERROR + 10);
	SRunner *sr = srunner_create(log_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
