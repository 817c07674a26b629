/* check_server.c - tests for core/server.c against fake mysql clients. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "log.h"
#include "server.h"
#include "server_internal.h"
#include "testlib.h"
#include "util.h"

static char tmp[64];    /* per-test temp dir */
static char mysql[128]; /* fake client in tmp */

static char *in_tmp(const char *name)
{
	return xasprintf("%s/%s", tmp, name);
}

/* The fake client: checks its fixed arguments, records them, and answers a
 * few queries from files the test writes next to it. */
static const char fake_mysql[] =
        "#!/bin/sh\n"
        "d=$(dirname \"$0\")\n"
        "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$d/argv\"\n"
        "if [ $# -ne 5 ] || [ \"$1\" != --default-character-set=utf8mb4 ] ||\n"
        "   [ \"$2\" != -N ] || [ \"$3\" != -B ] || [ \"$4\" != -e ]; then\n"
        "  echo \"ERROR 9999: bad arguments\" >&2; exit 3\n"
        "fi\n"
        "case \"$5\" in\n"
        "*'FROM information_schema.SCHEMATA') cat \"$d/facts.out\" ;;\n"
        "'SHOW DATABASES') cat \"$d/dbs.out\" ;;\n"
        "BIG) head -c 300000 /dev/zero | tr '\\000' e >&2; yes 'row\\tvalue' | head -n 200000 ;;\n"
        "BIGFAIL) yes 'row' | head -n 200000; head -c 300000 /dev/zero | tr '\\000' e >&2;"
        " echo >&2; echo 'ERROR 1234 (HY000): late failure' >&2; exit 1 ;;\n"
        "NOTFOUND) echo 'sh: 1: mysql: not found' >&2; exit 127 ;;\n"
        "KILLED) kill -9 $$ ;;\n"
        "EMPTY) ;;\n"
        "*) echo 'ERROR 1064 (42000): You have an error in your SQL syntax' >&2; exit 1 ;;\n"
        "esac\n";

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/check_server.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(mysql, sizeof(mysql), "%s/fake-mysql", tmp);
	t_write_file(mysql, fake_mysql, 0755);
}

static void teardown(void)
{
	char *cmd = xasprintf("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", tmp, tmp);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

/* ---- server_query ------------------------------------------------------ */

START_TEST(query_passes_exact_argv)
{
	struct strv lines = {0};
	char err[256] = "";
	/* A query full of shell syntax reaches the client as one argument. */
	const char *q = "SELECT '$(touch pwned)'; `touch pwned2` \"x\" \\";
	ck_assert_int_eq(server_query(mysql, q, &lines, err, sizeof(err)), -1);
	char *argv_path = in_tmp("argv");
	char *got = t_read_file(argv_path);
	char *want = xasprintf("--default-character-set=utf8mb4\n-N\n-B\n-e\n%s\n", q);
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(access("pwned", F_OK), -1);
	char *pwned = in_tmp("pwned");
	ck_assert_int_eq(access(pwned, F_OK), -1);
	ck_assert_str_eq(err, "mysql: ERROR 1064 (42000): You have an error in your SQL syntax");
	free(pwned);
	free(got);
	free(want);
	free(argv_path);
	strv_free(&lines);
}
END_TEST

START_TEST(query_unescapes_batch_output)
{
	char *p = in_tmp("dbs.out");
	/* mysql -B writes tab, newline, NUL and backslash inside values as \t \n \0 \\ */
	t_write_file(p, "plain\ntab\\there\nnew\\nline\nback\\\\slash\n\\\\t\nodd\\x\nlast\\\n",
	             0644);
	struct strv lines = {0};
	char err[256] = "";
	ck_assert_int_eq(server_query(mysql, "SHOW DATABASES", &lines, err, sizeof(err)), 0);
	ck_assert_uint_eq(lines.n, 7);
	ck_assert_str_eq(lines.v[0], "plain");
	ck_assert_str_eq(lines.v[1], "tab\there");
	ck_assert_str_eq(lines.v[2], "new\nline");
	ck_assert_str_eq(lines.v[3], "back\\slash");
	ck_assert_str_eq(lines.v[4], "\\t");    /* escaped backslash, then a plain 't' */
	ck_assert_str_eq(lines.v[5], "odd\\x"); /* unknown escapes stay */
	ck_assert_str_eq(lines.v[6], "last\\");
	strv_free(&lines);
	free(p);
}
END_TEST

START_TEST(query_without_trailing_newline_and_empty)
{
	char *p = in_tmp("dbs.out");
	t_write_file(p, "a\n\nb", 0644);
	struct strv lines = {0};
	char err[256] = "";
	ck_assert_int_eq(server_query(mysql, "SHOW DATABASES", &lines, err, sizeof(err)), 0);
	ck_assert_uint_eq(lines.n, 3);
	ck_assert_str_eq(lines.v[0], "a");
	ck_assert_str_eq(lines.v[1], "");
	ck_assert_str_eq(lines.v[2], "b");
	strv_free(&lines);

	ck_assert_int_eq(server_query(mysql, "EMPTY", &lines, err, sizeof(err)), 0);
	ck_assert_uint_eq(lines.n, 0);
	free(p);
}
END_TEST

START_TEST(query_failing_client)
{
	char *bad = in_tmp("down-mysql");
	t_write_file(
	        bad,
	        "#!/bin/sh\n"
	        "echo 'mysql: Deprecated program name. It will be removed in a future release, "
	        "use /usr/bin/mariadb instead' >&2\n"
	        "echo \"ERROR 2002 (HY000): Can't connect to local server through socket "
	        "'/run/mysqld/mysqld.sock' (2)\" >&2\n"
	        "echo 'second line' >&2\n"
	        "exit 1\n",
	        0755);
	struct strv lines = {0};
	char err[256] = "";
	ck_assert_int_eq(server_query(bad, "SHOW DATABASES", &lines, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: ERROR 2002 (HY000): Can't connect to local server through "
	                      "socket '/run/mysqld/mysqld.sock' (2)");
	ck_assert_uint_eq(lines.n, 0);

	/* Without an ERROR line the first non-empty line is used. */
	t_write_file(bad, "#!/bin/sh\necho >&2\necho 'mysql: unknown option -N' >&2\nexit 7\n",
	             0755);
	ck_assert_int_eq(server_query(bad, "SHOW DATABASES", &lines, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: mysql: unknown option -N");

	/* Silent failure and death by signal. */
	t_write_file(bad, "#!/bin/sh\nexit 5\n", 0755);
	ck_assert_int_eq(server_query(bad, "SHOW DATABASES", &lines, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: exited with code 5");
	ck_assert_int_eq(server_query(mysql, "KILLED", &lines, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: killed by signal 9");
	free(bad);
}
END_TEST

START_TEST(query_missing_binary)
{
	struct strv lines = {0};
	char err[256] = "";
	ck_assert_int_eq(server_query("/nonexistent/dir/mysql", "SELECT 1", &lines, err,
	                              sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "cannot run '/nonexistent/dir/mysql': No such file or directory");

	ck_assert_int_eq(setenv("PATH", "/nonexistent", 1), 0);
	ck_assert_int_eq(server_query("oma-no-such-mysql", "SELECT 1", &lines, err, sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "cannot run 'oma-no-such-mysql': No such file or directory");
	ck_assert_int_eq(setenv("PATH", "/usr/bin:/bin", 1), 0);

	ck_assert_int_eq(server_query(mysql, "NOTFOUND", &lines, err, sizeof(err)), -1);
	char *want = xasprintf("cannot run '%s': sh: 1: mysql: not found", mysql);
	ck_assert_str_eq(err, want);
	free(want);
	ck_assert_uint_eq(lines.n, 0);
}
END_TEST

START_TEST(query_uses_path)
{
	char *path = xasprintf("%s:/usr/bin:/bin", tmp);
	ck_assert_int_eq(setenv("PATH", path, 1), 0);
	char *p = in_tmp("dbs.out");
	t_write_file(p, "one\n", 0644);
	struct strv lines = {0};
	char err[256] = "";
	ck_assert_int_eq(server_query("fake-mysql", "SHOW DATABASES", &lines, err, sizeof(err)), 0);
	ck_assert_uint_eq(lines.n, 1);
	ck_assert_str_eq(lines.v[0], "one");
	strv_free(&lines);
	free(p);
	free(path);
}
END_TEST

START_TEST(query_big_outputs_no_deadlock)
{
	/* 300 KB on stderr before 2 MB on stdout: both pipes must be drained. */
	struct strv lines = {0};
	char err[256] = "";
	ck_assert_int_eq(server_query(mysql, "BIG", &lines, err, sizeof(err)), 0);
	ck_assert_uint_eq(lines.n, 200000);
	ck_assert_str_eq(lines.v[0], "row\tvalue");
	ck_assert_str_eq(lines.v[199999], "row\tvalue");
	strv_free(&lines);

	ck_assert_int_eq(server_query(mysql, "BIGFAIL", &lines, err, sizeof(err)), -1);
	ck_assert_uint_eq(lines.n, 0);
	/* The first 64 KiB of stderr are one long non-ERROR line; the ERROR
	 * line came after the kept part, so the long line is what is shown. */
	ck_assert(strncmp(err, "mysql: eeee", 11) == 0);
}
END_TEST

/* ---- server_get_facts -------------------------------------------------- */

/* Append the fake server's row for database `name` whose filename-encoded
 * folder (as CONVERT ... USING filename gives it) is `enc`. */
static void add_db_row(char **buf, size_t *len, size_t *cap, const char *name, const char *enc)
{
	char *a = t_hex(name), *b = t_hex(enc);
	buf_appendf(buf, len, cap, "db\t%s\t%s\n", a, b);
	free(a);
	free(b);
}

static void write_facts(const char *datadir, const char *const *pairs)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	if (datadir != NULL) {
		char *h = t_hex(datadir);
		buf_appendf(&buf, &len, &cap, "datadir\t0\t%s\n", h);
		free(h);
	}
	for (; pairs[0] != NULL; pairs += 2)
		add_db_row(&buf, &len, &cap, pairs[0], pairs[1]);
	char *p = in_tmp("facts.out");
	t_write_file(p, buf != NULL ? buf : "", 0644);
	free(p);
	free(buf);
}

START_TEST(facts_from_fake_server)
{
	/* Server order is arbitrary; the result is sorted by the bytes of the name
	 * like SHOW DATABASES, system schemas left out, folders parallel. */
	write_facts("/var/lib/mysql/", (const char *[]){"information_schema",
	                                                "information_schema",
	                                                "tab\tdb",
	                                                "tab@0009db",
	                                                "mysql",
	                                                "mysql",
	                                                "app",
	                                                "app",
	                                                "performance_schema",
	                                                "performance_schema",
	                                                "\xc3\xbcn\xc3\xaf",
	                                                "@1on@0v",
	                                                "back\\slash",
	                                                "back@005cslash",
	                                                "sys",
	                                                "sys",
	                                                "Sys",
	                                                "Sys",
	                                                "$(touch x)",
	                                                "@0024@0028touch@0020x@0029",
	                                                "d-e-m-o-2",
	                                                "d@002de@002dm@002do@002d2",
	                                                "con",
	                                                "con",
	                                                "LPT9",
	                                                "LPT9",
	                                                NULL,
	                                                NULL});
	struct server_facts f;
	char err[256] = "";
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), 0);
	ck_assert_str_eq(f.datadir, "/var/lib/mysql");
	static const char *const want[][2] = {
	        {"$(touch x)", "@0024@0028touch@0020x@0029"},
	        {"LPT9", "LPT9@@@"},
	        {"Sys", "Sys"},
	        {"app", "app"},
	        {"back\\slash", "back@005cslash"},
	        {"con", "con@@@"},
	        {"d-e-m-o-2", "d@002de@002dm@002do@002d2"},
	        {"mysql", "mysql"},
	        {"tab\tdb", "tab@0009db"},
	        {"\xc3\xbcn\xc3\xaf", "@1on@0v"},
	};
	size_t nwant = sizeof(want) / sizeof(want[0]);
	ck_assert_uint_eq(f.databases.n, nwant);
	ck_assert_uint_eq(f.folders.n, nwant);
	for (size_t i = 0; i < nwant; i++) {
		ck_assert_str_eq(f.databases.v[i], want[i][0]);
		ck_assert_str_eq(f.folders.v[i], want[i][1]);
		ck_assert_str_eq(server_folder(&f, want[i][0]), want[i][1]);
	}
	ck_assert_ptr_null(server_folder(&f, "sys"));
	ck_assert_ptr_null(server_folder(&f, "nope"));
	ck_assert_ptr_null(server_folder(&f, ""));
	server_facts_free(&f);
	ck_assert_ptr_null(f.datadir);
	ck_assert_uint_eq(f.folders.n, 0);

	write_facts("/", (const char *[]){NULL, NULL});
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), 0);
	ck_assert_str_eq(f.datadir, "/");
	ck_assert_uint_eq(f.databases.n, 0);
	ck_assert_ptr_null(server_folder(&f, "a"));
	server_facts_free(&f);
}
END_TEST

START_TEST(facts_skip_mysql50_names)
{
	char *logp = in_tmp("oma.log");
	ck_assert_int_eq(log_open(logp), 0);
	write_facts("/data",
	            (const char *[]){"a", "a", "#mysql50#lost+found",
	                             "@0023mysql50@0023lost@002bfound", "b", "b", NULL, NULL});
	struct server_facts f;
	char err[256] = "";
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), 0);
	ck_assert_uint_eq(f.databases.n, 2);
	ck_assert_str_eq(f.databases.v[0], "a");
	ck_assert_str_eq(f.databases.v[1], "b");
	ck_assert_str_eq(f.folders.v[1], "b");
	server_facts_free(&f);
	log_close();
	char *text = t_read_file(logp);
	ck_assert_ptr_nonnull(strstr(text, " WARNING Database '#mysql50#lost+found' skipped: "));
	ck_assert_ptr_nonnull(strstr(text, "folder 'lost+found'"));
	ck_assert_ptr_nonnull(strstr(text, "cannot be dumped reliably by name"));
	ck_assert_ptr_null(strstr(text, "Error"));
	free(text);
	free(logp);
}
END_TEST

START_TEST(folder_name_device_rule)
{
	static const char *const yes[] = {"con", "Con",  "CON",  "prn",  "aux", "nul",
	                                  "NUL", "com1", "COM9", "lpt1", "lPt9"};
	static const char *const no[] = {"com0",       "lpt10", "aux1", "nulx", "nul@002ex",
	                                 "CLOCK@0024", "co",    "",     "com",  "lpt@0031"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		char *got = server_folder_name(yes[i]);
		char *want = xasprintf("%s@@@", yes[i]);
		ck_assert_str_eq(got, want);
		free(got);
		free(want);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		char *got = server_folder_name(no[i]);
		ck_assert_str_eq(got, no[i]);
		free(got);
	}
}
END_TEST

START_TEST(facts_errors)
{
	struct server_facts f;
	char err[256] = "";
	/* No datadir row. */
	write_facts(NULL, (const char *[]){"a", "a", NULL, NULL});
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: SELECT @@datadir returned nothing");
	ck_assert_ptr_null(f.datadir);
	ck_assert_uint_eq(f.databases.n, 0);

	/* Empty datadir. */
	char *p = in_tmp("facts.out");
	t_write_file(p, "datadir\t0\t\n", 0644);
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: SELECT @@datadir returned nothing");

	/* Rows that are not what the query returns. */
	t_write_file(p, "datadir\t0\t2F\ndb\t6\t61\n", 0644);
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: unexpected database row '6\t61'");
	t_write_file(p, "datadir\t0\t2F\ndb\t6100\t61\n", 0644);
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: unexpected database row '6100\t61'");
	t_write_file(p, "datadir\t0\t2F\ndb\t61\tZZ\n", 0644);
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: unexpected database row '61\tZZ'");
	t_write_file(p, "datadir\t0\t2F\nDatabase\n", 0644);
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: unexpected output line 'Database'");
	ck_assert_ptr_null(f.datadir);
	ck_assert_uint_eq(f.databases.n, 0);
	ck_assert_uint_eq(f.folders.n, 0);

	/* The query failing (no facts.out: cat exits 1 with its message). */
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(server_get_facts(mysql, &f, err, sizeof(err)), -1);
	ck_assert(strncmp(err, "mysql: cat: ", 12) == 0);
	ck_assert_ptr_null(f.datadir);

	ck_assert_int_eq(server_get_facts("/nonexistent/mysql", &f, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "cannot run '/nonexistent/mysql': No such file or directory");
	free(p);
}
END_TEST

/* The fake client of server_get_facts_more: checks that it is told to
 * flush after each statement and got both the facts query and the further
 * statements, then acts as the file "mode" says: "ok" (the facts, the
 * marker, more.out), "late" (the same, then an error: a further statement
 * failed), "hang" (the same, then no answer), "early" (an error before the
 * marker), "old" (the facts alone, no marker, exit 0). */
static const char fake_more[] =
        "#!/bin/sh\n"
        "d=$(dirname \"$0\")\n"
        "if [ $# -ne 6 ] || [ \"$2\" != --unbuffered ] || [ \"$5\" != -e ]; then\n"
        "  echo \"ERROR 9999: bad arguments\" >&2; exit 3\n"
        "fi\n"
        "case \"$6\" in\n"
        "*SCHEMATA*'SELECT '\\''facts'\\'', '\\''end'\\'';'*MORE-SQL*) ;;\n"
        "*) echo 'ERROR 1064 (42000): not the facts and more' >&2; exit 1 ;;\n"
        "esac\n"
        "mode=$(cat \"$d/mode\")\n"
        "if [ \"$mode\" = early ]; then echo 'ERROR 1045 (28000): Access denied' >&2; exit 1; fi\n"
        "cat \"$d/facts.out\"\n"
        "[ \"$mode\" = old ] && exit 0\n"
        "printf 'facts\\tend\\n'\n"
        "cat \"$d/more.out\"\n"
        "case \"$mode\" in\n"
        "late) echo 'ERROR 1227 (42000): Access denied; you need (at least one of) the PROCESS"
        " privilege(s) for this operation' >&2; exit 1 ;;\n"
        "hang) exec sleep 30 ;;\n"
        "esac\n";

START_TEST(facts_with_more)
{
	char *client = in_tmp("fake-more"), *mode = in_tmp("mode"), *more_out = in_tmp("more.out");
	t_write_file(client, fake_more, 0755);
	t_write_file(more_out, "lsn\t42\nproc\t61\t1\tNULL\n", 0644);
	write_facts("/data", (const char *[]){"a", "a", "b", "b", NULL, NULL});
	struct server_facts f;
	char err[256] = "";
	static const char *const modes[] = {"ok", "late", "hang"};
	server_set_timeout(1);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		t_write_file(mode, modes[i], 0644);
		struct server_more more = {.sql = "SELECT 'MORE-SQL';"};
		ck_assert_msg(server_get_facts_more(client, &f, &more, err, sizeof(err)) == 0,
		              "%s: %s", modes[i], err);
		ck_assert_str_eq(f.datadir, "/data");
		ck_assert_uint_eq(f.databases.n, 2);
		ck_assert_uint_eq(more.lines.n, 2);
		ck_assert_str_eq(more.lines.v[0], "lsn\t42");
		ck_assert_str_eq(more.lines.v[1], "proc\t61\t1\tNULL");
		if (i == 0)
			ck_assert_str_eq(more.err, "");
		else if (i == 1)
			ck_assert_str_eq(more.err,
			                 "mysql: ERROR 1227 (42000): Access denied; you need "
			                 "(at least one of) the PROCESS privilege(s) for "
			                 "this operation");
		else
			ck_assert_str_eq(
			        more.err,
			        "mysql: no answer within 1 seconds (server_timeout); stopped");
		strv_free(&more.lines);
		server_facts_free(&f);
	}
	server_set_timeout(SERVER_TIMEOUT_DEFAULT);

	/* A client that ran only the facts query: the facts, nothing more. */
	t_write_file(mode, "old", 0644);
	struct server_more more = {.sql = "SELECT 'MORE-SQL';"};
	ck_assert_int_eq(server_get_facts_more(client, &f, &more, err, sizeof(err)), 0);
	ck_assert_uint_eq(f.databases.n, 2);
	ck_assert_uint_eq(more.lines.n, 0);
	ck_assert_str_eq(more.err, "");
	server_facts_free(&f);

	/* Failing before the facts came fails the facts. */
	t_write_file(mode, "early", 0644);
	ck_assert_int_eq(server_get_facts_more(client, &f, &more, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: ERROR 1045 (28000): Access denied");
	ck_assert_ptr_null(f.datadir);
	ck_assert_uint_eq(more.lines.n, 0);

	/* Bad facts fail too, whatever came after them. */
	t_write_file(mode, "ok", 0644);
	char *p = in_tmp("facts.out");
	t_write_file(p, "datadir\t0\t2F\nDatabase\n", 0644);
	ck_assert_int_eq(server_get_facts_more(client, &f, &more, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mysql: unexpected output line 'Database'");
	ck_assert_uint_eq(more.lines.n, 0);

	/* Without further statements: the plain facts query (the fake
	 * client of server_get_facts answers it). */
	write_facts("/d2", (const char *[]){"c", "c", NULL, NULL});
	struct server_more none = {.sql = NULL};
	ck_assert_int_eq(server_get_facts_more(mysql, &f, &none, err, sizeof(err)), 0);
	ck_assert_str_eq(f.datadir, "/d2");
	server_facts_free(&f);
	ck_assert_int_eq(server_get_facts_more(mysql, &f, NULL, err, sizeof(err)), 0);
	server_facts_free(&f);
	free(p);
	free(client);
	free(mode);
	free(more_out);
}
END_TEST

START_TEST(system_dbs)
{
	ck_assert(server_is_system_db("information_schema"));
	ck_assert(server_is_system_db("performance_schema"));
	ck_assert(server_is_system_db("sys"));
	ck_assert(!server_is_system_db("mysql"));
	ck_assert(!server_is_system_db("sys2"));
	ck_assert(!server_is_system_db(""));
	ck_assert(!server_is_system_db("Information_schema_x"));
}
END_TEST

/* ---- server_select ----------------------------------------------------- */

static void push_all(struct strv *sv, const char *const *names)
{
	for (; *names != NULL; names++)
		strv_push(sv, *names);
}

static void assert_strv(const struct strv *sv, const char *const *want)
{
	size_t n = 0;
	for (; want[n] != NULL; n++) {
		ck_assert_msg(n < sv->n, "missing '%s'", want[n]);
		ck_assert_str_eq(sv->v[n], want[n]);
	}
	ck_assert_uint_eq(sv->n, n);
}

START_TEST(select_all)
{
	struct oma_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	struct strv dbs = {0}, sel = {0}, skip = {0}, miss = {0};
	push_all(&dbs, (const char *[]){"b", "a", "c", NULL});
	server_select(&cfg, &dbs, &sel, &skip, &miss);
	assert_strv(&sel, (const char *[]){"b", "a", "c", NULL});
	assert_strv(&skip, (const char *[]){NULL});
	assert_strv(&miss, (const char *[]){NULL});
	strv_free(&dbs);
	strv_free(&sel);
}
END_TEST

START_TEST(select_do)
{
	struct oma_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	push_all(&cfg.main.do_databases, (const char *[]){"c", "gone", "a", "gone", "sys", NULL});
	struct strv dbs = {0}, sel = {0}, skip = {0}, miss = {0};
	push_all(&dbs, (const char *[]){"b", "a", "c", "d", NULL});
	server_select(&cfg, &dbs, &sel, &skip, &miss);
	/* server order, not list order */
	assert_strv(&sel, (const char *[]){"a", "c", NULL});
	assert_strv(&skip, (const char *[]){"b", "d", NULL});
	assert_strv(&miss, (const char *[]){"gone", NULL});
	strv_free(&dbs);
	strv_free(&sel);
	strv_free(&skip);
	strv_free(&miss);
	strv_free(&cfg.main.do_databases);
}
END_TEST

START_TEST(select_exclude)
{
	struct oma_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	push_all(&cfg.main.exclude_databases, (const char *[]){"d", "nope", "b", NULL});
	struct strv dbs = {0}, sel = {0}, skip = {0}, miss = {0};
	push_all(&dbs, (const char *[]){"b", "a", "information_schema", "c", "d", NULL});
	server_select(&cfg, &dbs, &sel, &skip, &miss);
	assert_strv(&sel, (const char *[]){"a", "c", NULL});
	assert_strv(&skip, (const char *[]){"b", "d", NULL});
	assert_strv(&miss, (const char *[]){"nope", NULL});
	strv_free(&dbs);
	strv_free(&sel);
	strv_free(&skip);
	strv_free(&miss);
	strv_free(&cfg.main.exclude_databases);
}
END_TEST

/* ---- server_datadir_bytes ---------------------------------------------- */

static void make_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	char block[4096];
	memset(block, 'z', sizeof(block));
	while (size > 0) {
		size_t n = size < sizeof(block) ? size : sizeof(block);
		ck_assert_int_eq(cm_write_all(fd, block, n), 0);
		size -= n;
	}
	ck_assert_int_eq(fsync(fd), 0);
	ck_assert_int_eq(close(fd), 0);
}

/* What `du -s -B1` (GNU coreutils: st_blocks, hard links once, no symlinks
 * followed) says about `path`. */
static uint64_t du_bytes(const char *path)
{
	char *cmd = xasprintf("du -s -B1 '%s'", path);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	unsigned long long v = 0;
	ck_assert_int_eq(fscanf(p, "%llu", &v), 1);
	ck_assert_int_eq(pclose(p), 0);
	free(cmd);
	return v;
}

START_TEST(datadir_bytes_tree)
{
	char *dd = in_tmp("data");
	ck_assert_int_eq(mkdir(dd, 0750), 0);
	char *db1 = in_tmp("data/db1");
	char *db2 = in_tmp("data/db2");
	char *deep = in_tmp("data/db2/deeper");
	ck_assert_int_eq(mkdir(db1, 0750), 0);
	ck_assert_int_eq(mkdir(db2, 0750), 0);
	ck_assert_int_eq(mkdir(deep, 0750), 0);
	char *f1 = in_tmp("data/db1/t.ibd");
	char *f2 = in_tmp("data/db2/u.ibd");
	char *f3 = in_tmp("data/db2/deeper/v.MYD");
	char *f4 = in_tmp("data/ibdata1");
	make_file(f1, 1 << 20);
	make_file(f2, 300000);
	make_file(f3, 1);
	make_file(f4, 12345);

	uint64_t bytes = 0, before;
	char err[512] = "";
	ck_assert_int_eq(server_datadir_bytes(dd, &bytes, err, sizeof(err)), 0);
	ck_assert_uint_eq(bytes, du_bytes(dd));
	ck_assert_uint_ge(bytes, (1 << 20) + 300000 + 1 + 12345);
	before = bytes;

	/* A hard link is counted once; a symlink to a big file outside is not followed. */
	char *hl = in_tmp("data/db1/t-link.ibd");
	ck_assert_int_eq(link(f1, hl), 0);
	char *outside = in_tmp("outside.bin");
	make_file(outside, 4 << 20);
	char *sl = in_tmp("data/db1/sym");
	char *sd = in_tmp("data/symdir");
	ck_assert_int_eq(symlink(outside, sl), 0);
	ck_assert_int_eq(symlink(tmp, sd), 0);
	ck_assert_int_eq(server_datadir_bytes(dd, &bytes, err, sizeof(err)), 0);
	ck_assert_uint_eq(bytes, du_bytes(dd));
	ck_assert_uint_lt(bytes, before + 8192);

	/* A trailing slash changes nothing. */
	char *slash = xasprintf("%s/", dd);
	uint64_t again = 0;
	ck_assert_int_eq(server_datadir_bytes(slash, &again, err, sizeof(err)), 0);
	ck_assert_uint_eq(again, bytes);

	free(slash);
	free(dd);
	free(db1);
	free(db2);
	free(deep);
	free(f1);
	free(f2);
	free(f3);
	free(f4);
	free(hl);
	free(outside);
	free(sl);
	free(sd);
}
END_TEST

START_TEST(datadir_usage_per_folder)
{
	char *dd = in_tmp("data");
	ck_assert_int_eq(mkdir(dd, 0750), 0);
	static const char *const dirs[] = {"data/a", "data/b", "data/b/deeper", "data/c@002dx",
	                                   "data/skipped"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *d = in_tmp(dirs[i]);
		ck_assert_int_eq(mkdir(d, 0750), 0);
		free(d);
	}
	static const struct {
		const char *path;
		size_t size;
	} files[] = {
	        {"data/a/t.ibd", 1 << 20},      {"data/b/u.ibd", 300000},
	        {"data/b/deeper/v.MYD", 5000},  {"data/c@002dx/w.MAD", 70000},
	        {"data/skipped/x.ibd", 200000}, {"data/ibdata1", 12345},
	        {"data/a-file", 100},
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *f = in_tmp(files[i].path);
		make_file(f, files[i].size);
		free(f);
	}
	/* A hard link inside one folder counts once there; one across folders
	 * counts in both folders but once in the total. */
	char *src = in_tmp("data/a/t.ibd");
	char *l1 = in_tmp("data/a/t2.ibd");
	char *l2 = in_tmp("data/b/t3.ibd");
	ck_assert_int_eq(link(src, l1), 0);
	ck_assert_int_eq(link(src, l2), 0);

	struct strv folders = {0};
	strv_push(&folders, "b");
	strv_push(&folders, "missing");
	strv_push(&folders, "a");
	strv_push(&folders, "c@002dx");
	strv_push(&folders, "a-file"); /* a file, not a folder: 0 */
	uint64_t total = 0, fb[5] = {9, 9, 9, 9, 9};
	char err[512] = "";
	ck_assert_int_eq(server_datadir_usage(dd, &folders, &total, fb, err, sizeof(err)), 0);
	ck_assert_uint_eq(total, du_bytes(dd));
	char *pa = in_tmp("data/a"), *pb = in_tmp("data/b"), *pc = in_tmp("data/c@002dx");
	ck_assert_uint_eq(fb[0], du_bytes(pb)); /* t3.ibd included */
	ck_assert_uint_eq(fb[1], 0);
	ck_assert_uint_eq(fb[2], du_bytes(pa));
	ck_assert_uint_eq(fb[3], du_bytes(pc));
	ck_assert_uint_eq(fb[4], 0);
	ck_assert_uint_ge(fb[0], 300000 + 5000 + (1 << 20));
	ck_assert_uint_lt(fb[2], (1 << 20) + 3 * 8192);

	/* Same total as server_datadir_bytes; no folders asked is fine too. */
	uint64_t bytes = 0;
	ck_assert_int_eq(server_datadir_bytes(dd, &bytes, err, sizeof(err)), 0);
	ck_assert_uint_eq(bytes, total);
	struct strv none = {0};
	ck_assert_int_eq(server_datadir_usage(dd, &none, &bytes, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(bytes, total);

	/* Errors leave the outputs alone. */
	total = 7;
	fb[0] = 7;
	ck_assert_int_eq(server_datadir_usage("/nonexistent/dd", &folders, &total, fb, err,
	                                      sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "datadir /nonexistent/dd: No such file or directory");
	ck_assert_uint_eq(total, 7);
	ck_assert_uint_eq(fb[0], 7);

	strv_free(&folders);
	free(pa);
	free(pb);
	free(pc);
	free(src);
	free(l1);
	free(l2);
	free(dd);
}
END_TEST

START_TEST(datadir_bytes_errors)
{
	uint64_t bytes = 7;
	char err[512] = "";
	ck_assert_int_eq(server_datadir_bytes("/nonexistent/datadir", &bytes, err, sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "datadir /nonexistent/datadir: No such file or directory");
	ck_assert_uint_eq(bytes, 7);

	char *f = in_tmp("plain");
	make_file(f, 10);
	ck_assert_int_eq(server_datadir_bytes(f, &bytes, err, sizeof(err)), -1);
	char *want = xasprintf("datadir %s: Not a directory", f);
	ck_assert_str_eq(err, want);
	free(want);
	free(f);
}
END_TEST

/* server_datadir_bytes(dir) for t_as_nobody. */
static int datadir_bytes_of(void *dir, char *err, size_t errlen)
{
	uint64_t b = 0;
	return server_datadir_bytes(dir, &b, err, errlen);
}

/* Run server_datadir_bytes(dir) as user nobody in a child; return its rc and err. */
static int as_nobody(const char *dir, char *err, size_t errlen)
{
	return t_as_nobody(datadir_bytes_of, (void *)dir, err, errlen);
}

START_TEST(datadir_bytes_permission)
{
	if (geteuid() != 0) {
		fprintf(stderr, "datadir_bytes_permission: skipped (needs root)\n");
		return;
	}
	/* tmp itself is 0700 (mkdtemp); open it up so nobody can reach inside. */
	ck_assert_int_eq(chmod(tmp, 0755), 0);
	char *dd = in_tmp("mysql");
	ck_assert_int_eq(mkdir(dd, 0700), 0);
	char *db = in_tmp("mysql/db1");
	ck_assert_int_eq(mkdir(db, 0700), 0);
	char err[512] = "";

	ck_assert_int_eq(as_nobody(dd, err, sizeof(err)), -1);
	char *want = xasprintf("datadir %s: permission denied; oma must read the server's data "
	                       "directory (mode 0700): run it as root or as the user the server "
	                       "runs as",
	                       dd);
	ck_assert_str_eq(err, want);
	free(want);

	/* The datadir is readable but a database folder in it is not. */
	ck_assert_int_eq(chmod(dd, 0755), 0);
	ck_assert_int_eq(as_nobody(dd, err, sizeof(err)), -1);
	want = xasprintf("datadir %s: permission denied; oma must read the server's data "
	                 "directory (mode 0700): run it as root or as the user the server "
	                 "runs as",
	                 db);
	ck_assert_str_eq(err, want);
	free(want);

	/* Everything readable: works as nobody too. */
	ck_assert_int_eq(chmod(db, 0755), 0);
	ck_assert_int_eq(as_nobody(dd, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	free(dd);
	free(db);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *q = tcase_create("query");
	tcase_add_checked_fixture(q, setup, teardown);
	tcase_set_timeout(q, 60);
	tcase_add_test(q, query_passes_exact_argv);
	tcase_add_test(q, query_unescapes_batch_output);
	tcase_add_test(q, query_without_trailing_newline_and_empty);
	tcase_add_test(q, query_failing_client);
	tcase_add_test(q, query_missing_binary);
	tcase_add_test(q, query_uses_path);
	tcase_add_test(q, query_big_outputs_no_deadlock);
	tcase_add_test(q, facts_from_fake_server);
	tcase_add_test(q, facts_errors);
	tcase_add_test(q, facts_skip_mysql50_names);
	tcase_add_test(q, facts_with_more);
	tcase_add_test(q, folder_name_device_rule);
	tcase_add_test(q, system_dbs);
	suite_add_tcase(s, q);

	TCase *sel = tcase_create("select");
	tcase_add_test(sel, select_all);
	tcase_add_test(sel, select_do);
	tcase_add_test(sel, select_exclude);
	suite_add_tcase(s, sel);

	TCase *dd = tcase_create("datadir");
	tcase_add_checked_fixture(dd, setup, teardown);
	tcase_set_timeout(dd, 60);
	tcase_add_test(dd, datadir_bytes_tree);
	tcase_add_test(dd, datadir_bytes_errors);
	tcase_add_test(dd, datadir_usage_per_folder);
	tcase_add_test(dd, datadir_bytes_permission);
	suite_add_tcase(s, dd);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(server_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
