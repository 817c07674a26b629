/* report.h - the run's result: summary line, result.json, and the reporter plugins. */
#ifndef OMA_REPORT_H
#define OMA_REPORT_H

#include <stdbool.h>

#include <oma/plugin.h>

#include "config.h"
#include "loader.h"

/* The summary line of a finished run (docs/BEHAVIOUR.md "Zabbix report"), malloc'ed. */
char *report_summary(const struct oma_report *r);

/* The result as JSON, as result.json holds it: malloc'ed, NUL-terminated,
 * its length in *len unless len is NULL.  Never fails (out of memory
 * aborts). */
char *report_json(const struct oma_report *r, size_t *len);

/* Write report_json(r) to `path` (temp file + rename).  Returns 0, or -1
 * with err set. */
int report_write_json(const struct oma_report *r, const char *path, char *err, size_t errlen);

/* Hand the result to every enabled reporter plugin in `ld` (they were
 * initialised before the run), with its result_json filled in (what
 * report_write_json writes for `r`), each in a child process stopped after
 * `timeout` seconds, so a crashing or hanging reporter cannot harm the
 * backup.  A run cancelled before still reports; a signal during the
 * reporting stops the reporter at hand and skips the rest.  Failures are
 * logged as errors.  Returns the number of reporters that failed. */
int report_send(struct loader *ld, const struct oma_report *r, int timeout);

#endif
