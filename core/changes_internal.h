/* changes_internal.h - what the changes*.c files share: one run's view of the server and datadir. */
#ifndef OMA_CHANGES_INTERNAL_H
#define OMA_CHANGES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"

/* What the run learned about one selected database. */
struct db_check {
	char *name;
	char *folder;
	int found;         /* the folder exists */
	char *cannot;      /* why changes cannot be detected, or NULL */
	int64_t mtime_sec; /* newest mtime in the folder (folder included) */
	long mtime_nsec;
	char *mtime_file; /* the entry it came from; "" for the folder itself */
	int has_aria;
	int dirty;          /* InnoDB pages of its tablespaces are dirty */
	uint64_t dirty_lsn; /* their newest modification */
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
	int64_t now; /* R: epoch seconds at the start of the probe */
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

/* Run the probe script (with `wait`: after a pause that lets INNODB_TRX
 * refresh) and fill st's server facts (changes_probe.c).  Returns 0, 1
 * when INNODB_TRX was stale, or -1 with st->reason set. */
int changes_run_query(struct changes_state *st, const char *mysql_bin, const char *datadir,
                      int wait);

/* Forget what changes_run_query stored in st. */
void changes_reset_query(struct changes_state *st);

/* The routines or events of `db` in v (sorted by db, as changes_run_query
 * leaves them), or NULL. */
const struct routines *changes_find_routines(const struct routines *v, size_t n, const char *db);

/* Scan the datadir folders of st's databases (changes_scan.c): newest
 * mtime, Aria files, and whether every table can be vouched for; what
 * cannot be read sets a database's `cannot`. */
void changes_scan_datadir(struct changes_state *st, const char *datadir);

/* Replace every "Error" in s by "error": reasons end up in the log, where a
 * successful run must not show that word. */
void changes_scrub(char *s);

/* Decimal numbers as the probe's output and the sidecar write them: digits
 * only, no sign, no overflow (changes_ref.c).  Return 0, or -1. */
int changes_parse_u64(const char *s, uint64_t *v);
int changes_parse_i64(const char *s, int64_t *v);
int changes_parse_long(const char *s, long *v);

#endif
