/* toml.c - TOML 1.0 reader and decoder: config text to logical lines in canonical TOML, and values back from them. */
#include "toml.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errbuf.h"

#define MAX_DEPTH 64 /* nesting of arrays and inline tables */

/* The document tree, kept only to detect duplicate keys and re-defined
 * tables; values themselves go into the logical lines. */
enum node_kind { NODE_TABLE, NODE_TABLE_ARRAY, NODE_VALUE };

enum {
	NODE_HEADER = 1, /* defined by a [header] or an [[element]] */
	NODE_DOTTED = 2, /* created by a dotted key */
	NODE_CLOSED = 4, /* an inline table: nothing may be added later */
};

struct node {
	char *name;
	enum node_kind kind;
	unsigned flags;
	struct node **kids; /* children; for NODE_TABLE_ARRAY its element tables */
	size_t nkids;
};

struct sbuf {
	char *s;
	size_t len, cap;
};

struct parser {
	const char *name;
	const char *p, *end;
	int line;
	int depth;
	char *err;
	size_t errlen;
	struct node root;
	struct node *table; /* table of the last header */
	struct toml_comp *path;
	size_t npath;
	struct toml_doc *doc;
	/* Where the value being read is written in canonical form, or NULL
	 * (when decoding, or between values). */
	struct sbuf *canon;
};

/* A value as parsed, before it becomes a toml_value (or is dropped once
 * written in canonical form). */
struct val {
	enum toml_type type;
	char *text;
	long long num;
	struct strv arr;
	bool all_strings;
	const char *raw, *raw_end; /* its source text */
};

static int fail(struct parser *P, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct parser *P, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cm_errf(P->err, P->errlen, "%s:%d: %s", P->name, line, msg);
	return -1;
}

/* A character for an error message: printable ASCII as is, else \xNN. */
static const char *show(const struct parser *P, char *buf, size_t len)
{
	if (P->p >= P->end)
		return "end of file";
	unsigned char c = (unsigned char)*P->p;
	if (c == '\n' || (c == '\r' && P->p + 1 < P->end && P->p[1] == '\n'))
		return "end of line";
	if (c >= 0x20 && c < 0x7f)
		(void)snprintf(buf, len, "'%c'", c);
	else
		(void)snprintf(buf, len, "byte 0x%02x", c);
	return buf;
}

static int peek(const struct parser *P)
{
	return P->p < P->end ? (unsigned char)*P->p : -1;
}

static int peek_at(const struct parser *P, size_t off)
{
	return (size_t)(P->end - P->p) > off ? (unsigned char)P->p[off] : -1;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' ||
	       c == '-';
}

static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static void skip_ws(struct parser *P)
{
	while (P->p < P->end && (*P->p == ' ' || *P->p == '\t'))
		P->p++;
}

/* Consume one newline (LF or CRLF): 1 when consumed, 0 when there is none. */
static int eat_newline(struct parser *P)
{
	if (peek(P) == '\n') {
		P->p++;
		P->line++;
		return 1;
	}
	if (peek(P) == '\r' && peek_at(P, 1) == '\n') {
		P->p += 2;
		P->line++;
		return 1;
	}
	return 0;
}

/* Skip a '#' comment up to (not including) the newline; -1 on a control character. */
static int skip_comment(struct parser *P)
{
	if (peek(P) != '#')
		return 0;
	while (P->p < P->end && *P->p != '\n') {
		int c = (unsigned char)*P->p;
		if (c == '\r' && peek_at(P, 1) == '\n')
			break;
		if (is_control(c))
			return fail(P, P->line, "control character 0x%02x in comment", c);
		P->p++;
	}
	return 0;
}

/* Skip whitespace, comments and newlines (inside arrays); -1 on error. */
static int skip_blank(struct parser *P)
{
	for (;;) {
		skip_ws(P);
		if (peek(P) == '#') {
			if (skip_comment(P) < 0)
				return -1;
		} else if (eat_newline(P) == 0) {
			return 0;
		}
	}
}

/* After a header or key/value: whitespace, an optional comment, then a
 * newline or the end of the file.  Returns 0 or -1. */
static int expect_eol(struct parser *P, const char *after)
{
	skip_ws(P);
	if (skip_comment(P) < 0)
		return -1;
	if (P->p >= P->end || eat_newline(P) == 1)
		return 0;
	char buf[16];
	return fail(P, P->line, "unexpected %s after %s", show(P, buf, sizeof(buf)), after);
}

/* Check the whole text is UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF).  Returns 0, or -1 naming the line. */
static int check_utf8(struct parser *P)
{
	int line = 1;
	const unsigned char *s = (const unsigned char *)P->p;
	const unsigned char *e = (const unsigned char *)P->end;
	while (s < e) {
		unsigned c = *s;
		if (c == '\n')
			line++;
		if (c < 0x80) {
			s++;
			continue;
		}
		size_t n;
		unsigned cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return fail(P, line, "invalid UTF-8 byte 0x%02x", c);
		}
		if ((size_t)(e - s) <= n)
			return fail(P, line, "truncated UTF-8 sequence");
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return fail(P, line, "invalid UTF-8 sequence");
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return fail(P, line, "invalid UTF-8 sequence");
		s += n + 1;
	}
	return 0;
}

/* ---- strings ----------------------------------------------------------- */

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	buf_append(&b->s, &b->len, &b->cap, s, n);
}

static void sb_addc(struct sbuf *b, char c)
{
	buf_append(&b->s, &b->len, &b->cap, &c, 1);
}

static void sb_utf8(struct sbuf *b, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sb_add(b, u, n);
}

/* ---- canonical form ---------------------------------------------------- */

/* Append n bytes at s to the canonical text being written, if any. */
static void canon_add(struct parser *P, const char *s, size_t n)
{
	if (P->canon != NULL)
		sb_add(P->canon, s, n);
}

/* Append s as a basic string: control characters, '"' and '\' escaped,
 * ';' always as \u003B, and for a name also '=', ':', '[', ']' and '#'. */
static void canon_string(struct sbuf *b, const char *s, bool name)
{
	sb_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		unsigned c = *p;
		const char *esc = NULL;
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			break;
		}
		if (esc != NULL)
			sb_add(b, esc, 2);
		else if (c < 0x20 || c == 0x7f || c == ';' ||
		         (name && strchr("=:[]#", (int)c) != NULL))
			buf_appendf(&b->s, &b->len, &b->cap, "\\u%04X", c);
		else
			sb_addc(b, (char)c);
	}
	sb_addc(b, '"');
}

static void key_write(struct sbuf *b, const char *name)
{
	bool bare = name[0] != '\0';
	for (const char *p = name; *p != '\0' && bare; p++)
		bare = is_bare((unsigned char)*p);
	if (bare)
		sb_add(b, name, strlen(name));
	else
		canon_string(b, name, true);
}

void toml_key_write(char **buf, size_t *len, size_t *cap, const char *name)
{
	struct sbuf b = {*buf, *len, *cap};
	sb_add(&b, "", 0);
	key_write(&b, name);
	*buf = b.s;
	*len = b.len;
	*cap = b.cap;
}

/* Append the dotted key comps to the canonical text, if any. */
static void canon_key(struct parser *P, const struct strv *comps)
{
	for (size_t i = 0; P->canon != NULL && i < comps->n; i++) {
		if (i > 0)
			sb_addc(P->canon, '.');
		key_write(P->canon, comps->v[i]);
	}
}

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode the escape at P->p (a backslash) into b.  Returns 0 or -1. */
static int parse_escape(struct parser *P, struct sbuf *b)
{
	int c = peek_at(P, 1);
	char buf[16];
	const char *simple = NULL;
	switch (c) {
	case 'b':
		simple = "\b";
		break;
	case 't':
		simple = "\t";
		break;
	case 'n':
		simple = "\n";
		break;
	case 'f':
		simple = "\f";
		break;
	case 'r':
		simple = "\r";
		break;
	case '"':
		simple = "\"";
		break;
	case '\\':
		simple = "\\";
		break;
	case 'u':
	case 'U':
		break;
	default:
		P->p++;
		return fail(P, P->line, "invalid escape sequence: backslash followed by %s",
		            show(P, buf, sizeof(buf)));
	}
	if (simple != NULL) {
		sb_addc(b, simple[0]);
		P->p += 2;
		return 0;
	}
	size_t ndig = c == 'u' ? 4 : 8;
	unsigned long cp = 0;
	for (size_t i = 0; i < ndig; i++) {
		int h = hexval(peek_at(P, 2 + i));
		if (h < 0)
			return fail(P, P->line, "invalid escape \\%c: expected %zu hex digits", c,
			            ndig);
		cp = cp * 16 + (unsigned long)h;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(P, P->line, "invalid escape \\%c%0*lX: not a Unicode scalar value", c,
		            (int)ndig, cp);
	if (cp == 0)
		return fail(P, P->line, "escape \\%c%0*lX: NUL characters are not supported", c,
		            (int)ndig, cp);
	sb_utf8(b, cp);
	P->p += 2 + ndig;
	return 0;
}

/* A closing run of 3..5 quote characters ends a multi-line string; the
 * 1 or 2 extra ones belong to the content.  Returns the run length when it
 * closes (0 otherwise), or -1 on six or more. */
static int closing_quotes(struct parser *P, char q)
{
	size_t n = 0;
	while (peek_at(P, n) == q)
		n++;
	if (n < 3)
		return 0;
	if (n > 5)
		return fail(P, P->line, "too many quotes (%zu) in multi-line string", n);
	return (int)n;
}

/* Parse a string of any of the four kinds at P->p into *out.  Keys pass
 * allow_multi = false.  Returns 0 or -1. */
static int parse_string(struct parser *P, char **out, bool allow_multi)
{
	char q = *P->p;
	bool basic = q == '"';
	bool multi = peek_at(P, 1) == q && peek_at(P, 2) == q;
	int start_line = P->line;
	struct sbuf b = {0};

	if (multi && !allow_multi)
		return fail(P, P->line, "a multi-line string cannot be a key");
	sb_add(&b, "", 0);
	if (multi) {
		P->p += 3;
		(void)eat_newline(P); /* a newline right after the opening is trimmed */
	} else {
		P->p++;
	}
	for (;;) {
		int c = peek(P);
		if (c < 0 || (!multi && (c == '\n' || c == '\r'))) {
			fail(P, start_line, "unterminated string");
			goto bad;
		}
		if (c == q && !multi) {
			P->p++;
			break;
		}
		if (c == q) {
			int n = closing_quotes(P, q);
			if (n < 0)
				goto bad;
			if (n > 0) {
				for (int i = 3; i < n; i++)
					sb_addc(&b, q);
				P->p += n;
				break;
			}
			sb_addc(&b, q);
			P->p++;
			continue;
		}
		if (c == '\\' && basic) {
			if (multi) {
				/* line-ending backslash: drop it, the newline and
				 * all whitespace up to the next other character */
				size_t k = 1;
				while (peek_at(P, k) == ' ' || peek_at(P, k) == '\t')
					k++;
				if (peek_at(P, k) == '\n' ||
				    (peek_at(P, k) == '\r' && peek_at(P, k + 1) == '\n')) {
					P->p += k;
					for (;;) {
						skip_ws(P);
						if (eat_newline(P) == 0)
							break;
					}
					continue;
				}
			}
			if (parse_escape(P, &b) < 0)
				goto bad;
			continue;
		}
		if (multi && eat_newline(P) == 1) {
			sb_addc(&b, '\n');
			continue;
		}
		if (is_control(c)) {
			fail(P, P->line, "control character 0x%02x in string (use an escape)", c);
			goto bad;
		}
		sb_addc(&b, (char)c);
		P->p++;
	}
	*out = b.s;
	return 0;
bad:
	free(b.s);
	return -1;
}

/* ---- keys -------------------------------------------------------------- */

/* Parse a (dotted) key into comps, whitespace around it skipped.  Returns 0 or -1. */
static int parse_key(struct parser *P, struct strv *comps)
{
	char buf[16];
	for (;;) {
		skip_ws(P);
		int c = peek(P);
		if (c == '"' || c == '\'') {
			char *s = NULL;
			if (parse_string(P, &s, false) < 0)
				return -1;
			strv_push(comps, s);
			free(s);
		} else if (is_bare(c)) {
			const char *s = P->p;
			while (is_bare(peek(P)))
				P->p++;
			char *k = xstrndup(s, (size_t)(P->p - s));
			strv_push(comps, k);
			free(k);
		} else {
			return fail(P, P->line, "expected a key, found %s",
			            show(P, buf, sizeof(buf)));
		}
		skip_ws(P);
		if (peek(P) != '.')
			return 0;
		P->p++;
	}
}

/* ---- tree -------------------------------------------------------------- */

static struct node *find_kid(const struct node *n, const char *name)
{
	for (size_t i = 0; i < n->nkids; i++)
		if (n->kids[i]->name != NULL && strcmp(n->kids[i]->name, name) == 0)
			return n->kids[i];
	return NULL;
}

static struct node *add_kid(struct node *n, const char *name, enum node_kind kind, unsigned flags)
{
	struct node *k = xcalloc(1, sizeof(*k));
	k->name = name != NULL ? xstrdup(name) : NULL;
	k->kind = kind;
	k->flags = flags;
	n->kids = xrealloc(n->kids, (n->nkids + 1) * sizeof(*n->kids));
	n->kids[n->nkids++] = k;
	return k;
}

static void free_kids(struct node *n)
{
	for (size_t i = 0; i < n->nkids; i++) {
		free_kids(n->kids[i]);
		free(n->kids[i]->name);
		free(n->kids[i]);
	}
	free(n->kids);
	n->kids = NULL;
	n->nkids = 0;
}

static void close_tree(struct node *n)
{
	n->flags |= NODE_CLOSED;
	for (size_t i = 0; i < n->nkids; i++)
		close_tree(n->kids[i]);
}

/* ---- logical lines ----------------------------------------------------- */

static void free_path(struct toml_comp *path, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(path[i].name);
	free(path);
}

/* Append a logical line for base + comps (as plain keys); `value` (the
 * canonical text, TOML_LINE_KEY only) is taken over. */
static void add_line(struct parser *P, enum toml_line_kind kind, int line,
                     const struct toml_comp *base, size_t nbase, const struct strv *comps,
                     char *value)
{
	struct toml_doc *d = P->doc;
	d->lines = xrealloc(d->lines, (d->n + 1) * sizeof(*d->lines));
	struct toml_line *l = &d->lines[d->n++];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->line = line;
	l->ntable = P->npath;
	l->value = value;
	size_t nc = comps != NULL ? comps->n : 0;
	l->npath = nbase + nc;
	l->path = xcalloc(l->npath ? l->npath : 1, sizeof(*l->path));
	for (size_t i = 0; i < nbase; i++) {
		l->path[i].name = xstrdup(base[i].name);
		l->path[i].index = base[i].index;
	}
	for (size_t i = 0; i < nc; i++) {
		l->path[nbase + i].name = xstrdup(comps->v[i]);
		l->path[nbase + i].index = -1;
	}
}

static void free_val(struct val *v)
{
	free(v->text);
	strv_free(&v->arr);
	v->text = NULL;
}

/* ---- values ------------------------------------------------------------ */

static int parse_value(struct parser *P, struct val *v);
static int parse_inline_table(struct parser *P, struct node *tbl, const struct toml_comp *base,
                              size_t nbase, bool emit);

/* Digits of `base` with single underscores between them, the whole of
 * [s, e).  Returns true when well-formed. */
static bool digit_run(const char *s, const char *e, int base)
{
	if (s >= e)
		return false;
	bool prev_digit = false;
	for (const char *q = s; q < e; q++) {
		if (*q == '_') {
			if (!prev_digit || q + 1 >= e)
				return false;
			prev_digit = false;
			continue;
		}
		int d = hexval((unsigned char)*q);
		if (d < 0 || d >= base)
			return false;
		prev_digit = true;
	}
	return true;
}

/* Value of a well-formed digit run; false on overflow past `limit`. */
static bool run_value(const char *s, const char *e, int base, unsigned long long limit,
                      unsigned long long *out)
{
	unsigned long long u = 0;
	for (const char *q = s; q < e; q++) {
		if (*q == '_')
			continue;
		unsigned d = (unsigned)hexval((unsigned char)*q);
		if (u > (limit - d) / (unsigned)base)
			return false;
		u = u * (unsigned)base + d;
	}
	*out = u;
	return true;
}

/* Classify and decode the number token [s, e): integer (range-checked) or
 * float (text kept).  Returns 0 or -1. */
static int decode_number(struct parser *P, const char *s, const char *e, struct val *v)
{
	size_t n = (size_t)(e - s);
	char tok[64];
	(void)snprintf(tok, sizeof(tok), "%.*s%s", (int)(n > 40 ? 40 : n), s, n > 40 ? "..." : "");

	const char *q = s;
	bool neg = false, sign = false;
	if (*q == '+' || *q == '-') {
		neg = *q == '-';
		sign = true;
		q++;
	}
	size_t rest = (size_t)(e - q);
	if ((rest == 3 && (memcmp(q, "inf", 3) == 0 || memcmp(q, "nan", 3) == 0))) {
		v->type = TOML_FLOAT;
		v->text = xstrndup(s, n);
		return 0;
	}
	if (rest >= 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'o' || q[1] == 'b')) {
		int base = q[1] == 'x' ? 16 : q[1] == 'o' ? 8 : 2;
		unsigned long long u;
		if (sign)
			return fail(P, P->line,
			            "invalid integer %s: no sign allowed with a 0%c prefix", tok,
			            q[1]);
		if (!digit_run(q + 2, e, base))
			return fail(P, P->line, "invalid integer %s", tok);
		if (!run_value(q + 2, e, base, INT64_MAX, &u))
			return fail(P, P->line, "integer %s does not fit in 64 bits", tok);
		v->type = TOML_INT;
		v->num = (long long)u;
		v->text = xasprintf("%lld", v->num);
		return 0;
	}
	/* decimal integer part */
	const char *ip = q;
	while (q < e && (is_digit((unsigned char)*q) || *q == '_'))
		q++;
	const char *ip_end = q;
	if (!digit_run(ip, ip_end, 10))
		return fail(P, P->line, "invalid number %s", tok);
	if (ip_end - ip > 1 && ip[0] == '0')
		return fail(P, P->line, "invalid number %s: leading zeros are not allowed", tok);
	if (q == e) {
		unsigned long long u;
		unsigned long long limit = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
		if (!run_value(ip, ip_end, 10, limit, &u))
			return fail(P, P->line, "integer %s does not fit in 64 bits", tok);
		v->type = TOML_INT;
		if (neg)
			v->num = u == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(long long)u;
		else
			v->num = (long long)u;
		v->text = xasprintf("%lld", v->num);
		return 0;
	}
	/* float: fraction and/or exponent */
	bool any = false;
	if (*q == '.') {
		const char *f = ++q;
		while (q < e && (is_digit((unsigned char)*q) || *q == '_'))
			q++;
		if (!digit_run(f, q, 10))
			return fail(P, P->line, "invalid float %s", tok);
		any = true;
	}
	if (q < e && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < e && (*q == '+' || *q == '-'))
			q++;
		const char *x = q;
		while (q < e && (is_digit((unsigned char)*q) || *q == '_'))
			q++;
		if (!digit_run(x, q, 10))
			return fail(P, P->line, "invalid float %s", tok);
		any = true;
	}
	if (!any || q != e)
		return fail(P, P->line, "invalid number %s", tok);
	v->type = TOML_FLOAT;
	v->text = xstrndup(s, n);
	return 0;
}

/* Read exactly n digits at P->p into *out. */
static bool digits(struct parser *P, size_t n, int *out)
{
	int x = 0;
	for (size_t i = 0; i < n; i++) {
		int c = peek_at(P, i);
		if (!is_digit(c))
			return false;
		x = x * 10 + (c - '0');
	}
	*out = x;
	P->p += n;
	return true;
}

/* Fixed-width digit groups separated by `sep` (e.g. HH:MM:SS) into out[]. */
static bool groups(struct parser *P, const size_t *widths, size_t n, char sep, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			if (peek(P) != sep)
				return false;
			P->p++;
		}
		if (!digits(P, widths[i], &out[i]))
			return false;
	}
	return true;
}

/* HH:MM:SS[.frac] at P->p.  Returns 0 or -1. */
static int parse_time(struct parser *P, const char *tok)
{
	static const size_t w[] = {2, 2, 2};
	int t[3];
	if (!groups(P, w, 3, ':', t))
		return fail(P, P->line, "invalid time in %s (expected HH:MM:SS)", tok);
	if (t[0] > 23 || t[1] > 59 || t[2] > 60)
		return fail(P, P->line, "invalid time in %s", tok);
	if (peek(P) == '.') {
		P->p++;
		if (!is_digit(peek(P)))
			return fail(P, P->line, "invalid fractional seconds in %s", tok);
		while (is_digit(peek(P)))
			P->p++;
	}
	return 0;
}

/* A date-time, date or time starting at P->p (text kept).  Returns 0 or -1. */
static int parse_datetime(struct parser *P, struct val *v)
{
	const char *s = P->p;
	char tok[48];
	size_t avail = (size_t)(P->end - s);
	(void)snprintf(tok, sizeof(tok), "%.*s", (int)(avail > 35 ? 35 : avail), s);
	for (char *t = tok; *t; t++)
		if (*t == '\n' || *t == '\r' || *t == '#' || *t == ',' || *t == ']')
			*t = '\0';

	if (peek_at(P, 2) == ':') {
		if (parse_time(P, tok) < 0)
			return -1;
	} else {
		static const size_t w[] = {4, 2, 2};
		int ymd[3];
		if (!groups(P, w, 3, '-', ymd))
			return fail(P, P->line, "invalid date %s (expected YYYY-MM-DD)", tok);
		int y = ymd[0], mo = ymd[1], d = ymd[2];
		static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
		    (mo == 2 && d == 29 && !leap))
			return fail(P, P->line, "invalid date %s", tok);
		int c = peek(P);
		bool time = false;
		if ((c == 'T' || c == 't') && is_digit(peek_at(P, 1)))
			time = true;
		else if (c == ' ' && is_digit(peek_at(P, 1)) && is_digit(peek_at(P, 2)) &&
		         peek_at(P, 3) == ':')
			time = true;
		if (time) {
			P->p++;
			if (parse_time(P, tok) < 0)
				return -1;
			c = peek(P);
			if (c == 'Z' || c == 'z') {
				P->p++;
			} else if (c == '+' || c == '-') {
				static const size_t wo[] = {2, 2};
				int off[2];
				P->p++;
				if (!groups(P, wo, 2, ':', off) || off[0] > 23 || off[1] > 59)
					return fail(P, P->line, "invalid time offset in %s", tok);
			}
		}
	}
	v->type = TOML_DATETIME;
	v->text = xstrndup(s, (size_t)(P->p - s));
	return 0;
}

/* [ value, ... ] over any number of lines, comments and a trailing comma
 * allowed.  Returns 0 or -1. */
static int parse_array(struct parser *P, struct val *v)
{
	int start_line = P->line;
	P->p++; /* '[' */
	canon_add(P, "[", 1);
	v->type = TOML_ARRAY;
	v->all_strings = true;
	struct sbuf joined = {0};
	sb_add(&joined, "", 0);
	char buf[16];
	for (;;) {
		if (skip_blank(P) < 0)
			goto bad;
		if (peek(P) == ']') {
			P->p++;
			break;
		}
		if (peek(P) < 0) {
			fail(P, start_line, "unterminated array");
			goto bad;
		}
		struct val el = {0};
		if (v->arr.n > 0)
			canon_add(P, ", ", 2);
		if (parse_value(P, &el) < 0) {
			free_val(&el);
			goto bad;
		}
		if (el.type == TOML_ARRAY) {
			char *raw = xstrndup(el.raw, (size_t)(el.raw_end - el.raw));
			strv_push(&v->arr, raw);
			free(raw);
		} else {
			strv_push(&v->arr, el.text);
		}
		if (el.type != TOML_STRING)
			v->all_strings = false;
		free_val(&el);
		if (v->arr.n > 1)
			sb_addc(&joined, '\n');
		sb_add(&joined, v->arr.v[v->arr.n - 1], strlen(v->arr.v[v->arr.n - 1]));
		if (skip_blank(P) < 0)
			goto bad;
		if (peek(P) == ',') {
			P->p++;
			continue;
		}
		if (peek(P) == ']') {
			P->p++;
			break;
		}
		if (peek(P) < 0)
			fail(P, start_line, "unterminated array");
		else
			fail(P, P->line, "expected ',' or ']' in array, found %s",
			     show(P, buf, sizeof(buf)));
		goto bad;
	}
	canon_add(P, "]", 1);
	v->text = joined.s;
	return 0;
bad:
	free(joined.s);
	return -1;
}

/* Parse any value at P->p into *v (inline tables only as text), writing it
 * to P->canon in canonical form too when set.  Returns 0 or -1. */
static int parse_value(struct parser *P, struct val *v)
{
	char buf[16];
	int rc = -1;
	int c = peek(P);
	v->raw = P->p;
	if (++P->depth > MAX_DEPTH) {
		fail(P, P->line, "arrays or inline tables nested too deeply");
		goto out;
	}
	if (c == '"' || c == '\'') {
		v->type = TOML_STRING;
		rc = parse_string(P, &v->text, true);
		if (rc == 0 && P->canon != NULL)
			canon_string(P->canon, v->text, false);
	} else if (c == 't' || c == 'f') {
		const char *w = c == 't' ? "true" : "false";
		size_t n = strlen(w);
		if ((size_t)(P->end - P->p) < n || memcmp(P->p, w, n) != 0 ||
		    is_bare(peek_at(P, n))) {
			fail(P, P->line, "invalid value (expected true or false)");
			goto out;
		}
		P->p += n;
		v->type = TOML_BOOL;
		v->num = c == 't';
		v->text = xstrdup(w);
		canon_add(P, w, n);
		rc = 0;
	} else if (c == '[') {
		rc = parse_array(P, v);
	} else if (c == '{') {
		struct node tmp = {0};
		rc = parse_inline_table(P, &tmp, NULL, 0, false);
		free_kids(&tmp);
		v->type = TOML_INLINE_TABLE;
		if (rc == 0)
			v->text = xstrndup(v->raw, (size_t)(P->p - v->raw));
	} else if (is_digit(c) && is_digit(peek_at(P, 1)) &&
	           ((is_digit(peek_at(P, 2)) && is_digit(peek_at(P, 3)) && peek_at(P, 4) == '-') ||
	            peek_at(P, 2) == ':')) {
		rc = parse_datetime(P, v);
		if (rc == 0)
			canon_add(P, v->raw, (size_t)(P->p - v->raw));
	} else if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n') {
		const char *s = P->p;
		while (P->p < P->end && (is_bare(*P->p) || *P->p == '.' || *P->p == '+'))
			P->p++;
		rc = decode_number(P, s, P->p, v);
		if (rc == 0)
			canon_add(P, s, (size_t)(P->p - s));
	} else {
		fail(P, P->line, "expected a value, found %s", show(P, buf, sizeof(buf)));
	}
out:
	P->depth--;
	v->raw_end = P->p;
	return rc;
}

/* Parse `key = value` into table tbl, whose path is base.  With emit, the
 * key (or each key of an inline table) becomes a logical line with its
 * value in canonical form; without, the pair is written to P->canon (when
 * set).  Returns 0 or -1. */
static int parse_keyval(struct parser *P, struct node *tbl, const struct toml_comp *base,
                        size_t nbase, bool emit)
{
	int line = P->line;
	struct strv comps = {0};
	struct val v = {0};
	char *full = NULL;
	char buf[16];
	int rc = -1;

	if (parse_key(P, &comps) < 0)
		goto out;
	full = xstrdup(comps.v[0]);
	for (size_t i = 1; i < comps.n; i++) {
		char *f = xasprintf("%s.%s", full, comps.v[i]);
		free(full);
		full = f;
	}
	if (peek(P) != '=') {
		fail(P, P->line, "expected '=' after key '%s', found %s", full,
		     show(P, buf, sizeof(buf)));
		goto out;
	}
	P->p++;
	skip_ws(P);
	if (!emit) {
		canon_key(P, &comps);
		canon_add(P, " = ", 3);
	}

	struct node *n = tbl;
	for (size_t i = 0; i + 1 < comps.n; i++) {
		struct node *k = find_kid(n, comps.v[i]);
		if (k == NULL) {
			k = add_kid(n, comps.v[i], NODE_TABLE, NODE_DOTTED);
		} else if (k->kind != NODE_TABLE || !(k->flags & NODE_DOTTED) ||
		           (k->flags & NODE_CLOSED)) {
			fail(P, line, "key '%s': '%s' is already defined and cannot be extended",
			     full, comps.v[i]);
			goto out;
		}
		n = k;
	}
	const char *last = comps.v[comps.n - 1];
	if (find_kid(n, last) != NULL) {
		fail(P, line, "duplicate key '%s'", full);
		goto out;
	}
	if (peek(P) == '{') {
		struct node *k = add_kid(n, last, NODE_TABLE, NODE_DOTTED);
		struct toml_comp *path = xcalloc(nbase + comps.n, sizeof(*path));
		for (size_t i = 0; i < nbase; i++)
			path[i] = base[i];
		for (size_t i = 0; i < comps.n; i++)
			path[nbase + i] = (struct toml_comp){comps.v[i], -1};
		if (++P->depth > MAX_DEPTH)
			rc = fail(P, P->line, "arrays or inline tables nested too deeply");
		else
			rc = parse_inline_table(P, k, path, nbase + comps.n, emit);
		P->depth--;
		if (rc == 0 && emit && k->nkids == 0)
			add_line(P, TOML_LINE_TABLE, line, base, nbase, &comps, NULL);
		free(path); /* names are borrowed */
		close_tree(k);
		goto out;
	}
	struct sbuf *outer = P->canon;
	struct sbuf canon = {0};
	if (emit) {
		sb_add(&canon, "", 0);
		P->canon = &canon;
	}
	rc = parse_value(P, &v);
	P->canon = outer;
	if (rc < 0) {
		free(canon.s);
		goto out;
	}
	add_kid(n, last, NODE_VALUE, 0);
	if (emit)
		add_line(P, TOML_LINE_KEY, line, base, nbase, &comps, canon.s);
out:
	free_val(&v);
	free(full);
	strv_free(&comps);
	return rc;
}

/* { key = value, ... } on one line into tbl (written to P->canon when set).
 * Returns 0 or -1. */
static int parse_inline_table(struct parser *P, struct node *tbl, const struct toml_comp *base,
                              size_t nbase, bool emit)
{
	char buf[16];
	P->p++; /* '{' */
	canon_add(P, "{", 1);
	skip_ws(P);
	if (peek(P) == '}') {
		P->p++;
		canon_add(P, "}", 1);
		return 0;
	}
	for (;;) {
		if (parse_keyval(P, tbl, base, nbase, emit) < 0)
			return -1;
		skip_ws(P);
		if (peek(P) == ',') {
			P->p++;
			canon_add(P, ", ", 2);
			skip_ws(P);
			if (peek(P) == '}')
				return fail(P, P->line, "trailing comma in inline table");
			continue;
		}
		if (peek(P) == '}') {
			P->p++;
			canon_add(P, "}", 1);
			return 0;
		}
		return fail(P, P->line, "expected ',' or '}' in inline table, found %s",
		            show(P, buf, sizeof(buf)));
	}
}

/* ---- tables ------------------------------------------------------------ */

/* [a.b] or [[a.b]]: make it the current table.  Returns 0 or -1. */
static int parse_header(struct parser *P)
{
	int line = P->line;
	bool array = false;
	struct strv comps = {0};
	struct toml_comp *path = NULL;
	char *full = NULL;
	char buf[16];
	int rc = -1;

	P->p++;
	if (peek(P) == '[') {
		array = true;
		P->p++;
	}
	if (parse_key(P, &comps) < 0)
		goto out;
	full = xstrdup(comps.v[0]);
	for (size_t i = 1; i < comps.n; i++) {
		char *f = xasprintf("%s.%s", full, comps.v[i]);
		free(full);
		full = f;
	}
	if (peek(P) != ']' || (array && peek_at(P, 1) != ']')) {
		if (peek(P) == ']')
			P->p++; /* show what follows the first ']' of "]]" */
		fail(P, line, "expected '%s' after table name '%s', found %s", array ? "]]" : "]",
		     full, show(P, buf, sizeof(buf)));
		goto out;
	}
	P->p += array ? 2 : 1;

	path = xcalloc(comps.n, sizeof(*path));
	struct node *n = &P->root;
	for (size_t i = 0; i < comps.n; i++) {
		path[i].name = xstrdup(comps.v[i]);
		path[i].index = -1;
		struct node *k = find_kid(n, comps.v[i]);
		bool last = i + 1 == comps.n;
		if (k != NULL && (k->kind == NODE_VALUE || (k->flags & NODE_CLOSED))) {
			fail(P, line, "table [%s]: '%s' is already defined as a value", full,
			     comps.v[i]);
			goto out;
		}
		if (!last) {
			if (k == NULL)
				k = add_kid(n, comps.v[i], NODE_TABLE, 0);
			if (k->kind == NODE_TABLE_ARRAY) {
				path[i].index = (int)k->nkids - 1;
				k = k->kids[k->nkids - 1];
			}
			n = k;
			continue;
		}
		if (array) {
			if (k == NULL) {
				k = add_kid(n, comps.v[i], NODE_TABLE_ARRAY, 0);
			} else if (k->kind != NODE_TABLE_ARRAY) {
				fail(P, line,
				     "array of tables [[%s]]: '%s' is already defined as a table",
				     full, full);
				goto out;
			}
			path[i].index = (int)k->nkids;
			n = add_kid(k, NULL, NODE_TABLE, NODE_HEADER);
		} else {
			if (k == NULL) {
				k = add_kid(n, comps.v[i], NODE_TABLE, NODE_HEADER);
			} else if (k->kind == NODE_TABLE_ARRAY) {
				fail(P, line, "table [%s] is already defined as an array of tables",
				     full);
				goto out;
			} else if (k->flags & (NODE_HEADER | NODE_DOTTED)) {
				fail(P, line, "table [%s] is defined more than once", full);
				goto out;
			}
			k->flags |= NODE_HEADER;
			n = k;
		}
	}
	free_path(P->path, P->npath);
	P->path = path;
	P->npath = comps.n;
	path = NULL;
	P->table = n;
	add_line(P, TOML_LINE_TABLE, line, P->path, P->npath, NULL, NULL);
	rc = expect_eol(P, array ? "array of tables header" : "table header");
out:
	if (path != NULL)
		free_path(path, comps.n);
	free(full);
	strv_free(&comps);
	return rc;
}

void toml_doc_free(struct toml_doc *doc)
{
	for (size_t i = 0; i < doc->n; i++) {
		free_path(doc->lines[i].path, doc->lines[i].npath);
		free(doc->lines[i].value);
	}
	free(doc->lines);
	doc->lines = NULL;
	doc->n = 0;
}

int toml_parse(const char *name, const char *text, size_t len, struct toml_doc *doc, char *err,
               size_t errlen)
{
	struct parser P = {
	        .name = name,
	        .p = text,
	        .end = text + len,
	        .line = 1,
	        .err = err,
	        .errlen = errlen,
	        .doc = doc,
	};
	int rc = -1;
	doc->lines = NULL;
	doc->n = 0;
	P.table = &P.root;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		P.p += 3;
	if (check_utf8(&P) < 0)
		goto out;
	while (P.p < P.end) {
		skip_ws(&P);
		int c = peek(&P);
		if (c < 0)
			break;
		if (c == '#') {
			if (skip_comment(&P) < 0)
				goto out;
		} else if (c == '\n' || c == '\r') {
			if (eat_newline(&P) == 0) {
				fail(&P, P.line, "carriage return not followed by a newline");
				goto out;
			}
		} else if (c == '[') {
			if (parse_header(&P) < 0)
				goto out;
		} else {
			if (parse_keyval(&P, P.table, P.path, P.npath, true) < 0)
				goto out;
			if (expect_eol(&P, "value") < 0)
				goto out;
		}
	}
	rc = 0;
out:
	free_kids(&P.root);
	free_path(P.path, P.npath);
	if (rc < 0)
		toml_doc_free(doc);
	return rc;
}

char *toml_path_join(const struct toml_comp *path, size_t n)
{
	char *s = NULL;
	size_t len = 0, cap = 0;
	buf_append(&s, &len, &cap, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append(&s, &len, &cap, ".", 1);
		buf_append(&s, &len, &cap, path[i].name, strlen(path[i].name));
		if (path[i].index >= 0)
			buf_appendf(&s, &len, &cap, "[%d]", path[i].index);
	}
	return s;
}

/* ---- decoding what inih hands back -------------------------------------- */

/* A parser over the `len` bytes at text, for the decoders. */
static struct parser decoder(const char *name, int line, const char *text, size_t len, char *err,
                             size_t errlen)
{
	struct parser P = {
	        .name = name,
	        .p = text,
	        .end = text + len,
	        .line = line,
	        .err = err,
	        .errlen = errlen,
	};
	P.table = &P.root;
	skip_ws(&P);
	return P;
}

/* Nothing but whitespace may follow what was decoded.  Returns 0 or -1. */
static int expect_end(struct parser *P, const char *after)
{
	char buf[16];
	skip_ws(P);
	if (P->p >= P->end)
		return 0;
	return fail(P, P->line, "unexpected %s after %s", show(P, buf, sizeof(buf)), after);
}

/* Move a parsed value into *out. */
static void take_val(struct val *from, struct toml_value *out)
{
	out->type = from->type;
	out->text = from->text;
	out->num = from->num;
	out->arr = from->arr;
	out->arr_all_strings = from->all_strings;
	from->text = NULL;
	from->arr = (struct strv){0};
}

void toml_value_free(struct toml_value *v)
{
	free(v->text);
	strv_free(&v->arr);
	memset(v, 0, sizeof(*v));
}

int toml_decode_value(const char *name, int line, const char *text, size_t len,
                      struct toml_value *v, char *err, size_t errlen)
{
	struct parser P = decoder(name, line, text, len, err, errlen);
	struct val val = {0};
	memset(v, 0, sizeof(*v));
	int rc = parse_value(&P, &val);
	if (rc == 0)
		rc = expect_end(&P, "value");
	if (rc == 0)
		take_val(&val, v);
	free_val(&val);
	return rc;
}

int toml_decode_key(const char *name, int line, const char *text, size_t len, struct strv *comps,
                    char *err, size_t errlen)
{
	struct parser P = decoder(name, line, text, len, err, errlen);
	if (parse_key(&P, comps) < 0)
		return -1;
	return expect_end(&P, "key");
}

int toml_decode_inline_key(const char *name, int line, const char *text, size_t len,
                           struct strv *comps, struct toml_value *v, char *err, size_t errlen)
{
	struct parser P = decoder(name, line, text, len, err, errlen);
	struct val val = {0};
	char buf[16];
	int rc = -1;
	memset(v, 0, sizeof(*v));
	if (peek(&P) != '{') {
		fail(&P, line, "expected '{', found %s", show(&P, buf, sizeof(buf)));
		goto out;
	}
	P.p++;
	if (parse_key(&P, comps) < 0)
		goto out;
	if (peek(&P) != '=') {
		fail(&P, line, "expected '=' after key, found %s", show(&P, buf, sizeof(buf)));
		goto out;
	}
	P.p++;
	skip_ws(&P);
	if (parse_value(&P, &val) < 0)
		goto out;
	skip_ws(&P);
	if (peek(&P) != '}') {
		fail(&P, line, "expected '}', found %s", show(&P, buf, sizeof(buf)));
		goto out;
	}
	P.p++;
	rc = expect_end(&P, "inline table");
	if (rc == 0)
		take_val(&val, v);
out:
	free_val(&val);
	return rc;
}
