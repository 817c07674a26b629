/* check_fuzz_replay.c - replays the fuzz targets' seed corpora and regression inputs (tests/fuzz/{corpus,regress}/NAME/) with the normal toolchain. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "testlib.h"
#include "util.h"

static const struct {
	const char *name;
	int (*fn)(const uint8_t *, size_t);
} targets[] = {
        {"config", fuzz_config},   {"agentconf", fuzz_agentconf}, {"zbxreply", fuzz_zbxreply},
        {"sidecar", fuzz_sidecar}, {"info", fuzz_info},           {"facts", fuzz_facts},
};

/* tests/fuzz of the source tree: beside this binary's build folder
 * (BUILD/tests/..), else relative to the current folder.  Malloc'ed. */
static char *fuzz_dir(void)
{
	char *dir = t_source_path("tests/fuzz/corpus");
	if (dir == NULL)
		return xstrdup("tests/fuzz");
	dir[strlen(dir) - strlen("/corpus")] = '\0';
	return dir;
}

/* The whole file into *data (malloc'ed) and *len; fails the test otherwise. */
static void read_input(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "re");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	size_t cap = 0;
	*data = NULL;
	*len = 0;
	buf_append(data, len, &cap, "", 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(data, len, &cap, chunk, n);
	ck_assert_msg(!ferror(f), "%s: read error", path);
	fclose(f);
}

/* Feed every file of folder `dir` to target `t`; returns how many there
 * were (0 when the folder does not exist). */
static int replay_dir(size_t t, const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		ck_assert_msg(errno == ENOENT, "%s: %s", dir, strerror(errno));
		return 0;
	}
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		char *data;
		size_t len;
		read_input(path, &data, &len);
		/* a crash or sanitizer report ends this test with an error; to see
		 * which input, run build-fuzz/fuzz_NAME on the folder's files */
		ck_assert_int_eq(targets[t].fn((const uint8_t *)data, len), 0);
		free(data);
		free(path);
		count++;
	}
	closedir(d);
	return count;
}

START_TEST(test_replay)
{
	char *base = fuzz_dir();
	char *corpus = xasprintf("%s/corpus/%s", base, targets[_i].name);
	char *regress = xasprintf("%s/regress/%s", base, targets[_i].name);
	int seeds = replay_dir((size_t)_i, corpus);
	int regs = replay_dir((size_t)_i, regress);
	ck_assert_msg(seeds > 0, "fuzz %s: no seed corpus in %s", targets[_i].name, corpus);
	printf("fuzz %s: replayed %d seed and %d regression inputs\n", targets[_i].name, seeds,
	       regs);
	free(corpus);
	free(regress);
	free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fuzz_replay");
	TCase *tc = tcase_create("replay");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_replay, 0, (int)(sizeof(targets) / sizeof(targets[0])));
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
