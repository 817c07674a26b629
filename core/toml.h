/* toml.h - TOML 1.0 tokenizer and decoder: config text to a flat list of tables and keys. */
#ifndef OMA_TOML_H
#define OMA_TOML_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

enum toml_type {
	TOML_STRING,
	TOML_INT,
	TOML_BOOL,
	TOML_FLOAT,        /* text kept as written */
	TOML_DATETIME,     /* offset/local date-time, date or time; text kept */
	TOML_ARRAY,
	TOML_INLINE_TABLE, /* only as an array element; text kept as written */
};

/* One component of a key path.  `index` is the element of an array of
 * tables ([[name]]) the path goes through, or -1. */
struct toml_comp {
	char *name;
	int index;
};

enum toml_entry_kind {
	TOML_ENTRY_TABLE, /* a [table] / [[table]] header or an empty inline table */
	TOML_ENTRY_KEY,   /* key = value */
};

struct toml_entry {
	enum toml_entry_kind kind;
	struct toml_comp *path; /* full path from the root (table path + key) */
	size_t npath;
	int line;               /* physical line where the key or header starts */
	enum toml_type type;    /* TOML_ENTRY_KEY only, as are the members below */
	/* Text form: strings decoded, integers in decimal, "true"/"false",
	 * floats and date-times as written, arrays as their elements' text
	 * forms joined by '\n' (nested arrays and inline tables as written). */
	char *text;
	long long num;          /* TOML_INT, TOML_BOOL (0/1) */
	struct strv arr;        /* TOML_ARRAY: each element's text form */
	bool arr_all_strings;   /* TOML_ARRAY: every element is a string (true when empty) */
};

/* A decoded document: every table header and every key in file order.
 * Keys of inline tables given as values (a = {b = 1}) are flattened into
 * their own entries (a.b = 1), which is what they mean in TOML. */
struct toml_doc {
	struct toml_entry *entries;
	size_t n;
};

/* Decode `len` bytes of TOML text into *doc.  `name` is used in messages.
 * Rejects anything TOML 1.0 rejects (syntax, bad escapes, leading zeros,
 * integer overflow, duplicate keys, re-defined tables, invalid UTF-8).
 * Returns 0, or -1 with "NAME:LINE: reason" in err and *doc empty. */
int toml_parse(const char *name, const char *text, size_t len, struct toml_doc *doc,
               char *err, size_t errlen);

void toml_doc_free(struct toml_doc *doc);

/* Join path components name.name[i].name; the caller frees. */
char *toml_path_join(const struct toml_comp *path, size_t n);

#endif
