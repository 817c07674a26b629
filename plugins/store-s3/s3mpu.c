/* s3mpu.c - the S3 client's multipart uploads and copies, and whole-file uploads checked against the local MD5s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "s3.h"
#include "s3req.h"
#include "s3xml.h"

#define S3MPU_MIB (1024ull * 1024)

/* The uploadId parameter and, when part > 0, partNumber, into q.
 * Returns the count. */
static size_t upload_params(struct s3enc_param *q, const char *upload_id, int part, char *num,
                            size_t numlen)
{
	size_t n = 0;
	if (part > 0) {
		(void)snprintf(num, numlen, "%d", part);
		q[n++] = (struct s3enc_param){"partNumber", num};
	}
	q[n++] = (struct s3enc_param){"uploadId", upload_id};
	return n;
}

/* Whether part is a valid part number; fills err when not. */
static int check_part(const char *key, int part, char *err, size_t errlen)
{
	if (part < 1 || part > S3_PARTS_MAX) {
		cm_errf(err, errlen, "s3: %s: part number %d (1..%d allowed)", key, part,
		        S3_PARTS_MAX);
		return -1;
	}
	return 0;
}

int s3_mpu_create(struct s3_client *c, const char *key, const struct s3_put_opts *o,
                  char *upload_id, char *err, size_t errlen)
{
	char *hdr[1 + S3_META_MAX], root[48];
	size_t nh = 0;
	struct s3xml_span in;
	upload_id[0] = '\0';
	if (s3req_check_key(key, err, errlen) != 0 ||
	    s3req_put_headers(o, hdr, &nh, err, errlen) != 0)
		return -1;
	static const struct s3enc_param q[] = {{"uploads", ""}};
	struct s3req r = {.method = "POST",
	                  .op = "CreateMultipartUpload",
	                  .key = key,
	                  .params = q,
	                  .nparams = 1,
	                  .headers = (const char *const *)hdr,
	                  .nheaders = nh,
	                  .out_fd = -1};
	int rc = s3req_run(c, &r, err, errlen);
	s3req_free_headers(hdr, nh);
	if (rc != 0 || s3req_expect_root(c, &r, "InitiateMultipartUploadResult", err, errlen) != 0)
		return -1;
	(void)s3xml_root(c->reply.p, c->reply.len, root, sizeof(root), &in);
	if (s3xml_child_text(&in, "UploadId", upload_id, S3_UPLOAD_ID_MAX) != 0 ||
	    upload_id[0] == '\0') {
		cm_errf(err, errlen, "s3: CreateMultipartUpload %s/%s: no UploadId in the answer",
		        c->bucket, key);
		return -1;
	}
	return 0;
}

int s3_mpu_part(struct s3_client *c, const char *key, const char *upload_id, int part, int fd,
                off_t off, uint64_t len, unsigned char md5[16], char *err, size_t errlen)
{
	struct s3enc_param q[2];
	char num[16], want[33];
	if (s3req_check_key(key, err, errlen) != 0 || check_part(key, part, err, errlen) != 0)
		return -1;
	struct s3req_body b = {.fd = fd, .off = off, .len = len};
	if (s3req_body_hash(&b, md5, err, errlen) != 0)
		return -1;
	struct s3req r = {.method = "PUT",
	                  .op = "UploadPart",
	                  .key = key,
	                  .params = q,
	                  .nparams = upload_params(q, upload_id, part, num, sizeof(num)),
	                  .body = &b,
	                  .out_fd = -1};
	if (s3req_run(c, &r, err, errlen) != 0)
		return -1;
	s3enc_hex(md5, 16, want);
	if (strcmp(c->info.etag, want) != 0) {
		cm_errf(err, errlen,
		        "s3: UploadPart %s/%s part %d: the server's ETag \"%s\" is not the MD5 %s of what was sent",
		        c->bucket, key, part, c->info.etag, want);
		return -1;
	}
	return 0;
}

int s3_mpu_part_copy(struct s3_client *c, const char *key, const char *upload_id, int part,
                     const char *src, uint64_t first, uint64_t last, char *etag, char *err,
                     size_t errlen)
{
	struct s3enc_param q[2];
	struct cm_buf h = {0};
	char num[16], range[80], root[32];
	struct s3xml_span in;
	int rc = -1;
	etag[0] = '\0';
	if (s3req_check_key(key, err, errlen) != 0 || s3req_check_key(src, err, errlen) != 0 ||
	    check_part(key, part, err, errlen) != 0)
		return -1;
	if (cm_buf_fmt(&h, "x-amz-copy-source: /%s/", c->bucket) != 0 ||
	    s3enc_uri(&h, src, true) != 0) {
		cm_errf(err, errlen, "s3: UploadPartCopy %s: out of memory", key);
		goto out;
	}
	(void)snprintf(range, sizeof(range), "x-amz-copy-source-range: bytes=%llu-%llu",
	               (unsigned long long)first, (unsigned long long)last);
	const char *hdr[] = {h.p, range};
	struct s3req r = {.method = "PUT",
	                  .op = "UploadPartCopy",
	                  .key = key,
	                  .params = q,
	                  .nparams = upload_params(q, upload_id, part, num, sizeof(num)),
	                  .headers = hdr,
	                  .nheaders = 2,
	                  .out_fd = -1};
	if (s3req_run(c, &r, err, errlen) != 0 ||
	    s3req_expect_root(c, &r, "CopyPartResult", err, errlen) != 0)
		goto out;
	(void)s3xml_root(c->reply.p, c->reply.len, root, sizeof(root), &in);
	/* AWS quotes the ETag, radosgw 16.2 does not. */
	char text[S3_ETAG_MAX + 2];
	const char *v = text;
	size_t n = 0;
	if (s3xml_child_text(&in, "ETag", text, sizeof(text)) == 0)
		n = strlen(text);
	if (n >= 2 && text[0] == '"' && text[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n == 0 || n >= S3_ETAG_MAX) {
		cm_errf(err, errlen, "s3: UploadPartCopy %s/%s part %d: no ETag in the answer",
		        c->bucket, key, part);
		goto out;
	}
	memcpy(etag, v, n);
	etag[n] = '\0';
	rc = 0;
out:
	cm_buf_free(&h);
	return rc;
}

int s3_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
                    const char *const *etags, int nparts, char *err, size_t errlen)
{
	struct s3enc_param q[1];
	struct cm_buf x = {0};
	char num[16];
	int rc = -1;
	if (s3req_check_key(key, err, errlen) != 0 || check_part(key, nparts, err, errlen) != 0)
		return -1;
	if (cm_buf_fmt(
	            &x,
	            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">") !=
	    0)
		goto nomem;
	for (int i = 0; i < nparts; i++) {
		if (cm_buf_fmt(&x, "<Part><PartNumber>%d</PartNumber><ETag>&quot;", i + 1) != 0 ||
		    s3enc_xml(&x, etags[i]) != 0 || cm_buf_fmt(&x, "&quot;</ETag></Part>") != 0)
			goto nomem;
	}
	if (cm_buf_fmt(&x, "</CompleteMultipartUpload>") != 0)
		goto nomem;
	struct s3req_body b = {.fd = -1, .mem = x.p, .len = x.len};
	if (s3req_body_hash(&b, NULL, err, errlen) != 0)
		goto out;
	static const char *const hdr[] = {"Content-Type: application/xml"};
	struct s3req r = {.method = "POST",
	                  .op = "CompleteMultipartUpload",
	                  .key = key,
	                  .params = q,
	                  .nparams = upload_params(q, upload_id, 0, num, sizeof(num)),
	                  .headers = hdr,
	                  .nheaders = 1,
	                  .body = &b,
	                  .out_fd = -1};
	if (s3req_run(c, &r, err, errlen) != 0 ||
	    s3req_expect_root(c, &r, "CompleteMultipartUploadResult", err, errlen) != 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	cm_errf(err, errlen, "s3: CompleteMultipartUpload %s: out of memory", key);
out:
	cm_buf_free(&x);
	return rc;
}

int s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id, char *err,
                 size_t errlen)
{
	struct s3enc_param q[1];
	char num[16];
	if (s3req_check_key(key, err, errlen) != 0)
		return -1;
	struct s3req r = {.method = "DELETE",
	                  .op = "AbortMultipartUpload",
	                  .key = key,
	                  .params = q,
	                  .nparams = upload_params(q, upload_id, 0, num, sizeof(num)),
	                  .out_fd = -1,
	                  .keep_on_stop = true};
	return s3req_run(c, &r, err, errlen);
}

/* Abort upload_id after a failure described in err: its own failure is
 * appended to err. */
static void abort_after(struct s3_client *c, const char *key, const char *upload_id, char *err,
                        size_t errlen)
{
	char why[512] = "";
	if (s3_mpu_abort(c, key, upload_id, why, sizeof(why)) == 0)
		return;
	size_t n = strlen(err);
	if (n < errlen)
		(void)snprintf(err + n, errlen - n, "; and the abort failed: %s", why);
}

uint64_t s3_part_size(uint64_t size, uint64_t part_size)
{
	uint64_t ps = part_size < S3_PART_MIN ? S3_PART_MIN : part_size;
	if ((size + ps - 1) / ps > S3_PARTS_MAX) {
		ps = (size + S3_PARTS_MAX - 1) / S3_PARTS_MAX;
		ps = (ps + S3MPU_MIB - 1) / S3MPU_MIB * S3MPU_MIB;
	}
	return ps;
}

int s3_multipart_etag(const unsigned char *md5s, int n, char *out, size_t outlen)
{
	unsigned char d[16];
	unsigned int dl = 0;
	char hex[33];
	if (EVP_Digest(md5s, (size_t)n * 16, d, &dl, EVP_md5(), NULL) != 1 || dl != 16)
		return -1;
	s3enc_hex(d, 16, hex);
	int w = snprintf(out, outlen, "%s-%d", hex, n);
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

/* Makes part i (0-based) of upload id of key; its ETag into etag (capacity
 * S3_ETAG_MAX).  Returns 0 or -1 with err filled. */
typedef int (*part_fn)(struct s3_client *c, void *ctx, const char *key, const char *id, int i,
                       char *etag, char *err, size_t errlen);

/* A multipart upload of key with the options o from n parts that `part`
 * makes, completed, or aborted after a failure.  Returns 0 or -1. */
static int multipart(struct s3_client *c, const char *key, const struct s3_put_opts *o, int n,
                     part_fn part, void *ctx, char *err, size_t errlen)
{
	char id[S3_UPLOAD_ID_MAX];
	int rc = -1;
	char **etags = calloc((size_t)n, sizeof(char *));
	char *text = malloc((size_t)n * S3_ETAG_MAX);
	if (etags == NULL || text == NULL) {
		cm_errf(err, errlen, "s3: multipart upload of %s: out of memory", key);
		goto out;
	}
	if (s3_mpu_create(c, key, o, id, err, errlen) != 0)
		goto out;
	for (int i = 0; i < n; i++) {
		etags[i] = text + (size_t)i * S3_ETAG_MAX;
		if (part(c, ctx, key, id, i, etags[i], err, errlen) != 0)
			goto fail;
	}
	if (s3_mpu_complete(c, key, id, (const char *const *)etags, n, err, errlen) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	abort_after(c, key, id, err, errlen);
out:
	free(text);
	free(etags);
	return rc;
}

/* What upload_part needs: the file, its size, the part size, and room for
 * the parts' MD5s. */
struct upload_ctx {
	int fd;
	uint64_t size, ps;
	unsigned char *md5s;
};

static int upload_part(struct s3_client *c, void *ctx, const char *key, const char *id, int i,
                       char *etag, char *err, size_t errlen)
{
	struct upload_ctx *u = ctx;
	uint64_t off = (uint64_t)i * u->ps, len = u->size - off < u->ps ? u->size - off : u->ps;
	unsigned char *md5 = u->md5s + (size_t)i * 16;
	if (s3_mpu_part(c, key, id, i + 1, u->fd, (off_t)off, len, md5, err, errlen) != 0)
		return -1;
	s3enc_hex(md5, 16, etag);
	return 0;
}

/* Multipart upload of the first size bytes of fd in parts of ps bytes; the
 * expected ETag into want.  Returns 0 or -1 (the upload aborted). */
static int upload_parts(struct s3_client *c, const char *key, int fd, uint64_t size, uint64_t ps,
                        const struct s3_put_opts *o, char *want, size_t wantlen, char *err,
                        size_t errlen)
{
	int n = (int)((size + ps - 1) / ps);
	struct upload_ctx u = {.fd = fd, .size = size, .ps = ps, .md5s = malloc((size_t)n * 16)};
	int rc = -1;
	if (u.md5s == NULL) {
		cm_errf(err, errlen, "s3: upload %s: out of memory", key);
		return -1;
	}
	if (multipart(c, key, o, n, upload_part, &u, err, errlen) != 0)
		goto out;
	if (s3_multipart_etag(u.md5s, n, want, wantlen) != 0) {
		cm_errf(err, errlen, "s3: upload %s: MD5 failed", key);
		goto out;
	}
	rc = 0;
out:
	free(u.md5s);
	return rc;
}

int s3_verify(struct s3_client *c, const char *key, uint64_t size, const char *want,
              const struct s3_put_opts *o, struct s3_object_info *info, char *err, size_t errlen)
{
	struct s3_object_info h;
	if (s3_head(c, key, &h, err, errlen) != 0)
		return -1;
	if (h.size != size) {
		cm_errf(err, errlen, "s3: %s/%s: %llu bytes on the server, %llu sent", c->bucket,
		        key, (unsigned long long)h.size, (unsigned long long)size);
		return -1;
	}
	if (want != NULL && strcmp(h.etag, want) != 0) {
		cm_errf(err, errlen,
		        "s3: %s/%s: ETag \"%s\" on the server, \"%s\" from the local MD5s",
		        c->bucket, key, h.etag, want);
		return -1;
	}
	for (int i = 0; o != NULL && i < o->nmeta; i++) {
		int j = 0;
		while (j < h.nmeta && strcmp(h.meta[j].name, o->meta[i].name) != 0)
			j++;
		if (j == h.nmeta || strcmp(h.meta[j].value, o->meta[i].value) != 0) {
			cm_errf(err, errlen,
			        "s3: %s/%s: metadata %s on the server is \"%s\", \"%s\" sent",
			        c->bucket, key, o->meta[i].name,
			        j < h.nmeta ? h.meta[j].value : "(none)", o->meta[i].value);
			return -1;
		}
	}
	if (info != NULL)
		*info = h;
	return 0;
}

int s3_upload_fd(struct s3_client *c, const char *key, int fd, uint64_t size, uint64_t part_size,
                 const struct s3_put_opts *o, struct s3_object_info *info, char *err, size_t errlen)
{
	char want[S3_ETAG_MAX];
	if ((size < part_size || size <= S3_PART_MIN) && size <= S3_PUT_MAX) {
		struct s3_object_info put;
		if (s3_put_fd(c, key, fd, 0, size, o, &put, err, errlen) != 0)
			return -1;
		(void)snprintf(want, sizeof(want), "%s", put.etag);
	} else if (upload_parts(c, key, fd, size, s3_part_size(size, part_size), o, want,
	                        sizeof(want), err, errlen) != 0) {
		return -1;
	}
	return s3_verify(c, key, size, want, o, info, err, errlen);
}

/* What copy_part needs: the source, its size, the part size. */
struct copy_ctx {
	const char *src;
	uint64_t size, ps;
};

static int copy_part(struct s3_client *c, void *ctx, const char *key, const char *id, int i,
                     char *etag, char *err, size_t errlen)
{
	struct copy_ctx *k = ctx;
	uint64_t first = (uint64_t)i * k->ps,
	         len = k->size - first < k->ps ? k->size - first : k->ps;
	return s3_mpu_part_copy(c, key, id, i + 1, k->src, first, first + len - 1, etag, err,
	                        errlen);
}

int s3_copy_big(struct s3_client *c, const char *src, const char *dst, uint64_t size,
                uint64_t copy_max, uint64_t part_size, const struct s3_put_opts *o, char *err,
                size_t errlen)
{
	uint64_t max = copy_max > 0 && copy_max < S3_COPY_MAX ? copy_max : S3_COPY_MAX;
	if (size <= max) {
		if (s3_copy(c, src, dst, err, errlen) != 0)
			return -1;
	} else {
		struct copy_ctx k = {.src = src, .size = size, .ps = s3_part_size(size, part_size)};
		if (multipart(c, dst, o, (int)((size + k.ps - 1) / k.ps), copy_part, &k, err,
		              errlen) != 0)
			return -1;
	}
	return s3_verify(c, dst, size, NULL, o, NULL, err, errlen);
}
