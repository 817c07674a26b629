/* shim.h - the TOML reader's logical lines through libinih into the configuration's values and tables. */
#ifndef OMA_SHIM_H
#define OMA_SHIM_H

#include <stddef.h>

struct oma_config;
struct toml_doc;

/* Feed the logical lines of `doc` (toml_parse) to libinih, decode the
 * sections, keys and values it hands back, and record them in cfg's
 * values and tables; a table where a known key belongs ([main.versions])
 * is a type error.  Returns 0, or -1 with a one-line err naming the file
 * and line. */
int shim_run(const struct toml_doc *doc, struct oma_config *cfg, char *err, size_t errlen);

#endif
