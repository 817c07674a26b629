/* conditions.h - skip, run and terminate conditions (docs/BEHAVIOUR.md "One run, phase by phase", 3 and 11). */
#ifndef OMA_CONDITIONS_H
#define OMA_CONDITIONS_H

#include <oma/plugin.h>

#include "config.h"

/* Run the skip conditions in order.  Returns 1 when one of them exited 0
 * (the backup is skipped), 0 otherwise. */
int cond_skip(const struct oma_condition_ops *ops, const struct cfg_conditions *c);

/* Run the run conditions in order, stopping at the first failure.
 * Returns 0 when all exited 0, -1 otherwise. */
int cond_run(const struct oma_condition_ops *ops, const struct cfg_conditions *c);

/* Run every terminate condition (each even if an earlier one failed) with
 * OMA_CURRENT_DIR=current_dir.  Returns 0 when all exited 0, -1 otherwise. */
int cond_terminate(const struct oma_condition_ops *ops, const struct cfg_conditions *c,
                   const char *current_dir);

#endif
