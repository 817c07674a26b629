/* testlib.h - helpers shared by the unit tests (temp folders, files, plugins, a fake host config). */
#ifndef OMA_TESTLIB_H
#define OMA_TESTLIB_H

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "loader.h"
#include "util.h"

/* The build folder: $OMA_BUILD, else the folder above this binary's tests/
 * (build or build-san), else "build".  Malloc'ed. */
char *t_build_dir(void);

/* Absolute path of BUILD/tests/fixtures/NAME.so (malloc'ed); fails the test
 * when it has not been built. */
char *t_fixture_path(const char *name);

/* Load BUILD/plugins/TYPE-NAME.so into *ld and return it; fails the test
 * when loading fails or the plugin is not there.  Inline so
 * that tests which do not link core/loader.c can still link testlib.o. */
static inline struct loaded_plugin *t_load_plugin(struct loader *ld, int type, const char *name)
{
	char *build = t_build_dir();
	char *dir = xasprintf("%s/plugins", build);
	char err[1024] = "";
	struct loaded_plugin *p = NULL;
	int rc = loader_load(ld, dir, type, name, &p, err, sizeof(err));
	ck_assert_msg(rc == 0, "loading from %s: %s (run `make`)", dir, err);
	free(dir);
	free(build);
	return p;
}

/* The path of `rel` (e.g. "tests/lib/rgw.sh") in the source tree: beside
 * this binary's build folder (BUILD/tests/../../rel), else relative to the
 * current folder.  Malloc'ed; NULL when it is in neither place. */
char *t_source_path(const char *rel);

/* Unset the proxy variables libcurl reads, so that requests go straight
 * to the test's servers on 127.0.0.1. */
void t_unset_proxies(void);

/* A new folder /tmp/oma-check-NAME-XXXXXX (malloc'ed path); fails the test
 * when it cannot be made. */
char *t_mkdtemp(const char *name);

/* Load only BUILD/plugins/FILE (through a temp folder holding a link to
 * it, made as *dir: remove it with t_remove_tree), init it, and return the
 * plugin of `type` called `name`; fails the test otherwise.  (Loading every
 * plugin would also dlopen libcurl's TLS libraries - gnutls, p11-kit,
 * com_err - and the leak checker of GCC 12's sanitizer runtime then
 * sometimes crashes reading their dynamic TLS in the forked test processes:
 * "Tracer caught signal 11".)  Inline for the reason above. */

static inline struct loaded_plugin *t_load_only(struct loader *ld, const char *file, int type,
                                                const char *name, char **dir)
{
	char *build = t_build_dir();
	char *so = xasprintf("%s/plugins/%s", build, file);
	char *real = realpath(so, NULL);
	ck_assert_msg(real != NULL, "%s: %s (run `make %s`)", so, strerror(errno), so);
	*dir = t_mkdtemp("plugin");
	char *link = xasprintf("%s/%s", *dir, file);
	ck_assert_int_eq(symlink(real, link), 0);
	char err[1024] = "";
	struct loaded_plugin *p = NULL;
	int rc = loader_load(ld, *dir, type, name, &p, err, sizeof(err));
	ck_assert_msg(rc == 0, "loading %s: %s", so, err);
	rc = loader_init(p, NULL, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	free(link);
	free(real);
	free(so);
	free(build);
	return p;
}

/* Entries of a folder other than . and .. (for /proc/self/task: the
 * process's threads, /proc/self/fd: its open files); fails the test when
 * it cannot be read. */
int t_count_entries(const char *dir);

/* Bytes the allocator has handed out (glibc's: small and mmap'ed blocks
 * alike, over all arenas; under ASan: its own count), so heap limits hold
 * in sanitizer builds too. */
size_t t_heap_in_use(void);

/* Nest `levels` folders named `comp` below the folder `dir` (through
 * openat, so deeper than PATH_MAX allows as one path) and put an empty
 * file "leaf" in the deepest one; fails the test on any error. */
void t_nest_folders(const char *dir, const char *comp, int levels);

/* Run fn(arg, out, outlen) in a child process, as user nobody when this
 * one runs as root; the NUL-terminated text fn leaves in `out` comes back
 * in `out`.  Returns 0 when fn returned 0, else -1; fails the test when the
 * child cannot become nobody or does not exit. */
int t_as_nobody(int (*fn)(void *arg, char *out, size_t outlen), void *arg, char *out,
                size_t outlen);

/* Remove `dir` and everything below it (symlinks are removed, not followed);
 * errors are ignored. */
void t_remove_tree(const char *dir);

/* The whole file as a malloc'ed NUL-terminated string ("" when empty), or
 * NULL when it cannot be opened. */
char *t_read_file(const char *path);

/* Write `len` bytes to `path` (created or truncated) and chmod it to `mode`;
 * fails the test on any error. */
void t_write_bytes(const char *path, const void *data, size_t len, mode_t mode);

/* t_write_bytes of a string. */
void t_write_file(const char *path, const char *text, mode_t mode);

/* A compressor's sink (oma_compress_params.sink) for tests: keeps what it
 * gets in data/len; once more than fail_after bytes came (0: never) it
 * fails with "test sink: cannot write /backup/x.part: disk full". */
struct t_sink {
	char *data;
	size_t len, cap;
	size_t fail_after;
	unsigned calls;
};
int t_sink_write(void *ctx, const void *buf, size_t len, char *err, size_t errlen);
#define T_SINK_ERROR "test sink: cannot write /backup/x.part: disk full"

/* Compress `len` bytes with `ops` on `threads` threads through a sink into
 * *k (zeroed first), with a closed fd, so that a byte written to the fd
 * instead fails the test.  Then again with a sink that fails after 1000
 * bytes: the first call that fails must give T_SINK_ERROR. */
void t_compress_to_sink(const struct oma_compress_ops *ops, const void *data, size_t len,
                        int threads, struct t_sink *k);

/* Read len bytes of a file back through rd (a compressor's decompress),
 * fed in pieces of `piece` bytes, the output into *k (emptied first).
 * Returns what write() or finish() returned, err filled on failure. */
int t_read_back(const struct oma_read_ops *rd, const void *data, size_t len, size_t piece,
                struct t_sink *k, char *err, size_t errlen);

/* The checks every compressor's reader passes: its own output of `data`
 * (threads 1 and 2) read back exactly in pieces of 1 byte, 4 KiB and all;
 * what the format's own tool makes of it (`tool`, e.g. "gzip -c", run on a
 * file in dir) and two such files one after the other read back; cut files
 * fail with "truncated", bytes after the end and a damaged byte fail, an
 * empty file fails. */
void t_check_reader(const struct oma_compress_ops *ops, const void *data, size_t len,
                    const char *tool, const char *dir);

/* Upper-case hex of the string s, as SQL HEX() prints it.  Malloc'ed. */
char *t_hex(const char *s);

/* A fake host's log (oma_host.log): t_log_keep appends each line to t_log
 * as "LEVEL message\n" (cut when the buffer is full); empty t_log with
 * t_log[0] = '\0'. */
extern char t_log[8192];
void t_log_keep(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A fake host's config table: t_cfg_get(section, key) answers for section
 * t_cfg_section only, with the value last set for the key, else (unset or
 * set to NULL) the key's default in the plugin's table given to
 * t_cfg_defaults, as the core fills it in (NULL without a table or
 * default).  t_cfg_clear empties the values (not the table);
 * t_cfg_defaults(NULL) forgets the table. */
extern const char *t_cfg_section;
void t_cfg_set(const char *key, const char *val);
const char *t_cfg_get(const char *section, const char *key);
void t_cfg_clear(void);
void t_cfg_defaults(const struct oma_setting *table);

/* A fake host for plugin tests: log is t_log_keep, config_get t_cfg_get. */
extern const struct oma_host t_host;

/* Load the reporter BUILD/plugins/report-NAME.so (t_load_plugin) for a
 * test that calls its functions itself with t_host: [NAME] is the section
 * t_cfg_get answers for, with the plugin's table for defaults; t_log is
 * emptied.  Inline for the reason of t_load_plugin. */
static inline struct loaded_plugin *t_reporter_load(struct loader *ld, const char *name)
{
	struct loaded_plugin *p = t_load_plugin(ld, OMA_PLUGIN_REPORT, name);
	t_cfg_section = p->desc->name;
	t_cfg_defaults(p->desc->settings);
	t_log[0] = '\0';
	return p;
}

/* Undo t_reporter_load: fini() (init() was called directly, not through
 * the loader), unload, forget the settings. */
static inline void t_reporter_unload(struct loader *ld, struct loaded_plugin *p)
{
	if (p != NULL && p->desc->fini != NULL)
		p->desc->fini();
	loader_unload(ld);
	t_cfg_section = ""; /* it was the plugin's name */
	t_cfg_clear();
	t_cfg_defaults(NULL);
}

#endif
