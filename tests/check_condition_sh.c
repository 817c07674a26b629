/* check_condition_sh.c - unit tests for the "sh" condition plugin, loaded through the loader. */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"
#include "proc.h"
#include "testlib.h"
#include "util.h"

#define MiB      (1024 * 1024)
#define KEEP_MAX MiB /* what the plugin keeps of each stream */

static struct loader ld;
static struct loaded_plugin *sh;
static const struct oma_condition_ops *ops;
static char *tmpdir;

static void setup(void)
{
	char err[1024] = "";
	sh = t_load_plugin(&ld, OMA_PLUGIN_CONDITION, "sh");
	ck_assert_int_eq(loader_init(sh, NULL, err, sizeof(err)), 0);
	ops = sh->desc->condition;
	tmpdir = t_mkdtemp("condition-sh");
}

static void teardown(void)
{
	t_remove_tree(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
	loader_unload(&ld);
	sh = NULL;
	ops = NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run `cmd` through the plugin, which must succeed; returns the wall time
 * in milliseconds. */
static int64_t run_ok(const char *cmd, int timeout, const char *const *env,
                      struct oma_condition_result *res)
{
	char err[512] = "";
	int64_t start = now_ms();
	int rc = ops->run(cmd, timeout, env, res, err, sizeof(err));
	int64_t took = now_ms() - start;
	ck_assert_msg(rc == 0, "run '%s': %s", cmd, err);
	ck_assert_ptr_nonnull(res->out);
	ck_assert_ptr_nonnull(res->errout);
	return took;
}

/* A run with a 1 second timeout was timed out (exit code 1), not before
 * the second was up.  (How soon after is not asserted: on a loaded machine
 * that is noise; the callers check that the command did not finish.) */
static void assert_timed_out_1s(int64_t took, const struct oma_condition_result *res)
{
	ck_assert_int_ge(took, 900);
	ck_assert_int_eq(res->timed_out, 1);
	ck_assert_int_eq(res->exit_code, 1);
}

/* The plugin reaped what it started: this process has no child left. */
static void assert_no_children(void)
{
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

/* The number in the file `name` in tmpdir (written by a command). */
static pid_t read_pid(const char *name)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	long v = 0;
	ck_assert_int_eq(fscanf(f, "%ld", &v), 1);
	fclose(f);
	free(path);
	ck_assert_int_gt(v, 1);
	return (pid_t)v;
}

/* Wait (at most 3 s) until no process of group `pgid` exists.  The test
 * process is a child subreaper, so the group's orphans are reparented here
 * and are reaped here; returns how many of them SIGKILL had ended. */
static int wait_group_gone(pid_t pgid)
{
	int killed = 0;
	int64_t until = now_ms() + 3000;
	for (;;) {
		int status;
		pid_t r;
		while ((r = waitpid(-1, &status, WNOHANG)) > 0)
			killed += WIFSIGNALED(status) &&
			          (WTERMSIG(status) == SIGKILL || WTERMSIG(status) == SIGTERM);
		errno = 0;
		if (kill(-pgid, 0) == -1 && errno == ESRCH)
			break;
		ck_assert_msg(now_ms() < until, "process group %ld is still alive", (long)pgid);
		usleep(10 * 1000);
	}
	return killed;
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_descriptor)
{
	ck_assert_str_eq(sh->desc->name, "sh");
	ck_assert_uint_eq(sh->desc->type, OMA_PLUGIN_CONDITION);
	ck_assert_ptr_nonnull(sh->desc->version);
	ck_assert_ptr_null(sh->desc->compress);
	ck_assert_ptr_null(sh->desc->report);
	ck_assert_ptr_nonnull(ops->run);
	ck_assert_ptr_nonnull(ops->result_free);
}
END_TEST

/* Only the descriptor is exported from the shared object. */
START_TEST(test_exports_only_descriptor)
{
	ck_assert_ptr_null(dlsym(sh->handle, "sh_run"));
	ck_assert_ptr_eq(dlsym(sh->handle, OMA_PLUGIN_SYMBOL), sh->desc);

	char *cmd = xasprintf("nm -D --defined-only '%s'", sh->path);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	static const char *const allowed[] = {
	        OMA_PLUGIN_SYMBOL, "_init", "_fini", "_edata", "_end", "__bss_start", NULL,
	};
	char line[512];
	int seen_descriptor = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *sym = strrchr(line, ' ');
		sym = sym != NULL ? sym + 1 : line;
		if (strncmp(sym, "__odr_asan.", 11) == 0)
			sym += 11;
		int ok = 0;
		for (size_t i = 0; allowed[i] != NULL; i++)
			ok |= strcmp(sym, allowed[i]) == 0;
		ck_assert_msg(ok, "unexpected exported symbol: %s", line);
		seen_descriptor |= strcmp(sym, OMA_PLUGIN_SYMBOL) == 0;
	}
	ck_assert_int_eq(pclose(f), 0);
	ck_assert(seen_descriptor);
	free(cmd);
}
END_TEST

START_TEST(test_exit_codes)
{
	struct oma_condition_result res;

	run_ok("true", 5, NULL, &res);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_int_eq(res.timed_out, 0);
	ck_assert_str_eq(res.out, "");
	ck_assert_str_eq(res.errout, "");
	ops->result_free(&res);
	ck_assert_ptr_null(res.out);
	ck_assert_ptr_null(res.errout);

	run_ok("false", 5, NULL, &res);
	ck_assert_int_eq(res.exit_code, 1);
	ck_assert_str_eq(res.errout, "");
	ops->result_free(&res);

	run_ok("echo oops >&2; exit 3", 5, NULL, &res);
	ck_assert_int_eq(res.exit_code, 3);
	ck_assert_int_eq(res.timed_out, 0);
	ck_assert_str_eq(res.out, "");
	ck_assert_str_eq(res.errout, "oops\n");
	ops->result_free(&res);

	/* The shell is /bin/sh with argv[0] "/bin/sh", as upstream ran it. */
	run_ok("non-existing-command", 5, NULL, &res);
	ck_assert_int_eq(res.exit_code, 127);
	ck_assert_str_eq(res.errout, "/bin/sh: 1: non-existing-command: not found\n");
	ck_assert_str_eq(res.out, "");
	ops->result_free(&res);

	run_ok("exit 255", 0, NULL, &res);
	ck_assert_int_eq(res.exit_code, 255);
	ops->result_free(&res);
	assert_no_children();
}
END_TEST

/* A shell ended by a signal reports 128 + the signal number. */
START_TEST(test_killed_by_signal)
{
	struct oma_condition_result res;
	run_ok("kill -TERM $$; sleep 5", 10, NULL, &res);
	ck_assert_int_eq(res.exit_code, 128 + SIGTERM);
	ck_assert_int_eq(res.timed_out, 0);
	ops->result_free(&res);
	run_ok("kill -KILL $$", 10, NULL, &res);
	ck_assert_int_eq(res.exit_code, 128 + SIGKILL);
	ops->result_free(&res);
	assert_no_children();
}
END_TEST

START_TEST(test_stdout_and_stderr)
{
	struct oma_condition_result res;
	run_ok("printf 'hello\\nworld'; echo warn >&2; echo more", 5, NULL, &res);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(res.out, "hello\nworldmore\n");
	ck_assert_str_eq(res.errout, "warn\n");
	ops->result_free(&res);

	/* The command string goes to the shell as one argument: no extra
	 * quoting layer in between. */
	run_ok("printf '%s|' \"$0\" 'a b' \"it's\"", 5, NULL, &res);
	ck_assert_str_eq(res.out, "/bin/sh|a b|it's|");
	ops->result_free(&res);

	/* Everything below the cap arrives unchanged. */
	run_ok("seq 1 100000", 10, NULL, &res);
	char *expected = NULL;
	size_t len = 0, cap = 0;
	for (int i = 1; i <= 100000; i++)
		buf_appendf(&expected, &len, &cap, "%d\n", i);
	ck_assert_uint_eq(strlen(res.out), len);
	ck_assert(strcmp(res.out, expected) == 0);
	free(expected);
	ops->result_free(&res);
	assert_no_children();
}
END_TEST

START_TEST(test_stdin_is_dev_null)
{
	struct oma_condition_result res;
	(void)run_ok("wc -c; cat; echo end", 5, NULL, &res);
	ck_assert_int_eq(res.timed_out, 0); /* cat saw EOF at once */
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(res.out, "0\nend\n");
	ops->result_free(&res);
}
END_TEST

START_TEST(test_environment)
{
	struct oma_condition_result res;
	const char *const env[] = {"OMA_CURRENT_DIR=/x", NULL};
	run_ok("printf %s \"$OMA_CURRENT_DIR\"", 5, env, &res);
	ck_assert_str_eq(res.out, "/x");
	ops->result_free(&res);

	/* The current environment is passed on; the given entries override
	 * same-named variables (the last of repeated names wins), and a value
	 * may contain '='. */
	ck_assert_int_eq(setenv("OMA_TEST_KEEP", "kept", 1), 0);
	ck_assert_int_eq(setenv("OMA_TEST_OVER", "old", 1), 0);
	ck_assert_int_eq(setenv("OMA_TEST_OVERX", "other", 1), 0);
	const char *const env2[] = {"OMA_TEST_OVER=first", "OMA_TEST_NEW=a=b", "OMA_TEST_OVER=new",
	                            NULL};
	run_ok("printf '%s|' \"$OMA_TEST_KEEP\" \"$OMA_TEST_OVER\" \"$OMA_TEST_OVERX\" "
	       "\"$OMA_TEST_NEW\"; env | grep -c '^OMA_TEST_OVER='",
	       5, env2, &res);
	ck_assert_str_eq(res.out, "kept|new|other|a=b|1\n");
	ops->result_free(&res);
	/* The caller's environment is unchanged. */
	ck_assert_str_eq(getenv("OMA_TEST_OVER"), "old");
	ck_assert_ptr_null(getenv("OMA_CURRENT_DIR"));

	/* An empty list is the same as none. */
	const char *const none[] = {NULL};
	run_ok("printf %s \"$OMA_TEST_OVER\"", 5, none, &res);
	ck_assert_str_eq(res.out, "old");
	ops->result_free(&res);
}
END_TEST

START_TEST(test_bad_environment_entry)
{
	struct oma_condition_result res = {.exit_code = 42};
	char err[256] = "";
	const char *const env[] = {"NOVALUE", NULL};
	ck_assert_int_eq(ops->run("true", 5, env, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "condition sh: environment entry 'NOVALUE' is not NAME=VALUE");
	ck_assert_int_eq(res.exit_code, -1);
	ck_assert_ptr_null(res.out);
	ck_assert_ptr_null(res.errout);
	ops->result_free(&res);
}
END_TEST

/* The command sees no descriptor of ours beyond 0-2, and run() leaks none. */
START_TEST(test_descriptors)
{
	int fd = open("/dev/null", O_RDONLY); /* deliberately inheritable */
	ck_assert_int_ge(fd, 3);
	struct oma_condition_result res;
	/* The first command makes the core's one cancel eventfd, which stays. */
	run_ok("true", 5, NULL, &res);
	ops->result_free(&res);
	int before = t_count_entries("/proc/self/fd");
	/* ls lists its own descriptors: 0-2 and the one it reads the folder with. */
	char *cmd = xasprintf("[ -e /proc/$$/fd/%d ] && echo leaked || echo clean; "
	                      "exec ls /proc/self/fd",
	                      fd);
	run_ok(cmd, 5, NULL, &res);
	ck_assert_str_eq(res.out, "clean\n0\n1\n2\n3\n");
	ops->result_free(&res);
	free(cmd);
	ck_assert_int_eq(t_count_entries("/proc/self/fd"), before);
	close(fd);
}
END_TEST

START_TEST(test_timeout)
{
	struct oma_condition_result res;
	int64_t took = run_ok("echo started; sleep 3; echo finished", 1, NULL, &res);
	assert_timed_out_1s(took, &res);
	ck_assert_str_eq(res.errout, "Command timed out after 1 seconds");
	ck_assert_str_eq(res.out, "started\n");
	ops->result_free(&res);
	assert_no_children();
}
END_TEST

/* A timeout kills the whole process group, grandchildren included
 * (upstream killed only /bin/sh). */
START_TEST(test_timeout_kills_group)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	struct oma_condition_result res;
	char *cmd = xasprintf("echo $$ > '%s/pgid'; sh -c 'sleep 30 & echo $! > %s/bg; sleep 30'",
	                      tmpdir, tmpdir);
	int64_t took = run_ok(cmd, 1, NULL, &res);
	ck_assert_int_ge(took, 900);
	ck_assert_int_eq(res.timed_out, 1);
	ck_assert_int_eq(res.exit_code, 1);
	pid_t pgid = read_pid("pgid");
	ck_assert_int_ne(pgid, getpgrp());
	/* The inner shell and both sleeps were orphaned, then killed (on a
	 * loaded machine the inner shell may not have started the background
	 * sleep within the second: then there is one orphan less). */
	char *bg = xasprintf("%s/bg", tmpdir);
	int started = access(bg, F_OK) == 0;
	free(bg);
	ck_assert_int_ge(wait_group_gone(pgid), started ? 2 : 1);
	ops->result_free(&res);
	free(cmd);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}
END_TEST

/* A background process that keeps stdout open: with a timeout, the wait for
 * EOF is bounded by it (and the process is killed); without one, run()
 * waits for EOF like upstream. */
START_TEST(test_background_holds_output)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	struct oma_condition_result res;
	char *cmd = xasprintf("echo $$ > '%s/pgid'; sleep 30 & echo early", tmpdir);
	int64_t took = run_ok(cmd, 1, NULL, &res);
	assert_timed_out_1s(took, &res);
	ck_assert_str_eq(res.out, "early\n");
	ck_assert_str_eq(res.errout, "Command timed out after 1 seconds");
	ck_assert_int_ge(wait_group_gone(read_pid("pgid")), 1);
	ops->result_free(&res);
	free(cmd);

	took = run_ok("(sleep 1; echo late) & echo early", 0, NULL, &res);
	ck_assert_int_ge(took, 900);
	ck_assert_int_lt(took, 5000);
	ck_assert_int_eq(res.timed_out, 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(res.out, "early\nlate\n");
	ops->result_free(&res);
	/* The subshell was orphaned to this process: it has ended. */
	int64_t until = now_ms() + 3000;
	while (waitpid(-1, NULL, WNOHANG) >= 0) {
		ck_assert_msg(now_ms() < until, "an orphan of the command is still running");
		usleep(10 * 1000);
	}
	ck_assert_int_eq(errno, ECHILD);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}
END_TEST

/* A shell that closed its output but does not exit is still timed out. */
START_TEST(test_timeout_after_closing_output)
{
	struct oma_condition_result res;
	int64_t took = run_ok("echo bye; exec >/dev/null 2>&1; sleep 3", 1, NULL, &res);
	assert_timed_out_1s(took, &res);
	ck_assert_str_eq(res.out, "bye\n");
	ops->result_free(&res);
	assert_no_children();
}
END_TEST

/* Timeout 0 means no limit. */
START_TEST(test_no_timeout)
{
	struct oma_condition_result res;
	int64_t took = run_ok("sleep 1.5; echo done", 0, NULL, &res);
	ck_assert_int_ge(took, 1400);
	ck_assert_int_lt(took, 10000);
	ck_assert_int_eq(res.timed_out, 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(res.out, "done\n");
	ops->result_free(&res);

	/* Closed output, shell still running, no timeout: run() waits. */
	took = run_ok("exec >/dev/null 2>&1; sleep 1; exit 4", 0, NULL, &res);
	ck_assert_int_ge(took, 900);
	ck_assert_int_eq(res.exit_code, 4);
	ops->result_free(&res);
	assert_no_children();
}
END_TEST

static void assert_all(const char *s, char c, size_t len)
{
	ck_assert_uint_eq(strlen(s), len);
	for (size_t i = 0; i < len; i++)
		ck_assert_msg(s[i] == c, "byte %zu is %d, expected %c", i, s[i], c);
}

/* 10 MB on stdout and stderr at once, then 100 MB on one stream, neither
 * deadlocks; the first KEEP_MAX bytes of each stream are kept. */
START_TEST(test_large_output)
{
	struct oma_condition_result res;
	int64_t took = run_ok("head -c 10000000 /dev/zero | tr '\\0' a & "
	                      "head -c 10000000 /dev/zero | tr '\\0' b >&2; wait; echo end >&2",
	                      60, NULL, &res);
	ck_assert_int_eq(res.timed_out, 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_int_lt(took, 30000);
	assert_all(res.out, 'a', KEEP_MAX);
	assert_all(res.errout, 'b', KEEP_MAX);
	ops->result_free(&res);

	took = run_ok("head -c 100000000 /dev/zero | tr '\\0' c >&2; echo ok", 120, NULL, &res);
	ck_assert_int_eq(res.timed_out, 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_int_lt(took, 60000);
	ck_assert_str_eq(res.out, "ok\n");
	assert_all(res.errout, 'c', KEEP_MAX);
	ops->result_free(&res);
	assert_no_children();
}
END_TEST

/* When no pipe can be made, run() fails with -1 and a reason, starts
 * nothing and leaks nothing. */
START_TEST(test_start_failure)
{
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	struct oma_condition_result warm;
	run_ok("true", 5, NULL, &warm); /* makes the core's cancel eventfd, which stays */
	ops->result_free(&warm);
	int before = t_count_entries("/proc/self/fd");
	struct rlimit low = {.rlim_cur = 64, .rlim_max = rl.rlim_max};
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	int fds[64], n = 0;
	while (n < 64) {
		int fd = dup(0);
		if (fd < 0)
			break;
		fds[n++] = fd;
	}
	ck_assert_int_eq(errno, EMFILE);

	/* One descriptor free: the first pipe cannot be made. */
	close(fds[--n]);
	struct oma_condition_result res = {.exit_code = 7};
	char err[256] = "";
	ck_assert_int_eq(ops->run("true", 5, NULL, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "condition sh: cannot run '/bin/sh': Too many open files");
	ck_assert_int_eq(res.exit_code, -1);
	ck_assert_ptr_null(res.out);
	ck_assert_ptr_null(res.errout);

	/* Three free: the second pipe cannot be made, and the first is closed. */
	close(fds[--n]);
	close(fds[--n]);
	ck_assert_int_eq(ops->run("true", 5, NULL, &res, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "condition sh: cannot run '/bin/sh': Too many open files");

	while (n > 0)
		close(fds[--n]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(t_count_entries("/proc/self/fd"), before);
	assert_no_children();
}
END_TEST

static void *cancel_soon(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	proc_cancel();
	return NULL;
}

/* oma told to stop (SIGTERM): a running command is stopped at once, its
 * whole process group too, whatever its timeout. */
START_TEST(test_cancel_stops_group)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_soon, NULL), 0);
	struct oma_condition_result res;
	char *cmd = xasprintf("echo $$ > '%s/pgid'; sleep 30 & sleep 30", tmpdir);
	int64_t took = run_ok(cmd, 0, NULL, &res);
	pthread_join(t, NULL);
	ck_assert_int_lt(took, 10000);
	ck_assert_int_eq(res.timed_out, 0);
	ck_assert_int_eq(res.exit_code, 128 + SIGTERM);
	ck_assert_int_ge(wait_group_gone(read_pid("pgid")), 1);
	ops->result_free(&res);
	free(cmd);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}
END_TEST

static Suite *condition_sh_suite(void)
{
	Suite *s = suite_create("condition-sh");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_exports_only_descriptor);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_killed_by_signal);
	tcase_add_test(tc, test_stdout_and_stderr);
	tcase_add_test(tc, test_stdin_is_dev_null);
	tcase_add_test(tc, test_environment);
	tcase_add_test(tc, test_bad_environment_entry);
	tcase_add_test(tc, test_descriptors);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_timeout_kills_group);
	tcase_add_test(tc, test_background_holds_output);
	tcase_add_test(tc, test_timeout_after_closing_output);
	tcase_add_test(tc, test_no_timeout);
	tcase_add_test(tc, test_large_output);
	tcase_add_test(tc, test_start_failure);
	tcase_add_test(tc, test_cancel_stops_group);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(condition_sh_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
