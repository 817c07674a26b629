/* zabbix.c - report plugin "zabbix": the summary line and the log to a Zabbix trapper item. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <oma/plugin.h>

#include "agentconf.h"
#include "proto.h"
#include "zerr.h"

/*
 * Settings, [zabbix]:
 *   item_key      the trapper item (the plugin runs only when it is set)
 *   sender_bin    zabbix_sender to run (transport "sender"), looked up in PATH
 *   agent_conf    the agent's configuration file
 *   transport     "sender" (default, as upstream): run
 *                 `sender_bin -c agent_conf -k item_key -o VALUE`;
 *                 "native": speak the Zabbix sender protocol over TCP, so
 *                 zabbix_sender need not be installed
 *   server_active native only: replaces ServerActive of agent_conf
 *   hostname      native only: replaces Hostname of agent_conf
 *   timeout       seconds for one attempt: one zabbix_sender call (killed
 *                 after it), or one connection and exchange (default 10)
 *   retries       further attempts after a failure (default 3), after a pause
 *                 of 2, 4, 6 ... seconds (upstream: 10 attempts, 2..20 s)
 *
 * Every attempt and pause stays within ZBX_BUDGET_S seconds in all, well
 * below the core's limit for a reporter.  A rejected value (exit code 2,
 * "failed: 1") is retried like any failure, as upstream does: a new item
 * is known to the server only after its configuration cache was updated.
 *
 * The value (docs/BEHAVIOUR.md "Zabbix report"): the summary line, "\n", the log file.
 * Like upstream (len(value) < 65536), a value is sent whole only when it is
 * shorter than 65536 bytes, which also fits the TEXT column (65535 bytes)
 * where a MySQL-backed server keeps it.  A longer value keeps the summary
 * line and whole log lines while they fit, then upstream's two note lines,
 * so that the result is at most 65535 bytes and ends with a newline.
 * Upstream's defects are not copied: it put a space in front of every kept
 * line, a blank line before the note, and counted characters, not bytes.
 * NUL bytes (impossible in an argv string) are sent as '?'.
 *
 * Native transport, from agent_conf: ServerActive (',' separates
 * destinations, each of which must get the value; ';' separates the nodes
 * of one HA cluster, tried in order until one answers; "host", "host:port",
 * "[v6]:port" or a bare IPv6 address; port 10051 by default), Hostname (the
 * first of a comma list; when missing, HostnameItem is not evaluated and
 * the machine's host name is used, as the agent's default
 * system.hostname), TLSConnect (anything but "unencrypted" is refused: use
 * transport = "sender" for TLS).  Include= of a file, a folder (its files)
 * or a glob pattern is followed up to ZBX_INCLUDE_DEPTH levels deep.  A key
 * given twice: the last one wins.
 */

#define ZBX_VALUE_MAX 65536          /* a value is shorter than this */
#define ZBX_BUDGET_S 100             /* the whole report, retries and pauses included */
#define ZBX_OUTPUT_KEEP 16384        /* bytes of zabbix_sender's stdout/stderr kept */

#define NOTE_LINE1 "** Zabbix item values has been truncated because it exceeds %d bytes.**\n"
#define NOTE_LINE2 "** Refer to %s on the monitored host to get the full report.**\n"

enum transport { TRANSPORT_SENDER, TRANSPORT_NATIVE };

struct settings {
	char *item_key;
	char *sender_bin;
	char *agent_conf;
	enum transport transport;
	int timeout;    /* seconds */
	int retries;
	/* native */
	char *hostname;         /* effective host name */
	struct dest *dests;
	size_t ndests;
	int ready;
};

static const struct oma_host *H;
static struct settings S;

/* ---- small helpers ---------------------------------------------------- */

static void zlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void zlog(int level, const char *fmt, ...)
{
	if (H == NULL || H->log == NULL)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	H->log(level, "%s", msg);
}

static double now_s(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left until `deadline` (0 when passed), at most `cap_ms`. */
static int ms_left(double deadline, int cap_ms)
{
	double left = (deadline - now_s()) * 1000.0;
	if (left <= 0)
		return 0;
	if (left > cap_ms)
		return cap_ms;
	return (int)left + 1;
}

static char *zstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* A growing byte buffer; after a failed allocation it stays failed and
 * ignores further appends. */
struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_fmt(struct buf *b, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	buf_add(b, s, (size_t)n);
	free(s);
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Append `s` (n bytes) as a JSON string: quotes, backslashes and control
 * characters escaped, other bytes (UTF-8) as they are. */
static void buf_json_string(struct buf *b, const char *s, size_t n)
{
	buf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		switch (c) {
		case '"': buf_add(b, "\\\"", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		case '\b': buf_add(b, "\\b", 2); break;
		case '\f': buf_add(b, "\\f", 2); break;
		default:
			if (c < 0x20) {
				(void)snprintf(esc, sizeof(esc), "\\u%04x", c);
				buf_add(b, esc, 6);
			} else {
				buf_add(b, &s[i], 1);
			}
		}
	}
	buf_add(b, "\"", 1);
}

/* ---- the value -------------------------------------------------------- */

/* Build the value from `summary` and the first `loglen` bytes of the log
 * (`more`: the log is longer than that).  Returns 0, or -1 when out of memory. */
static int payload_build(const char *summary, const char *log, size_t loglen, int more,
                         const char *log_path, struct buf *out)
{
	const size_t limit = ZBX_VALUE_MAX - 1;
	size_t slen = strlen(summary);
	out->len = 0;
	if (!more && slen + 1 + loglen <= limit) {
		buf_add(out, summary, slen);
		buf_add(out, "\n", 1);
		buf_add(out, log, loglen);
	} else {
		struct buf note = {0};
		buf_fmt(&note, NOTE_LINE1 NOTE_LINE2, ZBX_VALUE_MAX, log_path);
		if (note.failed) {
			buf_free(&note);
			return -1;
		}
		size_t budget = note.len < limit ? limit - note.len : 0;
		if (slen + 1 <= budget) {
			buf_add(out, summary, slen);
			buf_add(out, "\n", 1);
			size_t pos = 0;
			while (pos < loglen) {
				const char *nl = memchr(log + pos, '\n', loglen - pos);
				if (nl == NULL)
					break; /* no newline: not a whole line */
				size_t n = (size_t)(nl - (log + pos)) + 1;
				if (out->len + n > budget)
					break;
				buf_add(out, log + pos, n);
				pos += n;
			}
		}
		buf_add(out, note.p, note.len <= limit ? note.len : 0);
		buf_free(&note);
	}
	if (out->failed)
		return -1;
	for (size_t i = 0; i < out->len; i++)
		if (out->p[i] == '\0')
			out->p[i] = '?';
	return 0;
}

/* The value for report `r`: reads at most what can be sent of the log.
 * An unreadable log is noted in the value (and logged).  Returns 0, or -1
 * with err set when out of memory. */
static int payload_for(const struct oma_report *r, struct buf *out, char *err, size_t errlen)
{
	const char *summary = r->summary != NULL ? r->summary : "";
	const char *path = r->log_path != NULL ? r->log_path : "";
	struct buf log = {0};
	int more = 0;
	int fd = path[0] != '\0' ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		int e = path[0] != '\0' ? errno : ENOENT;
		zlog(OMA_LOG_WARNING, "Zabbix: cannot read the log %s: %s", path, strerror(e));
		buf_fmt(&log, "(the log %s could not be read: %s)\n", path, strerror(e));
	} else {
		char chunk[16384];
		for (;;) {
			ssize_t n = read(fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				zlog(OMA_LOG_WARNING, "Zabbix: error reading the log %s: %s", path,
				     strerror(errno));
				break;
			}
			if (n == 0)
				break;
			buf_add(&log, chunk, (size_t)n);
			if (log.len >= ZBX_VALUE_MAX) {
				more = 1;
				break;
			}
		}
		(void)close(fd);
	}
	int rc = log.failed ? -1 : payload_build(summary, log.p ? log.p : "", log.len, more, path, out);
	buf_free(&log);
	if (rc != 0)
		zerr(err, errlen, "zabbix: out of memory building the value");
	return rc;
}

/* ---- native transport ------------------------------------------------- */

/* Send (writing) or receive exactly n bytes on a non-blocking socket before
 * `deadline`.  Returns 0, or -1 with err set (timeout, error, early close). */
static int io_all(int fd, char *p, size_t n, int writing, double deadline, char *err, size_t errlen)
{
	size_t done = 0;
	while (done < n) {
		int wait = ms_left(deadline, 1000000);
		if (wait == 0) {
			zerr(err, errlen, "timed out %s", writing ? "sending" : "waiting for the answer");
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
		int pr = poll(&pfd, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			zerr(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (pr == 0)
			continue;
		ssize_t k = writing ? send(fd, p + done, n - done, MSG_NOSIGNAL)
		                    : recv(fd, p + done, n - done, 0);
		if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (k < 0) {
			zerr(err, errlen, "%s: %s", writing ? "send" : "receive", strerror(errno));
			return -1;
		}
		if (k == 0) {
			zerr(err, errlen, "connection closed after %zu of %zu bytes of the answer", done, n);
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
		zerr(err, errlen, "cannot resolve '%s': %s", n->host, gai_strerror(grc));
		return -1;
	}
	int fd = -1;
	zerr(err, errlen, "no address");
	for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			zerr(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		int crc = connect(fd, a->ai_addr, a->ai_addrlen);
		if (crc != 0 && errno == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int pr;
			do
				pr = poll(&pfd, 1, ms_left(deadline, 1000000));
			while (pr < 0 && errno == EINTR);
			if (pr == 0) {
				zerr(err, errlen, "connect: timed out");
			} else {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
					soerr = errno;
				crc = soerr == 0 ? 0 : -1;
				if (soerr != 0)
					zerr(err, errlen, "connect: %s", strerror(soerr));
			}
		} else if (crc != 0) {
			zerr(err, errlen, "connect: %s", strerror(errno));
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
static int node_send(const struct node *n, const struct buf *req, int timeout, char *err,
                     size_t errlen)
{
	double deadline = now_s() + timeout;
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
	if (io_all(fd, (char *)hdr + ZBX_HEADER_PEEK, (size_t)hlen - ZBX_HEADER_PEEK, 0, deadline, err,
	           errlen) != 0)
		goto out;
	size_t dlen = 0;
	if (proto_data_len(hdr, (size_t)hlen, &dlen, err, errlen) != 0)
		goto out;
	data = malloc(dlen + 1);
	if (data == NULL) {
		zerr(err, errlen, "out of memory");
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

/* Deliver to one destination: its nodes in order until one answers.
 * Returns 0 accepted, 1 rejected, -1 no node answered; err set. */
static int dest_send(const struct dest *d, const struct buf *req, int timeout, char *err,
                     size_t errlen)
{
	int rc = -1;
	char why[512], name[300];
	struct buf all = {0};
	for (size_t i = 0; i < d->n; i++) {
		node_name(&d->nodes[i], name, sizeof(name));
		rc = node_send(&d->nodes[i], req, timeout, why, sizeof(why));
		if (rc >= 0) {
			zerr(err, errlen, "%s: %s", name, why);
			if (rc == 0)
				zlog(OMA_LOG_DEBUG, "Zabbix: %s accepted the value: %s", name, why);
			buf_free(&all);
			return rc;
		}
		zlog(OMA_LOG_DEBUG, "Zabbix: %s: %s", name, why);
		buf_fmt(&all, "%s%s: %s", all.len ? "; " : "", name, why);
	}
	zerr(err, errlen, "%s", all.p ? all.p : "no server");
	buf_free(&all);
	return rc;
}

/* One native attempt: every destination not yet in `done` gets the value.
 * Returns 0 when all have it, -1 otherwise (err: what went wrong). */
static int native_attempt(const struct buf *req, int *done, int timeout, char *err, size_t errlen)
{
	int rc = 0;
	struct buf why = {0};
	for (size_t i = 0; i < S.ndests; i++) {
		if (done[i])
			continue;
		char e[1024];
		int r = dest_send(&S.dests[i], req, timeout, e, sizeof(e));
		if (r == 0) {
			done[i] = 1;
			continue;
		}
		rc = -1;
		buf_fmt(&why, "%s%s", why.len ? "; " : "", e);
	}
	if (rc != 0)
		zerr(err, errlen, "%s", why.p ? why.p : "out of memory");
	buf_free(&why);
	return rc;
}

/* ---- sender transport ------------------------------------------------- */

/* Log captured output line by line at debug level. */
static void log_output(const char *what, const char *text)
{
	const char *p = text;
	while (p != NULL && *p) {
		size_t n = strcspn(p, "\r\n");
		if (n > 0)
			zlog(OMA_LOG_DEBUG, "Zabbix: %s %s: %.*s", S.sender_bin, what, (int)n, p);
		p += n;
		while (*p == '\r' || *p == '\n')
			p++;
	}
}

/* Run sender_bin once with the value, through the core (so a timeout or a
 * SIGTERM to oma stops it and everything it started).  Returns its exit
 * code, or -1 when it could not be started, was stopped (after `timeout`
 * seconds) or died of a signal (err set). */
static int sender_run(const struct buf *value, int timeout, char *err, size_t errlen)
{
	char *argv[] = {S.sender_bin, "-c", S.agent_conf, "-k", S.item_key, "-o", value->p, NULL};
	struct oma_run r = {.size = sizeof(r), .argv = argv, .timeout = timeout,
	                    .keep = ZBX_OUTPUT_KEEP};
	char why[256] = "";
	if (H->run(&r, why, sizeof(why)) != 0) {
		zerr(err, errlen, "cannot be run: %s", why);
		return -1;
	}
	log_output("stdout", r.out);
	log_output("stderr", r.errout);
	int rc = -1;
	if (r.timed_out) {
		zerr(err, errlen, "did not finish within %d seconds, stopped", timeout);
	} else if (r.cancelled) {
		zerr(err, errlen, "stopped: oma was told to stop");
	} else if (r.exit_code > 128) {
		zerr(err, errlen, "died of signal %d", r.exit_code - 128);
	} else {
		rc = r.exit_code;
		switch (rc) {
		case 0: zerr(err, errlen, "value sent"); break;
		case 1:
			zerr(err, errlen, "exit code 1: the value was not sent (its output is logged at debug level)");
			break;
		case 2:
			zerr(err, errlen, "exit code 2: value(s) rejected by the server (check the item key / host / item type)");
			break;
		default: zerr(err, errlen, "exit code %d", rc); break;
		}
	}
	free(r.out);
	free(r.errout);
	return rc;
}

/* ---- plugin interface ------------------------------------------------- */

static void settings_free(void)
{
	free(S.item_key);
	free(S.sender_bin);
	free(S.agent_conf);
	free(S.hostname);
	dests_free(S.dests, S.ndests);
	memset(&S, 0, sizeof(S));
}

static const char *get(const char *key)
{
	if (H == NULL || H->config_get == NULL)
		return NULL;
	return H->config_get("zabbix", key);
}

static const char *const transports[] = {"sender", "native", NULL};

/* The keys of [zabbix], upstream's three first.  The core checks the
 * file against this table and gives the defaults through config_get. */
static const struct oma_setting zabbix_settings[] = {
	{.key = "item_key", .type = OMA_SETTING_STRING, .flags = OMA_SETTING_SWITCH, .def = "",
	 .help = "the trapper item; the report is sent only when it is set"},
	{.key = "sender_bin", .type = OMA_SETTING_STRING, .def = "zabbix_sender",
	 .help = "zabbix_sender to run (transport \"sender\"), looked up in PATH"},
	{.key = "agent_conf", .type = OMA_SETTING_STRING, .def = "/etc/zabbix/zabbix_agentd.conf",
	 .help = "the agent's configuration (server, host name)"},
	{.key = "transport", .type = OMA_SETTING_STRING, .def = "sender", .choices = transports,
	 .help = "\"sender\" runs zabbix_sender; \"native\" speaks the protocol itself"},
	{.key = "server_active", .type = OMA_SETTING_STRING, .def = "",
	 .help = "native only: replaces ServerActive of agent_conf"},
	{.key = "hostname", .type = OMA_SETTING_STRING, .def = "",
	 .help = "native only: replaces Hostname of agent_conf"},
	{.key = "timeout", .type = OMA_SETTING_INT, .def = "10", .min = 1, .max = 300,
	 .help = "seconds for one attempt"},
	{.key = "retries", .type = OMA_SETTING_INT, .def = "3", .min = 0, .max = 10,
	 .help = "further attempts after a failure"},
	{.key = NULL},
};

/* An integer setting (the core checked it against zabbix_settings and
 * filled in its default).  Returns 0 or -1 with err set. */
static int get_int(const char *key, int *out, char *err, size_t errlen)
{
	const char *s = get(key);
	char *end = NULL;
	errno = 0;
	long v = s != NULL ? strtol(s, &end, 10) : 0;
	if (s == NULL || errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX) {
		zerr(err, errlen, "[zabbix] %s: not an integer: '%s'", key, s != NULL ? s : "(unset)");
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Whether `name` is an executable file (a path, or found in PATH). */
static int executable(const char *name)
{
	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0;
	const char *path = getenv("PATH");
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		char full[PATH_MAX];
		int k = snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? path : ".", name);
		struct stat st;
		if (k > 0 && (size_t)k < sizeof(full) && stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(full, X_OK) == 0)
			return 1;
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

/* Native transport: destinations and host name from agent_conf and the
 * overrides; refuses TLS.  Returns 0 or -1 with err set. */
static int native_setup(char *err, size_t errlen)
{
	struct agentconf ac = {0};
	const char *over_active = get("server_active");
	const char *over_host = get("hostname");
	int rc = -1;
	if (over_active != NULL && *over_active == '\0')
		over_active = NULL;
	if (over_host != NULL && *over_host == '\0')
		over_host = NULL;
	struct stat st;
	int have_conf = stat(S.agent_conf, &st) == 0;
	if (have_conf || over_active == NULL) {
		char why[900];
		if (agentconf_read(S.agent_conf, &ac, why, sizeof(why)) != 0) {
			zerr(err, errlen, "zabbix: [zabbix] agent_conf: %s", why);
			goto out;
		}
	}
	if (ac.tls_connect != NULL && strcmp(ac.tls_connect, "unencrypted") != 0) {
		zerr(err, errlen,
		     "zabbix: agent_conf %s sets TLSConnect=%s: TLS is not supported by transport = \"native\"; use transport = \"sender\"",
		     S.agent_conf, ac.tls_connect);
		goto out;
	}
	const char *active = over_active != NULL ? over_active : ac.server_active;
	if (active == NULL || *active == '\0') {
		zerr(err, errlen, "zabbix: no ServerActive in agent_conf %s and no [zabbix] server_active",
		     S.agent_conf);
		goto out;
	}
	char why[600];
	if (parse_server_active(active, &S.dests, &S.ndests, why, sizeof(why)) != 0) {
		zerr(err, errlen, "zabbix: %s %s", over_active ? "[zabbix] server_active:" : S.agent_conf,
		     why);
		goto out;
	}
	if (over_host != NULL) {
		S.hostname = strdup(over_host);
	} else if (ac.hostname != NULL && *ac.hostname != '\0') {
		S.hostname = zstrndup(ac.hostname, strcspn(ac.hostname, ","));
	} else {
		char name[HOST_NAME_MAX + 1] = "";
		if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0') {
			zerr(err, errlen, "zabbix: no Hostname in %s and gethostname failed", S.agent_conf);
			goto out;
		}
		name[sizeof(name) - 1] = '\0';
		if (ac.hostname_item != NULL)
			zlog(OMA_LOG_WARNING,
			     "Zabbix: HostnameItem in %s is not evaluated; using the host name '%s'",
			     S.agent_conf, name);
		S.hostname = strdup(name);
	}
	if (S.hostname == NULL) {
		zerr(err, errlen, "zabbix: out of memory");
		goto out;
	}
	rc = 0;
out:
	agentconf_free(&ac);
	return rc;
}

/* Read and check the settings.  Fails on a bad value, a missing
 * zabbix_sender (transport "sender") or an unusable agent_conf ("native"). */
static int zabbix_init(const struct oma_host *host, char *err, size_t errlen)
{
	H = host;
	settings_free();
	const char *v = get("item_key");
	S.item_key = strdup(v != NULL ? v : "");
	v = get("sender_bin");
	S.sender_bin = strdup(v != NULL ? v : "");
	v = get("agent_conf");
	S.agent_conf = strdup(v != NULL ? v : "");
	if (S.item_key == NULL || S.sender_bin == NULL || S.agent_conf == NULL) {
		zerr(err, errlen, "zabbix: out of memory");
		goto fail;
	}
	v = get("transport");
	S.transport = v != NULL && strcmp(v, "native") == 0 ? TRANSPORT_NATIVE : TRANSPORT_SENDER;
	char why[300];
	if (get_int("timeout", &S.timeout, why, sizeof(why)) != 0 ||
	    get_int("retries", &S.retries, why, sizeof(why)) != 0) {
		zerr(err, errlen, "zabbix: %s", why);
		goto fail;
	}
	if (S.transport == TRANSPORT_SENDER) {
		if (host->size < offsetof(struct oma_host, run) + sizeof(host->run) ||
		    host->run == NULL) {
			zerr(err, errlen, "zabbix: transport \"sender\" needs an oma core that runs "
			     "commands for plugins (0.2 or later); use transport = \"native\"");
			goto fail;
		}
		if (!executable(S.sender_bin)) {
			zerr(err, errlen,
			     "zabbix: [zabbix] sender_bin: '%s' is not an executable file%s (install zabbix-sender, or set transport = \"native\")",
			     S.sender_bin, strchr(S.sender_bin, '/') ? "" : " in PATH");
			goto fail;
		}
		const char *keys[] = {"server_active", "hostname"};
		for (size_t i = 0; i < 2; i++) {
			v = get(keys[i]);
			if (v != NULL && *v != '\0')
				zlog(OMA_LOG_WARNING,
				     "Zabbix: [zabbix] %s is used by transport = \"native\" only; zabbix_sender reads %s",
				     keys[i], S.agent_conf);
		}
	} else if (native_setup(err, errlen) != 0) {
		goto fail;
	}
	S.ready = 1;
	return 0;
fail:
	settings_free();
	return -1;
}

static void zabbix_fini(void)
{
	settings_free();
	H = NULL;
}

/* Send the report's value with the configured transport, retrying with a
 * growing pause.  Fails when it was not delivered within the attempts. */
static int zabbix_report(const struct oma_report *r, char *err, size_t errlen)
{
	if (!S.ready) {
		zerr(err, errlen, "zabbix: report before a successful init");
		return -1;
	}
	double deadline = now_s() + ZBX_BUDGET_S;
	struct buf value = {0}, req = {0};
	int *done = NULL;
	int rc = -1;
	if (payload_for(r, &value, err, errlen) != 0)
		goto out;
	if (S.transport == TRANSPORT_NATIVE) {
		buf_str(&req, "{\"request\":\"sender data\",\"data\":[{\"host\":");
		buf_json_string(&req, S.hostname, strlen(S.hostname));
		buf_str(&req, ",\"key\":");
		buf_json_string(&req, S.item_key, strlen(S.item_key));
		buf_str(&req, ",\"value\":");
		buf_json_string(&req, value.p, value.len);
		buf_str(&req, "}]}");
		done = calloc(S.ndests ? S.ndests : 1, sizeof(*done));
		if (req.failed || done == NULL || req.len > UINT32_MAX) {
			zerr(err, errlen, "zabbix: out of memory building the request");
			goto out;
		}
	}
	const char *how = S.transport == TRANSPORT_NATIVE ? "the Zabbix sender protocol" : S.sender_bin;
	char why[1024] = "";
	int attempt;
	for (attempt = 1;; attempt++) {
		int left = ms_left(deadline, ZBX_BUDGET_S * 1000) / 1000;
		int t = S.timeout < left ? S.timeout : (left > 0 ? left : 1);
		int arc;
		if (S.transport == TRANSPORT_NATIVE) {
			arc = native_attempt(&req, done, t, why, sizeof(why));
		} else {
			arc = sender_run(&value, t, why, sizeof(why));
		}
		if (arc == 0) {
			zlog(OMA_LOG_DEBUG, "Zabbix: value of %zu bytes sent to item '%s' (%s)", value.len,
			     S.item_key, why);
			rc = 0;
			goto out;
		}
		if (attempt > S.retries)
			break;
		int pause = 2 * attempt;
		if (now_s() + pause + 1 > deadline) {
			zlog(OMA_LOG_WARNING, "Zabbix: %s failed: %s, no time left for a retry", how, why);
			break;
		}
		zlog(OMA_LOG_WARNING, "Zabbix: %s failed: %s, retry in %d seconds", how, why, pause);
		struct timespec ts = {.tv_sec = pause};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	zerr(err, errlen, "zabbix: %s failed: giving up after %d tr%s: %s", how, attempt,
	     attempt == 1 ? "y" : "ies", why);
out:
	buf_free(&value);
	buf_free(&req);
	free(done);
	return rc;
}

static const struct oma_report_ops zabbix_ops = {
	.report = zabbix_report,
};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_REPORT, .name = "zabbix", .version = "1.0",
                  .init = zabbix_init, .fini = zabbix_fini, .report = &zabbix_ops,
                  .settings = zabbix_settings);
