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
#include "config_internal.h"
#include "settings.h"
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

struct cfg_section *cfg_find_section(const struct oma_config *cfg, const char *name)
{
	const struct cfg_data *d = cfg->data;
	for (size_t i = 0; d != NULL && i < d->nsections; i++)
		if (strcmp(d->sections[i].name, name) == 0)
			return &d->sections[i];
	return NULL;
}

static void note_section(struct oma_config *cfg, const char *name, int line, int index)
{
	struct cfg_data *d = cfg->data;
	struct cfg_section *s = cfg_find_section(cfg, name);
	if (s == NULL) {
		d->sections = xrealloc(d->sections, (d->nsections + 1) * sizeof(*d->sections));
		s = &d->sections[d->nsections++];
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

/* A table [main.versions] where a known key belongs: a type error (set in
 * S->err).  Returns true when it is one. */
static bool table_over_known_key(struct shim *S, const char *section, const char *key, int line)
{
	const char *kind = settings_kind(S->cfg, section, key);
	if (kind == NULL)
		return false;
	errf(S->err, S->errlen, "config %s:%d: [%s] %s: expected %s, got a table", S->cfg->path,
	     line, section, key, kind);
	S->failed = true;
	return true;
}

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
	struct cfg_data *d = S->cfg->data;
	d->values = xrealloc(d->values, (d->nvalues + 1) * sizeof(*d->values));
	struct cfg_value *v = &d->values[d->nvalues++];
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

/* ---- defaults and the checks across keys --------------------------------- */

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
}

/* Whether s is a plugin name: [a-z0-9_-]+. */
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
	if (cfg_find_section(cfg, "main") == NULL) {
		errf(err, errlen, "config %s: [main] table missing", cfg->path);
		return -1;
	}
	if (m->backup_dir == NULL)
		return settings_key_error(cfg, err, errlen, "main", "backup_dir", "missing (mandatory key)");
	if (m->parallelism == 0)
		return settings_key_error(cfg, err, errlen, "main", "parallelism", "must not be 0");
	if (m->mysqldump_bin[0] == '\0')
		return settings_key_error(cfg, err, errlen, "main", "mysqldump_bin", "must not be empty");
	if (m->mysql_bin[0] == '\0')
		return settings_key_error(cfg, err, errlen, "main", "mysql_bin", "must not be empty");
	if (!valid_plugin_name(m->compression))
		return settings_key_error(cfg, err, errlen, "main", "compression",
		                 "must be a plugin name made of [a-z0-9_-], not \"%s\"", m->compression);
	if (m->exclude_databases.n > 0 && m->do_databases.n > 0) {
		const struct cfg_value *ex = settings_file_value(cfg, "main", "exclude_databases");
		const struct cfg_value *dd = settings_file_value(cfg, "main", "do_databases");
		const char *later = ex != NULL && dd != NULL && ex->line > dd->line ?
		                    "exclude_databases" : "do_databases";
		const char *other = strcmp(later, "do_databases") == 0 ? "exclude_databases" :
		                    "do_databases";
		return settings_key_error(cfg, err, errlen, "main", later, "cannot be used together with %s",
		                 other);
	}
	if (m->delete_before && m->skip_unchanged_dbs && m->versions < 2)
		return settings_key_error(cfg, err, errlen, "main", "delete_before",
		                 "delete_before = true with skip_unchanged_dbs = true needs "
		                 "versions >= 2 (versions = %ld)", m->versions);
	struct stat st;
	if (stat(m->backup_dir, &st) != 0)
		return settings_key_error(cfg, err, errlen, "main", "backup_dir", "'%s': %s", m->backup_dir,
		                 strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return settings_key_error(cfg, err, errlen, "main", "backup_dir", "'%s' is not a directory",
		                 m->backup_dir);
	return 0;
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
	cfg->data = xcalloc(1, sizeof(*cfg->data));
	set_defaults(cfg);
	if (toml_parse(name, text, len, &doc, terr, sizeof(terr)) < 0) {
		errf(err, errlen, "config %s", terr);
		goto out;
	}
	if (shim_run(&doc, cfg, err, errlen) < 0)
		goto out;
	if (settings_apply_core(cfg, err, errlen) < 0)
		goto out;
	if (validate(cfg, err, errlen) < 0)
		goto out;
	settings_rebuild(cfg);
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
	strv_free(&cfg->warnings);
	struct cfg_data *d = cfg->data;
	if (d != NULL) {
		settings_free_values(d->values, d->nvalues);
		for (size_t i = 0; i < d->nsections; i++)
			free(d->sections[i].name);
		free(d->sections);
		settings_free(cfg);
		free(d);
	}
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

bool cfg_has_section(const struct oma_config *cfg, const char *section)
{
	return cfg_find_section(cfg, section) != NULL;
}

const char *cfg_section_name(const struct oma_config *cfg, size_t i)
{
	const struct cfg_data *d = cfg->data;
	return d != NULL && i < d->nsections ? d->sections[i].name : NULL;
}
