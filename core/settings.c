/* settings.c - the keys oma knows: its own ([main], [conditions]) and those its plugins declare. */
#include "settings.h"
#include "common/errbuf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oma/plugin.h>

#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "util.h"

/* What a key holds and where the core keeps it. */
enum kind {
	K_STR,  /* a string */
	K_LONG, /* an integer within min..max */
	K_BOOL,
	K_STRV,  /* an array of strings */
	K_LINK,  /* "hard" | "symbolic" */
	K_LEVEL, /* "debug" | "info" | "warning" | "error" */
	K_STRS,  /* a string or an array of strings (plugins) */
};

struct known {
	const char *section;
	const char *key;
	enum kind kind;
	size_t off;                 /* of the field in struct oma_config, or NO_FIELD */
	const char *def;            /* NO_FIELD keys: the default's text form, or NULL */
	long long min, max;         /* K_LONG: the range */
	const char *unit;           /* K_LONG: what the number means, for the message */
	const char *const *choices; /* K_STR, NO_FIELD: the values accepted, or NULL */
	bool is_switch;             /* OMA_SETTING_SWITCH */
	int (*check)(const char *value, char *err, size_t errlen); /* NO_FIELD: the plugin's */
};

#define NO_FIELD ((size_t)-1)
#define KEY(sec, name, kind, field)                                                               \
	{                                                                                         \
		sec, name, kind, offsetof(struct oma_config, field), NULL, 0, 0, "", NULL, false, \
		        NULL                                                                      \
	}
#define RANGE_KEY(sec, name, field, min, max, unit)                                                \
	{                                                                                          \
		sec, name, K_LONG, offsetof(struct oma_config, field), NULL, min, max, unit, NULL, \
		        false, NULL                                                                \
	}
#define MAIN(name, kind)                 KEY("main", #name, kind, main.name)
#define MAIN_RANGE(name, min, max, unit) RANGE_KEY("main", #name, main.name, min, max, unit)
/* Seconds as the plugin ABI passes them (int). */
#define SECONDS_MAX                      2147483647L
#define SECONDS_NOTE                     " seconds (0: no limit)"

/* The core's keys, in --print-config order. */
static const struct known core_keys[] = {
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
};
#define NCORE (sizeof(core_keys) / sizeof(core_keys[0]))

static const char *const core_sections[] = {"main", "conditions"};
#define NCORE_SECTIONS (sizeof(core_sections) / sizeof(core_sections[0]))

/* The tables plugins registered: their keys (section names owned here;
 * keys, defaults and choices stay the plugin's, which is never unmapped),
 * and their sections in the order they came. */
struct cfg_registry {
	struct known *keys;
	size_t n;
	struct strv sections;
};

bool settings_is_core_section(const char *s)
{
	for (size_t i = 0; i < NCORE_SECTIONS; i++)
		if (strcmp(s, core_sections[i]) == 0)
			return true;
	return false;
}

static bool is_registered(const struct oma_config *cfg, const char *s)
{
	return cfg->data->registry != NULL && strv_contains(&cfg->data->registry->sections, s);
}

const char *settings_section(const struct oma_config *cfg, size_t i)
{
	if (i < NCORE_SECTIONS)
		return core_sections[i];
	i -= NCORE_SECTIONS;
	const struct cfg_registry *r = cfg->data->registry;
	return r != NULL && i < r->sections.n ? r->sections.v[i] : NULL;
}

bool settings_has_table(const struct oma_config *cfg, const char *section)
{
	return settings_is_core_section(section) || is_registered(cfg, section);
}

static const struct known *find_known(const struct oma_config *cfg, const char *section,
                                      const char *key)
{
	for (size_t i = 0; i < NCORE; i++)
		if (strcmp(core_keys[i].section, section) == 0 &&
		    strcmp(core_keys[i].key, key) == 0)
			return &core_keys[i];
	for (size_t i = 0; cfg->data->registry != NULL && i < cfg->data->registry->n; i++) {
		const struct known *k = &cfg->data->registry->keys[i];
		if (strcmp(k->section, section) == 0 && strcmp(k->key, key) == 0)
			return k;
	}
	return NULL;
}

const struct cfg_value *settings_file_value(const struct oma_config *cfg, const char *section,
                                            const char *key)
{
	for (size_t i = 0; i < cfg->data->nvalues; i++)
		if (strcmp(cfg->data->values[i].section, section) == 0 &&
		    strcmp(cfg->data->values[i].key, key) == 0)
			return &cfg->data->values[i];
	return NULL;
}

int settings_key_error(const struct oma_config *cfg, char *err, size_t errlen, const char *section,
                       const char *key, const char *fmt, ...)
{
	char msg[512], where[32] = "";
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const struct cfg_value *v = settings_file_value(cfg, section, key);
	if (v != NULL)
		(void)snprintf(where, sizeof(where), ":%d", v->line);
	cm_errf(err, errlen, "config %s%s: [%s] %s: %s", cfg->path, where, section, key, msg);
	return -1;
}

static void warn(struct oma_config *cfg, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

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
	case CFG_STRING:
		return "a string";
	case CFG_INT:
		return "an integer";
	case CFG_BOOL:
		return "a boolean";
	case CFG_FLOAT:
		return "a float";
	case CFG_ARRAY:
		return v->arr_all_strings ? "an array of strings"
		                          : "an array with non-string elements";
	case CFG_OTHER:
		break;
	}
	return "a date-time";
}

static const char *kind_name(enum kind k)
{
	switch (k) {
	case K_LONG:
		return "an integer";
	case K_BOOL:
		return "a boolean (true or false)";
	case K_STRV:
		return "an array of strings";
	case K_STRS:
		return "a string or an array of strings";
	case K_STR:
	case K_LINK:
	case K_LEVEL:
		break;
	}
	return "a string";
}

const char *settings_kind(const struct oma_config *cfg, const char *section, const char *key)
{
	const struct known *k = find_known(cfg, section, key);
	return k != NULL ? kind_name(k->kind) : NULL;
}

static void set_str(char **field, const char *s)
{
	free(*field);
	*field = s != NULL ? xstrdup(s) : NULL;
}

/* A value among k->choices (when it has them).  Returns 0 or -1. */
static int check_choices(const struct oma_config *cfg, const struct known *k,
                         const struct cfg_value *v, char *err, size_t errlen)
{
	const char *const *choices = k->choices;
	if (choices == NULL || v->type != CFG_STRING)
		return 0;
	for (size_t i = 0; choices[i] != NULL; i++)
		if (strcmp(v->str, choices[i]) == 0)
			return 0;
	/* The whole list, however long a plugin's table makes it. */
	char *list = NULL;
	size_t len = 0, cap = 0;
	for (size_t i = 0; choices[i] != NULL; i++)
		buf_appendf(&list, &len, &cap, "%s\"%s\"",
		            i == 0 ? "" : (choices[i + 1] == NULL ? " or " : ", "), choices[i]);
	int rc = settings_key_error(cfg, err, errlen, k->section, k->key, "must be %s, not \"%s\"",
	                            list, v->str);
	free(list);
	return rc;
}

/* The plugin's own check of a value (each element of an array), when its
 * table has one.  Returns 0 or -1 with err naming file, line and key. */
static int check_plugin_value(const struct oma_config *cfg, const struct known *k,
                              const struct cfg_value *v, char *err, size_t errlen)
{
	if (k->check == NULL)
		return 0;
	char why[384] = "";
	if (v->type != CFG_ARRAY) {
		if (k->check(v->str, why, sizeof(why)) == 0)
			return 0;
		return settings_key_error(cfg, err, errlen, k->section, k->key, "%s",
		                          why[0] ? why : "not accepted");
	}
	for (size_t i = 0; i < v->arr.n; i++) {
		if (k->check(v->arr.v[i], why, sizeof(why)) == 0)
			continue;
		char *key = xasprintf("%s #%zu", k->key, i + 1);
		char where[32] = "";
		(void)snprintf(where, sizeof(where), ":%d", v->line);
		cm_errf(err, errlen, "config %s%s: [%s] %s: %s", cfg->path, where, k->section, key,
		        why[0] ? why : "not accepted");
		free(key);
		return -1;
	}
	return 0;
}

/* Type-check one value of a known key and store it.  Returns 0 or -1. */
static int assign(struct oma_config *cfg, const struct known *k, const struct cfg_value *v,
                  char *err, size_t errlen)
{
	bool ok;
	switch (k->kind) {
	case K_LONG:
		ok = v->type == CFG_INT;
		break;
	case K_BOOL:
		ok = v->type == CFG_BOOL;
		break;
	case K_STRV:
		ok = v->type == CFG_ARRAY && v->arr_all_strings;
		break;
	case K_STRS:
		ok = v->type == CFG_STRING || (v->type == CFG_ARRAY && v->arr_all_strings);
		break;
	default:
		ok = v->type == CFG_STRING;
		break;
	}
	if (!ok)
		return settings_key_error(cfg, err, errlen, k->section, k->key,
		                          "expected %s, got %s", kind_name(k->kind), type_name(v));
	/* Every integer key has a range: a value past it is refused, never
	 * cut to fit (4294967297 seconds must not become 1). */
	if (k->kind == K_LONG && (v->num < k->min || v->num > k->max))
		return settings_key_error(cfg, err, errlen, k->section, k->key,
		                          "must be %lld..%lld%s, not %lld", k->min, k->max, k->unit,
		                          v->num);
	if (k->off == NO_FIELD)
		return check_choices(cfg, k, v, err, errlen) != 0
		               ? -1
		               : check_plugin_value(cfg, k, v, err, errlen);
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
			return settings_key_error(cfg, err, errlen, k->section, k->key,
			                          "must be \"hard\" or \"symbolic\", not \"%s\"",
			                          v->str);
		break;
	case K_LEVEL: {
		int lvl = log_level_parse(v->str);
		if (lvl < 0)
			return settings_key_error(
			        cfg, err, errlen, k->section, k->key,
			        "must be one of debug, info, warning, error, not \"%s\"", v->str);
		*(int *)field = lvl;
		break;
	}
	case K_STRS:
		break;
	}
	return 0;
}

/* Check the file's values of a section with a table: store known keys,
 * refuse a table where a key belongs, warn about unknown ones (`enabled`,
 * a boolean, every section has).  Returns 0 or -1. */
static int apply_section(struct oma_config *cfg, const char *section, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->data->nvalues; i++) {
		const struct cfg_value *v = &cfg->data->values[i];
		if (strcmp(v->section, section) != 0)
			continue;
		const struct known *k = find_known(cfg, section, v->key);
		if (k != NULL) {
			if (assign(cfg, k, v, err, errlen) < 0)
				return -1;
			continue;
		}
		if (!settings_is_core_section(section) && strcmp(v->key, "enabled") == 0) {
			if (v->type != CFG_BOOL)
				return settings_key_error(
				        cfg, err, errlen, section, v->key,
				        "expected a boolean (true or false), got %s", type_name(v));
			continue;
		}
		/* "versions.x = 1" or "versions = {x = 1}" makes versions a table */
		const char *dot = strchr(v->key, '.');
		if (dot != NULL) {
			char *head = xstrndup(v->key, (size_t)(dot - v->key));
			k = find_known(cfg, section, head);
			free(head);
			if (k != NULL) {
				cm_errf(err, errlen,
				        "config %s:%d: [%s] %s: expected %s, got a table",
				        cfg->path, v->line, k->section, k->key, kind_name(k->kind));
				return -1;
			}
		}
		warn(cfg, "config %s:%d: unknown key '%s' in [%s], ignored", cfg->path, v->line,
		     v->key, section);
	}
	for (size_t i = 0; i < cfg->data->nsections; i++) {
		const struct cfg_section *s = &cfg->data->sections[i];
		if (strcmp(s->name, section) == 0 && s->elems > 0) {
			cm_errf(err, errlen,
			        "config %s:%d: [%s] must be a table, not an array of tables",
			        cfg->path, s->line, s->name);
			return -1;
		}
	}
	return 0;
}

int settings_apply_core(struct oma_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->data->nvalues; i++) {
		const struct cfg_value *v = &cfg->data->values[i];
		if (v->section[0] != '\0')
			continue;
		if (settings_is_core_section(v->key)) {
			cm_errf(err, errlen, "config %s:%d: '%s' must be a table ([%s]), got %s",
			        cfg->path, v->line, v->key, v->key, type_name(v));
			return -1;
		}
		warn(cfg, "config %s:%d: unknown key '%s' outside any table, ignored", cfg->path,
		     v->line, v->key);
	}
	for (size_t i = 0; i < NCORE_SECTIONS; i++)
		if (apply_section(cfg, core_sections[i], err, errlen) != 0)
			return -1;
	return 0;
}

/* ---- plugins' tables -------------------------------------------------- */

/* A plugin's entry as a key of the core's kind.  Returns 0, or -1 with err
 * set when the entry itself is wrong (a plugin's bug). */
static int from_setting(const char *section, const struct oma_setting *s, struct known *k,
                        char *err, size_t errlen)
{
	*k = (struct known){.section = section,
	                    .key = s->key,
	                    .off = NO_FIELD,
	                    .def = s->def,
	                    .min = s->min,
	                    .max = s->max,
	                    .unit = "",
	                    .choices = s->choices,
	                    .check = s->check,
	                    .is_switch = (s->flags & OMA_SETTING_SWITCH) != 0};
	switch (s->type) {
	case OMA_SETTING_STRING:
		k->kind = K_STR;
		break;
	case OMA_SETTING_INT:
		k->kind = K_LONG;
		break;
	case OMA_SETTING_BOOL:
		k->kind = K_BOOL;
		break;
	case OMA_SETTING_STRINGS:
		k->kind = K_STRS;
		break;
	default:
		cm_errf(err, errlen, "[%s] %s: unknown setting type %u", section, s->key,
		        (unsigned)s->type);
		return -1;
	}
	if (k->kind == K_LONG) {
		char *end = NULL;
		long long d = s->def != NULL ? strtoll(s->def, &end, 10) : s->min;
		if (s->min > s->max ||
		    (s->def != NULL && (*end != '\0' || d < s->min || d > s->max))) {
			cm_errf(err, errlen, "[%s] %s: default '%s' outside its range %lld..%lld",
			        section, s->key, s->def != NULL ? s->def : "", s->min, s->max);
			return -1;
		}
	}
	if (k->kind == K_BOOL && s->def != NULL && strcmp(s->def, "true") != 0 &&
	    strcmp(s->def, "false") != 0) {
		cm_errf(err, errlen, "[%s] %s: default '%s' is not true or false", section, s->key,
		        s->def);
		return -1;
	}
	return 0;
}

int cfg_register_settings(struct oma_config *cfg, const char *section,
                          const struct oma_setting *table, char *err, size_t errlen)
{
	if (settings_is_core_section(section) || is_registered(cfg, section)) {
		cm_errf(err, errlen, "[%s] has a table of keys already", section);
		return -1;
	}
	if (cfg->data->registry == NULL)
		cfg->data->registry = xcalloc(1, sizeof(*cfg->data->registry));
	struct cfg_registry *r = cfg->data->registry;
	size_t n = 0;
	while (table[n].key != NULL)
		n++;
	r->keys = xrealloc(r->keys, (r->n + n + 1) * sizeof(*r->keys));
	strv_push(&r->sections, section);
	const char *owned = r->sections.v[r->sections.n - 1];
	size_t first = r->n;
	for (size_t i = 0; i < n; i++) {
		if (from_setting(owned, &table[i], &r->keys[r->n], err, errlen) != 0) {
			r->n = first;
			free(r->sections.v[--r->sections.n]);
			r->sections.v[r->sections.n] = NULL;
			return -1;
		}
		r->n++;
	}
	int rc = apply_section(cfg, owned, err, errlen);
	settings_rebuild(cfg);
	return rc;
}

int cfg_register_encryption(struct oma_config *cfg, const struct oma_setting *plugin_table,
                            char *err, size_t errlen)
{
	static const struct oma_setting method = {
	        .key = "method",
	        .type = OMA_SETTING_STRING,
	        .def = "age",
	        .help = "the encrypt plugin: encrypt-METHOD.so",
	};
	size_t n = 0;
	while (plugin_table != NULL && plugin_table[n].key != NULL)
		n++;
	struct oma_setting *table = xcalloc(n + 2, sizeof(*table));
	table[0] = method;
	for (size_t i = 0; i < n; i++)
		table[i + 1] = plugin_table[i];
	int rc = cfg_register_settings(cfg, "encryption", table, err, errlen);
	free(table);
	return rc;
}

bool cfg_section_enabled(const struct oma_config *cfg, const char *section)
{
	/* A switch key decides alone, as upstream's [zabbix] item_key does. */
	for (size_t i = 0; is_registered(cfg, section) && i < cfg->data->registry->n; i++) {
		const struct known *k = &cfg->data->registry->keys[i];
		if (!k->is_switch || strcmp(k->section, section) != 0)
			continue;
		const char *v = cfg_get(cfg, section, k->key);
		return v != NULL && v[0] != '\0' && strcmp(v, "false") != 0;
	}
	const struct cfg_value *en = settings_file_value(cfg, section, "enabled");
	if (en != NULL && en->type == CFG_BOOL && en->num == 0)
		return false;
	return cfg_has_section(cfg, section);
}

/* ---- effective values -------------------------------------------------- */

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

void settings_free_values(struct cfg_value *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(vals[i].section);
		free(vals[i].key);
		free(vals[i].str);
		strv_free(&vals[i].arr);
	}
	free(vals);
}

/* The effective value of a plugin's key: the file's (type-checked) or its
 * default. */
static void plugin_effective(const struct known *k, const struct cfg_value *fv, struct cfg_value *e)
{
	if (fv != NULL) {
		e->type = fv->type;
		e->num = fv->num;
		e->str = fv->str != NULL ? xstrdup(fv->str) : NULL;
		e->arr_all_strings = fv->arr_all_strings;
		for (size_t j = 0; j < fv->arr.n; j++)
			strv_push(&e->arr, fv->arr.v[j]);
		if (k->kind == K_LONG) {
			/* integers in decimal whatever the file's spelling (0x10, 1_0) */
			free(e->str);
			e->str = xasprintf("%lld", e->num);
		}
		return;
	}
	e->str = k->def != NULL ? xstrdup(k->def) : NULL;
	switch (k->kind) {
	case K_LONG:
		e->type = k->def != NULL ? CFG_INT : CFG_OTHER;
		e->num = k->def != NULL ? strtoll(k->def, NULL, 10) : 0;
		break;
	case K_BOOL:
		e->type = k->def != NULL ? CFG_BOOL : CFG_OTHER;
		e->num = k->def != NULL && strcmp(k->def, "true") == 0;
		break;
	default:
		e->type = k->def != NULL ? CFG_STRING : CFG_OTHER;
		break;
	}
}

/* The effective value of a core key, from the typed structs. */
static void core_effective(const struct oma_config *cfg, const struct known *k, struct cfg_value *e)
{
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
	case K_STRS:
		break;
	}
}

struct cfg_value *settings_effective(const struct oma_config *cfg, size_t *n)
{
	size_t nplug = cfg->data->registry != NULL ? cfg->data->registry->n : 0;
	struct cfg_value *eff = xcalloc(NCORE + nplug + 1, sizeof(*eff));
	for (size_t i = 0; i < NCORE + nplug; i++) {
		const struct known *k = i < NCORE ? &core_keys[i]
		                                  : &cfg->data->registry->keys[i - NCORE];
		struct cfg_value *e = &eff[i];
		const struct cfg_value *fv = settings_file_value(cfg, k->section, k->key);
		e->section = xstrdup(k->section);
		e->key = xstrdup(k->key);
		e->line = fv != NULL ? fv->line : 0;
		e->index = -1;
		if (k->off == NO_FIELD)
			plugin_effective(k, fv, e);
		else
			core_effective(cfg, k, e);
	}
	*n = NCORE + nplug;
	return eff;
}

void settings_rebuild(struct oma_config *cfg)
{
	settings_free_values(cfg->data->effective, cfg->data->neffective);
	cfg->data->effective = settings_effective(cfg, &cfg->data->neffective);
}

void settings_free(struct oma_config *cfg)
{
	settings_free_values(cfg->data->effective, cfg->data->neffective);
	cfg->data->effective = NULL;
	cfg->data->neffective = 0;
	if (cfg->data->registry != NULL) {
		free(cfg->data->registry->keys);
		strv_free(&cfg->data->registry->sections);
		free(cfg->data->registry);
		cfg->data->registry = NULL;
	}
}

const char *cfg_get(const struct oma_config *cfg, const char *section, const char *key)
{
	if (settings_has_table(cfg, section)) {
		for (size_t i = 0; i < cfg->data->neffective; i++)
			if (strcmp(cfg->data->effective[i].section, section) == 0 &&
			    strcmp(cfg->data->effective[i].key, key) == 0)
				return cfg->data->effective[i].str;
	}
	const struct cfg_value *v = settings_file_value(cfg, section, key);
	return v != NULL ? v->str : NULL;
}
