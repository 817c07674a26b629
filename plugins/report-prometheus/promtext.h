/* promtext.h - the Prometheus text exposition of a run's result, and reading back our own file (report-prometheus). */
#ifndef OMA_PROMTEXT_H
#define OMA_PROMTEXT_H

#include <stddef.h>

#include <oma/plugin.h>

#include "common/buf.h"

/* The metric whose value a failed run carries over from the previous file. */
#define PM_LAST_SUCCESS "oma_last_success_timestamp_seconds"

/* A label put on every series ([prometheus] labels). */
struct pm_label {
	const char *name, *value;
};

/* What the file says besides the report itself. */
struct pm_run {
	double start, end;   /* Unix time of the run's start and end */
	double duration;     /* seconds, measured on the monotonic clock */
	double last_success; /* Unix time of the last run that exited 0; 0: none known */
	const struct pm_label *labels;
	size_t nlabels;
};

/* Append `value` to b as the inside of a label value: backslash, double
 * quote and newline escaped as \\ \" \n, every byte that is not part of
 * valid UTF-8 as U+FFFD, the rest as it is.  Returns 0, or -1 as
 * cm_buf_add. */
int pm_label_value(struct cm_buf *b, const char *value);

/* Append the whole file for report r to b: HELP and TYPE of each metric,
 * the run's series, then each database's (sorted by name; a database whose
 * escaped name equals an earlier one's is left out and counted in
 * *dropped).  Returns 0, or -1 with err set when out of memory. */
int pm_format(struct cm_buf *b, const struct oma_report *r, const struct pm_run *run,
              size_t *dropped, char *err, size_t errlen);

/* Whether `line` (without its newline) is the PM_LAST_SUCCESS sample of a
 * file we wrote, with any labels: sets *value and returns 0 when it is and
 * its value is a finite number >= 0; -1 otherwise. */
int pm_parse_last_success(const char *line, double *value);

/* The check of one element of [prometheus] labels: "NAME=VALUE" with NAME
 * a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*), not reserved ("__"
 * prefix, database, outcome), and VALUE not empty and without a newline.
 * Returns 0, or -1 with the reason in err. */
int pm_label_check(const char *spec, char *err, size_t errlen);

#endif
