/* storecfg.c - the store plugin "s3": its [s3] settings and credentials read and checked, clients made from them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/errbuf.h"
#include "common/setting.h"
#include "s3store.h"

#define S3STORE_SECTION  "s3"
#define S3STORE_LINE_MAX 4096
#define S3STORE_MIB      (1024ull * 1024)

static const char *setting(const struct oma_host *host, const char *key)
{
	return cm_setting(host, S3STORE_SECTION, key);
}

/* A malloc'ed copy of s (NULL stays NULL); *fail set when out of memory. */
static char *dup_or_null(const char *s, bool *fail)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*fail = true;
	return d;
}

/* The endpoint as the client wants it: "https://" in front of a bare
 * "HOST[:PORT]", trailing '/' dropped.  Malloc'ed, or NULL (memory). */
static char *endpoint_url(const char *v)
{
	struct cm_buf b = {0};
	if (strstr(v, "://") == NULL)
		(void)cm_buf_str(&b, "https://");
	(void)cm_buf_str(&b, v);
	if (b.failed)
		return NULL;
	while (b.len > 0 && b.p[b.len - 1] == '/' && strstr(b.p, "://") + 3 < b.p + b.len)
		b.p[--b.len] = '\0';
	return b.p;
}

/* The prefix v without leading and trailing '/' into cfg.  Returns 0, or
 * -1 with err filled when nothing is left or it is not usable in a key. */
static int set_prefix(struct s3store_cfg *cfg, const char *v, char *err, size_t errlen)
{
	while (*v == '/')
		v++;
	size_t n = strlen(v);
	while (n > 0 && v[n - 1] == '/')
		n--;
	if (n == 0 || n > 200 || memchr(v, '\n', n) != NULL || strstr(v, "//") != NULL) {
		cm_errf(err, errlen,
		        "s3: [s3] prefix \"%s\": expected 1..200 characters, no empty path part",
		        v);
		return -1;
	}
	cfg->prefix = strndup(v, n);
	if (cfg->prefix == NULL) {
		cm_errf(err, errlen, "s3: out of memory");
		return -1;
	}
	return 0;
}

/* Trim white space at both ends of s in place; returns the start. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		s[--n] = '\0';
	return s;
}

/* Look for aws_access_key_id and aws_secret_access_key in [profile] of the
 * open AWS credentials file f into *ak and *sk (malloc'ed; left NULL when
 * absent).  Returns 0, 1 when the profile is not there, 2 when it has an
 * aws_session_token, -1 (memory). */
static int parse_credentials(FILE *f, const char *profile, char **ak, char **sk)
{
	char line[S3STORE_LINE_MAX];
	bool in = false, seen = false;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *s = trim(line);
		size_t n = strlen(s);
		if (n == 0 || s[0] == '#' || s[0] == ';')
			continue;
		if (s[0] == '[' && s[n - 1] == ']') {
			s[n - 1] = '\0';
			in = strcmp(trim(s + 1), profile) == 0;
			seen = seen || in;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!in || eq == NULL)
			continue;
		*eq = '\0';
		const char *k = trim(s), *v = trim(eq + 1);
		if (strcmp(k, "aws_session_token") == 0 && *v != '\0') {
			rc = 2; /* temporary credentials: not supported */
			break;
		}
		char **dst = strcmp(k, "aws_access_key_id") == 0       ? ak
		             : strcmp(k, "aws_secret_access_key") == 0 ? sk
		                                                       : NULL;
		if (dst != NULL && *v != '\0') {
			free(*dst);
			*dst = strdup(v);
			if (*dst == NULL)
				rc = -1;
		}
	}
	explicit_bzero(line, sizeof(line));
	return rc != 0 ? rc : seen ? 0 : 1;
}

/* Temporary credentials need a session token in every request, which this
 * plugin does not send: refused by name rather than failing with a 403. */
static const char session_token_why[] =
        "temporary credentials (a session token) are not supported; use an access key "
        "of its own for oma";

/* The keys of `profile` in the AWS credentials file `path` into cfg.
 * Returns 0, or -1 with err naming the file and what is wrong with it (a
 * secret in a file group or others may read is refused). */
static int read_credentials(struct s3store_cfg *cfg, const char *path, const char *profile,
                            char *err, size_t errlen)
{
	int rc = -1;
	FILE *f = fopen(path, "re");
	struct stat st;
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		cm_errf(err, errlen, "s3: [s3] credentials_file %s: cannot read it: %s", path,
		        strerror(errno));
		goto out;
	}
	int p = parse_credentials(f, profile, &cfg->access_key, &cfg->secret_key);
	if (p < 0) {
		cm_errf(err, errlen, "s3: [s3] credentials_file %s: out of memory", path);
		goto out;
	}
	if (p == 2) {
		cm_errf(err, errlen, "s3: [s3] credentials_file %s: [%s] aws_session_token: %s",
		        path, profile, session_token_why);
		goto out;
	}
	if (p > 0) {
		cm_errf(err, errlen, "s3: [s3] credentials_file %s: no profile [%s]", path,
		        profile);
		goto out;
	}
	if (cfg->secret_key != NULL && (st.st_mode & 077) != 0) {
		cm_errf(err, errlen,
		        "s3: [s3] credentials_file %s: mode %04o lets others read the secret key "
		        "(chmod 600 it)",
		        path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	const char *missing = cfg->access_key == NULL   ? "aws_access_key_id"
	                      : cfg->secret_key == NULL ? "aws_secret_access_key"
	                                                : NULL;
	if (missing != NULL) {
		cm_errf(err, errlen, "s3: [s3] credentials_file %s: no %s in [%s]", path, missing,
		        profile);
		goto out;
	}
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	return rc;
}

/* The credentials from the environment into cfg.  Returns 0, or -1 with
 * err naming both ways to give them. */
static int env_credentials(struct s3store_cfg *cfg, char *err, size_t errlen)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	bool have_ak = ak != NULL && ak[0] != '\0', have_sk = sk != NULL && sk[0] != '\0';
	if (!have_ak || !have_sk) {
		cm_errf(err, errlen,
		        "s3: no credentials: set credentials_file in [s3] (an AWS credentials file) "
		        "or the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY%s",
		        have_ak   ? " (AWS_SECRET_ACCESS_KEY is missing)"
		        : have_sk ? " (AWS_ACCESS_KEY_ID is missing)"
		                  : "");
		return -1;
	}
	const char *token = getenv("AWS_SESSION_TOKEN");
	if (token != NULL && token[0] != '\0') {
		cm_errf(err, errlen, "s3: AWS_SESSION_TOKEN is set: %s", session_token_why);
		return -1;
	}
	bool fail = false;
	cfg->access_key = dup_or_null(ak, &fail);
	cfg->secret_key = dup_or_null(sk, &fail);
	if (fail) {
		cm_errf(err, errlen, "s3: out of memory");
		return -1;
	}
	return 0;
}

/* The integer settings of [s3] into cfg.  Returns 0, or -1 with err set. */
static int read_numbers(const struct oma_host *host, struct s3store_cfg *cfg, char *err,
                        size_t errlen)
{
	int part_mib = 0, versions = 0;
	if (cm_setting_int(host, S3STORE_SECTION, "part_size", &part_mib, err, errlen) != 0 ||
	    cm_setting_int(host, S3STORE_SECTION, "parallel_uploads", &cfg->parallel, err,
	                   errlen) != 0 ||
	    cm_setting_int(host, S3STORE_SECTION, "retries", &cfg->retries, err, errlen) != 0 ||
	    cm_setting_int(host, S3STORE_SECTION, "timeout", &cfg->timeout, err, errlen) != 0)
		return -1;
	if (setting(host, "versions") != NULL &&
	    cm_setting_int(host, S3STORE_SECTION, "versions", &versions, err, errlen) != 0)
		return -1;
	if (part_mib < 5 || cfg->parallel < 1 || cfg->parallel > S3STORE_PARALLEL_MAX ||
	    cfg->retries < 0 || cfg->timeout < 1 || versions < 0) {
		cm_errf(err, errlen,
		        "s3: [s3] part_size, parallel_uploads, retries, timeout or "
		        "versions out of range");
		return -1;
	}
	cfg->part_size = (uint64_t)part_mib * S3STORE_MIB;
	cfg->versions = versions;
	return 0;
}

/* The host name, the default prefix, into cfg.  Returns 0 or -1. */
static int host_prefix(struct s3store_cfg *cfg, char *err, size_t errlen)
{
	char name[256] = "";
	if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
		cm_errf(err, errlen, "s3: [s3] prefix is not set and the host name is unknown: %s",
		        strerror(errno));
		return -1;
	}
	return set_prefix(cfg, name, err, errlen);
}

int s3store_cfg_load(const struct oma_host *host, struct s3store_cfg *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = host;
	const char *endpoint = setting(host, "endpoint"), *bucket = setting(host, "bucket");
	const char *prefix = setting(host, "prefix"), *creds = setting(host, "credentials_file");
	const char *ps = setting(host, "path_style"), *profile = setting(host, "profile");
	bool fail = false;
	if (endpoint == NULL || endpoint[0] == '\0') {
		cm_errf(err, errlen,
		        "s3: [s3] endpoint: missing (mandatory key: the S3 server, "
		        "https://HOST[:PORT] or http://HOST[:PORT])");
		goto fail;
	}
	if (bucket == NULL || bucket[0] == '\0') {
		cm_errf(err, errlen, "s3: [s3] bucket: missing (mandatory key)");
		goto fail;
	}
	if (ps != NULL && strcmp(ps, "false") == 0) {
		cm_errf(err, errlen,
		        "s3: [s3] path_style = false (virtual-host style URLs): not "
		        "supported yet");
		goto fail;
	}
	cfg->endpoint = endpoint_url(endpoint);
	cfg->bucket = dup_or_null(bucket, &fail);
	const char *region = setting(host, "region");
	cfg->region = dup_or_null(region != NULL ? region : "us-east-1", &fail);
	cfg->ca_file = dup_or_null(setting(host, "ca_file"), &fail);
	if (fail || cfg->endpoint == NULL) {
		cm_errf(err, errlen, "s3: out of memory");
		goto fail;
	}
	if (cfg->ca_file != NULL && access(cfg->ca_file, R_OK) != 0) {
		cm_errf(err, errlen, "s3: [s3] ca_file: cannot read %s: %s", cfg->ca_file,
		        strerror(errno));
		goto fail;
	}
	cfg->prefix_set = prefix != NULL;
	if ((prefix != NULL ? set_prefix(cfg, prefix, err, errlen)
	                    : host_prefix(cfg, err, errlen)) != 0 ||
	    read_numbers(host, cfg, err, errlen) != 0)
		goto fail;
	if ((creds != NULL ? read_credentials(cfg, creds, profile != NULL ? profile : "default",
	                                      err, errlen)
	                   : env_credentials(cfg, err, errlen)) != 0)
		goto fail;
	if (creds != NULL)
		(void)snprintf(cfg->cred_from, sizeof(cfg->cred_from), "credentials_file %s [%s]",
		               creds, profile != NULL ? profile : "default");
	else
		(void)snprintf(cfg->cred_from, sizeof(cfg->cred_from),
		               "AWS_ACCESS_KEY_ID in the environment");
	/* The client checks endpoint, bucket and region. */
	struct s3_client *probe = NULL;
	if (s3store_client(cfg, &probe, err, errlen) != 0)
		goto fail;
	s3_client_free(probe);
	return 0;
fail:
	s3store_cfg_free(cfg);
	return -1;
}

void s3store_cfg_free(struct s3store_cfg *cfg)
{
	if (cfg->secret_key != NULL)
		explicit_bzero(cfg->secret_key, strlen(cfg->secret_key));
	free(cfg->secret_key);
	free(cfg->access_key);
	free(cfg->endpoint);
	free(cfg->bucket);
	free(cfg->region);
	free(cfg->ca_file);
	free(cfg->prefix);
	memset(cfg, 0, sizeof(*cfg));
}

void s3store_log(const struct s3store_cfg *cfg, int level, const char *fmt, ...)
{
	if (cfg->host == NULL || cfg->host->log == NULL)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cfg->host->log(level, "%s", line);
}

/* The client's retry note, logged as a warning. */
static void note_retry(void *ctx, const char *line)
{
	s3store_log(ctx, OMA_LOG_WARNING, "%s", line);
}

int s3store_client(const struct s3store_cfg *cfg, struct s3_client **c, char *err, size_t errlen)
{
	const struct oma_host *h = cfg->host;
	bool has_stopping = h != NULL &&
	                    h->size >= offsetof(struct oma_host, stopping) + sizeof(h->stopping);
	struct s3_config sc = {.endpoint = cfg->endpoint,
	                       .bucket = cfg->bucket,
	                       .region = cfg->region,
	                       .access_key = cfg->access_key,
	                       .secret_key = cfg->secret_key,
	                       .ca_file = cfg->ca_file,
	                       .connect_timeout_s = cfg->timeout < 10 ? cfg->timeout : 10,
	                       .stall_timeout_s = cfg->timeout,
	                       .retries = cfg->retries,
	                       .stopping = has_stopping ? h->stopping : NULL,
	                       .note = note_retry,
	                       .note_ctx = (void *)cfg};
	return s3_client_new(&sc, c, err, errlen);
}

int s3store_key(char *key, const char *prefix, const char *folder, const char *name, char *err,
                size_t errlen)
{
	int n = folder != NULL ? snprintf(key, S3_KEY_MAX + 1, "%s/%s/%s", prefix, folder, name)
	                       : snprintf(key, S3_KEY_MAX + 1, "%s/%s", prefix, name);
	if (n < 0 || n > S3_KEY_MAX) {
		cm_errf(err, errlen, "s3: the object key for %s is longer than %d bytes", name,
		        S3_KEY_MAX);
		return -1;
	}
	return 0;
}
