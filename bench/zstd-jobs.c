/* zstd-jobs.c - bench helper: libzstd speed, size and heap for a level, worker count and job size. */
/*
 * Usage: zstd-jobs LEVEL WORKERS JOB_SIZE <dump.sql
 *
 * Compresses stdin as the zstd plugin does (checksum, no content size,
 * reads of 256 KiB) with WORKERS worker threads (0: none) and
 * ZSTD_c_jobSize JOB_SIZE (0: libzstd's default), discards the output and
 * prints one line: seconds, MB/s, compressed size, and the peak heap seen
 * between reads (mallinfo2: small and mmap'ed blocks of every arena).
 * The data behind the job size chosen in plugins/compress-zstd/zstd.c:
 *
 *   cc -O2 -o /tmp/zstd-jobs bench/zstd-jobs.c -lzstd
 *   for j in 0 4194304 2097152 1048576 524288; do /tmp/zstd-jobs 3 2 $j <dump.sql; done
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

static long arg(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		fprintf(stderr, "zstd-jobs: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static size_t heap(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* Set a parameter or exit with libzstd's reason. */
static void set(ZSTD_CCtx *c, ZSTD_cParameter p, int v, const char *what)
{
	size_t rc = ZSTD_CCtx_setParameter(c, p, v);
	if (ZSTD_isError(rc)) {
		fprintf(stderr, "zstd-jobs: %s %d: %s\n", what, v, ZSTD_getErrorName(rc));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: zstd-jobs LEVEL WORKERS JOB_SIZE <input\n");
		return 2;
	}
	int level = (int)arg(argv[1]), workers = (int)arg(argv[2]), job = (int)arg(argv[3]);
	size_t base = heap();
	ZSTD_CCtx *c = ZSTD_createCCtx();
	if (c == NULL)
		return 1;
	set(c, ZSTD_c_compressionLevel, level, "level");
	set(c, ZSTD_c_checksumFlag, 1, "checksum");
	set(c, ZSTD_c_contentSizeFlag, 0, "content size");
	if (workers > 0)
		set(c, ZSTD_c_nbWorkers, workers, "workers");
	if (job > 0)
		set(c, ZSTD_c_jobSize, job, "job size");
	size_t insz = 256 * 1024, outsz = ZSTD_CStreamOutSize();
	char *in = malloc(insz), *out = malloc(outsz);
	if (in == NULL || out == NULL)
		return 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long long total = 0, packed = 0;
	size_t peak = 0;
	ssize_t n;
	while ((n = read(STDIN_FILENO, in, insz)) > 0) {
		ZSTD_inBuffer ib = {in, (size_t)n, 0};
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = {out, outsz, 0};
			size_t rc = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);
			if (ZSTD_isError(rc)) {
				fprintf(stderr, "zstd-jobs: %s\n", ZSTD_getErrorName(rc));
				return 1;
			}
			packed += ob.pos;
		}
		total += (unsigned long long)n;
		size_t h = heap();
		if (h > peak)
			peak = h;
	}
	size_t left;
	do {
		ZSTD_inBuffer ib = {in, 0, 0};
		ZSTD_outBuffer ob = {out, outsz, 0};
		left = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
		if (ZSTD_isError(left)) {
			fprintf(stderr, "zstd-jobs: %s\n", ZSTD_getErrorName(left));
			return 1;
		}
		packed += ob.pos;
	} while (left != 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("level %d workers %d job %d: %.2f s, %.0f MB/s, %llu bytes (%.2f%%), heap %.1f MiB\n",
	       level, workers, job, s, (double)total / 1e6 / s, packed,
	       total > 0 ? 100.0 * (double)packed / (double)total : 0.0,
	       (double)(peak > base ? peak - base : 0) / 1048576.0);
	ZSTD_freeCCtx(c);
	free(in);
	free(out);
	return 0;
}
