/* check_dump.c - tests for core/dump.c with a fake mysqldump and a raw test compressor. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "common/io.h"
#include "dump.h"
#include "dump_internal.h"
#include "log.h"
#include "names.h"
#include "proc.h"
#include "testlib.h"
#include "util.h"

static char tmp[64];  /* per-test temp dir */
static char *bindir;  /* fake mysqldump lives here */
static char *outdir;  /* the "current backup folder" */
static char *workdir; /* the test's cwd while dumping */
static char *fake;    /* path of the fake mysqldump */
static char *logfile;

/* ---- helpers ----------------------------------------------------------- */

/* Names in `dir`, sorted, joined by '\n' (each followed by one). */
static char *list_dir(const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	ck_assert_int_ge(n, 0);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	buf_append(&buf, &len, &cap, "", 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") != 0 && strcmp(ents[i]->d_name, "..") != 0)
			buf_appendf(&buf, &len, &cap, "%s\n", ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return buf;
}

static char *file_for(const char *db)
{
	char stem[NAMES_STEM_MAX + 1];
	ck_assert_int_eq(names_encode(db, stem, sizeof(stem)), 0);
	return xasprintf("%s.sql.raw", stem);
}

/* What the fake writes for `db` in its default mode with `lines` rows. */
static char *expected_dump(const char *db, int lines)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	buf_appendf(&buf, &len, &cap, "-- MySQL dump\n-- Database: %s\nCREATE TABLE t (a int);\n",
	            db);
	for (int i = 1; i <= lines; i++)
		buf_appendf(&buf, &len, &cap, "INSERT INTO t VALUES (%d);\n", i);
	buf_appendf(&buf, &len, &cap, "-- Dump completed on 2025-01-02  3:04:05\n");
	return buf;
}

/* The fake mysqldump: called as `fake DB options...` or `fake options... -- DB`;
 * what it does depends on how the database name starts. */
static const char fake_mysqldump[] =
        "#!/bin/sh\n"
        "db=$1\n"
        "prev=\n"
        "for a in \"$@\"; do\n"
        "  if [ \"$prev\" = \"--\" ]; then db=$a; fi\n"
        "  prev=$a\n"
        "done\n"
        "if [ -n \"$FAKE_ARGV\" ]; then for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$FAKE_ARGV\"; fi\n"
        "if [ -n \"$FAKE_RUNLOG\" ]; then printf '%s\\n' \"$db\" >> \"$FAKE_RUNLOG\"; fi\n"
        "header() { printf '%s\\n' '-- MySQL dump' \"-- Database: $db\" 'CREATE TABLE t (a int);'; }\n"
        "rows() {\n"
        "  i=1\n"
        "  while [ $i -le ${FAKE_LINES:-5} ]; do printf 'INSERT INTO t VALUES (%d);\\n' $i; i=$((i+1)); done\n"
        "}\n"
        "done_line() { printf '%s\\n' '-- Dump completed on 2025-01-02  3:04:05'; }\n"
        "case \"$db\" in\n"
        "exit2*) header; rows; echo 'mysqldump: Got error: 2013: Lost connection' >&2; exit 2 ;;\n"
        "nocompl*) header; rows; exit 0 ;;\n"
        /* a last line longer than the kept tail, whose last 512 bytes look complete */
        "longline*) header; rows; printf 'x%s' '-- Dump completed on 2025-01-02  3:04:05';"
        " printf '%0471d\\n' 0 ;;\n"
        "empty*) exit 0 ;;\n"
        /* a last line of two-byte characters, longer than an error message keeps */
        "utf8tail*) header; printf 'aa'; i=0; while [ $i -lt 60 ]; do printf '\\303\\251'; i=$((i+1)); done;"
        " printf '\\n' ;;\n"
        "blank*) header; done_line; printf '\\n  \\n\\r\\n' ;;\n"
        "killed*) header; rows; kill -9 $$ ;;\n"
        "stderr*) header; echo 'Warning: something odd' >&2; printf 'second warning\\r\\n\\n' >&2;"
        " echo \"mysqldump: Error: 'Access denied; you need the PROCESS privilege' when trying to"
        " dump tablespaces\" >&2;"
        " rows; done_line ;;\n"
        "sleep*) header; sleep 30 & echo \"$$ $!\" > \"$FAKE_STARTED\"; wait; done_line ;;\n"
        "slow*) sleep 0.3; header; rows; done_line ;;\n"
        "stall*) header; echo $$ > \"$FAKE_STARTED\"; kill -STOP $$; done_line ;;\n"
        "bgerr*) header; sleep 30 >&2 & echo $! > \"$FAKE_STARTED\"; rows; done_line ;;\n"
        "big*) header; yes 'INSERT INTO t VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10);'"
        " | head -c \"$FAKE_BYTES\"; echo; done_line ;;\n"
        /* read by the shell itself: a forked grep could see the mask dash sets around fork */
        "sigs*) while IFS= read -r l; do case \"$l\" in SigBlk*|SigIgn*) printf '%s\\n' \"$l\";; esac;"
        " done < /proc/$$/status > \"$FAKE_SIGS\";"
        " read -r st < /proc/$$/stat; set -- $st; printf '%s %s\\n' \"$1\" \"$5\" >> \"$FAKE_SIGS\";"
        " readlink /proc/$$/fd/0 >> \"$FAKE_SIGS\"; header; rows; done_line ;;\n"
        "*) header; rows; done_line ;;\n"
        "esac\n";

static void setup(void)
{
	umask(022);
	snprintf(tmp, sizeof(tmp), "/tmp/check_dump.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	bindir = xasprintf("%s/bin", tmp);
	outdir = xasprintf("%s/oma_20250102-030405", tmp);
	workdir = xasprintf("%s/cwd", tmp);
	fake = xasprintf("%s/mysqldump", bindir);
	logfile = xasprintf("%s/oma.log", tmp);
	ck_assert_int_eq(mkdir(bindir, 0755), 0);
	ck_assert_int_eq(mkdir(outdir, 0755), 0);
	ck_assert_int_eq(mkdir(workdir, 0755), 0);
	t_write_file(fake, fake_mysqldump, 0755);
	ck_assert_int_eq(chdir(workdir), 0);
	log_set_stderr_level(OMA_LOG_ERROR + 10);
	log_set_level(OMA_LOG_DEBUG);
	ck_assert_int_eq(log_open(logfile), 0);
}

static void teardown(void)
{
	log_close();
	ck_assert_int_eq(chdir("/"), 0);
	char *cmd = xasprintf("rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(bindir);
	free(outdir);
	free(workdir);
	free(fake);
	free(logfile);
}

/* ---- the raw test compressor ------------------------------------------- */

static pthread_mutex_t raw_lock = PTHREAD_MUTEX_INITIALIZER;
static int raw_open_now, raw_open_max, raw_opened, raw_closed;
static int raw_threads[64];
static int raw_levels[64];
static int raw_fail_write, raw_fail_finish, raw_pipe_write;

struct raw {
	int fd;
	int pipe_w; /* raw_pipe_write: a pipe nobody reads */
	int (*sink)(void *ctx, const void *buf, size_t len, char *err, size_t errlen);
	void *sink_ctx;
};

/* Bytes raw_sink_ops handed to the core's sink. */
static size_t raw_sunk;

static int raw_open(void **stream, int fd, const struct oma_compress_params *p, char *err,
                    size_t errlen)
{
	if (p->size != sizeof(*p) || p->level == 42) {
		cm_errf(err, errlen, "raw: bad level %d", p->level);
		return -1;
	}
	struct raw *r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->pipe_w = -1;
	r->sink = p->sink;
	r->sink_ctx = p->sink_ctx;
	if (raw_pipe_write) {
		int pp[2];
		ck_assert_int_eq(pipe(pp), 0);
		close(pp[0]);
		r->pipe_w = pp[1];
	}
	pthread_mutex_lock(&raw_lock);
	if (raw_opened < 64) {
		raw_threads[raw_opened] = p->threads;
		raw_levels[raw_opened] = p->level;
	}
	raw_opened++;
	if (++raw_open_now > raw_open_max)
		raw_open_max = raw_open_now;
	pthread_mutex_unlock(&raw_lock);
	*stream = r;
	return 0;
}

static void raw_free(struct raw *r)
{
	if (r->pipe_w >= 0)
		close(r->pipe_w);
	free(r);
	pthread_mutex_lock(&raw_lock);
	raw_open_now--;
	raw_closed++;
	pthread_mutex_unlock(&raw_lock);
}

static int raw_write(void *stream, const void *buf, size_t len, char *err, size_t errlen)
{
	struct raw *r = stream;
	if (raw_fail_write) {
		cm_errf(err, errlen, "raw: disk full (test)");
		return -1;
	}
	if (r->sink != NULL) {
		pthread_mutex_lock(&raw_lock);
		raw_sunk += len;
		pthread_mutex_unlock(&raw_lock);
		return r->sink(r->sink_ctx, buf, len, err, errlen);
	}
	int fd = r->pipe_w >= 0 ? r->pipe_w : r->fd;
	if (cm_write_all(fd, buf, len) != 0) {
		cm_errf(err, errlen, "raw: write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int raw_finish(void *stream, char *err, size_t errlen)
{
	raw_free(stream);
	if (raw_fail_finish) {
		cm_errf(err, errlen, "raw: finish failed (test)");
		return -1;
	}
	return 0;
}

static void raw_abort(void *stream)
{
	raw_free(stream);
}

static const struct oma_compress_ops raw_ops = {
        .suffix = ".sql.raw",
        .default_level = 0,
        .min_level = 0,
        .max_level = 100,
        .open = raw_open,
        .write = raw_write,
        .finish = raw_finish,
        .abort = raw_abort,
};

/* The same, writing through the core's sink. */
static const struct oma_compress_ops raw_sink_ops = {
        .suffix = ".sql.raw",
        .default_level = 0,
        .min_level = 0,
        .max_level = 100,
        .open = raw_open,
        .write = raw_write,
        .finish = raw_finish,
        .abort = raw_abort,
        .flags = OMA_COMPRESS_SINK,
};

static struct dump_settings settings(const struct strv *options, int parallelism)
{
	return (struct dump_settings){
	        .dir = outdir,
	        .mysqldump_bin = fake,
	        .options = options,
	        .comp = &raw_ops,
	        .level = -1,
	        .parallelism = parallelism,
	        .cpus = 2,
	};
}

static struct dump_job *make_jobs(const char *const *names, size_t *n)
{
	size_t k = 0;
	while (names[k] != NULL)
		k++;
	struct dump_job *jobs = xcalloc(k, sizeof(*jobs));
	for (size_t i = 0; i < k; i++)
		jobs[i].db = names[i];
	*n = k;
	return jobs;
}

static void free_jobs(struct dump_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dump_job_clear(&jobs[i]);
	free(jobs);
}

/* ---- dump_completed ---------------------------------------------------- */

static int completed(const char *s)
{
	return dump_completed(s, strlen(s));
}

START_TEST(completion_line_matcher)
{
	ck_assert(completed("-- Dump completed on 2025-01-02  3:04:05\n"));
	ck_assert(completed("-- Dump completed on 2025-01-02 13:04:05"));
	ck_assert(completed("x\n-- Dump completed on 2025-01-02\t3:04:05\n"));
	ck_assert(completed("a\n-- Dump completed on 2025-01-02 3:04:05 trailing text\n"));
	ck_assert(completed("-- Dump completed on 2025-01-02  3:04:05\r\n"));
	ck_assert(completed("-- Dump completed on 2025-01-02  3:04:05\n\n  \n\r\n\n"));
	ck_assert(completed("-- Dump completed on 2025-01-02 123:04:05\n"));
	ck_assert(completed("-- Dump completed on 2025-01-02 3:04:059\n"));

	ck_assert(!completed(""));
	ck_assert(!dump_completed(NULL, 0));
	ck_assert(!completed("\n\n"));
	ck_assert(!completed(
	        "-- Dump completed on 2025-01-02  3:04:05\nINSERT INTO t VALUES (1);\n"));
	ck_assert(!completed(" -- Dump completed on 2025-01-02  3:04:05\n"));
	ck_assert(!completed("-- Dump completed on 2025-1-02  3:04:05\n"));
	ck_assert(!completed("-- Dump completed on 25-01-02  3:04:05\n"));
	ck_assert(!completed("-- Dump completed on 2025-01-02T3:04:05\n"));
	ck_assert(!completed("-- Dump completed on 2025-01-023:04:05\n"));
	ck_assert(!completed("-- Dump completed on 2025-01-02  3:04\n"));
	ck_assert(!completed("-- Dump completed on 2025-01-02  3:4:05\n"));
	ck_assert(!completed("-- Dump completed on 2025-01-02  :04:05\n"));
	ck_assert(!completed("-- Dump completed on 2025-01-02  3:04:5\n"));
	ck_assert(!completed("-- Dump completed  on 2025-01-02  3:04:05\n"));
	ck_assert(!completed("-- dump completed on 2025-01-02  3:04:05\n"));
	ck_assert(!completed("-- Dump completed on "));

	/* Only `len` bytes count: the line is cut before the seconds. */
	const char *s = "-- Dump completed on 2025-01-02  3:04:05\n";
	ck_assert(!dump_completed(s, strlen(s) - 3));
	ck_assert(dump_completed(s, strlen(s) - 1));
}
END_TEST

/* ---- dump_run ---------------------------------------------------------- */

START_TEST(dump_success_exact_content)
{
	ck_assert_int_eq(setenv("FAKE_LINES", "1000", 1), 0);
	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"shop", NULL}, &n);
	struct dump_settings s = settings(NULL, 1);
	time_t before = time(NULL);
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	ck_assert_int_eq(jobs[0].ok, 1);
	ck_assert_ptr_null(jobs[0].error);
	ck_assert_str_eq(jobs[0].file, "shop.sql.raw");
	ck_assert_int_ge(jobs[0].started, before);
	ck_assert_int_le(jobs[0].started, time(NULL));
	ck_assert(jobs[0].seconds >= 0 && jobs[0].seconds < 30);

	char *listing = list_dir(outdir);
	ck_assert_str_eq(listing, "shop.sql.raw\n");
	char *path = xasprintf("%s/shop.sql.raw", outdir);
	char *got = t_read_file(path);
	char *want = expected_dump("shop", 1000);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(jobs[0].bytes, strlen(want));
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(raw_opened, 1);
	ck_assert_int_eq(raw_closed, 1);
	ck_assert_int_eq(raw_threads[0], 2);
	ck_assert_int_eq(raw_levels[0], -1);

	log_close();
	char *log = t_read_file(logfile);
	ck_assert_ptr_nonnull(strstr(log, " INFO DB 'shop': Backup successfully\n"));
	ck_assert_ptr_null(strstr(log, "ERROR"));
	ck_assert_ptr_null(strstr(log, "Error"));
	free(log);
	free(listing);
	free(path);
	free(got);
	free(want);
	free_jobs(jobs, n);
}
END_TEST

START_TEST(dump_argv_exact)
{
	char *argv_file = xasprintf("%s/argv", tmp);
	ck_assert_int_eq(setenv("FAKE_ARGV", argv_file, 1), 0);
	struct strv opts = {0};
	strv_push(&opts, "--single-transaction");
	strv_push(&opts, "--routines");
	strv_push(&opts, "with space");
	strv_push(&opts, "$(touch y)");
	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"app", NULL}, &n);
	struct dump_settings s = settings(&opts, 1);
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	char *got = t_read_file(argv_file);
	ck_assert_str_eq(got, "app\n--single-transaction\n--routines\nwith space\n$(touch y)\n");
	free(got);
	ck_assert_int_eq(access("y", F_OK), -1);

	/* A name that looks like an option goes after "--", behind the options. */
	struct dump_job dash = {.db = "-x"};
	ck_assert_int_eq(dump_run(&s, &dash, 1), 0);
	got = t_read_file(argv_file);
	ck_assert_str_eq(got, "--single-transaction\n--routines\nwith space\n$(touch y)\n--\n-x\n");
	free(got);
	char *f = file_for("-x");
	char *path = xasprintf("%s/%s", outdir, f);
	got = t_read_file(path);
	char *want = expected_dump("-x", 5);
	ck_assert_str_eq(got, want);
	dump_job_clear(&dash);

	/* No options at all. */
	struct dump_job plain = {.db = "plain"};
	struct dump_settings s0 = settings(NULL, 1);
	ck_assert_int_eq(dump_run(&s0, &plain, 1), 0);
	free(got);
	got = t_read_file(argv_file);
	ck_assert_str_eq(got, "plain\n");
	dump_job_clear(&plain);

	free(got);
	free(want);
	free(path);
	free(f);
	free(argv_file);
	strv_free(&opts);
	free_jobs(jobs, n);
}
END_TEST

START_TEST(dump_hostile_names)
{
	const char *names[] = {"sl/ash",    "..", ".",  "$(touch x)", "quote'db",    "a b\"c",
	                       "new\nline", "-x", "--", "`touch x`",  "caf\xc3\xa9", NULL};
	size_t n;
	struct dump_job *jobs = make_jobs(names, &n);
	struct dump_settings s = settings(NULL, 2);
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);

	char **want_files = xcalloc(n, sizeof(*want_files));
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(jobs[i].ok, "%s: %s", names[i], jobs[i].error);
		want_files[i] = file_for(names[i]);
		ck_assert_str_eq(jobs[i].file, want_files[i]);
		ck_assert_ptr_null(strchr(want_files[i], '/'));
		ck_assert(want_files[i][0] != '.');
		char *path = xasprintf("%s/%s", outdir, want_files[i]);
		char *got = t_read_file(path);
		ck_assert_ptr_nonnull(got);
		char *want = expected_dump(names[i], 5);
		ck_assert_str_eq(got, want);
		free(got);
		free(want);
		free(path);
	}
	/* Exactly one file per database, nothing else, in the folder. */
	struct dirent **ents;
	int k = scandir(outdir, &ents, NULL, alphasort);
	ck_assert_int_eq(k, (int)n + 2);
	for (int i = 0; i < k; i++) {
		const char *e = ents[i]->d_name;
		int found = strcmp(e, ".") == 0 || strcmp(e, "..") == 0;
		for (size_t j = 0; j < n && !found; j++)
			found = strcmp(e, want_files[j]) == 0;
		ck_assert_msg(found, "unexpected file %s", e);
		free(ents[i]);
	}
	free(ents);
	/* No name ran as shell code anywhere. */
	char *l1 = list_dir(tmp), *l2 = list_dir(workdir), *l3 = list_dir(bindir);
	ck_assert_str_eq(l1, "bin\ncwd\noma.log\noma_20250102-030405\n");
	ck_assert_str_eq(l2, "");
	ck_assert_str_eq(l3, "mysqldump\n");
	ck_assert_int_eq(access("/x", F_OK), -1);
	free(l1);
	free(l2);
	free(l3);
	for (size_t i = 0; i < n; i++)
		free(want_files[i]);
	free(want_files);
	free_jobs(jobs, n);
}
END_TEST

/* The last line in an error message is shortened at a character
 * boundary: result.json and the reporters get valid UTF-8. */
START_TEST(dump_failure_utf8_line)
{
	const char *names[] = {"utf8tail_f", NULL};
	size_t n;
	struct dump_job *jobs = make_jobs(names, &n);
	struct dump_settings s = settings(NULL, 1);
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	char want[256] = "completion line missing (last line: aa";
	size_t len = strlen(want);
	for (int i = 0; i < 47; i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%s", "\xc3\xa9");
	(void)snprintf(want + len, sizeof(want) - len, "...)");
	ck_assert_str_eq(jobs[0].error, want);
	free_jobs(jobs, n);
}
END_TEST

START_TEST(dump_failures)
{
	const char *names[] = {"exit2_a", "nocompl_b",  "empty_c", "killed_d",
	                       "good",    "longline_e", NULL};
	size_t n;
	struct dump_job *jobs = make_jobs(names, &n);
	struct dump_settings s = settings(NULL, 2);
	ck_assert_int_eq(dump_run(&s, jobs, n), 5);
	ck_assert_str_eq(jobs[5].error, "completion line missing (last line: )");
	ck_assert_str_eq(jobs[0].error, "mysqldump exited with code 2");
	ck_assert_str_eq(jobs[1].error,
	                 "completion line missing (last line: INSERT INTO t VALUES (5);)");
	ck_assert_str_eq(jobs[2].error, "mysqldump exited with code 0 but wrote nothing");
	ck_assert_str_eq(jobs[3].error, "mysqldump was killed by signal 9");
	ck_assert_ptr_null(jobs[4].error);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(jobs[i].ok, 0);
	ck_assert_int_eq(jobs[4].ok, 1);
	char *listing = list_dir(outdir);
	ck_assert_str_eq(listing, "good.sql.raw\n");
	ck_assert_int_eq(raw_opened, 6);
	ck_assert_int_eq(raw_closed, 6);

	log_close();
	char *log = t_read_file(logfile);
	ck_assert_ptr_nonnull(strstr(log, " ERROR DB 'exit2_a': mysqldump: Got error: "
	                                  "2013: Lost connection\n"));
	ck_assert_ptr_nonnull(strstr(log, " ERROR DB 'exit2_a': Backup failed: mysqldump exited "
	                                  "with code 2\n"));
	ck_assert_ptr_nonnull(strstr(log, " ERROR DB 'killed_d': Backup failed: mysqldump was "
	                                  "killed by signal 9\n"));
	ck_assert_ptr_nonnull(strstr(log, " INFO DB 'good': Backup successfully\n"));
	ck_assert_ptr_null(strstr(log, "DB 'exit2_a': Backup successfully"));
	free(log);
	free(listing);
	free_jobs(jobs, n);
}
END_TEST

START_TEST(dump_trailing_blank_lines_and_stderr)
{
	const char *names[] = {"blank", "stderr1", NULL};
	size_t n;
	struct dump_job *jobs = make_jobs(names, &n);
	struct dump_settings s = settings(NULL, 1);
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	log_close();
	char *log = t_read_file(logfile);
	/* The dump succeeded: its stderr is a warning, and never says "Error". */
	ck_assert_ptr_nonnull(
	        strstr(log, " WARNING DB 'stderr1': mysqldump: Warning: something odd\n"));
	ck_assert_ptr_nonnull(strstr(log, " WARNING DB 'stderr1': mysqldump: second warning\n"));
	ck_assert_ptr_nonnull(strstr(log,
	                             " WARNING DB 'stderr1': mysqldump: error: 'Access denied; "
	                             "you need the PROCESS privilege' when trying to dump "
	                             "tablespaces\n"));
	ck_assert_ptr_null(strstr(log, "Error"));
	ck_assert_ptr_nonnull(strstr(log, " INFO DB 'stderr1': Backup successfully\n"));
	ck_assert_ptr_nonnull(strstr(log, " INFO DB 'blank': Backup successfully\n"));
	/* stderr lines only; the empty one is not logged */
	ck_assert_ptr_null(strstr(log, "mysqldump: \n"));
	free(log);
	free_jobs(jobs, n);
}
END_TEST

START_TEST(dump_parallel_ten)
{
	const char *names[] = {"slow0", "slow1", "slow2", "slow3", "slow4", "slow5",
	                       "slow6", "slow7", "slow8", "slow9", NULL};
	size_t n;
	struct dump_job *jobs = make_jobs(names, &n);
	struct dump_settings s = settings(NULL, 3);
	s.cpus = 6;
	s.level = 7;
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	char *listing = list_dir(outdir);
	char *want = NULL;
	size_t len = 0, cap = 0;
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(jobs[i].ok, 1);
		char *path = xasprintf("%s/%s", outdir, jobs[i].file);
		char *got = t_read_file(path);
		char *exp = expected_dump(names[i], 5);
		ck_assert_str_eq(got, exp);
		buf_appendf(&want, &len, &cap, "slow%zu.sql.raw\n", i);
		free(path);
		free(got);
		free(exp);
	}
	ck_assert_str_eq(listing, want);
	ck_assert_int_eq(raw_opened, 10);
	ck_assert_int_eq(raw_closed, 10);
	ck_assert_int_le(raw_open_max, 3);
	ck_assert_int_ge(raw_open_max, 2);
	/* CPUs shared among the dumps that can run at once: 6/3 for the first
	 * eight, then 6/2 and 6/1 for the last two. */
	int count[7] = {0};
	for (int i = 0; i < 10; i++) {
		ck_assert_int_ge(raw_threads[i], 1);
		ck_assert_int_le(raw_threads[i], 6);
		count[raw_threads[i]]++;
		ck_assert_int_eq(raw_levels[i], 7);
	}
	ck_assert_int_eq(count[2], 8);
	ck_assert_int_eq(count[3], 1);
	ck_assert_int_eq(count[6], 1);
	free(want);
	free(listing);
	free_jobs(jobs, n);
}
END_TEST

START_TEST(dump_heaviest_first)
{
	const char *names[] = {"a", "b", "c", "d", "e", NULL};
	const uint64_t weights[] = {10, 500, 10, 0, 7000};
	size_t n;
	struct dump_job *jobs = make_jobs(names, &n);
	for (size_t i = 0; i < n; i++)
		jobs[i].weight = weights[i];
	char *runlog = xasprintf("%s/runlog", tmp);
	ck_assert_int_eq(setenv("FAKE_RUNLOG", runlog, 1), 0);
	struct dump_settings s = settings(NULL, 1);
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	unsetenv("FAKE_RUNLOG");
	char *order = t_read_file(runlog);
	/* Biggest first; equal weights in their given order. */
	ck_assert_str_eq(order, "e\nb\na\nc\nd\n");
	/* The jobs themselves keep their places. */
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(jobs[i].db, names[i]);
		ck_assert_int_eq(jobs[i].ok, 1);
	}
	free(order);
	free(runlog);
	free_jobs(jobs, n);
}
END_TEST

/* A big job starting next to small ones gets the CPUs they will leave
 * idle: threads in proportion to its share of the weight left. */
START_TEST(dump_threads_follow_weight)
{
	const char *names[] = {"small1", "big", "small2", NULL};
	const uint64_t weights[] = {1, 1000, 1};
	size_t n;
	struct dump_job *jobs = make_jobs(names, &n);
	for (size_t i = 0; i < n; i++)
		jobs[i].weight = weights[i];
	struct dump_settings s = settings(NULL, 2);
	s.cpus = 2;
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	ck_assert_int_eq(raw_opened, 3);
	/* big first with both CPUs (the even share would be 1), small1 next
	 * to it with 1, small2 last, alone, with 2 again. */
	int count[3] = {0};
	for (int i = 0; i < 3; i++) {
		ck_assert_int_ge(raw_threads[i], 1);
		ck_assert_int_le(raw_threads[i], 2);
		count[raw_threads[i]]++;
	}
	ck_assert_int_eq(count[1], 1);
	ck_assert_int_eq(count[2], 2);
	free_jobs(jobs, n);
}
END_TEST

/* What the done hook saw: for each call, the job, whether the final file
 * and its temp file existed, and how many dumps had been started by then. */
struct done_seen {
	pthread_mutex_t lock;
	const char *runlog;
	int calls;
	const char *db[8];
	int final_there[8], part_there[8], started[8];
};

/* Lines in the run log, and the line (from 1) naming `db` in *at (0: none). */
static int count_lines(const char *path, const char *db, int *at)
{
	FILE *f = fopen(path, "r");
	char line[256];
	int n = 0;
	*at = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, db) == 0)
			*at = n;
	}
	fclose(f);
	return n;
}

/* The hook runs right after the next mysqldump was spawned, maybe before
 * that one wrote its line: it waits (at most a second) for a line after
 * its own dump's, and records how many there are. */
static void record_done(void *arg, const struct dump_job *j)
{
	struct done_seen *d = arg;
	char *final = xasprintf("%s/%s", outdir, j->file);
	char *part = xasprintf("%s.part", final);
	int at, lines = count_lines(d->runlog, j->db, &at);
	for (int i = 0; i < 100 && lines <= at; i++) {
		usleep(10000);
		lines = count_lines(d->runlog, j->db, &at);
	}
	pthread_mutex_lock(&d->lock);
	if (d->calls < 8) {
		d->db[d->calls] = j->db;
		d->final_there[d->calls] = access(final, F_OK) == 0;
		d->part_there[d->calls] = access(part, F_OK) == 0;
		d->started[d->calls] = lines;
	}
	d->calls++;
	pthread_mutex_unlock(&d->lock);
	free(final);
	free(part);
}

START_TEST(dump_done_hook_after_next_start)
{
	const char *names[] = {"one", "exit2x", "two", "three", NULL};
	size_t n;
	struct dump_job *jobs = make_jobs(names, &n);
	char *runlog = xasprintf("%s/runlog", tmp);
	struct done_seen d = {.lock = PTHREAD_MUTEX_INITIALIZER, .runlog = runlog};
	ck_assert_int_eq(setenv("FAKE_RUNLOG", runlog, 1), 0);
	struct dump_settings s = settings(NULL, 1);
	s.done = record_done;
	s.done_arg = &d;
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	unsetenv("FAKE_RUNLOG");
	/* Once per dump that succeeded, in order, never for the failed one. */
	ck_assert_int_eq(d.calls, 3);
	const char *want[] = {"one", "two", "three"};
	for (int i = 0; i < 3; i++) {
		ck_assert_str_eq(d.db[i], want[i]);
		ck_assert_int_eq(d.final_there[i], 1);
		ck_assert_int_eq(d.part_there[i], 0);
	}
	/* A dump settles once the next mysqldump has started (one, exit2x
	 * started when one's hook ran; two and three before two's); the last
	 * one after all of them. */
	ck_assert_int_eq(d.started[0], 2);
	ck_assert_int_eq(d.started[1], 4);
	ck_assert_int_eq(d.started[2], 4);
	ck_assert_int_eq(jobs[0].ok, 1);
	ck_assert_int_eq(jobs[1].ok, 0);
	ck_assert_ptr_nonnull(jobs[1].error);
	char *listing = list_dir(outdir);
	ck_assert_str_eq(listing, "one.sql.raw\nthree.sql.raw\ntwo.sql.raw\n");
	free(listing);
	free(runlog);
	free_jobs(jobs, n);
}
END_TEST

/* A big dump settles before the next mysqldump starts (which, its pipe
 * full, would hold its table locks while the big file is fsynced). */
START_TEST(dump_big_settles_first)
{
	const char *names[] = {"big1", "small1", NULL};
	size_t n;
	struct dump_job *jobs = make_jobs(names, &n);
	char *runlog = xasprintf("%s/runlog", tmp);
	struct done_seen d = {.lock = PTHREAD_MUTEX_INITIALIZER, .runlog = runlog};
	ck_assert_int_eq(setenv("FAKE_RUNLOG", runlog, 1), 0);
	ck_assert_int_eq(setenv("FAKE_BYTES", "20000000", 1), 0);
	struct dump_settings s = settings(NULL, 1);
	s.done = record_done;
	s.done_arg = &d;
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	unsetenv("FAKE_RUNLOG");
	unsetenv("FAKE_BYTES");
	ck_assert_int_eq(d.calls, 2);
	ck_assert_str_eq(d.db[0], "big1");
	ck_assert_int_eq(d.final_there[0], 1);
	ck_assert_int_eq(d.started[0], 1); /* small1 had not started */
	ck_assert_uint_gt(jobs[0].bytes, 0);
	free(runlog);
	free_jobs(jobs, n);
}
END_TEST

START_TEST(dump_compressor_failures)
{
	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"big_w", NULL}, &n);
	struct dump_settings s = settings(NULL, 1);
	ck_assert_int_eq(setenv("FAKE_BYTES", "50000000", 1), 0);

	/* write fails: the child (still writing) is stopped, nothing is left */
	raw_fail_write = 1;
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	/* The compressor's message is named after the file it was writing. */
	char *want = xasprintf("compressor writing %s/big_w.sql.raw.part: raw: disk full (test)",
	                       outdir);
	ck_assert_str_eq(jobs[0].error, want);
	free(want);
	char *listing = list_dir(outdir);
	ck_assert_str_eq(listing, "");
	free(listing);
	raw_fail_write = 0;

	/* open fails */
	s.level = 42;
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	ck_assert_str_eq(jobs[0].error, "compressor: raw: bad level 42");
	s.level = -1;

	/* finish fails */
	jobs[0].db = "plain";
	raw_fail_finish = 1;
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	want = xasprintf("compressor writing %s/plain.sql.raw.part: raw: finish failed (test)",
	                 outdir);
	ck_assert_str_eq(jobs[0].error, want);
	free(want);
	raw_fail_finish = 0;
	listing = list_dir(outdir);
	ck_assert_str_eq(listing, "");
	free(listing);
	ck_assert_int_eq(raw_opened, raw_closed);

	/* The compressor writes into a pipe nobody reads: EPIPE, not SIGPIPE. */
	raw_pipe_write = 1;
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	want = xasprintf("compressor writing %s/plain.sql.raw.part: raw: write: Broken pipe",
	                 outdir);
	ck_assert_str_eq(jobs[0].error, want);
	free(want);
	raw_pipe_write = 0;

	/* And afterwards it works again. */
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	ck_assert_ptr_null(jobs[0].error);
	listing = list_dir(outdir);
	ck_assert_str_eq(listing, "plain.sql.raw\n");
	free(listing);
	free_jobs(jobs, n);
}
END_TEST

START_TEST(dump_setup_failures)
{
	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"app", NULL}, &n);
	struct dump_settings s = settings(NULL, 1);
	s.mysqldump_bin = "/nonexistent/mysqldump";
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	ck_assert_str_eq(jobs[0].error,
	                 "cannot run '/nonexistent/mysqldump': No such file or directory");
	char *listing = list_dir(outdir);
	ck_assert_str_eq(listing, "");
	free(listing);

	/* A leftover temp file is not ours: fail, and leave it alone. */
	s.mysqldump_bin = fake;
	char *part = xasprintf("%s/app.sql.raw.part", outdir);
	t_write_file(part, "old", 0600);
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	char *want = xasprintf("cannot create %s: File exists", part);
	ck_assert_str_eq(jobs[0].error, want);
	char *got = t_read_file(part);
	ck_assert_str_eq(got, "old");
	free(got);
	free(want);
	unlink(part);
	free(part);

	/* Empty names cannot be encoded. */
	jobs[0].db = "";
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	ck_assert_str_eq(jobs[0].error, "cannot make a file name from the database name");

	/* No folder. */
	jobs[0].db = "app";
	s.dir = "/nonexistent/dir";
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	ck_assert_str_eq(jobs[0].error, "cannot create /nonexistent/dir/app.sql.raw.part: "
	                                "No such file or directory");
	free_jobs(jobs, n);
}
END_TEST

START_TEST(dump_child_environment)
{
	/* The caller ignores SIGPIPE and blocks SIGUSR1; the child must get
	 * neither, run in its own process group and read /dev/null. */
	char *sigs = xasprintf("%s/sigs", tmp);
	ck_assert_int_eq(setenv("FAKE_SIGS", sigs, 1), 0);
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"sigs", NULL}, &n);
	struct dump_settings s = settings(NULL, 1);
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	char *got = t_read_file(sigs);
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(strstr(got, "SigBlk:\t0000000000000000\n") != NULL, "%s", got);
	/* SigIgn may carry what this test's own parent ignores; SIGPIPE must not be there. */
	const char *ign = strstr(got, "SigIgn:\t");
	ck_assert_ptr_nonnull(ign);
	unsigned long long ignored = strtoull(ign + 8, NULL, 16);
	ck_assert_msg((ignored & (1ULL << (SIGPIPE - 1))) == 0, "%s", got);
	long pid = -1, pgrp = -2;
	const char *line3 = strchr(strchr(got, '\n') + 1, '\n') + 1;
	ck_assert_int_eq(sscanf(line3, "%ld %ld", &pid, &pgrp), 2);
	ck_assert_int_eq(pid, pgrp);
	ck_assert_int_ne(pgrp, getpgrp());
	ck_assert_ptr_nonnull(strstr(got, "\n/dev/null\n"));
	free(got);
	free(sigs);
	free_jobs(jobs, n);
}
END_TEST

/* ---- cancel ------------------------------------------------------------ */

static char *started_file;
static char *part_file;
static pthread_t main_thread;
static long part_gone_ms = -1;

static void on_alarm(int sig)
{
	(void)sig;
	proc_cancel();
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Wait for the fake to sleep, check its temp file, signal the main thread
 * (whose handler calls proc_cancel) and time how long the file stays. */
static void *canceller(void *arg)
{
	(void)arg;
	long start = now_ms();
	/* The temp file is made right after mysqldump starts: wait for both. */
	while (access(started_file, F_OK) != 0 || access(part_file, F_OK) != 0) {
		if (now_ms() - start > 20000)
			return NULL;
		usleep(10000);
	}
	long t0 = now_ms();
	pthread_kill(main_thread, SIGALRM);
	while (access(part_file, F_OK) == 0 && now_ms() - t0 < 5000)
		usleep(5000);
	part_gone_ms = now_ms() - t0;
	return NULL;
}

static int gone_or_zombie(long pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	char *st = t_read_file(path);
	if (st == NULL)
		return 1;
	const char *p = strrchr(st, ')');
	int z = p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	free(st);
	return z;
}

START_TEST(dump_cancel_sleeping)
{
	started_file = xasprintf("%s/started", tmp);
	char *runlog = xasprintf("%s/runlog", tmp);
	ck_assert_int_eq(setenv("FAKE_STARTED", started_file, 1), 0);
	ck_assert_int_eq(setenv("FAKE_RUNLOG", runlog, 1), 0);
	part_file = xasprintf("%s/sleep1.sql.raw.part", outdir);
	struct sigaction sa = {.sa_handler = on_alarm};
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	main_thread = pthread_self();
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, canceller, NULL), 0);

	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"sleep1", "later1", "later2", NULL}, &n);
	struct dump_settings s = settings(NULL, 1);
	long t0 = now_ms();
	ck_assert_int_eq(dump_run(&s, jobs, n), 3);
	long took = now_ms() - t0;
	pthread_join(t, NULL);

	ck_assert_int_ge(part_gone_ms, 0);
	/* Removed on the cancel, not after the sleep's 30 s. */
	ck_assert_int_lt(part_gone_ms, 5000);
	ck_assert_int_lt(took, 10000);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(jobs[i].ok, 0);
		ck_assert_str_eq(jobs[i].error, "cancelled");
	}
	char *listing = list_dir(outdir);
	ck_assert_str_eq(listing, "");
	/* The queued jobs never started. */
	char *ran = t_read_file(runlog);
	ck_assert_str_eq(ran, "sleep1\n");
	/* The whole process group is gone, the backgrounded sleep too. */
	long sh = 0, sl = 0;
	char *pids = t_read_file(started_file);
	ck_assert_int_eq(sscanf(pids, "%ld %ld", &sh, &sl), 2);
	long w0 = now_ms();
	while (!(gone_or_zombie(sh) && gone_or_zombie(sl)) && now_ms() - w0 < 3000)
		usleep(10000);
	ck_assert(gone_or_zombie(sh));
	ck_assert(gone_or_zombie(sl));

	/* Once cancelled, nothing more is dumped. */
	struct dump_job more = {.db = "fresh"};
	ck_assert_int_eq(dump_run(&s, &more, 1), 1);
	ck_assert_str_eq(more.error, "cancelled");
	dump_job_clear(&more);
	ck_assert_ptr_null(more.error);

	log_close();
	char *log = t_read_file(logfile);
	ck_assert_ptr_nonnull(strstr(log, " ERROR DB 'sleep1': Backup failed: cancelled\n"));
	free(log);
	free(pids);
	free(ran);
	free(listing);
	free(runlog);
	free(started_file);
	free(part_file);
	free_jobs(jobs, n);
}
END_TEST

/* ---- large output ------------------------------------------------------ */

static long max_rss_kib(void)
{
	struct rusage ru;
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

START_TEST(dump_large_output_bounded_memory)
{
	const long bytes = 200L * 1000 * 1000;
	char val[32];
	snprintf(val, sizeof(val), "%ld", bytes);
	ck_assert_int_eq(setenv("FAKE_BYTES", val, 1), 0);
	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"big1", NULL}, &n);
	struct dump_settings s = settings(NULL, 1);
	long rss0 = max_rss_kib();
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	long rss1 = max_rss_kib();
	ck_assert_msg(rss1 - rss0 < 64 * 1024, "max RSS grew by %ld KiB", rss1 - rss0);
	const char *head = "-- MySQL dump\n-- Database: big1\nCREATE TABLE t (a int);\n";
	const char *done = "\n-- Dump completed on 2025-01-02  3:04:05\n";
	ck_assert_uint_eq(jobs[0].bytes, strlen(head) + (size_t)bytes + strlen(done));
	char *path = xasprintf("%s/big1.sql.raw", outdir);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)jobs[0].bytes);
	char *listing = list_dir(outdir);
	ck_assert_str_eq(listing, "big1.sql.raw\n");
	free(listing);
	free(path);
	free_jobs(jobs, n);
}
END_TEST

/* A mysqldump that stops (SIGSTOP, a lock wait) is stopped after
 * stall_timeout seconds without output; the job fails, nothing is left. */
START_TEST(dump_stall_timeout)
{
	char *pidfile = xasprintf("%s/stall.pid", tmp);
	ck_assert_int_eq(setenv("FAKE_STARTED", pidfile, 1), 0);
	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"stall1", "good", NULL}, &n);
	struct dump_settings s = settings(NULL, 1);
	s.stall_timeout = 1;
	long t0 = now_ms();
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	ck_assert_int_lt(now_ms() - t0, 30000);
	struct dump_job *st = strcmp(jobs[0].db, "stall1") == 0 ? &jobs[0] : &jobs[1];
	struct dump_job *ok = st == &jobs[0] ? &jobs[1] : &jobs[0];
	ck_assert_int_eq(st->ok, 0);
	ck_assert_str_eq(st->error,
	                 "mysqldump wrote nothing for 1 seconds (dump_stall_timeout); stopped");
	ck_assert_int_eq(ok->ok, 1);
	char *listing = list_dir(outdir);
	ck_assert_str_eq(listing, "good.sql.raw\n");
	free(listing);
	char *pid = t_read_file(pidfile);
	ck_assert_ptr_nonnull(pid);
	ck_assert(gone_or_zombie(strtol(pid, NULL, 10)));
	log_close();
	char *log = t_read_file(logfile);
	ck_assert_ptr_nonnull(strstr(log,
	                             " ERROR DB 'stall1': Backup failed: mysqldump wrote nothing "
	                             "for 1 seconds (dump_stall_timeout); stopped\n"));
	free(log);
	free(pid);
	free(pidfile);
	free_jobs(jobs, n);
}
END_TEST

/* A background process that keeps mysqldump's stderr open does not hold
 * the dump: once mysqldump exited, the pipe is given up after a moment. */
START_TEST(dump_background_keeps_stderr)
{
	char *pidfile = xasprintf("%s/bg.pid", tmp);
	ck_assert_int_eq(setenv("FAKE_STARTED", pidfile, 1), 0);
	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"bgerr1", NULL}, &n);
	struct dump_settings s = settings(NULL, 1);
	long t0 = now_ms();
	ck_assert_int_eq(dump_run(&s, jobs, n), 0);
	ck_assert_int_lt(now_ms() - t0, 20000); /* the sleep takes 30 s */
	ck_assert_int_eq(jobs[0].ok, 1);
	log_close();
	char *log = t_read_file(logfile);
	ck_assert_ptr_nonnull(strstr(log, " WARNING DB 'bgerr1': mysqldump exited but something it "
	                                  "started kept its output open"));
	free(log);
	char *pid = t_read_file(pidfile);
	ck_assert_ptr_nonnull(pid);
	kill((pid_t)strtol(pid, NULL, 10), SIGKILL);
	free(pid);
	free(pidfile);
	free_jobs(jobs, n);
}
END_TEST

/* sha256sum's digest of a file (an independent implementation). */
static char *sha256sum(const char *path)
{
	char *cmd = xasprintf("sha256sum '%s'", path);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	char buf[128] = "";
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	pclose(f);
	free(cmd);
	buf[strcspn(buf, " ")] = '\0';
	return xstrdup(buf);
}

/* Every finished dump carries the SHA-256 of its file: hashed through the
 * sink while written, or read back for a compressor without one. */
START_TEST(dump_sha256_recorded)
{
	ck_assert_int_eq(setenv("FAKE_LINES", "20000", 1), 0);
	const struct oma_compress_ops *ops[] = {&raw_ops, &raw_sink_ops};
	for (int k = 0; k < 2; k++) {
		size_t n;
		struct dump_job *jobs = make_jobs((const char *[]){"shop", "crm", NULL}, &n);
		struct dump_settings s = settings(NULL, 2);
		s.comp = ops[k];
		raw_sunk = 0;
		ck_assert_int_eq(dump_run(&s, jobs, n), 0);
		for (size_t i = 0; i < n; i++) {
			char *path = xasprintf("%s/%s", outdir, jobs[i].file);
			char *want = sha256sum(path);
			ck_assert_str_eq(jobs[i].sha256, want);
			free(want);
			free(path);
		}
		if (k == 1)
			ck_assert_uint_gt(raw_sunk, 20000);
		else
			ck_assert_uint_eq(raw_sunk, 0);
		for (size_t i = 0; i < n; i++) {
			char *path = xasprintf("%s/%s", outdir, jobs[i].file);
			unlink(path);
			free(path);
		}
		free_jobs(jobs, n);
	}
	/* A failed dump has none. */
	size_t n;
	struct dump_job *jobs = make_jobs((const char *[]){"exit2_db", NULL}, &n);
	struct dump_settings s = settings(NULL, 1);
	s.comp = &raw_sink_ops;
	ck_assert_int_eq(dump_run(&s, jobs, n), 1);
	ck_assert_str_eq(jobs[0].sha256, "");
	free_jobs(jobs, n);
}
END_TEST

static Suite *dump_suite(void)
{
	Suite *s = suite_create("dump");
	TCase *c = tcase_create("completed");
	tcase_add_test(c, completion_line_matcher);
	suite_add_tcase(s, c);

	TCase *r = tcase_create("run");
	tcase_add_checked_fixture(r, setup, teardown);
	tcase_set_timeout(r, 120);
	tcase_add_test(r, dump_success_exact_content);
	tcase_add_test(r, dump_argv_exact);
	tcase_add_test(r, dump_hostile_names);
	tcase_add_test(r, dump_failures);
	tcase_add_test(r, dump_failure_utf8_line);
	tcase_add_test(r, dump_trailing_blank_lines_and_stderr);
	tcase_add_test(r, dump_parallel_ten);
	tcase_add_test(r, dump_heaviest_first);
	tcase_add_test(r, dump_threads_follow_weight);
	tcase_add_test(r, dump_done_hook_after_next_start);
	tcase_add_test(r, dump_big_settles_first);
	tcase_add_test(r, dump_compressor_failures);
	tcase_add_test(r, dump_setup_failures);
	tcase_add_test(r, dump_child_environment);
	tcase_add_test(r, dump_cancel_sleeping);
	tcase_add_test(r, dump_large_output_bounded_memory);
	tcase_add_test(r, dump_sha256_recorded);
	tcase_add_test(r, dump_stall_timeout);
	tcase_add_test(r, dump_background_keeps_stderr);
	suite_add_tcase(s, r);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dump_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
