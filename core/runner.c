/* runner.c - one backup run, phase by phase (docs/BEHAVIOUR.md "One run, phase by phase"). */
#include "runner.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "changes.h"
#include "common/errbuf.h"
#include "conditions.h"
#include "digest.h"
#include "dump.h"
#include "log.h"
#include "names.h"
#include "offsite.h"
#include "proc.h"
#include "progress.h"
#include "report.h"
#include "reuse.h"
#include "server.h"
#include "store.h"
#include "sums.h"
#include "util.h"

struct run {
	const struct oma_config *cfg;
	const struct run_plugins *pl;
	char *bdir;    /* backup_dir, absolute (the links' targets must be) */
	char *current; /* full path of the current backup folder */
	const char *current_base;
	time_t started; /* when the run started (info.json "started") */
	struct server_facts facts;
	struct strv selected, skipped, missing;
	uint64_t datadir_bytes;   /* the whole datadir (info.json) */
	uint64_t selected_bytes;  /* the selected databases' folders (space check) */
	uint64_t *selected_sizes; /* each selected database's folder, same order */
	struct dump_job *jobs;
	size_t njobs;
	struct strv todo;   /* selected databases to dump */
	struct strv reused; /* selected databases whose previous dump was reused */
	uint64_t *reused_bytes;
	struct changes_state *changes; /* the change check (skip_unchanged_dbs), or the
	                                * reference alone for the sidecars */
	unsigned dumped, failed;
	int outcome;            /* enum oma_outcome */
	int abandoned;          /* the current folder was removed */
	int keep_old;           /* delete_before waits: the last backup had failed databases */
	struct store_info prev; /* the newest complete backup's info.json (read_previous) */
	double prev_ratio;      /* its compression ratio, 0.5 without one */
	int completed;          /* the current folder's info.json was written */
	char enc_id[160];       /* "METHOD:FINGERPRINT" of the encryption, "" without */
	struct offsite *off;    /* the off-site copies; NULL without a store plugin */
	struct sums sums;       /* SHA256SUMS: the folder's dumps, reused and new */
	int dry;                /* --dry-run: check and say, change nothing */
	uint64_t dry_freed;     /* --dry-run: what the prune before the dumps would free */
};

/* The first signal that asked the run to stop; 0 while none did. */
static volatile sig_atomic_t cancel_signal;

void runner_cancel(int sig)
{
	if (cancel_signal == 0)
		cancel_signal = sig > 0 ? sig : -1;
	proc_cancel();
}

int runner_cancelled(void)
{
	return cancel_signal;
}

static void log_removed(const struct strv *removed)
{
	char *list = py_list_repr(removed);
	log_info("Removed old backup directories: %s", list);
	free(list);
}

/* Phase 4/10: prune to `keep` complete folders besides the current one
 * (and the interrupted runs' folders a complete one supersedes). */
static int phase_prune(struct run *r, long keep)
{
	char err[512];
	struct strv removed = {0};
	int rc = r->dry ? store_prune_plan(r->bdir, keep, r->current_base, time(NULL), &removed,
	                                   err, sizeof(err))
	                : store_prune(r->bdir, keep, r->current_base, time(NULL), &removed, err,
	                              sizeof(err));
	if (rc != 0) {
		log_error("%s", err);
	} else if (r->dry) {
		char *list = py_list_repr(&removed);
		log_info("Dry run: would remove old backup directories: %s", list);
		free(list);
	} else {
		log_removed(&removed);
	}
	strv_free(&removed);
	return rc;
}

static void format_time(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (localtime_r(&tt, &tm) == NULL || strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)snprintf(out, outlen, "%lld", (long long)t);
}

/* Before anything else: remove what interrupted runs left half-written,
 * and say which backup folders are incomplete or dated in the future. */
static void phase_survey(struct run *r)
{
	char err[512];
	struct strv removed = {0};
	if (!r->dry && store_clean_temp(r->bdir, r->current_base, &removed, err, sizeof(err)) != 0)
		log_warning("%s", err);
	for (size_t i = 0; i < removed.n; i++)
		log_warning("Removed a temporary file left by an interrupted run: %s",
		            removed.v[i]);
	strv_free(&removed);

	struct store_folders all;
	time_t now = time(NULL);
	if (store_scan(r->bdir, now, &all, err, sizeof(err)) != 0) {
		log_warning("%s", err);
		return;
	}
	for (size_t i = 0; i < all.n; i++) {
		const struct store_folder *f = &all.v[i];
		if (strcmp(f->name, r->current_base) == 0)
			continue;
		if (!f->complete)
			log_warning(
			        "Backup folder %s is incomplete (its run did not finish): it does "
			        "not count as a version, is not used as the previous backup, and "
			        "goes once a newer backup is complete",
			        f->name);
		if (f->future) {
			char when[32], cur[32];
			format_time(f->time, when, sizeof(when));
			format_time((int64_t)now, cur, sizeof(cur));
			log_warning(
			        "Backup folder %s is dated in the future (%s, now %s): a clock "
			        "change or a stray folder; it is not used as the previous backup "
			        "and is the first to be pruned",
			        f->name, when, cur);
		}
	}
	store_folders_free(&all);
}

/* Without skip_unchanged_dbs: the change reference for the sidecars, from
 * what the facts query's client ran after it (more; the clock read at
 * `asked`, before it started), so that a later run with
 * skip_unchanged_dbs can reuse this run's dumps.  Without one that run
 * dumps them again: a debug line says why. */
static void keep_reference(struct run *r, struct server_more *more, int64_t asked)
{
	char err[768];
	int rc = changes_ref_only(&more->lines, more->err, asked, &r->changes, err, sizeof(err));
	if (rc == 1) /* INNODB_TRX was stale: once more, after a pause */
		rc = changes_ref_again(r->changes, r->cfg->main.mysql_bin, err, sizeof(err));
	if (rc != 0)
		log_debug("Sidecars carry no change reference (a run with skip_unchanged_dbs will "
		          "dump these databases again): %s",
		          err);
}

/* Phase 5: what the server has, what we dump, and the datadir's size.
 * Returns 0, or -1 when the server or its datadir cannot be reached. */
static int phase_server(struct run *r)
{
	char err[1024];
	const struct cfg_main *m = &r->cfg->main;
	/* With skip_unchanged_dbs the whole check runs later (phase_reuse); a
	 * dry run writes no sidecars. */
	struct server_more more = {.sql = m->skip_unchanged_dbs || r->dry ? NULL
	                                                                  : changes_ref_sql()};
	int64_t asked = (int64_t)time(NULL);
	int got = server_get_facts_more(m->mysql_bin, &r->facts, &more, err, sizeof(err));
	if (got == 0 && more.sql != NULL)
		keep_reference(r, &more, asked);
	strv_free(&more.lines);
	if (got != 0) {
		log_error("Cannot get server facts: %s", err);
		return -1;
	}
	log_debug("MySQL data directory: %s", r->facts.datadir);
	server_select(r->cfg, &r->facts.databases, &r->selected, &r->skipped, &r->missing);
	struct strv folders = {0};
	for (size_t i = 0; i < r->selected.n; i++) {
		const char *f = server_folder(&r->facts, r->selected.v[i]);
		strv_push(&folders, f ? f : "");
	}
	uint64_t *sizes = xcalloc(folders.n, sizeof(*sizes));
	int rc = server_datadir_usage(r->facts.datadir, &folders, &r->datadir_bytes, sizes, err,
	                              sizeof(err));
	for (size_t i = 0; i < folders.n; i++)
		r->selected_bytes += sizes[i];
	r->selected_sizes = sizes;
	strv_free(&folders);
	if (rc != 0) {
		log_error("%s", err);
		return -1;
	}
	log_debug("Found %zu databases", r->facts.databases.n);
	if (m->exclude_databases.n > 0) {
		char *list = py_list_repr(&m->exclude_databases);
		log_info("Excluding databases %s from backup job.", list);
		free(list);
	}
	for (size_t i = 0; i < r->missing.n; i++)
		log_warning("Database '%s' listed in %s does not exist.", r->missing.v[i],
		            m->do_databases.n > 0 ? "do_databases" : "exclude_databases");
	return 0;
}

/* The newest complete backup's info.json (r->prev; zero when there is
 * none or it cannot be read, with a warning), read once for the prune
 * before the dumps and the space estimate. */
static void read_previous(struct run *r)
{
	char err[512];
	char *dir = store_previous(r->bdir, r->current_base, time(NULL));
	r->prev_ratio = 0.5;
	if (dir == NULL)
		return;
	int rc = store_read_info(dir, &r->prev, err, sizeof(err));
	if (rc == 0)
		r->prev_ratio = r->prev.compression_ratio;
	else if (rc < 0)
		log_warning("%s; assuming a compression ratio of 0.5", err);
	free(dir);
}

/* With delete_before: whether the newest complete backup has failed
 * databases.  Their last good dumps are in older folders, which pruning
 * before the dumps would take (the prune after a run keeps them for the
 * same reason), so it waits; a warning says so. */
static bool previous_failed(const struct run *r)
{
	if (r->prev.failed_databases > 0)
		log_warning("delete_before: not removing old backup directories before the dumps: "
		            "%" PRIu64 " database(s) failed in the last backup and their previous "
		            "dumps are kept",
		            r->prev.failed_databases);
	return r->prev.failed_databases > 0;
}

/* Phase 6: is there room for the dumps?  With delete_before and versions
 * = 1, the last complete backup was kept by phase 4 until this one is
 * complete; when the room is only there without it, it goes now, as
 * configured.  Returns 0, or -1 when there is no room. */
static int phase_space(struct run *r)
{
	char err[512];
	double need = (double)r->selected_bytes * r->prev_ratio;
	for (int pass = 0;; pass++) {
		uint64_t free_bytes = 0;
		if (store_free_bytes(r->current, &free_bytes, err, sizeof(err)) != 0) {
			log_warning("%s", err);
			return 0;
		}
		free_bytes += r->dry_freed;
		char a[32], b[32];
		format_size(need, a, sizeof(a));
		format_size((double)free_bytes, b, sizeof(b));
		log_info("Backup will require %s. Having %s free%s.", a, b,
		         r->dry_freed > 0 ? " (after the removals before the dumps)" : "");
		if (need <= (double)free_bytes)
			return 0;
		if (pass > 0 || !r->cfg->main.delete_before || r->cfg->main.versions > 1 ||
		    r->keep_old)
			break;
		/* The last backup goes only when that makes the room: removing
		 * it for nothing would leave no backup at all. */
		uint64_t freed = 0;
		if (store_prunable_bytes(r->bdir, 0, r->current_base, time(NULL), &freed, err,
		                         sizeof(err)) != 0) {
			log_error("%s", err);
			break;
		}
		if (freed == 0)
			break;
		if ((double)free_bytes + (double)freed < need) {
			char c[32];
			format_size((double)freed, c, sizeof(c));
			log_warning(
			        "delete_before: removing the last complete backup would free only "
			        "%s, not enough: it is kept",
			        c);
			break;
		}
		if (r->dry) {
			log_warning("Dry run: delete_before would remove the last complete backup "
			            "to make room; until the run completes there would be none");
			return 0;
		}
		struct strv removed = {0};
		if (store_prune(r->bdir, 0, r->current_base, time(NULL), &removed, err,
		                sizeof(err)) != 0)
			log_error("%s", err);
		if (removed.n == 0) {
			strv_free(&removed);
			break;
		}
		log_warning("delete_before: removing the last complete backup to make room; "
		            "until this run completes there is none");
		log_removed(&removed);
		strv_free(&removed);
	}
	log_error("Not enough free space in target directory.");
	return -1;
}

/* Whether prev/file still is what its sidecar says was written: its
 * SHA-256 is compared with the one recorded, so a damaged dump is dumped
 * again instead of carried into the new backup.  A mismatch is logged as
 * a warning (the disk holding the backups is failing, or someone wrote to
 * them).  Returns 0, or -1 with why set. */
static int verify_previous(const char *prev, const char *db, const char *file,
                           const struct sidecar *sc, char *why, size_t whylen)
{
	if (sc->sha256[0] == '\0') {
		cm_errf(why, whylen, "previous dump has no recorded checksum");
		return -1;
	}
	char *path = xasprintf("%s/%s", prev, file);
	char sum[DIGEST_HEX_LEN + 1], err[512];
	int rc = -1;
	if (digest_path(path, sum, err, sizeof(err)) != 0) {
		cm_errf(why, whylen, "previous dump cannot be checked: %s", err);
	} else if (strcmp(sum, sc->sha256) != 0) {
		log_warning("DB '%s': previous dump %s does not match the SHA-256 recorded when it "
		            "was written (damaged?); dumping it again",
		            db, path);
		cm_errf(why, whylen, "previous dump is damaged (SHA-256 mismatch)");
	} else {
		rc = 0;
	}
	free(path);
	return rc;
}

/* With skip_unchanged_dbs: ask the server what changed in the selected
 * databases (r->changes; a warning when it cannot say, and every database
 * is dumped). */
static void probe_changes(struct run *r)
{
	char err[1024];
	struct strv folders = {0};
	for (size_t i = 0; i < r->selected.n; i++) {
		const char *f = server_folder(&r->facts, r->selected.v[i]);
		strv_push(&folders, f ? f : "");
	}
	if (changes_probe(r->cfg->main.mysql_bin, r->facts.datadir, &r->selected, &folders,
	                  &r->changes, err, sizeof(err)) != 0)
		log_warning(
		        "skip_unchanged_dbs: change check unavailable: %s; dumping all databases",
		        err);
	strv_free(&folders);
}

/* Debug line: when `db` last changed and when its previous dump started. */
static void log_change_times(const char *db, int64_t last, int64_t start)
{
	char when[32] = "unknown", then[32] = "unknown";
	struct tm tm;
	time_t t = (time_t)last;
	if (last > 0 && gmtime_r(&t, &tm) != NULL)
		(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	t = (time_t)start;
	if (gmtime_r(&t, &tm) != NULL)
		(void)strftime(then, sizeof(then), "%Y-%m-%d %H:%M:%S UTC", &tm);
	log_debug("DB '%s' last change: %s [ts=%lld]; previous backup started %s [ts=%lld]", db,
	          when, (long long)last, then, (long long)start);
}

/* When prev has no sidecar under `stem`: the dump of `db` there under the
 * file name an older oma gave it (names_encode_legacy), with its sidecar
 * read into *sc.  Returns that file's name (malloc'ed), or NULL when there
 * is none (a warning when its sidecar cannot be read). */
static char *legacy_previous(const char *prev, const char *db, const char *stem, const char *file,
                             struct sidecar *sc)
{
	char old[NAMES_STEM_MAX + 1], err[1024];
	if (names_encode_legacy(db, old, sizeof(old)) != 0 || strcmp(old, stem) == 0)
		return NULL;
	int rc = reuse_read_sidecar(prev, old, sc, err, sizeof(err));
	if (rc < 0)
		log_warning("DB '%s': %s; dumping it", db, err);
	if (rc != 0)
		return NULL;
	return xasprintf("%s%s", old, file + strlen(stem));
}

/* Whether the dump prev/file of `db`, described by its sidecar sc, can be
 * reused: a complete dump by this compressor, not dated in the future,
 * whose SHA-256 still matches and whose change reference says the
 * database has not changed since.  Returns 1 when it can, 0 with why set
 * when not. */
static int previous_unchanged(const struct run *r, const char *prev, const char *db,
                              const char *file, const struct sidecar *sc, char *why, size_t whylen)
{
	if (!reuse_usable(prev, sc, r->pl->comp_name, file, why, whylen))
		return 0;
	if (strcmp(sc->encryption, r->enc_id) != 0) {
		/* A rotated key: the old file is not readable with the new one. */
		cm_errf(why, whylen,
		        "previous dump was encrypted for other recipients (%s, now %s)",
		        sc->encryption[0] ? sc->encryption : "none", r->enc_id);
		return 0;
	}
	if (sc->start > (int64_t)time(NULL)) {
		cm_errf(why, whylen, "previous dump is dated in the future");
		return 0;
	}
	if (verify_previous(prev, db, file, sc, why, whylen) != 0)
		return 0;
	struct changes_ref ref;
	if (changes_ref_parse(sc->extra, &ref) != 0 || !ref.valid) {
		cm_errf(why, whylen, "previous dump has no change-detection reference");
		return 0;
	}
	int64_t last = 0;
	int reuse = changes_unchanged(r->changes, db, &ref, &last, why, whylen) == 1;
	log_change_times(db, last, sc->start);
	return reuse;
}

/* Whether the previous dump of `db` in prev can be reused as `file` (file
 * name stem `stem`; previous_unchanged), its sidecar read into *sc: the
 * dump prev/file, or the file sc names when prev is a folder of an older
 * oma that named it otherwise.  Returns 1 when it can, 0 with why set when
 * not. */
static int may_reuse(const struct run *r, const char *prev, const char *db, const char *stem,
                     const char *file, struct sidecar *sc, char *why, size_t whylen)
{
	char err[1024];
	int rc = reuse_read_sidecar(prev, stem, sc, err, sizeof(err));
	if (rc < 0) {
		/* Not a plain "no record": someone or something put it there. */
		log_warning("DB '%s': %s; dumping it", db, err);
		cm_errf(why, whylen, "%s", err);
		return 0;
	}
	char *old = NULL;
	if (rc > 0) {
		old = legacy_previous(prev, db, stem, file, sc);
		if (old == NULL) {
			cm_errf(why, whylen, "no record of a complete previous dump");
			return 0;
		}
		log_debug("DB '%s': the previous backup has it as %s, the file name an older oma "
		          "gave it",
		          db, old);
	}
	int reuse = previous_unchanged(r, prev, db, old != NULL ? old : file, sc, why, whylen);
	free(old);
	return reuse;
}

/* Move the reusable dump prev/file of `db` into the current folder and
 * count it as reused.  Returns 0, or -1 (a warning logged) when it could
 * not be moved: then it is dumped. */
static int move_previous(struct run *r, const char *prev, const char *db, const char *stem,
                         const char *file, const struct sidecar *sc)
{
	char err[1024];
	int link_type = r->cfg->main.link_type;
	/* Named as an older oma named it (may_reuse): renamed on the way. */
	int renamed = strcmp(sc->file, file) != 0;
	int mv = renamed ? reuse_move_renamed(prev, r->current, file, stem, sc, link_type, err,
	                                      sizeof(err))
	                 : reuse_move(prev, r->current, file, stem, link_type, err, sizeof(err));
	if (mv < 0) {
		log_warning("DB '%s': %s; dumping it", db, err);
		return -1;
	}
	if (mv > 0)
		log_warning("DB '%s': %s", db, err);
	log_info("DB '%s': Backup is newer than last database change. Reusing previous backup", db);
	if (renamed)
		log_info("DB '%s': the previous backup has it as %s, the file name an older oma "
		         "gave it; kept as %s",
		         db, sc->file, file);
	const char *prev_base = strrchr(prev, '/') != NULL ? strrchr(prev, '/') + 1 : prev;
	/* A store has the previous folder's files under their names there. */
	offsite_put(r->off, file, sc->bytes, sc->sha256, db, renamed ? NULL : prev_base);
	r->reused_bytes[r->reused.n] = sc->bytes;
	strv_push(&r->reused, db);
	/* Its line is the one recorded when it was written (and checked by
	 * may_reuse just now), not a second read of the file. */
	sums_add(&r->sums, file, sc->sha256);
	return 0;
}

/* Phase 8 (before the dumps): with skip_unchanged_dbs, move the previous
 * dump of every database that has not changed since that dump started into
 * the current folder; everything else goes on the to-do list. */
static void phase_reuse(struct run *r)
{
	const struct cfg_main *m = &r->cfg->main;
	log_info("Skip unchanged databases: %s", m->skip_unchanged_dbs ? "True" : "False");
	if (!m->skip_unchanged_dbs) {
		for (size_t i = 0; i < r->selected.n; i++) {
			strv_push(&r->todo, r->selected.v[i]);
			if (r->dry)
				log_info("Dry run: DB '%s': would dump: skip_unchanged_dbs is off",
				         r->selected.v[i]);
		}
		return;
	}
	probe_changes(r);
	char *prev = store_previous(r->bdir, r->current_base, time(NULL));
	r->reused_bytes = xcalloc(r->selected.n, sizeof(*r->reused_bytes));
	for (size_t i = 0; i < r->selected.n && !cancel_signal; i++) {
		const char *db = r->selected.v[i];
		char stem[NAMES_STEM_MAX + 1], why[512] = "no previous backup";
		struct sidecar sc = {0};
		char *file = NULL;
		int reuse = 0;
		if (names_encode(db, stem, sizeof(stem)) == 0) {
			file = xasprintf("%s%s%s", stem, r->pl->comp->suffix,
			                 r->pl->enc ? r->pl->enc->suffix : "");
			if (prev != NULL && r->changes != NULL)
				reuse = may_reuse(r, prev, db, stem, file, &sc, why, sizeof(why));
		}
		if (reuse && r->dry) {
			/* sc.file: the name there, an older oma's or file */
			int renamed = strcmp(sc.file, file) != 0;
			log_info("Dry run: DB '%s': would reuse %s/%s%s%s (unchanged since it was "
			         "dumped)",
			         db, strrchr(prev, '/') != NULL ? strrchr(prev, '/') + 1 : prev,
			         sc.file, renamed ? " as " : "", renamed ? file : "");
			r->reused_bytes[r->reused.n] = sc.bytes;
			strv_push(&r->reused, db);
		} else if (reuse) {
			reuse = move_previous(r, prev, db, stem, file, &sc) == 0;
		} else if (r->dry) {
			log_info("Dry run: DB '%s': would dump: %s", db, why);
		} else {
			log_debug("DB '%s': dumping: %s", db, why);
		}
		if (!reuse)
			strv_push(&r->todo, db);
		reuse_sidecar_free(&sc);
		free(file);
	}
	if (!r->dry && prev != NULL && r->reused.n > 0 &&
	    (fsync_dir(r->current) != 0 || fsync_dir(prev) != 0))
		log_warning("Cannot sync the backup folders after reusing dumps: %s",
		            strerror(errno));
	free(prev);
}

/* As each dump succeeds (in its worker thread): a sidecar beside it, with
 * the change reference when there is one, so a later run with
 * skip_unchanged_dbs can reuse it (a failed dump never gets one). */
static void write_sidecar(void *arg, const struct dump_job *j)
{
	const struct run *r = arg;
	char err[512];
	char stem[NAMES_STEM_MAX + 1];
	if (names_encode(j->db, stem, sizeof(stem)) != 0)
		return;
	struct sidecar sc = {.start = (int64_t)j->started, .bytes = j->bytes};
	(void)snprintf(sc.compressor, sizeof(sc.compressor), "%s", r->pl->comp_name);
	(void)snprintf(sc.file, sizeof(sc.file), "%s", j->file);
	(void)snprintf(sc.sha256, sizeof(sc.sha256), "%s", j->sha256);
	(void)snprintf(sc.encryption, sizeof(sc.encryption), "%s", r->enc_id);
	char extra[1024] = "";
	if (r->changes != NULL) {
		struct changes_ref ref;
		changes_current_ref(r->changes, j->db, &ref);
		if (ref.valid && changes_ref_format(&ref, extra, sizeof(extra)) != 0)
			extra[0] = '\0';
	}
	sc.extra = extra;
	if (reuse_write_sidecar(r->current, stem, &sc, err, sizeof(err)) != 0)
		log_warning("DB '%s': %s", j->db, err);
}

/* As each dump succeeds (in its worker thread): its sidecar, and its
 * off-site copy. */
static void dump_done(void *arg, const struct dump_job *j)
{
	const struct run *r = arg;
	write_sidecar(arg, j);
	offsite_put(r->off, j->file, j->bytes, j->sha256, j->db, NULL);
}

/* Phase 7: dump the selected databases. */
static void phase_dump(struct run *r)
{
	const struct cfg_main *m = &r->cfg->main;
	int cpus = cpu_count();
	int par = cfg_parallelism(r->cfg, cpus);
	char *opts = py_list_repr(&m->mysqldump_options);
	log_info("Will start %d parallel mysqldump processes using options %s", par, opts);
	free(opts);

	r->njobs = r->todo.n;
	r->jobs = xcalloc(r->njobs, sizeof(*r->jobs));
	/* todo keeps the order of selected: walk both for the sizes. */
	for (size_t i = 0, k = 0; i < r->njobs; i++) {
		r->jobs[i].db = r->todo.v[i];
		while (k < r->selected.n && strcmp(r->selected.v[k], r->todo.v[i]) != 0)
			k++;
		if (k < r->selected.n && r->selected_sizes != NULL)
			r->jobs[i].weight = r->selected_sizes[k++];
	}
	struct dump_settings s = {
	        .dir = r->current,
	        .mysqldump_bin = m->mysqldump_bin,
	        .options = &m->mysqldump_options,
	        .comp = r->pl->comp,
	        .enc = r->pl->enc,
	        .level = (int)m->compression_level,
	        .parallelism = par,
	        .cpus = cpus,
	        .stall_timeout = m->dump_stall_timeout,
	        /* Every dump gets its sidecar, whatever skip_unchanged_dbs says
		 * (as upstream's DB.timestamp): a later run with it reuses. */
	        .done = dump_done,
	        .done_arg = r,
	};
	struct progress *prog = progress_start(r->jobs, r->njobs, r->reused.n, r->selected.n);
	dump_run(&s, r->jobs, r->njobs);
	progress_stop(prog);
	for (size_t i = 0; i < r->njobs; i++) {
		if (r->jobs[i].ok) {
			r->dumped++;
			sums_add(&r->sums, r->jobs[i].file, r->jobs[i].sha256);
		} else {
			r->failed++;
		}
	}
	if (r->failed == 0)
		log_info("Successfully dumped %zu of %zu, failed %u databases",
		         r->dumped + r->reused.n, r->facts.databases.n, r->failed);
	else
		log_error("Backing up all databases: Expected %zu, got %zu", r->selected.n,
		          r->dumped + r->reused.n);
}

/* Whether a dump failed because the backup file system is full. */
static int out_of_space(const struct run *r)
{
	const char *enospc = strerror(ENOSPC);
	for (size_t i = 0; i < r->njobs; i++)
		if (!r->jobs[i].ok && r->jobs[i].error != NULL && strstr(r->jobs[i].error, enospc))
			return 1;
	return 0;
}

/* Phase 9: SHA256SUMS, info.json and the last/last.log links. */
static int phase_finish(struct run *r)
{
	char err[512];
	int rc = 0;
	uint64_t used = 0;
	/* Before info.json, so a complete folder has it; a folder without one
	 * is still a backup (the run fails and says why). */
	if (sums_write(r->current, &r->sums, err, sizeof(err)) != 0) {
		log_error("%s", err);
		rc = -1;
	}
	if (store_dir_bytes(r->current, &used, err, sizeof(err)) != 0) {
		log_error("%s", err);
		rc = -1;
	}
	struct store_info info = {
	        .mysql_data_dir_bytes_used = r->datadir_bytes,
	        .backup_bytes_used = used,
	        /* Relative to what was backed up, as the next space check uses it. */
	        .compression_ratio = r->selected_bytes ? (double)used / (double)r->selected_bytes
	                                               : 0,
	        .started = (int64_t)r->started,
	        .completed = (int64_t)time(NULL),
	        .failed_databases = r->failed,
	};
	/* info.json marks the folder complete: without it, `last` must not
	 * move here. */
	if (store_write_info(r->current, &info, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return -1;
	}
	r->completed = 1;
	if (store_set_link(r->bdir, "last", r->current, err, sizeof(err)) != 0) {
		log_error("%s", err);
		rc = -1;
	}
	return rc;
}

static void set_last_log(struct run *r)
{
	char err[512];
	char *target = xasprintf("%s/oma.log", r->current);
	if (store_set_link(r->bdir, "last.log", target, err, sizeof(err)) != 0)
		log_error("%s", err);
	free(target);
}

/* The run leaves no backup: its log becomes backup_dir/last.log (a plain
 * file) and the current folder goes, so it never counts as a version. */
static void abandon_current(struct run *r)
{
	char err[512];
	char *from = xasprintf("%s/oma.log", r->current);
	char *to = xasprintf("%s/last.log", r->bdir);
	if (rename(from, to) == 0)
		log_moved(to);
	else
		log_error("Cannot move %s to %s: %s", from, to, strerror(errno));
	if (store_remove_tree(r->current, err, sizeof(err)) != 0)
		log_error("%s", err);
	else
		log_debug("Removed backup directory %s", r->current);
	free(from);
	free(to);
}

/* Whatever happened: `last` names a complete backup, no link dangles. */
static void fix_links(struct run *r)
{
	char err[512];
	struct strv notes = {0};
	if (store_fix_links(r->bdir, time(NULL), &notes, err, sizeof(err)) != 0)
		log_error("%s", err);
	for (size_t i = 0; i < notes.n; i++)
		log_warning("%s", notes.v[i]);
	strv_free(&notes);
}

/* The report's database records (dbs: one per dumped, reused and skipped
 * database) and counts, with each dump's off-site outcome. */
static void fill_dbs(const struct run *r, struct oma_db_result *dbs, struct oma_report *rep)
{
	for (size_t i = 0; i < r->njobs; i++) {
		const struct dump_job *j = &r->jobs[i];
		dbs[i] = (struct oma_db_result){
		        .name = j->db,
		        .outcome = j->ok ? OMA_DB_DUMPED : OMA_DB_FAILED,
		        .bytes = j->bytes,
		        .seconds = j->seconds,
		        .error = j->ok ? NULL : (j->error ? j->error : "not dumped"),
		};
		if (j->ok)
			rep->dumped++;
		else
			rep->failed++;
	}
	for (size_t i = 0; i < r->reused.n; i++) {
		dbs[r->njobs + i] = (struct oma_db_result){
		        .name = r->reused.v[i],
		        .outcome = OMA_DB_REUSED,
		        .bytes = r->reused_bytes[i],
		};
		rep->reused++;
	}
	for (size_t i = 0; i < r->skipped.n; i++)
		dbs[r->njobs + r->reused.n + i] = (struct oma_db_result){.name = r->skipped.v[i],
		                                                         .outcome = OMA_DB_SKIPPED};
	for (size_t i = 0; i < r->njobs + r->reused.n; i++) {
		if (dbs[i].outcome == OMA_DB_FAILED)
			continue;
		dbs[i].offsite = offsite_db_outcome(r->off, dbs[i].name, &dbs[i].offsite_error);
		if (dbs[i].offsite == OMA_OFFSITE_FAILED)
			rep->offsite = OMA_OFFSITE_FAILED;
	}
	if (rep->offsite == OMA_OFFSITE_FAILED) /* the store's first failure */
		(void)offsite_outcome(r->off, &rep->offsite_error);
	if (r->off != NULL && rep->offsite == OMA_OFFSITE_NONE)
		rep->offsite = OMA_OFFSITE_COPIED; /* so far: the folder is still to complete */
}

/* After result.json was written: the off-site copies of the folder's own
 * files and its completion (only for a complete folder whose dumps all
 * arrived), then the outcome of the copy as a whole into *rep.  Returns 1
 * when that changed what result.json says. */
static int settle_offsite(struct run *r, struct oma_report *rep)
{
	if (r->off == NULL)
		return 0;
	if (r->completed && !r->abandoned && !cancel_signal && rep->offsite != OMA_OFFSITE_FAILED) {
		static const char *const own[] = {SUMS_FILE, "result.json", "oma.log", NULL};
		const struct cfg_main *m = &r->cfg->main;
		offsite_finish(r->off, own, "info.json", r->failed == 0 && rep->exit_code == 0,
		               m->versions);
	}
	offsite_stop(r->off); /* no threads left when the reporters fork */
	const char *why = NULL;
	int outcome = offsite_outcome(r->off, &why);
	if (outcome == rep->offsite &&
	    (why == rep->offsite_error ||
	     (why != NULL && rep->offsite_error != NULL && strcmp(why, rep->offsite_error) == 0)))
		return 0;
	rep->offsite = outcome;
	rep->offsite_error = why;
	return 1;
}

/* Phase 12: result.json next to the run's log, the off-site copy's end,
 * then the reporters.  Returns the exit code, 4 when a reporter or an
 * off-site copy failed. */
static int phase_report(struct run *r, int code)
{
	size_t n = r->njobs + r->reused.n + r->skipped.n;
	struct oma_db_result *dbs = xcalloc(n, sizeof(*dbs));
	struct oma_report rep = {
	        .size = sizeof(rep),
	        .outcome = r->outcome,
	        .dbs = dbs,
	        .ndbs = n,
	        .db_size = sizeof(struct oma_db_result),
	        .log_path = log_path(),
	        .backup_dir = r->bdir,
	        .current_dir = r->abandoned ? NULL : r->current,
	        .total = (unsigned)r->facts.databases.n,
	        .skipped = (unsigned)r->skipped.n,
	};
	int before_offsite = cancel_signal;
	offsite_wait(r->off);
	fill_dbs(r, dbs, &rep);
	if (rep.offsite == OMA_OFFSITE_FAILED && code == OMA_EXIT_OK)
		code = OMA_EXIT_FAILED;
	rep.exit_code = code;
	char *summary = report_summary(&rep);
	rep.summary = summary;

	char err[512];
	char *json = r->abandoned ? xasprintf("%s/last.result.json", r->bdir)
	                          : xasprintf("%s/result.json", r->current);
	int written = report_write_json(&rep, json, err, sizeof(err)) == 0;
	if (!written) {
		log_error("%s", err);
		if (code == OMA_EXIT_OK) /* a full disk's exit 2 stays */
			code = OMA_EXIT_FAILED;
	} else if (!r->abandoned &&
	           store_set_link(r->bdir, "last.result.json", json, err, sizeof(err)) != 0) {
		/* Like last.log: backup_dir/last.result.json is the newest result. */
		log_error("%s", err);
	}
	int rewrite = settle_offsite(r, &rep);
	if (cancel_signal && !before_offsite) {
		/* The signal came while the off-site copies ended: the run
		 * fails, and its remote folder was not completed. */
		log_error("Backup cancelled by signal %d", (int)cancel_signal);
		r->outcome = rep.outcome = OMA_OUTCOME_FAILED;
		code = OMA_EXIT_FAILED;
		rewrite = 1;
	}
	if (rewrite) {
		/* The folder's completion failed: the reporters hear so. */
		if (rep.offsite == OMA_OFFSITE_FAILED && code == OMA_EXIT_OK)
			code = OMA_EXIT_FAILED;
		rep.exit_code = code;
		free(summary);
		summary = report_summary(&rep);
		rep.summary = summary;
	}
	int before_report = cancel_signal;
	if (r->pl->ld != NULL && report_send(r->pl->ld, &rep, r->pl->report_timeout) > 0 &&
	    code == OMA_EXIT_OK)
		code = OMA_EXIT_FAILED;
	if (cancel_signal && !before_report) {
		/* The signal came while the reporters ran. */
		log_error("Backup cancelled by signal %d", (int)cancel_signal);
		code = OMA_EXIT_FAILED;
	}
	if (written && (rewrite || code != rep.exit_code)) {
		/* result.json tells the exit code the run really ends with; the
		 * outcome stays the backup's own. */
		rep.exit_code = code;
		if (report_write_json(&rep, json, err, sizeof(err)) != 0)
			log_error("%s", err);
	}
	free(json);
	free(summary);
	free(dbs);
	return code;
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->njobs; i++)
		dump_job_clear(&r->jobs[i]);
	free(r->jobs);
	strv_free(&r->selected);
	strv_free(&r->todo);
	sums_free(&r->sums);
	free(r->selected_sizes);
	strv_free(&r->reused);
	free(r->reused_bytes);
	changes_free(r->changes);
	offsite_free(r->off);
	strv_free(&r->skipped);
	strv_free(&r->missing);
	server_facts_free(&r->facts);
	free(r->current);
	free(r->bdir);
}

/* How the walk of phases goes on after a step (run_phases). */
enum step {
	STEP_ON,      /* on to the next phase */
	STEP_KEEP,    /* the run is over; its folder stays */
	STEP_ABANDON, /* the run is over and leaves no backup: its folder goes */
	STEP_CANCEL,  /* a signal stopped the run */
};

/* The first lines of the log: level, configuration, compression and
 * encryption (r->enc_id set). */
static void log_setup(struct run *r)
{
	log_info("Logger initialized with level: %s", log_level_word(log_get_level()));
	log_debug("Using configuration file: %s", r->cfg->path);
	for (size_t i = 0; i < r->cfg->warnings.n; i++)
		log_warning("%s", r->cfg->warnings.v[i]);
	log_info("Compression: %s (%s)", r->pl->comp_name, r->pl->comp->suffix);
	if (r->pl->enc != NULL) {
		(void)snprintf(r->enc_id, sizeof(r->enc_id), "%s:%s", r->pl->enc_name,
		               r->pl->enc->fingerprint());
		log_info("Encryption: %s (%s), recipients %s", r->pl->enc_name, r->pl->enc->suffix,
		         r->pl->enc->fingerprint());
	}
}

/* Phase 2: the current folder and its log, then the survey of the backup
 * folder.  Returns 0, or -1 after saying why (on stderr: there is no log
 * yet) with nothing left to free. */
static int phase_start(struct run *r)
{
	char err[1024];
	const struct cfg_main *m = &r->cfg->main;
	r->bdir = realpath(m->backup_dir, NULL);
	if (r->bdir == NULL) {
		(void)fprintf(stderr, "oma: cannot resolve backup folder '%s': %s\n", m->backup_dir,
		              strerror(errno));
		return -1;
	}
	if (store_create_current(r->bdir, r->started, &r->current, err, sizeof(err)) != 0) {
		/* No log file yet: the line goes to stderr once. */
		log_error("%s", err);
		log_close();
		free(r->bdir);
		r->bdir = NULL;
		return -1;
	}
	r->current_base = strrchr(r->current, '/') ? strrchr(r->current, '/') + 1 : r->current;
	char *logfile = xasprintf("%s/oma.log", r->current);
	if (log_open(logfile) != 0)
		(void)fprintf(stderr, "oma: cannot write %s: %s\n", logfile, strerror(errno));
	free(logfile);
	log_setup(r);
	phase_survey(r);
	return 0;
}

/* Phase 3: skip and run conditions.  A signal stops whatever runs
 * (conditions, mysql, mysqldump); every phase then ends at the next
 * check.  Sets *code when the run conditions fail. */
static enum step phase_conditions(struct run *r, int *code)
{
	const struct oma_condition_ops *cond = r->pl->cond;
	if (cond != NULL && cond_skip(cond, &r->cfg->cond) == 1 && !cancel_signal) {
		log_info("Backup skipped due to skip conditions (but considered successful)");
		r->outcome = OMA_OUTCOME_SKIPPED;
		return STEP_ABANDON;
	}
	if (cancel_signal)
		return STEP_CANCEL;
	if (cond != NULL && cond_run(cond, &r->cfg->cond) != 0 && !cancel_signal) {
		log_error("Backup aborted due to failed run conditions");
		r->outcome = OMA_OUTCOME_ABORTED;
		*code = OMA_EXIT_CONFIG;
		return STEP_ABANDON;
	}
	return cancel_signal ? STEP_CANCEL : STEP_ON;
}

/* Phases 5, 4 and 6: the server's facts, the prune before the dumps
 * (delete_before) and the space check.  Phase 5 comes before 4: never
 * prune when the server cannot be reached.  Sets *code when the run ends
 * here. */
static enum step phase_prepare(struct run *r, int *code)
{
	const struct cfg_main *m = &r->cfg->main;
	log_info("Performing the backup now ...");
	server_set_timeout(m->server_timeout);
	if (phase_server(r) != 0) {
		if (cancel_signal)
			return STEP_CANCEL;
		r->outcome = OMA_OUTCOME_FAILED;
		*code = OMA_EXIT_FAILED;
		return STEP_ABANDON;
	}
	if (cancel_signal)
		return STEP_CANCEL;
	read_previous(r);
	r->keep_old = m->delete_before && previous_failed(r);
	if (r->dry && m->delete_before && !r->keep_old) {
		char err[512];
		if (store_prunable_bytes(r->bdir, m->versions > 1 ? m->versions - 1 : 1,
		                         r->current_base, time(NULL), &r->dry_freed, err,
		                         sizeof(err)) != 0)
			log_warning("%s", err);
	}
	if (m->delete_before && !r->keep_old) {
		log_debug(
		        "Removing old backup directories before new backup. Will keep %ld versions ...",
		        m->versions);
		/* With versions = 1 the last complete backup stays until this one
		 * is complete (phase 10), unless phase 6 needs its room. */
		(void)phase_prune(r, m->versions > 1 ? m->versions - 1 : 1);
	}
	if (cancel_signal)
		return STEP_CANCEL;
	if (phase_space(r) != 0) {
		r->outcome = OMA_OUTCOME_NO_SPACE;
		*code = OMA_EXIT_NO_SPACE;
		return STEP_ABANDON;
	}
	return cancel_signal ? STEP_CANCEL : STEP_ON;
}

/* Phases 8 and 7: reuse what has not changed, dump the rest.  Sets *code
 * when a dump failed or the disk filled up. */
static enum step phase_dumps(struct run *r, int *code)
{
	if (r->pl->ld != NULL)
		r->off = offsite_start(r->pl->ld, r->current_base, r->current);
	phase_reuse(r);
	if (cancel_signal)
		return STEP_CANCEL;
	phase_dump(r);
	if (cancel_signal)
		return STEP_CANCEL;
	if (r->failed > 0)
		*code = OMA_EXIT_FAILED;
	if (out_of_space(r)) {
		/* The estimate was too low: treat it like the check before the
		 * dumps, unless reused dumps were moved in (they must stay). */
		log_error("Not enough free space in target directory.");
		r->outcome = OMA_OUTCOME_NO_SPACE;
		*code = OMA_EXIT_NO_SPACE;
		if (r->reused.n == 0)
			return STEP_ABANDON;
	}
	return STEP_ON;
}

/* Phases 9, 10 and 11: a run with a good dump gets its info.json and
 * links, and prunes; one without leaves nothing (and fails unless nothing
 * was selected to begin with).  The terminate conditions then see the
 * finished backup folder.  Sets *code when something failed. */
static enum step phase_complete(struct run *r, int *code)
{
	const struct cfg_main *m = &r->cfg->main;
	if (r->dumped + r->reused.n == 0) {
		if (r->selected.n == 0 && m->do_databases.n > 0) {
			/* Every name the admin asked for is missing: a typo or a
			 * dropped database, not a success. */
			log_error(
			        "None of the databases listed in do_databases exists; nothing was "
			        "backed up");
			*code = OMA_EXIT_FAILED;
		} else if (r->selected.n == 0) {
			log_warning("No databases selected for backup");
		} else {
			log_error(
			        "No database was dumped successfully; keeping every previous backup");
			*code = OMA_EXIT_FAILED;
		}
		return STEP_ABANDON;
	}
	if (phase_finish(r) != 0)
		*code = OMA_EXIT_FAILED;
	else
		set_last_log(r); /* before pruning takes the old log away */
	if (cancel_signal)
		return STEP_CANCEL;
	/* A failed database's last good dump lives in an older folder: keep
	 * every folder until all databases dump again. */
	if (r->failed > 0)
		log_warning("Not removing old backup directories: %u database(s) failed and "
		            "their previous dumps are kept",
		            r->failed);
	else if (*code == OMA_EXIT_OK)
		(void)phase_prune(r, m->versions - 1);
	if (cancel_signal)
		return STEP_CANCEL;
	if (r->pl->cond != NULL && cond_terminate(r->pl->cond, &r->cfg->cond, r->current) != 0)
		*code = OMA_EXIT_FAILED;
	return cancel_signal ? STEP_CANCEL : STEP_KEEP;
}

/* Phases 3 to 11, each as long as the one before said to go on.  Returns
 * how the run ends (STEP_KEEP, STEP_ABANDON or STEP_CANCEL); *code is the
 * exit code so far. */
static enum step run_phases(struct run *r, int *code)
{
	enum step st = phase_conditions(r, code);
	if (st == STEP_ON)
		st = phase_prepare(r, code);
	if (st == STEP_ON)
		st = phase_dumps(r, code);
	if (st == STEP_ON)
		st = phase_complete(r, code);
	return st;
}

/* A run stopped by a signal fails.  Nothing of it worth keeping: it
 * leaves no folder.  Otherwise the folder stays, incomplete unless its
 * info.json was written, and a later run finishes it off.  Returns
 * STEP_ABANDON or STEP_KEEP. */
static enum step end_cancelled(const struct run *r, int *code)
{
	log_error("Backup cancelled by signal %d", (int)cancel_signal);
	*code = OMA_EXIT_FAILED;
	return r->dumped == 0 && r->reused.n == 0 ? STEP_ABANDON : STEP_KEEP;
}

int runner_dry_run(const struct oma_config *cfg, const struct run_plugins *pl)
{
	struct run r = {.cfg = cfg, .pl = pl, .started = time(NULL), .dry = 1};
	const struct cfg_main *m = &cfg->main;
	int code = OMA_EXIT_OK;
	r.bdir = realpath(m->backup_dir, NULL);
	if (r.bdir == NULL) {
		(void)fprintf(stderr, "oma: cannot resolve backup folder '%s': %s\n", m->backup_dir,
		              strerror(errno));
		return OMA_EXIT_FAILED;
	}
	/* No folder of its own: free space is the backup folder's, and no
	 * existing folder is "the current one". */
	r.current = xstrdup(r.bdir);
	r.current_base = "";
	int out = dup(STDOUT_FILENO);
	if (out >= 0) {
		log_set_stderr_level(OMA_LOG_ERROR + 10); /* every line once, on stdout */
		(void)log_use_fd(out, "stdout");
	}
	log_info("Dry run: nothing is created, changed or removed, no mysqldump starts, and no "
	         "condition, reporter or off-site store runs");
	log_setup(&r);
	/* The run's first write is its folder (store.c): a read-only mount or
	 * an immutable folder fails it with exit 4; access() knows both. */
	if (access(r.bdir, W_OK | X_OK) != 0) {
		log_error("store: cannot create backup folder in '%s': %s", r.bdir,
		          strerror(errno));
		code = OMA_EXIT_FAILED;
		goto out;
	}
	phase_survey(&r);
	const struct cfg_conditions *c = &cfg->cond;
	if (c->skip.n + c->run.n + c->terminate.n > 0)
		log_info(
		        "Dry run: [conditions] not run (%zu skip, %zu run, %zu terminate commands)",
		        c->skip.n, c->run.n, c->terminate.n);
	enum step st = phase_prepare(&r, &code);
	if (st == STEP_ON)
		phase_reuse(&r);
	if (st == STEP_ON && !cancel_signal) {
		int par = cfg_parallelism(cfg, cpu_count());
		char *list = py_list_repr(&r.todo);
		log_info("Dry run: would dump %zu and reuse %zu of %zu selected databases, %d "
		         "parallel mysqldump processes: %s",
		         r.todo.n, r.reused.n, r.selected.n, par, list);
		free(list);
		/* With delete_before the prune before the dumps said it already. */
		if (r.selected.n > 0 && !(m->delete_before && !r.keep_old))
			(void)phase_prune(&r, m->versions - 1);
	}
	if (cancel_signal) {
		log_error("Dry run cancelled by signal %d", (int)cancel_signal);
		code = OMA_EXIT_FAILED;
	}
out:
	log_info("Dry run: exit code %d", code);
	log_close();
	run_free(&r);
	return code;
}

int runner_run(const struct oma_config *cfg, const struct run_plugins *pl)
{
	struct run r = {.cfg = cfg, .pl = pl, .started = time(NULL)};
	int code = OMA_EXIT_OK;
	if (phase_start(&r) != 0)
		return OMA_EXIT_FAILED;

	enum step st = run_phases(&r, &code);
	if (st == STEP_CANCEL)
		st = end_cancelled(&r, &code);
	if (st == STEP_ABANDON) {
		offsite_wait(r.off); /* no copy reads files that are about to go */
		abandon_current(&r);
		r.abandoned = 1;
	} else {
		set_last_log(&r);
	}
	fix_links(&r);
	if (code == OMA_EXIT_FAILED)
		r.outcome = OMA_OUTCOME_FAILED;
	code = phase_report(&r, code);
	log_close();
	run_free(&r);
	return code;
}
