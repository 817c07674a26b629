/* s3xml.c - a small reader for the few XML replies of S3 (error codes, upload ids, listings). */
#include "s3xml.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum tok_kind { TOK_START, TOK_END, TOK_EMPTY, TOK_SKIP, TOK_CDATA };

/* One piece of markup: a start, end or self-closing tag (name), a comment
 * or processing instruction (skipped), or a CDATA section (its text). */
struct tok {
	enum tok_kind kind;
	const char *name; /* tags: the name; CDATA: the text */
	size_t nlen;
	const char *next; /* just after the markup */
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool has_prefix(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* The markup from p (where *p is '<') up to `closer` into *t as `kind`.
 * Returns 0, or -1 when the closer is missing. */
static int tok_until(const char *p, const char *end, size_t skip, const char *closer,
                     enum tok_kind kind, struct tok *t)
{
	size_t cl = strlen(closer);
	const char *q = memmem(p + skip, (size_t)(end - p) - skip, closer, cl);
	if (q == NULL)
		return -1;
	t->kind = kind;
	t->name = p + skip;
	t->nlen = (size_t)(q - (p + skip));
	t->next = q + cl;
	return 0;
}

/* A tag's name from p: up to white space, '>' or '/'.  Returns its length
 * (0 when empty). */
static size_t name_len(const char *p, const char *end)
{
	const char *q = p;
	while (q < end && !is_space(*q) && *q != '>' && *q != '/' && *q != '<' && *q != '=')
		q++;
	return (size_t)(q - p);
}

/* Parse the markup at p (*p == '<') into *t.  Returns 0, or -1 when it is
 * malformed, unterminated or a DOCTYPE. */
static int tok_read(const char *p, const char *end, struct tok *t)
{
	if (has_prefix(p, end, "<!--"))
		return tok_until(p, end, 4, "-->", TOK_SKIP, t);
	if (has_prefix(p, end, "<![CDATA["))
		return tok_until(p, end, 9, "]]>", TOK_CDATA, t);
	if (has_prefix(p, end, "<?"))
		return tok_until(p, end, 2, "?>", TOK_SKIP, t);
	if (has_prefix(p, end, "<!"))
		return -1;
	bool closing = has_prefix(p, end, "</");
	const char *q = p + (closing ? 2 : 1);
	t->name = q;
	t->nlen = name_len(q, end);
	if (t->nlen == 0)
		return -1;
	q += t->nlen;
	if (closing) {
		while (q < end && is_space(*q))
			q++;
		if (q >= end || *q != '>')
			return -1;
		t->kind = TOK_END;
		t->next = q + 1;
		return 0;
	}
	/* Attributes: skipped, with quoted values that may hold '>' or '/'. */
	while (q < end) {
		if (*q == '>') {
			t->kind = TOK_START;
			t->next = q + 1;
			return 0;
		}
		if (*q == '/') {
			if (q + 1 >= end || q[1] != '>')
				return -1;
			t->kind = TOK_EMPTY;
			t->next = q + 2;
			return 0;
		}
		if (*q == '"' || *q == '\'') {
			const char *e = memchr(q + 1, *q, (size_t)(end - q - 1));
			if (e == NULL)
				return -1;
			q = e;
		} else if (*q == '<') {
			return -1;
		}
		q++;
	}
	return -1;
}

static bool name_is(const struct tok *t, const char *name, size_t nlen)
{
	return t->nlen == nlen && memcmp(t->name, name, nlen) == 0;
}

/* From p (just after the start tag of element `name`), find that element's
 * end tag: *inner_end is where it starts, *after just past it.  Every
 * element in between must be closed by its own end tag.  Returns 0, or -1
 * when the content is malformed, unterminated or nested too deep. */
static int close_of(const char *p, const char *end, const char *name, size_t nlen,
                    const char **inner_end, const char **after)
{
	struct tok stack[S3XML_DEPTH_MAX];
	size_t depth = 0;
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL)
			return -1;
		struct tok t;
		if (tok_read(lt, end, &t) != 0)
			return -1;
		if (t.kind == TOK_START) {
			if (depth == S3XML_DEPTH_MAX)
				return -1;
			stack[depth++] = t;
		} else if (t.kind == TOK_END) {
			if (depth == 0) {
				if (!name_is(&t, name, nlen))
					return -1;
				*inner_end = lt;
				*after = t.next;
				return 0;
			}
			depth--;
			if (!name_is(&t, stack[depth].name, stack[depth].nlen))
				return -1;
		}
		p = t.next;
	}
	return -1;
}

/* Whether [p, end) holds only white space, comments and processing
 * instructions (what may surround the root element). */
static bool only_misc(const char *p, const char *end)
{
	while (p < end) {
		if (is_space(*p)) {
			p++;
			continue;
		}
		struct tok t;
		if (*p != '<' || tok_read(p, end, &t) != 0 || t.kind != TOK_SKIP)
			return false;
		p = t.next;
	}
	return true;
}

int s3xml_root(const char *doc, size_t len, char *name, size_t namelen, struct s3xml_span *inner)
{
	const char *p = doc, *end = doc + len;
	if (has_prefix(p, end, "\xef\xbb\xbf")) /* a UTF-8 byte order mark */
		p += 3;
	while (p < end) {
		if (is_space(*p)) {
			p++;
			continue;
		}
		struct tok t;
		if (*p != '<' || tok_read(p, end, &t) != 0)
			return -1;
		if (t.kind == TOK_SKIP) {
			p = t.next;
			continue;
		}
		if (t.kind != TOK_START && t.kind != TOK_EMPTY)
			return -1;
		if (t.nlen >= namelen)
			return -1;
		memcpy(name, t.name, t.nlen);
		name[t.nlen] = '\0';
		const char *inner_end = t.next, *after = t.next;
		if (t.kind == TOK_START &&
		    close_of(t.next, end, t.name, t.nlen, &inner_end, &after) != 0)
			return -1;
		if (!only_misc(after, end))
			return -1;
		inner->p = t.next;
		inner->len = (size_t)(inner_end - t.next);
		return 0;
	}
	return -1;
}

int s3xml_next(const struct s3xml_span *parent, const char *name, size_t *pos,
               struct s3xml_span *child)
{
	const char *end = parent->p + parent->len;
	const char *p = parent->p + (*pos < parent->len ? *pos : parent->len);
	size_t nlen = strlen(name);
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL)
			break;
		struct tok t;
		if (tok_read(lt, end, &t) != 0 || t.kind == TOK_END)
			return -1;
		const char *inner_end = t.next, *after = t.next;
		if (t.kind == TOK_START &&
		    close_of(t.next, end, t.name, t.nlen, &inner_end, &after) != 0)
			return -1;
		if ((t.kind == TOK_START || t.kind == TOK_EMPTY) && name_is(&t, name, nlen)) {
			child->p = t.next;
			child->len = (size_t)(inner_end - t.next);
			*pos = (size_t)(after - parent->p);
			return 1;
		}
		p = after;
	}
	*pos = parent->len;
	return 0;
}

/* Append n bytes to buf (capacity cap, *len used).  Returns 0, or -1 when
 * they and the final NUL do not fit. */
static int put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	if (n >= cap - *len)
		return -1;
	memcpy(buf + *len, s, n);
	*len += n;
	return 0;
}

/* Code point cp as UTF-8 into out (4 bytes); returns the length, or 0 for a
 * code point XML does not allow. */
static size_t utf8(uint32_t cp, char *out)
{
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode the entity at p (*p == '&') into out (up to 4 bytes): *outlen its
 * length, *next just past the ';'.  Returns 0, or -1 when it is unknown or
 * malformed. */
static int entity(const char *p, const char *end, char *out, size_t *outlen, const char **next)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
	size_t max = (size_t)(end - p) < 12 ? (size_t)(end - p) : 12;
	const char *semi = memchr(p, ';', max);
	if (semi == NULL)
		return -1;
	const char *s = p + 1;
	size_t n = (size_t)(semi - s);
	*next = semi + 1;
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strlen(named[i].name) == n && memcmp(s, named[i].name, n) == 0) {
			out[0] = named[i].c;
			*outlen = 1;
			return 0;
		}
	}
	if (n < 2 || s[0] != '#')
		return -1;
	bool hex = s[1] == 'x';
	const char *d = s + (hex ? 2 : 1);
	if (d == semi)
		return -1;
	uint32_t cp = 0;
	for (; d < semi; d++) {
		int v;
		if (*d >= '0' && *d <= '9')
			v = *d - '0';
		else if (hex && *d >= 'a' && *d <= 'f')
			v = *d - 'a' + 10;
		else if (hex && *d >= 'A' && *d <= 'F')
			v = *d - 'A' + 10;
		else
			return -1;
		cp = cp * (hex ? 16u : 10u) + (uint32_t)v;
		if (cp > 0x10ffff)
			return -1;
	}
	*outlen = utf8(cp, out);
	return *outlen == 0 ? -1 : 0;
}

int s3xml_text(const struct s3xml_span *s, char *buf, size_t buflen)
{
	const char *p = s->p, *end = s->p + s->len;
	size_t len = 0;
	if (buflen == 0)
		return -1;
	buf[0] = '\0';
	while (p < end) {
		const char *stop = p;
		while (stop < end && *stop != '<' && *stop != '&')
			stop++;
		if (put(buf, buflen, &len, p, (size_t)(stop - p)) != 0)
			goto fail;
		p = stop;
		if (p >= end)
			break;
		if (*p == '&') {
			char ch[4];
			size_t n = 0;
			if (entity(p, end, ch, &n, &p) != 0 || put(buf, buflen, &len, ch, n) != 0)
				goto fail;
			continue;
		}
		struct tok t;
		if (tok_read(p, end, &t) != 0)
			goto fail;
		if (t.kind == TOK_CDATA) {
			if (put(buf, buflen, &len, t.name, t.nlen) != 0)
				goto fail;
		} else if (t.kind != TOK_SKIP) {
			goto fail; /* an element inside: not a text-only element */
		}
		p = t.next;
	}
	buf[len] = '\0';
	return 0;
fail:
	buf[0] = '\0';
	return -1;
}

int s3xml_child_text(const struct s3xml_span *parent, const char *name, char *buf, size_t buflen)
{
	struct s3xml_span child;
	size_t pos = 0;
	if (buflen > 0)
		buf[0] = '\0';
	int rc = s3xml_next(parent, name, &pos, &child);
	if (rc <= 0)
		return rc == 0 ? 1 : -1;
	return s3xml_text(&child, buf, buflen);
}
