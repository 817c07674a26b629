/* compress.c - bench helper: run a compress plugin over stdin into stdout, as oma would. */
/*
 * Usage: compress PLUGIN.so LEVEL THREADS [READ_SIZE] <in >out
 *
 * Loads the plugin with dlopen (no core), opens one stream with the given
 * level (-1: the plugin's default) and threads, feeds it stdin in reads of
 * READ_SIZE bytes (default 256 KiB, like oma's dump worker) and finishes.
 * Prints "bytes_in bytes_out seconds MB/s" to stderr.  Exit 0 on success.
 *
 * With COMPRESS_LOOP=N in the environment it measures the cost of a small
 * stream instead: it reads one READ_SIZE piece of stdin, then N times opens
 * a stream, writes the piece and finishes, and prints the time per stream
 * (e.g. COMPRESS_LOOP=2000 compress gzip.so -1 1 4096 <dump.sql >/dev/null).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <oma/plugin.h>

static long parse_long(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		fprintf(stderr, "compress: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: compress PLUGIN.so LEVEL THREADS [READ_SIZE] <in >out\n");
		return 2;
	}
	int level = (int)parse_long(argv[2], "level");
	int threads = (int)parse_long(argv[3], "threads");
	size_t read_size = argc == 5 ? (size_t)parse_long(argv[4], "read size") : 256 * 1024;
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "compress: %s\n", dlerror());
		return 1;
	}
	const struct oma_plugin *p = dlsym(h, OMA_PLUGIN_SYMBOL);
	if (p == NULL || p->type != OMA_PLUGIN_COMPRESS || p->compress == NULL) {
		fprintf(stderr, "compress: %s is not a compress plugin\n", argv[1]);
		return 1;
	}
	char err[512] = "";
	if (p->init != NULL && p->init(NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "compress: init: %s\n", err);
		return 1;
	}
	const struct oma_compress_ops *ops = p->compress;
	struct oma_compress_params params = {.size = sizeof(params),
	                                     .level = level,
	                                     .threads = threads};
	char *buf = malloc(read_size);
	if (buf == NULL)
		return 1;
	struct timespec t0, t1;
	const char *loop = getenv("COMPRESS_LOOP");
	if (loop != NULL) {
		long n = parse_long(loop, "COMPRESS_LOOP");
		ssize_t got = read(STDIN_FILENO, buf, read_size);
		if (got < 0 || n <= 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++) {
			void *ls = NULL;
			if (ops->open(&ls, STDOUT_FILENO, &params, err, sizeof(err)) != 0 ||
			    ops->write(ls, buf, (size_t)got, err, sizeof(err)) != 0 ||
			    ops->finish(ls, err, sizeof(err)) != 0) {
				fprintf(stderr, "compress: %s\n", err);
				return 1;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
		             (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
		            (double)n;
		fprintf(stderr, "%ld streams of %zd bytes: %.1f us per stream\n", n, got, us);
		free(buf);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	void *s = NULL;
	if (ops->open(&s, STDOUT_FILENO, &params, err, sizeof(err)) != 0) {
		fprintf(stderr, "compress: open: %s\n", err);
		return 1;
	}
	unsigned long long in = 0;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, read_size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "compress: read: %s\n", strerror(errno));
			ops->abort(s);
			return 1;
		}
		if (n == 0)
			break;
		in += (unsigned long long)n;
		if (ops->write(s, buf, (size_t)n, err, sizeof(err)) != 0) {
			fprintf(stderr, "compress: write: %s\n", err);
			ops->abort(s);
			return 1;
		}
	}
	if (ops->finish(s, err, sizeof(err)) != 0) {
		fprintf(stderr, "compress: finish: %s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	struct stat st;
	long long out = fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode)
	                        ? (long long)st.st_size
	                        : -1;
	fprintf(stderr, "%llu %lld %.3f %.1f\n", in, out, sec,
	        sec > 0 ? (double)in / 1e6 / sec : 0);
	if (p->fini != NULL)
		p->fini();
	free(buf);
	dlclose(h);
	return 0;
}
