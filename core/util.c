/* util.c - small helpers shared by the core: string vectors, allocation, I/O. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "oma: out of memory\n";
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		oom();
	return s;
}

void strv_push(struct strv *sv, const char *s)
{
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->n < 4 ? 8 : (sv->n + 2) * 2;
		sv->v = xrealloc(sv->v, sv->cap * sizeof(*sv->v));
	}
	sv->v[sv->n++] = xstrdup(s);
	sv->v[sv->n] = NULL;
}

void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
	sv->cap = 0;
}

bool strv_contains(const struct strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

void buf_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 64;
		while (c < *len + n + 1)
			c *= 2;
		*buf = xrealloc(*buf, c);
		*cap = c;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

void buf_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		oom();
	buf_append(buf, len, cap, s, (size_t)rc);
	free(s);
}

void json_append_string(char **buf, size_t *len, size_t *cap, const char *s)
{
	buf_append(buf, len, cap, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		switch (*p) {
		case '"': buf_append(buf, len, cap, "\\\"", 2); break;
		case '\\': buf_append(buf, len, cap, "\\\\", 2); break;
		case '\n': buf_append(buf, len, cap, "\\n", 2); break;
		case '\r': buf_append(buf, len, cap, "\\r", 2); break;
		case '\t': buf_append(buf, len, cap, "\\t", 2); break;
		case '\b': buf_append(buf, len, cap, "\\b", 2); break;
		case '\f': buf_append(buf, len, cap, "\\f", 2); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				(void)snprintf(esc, sizeof(esc), "\\u%04x", *p);
				buf_append(buf, len, cap, esc, 6);
			} else {
				buf_append(buf, len, cap, (const char *)p, 1);
			}
		}
	}
	buf_append(buf, len, cap, "\"", 1);
}

int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}

char *py_list_repr(const struct strv *sv)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	buf_append(&buf, &len, &cap, "[", 1);
	for (size_t i = 0; i < sv->n; i++) {
		const char *s = sv->v[i];
		char q = (strchr(s, '\'') != NULL && strchr(s, '"') == NULL) ? '"' : '\'';
		if (i > 0)
			buf_append(&buf, &len, &cap, ", ", 2);
		buf_append(&buf, &len, &cap, &q, 1);
		for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
			if (*p == '\\')
				buf_append(&buf, &len, &cap, "\\\\", 2);
			else if (*p == (unsigned char)q)
				buf_appendf(&buf, &len, &cap, "\\%c", q);
			else if (*p == '\n')
				buf_append(&buf, &len, &cap, "\\n", 2);
			else if (*p == '\r')
				buf_append(&buf, &len, &cap, "\\r", 2);
			else if (*p == '\t')
				buf_append(&buf, &len, &cap, "\\t", 2);
			else if (*p < 0x20 || *p == 0x7f)
				buf_appendf(&buf, &len, &cap, "\\x%02x", *p);
			else
				buf_append(&buf, &len, &cap, (const char *)p, 1);
		}
		buf_append(&buf, &len, &cap, &q, 1);
	}
	buf_append(&buf, &len, &cap, "]", 1);
	return buf;
}

/* Decode hex into a malloc'ed string; NULL when not hex or it holds a 0. */
char *hex_decode(const char *hex)
{
	size_t n = strlen(hex);
	if (n % 2 != 0)
		return NULL;
	char *out = xmalloc(n / 2 + 1);
	for (size_t i = 0; i < n; i++) {
		char c = hex[i];
		int d = c >= '0' && c <= '9' ? c - '0'
		      : c >= 'A' && c <= 'F' ? c - 'A' + 10
		      : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0 || (i % 2 == 1 && d == 0 && out[i / 2] == 0)) {
			free(out);
			return NULL;
		}
		if (i % 2 == 0)
			out[i / 2] = (char)(d << 4);
		else
			out[i / 2] = (char)(out[i / 2] | d);
	}
	out[n / 2] = '\0';
	return out;
}

/* Split a line at tabs, in place, into at most `max` fields; returns the count. */
size_t split_tabs(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;
	while (n < max) {
		fields[n++] = p;
		char *tab = strchr(p, '\t');
		if (tab == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	return n;
}

char *escape_controls(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		n += (c < 0x20 && c != '\t') || c == 0x7f ? 4 : 1;
	}
	char *out = xmalloc(n + 1), *o = out;
	static const char hex[] = "0123456789abcdef";
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 0x20 || c == '\t') && c != 0x7f) {
			*o++ = (char)c;
		} else if (c == '\n' || c == '\r') {
			*o++ = '\\';
			*o++ = c == '\n' ? 'n' : 'r';
		} else {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}
