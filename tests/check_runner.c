/* check_runner.c - unit tests for core/runner.c: whole runs against stand-in mysql and mysqldump scripts. */
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "loader.h"
#include "log.h"
#include "runner.h"
#include "testlib.h"
#include "util.h"

/* One test's world: a backup folder, a fake datadir with the databases
 * "alpha", "beta" and "gamma", stand-ins for mysql (answers the facts
 * query from the datadir) and mysqldump (writes a complete dump, or fails
 * for the databases named in tmp/fail), the real gzip and sh plugins and
 * the report_ok / report_fail fixtures. */
static char *tmp, *bdir, *datadir, *bin, *ok_out;
static struct loader ld;
static struct oma_config cfg;
static int cfg_loaded;
static struct run_plugins pl;
static int have_report_ok; /* report_ok is loaded */

static const char *const dbs[] = {"alpha", "beta", "gamma", NULL};

static char *path_in(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* The mysql stand-in: the facts query's answer, hex-encoded as the server
 * gives it; with tmp/mysql-fails present it fails as an unreachable
 * server does. */
static void write_mysql(void)
{
	char *hexdir = t_hex(datadir);
	char *script =
	        xasprintf("#!/bin/sh\n"
	                  "if [ -e '%s/mysql-fails' ]; then\n"
	                  "  echo \"ERROR 2002 (HY000): Can't connect to local server\" >&2\n"
	                  "  exit 1\n"
	                  "fi\n"
	                  "printf 'datadir\\t0\\t%s\\n'\n",
	                  tmp, hexdir);
	for (size_t i = 0; dbs[i] != NULL; i++) {
		char *hex = t_hex(dbs[i]);
		char *more = xasprintf("%sprintf 'db\\t%s\\t%s\\n'\n", script, hex, hex);
		free(script);
		script = more;
		free(hex);
	}
	char *path = path_in(bin, "mysql");
	t_write_file(path, script, 0755);
	free(path);
	free(script);
	free(hexdir);
}

/* The mysqldump stand-in: `mysqldump DB options...`; a database listed
 * in tmp/fail (one name a line) fails with exit code 2. */
static void write_mysqldump(void)
{
	char *script =
	        xasprintf("#!/bin/sh\n"
	                  "if [ -e '%s/fail' ] && grep -qx -- \"$1\" '%s/fail'; then\n"
	                  "  echo \"mysqldump: Got error: 1049: Unknown database '$1'\" >&2\n"
	                  "  exit 2\n"
	                  "fi\n"
	                  "echo \"-- MariaDB dump of $1 (stand-in)\"\n"
	                  "echo \"CREATE TABLE t (id INT);\"\n"
	                  "echo \"-- Dump completed on 2024-05-01 12:00:00\"\n",
	                  tmp, tmp);
	char *path = path_in(bin, "mysqldump");
	t_write_file(path, script, 0755);
	free(path);
	free(script);
}

static void setup(void)
{
	tmp = t_mkdtemp("runner");
	bdir = path_in(tmp, "backups");
	datadir = path_in(tmp, "datadir");
	bin = path_in(tmp, "bin");
	ok_out = path_in(tmp, "ok.out");
	ck_assert_int_eq(mkdir(bdir, 0755), 0);
	ck_assert_int_eq(mkdir(datadir, 0755), 0);
	ck_assert_int_eq(mkdir(bin, 0755), 0);
	for (size_t i = 0; dbs[i] != NULL; i++) {
		char *dir = path_in(datadir, dbs[i]);
		ck_assert_int_eq(mkdir(dir, 0755), 0);
		char *file = path_in(dir, "t.ibd");
		t_write_file(file, "some table data\n", 0644);
		free(file);
		free(dir);
	}
	write_mysql();
	write_mysqldump();
	setenv("OMA_FIXTURE_REPORT_OK", ok_out, 1);
	log_set_stderr_level(OMA_LOG_ERROR + 10);
	log_set_level(OMA_LOG_DEBUG);
	memset(&ld, 0, sizeof(ld));
	cfg_loaded = 0;
	have_report_ok = 0;
}

static void teardown(void)
{
	loader_unload(&ld);
	if (cfg_loaded)
		cfg_free(&cfg);
	t_remove_tree(tmp);
	free(tmp);
	free(bdir);
	free(datadir);
	free(bin);
	free(ok_out);
}

/* Load one fixture plugin of `type` (from a folder of links named as oma
 * looks for them) and initialise it. */
static void add_fixture(int type, const char *fixture)
{
	char *dir = path_in(tmp, "plugins");
	(void)mkdir(dir, 0755);
	char *src = t_fixture_path(fixture);
	const char *prefix = type == OMA_PLUGIN_STORE     ? "store"
	                     : type == OMA_PLUGIN_ENCRYPT ? "encrypt"
	                                                  : "report";
	char *dst = xasprintf("%s/%s-%s.so", dir, prefix, fixture);
	ck_assert_int_eq(symlink(src, dst), 0);
	char err[1024] = "";
	struct loaded_plugin *p = NULL;
	ck_assert_msg(loader_load(&ld, dir, type, fixture, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(loader_init(p, NULL, err, sizeof(err)) == 0, "%s", err);
	free(dst);
	free(src);
	free(dir);
}

/* The plugin of `type` called `name` from BUILD/plugins, initialised. */
static struct loaded_plugin *plugin(int type, const char *name)
{
	char err[1024] = "";
	struct loaded_plugin *p = t_load_plugin(&ld, type, name);
	ck_assert_msg(loader_init(p, NULL, err, sizeof(err)) == 0, "%s", err);
	return p;
}

/* Configure a run: [main] with the stand-ins plus `main_extra` lines,
 * [conditions] with `conditions` lines (the sh plugin loaded when there
 * are some), the gzip compressor at its default level, report_ok. */
static void configure(const char *main_extra, const char *conditions)
{
	char *text = xasprintf("[main]\n"
	                       "backup_dir = \"%s\"\n"
	                       "mysql_bin = \"%s/mysql\"\n"
	                       "mysqldump_bin = \"%s/mysqldump\"\n"
	                       "compression = \"gzip\"\n"
	                       "parallelism = 2\n"
	                       "%s\n"
	                       "[conditions]\n"
	                       "%s\n",
	                       bdir, bin, bin, main_extra, conditions);
	char *conf = path_in(tmp, "oma.conf");
	t_write_file(conf, text, 0644);
	char err[1024] = "";
	if (cfg_loaded)
		cfg_free(&cfg);
	ck_assert_msg(cfg_load(conf, &cfg, err, sizeof(err)) == 0, "%s", err);
	cfg_loaded = 1;
	free(conf);
	free(text);

	struct loaded_plugin *gz = plugin(OMA_PLUGIN_COMPRESS, "gzip");
	if (cfg.main.compression_level < 0)
		cfg.main.compression_level = gz->desc->compress->default_level;
	struct loaded_plugin *sh = NULL;
	if (cfg.cond.skip.n + cfg.cond.run.n + cfg.cond.terminate.n > 0)
		sh = plugin(OMA_PLUGIN_CONDITION, "sh");
	if (!have_report_ok)
		add_fixture(OMA_PLUGIN_REPORT, "report_ok");
	have_report_ok = 1;
	pl = (struct run_plugins){
	        .comp = gz->desc->compress,
	        .comp_name = gz->desc->name,
	        .cond = sh != NULL ? sh->desc->condition : NULL,
	        .ld = &ld,
	        .report_timeout = 30,
	};
}

/* ---- what a run left ----------------------------------------------------- */

/* The backup folders in bdir, sorted (oldest first). */
static void folders(struct strv *out)
{
	memset(out, 0, sizeof(*out));
	DIR *d = opendir(bdir);
	ck_assert_ptr_nonnull(d);
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
		if (strncmp(e->d_name, "oma_", 4) == 0)
			strv_push(out, e->d_name);
	closedir(d);
	for (size_t i = 0; i + 1 < out->n; i++)
		for (size_t k = i + 1; k < out->n; k++)
			if (strcmp(out->v[i], out->v[k]) > 0) {
				char *t = out->v[i];
				out->v[i] = out->v[k];
				out->v[k] = t;
			}
}

static size_t n_folders(void)
{
	struct strv f;
	folders(&f);
	size_t n = f.n;
	strv_free(&f);
	return n;
}

/* The newest backup folder's full path (malloc'ed); fails without one. */
static char *newest(void)
{
	struct strv f;
	folders(&f);
	ck_assert_uint_ge(f.n, 1);
	char *p = path_in(bdir, f.v[f.n - 1]);
	strv_free(&f);
	return p;
}

/* Whether bdir/NAME is a link that leads to `target` (a full path). */
static int links_to(const char *name, const char *target)
{
	char *link = path_in(bdir, name);
	char *real = realpath(link, NULL);
	char *want = realpath(target, NULL);
	struct stat st;
	int ok = lstat(link, &st) == 0 && S_ISLNK(st.st_mode) && real != NULL && want != NULL &&
	         strcmp(real, want) == 0;
	free(want);
	free(real);
	free(link);
	return ok;
}

static int exists_in(const char *dir, const char *name)
{
	char *p = path_in(dir, name);
	int ok = access(p, F_OK) == 0;
	free(p);
	return ok;
}

/* bdir/NAME's text (through a link or not); fails when it cannot be read. */
static char *read_in_bdir(const char *name)
{
	char *p = path_in(bdir, name);
	char *text = t_read_file(p);
	ck_assert_msg(text != NULL, "%s cannot be read", p);
	free(p);
	return text;
}

static void expect_in(const char *text, const char *what, const char *where)
{
	ck_assert_msg(strstr(text, what) != NULL, "'%s' not in %s:\n%s", what, where, text);
}

/* The newest run's log (bdir/last.log) has `what` in it. */
static void expect_log(const char *what)
{
	char *text = read_in_bdir("last.log");
	expect_in(text, what, "last.log");
	free(text);
}

/* The newest run's result (bdir/last.result.json) has `what` in it. */
static void expect_result(const char *what)
{
	char *text = read_in_bdir("last.result.json");
	expect_in(text, what, "last.result.json");
	free(text);
}

/* report_ok got exactly these lines (summary and ndbs, one per run). */
static void expect_reported(const char *lines)
{
	char *text = t_read_file(ok_out);
	ck_assert_msg(text != NULL, "report_ok was not called");
	ck_assert_str_eq(text, lines);
	free(text);
}

/* The run left no folder of its own: its log is the plain file
 * bdir/last.log. */
static void expect_abandoned(size_t folders_before)
{
	ck_assert_uint_eq(n_folders(), folders_before);
	char *log = path_in(bdir, "last.log");
	struct stat st;
	ck_assert_int_eq(lstat(log, &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode), "last.log is not a plain file");
	free(log);
	expect_result("\"current_dir\": null");
}

/* A complete backup of `n` databases in `dir`: info.json, result.json and
 * each dump a gzip stream holding the stand-in's completion line. */
static void expect_complete(const char *dir, const char *const *names)
{
	ck_assert_msg(exists_in(dir, "info.json"), "no info.json in %s", dir);
	ck_assert_msg(exists_in(dir, "result.json"), "no result.json in %s", dir);
	for (size_t i = 0; names[i] != NULL; i++) {
		char *cmd = xasprintf("gzip -dc '%s/%s.sql.gz' | grep -q '^-- Dump completed on '",
		                      dir, names[i]);
		ck_assert_msg(system(cmd) == 0, "%s/%s.sql.gz is not a complete dump", dir,
		              names[i]);
		free(cmd);
	}
}

/* Make the stand-in mysqldump fail for `db`. */
static void fail_dump(const char *db)
{
	char *p = path_in(tmp, "fail");
	char *old = t_read_file(p);
	char *text = xasprintf("%s%s\n", old != NULL ? old : "", db);
	t_write_file(p, text, 0644);
	free(text);
	free(old);
	free(p);
}

/* ---- the tests ----------------------------------------------------------- */

static const char *const all_dbs[] = {"alpha", "beta", "gamma", NULL};

START_TEST(test_good_run)
{
	configure("", "");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	ck_assert_uint_eq(n_folders(), 1);
	char *cur = newest();
	expect_complete(cur, all_dbs);
	ck_assert_msg(links_to("last", cur), "last does not lead to %s", cur);
	char *log = path_in(cur, "oma.log");
	ck_assert_msg(links_to("last.log", log), "last.log does not lead to %s", log);
	char *res = path_in(cur, "result.json");
	ck_assert_msg(links_to("last.result.json", res), "last.result.json does not lead to %s",
	              res);
	ck_assert(!exists_in(cur, "alpha.sql.gz.part"));
	/* Every dump has its sidecar, skip_unchanged_dbs or not; the stand-in
	 * mysql gives no change reference to put in it (a debug line says so). */
	for (size_t i = 0; all_dbs[i] != NULL; i++) {
		char *name = xasprintf("%s.timestamp", all_dbs[i]);
		char *side = path_in(cur, name);
		char *text = t_read_file(side);
		ck_assert_msg(text != NULL, "no sidecar %s", side);
		ck_assert_ptr_nonnull(strstr(text, "format=oma-1\n"));
		char *file = xasprintf("\nfile=%s.sql.gz\n", all_dbs[i]);
		ck_assert_ptr_nonnull(strstr(text, file));
		ck_assert_ptr_null(strstr(text, "ref_time="));
		free(file);
		free(text);
		free(side);
		free(name);
	}
	expect_log("DEBUG Sidecars carry no change reference (a run with skip_unchanged_dbs will "
	           "dump these databases again): mysql: the server reported no InnoDB LSN");
	expect_log("INFO DB 'alpha': Backup successfully");
	expect_log("INFO Successfully dumped 3 of 3, failed 0 databases");
	expect_result("\"outcome\": \"success\"");
	expect_result("\"exit_code\": 0");
	expect_result("\"dumped\": 3, \"reused\": 0, \"skipped\": 0, \"failed\": 0, \"total\": 3");
	expect_reported(
	        "Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=0 ndbs=3\n");
	free(res);
	free(log);
	free(cur);
}
END_TEST

START_TEST(test_versions_are_pruned)
{
	configure("versions = 2", "");
	struct strv seen = {0};
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
		char *cur = newest();
		strv_push(&seen, strrchr(cur, '/') + 1);
		free(cur);
	}
	/* Three runs, three folders made, the oldest gone. */
	ck_assert_str_ne(seen.v[0], seen.v[1]);
	ck_assert_str_ne(seen.v[1], seen.v[2]);
	struct strv f;
	folders(&f);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(f.v[0], seen.v[1]);
	ck_assert_str_eq(f.v[1], seen.v[2]);
	char *want = xasprintf("Removed old backup directories: ['%s']", seen.v[0]);
	expect_log(want);
	free(want);
	strv_free(&f);
	strv_free(&seen);
}
END_TEST

START_TEST(test_failed_dump_keeps_older_backups)
{
	configure("versions = 1", "");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	char *first = newest();
	fail_dump("beta");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	/* The new folder is a backup (two good dumps) and `last`; the older
	 * one, holding beta's last good dump, stays although versions = 1. */
	ck_assert_uint_eq(n_folders(), 2);
	char *cur = newest();
	ck_assert_str_ne(cur, first);
	static const char *const good[] = {"alpha", "gamma", NULL};
	expect_complete(cur, good);
	ck_assert(!exists_in(cur, "beta.sql.gz"));
	ck_assert(!exists_in(cur, "beta.sql.gz.part"));
	ck_assert(exists_in(first, "beta.sql.gz"));
	ck_assert(links_to("last", cur));
	char *info = path_in(cur, "info.json");
	char *text = t_read_file(info);
	expect_in(text, "\"failed_databases\": 1", "info.json");
	expect_log("ERROR DB 'beta': Backup failed: mysqldump exited with code 2");
	expect_log("ERROR DB 'beta': mysqldump: Got error: 1049: Unknown database 'beta'");
	expect_log("WARNING Not removing old backup directories: 1 database(s) failed");
	expect_result("\"outcome\": \"failed\"");
	expect_result("\"name\": \"beta\", \"outcome\": \"failed\"");
	expect_reported(
	        "Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=0 ndbs=3\n"
	        "Summary: Successfully dumped 2 of 3 databases. Skipped 0, Failed 1. Error=1 ndbs=3\n");
	free(text);
	free(info);
	free(cur);
	free(first);
}
END_TEST

START_TEST(test_no_good_dump_leaves_nothing)
{
	configure("", "");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	char *first = newest();
	fail_dump("alpha");
	fail_dump("beta");
	fail_dump("gamma");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	expect_abandoned(1);
	ck_assert(links_to("last", first));
	expect_complete(first, all_dbs);
	expect_log("ERROR No database was dumped successfully; keeping every previous backup");
	expect_result("\"outcome\": \"failed\"");
	free(first);
}
END_TEST

START_TEST(test_unreachable_server)
{
	configure("versions = 2", "");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	char *last = newest();
	/* With delete_before and versions = 1 the older one would go before
	 * the dumps: not when the server cannot be reached. */
	configure("delete_before = true\nversions = 1", "");
	char *flag = path_in(tmp, "mysql-fails");
	t_write_file(flag, "", 0644);
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	expect_abandoned(2);
	ck_assert(links_to("last", last));
	expect_complete(last, all_dbs);
	expect_log(
	        "ERROR Cannot get server facts: mysql: ERROR 2002 (HY000): Can't connect to local server");
	expect_result("\"outcome\": \"failed\"");
	free(flag);
	free(last);
}
END_TEST

START_TEST(test_skip_condition_met)
{
	configure("", "skip_conditions = [\"exit 1\", \"true\"]");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	expect_abandoned(0);
	expect_log("INFO Backup skipped due to skip conditions (but considered successful)");
	expect_result("\"outcome\": \"skipped\"");
	expect_reported(
	        "Summary: Successfully skipped all databases due to skip_conditions. Error=0 ndbs=0\n");
}
END_TEST

START_TEST(test_run_condition_fails)
{
	configure("", "run_conditions = [\"true\", \"exit 5\"]");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_CONFIG);
	expect_abandoned(0);
	expect_log("ERROR Backup aborted due to failed run conditions");
	expect_result("\"outcome\": \"aborted\"");
	expect_result("\"exit_code\": 1");
	expect_reported(
	        "Summary: All databases were skipped due to faulty run_conditions. Error=1 ndbs=0\n");
}
END_TEST

START_TEST(test_terminate_condition_sees_finished_backup)
{
	/* Fails (exit 3) only when it sees the folder complete. */
	configure(
	        "",
	        "terminate_conditions = ['test -e \"$OMA_CURRENT_DIR/info.json\" && exit 3; exit 0']");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	ck_assert_uint_eq(n_folders(), 1);
	char *cur = newest();
	expect_complete(cur, all_dbs);
	ck_assert(links_to("last", cur));
	expect_log("ERROR One or more terminate conditions failed");
	expect_result("\"exit_code\": 4");
	free(cur);
}
END_TEST

START_TEST(test_reporter_failure_is_the_exit_code)
{
	configure("", "");
	add_fixture(OMA_PLUGIN_REPORT, "report_fail");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	char *cur = newest();
	expect_complete(cur, all_dbs);
	expect_log("ERROR Reporter 'report_fail' failed: receiver said no");
	/* result.json tells the exit code the run ends with; the outcome is
	 * the backup's own. */
	expect_result("\"outcome\": \"success\"");
	expect_result("\"exit_code\": 4");
	/* The other reporter was still called. */
	expect_reported(
	        "Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=0 ndbs=3\n");
	free(cur);
}
END_TEST

static void on_term(int sig)
{
	runner_cancel(sig);
}

/* SIGTERM's handler cancels the run, as oma's does. */
static void catch_term(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGTERM, &sa, NULL), 0);
}

/* A cancelled run: exit 4, no folder, still reported, and `absent` not
 * in its log (what it would have done next). */
static void expect_cancelled(const char *const *absent)
{
	ck_assert_int_eq(runner_cancelled(), SIGTERM);
	expect_abandoned(0);
	expect_log("ERROR Backup cancelled by signal 15");
	expect_result("\"outcome\": \"failed\"");
	char *log = read_in_bdir("last.log");
	for (size_t i = 0; absent[i] != NULL; i++)
		ck_assert_msg(strstr(log, absent[i]) == NULL, "'%s' in the log:\n%s", absent[i],
		              log);
	free(log);
	/* A cancelled run still reports, and is no skip. */
	expect_reported(
	        "Summary: Successfully dumped 0 of 0 databases. Skipped 0, Failed 0. Error=1 ndbs=0\n");
}

START_TEST(test_cancelled_during_skip_conditions)
{
	catch_term();
	/* The skip condition signals oma, then would wait: the cancel stops
	 * it, and the run ends at the next check. */
	configure("", "skip_conditions = [\"kill -TERM $PPID; sleep 60; exit 0\"]\n"
	              "run_conditions = [\"true\"]");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	static const char *const absent[] = {"Backup skipped", "Run condition",
	                                     "Performing the backup now", NULL};
	expect_cancelled(absent);
}
END_TEST

START_TEST(test_cancelled_skip_condition_met)
{
	catch_term();
	/* It signals oma, outlives the stop (ignoring SIGTERM) and exits 0:
	 * a cancel, not a skip. */
	configure("", "skip_conditions = [\"trap '' TERM; kill -TERM $PPID; exit 0\"]");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	static const char *const absent[] = {"Backup skipped", "Performing the backup now", NULL};
	expect_cancelled(absent);
}
END_TEST

START_TEST(test_cancelled_during_run_conditions)
{
	catch_term();
	configure("", "run_conditions = [\"kill -TERM $PPID; sleep 60\"]");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	static const char *const absent[] = {"Backup aborted", "Performing the backup now", NULL};
	expect_cancelled(absent);
}
END_TEST

START_TEST(test_do_databases_all_missing)
{
	configure("do_databases = [\"nope\"]", "");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	expect_abandoned(0);
	expect_log("WARNING Database 'nope' listed in do_databases does not exist.");
	expect_log(
	        "ERROR None of the databases listed in do_databases exists; nothing was backed up");
}
END_TEST

START_TEST(test_everything_excluded)
{
	configure("exclude_databases = [\"alpha\", \"beta\", \"gamma\"]", "");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	expect_abandoned(0);
	expect_log("WARNING No databases selected for backup");
	expect_result("\"dumped\": 0, \"reused\": 0, \"skipped\": 3, \"failed\": 0, \"total\": 3");
	expect_reported(
	        "Summary: Successfully dumped 0 of 3 databases. Skipped 3, Failed 0. Error=0 ndbs=3\n");
}
END_TEST

START_TEST(test_unchanged_without_change_check_dumps_all)
{
	configure("skip_unchanged_dbs = true", "");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	/* The stand-in cannot answer the change probe: nothing is reused. */
	char *cur = newest();
	expect_complete(cur, all_dbs);
	expect_log("INFO Skip unchanged databases: True");
	expect_log("WARNING skip_unchanged_dbs: change check unavailable: ");
	expect_log("DEBUG DB 'alpha': dumping: ");
	expect_result("\"dumped\": 3, \"reused\": 0");
	free(cur);
}
END_TEST

/* ---- off-site copies (the store_dir fixture) ----------------------------- */

static char *remote; /* the fixture's "remote" folder */

/* configure(), plus the store_dir fixture copying to tmp/remote. */
static void configure_store(const char *main_extra)
{
	remote = path_in(tmp, "remote");
	ck_assert_int_eq(mkdir(remote, 0755), 0);
	setenv("OMA_FIXTURE_STORE", remote, 1);
	unsetenv("OMA_FIXTURE_STORE_FAIL_BEGIN");
	unsetenv("OMA_FIXTURE_STORE_FAIL_PUT");
	unsetenv("OMA_FIXTURE_STORE_FAIL_COMMIT");
	configure(main_extra, "");
	add_fixture(OMA_PLUGIN_STORE, "store_dir");
}

/* The fixture's events, one call a line. */
static char *events(void)
{
	char *p = path_in(remote, "events");
	char *text = t_read_file(p);
	free(p);
	return text != NULL ? text : xstrdup("");
}

static size_t count_lines_with(const char *text, const char *what)
{
	size_t n = 0;
	for (const char *p = strstr(text, what); p != NULL; p = strstr(p + 1, what))
		n++;
	return n;
}

/* local/NAME and the remote copy remote/FOLDER/NAME hold the same bytes. */
static void expect_copied(const char *local, const char *name)
{
	char *a = path_in(local, name);
	char *b = xasprintf("%s/%s/%s", remote, strrchr(local, '/') + 1, name);
	char *cmd = xasprintf("cmp -s '%s' '%s'", a, b);
	ck_assert_msg(system(cmd) == 0, "%s was not copied to %s", a, b);
	free(cmd);
	free(b);
	free(a);
}

START_TEST(test_offsite_copies_the_folder)
{
	configure_store("versions = 3");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	char *cur = newest();
	const char *base = strrchr(cur, '/') + 1;
	for (size_t i = 0; all_dbs[i] != NULL; i++) {
		char *f = xasprintf("%s.sql.gz", all_dbs[i]);
		expect_copied(cur, f);
		free(f);
	}
	expect_copied(cur, "result.json");
	expect_copied(cur, "SHA256SUMS");
	/* oma.log as it was when copied: it goes on after that. */
	char *cmd = xasprintf("cd '%s' && r='%s/%s/oma.log' && test -s \"$r\" && "
	                      "head -c \"$(stat -c %%s \"$r\")\" oma.log | cmp -s - \"$r\"",
	                      cur, remote, base);
	ck_assert_msg(system(cmd) == 0, "oma.log was not copied");
	free(cmd);
	expect_copied(cur, "info.json");
	char *ev = events();
	char *begin = xasprintf("begin %s\n", base);
	ck_assert_msg(strncmp(ev, begin, strlen(begin)) == 0, "events:\n%s", ev);
	/* Each dump with its database and SHA-256, the folder's files without. */
	ck_assert_uint_eq(count_lines_with(ev, "put alpha.sql.gz db=alpha from=- sha="), 1);
	ck_assert_uint_eq(count_lines_with(ev, "sha=-"), 3);
	ck_assert_uint_eq(count_lines_with(ev, "put "), 6);
	ck_assert_msg(strstr(ev, "put SHA256SUMS db=- from=- sha=- bytes=") != NULL, "%s", ev);
	ck_assert_msg(strstr(ev, "put result.json db=- from=- sha=- bytes=") != NULL, "%s", ev);
	/* info.json last, by commit, after every put; then end. */
	const char *commit = strstr(ev, "commit info.json prune=1 versions=3\nend\n");
	ck_assert_msg(commit != NULL && strstr(commit, "put ") == NULL, "events:\n%s", ev);
	ck_assert(strstr(ev, "put info.json") == NULL);
	expect_log("INFO store_dir: completed ");
	expect_log("INFO Off-site copy 'store_dir' complete: ");
	expect_result("\"offsite\": {\"outcome\": \"copied\", \"error\": null}");
	expect_result("\"name\": \"alpha\", \"outcome\": \"dumped\"");
	expect_result("\"offsite\": \"copied\", \"offsite_error\": null}");
	free(begin);
	free(ev);
	free(cur);
}
END_TEST

START_TEST(test_offsite_put_fails)
{
	configure_store("versions = 1");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	char *first = newest();
	setenv("OMA_FIXTURE_STORE_FAIL_PUT", "beta.sql.gz", 1);
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	/* The local backup is whole and `last`; the folder is not completed
	 * remotely. */
	char *cur = newest();
	ck_assert_str_ne(cur, first);
	expect_complete(cur, all_dbs);
	ck_assert(links_to("last", cur));
	char *ev = events();
	ck_assert_uint_eq(count_lines_with(ev, "commit "), 1); /* the first run's */
	expect_log("ERROR Off-site copy 'store_dir' of beta.sql.gz failed: store_dir: put of "
	           "beta.sql.gz refused as asked");
	expect_result("\"exit_code\": 4");
	expect_result("\"outcome\": \"success\""); /* the backup's own */
	expect_result("\"offsite\": {\"outcome\": \"failed\", \"error\": \"store_dir: put of "
	              "beta.sql.gz refused as asked\"}");
	expect_result("\"name\": \"beta\", \"outcome\": \"dumped\"");
	expect_result("\"offsite\": \"failed\", \"offsite_error\": \"store_dir: put of beta.sql.gz "
	              "refused as asked\"}");
	expect_reported(
	        "Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=0 ndbs=3\n"
	        "Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=1 ndbs=3\n");
	free(ev);
	free(cur);
	free(first);
}
END_TEST

START_TEST(test_offsite_commit_fails)
{
	configure_store("");
	setenv("OMA_FIXTURE_STORE_FAIL_COMMIT", "1", 1);
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	char *cur = newest();
	expect_complete(cur, all_dbs);
	expect_log("ERROR Off-site copy 'store_dir' failed: store_dir: commit refused as asked");
	/* result.json was rewritten with the folder's outcome. */
	expect_result("\"exit_code\": 4");
	expect_result("\"offsite\": {\"outcome\": \"failed\", \"error\": \"store_dir: commit "
	              "refused as asked\"}");
	expect_reported(
	        "Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=1 ndbs=3\n");
	free(cur);
}
END_TEST

START_TEST(test_offsite_begin_fails)
{
	configure_store("");
	setenv("OMA_FIXTURE_STORE_FAIL_BEGIN", "1", 1);
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	char *cur = newest();
	expect_complete(cur, all_dbs);
	ck_assert(links_to("last", cur));
	char *ev = events();
	ck_assert_str_eq(ev, ""); /* nothing put, no end() after a failed begin() */
	expect_log("ERROR Off-site copy 'store_dir' failed: store_dir: begin refused as asked");
	expect_result("\"offsite\": {\"outcome\": \"failed\", \"error\": \"store_dir: begin "
	              "refused as asked\"}");
	expect_result("\"name\": \"gamma\", \"outcome\": \"dumped\", \"bytes\": ");
	free(ev);
	free(cur);
}
END_TEST

START_TEST(test_offsite_failed_dump_does_not_prune)
{
	configure_store("");
	fail_dump("beta");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_FAILED);
	char *ev = events();
	/* The folder is completed remotely (what was dumped is there) but the
	 * remote side keeps its older folders, as the local side does. */
	ck_assert_msg(strstr(ev, "commit info.json prune=0 ") != NULL, "events:\n%s", ev);
	ck_assert(strstr(ev, "put beta.sql.gz") == NULL);
	expect_result("\"offsite\": {\"outcome\": \"copied\", \"error\": null}");
	expect_result("\"name\": \"beta\", \"outcome\": \"failed\"");
	expect_result("\"offsite\": \"none\", \"offsite_error\": null}");
	free(ev);
}
END_TEST

/* A mysqldump stand-in for gamma that waits (10 s at most) until the copy
 * of alpha's dump has begun, and fails if it has not: the copies start
 * while the dumps still run. */
START_TEST(test_offsite_overlaps_dumps)
{
	configure_store("");
	char *alpha = path_in(datadir, "alpha/t.ibd");
	t_write_file(alpha, "a bigger table, so alpha is dumped first ..................\n", 0644);
	free(alpha);
	char *script = xasprintf(
	        "#!/bin/sh\n"
	        "if [ \"$1\" = gamma ]; then\n"
	        "  i=0\n"
	        "  until ls '%s'/oma_*/alpha.sql.gz.started >/dev/null 2>&1; do\n"
	        "    i=$((i + 1)); [ $i -gt 1000 ] && { echo 'alpha not copied yet' >&2; exit 3; }\n"
	        "    sleep 0.01\n"
	        "  done\n"
	        "fi\n"
	        "echo \"-- MariaDB dump of $1 (stand-in)\"\n"
	        "echo \"-- Dump completed on 2024-05-01 12:00:00\"\n",
	        remote);
	char *path = path_in(bin, "mysqldump");
	t_write_file(path, script, 0755);
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	expect_result("\"offsite\": {\"outcome\": \"copied\", \"error\": null}");
	free(path);
	free(script);
}
END_TEST

/* ---- the encryption stage (the encrypt_xor fixture) ---------------------- */

static const char *cfg_getter(const char *section, const char *key)
{
	return cfg_get(&cfg, section, key);
}

/* configure(), then [encryption] recipients = `recipients` through the
 * encrypt_xor fixture, its table registered as main.c does. */
static void configure_encrypted(const char *recipients)
{
	char *extra = xasprintf("[encryption]\nrecipients = %s\n", recipients);
	configure("", "");
	/* configure() wrote [main] and [conditions]: add the section. */
	char *conf = path_in(tmp, "oma.conf");
	char *text = t_read_file(conf);
	char *more = xasprintf("%s%s", text, extra);
	t_write_file(conf, more, 0644);
	char err[1024] = "";
	cfg_free(&cfg);
	ck_assert_msg(cfg_load(conf, &cfg, err, sizeof(err)) == 0, "%s", err);
	struct loaded_plugin *gz = plugin(OMA_PLUGIN_COMPRESS, "gzip");
	cfg.main.compression_level = gz->desc->compress->default_level;
	loader_set_config_getter(cfg_getter);
	char *dir = path_in(tmp, "plugins");
	(void)mkdir(dir, 0755);
	char *src = t_fixture_path("encrypt_xor");
	char *dst = path_in(dir, "encrypt-encrypt_xor.so");
	(void)unlink(dst);
	ck_assert_int_eq(symlink(src, dst), 0);
	struct loaded_plugin *p = NULL;
	ck_assert_msg(loader_load(&ld, dir, OMA_PLUGIN_ENCRYPT, "encrypt_xor", &p, err,
	                          sizeof(err)) == 0,
	              "%s", err);
	if (!p->initialized)
		ck_assert_msg(cfg_register_settings(&cfg, "encryption", p->desc->settings, err,
		                                    sizeof(err)) == 0,
		              "%s", err);
	ck_assert_msg(loader_init(p, NULL, err, sizeof(err)) == 0, "%s", err);
	pl.enc = p->desc->encrypt;
	pl.enc_name = p->desc->name;
	free(dst);
	free(src);
	free(dir);
	free(more);
	free(text);
	free(conf);
	free(extra);
}

/* dir/NAME is "XOR1\n" and a gzip stream XOR 0x5a holding a complete dump. */
static void expect_xor_dump(const char *dir, const char *name)
{
	char *path = path_in(dir, name);
	char *cmd = xasprintf("f='%s' && [ \"$(head -c 5 \"$f\")\" = XOR1 ] && tail -c +6 \"$f\" | "
	                      "perl -pe 'BEGIN { $/ = \\1 } $_ ^= chr(0x5a)' | gzip -dc | "
	                      "grep -q '^-- Dump completed on '",
	                      path);
	ck_assert_msg(system(cmd) == 0, "%s is not an encrypted complete dump", path);
	free(cmd);
	free(path);
}

START_TEST(test_encrypted_dumps)
{
	configure_encrypted("[\"k1\", \"k2\"]");
	ck_assert_int_eq(runner_run(&cfg, &pl), OMA_EXIT_OK);
	char *cur = newest();
	for (size_t i = 0; all_dbs[i] != NULL; i++) {
		char *f = xasprintf("%s.sql.gz.xor", all_dbs[i]);
		expect_xor_dump(cur, f);
		free(f);
		f = xasprintf("%s.sql.gz", all_dbs[i]);
		ck_assert_msg(!exists_in(cur, f), "%s in the clear", f);
		free(f);
	}
	expect_log("INFO Encryption: encrypt_xor (.xor), recipients k1,k2");
	expect_log("INFO DB 'alpha': Backup successfully");
	expect_result("\"dumped\": 3, \"reused\": 0");
	free(cur);
}
END_TEST

static Suite *runner_suite(void)
{
	Suite *s = suite_create("runner");
	TCase *tc = tcase_create("runs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_good_run);
	tcase_add_test(tc, test_versions_are_pruned);
	tcase_add_test(tc, test_failed_dump_keeps_older_backups);
	tcase_add_test(tc, test_no_good_dump_leaves_nothing);
	tcase_add_test(tc, test_unreachable_server);
	tcase_add_test(tc, test_skip_condition_met);
	tcase_add_test(tc, test_run_condition_fails);
	tcase_add_test(tc, test_terminate_condition_sees_finished_backup);
	tcase_add_test(tc, test_reporter_failure_is_the_exit_code);
	tcase_add_test(tc, test_cancelled_during_skip_conditions);
	tcase_add_test(tc, test_cancelled_skip_condition_met);
	tcase_add_test(tc, test_cancelled_during_run_conditions);
	tcase_add_test(tc, test_do_databases_all_missing);
	tcase_add_test(tc, test_everything_excluded);
	tcase_add_test(tc, test_unchanged_without_change_check_dumps_all);
	tcase_add_test(tc, test_offsite_copies_the_folder);
	tcase_add_test(tc, test_offsite_put_fails);
	tcase_add_test(tc, test_offsite_commit_fails);
	tcase_add_test(tc, test_offsite_begin_fails);
	tcase_add_test(tc, test_offsite_failed_dump_does_not_prune);
	tcase_add_test(tc, test_offsite_overlaps_dumps);
	tcase_add_test(tc, test_encrypted_dumps);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(runner_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
