/* changes_probe.c - the change check's per-run SQL script, and what its output says about the server. */
#include "changes.h"
#include "common/errbuf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes_internal.h"
#include "server.h"

/* The per-run script, in two parts around the optional wait (see
 * changes_run_query).  The LSN is read first, dirty pages and Aria before
 * the datadir scan; the correctness argument at the top of changes.c
 * depends on that order.
 *
 * INNODB_TRX is served from a cache that the server refreshes only when
 * nobody read it in the last 0.1 s, so a client polling it keeps it stale
 * for everyone.  The script therefore opens a (read-only) transaction of its
 * own first: when that shows in INNODB_TRX, the list is newer than this
 * run's start.  No --force: any failing statement fails the whole check.
 * Without skip_unchanged_dbs only the reference is asked for (ref_script:
 * the same statements without the dirty pages and Aria). */
#define PROBE_HEAD                                                            \
	"SET SESSION time_zone = '+00:00';\n"                                 \
	"SELECT 'lsn', VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS " \
	"WHERE VARIABLE_NAME = 'INNODB_LSN_CURRENT';\n"                       \
	"START TRANSACTION WITH CONSISTENT SNAPSHOT;\n"
#define PROBE_TRX                                                                          \
	"SELECT 'trx', SUM(trx_rows_modified > 0), "                                       \
	"UNIX_TIMESTAMP(MIN(IF(trx_rows_modified > 0, trx_started, NULL))), "              \
	"SUM(trx_mysql_thread_id = CONNECTION_ID()) FROM information_schema.INNODB_TRX;\n" \
	"COMMIT;\n"
#define PROBE_PAGES                                                                       \
	"SELECT 'dirty', SPACE, MAX(NEWEST_MODIFICATION) "                                \
	"FROM information_schema.INNODB_BUFFER_PAGE_LRU "                                 \
	"WHERE OLDEST_MODIFICATION > 0 GROUP BY SPACE;\n"                                 \
	"SELECT 'space', SPACE, FILENAME FROM information_schema.INNODB_SYS_TABLESPACES " \
	"WHERE SPACE IN (SELECT SPACE FROM information_schema.INNODB_BUFFER_PAGE_LRU "    \
	"WHERE OLDEST_MODIFICATION > 0);\n"                                               \
	"SELECT 'aria', VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "            \
	"WHERE VARIABLE_NAME = 'ARIA_PAGECACHE_BLOCKS_NOT_FLUSHED';\n"
#define PROBE_ROUTINES                                                      \
	"SELECT 'proc', HEX(db), COUNT(*), UNIX_TIMESTAMP(MAX(modified)) "  \
	"FROM mysql.proc GROUP BY db;\n"                                    \
	"SELECT 'event', HEX(db), COUNT(*), UNIX_TIMESTAMP(MAX(modified)) " \
	"FROM mysql.event GROUP BY db;\n"

static const char probe_head[] = PROBE_HEAD;
#define PROBE_WAIT "DO SLEEP(0.2);\n"
static const char probe_wait[] = PROBE_WAIT;
static const char probe_tail[] = PROBE_TRX PROBE_PAGES PROBE_ROUTINES;

/* The reference alone (changes_ref_sql): no dirty pages, no Aria; and the
 * same after the wait, in a process of its own (changes_ref_again). */
static const char ref_script[] = PROBE_HEAD PROBE_TRX PROBE_ROUTINES;
static const char ref_script_wait[] = PROBE_HEAD PROBE_WAIT PROBE_TRX PROBE_ROUTINES;

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
		return changes_parse_i64(s, v);
	char *whole = xstrndup(s, (size_t)(dot - s));
	uint64_t frac;
	int rc = changes_parse_i64(whole, v);
	if (rc == 0 && changes_parse_u64(dot + 1, &frac) != 0)
		rc = -1;
	free(whole);
	return rc;
}

static int cmp_routines(const void *a, const void *b)
{
	return strcmp(((const struct routines *)a)->db, ((const struct routines *)b)->db);
}

const struct routines *changes_find_routines(const struct routines *v, size_t n, const char *db)
{
	if (n == 0)
		return NULL;
	struct routines key = {.db = (char *)db};
	return bsearch(&key, v, n, sizeof(*v), cmp_routines);
}

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
	uint64_t x = ((const struct space_file *)a)->space,
	         y = ((const struct space_file *)b)->space;
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
	return strcmp(((const struct folder_ref *)a)->folder,
	              ((const struct folder_ref *)b)->folder);
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
		const struct space_file *sf = nspaces > 0 ? bsearch(&key, spaces, nspaces,
		                                                    sizeof(*spaces), cmp_space_file)
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
		struct folder_ref *hit = bsearch(&fkey, idx, st->ndbs, sizeof(*idx),
		                                 cmp_folder_ref);
		/* Several databases with one folder: visit every one of them. */
		while (hit != NULL && hit > idx && strcmp(hit[-1].folder, folder) == 0)
			hit--;
		for (; hit != NULL && hit < idx + st->ndbs && strcmp(hit->folder, folder) == 0;
		     hit++) {
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
	if (r.db == NULL || changes_parse_long(fld[2], &r.count) != 0 ||
	    parse_stamp(fld[3], &r.max) != 0) {
		free(r.db);
		return -1;
	}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = r;
	return 0;
}

void changes_reset_query(struct changes_state *st)
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

/* Read the probe script's output `lines` (the full script or the
 * reference alone) into st: the server's facts, the dirty tablespaces
 * mapped to st's databases (folders relative to `datadir`), and the
 * reference.  Returns 0, 1 when INNODB_TRX was stale, or -1 with
 * st->reason set. */
static int parse_output(struct changes_state *st, const struct strv *lines, const char *datadir)
{
	struct space_file *spaces = NULL;
	struct dirty_space *dirty = NULL;
	size_t nspaces = 0, ndirty = 0;
	int have_lsn = 0, have_trx = 0;
	long self = 0;
	int rc = -1;
	for (size_t i = 0; i < lines->n; i++) {
		char *fld[5];
		char *line = xstrdup(lines->v[i]);
		size_t nf = split_tabs(line, fld, 5);
		int bad = 0;
		if (nf == 2 && strcmp(fld[0], "lsn") == 0) {
			bad = changes_parse_u64(fld[1], &st->lsn);
			have_lsn = 1;
		} else if (nf == 4 && strcmp(fld[0], "trx") == 0) {
			/* SUM() of no rows is NULL; parse_stamp reads it as 0. */
			int64_t count = 0, me = 0;
			bad = parse_stamp(fld[1], &count) != 0 ||
			      parse_stamp(fld[2], &st->trx_min) != 0 ||
			      parse_stamp(fld[3], &me) != 0 || count > LONG_MAX || me > LONG_MAX;
			st->trx_count = (long)count;
			self = (long)me;
			have_trx = 1;
		} else if (nf == 3 && strcmp(fld[0], "dirty") == 0) {
			struct dirty_space d;
			bad = changes_parse_u64(fld[1], &d.space) != 0 ||
			      changes_parse_u64(fld[2], &d.lsn) != 0;
			if (!bad) {
				dirty = xrealloc(dirty, (ndirty + 1) * sizeof(*dirty));
				dirty[ndirty++] = d;
			}
		} else if (nf == 3 && strcmp(fld[0], "space") == 0) {
			uint64_t sp;
			bad = changes_parse_u64(fld[1], &sp) != 0 || fld[2][0] == '\0';
			if (!bad) {
				spaces = xrealloc(spaces, (nspaces + 1) * sizeof(*spaces));
				spaces[nspaces++] = (struct space_file){sp, xstrdup(fld[2])};
			}
		} else if (nf == 2 && strcmp(fld[0], "aria") == 0) {
			bad = changes_parse_u64(fld[1], &st->aria);
		} else if (nf == 4 && strcmp(fld[0], "proc") == 0) {
			bad = add_routines(&st->procs, &st->nprocs, fld);
		} else if (nf == 4 && strcmp(fld[0], "event") == 0) {
			bad = add_routines(&st->events, &st->nevents, fld);
		} else {
			bad = 1;
		}
		if (bad)
			cm_errf(st->reason, sizeof(st->reason),
			        "mysql: unexpected output line '%.100s'", fld[0]);
		free(line);
		if (bad)
			goto out;
	}
	if (!have_lsn || !have_trx) {
		cm_errf(st->reason, sizeof(st->reason), "mysql: the server reported no InnoDB %s",
		        have_lsn ? "transactions" : "LSN");
		goto out;
	}
	if (self == 0) {
		cm_errf(st->reason, sizeof(st->reason),
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
	return rc;
}

/* st->reason for the script's client failing with err (its stderr). */
static void query_failed(struct changes_state *st, const char *err)
{
	if (strstr(err, "PROCESS") != NULL || strstr(err, "1227") != NULL)
		cm_errf(st->reason, sizeof(st->reason), "needs the PROCESS privilege: %s", err);
	else
		cm_errf(st->reason, sizeof(st->reason), "%s", err);
}

/* Run `script` with mysql_bin and read its output into st (parse_output;
 * a client failure in st->reason).  Returns as parse_output. */
static int run_script(struct changes_state *st, const char *mysql_bin, const char *script,
                      const char *datadir)
{
	struct strv lines = {0};
	char err[400];
	int rc = -1;
	changes_reset_query(st);
	if (server_query(mysql_bin, script, &lines, err, sizeof(err)) != 0)
		query_failed(st, err);
	else
		rc = parse_output(st, &lines, datadir);
	strv_free(&lines);
	return rc;
}

int changes_run_query(struct changes_state *st, const char *mysql_bin, const char *datadir,
                      int wait)
{
	char *script = xasprintf("%s%s%s", probe_head, wait ? probe_wait : "", probe_tail);
	int rc = run_script(st, mysql_bin, script, datadir);
	free(script);
	return rc;
}

const char *changes_ref_sql(void)
{
	return ref_script;
}

int changes_ref_only(const struct strv *lines, const char *failed, int64_t now,
                     struct changes_state **out, char *err, size_t errlen)
{
	struct changes_state *st = xcalloc(1, sizeof(*st));
	*out = st;
	st->now = now;
	int rc = -1;
	if (failed != NULL && failed[0] != '\0') {
		query_failed(st, failed);
	} else {
		rc = parse_output(st, lines, NULL);
		st->usable = rc == 0;
	}
	if (st->usable)
		return 0;
	changes_scrub(st->reason);
	cm_errf(err, errlen, "%s", st->reason);
	return rc == 1 ? 1 : -1;
}

int changes_ref_again(struct changes_state *st, const char *mysql_bin, char *err, size_t errlen)
{
	st->reason[0] = '\0';
	st->usable = run_script(st, mysql_bin, ref_script_wait, NULL) == 0;
	if (st->usable)
		return 0;
	changes_scrub(st->reason);
	cm_errf(err, errlen, "%s", st->reason);
	return -1;
}
