/* s3enc.h - the encodings of the S3 client: SigV4 URI encoding, sorted query strings, XML escapes, hex, base64. */
#ifndef OMA_S3ENC_H
#define OMA_S3ENC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Append s XML-escaped (& < > " ') to b.  Returns 0, or -1 when memory
 * runs out. */
int s3enc_xml(struct cm_buf *b, const char *s);

/* Append s URI-encoded as SigV4 wants it: A-Z a-z 0-9 - _ . ~ as they are,
 * '/' too when keep_slash (object keys in paths), every other byte %XX
 * (upper-case hex).  Returns 0 or -1 (memory). */
int s3enc_uri(struct cm_buf *b, const char *s, bool keep_slash);

/* One query parameter; value "" is written "name=" (radosgw refuses
 * curl 7.88's signature of a bare "name"). */
struct s3enc_param {
	const char *name;
	const char *value;
};

/* The query string of the n params: sorted by name (curl 7.88 signs the
 * query as written, and radosgw sorts it), names and values URI-encoded,
 * into b (appended).  Returns 0 or -1 (memory). */
int s3enc_query(const struct s3enc_param *params, size_t n, struct cm_buf *b);

/* Base64 of n bytes into out (4*ceil(n/3)+1 bytes); hex of n bytes (lower
 * case) into out (2n+1 bytes). */
void s3enc_base64(const unsigned char *in, size_t n, char *out);
void s3enc_hex(const unsigned char *in, size_t n, char *out);

#endif
