/* check_store_s3.c - unit tests for the store plugin "s3" (plugins/store-s3): its settings and credentials, and begin/put/commit/check against a real radosgw through a fake host. */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include <oma/plugin.h>

#include "common/buf.h"
#include "rgwlib.h"
#include "s3.h"
#include "s3enc.h"
#include "testlib.h"
#include "util.h"

#define MIB    (1024 * 1024)
#define BUCKET "check-store-s3"

extern const struct oma_plugin oma_plugin_descriptor;
#define P   (&oma_plugin_descriptor)
#define OPS (oma_plugin_descriptor.store)

/* ---- a fake host: a log collector, [s3] from t_cfg, a stopping flag ------ */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cm_buf logged;
static volatile int stop_now;       /* stopping() says so */
static volatile int stop_after_mpu; /* stop once a multipart upload started */

static void fake_log(int level, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_mu);
	cm_buf_fmt(&logged, "%d %s\n", level, line);
	if (stop_after_mpu && strstr(line, "multipart upload of") != NULL)
		stop_now = 1;
	pthread_mutex_unlock(&log_mu);
}

static int fake_stopping(void)
{
	return stop_now;
}

static const struct oma_host host = {.abi = OMA_PLUGIN_ABI,
                                     .size = sizeof(struct oma_host),
                                     .log = fake_log,
                                     .config_get = t_cfg_get,
                                     .stopping = fake_stopping};

/* Whether the log has a line containing text. */
static bool logged_has(const char *text)
{
	pthread_mutex_lock(&log_mu);
	bool has = logged.p != NULL && strstr(logged.p, text) != NULL;
	pthread_mutex_unlock(&log_mu);
	return has;
}

/* A credentials file with [default] holding the access key and `secret`
 * (no secret line when NULL), of `mode`; the path is malloc'ed. */
static char *credentials(const char *name, const char *secret, mode_t mode)
{
	char *path = xasprintf("%s/%s", t_gw.tmp, name);
	char *text = xasprintf("# test\n[other]\naws_access_key_id = nope\n\n[default]\n"
	                       "aws_access_key_id = %s\n%s%s\n",
	                       t_gw.access_key != NULL ? t_gw.access_key : "AK",
	                       secret != NULL ? "aws_secret_access_key=" : "",
	                       secret != NULL ? secret : "");
	t_write_file(path, text, mode);
	free(text);
	return path;
}

/* [s3] for the gateway with `prefix` and the right keys (not yet init'ed). */
static void configure(const char *prefix)
{
	t_cfg_section = "s3";
	t_cfg_defaults(P->settings);
	t_cfg_clear();
	t_cfg_set("endpoint", t_gw.endpoint != NULL ? t_gw.endpoint : "http://127.0.0.1:1");
	t_cfg_set("bucket", BUCKET);
	t_cfg_set("prefix", prefix);
	char *cred = credentials("cred-ok", t_gw.secret_key != NULL ? t_gw.secret_key : "SK", 0600);
	t_cfg_set("credentials_file", cred);
	free(cred);
}

static void init_ok(void)
{
	char err[1024] = "";
	ck_assert_msg(P->init(&host, err, sizeof(err)) == 0, "init: %s", err);
}

/* init must fail with an error containing `want`; returns nothing. */
static void init_fails(const char *want)
{
	char err[1024] = "";
	ck_assert_int_ne(P->init(&host, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, want) != NULL, "init error \"%s\" lacks \"%s\"", err, want);
	if (t_gw.secret_key != NULL)
		ck_assert_ptr_null(strstr(err, t_gw.secret_key));
}

/* ---- local files and the gateway's view ----------------------------------- */

/* A local file of the folder and what the core would hand to put(). */
struct tfile {
	char *path;
	char sha[65];
	struct oma_store_file f;
};

static void sha256_file(const char *path, char hex[65])
{
	char *data = t_read_file(path);
	struct stat st;
	ck_assert(data != NULL && stat(path, &st) == 0);
	unsigned char d[32];
	unsigned int dl = 0;
	ck_assert_int_eq(EVP_Digest(data, (size_t)st.st_size, d, &dl, EVP_sha256(), NULL), 1);
	s3enc_hex(d, 32, hex);
	free(data);
}

/* The file `name` of folder (size bytes of data from seed); reused_from may be NULL. */
static void local_file(struct tfile *t, const char *folder, const char *name, uint64_t size,
                       uint32_t seed, const char *reused_from)
{
	char *flat = xasprintf("%s-%s", folder, name);
	t->path = t_rgw_file(flat, size, seed);
	free(flat);
	sha256_file(t->path, t->sha);
	t->f = (struct oma_store_file){.size = sizeof(struct oma_store_file),
	                               .name = name,
	                               .path = t->path,
	                               .bytes = size,
	                               .sha256 = t->sha,
	                               .reused_from = reused_from};
}

/* One put() of a thread of run_folder. */
struct put_job {
	void *run;
	struct tfile *t;
	pthread_t thread;
	int rc;
};

static void *put_thread(void *arg)
{
	struct put_job *j = arg;
	char err[1024] = "";
	j->rc = OPS->put(j->run, &j->t->f, err, sizeof(err));
	if (j->rc != 0)
		fprintf(stderr, "put %s: %s\n", j->t->f.name, err);
	return NULL;
}

/* begin the folder, put the n files from a thread each, commit with an
 * info.json of its own (prune, versions), end.  Returns 0 or -1 (err). */
static int run_folder(const char *folder, struct tfile *files, int n, int prune, long versions,
                      char *err, size_t errlen)
{
	void *run = NULL;
	unsigned workers = 0;
	struct oma_store_folder f = {.size = sizeof(f),
	                             .name = folder,
	                             .local_dir = t_gw.tmp,
	                             .host = "testhost"};
	if (OPS->begin(&run, &f, &workers, err, errlen) != 0)
		return -1;
	ck_assert(workers >= 1 && workers <= 16);
	struct put_job j[8];
	int rc = 0;
	ck_assert_int_le(n, 8);
	for (int i = 0; i < n; i++) {
		j[i] = (struct put_job){.run = run, .t = &files[i]};
		ck_assert_int_eq(pthread_create(&j[i].thread, NULL, put_thread, &j[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(j[i].thread, NULL);
		if (j[i].rc != 0 && rc == 0) {
			snprintf(err, errlen, "put %s failed", files[i].f.name);
			rc = -1;
		}
	}
	struct tfile info;
	char *body = xasprintf("{\"folder\": \"%s\"}\n", folder);
	char *flat = xasprintf("%s-info.json", folder);
	info.path = xasprintf("%s/%s", t_gw.tmp, flat);
	t_write_file(info.path, body, 0600);
	sha256_file(info.path, info.sha);
	info.f = (struct oma_store_file){.size = sizeof(info.f),
	                                 .name = "info.json",
	                                 .path = info.path,
	                                 .bytes = strlen(body),
	                                 .sha256 = info.sha};
	struct oma_store_commit c = {.size = sizeof(c),
	                             .marker = &info.f,
	                             .prune = prune,
	                             .versions = versions};
	if (rc == 0 && OPS->commit(run, &c, err, errlen) != 0)
		rc = -1;
	OPS->end(run);
	free(info.path);
	free(flat);
	free(body);
	return rc;
}

/* begin() of folder in local folder dir/FOLDER; returns what it returns. */
static int begin_err(const char *folder, const char *dir, unsigned *workers, char *err,
                     size_t errlen)
{
	void *run = NULL;
	char *local = xasprintf("%s/%s", dir, folder);
	struct oma_store_folder f = {.size = sizeof(f),
	                             .name = folder,
	                             .local_dir = local,
	                             .host = "h"};
	int rc = OPS->begin(&run, &f, workers, err, errlen);
	if (rc == 0)
		OPS->end(run);
	free(local);
	return rc;
}

/* begin() of folder (must succeed); the run.  *workers gets its workers. */
static void *begin_ok(const char *folder, unsigned *workers)
{
	void *run = NULL;
	char err[1024] = "";
	struct oma_store_folder f = {.size = sizeof(f),
	                             .name = folder,
	                             .local_dir = t_gw.tmp,
	                             .host = "h"};
	ck_assert_msg(OPS->begin(&run, &f, workers, err, sizeof(err)) == 0, "%s", err);
	return run;
}

static struct s3_client *cli(void)
{
	struct s3_config cfg = {.endpoint = t_gw.endpoint,
	                        .bucket = BUCKET,
	                        .region = "us-east-1",
	                        .access_key = t_gw.access_key,
	                        .secret_key = t_gw.secret_key};
	struct s3_client *c = NULL;
	char err[512];
	ck_assert_msg(s3_client_new(&cfg, &c, err, sizeof(err)) == 0, "%s", err);
	return c;
}

/* Whether object key exists. */
static bool remote_has(const char *key)
{
	struct s3_client *c = cli();
	struct s3_object_info in;
	char err[512];
	bool has = s3_head(c, key, &in, err, sizeof(err)) == 0;
	ck_assert(has || s3_status(c) == 404);
	s3_client_free(c);
	return has;
}

/* Whether awscli reads object key back as the bytes of the local file. */
static bool aws_same(const char *key, const char *local)
{
	char *back = xasprintf("%s/back.aws", t_gw.tmp);
	ck_assert_int_eq(t_rgw_aws(NULL, "s3api get-object --bucket %s --key %s %s", BUCKET, key,
	                           back),
	                 0);
	bool same = t_same_file(local, back);
	free(back);
	return same;
}

static int count_upload(void *ctx, const char *key, const char *id)
{
	(void)key;
	(void)id;
	(*(int *)ctx)++;
	return 0;
}

static int collect_key(void *ctx, const struct s3_list_entry *e)
{
	strv_push(ctx, e->key);
	return 0;
}

static int count_key(void *ctx, const struct s3_list_entry *e)
{
	(void)e;
	(*(int *)ctx)++;
	return 0;
}

/* Unfinished multipart uploads below prefix. */
static int uploads_below(const char *prefix)
{
	struct s3_client *c = cli();
	char err[512];
	int n = 0;
	ck_assert_msg(s3_list_uploads(c, prefix, count_upload, &n, err, sizeof(err)) == 0, "%s",
	              err);
	s3_client_free(c);
	return n;
}

static void free_files(struct tfile *t, int n)
{
	for (int i = 0; i < n; i++)
		free(t[i].path);
}

/* ---- settings and credentials (no server needed) -------------------------- */

START_TEST(test_settings_refused)
{
	configure("h");
	t_cfg_set("endpoint", NULL);
	init_fails("[s3] endpoint: missing");
	configure("h");
	t_cfg_set("bucket", NULL);
	init_fails("[s3] bucket: missing");
	configure("h");
	t_cfg_set("path_style", "false");
	init_fails("not supported yet");
	configure("h");
	t_cfg_set("endpoint", "ftp://x");
	init_fails("endpoint");
	/* A bare HOST:PORT means https; init does not connect. */
	configure("h");
	t_cfg_set("endpoint", "s3.example.com:9000");
	init_ok();
	P->fini();
	configure("/h/");
	init_ok();
	P->fini();
}
END_TEST

START_TEST(test_credentials)
{
	configure("h");
	char *loose = credentials("cred-loose", "sekrit-value", 0644);
	t_cfg_set("credentials_file", loose);
	char err[1024] = "";
	ck_assert_int_ne(P->init(&host, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, loose) != NULL && strstr(err, "0644") != NULL, "%s", err);
	ck_assert_ptr_null(strstr(err, "sekrit-value"));
	char *nosecret = credentials("cred-nosecret", NULL, 0600);
	t_cfg_set("credentials_file", nosecret);
	init_fails("aws_secret_access_key");
	init_fails(nosecret);
	t_cfg_set("profile", "absent");
	init_fails("no profile [absent]");
	t_cfg_set("profile", NULL);
	t_cfg_set("credentials_file", "/nonexistent/creds");
	init_fails("/nonexistent/creds");
	/* Without a file: the environment, else an error naming both ways. */
	t_cfg_set("credentials_file", NULL);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	init_fails("credentials_file");
	init_fails("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	init_fails("AWS_SECRET_ACCESS_KEY is missing");
	setenv("AWS_SECRET_ACCESS_KEY", "from-env", 1);
	/* Temporary credentials are refused by name, not with a later 403. */
	setenv("AWS_SESSION_TOKEN", "tok", 1);
	init_fails("AWS_SESSION_TOKEN is set: temporary credentials");
	unsetenv("AWS_SESSION_TOKEN");
	init_ok();
	P->fini();
	char *path = xasprintf("%s/cred-token", t_gw.tmp);
	t_write_file(path,
	             "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n"
	             "aws_session_token = tok\n",
	             0600);
	t_cfg_set("credentials_file", path);
	init_fails("[default] aws_session_token: temporary credentials (a session token) are not "
	           "supported");
	free(path);
	free(nosecret);
	free(loose);
}
END_TEST

/* ---- against radosgw --------------------------------------------------------- */

START_TEST(test_folder_roundtrip)
{
	configure("rt");
	init_ok();
	struct tfile t[3];
	local_file(&t[0], "oma_20240101-000000", "shop.sql.gz", 300000, 1, NULL);
	local_file(&t[1], "oma_20240101-000000", "empty.sql.gz", 0, 2, NULL);
	local_file(&t[2], "oma_20240101-000000", "oma.log", 4000, 3, NULL);
	char err[1024] = "";
	ck_assert_msg(run_folder("oma_20240101-000000", t, 3, 1, 5, err, sizeof(err)) == 0, "%s",
	              err);
	for (int i = 0; i < 3; i++) {
		char *key = xasprintf("rt/oma_20240101-000000/%s", t[i].f.name);
		ck_assert_msg(aws_same(key, t[i].path), "%s differs", key);
		free(key);
	}
	ck_assert(logged_has("20 s3: uploaded shop.sql.gz (300000 bytes)"));
	ck_assert(logged_has("20 s3: uploaded empty.sql.gz (0 bytes)"));
	ck_assert(remote_has("rt/oma_20240101-000000/info.json"));
	char *out = NULL;
	ck_assert_int_eq(t_rgw_aws(&out, "s3 cp s3://%s/rt/last -", BUCKET), 0);
	ck_assert_str_eq(out, "oma_20240101-000000");
	free(out);
	ck_assert_int_eq(t_rgw_aws(&out,
	                           "s3api head-object --bucket %s --key rt/oma_20240101-000000/"
	                           "shop.sql.gz --query Metadata.sha256 --output text",
	                           BUCKET),
	                 0);
	ck_assert_str_eq(out, t[0].sha);
	free(out);
	free_files(t, 3);
	P->fini();
}
END_TEST

START_TEST(test_reused_copied_on_server)
{
	configure("ru");
	init_ok();
	struct tfile a, b[2];
	local_file(&a, "oma_20240101-000000", "shop.sql.gz", 200000, 5, NULL);
	char err[1024] = "";
	ck_assert_msg(run_folder("oma_20240101-000000", &a, 1, 0, 5, err, sizeof(err)) == 0, "%s",
	              err);
	/* Same bytes, reused: copied.  A reused file with no copy there: uploaded. */
	local_file(&b[0], "oma_20240102-000000", "shop.sql.gz", 200000, 5, "oma_20240101-000000");
	local_file(&b[1], "oma_20240102-000000", "crm.sql.gz", 1000, 6, "oma_20240101-000000");
	pthread_mutex_lock(&log_mu);
	cm_buf_free(&logged);
	pthread_mutex_unlock(&log_mu);
	ck_assert_msg(run_folder("oma_20240102-000000", b, 2, 0, 5, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert(logged_has("20 s3: copied shop.sql.gz from oma_20240101-000000 on the server"));
	ck_assert(!logged_has("uploaded shop.sql.gz"));
	ck_assert(logged_has("20 s3: uploaded crm.sql.gz (1000 bytes)"));
	ck_assert(aws_same("ru/oma_20240102-000000/shop.sql.gz", b[0].path));
	ck_assert(aws_same("ru/oma_20240102-000000/crm.sql.gz", b[1].path));
	/* A remote copy with other bytes (a different SHA-256) is not copied. */
	struct tfile c;
	local_file(&c, "oma_20240103-000000", "shop.sql.gz", 200000, 7, "oma_20240102-000000");
	ck_assert_msg(run_folder("oma_20240103-000000", &c, 1, 0, 5, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert(logged_has("20 s3: uploaded shop.sql.gz (200000 bytes)"));
	ck_assert(aws_same("ru/oma_20240103-000000/shop.sql.gz", c.path));
	free_files(&a, 1);
	free_files(b, 2);
	free_files(&c, 1);
	P->fini();
}
END_TEST

START_TEST(test_multipart_parallel)
{
	configure("mp");
	t_cfg_set("part_size", "5");
	t_cfg_set("parallel_uploads", "4");
	init_ok();
	struct tfile t;
	local_file(&t, "oma_20240101-000000", "big.sql.gz", 17 * MIB + 12345, 9, NULL);
	char err[1024] = "";
	ck_assert_msg(run_folder("oma_20240101-000000", &t, 1, 0, 5, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert(logged_has("multipart upload of mp/oma_20240101-000000/big.sql.gz: 4 parts of "
	                     "5242880 bytes, 4 at once"));
	ck_assert(aws_same("mp/oma_20240101-000000/big.sql.gz", t.path));
	char *out = NULL;
	ck_assert_int_eq(t_rgw_aws(&out,
	                           "s3api head-object --bucket %s --key mp/oma_20240101-000000/"
	                           "big.sql.gz --query ETag --output text",
	                           BUCKET),
	                 0);
	ck_assert_msg(strstr(out, "-4") != NULL, "ETag %s", out);
	free(out);
	ck_assert_int_eq(uploads_below("mp/"), 0);
	free_files(&t, 1);
	P->fini();
}
END_TEST

/* Whether awscli reads object key (any bytes: it goes through the
 * environment, not the command line) back as the bytes of local. */
static bool aws_same_env(const char *key, const char *local)
{
	char *back = xasprintf("%s/back.aws", t_gw.tmp);
	ck_assert_int_eq(setenv("OMA_T_KEY", key, 1), 0);
	ck_assert_int_eq(t_rgw_aws(NULL, "s3api get-object --bucket %s --key \"$OMA_T_KEY\" %s",
	                           BUCKET, back),
	                 0);
	bool same = t_same_file(local, back);
	free(back);
	return same;
}

/* File names as names_encode makes them of databases with UTF-8 names and
 * the ASCII punctuation it keeps (docs/BEHAVIOUR.md "Names"): each
 * uploaded (one in parts), read back by awscli under its own key, listed
 * under that key, copied on the server when reused, and pruned. */
START_TEST(test_utf8_file_names)
{
	configure("u8");
	t_cfg_set("part_size", "5");
	init_ok();
	static const char *const names[] = {
	        "\xc3\xbcn\xc3\xaf.sql.gz",                         /* ünï */
	        "\xe2\x98\x95 coffee.sql.gz",                       /* ☕ coffee */
	        "a+b&c=d%e'f$(x)~*.sql.gz",                         /* reserved in URIs and XML */
	        "back\\slash \"q\".sql.gz",                         /* backslash, double quotes */
	        "sl@2fash.sql.gz",                                  /* an escaped '/' */
	        "e\xcc\x81 \xc3\xa9.sql.gz",                        /* NFD and NFC */
	        "\xc3\xa4\xc3\xa4\xc3\xa4 \xe4\xb8\xad big.sql.gz", /* in parts */
	};
	const int n = (int)(sizeof(names) / sizeof(names[0]));
	struct tfile t[7];
	for (int i = 0; i < n; i++)
		local_file(&t[i], "oma_20240101-000000", names[i],
		           i == n - 1 ? 11 * MIB + 7 : 1000 + (uint64_t)i, 40 + (uint32_t)i, NULL);
	char err[1024] = "";
	ck_assert_msg(run_folder("oma_20240101-000000", t, n, 0, 5, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert(logged_has("multipart upload of u8/oma_20240101-000000/\xc3\xa4\xc3\xa4\xc3\xa4 "
	                     "\xe4\xb8\xad big.sql.gz: 3 parts"));
	for (int i = 0; i < n; i++) {
		char *key = xasprintf("u8/oma_20240101-000000/%s", names[i]);
		ck_assert_msg(aws_same_env(key, t[i].path), "%s differs", key);
		ck_assert_msg(remote_has(key), "HEAD %s", key);
		free(key);
	}
	/* The listing has exactly these keys, byte for byte. */
	struct s3_client *c = cli();
	struct strv keys = {0};
	ck_assert_msg(s3_list(c, "u8/oma_20240101-000000/", NULL, 1000, collect_key, &keys, err,
	                      sizeof(err)) == 0,
	              "%s", err);
	s3_client_free(c);
	for (int i = 0; i < n; i++) {
		char *key = xasprintf("u8/oma_20240101-000000/%s", names[i]);
		ck_assert_msg(strv_contains(&keys, key), "listing lacks %s", key);
		free(key);
	}
	ck_assert_uint_eq(keys.n, (size_t)n + 1); /* and info.json */
	strv_free(&keys);

	/* Reused in the next folder: copied on the server (x-amz-copy-source
	 * carries the key URI-encoded); the first folder is pruned (the
	 * listing's keys go back into DeleteObjects, XML-escaped). */
	struct tfile r[2];
	local_file(&r[0], "oma_20240102-000000", names[0], 1000, 40, "oma_20240101-000000");
	local_file(&r[1], "oma_20240102-000000", names[2], 1002, 42, "oma_20240101-000000");
	ck_assert_msg(run_folder("oma_20240102-000000", r, 2, 1, 1, err, sizeof(err)) == 0, "%s",
	              err);
	char *want = xasprintf("20 s3: copied %s from oma_20240101-000000 on the server", names[0]);
	ck_assert(logged_has(want));
	free(want);
	want = xasprintf("20 s3: copied %s from oma_20240101-000000 on the server", names[2]);
	ck_assert(logged_has(want));
	free(want);
	for (int i = 0; i < 2; i++) {
		char *key = xasprintf("u8/oma_20240102-000000/%s", r[i].f.name);
		ck_assert_msg(aws_same_env(key, r[i].path), "%s differs", key);
		free(key);
	}
	ck_assert(logged_has("20 s3: removed remote folder oma_20240101-000000"));
	for (int i = 0; i < n; i++) {
		char *key = xasprintf("u8/oma_20240101-000000/%s", names[i]);
		ck_assert_msg(!remote_has(key), "%s was not pruned", key);
		free(key);
	}
	ck_assert_int_eq(uploads_below("u8/"), 0);
	free_files(t, n);
	free_files(r, 2);
	P->fini();
}
END_TEST

START_TEST(test_wrong_secret)
{
	configure("ws");
	char *cred = credentials("cred-bad", "not-the-secret", 0600);
	t_cfg_set("credentials_file", cred);
	init_ok();
	struct tfile t;
	local_file(&t, "oma_20240101-000000", "shop.sql.gz", 1000, 11, NULL);
	unsigned workers = 0;
	char err[1024] = "";
	/* begin() asks who the prefix belongs to: refused already. */
	ck_assert_int_ne(begin_err("oma_20240101-000000", t_gw.tmp, &workers, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "s3: GET " BUCKET "/ws/.oma-owner: HTTP 403 "
	                          "SignatureDoesNotMatch") != NULL,
	              "%s", err);
	ck_assert_ptr_null(strstr(err, "not-the-secret"));
	ck_assert(!logged_has("not-the-secret"));
	ck_assert_int_ne(OPS->check(err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "ws/.oma-probe-") != NULL &&
	                      strstr(err, "SignatureDoesNotMatch") != NULL &&
	                      strstr(err, " (access key ") != NULL &&
	                      strstr(err, " from credentials_file ") != NULL,
	              "%s", err);
	ck_assert_ptr_null(strstr(err, "not-the-secret"));
	P->fini();
	free(cred);
	free_files(&t, 1);
}
END_TEST

/* Two backups (other backup_dirs) on one prefix: the second is refused
 * before it could abort or prune anything of the first's. */
START_TEST(test_prefix_of_another_backup)
{
	configure("own");
	init_ok();
	unsigned workers = 0;
	char err[1024] = "";
	char *a = xasprintf("%s/a", t_gw.tmp), *b = xasprintf("%s/b", t_gw.tmp);
	ck_assert_msg(begin_err("oma_20240101-000000", a, &workers, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert(logged_has("s3: own/ in bucket " BUCKET " now belongs to h:"));
	ck_assert_msg(begin_err("oma_20240101-000001", a, &workers, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert_int_ne(begin_err("oma_20240101-000002", b, &workers, err, sizeof(err)), 0);
	char *want = xasprintf("s3: own/ in bucket %s belongs to another oma backup "
	                       "(own/.oma-owner says \"h:%s\"); this one is h:%s: give each "
	                       "backup_dir its own [s3] prefix",
	                       BUCKET, a, b);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	free(want);
	free(a);
	free(b);
	P->fini();
}
END_TEST

START_TEST(test_check_remote)
{
	configure("ck");
	init_ok();
	char err[1024] = "";
	ck_assert_msg(OPS->check(err, sizeof(err)) == 0, "%s", err);
	/* The probe is gone again. */
	struct s3_client *c = cli();
	int n = 0;
	ck_assert_msg(s3_list(c, "ck/", NULL, 0, count_key, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(n, 0);
	s3_client_free(c);
	P->fini();
}
END_TEST

START_TEST(test_cancelled)
{
	configure("cx");
	t_cfg_set("part_size", "5");
	t_cfg_set("parallel_uploads", "2");
	init_ok();
	struct tfile t;
	local_file(&t, "oma_20240101-000000", "big.sql.gz", 17 * MIB, 13, NULL);
	unsigned workers = 0;
	void *run = begin_ok("oma_20240101-000000", &workers);
	char err[1024] = "";
	/* Told to stop before: nothing is sent. */
	stop_now = 1;
	ck_assert_int_ne(OPS->put(run, &t.f, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "cancelled") != NULL, "%s", err);
	/* Told to stop once the multipart upload started: aborted. */
	stop_now = 0;
	stop_after_mpu = 1;
	ck_assert_int_ne(OPS->put(run, &t.f, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "cancelled") != NULL, "%s", err);
	ck_assert(logged_has("multipart upload of cx/oma_20240101-000000/big.sql.gz"));
	ck_assert_int_eq(uploads_below("cx/"), 0);
	ck_assert(!remote_has("cx/oma_20240101-000000/big.sql.gz"));
	OPS->end(run);
	free_files(&t, 1);
	P->fini();
}
END_TEST

START_TEST(test_stale_upload_aborted)
{
	struct s3_client *c = cli();
	char id[S3_UPLOAD_ID_MAX], err[512];
	ck_assert_msg(s3_mpu_create(c, "st/oma_20240101-000000/x.sql.gz", NULL, id, err,
	                            sizeof(err)) == 0,
	              "%s", err);
	s3_client_free(c);
	ck_assert_int_eq(uploads_below("st/"), 1);
	configure("st");
	init_ok();
	unsigned workers = 0;
	void *run = begin_ok("oma_20240102-000000", &workers);
	ck_assert_int_eq(workers, 4);
	ck_assert_int_eq(uploads_below("st/"), 0);
	ck_assert(logged_has("aborted an unfinished upload of st/oma_20240101-000000/x.sql.gz"));
	OPS->end(run);
	P->fini();
}
END_TEST

START_TEST(test_retries_then_fails)
{
	configure("rf");
	t_cfg_set("endpoint", "http://127.0.0.1:1");
	t_cfg_set("retries", "1");
	init_ok();
	struct tfile t;
	local_file(&t, "oma_20240101-000000", "shop.sql.gz", 100, 15, NULL);
	unsigned workers = 0;
	char err[1024] = "";
	ck_assert_int_ne(begin_err("oma_20240101-000000", t_gw.tmp, &workers, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "s3: GET " BUCKET "/rf/.oma-owner: ") != NULL, "%s", err);
	ck_assert(logged_has("; retry 1 of 1 in 1 s"));
	free_files(&t, 1);
	P->fini();
}
END_TEST

/* The folders below prefix/ (names with a trailing '/', one per line). */
static char *remote_folders(const char *prefix)
{
	char *out = NULL;
	ck_assert_int_eq(t_rgw_aws(&out,
	                           "s3api list-objects-v2 --bucket %s --prefix %s/ --delimiter / "
	                           "--query CommonPrefixes[].Prefix --output text",
	                           BUCKET, prefix),
	                 0);
	return out;
}

START_TEST(test_prune)
{
	configure("pr");
	init_ok();
	char err[1024] = "";
	static const char *const complete[] = {"oma_20240101-000001", "oma_20240101-000003",
	                                       "oma_20240101-000004"};
	for (int i = 0; i < 3; i++) {
		struct tfile t;
		local_file(&t, complete[i], "a.sql.gz", 100, 20 + (uint32_t)i, NULL);
		ck_assert_msg(run_folder(complete[i], &t, 1, 0, 2, err, sizeof(err)) == 0, "%s",
		              err);
		free_files(&t, 1);
	}
	/* Incomplete: one older than the newest complete, one newer than all. */
	struct s3_client *c = cli();
	ck_assert(s3_put_mem(c, "pr/oma_20240101-000002/a.sql.gz", "x", 1, NULL, NULL, err,
	                     sizeof(err)) == 0);
	ck_assert(s3_put_mem(c, "pr/oma_20990101-000000/a.sql.gz", "x", 1, NULL, NULL, err,
	                     sizeof(err)) == 0);
	ck_assert(s3_put_mem(c, "pr/not-a-folder/a", "x", 1, NULL, NULL, err, sizeof(err)) == 0);
	s3_client_free(c);
	/* [s3] versions = 2 wins over [main]'s 10. */
	t_cfg_set("versions", "2");
	P->fini();
	init_ok();
	struct tfile t;
	local_file(&t, "oma_20240101-000005", "a.sql.gz", 100, 30, NULL);
	ck_assert_msg(run_folder("oma_20240101-000005", &t, 1, 1, 10, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert(logged_has("20 s3: removed remote folder oma_20240101-000001"));
	ck_assert(logged_has("20 s3: removed remote folder oma_20240101-000002"));
	ck_assert(logged_has("20 s3: removed remote folder oma_20240101-000003"));
	char *left = remote_folders("pr");
	ck_assert_msg(strstr(left, "oma_20240101-000004/") != NULL &&
	                      strstr(left, "oma_20240101-000005/") != NULL &&
	                      strstr(left, "oma_20990101-000000/") != NULL &&
	                      strstr(left, "not-a-folder/") != NULL &&
	                      strstr(left, "oma_20240101-000001") == NULL &&
	                      strstr(left, "oma_20240101-000002") == NULL &&
	                      strstr(left, "oma_20240101-000003") == NULL,
	              "left: %s", left);
	free(left);
	free_files(&t, 1);
	/* prune = 0 (a database failed): nothing removed. */
	local_file(&t, "oma_20240101-000006", "a.sql.gz", 100, 31, NULL);
	t_cfg_set("versions", "1");
	P->fini();
	init_ok();
	ck_assert_msg(run_folder("oma_20240101-000006", &t, 1, 0, 1, err, sizeof(err)) == 0, "%s",
	              err);
	left = remote_folders("pr");
	ck_assert_msg(strstr(left, "oma_20240101-000004/") != NULL, "left: %s", left);
	free(left);
	free_files(&t, 1);
	P->fini();
}
END_TEST

static void gateway_up(void)
{
	t_rgw_up("store-s3", BUCKET);
}

/* The settings tests' own temp folder (as the gateway's, for credentials()). */
static void tmp_up(void)
{
	char *d = t_mkdtemp("store-s3-cfg");
	snprintf(t_gw.tmp, sizeof(t_gw.tmp), "%s", d);
	free(d);
}

static void tmp_down(void)
{
	t_remove_tree(t_gw.tmp);
	t_gw.tmp[0] = '\0';
}

static Suite *store_s3_suite(void)
{
	Suite *s = suite_create("store-s3 plugin");
	TCase *cfg = tcase_create("settings");
	tcase_add_checked_fixture(cfg, tmp_up, tmp_down);
	tcase_add_test(cfg, test_settings_refused);
	tcase_add_test(cfg, test_credentials);
	suite_add_tcase(s, cfg);
	TCase *g = tcase_create("radosgw");
	tcase_add_unchecked_fixture(g, gateway_up, t_rgw_down);
	tcase_set_timeout(g, 120);
	tcase_add_test(g, test_folder_roundtrip);
	tcase_add_test(g, test_reused_copied_on_server);
	tcase_add_test(g, test_multipart_parallel);
	tcase_add_test(g, test_utf8_file_names);
	tcase_add_test(g, test_wrong_secret);
	tcase_add_test(g, test_check_remote);
	tcase_add_test(g, test_prefix_of_another_backup);
	tcase_add_test(g, test_cancelled);
	tcase_add_test(g, test_stale_upload_aborted);
	tcase_add_test(g, test_retries_then_fails);
	tcase_add_test(g, test_prune);
	suite_add_tcase(s, g);
	return s;
}

int main(void)
{
	t_unset_proxies();
	SRunner *sr = srunner_create(store_s3_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
