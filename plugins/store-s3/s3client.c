/* s3client.c - S3 clients: their settings checked and kept, one libcurl handle each, the last answer's status. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "s3.h"
#include "s3req.h"

int s3_sigv4_param(const char *region, char *buf, size_t buflen)
{
	size_t n = region != NULL ? strlen(region) : 0;
	if (n == 0 || n > 32 || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return -1;
	int w = snprintf(buf, buflen, "aws:amz:%s:s3", region);
	return w < 0 || (size_t)w >= buflen ? -1 : 0;
}

/* Whether the endpoint is "http[s]://HOST[:PORT]" without path, query,
 * user or white space. */
static bool endpoint_ok(const char *e)
{
	const char *host = NULL;
	if (strncmp(e, "https://", 8) == 0)
		host = e + 8;
	else if (strncmp(e, "http://", 7) == 0)
		host = e + 7;
	if (host == NULL || *host == '\0')
		return false;
	for (const char *p = host; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || strchr("/?#@\\", *p) != NULL)
			return false;
	}
	return true;
}

static bool bucket_ok(const char *b)
{
	size_t n = strlen(b);
	return n >= 3 && n <= 63 && strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n &&
	       b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

int s3_client_new(const struct s3_config *cfg, struct s3_client **out, char *err, size_t errlen)
{
	*out = NULL;
	if (cfg->endpoint == NULL || !endpoint_ok(cfg->endpoint)) {
		cm_errf(err, errlen,
		        "s3: endpoint \"%s\": expected http[s]://HOST[:PORT] without a path",
		        cfg->endpoint != NULL ? cfg->endpoint : "");
		return -1;
	}
	if (cfg->bucket == NULL || !bucket_ok(cfg->bucket)) {
		cm_errf(err, errlen, "s3: bucket \"%s\": expected 3..63 of a-z 0-9 . -",
		        cfg->bucket != NULL ? cfg->bucket : "");
		return -1;
	}
	struct s3_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		cm_errf(err, errlen, "s3: out of memory");
		return -1;
	}
	if (s3_sigv4_param(cfg->region, c->sigv4, sizeof(c->sigv4)) != 0) {
		cm_errf(err, errlen, "s3: region \"%s\": expected 1..32 of a-z 0-9 -",
		        cfg->region != NULL ? cfg->region : "");
		goto fail;
	}
	if (cfg->access_key == NULL || cfg->access_key[0] == '\0' || cfg->secret_key == NULL ||
	    cfg->secret_key[0] == '\0') {
		cm_errf(err, errlen, "s3: no access key or secret key");
		goto fail;
	}
	c->endpoint = strdup(cfg->endpoint);
	c->region = strdup(cfg->region);
	c->bucket = strdup(cfg->bucket);
	c->access_key = strdup(cfg->access_key);
	c->secret_key = strdup(cfg->secret_key);
	c->ca_file = cfg->ca_file != NULL ? strdup(cfg->ca_file) : NULL;
	c->curl = curl_easy_init();
	if (c->endpoint == NULL || c->region == NULL || c->bucket == NULL ||
	    c->access_key == NULL || c->secret_key == NULL ||
	    (cfg->ca_file != NULL && c->ca_file == NULL) || c->curl == NULL) {
		cm_errf(err, errlen, "s3: out of memory (or libcurl failed to start)");
		goto fail;
	}
	c->connect_timeout_s = cfg->connect_timeout_s > 0 ? cfg->connect_timeout_s : 10;
	c->stall_timeout_s = cfg->stall_timeout_s > 0 ? cfg->stall_timeout_s : 60;
	c->retries = cfg->retries > 0 ? cfg->retries : 0;
	c->stopping = cfg->stopping;
	c->note = cfg->note;
	c->note_ctx = cfg->note_ctx;
	c->out_fd = -1;
	*out = c;
	return 0;
fail:
	s3_client_free(c);
	return -1;
}

void s3_client_free(struct s3_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c->endpoint);
	free(c->region);
	free(c->bucket);
	free(c->access_key);
	if (c->secret_key != NULL) {
		explicit_bzero(c->secret_key, strlen(c->secret_key));
		free(c->secret_key);
	}
	free(c->ca_file);
	cm_buf_free(&c->reply);
	cm_buf_free(&c->sent);
	free(c);
}

long s3_status(const struct s3_client *c)
{
	return c->status;
}

const char *s3_code(const struct s3_client *c)
{
	return c->code;
}

bool s3_cancelled(const struct s3_client *c)
{
	return c->cancelled;
}

bool s3_retryable(const struct s3_client *c)
{
	return c->status == 0 || c->status >= 500 || c->status == 408 || c->status == 429 ||
	       strcmp(c->code, "RequestTimeout") == 0 || strcmp(c->code, "SlowDown") == 0 ||
	       strcmp(c->code, "InternalError") == 0;
}

void s3_keep_headers(struct s3_client *c, bool on)
{
	c->keep_headers = on;
}

const char *s3_sent_headers(const struct s3_client *c)
{
	return c->sent.p != NULL ? c->sent.p : "";
}
