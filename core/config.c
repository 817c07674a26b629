/* config.c - the typed, validated configuration: TOML decoded by toml.c, split by inih. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "toml.h"

/* ---- the inih shim ------------------------------------------------------
 *
 * toml.c has decoded the file into entries.  inih then reads one short
 * logical line per table and key, "[section]" and "key = @N", where N
 * indexes the entry holding the decoded value; names inih could mangle
 * (or that are long) are fed as "[@N]" and "@ = @N".  So inih's 200-byte
 * line limit, its comment rules and its ignorance of TOML quoting never
 * meet the real text. */

#define SHIM_NAME_MAX 64

struct shim {
	const struct toml_doc *doc;
	size_t next;            /* next entry to feed */
	const char *fed;        /* section of the last section line fed */
	bool key_pending;       /* the section line for entries[next] was fed */
	struct oma_config *cfg;
	char *err;
	size_t errlen;
	bool failed;
};

/* The config section of an entry: its first path component, or "" for a
 * key at the top level of the file. */
static const char *entry_section(const struct toml_entry *e)
{
	if (e->kind == TOML_ENTRY_KEY && e->npath == 1)
		return "";
	return e->path[0].name;
}

/* The key name within its section (dotted below it); the caller frees. */
static char *entry_key(const struct toml_entry *e)
{
	if (e->npath == 1)
		return xstrdup(e->path[0].name);
	return toml_path_join(e->path + 1, e->npath - 1);
}

/* Whether inih passes `s` through unchanged as a section or key name. */
static bool shim_safe(const char *s, bool key)
{
	size_t n = strlen(s);
	if (n == 0 || n > SHIM_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '_' || c == '-' || (key && c == '.');
		if (!ok)
			return false;
	}
	return true;
}

static void shim_fail(struct shim *S, const char *what)
{
	if (!S->failed)
		errf(S->err, S->errlen, "config %s: internal error in the inih shim: %s",
		     S->cfg->path, what);
	S->failed = true;
}

/* ini_reader: the next logical line, or NULL at the end. */
static char *shim_read(char *str, int num, void *stream)
{
	struct shim *S = stream;
	if (S->failed || S->next >= S->doc->n)
		return NULL;
	size_t i = S->next;
	const struct toml_entry *e = &S->doc->entries[i];
	const char *sec = entry_section(e);
	int n;
	if (!S->key_pending && strcmp(sec, S->fed) != 0) {
		if (shim_safe(sec, false))
			n = snprintf(str, (size_t)num, "[%s]\n", sec);
		else
			n = snprintf(str, (size_t)num, "[@%zu]\n", i);
		S->fed = sec;
		S->key_pending = true;
	} else {
		char *key = e->kind == TOML_ENTRY_KEY ? entry_key(e) : NULL;
		if (key == NULL)
			n = snprintf(str, (size_t)num, "@table = @%zu\n", i);
		else if (shim_safe(key, true))
			n = snprintf(str, (size_t)num, "%s = @%zu\n", key, i);
		else
			n = snprintf(str, (size_t)num, "@ = @%zu\n", i);
		free(key);
		S->key_pending = false;
		S->next++;
	}
	if (n < 0 || n >= num) {
		shim_fail(S, "logical line does not fit inih's buffer");
		return NULL;
	}
	return str;
}

/* "@N" to an entry index; false when malformed. */
static bool shim_index(const struct shim *S, const char *s, size_t *out)
{
	if (s == NULL || s[0] != '@' || s[1] < '0' || s[1] > '9')
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v >= S->doc->n)
		return false;
	*out = (size_t)v;
	return true;
}

static struct cfg_section *find_section(const struct oma_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsections; i++)
		if (strcmp(cfg->sections[i].name, name) == 0)
			return &cfg->sections[i];
	return NULL;
}

static void note_section(struct oma_config *cfg, const char *name, int line, int index)
{
	struct cfg_section *s = find_section(cfg, name);
	if (s == NULL) {
		cfg->sections = xrealloc(cfg->sections, (cfg->nsections + 1) * sizeof(*cfg->sections));
		s = &cfg->sections[cfg->nsections++];
		s->name = xstrdup(name);
		s->line = line;
		s->elems = 0;
	}
	if (index + 1 > s->elems)
		s->elems = index + 1;
}

static enum cfg_type cfg_type_of(enum toml_type t)
{
	switch (t) {
	case TOML_STRING: return CFG_STRING;
	case TOML_INT: return CFG_INT;
	case TOML_BOOL: return CFG_BOOL;
	case TOML_FLOAT: return CFG_FLOAT;
	case TOML_ARRAY: return CFG_ARRAY;
	case TOML_DATETIME:
	case TOML_INLINE_TABLE: break;
	}
	return CFG_OTHER;
}

static bool table_over_known_key(struct shim *S, const char *section, const char *key,
                                 int line);

/* ini_handler: map one logical line back to its entry and record it.
 * Returns 1, or 0 (with S->failed) when inih handed back something the
 * shim did not feed. */
static int shim_handle(void *user, const char *section, const char *name, const char *value)
{
	struct shim *S = user;
	size_t i, si;
	if (S->failed)
		return 0;
	if (!shim_index(S, value, &i)) {
		shim_fail(S, "unexpected value from inih");
		return 0;
	}
	const struct toml_entry *e = &S->doc->entries[i];
	const char *sec = entry_section(e);
	const char *got = section;
	if (section[0] == '@') {
		if (!shim_index(S, section, &si)) {
			shim_fail(S, "unexpected section from inih");
			return 0;
		}
		got = entry_section(&S->doc->entries[si]);
	}
	if (strcmp(got, sec) != 0) {
		shim_fail(S, "section from inih does not match");
		return 0;
	}
	if (sec[0] != '\0' || e->kind == TOML_ENTRY_TABLE)
		note_section(S->cfg, sec, e->line, e->path[0].index);
	if (e->kind == TOML_ENTRY_TABLE && e->npath > 1 &&
	    table_over_known_key(S, e->path[0].name, e->path[1].name, e->line))
		return 0;
	if (strcmp(name, "@table") == 0) {
		if (e->kind != TOML_ENTRY_TABLE)
			shim_fail(S, "table marker for a key");
		return S->failed ? 0 : 1;
	}
	if (e->kind != TOML_ENTRY_KEY) {
		shim_fail(S, "key line for a table");
		return 0;
	}
	char *key = entry_key(e);
	if (strcmp(name, "@") != 0 && strcmp(name, key) != 0) {
		free(key);
		shim_fail(S, "key from inih does not match");
		return 0;
	}
	struct oma_config *cfg = S->cfg;
	cfg->values = xrealloc(cfg->values, (cfg->nvalues + 1) * sizeof(*cfg->values));
	struct cfg_value *v = &cfg->values[cfg->nvalues++];
	memset(v, 0, sizeof(*v));
	v->section = xstrdup(sec);
	v->key = key;
	v->line = e->line;
	v->type = cfg_type_of(e->type);
	v->str = xstrdup(e->text);
	v->num = e->num;
	for (size_t k = 0; k < e->arr.n; k++)
		strv_push(&v->arr, e->arr.v[k]);
	v->arr_all_strings = e->arr_all_strings;
	v->index = e->npath > 1 ? e->path[0].index : -1;
	return 1;
}

/* Feed the decoded document through inih into cfg->values and
 * cfg->sections.  Returns 0 or -1 with err set. */
static int shim_run(const struct toml_doc *doc, struct oma_config *cfg, char *err, size_t errlen)
{
	struct shim S = {
		.doc = doc, .fed = "", .cfg = cfg, .err = err, .errlen = errlen,
	};
	int rc = ini_parse_stream(shim_read, &S, shim_handle, &S);
	if (S.failed)
		return -1;
	if (rc != 0) {
		errf(err, errlen, "config %s: internal error in the inih shim: ini_parse_stream "
		     "returned %d", cfg->path, rc);
		return -1;
	}
	return 0;
}

/* ---- schema ------------------------------------------------------------ */

enum kind { K_STR, K_LONG, K_BOOL, K_STRV, K_LINK, K_LEVEL };

struct known {
	const char *section;
	const char *key;
	enum kind kind;
	size_t off; /* of the field in struct oma_config, or NO_FIELD */
	/* NO_FIELD keys (read by plugins through cfg_get only): the default's
	 * text form */
	const char *def;
	/* K_LONG: the accepted range, and what the number means (for the
	 * message, e.g. " seconds (0: no limit)") */
	long min, max;
	const char *unit;
};

#define NO_FIELD ((size_t)-1)
#define KEY(sec, name, kind, field) \
	{sec, name, kind, offsetof(struct oma_config, field), NULL, 0, 0, ""}
#define RANGE_KEY(sec, name, field, min, max, unit) \
	{sec, name, K_LONG, offsetof(struct oma_config, field), NULL, min, max, unit}
/* A key with no field in struct oma_config: its value lives in the
 * effective values only. */
#define STR_KEY(sec, name, def) {sec, name, K_STR, NO_FIELD, def, 0, 0, ""}
#define LONG_KEY(sec, name, def, min, max) {sec, name, K_LONG, NO_FIELD, #def, min, max, ""}
#define MAIN(name, kind) KEY("main", #name, kind, main.name)
#define MAIN_RANGE(name, min, max, unit) RANGE_KEY("main", #name, main.name, min, max, unit)
/* Seconds as the plugin ABI passes them (int). */
#define SECONDS_MAX 2147483647L
#define SECONDS_NOTE " seconds (0: no limit)"

/* Every known key, in --print-config order. */
static const struct known known_keys[] = {
	MAIN(backup_dir, K_STR),
	MAIN_RANGE(versions, 1, 100000, ""),
	MAIN(delete_before, K_BOOL),
	MAIN(skip_unchanged_dbs, K_BOOL),
	MAIN(link_type, K_LINK),
	MAIN_RANGE(parallelism, -4096, 4096, " (negative: CPUs minus that many)"),
	MAIN(mysqldump_bin, K_STR),
	MAIN(mysql_bin, K_STR),
	MAIN(exclude_databases, K_STRV),
	MAIN(do_databases, K_STRV),
	MAIN(mysqldump_options, K_STRV),
	MAIN(log_level, K_LEVEL),
	MAIN_RANGE(lock_port, 1, 65535, ""),
	MAIN(compression, K_STR),
	MAIN_RANGE(compression_level, -1, 1000, " (-1: the compressor's default)"),
	MAIN(plugin_dir, K_STR),
	MAIN_RANGE(server_timeout, 0, SECONDS_MAX, SECONDS_NOTE),
	MAIN_RANGE(dump_stall_timeout, 0, SECONDS_MAX, SECONDS_NOTE),
	MAIN_RANGE(report_timeout, 1, 86400, " seconds"),
	KEY("conditions", "skip_conditions", K_STRV, cond.skip),
	KEY("conditions", "run_conditions", K_STRV, cond.run),
	KEY("conditions", "terminate_conditions", K_STRV, cond.terminate),
	RANGE_KEY("conditions", "skip_conditions_timeout", cond.skip_timeout, 0, SECONDS_MAX,
	          SECONDS_NOTE),
	RANGE_KEY("conditions", "run_conditions_timeout", cond.run_timeout, 0, SECONDS_MAX,
	          SECONDS_NOTE),
	RANGE_KEY("conditions", "terminate_conditions_timeout", cond.terminate_timeout, 0,
	          SECONDS_MAX, SECONDS_NOTE),
	KEY("zabbix", "item_key", K_STR, zabbix.item_key),
	KEY("zabbix", "sender_bin", K_STR, zabbix.sender_bin),
	KEY("zabbix", "agent_conf", K_STR, zabbix.agent_conf),
	/* the report-zabbix plugin's own keys */
	STR_KEY("zabbix", "transport", "sender"),
	STR_KEY("zabbix", "server_active", ""),
	STR_KEY("zabbix", "hostname", ""),
	LONG_KEY("zabbix", "timeout", 10, 1, 300),
	LONG_KEY("zabbix", "retries", 3, 0, 10),
};

/* Values a NO_FIELD string key accepts (NULL-terminated), or NULL for any. */
static const char *const *key_choices(const struct known *k)
{
	static const char *const transports[] = {"sender", "native", NULL};
	if (strcmp(k->section, "zabbix") == 0 && strcmp(k->key, "transport") == 0)
		return transports;
	return NULL;
}

#define NKNOWN (sizeof(known_keys) / sizeof(known_keys[0]))

static const char *const known_sections[] = {"main", "conditions", "zabbix"};

static bool is_known_section(const char *s)
{
	for (size_t i = 0; i < sizeof(known_sections) / sizeof(known_sections[0]); i++)
		if (strcmp(s, known_sections[i]) == 0)
			return true;
	return false;
}

static const struct known *find_known(const char *section, const char *key)
{
	for (size_t i = 0; i < NKNOWN; i++)
		if (strcmp(known_keys[i].section, section) == 0 && strcmp(known_keys[i].key, key) == 0)
			return &known_keys[i];
	return NULL;
}

static const struct cfg_value *find_value(const struct oma_config *cfg, const char *section,
                                          const char *key)
{
	for (size_t i = 0; i < cfg->nvalues; i++)
		if (strcmp(cfg->values[i].section, section) == 0 &&
		    strcmp(cfg->values[i].key, key) == 0)
			return &cfg->values[i];
	return NULL;
}

/* One-line error "config FILE[:LINE]: [section] key: message"; returns -1. */
static int key_error(const struct oma_config *cfg, char *err, size_t errlen, const char *section,
                     const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int key_error(const struct oma_config *cfg, char *err, size_t errlen, const char *section,
                     const char *key, const char *fmt, ...)
{
	char msg[512], where[32] = "";
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const struct cfg_value *v = find_value(cfg, section, key);
	if (v != NULL)
		(void)snprintf(where, sizeof(where), ":%d", v->line);
	errf(err, errlen, "config %s%s: [%s] %s: %s", cfg->path, where, section, key, msg);
	return -1;
}

static void warn(struct oma_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct oma_config *cfg, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return;
	strv_push(&cfg->warnings, s);
	free(s);
}

static const char *type_name(const struct cfg_value *v)
{
	switch (v->type) {
	case CFG_STRING: return "a string";
	case CFG_INT: return "an integer";
	case CFG_BOOL: return "a boolean";
	case CFG_FLOAT: return "a float";
	case CFG_ARRAY: return v->arr_all_strings ? "an array of strings" : "an array with non-string elements";
	case CFG_OTHER: break;
	}
	return "a date-time";
}

static const char *kind_name(enum kind k)
{
	switch (k) {
	case K_LONG: return "an integer";
	case K_BOOL: return "a boolean (true or false)";
	case K_STRV: return "an array of strings";
	case K_STR:
	case K_LINK:
	case K_LEVEL: break;
	}
	return "a string";
}

/* A table [main.versions] where a known key belongs: a type error (set in
 * S->err).  Returns true when it is one. */
static bool table_over_known_key(struct shim *S, const char *section, const char *key, int line)
{
	const struct known *k = find_known(section, key);
	if (k == NULL)
		return false;
	errf(S->err, S->errlen, "config %s:%d: [%s] %s: expected %s, got a table", S->cfg->path,
	     line, k->section, k->key, kind_name(k->kind));
	S->failed = true;
	return true;
}

static void set_str(char **field, const char *s)
{
	free(*field);
	*field = s != NULL ? xstrdup(s) : NULL;
}

static void set_defaults(struct oma_config *cfg)
{
	struct cfg_main *m = &cfg->main;
	m->versions = 1;
	m->link_type = CFG_LINK_HARD;
	m->parallelism = cpu_count();
	set_str(&m->mysqldump_bin, "mysqldump");
	set_str(&m->mysql_bin, "mysql");
	m->log_level = OMA_LOG_INFO;
	m->lock_port = 45678;
	set_str(&m->compression, "gzip");
	m->compression_level = -1;
	m->server_timeout = 60;
	m->dump_stall_timeout = 3600;
	m->report_timeout = 120;
	set_str(&cfg->zabbix.item_key, "");
	set_str(&cfg->zabbix.sender_bin, "zabbix_sender");
	set_str(&cfg->zabbix.agent_conf, "/etc/zabbix/zabbix_agentd.conf");
}

/* Range or choice check of a NO_FIELD key's value (its type is checked).
 * Returns 0 or -1. */
static int check_no_field(const struct oma_config *cfg, const struct known *k,
                          const struct cfg_value *v, char *err, size_t errlen)
{
	const char *const *choices = key_choices(k);
	if (choices == NULL)
		return 0;
	for (size_t i = 0; choices[i] != NULL; i++)
		if (strcmp(v->str, choices[i]) == 0)
			return 0;
	char list[128] = "";
	size_t used = 0;
	for (size_t i = 0; choices[i] != NULL; i++) {
		int n = snprintf(list + used, sizeof(list) - used, "%s\"%s\"",
		                 i == 0 ? "" : (choices[i + 1] == NULL ? " or " : ", "), choices[i]);
		if (n < 0 || (size_t)n >= sizeof(list) - used)
			break;
		used += (size_t)n;
	}
	return key_error(cfg, err, errlen, k->section, k->key, "must be %s, not \"%s\"", list,
	                 v->str);
}

/* Type-check one value of a known key and store it.  Returns 0 or -1. */
static int assign(struct oma_config *cfg, const struct known *k, const struct cfg_value *v,
                  char *err, size_t errlen)
{
	bool ok;
	switch (k->kind) {
	case K_LONG: ok = v->type == CFG_INT; break;
	case K_BOOL: ok = v->type == CFG_BOOL; break;
	case K_STRV: ok = v->type == CFG_ARRAY && v->arr_all_strings; break;
	default: ok = v->type == CFG_STRING; break;
	}
	if (!ok)
		return key_error(cfg, err, errlen, k->section, k->key, "expected %s, got %s",
		                 kind_name(k->kind), type_name(v));
	/* Every integer key has a range: a value past it is refused, never
	 * cut to fit (4294967297 seconds must not become 1). */
	if (k->kind == K_LONG && (v->num < k->min || v->num > k->max))
		return key_error(cfg, err, errlen, k->section, k->key, "must be %ld..%ld%s, not %lld",
		                 k->min, k->max, k->unit, v->num);
	if (k->off == NO_FIELD)
		return check_no_field(cfg, k, v, err, errlen);
	void *field = (char *)cfg + k->off;
	switch (k->kind) {
	case K_STR:
		set_str(field, v->str);
		break;
	case K_LONG:
		*(long *)field = (long)v->num;
		break;
	case K_BOOL:
		*(bool *)field = v->num != 0;
		break;
	case K_STRV: {
		struct strv *sv = field;
		strv_free(sv);
		for (size_t i = 0; i < v->arr.n; i++)
			strv_push(sv, v->arr.v[i]);
		break;
	}
	case K_LINK:
		if (strcmp(v->str, "hard") == 0)
			*(int *)field = CFG_LINK_HARD;
		else if (strcmp(v->str, "symbolic") == 0)
			*(int *)field = CFG_LINK_SYMBOLIC;
		else
			return key_error(cfg, err, errlen, k->section, k->key,
			                 "must be \"hard\" or \"symbolic\", not \"%s\"", v->str);
		break;
	case K_LEVEL: {
		int lvl = log_level_parse(v->str);
		if (lvl < 0)
			return key_error(cfg, err, errlen, k->section, k->key,
			                 "must be one of debug, info, warning, error, not \"%s\"", v->str);
		*(int *)field = lvl;
		break;
	}
	}
	return 0;
}

/* Walk the file's values: store known keys, warn about unknown ones. */
static int apply_values(struct oma_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->nvalues; i++) {
		const struct cfg_value *v = &cfg->values[i];
		if (v->section[0] == '\0') {
			if (is_known_section(v->key)) {
				errf(err, errlen, "config %s:%d: '%s' must be a table ([%s]), got %s",
				     cfg->path, v->line, v->key, v->key, type_name(v));
				return -1;
			}
			warn(cfg, "config %s:%d: unknown key '%s' outside any table, ignored", cfg->path,
			     v->line, v->key);
			continue;
		}
		if (!is_known_section(v->section))
			continue;
		const struct known *k = find_known(v->section, v->key);
		if (k != NULL) {
			if (assign(cfg, k, v, err, errlen) < 0)
				return -1;
			continue;
		}
		/* "versions.x = 1" or "versions = {x = 1}" makes versions a table */
		const char *dot = strchr(v->key, '.');
		if (dot != NULL) {
			char *head = xstrndup(v->key, (size_t)(dot - v->key));
			k = find_known(v->section, head);
			free(head);
			if (k != NULL) {
				errf(err, errlen, "config %s:%d: [%s] %s: expected %s, got a table",
				     cfg->path, v->line, k->section, k->key, kind_name(k->kind));
				return -1;
			}
		}
		warn(cfg, "config %s:%d: unknown key '%s' in [%s], ignored", cfg->path, v->line,
		     v->key, v->section);
	}
	for (size_t i = 0; i < sizeof(known_sections) / sizeof(known_sections[0]); i++) {
		const struct cfg_section *s = find_section(cfg, known_sections[i]);
		if (s != NULL && s->elems > 0) {
			errf(err, errlen, "config %s:%d: [%s] must be a table, not an array of tables",
			     cfg->path, s->line, s->name);
			return -1;
		}
	}
	return 0;
}

static bool valid_plugin_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* The checks that span keys or need the system.  Returns 0 or -1. */
static int validate(struct oma_config *cfg, char *err, size_t errlen)
{
	const struct cfg_main *m = &cfg->main;
	if (find_section(cfg, "main") == NULL) {
		errf(err, errlen, "config %s: [main] table missing", cfg->path);
		return -1;
	}
	if (m->backup_dir == NULL)
		return key_error(cfg, err, errlen, "main", "backup_dir", "missing (mandatory key)");
	if (m->parallelism == 0)
		return key_error(cfg, err, errlen, "main", "parallelism", "must not be 0");
	if (m->mysqldump_bin[0] == '\0')
		return key_error(cfg, err, errlen, "main", "mysqldump_bin", "must not be empty");
	if (m->mysql_bin[0] == '\0')
		return key_error(cfg, err, errlen, "main", "mysql_bin", "must not be empty");
	if (!valid_plugin_name(m->compression))
		return key_error(cfg, err, errlen, "main", "compression",
		                 "must be a plugin name made of [a-z0-9_-], not \"%s\"", m->compression);
	if (m->exclude_databases.n > 0 && m->do_databases.n > 0) {
		const struct cfg_value *ex = find_value(cfg, "main", "exclude_databases");
		const struct cfg_value *dd = find_value(cfg, "main", "do_databases");
		const char *later = ex != NULL && dd != NULL && ex->line > dd->line ?
		                    "exclude_databases" : "do_databases";
		const char *other = strcmp(later, "do_databases") == 0 ? "exclude_databases" :
		                    "do_databases";
		return key_error(cfg, err, errlen, "main", later, "cannot be used together with %s",
		                 other);
	}
	if (m->delete_before && m->skip_unchanged_dbs && m->versions < 2)
		return key_error(cfg, err, errlen, "main", "delete_before",
		                 "delete_before = true with skip_unchanged_dbs = true needs "
		                 "versions >= 2 (versions = %ld)", m->versions);
	struct stat st;
	if (stat(m->backup_dir, &st) != 0)
		return key_error(cfg, err, errlen, "main", "backup_dir", "'%s': %s", m->backup_dir,
		                 strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return key_error(cfg, err, errlen, "main", "backup_dir", "'%s' is not a directory",
		                 m->backup_dir);
	return 0;
}

static char *join_lines(const struct strv *sv)
{
	char *s = NULL;
	size_t len = 0, cap = 0;
	buf_append(&s, &len, &cap, "", 0);
	for (size_t i = 0; i < sv->n; i++) {
		if (i > 0)
			buf_append(&s, &len, &cap, "\n", 1);
		buf_append(&s, &len, &cap, sv->v[i], strlen(sv->v[i]));
	}
	return s;
}

static void free_values(struct cfg_value *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(vals[i].section);
		free(vals[i].key);
		free(vals[i].str);
		strv_free(&vals[i].arr);
	}
	free(vals);
}

/* The known keys' effective values, from the typed structs as they are
 * now (NKNOWN entries, in print order); free with free_values(). */
static struct cfg_value *build_effective(const struct oma_config *cfg)
{
	struct cfg_value *eff = xcalloc(NKNOWN, sizeof(*eff));
	for (size_t i = 0; i < NKNOWN; i++) {
		const struct known *k = &known_keys[i];
		struct cfg_value *e = &eff[i];
		const struct cfg_value *fv = find_value(cfg, k->section, k->key);
		e->section = xstrdup(k->section);
		e->key = xstrdup(k->key);
		e->line = fv != NULL ? fv->line : 0;
		e->index = -1;
		if (k->off == NO_FIELD) {
			/* the file's value (type-checked by assign) or the default */
			e->type = k->kind == K_LONG ? CFG_INT : CFG_STRING;
			e->num = fv != NULL ? fv->num : strtoll(k->def, NULL, 10);
			/* integers in decimal whatever the file's spelling (0x10, 1_0) */
			e->str = k->kind == K_LONG ? xasprintf("%lld", e->num)
			                           : xstrdup(fv != NULL ? fv->str : k->def);
			continue;
		}
		const void *field = (const char *)cfg + k->off;
		switch (k->kind) {
		case K_STR: {
			const char *s = *(char *const *)field;
			e->type = s != NULL ? CFG_STRING : CFG_OTHER;
			e->str = s != NULL ? xstrdup(s) : NULL;
			break;
		}
		case K_LONG:
			e->type = CFG_INT;
			e->num = *(const long *)field;
			e->str = xasprintf("%lld", e->num);
			break;
		case K_BOOL:
			e->type = CFG_BOOL;
			e->num = *(const bool *)field;
			e->str = xstrdup(e->num ? "true" : "false");
			break;
		case K_STRV: {
			const struct strv *sv = field;
			e->type = CFG_ARRAY;
			e->arr_all_strings = true;
			for (size_t j = 0; j < sv->n; j++)
				strv_push(&e->arr, sv->v[j]);
			e->str = join_lines(sv);
			break;
		}
		case K_LINK:
			e->type = CFG_STRING;
			e->str = xstrdup(*(const int *)field == CFG_LINK_SYMBOLIC ? "symbolic" : "hard");
			break;
		case K_LEVEL:
			e->type = CFG_STRING;
			e->str = xstrdup(log_level_word(*(const int *)field));
			break;
		}
	}
	return eff;
}

/* Decode, split, type and validate `len` bytes of TOML text named `name`.
 * Returns 0, or -1 with err set and *cfg freed. */
static int load_text(const char *name, const char *text, size_t len, struct oma_config *cfg,
                     char *err, size_t errlen)
{
	struct toml_doc doc = {0};
	char terr[600];
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = xstrdup(name);
	set_defaults(cfg);
	if (toml_parse(name, text, len, &doc, terr, sizeof(terr)) < 0) {
		errf(err, errlen, "config %s", terr);
		goto out;
	}
	if (shim_run(&doc, cfg, err, errlen) < 0)
		goto out;
	if (apply_values(cfg, err, errlen) < 0)
		goto out;
	if (validate(cfg, err, errlen) < 0)
		goto out;
	cfg->effective = build_effective(cfg);
	cfg->neffective = NKNOWN;
	rc = 0;
out:
	toml_doc_free(&doc);
	if (rc < 0)
		cfg_free(cfg);
	return rc;
}

int cfg_load_string(const char *name, const char *text, struct oma_config *cfg, char *err,
                    size_t errlen)
{
	return load_text(name, text, strlen(text), cfg, err, errlen);
}

int cfg_load(const char *path, struct oma_config *cfg, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;
	memset(cfg, 0, sizeof(*cfg));
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		errf(err, errlen, "config %s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	buf_append(&buf, &len, &cap, "", 0);
	for (;;) {
		char chunk[8192];
		size_t n = fread(chunk, 1, sizeof(chunk), f);
		buf_append(&buf, &len, &cap, chunk, n);
		if (len > CFG_MAX_BYTES) {
			/* -c /dev/zero must not eat the machine's memory. */
			errf(err, errlen, "config %s: larger than %d KiB, which no oma configuration is",
			     path, CFG_MAX_BYTES / 1024);
			goto out;
		}
		if (n < sizeof(chunk))
			break;
	}
	if (ferror(f)) {
		errf(err, errlen, "config %s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	rc = load_text(path, buf, len, cfg, err, errlen);
out:
	fclose(f);
	free(buf);
	return rc;
}


void cfg_free(struct oma_config *cfg)
{
	free(cfg->path);
	struct cfg_main *m = &cfg->main;
	free(m->backup_dir);
	free(m->mysqldump_bin);
	free(m->mysql_bin);
	strv_free(&m->exclude_databases);
	strv_free(&m->do_databases);
	strv_free(&m->mysqldump_options);
	free(m->compression);
	free(m->plugin_dir);
	strv_free(&cfg->cond.skip);
	strv_free(&cfg->cond.run);
	strv_free(&cfg->cond.terminate);
	free(cfg->zabbix.item_key);
	free(cfg->zabbix.sender_bin);
	free(cfg->zabbix.agent_conf);
	free_values(cfg->values, cfg->nvalues);
	strv_free(&cfg->warnings);
	for (size_t i = 0; i < cfg->nsections; i++)
		free(cfg->sections[i].name);
	free(cfg->sections);
	free_values(cfg->effective, cfg->neffective);
	memset(cfg, 0, sizeof(*cfg));
}

int cfg_parallelism(const struct oma_config *cfg, int cpus)
{
	long p = cfg->main.parallelism;
	if (p > 0)
		return p > INT_MAX ? INT_MAX : (int)p;
	long n = (long)cpus + p;
	return n < 1 ? 1 : (int)n;
}

const char *cfg_get(const struct oma_config *cfg, const char *section, const char *key)
{
	if (is_known_section(section)) {
		for (size_t i = 0; i < cfg->neffective; i++)
			if (strcmp(cfg->effective[i].section, section) == 0 &&
			    strcmp(cfg->effective[i].key, key) == 0)
				return cfg->effective[i].str;
	}
	const struct cfg_value *v = find_value(cfg, section, key);
	return v != NULL ? v->str : NULL;
}

bool cfg_has_section(const struct oma_config *cfg, const char *section)
{
	return find_section(cfg, section) != NULL;
}

/* ---- --print-config ---------------------------------------------------- */

struct jbuf {
	char *s;
	size_t len, cap;
};

static void j_raw(struct jbuf *j, const char *s)
{
	buf_append(&j->s, &j->len, &j->cap, s, strlen(s));
}

static void j_str(struct jbuf *j, const char *s)
{
	json_append_string(&j->s, &j->len, &j->cap, s);
}

/* "key":value with the value's TOML type kept where JSON has one. */
static void j_member(struct jbuf *j, const struct cfg_value *v, bool first)
{
	if (!first)
		j_raw(j, ",");
	j_str(j, v->key);
	j_raw(j, ":");
	switch (v->type) {
	case CFG_INT:
		buf_appendf(&j->s, &j->len, &j->cap, "%lld", v->num);
		break;
	case CFG_BOOL:
		j_raw(j, v->num ? "true" : "false");
		break;
	case CFG_ARRAY:
		j_raw(j, "[");
		for (size_t i = 0; i < v->arr.n; i++) {
			if (i > 0)
				j_raw(j, ",");
			j_str(j, v->arr.v[i]);
		}
		j_raw(j, "]");
		break;
	default:
		if (v->str == NULL)
			j_raw(j, "null");
		else
			j_str(j, v->str);
		break;
	}
}

/* The keys of `section` (element `index`, -1 for a plain table) as an object. */
static void j_table(struct jbuf *j, const struct cfg_value *vals, size_t n, const char *section,
                    int index)
{
	bool first = true;
	j_raw(j, "{");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(vals[i].section, section) != 0 || vals[i].index != index)
			continue;
		j_member(j, &vals[i], first);
		first = false;
	}
	j_raw(j, "}");
}

int cfg_print_json(const struct oma_config *cfg, FILE *out)
{
	struct jbuf j = {0};
	/* from the structs as they are now: the caller may have filled in
	 * compression_level since cfg_load */
	struct cfg_value *eff = build_effective(cfg);
	j_raw(&j, "{");
	for (size_t i = 0; i < sizeof(known_sections) / sizeof(known_sections[0]); i++) {
		if (i > 0)
			j_raw(&j, ",");
		j_str(&j, known_sections[i]);
		j_raw(&j, ":");
		j_table(&j, eff, NKNOWN, known_sections[i], -1);
	}
	for (size_t i = 0; i < cfg->nsections; i++) {
		const struct cfg_section *s = &cfg->sections[i];
		if (is_known_section(s->name))
			continue;
		j_raw(&j, ",");
		j_str(&j, s->name);
		j_raw(&j, ":");
		if (s->elems == 0) {
			j_table(&j, cfg->values, cfg->nvalues, s->name, -1);
			continue;
		}
		j_raw(&j, "[");
		for (int e = 0; e < s->elems; e++) {
			if (e > 0)
				j_raw(&j, ",");
			j_table(&j, cfg->values, cfg->nvalues, s->name, e);
		}
		j_raw(&j, "]");
	}
	for (size_t i = 0; i < cfg->nvalues; i++)
		if (cfg->values[i].section[0] == '\0')
			j_member(&j, &cfg->values[i], false);
	j_raw(&j, "}\n");
	size_t n = fwrite(j.s, 1, j.len, out);
	int rc = (n == j.len && fflush(out) == 0) ? 0 : -1;
	free(j.s);
	free_values(eff, NKNOWN);
	return rc;
}
