/* runner.h - one backup run, phase by phase (docs/BEHAVIOUR.md "One run, phase by phase"). */
#ifndef OMA_RUNNER_H
#define OMA_RUNNER_H

#include <oma/plugin.h>

#include "config.h"
#include "loader.h"

/* Exit codes (docs/BEHAVIOUR.md "Exit codes"). */
enum {
	OMA_EXIT_OK = 0,
	OMA_EXIT_CONFIG = 1, /* invalid configuration, or a run condition failed */
	OMA_EXIT_NO_SPACE = 2,
	OMA_EXIT_LOCKED = 3,
	OMA_EXIT_FAILED =
	        4, /* a dump, terminate condition or reporter failed; server unreachable */
};

struct run_plugins {
	const struct oma_compress_ops *comp;
	const char *comp_name;
	/* Runs the [conditions] commands; NULL when none are configured. */
	const struct oma_condition_ops *cond;
	/* Reporter plugins (initialised when enabled) and their time limit. */
	struct loader *ld;
	int report_timeout;
	/* The encryption stage ([encryption]); NULL: dumps are not encrypted. */
	const struct oma_encrypt_ops *enc;
	const char *enc_name;
};

/* Run the backup described by `cfg` (validated, lock held, plugins
 * initialised) and return the process exit code. */
int runner_run(const struct oma_config *cfg, const struct run_plugins *pl);

/* --dry-run: every check of runner_run that changes nothing - server
 * facts, selection, space estimate, the change check and which databases
 * would be dumped or reused and why, which folders would be pruned -
 * logged to stdout (log format, the configured level) instead of a
 * folder's oma.log.  Nothing is created, changed or removed in the backup
 * folder, no mysqldump starts, no condition, reporter or off-site store
 * runs.  Returns the exit code a real run would give for what can be known
 * beforehand (2 no space, 4 server unreachable, else 0). */
int runner_dry_run(const struct oma_config *cfg, const struct run_plugins *pl);

/* Ask a running backup to stop because of signal `sig` (async-signal-safe):
 * every child is stopped, the run ends at its next phase with "Backup
 * cancelled by signal N" and exit code 4; the reporters still report. */
void runner_cancel(int sig);

/* The signal that cancelled the run, 0 when none did. */
int runner_cancelled(void);

#endif
