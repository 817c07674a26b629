/* cfgprint.c - --print-config: the effective configuration as one JSON object. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"
#include "settings.h"
#include "util.h"

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

/* The keys of `section` (element `index`, -1 for a plain table) among
 * vals, as members of an object (`first`: none written yet). */
static bool j_members(struct jbuf *j, const struct cfg_value *vals, size_t n, const char *section,
                      int index, bool first)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(vals[i].section, section) != 0 || vals[i].index != index)
			continue;
		j_member(j, &vals[i], first);
		first = false;
	}
	return first;
}

/* "NAME":{...} of a section with a table: its effective values, and
 * `enabled` when the file sets it. */
static void j_known_section(struct jbuf *j, const struct oma_config *cfg,
                            const struct cfg_value *eff, size_t neff, const char *name)
{
	j_raw(j, j->len > 1 ? "," : "");
	j_str(j, name);
	j_raw(j, ":{");
	bool first = j_members(j, eff, neff, name, -1, true);
	const struct cfg_value *en = settings_file_value(cfg, name, "enabled");
	if (en != NULL && !settings_is_core_section(name))
		j_member(j, en, first);
	j_raw(j, "}");
}

int cfg_print_json(const struct oma_config *cfg, FILE *out)
{
	struct jbuf j = {0};
	/* from the structs as they are now: the caller may have filled in
	 * compression_level since cfg_load */
	size_t neff;
	struct cfg_value *eff = settings_effective(cfg, &neff);
	j_raw(&j, "{");
	for (size_t i = 0; settings_section(cfg, i) != NULL; i++)
		j_known_section(&j, cfg, eff, neff, settings_section(cfg, i));
	for (size_t i = 0; i < cfg->data->nsections; i++) {
		const struct cfg_section *s = &cfg->data->sections[i];
		if (settings_has_table(cfg, s->name))
			continue;
		j_raw(&j, j.len > 1 ? "," : "");
		j_str(&j, s->name);
		j_raw(&j, ":");
		if (s->elems == 0) {
			j_raw(&j, "{");
			(void)j_members(&j, cfg->data->values, cfg->data->nvalues, s->name, -1,
			                true);
			j_raw(&j, "}");
			continue;
		}
		j_raw(&j, "[");
		for (int e = 0; e < s->elems; e++) {
			if (e > 0)
				j_raw(&j, ",");
			j_raw(&j, "{");
			(void)j_members(&j, cfg->data->values, cfg->data->nvalues, s->name, e,
			                true);
			j_raw(&j, "}");
		}
		j_raw(&j, "]");
	}
	for (size_t i = 0; i < cfg->data->nvalues; i++)
		if (cfg->data->values[i].section[0] == '\0')
			j_member(&j, &cfg->data->values[i], j.len == 1);
	j_raw(&j, "}\n");
	size_t n = fwrite(j.s, 1, j.len, out);
	int rc = (n == j.len && fflush(out) == 0) ? 0 : -1;
	free(j.s);
	settings_free_values(eff, neff);
	return rc;
}
