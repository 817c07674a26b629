/* proto.h - the Zabbix sender protocol without a socket: the packet header and the server's reply; private to the zabbix plugin. */
#ifndef OMA_ZABBIX_PROTO_H
#define OMA_ZABBIX_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define ZBX_HEADER_LEN       13 /* "ZBXD", flags, 4-byte length, 4-byte reserved */
#define ZBX_HEADER_LARGE_LEN 21 /* the same with 8-byte lengths (flag 0x04) */
#define ZBX_HEADER_PEEK      5  /* "ZBXD" and the flags: tells the header's length */
#define ZBX_RESPONSE_MAX     (1024 * 1024)

/* Fill hdr with the header of a request of `len` bytes. */
void proto_header_put(unsigned char hdr[ZBX_HEADER_LEN], uint32_t len);

/* Check the first ZBX_HEADER_PEEK bytes of a reply.  Returns the length of
 * its whole header (ZBX_HEADER_LEN or ZBX_HEADER_LARGE_LEN), or -1 with err
 * set when it is not the Zabbix protocol or is compressed. */
int proto_header_len(const unsigned char *peek, char *err, size_t errlen);

/* The data length in the whole header `hdr` of `hdrlen` bytes (as
 * proto_header_len said).  Returns 0 with *len, or -1 with err set when it
 * is longer than ZBX_RESPONSE_MAX. */
int proto_data_len(const unsigned char *hdr, size_t hdrlen, size_t *len, char *err, size_t errlen);

/* Decode the reply's data (JSON, NUL-terminated: a NUL ends it).  Returns 0
 * when the server accepted the value (its "info" in err), 1 when it
 * answered but did not accept it, -1 when the answer makes no sense (err
 * set both times). */
int proto_reply_result(const char *json, char *err, size_t errlen);

#endif
