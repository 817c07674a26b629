/* s3req.c - the S3 client's request engine: bodies and their checksums, URLs, signing (libcurl, or s3sign.c), answers. */
#include "s3req.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/errbuf.h"
#include "common/io.h"
#include "s3sign.h"
#include "s3xml.h"

/* SHA-256 of nothing: the payload hash of requests without a body. */
#define S3REQ_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3REQ_SENT_MAX     (16 * 1024)

int s3req_check_key(const char *key, char *err, size_t errlen)
{
	size_t n = key != NULL ? strlen(key) : 0;
	if (n == 0 || n > S3_KEY_MAX) {
		cm_errf(err, errlen, "s3: object key of %zu bytes (1..%d allowed)", n, S3_KEY_MAX);
		return -1;
	}
	return 0;
}

/* ---- bodies ------------------------------------------------------------ */

/* Read up to n bytes of the body at its offset `at` into dst.  Returns the
 * count (0 only at the end), or -1 with errno set. */
static ssize_t body_read(const struct s3req_body *b, uint64_t at, void *dst, size_t n)
{
	if (at >= b->len)
		return 0;
	if (n > b->len - at)
		n = (size_t)(b->len - at);
	if (b->fd < 0) {
		memcpy(dst, (const char *)b->mem + at, n);
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t got = pread(b->fd, dst, n, b->off + (off_t)at);
		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0)
			errno = ENODATA; /* the file is shorter than said */
		return got == 0 ? -1 : got;
	}
}

int s3req_body_hash(struct s3req_body *b, unsigned char md5[16], char *err, size_t errlen)
{
	int rc = -1;
	EVP_MD_CTX *m = EVP_MD_CTX_new(), *s = EVP_MD_CTX_new();
	unsigned char *blk = malloc(S3_IO_BLOCK);
	unsigned char dm[16], ds[32];
	unsigned int lm = 0, ls = 0;
	if (m == NULL || s == NULL || blk == NULL || EVP_DigestInit_ex(m, EVP_md5(), NULL) != 1 ||
	    EVP_DigestInit_ex(s, EVP_sha256(), NULL) != 1) {
		cm_errf(err, errlen, "s3: cannot start MD5/SHA-256 (out of memory?)");
		goto out;
	}
	for (uint64_t at = 0; at < b->len;) {
		ssize_t got = body_read(b, at, blk, S3_IO_BLOCK);
		if (got <= 0) {
			cm_errf(err, errlen, "s3: reading %llu bytes at offset %lld of fd %d: %s",
			        (unsigned long long)b->len, (long long)b->off, b->fd,
			        strerror(errno));
			goto out;
		}
		if (EVP_DigestUpdate(m, blk, (size_t)got) != 1 ||
		    EVP_DigestUpdate(s, blk, (size_t)got) != 1)
			goto out;
		at += (uint64_t)got;
	}
	if (EVP_DigestFinal_ex(m, dm, &lm) != 1 || EVP_DigestFinal_ex(s, ds, &ls) != 1 ||
	    lm != 16 || ls != 32)
		goto out;
	s3enc_hex(ds, 32, b->sha256_hex);
	s3enc_base64(dm, 16, b->md5_b64);
	if (md5 != NULL)
		memcpy(md5, dm, 16);
	rc = 0;
out:
	if (rc != 0 && err != NULL && err[0] == '\0')
		cm_errf(err, errlen, "s3: MD5/SHA-256 failed");
	free(blk);
	EVP_MD_CTX_free(m);
	EVP_MD_CTX_free(s);
	return rc;
}

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
	struct s3req_body *b = ud;
	ssize_t got = body_read(b, b->pos, dst, size * nitems);
	if (got < 0) {
		b->read_errno = errno;
		return CURL_READFUNC_ABORT;
	}
	b->pos += (uint64_t)got;
	return (size_t)got;
}

static size_t on_read_nothing(char *dst, size_t size, size_t nitems, void *ud)
{
	(void)dst;
	(void)size;
	(void)nitems;
	(void)ud;
	return 0;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct s3req_body *b = ud;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > b->len)
		return CURL_SEEKFUNC_CANTSEEK;
	b->pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- answers ------------------------------------------------------------ */

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct s3_client *c = ud;
	size_t n = size * nmemb;
	long status = 0;
	(void)curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (c->out_fd >= 0 && status >= 200 && status < 300) {
		if (cm_write_all(c->out_fd, data, n) != 0) {
			c->out_errno = errno;
			return 0;
		}
		return n;
	}
	if (c->reply.len + n > S3_REPLY_MAX) {
		c->reply_too_big = true;
		return 0;
	}
	return cm_buf_add(&c->reply, data, n) == 0 ? n : 0;
}

/* Copy the header value of line (after "Name:") without surrounding space
 * and quotes into dst. */
static void header_value(const char *v, size_t n, char *dst, size_t cap, bool unquote)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (unquote && n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
	struct s3_client *c = ud;
	size_t n = size * nitems;
	struct s3_object_info *in = &c->info;
	if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		memset(in, 0, sizeof(*in)); /* also after "100 Continue" */
		return n;
	}
	const char *colon = memchr(line, ':', n);
	if (colon == NULL)
		return n;
	size_t nl = (size_t)(colon - line), vl = n - nl - 1;
	const char *v = colon + 1;
	char num[32];
	if (nl == 4 && strncasecmp(line, "ETag", 4) == 0) {
		header_value(v, vl, in->etag, sizeof(in->etag), true);
	} else if (nl == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
		header_value(v, vl, num, sizeof(num), false);
		in->size = strtoull(num, NULL, 10);
	} else if (nl > 11 && strncasecmp(line, "x-amz-meta-", 11) == 0 &&
	           in->nmeta < S3_META_MAX) {
		struct s3_meta *m = &in->meta[in->nmeta++];
		size_t k = nl - 11 < sizeof(m->name) - 1 ? nl - 11 : sizeof(m->name) - 1;
		for (size_t i = 0; i < k; i++) {
			char ch = line[11 + i];
			m->name[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
		}
		m->name[k] = '\0';
		header_value(v, vl, m->value, sizeof(m->value), false);
	}
	return n;
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
	struct s3_client *c = ud;
	(void)h;
	if (type == CURLINFO_HEADER_OUT) {
		c->sent.len = 0;
		if (size < S3REQ_SENT_MAX)
			(void)cm_buf_add(&c->sent, data, size);
	}
	return 0;
}

/* The server's <Code> (and <Message>, when not empty) of c->reply into
 * c->code and msg. */
static void error_code(struct s3_client *c, char *msg, size_t msglen)
{
	char root[16];
	struct s3xml_span in;
	c->code[0] = '\0';
	msg[0] = '\0';
	if (c->reply.len == 0 ||
	    s3xml_root(c->reply.p, c->reply.len, root, sizeof(root), &in) != 0 ||
	    strcmp(root, "Error") != 0)
		return;
	(void)s3xml_child_text(&in, "Code", c->code, sizeof(c->code));
	(void)s3xml_child_text(&in, "Message", msg, msglen);
}

/* Whether r is to be given up now because the caller is stopping. */
static bool must_stop(const struct s3_client *c, const struct s3req *r)
{
	return c->stopping != NULL && !r->keep_on_stop && c->stopping() != 0;
}

/* libcurl's progress callback (about once a second, and as data moves):
 * a non-zero return makes the transfer fail with CURLE_ABORTED_BY_CALLBACK. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct s3_client *c = ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (c->stopping() == 0)
		return 0;
	c->cancelled = true;
	return 1;
}

/* ---- requests ------------------------------------------------------------ */

/* Append line to *list.  Returns 0 or -1 (memory). */
static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);
	if (l == NULL)
		return -1;
	*list = l;
	return 0;
}

/* The URL of r, ENDPOINT/BUCKET[/KEY][?QUERY], into u; its path and query
 * (encoded as sent) into path and query.  Returns 0 or -1 (memory). */
static int build_url(const struct s3_client *c, const struct s3req *r, struct cm_buf *u,
                     struct cm_buf *path, struct cm_buf *query)
{
	if (cm_buf_fmt(path, "/%s", c->bucket) != 0)
		return -1;
	if (r->key != NULL && (cm_buf_add(path, "/", 1) != 0 || s3enc_uri(path, r->key, true) != 0))
		return -1;
	if (cm_buf_add(query, "", 0) != 0 || s3enc_query(r->params, r->nparams, query) != 0)
		return -1;
	return cm_buf_fmt(u, "%s%s%s%s", c->endpoint, path->p, query->len > 0 ? "?" : "", query->p);
}

/* When curl would sign the headers of r wrongly (s3sign.h): add Host,
 * x-amz-date and our own Authorization to *list and set *own.  Returns 0
 * or -1 (memory). */
static int sign_own(const struct s3_client *c, const struct s3req *r, const char *path,
                    const char *query, struct curl_slist **list, bool *own)
{
	int rc = -1;
	size_t n = 0;
	for (const struct curl_slist *l = *list; l != NULL; l = l->next)
		n++;
	const char **lines = calloc(n + 1, sizeof(*lines));
	struct cm_buf host = {0}, auth = {0};
	char date[64];
	if (lines == NULL)
		return -1;
	n = 0;
	for (const struct curl_slist *l = *list; l != NULL; l = l->next)
		lines[n++] = l->data;
	*own = s3sign_needed(lines, n);
	if (!*own) {
		rc = 0;
		goto out;
	}
	const char *hostport = strstr(c->endpoint, "://") + 3;
	if (cm_buf_fmt(&host, "Host: %s", hostport) != 0)
		goto out;
	lines[n++] = host.p;
	struct s3sign_input in = {.method = r->method,
	                          .path = path,
	                          .query = query,
	                          .headers = lines,
	                          .nheaders = n,
	                          .payload_sha256 = r->body != NULL ? r->body->sha256_hex
	                                                            : S3REQ_EMPTY_SHA256,
	                          .region = c->region,
	                          .access_key = c->access_key,
	                          .secret_key = c->secret_key};
	if (s3sign_make(&in, time(NULL), date, sizeof(date), &auth) != 0 ||
	    add_header(list, host.p) != 0 || add_header(list, date) != 0 ||
	    add_header(list, auth.p) != 0)
		goto out;
	rc = 0;
out:
	cm_buf_free(&host);
	cm_buf_free(&auth);
	free(lines);
	return rc;
}

/* The header list of r (the caller's, the payload hash, Content-MD5 and
 * Content-Type of a body) into *list.  Returns 0 or -1 (memory). */
static int build_headers(const struct s3req *r, struct curl_slist **list)
{
	char line[128];
	bool typed = false;
	for (size_t i = 0; i < r->nheaders; i++) {
		if (add_header(list, r->headers[i]) != 0)
			return -1;
		typed = typed || strncasecmp(r->headers[i], "Content-Type:", 13) == 0;
	}
	const struct s3req_body *b = r->body;
	(void)snprintf(line, sizeof(line), "x-amz-content-sha256: %s",
	               b != NULL ? b->sha256_hex : S3REQ_EMPTY_SHA256);
	if (add_header(list, line) != 0)
		return -1;
	if (b != NULL && b->md5_b64[0] != '\0') {
		(void)snprintf(line, sizeof(line), "Content-MD5: %s", b->md5_b64);
		if (add_header(list, line) != 0)
			return -1;
	}
	if (b != NULL && !typed && add_header(list, "Content-Type: application/octet-stream") != 0)
		return -1;
	return 0;
}

/* Set the options of r on c->curl.  Returns a CURLcode. */
static CURLcode set_options(struct s3_client *c, const struct s3req *r, const char *url,
                            struct curl_slist *headers, bool own_signed)
{
	CURL *h = c->curl;
	CURLcode rc = CURLE_OK;
#define OPT(o, v)                                       \
	do {                                            \
		if (rc == CURLE_OK)                     \
			rc = curl_easy_setopt(h, o, v); \
	} while (0)
	OPT(CURLOPT_URL, url);
	OPT(CURLOPT_PROTOCOLS_STR, "http,https");
	OPT(CURLOPT_NOSIGNAL, 1L);
	OPT(CURLOPT_PATH_AS_IS, 1L);
	OPT(CURLOPT_FOLLOWLOCATION, 0L);
	OPT(CURLOPT_SSL_VERIFYPEER, 1L);
	OPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		OPT(CURLOPT_CAINFO, c->ca_file);
	OPT(CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
	OPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
	OPT(CURLOPT_LOW_SPEED_TIME, c->stall_timeout_s);
	if (r->keep_on_stop && c->stopping != NULL && c->stopping() != 0) {
		/* A clean-up sent while oma stops (an abort): a few seconds at
		 * most, or a hung server would hold oma past its stop timeout. */
		OPT(CURLOPT_CONNECTTIMEOUT, (long)S3_STOP_REQUEST_S);
		OPT(CURLOPT_TIMEOUT, (long)S3_STOP_REQUEST_S);
	}
	if (!own_signed) {
		OPT(CURLOPT_AWS_SIGV4, c->sigv4);
		OPT(CURLOPT_USERNAME, c->access_key);
		OPT(CURLOPT_PASSWORD, c->secret_key);
	}
	OPT(CURLOPT_HTTPHEADER, headers);
	OPT(CURLOPT_ERRORBUFFER, c->curl_err);
	OPT(CURLOPT_WRITEFUNCTION, on_write);
	OPT(CURLOPT_WRITEDATA, c);
	OPT(CURLOPT_HEADERFUNCTION, on_header);
	OPT(CURLOPT_HEADERDATA, c);
	if (c->stopping != NULL && !r->keep_on_stop) {
		OPT(CURLOPT_XFERINFOFUNCTION, on_progress);
		OPT(CURLOPT_XFERINFODATA, c);
		OPT(CURLOPT_NOPROGRESS, 0L);
	}
	if (c->keep_headers) {
		OPT(CURLOPT_DEBUGFUNCTION, on_debug);
		OPT(CURLOPT_DEBUGDATA, c);
		OPT(CURLOPT_VERBOSE, 1L);
	}
	if (r->body == NULL) {
		OPT(CURLOPT_READFUNCTION, on_read_nothing); /* never stdin */
	} else {
		OPT(CURLOPT_READFUNCTION, on_read);
		OPT(CURLOPT_READDATA, r->body);
		OPT(CURLOPT_SEEKFUNCTION, on_seek);
		OPT(CURLOPT_SEEKDATA, r->body);
	}
	if (strcmp(r->method, "PUT") == 0) {
		OPT(CURLOPT_UPLOAD, 1L);
		OPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)(r->body != NULL ? r->body->len : 0));
	} else if (strcmp(r->method, "POST") == 0) {
		OPT(CURLOPT_POST, 1L);
		OPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body != NULL ? r->body->len : 0));
	} else if (strcmp(r->method, "HEAD") == 0) {
		OPT(CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET") != 0) {
		OPT(CURLOPT_CUSTOMREQUEST, r->method);
	}
#undef OPT
	return rc;
}

/* The object r is about, for messages: "BUCKET/KEY" or "BUCKET". */
static void what(const struct s3_client *c, const struct s3req *r, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%s%s%s", c->bucket, r->key != NULL ? "/" : "",
	               r->key != NULL ? r->key : "");
}

int s3req_once(struct s3_client *c, const struct s3req *r, char *err, size_t errlen)
{
	int rc = -1;
	struct cm_buf url = {0}, path = {0}, query = {0};
	struct curl_slist *headers = NULL;
	bool own = false;
	char obj[S3_KEY_MAX + 80], msg[200];
	what(c, r, obj, sizeof(obj));
	c->status = 0;
	c->code[0] = '\0';
	c->reply.len = 0;
	c->reply.failed = 0;
	c->sent.failed = 0;
	if (c->reply.p != NULL)
		c->reply.p[0] = '\0';
	c->reply_too_big = false;
	c->out_fd = r->out_fd;
	c->out_errno = 0;
	c->curl_err[0] = '\0';
	c->cancelled = false;
	c->sent.len = 0;
	memset(&c->info, 0, sizeof(c->info));
	if (r->body != NULL) {
		r->body->pos = 0;
		r->body->read_errno = 0;
	}
	curl_easy_reset(c->curl);
	if (must_stop(c, r)) {
		c->cancelled = true;
		cm_errf(err, errlen, "s3: %s %s: cancelled", r->op, obj);
		goto out;
	}
	if (build_url(c, r, &url, &path, &query) != 0 || build_headers(r, &headers) != 0 ||
	    sign_own(c, r, path.p, query.p, &headers, &own) != 0) {
		cm_errf(err, errlen, "s3: %s %s: out of memory", r->op, obj);
		goto out;
	}
	CURLcode cc = set_options(c, r, url.p, headers, own);
	if (cc == CURLE_OK)
		cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		if (c->cancelled)
			cm_errf(err, errlen, "s3: %s %s: cancelled", r->op, obj);
		else if (c->reply_too_big)
			cm_errf(err, errlen, "s3: %s %s: answer larger than %d bytes", r->op, obj,
			        S3_REPLY_MAX);
		else if (r->body != NULL && r->body->read_errno != 0)
			cm_errf(err, errlen, "s3: %s %s: reading the body from fd %d: %s", r->op,
			        obj, r->body->fd, strerror(r->body->read_errno));
		else if (c->out_errno != 0)
			cm_errf(err, errlen, "s3: %s %s: cannot write the object: %s", r->op, obj,
			        strerror(c->out_errno));
		else
			cm_errf(err, errlen, "s3: %s %s: %s", r->op, obj,
			        c->curl_err[0] != '\0' ? c->curl_err : curl_easy_strerror(cc));
		goto out;
	}
	(void)curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status < 200 || c->status >= 300) {
		error_code(c, msg, sizeof(msg));
		cm_errf(err, errlen, "s3: %s %s: HTTP %ld%s%s%s%s", r->op, obj, c->status,
		        c->code[0] != '\0' ? " " : "", c->code, msg[0] != '\0' ? ": " : "", msg);
		goto out;
	}
	rc = 0;
out:
	if (c->keep_headers && c->sent.p == NULL)
		(void)cm_buf_add(&c->sent, "", 0);
	curl_slist_free_all(headers);
	cm_buf_free(&url);
	cm_buf_free(&path);
	cm_buf_free(&query);
	return rc;
}

int s3req_expect_root(struct s3_client *c, const struct s3req *r, const char *root, char *err,
                      size_t errlen)
{
	char name[32], obj[S3_KEY_MAX + 80], msg[200];
	struct s3xml_span in;
	what(c, r, obj, sizeof(obj));
	if (s3xml_root(c->reply.p != NULL ? c->reply.p : "", c->reply.len, name, sizeof(name),
	               &in) != 0) {
		cm_errf(err, errlen, "s3: %s %s: HTTP %ld with a malformed XML answer", r->op, obj,
		        c->status);
		return -1;
	}
	if (strcmp(name, "Error") == 0) {
		error_code(c, msg, sizeof(msg));
		cm_errf(err, errlen, "s3: %s %s: HTTP %ld but %s%s%s", r->op, obj, c->status,
		        c->code[0] != '\0' ? c->code : "an error", msg[0] != '\0' ? ": " : "", msg);
		return -1;
	}
	if (strcmp(name, root) != 0) {
		cm_errf(err, errlen, "s3: %s %s: answer <%s>, expected <%s>", r->op, obj, name,
		        root);
		return -1;
	}
	return 0;
}

/* ---- options of new objects ------------------------------------------- */

int s3req_put_headers(const struct s3_put_opts *o, char **hdr, size_t *n, char *err, size_t errlen)
{
	*n = 0;
	const char *type = o != NULL && o->content_type != NULL ? o->content_type
	                                                        : "application/octet-stream";
	int nmeta = o != NULL ? o->nmeta : 0;
	if (nmeta < 0 || nmeta > S3_META_MAX) {
		cm_errf(err, errlen, "s3: %d metadata pairs (at most %d)", nmeta, S3_META_MAX);
		return -1;
	}
	for (int i = 0; i < nmeta; i++) {
		const struct s3_meta *m = &o->meta[i];
		size_t nl = strnlen(m->name, sizeof(m->name));
		bool ok = nl > 0 && nl < sizeof(m->name) &&
		          strspn(m->name, "abcdefghijklmnopqrstuvwxyz0123456789-") == nl;
		for (const char *v = m->value; ok && v < m->value + sizeof(m->value) && *v != '\0';
		     v++)
			ok = *v >= 0x20 && *v < 0x7f;
		if (!ok || strnlen(m->value, sizeof(m->value)) == sizeof(m->value)) {
			cm_errf(err, errlen, "s3: metadata name or value not allowed: %.*s", 63,
			        m->name);
			return -1;
		}
	}
	for (const char *t = type; *t != '\0'; t++) {
		if (*t < 0x20 || *t >= 0x7f) {
			cm_errf(err, errlen, "s3: Content-Type not allowed");
			return -1;
		}
	}
	struct cm_buf b = {0};
	if (cm_buf_fmt(&b, "Content-Type: %s", type) != 0)
		goto nomem;
	hdr[(*n)++] = b.p;
	for (int i = 0; i < nmeta; i++) {
		struct cm_buf m = {0};
		if (cm_buf_fmt(&m, "x-amz-meta-%s: %s", o->meta[i].name, o->meta[i].value) != 0)
			goto nomem;
		hdr[(*n)++] = m.p;
	}
	return 0;
nomem:
	s3req_free_headers(hdr, *n);
	*n = 0;
	cm_errf(err, errlen, "s3: out of memory");
	return -1;
}

void s3req_free_headers(char **hdr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(hdr[i]);
}
