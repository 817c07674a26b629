/* check_man.c - the man pages in BUILD/man against the code: oma -h's options, the exit codes, the tables of keys, groff and man without warnings. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <oma/plugin.h>

#include "config.h"
#include "config_internal.h"
#include "keys.h"
#include "log.h"
#include "settings.h"
#include "testlib.h"
#include "util.h"

static const char *const pages[] = {"oma.8", "oma.conf.5", "oma-plugin.7"};
#define NPAGES (sizeof(pages) / sizeof(pages[0]))

static char *tmpdir;

static void setup(void)
{
	log_set_level(OMA_LOG_ERROR + 10);
	tmpdir = t_mkdtemp("man");
}

static void teardown(void)
{
	t_remove_tree(tmpdir);
	free(tmpdir);
}

/* BUILD/man/NAME (malloc'ed). */
static char *page_path(const char *name)
{
	char *build = t_build_dir();
	char *p = xasprintf("%s/man/%s", build, name);
	free(build);
	return p;
}

/* The text of BUILD/man/NAME; fails the test when it is not there. */
static char *read_page(const char *name)
{
	char *path = page_path(name);
	char *text = t_read_file(path);
	ck_assert_msg(text != NULL, "%s: %s (run `make`)", path, strerror(errno));
	free(path);
	return text;
}

/* Everything a shell command printed on stdout and stderr (malloc'ed,
 * "" for nothing); *status gets its exit status (-1: not run). */
static char *run_cmd(const char *cmd, int *status)
{
	char *full = xasprintf("%s 2>&1", cmd);
	FILE *f = popen(full, "r");
	ck_assert_msg(f != NULL, "%s: %s", cmd, strerror(errno));
	char *out = NULL;
	size_t len = 0, cap = 0;
	buf_append(&out, &len, &cap, "", 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&out, &len, &cap, chunk, n);
	int st = pclose(f);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	free(full);
	return out;
}

/* Roff text as a reader sees it: font changes dropped, \- \e \(dq ...
 * turned into their characters (malloc'ed). */
static char *unroff(const char *s)
{
	char *out = NULL;
	size_t len = 0, cap = 0;
	buf_append(&out, &len, &cap, "", 0);
	static const struct {
		const char *esc, *text;
	} named[] = {{"dq", "\""}, {"aq", "'"}, {"lq", "\""},
	             {"rq", "\""}, {"em", "-"}, {"rs", "\\"}};
	while (*s != '\0') {
		if (s[0] != '\\' || s[1] == '\0') {
			buf_append(&out, &len, &cap, s++, 1);
			continue;
		}
		char c = s[1];
		s += 2;
		if (c == 'f') {
			s += *s == '(' ? 3 : (*s != '\0' ? 1 : 0); /* \fB, \f(CW */
		} else if (c == '(' && s[0] != '\0' && s[1] != '\0') {
			const char *text = "?";
			for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
				if (strncmp(s, named[i].esc, 2) == 0)
					text = named[i].text;
			buf_append(&out, &len, &cap, text, strlen(text));
			s += 2;
		} else if (c == 'e') {
			buf_append(&out, &len, &cap, "\\", 1);
		} else if (c != '&' && c != '|' && c != '%') {
			buf_append(&out, &len, &cap, &c, 1); /* \- \  \. */
		}
	}
	return out;
}

/* The lines right after each ".TP" of the page's section `sh` (".SH SH"
 * or .SH "SH", up to the next .SH), as written (roff). */
static void items_of(const char *page, const char *sh, struct strv *items)
{
	bool in = false, after_tp = false;
	char *plain = xasprintf(".SH %s", sh), *quoted = xasprintf(".SH \"%s\"", sh);
	for (const char *p = page; *p != '\0';) {
		const char *eol = strchr(p, '\n');
		size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p);
		char *line = xstrndup(p, n);
		p += n + (eol != NULL ? 1 : 0);
		if (strncmp(line, ".SH", 3) == 0)
			in = strcmp(line, plain) == 0 || strcmp(line, quoted) == 0;
		else if (in && after_tp)
			strv_push(items, line);
		after_tp = in && strcmp(line, ".TP") == 0;
		free(line);
	}
	free(plain);
	free(quoted);
}

/* Add the options that start `text` (as "-c, --config FILE ..." does:
 * the words beginning with '-', up to the first that does not) to `opts`. */
static void leading_options(const char *text, struct strv *opts)
{
	char *copy = xstrdup(text);
	char *save = NULL;
	for (char *w = strtok_r(copy, " ,\t", &save); w != NULL && w[0] == '-';
	     w = strtok_r(NULL, " ,\t", &save))
		if (!strv_contains(opts, w))
			strv_push(opts, w);
	free(copy);
}

/* The options `oma -h` lists: the lines of its "options:" block that
 * begin with "  -". */
static void help_options(struct strv *opts)
{
	char *build = t_build_dir();
	char *cmd = xasprintf("'%s/oma' -h", build);
	int status;
	char *out = run_cmd(cmd, &status);
	ck_assert_msg(status == 0, "%s: exit %d: %s", cmd, status, out);
	for (char *line = strstr(out, "\n  -"); line != NULL; line = strstr(line + 1, "\n  -"))
		leading_options(line + 3, opts);
	ck_assert_msg(opts->n >= 8, "%s lists only %zu options:\n%s", cmd, opts->n, out);
	free(out);
	free(cmd);
	free(build);
}

/* Every option of `oma -h` has an entry in OPTIONS of oma(8), and the
 * page lists no option oma does not have. */
START_TEST(test_every_option)
{
	struct strv help = {0}, man = {0}, items = {0};
	help_options(&help);
	char *page = read_page("oma.8");
	items_of(page, "OPTIONS", &items);
	for (size_t i = 0; i < items.n; i++) {
		char *text = unroff(items.v[i]);
		leading_options(text, &man);
		free(text);
	}
	for (size_t i = 0; i < help.n; i++)
		ck_assert_msg(
		        strv_contains(&man, help.v[i]),
		        "oma -h lists %s, oma.8 (man/oma.8.in) has no entry for it in OPTIONS",
		        help.v[i]);
	for (size_t i = 0; i < man.n; i++)
		ck_assert_msg(strv_contains(&help, man.v[i]),
		              "oma.8 (man/oma.8.in) documents %s, which oma -h does not list",
		              man.v[i]);
	strv_free(&help);
	strv_free(&man);
	strv_free(&items);
	free(page);
}
END_TEST

/* The exit codes of docs/BEHAVIOUR.md "Exit codes" (its table's "| N |"
 * rows) are those of oma(8) EXIT STATUS. */
START_TEST(test_exit_codes)
{
	char *path = t_source_path("docs/BEHAVIOUR.md");
	ck_assert_msg(path != NULL, "docs/BEHAVIOUR.md not found");
	char *doc = t_read_file(path);
	ck_assert_msg(doc != NULL, "%s: %s", path, strerror(errno));
	const char *table = strstr(doc, "\n## Exit codes\n");
	ck_assert_msg(table != NULL, "%s has no section \"Exit codes\"", path);
	const char *end = strstr(table + 1, "\n## ");
	struct strv want = {0}, got = {0}, items = {0};
	for (const char *p = strstr(table, "\n| "); p != NULL && (end == NULL || p < end);
	     p = strstr(p + 1, "\n| ")) {
		char *code = xstrndup(p + 3, strspn(p + 3, "0123456789"));
		if (code[0] != '\0')
			strv_push(&want, code);
		free(code);
	}
	ck_assert_uint_ge(want.n, 5);
	char *page = read_page("oma.8");
	items_of(page, "EXIT STATUS", &items);
	for (size_t i = 0; i < items.n; i++) {
		char *text = unroff(items.v[i]);
		strv_push(&got, text);
		free(text);
	}
	for (size_t i = 0; i < want.n; i++)
		ck_assert_msg(strv_contains(&got, want.v[i]),
		              "exit code %s (docs/BEHAVIOUR.md) is not in oma.8 EXIT STATUS",
		              want.v[i]);
	for (size_t i = 0; i < got.n; i++)
		ck_assert_msg(strv_contains(&want, got.v[i]),
		              "oma.8 EXIT STATUS has \"%s\", which docs/BEHAVIOUR.md does not",
		              got.v[i]);
	strv_free(&want);
	strv_free(&got);
	strv_free(&items);
	free(page);
	free(doc);
	free(path);
}
END_TEST

/* One key's entry of oma.conf(5):
 *   \fBKEY\fR = \fITYPE\fR (REMARK)
 * REMARK "default: \fBTOML\fR", "default: \fIwords\fR", "no default" or
 * "required". */
struct entry {
	int line;
	char *section, *key, *type;
	char *value; /* the default as TOML (unroff'ed), or NULL */
	bool worded; /* the default in words, "no default" or "required" */
};

static struct entry entries[256];
static size_t nentries;

/* Parse the text after \fBKEY\fR of an entry on line `no`; fails the test
 * when it is not in the form above. */
static void parse_entry(int no, const char *section, const char *key, const char *rest)
{
	static const char type_start[] = " = \\fI";
	ck_assert_msg(strncmp(rest, type_start, strlen(type_start)) == 0,
	              "oma.conf.5:%d: [%s] %s: expected \" = \\fITYPE\\fR (...)\"", no, section,
	              key);
	rest += strlen(type_start);
	const char *type_end = strstr(rest, "\\fR (");
	size_t rlen = strlen(rest);
	ck_assert_msg(type_end != NULL && rlen > 0 && rest[rlen - 1] == ')',
	              "oma.conf.5:%d: [%s] %s: expected \"\\fITYPE\\fR (...)\"", no, section, key);
	ck_assert_uint_lt(nentries, sizeof(entries) / sizeof(entries[0]));
	struct entry *e = &entries[nentries++];
	*e = (struct entry){.line = no, .section = xstrdup(section), .key = xstrdup(key)};
	e->type = xstrndup(rest, (size_t)(type_end - rest));
	const char *remark = type_end + 5;
	size_t n = strlen(remark) - 1;
	if (strncmp(remark, "default: \\fB", 12) == 0 && n > 15 &&
	    strncmp(remark + n - 3, "\\fR", 3) == 0) {
		char *raw = xstrndup(remark + 12, n - 15);
		e->value = unroff(raw);
		free(raw);
	} else if ((strncmp(remark, "default: \\fI", 12) == 0 && n > 15) ||
	           strncmp(remark, "no default)", n + 1) == 0 ||
	           strncmp(remark, "required)", n + 1) == 0) {
		e->worded = true;
	} else {
		ck_abort_msg("oma.conf.5:%d: [%s] %s: the remark must be (default: \\fBVALUE\\fR), "
		             "(default: \\fIwords\\fR), (no default) or (required), not (%s",
		             no, section, key, remark);
	}
}

/* The key entries of oma.conf(5): under each `.SS "[SECTION]"`, the line
 * after a .TP that begins with \fBKEY\fR. */
static void read_entries(const char *page)
{
	char *section = NULL;
	bool after_tp = false;
	int no = 0;
	for (const char *p = page; *p != '\0';) {
		const char *eol = strchr(p, '\n');
		size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p);
		char *line = xstrndup(p, n);
		p += n + (eol != NULL ? 1 : 0);
		no++;
		if (strncmp(line, ".SH", 3) == 0 || strncmp(line, ".SS", 3) == 0) {
			free(section);
			section = NULL;
			const char *open = strchr(line, '[');
			const char *close = open != NULL ? strchr(open, ']') : NULL;
			if (strncmp(line, ".SS", 3) == 0 && close != NULL)
				section = xstrndup(open + 1, (size_t)(close - open - 1));
		} else if (section != NULL && after_tp && strncmp(line, "\\fB", 3) == 0) {
			const char *k = line + 3;
			const char *kend = strstr(k, "\\fR");
			ck_assert_msg(kend != NULL, "oma.conf.5:%d: no \\fR after the key", no);
			char *key = xstrndup(k, (size_t)(kend - k));
			parse_entry(no, section, key, kend + 3);
			free(key);
		}
		after_tp = strcmp(line, ".TP") == 0;
		free(line);
	}
	free(section);
}

static void free_entries(void)
{
	for (size_t i = 0; i < nentries; i++) {
		free(entries[i].section);
		free(entries[i].key);
		free(entries[i].type);
		free(entries[i].value);
	}
	nentries = 0;
}

/* What settings_kind says ("an integer", "a string or an array of
 * strings", "a boolean (true or false)") as the page writes it
 * ("integer", "string or array of strings", "boolean"): without articles
 * and the parenthesis; malloc'ed. */
static char *type_word(const char *kind)
{
	const char *paren = strstr(kind, " (");
	char *copy = paren != NULL ? xstrndup(kind, (size_t)(paren - kind)) : xstrdup(kind);
	char *out = NULL;
	size_t len = 0, cap = 0;
	buf_append(&out, &len, &cap, "", 0);
	char *save = NULL;
	for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
		if (strcmp(w, "a") == 0 || strcmp(w, "an") == 0)
			continue;
		buf_appendf(&out, &len, &cap, "%s%s", len > 0 ? " " : "", w);
	}
	free(copy);
	return out;
}

/* Check the entry of one known key: there once, of its type, with its
 * default (or words where the default is none or no constant). */
static void check_key(const struct oma_config *cfg, const struct cfg_value *k)
{
	const struct entry *e = NULL;
	for (size_t i = 0; i < nentries; i++) {
		if (strcmp(entries[i].section, k->section) != 0 ||
		    strcmp(entries[i].key, k->key) != 0)
			continue;
		ck_assert_msg(e == NULL, "oma.conf.5:%d: [%s] %s has a second entry (line %d)",
		              entries[i].line, k->section, k->key, e != NULL ? e->line : 0);
		e = &entries[i];
	}
	ck_assert_msg(e != NULL,
	              "oma.conf.5 (man/oma.conf.5.in) has no entry for [%s] %s: add one under "
	              ".SS \"[%s]\"",
	              k->section, k->key, k->section);
	const char *kind = settings_kind(cfg, k->section, k->key);
	ck_assert_ptr_nonnull(kind);
	char *want = type_word(kind);
	ck_assert_msg(strcmp(e->type, want) == 0,
	              "oma.conf.5:%d: [%s] %s: type \"%s\", the table says \"%s\"", e->line,
	              k->section, k->key, e->type, want);
	free(want);
	bool constant = k->str != NULL && !keys_is_worded(k->section, k->key);
	if (!constant) {
		ck_assert_msg(e->worded,
		              "oma.conf.5:%d: [%s] %s has no constant default: say it in words "
		              "(default: \\fI...\\fR), or (no default) or (required)",
		              e->line, k->section, k->key);
		return;
	}
	ck_assert_msg(e->value != NULL, "oma.conf.5:%d: [%s] %s: give its default \\fB%s\\fR",
	              e->line, k->section, k->key, k->str);
	char err[1024];
	char *got = keys_value_of(k->section, k->key, e->value, tmpdir, err, sizeof(err));
	ck_assert_msg(got != NULL, "oma.conf.5:%d: [%s] %s = %s does not load: %s", e->line,
	              k->section, k->key, e->value, err);
	ck_assert_msg(strcmp(got, k->str) == 0,
	              "oma.conf.5:%d: [%s] %s: the page says default %s, the table \"%s\"", e->line,
	              k->section, k->key, e->value, k->str);
	free(got);
}

/* Every key of the tables (the core's [main] and [conditions], each built
 * plugin's, [encryption]'s) has its entry in oma.conf(5) with type and
 * default, and the page has no entry for a key no table knows. */
START_TEST(test_every_key)
{
	keys_load_tables();
	struct oma_config cfg;
	keys_known(&cfg, tmpdir);
	char *page = read_page("oma.conf.5");
	read_entries(page);
	ck_assert_uint_gt(nentries, 25);
	const struct cfg_data *d = cfg.data;
	ck_assert_uint_gt(d->neffective, 25);
	for (size_t i = 0; i < d->neffective; i++)
		check_key(&cfg, &d->effective[i]);
	for (size_t j = 0; j < nentries; j++) {
		bool known = false;
		for (size_t i = 0; i < d->neffective && !known; i++)
			known = strcmp(d->effective[i].section, entries[j].section) == 0 &&
			        strcmp(d->effective[i].key, entries[j].key) == 0;
		ck_assert_msg(known, "oma.conf.5:%d: [%s] %s is not a key of the tables",
		              entries[j].line, entries[j].section, entries[j].key);
	}
	free_entries();
	free(page);
	cfg_free(&cfg);
	keys_free_tables();
}
END_TEST

/* Each page formats without a warning, as lintian checks it (man
 * --warnings) and with groff's own warnings on (-ww). */
START_TEST(test_no_warnings)
{
	for (size_t i = 0; i < NPAGES; i++) {
		char *path = page_path(pages[i]);
		char *cmd = xasprintf("groff -man -ww -z '%s'", path);
		int status;
		char *out = run_cmd(cmd, &status);
		ck_assert_msg(status == 0 && out[0] == '\0',
		              "%s: exit %d (groff: Debian's groff-base):\n%s", cmd, status, out);
		free(out);
		free(cmd);
		cmd = xasprintf("LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 "
		                "-l -Tutf8 -Z '%s' 2>&1 >/dev/null",
		                path);
		out = run_cmd(cmd, &status);
		ck_assert_msg(status == 0 && out[0] == '\0',
		              "%s: exit %d (man: Debian's man-db):\n%s", cmd, status, out);
		free(out);
		free(cmd);
		free(path);
	}
}
END_TEST

/* make filled in every @NAME@ of the pages (man/NAME.in): they name the folders of
 * the install layout they were made for. */
START_TEST(test_layout_filled_in)
{
	for (size_t i = 0; i < NPAGES; i++) {
		char *text = read_page(pages[i]);
		for (const char *p = strchr(text, '@'); p != NULL; p = strchr(p + 1, '@')) {
			size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
			ck_assert_msg(n == 0 || p[n + 1] != '@', "%s: %.*s left as it is", pages[i],
			              (int)n + 2, p);
		}
		free(text);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("man");
	TCase *tc = tcase_create("pages");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_option);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_no_warnings);
	tcase_add_test(tc, test_layout_filled_in);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
