/* setting.c - reading a plugin's settings through the host's config access (plugins). */
#include "common/setting.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "common/errbuf.h"

const char *cm_setting(const struct oma_host *host, const char *section, const char *key)
{
	if (host == NULL || host->config_get == NULL)
		return NULL;
	return host->config_get(section, key);
}

int cm_setting_int(const struct oma_host *host, const char *section, const char *key, int *out,
                   char *err, size_t errlen)
{
	const char *s = cm_setting(host, section, key);
	char *end = NULL;
	errno = 0;
	long v = s != NULL ? strtol(s, &end, 10) : 0;
	if (s == NULL || s[0] == '\0' || errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX) {
		cm_errf(err, errlen, "[%s] %s: not an integer: '%s'", section, key,
		        s != NULL ? s : "(unset)");
		return -1;
	}
	*out = (int)v;
	return 0;
}
