/* check_zabbix.c - unit tests for the Zabbix report plugin (plugins/report-zabbix), loaded through the loader. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "loader.h"
#include "proc.h"
#include "testlib.h"
#include "util.h"

#define VALUE_MAX 65536 /* a value is shorter than this */
#define NOTE1     "** Zabbix item values has been truncated because it exceeds 65536 bytes.**\n"
#define SUMMARY   "Summary: Successfully dumped 2 of 3 databases. Skipped 0, Failed 1. Error=1"

static struct loader ld;
static struct loaded_plugin *zbx;
static char *tmpdir;

/* ---- a fake host: config from a table, log lines kept ----------------- */

static struct strv logged;

static void test_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void test_log(int level, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	char *line = xasprintf("%s %s",
	                       level == OMA_LOG_DEBUG     ? "DEBUG"
	                       : level == OMA_LOG_INFO    ? "INFO"
	                       : level == OMA_LOG_WARNING ? "WARNING"
	                                                  : "ERROR",
	                       msg);
	strv_push(&logged, line);
	free(line);
	free(msg);
}

static const struct oma_host test_host = {
        .abi = OMA_PLUGIN_ABI,
        .size = sizeof(struct oma_host),
        .log = test_log,
        .config_get = t_cfg_get,
        .run = proc_host_run,
};

/* Whether a logged line contains `needle`. */
static int logged_has(const char *needle)
{
	for (size_t i = 0; i < logged.n; i++)
		if (strstr(logged.v[i], needle) != NULL)
			return 1;
	return 0;
}

static char *logged_all(void)
{
	char *s = NULL;
	size_t len = 0, cap = 0;
	buf_append(&s, &len, &cap, "", 0);
	for (size_t i = 0; i < logged.n; i++)
		buf_appendf(&s, &len, &cap, "%s\n", logged.v[i]);
	return s;
}

#define LOGGED(needle)                                                                   \
	do {                                                                             \
		char *all_ = logged_all();                                               \
		ck_assert_msg(logged_has(needle), "'%s' not logged:\n%s", needle, all_); \
		free(all_);                                                              \
	} while (0)

/* ---- setup ---------------------------------------------------------------- */

static char *tpath(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

/* The whole file, NUL-terminated; *len its size. */
static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	char *s = NULL;
	size_t l = 0, cap = 0;
	buf_append(&s, &l, &cap, "", 0);
	char chunk[8192];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(&s, &l, &cap, chunk, (size_t)n);
	close(fd);
	if (len != NULL)
		*len = l;
	return s;
}

static void setup(void)
{
	zbx = t_load_plugin(&ld, OMA_PLUGIN_REPORT, "zabbix");
	tmpdir = t_mkdtemp("zabbix");
	t_cfg_section = "zabbix";
	memset(&logged, 0, sizeof(logged));
	t_cfg_set("item_key", "oma.backup");
	t_cfg_set("retries", "0");
	t_cfg_set("timeout", "5");
}

static void teardown(void)
{
	t_remove_tree(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
	loader_unload(&ld);
	zbx = NULL;
	t_cfg_clear();
	strv_free(&logged);
}

/* init() of the plugin with the current config table.  Returns its rc; the
 * error text in err. */
static int plugin_init(char *err, size_t errlen)
{
	err[0] = '\0';
	int rc = zbx->desc->init(&test_host, err, errlen);
	if (rc == 0)
		zbx->initialized = 1; /* so that loader_unload calls fini */
	return rc;
}

#define INIT_OK()                                                   \
	do {                                                        \
		char ierr_[1024];                                   \
		int irc_ = plugin_init(ierr_, sizeof(ierr_));       \
		ck_assert_msg(irc_ == 0, "init failed: %s", ierr_); \
	} while (0)

static int report(const char *summary, const char *log_path, char *err, size_t errlen)
{
	struct oma_report r = {
	        .size = sizeof(r),
	        .outcome = OMA_OUTCOME_FAILED,
	        .exit_code = 4,
	        .dumped = 2,
	        .failed = 1,
	        .total = 3,
	        .log_path = log_path,
	        .summary = summary,
	        .backup_dir = tmpdir,
	        .current_dir = tmpdir,
	};
	err[0] = '\0';
	return zbx->desc->report->report(&r, err, errlen);
}

/* ---- the fake zabbix_sender -------------------------------------------------- */

/* A zabbix_sender that keeps its arguments (NUL separated) in argv.N for
 * call N, prints a line to stdout and stderr, and exits with line N of
 * "codes" (0 when missing). */
static char *fake_sender(const char *codes)
{
	char *path = tpath("zabbix_sender");
	char *codes_path = tpath("codes");
	t_write_file(codes_path, codes, 0755);
	char *script = xasprintf(
	        "#!/bin/sh\n"
	        "d='%s'\n"
	        "n=$(cat \"$d/count\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > \"$d/count\"\n"
	        "printf '%%s\\0' \"$@\" > \"$d/argv.$n\"\n"
	        "echo 'Response from \"127.0.0.1:10051\": \"processed: 1; failed: 0\"'\n"
	        "echo 'sender says hello on stderr' >&2\n"
	        "code=$(sed -n \"${n}p\" \"$d/codes\")\n"
	        "exit ${code:-0}\n",
	        tmpdir);
	t_write_file(path, script, 0755);
	free(script);
	free(codes_path);
	return path;
}

/* The arguments (after the program name) of fake sender call n. */
static void sender_argv(int n, struct strv *out)
{
	char *name = xasprintf("argv.%d", n);
	char *p = tpath(name);
	size_t len;
	char *data = read_file(p, &len);
	for (size_t i = 0; i < len;) {
		strv_push(out, data + i);
		i += strlen(data + i) + 1;
	}
	free(data);
	free(p);
	free(name);
}

static int sender_calls(void)
{
	char *p = tpath("count");
	if (access(p, F_OK) != 0) {
		free(p);
		return 0;
	}
	char *s = read_file(p, NULL);
	int n = (int)strtol(s, NULL, 10);
	free(s);
	free(p);
	return n;
}

/* Send `log` (len bytes, as the log file) with the fake sender; the value
 * it got goes to *value (malloc'ed; NUL-free values only). */
static char *send_log_via_sender(const char *log, size_t len, char **log_path_out)
{
	char *sender = fake_sender("0\n");
	t_cfg_set("sender_bin", sender);
	t_cfg_set("agent_conf", "/nonexistent/agent.conf");
	INIT_OK();
	char *log_path = tpath("oma.log");
	t_write_bytes(log_path, log, len, 0755);
	char err[1024];
	int rc = report(SUMMARY, log_path, err, sizeof(err));
	ck_assert_msg(rc == 0, "report failed: %s", err);
	ck_assert_int_eq(sender_calls(), 1);
	struct strv argv = {0};
	sender_argv(1, &argv);
	ck_assert_uint_eq(argv.n, 6);
	ck_assert_str_eq(argv.v[0], "-c");
	ck_assert_str_eq(argv.v[1], "/nonexistent/agent.conf");
	ck_assert_str_eq(argv.v[2], "-k");
	ck_assert_str_eq(argv.v[3], "oma.backup");
	ck_assert_str_eq(argv.v[4], "-o");
	char *value = xstrdup(argv.v[5]);
	strv_free(&argv);
	free(sender);
	if (log_path_out != NULL)
		*log_path_out = log_path;
	else
		free(log_path);
	return value;
}

/* A log of about `size` bytes in lines of varying length. */
static char *make_log(size_t size, size_t *len)
{
	char *s = NULL;
	size_t l = 0, cap = 0;
	buf_append(&s, &l, &cap, "", 0);
	for (unsigned i = 0; l < size; i++)
		buf_appendf(&s, &l, &cap,
		            "2024-01-02 03:04:05,678 DEBUG Run condition stdout: %u %.*s\n", i,
		            (int)(i * 7 % 40), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	*len = l;
	return s;
}

/* ---- payload ------------------------------------------------------------- */

START_TEST(test_payload_whole)
{
	const char
	        *log = "2024-01-02 03:04:05,678 INFO first\n2024-01-02 03:04:05,679 ERROR second\n";
	char *value = send_log_via_sender(log, strlen(log), NULL);
	char *want = xasprintf("%s\n%s", SUMMARY, log);
	ck_assert_str_eq(value, want);
	/* the sender's output is logged at debug level */
	LOGGED("DEBUG Zabbix: ");
	LOGGED("stdout: Response from \"127.0.0.1:10051\": \"processed: 1; failed: 0\"");
	LOGGED("stderr: sender says hello on stderr");
	free(want);
	free(value);
}
END_TEST

START_TEST(test_payload_truncated)
{
	size_t len;
	char *log = make_log(100 * 1024, &len);
	char *log_path = NULL;
	char *value = send_log_via_sender(log, len, &log_path);
	size_t vlen = strlen(value);
	ck_assert_msg(vlen < VALUE_MAX, "value of %zu bytes", vlen);
	/* summary first */
	ck_assert_msg(strncmp(value, SUMMARY "\n", strlen(SUMMARY) + 1) == 0, "%.100s", value);
	/* the note last, naming the log */
	char *note = xasprintf(NOTE1
	                       "** Refer to %s on the monitored host to get the full report.**\n",
	                       log_path);
	size_t nlen = strlen(note);
	ck_assert_msg(vlen > nlen && strcmp(value + vlen - nlen, note) == 0,
	              "no note at the end: %s", value + vlen - 300);
	/* between them: whole lines from the start of the log */
	const char *kept = value + strlen(SUMMARY) + 1;
	size_t klen = vlen - nlen - (strlen(SUMMARY) + 1);
	ck_assert_uint_gt(klen, 60000);
	ck_assert_int_eq(memcmp(kept, log, klen), 0);
	ck_assert_int_eq(kept[klen - 1], '\n');
	/* and as many as fit: the next line would not */
	const char *next_nl = strchr(log + klen, '\n');
	ck_assert_ptr_nonnull(next_nl);
	size_t next = (size_t)(next_nl - (log + klen)) + 1;
	ck_assert_uint_gt(vlen + next, VALUE_MAX - 1);
	free(note);
	free(value);
	free(log_path);
	free(log);
}
END_TEST

/* A value of exactly 65535 bytes is sent whole; one byte more is truncated. */
START_TEST(test_payload_exact_fit)
{
	size_t len;
	char *log = make_log(70000, &len);
	size_t room = VALUE_MAX - 1 - (strlen(SUMMARY) + 1);
	/* cut the log to `room` bytes ending in a newline */
	log[room - 1] = '\n';
	char *value = send_log_via_sender(log, room, NULL);
	ck_assert_uint_eq(strlen(value), VALUE_MAX - 1);
	ck_assert_int_eq(memcmp(value + strlen(SUMMARY) + 1, log, room), 0);
	ck_assert_ptr_null(strstr(value, "truncated"));
	free(value);

	/* one byte more */
	teardown();
	setup();
	log[room] = '\n';
	value = send_log_via_sender(log, room + 1, NULL);
	ck_assert_uint_lt(strlen(value), VALUE_MAX);
	ck_assert_ptr_nonnull(strstr(value, NOTE1));
	free(value);
	free(log);
}
END_TEST

/* Lines that exactly fill the room left by the note: all of them kept. */
START_TEST(test_payload_lines_fill_exactly)
{
	char *log_path = tpath("oma.log");
	char *note = xasprintf(NOTE1
	                       "** Refer to %s on the monitored host to get the full report.**\n",
	                       log_path);
	size_t budget = VALUE_MAX - 1 - strlen(note) - (strlen(SUMMARY) + 1);
	/* lines of 100 bytes, the last one shorter so the kept part is exactly `budget` */
	char *log = NULL;
	size_t l = 0, cap = 0;
	buf_append(&log, &l, &cap, "", 0);
	while (l + 100 <= budget) {
		char line[101];
		memset(line, 'a' + (int)(l / 100 % 26), 99);
		line[99] = '\n';
		buf_append(&log, &l, &cap, line, 100);
	}
	size_t rest = budget - l;
	ck_assert_uint_gt(rest, 1);
	char *last = xcalloc(1, rest + 1);
	memset(last, 'z', rest - 1);
	last[rest - 1] = '\n';
	buf_append(&log, &l, &cap, last, rest);
	/* and more than the note's room, so that the value must be cut */
	for (int i = 0; i < 20; i++)
		buf_append(&log, &l, &cap, "a line that does not fit any more\n", 34);
	char *value = send_log_via_sender(log, l, NULL);
	ck_assert_uint_eq(strlen(value), VALUE_MAX - 1);
	ck_assert_int_eq(memcmp(value + strlen(SUMMARY) + 1, log, budget), 0);
	ck_assert_str_eq(value + VALUE_MAX - 1 - strlen(note), note);
	free(value);
	free(last);
	free(log);
	free(note);
	free(log_path);
}
END_TEST

/* A single line longer than the cap: the summary and the note only. */
START_TEST(test_payload_huge_line)
{
	size_t len = 200000;
	char *log = xmalloc(len);
	memset(log, 'q', len);
	log[len - 1] = '\n';
	char *log_path = NULL;
	char *value = send_log_via_sender(log, len, &log_path);
	char *want = xasprintf("%s\n" NOTE1
	                       "** Refer to %s on the monitored host to get the full report.**\n",
	                       SUMMARY, log_path);
	ck_assert_str_eq(value, want);
	free(want);
	free(value);
	free(log_path);
	free(log);
}
END_TEST

START_TEST(test_payload_unreadable_log)
{
	char *sender = fake_sender("0\n");
	t_cfg_set("sender_bin", sender);
	INIT_OK();
	char err[1024];
	ck_assert_int_eq(report(SUMMARY, "/nonexistent/oma.log", err, sizeof(err)), 0);
	struct strv argv = {0};
	sender_argv(1, &argv);
	ck_assert_uint_eq(argv.n, 6);
	ck_assert_str_eq(argv.v[5], SUMMARY "\n(the log /nonexistent/oma.log could not be read: "
	                                    "No such file or directory)\n");
	LOGGED("WARNING Zabbix: cannot read the log /nonexistent/oma.log");
	strv_free(&argv);
	free(sender);
}
END_TEST

/* ---- sender transport ---------------------------------------------------- */

START_TEST(test_sender_exit_codes)
{
	char *sender = fake_sender("2\n1\n7\n");
	t_cfg_set("sender_bin", sender);
	INIT_OK();
	char *log_path = tpath("oma.log");
	t_write_file(log_path, "x\n", 0755);
	char err[1024];
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "zabbix: ") == err, "%s", err);
	ck_assert_msg(strstr(err,
	                     "zabbix_sender failed: giving up after 1 try: exit code 2: value(s) "
	                     "rejected by the server (check the item key / host / item type)") !=
	                      NULL,
	              "%s", err);
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "exit code 1: the value was not sent") != NULL, "%s", err);
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "giving up after 1 try: exit code 7") != NULL, "%s", err);
	ck_assert_int_eq(sender_calls(), 3);
	free(log_path);
	free(sender);
}
END_TEST

START_TEST(test_sender_retry)
{
	char *sender = fake_sender("1\n2\n0\n");
	t_cfg_set("sender_bin", sender);
	t_cfg_set("retries", "3");
	INIT_OK();
	char *log_path = tpath("oma.log");
	t_write_file(log_path, "x\n", 0755);
	char err[1024];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = report(SUMMARY, log_path, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(sender_calls(), 3);
	/* pauses of 2 and 4 seconds */
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(secs >= 5.9 && secs < 9, "took %.1f s", secs);
	LOGGED("WARNING Zabbix: ");
	LOGGED("zabbix_sender failed: exit code 1: the value was not sent (its output is logged at debug "
	       "level), retry in 2 seconds");
	LOGGED("zabbix_sender failed: exit code 2: value(s) rejected by the server (check the item key / "
	       "host / item type), retry in 4 seconds");
	/* every call got the same arguments */
	struct strv a1 = {0}, a3 = {0};
	sender_argv(1, &a1);
	sender_argv(3, &a3);
	ck_assert_uint_eq(a1.n, a3.n);
	for (size_t i = 0; i < a1.n; i++)
		ck_assert_str_eq(a1.v[i], a3.v[i]);
	strv_free(&a1);
	strv_free(&a3);
	free(log_path);
	free(sender);
}
END_TEST

START_TEST(test_sender_missing_and_hanging)
{
	char err[1024];
	t_cfg_set("sender_bin", "/nonexistent/zabbix_sender");
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	ck_assert_msg(
	        strstr(err,
	               "[zabbix] sender_bin: '/nonexistent/zabbix_sender' is not an executable file") !=
	                NULL,
	        "%s", err);
	t_cfg_set("sender_bin", "no-such-zabbix-sender-in-path");
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "is not an executable file in PATH") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "transport = \"native\"") != NULL, "%s", err);

	/* a sender that hangs is killed after `timeout` seconds */
	char *sender = tpath("hang");
	t_write_file(sender, "#!/bin/sh\nsleep 30\n", 0755);
	t_cfg_set("sender_bin", sender);
	t_cfg_set("timeout", "1");
	INIT_OK();
	char *log_path = tpath("oma.log");
	t_write_file(log_path, "x\n", 0755);
	time_t t0 = time(NULL);
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), -1);
	ck_assert_int_lt(time(NULL) - t0, 20); /* stopped, not after the sender's 30 s */
	ck_assert_msg(
	        strstr(err,
	               "hang failed: giving up after 1 try: did not finish within 1 seconds, stopped") !=
	                NULL,
	        "%s", err);
	free(log_path);
	free(sender);
}
END_TEST

START_TEST(test_bad_settings)
{
	char err[1024];
	char *sender = fake_sender("0\n");
	t_cfg_set("sender_bin", sender);
	/* Types, ranges and choices are the core's to check, from the
	 * plugin's table (check_config); what still reaches the plugin
	 * unusable is refused all the same. */
	t_cfg_set("transport", "sender");
	t_cfg_set("timeout", "5");
	t_cfg_set("retries", "x");
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	ck_assert_str_eq(err, "zabbix: [zabbix] retries: not an integer: 'x'");
	t_cfg_set("retries", "0");
	/* overrides meant for the native transport are pointed out */
	t_cfg_set("hostname", "h");
	INIT_OK();
	LOGGED("WARNING Zabbix: [zabbix] hostname is used by transport = \"native\" only");
	/* report before init */
	zbx->desc->fini();
	zbx->initialized = 0;
	ck_assert_int_eq(report(SUMMARY, "/x", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "zabbix: report before a successful init");
	free(sender);
}
END_TEST

/* ---- a fake Zabbix server --------------------------------------------------- */

struct fake {
	int lfd;
	int port;
	int family;
	int conns;            /* connections to serve */
	const char *reply;    /* JSON answered; NULL: answer with success */
	int silent;           /* read the request, answer nothing, hold the connection */
	int raw_reply;        /* reply is sent without a header */
	int reject_first;     /* the first request is answered "failed: 1" */
	char got[256 * 1024]; /* the last request, header included, NUL-terminated */
	size_t got_len;
	int served;
	pthread_t th;
};

static int read_n(int fd, char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 10000) <= 0)
			return -1;
		ssize_t k = read(fd, p + done, n - done);
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	for (int i = 0; i < f->conns; i++) {
		struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
		if (poll(&pfd, 1, 15000) <= 0 || (pfd.revents & POLLIN) == 0)
			break;
		int c = accept(f->lfd, NULL, NULL);
		if (c < 0)
			break;
		char hdr[13];
		if (read_n(c, hdr, 13) == 0) {
			uint32_t len = (uint32_t)(unsigned char)hdr[5] |
			               (uint32_t)(unsigned char)hdr[6] << 8 |
			               (uint32_t)(unsigned char)hdr[7] << 16 |
			               (uint32_t)(unsigned char)hdr[8] << 24;
			memcpy(f->got, hdr, 13);
			if (len < sizeof(f->got) - 14 && read_n(c, f->got + 13, len) == 0) {
				f->got_len = 13 + (size_t)len;
				f->got[f->got_len] = '\0';
				f->served++;
				if (f->silent) {
					char b[16];
					struct pollfd q = {.fd = c, .events = POLLIN};
					(void)poll(&q, 1, 5000);
					(void)read(c, b, sizeof(b));
				} else {
					const char *reply =
					        f->reply
					                ? f->reply
					                : "{\"response\":\"success\",\"info\":\"processed: 1; failed: 0; total: 1; seconds spent: 0.000042\"}";
					if (f->reject_first && f->served == 1)
						reply = "{\"response\":\"success\",\"info\":\"processed: 0; failed: 1; total: 1\"}";
					size_t rl = strlen(reply);
					if (!f->raw_reply) {
						unsigned char h[13] = {'Z', 'B', 'X', 'D', 1};
						for (int k = 0; k < 4; k++)
							h[5 + k] = (unsigned char)(rl >> (8 * k));
						(void)cm_write_all(c, h, 13);
					}
					(void)cm_write_all(c, reply, rl);
				}
			}
		}
		close(c);
	}
	return NULL;
}

/* Listen on 127.0.0.1 (or ::1 when v6) on a free port.  Returns 0, or -1
 * when the address family is not available. */
static int fake_start(struct fake *f, int v6, int conns)
{
	memset(f, 0, sizeof(*f));
	f->conns = conns;
	f->family = v6 ? AF_INET6 : AF_INET;
	f->lfd = socket(f->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0)
		return -1;
	int one = 1;
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	}
	if (bind(f->lfd, (struct sockaddr *)&ss, sl) != 0 || listen(f->lfd, 8) != 0) {
		close(f->lfd);
		return -1;
	}
	sl = sizeof(ss);
	ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&ss, &sl), 0);
	f->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                   : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static void fake_run(struct fake *f)
{
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

/* Wait for the server thread; a listener shut down ends its wait for
 * further connections. */
static void fake_stop(struct fake *f)
{
	(void)shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->lfd);
}

/* A port on 127.0.0.1 where nothing listens. */
static int dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t sl = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* The JSON of the request for host h, key oma.backup and value v (already escaped). */
static char *request_json(const char *h, const char *v)
{
	return xasprintf(
	        "{\"request\":\"sender data\",\"data\":[{\"host\":\"%s\",\"key\":\"oma.backup\","
	        "\"value\":\"%s\"}]}",
	        h, v);
}

/* Native transport set-up: agent_conf with the given text. */
static void native_conf(const char *agent_conf_text)
{
	t_cfg_set("transport", "native");
	char *conf = tpath("agent.conf");
	t_write_file(conf, agent_conf_text, 0755);
	t_cfg_set("agent_conf", conf);
	free(conf);
}

static char *simple_log(void)
{
	char *log_path = tpath("oma.log");
	t_write_file(log_path, "line one\n", 0755);
	return log_path;
}

#define SIMPLE_VALUE SUMMARY "\\nline one\\n"

/* The last request fake f got carries SIMPLE_VALUE for host h. */
static void assert_got_simple(const struct fake *f, const char *h)
{
	char *want = request_json(h, SIMPLE_VALUE);
	ck_assert_str_eq(f->got + 13, want);
	free(want);
}

/* Native transport with agent_conf text `conf`: init (which must succeed)
 * and report SUMMARY with the simple log.  Returns the report's result. */
static int native_report(const char *conf, char *err, size_t errlen)
{
	native_conf(conf);
	INIT_OK();
	char *log_path = simple_log();
	int rc = report(SUMMARY, log_path, err, errlen);
	free(log_path);
	return rc;
}

/* ---- native transport ---------------------------------------------------- */

/* Report "Summary: x" with a log of `log_text` over the native transport
 * to a fake server (host name `hostname`), which must accept it; *f is the
 * stopped server with the request it got. */
static void native_send_log(struct fake *f, const char *hostname, const char *log_text)
{
	ck_assert_int_eq(fake_start(f, 0, 1), 0);
	fake_run(f);
	char *conf = xasprintf("# comment\nServerActive = 127.0.0.1:%d\nHostname=%s\n", f->port,
	                       hostname);
	native_conf(conf);
	INIT_OK();
	char *log_path = tpath("oma.log");
	t_write_file(log_path, log_text, 0755);
	char err[1024];
	int rc = report("Summary: x", log_path, err, sizeof(err));
	fake_stop(f);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(f->served, 1);
	ck_assert_uint_ge(f->got_len, 13);
	free(log_path);
	free(conf);
}

START_TEST(test_native_exact_bytes)
{
	struct fake f;
	/* quotes, backslash, tab, newlines, a control character and UTF-8 */
	native_send_log(&f, "db-\"1\"",
	                "a \"quoted\" \\path\\\ttab\r\nGr\xc3\xbc\xc3\x9f"
	                "e \xe2\x9c\x93 \x01 end\n");
	char *want = request_json(
	        "db-\\\"1\\\"",
	        "Summary: x\\na \\\"quoted\\\" \\\\path\\\\\\ttab\\r\\nGr\xc3\xbc\xc3\x9f"
	        "e \xe2\x9c\x93 \\u0001 end\\n");
	size_t wl = strlen(want);
	const unsigned char *h = (const unsigned char *)f.got;
	ck_assert_int_eq(memcmp(h, "ZBXD\x01", 5), 0);
	ck_assert_uint_eq(h[5] | h[6] << 8 | h[7] << 16 | (uint32_t)h[8] << 24, wl);
	ck_assert_uint_eq(h[9] | h[10] | h[11] | h[12], 0);
	ck_assert_uint_eq(f.got_len, 13 + wl);
	ck_assert_str_eq(f.got + 13, want);
	LOGGED("accepted the value: processed: 1; failed: 0");
	free(want);
}
END_TEST

/* The request is JSON by result.json's rules (common/json.c): a byte that
 * is not UTF-8 becomes \ufffd, DEL, C1 controls and the line separators
 * are escaped, so the server always gets valid JSON. */
START_TEST(test_native_not_utf8)
{
	struct fake f;
	native_send_log(&f, "db1", "caf\xe9 \x7f \xc2\x85 \xe2\x80\xa8 ok\n");
	char *want = request_json("db1", "Summary: x\\ncaf\\ufffd \\u007f \\u0085 \\u2028 ok\\n");
	ck_assert_str_eq(f.got + 13, want);
	free(want);
}
END_TEST

START_TEST(test_native_rejected)
{
	const char *replies[] = {
	        "{\"response\":\"success\",\"info\":\"processed: 0; failed: 1; total: 1; seconds spent: 0.000042\"}",
	        "{\"response\":\"failed\",\"info\":\"cannot parse\"}",
	        "{\"info\":\"no response key\"}",
	        "HTTP/1.0 400 Bad Request\r\n\r\n",
	};
	const char *want[] = {
	        "value rejected by the server (check the item key / host / item type): processed: 0; failed: 1",
	        "the server answered \"failed\": cannot parse",
	        "unexpected answer: {\"info\":\"no response key\"}",
	        "the answer is not in the Zabbix protocol",
	};
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		struct fake f;
		ck_assert_int_eq(fake_start(&f, 0, 1), 0);
		f.reply = replies[i];
		f.raw_reply = i == 3;
		fake_run(&f);
		char *conf = xasprintf("ServerActive=127.0.0.1:%d\nHostname=h\n", f.port);
		char err[1024];
		int rc = native_report(conf, err, sizeof(err));
		fake_stop(&f);
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(strstr(err, want[i]) != NULL, "case %zu: %s", i, err);
		ck_assert_msg(strstr(err, "127.0.0.1:") != NULL, "names the server: %s", err);
		free(conf);
	}
}
END_TEST

/* ';' nodes of an HA cluster: the first refuses, the second gets the value. */
START_TEST(test_native_ha_failover)
{
	struct fake f;
	ck_assert_int_eq(fake_start(&f, 0, 1), 0);
	fake_run(&f);
	char *conf = xasprintf("ServerActive=127.0.0.1:%d ; 127.0.0.1:%d\nHostname=h\n",
	                       dead_port(), f.port);
	char err[1024];
	int rc = native_report(conf, err, sizeof(err));
	fake_stop(&f);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(f.served, 1);
	assert_got_simple(&f, "h");
	LOGGED("Connection refused");
	free(conf);
}
END_TEST

/* ',' destinations: each gets the value; one missing makes the report fail. */
START_TEST(test_native_all_destinations)
{
	struct fake a, b;
	ck_assert_int_eq(fake_start(&a, 0, 1), 0);
	ck_assert_int_eq(fake_start(&b, 0, 1), 0);
	fake_run(&a);
	fake_run(&b);
	char *conf = xasprintf("ServerActive=127.0.0.1:%d,127.0.0.1:%d\nHostname=h\n", a.port,
	                       b.port);
	char err[1024];
	int rc = native_report(conf, err, sizeof(err));
	fake_stop(&a);
	fake_stop(&b);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(a.served, 1);
	ck_assert_int_eq(b.served, 1);
	free(conf);

	/* the second destination is down: a failure, though the first got it */
	ck_assert_int_eq(fake_start(&a, 0, 1), 0);
	fake_run(&a);
	int dead = dead_port();
	conf = xasprintf("ServerActive=127.0.0.1:%d,127.0.0.1:%d\nHostname=h\n", a.port, dead);
	rc = native_report(conf, err, sizeof(err));
	fake_stop(&a);
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(a.served, 1);
	char *port = xasprintf("127.0.0.1:%d: connect: Connection refused", dead);
	ck_assert_msg(strstr(err, port) != NULL, "%s", err);
	free(port);
	free(conf);
}
END_TEST

/* A retry sends only to the destinations that did not get the value yet. */
START_TEST(test_native_retry_only_missing)
{
	struct fake a, b;
	ck_assert_int_eq(fake_start(&a, 0, 5), 0);
	ck_assert_int_eq(fake_start(&b, 0, 5), 0);
	a.reject_first = 1;
	fake_run(&a);
	fake_run(&b);
	char *conf = xasprintf("ServerActive=127.0.0.1:%d,127.0.0.1:%d\nHostname=h\n", b.port,
	                       a.port);
	native_conf(conf);
	t_cfg_set("retries", "2");
	INIT_OK();
	char *log_path = simple_log();
	char err[1024];
	int rc = report(SUMMARY, log_path, err, sizeof(err));
	fake_stop(&a);
	fake_stop(&b);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(a.served, 2);
	ck_assert_int_eq(b.served, 1);
	LOGGED("WARNING Zabbix: the Zabbix sender protocol failed: 127.0.0.1:");
	LOGGED("value rejected by the server (check the item key / host / item type): processed: 0; "
	       "failed: 1; total: 1, retry in 2 seconds");
	free(log_path);
	free(conf);
}
END_TEST

START_TEST(test_native_unreachable_and_timeout)
{
	char *conf = xasprintf("ServerActive=127.0.0.1:%d;127.0.0.1:%d\nHostname=h\n", dead_port(),
	                       dead_port());
	native_conf(conf);
	INIT_OK();
	char *log_path = simple_log();
	char err[1024];
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "Connection refused") != NULL, "%s", err);
	ck_assert_msg(
	        strstr(err, "zabbix: the Zabbix sender protocol failed: giving up after 1 try: ") ==
	                err,
	        "%s", err);
	free(conf);

	/* an unknown host name */
	native_conf("ServerActive=no-such-host.invalid\nHostname=h\n");
	INIT_OK();
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot resolve 'no-such-host.invalid'") != NULL, "%s", err);

	/* a server that never answers: bounded by timeout */
	struct fake f;
	ck_assert_int_eq(fake_start(&f, 0, 1), 0);
	f.silent = 1;
	fake_run(&f);
	conf = xasprintf("ServerActive=127.0.0.1:%d\nHostname=h\n", f.port);
	native_conf(conf);
	t_cfg_set("timeout", "1");
	INIT_OK();
	int rc = report(SUMMARY, log_path, err, sizeof(err));
	fake_stop(&f);
	ck_assert_int_eq(rc, -1);
	/* The timeout fired (the silent server never answers); how soon is not
	 * asserted on a noisy machine. */
	ck_assert_msg(strstr(err, "timed out waiting for the answer") != NULL, "%s", err);
	free(log_path);
	free(conf);
}
END_TEST

START_TEST(test_native_ipv6)
{
	struct fake f;
	if (fake_start(&f, 1, 1) != 0)
		return; /* no IPv6 loopback here */
	fake_run(&f);
	char *conf = xasprintf("ServerActive=[::1]:%d\nHostname=h6\n", f.port);
	char err[1024];
	int rc = native_report(conf, err, sizeof(err));
	fake_stop(&f);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(f.served, 1);
	assert_got_simple(&f, "h6");
	LOGGED("[::1]:");
	free(conf);
}
END_TEST

/* ServerActive spellings the plugin refuses at init. */
START_TEST(test_server_active_errors)
{
	const char *bad[][2] = {
	        {"a:0", "port '0' is not 1..65535"},
	        {"a:70000", "port '70000' is not 1..65535"},
	        {"a:x", "port 'x' is not 1..65535"},
	        {"a:", "port '' is not 1..65535"},
	        {"a,,b", "empty entry"},
	        {"a;", "empty entry"},
	        {" , a", "empty entry"},
	        {"[::1", "missing ']'"},
	        {"[::1]x", "text after ']'"},
	        {"[]:5", "empty host name"},
	        {":5", "empty host name"},
	};
	char err[1024];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *conf = xasprintf("ServerActive=%s\nHostname=h\n", bad[i][0]);
		native_conf(conf);
		ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, bad[i][1]) != NULL, "'%s': %s", bad[i][0], err);
		ck_assert_msg(strstr(err, "agent.conf") != NULL, "names the file: %s", err);
		free(conf);
	}
	/* from [zabbix] server_active: the key is named */
	native_conf("Hostname=h\n");
	t_cfg_set("server_active", "a:99999");
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "[zabbix] server_active: ServerActive 'a:99999'") != NULL, "%s",
	              err);
	/* good spellings, including a bare IPv6 address and spaces */
	t_cfg_set("server_active", " a.example:1 ; [fe80::1]:2,::1 ,b;c:65535,[::2]");
	INIT_OK();
}
END_TEST

/* agent_conf: Include (file, folder, glob), last value wins, overrides,
 * the host name fallback, TLS refused. */
START_TEST(test_agent_conf)
{
	struct fake f;
	ck_assert_int_eq(fake_start(&f, 0, 4), 0);
	fake_run(&f);
	char *incdir = tpath("agentd.d");
	ck_assert_int_eq(mkdir(incdir, 0755), 0);
	char *p = xasprintf("%s/a.conf", incdir);
	t_write_file(p, "Hostname = from-dir-a\n", 0755);
	free(p);
	p = xasprintf("%s/b.conf", incdir);
	char *sa = xasprintf("ServerActive=127.0.0.1:%d\n", f.port);
	t_write_file(p, sa, 0755);
	free(p);
	p = xasprintf("%s/c.txt", incdir);
	t_write_file(p, "Hostname=from-txt\n", 0755);
	free(p);
	char *glob_dir = tpath("glob");
	ck_assert_int_eq(mkdir(glob_dir, 0755), 0);
	p = xasprintf("%s/x.conf", glob_dir);
	t_write_file(p, "Hostname=from-glob,second-name\n", 0755);
	free(p);
	p = xasprintf("%s/y.other", glob_dir);
	t_write_file(p, "Hostname=not-matched\n", 0755);
	free(p);

	char *log_path = simple_log();
	char err[1024];

	/* a folder: every file, sorted (c.txt last) */
	char *conf = xasprintf("Hostname=first\nInclude=%s\n", incdir);
	native_conf(conf);
	INIT_OK();
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), 0);
	assert_got_simple(&f, "from-txt");
	free(conf);

	/* a glob pattern after the folder: first name of the comma list */
	conf = xasprintf("Include=%s\nInclude=%s/*.conf\n", incdir, glob_dir);
	native_conf(conf);
	INIT_OK();
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), 0);
	assert_got_simple(&f, "from-glob");
	free(conf);

	/* no Hostname: HostnameItem is not evaluated, the host name is used */
	char *single = tpath("single.conf");
	t_write_file(single, sa, 0755);
	conf = xasprintf("HostnameItem=system.run[echo x]\nInclude=%s\n", single);
	native_conf(conf);
	INIT_OK();
	LOGGED("WARNING Zabbix: HostnameItem in ");
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), 0);
	char host[256];
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	assert_got_simple(&f, host);
	free(conf);

	/* [zabbix] hostname and server_active win over the file (which may be missing) */
	t_cfg_set("transport", "native");
	t_cfg_set("agent_conf", "/nonexistent/zabbix_agentd.conf");
	char *over = xasprintf("127.0.0.1:%d", f.port);
	t_cfg_set("server_active", over);
	t_cfg_set("hostname", "over ridden");
	INIT_OK();
	ck_assert_int_eq(report(SUMMARY, log_path, err, sizeof(err)), 0);
	assert_got_simple(&f, "over ridden");
	fake_stop(&f);
	ck_assert_int_eq(f.served, 4);
	t_cfg_set("server_active", "");
	t_cfg_set("hostname", "");

	/* missing file, no override */
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	                 "zabbix: [zabbix] agent_conf: agent_conf /nonexistent/zabbix_agentd.conf: "
	                 "cannot open: No such file or directory");
	/* no ServerActive */
	native_conf("Hostname=h\n");
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no ServerActive in agent_conf") != NULL, "%s", err);
	/* an Include that does not exist */
	native_conf("ServerActive=a\nInclude=/nonexistent/inc.conf\n");
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "agent.conf:2: Include=/nonexistent/inc.conf: No such file") !=
	                      NULL,
	              "%s", err);
	/* an Include loop ends */
	char *loop = tpath("loop.conf");
	char *loop_text = xasprintf("ServerActive=a\nInclude=%s\n", loop);
	t_write_file(loop, loop_text, 0755);
	t_cfg_set("agent_conf", loop);
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "nested more than") != NULL, "%s", err);
	/* TLS asked for: refused with a clear message; unencrypted is fine */
	native_conf("ServerActive=a\nTLSConnect=psk\nTLSPSKIdentity=x\n");
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	ck_assert_msg(strstr(err,
	                     "sets TLSConnect=psk: TLS is not supported by transport = \"native\"; "
	                     "use transport = \"sender\"") != NULL,
	              "%s", err);
	native_conf("ServerActive=a\nTLSConnect=cert\n");
	ck_assert_int_eq(plugin_init(err, sizeof(err)), -1);
	native_conf("ServerActive=a\nTLSConnect=unencrypted\n");
	INIT_OK();

	free(loop);
	free(loop_text);
	free(over);
	free(single);
	free(sa);
	free(glob_dir);
	free(incdir);
	free(log_path);
}
END_TEST

/* The native transport delivers the same (truncated) value as the sender. */
START_TEST(test_native_truncated_value)
{
	struct fake f;
	ck_assert_int_eq(fake_start(&f, 0, 1), 0);
	fake_run(&f);
	char *conf = xasprintf("ServerActive=127.0.0.1:%d\nHostname=h\n", f.port);
	native_conf(conf);
	INIT_OK();
	size_t len;
	char *log = make_log(100 * 1024, &len);
	char *log_path = tpath("oma.log");
	t_write_bytes(log_path, log, len, 0755);
	char err[1024];
	int rc = report(SUMMARY, log_path, err, sizeof(err));
	fake_stop(&f);
	ck_assert_msg(rc == 0, "%s", err);
	/* the log has no characters to escape but the newlines */
	const char *v = strstr(f.got + 13, "\"value\":\"");
	ck_assert_ptr_nonnull(v);
	v += 9;
	char *value = NULL;
	size_t vl = 0, cap = 0;
	buf_append(&value, &vl, &cap, "", 0);
	for (; *v && !(v[0] == '"' && v[1] == '}'); v++) {
		if (v[0] == '\\' && v[1] == 'n') {
			buf_append(&value, &vl, &cap, "\n", 1);
			v++;
		} else {
			buf_append(&value, &vl, &cap, v, 1);
		}
	}
	ck_assert_uint_lt(vl, VALUE_MAX);
	ck_assert_uint_gt(vl, 60000);
	ck_assert_ptr_nonnull(strstr(value, NOTE1));
	ck_assert_int_eq(strncmp(value, SUMMARY "\n", strlen(SUMMARY) + 1), 0);
	free(value);
	free(log);
	free(log_path);
	free(conf);
}
END_TEST

static Suite *zabbix_suite(void)
{
	Suite *s = suite_create("zabbix");
	TCase *tc = tcase_create("payload");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_payload_whole);
	tcase_add_test(tc, test_payload_truncated);
	tcase_add_test(tc, test_payload_exact_fit);
	tcase_add_test(tc, test_payload_lines_fill_exactly);
	tcase_add_test(tc, test_payload_huge_line);
	tcase_add_test(tc, test_payload_unreadable_log);
	suite_add_tcase(s, tc);

	tc = tcase_create("sender");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sender_exit_codes);
	tcase_add_test(tc, test_sender_retry);
	tcase_add_test(tc, test_sender_missing_and_hanging);
	tcase_add_test(tc, test_bad_settings);
	suite_add_tcase(s, tc);

	tc = tcase_create("native");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_native_exact_bytes);
	tcase_add_test(tc, test_native_not_utf8);
	tcase_add_test(tc, test_native_rejected);
	tcase_add_test(tc, test_native_ha_failover);
	tcase_add_test(tc, test_native_all_destinations);
	tcase_add_test(tc, test_native_retry_only_missing);
	tcase_add_test(tc, test_native_unreachable_and_timeout);
	tcase_add_test(tc, test_native_ipv6);
	tcase_add_test(tc, test_server_active_errors);
	tcase_add_test(tc, test_agent_conf);
	tcase_add_test(tc, test_native_truncated_value);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(zabbix_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
