/* s3ops.c - the S3 client's single-request operations: PUT, HEAD, GET, DELETE, DeleteObjects, CopyObject, listings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3req.h"
#include "s3xml.h"

#define S3OPS_BATCH     1000 /* keys per DeleteObjects request */
#define S3OPS_TOKEN_MAX 4096 /* a continuation token or marker */

/* PUT body as key with the headers of o; when md5 is not NULL the ETag the
 * server answers must be its hex.  Returns 0 or -1. */
static int put_body(struct s3_client *c, const char *key, struct s3req_body *body,
                    const struct s3_put_opts *o, const unsigned char *md5,
                    struct s3_object_info *info, char *err, size_t errlen)
{
	char *hdr[1 + S3_META_MAX];
	size_t nh = 0;
	if (s3req_check_key(key, err, errlen) != 0 ||
	    s3req_put_headers(o, hdr, &nh, err, errlen) != 0)
		return -1;
	struct s3req r = {.method = "PUT",
	                  .op = "PUT",
	                  .key = key,
	                  .headers = (const char *const *)hdr,
	                  .nheaders = nh,
	                  .body = body,
	                  .out_fd = -1};
	int rc = s3req_run(c, &r, err, errlen);
	s3req_free_headers(hdr, nh);
	if (rc != 0)
		return -1;
	if (md5 != NULL) {
		char want[33];
		s3enc_hex(md5, 16, want);
		if (strcmp(c->info.etag, want) != 0) {
			cm_errf(err, errlen,
			        "s3: PUT %s/%s: the server's ETag \"%s\" is not the MD5 %s of what was sent",
			        c->bucket, key, c->info.etag, want);
			return -1;
		}
	}
	if (info != NULL) {
		memset(info, 0, sizeof(*info));
		info->size = body->len;
		memcpy(info->etag, c->info.etag, sizeof(info->etag));
	}
	return 0;
}

int s3_put_fd(struct s3_client *c, const char *key, int fd, off_t off, uint64_t len,
              const struct s3_put_opts *o, struct s3_object_info *info, char *err, size_t errlen)
{
	struct s3req_body b = {.fd = fd, .off = off, .len = len};
	unsigned char md5[16];
	if (s3req_body_hash(&b, md5, err, errlen) != 0)
		return -1;
	return put_body(c, key, &b, o, md5, info, err, errlen);
}

int s3_put_mem(struct s3_client *c, const char *key, const void *data, size_t len,
               const struct s3_put_opts *o, struct s3_object_info *info, char *err, size_t errlen)
{
	struct s3req_body b = {.fd = -1, .mem = data, .len = len};
	unsigned char md5[16];
	if (s3req_body_hash(&b, md5, err, errlen) != 0)
		return -1;
	return put_body(c, key, &b, o, md5, info, err, errlen);
}

int s3_put_fd_sums(struct s3_client *c, const char *key, int fd, off_t off, uint64_t len,
                   const char *sha256_hex, const char *md5_b64, char *err, size_t errlen)
{
	struct s3req_body b = {.fd = fd, .off = off, .len = len};
	if (strlen(sha256_hex) != 64 || (md5_b64 != NULL && strlen(md5_b64) != 24)) {
		cm_errf(err, errlen, "s3: PUT %s: checksums of the wrong length", key);
		return -1;
	}
	memcpy(b.sha256_hex, sha256_hex, 65);
	if (md5_b64 != NULL)
		memcpy(b.md5_b64, md5_b64, 25);
	return put_body(c, key, &b, NULL, NULL, NULL, err, errlen);
}

int s3_head(struct s3_client *c, const char *key, struct s3_object_info *info, char *err,
            size_t errlen)
{
	if (s3req_check_key(key, err, errlen) != 0)
		return -1;
	struct s3req r = {.method = "HEAD", .op = "HEAD", .key = key, .out_fd = -1};
	if (s3req_run(c, &r, err, errlen) != 0)
		return -1;
	*info = c->info;
	return 0;
}

int s3_get_fd(struct s3_client *c, const char *key, int fd, char *err, size_t errlen)
{
	if (s3req_check_key(key, err, errlen) != 0)
		return -1;
	struct s3req r = {.method = "GET", .op = "GET", .key = key, .out_fd = fd};
	return s3req_run(c, &r, err, errlen);
}

int s3_delete(struct s3_client *c, const char *key, char *err, size_t errlen)
{
	if (s3req_check_key(key, err, errlen) != 0)
		return -1;
	struct s3req r = {.method = "DELETE", .op = "DELETE", .key = key, .out_fd = -1};
	return s3req_run(c, &r, err, errlen);
}

/* The first <Error> of a DeleteObjects answer into err.  Returns 0 when
 * there is none, else -1. */
static int delete_errors(struct s3_client *c, const struct s3req *r, char *err, size_t errlen)
{
	char key[S3_KEY_MAX + 1], code[S3_CODE_MAX], msg[200];
	struct s3xml_span in, e;
	size_t pos = 0;
	if (s3req_expect_root(c, r, "DeleteResult", err, errlen) != 0)
		return -1;
	(void)s3xml_root(c->reply.p, c->reply.len, key, sizeof(key), &in);
	int found = s3xml_next(&in, "Error", &pos, &e);
	if (found == 0)
		return 0;
	if (found < 0) {
		cm_errf(err, errlen, "s3: DeleteObjects %s: malformed answer", c->bucket);
		return -1;
	}
	(void)s3xml_child_text(&e, "Key", key, sizeof(key));
	(void)s3xml_child_text(&e, "Code", code, sizeof(code));
	(void)s3xml_child_text(&e, "Message", msg, sizeof(msg));
	cm_errf(err, errlen, "s3: DeleteObjects %s/%s: %s%s%s", c->bucket, key, code,
	        msg[0] != '\0' ? ": " : "", msg);
	return -1;
}

/* One DeleteObjects request for the n keys.  Returns 0 or -1. */
static int delete_batch(struct s3_client *c, const char *const *keys, size_t n, char *err,
                        size_t errlen)
{
	int rc = -1;
	struct cm_buf x = {0};
	if (cm_buf_fmt(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	                   "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	                   "<Quiet>true</Quiet>") != 0)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		if (s3req_check_key(keys[i], err, errlen) != 0)
			goto out;
		if (cm_buf_fmt(&x, "<Object><Key>") != 0 || s3enc_xml(&x, keys[i]) != 0 ||
		    cm_buf_fmt(&x, "</Key></Object>") != 0)
			goto nomem;
	}
	if (cm_buf_fmt(&x, "</Delete>") != 0)
		goto nomem;
	struct s3req_body b = {.fd = -1, .mem = x.p, .len = x.len};
	if (s3req_body_hash(&b, NULL, err, errlen) != 0)
		goto out;
	static const char *const hdr[] = {"Content-Type: application/xml"};
	static const struct s3enc_param q[] = {{"delete", ""}};
	struct s3req r = {.method = "POST",
	                  .op = "DeleteObjects",
	                  .params = q,
	                  .nparams = 1,
	                  .headers = hdr,
	                  .nheaders = 1,
	                  .body = &b,
	                  .out_fd = -1};
	if (s3req_run(c, &r, err, errlen) != 0 || delete_errors(c, &r, err, errlen) != 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	cm_errf(err, errlen, "s3: DeleteObjects %s: out of memory", c->bucket);
out:
	cm_buf_free(&x);
	return rc;
}

int s3_delete_many(struct s3_client *c, const char *const *keys, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i += S3OPS_BATCH) {
		size_t k = n - i < S3OPS_BATCH ? n - i : S3OPS_BATCH;
		if (delete_batch(c, keys + i, k, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* "x-amz-copy-source: /BUCKET/KEY" (key URI-encoded) into b.  Returns 0 or -1. */
static int copy_source(const struct s3_client *c, const char *src, struct cm_buf *b)
{
	return cm_buf_fmt(b, "x-amz-copy-source: /%s/", c->bucket) != 0 ||
	                       s3enc_uri(b, src, true) != 0
	               ? -1
	               : 0;
}

int s3_copy(struct s3_client *c, const char *src, const char *dst, char *err, size_t errlen)
{
	struct cm_buf h = {0};
	int rc = -1;
	if (s3req_check_key(src, err, errlen) != 0 || s3req_check_key(dst, err, errlen) != 0)
		return -1;
	if (copy_source(c, src, &h) != 0) {
		cm_errf(err, errlen, "s3: CopyObject %s: out of memory", dst);
		goto out;
	}
	const char *hdr[] = {h.p, "x-amz-metadata-directive: COPY"};
	struct s3req r = {.method = "PUT",
	                  .op = "CopyObject",
	                  .key = dst,
	                  .headers = hdr,
	                  .nheaders = 2,
	                  .out_fd = -1};
	if (s3req_run(c, &r, err, errlen) != 0 ||
	    s3req_expect_root(c, &r, "CopyObjectResult", err, errlen) != 0)
		goto out;
	rc = 0;
out:
	cm_buf_free(&h);
	return rc;
}

/* ---- listings --------------------------------------------------------- */

/* The text of child `name` of e as an unsigned number into *v.  Returns 0 or -1. */
static int child_u64(const struct s3xml_span *e, const char *name, uint64_t *v)
{
	char num[32], *end = NULL;
	if (s3xml_child_text(e, name, num, sizeof(num)) != 0 || num[0] < '0' || num[0] > '9')
		return -1;
	errno = 0;
	*v = strtoull(num, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/* Hand the <Contents> and <CommonPrefixes> of one ListBucketResult page to
 * fn.  Returns 0, what fn returned, or -1 with err filled. */
static int list_page(const struct s3xml_span *in, s3_list_fn fn, void *ctx, char *err,
                     size_t errlen)
{
	char key[S3_KEY_MAX + 1], etag[S3_ETAG_MAX + 2];
	struct s3xml_span e;
	size_t pos = 0;
	int found;
	for (;;) {
		found = s3xml_next(in, "Contents", &pos, &e);
		if (found != 1)
			break;
		struct s3_list_entry le = {.key = key, .etag = etag};
		if (s3xml_child_text(&e, "Key", key, sizeof(key)) != 0 ||
		    child_u64(&e, "Size", &le.size) != 0 ||
		    s3xml_child_text(&e, "ETag", etag, sizeof(etag)) < 0)
			goto bad;
		size_t n = strlen(etag);
		if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
			memmove(etag, etag + 1, n - 2);
			etag[n - 2] = '\0';
		}
		int rc = fn(ctx, &le);
		if (rc != 0)
			return rc;
	}
	if (found < 0)
		goto bad;
	pos = 0;
	for (;;) {
		found = s3xml_next(in, "CommonPrefixes", &pos, &e);
		if (found != 1)
			break;
		struct s3_list_entry le = {.key = key, .etag = "", .is_prefix = true};
		if (s3xml_child_text(&e, "Prefix", key, sizeof(key)) != 0)
			goto bad;
		int rc = fn(ctx, &le);
		if (rc != 0)
			return rc;
	}
	if (found == 0)
		return 0;
bad:
	cm_errf(err, errlen, "s3: ListObjectsV2: malformed entry in the answer");
	return -1;
}

/* Whether the page in `in` is truncated; then the tokens of the next page
 * (children name1 and, unless NULL, name2) into tok1 and tok2 (each
 * S3OPS_TOKEN_MAX bytes); together they must differ from the previous ones
 * (else the listing would not end).  Returns 1 (more), 0 (last page) or -1
 * with err filled. */
static int next_page(const struct s3xml_span *in, const char *op, const char *name1, char *tok1,
                     const char *name2, char *tok2, char *err, size_t errlen)
{
	char trunc[8], prev1[S3OPS_TOKEN_MAX], prev2[S3OPS_TOKEN_MAX] = "";
	if (s3xml_child_text(in, "IsTruncated", trunc, sizeof(trunc)) != 0 ||
	    strcmp(trunc, "true") != 0)
		return 0;
	memcpy(prev1, tok1, S3OPS_TOKEN_MAX);
	if (name2 != NULL)
		memcpy(prev2, tok2, S3OPS_TOKEN_MAX);
	if (s3xml_child_text(in, name1, tok1, S3OPS_TOKEN_MAX) != 0 || tok1[0] == '\0' ||
	    (name2 != NULL && s3xml_child_text(in, name2, tok2, S3OPS_TOKEN_MAX) < 0) ||
	    (strcmp(prev1, tok1) == 0 && (name2 == NULL || strcmp(prev2, tok2) == 0))) {
		cm_errf(err, errlen, "s3: %s: truncated answer without a new %s", op, name1);
		return -1;
	}
	return 1;
}

int s3_list(struct s3_client *c, const char *prefix, const char *delimiter, int max_keys,
            s3_list_fn fn, void *ctx, char *err, size_t errlen)
{
	char token[S3OPS_TOKEN_MAX] = "", maxk[16], root[32];
	(void)snprintf(maxk, sizeof(maxk), "%d", max_keys > 0 ? max_keys : 1000);
	for (;;) {
		struct s3enc_param q[5] = {{"list-type", "2"}, {"max-keys", maxk}};
		size_t nq = 2;
		if (prefix != NULL && prefix[0] != '\0')
			q[nq++] = (struct s3enc_param){"prefix", prefix};
		if (delimiter != NULL && delimiter[0] != '\0')
			q[nq++] = (struct s3enc_param){"delimiter", delimiter};
		if (token[0] != '\0')
			q[nq++] = (struct s3enc_param){"continuation-token", token};
		struct s3req r = {.method = "GET",
		                  .op = "ListObjectsV2",
		                  .params = q,
		                  .nparams = nq,
		                  .out_fd = -1};
		struct s3xml_span in;
		if (s3req_run(c, &r, err, errlen) != 0 ||
		    s3req_expect_root(c, &r, "ListBucketResult", err, errlen) != 0)
			return -1;
		(void)s3xml_root(c->reply.p, c->reply.len, root, sizeof(root), &in);
		int rc = list_page(&in, fn, ctx, err, errlen);
		if (rc != 0)
			return rc;
		rc = next_page(&in, "ListObjectsV2", "NextContinuationToken", token, NULL, NULL,
		               err, errlen);
		if (rc <= 0)
			return rc;
	}
}

/* Hand the <Upload>s of one ListMultipartUploadsResult page to fn.
 * Returns as list_page. */
static int uploads_page(const struct s3xml_span *in, s3_uploads_fn fn, void *ctx, char *err,
                        size_t errlen)
{
	char key[S3_KEY_MAX + 1], id[S3_UPLOAD_ID_MAX];
	struct s3xml_span e;
	size_t pos = 0;
	int found;
	for (;;) {
		found = s3xml_next(in, "Upload", &pos, &e);
		if (found != 1)
			break;
		if (s3xml_child_text(&e, "Key", key, sizeof(key)) != 0 ||
		    s3xml_child_text(&e, "UploadId", id, sizeof(id)) != 0) {
			found = -1;
			break;
		}
		int rc = fn(ctx, key, id);
		if (rc != 0)
			return rc;
	}
	if (found == 0)
		return 0;
	cm_errf(err, errlen, "s3: ListMultipartUploads: malformed entry in the answer");
	return -1;
}

int s3_list_uploads(struct s3_client *c, const char *prefix, s3_uploads_fn fn, void *ctx, char *err,
                    size_t errlen)
{
	char kmark[S3OPS_TOKEN_MAX] = "", umark[S3OPS_TOKEN_MAX] = "", root[48];
	for (;;) {
		struct s3enc_param q[4] = {{"uploads", ""}};
		size_t nq = 1;
		if (prefix != NULL && prefix[0] != '\0')
			q[nq++] = (struct s3enc_param){"prefix", prefix};
		if (kmark[0] != '\0') {
			q[nq++] = (struct s3enc_param){"key-marker", kmark};
			q[nq++] = (struct s3enc_param){"upload-id-marker", umark};
		}
		struct s3req r = {.method = "GET",
		                  .op = "ListMultipartUploads",
		                  .params = q,
		                  .nparams = nq,
		                  .out_fd = -1};
		struct s3xml_span in;
		if (s3req_run(c, &r, err, errlen) != 0 ||
		    s3req_expect_root(c, &r, "ListMultipartUploadsResult", err, errlen) != 0)
			return -1;
		(void)s3xml_root(c->reply.p, c->reply.len, root, sizeof(root), &in);
		int rc = uploads_page(&in, fn, ctx, err, errlen);
		if (rc != 0)
			return rc;
		rc = next_page(&in, "ListMultipartUploads", "NextKeyMarker", kmark,
		               "NextUploadIdMarker", umark, err, errlen);
		if (rc <= 0)
			return rc;
	}
}
