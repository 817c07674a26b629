/* check_conditions.c - unit tests for core/conditions.c, run through the real "sh" condition plugin. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conditions.h"
#include "loader.h"
#include "log.h"
#include "testlib.h"
#include "util.h"

static struct loader ld;
static const struct oma_condition_ops *sh;
static char *tmp;     /* a temp folder for each test */
static char *logfile; /* tmp/oma.log, at DEBUG */
static struct cfg_conditions cc;

static void setup(void)
{
	char err[1024] = "";
	struct loaded_plugin *p = t_load_plugin(&ld, OMA_PLUGIN_CONDITION, "sh");
	ck_assert_msg(loader_init(p, NULL, err, sizeof(err)) == 0, "%s", err);
	sh = p->desc->condition;
	tmp = t_mkdtemp("conditions");
	logfile = xasprintf("%s/oma.log", tmp);
	log_set_stderr_level(OMA_LOG_ERROR + 10);
	log_set_level(OMA_LOG_DEBUG);
	ck_assert_int_eq(log_open(logfile), 0);
	memset(&cc, 0, sizeof(cc));
	cc.skip_timeout = cc.run_timeout = cc.terminate_timeout = 30;
}

static void teardown(void)
{
	log_close();
	strv_free(&cc.skip);
	strv_free(&cc.run);
	strv_free(&cc.terminate);
	t_remove_tree(tmp);
	free(tmp);
	free(logfile);
	loader_unload(&ld);
	sh = NULL;
}

/* The log so far (malloc'ed). */
static char *log_text(void)
{
	char *text = t_read_file(logfile);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* The log has a line " LEVEL message" (the text after the time stamp). */
static void expect_line(const char *level, const char *message)
{
	char *text = log_text();
	char *want = xasprintf(" %s %s\n", level, message);
	ck_assert_msg(strstr(text, want) != NULL, "no line '%s %s' in the log:\n%s", level, message,
	              text);
	free(want);
	free(text);
}

static void expect_no(const char *what)
{
	char *text = log_text();
	ck_assert_msg(strstr(text, what) == NULL, "'%s' in the log:\n%s", what, text);
	free(text);
}

/* A command that leaves the file tmp/NAME behind when it runs. */
static char *touching(const char *name, const char *then)
{
	return xasprintf("touch '%s/%s'; %s", tmp, name, then);
}

static int ran(const char *name)
{
	char *path = xasprintf("%s/%s", tmp, name);
	int rc = access(path, F_OK) == 0;
	free(path);
	return rc;
}

static void push_own(struct strv *v, char *cmd)
{
	strv_push(v, cmd);
	free(cmd);
}

START_TEST(test_none_configured)
{
	ck_assert_int_eq(cond_skip(sh, &cc), 0);
	ck_assert_int_eq(cond_run(sh, &cc), 0);
	ck_assert_int_eq(cond_terminate(sh, &cc, tmp), 0);
	/* Nothing configured: nothing said. */
	expect_no("condition");
	expect_no("Checking skip");
}
END_TEST

START_TEST(test_skip_first_met_wins)
{
	strv_push(&cc.skip, "echo nope; exit 1");
	strv_push(&cc.skip, "echo 'out line'; echo 'err line' >&2; exit 0");
	push_own(&cc.skip, touching("third", "exit 0"));
	ck_assert_int_eq(cond_skip(sh, &cc), 1);
	ck_assert_msg(!ran("third"), "a skip condition after the one met ran");
	expect_line("INFO", "Checking skip conditions...");
	expect_line("DEBUG", "Skip condition not met: 'echo nope; exit 1' (exit code: 1)");
	expect_line("DEBUG", "Skip condition stdout: 'nope'");
	expect_line(
	        "INFO",
	        "Skip condition met: 'echo 'out line'; echo 'err line' >&2; exit 0' (exit code: 0)");
	expect_line("DEBUG", "Skip condition stdout: 'out line'");
	expect_line("INFO", "Skip condition stderr: 'err line'");
	expect_no("No skip conditions met");
}
END_TEST

START_TEST(test_skip_none_met)
{
	strv_push(&cc.skip, "exit 1");
	strv_push(&cc.skip, "exit 7");
	ck_assert_int_eq(cond_skip(sh, &cc), 0);
	expect_line("DEBUG", "Skip condition not met: 'exit 1' (exit code: 1)");
	expect_line("DEBUG", "Skip condition not met: 'exit 7' (exit code: 7)");
	expect_line("INFO", "No skip conditions met, proceeding with backup");
	expect_no("Skip condition met");
}
END_TEST

START_TEST(test_run_all_pass)
{
	strv_push(&cc.run, "echo first");
	strv_push(&cc.run, "printf 'a\\r\\nb\\n\\n' >&2");
	ck_assert_int_eq(cond_run(sh, &cc), 0);
	expect_line("DEBUG", "Run condition passed: 'echo first' (exit code: 0)");
	/* Run condition output is not quoted. */
	expect_line("DEBUG", "Run condition stdout: first");
	/* One log line per line of output, without the \r, no empty line. */
	expect_line("INFO", "Run condition stderr: a");
	expect_line("INFO", "Run condition stderr: b");
	expect_no("Run condition stderr: \n");
	expect_line("INFO", "All run conditions met");
}
END_TEST

START_TEST(test_run_stops_at_first_failure)
{
	strv_push(&cc.run, "true");
	strv_push(&cc.run, "echo 'disk not mounted' >&2; exit 3");
	push_own(&cc.run, touching("after", "true"));
	ck_assert_int_eq(cond_run(sh, &cc), -1);
	ck_assert_msg(!ran("after"), "a run condition after the failed one ran");
	expect_line("ERROR",
	            "Run condition failed: 'echo 'disk not mounted' >&2; exit 3' (exit code: 3)");
	expect_line("ERROR", "Run condition stderr: disk not mounted");
	expect_no("All run conditions met");
}
END_TEST

START_TEST(test_terminate_runs_all_and_sees_folder)
{
	char *folder = xasprintf("%s/oma_20240101-000000//", tmp);
	char *seen = xasprintf("%s/seen", tmp);
	push_own(&cc.terminate, xasprintf("exit 2"));
	push_own(&cc.terminate, xasprintf("printf '%%s' \"$OMA_CURRENT_DIR\" > '%s'", seen));
	ck_assert_int_eq(cond_terminate(sh, &cc, folder), -1);
	/* The one after the failure ran, and saw the folder without its
	 * trailing slashes. */
	char *text = t_read_file(seen);
	ck_assert_ptr_nonnull(text);
	char *want = xasprintf("%s/oma_20240101-000000", tmp);
	ck_assert_str_eq(text, want);
	expect_line("ERROR", "Terminate condition failed: 'exit 2' (exit code: 2)");
	expect_line("ERROR", "One or more terminate conditions failed");
	expect_no("All terminate conditions succeeded");
	free(want);
	free(text);
	free(seen);
	free(folder);
}
END_TEST

START_TEST(test_terminate_all_succeed)
{
	strv_push(&cc.terminate, "echo done");
	/* "/" keeps its one slash. */
	strv_push(&cc.terminate, "test \"$OMA_CURRENT_DIR\" = /");
	ck_assert_int_eq(cond_terminate(sh, &cc, "/"), 0);
	expect_line("INFO", "Terminate condition succeeded: 'echo done'");
	expect_line("DEBUG", "Terminate condition stdout: done");
	expect_line("INFO", "Terminate condition succeeded: 'test \"$OMA_CURRENT_DIR\" = /'");
	expect_line("INFO", "All terminate conditions succeeded");
}
END_TEST

START_TEST(test_timeout_is_a_failure)
{
	strv_push(&cc.run, "sleep 30");
	cc.run_timeout = 1;
	ck_assert_int_eq(cond_run(sh, &cc), -1);
	expect_line("ERROR", "Command timed out after 1 seconds: 'sleep 30'");
	char *text = log_text();
	ck_assert_msg(strstr(text, "Run condition failed: 'sleep 30' (exit code: ") != NULL, "%s",
	              text);
	free(text);
}
END_TEST

/* A condition plugin whose run() cannot start anything. */
static int broken_run(const char *cmd, int timeout, const char *const *env,
                      struct oma_condition_result *res, char *err, size_t errlen)
{
	(void)cmd;
	(void)timeout;
	(void)env;
	res->out = xstrdup("half");
	(void)snprintf(err, errlen, "no shell here");
	return -1;
}

static int freed;

static void broken_free(struct oma_condition_result *res)
{
	freed++;
	free(res->out);
	free(res->errout);
	res->out = res->errout = NULL;
}

START_TEST(test_command_that_cannot_start)
{
	static const struct oma_condition_ops broken = {.run = broken_run,
	                                                .result_free = broken_free};
	freed = 0;
	/* Exit code 1, as upstream: a skip condition is not met, a run
	 * condition fails. */
	strv_push(&cc.skip, "anything");
	ck_assert_int_eq(cond_skip(&broken, &cc), 0);
	strv_push(&cc.run, "something");
	ck_assert_int_eq(cond_run(&broken, &cc), -1);
	expect_line("ERROR", "Failed to execute command 'anything': no shell here");
	expect_line("DEBUG", "Skip condition not met: 'anything' (exit code: 1)");
	expect_line("ERROR", "Failed to execute command 'something': no shell here");
	expect_line("ERROR", "Run condition failed: 'something' (exit code: 1)");
	/* What the failed run() left was freed (and the empty result again). */
	ck_assert_int_eq(freed, 4);
}
END_TEST

static Suite *conditions_suite(void)
{
	Suite *s = suite_create("conditions");
	TCase *tc = tcase_create("sh");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_none_configured);
	tcase_add_test(tc, test_skip_first_met_wins);
	tcase_add_test(tc, test_skip_none_met);
	tcase_add_test(tc, test_run_all_pass);
	tcase_add_test(tc, test_run_stops_at_first_failure);
	tcase_add_test(tc, test_terminate_runs_all_and_sees_folder);
	tcase_add_test(tc, test_terminate_all_succeed);
	tcase_add_test(tc, test_timeout_is_a_failure);
	tcase_add_test(tc, test_command_that_cannot_start);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conditions_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
