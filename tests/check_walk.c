/* check_walk.c - tests for core/walk.c: the order of a walk, symlinks, depth, failures and their paths, the inode set. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "testlib.h"
#include "util.h"
#include "walk.h"

static char *tmp; /* per-test temp dir */
static char err[1024];

static void setup(void)
{
	tmp = t_mkdtemp("walk");
	err[0] = '\0';
}

static void teardown(void)
{
	t_remove_tree(tmp);
	free(tmp);
}

static char *in_tmp(const char *name)
{
	return xasprintf("%s/%s", tmp, name);
}

static void make_dir(const char *name)
{
	char *p = in_tmp(name);
	ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
	free(p);
}

static void make_file(const char *name)
{
	char *p = in_tmp(name);
	t_write_file(p, "x", 0644);
	free(p);
}

static void make_link(const char *target, const char *name)
{
	char *p = in_tmp(name);
	ck_assert_msg(symlink(target, p) == 0, "symlink %s: %s", p, strerror(errno));
	free(p);
}

/* What a walk saw: one line per event, "E depth kind path" for an entry
 * (kind d, f, l or o), "L depth path" for a folder left, "F depth what
 * path errno" for a failure; the path relative to the top's parent. */
struct trace {
	struct strv lines;
	int prune_name_len;  /* entries whose name is this long are pruned (0: none) */
	int fail_rc;         /* what the fail hook returns */
	const char *stop_at; /* the entry callback fails at this name */
};

static char kind(const struct stat *st)
{
	return S_ISDIR(st->st_mode)   ? 'd'
	       : S_ISREG(st->st_mode) ? 'f'
	       : S_ISLNK(st->st_mode) ? 'l'
	                              : 'o';
}

/* e's path below the top's parent: tmp/ cut off. */
static char *rel_path(const struct walk_entry *e)
{
	char *p = walk_path(e);
	size_t n = strlen(tmp);
	char *r = xstrdup(strncmp(p, tmp, n) == 0 && p[n] == '/' ? p + n + 1 : p);
	free(p);
	return r;
}

static int trace_entry(struct walk *w, struct walk_entry *e)
{
	struct trace *t = w->data;
	char *p = rel_path(e);
	char *line = xasprintf("E %d %c %s", e->depth, kind(e->st), p);
	strv_push(&t->lines, line);
	free(line);
	free(p);
	if (t->stop_at != NULL && strcmp(e->name, t->stop_at) == 0) {
		cm_errf(w->err, w->errlen, "stopped at %s", e->name);
		return -1;
	}
	if (t->prune_name_len > 0 && strlen(e->name) == (size_t)t->prune_name_len)
		return WALK_PRUNE;
	return 0;
}

static int trace_leave(struct walk *w, const struct walk_entry *e)
{
	struct trace *t = w->data;
	struct stat st;
	ck_assert_int_eq(fstat(e->fd, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	char *p = rel_path(e);
	char *line = xasprintf("L %d %s", e->depth, p);
	strv_push(&t->lines, line);
	free(line);
	free(p);
	return 0;
}

static int trace_fail(struct walk *w, const struct walk_entry *e, const char *what, int e_no)
{
	struct trace *t = w->data;
	char *p = rel_path(e);
	char *line = xasprintf("F %d %s %s %d", e->depth, what, p, e_no);
	strv_push(&t->lines, line);
	free(line);
	free(p);
	if (t->fail_rc != 0)
		walk_report(w, e, what, e_no);
	return t->fail_rc;
}

static struct walk trace_walk(struct trace *t, unsigned flags)
{
	struct walk w = {
	        .flags = flags,
	        .entry = trace_entry,
	        .leave = trace_leave,
	        .fail = trace_fail,
	        .subsystem = "test",
	        .data = t,
	        .err = err,
	        .errlen = sizeof(err),
	};
	return w;
}

static int index_of(const struct strv *v, const char *line)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i], line) == 0)
			return (int)i;
	return -1;
}

/* Fails the test unless `line` is in the trace exactly once; its index. */
static int once(const struct trace *t, const char *line)
{
	int at = index_of(&t->lines, line);
	ck_assert_msg(at >= 0, "missing: %s", line);
	for (size_t i = (size_t)at + 1; i < t->lines.n; i++)
		ck_assert_msg(strcmp(t->lines.v[i], line) != 0, "twice: %s", line);
	return at;
}

/* top/ with a/ (a/f, a/b/ with a/b/g), e (empty folder), h, and links. */
static void make_tree(void)
{
	make_dir("top");
	make_dir("top/a");
	make_dir("top/a/b");
	make_dir("top/e");
	make_file("top/a/f");
	make_file("top/a/b/g");
	make_file("top/h");
	make_dir("outside");
	make_file("outside/secret");
	char *out = in_tmp("outside");
	make_link(out, "top/to_dir");
	free(out);
	make_link("/nonexistent/x", "top/dangling");
}

START_TEST(order_and_every_entry)
{
	make_tree();
	struct trace t = {0};
	struct walk w = trace_walk(&t, 0);
	char *top = in_tmp("top");
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	/* 9 entries (the top, 8 below it) and 4 folders left. */
	ck_assert_uint_eq(t.lines.n, 13);
	ck_assert_int_eq(once(&t, "E 0 d top"), 0);
	int a = once(&t, "E 1 d top/a");
	int b = once(&t, "E 2 d top/a/b");
	int g = once(&t, "E 3 f top/a/b/g");
	int lb = once(&t, "L 2 top/a/b");
	int f = once(&t, "E 2 f top/a/f");
	int la = once(&t, "L 1 top/a");
	int e = once(&t, "E 1 d top/e");
	int le = once(&t, "L 1 top/e");
	once(&t, "E 1 f top/h");
	/* Symbolic links below the top are entries, never followed. */
	once(&t, "E 1 l top/to_dir");
	once(&t, "E 1 l top/dangling");
	ck_assert_int_eq(index_of(&t.lines, "E 2 f top/to_dir/secret"), -1);
	ck_assert_int_eq(once(&t, "L 0 top"), (int)t.lines.n - 1);
	/* A folder before what is in it, left after it. */
	ck_assert_int_lt(a, b);
	ck_assert_int_lt(b, g);
	ck_assert_int_lt(g, lb);
	ck_assert_int_lt(a, f);
	ck_assert_int_lt(f, la);
	ck_assert_int_lt(lb, la);
	ck_assert_int_lt(e, le);
	strv_free(&t.lines);
	free(top);
}
END_TEST

START_TEST(symlinks_at_the_top_and_with_follow)
{
	make_tree();
	char *top = in_tmp("top");
	make_link(top, "alias");
	char *alias = in_tmp("alias");

	/* Not followed: the link is the whole walk. */
	struct trace t = {0};
	struct walk w = trace_walk(&t, 0);
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, alias), 0);
	ck_assert_uint_eq(t.lines.n, 1);
	ck_assert_str_eq(t.lines.v[0], "E 0 l alias");
	strv_free(&t.lines);

	/* WALK_TOP_FOLLOW: the folder it names, whose links stay links. */
	w = trace_walk(&t, WALK_TOP_FOLLOW);
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, alias), 0);
	once(&t, "E 0 d alias");
	once(&t, "E 3 f alias/a/b/g");
	once(&t, "E 1 l alias/to_dir");
	strv_free(&t.lines);

	/* WALK_TOP_DIR without WALK_TOP_FOLLOW: a link there is no folder
	 * (O_NOFOLLOW | O_DIRECTORY on a link: ENOTDIR). */
	t.fail_rc = -1;
	w = trace_walk(&t, WALK_TOP_DIR);
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, alias), -1);
	ck_assert_uint_eq(t.lines.n, 1);
	char *want = xasprintf("F 0 open folder alias %d", ENOTDIR);
	ck_assert_str_eq(t.lines.v[0], want);
	free(want);
	strv_free(&t.lines);

	/* WALK_FOLLOW: entries through their links; a dangling one fails
	 * "stat" and the hook lets the walk go on. */
	t.fail_rc = 0;
	w = trace_walk(&t, WALK_FOLLOW);
	w.max_depth = 1;
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	once(&t, "E 1 d top/to_dir");
	once(&t, "E 1 d top/a");
	/* max_depth 1: folders at depth 1 are entries, not gone into. */
	ck_assert_int_eq(index_of(&t.lines, "E 2 f top/to_dir/secret"), -1);
	ck_assert_int_eq(index_of(&t.lines, "L 1 top/a"), -1);
	/* ENOENT below the top counts as vanished: no entry, no failure. */
	ck_assert_int_eq(index_of(&t.lines, "E 1 l top/dangling"), -1);
	ck_assert_uint_eq(t.lines.n, 6); /* top, a, e, h, to_dir; top left */
	strv_free(&t.lines);

	free(top);
	free(alias);
}
END_TEST

START_TEST(failures_name_the_full_path)
{
	make_tree();
	/* A symlink loop fails "stat" through WALK_FOLLOW whoever runs this. */
	make_link("loop", "top/a/b/loop");
	char *top = in_tmp("top");
	struct trace t = {.fail_rc = -1};
	struct walk w = trace_walk(&t, WALK_FOLLOW);
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), -1);
	char *want = xasprintf("test: cannot stat '%s/a/b/loop': %s", top, strerror(ELOOP));
	ck_assert_str_eq(err, want);
	free(want);
	/* The walk stopped there: the folders above were not left. */
	ck_assert_int_eq(index_of(&t.lines, "L 1 top/a"), -1);
	ck_assert_int_eq(index_of(&t.lines, "L 0 top"), -1);
	strv_free(&t.lines);

	/* Without a hook, walk_report: the top that is not there. */
	char *missing = in_tmp("nope");
	struct walk plain = {.subsystem = "test", .err = err, .errlen = sizeof(err)};
	ck_assert_int_eq(walk_tree(&plain, AT_FDCWD, missing), -1);
	want = xasprintf("test: cannot stat '%s': %s", missing, strerror(ENOENT));
	ck_assert_str_eq(err, want);
	free(want);
	plain.flags = WALK_TOP_DIR;
	ck_assert_int_eq(walk_tree(&plain, AT_FDCWD, missing), -1);
	want = xasprintf("test: cannot open folder '%s': %s", missing, strerror(ENOENT));
	ck_assert_str_eq(err, want);
	free(want);
	/* WALK_TOP_DIR on a file. */
	char *h = in_tmp("top/h");
	ck_assert_int_eq(walk_tree(&plain, AT_FDCWD, h), -1);
	want = xasprintf("test: cannot open folder '%s': %s", h, strerror(ENOTDIR));
	ck_assert_str_eq(err, want);
	free(want);
	/* Without WALK_TOP_DIR a file is a walk of one entry. */
	plain.flags = 0;
	ck_assert_int_eq(walk_tree(&plain, AT_FDCWD, h), 0);
	/* A hook that lets a missing top go: nothing happens, 0. */
	t.fail_rc = 0;
	w = trace_walk(&t, WALK_TOP_DIR);
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, missing), 0);
	ck_assert_uint_eq(t.lines.n, 1);
	want = xasprintf("F 0 open folder nope %d", ENOENT);
	ck_assert_str_eq(t.lines.v[0], want);
	free(want);
	strv_free(&t.lines);
	free(h);
	free(missing);
	free(top);
}
END_TEST

/* walk_tree(top) with walk_report's messages, for t_as_nobody (the test
 * runs as root, who may read any folder). */
static int plain_walk(void *top, char *out, size_t outlen)
{
	struct walk w = {.subsystem = "test", .err = out, .errlen = outlen};
	return walk_tree(&w, AT_FDCWD, top);
}

static int walk_as_nobody(const char *top, char *out, size_t outlen)
{
	return t_as_nobody(plain_walk, (void *)top, out, outlen);
}

START_TEST(unreadable_folder)
{
	make_tree();
	ck_assert_int_eq(chmod(tmp, 0755), 0);
	char *b = in_tmp("top/a/b");
	ck_assert_int_eq(chmod(b, 0), 0);
	char *top = in_tmp("top");
	char out[1024];
	ck_assert_int_eq(walk_as_nobody(top, out, sizeof(out)), -1);
	char *want = xasprintf("test: cannot open folder '%s': %s", b, strerror(EACCES));
	ck_assert_str_eq(out, want);
	free(want);
	ck_assert_int_eq(chmod(b, 0755), 0);
	ck_assert_int_eq(walk_as_nobody(top, out, sizeof(out)), 0);
	free(b);
	free(top);
}
END_TEST

START_TEST(prune_and_stop)
{
	make_tree();
	char *top = in_tmp("top");
	/* "a" and "e" are pruned: entries, nothing below, not left. */
	struct trace t = {.prune_name_len = 1};
	struct walk w = trace_walk(&t, 0);
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	once(&t, "E 1 d top/a");
	ck_assert_int_eq(index_of(&t.lines, "E 2 d top/a/b"), -1);
	ck_assert_int_eq(index_of(&t.lines, "L 1 top/a"), -1);
	ck_assert_int_eq(index_of(&t.lines, "L 1 top/e"), -1);
	once(&t, "L 0 top");
	strv_free(&t.lines);

	/* An entry callback that fails stops the walk with its message. */
	t = (struct trace){.stop_at = "b"};
	w = trace_walk(&t, 0);
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), -1);
	ck_assert_str_eq(err, "stopped at b");
	ck_assert_int_eq(index_of(&t.lines, "E 3 f top/a/b/g"), -1);
	ck_assert_int_eq(index_of(&t.lines, "L 1 top/a"), -1);
	ck_assert_int_eq(index_of(&t.lines, "L 0 top"), -1);
	strv_free(&t.lines);
	free(top);
}
END_TEST

/* tmp/name with `levels` folders named `comp` nested below it. */
static void make_deep(const char *name, const char *comp, int levels)
{
	make_dir(name);
	char *p = in_tmp(name);
	t_nest_folders(p, comp, levels);
	free(p);
}

static int count_entry(struct walk *w, struct walk_entry *e)
{
	(void)e;
	(*(size_t *)w->data)++;
	return 0;
}

START_TEST(depth)
{
	/* Deeper than PATH_MAX allows as one path: fine, one fd a level. */
	char comp[101];
	memset(comp, 'd', 100);
	comp[100] = '\0';
	make_deep("long", comp, 60);
	char *top = in_tmp("long");
	size_t n = 0;
	struct walk w = {.entry = count_entry,
	                 .data = &n,
	                 .subsystem = "test",
	                 .err = err,
	                 .errlen = sizeof(err)};
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	ck_assert_uint_eq(n, 62); /* the top, 60 folders, the leaf */
	free(top);

	/* WALK_DEPTH_LIMIT levels below the top are fine ... */
	make_deep("limit", "d", WALK_DEPTH_LIMIT - 1);
	top = in_tmp("limit");
	n = 0;
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	ck_assert_uint_eq(n, WALK_DEPTH_LIMIT + 1);
	free(top);

	/* ... one more is an error naming the folder it would not open. */
	make_deep("deeper", "d", WALK_DEPTH_LIMIT);
	top = in_tmp("deeper");
	n = 0;
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), -1);
	char *want = xstrdup(top);
	for (int i = 0; i < WALK_DEPTH_LIMIT; i++) {
		char *longer = xasprintf("%s/d", want);
		free(want);
		want = longer;
	}
	char *msg = xasprintf("test: cannot open folder '%s': %s", want,
	                      walk_reason(WALK_TOO_DEEP));
	ck_assert_str_eq(err, msg);
	ck_assert_ptr_nonnull(strstr(err, "more than 256"));
	free(msg);
	free(want);

	/* A max_depth of the caller's own is a limit, not an error. */
	w.max_depth = 2;
	n = 0;
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	ck_assert_uint_eq(n, 3);
	free(top);
}
END_TEST

/* Marks: the callback of a/ marks everything below it. */
static int mark_entry(struct walk *w, struct walk_entry *e)
{
	struct strv *seen = w->data;
	if (e->depth == 1 && strcmp(e->name, "a") == 0)
		e->mark = 7;
	char *line = xasprintf("%s %ld", e->depth == 0 ? "TOP" : e->name, e->mark);
	strv_push(seen, line);
	free(line);
	return 0;
}

START_TEST(marks_pass_down)
{
	make_tree();
	char *top = in_tmp("top");
	struct strv seen = {0};
	struct walk w = {.entry = mark_entry, .data = &seen, .err = err, .errlen = sizeof(err)};
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	ck_assert_int_ge(index_of(&seen, "TOP -1"), 0);
	ck_assert_int_ge(index_of(&seen, "a 7"), 0);
	ck_assert_int_ge(index_of(&seen, "b 7"), 0);
	ck_assert_int_ge(index_of(&seen, "g 7"), 0);
	ck_assert_int_ge(index_of(&seen, "f 7"), 0);
	ck_assert_int_ge(index_of(&seen, "e -1"), 0);
	ck_assert_int_ge(index_of(&seen, "h -1"), 0);
	strv_free(&seen);
	free(top);
}
END_TEST

/* Removing entries while walking: siblings not visited yet, and the folder
 * about to be gone into. */
static int remove_others(struct walk *w, struct walk_entry *e)
{
	size_t *n = w->data;
	if (e->depth == 0)
		return 0;
	(*n)++;
	if (*n == 1) {
		/* Whichever comes first takes all the others with it. */
		const char *all[] = {"a/b/g", "a/b", "a/f", "a", "e", "h", "to_dir", "dangling"};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
			if (strcmp(all[i], e->name) == 0)
				continue;
			char *p = xasprintf("%s/top/%s", tmp, all[i]);
			if (unlink(p) != 0)
				(void)rmdir(p);
			free(p);
		}
		/* And itself: a folder before it is gone into. */
		ck_assert_int_eq(unlinkat(e->dirfd, e->name,
		                          S_ISDIR(e->st->st_mode) ? AT_REMOVEDIR : 0),
		                 0);
	}
	return 0;
}

static int no_fail(struct walk *w, const struct walk_entry *e, const char *what, int e_no)
{
	(void)w;
	ck_abort_msg("fail called: %s %s %d", what, e->name, e_no);
	return -1;
}

START_TEST(vanished_entries)
{
	make_tree();
	char *top = in_tmp("top");
	size_t n = 0;
	struct walk w = {.entry = remove_others,
	                 .fail = no_fail,
	                 .data = &n,
	                 .err = err,
	                 .errlen = sizeof(err)};
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(t_count_entries(top), 0);
	free(top);
}
END_TEST

START_TEST(names)
{
	make_tree();
	char *top = in_tmp("top");
	int fd = open(top, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	struct strv a = {0}, b = {0};
	ck_assert_int_eq(walk_names(fd, &a), 0);
	ck_assert_uint_eq(a.n, 5);
	const char *want[] = {"a", "e", "h", "to_dir", "dangling"};
	for (size_t i = 0; i < 5; i++)
		ck_assert_msg(strv_contains(&a, want[i]), "no %s", want[i]);
	/* Again on the same fd: the same names, from the start. */
	ck_assert_int_eq(walk_names(fd, &b), 0);
	ck_assert_uint_eq(b.n, 5);
	struct stat st;
	ck_assert_int_eq(fstatat(fd, "h", &st, 0), 0);
	close(fd);
	ck_assert_int_eq(walk_names(fd, &b), -1);
	ck_assert_int_eq(errno, EBADF);
	strv_free(&a);
	strv_free(&b);
	free(top);
}
END_TEST

START_TEST(inode_set)
{
	struct walk_inodes *s = walk_inodes_new();
	ck_assert(!walk_inodes_add(s, 1, 2, -1));
	ck_assert(walk_inodes_add(s, 1, 2, -1));
	ck_assert(!walk_inodes_add(s, 1, 2, 0));  /* another tag */
	ck_assert(!walk_inodes_add(s, 2, 2, -1)); /* another device */
	ck_assert(!walk_inodes_add(s, 1, 3, -1));
	/* Growing keeps every key. */
	for (ino_t i = 100; i < 20100; i++)
		ck_assert(!walk_inodes_add(s, 9, i, (long)(i % 3)));
	for (ino_t i = 100; i < 20100; i++)
		ck_assert_msg(walk_inodes_add(s, 9, i, (long)(i % 3)), "lost %lu",
		              (unsigned long)i);
	ck_assert(walk_inodes_add(s, 1, 2, 0));
	ck_assert(!walk_inodes_add(s, 9, 100, 2));
	walk_inodes_free(s);
	walk_inodes_free(NULL);
}
END_TEST

START_TEST(hard_links_once)
{
	make_tree();
	char *g = in_tmp("top/a/b/g");
	char *g2 = in_tmp("top/e/g2");
	char *g3 = in_tmp("outside/g3");
	ck_assert_int_eq(link(g, g2), 0);
	ck_assert_int_eq(link(g, g3), 0);
	char *top = in_tmp("top");
	char *outside = in_tmp("outside");

	/* Without a set every name counts. */
	size_t n = 0;
	struct walk w = {.entry = count_entry, .data = &n, .err = err, .errlen = sizeof(err)};
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	ck_assert_uint_eq(n, 10);

	/* With one, the second name of g is skipped; folders never are. */
	w.seen = walk_inodes_new();
	n = 0;
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, top), 0);
	ck_assert_uint_eq(n, 9);
	/* The set carries over to the next walk: g3 is g. */
	n = 0;
	ck_assert_int_eq(walk_tree(&w, AT_FDCWD, outside), 0);
	ck_assert_uint_eq(n, 2); /* outside/, secret */
	walk_inodes_free(w.seen);
	free(g);
	free(g2);
	free(g3);
	free(top);
	free(outside);
}
END_TEST

static Suite *walk_suite(void)
{
	Suite *s = suite_create("walk");
	TCase *tc = tcase_create("walk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, order_and_every_entry);
	tcase_add_test(tc, symlinks_at_the_top_and_with_follow);
	tcase_add_test(tc, failures_name_the_full_path);
	tcase_add_test(tc, unreadable_folder);
	tcase_add_test(tc, prune_and_stop);
	tcase_add_test(tc, depth);
	tcase_add_test(tc, marks_pass_down);
	tcase_add_test(tc, vanished_entries);
	tcase_add_test(tc, names);
	tcase_add_test(tc, inode_set);
	tcase_add_test(tc, hard_links_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(walk_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
