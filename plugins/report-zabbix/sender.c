/* sender.c - the zabbix plugin's transport "sender": running zabbix_sender through the core. */
#include "sender.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "zabbix.h"

#define ZBX_OUTPUT_KEEP 16384 /* bytes of zabbix_sender's stdout/stderr kept */

int sender_found(const char *name)
{
	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0;
	const char *path = getenv("PATH");
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		char full[PATH_MAX];
		int k = snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? path : ".", name);
		struct stat st;
		if (k > 0 && (size_t)k < sizeof(full) && stat(full, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			return 1;
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

/* Log captured output line by line at debug level. */
static void log_output(const char *bin, const char *what, const char *text)
{
	const char *p = text;
	while (p != NULL && *p) {
		size_t n = strcspn(p, "\r\n");
		if (n > 0)
			zbx_log(OMA_LOG_DEBUG, "Zabbix: %s %s: %.*s", bin, what, (int)n, p);
		p += n;
		while (*p == '\r' || *p == '\n')
			p++;
	}
}

int sender_run(const struct oma_host *host, const struct sender *s, const char *value, int timeout,
               char *err, size_t errlen)
{
	char *argv[] = {(char *)s->bin, "-c", (char *)s->conf, "-k",
	                (char *)s->key, "-o", (char *)value,   NULL};
	struct oma_run r = {.size = sizeof(r),
	                    .argv = argv,
	                    .timeout = timeout,
	                    .keep = ZBX_OUTPUT_KEEP};
	char why[256] = "";
	if (host->run(&r, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "cannot be run: %s", why);
		return -1;
	}
	log_output(s->bin, "stdout", r.out);
	log_output(s->bin, "stderr", r.errout);
	int rc = -1;
	if (r.timed_out) {
		cm_errf(err, errlen, "did not finish within %d seconds, stopped", timeout);
	} else if (r.cancelled) {
		cm_errf(err, errlen, "stopped: oma was told to stop");
	} else if (r.exit_code > 128) {
		cm_errf(err, errlen, "died of signal %d", r.exit_code - 128);
	} else {
		rc = r.exit_code;
		switch (rc) {
		case 0:
			cm_errf(err, errlen, "value sent");
			break;
		case 1:
			cm_errf(err, errlen,
			        "exit code 1: the value was not sent (its output is logged at debug level)");
			break;
		case 2:
			cm_errf(err, errlen,
			        "exit code 2: value(s) rejected by the server (check the item key / host / item type)");
			break;
		default:
			cm_errf(err, errlen, "exit code %d", rc);
			break;
		}
	}
	free(r.out);
	free(r.errout);
	return rc;
}
