/* check_webhook.c - unit tests for the "webhook" report plugin, against an HTTP server on 127.0.0.1 run by the test. */
#include <arpa/inet.h>
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "loader.h"
#include "report.h"
#include "testlib.h"
#include "util.h"

static struct loader ld;
static struct loaded_plugin *plug;
static char *tmpdir;
/* The result_json of failed_report() and good_report(), made once per test
 * as the core makes it (report_json); freed by teardown. */
static char *failed_result_json, *good_result_json;

/* ---- the plugin, called with t_host: [webhook] from t_cfg_set, log lines
 * in t_log ----------------------------------------------------------------- */

static void setup(void)
{
	plug = t_reporter_load(&ld, "webhook");
	tmpdir = t_mkdtemp("webhook");
}

static void teardown(void)
{
	t_remove_tree(tmpdir);
	free(tmpdir);
	t_reporter_unload(&ld, plug);
	plug = NULL;
	free(failed_result_json);
	free(good_result_json);
	failed_result_json = good_result_json = NULL;
}

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

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the HTTP server ------------------------------------------------------
 * One thread on 127.0.0.1 (a free port): per connection it reads one request
 * (headers, then Content-Length bytes of body), keeps it, and answers with
 * the next status of its list (the last one repeats), "Connection: close".
 * In hang mode it answers nothing and holds the connection until stopped. */

#define MAX_REQS 16

struct req {
	char *head; /* request line and headers, NUL-terminated */
	char *body;
	size_t body_len;
};

static struct {
	int lfd, port;
	int stop[2];
	pthread_t th;
	int status[8];
	size_t nstatus;
	bool hang;
	struct req reqs[MAX_REQS];
	int nreqs;
	int held[MAX_REQS]; /* hang mode: connections left unanswered */
	int nheld;
} srv;

/* Wait until fd is readable or the server is stopped; false when stopped. */
static bool wait_readable(int fd)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = srv.stop[0], .events = POLLIN}};
	for (;;) {
		int n = poll(p, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 && p[1].revents == 0;
	}
}

/* Content-Length of the headers `head`, 0 when absent. */
static size_t content_length(const char *head)
{
	const char *p = head;
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			return (size_t)strtoul(p + 15, NULL, 10);
	}
	return 0;
}

/* Read one request on fd and answer it; in hang mode keep fd open instead.
 * Returns whether fd may be closed. */
static bool serve_one(int fd)
{
	bool close_it = true;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char *end = NULL;
	size_t need = 0;
	for (;;) {
		if (end != NULL && len >= need)
			break;
		if (!wait_readable(fd))
			goto out;
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			goto out;
		buf_append(&buf, &len, &cap, chunk, (size_t)n);
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			*end = '\0';
			need = (size_t)(end - buf) + 4 + content_length(buf);
		}
	}
	if (srv.nreqs < MAX_REQS) {
		struct req *r = &srv.reqs[srv.nreqs];
		size_t hl = (size_t)(end - buf);
		r->head = xstrndup(buf, hl);
		r->body_len = need - hl - 4;
		r->body = xstrndup(buf + hl + 4, r->body_len);
	}
	int idx = srv.nreqs++;
	if (srv.hang) {
		if (srv.nheld < MAX_REQS) {
			srv.held[srv.nheld++] = fd;
			close_it = false;
		}
		goto out;
	}
	int status = srv.status[(size_t)idx < srv.nstatus ? (size_t)idx : srv.nstatus - 1];
	char *answer = xasprintf("answer %d\n", status);
	char *resp =
	        xasprintf("HTTP/1.1 %d Test\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	                  "%sConnection: close\r\n\r\n%s",
	                  status, strlen(answer),
	                  status / 100 == 3 ? "Location: http://127.0.0.1:1/elsewhere\r\n" : "",
	                  answer);
	(void)cm_write_all(fd, resp, strlen(resp));
	free(resp);
	free(answer);
out:
	free(buf);
	return close_it;
}

static void *serve(void *arg)
{
	(void)arg;
	while (wait_readable(srv.lfd)) {
		int fd = accept4(srv.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (serve_one(fd))
			close(fd);
	}
	for (int i = 0; i < srv.nheld; i++)
		close(srv.held[i]);
	return NULL;
}

/* Start the server answering with `statuses` (n of them; hang when n is 0). */
static void srv_start(const int *statuses, size_t n)
{
	memset(&srv, 0, sizeof(srv));
	ck_assert_uint_le(n, 8);
	if (n > 0)
		memcpy(srv.status, statuses, n * sizeof(int));
	srv.nstatus = n;
	srv.hang = n == 0;
	srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(srv.lfd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(srv.lfd, 8), 0);
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(getsockname(srv.lfd, (struct sockaddr *)&sa, &sl), 0);
	srv.port = ntohs(sa.sin_port);
	ck_assert_int_eq(pipe2(srv.stop, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&srv.th, NULL, serve, NULL), 0);
}

static void srv_stop(void)
{
	ck_assert_int_eq(write(srv.stop[1], "x", 1), 1);
	pthread_join(srv.th, NULL);
	close(srv.lfd);
	close(srv.stop[0]);
	close(srv.stop[1]);
}

static void srv_free(void)
{
	for (int i = 0; i < srv.nreqs && i < MAX_REQS; i++) {
		free(srv.reqs[i].head);
		free(srv.reqs[i].body);
	}
	srv.nreqs = 0;
}

/* The request line of request i: "POST /path HTTP/1.1". */
static char *request_line(int i)
{
	const char *h = srv.reqs[i].head;
	return xstrndup(h, strcspn(h, "\r"));
}

/* Request i has the request line `want`. */
static void assert_request_line(int i, const char *want)
{
	char *line = request_line(i);
	ck_assert_str_eq(line, want);
	free(line);
}

/* The value of header `name` in request i (malloc'ed), or NULL. */
static char *header(int i, const char *name)
{
	const char *p = srv.reqs[i].head;
	size_t nl = strlen(name);
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			return xstrndup(v, strcspn(v, "\r"));
		}
	}
	return NULL;
}

static void assert_header(int i, const char *name, const char *want)
{
	char *v = header(i, name);
	ck_assert_msg(v != NULL, "request %d has no %s header:\n%s", i, name, srv.reqs[i].head);
	ck_assert_str_eq(v, want);
	free(v);
}

static char *url_for(const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", srv.port, path);
}

/* Start the server with `statuses` and set [webhook] url to `path` on it.
 * Returns the URL (malloc'ed). */
static char *srv_url(const int *statuses, size_t n, const char *path)
{
	srv_start(statuses, n);
	char *url = url_for(path);
	t_cfg_set("url", url);
	return url;
}

/* ---- reports ------------------------------------------------------------- */

static const struct oma_db_result dbs[] = {
        {.name = "shop", .outcome = OMA_DB_DUMPED, .bytes = 12345, .seconds = 1.5},
        {.name = "we\"ird\nname\\é\x01",
         .outcome = OMA_DB_FAILED,
         .seconds = 0.25,
         .error = "mysqldump: Got error: 1049: \"Unknown database\"\tx"},
        {.name = "skipme", .outcome = OMA_DB_SKIPPED},
        {.name = "again", .outcome = OMA_DB_REUSED, .bytes = 77, .seconds = 0.0004},
};

/* What result.json holds for failed_report(). */
static const char failed_json[] =
        "{\n"
        "  \"outcome\": \"failed\",\n"
        "  \"exit_code\": 4,\n"
        "  \"summary\": \"Summary: Successfully dumped 2 of 4 databases. Skipped 1, Failed 1. Error=1\",\n"
        "  \"counts\": {\"dumped\": 1, \"reused\": 1, \"skipped\": 1, \"failed\": 1, \"total\": 4},\n"
        "  \"offsite\": {\"outcome\": \"none\", \"error\": null},\n"
        "  \"log\": \"/backup/oma_20240101-000000/oma.log\",\n"
        "  \"backup_dir\": \"/backup\",\n"
        "  \"current_dir\": null,\n"
        "  \"databases\": [\n"
        "    {\"name\": \"shop\", \"outcome\": \"dumped\", \"bytes\": 12345, \"seconds\": 1.500, \"error\": null, \"offsite\": \"none\", \"offsite_error\": null},\n"
        "    {\"name\": \"we\\\"ird\\nname\\\\é\\u0001\", \"outcome\": \"failed\", \"bytes\": 0, \"seconds\": 0.250, "
        "\"error\": \"mysqldump: Got error: 1049: \\\"Unknown database\\\"\\tx\", \"offsite\": \"none\", \"offsite_error\": null},\n"
        "    {\"name\": \"skipme\", \"outcome\": \"skipped\", \"bytes\": 0, \"seconds\": 0.000, \"error\": null, \"offsite\": \"none\", \"offsite_error\": null},\n"
        "    {\"name\": \"again\", \"outcome\": \"reused\", \"bytes\": 77, \"seconds\": 0.000, \"error\": null, \"offsite\": \"none\", \"offsite_error\": null}\n"
        "  ]\n"
        "}\n";

/* A failed run, with result_json as the core fills it in. */
static struct oma_report failed_report(void)
{
	struct oma_report r = {
	        .size = sizeof(struct oma_report),
	        .outcome = OMA_OUTCOME_FAILED,
	        .exit_code = 4,
	        .dumped = 1,
	        .reused = 1,
	        .skipped = 1,
	        .failed = 1,
	        .total = 4,
	        .dbs = dbs,
	        .ndbs = sizeof(dbs) / sizeof(dbs[0]),
	        .log_path = "/backup/oma_20240101-000000/oma.log",
	        .summary =
	                "Summary: Successfully dumped 2 of 4 databases. Skipped 1, Failed 1. Error=1",
	        .backup_dir = "/backup",
	        .current_dir = NULL,
	};
	if (failed_result_json == NULL)
		failed_result_json = report_json(&r, NULL);
	r.result_json = failed_result_json;
	return r;
}

/* What result.json holds for good_report(). */
static const char good_json[] =
        "{\n"
        "  \"outcome\": \"success\",\n"
        "  \"exit_code\": 0,\n"
        "  \"summary\": \"Summary: Successfully dumped 0 of 0 databases. Skipped 0, Failed 0. Error=0\",\n"
        "  \"counts\": {\"dumped\": 0, \"reused\": 0, \"skipped\": 0, \"failed\": 0, \"total\": 0},\n"
        "  \"offsite\": {\"outcome\": \"none\", \"error\": null},\n"
        "  \"log\": null,\n"
        "  \"backup_dir\": \"/b\",\n"
        "  \"current_dir\": \"/b/oma_20240101-000000\",\n"
        "  \"databases\": []\n"
        "}\n";

/* A good run, with result_json as the core fills it in. */
static struct oma_report good_report(void)
{
	struct oma_report r = {
	        .size = sizeof(struct oma_report),
	        .outcome = OMA_OUTCOME_SUCCESS,
	        .summary =
	                "Summary: Successfully dumped 0 of 0 databases. Skipped 0, Failed 0. Error=0",
	        .backup_dir = "/b",
	        .current_dir = "/b/oma_20240101-000000",
	};
	if (good_result_json == NULL)
		good_result_json = report_json(&r, NULL);
	r.result_json = good_result_json;
	return r;
}

static int send_report(const struct oma_report *r, char *err, size_t errlen)
{
	err[0] = '\0';
	return plug->desc->report->report(r, err, errlen);
}

/* Send `r`, which must succeed, and stop the server. */
static void send_ok(const struct oma_report *r)
{
	char err[512];
	int rc = send_report(r, err, sizeof(err));
	srv_stop();
	ck_assert_msg(rc == 0, "report: %s", err);
}

#define assert_has(s, part) \
	ck_assert_msg(strstr((s), (part)) != NULL, "'%s' not in '%s'", (part), (s))
#define assert_lacks(s, part) \
	ck_assert_msg(strstr((s), (part)) == NULL, "'%s' in '%s'", (part), (s))

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_descriptor)
{
	ck_assert_str_eq(plug->desc->name, "webhook");
	ck_assert_uint_eq(plug->desc->type, OMA_PLUGIN_REPORT);
	ck_assert_ptr_nonnull(plug->desc->report);
	ck_assert_ptr_nonnull(plug->desc->init);
	ck_assert_ptr_nonnull(plug->desc->fini);
	ck_assert_ptr_null(plug->desc->compress);
	ck_assert_ptr_null(plug->desc->condition);
	ck_assert_ptr_null(dlsym(plug->handle, "wh_report"));
	/* its keys, whose types, ranges and defaults the core applies
	 * (check_config); url and the optional ones have no default */
	static const struct {
		const char *key;
		uint32_t type;
		const char *def;
		long long min, max;
	} want[] = {
	        {"url", OMA_SETTING_STRING, NULL, 0, 0},
	        {"failure_url", OMA_SETTING_STRING, NULL, 0, 0},
	        {"failure_suffix", OMA_SETTING_STRING, NULL, 0, 0},
	        {"timeout", OMA_SETTING_INT, "10", 1, 110},
	        {"retries", OMA_SETTING_INT, "2", 0, 10},
	        {"retry_delay", OMA_SETTING_INT, "2", 0, 30},
	        {"header", OMA_SETTING_STRINGS, NULL, 0, 0},
	        {"ca_file", OMA_SETTING_STRING, NULL, 0, 0},
	};
	const struct oma_setting *t = plug->desc->settings;
	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_pstr_eq(t[i].key, want[i].key);
		ck_assert_uint_eq(t[i].type, want[i].type);
		ck_assert_pstr_eq(t[i].def, want[i].def);
		ck_assert_int_eq(t[i].min, want[i].min);
		ck_assert_int_eq(t[i].max, want[i].max);
		ck_assert_ptr_null(t[i].choices);
		ck_assert_ptr_nonnull(t[i].help);
	}
	ck_assert_ptr_null(t[sizeof(want) / sizeof(want[0])].key);
}
END_TEST

/* One POST to the URL (path and query kept) with the JSON result exactly as
 * result.json has it, Content-Type and the configured header. */
START_TEST(test_post_success)
{
	char *url = srv_url((int[]){200}, 1, "/ping/abc-123?source=oma");
	t_cfg_set("header", "Authorization: Bearer s3cr3t");
	init_ok();
	struct oma_report r = failed_report();
	send_ok(&r);
	ck_assert_int_eq(srv.nreqs, 1);
	assert_request_line(0, "POST /ping/abc-123?source=oma HTTP/1.1");
	assert_header(0, "Content-Type", "application/json");
	assert_header(0, "Authorization", "Bearer s3cr3t");
	char *cl = xasprintf("%zu", strlen(failed_json));
	assert_header(0, "Content-Length", cl);
	free(cl);
	char *ua = header(0, "User-Agent");
	ck_assert_ptr_nonnull(ua);
	ck_assert(strncmp(ua, "oma-webhook/", 12) == 0);
	free(ua);
	ck_assert_ptr_null(header(0, "Expect"));
	ck_assert_uint_eq(srv.reqs[0].body_len, strlen(failed_json));
	ck_assert_str_eq(srv.reqs[0].body, failed_json);
	srv_free();
	free(url);
}
END_TEST

/* Headers from an array; an empty result list; a Content-Type of the admin's
 * replaces ours. */
START_TEST(test_header_array)
{
	char *url = srv_url((int[]){204}, 1, "/hook");
	t_cfg_set("header", "X-One: 1\nX-Two: zwei drei\nContent-Type: application/vnd.oma+json");
	init_ok();
	struct oma_report r = good_report();
	send_ok(&r);
	ck_assert_int_eq(srv.nreqs, 1);
	assert_header(0, "X-One", "1");
	assert_header(0, "X-Two", "zwei drei");
	assert_header(0, "Content-Type", "application/vnd.oma+json");
	ck_assert_str_eq(srv.reqs[0].body, good_json);
	srv_free();
	free(url);
}
END_TEST

/* The body is result_json as the core hands it over, whatever it holds:
 * the plugin sends it and builds nothing of its own. */
START_TEST(test_body_is_result_json)
{
	char *url = srv_url((int[]){200}, 1, "/hook");
	init_ok();
	struct oma_report r = good_report();
	r.result_json = "{\"made\": \"by the core\", \"name\": \"\\ufffd\"}\n";
	send_ok(&r);
	ck_assert_int_eq(srv.nreqs, 1);
	ck_assert_uint_eq(srv.reqs[0].body_len, strlen(r.result_json));
	ck_assert_str_eq(srv.reqs[0].body, r.result_json);
	srv_free();
	free(url);
}
END_TEST

/* A report without result_json (NULL, or from a core whose struct ends
 * before it) is refused before anything is sent. */
START_TEST(test_no_result_json)
{
	char *url = srv_url((int[]){200}, 1, "/hook");
	init_ok();
	char err[512];
	struct oma_report r = good_report();
	r.result_json = NULL;
	ck_assert_int_eq(send_report(&r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "webhook: the core handed over no result JSON");
	r = good_report();
	r.size = (uint32_t)offsetof(struct oma_report, result_json);
	ck_assert_int_eq(send_report(&r, err, sizeof(err)), -1);
	assert_has(err, "webhook: report structure too old");
	srv_stop();
	ck_assert_int_eq(srv.nreqs, 0);
	srv_free();
	free(url);
}
END_TEST

/* failure_suffix: failed runs go to url + suffix, good and skipped runs to url. */
START_TEST(test_failure_suffix)
{
	static const struct {
		int outcome, exit_code;
		unsigned failed;
		const char *path;
	} cases[] = {
	        {OMA_OUTCOME_SUCCESS, 0, 0, "/ping/abc"},
	        {OMA_OUTCOME_SKIPPED, 0, 0, "/ping/abc"},
	        {OMA_OUTCOME_FAILED, 4, 1, "/ping/abc/fail"},
	        {OMA_OUTCOME_ABORTED, 1, 0, "/ping/abc/fail"},
	        {OMA_OUTCOME_NO_SPACE, 2, 0, "/ping/abc/fail"},
	        {OMA_OUTCOME_SUCCESS, 4, 0, "/ping/abc/fail"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t_cfg_clear();
		char *url = srv_url((int[]){200}, 1, "/ping/abc");
		t_cfg_set("failure_suffix", "/fail");
		init_ok();
		struct oma_report r = good_report();
		r.outcome = cases[i].outcome;
		r.exit_code = cases[i].exit_code;
		r.failed = cases[i].failed;
		send_ok(&r);
		ck_assert_int_eq(srv.nreqs, 1);
		char *want = xasprintf("POST %s HTTP/1.1", cases[i].path);
		assert_request_line(0, want);
		free(want);
		srv_free();
		free(url);
	}
	/* The suffix goes into the path, before a query; no doubled slash. */
	t_cfg_clear();
	char *url = srv_url((int[]){200}, 1, "/ping/abc/?k=v");
	t_cfg_set("failure_suffix", "/fail");
	init_ok();
	struct oma_report r = failed_report();
	send_ok(&r);
	assert_request_line(0, "POST /ping/abc/fail?k=v HTTP/1.1");
	srv_free();
	free(url);
}
END_TEST

/* failure_url: a different URL for failed runs. */
START_TEST(test_failure_url)
{
	srv_start((int[]){200}, 1);
	char *url = url_for("/ok");
	char *furl = url_for("/broken");
	t_cfg_set("url", url);
	t_cfg_set("failure_url", furl);
	init_ok();
	struct oma_report bad = failed_report(), good = good_report();
	char err[512];
	ck_assert_msg(send_report(&bad, err, sizeof(err)) == 0, "report: %s", err);
	ck_assert_msg(send_report(&good, err, sizeof(err)) == 0, "report: %s", err);
	srv_stop();
	ck_assert_int_eq(srv.nreqs, 2);
	assert_request_line(0, "POST /broken HTTP/1.1");
	assert_request_line(1, "POST /ok HTTP/1.1");
	ck_assert_str_eq(srv.reqs[0].body, failed_json);
	ck_assert_str_eq(srv.reqs[1].body, good_json);
	srv_free();
	free(url);
	free(furl);
}
END_TEST

/* 500 and 503 are retried (with the warning logged), then 200 is success. */
START_TEST(test_retry_then_success)
{
	char *url = srv_url((int[]){500, 503, 200}, 3, "/r");
	t_cfg_set("retry_delay", "0");
	init_ok();
	struct oma_report r = good_report();
	send_ok(&r);
	ck_assert_int_eq(srv.nreqs, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_str_eq(srv.reqs[i].body, good_json);
	assert_has(t_log, "30 webhook: POST http://127.0.0.1:");
	assert_has(t_log, "attempt 1 of 3 failed: HTTP 500 (answer: answer 500); retrying in 0 s");
	assert_has(t_log, "attempt 2 of 3 failed: HTTP 503");
	srv_free();
	free(url);
}
END_TEST

/* The wait between attempts starts at retry_delay and doubles. */
START_TEST(test_retry_delay_grows)
{
	char *url = srv_url((int[]){500, 500, 200}, 3, "/r");
	t_cfg_set("retry_delay", "1");
	init_ok();
	struct oma_report r = good_report();
	char err[512];
	double t0 = now_s();
	int rc = send_report(&r, err, sizeof(err));
	double took = now_s() - t0;
	srv_stop();
	ck_assert_msg(rc == 0, "report: %s", err);
	ck_assert_int_eq(srv.nreqs, 3);
	ck_assert_msg(took >= 2.9 && took < 6, "took %.2f s, expected 1 + 2 s of waiting", took);
	assert_has(t_log, "retrying in 1 s");
	assert_has(t_log, "retrying in 2 s");
	srv_free();
	free(url);
}
END_TEST

/* Retries are bounded: 1 + retries attempts, then the last error. */
START_TEST(test_retries_exhausted)
{
	char *url = srv_url((int[]){502}, 1, "/down");
	t_cfg_set("retries", "3");
	t_cfg_set("retry_delay", "0");
	init_ok();
	struct oma_report r = good_report();
	char err[512];
	int rc = send_report(&r, err, sizeof(err));
	srv_stop();
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(srv.nreqs, 4);
	char *want =
	        xasprintf("webhook: POST http://127.0.0.1:%d/down failed 4 times, last: HTTP 502 "
	                  "(answer: answer 502)",
	                  srv.port);
	ck_assert_str_eq(err, want);
	free(want);
	srv_free();
	free(url);
}
END_TEST

/* 4xx (but 408/429) and 3xx are final: no retry. */
START_TEST(test_no_retry_on_4xx)
{
	static const int codes[] = {400, 401, 404, 410, 301};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		t_cfg_clear();
		char *url = srv_url(&codes[i], 1, "/gone");
		t_cfg_set("retry_delay", "0");
		init_ok();
		struct oma_report r = good_report();
		char err[512];
		int rc = send_report(&r, err, sizeof(err));
		srv_stop();
		ck_assert_int_eq(rc, -1);
		ck_assert_int_eq(srv.nreqs, 1);
		char *want = xasprintf("HTTP %d", codes[i]);
		assert_has(err, want);
		assert_has(err, "(not retried)");
		if (codes[i] == 301)
			assert_has(err, "redirects are not followed");
		free(want);
		srv_free();
		free(url);
	}
	/* 429 Too Many Requests is worth another try. */
	t_cfg_clear();
	char *url = srv_url((int[]){429, 200}, 2, "/busy");
	t_cfg_set("retry_delay", "0");
	init_ok();
	struct oma_report r = good_report();
	send_ok(&r);
	ck_assert_int_eq(srv.nreqs, 2);
	srv_free();
	free(url);
}
END_TEST

/* A server that never answers: each attempt stops after `timeout`. */
START_TEST(test_timeout)
{
	char *url = srv_url(NULL, 0, "/slow");
	t_cfg_set("timeout", "1");
	t_cfg_set("retries", "1");
	t_cfg_set("retry_delay", "0");
	init_ok();
	struct oma_report r = good_report();
	char err[512];
	double t0 = now_s();
	int rc = send_report(&r, err, sizeof(err));
	double took = now_s() - t0;
	srv_stop();
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(srv.nreqs, 2);
	ck_assert_msg(took >= 1.9 && took < 5, "took %.2f s", took);
	assert_has(err, "failed 2 times");
	assert_has(err, "timed out");
	srv_free();
	free(url);
}
END_TEST

/* Nothing listening: the error names the address and the reason. */
START_TEST(test_connection_refused)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	int port = ntohs(sa.sin_port);
	close(fd); /* bound, never listened: connecting is refused */
	char *url = xasprintf("http://127.0.0.1:%d/x", port);
	t_cfg_set("url", url);
	t_cfg_set("retries", "1");
	t_cfg_set("retry_delay", "0");
	init_ok();
	struct oma_report r = good_report();
	char err[512];
	ck_assert_int_eq(send_report(&r, err, sizeof(err)), -1);
	char *where = xasprintf("webhook: POST %s failed 2 times, last: ", url);
	ck_assert_msg(strncmp(err, where, strlen(where)) == 0, "err: %s", err);
	char *port_s = xasprintf("port %d", port);
	assert_has(err, port_s);
	assert_has(err, "Connection refused");
	free(port_s);
	free(where);
	free(url);
}
END_TEST

/* Messages never show the password, query or fragment of a URL, nor header
 * values. */
START_TEST(test_secrets_not_shown)
{
	srv_start((int[]){403}, 1);
	char *url = xasprintf("http://user:pa55word@127.0.0.1:%d/p?token=t0ps3cret#frag", srv.port);
	t_cfg_set("url", url);
	t_cfg_set("header", "X-Api-Key: hunter2");
	init_ok();
	struct oma_report r = good_report();
	char err[512];
	int rc = send_report(&r, err, sizeof(err));
	srv_stop();
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(srv.nreqs, 1);
	assert_request_line(0, "POST /p?token=t0ps3cret HTTP/1.1");
	assert_lacks(err, "pa55word");
	assert_lacks(err, "t0ps3cret");
	assert_lacks(err, "hunter2");
	assert_has(err, "HTTP 403");
	srv_free();
	free(url);
}
END_TEST

/* Bad settings make init fail with the key and the reason, on one line:
 * what the table cannot say (the core refuses a type or range the table
 * rules out first, as check_config tests; a host that does not check the
 * table still gets no number that is not one). */
START_TEST(test_bad_settings)
{
	static const struct {
		const char *k1, *v1, *k2, *v2, *want;
	} cases[] = {
	        {NULL, NULL, NULL, NULL, "[webhook] url: missing"},
	        {"url", "", NULL, NULL, "[webhook] url: missing"},
	        {"url", "ftp://example.org/x", NULL, NULL,
	         "[webhook] url: only http:// and https://"},
	        {"url", "file:///etc/passwd", NULL, NULL, "[webhook] url"},
	        {"url", "example.org/ping", NULL, NULL, "[webhook] url: not a valid absolute URL"},
	        {"url", "http://exa mple.org/", NULL, NULL,
	         "[webhook] url: the URL contains spaces"},
	        {"url", "https://h/x", "failure_url", "gopher://h/", "[webhook] failure_url"},
	        {"url", "https://h/x", "timeout", "ten",
	         "[webhook] timeout: not an integer: 'ten'"},
	        {"url", "https://h/x", "timeout", "1.5",
	         "[webhook] timeout: not an integer: '1.5'"},
	        {"url", "https://h/x", "retries", "", "[webhook] retries: not an integer: ''"},
	        {"url", "https://h/x", "header", "no colon here", "[webhook] header #1"},
	        {"url", "https://h/x", "header", "X-A: 1\nBad Name: 2", "[webhook] header #2"},
	        {"url", "https://h/x", "header", "X-A: 1\n", "[webhook] header #2"},
	        {"url", "https://h/x", "header", "Content-Length: 3",
	         "[webhook] header #1: Content-Length"},
	        {"url", "https://h/x", "failure_suffix", "/fa il", "[webhook] failure_suffix"},
	        {"url", "https://h/x", "failure_suffix", "?x=1", "[webhook] failure_suffix"},
	        {"url", "https://h/x", "ca_file", "/nonexistent/ca.pem",
	         "[webhook] ca_file: cannot read"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t_cfg_clear();
		if (cases[i].k1 != NULL)
			t_cfg_set(cases[i].k1, cases[i].v1);
		if (cases[i].k2 != NULL)
			t_cfg_set(cases[i].k2, cases[i].v2);
		char err[512];
		ck_assert_msg(init_plugin(err, sizeof(err)) != 0, "case %zu accepted", i);
		ck_assert_msg(strstr(err, cases[i].want) != NULL,
		              "case %zu: err '%s', expected '%s'", i, err, cases[i].want);
		ck_assert_ptr_null(strchr(err, '\n'));
	}
	t_cfg_clear();
	t_cfg_set("url", "https://h/x");
	t_cfg_set("failure_url", "https://h/y");
	t_cfg_set("failure_suffix", "/fail");
	char err[512];
	ck_assert_int_ne(init_plugin(err, sizeof(err)), 0);
	assert_has(err, "either failure_url or failure_suffix");

	/* Good values at the edges are accepted. */
	t_cfg_clear();
	t_cfg_set("url", "HTTPS://Example.org:8443/ping/x");
	t_cfg_set("timeout", "110");
	t_cfg_set("retries", "0");
	t_cfg_set("retry_delay", "30");
	t_cfg_set("ca_file", "/dev/null");
	t_cfg_set("header", ""); /* header = [] */
	init_ok();
}
END_TEST

/* ---- TLS: a self-signed certificate is refused, trusted with ca_file ----- */

/* Run `argv` with stdin from `in` (or /dev/null when < 0), stdout and
 * stderr to files; returns the pid. */
static pid_t spawn(char *const argv[], int in, const char *out, const char *errf_path)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int i = in >= 0 ? in : open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errf_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (i < 0 || o < 0 || e < 0)
			_exit(126);
		dup2(i, 0);
		dup2(o, 1);
		dup2(e, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static char *tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

/* The whole file, or "" when it cannot be read. */
static char *slurp(const char *path)
{
	char *s = t_read_file(path);
	return s != NULL ? s : xstrdup("");
}

/* Start `openssl s_server` with a fresh self-signed certificate for
 * 127.0.0.1, for one connection; it sends what it reads from its stdin, a
 * pipe whose write end is *answer_fd, and prints what it receives to
 * tls.out.  Returns its pid and sets *port. */
static pid_t tls_server(int *port, int *answer_fd)
{
	char *cert = tmp_path("cert.pem"), *key = tmp_path("key.pem");
	char *out = tmp_path("tls.out"), *errp = tmp_path("tls.err");
	char *gen[] = {"openssl",  "req",
	               "-x509",    "-newkey",
	               "rsa:2048", "-nodes",
	               "-keyout",  key,
	               "-out",     cert,
	               "-subj",    "/CN=127.0.0.1",
	               "-addext",  "subjectAltName=IP:127.0.0.1",
	               "-days",    "2",
	               NULL};
	pid_t pid = spawn(gen, -1, out, errp);
	int st = 0;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	              "openssl req failed (exit %d; install openssl: scripts/install-deps.sh)",
	              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	char *srvargv[] = {"openssl", "s_server", "-accept",  "127.0.0.1:0", "-cert", cert,
	                   "-key",    key,        "-naccept", "1",           NULL};
	pid = spawn(srvargv, p[0], out, errp);
	close(p[0]);
	*answer_fd = p[1];
	*port = 0;
	for (int i = 0; i < 100 && *port == 0; i++) {
		usleep(50 * 1000);
		char *text = slurp(out);
		const char *a = strstr(text, "ACCEPT 127.0.0.1:");
		if (a != NULL && strchr(a, '\n') != NULL)
			*port = (int)strtol(a + strlen("ACCEPT 127.0.0.1:"), NULL, 10);
		free(text);
	}
	ck_assert_msg(*port > 0, "openssl s_server did not start");
	free(cert);
	free(key);
	free(out);
	free(errp);
	return pid;
}

struct answerer {
	int fd;
	int answered;
};

/* Once s_server printed the whole request (the body ends in "]\n}\n"),
 * answer it with a 200; gives up after 10 s. */
static void *answer_after_request(void *arg)
{
	struct answerer *a = arg;
	char *out = tmp_path("tls.out");
	for (int i = 0; i < 200 && !a->answered; i++) {
		char *text = slurp(out);
		const char *post = strstr(text, "POST /tls HTTP/1.1");
		if (post != NULL && strstr(post, "]\n}\n") != NULL) {
			static const char answer[] =
			        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
			a->answered = cm_write_all(a->fd, answer, strlen(answer)) == 0;
		}
		free(text);
		if (!a->answered)
			usleep(50 * 1000);
	}
	free(out);
	return NULL;
}

static void stop_process(pid_t pid)
{
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, NULL, 0);
}

START_TEST(test_tls_self_signed_refused)
{
	int port, answer_fd;
	pid_t pid = tls_server(&port, &answer_fd);
	char *url = xasprintf("https://127.0.0.1:%d/tls", port);
	t_cfg_set("url", url);
	t_cfg_set("retries", "2");
	t_cfg_set("retry_delay", "1");
	init_ok();
	struct oma_report r = good_report();
	char err[512];
	double t0 = now_s();
	int rc = send_report(&r, err, sizeof(err));
	double took = now_s() - t0;
	stop_process(pid);
	close(answer_fd);
	ck_assert_int_eq(rc, -1);
	assert_has(err, "certificate");
	assert_has(err, "(not retried)");
	/* A retry would have waited 1 s, then 2 s. */
	ck_assert_msg(took < 2.5, "took %.2f s: a certificate error was retried", took);
	char *out = tmp_path("tls.out");
	char *text = slurp(out);
	assert_lacks(text, "POST /tls");
	free(text);
	free(out);
	free(url);
}
END_TEST

START_TEST(test_tls_trusted_with_ca_file)
{
	int port, answer_fd;
	pid_t pid = tls_server(&port, &answer_fd);
	char *url = xasprintf("https://127.0.0.1:%d/tls", port);
	char *ca = tmp_path("cert.pem");
	t_cfg_set("url", url);
	t_cfg_set("ca_file", ca);
	t_cfg_set("retries", "0");
	init_ok();
	struct answerer a = {.fd = answer_fd};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, answer_after_request, &a), 0);
	struct oma_report r = good_report();
	char err[512];
	int rc = send_report(&r, err, sizeof(err));
	pthread_join(th, NULL);
	close(answer_fd);
	(void)waitpid(pid, NULL, 0); /* -naccept 1: it ends after the connection */
	ck_assert_msg(rc == 0, "report: %s", err);
	ck_assert_int_eq(a.answered, 1);
	char *out = tmp_path("tls.out");
	char *text = slurp(out);
	assert_has(text, "Content-Type: application/json");
	assert_has(text, good_json);
	free(text);
	free(out);
	free(ca);
	free(url);
}
END_TEST

static Suite *webhook_suite(void)
{
	Suite *s = suite_create("report-webhook");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_post_success);
	tcase_add_test(tc, test_header_array);
	tcase_add_test(tc, test_body_is_result_json);
	tcase_add_test(tc, test_no_result_json);
	tcase_add_test(tc, test_failure_suffix);
	tcase_add_test(tc, test_failure_url);
	tcase_add_test(tc, test_retry_then_success);
	tcase_add_test(tc, test_retry_delay_grows);
	tcase_add_test(tc, test_retries_exhausted);
	tcase_add_test(tc, test_no_retry_on_4xx);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_connection_refused);
	tcase_add_test(tc, test_secrets_not_shown);
	tcase_add_test(tc, test_bad_settings);
	tcase_add_test(tc, test_tls_self_signed_refused);
	tcase_add_test(tc, test_tls_trusted_with_ca_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Requests go straight to 127.0.0.1, whatever proxy the caller uses. */
	t_unset_proxies();
	SRunner *sr = srunner_create(webhook_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
