/* changes.h - has a database changed since its previous dump? (skip_unchanged_dbs) */
#ifndef OMA_CHANGES_H
#define OMA_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* What is stored next to each dump made in a run (its sidecar), and read
 * back from the previous dump in the next run.  Times are epoch seconds. */
struct changes_ref {
	int valid;        /* 0: no reference; never reuse against it */
	int64_t ref_time; /* T_ref: changes at or after this time are not trusted
	                     * to be in the dump */
	uint64_t ref_lsn; /* L_ref: InnoDB LSN at the run's start; 0 when a
	                     * writing transaction was open then */
	long proc_count;  /* the database's rows in mysql.proc ... */
	int64_t proc_max; /* ... and their newest `modified` (0 when none) */
	long event_count; /* the same for mysql.event */
	int64_t event_max;
};

/* One run's view of the server and datadir (opaque). */
struct changes_state;

/* Take this run's snapshot, before the first dump starts: one mysql_bin
 * process runs a fixed script (LSN, open writing transactions, InnoDB dirty
 * pages and their tablespace files, unflushed Aria blocks, mysql.proc and
 * mysql.event per database), then one pass over the datadir folders of the
 * databases `dbs` (folders->v[i] is the folder of dbs->v[i], e.g.
 * server_facts.folders).  *out is always set (free it with changes_free).
 * Returns 0, or -1 when the check cannot be used in this run: err then says
 * why (e.g. "needs the PROCESS privilege: mysql: ERROR 1227 ..."; never the
 * word "Error"), the runner logs it once as a WARNING, every
 * changes_unchanged() answers "dump" and changes_current_ref() gives
 * invalid references. */
int changes_probe(const char *mysql_bin, const char *datadir, const struct strv *dbs,
                  const struct strv *folders, struct changes_state **out, char *err, size_t errlen);

/* Without skip_unchanged_dbs the reference alone is taken, so that a
 * later run with it can reuse this run's dumps: changes_ref_sql() is the
 * fixed script (the LSN, open writing transactions, mysql.proc and
 * mysql.event per database; not the dirty pages nor Aria, no datadir
 * scan), for another client process to run after its own statements
 * (server_get_facts_more).  The clock must be read before that process
 * starts. */
const char *changes_ref_sql(void);

/* Make *out from the output `lines` of changes_ref_sql, run after the
 * clock read `now` (epoch seconds), or from its failure `failed` (the
 * client's error; NULL or "" when it ran).  *out is always set (free it
 * with changes_free); only changes_current_ref() is of use with it
 * (changes_unchanged() answers "dump": no database was checked).  Returns
 * 0; 1 when INNODB_TRX was stale (another client read it less than 0.1 s
 * before: changes_ref_again may get the reference); -1 when there is no
 * reference.  err says why (never the word "Error"). */
int changes_ref_only(const struct strv *lines, const char *failed, int64_t now,
                     struct changes_state **out, char *err, size_t errlen);

/* After changes_ref_only returned 1: the reference script once more, in a
 * mysql_bin process of its own, with the pause that lets INNODB_TRX
 * refresh (0.2 s), into st (its clock stays the first one: earlier is
 * safe).  Returns 0, or -1 with err set as changes_ref_only. */
int changes_ref_again(struct changes_state *st, const char *mysql_bin, char *err, size_t errlen);

/* The reference to store with a dump of `db` made in this run (valid == 0
 * when the probe failed).  Any database name works, probed or not. */
void changes_current_ref(const struct changes_state *st, const char *db, struct changes_ref *ref);

/* Whether the probe gave what reuse needs (NULL: no). */
int changes_usable(const struct changes_state *st);

/* Decide for database `db` (one of the probed ones) whose previous dump was
 * made with reference `prev` (NULL: none).  Returns 1 when nothing changed
 * since then, so the previous dump may be reused, or 0 when the database
 * must be dumped; `why` gets a short reason either way (never containing
 * the word "Error").  *last_change (may be NULL) gets the newest mtime in
 * the database's folder, epoch seconds, 0 when unknown.  The caller still
 * checks that the previous dump file exists and succeeded. */
int changes_unchanged(const struct changes_state *st, const char *db,
                      const struct changes_ref *prev, int64_t *last_change, char *why,
                      size_t whylen);

/* Write `ref` as "key=value" lines (ref_time=, ref_lsn=, proc=COUNT MAX,
 * event=COUNT MAX); an invalid ref gives "".  Returns 0, or -1 when buf is
 * too small. */
int changes_ref_format(const struct changes_ref *ref, char *buf, size_t len);

/* Read a sidecar written by changes_ref_format.  Other "key=value" lines
 * are ignored.  Returns 0 with ref->valid = 1, or -1 with ref->valid = 0
 * when a field is missing, repeated or malformed, or a line has no '='
 * (e.g. upstream's "2024-05-01 12:00:00.123456"). */
int changes_ref_parse(const char *text, struct changes_ref *ref);

void changes_free(struct changes_state *st);

#endif
