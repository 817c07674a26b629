/* check_report.c - unit tests for core/report.c: summary lines, enabling rules, result.json, reporters. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "config_internal.h"
#include "loader.h"
#include "loader_internal.h"
#include "log.h"
#include "report.h"
#include "testlib.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------ */

/* Load the config text (with a valid [main] in front) or fail the test. */
static void load_config(struct oma_config *cfg, const char *rest)
{
	char err[1024];
	char *text = xasprintf("[main]\nbackup_dir = \"/tmp\"\n%s", rest);
	int rc = cfg_load_string("t.conf", text, cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "config did not load: %s", err);
	free(text);
}

static bool enabled_with(const char *rest, const char *name)
{
	struct oma_config cfg;
	load_config(&cfg, rest);
	if (strcmp(name, "zabbix") == 0) {
		/* as the zabbix plugin declares it */
		static const struct oma_setting table[] = {
		        {.key = "item_key",
		         .type = OMA_SETTING_STRING,
		         .flags = OMA_SETTING_SWITCH,
		         .def = ""},
		        {.key = NULL},
		};
		char err[512];
		ck_assert_int_eq(cfg_register_settings(&cfg, "zabbix", table, err, sizeof(err)), 0);
	}
	bool on = cfg_section_enabled(&cfg, name);
	cfg_free(&cfg);
	return on;
}

static void assert_summary(const struct oma_report *r, const char *want)
{
	char *got = report_summary(r);
	ck_assert_str_eq(got, want);
	free(got);
}

/* ---- report_summary ------------------------------------------------------ */

START_TEST(test_summary_skipped)
{
	struct oma_report r = {.size = sizeof(r), .outcome = OMA_OUTCOME_SKIPPED, .total = 5};
	assert_summary(
	        &r, "Summary: Successfully skipped all databases due to skip_conditions. Error=0");
}
END_TEST

START_TEST(test_summary_aborted)
{
	struct oma_report r = {.size = sizeof(r),
	                       .outcome = OMA_OUTCOME_ABORTED,
	                       .exit_code = 1,
	                       .total = 5};
	assert_summary(&r,
	               "Summary: All databases were skipped due to faulty run_conditions. Error=1");
}
END_TEST

START_TEST(test_summary_success)
{
	struct oma_report r = {.size = sizeof(r),
	                       .outcome = OMA_OUTCOME_SUCCESS,
	                       .dumped = 3,
	                       .total = 4,
	                       .skipped = 1};
	assert_summary(
	        &r, "Summary: Successfully dumped 3 of 4 databases. Skipped 1, Failed 0. Error=0");
}
END_TEST

START_TEST(test_summary_reused_count_as_dumped)
{
	struct oma_report r = {.size = sizeof(r),
	                       .outcome = OMA_OUTCOME_SUCCESS,
	                       .dumped = 2,
	                       .reused = 3,
	                       .total = 6,
	                       .skipped = 1};
	assert_summary(
	        &r, "Summary: Successfully dumped 5 of 6 databases. Skipped 1, Failed 0. Error=0");
}
END_TEST

START_TEST(test_summary_failed_dump)
{
	struct oma_report r = {.size = sizeof(r),
	                       .outcome = OMA_OUTCOME_FAILED,
	                       .exit_code = 4,
	                       .dumped = 2,
	                       .failed = 1,
	                       .total = 3};
	assert_summary(
	        &r, "Summary: Successfully dumped 2 of 3 databases. Skipped 0, Failed 1. Error=1");
}
END_TEST

/* Upstream wrote Error=0 whatever happened; oma says Error=1 as soon as
 * anything failed, even when the outcome field alone would not tell. */
START_TEST(test_summary_error_whenever_something_failed)
{
	struct oma_report a = {.size = sizeof(a),
	                       .outcome = OMA_OUTCOME_SUCCESS,
	                       .dumped = 1,
	                       .failed = 1,
	                       .total = 2};
	assert_summary(
	        &a, "Summary: Successfully dumped 1 of 2 databases. Skipped 0, Failed 1. Error=1");
	/* Every dump fine, but a terminate condition failed (exit code 4). */
	struct oma_report b = {.size = sizeof(b),
	                       .outcome = OMA_OUTCOME_SUCCESS,
	                       .exit_code = 4,
	                       .dumped = 2,
	                       .total = 2};
	assert_summary(
	        &b, "Summary: Successfully dumped 2 of 2 databases. Skipped 0, Failed 0. Error=1");
	/* The server could not be reached: nothing dumped. */
	struct oma_report c = {.size = sizeof(c), .outcome = OMA_OUTCOME_FAILED, .exit_code = 4};
	assert_summary(
	        &c, "Summary: Successfully dumped 0 of 0 databases. Skipped 0, Failed 0. Error=1");
}
END_TEST

START_TEST(test_summary_no_space)
{
	struct oma_report r = {.size = sizeof(r),
	                       .outcome = OMA_OUTCOME_NO_SPACE,
	                       .exit_code = 2,
	                       .total = 3};
	assert_summary(
	        &r, "Summary: Successfully dumped 0 of 3 databases. Skipped 0, Failed 0. Error=1");
}
END_TEST

/* ---- cfg_section_enabled ------------------------------------------------------ */

START_TEST(test_enabled_section_present)
{
	ck_assert(enabled_with("[example]\nfile = \"/tmp/x\"\n", "example"));
	/* An empty section is enough. */
	ck_assert(enabled_with("[example]\n", "example"));
}
END_TEST

START_TEST(test_enabled_section_absent)
{
	ck_assert(!enabled_with("", "example"));
	ck_assert(!enabled_with("[other]\nfile = \"/tmp/x\"\n", "example"));
	/* A key of that name in another section does not count. */
	ck_assert(!enabled_with("[other]\nexample = true\n", "example"));
}
END_TEST

START_TEST(test_enabled_flag)
{
	ck_assert(!enabled_with("[example]\nenabled = false\nfile = \"/tmp/x\"\n", "example"));
	ck_assert(enabled_with("[example]\nenabled = true\n", "example"));
	/* Only `false` switches it off. */
	ck_assert(enabled_with("[example]\nenabled = 0\n", "example"));
}
END_TEST

START_TEST(test_enabled_zabbix_item_key)
{
	ck_assert(!enabled_with("", "zabbix"));
	ck_assert(!enabled_with("[zabbix]\n", "zabbix"));
	ck_assert(!enabled_with("[zabbix]\nitem_key = \"\"\n", "zabbix"));
	ck_assert(enabled_with("[zabbix]\nitem_key = \"oma.backup\"\n", "zabbix"));
	/* Upstream's rule wins over `enabled`. */
	ck_assert(enabled_with("[zabbix]\nitem_key = \"oma.backup\"\nenabled = false\n", "zabbix"));
}
END_TEST

/* ---- report_write_json --------------------------------------------------- */

/* A report with awkward names: quote, backslash, newline, control
 * character, non-ASCII. */
#define NAME_QUOTE "we\"ird\\db"
#define NAME_CTRL  "line\nbreak\ttab\x01"
#define NAME_UTF8  "caf\xc3\xa9"
#define ERROR_TEXT "mysqldump: Got error: 1044: \"Access denied\""

static const struct oma_db_result sample_dbs[] = {
        {.name = NAME_QUOTE, .outcome = OMA_DB_DUMPED, .bytes = 1234, .seconds = 1.5},
        {.name = NAME_CTRL, .outcome = OMA_DB_FAILED, .error = ERROR_TEXT},
        {.name = NAME_UTF8, .outcome = OMA_DB_SKIPPED},
        {.name = "kept", .outcome = OMA_DB_REUSED, .bytes = 99},
};

static struct oma_report sample_report(void)
{
	return (struct oma_report){
	        .size = sizeof(struct oma_report),
	        .outcome = OMA_OUTCOME_FAILED,
	        .exit_code = 4,
	        .dumped = 1,
	        .reused = 1,
	        .skipped = 1,
	        .failed = 1,
	        .total = 4,
	        .dbs = sample_dbs,
	        .ndbs = sizeof(sample_dbs) / sizeof(sample_dbs[0]),
	        .log_path = "/backup/oma_20240101-020000/oma.log",
	        .summary =
	                "Summary: Successfully dumped 2 of 4 databases. Skipped 1, Failed 1. Error=1",
	        .backup_dir = "/backup",
	        .current_dir = NULL,
	};
}

static bool have_python3(void)
{
	return system("command -v python3 >/dev/null 2>&1 && python3 -c 'import json' 2>/dev/null") ==
	       0;
}

START_TEST(test_json_valid_and_escaped)
{
	char *dir = t_mkdtemp("report");
	char *path = xasprintf("%s/result.json", dir);
	struct oma_report r = sample_report();
	char err[512] = "";
	ck_assert_msg(report_write_json(&r, path, err, sizeof(err)) == 0, "%s", err);

	char *part = xasprintf("%s.part", path);
	ck_assert_int_ne(access(part, F_OK), 0);
	free(part);

	char *text = t_read_file(path);
	ck_assert_ptr_nonnull(text);
	/* The escapes as JSON spells them, whatever checks the rest. */
	ck_assert_ptr_nonnull(strstr(text, "\"name\": \"we\\\"ird\\\\db\""));
	ck_assert_ptr_nonnull(strstr(text, "line\\nbreak\\ttab\\u0001"));
	ck_assert_ptr_nonnull(
	        strstr(text, "\"error\": \"mysqldump: Got error: 1044: \\\"Access denied\\\"\""));
	ck_assert_ptr_nonnull(strstr(text, "\"outcome\": \"failed\""));
	ck_assert_ptr_nonnull(strstr(text, "\"current_dir\": null"));
	ck_assert_ptr_null(strchr(text, '\x01'));

	if (have_python3()) {
		/* Parse it and compare every value with what went in. */
		const char *prog =
		        "import json,sys\n"
		        "d=json.load(open(sys.argv[1],encoding='utf-8'))\n"
		        "assert d['outcome']=='failed', d['outcome']\n"
		        "assert d['exit_code']==4\n"
		        "assert d['summary']=='Summary: Successfully dumped 2 of 4 databases. Skipped 1, Failed 1. Error=1'\n"
		        "assert d['counts']=={'dumped':1,'reused':1,'skipped':1,'failed':1,'total':4}, d['counts']\n"
		        "assert d['log']=='/backup/oma_20240101-020000/oma.log'\n"
		        "assert d['backup_dir']=='/backup' and d['current_dir'] is None\n"
		        "n=[x['name'] for x in d['databases']]\n"
		        "assert n==['we\"ird\\\\db','line\\nbreak\\ttab\\x01','caf\\u00e9','kept'], n\n"
		        "o=[x['outcome'] for x in d['databases']]\n"
		        "assert o==['dumped','failed','skipped','reused'], o\n"
		        "assert d['databases'][0]['bytes']==1234 and d['databases'][0]['seconds']==1.5\n"
		        "assert d['databases'][1]['error']=='mysqldump: Got error: 1044: \"Access denied\"'\n"
		        "assert d['databases'][0]['error'] is None\n";
		char *script = xasprintf("%s/check.py", dir);
		FILE *f = fopen(script, "we");
		ck_assert_ptr_nonnull(f);
		fputs(prog, f);
		fclose(f);
		char *cmd = xasprintf("python3 -m json.tool '%s' >/dev/null && python3 '%s' '%s'",
		                      path, script, path);
		ck_assert_msg(system(cmd) == 0,
		              "result.json did not parse or has wrong values:\n%s", text);
		free(cmd);
		free(script);
	}
	free(text);
	free(path);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_json_no_databases)
{
	char *dir = t_mkdtemp("report");
	char *path = xasprintf("%s/result.json", dir);
	struct oma_report r = {
	        .size = sizeof(r),
	        .outcome = OMA_OUTCOME_SKIPPED,
	        .summary =
	                "Summary: Successfully skipped all databases due to skip_conditions. Error=0",
	        .backup_dir = "/backup",
	        .current_dir = "/backup/oma_x",
	};
	char err[512] = "";
	ck_assert_msg(report_write_json(&r, path, err, sizeof(err)) == 0, "%s", err);
	char *text = t_read_file(path);
	ck_assert_ptr_nonnull(strstr(text, "\"databases\": []"));
	ck_assert_ptr_nonnull(strstr(text, "\"outcome\": \"skipped\""));
	ck_assert_ptr_nonnull(strstr(text, "\"log\": null"));
	if (have_python3()) {
		char *cmd = xasprintf("python3 -m json.tool '%s' >/dev/null", path);
		ck_assert_msg(system(cmd) == 0, "not JSON:\n%s", text);
		free(cmd);
	}
	free(text);
	free(path);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_json_unwritable)
{
	char *dir = t_mkdtemp("report");
	char *path = xasprintf("%s/missing/result.json", dir);
	struct oma_report r = sample_report();
	char err[512] = "";
	ck_assert_int_ne(report_write_json(&r, path, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "report:") == err, "%s", err);
	ck_assert_msg(strstr(err, "missing/result.json.part") != NULL, "%s", err);
	free(path);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

/* ---- report_send --------------------------------------------------------- */

/* A plugin folder with the given fixtures, loaded and (all) initialised,
 * oma.log in `dir`, and $OMA_FIXTURE_REPORT_OK pointing into it. */
struct send_env {
	char *dir; /* temp folder: plugins/, oma.log, ok.out */
	char *log;
	char *ok_out;
	struct loader ld;
	struct oma_config cfg;
};

static void send_setup(struct send_env *e, const char *const *fixtures, const char *config)
{
	memset(e, 0, sizeof(*e));
	e->dir = t_mkdtemp("report");
	char *plugdir = xasprintf("%s/plugins", e->dir);
	ck_assert_int_eq(mkdir(plugdir, 0755), 0);
	for (size_t i = 0; fixtures[i] != NULL; i++) {
		char *src = t_fixture_path(fixtures[i]);
		char *dst = xasprintf("%s/%s.so", plugdir, fixtures[i]);
		ck_assert_int_eq(symlink(src, dst), 0);
		free(dst);
		free(src);
	}
	char err[1024] = "";
	ck_assert_msg(loader_load_dir(&e->ld, plugdir, err, sizeof(err)) == 0, "%s", err);
	load_config(&e->cfg, config);
	/* As oma does: only the enabled sections' reporters are initialised. */
	for (struct loaded_plugin *p = loader_next(&e->ld, OMA_PLUGIN_REPORT, NULL); p != NULL;
	     p = loader_next(&e->ld, OMA_PLUGIN_REPORT, p))
		if (cfg_section_enabled(&e->cfg, p->desc->name))
			ck_assert_msg(loader_init(p, NULL, err, sizeof(err)) == 0, "%s", err);
	free(plugdir);

	e->log = xasprintf("%s/oma.log", e->dir);
	e->ok_out = xasprintf("%s/ok.out", e->dir);
	setenv("OMA_FIXTURE_REPORT_OK", e->ok_out, 1);
	log_set_stderr_level(OMA_LOG_ERROR + 10);
	log_set_level(OMA_LOG_DEBUG);
	ck_assert_int_eq(log_open(e->log), 0);
}

static void send_teardown(struct send_env *e)
{
	log_close();
	loader_unload(&e->ld);
	cfg_free(&e->cfg);
	t_remove_tree(e->dir);
	free(e->dir);
	free(e->log);
	free(e->ok_out);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_send_ok_delivers)
{
	static const char *const fx[] = {"report_ok", NULL};
	struct send_env e;
	send_setup(&e, fx, "[report_ok]\n");
	struct oma_report r = sample_report();
	ck_assert_int_eq(report_send(&e.ld, &r, 5), 0);
	char *out = t_read_file(e.ok_out);
	ck_assert_msg(out != NULL, "report_ok was not called");
	ck_assert_str_eq(
	        out,
	        "Summary: Successfully dumped 2 of 4 databases. Skipped 1, Failed 1. Error=1 ndbs=4\n");
	free(out);
	char *log = t_read_file(e.log);
	ck_assert_ptr_null(strstr(log, "ERROR"));
	ck_assert_ptr_nonnull(strstr(log, "Reporter 'report_ok' delivered the result"));
	free(log);
	send_teardown(&e);
}
END_TEST

/* The reporters get result_json: what report_write_json writes to
 * result.json for the same result, byte for byte. */
START_TEST(test_send_hands_result_json)
{
	static const char *const fx[] = {"report_ok", NULL};
	struct send_env e;
	send_setup(&e, fx, "[report_ok]\n");
	char *got_path = xasprintf("%s/got.json", e.dir);
	char *file_path = xasprintf("%s/result.json", e.dir);
	setenv("OMA_FIXTURE_REPORT_JSON", got_path, 1);
	struct oma_report r = sample_report();
	ck_assert_int_eq(report_send(&e.ld, &r, 5), 0);
	unsetenv("OMA_FIXTURE_REPORT_JSON");
	char err[512];
	ck_assert_msg(report_write_json(&r, file_path, err, sizeof(err)) == 0, "%s", err);
	char *got = t_read_file(got_path);
	char *file = t_read_file(file_path);
	ck_assert_msg(got != NULL, "report_ok wrote no result_json");
	ck_assert_str_eq(got, file);
	size_t len = 0;
	char *json = report_json(&r, &len);
	ck_assert_str_eq(json, file);
	ck_assert_uint_eq(len, strlen(file));
	free(json);
	free(got);
	free(file);
	free(got_path);
	free(file_path);
	send_teardown(&e);
}
END_TEST

START_TEST(test_send_section_absent_not_called)
{
	static const char *const fx[] = {"report_ok", "report_fail", NULL};
	struct send_env e;
	send_setup(&e, fx, "[report_fail]\nenabled = false\n[other]\nx = 1\n");
	struct oma_report r = sample_report();
	ck_assert_int_eq(report_send(&e.ld, &r, 5), 0);
	ck_assert_int_ne(access(e.ok_out, F_OK), 0);
	char *log = t_read_file(e.log);
	ck_assert_ptr_null(strstr(log, "report_ok"));
	ck_assert_ptr_null(strstr(log, "report_fail"));
	free(log);
	send_teardown(&e);
}
END_TEST

START_TEST(test_send_failure_logged_and_counted)
{
	static const char *const fx[] = {"report_fail", "report_ok", NULL};
	struct send_env e;
	send_setup(&e, fx, "[report_fail]\n[report_ok]\n");
	struct oma_report r = sample_report();
	ck_assert_int_eq(report_send(&e.ld, &r, 5), 1);
	char *log = t_read_file(e.log);
	ck_assert_msg(strstr(log, " ERROR Reporter 'report_fail' failed: receiver said no\n") !=
	                      NULL,
	              "%s", log);
	free(log);
	/* One reporter failing does not stop the others. */
	ck_assert_int_eq(access(e.ok_out, F_OK), 0);
	send_teardown(&e);
}
END_TEST

START_TEST(test_send_hang_killed)
{
	static const char *const fx[] = {"report_hang", "report_ok", NULL};
	struct send_env e;
	send_setup(&e, fx, "[report_hang]\n[report_ok]\n");
	struct oma_report r = sample_report();
	double t0 = now_s();
	ck_assert_int_eq(report_send(&e.ld, &r, 1), 1);
	double took = now_s() - t0;
	ck_assert_msg(took >= 0.9 && took < 10, "report_send took %.2f s with a 1 s limit", took);
	char *log = t_read_file(e.log);
	ck_assert_msg(strstr(log,
	                     " ERROR Reporter 'report_hang' failed: no answer within 1 seconds") !=
	                      NULL,
	              "%s", log);
	free(log);
	ck_assert_int_eq(access(e.ok_out, F_OK), 0);
	send_teardown(&e);
}
END_TEST

START_TEST(test_send_crash_counted)
{
	static const char *const fx[] = {"report_crash", NULL};
	struct send_env e;
	send_setup(&e, fx, "[report_crash]\n");
	struct oma_report r = sample_report();
	ck_assert_int_eq(report_send(&e.ld, &r, 5), 1);
	char *log = t_read_file(e.log);
	ck_assert_msg(strstr(log, " ERROR Reporter 'report_crash' failed: crashed (signal 11)\n") !=
	                      NULL,
	              "%s", log);
	free(log);
	send_teardown(&e);
}
END_TEST

START_TEST(test_send_all_outcomes_together)
{
	static const char *const fx[] = {"report_crash", "report_fail", "report_hang", "report_ok",
	                                 NULL};
	struct send_env e;
	send_setup(&e, fx, "[report_crash]\n[report_fail]\n[report_hang]\n[report_ok]\n");
	struct oma_report r = sample_report();
	unsigned errors = log_error_count();
	ck_assert_int_eq(report_send(&e.ld, &r, 1), 3);
	ck_assert_int_eq(access(e.ok_out, F_OK), 0);
	ck_assert_uint_eq(log_error_count() - errors, 3);
	send_teardown(&e);
}
END_TEST

static Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("summary");
	tcase_add_test(tc, test_summary_skipped);
	tcase_add_test(tc, test_summary_aborted);
	tcase_add_test(tc, test_summary_success);
	tcase_add_test(tc, test_summary_reused_count_as_dumped);
	tcase_add_test(tc, test_summary_failed_dump);
	tcase_add_test(tc, test_summary_error_whenever_something_failed);
	tcase_add_test(tc, test_summary_no_space);
	suite_add_tcase(s, tc);

	tc = tcase_create("enabled");
	tcase_add_test(tc, test_enabled_section_present);
	tcase_add_test(tc, test_enabled_section_absent);
	tcase_add_test(tc, test_enabled_flag);
	tcase_add_test(tc, test_enabled_zabbix_item_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, test_json_valid_and_escaped);
	tcase_add_test(tc, test_json_no_databases);
	tcase_add_test(tc, test_json_unwritable);
	suite_add_tcase(s, tc);

	tc = tcase_create("send");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_send_ok_delivers);
	tcase_add_test(tc, test_send_hands_result_json);
	tcase_add_test(tc, test_send_section_absent_not_called);
	tcase_add_test(tc, test_send_failure_logged_and_counted);
	tcase_add_test(tc, test_send_hang_killed);
	tcase_add_test(tc, test_send_crash_counted);
	tcase_add_test(tc, test_send_all_outcomes_together);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(report_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
