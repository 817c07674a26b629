/* progress.h - the live status line on a terminal while the dumps run. */
#ifndef OMA_PROGRESS_H
#define OMA_PROGRESS_H

#include <stddef.h>

#include "dump.h"

struct progress;

/* When stderr is a terminal (and $TERM is not "dumb"): a thread that
 * rewrites one status line on stderr twice a second - databases done of
 * `total` (`reused` of them done before the dumps start), bytes written,
 * the rate, the databases being dumped - from jobs[0..njobs) as dump_run
 * updates them.  Log lines written to stderr meanwhile clear the line
 * first.  Nothing goes to oma.log.  Returns NULL when stderr is no
 * terminal (cron, a pipe) or the thread cannot start. */
struct progress *progress_start(const struct dump_job *jobs, size_t njobs, size_t reused,
                                size_t total);

/* Stop the thread and clear the line (NULL: nothing). */
void progress_stop(struct progress *p);

#endif
