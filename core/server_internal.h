/* server_internal.h - the server functions only tests and fuzz targets call. */
#ifndef OMA_SERVER_INTERNAL_H
#define OMA_SERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* Decode `len` bytes of the facts query's output (mysql -N -B, as
 * server_get_facts reads it) into *f.  Returns 0, or -1 with err set and *f
 * empty. */
int server_decode_facts(const char *out, size_t len, struct server_facts *f, char *err,
                        size_t errlen);

/* The folder for a name the server already encoded with its "filename"
 * character set: the server appends "@@@" to Windows device names (CON,
 * PRN, AUX, NUL, COM1-9, LPT1-9, any case), which CONVERT(... USING
 * filename) does not.  Returns a malloc'ed string. */
char *server_folder_name(const char *encoded);

/* Whether `name` is a system schema that is never dumped. */
int server_is_system_db(const char *name);

/* server_datadir_usage without folders: the bytes used below datadir. */
int server_datadir_bytes(const char *datadir, uint64_t *bytes, char *err, size_t errlen);

#endif
