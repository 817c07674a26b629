/* conditions.c - skip, run and terminate conditions (docs/BEHAVIOUR.md "One run, phase by phase", 3 and 11). */
#include "conditions.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Drop the trailing newlines. */
static const char *chomp(char *s)
{
	if (s == NULL)
		return "";
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Log a command's output one line at a time, each as "WHAT: LINE" (or
 * "WHAT: 'LINE'" with `quoted`), so that every line of the log stays one
 * message with its time stamp. */
static void log_output(int level, const char *what, const char *text, int quoted)
{
	const char *p = text;
	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		size_t m = n;
		if (m > 0 && p[m - 1] == '\r')
			m--;
		log_msg(level, quoted ? "%s: '%.*s'" : "%s: %.*s", what, (int)m, p);
		p = nl != NULL ? nl + 1 : NULL;
	}
}

/* Run one condition command.  Returns its exit code (1 when it could not be
 * started or timed out, like upstream); *res holds its output. */
static int run_one(const struct oma_condition_ops *ops, const char *cmd, long timeout,
                   const char *const *env, struct oma_condition_result *res)
{
	char err[512];
	memset(res, 0, sizeof(*res));
	if (ops->run(cmd, (int)timeout, env, res, err, sizeof(err)) != 0) {
		log_error("Failed to execute command '%s': %s", cmd, err);
		ops->result_free(res);
		memset(res, 0, sizeof(*res));
		res->exit_code = 1;
		return 1;
	}
	if (res->timed_out)
		log_error("Command timed out after %ld seconds: '%s'", timeout, cmd);
	return res->exit_code;
}

int cond_skip(const struct oma_condition_ops *ops, const struct cfg_conditions *c)
{
	if (c->skip.n == 0)
		return 0;
	log_info("Checking skip conditions...");
	for (size_t i = 0; i < c->skip.n; i++) {
		struct oma_condition_result res;
		int code = run_one(ops, c->skip.v[i], c->skip_timeout, NULL, &res);
		const char *out = chomp(res.out), *errout = chomp(res.errout);
		if (code == 0) {
			log_info("Skip condition met: '%s' (exit code: 0)", c->skip.v[i]);
			log_output(OMA_LOG_DEBUG, "Skip condition stdout", out, 1);
			log_output(OMA_LOG_INFO, "Skip condition stderr", errout, 1);
			ops->result_free(&res);
			return 1;
		}
		log_debug("Skip condition not met: '%s' (exit code: %d)", c->skip.v[i], code);
		log_output(OMA_LOG_DEBUG, "Skip condition stdout", out, 1);
		log_output(OMA_LOG_INFO, "Skip condition stderr", errout, 1);
		ops->result_free(&res);
	}
	log_info("No skip conditions met, proceeding with backup");
	return 0;
}

int cond_run(const struct oma_condition_ops *ops, const struct cfg_conditions *c)
{
	if (c->run.n == 0)
		return 0;
	for (size_t i = 0; i < c->run.n; i++) {
		struct oma_condition_result res;
		int code = run_one(ops, c->run.v[i], c->run_timeout, NULL, &res);
		const char *out = chomp(res.out), *errout = chomp(res.errout);
		if (code != 0) {
			log_error("Run condition failed: '%s' (exit code: %d)", c->run.v[i], code);
			log_output(OMA_LOG_ERROR, "Run condition stderr", errout, 0);
			ops->result_free(&res);
			return -1;
		}
		log_debug("Run condition passed: '%s' (exit code: 0)", c->run.v[i]);
		log_output(OMA_LOG_DEBUG, "Run condition stdout", out, 0);
		log_output(OMA_LOG_INFO, "Run condition stderr", errout, 0);
		ops->result_free(&res);
	}
	log_info("All run conditions met");
	return 0;
}

int cond_terminate(const struct oma_condition_ops *ops, const struct cfg_conditions *c,
                   const char *current_dir)
{
	if (c->terminate.n == 0)
		return 0;
	char *var = xasprintf("OMA_CURRENT_DIR=%s", current_dir);
	size_t n = strlen(var);
	while (n > strlen("OMA_CURRENT_DIR=") + 1 && var[n - 1] == '/')
		var[--n] = '\0';
	const char *const env[] = {var, NULL};
	int failed = 0;
	for (size_t i = 0; i < c->terminate.n; i++) {
		struct oma_condition_result res;
		int code = run_one(ops, c->terminate.v[i], c->terminate_timeout, env, &res);
		const char *out = chomp(res.out), *errout = chomp(res.errout);
		if (code != 0) {
			log_error("Terminate condition failed: '%s' (exit code: %d)",
			          c->terminate.v[i], code);
			log_output(OMA_LOG_ERROR, "Terminate condition stderr", errout, 0);
			failed = 1;
		} else {
			log_info("Terminate condition succeeded: '%s'", c->terminate.v[i]);
			log_output(OMA_LOG_DEBUG, "Terminate condition stdout", out, 0);
			log_output(OMA_LOG_INFO, "Terminate condition stderr", errout, 0);
		}
		ops->result_free(&res);
	}
	free(var);
	if (failed) {
		log_error("One or more terminate conditions failed");
		return -1;
	}
	log_info("All terminate conditions succeeded");
	return 0;
}
