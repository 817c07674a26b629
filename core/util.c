/* util.c - small helpers shared by the core: string vectors, allocation, I/O. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/utf8.h"

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

/* The core's (buf, len, cap) buffers are common/buf.c's that abort on out
 * of memory, as xmalloc does. */
static struct cm_buf buf_of(char **buf, size_t *len, size_t *cap)
{
	return (struct cm_buf){.p = *buf, .len = *len, .cap = *cap};
}

static void buf_back(const struct cm_buf *b, char **buf, size_t *len, size_t *cap)
{
	if (b->failed)
		oom();
	*buf = b->p;
	*len = b->len;
	*cap = b->cap;
}

void buf_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	struct cm_buf b = buf_of(buf, len, cap);
	(void)cm_buf_add(&b, s, n);
	buf_back(&b, buf, len, cap);
}

void buf_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	struct cm_buf b = buf_of(buf, len, cap);
	va_list ap;
	va_start(ap, fmt);
	(void)cm_buf_vfmt(&b, fmt, ap);
	va_end(ap);
	buf_back(&b, buf, len, cap);
}

void json_append_string(char **buf, size_t *len, size_t *cap, const char *s)
{
	struct cm_buf b = buf_of(buf, len, cap);
	(void)cm_json_str(&b, s);
	buf_back(&b, buf, len, cap);
}

int open_regular(int dirfd, const char *path, int flags)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -2;
	}
	/* O_NONBLOCK stays: it changes nothing for a regular file. */
	return fd;
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
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		                               : -1;
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
	/* At most four characters out per byte in ("\xHH"). */
	char *out = xmalloc(4 * strlen(s) + 1), *o = out;
	static const char hex[] = "0123456789abcdef";
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = cm_utf8_len((const char *)p);
		unsigned cp = n > 0 ? cm_utf8_cp((const char *)p, n) : 0;
		if (n == 0 || cp == '\t' || !cm_utf8_breaks_line(cp)) {
			/* Bytes that are not UTF-8 stay as they are: the text is for
			 * reading (a Latin-1 name still reads), and no terminal or
			 * log reader breaks a line at them. */
			size_t k = n > 0 ? n : 1;
			memcpy(o, p, k);
			o += k;
			p += k;
			continue;
		}
		if (cp == '\n' || cp == '\r') {
			*o++ = '\\';
			*o++ = cp == '\n' ? 'n' : 'r';
		} else if (n == 1) {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[cp >> 4];
			*o++ = hex[cp & 15];
		} else {
			/* NEL and the C1 controls (2 bytes), U+2028/2029 (3 bytes). */
			o += snprintf(o, 7, "\\u%04x", cp); /* 6 characters and the NUL */
		}
		p += n;
	}
	*o = '\0';
	return out;
}

void format_size(double b, char *out, size_t outlen)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t u = 0;
	while (b >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		b /= 1024.0;
		u++;
	}
	if (u == 0)
		(void)snprintf(out, outlen, "%.0f %s", b, units[u]);
	else
		(void)snprintf(out, outlen, "%.2f %s", b, units[u]);
}
