/* util.h - small helpers shared by the core: string vectors, allocation, I/O. */
#ifndef OMA_UTIL_H
#define OMA_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A NULL-terminated vector of malloc'ed strings; {0} is an empty one. */
struct strv {
	char **v;
	size_t n;
	size_t cap; /* slots allocated in v (0 when unknown: grows on the next push) */
};

/* Allocation that aborts the process on out-of-memory (nothing sensible
 * can be done then); never returns NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Allocate a formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void strv_push(struct strv *sv, const char *s); /* copies s */
void strv_free(struct strv *sv);
bool strv_contains(const struct strv *sv, const char *s);

/* fsync the directory `path`.  Returns 0, or -1 with errno set. */
int fsync_dir(const char *path);

/* Growable buffers as (buf, len, cap): *buf malloc'ed and NUL-terminated
 * (NULL, 0, 0 is empty).  They are common/buf.c's and abort on out of
 * memory like xmalloc.  buf_append adds n bytes of s, buf_appendf formatted
 * text, json_append_string `s` as a JSON string literal (cm_json_str in
 * common/json.h: always valid JSON). */
void buf_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n);
void buf_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void json_append_string(char **buf, size_t *len, size_t *cap, const char *s);

/* `s` with every control character (C0 but tab, DEL, the C1 controls
 * such as NEL U+0085, and U+2028/U+2029, which some readers take for line
 * ends) written as \\n, \\r, \\xHH or \\uHHHH, for text that must stay on
 * one line (log lines, messages on stderr); it is for reading, not
 * decoding (a backslash stays as it is; bytes that are not UTF-8 too).
 * Malloc'ed. */
char *escape_controls(const char *s);

/* Python's repr() of a list of strings, as upstream logs option lists:
 * ['--quick', "it's"].  Returns a malloc'ed string. */
char *py_list_repr(const struct strv *sv);

/* Decode a string of hex digit pairs (as from SQL HEX()); malloc'ed, or NULL
 * when the input is not valid hex. */
char *hex_decode(const char *hex);

/* Split a line at tabs, in place, into at most `max` fields; returns the count. */
size_t split_tabs(char *line, char **fields, size_t max);

/* Open `path` (relative to dirfd, or AT_FDCWD) for reading, only if it is
 * a regular file: a FIFO, a device or a socket put in place of a file oma
 * reads (info.json, a sidecar, a dump) must not hang or feed the run.
 * `flags` adds open flags (O_NOFOLLOW).  Returns the descriptor
 * (close-on-exec; O_NONBLOCK, which reads of a regular file ignore); -1
 * with errno set; -2 when it is not a regular file. */
int open_regular(int dirfd, const char *path, int flags);

/* Number of online CPUs (at least 1). */
int cpu_count(void);

/* b bytes as "123 B", "1.50 KiB" ... "2.00 PiB" (as upstream logs sizes). */
void format_size(double b, char *out, size_t outlen);

#endif
