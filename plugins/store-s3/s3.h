/* s3.h - the S3 client of the off-site store plugin "s3": signed requests, objects, multipart upload, copies, listings. */
#ifndef OMA_S3_H
#define OMA_S3_H

/*
 * The plugin itself (store.c, storecfg.c, storeput.c, storeremote.c) uses
 * this client; tests/check_s3.c links the client's sources directly and
 * runs them against a real Ceph RADOS Gateway (tests/lib/rgw.sh).
 *
 * One client is one libcurl easy handle (connections are kept alive
 * between requests): use a client from one thread at a time; parts that are
 * to be uploaded in parallel each need a client of their own.  Requests are
 * signed by libcurl (CURLOPT_AWS_SIGV4, region and service "s3"); every
 * request carries the SHA-256 of its body in x-amz-content-sha256 (signed,
 * checked by the server: a body that changed on the way is refused), every
 * request with a body also its Content-MD5 (checked by the server too).
 * Radosgw 16.2 accepts and ignores x-amz-checksum-sha256, so it is not sent.
 * URLs are path style (ENDPOINT/BUCKET/KEY).  TLS peer and host name
 * verification are always on.  Bodies are read with pread() from a file
 * descriptor in blocks of S3_IO_BLOCK bytes, twice (once to hash, once to
 * send), so memory does not grow with the object; only replies are held in
 * memory, at most S3_REPLY_MAX bytes each.
 *
 * Errors: functions return 0 or -1 and fill err with one line beginning
 * "s3: " that names the operation and object, the HTTP status and the
 * server's error <Code> ("s3: PUT backups/x.sql.gz: HTTP 403
 * SignatureDoesNotMatch"), or libcurl's reason when there was no answer.
 * s3_status() and s3_code() give the last request's status (0: no answer)
 * and code (s3_retryable).
 *
 * Retries (s3retry.c): a request that fails in a way s3_retryable calls
 * worth retrying is sent again up to `retries` times, after 1, 2, 4 ...
 * seconds (at most 30), except a GET written to an fd.  Once `stopping`
 * says so, a request in flight is given up within about a second and no
 * new one is sent, with err "s3: OP BUCKET/KEY: cancelled" (aborting a
 * multipart upload still goes out, retried at most once).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define S3_IO_BLOCK       (128 * 1024)
#define S3_REPLY_MAX      (8 * 1024 * 1024)
#define S3_PART_MIN       (5ull * 1024 * 1024)        /* every part but the last */
#define S3_PARTS_MAX      10000                       /* parts of one upload */
#define S3_COPY_MAX       (5ull * 1024 * 1024 * 1024) /* largest CopyObject source */
#define S3_PUT_MAX        (5ull * 1024 * 1024 * 1024) /* largest single PUT */
#define S3_KEY_MAX        1024
#define S3_UPLOAD_ID_MAX  256
#define S3_ETAG_MAX       80
#define S3_CODE_MAX       64
#define S3_META_MAX       8
#define S3_STOP_REQUEST_S 5 /* seconds for a clean-up request once stopping */

struct s3_config {
	const char *endpoint; /* "https://host[:port]" or "http://..." (no path) */
	const char *bucket;   /* 3..63 of [a-z0-9.-] */
	const char *region;   /* e.g. "us-east-1": 1..32 of [a-z0-9-] */
	const char *access_key;
	const char *secret_key;
	const char *ca_file;    /* PEM bundle to trust instead of the system's; NULL: system */
	long connect_timeout_s; /* 0: 10 */
	long stall_timeout_s;   /* a transfer slower than 1 byte/s this long fails; 0: 60 */
	int retries;            /* further attempts after a retryable failure; 0: none */
	int (*stopping)(void);  /* non-zero: give up (requests fail "cancelled"); NULL: never */
	/* Told of each retry with a line "s3: ...: REASON; retry 1 of 5 in 1 s"; may be NULL. */
	void (*note)(void *ctx, const char *line);
	void *note_ctx;
};

/* A user metadata pair: sent as x-amz-meta-NAME (NAME: [a-z0-9-]). */
struct s3_meta {
	char name[64];
	char value[256];
};

/* What HEAD (and uploads) say about an object. */
struct s3_object_info {
	uint64_t size;
	char etag[S3_ETAG_MAX]; /* without the quotes */
	struct s3_meta meta[S3_META_MAX];
	int nmeta;
};

struct s3_put_opts {
	const char *content_type;   /* NULL: application/octet-stream */
	const struct s3_meta *meta; /* x-amz-meta-* of the new object */
	int nmeta;
};

struct s3_client;

/* A new client for cfg (copied).  Returns 0, or -1 with err filled when a
 * setting is invalid or libcurl cannot start. */
int s3_client_new(const struct s3_config *cfg, struct s3_client **out, char *err, size_t errlen);
void s3_client_free(struct s3_client *c);

/* The last request's HTTP status (0: no answer) and error <Code> ("" when none). */
long s3_status(const struct s3_client *c);
const char *s3_code(const struct s3_client *c);

/* Whether the last request was given up because `stopping` said so. */
bool s3_cancelled(const struct s3_client *c);

/* Whether the last failure is worth retrying: no answer (connection,
 * time-out), 5xx, 408, 429, or the codes RequestTimeout, SlowDown,
 * InternalError. */
bool s3_retryable(const struct s3_client *c);

/* Keep a copy of each request's outgoing header block (for tests of the
 * signature); s3_sent_headers gives the last one ("" when off). */
void s3_keep_headers(struct s3_client *c, bool on);
const char *s3_sent_headers(const struct s3_client *c);

/* The value for CURLOPT_AWS_SIGV4 of region: "aws:amz:REGION:s3" into buf.
 * Returns 0, or -1 when the region is not 1..32 of [a-z0-9-] (a ':' would
 * shift curl's fields) or buf is too small. */
int s3_sigv4_param(const char *region, char *buf, size_t buflen);

/* Upload the bytes [off, off+len) of fd as object `key` with one PUT; its
 * MD5 (the ETag the server answers must equal it) and SHA-256 are computed
 * first.  *info (may be NULL) gets size and ETag.  Returns 0 or -1. */
int s3_put_fd(struct s3_client *c, const char *key, int fd, off_t off, uint64_t len,
              const struct s3_put_opts *o, struct s3_object_info *info, char *err, size_t errlen);

/* s3_put_fd of the len bytes at data. */
int s3_put_mem(struct s3_client *c, const char *key, const void *data, size_t len,
               const struct s3_put_opts *o, struct s3_object_info *info, char *err, size_t errlen);

/* s3_put_fd with the body's checksums given by the caller instead of
 * computed (sha256_hex: 64 hex digits, md5_b64: base64 of the 16 bytes, or
 * NULL to leave Content-MD5 out).  For tests of the server's checks. */
int s3_put_fd_sums(struct s3_client *c, const char *key, int fd, off_t off, uint64_t len,
                   const char *sha256_hex, const char *md5_b64, char *err, size_t errlen);

/* Size, ETag and user metadata of object `key`.  Returns 0, or -1 (a missing
 * object: s3_status() is 404). */
int s3_head(struct s3_client *c, const char *key, struct s3_object_info *info, char *err,
            size_t errlen);

/* Write object `key` to fd (from its current offset; a retry truncates fd
 * back to it, so only a seekable fd is retried).  Returns 0 or -1; on
 * failure fd may hold part of the object. */
int s3_get_fd(struct s3_client *c, const char *key, int fd, char *err, size_t errlen);

/* Delete object `key` (no error when it does not exist).  Returns 0 or -1. */
int s3_delete(struct s3_client *c, const char *key, char *err, size_t errlen);

/* Delete the n objects keys[] with DeleteObjects, 1000 per request.
 * Returns 0, or -1 naming the first key the server did not delete and why. */
int s3_delete_many(struct s3_client *c, const char *const *keys, size_t n, char *err,
                   size_t errlen);

/* Copy object src to dst inside the bucket on the server (CopyObject; the
 * metadata is copied too).  Only for sources up to S3_COPY_MAX bytes: see
 * s3_copy_big.  Returns 0 or -1 (also when the server answers 200 with an
 * error in the body, as S3 may for copies). */
int s3_copy(struct s3_client *c, const char *src, const char *dst, char *err, size_t errlen);

/* ---- listings --------------------------------------------------------- */

struct s3_list_entry {
	const char *key; /* the key, or with a delimiter a common prefix */
	bool is_prefix;  /* a common prefix ("oma_20240101-000000/") */
	uint64_t size;
	const char *etag; /* without quotes; "" for prefixes */
};

/* Called for each entry; a non-zero return stops the listing and is returned. */
typedef int (*s3_list_fn)(void *ctx, const struct s3_list_entry *e);

/* Every key below prefix (NULL or "": all) with ListObjectsV2, page after
 * page (max_keys per page, 0: the server's default of 1000), in key order.
 * With a delimiter ("/"), keys that go on past it after the prefix are
 * given once as a common prefix.  Returns 0, -1 with err filled, or what
 * fn returned when it stopped the listing. */
int s3_list(struct s3_client *c, const char *prefix, const char *delimiter, int max_keys,
            s3_list_fn fn, void *ctx, char *err, size_t errlen);

/* Called for each unfinished multipart upload; as s3_list_fn. */
typedef int (*s3_uploads_fn)(void *ctx, const char *key, const char *upload_id);

/* Every unfinished multipart upload below prefix (ListMultipartUploads).
 * Returns as s3_list. */
int s3_list_uploads(struct s3_client *c, const char *prefix, s3_uploads_fn fn, void *ctx, char *err,
                    size_t errlen);

/* ---- multipart upload (s3mpu.c) --------------------------------------- */

/* Start a multipart upload of `key`; its id into upload_id (capacity
 * S3_UPLOAD_ID_MAX).  Returns 0 or -1. */
int s3_mpu_create(struct s3_client *c, const char *key, const struct s3_put_opts *o,
                  char *upload_id, char *err, size_t errlen);

/* Upload part number part (1..S3_PARTS_MAX) from the bytes [off, off+len) of
 * fd; its MD5 into md5 (16 bytes: the part's ETag, needed to complete).
 * Returns 0 or -1. */
int s3_mpu_part(struct s3_client *c, const char *key, const char *upload_id, int part, int fd,
                off_t off, uint64_t len, unsigned char md5[16], char *err, size_t errlen);

/* Part number part as a copy of the bytes [first, last] of object src
 * (UploadPartCopy); its ETag into etag (capacity S3_ETAG_MAX).  Returns 0 or -1. */
int s3_mpu_part_copy(struct s3_client *c, const char *key, const char *upload_id, int part,
                     const char *src, uint64_t first, uint64_t last, char *etag, char *err,
                     size_t errlen);

/* Finish the upload from the nparts parts' ETags (etags[i] of part i+1).
 * Returns 0 or -1 (also for an error in a 200 answer). */
int s3_mpu_complete(struct s3_client *c, const char *key, const char *upload_id,
                    const char *const *etags, int nparts, char *err, size_t errlen);

/* Abandon the upload (the server drops its parts).  Returns 0 or -1. */
int s3_mpu_abort(struct s3_client *c, const char *key, const char *upload_id, char *err,
                 size_t errlen);

/* Upload the first size bytes of fd as `key`: one PUT below part_size, else
 * (and at most S3_PUT_MAX), else
 * a multipart upload of part_size parts (at least S3_PART_MIN, grown so
 * that S3_PARTS_MAX parts suffice), one part in flight.  A failed multipart
 * upload is aborted.  Afterwards HEAD must show the size and the ETag the
 * local MD5s give (for multipart: MD5 of the parts' MD5s, "-N"); a mismatch
 * is a failure.  *info (may be NULL) gets what HEAD said.  Returns 0 or -1. */
int s3_upload_fd(struct s3_client *c, const char *key, int fd, uint64_t size, uint64_t part_size,
                 const struct s3_put_opts *o, struct s3_object_info *info, char *err,
                 size_t errlen);

/* The part size s3_upload_fd uses for size bytes: part_size, at least
 * S3_PART_MIN, grown (in whole MiB) so that S3_PARTS_MAX parts hold them. */
uint64_t s3_part_size(uint64_t size, uint64_t part_size);

/* The ETag S3 gives an object made of the n parts whose MD5s (16 bytes
 * each) are md5s: hex MD5 of them all, "-N", into out.  Returns 0 or -1. */
int s3_multipart_etag(const unsigned char *md5s, int n, char *out, size_t outlen);

/* HEAD key and compare: the size, the ETag want (unless NULL), and every
 * metadata pair of o (may be NULL).  *info (may be NULL) gets what HEAD
 * said.  Returns 0, or -1 naming the first difference. */
int s3_verify(struct s3_client *c, const char *key, uint64_t size, const char *want,
              const struct s3_put_opts *o, struct s3_object_info *info, char *err, size_t errlen);

/* Copy object src (size bytes) to dst on the server: CopyObject up to
 * copy_max bytes (0: S3_COPY_MAX), else a multipart copy of part_size parts
 * (UploadPartCopy, the metadata given in o, aborted on failure).  Then HEAD
 * must show the size.  Returns 0 or -1. */
int s3_copy_big(struct s3_client *c, const char *src, const char *dst, uint64_t size,
                uint64_t copy_max, uint64_t part_size, const struct s3_put_opts *o, char *err,
                size_t errlen);

#endif
