/* outcome.h - reading a run's result: whether it counts as failed (core and reporter plugins). */
#ifndef OMA_COMMON_OUTCOME_H
#define OMA_COMMON_OUTCOME_H

#include <stdbool.h>

#include <oma/plugin.h>

/* Whether the run failed as its summary line's "Error=1" says: it was not
 * skipped by a skip condition, and it did not succeed, a database failed
 * or oma exits with other than 0. */
bool cm_run_failed(const struct oma_report *r);

#endif
