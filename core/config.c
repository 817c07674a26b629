/* config.c - the typed, validated configuration: the file read (toml.c), split by inih (shim.c), checked (settings.c). */
#include "config.h"
#include "common/errbuf.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_internal.h"
#include "log.h"
#include "settings.h"
#include "shim.h"
#include "toml.h"

struct cfg_section *cfg_find_section(const struct oma_config *cfg, const char *name)
{
	const struct cfg_data *d = cfg->data;
	for (size_t i = 0; d != NULL && i < d->nsections; i++)
		if (strcmp(d->sections[i].name, name) == 0)
			return &d->sections[i];
	return NULL;
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
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

/* The checks that span keys or need the system.  Returns 0 or -1. */
static int validate(struct oma_config *cfg, char *err, size_t errlen)
{
	const struct cfg_main *m = &cfg->main;
	if (cfg_find_section(cfg, "main") == NULL) {
		cm_errf(err, errlen, "config %s: [main] table missing", cfg->path);
		return -1;
	}
	if (m->backup_dir == NULL)
		return settings_key_error(cfg, err, errlen, "main", "backup_dir",
		                          "missing (mandatory key)");
	if (m->parallelism == 0)
		return settings_key_error(cfg, err, errlen, "main", "parallelism", "must not be 0");
	if (m->mysqldump_bin[0] == '\0')
		return settings_key_error(cfg, err, errlen, "main", "mysqldump_bin",
		                          "must not be empty");
	if (m->mysql_bin[0] == '\0')
		return settings_key_error(cfg, err, errlen, "main", "mysql_bin",
		                          "must not be empty");
	if (!valid_plugin_name(m->compression))
		return settings_key_error(cfg, err, errlen, "main", "compression",
		                          "must be a plugin name made of [a-z0-9_-], not \"%s\"",
		                          m->compression);
	if (m->exclude_databases.n > 0 && m->do_databases.n > 0) {
		const struct cfg_value *ex = settings_file_value(cfg, "main", "exclude_databases");
		const struct cfg_value *dd = settings_file_value(cfg, "main", "do_databases");
		const char *later = ex != NULL && dd != NULL && ex->line > dd->line
		                            ? "exclude_databases"
		                            : "do_databases";
		const char *other = strcmp(later, "do_databases") == 0 ? "exclude_databases"
		                                                       : "do_databases";
		return settings_key_error(cfg, err, errlen, "main", later,
		                          "cannot be used together with %s", other);
	}
	if (m->delete_before && m->skip_unchanged_dbs && m->versions < 2)
		return settings_key_error(
		        cfg, err, errlen, "main", "delete_before",
		        "delete_before = true with skip_unchanged_dbs = true needs "
		        "versions >= 2 (versions = %ld)",
		        m->versions);
	struct stat st;
	if (stat(m->backup_dir, &st) != 0)
		return settings_key_error(cfg, err, errlen, "main", "backup_dir", "'%s': %s",
		                          m->backup_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return settings_key_error(cfg, err, errlen, "main", "backup_dir",
		                          "'%s' is not a directory", m->backup_dir);
	return 0;
}

/* Read, split, decode, type and validate `len` bytes of TOML text named `name`.
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
		cm_errf(err, errlen, "config %s", terr);
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
		cm_errf(err, errlen, "config %s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	buf_append(&buf, &len, &cap, "", 0);
	for (;;) {
		char chunk[8192];
		size_t n = fread(chunk, 1, sizeof(chunk), f);
		buf_append(&buf, &len, &cap, chunk, n);
		if (len > CFG_MAX_BYTES) {
			/* -c /dev/zero must not eat the machine's memory. */
			cm_errf(err, errlen,
			        "config %s: larger than %d KiB, which no oma configuration is",
			        path, CFG_MAX_BYTES / 1024);
			goto out;
		}
		if (n < sizeof(chunk))
			break;
	}
	if (ferror(f)) {
		cm_errf(err, errlen, "config %s: cannot read: %s", path, strerror(errno));
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
