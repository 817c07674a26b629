/* config.h - the typed, validated configuration (TOML file read through inih). */
#ifndef OMA_CONFIG_H
#define OMA_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "util.h"

enum cfg_link_type { CFG_LINK_HARD = 0, CFG_LINK_SYMBOLIC = 1 };

struct cfg_main {
	char *backup_dir;
	long versions;           /* default 1 */
	bool delete_before;      /* default false */
	bool skip_unchanged_dbs; /* default false */
	int link_type;           /* enum cfg_link_type, default hard */
	long parallelism;        /* as configured; default = CPUs (set by cfg_load) */
	char *mysqldump_bin;     /* default "mysqldump" */
	char *mysql_bin;         /* default "mysql" */
	struct strv exclude_databases;
	struct strv do_databases;
	struct strv mysqldump_options;
	int log_level;           /* enum oma_log_level, default info */
	long lock_port;          /* default 45678 */
	char *compression;       /* compressor plugin name, default "gzip" */
	long compression_level;  /* -1 = the compressor's default */
	char *plugin_dir;        /* NULL = built-in search (see plugin loader) */
	long server_timeout;     /* seconds a query to the server may take, 0 = no
	                            * limit; default 60 */
	long dump_stall_timeout; /* seconds a mysqldump may write nothing before it is
	                            * stopped, 0 = never; default 3600 */
	long report_timeout;     /* seconds each reporter may take; default 120 */
};

struct cfg_conditions {
	struct strv skip, run, terminate;
	long skip_timeout, run_timeout, terminate_timeout; /* seconds, 0 = none */
};

/* What the file holds beyond the typed structs, and the tables of keys
 * (config_internal.h; only the configuration modules look inside). */
struct cfg_data;

struct oma_config {
	char *path;
	struct cfg_main main;
	struct cfg_conditions cond;
	/* Non-fatal findings (unknown keys ...), one line each, to be logged. */
	struct strv warnings;
	struct cfg_data *data;
};

/* The largest configuration file read: 1 MiB. */
#define CFG_MAX_BYTES (1024 * 1024)

/* Read, decode and validate the TOML file `path` into *cfg (defaults filled
 * in); a file over CFG_MAX_BYTES is refused.  On failure returns -1 with a one-line message in err naming the
 * file, the line where known, and the key; *cfg is then freed. */
int cfg_load(const char *path, struct oma_config *cfg, char *err, size_t errlen);

void cfg_free(struct oma_config *cfg);

/* Effective parallelism: configured value, negative = cpus + value, >= 1. */
int cfg_parallelism(const struct oma_config *cfg, int cpus);

/* The text form of section.key (see oma_host.config_get) or NULL.  For the
 * known keys (the core's, and those of sections a plugin registered) this
 * is the effective value (the default when the file does not set it);
 * other keys come from the file as written.  A key below the section's
 * top is named by its dotted path ("sub.key"); the top level of the file
 * is section "". */
const char *cfg_get(const struct oma_config *cfg, const char *section, const char *key);

struct oma_setting;

/* A plugin's table of the keys of its [section] (plugin.h, struct
 * oma_setting, ended by an entry with key NULL): checks the file's values
 * of that section against it (type, range, choices; unknown keys become
 * warnings) and makes their effective values.  A section has one table.
 * Returns 0, or -1 with a one-line err naming the file, line and key (or
 * the table's own mistake). */
int cfg_register_settings(struct oma_config *cfg, const char *section,
                          const struct oma_setting *table, char *err, size_t errlen);

/* The table of [encryption]: the core's key `method` (which encrypt
 * plugin; default "age") followed by the keys of the encrypt plugin's
 * table (NULL: none), registered as cfg_register_settings does. */
int cfg_register_encryption(struct oma_config *cfg, const struct oma_setting *plugin_table,
                            char *err, size_t errlen);

/* Whether the plugin of [section] is to run: `enabled = false` turns it
 * off; a registered OMA_SETTING_SWITCH key turns it on only when set to
 * something other than "" or false; otherwise the section's presence. */
bool cfg_section_enabled(const struct oma_config *cfg, const char *section);

/* Whether the file has a [section] table at all. */
bool cfg_has_section(const struct oma_config *cfg, const char *section);

/* The name of the i-th top-level table of the file (in order of first
 * appearance), or NULL when it has no more. */
const char *cfg_section_name(const struct oma_config *cfg, size_t i);

/* Print the effective configuration as one JSON object
 * {"main":{...},"conditions":{...}, registered sections..., other
 * sections...} with TOML types kept, followed by a newline.  The core's
 * sections are printed from the typed structs as they are at the call (so
 * a caller may fill in compression_level first), registered ones with
 * their defaults filled in; other sections as in the file,
 * [[name]] as an array of objects, keys below a section by dotted path,
 * floats and date-times as strings.  Returns 0 or -1 on a write error. */
int cfg_print_json(const struct oma_config *cfg, FILE *out);

#endif
