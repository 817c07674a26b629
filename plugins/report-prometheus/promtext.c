/* promtext.c - the Prometheus text exposition of a run's result, and reading back our own file (report-prometheus). */
#include "promtext.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errbuf.h"
#include "common/utf8.h"

/*
 * The format is Prometheus' text exposition format 0.0.4, as node_exporter's
 * textfile collector reads it: every metric a gauge with HELP and TYPE
 * lines, no time stamps (the collector refuses them), label values quoted
 * with \\ \" \n escaped.  Names carry their unit (_seconds, _bytes,
 * _timestamp_seconds).  Run-wide series first, then each database's.
 */

static const char *const run_outcomes[] = {"success", "skipped", "aborted", "no_space", "failed"};
static const char *const db_outcomes[] = {"dumped", "reused", "skipped", "failed"};

int pm_label_value(struct cm_buf *b, const char *value)
{
	const char *p = value;
	while (*p != '\0') {
		size_t run = strcspn(p, "\\\"\n");
		/* copy what needs no escape, checking that it is UTF-8 */
		for (size_t i = 0; i < run;) {
			size_t n = cm_utf8_len(p + i);
			if (n == 0) {
				(void)cm_buf_add(b, p, i);
				(void)cm_buf_str(b, "\xef\xbf\xbd");
				p += i + 1;
				run -= i + 1;
				i = 0;
				continue;
			}
			i += n;
		}
		(void)cm_buf_add(b, p, run);
		p += run;
		if (*p == '\\')
			(void)cm_buf_str(b, "\\\\");
		else if (*p == '"')
			(void)cm_buf_str(b, "\\\"");
		else if (*p == '\n')
			(void)cm_buf_str(b, "\\n");
		if (*p != '\0')
			p++;
	}
	return b->failed ? -1 : 0;
}

/* HELP and TYPE of metric `name`. */
static void family(struct cm_buf *b, const char *name, const char *help)
{
	(void)cm_buf_fmt(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* One sample: name{extra labels, k1="v1", k2="v2"} value; k1 and k2 may be
 * NULL (v1 is escaped, v2 is one of our own words). */
static void sample(struct cm_buf *b, const struct pm_run *run, const char *name, const char *k1,
                   const char *v1, const char *k2, const char *v2, const char *value)
{
	(void)cm_buf_str(b, name);
	bool any = run->nlabels > 0 || k1 != NULL || k2 != NULL;
	const char *sep = "{";
	for (size_t i = 0; i < run->nlabels; i++) {
		(void)cm_buf_fmt(b, "%s%s=\"", sep, run->labels[i].name);
		(void)pm_label_value(b, run->labels[i].value);
		(void)cm_buf_str(b, "\"");
		sep = ",";
	}
	if (k1 != NULL) {
		(void)cm_buf_fmt(b, "%s%s=\"%s\"", sep, k1, v1); /* v1 escaped by the caller */
		sep = ",";
	}
	if (k2 != NULL)
		(void)cm_buf_fmt(b, "%s%s=\"%s\"", sep, k2, v2);
	(void)cm_buf_fmt(b, "%s %s\n", any ? "}" : "", value);
}

static void sample_u64(struct cm_buf *b, const struct pm_run *run, const char *name, const char *k1,
                       const char *v1, const char *k2, const char *v2, uint64_t v)
{
	char num[32];
	(void)snprintf(num, sizeof(num), "%" PRIu64, v);
	sample(b, run, name, k1, v1, k2, v2, num);
}

/* Seconds and time stamps: milliseconds are enough; never negative. */
static void sample_s(struct cm_buf *b, const struct pm_run *run, const char *name, const char *k1,
                     const char *v1, double v)
{
	char num[48];
	(void)snprintf(num, sizeof(num), "%.3f", isfinite(v) && v > 0 ? v : 0.0);
	sample(b, run, name, k1, v1, NULL, NULL, num);
}

/* A database with its name as an escaped label value. */
struct pm_db {
	char *label;
	const struct oma_db_result *d;
};

static int by_label(const void *a, const void *b)
{
	return strcmp(((const struct pm_db *)a)->label, ((const struct pm_db *)b)->label);
}

/* The databases of r sorted by escaped name, duplicates (names that differ
 * only in bytes that are not UTF-8) left out and counted.  Sets *out (free
 * each label and the array) and *n.  Returns 0, or -1 when out of memory. */
static int sorted_dbs(const struct oma_report *r, struct pm_db **out, size_t *n, size_t *dropped)
{
	*out = NULL;
	*n = 0;
	*dropped = 0;
	if (r->ndbs == 0 || r->dbs == NULL)
		return 0;
	struct pm_db *v = calloc(r->ndbs, sizeof(*v));
	if (v == NULL)
		return -1;
	for (size_t i = 0; i < r->ndbs; i++) {
		const struct oma_db_result *d = OMA_REPORT_DB(r, i);
		struct cm_buf lb = {0};
		(void)pm_label_value(&lb, d->name != NULL ? d->name : "");
		(void)cm_buf_add(&lb, "", 0);
		if (lb.failed) {
			cm_buf_free(&lb);
			for (size_t j = 0; j < i; j++)
				free(v[j].label);
			free(v);
			return -1;
		}
		v[i] = (struct pm_db){.label = lb.p, .d = d};
	}
	qsort(v, r->ndbs, sizeof(*v), by_label);
	size_t k = 0;
	for (size_t i = 0; i < r->ndbs; i++) {
		if (k > 0 && strcmp(v[k - 1].label, v[i].label) == 0) {
			free(v[i].label);
			(*dropped)++;
			continue;
		}
		v[k++] = v[i];
	}
	*out = v;
	*n = k;
	return 0;
}

/* The series of the run as a whole. */
static void run_series(struct cm_buf *b, const struct oma_report *r, const struct pm_run *run)
{
	family(b, "oma_last_run_start_timestamp_seconds",
	       "When the last oma run started (Unix time).");
	sample_s(b, run, "oma_last_run_start_timestamp_seconds", NULL, NULL, run->start);
	family(b, "oma_last_run_end_timestamp_seconds",
	       "When the last oma run ended, before its reports (Unix time).");
	sample_s(b, run, "oma_last_run_end_timestamp_seconds", NULL, NULL, run->end);
	family(b, "oma_last_run_duration_seconds", "How long the last oma run took.");
	sample_s(b, run, "oma_last_run_duration_seconds", NULL, NULL, run->duration);
	family(b, PM_LAST_SUCCESS,
	       "When the last oma run that exited with 0 ended (Unix time); 0: none known.");
	sample_s(b, run, PM_LAST_SUCCESS, NULL, NULL, run->last_success);

	family(b, "oma_last_run_outcome",
	       "1 for the outcome of the last oma run, 0 for the others.");
	for (size_t i = 0; i < sizeof(run_outcomes) / sizeof(run_outcomes[0]); i++) {
		/* an outcome this build does not know counts as failed, as the
		 * core's own names do */
		int o = r->outcome >= 0 && r->outcome <= OMA_OUTCOME_FAILED ? r->outcome
		                                                            : OMA_OUTCOME_FAILED;
		sample_u64(b, run, "oma_last_run_outcome", "outcome", run_outcomes[i], NULL, NULL,
		           (size_t)o == i);
	}
	family(b, "oma_last_run_exit_code",
	       "What the last oma run exited with, before its reports (0: success).");
	char code[16];
	(void)snprintf(code, sizeof(code), "%d", r->exit_code);
	sample(b, run, "oma_last_run_exit_code", NULL, NULL, NULL, NULL, code);

	family(b, "oma_last_run_databases", "Databases of the last oma run by outcome.");
	const unsigned counts[] = {r->dumped, r->reused, r->skipped, r->failed};
	for (size_t i = 0; i < 4; i++)
		sample_u64(b, run, "oma_last_run_databases", "outcome", db_outcomes[i], NULL, NULL,
		           counts[i]);

	uint64_t written = 0, kept = 0;
	for (size_t i = 0; i < r->ndbs && r->dbs != NULL; i++) {
		const struct oma_db_result *d = OMA_REPORT_DB(r, i);
		if (d->outcome == OMA_DB_DUMPED)
			written += d->bytes;
		if (d->outcome == OMA_DB_DUMPED || d->outcome == OMA_DB_REUSED)
			kept += d->bytes;
	}
	family(b, "oma_last_run_written_bytes", "Bytes of the dump files the last oma run wrote.");
	sample_u64(b, run, "oma_last_run_written_bytes", NULL, NULL, NULL, NULL, written);
	family(b, "oma_last_run_dump_bytes",
	       "Bytes of the last oma run's dump files, reused ones included.");
	sample_u64(b, run, "oma_last_run_dump_bytes", NULL, NULL, NULL, NULL, kept);
}

/* Each database's series, one family after the other. */
static void db_series(struct cm_buf *b, const struct pm_run *run, const struct pm_db *v, size_t n)
{
	family(b, "oma_database_dump_bytes",
	       "Size of the database's dump file in the last oma run (0 unless dumped or reused).");
	for (size_t i = 0; i < n; i++)
		sample_u64(b, run, "oma_database_dump_bytes", "database", v[i].label, NULL, NULL,
		           v[i].d->bytes);
	family(b, "oma_database_dump_duration_seconds",
	       "How long the database's dump took in the last oma run.");
	for (size_t i = 0; i < n; i++)
		sample_s(b, run, "oma_database_dump_duration_seconds", "database", v[i].label,
		         v[i].d->seconds);
	family(b, "oma_database_outcome",
	       "1 for the outcome of the database in the last oma run, 0 for the others.");
	for (size_t i = 0; i < n; i++) {
		int o = v[i].d->outcome >= 0 && v[i].d->outcome <= OMA_DB_FAILED ? v[i].d->outcome
		                                                                 : OMA_DB_FAILED;
		for (size_t k = 0; k < sizeof(db_outcomes) / sizeof(db_outcomes[0]); k++)
			sample_u64(b, run, "oma_database_outcome", "database", v[i].label,
			           "outcome", db_outcomes[k], (size_t)o == k);
	}
}

int pm_format(struct cm_buf *b, const struct oma_report *r, const struct pm_run *run,
              size_t *dropped, char *err, size_t errlen)
{
	struct pm_db *v = NULL;
	size_t n = 0;
	if (sorted_dbs(r, &v, &n, dropped) != 0) {
		cm_errf(err, errlen, "prometheus: out of memory");
		return -1;
	}
	(void)cm_buf_str(b, "# The result of the last oma run, written by oma's report-prometheus "
	                    "after every run.\n");
	run_series(b, r, run);
	if (n > 0)
		db_series(b, run, v, n);
	for (size_t i = 0; i < n; i++)
		free(v[i].label);
	free(v);
	if (b->failed) {
		cm_errf(err, errlen, "prometheus: out of memory");
		return -1;
	}
	return 0;
}

int pm_parse_last_success(const char *line, double *value)
{
	size_t len = strlen(PM_LAST_SUCCESS);
	if (strncmp(line, PM_LAST_SUCCESS, len) != 0)
		return -1;
	const char *p = line + len;
	if (*p == '{') {
		/* skip the labels: quoted values with backslash escapes */
		bool quoted = false;
		for (p++; *p != '\0' && (quoted || *p != '}'); p++) {
			if (quoted && *p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				quoted = !quoted;
		}
		if (*p != '}')
			return -1;
		p++;
	}
	if (*p != ' ')
		return -1;
	while (*p == ' ')
		p++;
	/* a plain decimal: no sign, NaN, Inf or hex */
	if (*p < '0' || *p > '9' || p[strspn(p, "0123456789.eE+-")] != '\0')
		return -1;
	char *end = NULL;
	double v = strtod(p, &end);
	if (end == p || *end != '\0' || !isfinite(v) || v < 0)
		return -1;
	*value = v;
	return 0;
}

static bool label_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

int pm_label_check(const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	if (eq == NULL || eq == spec) {
		cm_errf(err, errlen, "'%.80s' is not NAME=VALUE", spec);
		return -1;
	}
	size_t n = (size_t)(eq - spec);
	bool ok = label_start(spec[0]);
	for (size_t i = 1; ok && i < n; i++)
		ok = label_start(spec[i]) || (spec[i] >= '0' && spec[i] <= '9');
	if (!ok) {
		cm_errf(err, errlen, "'%.*s' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)",
		        (int)(n > 80 ? 80 : n), spec);
		return -1;
	}
	if ((n >= 2 && spec[0] == '_' && spec[1] == '_') ||
	    (n == 8 && strncmp(spec, "database", 8) == 0) ||
	    (n == 7 && strncmp(spec, "outcome", 7) == 0)) {
		cm_errf(err, errlen, "label name '%.*s' is reserved", (int)n, spec);
		return -1;
	}
	if (eq[1] == '\0') {
		cm_errf(err, errlen, "label '%.*s' has an empty value (the same as no label)",
		        (int)(n > 80 ? 80 : n), spec);
		return -1;
	}
	if (strchr(eq + 1, '\n') != NULL) {
		cm_errf(err, errlen, "the value of label '%.*s' holds a newline",
		        (int)(n > 80 ? 80 : n), spec);
		return -1;
	}
	return 0;
}
