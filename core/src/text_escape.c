/*
 * Escaping untrusted text for terminals and log lines. See text_escape.h.
 */
#include "text_escape.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_continuation(unsigned char byte)
{
    return (byte & 0xc0) == 0x80;
}

/* Length of the printable UTF-8 character at text[0] (1 to 4), or 0 when
 * the byte there must be escaped: a control character, a C1 control, or
 * not the start of well-formed UTF-8 (overlong forms, surrogates and code
 * points past U+10FFFF are not well-formed). */
static size_t printable_length(const unsigned char *text, size_t length)
{
    unsigned char first = text[0];
    if (first < 0x80)
        return first >= 0x20 && first != 0x7f ? 1 : 0;
    size_t needed;
    unsigned char low = 0x80, high = 0xbf; /* the range of the second byte */
    if (first >= 0xc2 && first <= 0xdf) {
        needed = 2;
        if (first == 0xc2)
            low = 0xa0; /* U+0080..U+009F are the C1 controls */
    } else if (first >= 0xe0 && first <= 0xef) {
        needed = 3;
        if (first == 0xe0)
            low = 0xa0;
        if (first == 0xed)
            high = 0x9f;
    } else if (first >= 0xf0 && first <= 0xf4) {
        needed = 4;
        if (first == 0xf0)
            low = 0x90;
        if (first == 0xf4)
            high = 0x8f;
    } else {
        return 0;
    }
    if (length < needed || text[1] < low || text[1] > high)
        return 0;
    for (size_t i = 2; i < needed; i++)
        if (!is_continuation(text[i]))
            return 0;
    return needed;
}

size_t text_escape(char *out, size_t size, const char *text, size_t length)
{
    const unsigned char *in = (const unsigned char *)text;
    size_t used = 0, i = 0;
    while (i < length) {
        char escape[5];
        const char *piece;
        size_t piece_length = printable_length(in + i, length - i);
        size_t consumed = piece_length;
        if (piece_length > 0) {
            piece = text + i;
        } else {
            consumed = 1;
            piece = escape;
            switch (in[i]) {
            case '\n': piece = "\\n"; break;
            case '\t': piece = "\\t"; break;
            case '\r': piece = "\\r"; break;
            default: snprintf(escape, sizeof escape, "\\x%02x", in[i]); break;
            }
            piece_length = strlen(piece);
        }
        if (used + piece_length >= size)
            break;
        memcpy(out + used, piece, piece_length);
        used += piece_length;
        i += consumed;
    }
    out[used] = '\0';
    return used;
}

char *text_escape_string(const char *text)
{
    size_t length = strlen(text);
    size_t size = length * TEXT_ESCAPE_MAX_GROWTH + 1;
    char *escaped = malloc(size);
    if (escaped != NULL)
        text_escape(escaped, size, text, length);
    return escaped;
}
