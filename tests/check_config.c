/* check_config.c - unit tests for core/config.c and core/toml.c (TOML through inih). */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dlfcn.h>
#include <oma/plugin.h>

#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "settings.h"
#include "toml.h"
#include "util.h"

static char tmpdir[64];
static struct oma_config cfg;
static char err[1024];

static void setup(void)
{
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
}

static void teardown(void)
{
	cfg_free(&cfg);
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

/* `text` with every "@DIR@" replaced by the test's temporary directory. */
static char *subst(const char *text)
{
	char *out = NULL;
	size_t len = 0, cap = 0;
	buf_append(&out, &len, &cap, "", 0);
	for (const char *p = text; *p;) {
		const char *at = strstr(p, "@DIR@");
		if (at == NULL) {
			buf_append(&out, &len, &cap, p, strlen(p));
			break;
		}
		buf_append(&out, &len, &cap, p, (size_t)(at - p));
		buf_append(&out, &len, &cap, tmpdir, strlen(tmpdir));
		p = at + 5;
	}
	return out;
}

/* The reporters whose tables of keys the tests below apply. */
static const char *const reporters[] = {"zabbix", "syslog", "webhook"};
#define NREPORTERS (sizeof(reporters) / sizeof(reporters[0]))

/* The table of keys the built report-NAME plugin declares
 * (build/plugins/report-NAME.so beside this test's folder): the core
 * checks [NAME] with the plugin's own table, as oma does. */
static const struct oma_setting *plugin_table(const char *name)
{
	static const struct oma_setting *tables[NREPORTERS];
	size_t i = 0;
	while (i < NREPORTERS && strcmp(reporters[i], name) != 0)
		i++;
	ck_assert_uint_lt(i, NREPORTERS);
	if (tables[i] != NULL)
		return tables[i];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	char *so = xasprintf("%s/../plugins/report-%s.so", exe, name);
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	ck_assert_msg(h != NULL, "cannot load %s: %s", so, dlerror());
	free(so);
	const struct oma_plugin *d = dlsym(h, OMA_PLUGIN_SYMBOL);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(d->settings);
	tables[i] = d->settings;
	return tables[i];
}

/* Load `text` (after subst) as "t.conf" into cfg (freeing what it held);
 * a section of one of the reporters is then checked with the plugin's
 * table, as oma does once it loaded the plugin.  Returns 0 or -1 (err
 * set). */
static int load(const char *text)
{
	cfg_free(&cfg);
	char *s = subst(text);
	int rc = cfg_load_string("t.conf", s, &cfg, err, sizeof(err));
	free(s);
	for (size_t i = 0; rc == 0 && i < NREPORTERS; i++)
		if (cfg_has_section(&cfg, reporters[i]))
			rc = cfg_register_settings(&cfg, reporters[i], plugin_table(reporters[i]),
			                           err, sizeof(err));
	return rc;
}

/* Load `body` after a two-line [main] header (so body line 1 is file line 3). */
static int load_main(const char *body)
{
	char *s = xasprintf("[main]\nbackup_dir = \"@DIR@\"\n%s", body);
	int rc = load(s);
	free(s);
	return rc;
}

#define LOAD_OK(text)                                                 \
	do {                                                          \
		int rc_ = load(text);                                 \
		ck_assert_msg(rc_ == 0, "unexpected error: %s", err); \
	} while (0)

#define MAIN_OK(body)                                                 \
	do {                                                          \
		int rc_ = load_main(body);                            \
		ck_assert_msg(rc_ == 0, "unexpected error: %s", err); \
	} while (0)

/* The error must be exactly `want`. */
#define MAIN_ERR(body, want)                           \
	do {                                           \
		ck_assert_int_eq(load_main(body), -1); \
		ck_assert_str_eq(err, want);           \
	} while (0)

#define ERR_HAS(sub) ck_assert_msg(strstr(err, sub) != NULL, "'%s' not in '%s'", sub, err)

static const struct cfg_value *value(const char *section, const char *key)
{
	const struct cfg_value *v = settings_file_value(&cfg, section, key);
	ck_assert_msg(v != NULL, "no value %s.%s", section, key);
	return v;
}

/* ---- strings ----------------------------------------------------------- */

START_TEST(test_basic_string_escapes)
{
	MAIN_OK("[x]\n"
	        "a = \"tab\\there\\nnl \\\"q\\\" back\\\\slash \\b\\f\\r end\"\n"
	        "b = \"\\u00e9\\u20AC \\U0001F600 \\u0041\"\n"
	        "c = \"\"\n");
	ck_assert_str_eq(cfg_get(&cfg, "x", "a"), "tab\there\nnl \"q\" back\\slash \b\f\r end");
	ck_assert_str_eq(cfg_get(&cfg, "x", "b"), "\xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80 A");
	ck_assert_str_eq(cfg_get(&cfg, "x", "c"), "");
	ck_assert_int_eq(value("x", "a")->type, CFG_STRING);
	ck_assert_int_eq(value("x", "b")->line, 5);
}
END_TEST

START_TEST(test_literal_and_multiline_strings)
{
	MAIN_OK("[x]\n"
	        "lit = 'C:\\Users\\nobody \"q\"'\n"
	        "ml = \"\"\"\nfirst\n  second\\tx\"\"\"\n"
	        "cont = \"\"\"one \\\n      two \\\n\n   three\"\"\"\n"
	        "quotes = \"\"\"a \"b\" \"\"c\"\"\"\"\"\n"
	        "mll = '''\nraw \\n 'x' ''y''\nline2'''\n"
	        "after = 1\n");
	ck_assert_str_eq(cfg_get(&cfg, "x", "lit"), "C:\\Users\\nobody \"q\"");
	ck_assert_str_eq(cfg_get(&cfg, "x", "ml"), "first\n  second\tx");
	ck_assert_str_eq(cfg_get(&cfg, "x", "cont"), "one two three");
	ck_assert_str_eq(cfg_get(&cfg, "x", "quotes"), "a \"b\" \"\"c\"\"");
	ck_assert_str_eq(cfg_get(&cfg, "x", "mll"), "raw \\n 'x' ''y''\nline2");
	/* physical lines are counted through multi-line strings */
	ck_assert_int_eq(value("x", "cont")->line, 8);
	ck_assert_int_eq(value("x", "after")->line, 16);
}
END_TEST

START_TEST(test_comment_chars_inside_strings)
{
	/* '#' and ';' inside strings are text; inih would cut at " ;" */
	ck_assert_int_eq(load_main("mysqldump_bin = \"/opt/my#sql ;dump\" ; not a TOML comment\n"),
	                 -1);
	ck_assert_str_eq(err, "config t.conf:3: unexpected ';' after value");
	MAIN_OK("mysqldump_options = [\"--where=a ; b\", '#x', \"#y # z\"] # real comment\n"
	        "mysqldump_bin = \"/opt/my#sql ;dump\"   # comment\n");
	ck_assert_uint_eq(cfg.main.mysqldump_options.n, 3);
	ck_assert_str_eq(cfg.main.mysqldump_options.v[0], "--where=a ; b");
	ck_assert_str_eq(cfg.main.mysqldump_options.v[1], "#x");
	ck_assert_str_eq(cfg.main.mysqldump_options.v[2], "#y # z");
	ck_assert_str_eq(cfg.main.mysqldump_bin, "/opt/my#sql ;dump");
}
END_TEST

START_TEST(test_string_errors)
{
	MAIN_ERR("[x]\na = \"bad \\q escape\"\n",
	         "config t.conf:4: invalid escape sequence: backslash followed by 'q'");
	ck_assert_int_eq(load_main("[x]\na = \"\\u12\"\n"), -1);
	ERR_HAS("t.conf:4: invalid escape \\u: expected 4 hex digits");
	ck_assert_int_eq(load_main("a = \"\\uD800\"\n"), -1);
	ERR_HAS("t.conf:3: ");
	ERR_HAS("not a Unicode scalar value");
	ck_assert_int_eq(load_main("a = \"\\U00110000\"\n"), -1);
	ERR_HAS("not a Unicode scalar value");
	MAIN_ERR("a = \"open\nb = 1\n", "config t.conf:3: unterminated string");
	MAIN_ERR("\n\na = \"\"\"open\n\n", "config t.conf:5: unterminated string");
	MAIN_ERR("a = 'x\ty\x01'\n",
	         "config t.conf:3: control character 0x01 in string (use an escape)");
	MAIN_ERR("a = \"\"\"x\"\"\"\"\"\"\n",
	         "config t.conf:3: too many quotes (6) in multi-line string");
	MAIN_ERR("\"\"\"k\"\"\" = 1\n", "config t.conf:3: a multi-line string cannot be a key");
	MAIN_ERR("a = \"x\" junk\n", "config t.conf:3: unexpected 'j' after value");
	/* invalid UTF-8 is rejected with its line */
	MAIN_ERR("\na = \"\xc3\x28\"\n", "config t.conf:4: invalid UTF-8 sequence");
}
END_TEST

/* ---- numbers, booleans, dates ----------------------------------------- */

START_TEST(test_integers_and_booleans)
{
	MAIN_OK("versions = 1_000\n"
	        "lock_port = +8_080\n"
	        "parallelism = -3\n"
	        "[x]\n"
	        "hex = 0xDEAD_beef\n"
	        "oct = 0o755\n"
	        "bin = 0b1010_1010\n"
	        "zero = -0\n"
	        "max = 9_223_372_036_854_775_807\n"
	        "min = -9223372036854775808\n"
	        "t = true\n"
	        "f = false\n");
	ck_assert_int_eq(cfg.main.versions, 1000);
	ck_assert_int_eq(cfg.main.lock_port, 8080);
	ck_assert_int_eq(cfg.main.parallelism, -3);
	ck_assert_int_eq(value("x", "hex")->num, 0xDEADBEEF);
	ck_assert_int_eq(value("x", "hex")->type, CFG_INT);
	ck_assert_str_eq(cfg_get(&cfg, "x", "hex"), "3735928559");
	ck_assert_str_eq(cfg_get(&cfg, "x", "oct"), "493");
	ck_assert_str_eq(cfg_get(&cfg, "x", "bin"), "170");
	ck_assert_str_eq(cfg_get(&cfg, "x", "zero"), "0");
	ck_assert(value("x", "max")->num == LLONG_MAX);
	ck_assert(value("x", "min")->num == LLONG_MIN);
	ck_assert_int_eq(value("x", "t")->type, CFG_BOOL);
	ck_assert_int_eq(value("x", "t")->num, 1);
	ck_assert_int_eq(value("x", "f")->num, 0);
	ck_assert_str_eq(cfg_get(&cfg, "x", "t"), "true");
	ck_assert_str_eq(cfg_get(&cfg, "x", "f"), "false");
	MAIN_OK("delete_before = true\nskip_unchanged_dbs = true\nversions = 2\n");
	ck_assert(cfg.main.delete_before);
	ck_assert(cfg.main.skip_unchanged_dbs);
}
END_TEST

START_TEST(test_integer_errors)
{
	MAIN_ERR("versions = 01\n",
	         "config t.conf:3: invalid number 01: leading zeros are not allowed");
	MAIN_ERR("versions = 9223372036854775808\n",
	         "config t.conf:3: integer 9223372036854775808 does not fit in 64 bits");
	MAIN_ERR("a = -9223372036854775809\n",
	         "config t.conf:3: integer -9223372036854775809 does not fit in 64 bits");
	MAIN_ERR("a = 0x1_0000_0000_0000_0000\n",
	         "config t.conf:3: integer 0x1_0000_0000_0000_0000 does not fit in 64 bits");
	MAIN_ERR("a = 1__0\n", "config t.conf:3: invalid number 1__0");
	MAIN_ERR("a = 1_\n", "config t.conf:3: invalid number 1_");
	MAIN_ERR("a = 0x_1\n", "config t.conf:3: invalid integer 0x_1");
	MAIN_ERR("a = 0b102\n", "config t.conf:3: invalid integer 0b102");
	MAIN_ERR("a = +0x10\n",
	         "config t.conf:3: invalid integer +0x10: no sign allowed with a 0x prefix");
	MAIN_ERR("a = TRUE\n", "config t.conf:3: expected a value, found 'T'");
	MAIN_ERR("a = truex\n", "config t.conf:3: invalid value (expected true or false)");
	MAIN_ERR("a = 1.\n", "config t.conf:3: invalid float 1.");
	MAIN_ERR("a = 1979-02-30\n", "config t.conf:3: invalid date 1979-02-30");
}
END_TEST

START_TEST(test_floats_and_dates)
{
	MAIN_OK("[x]\n"
	        "f1 = 3.1415\nf2 = -1e-3\nf3 = 6.626_1E+34\nf4 = inf\nf5 = -nan\n"
	        "odt = 1979-05-27T07:32:00.5-07:00\n"
	        "sp = 1979-05-27 07:32:00Z\n"
	        "ldt = 1979-05-27T07:32:00\n"
	        "ld = 2000-02-29\n"
	        "lt = 07:32:00\n");
	ck_assert_int_eq(value("x", "f1")->type, CFG_FLOAT);
	ck_assert_str_eq(cfg_get(&cfg, "x", "f1"), "3.1415");
	ck_assert_str_eq(cfg_get(&cfg, "x", "f3"), "6.626_1E+34");
	ck_assert_str_eq(cfg_get(&cfg, "x", "f5"), "-nan");
	ck_assert_int_eq(value("x", "odt")->type, CFG_OTHER);
	ck_assert_str_eq(cfg_get(&cfg, "x", "odt"), "1979-05-27T07:32:00.5-07:00");
	ck_assert_str_eq(cfg_get(&cfg, "x", "sp"), "1979-05-27 07:32:00Z");
	ck_assert_str_eq(cfg_get(&cfg, "x", "ld"), "2000-02-29");
	ck_assert_str_eq(cfg_get(&cfg, "x", "lt"), "07:32:00");
	/* a float where an integer belongs is a type error */
	MAIN_ERR("versions = 3.0\n",
	         "config t.conf:3: [main] versions: expected an integer, got a float");
}
END_TEST

/* ---- arrays ------------------------------------------------------------ */

START_TEST(test_arrays)
{
	MAIN_OK("mysqldump_options = [\n"
	        "  # a comment line inside the array\n"
	        "  '--single-transaction', # after an element\n"
	        "  \"--quick\"\n"
	        "  ,\n"
	        "  \"\"\"--where=x\n"
	        "y\"\"\",\n"
	        "]\n"
	        "exclude_databases = [ ]\n"
	        "[x]\n"
	        "mixed = [1, \"two\", true, [3, 4], {k = 5}]\n"
	        "nested = [[\"a\"], [\"b\"]]\n"
	        "empty = []\n"
	        "after = 1\n");
	ck_assert_uint_eq(cfg.main.mysqldump_options.n, 3);
	ck_assert_str_eq(cfg.main.mysqldump_options.v[0], "--single-transaction");
	ck_assert_str_eq(cfg.main.mysqldump_options.v[1], "--quick");
	ck_assert_str_eq(cfg.main.mysqldump_options.v[2], "--where=x\ny");
	ck_assert_uint_eq(cfg.main.exclude_databases.n, 0);
	ck_assert_str_eq(cfg_get(&cfg, "main", "mysqldump_options"),
	                 "--single-transaction\n--quick\n--where=x\ny");
	const struct cfg_value *m = value("x", "mixed");
	ck_assert_int_eq(m->type, CFG_ARRAY);
	ck_assert(!m->arr_all_strings);
	ck_assert_uint_eq(m->arr.n, 5);
	ck_assert_str_eq(m->arr.v[0], "1");
	ck_assert_str_eq(m->arr.v[3], "[3, 4]");
	ck_assert_str_eq(m->arr.v[4], "{k = 5}");
	ck_assert(!value("x", "nested")->arr_all_strings);
	ck_assert(value("x", "empty")->arr_all_strings);
	ck_assert_int_eq(value("x", "after")->line, 16);
}
END_TEST

START_TEST(test_array_errors)
{
	MAIN_ERR("a = [1 2]\n", "config t.conf:3: expected ',' or ']' in array, found '2'");
	MAIN_ERR("a = [1,,2]\n", "config t.conf:3: expected a value, found ','");
	MAIN_ERR("a = [\n  1,\n", "config t.conf:3: unterminated array");
	MAIN_ERR(
	        "mysqldump_options = \"--quick\"\n",
	        "config t.conf:3: [main] mysqldump_options: expected an array of strings, got a string");
	MAIN_ERR("\nmysqldump_options = [1, 2]\n",
	         "config t.conf:4: [main] mysqldump_options: expected an array of strings, got an "
	         "array with non-string elements");
	MAIN_ERR("a = {x = 1,}\n", "config t.conf:3: trailing comma in inline table");
	MAIN_ERR("a = {x = 1,\n y = 2}\n", "config t.conf:3: expected a key, found end of line");
}
END_TEST

/* ---- physical layout --------------------------------------------------- */

START_TEST(test_long_lines)
{
	/* a 6000-byte string and a 600-element array on one line each: far
	 * beyond inih's 200-byte line buffer */
	char *long_str = xmalloc(6001);
	for (int i = 0; i < 6000; i++)
		long_str[i] = (char)('a' + i % 26);
	long_str[6000] = '\0';
	char *arr = NULL;
	size_t len = 0, cap = 0;
	buf_append(&arr, &len, &cap, "[", 1);
	for (int i = 0; i < 600; i++)
		buf_appendf(&arr, &len, &cap, "%s\"db_%03d\"", i ? ", " : "", i);
	buf_append(&arr, &len, &cap, "]", 1);
	ck_assert_uint_gt(len, 4096);
	char *body = xasprintf("mysqldump_bin = \"/x/%s\"\nexclude_databases = %s # done\n"
	                       "versions = 7\n",
	                       long_str, arr);
	ck_assert_uint_gt(strlen(body), 2 * 4096);
	MAIN_OK(body);
	ck_assert_uint_eq(strlen(cfg.main.mysqldump_bin), 6003);
	ck_assert_int_eq(memcmp(cfg.main.mysqldump_bin + 3, long_str, 6000), 0);
	ck_assert_uint_eq(cfg.main.exclude_databases.n, 600);
	ck_assert_str_eq(cfg.main.exclude_databases.v[599], "db_599");
	ck_assert_int_eq(cfg.main.versions, 7);
	ck_assert_int_eq(value("main", "versions")->line, 5);
	/* a long key and a long table name work too */
	cfg_free(&cfg);
	char *body2 = xasprintf("[%s]\n%s = 'v'\n", long_str, long_str);
	MAIN_OK(body2);
	ck_assert(cfg_has_section(&cfg, long_str));
	ck_assert_str_eq(cfg_get(&cfg, long_str, long_str), "v");
	free(body2);
	free(body);
	free(arr);
	free(long_str);
}
END_TEST

START_TEST(test_crlf_comments_bom)
{
	LOAD_OK("\xef\xbb\xbf# comment\r\n"
	        "[main] # table comment\r\n"
	        "backup_dir = \"@DIR@\"\r\n"
	        "  # indented comment\r\n"
	        "\t versions = 3\t# comment with \"quotes\" and 'x' = y\r\n"
	        "mysqldump_options = [\r\n"
	        "  \"--quick\", # c\r\n"
	        "]\r\n"
	        "[zabbix]\r\n"
	        "item_key = \"\"\"\r\nx\r\ny\"\"\"\r\n"
	        "sender_bin = \"zs\"");
	ck_assert_int_eq(cfg.main.versions, 3);
	ck_assert_int_eq(value("main", "versions")->line, 5);
	ck_assert_uint_eq(cfg.main.mysqldump_options.n, 1);
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "item_key"), "x\ny");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "sender_bin"), "zs");
	ck_assert_int_eq(value("zabbix", "sender_bin")->line, 13);
	cfg_free(&cfg);
	ck_assert_int_eq(load("[main]\rbackup_dir = \"@DIR@\"\n"), -1);
	ck_assert_str_eq(err, "config t.conf:1: unexpected byte 0x0d after table header");
}
END_TEST

/* ---- tables and keys --------------------------------------------------- */

START_TEST(test_tables_and_keys)
{
	MAIN_OK("\"versions\" = 2\n"
	        "'mysql_bin' = \"m\"\n"
	        "[mysite]\n"
	        "facility = \"daemon\"\n"
	        "[notify . headers]\n"
	        "\"X-Token\" = 'abc'\n"
	        "\"key with spaces\" = 1\n"
	        "[notify]\n"
	        "url = \"https://example.org/hook\"\n"
	        "retry.count = 3\n"
	        "retry.delay = 2\n"
	        "auth = {user = \"u\", pass.word = \"p\"}\n"
	        "[[reporter]]\n"
	        "name = \"a\"\n"
	        "[[reporter]]\n"
	        "name = \"b\"\n"
	        "[empty]\n");
	ck_assert_int_eq(cfg.main.versions, 2);
	ck_assert_str_eq(cfg.main.mysql_bin, "m");
	ck_assert(cfg_has_section(&cfg, "mysite"));
	ck_assert(cfg_has_section(&cfg, "notify"));
	ck_assert(cfg_has_section(&cfg, "empty"));
	ck_assert(cfg_has_section(&cfg, "main"));
	ck_assert(!cfg_has_section(&cfg, "zabbix"));
	ck_assert(!cfg_has_section(&cfg, "nope"));
	ck_assert_str_eq(cfg_get(&cfg, "mysite", "facility"), "daemon");
	ck_assert_str_eq(cfg_get(&cfg, "notify", "headers.X-Token"), "abc");
	ck_assert_str_eq(cfg_get(&cfg, "notify", "headers.key with spaces"), "1");
	ck_assert_str_eq(cfg_get(&cfg, "notify", "url"), "https://example.org/hook");
	ck_assert_str_eq(cfg_get(&cfg, "notify", "retry.count"), "3");
	ck_assert_str_eq(cfg_get(&cfg, "notify", "auth.user"), "u");
	ck_assert_str_eq(cfg_get(&cfg, "notify", "auth.pass.word"), "p");
	ck_assert_ptr_null(cfg_get(&cfg, "notify", "missing"));
	ck_assert_int_eq(value("notify", "auth.user")->line, 14);
	ck_assert_int_eq(value("reporter", "name")->index, 0);
	ck_assert_int_eq(cfg.data->values[cfg.data->nvalues - 1].index, 1);
	ck_assert_str_eq(cfg.data->values[cfg.data->nvalues - 1].str, "b");
	/* other sections are for plugins: no warnings */
	ck_assert_uint_eq(cfg.warnings.n, 0);
	/* dotted keys at the top level define [main] just as well */
	cfg_free(&cfg);
	LOAD_OK("main.backup_dir = \"@DIR@\"\nmain.versions = 4\n");
	ck_assert_int_eq(cfg.main.versions, 4);
	cfg_free(&cfg);
	LOAD_OK("main = {backup_dir = \"@DIR@\", versions = 5}\n");
	ck_assert_int_eq(cfg.main.versions, 5);
}
END_TEST

START_TEST(test_duplicates_and_redefinitions)
{
	MAIN_ERR("versions = 1\nversions = 2\n", "config t.conf:4: duplicate key 'versions'");
	MAIN_ERR("\"versions\" = 1\nversions = 2\n", "config t.conf:4: duplicate key 'versions'");
	MAIN_ERR("[main]\n", "config t.conf:3: table [main] is defined more than once");
	MAIN_ERR("[a]\n[b]\n[a]\n", "config t.conf:5: table [a] is defined more than once");
	MAIN_ERR("[a]\nb.c = 1\n[a.b]\n", "config t.conf:5: table [a.b] is defined more than once");
	MAIN_ERR("[a.b]\n[a]\nb.c = 1\n",
	         "config t.conf:5: key 'b.c': 'b' is already defined and cannot be extended");
	MAIN_ERR("[x]\na = 1\na.b = 2\n",
	         "config t.conf:5: key 'a.b': 'a' is already defined and cannot be extended");
	MAIN_ERR("[x]\na = {b = 1}\na.c = 2\n",
	         "config t.conf:5: key 'a.c': 'a' is already defined and cannot be extended");
	MAIN_ERR("[x]\na = {b = 1, b = 2}\n", "config t.conf:4: duplicate key 'b'");
	MAIN_ERR("[[a]]\n[a]\n",
	         "config t.conf:4: table [a] is already defined as an array of tables");
	MAIN_ERR("[a]\n[[a]]\n",
	         "config t.conf:4: array of tables [[a]]: 'a' is already defined as a table");
	MAIN_ERR("[x]\na = []\n[[x.a]]\n",
	         "config t.conf:5: table [x.a]: 'a' is already defined as a value");
	/* [main] as an array of tables is not a table */
	ck_assert_int_eq(load("[[main]]\nbackup_dir = \"@DIR@\"\n"), -1);
	ck_assert_str_eq(err, "config t.conf:1: [main] must be a table, not an array of tables");
	ck_assert_int_eq(load("main = 1\n"), -1);
	ck_assert_str_eq(err, "config t.conf:1: 'main' must be a table ([main]), got an integer");
}
END_TEST

START_TEST(test_syntax_errors)
{
	MAIN_ERR("versions\n",
	         "config t.conf:3: expected '=' after key 'versions', found end of line");
	MAIN_ERR("versions =\n", "config t.conf:3: expected a value, found end of line");
	MAIN_ERR("= 1\n", "config t.conf:3: expected a key, found '='");
	MAIN_ERR("[x\n", "config t.conf:3: expected ']' after table name 'x', found end of line");
	MAIN_ERR("[[x]\n",
	         "config t.conf:3: expected ']]' after table name 'x', found end of line");
	MAIN_ERR("[]\n", "config t.conf:3: expected a key, found ']'");
	MAIN_ERR("[x] y = 1\n", "config t.conf:3: unexpected 'y' after table header");
	MAIN_ERR("a = 1 b = 2\n", "config t.conf:3: unexpected 'b' after value");
	MAIN_ERR("# ok\n#\x01 not ok\n", "config t.conf:4: control character 0x01 in comment");
	/* INI spellings inih would accept are not TOML */
	MAIN_ERR("log_level: debug\n",
	         "config t.conf:3: expected '=' after key 'log_level', found ':'");
	MAIN_ERR("; comment\n", "config t.conf:3: expected a key, found ';'");
	MAIN_ERR("log_level = debug\n", "config t.conf:3: expected a value, found 'd'");
}
END_TEST

/* ---- schema ------------------------------------------------------------ */

START_TEST(test_defaults)
{
	LOAD_OK("[main]\nbackup_dir = \"@DIR@\"\n");
	const struct cfg_main *m = &cfg.main;
	ck_assert_str_eq(m->backup_dir, tmpdir);
	ck_assert_int_eq(m->versions, 1);
	ck_assert(!m->delete_before);
	ck_assert(!m->skip_unchanged_dbs);
	ck_assert_int_eq(m->link_type, CFG_LINK_HARD);
	ck_assert_int_eq(m->parallelism, cpu_count());
	ck_assert_str_eq(m->mysqldump_bin, "mysqldump");
	ck_assert_str_eq(m->mysql_bin, "mysql");
	ck_assert_uint_eq(m->exclude_databases.n, 0);
	ck_assert_uint_eq(m->do_databases.n, 0);
	ck_assert_uint_eq(m->mysqldump_options.n, 0);
	ck_assert_int_eq(m->log_level, OMA_LOG_INFO);
	ck_assert_int_eq(m->lock_port, 45678);
	ck_assert_str_eq(m->compression, "gzip");
	ck_assert_int_eq(m->compression_level, -1);
	ck_assert_ptr_null(m->plugin_dir);
	ck_assert_uint_eq(cfg.cond.skip.n + cfg.cond.run.n + cfg.cond.terminate.n, 0);
	ck_assert_int_eq(cfg.cond.skip_timeout + cfg.cond.run_timeout + cfg.cond.terminate_timeout,
	                 0);
	/* The core knows no plugin's keys: without [zabbix] nothing of it. */
	ck_assert_ptr_null(cfg_get(&cfg, "zabbix", "item_key"));
	ck_assert_str_eq(cfg.path, "t.conf");
	ck_assert_uint_eq(cfg.warnings.n, 0);
	/* cfg_get gives the effective value of known keys, defaults included */
	ck_assert_str_eq(cfg_get(&cfg, "main", "versions"), "1");
	ck_assert_str_eq(cfg_get(&cfg, "main", "delete_before"), "false");
	ck_assert_str_eq(cfg_get(&cfg, "main", "link_type"), "hard");
	ck_assert_str_eq(cfg_get(&cfg, "main", "log_level"), "info");
	ck_assert_str_eq(cfg_get(&cfg, "main", "exclude_databases"), "");
	ck_assert_ptr_null(cfg_get(&cfg, "main", "plugin_dir"));
	ck_assert_str_eq(cfg_get(&cfg, "conditions", "run_conditions_timeout"), "0");
}
END_TEST

START_TEST(test_all_keys_set)
{
	MAIN_OK("versions = 3\n"
	        "delete_before = false\n"
	        "skip_unchanged_dbs = true\n"
	        "link_type = \"symbolic\"\n"
	        "parallelism = 4\n"
	        "mysqldump_bin = \"/usr/bin/mariadb-dump\"\n"
	        "mysql_bin = \"/usr/bin/mariadb\"\n"
	        "do_databases = [\"a\", \"b\"]\n"
	        "mysqldump_options = [\"--single-transaction\"]\n"
	        "log_level = \"WARNING\"\n"
	        "lock_port = 1\n"
	        "compression = \"zstd\"\n"
	        "compression_level = 19\n"
	        "plugin_dir = \"/opt/oma/plugins\"\n"
	        "[conditions]\n"
	        "skip_conditions = [\"test -f /x\"]\n"
	        "run_conditions = [\"true\", \"mountpoint -q /b\"]\n"
	        "terminate_conditions = ['rsync -a \"$OMA_CURRENT_DIR\" remote:']\n"
	        "skip_conditions_timeout = 5\n"
	        "run_conditions_timeout = 60\n"
	        "terminate_conditions_timeout = 3600\n"
	        "[zabbix]\n"
	        "item_key = \"oma.log\"\n"
	        "sender_bin = \"/usr/local/bin/zabbix_sender\"\n"
	        "agent_conf = \"/etc/zabbix/agent.conf\"\n");
	const struct cfg_main *m = &cfg.main;
	ck_assert_int_eq(m->versions, 3);
	ck_assert(m->skip_unchanged_dbs);
	ck_assert_int_eq(m->link_type, CFG_LINK_SYMBOLIC);
	ck_assert_int_eq(m->parallelism, 4);
	ck_assert_str_eq(m->mysqldump_bin, "/usr/bin/mariadb-dump");
	ck_assert_str_eq(m->mysql_bin, "/usr/bin/mariadb");
	ck_assert_uint_eq(m->do_databases.n, 2);
	ck_assert_str_eq(m->do_databases.v[1], "b");
	ck_assert_int_eq(m->log_level, OMA_LOG_WARNING);
	ck_assert_int_eq(m->lock_port, 1);
	ck_assert_str_eq(m->compression, "zstd");
	ck_assert_int_eq(m->compression_level, 19);
	ck_assert_str_eq(m->plugin_dir, "/opt/oma/plugins");
	ck_assert_uint_eq(cfg.cond.skip.n, 1);
	ck_assert_uint_eq(cfg.cond.run.n, 2);
	ck_assert_str_eq(cfg.cond.run.v[1], "mountpoint -q /b");
	ck_assert_str_eq(cfg.cond.terminate.v[0], "rsync -a \"$OMA_CURRENT_DIR\" remote:");
	ck_assert_int_eq(cfg.cond.skip_timeout, 5);
	ck_assert_int_eq(cfg.cond.run_timeout, 60);
	ck_assert_int_eq(cfg.cond.terminate_timeout, 3600);
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "item_key"), "oma.log");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "sender_bin"), "/usr/local/bin/zabbix_sender");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "agent_conf"), "/etc/zabbix/agent.conf");
	ck_assert_str_eq(cfg_get(&cfg, "main", "log_level"), "warning");
	ck_assert_str_eq(cfg_get(&cfg, "main", "link_type"), "symbolic");
	ck_assert_str_eq(cfg_get(&cfg, "conditions", "run_conditions"), "true\nmountpoint -q /b");
	ck_assert_uint_eq(cfg.warnings.n, 0);
}
END_TEST

START_TEST(test_validation_errors)
{
	ck_assert_int_eq(load("[zabbix]\nitem_key = \"k\"\n"), -1);
	ck_assert_str_eq(err, "config t.conf: [main] table missing");
	ck_assert_int_eq(load("# nothing\n"), -1);
	ck_assert_str_eq(err, "config t.conf: [main] table missing");
	ck_assert_int_eq(load("[main]\nversions = 2\n"), -1);
	ck_assert_str_eq(err, "config t.conf: [main] backup_dir: missing (mandatory key)");
	ck_assert_int_eq(load("[main]\nbackup_dir = \"@DIR@/nonexistent\"\n"), -1);
	ERR_HAS("config t.conf:2: [main] backup_dir: '");
	ERR_HAS("/nonexistent': No such file or directory");
	ck_assert_int_eq(load("[main]\n\nbackup_dir = \"/etc/passwd\"\n"), -1);
	ck_assert_str_eq(err,
	                 "config t.conf:3: [main] backup_dir: '/etc/passwd' is not a directory");
	ck_assert_int_eq(load("[main]\nbackup_dir = 5\n"), -1);
	ck_assert_str_eq(err,
	                 "config t.conf:2: [main] backup_dir: expected a string, got an integer");

	MAIN_ERR(
	        "link_type = \"soft\"\n",
	        "config t.conf:3: [main] link_type: must be \"hard\" or \"symbolic\", not \"soft\"");
	MAIN_ERR("\n\n\n\nparallelism = 0\n", "config t.conf:7: [main] parallelism: must not be 0");
	MAIN_ERR(
	        "exclude_databases = [\"a\"]\ndo_databases = [\"b\"]\n",
	        "config t.conf:4: [main] do_databases: cannot be used together with exclude_databases");
	MAIN_ERR(
	        "do_databases = [\"b\"]\nexclude_databases = [\"a\"]\n",
	        "config t.conf:4: [main] exclude_databases: cannot be used together with do_databases");
	MAIN_ERR("delete_before = true\nskip_unchanged_dbs = true\n",
	         "config t.conf:3: [main] delete_before: delete_before = true with "
	         "skip_unchanged_dbs = true needs versions >= 2 (versions = 1)");
	MAIN_ERR("versions = \"3\"\n",
	         "config t.conf:3: [main] versions: expected an integer, got a string");
	MAIN_ERR("versions = 0\n", "config t.conf:3: [main] versions: must be 1..100000, not 0");
	MAIN_ERR(
	        "delete_before = \"yes\"\n",
	        "config t.conf:3: [main] delete_before: expected a boolean (true or false), got a string");
	MAIN_ERR(
	        "log_level = \"verbose\"\n",
	        "config t.conf:3: [main] log_level: must be one of debug, info, warning, error, not "
	        "\"verbose\"");
	MAIN_ERR("lock_port = 65536\n",
	         "config t.conf:3: [main] lock_port: must be 1..65535, not 65536");
	MAIN_ERR("lock_port = 0\n", "config t.conf:3: [main] lock_port: must be 1..65535, not 0");
	MAIN_ERR(
	        "compression = \"../evil\"\n",
	        "config t.conf:3: [main] compression: must be a plugin name made of [a-z0-9_-], not "
	        "\"../evil\"");
	MAIN_ERR(
	        "compression = \"\"\n",
	        "config t.conf:3: [main] compression: must be a plugin name made of [a-z0-9_-], not \"\"");
	MAIN_ERR(
	        "compression_level = -2\n",
	        "config t.conf:3: [main] compression_level: must be -1..1000 (-1: the compressor's "
	        "default), not -2");
	MAIN_ERR("mysql_bin = \"\"\n", "config t.conf:3: [main] mysql_bin: must not be empty");
	MAIN_ERR("plugin_dir = []\n",
	         "config t.conf:3: [main] plugin_dir: expected a string, got an array of strings");
	MAIN_ERR(
	        "[conditions]\nrun_conditions = \"true\"\n",
	        "config t.conf:4: [conditions] run_conditions: expected an array of strings, got a string");
	MAIN_ERR(
	        "[conditions]\nrun_conditions_timeout = -1\n",
	        "config t.conf:4: [conditions] run_conditions_timeout: must be 0..2147483647 seconds "
	        "(0: no limit), not -1");
	/* Past the range: refused, never cut to fit (4294967297 was 1 s). */
	MAIN_ERR(
	        "[conditions]\nrun_conditions_timeout = 4294967297\n",
	        "config t.conf:4: [conditions] run_conditions_timeout: must be 0..2147483647 seconds "
	        "(0: no limit), not 4294967297");
	MAIN_ERR(
	        "[conditions]\nterminate_conditions_timeout = 9223372036854775807\n",
	        "config t.conf:4: [conditions] terminate_conditions_timeout: must be 0..2147483647 "
	        "seconds (0: no limit), not 9223372036854775807");
	MAIN_ERR("versions = 100001\n",
	         "config t.conf:3: [main] versions: must be 1..100000, not 100001");
	MAIN_ERR(
	        "parallelism = 5000\n",
	        "config t.conf:3: [main] parallelism: must be -4096..4096 (negative: CPUs minus that "
	        "many), not 5000");
	MAIN_ERR(
	        "compression_level = 4294967302\n",
	        "config t.conf:3: [main] compression_level: must be -1..1000 (-1: the compressor's "
	        "default), not 4294967302");
	MAIN_ERR(
	        "server_timeout = -5\n",
	        "config t.conf:3: [main] server_timeout: must be 0..2147483647 seconds (0: no limit), "
	        "not -5");
	MAIN_ERR("dump_stall_timeout = 0x100000000\n",
	         "config t.conf:3: [main] dump_stall_timeout: must be 0..2147483647 seconds (0: no "
	         "limit), not 4294967296");
	MAIN_ERR("[zabbix]\nitem_key = true\n",
	         "config t.conf:4: [zabbix] item_key: expected a string, got a boolean");
	MAIN_ERR("versions.x = 1\n",
	         "config t.conf:3: [main] versions: expected an integer, got a table");
	MAIN_ERR(
	        "versions = 2\n[main.versions]\n",
	        "config t.conf:4: table [main.versions]: 'versions' is already defined as a value");
	MAIN_ERR("[main.versions]\n",
	         "config t.conf:3: [main] versions: expected an integer, got a table");
	MAIN_ERR("versions = 1979-05-27\n",
	         "config t.conf:3: [main] versions: expected an integer, got a date-time");
}
END_TEST

START_TEST(test_valid_combinations)
{
	/* both lists may be given when one is empty */
	MAIN_OK("exclude_databases = []\ndo_databases = [\"a\"]\n");
	cfg_free(&cfg);
	/* delete_before with skip_unchanged_dbs is fine with versions >= 2 */
	MAIN_OK("delete_before = true\nskip_unchanged_dbs = true\nversions = 2\n");
	cfg_free(&cfg);
	MAIN_OK("delete_before = true\nversions = 1\n");
	cfg_free(&cfg);
	MAIN_OK("lock_port = 65535\ncompression = \"my_zstd-2\"\ncompression_level = 0\n");
	ck_assert_str_eq(cfg.main.compression, "my_zstd-2");
}
END_TEST

START_TEST(test_unknown_keys)
{
	MAIN_OK("verions = 2\n"
	        "sub.key = 1\n"
	        "[conditions]\n"
	        "skip_condition = [\"x\"]\n"
	        "[zabbix]\n"
	        "server = \"z\"\n"
	        "[mysite]\n"
	        "anything = 1\n");
	ck_assert_uint_eq(cfg.warnings.n, 4);
	ck_assert_str_eq(cfg.warnings.v[0],
	                 "config t.conf:3: unknown key 'verions' in [main], ignored");
	ck_assert_str_eq(cfg.warnings.v[1],
	                 "config t.conf:4: unknown key 'sub.key' in [main], ignored");
	ck_assert_str_eq(cfg.warnings.v[2],
	                 "config t.conf:6: unknown key 'skip_condition' in [conditions], ignored");
	ck_assert_str_eq(cfg.warnings.v[3],
	                 "config t.conf:8: unknown key 'server' in [zabbix], ignored");
	ck_assert_int_eq(cfg.main.versions, 1);
	/* plugins can still read unknown keys */
	ck_assert_str_eq(cfg_get(&cfg, "main", "verions"), "2");
	cfg_free(&cfg);
	LOAD_OK("top = 1\n[main]\nbackup_dir = \"@DIR@\"\n");
	ck_assert_uint_eq(cfg.warnings.n, 1);
	ck_assert_str_eq(cfg.warnings.v[0],
	                 "config t.conf:1: unknown key 'top' outside any table, ignored");
	ck_assert_str_eq(cfg_get(&cfg, "", "top"), "1");
}
END_TEST

START_TEST(test_parallelism)
{
	MAIN_OK("");
	ck_assert_int_eq(cfg_parallelism(&cfg, 8), cpu_count());
	cfg_free(&cfg);
	MAIN_OK("parallelism = 3\n");
	ck_assert_int_eq(cfg_parallelism(&cfg, 8), 3);
	ck_assert_int_eq(cfg_parallelism(&cfg, 1), 3);
	cfg_free(&cfg);
	MAIN_OK("parallelism = -2\n");
	ck_assert_int_eq(cfg_parallelism(&cfg, 10), 8);
	ck_assert_int_eq(cfg_parallelism(&cfg, 3), 1);
	ck_assert_int_eq(cfg_parallelism(&cfg, 2), 1);
	ck_assert_int_eq(cfg_parallelism(&cfg, 1), 1);
	cfg_free(&cfg);
	MAIN_OK("parallelism = -4096\n");
	ck_assert_int_eq(cfg_parallelism(&cfg, 16), 1);
	cfg_free(&cfg);
	MAIN_OK("parallelism = 4096\n");
	ck_assert_int_eq(cfg_parallelism(&cfg, 16), 4096);
}
END_TEST

/* ---- --print-config ---------------------------------------------------- */

/* Print cfg as JSON into a file in tmpdir; returns its contents. */
static char *print_json(char *path, size_t pathlen)
{
	(void)snprintf(path, pathlen, "%s/out.json", tmpdir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(cfg_print_json(&cfg, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char *buf = xcalloc(1, 1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

#define HAS(s) ck_assert_msg(strstr(json, s) != NULL, "'%s' not in %s", s, json)

START_TEST(test_print_json)
{
	MAIN_OK("versions = 2\n"
	        "mysqldump_options = ['--single-transaction', \"--where=\\\"a\\\"\\n\"]\n"
	        "parallelism = -1\n"
	        "[zabbix]\n"
	        "item_key = \"oma\"\n"
	        "[mysite]\n"
	        "facility = \"local0\"\n"
	        "tag.name = \"oma\"\n"
	        "ratio = 0.5\n"
	        "on = true\n"
	        "when = 2024-01-02\n"
	        "list = [1, 2]\n"
	        "[[hook]]\n"
	        "url = \"a\"\n"
	        "[[hook]]\n"
	        "[[hook]]\n"
	        "url = \"c\"\n");
	/* the caller fills in the compressor's default level before printing */
	cfg.main.compression_level = 6;
	char path[128];
	char *json = print_json(path, sizeof(path));
	ck_assert_msg(strncmp(json, "{\"main\":{\"backup_dir\":\"", 23) == 0, "%s", json);
	ck_assert(json[strlen(json) - 1] == '\n');
	HAS("\"versions\":2,");
	HAS("\"delete_before\":false,");
	HAS("\"skip_unchanged_dbs\":false,");
	HAS("\"link_type\":\"hard\",");
	HAS("\"parallelism\":-1,");
	HAS("\"mysqldump_bin\":\"mysqldump\",");
	HAS("\"exclude_databases\":[],");
	HAS("\"do_databases\":[],");
	HAS("\"mysqldump_options\":[\"--single-transaction\",\"--where=\\\"a\\\"\\n\"],");
	HAS("\"log_level\":\"info\",");
	HAS("\"lock_port\":45678,");
	HAS("\"compression\":\"gzip\",");
	HAS("\"compression_level\":6,");
	HAS("\"plugin_dir\":null,\"server_timeout\":60,\"dump_stall_timeout\":3600,\"report_timeout\":120}");
	HAS("\"conditions\":{\"skip_conditions\":[],\"run_conditions\":[],\"terminate_conditions\":[],"
	    "\"skip_conditions_timeout\":0,\"run_conditions_timeout\":0,"
	    "\"terminate_conditions_timeout\":0}");
	HAS("\"zabbix\":{\"item_key\":\"oma\",\"sender_bin\":\"zabbix_sender\","
	    "\"agent_conf\":\"/etc/zabbix/zabbix_agentd.conf\",\"transport\":\"sender\","
	    "\"server_active\":\"\",\"hostname\":\"\",\"timeout\":10,\"retries\":3}");
	HAS("\"mysite\":{\"facility\":\"local0\",\"tag.name\":\"oma\",\"ratio\":\"0.5\",\"on\":true,"
	    "\"when\":\"2024-01-02\",\"list\":[\"1\",\"2\"]}");
	HAS("\"hook\":[{\"url\":\"a\"},{},{\"url\":\"c\"}]}");

	/* valid JSON with the types kept, checked by Python's json module */
	char *cmd = xasprintf(
	        "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); m=d[\"main\"]; "
	        "assert m[\"versions\"]==2 and m[\"delete_before\"] is False; "
	        "assert m[\"mysqldump_options\"][1]==\"--where=\\\"a\\\"\\n\"; "
	        "assert m[\"plugin_dir\"] is None and m[\"lock_port\"]==45678; "
	        "assert d[\"conditions\"][\"run_conditions\"]==[]; "
	        "assert d[\"mysite\"][\"on\"] is True and len(d[\"hook\"])==3; "
	        "assert list(d)==[\"main\",\"conditions\",\"zabbix\",\"mysite\",\"hook\"]' '%s'",
	        path);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	cmd = xasprintf("python3 -m json.tool '%s' > /dev/null", path);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(json);
}
END_TEST

START_TEST(test_print_json_defaults)
{
	MAIN_OK("plugin_dir = \"/p\"\nlog_level = \"DEBUG\"\n");
	char path[128];
	char *json = print_json(path, sizeof(path));
	char *par = xasprintf("\"parallelism\":%d,", cpu_count());
	HAS(par);
	HAS("\"compression_level\":-1,");
	HAS("\"plugin_dir\":\"/p\",\"server_timeout\":60,\"dump_stall_timeout\":3600,\"report_timeout\":120}");
	HAS("\"log_level\":\"debug\",");
	char *cmd = xasprintf("python3 -m json.tool '%s' > /dev/null", path);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(par);
	free(json);
}
END_TEST

/* Any plugin's table: its own mistakes are refused, a second table for a
 * section too; the file's values are checked with it; the switch key
 * decides whether the section is enabled. */
START_TEST(test_register_settings)
{
	static const char *const colours[] = {"red", "blue", NULL};
	static const struct oma_setting good[] = {
	        {.key = "on", .type = OMA_SETTING_STRING, .flags = OMA_SETTING_SWITCH, .def = ""},
	        {.key = "n", .type = OMA_SETTING_INT, .def = "5", .min = 1, .max = 9},
	        {.key = "colour", .type = OMA_SETTING_STRING, .def = "red", .choices = colours},
	        {.key = "flag", .type = OMA_SETTING_BOOL, .def = "false"},
	        {.key = NULL},
	};
	static const struct oma_setting bad_def[] = {
	        {.key = "n", .type = OMA_SETTING_INT, .def = "50", .min = 1, .max = 9},
	        {.key = NULL},
	};
	MAIN_OK("[site]\nn = 7\n");
	ck_assert_int_eq(cfg_register_settings(&cfg, "other", bad_def, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "[other] n: default '50' outside its range 1..9");
	ck_assert_int_eq(cfg_register_settings(&cfg, "site", good, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg_get(&cfg, "site", "n"), "7");
	ck_assert_str_eq(cfg_get(&cfg, "site", "colour"), "red");
	ck_assert_str_eq(cfg_get(&cfg, "site", "flag"), "false");
	ck_assert(!cfg_section_enabled(&cfg, "site"));
	ck_assert_int_eq(cfg_register_settings(&cfg, "site", good, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "[site] has a table of keys already");
	ck_assert_int_eq(cfg_register_settings(&cfg, "main", good, err, sizeof(err)), -1);

	MAIN_OK("[site]\non = \"yes\"\ncolour = \"green\"\n");
	ck_assert_int_eq(cfg_register_settings(&cfg, "site", good, err, sizeof(err)), -1);
	ck_assert_str_eq(
	        err, "config t.conf:5: [site] colour: must be \"red\" or \"blue\", not \"green\"");
	/* A long list of choices is named whole in the message. */
	static const char *const many[] = {"choice-number-00",
	                                   "choice-number-01",
	                                   "choice-number-02",
	                                   "choice-number-03",
	                                   "choice-number-04",
	                                   "choice-number-05",
	                                   "choice-number-06",
	                                   "choice-number-07",
	                                   "choice-number-08",
	                                   "choice-number-09",
	                                   "choice-number-10",
	                                   "choice-number-11",
	                                   "choice-number-12",
	                                   "choice-number-13",
	                                   "choice-number-14",
	                                   "choice-number-15",
	                                   "choice-number-16",
	                                   "choice-number-17",
	                                   NULL};
	static const struct oma_setting long_list[] = {
	        {.key = "pick",
	         .type = OMA_SETTING_STRING,
	         .def = "choice-number-00",
	         .choices = many},
	        {.key = NULL},
	};
	MAIN_OK("[wide]\npick = \"other\"\n");
	ck_assert_int_eq(cfg_register_settings(&cfg, "wide", long_list, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "must be \"choice-number-00\", \"choice-number-01\", ") != NULL &&
	                      strstr(err, ", \"choice-number-16\" or \"choice-number-17\", not "
	                                  "\"other\"") != NULL,
	              "%s", err);
	MAIN_OK("[site]\non = \"yes\"\nn = 10\n");
	ck_assert_int_eq(cfg_register_settings(&cfg, "site", good, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "config t.conf:5: [site] n: must be 1..9, not 10");
	MAIN_OK("[site]\non = \"yes\"\nflag = 1\nextra = 2\n");
	ck_assert_int_eq(cfg_register_settings(&cfg, "site", good, err, sizeof(err)), -1);
	ck_assert_str_eq(
	        err,
	        "config t.conf:5: [site] flag: expected a boolean (true or false), got an integer");
	MAIN_OK("[site]\non = \"yes\"\nextra = 2\n");
	ck_assert_int_eq(cfg_register_settings(&cfg, "site", good, err, sizeof(err)), 0);
	ck_assert(cfg_section_enabled(&cfg, "site"));
	ck_assert_uint_eq(cfg.warnings.n, 1);
	ck_assert_str_eq(cfg.warnings.v[0],
	                 "config t.conf:5: unknown key 'extra' in [site], ignored");
}
END_TEST

/* A table's check(): refuses a value, or an array's element, with file,
 * line, key and element number; runs only on what the file gives. */
static int only_lower(const char *value, char *why, size_t whylen)
{
	for (const char *p = value; *p != '\0'; p++)
		if (*p < 'a' || *p > 'z') {
			(void)snprintf(why, whylen, "'%s' is not lower case letters", value);
			return -1;
		}
	return 0;
}

START_TEST(test_setting_check)
{
	static const struct oma_setting table[] = {
	        {.key = "one", .type = OMA_SETTING_STRING, .def = "OK", .check = only_lower},
	        {.key = "many", .type = OMA_SETTING_STRINGS, .check = only_lower},
	        {.key = NULL},
	};
	MAIN_OK("[chk]\nmany = [\"abc\", \"def\"]\n");
	ck_assert_msg(cfg_register_settings(&cfg, "chk", table, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cfg_get(&cfg, "chk", "one"), "OK"); /* a default is not checked */
	MAIN_OK("[chk]\nmany = [\"abc\", \"d-f\"]\n");
	ck_assert_int_eq(cfg_register_settings(&cfg, "chk", table, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "config t.conf:4: [chk] many #2: 'd-f' is not lower case letters");
	MAIN_OK("[chk]\nmany = \"x1\"\n");
	ck_assert_int_eq(cfg_register_settings(&cfg, "chk", table, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "config t.conf:4: [chk] many: 'x1' is not lower case letters");
	MAIN_OK("[chk]\none = \"Up\"\n");
	ck_assert_int_eq(cfg_register_settings(&cfg, "chk", table, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "config t.conf:4: [chk] one: 'Up' is not lower case letters");
}
END_TEST

/* The report-zabbix plugin's keys: defaults, values, types, ranges. */
START_TEST(test_zabbix_plugin_keys)
{
	MAIN_OK("[zabbix]\n");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "item_key"), "");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "sender_bin"), "zabbix_sender");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "agent_conf"), "/etc/zabbix/zabbix_agentd.conf");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "transport"), "sender");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "server_active"), "");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "hostname"), "");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "timeout"), "10");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "retries"), "3");
	ck_assert_uint_eq(cfg.warnings.n, 0);
	cfg_free(&cfg);

	MAIN_OK("[zabbix]\n"
	        "transport = \"native\"\n"
	        "server_active = \"a:1;b,[::1]:2\"\n"
	        "hostname = \"db 1\"\n"
	        "timeout = 300\n"
	        "retries = 0\n");
	ck_assert_uint_eq(cfg.warnings.n, 0);
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "transport"), "native");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "server_active"), "a:1;b,[::1]:2");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "hostname"), "db 1");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "timeout"), "300");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "retries"), "0");
	char path[128];
	char *json = print_json(path, sizeof(path));
	HAS("\"transport\":\"native\",\"server_active\":\"a:1;b,[::1]:2\",\"hostname\":\"db 1\","
	    "\"timeout\":300,\"retries\":0}");
	free(json);
	cfg_free(&cfg);

	MAIN_OK("[zabbix]\ntimeout = 0x10\nretries = 1_0\n");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "timeout"), "16");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "retries"), "10");
	cfg_free(&cfg);

	MAIN_OK("[zabbix]\ntimeout = 1\nretries = 10\n");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "timeout"), "1");
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "retries"), "10");
	cfg_free(&cfg);

	MAIN_ERR(
	        "[zabbix]\ntransport = \"tcp\"\n",
	        "config t.conf:4: [zabbix] transport: must be \"sender\" or \"native\", not \"tcp\"");
	MAIN_ERR("[zabbix]\ntransport = 1\n",
	         "config t.conf:4: [zabbix] transport: expected a string, got an integer");
	MAIN_ERR("[zabbix]\ntimeout = 0\n",
	         "config t.conf:4: [zabbix] timeout: must be 1..300, not 0");
	MAIN_ERR("[zabbix]\ntimeout = 301\n",
	         "config t.conf:4: [zabbix] timeout: must be 1..300, not 301");
	MAIN_ERR("[zabbix]\ntimeout = \"10\"\n",
	         "config t.conf:4: [zabbix] timeout: expected an integer, got a string");
	MAIN_ERR("[zabbix]\n\nretries = -1\n",
	         "config t.conf:5: [zabbix] retries: must be 0..10, not -1");
	MAIN_ERR("[zabbix]\nretries = 11\n",
	         "config t.conf:4: [zabbix] retries: must be 0..10, not 11");
	MAIN_ERR("[zabbix]\nhostname = [\"a\"]\n",
	         "config t.conf:4: [zabbix] hostname: expected a string, got an array of strings");
}
END_TEST

/* cfg_get(section, KEY) is VALUE for each KEY, VALUE pair of kv (a NULL
 * VALUE: no value), which a NULL KEY ends. */
static void assert_values(const char *section, const char *const *kv)
{
	for (size_t i = 0; kv[i] != NULL; i += 2) {
		const char *got = cfg_get(&cfg, section, kv[i]);
		ck_assert_msg(kv[i + 1] != NULL ? got != NULL && strcmp(got, kv[i + 1]) == 0
		                                : got == NULL,
		              "[%s] %s: '%s', expected '%s'", section, kv[i], got ? got : "(null)",
		              kv[i + 1] ? kv[i + 1] : "(null)");
	}
}

/* The report-syslog plugin's keys: defaults (socket and server have none:
 * the plugin picks /dev/log when neither is set), values, types, choices. */
START_TEST(test_syslog_plugin_keys)
{
	MAIN_OK("[syslog]\n");
	assert_values("syslog", (const char *const[]){"facility", "daemon", "ident", "oma",
	                                              "socket", NULL, "server", NULL, NULL});
	ck_assert(cfg_section_enabled(&cfg, "syslog"));
	char path[128];
	char *json = print_json(path, sizeof(path));
	HAS("\"syslog\":{\"facility\":\"daemon\",\"ident\":\"oma\",\"socket\":null,"
	    "\"server\":null}");
	free(json);

	MAIN_OK("[syslog]\nfacility = \"local7\"\nident = \"oma-db1\"\nserver = \"[::1]:514\"\n");
	ck_assert_uint_eq(cfg.warnings.n, 0);
	assert_values("syslog", (const char *const[]){"facility", "local7", "ident", "oma-db1",
	                                              "server", "[::1]:514", NULL});
	static const char *const facilities[] = {"user",   "mail",   "daemon", "auth",   "authpriv",
	                                         "syslog", "lpr",    "news",   "uucp",   "cron",
	                                         "ftp",    "local0", "local1", "local2", "local3",
	                                         "local4", "local5", "local6", "local7"};
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		char *body = xasprintf("[syslog]\nfacility = \"%s\"\n", facilities[i]);
		MAIN_OK(body);
		free(body);
	}
	MAIN_OK("[syslog]\nenabled = false\n");
	ck_assert(!cfg_section_enabled(&cfg, "syslog"));
	MAIN_OK("[syslog]\ntag = \"x\"\n");
	ck_assert_uint_eq(cfg.warnings.n, 1);
	ck_assert_str_eq(cfg.warnings.v[0],
	                 "config t.conf:4: unknown key 'tag' in [syslog], ignored");

#define FACILITIES                                                                                \
	"must be \"user\", \"mail\", \"daemon\", \"auth\", \"authpriv\", \"syslog\", \"lpr\", "   \
	"\"news\", \"uucp\", \"cron\", \"ftp\", \"local0\", \"local1\", \"local2\", \"local3\", " \
	"\"local4\", \"local5\", \"local6\" or \"local7\""
	MAIN_ERR("[syslog]\nfacility = \"kernel\"\n",
	         "config t.conf:4: [syslog] facility: " FACILITIES ", not \"kernel\"");
	MAIN_ERR("[syslog]\nfacility = \"LOCAL0\"\n",
	         "config t.conf:4: [syslog] facility: " FACILITIES ", not \"LOCAL0\"");
	MAIN_ERR("[syslog]\nfacility = \"\"\n",
	         "config t.conf:4: [syslog] facility: " FACILITIES ", not \"\"");
#undef FACILITIES
	MAIN_ERR("[syslog]\nfacility = 16\n",
	         "config t.conf:4: [syslog] facility: expected a string, got an integer");
	MAIN_ERR("[syslog]\nident = 5\n",
	         "config t.conf:4: [syslog] ident: expected a string, got an integer");
	MAIN_ERR("[syslog]\nsocket = [\"/dev/log\"]\n",
	         "config t.conf:4: [syslog] socket: expected a string, got an array of strings");
	MAIN_ERR("[syslog]\nserver = true\n",
	         "config t.conf:4: [syslog] server: expected a string, got a boolean");
	MAIN_ERR("[syslog]\nenabled = \"no\"\n",
	         "config t.conf:4: [syslog] enabled: expected a boolean (true or false), got a "
	         "string");
}
END_TEST

/* The report-webhook plugin's keys: defaults (url and the optional ones
 * have none), values, types, ranges. */
START_TEST(test_webhook_plugin_keys)
{
	MAIN_OK("[webhook]\n");
	assert_values("webhook",
	              (const char *const[]){"url", NULL, "failure_url", NULL, "failure_suffix",
	                                    NULL, "timeout", "10", "retries", "2", "retry_delay",
	                                    "2", "header", NULL, "ca_file", NULL, NULL});
	char path[128];
	char *json = print_json(path, sizeof(path));
	HAS("\"webhook\":{\"url\":null,\"failure_url\":null,\"failure_suffix\":null,"
	    "\"timeout\":10,\"retries\":2,\"retry_delay\":2,\"header\":null,\"ca_file\":null}");
	free(json);

	MAIN_OK("[webhook]\nurl = \"https://h/p\"\nfailure_suffix = \"/fail\"\n"
	        "timeout = 110\nretries = 0\nretry_delay = 30\n"
	        "header = [\"A: 1\", \"B: 2\"]\nca_file = \"/etc/ca.pem\"\n");
	ck_assert_uint_eq(cfg.warnings.n, 0);
	assert_values("webhook", (const char *const[]){"url", "https://h/p", "failure_suffix",
	                                               "/fail", "timeout", "110", "retries", "0",
	                                               "retry_delay", "30", "header", "A: 1\nB: 2",
	                                               "ca_file", "/etc/ca.pem", NULL});
	json = print_json(path, sizeof(path));
	HAS("\"header\":[\"A: 1\",\"B: 2\"]");
	free(json);
	MAIN_OK("[webhook]\nheader = \"Authorization: Bearer x\"\ntimeout = 1\nretry_delay = 0\n");
	assert_values("webhook", (const char *const[]){"header", "Authorization: Bearer x",
	                                               "timeout", "1", "retry_delay", "0", NULL});
	MAIN_OK("[webhook]\nretries = 10\n");
	assert_values("webhook", (const char *const[]){"retries", "10", NULL});

	MAIN_ERR("[webhook]\ntimeout = -5\n",
	         "config t.conf:4: [webhook] timeout: must be 1..110, not -5");
	MAIN_ERR("[webhook]\ntimeout = 0\n",
	         "config t.conf:4: [webhook] timeout: must be 1..110, not 0");
	MAIN_ERR("[webhook]\ntimeout = 111\n",
	         "config t.conf:4: [webhook] timeout: must be 1..110, not 111");
	MAIN_ERR("[webhook]\ntimeout = \"ten\"\n",
	         "config t.conf:4: [webhook] timeout: expected an integer, got a string");
	MAIN_ERR("[webhook]\ntimeout = 1.5\n",
	         "config t.conf:4: [webhook] timeout: expected an integer, got a float");
	MAIN_ERR("[webhook]\nretries = -1\n",
	         "config t.conf:4: [webhook] retries: must be 0..10, not -1");
	MAIN_ERR("[webhook]\nretries = 99\n",
	         "config t.conf:4: [webhook] retries: must be 0..10, not 99");
	MAIN_ERR("[webhook]\nretry_delay = -2\n",
	         "config t.conf:4: [webhook] retry_delay: must be 0..30, not -2");
	MAIN_ERR("[webhook]\nretry_delay = 31\n",
	         "config t.conf:4: [webhook] retry_delay: must be 0..30, not 31");
	MAIN_ERR("[webhook]\nurl = 1\n",
	         "config t.conf:4: [webhook] url: expected a string, got an integer");
	MAIN_ERR("[webhook]\nheader = [1]\n",
	         "config t.conf:4: [webhook] header: expected a string or an array of strings, "
	         "got an array with non-string elements");
	MAIN_ERR("[webhook]\nca_file = false\n",
	         "config t.conf:4: [webhook] ca_file: expected a string, got a boolean");
}
END_TEST

/* ---- files ------------------------------------------------------------- */

/* Write `text` (after subst) to tmpdir/name; returns the path. */
static char *write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	char *s = subst(text);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(s, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	free(s);
	return path;
}

/* The shape of upstream's oma.conf.example (keys commented out, a broken
 * quote inside a comment, no newline at the end). */
static const char upstream_example[] =
        "#\n"
        "# Get more information on https://github.com/thorstenkramm/oma\n"
        "#\n"
        "\n"
        "[main]\n"
        "# Base directory to store backups, logs and meta data. Mandatory.\n"
        "# Directory must exist.\n"
        "backup_dir = \"@DIR@\"\n"
        "\n"
        "# How many versions to keep. Optional.\n"
        "# Default: 1\n"
        "#versions = 4\n"
        "\n"
        "# Default: false (delete old backups after the current backup)\n"
        "#delete_before = true\n"
        "#skip_unchanged_dbs = true\n"
        "\n"
        "# Negative values are subtracted from total CPUs.\n"
        "# -2 on 10 CPUs means a  parallelism of 8.\n"
        "#parallelism = 1\n"
        "#mysqldump_bin = \"/usr/local/bin/mysqldump\"\n"
        "#mysql_bin = \"/usr/local/bin/mysql\"\n"
        "\n"
        "# 'information_schema', 'sys', 'performance_schema' are always excluded from backup\n"
        "#exclude_databases = ['example1','example2]\n"
        "\n"
        "# Default: [] (No extra arguments)\n"
        "#mysqldump_options = ['--single-transaction','--quick']\n"
        "\n"
        "# Log level, one of debug,info,warning,error. Optional.\n"
        "#log_level = \"debug\"\n"
        "\n"
        "[zabbix]\n"
        "# Zabbix Sender Item Key. Optional.\n"
        "# Default: \"\" (not set, Log is not sent to Zabbix)\n"
        "#item_key = \"oma.log\"\n"
        "#sender_bin = \"/usr/local/bin/zabbix_sender\"\n"
        "\n"
        "# Path to zabbix_agentd.conf used for zabbix_sender. Optional\n"
        "# Default: /etc/zabbix/zabbix_agentd.conf\n"
        "#agent_conf = \"\"";

START_TEST(test_upstream_example_file)
{
	char *path = write_file("oma.conf", upstream_example);
	int rc = cfg_load(path, &cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(cfg.path, path);
	ck_assert_str_eq(cfg.main.backup_dir, tmpdir);
	ck_assert_int_eq(cfg.main.versions, 1);
	ck_assert_uint_eq(cfg.main.exclude_databases.n, 0);
	ck_assert_int_eq(cfg_register_settings(&cfg, "zabbix", plugin_table("zabbix"), err,
	                                       sizeof(err)),
	                 0);
	ck_assert_str_eq(cfg_get(&cfg, "zabbix", "item_key"), "");
	ck_assert(!cfg_section_enabled(&cfg, "zabbix"));
	ck_assert(cfg_has_section(&cfg, "zabbix"));
	ck_assert_uint_eq(cfg.warnings.n, 0);
	ck_assert_uint_eq(cfg.data->nvalues, 1);
	ck_assert_int_eq(cfg.data->values[0].line, 8);
	free(path);
}
END_TEST

START_TEST(test_file_errors)
{
	char *path = xasprintf("%s/missing.conf", tmpdir);
	ck_assert_int_eq(cfg_load(path, &cfg, err, sizeof(err)), -1);
	char *want = xasprintf("config %s: cannot open: No such file or directory", path);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);

	ck_assert_int_eq(cfg_load(tmpdir, &cfg, err, sizeof(err)), -1);
	want = xasprintf("config %s: cannot read: Is a directory", tmpdir);
	ck_assert_str_eq(err, want);
	free(want);

	path = write_file("bad.conf", "[main]\nbackup_dir = \"@DIR@\"\nversions = [\n");
	ck_assert_int_eq(cfg_load(path, &cfg, err, sizeof(err)), -1);
	want = xasprintf("config %s:3: unterminated array", path);
	ck_assert_str_eq(err, want);
	free(want);
	/* on failure *cfg is left empty (cfg_free is still safe) */
	ck_assert_ptr_null(cfg.path);
	ck_assert_ptr_null(cfg.data);
	free(path);

	if (geteuid() != 0) {
		path = write_file("noperm.conf", "[main]\n");
		ck_assert_int_eq(chmod(path, 0), 0);
		ck_assert_int_eq(cfg_load(path, &cfg, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, "Permission denied") != NULL, "%s", err);
		free(path);
	}

	/* a NUL byte in the file is an error, not the end of the text */
	path = xasprintf("%s/nul.conf", tmpdir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	(void)fprintf(f, "[main]\nbackup_dir = \"%s\"\n", tmpdir);
	ck_assert_int_eq((int)fwrite("x = \"a\0b\"\n", 1, 10, f), 10);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(cfg_load(path, &cfg, err, sizeof(err)), -1);
	want = xasprintf("config %s:3: control character 0x00 in string (use an escape)", path);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);

	/* Never more than 1 MiB is read: -c /dev/zero fails at once. */
	ck_assert_int_eq(cfg_load("/dev/zero", &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	                 "config /dev/zero: larger than 1024 KiB, which no oma configuration is");
	path = xasprintf("%s/big.conf", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	(void)fprintf(f, "[main]\nbackup_dir = \"%s\"\n", tmpdir);
	long fill = CFG_MAX_BYTES - ftell(f);
	for (long i = 0; i < fill / 64; i++)
		(void)fprintf(f, "# %61s\n", "a comment line of 64 bytes");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(cfg_load(path, &cfg, err, sizeof(err)), 0); /* up to the cap: fine */
	cfg_free(&cfg);
	f = fopen(path, "a");
	(void)fprintf(f, "%s\n",
	              "# one line too many, one line too many, one line too many, and more");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(cfg_load(path, &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "larger than 1024 KiB"));
	free(path);
}
END_TEST

/* ---- toml.c directly --------------------------------------------------- */

START_TEST(test_toml_lines)
{
	struct toml_doc doc;
	const char *text = "top = 1\n[a.b]\nc.d = 'x;y'\n[[t]]\n[[t]]\n"
	                   "k = [\"s\", 'u', # c\n [1,2], {q = \"\"\"m\nl\"\"\"},\n]\n";
	ck_assert_int_eq(toml_parse("doc", text, strlen(text), &doc, err, sizeof(err)), 0);
	ck_assert_uint_eq(doc.n, 6);
	ck_assert_int_eq(doc.lines[0].kind, TOML_LINE_KEY);
	ck_assert_uint_eq(doc.lines[0].ntable, 0);
	ck_assert_str_eq(doc.lines[0].value, "1");
	ck_assert_int_eq(doc.lines[1].kind, TOML_LINE_TABLE);
	char *p = toml_path_join(doc.lines[2].path, doc.lines[2].npath);
	ck_assert_str_eq(p, "a.b.c.d");
	free(p);
	ck_assert_uint_eq(doc.lines[2].ntable, 2);
	ck_assert_int_eq(doc.lines[2].line, 3);
	/* strings come back as basic strings, ';' escaped */
	ck_assert_str_eq(doc.lines[2].value, "\"x\\u003By\"");
	p = toml_path_join(doc.lines[5].path, doc.lines[5].npath);
	ck_assert_str_eq(p, "t[1].k");
	free(p);
	/* arrays on one line, comments and newlines gone */
	ck_assert_str_eq(doc.lines[5].value, "[\"s\", \"u\", [1, 2], {q = \"m\\nl\"}]");
	ck_assert_int_eq(doc.lines[5].line, 6);

	/* the canonical form decodes to the value written */
	struct toml_value v;
	const char *canon = doc.lines[5].value;
	ck_assert_int_eq(toml_decode_value("doc", 6, canon, strlen(canon), &v, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(v.type, TOML_ARRAY);
	ck_assert(!v.arr_all_strings);
	ck_assert_uint_eq(v.arr.n, 4);
	ck_assert_str_eq(v.arr.v[1], "u");
	ck_assert_str_eq(v.arr.v[2], "[1, 2]");
	ck_assert_str_eq(v.text, "s\nu\n[1, 2]\n{q = \"m\\nl\"}");
	toml_value_free(&v);
	toml_doc_free(&doc);

	/* names: bare where they can be, else quoted with inih's delimiters escaped */
	char *k = NULL;
	size_t klen = 0, kcap = 0;
	toml_key_write(&k, &klen, &kcap, "plain-key_1");
	toml_key_write(&k, &klen, &kcap, "a b=c:d;e[f]#\"\\");
	ck_assert_str_eq(
	        k, "plain-key_1\"a b\\u003Dc\\u003Ad\\u003Be\\u005Bf\\u005D\\u0023\\\"\\\\\"");
	struct strv comps = {0};
	ck_assert_int_eq(toml_decode_key("doc", 1, k + 11, strlen(k + 11), &comps, err,
	                                 sizeof(err)),
	                 0);
	ck_assert_uint_eq(comps.n, 1);
	ck_assert_str_eq(comps.v[0], "a b=c:d;e[f]#\"\\");
	strv_free(&comps);
	free(k);
	const char *il = "{a.\"b c\" = [1]}";
	ck_assert_int_eq(toml_decode_inline_key("doc", 1, il, strlen(il), &comps, &v, err,
	                                        sizeof(err)),
	                 0);
	ck_assert_uint_eq(comps.n, 2);
	ck_assert_str_eq(comps.v[1], "b c");
	ck_assert_int_eq(v.type, TOML_ARRAY);
	toml_value_free(&v);
	strv_free(&comps);
	ck_assert_int_eq(toml_decode_value("doc", 7, "1 2", 3, &v, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "doc:7: unexpected '2' after value");

	ck_assert_int_eq(toml_parse("doc",
	                            "a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	                            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1",
	                            101, &doc, err, sizeof(err)),
	                 -1);
	ck_assert_str_eq(err, "doc:1: arrays or inline tables nested too deeply");
}
END_TEST

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase(s, "strings");
	tcase_add_test(tc, test_basic_string_escapes);
	tcase_add_test(tc, test_literal_and_multiline_strings);
	tcase_add_test(tc, test_comment_chars_inside_strings);
	tcase_add_test(tc, test_string_errors);
	tc = tcase(s, "numbers");
	tcase_add_test(tc, test_integers_and_booleans);
	tcase_add_test(tc, test_integer_errors);
	tcase_add_test(tc, test_floats_and_dates);
	tc = tcase(s, "arrays");
	tcase_add_test(tc, test_arrays);
	tcase_add_test(tc, test_array_errors);
	tc = tcase(s, "layout");
	tcase_add_test(tc, test_long_lines);
	tcase_add_test(tc, test_crlf_comments_bom);
	tc = tcase(s, "tables");
	tcase_add_test(tc, test_tables_and_keys);
	tcase_add_test(tc, test_duplicates_and_redefinitions);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_toml_lines);
	tc = tcase(s, "schema");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_all_keys_set);
	tcase_add_test(tc, test_validation_errors);
	tcase_add_test(tc, test_valid_combinations);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_zabbix_plugin_keys);
	tcase_add_test(tc, test_syslog_plugin_keys);
	tcase_add_test(tc, test_webhook_plugin_keys);
	tcase_add_test(tc, test_register_settings);
	tcase_add_test(tc, test_setting_check);
	tcase_add_test(tc, test_parallelism);
	tc = tcase(s, "print_json");
	tcase_add_test(tc, test_print_json);
	tcase_add_test(tc, test_print_json_defaults);
	tc = tcase(s, "files");
	tcase_add_test(tc, test_upstream_example_file);
	tcase_add_test(tc, test_file_errors);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
