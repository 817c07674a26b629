/* native.c - the zabbix plugin's transport "native": the Zabbix sender protocol over TCP to ServerActive. */
#include "native.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <oma/plugin.h>

#include "common/clock.h"
#include "common/errbuf.h"
#include "common/json.h"
#include "proto.h"
#include "zabbix.h"

/*
 * From agent_conf: ServerActive (',' separates destinations, each of which
 * must get the value; ';' separates the nodes of one HA cluster, tried in
 * order until one answers; "host", "host:port", "[v6]:port" or a bare IPv6
 * address; port 10051 by default), Hostname (the first of a comma list;
 * when missing, HostnameItem is not evaluated and the machine's host name
 * is used, as the agent's default system.hostname), TLSConnect (anything
 * but "unencrypted" is refused: use transport = "sender" for TLS).
 * Include= of a file, a folder (its files) or a glob pattern is followed
 * up to ZBX_INCLUDE_DEPTH levels deep (agentconf.c).  A key given twice:
 * the last one wins.
 */

/* ---- setup ---------------------------------------------------------------- */

int native_setup(struct native *n, const char *agent_conf, const char *over_active,
                 const char *over_host, char *err, size_t errlen)
{
	struct agentconf ac = {0};
	int rc = -1;
	if (over_active != NULL && *over_active == '\0')
		over_active = NULL;
	if (over_host != NULL && *over_host == '\0')
		over_host = NULL;
	struct stat st;
	int have_conf = stat(agent_conf, &st) == 0;
	if (have_conf || over_active == NULL) {
		char why[900];
		if (agentconf_read(agent_conf, &ac, why, sizeof(why)) != 0) {
			cm_errf(err, errlen, "zabbix: [zabbix] agent_conf: %s", why);
			goto out;
		}
	}
	if (ac.tls_connect != NULL && strcmp(ac.tls_connect, "unencrypted") != 0) {
		cm_errf(err, errlen,
		        "zabbix: agent_conf %s sets TLSConnect=%s: TLS is not supported by transport = \"native\"; use transport = \"sender\"",
		        agent_conf, ac.tls_connect);
		goto out;
	}
	const char *active = over_active != NULL ? over_active : ac.server_active;
	if (active == NULL || *active == '\0') {
		cm_errf(err, errlen,
		        "zabbix: no ServerActive in agent_conf %s and no [zabbix] server_active",
		        agent_conf);
		goto out;
	}
	char why[600];
	if (parse_server_active(active, &n->dests, &n->ndests, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "zabbix: %s %s",
		        over_active ? "[zabbix] server_active:" : agent_conf, why);
		goto out;
	}
	if (over_host != NULL) {
		n->hostname = strdup(over_host);
	} else if (ac.hostname != NULL && *ac.hostname != '\0') {
		n->hostname = strndup(ac.hostname, strcspn(ac.hostname, ","));
	} else {
		char name[HOST_NAME_MAX + 1] = "";
		if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0') {
			cm_errf(err, errlen, "zabbix: no Hostname in %s and gethostname failed",
			        agent_conf);
			goto out;
		}
		name[sizeof(name) - 1] = '\0';
		if (ac.hostname_item != NULL)
			zbx_log(OMA_LOG_WARNING,
			        "Zabbix: HostnameItem in %s is not evaluated; using the host name '%s'",
			        agent_conf, name);
		n->hostname = strdup(name);
	}
	if (n->hostname == NULL) {
		cm_errf(err, errlen, "zabbix: out of memory");
		goto out;
	}
	rc = 0;
out:
	agentconf_free(&ac);
	return rc;
}

void native_free(struct native *n)
{
	free(n->hostname);
	dests_free(n->dests, n->ndests);
	*n = (struct native){0};
}

int native_request(const struct native *n, const char *key, const char *value, struct cm_buf *req,
                   char *err, size_t errlen)
{
	cm_buf_str(req, "{\"request\":\"sender data\",\"data\":[{\"host\":");
	cm_json_str(req, n->hostname);
	cm_buf_str(req, ",\"key\":");
	cm_json_str(req, key);
	cm_buf_str(req, ",\"value\":");
	cm_json_str(req, value);
	cm_buf_str(req, "}]}");
	if (req->failed || req->len > UINT32_MAX) {
		cm_errf(err, errlen, "zabbix: out of memory building the request");
		return -1;
	}
	return 0;
}

/* ---- one exchange ---------------------------------------------------------- */

/* Send (writing) or receive exactly n bytes on a non-blocking socket before
 * `deadline`.  Returns 0, or -1 with err set (timeout, error, early close). */
static int io_all(int fd, char *p, size_t n, int writing, double deadline, char *err, size_t errlen)
{
	size_t done = 0;
	while (done < n) {
		int wait = zbx_ms_left(deadline, 1000000);
		if (wait == 0) {
			cm_errf(err, errlen, "timed out %s",
			        writing ? "sending" : "waiting for the answer");
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
		int pr = poll(&pfd, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			cm_errf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (pr == 0)
			continue;
		ssize_t k = writing ? send(fd, p + done, n - done, MSG_NOSIGNAL)
		                    : recv(fd, p + done, n - done, 0);
		if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (k < 0) {
			cm_errf(err, errlen, "%s: %s", writing ? "send" : "receive",
			        strerror(errno));
			return -1;
		}
		if (k == 0) {
			cm_errf(err, errlen,
			        "connection closed after %zu of %zu bytes of the answer", done, n);
			return -1;
		}
		done += (size_t)k;
	}
	return 0;
}

/* Connect to `n` (each address it resolves to, in order) before `deadline`.
 * Returns the socket, or -1 with err set. */
static int node_connect(const struct node *n, double deadline, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int grc = getaddrinfo(n->host, n->port, &hints, &res);
	if (grc != 0) {
		cm_errf(err, errlen, "cannot resolve '%s': %s", n->host, gai_strerror(grc));
		return -1;
	}
	int fd = -1;
	cm_errf(err, errlen, "no address");
	for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            a->ai_protocol);
		if (fd < 0) {
			cm_errf(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		int crc = connect(fd, a->ai_addr, a->ai_addrlen);
		if (crc != 0 && errno == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int pr;
			do
				pr = poll(&pfd, 1, zbx_ms_left(deadline, 1000000));
			while (pr < 0 && errno == EINTR);
			if (pr == 0) {
				cm_errf(err, errlen, "connect: timed out");
			} else {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
					soerr = errno;
				crc = soerr == 0 ? 0 : -1;
				if (soerr != 0)
					cm_errf(err, errlen, "connect: %s", strerror(soerr));
			}
		} else if (crc != 0) {
			cm_errf(err, errlen, "connect: %s", strerror(errno));
		}
		if (crc != 0) {
			(void)close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/* Exchange the request `req` with node `n`.  Returns 0 when the server
 * accepted the value, 1 when it answered but did not (info in err), -1
 * when it could not be reached or answered nonsense (err set). */
static int node_send(const struct node *n, const struct cm_buf *req, int timeout, char *err,
                     size_t errlen)
{
	double deadline = cm_now_s() + timeout;
	int fd = node_connect(n, deadline, err, errlen);
	if (fd < 0)
		return -1;
	int rc = -1;
	char *data = NULL;
	unsigned char hdr[ZBX_HEADER_LARGE_LEN];
	proto_header_put(hdr, (uint32_t)req->len);
	if (io_all(fd, (char *)hdr, ZBX_HEADER_LEN, 1, deadline, err, errlen) != 0 ||
	    io_all(fd, req->p, req->len, 1, deadline, err, errlen) != 0)
		goto out;
	if (io_all(fd, (char *)hdr, ZBX_HEADER_PEEK, 0, deadline, err, errlen) != 0)
		goto out;
	int hlen = proto_header_len(hdr, err, errlen);
	if (hlen < 0)
		goto out;
	if (io_all(fd, (char *)hdr + ZBX_HEADER_PEEK, (size_t)hlen - ZBX_HEADER_PEEK, 0, deadline,
	           err, errlen) != 0)
		goto out;
	size_t dlen = 0;
	if (proto_data_len(hdr, (size_t)hlen, &dlen, err, errlen) != 0)
		goto out;
	data = malloc(dlen + 1);
	if (data == NULL) {
		cm_errf(err, errlen, "out of memory");
		goto out;
	}
	if (io_all(fd, data, dlen, 0, deadline, err, errlen) != 0)
		goto out;
	data[dlen] = '\0';
	rc = proto_reply_result(data, err, errlen);
out:
	(void)close(fd);
	free(data);
	return rc;
}

static const char *node_name(const struct node *n, char *buf, size_t len)
{
	if (strchr(n->host, ':') != NULL)
		(void)snprintf(buf, len, "[%s]:%s", n->host, n->port);
	else
		(void)snprintf(buf, len, "%s:%s", n->host, n->port);
	return buf;
}

/* ---- destinations ------------------------------------------------------------ */

/* Deliver to one destination: its nodes in order until one answers.
 * Returns 0 accepted, 1 rejected, -1 no node answered; err set. */
static int dest_send(const struct dest *d, const struct cm_buf *req, int timeout, char *err,
                     size_t errlen)
{
	int rc = -1;
	char why[512], name[300];
	struct cm_buf all = {0};
	for (size_t i = 0; i < d->n; i++) {
		node_name(&d->nodes[i], name, sizeof(name));
		rc = node_send(&d->nodes[i], req, timeout, why, sizeof(why));
		if (rc >= 0) {
			cm_errf(err, errlen, "%s: %s", name, why);
			if (rc == 0)
				zbx_log(OMA_LOG_DEBUG, "Zabbix: %s accepted the value: %s", name,
				        why);
			cm_buf_free(&all);
			return rc;
		}
		zbx_log(OMA_LOG_DEBUG, "Zabbix: %s: %s", name, why);
		cm_buf_fmt(&all, "%s%s: %s", all.len ? "; " : "", name, why);
	}
	cm_errf(err, errlen, "%s", all.p ? all.p : "no server");
	cm_buf_free(&all);
	return rc;
}

int native_attempt(const struct native *n, const struct cm_buf *req, int *done, int timeout,
                   char *err, size_t errlen)
{
	int rc = 0;
	struct cm_buf why = {0};
	for (size_t i = 0; i < n->ndests; i++) {
		if (done[i])
			continue;
		char e[1024];
		int r = dest_send(&n->dests[i], req, timeout, e, sizeof(e));
		if (r == 0) {
			done[i] = 1;
			continue;
		}
		rc = -1;
		cm_buf_fmt(&why, "%s%s", why.len ? "; " : "", e);
	}
	if (rc != 0)
		cm_errf(err, errlen, "%s", why.p ? why.p : "out of memory");
	cm_buf_free(&why);
	return rc;
}
