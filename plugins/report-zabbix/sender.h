/* sender.h - the zabbix plugin's transport "sender": running zabbix_sender through the core; private to the plugin. */
#ifndef OMA_ZABBIX_SENDER_H
#define OMA_ZABBIX_SENDER_H

#include <stddef.h>

#include <oma/plugin.h>

/* What zabbix_sender is run with: `bin -c conf -k key -o VALUE`. */
struct sender {
	const char *bin;  /* a path, or a name looked up in PATH */
	const char *conf; /* the agent's configuration file */
	const char *key;  /* the trapper item */
};

/* Whether `name` is an executable file (a path, or found in PATH). */
int sender_found(const char *name);

/* Run the sender once with `value`, through host->run (so a timeout or a
 * SIGTERM to oma stops it and everything it started), its output logged
 * at debug level.  Returns its exit code (err saying what it means), or
 * -1 with err set when it could not be started, was stopped (after
 * `timeout` seconds, or because oma was told to stop) or died of a
 * signal. */
int sender_run(const struct oma_host *host, const struct sender *s, const char *value, int timeout,
               char *err, size_t errlen);

#endif
