/*
 * What yajl lets through and JSON does not, checked on the raw bytes as
 * they stream by (rules.h feeds every piece here before yajl sees it):
 *
 * - a vertical tab or form feed between tokens (yajl reads them as
 *   whitespace; inside strings yajl refuses them itself);
 * - text inside strings that is not strict UTF-8 (RFC 3629): overlong
 *   forms, encoded surrogates, code points past U+10FFFF (yajl checks only
 *   the shape of a sequence);
 * - \u escapes that make no character: a lone high or low surrogate (yajl
 *   turns one into '?' or into invalid UTF-8).
 *
 * jansson refused all of them, and the store, saved byte for byte, is read
 * by other programs that may refuse them too.
 */
#ifndef AUTH_LOADER_JSON_TEXT_CHECK_H
#define AUTH_LOADER_JSON_TEXT_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct json_text_check {
    bool in_string;
    bool after_backslash;
    int hex_digits_left;      /* of a \u escape */
    unsigned escape_value;
    bool after_high_surrogate;   /* the next escape must be a low one */
    int continuation_left;       /* bytes of a UTF-8 sequence still due */
    unsigned char next_min, next_max; /* range of its next byte */
};

/* Scans `length` more bytes. Returns how many are fine: `length`, or the
 * offset of the first offending byte, with *why saying what it breaks. */
size_t json_text_check_scan(struct json_text_check *check, const char *bytes, size_t length,
                            const char **why);

#endif
