/* check_reuse.c - unit tests for core/reuse.c: sidecars and moving a dump forward. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "reuse.h"
#include "util.h"

static char root[64];
static char *prev, *cur;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static void setup(void)
{
	(void)snprintf(root, sizeof(root), "/tmp/oma-reuse-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	prev = xasprintf("%s/oma_20250101-000000", root);
	cur = xasprintf("%s/oma_20250102-000000", root);
	ck_assert_int_eq(mkdir(prev, 0750), 0);
	ck_assert_int_eq(mkdir(cur, 0750), 0);
}

static void teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(prev);
	free(cur);
}

static void make_dump(const char *stem, const char *content)
{
	char *path = xasprintf("%s/%s.sql.gz", prev, stem);
	write_file(path, content);
	free(path);
	struct sidecar sc = {.start = 1735689600,
	                     .bytes = strlen(content),
	                     .extra = "ref_time=1\n"};
	(void)snprintf(sc.compressor, sizeof(sc.compressor), "gzip");
	(void)snprintf(sc.file, sizeof(sc.file), "%s.sql.gz", stem);
	char err[256];
	ck_assert_int_eq(reuse_write_sidecar(prev, stem, &sc, err, sizeof(err)), 0);
}

/* The encryption a dump was made with survives the sidecar (an old sidecar
 * has none: ""). */
START_TEST(test_sidecar_encryption)
{
	char err[256];
	struct sidecar w = {.start = 1735689600, .bytes = 0, .extra = NULL};
	(void)snprintf(w.compressor, sizeof(w.compressor), "gzip");
	(void)snprintf(w.file, sizeof(w.file), "shop.sql.gz.age");
	(void)snprintf(w.encryption, sizeof(w.encryption), "age:%064d", 7);
	ck_assert_int_eq(reuse_write_sidecar(prev, "shop", &w, err, sizeof(err)), 0);
	struct sidecar sc;
	ck_assert_int_eq(reuse_read_sidecar(prev, "shop", &sc, err, sizeof(err)), 0);
	ck_assert_str_eq(sc.encryption, w.encryption);
	ck_assert_str_eq(sc.file, "shop.sql.gz.age");
	reuse_sidecar_free(&sc);
}
END_TEST

START_TEST(test_sidecar_round_trip)
{
	make_dump("shop", "0123456789");
	struct sidecar sc;
	char err[256];
	ck_assert_int_eq(reuse_read_sidecar(prev, "shop", &sc, err, sizeof(err)), 0);
	ck_assert_int_eq(sc.start, 1735689600);
	ck_assert_str_eq(sc.compressor, "gzip");
	ck_assert_str_eq(sc.file, "shop.sql.gz");
	ck_assert_uint_eq(sc.bytes, 10);
	ck_assert_str_eq(sc.extra, "ref_time=1\n");
	ck_assert_str_eq(sc.encryption, ""); /* not encrypted: no line, "" read back */
	char why[256];
	ck_assert_int_eq(reuse_usable(prev, &sc, "gzip", "shop.sql.gz", why, sizeof(why)), 1);
	ck_assert_int_eq(reuse_usable(prev, &sc, "zstd", "shop.sql.zst", why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "made with gzip, now zstd"));
	reuse_sidecar_free(&sc);
	/* No temporary file is left behind. */
	char *tmp = xasprintf("%s/shop.timestamp.part", prev);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	free(tmp);
}
END_TEST

START_TEST(test_sidecar_foreign_or_missing)
{
	struct sidecar sc;
	char err[256];
	ck_assert_int_eq(reuse_read_sidecar(prev, "none", &sc, err, sizeof(err)), 1);
	/* Upstream writes a naive local ISO time: never reused. */
	char *path = xasprintf("%s/up.timestamp", prev);
	write_file(path, "2025-03-30T02:30:00.123456");
	ck_assert_int_eq(reuse_read_sidecar(prev, "up", &sc, err, sizeof(err)), 1);
	/* Incomplete (no bytes) is not trusted either. */
	write_file(path, "format=oma-1\nstart=5\ncompressor=gzip\nfile=up.sql.gz\n");
	ck_assert_int_eq(reuse_read_sidecar(prev, "up", &sc, err, sizeof(err)), 1);
	free(path);
}
END_TEST

START_TEST(test_truncated_dump_not_usable)
{
	make_dump("db", "complete-content");
	char *path = xasprintf("%s/db.sql.gz", prev);
	ck_assert_int_eq(truncate(path, 4), 0);
	struct sidecar sc;
	char err[256], why[256];
	ck_assert_int_eq(reuse_read_sidecar(prev, "db", &sc, err, sizeof(err)), 0);
	ck_assert_int_eq(reuse_usable(prev, &sc, "gzip", "db.sql.gz", why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "has 4 bytes"));
	unlink(path);
	ck_assert_int_eq(reuse_usable(prev, &sc, "gzip", "db.sql.gz", why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "missing"));
	reuse_sidecar_free(&sc);
	free(path);
}
END_TEST

static void check_move(int link_type)
{
	make_dump("d-e-m-o-2", "dumpdata");
	char *old = xasprintf("%s/d-e-m-o-2.sql.gz", prev);
	char *new = xasprintf("%s/d-e-m-o-2.sql.gz", cur);
	struct stat before, a, b;
	ck_assert_int_eq(stat(old, &before), 0);
	char err[256];
	ck_assert_int_eq(reuse_move(prev, cur, "d-e-m-o-2.sql.gz", "d-e-m-o-2", link_type, err,
	                            sizeof(err)),
	                 0);
	ck_assert_int_eq(lstat(new, &a), 0);
	ck_assert(S_ISREG(a.st_mode));
	ck_assert_uint_eq(a.st_ino, before.st_ino); /* moved, not copied */
	ck_assert_int_eq(lstat(old, &b), 0);
	if (link_type == CFG_LINK_HARD) {
		ck_assert(S_ISREG(b.st_mode));
		ck_assert_uint_eq(b.st_ino, a.st_ino);
	} else {
		ck_assert(S_ISLNK(b.st_mode));
		char target[512];
		ssize_t n = readlink(old, target, sizeof(target) - 1);
		ck_assert_int_gt(n, 0);
		target[n] = '\0';
		ck_assert_str_eq(target, new);
	}
	/* No temporary link is left behind. */
	DIR *d = opendir(prev);
	ck_assert_ptr_nonnull(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		ck_assert_msg(strstr(e->d_name, ".link-") == NULL, "left %s", e->d_name);
	closedir(d);
	/* The sidecar moved with it and still reads back. */
	struct sidecar sc;
	ck_assert_int_eq(reuse_read_sidecar(cur, "d-e-m-o-2", &sc, err, sizeof(err)), 0);
	ck_assert_int_eq(reuse_usable(cur, &sc, "gzip", "d-e-m-o-2.sql.gz", err, sizeof(err)), 1);
	reuse_sidecar_free(&sc);
	ck_assert_int_eq(reuse_read_sidecar(prev, "d-e-m-o-2", &sc, err, sizeof(err)), 0);
	reuse_sidecar_free(&sc);
	free(old);
	free(new);
}

START_TEST(test_move_hard)
{
	check_move(CFG_LINK_HARD);
}
END_TEST

START_TEST(test_move_symbolic)
{
	check_move(CFG_LINK_SYMBOLIC);
}
END_TEST

START_TEST(test_move_missing)
{
	char err[256];
	ck_assert_int_eq(reuse_move(prev, cur, "gone.sql.gz", "gone", CFG_LINK_HARD, err,
	                            sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot link"));
}
END_TEST

/* Linking comes first: when the new name cannot be made (here: taken),
 * the previous folder keeps its dump untouched (renaming first replaced
 * the file in the new folder and left the old name to a second step). */
START_TEST(test_move_link_fails_prev_intact)
{
	char err[512];
	make_dump("d-e-m-o-2", "dumpdata");
	char *old = xasprintf("%s/d-e-m-o-2.sql.gz", prev);
	char *taken = xasprintf("%s/d-e-m-o-2.sql.gz", cur);
	struct stat before, after;
	ck_assert_int_eq(lstat(old, &before), 0);
	FILE *f = fopen(taken, "w");
	ck_assert_ptr_nonnull(f);
	fputs("someone else's file\n", f);
	fclose(f);
	ck_assert_int_eq(reuse_move(prev, cur, "d-e-m-o-2.sql.gz", "d-e-m-o-2", CFG_LINK_SYMBOLIC,
	                            err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot link"));
	ck_assert_int_eq(lstat(old, &after), 0);
	ck_assert(S_ISREG(after.st_mode));
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_int_eq(lstat(taken, &after), 0);
	ck_assert_uint_ne(after.st_ino, before.st_ino);
	free(old);
	free(taken);
}
END_TEST

/* A dump an older oma named otherwise: cur gets it under the new name, with
 * a sidecar of its own naming that file; prev keeps its file (a link of
 * link_type) and its sidecar. */
static void check_move_renamed(int link_type)
{
	make_dump("@c3@bcn@c3@af", "old name");
	char *old = xasprintf("%s/@c3@bcn@c3@af.sql.gz", prev);
	char *new = xasprintf("%s/\xc3\xbcn\xc3\xaf.sql.gz", cur);
	struct stat before, a, b;
	ck_assert_int_eq(stat(old, &before), 0);
	struct sidecar sc;
	char err[256];
	ck_assert_int_eq(reuse_read_sidecar(prev, "@c3@bcn@c3@af", &sc, err, sizeof(err)), 0);
	ck_assert_int_eq(reuse_move_renamed(prev, cur, "\xc3\xbcn\xc3\xaf.sql.gz",
	                                    "\xc3\xbcn\xc3\xaf", &sc, link_type, err, sizeof(err)),
	                 0);
	reuse_sidecar_free(&sc);
	ck_assert_int_eq(lstat(new, &a), 0);
	ck_assert(S_ISREG(a.st_mode));
	ck_assert_uint_eq(a.st_ino, before.st_ino);
	ck_assert_int_eq(lstat(old, &b), 0);
	ck_assert(link_type == CFG_LINK_HARD ? S_ISREG(b.st_mode) : S_ISLNK(b.st_mode));
	ck_assert_int_eq(stat(old, &b), 0);
	ck_assert_uint_eq(b.st_ino, a.st_ino);
	ck_assert_int_eq(reuse_read_sidecar(cur, "\xc3\xbcn\xc3\xaf", &sc, err, sizeof(err)), 0);
	ck_assert_str_eq(sc.file, "\xc3\xbcn\xc3\xaf.sql.gz");
	ck_assert_int_eq(sc.start, 1735689600);
	ck_assert_str_eq(sc.extra, "ref_time=1\n");
	ck_assert_int_eq(reuse_usable(cur, &sc, "gzip", "\xc3\xbcn\xc3\xaf.sql.gz", err,
	                              sizeof(err)),
	                 1);
	reuse_sidecar_free(&sc);
	ck_assert_int_eq(reuse_read_sidecar(prev, "@c3@bcn@c3@af", &sc, err, sizeof(err)), 0);
	ck_assert_str_eq(sc.file, "@c3@bcn@c3@af.sql.gz");
	reuse_sidecar_free(&sc);
	ck_assert_int_eq(reuse_exists(cur, "@c3@bcn@c3@af.sql.gz"), 0);
	ck_assert_int_eq(reuse_exists(cur, "@c3@bcn@c3@af.timestamp"), 0);
	free(old);
	free(new);
}

START_TEST(test_move_renamed_hard)
{
	check_move_renamed(CFG_LINK_HARD);
}
END_TEST

START_TEST(test_move_renamed_symbolic)
{
	check_move_renamed(CFG_LINK_SYMBOLIC);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reuse");
	TCase *tc = tcase_create("reuse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sidecar_round_trip);
	tcase_add_test(tc, test_sidecar_encryption);
	tcase_add_test(tc, test_sidecar_foreign_or_missing);
	tcase_add_test(tc, test_truncated_dump_not_usable);
	tcase_add_test(tc, test_move_hard);
	tcase_add_test(tc, test_move_symbolic);
	tcase_add_test(tc, test_move_missing);
	tcase_add_test(tc, test_move_renamed_hard);
	tcase_add_test(tc, test_move_renamed_symbolic);
	tcase_add_test(tc, test_move_link_fails_prev_intact);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
