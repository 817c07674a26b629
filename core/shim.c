/* shim.c - the TOML reader's logical lines through libinih into the configuration's values and tables.
 *
 * toml.c has read the file into logical lines, one per table header and
 * per key, each value in a canonical TOML form on one line (toml.h).  The
 * shim writes them as INI text that libinih reads through our own
 * ini_reader (ini_parse_stream); inih splits each line into section, key
 * and value, and the handler decodes the names as TOML keys and the value
 * by TOML rules into cfg's values and tables.
 *
 * The text is written around what Debian's libinih 55 does (ini.h, and
 * check_config's "inih" tests, which put each point to the installed
 * library):
 * - Its line buffer holds 200 bytes (INI_MAX_LINE; the reader is told the
 *   size).  A longer line goes on in continuation lines: a line starting
 *   with whitespace continues the previous key, and inih hands each piece
 *   back under the same name, which the handler joins again.  inih trims
 *   whitespace at both ends of a piece and takes one starting with ';' or
 *   '#' for a comment, so a line is cut between two characters that are
 *   neither (a natural cut); in a string holding a long run of spaces or
 *   '#', the character at the cut is written as a \u escape instead.
 * - ';' after whitespace starts an inline comment, '=' and ':' end a key,
 *   ']' ends a section name: canonical TOML has none of them outside
 *   quotes, and escapes them inside quoted names (';' in values too).
 * - A section name keeps 49 bytes (ini.c's MAX_SECTION is 50; ini.h does
 *   not say), and a key must end on the line it starts: the components of
 *   a path are shared between section and key so that both fit, and a key
 *   that cannot fit even so (a name of hundreds of bytes) is written as
 *   `@ = {KEY = VALUE}`, an inline table holding the one key, so that the
 *   name travels as a value.
 * - INI has no [[array of tables]] and cannot say that a table exists
 *   without a key: a table is written as `NAME = {}`, and which element of
 *   an array of tables a path goes through, like the physical line, comes
 *   from the logical line being fed (inih calls the handler right after
 *   reading the line, before it asks for the next).  Every line fed must
 *   come back through the handler exactly once, as written; otherwise the
 *   load fails rather than misread the file.
 *
 * Debian's build also exports these options as variables
 * (ini_allow_multiline, ini_allow_inline_comments, ini_max_line ...;
 * upstream's ini.h has compile-time macros only).  The shim leaves them
 * at their defaults, which ini.h documents: they are process-wide and
 * Debian's own, and what a changed ini_max_line does to a buffer ini.h
 * puts on the stack is not said.  It writes each line to the size inih
 * passes to the reader.  A libinih that behaves otherwise is caught by
 * the check above; check_shim turns one option off to show it.  Whitespace is what isspace() says in the C locale (oma never
 * calls setlocale), for inih and the shim alike.
 */
#include "shim.h"
#include "common/errbuf.h"

#include <ctype.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "settings.h"
#include "toml.h"

/* ini.c's MAX_SECTION: inih keeps this many bytes of a section name, NUL
 * included. */
#define INIH_SECTION_MAX 50
/* The smallest line buffer the shim can work with. */
#define MIN_LINE         64
/* How far back from the end of a line a natural cut is looked for. */
#define CUT_SEARCH       16
/* Length of a \u00XX escape. */
#define ESCAPE_LEN       6

struct shim {
	const struct toml_doc *doc;
	struct oma_config *cfg;
	char *err;
	size_t errlen;
	bool failed;
	size_t next;   /* next logical line to feed */
	char *section; /* section of the last section line fed */
	/* the logical line being fed */
	const struct toml_line *cur; /* NULL between lines */
	char *want_section;          /* the section it is written in */
	char *text;                  /* its key line, "KEY = VALUE" or "@ = {KEY = VALUE}" */
	size_t len, pos;             /* length of text, and how much of it is fed */
	size_t keylen;               /* bytes of text before the value: never cut */
	size_t pieces;               /* lines of it fed */
	bool escape_first;           /* the next piece begins with an escaped character */
	bool awaiting;               /* a piece was fed that inih has not handed back */
	/* what inih handed back of it */
	char *got_section, *got_key;
	char *got;
	size_t got_len, got_cap;
};

/* Fail the load because inih did not hand back what it was fed (which no
 * libinih this was written for does). */
static void shim_broken(struct shim *S, const char *what)
{
	char where[32] = "";
	if (S->cur != NULL)
		(void)snprintf(where, sizeof(where), ":%d", S->cur->line);
	if (!S->failed)
		cm_errf(S->err, S->errlen,
		        "config %s%s: libinih did not hand back the line as written (%s)",
		        S->cfg->path, where, what);
	S->failed = true;
}

/* ---- writing the lines ------------------------------------------------- */

/* Components [from, to) of l's path as a canonical dotted key; the caller frees. */
static char *path_text(const struct toml_line *l, size_t from, size_t to)
{
	char *s = NULL;
	size_t len = 0, cap = 0;
	buf_append(&s, &len, &cap, "", 0);
	for (size_t i = from; i < to; i++) {
		if (i > from)
			buf_append(&s, &len, &cap, ".", 1);
		toml_key_write(&s, &len, &cap, l->path[i].name);
	}
	return s;
}

/* Start feeding logical line l, whose lines may hold num bytes: the
 * section it goes in and its key line. */
static void begin_line(struct shim *S, const struct toml_line *l, int num)
{
	/* A key goes in the section of its table header, a table in that of
	 * its parent; fewer components when the name would not fit. */
	size_t ns = l->kind == TOML_LINE_KEY ? l->ntable : l->npath - 1;
	char *sec = path_text(l, 0, ns);
	while (ns > 0 && strlen(sec) >= INIH_SECTION_MAX) {
		free(sec);
		sec = path_text(l, 0, --ns);
	}
	char *key = path_text(l, ns, l->npath);
	const char *value = l->kind == TOML_LINE_KEY ? l->value : "{}";
	size_t room = (size_t)num - 2; /* newline, NUL */
	if (strlen(key) + 3 + CUT_SEARCH + ESCAPE_LEN <= room) {
		S->text = xasprintf("%s = %s", key, value);
		S->keylen = strlen(key) + 3;
	} else {
		S->text = xasprintf("@ = {%s = %s}", key, value);
		S->keylen = 5;
	}
	free(key);
	S->cur = l;
	S->want_section = sec;
	S->len = strlen(S->text);
	S->pos = 0;
	S->pieces = 0;
	S->escape_first = false;
}

static void end_line(struct shim *S)
{
	free(S->want_section);
	free(S->text);
	S->want_section = NULL;
	S->text = NULL;
	S->cur = NULL;
}

static bool is_space(char c)
{
	return isspace((unsigned char)c) != 0;
}

/* Whether inih keeps a cut of S->text before byte c: the piece before it
 * does not end in whitespace, the one after does not begin with
 * whitespace or a comment character. */
static bool natural_cut(const struct shim *S, size_t c)
{
	char a = S->text[c - 1], b = S->text[c];
	return !is_space(a) && !is_space(b) && b != '#' && b != ';';
}

/* Write c as a \u00XX escape at out. */
static size_t write_escape(char *out, char c)
{
	(void)snprintf(out, ESCAPE_LEN + 1, "\\u%04X", (unsigned)(unsigned char)c);
	return ESCAPE_LEN;
}

/* The next line of the logical line being fed into out (num bytes): the
 * key line with as much of the value as fits, or a continuation line. */
static void next_piece(struct shim *S, char *out, size_t num)
{
	size_t room = num - 2, o = 0;
	if (S->pieces > 0) {
		out[o++] = ' '; /* continues the key */
		room--;
	}
	if (S->escape_first) {
		o += write_escape(out + o, S->text[S->pos++]);
		room -= ESCAPE_LEN;
		S->escape_first = false;
	}
	size_t cut = S->len;
	bool escape_last = false;
	if (S->len - S->pos > room) {
		size_t hi = S->pos + room;
		size_t lo = S->pieces == 0 ? S->keylen + 1 : S->pos + 1;
		cut = 0;
		for (size_t c = hi; c >= lo && c + CUT_SEARCH > hi; c--) {
			if (natural_cut(S, c)) {
				cut = c;
				break;
			}
		}
		if (cut == 0) {
			/* Inside a run of spaces or '#' that only a string holds:
			 * cut there, the characters at the cut escaped. */
			cut = hi - (ESCAPE_LEN - 1);
			escape_last = is_space(S->text[cut - 1]);
			S->escape_first = is_space(S->text[cut]) || S->text[cut] == '#';
		}
	}
	size_t plain = cut - S->pos - (escape_last ? 1 : 0);
	memcpy(out + o, S->text + S->pos, plain);
	o += plain;
	if (escape_last)
		o += write_escape(out + o, S->text[cut - 1]);
	out[o++] = '\n';
	out[o] = '\0';
	S->pos = cut;
	S->pieces++;
}

/* ini_reader: the next line for inih, or NULL at the end (or on failure). */
static char *shim_read(char *str, int num, void *stream)
{
	struct shim *S = stream;
	if (S->failed)
		return NULL;
	if (S->awaiting) {
		shim_broken(S, "a line was not handed back");
		return NULL;
	}
	if (S->cur == NULL) {
		if (S->next >= S->doc->n)
			return NULL;
		if (num < MIN_LINE) {
			cm_errf(S->err, S->errlen,
			        "config %s: libinih's line buffer of %d bytes is too small",
			        S->cfg->path, num);
			S->failed = true;
			return NULL;
		}
		begin_line(S, &S->doc->lines[S->next++], num);
	}
	if (strcmp(S->want_section, S->section) != 0) {
		free(S->section);
		S->section = xstrdup(S->want_section);
		(void)snprintf(str, (size_t)num, "[%s]\n", S->section);
		return str;
	}
	next_piece(S, str, (size_t)num);
	S->awaiting = true;
	return str;
}

/* ---- decoding what comes back ------------------------------------------ */

static enum cfg_type cfg_type_of(enum toml_type t)
{
	switch (t) {
	case TOML_STRING:
		return CFG_STRING;
	case TOML_INT:
		return CFG_INT;
	case TOML_BOOL:
		return CFG_BOOL;
	case TOML_FLOAT:
		return CFG_FLOAT;
	case TOML_ARRAY:
		return CFG_ARRAY;
	case TOML_DATETIME:
	case TOML_INLINE_TABLE:
		break;
	}
	return CFG_OTHER;
}

static void note_section(struct oma_config *cfg, const char *name, int line, int index)
{
	struct cfg_data *d = cfg->data;
	struct cfg_section *s = cfg_find_section(cfg, name);
	if (s == NULL) {
		d->sections = xrealloc(d->sections, (d->nsections + 1) * sizeof(*d->sections));
		s = &d->sections[d->nsections++];
		s->name = xstrdup(name);
		s->line = line;
		s->elems = 0;
	}
	if (index + 1 > s->elems)
		s->elems = index + 1;
}

/* A table at path (n components): its section is noted; one where a known
 * key belongs ([main.versions]) is a type error.  Returns 0 or -1. */
static int record_table(struct shim *S, const struct toml_comp *path, size_t n, int line)
{
	note_section(S->cfg, path[0].name, line, path[0].index);
	if (n < 2)
		return 0;
	const char *kind = settings_kind(S->cfg, path[0].name, path[1].name);
	if (kind == NULL)
		return 0;
	cm_errf(S->err, S->errlen, "config %s:%d: [%s] %s: expected %s, got a table", S->cfg->path,
	        line, path[0].name, path[1].name, kind);
	return -1;
}

/* The value v of the key at path (n components): a key of the section
 * path[0] named by the rest of the path, or of the top level. */
static void record_value(struct shim *S, const struct toml_comp *path, size_t n, int line,
                         struct toml_value *v)
{
	const char *sec = n == 1 ? "" : path[0].name;
	if (sec[0] != '\0')
		note_section(S->cfg, sec, line, path[0].index);
	struct cfg_data *d = S->cfg->data;
	d->values = xrealloc(d->values, (d->nvalues + 1) * sizeof(*d->values));
	struct cfg_value *cv = &d->values[d->nvalues++];
	memset(cv, 0, sizeof(*cv));
	cv->section = xstrdup(sec);
	cv->key = n == 1 ? xstrdup(path[0].name) : toml_path_join(path + 1, n - 1);
	cv->line = line;
	cv->type = cfg_type_of(v->type);
	cv->str = v->text;
	cv->num = v->num;
	cv->arr = v->arr;
	cv->arr_all_strings = v->arr_all_strings;
	cv->index = n > 1 ? path[0].index : -1;
	v->text = NULL;
	v->arr = (struct strv){0};
}

/* The whole of the logical line is back: decode section, key and value as
 * TOML and record them.  Returns 0 or -1 (S->failed set). */
static int finish_line(struct shim *S)
{
	const struct toml_line *l = S->cur;
	const char *name = S->cfg->path;
	struct strv comps = {0};
	struct toml_value v = {0};
	struct toml_comp *path = NULL;
	char derr[600];
	int rc = -1;

	if (S->got_section[0] != '\0' &&
	    toml_decode_key(name, l->line, S->got_section, strlen(S->got_section), &comps, derr,
	                    sizeof(derr)) < 0)
		goto bad_toml;
	if (strcmp(S->got_key, "@") == 0) {
		if (toml_decode_inline_key(name, l->line, S->got, S->got_len, &comps, &v, derr,
		                           sizeof(derr)) < 0)
			goto bad_toml;
	} else if (toml_decode_key(name, l->line, S->got_key, strlen(S->got_key), &comps, derr,
	                           sizeof(derr)) < 0 ||
	           toml_decode_value(name, l->line, S->got, S->got_len, &v, derr, sizeof(derr)) <
	                   0) {
		goto bad_toml;
	}
	if (comps.n != l->npath) {
		shim_broken(S, "not the key written");
		goto out;
	}
	path = xcalloc(comps.n, sizeof(*path));
	for (size_t i = 0; i < comps.n; i++)
		path[i] = (struct toml_comp){comps.v[i], l->path[i].index};
	if (v.type == TOML_INLINE_TABLE) {
		rc = record_table(S, path, comps.n, l->line);
	} else {
		record_value(S, path, comps.n, l->line, &v);
		rc = 0;
	}
	goto out;
bad_toml:
	cm_errf(S->err, S->errlen, "config %s", derr);
out:
	if (rc < 0)
		S->failed = true;
	free(path); /* names are the strv's */
	strv_free(&comps);
	toml_value_free(&v);
	return rc;
}

/* ini_handler: one piece of the logical line being fed, under the section
 * and key inih split off.  Returns 1, or 0 on failure (S->failed set). */
static int shim_handle(void *user, const char *section, const char *key, const char *value)
{
	struct shim *S = user;
	if (S->failed)
		return 0;
	if (!S->awaiting || S->cur == NULL) {
		shim_broken(S, "a line was handed back twice");
		return 0;
	}
	S->awaiting = false;
	if (S->pieces == 1) {
		/* the key line; continuation lines come under the same key
		 * (inih keeps 49 bytes of it for them) */
		free(S->got_section);
		free(S->got_key);
		S->got_section = xstrdup(section);
		S->got_key = xstrdup(key);
		S->got_len = 0;
	}
	buf_append(&S->got, &S->got_len, &S->got_cap, value, strlen(value));
	if (S->pos < S->len)
		return 1;
	int rc = finish_line(S);
	end_line(S);
	return rc == 0 ? 1 : 0;
}

int shim_run(const struct toml_doc *doc, struct oma_config *cfg, char *err, size_t errlen)
{
	struct shim S = {
	        .doc = doc,
	        .cfg = cfg,
	        .err = err,
	        .errlen = errlen,
	        .section = xstrdup(""),
	};
	int rc = ini_parse_stream(shim_read, &S, shim_handle, &S);
	if (!S.failed && (rc != 0 || S.cur != NULL))
		shim_broken(&S, rc != 0 ? "a section line was refused" : "a line was cut short");
	end_line(&S);
	free(S.section);
	free(S.got_section);
	free(S.got_key);
	free(S.got);
	return S.failed ? -1 : 0;
}
