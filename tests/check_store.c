/* check_store.c - unit tests for core/store*.c (backup folders, info.json, links, pruning, removal, disk space). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/io.h"
#include "store.h"
#include "store_internal.h"
#include "testlib.h"
#include "util.h"

static char tmpdir[64];
static char err[512];

static void setup(void)
{
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	err[0] = '\0';
}

static void teardown(void)
{
	char e[256];
	/* Tests may leave read-only folders behind; make them writable. */
	char *cmd = xasprintf("chmod -R u+rwx '%s' 2>/dev/null", tmpdir);
	(void)!system(cmd);
	free(cmd);
	if (store_remove_tree(tmpdir, e, sizeof(e)) != 0)
		fprintf(stderr, "cleanup: %s\n", e);
}

static char *path_in(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void make_dir(const char *dir, const char *name)
{
	char *p = path_in(dir, name);
	ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
	free(p);
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char *p = path_in(dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_msg(fd >= 0, "open %s: %s", p, strerror(errno));
	ck_assert_int_eq(cm_write_all(fd, text, len), 0);
	close(fd);
	free(p);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	write_file(dir, name, text, strlen(text));
}

static char *read_text(const char *dir, const char *name)
{
	char *p = path_in(dir, name);
	FILE *f = fopen(p, "r");
	ck_assert_msg(f != NULL, "fopen %s: %s", p, strerror(errno));
	char *buf = xcalloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	free(p);
	return buf;
}

static bool exists(const char *dir, const char *name)
{
	struct stat st;
	char *p = path_in(dir, name);
	bool r = lstat(p, &st) == 0;
	free(p);
	return r;
}

static size_t count_entries(const char *dir)
{
	char *cmd = xasprintf("ls -A '%s' | wc -l", dir);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	unsigned long n = 0;
	ck_assert_int_eq(fscanf(f, "%lu", &n), 1);
	pclose(f);
	free(cmd);
	return n;
}

START_TEST(test_is_backup_name)
{
	ck_assert(store_is_backup_name("oma_20240101-120000"));
	ck_assert(store_is_backup_name("oma_99999999-999999"));
	static const char *const bad[] = {
	        "",
	        "oma_",
	        "oma_foo",
	        "oma_20240101-1200",
	        "oma_20240101-1200000",
	        "oma_202401011-20000",
	        "oma_20240101_120000",
	        "Oma_20240101-120000",
	        "xoma_20240101-120000",
	        "oma_20240101-120000x",
	        "oma_20240101-120000/",
	        "oma_2024010a-120000",
	        "oma_20240101-12000a",
	        "oma-20240101-120000",
	        "oma_ 0240101-120000",
	        "last",
	        "last.log",
	        "oma_20240101-120000.old",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!store_is_backup_name(bad[i]), "accepted '%s'", bad[i]);
	ck_assert(!store_is_backup_name(NULL));
}
END_TEST

/* Make tmpdir/name a backup folder; complete (with an info.json) unless
 * started < 0; started > 0 is recorded in the info.json. */
static void backup(const char *name, long long started)
{
	make_dir(tmpdir, name);
	if (started < 0)
		return;
	char *dir = path_in(tmpdir, name);
	struct store_info info = {1, 1, 1.0, started, started, 0};
	ck_assert_int_eq(store_write_info(dir, &info, err, sizeof(err)), 0);
	free(dir);
}

/* A backup folder with the usual content of other entries around it. */
static void populate(void)
{
	backup("oma_20240103-000000", 0);
	backup("oma_20240101-000000", 0);
	backup("oma_20240102-120000", 0);
	backup("oma_20231231-235959", 0);
	write_text(tmpdir, "oma_20240101-000000/db.sql.gz", "x");
	/* Things that are not backup folders. */
	write_text(tmpdir, "oma_20240104-000000", "a file named like a folder");
	char *fake = path_in(tmpdir, "oma_20240105-000000");
	ck_assert_int_eq(symlink("oma_20240101-000000", fake), 0); /* a link named like a folder */
	free(fake);
	make_dir(tmpdir, "oma_foo");
	make_dir(tmpdir, "oma_20240101-1200");
	write_text(tmpdir, "last.log", "log");
	char *target = path_in(tmpdir, "oma_20240103-000000");
	char *link = path_in(tmpdir, "last");
	ck_assert_int_eq(symlink(target, link), 0);
	free(target);
	free(link);
}

START_TEST(test_list)
{
	populate();
	struct strv v = {0};
	ck_assert_int_eq(store_list(tmpdir, &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v.n, 4);
	ck_assert_str_eq(v.v[0], "oma_20231231-235959");
	ck_assert_str_eq(v.v[1], "oma_20240101-000000");
	ck_assert_str_eq(v.v[2], "oma_20240102-120000");
	ck_assert_str_eq(v.v[3], "oma_20240103-000000");
	strv_free(&v);

	/* Empty folder. */
	char *empty = path_in(tmpdir, "oma_foo");
	ck_assert_int_eq(store_list(empty, &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v.n, 0);
	free(empty);

	/* Missing folder: error names it. */
	char *missing = path_in(tmpdir, "nope");
	ck_assert_int_eq(store_list(missing, &v, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, missing));
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
	free(missing);
}
END_TEST

START_TEST(test_create_current_name)
{
	/* 2024-01-01 12:00:00 UTC */
	setenv("TZ", "UTC", 1);
	tzset();
	char *p = NULL;
	ck_assert_int_eq(store_create_current(tmpdir, 1704110400, &p, err, sizeof(err)), 0);
	char *want = path_in(tmpdir, "oma_20240101-120000");
	ck_assert_str_eq(p, want);
	struct stat st;
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	mode_t um = umask(0);
	umask(um);
	ck_assert_uint_eq(st.st_mode & 07777, 0750 & ~um);
	free(p);
	free(want);

	/* A trailing slash in backup_dir does not give "//". */
	char *slashed = xasprintf("%s/", tmpdir);
	ck_assert_int_eq(store_create_current(slashed, 1704196800, &p, err, sizeof(err)), 0);
	want = path_in(tmpdir, "oma_20240102-120000");
	ck_assert_str_eq(p, want);
	free(p);
	free(want);
	free(slashed);

	char *missing = path_in(tmpdir, "nope");
	p = (char *)"unchanged";
	ck_assert_int_eq(store_create_current(missing, 1704110400, &p, err, sizeof(err)), -1);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(err, missing));
	free(missing);
	unsetenv("TZ");
	tzset();
}
END_TEST

START_TEST(test_create_current_twice)
{
	time_t now = time(NULL);
	char *a = NULL, *b = NULL, *c = NULL;
	ck_assert_int_eq(store_create_current(tmpdir, now, &a, err, sizeof(err)), 0);
	ck_assert_int_eq(store_create_current(tmpdir, now, &b, err, sizeof(err)), 0);
	ck_assert_int_eq(store_create_current(tmpdir, now, &c, err, sizeof(err)), 0);
	ck_assert_str_ne(a, b);
	ck_assert_str_ne(b, c);
	ck_assert_str_ne(a, c);
	const char *names[] = {strrchr(a, '/') + 1, strrchr(b, '/') + 1, strrchr(c, '/') + 1};
	for (int i = 0; i < 3; i++)
		ck_assert(store_is_backup_name(names[i]));
	/* Later creations get later names. */
	ck_assert_int_lt(strcmp(names[0], names[1]), 0);
	ck_assert_int_lt(strcmp(names[1], names[2]), 0);
	struct strv v = {0};
	ck_assert_int_eq(store_list(tmpdir, &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v.n, 3);
	strv_free(&v);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_create_current_gives_up)
{
	/* All names for a while from "now" on are taken (as files): the
	 * creation tries a bounded number of times, then fails. */
	time_t now = time(NULL);
	for (time_t t = now; t < now + 30; t++) {
		struct tm tm;
		char name[64];
		localtime_r(&t, &tm);
		strftime(name, sizeof(name), "oma_%Y%m%d-%H%M%S", &tm);
		write_text(tmpdir, name, "");
	}
	char *p = NULL;
	ck_assert_int_eq(store_create_current(tmpdir, now, &p, err, sizeof(err)), -1);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(err, tmpdir));
}
END_TEST

START_TEST(test_previous)
{
	char *p = store_previous(tmpdir, NULL, time(NULL));
	ck_assert_ptr_null(p);
	populate();
	p = store_previous(tmpdir, NULL, time(NULL));
	char *want = path_in(tmpdir, "oma_20240103-000000");
	ck_assert_str_eq(p, want);
	free(p);
	free(want);
	p = store_previous(tmpdir, "oma_20240103-000000", time(NULL));
	want = path_in(tmpdir, "oma_20240102-120000");
	ck_assert_str_eq(p, want);
	free(p);
	free(want);
	/* Excluding one that is not the newest changes nothing. */
	p = store_previous(tmpdir, "oma_20240101-000000", time(NULL));
	want = path_in(tmpdir, "oma_20240103-000000");
	ck_assert_str_eq(p, want);
	free(p);
	free(want);
	char *missing = path_in(tmpdir, "nope");
	ck_assert_ptr_null(store_previous(missing, NULL, time(NULL)));
	free(missing);
}
END_TEST

/* Prune a populated folder with `keep` and `current`; return what was removed. */
static void check_prune(long keep, const char *current, const char *const *want_removed,
                        size_t nwant, const char *const *want_left, size_t nleft)
{
	populate();
	struct strv removed = {0};
	ck_assert_int_eq(store_prune(tmpdir, keep, current, time(NULL), &removed, err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(removed.n, nwant);
	for (size_t i = 0; i < nwant; i++) {
		ck_assert_str_eq(removed.v[i], want_removed[i]);
		ck_assert(!exists(tmpdir, want_removed[i]));
	}
	struct strv left = {0};
	ck_assert_int_eq(store_list(tmpdir, &left, err, sizeof(err)), 0);
	ck_assert_uint_eq(left.n, nleft);
	for (size_t i = 0; i < nleft; i++)
		ck_assert_str_eq(left.v[i], want_left[i]);
	/* Everything that is not a backup folder is untouched. */
	ck_assert(exists(tmpdir, "oma_20240104-000000"));
	ck_assert(exists(tmpdir, "oma_20240105-000000"));
	ck_assert(exists(tmpdir, "oma_foo"));
	ck_assert(exists(tmpdir, "oma_20240101-1200"));
	/* `last` names a folder that is left, or is gone with the last one. */
	struct stat st;
	char *lp = path_in(tmpdir, "last");
	ck_assert_int_eq(nleft > 0 ? stat(lp, &st) : lstat(lp, &st), nleft > 0 ? 0 : -1);
	free(lp);
	char *log = read_text(tmpdir, "last.log");
	ck_assert_str_eq(log, "log");
	free(log);
	char *file = read_text(tmpdir, "oma_20240104-000000");
	ck_assert_str_eq(file, "a file named like a folder");
	free(file);
	strv_free(&left);
	strv_free(&removed);
}

START_TEST(test_prune_keep)
{
	const char *all[] = {"oma_20231231-235959", "oma_20240101-000000", "oma_20240102-120000",
	                     "oma_20240103-000000"};
	check_prune(1, NULL, all, 3, all + 3, 1);
	teardown();
	setup();
	check_prune(3, NULL, all, 1, all + 1, 3);
	teardown();
	setup();
	check_prune(4, NULL, NULL, 0, all, 4);
	teardown();
	setup();
	check_prune(10, NULL, NULL, 0, all, 4);
	teardown();
	setup();
	check_prune(0, NULL, all, 4, NULL, 0);
}
END_TEST

START_TEST(test_prune_current)
{
	const char *all[] = {"oma_20231231-235959", "oma_20240101-000000", "oma_20240102-120000",
	                     "oma_20240103-000000"};
	/* The newest is current: it survives and does not count. */
	check_prune(1, "oma_20240103-000000", all, 2, all + 2, 2);
	teardown();
	setup();
	check_prune(0, "oma_20240103-000000", all, 3, all + 3, 1);
	teardown();
	setup();
	/* current in the middle (clock went back): still never removed. */
	const char *left[] = {"oma_20240101-000000", "oma_20240103-000000"};
	const char *gone[] = {"oma_20231231-235959", "oma_20240102-120000"};
	check_prune(1, "oma_20240101-000000", gone, 2, left, 2);
	teardown();
	setup();
	/* current that does not exist: nothing special. */
	check_prune(2, "oma_20991231-000000", all, 2, all + 2, 2);
}
END_TEST

START_TEST(test_prune_errors)
{
	populate();
	struct strv removed = {0};
	ck_assert_int_eq(store_prune(tmpdir, -1, NULL, time(NULL), &removed, err, sizeof(err)), -1);
	ck_assert_uint_eq(removed.n, 0);
	struct strv left = {0};
	ck_assert_int_eq(store_list(tmpdir, &left, err, sizeof(err)), 0);
	ck_assert_uint_eq(left.n, 4);
	strv_free(&left);
	char *missing = path_in(tmpdir, "nope");
	ck_assert_int_eq(store_prune(missing, 1, NULL, time(NULL), &removed, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, missing));
	free(missing);

	if (geteuid() != 0) {
		/* A folder that cannot be emptied: prune stops, says which. */
		char *ro = path_in(tmpdir, "oma_20231231-235959");
		make_dir(ro, "sub");
		write_text(ro, "sub/f", "x");
		char *sub = path_in(ro, "sub");
		ck_assert_int_eq(chmod(sub, 0555), 0);
		ck_assert_int_eq(store_prune(tmpdir, 0, NULL, time(NULL), &removed, err,
		                             sizeof(err)),
		                 -1);
		ck_assert_ptr_nonnull(strstr(err, "sub/f"));
		ck_assert_uint_eq(removed.n, 0);
		ck_assert_int_eq(chmod(sub, 0755), 0);
		free(sub);
		free(ro);
	}
	strv_free(&removed);
}
END_TEST

/* A pruned folder holding symlinks to things outside: the links go, the
 * targets stay. */
START_TEST(test_prune_symlinks_not_followed)
{
	char *outside = path_in(tmpdir, "outside");
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	write_text(outside, "precious", "keep me");
	make_dir(outside, "subdir");
	write_text(outside, "subdir/deep", "keep me too");

	backup("oma_20240101-000000", 0);
	backup("oma_20240102-000000", 0);
	char *old = path_in(tmpdir, "oma_20240101-000000");
	make_dir(old, "nested");
	make_dir(old, "nested/deeper");
	write_text(old, "nested/deeper/file", "data");
	char *l1 = path_in(old, "to_file");
	char *l2 = path_in(old, "nested/to_dir");
	char *t1 = path_in(outside, "precious");
	char *t2 = path_in(outside, "subdir");
	ck_assert_int_eq(symlink(t1, l1), 0);
	ck_assert_int_eq(symlink(t2, l2), 0);
	/* A dangling link and a relative one too. */
	char *l3 = path_in(old, "dangling");
	char *l4 = path_in(old, "relative");
	ck_assert_int_eq(symlink("/nonexistent/x", l3), 0);
	ck_assert_int_eq(symlink("../outside", l4), 0);

	struct strv removed = {0};
	ck_assert_int_eq(store_prune(tmpdir, 1, NULL, time(NULL), &removed, err, sizeof(err)), 0);
	ck_assert_uint_eq(removed.n, 1);
	ck_assert_str_eq(removed.v[0], "oma_20240101-000000");
	ck_assert(!exists(tmpdir, "oma_20240101-000000"));
	ck_assert(exists(tmpdir, "oma_20240102-000000"));
	char *s = read_text(outside, "precious");
	ck_assert_str_eq(s, "keep me");
	free(s);
	s = read_text(outside, "subdir/deep");
	ck_assert_str_eq(s, "keep me too");
	free(s);
	strv_free(&removed);
	free(outside);
	free(old);
	free(l1);
	free(l2);
	free(l3);
	free(l4);
	free(t1);
	free(t2);
}
END_TEST

START_TEST(test_remove_tree)
{
	make_dir(tmpdir, "t");
	make_dir(tmpdir, "t/a");
	make_dir(tmpdir, "t/a/b");
	make_dir(tmpdir, "t/empty");
	write_text(tmpdir, "t/a/b/f", "x");
	write_text(tmpdir, "t/.hidden", "x");
	write_text(tmpdir, "keep", "k");
	char *keep = path_in(tmpdir, "keep");
	char *lnk = path_in(tmpdir, "t/a/link");
	ck_assert_int_eq(symlink(keep, lnk), 0);

	char *t = path_in(tmpdir, "t/");
	ck_assert_int_eq(store_remove_tree(t, err, sizeof(err)), 0);
	ck_assert(!exists(tmpdir, "t"));
	ck_assert(exists(tmpdir, "keep"));

	/* A symlink given as the tree: the link goes, the folder it names stays. */
	make_dir(tmpdir, "real");
	write_text(tmpdir, "real/f", "x");
	char *real = path_in(tmpdir, "real");
	char *alias = path_in(tmpdir, "alias");
	ck_assert_int_eq(symlink(real, alias), 0);
	ck_assert_int_eq(store_remove_tree(alias, err, sizeof(err)), 0);
	ck_assert(!exists(tmpdir, "alias"));
	ck_assert(exists(tmpdir, "real/f"));

	/* A deep tree, deeper than PATH_MAX allows as one path. */
	char comp[101];
	memset(comp, 'd', 100);
	comp[100] = '\0';
	t_nest_folders(real, comp, 60);
	uint64_t bytes = 0;
	ck_assert_int_eq(store_dir_bytes(real, &bytes, err, sizeof(err)), 0);
	ck_assert_uint_gt(bytes, 0);
	ck_assert_int_eq(store_remove_tree(real, err, sizeof(err)), 0);
	ck_assert(!exists(tmpdir, "real"));

	/* Errors. */
	char *missing = path_in(tmpdir, "nope");
	ck_assert_int_eq(store_remove_tree(missing, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, missing));
	char *dot = path_in(tmpdir, ".");
	ck_assert_int_eq(store_remove_tree(dot, err, sizeof(err)), -1);
	ck_assert(exists(tmpdir, "keep"));
	char *dotdot = path_in(tmpdir, "..");
	ck_assert_int_eq(store_remove_tree(dotdot, err, sizeof(err)), -1);
	ck_assert(exists(tmpdir, "keep"));

	free(keep);
	free(lnk);
	free(t);
	free(real);
	free(alias);
	free(missing);
	free(dot);
	free(dotdot);
}
END_TEST

/* `du -sB1 PATH` as a number. */
static uint64_t du_bytes(const char *path)
{
	char *cmd = xasprintf("du -sB1 '%s'", path);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	unsigned long long n = 0;
	ck_assert_int_eq(fscanf(f, "%llu", &n), 1);
	pclose(f);
	free(cmd);
	return n;
}

START_TEST(test_dir_bytes)
{
	make_dir(tmpdir, "d");
	make_dir(tmpdir, "d/sub");
	make_dir(tmpdir, "outside");
	char *big = xmalloc(1 << 20);
	for (size_t i = 0; i < (1 << 20); i++)
		big[i] = (char)(i * 7 + i / 251);
	write_file(tmpdir, "d/big", big, 1 << 20);
	write_file(tmpdir, "d/sub/small", big, 3000);
	write_file(tmpdir, "outside/huge", big, 1 << 20);
	write_file(tmpdir, "outside/huge2", big, 1 << 20);
	free(big);
	char *d = path_in(tmpdir, "d");
	uint64_t before = 0;
	ck_assert_int_eq(store_dir_bytes(d, &before, err, sizeof(err)), 0);
	ck_assert_uint_ge(before, (1 << 20) + 3000);
	ck_assert_uint_eq(before, du_bytes(d));

	/* Hard links inside count once; a symlink to a big file outside adds
	 * only the link. */
	char *a = path_in(tmpdir, "d/big");
	char *b = path_in(tmpdir, "d/sub/big-again");
	ck_assert_int_eq(link(a, b), 0);
	char *h = path_in(tmpdir, "outside/huge");
	char *hl = path_in(tmpdir, "d/huge-link");
	ck_assert_int_eq(symlink(h, hl), 0);
	char *o = path_in(tmpdir, "outside");
	char *ol = path_in(tmpdir, "d/outside-link");
	ck_assert_int_eq(symlink(o, ol), 0);
	uint64_t after = 0;
	ck_assert_int_eq(store_dir_bytes(d, &after, err, sizeof(err)), 0);
	ck_assert_uint_lt(after, before + 8192);
	ck_assert_uint_eq(after, du_bytes(d));

	/* A file hard linked from outside still counts (once) inside. */
	char *h2 = path_in(tmpdir, "outside/huge2");
	char *h2l = path_in(tmpdir, "d/huge2-hardlink");
	ck_assert_int_eq(link(h2, h2l), 0);
	ck_assert_int_eq(store_dir_bytes(d, &after, err, sizeof(err)), 0);
	ck_assert_uint_ge(after, before + (1 << 20));
	ck_assert_uint_eq(after, du_bytes(d));

	/* The top may be a symlink: it is followed. */
	char *dl = path_in(tmpdir, "d-link");
	ck_assert_int_eq(symlink(d, dl), 0);
	uint64_t via = 0;
	ck_assert_int_eq(store_dir_bytes(dl, &via, err, sizeof(err)), 0);
	ck_assert_uint_eq(via, after);

	/* A plain file. */
	uint64_t fb = 0;
	ck_assert_int_eq(store_dir_bytes(h, &fb, err, sizeof(err)), 0);
	ck_assert_uint_ge(fb, 1 << 20);

	/* Errors name the path and the reason. */
	char *missing = path_in(tmpdir, "nope");
	ck_assert_int_eq(store_dir_bytes(missing, &fb, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, missing));
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
	if (geteuid() != 0) {
		char *sub = path_in(tmpdir, "d/sub");
		ck_assert_int_eq(chmod(sub, 0), 0);
		ck_assert_int_eq(store_dir_bytes(d, &fb, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, sub));
		ck_assert_ptr_nonnull(strstr(err, strerror(EACCES)));
		ck_assert_int_eq(chmod(sub, 0755), 0);
		free(sub);
	}
	free(d);
	free(a);
	free(b);
	free(h);
	free(hl);
	free(o);
	free(ol);
	free(h2);
	free(h2l);
	free(dl);
	free(missing);
}
END_TEST

START_TEST(test_free_bytes)
{
	uint64_t fb = 0;
	ck_assert_int_eq(store_free_bytes(tmpdir, &fb, err, sizeof(err)), 0);
	struct statvfs sv;
	ck_assert_int_eq(statvfs(tmpdir, &sv), 0);
	uint64_t want = (uint64_t)sv.f_bavail * sv.f_frsize;
	/* Other processes write meanwhile: allow 64 MiB of drift. */
	uint64_t diff = fb > want ? fb - want : want - fb;
	ck_assert_uint_lt(diff, 64u << 20);
	ck_assert_uint_gt(fb, 0);
	char *missing = path_in(tmpdir, "nope");
	ck_assert_int_eq(store_free_bytes(missing, &fb, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, missing));
	free(missing);
}
END_TEST

START_TEST(test_write_info_format)
{
	struct store_info info = {123, 45, 45.0 / 123.0, 0, 0, 0};
	ck_assert_int_eq(store_write_info(tmpdir, &info, err, sizeof(err)), 0);
	char *text = read_text(tmpdir, "info.json");
	/* Exactly Python's json.dumps(..., indent=4). */
	ck_assert_str_eq(text, "{\n"
	                       "    \"mysql_data_dir_bytes_used\": 123,\n"
	                       "    \"backup_bytes_used\": 45,\n"
	                       "    \"compression_ratio\": 0.36585365853658536\n"
	                       "}");
	free(text);
	/* Only info.json is left: no temporary file. */
	ck_assert_uint_eq(count_entries(tmpdir), 1);

	/* Float formatting as Python's repr. */
	static const struct {
		double x;
		const char *s;
	} floats[] = {
	        {0.5, "0.5"},
	        {1.0, "1.0"},
	        {0.1, "0.1"},
	        {1.0 / 3.0, "0.3333333333333333"},
	        {2.5e-05, "2.5e-05"},
	        {0.0001, "0.0001"},
	        {1e16, "1e+16"},
	        {1.5e16, "1.5e+16"},
	        {12.0, "12.0"},
	        {1e-07, "1e-07"},
	        {0.1 + 0.2, "0.30000000000000004"},
	        {100.0, "100.0"},
	        {7e22, "7e+22"},
	        {2.0 / 7.0, "0.2857142857142857"},
	        {0.0, "0.0"},
	        {123456789012345.6, "123456789012345.6"},
	};
	for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
		struct store_info fi = {UINT64_MAX, 0, floats[i].x, 0, 0, 0};
		ck_assert_int_eq(store_write_info(tmpdir, &fi, err, sizeof(err)), 0);
		text = read_text(tmpdir, "info.json");
		char *want =
		        xasprintf("{\n    \"mysql_data_dir_bytes_used\": 18446744073709551615,\n"
		                  "    \"backup_bytes_used\": 0,\n"
		                  "    \"compression_ratio\": %s\n}",
		                  floats[i].s);
		ck_assert_str_eq(text, want);
		free(want);
		free(text);
		struct store_info back;
		ck_assert_int_eq(store_read_info(tmpdir, &back, err, sizeof(err)), 0);
		ck_assert(back.compression_ratio == floats[i].x);
		ck_assert_uint_eq(back.mysql_data_dir_bytes_used, UINT64_MAX);
	}
	ck_assert_uint_eq(count_entries(tmpdir), 1);

	/* Writing into a folder that does not exist fails and says where. */
	char *missing = path_in(tmpdir, "nope");
	ck_assert_int_eq(store_write_info(missing, &info, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, missing));
	free(missing);
}
END_TEST

START_TEST(test_read_info_upstream)
{
	static const struct {
		const char *text;
		uint64_t data, backup;
		double ratio;
	} good[] = {
	        {"{\n    \"mysql_data_dir_bytes_used\": 1048576,\n    \"backup_bytes_used\": 524288,\n"
	         "    \"compression_ratio\": 0.5\n}",
	         1048576, 524288, 0.5},
	        /* Upstream writes int 0 when the data dir size was 0. */
	        {"{\n    \"mysql_data_dir_bytes_used\": 0,\n    \"backup_bytes_used\": 4096,\n"
	         "    \"compression_ratio\": 0\n}",
	         0, 4096, 0.0},
	        /* Compact, other order, floats for counts, trailing newline. */
	        {"{\"compression_ratio\":1.25,\"backup_bytes_used\":1234.0,"
	         "\"mysql_data_dir_bytes_used\":1e3}\n",
	         1000, 1234, 1.25},
	        /* Any whitespace, unknown keys of any type ignored. */
	        {"\r\n\t{ \"extra\" : [1, {\"a\": null}, \"x\\\"y\"], \"mysql_data_dir_bytes_used\" :\t7 ,"
	         "\"other\": true, \"backup_bytes_used\": 8, \"compression_ratio\": 2E-1 } \n\n",
	         7, 8, 0.2},
	        /* Duplicate key: the last wins, as in Python. */
	        {"{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.1,"
	         " \"mysql_data_dir_bytes_used\": 3}",
	         3, 2, 0.1},
	        {"{\"mysql_data_dir_bytes_used\": 18446744073709551615, \"backup_bytes_used\": 0, "
	         "\"compression_ratio\": 0.0}",
	         UINT64_MAX, 0, 0.0},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		write_text(tmpdir, "info.json", good[i].text);
		struct store_info info = {99, 99, 99.0, 0, 0, 0};
		ck_assert_msg(store_read_info(tmpdir, &info, err, sizeof(err)) == 0, "case %zu: %s",
		              i, err);
		ck_assert_uint_eq(info.mysql_data_dir_bytes_used, good[i].data);
		ck_assert_uint_eq(info.backup_bytes_used, good[i].backup);
		ck_assert(info.compression_ratio == good[i].ratio);
	}
}
END_TEST

START_TEST(test_read_info_missing_and_garbage)
{
	struct store_info info = {1, 2, 3.0, 0, 0, 0};
	ck_assert_int_eq(store_read_info(tmpdir, &info, err, sizeof(err)), 1);
	ck_assert_uint_eq(info.mysql_data_dir_bytes_used, 1);

	static const char *const bad[] = {
	        "",
	        "   ",
	        "garbage",
	        "{",
	        "[]",
	        "{}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.5",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.5}}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.5} x",
	        "{\"mysql_data_dir_bytes_used\": 1 \"backup_bytes_used\": 2, \"compression_ratio\": 0.5}",
	        "{\"mysql_data_dir_bytes_used\": \"1\", \"backup_bytes_used\": 2, \"compression_ratio\": 0.5}",
	        "{\"mysql_data_dir_bytes_used\": -1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.5}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": NaN}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": -0.5}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 1e999}",
	        "{\"mysql_data_dir_bytes_used\": 18446744073709551616, \"backup_bytes_used\": 2, "
	        "\"compression_ratio\": 0.5}",
	        "{\"mysql_data_dir_bytes_used\": 01, \"backup_bytes_used\": 2, \"compression_ratio\": 0.5}",
	        "{\"mysql_data_dir_bytes_used\": 1., \"backup_bytes_used\": 2, \"compression_ratio\": 0.5}",
	        "{mysql_data_dir_bytes_used: 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.5}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.5,}",
	        "{\"x\": [1, 2, \"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, "
	        "\"compression_ratio\": 0.5}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(tmpdir, "info.json", bad[i]);
		err[0] = '\0';
		ck_assert_msg(store_read_info(tmpdir, &info, err, sizeof(err)) == -1,
		              "accepted '%s'", bad[i]);
		ck_assert_msg(strstr(err, "info.json") != NULL, "error '%s' does not name the file",
		              err);
		ck_assert_uint_eq(info.mysql_data_dir_bytes_used, 1); /* untouched */
	}
	/* A NUL byte inside. */
	write_file(tmpdir, "info.json", "{\0}", 3);
	ck_assert_int_eq(store_read_info(tmpdir, &info, err, sizeof(err)), -1);

	/* A folder where the file should be. */
	char *p = path_in(tmpdir, "info.json");
	unlink(p);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	ck_assert_int_eq(store_read_info(tmpdir, &info, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "info.json"));
	free(p);
}
END_TEST

static char *readlink_in(const char *dir, const char *name)
{
	char *p = path_in(dir, name);
	char buf[4096];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);
	ck_assert_msg(n >= 0, "readlink %s: %s", p, strerror(errno));
	buf[n] = '\0';
	free(p);
	return xstrdup(buf);
}

START_TEST(test_set_link)
{
	make_dir(tmpdir, "oma_20240101-000000");
	write_text(tmpdir, "oma_20240101-000000/oma.log", "the log");
	char *abs = path_in(tmpdir, "oma_20240101-000000");

	/* New link, absolute target. */
	ck_assert_int_eq(store_set_link(tmpdir, "last", abs, err, sizeof(err)), 0);
	char *t = readlink_in(tmpdir, "last");
	ck_assert_str_eq(t, abs);
	free(t);

	/* Replace an existing link, relative target stored as given. */
	ck_assert_int_eq(store_set_link(tmpdir, "last", "oma_20240101-000000", err, sizeof(err)),
	                 0);
	t = readlink_in(tmpdir, "last");
	ck_assert_str_eq(t, "oma_20240101-000000");
	free(t);
	char *via = read_text(tmpdir, "last/oma.log");
	ck_assert_str_eq(via, "the log");
	free(via);

	/* Replace a plain file (upstream's last.log after a skipped run). */
	write_text(tmpdir, "last.log", "old plain log");
	ck_assert_int_eq(store_set_link(tmpdir, "last.log", "oma_20240101-000000/oma.log", err,
	                                sizeof(err)),
	                 0);
	via = read_text(tmpdir, "last.log");
	ck_assert_str_eq(via, "the log");
	free(via);

	/* A dangling link is never made. */
	ck_assert_int_eq(store_set_link(tmpdir, "dangling", "/nonexistent", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent"));
	ck_assert(!exists(tmpdir, "dangling"));

	/* A real folder is not replaced. */
	make_dir(tmpdir, "realdir");
	write_text(tmpdir, "realdir/f", "x");
	ck_assert_int_eq(store_set_link(tmpdir, "realdir", abs, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "realdir"));
	struct stat st;
	char *rd = path_in(tmpdir, "realdir");
	ck_assert_int_eq(lstat(rd, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert(exists(tmpdir, "realdir/f"));
	free(rd);

	/* A link to a folder is replaced, the folder kept. */
	ck_assert_int_eq(store_set_link(tmpdir, "dirlink", "realdir", err, sizeof(err)), 0);
	ck_assert_int_eq(store_set_link(tmpdir, "dirlink", abs, err, sizeof(err)), 0);
	t = readlink_in(tmpdir, "dirlink");
	ck_assert_str_eq(t, abs);
	free(t);
	ck_assert(exists(tmpdir, "realdir/f"));

	/* Bad names. */
	ck_assert_int_eq(store_set_link(tmpdir, "", abs, err, sizeof(err)), -1);
	ck_assert_int_eq(store_set_link(tmpdir, "a/b", abs, err, sizeof(err)), -1);
	ck_assert_int_eq(store_set_link(tmpdir, "..", abs, err, sizeof(err)), -1);
	/* Missing folder. */
	char *missing = path_in(tmpdir, "nope");
	ck_assert_int_eq(store_set_link(missing, "last", abs, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, missing));
	free(missing);

	/* No temporary links left: oma_..., last, last.log, realdir, dirlink. */
	ck_assert_uint_eq(count_entries(tmpdir), 5);
	free(abs);
}
END_TEST

/* Base names of the folders store_scan gives, in its order, as one string. */
static char *scan_names(time_t now, char *flags, size_t flen)
{
	struct store_folders all;
	ck_assert_int_eq(store_scan(tmpdir, now, &all, err, sizeof(err)), 0);
	char *out = NULL;
	size_t len = 0, cap = 0;
	buf_append(&out, &len, &cap, "", 0);
	size_t k = 0;
	for (size_t i = 0; i < all.n; i++) {
		buf_appendf(&out, &len, &cap, "%s%s", i ? " " : "", all.v[i].name);
		if (k + 2 < flen) {
			flags[k++] = all.v[i].complete ? 'c' : 'i';
			flags[k++] = all.v[i].future ? 'f' : all.v[i].recorded ? 'r' : 'n';
		}
	}
	flags[k] = '\0';
	store_folders_free(&all);
	return out;
}

START_TEST(test_scan_order)
{
	time_t now = 1800000000; /* 2027-01-15 */
	/* The clock went back: the newer run has the older name. */
	backup("oma_20270101-000000", 1700000100);
	backup("oma_20230101-000000", 1700000200);
	/* Upstream's (no recorded time) and an interrupted run. */
	backup("oma_20220101-000000", 0);
	backup("oma_20230601-000000", -1);
	/* Dated in the future: by name, and by the recorded start. */
	backup("oma_29991231-235959", -1);
	backup("oma_20260101-000000", 1800000000 + 3600);
	char flags[64];
	char *names = scan_names(now, flags, sizeof(flags));
	ck_assert_str_eq(names, "oma_20260101-000000 oma_29991231-235959 oma_20220101-000000 "
	                        "oma_20230601-000000 oma_20270101-000000 oma_20230101-000000");
	ck_assert_str_eq(flags, "cfifcnincrcr");
	free(names);
}
END_TEST

START_TEST(test_previous_complete_only)
{
	time_t now = time(NULL);
	backup("oma_20240101-000000", (long long)now - 7200);
	char *want = path_in(tmpdir, "oma_20240101-000000");
	/* Newer by name but interrupted, dated in the future, or recorded
	 * as started after now: none of them is "previous". */
	backup("oma_20240102-000000", -1);
	backup("oma_29991231-235959", 0);
	backup("oma_20240103-000000", (long long)now + 30);
	char *p = store_previous(tmpdir, NULL, now);
	ck_assert_str_eq(p, want);
	free(p);
	free(want);
	/* Nothing complete: none. */
	teardown();
	setup();
	backup("oma_20240102-000000", -1);
	ck_assert_ptr_null(store_previous(tmpdir, NULL, now));
}
END_TEST

START_TEST(test_prune_incomplete)
{
	time_t now = time(NULL);
	struct strv removed = {0};
	backup("oma_20240101-000000", 0);
	backup("oma_20240102-000000", -1); /* interrupted, newer than every complete one */
	backup("oma_20240103-000000", -1); /* the current run, not complete yet */
	/* versions counts complete folders: keep 1 leaves all; the interrupted
	 * one stays while nothing complete is newer. */
	ck_assert_int_eq(store_prune(tmpdir, 1, "oma_20240103-000000", now, &removed, err,
	                             sizeof(err)),
	                 0);
	ck_assert_uint_eq(removed.n, 0);
	/* Once current is complete, it supersedes the interrupted one. */
	char *cur = path_in(tmpdir, "oma_20240103-000000");
	struct store_info info = {1, 1, 1.0, 0, 0, 0};
	ck_assert_int_eq(store_write_info(cur, &info, err, sizeof(err)), 0);
	ck_assert_int_eq(store_prune(tmpdir, 1, "oma_20240103-000000", now, &removed, err,
	                             sizeof(err)),
	                 0);
	ck_assert_uint_eq(removed.n, 1);
	ck_assert_str_eq(removed.v[0], "oma_20240102-000000");
	ck_assert(exists(tmpdir, "oma_20240101-000000"));
	ck_assert(!exists(tmpdir, "oma_20240102-000000"));
	strv_free(&removed);
	free(cur);

	/* Many interrupted runs never push good backups out. */
	teardown();
	setup();
	backup("oma_20240101-000000", 0);
	backup("oma_20240102-000000", 0);
	backup("oma_20240103-000000", 0);
	for (int i = 4; i <= 9; i++) {
		char name[32];
		(void)snprintf(name, sizeof(name), "oma_2024010%d-000000", i);
		backup(name, -1);
	}
	backup("oma_20240110-000000", 0); /* current, complete */
	ck_assert_int_eq(store_prune(tmpdir, 2, "oma_20240110-000000", now, &removed, err,
	                             sizeof(err)),
	                 0);
	ck_assert_uint_eq(removed.n, 7); /* the oldest complete one and all six interrupted */
	ck_assert_str_eq(removed.v[0], "oma_20240101-000000");
	ck_assert(exists(tmpdir, "oma_20240102-000000"));
	ck_assert(exists(tmpdir, "oma_20240103-000000"));
	ck_assert(exists(tmpdir, "oma_20240110-000000"));
	strv_free(&removed);
}
END_TEST

START_TEST(test_prune_future)
{
	time_t now = time(NULL);
	struct strv removed = {0};
	backup("oma_29991231-235959", -1); /* stray, empty */
	backup("oma_29991230-000000", 0);  /* complete, made with the clock ahead */
	backup("oma_20240101-000000", 0);
	backup("oma_20240102-000000", 0);
	ck_assert_int_eq(store_prune(tmpdir, 2, "oma_20240102-000000", now, &removed, err,
	                             sizeof(err)),
	                 0);
	/* Dated in the future counts as oldest: the complete one goes first,
	 * the stray one because newer complete backups exist. */
	ck_assert_uint_eq(removed.n, 1);
	ck_assert_str_eq(removed.v[0], "oma_29991231-235959");
	strv_free(&removed);
	ck_assert_int_eq(store_prune(tmpdir, 1, "oma_20240102-000000", now, &removed, err,
	                             sizeof(err)),
	                 0);
	ck_assert_uint_eq(removed.n, 1);
	ck_assert_str_eq(removed.v[0], "oma_29991230-000000");
	ck_assert(exists(tmpdir, "oma_20240101-000000"));
	strv_free(&removed);
}
END_TEST

/* A reused dump moved into an interrupted run's folder, with a symbolic
 * link left in the older complete one: removing the interrupted folder
 * moves the dump back. */
START_TEST(test_prune_rescues_symlinks)
{
	time_t now = time(NULL);
	backup("oma_20240101-000000", 0);
	backup("oma_20240102-000000", -1);
	backup("oma_20240103-000000", 0);
	write_text(tmpdir, "oma_20240102-000000/db.sql.gz", "the dump");
	write_text(tmpdir, "oma_20240102-000000/db.timestamp", "the sidecar");
	char *a = path_in(tmpdir, "oma_20240101-000000");
	char *b = path_in(tmpdir, "oma_20240102-000000");
	const char *names[] = {"db.sql.gz", "db.timestamp"};
	for (int i = 0; i < 2; i++) {
		char *target = path_in(b, names[i]);
		char *link = path_in(a, names[i]);
		ck_assert_int_eq(symlink(target, link), 0);
		free(target);
		free(link);
	}
	/* A relative link into it as well, and one to elsewhere. */
	write_text(tmpdir, "oma_20240102-000000/rel", "relative");
	char *rl = path_in(a, "rel");
	ck_assert_int_eq(symlink("../oma_20240102-000000/rel", rl), 0);
	char *ol = path_in(a, "other");
	ck_assert_int_eq(symlink("/etc/hostname", ol), 0);

	struct strv removed = {0};
	ck_assert_int_eq(store_prune(tmpdir, 5, "oma_20240103-000000", now, &removed, err,
	                             sizeof(err)),
	                 0);
	ck_assert_uint_eq(removed.n, 1);
	ck_assert_str_eq(removed.v[0], "oma_20240102-000000");
	struct stat st;
	char *dump = path_in(a, "db.sql.gz");
	ck_assert_int_eq(lstat(dump, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	char *text = read_text(a, "db.sql.gz");
	ck_assert_str_eq(text, "the dump");
	free(text);
	text = read_text(a, "db.timestamp");
	ck_assert_str_eq(text, "the sidecar");
	free(text);
	text = read_text(a, "rel");
	ck_assert_str_eq(text, "relative");
	free(text);
	ck_assert_int_eq(lstat(ol, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	strv_free(&removed);
	free(dump);
	free(rl);
	free(ol);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_remove_backup_info_first)
{
	backup("oma_20240101-000000", 0);
	write_text(tmpdir, "oma_20240101-000000/db.sql.gz", "x");
	ck_assert_int_eq(store_remove_backup(tmpdir, "oma_20240101-000000", err, sizeof(err)), 0);
	ck_assert(!exists(tmpdir, "oma_20240101-000000"));
	/* A folder that cannot be emptied is no longer complete afterwards. */
	if (geteuid() != 0) {
		backup("oma_20240102-000000", 0);
		make_dir(tmpdir, "oma_20240102-000000/sub");
		write_text(tmpdir, "oma_20240102-000000/sub/f", "x");
		char *sub = path_in(tmpdir, "oma_20240102-000000/sub");
		ck_assert_int_eq(chmod(sub, 0555), 0);
		ck_assert_int_eq(store_remove_backup(tmpdir, "oma_20240102-000000", err,
		                                     sizeof(err)),
		                 -1);
		ck_assert(!exists(tmpdir, "oma_20240102-000000/info.json"));
		ck_assert_int_eq(chmod(sub, 0755), 0);
		free(sub);
	}
}
END_TEST

START_TEST(test_clean_temp)
{
	backup("oma_20240101-000000", 0);
	backup("oma_20240102-000000", -1);
	backup("oma_20240103-000000", -1); /* current */
	write_text(tmpdir, "oma_20240101-000000/result.json.part", "x");
	write_text(tmpdir, "oma_20240101-000000/db.sql.gz", "keep");
	write_text(tmpdir, "oma_20240102-000000/a.sql.gz.part", "x");
	write_text(tmpdir, "oma_20240102-000000/b.timestamp.part", "x");
	write_text(tmpdir, "oma_20240102-000000/.info.json.tmp-123", "x");
	make_dir(tmpdir, "oma_20240102-000000/dir.part"); /* not a file: kept */
	write_text(tmpdir, "oma_20240103-000000/c.sql.gz.part", "being written");
	write_text(tmpdir, "last.result.json.part", "x");
	write_text(tmpdir, "other.part", "not ours");
	char *l = path_in(tmpdir, ".last.tmp-99");
	ck_assert_int_eq(symlink("oma_20240101-000000", l), 0);
	free(l);
	struct strv removed = {0};
	ck_assert_int_eq(store_clean_temp(tmpdir, "oma_20240103-000000", &removed, err,
	                                  sizeof(err)),
	                 0);
	ck_assert_uint_eq(removed.n, 6);
	ck_assert(!exists(tmpdir, "oma_20240101-000000/result.json.part"));
	ck_assert(!exists(tmpdir, "oma_20240102-000000/a.sql.gz.part"));
	ck_assert(!exists(tmpdir, "oma_20240102-000000/b.timestamp.part"));
	ck_assert(!exists(tmpdir, "oma_20240102-000000/.info.json.tmp-123"));
	ck_assert(!exists(tmpdir, "last.result.json.part"));
	ck_assert(!exists(tmpdir, ".last.tmp-99"));
	ck_assert(exists(tmpdir, "oma_20240101-000000/db.sql.gz"));
	ck_assert(exists(tmpdir, "oma_20240102-000000/dir.part"));
	ck_assert(exists(tmpdir, "oma_20240103-000000/c.sql.gz.part"));
	ck_assert(exists(tmpdir, "other.part"));
	char *want = path_in(tmpdir, "oma_20240102-000000/a.sql.gz.part");
	ck_assert(strv_contains(&removed, want));
	free(want);
	strv_free(&removed);
}
END_TEST

START_TEST(test_fix_links)
{
	time_t now = time(NULL);
	struct strv notes = {0};
	backup("oma_20240101-000000", 0);
	write_text(tmpdir, "oma_20240101-000000/oma.log", "log 1");
	backup("oma_20240102-000000", -1);
	write_text(tmpdir, "oma_20240102-000000/oma.log", "log 2");
	char *good = path_in(tmpdir, "oma_20240101-000000");
	char *link = path_in(tmpdir, "last");
	/* last at an interrupted folder, last.log at a removed one. */
	char *bad = path_in(tmpdir, "oma_20240102-000000");
	ck_assert_int_eq(symlink(bad, link), 0);
	char *ll = path_in(tmpdir, "last.log");
	ck_assert_int_eq(symlink("/nonexistent/oma.log", ll), 0);
	ck_assert_int_eq(store_fix_links(tmpdir, now, &notes, err, sizeof(err)), 0);
	ck_assert_uint_eq(notes.n, 2);
	char *t = readlink_in(tmpdir, "last");
	ck_assert_str_eq(t, good);
	free(t);
	char *text = read_text(tmpdir, "last.log");
	ck_assert_str_eq(text, "log 1");
	free(text);
	strv_free(&notes);
	/* Fine links and plain files are left alone. */
	write_text(tmpdir, "last.result.json", "plain");
	ck_assert_int_eq(store_fix_links(tmpdir, now, &notes, err, sizeof(err)), 0);
	ck_assert_uint_eq(notes.n, 0);
	/* No complete folder left: the broken link goes. */
	ck_assert_int_eq(store_remove_backup(tmpdir, "oma_20240101-000000", err, sizeof(err)), 0);
	ck_assert_int_eq(store_fix_links(tmpdir, now, &notes, err, sizeof(err)), 0);
	ck_assert_uint_eq(notes.n, 2);
	ck_assert(!exists(tmpdir, "last"));
	ck_assert(!exists(tmpdir, "last.log"));
	ck_assert(exists(tmpdir, "last.result.json"));
	strv_free(&notes);
	free(good);
	free(bad);
	free(link);
	free(ll);
}
END_TEST

/* Pruning points the top-level links away from a folder before removing
 * it, so a run killed between pruning and setting its own links leaves
 * none dangling (and the end-of-run check has nothing to warn about). */
START_TEST(test_prune_relinks)
{
	time_t now = time(NULL);
	backup("oma_20240101-000000", 0);
	write_text(tmpdir, "oma_20240101-000000/oma.log", "log 1");
	write_text(tmpdir, "oma_20240101-000000/result.json", "{}");
	backup("oma_20240102-000000", 0);
	write_text(tmpdir, "oma_20240102-000000/oma.log", "log 2");
	const char *links[][2] = {{"last", ""},
	                          {"last.log", "/oma.log"},
	                          {"last.result.json", "/result.json"}};
	for (size_t i = 0; i < 3; i++) {
		char *p = path_in(tmpdir, links[i][0]);
		char *t = xasprintf("%s/oma_20240101-000000%s", tmpdir, links[i][1]);
		ck_assert_int_eq(symlink(t, p), 0);
		free(t);
		free(p);
	}
	struct strv removed = {0};
	ck_assert_int_eq(store_prune(tmpdir, 0, "oma_20240102-000000", now, &removed, err,
	                             sizeof(err)),
	                 0);
	ck_assert_uint_eq(removed.n, 1);
	strv_free(&removed);
	char *want = path_in(tmpdir, "oma_20240102-000000");
	char *t = readlink_in(tmpdir, "last");
	ck_assert_str_eq(t, want);
	free(t);
	free(want);
	char *text = read_text(tmpdir, "last.log");
	ck_assert_str_eq(text, "log 2");
	free(text);
	/* The newest folder has no result.json yet: the link goes. */
	struct stat st;
	char *p = path_in(tmpdir, "last.result.json");
	ck_assert_int_eq(lstat(p, &st), -1);
	free(p);
	/* Nothing left for the end-of-run check. */
	struct strv notes = {0};
	ck_assert_int_eq(store_fix_links(tmpdir, now, &notes, err, sizeof(err)), 0);
	ck_assert_uint_eq(notes.n, 0);
	strv_free(&notes);
}
END_TEST

START_TEST(test_info_times)
{
	struct store_info info = {10, 5, 0.5, 1700000000, 1700000060, 2};
	ck_assert_int_eq(store_write_info(tmpdir, &info, err, sizeof(err)), 0);
	char *text = read_text(tmpdir, "info.json");
	ck_assert_str_eq(text, "{\n"
	                       "    \"mysql_data_dir_bytes_used\": 10,\n"
	                       "    \"backup_bytes_used\": 5,\n"
	                       "    \"compression_ratio\": 0.5,\n"
	                       "    \"started\": 1700000000,\n"
	                       "    \"completed\": 1700000060,\n"
	                       "    \"failed_databases\": 2\n"
	                       "}");
	free(text);
	struct store_info back;
	ck_assert_int_eq(store_read_info(tmpdir, &back, err, sizeof(err)), 0);
	ck_assert_int_eq(back.started, 1700000000);
	ck_assert_int_eq(back.completed, 1700000060);
	ck_assert_uint_eq(back.failed_databases, 2);
	static const char *const bad[] = {
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.1, \"failed_databases\": -1}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.1, \"started\": 1.5}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.1, \"started\": -1}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.1, \"completed\": \"x\"}",
	        "{\"mysql_data_dir_bytes_used\": 1, \"backup_bytes_used\": 2, \"compression_ratio\": 0.1, \"started\": 99999999999999999999}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(store_parse_info(bad[i], strlen(bad[i]), "t", &back, err,
		                               sizeof(err)) == -1,
		              "accepted %s", bad[i]);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_is_backup_name);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_create_current_name);
	tcase_add_test(tc, test_create_current_twice);
	tcase_add_test(tc, test_create_current_gives_up);
	tcase_add_test(tc, test_previous);
	tcase_add_test(tc, test_prune_keep);
	tcase_add_test(tc, test_prune_current);
	tcase_add_test(tc, test_prune_errors);
	tcase_add_test(tc, test_prune_symlinks_not_followed);
	tcase_add_test(tc, test_remove_tree);
	tcase_add_test(tc, test_dir_bytes);
	tcase_add_test(tc, test_free_bytes);
	tcase_add_test(tc, test_write_info_format);
	tcase_add_test(tc, test_read_info_upstream);
	tcase_add_test(tc, test_read_info_missing_and_garbage);
	tcase_add_test(tc, test_set_link);
	tcase_add_test(tc, test_scan_order);
	tcase_add_test(tc, test_previous_complete_only);
	tcase_add_test(tc, test_prune_incomplete);
	tcase_add_test(tc, test_prune_future);
	tcase_add_test(tc, test_prune_rescues_symlinks);
	tcase_add_test(tc, test_remove_backup_info_first);
	tcase_add_test(tc, test_clean_temp);
	tcase_add_test(tc, test_fix_links);
	tcase_add_test(tc, test_prune_relinks);
	tcase_add_test(tc, test_info_times);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
