/* prometheus.c - report plugin "prometheus": the run's result as a node_exporter textfile, replaced atomically. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <oma/plugin.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/errbuf.h"
#include "common/io.h"
#include "common/outcome.h"
#include "common/setting.h"
#include "promtext.h"

/*
 * Settings ([prometheus]), declared in prometheus_settings below:
 *   path    the file node_exporter's textfile collector reads (mandatory;
 *           absolute, its name ending in .prom, its folder existing)
 *   labels  "NAME=VALUE", or an array of them: labels on every series (to
 *           tell apart two oma configurations of one host)
 * The section switches the reporter on; `enabled = false` off.
 *
 * Per run the whole file is written anew (promtext.c says what it holds)
 * as a temporary file ".NAME.XXXXXX" in the same folder (not *.prom, so
 * the collector never reads it half-written), synced, given mode 0644,
 * renamed over `path`, and the folder synced.  A failure leaves the old file
 * as it was, removes the temporary one and fails the report (exit code 4).
 *
 * The start of the run is when init() ran (oma starts its plugins right
 * before the run); its end is when report() runs.  The last success
 * time stamp of a run that did not exit with 0 is the one the previous
 * file at `path` holds: one that is missing or damaged means none (0).
 */

#define PM_NAME_MAX 200                 /* bytes of the file's name */
#define PM_READ_MAX (64u * 1024 * 1024) /* bytes of the previous file looked at */
#define PM_SECTION  "prometheus"

static int path_check(const char *value, char *err, size_t errlen);
static int labels_check(const char *value, char *err, size_t errlen);

static const struct oma_setting prometheus_settings[] = {
        {.key = "path",
         .type = OMA_SETTING_STRING,
         .help = "the file node_exporter's textfile collector reads, e.g. "
                 "/var/lib/prometheus/node-exporter/oma.prom (mandatory)",
         .check = path_check},
        {.key = "labels",
         .type = OMA_SETTING_STRINGS,
         .help = "\"NAME=VALUE\", or an array of them: labels put on every series",
         .check = labels_check},
        {.key = NULL},
};

static struct {
	const struct oma_host *host;
	char *path, *dir, *name; /* path = dir + "/" + name */
	char *label_text;        /* the labels setting, split in place */
	struct pm_label *labels;
	size_t nlabels;
	double start, start_mono;
} P;

/* ---- settings ------------------------------------------------------------ */

/* `value` as [prometheus] path: absolute, not a folder, a file name that
 * node_exporter reads (*.prom) and that leaves room for the temporary
 * name.  Returns 0, or -1 with the reason. */
static int path_check(const char *value, char *err, size_t errlen)
{
	size_t len = strlen(value);
	if (value[0] != '/') {
		cm_errf(err, errlen, "'%.200s' is not an absolute path", value);
		return -1;
	}
	if (len >= PATH_MAX - 16) {
		cm_errf(err, errlen, "the path is too long (%zu bytes)", len);
		return -1;
	}
	const char *name = strrchr(value, '/') + 1;
	size_t nlen = strlen(name);
	if (nlen <= 5 || strcmp(name + nlen - 5, ".prom") != 0 || strcmp(name, "..prom") == 0) {
		cm_errf(err, errlen,
		        "'%.200s': the file's name must end in .prom (node_exporter reads only "
		        "*.prom files)",
		        value);
		return -1;
	}
	if (nlen > PM_NAME_MAX) {
		cm_errf(err, errlen, "the file's name is too long (%zu bytes, at most %d)", nlen,
		        PM_NAME_MAX);
		return -1;
	}
	return 0;
}

static int labels_check(const char *value, char *err, size_t errlen)
{
	return pm_label_check(value, err, errlen);
}

static void pm_fini(void)
{
	free(P.path);
	free(P.dir);
	free(P.name);
	free(P.label_text);
	free(P.labels);
	memset(&P, 0, sizeof(P));
}

/* Split the labels setting (elements joined by '\n', each checked by
 * labels_check) into P.labels.  Returns 0, or -1 with err set. */
static int read_labels(const char *text, char *err, size_t errlen)
{
	if (text == NULL || text[0] == '\0')
		return 0;
	P.label_text = strdup(text);
	size_t n = 1;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	P.labels = calloc(n, sizeof(*P.labels));
	if (P.label_text == NULL || P.labels == NULL) {
		cm_errf(err, errlen, "[prometheus] labels: out of memory");
		return -1;
	}
	char *save = NULL;
	for (char *s = strtok_r(P.label_text, "\n", &save); s != NULL;
	     s = strtok_r(NULL, "\n", &save)) {
		char why[256];
		if (pm_label_check(s, why, sizeof(why)) != 0) {
			cm_errf(err, errlen, "[prometheus] labels: %s", why);
			return -1;
		}
		char *eq = strchr(s, '=');
		*eq = '\0';
		for (size_t i = 0; i < P.nlabels; i++) {
			if (strcmp(P.labels[i].name, s) == 0) {
				cm_errf(err, errlen, "[prometheus] labels: label '%s' is set twice",
				        s);
				return -1;
			}
		}
		P.labels[P.nlabels++] = (struct pm_label){.name = s, .value = eq + 1};
	}
	return 0;
}

/* Read [prometheus], check the path's folder (it exists, oma may write
 * there) and what is at the path, and note the run's start.  Fails with
 * the key and the reason. */
static int pm_init(const struct oma_host *host, char *err, size_t errlen)
{
	pm_fini();
	P.host = host;
	const char *path = cm_setting(host, PM_SECTION, "path");
	if (path == NULL || path[0] == '\0') {
		cm_errf(err, errlen,
		        "[prometheus] path is not set (the .prom file of node_exporter's textfile "
		        "collector, e.g. /var/lib/prometheus/node-exporter/oma.prom)");
		return -1;
	}
	char why[256];
	if (path_check(path, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "[prometheus] path: %s", why);
		return -1;
	}
	const char *slash = strrchr(path, '/');
	P.path = strdup(path);
	P.dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	P.name = strdup(slash + 1);
	if (P.path == NULL || P.dir == NULL || P.name == NULL) {
		cm_errf(err, errlen, "[prometheus] path: out of memory");
		return -1;
	}
	struct stat st;
	if (stat(P.dir, &st) != 0) {
		cm_errf(err, errlen, "[prometheus] path: the folder %s: %s", P.dir,
		        strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cm_errf(err, errlen, "[prometheus] path: %s is not a folder", P.dir);
		return -1;
	}
	if (access(P.dir, W_OK | X_OK) != 0) {
		cm_errf(err, errlen, "[prometheus] path: cannot write to the folder %s: %s", P.dir,
		        strerror(errno));
		return -1;
	}
	if (stat(P.path, &st) == 0 && !S_ISREG(st.st_mode)) {
		cm_errf(err, errlen, "[prometheus] path: %s is not a regular file", P.path);
		return -1;
	}
	if (read_labels(cm_setting(host, PM_SECTION, "labels"), err, errlen) != 0)
		return -1;
	struct timespec now;
	(void)clock_gettime(CLOCK_REALTIME, &now);
	P.start = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	P.start_mono = cm_now_s();
	return 0;
}

/* ---- the previous file ---------------------------------------------------- */

/* The last success time stamp the file at P.path holds: 0 when there is
 * none, the file is missing or damaged (a warning in the log for anything
 * but a missing file).  Never fails. */
static double previous_success(void)
{
	FILE *f = fopen(P.path, "re");
	if (f == NULL) {
		if (errno != ENOENT)
			P.host->log(
			        OMA_LOG_WARNING,
			        "prometheus: cannot read the previous %s (%s): no earlier success "
			        "carried over",
			        P.path, strerror(errno));
		return 0;
	}
	char *line = NULL;
	size_t cap = 0, seen = 0;
	double v = 0;
	bool found = false;
	while (!found && seen < PM_READ_MAX) {
		ssize_t n = getline(&line, &cap, f);
		if (n <= 0)
			break;
		seen += (size_t)n;
		/* a last line without its newline may be cut short */
		if (line[n - 1] != '\n')
			break;
		line[n - 1] = '\0';
		found = pm_parse_last_success(line, &v) == 0;
	}
	free(line);
	fclose(f);
	if (!found)
		P.host->log(OMA_LOG_WARNING,
		            "prometheus: the previous %s holds no valid %s: no earlier success "
		            "carried over",
		            P.path, PM_LAST_SUCCESS);
	return found ? v : 0;
}

/* ---- writing -------------------------------------------------------------- */

/* Write len bytes of text to P.path through a temporary file in its
 * folder: synced, mode 0644, renamed over the path, the folder synced.
 * Returns 0, or -1 with err set (the temporary file removed). */
static int write_atomically(const char *text, size_t len, char *err, size_t errlen)
{
	int rc = -1, fd = -1;
	char *tmp = NULL;
	if (asprintf(&tmp, "%s/.%s.XXXXXX", strcmp(P.dir, "/") == 0 ? "" : P.dir, P.name) < 0) {
		cm_errf(err, errlen, "prometheus: out of memory");
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		cm_errf(err, errlen, "prometheus: cannot create a temporary file in %s: %s", P.dir,
		        strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0644) != 0 || cm_write_all(fd, text, len) != 0 || fsync(fd) != 0) {
		cm_errf(err, errlen, "prometheus: cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	int c = close(fd);
	fd = -1;
	if (c != 0) {
		cm_errf(err, errlen, "prometheus: cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, P.path) != 0) {
		cm_errf(err, errlen, "prometheus: cannot rename %s to %s: %s", tmp, P.path,
		        strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL; /* in place: nothing to remove from here on */
	int dfd = open(P.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		cm_errf(err, errlen, "prometheus: cannot sync the folder %s: %s", P.dir,
		        strerror(errno));
		if (dfd >= 0)
			close(dfd);
		goto out;
	}
	close(dfd);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		(void)unlink(tmp);
		free(tmp);
	}
	return rc;
}

/* Write the file for report r.  Returns 0, or -1 with err set (out of
 * memory, the file could not be written). */
static int pm_report(const struct oma_report *r, char *err, size_t errlen)
{
	/* Everything up to db_size (oma 0.1's whole struct); nothing added later. */
	if (r == NULL || r->size < offsetof(struct oma_report, db_size) + sizeof(r->db_size)) {
		cm_errf(err, errlen, "prometheus: report structure too old (size %u)",
		        r ? r->size : 0);
		return -1;
	}
	struct timespec now;
	(void)clock_gettime(CLOCK_REALTIME, &now);
	struct pm_run run = {
	        .start = P.start,
	        .end = (double)now.tv_sec + (double)now.tv_nsec / 1e9,
	        .duration = cm_now_s() - P.start_mono,
	        .labels = P.labels,
	        .nlabels = P.nlabels,
	};
	run.last_success = cm_run_failed(r) ? previous_success() : run.end;
	struct cm_buf b = {0};
	size_t dropped = 0;
	int rc = pm_format(&b, r, &run, &dropped, err, errlen);
	if (rc == 0 && dropped > 0)
		P.host->log(OMA_LOG_WARNING,
		            "prometheus: %zu databases left out: their names differ from others' "
		            "only in bytes that are not UTF-8",
		            dropped);
	if (rc == 0)
		rc = write_atomically(b.p, b.len, err, errlen);
	if (rc == 0)
		P.host->log(OMA_LOG_DEBUG, "prometheus: wrote %s (%zu bytes)", P.path, b.len);
	cm_buf_free(&b);
	return rc;
}

static const struct oma_report_ops ops = {.report = pm_report};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_REPORT, .name = "prometheus", .version = "1.0",
                  .init = pm_init, .fini = pm_fini, .report = &ops,
                  .settings = prometheus_settings);
