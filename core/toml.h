/* toml.h - TOML 1.0 reader and decoder: config text to logical lines in canonical TOML, and values back from them.
 *
 * toml_parse reads the whole file with every check TOML asks for (syntax,
 * escapes, numbers, dates, duplicate keys, re-defined tables, UTF-8) and
 * gives one logical line per table header and per key, the value written
 * again in a canonical form that fits on one line and that libinih cannot
 * mangle (see toml_parse).  The shim (shim.c) feeds those lines through
 * inih, which splits sections, keys and values, and then decodes the names
 * and values inih hands back with toml_decode_key and toml_decode_value.
 */
#ifndef OMA_TOML_H
#define OMA_TOML_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

enum toml_type {
	TOML_STRING,
	TOML_INT,
	TOML_BOOL,
	TOML_FLOAT,    /* text kept as written */
	TOML_DATETIME, /* offset/local date-time, date or time; text kept */
	TOML_ARRAY,
	TOML_INLINE_TABLE, /* text kept in canonical form */
};

/* One component of a key path.  `index` is the element of an array of
 * tables ([[name]]) the path goes through, or -1. */
struct toml_comp {
	char *name;
	int index;
};

enum toml_line_kind {
	TOML_LINE_TABLE, /* a [table] / [[table]] header or an empty inline table (a = {}) */
	TOML_LINE_KEY,   /* key = value */
};

/* One logical line of the file. */
struct toml_line {
	enum toml_line_kind kind;
	struct toml_comp *path; /* full path from the root (table path + key) */
	size_t npath;
	size_t ntable; /* TOML_LINE_KEY: how many leading components name
	                         * the table the key was written in (its header),
	                         * 0 at the top level */
	int line;      /* physical line where the key or header starts */
	char *value;   /* TOML_LINE_KEY: the value in canonical form */
};

/* A read document: every table header and every key in file order.
 * Keys of inline tables given as values (a = {b = 1}) are lines of their
 * own (a.b = 1), which is what they mean in TOML. */
struct toml_doc {
	struct toml_line *lines;
	size_t n;
};

/* Read `len` bytes of TOML text into *doc.  `name` is used in messages.
 * Rejects anything TOML 1.0 rejects (syntax, bad escapes, leading zeros,
 * integer overflow, duplicate keys, re-defined tables, invalid UTF-8).
 *
 * The canonical form of a value is TOML on one line: strings as basic
 * strings with every control character, `"` and `\` escaped and `;`
 * written \u003B (so no inline comment can start); arrays as
 * [a, b] and inline tables as {k = v} (comments, newlines and other
 * spacing dropped); numbers, booleans and date-times as written.
 * Returns 0, or -1 with "NAME:LINE: reason" in err and *doc empty. */
int toml_parse(const char *name, const char *text, size_t len, struct toml_doc *doc, char *err,
               size_t errlen);

void toml_doc_free(struct toml_doc *doc);

/* Append one key component in canonical form: bare when it can be, else a
 * basic string that also escapes `;`, `=`, `:`, `[`, `]` and `#` as \uXXXX
 * (none of them can then end a name in inih's eyes). */
void toml_key_write(char **buf, size_t *len, size_t *cap, const char *name);

/* A decoded value. */
struct toml_value {
	enum toml_type type;
	/* Text form: strings decoded, integers in decimal, "true"/"false",
	 * floats and date-times as written, arrays as their elements' text
	 * forms joined by '\n' (nested arrays and inline tables in the form
	 * decoded). */
	char *text;
	long long num;        /* TOML_INT, TOML_BOOL (0/1) */
	struct strv arr;      /* TOML_ARRAY: each element's text form */
	bool arr_all_strings; /* TOML_ARRAY: every element is a string (true when empty) */
};

void toml_value_free(struct toml_value *v);

/* Decode the `len` bytes at `text`, which must be one TOML value and
 * nothing else (whitespace around it aside).  `name` and `line` are used
 * in messages.  Returns 0, or -1 with "NAME:LINE: reason" in err. */
int toml_decode_value(const char *name, int line, const char *text, size_t len,
                      struct toml_value *v, char *err, size_t errlen);

/* Decode a (dotted) key filling the `len` bytes at `text` into its
 * components (appended to *comps).  Returns 0, or -1 as above. */
int toml_decode_key(const char *name, int line, const char *text, size_t len, struct strv *comps,
                    char *err, size_t errlen);

/* Decode an inline table holding exactly one key, "{KEY = VALUE}": KEY's
 * components are appended to *comps, VALUE decoded into *v.  Returns 0,
 * or -1 as above. */
int toml_decode_inline_key(const char *name, int line, const char *text, size_t len,
                           struct strv *comps, struct toml_value *v, char *err, size_t errlen);

/* Join path components name.name[i].name; the caller frees. */
char *toml_path_join(const struct toml_comp *path, size_t n);

#endif
