/* check_syslog.c - unit tests for the "syslog" report plugin, loaded through the loader, with real receiver sockets. */
#include <arpa/inet.h>
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "loader.h"
#include "testlib.h"
#include "util.h"

#define MAX_LINES      256
#define LINE_MAX_BYTES 2048 /* the plugin's cap on one message */

static struct loader ld;
static struct loaded_plugin *plug;
static char *tmpdir;
static char *sock_path;

/* ---- the plugin, called with t_host: [syslog] from t_cfg_set ------------ */

static void setup(void)
{
	plug = t_reporter_load(&ld, "syslog");
	tmpdir = t_mkdtemp("syslog");
	sock_path = xasprintf("%s/log.sock", tmpdir);
}

static void teardown(void)
{
	t_remove_tree(tmpdir);
	free(tmpdir);
	free(sock_path);
	t_reporter_unload(&ld, plug);
	plug = NULL;
}

/* init() with the settings set so far; returns its result, err filled. */
static int init_plugin(char *err, size_t errlen)
{
	err[0] = '\0';
	return plug->desc->init(&t_host, err, errlen);
}

static void init_ok(void)
{
	char err[512];
	ck_assert_msg(init_plugin(err, sizeof(err)) == 0, "init: %s", err);
}

/* ---- receivers ----------------------------------------------------------- */

/* What a receiver got: one entry per message. */
static struct {
	int fd;
	bool stream;
	volatile int done;
	char *lines[MAX_LINES];
	size_t len[MAX_LINES];
	int n;
	pthread_t th;
} rx;

static void rx_keep(const char *p, size_t n)
{
	if (rx.n < MAX_LINES) {
		rx.lines[rx.n] = xstrndup(p, n);
		rx.len[rx.n] = n;
		rx.n++;
	}
}

/* Read datagrams until the sender is done and the queue is empty. */
static void *rx_dgram(void *arg)
{
	(void)arg;
	char buf[65536];
	for (;;) {
		ssize_t n = recv(rx.fd, buf, sizeof(buf), 0);
		if (n >= 0) {
			rx_keep(buf, (size_t)n);
			continue;
		}
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && !rx.done)
			continue;
		break;
	}
	return NULL;
}

static void set_rcv_timeout(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
}

/* A unix datagram receiver at sock_path, read by a thread. */
static void rx_start_unix_dgram(void)
{
	memset(&rx, 0, sizeof(rx));
	rx.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(rx.fd, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ck_assert_uint_lt(strlen(sock_path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	ck_assert_int_eq(bind(rx.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	set_rcv_timeout(rx.fd, 200);
	ck_assert_int_eq(pthread_create(&rx.th, NULL, rx_dgram, NULL), 0);
}

/* A UDP receiver on 127.0.0.1; returns its port. */
static int rx_start_udp(void)
{
	memset(&rx, 0, sizeof(rx));
	rx.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(rx.fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(rx.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(getsockname(rx.fd, (struct sockaddr *)&sa, &sl), 0);
	set_rcv_timeout(rx.fd, 200);
	ck_assert_int_eq(pthread_create(&rx.th, NULL, rx_dgram, NULL), 0);
	return ntohs(sa.sin_port);
}

static void rx_stop(void)
{
	rx.done = 1;
	pthread_join(rx.th, NULL);
	close(rx.fd);
}

static void rx_free(void)
{
	for (int i = 0; i < rx.n; i++)
		free(rx.lines[i]);
	rx.n = 0;
}

/* ---- reports ------------------------------------------------------------- */

static struct oma_db_result dbs[] = {
        {.name = "shop", .outcome = OMA_DB_DUMPED, .bytes = 100, .seconds = 1.0},
        {.name = "crm",
         .outcome = OMA_DB_FAILED,
         .error = "mysqldump: Got error: 1044: Access denied"},
        {.name = "skipme", .outcome = OMA_DB_SKIPPED},
        {.name = "bücher\nneu",
         .outcome = OMA_DB_FAILED,
         .error = "mysqldump: Couldn't execute 'SHOW TABLES':\nLost connection (2013)"},
        {.name = "reused", .outcome = OMA_DB_REUSED, .bytes = 5},
};

static struct oma_report failed_report(void)
{
	return (struct oma_report){
	        .size = sizeof(struct oma_report),
	        .outcome = OMA_OUTCOME_FAILED,
	        .exit_code = 4,
	        .dumped = 1,
	        .reused = 1,
	        .skipped = 1,
	        .failed = 2,
	        .total = 5,
	        .dbs = dbs,
	        .ndbs = sizeof(dbs) / sizeof(dbs[0]),
	        .db_size = sizeof(struct oma_db_result),
	        .log_path = "/backup/oma_20240101-000000/oma.log",
	        .summary =
	                "Summary: Successfully dumped 2 of 5 databases. Skipped 1, Failed 2. Error=1",
	        .backup_dir = "/backup",
	        .current_dir = "/backup/oma_20240101-000000",
	};
}

static struct oma_report good_report(void)
{
	struct oma_report r = failed_report();
	r.outcome = OMA_OUTCOME_SUCCESS;
	r.exit_code = 0;
	r.failed = 0;
	r.dbs = dbs;
	r.ndbs = 1;
	r.summary = "Summary: Successfully dumped 1 of 1 databases. Skipped 0, Failed 0. Error=0";
	return r;
}

static int send_report(const struct oma_report *r, char *err, size_t errlen)
{
	err[0] = '\0';
	return plug->desc->report->report(r, err, errlen);
}

/* Send `r`, which must succeed, and stop the receiver. */
static void send_ok(const struct oma_report *r)
{
	char err[512];
	int rc = send_report(r, err, sizeof(err));
	rx_stop();
	ck_assert_msg(rc == 0, "report: %s", err);
}

/* A received message split up: "<PRI>Mmm dd hh:mm:ss [HOST ]IDENT[PID]: MSG". */
struct msg {
	int pri;
	char host[256];
	char ident[64];
	long pid;
	char text[LINE_MAX_BYTES + 1];
};

static struct msg parse(const char *line, bool with_host)
{
	static const char *re_local =
	        "^<([0-9]{1,3})>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3][0-9] "
	        "[0-2][0-9]:[0-5][0-9]:[0-6][0-9] ()([^ :\\[]+)\\[([0-9]+)\\]: ";
	static const char *re_host =
	        "^<([0-9]{1,3})>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3][0-9] "
	        "[0-2][0-9]:[0-5][0-9]:[0-6][0-9] ([^ .]+) ([^ :\\[]+)\\[([0-9]+)\\]: ";
	regex_t re;
	ck_assert_int_eq(regcomp(&re, with_host ? re_host : re_local, REG_EXTENDED), 0);
	regmatch_t m[6];
	int rc = regexec(&re, line, 6, m, 0);
	regfree(&re);
	ck_assert_msg(rc == 0, "not a syslog line: '%s'", line);
	struct msg out = {0};
	char num[16];
	(void)snprintf(num, sizeof(num), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
	out.pri = (int)strtol(num, NULL, 10);
	(void)snprintf(out.host, sizeof(out.host), "%.*s", (int)(m[3].rm_eo - m[3].rm_so),
	               line + m[3].rm_so);
	(void)snprintf(out.ident, sizeof(out.ident), "%.*s", (int)(m[4].rm_eo - m[4].rm_so),
	               line + m[4].rm_so);
	(void)snprintf(num, sizeof(num), "%.*s", (int)(m[5].rm_eo - m[5].rm_so), line + m[5].rm_so);
	out.pid = strtol(num, NULL, 10);
	(void)snprintf(out.text, sizeof(out.text), "%s", line + m[0].rm_eo);
	return out;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_descriptor)
{
	ck_assert_str_eq(plug->desc->name, "syslog");
	ck_assert_uint_eq(plug->desc->type, OMA_PLUGIN_REPORT);
	ck_assert_ptr_nonnull(plug->desc->report);
	ck_assert_ptr_nonnull(plug->desc->init);
	ck_assert_ptr_null(plug->desc->compress);
	ck_assert_ptr_null(plug->desc->condition);
	ck_assert_ptr_null(dlsym(plug->handle, "sl_report"));
	/* its keys, whose types, choices and defaults the core applies
	 * (check_config); socket and server have no default */
	const struct oma_setting *t = plug->desc->settings;
	ck_assert_ptr_nonnull(t);
	const char *keys[] = {"facility", "ident", "socket", "server"};
	const char *defs[] = {"daemon", "oma", NULL, NULL};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_pstr_eq(t[i].key, keys[i]);
		ck_assert_uint_eq(t[i].type, OMA_SETTING_STRING);
		ck_assert_pstr_eq(t[i].def, defs[i]);
		ck_assert_ptr_nonnull(t[i].help);
	}
	ck_assert_ptr_null(t[4].key);
	size_t n = 0;
	while (t[0].choices[n] != NULL)
		n++;
	ck_assert_uint_eq(n, 19);
}
END_TEST

/* Defaults: facility daemon, ident "oma", info for a good run, oma's pid. */
START_TEST(test_good_run_defaults)
{
	t_cfg_set("socket", sock_path);
	init_ok();
	rx_start_unix_dgram();
	struct oma_report r = good_report();
	send_ok(&r);
	ck_assert_int_eq(rx.n, 1);
	struct msg m = parse(rx.lines[0], false);
	ck_assert_int_eq(m.pri, 3 * 8 + 6); /* daemon.info */
	ck_assert_str_eq(m.ident, "oma");
	ck_assert_int_eq(m.pid, getpid());
	ck_assert_str_eq(m.text, r.summary);
	ck_assert_uint_eq(rx.len[0], strlen(rx.lines[0])); /* no NUL on a datagram */
	rx_free();
}
END_TEST

/* A failed run: summary at err, then one err line per failed database, in
 * order, control characters made spaces, non-ASCII kept. */
START_TEST(test_failed_run)
{
	t_cfg_set("socket", sock_path);
	t_cfg_set("facility", "local3");
	t_cfg_set("ident", "oma-nightly");
	init_ok();
	rx_start_unix_dgram();
	struct oma_report r = failed_report();
	send_ok(&r);
	ck_assert_int_eq(rx.n, 3);
	struct msg m = parse(rx.lines[0], false);
	ck_assert_int_eq(m.pri, 19 * 8 + 3); /* local3.err */
	ck_assert_str_eq(m.ident, "oma-nightly");
	ck_assert_str_eq(m.text, r.summary);
	m = parse(rx.lines[1], false);
	ck_assert_int_eq(m.pri, 19 * 8 + 3);
	ck_assert_str_eq(m.text,
	                 "DB 'crm': backup failed: mysqldump: Got error: 1044: Access denied");
	m = parse(rx.lines[2], false);
	ck_assert_int_eq(m.pri, 19 * 8 + 3);
	ck_assert_str_eq(m.text, "DB 'bücher neu': backup failed: mysqldump: Couldn't execute "
	                         "'SHOW TABLES': Lost connection (2013)");
	rx_free();
}
END_TEST

/* A failed off-site copy: one more err line after the databases'; an older
 * core's report (without the member) gets none. */
START_TEST(test_offsite_failed)
{
	t_cfg_set("socket", sock_path);
	init_ok();
	rx_start_unix_dgram();
	struct oma_report r = good_report();
	r.exit_code = 4;
	r.offsite = OMA_OFFSITE_FAILED;
	r.offsite_error = "s3: PUT h/oma_x/shop.sql.gz: HTTP 403 SignatureDoesNotMatch";
	send_ok(&r);
	ck_assert_int_eq(rx.n, 2);
	struct msg m = parse(rx.lines[0], false);
	ck_assert_int_eq(m.pri, 3 * 8 + 3); /* daemon.err: exit code 4 */
	m = parse(rx.lines[1], false);
	ck_assert_int_eq(m.pri, 3 * 8 + 3);
	ck_assert_str_eq(m.text, "off-site copy failed: s3: PUT h/oma_x/shop.sql.gz: HTTP 403 "
	                         "SignatureDoesNotMatch");
	rx_free();
	(void)unlink(sock_path);
	rx_start_unix_dgram();
	r.size = (uint32_t)offsetof(struct oma_report, offsite);
	send_ok(&r);
	ck_assert_int_eq(rx.n, 1);
	rx_free();
}
END_TEST

/* Severity by outcome: skipped runs are fine (info), aborted and no-space
 * runs are errors; each facility name maps to its number. */
START_TEST(test_severity_and_facilities)
{
	static const struct {
		const char *name;
		int code;
	} fac[] = {{"user", 1}, {"daemon", 3},    {"auth", 4},    {"syslog", 5},
	           {"cron", 9}, {"authpriv", 10}, {"local0", 16}, {"local7", 23}};
	static const struct {
		int outcome, exit_code, sev;
	} cases[] = {
	        {OMA_OUTCOME_SUCCESS, 0, 6}, {OMA_OUTCOME_SKIPPED, 0, 6},
	        {OMA_OUTCOME_ABORTED, 1, 3}, {OMA_OUTCOME_NO_SPACE, 2, 3},
	        {OMA_OUTCOME_SUCCESS, 4, 3}, /* e.g. the JSON could not be written */
	};
	for (size_t f = 0; f < sizeof(fac) / sizeof(fac[0]); f++) {
		t_cfg_clear();
		t_cfg_set("socket", sock_path);
		t_cfg_set("facility", fac[f].name);
		init_ok();
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			rx_start_unix_dgram();
			struct oma_report r = good_report();
			r.outcome = cases[c].outcome;
			r.exit_code = cases[c].exit_code;
			send_ok(&r);
			ck_assert_int_eq(rx.n, 1);
			struct msg m = parse(rx.lines[0], false);
			ck_assert_msg(m.pri == fac[f].code * 8 + cases[c].sev,
			              "facility %s, outcome %d: PRI %d, expected %d", fac[f].name,
			              cases[c].outcome, m.pri, fac[f].code * 8 + cases[c].sev);
			rx_free();
			(void)unlink(sock_path);
		}
	}
}
END_TEST

/* No receiver: report fails, naming the socket and the reason. */
START_TEST(test_missing_socket)
{
	t_cfg_set("socket", sock_path);
	init_ok();
	struct oma_report r = good_report();
	char err[512];
	ck_assert_int_eq(send_report(&r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, sock_path) != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, "No such file or directory") != NULL, "err: %s", err);

	/* A socket nobody reads from any more (the daemon died). */
	rx_start_unix_dgram();
	rx_stop();
	ck_assert_int_eq(send_report(&r, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "Connection refused") != NULL, "err: %s", err);
}
END_TEST

/* Bad settings make init fail with the key and the reason: what the table
 * cannot say (a facility not among its choices the core refuses first, as
 * check_config tests; a host that does not check the table gets a refusal
 * all the same). */
START_TEST(test_bad_settings)
{
	static const struct {
		const char *key, *val, *key2, *val2, *want;
	} cases[] = {
	        {"facility", "kernel", NULL, NULL, "[syslog] facility: unknown facility 'kernel'"},
	        {"facility", "LOCAL0", NULL, NULL, "[syslog] facility: unknown facility"},
	        {"facility", "", NULL, NULL, "[syslog] facility"},
	        {"ident", "", NULL, NULL, "[syslog] ident"},
	        {"ident", "my app", NULL, NULL, "[syslog] ident"},
	        {"ident", "oma:x", NULL, NULL, "[syslog] ident"},
	        {"socket", "", NULL, NULL, "[syslog] socket"},
	        {"socket", "/tmp/x", "server", "127.0.0.1", "either socket or server"},
	        {"server", "127.0.0.1:0", NULL, NULL, "[syslog] server: bad port"},
	        {"server", "127.0.0.1:70000", NULL, NULL, "[syslog] server: bad port"},
	        {"server", "127.0.0.1:x", NULL, NULL, "[syslog] server: bad port"},
	        {"server", "::1", NULL, NULL, "[syslog] server"},
	        {"server", ":514", NULL, NULL, "[syslog] server"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t_cfg_clear();
		t_cfg_set(cases[i].key, cases[i].val);
		if (cases[i].key2 != NULL)
			t_cfg_set(cases[i].key2, cases[i].val2);
		char err[512];
		ck_assert_msg(init_plugin(err, sizeof(err)) != 0, "init accepted %s = '%s'",
		              cases[i].key, cases[i].val);
		ck_assert_msg(strstr(err, cases[i].want) != NULL,
		              "%s = '%s': err '%s', expected '%s'", cases[i].key, cases[i].val, err,
		              cases[i].want);
		ck_assert_ptr_null(strchr(err, '\n'));
	}
	/* A path that exists but is no socket. */
	t_cfg_clear();
	char *file = xasprintf("%s/file", tmpdir);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	t_cfg_set("socket", file);
	char err[512];
	ck_assert_int_ne(init_plugin(err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "is not a socket") != NULL, "err: %s", err);
	free(file);
}
END_TEST

/* Like glibc: a stream socket gets the messages, each ending in a NUL. */
START_TEST(test_stream_socket)
{
	t_cfg_set("socket", sock_path);
	init_ok();
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	struct oma_report r = failed_report();
	char err[512];
	int rc = send_report(&r, err, sizeof(err));
	ck_assert_msg(rc == 0, "report: %s", err);
	int fd = accept(lfd, NULL, NULL); /* queued: the plugin connected and left */
	ck_assert_int_ge(fd, 0);
	set_rcv_timeout(fd, 2000);
	char buf[16384];
	size_t len = 0;
	ssize_t n;
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	ck_assert_int_eq(n, 0); /* EOF: the plugin closed the connection */
	close(fd);
	close(lfd);
	buf[len] = '\0';
	/* Three NUL-terminated messages. */
	const char *p = buf;
	int count = 0;
	while (p < buf + len) {
		size_t l = strlen(p);
		ck_assert_uint_lt((size_t)(p - buf) + l, len); /* a NUL follows */
		struct msg m = parse(p, false);
		if (count == 0)
			ck_assert_str_eq(m.text, r.summary);
		else
			ck_assert_msg(strncmp(m.text, "DB '", 4) == 0, "line %d: %s", count,
			              m.text);
		count++;
		p += l + 1;
	}
	ck_assert_int_eq(count, 3);
}
END_TEST

/* server = "127.0.0.1:PORT": UDP, with the host name in the header. */
START_TEST(test_udp_server)
{
	int port = rx_start_udp();
	char *server = xasprintf("127.0.0.1:%d", port);
	t_cfg_set("server", server);
	t_cfg_set("facility", "local5");
	init_ok();
	struct oma_report r = failed_report();
	send_ok(&r);
	ck_assert_int_eq(rx.n, 3);
	struct msg m = parse(rx.lines[0], true);
	ck_assert_int_eq(m.pri, 21 * 8 + 3);
	char hostname[256] = "";
	ck_assert_int_eq(gethostname(hostname, sizeof(hostname) - 1), 0);
	hostname[strcspn(hostname, ".")] = '\0';
	ck_assert_str_eq(m.host, hostname);
	ck_assert_str_eq(m.ident, "oma");
	ck_assert_str_eq(m.text, r.summary);
	m = parse(rx.lines[2], true);
	ck_assert_msg(strncmp(m.text, "DB 'bücher neu': backup failed:", 32) == 0, "%s", m.text);
	rx_free();
	free(server);

	/* [::1] form is accepted by init. */
	t_cfg_clear();
	t_cfg_set("server", "[::1]:5514");
	init_ok();
}
END_TEST

/* A long error is cut at the line limit on a character boundary, with "...". */
START_TEST(test_long_line_cut)
{
	char *long_err = xmalloc(6001);
	for (size_t i = 0; i < 3000; i++)
		memcpy(long_err + 2 * i, "é", 2);
	long_err[6000] = '\0';
	struct oma_db_result d[] = {{.name = "big", .outcome = OMA_DB_FAILED, .error = long_err}};
	struct oma_report r = failed_report();
	r.dbs = d;
	r.ndbs = 1;
	t_cfg_set("socket", sock_path);
	init_ok();
	rx_start_unix_dgram();
	send_ok(&r);
	ck_assert_int_eq(rx.n, 2);
	ck_assert_uint_le(rx.len[1], LINE_MAX_BYTES);
	ck_assert_uint_ge(rx.len[1], LINE_MAX_BYTES - 4);
	struct msg m = parse(rx.lines[1], false);
	size_t tl = strlen(m.text);
	ck_assert_str_eq(m.text + tl - 3, "...");
	/* Everything before "..." is whole two-byte characters. */
	const char *body = m.text + strlen("DB 'big': backup failed: ");
	size_t bl = tl - strlen("DB 'big': backup failed: ") - 3;
	ck_assert_uint_eq(bl % 2, 0);
	for (size_t i = 0; i < bl; i += 2)
		ck_assert(memcmp(body + i, "é", 2) == 0);
	rx_free();
	free(long_err);
}
END_TEST

/* A core whose database record is larger than this build's (db_size): the
 * records are found by db_size, not by this build's struct size. */
START_TEST(test_larger_db_records)
{
	struct grown {
		struct oma_db_result d;
		char added_later[40];
	} g[2] = {
	        {.d = {.name = "first", .outcome = OMA_DB_DUMPED}},
	        {.d = {.name = "second", .outcome = OMA_DB_FAILED, .error = "boom"}},
	};
	struct oma_report r = failed_report();
	r.dbs = &g[0].d;
	r.ndbs = 2;
	r.db_size = sizeof(struct grown);
	t_cfg_set("socket", sock_path);
	init_ok();
	rx_start_unix_dgram();
	send_ok(&r);
	ck_assert_int_eq(rx.n, 2);
	struct msg m = parse(rx.lines[1], false);
	ck_assert_str_eq(m.text, "DB 'second': backup failed: boom");
	rx_free();
}
END_TEST

/* Many failed databases: the first 100 are listed, then one line with the
 * rest's count; a receiver with a short queue is not overrun (the sender
 * waits for it). */
START_TEST(test_many_failed)
{
	enum { N = 130 };
	static struct oma_db_result d[N];
	static char names[N][16];
	for (int i = 0; i < N; i++) {
		(void)snprintf(names[i], sizeof(names[i]), "db%03d", i);
		d[i] = (struct oma_db_result){.name = names[i],
		                              .outcome = OMA_DB_FAILED,
		                              .error = "boom"};
	}
	struct oma_report r = failed_report();
	r.dbs = d;
	r.ndbs = N;
	r.failed = N;
	t_cfg_set("socket", sock_path);
	init_ok();
	rx_start_unix_dgram();
	send_ok(&r);
	ck_assert_int_eq(rx.n, 1 + 100 + 1);
	struct msg m = parse(rx.lines[100], false);
	ck_assert_str_eq(m.text, "DB 'db099': backup failed: boom");
	m = parse(rx.lines[101], false);
	ck_assert_str_eq(m.text, "30 more databases failed (see the log)");
	rx_free();
}
END_TEST

static Suite *syslog_suite(void)
{
	Suite *s = suite_create("report-syslog");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_good_run_defaults);
	tcase_add_test(tc, test_failed_run);
	tcase_add_test(tc, test_offsite_failed);
	tcase_add_test(tc, test_severity_and_facilities);
	tcase_add_test(tc, test_missing_socket);
	tcase_add_test(tc, test_bad_settings);
	tcase_add_test(tc, test_stream_socket);
	tcase_add_test(tc, test_udp_server);
	tcase_add_test(tc, test_long_line_cut);
	tcase_add_test(tc, test_larger_db_records);
	tcase_add_test(tc, test_many_failed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(syslog_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
