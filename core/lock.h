/* lock.h - single-instance lock: a listening socket bound to 127.0.0.1:lock_port. */
#ifndef OMA_LOCK_H
#define OMA_LOCK_H

#include <stddef.h>

/* Bind 127.0.0.1:port (as upstream does) and keep the socket open for the
 * life of the process.  Returns the socket fd, -2 when the port is in use
 * (another instance runs), -1 on any other error (err set). */
int lock_acquire(long port, char *err, size_t errlen);

#endif
