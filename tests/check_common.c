/* check_common.c - unit tests for common/, the helpers the core and the plugins share. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <oma/plugin.h>

#include "common/buf.h"
#include "common/compress.h"
#include "common/errbuf.h"
#include "common/io.h"
#include "common/json.h"
#include "common/outcome.h"
#include "common/utf8.h"
#include "testlib.h"

/* ---- errbuf ---------------------------------------------------------------- */

/* Fills and cuts silently; NULL or 0 bytes are left alone. */
START_TEST(test_errf)
{
	char err[8];
	cm_errf(err, sizeof(err), "%s %d", "value", 12345);
	ck_assert_str_eq(err, "value 1");
	cm_errf(NULL, 10, "ignored %d", 1);
	err[0] = 'x';
	cm_errf(err, 0, "ignored");
	ck_assert_int_eq(err[0], 'x');
}
END_TEST

/* ---- buf --------------------------------------------------------------- */

/* Appends grow the buffer and keep it NUL-terminated; an empty append
 * still allocates; formatted text longer than any first guess fits. */
START_TEST(test_buf_grows)
{
	struct cm_buf b = {0};
	ck_assert_int_eq(cm_buf_add(&b, "", 0), 0);
	ck_assert_ptr_nonnull(b.p);
	ck_assert_str_eq(b.p, "");
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(cm_buf_str(&b, "0123456789"), 0);
	ck_assert_uint_eq(b.len, 10000);
	ck_assert_uint_eq(strlen(b.p), 10000);
	ck_assert_uint_ge(b.cap, b.len + 1);
	char big[5000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(cm_buf_fmt(&b, "[%s|%d]", big, 42), 0);
	ck_assert_uint_eq(b.len, 10000 + 4999 + 5);
	ck_assert_str_eq(b.p + b.len - 5, "z|42]");
	ck_assert_int_eq(b.failed, 0);
	cm_buf_free(&b);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

/* A size that cannot be allocated fails the buffer for good: later appends
 * fail too and the text stays what it was. */
START_TEST(test_buf_failure_sticks)
{
	struct cm_buf b = {0};
	ck_assert_int_eq(cm_buf_str(&b, "kept"), 0);
	ck_assert_int_eq(cm_buf_add(&b, "x", SIZE_MAX - 1), -1);
	ck_assert_int_eq(b.failed, 1);
	ck_assert_int_eq(cm_buf_str(&b, "more"), -1);
	ck_assert_int_eq(cm_buf_fmt(&b, "%d", 1), -1);
	ck_assert_int_eq(cm_json_str(&b, "j"), -1);
	ck_assert_str_eq(b.p, "kept");
	ck_assert_uint_eq(b.len, 4);
	cm_buf_free(&b);
	ck_assert_int_eq(b.failed, 0);
}
END_TEST

/* ---- utf8 and json ------------------------------------------------------- */

START_TEST(test_utf8)
{
	ck_assert_uint_eq(cm_utf8_len("a"), 1);
	ck_assert_uint_eq(cm_utf8_len(""), 1);
	ck_assert_uint_eq(cm_utf8_len("\xc3\xbc"), 2);
	ck_assert_uint_eq(cm_utf8_cp("\xc3\xbc", 2), 0xfc);
	ck_assert_uint_eq(cm_utf8_len("\xe2\x82\xac"), 3);
	ck_assert_uint_eq(cm_utf8_cp("\xe2\x82\xac", 3), 0x20ac);
	ck_assert_uint_eq(cm_utf8_len("\xf0\x9f\x98\x80"), 4);
	ck_assert_uint_eq(cm_utf8_cp("\xf0\x9f\x98\x80", 4), 0x1f600);
	ck_assert_uint_eq(cm_utf8_len("\xc3"), 0);             /* cut */
	ck_assert_uint_eq(cm_utf8_len("\xc0\xaf"), 0);         /* overlong */
	ck_assert_uint_eq(cm_utf8_len("\xed\xa0\x80"), 0);     /* surrogate */
	ck_assert_uint_eq(cm_utf8_len("\xf4\x90\x80\x80"), 0); /* above U+10FFFF */
	ck_assert(cm_utf8_breaks_line('\n'));
	ck_assert(cm_utf8_breaks_line(0x7f));
	ck_assert(cm_utf8_breaks_line(0x85));
	ck_assert(cm_utf8_breaks_line(0x2028));
	ck_assert(!cm_utf8_breaks_line('a'));
	ck_assert(!cm_utf8_breaks_line(0xa0));
}
END_TEST

/* The escapes of result.json: short forms, \uHHHH for the other controls
 * and the line separators, U+FFFD for what is not UTF-8. */
START_TEST(test_json_str)
{
	struct cm_buf b = {0};
	ck_assert_int_eq(cm_json_str(&b,
	                             "a\"b\\c\n\r\t\b\f\x01\x7f\xc2\x85\xe2\x80\xa8|\xe9|\xc3\xbc"),
	                 0);
	ck_assert_str_eq(
	        b.p, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u007f\\u0085\\u2028|\\ufffd|\xc3\xbc\"");
	ck_assert_int_eq(cm_json_str(&b, ""), 0);
	ck_assert_str_eq(b.p + b.len - 2, "\"\"");
	cm_buf_free(&b);
}
END_TEST

/* ---- io ---------------------------------------------------------------- */

START_TEST(test_write_all)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(cm_write_all(fds[1], "hello", 5), 0);
	char got[8] = "";
	ck_assert_int_eq(read(fds[0], got, sizeof(got) - 1), 5);
	ck_assert_str_eq(got, "hello");
	close(fds[0]);
	close(fds[1]);
	errno = 0;
	ck_assert_int_eq(cm_write_all(fds[1], "x", 1), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

/* ---- compress ------------------------------------------------------------ */

static const struct cm_levels levels = {.name = "zz", .def = 3, .min = 1, .max = 9};

static int sink_calls;
static size_t sink_bytes;

static int count_sink(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	(void)buf;
	sink_calls++;
	sink_bytes += len;
	if (ctx != NULL) {
		cm_errf(err, errlen, "sink: %s", (const char *)ctx);
		return -1;
	}
	return 0;
}

/* No params or a level below 0: the default; threads below 2: one; what
 * the core sets is taken. */
START_TEST(test_compress_open_values)
{
	char err[128] = "";
	struct cm_open o;
	ck_assert_int_eq(cm_compress_open(NULL, 5, &levels, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.level, 3);
	ck_assert_int_eq(o.threads, 1);
	ck_assert_int_eq(o.out.fd, 5);
	ck_assert_ptr_null(o.out.sink);
	struct oma_compress_params p = {.size = sizeof(p), .level = -1, .threads = 0};
	ck_assert_int_eq(cm_compress_open(&p, 5, &levels, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.level, 3);
	ck_assert_int_eq(o.threads, 1);
	p = (struct oma_compress_params){.size = sizeof(p),
	                                 .level = 9,
	                                 .threads = 4,
	                                 .sink = count_sink,
	                                 .sink_ctx = &p};
	ck_assert_int_eq(cm_compress_open(&p, 5, &levels, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.level, 9);
	ck_assert_int_eq(o.threads, 4);
	ck_assert_ptr_eq(o.out.sink, count_sink);
	ck_assert_ptr_eq(o.out.sink_ctx, &p);
}
END_TEST

/* A core whose struct ends before a member: the member is not read. */
START_TEST(test_compress_open_old_core)
{
	char err[128] = "";
	struct cm_open o;
	struct oma_compress_params p = {.level = 9, .threads = 4, .sink = count_sink};
	p.size = (uint32_t)offsetof(struct oma_compress_params, sink);
	ck_assert_int_eq(cm_compress_open(&p, 5, &levels, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.level, 9);
	ck_assert_int_eq(o.threads, 4);
	ck_assert_ptr_null(o.out.sink);
	p.size = (uint32_t)offsetof(struct oma_compress_params, threads);
	ck_assert_int_eq(cm_compress_open(&p, 5, &levels, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.level, 9);
	ck_assert_int_eq(o.threads, 1);
	p.size = (uint32_t)offsetof(struct oma_compress_params, level);
	ck_assert_int_eq(cm_compress_open(&p, 5, &levels, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.level, 3);
}
END_TEST

START_TEST(test_compress_open_refuses)
{
	char err[128] = "";
	struct cm_open o;
	struct oma_compress_params p = {.size = sizeof(p), .level = 10};
	ck_assert_int_eq(cm_compress_open(&p, 5, &levels, &o, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "zz: compression level 10 out of range 1..9");
	p.level = 0;
	ck_assert_int_eq(cm_compress_open(&p, 5, &levels, &o, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "zz: compression level 0 out of range 1..9");
	ck_assert_int_eq(cm_compress_open(NULL, -1, &levels, &o, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "zz: invalid file descriptor -1");
}
END_TEST

/* Output goes to the sink when there is one (its reason is the error),
 * else to the fd; nothing is handed over for no bytes. */
START_TEST(test_out_write)
{
	char err[128] = "";
	sink_calls = 0;
	sink_bytes = 0;
	struct cm_out sink = {.fd = -1, .sink = count_sink};
	ck_assert_int_eq(cm_out_write(&sink, "abc", 3, "zz", err, sizeof(err)), 0);
	ck_assert_int_eq(cm_out_write(&sink, "", 0, "zz", err, sizeof(err)), 0);
	ck_assert_int_eq(sink_calls, 1);
	ck_assert_uint_eq(sink_bytes, 3);
	sink.sink_ctx = "disk full";
	ck_assert_int_eq(cm_out_write(&sink, "abc", 3, "zz", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "sink: disk full");

	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	struct cm_out fd = {.fd = fds[1]};
	ck_assert_int_eq(cm_out_write(&fd, "xyz", 3, "zz", err, sizeof(err)), 0);
	char got[4] = "";
	ck_assert_int_eq(read(fds[0], got, 3), 3);
	ck_assert_str_eq(got, "xyz");
	close(fds[0]);
	close(fds[1]);
	ck_assert_int_eq(cm_out_write(&fd, "xyz", 3, "zz", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "zz: write: Bad file descriptor");
}
END_TEST

/* ---- outcome ------------------------------------------------------------- */

START_TEST(test_run_failed)
{
	struct oma_report r = {.size = sizeof(r), .outcome = OMA_OUTCOME_SUCCESS};
	ck_assert(!cm_run_failed(&r));
	r.exit_code = 4;
	ck_assert(cm_run_failed(&r));
	r.exit_code = 0;
	r.failed = 1;
	ck_assert(cm_run_failed(&r));
	r = (struct oma_report){.size = sizeof(r), .outcome = OMA_OUTCOME_SKIPPED, .exit_code = 4};
	ck_assert(!cm_run_failed(&r));
	static const int bad[] = {OMA_OUTCOME_ABORTED, OMA_OUTCOME_NO_SPACE, OMA_OUTCOME_FAILED};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = (struct oma_report){.size = sizeof(r), .outcome = bad[i]};
		ck_assert(cm_run_failed(&r));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("common");
	tcase_add_test(tc, test_errf);
	tcase_add_test(tc, test_buf_grows);
	tcase_add_test(tc, test_buf_failure_sticks);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_json_str);
	tcase_add_test(tc, test_write_all);
	tcase_add_test(tc, test_compress_open_values);
	tcase_add_test(tc, test_compress_open_old_core);
	tcase_add_test(tc, test_compress_open_refuses);
	tcase_add_test(tc, test_out_write);
	tcase_add_test(tc, test_run_failed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
