/* check_example.c - oma.conf.example against the tables of keys: the core's and those of the plugins in BUILD/plugins. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <oma/plugin.h>

#include "config.h"
#include "config_internal.h"
#include "keys.h"
#include "log.h"
#include "testlib.h"
#include "util.h"

/* A key line of the example, commented out or not. */
struct line {
	int no;
	char *section, *key, *value;
};

static struct line lines[512];
static size_t nlines;
static char *example; /* the example's text */
static char *tmpdir;

/* oma.conf.example of the source tree: beside this binary's build folder
 * (BUILD/tests/..), else in the current folder.  Malloc'ed. */
static char *example_path(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		char *p = xasprintf("%s/../../oma.conf.example", exe);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return xstrdup("oma.conf.example");
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* The example's key lines: `key = value` or `#key = value` (a '#' right
 * before the key; "# text" is prose), under `[section]` or `#[section]`. */
static void read_example(void)
{
	char *path = example_path();
	example = t_read_file(path);
	ck_assert_msg(example != NULL, "%s: %s", path, strerror(errno));
	free(path);
	char *section = xstrdup("");
	int no = 0;
	for (char *p = example; *p != '\0';) {
		char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
		char *l = xstrndup(p, len);
		p += len + (eol != NULL ? 1 : 0);
		no++;
		char *s = l[0] == '#' ? l + 1 : l;
		char *close = strchr(s, ']');
		if (s[0] == '[' && close != NULL) {
			free(section);
			section = xstrndup(s + 1, (size_t)(close - s - 1));
		} else if (is_key_char(s[0])) {
			char *k = s;
			while (is_key_char(*k))
				k++;
			char *eq = k;
			while (*eq == ' ')
				eq++;
			if (*eq == '=') {
				ck_assert_uint_lt(nlines, sizeof(lines) / sizeof(lines[0]));
				struct line *x = &lines[nlines++];
				x->no = no;
				x->section = xstrdup(section);
				x->key = xstrndup(s, (size_t)(k - s));
				x->value = xstrdup(eq + 1);
			}
		}
		free(l);
	}
	free(section);
	ck_assert_uint_gt(nlines, 20);
}

static void setup(void)
{
	log_set_level(OMA_LOG_ERROR + 10);
	tmpdir = t_mkdtemp("example");
	keys_load_tables();
	read_example();
}

static void teardown(void)
{
	t_remove_tree(tmpdir);
	free(tmpdir);
	for (size_t i = 0; i < nlines; i++) {
		free(lines[i].section);
		free(lines[i].key);
		free(lines[i].value);
	}
	nlines = 0;
	keys_free_tables();
	free(example);
}

/* The text form of what example line x sets, as cfg_get gives it; NULL
 * when the line does not load. */
static char *value_of(const struct line *x, char *err, size_t errlen)
{
	return keys_value_of(x->section, x->key, x->value, tmpdir, err, errlen);
}

/* Every key the tables know is in the example, and one of its lines shows
 * the default (a key without one, or one whose default the example puts
 * in words, only needs to be there). */
START_TEST(test_every_key_with_its_default)
{
	struct oma_config cfg;
	keys_known(&cfg, tmpdir);
	const struct cfg_data *d = cfg.data;
	ck_assert_uint_gt(d->neffective, 25);
	for (size_t i = 0; i < d->neffective; i++) {
		const struct cfg_value *k = &d->effective[i];
		bool seen = false, shows_default = false;
		for (size_t j = 0; j < nlines; j++) {
			const struct line *x = &lines[j];
			if (strcmp(x->section, k->section) != 0 || strcmp(x->key, k->key) != 0)
				continue;
			seen = true;
			if (strcmp(x->section, "main") == 0 && strcmp(x->key, "backup_dir") == 0)
				continue; /* set by every load: test_example_validates checks it */
			char err[1024];
			char *got = value_of(x, err, sizeof(err));
			ck_assert_msg(got != NULL, "oma.conf.example:%d: [%s] %s: %s", x->no,
			              x->section, x->key, err);
			if (k->str != NULL && strcmp(got, k->str) == 0)
				shows_default = true;
			free(got);
		}
		ck_assert_msg(seen, "oma.conf.example: [%s] %s is missing", k->section, k->key);
		if (k->str != NULL && !keys_is_worded(k->section, k->key))
			ck_assert_msg(shows_default,
			              "oma.conf.example: [%s] %s: no line shows the default \"%s\"",
			              k->section, k->key, k->str);
	}
	cfg_free(&cfg);
}
END_TEST

/* The example holds no key the tables do not know (`enabled` every
 * plugin's section has), no section that is neither the core's nor a
 * built plugin's, and no keys of a plugin without a table. */
START_TEST(test_no_unknown_keys)
{
	struct oma_config cfg;
	keys_known(&cfg, tmpdir);
	for (size_t j = 0; j < nlines; j++) {
		const struct line *x = &lines[j];
		bool core = strcmp(x->section, "main") == 0 ||
		            strcmp(x->section, "conditions") == 0;
		const struct keys_table *t = keys_find_table(x->section);
		ck_assert_msg(
		        core || t != NULL,
		        "oma.conf.example:%d: [%s] is neither oma's section nor a built plugin's",
		        x->no, x->section);
		if (!core && strcmp(x->key, "enabled") == 0)
			continue;
		if (!core && t->settings == NULL)
			continue; /* refused below */
		bool known = false;
		for (size_t i = 0; i < cfg.data->neffective && !known; i++)
			known = strcmp(cfg.data->effective[i].section, x->section) == 0 &&
			        strcmp(cfg.data->effective[i].key, x->key) == 0;
		ck_assert_msg(known, "oma.conf.example:%d: [%s] %s is not a key of the tables",
		              x->no, x->section, x->key);
	}
	/* A section whose plugin has no table could not be checked: every
	 * plugin the example has keys for declares one. */
	for (size_t i = 0; i < keys_ntables(); i++) {
		const struct keys_table *kt = keys_table(i);
		size_t n = 0;
		for (size_t j = 0; j < nlines && kt->settings == NULL; j++)
			n += strcmp(lines[j].section, kt->section) == 0 &&
			     strcmp(lines[j].key, "enabled") != 0;
		ck_assert_msg(n == 0,
		              "plugin %s declares no table of keys: its %zu keys in "
		              "oma.conf.example cannot be checked",
		              kt->section, n);
	}
	cfg_free(&cfg);
}
END_TEST

/* The example as shipped is a valid configuration, without warnings, once
 * its backup_dir exists: to the configuration modules, and to build/oma. */
START_TEST(test_example_validates)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	int replaced = 0;
	for (char *p = example; *p != '\0';) {
		char *eol = strchr(p, '\n');
		size_t n = eol != NULL ? (size_t)(eol - p) + 1 : strlen(p);
		if (strncmp(p, "backup_dir = ", 13) == 0) {
			buf_appendf(&text, &len, &cap, "backup_dir = \"%s\"\n", tmpdir);
			replaced++;
		} else {
			buf_append(&text, &len, &cap, p, n);
		}
		p += n;
	}
	ck_assert_int_eq(replaced, 1);
	struct oma_config cfg;
	char err[1024];
	int rc = keys_load("oma.conf.example", text, &cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_msg(cfg.warnings.n == 0, "%s", cfg.warnings.v[0]);
	cfg_free(&cfg);

	char *conf = xasprintf("%s/oma.conf", tmpdir);
	t_write_file(conf, text, 0644);
	char *build = t_build_dir();
	char *out = xasprintf("%s/out", tmpdir);
	char *cmd = xasprintf("'%s/oma' -c '%s' --print-config > '%s' 2>&1", build, conf, out);
	int status = system(cmd);
	char *printed = t_read_file(out);
	ck_assert_msg(status == 0, "%s: exit %d:\n%s", cmd, status, printed);
	ck_assert_msg(strncmp(printed, "{\"main\":{\"backup_dir\":", 22) == 0, "%s", printed);
	ck_assert_msg(strchr(printed, '\n') == printed + strlen(printed) - 1,
	              "more than the JSON line: %s", printed);
	free(printed);
	free(cmd);
	free(out);
	free(build);
	free(conf);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("example");
	TCase *tc = tcase_create("oma.conf.example");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_key_with_its_default);
	tcase_add_test(tc, test_no_unknown_keys);
	tcase_add_test(tc, test_example_validates);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
