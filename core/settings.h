/* settings.h - the keys oma knows: its own ([main], [conditions]) and those its plugins declare.
 *
 * shim.c reads the file into values; this module holds the tables that
 * say which keys a section has, of what type, with what default and
 * range, checks the file's values against them, and keeps each known
 * key's effective value (the default filled in) for cfg_get and for
 * --print-config (cfgprint.c).  The core's own table covers [main] and
 * [conditions]; a plugin adds the one of its section with
 * cfg_register_settings (config.h) when it is loaded.  Internal to the
 * configuration modules: callers outside them use config.h.
 */
#ifndef OMA_SETTINGS_H
#define OMA_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

struct oma_config;
struct cfg_value;

/* Whether `section` is one of the core's own ([main], [conditions]). */
bool settings_is_core_section(const char *section);

/* The i-th section with a table of keys (the core's first, then the
 * registered ones in the order they came), or NULL past the last. */
const char *settings_section(const struct oma_config *cfg, size_t i);

/* Whether `section` has a table of keys (the core's or a plugin's). */
bool settings_has_table(const struct oma_config *cfg, const char *section);

/* What the known key section.key holds, as a message says it ("an
 * integer", "a string" ...), or NULL when it is not a known key. */
const char *settings_kind(const struct oma_config *cfg, const char *section, const char *key);

/* Check the file's values of the core's sections ([main], [conditions])
 * and of its top level against the core's table and store them in the
 * typed structs; unknown keys become warnings.  Returns 0, or -1 with err
 * naming the file, line and key. */
int settings_apply_core(struct oma_config *cfg, char *err, size_t errlen);

/* Make the effective values (cfg_get) again from the typed structs and the
 * registered tables. */
void settings_rebuild(struct oma_config *cfg);

/* Every known key's effective value, made now from the typed structs and
 * the file (core keys first, in print order); *n gets the count.  Free
 * with settings_free_values(). */
struct cfg_value *settings_effective(const struct oma_config *cfg, size_t *n);

/* Free an array of n values (their strings too). */
void settings_free_values(struct cfg_value *vals, size_t n);

/* Free what the module keeps in cfg (registered tables, effective values). */
void settings_free(struct oma_config *cfg);

/* The value the file sets for section.key, or NULL. */
const struct cfg_value *settings_file_value(const struct oma_config *cfg, const char *section,
                                            const char *key);

/* One-line error "config FILE[:LINE]: [section] key: message" in err
 * (LINE where the file sets the key); returns -1. */
int settings_key_error(const struct oma_config *cfg, char *err, size_t errlen, const char *section,
                       const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
