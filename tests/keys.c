/* keys.c - the tables of keys (the core's and those of the plugins in BUILD/plugins) for the checks of oma.conf.example and oma.conf(5). */
#include "keys.h"

#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "testlib.h"
#include "util.h"

static struct keys_table tables[32];

/* Keys whose default is no constant. */
static const struct {
	const char *section, *key;
} worded[] = {
        {"main", "backup_dir"},  /* mandatory, no default */
        {"main", "parallelism"}, /* the number of CPUs */
};
static size_t ntables;

/* Add the section of descriptor p (when it owns one) to the tables. */
static void add_table(const struct oma_plugin *p)
{
	if (p->type == OMA_PLUGIN_ENCRYPT) {
		/* the default method's keys are [encryption]'s */
		if (strcmp(p->name, "age") != 0)
			return;
		ck_assert_uint_lt(ntables, sizeof(tables) / sizeof(tables[0]));
		tables[ntables].section = xstrdup("encryption");
		tables[ntables].encrypt = true;
		tables[ntables++].settings = p->settings;
	} else if (p->type == OMA_PLUGIN_REPORT || p->settings != NULL) {
		ck_assert_uint_lt(ntables, sizeof(tables) / sizeof(tables[0]));
		tables[ntables].section = xstrdup(p->name);
		tables[ntables++].settings = p->settings;
	}
}

void keys_load_tables(void)
{
	char *build = t_build_dir();
	char *dir = xasprintf("%s/plugins", build);
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "%s: %s (run `make`)", dir, strerror(errno));
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		size_t len = strlen(e->d_name);
		if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
			continue;
		char *so = xasprintf("%s/%s", dir, e->d_name);
		void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
		ck_assert_msg(h != NULL, "cannot load %s: %s", so, dlerror());
		const struct oma_plugin *p = dlsym(h, OMA_PLUGIN_SYMBOL);
		ck_assert_msg(p != NULL, "%s: no descriptor", so);
		add_table(p);
		free(so);
	}
	closedir(d);
	ck_assert_msg(ntables > 0, "no reporter in %s", dir);
	free(dir);
	free(build);
}

void keys_free_tables(void)
{
	for (size_t i = 0; i < ntables; i++)
		free(tables[i].section);
	memset(tables, 0, sizeof(tables));
	ntables = 0;
}

size_t keys_ntables(void)
{
	return ntables;
}

const struct keys_table *keys_table(size_t i)
{
	return i < ntables ? &tables[i] : NULL;
}

const struct keys_table *keys_find_table(const char *section)
{
	for (size_t i = 0; i < ntables; i++)
		if (strcmp(tables[i].section, section) == 0)
			return &tables[i];
	return NULL;
}

int keys_load(const char *name, const char *text, struct oma_config *cfg, char *err, size_t errlen)
{
	int rc = cfg_load_string(name, text, cfg, err, errlen);
	for (size_t i = 0; rc == 0 && i < ntables; i++)
		if (tables[i].settings != NULL && cfg_has_section(cfg, tables[i].section))
			rc = tables[i].encrypt
			             ? cfg_register_encryption(cfg, tables[i].settings, err, errlen)
			             : cfg_register_settings(cfg, tables[i].section,
			                                     tables[i].settings, err, errlen);
	return rc;
}

void keys_known(struct oma_config *cfg, const char *backup_dir)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	buf_appendf(&text, &len, &cap, "[main]\nbackup_dir = \"%s\"\n", backup_dir);
	for (size_t i = 0; i < ntables; i++)
		if (tables[i].settings != NULL)
			buf_appendf(&text, &len, &cap, "[%s]\n", tables[i].section);
	char err[1024];
	int rc = keys_load("known keys", text, cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	free(text);
}

char *keys_value_of(const char *section, const char *key, const char *value, const char *backup_dir,
                    char *err, size_t errlen)
{
	char *text;
	if (strcmp(section, "main") == 0)
		text = xasprintf("[main]\nbackup_dir = \"%s\"\n%s = %s\n", backup_dir, key, value);
	else
		text = xasprintf("[main]\nbackup_dir = \"%s\"\n[%s]\n%s = %s\n", backup_dir,
		                 section, key, value);
	struct oma_config cfg;
	char *got = NULL;
	if (keys_load("value", text, &cfg, err, errlen) == 0) {
		const char *v = cfg_get(&cfg, section, key);
		got = xstrdup(v != NULL ? v : "(null)");
		cfg_free(&cfg);
	}
	free(text);
	return got;
}

bool keys_is_worded(const char *section, const char *key)
{
	for (size_t i = 0; i < sizeof(worded) / sizeof(worded[0]); i++)
		if (strcmp(worded[i].section, section) == 0 && strcmp(worded[i].key, key) == 0)
			return true;
	return false;
}
