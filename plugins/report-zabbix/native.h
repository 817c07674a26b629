/* native.h - the zabbix plugin's transport "native": the Zabbix sender protocol over TCP to ServerActive; private to the plugin. */
#ifndef OMA_ZABBIX_NATIVE_H
#define OMA_ZABBIX_NATIVE_H

#include <stddef.h>

#include "agentconf.h"
#include "common/buf.h"

/* Where the value goes and as which host. */
struct native {
	char *hostname;     /* the effective host name */
	struct dest *dests; /* ServerActive: each destination gets the value */
	size_t ndests;
};

/* Fill *n ({0} before) from the agent configuration `agent_conf` and the
 * overrides of ServerActive and Hostname (NULL or "": none); agent_conf
 * need not exist when ServerActive is overridden.  Refuses TLS.  Returns
 * 0, or -1 with err set (unreadable agent_conf, TLSConnect, no or a bad
 * ServerActive, no host name, no memory); free *n with native_free either
 * way. */
int native_setup(struct native *n, const char *agent_conf, const char *over_active,
                 const char *over_host, char *err, size_t errlen);
void native_free(struct native *n);

/* The "sender data" request (JSON) for `value` to item `key` into req.
 * Returns 0, or -1 with err set when out of memory or longer than the
 * protocol's 4 GiB. */
int native_request(const struct native *n, const char *key, const char *value, struct cm_buf *req,
                   char *err, size_t errlen);

/* One attempt: every destination whose done[i] is 0 is sent `req` (its
 * nodes tried in order until one answers, each exchange within `timeout`
 * seconds); done[i] is set for those that accepted it.  Returns 0 when all
 * have it, -1 otherwise (err: what went wrong with each). */
int native_attempt(const struct native *n, const struct cm_buf *req, int *done, int timeout,
                   char *err, size_t errlen);

#endif
