/* errbuf.c - formatting a failure's one-line reason into the caller's error buffer (core and plugins). */
#include "common/errbuf.h"

#include <stdarg.h>
#include <stdio.h>

void cm_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
