/* s3buf.h - growing buffers and the encodings of the S3 client: SigV4 URI encoding, sorted query strings, XML escapes, hex, base64. */
#ifndef OMA_S3BUF_H
#define OMA_S3BUF_H

#include <stdbool.h>
#include <stddef.h>

/* A growing byte buffer, always NUL-terminated once something was added. */
struct s3buf {
	char *p;
	size_t len, cap;
};

/* Append n bytes (s3buf_add), formatted text, or text XML-escaped
 * (& < > " ').  Each returns 0, or -1 when memory runs out. */
int s3buf_add(struct s3buf *b, const void *s, size_t n);
int s3buf_printf(struct s3buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int s3buf_xml(struct s3buf *b, const char *s);
void s3buf_free(struct s3buf *b);

/* Append s URI-encoded as SigV4 wants it: A-Z a-z 0-9 - _ . ~ as they are,
 * '/' too when keep_slash (object keys in paths), every other byte %XX
 * (upper-case hex).  Returns 0 or -1 (memory). */
int s3buf_encode(struct s3buf *b, const char *s, bool keep_slash);

/* One query parameter; value "" is written "name=" (radosgw refuses
 * curl 7.88's signature of a bare "name"). */
struct s3buf_param {
	const char *name;
	const char *value;
};

/* The query string of the n params: sorted by name (curl 7.88 signs the
 * query as written, and radosgw sorts it), names and values URI-encoded,
 * into b (appended).  Returns 0 or -1 (memory). */
int s3buf_query(const struct s3buf_param *params, size_t n, struct s3buf *b);

/* Base64 of n bytes into out (4*ceil(n/3)+1 bytes); hex of n bytes (lower
 * case) into out (2n+1 bytes). */
void s3buf_base64(const unsigned char *in, size_t n, char *out);
void s3buf_hex(const unsigned char *in, size_t n, char *out);

#endif
