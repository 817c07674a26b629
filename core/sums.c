/* sums.c - SHA256SUMS of a backup folder in the format of coreutils' sha256sum: writing, reading. */
#include "sums.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errbuf.h"
#include "store.h"
#include "util.h"

void sums_add(struct sums *s, const char *name, const char *hex)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	struct sums_entry *e = &s->v[s->n++];
	e->name = xstrdup(name);
	(void)snprintf(e->hex, sizeof(e->hex), "%s", hex);
}

const struct sums_entry *sums_find(const struct sums *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

void sums_free(struct sums *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	*s = (struct sums){0};
}

static int by_name(const void *a, const void *b)
{
	const struct sums_entry *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

char *sums_format(const struct sums *s, size_t *len)
{
	const struct sums_entry **order = xcalloc(s->n ? s->n : 1, sizeof(*order));
	for (size_t i = 0; i < s->n; i++)
		order[i] = &s->v[i];
	qsort(order, s->n, sizeof(*order), by_name);
	char *text = NULL;
	size_t n = 0, cap = 0;
	buf_append(&text, &n, &cap, "", 0);
	for (size_t i = 0; i < s->n; i++) {
		const char *name = order[i]->name;
		bool escape = strpbrk(name, "\\\n") != NULL;
		if (escape)
			buf_append(&text, &n, &cap, "\\", 1);
		buf_appendf(&text, &n, &cap, "%s  ", order[i]->hex);
		for (const char *p = name; *p != '\0'; p++) {
			if (escape && *p == '\\')
				buf_append(&text, &n, &cap, "\\\\", 2);
			else if (escape && *p == '\n')
				buf_append(&text, &n, &cap, "\\n", 2);
			else
				buf_append(&text, &n, &cap, p, 1);
		}
		buf_append(&text, &n, &cap, "\n", 1);
	}
	free(order);
	*len = n;
	return text;
}

int sums_write(const char *dir, const struct sums *s, char *err, size_t errlen)
{
	size_t len = 0;
	char *text = sums_format(s, &len);
	int rc = store_write_file(dir, SUMS_FILE, text, len, err, errlen);
	free(text);
	return rc;
}

/* Whether the n bytes at p are lower- or upper-case hex digits. */
static bool all_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* One line (len bytes, no LF) into out.  Returns 0, or -1 with why set. */
static int parse_line(const char *p, size_t len, struct sums *out, const char **why)
{
	bool escaped = len > 0 && p[0] == '\\';
	if (escaped) {
		p++;
		len--;
	}
	if (len < DIGEST_HEX_LEN + 3 || !all_hex(p, DIGEST_HEX_LEN) || p[DIGEST_HEX_LEN] != ' ' ||
	    (p[DIGEST_HEX_LEN + 1] != ' ' && p[DIGEST_HEX_LEN + 1] != '*')) {
		*why = "not \"SHA256  NAME\"";
		return -1;
	}
	char hex[DIGEST_HEX_LEN + 1];
	for (size_t i = 0; i < DIGEST_HEX_LEN; i++)
		hex[i] = (char)(p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 'a' : p[i]);
	hex[DIGEST_HEX_LEN] = '\0';
	const char *name = p + DIGEST_HEX_LEN + 2;
	size_t nlen = len - DIGEST_HEX_LEN - 2;
	char *copy = xcalloc(nlen + 1, 1);
	size_t k = 0;
	for (size_t i = 0; i < nlen; i++) {
		if (name[i] == '\0') {
			free(copy);
			*why = "a NUL byte in the file name";
			return -1;
		}
		if (escaped && name[i] == '\\') {
			if (i + 1 < nlen && (name[i + 1] == '\\' || name[i + 1] == 'n')) {
				copy[k++] = name[i + 1] == 'n' ? '\n' : '\\';
				i++;
				continue;
			}
			free(copy);
			*why = "a bad escape in the file name";
			return -1;
		}
		copy[k++] = name[i];
	}
	sums_add(out, copy, hex);
	free(copy);
	return 0;
}

int sums_parse(const char *text, size_t len, const char *what, struct sums *out, char *err,
               size_t errlen)
{
	sums_free(out);
	size_t lineno = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t n = end - pos;
		lineno++;
		if (n > 0 && text[pos + n - 1] == '\r')
			n--;
		const char *why = NULL;
		if (n > 0 && parse_line(text + pos, n, out, &why) != 0) {
			cm_errf(err, errlen, "%s:%zu: %s", what, lineno, why);
			sums_free(out);
			return -1;
		}
		pos = end + 1;
	}
	return 0;
}

int sums_read(const char *dir, struct sums *out, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, SUMS_FILE);
	char *text = NULL;
	size_t len = 0;
	sums_free(out);
	int rc = store_read_file(path, SUMS_MAX_BYTES, &text, &len, err, errlen);
	if (rc == 0)
		rc = sums_parse(text, len, path, out, err, errlen);
	free(text);
	free(path);
	return rc;
}
