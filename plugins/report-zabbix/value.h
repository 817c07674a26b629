/* value.h - the zabbix plugin's item value: the summary line and the log, cut to fit; private to the plugin. */
#ifndef OMA_ZABBIX_VALUE_H
#define OMA_ZABBIX_VALUE_H

#include <stddef.h>

#include <oma/plugin.h>

#include "common/buf.h"

/* The value for report `r` into out (emptied first): the summary line and
 * as much of the log as fits (see value.c); reads at most what can be sent
 * of the log.  An unreadable log is noted in the value (and logged).
 * Returns 0, or -1 with err set when out of memory. */
int value_for(const struct oma_report *r, struct cm_buf *out, char *err, size_t errlen);

#endif
