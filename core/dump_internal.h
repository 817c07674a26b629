/* dump_internal.h - the parts of core/dump.c that only its tests call. */
#ifndef OMA_DUMP_INTERNAL_H
#define OMA_DUMP_INTERNAL_H

#include <stddef.h>

/* Whether `tail` (the last bytes of a dump) ends with a completion line:
 * its last non-empty line matches
 * ^-- Dump completed on \d{4}-\d{2}-\d{2}\s+\d+:\d{2}:\d{2}  */
int dump_completed(const char *tail, size_t len);

#endif
