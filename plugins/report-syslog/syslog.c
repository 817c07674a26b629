/* syslog.c - report plugin "syslog": the run's summary and each failed database as syslog lines. */
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <oma/plugin.h>

#include "common/errbuf.h"
#include "common/outcome.h"
#include "common/setting.h"

/*
 * Settings ([syslog]), declared in syslog_settings below (the core checks
 * their types and choices and fills in the defaults):
 *   facility  user, mail, daemon (default), auth, authpriv, syslog, lpr,
 *             news, uucp, cron, ftp, local0 .. local7
 *   ident     the tag in front of each line (default "oma")
 *   socket    unix socket of the local syslog daemon (/dev/log when
 *             `server` is not set)
 *   server    "HOST[:PORT]" or "[V6ADDR][:PORT]": send over UDP instead
 *             (port 514 by default); excludes `socket`
 * What a table cannot say is checked by sl_init: ident's characters, the
 * socket's path, the server's form, socket and server not both.
 *
 * Lines are written the way glibc's syslog(3) writes them, RFC 3164 style:
 * "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE" (over UDP with the host name
 * after the time stamp, as a relay expects).  A local socket is tried as a
 * datagram socket first and as a stream socket (each message ending in a
 * NUL, as glibc does) when the receiver is one.  PID is oma's process id.
 *
 * Per run: the summary line (severity info, or err when the run failed),
 * then one line per failed database, severity err:
 *   "DB 'NAME': backup failed: ERROR"
 * and, when the off-site copy failed (oma 0.3), one more, severity err:
 *   "off-site copy failed: ERROR"
 * Control characters in a message become spaces, and a line is cut (on a
 * UTF-8 character boundary, "..." appended) at SL_LINE_MAX bytes.
 */

#define SL_DEFAULT_SOCKET "/dev/log"
#define SL_DEFAULT_IDENT  "oma"
#define SL_DEFAULT_PORT   "514"
#define SL_IDENT_MAX      48
#define SL_LINE_MAX       2048 /* bytes of one message, header included */
#define SL_DB_LINES_MAX   100  /* failed databases listed one by one */
#define SL_SEND_TIMEOUT_S 10   /* a receiver that does not drain its queue */

enum { SL_ERR = 3, SL_INFO = 6 };

/* The facilities by name, in the order messages list them, and their codes. */
static const char *const facility_names[] = {
        "user",   "mail",   "daemon", "auth",   "authpriv", "syslog", "lpr",
        "news",   "uucp",   "cron",   "ftp",    "local0",   "local1", "local2",
        "local3", "local4", "local5", "local6", "local7",   NULL,
};
static const int facility_codes[] = {1,  2,  3,  4,  10, 5,  6,  7,  8, 9,
                                     11, 16, 17, 18, 19, 20, 21, 22, 23};
_Static_assert(sizeof(facility_codes) / sizeof(facility_codes[0]) ==
                       sizeof(facility_names) / sizeof(facility_names[0]) - 1,
               "a code for each facility name");

/* The keys of [syslog]; socket and server have no default, as which of
 * them applies depends on the other (sl_init). */
static const struct oma_setting syslog_settings[] = {
        {.key = "facility",
         .type = OMA_SETTING_STRING,
         .def = "daemon",
         .choices = facility_names,
         .help = "the facility of the lines (user, daemon, local0 .. local7, cron ...)"},
        {.key = "ident",
         .type = OMA_SETTING_STRING,
         .def = SL_DEFAULT_IDENT,
         .help = "the tag in front of each line: printable ASCII without spaces, ':', '[' or ']'"},
        {.key = "socket",
         .type = OMA_SETTING_STRING,
         .help = "unix socket of the local syslog daemon; default " SL_DEFAULT_SOCKET
                 " when server is not set"},
        {.key = "server",
         .type = OMA_SETTING_STRING,
         .help = "\"HOST[:PORT]\" or \"[IPV6][:PORT]\": send over UDP (port " SL_DEFAULT_PORT
                 " by default) instead of to socket"},
        {.key = NULL},
};

static struct {
	int facility;
	char ident[SL_IDENT_MAX + 1];
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *host; /* UDP server, NULL for the local socket */
	char port[8];
	long pid;
} S;

/* An open connection to the receiver. */
struct conn {
	int fd;
	bool stream;     /* local stream socket: messages end in NUL */
	bool udp;        /* remote: the header carries the host name */
	char where[300]; /* for error messages */
};

/* ---- settings ------------------------------------------------------------ */

/* The code of facility `v` (one of the table's choices: the core checked
 * it).  Returns 0, or -1 with err set for another value. */
static int parse_facility(const char *v, char *err, size_t errlen)
{
	for (size_t i = 0; facility_names[i] != NULL; i++) {
		if (strcmp(v, facility_names[i]) == 0) {
			S.facility = facility_codes[i];
			return 0;
		}
	}
	cm_errf(err, errlen, "[syslog] facility: unknown facility '%.40s'", v);
	return -1;
}

static int parse_ident(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	if (n == 0 || n > SL_IDENT_MAX) {
		cm_errf(err, errlen, "[syslog] ident: must be 1 to %d characters", SL_IDENT_MAX);
		return -1;
	}
	for (const char *p = v; *p; p++) {
		if (*p <= ' ' || *p > '~' || *p == ':' || *p == '[' || *p == ']') {
			cm_errf(err, errlen,
			        "[syslog] ident: '%.60s' may contain only printable ASCII without "
			        "spaces, ':', '[' or ']'",
			        v);
			return -1;
		}
	}
	memcpy(S.ident, v, n + 1);
	return 0;
}

static int parse_socket(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	if (n == 0 || n >= sizeof(S.socket)) {
		cm_errf(err, errlen, "[syslog] socket: path must be 1 to %zu bytes long",
		        sizeof(S.socket) - 1);
		return -1;
	}
	struct stat st;
	if (stat(v, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		cm_errf(err, errlen, "[syslog] socket: %s is not a socket", v);
		return -1;
	}
	/* A missing socket is reported when the report is sent: the daemon
	 * may be (re)started during the backup. */
	memcpy(S.socket, v, n + 1);
	return 0;
}

/* "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT"; the name is resolved when
 * sending. */
static int parse_server(const char *v, char *err, size_t errlen)
{
	const char *host = v, *port = NULL;
	size_t hlen;
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			goto bad;
		host = v + 1;
		hlen = (size_t)(close - host);
		if (close[1] == ':')
			port = close + 2;
	} else {
		const char *colon = strchr(v, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			goto bad; /* a bare IPv6 address needs brackets */
		hlen = colon ? (size_t)(colon - v) : strlen(v);
		if (colon != NULL)
			port = colon + 1;
	}
	if (hlen == 0)
		goto bad;
	for (size_t i = 0; i < hlen; i++)
		if (host[i] <= ' ' || host[i] > '~')
			goto bad;
	if (port != NULL) {
		char *end;
		errno = 0;
		long p = strtol(port, &end, 10);
		if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno != 0 || p < 1 ||
		    p > 65535) {
			cm_errf(err, errlen,
			        "[syslog] server: bad port in '%.100s' (expected 1 to 65535)", v);
			return -1;
		}
		(void)snprintf(S.port, sizeof(S.port), "%ld", p);
	} else {
		(void)snprintf(S.port, sizeof(S.port), "%s", SL_DEFAULT_PORT);
	}
	S.host = strndup(host, hlen);
	if (S.host == NULL) {
		cm_errf(err, errlen, "[syslog] server: out of memory");
		return -1;
	}
	return 0;
bad:
	cm_errf(err, errlen, "[syslog] server: '%.100s' is not HOST, HOST:PORT or [IPV6]:PORT", v);
	return -1;
}

/* Read [syslog] and check what its table cannot say; fails with the key
 * and the reason. */
static int sl_init(const struct oma_host *host, char *err, size_t errlen)
{
	free(S.host);
	memset(&S, 0, sizeof(S));
	memcpy(S.socket, SL_DEFAULT_SOCKET, sizeof(SL_DEFAULT_SOCKET));
	/* init runs in oma itself; report() in a child of it. */
	S.pid = (long)getpid();

	const char *facility = cm_setting(host, "syslog", "facility");
	const char *ident = cm_setting(host, "syslog", "ident");
	const char *sock = cm_setting(host, "syslog", "socket");
	const char *server = cm_setting(host, "syslog", "server");
	if (parse_facility(facility != NULL ? facility : "(unset)", err, errlen) != 0)
		return -1;
	if (parse_ident(ident != NULL ? ident : "", err, errlen) != 0)
		return -1;
	if (sock != NULL && server != NULL) {
		cm_errf(err, errlen, "[syslog]: set either socket or server, not both");
		return -1;
	}
	if (sock != NULL && parse_socket(sock, err, errlen) != 0)
		return -1;
	if (server != NULL && parse_server(server, err, errlen) != 0)
		return -1;
	return 0;
}

static void sl_fini(void)
{
	free(S.host);
	S.host = NULL;
}

/* ---- sending ------------------------------------------------------------- */

static void set_send_timeout(int fd)
{
	struct timeval tv = {.tv_sec = SL_SEND_TIMEOUT_S};
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connect to the local socket: datagram first, stream when the receiver is
 * a stream socket.  Returns 0, or -1 with err set. */
static int open_local(struct conn *c, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, S.socket, strlen(S.socket) + 1);
	(void)snprintf(c->where, sizeof(c->where), "%s", S.socket);
	static const int types[] = {SOCK_DGRAM, SOCK_STREAM};
	int e = 0;
	for (size_t i = 0; i < 2; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			cm_errf(err, errlen, "syslog: cannot create a socket: %s", strerror(errno));
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			set_send_timeout(fd);
			c->fd = fd;
			c->stream = types[i] == SOCK_STREAM;
			return 0;
		}
		e = errno;
		close(fd);
		if (e != EPROTOTYPE)
			break;
	}
	cm_errf(err, errlen, "syslog: cannot connect to %s: %s", S.socket, strerror(e));
	return -1;
}

/* Resolve the server and connect a UDP socket to it.  Returns 0, or -1
 * with err set. */
static int open_udp(struct conn *c, char *err, size_t errlen)
{
	(void)snprintf(c->where, sizeof(c->where), "%s port %s (udp)", S.host, S.port);
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int g = getaddrinfo(S.host, S.port, &hints, &res);
	if (g != 0) {
		cm_errf(err, errlen, "syslog: cannot resolve %s: %s", S.host, gai_strerror(g));
		return -1;
	}
	int e = 0;
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			freeaddrinfo(res);
			set_send_timeout(fd);
			c->fd = fd;
			c->udp = true;
			return 0;
		}
		e = errno;
		close(fd);
	}
	freeaddrinfo(res);
	cm_errf(err, errlen, "syslog: cannot connect to %s: %s", c->where, strerror(e));
	return -1;
}

/* Append `msg` to buf[*len] (capacity cap) with control characters made
 * spaces, cut on a character boundary with "..." when it does not fit. */
static void put_text(char *buf, size_t *len, size_t cap, const char *msg)
{
	size_t n = *len;
	size_t room = cap - 1 - n; /* bytes left for the text */
	size_t take = strlen(msg);
	bool cut = take > room;
	if (cut) {
		take = room >= 3 ? room - 3 : 0;
		/* msg[take] is the first byte left out: not inside a character */
		while (take > 0 && ((unsigned char)msg[take] & 0xc0) == 0x80)
			take--;
	}
	for (size_t i = 0; i < take; i++) {
		unsigned char ch = (unsigned char)msg[i];
		buf[n++] = (char)(ch < 0x20 || ch == 0x7f ? ' ' : ch);
	}
	if (cut && room >= 3) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	*len = n;
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Send one message at `severity`.  Returns 0, or -1 with err set. */
static int send_line(struct conn *c, int severity, const char *msg, char *err, size_t errlen)
{
	char line[SL_LINE_MAX + 1];
	time_t now = time(NULL);
	struct tm tm;
	(void)localtime_r(&now, &tm);
	char host[256] = "";
	if (c->udp) {
		if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
			(void)snprintf(host, sizeof(host), "localhost");
		host[strcspn(host, ". ")] = '\0';
		(void)snprintf(host + strlen(host), sizeof(host) - strlen(host), " ");
	}
	int h = snprintf(line, sizeof(line),
	                 "<%d>%s %2d %02d:%02d:%02d %s%s[%ld]: ", S.facility * 8 + severity,
	                 months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, host,
	                 S.ident, S.pid);
	if (h < 0 || (size_t)h >= sizeof(line)) {
		cm_errf(err, errlen, "syslog: message header too long");
		return -1;
	}
	size_t len = (size_t)h;
	put_text(line, &len, sizeof(line), msg);
	size_t todo = len + (c->stream ? 1 : 0); /* the NUL ends a message on a stream */
	size_t off = 0;
	while (off < todo) {
		ssize_t w = send(c->fd, line + off, todo - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			cm_errf(err, errlen, "syslog: cannot send to %s: %s", c->where,
			        e == EAGAIN || e == EWOULDBLOCK ? "timed out (receiver not reading)"
			                                        : strerror(e));
			return -1;
		}
		if (!c->stream && (size_t)w != todo) {
			cm_errf(err, errlen, "syslog: short send to %s", c->where);
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/* Send the summary and one line per failed database.  Returns 0, or -1 with
 * err set (receiver missing, send failed). */
static int sl_report(const struct oma_report *r, char *err, size_t errlen)
{
	/* Everything up to db_size (oma 0.1's whole struct); nothing added later. */
	if (r == NULL || r->size < offsetof(struct oma_report, db_size) + sizeof(r->db_size)) {
		cm_errf(err, errlen, "syslog: report structure too old (size %u)", r ? r->size : 0);
		return -1;
	}
	struct conn c = {.fd = -1};
	int rc = S.host != NULL ? open_udp(&c, err, errlen) : open_local(&c, err, errlen);
	if (rc != 0)
		return -1;
	rc = send_line(&c, cm_run_failed(r) ? SL_ERR : SL_INFO,
	               r->summary != NULL ? r->summary : "Summary: (none)", err, errlen);
	size_t listed = 0, failed = 0;
	for (size_t i = 0; rc == 0 && i < r->ndbs; i++) {
		const struct oma_db_result *d = OMA_REPORT_DB(r, i);
		if (d->outcome != OMA_DB_FAILED)
			continue;
		failed++;
		if (listed == SL_DB_LINES_MAX)
			continue;
		char *msg = NULL;
		if (asprintf(&msg, "DB '%s': backup failed: %s", d->name ? d->name : "?",
		             d->error ? d->error : "unknown error") < 0) {
			cm_errf(err, errlen, "syslog: out of memory");
			rc = -1;
			break;
		}
		rc = send_line(&c, SL_ERR, msg, err, errlen);
		free(msg);
		listed++;
	}
	if (rc == 0 && failed > listed) {
		char msg[128];
		(void)snprintf(msg, sizeof(msg), "%zu more databases failed (see the log)",
		               failed - listed);
		rc = send_line(&c, SL_ERR, msg, err, errlen);
	}
	if (rc == 0 &&
	    r->size >= offsetof(struct oma_report, offsite_error) + sizeof(r->offsite_error) &&
	    r->offsite == OMA_OFFSITE_FAILED) {
		char *msg = NULL;
		if (asprintf(&msg, "off-site copy failed: %s",
		             r->offsite_error ? r->offsite_error : "unknown error") < 0) {
			cm_errf(err, errlen, "syslog: out of memory");
			rc = -1;
		} else {
			rc = send_line(&c, SL_ERR, msg, err, errlen);
			free(msg);
		}
	}
	close(c.fd);
	return rc;
}

static const struct oma_report_ops ops = {.report = sl_report};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_REPORT, .name = "syslog", .version = "1.0", .init = sl_init,
                  .fini = sl_fini, .report = &ops, .settings = syslog_settings);
