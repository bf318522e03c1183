/*
 * Text from outside (a client's request, a file name, a worker's output)
 * made safe to print on a terminal or inside one log line: every control
 * character is written as an escape, so it can neither forge a line, move
 * the cursor, recolour the terminal nor hide what follows it.
 *
 *   newline, tab, carriage return   \n  \t  \r
 *   any other C0 control, NUL, DEL  \xHH   (NUL is text too: \x00, and
 *                                           what follows it is kept)
 *   C1 controls (U+0080..U+009F)    \xHH per byte (\xc2\x9b)
 *   bytes that are not UTF-8        \xHH
 *
 * Printable ASCII and valid UTF-8 pass unchanged, and so does the
 * backslash: escaping is for display, not a reversible encoding, and this
 * way text escaped twice reads the same as text escaped once (a worker's
 * line is escaped on its way in, then again as part of the log line).
 */
#ifndef DYNSUP_TEXT_ESCAPE_H
#define DYNSUP_TEXT_ESCAPE_H

#include <stddef.h>

/* The most one input byte can grow to ("\xHH"). */
#define TEXT_ESCAPE_MAX_GROWTH 4

/* Writes the escaped form of `text` (`length` bytes, NULs included) into
 * `out`, NUL-terminated, never more than `size` bytes in all and never
 * half an escape or half a UTF-8 character. Returns the bytes written,
 * the terminator not counted. `size` must be at least 1. */
size_t text_escape(char *out, size_t size, const char *text, size_t length);

/* The escaped form of the string `text`, malloc'd (NULL when out of memory). */
char *text_escape_string(const char *text);

#endif
