/* webhook.c - report plugin "webhook": POSTs the run's result as JSON to a URL (libcurl). */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include <oma/plugin.h>

#include "common/clock.h"
#include "common/errbuf.h"
#include "common/outcome.h"
#include "common/setting.h"

/*
 * Settings ([webhook]), healthchecks.io style, declared in webhook_settings
 * below (the core checks their types and ranges and fills in the defaults):
 *   url             where to POST (mandatory; http:// or https://)
 *   failure_url     where to POST instead when the run failed (optional)
 *   failure_suffix  or: appended to url's path when the run failed, e.g. "/fail"
 *   timeout         seconds for one attempt, connecting included (default 10)
 *   retries         further attempts after a failed one (default 2, at most 10)
 *   retry_delay     seconds before the first retry, doubled for each next one
 *                   (default 2, each wait at most WH_DELAY_MAX)
 *   header          "Name: value", or an array of them (e.g. a bearer token)
 *   ca_file         PEM bundle of the CAs to trust instead of the system's
 * What a table cannot say is checked by wh_init: url is set, the URLs and
 * headers are well-formed, failure_url and failure_suffix not both, ca_file
 * is readable.
 *
 * The body is the run's result exactly as result.json holds it, which the
 * core hands over as oma_report.result_json (oma 0.2), sent with
 * Content-Type: application/json.  A 2xx answer is
 * success.  Connection errors, time-outs, 5xx, 408 and 429 are retried; any
 * other answer (3xx: redirects are never followed; 4xx) and certificate errors
 * are final.  TLS peer and host name verification are always on; there is
 * deliberately no setting to turn them off (use ca_file for a private CA).
 * Proxies from the environment (https_proxy, no_proxy ...) apply, as for
 * curl(1).  Error messages show URLs without password, query or fragment, and
 * never the header values.
 */

#define WH_TIMEOUT_MAX 110
#define WH_RETRIES_MAX 10
#define WH_DELAY_MAX   30
/* The core stops a reporter after 120 s: no attempt is started that could
 * not end before this many seconds since the first one. */
#define WH_DEADLINE_S  110
#define WH_SNIPPET_MAX 200 /* bytes of an error answer quoted in the message */

static struct {
	const struct oma_host *host;
	char *url, *url_shown;
	char *fail_url, *fail_shown; /* NULL: failed runs go to url too */
	int timeout, retries, delay;
	char *ca_file;
	struct curl_slist *headers;
	bool curl_ready;
} W;

/* ---- settings ------------------------------------------------------------ */

static const char *setting(const char *key)
{
	return cm_setting(W.host, "webhook", key);
}

/* The keys of [webhook]; those without a default are unset unless the
 * file sets them. */
static const struct oma_setting webhook_settings[] = {
        {.key = "url",
         .type = OMA_SETTING_STRING,
         .help = "where to POST the result (mandatory; http:// or https://)"},
        {.key = "failure_url",
         .type = OMA_SETTING_STRING,
         .help = "where to POST instead when the run failed; default: url"},
        {.key = "failure_suffix",
         .type = OMA_SETTING_STRING,
         .help = "or: appended to url's path when the run failed, e.g. \"/fail\""},
        {.key = "timeout",
         .type = OMA_SETTING_INT,
         .def = "10",
         .min = 1,
         .max = WH_TIMEOUT_MAX,
         .help = "seconds for one attempt, connecting included"},
        {.key = "retries",
         .type = OMA_SETTING_INT,
         .def = "2",
         .min = 0,
         .max = WH_RETRIES_MAX,
         .help = "further attempts after a failed one"},
        {.key = "retry_delay",
         .type = OMA_SETTING_INT,
         .def = "2",
         .min = 0,
         .max = WH_DELAY_MAX,
         .help = "seconds before the first retry, doubled for each next one"},
        {.key = "header",
         .type = OMA_SETTING_STRINGS,
         .help = "\"Name: value\", or an array of them (e.g. a bearer token)"},
        {.key = "ca_file",
         .type = OMA_SETTING_STRING,
         .help = "PEM bundle of the CAs to trust instead of the system's"},
        {.key = NULL},
};

/* `url` without password, query and fragment, for messages (malloc'ed), or
 * NULL when it does not parse. */
static char *shown_url(CURLU *u)
{
	CURLU *c = curl_url_dup(u);
	if (c == NULL)
		return NULL;
	char *s = NULL;
	if (curl_url_set(c, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_set(c, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
	    curl_url_set(c, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK) {
		char *t = NULL;
		if (curl_url_get(c, CURLUPART_URL, &t, 0) == CURLUE_OK) {
			s = strdup(t);
			curl_free(t);
		}
	}
	curl_url_cleanup(c);
	return s;
}

/* Check that `v` (setting `key`) is an absolute http or https URL with a
 * host; with `suffix`, append it to the URL's path.  Sets *url and *shown
 * (malloc'ed).  Returns 0, or -1 with err set. */
static int parse_url(const char *key, const char *v, const char *suffix, char **url, char **shown,
                     char *err, size_t errlen)
{
	int rc = -1;
	char *scheme = NULL, *host = NULL, *path = NULL, *full = NULL;
	CURLU *u = curl_url();
	if (u == NULL) {
		cm_errf(err, errlen, "[webhook] %s: out of memory", key);
		return -1;
	}
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			cm_errf(err, errlen,
			        "[webhook] %s: the URL contains spaces or control characters", key);
			goto out;
		}
	}
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, v, 0);
	if (uc != CURLUE_OK) {
		cm_errf(err, errlen, "[webhook] %s: not a valid absolute URL: %s", key,
		        curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		cm_errf(err, errlen, "[webhook] %s: only http:// and https:// URLs are supported",
		        key);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
		cm_errf(err, errlen, "[webhook] %s: the URL has no host", key);
		goto out;
	}
	if (suffix != NULL) {
		if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
			cm_errf(err, errlen, "[webhook] %s: the URL has no path", key);
			goto out;
		}
		size_t pl = strlen(path);
		/* "https://h/ping/x/" + "/fail" -> "https://h/ping/x/fail" */
		int skip = pl > 0 && path[pl - 1] == '/' && suffix[0] == '/';
		char *np = NULL;
		if (asprintf(&np, "%s%s", path, suffix + skip) < 0) {
			cm_errf(err, errlen, "[webhook] failure_suffix: out of memory");
			goto out;
		}
		uc = curl_url_set(u, CURLUPART_PATH, np, 0);
		free(np);
		if (uc != CURLUE_OK) {
			cm_errf(err, errlen,
			        "[webhook] failure_suffix: cannot append to the URL: %s",
			        curl_url_strerror(uc));
			goto out;
		}
	}
	if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		cm_errf(err, errlen, "[webhook] %s: cannot rebuild the URL", key);
		goto out;
	}
	*url = strdup(suffix != NULL ? full : v);
	*shown = shown_url(u);
	if (*url == NULL || *shown == NULL) {
		free(*url);
		free(*shown);
		*url = *shown = NULL;
		cm_errf(err, errlen, "[webhook] %s: out of memory", key);
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

/* A failure suffix: printable, no spaces, no '?' or '#' (it extends the
 * path).  Returns 0, or -1 with err set. */
static int check_suffix(const char *s, char *err, size_t errlen)
{
	if (s[0] == '\0') {
		cm_errf(err, errlen, "[webhook] failure_suffix: empty");
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if (*p <= ' ' || *p > '~' || *p == '?' || *p == '#') {
			cm_errf(err, errlen,
			        "[webhook] failure_suffix: '%.40s' may contain only printable ASCII "
			        "without spaces, '?' or '#'",
			        s);
			return -1;
		}
	}
	return 0;
}

static bool is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Split the header setting (one per line) into W.headers, adding the
 * Content-Type unless given and switching off "Expect: 100-continue".
 * Returns 0, or -1 with err naming the bad entry (not its value). */
static int parse_headers(const char *v, char *err, size_t errlen)
{
	bool content_type = false;
	int idx = 0;
	if (v != NULL && v[0] == '\0')
		v = NULL; /* header = [] */
	while (v != NULL) {
		const char *nl = strchr(v, '\n');
		size_t len = nl ? (size_t)(nl - v) : strlen(v);
		idx++;
		size_t name = 0;
		while (name < len && is_tchar(v[name]))
			name++;
		if (name == 0 || name == len || v[name] != ':') {
			cm_errf(err, errlen, "[webhook] header #%d: expected \"Name: value\"", idx);
			return -1;
		}
		for (size_t i = name + 1; i < len; i++) {
			unsigned char ch = (unsigned char)v[i];
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				cm_errf(err, errlen,
				        "[webhook] header #%d: control character in the value",
				        idx);
				return -1;
			}
		}
		if ((name == 14 && strncasecmp(v, "Content-Length", 14) == 0) ||
		    (name == 17 && strncasecmp(v, "Transfer-Encoding", 17) == 0)) {
			cm_errf(err, errlen, "[webhook] header #%d: %.*s is set by oma", idx,
			        (int)name, v);
			return -1;
		}
		if (name == 12 && strncasecmp(v, "Content-Type", 12) == 0)
			content_type = true;
		char *h = strndup(v, len);
		struct curl_slist *n = h ? curl_slist_append(W.headers, h) : NULL;
		free(h);
		if (n == NULL) {
			cm_errf(err, errlen, "[webhook] header: out of memory");
			return -1;
		}
		W.headers = n;
		v = nl ? nl + 1 : NULL;
	}
	static const char *const ours[] = {"Content-Type: application/json", "Expect:"};
	for (size_t i = content_type ? 1 : 0; i < 2; i++) {
		struct curl_slist *n = curl_slist_append(W.headers, ours[i]);
		if (n == NULL) {
			cm_errf(err, errlen, "[webhook] header: out of memory");
			return -1;
		}
		W.headers = n;
	}
	return 0;
}

static void wh_fini(void)
{
	free(W.url);
	free(W.url_shown);
	free(W.fail_url);
	free(W.fail_shown);
	free(W.ca_file);
	curl_slist_free_all(W.headers);
	if (W.curl_ready)
		curl_global_cleanup();
	memset(&W, 0, sizeof(W));
}

/* Read [webhook], check what its table cannot say, start libcurl.  Fails
 * with the key and the reason. */
static int wh_init(const struct oma_host *host, char *err, size_t errlen)
{
	wh_fini();
	W.host = host;
	CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (cc != CURLE_OK) {
		cm_errf(err, errlen, "webhook: cannot start libcurl: %s", curl_easy_strerror(cc));
		return -1;
	}
	W.curl_ready = true;

	const char *url = setting("url");
	const char *fail_url = setting("failure_url");
	const char *suffix = setting("failure_suffix");
	const char *ca = setting("ca_file");
	const char *hdr = setting("header");
	if (url == NULL || url[0] == '\0') {
		cm_errf(err, errlen, "[webhook] url: missing (mandatory key)");
		goto fail;
	}
	if (parse_url("url", url, NULL, &W.url, &W.url_shown, err, errlen) != 0)
		goto fail;
	if (fail_url != NULL && suffix != NULL) {
		cm_errf(err, errlen,
		        "[webhook]: set either failure_url or failure_suffix, not both");
		goto fail;
	}
	if (fail_url != NULL &&
	    parse_url("failure_url", fail_url, NULL, &W.fail_url, &W.fail_shown, err, errlen) != 0)
		goto fail;
	if (suffix != NULL &&
	    (check_suffix(suffix, err, errlen) != 0 ||
	     parse_url("url", url, suffix, &W.fail_url, &W.fail_shown, err, errlen) != 0))
		goto fail;
	if (cm_setting_int(host, "webhook", "timeout", &W.timeout, err, errlen) != 0 ||
	    cm_setting_int(host, "webhook", "retries", &W.retries, err, errlen) != 0 ||
	    cm_setting_int(host, "webhook", "retry_delay", &W.delay, err, errlen) != 0)
		goto fail;
	if (ca != NULL) {
		if (access(ca, R_OK) != 0) {
			cm_errf(err, errlen, "[webhook] ca_file: cannot read %s: %s", ca,
			        strerror(errno));
			goto fail;
		}
		W.ca_file = strdup(ca);
		if (W.ca_file == NULL) {
			cm_errf(err, errlen, "[webhook] ca_file: out of memory");
			goto fail;
		}
	}
	if (parse_headers(hdr, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	wh_fini();
	return -1;
}

/* ---- sending ------------------------------------------------------------- */

/* The start of the answer's body, for error messages. */
struct answer {
	char text[WH_SNIPPET_MAX + 1];
	size_t len;
};

static size_t keep_answer(char *data, size_t size, size_t n, void *user)
{
	struct answer *a = user;
	size_t got = size * n;
	size_t take = got < WH_SNIPPET_MAX - a->len ? got : WH_SNIPPET_MAX - a->len;
	memcpy(a->text + a->len, data, take);
	a->len += take;
	a->text[a->len] = '\0';
	return got;
}

enum attempt { ATTEMPT_OK, ATTEMPT_RETRY, ATTEMPT_FINAL };

/* Whether a transfer error may go away by trying again. */
static bool curl_error_final(CURLcode cc)
{
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_OUT_OF_MEMORY:
		return true;
	default:
		return false;
	}
}

#define SETOPT(h, opt, val)                                       \
	do {                                                      \
		if (cc == CURLE_OK)                               \
			cc = curl_easy_setopt((h), (opt), (val)); \
	} while (0)

/* POST `body` to `url` once; `why` gets the reason when it did not succeed. */
static enum attempt post_once(const char *url, const char *body, char *why, size_t whylen)
{
	char cerr[CURL_ERROR_SIZE] = "";
	struct answer ans = {.len = 0};
	CURL *h = curl_easy_init();
	if (h == NULL) {
		cm_errf(why, whylen, "cannot start a transfer (out of memory)");
		return ATTEMPT_FINAL;
	}
	CURLcode cc = CURLE_OK;
	SETOPT(h, CURLOPT_ERRORBUFFER, cerr);
	SETOPT(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(h, CURLOPT_POST, 1L);
	SETOPT(h, CURLOPT_POSTFIELDS, body);
	SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	SETOPT(h, CURLOPT_HTTPHEADER, W.headers);
	SETOPT(h, CURLOPT_USERAGENT, "oma-webhook/1.0");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_TIMEOUT_MS, W.timeout * 1000L);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, W.timeout * 1000L);
	/* Always verify the peer and its name; not configurable on purpose. */
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (W.ca_file != NULL)
		SETOPT(h, CURLOPT_CAINFO, W.ca_file);
	SETOPT(h, CURLOPT_WRITEFUNCTION, keep_answer);
	SETOPT(h, CURLOPT_WRITEDATA, &ans);
	if (cc != CURLE_OK) {
		cm_errf(why, whylen, "cannot set up the transfer: %s", curl_easy_strerror(cc));
		curl_easy_cleanup(h);
		return ATTEMPT_FINAL;
	}
	cc = curl_easy_perform(h);
	enum attempt res;
	if (cc != CURLE_OK) {
		long os = 0;
		(void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os);
		const char *text = cerr[0] ? cerr : curl_easy_strerror(cc);
		size_t tl = strlen(text);
		while (tl > 0 && (text[tl - 1] == '\n' || text[tl - 1] == ' '))
			tl--;
		if (os != 0 && strstr(text, strerror((int)os)) == NULL)
			cm_errf(why, whylen, "%.*s (%s)", (int)tl, text, strerror((int)os));
		else
			cm_errf(why, whylen, "%.*s", (int)tl, text);
		res = curl_error_final(cc) ? ATTEMPT_FINAL : ATTEMPT_RETRY;
	} else {
		long status = 0;
		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status <= 299) {
			res = ATTEMPT_OK;
		} else {
			for (size_t i = 0; i < ans.len; i++)
				if ((unsigned char)ans.text[i] < 0x20 || ans.text[i] == 0x7f)
					ans.text[i] = ' ';
			while (ans.len > 0 && ans.text[ans.len - 1] == ' ')
				ans.text[--ans.len] = '\0';
			cm_errf(why, whylen, "HTTP %ld%s%s%s%s", status,
			        status >= 300 && status <= 399 ? " (redirects are not followed)"
			                                       : "",
			        ans.len ? " (answer: " : "", ans.text, ans.len ? ")" : "");
			res = status >= 500 || status == 408 || status == 429 ? ATTEMPT_RETRY
			                                                      : ATTEMPT_FINAL;
		}
	}
	curl_easy_cleanup(h);
	return res;
}

/* POST the result as the core hands it over in result_json (to the
 * failure URL for a failed run), retrying transient errors.  Returns 0 on
 * a 2xx answer, or -1 with err set. */
static int wh_report(const struct oma_report *r, char *err, size_t errlen)
{
	if (r == NULL || r->size < sizeof(struct oma_report)) {
		cm_errf(err, errlen, "webhook: report structure too old (size %u)",
		        r ? r->size : 0);
		return -1;
	}
	if (W.url == NULL) {
		cm_errf(err, errlen, "webhook: not initialised");
		return -1;
	}
	if (r->result_json == NULL) {
		cm_errf(err, errlen, "webhook: the core handed over no result JSON");
		return -1;
	}
	bool failed = cm_run_failed(r) && W.fail_url != NULL;
	const char *url = failed ? W.fail_url : W.url;
	const char *shown = failed ? W.fail_shown : W.url_shown;
	long attempts = W.retries + 1;
	long delay = W.delay;
	double start = cm_now_s();
	char why[512] = "";
	int rc = -1;
	for (long i = 1; i <= attempts; i++) {
		enum attempt a = post_once(url, r->result_json, why, sizeof(why));
		if (a == ATTEMPT_OK) {
			rc = 0;
			break;
		}
		if (a == ATTEMPT_FINAL) {
			cm_errf(err, errlen, "webhook: POST %s: %s%s", shown, why,
			        i < attempts ? " (not retried)" : "");
			break;
		}
		if (i == attempts) {
			cm_errf(err, errlen, "webhook: POST %s failed %ld time%s, last: %s", shown,
			        i, i == 1 ? "" : "s", why);
			break;
		}
		if (cm_now_s() - start + (double)delay + (double)W.timeout > WH_DEADLINE_S) {
			cm_errf(err, errlen,
			        "webhook: POST %s failed %ld time%s (no time left to retry), "
			        "last: %s",
			        shown, i, i == 1 ? "" : "s", why);
			break;
		}
		if (W.host != NULL && W.host->log != NULL)
			W.host->log(
			        OMA_LOG_WARNING,
			        "webhook: POST %s: attempt %ld of %ld failed: %s; retrying in %ld s",
			        shown, i, attempts, why, delay);
		if (delay > 0)
			sleep((unsigned)delay);
		delay = delay * 2 > WH_DELAY_MAX ? WH_DELAY_MAX : delay * 2;
	}
	return rc;
}

static const struct oma_report_ops ops = {.report = wh_report};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_REPORT, .name = "webhook", .version = "1.0", .init = wh_init,
                  .fini = wh_fini, .report = &ops, .settings = webhook_settings);
