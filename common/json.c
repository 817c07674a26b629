/* json.c - JSON string literals that are valid whatever bytes they are made of (core and plugins). */
#include "common/json.h"

#include <stdio.h>

#include "common/utf8.h"

int cm_json_str(struct cm_buf *b, const char *s)
{
	cm_buf_add(b, "\"", 1);
	for (const char *p = s; *p;) {
		char esc[8];
		size_t n = cm_utf8_len(p);
		unsigned cp = n > 0 ? cm_utf8_cp(p, n) : 0xfffd;
		const char *short_esc = cp == '"'    ? "\\\""
		                        : cp == '\\' ? "\\\\"
		                        : cp == '\n' ? "\\n"
		                        : cp == '\r' ? "\\r"
		                        : cp == '\t' ? "\\t"
		                        : cp == '\b' ? "\\b"
		                        : cp == '\f' ? "\\f"
		                                     : NULL;
		if (short_esc != NULL) {
			cm_buf_add(b, short_esc, 2);
		} else if (n == 0 || cm_utf8_breaks_line(cp)) {
			/* A byte that is not UTF-8 becomes U+FFFD: the text stays
			 * valid JSON whatever a server or a name brought in. */
			(void)snprintf(esc, sizeof(esc), "\\u%04x", cp);
			cm_buf_add(b, esc, 6);
		} else {
			cm_buf_add(b, p, n);
		}
		p += n > 0 ? n : 1;
	}
	return cm_buf_add(b, "\"", 1);
}
