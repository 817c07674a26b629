/* storeremote.c - the store plugin "s3": the remote folders: completing one, pruning old ones, stale uploads, the probe of --check-remote. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "s3enc.h"
#include "s3store.h"

#define S3STORE_FOLDER_LEN 19 /* "oma_YYYYMMDD-HHMMSS" */

/* A growing list of malloc'ed strings. */
struct names {
	char **v;
	size_t n, cap;
	bool failed; /* out of memory */
};

/* Append a copy of the len bytes at s to l.  Returns 0, or -1 (memory;
 * l->failed set). */
static int names_add(struct names *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		size_t cap = l->cap > 0 ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			l->failed = true;
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strndup(s, len);
	if (l->v[l->n] == NULL) {
		l->failed = true;
		return -1;
	}
	l->n++;
	return 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether s is a backup folder's name, oma_YYYYMMDD-HHMMSS. */
static bool folder_name(const char *s, size_t n)
{
	if (n != S3STORE_FOLDER_LEN || strncmp(s, "oma_", 4) != 0 || s[12] != '-')
		return false;
	for (size_t i = 4; i < n; i++) {
		if (i != 12 && (s[i] < '0' || s[i] > '9'))
			return false;
	}
	return true;
}

/* ---- stale multipart uploads ------------------------------------------- */

/* s3_uploads_fn: keep key and upload id (two entries) in the list ctx. */
static int on_upload(void *ctx, const char *key, const char *upload_id)
{
	struct names *l = ctx;
	if (names_add(l, key, strlen(key)) != 0 || names_add(l, upload_id, strlen(upload_id)) != 0)
		return -1;
	return 0;
}

void s3store_abort_stale(const struct s3store_cfg *cfg, const char *prefix)
{
	char below[S3_KEY_MAX + 1], err[1024] = "";
	struct names l = {0};
	struct s3_client *c = NULL;
	(void)snprintf(below, sizeof(below), "%s/", prefix);
	if (s3store_client(cfg, &c, err, sizeof(err)) != 0 ||
	    s3_list_uploads(c, below, on_upload, &l, err, sizeof(err)) != 0) {
		s3store_log(cfg, OMA_LOG_WARNING,
		            "s3: unfinished uploads below %s/ not looked for: %s", prefix,
		            l.failed ? "out of memory" : err);
		goto out;
	}
	for (size_t i = 0; i + 1 < l.n; i += 2) {
		if (s3_mpu_abort(c, l.v[i], l.v[i + 1], err, sizeof(err)) != 0)
			s3store_log(cfg, OMA_LOG_WARNING, "%s", err);
		else
			s3store_log(cfg, OMA_LOG_INFO,
			            "s3: aborted an unfinished upload of %s left by an earlier run",
			            l.v[i]);
	}
out:
	s3_client_free(c);
	names_free(&l);
}

/* ---- who the prefix belongs to ------------------------------------------- */

#define OWNER_OBJECT ".oma-owner"

/* The object key (at most 4 KiB) into buf as a string; *missing set when
 * there is none.  Returns 0, or -1 with err filled (a GET, unlike a HEAD,
 * brings the server's error code: SignatureDoesNotMatch ...). */
static int get_small(struct s3_client *c, const char *key, char *buf, size_t buflen, int *missing,
                     char *err, size_t errlen)
{
	*missing = 0;
	int fd = memfd_create("oma-s3-owner", MFD_CLOEXEC);
	if (fd < 0) {
		cm_errf(err, errlen, "s3: GET %s: cannot make a buffer: %s", key, strerror(errno));
		return -1;
	}
	int rc = s3_get_fd(c, key, fd, err, errlen); /* retried by the client */
	if (rc != 0 && s3_status(c) == 404) {
		*missing = 1;
		rc = 0;
	}
	ssize_t n = 0;
	if (rc == 0 && !*missing) {
		n = pread(fd, buf, buflen - 1, 0);
		if (n < 0) {
			cm_errf(err, errlen, "s3: GET %s: %s", key, strerror(errno));
			rc = -1;
			n = 0;
		}
	}
	buf[n] = '\0';
	close(fd);
	return rc;
}

int s3store_claim(const struct s3store_cfg *cfg, const char *prefix, const char *owner, char *err,
                  size_t errlen)
{
	char key[S3_KEY_MAX + 1], have[4096];
	struct s3_client *c = NULL;
	char *want = NULL;
	int rc = -1, missing = 0;
	if (asprintf(&want, "%s\n", owner) < 0) {
		cm_errf(err, errlen, "s3: out of memory");
		return -1;
	}
	if (s3store_key(key, prefix, NULL, OWNER_OBJECT, err, errlen) != 0 ||
	    s3store_client(cfg, &c, err, errlen) != 0 ||
	    get_small(c, key, have, sizeof(have), &missing, err, errlen) != 0)
		goto out;
	if (!missing) {
		if (strcmp(have, want) == 0)
			rc = 0;
		else
			cm_errf(err, errlen,
			        "s3: %s/ in bucket %s belongs to another oma backup (%s says "
			        "\"%.*s\"); this one is %s: give each backup_dir its own [s3] prefix "
			        "(nothing was copied, aborted or pruned)",
			        prefix, cfg->bucket, key, (int)strcspn(have, "\n"), have, owner);
		goto out;
	}
	/* A new prefix: claim it. */
	struct s3_put_opts o = {.content_type = "text/plain"};
	rc = s3_put_mem(c, key, want, strlen(want), &o, NULL, err, errlen);
	if (rc == 0)
		s3store_log(cfg, OMA_LOG_INFO, "s3: %s/ in bucket %s now belongs to %s", prefix,
		            cfg->bucket, owner);
out:
	free(want);
	s3_client_free(c);
	return rc;
}

/* ---- pruning ------------------------------------------------------------- */

/* What on_folder needs: where the names start, and the list. */
struct folder_list {
	size_t skip; /* strlen("PREFIX/") */
	struct names l;
};

/* s3_list_fn: the backup folders among the common prefixes PREFIX/NAME/. */
static int on_folder(void *ctx, const struct s3_list_entry *e)
{
	struct folder_list *f = ctx;
	size_t n = strlen(e->key);
	if (!e->is_prefix || n < f->skip + 2 || e->key[n - 1] != '/')
		return 0;
	const char *name = e->key + f->skip;
	if (!folder_name(name, n - f->skip - 1))
		return 0;
	return names_add(&f->l, name, n - f->skip - 1);
}

/* s3_list_fn: every key into the list ctx. */
static int on_key(void *ctx, const struct s3_list_entry *e)
{
	return e->is_prefix ? 0 : names_add(ctx, e->key, strlen(e->key));
}

/* Whether the remote folder name is complete (has its info.json).
 * Returns 1, 0, or -1 with err filled when HEAD failed otherwise. */
static int complete(struct s3_client *c, const char *prefix, const char *name, char *err,
                    size_t errlen)
{
	char key[S3_KEY_MAX + 1];
	struct s3_object_info in;
	if (s3store_key(key, prefix, name, "info.json", err, errlen) != 0)
		return -1;
	if (s3_head(c, key, &in, err, errlen) == 0)
		return 1;
	return s3_status(c) == 404 ? 0 : -1;
}

/* Remove every object of the remote folder name.  Returns 0 or -1. */
static int remove_folder(const struct s3store_cfg *cfg, struct s3_client *c, const char *prefix,
                         const char *name, char *err, size_t errlen)
{
	char below[S3_KEY_MAX + 1];
	struct names keys = {0};
	int rc = -1;
	(void)snprintf(below, sizeof(below), "%s/%s/", prefix, name);
	if (s3_list(c, below, NULL, 0, on_key, &keys, err, errlen) != 0) {
		if (keys.failed)
			cm_errf(err, errlen, "s3: listing %s: out of memory", below);
		goto out;
	}
	if (s3_delete_many(c, (const char *const *)keys.v, keys.n, err, errlen) != 0)
		goto out;
	s3store_log(cfg, OMA_LOG_INFO, "s3: removed remote folder %s", name);
	rc = 0;
out:
	names_free(&keys);
	return rc;
}

/* Keep the newest `versions` complete remote folders (current, just
 * completed, is one of them), remove the older ones and the incomplete
 * ones older than the newest complete one; never current.  Returns 0, or
 * -1 with err filled (the first failure; the others are logged). */
static int prune(const struct s3store_cfg *cfg, struct s3_client *c, const char *prefix,
                 const char *current, long versions, char *err, size_t errlen)
{
	struct folder_list f = {.skip = strlen(prefix) + 1};
	char below[S3_KEY_MAX + 1], why[1024];
	int rc = -1, *done = NULL;
	(void)snprintf(below, sizeof(below), "%s/", prefix);
	if (s3_list(c, below, "/", 0, on_folder, &f, err, errlen) != 0) {
		if (f.l.failed)
			cm_errf(err, errlen, "s3: listing %s: out of memory", below);
		goto out;
	}
	qsort(f.l.v, f.l.n, sizeof(*f.l.v), by_name);
	done = calloc(f.l.n + 1, sizeof(*done));
	if (done == NULL) {
		cm_errf(err, errlen, "s3: pruning %s: out of memory", below);
		goto out;
	}
	const char *newest = current;
	for (size_t i = 0; i < f.l.n; i++) {
		done[i] = strcmp(f.l.v[i], current) == 0
		                  ? 1
		                  : complete(c, prefix, f.l.v[i], err, errlen);
		if (done[i] < 0)
			goto out;
		if (done[i] == 1 && strcmp(f.l.v[i], newest) > 0)
			newest = f.l.v[i];
	}
	long kept = 1;
	rc = 0;
	for (size_t i = f.l.n; i-- > 0;) {
		const char *name = f.l.v[i];
		if (strcmp(name, current) == 0)
			continue;
		bool drop = done[i] == 1 ? kept >= versions : strcmp(name, newest) < 0;
		if (done[i] == 1 && !drop)
			kept++;
		if (drop && remove_folder(cfg, c, prefix, name, why, sizeof(why)) != 0) {
			if (rc == 0)
				cm_errf(err, errlen, "%s", why);
			else
				s3store_log(cfg, OMA_LOG_WARNING, "s3: pruning: %s", why);
			rc = -1;
		}
	}
out:
	free(done);
	names_free(&f.l);
	return rc;
}

/* ---- commit and check ---------------------------------------------------- */

int s3store_commit(const struct s3store_cfg *cfg, const struct s3store_run *run,
                   const struct oma_store_commit *c, char *err, size_t errlen)
{
	char key[S3_KEY_MAX + 1], text[64], why[1024];
	struct s3_client *cl = NULL;
	int rc = -1;
	if (c == NULL || c->size < sizeof(*c) || c->marker == NULL) {
		cm_errf(err, errlen, "s3: commit: no completion mark given");
		return -1;
	}
	if (s3store_put(cfg, run, c->marker, err, errlen) != 0 ||
	    s3store_key(key, run->prefix, NULL, "last", err, errlen) != 0 ||
	    s3store_client(cfg, &cl, err, errlen) != 0)
		goto out;
	(void)snprintf(text, sizeof(text), "%s\n", run->folder);
	struct s3_put_opts o = {.content_type = "text/plain"};
	if (s3_put_mem(cl, key, text, strlen(text), &o, NULL, err, errlen) != 0)
		goto out;
	rc = 0;
	long versions = cfg->versions > 0 ? cfg->versions : c->versions;
	if (c->prune && prune(cfg, cl, run->prefix, run->folder, versions > 0 ? versions : 1, why,
	                      sizeof(why)) != 0)
		s3store_log(cfg, OMA_LOG_WARNING, "s3: pruning %s/: %s", run->prefix, why);
out:
	s3_client_free(cl);
	return rc;
}

int s3store_check(const struct s3store_cfg *cfg, char *err, size_t errlen)
{
	unsigned char rnd[8];
	char hex[17], name[64], key[S3_KEY_MAX + 1], why[512];
	struct s3_client *c = NULL;
	struct s3_object_info in;
	static const char probe[] = "oma --check-remote probe\n";
	int rc = -1;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		cm_errf(err, errlen, "s3: check: no random bytes");
		return -1;
	}
	s3enc_hex(rnd, sizeof(rnd), hex);
	(void)snprintf(name, sizeof(name), ".oma-probe-%s", hex);
	if (s3store_key(key, cfg->prefix, NULL, name, err, errlen) != 0 ||
	    s3store_client(cfg, &c, err, errlen) != 0)
		goto out;
	if (s3_put_mem(c, key, probe, sizeof(probe) - 1, NULL, NULL, err, errlen) != 0)
		goto out;
	if (s3_head(c, key, &in, err, errlen) != 0) {
		(void)s3_delete(c, key, why, sizeof(why));
		goto out;
	}
	if (in.size != sizeof(probe) - 1) {
		cm_errf(err, errlen, "s3: HEAD %s/%s: %llu bytes, %zu sent", cfg->bucket, key,
		        (unsigned long long)in.size, sizeof(probe) - 1);
		(void)s3_delete(c, key, why, sizeof(why));
		goto out;
	}
	if (s3_delete(c, key, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && c != NULL) {
		/* Which key was refused: the access key ID (never the secret) and
		 * where it came from. */
		size_t n = strlen(err);
		(void)snprintf(err + n, errlen - n, " (access key %s from %s)", cfg->access_key,
		               cfg->cred_from);
	}
	s3_client_free(c);
	return rc;
}
