/* age-enc.c - bench helper: the speed of age_enc_write (plugins/encrypt-age) over a 256 MiB buffer. */
/*
 * Usage: age-enc [MIB]   (default 256)
 *
 * Encrypts MIB MiB of pseudo-random bytes to one fresh recipient in writes
 * of 256 KiB (like oma's dump worker), the output counted and dropped, and
 * prints "bytes seconds_cpu MB/s" (CPU time of this process, MB = 10^6
 * bytes).  Exit 0 on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "age.h"

#define PIECE (256 * 1024)

static int count(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	(void)buf;
	(void)err;
	(void)errlen;
	*(size_t *)ctx += len;
	return 0;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char err[512] = "";
	size_t mib = 256, out = 0;
	if (argc > 1) {
		char *end = NULL;
		unsigned long v = strtoul(argv[1], &end, 10);
		if (end == argv[1] || *end != '\0' || v == 0 || v > 65536) {
			fprintf(stderr, "age-enc: usage: age-enc [MIB]\n");
			return 2;
		}
		mib = v;
	}
	size_t size = mib * 1024 * 1024;
	unsigned char *data = malloc(size);
	if (data == NULL || age_init(err, sizeof(err)) != 0) {
		fprintf(stderr, "age-enc: %s\n", data == NULL ? "out of memory" : err);
		return 1;
	}
	randombytes_buf(data, size);
	uint8_t sk[AGE_KEY_LEN], pk[AGE_KEY_LEN];
	randombytes_buf(sk, sizeof(sk));
	age_identity_public(sk, pk);
	struct age_recipients r = {0};
	char text[AGE_RECIPIENT_CHARS + 1];
	age_recipient_format(pk, text);
	struct age_enc *e = NULL;
	if (age_recipients_add(&r, text, NULL, err, sizeof(err)) != 0 ||
	    age_enc_open(&e, &r, count, &out, err, sizeof(err)) != 0) {
		fprintf(stderr, "age-enc: %s\n", err);
		return 1;
	}
	double t0 = cpu_seconds();
	for (size_t off = 0; off < size; off += PIECE) {
		if (age_enc_write(e, data + off, PIECE, err, sizeof(err)) != 0) {
			fprintf(stderr, "age-enc: %s\n", err);
			return 1;
		}
	}
	if (age_enc_finish(e, err, sizeof(err)) != 0) {
		fprintf(stderr, "age-enc: %s\n", err);
		return 1;
	}
	double secs = cpu_seconds() - t0;
	printf("%zu %.3f %.0f\n", size, secs, (double)size / 1e6 / secs);
	age_recipients_free(&r);
	free(data);
	return 0;
}
