/* store_info.c - a backup folder's info.json: writing it as upstream does, reading and parsing it. */
#include "common/errbuf.h"
#include "common/io.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

#define INFO_MAX_BYTES (1024 * 1024)

/* Format x as Python's repr() does: the shortest digits that read back as
 * x, fixed notation for exponents -4..15, otherwise "de+XX" style. */
static void py_float(double x, char *out, size_t outlen)
{
	if (!isfinite(x)) {
		/* Python writes NaN/Infinity, which is not JSON; write 0.0. */
		x = 0.0;
	}
	if (x == 0.0) {
		(void)snprintf(out, outlen, "%s", signbit(x) ? "-0.0" : "0.0");
		return;
	}
	char buf[64];
	for (int prec = 1; prec <= 17; prec++) {
		(void)snprintf(buf, sizeof(buf), "%.*e", prec - 1, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	/* buf is "[-]d[.ddd]e[+-]XX": split into digits and exponent. */
	char digits[32];
	size_t nd = 0;
	const char *p = buf;
	bool neg = *p == '-';
	if (neg)
		p++;
	for (; *p != 'e'; p++)
		if (*p != '.' && nd < sizeof(digits) - 1)
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	long exp = strtol(p + 1, NULL, 10);

	char *o = out;
	size_t left = outlen;
#define PUT(...)                                         \
	do {                                             \
		int w_ = snprintf(o, left, __VA_ARGS__); \
		if (w_ < 0 || (size_t)w_ >= left)        \
			return;                          \
		o += w_;                                 \
		left -= (size_t)w_;                      \
	} while (0)
	if (neg)
		PUT("-");
	if (exp >= 16 || exp < -4) {
		PUT("%c", digits[0]);
		if (nd > 1)
			PUT(".%s", digits + 1);
		PUT("e%c%02ld", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else if (exp >= 0) {
		size_t ip = (size_t)exp + 1; /* digits before the point */
		if (nd <= ip) {
			PUT("%s", digits);
			for (size_t i = nd; i < ip; i++)
				PUT("0");
			PUT(".0");
		} else {
			PUT("%.*s.%s", (int)ip, digits, digits + ip);
		}
	} else {
		PUT("0.");
		for (long i = -1; i > exp; i--)
			PUT("0");
		PUT("%s", digits);
	}
#undef PUT
}

int store_write_info(const char *dir, const struct store_info *info, char *err, size_t errlen)
{
	char ratio[64];
	py_float(info->compression_ratio, ratio, sizeof(ratio));
	char times[160] = "";
	if (info->started > 0 || info->completed > 0)
		(void)snprintf(times, sizeof(times),
		               ",\n    \"started\": %" PRId64 ",\n    \"completed\": %" PRId64
		               ",\n    \"failed_databases\": %" PRIu64,
		               info->started, info->completed, info->failed_databases);
	char *text = xasprintf("{\n    \"mysql_data_dir_bytes_used\": %" PRIu64 ",\n"
	                       "    \"backup_bytes_used\": %" PRIu64 ",\n"
	                       "    \"compression_ratio\": %s%s\n}",
	                       info->mysql_data_dir_bytes_used, info->backup_bytes_used, ratio,
	                       times);
	int rc = store_write_file(dir, STORE_INFO_FILE, text, strlen(text), err, errlen);
	free(text);
	return rc;
}

int store_write_file(const char *dir, const char *name, const char *text, size_t len, char *err,
                     size_t errlen)
{
	char *tmpname = xasprintf(".%s.tmp-%ld", name, (long)getpid());
	char *tmp = store_join(dir, tmpname);
	char *final = store_join(dir, name);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0) {
		cm_errf(err, errlen, "store: cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (cm_write_all(fd, text, len) != 0 || fsync(fd) != 0) {
		cm_errf(err, errlen, "store: cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	int fdc = fd;
	fd = -1;
	if (close(fdc) != 0) {
		cm_errf(err, errlen, "store: cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, final) != 0) {
		cm_errf(err, errlen, "store: cannot rename '%s' to '%s': %s", tmp, final,
		        strerror(errno));
		goto out;
	}
	if (fsync_dir(dir) != 0) {
		cm_errf(err, errlen, "store: cannot sync folder '%s': %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		(void)unlink(tmp);
	free(tmpname);
	free(tmp);
	free(final);
	return rc;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Parse a JSON string at p into out (cut to outlen-1 bytes; escapes are
 * taken literally, enough to compare keys).  Returns the position after the
 * closing quote, or NULL. */
static const char *parse_string(const char *p, char *out, size_t outlen)
{
	size_t n = 0;
	if (*p != '"')
		return NULL;
	for (p++; *p != '"'; p++) {
		if (*p == '\0' || (unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == '\0')
				return NULL;
		}
		if (n + 1 < outlen)
			out[n++] = *p;
	}
	if (outlen > 0)
		out[n] = '\0';
	return p + 1;
}

/* Check the JSON number at p; returns its end or NULL.  *integral tells
 * whether it has neither fraction nor exponent. */
static const char *scan_number(const char *p, bool *integral)
{
	*integral = true;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		*integral = false;
		p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		*integral = false;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

/* Skip any JSON value at p (for keys oma does not know); returns its end or NULL. */
static const char *skip_value(const char *p, int depth)
{
	bool integral;
	if (depth > 64)
		return NULL;
	p = skip_ws(p);
	if (*p == '"')
		return parse_string(p, NULL, 0);
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	if (*p == '[' || *p == '{') {
		char close = *p == '[' ? ']' : '}';
		p = skip_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				p = parse_string(skip_ws(p), NULL, 0);
				if (p == NULL)
					return NULL;
				p = skip_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = skip_value(p, depth + 1);
			if (p == NULL)
				return NULL;
			p = skip_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	return scan_number(p, &integral);
}

/* Parse a non-negative number token [p, end) as a byte count. */
static int to_count(const char *p, const char *end, bool integral, uint64_t *out)
{
	char tok[64];
	size_t n = (size_t)(end - p);
	if (n >= sizeof(tok) || *p == '-')
		return -1;
	memcpy(tok, p, n);
	tok[n] = '\0';
	errno = 0;
	if (integral) {
		unsigned long long v = strtoull(tok, NULL, 10);
		if (errno != 0)
			return -1;
		*out = v;
		return 0;
	}
	double d = strtod(tok, NULL);
	if (!isfinite(d) || d < 0 || d >= 18446744073709551616.0)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

/* The keys of info.json oma reads, as bits. */
enum { K_DATA = 1, K_BACKUP = 2, K_RATIO = 4, K_STARTED = 8, K_COMPLETED = 16, K_FAILED = 32 };

static unsigned info_key(const char *key)
{
	return strcmp(key, "mysql_data_dir_bytes_used") == 0 ? K_DATA
	       : strcmp(key, "backup_bytes_used") == 0       ? K_BACKUP
	       : strcmp(key, "compression_ratio") == 0       ? K_RATIO
	       : strcmp(key, "started") == 0                 ? K_STARTED
	       : strcmp(key, "completed") == 0               ? K_COMPLETED
	       : strcmp(key, "failed_databases") == 0        ? K_FAILED
	                                                     : 0;
}

/* Read the value at p of known key `k` (named `key`) into *res.  Returns
 * its end, or NULL with err set. */
static const char *info_value(unsigned k, const char *key, const char *p, struct store_info *res,
                              const char *path, char *err, size_t errlen)
{
	bool integral;
	const char *end = scan_number(p, &integral);
	if (end == NULL) {
		cm_errf(err, errlen, "store: %s: \"%s\" is not a number", path, key);
		return NULL;
	}
	if (k == K_RATIO) {
		char tok[64];
		size_t n = (size_t)(end - p);
		double d = NAN;
		if (n < sizeof(tok)) {
			memcpy(tok, p, n);
			tok[n] = '\0';
			d = strtod(tok, NULL);
		}
		if (!isfinite(d) || d < 0) {
			cm_errf(err, errlen, "store: %s: \"%s\" is not a ratio >= 0", path, key);
			return NULL;
		}
		res->compression_ratio = d;
	} else if (k == K_STARTED || k == K_COMPLETED) {
		uint64_t t = 0;
		if (!integral || to_count(p, end, integral, &t) != 0 || t > INT64_MAX) {
			cm_errf(err, errlen, "store: %s: \"%s\" is not a time (epoch seconds)",
			        path, key);
			return NULL;
		}
		*(k == K_STARTED ? &res->started : &res->completed) = (int64_t)t;
	} else if (k == K_FAILED) {
		if (to_count(p, end, integral, &res->failed_databases) != 0) {
			cm_errf(err, errlen, "store: %s: \"%s\" is not a count", path, key);
			return NULL;
		}
	} else {
		uint64_t *dst = k == K_DATA ? &res->mysql_data_dir_bytes_used
		                            : &res->backup_bytes_used;
		if (to_count(p, end, integral, dst) != 0) {
			cm_errf(err, errlen, "store: %s: \"%s\" is not a byte count", path, key);
			return NULL;
		}
	}
	return end;
}

/* Parse the flat object in text into *info.  Returns 0, or -1 with err set. */
static int parse_info(const char *text, const char *path, struct store_info *info, char *err,
                      size_t errlen)
{
	unsigned have = 0;
	struct store_info res = {0, 0, 0.0, 0, 0, 0};
	const char *p = skip_ws(text);
	const char *why = "expected '{'";
	if (*p++ != '{')
		goto bad;
	p = skip_ws(p);
	if (*p == '}') {
		p++;
		goto end;
	}
	for (;;) {
		char key[64];
		why = "expected a key";
		p = parse_string(skip_ws(p), key, sizeof(key));
		if (p == NULL)
			goto bad;
		p = skip_ws(p);
		why = "expected ':'";
		if (*p++ != ':')
			goto bad;
		p = skip_ws(p);
		unsigned k = info_key(key);
		if (k == 0) {
			why = "bad value";
			p = skip_value(p, 0);
			if (p == NULL)
				goto bad;
		} else {
			p = info_value(k, key, p, &res, path, err, errlen);
			if (p == NULL)
				return -1;
			have |= k;
		}
		p = skip_ws(p);
		if (*p == '}') {
			p++;
			break;
		}
		why = "expected ',' or '}'";
		if (*p++ != ',')
			goto bad;
	}
end:
	p = skip_ws(p);
	why = "text after the object";
	if (*p != '\0')
		goto bad;
	if ((have & (K_DATA | K_BACKUP | K_RATIO)) != (K_DATA | K_BACKUP | K_RATIO)) {
		cm_errf(err, errlen, "store: %s: missing \"%s\"", path,
		        !(have & K_DATA)     ? "mysql_data_dir_bytes_used"
		        : !(have & K_BACKUP) ? "backup_bytes_used"
		                             : "compression_ratio");
		return -1;
	}
	*info = res;
	return 0;
bad:
	cm_errf(err, errlen, "store: %s: not valid JSON (%s)", path, why);
	return -1;
}

int store_parse_info(const char *text, size_t len, const char *name, struct store_info *info,
                     char *err, size_t errlen)
{
	if (memchr(text, '\0', len) != NULL) {
		cm_errf(err, errlen, "store: %s: not valid JSON (NUL byte)", name);
		return -1;
	}
	char *copy = xstrndup(text, len);
	int rc = parse_info(copy, name, info, err, errlen);
	free(copy);
	return rc;
}

int store_read_file(const char *path, size_t max, char **text, size_t *len, char *err,
                    size_t errlen)
{
	*text = NULL;
	*len = 0;
	int fd = open_regular(AT_FDCWD, path, 0);
	if (fd == -2) {
		cm_errf(err, errlen, "store: '%s' is not a regular file", path);
		return -1;
	}
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		cm_errf(err, errlen, "store: cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	char *buf = xmalloc(max + 1);
	size_t got = 0;
	int rc = -1;
	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cm_errf(err, errlen, "store: cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			cm_errf(err, errlen, "store: %s: file too large (over %zu bytes)", path,
			        max);
			goto out;
		}
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	buf = NULL;
	rc = 0;
out:
	close(fd);
	free(buf);
	return rc;
}

int store_read_info(const char *dir, struct store_info *info, char *err, size_t errlen)
{
	char *path = store_join(dir, STORE_INFO_FILE);
	char *text = NULL;
	size_t len = 0;
	int rc = store_read_file(path, INFO_MAX_BYTES, &text, &len, err, errlen);
	if (rc == 0)
		rc = store_parse_info(text, len, path, info, err, errlen);
	free(text);
	free(path);
	return rc;
}
