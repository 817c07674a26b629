/* check_prometheus.c - unit tests for the "prometheus" report plugin: its file, checked by promtool, escaping, carry-over and atomic writes. */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"
#include "promtext.h"
#include "testlib.h"
#include "util.h"

static struct loader ld;
static struct loaded_plugin *plug;
static char *tmpdir, *tfdir, *prom;

static void setup(void)
{
	plug = t_reporter_load(&ld, "prometheus");
	tmpdir = t_mkdtemp("prometheus");
	tfdir = xasprintf("%s/textfile", tmpdir);
	ck_assert_int_eq(mkdir(tfdir, 0755), 0);
	prom = xasprintf("%s/oma.prom", tfdir);
}

static void teardown(void)
{
	(void)chmod(tfdir, 0755);
	t_remove_tree(tmpdir);
	free(tmpdir);
	free(tfdir);
	free(prom);
	t_reporter_unload(&ld, plug);
	plug = NULL;
}

static int init_plugin(char *err, size_t errlen)
{
	err[0] = '\0';
	return plug->desc->init(&t_host, err, errlen);
}

/* Set path to the test's file and init. */
static void init_ok(void)
{
	t_cfg_set("path", prom);
	char err[512];
	ck_assert_msg(init_plugin(err, sizeof(err)) == 0, "init: %s", err);
}

static int send_report(const struct oma_report *r, char *err, size_t errlen)
{
	err[0] = '\0';
	return plug->desc->report->report(r, err, errlen);
}

static void send_ok(const struct oma_report *r)
{
	char err[1024];
	int rc = send_report(r, err, sizeof(err));
	ck_assert_msg(rc == 0, "report: %s", err);
}

static double now_s(void)
{
	struct timespec ts;
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- reports ------------------------------------------------------------- */

#define ODD_NAME "we\"ird\\na\nme \xc3\xbc"

static struct oma_db_result dbs[] = {
        {.name = "shop", .outcome = OMA_DB_DUMPED, .bytes = 1000, .seconds = 1.5},
        {.name = "crm", .outcome = OMA_DB_FAILED, .seconds = 0.125, .error = "mysqldump: boom"},
        {.name = "skipme", .outcome = OMA_DB_SKIPPED},
        {.name = "reused", .outcome = OMA_DB_REUSED, .bytes = 500},
        {.name = ODD_NAME, .outcome = OMA_DB_DUMPED, .bytes = 7, .seconds = 0.25},
};

static struct oma_report good_report(void)
{
	return (struct oma_report){
	        .size = sizeof(struct oma_report),
	        .outcome = OMA_OUTCOME_SUCCESS,
	        .exit_code = 0,
	        .dumped = 2,
	        .reused = 1,
	        .skipped = 1,
	        .failed = 0,
	        .total = 4,
	        .dbs = dbs,
	        .ndbs = 4, /* crm left out below */
	        .db_size = sizeof(struct oma_db_result),
	        .log_path = "/backup/oma_20240101-000000/oma.log",
	        .summary = "Summary: Successfully dumped 3 of 4 databases. Skipped 1, Failed 0. "
	                   "Error=0",
	        .backup_dir = "/backup",
	        .current_dir = "/backup/oma_20240101-000000",
	};
}

static struct oma_db_result good_dbs[4];

/* The good run without the failed database. */
static struct oma_report good(void)
{
	good_dbs[0] = dbs[0];
	good_dbs[1] = dbs[2];
	good_dbs[2] = dbs[3];
	good_dbs[3] = dbs[4];
	struct oma_report r = good_report();
	r.dbs = good_dbs;
	return r;
}

static struct oma_report failed(void)
{
	struct oma_report r = good_report();
	r.outcome = OMA_OUTCOME_FAILED;
	r.exit_code = 4;
	r.failed = 1;
	r.total = 5;
	r.ndbs = 5;
	r.summary = "Summary: Successfully dumped 3 of 5 databases. Skipped 1, Failed 1. Error=1";
	return r;
}

/* ---- reading the file ---------------------------------------------------- */

/* The value of the sample `series` (name and labels exactly as written)
 * in text, malloc'ed; fails the test when there is no such line. */
static char *value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; *p != '\0';) {
		const char *eol = strchr(p, '\n');
		ck_assert_ptr_nonnull(eol);
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return xstrndup(p + n + 1, (size_t)(eol - p - n - 1));
		p = eol + 1;
	}
	ck_abort_msg("no sample %s in:\n%s", series, text);
	return NULL;
}

static double number_of(const char *text, const char *series)
{
	char *v = value_of(text, series);
	char *end = NULL;
	double d = strtod(v, &end);
	ck_assert_msg(end != v && *end == '\0', "%s: not a number: '%s'", series, v);
	free(v);
	return d;
}

/* `text` with each "@NAME@" of `names` replaced by the value the file
 * `file` has for series `series[i]`.  Malloc'ed. */
static char *fill(const char *text, const char *file, const char *const *names,
                  const char *const *series, size_t n)
{
	char *out = xstrdup(text);
	for (size_t i = 0; i < n; i++) {
		char *v = value_of(file, series[i]);
		char *at = strstr(out, names[i]);
		ck_assert_ptr_nonnull(at);
		char *next = xasprintf("%.*s%s%s", (int)(at - out), out, v, at + strlen(names[i]));
		free(out);
		free(v);
		out = next;
	}
	return out;
}

/* got equals want; otherwise fails showing the first line that differs. */
static void assert_text_eq(const char *got, const char *want)
{
	size_t i = 0, line = 1, bol = 0;
	while (got[i] != '\0' && got[i] == want[i]) {
		if (got[i] == '\n') {
			line++;
			bol = i + 1;
		}
		i++;
	}
	if (got[i] == want[i])
		return;
	ck_abort_msg("line %zu differs:\n got: %.*s\nwant: %.*s", line,
	             (int)strcspn(got + bol, "\n"), got + bol, (int)strcspn(want + bol, "\n"),
	             want + bol);
}

/* Run promtool check metrics on the file: it must parse and lint clean
 * (exit 0, nothing printed).  promtool is a dependency of the tests
 * (scripts/install-deps.sh installs Debian's prometheus): missing, the
 * test fails. */
static void promtool_accepts(const char *path)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int in = open(path, O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		execlp("promtool", "promtool", "check", "metrics", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char out[4096];
	size_t len = 0;
	ssize_t n;
	while (len + 1 < sizeof(out) && (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 127,
	              "promtool not found (run scripts/install-deps.sh: Debian's prometheus)");
	ck_assert_msg(WEXITSTATUS(status) == 0 && len == 0,
	              "promtool check metrics %s: exit %d: %s", path, WEXITSTATUS(status), out);
}

/* The names in dir other than . and .., joined by ' ' (malloc'ed). */
static char *entries(const char *dir)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	char *out = xstrdup("");
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *next = xasprintf("%s%s%s", out, out[0] ? " " : "", e->d_name);
		free(out);
		out = next;
	}
	closedir(d);
	return out;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_descriptor)
{
	ck_assert_str_eq(plug->desc->name, "prometheus");
	ck_assert_uint_eq(plug->desc->type, OMA_PLUGIN_REPORT);
	ck_assert_ptr_nonnull(plug->desc->report);
	ck_assert_ptr_nonnull(plug->desc->init);
	ck_assert_ptr_nonnull(plug->desc->fini);
	ck_assert_ptr_null(dlsym(plug->handle, "pm_report"));
	ck_assert_ptr_null(dlsym(plug->handle, "pm_format"));
	const struct oma_setting *t = plug->desc->settings;
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t[0].key, "path");
	ck_assert_uint_eq(t[0].type, OMA_SETTING_STRING);
	ck_assert_ptr_null(t[0].def);
	ck_assert_uint_eq(t[0].flags, 0); /* the section switches it on */
	ck_assert_ptr_nonnull(t[0].check);
	ck_assert_str_eq(t[1].key, "labels");
	ck_assert_uint_eq(t[1].type, OMA_SETTING_STRINGS);
	ck_assert_ptr_null(t[1].def);
	ck_assert_ptr_nonnull(t[1].check);
	ck_assert_ptr_null(t[2].key);
}
END_TEST

/* A good run: the whole file, line by line; the time stamps between the
 * moments before init and after the report; promtool accepts it; mode
 * 0644 whatever the umask; nothing else left in the folder. */
START_TEST(test_good_run_file)
{
	static const char *const want =
	        "# The result of the last oma run, written by oma's report-prometheus after every "
	        "run.\n"
	        "# HELP oma_last_run_start_timestamp_seconds When the last oma run started (Unix "
	        "time).\n"
	        "# TYPE oma_last_run_start_timestamp_seconds gauge\n"
	        "oma_last_run_start_timestamp_seconds @START@\n"
	        "# HELP oma_last_run_end_timestamp_seconds When the last oma run ended, before its "
	        "reports (Unix time).\n"
	        "# TYPE oma_last_run_end_timestamp_seconds gauge\n"
	        "oma_last_run_end_timestamp_seconds @END@\n"
	        "# HELP oma_last_run_duration_seconds How long the last oma run took.\n"
	        "# TYPE oma_last_run_duration_seconds gauge\n"
	        "oma_last_run_duration_seconds @DURATION@\n"
	        "# HELP oma_last_success_timestamp_seconds When the last oma run that exited with 0 "
	        "ended (Unix time); 0: none known.\n"
	        "# TYPE oma_last_success_timestamp_seconds gauge\n"
	        "oma_last_success_timestamp_seconds @SUCCESS@\n"
	        "# HELP oma_last_run_outcome 1 for the outcome of the last oma run, 0 for the "
	        "others.\n"
	        "# TYPE oma_last_run_outcome gauge\n"
	        "oma_last_run_outcome{outcome=\"success\"} 1\n"
	        "oma_last_run_outcome{outcome=\"skipped\"} 0\n"
	        "oma_last_run_outcome{outcome=\"aborted\"} 0\n"
	        "oma_last_run_outcome{outcome=\"no_space\"} 0\n"
	        "oma_last_run_outcome{outcome=\"failed\"} 0\n"
	        "# HELP oma_last_run_exit_code What the last oma run exited with, before its "
	        "reports (0: success).\n"
	        "# TYPE oma_last_run_exit_code gauge\n"
	        "oma_last_run_exit_code 0\n"
	        "# HELP oma_last_run_databases Databases of the last oma run by outcome.\n"
	        "# TYPE oma_last_run_databases gauge\n"
	        "oma_last_run_databases{outcome=\"dumped\"} 2\n"
	        "oma_last_run_databases{outcome=\"reused\"} 1\n"
	        "oma_last_run_databases{outcome=\"skipped\"} 1\n"
	        "oma_last_run_databases{outcome=\"failed\"} 0\n"
	        "# HELP oma_last_run_written_bytes Bytes of the dump files the last oma run wrote.\n"
	        "# TYPE oma_last_run_written_bytes gauge\n"
	        "oma_last_run_written_bytes 1007\n"
	        "# HELP oma_last_run_dump_bytes Bytes of the last oma run's dump files, reused ones "
	        "included.\n"
	        "# TYPE oma_last_run_dump_bytes gauge\n"
	        "oma_last_run_dump_bytes 1507\n"
	        "# HELP oma_database_dump_bytes Size of the database's dump file in the last oma "
	        "run (0 unless dumped or reused).\n"
	        "# TYPE oma_database_dump_bytes gauge\n"
	        "oma_database_dump_bytes{database=\"reused\"} 500\n"
	        "oma_database_dump_bytes{database=\"shop\"} 1000\n"
	        "oma_database_dump_bytes{database=\"skipme\"} 0\n"
	        "oma_database_dump_bytes{database=\"we\\\"ird\\\\na\\nme \xc3\xbc\"} 7\n"
	        "# HELP oma_database_dump_duration_seconds How long the database's dump took in the "
	        "last oma run.\n"
	        "# TYPE oma_database_dump_duration_seconds gauge\n"
	        "oma_database_dump_duration_seconds{database=\"reused\"} 0.000\n"
	        "oma_database_dump_duration_seconds{database=\"shop\"} 1.500\n"
	        "oma_database_dump_duration_seconds{database=\"skipme\"} 0.000\n"
	        "oma_database_dump_duration_seconds{database=\"we\\\"ird\\\\na\\nme \xc3\xbc\"} 0.250\n"
	        "# HELP oma_database_outcome 1 for the outcome of the database in the last oma run, "
	        "0 for the others.\n"
	        "# TYPE oma_database_outcome gauge\n"
	        "oma_database_outcome{database=\"reused\",outcome=\"dumped\"} 0\n"
	        "oma_database_outcome{database=\"reused\",outcome=\"reused\"} 1\n"
	        "oma_database_outcome{database=\"reused\",outcome=\"skipped\"} 0\n"
	        "oma_database_outcome{database=\"reused\",outcome=\"failed\"} 0\n"
	        "oma_database_outcome{database=\"shop\",outcome=\"dumped\"} 1\n"
	        "oma_database_outcome{database=\"shop\",outcome=\"reused\"} 0\n"
	        "oma_database_outcome{database=\"shop\",outcome=\"skipped\"} 0\n"
	        "oma_database_outcome{database=\"shop\",outcome=\"failed\"} 0\n"
	        "oma_database_outcome{database=\"skipme\",outcome=\"dumped\"} 0\n"
	        "oma_database_outcome{database=\"skipme\",outcome=\"reused\"} 0\n"
	        "oma_database_outcome{database=\"skipme\",outcome=\"skipped\"} 1\n"
	        "oma_database_outcome{database=\"skipme\",outcome=\"failed\"} 0\n"
	        "oma_database_outcome{database=\"we\\\"ird\\\\na\\nme \xc3\xbc\",outcome=\"dumped\"} 1\n"
	        "oma_database_outcome{database=\"we\\\"ird\\\\na\\nme \xc3\xbc\",outcome=\"reused\"} 0\n"
	        "oma_database_outcome{database=\"we\\\"ird\\\\na\\nme \xc3\xbc\",outcome=\"skipped\"} 0\n"
	        "oma_database_outcome{database=\"we\\\"ird\\\\na\\nme \xc3\xbc\",outcome=\"failed\"} 0\n";
	static const char *const names[] = {"@START@", "@END@", "@DURATION@", "@SUCCESS@"};
	static const char *const series[] = {"oma_last_run_start_timestamp_seconds",
	                                     "oma_last_run_end_timestamp_seconds",
	                                     "oma_last_run_duration_seconds",
	                                     "oma_last_success_timestamp_seconds"};
	(void)umask(077);
	double before = now_s();
	init_ok();
	struct oma_report r = good();
	send_ok(&r);
	double after = now_s();
	char *text = t_read_file(prom);
	ck_assert_ptr_nonnull(text);
	char *expected = fill(want, text, names, series, 4);
	assert_text_eq(text, expected);
	double start = number_of(text, series[0]), end = number_of(text, series[1]);
	/* printed with milliseconds: allow for the rounding */
	ck_assert_msg(start >= before - 0.001 && start <= end && end <= after + 0.001,
	              "before %.3f, start %.3f, end %.3f, after %.3f", before, start, end, after);
	ck_assert_double_ge(number_of(text, series[2]), 0);
	ck_assert_double_eq(number_of(text, series[3]), end); /* a success now */
	promtool_accepts(prom);
	struct stat st;
	ck_assert_int_eq(stat(prom, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	char *left = entries(tfdir);
	ck_assert_str_eq(left, "oma.prom");
	free(left);
	free(expected);
	free(text);
}
END_TEST

/* A failed run after a good one: outcome failed, exit code 4, the failed
 * database counted and marked, and the good run's success time stamp
 * carried over unchanged; a second failure keeps it still. */
START_TEST(test_failed_run_keeps_success)
{
	init_ok();
	struct oma_report r = good();
	send_ok(&r);
	char *first = t_read_file(prom);
	char *success = value_of(first, PM_LAST_SUCCESS);
	ck_assert_str_ne(success, "0.000");
	for (int round = 0; round < 2; round++) {
		r = failed();
		send_ok(&r);
		char *text = t_read_file(prom);
		char *v = value_of(text, PM_LAST_SUCCESS);
		ck_assert_str_eq(v, success);
		free(v);
		ck_assert_double_eq(number_of(text, "oma_last_run_outcome{outcome=\"failed\"}"), 1);
		ck_assert_double_eq(number_of(text, "oma_last_run_outcome{outcome=\"success\"}"),
		                    0);
		ck_assert_double_eq(number_of(text, "oma_last_run_exit_code"), 4);
		ck_assert_double_eq(number_of(text, "oma_last_run_databases{outcome=\"failed\"}"),
		                    1);
		ck_assert_double_eq(
		        number_of(text,
		                  "oma_database_outcome{database=\"crm\",outcome=\"failed\"}"),
		        1);
		ck_assert_double_eq(number_of(text, "oma_database_dump_bytes{database=\"crm\"}"),
		                    0);
		ck_assert_double_eq(
		        number_of(text, "oma_database_dump_duration_seconds{database=\"crm\"}"),
		        0.125);
		ck_assert_double_gt(number_of(text, "oma_last_run_end_timestamp_seconds"),
		                    number_of(text, "oma_last_run_start_timestamp_seconds") -
		                            0.001);
		promtool_accepts(prom);
		free(text);
	}
	ck_assert_ptr_null(strstr(t_log, "30 ")); /* no warning */
	free(success);
	free(first);
}
END_TEST

/* Each outcome: its label 1, the others 0; a skipped run (exit code 0)
 * counts as a success, aborted and no-space runs carry the old one; the
 * first run ever that fails says 0 (none known), without a warning. */
START_TEST(test_outcomes)
{
	static const struct {
		int outcome, exit_code;
		const char *label;
		bool success;
	} cases[] = {
	        {OMA_OUTCOME_ABORTED, 1, "aborted", false},
	        {OMA_OUTCOME_SKIPPED, 0, "skipped", true},
	        {OMA_OUTCOME_NO_SPACE, 2, "no_space", false},
	        {OMA_OUTCOME_SUCCESS, 4, "success", false}, /* an off-site copy failed */
	        {OMA_OUTCOME_FAILED, 4, "failed", false},
	        {OMA_OUTCOME_SUCCESS, 0, "success", true},
	};
	static const char *const labels[] = {"success", "skipped", "aborted", "no_space", "failed"};
	init_ok();
	char *success = xstrdup("0.000");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct oma_report r = good();
		r.outcome = cases[c].outcome;
		r.exit_code = cases[c].exit_code;
		r.ndbs = 0;
		r.dumped = r.reused = r.skipped = 0;
		send_ok(&r);
		char *text = t_read_file(prom);
		for (size_t k = 0; k < 5; k++) {
			char *s = xasprintf("oma_last_run_outcome{outcome=\"%s\"}", labels[k]);
			ck_assert_msg(number_of(text, s) ==
			                      (strcmp(labels[k], cases[c].label) == 0),
			              "case %zu: %s", c, s);
			free(s);
		}
		ck_assert_double_eq(number_of(text, "oma_last_run_exit_code"), cases[c].exit_code);
		char *v = value_of(text, PM_LAST_SUCCESS);
		if (cases[c].success) {
			char *end = value_of(text, "oma_last_run_end_timestamp_seconds");
			ck_assert_str_eq(v, end);
			free(end);
			free(success);
			success = xstrdup(v);
		} else {
			ck_assert_msg(strcmp(v, success) == 0, "case %zu: %s, expected %s", c, v,
			              success);
		}
		/* no databases: no per-database families at all */
		ck_assert_ptr_null(strstr(text, "oma_database_"));
		promtool_accepts(prom);
		free(v);
		free(text);
	}
	free(success);
	ck_assert_msg(strstr(t_log, "30 ") == NULL, "warnings: %s", t_log);
}
END_TEST

/* The previous file is read robustly: damaged, cut short, foreign or
 * unreadable means no earlier success (0) and a warning, never a failed
 * report; our own line with labels is found. */
START_TEST(test_previous_file)
{
	static const struct {
		const char *text;
		const char *want; /* the carried value; NULL: 0 with a warning */
	} cases[] = {
	        {"oma_last_success_timestamp_seconds 1700000000.250\n", "1700000000.250"},
	        {"# x\noma_last_success_timestamp_seconds{server=\"a}b\\\"\"} 1700000001\n",
	         "1700000001.000"},
	        {"oma_last_success_timestamp_seconds 1700000000.250", NULL}, /* no newline */
	        {"oma_last_success_timestamp_seconds 17000", NULL},
	        {"oma_last_success_timestamp_seconds -5\n", NULL},
	        {"oma_last_success_timestamp_seconds NaN\n", NULL},
	        {"oma_last_success_timestamp_seconds +Inf\n", NULL},
	        {"oma_last_success_timestamp_seconds 1e999\n", NULL},
	        {"oma_last_success_timestamp_seconds 12 1700000000000\n", NULL},
	        {"oma_last_success_timestamp_secondsX 12\n", NULL},
	        {"oma_last_success_timestamp_seconds{a=\"b 12\n", NULL},
	        {"\x01\xff\xfe garbage\n", NULL},
	        {"", NULL},
	};
	init_ok();
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		t_write_file(prom, cases[c].text, 0644);
		t_log[0] = '\0';
		struct oma_report r = failed();
		send_ok(&r);
		char *text = t_read_file(prom);
		char *v = value_of(text, PM_LAST_SUCCESS);
		ck_assert_msg(strcmp(v, cases[c].want ? cases[c].want : "0.000") == 0,
		              "case %zu: %s", c, v);
		bool warned = strstr(t_log, "30 prometheus: the previous") != NULL;
		ck_assert_msg(warned == (cases[c].want == NULL), "case %zu: log '%s'", c, t_log);
		free(v);
		free(text);
	}
	/* Missing: 0 and no warning (the first run). */
	ck_assert_int_eq(unlink(prom), 0);
	t_log[0] = '\0';
	struct oma_report r = failed();
	send_ok(&r);
	char *text = t_read_file(prom);
	char *v = value_of(text, PM_LAST_SUCCESS);
	ck_assert_str_eq(v, "0.000");
	ck_assert_msg(strstr(t_log, "30 ") == NULL, "warnings: %s", t_log);
	free(v);
	free(text);
}
END_TEST

/* pm_parse_last_success on its own. */
START_TEST(test_parse_last_success)
{
	double v = -1;
	ck_assert_int_eq(pm_parse_last_success("oma_last_success_timestamp_seconds 0", &v), 0);
	ck_assert_double_eq(v, 0);
	ck_assert_int_eq(pm_parse_last_success("oma_last_success_timestamp_seconds   12.5", &v), 0);
	ck_assert_double_eq(v, 12.5);
	ck_assert_int_eq(pm_parse_last_success("oma_last_success_timestamp_seconds{a=\"}\"} 3", &v),
	                 0);
	ck_assert_double_eq(v, 3);
	ck_assert_int_eq(pm_parse_last_success("oma_last_success_timestamp_seconds 0x10", &v), -1);
	ck_assert_int_eq(pm_parse_last_success("oma_last_success_timestamp_seconds", &v), -1);
	ck_assert_int_eq(pm_parse_last_success("oma_last_success_timestamp_seconds 1 ", &v), -1);
	ck_assert_int_eq(pm_parse_last_success("# HELP oma_last_success_timestamp_seconds 1", &v),
	                 -1);
	ck_assert_int_eq(pm_parse_last_success("oma_last_success_timestamp_seconds{} x", &v), -1);
}
END_TEST

/* Label values: \ " and newline escaped, bytes that are not UTF-8 made
 * U+FFFD (also one cut short before a quote), the rest kept as it is. */
START_TEST(test_label_escaping)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	        {"plain", "plain"},
	        {"", ""},
	        {"a\\b", "a\\\\b"},
	        {"a\"b", "a\\\"b"},
	        {"a\nb", "a\\nb"},
	        {"\\\"\n", "\\\\\\\"\\n"},
	        {"tab\there\rcr", "tab\there\rcr"},
	        {"b\xc3\xbc"
	         "cher \xe2\x82\xac \xf0\x9f\x98\x80",
	         "b\xc3\xbc"
	         "cher \xe2\x82\xac \xf0\x9f\x98\x80"},
	        {"bad\xff", "bad\xef\xbf\xbd"},
	        {"\xc3\"x", "\xef\xbf\xbd\\\"x"},
	        {"\xc0\xaf/", "\xef\xbf\xbd\xef\xbf\xbd/"},                 /* overlong */
	        {"\xed\xa0\x80!", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!"}, /* surrogate */
	        {"x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd"}, /* cut short at the end */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cm_buf b = {0};
		ck_assert_int_eq(pm_label_value(&b, cases[i].in), 0);
		(void)cm_buf_add(&b, "", 0);
		ck_assert_msg(strcmp(b.p, cases[i].out) == 0, "case %zu: '%s'", i, b.p);
		cm_buf_free(&b);
	}
}
END_TEST

/* Names of any bytes go through promtool; two names that differ only in
 * bytes that are not UTF-8 would be one series: the second is left out
 * with a warning (a duplicate series makes node_exporter drop the file). */
START_TEST(test_any_database_name)
{
	struct oma_db_result d[] = {
	        {.name = "a\xff", .outcome = OMA_DB_DUMPED, .bytes = 1},
	        {.name = "a\xfe", .outcome = OMA_DB_DUMPED, .bytes = 2},
	        {.name = "\"}\\{,=\n", .outcome = OMA_DB_DUMPED, .bytes = 3},
	        {.name = "with space and\ttab\r", .outcome = OMA_DB_FAILED, .error = "x"},
	        {.name = "", .outcome = OMA_DB_FAILED, .error = "x"},
	};
	struct oma_report r = failed();
	r.dbs = d;
	r.ndbs = 5;
	init_ok();
	send_ok(&r);
	char *text = t_read_file(prom);
	ck_assert_double_eq(number_of(text,
	                              "oma_database_dump_bytes{database=\"\\\"}\\\\{,=\\n\"}"),
	                    3);
	ck_assert_double_eq(number_of(text, "oma_database_dump_bytes{database=\"a\xef\xbf\xbd\"}"),
	                    1); /* the first of the two */
	ck_assert_double_eq(number_of(text, "oma_database_dump_bytes{database=\"\"}"), 0);
	ck_assert_msg(strstr(t_log, "30 prometheus: 1 databases left out") != NULL, "%s", t_log);
	promtool_accepts(prom);
	free(text);
}
END_TEST

/* labels: on every series, first, values escaped; promtool accepts. */
START_TEST(test_labels)
{
	t_cfg_set("labels", "server=db1\ncluster=eu \"west\"");
	init_ok();
	struct oma_report r = good();
	send_ok(&r);
	char *text = t_read_file(prom);
	ck_assert_double_eq(
	        number_of(text,
	                  "oma_last_run_exit_code{server=\"db1\",cluster=\"eu \\\"west\\\"\"}"),
	        0);
	ck_assert_double_eq(number_of(text, "oma_database_outcome{server=\"db1\",cluster=\"eu "
	                                    "\\\"west\\\"\",database=\"shop\",outcome=\"dumped\"}"),
	                    1);
	/* every sample line has them */
	for (const char *p = text; *p != '\0';) {
		const char *eol = strchr(p, '\n');
		if (p[0] != '#')
			ck_assert_msg(strstr(p, "{server=\"db1\",cluster=") == strchr(p, '{'),
			              "%.*s", (int)(eol - p), p);
		p = eol + 1;
	}
	promtool_accepts(prom);
	/* A failed run finds the success line among the labels. */
	char *success = value_of(text, "oma_last_success_timestamp_seconds{server=\"db1\","
	                               "cluster=\"eu \\\"west\\\"\"}");
	r = failed();
	send_ok(&r);
	free(text);
	text = t_read_file(prom);
	char *v = value_of(text, "oma_last_success_timestamp_seconds{server=\"db1\","
	                         "cluster=\"eu \\\"west\\\"\"}");
	ck_assert_str_eq(v, success);
	free(v);
	free(success);
	free(text);
}
END_TEST

static int init_as_nobody(void *arg, char *out, size_t outlen)
{
	(void)arg;
	return init_plugin(out, outlen);
}

/* Bad settings: init fails naming [prometheus] and the key. */
START_TEST(test_bad_settings)
{
	char *file = xasprintf("%s/file", tmpdir);
	t_write_file(file, "x", 0644);
	char *under_file = xasprintf("%s/x.prom", file);
	char *missing = xasprintf("%s/none/oma.prom", tmpdir);
	char *dir_prom = xasprintf("%s/d.prom", tfdir);
	ck_assert_int_eq(mkdir(dir_prom, 0755), 0);
	const struct {
		const char *key, *val, *want;
	} cases[] = {
	        {"path", NULL, "[prometheus] path is not set"},
	        {"path", "", "[prometheus] path is not set"},
	        {"path", "oma.prom", "[prometheus] path: 'oma.prom' is not an absolute path"},
	        {"path", "/tmp/oma.txt",
	         "[prometheus] path: '/tmp/oma.txt': the file's name must "
	         "end in .prom"},
	        {"path", "/tmp/.prom", "must end in .prom"},
	        {"path", "/tmp/", "must end in .prom"},
	        {"path", missing, "No such file or directory"},
	        {"path", under_file, "is not a folder"},
	        {"path", dir_prom, "is not a regular file"},
	        {"labels", "server", "[prometheus] labels: 'server' is not NAME=VALUE"},
	        {"labels", "=x", "is not NAME=VALUE"},
	        {"labels", "1x=y", "is not a label name"},
	        {"labels", "a-b=y", "is not a label name"},
	        {"labels", "__name__=y", "reserved"},
	        {"labels", "database=y", "reserved"},
	        {"labels", "outcome=y", "reserved"},
	        {"labels", "empty=", "empty value"},
	        {"labels", "a=1\na=2", "label 'a' is set twice"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t_cfg_clear();
		t_cfg_set("path", prom);
		t_cfg_set(cases[i].key, cases[i].val);
		char err[512];
		ck_assert_msg(init_plugin(err, sizeof(err)) != 0, "init accepted %s = '%s'",
		              cases[i].key, cases[i].val);
		ck_assert_msg(strstr(err, cases[i].want) != NULL,
		              "%s = '%s': err '%s', expected '%s'", cases[i].key, cases[i].val, err,
		              cases[i].want);
		ck_assert_msg(strstr(err, "[prometheus] ") == err, "err '%s'", err);
	}
	/* The check functions the core runs on the file's values (no I/O). */
	const struct oma_setting *t = plug->desc->settings;
	char err[256];
	ck_assert_int_eq(t[0].check("/var/lib/prometheus/node-exporter/oma.prom", err, sizeof(err)),
	                 0);
	ck_assert_int_eq(t[0].check("/no/such/folder/oma.prom", err, sizeof(err)), 0);
	ck_assert_int_ne(t[0].check("rel/oma.prom", err, sizeof(err)), 0);
	ck_assert_int_eq(t[1].check("server=db1", err, sizeof(err)), 0);
	ck_assert_int_ne(t[1].check("server", err, sizeof(err)), 0);
	/* A folder oma may not write to (as user nobody: root may write
	 * anywhere), in a folder nobody may enter. */
	ck_assert_int_eq(chmod(tmpdir, 0755), 0);
	t_cfg_clear();
	t_cfg_set("path", prom);
	char out[512];
	ck_assert_int_ne(t_as_nobody(init_as_nobody, NULL, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "[prometheus] path: cannot write to the folder") != NULL, "%s",
	              out);
	free(dir_prom);
	free(missing);
	free(under_file);
	free(file);
}
END_TEST

/* The folder removed after init: the report fails naming it. */
START_TEST(test_folder_gone)
{
	init_ok();
	t_remove_tree(tfdir);
	struct oma_report r = good();
	char err[1024];
	ck_assert_int_ne(send_report(&r, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "prometheus: cannot create a temporary file in ") == err, "%s",
	              err);
	ck_assert_msg(strstr(err, tfdir) != NULL && strstr(err, "No such file or directory"), "%s",
	              err);
}
END_TEST

/* A write that fails half-way (the file size limit: EFBIG, as a full disk
 * gives ENOSPC) fails the report, leaves the old file as it was and no
 * temporary file behind. */
START_TEST(test_write_fails)
{
	init_ok();
	struct oma_report r = good();
	send_ok(&r);
	char *before = t_read_file(prom);
	ck_assert_ptr_nonnull(before);
	ck_assert_ptr_ne(signal(SIGXFSZ, SIG_IGN), SIG_ERR);
	struct rlimit lim = {.rlim_cur = 200, .rlim_max = RLIM_INFINITY};
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = failed();
	char err[1024];
	ck_assert_int_ne(send_report(&r, err, sizeof(err)), 0);
	lim.rlim_cur = RLIM_INFINITY;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	char *want = xasprintf("prometheus: cannot write %s/.oma.prom.", tfdir);
	ck_assert_msg(strstr(err, want) == err, "%s", err);
	ck_assert_msg(strstr(err, "File too large") != NULL, "%s", err);
	char *after = t_read_file(prom);
	ck_assert_str_eq(after, before);
	char *left = entries(tfdir);
	ck_assert_str_eq(left, "oma.prom");
	free(left);
	free(want);
	free(after);
	free(before);
}
END_TEST

/* A core whose database records are larger than this build's: they are
 * walked by db_size; an older core's report structure is refused. */
START_TEST(test_record_size)
{
	struct grown {
		struct oma_db_result d;
		char added_later[40];
	} g[2] = {
	        {.d = {.name = "first", .outcome = OMA_DB_DUMPED, .bytes = 11}},
	        {.d = {.name = "second", .outcome = OMA_DB_FAILED, .error = "boom"}},
	};
	struct oma_report r = failed();
	r.dbs = &g[0].d;
	r.ndbs = 2;
	r.db_size = sizeof(struct grown);
	init_ok();
	send_ok(&r);
	char *text = t_read_file(prom);
	ck_assert_double_eq(number_of(text, "oma_database_dump_bytes{database=\"first\"}"), 11);
	ck_assert_double_eq(
	        number_of(text, "oma_database_outcome{database=\"second\",outcome=\"failed\"}"), 1);
	free(text);
	r.size = (uint32_t)offsetof(struct oma_report, db_size);
	char err[512];
	ck_assert_int_ne(send_report(&r, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "report structure too old") != NULL, "%s", err);
}
END_TEST

static Suite *prometheus_suite(void)
{
	Suite *s = suite_create("report-prometheus");
	TCase *tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_good_run_file);
	tcase_add_test(tc, test_failed_run_keeps_success);
	tcase_add_test(tc, test_outcomes);
	tcase_add_test(tc, test_previous_file);
	tcase_add_test(tc, test_parse_last_success);
	tcase_add_test(tc, test_label_escaping);
	tcase_add_test(tc, test_any_database_name);
	tcase_add_test(tc, test_labels);
	tcase_add_test(tc, test_bad_settings);
	tcase_add_test(tc, test_folder_gone);
	tcase_add_test(tc, test_write_fails);
	tcase_add_test(tc, test_record_size);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(prometheus_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed_n = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed_n == 0 ? 0 : 1;
}
