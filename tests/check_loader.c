/* check_loader.c - unit tests for core/loader.c, elfcheck.c and ownercheck.c with the fixture plugins of tests/fixtures. */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/io.h"
#include "loader.h"
#include "loader_internal.h"
#include "log.h"
#include "testlib.h"
#include "util.h"

#define PRINT_DIR_ARG "--print-default-dir"

/* A fresh temp folder with a symlink NAME.so for each fixture in the
 * NULL-terminated list. */
static char *scenario(const char *const *fixtures)
{
	char *dir = t_mkdtemp("loader");
	for (size_t i = 0; fixtures[i] != NULL; i++) {
		char *src = t_fixture_path(fixtures[i]);
		char *dst = xasprintf("%s/%s.so", dir, fixtures[i]);
		ck_assert_int_eq(symlink(src, dst), 0);
		free(dst);
		free(src);
	}
	return dir;
}

/* `tmpl` with every "@D" replaced by `dir`. */
static char *subst_dir(const char *tmpl, const char *dir)
{
	char *out = NULL;
	size_t len = 0, cap = 0;
	const char *p = tmpl;
	const char *at;
	while ((at = strstr(p, "@D")) != NULL) {
		buf_append(&out, &len, &cap, p, (size_t)(at - p));
		buf_append(&out, &len, &cap, dir, strlen(dir));
		p = at + 2;
	}
	buf_append(&out, &len, &cap, p, strlen(p));
	return out;
}

/* Loading a fresh folder with `fixtures` fails with exactly `expected`
 * ("@D" standing for the folder) and leaves the loader empty. */
static void expect_load_error(const char *const *fixtures, const char *expected)
{
	char *dir = scenario(fixtures);
	struct loader ld = {0};
	char err[1024] = "";
	ck_assert_int_eq(loader_load_dir(&ld, dir, err, sizeof(err)), -1);
	char *want = subst_dir(expected, dir);
	ck_assert_str_eq(err, want);
	/* Everything loaded before the failure is gone. */
	ck_assert_ptr_null(ld.state);
	free(want);
	t_remove_tree(dir);
	free(dir);
}

/* How many plugins `ld` holds. */
static size_t n_loaded(const struct loader *ld)
{
	return ld->state != NULL ? ld->state->n : 0;
}

static const char *test_config_get(const char *section, const char *key)
{
	if (strcmp(section, "fixture") == 0 && strcmp(key, "greeting") == 0)
		return "hello";
	return NULL;
}

START_TEST(test_load_valid_plugins)
{
	static const char *const fx[] = {"good_report", "good_compress", "good_condition", NULL};
	char *dir = scenario(fx);
	char *marker = xasprintf("%s/marker", dir);
	char *logfile = xasprintf("%s/oma.log", dir);
	setenv("OMA_FIXTURE_MARKER", marker, 1);
	/* Files that are not plugins are ignored. */
	char *readme = xasprintf("%s/README", dir);
	char *subdir = xasprintf("%s/sub.so", dir);
	FILE *f = fopen(readme, "we");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(mkdir(subdir, 0700), 0);

	struct loader ld = {0};
	char err[512] = "";
	ck_assert_int_eq(loader_load_dir(&ld, dir, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(n_loaded(&ld), 3);
	ck_assert_str_eq(ld.state->dir, dir);

	/* Sorted by file name. */
	ck_assert_str_eq(strrchr(ld.state->plugins[0]->path, '/'), "/good_compress.so");
	ck_assert_str_eq(strrchr(ld.state->plugins[1]->path, '/'), "/good_condition.so");
	ck_assert_str_eq(strrchr(ld.state->plugins[2]->path, '/'), "/good_report.so");

	/* The same name may be used once per type. */
	struct loaded_plugin *c = loader_find(&ld, OMA_PLUGIN_COMPRESS, "fixture");
	struct loaded_plugin *r = loader_find(&ld, OMA_PLUGIN_REPORT, "fixture");
	struct loaded_plugin *k = loader_find(&ld, OMA_PLUGIN_CONDITION, "fixture");
	ck_assert_ptr_eq(c, ld.state->plugins[0]);
	ck_assert_ptr_eq(k, ld.state->plugins[1]);
	ck_assert_ptr_eq(r, ld.state->plugins[2]);
	ck_assert_ptr_null(loader_find(&ld, OMA_PLUGIN_COMPRESS, "gzip"));
	ck_assert_str_eq(c->desc->compress->suffix, ".sql.fix");
	ck_assert_int_eq(c->initialized, 0);

	/* Loading called no init: the fixture's init leaves a marker file. */
	ck_assert_int_eq(access(marker, F_OK), -1);

	/* init runs once, through the host table, which logs and reads config. */
	ck_assert_int_eq(log_open(logfile), 0);
	loader_set_config_getter(test_config_get);
	ck_assert_int_eq(loader_init(c, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(c->initialized, 1);
	ck_assert_int_eq(loader_init(c, loader_host(), err, sizeof(err)), 0);
	char *m = t_read_file(marker);
	ck_assert_str_eq(m, "init\n");
	free(m);
	char *log = t_read_file(logfile);
	ck_assert_ptr_nonnull(strstr(log, " INFO fixture init: greeting=hello\n"));
	free(log);
	log_close();

	/* The loaded functions work. */
	struct oma_condition_result res = {0};
	ck_assert_int_eq(k->desc->condition->run("true", 0, NULL, &res, err, sizeof(err)), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(res.out, "true");
	k->desc->condition->result_free(&res);

	/* fini runs on unload for what was initialized. */
	loader_unload(&ld);
	ck_assert_ptr_null(ld.state);
	m = t_read_file(marker);
	ck_assert_str_eq(m, "init\nfini\n");
	free(m);
	loader_set_config_getter(NULL);

	free(readme);
	free(subdir);
	free(logfile);
	free(marker);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* loader_next walks the plugins of one type in load order. */
START_TEST(test_next_by_type)
{
	struct loader empty = {0};
	ck_assert_ptr_null(loader_next(&empty, OMA_PLUGIN_REPORT, NULL));
	static const char *const fx[] = {"report_ok", "good_compress", "report_fail", NULL};
	char *dir = scenario(fx);
	struct loader ld = {0};
	char err[512] = "";
	ck_assert_msg(loader_load_dir(&ld, dir, err, sizeof(err)) == 0, "%s", err);
	/* Loaded by file name: good_compress, report_fail, report_ok. */
	struct loaded_plugin *p = loader_next(&ld, OMA_PLUGIN_REPORT, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->desc->name, "report_fail");
	ck_assert_ptr_eq(loader_find(&ld, OMA_PLUGIN_REPORT, "report_fail"), p);
	p = loader_next(&ld, OMA_PLUGIN_REPORT, p);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->desc->name, "report_ok");
	ck_assert_ptr_null(loader_next(&ld, OMA_PLUGIN_REPORT, p));
	struct loaded_plugin *c = loader_next(&ld, OMA_PLUGIN_COMPRESS, NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->desc->name, "fixture");
	ck_assert_ptr_null(loader_next(&ld, OMA_PLUGIN_COMPRESS, c));
	/* After a plugin of another type: the next one of this type. */
	p = loader_next(&ld, OMA_PLUGIN_REPORT, c);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->desc->name, "report_fail");
	ck_assert_ptr_null(loader_next(&ld, OMA_PLUGIN_CONDITION, NULL));
	loader_unload(&ld);
	ck_assert_ptr_null(loader_next(&ld, OMA_PLUGIN_REPORT, NULL));
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_host_table)
{
	const struct oma_host *h = loader_host();
	ck_assert_uint_eq(h->abi, OMA_PLUGIN_ABI);
	ck_assert_uint_eq(h->size, sizeof(struct oma_host));
	ck_assert_ptr_nonnull(h->log);
	ck_assert_ptr_nonnull(h->config_get);
	loader_set_config_getter(NULL);
	ck_assert_ptr_null(h->config_get("fixture", "greeting"));
	loader_set_config_getter(test_config_get);
	ck_assert_str_eq(h->config_get("fixture", "greeting"), "hello");
	ck_assert_ptr_null(h->config_get("fixture", "other"));
	loader_set_config_getter(NULL);

	char *dir = t_mkdtemp("loader");
	char *logfile = xasprintf("%s/oma.log", dir);
	ck_assert_int_eq(log_open(logfile), 0);
	log_set_stderr_level(OMA_LOG_ERROR + 1); /* keep the test output clean */
	unsigned errors = log_error_count();
	h->log(OMA_LOG_WARNING, "from plugin %d %s", 42, "text");
	h->log(OMA_LOG_ERROR, "plugin error");
	log_close();
	ck_assert_uint_eq(log_error_count(), errors + 1);
	char *log = t_read_file(logfile);
	ck_assert_ptr_nonnull(strstr(log, " WARNING from plugin 42 text\n"));
	ck_assert_ptr_nonnull(strstr(log, " ERROR plugin error\n"));
	free(log);
	free(logfile);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_wrong_abi)
{
	static const char *const fx[] = {"wrong_abi", NULL};
	expect_load_error(fx, "plugin @D/wrong_abi.so: ABI mismatch: expected 1, found 999");
}
END_TEST

START_TEST(test_no_descriptor)
{
	static const char *const fx[] = {"no_descriptor", NULL};
	expect_load_error(fx, "plugin @D/no_descriptor.so: no oma_plugin_descriptor symbol "
	                      "(not an oma plugin?)");
}
END_TEST

START_TEST(test_duplicate)
{
	static const char *const fx[] = {"dup_b", "dup_a", NULL};
	expect_load_error(
	        fx, "plugin @D/dup_b.so: duplicate compress plugin 'dup' (also in @D/dup_a.so)");
}
END_TEST

START_TEST(test_bad_name)
{
	static const char *const fx[] = {"bad_name", NULL};
	expect_load_error(fx, "plugin @D/bad_name.so: invalid plugin name '../Evil' "
	                      "(expected 1 to 64 of [a-z0-9_-])");
}
END_TEST

START_TEST(test_missing_function)
{
	static const char *const fx[] = {"missing_ops", NULL};
	expect_load_error(fx,
	                  "plugin @D/missing_ops.so: compress plugin 'missingops' has no write()");
}
END_TEST

START_TEST(test_store_without_commit)
{
	static const char *const fx[] = {"store_nocommit", NULL};
	expect_load_error(fx,
	                  "plugin @D/store_nocommit.so: store plugin 'nocommit' has no commit()");
}
END_TEST

START_TEST(test_missing_ops_table)
{
	static const char *const fx[] = {"no_ops", NULL};
	expect_load_error(fx, "plugin @D/no_ops.so: condition plugin 'noops' has no condition ops");
}
END_TEST

START_TEST(test_small_size)
{
	static const char *const fx[] = {"small_size", NULL};
	char *fmt = xasprintf("plugin @D/small_size.so: descriptor size 16 is smaller than %zu",
	                      sizeof(struct oma_plugin));
	expect_load_error(fx, fmt);
	free(fmt);
}
END_TEST

START_TEST(test_unknown_type)
{
	static const char *const fx[] = {"bad_type", NULL};
	expect_load_error(fx, "plugin @D/bad_type.so: unknown plugin type 42");
}
END_TEST

/* A failure after good plugins unloads those too, without calling any init. */
START_TEST(test_failure_unloads_everything)
{
	static const char *const fx[] = {"good_compress", "good_report", "wrong_abi", NULL};
	char *marker = xasprintf("/tmp/oma-check-loader-marker-%d", (int)getpid());
	setenv("OMA_FIXTURE_MARKER", marker, 1);
	expect_load_error(fx, "plugin @D/wrong_abi.so: ABI mismatch: expected 1, found 999");
	ck_assert_int_eq(access(marker, F_OK), -1);
	free(marker);
}
END_TEST

START_TEST(test_not_a_shared_object)
{
	char *dir = t_mkdtemp("loader");
	char *junk = xasprintf("%s/junk.so", dir);
	FILE *f = fopen(junk, "we");
	ck_assert_ptr_nonnull(f);
	fputs("this is not ELF\n", f);
	fclose(f);
	struct loader ld = {0};
	char err[1024] = "";
	ck_assert_int_eq(loader_load_dir(&ld, dir, err, sizeof(err)), -1);
	char *want = xasprintf("plugin %s: not an ELF file", junk);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(n_loaded(&ld), 0);
	free(want);
	free(junk);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_init_fails)
{
	static const char *const fx[] = {"init_fails", NULL};
	char *dir = scenario(fx);
	struct loader ld = {0};
	char err[1024] = "";
	ck_assert_int_eq(loader_load_dir(&ld, dir, err, sizeof(err)), 0);
	struct loaded_plugin *p = loader_find(&ld, OMA_PLUGIN_REPORT, "initfails");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(loader_init(p, loader_host(), err, sizeof(err)), -1);
	char *expected = xasprintf("plugin %s/init_fails.so: init of 'initfails' failed: "
	                           "frobnicator not configured",
	                           dir);
	ck_assert_str_eq(err, expected);
	ck_assert_int_eq(p->initialized, 0);
	loader_unload(&ld);
	free(expected);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_missing_dir)
{
	char *dir = t_mkdtemp("loader");
	char *gone = xasprintf("%s/nope", dir);
	struct loader ld = {0};
	char err[1024] = "";
	ck_assert_int_eq(loader_load_dir(&ld, gone, err, sizeof(err)), -1);
	char *expected = xasprintf("plugin dir %s: No such file or directory", gone);
	ck_assert_str_eq(err, expected);
	ck_assert_uint_eq(n_loaded(&ld), 0);
	free(expected);
	free(gone);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_empty_dir)
{
	char *dir = t_mkdtemp("loader");
	struct loader ld = {0};
	char err[256] = "";
	ck_assert_int_eq(loader_load_dir(&ld, dir, err, sizeof(err)), 0);
	ck_assert_uint_eq(n_loaded(&ld), 0);
	ck_assert_ptr_null(loader_find(&ld, OMA_PLUGIN_COMPRESS, "gzip"));
	loader_unload(&ld);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* The plugin folder of an oma installed below `prefix` (malloc'ed):
 * prefix/OMA_PLUGIN_SUBDIR, or OMA_PLUGIN_SUBDIR itself when it is
 * absolute (PLUGINDIR outside PREFIX). */
#ifndef OMA_PLUGIN_SUBDIR
#error "OMA_PLUGIN_SUBDIR: the Makefile passes the install layout (LAYOUT_CFLAGS)"
#endif
static char *plugin_dir_below(const char *prefix)
{
	if (OMA_PLUGIN_SUBDIR[0] == '/')
		return xstrdup(OMA_PLUGIN_SUBDIR);
	return xasprintf("%s/%s", prefix, OMA_PLUGIN_SUBDIR);
}

/* Run `exe PRINT_DIR_ARG` without $OMA_PLUGIN_DIR and return what it printed. */
static char *run_print_dir(const char *exe)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		unsetenv("OMA_PLUGIN_DIR");
		execl(exe, exe, PRINT_DIR_ARG, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char *out = NULL;
	size_t len = 0, cap = 0;
	char chunk[512];
	ssize_t n;
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
		buf_append(&out, &len, &cap, chunk, (size_t)n);
	close(fds[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_ptr_nonnull(out);
	return out;
}

static void copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(in, 0);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_int_ge(out, 0);
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(cm_write_all(out, buf, (size_t)n), 0);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(close(out), 0);
}

START_TEST(test_default_dir)
{
	/* configured beats the environment, which beats the executable. */
	setenv("OMA_PLUGIN_DIR", "/from/env", 1);
	char *d = loader_default_dir("/from/config");
	ck_assert_str_eq(d, "/from/config");
	free(d);
	d = loader_default_dir(NULL);
	ck_assert_str_eq(d, "/from/env");
	free(d);

	/* An empty variable counts as unset: the executable decides. */
	char *root = t_mkdtemp("loader");
	char *bin = xasprintf("%s/bin", root);
	char *exe = xasprintf("%s/check_loader", bin);
	char *plugins = xasprintf("%s/plugins", bin);
	ck_assert_int_eq(mkdir(bin, 0700), 0);
	copy_file("/proc/self/exe", exe, 0700);

	setenv("OMA_PLUGIN_DIR", "", 1);
	d = loader_default_dir(NULL);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	char *own = xasprintf("%s/plugins", self);
	struct stat st;
	if (stat(own, &st) != 0) {
		*strrchr(self, '/') = '\0';
		free(own);
		own = plugin_dir_below(self);
	}
	ck_assert_str_eq(d, own);
	free(own);
	free(d);
	unsetenv("OMA_PLUGIN_DIR");

	/* Installed layout: PREFIX/bin/oma -> PREFIX/PLUGIN_SUBDIR, the
	 * PLUGINDIR of `make install` below its PREFIX (the Makefile passes
	 * both; Debian's package: lib/TRIPLET/oma/plugins). */
	char *out = run_print_dir(exe);
	char *below = plugin_dir_below(root);
	char *expected = xasprintf("%s\n", below);
	free(below);
	ck_assert_str_eq(out, expected);
	free(expected);
	free(out);

	/* Build tree: build/oma -> build/plugins once that folder exists. */
	ck_assert_int_eq(mkdir(plugins, 0700), 0);
	out = run_print_dir(exe);
	expected = xasprintf("%s\n", plugins);
	ck_assert_str_eq(out, expected);
	free(expected);
	free(out);

	free(plugins);
	free(exe);
	free(bin);
	t_remove_tree(root);
	free(root);
}
END_TEST

/* Copy `len` bytes of fixture `name` (all of it when len is 0) to
 * dir/file with `mode`. */
static char *copy_fixture(const char *name, const char *dir, const char *file, size_t len,
                          mode_t mode)
{
	char *src = t_fixture_path(name);
	char *data = t_read_file(src);
	ck_assert_ptr_nonnull(data);
	struct stat st;
	ck_assert_int_eq(stat(src, &st), 0);
	char *dst = xasprintf("%s/%s", dir, file);
	t_write_bytes(dst, data, len > 0 ? len : (size_t)st.st_size, mode);
	ck_assert_int_eq(chmod(dst, mode), 0);
	free(data);
	free(src);
	return dst;
}

/* Only TYPE-NAME.so is loaded: a stray or broken *.so beside it does not
 * matter, a missing one is named, one holding another plugin is refused. */
START_TEST(test_load_by_name)
{
	char *dir = t_mkdtemp("loader");
	free(copy_fixture("good_compress", dir, "compress-fixture.so", 0, 0644));
	free(copy_fixture("good_report", dir, "report-fixture.so", 0, 0644));
	free(copy_fixture("good_report", dir, "compress-other.so", 0, 0644));
	free(copy_fixture("good_compress", dir, "junk.so", 1000, 0644)); /* truncated */
	free(copy_fixture("wrong_abi", dir, "report-wrongabi.so", 0, 0644));
	struct loader ld = {0};
	struct loaded_plugin *p = NULL;
	char err[1024] = "";
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 0);
	ck_assert_str_eq(p->desc->compress->suffix, ".sql.fix");
	struct loaded_plugin *again = NULL;
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &again, err,
	                             sizeof(err)),
	                 0);
	ck_assert_ptr_eq(again, p);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_REPORT, "fixture", &p, err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(n_loaded(&ld), 2);

	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "nope", &p, err, sizeof(err)),
	                 1);
	char *want = xasprintf("no compress plugin 'nope' (compress-nope.so) in %s", dir);
	ck_assert_str_eq(err, want);
	free(want);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_REPORT, "../x", &p, err, sizeof(err)), 1);

	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "other", &p, err, sizeof(err)),
	                 -1);
	want = xasprintf("plugin %s/compress-other.so: holds report plugin 'fixture', expected "
	                 "compress plugin 'other'",
	                 dir);
	ck_assert_str_eq(err, want);
	free(want);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_REPORT, "wrongabi", &p, err, sizeof(err)),
	                 -1);
	ck_assert_msg(strstr(err, "ABI mismatch: expected 1, found") != NULL, "%s", err);
	ck_assert_uint_eq(n_loaded(&ld), 2);
	loader_unload(&ld);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* A plugin cut short anywhere (a truncated copy, a full disk) is refused
 * with a message before dlopen, which would die of SIGBUS on it. */
START_TEST(test_truncated_plugin)
{
	char *dir = t_mkdtemp("loader");
	char *src = t_fixture_path("good_compress");
	struct stat st;
	ck_assert_int_eq(stat(src, &st), 0);
	size_t full = (size_t)st.st_size;
	size_t cuts[] = {1, 16, 63, 64, 200, 1000, full / 4, full / 2, full - 100, full - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		char *f = copy_fixture("good_compress", dir, "compress-fixture.so", cuts[i], 0644);
		struct loader ld = {0};
		struct loaded_plugin *p = NULL;
		char err[1024] = "";
		int rc = loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
		                     sizeof(err));
		ck_assert_msg(rc == -1, "a copy cut at %zu of %zu bytes was loaded", cuts[i], full);
		ck_assert_msg(strncmp(err, "plugin ", 7) == 0 && strstr(err, f) != NULL, "%s", err);
		loader_unload(&ld);
		free(f);
	}
	free(src);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* A copy of fixture `name` at dir/file of the same size as the original,
 * with every byte from `cut` on zero (what a crash or a full disk after
 * the size was set leaves), its header first changed by `patch` when set. */
static char *zero_tail_fixture(const char *name, const char *dir, const char *file, size_t cut,
                               void (*patch)(unsigned char *data, size_t len))
{
	char *src = t_fixture_path(name);
	unsigned char *data = (unsigned char *)t_read_file(src);
	struct stat st;
	ck_assert_int_eq(stat(src, &st), 0);
	size_t len = (size_t)st.st_size;
	if (patch != NULL)
		patch(data, len);
	if (cut < len)
		memset(data + cut, 0, len - cut);
	char *dst = xasprintf("%s/%s", dir, file);
	/* A new file, not the old one rewritten: a plugin loaded before stays
	 * mapped (RTLD_NODELETE), and dlopen gives back what it has for the
	 * same file, whatever the file holds now. */
	ck_assert(unlink(dst) == 0 || errno == ENOENT);
	t_write_bytes(dst, data, len, 0644);
	ck_assert_int_eq(chmod(dst, 0644), 0);
	free(data);
	free(src);
	return dst;
}

/* Drop the section headers, as `strip --strip-section-headers` does:
 * nothing needs them to load. */
static void drop_section_headers(unsigned char *data, size_t len)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)data;
	ck_assert_uint_ge(len, sizeof(*eh));
	eh->e_shoff = 0;
	eh->e_shnum = 0;
	eh->e_shstrndx = 0;
}

/* Where the table of dynamic tag `tag` is in the file `data`, or 0. */
static size_t dyn_table_offset(const unsigned char *data, int64_t tag)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + eh->e_phoff);
	const Elf64_Dyn *d = NULL;
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			d = (const Elf64_Dyn *)(data + ph[i].p_offset);
	ck_assert_ptr_nonnull(d);
	for (; d->d_tag != DT_NULL; d++) {
		if (d->d_tag != tag)
			continue;
		for (unsigned i = 0; i < eh->e_phnum; i++)
			if (ph[i].p_type == PT_LOAD && d->d_un.d_ptr >= ph[i].p_vaddr &&
			    d->d_un.d_ptr < ph[i].p_vaddr + ph[i].p_filesz)
				return ph[i].p_offset + (d->d_un.d_ptr - ph[i].p_vaddr);
	}
	return 0;
}

/* Where the dynamic section of fixture `name` begins in the file. */
static size_t dyn_section_offset(const char *name)
{
	char *src = t_fixture_path(name);
	unsigned char *data = (unsigned char *)t_read_file(src);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + eh->e_phoff);
	size_t at = 0;
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			at = ph[i].p_offset;
	ck_assert_uint_gt(at, 0);
	free(data);
	free(src);
	return at;
}

/* A GNU hash table of no buckets: dlsym() would divide by zero. */
static void no_hash_buckets(unsigned char *data, size_t len)
{
	size_t at = dyn_table_offset(data, DT_GNU_HASH);
	ck_assert_uint_gt(at, 0);
	ck_assert_uint_lt(at + 4, len);
	memset(data + at, 0, 4); /* nbuckets */
}

/* A string table said to reach past everything loaded. */
static void huge_strtab(unsigned char *data, size_t len)
{
	(void)len;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_DYNAMIC)
			continue;
		for (Elf64_Dyn *d = (Elf64_Dyn *)(data + ph[i].p_offset); d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_STRSZ)
				d->d_un.d_val = 1u << 30;
	}
}

/* Load dir/compress-fixture.so: refused with "plugin F: damaged ELF file
 * (" and `what` in the reason, nothing loaded. */
static void expect_damaged(const char *dir, const char *f, const char *what, const char *label)
{
	struct loader ld = {0};
	struct loaded_plugin *p = NULL;
	char err[1024] = "";
	int rc = loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err, sizeof(err));
	ck_assert_msg(rc == -1, "%s: loaded", label);
	char *want = xasprintf("plugin %s: damaged ELF file (", f);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0 && strstr(err, what) != NULL &&
	                      err[strlen(err) - 1] == ')' && strchr(err, '\n') == NULL,
	              "%s: %s", label, err);
	ck_assert_uint_eq(n_loaded(&ld), 0);
	loader_unload(&ld);
	free(want);
	loader_unload(&ld);
}

/* A plugin of the right size whose end is zeros (the file's size was set,
 * its contents never all written) is refused with a message before
 * dlopen, which would die of SIGSEGV on it; with or without section
 * headers. */
START_TEST(test_zero_filled_tail)
{
	char *dir = t_mkdtemp("loader");
	char *src = t_fixture_path("good_compress");
	struct stat st;
	ck_assert_int_eq(stat(src, &st), 0);
	size_t full = (size_t)st.st_size;
	size_t cuts[] = {64, 1000, full / 4, full / 2, full * 3 / 4, full - 200};
	size_t dyn = dyn_section_offset("good_compress");
	void (*patches[])(unsigned char *, size_t) = {NULL, drop_section_headers};
	for (size_t k = 0; k < 2; k++) {
		/* Whole, it loads: the checks do not refuse a good plugin. */
		char *f = zero_tail_fixture("good_compress", dir, "compress-fixture.so", full,
		                            patches[k]);
		struct loader ld = {0};
		struct loaded_plugin *p = NULL;
		char err[1024] = "";
		ck_assert_msg(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
		                          sizeof(err)) == 0,
		              "%s", err);
		loader_unload(&ld);
		free(f);
		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			/* Without section headers, zeros past the dynamic section
			 * cannot be told from data; before it, they can. */
			if (k == 1 && cuts[i] >= dyn)
				continue;
			f = zero_tail_fixture("good_compress", dir, "compress-fixture.so", cuts[i],
			                      patches[k]);
			char *label = xasprintf("zeros from byte %zu of %zu%s", cuts[i], full,
			                        k == 1 ? ", no section headers" : "");
			expect_damaged(dir, f, "", label);
			free(label);
			free(f);
		}
	}
	/* The exact case: everything after byte 1000 zero. */
	char *f = zero_tail_fixture("good_compress", dir, "compress-fixture.so", 1000, NULL);
	expect_damaged(dir, f, "section header", "zeros from byte 1000");
	free(f);
	f = zero_tail_fixture("good_compress", dir, "compress-fixture.so", 1000,
	                      drop_section_headers);
	expect_damaged(dir, f, "empty dynamic section at byte",
	               "zeros from 1000, no section headers");
	free(f);
	/* Damage inside the tables the dynamic section points to. */
	f = zero_tail_fixture("good_compress", dir, "compress-fixture.so", full, no_hash_buckets);
	expect_damaged(dir, f, "DT_GNU_HASH table at 0x", "no buckets");
	free(f);
	f = zero_tail_fixture("good_compress", dir, "compress-fixture.so", full, huge_strtab);
	expect_damaged(dir, f, "DT_STRTAB at 0x", "string table too long");
	free(f);
	free(src);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* What is loaded is the file that was checked, through its descriptor
 * (/proc/self/fd/N), not whatever the path names by the time of dlopen;
 * the plugin's path stays the one configured, and a descriptor number an
 * earlier plugin was loaded under does not give back that plugin. */
START_TEST(test_load_through_descriptor)
{
	static const char *const first[] = {"good_compress", NULL};
	char *dir = scenario(first);
	struct loader ld = {0};
	char err[1024] = "";
	ck_assert_int_eq(loader_load_dir(&ld, dir, err, sizeof(err)), 0);
	ck_assert_uint_eq(n_loaded(&ld), 1);
	char *want = xasprintf("%s/good_compress.so", dir);
	ck_assert_str_eq(ld.state->plugins[0]->path, want);
	free(want);
	Dl_info info;
	ck_assert_int_ne(dladdr(ld.state->plugins[0]->desc, &info), 0);
	ck_assert_msg(strncmp(info.dli_fname, "/proc/self/fd/", 14) == 0, "%s", info.dli_fname);
	loader_unload(&ld);

	/* Another file under the same name, loaded after the first is gone
	 * (its descriptor number free again): the new one is loaded. */
	char *other = t_mkdtemp("loader");
	free(copy_fixture("good_report", other, "compress-fixture.so", 0, 0644));
	struct loaded_plugin *p = NULL;
	ck_assert_int_eq(loader_load(&ld, other, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	want = xasprintf("plugin %s/compress-fixture.so: holds report plugin 'fixture', expected "
	                 "compress plugin 'fixture'",
	                 other);
	ck_assert_str_eq(err, want);
	free(want);
	ck_assert_int_eq(loader_load(&ld, other, OMA_PLUGIN_REPORT, "fixture", &p, err,
	                             sizeof(err)),
	                 1);
	char *moved = xasprintf("%s/report-fixture.so", other);
	char *was = xasprintf("%s/compress-fixture.so", other);
	ck_assert_int_eq(rename(was, moved), 0);
	ck_assert_int_eq(loader_load(&ld, other, OMA_PLUGIN_REPORT, "fixture", &p, err,
	                             sizeof(err)),
	                 0);
	ck_assert_str_eq(p->path, moved);
	ck_assert_ptr_nonnull(p->desc->report);
	loader_unload(&ld);
	free(moved);
	free(was);
	t_remove_tree(other);
	free(other);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* Without /proc there is no loading through the descriptor: a one-line
 * error naming the plugin, not a load by name.  Needs a mount namespace
 * of its own (root with CAP_SYS_ADMIN, as CI and the bare check have);
 * fails where there is none. */
START_TEST(test_load_without_proc)
{
	char *dir = t_mkdtemp("loader");
	char *f = copy_fixture("good_compress", dir, "compress-fixture.so", 0, 0644);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		const char *step = NULL;
		if (unshare(CLONE_NEWNS) != 0)
			step = "unshare(CLONE_NEWNS)";
		else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			step = "making / private (is / a mount point?)";
		else if (mount("none", "/proc", "tmpfs", 0, NULL) != 0)
			step = "a tmpfs over /proc";
		if (step != NULL) {
			char why[256];
			int len = snprintf(why, sizeof(why), "%s: %s", step, strerror(errno));
			ssize_t w = write(fds[1], why, (size_t)len);
			(void)w;
			_exit(77);
		}
		struct loader ld = {0};
		struct loaded_plugin *p = NULL;
		char err[1024] = "";
		int rc = loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
		                     sizeof(err));
		ssize_t w = write(fds[1], err, strlen(err));
		(void)w;
		_exit(rc == -1 && n_loaded(&ld) == 0 ? 0 : 1);
	}
	close(fds[1]);
	char out[1024];
	ssize_t n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	/* A machine where the test cannot hide /proc fails it: a test that
	 * cannot run is no pass. */
	ck_assert_msg(WEXITSTATUS(status) != 77,
	              "cannot run: no private mount namespace with /proc hidden (needs root with "
	              "CAP_SYS_ADMIN and / a mount point): %s",
	              out);
	ck_assert_msg(WEXITSTATUS(status) == 0, "loaded without /proc: %s", out);
	char *want = xasprintf("plugin %s: cannot load it through /proc/self/fd/", f);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0 &&
	                      strstr(out, ", the file checked: No such file or directory (is "
	                                  "/proc mounted?)") != NULL &&
	                      strchr(out, '\n') == NULL,
	              "%s", out);
	free(want);
	free(f);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* As root, code is loaded only from files and folders only root can
 * change. */
START_TEST(test_plugin_permissions)
{
	char *dir = t_mkdtemp("loader");
	char *f = copy_fixture("good_compress", dir, "compress-fixture.so", 0, 0664);
	struct loader ld = {0};
	struct loaded_plugin *p = NULL;
	char err[1024] = "";
	int rc = loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err, sizeof(err));
	if (geteuid() != 0) {
		/* Not root: no one gains anything; the modes are not checked. */
		ck_assert_int_eq(rc, 0);
		loader_unload(&ld);
		t_remove_tree(dir);
		free(f);
		free(dir);
		return;
	}
	ck_assert_int_eq(rc, -1);
	char *want = xasprintf("plugin file %s is writable by its group (mode 0664): refusing to "
	                       "load code from it as root",
	                       f);
	ck_assert_str_eq(err, want);
	free(want);
	ck_assert_int_eq(chmod(f, 0646), 0);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "is writable by others (mode 0646)"));
	ck_assert_int_eq(chmod(f, 0644), 0);
	ck_assert_int_eq(chown(f, 1000, 1000), 0);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "is owned by uid 1000, not root"));
	ck_assert_int_eq(chown(f, 0, 0), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	want = xasprintf(
	        "plugin folder %s is writable by others (mode 0777): refusing to load code "
	        "from it as root",
	        dir);
	ck_assert_str_eq(err, want);
	free(want);
	/* A link in a safe folder to a file in an unsafe one: refused too. */
	char *safe = t_mkdtemp("loader-safe");
	char *link = xasprintf("%s/compress-fixture.so", safe);
	ck_assert_int_eq(symlink(f, link), 0);
	ck_assert_int_eq(loader_load(&ld, safe, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "is writable by others (mode 0777)"));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(loader_load(&ld, safe, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 0);
	loader_unload(&ld);
	t_remove_tree(safe);
	t_remove_tree(dir);
	free(link);
	free(safe);
	free(f);
	free(dir);
}
END_TEST

/* As root, every folder above the plugin's real folder up to / must be
 * one only root can change, except that a root-owned sticky folder (like
 * /tmp, which the temp folders of these tests are in) is fine there. */
START_TEST(test_ancestor_permissions)
{
	if (geteuid() != 0) {
		/* Not root: nothing is checked (test_plugin_permissions). */
		fprintf(stderr, "test_ancestor_permissions: skipped (needs root)\n");
		return;
	}
	char *top = t_mkdtemp("loader");
	char *a = xasprintf("%s/a", top);
	char *b = xasprintf("%s/a/b", top);
	char *dir = xasprintf("%s/a/b/plugins", top);
	ck_assert_int_eq(mkdir(a, 0755), 0);
	ck_assert_int_eq(mkdir(b, 0755), 0);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chmod(top, 0755), 0);
	char *f = copy_fixture("good_compress", dir, "compress-fixture.so", 0, 0644);
	struct loader ld = {0};
	struct loaded_plugin *p = NULL;
	char err[1024] = "";
	ck_assert_msg(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err, sizeof(err)) ==
	                      0,
	              "%s", err);
	loader_unload(&ld);

	/* A group-writable folder two levels up. */
	ck_assert_int_eq(chmod(a, 0775), 0);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	char *want = xasprintf("plugin folder %s is writable by its group (mode 0775): refusing to "
	                       "load code from it as root",
	                       a);
	ck_assert_str_eq(err, want);
	free(want);
	/* The same through loader_load_dir, and through a link from a safe
	 * folder (the real path counts). */
	ck_assert_int_eq(loader_load_dir(&ld, dir, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "is writable by its group (mode 0775)") != NULL, "%s", err);
	char *safe = t_mkdtemp("loader-safe");
	char *link = xasprintf("%s/compress-fixture.so", safe);
	ck_assert_int_eq(symlink(f, link), 0);
	ck_assert_int_eq(loader_load(&ld, safe, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	want = xasprintf("plugin folder %s is writable by its group (mode 0775): refusing to load "
	                 "code from it as root",
	                 a);
	ck_assert_str_eq(err, want);
	free(want);

	/* Writable by others, or owned by someone else: refused too. */
	ck_assert_int_eq(chmod(a, 0757), 0);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	ck_assert_msg(strstr(err, "is writable by others (mode 0757)") != NULL, "%s", err);
	ck_assert_int_eq(chmod(a, 0755), 0);
	ck_assert_int_eq(chown(b, 1000, 1000), 0);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	want = xasprintf("plugin folder %s is owned by uid 1000, not root: refusing to load code "
	                 "from it as root",
	                 b);
	ck_assert_str_eq(err, want);
	free(want);

	/* Sticky and world-writable: fine above the plugin's folder when root
	 * owns it, not when someone else does, and never as the folder itself
	 * (anyone could add a plugin there). */
	ck_assert_int_eq(chown(b, 0, 0), 0);
	ck_assert_int_eq(chmod(a, 01777), 0);
	ck_assert_msg(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err, sizeof(err)) ==
	                      0,
	              "%s", err);
	loader_unload(&ld);
	ck_assert_int_eq(chown(a, 1000, 1000), 0);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	ck_assert_msg(strstr(err, "is owned by uid 1000, not root") != NULL, "%s", err);
	ck_assert_int_eq(chown(a, 0, 0), 0);
	ck_assert_int_eq(chmod(a, 0755), 0);
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(loader_load(&ld, dir, OMA_PLUGIN_COMPRESS, "fixture", &p, err,
	                             sizeof(err)),
	                 -1);
	ck_assert_msg(strstr(err, "is writable by others (mode 1777)") != NULL, "%s", err);
	ck_assert_uint_eq(n_loaded(&ld), 0);

	t_remove_tree(safe);
	t_remove_tree(top);
	free(link);
	free(safe);
	free(f);
	free(dir);
	free(b);
	free(a);
	free(top);
}
END_TEST

static Suite *loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_load_valid_plugins);
	tcase_add_test(tc, test_next_by_type);
	tcase_add_test(tc, test_host_table);
	tcase_add_test(tc, test_wrong_abi);
	tcase_add_test(tc, test_no_descriptor);
	tcase_add_test(tc, test_duplicate);
	tcase_add_test(tc, test_bad_name);
	tcase_add_test(tc, test_missing_function);
	tcase_add_test(tc, test_missing_ops_table);
	tcase_add_test(tc, test_store_without_commit);
	tcase_add_test(tc, test_small_size);
	tcase_add_test(tc, test_unknown_type);
	tcase_add_test(tc, test_failure_unloads_everything);
	tcase_add_test(tc, test_not_a_shared_object);
	tcase_add_test(tc, test_load_by_name);
	tcase_add_test(tc, test_truncated_plugin);
	tcase_add_test(tc, test_zero_filled_tail);
	tcase_add_test(tc, test_load_through_descriptor);
	tcase_add_test(tc, test_load_without_proc);
	tcase_add_test(tc, test_plugin_permissions);
	tcase_add_test(tc, test_ancestor_permissions);
	tcase_add_test(tc, test_init_fails);
	tcase_add_test(tc, test_missing_dir);
	tcase_add_test(tc, test_empty_dir);
	tcase_add_test(tc, test_default_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	/* Helper mode for test_default_dir: a copy of this binary reports what
	 * it would use. */
	if (argc == 2 && strcmp(argv[1], PRINT_DIR_ARG) == 0) {
		char *d = loader_default_dir(NULL);
		printf("%s\n", d);
		free(d);
		return 0;
	}
	SRunner *sr = srunner_create(loader_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
