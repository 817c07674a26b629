/* fuzz_config.c - fuzz target: oma.conf text through cfg_load (TOML reader, inih and the shim, validation) and what the core reads back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_internal.h"
#include "fuzz.h"
#include "log.h"
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
	int rc = write_all(fd, data, size);
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
