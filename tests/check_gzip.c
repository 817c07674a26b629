/* check_gzip.c - unit tests for the gzip compress plugin (plugins/compress-gzip), loaded through the loader. */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/io.h"
#include "loader.h"
#include "testlib.h"
#include "util.h"

#define MiB (1024 * 1024)

static struct loader ld;
static struct loaded_plugin *gz;
static const struct oma_compress_ops *ops;
static char *tmpdir;

/* This plugin alone (see t_load_only), and a folder for the files. */
static char *plugdir;

static void setup(void)
{
	gz = t_load_only(&ld, "compress-gzip.so", OMA_PLUGIN_COMPRESS, "gzip", &plugdir);
	ops = gz->desc->compress;
	tmpdir = t_mkdtemp("gzip");
}

static void teardown(void)
{
	t_remove_tree(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
	loader_unload(&ld);
	gz = NULL;
	ops = NULL;
	t_remove_tree(plugdir);
	free(plugdir);
	plugdir = NULL;
}

/* ---- deterministic SQL-like input -------------------------------------- */

struct gen {
	uint64_t state;
	char line[256];
	size_t line_len, line_pos;
	unsigned row;
};

static void gen_init(struct gen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->state = seed;
}

static uint64_t gen_rand(struct gen *g)
{
	/* xorshift64* */
	g->state ^= g->state >> 12;
	g->state ^= g->state << 25;
	g->state ^= g->state >> 27;
	return g->state * 2685821657736338717ULL;
}

static void gen_line(struct gen *g)
{
	static const char *const names[] = {"alice", "bob", "carol", "dave", "eve", "mallory"};
	uint64_t r = gen_rand(g);
	int n = snprintf(g->line, sizeof(g->line),
	                 "INSERT INTO `orders` VALUES (%u,'%s-%04x',%u.%02u,'2024-%02u-%02u "
	                 "%02u:%02u:%02u',%s);\n",
	                 g->row++, names[r % 6], (unsigned)(r >> 8) & 0xffff,
	                 (unsigned)(r >> 24) % 10000, (unsigned)(r >> 40) % 100,
	                 1 + (unsigned)(r >> 3) % 12, 1 + (unsigned)(r >> 13) % 28,
	                 (unsigned)(r >> 17) % 24, (unsigned)(r >> 29) % 60,
	                 (unsigned)(r >> 35) % 60, (r >> 50) % 3 == 0 ? "NULL" : "'shipped'");
	g->line_len = (size_t)n;
	g->line_pos = 0;
}

/* Fill buf with the next len bytes of the stream. */
static void gen_read(struct gen *g, unsigned char *buf, size_t len)
{
	while (len > 0) {
		if (g->line_pos == g->line_len)
			gen_line(g);
		size_t n = g->line_len - g->line_pos;
		if (n > len)
			n = len;
		memcpy(buf, g->line + g->line_pos, n);
		g->line_pos += n;
		buf += n;
		len -= n;
	}
}

/* Bytes that do not compress. */
static void random_bytes(unsigned char *buf, size_t len, uint64_t seed)
{
	struct gen g;
	gen_init(&g, seed);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(gen_rand(&g) >> 56);
}

/* ---- helpers ------------------------------------------------------------ */

static int open_out(const char *name, char **path)
{
	*path = xasprintf("%s/%s", tmpdir, name);
	int fd = open(*path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static off_t file_size(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

/* The whole file `path` (malloc'ed, *len bytes). */
static unsigned char *slurp(const char *path, size_t *len)
{
	size_t n = (size_t)file_size(path);
	unsigned char *b = xmalloc(n + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, b, n), (ssize_t)n);
	close(fd);
	*len = n;
	return b;
}

/* Inflate the gzip file `path` member after member, handing every piece of
 * output to `piece`.  Every member must be complete and nothing may follow
 * the last.  Returns the number of members; with `isize` (room for `max`
 * entries) also the input size each member's trailer states. */
typedef void (*piece_fn)(const unsigned char *p, size_t n, void *arg);

static size_t inflate_members(const char *path, piece_fn piece, void *arg, uint32_t *isize,
                              size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(inflateInit2(&zs, 16 + 15), Z_OK);
	unsigned char *in = xmalloc(65536), *out = xmalloc(65536);
	size_t members = 0;
	int in_member = 0;
	ssize_t n;
	while ((n = read(fd, in, 65536)) > 0) {
		zs.next_in = in;
		zs.avail_in = (uInt)n;
		while (zs.avail_in > 0) {
			zs.next_out = out;
			zs.avail_out = 65536;
			in_member = 1;
			int zrc = inflate(&zs, Z_NO_FLUSH);
			ck_assert_msg(zrc == Z_OK || zrc == Z_STREAM_END || zrc == Z_BUF_ERROR,
			              "inflate: %d in member %zu", zrc, members + 1);
			if (piece != NULL && zs.avail_out < 65536)
				piece(out, 65536 - zs.avail_out, arg);
			if (zrc == Z_STREAM_END) {
				/* The trailer's ISIZE: the member's input size mod 2^32. */
				if (isize != NULL && members < max)
					isize[members] = (uint32_t)zs.total_out;
				members++;
				in_member = 0;
				ck_assert_int_eq(inflateReset(&zs), Z_OK);
			}
		}
	}
	/* Output still held back at the end of the input. */
	for (int more = in_member; more;) {
		zs.next_out = out;
		zs.avail_out = 65536;
		int zrc = inflate(&zs, Z_NO_FLUSH);
		if (piece != NULL && zs.avail_out < 65536)
			piece(out, 65536 - zs.avail_out, arg);
		more = zrc == Z_OK && zs.avail_out == 0;
		ck_assert_msg(zrc != Z_STREAM_END || !more, "member %zu", members + 1);
		if (zrc == Z_STREAM_END) {
			if (isize != NULL && members < max)
				isize[members] = (uint32_t)zs.total_out;
			members++;
			in_member = 0;
		}
	}
	ck_assert_msg(!in_member, "%s: the last member is cut short", path);
	inflateEnd(&zs);
	close(fd);
	free(in);
	free(out);
	return members;
}

struct collect {
	char *data;
	size_t len, cap;
};

static void collect_piece(const unsigned char *p, size_t n, void *arg)
{
	struct collect *c = arg;
	buf_append(&c->data, &c->len, &c->cap, (const char *)p, n);
}

/* Decompress the gzip file `path` into a malloc'ed buffer (*len bytes). */
static unsigned char *gunzip_file(const char *path, size_t *len)
{
	struct collect c = {0};
	buf_append(&c.data, &c.len, &c.cap, "", 0);
	ck_assert_uint_ge(inflate_members(path, collect_piece, &c, NULL, 0), 1);
	*len = c.len;
	return (unsigned char *)c.data;
}

/* One member per started MiB of input, one for empty input. */
static void check_members(const char *path, size_t len)
{
	size_t want = len == 0 ? 1 : (len + MiB - 1) / MiB;
	ck_assert_uint_eq(inflate_members(path, NULL, NULL, NULL, 0), want);
}

static void roundtrip_threads(const char *name, const unsigned char *data, size_t len, int level,
                              int threads, size_t piece);

/* roundtrip_threads() on one thread. */
static void roundtrip(const char *name, const unsigned char *data, size_t len, int level,
                      size_t piece)
{
	roundtrip_threads(name, data, len, level, 1, piece);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_descriptor)
{
	ck_assert_str_eq(gz->desc->name, "gzip");
	ck_assert_ptr_nonnull(gz->desc->version);
	ck_assert_str_eq(ops->suffix, ".sql.gz");
	ck_assert_int_eq(ops->default_level, 6);
	ck_assert_int_eq(ops->min_level, 1);
	ck_assert_int_eq(ops->max_level, 9);
	ck_assert_ptr_null(gz->desc->report);
	ck_assert_ptr_null(gz->desc->condition);
}
END_TEST

/* Only the descriptor is exported from the shared object. */
START_TEST(test_exports_only_descriptor)
{
	ck_assert_ptr_null(dlsym(gz->handle, "gz_open"));
	ck_assert_ptr_null(dlsym(gz->handle, "gz_write"));
	ck_assert_ptr_eq(dlsym(gz->handle, OMA_PLUGIN_SYMBOL), gz->desc);

	char *cmd = xasprintf("nm -D --defined-only '%s'", gz->path);
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
		/* AddressSanitizer adds an ODR marker for each exported global. */
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

START_TEST(test_empty_input)
{
	roundtrip("empty.sql.gz", (const unsigned char *)"", 0, -1, 1);
	char *path = xasprintf("%s/empty.sql.gz", tmpdir);
	/* Still a complete gzip member: 10-byte header, empty block, trailer. */
	ck_assert_int_ge(file_size(path), 18);
	free(path);
}
END_TEST

START_TEST(test_small_input)
{
	const char *sql = "CREATE TABLE `t` (`id` int NOT NULL);\nINSERT INTO `t` VALUES (1),(2);\n"
	                  "-- Dump completed on 2024-01-01  0:00:00\n";
	roundtrip("small.sql.gz", (const unsigned char *)sql, strlen(sql), -1, strlen(sql));
	roundtrip("bytes.sql.gz", (const unsigned char *)sql, strlen(sql), 6, 1);
}
END_TEST

/* Every level works and really reaches the compressor: the levels give
 * different files, 9 is smaller than 1, and each file starts like gzip. */
START_TEST(test_every_level)
{
	size_t len = 1 * MiB + 12345;
	unsigned char *data = xmalloc(len);
	struct gen g;
	gen_init(&g, 42);
	gen_read(&g, data, len);
	off_t sizes[10] = {0};
	int distinct = 0;
	for (int level = 1; level <= 9; level++) {
		char *name = xasprintf("level%d.sql.gz", level);
		roundtrip(name, data, len, level, 65536 + 3);
		char *path = xasprintf("%s/%s", tmpdir, name);
		sizes[level] = file_size(path);
		int seen = 0;
		for (int k = 1; k < level; k++)
			seen |= sizes[k] == sizes[level];
		distinct += !seen;
		unsigned char head[10];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_eq(read(fd, head, sizeof(head)), (ssize_t)sizeof(head));
		close(fd);
		ck_assert_int_eq(head[0], 0x1f);
		ck_assert_int_eq(head[1], 0x8b);
		ck_assert_int_eq(head[2], 8); /* deflate */
		free(path);
		free(name);
	}
	ck_assert_int_lt(sizes[9], sizes[1]);
	ck_assert_int_lt(sizes[1], (off_t)len / 2);
	ck_assert_int_ge(distinct, 6);
	free(data);
}
END_TEST

START_TEST(test_bad_level)
{
	char *path;
	int fd = open_out("bad.sql.gz", &path);
	char err[256] = "";
	void *s = NULL;
	struct oma_compress_params p = {.size = sizeof(p), .level = 0, .threads = 1};
	ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "gzip: compression level 0 out of range 1..9");
	ck_assert_ptr_null(s);
	p.level = 10;
	ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "gzip: compression level 10 out of range 1..9");
	ck_assert_ptr_null(s);
	close(fd);
	ck_assert_int_eq(file_size(path), 0);
	free(path);
}
END_TEST

START_TEST(test_closed_fd)
{
	char *path;
	int fd = open_out("closed.sql.gz", &path);
	ck_assert_int_eq(close(fd), 0);
	char err[256] = "";
	void *s = NULL;
	ck_assert_int_eq(ops->open(&s, fd, NULL, err, sizeof(err)), 0);
	const char *sql = "INSERT INTO t VALUES (1);\n";
	/* Small writes are buffered; the error shows when bytes reach the fd. */
	ck_assert_int_eq(ops->write(s, sql, strlen(sql), err, sizeof(err)), 0);
	ck_assert_int_eq(ops->finish(s, err, sizeof(err)), -1);
	char *expected = xstrdup("gzip: write: Bad file descriptor");
	ck_assert_str_eq(err, expected);
	free(expected);

	/* A failure inside write() is reported by write(), and finish() then
	 * still frees the stream and fails. */
	ck_assert_int_eq(ops->open(&s, fd, NULL, err, sizeof(err)), 0);
	size_t len = 1 * MiB;
	unsigned char *noise = xmalloc(len);
	random_bytes(noise, len, 7);
	ck_assert_int_eq(ops->write(s, noise, len, err, sizeof(err)), -1);
	expected = xstrdup("gzip: write: Bad file descriptor");
	ck_assert_str_eq(err, expected);
	ck_assert_int_eq(ops->write(s, noise, 10, err, sizeof(err)), -1);
	ck_assert_int_eq(ops->finish(s, err, sizeof(err)), -1);
	free(expected);
	free(noise);
	free(path);
}
END_TEST

START_TEST(test_broken_pipe)
{
	signal(SIGPIPE, SIG_IGN);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	close(fds[0]);
	char err[256] = "";
	void *s = NULL;
	struct oma_compress_params p = {.size = sizeof(p), .level = 1, .threads = 1};
	ck_assert_int_eq(ops->open(&s, fds[1], &p, err, sizeof(err)), 0);
	size_t len = 1 * MiB;
	unsigned char *noise = xmalloc(len);
	random_bytes(noise, len, 9);
	ck_assert_int_eq(ops->write(s, noise, len, err, sizeof(err)), -1);
	char *expected = xstrdup("gzip: write: Broken pipe");
	ck_assert_str_eq(err, expected);
	ops->abort(s);
	close(fds[1]);
	free(expected);
	free(noise);
}
END_TEST

/* abort() writes nothing more: what is buffered is dropped. */
START_TEST(test_abort_writes_nothing)
{
	char *path;
	int fd = open_out("aborted.sql.gz", &path);
	char err[256] = "";
	void *s = NULL;
	ck_assert_int_eq(ops->open(&s, fd, NULL, err, sizeof(err)), 0);
	const char *sql = "INSERT INTO t VALUES (1);\n";
	ck_assert_int_eq(ops->write(s, sql, strlen(sql), err, sizeof(err)), 0);
	ops->abort(s);
	ck_assert_int_eq(file_size(path), 0);

	/* After some output was flushed (a full block), abort adds nothing. */
	ck_assert_int_eq(ops->open(&s, fd, NULL, err, sizeof(err)), 0);
	size_t len = 1 * MiB + 512 * 1024;
	unsigned char *noise = xmalloc(len);
	random_bytes(noise, len, 3);
	ck_assert_int_eq(ops->write(s, noise, len, err, sizeof(err)), 0);
	off_t before = file_size(path);
	ck_assert_int_gt(before, 0);
	ops->abort(s);
	ck_assert_int_eq(file_size(path), before);
	close(fd);
	free(noise);
	free(path);
}
END_TEST

/* Compare output pieces with the generated stream. */
struct gen_check {
	struct gen g;
	size_t total, checked;
	unsigned char buf[65536];
};

static void gen_check_piece(const unsigned char *p, size_t n, void *arg)
{
	struct gen_check *c = arg;
	ck_assert_uint_le(c->checked + n, c->total);
	ck_assert_uint_le(n, sizeof(c->buf));
	gen_read(&c->g, c->buf, n);
	ck_assert_msg(memcmp(c->buf, p, n) == 0, "mismatch near offset %zu", c->checked);
	c->checked += n;
}

/* 50 MB of SQL-like text in odd-sized pieces, with threads > 1, comes back
 * unchanged, passes `gzip -t`, and the stream does not grow the heap. */
START_TEST(test_large_stream)
{
	static const size_t pieces[] = {1, 4093, 65537, 7, 1000003, 333, 131072, 2 * MiB + 1};
	const size_t total = 50 * (size_t)MiB;
	char *path;
	int fd = open_out("large.sql.gz", &path);
	struct oma_compress_params p = {.size = sizeof(p), .level = -1, .threads = 4};
	void *s = NULL;
	char err[256] = "";
	unsigned char *buf = xmalloc(2 * MiB + 1);
	struct gen g;
	gen_init(&g, 2024);

	ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), 0);
	size_t done = 0, heap_start = 0;
	for (size_t i = 0; done < total; i++) {
		size_t n = pieces[i % (sizeof(pieces) / sizeof(pieces[0]))];
		if (n > total - done)
			n = total - done;
		gen_read(&g, buf, n);
		ck_assert_msg(ops->write(s, buf, n, err, sizeof(err)) == 0, "%s", err);
		done += n;
		if (i == 8)
			heap_start = t_heap_in_use();
	}
	size_t heap_end = t_heap_in_use();
	ck_assert_msg(heap_end <= heap_start + 64 * 1024, "heap grew from %zu to %zu", heap_start,
	              heap_end);
	ck_assert_msg(ops->finish(s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(close(fd), 0);
	off_t compressed = file_size(path);
	ck_assert_int_gt(compressed, 0);
	ck_assert_int_lt(compressed, (off_t)total / 3);

	/* Inflate piecewise and compare with the same generated stream. */
	struct gen_check gc = {.total = total};
	gen_init(&gc.g, 2024);
	inflate_members(path, gen_check_piece, &gc, NULL, 0);
	ck_assert_uint_eq(gc.checked, total);

	char *cmd = xasprintf("gzip -t '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(buf);
	free(path);
}
END_TEST

/* ---- short writes and EINTR ------------------------------------------- */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

struct drain {
	int fd;
	char *data;
	size_t len, cap;
};

/* Read the pipe in small pieces until EOF, so the writer sees a full pipe. */
static void *drain_pipe(void *arg)
{
	struct drain *d = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	char piece[1000];
	for (;;) {
		ssize_t n = read(d->fd, piece, sizeof(piece));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_append(&d->data, &d->len, &d->cap, piece, (size_t)n);
	}
	return NULL;
}

START_TEST(test_interrupted_writes)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	(void)fcntl(fds[1], F_SETPIPE_SZ, 4096);
	struct drain d = {.fd = fds[0]};
	pthread_t reader;
	ck_assert_int_eq(pthread_create(&reader, NULL, drain_pipe, &d), 0);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: writes return early */
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	struct itimerval it = {.it_interval = {0, 200}, .it_value = {0, 200}};
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);

	size_t len = 4 * MiB;
	unsigned char *data = xmalloc(len);
	random_bytes(data, len / 2, 11);
	struct gen g;
	gen_init(&g, 5);
	gen_read(&g, data + len / 2, len - len / 2);

	char err[256] = "";
	void *s = NULL;
	struct oma_compress_params p = {.size = sizeof(p), .level = 1, .threads = 2};
	ck_assert_int_eq(ops->open(&s, fds[1], &p, err, sizeof(err)), 0);
	for (size_t off = 0; off < len; off += 100000) {
		size_t n = len - off < 100000 ? len - off : 100000;
		ck_assert_msg(ops->write(s, data + off, n, err, sizeof(err)) == 0, "%s", err);
	}
	ck_assert_msg(ops->finish(s, err, sizeof(err)) == 0, "%s", err);

	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	close(fds[1]);
	ck_assert_int_eq(pthread_join(reader, NULL), 0);
	close(fds[0]);
	ck_assert_int_gt(alarms, 0);

	char *path = xasprintf("%s/piped.sql.gz", tmpdir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cm_write_all(fd, d.data, d.len), 0);
	close(fd);
	size_t got_len;
	unsigned char *got = gunzip_file(path, &got_len);
	ck_assert_uint_eq(got_len, len);
	ck_assert(memcmp(got, data, len) == 0);
	free(got);
	free(path);
	free(d.data);
	free(data);
}
END_TEST

/* ---- several threads ---------------------------------------------------- */

/* Input of every kind a dump can hold, in segments of odd lengths: SQL
 * text, incompressible bytes, long runs of one byte (a block that shrinks
 * to almost nothing) and copies of recent input up to 32 KiB back, so that
 * matches reach across block ends.  The same seed gives the same bytes. */
struct vgen {
	struct gen g;
	int kind;
	size_t left;        /* bytes left in the current segment */
	size_t back;        /* kind 3: distance of the copy */
	unsigned char fill; /* kind 2: the repeated byte */
	unsigned char hist[32768];
	size_t hist_len, hist_pos; /* ring of the last bytes produced */
};

static void vgen_init(struct vgen *v, uint64_t seed)
{
	memset(v, 0, sizeof(*v));
	gen_init(&v->g, seed);
}

static void vgen_keep(struct vgen *v, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		v->hist[v->hist_pos] = p[i];
		v->hist_pos = (v->hist_pos + 1) % sizeof(v->hist);
	}
	v->hist_len = v->hist_len + n > sizeof(v->hist) ? sizeof(v->hist) : v->hist_len + n;
}

static void vgen_segment(struct vgen *v)
{
	uint64_t r = gen_rand(&v->g);
	v->kind = (int)(r % 4);
	if (v->kind == 3 && v->hist_len < 64)
		v->kind = 0;
	switch (v->kind) {
	case 0:
		v->left = 1 + (r >> 8) % 300000;
		break;
	case 1:
		v->left = 1 + (r >> 8) % 70000;
		break;
	case 2:
		v->left = 1 + (r >> 8) % 600000;
		v->fill = (unsigned char)(r >> 40);
		break;
	default:
		v->back = 1 + (r >> 8) % v->hist_len;
		v->left = 3 + (r >> 30) % 5000;
		break;
	}
}

static void vgen_read(struct vgen *v, unsigned char *buf, size_t len)
{
	while (len > 0) {
		if (v->left == 0)
			vgen_segment(v);
		size_t n = v->left < len ? v->left : len;
		if (v->kind == 0) {
			gen_read(&v->g, buf, n);
		} else if (v->kind == 1) {
			for (size_t i = 0; i < n; i++)
				buf[i] = (unsigned char)(gen_rand(&v->g) >> 56);
		} else if (v->kind == 2) {
			memset(buf, v->fill, n);
		} else {
			/* Byte by byte: a copy may overlap what it produces. */
			for (size_t i = 0; i < n; i++) {
				size_t at = (v->hist_pos + sizeof(v->hist) - v->back) %
				            sizeof(v->hist);
				buf[i] = v->hist[at];
				vgen_keep(v, buf + i, 1);
			}
		}
		if (v->kind != 3)
			vgen_keep(v, buf, n);
		v->left -= n;
		buf += n;
		len -= n;
	}
}

struct vgen_check {
	struct vgen *v;
	size_t total, checked;
	unsigned char *want;
};

static void vgen_check_piece(const unsigned char *p, size_t n, void *arg)
{
	struct vgen_check *c = arg;
	ck_assert_uint_le(c->checked + n, c->total);
	vgen_read(c->v, c->want, n);
	ck_assert_msg(memcmp(c->want, p, n) == 0, "mismatch near offset %zu", c->checked);
	c->checked += n;
}

/* Inflate the gzip file `path` piecewise and compare it with `total` bytes
 * of vgen(seed): one member per GZ_BLOCK (1 MiB) of input, in order. */
static void check_against_vgen(const char *path, uint64_t seed, size_t total)
{
	struct vgen_check c = {.v = xmalloc(sizeof(*c.v)), .total = total, .want = xmalloc(65536)};
	vgen_init(c.v, seed);
	size_t expect = total / MiB + (total % MiB != 0);
	uint32_t *isize = xcalloc(expect + 1, sizeof(*isize));
	size_t members = inflate_members(path, vgen_check_piece, &c, isize, expect + 1);
	ck_assert_uint_eq(c.checked, total);
	ck_assert_uint_eq(members, expect);
	for (size_t i = 0; i + 1 < members; i++)
		ck_assert_uint_eq(isize[i], MiB);
	free(isize);
	free(c.want);
	free(c.v);
}

/* `gzip -t` accepts the file and zcat gives `len` bytes back. */
static void gzip_t(const char *path, size_t len)
{
	char *cmd = xasprintf("gzip -t '%s' && test \"$(zcat '%s' | wc -c)\" -eq %zu", path, path,
	                      len);
	ck_assert_msg(system(cmd) == 0, "gzip -t / zcat of %s failed", path);
	free(cmd);
}

/* Compress `len` bytes of data at `level` on `threads` threads (pieces of
 * `piece` bytes) into tmpdir/name; check it with zlib (content, one member
 * per started MiB) and `gzip -t`. */
static void roundtrip_threads(const char *name, const unsigned char *data, size_t len, int level,
                              int threads, size_t piece)
{
	char *path;
	int fd = open_out(name, &path);
	struct oma_compress_params p = {.size = sizeof(p), .level = level, .threads = threads};
	void *s = NULL;
	char err[256] = "";
	ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), 0);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		ck_assert_msg(ops->write(s, data + off, n, err, sizeof(err)) == 0, "%s", err);
	}
	ck_assert_msg(ops->finish(s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(close(fd), 0);
	size_t got_len;
	unsigned char *got = gunzip_file(path, &got_len);
	ck_assert_uint_eq(got_len, len);
	ck_assert(len == 0 || memcmp(got, data, len) == 0);
	check_members(path, len);
	gzip_t(path, len);
	free(got);
	free(path);
}

/* Sizes around the block size (1 MiB) and its multiples, at the edges of
 * the level range, on 2 and 4 threads: gunzip, zlib and `gzip -t` agree. */
START_TEST(test_threads_roundtrip)
{
	static const size_t sizes[] = {0,       1,       1000,         MiB - 1, MiB,
	                               MiB + 1, 2 * MiB, 3 * MiB + 77, 6 * MiB};
	static const size_t pieces[] = {1, 7, 65536, MiB, 1000003};
	size_t max = 6 * MiB;
	unsigned char *data = xmalloc(max);
	struct vgen *v = xmalloc(sizeof(*v));
	vgen_init(v, 77);
	vgen_read(v, data, max);
	for (int threads = 2; threads <= 4; threads += 2) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t piece = pieces[i % (sizeof(pieces) / sizeof(pieces[0]))];
			if (piece == 1 && sizes[i] > 1100000)
				piece = 4099;
			int level = i % 3 == 0 ? 1 : i % 3 == 1 ? 6 : 9;
			char *name = xasprintf("t%d-%zu.sql.gz", threads, sizes[i]);
			roundtrip_threads(name, data, sizes[i], level, threads, piece);
			free(name);
		}
	}
	free(v);
	free(data);
}
END_TEST

/* zlib's single stream of `data` at `level`: its size. */
static size_t zlib_size(const unsigned char *data, size_t len, int level)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(deflateInit2(&zs, level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY),
	                 Z_OK);
	size_t cap = deflateBound(&zs, (uLong)len);
	unsigned char *out = xmalloc(cap);
	zs.next_in = (unsigned char *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t n = zs.total_out;
	deflateEnd(&zs);
	free(out);
	return n;
}

/* Threads change nothing in the file: one thread and two give the same
 * bytes, one member per MiB of input.  Members cost next to nothing in
 * size: SQL text is no bigger than zlib's single stream at the same level
 * plus 1%. */
START_TEST(test_threads_same_file_and_ratio)
{
	size_t len = 8 * MiB + 4321;
	unsigned char *data = xmalloc(len);
	struct gen g;
	gen_init(&g, 99);
	gen_read(&g, data, len);
	static const int levels[] = {1, 6, 9};
	for (size_t i = 0; i < 3; i++) {
		char *one = xasprintf("one-%d.sql.gz", levels[i]);
		char *two = xasprintf("two-%d.sql.gz", levels[i]);
		roundtrip(one, data, len, levels[i], 100000);
		roundtrip_threads(two, data, len, levels[i], 2, 100000);
		char *p1 = xasprintf("%s/%s", tmpdir, one), *p2 = xasprintf("%s/%s", tmpdir, two);
		size_t n1, n2;
		unsigned char *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2);
		ck_assert_uint_eq(n1, n2);
		ck_assert(memcmp(b1, b2, n1) == 0);
		uint32_t isize[10];
		ck_assert_uint_eq(inflate_members(p1, NULL, NULL, isize, 10), 9);
		for (int m = 0; m < 8; m++)
			ck_assert_uint_eq(isize[m], MiB);
		ck_assert_uint_eq(isize[8], 4321);
		size_t z = zlib_size(data, len, levels[i]);
		ck_assert_msg(n1 <= z + z / 100, "level %d: %zu bytes, zlib %zu", levels[i], n1, z);
		free(b1);
		free(b2);
		free(p1);
		free(p2);
		free(one);
		free(two);
	}
	free(data);
}
END_TEST

/* 100 MB of varied input in odd pieces on 2 and 4 threads: every byte comes
 * back in order, `gzip -t` passes, the workers are running while it
 * streams and gone after finish, and the heap stays under a few blocks per
 * worker and does not grow after the start. */
static void order_100mb(int threads, size_t heap_limit)
{
	static const size_t pieces[] = {1,   4093,   65537,       7,     1000003,
	                                333, 131072, 2 * MiB + 1, 262144};
	const size_t total = 100 * (size_t)MiB;
	char *name = xasprintf("order-t%d.sql.gz", threads);
	char *path;
	int fd = open_out(name, &path);
	struct oma_compress_params p = {.size = sizeof(p), .level = 6, .threads = threads};
	void *s = NULL;
	char err[256] = "";
	unsigned char *buf = xmalloc(2 * MiB + 1);
	struct vgen *v = xmalloc(sizeof(*v));
	vgen_init(v, 1000 + (uint64_t)threads);

	int threads_before = t_count_entries("/proc/self/task");
	size_t heap_before = t_heap_in_use();
	ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), 0);
	size_t done = 0, heap_warm = 0, heap_peak = 0;
	int threads_seen = 0;
	for (size_t i = 0; done < total; i++) {
		size_t n = pieces[i % (sizeof(pieces) / sizeof(pieces[0]))];
		if (n > total - done)
			n = total - done;
		vgen_read(v, buf, n);
		ck_assert_msg(ops->write(s, buf, n, err, sizeof(err)) == 0, "%s", err);
		done += n;
		size_t heap = t_heap_in_use() - heap_before;
		if (i == 9)
			heap_warm = heap;
		if (heap > heap_peak)
			heap_peak = heap;
		if (i == 20)
			threads_seen = t_count_entries("/proc/self/task") - threads_before;
	}
	size_t heap_end = t_heap_in_use() - heap_before;
	ck_assert_msg(ops->finish(s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(threads_seen, threads);
	ck_assert_int_eq(t_count_entries("/proc/self/task"), threads_before);
	ck_assert_msg(heap_end <= heap_warm + 64 * 1024, "heap grew from %zu to %zu", heap_warm,
	              heap_end);
	ck_assert_msg(heap_peak <= heap_limit, "threads %d: %zu bytes of heap", threads, heap_peak);
	check_against_vgen(path, 1000 + (uint64_t)threads, total);
	gzip_t(path, total);
	free(v);
	free(buf);
	free(path);
	free(name);
}

START_TEST(test_threads_order_2)
{
	/* 5 slots of 1 MiB input and 1 MiB output, 2 compressors of 652 KiB. */
	order_100mb(2, 12 * MiB);
}
END_TEST

START_TEST(test_threads_order_4)
{
	/* 9 slots, 4 compressors. */
	order_100mb(4, 21 * MiB);
}
END_TEST

/* A stream shorter than one block starts no thread; one that is longer
 * starts exactly `threads`. */
START_TEST(test_threads_started_lazily)
{
	int before = t_count_entries("/proc/self/task");
	char *path;
	int fd = open_out("lazy.sql.gz", &path);
	struct oma_compress_params p = {.size = sizeof(p), .level = 6, .threads = 3};
	void *s = NULL;
	char err[256] = "";
	size_t len = MiB;
	unsigned char *data = xmalloc(len + 1);
	struct gen g;
	gen_init(&g, 5);
	gen_read(&g, data, len + 1);
	ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(ops->write(s, data, len - 1, err, sizeof(err)), 0);
	ck_assert_int_eq(t_count_entries("/proc/self/task"), before);
	ck_assert_int_eq(ops->write(s, data + len - 1, 2, err, sizeof(err)), 0);
	ck_assert_int_eq(t_count_entries("/proc/self/task"), before + 3);
	ck_assert_int_eq(ops->finish(s, err, sizeof(err)), 0);
	ck_assert_int_eq(t_count_entries("/proc/self/task"), before);
	close(fd);
	size_t got_len;
	unsigned char *got = gunzip_file(path, &got_len);
	ck_assert_uint_eq(got_len, len + 1);
	ck_assert(memcmp(got, data, len + 1) == 0);
	free(got);
	free(data);
	free(path);
}
END_TEST

/* Write `len` bytes of noise on `threads` threads to fd and expect the
 * stream to fail with `expected`: from write() (a worker's error reaches
 * the caller) or at the latest from finish(). */
static void expect_worker_error(int fd, int threads, size_t len, const char *expected)
{
	char err[256] = "";
	void *s = NULL;
	struct oma_compress_params p = {.size = sizeof(p), .level = 1, .threads = threads};
	ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), 0);
	unsigned char *noise = xmalloc(len);
	random_bytes(noise, len, 13);
	int rc = 0;
	for (size_t off = 0; off < len && rc == 0; off += 100000) {
		size_t n = len - off < 100000 ? len - off : 100000;
		rc = ops->write(s, noise + off, n, err, sizeof(err));
	}
	if (rc != 0) {
		ck_assert_str_eq(err, expected);
		/* Later calls fail too; finish still frees everything. */
		err[0] = '\0';
		ck_assert_int_eq(ops->write(s, noise, 10, err, sizeof(err)), -1);
		ck_assert_str_eq(err, expected);
	}
	err[0] = '\0';
	ck_assert_int_eq(ops->finish(s, err, sizeof(err)), -1);
	ck_assert_str_eq(err, expected);
	free(noise);
}

/* Errors of the workers' writes (a full disk, a closed fd, a broken pipe)
 * come back through write() and finish() with the errno text. */
START_TEST(test_threads_worker_errors)
{
	signal(SIGPIPE, SIG_IGN);
	for (int threads = 2; threads <= 4; threads += 2) {
		int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
		ck_assert_int_ge(full, 0);
		char *expected = xstrdup("gzip: write: No space left on device");
		expect_worker_error(full, threads, 8 * MiB, expected);
		/* Short streams fail in finish() on the calling thread alike. */
		expect_worker_error(full, threads, 1000, expected);
		close(full);
		free(expected);

		char *path;
		int fd = open_out("closed.sql.gz", &path);
		close(fd);
		expected = xstrdup("gzip: write: Bad file descriptor");
		expect_worker_error(fd, threads, 4 * MiB, expected);
		free(expected);
		free(path);

		int fds[2];
		ck_assert_int_eq(pipe(fds), 0);
		close(fds[0]);
		expected = xstrdup("gzip: write: Broken pipe");
		expect_worker_error(fds[1], threads, 4 * MiB, expected);
		close(fds[1]);
		free(expected);
	}
}
END_TEST

/* abort() with workers busy stops and joins them and frees everything (the
 * sanitizer build checks for leaks); nothing is written after it returns. */
START_TEST(test_threads_abort_running)
{
	int before = t_count_entries("/proc/self/task");
	size_t len = 16 * MiB;
	unsigned char *noise = xmalloc(len);
	random_bytes(noise, len, 17);
	for (int threads = 2; threads <= 4; threads += 2) {
		char *path;
		int fd = open_out("abort.sql.gz", &path);
		char err[256] = "";
		void *s = NULL;
		struct oma_compress_params p = {.size = sizeof(p), .level = 9, .threads = threads};
		ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), 0);
		ck_assert_int_eq(ops->write(s, noise, len, err, sizeof(err)), 0);
		ck_assert_int_eq(t_count_entries("/proc/self/task"), before + threads);
		ops->abort(s);
		ck_assert_int_eq(t_count_entries("/proc/self/task"), before);
		off_t after = file_size(path);
		usleep(100 * 1000);
		ck_assert_int_eq(file_size(path), after);

		/* Aborted before any block was full: no thread, no output. */
		ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), 0);
		ck_assert_int_eq(ops->write(s, noise, 1000, err, sizeof(err)), 0);
		ops->abort(s);
		ck_assert_int_eq(file_size(path), after);
		close(fd);
		free(path);
	}
	free(noise);
}
END_TEST

/* With a sink from the core, every byte goes there (the fd is never
 * written), in order, one thread or several; a failing sink's message is
 * the call's error. */
START_TEST(test_sink)
{
	size_t len = 5 * MiB + 123;
	unsigned char *data = xmalloc(len);
	struct gen g;
	gen_init(&g, 11);
	gen_read(&g, data, len);
	char *path = xasprintf("%s/sink.sql.gz", tmpdir);
	for (int threads = 1; threads <= 4; threads += 3) {
		struct t_sink k;
		t_compress_to_sink(ops, data, len, threads, &k);
		t_write_bytes(path, k.data, k.len, 0644);
		size_t back_len;
		unsigned char *back = gunzip_file(path, &back_len);
		ck_assert_uint_eq(back_len, len);
		ck_assert(memcmp(back, data, len) == 0);
		free(back);
		free(k.data);
	}
	ck_assert(ops->flags & OMA_COMPRESS_SINK);
	free(path);
	free(data);
}
END_TEST

/* The reader (--verify): our own files and the gzip tool's read back
 * exactly; cut, extended, damaged and empty files fail (t_check_reader). */
START_TEST(test_reader)
{
	size_t len = 2 * 1024 * 1024 + 4321;
	unsigned char *data = xmalloc(len);
	struct gen g;
	gen_init(&g, 12);
	gen_read(&g, data, len);
	t_check_reader(ops, data, len, "gzip -c -6", tmpdir);
	free(data);
}
END_TEST

static Suite *gzip_suite(void)
{
	Suite *s = suite_create("gzip");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_exports_only_descriptor);
	tcase_add_test(tc, test_empty_input);
	tcase_add_test(tc, test_small_input);
	tcase_add_test(tc, test_every_level);
	tcase_add_test(tc, test_bad_level);
	tcase_add_test(tc, test_closed_fd);
	tcase_add_test(tc, test_sink);
	tcase_add_test(tc, test_reader);
	tcase_add_test(tc, test_broken_pipe);
	tcase_add_test(tc, test_abort_writes_nothing);
	tcase_add_test(tc, test_large_stream);
	tcase_add_test(tc, test_interrupted_writes);
	tcase_add_test(tc, test_threads_roundtrip);
	tcase_add_test(tc, test_threads_same_file_and_ratio);
	tcase_add_test(tc, test_threads_order_2);
	tcase_add_test(tc, test_threads_order_4);
	tcase_add_test(tc, test_threads_started_lazily);
	tcase_add_test(tc, test_threads_worker_errors);
	tcase_add_test(tc, test_threads_abort_running);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gzip_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
