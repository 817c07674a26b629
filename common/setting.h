/* setting.h - reading a plugin's settings through the host's config access (plugins). */
#ifndef OMA_COMMON_SETTING_H
#define OMA_COMMON_SETTING_H

#include <stddef.h>

#include <oma/plugin.h>

/* The value of `key` in [section] as host->config_get gives it (for a
 * plugin with a table of keys: checked by the core, its default filled
 * in), or NULL when the key has none or there is no host or config access. */
const char *cm_setting(const struct oma_host *host, const char *section, const char *key);

/* The integer value of `key` in [section] (the core checked its type and
 * range against the plugin's table).  Returns 0, or -1 with err set to
 * "[section] key: not an integer: 'VALUE'" ("(unset)" for no value), which
 * only a host that does not check the table lets happen. */
int cm_setting_int(const struct oma_host *host, const char *section, const char *key, int *out,
                   char *err, size_t errlen);

#endif
