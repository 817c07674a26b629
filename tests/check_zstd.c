/* check_zstd.c - unit tests for the zstd compress plugin, loaded through the loader. */
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
#include <zstd.h>

#include "common/io.h"
#include "loader.h"
#include "testlib.h"
#include "util.h"

#define MiB        ((size_t)1024 * 1024)
#define ZSTD_MAGIC 0xFD2FB528u

static struct loader ld;
static struct loaded_plugin *zp;
static const struct oma_compress_ops *ops;
static char *tmpdir;

/* This plugin alone (see t_load_only), and a folder for the files. */
static char *plugdir;

static void setup(void)
{
	zp = t_load_only(&ld, "compress-zstd.so", OMA_PLUGIN_COMPRESS, "zstd", &plugdir);
	ops = zp->desc->compress;
	tmpdir = t_mkdtemp("zstd");
}

static void teardown(void)
{
	t_remove_tree(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
	loader_unload(&ld);
	zp = NULL;
	ops = NULL;
	t_remove_tree(plugdir);
	free(plugdir);
	plugdir = NULL;
}

/* ---- test input: an endless, reproducible mysqldump-like text ---------- */

struct sqlgen {
	uint64_t x;
	unsigned id;
	char line[300];
	size_t len, pos;
};

static void sqlgen_start(struct sqlgen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->x = seed | 1;
}

static uint64_t sqlgen_next(struct sqlgen *g)
{
	/* splitmix64 */
	uint64_t z = (g->x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void sqlgen_line(struct sqlgen *g)
{
	static const char *const cities[] = {"Berlin", "Lyon",  "Porto", "Graz",
	                                     "Oslo",   "Turku", "Brno"};
	static const char *const states[] = {"'paid'", "'open'", "NULL", "'refunded'"};
	uint64_t r = sqlgen_next(g);
	int n = snprintf(g->line, sizeof(g->line),
	                 "INSERT INTO `invoice` (`id`, `city`, `amount`, `due`, `state`) VALUES "
	                 "(%u,'%s',%u.%02u,'2025-%02u-%02u',%s);\n",
	                 ++g->id, cities[r % 7], (unsigned)(r >> 8) % 100000,
	                 (unsigned)(r >> 30) % 100, 1 + (unsigned)(r >> 40) % 12,
	                 1 + (unsigned)(r >> 48) % 28, states[(r >> 60) % 4]);
	ck_assert(n > 0 && (size_t)n < sizeof(g->line));
	g->len = (size_t)n;
	g->pos = 0;
}

/* Copy the next `len` bytes of the text into `dst`. */
static void sqlgen_fill(struct sqlgen *g, unsigned char *dst, size_t len)
{
	while (len > 0) {
		if (g->pos == g->len)
			sqlgen_line(g);
		size_t n = g->len - g->pos;
		if (n > len)
			n = len;
		memcpy(dst, g->line + g->pos, n);
		g->pos += n;
		dst += n;
		len -= n;
	}
}

/* Incompressible bytes. */
static void fill_noise(unsigned char *dst, size_t len, uint64_t seed)
{
	struct sqlgen g;
	sqlgen_start(&g, seed);
	for (size_t i = 0; i < len; i++)
		dst[i] = (unsigned char)sqlgen_next(&g);
}

/* ---- helpers ------------------------------------------------------------ */

static int create_out(const char *name, char **path)
{
	*path = xasprintf("%s/%s", tmpdir, name);
	int fd = open(*path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static off_t size_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	char *data = NULL;
	size_t n = 0, cap = 0;
	char chunk[65536];
	ssize_t got;
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(&data, &n, &cap, chunk, (size_t)got);
	ck_assert_int_eq(got, 0);
	close(fd);
	*len = n;
	return (unsigned char *)data;
}

/* Pass each decompressed piece of a .zst file to `check`; fails the test
 * unless the file is exactly one complete frame. */
typedef void (*piece_fn)(const unsigned char *piece, size_t len, void *arg);

static void unzstd_each(const char *path, piece_fn check, void *arg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ZSTD_DStream *ds = ZSTD_createDStream();
	ck_assert_ptr_nonnull(ds);
	size_t in_size = ZSTD_DStreamInSize(), out_size = ZSTD_DStreamOutSize();
	unsigned char *inbuf = xmalloc(in_size), *outbuf = xmalloc(out_size);
	size_t left = 1; /* ZSTD_decompressStream's "frame not done yet" */
	ssize_t n;
	while ((n = read(fd, inbuf, in_size)) > 0) {
		ck_assert_msg(left != 0, "bytes after the end of the frame");
		ZSTD_inBuffer in = {inbuf, (size_t)n, 0};
		while (in.pos < in.size) {
			ck_assert_msg(left != 0, "bytes after the end of the frame");
			ZSTD_outBuffer out = {outbuf, out_size, 0};
			left = ZSTD_decompressStream(ds, &out, &in);
			ck_assert_msg(!ZSTD_isError(left), "decompress %s: %s", path,
			              ZSTD_getErrorName(left));
			check(outbuf, out.pos, arg);
		}
	}
	/* Drain what the decoder still holds. */
	while (left != 0) {
		ZSTD_inBuffer in = {NULL, 0, 0};
		ZSTD_outBuffer out = {outbuf, out_size, 0};
		left = ZSTD_decompressStream(ds, &out, &in);
		ck_assert_msg(!ZSTD_isError(left), "decompress %s: %s", path,
		              ZSTD_getErrorName(left));
		ck_assert_msg(out.pos > 0, "decompress %s: truncated frame", path);
		check(outbuf, out.pos, arg);
	}
	ck_assert_int_eq(n, 0);
	ZSTD_freeDStream(ds);
	free(inbuf);
	free(outbuf);
	close(fd);
}

struct expect_buf {
	const unsigned char *data;
	size_t len, seen;
};

static void compare_buf(const unsigned char *piece, size_t len, void *arg)
{
	struct expect_buf *e = arg;
	ck_assert_uint_le(e->seen + len, e->len);
	ck_assert_msg(memcmp(e->data + e->seen, piece, len) == 0, "mismatch near offset %zu",
	              e->seen);
	e->seen += len;
}

struct expect_gen {
	struct sqlgen g;
	unsigned char *scratch;
	size_t seen;
};

static void compare_gen(const unsigned char *piece, size_t len, void *arg)
{
	struct expect_gen *e = arg;
	sqlgen_fill(&e->g, e->scratch, len);
	ck_assert_msg(memcmp(e->scratch, piece, len) == 0, "mismatch near offset %zu", e->seen);
	e->seen += len;
}

/* What the frame header at the start of a file says. */
struct frame_info {
	int has_content_size; /* Frame_Content_Size present */
	int checksum;         /* Content_Checksum_flag */
	uint64_t window;      /* Window_Size, 0 for single-segment frames */
};

/* Decode the frame header by hand (RFC 8878, 3.1.1.1). */
static struct frame_info frame_header(const char *path)
{
	unsigned char h[6];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	close(fd);
	uint32_t magic = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
	                 (uint32_t)h[3] << 24;
	ck_assert_uint_eq(magic, ZSTD_MAGIC);
	struct frame_info fi = {0};
	unsigned fhd = h[4];
	int single_segment = (fhd >> 5) & 1;
	fi.has_content_size = (fhd >> 6) != 0 || single_segment;
	fi.checksum = (fhd >> 2) & 1;
	if (!single_segment) {
		unsigned exponent = h[5] >> 3, mantissa = h[5] & 7;
		uint64_t base = (uint64_t)1 << (10 + exponent);
		fi.window = base + base / 8 * mantissa;
	}
	return fi;
}

/* Compress `len` bytes of `data` in pieces of `piece` bytes into tmpdir/name
 * and check that libzstd gives them back; returns the path (malloc'ed). */
static char *roundtrip(const char *name, const unsigned char *data, size_t len, int level,
                       int threads, size_t piece)
{
	char *path;
	int fd = create_out(name, &path);
	struct oma_compress_params p = {.size = sizeof(p), .level = level, .threads = threads};
	void *s = NULL;
	char err[256] = "";
	ck_assert_msg(ops->open(&s, fd, &p, err, sizeof(err)) == 0, "%s", err);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		ck_assert_msg(ops->write(s, data + off, n, err, sizeof(err)) == 0, "%s", err);
	}
	ck_assert_msg(ops->finish(s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(close(fd), 0);

	struct expect_buf e = {.data = data, .len = len};
	unzstd_each(path, compare_buf, &e);
	ck_assert_uint_eq(e.seen, len);
	struct frame_info fi = frame_header(path);
	ck_assert_msg(!fi.has_content_size, "%s: frame states a content size", name);
	ck_assert_msg(fi.checksum, "%s: frame has no checksum", name);
	return path;
}

/* Exit status of `zstd -t FILE` (its complaints hidden when `quiet`). */
static int run_zstd_test(const char *path, int quiet)
{
	char *cmd = xasprintf("zstd -q -t '%s'%s", path, quiet ? " 2>/dev/null" : "");
	int rc = system(cmd);
	free(cmd);
	return rc;
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_descriptor)
{
	ck_assert_str_eq(zp->desc->name, "zstd");
	ck_assert_uint_eq(zp->desc->type, OMA_PLUGIN_COMPRESS);
	ck_assert_ptr_nonnull(strstr(zp->desc->version, "libzstd"));
	ck_assert_str_eq(ops->suffix, ".sql.zst");
	ck_assert_int_eq(ops->default_level, 3);
	ck_assert_int_eq(ops->min_level, 1);
	ck_assert_int_eq(ops->max_level, 19);
	ck_assert_ptr_null(zp->desc->report);
	ck_assert_ptr_null(zp->desc->condition);
}
END_TEST

/* The shared object exports the descriptor and nothing else of its own. */
START_TEST(test_exports_only_descriptor)
{
	ck_assert_ptr_null(dlsym(zp->handle, "zs_open"));
	ck_assert_ptr_null(dlsym(zp->handle, "zs_ops"));
	ck_assert_ptr_eq(dlsym(zp->handle, OMA_PLUGIN_SYMBOL), zp->desc);

	char *cmd = xasprintf("nm -D --defined-only '%s'", zp->path);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	static const char *const linker_symbols[] = {"_init", "_fini",       "_edata",
	                                             "_end",  "__bss_start", NULL};
	char line[512];
	int found = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		const char *sym = strrchr(line, ' ');
		sym = sym != NULL ? sym + 1 : line;
		/* ASan marks each exported global with an ODR indicator. */
		if (strncmp(sym, "__odr_asan.", 11) == 0)
			sym += 11;
		if (strcmp(sym, OMA_PLUGIN_SYMBOL) == 0) {
			found = 1;
			continue;
		}
		int ok = 0;
		for (size_t i = 0; linker_symbols[i] != NULL; i++)
			ok |= strcmp(sym, linker_symbols[i]) == 0;
		ck_assert_msg(ok, "unexpected exported symbol: %s", line);
	}
	ck_assert_int_eq(pclose(f), 0);
	ck_assert(found);
	free(cmd);
}
END_TEST

START_TEST(test_empty_input)
{
	char *path = roundtrip("empty.sql.zst", (const unsigned char *)"", 0, -1, 1, 1);
	/* A whole frame: header, one empty block, checksum. */
	ck_assert_int_ge(size_of(path), 4 + 2 + 3 + 4);
	ck_assert_int_eq(run_zstd_test(path, 0), 0);
	size_t len;
	unsigned char *raw = slurp(path, &len);
	ck_assert_uint_eq(ZSTD_getFrameContentSize(raw, len), ZSTD_CONTENTSIZE_UNKNOWN);
	free(raw);
	free(path);
	free(roundtrip("empty-mt.sql.zst", (const unsigned char *)"", 0, -1, 2, 1));
}
END_TEST

START_TEST(test_small_input)
{
	const char *sql = "CREATE TABLE `t` (`id` int NOT NULL);\nINSERT INTO `t` VALUES (1),(2);\n"
	                  "-- Dump completed on 2025-01-01  0:00:00\n";
	size_t len = strlen(sql);
	free(roundtrip("whole.sql.zst", (const unsigned char *)sql, len, -1, 1, len));
	free(roundtrip("bytes.sql.zst", (const unsigned char *)sql, len, 3, 1, 1));
	free(roundtrip("whole-mt.sql.zst", (const unsigned char *)sql, len, 19, 2, len));
	free(roundtrip("bytes-mt.sql.zst", (const unsigned char *)sql, len, 1, 2, 1));
}
END_TEST

/* Levels 1, 3 and 19 on one and two threads reach libzstd: the window in
 * the frame header is the one libzstd picks for that level (512 KiB, 2 MiB,
 * 8 MiB when the size is unknown), level 19 gives the smallest file, and
 * the default level is level 3. */
START_TEST(test_levels_and_threads)
{
	static const int levels[] = {1, 3, 19};
	static const uint64_t windows[] = {512 * 1024, 2 * MiB, 8 * MiB};
	size_t len = 3 * MiB + 4321;
	unsigned char *data = xmalloc(len);
	struct sqlgen g;
	sqlgen_start(&g, 17);
	sqlgen_fill(&g, data, len);
	off_t sizes[3][2];
	for (int li = 0; li < 3; li++) {
		for (int threads = 1; threads <= 2; threads++) {
			char *name = xasprintf("l%d-t%d.sql.zst", levels[li], threads);
			char *path = roundtrip(name, data, len, levels[li], threads, 65536 + 17);
			struct frame_info fi = frame_header(path);
			ck_assert_msg(fi.window == windows[li], "%s: window %llu", name,
			              (unsigned long long)fi.window);
			sizes[li][threads - 1] = size_of(path);
			free(path);
			free(name);
		}
	}
	for (int t = 0; t < 2; t++) {
		ck_assert_int_lt(sizes[2][t], sizes[1][t]);
		ck_assert_int_lt(sizes[2][t], sizes[0][t]);
		ck_assert_int_lt(sizes[0][t], (off_t)len / 4);
	}

	char *dflt = roundtrip("default.sql.zst", data, len, -1, 1, 65536 + 17);
	char *three = xasprintf("%s/l3-t1.sql.zst", tmpdir);
	size_t a_len, b_len;
	unsigned char *a = slurp(dflt, &a_len), *b = slurp(three, &b_len);
	ck_assert_uint_eq(a_len, b_len);
	ck_assert(memcmp(a, b, a_len) == 0);
	free(a);
	free(b);
	free(three);
	free(dflt);
	free(data);
}
END_TEST

/* threads > 1 makes libzstd start worker threads; threads 1 does not. */
START_TEST(test_threads_start_workers)
{
	size_t len = 2 * MiB;
	unsigned char *data = xmalloc(len);
	struct sqlgen g;
	sqlgen_start(&g, 23);
	sqlgen_fill(&g, data, len);
	for (int threads = 1; threads <= 3; threads += 2) {
		char *path;
		int fd = create_out("threads.sql.zst", &path);
		struct oma_compress_params p = {.size = sizeof(p), .level = 3, .threads = threads};
		void *s = NULL;
		char err[256] = "";
		int before = t_count_entries("/proc/self/task");
		ck_assert_msg(ops->open(&s, fd, &p, err, sizeof(err)) == 0, "%s", err);
		ck_assert_msg(ops->write(s, data, len, err, sizeof(err)) == 0, "%s", err);
		int during = t_count_entries("/proc/self/task");
		ck_assert_msg(ops->finish(s, err, sizeof(err)) == 0, "%s", err);
		close(fd);
		if (threads == 1)
			ck_assert_int_eq(during, before);
		else
			ck_assert_int_ge(during, before + threads);
		/* finish() stopped them (a joined thread may linger in /proc
		 * for a moment). */
		for (int i = 0; i < 100 && t_count_entries("/proc/self/task") != before; i++)
			usleep(10000);
		ck_assert_int_eq(t_count_entries("/proc/self/task"), before);
		struct expect_buf e = {.data = data, .len = len};
		unzstd_each(path, compare_buf, &e);
		ck_assert_uint_eq(e.seen, len);
		free(path);
	}
	free(data);
}
END_TEST

START_TEST(test_bad_level)
{
	char *path;
	int fd = create_out("bad.sql.zst", &path);
	static const int bad[] = {0, 20, 22};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		void *s = NULL;
		struct oma_compress_params p = {.size = sizeof(p), .level = bad[i], .threads = 1};
		ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), -1);
		char *want = xasprintf("zstd: compression level %d out of range 1..19", bad[i]);
		ck_assert_str_eq(err, want);
		free(want);
		ck_assert_ptr_null(s);
	}
	close(fd);
	ck_assert_int_eq(size_of(path), 0);
	free(path);

	char err[256] = "";
	void *s = NULL;
	ck_assert_int_eq(ops->open(&s, -1, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "zstd: invalid file descriptor -1");
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_closed_fd)
{
	char *path;
	int fd = create_out("closed.sql.zst", &path);
	ck_assert_int_eq(close(fd), 0);
	char *want = xstrdup("zstd: write: Bad file descriptor");
	char err[256] = "";
	void *s = NULL;

	/* A small write stays in the buffers; finish() reports the failure
	 * (and frees the stream: ASan would see a leak otherwise). */
	ck_assert_int_eq(ops->open(&s, fd, NULL, err, sizeof(err)), 0);
	const char *sql = "INSERT INTO t VALUES (1);\n";
	ck_assert_int_eq(ops->write(s, sql, strlen(sql), err, sizeof(err)), 0);
	ck_assert_int_eq(ops->finish(s, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);

	/* A failure inside write() is reported there; later writes and
	 * finish() fail too, and finish() still frees. */
	ck_assert_int_eq(ops->open(&s, fd, NULL, err, sizeof(err)), 0);
	size_t len = 1 * MiB;
	unsigned char *noise = xmalloc(len);
	fill_noise(noise, len, 7);
	ck_assert_int_eq(ops->write(s, noise, len, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	err[0] = '\0';
	ck_assert_int_eq(ops->write(s, noise, 10, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "zstd: stream failed earlier");
	err[0] = '\0';
	ck_assert_int_eq(ops->finish(s, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "zstd: stream failed earlier");
	free(noise);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_broken_pipe)
{
	signal(SIGPIPE, SIG_IGN);
	size_t len = 1 * MiB;
	unsigned char *noise = xmalloc(len);
	fill_noise(noise, len, 9);
	for (int threads = 1; threads <= 2; threads++) {
		int fds[2];
		ck_assert_int_eq(pipe(fds), 0);
		close(fds[0]);
		char *want = xstrdup("zstd: write: Broken pipe");
		char err[256] = "";
		void *s = NULL;
		struct oma_compress_params p = {.size = sizeof(p), .level = 1, .threads = threads};
		ck_assert_int_eq(ops->open(&s, fds[1], &p, err, sizeof(err)), 0);
		if (threads == 1) {
			/* Output leaves the buffer during write(). */
			ck_assert_int_eq(ops->write(s, noise, len, err, sizeof(err)), -1);
			ck_assert_str_eq(err, want);
			ops->abort(s);
		} else {
			/* The workers hold the data until a job (1 MiB) is done:
			 * the error shows in write() or at the latest in finish(). */
			int rc = 0;
			for (int i = 0; i < 4 && rc == 0; i++)
				rc = ops->write(s, noise, len, err, sizeof(err));
			if (rc == 0)
				rc = ops->finish(s, err, sizeof(err));
			else
				ops->abort(s);
			ck_assert_int_eq(rc, -1);
			ck_assert_str_eq(err, want);
		}
		close(fds[1]);
		free(want);
	}
	free(noise);
}
END_TEST

/* abort() writes nothing more, whatever is buffered or in flight. */
START_TEST(test_abort_writes_nothing)
{
	char *path;
	int fd = create_out("aborted.sql.zst", &path);
	char err[256] = "";
	void *s = NULL;
	ck_assert_int_eq(ops->open(&s, fd, NULL, err, sizeof(err)), 0);
	const char *sql = "INSERT INTO t VALUES (1);\n";
	ck_assert_int_eq(ops->write(s, sql, strlen(sql), err, sizeof(err)), 0);
	ops->abort(s);
	ck_assert_int_eq(size_of(path), 0);

	size_t len = 512 * 1024;
	unsigned char *noise = xmalloc(len);
	fill_noise(noise, len, 3);
	for (int threads = 1; threads <= 2; threads++) {
		struct oma_compress_params p = {.size = sizeof(p), .level = 3, .threads = threads};
		ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), 0);
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(ops->write(s, noise, len, err, sizeof(err)), 0);
		off_t before = size_of(path);
		if (threads == 1)
			ck_assert_int_gt(before, 0); /* some output was flushed */
		ops->abort(s);
		ck_assert_int_eq(size_of(path), before);
	}
	close(fd);
	free(noise);
	free(path);
}
END_TEST

/* 50 MB of SQL-like text in odd-sized pieces at level 3 comes back
 * unchanged and passes `zstd -t`, and the stream's heap stays under
 * `limit`.  On one thread the heap is all allocated at the first write and
 * then stays put; with workers, libzstd's job buffers are allocated as
 * jobs happen to overlap, so only the limit is checked. */
static void large_stream(int threads, size_t limit)
{
	static const size_t pieces[] = {1, 4093, 65537, 7, 1000003, 333, 131072, 2 * MiB + 1};
	const size_t total = 50 * MiB;
	char *name = xasprintf("large-t%d.sql.zst", threads);
	char *path;
	int fd = create_out(name, &path);
	struct oma_compress_params p = {.size = sizeof(p), .level = 3, .threads = threads};
	void *s = NULL;
	char err[256] = "";
	unsigned char *buf = xmalloc(2 * MiB + 1);
	struct sqlgen g;
	sqlgen_start(&g, 2025);

	size_t heap_before = t_heap_in_use();
	ck_assert_int_eq(ops->open(&s, fd, &p, err, sizeof(err)), 0);
	size_t done = 0, peak_early = 0, peak_late = 0;
	for (size_t i = 0; done < total; i++) {
		size_t n = pieces[i % (sizeof(pieces) / sizeof(pieces[0]))];
		if (n > total - done)
			n = total - done;
		sqlgen_fill(&g, buf, n);
		ck_assert_msg(ops->write(s, buf, n, err, sizeof(err)) == 0, "%s", err);
		done += n;
		size_t now = t_heap_in_use();
		size_t heap = now > heap_before ? now - heap_before : 0;
		if (done <= total / 4 && heap > peak_early)
			peak_early = heap;
		if (done > total / 4 && heap > peak_late)
			peak_late = heap;
	}
	ck_assert_msg(ops->finish(s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_gt(peak_early, 0);
	if (threads == 1)
		ck_assert_msg(peak_late <= peak_early + 64 * 1024,
		              "heap grew from %zu to %zu bytes", peak_early, peak_late);
	size_t peak = peak_late > peak_early ? peak_late : peak_early;
	ck_assert_msg(peak <= limit, "threads %d: stream uses %zu bytes of heap", threads, peak);
	off_t compressed = size_of(path);
	ck_assert_int_gt(compressed, 0);
	ck_assert_int_lt(compressed, (off_t)total / 4);

	struct expect_gen e = {.scratch = xmalloc(ZSTD_DStreamOutSize())};
	sqlgen_start(&e.g, 2025);
	unzstd_each(path, compare_gen, &e);
	ck_assert_uint_eq(e.seen, total);
	free(e.scratch);

	ck_assert_int_eq(run_zstd_test(path, 0), 0);
	free(buf);
	free(path);
	free(name);
}

START_TEST(test_large_stream_one_thread)
{
	large_stream(1, 8 * MiB);
}
END_TEST

/* With workers, 1 MiB jobs keep the heap far below libzstd's default of
 * 8 MiB jobs (60..67 MiB with 2 workers, 94 MiB with 4). */
START_TEST(test_large_stream_two_threads)
{
	large_stream(2, 16 * MiB);
}
END_TEST

START_TEST(test_large_stream_four_threads)
{
	large_stream(4, 24 * MiB);
}
END_TEST

/* A finished single-threaded stream leaves its context to the next one:
 * after a stream the context is still allocated, a warm stream allocates
 * hardly anything, and a context that ran at level 19 gives, back at level
 * 1, the very bytes a new one gives. */
START_TEST(test_contexts_reused)
{
	size_t len = 256 * 1024;
	unsigned char *sql = xmalloc(len);
	struct sqlgen g;
	sqlgen_start(&g, 11);
	sqlgen_fill(&g, sql, len);

	size_t before = t_heap_in_use();
	char *first = roundtrip("first.sql.zst", sql, len, 1, 1, 4096);
	size_t kept = t_heap_in_use() - before;
	ck_assert_msg(kept > 1024 * 1024, "context of the finished stream not kept: %zu bytes",
	              kept);

	/* Level 19 on the same context, then level 1 again. */
	char *path;
	int fd = create_out("second.sql.zst", &path);
	struct oma_compress_params p = {.size = sizeof(p), .level = 19, .threads = 1};
	void *st = NULL;
	char err[256] = "";
	ck_assert_msg(ops->open(&st, fd, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(ops->write(st, sql, len, err, sizeof(err)), 0);
	ck_assert_int_eq(ops->finish(st, err, sizeof(err)), 0);
	close(fd);
	free(path);

	char *third = roundtrip("third.sql.zst", sql, len, 1, 1, 4096);
	size_t n1, n3;
	unsigned char *a = slurp(first, &n1), *b = slurp(third, &n3);
	ck_assert_uint_eq(n1, n3);
	ck_assert(memcmp(a, b, n1) == 0);

	/* Once warm, a stream allocates hardly anything. */
	size_t warm = t_heap_in_use();
	fd = create_out("fourth.sql.zst", &path);
	p.level = 1;
	ck_assert_int_eq(ops->open(&st, fd, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(ops->write(st, sql, len, err, sizeof(err)), 0);
	size_t fourth = t_heap_in_use() - warm;
	ck_assert_int_eq(ops->finish(st, err, sizeof(err)), 0);
	close(fd);
	ck_assert_msg(fourth < 512 * 1024, "a warm stream allocated %zu bytes", fourth);
	free(path);
	free(a);
	free(b);
	free(first);
	free(third);
	free(sql);
}
END_TEST

/* A damaged file fails `zstd -t` (the check the checksum makes possible). */
START_TEST(test_zstd_t_sees_damage)
{
	size_t len = 256 * 1024;
	unsigned char *data = xmalloc(len);
	struct sqlgen g;
	sqlgen_start(&g, 31);
	sqlgen_fill(&g, data, len);
	char *path = roundtrip("damaged.sql.zst", data, len, 3, 1, len);
	ck_assert_int_eq(run_zstd_test(path, 0), 0);
	size_t zlen;
	unsigned char *z = slurp(path, &zlen);
	z[zlen - 1] ^= 0x01; /* last byte of the checksum */
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cm_write_all(fd, z, zlen), 0);
	close(fd);
	ck_assert_int_ne(run_zstd_test(path, 1), 0);
	free(z);
	free(path);
	free(data);
}
END_TEST

/* ---- short writes and EINTR ------------------------------------------- */

static volatile sig_atomic_t alarms;

static void count_alarm(int sig)
{
	(void)sig;
	alarms++;
}

struct reader {
	int fd;
	char *data;
	size_t len, cap;
};

/* Read the pipe a little at a time, pausing in between, until EOF: the
 * writer keeps finding it full and waits, so the timer interrupts it both
 * before anything is written (EINTR) and after a part (short write). */
static void *read_slowly(void *arg)
{
	struct reader *r = arg;
	char piece[777];
	for (;;) {
		ssize_t n = read(r->fd, piece, sizeof(piece));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_append(&r->data, &r->len, &r->cap, piece, (size_t)n);
		usleep(100);
	}
	return NULL;
}

/* Writes into a small pipe, interrupted by a fast timer without
 * SA_RESTART, still deliver every byte. */
static void interrupted(int threads)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	(void)fcntl(fds[1], F_SETPIPE_SZ, 4096);

	/* Only this thread takes SIGALRM: the reader and libzstd's workers
	 * inherit a mask that blocks it. */
	sigset_t alrm, old;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &alrm, &old), 0);
	struct reader r = {.fd = fds[0]};
	pthread_t tid;
	ck_assert_int_eq(pthread_create(&tid, NULL, read_slowly, &r), 0);

	size_t len = 4 * MiB;
	unsigned char *data = xmalloc(len);
	fill_noise(data, len / 2, 11);
	struct sqlgen g;
	sqlgen_start(&g, 5);
	sqlgen_fill(&g, data + len / 2, len - len / 2);

	char err[256] = "";
	void *s = NULL;
	struct oma_compress_params p = {.size = sizeof(p), .level = 1, .threads = threads};
	ck_assert_int_eq(ops->open(&s, fds[1], &p, err, sizeof(err)), 0);
	ck_assert_msg(ops->write(s, data, 1000, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_alarm;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	alarms = 0;
	struct itimerval on = {.it_interval = {0, 250}, .it_value = {0, 250}};
	ck_assert_int_eq(setitimer(ITIMER_REAL, &on, NULL), 0);

	for (size_t off = 1000; off < len; off += 99991) {
		size_t n = len - off < 99991 ? len - off : 99991;
		ck_assert_msg(ops->write(s, data + off, n, err, sizeof(err)) == 0, "%s", err);
	}
	ck_assert_msg(ops->finish(s, err, sizeof(err)) == 0, "%s", err);

	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	close(fds[1]);
	ck_assert_int_eq(pthread_join(tid, NULL), 0);
	close(fds[0]);
	ck_assert_int_gt(alarms, 0);

	char *path = xasprintf("%s/piped-t%d.sql.zst", tmpdir, threads);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cm_write_all(fd, r.data, r.len), 0);
	close(fd);
	struct expect_buf e = {.data = data, .len = len};
	unzstd_each(path, compare_buf, &e);
	ck_assert_uint_eq(e.seen, len);
	free(path);
	free(r.data);
	free(data);
}

START_TEST(test_interrupted_writes)
{
	interrupted(1);
	interrupted(2);
}
END_TEST

/* With a sink from the core, every byte goes there (the fd is never
 * written), in order, one thread or several; a failing sink's message is
 * the call's error. */
START_TEST(test_sink)
{
	size_t len = 5 * 1024 * 1024 + 123;
	unsigned char *data = xmalloc(len);
	struct sqlgen g;
	sqlgen_start(&g, 11);
	sqlgen_fill(&g, data, len);
	char *path = xasprintf("%s/sink.sql.zst", tmpdir);
	for (int threads = 1; threads <= 4; threads += 3) {
		struct t_sink k;
		t_compress_to_sink(ops, data, len, threads, &k);
		t_write_bytes(path, k.data, k.len, 0644);
		struct expect_buf e = {.data = data, .len = len};
		unzstd_each(path, compare_buf, &e);
		ck_assert_uint_eq(e.seen, len);
		free(k.data);
	}
	ck_assert(ops->flags & OMA_COMPRESS_SINK);
	free(path);
	free(data);
}
END_TEST

/* The reader (--verify): our own files and the zstd tool's read back
 * exactly; cut, extended, damaged and empty files fail (t_check_reader). */
START_TEST(test_reader)
{
	size_t len = 2 * 1024 * 1024 + 4321;
	unsigned char *data = xmalloc(len);
	struct sqlgen g;
	sqlgen_start(&g, 12);
	sqlgen_fill(&g, data, len);
	t_check_reader(ops, data, len, "zstd -q -c -3", tmpdir);
	free(data);
}
END_TEST

static Suite *zstd_suite(void)
{
	Suite *s = suite_create("zstd");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_exports_only_descriptor);
	tcase_add_test(tc, test_empty_input);
	tcase_add_test(tc, test_small_input);
	tcase_add_test(tc, test_contexts_reused);
	tcase_add_test(tc, test_levels_and_threads);
	tcase_add_test(tc, test_threads_start_workers);
	tcase_add_test(tc, test_bad_level);
	tcase_add_test(tc, test_closed_fd);
	tcase_add_test(tc, test_broken_pipe);
	tcase_add_test(tc, test_sink);
	tcase_add_test(tc, test_reader);
	tcase_add_test(tc, test_abort_writes_nothing);
	tcase_add_test(tc, test_large_stream_one_thread);
	tcase_add_test(tc, test_large_stream_two_threads);
	tcase_add_test(tc, test_large_stream_four_threads);
	tcase_add_test(tc, test_zstd_t_sees_damage);
	tcase_add_test(tc, test_interrupted_writes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(zstd_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
