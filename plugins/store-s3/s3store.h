/* s3store.h - the parts of the store plugin "s3": its settings and credentials, uploads of files, the remote folders. */
#ifndef OMA_S3STORE_H
#define OMA_S3STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <oma/plugin.h>

#include "s3.h"

#define S3STORE_PARALLEL_MAX 16

/* What [s3] and the credentials say (storecfg.c); read-only once loaded,
 * so put() threads share it. */
struct s3store_cfg {
	const struct oma_host *host;
	char *endpoint; /* "http[s]://HOST[:PORT]" */
	char *bucket, *region, *ca_file;
	char *prefix;    /* no leading or trailing '/'; the host name unless set */
	bool prefix_set; /* [s3] prefix given (else begin() uses the folder's host) */
	char *access_key, *secret_key;
	char cred_from[512]; /* where they came from, for messages ("credentials_file F [P]") */
	long versions;       /* remote folders to keep; 0: the commit's */
	uint64_t part_size;  /* bytes */
	int parallel;        /* put() workers, and parts in flight for one file */
	int retries;
	int timeout; /* seconds a request may stall */
};

/* One run, from begin() to end(). */
struct s3store_run {
	char *folder; /* "oma_YYYYMMDD-HHMMSS" */
	char *prefix;
};

/* ---- storecfg.c ---- */

/* Read [s3] through host->config_get (the core checked types and ranges
 * against the table of store.c) and the credentials (credentials_file, else
 * the environment) into *cfg.  Returns 0, or -1 with err naming the key or
 * file; *cfg is then freed. */
int s3store_cfg_load(const struct oma_host *host, struct s3store_cfg *cfg, char *err,
                     size_t errlen);
/* Free what s3store_cfg_load filled in (the secret wiped first). */
void s3store_cfg_free(struct s3store_cfg *cfg);
/* A new S3 client for cfg: its retries, timeouts, the host's stopping()
 * and retries logged as warnings.  Returns 0, or -1 with err filled. */
int s3store_client(const struct s3store_cfg *cfg, struct s3_client **c, char *err, size_t errlen);
/* Log through the host (nothing without one). */
void s3store_log(const struct s3store_cfg *cfg, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* "PREFIX/FOLDER/NAME" (folder NULL: "PREFIX/NAME") into key (S3_KEY_MAX + 1
 * bytes).  Returns 0, or -1 with err filled when it is too long. */
int s3store_key(char *key, const char *prefix, const char *folder, const char *name, char *err,
                size_t errlen);

/* ---- storeput.c ---- */

/* Store the local file f as PREFIX/FOLDER/NAME: copied on the server from
 * PREFIX/REUSED_FROM/NAME when that is the same file, else uploaded; then
 * checked with HEAD.  Returns 0, or -1 with err filled ("cancelled" once
 * the host is stopping). */
int s3store_put(const struct s3store_cfg *cfg, const struct s3store_run *run,
                const struct oma_store_file *f, char *err, size_t errlen);

/* ---- storeremote.c ---- */

/* Make sure PREFIX/ is this backup's: PREFIX/.oma-owner (written on first
 * use) must name `owner` ("HOST:BACKUP_DIR"), so that two configurations never abort or prune each
 * other's copies.  Returns 0, or -1 with err filled (another owner: the
 * message says to give each backup_dir its own prefix). */
int s3store_claim(const struct s3store_cfg *cfg, const char *prefix, const char *owner, char *err,
                  size_t errlen);
/* Abort the unfinished multipart uploads below PREFIX/ (left by earlier
 * runs); failures are logged as warnings. */
void s3store_abort_stale(const struct s3store_cfg *cfg, const char *prefix);
/* Complete the remote folder of run: c->marker, then PREFIX/last, then
 * prune when c->prune (a failed prune is a warning).  Returns 0, or -1
 * with err filled when the folder could not be completed. */
int s3store_commit(const struct s3store_cfg *cfg, const struct s3store_run *run,
                   const struct oma_store_commit *c, char *err, size_t errlen);
/* PUT, HEAD and DELETE a probe object PREFIX/.oma-probe-RANDOM.  Returns 0,
 * or -1 with the server's error in err. */
int s3store_check(const struct s3store_cfg *cfg, char *err, size_t errlen);

#endif
