/* json.h - JSON string literals that are valid whatever bytes they are made of (core and plugins). */
#ifndef OMA_COMMON_JSON_H
#define OMA_COMMON_JSON_H

#include "common/buf.h"

/* Append s (not NULL) to b as a JSON string literal, quotes included:
 * " \ and the controls with a short form as \" \\ \n \r \t \b \f, the other
 * controls (C0, DEL, C1) and U+2028/U+2029 as \uHHHH, and every byte that
 * is not part of valid UTF-8 as \ufffd, so that the result is always valid
 * JSON and stays on one line.  Returns 0, or -1 as cm_buf_add. */
int cm_json_str(struct cm_buf *b, const char *s);

#endif
