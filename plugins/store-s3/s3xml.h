/* s3xml.h - a small reader for the few XML replies of S3 (error codes, upload ids, listings). */
#ifndef OMA_S3XML_H
#define OMA_S3XML_H

#include <stddef.h>

/*
 * Not a general XML parser: enough for S3's replies, which are one root
 * element with a shallow tree of elements and text.  It understands the
 * XML declaration, comments, CDATA sections, attributes (ignored),
 * self-closing elements and the five named entities plus numeric character
 * references; it checks that every element is closed by its own end tag
 * (nesting at most S3XML_DEPTH_MAX deep).  A DOCTYPE is refused.  Nothing
 * is allocated: spans point into the caller's buffer.
 */

#define S3XML_DEPTH_MAX 32

/* The content of one element: the bytes between its start and end tag. */
struct s3xml_span {
	const char *p;
	size_t len;
};

/* The root element of the document doc[0..len): its name into name
 * (capacity namelen) and its content into *inner.  Returns 0, or -1 when the
 * document is not well-formed in the sense above or the name does not fit. */
int s3xml_root(const char *doc, size_t len, char *name, size_t namelen, struct s3xml_span *inner);

/* The next child element called `name` directly inside `parent` (not
 * deeper), searching from *pos (start with 0; it is advanced past the
 * child).  Returns 1 with the child's content in *child, 0 when there is no
 * further one, -1 when the content is malformed. */
int s3xml_next(const struct s3xml_span *parent, const char *name, size_t *pos,
               struct s3xml_span *child);

/* The text of `s` with entities and CDATA decoded, NUL-terminated, into buf
 * (capacity buflen).  Returns 0, or -1 when `s` holds an element, a
 * malformed entity, or text that does not fit. */
int s3xml_text(const struct s3xml_span *s, char *buf, size_t buflen);

/* s3xml_text of the first child `name` directly inside `parent`.  Returns 0;
 * 1 when there is no such child (buf is then ""); -1 as s3xml_text. */
int s3xml_child_text(const struct s3xml_span *parent, const char *name, char *buf, size_t buflen);

#endif
