/* config_internal.h - the configuration's internals, shared by config.c, shim.c, settings.c and cfgprint.c, and read by the unit tests. */
#ifndef OMA_CONFIG_INTERNAL_H
#define OMA_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "util.h"

/* A decoded TOML value as the shim saw it. */
enum cfg_type { CFG_STRING, CFG_INT, CFG_BOOL, CFG_ARRAY, CFG_FLOAT, CFG_OTHER };

struct cfg_value {
	char *section; /* table name, e.g. "main" */
	char *key;
	int line; /* physical line where the key starts */
	enum cfg_type type;
	char *str;       /* CFG_STRING; for every type also a text form (see plugin.h config_get) */
	long long num;   /* CFG_INT, CFG_BOOL (0/1) */
	struct strv arr; /* CFG_ARRAY: each element's text form */
	bool arr_all_strings; /* CFG_ARRAY: every element is a string (true when empty) */
	int index;            /* element of [[section]] the key belongs to, or -1 */
};

/* A table of the file: [name], [name.sub...], or [[name]] elements. */
struct cfg_section {
	char *name;
	int line;  /* where it first appears */
	int elems; /* number of [[name]] elements; 0 for a plain table */
};

struct cfg_data {
	/* Every key of the file, in file order, for plugins' own sections. */
	struct cfg_value *values;
	size_t nvalues;
	/* Top-level tables of the file, in order of first appearance. */
	struct cfg_section *sections;
	size_t nsections;
	/* The known keys (the core's [main] and [conditions], and those of the
	 * sections plugins registered) with their effective values (defaults
	 * filled in), for cfg_get.  An unset plugin_dir has type CFG_OTHER,
	 * str NULL. */
	struct cfg_value *effective;
	size_t neffective;
	/* The plugins' tables of keys (settings.c). */
	struct cfg_registry *registry;
};

/* The table `name` of the file, or NULL. */
struct cfg_section *cfg_find_section(const struct oma_config *cfg, const char *name);

/* Same as cfg_load, from a string (the unit tests and the fuzz target);
 * `name` is used in messages. */
int cfg_load_string(const char *name, const char *text, struct oma_config *cfg, char *err,
                    size_t errlen);

#endif
