/* proc_internal.h - the parts of core/proc.c that only its tests call. */
#ifndef OMA_PROC_INTERNAL_H
#define OMA_PROC_INTERNAL_H

#include "proc.h"

/* The exit code of a result as a shell reports it: the status, 128 + the
 * signal when one killed it, -1 when there is none. */
int proc_exit_code(const struct proc_result *r);

/* oma's environment with `add` ("K=V" entries; NULL: none) put in,
 * replacing variables of the same name (the last of repeated names wins).
 * Only the array is allocated.  Returns NULL when an entry has no '='. */
char **proc_env_with(const char *const *add);

#endif
