/* report.c - the run's result: summary line, result.json, and the reporter plugins. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

bool report_enabled(const struct oma_config *cfg, const char *name)
{
	if (strcmp(name, "zabbix") == 0)
		return cfg->zabbix.item_key != NULL && cfg->zabbix.item_key[0] != '\0';
	if (!cfg_has_section(cfg, name))
		return false;
	const char *en = cfg_get(cfg, name, "enabled");
	return en == NULL || strcmp(en, "false") != 0;
}

char *report_summary(const struct oma_report *r)
{
	if (r->outcome == OMA_OUTCOME_SKIPPED)
		return xstrdup("Summary: Successfully skipped all databases due to skip_conditions. Error=0");
	if (r->outcome == OMA_OUTCOME_ABORTED)
		return xstrdup("Summary: All databases were skipped due to faulty run_conditions. Error=1");
	int error = r->outcome != OMA_OUTCOME_SUCCESS || r->failed > 0 || r->exit_code != 0;
	return xasprintf("Summary: Successfully dumped %u of %u databases. Skipped %u, Failed %u. Error=%d",
	                 r->dumped + r->reused, r->total, r->skipped, r->failed, error);
}

static const char *outcome_name(int o)
{
	switch (o) {
	case OMA_OUTCOME_SUCCESS: return "success";
	case OMA_OUTCOME_SKIPPED: return "skipped";
	case OMA_OUTCOME_ABORTED: return "aborted";
	case OMA_OUTCOME_NO_SPACE: return "no_space";
	default: return "failed";
	}
}

static const char *db_outcome_name(int o)
{
	switch (o) {
	case OMA_DB_DUMPED: return "dumped";
	case OMA_DB_REUSED: return "reused";
	case OMA_DB_SKIPPED: return "skipped";
	default: return "failed";
	}
}

static void json_key_str(char **b, size_t *l, size_t *c, const char *key, const char *val)
{
	buf_appendf(b, l, c, "  \"%s\": ", key);
	if (val == NULL)
		buf_append(b, l, c, "null", 4);
	else
		json_append_string(b, l, c, val);
	buf_append(b, l, c, ",\n", 2);
}

int report_write_json(const struct oma_report *r, const char *path, char *err, size_t errlen)
{
	char *b = NULL;
	size_t l = 0, c = 0;
	buf_append(&b, &l, &c, "{\n", 2);
	json_key_str(&b, &l, &c, "outcome", outcome_name(r->outcome));
	buf_appendf(&b, &l, &c, "  \"exit_code\": %d,\n", r->exit_code);
	json_key_str(&b, &l, &c, "summary", r->summary);
	buf_appendf(&b, &l, &c,
	            "  \"counts\": {\"dumped\": %u, \"reused\": %u, \"skipped\": %u, "
	            "\"failed\": %u, \"total\": %u},\n",
	            r->dumped, r->reused, r->skipped, r->failed, r->total);
	json_key_str(&b, &l, &c, "log", r->log_path);
	json_key_str(&b, &l, &c, "backup_dir", r->backup_dir);
	json_key_str(&b, &l, &c, "current_dir", r->current_dir);
	buf_append(&b, &l, &c, "  \"databases\": [", 16);
	for (size_t i = 0; i < r->ndbs; i++) {
		const struct oma_db_result *d = &r->dbs[i];
		buf_append(&b, &l, &c, i ? ",\n    {" : "\n    {", i ? 7 : 6);
		buf_append(&b, &l, &c, "\"name\": ", 8);
		json_append_string(&b, &l, &c, d->name);
		buf_appendf(&b, &l, &c, ", \"outcome\": \"%s\", \"bytes\": %llu, \"seconds\": %.3f, \"error\": ",
		            db_outcome_name(d->outcome), (unsigned long long)d->bytes, d->seconds);
		if (d->error != NULL)
			json_append_string(&b, &l, &c, d->error);
		else
			buf_append(&b, &l, &c, "null", 4);
		buf_append(&b, &l, &c, "}", 1);
	}
	buf_append(&b, &l, &c, r->ndbs ? "\n  ]\n}\n" : "]\n}\n", r->ndbs ? 7 : 4);

	int rc = -1;
	char *tmp = xasprintf("%s.part", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		errf(err, errlen, "report: cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, b, l) != 0 || fsync(fd) != 0) {
		errf(err, errlen, "report: cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		errf(err, errlen, "report: cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	free(b);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run one reporter in a child process; its error text comes back through a
 * pipe.  Returns 0, or -1 with err set (failure, crash or timeout). */
static int send_one(const struct loaded_plugin *p, const struct oma_report *r, int timeout,
                    char *err, size_t errlen)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		errf(err, errlen, "cannot create pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		errf(err, errlen, "cannot fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		char cerr[1024] = "";
		int rc = p->desc->report->report(r, cerr, sizeof(cerr));
		if (rc != 0)
			(void)write_all(fds[1], cerr, strnlen(cerr, sizeof(cerr)));
		_exit(rc == 0 ? 0 : 1);
	}
	close(fds[1]);
	char msg[1024];
	size_t mlen = 0;
	double deadline = now_s() + (timeout > 0 ? timeout : 1e9);
	int timed_out = 0;
	for (;;) {
		double left = deadline - now_s();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int n = poll(&pfd, 1, left > 1000 ? 1000000 : (int)(left * 1000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		ssize_t got = read(fds[0], msg + mlen, sizeof(msg) - 1 - mlen);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		mlen += (size_t)got;
		if (mlen == sizeof(msg) - 1)
			break;
	}
	msg[mlen] = '\0';
	close(fds[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out) {
		errf(err, errlen, "no answer within %d seconds; stopped", timeout);
		return -1;
	}
	if (WIFSIGNALED(status)) {
		errf(err, errlen, "crashed (signal %d)", WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status) != 0) {
		errf(err, errlen, "%s", mlen ? msg : "failed without a reason");
		return -1;
	}
	return 0;
}

int report_send(struct loader *ld, const struct oma_config *cfg, const struct oma_report *r,
                int timeout)
{
	int failed = 0;
	for (size_t i = 0; i < ld->n; i++) {
		struct loaded_plugin *p = &ld->plugins[i];
		if (p->desc->type != OMA_PLUGIN_REPORT || !p->initialized ||
		    !report_enabled(cfg, p->desc->name))
			continue;
		char err[1024];
		if (send_one(p, r, timeout, err, sizeof(err)) != 0) {
			log_error("Reporter '%s' failed: %s", p->desc->name, err);
			failed++;
		} else {
			log_debug("Reporter '%s' delivered the result", p->desc->name);
		}
	}
	return failed;
}
