/* fuzz_zbxreply.c - fuzz target: what a Zabbix server answers the native transport (header, length, JSON reply), read as node_send reads it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"

int fuzz_zbxreply(const uint8_t *data, size_t size)
{
	char err[1024];
	/* node_send reads the first bytes, then the rest of the header, then
	 * the data: a shorter answer ends there (a timeout or closed
	 * connection); bytes after the data are never read */
	if (size < ZBX_HEADER_PEEK)
		return 0;
	int hlen = proto_header_len(data, err, sizeof(err));
	if (hlen < 0 || size < (size_t)hlen)
		return 0;
	size_t dlen = 0;
	if (proto_data_len(data, (size_t)hlen, &dlen, err, sizeof(err)) != 0)
		return 0;
	if (size - (size_t)hlen < dlen)
		return 0;
	char *json = malloc(dlen + 1);
	if (json == NULL)
		return 0;
	memcpy(json, data + hlen, dlen);
	json[dlen] = '\0';
	int rc = proto_reply_result(json, err, sizeof(err));
	if (rc < -1 || rc > 1 || memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	free(json);

	/* the header oma writes reads back as the same length */
	unsigned char hdr[ZBX_HEADER_LEN];
	size_t back = 0;
	proto_header_put(hdr, (uint32_t)dlen);
	if (proto_header_len(hdr, err, sizeof(err)) != ZBX_HEADER_LEN ||
	    proto_data_len(hdr, ZBX_HEADER_LEN, &back, err, sizeof(err)) != 0 || back != dlen)
		abort();
	return 0;
}

FUZZ_MAIN(fuzz_zbxreply)
