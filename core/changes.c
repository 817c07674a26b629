/* changes.c - has a database changed since its previous dump? (skip_unchanged_dbs) */

/*
 * The method, for MariaDB 10.11 (why: docs/BEHAVIOUR.md "Change detection and reuse")
 * -----------------------------------------------------------------------------------
 * File mtimes alone are not enough: InnoDB and Aria keep committed changes
 * in memory (an idle server may never write them), and a transaction that
 * wrote a page before a dump started but committed after it leaves no later
 * trace in the table's files.  So each run, before the first dump:
 *
 *  1. R = our own clock (epoch).
 *  2. One mysql_bin process runs a fixed script: the InnoDB LSN (first),
 *     the start of the oldest open transaction that has modified rows (read
 *     inside a transaction of its own, to know the list is fresh), the
 *     tablespaces with dirty pages (max NEWEST_MODIFICATION per SPACE) and
 *     their files, the count of unflushed Aria blocks, and count/newest
 *     `modified` of mysql.proc and mysql.event per database.
 *  3. After that, one pass over the selected databases' datadir folders:
 *     newest mtime of the folder and every entry, and whether every table
 *     is of a kind whose changes reach those files (.frm engine byte).
 *
 * Each dump made in the run stores the reference T = min(R, oldest writing
 * transaction's start) - 1 s, L = the LSN (0 when such a transaction was
 * open), and the database's proc/event count and newest time.
 *
 * A later run reuses the previous dump of X only if: the check worked,
 * clocks and LSN did not go backwards, every table of X can be vouched for,
 * nothing in X's folder (nor the folder) has mtime >= T, no dirty InnoDB page
 * of X has LSN >= L (any, when L = 0), no Aria block is unflushed when X has
 * Aria tables, and its routines/events have the same count and newest time
 * (older than T).
 *
 * Invariant: a change C to X committed before this run and missing from the
 * previous dump was made after that dump's T (its transaction either wrote
 * after R, or was open and writing at R, so started at or after T), with
 * redo LSN >= L (or L = 0).  At this run's query its page is either still
 * dirty (seen with NEWEST_MODIFICATION >= L) or already written, at a time
 * >= T, before the scan that follows the query (seen by mtime).  MyISAM and
 * CSV write at statement end; Aria is covered by the unflushed count read
 * before the scan; routines and events by mysql.proc/event; DDL and drops
 * by .frm/.TRG/db.opt files and the folder's own mtime.  Anything the
 * method cannot vouch for (no PROCESS privilege, MEMORY/MERGE/unknown
 * engines, InnoDB without its own .ibd, unknown files, sub-folders) means
 * "dump".
 */
#include "changes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

/* The per-run script, in two parts around the optional wait (see
 * run_query).  The LSN is read first, dirty pages and Aria before the
 * datadir scan; the correctness argument above depends on that order.
 *
 * INNODB_TRX is served from a cache that the server refreshes only when
 * nobody read it in the last 0.1 s, so a client polling it keeps it stale
 * for everyone.  The script therefore opens a (read-only) transaction of its
 * own first: when that shows in INNODB_TRX, the list is newer than this
 * run's start.  No --force: any failing statement fails the whole check. */
static const char probe_head[] =
	"SET SESSION time_zone = '+00:00';\n"
	"SELECT 'lsn', VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
	"WHERE VARIABLE_NAME = 'INNODB_LSN_CURRENT';\n"
	"START TRANSACTION WITH CONSISTENT SNAPSHOT;\n";
static const char probe_wait[] = "DO SLEEP(0.2);\n";
static const char probe_tail[] =
	"SELECT 'trx', SUM(trx_rows_modified > 0), "
	"UNIX_TIMESTAMP(MIN(IF(trx_rows_modified > 0, trx_started, NULL))), "
	"SUM(trx_mysql_thread_id = CONNECTION_ID()) FROM information_schema.INNODB_TRX;\n"
	"COMMIT;\n"
	"SELECT 'dirty', SPACE, MAX(NEWEST_MODIFICATION) "
	"FROM information_schema.INNODB_BUFFER_PAGE_LRU "
	"WHERE OLDEST_MODIFICATION > 0 GROUP BY SPACE;\n"
	"SELECT 'space', SPACE, FILENAME FROM information_schema.INNODB_SYS_TABLESPACES "
	"WHERE SPACE IN (SELECT SPACE FROM information_schema.INNODB_BUFFER_PAGE_LRU "
	"WHERE OLDEST_MODIFICATION > 0);\n"
	"SELECT 'aria', VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
	"WHERE VARIABLE_NAME = 'ARIA_PAGECACHE_BLOCKS_NOT_FLUSHED';\n"
	"SELECT 'proc', HEX(db), COUNT(*), UNIX_TIMESTAMP(MAX(modified)) "
	"FROM mysql.proc GROUP BY db;\n"
	"SELECT 'event', HEX(db), COUNT(*), UNIX_TIMESTAMP(MAX(modified)) "
	"FROM mysql.event GROUP BY db;\n";

/* Legacy storage engine codes in byte 3 of a table's .frm. */
enum {
	FRM_HEAP = 0x06,
	FRM_MYISAM = 0x09,
	FRM_MERGE = 0x0a,
	FRM_INNODB = 0x0c,
	FRM_CSV = 0x11,
	FRM_PARTITION = 0x14,
	FRM_ARIA = 0x2a,
};

/* What the run learned about one selected database. */
struct db_check {
	char *name;
	char *folder;
	int found;            /* the folder exists */
	char *cannot;         /* why changes cannot be detected, or NULL */
	int64_t mtime_sec;    /* newest mtime in the folder (folder included) */
	long mtime_nsec;
	char *mtime_file;     /* the entry it came from; "" for the folder itself */
	int has_aria;
	int dirty;            /* InnoDB pages of its tablespaces are dirty */
	uint64_t dirty_lsn;   /* their newest modification */
	char *dirty_file;
};

/* Count and newest `modified` of one database's routines or events. */
struct routines {
	char *db;
	long count;
	int64_t max;
};

struct changes_state {
	int usable;
	char reason[512];
	int64_t now;          /* R: epoch seconds at the start of the probe */
	uint64_t lsn;
	long trx_count;
	int64_t trx_min;
	uint64_t aria;
	int64_t ref_time;
	uint64_t ref_lsn;
	struct db_check *dbs; /* sorted by name */
	size_t ndbs;
	struct routines *procs, *events; /* sorted by db */
	size_t nprocs, nevents;
};

/* ---- small helpers ------------------------------------------------------ */

/* Replace every "Error" in s by "error": reasons end up in the log, where a
 * successful run must not show that word. */
static void scrub(char *s)
{
	char *p = s;
	while ((p = strstr(p, "Error")) != NULL)
		*p = 'e';
}

static int parse_u64(const char *s, uint64_t *v)
{
	if (*s < '0' || *s > '9')
		return -1;
	uint64_t x = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (*s != '\0')
		return -1;
	*v = x;
	return 0;
}

static int parse_i64(const char *s, int64_t *v)
{
	uint64_t u;
	if (parse_u64(s, &u) != 0 || u > INT64_MAX)
		return -1;
	*v = (int64_t)u;
	return 0;
}

/* A server timestamp: NULL -> 0, "123" or "123.456" -> 123 (whole seconds,
 * rounded down). */
static int parse_stamp(const char *s, int64_t *v)
{
	if (strcmp(s, "NULL") == 0) {
		*v = 0;
		return 0;
	}
	const char *dot = strchr(s, '.');
	if (dot == NULL)
		return parse_i64(s, v);
	char *whole = xstrndup(s, (size_t)(dot - s));
	uint64_t frac;
	int rc = parse_i64(whole, v);
	if (rc == 0 && parse_u64(dot + 1, &frac) != 0)
		rc = -1;
	free(whole);
	return rc;
}

static int parse_long(const char *s, long *v)
{
	int64_t x;
	if (parse_i64(s, &x) != 0 || x > LONG_MAX)
		return -1;
	*v = (long)x;
	return 0;
}

static void format_utc(int64_t sec, char *out, size_t outlen)
{
	struct tm tm;
	time_t t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		errf(out, outlen, "%" PRId64, sec);
}

static int cmp_check(const void *a, const void *b)
{
	return strcmp(((const struct db_check *)a)->name, ((const struct db_check *)b)->name);
}

static int cmp_routines(const void *a, const void *b)
{
	return strcmp(((const struct routines *)a)->db, ((const struct routines *)b)->db);
}

static struct db_check *find_check(const struct changes_state *st, const char *db)
{
	if (st->ndbs == 0)
		return NULL;
	struct db_check key = {.name = (char *)db};
	return bsearch(&key, st->dbs, st->ndbs, sizeof(*st->dbs), cmp_check);
}

static const struct routines *find_routines(const struct routines *v, size_t n, const char *db)
{
	if (n == 0)
		return NULL;
	struct routines key = {.db = (char *)db};
	return bsearch(&key, v, n, sizeof(*v), cmp_routines);
}

/* ---- the probe query ---------------------------------------------------- */

struct space_file {
	uint64_t space;
	char *file;
};

struct dirty_space {
	uint64_t space;
	uint64_t lsn;
};

static int cmp_space_file(const void *a, const void *b)
{
	uint64_t x = ((const struct space_file *)a)->space, y = ((const struct space_file *)b)->space;
	return x < y ? -1 : x > y;
}

/* Index of the probed databases by folder (several names may share one
 * folder only in theory; each gets the marks). */
struct folder_ref {
	const char *folder;
	struct db_check *check;
};

static int cmp_folder_ref(const void *a, const void *b)
{
	return strcmp(((const struct folder_ref *)a)->folder, ((const struct folder_ref *)b)->folder);
}

/* The datadir-relative path of an InnoDB tablespace file: "./d/t.ibd" and
 * "<datadir>/d/t.ibd" give "d/t.ibd"; NULL for files elsewhere. */
static const char *datadir_relative(const char *file, const char *datadir)
{
	if (strncmp(file, "./", 2) == 0)
		return file + 2;
	size_t n = datadir != NULL ? strlen(datadir) : 0;
	if (n > 0 && strncmp(file, datadir, n) == 0 && file[n] == '/')
		return file + n + 1;
	return NULL;
}

/* Mark the databases whose folders hold dirty tablespaces. */
static void map_dirty(struct changes_state *st, const char *datadir, struct dirty_space *dirty,
                      size_t ndirty, struct space_file *spaces, size_t nspaces)
{
	if (ndirty == 0 || st->ndbs == 0)
		return;
	struct folder_ref *idx = xcalloc(st->ndbs, sizeof(*idx));
	for (size_t i = 0; i < st->ndbs; i++)
		idx[i] = (struct folder_ref){st->dbs[i].folder, &st->dbs[i]};
	qsort(idx, st->ndbs, sizeof(*idx), cmp_folder_ref);
	if (nspaces > 0)
		qsort(spaces, nspaces, sizeof(*spaces), cmp_space_file);

	for (size_t i = 0; i < ndirty; i++) {
		struct space_file key = {.space = dirty[i].space};
		const struct space_file *sf =
			nspaces > 0 ? bsearch(&key, spaces, nspaces, sizeof(*spaces), cmp_space_file)
			            : NULL;
		/* Not listed any more: written meanwhile, so its mtime shows it. */
		if (sf == NULL)
			continue;
		const char *rel = datadir_relative(sf->file, datadir);
		const char *slash = rel != NULL ? strchr(rel, '/') : NULL;
		if (slash == NULL)
			continue; /* ibdata1, undo, ibtmp1: no database's own file */
		char *folder = xstrndup(rel, (size_t)(slash - rel));
		struct folder_ref fkey = {folder, NULL};
		struct folder_ref *hit = bsearch(&fkey, idx, st->ndbs, sizeof(*idx), cmp_folder_ref);
		/* Several databases with one folder: visit every one of them. */
		while (hit != NULL && hit > idx && strcmp(hit[-1].folder, folder) == 0)
			hit--;
		for (; hit != NULL && hit < idx + st->ndbs && strcmp(hit->folder, folder) == 0; hit++) {
			struct db_check *c = hit->check;
			if (!c->dirty || dirty[i].lsn > c->dirty_lsn) {
				free(c->dirty_file);
				c->dirty_file = xstrdup(slash + 1);
				c->dirty_lsn = dirty[i].lsn;
			}
			c->dirty = 1;
		}
		free(folder);
	}
	free(idx);
}

/* Add a proc/event row (hex db, count, newest) to *v.  Returns 0 or -1. */
static int add_routines(struct routines **v, size_t *n, char *const *fld)
{
	struct routines r = {0};
	r.db = hex_decode(fld[1]);
	if (r.db == NULL || parse_long(fld[2], &r.count) != 0 || parse_stamp(fld[3], &r.max) != 0) {
		free(r.db);
		return -1;
	}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = r;
	return 0;
}

/* Forget what a previous attempt of run_query stored in st. */
static void reset_query(struct changes_state *st)
{
	for (size_t i = 0; i < st->nprocs; i++)
		free(st->procs[i].db);
	for (size_t i = 0; i < st->nevents; i++)
		free(st->events[i].db);
	free(st->procs);
	free(st->events);
	st->procs = st->events = NULL;
	st->nprocs = st->nevents = 0;
	st->lsn = st->aria = 0;
	st->trx_count = 0;
	st->trx_min = 0;
}

/* Run the script (with `wait`: after a pause that lets INNODB_TRX refresh)
 * and fill st's server facts.  Returns 0, 1 when INNODB_TRX was stale, or
 * -1 with st->reason set. */
static int run_query(struct changes_state *st, const char *mysql_bin, const char *datadir,
                     int wait)
{
	struct strv lines = {0};
	struct space_file *spaces = NULL;
	struct dirty_space *dirty = NULL;
	size_t nspaces = 0, ndirty = 0;
	int have_lsn = 0, have_trx = 0;
	long self = 0;
	int rc = -1;
	char err[400];
	char *script = xasprintf("%s%s%s", probe_head, wait ? probe_wait : "", probe_tail);

	reset_query(st);
	if (server_query(mysql_bin, script, &lines, err, sizeof(err)) != 0) {
		if (strstr(err, "PROCESS") != NULL || strstr(err, "1227") != NULL)
			errf(st->reason, sizeof(st->reason), "needs the PROCESS privilege: %s", err);
		else
			errf(st->reason, sizeof(st->reason), "%s", err);
		goto out;
	}
	for (size_t i = 0; i < lines.n; i++) {
		char *fld[5];
		size_t nf = split_tabs(lines.v[i], fld, 5);
		int bad = 0;
		if (nf == 2 && strcmp(fld[0], "lsn") == 0) {
			bad = parse_u64(fld[1], &st->lsn);
			have_lsn = 1;
		} else if (nf == 4 && strcmp(fld[0], "trx") == 0) {
			/* SUM() of no rows is NULL; parse_stamp reads it as 0. */
			int64_t count = 0, me = 0;
			bad = parse_stamp(fld[1], &count) != 0 || parse_stamp(fld[2], &st->trx_min) != 0 ||
			      parse_stamp(fld[3], &me) != 0 || count > LONG_MAX || me > LONG_MAX;
			st->trx_count = (long)count;
			self = (long)me;
			have_trx = 1;
		} else if (nf == 3 && strcmp(fld[0], "dirty") == 0) {
			struct dirty_space d;
			bad = parse_u64(fld[1], &d.space) != 0 || parse_u64(fld[2], &d.lsn) != 0;
			if (!bad) {
				dirty = xrealloc(dirty, (ndirty + 1) * sizeof(*dirty));
				dirty[ndirty++] = d;
			}
		} else if (nf == 3 && strcmp(fld[0], "space") == 0) {
			uint64_t sp;
			bad = parse_u64(fld[1], &sp) != 0 || fld[2][0] == '\0';
			if (!bad) {
				spaces = xrealloc(spaces, (nspaces + 1) * sizeof(*spaces));
				spaces[nspaces++] = (struct space_file){sp, xstrdup(fld[2])};
			}
		} else if (nf == 2 && strcmp(fld[0], "aria") == 0) {
			bad = parse_u64(fld[1], &st->aria);
		} else if (nf == 4 && strcmp(fld[0], "proc") == 0) {
			bad = add_routines(&st->procs, &st->nprocs, fld);
		} else if (nf == 4 && strcmp(fld[0], "event") == 0) {
			bad = add_routines(&st->events, &st->nevents, fld);
		} else {
			bad = 1;
		}
		if (bad) {
			errf(st->reason, sizeof(st->reason), "mysql: unexpected output line '%.100s'",
			     fld[0]);
			goto out;
		}
	}
	if (!have_lsn || !have_trx) {
		errf(st->reason, sizeof(st->reason), "mysql: the server reported no InnoDB %s",
		     have_lsn ? "transactions" : "LSN");
		goto out;
	}
	if (self == 0) {
		errf(st->reason, sizeof(st->reason),
		     "information_schema.INNODB_TRX was not refreshed (another client reads it "
		     "more often than every 0.1 s)");
		rc = 1;
		goto out;
	}
	if (st->nprocs > 0)
		qsort(st->procs, st->nprocs, sizeof(*st->procs), cmp_routines);
	if (st->nevents > 0)
		qsort(st->events, st->nevents, sizeof(*st->events), cmp_routines);
	map_dirty(st, datadir, dirty, ndirty, spaces, nspaces);

	int64_t t = st->now;
	if (st->trx_count > 0 && st->trx_min > 0 && st->trx_min < t)
		t = st->trx_min;
	st->ref_time = t - 1;
	st->ref_lsn = st->trx_count == 0 ? st->lsn : 0;
	rc = 0;
out:
	for (size_t i = 0; i < nspaces; i++)
		free(spaces[i].file);
	free(spaces);
	free(dirty);
	free(script);
	strv_free(&lines);
	return rc;
}

/* ---- the datadir scan --------------------------------------------------- */

struct entry {
	char *name;
	int is_dir;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static int has_entry(const struct entry *v, size_t n, const char *name)
{
	struct entry key = {.name = (char *)name};
	return n > 0 && bsearch(&key, v, n, sizeof(*v), cmp_entry) != NULL;
}

static const char *ext_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot != NULL ? dot + 1 : "";
}

/* File kinds a database folder may hold: table definitions and data of the
 * engines below, triggers, db.opt, partition lists, MERGE lists (a MERGE
 * table is refused by its .frm). */
static int known_ext(const char *ext)
{
	static const char *const known[] = {"frm", "ibd", "MYD", "MYI", "MAD", "MAI", "CSV",
	                                    "CSM", "TRG", "TRN", "opt", "par", "MRG"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(ext, known[i]) == 0)
			return 1;
	return 0;
}

/* The data file suffix of a table of engine `code`, or NULL when the scan
 * cannot vouch for that engine. */
static const char *data_ext(int code)
{
	switch (code) {
	case FRM_INNODB: return "ibd";
	case FRM_MYISAM: return "MYD";
	case FRM_ARIA: return "MAD";
	case FRM_CSV: return "CSV";
	default: return NULL;
	}
}

static void set_cannot(struct db_check *c, char *why)
{
	if (c->cannot == NULL)
		c->cannot = why;
	else
		free(why);
}

/* Read from fd until len bytes, end of file or an error: the count. */
static size_t read_upto(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Read up to len bytes of file `name` in folder dfd.  Returns the count,
 * or -1 with errno set. */
static ssize_t read_head(int dfd, const char *name, unsigned char *buf, size_t len)
{
	int fd = open_regular(dfd, name, 0);
	if (fd < 0)
		return -1;
	size_t got = read_upto(fd, buf, len);
	close(fd);
	return (ssize_t)got;
}

/* Read all of the small file `name` in folder dfd (at most `max` bytes)
 * into a malloc'ed buffer.  Returns it with *len set, or NULL. */
static unsigned char *read_small(int dfd, const char *name, size_t max, size_t *len)
{
	int fd = open_regular(dfd, name, 0);
	if (fd < 0)
		return NULL;
	struct stat st;
	unsigned char *buf = NULL;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > max)
		goto out;
	size_t size = (size_t)st.st_size;
	buf = xmalloc(size);
	if (read_upto(fd, buf, size) != size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = size;
out:
	close(fd);
	return buf;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Check a partitioned table `table` from its .par file: every partition's
 * engine must be one the scan vouches for and its data file
 * "<table>#P#<name>.<ext>" must be in the folder.  Sets c->cannot when not. */
static void check_partitions(struct db_check *c, int dfd, const char *table,
                             const struct entry *v, size_t n)
{
	char *par = xasprintf("%s.par", table);
	/* At most 8192 partitions, names of up to 64 characters (encoded: at
	 * most 5 bytes each), twice for sub-partitions: well below 8 MiB. */
	size_t got = 0;
	unsigned char *buf = read_small(dfd, par, 8 << 20, &got);
	/* Layout: words of 4 bytes, little endian: [0] length in words,
	 * [1] checksum, [2] partition count, then one engine byte per partition
	 * (padded to a word), a word with the length of the names, and the
	 * NUL-terminated, already encoded partition names. */
	uint32_t parts = got >= 12 ? le32(buf + 8) : 0;
	size_t names_at = 12 + ((size_t)parts + 3) / 4 * 4;
	if (buf == NULL || got < 12 || parts == 0 || parts > 65536 || names_at + 4 > got) {
		set_cannot(c, xasprintf("partitioned table '%s' has no readable '%s'; cannot "
		                        "detect changes", table, par));
		goto out;
	}
	size_t pos = names_at + 4, end = got;
	for (uint32_t i = 0; i < parts; i++) {
		int code = buf[12 + i];
		const char *ext = data_ext(code);
		if (ext == NULL || code == FRM_CSV) {
			set_cannot(c, xasprintf("partitioned table '%s' has engine type %d; cannot "
			                        "detect changes", table, code));
			goto out;
		}
		const unsigned char *nul = pos < end ? memchr(buf + pos, 0, end - pos) : NULL;
		if (nul == NULL || nul == buf + pos) {
			set_cannot(c, xasprintf("partitioned table '%s' has no readable '%s'; cannot "
			                        "detect changes", table, par));
			goto out;
		}
		char *file = xasprintf("%s#P#%s.%s", table, (const char *)buf + pos, ext);
		pos = (size_t)(nul - buf) + 1;
		if (!has_entry(v, n, file)) {
			set_cannot(c, xasprintf("partition of table '%s' has no data file '%s'; "
			                        "cannot detect changes", table, file));
			free(file);
			goto out;
		}
		if (code == FRM_ARIA)
			c->has_aria = 1;
		free(file);
	}
out:
	free(buf);
	free(par);
}

/* Check that table `table` (from "<table>.frm") is a view or of an engine
 * whose changes show in its files here.  Sets c->cannot when not. */
static void check_table(struct db_check *c, int dfd, const char *table, const struct entry *v,
                        size_t n)
{
	char *frm = xasprintf("%s.frm", table);
	unsigned char head[16];
	ssize_t got = read_head(dfd, frm, head, sizeof(head));
	if (got < 0 && errno == ENOENT)
		goto out; /* dropped meanwhile: the folder's mtime shows it */
	if (got >= 9 && memcmp(head, "TYPE=VIEW", 9) == 0)
		goto out;
	if (got < 4 || head[0] != 0xfe || head[1] != 0x01) {
		set_cannot(c, xasprintf("table '%s' has an unreadable '%s'; cannot detect changes",
		                        table, frm));
		goto out;
	}
	int code = head[3];
	if (code == FRM_PARTITION) {
		check_partitions(c, dfd, table, v, n);
		goto out;
	}
	const char *ext = data_ext(code);
	if (ext == NULL) {
		set_cannot(c, xasprintf("table '%s' has engine type %d; cannot detect changes",
		                        table, code));
		goto out;
	}
	char *data = xasprintf("%s.%s", table, ext);
	if (!has_entry(v, n, data))
		set_cannot(c, xasprintf("table '%s' has no data file '%s'; cannot detect changes",
		                        table, data));
	free(data);
out:
	free(frm);
}

static void note_mtime(struct db_check *c, const struct stat *st, const char *name)
{
	int64_t sec = (int64_t)st->st_mtim.tv_sec;
	long nsec = st->st_mtim.tv_nsec;
	if (c->mtime_file != NULL &&
	    (sec < c->mtime_sec || (sec == c->mtime_sec && nsec <= c->mtime_nsec)))
		return;
	c->mtime_sec = sec;
	c->mtime_nsec = nsec;
	free(c->mtime_file);
	c->mtime_file = xstrdup(name);
}

/* Scan the folder of one database: newest mtime (entries, then the folder
 * itself, so a drop during the scan still shows), Aria files, and whether
 * every table can be vouched for (checked in name order, tables first, so
 * the reason given is always the same one). */
static void scan_folder(struct db_check *c, int ddfd, const char *datadir)
{
	int fd = openat(ddfd, c->folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			set_cannot(c, xasprintf("datadir folder '%s/%s' cannot be read (%s); cannot "
			                        "detect changes", datadir, c->folder, strerror(errno)));
		return;
	}
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		set_cannot(c, xasprintf("datadir folder '%s/%s' cannot be read (%s); cannot detect "
		                        "changes", datadir, c->folder, strerror(errno)));
		close(fd);
		return;
	}
	c->found = 1;
	struct entry *v = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				set_cannot(c, xasprintf("datadir folder '%s/%s' cannot be read (%s); "
				                        "cannot detect changes", datadir, c->folder,
				                        strerror(errno)));
			break;
		}
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		struct stat st;
		/* stat follows symlinks: MyISAM DATA DIRECTORY files show their target. */
		if (fstatat(fd, name, &st, 0) != 0) {
			if (errno != ENOENT)
				set_cannot(c, xasprintf("'%s' in datadir folder '%s' cannot be read "
				                        "(%s); cannot detect changes", name, c->folder,
				                        strerror(errno)));
			continue;
		}
		note_mtime(c, &st, name);
		const char *ext = ext_of(name);
		if (strcmp(ext, "MAD") == 0 || strcmp(ext, "MAI") == 0)
			c->has_aria = 1;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = (struct entry){xstrdup(name), S_ISDIR(st.st_mode)};
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_entry);
	for (size_t i = 0; i < n && c->cannot == NULL; i++) {
		size_t len = strlen(v[i].name);
		if (!v[i].is_dir && len > 4 && strcmp(v[i].name + len - 4, ".frm") == 0) {
			char *table = xstrndup(v[i].name, len - 4);
			check_table(c, fd, table, v, n);
			free(table);
		}
	}
	for (size_t i = 0; i < n && c->cannot == NULL; i++) {
		if (v[i].is_dir)
			set_cannot(c, xasprintf("unexpected folder '%s' in datadir folder '%s'; cannot "
			                        "detect changes", v[i].name, c->folder));
		else if (!known_ext(ext_of(v[i].name)))
			set_cannot(c, xasprintf("file '%s' of an unknown kind in datadir folder '%s'; "
			                        "cannot detect changes", v[i].name, c->folder));
	}
	struct stat st;
	if (fstat(fd, &st) == 0)
		note_mtime(c, &st, "");
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static void scan_datadir(struct changes_state *st, const char *datadir)
{
	int ddfd = datadir != NULL && datadir[0] != '\0'
	         ? open(datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	int e = errno;
	for (size_t i = 0; i < st->ndbs; i++) {
		struct db_check *c = &st->dbs[i];
		if (ddfd < 0)
			set_cannot(c, xasprintf("datadir '%s' cannot be read (%s); cannot detect "
			                        "changes", datadir != NULL ? datadir : "",
			                        datadir != NULL && datadir[0] != '\0' ? strerror(e)
			                                                              : "not known"));
		else
			scan_folder(c, ddfd, datadir);
	}
	if (ddfd >= 0)
		close(ddfd);
}

/* ---- API ---------------------------------------------------------------- */

int changes_probe(const char *mysql_bin, const char *datadir, const struct strv *dbs,
                  const struct strv *folders, struct changes_state **out, char *err,
                  size_t errlen)
{
	struct changes_state *st = xcalloc(1, sizeof(*st));
	*out = st;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	st->now = (int64_t)now.tv_sec;

	size_t n = dbs != NULL ? dbs->n : 0;
	if (folders == NULL || folders->n != n) {
		errf(st->reason, sizeof(st->reason), "internal: %zu databases but %zu folders", n,
		     folders != NULL ? folders->n : 0);
		n = 0;
	}
	st->dbs = xcalloc(n + 1, sizeof(*st->dbs));
	st->ndbs = n;
	for (size_t i = 0; i < n; i++) {
		st->dbs[i].name = xstrdup(dbs->v[i]);
		st->dbs[i].folder = xstrdup(folders->v[i]);
	}
	qsort(st->dbs, st->ndbs, sizeof(*st->dbs), cmp_check);

	/* The query first, then the scan: the argument above depends on it.
	 * A stale INNODB_TRX gets one more try, after a pause. */
	if (st->reason[0] == '\0') {
		int rc = run_query(st, mysql_bin, datadir, 0);
		if (rc == 1)
			rc = run_query(st, mysql_bin, datadir, 1);
		st->usable = rc == 0;
	}
	scan_datadir(st, datadir);

	if (st->usable)
		return 0;
	scrub(st->reason);
	errf(err, errlen, "%s", st->reason);
	return -1;
}

int changes_usable(const struct changes_state *st)
{
	return st != NULL && st->usable;
}

void changes_current_ref(const struct changes_state *st, const char *db, struct changes_ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	if (st == NULL || !st->usable)
		return;
	ref->valid = 1;
	ref->ref_time = st->ref_time;
	ref->ref_lsn = st->ref_lsn;
	const struct routines *p = find_routines(st->procs, st->nprocs, db);
	const struct routines *e = find_routines(st->events, st->nevents, db);
	if (p != NULL) {
		ref->proc_count = p->count;
		ref->proc_max = p->max;
	}
	if (e != NULL) {
		ref->event_count = e->count;
		ref->event_max = e->max;
	}
}

/* The decision itself (see the top of the file); the caller scrubs `why`. */
static int decide(const struct changes_state *st, const struct db_check *c,
                  const struct changes_ref *prev, char *why, size_t whylen)
{
	if (prev == NULL || !prev->valid) {
		errf(why, whylen, "no usable reference from previous dump");
		return 0;
	}
	if (!st->usable) {
		errf(why, whylen, "cannot check for unwritten changes: %s", st->reason);
		return 0;
	}
	if (st->now < prev->ref_time) {
		errf(why, whylen, "clock went backwards since previous dump");
		return 0;
	}
	if (prev->ref_lsn > st->lsn) {
		errf(why, whylen, "InnoDB LSN went backwards (restored or different server)");
		return 0;
	}
	if (c == NULL) {
		errf(why, whylen, "database was not checked");
		return 0;
	}
	if (c->cannot != NULL) {
		errf(why, whylen, "%s", c->cannot);
		return 0;
	}
	if (!c->found) {
		errf(why, whylen, "datadir folder '%s' not found", c->folder);
		return 0;
	}
	if (c->mtime_file == NULL) {
		errf(why, whylen, "datadir folder '%s' has no readable mtime", c->folder);
		return 0;
	}
	if (c->mtime_sec >= prev->ref_time) {
		char when[64];
		format_utc(c->mtime_sec, when, sizeof(when));
		if (c->mtime_file[0] == '\0')
			errf(why, whylen, "datadir folder '%s' modified at %s", c->folder, when);
		else
			errf(why, whylen, "'%s' modified at %s", c->mtime_file, when);
		return 0;
	}
	if (c->dirty && (prev->ref_lsn == 0 || c->dirty_lsn >= prev->ref_lsn)) {
		errf(why, whylen, "unwritten InnoDB changes in '%s'", c->dirty_file);
		return 0;
	}
	if (st->aria > 0 && c->has_aria) {
		errf(why, whylen, "unwritten Aria pages on server "
		     "(Aria_pagecache_blocks_not_flushed=%" PRIu64 ")", st->aria);
		return 0;
	}
	struct changes_ref now;
	changes_current_ref(st, c->name, &now);
	if (now.proc_count != prev->proc_count || now.proc_max != prev->proc_max ||
	    now.proc_max >= prev->ref_time) {
		errf(why, whylen, "stored routines changed");
		return 0;
	}
	if (now.event_count != prev->event_count || now.event_max != prev->event_max ||
	    now.event_max >= prev->ref_time) {
		errf(why, whylen, "events changed");
		return 0;
	}
	errf(why, whylen, "no change since previous dump");
	return 1;
}

int changes_unchanged(const struct changes_state *st, const char *db,
                      const struct changes_ref *prev, int64_t *last_change, char *why,
                      size_t whylen)
{
	const struct db_check *c = st != NULL ? find_check(st, db) : NULL;
	if (last_change != NULL)
		*last_change = c != NULL && c->mtime_file != NULL ? c->mtime_sec : 0;
	char buf[1024];
	int rc;
	if (st == NULL) {
		errf(buf, sizeof(buf), "change check did not run");
		rc = 0;
	} else {
		rc = decide(st, c, prev, buf, sizeof(buf));
	}
	scrub(buf);
	errf(why, whylen, "%s", buf);
	return rc;
}

int changes_ref_format(const struct changes_ref *ref, char *buf, size_t len)
{
	if (len == 0)
		return -1;
	buf[0] = '\0';
	if (!ref->valid)
		return 0;
	int n = snprintf(buf, len,
	                 "ref_time=%" PRId64 "\nref_lsn=%" PRIu64 "\nproc=%ld %" PRId64
	                 "\nevent=%ld %" PRId64 "\n",
	                 ref->ref_time, ref->ref_lsn, ref->proc_count, ref->proc_max,
	                 ref->event_count, ref->event_max);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* "COUNT MAX" of a proc= or event= line.  Returns 0 or -1. */
static int parse_pair(const char *s, long *count, int64_t *max)
{
	const char *sp = strchr(s, ' ');
	if (sp == NULL)
		return -1;
	char *a = xstrndup(s, (size_t)(sp - s));
	int rc = parse_long(a, count) == 0 && parse_i64(sp + 1, max) == 0 ? 0 : -1;
	free(a);
	return rc;
}

int changes_ref_parse(const char *text, struct changes_ref *ref)
{
	enum { F_TIME = 1, F_LSN = 2, F_PROC = 4, F_EVENT = 8, F_ALL = 15 };
	struct changes_ref r = {0};
	unsigned seen = 0;
	int rc = -1;
	char *copy = xstrdup(text != NULL ? text : "");
	char *save = NULL;
	memset(ref, 0, sizeof(*ref));
	for (char *line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (eq == NULL)
			goto out;
		*eq = '\0';
		const char *key = line, *val = eq + 1;
		unsigned bit = 0;
		int bad = 0;
		if (strcmp(key, "ref_time") == 0) {
			bit = F_TIME;
			bad = parse_i64(val, &r.ref_time);
		} else if (strcmp(key, "ref_lsn") == 0) {
			bit = F_LSN;
			bad = parse_u64(val, &r.ref_lsn);
		} else if (strcmp(key, "proc") == 0) {
			bit = F_PROC;
			bad = parse_pair(val, &r.proc_count, &r.proc_max);
		} else if (strcmp(key, "event") == 0) {
			bit = F_EVENT;
			bad = parse_pair(val, &r.event_count, &r.event_max);
		}
		if (bad || (seen & bit) != 0)
			goto out;
		seen |= bit;
	}
	if (seen != F_ALL)
		goto out;
	r.valid = 1;
	*ref = r;
	rc = 0;
out:
	free(copy);
	return rc;
}

void changes_free(struct changes_state *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->ndbs; i++) {
		struct db_check *c = &st->dbs[i];
		free(c->name);
		free(c->folder);
		free(c->cannot);
		free(c->mtime_file);
		free(c->dirty_file);
	}
	free(st->dbs);
	for (size_t i = 0; i < st->nprocs; i++)
		free(st->procs[i].db);
	for (size_t i = 0; i < st->nevents; i++)
		free(st->events[i].db);
	free(st->procs);
	free(st->events);
	free(st);
}
