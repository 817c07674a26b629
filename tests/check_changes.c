/* check_changes.c - tests for core/changes*.c: fake client + fake datadir, and a real MariaDB. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "changes.h"
#include "server.h"
#include "server_internal.h"
#include "testlib.h"
#include "util.h"

static char tmp[64];  /* per-test temp dir */
static char *mysql;   /* fake client */
static char *datadir; /* fake datadir */
static int64_t now;   /* epoch seconds at setup */
static int64_t old;   /* an mtime well before any reference */

/* ---- helpers ----------------------------------------------------------- */

/* Path of `rel` inside the fake datadir. */
static char *dd(const char *rel)
{
	return xasprintf("%s/%s", datadir, rel);
}

static void set_mtime(const char *rel, int64_t sec)
{
	char *p = dd(rel);
	struct timespec ts[2] = {{.tv_sec = (time_t)sec}, {.tv_sec = (time_t)sec}};
	ck_assert_msg(utimensat(AT_FDCWD, p, ts, 0) == 0, "utimensat %s: %s", p, strerror(errno));
	free(p);
}

static void mkfolder(const char *rel)
{
	char *p = dd(rel);
	ck_assert_int_eq(mkdir(p, 0750), 0);
	free(p);
}

static void put(const char *rel, const char *text)
{
	char *p = dd(rel);
	t_write_file(p, text, 0640);
	free(p);
	set_mtime(rel, old);
}

/* A table definition of engine `code` (byte 3 of a real .frm). */
static void put_frm(const char *folder, const char *table, int code)
{
	unsigned char head[64] = {0xfe, 0x01, 0x0a, (unsigned char)code};
	char *rel = xasprintf("%s/%s.frm", folder, table);
	char *p = dd(rel);
	t_write_bytes(p, head, sizeof(head), 0640);
	set_mtime(rel, old);
	free(p);
	free(rel);
}

/* A .par file as MariaDB writes it: partition count, one engine byte per
 * partition, then the NUL-terminated partition names. */
static void put_par(const char *folder, const char *table, int code, const char *const *names)
{
	unsigned char buf[512] = {0};
	uint32_t parts = 0;
	while (names[parts] != NULL)
		parts++;
	size_t names_at = 12 + (parts + 3) / 4 * 4;
	size_t pos = names_at + 4;
	for (uint32_t i = 0; i < parts; i++) {
		buf[12 + i] = (unsigned char)code;
		size_t l = strlen(names[i]) + 1;
		memcpy(buf + pos, names[i], l);
		pos += l;
	}
	uint32_t namelen = (uint32_t)(pos - names_at - 4);
	pos = (pos + 3) / 4 * 4;
	uint32_t words = (uint32_t)(pos / 4);
	memcpy(buf, &words, 4);
	memcpy(buf + 8, &parts, 4);
	memcpy(buf + names_at, &namelen, 4);
	char *rel = xasprintf("%s/%s.par", folder, table);
	char *p = dd(rel);
	t_write_bytes(p, buf, pos, 0640);
	set_mtime(rel, old);
	free(p);
	free(rel);
}

/* The fake client: checks its fixed arguments and that it got the probe
 * script, counts its runs, and answers with probe.out, or with probe.err
 * on stderr and exit 1. */
static const char fake_mysql[] =
        "#!/bin/sh\n"
        "d=$(dirname \"$0\")\n"
        "echo run >> \"$d/runs\"\n"
        "if [ $# -ne 5 ] || [ \"$1\" != --default-character-set=utf8mb4 ] ||\n"
        "   [ \"$2\" != -N ] || [ \"$3\" != -B ] || [ \"$4\" != -e ]; then\n"
        "  echo \"ERROR 9999: bad arguments\" >&2; exit 3\n"
        "fi\n"
        "case \"$5\" in\n"
        "*INNODB_BUFFER_PAGE_LRU*INNODB_SYS_TABLESPACES*mysql.proc*mysql.event*) ;;\n"
        "*) echo 'ERROR 1064 (42000): not the probe script' >&2; exit 1 ;;\n"
        "esac\n"
        "if [ -e \"$d/probe.err\" ]; then cat \"$d/probe.err\" >&2; exit 1; fi\n"
        "case \"$5\" in\n"
        "*'DO SLEEP('*) echo wait >> \"$d/waits\"; [ -e \"$d/probe2.out\" ] &&"
        " exec cat \"$d/probe2.out\" ;;\n"
        "esac\n"
        "cat \"$d/probe.out\"\n";

static void write_probe(const char *text)
{
	char *p = xasprintf("%s/probe.out", tmp);
	t_write_file(p, text, 0644);
	free(p);
}

static int runs(void)
{
	char *p = xasprintf("%s/runs", tmp);
	char *t = t_read_file(p);
	int n = 0;
	for (const char *s = t; s != NULL && *s != '\0'; s++)
		n += *s == '\n';
	free(t);
	free(p);
	return n;
}

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/check_changes.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	mysql = xasprintf("%s/fake-mysql", tmp);
	t_write_file(mysql, fake_mysql, 0755);
	datadir = xasprintf("%s/data", tmp);
	ck_assert_int_eq(mkdir(datadir, 0750), 0);
	now = (int64_t)time(NULL);
	old = now - 1000;
}

static void teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(mysql);
	free(datadir);
}

/* A folder "d1" with one table of every kind the scan vouches for, plus a
 * view, a trigger and db.opt; everything (folder last) aged to `old`. */
static void make_good_db(const char *folder)
{
	mkfolder(folder);
	char *rel;
#define PUT(fmt, text)                        \
	do {                                  \
		rel = xasprintf(fmt, folder); \
		put(rel, text);               \
		free(rel);                    \
	} while (0)
	put_frm(folder, "inno", 0x0c);
	PUT("%s/inno.ibd", "ibd");
	put_frm(folder, "seq", 0x0c);
	PUT("%s/seq.ibd", "ibd");
	put_frm(folder, "my", 0x09);
	PUT("%s/my.MYD", "");
	PUT("%s/my.MYI", "");
	put_frm(folder, "ar", 0x2a);
	PUT("%s/ar.MAD", "");
	PUT("%s/ar.MAI", "");
	put_frm(folder, "cs", 0x11);
	PUT("%s/cs.CSV", "");
	PUT("%s/cs.CSM", "");
	PUT("%s/v.frm", "TYPE=VIEW\nquery=select 1\n");
	PUT("%s/inno.TRG", "TYPE=TRIGGERS\n");
	PUT("%s/tr.TRN", "TYPE=TRIGGERNAME\n");
	PUT("%s/db.opt", "default-character-set=utf8mb4\n");
	put_frm(folder, "p", 0x14);
	put_par(folder, "p", 0x0c, (const char *[]){"p0", "p1", "a#SP#asp0", NULL});
	PUT("%s/p#P#p0.ibd", "");
	PUT("%s/p#P#p1.ibd", "");
	PUT("%s/p#P#a#SP#asp0.ibd", "");
#undef PUT
	set_mtime(folder, old);
}

/* A folder with InnoDB table t only. */
static void make_inno_db(const char *folder)
{
	mkfolder(folder);
	put_frm(folder, "t", 0x0c);
	char *rel = xasprintf("%s/t.ibd", folder);
	put(rel, "");
	free(rel);
	set_mtime(folder, old);
}

static struct changes_state *probe(const char *const *pairs, int want_rc, char *err, size_t errlen)
{
	struct strv dbs = {0}, folders = {0};
	for (; pairs[0] != NULL; pairs += 2) {
		strv_push(&dbs, pairs[0]);
		strv_push(&folders, pairs[1]);
	}
	struct changes_state *st = NULL;
	int before = runs();
	int rc = changes_probe(mysql, datadir, &dbs, &folders, &st, err, errlen);
	ck_assert_msg(rc == want_rc, "changes_probe returned %d (err: %s)", rc, err);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(runs(), before + 1); /* one client process, whatever the count */
	strv_free(&dbs);
	strv_free(&folders);
	return st;
}

/* A previous reference that passes against the default fake answer. */
static struct changes_ref good_prev(void)
{
	return (struct changes_ref){.valid = 1, .ref_time = now - 500, .ref_lsn = 4000};
}

static const char base_probe[] = "lsn\t5000\ntrx\t0\tNULL\t1\naria\t0\n";

static int decide(struct changes_state *st, const char *db, const struct changes_ref *prev,
                  char *why, size_t whylen)
{
	int64_t last = -1;
	int rc = changes_unchanged(st, db, prev, &last, why, whylen);
	ck_assert_ptr_null(strstr(why, "Error"));
	ck_assert_int_ge(last, 0);
	return rc;
}

/* ---- fake server, fake datadir ----------------------------------------- */

START_TEST(unchanged_when_nothing_moved)
{
	make_good_db("d1");
	write_probe(base_probe);
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"d1", "d1", NULL, NULL}, 0, err,
	                                 sizeof(err));
	struct changes_ref prev = good_prev();
	int64_t last = 0;
	ck_assert_int_eq(changes_unchanged(st, "d1", &prev, &last, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "no change since previous dump");
	ck_assert_int_eq(last, old);

	/* This run's reference: T = now - 1 (no open transaction), L = LSN. */
	struct changes_ref cur;
	changes_current_ref(st, "d1", &cur);
	ck_assert_int_eq(cur.valid, 1);
	ck_assert_int_ge(cur.ref_time, now - 1);
	ck_assert_int_le(cur.ref_time, (int64_t)time(NULL) - 1);
	ck_assert_uint_eq(cur.ref_lsn, 5000);
	ck_assert_int_eq(cur.proc_count, 0);
	ck_assert_int_eq(cur.proc_max, 0);
	ck_assert_int_eq(cur.event_count, 0);

	/* Without a usable previous reference: dump. */
	ck_assert_int_eq(decide(st, "d1", NULL, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "no usable reference from previous dump");
	struct changes_ref bad = prev;
	bad.valid = 0;
	ck_assert_int_eq(decide(st, "d1", &bad, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "no usable reference from previous dump");
	/* The reference only just before the mtimes: dump. */
	struct changes_ref late = prev;
	late.ref_time = old;
	ck_assert_int_eq(decide(st, "d1", &late, why, sizeof(why)), 0);
	late.ref_time = old + 1;
	ck_assert_int_eq(decide(st, "d1", &late, why, sizeof(why)), 1);
	/* A database that was not probed. */
	ck_assert_int_eq(decide(st, "other", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "database was not checked");
	changes_free(st);
}
END_TEST

START_TEST(newer_file_or_folder_means_changed)
{
	make_good_db("d1");
	make_good_db("d2");
	set_mtime("d1/my.MYD", now - 100);
	/* A drop shows only in the folder's own mtime. */
	char *p = dd("d2/ar.MAD");
	ck_assert_int_eq(unlink(p), 0);
	free(p);
	p = dd("d2/ar.MAI");
	ck_assert_int_eq(unlink(p), 0);
	free(p);
	p = dd("d2/ar.frm");
	ck_assert_int_eq(unlink(p), 0);
	free(p);
	set_mtime("d2", now - 50);
	write_probe(base_probe);
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"d1", "d1", "d2", "d2", NULL, NULL}, 0,
	                                 err, sizeof(err));
	struct changes_ref prev = good_prev();
	int64_t last = 0;
	ck_assert_int_eq(changes_unchanged(st, "d1", &prev, &last, why, sizeof(why)), 0);
	char when[64];
	time_t t = (time_t)(now - 100);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
	char *want = xasprintf("'my.MYD' modified at %s", when);
	ck_assert_str_eq(why, want);
	free(want);
	ck_assert_int_eq(last, now - 100);

	ck_assert_int_eq(changes_unchanged(st, "d2", &prev, &last, why, sizeof(why)), 0);
	ck_assert(strncmp(why, "datadir folder 'd2' modified at ", 32) == 0);
	ck_assert_int_eq(last, now - 50);
	changes_free(st);
}
END_TEST

START_TEST(tables_that_cannot_be_vouched_for)
{
	static const struct {
		const char *folder;
		const char *want;
	} cases[] = {
	        {"mem", "table 'm' has engine type 6; cannot detect changes"},
	        {"merge", "table 'm' has engine type 10; cannot detect changes"},
	        {"noibd", "table 'x' has no data file 'x.ibd'; cannot detect changes"},
	        {"nomyd", "table 'x' has no data file 'x.MYD'; cannot detect changes"},
	        {"badfrm", "table 'x' has an unreadable 'x.frm'; cannot detect changes"},
	        {"unknown", "file 'a.ARZ' of an unknown kind in datadir folder 'unknown'; cannot "
	                    "detect changes"},
	        {"sub",
	         "unexpected folder 'deeper' in datadir folder 'sub'; cannot detect changes"},
	        {"pmem", "partitioned table 'p' has engine type 6; cannot detect changes"},
	        {"pmiss", "partition of table 'p' has no data file 'p#P#p1.ibd'; cannot detect "
	                  "changes"},
	        {"nopar", "partitioned table 'p' has no readable 'p.par'; cannot detect changes"},
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	for (size_t i = 0; i < n; i++)
		make_good_db(cases[i].folder);
	put_frm("mem", "m", 0x06);
	put_frm("merge", "m", 0x0a);
	put("merge/m.MRG", "");
	put_frm("noibd", "x", 0x0c);
	put_frm("nomyd", "x", 0x09);
	put("nomyd/x.MYI", "");
	put("badfrm/x.frm", "garbage!");
	put("unknown/a.ARZ", "");
	mkfolder("sub/deeper");
	set_mtime("sub/deeper", old);
	put_frm("pmem", "p", 0x14);
	put_par("pmem", "p", 0x06, (const char *[]){"p0", "p1", NULL});
	put_frm("pmiss", "p", 0x14);
	put_par("pmiss", "p", 0x0c, (const char *[]){"p0", "p1", NULL});
	char *gone = dd("pmiss/p#P#p1.ibd");
	ck_assert_int_eq(unlink(gone), 0);
	free(gone);
	gone = dd("nopar/p.par");
	ck_assert_int_eq(unlink(gone), 0);
	free(gone);

	struct strv dbs = {0};
	for (size_t i = 0; i < n; i++) {
		strv_push(&dbs, cases[i].folder);
		set_mtime(cases[i].folder, old);
	}
	write_probe(base_probe);
	struct changes_state *st = NULL;
	char err[512] = "", why[512] = "";
	ck_assert_int_eq(changes_probe(mysql, datadir, &dbs, &dbs, &st, err, sizeof(err)), 0);
	struct changes_ref prev = good_prev();
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(decide(st, cases[i].folder, &prev, why, sizeof(why)), 0);
		ck_assert_str_eq(why, cases[i].want);
	}
	changes_free(st);
	strv_free(&dbs);
}
END_TEST

START_TEST(missing_folder_and_datadir)
{
	make_good_db("d1");
	write_probe(base_probe);
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"d1", "d1", "gone", "g@002done", NULL,
	                                                  NULL},
	                                 0, err, sizeof(err));
	struct changes_ref prev = good_prev();
	int64_t last = 7;
	ck_assert_int_eq(changes_unchanged(st, "gone", &prev, &last, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "datadir folder 'g@002done' not found");
	ck_assert_int_eq(last, 0);
	changes_free(st);

	/* A datadir oma cannot read (e.g. the server runs elsewhere). */
	struct strv dbs = {0};
	strv_push(&dbs, "d1");
	ck_assert_int_eq(changes_probe(mysql, "/nonexistent/dd", &dbs, &dbs, &st, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "datadir '/nonexistent/dd' cannot be read (No such file or "
	                      "directory); cannot detect changes");
	changes_free(st);
	strv_free(&dbs);
}
END_TEST

START_TEST(dirty_innodb_pages)
{
	make_inno_db("d1");
	make_inno_db("d@002d2");
	make_inno_db("d3");
	make_good_db("d4");
	write_probe("lsn\t5000\ntrx\t0\tNULL\t1\n"
	            "dirty\t0\t4990\n"  /* ./ibdata1: no database */
	            "dirty\t7\t4500\n"  /* d1 */
	            "dirty\t8\t3000\n"  /* d-2, older than every reference below */
	            "dirty\t9\t4800\n"  /* flushed meanwhile: no space row */
	            "dirty\t12\t4700\n" /* d4, a partition */
	            "dirty\t4294967294\t0\n"
	            "space\t0\t./ibdata1\n"
	            "space\t7\t./d1/t.ibd\n"
	            "space\t8\t./d@002d2/t.ibd\n"
	            "space\t12\t./d4/p#P#p1.ibd\n"
	            "space\t4294967294\t./ibtmp1\n"
	            "aria\t0\n");
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"d1", "d1", "d-2", "d@002d2", "d3", "d3",
	                                                  "d4", "d4", NULL, NULL},
	                                 0, err, sizeof(err));
	struct changes_ref prev = good_prev(); /* L = 4000 */
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "unwritten InnoDB changes in 't.ibd'");
	ck_assert_int_eq(decide(st, "d-2", &prev, why, sizeof(why)), 1);
	ck_assert_int_eq(decide(st, "d3", &prev, why, sizeof(why)), 1);
	ck_assert_int_eq(decide(st, "d4", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "unwritten InnoDB changes in 'p#P#p1.ibd'");

	/* Newest modification equal to L counts; just below does not. */
	prev.ref_lsn = 4500;
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	prev.ref_lsn = 4501;
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 1);
	/* L = 0 (a writing transaction was open): any dirty page counts. */
	prev.ref_lsn = 0;
	ck_assert_int_eq(decide(st, "d-2", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "unwritten InnoDB changes in 't.ibd'");
	ck_assert_int_eq(decide(st, "d3", &prev, why, sizeof(why)), 1);
	/* LSN backwards: restored datadir or another server. */
	prev.ref_lsn = 5001;
	ck_assert_int_eq(decide(st, "d3", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "InnoDB LSN went backwards (restored or different server)");
	prev.ref_lsn = 5000;
	ck_assert_int_eq(decide(st, "d3", &prev, why, sizeof(why)), 1);
	changes_free(st);

	/* An absolute FILENAME below the datadir maps too. */
	char *out = xasprintf("lsn\t5000\ntrx\t0\tNULL\t1\ndirty\t7\t4500\nspace\t7\t%s/d3/t.ibd\n",
	                      datadir);
	write_probe(out);
	free(out);
	st = probe((const char *[]){"d3", "d3", NULL, NULL}, 0, err, sizeof(err));
	prev.ref_lsn = 4000;
	ck_assert_int_eq(decide(st, "d3", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "unwritten InnoDB changes in 't.ibd'");
	changes_free(st);
}
END_TEST

START_TEST(aria_unflushed)
{
	make_good_db("witharia");
	make_inno_db("noaria");
	make_inno_db("aria-part");
	put_frm("aria-part", "p", 0x14);
	put_par("aria-part", "p", 0x2a, (const char *[]){"p0", NULL});
	put("aria-part/p#P#p0.MAD", "");
	put("aria-part/p#P#p0.MAI", "");
	set_mtime("aria-part", old);
	write_probe("lsn\t5000\ntrx\t0\tNULL\t1\naria\t3\n");
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"witharia", "witharia", "noaria",
	                                                  "noaria", "aria-part", "aria-part", NULL,
	                                                  NULL},
	                                 0, err, sizeof(err));
	struct changes_ref prev = good_prev();
	ck_assert_int_eq(decide(st, "witharia", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why,
	                 "unwritten Aria pages on server (Aria_pagecache_blocks_not_flushed=3)");
	ck_assert_int_eq(decide(st, "aria-part", &prev, why, sizeof(why)), 0);
	ck_assert_int_eq(decide(st, "noaria", &prev, why, sizeof(why)), 1);
	changes_free(st);
}
END_TEST

START_TEST(routines_and_events)
{
	make_inno_db("d1");
	make_inno_db("d2");
	make_inno_db("d3");
	char *h1 = t_hex("d1"), *h2 = t_hex("d2"), *h3 = t_hex("d3");
	char *out = xasprintf("lsn\t5000\ntrx\t0\tNULL\t1\n"
	                      "proc\t%s\t2\t%" PRId64 "\n"
	                      "proc\t%s\t1\t%" PRId64 "\n"
	                      "event\t%s\t1\t%" PRId64 "\n"
	                      "aria\t0\n",
	                      h1, old, h2, now - 10, h3, old + 5);
	write_probe(out);
	free(out);
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"d1", "d1", "d2", "d2", "d3", "d3", NULL,
	                                                  NULL},
	                                 0, err, sizeof(err));
	struct changes_ref cur;
	changes_current_ref(st, "d1", &cur);
	ck_assert_int_eq(cur.proc_count, 2);
	ck_assert_int_eq(cur.proc_max, old);
	ck_assert_int_eq(cur.event_count, 0);
	changes_current_ref(st, "d3", &cur);
	ck_assert_int_eq(cur.event_count, 1);
	ck_assert_int_eq(cur.event_max, old + 5);
	changes_current_ref(st, "not-probed", &cur);
	ck_assert_int_eq(cur.valid, 1);
	ck_assert_int_eq(cur.proc_count, 0);

	struct changes_ref prev = good_prev();
	prev.proc_count = 2;
	prev.proc_max = old;
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 1);
	prev.proc_count = 3; /* one dropped */
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "stored routines changed");
	prev.proc_count = 2;
	prev.proc_max = old - 10; /* one replaced */
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "stored routines changed");
	prev.proc_count = 0; /* created since */
	prev.proc_max = 0;
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);

	/* Altered after the reference time, even with the stored numbers. */
	prev = good_prev();
	prev.proc_count = 1;
	prev.proc_max = now - 10;
	ck_assert_int_eq(decide(st, "d2", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "stored routines changed");
	prev.ref_time = now - 9;
	ck_assert_int_eq(decide(st, "d2", &prev, why, sizeof(why)), 1);

	prev = good_prev();
	ck_assert_int_eq(decide(st, "d3", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "events changed");
	prev.event_count = 1;
	prev.event_max = old + 5;
	ck_assert_int_eq(decide(st, "d3", &prev, why, sizeof(why)), 1);
	free(h1);
	free(h2);
	free(h3);
	changes_free(st);
}
END_TEST

START_TEST(open_transaction_moves_reference_back)
{
	make_inno_db("d1");
	char *out = xasprintf("lsn\t5000\ntrx\t2\t%" PRId64 "\t1\naria\t0\n", now - 300);
	write_probe(out);
	free(out);
	char err[512] = "";
	struct changes_state *st = probe((const char *[]){"d1", "d1", NULL, NULL}, 0, err,
	                                 sizeof(err));
	struct changes_ref cur;
	changes_current_ref(st, "d1", &cur);
	ck_assert_int_eq(cur.valid, 1);
	ck_assert_int_eq(cur.ref_time, now - 301);
	ck_assert_uint_eq(cur.ref_lsn, 0);
	changes_free(st);
}
END_TEST

START_TEST(clock_backwards)
{
	make_inno_db("d1");
	write_probe(base_probe);
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"d1", "d1", NULL, NULL}, 0, err,
	                                 sizeof(err));
	struct changes_ref prev = good_prev();
	prev.ref_time = now + 1000;
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "clock went backwards since previous dump");
	changes_free(st);
}
END_TEST

START_TEST(probe_failure_means_dump_everything)
{
	make_good_db("d1");
	char *p = xasprintf("%s/probe.err", tmp);
	t_write_file(p,
	             "ERROR 1227 (42000) at line 3: Access denied; you need (at least one of) the "
	             "PROCESS privilege(s) for this operation\n",
	             0644);
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"d1", "d1", NULL, NULL}, -1, err,
	                                 sizeof(err));
	ck_assert_str_eq(err, "needs the PROCESS privilege: mysql: ERROR 1227 (42000) at line 3: "
	                      "Access denied; you need (at least one of) the PROCESS "
	                      "privilege(s) for this operation");
	struct changes_ref prev = good_prev();
	int64_t last = 0;
	ck_assert_int_eq(changes_unchanged(st, "d1", &prev, &last, why, sizeof(why)), 0);
	ck_assert(strncmp(why, "cannot check for unwritten changes: needs the PROCESS privilege: ",
	                  65) == 0);
	ck_assert_int_eq(last, old); /* the scan still ran, for the debug line */
	struct changes_ref cur;
	changes_current_ref(st, "d1", &cur);
	ck_assert_int_eq(cur.valid, 0);
	char buf[256];
	ck_assert_int_eq(changes_ref_format(&cur, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	changes_free(st);

	/* Another failure; "Error" never reaches the log. */
	t_write_file(p,
	             "ERROR 1146 (42S02) at line 5: Table 'mysql.proc' doesn't exist\n"
	             "Error: something\n",
	             0644);
	st = probe((const char *[]){"d1", "d1", NULL, NULL}, -1, err, sizeof(err));
	ck_assert_str_eq(err, "mysql: ERROR 1146 (42S02) at line 5: Table 'mysql.proc' doesn't "
	                      "exist");
	changes_free(st);
	t_write_file(p, "Error in something\n", 0644);
	st = probe((const char *[]){"d1", "d1", NULL, NULL}, -1, err, sizeof(err));
	ck_assert_str_eq(err, "mysql: error in something");
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "cannot check for unwritten changes: mysql: error in something");
	changes_free(st);
	ck_assert_int_eq(unlink(p), 0);
	free(p);

	/* Output the script does not produce, or no LSN: unusable too. */
	write_probe("lsn\t5000\ntrx\t0\tNULL\t1\nsurprise\t1\n");
	st = probe((const char *[]){"d1", "d1", NULL, NULL}, -1, err, sizeof(err));
	ck_assert_str_eq(err, "mysql: unexpected output line 'surprise'");
	changes_free(st);
	write_probe("lsn\tabc\ntrx\t0\tNULL\t1\n");
	st = probe((const char *[]){"d1", "d1", NULL, NULL}, -1, err, sizeof(err));
	ck_assert_str_eq(err, "mysql: unexpected output line 'lsn'");
	changes_free(st);
	write_probe("trx\t0\tNULL\t1\naria\t0\n");
	st = probe((const char *[]){"d1", "d1", NULL, NULL}, -1, err, sizeof(err));
	ck_assert_str_eq(err, "mysql: the server reported no InnoDB LSN");
	changes_free(st);

	/* A client that cannot run. */
	struct strv dbs = {0};
	strv_push(&dbs, "d1");
	ck_assert_int_eq(changes_probe("/nonexistent/mysql", datadir, &dbs, &dbs, &st, err,
	                               sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "cannot run '/nonexistent/mysql': No such file or directory");
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	changes_free(st);
	strv_free(&dbs);
}
END_TEST

static int waits(void)
{
	char *p = xasprintf("%s/waits", tmp);
	char *t = t_read_file(p);
	int n = 0;
	for (const char *c = t; c != NULL && *c != '\0'; c++)
		n += *c == '\n';
	free(t);
	free(p);
	return n;
}

START_TEST(stale_innodb_trx_is_retried)
{
	make_inno_db("d1");
	/* First answer: the probe's own transaction is missing (stale cache). */
	write_probe("lsn\t5000\ntrx\tNULL\tNULL\tNULL\naria\t0\n");
	char *p2 = xasprintf("%s/probe2.out", tmp);
	char *out = xasprintf("lsn\t5001\ntrx\t1\t%" PRId64 "\t1\naria\t0\n", now - 50);
	t_write_file(p2, out, 0644);
	free(out);
	struct strv dbs = {0};
	strv_push(&dbs, "d1");
	struct changes_state *st = NULL;
	char err[512] = "", why[512] = "";
	ck_assert_int_eq(changes_probe(mysql, datadir, &dbs, &dbs, &st, err, sizeof(err)), 0);
	ck_assert_int_eq(runs(), 2);
	ck_assert_int_eq(waits(), 1);
	struct changes_ref cur;
	changes_current_ref(st, "d1", &cur);
	ck_assert_int_eq(cur.ref_time, now - 51);
	ck_assert_uint_eq(cur.ref_lsn, 0);
	changes_free(st);

	/* Still stale after the pause: the check is unusable this run. */
	ck_assert_int_eq(unlink(p2), 0);
	ck_assert_int_eq(changes_probe(mysql, datadir, &dbs, &dbs, &st, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "information_schema.INNODB_TRX was not refreshed (another client "
	                      "reads it more often than every 0.1 s)");
	ck_assert_int_eq(runs(), 4);
	ck_assert_int_eq(waits(), 2);
	struct changes_ref prev = good_prev();
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	ck_assert(strncmp(why, "cannot check for unwritten changes: information_schema.INNODB_TRX",
	                  65) == 0);
	changes_current_ref(st, "d1", &cur);
	ck_assert_int_eq(cur.valid, 0);
	changes_free(st);
	strv_free(&dbs);
	free(p2);
}
END_TEST

START_TEST(reasons_never_say_Error)
{
	make_inno_db("Errors");
	put("Errors/ErrorLog.xyz", "");
	set_mtime("Errors", old);
	write_probe(base_probe);
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"Errors", "Errors", NULL, NULL}, 0, err,
	                                 sizeof(err));
	struct changes_ref prev = good_prev();
	ck_assert_int_eq(decide(st, "Errors", &prev, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "file 'errorLog.xyz' of an unknown kind in datadir folder 'errors'; "
	                      "cannot detect changes");
	changes_free(st);
}
END_TEST

START_TEST(myisam_data_directory_symlink)
{
	make_inno_db("d1");
	put_frm("d1", "m", 0x09);
	put("elsewhere.MYD", "");
	char *target = dd("elsewhere.MYD");
	char *link_path = dd("d1/m.MYD");
	ck_assert_int_eq(symlink(target, link_path), 0);
	put("d1/m.MYI", "");
	set_mtime("d1", old);
	write_probe(base_probe);
	char err[512] = "", why[512] = "";
	struct changes_state *st = probe((const char *[]){"d1", "d1", NULL, NULL}, 0, err,
	                                 sizeof(err));
	struct changes_ref prev = good_prev();
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 1);
	changes_free(st);
	/* The target's mtime counts, not the link's. */
	set_mtime("elsewhere.MYD", now - 5);
	st = probe((const char *[]){"d1", "d1", NULL, NULL}, 0, err, sizeof(err));
	ck_assert_int_eq(decide(st, "d1", &prev, why, sizeof(why)), 0);
	ck_assert(strncmp(why, "'m.MYD' modified at ", 20) == 0);
	changes_free(st);
	free(target);
	free(link_path);
}
END_TEST

START_TEST(mismatched_arguments)
{
	struct strv dbs = {0}, folders = {0};
	strv_push(&dbs, "a");
	struct changes_state *st = NULL;
	char err[256] = "", why[256] = "";
	ck_assert_int_eq(changes_probe(mysql, datadir, &dbs, &folders, &st, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "internal: 1 databases but 0 folders");
	struct changes_ref prev = good_prev();
	ck_assert_int_eq(changes_unchanged(st, "a", &prev, NULL, why, sizeof(why)), 0);
	changes_free(st);
	ck_assert_int_eq(changes_unchanged(NULL, "a", &prev, NULL, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "change check did not run");
	changes_free(NULL);
	strv_free(&dbs);
}
END_TEST

/* ---- sidecar text ------------------------------------------------------- */

/* The output lines of the reference script, one per "\n" of text. */
static struct strv lines_of(const char *text)
{
	struct strv v = {0};
	char *copy = xstrdup(text), *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
		strv_push(&v, l);
	free(copy);
	return v;
}

/* changes_ref_only: the reference alone from the script's lines. */
START_TEST(ref_only_from_lines)
{
	const char *sql_text = changes_ref_sql();
	ck_assert_ptr_nonnull(strstr(sql_text, "INNODB_LSN_CURRENT"));
	ck_assert_ptr_nonnull(strstr(sql_text, "INNODB_TRX"));
	ck_assert_ptr_nonnull(strstr(sql_text, "mysql.proc"));
	ck_assert_ptr_nonnull(strstr(sql_text, "mysql.event"));
	ck_assert_ptr_null(strstr(sql_text, "INNODB_BUFFER_PAGE_LRU")); /* a buffer pool scan */
	ck_assert_ptr_null(strstr(sql_text, "SLEEP"));

	int64_t t = 1700000000;
	char err[512] = "", why[512] = "";
	struct changes_state *st = NULL;
	struct changes_ref ref;
	/* No writing transaction: T = R - 1, L = the LSN. */
	struct strv l = lines_of("lsn\t5000\ntrx\t0\tNULL\t1\nproc\t61\t2\t1600000000\n"
	                         "event\t62\t1\t1500000000\n");
	ck_assert_int_eq(changes_ref_only(&l, "", t, &st, err, sizeof(err)), 0);
	ck_assert(changes_usable(st));
	changes_current_ref(st, "a", &ref);
	ck_assert_int_eq(ref.valid, 1);
	ck_assert_int_eq(ref.ref_time, t - 1);
	ck_assert_uint_eq(ref.ref_lsn, 5000);
	ck_assert_int_eq(ref.proc_count, 2);
	ck_assert_int_eq(ref.proc_max, 1600000000);
	ck_assert_int_eq(ref.event_count, 0);
	changes_current_ref(st, "b", &ref);
	ck_assert_int_eq(ref.event_count, 1);
	ck_assert_int_eq(ref.event_max, 1500000000);
	/* No database was checked: never "unchanged". */
	struct changes_ref prev = {.valid = 1, .ref_time = t - 100, .ref_lsn = 1};
	ck_assert_int_eq(changes_unchanged(st, "a", &prev, NULL, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "database was not checked");
	changes_free(st);
	strv_free(&l);

	/* A writing transaction open since before R: T before it, L = 0. */
	l = lines_of("lsn\t5000\ntrx\t1\t1699999000\t1\n");
	ck_assert_int_eq(changes_ref_only(&l, NULL, t, &st, err, sizeof(err)), 0);
	changes_current_ref(st, "a", &ref);
	ck_assert_int_eq(ref.ref_time, 1699999000 - 1);
	ck_assert_uint_eq(ref.ref_lsn, 0);
	changes_free(st);
	strv_free(&l);

	/* Without a reference: stale INNODB_TRX (not tried again), no LSN,
	 * junk, and the statements failing. */
	static const struct {
		const char *lines, *failed, *err;
	} bad[] = {
	        {"lsn\t5000\ntrx\t0\tNULL\t0\n", "", /* returns 1: changes_ref_again */
	         "information_schema.INNODB_TRX was not refreshed (another client reads it more "
	         "often than every 0.1 s)"},
	        {"trx\t0\tNULL\t1\n", "", "mysql: the server reported no InnoDB LSN"},
	        {"lsn\t5000\n", "", "mysql: the server reported no InnoDB transactions"},
	        {"lsn\t5000\ntrx\t0\tNULL\t1\nError\tx\n", "",
	         "mysql: unexpected output line 'error'"},
	        {"lsn\t5000\n",
	         "mysql: ERROR 1227 (42000): Access denied; you need (at least one of) the "
	         "PROCESS privilege(s) for this operation",
	         "needs the PROCESS privilege: mysql: ERROR 1227 (42000): Access denied; you need "
	         "(at least one of) the PROCESS privilege(s) for this operation"},
	        {"", "mysql: no answer within 60 seconds (server_timeout); stopped",
	         "mysql: no answer within 60 seconds (server_timeout); stopped"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = lines_of(bad[i].lines);
		ck_assert_int_eq(changes_ref_only(&l, bad[i].failed, t, &st, err, sizeof(err)),
		                 i == 0 ? 1 : -1);
		ck_assert_str_eq(err, bad[i].err);
		ck_assert(!changes_usable(st));
		changes_current_ref(st, "a", &ref);
		ck_assert_int_eq(ref.valid, 0);
		changes_free(st);
		strv_free(&l);
	}
}
END_TEST

START_TEST(ref_format_parse)
{
	struct changes_ref r = {.valid = 1,
	                        .ref_time = 1795977388,
	                        .ref_lsn = 18446744073709551615u,
	                        .proc_count = 3,
	                        .proc_max = 1795977000,
	                        .event_count = 0,
	                        .event_max = 0};
	char buf[256];
	ck_assert_int_eq(changes_ref_format(&r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "ref_time=1795977388\nref_lsn=18446744073709551615\n"
	                      "proc=3 1795977000\nevent=0 0\n");
	struct changes_ref back;
	ck_assert_int_eq(changes_ref_parse(buf, &back), 0);
	ck_assert_int_eq(back.valid, 1);
	ck_assert_int_eq(back.ref_time, r.ref_time);
	ck_assert_uint_eq(back.ref_lsn, r.ref_lsn);
	ck_assert_int_eq(back.proc_count, 3);
	ck_assert_int_eq(back.proc_max, 1795977000);
	ck_assert_int_eq(back.event_count, 0);
	ck_assert_int_eq(back.event_max, 0);

	/* Too small a buffer. */
	char small[20];
	ck_assert_int_eq(changes_ref_format(&r, small, sizeof(small)), -1);
	ck_assert_str_eq(small, "");

	/* Other keys (e.g. the dump's start) are ignored; no final newline is fine. */
	ck_assert_int_eq(changes_ref_parse("start=1795977390.5\nevent=1 2\nproc=0 0\n"
	                                   "ref_lsn=0\nref_time=5",
	                                   &back),
	                 0);
	ck_assert_int_eq(back.ref_time, 5);
	ck_assert_uint_eq(back.ref_lsn, 0);
	ck_assert_int_eq(back.event_count, 1);
	ck_assert_int_eq(back.event_max, 2);

	static const char *const bad[] = {
	        "2024-05-01 12:00:00.123456", /* upstream's DB.timestamp */
	        "2024-05-01 12:00:00.123456\n",
	        "",
	        "ref_time=1\nref_lsn=2\nproc=0 0\n", /* event missing */
	        "ref_time=1\nref_lsn=2\nproc=0 0\nevent=0 0\nref_time=1\n",
	        "ref_time=-1\nref_lsn=2\nproc=0 0\nevent=0 0\n",
	        "ref_time=1x\nref_lsn=2\nproc=0 0\nevent=0 0\n",
	        "ref_time=\nref_lsn=2\nproc=0 0\nevent=0 0\n",
	        "ref_time=1\nref_lsn=2\nproc=0\nevent=0 0\n",
	        "ref_time=1\nref_lsn=2\nproc=0 0 0\nevent=0 0\n",
	        "ref_time=1\nref_lsn=99999999999999999999\nproc=0 0\nevent=0 0\n",
	        "ref_time=1\nref_lsn=2\nproc=0 0\nevent=0 0\njunk\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		back.valid = 1;
		ck_assert_msg(changes_ref_parse(bad[i], &back) == -1, "accepted: %s", bad[i]);
		ck_assert_int_eq(back.valid, 0);
	}
	ck_assert_int_eq(changes_ref_parse(NULL, &back), -1);

	struct changes_ref none = {0};
	ck_assert_int_eq(changes_ref_format(&none, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* ---- a real MariaDB ----------------------------------------------------- */

static char srv_tmp[64];      /* the server's folder */
static char *srv_mysql;       /* client wrapper for it */
static pid_t srv_helper = -1; /* bash running tests/lib/mariadb.sh */
static int srv_in = -1;       /* the helper's stdin: closing it stops the server */
static const char *srv_skip;  /* why the real-server tests cannot run (they fail) */

static int have_program(const char *name)
{
	char *cmd = xasprintf("PATH=\"$PATH:/usr/sbin:/usr/local/sbin:/sbin\" command -v %s "
	                      ">/dev/null 2>&1",
	                      name);
	int rc = system(cmd);
	free(cmd);
	return rc == 0;
}

/* Start a private server with tests/lib/mariadb.sh in a helper that stops
 * it when its stdin closes (also when this process dies). */
static void server_up(void)
{
	if (!have_program("mariadbd") && !have_program("mysqld")) {
		srv_skip = "mariadbd is not installed";
		return;
	}
	char *lib = t_source_path("tests/lib/mariadb.sh");
	ck_assert_msg(lib != NULL, "tests/lib/mariadb.sh not found");
	snprintf(srv_tmp, sizeof(srv_tmp), "/tmp/check_changes_srv.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(srv_tmp));
	char *script = xasprintf("%s/serve.sh", srv_tmp);
	t_write_file(script,
	             "set -u\n"
	             "source \"$1\"\n"
	             "mdb_init \"$2\" >&2 || exit 1\n"
	             "echo ready\n"
	             "read -r _ || true\n",
	             0644);
	char *dir = xasprintf("%s/srv", srv_tmp);
	int in[2], out[2];
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execlp("bash", "bash", script, lib, dir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	srv_helper = pid;
	srv_in = in[1];
	/* mariadb.sh bounds its own start-up wait; this is the outer bound. */
	struct pollfd pfd = {.fd = out[0], .events = POLLIN};
	char line[16] = "";
	ck_assert_msg(poll(&pfd, 1, 180 * 1000) == 1, "private MariaDB did not start in 180 s");
	ssize_t n = read(out[0], line, sizeof(line) - 1);
	close(out[0]);
	ck_assert_msg(n > 0 && strncmp(line, "ready", 5) == 0,
	              "private MariaDB did not start (see %s/srv/install.log, err.log)", srv_tmp);

	struct passwd *pw = getpwuid(geteuid());
	ck_assert_ptr_nonnull(pw);
	srv_mysql = xasprintf("%s/mysql", srv_tmp);
	char *wrapper = xasprintf("#!/bin/sh\nexec mariadb --no-defaults --socket='%s/sock' "
	                          "--user='%s' \"$@\"\n",
	                          dir, pw->pw_name);
	t_write_file(srv_mysql, wrapper, 0755);
	free(wrapper);
	free(script);
	free(dir);
	free(lib);
}

static void server_down(void)
{
	if (srv_helper > 0) {
		close(srv_in);
		int status;
		/* mdb_stop waits at most 60 s itself. */
		for (int i = 0; i < 900 && waitpid(srv_helper, &status, WNOHANG) == 0; i++)
			usleep(100 * 1000);
		if (waitpid(srv_helper, &status, WNOHANG) == 0) {
			kill(srv_helper, SIGKILL);
			waitpid(srv_helper, &status, 0);
		}
		srv_helper = -1;
	}
	if (srv_tmp[0] != '\0') {
		char *cmd = xasprintf("rm -rf '%s'", srv_tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", srv_tmp);
		free(cmd);
	}
	free(srv_mysql);
	srv_mysql = NULL;
}

/* Run SQL (from a string, through the wrapper, no shell quoting) and fail
 * the test with the client's stderr when it fails. */
static void sql(const char *text)
{
	char *in = xasprintf("%s/q.sql", srv_tmp);
	char *errp = xasprintf("%s/q.err", srv_tmp);
	t_write_file(in, text, 0644);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(in, O_RDONLY);
		int efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int nfd = open("/dev/null", O_WRONLY);
		if (fd < 0 || efd < 0 || nfd < 0)
			_exit(126);
		dup2(fd, 0);
		dup2(nfd, 1);
		dup2(efd, 2);
		execl(srv_mysql, srv_mysql, "--default-character-set=utf8mb4", (char *)NULL);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	char *e = t_read_file(errp);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SQL failed: %s\n%s", e, text);
	free(e);
	free(in);
	free(errp);
}

/* One value from the server. */
static char *sql_value(const char *query)
{
	struct strv lines = {0};
	char err[512] = "";
	ck_assert_msg(server_query(srv_mysql, query, &lines, err, sizeof(err)) == 0, "%s: %s",
	              query, err);
	ck_assert_uint_ge(lines.n, 1);
	char *v = xstrdup(lines.v[0]);
	strv_free(&lines);
	return v;
}

/* Start the client on SQL `text` in the background; returns its pid. */
static pid_t bg_sql(const char *text)
{
	static int seq;
	char *in = xasprintf("%s/bg%d.sql", srv_tmp, ++seq);
	t_write_file(in, text, 0644);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(in, O_RDONLY);
		int nfd = open("/dev/null", O_WRONLY);
		if (fd < 0 || nfd < 0)
			_exit(126);
		dup2(fd, 0);
		dup2(nfd, 1);
		execl(srv_mysql, srv_mysql, (char *)NULL);
		_exit(127);
	}
	free(in);
	return pid;
}

/* Wait (at most 30 s) for a background client to finish successfully. */
static void reap(pid_t pid)
{
	int status = 0;
	for (int i = 0; i < 300 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_abort_msg("background client did not finish in 30 s");
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "background client failed");
}

/* Wait (at most 10 s) until a session runs a statement starting with
 * `stmt` (PROCESSLIST is live, unlike INNODB_TRX). */
static void wait_for_sleeper(const char *stmt)
{
	char *q = xasprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
	                    "WHERE INFO LIKE '%s%%'",
	                    stmt);
	int seen = 0;
	for (int i = 0; i < 200 && !seen; i++) {
		char *n = sql_value(q);
		seen = strcmp(n, "0") != 0;
		free(n);
		if (!seen)
			usleep(50 * 1000);
	}
	free(q);
	ck_assert_msg(seen, "no session ran '%s' within 10 s", stmt);
}

static const char *const real_dbs[] = {"inno", "still", "aria", "routines", "trx", NULL};

/* Probe the real server for the databases above. */
static struct changes_state *real_probe(const struct server_facts *f)
{
	struct strv dbs = {0}, folders = {0};
	for (size_t i = 0; real_dbs[i] != NULL; i++) {
		strv_push(&dbs, real_dbs[i]);
		const char *folder = server_folder(f, real_dbs[i]);
		ck_assert_ptr_nonnull(folder);
		strv_push(&folders, folder);
	}
	struct changes_state *st = NULL;
	char err[512] = "";
	int rc = changes_probe(srv_mysql, f->datadir, &dbs, &folders, &st, err, sizeof(err));
	ck_assert_msg(rc == 0, "probe: %s", err);
	strv_free(&dbs);
	strv_free(&folders);
	return st;
}

static int64_t file_mtime(const char *datadir_path, const char *rel)
{
	char *p = xasprintf("%s/%s", datadir_path, rel);
	struct stat st;
	ck_assert_msg(stat(p, &st) == 0, "stat %s: %s", p, strerror(errno));
	free(p);
	return (int64_t)st.st_mtim.tv_sec;
}

START_TEST(real_server)
{
	if (srv_skip != NULL) {
		ck_abort_msg("real_server cannot run: %s (install it: scripts/install-deps.sh)",
		             srv_skip);
	}
	sql("CREATE DATABASE inno; CREATE TABLE inno.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;\n"
	    "INSERT INTO inno.t VALUES (1, 1), (2, 2), (3, 3);\n"
	    "CREATE DATABASE still; CREATE TABLE still.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;\n"
	    "INSERT INTO still.t VALUES (1, 1);\n"
	    "CREATE VIEW still.v AS SELECT id FROM still.t;\n"
	    "CREATE DATABASE aria; CREATE TABLE aria.a (id INT PRIMARY KEY, v INT) ENGINE=Aria;\n"
	    "INSERT INTO aria.a VALUES (1, 1);\n"
	    "CREATE DATABASE routines; CREATE TABLE routines.t (id INT) ENGINE=InnoDB;\n"
	    "CREATE DATABASE trx; CREATE TABLE trx.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;\n"
	    "INSERT INTO trx.t VALUES (1, 1);\n"
	    "CREATE DATABASE `d-e-m-o-2`; CREATE DATABASE `\xc3\xbcn\xc3\xaf`;\n"
	    "CREATE DATABASE `con`; CREATE DATABASE `sl/ash`;\n"
	    /* Start from a clean state: every page written, every Aria block flushed. */
	    "FLUSH TABLES inno.t, still.t, routines.t, trx.t FOR EXPORT; UNLOCK TABLES;\n"
	    "FLUSH TABLES;\n");

	/* The folder mapping, as the server makes it. */
	struct server_facts f;
	char err[512] = "", why[512] = "";
	ck_assert_msg(server_get_facts(srv_mysql, &f, err, sizeof(err)) == 0, "%s", err);
	static const char *const mapping[][2] = {
	        {"d-e-m-o-2", "d@002de@002dm@002do@002d2"},
	        {"\xc3\xbcn\xc3\xaf", "@1on@0v"},
	        {"con", "con@@@"},
	        {"sl/ash", "sl@002fash"},
	        {"inno", "inno"},
	};
	for (size_t i = 0; i < sizeof(mapping) / sizeof(mapping[0]); i++) {
		const char *folder = server_folder(&f, mapping[i][0]);
		ck_assert_msg(folder != NULL, "no database '%s'", mapping[i][0]);
		ck_assert_str_eq(folder, mapping[i][1]);
		char *p = xasprintf("%s/%s", f.datadir, folder);
		struct stat st;
		ck_assert_msg(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "no folder %s", p);
		free(p);
	}
	/* Sorted by name like SHOW DATABASES. */
	struct strv shown = {0};
	ck_assert_int_eq(server_query(srv_mysql, "SHOW DATABASES", &shown, err, sizeof(err)), 0);
	size_t k = 0;
	for (size_t i = 0; i < shown.n; i++) {
		if (server_is_system_db(shown.v[i]))
			continue;
		ck_assert_uint_lt(k, f.databases.n);
		ck_assert_str_eq(f.databases.v[k], shown.v[i]);
		k++;
	}
	ck_assert_uint_eq(k, f.databases.n);
	strv_free(&shown);

	/* Per-folder sizes in the same pass as the total. */
	struct strv sel = {0};
	strv_push(&sel, server_folder(&f, "inno"));
	strv_push(&sel, server_folder(&f, "sl/ash"));
	uint64_t total = 0, bytes[2] = {0, 0};
	ck_assert_int_eq(server_datadir_usage(f.datadir, &sel, &total, bytes, err, sizeof(err)), 0);
	ck_assert_uint_gt(bytes[0], 65536);
	ck_assert_uint_gt(bytes[1], 0);
	ck_assert_uint_lt(bytes[0] + bytes[1], total);
	strv_free(&sel);

	/* Let the set-up's mtimes fall behind the first reference. */
	sleep(2);
	struct changes_state *st1 = real_probe(&f);
	struct changes_ref ref[5];
	for (size_t i = 0; real_dbs[i] != NULL; i++)
		changes_current_ref(st1, real_dbs[i], &ref[i]);
	ck_assert_int_eq(ref[0].valid, 1);
	ck_assert_uint_gt(ref[0].ref_lsn, 0);
	changes_free(st1);

	/* An untouched server: everything may be reused. */
	struct changes_state *st = real_probe(&f);
	for (size_t i = 0; real_dbs[i] != NULL; i++)
		ck_assert_msg(changes_unchanged(st, real_dbs[i], &ref[i], NULL, why, sizeof(why)) ==
		                      1,
		              "%s: %s", real_dbs[i], why);
	changes_free(st);

	/* Commit changes and check at once (no sleep): upstream's mtime test
	 * misses the InnoDB and Aria ones. */
	int64_t before = (int64_t)time(NULL);
	sql("UPDATE inno.t SET v = v + 1 WHERE id = 2;\n"
	    "UPDATE aria.a SET v = v + 1 WHERE id = 1;\n"
	    "CREATE PROCEDURE routines.p() SELECT 1;\n");
	char *ibd = xasprintf("%s/t.ibd", server_folder(&f, "inno"));
	int64_t ibd_mtime = file_mtime(f.datadir, ibd);
	if (ibd_mtime < ref[0].ref_time)
		fprintf(stderr, "real_server: inno/t.ibd mtime still before the reference after a "
		                "committed UPDATE (the stale-reuse case)\n");
	st = real_probe(&f);
	int64_t last = 0;
	ck_assert_int_eq(changes_unchanged(st, "inno", &ref[0], &last, why, sizeof(why)), 0);
	ck_assert_msg(strcmp(why, "unwritten InnoDB changes in 't.ibd'") == 0 ||
	                      strncmp(why, "'t.ibd' modified at ", 20) == 0,
	              "inno: %s", why);
	ck_assert_int_eq(changes_unchanged(st, "still", &ref[1], &last, why, sizeof(why)), 1);
	ck_assert_str_eq(why, "no change since previous dump");
	ck_assert_int_lt(last, before);
	ck_assert_int_eq(changes_unchanged(st, "aria", &ref[2], NULL, why, sizeof(why)), 0);
	ck_assert_msg(strncmp(why, "unwritten Aria pages on server", 30) == 0 ||
	                      strstr(why, "modified at") != NULL,
	              "aria: %s", why);
	ck_assert_int_eq(changes_unchanged(st, "routines", &ref[3], NULL, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "stored routines changed");
	ck_assert_int_eq(changes_unchanged(st, "trx", &ref[4], NULL, why, sizeof(why)), 1);
	struct changes_ref cur;
	changes_current_ref(st, "routines", &cur);
	ck_assert_int_eq(cur.proc_count, 1);
	ck_assert_int_ge(cur.proc_max, before - 1);
	changes_free(st);
	free(ibd);

	/* A transaction that wrote before the run started and commits after it
	 * (after the dump's snapshot): this run's reference goes back to its
	 * start with no LSN, so the next run sees the change. */
	int64_t trx_start = (int64_t)time(NULL);
	pid_t writer = bg_sql("BEGIN; UPDATE trx.t SET v = v + 1 WHERE id = 1; SELECT SLEEP(6); "
	                      "COMMIT;\n");
	wait_for_sleeper("SELECT SLEEP(6)");
	sleep(1);
	int64_t probe_start = (int64_t)time(NULL);
	st = real_probe(&f);
	struct changes_ref during;
	changes_current_ref(st, "trx", &during);
	ck_assert_int_eq(during.valid, 1);
	ck_assert_uint_eq(during.ref_lsn, 0);
	/* trx_started - 1, not probe_start - 1 */
	ck_assert_int_le(during.ref_time, probe_start - 2);
	ck_assert_int_ge(during.ref_time, trx_start - 1);
	changes_free(st);
	reap(writer);
	char *v = sql_value("SELECT v FROM trx.t WHERE id = 1");
	ck_assert_str_eq(v, "2");
	free(v);
	st = real_probe(&f);
	ck_assert_int_eq(changes_unchanged(st, "trx", &during, NULL, why, sizeof(why)), 0);
	ck_assert_msg(strcmp(why, "unwritten InnoDB changes in 't.ibd'") == 0 ||
	                      strncmp(why, "'t.ibd' modified at ", 20) == 0,
	              "trx: %s", why);
	changes_free(st);

	server_facts_free(&f);
}
END_TEST

START_TEST(real_server_stale_innodb_trx)
{
	if (srv_skip != NULL) {
		ck_abort_msg(
		        "real_server_stale_innodb_trx cannot run: %s (install it: scripts/install-deps.sh)",
		        srv_skip);
	}
	/* A client reading INNODB_TRX every ~20 ms keeps the server's cache of
	 * it from refreshing, so a transaction that starts writing meanwhile is
	 * not listed.  The probe notices (its own transaction is missing). */
	sql("CREATE DATABASE IF NOT EXISTS poller;\n"
	    "CREATE TABLE IF NOT EXISTS poller.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;\n"
	    "INSERT IGNORE INTO poller.t VALUES (1, 1);\n"
	    "DELIMITER //\n"
	    "CREATE PROCEDURE poller.spin(n INT) BEGIN DECLARE i INT DEFAULT 0; WHILE i < n DO "
	    "SELECT COUNT(*) INTO @x FROM information_schema.INNODB_TRX; DO SLEEP(0.02); "
	    "SET i = i + 1; END WHILE; END//\n"
	    "DELIMITER ;\n");
	pid_t poller = bg_sql("CALL poller.spin(200);\n");
	wait_for_sleeper("DO SLEEP(0.02)");
	pid_t writer = bg_sql("BEGIN; UPDATE poller.t SET v = v + 1 WHERE id = 1; "
	                      "SELECT SLEEP(3); COMMIT;\n");
	wait_for_sleeper("SELECT SLEEP(3)");

	struct server_facts f;
	char err[512] = "", why[512] = "";
	ck_assert_msg(server_get_facts(srv_mysql, &f, err, sizeof(err)) == 0, "%s", err);
	struct strv dbs = {0}, folders = {0};
	strv_push(&dbs, "poller");
	strv_push(&folders, server_folder(&f, "poller"));
	struct changes_state *st = NULL;
	ck_assert_int_eq(changes_probe(srv_mysql, f.datadir, &dbs, &folders, &st, err, sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "information_schema.INNODB_TRX was not refreshed (another client "
	                      "reads it more often than every 0.1 s)");
	struct changes_ref cur;
	changes_current_ref(st, "poller", &cur);
	ck_assert_int_eq(cur.valid, 0);
	struct changes_ref prev = {.valid = 1, .ref_time = 1, .ref_lsn = 1};
	ck_assert_int_eq(changes_unchanged(st, "poller", &prev, NULL, why, sizeof(why)), 0);
	changes_free(st);
	/* The reference alone (without skip_unchanged_dbs): stale, and stale
	 * again after the pause while the poller runs. */
	struct server_facts f2;
	struct server_more more = {.sql = changes_ref_sql()};
	ck_assert_msg(server_get_facts_more(srv_mysql, &f2, &more, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert_int_eq(changes_ref_only(&more.lines, more.err, (int64_t)time(NULL), &st, err,
	                                  sizeof(err)),
	                 1);
	ck_assert_int_eq(changes_ref_again(st, srv_mysql, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "information_schema.INNODB_TRX was not refreshed (another client "
	                      "reads it more often than every 0.1 s)");
	changes_current_ref(st, "poller", &cur);
	ck_assert_int_eq(cur.valid, 0);
	strv_free(&more.lines);
	server_facts_free(&f2);
	reap(writer);
	reap(poller);
	/* Once nobody polls, trying again works. */
	usleep(200 * 1000);
	ck_assert_msg(changes_ref_again(st, srv_mysql, err, sizeof(err)) == 0, "%s", err);
	changes_current_ref(st, "poller", &cur);
	ck_assert_int_eq(cur.valid, 1);
	changes_free(st);

	/* Once nobody polls, the same probe works. */
	usleep(200 * 1000);
	ck_assert_msg(changes_probe(srv_mysql, f.datadir, &dbs, &folders, &st, err, sizeof(err)) ==
	                      0,
	              "%s", err);
	changes_free(st);
	strv_free(&dbs);
	strv_free(&folders);
	server_facts_free(&f);
}
END_TEST

/* Without skip_unchanged_dbs: the reference alone, asked by the facts
 * query's client, is what a full probe would store. */
START_TEST(real_server_reference_with_facts)
{
	if (srv_skip != NULL) {
		ck_abort_msg("real_server_reference_with_facts cannot run: %s (install it: "
		             "scripts/install-deps.sh)",
		             srv_skip);
	}
	sql("CREATE DATABASE IF NOT EXISTS refonly;\n"
	    "CREATE PROCEDURE IF NOT EXISTS refonly.p() SELECT 1;\n");
	/* INNODB_TRX is refreshed only 0.1 s after its last reader (the
	 * previous test's probe); the reference alone does not try twice. */
	usleep(200 * 1000);
	struct server_facts f;
	struct server_more more = {.sql = changes_ref_sql()};
	char err[512] = "";
	int64_t asked = (int64_t)time(NULL);
	ck_assert_msg(server_get_facts_more(srv_mysql, &f, &more, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert_str_eq(more.err, "");
	ck_assert_ptr_nonnull(server_folder(&f, "refonly"));
	struct changes_state *st = NULL;
	ck_assert_msg(changes_ref_only(&more.lines, more.err, asked, &st, err, sizeof(err)) == 0,
	              "%s", err);
	struct changes_ref ref, full;
	changes_current_ref(st, "refonly", &ref);
	ck_assert_int_eq(ref.valid, 1);
	ck_assert_int_eq(ref.ref_time, asked - 1);
	ck_assert_uint_gt(ref.ref_lsn, 0);
	ck_assert_int_eq(ref.proc_count, 1);
	changes_free(st);
	strv_free(&more.lines);

	/* The full probe, a moment later, agrees on all but the moment. */
	struct strv dbs = {0}, folders = {0};
	strv_push(&dbs, "refonly");
	strv_push(&folders, server_folder(&f, "refonly"));
	ck_assert_msg(changes_probe(srv_mysql, f.datadir, &dbs, &folders, &st, err, sizeof(err)) ==
	                      0,
	              "%s", err);
	changes_current_ref(st, "refonly", &full);
	ck_assert_int_ge(full.ref_time, ref.ref_time);
	ck_assert_uint_ge(full.ref_lsn, ref.ref_lsn);
	ck_assert_int_eq(full.proc_count, ref.proc_count);
	ck_assert_int_eq(full.proc_max, ref.proc_max);
	ck_assert_int_eq(full.event_count, ref.event_count);
	changes_free(st);
	strv_free(&dbs);
	strv_free(&folders);
	server_facts_free(&f);
}
END_TEST

START_TEST(real_server_without_process_privilege)
{
	if (srv_skip != NULL) {
		ck_abort_msg(
		        "real_server_without_process_privilege cannot run: %s (install it: scripts/install-deps.sh)",
		        srv_skip);
	}
	sql("CREATE DATABASE IF NOT EXISTS np;\n"
	    "CREATE USER IF NOT EXISTS 'oma_np'@'localhost' IDENTIFIED BY 'pw';\n"
	    "GRANT SELECT ON *.* TO 'oma_np'@'localhost';\n");
	char *wrapper = xasprintf("%s/mysql-np", srv_tmp);
	char *text = xasprintf("#!/bin/sh\nexec mariadb --no-defaults --socket='%s/srv/sock' "
	                       "--user=oma_np --password=pw \"$@\"\n",
	                       srv_tmp);
	t_write_file(wrapper, text, 0755);
	struct server_facts f;
	char err[512] = "", why[512] = "";
	ck_assert_msg(server_get_facts(srv_mysql, &f, err, sizeof(err)) == 0, "%s", err);
	struct strv dbs = {0}, folders = {0};
	strv_push(&dbs, "np");
	strv_push(&folders, server_folder(&f, "np"));
	struct changes_state *st = NULL;
	ck_assert_int_eq(changes_probe(wrapper, f.datadir, &dbs, &folders, &st, err, sizeof(err)),
	                 -1);
	ck_assert_msg(strncmp(err, "needs the PROCESS privilege: mysql: ERROR 1227", 46) == 0, "%s",
	              err);
	struct changes_ref prev = {.valid = 1, .ref_time = 1, .ref_lsn = 1};
	ck_assert_int_eq(changes_unchanged(st, "np", &prev, NULL, why, sizeof(why)), 0);
	ck_assert(strncmp(why, "cannot check for unwritten changes: needs the PROCESS", 53) == 0);
	changes_free(st);
	/* The facts still come with the reference statements after them; the
	 * reference does not. */
	server_facts_free(&f);
	struct server_more more = {.sql = changes_ref_sql()};
	ck_assert_msg(server_get_facts_more(wrapper, &f, &more, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(server_folder(&f, "np"));
	ck_assert_int_eq(changes_ref_only(&more.lines, more.err, 1, &st, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "needs the PROCESS privilege: mysql: ERROR 1227", 46) == 0, "%s",
	              err);
	changes_free(st);
	strv_free(&more.lines);
	strv_free(&dbs);
	strv_free(&folders);
	server_facts_free(&f);
	free(wrapper);
	free(text);
}
END_TEST

static Suite *changes_suite(void)
{
	Suite *s = suite_create("changes");
	TCase *fk = tcase_create("fake");
	tcase_add_checked_fixture(fk, setup, teardown);
	tcase_set_timeout(fk, 60);
	tcase_add_test(fk, unchanged_when_nothing_moved);
	tcase_add_test(fk, newer_file_or_folder_means_changed);
	tcase_add_test(fk, tables_that_cannot_be_vouched_for);
	tcase_add_test(fk, missing_folder_and_datadir);
	tcase_add_test(fk, dirty_innodb_pages);
	tcase_add_test(fk, aria_unflushed);
	tcase_add_test(fk, routines_and_events);
	tcase_add_test(fk, open_transaction_moves_reference_back);
	tcase_add_test(fk, clock_backwards);
	tcase_add_test(fk, probe_failure_means_dump_everything);
	tcase_add_test(fk, stale_innodb_trx_is_retried);
	tcase_add_test(fk, reasons_never_say_Error);
	tcase_add_test(fk, myisam_data_directory_symlink);
	tcase_add_test(fk, mismatched_arguments);
	suite_add_tcase(s, fk);

	TCase *ref = tcase_create("ref");
	tcase_add_test(ref, ref_format_parse);
	tcase_add_test(ref, ref_only_from_lines);
	suite_add_tcase(s, ref);

	TCase *real = tcase_create("real");
	tcase_add_unchecked_fixture(real, server_up, server_down);
	tcase_set_timeout(real, 240);
	tcase_add_test(real, real_server);
	tcase_add_test(real, real_server_stale_innodb_trx);
	tcase_add_test(real, real_server_reference_with_facts);
	tcase_add_test(real, real_server_without_process_privilege);
	suite_add_tcase(s, real);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(changes_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
