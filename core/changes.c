/* changes.c - has a database changed since its previous dump? (skip_unchanged_dbs): the method, the probe's steps and the decision. */

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
#include "common/errbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changes_internal.h"

void changes_scrub(char *s)
{
	char *p = s;
	while ((p = strstr(p, "Error")) != NULL)
		*p = 'e';
}

static void format_utc(int64_t sec, char *out, size_t outlen)
{
	struct tm tm;
	time_t t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		cm_errf(out, outlen, "%" PRId64, sec);
}

static int cmp_check(const void *a, const void *b)
{
	return strcmp(((const struct db_check *)a)->name, ((const struct db_check *)b)->name);
}

static struct db_check *find_check(const struct changes_state *st, const char *db)
{
	if (st->ndbs == 0)
		return NULL;
	struct db_check key = {.name = (char *)db};
	return bsearch(&key, st->dbs, st->ndbs, sizeof(*st->dbs), cmp_check);
}

int changes_probe(const char *mysql_bin, const char *datadir, const struct strv *dbs,
                  const struct strv *folders, struct changes_state **out, char *err, size_t errlen)
{
	struct changes_state *st = xcalloc(1, sizeof(*st));
	*out = st;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	st->now = (int64_t)now.tv_sec;

	size_t n = dbs != NULL ? dbs->n : 0;
	if (folders == NULL || folders->n != n) {
		cm_errf(st->reason, sizeof(st->reason), "internal: %zu databases but %zu folders",
		        n, folders != NULL ? folders->n : 0);
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
		int rc = changes_run_query(st, mysql_bin, datadir, 0);
		if (rc == 1)
			rc = changes_run_query(st, mysql_bin, datadir, 1);
		st->usable = rc == 0;
	}
	changes_scan_datadir(st, datadir);

	if (st->usable)
		return 0;
	changes_scrub(st->reason);
	cm_errf(err, errlen, "%s", st->reason);
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
	const struct routines *p = changes_find_routines(st->procs, st->nprocs, db);
	const struct routines *e = changes_find_routines(st->events, st->nevents, db);
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
		cm_errf(why, whylen, "no usable reference from previous dump");
		return 0;
	}
	if (!st->usable) {
		cm_errf(why, whylen, "cannot check for unwritten changes: %s", st->reason);
		return 0;
	}
	if (st->now < prev->ref_time) {
		cm_errf(why, whylen, "clock went backwards since previous dump");
		return 0;
	}
	if (prev->ref_lsn > st->lsn) {
		cm_errf(why, whylen, "InnoDB LSN went backwards (restored or different server)");
		return 0;
	}
	if (c == NULL) {
		cm_errf(why, whylen, "database was not checked");
		return 0;
	}
	if (c->cannot != NULL) {
		cm_errf(why, whylen, "%s", c->cannot);
		return 0;
	}
	if (!c->found) {
		cm_errf(why, whylen, "datadir folder '%s' not found", c->folder);
		return 0;
	}
	if (c->mtime_file == NULL) {
		cm_errf(why, whylen, "datadir folder '%s' has no readable mtime", c->folder);
		return 0;
	}
	if (c->mtime_sec >= prev->ref_time) {
		char when[64];
		format_utc(c->mtime_sec, when, sizeof(when));
		if (c->mtime_file[0] == '\0')
			cm_errf(why, whylen, "datadir folder '%s' modified at %s", c->folder, when);
		else
			cm_errf(why, whylen, "'%s' modified at %s", c->mtime_file, when);
		return 0;
	}
	if (c->dirty && (prev->ref_lsn == 0 || c->dirty_lsn >= prev->ref_lsn)) {
		cm_errf(why, whylen, "unwritten InnoDB changes in '%s'", c->dirty_file);
		return 0;
	}
	if (st->aria > 0 && c->has_aria) {
		cm_errf(why, whylen,
		        "unwritten Aria pages on server "
		        "(Aria_pagecache_blocks_not_flushed=%" PRIu64 ")",
		        st->aria);
		return 0;
	}
	struct changes_ref now;
	changes_current_ref(st, c->name, &now);
	if (now.proc_count != prev->proc_count || now.proc_max != prev->proc_max ||
	    now.proc_max >= prev->ref_time) {
		cm_errf(why, whylen, "stored routines changed");
		return 0;
	}
	if (now.event_count != prev->event_count || now.event_max != prev->event_max ||
	    now.event_max >= prev->ref_time) {
		cm_errf(why, whylen, "events changed");
		return 0;
	}
	cm_errf(why, whylen, "no change since previous dump");
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
		cm_errf(buf, sizeof(buf), "change check did not run");
		rc = 0;
	} else {
		rc = decide(st, c, prev, buf, sizeof(buf));
	}
	changes_scrub(buf);
	cm_errf(why, whylen, "%s", buf);
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
	changes_reset_query(st);
	free(st);
}
