/* digest.h - SHA-256 of dump files (libcrypto), as lower-case hex. */
#ifndef OMA_DIGEST_H
#define OMA_DIGEST_H

#include <stddef.h>

#define DIGEST_HEX_LEN 64

/* A running SHA-256 (opaque). */
struct digest;

/* Start a digest.  Returns NULL when libcrypto cannot (no memory). */
struct digest *digest_new(void);

/* Add `len` bytes.  Cannot fail. */
void digest_update(struct digest *d, const void *buf, size_t len);

/* Finish: the digest of everything added, in out (DIGEST_HEX_LEN hex digits
 * and a NUL).  Afterwards only digest_free() may be called. */
void digest_hex(struct digest *d, char out[DIGEST_HEX_LEN + 1]);

void digest_free(struct digest *d);

/* The SHA-256 of the file open at fd, read from offset 0 to its end with
 * pread (the fd's offset is not moved).  Returns 0, or -1 with errno set. */
int digest_fd(int fd, char out[DIGEST_HEX_LEN + 1]);

/* The same for the file at `path` (symbolic links followed).  Returns 0, or
 * -1 with err naming the path and the reason. */
int digest_path(const char *path, char out[DIGEST_HEX_LEN + 1], char *err, size_t errlen);

#endif
