/* value.c - the zabbix plugin's item value: the summary line and the log, cut to fit. */
#include "value.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "zabbix.h"

/*
 * The value (docs/BEHAVIOUR.md "Zabbix report"): the summary line, "\n", the log file.
 * Like upstream (len(value) < 65536), a value is sent whole only when it is
 * shorter than 65536 bytes, which also fits the TEXT column (65535 bytes)
 * where a MySQL-backed server keeps it.  A longer value keeps the summary
 * line and whole log lines while they fit, then upstream's two note lines,
 * so that the result is at most 65535 bytes and ends with a newline.
 * Upstream's defects are not copied: it put a space in front of every kept
 * line, a blank line before the note, and counted characters, not bytes.
 * NUL bytes (impossible in an argv string) are sent as '?'.
 */

#define ZBX_VALUE_MAX 65536 /* a value is shorter than this */
#define NOTE_LINE1    "** Zabbix item values has been truncated because it exceeds %d bytes.**\n"
#define NOTE_LINE2    "** Refer to %s on the monitored host to get the full report.**\n"

/* Build the value from `summary` and the first `loglen` bytes of the log
 * (`more`: the log is longer than that) into out (emptied first; NUL bytes
 * become '?').  Returns 0, or -1 when out of memory. */
static int value_build(const char *summary, const char *log, size_t loglen, int more,
                       const char *log_path, struct cm_buf *out)
{
	const size_t limit = ZBX_VALUE_MAX - 1;
	size_t slen = strlen(summary);
	out->len = 0;
	if (!more && slen + 1 + loglen <= limit) {
		cm_buf_add(out, summary, slen);
		cm_buf_add(out, "\n", 1);
		cm_buf_add(out, log, loglen);
	} else {
		struct cm_buf note = {0};
		cm_buf_fmt(&note, NOTE_LINE1 NOTE_LINE2, ZBX_VALUE_MAX, log_path);
		if (note.failed) {
			cm_buf_free(&note);
			return -1;
		}
		size_t budget = note.len < limit ? limit - note.len : 0;
		if (slen + 1 <= budget) {
			cm_buf_add(out, summary, slen);
			cm_buf_add(out, "\n", 1);
			size_t pos = 0;
			while (pos < loglen) {
				const char *nl = memchr(log + pos, '\n', loglen - pos);
				if (nl == NULL)
					break; /* no newline: not a whole line */
				size_t n = (size_t)(nl - (log + pos)) + 1;
				if (out->len + n > budget)
					break;
				cm_buf_add(out, log + pos, n);
				pos += n;
			}
		}
		cm_buf_add(out, note.p, note.len <= limit ? note.len : 0);
		cm_buf_free(&note);
	}
	if (out->failed)
		return -1;
	for (size_t i = 0; i < out->len; i++)
		if (out->p[i] == '\0')
			out->p[i] = '?';
	return 0;
}

int value_for(const struct oma_report *r, struct cm_buf *out, char *err, size_t errlen)
{
	const char *summary = r->summary != NULL ? r->summary : "";
	const char *path = r->log_path != NULL ? r->log_path : "";
	struct cm_buf log = {0};
	int more = 0;
	int fd = path[0] != '\0' ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		int e = path[0] != '\0' ? errno : ENOENT;
		zbx_log(OMA_LOG_WARNING, "Zabbix: cannot read the log %s: %s", path, strerror(e));
		cm_buf_fmt(&log, "(the log %s could not be read: %s)\n", path, strerror(e));
	} else {
		char chunk[16384];
		for (;;) {
			ssize_t n = read(fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				zbx_log(OMA_LOG_WARNING, "Zabbix: error reading the log %s: %s",
				        path, strerror(errno));
				break;
			}
			if (n == 0)
				break;
			cm_buf_add(&log, chunk, (size_t)n);
			if (log.len >= ZBX_VALUE_MAX) {
				more = 1;
				break;
			}
		}
		(void)close(fd);
	}
	int rc = log.failed ? -1
	                    : value_build(summary, log.p ? log.p : "", log.len, more, path, out);
	cm_buf_free(&log);
	if (rc != 0)
		cm_errf(err, errlen, "zabbix: out of memory building the value");
	return rc;
}
