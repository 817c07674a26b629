/* utf8.h - decoding UTF-8 one character at a time, strictly (core and plugins). */
#ifndef OMA_COMMON_UTF8_H
#define OMA_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (1 for ASCII, and for the NUL),
 * or 0 when the bytes there are not UTF-8 (overlong, surrogate, above
 * U+10FFFF, cut short). */
size_t cm_utf8_len(const char *s);

/* The code point of the valid sequence of n bytes (as cm_utf8_len said) at s. */
unsigned cm_utf8_cp(const char *s, size_t n);

/* Whether code point cp is a control or ends a line somewhere: C0, DEL, C1
 * (U+0080..U+009F, NEL among them), LINE and PARAGRAPH SEPARATOR. */
bool cm_utf8_breaks_line(unsigned cp);

#endif
