/* s3enc.c - the encodings of the S3 client: SigV4 URI encoding, sorted query strings, XML escapes, hex, base64. */
#include "s3enc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

int s3enc_xml(struct cm_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		default:
			break;
		}
		int rc = rep != NULL ? cm_buf_add(b, rep, strlen(rep)) : cm_buf_add(b, s, 1);
		if (rc != 0)
			return -1;
	}
	return 0;
}

int s3enc_uri(struct cm_buf *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		unsigned char ch = *p;
		bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		             (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
		             ch == '~' || (keep_slash && ch == '/');
		char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
		int rc = plain ? cm_buf_add(b, p, 1) : cm_buf_add(b, enc, 3);
		if (rc != 0)
			return -1;
	}
	return 0;
}

int s3enc_query(const struct s3enc_param *params, size_t n, struct cm_buf *b)
{
	const struct s3enc_param *sorted[16];
	if (n > sizeof(sorted) / sizeof(sorted[0]))
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j > 0 && strcmp(sorted[j - 1]->name, params[i].name) > 0) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = &params[i];
	}
	for (size_t i = 0; i < n; i++) {
		if ((i > 0 && cm_buf_add(b, "&", 1) != 0) ||
		    s3enc_uri(b, sorted[i]->name, false) != 0 || cm_buf_add(b, "=", 1) != 0 ||
		    s3enc_uri(b, sorted[i]->value != NULL ? sorted[i]->value : "", false) != 0)
			return -1;
	}
	return 0;
}

void s3enc_base64(const unsigned char *in, size_t n, char *out)
{
	(void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

void s3enc_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}
