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

#include "common/errbuf.h"
#include "common/io.h"
#include "common/outcome.h"
#include "log.h"
#include "proc.h"
#include "util.h"

char *report_summary(const struct oma_report *r)
{
	if (r->outcome == OMA_OUTCOME_SKIPPED)
		return xstrdup(
		        "Summary: Successfully skipped all databases due to skip_conditions. Error=0");
	if (r->outcome == OMA_OUTCOME_ABORTED)
		return xstrdup(
		        "Summary: All databases were skipped due to faulty run_conditions. Error=1");
	return xasprintf(
	        "Summary: Successfully dumped %u of %u databases. Skipped %u, Failed %u. Error=%d",
	        r->dumped + r->reused, r->total, r->skipped, r->failed, cm_run_failed(r));
}

static const char *outcome_name(int o)
{
	switch (o) {
	case OMA_OUTCOME_SUCCESS:
		return "success";
	case OMA_OUTCOME_SKIPPED:
		return "skipped";
	case OMA_OUTCOME_ABORTED:
		return "aborted";
	case OMA_OUTCOME_NO_SPACE:
		return "no_space";
	default:
		return "failed";
	}
}

static const char *db_outcome_name(int o)
{
	switch (o) {
	case OMA_DB_DUMPED:
		return "dumped";
	case OMA_DB_REUSED:
		return "reused";
	case OMA_DB_SKIPPED:
		return "skipped";
	default:
		return "failed";
	}
}

static const char *offsite_name(int o)
{
	switch (o) {
	case OMA_OFFSITE_COPIED:
		return "copied";
	case OMA_OFFSITE_FAILED:
		return "failed";
	default:
		return "none";
	}
}

/* `val` as a JSON string, or null. */
static void json_str_or_null(char **b, size_t *l, size_t *c, const char *val)
{
	if (val == NULL)
		buf_append(b, l, c, "null", 4);
	else
		json_append_string(b, l, c, val);
}

static void json_key_str(char **b, size_t *l, size_t *c, const char *key, const char *val)
{
	buf_appendf(b, l, c, "  \"%s\": ", key);
	json_str_or_null(b, l, c, val);
	buf_append(b, l, c, ",\n", 2);
}

char *report_json(const struct oma_report *r, size_t *len)
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
	buf_appendf(&b, &l, &c,
	            "  \"offsite\": {\"outcome\": \"%s\", \"error\": ", offsite_name(r->offsite));
	json_str_or_null(&b, &l, &c, r->offsite_error);
	buf_append(&b, &l, &c, "},\n", 3);
	json_key_str(&b, &l, &c, "log", r->log_path);
	json_key_str(&b, &l, &c, "backup_dir", r->backup_dir);
	json_key_str(&b, &l, &c, "current_dir", r->current_dir);
	buf_append(&b, &l, &c, "  \"databases\": [", 16);
	for (size_t i = 0; i < r->ndbs; i++) {
		const struct oma_db_result *d = &r->dbs[i];
		buf_append(&b, &l, &c, i ? ",\n    {" : "\n    {", i ? 7 : 6);
		buf_append(&b, &l, &c, "\"name\": ", 8);
		json_append_string(&b, &l, &c, d->name);
		buf_appendf(
		        &b, &l, &c,
		        ", \"outcome\": \"%s\", \"bytes\": %llu, \"seconds\": %.3f, \"error\": ",
		        db_outcome_name(d->outcome), (unsigned long long)d->bytes, d->seconds);
		json_str_or_null(&b, &l, &c, d->error);
		buf_appendf(&b, &l, &c,
		            ", \"offsite\": \"%s\", \"offsite_error\": ", offsite_name(d->offsite));
		json_str_or_null(&b, &l, &c, d->offsite_error);
		buf_append(&b, &l, &c, "}", 1);
	}
	buf_append(&b, &l, &c, r->ndbs ? "\n  ]\n}\n" : "]\n}\n", r->ndbs ? 7 : 4);
	if (len != NULL)
		*len = l;
	return b;
}

int report_write_json(const struct oma_report *r, const char *path, char *err, size_t errlen)
{
	size_t l = 0;
	char *b = report_json(r, &l);
	int rc = -1;
	char *tmp = xasprintf("%s.part", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		cm_errf(err, errlen, "report: cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (cm_write_all(fd, b, l) != 0 || fsync(fd) != 0) {
		cm_errf(err, errlen, "report: cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) != 0) {
		cm_errf(err, errlen, "report: cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		cm_errf(err, errlen, "report: cannot rename %s to %s: %s", tmp, path,
		        strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* The rename is durable only once the folder is. */
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	int synced = fsync_dir(slash != NULL ? (dir[0] ? dir : "/") : ".");
	int e = errno;
	free(dir);
	if (synced != 0) {
		cm_errf(err, errlen, "report: cannot sync the folder of %s: %s", path, strerror(e));
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	free(b);
	return rc;
}

/* The reporter's side of the fork: deliver, and on failure write the
 * reason to err_fd. */
struct send_arg {
	const struct loaded_plugin *p;
	const struct oma_report *r;
};

static int send_child(void *arg, int err_fd)
{
	const struct send_arg *a = arg;
	char cerr[1024] = "";
	int rc = a->p->desc->report->report(a->r, cerr, sizeof(cerr));
	if (rc != 0)
		(void)cm_write_all(err_fd, cerr, strnlen(cerr, sizeof(cerr)));
	return rc == 0 ? 0 : 1;
}

/* Run one reporter in a child process; its error text comes back through a
 * pipe.  Returns 0, or -1 with err set (failure, crash, timeout, cancel). */
static int send_one(const struct loaded_plugin *p, const struct oma_report *r, int timeout,
                    unsigned cancels, char *err, size_t errlen)
{
	struct send_arg a = {p, r};
	struct proc child;
	int rc = proc_fork(&child, send_child, &a);
	if (rc != 0) {
		cm_errf(err, errlen, "cannot fork: %s", strerror(rc));
		return -1;
	}
	/* The limit holds until the child is gone, not just until it closes
	 * its pipe. */
	struct proc_limits lim = {.timeout_ms = (int64_t)timeout * 1000,
	                          .err_keep = 1023,
	                          .cancels_allowed = cancels};
	struct proc_result res;
	int waited = proc_wait(&child, &lim, &res);
	rc = -1;
	if (res.end == PROC_TIMED_OUT)
		cm_errf(err, errlen, "no answer within %d seconds; stopped", timeout);
	else if (waited != 0)
		proc_describe(&res, &lim, err, errlen);
	else if (WIFSIGNALED(res.status))
		cm_errf(err, errlen, "crashed (signal %d)", WTERMSIG(res.status));
	else if (WEXITSTATUS(res.status) != 0)
		cm_errf(err, errlen, "%s", res.err_len ? res.err : "failed without a reason");
	else
		rc = 0;
	proc_result_free(&res);
	return rc;
}

int report_send(struct loader *ld, const struct oma_report *r, int timeout)
{
	/* The reporters get the result as JSON too, as result.json has it now. */
	struct oma_report with = *r;
	char *json = report_json(r, NULL);
	with.size = sizeof(with);
	with.result_json = json;
	int failed = 0;
	/* A run cancelled before now still reports; a signal from here on
	 * stops the reporters too. */
	unsigned cancels = proc_cancel_count();
	for (struct loaded_plugin *p = loader_next(ld, OMA_PLUGIN_REPORT, NULL); p != NULL;
	     p = loader_next(ld, OMA_PLUGIN_REPORT, p)) {
		/* Only the enabled sections' reporters were initialised. */
		if (!p->initialized)
			continue;
		char err[1024];
		if (proc_cancel_count() > cancels) {
			log_error("Reporter '%s' not called: oma was told to stop", p->desc->name);
			failed++;
			continue;
		}
		if (send_one(p, &with, timeout, cancels, err, sizeof(err)) != 0) {
			log_error("Reporter '%s' failed: %s", p->desc->name, err);
			failed++;
		} else {
			log_debug("Reporter '%s' delivered the result", p->desc->name);
		}
	}
	free(json);
	return failed;
}
