/* check_proc.c - unit tests for core/proc.c (starting, watching and stopping children). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <oma/plugin.h>

#include "proc.h"
#include "proc_internal.h"
#include "testlib.h"
#include "util.h"

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Run `sh -c script` under `l`; returns proc_run's result. */
static int sh(const char *script, const struct proc_limits *l, struct proc_result *r)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	char err[256] = "";
	int rc = proc_run(argv, NULL, l, r, err, sizeof(err));
	ck_assert_msg(rc != -2, "%s", err);
	return rc;
}

/* Whether no process of group `pgid` is left (within 3 s). */
static int group_gone(pid_t pgid)
{
	long until = now_ms() + 3000;
	while (now_ms() < until) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (kill(-pgid, 0) != 0 && errno == ESRCH)
			return 1;
		usleep(10000);
	}
	return 0;
}

START_TEST(test_exit_and_output)
{
	struct proc_limits l = {.out_keep = 1 << 20, .err_keep = 1 << 20};
	struct proc_result r;
	ck_assert_int_eq(sh("echo out; echo err >&2; exit 3", &l, &r), 0);
	ck_assert_int_eq(r.end, PROC_EXITED);
	ck_assert_int_eq(proc_exit_code(&r), 3);
	ck_assert_str_eq(r.out, "out\n");
	ck_assert_str_eq(r.err, "err\n");
	ck_assert(!r.lingered);
	char how[128];
	proc_describe(&r, &l, how, sizeof(how));
	ck_assert_str_eq(how, "exit code 3");
	proc_result_free(&r);

	ck_assert_int_eq(sh("kill -9 $$", &l, &r), 0);
	ck_assert_int_eq(proc_exit_code(&r), 128 + 9);
	proc_describe(&r, &l, how, sizeof(how));
	ck_assert_str_eq(how, "killed by signal 9");
	proc_result_free(&r);

	/* Kept output is bounded; the rest is read and dropped. */
	l.out_keep = 10;
	ck_assert_int_eq(sh("head -c 100000 /dev/zero | tr '\\0' x", &l, &r), 0);
	ck_assert_uint_eq(r.out_len, 10);
	ck_assert(r.out_cut);
	proc_result_free(&r);
}
END_TEST

/* stdin is /dev/null, no descriptor above 2 is inherited, signals are at
 * their defaults in the child, and it leads a process group of its own. */
START_TEST(test_child_environment)
{
	int fd = open("/dev/null", O_RDONLY); /* inheritable on purpose */
	ck_assert_int_ge(fd, 3);
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigemptyset(&ign.sa_mask);
	ck_assert_int_eq(sigaction(SIGPIPE, &ign, NULL), 0);
	struct proc_limits l = {.out_keep = 1 << 16, .err_keep = 1 << 16};
	struct proc_result r;
	ck_assert_int_eq(sh("readlink /proc/self/fd/0; ls /proc/self/fd | tr '\\n' ' '; echo;"
	                    " grep SigIgn /proc/self/status; ps -o pgid= -p $$ | tr -d ' ';"
	                    " echo $$",
	                    &l, &r),
	                 0);
	char dev[64], fds[64], sigign[64];
	long pgid = 0, pid = 0;
	ck_assert_int_eq(sscanf(r.out, "%63s\n%63[^\n]\nSigIgn:\t%63s\n%ld\n%ld", dev, fds, sigign,
	                        &pgid, &pid),
	                 5);
	ck_assert_str_eq(dev, "/dev/null");
	ck_assert_str_eq(fds, "0 1 2 3 "); /* 3: ls reading the folder */
	/* No standard signal ignored (SIGPIPE is, here); glibc's own real-time
	 * signals 32 and 33 may be. */
	ck_assert_uint_eq(strtoull(sigign, NULL, 16) & 0x7fffffffULL, 0);
	ck_assert_int_eq(pgid, pid);
	proc_result_free(&r);
	close(fd);
}
END_TEST

START_TEST(test_environment)
{
	const char *add[] = {"OMA_A=1", "PATH=/usr/bin:/bin", "OMA_A=2", NULL};
	char **envp = proc_env_with(add);
	ck_assert_ptr_nonnull(envp);
	char *argv[] = {"/bin/sh", "-c", "echo $OMA_A", NULL};
	struct proc_limits l = {.out_keep = 100};
	struct proc_result r;
	char err[128];
	ck_assert_int_eq(proc_run(argv, envp, &l, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.out, "2\n");
	proc_result_free(&r);
	free(envp);
	const char *bad[] = {"NOVALUE", NULL};
	ck_assert_ptr_null(proc_env_with(bad));
	/* A program that is not there cannot be started. */
	char *none[] = {"/nonexistent/prog", NULL};
	ck_assert_int_eq(proc_run(none, NULL, &l, &r, err, sizeof(err)), -2);
	ck_assert_str_eq(err, "cannot run '/nonexistent/prog': No such file or directory");
}
END_TEST

/* A timeout stops the whole group: the child and what it started. */
START_TEST(test_timeout_stops_group)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	struct proc_limits l = {.timeout_ms = 500, .out_keep = 100};
	struct proc_result r;
	long t0 = now_ms();
	ck_assert_int_eq(sh("echo $$; sleep 30 & sleep 30", &l, &r), -1);
	ck_assert_int_lt(now_ms() - t0, 10000);
	ck_assert_int_eq(r.end, PROC_TIMED_OUT);
	ck_assert_int_eq(proc_exit_code(&r), 128 + SIGTERM);
	char how[128];
	proc_describe(&r, &l, how, sizeof(how));
	ck_assert_str_eq(how, "did not finish within 0 seconds; stopped");
	ck_assert(group_gone((pid_t)strtol(r.out, NULL, 10)));
	proc_result_free(&r);
	/* One that ignores SIGTERM is killed a grace period later. */
	t0 = now_ms();
	ck_assert_int_eq(sh("trap '' TERM; echo $$; sleep 30", &l, &r), -1);
	ck_assert_int_ge(now_ms() - t0, 500 + PROC_KILL_GRACE_MS - 100);
	ck_assert_int_eq(proc_exit_code(&r), 128 + SIGKILL);
	ck_assert(group_gone((pid_t)strtol(r.out, NULL, 10)));
	proc_result_free(&r);
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}
END_TEST

/* No output for stall_ms: stopped, also when the child is SIGSTOPped. */
START_TEST(test_stall)
{
	struct proc_limits l = {.stall_ms = 700, .out_keep = 100};
	struct proc_result r;
	long t0 = now_ms();
	/* Output keeps it alive past the stall limit... */
	ck_assert_int_eq(sh("for i in 1 2 3 4 5 6; do echo $i; sleep 0.25; done", &l, &r), 0);
	ck_assert_int_ge(now_ms() - t0, 1200);
	proc_result_free(&r);
	/* ...silence does not. */
	ck_assert_int_eq(sh("echo start; kill -STOP $$; echo never", &l, &r), -1);
	ck_assert_int_eq(r.end, PROC_STALLED);
	ck_assert_int_eq(proc_exit_code(&r), 128 + SIGKILL);
	ck_assert_str_eq(r.out, "start\n");
	proc_result_free(&r);
}
END_TEST

/* The child exited but a background process keeps its pipes open: given
 * up PROC_LINGER_MS later (output until then is kept), nobody killed. */
START_TEST(test_linger)
{
	struct proc_limits l = {.out_keep = 100, .err_keep = 100};
	struct proc_result r;
	long t0 = now_ms();
	ck_assert_int_eq(sh("(sleep 0.5; echo late) & echo early; sleep 30 >&2 & echo $! >&2", &l,
	                    &r),
	                 0);
	long took = now_ms() - t0;
	ck_assert_int_ge(took, PROC_LINGER_MS - 100);
	ck_assert_int_lt(took, PROC_LINGER_MS + 5000);
	ck_assert(r.lingered);
	ck_assert_str_eq(r.out, "early\nlate\n");
	pid_t bg = (pid_t)strtol(r.err, NULL, 10);
	ck_assert_int_eq(kill(bg, 0), 0); /* left alone */
	kill(bg, SIGKILL);
	proc_result_free(&r);
}
END_TEST

/* A child that closed its output but lives on is still waited for (and
 * timed out): EOF is not the end. */
START_TEST(test_closed_output_still_waited)
{
	struct proc_limits l = {.timeout_ms = 800, .out_keep = 100};
	struct proc_result r;
	long t0 = now_ms();
	ck_assert_int_eq(sh("echo bye; exec >/dev/null 2>&1; sleep 30", &l, &r), -1);
	ck_assert_int_ge(now_ms() - t0, 700);
	ck_assert_int_eq(r.end, PROC_TIMED_OUT);
	ck_assert_str_eq(r.out, "bye\n");
	proc_result_free(&r);
}
END_TEST

static int refuse_after(void *arg, const char *buf, size_t len)
{
	size_t *seen = arg;
	(void)buf;
	*seen += len;
	return *seen > 100000 ? -1 : 0;
}

/* stdout to a consumer; a consumer that fails stops the child. */
START_TEST(test_consumer_refuses)
{
	size_t seen = 0;
	struct proc_limits l = {.on_out = refuse_after, .arg = &seen, .read_size = 4096};
	struct proc_result r;
	ck_assert_int_eq(sh("exec cat /dev/zero", &l, &r), -1);
	ck_assert_int_eq(r.end, PROC_REFUSED);
	ck_assert_uint_gt(seen, 100000);
	ck_assert_ptr_null(r.out);
	proc_result_free(&r);
}
END_TEST

static void *cancel_later(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	proc_cancel();
	return NULL;
}

/* proc_cancel() from another thread (as from a signal handler) stops a
 * running child at once and every one after; a wait that lets the cancels
 * so far pass (the reporters) runs on. */
START_TEST(test_cancel)
{
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, NULL), 0);
	struct proc_limits l = {.out_keep = 100};
	struct proc_result r;
	long t0 = now_ms();
	ck_assert_int_eq(sh("sleep 30", &l, &r), -1);
	pthread_join(t, NULL);
	ck_assert_int_lt(now_ms() - t0, 10000);
	ck_assert_int_eq(r.end, PROC_CANCELLED);
	ck_assert(proc_cancelled());
	ck_assert_uint_eq(proc_cancel_count(), 1);
	proc_result_free(&r);
	ck_assert_int_eq(sh("sleep 30", &l, &r), -1);
	ck_assert_int_eq(r.end, PROC_CANCELLED);
	proc_result_free(&r);
	l.cancels_allowed = proc_cancel_count();
	ck_assert_int_eq(sh("echo still", &l, &r), 0);
	ck_assert_str_eq(r.out, "still\n");
	proc_result_free(&r);
}
END_TEST

static int child_fn(void *arg, int err_fd)
{
	const char *msg = arg;
	(void)!write(err_fd, msg, strlen(msg));
	return 7;
}

static int child_hangs(void *arg, int err_fd)
{
	(void)arg;
	close(err_fd);
	for (;;)
		pause();
	return 0;
}

/* A forked function: its exit code and what it wrote to err_fd; one that
 * closes its pipe and hangs is timed out all the same. */
START_TEST(test_fork)
{
	struct proc p;
	ck_assert_int_eq(proc_fork(&p, child_fn, "why it failed"), 0);
	struct proc_limits l = {.timeout_ms = 5000, .err_keep = 1023};
	struct proc_result r;
	ck_assert_int_eq(proc_wait(&p, &l, &r), 0);
	ck_assert_int_eq(proc_exit_code(&r), 7);
	ck_assert_str_eq(r.err, "why it failed");
	proc_result_free(&r);
	ck_assert_int_eq(proc_fork(&p, child_hangs, NULL), 0);
	l.timeout_ms = 500;
	long t0 = now_ms();
	ck_assert_int_eq(proc_wait(&p, &l, &r), -1);
	ck_assert_int_lt(now_ms() - t0, 10000);
	ck_assert_int_eq(r.end, PROC_TIMED_OUT);
	ck_assert_int_eq(proc_exit_code(&r), 128 + SIGTERM); /* default handling in the child */
	proc_result_free(&r);
}
END_TEST

static int child_checks_fd(void *arg, int err_fd)
{
	(void)err_fd;
	int fd = *(int *)arg;
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF ? 0 : 1;
}

/* A descriptor registered with proc_private_fd (the run's locks) is
 * closed in a forked child; others stay open there. */
START_TEST(test_fork_private_fd)
{
	int lock = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(lock, 0);
	ck_assert_int_ge(other, 0);
	ck_assert_int_eq(proc_private_fd(lock), 0);
	struct proc p;
	struct proc_limits l = {.timeout_ms = 5000, .err_keep = 1023};
	struct proc_result r;
	ck_assert_int_eq(proc_fork(&p, child_checks_fd, &lock), 0);
	ck_assert_int_eq(proc_wait(&p, &l, &r), 0);
	ck_assert_int_eq(proc_exit_code(&r), 0);
	proc_result_free(&r);
	ck_assert_int_eq(proc_fork(&p, child_checks_fd, &other), 0);
	(void)proc_wait(&p, &l, &r);
	ck_assert_int_eq(proc_exit_code(&r), 1);
	proc_result_free(&r);
	ck_assert_int_ne(fcntl(lock, F_GETFD), -1); /* still open here */
	close(lock);
	close(other);
}
END_TEST

/* oma_host.run: what plugins get. */
START_TEST(test_host_run)
{
	char *argv[] = {"/bin/sh", "-c", "echo $OMA_X; echo e >&2; exit 4", NULL};
	const char *env[] = {"OMA_X=42", NULL};
	struct oma_run run = {.size = sizeof(run), .argv = argv, .env = env, .timeout = 10};
	char err[256] = "";
	ck_assert_int_eq(proc_host_run(&run, err, sizeof(err)), 0);
	ck_assert_int_eq(run.exit_code, 4);
	ck_assert_str_eq(run.out, "42\n");
	ck_assert_str_eq(run.errout, "e\n");
	ck_assert_int_eq(run.timed_out, 0);
	free(run.out);
	free(run.errout);
	char *slow[] = {"/bin/sh", "-c", "sleep 30", NULL};
	run = (struct oma_run){.size = sizeof(run), .argv = slow, .timeout = 1};
	ck_assert_int_eq(proc_host_run(&run, err, sizeof(err)), 0);
	ck_assert_int_eq(run.timed_out, 1);
	ck_assert_str_eq(run.out, "");
	free(run.out);
	free(run.errout);
	const char *bad[] = {"=x", NULL};
	run = (struct oma_run){.size = sizeof(run), .argv = argv, .env = bad};
	ck_assert_int_eq(proc_host_run(&run, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "environment entry '=x' is not NAME=VALUE");
	run = (struct oma_run){.size = 8, .argv = argv};
	ck_assert_int_eq(proc_host_run(&run, err, sizeof(err)), -1);
}
END_TEST

static Suite *proc_suite(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exit_and_output);
	tcase_add_test(tc, test_child_environment);
	tcase_add_test(tc, test_environment);
	tcase_add_test(tc, test_timeout_stops_group);
	tcase_add_test(tc, test_stall);
	tcase_add_test(tc, test_linger);
	tcase_add_test(tc, test_closed_output_still_waited);
	tcase_add_test(tc, test_consumer_refuses);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_fork);
	tcase_add_test(tc, test_fork_private_fd);
	tcase_add_test(tc, test_host_run);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(proc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
