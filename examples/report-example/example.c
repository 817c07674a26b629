/* example.c - a small oma reporter plugin: appends each run's summary line to a file. */
/*
 * Enable it in oma.conf with
 *
 *     [example]
 *     file = "/var/log/oma-summary.log"
 *     # enabled = false     switches it off while keeping the section
 *
 * Each run then appends one line, e.g.
 *
 *     2024-01-31T02:00:07Z Summary: Successfully dumped 3 of 3 databases. Skipped 0, Failed 0. Error=0
 *
 * Its one key is declared in example_settings below: oma then checks the
 * section for it (a `file` that is not a string, or a key it does not know,
 * is pointed out before anything runs) and --print-config shows it.
 *
 * Build and install: see the Makefile beside this file and docs/PLUGINS.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <oma/plugin.h>

/* Set by init(); valid until fini(). */
static const struct oma_host *host;
static char *out_path;

/* The keys of [example]: oma checks the section against them before init()
 * runs.  `file` has no default: init() insists on it (a table cannot say
 * "mandatory"). */
static const struct oma_setting example_settings[] = {
        {.key = "file",
         .type = OMA_SETTING_STRING,
         .help = "the file each run's summary line is appended to (mandatory)"},
        {.key = NULL},
};

/* Read [example] file.  Fails when it is missing or empty: then oma refuses
 * to start ("Invalid configuration: ... init of 'example' failed: ..."). */
static int example_init(const struct oma_host *h, char *err, size_t errlen)
{
	const char *file = h->config_get("example", "file");
	if (file == NULL || file[0] == '\0') {
		snprintf(err, errlen, "[example] file is not set");
		return -1;
	}
	out_path = strdup(file);
	if (out_path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	host = h;
	return 0;
}

static void example_fini(void)
{
	free(out_path);
	out_path = NULL;
	host = NULL;
}

/* Write all of `len` bytes of `buf` to `fd`.  Returns 0, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Append "TIME SUMMARY\n" to the file.  Fails when the file cannot be opened
 * or written; the reason ends up in oma.log. */
static int example_report(const struct oma_report *r, char *err, size_t errlen)
{
	/* The report may come from an older core with a shorter struct: check
	 * that the members used here are inside what it handed over. */
	if (r->size < offsetof(struct oma_report, summary) + sizeof(r->summary) ||
	    r->summary == NULL) {
		snprintf(err, errlen, "the core sent no summary line");
		return -1;
	}

	char stamp[32] = "";
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm) != NULL)
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

	/* One write() of the whole line, so concurrent runs never mix lines. */
	size_t len = strlen(stamp) + 1 + strlen(r->summary) + 1;
	char *line = malloc(len + 1);
	if (line == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(line, len + 1, "%s %s\n", stamp, r->summary);

	int rc = -1;
	int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", out_path, strerror(errno));
		goto out;
	}
	if (write_all(fd, line, len) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(errno));
		goto out;
	}
	fd = -1;
	/* Mention each failed database in oma.log (debug level). */
	for (size_t i = 0; i < r->ndbs; i++) {
		/* OMA_REPORT_DB: the record size is the core's, not this build's. */
		const struct oma_db_result *d = OMA_REPORT_DB(r, i);
		if (d->outcome == OMA_DB_FAILED)
			host->log(OMA_LOG_DEBUG, "example: database '%s' failed: %s", d->name,
			          d->error != NULL ? d->error : "unknown error");
	}
	host->log(OMA_LOG_DEBUG, "example: summary appended to %s", out_path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	return rc;
}

static const struct oma_report_ops example_ops = {
        .report = example_report,
};

/* The one exported symbol.  The name is also the config section. */
OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_REPORT, .name = "example", .version = "1.0",
                  .init = example_init, .fini = example_fini, .report = &example_ops,
                  .settings = example_settings);
