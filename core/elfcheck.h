/* elfcheck.h - whether an open file is an ELF shared object that dlopen() can load without crashing. */
#ifndef OMA_ELFCHECK_H
#define OMA_ELFCHECK_H

#include <stddef.h>
#include <sys/types.h>

/* Whether the open file `fd` of `size` bytes is a complete ELF shared
 * object for this machine whose dynamic section dlopen() can follow:
 * dlopen maps it, and a file cut short (a truncated copy, a full disk)
 * makes the process die of SIGBUS there instead of failing, one
 * zero-filled past some point of SIGSEGV (entries, string, symbol and
 * hash tables must lie inside the loaded part of the file, a hash table
 * must have buckets).  Only reads with pread(): the file offset stays.
 * Returns 0, or -1 with a short reason in why ("not an ELF file",
 * "damaged ELF file (...)"). */
int elfcheck_file(int fd, off_t size, char *why, size_t whylen);

#endif
