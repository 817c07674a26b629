/* zabbix.h - what the zabbix plugin's files share: logging through the host and deadlines; private to the plugin. */
#ifndef OMA_ZABBIX_ZABBIX_H
#define OMA_ZABBIX_ZABBIX_H

/* Log one line through the host table of init() (nothing before init or
 * after fini). */
void zbx_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Milliseconds left until `deadline` (cm_now_s() seconds; 0 when passed),
 * at most `cap_ms`. */
int zbx_ms_left(double deadline, int cap_ms);

#endif
