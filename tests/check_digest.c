/* check_digest.c - unit tests for core/digest.c (SHA-256 of dump files). */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "testlib.h"
#include "util.h"

/* FIPS 180-2 test vectors. */
START_TEST(test_vectors)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
	        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct digest *d = digest_new();
		ck_assert_ptr_nonnull(d);
		/* In pieces: the same as at once. */
		size_t n = strlen(v[i].in);
		digest_update(d, v[i].in, n / 2);
		digest_update(d, v[i].in + n / 2, n - n / 2);
		char hex[DIGEST_HEX_LEN + 1];
		digest_hex(d, hex);
		ck_assert_str_eq(hex, v[i].hex);
		digest_free(d);
	}
}
END_TEST

/* A file: read from offset 0 whatever the fd's position, a million 'a's. */
START_TEST(test_file)
{
	char *dir = t_mkdtemp("digest");
	char *path = xasprintf("%s/a", dir);
	char *data = xmalloc(1000000);
	memset(data, 'a', 1000000);
	t_write_bytes(path, data, 1000000, 0644);
	char hex[DIGEST_HEX_LEN + 1], err[256];
	ck_assert_int_eq(digest_path(path, hex, err, sizeof(err)), 0);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(lseek(fd, 12345, SEEK_SET), 0);
	ck_assert_int_eq(digest_fd(fd, hex), 0);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 12345);
	close(fd);
	char *missing = xasprintf("%s/nope", dir);
	ck_assert_int_eq(digest_path(missing, hex, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, missing));
	free(missing);
	free(data);
	free(path);
	t_remove_tree(dir);
	free(dir);
}
END_TEST

static Suite *digest_suite(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(digest_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
