/* check_sums.c - unit tests of core/sums.c: SHA256SUMS as coreutils' sha256sum writes and checks it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "digest.h"
#include "log.h"
#include "store.h"
#include "sums.h"
#include "testlib.h"
#include "util.h"

static char *tmpdir;

static void setup(void)
{
	log_set_level(OMA_LOG_ERROR + 10);
	tmpdir = t_mkdtemp("sums");
}

static void teardown(void)
{
	t_remove_tree(tmpdir);
	free(tmpdir);
}

static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Write dir/name with `text` and add its SHA-256 to *s. */
static void add_file(struct sums *s, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	t_write_file(path, text, 0644);
	char hex[DIGEST_HEX_LEN + 1], err[512];
	ck_assert_msg(digest_path(path, hex, err, sizeof(err)) == 0, "%s", err);
	sums_add(s, name, hex);
	free(path);
}

/* What oma writes, sha256sum -c accepts, names with a backslash, a newline,
 * spaces and UTF-8 included; and a changed file makes it fail. */
START_TEST(test_sha256sum_checks_ours)
{
	struct sums s = {0};
	add_file(&s, "shop.sql.gz", "one");
	add_file(&s, "b@5cslash\\x.sql.gz", "two");
	add_file(&s, "new\nline.sql.gz", "three");
	add_file(&s, "with space ünï.sql.gz", "four");
	char err[512];
	ck_assert_msg(sums_write(tmpdir, &s, err, sizeof(err)) == 0, "%s", err);
	char *cmd = xasprintf("cd '%s' && sha256sum --strict -c SHA256SUMS >/dev/null 2>&1",
	                      tmpdir);
	ck_assert_int_eq(run(cmd), 0);
	char *path = xasprintf("%s/new\nline.sql.gz", tmpdir);
	t_write_file(path, "THREE", 0644);
	ck_assert_int_eq(run(cmd), 1);
	/* No temporary file is left beside it. */
	ck_assert_int_eq(t_count_entries(tmpdir), 5);
	free(path);
	free(cmd);
	sums_free(&s);
}
END_TEST

/* Sorted by name, two spaces, the escaped form only for lines that need it. */
START_TEST(test_format)
{
	struct sums s = {0};
	char a[DIGEST_HEX_LEN + 1], b[DIGEST_HEX_LEN + 1];
	memset(a, 'a', DIGEST_HEX_LEN);
	a[DIGEST_HEX_LEN] = '\0';
	memset(b, 'b', DIGEST_HEX_LEN);
	b[DIGEST_HEX_LEN] = '\0';
	sums_add(&s, "z.sql.gz", a);
	sums_add(&s, "a\\b\nc", b);
	size_t len = 0;
	char *text = sums_format(&s, &len);
	char *want = xasprintf("\\%s  a\\\\b\\nc\n%s  z.sql.gz\n", b, a);
	ck_assert_str_eq(text, want);
	ck_assert_uint_eq(len, strlen(want));
	free(want);
	free(text);
	sums_free(&s);
	text = sums_format(&s, &len);
	ck_assert_str_eq(text, "");
	ck_assert_uint_eq(len, 0);
	free(text);
}
END_TEST

/* What sha256sum itself writes (text and binary mode, escaped names) is read
 * back to the same names and sums; ours round-trips. */
START_TEST(test_read_sha256sum_output)
{
	struct sums s = {0};
	add_file(&s, "plain.sql.gz", "x");
	add_file(&s, "back\\slash", "y");
	add_file(&s, "new\nline", "z");
	char *cmd = xasprintf("cd '%s' && sha256sum -b plain.sql.gz 'back\\slash' \"$(printf "
	                      "'new\\nline')\" >SHA256SUMS",
	                      tmpdir);
	ck_assert_int_eq(run(cmd), 0);
	struct sums got = {0};
	char err[512];
	ck_assert_msg(sums_read(tmpdir, &got, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(got.n, 3);
	for (size_t i = 0; i < s.n; i++) {
		const struct sums_entry *e = sums_find(&got, s.v[i].name);
		ck_assert_msg(e != NULL, "%s not read", s.v[i].name);
		ck_assert_str_eq(e->hex, s.v[i].hex);
	}
	ck_assert_msg(sums_write(tmpdir, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(sums_read(tmpdir, &got, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(got.n, 3);
	for (size_t i = 0; i < s.n; i++)
		ck_assert_str_eq(sums_find(&got, s.v[i].name)->hex, s.v[i].hex);
	free(cmd);
	sums_free(&got);
	sums_free(&s);
}
END_TEST

/* Malformed lines name the line; a missing file is 1; upper-case hex and
 * CRLF are accepted. */
START_TEST(test_parse_errors)
{
	struct sums s = {0};
	char err[512];
	ck_assert_int_eq(sums_read(tmpdir, &s, err, sizeof(err)), 1);
	char hex[DIGEST_HEX_LEN + 1];
	memset(hex, 'A', DIGEST_HEX_LEN);
	hex[DIGEST_HEX_LEN] = '\0';
	char *ok = xasprintf("%s  a.sql.gz\r\n\n", hex);
	ck_assert_int_eq(sums_parse(ok, strlen(ok), "F", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.v[0].name, "a.sql.gz");
	ck_assert_int_eq(s.v[0].hex[0], 'a');
	/* before the sum, after it */
	const char *bad[][2] = {{"", "abc  x\n"},
	                        {"", " x\n"},
	                        {"", "  \n"},
	                        {"\\", "  a\\qb\n"},
	                        {"", "\tx\n"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = xasprintf("%s  good\n", hex);
		char *line = i == 0 ? xstrdup(bad[i][1])
		                    : xasprintf("%s%s%s", bad[i][0], hex, bad[i][1]);
		char *all = xasprintf("%s%s", text, line);
		ck_assert_msg(sums_parse(all, strlen(all), "F", &s, err, sizeof(err)) == -1,
		              "accepted: %s", line);
		ck_assert_msg(strncmp(err, "F:2: ", 5) == 0, "%s", err);
		ck_assert_uint_eq(s.n, 0);
		free(all);
		free(line);
		free(text);
	}
	free(ok);
}
END_TEST

/* An interrupted write leaves ".SHA256SUMS.tmp-PID": the next run removes
 * it from the folders it cleans. */
START_TEST(test_temp_cleaned)
{
	char *folder = xasprintf("%s/oma_20240101-000000", tmpdir);
	ck_assert_int_eq(mkdir(folder, 0700), 0);
	char *tmp = xasprintf("%s/.SHA256SUMS.tmp-123", folder);
	t_write_file(tmp, "x", 0644);
	char *keep = xasprintf("%s/SHA256SUMS", folder);
	t_write_file(keep, "", 0644);
	struct strv removed = {0};
	char err[512];
	ck_assert_msg(store_clean_temp(tmpdir, NULL, &removed, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(removed.n, 1);
	ck_assert_str_eq(removed.v[0], tmp);
	ck_assert_int_eq(access(keep, F_OK), 0);
	strv_free(&removed);
	free(keep);
	free(tmp);
	free(folder);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("sums");
	TCase *tc = tcase_create("sums");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sha256sum_checks_ours);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_read_sha256sum_output);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_temp_cleaned);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
