/* s3sign.c - AWS Signature V4 of our own, for the requests curl 7.88's CURLOPT_AWS_SIGV4 signs wrongly. */
#include "s3sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* The length of the name of header line h (up to the ':'). */
static size_t name_len(const char *h)
{
	return strcspn(h, ":");
}

bool s3sign_needed(const char *const *hdr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t li = name_len(hdr[i]);
		for (size_t j = 0; j < n; j++) {
			size_t lj = name_len(hdr[j]);
			if (j != i && lj > li && strncasecmp(hdr[i], hdr[j], li) == 0 &&
			    (unsigned char)hdr[j][li] < ':')
				return true;
		}
	}
	return false;
}

/* HMAC-SHA-256 of msg with key into out.  Returns 0 or -1. */
static int hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int len = 32;
	return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out,
	            &len) != NULL &&
	                       len == 32
	               ? 0
	               : -1;
}

static void hex32(const unsigned char in[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[64] = '\0';
}

/* Compare header lines by their lower-case names (qsort). */
static int by_name(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = name_len(x), ly = name_len(y);
	int c = strncasecmp(x, y, lx < ly ? lx : ly);
	return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* Append "name:value\n" of header line h to b: name in lower case, the
 * value without surrounding blanks and with inner runs of blanks as one
 * space.  Returns 0 or -1 (memory). */
static int canonical_line(struct cm_buf *b, const char *h)
{
	size_t nl = name_len(h);
	for (size_t i = 0; i < nl; i++) {
		char ch = h[i] >= 'A' && h[i] <= 'Z' ? (char)(h[i] - 'A' + 'a') : h[i];
		if (cm_buf_add(b, &ch, 1) != 0)
			return -1;
	}
	if (cm_buf_add(b, ":", 1) != 0)
		return -1;
	const char *v = h[nl] == ':' ? h + nl + 1 : h + nl;
	while (*v == ' ' || *v == '\t')
		v++;
	bool blank = false;
	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t') {
			blank = true;
			continue;
		}
		if ((blank && cm_buf_add(b, " ", 1) != 0) || cm_buf_add(b, v, 1) != 0)
			return -1;
		blank = false;
	}
	return cm_buf_add(b, "\n", 1);
}

int s3sign_make(const struct s3sign_input *in, time_t now, char *date_line, size_t date_len,
                struct cm_buf *auth)
{
	int rc = -1;
	char stamp[17], day[9], hex[65];
	struct tm tm;
	const char **all = calloc(in->nheaders + 1, sizeof(*all));
	struct cm_buf canon = {0}, names = {0};
	char *key = NULL, *sts = NULL;
	unsigned char h[32], k1[32], k2[32];
	unsigned int hl = 0;
	if (all == NULL || gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) != 16)
		goto out;
	memcpy(day, stamp, 8);
	day[8] = '\0';
	int w = snprintf(date_line, date_len, "x-amz-date: %s", stamp);
	if (w < 0 || (size_t)w >= date_len)
		goto out;
	for (size_t i = 0; i < in->nheaders; i++)
		all[i] = in->headers[i];
	all[in->nheaders] = date_line;
	size_t n = in->nheaders + 1;
	qsort(all, n, sizeof(*all), by_name);
	if (cm_buf_fmt(&canon, "%s\n%s\n%s\n", in->method, in->path, in->query) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (canonical_line(&canon, all[i]) != 0 ||
		    (i > 0 && cm_buf_add(&names, ";", 1) != 0))
			goto out;
		for (size_t k = 0; k < name_len(all[i]); k++) {
			char ch = all[i][k] >= 'A' && all[i][k] <= 'Z'
			                  ? (char)(all[i][k] - 'A' + 'a')
			                  : all[i][k];
			if (cm_buf_add(&names, &ch, 1) != 0)
				goto out;
		}
	}
	if (cm_buf_fmt(&canon, "\n%s\n%s", names.p, in->payload_sha256) != 0 ||
	    EVP_Digest(canon.p, canon.len, h, &hl, EVP_sha256(), NULL) != 1)
		goto out;
	hex32(h, hex);
	struct cm_buf s = {0}, k = {0};
	if (cm_buf_fmt(&s, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", stamp, day,
	               in->region, hex) != 0 ||
	    cm_buf_fmt(&k, "AWS4%s", in->secret_key) != 0) {
		cm_buf_free(&s);
		cm_buf_free(&k);
		goto out;
	}
	sts = s.p;
	key = k.p;
	if (hmac((const unsigned char *)key, strlen(key), day, k1) != 0 ||
	    hmac(k1, 32, in->region, k2) != 0 || hmac(k2, 32, "s3", k1) != 0 ||
	    hmac(k1, 32, "aws4_request", k2) != 0 || hmac(k2, 32, sts, k1) != 0)
		goto out;
	hex32(k1, hex);
	if (cm_buf_fmt(auth,
	               "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/aws4_request, "
	               "SignedHeaders=%s, Signature=%s",
	               in->access_key, day, in->region, names.p, hex) != 0)
		goto out;
	rc = 0;
out:
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	explicit_bzero(k1, sizeof(k1));
	explicit_bzero(k2, sizeof(k2));
	free(sts);
	cm_buf_free(&canon);
	cm_buf_free(&names);
	free(all);
	return rc;
}
