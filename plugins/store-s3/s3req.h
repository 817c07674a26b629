/* s3req.h - the S3 client's request engine: bodies and their checksums, URLs, signing (libcurl, or s3sign.c), answers. */
#ifndef OMA_S3REQ_H
#define OMA_S3REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "common/errbuf.h"
#include "s3.h"
#include "s3enc.h"

/* A request body: the bytes [off, off+len) of fd (fd >= 0), else len bytes
 * at mem.  sha256_hex is sent as x-amz-content-sha256, md5_b64 as
 * Content-MD5 unless empty; s3req_body_hash fills both. */
struct s3req_body {
	int fd;
	off_t off;
	uint64_t len;
	const void *mem;
	char sha256_hex[65];
	char md5_b64[25];
	uint64_t pos;   /* bytes handed to libcurl so far */
	int read_errno; /* why reading fd failed during the request */
};

/* Read the body once and fill its sha256_hex and md5_b64, and md5 (16
 * bytes; may be NULL).  Returns 0, or -1 with err filled when fd cannot be
 * read or ends early. */
int s3req_body_hash(struct s3req_body *b, unsigned char md5[16], char *err, size_t errlen);

/* One request.  headers are extra "Name: value" lines (signed by libcurl
 * like every header); Content-Type is application/octet-stream for a body
 * unless given there. */
struct s3req {
	const char *method; /* GET, PUT, POST, DELETE, HEAD */
	const char *op;     /* for messages: "PUT", "CopyObject" ... */
	const char *key;    /* NULL: the bucket itself */
	const struct s3enc_param *params;
	size_t nparams;
	const char *const *headers;
	size_t nheaders;
	struct s3req_body *body; /* NULL: none */
	int out_fd;              /* >= 0: a 2xx answer's body is written there (never retried) */
	bool keep_on_stop;       /* sent even once stopping (aborts): retried at most once; once
	                          * stopping, tried once within S3_STOP_REQUEST_S */
};

struct s3_client {
	CURL *curl;
	char *endpoint, *region, *bucket, *access_key, *secret_key, *ca_file;
	char sigv4[64];
	long connect_timeout_s, stall_timeout_s;
	int retries;
	int (*stopping)(void);
	void (*note)(void *ctx, const char *line);
	void *note_ctx;
	bool cancelled; /* the last request was given up because of stopping */
	/* The last request and its answer. */
	long status;
	char code[S3_CODE_MAX];
	struct cm_buf reply; /* the body (unless written to out_fd), NUL-terminated */
	bool reply_too_big;
	int out_fd, out_errno;
	struct s3_object_info info; /* from the answer's headers */
	bool keep_headers;
	struct cm_buf sent;
	char curl_err[CURL_ERROR_SIZE];
};

/* Send r once and wait for the answer (s3req.c).  Returns 0 on a 2xx
 * answer, -1 otherwise with err naming r->op, the object, and the HTTP
 * status and <Code> (or libcurl's reason, or "cancelled" with c->cancelled
 * set when c->stopping said so).  c->reply and c->info hold the answer. */
int s3req_once(struct s3_client *c, const struct s3req *r, char *err, size_t errlen);

/* s3req_once, retried as s3.h says (s3retry.c).  Returns as s3req_once for
 * the last attempt. */
int s3req_run(struct s3_client *c, const struct s3req *r, char *err, size_t errlen);

/* After a 2xx answer whose body must be the XML element `root`: whether it
 * is, or an <Error> (S3 answers 200 and an error for copies and
 * completions that fail late).  Returns 0, or -1 with err filled. */
int s3req_expect_root(struct s3_client *c, const struct s3req *r, const char *root, char *err,
                      size_t errlen);

/* Whether key is a usable object key (1..S3_KEY_MAX bytes).  Fills err when not. */
int s3req_check_key(const char *key, char *err, size_t errlen);

/* Header lines for the options o into hdr (each malloc'ed, at most
 * 1 + S3_META_MAX; *n set).  Returns 0, or -1 with err filled when a
 * metadata name or value is not allowed. */
int s3req_put_headers(const struct s3_put_opts *o, char **hdr, size_t *n, char *err, size_t errlen);
void s3req_free_headers(char **hdr, size_t n);

#endif
