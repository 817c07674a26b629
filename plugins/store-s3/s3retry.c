/* s3retry.c - the S3 client's requests sent again with backoff after retryable failures, and given up when the caller stops. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "s3.h"
#include "s3req.h"

#define S3RETRY_DELAY_MAX_S 30
#define S3RETRY_STEP_MS     100 /* how often a wait looks at stopping() */

/* Wait `seconds`, in small steps, returning early once c->stopping says
 * so (unless r goes out even then). */
static void wait_before_retry(const struct s3_client *c, const struct s3req *r, unsigned seconds)
{
	struct timespec step = {.tv_sec = 0, .tv_nsec = S3RETRY_STEP_MS * 1000000L};
	for (unsigned i = 0; i < seconds * (1000 / S3RETRY_STEP_MS); i++) {
		if (c->stopping != NULL && !r->keep_on_stop && c->stopping() != 0)
			return;
		(void)nanosleep(&step, NULL);
	}
}

int s3req_run(struct s3_client *c, const struct s3req *r, char *err, size_t errlen)
{
	int tries = c->retries;
	if (r->keep_on_stop && tries > 1)
		tries = 1;
	if (r->keep_on_stop && c->stopping != NULL && c->stopping() != 0)
		tries = 0; /* once, within S3_STOP_REQUEST_S: oma is stopping */
	unsigned delay = 1;
	/* A body written to a file can be sent again from where it began; to
	 * a pipe it cannot. */
	off_t out_at = r->out_fd >= 0 ? lseek(r->out_fd, 0, SEEK_CUR) : 0;
	for (int attempt = 0;; attempt++) {
		if (attempt > 0 && r->out_fd >= 0 &&
		    (ftruncate(r->out_fd, out_at) != 0 ||
		     lseek(r->out_fd, out_at, SEEK_SET) != out_at))
			return -1; /* err says why the try before failed */
		if (s3req_once(c, r, err, errlen) == 0)
			return 0;
		if (c->cancelled || attempt >= tries || out_at < 0 || !s3_retryable(c))
			return -1;
		if (c->note != NULL) {
			char line[1024];
			(void)snprintf(line, sizeof(line), "%s; retry %d of %d in %u s", err,
			               attempt + 1, tries, delay);
			c->note(c->note_ctx, line);
		}
		wait_before_retry(c, r, delay);
		delay = delay * 2 > S3RETRY_DELAY_MAX_S ? S3RETRY_DELAY_MAX_S : delay * 2;
	}
}
