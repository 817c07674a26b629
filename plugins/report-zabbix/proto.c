/* proto.c - the Zabbix sender protocol without a socket: the packet header and the server's reply. */
#include "proto.h"

#include <stdlib.h>
#include <string.h>

#include "common/errbuf.h"

#define ZBX_FLAG_PROTOCOL 0x01
#define ZBX_FLAG_COMPRESS 0x02
#define ZBX_FLAG_LARGE    0x04

void proto_header_put(unsigned char hdr[ZBX_HEADER_LEN], uint32_t len)
{
	memcpy(hdr, "ZBXD", 4);
	hdr[4] = ZBX_FLAG_PROTOCOL;
	for (int i = 0; i < 4; i++) {
		hdr[5 + i] = (unsigned char)(len >> (8 * i));
		hdr[9 + i] = 0;
	}
}

int proto_header_len(const unsigned char *peek, char *err, size_t errlen)
{
	if (memcmp(peek, "ZBXD", 4) != 0 || (peek[4] & ZBX_FLAG_PROTOCOL) == 0) {
		cm_errf(err, errlen, "the answer is not in the Zabbix protocol");
		return -1;
	}
	if (peek[4] & ZBX_FLAG_COMPRESS) {
		cm_errf(err, errlen, "the answer is compressed (not supported)");
		return -1;
	}
	return (peek[4] & ZBX_FLAG_LARGE) ? ZBX_HEADER_LARGE_LEN : ZBX_HEADER_LEN;
}

int proto_data_len(const unsigned char *hdr, size_t hdrlen, size_t *len, char *err, size_t errlen)
{
	size_t lenbytes = (hdrlen - ZBX_HEADER_PEEK) / 2;
	uint64_t dlen = 0;
	for (size_t i = 0; i < lenbytes; i++)
		dlen |= (uint64_t)hdr[ZBX_HEADER_PEEK + i] << (8 * i);
	if (dlen > ZBX_RESPONSE_MAX) {
		cm_errf(err, errlen, "answer of %llu bytes is too long", (unsigned long long)dlen);
		return -1;
	}
	*len = (size_t)dlen;
	return 0;
}

/* The string value of "key" in the flat JSON object `json` (escapes \" \\
 * \/ \n \t \r \b \f decoded, \u kept as is), malloc'ed; NULL when absent
 * or out of memory. */
static char *json_get_string(const char *json, const char *key)
{
	size_t klen = strlen(key);
	const char *p = json;
	while ((p = strchr(p, '"')) != NULL) {
		if (strncmp(p + 1, key, klen) == 0 && p[1 + klen] == '"') {
			const char *q = p + 2 + klen;
			while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
				q++;
			if (*q == ':') {
				q++;
				while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
					q++;
				if (*q != '"')
					return NULL;
				/* decoding never makes the text longer */
				char *out = malloc(strlen(q) + 1);
				if (out == NULL)
					return NULL;
				size_t n = 0;
				for (q++; *q && *q != '"'; q++) {
					char c = *q;
					if (c == '\\' && q[1] != '\0') {
						q++;
						switch (*q) {
						case 'n':
							c = '\n';
							break;
						case 't':
							c = '\t';
							break;
						case 'r':
							c = '\r';
							break;
						case 'b':
							c = '\b';
							break;
						case 'f':
							c = '\f';
							break;
						case 'u':
							out[n++] = '\\';
							c = 'u';
							break;
						default:
							c = *q;
							break;
						}
					}
					out[n++] = c;
				}
				out[n] = '\0';
				return out;
			}
		}
		/* skip this string */
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			p++;
		}
		if (*p == '\0')
			return NULL;
		p++;
	}
	return NULL;
}

/* The number after "word: " in an info text such as "processed: 1; failed: 0"; -1 if absent. */
static long info_number(const char *info, const char *word)
{
	const char *p = strstr(info, word);
	if (p == NULL)
		return -1;
	p += strlen(word);
	while (*p == ' ')
		p++;
	char *end = NULL;
	long v = strtol(p, &end, 10);
	return end == p ? -1 : v;
}

int proto_reply_result(const char *json, char *err, size_t errlen)
{
	int rc = -1;
	char *resp = json_get_string(json, "response");
	char *info = json_get_string(json, "info");
	if (resp == NULL) {
		cm_errf(err, errlen, "unexpected answer: %.200s", json);
		goto out;
	}
	if (strcmp(resp, "success") != 0) {
		cm_errf(err, errlen, "the server answered \"%s\"%s%s", resp, info ? ": " : "",
		        info ? info : "");
		rc = 1;
		goto out;
	}
	long failed = info ? info_number(info, "failed:") : -1;
	long processed = info ? info_number(info, "processed:") : -1;
	if (failed != 0 || processed < 1) {
		cm_errf(err, errlen,
		        "value rejected by the server (check the item key / host / item type): %s",
		        info ? info : "no info");
		rc = 1;
		goto out;
	}
	cm_errf(err, errlen, "%s", info);
	rc = 0;
out:
	free(resp);
	free(info);
	return rc;
}
