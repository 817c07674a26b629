/* zerr.h - the zabbix plugin's error-buffer helper, shared by its source files. */
#ifndef OMA_ZABBIX_ZERR_H
#define OMA_ZABBIX_ZERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Format a message into err (errlen bytes; nothing when err is NULL or
 * errlen is 0).  Truncation is silent. */
static inline void zerr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void zerr(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#endif
