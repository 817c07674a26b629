/* keys.h - the tables of keys (the core's and those of the plugins in BUILD/plugins) for the checks of oma.conf.example and oma.conf(5). */
#ifndef OMA_TESTS_KEYS_H
#define OMA_TESTS_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <oma/plugin.h>

#include "config.h"

/* A plugin's section and its table of keys (NULL when it declares none). */
struct keys_table {
	char *section;
	const struct oma_setting *settings;
	bool encrypt; /* [encryption]: the core's key method, then the plugin's */
};

/* Every plugin in BUILD/plugins that owns a section (a reporter's name is
 * its section; a table makes one of any plugin; the encrypt plugin "age"
 * gives [encryption] its keys), loaded with dlopen; fails the test when
 * the folder cannot be read or a plugin not loaded. */
void keys_load_tables(void);

/* Forget what keys_load_tables found (the plugins stay loaded). */
void keys_free_tables(void);

/* The tables found, and the one of `section` (NULL when no plugin has it). */
size_t keys_ntables(void);
const struct keys_table *keys_table(size_t i);
const struct keys_table *keys_find_table(const char *section);

/* Load `text` (`name` in messages), registering the table of each plugin
 * section it has, as oma does.  Returns 0, or -1 with err set. */
int keys_load(const char *name, const char *text, struct oma_config *cfg, char *err, size_t errlen);

/* The core's keys and every table's, with their defaults: the effective
 * values of a file with backup_dir = `backup_dir`, all the sections and
 * nothing else set.  Fails the test when that does not load. */
void keys_known(struct oma_config *cfg, const char *backup_dir);

/* Whether the default of section.key is no constant (backup_dir: none,
 * parallelism: the number of CPUs), so that the example and the man page
 * say it in words. */
bool keys_is_worded(const char *section, const char *key);

/* The text form of section.key = `value` (a TOML value) as cfg_get gives
 * it, in a file whose backup_dir is `backup_dir` (malloc'ed); NULL with err
 * set when that does not load. */
char *keys_value_of(const char *section, const char *key, const char *value, const char *backup_dir,
                    char *err, size_t errlen);

#endif
