/* s3sign.h - AWS Signature V4 of our own, for the requests curl 7.88's CURLOPT_AWS_SIGV4 signs wrongly. */
#ifndef OMA_S3SIGN_H
#define OMA_S3SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "s3req.h"

/*
 * curl before 8.10 sorts the signed headers as whole "name:value" lines,
 * so a header whose name is a prefix of another one's, where the longer
 * name goes on with a byte below ':' (x-amz-copy-source and
 * x-amz-copy-source-range), lands after it: the canonical request then
 * differs from the server's and the answer is 403 SignatureDoesNotMatch.
 * Such requests (UploadPartCopy) are signed here instead; every other
 * request is signed by curl.
 */

/* What is signed: the request line's parts as sent (path and query
 * already URI-encoded, the query sorted), every header line to sign ("Name:
 * value", Host included), the payload's SHA-256 (hex), and the credentials. */
struct s3sign_input {
	const char *method;
	const char *path;
	const char *query;
	const char *const *headers;
	size_t nheaders;
	const char *payload_sha256;
	const char *region;
	const char *access_key;
	const char *secret_key;
};

/* Whether curl 7.88 would sign the header lines hdr wrongly (see above). */
bool s3sign_needed(const char *const *hdr, size_t n);

/* Sign `in` as at time `now`: the "x-amz-date: ..." line into date_line
 * (signed too; capacity date_len) and the "Authorization: ..." line
 * appended to auth.  Returns 0, or -1 when memory runs out. */
int s3sign_make(const struct s3sign_input *in, time_t now, char *date_line, size_t date_len,
                struct cm_buf *auth);

#endif
