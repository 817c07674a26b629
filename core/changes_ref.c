/* changes_ref.c - the change reference stored with each dump (its sidecar's key=value lines), and the numbers in it. */
#include "changes.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes_internal.h"

int changes_parse_u64(const char *s, uint64_t *v)
{
	if (*s < '0' || *s > '9')
		return -1;
	uint64_t x = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (*s != '\0')
		return -1;
	*v = x;
	return 0;
}

int changes_parse_i64(const char *s, int64_t *v)
{
	uint64_t u;
	if (changes_parse_u64(s, &u) != 0 || u > INT64_MAX)
		return -1;
	*v = (int64_t)u;
	return 0;
}

int changes_parse_long(const char *s, long *v)
{
	int64_t x;
	if (changes_parse_i64(s, &x) != 0 || x > LONG_MAX)
		return -1;
	*v = (long)x;
	return 0;
}

int changes_ref_format(const struct changes_ref *ref, char *buf, size_t len)
{
	if (len == 0)
		return -1;
	buf[0] = '\0';
	if (!ref->valid)
		return 0;
	int n = snprintf(buf, len,
	                 "ref_time=%" PRId64 "\nref_lsn=%" PRIu64 "\nproc=%ld %" PRId64
	                 "\nevent=%ld %" PRId64 "\n",
	                 ref->ref_time, ref->ref_lsn, ref->proc_count, ref->proc_max,
	                 ref->event_count, ref->event_max);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* "COUNT MAX" of a proc= or event= line.  Returns 0 or -1. */
static int parse_pair(const char *s, long *count, int64_t *max)
{
	const char *sp = strchr(s, ' ');
	if (sp == NULL)
		return -1;
	char *a = xstrndup(s, (size_t)(sp - s));
	int rc = changes_parse_long(a, count) == 0 && changes_parse_i64(sp + 1, max) == 0 ? 0 : -1;
	free(a);
	return rc;
}

int changes_ref_parse(const char *text, struct changes_ref *ref)
{
	enum { F_TIME = 1, F_LSN = 2, F_PROC = 4, F_EVENT = 8, F_ALL = 15 };
	struct changes_ref r = {0};
	unsigned seen = 0;
	int rc = -1;
	char *copy = xstrdup(text != NULL ? text : "");
	char *save = NULL;
	memset(ref, 0, sizeof(*ref));
	for (char *line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (eq == NULL)
			goto out;
		*eq = '\0';
		const char *key = line, *val = eq + 1;
		unsigned bit = 0;
		int bad = 0;
		if (strcmp(key, "ref_time") == 0) {
			bit = F_TIME;
			bad = changes_parse_i64(val, &r.ref_time);
		} else if (strcmp(key, "ref_lsn") == 0) {
			bit = F_LSN;
			bad = changes_parse_u64(val, &r.ref_lsn);
		} else if (strcmp(key, "proc") == 0) {
			bit = F_PROC;
			bad = parse_pair(val, &r.proc_count, &r.proc_max);
		} else if (strcmp(key, "event") == 0) {
			bit = F_EVENT;
			bad = parse_pair(val, &r.event_count, &r.event_max);
		}
		if (bad || (seen & bit) != 0)
			goto out;
		seen |= bit;
	}
	if (seen != F_ALL)
		goto out;
	r.valid = 1;
	*ref = r;
	rc = 0;
out:
	free(copy);
	return rc;
}
