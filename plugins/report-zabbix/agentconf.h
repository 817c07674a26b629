/* agentconf.h - the zabbix plugin's reader of the Zabbix agent configuration (ServerActive, Hostname, Include); private to the plugin. */
#ifndef OMA_ZABBIX_AGENTCONF_H
#define OMA_ZABBIX_AGENTCONF_H

#include <stddef.h>

#define ZBX_DEFAULT_PORT  "10051"
#define ZBX_INCLUDE_DEPTH 10 /* Include= is followed this many levels deep */

struct node {
	char *host;
	char *port;
};

/* One destination of ServerActive: the nodes of one (HA) server. */
struct dest {
	struct node *nodes;
	size_t n;
};

/* What the plugin takes from the agent configuration (the last value of a
 * key given twice wins; NULL when absent). */
struct agentconf {
	char *server_active;
	char *hostname;
	char *hostname_item;
	char *tls_connect;
};

/* Split ServerActive into destinations (',') of nodes (';'), each "host",
 * "host:port", "[addr]:port", "[addr]" or a bare IPv6 address (port 10051
 * by default).  Returns 0 with *out (free with dests_free) and *nout, or -1
 * with err set (empty list or entry, bad port, no memory). */
int parse_server_active(const char *text, struct dest **out, size_t *nout, char *err,
                        size_t errlen);
void dests_free(struct dest *d, size_t n);

/* Read the agent configuration `path` into *ac (zeroed first by the
 * caller), following Include= of a file, a folder (its regular files,
 * sorted) or a glob pattern (the regular files it matches) up to
 * ZBX_INCLUDE_DEPTH levels deep.  Returns 0, or -1 with err set naming the
 * file and line (unreadable file, bad Include, no memory); *ac then holds
 * what was read before and is still freed with agentconf_free. */
int agentconf_read(const char *path, struct agentconf *ac, char *err, size_t errlen);
void agentconf_free(struct agentconf *ac);

#endif
