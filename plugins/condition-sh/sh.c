/* sh.c - condition plugin "sh": runs a command with /bin/sh -c through the core's child runner. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oma/plugin.h>

#include "common/errbuf.h"

/*
 * What upstream did: subprocess.run(['/bin/sh', '-c', command],
 * capture_output=True, timeout=...).  The core's oma_host.run does the
 * running (the same code that runs mysqldump), so, on purpose unlike
 * upstream:
 *
 * - The shell leads its own process group, and a timeout stops the whole
 *   group (upstream killed only /bin/sh; its children ran on), as does a
 *   SIGTERM/SIGINT/SIGHUP to oma.  Processes that leave the group (setsid,
 *   `set -m` job control) are out of reach.
 * - At most SH_KEEP_MAX bytes of each stream are kept; the rest is still
 *   read (so the command never blocks on a full pipe) and dropped.
 * - The command is done when the shell has exited and both pipes reached
 *   EOF, or two seconds after the shell exited while a background process
 *   still holds a pipe (upstream waited for ever without a timeout).
 * - The child gets stdin from /dev/null, no descriptor above 2, an empty
 *   signal mask and default signal handling.
 *
 * Like upstream, a timeout gives exit code 1 and the stderr text "Command
 * timed out after N seconds".
 */

#define SH_PATH              "/bin/sh"
#define SH_KEEP_MAX          (1024 * 1024) /* bytes kept per stream */
#define SH_TIMEOUT_EXIT_CODE 1             /* upstream's exit code for a timeout */

static const struct oma_host *sh_host;

/* Needs a core that runs commands for its plugins (oma 0.2). */
static int sh_init(const struct oma_host *host, char *err, size_t errlen)
{
	if (host == NULL || host->size < offsetof(struct oma_host, run) + sizeof(host->run) ||
	    host->run == NULL) {
		cm_errf(err, errlen,
		        "condition sh: this oma core cannot run commands for plugins "
		        "(oma_host.run missing: core older than 0.2)");
		return -1;
	}
	sh_host = host;
	return 0;
}

static void sh_fini(void)
{
	sh_host = NULL;
}

/* Run `command` under /bin/sh (see the comment at the top).  Returns 0 when
 * it ran, whatever its exit code; -1 with err set when it could not be
 * started. */
static int sh_run(const char *command, int timeout, const char *const *env,
                  struct oma_condition_result *res, char *err, size_t errlen)
{
	res->exit_code = -1;
	res->timed_out = 0;
	res->out = res->errout = NULL;
	if (command == NULL) {
		cm_errf(err, errlen, "condition sh: no command");
		return -1;
	}
	if (sh_host == NULL) {
		cm_errf(err, errlen, "condition sh: not initialised");
		return -1;
	}
	char *const argv[] = {SH_PATH, "-c", (char *)command, NULL};
	struct oma_run r = {.size = sizeof(r),
	                    .argv = argv,
	                    .env = env,
	                    .timeout = timeout,
	                    .keep = SH_KEEP_MAX};
	char why[256] = "";
	if (sh_host->run(&r, why, sizeof(why)) != 0) {
		cm_errf(err, errlen, "condition sh: %s", why);
		return -1;
	}
	res->out = r.out;
	if (r.timed_out) {
		free(r.errout);
		res->timed_out = 1;
		res->exit_code = SH_TIMEOUT_EXIT_CODE;
		size_t n = 64;
		res->errout = malloc(n);
		if (res->errout != NULL)
			(void)snprintf(res->errout, n, "Command timed out after %d seconds",
			               timeout);
	} else {
		res->exit_code = r.exit_code;
		res->errout = r.errout;
	}
	if (res->out == NULL || res->errout == NULL) {
		cm_errf(err, errlen, "condition sh: out of memory capturing '%.200s'", command);
		free(res->out);
		free(res->errout);
		res->out = res->errout = NULL;
		res->exit_code = -1;
		res->timed_out = 0;
		return -1;
	}
	return 0;
}

static void sh_result_free(struct oma_condition_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->errout);
	res->out = res->errout = NULL;
}

static const struct oma_condition_ops sh_ops = {
        .run = sh_run,
        .result_free = sh_result_free,
};

OMA_PLUGIN_DEFINE(.type = OMA_PLUGIN_CONDITION, .name = "sh", .version = "2.0 (/bin/sh -c)",
                  .init = sh_init, .fini = sh_fini, .condition = &sh_ops);
