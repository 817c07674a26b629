/* storeput.c - the store plugin "s3": one file into the remote folder, copied on the server when reused, else uploaded (parts in parallel), then checked. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "s3enc.h"
#include "s3store.h"

/* The x-amz-meta-sha256 of f (none when the core gave no SHA-256) into o. */
static void sha256_meta(const struct oma_store_file *f, struct s3_meta *m, struct s3_put_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (f->sha256 == NULL || f->sha256[0] == '\0')
		return;
	memset(m, 0, sizeof(*m));
	(void)snprintf(m->name, sizeof(m->name), "sha256");
	(void)snprintf(m->value, sizeof(m->value), "%s", f->sha256);
	o->meta = m;
	o->nmeta = 1;
}

/* Whether object src on the server is the file f: same size and the same
 * x-amz-meta-sha256 as f->sha256.  Returns 1 when it is, 0 when it is
 * missing or differs (the reason in why), -1 on any other failure (err). */
static int remote_same(struct s3_client *c, const char *src, const struct oma_store_file *f,
                       char *why, size_t whylen, char *err, size_t errlen)
{
	struct s3_object_info in;
	if (s3_head(c, src, &in, err, errlen) != 0) {
		if (s3_status(c) != 404)
			return -1;
		cm_errf(why, whylen, "not on the server");
		return 0;
	}
	const char *sum = NULL;
	for (int i = 0; i < in.nmeta; i++) {
		if (strcmp(in.meta[i].name, "sha256") == 0)
			sum = in.meta[i].value;
	}
	if (in.size != f->bytes) {
		cm_errf(why, whylen, "%llu bytes there, %llu here", (unsigned long long)in.size,
		        (unsigned long long)f->bytes);
		return 0;
	}
	if (sum == NULL || strcmp(sum, f->sha256) != 0) {
		cm_errf(why, whylen, "its SHA-256 there is %s", sum != NULL ? sum : "not recorded");
		return 0;
	}
	return 1;
}

/* Copy f from the reused folder on the server to key.  Returns 0 when
 * copied, 1 when it has to be uploaded instead (logged), -1 on failure. */
static int copy_reused(const struct s3store_cfg *cfg, struct s3_client *c,
                       const struct s3store_run *run, const struct oma_store_file *f,
                       const char *key, const struct s3_put_opts *o, char *err, size_t errlen)
{
	char src[S3_KEY_MAX + 1], why[512] = "";
	if (f->sha256 == NULL ||
	    s3store_key(src, run->prefix, f->reused_from, f->name, err, errlen) != 0)
		return 1;
	int same = remote_same(c, src, f, why, sizeof(why), err, errlen);
	if (same < 0)
		return -1;
	if (same == 0) {
		s3store_log(cfg, OMA_LOG_INFO,
		            "s3: %s: the copy in %s is not this file (%s); uploading it", f->name,
		            f->reused_from, why);
		return 1;
	}
	if (s3_copy_big(c, src, key, f->bytes, 0, cfg->part_size, o, err, errlen) != 0) {
		if (s3_cancelled(c))
			return -1;
		s3store_log(cfg, OMA_LOG_WARNING, "%s; uploading %s instead", err, f->name);
		return 1;
	}
	s3store_log(cfg, OMA_LOG_INFO, "s3: copied %s from %s on the server", f->name,
	            f->reused_from);
	return 0;
}

/* ---- multipart upload, parts in parallel ------------------------------- */

/* One multipart upload's parts, shared by the threads sending them. */
struct parts {
	const struct s3store_cfg *cfg;
	const char *key, *id;
	int fd, n;
	uint64_t size, ps;
	unsigned char *md5s; /* n * 16 bytes, part i at i * 16 */
	pthread_mutex_t mu;
	int next;    /* the next part to send (0-based) */
	bool failed; /* a part failed: send no more */
	char err[1024];
};

/* The next part to send, or -1 when all went or one failed. */
static int next_part(struct parts *p)
{
	pthread_mutex_lock(&p->mu);
	int i = p->failed || p->next >= p->n ? -1 : p->next++;
	pthread_mutex_unlock(&p->mu);
	return i;
}

/* Record the first failure. */
static void parts_failed(struct parts *p, const char *why)
{
	pthread_mutex_lock(&p->mu);
	if (!p->failed)
		(void)snprintf(p->err, sizeof(p->err), "%s", why);
	p->failed = true;
	pthread_mutex_unlock(&p->mu);
}

/* Send parts with client c until none is left or one failed. */
static void send_parts(struct parts *p, struct s3_client *c)
{
	char err[1024] = "";
	for (int i = next_part(p); i >= 0; i = next_part(p)) {
		uint64_t off = (uint64_t)i * p->ps;
		uint64_t len = p->size - off < p->ps ? p->size - off : p->ps;
		if (s3_mpu_part(c, p->key, p->id, i + 1, p->fd, (off_t)off, len,
		                p->md5s + (size_t)i * 16, err, sizeof(err)) != 0) {
			parts_failed(p, err);
			return;
		}
	}
}

struct part_thread {
	struct parts *p;
	struct s3_client *c;
	pthread_t t;
	bool started;
};

static void *part_thread_main(void *arg)
{
	struct part_thread *w = arg;
	send_parts(w->p, w->c);
	return NULL;
}

/* Send all parts of p: on c in this thread and on `extra` more threads,
 * each with a client of its own.  Returns 0, or -1 with err filled. */
static int send_all_parts(struct parts *p, struct s3_client *c, int extra, char *err, size_t errlen)
{
	struct part_thread *w = calloc((size_t)(extra > 0 ? extra : 1), sizeof(*w));
	if (w == NULL) {
		cm_errf(err, errlen, "s3: upload %s: out of memory", p->key);
		return -1;
	}
	for (int i = 0; i < extra; i++) {
		char why[512];
		w[i].p = p;
		if (s3store_client(p->cfg, &w[i].c, why, sizeof(why)) != 0) {
			parts_failed(p, why);
			break;
		}
		w[i].started = pthread_create(&w[i].t, NULL, part_thread_main, &w[i]) == 0;
		if (!w[i].started)
			break; /* fewer threads then */
	}
	send_parts(p, c);
	for (int i = 0; i < extra; i++) {
		if (w[i].started)
			pthread_join(w[i].t, NULL);
		s3_client_free(w[i].c);
	}
	free(w);
	if (p->failed) {
		cm_errf(err, errlen, "%s", p->err);
		return -1;
	}
	return 0;
}

/* Complete the upload p from the parts' MD5s; the ETag it must have into
 * want.  Returns 0 or -1. */
static int complete_parts(struct parts *p, struct s3_client *c, char *want, size_t wantlen,
                          char *err, size_t errlen)
{
	int rc = -1;
	char *text = malloc((size_t)p->n * 33);
	const char **etags = calloc((size_t)p->n, sizeof(*etags));
	if (text == NULL || etags == NULL) {
		cm_errf(err, errlen, "s3: upload %s: out of memory", p->key);
		goto out;
	}
	for (int i = 0; i < p->n; i++) {
		s3enc_hex(p->md5s + (size_t)i * 16, 16, text + (size_t)i * 33);
		etags[i] = text + (size_t)i * 33;
	}
	if (s3_mpu_complete(c, p->key, p->id, etags, p->n, err, errlen) != 0)
		goto out;
	if (s3_multipart_etag(p->md5s, p->n, want, wantlen) != 0) {
		cm_errf(err, errlen, "s3: upload %s: MD5 failed", p->key);
		goto out;
	}
	rc = 0;
out:
	free(etags);
	free(text);
	return rc;
}

/* Upload the first size bytes of fd as key in parts of the configured size,
 * up to cfg->parallel at once, completed and checked with HEAD, or aborted
 * after a failure.  Returns 0 or -1. */
static int upload_multipart(const struct s3store_cfg *cfg, struct s3_client *c, const char *key,
                            int fd, uint64_t size, const struct s3_put_opts *o, char *err,
                            size_t errlen)
{
	char id[S3_UPLOAD_ID_MAX], want[S3_ETAG_MAX];
	uint64_t ps = s3_part_size(size, cfg->part_size);
	struct parts p = {.cfg = cfg,
	                  .key = key,
	                  .id = id,
	                  .fd = fd,
	                  .n = (int)((size + ps - 1) / ps),
	                  .size = size,
	                  .ps = ps};
	int rc = -1, extra = (cfg->parallel < p.n ? cfg->parallel : p.n) - 1;
	p.md5s = malloc((size_t)p.n * 16);
	if (p.md5s == NULL) {
		cm_errf(err, errlen, "s3: upload %s: out of memory", key);
		return -1;
	}
	pthread_mutex_init(&p.mu, NULL);
	if (s3_mpu_create(c, key, o, id, err, errlen) != 0)
		goto out;
	s3store_log(cfg, OMA_LOG_DEBUG,
	            "s3: multipart upload of %s: %d parts of %llu bytes, %d at once", key, p.n,
	            (unsigned long long)ps, extra + 1);
	if (send_all_parts(&p, c, extra, err, errlen) != 0 ||
	    complete_parts(&p, c, want, sizeof(want), err, errlen) != 0) {
		char why[512] = "";
		if (s3_mpu_abort(c, key, id, why, sizeof(why)) != 0) {
			size_t n = strlen(err);
			if (n < errlen)
				(void)snprintf(err + n, errlen - n, "; and the abort failed: %s",
				               why);
		}
		goto out;
	}
	rc = s3_verify(c, key, size, want, o, NULL, err, errlen);
out:
	pthread_mutex_destroy(&p.mu);
	free(p.md5s);
	return rc;
}

/* ---- put ---------------------------------------------------------------- */

/* Upload the local file f as key: one PUT below the part size, else
 * multipart; then checked with HEAD.  Returns 0 or -1. */
static int upload(const struct s3store_cfg *cfg, struct s3_client *c,
                  const struct oma_store_file *f, const char *key, const struct s3_put_opts *o,
                  char *err, size_t errlen)
{
	struct stat st;
	int rc = -1, fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		cm_errf(err, errlen, "s3: cannot read %s: %s", f->path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size != f->bytes) {
		cm_errf(err, errlen, "s3: %s has %llu bytes, %llu expected", f->path,
		        (unsigned long long)st.st_size, (unsigned long long)f->bytes);
		goto out;
	}
	bool single = (f->bytes < cfg->part_size || f->bytes <= S3_PART_MIN) &&
	              f->bytes <= S3_PUT_MAX;
	if (single)
		rc = s3_upload_fd(c, key, fd, f->bytes, cfg->part_size, o, NULL, err, errlen);
	else
		rc = upload_multipart(cfg, c, key, fd, f->bytes, o, err, errlen);
	if (rc == 0)
		s3store_log(cfg, OMA_LOG_INFO, "s3: uploaded %s (%llu bytes)", f->name,
		            (unsigned long long)f->bytes);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int s3store_put(const struct s3store_cfg *cfg, const struct s3store_run *run,
                const struct oma_store_file *f, char *err, size_t errlen)
{
	char key[S3_KEY_MAX + 1];
	struct s3_meta m;
	struct s3_put_opts o;
	struct s3_client *c = NULL;
	int rc = -1;
	if (f == NULL || f->size < sizeof(*f) || f->name == NULL || f->path == NULL ||
	    f->name[0] == '\0' || strchr(f->name, '/') != NULL) {
		cm_errf(err, errlen, "s3: put: not a file of the folder (name \"%s\")",
		        f != NULL && f->name != NULL ? f->name : "");
		return -1;
	}
	sha256_meta(f, &m, &o);
	if (s3store_key(key, run->prefix, run->folder, f->name, err, errlen) != 0 ||
	    s3store_client(cfg, &c, err, errlen) != 0)
		goto out;
	int copied = 1;
	if (f->reused_from != NULL && f->reused_from[0] != '\0' &&
	    strchr(f->reused_from, '/') == NULL)
		copied = copy_reused(cfg, c, run, f, key, &o, err, errlen);
	if (copied < 0)
		goto out;
	if (copied > 0 && upload(cfg, c, f, key, &o, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	s3_client_free(c);
	return rc;
}
