/* fuzz_config.c - fuzz target: oma.conf text through cfg_load (TOML reader, inih and the shim, validation) and what the core reads back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "config.h"
#include "config_internal.h"
#include "fuzz.h"
#include "log.h"
#include "shim.h"
#include "toml.h"
#include "util.h"

/* What the core does with a loaded configuration: look keys up, print it. */
static void use_config(const struct oma_config *cfg)
{
	static FILE *devnull;
	if (devnull == NULL)
		devnull = fopen("/dev/null", "we");
	const struct cfg_data *d = cfg->data;
	for (size_t i = 0; i < d->nvalues; i++)
		(void)cfg_get(cfg, d->values[i].section, d->values[i].key);
	for (size_t i = 0; cfg_section_name(cfg, i) != NULL; i++)
		(void)cfg_has_section(cfg, cfg_section_name(cfg, i));
	(void)cfg_get(cfg, "main", "backup_dir");
	(void)cfg_get(cfg, "zabbix", "transport");
	(void)cfg_parallelism(cfg, 4);
	if (devnull != NULL)
		(void)cfg_print_json(cfg, devnull);
}

/* The key of logical line l as the configuration names it (its section
 * apart); the caller frees. */
static char *line_key(const struct toml_line *l)
{
	if (l->npath == 1)
		return xstrdup(l->path[0].name);
	return toml_path_join(l->path + 1, l->npath - 1);
}

/* The split itself: every key of the text must come back through libinih
 * as toml.c wrote it (its value decoded straight from the logical line
 * equal to the one inih handed back, on the same line, under the same
 * key), and the shim may refuse nothing but a table where a known key
 * belongs.  Aborts otherwise. */
static void check_split(const uint8_t *data, size_t size)
{
	struct toml_doc doc;
	char err[1024];
	if (toml_parse("fuzz.conf", (const char *)data, size, &doc, err, sizeof(err)) != 0)
		return;
	struct oma_config c = {0};
	c.path = xstrdup("fuzz.conf");
	c.data = xcalloc(1, sizeof(*c.data));
	int rc = shim_run(&doc, &c, err, sizeof(err));
	if (rc != 0 && strstr(err, ", got a table") == NULL) {
		(void)fprintf(stderr, "fuzz_config: the shim refused a file toml.c read: %s\n",
		              err);
		abort();
	}
	size_t k = 0;
	for (size_t i = 0; rc == 0 && i < doc.n; i++) {
		const struct toml_line *l = &doc.lines[i];
		if (l->kind != TOML_LINE_KEY)
			continue;
		struct toml_value v;
		if (k >= c.data->nvalues ||
		    toml_decode_value("fuzz.conf", l->line, l->value, strlen(l->value), &v, err,
		                      sizeof(err)) != 0)
			abort();
		const struct cfg_value *got = &c.data->values[k++];
		char *key = line_key(l);
		bool same = strcmp(got->str, v.text) == 0 && got->line == l->line &&
		            got->num == v.num && strcmp(got->key, key) == 0 &&
		            got->arr.n == v.arr.n;
		free(key);
		toml_value_free(&v);
		if (!same) {
			(void)fprintf(stderr,
			              "fuzz_config: line %d came back from libinih changed\n",
			              l->line);
			abort();
		}
	}
	if (rc == 0 && k != c.data->nvalues)
		abort();
	toml_doc_free(&doc);
	cfg_free(&c);
}

/* A text with a NUL byte cannot be given to cfg_load_string: it goes
 * through a file and cfg_load, as a file holding one would.  Returns
 * cfg_load's result, or -1 when the file cannot be written. */
static int load_via_file(const uint8_t *data, size_t size, struct oma_config *cfg, char *err,
                         size_t errlen)
{
	char path[] = "/tmp/oma-fuzz-config-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	int rc = cm_write_all(fd, data, size);
	(void)close(fd);
	if (rc == 0)
		rc = cfg_load(path, cfg, err, errlen);
	(void)unlink(path);
	return rc;
}

int fuzz_config(const uint8_t *data, size_t size)
{
	log_set_level(OMA_LOG_ERROR + 10);
	log_set_stderr_level(OMA_LOG_ERROR + 10);
	struct oma_config cfg;
	char err[1024];
	int rc;
	check_split(data, size);
	if (memchr(data, '\0', size) != NULL) {
		rc = load_via_file(data, size, &cfg, err, sizeof(err));
	} else {
		char *text = xstrndup((const char *)data, size);
		rc = cfg_load_string("fuzz.conf", text, &cfg, err, sizeof(err));
		free(text);
	}
	if (rc == 0) {
		use_config(&cfg);
		cfg_free(&cfg);
	}
	return 0;
}

FUZZ_MAIN(fuzz_config)
