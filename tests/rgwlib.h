/* rgwlib.h - a private radosgw for the S3 unit tests (tests/lib/rgw.sh serve), awscli against it, test files. */
#ifndef OMA_RGWLIB_H
#define OMA_RGWLIB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The gateway of this test process (one at a time). */
struct t_rgw {
	char tmp[64]; /* the test's temp folder (rgw/ below it) */
	char *rgw_sh; /* tests/lib/rgw.sh */
	char *dir;    /* the gateway's folder */
	char *endpoint, *access_key, *secret_key;
	pid_t helper;
	int helper_in; /* closing it stops the gateway */
};
extern struct t_rgw t_gw;

/* Start the gateway with `rgw.sh serve` in a helper whose stdin we hold
 * (when this process ends, however it ends, the helper stops the daemons),
 * in /tmp/oma-check-NAME.XXXXXX, and create `bucket` unless NULL; fails
 * the test when it does not start. */
void t_rgw_up(const char *name, const char *bucket);
/* Stop it and remove its folder. */
void t_rgw_down(void);

/* Debian's awscli (rgw_aws of rgw.sh) with the arguments (no single
 * quotes); the first line of its output into the malloc'ed *out (may be
 * NULL).  Returns its exit status. */
int t_rgw_aws(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A file of `size` bytes of pseudo-random data (seeded) in the temp
 * folder; its path is malloc'ed. */
char *t_rgw_file(const char *name, uint64_t size, uint32_t seed);

/* Whether files a and b hold the same bytes. */
bool t_same_file(const char *a, const char *b);

#endif
