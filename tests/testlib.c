/* testlib.c - helpers shared by the unit tests (temp folders, files, plugins, a fake host config). */
#include "testlib.h"

#if defined(__SANITIZE_ADDRESS__)
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which GCC's
 * packages do not ship). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "common/io.h"
#include "util.h"

/* The folder of this test binary into dir (capacity len).  Returns 0, or
 * -1 when /proc/self/exe cannot be read. */
static int exe_dir(char *dir, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", dir, len - 1);
	if (n <= 0)
		return -1;
	dir[n] = '\0';
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	return 0;
}

char *t_build_dir(void)
{
	const char *env = getenv("OMA_BUILD");
	if (env != NULL && env[0] != '\0')
		return xstrdup(env);
	char exe[PATH_MAX];
	if (exe_dir(exe, sizeof(exe)) == 0) {
		char *slash = strrchr(exe, '/');
		if (slash != NULL && strcmp(slash, "/tests") == 0) {
			*slash = '\0';
			return xstrdup(exe);
		}
	}
	return xstrdup("build");
}

char *t_fixture_path(const char *name)
{
	char *build = t_build_dir();
	char *rel = xasprintf("%s/tests/fixtures/%s.so", build, name);
	char *abs = realpath(rel, NULL);
	ck_assert_msg(abs != NULL, "fixture %s missing: run `make %s`", rel, rel);
	free(rel);
	free(build);
	return abs;
}

char *t_source_path(const char *rel)
{
	char exe[PATH_MAX];
	if (exe_dir(exe, sizeof(exe)) == 0) {
		char *p = xasprintf("%s/../../%s", exe, rel);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return access(rel, R_OK) == 0 ? xstrdup(rel) : NULL;
}

void t_unset_proxies(void)
{
	static const char *const proxies[] = {"http_proxy",  "https_proxy", "HTTP_PROXY",
	                                      "HTTPS_PROXY", "all_proxy",   "ALL_PROXY"};
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		(void)unsetenv(proxies[i]);
}

char *t_mkdtemp(const char *name)
{
	char *dir = xasprintf("/tmp/oma-check-%s-XXXXXX", name);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
	return dir;
}

int t_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "%s: %s", dir, strerror(errno));
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

size_t t_heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's allocator replaces glibc's (mallinfo2 sees nothing) and
	 * counts the bytes handed out itself. */
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
#endif
}

void t_remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char *p = xasprintf("%s/%s", dir, e->d_name);
			struct stat st;
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				t_remove_tree(p);
			else
				(void)unlink(p);
			free(p);
		}
		closedir(d);
	}
	(void)rmdir(dir);
}

void t_nest_folders(const char *dir, const char *comp, int levels)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", dir, strerror(errno));
	for (int i = 0; i < levels; i++) {
		ck_assert_msg(mkdirat(fd, comp, 0755) == 0, "mkdir level %d: %s", i + 1,
		              strerror(errno));
		int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_msg(next >= 0, "open level %d: %s", i + 1, strerror(errno));
		close(fd);
		fd = next;
	}
	int ffd = openat(fd, "leaf", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_msg(ffd >= 0, "leaf: %s", strerror(errno));
	close(ffd);
	close(fd);
}

int t_as_nobody(int (*fn)(void *arg, char *out, size_t outlen), void *arg, char *out, size_t outlen)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(99);
		char *e = calloc(1, outlen);
		int rc = e != NULL ? fn(arg, e, outlen) : -1;
		if (e != NULL)
			(void)!write(p[1], e, strlen(e));
		_exit(rc == 0 ? 0 : 1); /* _exit: no leak checker after setuid */
	}
	close(p[1]);
	size_t len = 0;
	ssize_t n;
	while (len + 1 < outlen && (n = read(p[0], out + len, outlen - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "the child did not exit (status %d)", status);
	ck_assert_msg(WEXITSTATUS(status) != 99, "the child cannot become user nobody");
	return WEXITSTATUS(status) == 0 ? 0 : -1;
}

char *t_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&buf, &len, &cap, chunk, n);
	fclose(f);
	return buf != NULL ? buf : xstrdup("");
}

void t_write_bytes(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(cm_write_all(fd, data, len), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

void t_write_file(const char *path, const char *text, mode_t mode)
{
	t_write_bytes(path, text, strlen(text), mode);
}

char *t_hex(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++)
		(void)snprintf(out + 2 * i, 3, "%02X", (unsigned char)s[i]);
	out[2 * n] = '\0';
	return out;
}

/* ---- fake host config ------------------------------------------------- */

#define T_CFG_MAX 16

char t_log[8192];

const struct oma_host t_host = {
        .abi = OMA_PLUGIN_ABI,
        .size = sizeof(struct oma_host),
        .log = t_log_keep,
        .config_get = t_cfg_get,
};

void t_log_keep(int level, const char *fmt, ...)
{
	size_t l = strlen(t_log);
	int n = snprintf(t_log + l, sizeof(t_log) - l, "%d ", level);
	if (n < 0 || (size_t)n >= sizeof(t_log) - l)
		return;
	l += (size_t)n;
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(t_log + l, sizeof(t_log) - l, fmt, ap);
	va_end(ap);
	l = strlen(t_log);
	if (l + 1 < sizeof(t_log))
		memcpy(t_log + l, "\n", 2);
}

const char *t_cfg_section = "";
static const char *cfg_keys[T_CFG_MAX];
static char *cfg_vals[T_CFG_MAX];
static size_t ncfg;
static const struct oma_setting *cfg_table;

void t_cfg_set(const char *key, const char *val)
{
	for (size_t i = 0; i < ncfg; i++) {
		if (strcmp(cfg_keys[i], key) == 0) {
			free(cfg_vals[i]);
			cfg_vals[i] = val != NULL ? xstrdup(val) : NULL;
			return;
		}
	}
	ck_assert_msg(ncfg < T_CFG_MAX, "too many config keys");
	cfg_keys[ncfg] = key;
	cfg_vals[ncfg] = val != NULL ? xstrdup(val) : NULL;
	ncfg++;
}

const char *t_cfg_get(const char *section, const char *key)
{
	if (strcmp(section, t_cfg_section) != 0)
		return NULL;
	for (size_t i = 0; i < ncfg; i++)
		if (strcmp(cfg_keys[i], key) == 0 && cfg_vals[i] != NULL)
			return cfg_vals[i];
	for (size_t i = 0; cfg_table != NULL && cfg_table[i].key != NULL; i++)
		if (strcmp(cfg_table[i].key, key) == 0)
			return cfg_table[i].def;
	return NULL;
}

void t_cfg_defaults(const struct oma_setting *table)
{
	cfg_table = table;
}

void t_cfg_clear(void)
{
	for (size_t i = 0; i < ncfg; i++) {
		free(cfg_vals[i]);
		cfg_vals[i] = NULL;
		cfg_keys[i] = NULL;
	}
	ncfg = 0;
}

int t_sink_write(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	struct t_sink *k = ctx;
	k->calls++;
	if (k->fail_after > 0 && k->len + len > k->fail_after) {
		cm_errf(err, errlen, "%s", T_SINK_ERROR);
		return -1;
	}
	buf_append(&k->data, &k->len, &k->cap, buf, len);
	return 0;
}

void t_compress_to_sink(const struct oma_compress_ops *ops, const void *data, size_t len,
                        int threads, struct t_sink *k)
{
	int dead = open("/dev/null", O_WRONLY);
	ck_assert_int_ge(dead, 0);
	close(dead);
	*k = (struct t_sink){0};
	struct oma_compress_params p = {.size = sizeof(p),
	                                .level = -1,
	                                .threads = threads,
	                                .sink = t_sink_write,
	                                .sink_ctx = k};
	void *s = NULL;
	char err[256] = "";
	ck_assert_msg(ops->open(&s, dead, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(ops->write(s, data, len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(ops->finish(s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_ge(k->calls, 1);

	struct t_sink full = {.fail_after = 1000};
	p.sink_ctx = &full;
	ck_assert_int_eq(ops->open(&s, dead, &p, err, sizeof(err)), 0);
	int w = ops->write(s, data, len, err, sizeof(err));
	if (w != 0)
		ck_assert_str_eq(err, T_SINK_ERROR);
	int f = ops->finish(s, err, sizeof(err));
	ck_assert_int_ne(f, 0);
	if (w == 0)
		ck_assert_str_eq(err, T_SINK_ERROR);
	free(full.data);
}

int t_read_back(const struct oma_read_ops *rd, const void *data, size_t len, size_t piece,
                struct t_sink *k, char *err, size_t errlen)
{
	*k = (struct t_sink){0};
	struct oma_read_params p = {.size = sizeof(p), .out = t_sink_write, .out_ctx = k};
	void *s = NULL;
	if (rd->open(&s, &p, err, errlen) != 0)
		return -1;
	for (size_t at = 0; at < len;) {
		size_t n = len - at < piece ? len - at : piece;
		if (rd->write(s, (const char *)data + at, n, err, errlen) != 0) {
			rd->abort(s);
			return -1;
		}
		at += n;
	}
	return rd->finish(s, err, errlen);
}

/* Reading `file` back gives exactly `want`, in every piece size. */
static void read_exactly(const struct oma_read_ops *rd, const void *file, size_t flen,
                         const void *want, size_t wlen)
{
	static const size_t pieces[] = {1, 4096, (size_t)-1};
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		if (pieces[i] == 1 && flen > 300000)
			continue; /* byte by byte only for small files: slow under ASan */
		struct t_sink k;
		char err[512] = "";
		int rc = t_read_back(rd, file, flen, pieces[i], &k, err, sizeof(err));
		ck_assert_msg(rc == 0, "piece %zu: %s", pieces[i], err);
		ck_assert_uint_eq(k.len, wlen);
		ck_assert(wlen == 0 || memcmp(k.data, want, wlen) == 0);
		free(k.data);
	}
}

/* Reading `file` back fails with an error containing `want`. */
static void read_fails(const struct oma_read_ops *rd, const void *file, size_t flen,
                       const char *want)
{
	struct t_sink k;
	char err[512] = "";
	int rc = t_read_back(rd, file, flen, 4096, &k, err, sizeof(err));
	free(k.data);
	ck_assert_msg(rc != 0, "read back without an error (want \"%s\")", want);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\", want \"%s\"", err, want);
}

void t_check_reader(const struct oma_compress_ops *ops, const void *data, size_t len,
                    const char *tool, const char *dir)
{
	char *plain = xasprintf("%s/reader.sql", dir);
	char *packed = xasprintf("%s/reader.sql.packed", dir);
	t_write_bytes(plain, data, len, 0644);
	char *cmd = xasprintf("%s '%s' >'%s'", tool, plain, packed);
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
	char *foreign = t_read_file(packed);
	ck_assert_ptr_nonnull(foreign);
	struct stat st;
	ck_assert_int_eq(stat(packed, &st), 0);
	size_t flen = (size_t)st.st_size;
	free(cmd);
	free(packed);
	free(plain);
	const struct oma_read_ops *rd = ops->decompress;
	ck_assert_ptr_nonnull(rd);
	ck_assert_uint_ge(rd->size, sizeof(struct oma_read_ops));
	for (int threads = 1; threads <= 2; threads++) {
		struct t_sink k;
		t_compress_to_sink(ops, data, len, threads, &k);
		read_exactly(rd, k.data, k.len, data, len);
		read_fails(rd, k.data, k.len - 7, "truncated");
		read_fails(rd, k.data, k.len / 2, "");
		char *more = xmalloc(k.len + 5);
		memcpy(more, k.data, k.len);
		memcpy(more + k.len, "junk!", 5);
		read_fails(rd, more, k.len + 5, "");
		memcpy(more, k.data, k.len);
		more[k.len / 2] ^= 0x40;
		read_fails(rd, more, k.len, "");
		free(more);
		free(k.data);
	}
	read_exactly(rd, foreign, flen, data, len);
	char *twice = xmalloc(2 * flen);
	memcpy(twice, foreign, flen);
	memcpy(twice + flen, foreign, flen);
	char *both = xmalloc(2 * len);
	memcpy(both, data, len);
	memcpy(both + len, data, len);
	read_exactly(rd, twice, 2 * flen, both, 2 * len);
	free(both);
	free(twice);
	free(foreign);
	read_fails(rd, "", 0, "empty file");
}
