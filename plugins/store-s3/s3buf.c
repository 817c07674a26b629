/* s3buf.c - growing buffers and the encodings of the S3 client: SigV4 URI encoding, sorted query strings, XML escapes, hex, base64. */
#include "s3buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* Make room for n more bytes and the NUL.  Returns 0 or -1 (memory). */
static int buf_room(struct s3buf *b, size_t n)
{
	if (b->cap > b->len && n < b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	size_t cap = b->cap == 0 ? 256 : b->cap;
	while (cap - b->len <= n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (p == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int s3buf_add(struct s3buf *b, const void *s, size_t n)
{
	if (buf_room(b, n) != 0)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int s3buf_printf(struct s3buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_room(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int s3buf_xml(struct s3buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: break;
		}
		int rc = rep != NULL ? s3buf_add(b, rep, strlen(rep)) : s3buf_add(b, s, 1);
		if (rc != 0)
			return -1;
	}
	return 0;
}

void s3buf_free(struct s3buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int s3buf_encode(struct s3buf *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		unsigned char ch = *p;
		bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		             (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
		             ch == '~' || (keep_slash && ch == '/');
		char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
		int rc = plain ? s3buf_add(b, p, 1) : s3buf_add(b, enc, 3);
		if (rc != 0)
			return -1;
	}
	return 0;
}

int s3buf_query(const struct s3buf_param *params, size_t n, struct s3buf *b)
{
	const struct s3buf_param *sorted[16];
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
		if ((i > 0 && s3buf_add(b, "&", 1) != 0) ||
		    s3buf_encode(b, sorted[i]->name, false) != 0 || s3buf_add(b, "=", 1) != 0 ||
		    s3buf_encode(b, sorted[i]->value != NULL ? sorted[i]->value : "", false) != 0)
			return -1;
	}
	return 0;
}

void s3buf_base64(const unsigned char *in, size_t n, char *out)
{
	(void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

void s3buf_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}
