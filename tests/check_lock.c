/* check_lock.c - unit tests for core/lock.c (the port lock and the backup folder's lock). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lock.h"
#include "testlib.h"
#include "util.h"

/* A second process cannot lock the folder while the first holds it, and
 * is told the holder's PID; once the holder is gone, it can. */
START_TEST(test_dir_lock)
{
	char *dir = t_mkdtemp("lock");
	char err[512] = "";
	int fd = lock_dir(dir, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	char *file = xasprintf("%s/" LOCK_DIR_FILE, dir);
	struct stat st;
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	char *pid = t_read_file(file);
	char *want = xasprintf("%ld\n", (long)getpid());
	ck_assert_str_eq(pid, want);
	pid_t child = fork();
	if (child == 0) {
		char e[512] = "";
		int rc = lock_dir(dir, e, sizeof(e));
		char *expect = xasprintf("backup folder %s is locked by PID %ld", dir,
		                         (long)getppid());
		_exit(rc == -2 && strcmp(e, expect) == 0 ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "the second lock did not fail right");
	close(fd);
	child = fork();
	if (child == 0) {
		char e[512] = "";
		_exit(lock_dir(dir, e, sizeof(e)) >= 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	char *missing = xasprintf("%s/nope", dir);
	ck_assert_int_eq(lock_dir(missing, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, missing));
	free(missing);
	free(want);
	free(pid);
	free(file);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_port_lock)
{
	char err[256];
	long port = 20000 + getpid() % 10000;
	int a = lock_acquire(port, err, sizeof(err));
	ck_assert_int_ge(a, 0);
	ck_assert_int_eq(lock_acquire(port, err, sizeof(err)), -2);
	close(a);
	a = lock_acquire(port, err, sizeof(err));
	ck_assert_int_ge(a, 0);
	close(a);
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_dir_lock);
	tcase_add_test(tc, test_port_lock);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lock_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
