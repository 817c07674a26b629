/* proc.h - start a client program with its output on pipes. */
#ifndef OMA_PROC_H
#define OMA_PROC_H

#include <sys/types.h>

/* Start argv[0] (PATH lookup, no shell) with argv, stdin from /dev/null,
 * stdout and stderr on the pipe ends out_w and err_w, default handling for
 * SIGPIPE, SIGINT, SIGTERM, SIGHUP and SIGQUIT and an empty signal mask.
 * With own_pgroup nonzero the child gets a process group of its own (so a
 * terminal's Ctrl-C reaches only oma, which then stops it).  The pipe ends
 * should be close-on-exec; the caller closes its copies.
 * Returns 0 with *pid set, or an errno value. */
int proc_spawn(char *const argv[], int out_w, int err_w, int own_pgroup, pid_t *pid);

#endif
