/* store.c - store plugin "s3": copies each backup folder to an S3 bucket (descriptor, [s3] keys, the store functions). */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <oma/plugin.h>

#include "common/errbuf.h"
#include "s3store.h"

/*
 * Layout in the bucket: PREFIX/oma_YYYYMMDD-HHMMSS/NAME for every file of
 * the folder (its info.json last: a remote folder with one is complete),
 * then PREFIX/last ("oma_YYYYMMDD-HHMMSS\n": the newest complete folder).
 * Each object carries x-amz-meta-sha256 (the core's SHA-256 of the file);
 * after an upload HEAD must show its size, the ETag of the local MD5s and
 * that metadata.  A reused dump is copied on the server from the earlier
 * folder when the copy there has the same size and SHA-256.  README.md ("Off-site
 * copies to S3") is the admin's page; NOTES.md the findings against radosgw.
 */

static struct {
	struct s3store_cfg cfg;
	bool ready;       /* init() succeeded */
	bool curl_global; /* curl_global_init() ran */
} S3S;

/* The keys of [s3]; those without a default are unset unless the file sets them. */
static const struct oma_setting s3_settings[] = {
        {.key = "endpoint",
         .type = OMA_SETTING_STRING,
         .help = "the S3 server (mandatory): https://HOST[:PORT], http://..., or HOST[:PORT] "
                 "for https"},
        {.key = "bucket", .type = OMA_SETTING_STRING, .help = "the bucket (mandatory)"},
        {.key = "prefix",
         .type = OMA_SETTING_STRING,
         .help = "key prefix of this host's folders; default: the host name"},
        {.key = "region",
         .type = OMA_SETTING_STRING,
         .def = "us-east-1",
         .help = "region in the signature"},
        {.key = "credentials_file",
         .type = OMA_SETTING_STRING,
         .help = "AWS credentials file (mode 0600); default: AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY from the environment"},
        {.key = "profile",
         .type = OMA_SETTING_STRING,
         .def = "default",
         .help = "section of credentials_file to use"},
        {.key = "ca_file",
         .type = OMA_SETTING_STRING,
         .help = "PEM bundle of the CAs to trust instead of the system's"},
        {.key = "path_style",
         .type = OMA_SETTING_BOOL,
         .def = "true",
         .help = "ENDPOINT/BUCKET/KEY URLs (false, virtual-host style: not supported yet)"},
        {.key = "versions",
         .type = OMA_SETTING_INT,
         .min = 1,
         .max = 100000,
         .help = "complete remote folders to keep; default: [main] versions"},
        {.key = "part_size",
         .type = OMA_SETTING_INT,
         .def = "16",
         .min = 5,
         .max = 5120,
         .help = "MiB per part of a multipart upload; smaller files go in one PUT"},
        {.key = "parallel_uploads",
         .type = OMA_SETTING_INT,
         .def = "4",
         .min = 1,
         .max = S3STORE_PARALLEL_MAX,
         .help = "files sent at once, and parts in flight for one large file"},
        {.key = "retries",
         .type = OMA_SETTING_INT,
         .def = "5",
         .min = 0,
         .max = 20,
         .help = "further attempts of a request after 5xx, time-outs, connection errors"},
        {.key = "timeout",
         .type = OMA_SETTING_INT,
         .def = "60",
         .min = 1,
         .max = 3600,
         .help = "seconds a request may stall before it fails"},
        {.key = NULL},
};

static void s3_fini(void)
{
	s3store_cfg_free(&S3S.cfg);
	if (S3S.curl_global)
		curl_global_cleanup();
	memset(&S3S, 0, sizeof(S3S));
}

/* Start libcurl and read [s3] and the credentials.  Fails naming the key
 * or file. */
static int s3_init(const struct oma_host *host, char *err, size_t errlen)
{
	s3_fini();
	CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (cc != CURLE_OK) {
		cm_errf(err, errlen, "s3: cannot start libcurl: %s", curl_easy_strerror(cc));
		return -1;
	}
	S3S.curl_global = true;
	if (s3store_cfg_load(host, &S3S.cfg, err, errlen) != 0) {
		s3_fini();
		return -1;
	}
	S3S.ready = true;
	return 0;
}

/* Fails with err when init() did not succeed. */
static int need_ready(char *err, size_t errlen)
{
	if (S3S.ready)
		return 0;
	cm_errf(err, errlen, "s3: not initialised");
	return -1;
}

static void s3_end(void *run)
{
	struct s3store_run *r = run;
	if (r == NULL)
		return;
	free(r->folder);
	free(r->prefix);
	free(r);
}

/* Remember the folder and the prefix, make sure the prefix is this
 * backup's (s3store_claim), abort uploads earlier runs left unfinished.
 * Fails on a bad folder, a prefix of another backup, an unreachable server
 * or out of memory. */
static int s3_begin(void **run, const struct oma_store_folder *f, unsigned *workers, char *err,
                    size_t errlen)
{
	*run = NULL;
	if (need_ready(err, errlen) != 0)
		return -1;
	if (f == NULL || f->size < sizeof(*f) || f->name == NULL || f->name[0] == '\0' ||
	    strchr(f->name, '/') != NULL) {
		cm_errf(err, errlen, "s3: begin: not a backup folder (\"%s\")",
		        f != NULL && f->name != NULL ? f->name : "");
		return -1;
	}
	struct s3store_run *r = calloc(1, sizeof(*r));
	const char *prefix = S3S.cfg.prefix;
	if (!S3S.cfg.prefix_set && f->host != NULL && f->host[0] != '\0' &&
	    strchr(f->host, '/') == NULL)
		prefix = f->host;
	if (r != NULL) {
		r->folder = strdup(f->name);
		r->prefix = strdup(prefix);
	}
	if (r == NULL || r->folder == NULL || r->prefix == NULL) {
		s3_end(r);
		cm_errf(err, errlen, "s3: begin: out of memory");
		return -1;
	}
	/* The backup folder: the parent of the run's folder. */
	const char *dir = f->local_dir != NULL ? f->local_dir : "";
	const char *slash = strrchr(dir, '/');
	char *owner = NULL;
	if (asprintf(&owner, "%s:%.*s", f->host != NULL ? f->host : "",
	             (int)(slash != NULL ? slash - dir : 0), dir) < 0) {
		s3_end(r);
		cm_errf(err, errlen, "s3: begin: out of memory");
		return -1;
	}
	int claimed = s3store_claim(&S3S.cfg, r->prefix, owner, err, errlen);
	free(owner);
	if (claimed != 0) {
		s3_end(r);
		return -1;
	}
	s3store_abort_stale(&S3S.cfg, r->prefix);
	*workers = (unsigned)S3S.cfg.parallel;
	*run = r;
	return 0;
}

static int s3_put(void *run, const struct oma_store_file *file, char *err, size_t errlen)
{
	if (need_ready(err, errlen) != 0)
		return -1;
	return s3store_put(&S3S.cfg, run, file, err, errlen);
}

static int s3_commit(void *run, const struct oma_store_commit *c, char *err, size_t errlen)
{
	if (need_ready(err, errlen) != 0)
		return -1;
	return s3store_commit(&S3S.cfg, run, c, err, errlen);
}

static int s3_check(char *err, size_t errlen)
{
	if (need_ready(err, errlen) != 0)
		return -1;
	return s3store_check(&S3S.cfg, err, errlen);
}

static const struct oma_store_ops ops = {.begin = s3_begin,
                                         .put = s3_put,
                                         .commit = s3_commit,
                                         .end = s3_end,
                                         .check = s3_check};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_STORE, .name = "s3", .version = "1.0", .init = s3_init,
                  .fini = s3_fini, .store = &ops, .settings = s3_settings);
