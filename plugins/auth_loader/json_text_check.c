#include "json_text_check.h"

static const char stray_space[] = "a vertical tab or form feed is not JSON whitespace";
static const char bad_utf8[] = "invalid UTF-8 in a string";
static const char lone_surrogate[] = "a \\u escape of a lone surrogate (not a character)";

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The lead byte of a sequence: how many bytes follow and the range of the
 * first of them (RFC 3629's table); false for a byte no sequence starts with. */
static bool start_sequence(struct json_text_check *check, unsigned char lead)
{
    unsigned char min = 0x80, max = 0xBF;
    int following;
    if (lead >= 0xC2 && lead <= 0xDF)
        following = 1;
    else if (lead >= 0xE0 && lead <= 0xEF)
        following = 2;
    else if (lead >= 0xF0 && lead <= 0xF4)
        following = 3;
    else
        return false;
    if (lead == 0xE0)
        min = 0xA0; /* overlong below */
    else if (lead == 0xED)
        max = 0x9F; /* surrogates above */
    else if (lead == 0xF0)
        min = 0x90; /* overlong below */
    else if (lead == 0xF4)
        max = 0x8F; /* past U+10FFFF above */
    check->continuation_left = following;
    check->next_min = min;
    check->next_max = max;
    return true;
}

/* A \u escape's four digits are read. */
static bool escape_done(struct json_text_check *check)
{
    unsigned value = check->escape_value;
    bool high = value >= 0xD800 && value <= 0xDBFF, low = value >= 0xDC00 && value <= 0xDFFF;
    if (check->after_high_surrogate) {
        check->after_high_surrogate = false;
        return low;
    }
    check->after_high_surrogate = high;
    return !low;
}

/* One byte inside a string; false when it breaks a rule. */
static bool string_byte(struct json_text_check *check, unsigned char c, const char **why)
{
    if (check->continuation_left > 0) {
        *why = bad_utf8;
        if (c < check->next_min || c > check->next_max)
            return false;
        check->continuation_left--;
        check->next_min = 0x80;
        check->next_max = 0xBF;
        return true;
    }
    if (check->hex_digits_left > 0) {
        int digit = hex_value(c);
        if (digit < 0) { /* not an escape: yajl says so */
            check->hex_digits_left = 0;
            return true;
        }
        check->escape_value = check->escape_value * 16 + (unsigned)digit;
        *why = lone_surrogate;
        return --check->hex_digits_left > 0 || escape_done(check);
    }
    if (check->after_backslash) {
        check->after_backslash = false;
        if (c == 'u') {
            check->hex_digits_left = 4;
            check->escape_value = 0;
            return true;
        }
        *why = lone_surrogate;
        return !check->after_high_surrogate; /* any other escape after a high surrogate */
    }
    /* After a high surrogate only the backslash of a low one may come. */
    if (check->after_high_surrogate && c != '\\') {
        *why = lone_surrogate;
        return false;
    }
    if (c == '\\') {
        check->after_backslash = true;
        return true;
    }
    if (c == '"') {
        check->in_string = false;
        return true;
    }
    *why = bad_utf8;
    return c < 0x80 || start_sequence(check, c);
}

/* Bytes that need no look inside a string: printable ASCII but the quote
 * and the backslash. Most of a document is these. */
static bool plain_in_string(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

size_t json_text_check_scan(struct json_text_check *check, const char *bytes, size_t length,
                            const char **why)
{
    const unsigned char *text = (const unsigned char *)bytes;
    size_t i = 0;
    while (i < length) {
        if (check->in_string) {
            bool nothing_pending = check->continuation_left == 0 &&
                                   check->hex_digits_left == 0 && !check->after_backslash &&
                                   !check->after_high_surrogate;
            if (nothing_pending)
                while (i < length && plain_in_string(text[i]))
                    i++;
            if (i < length && !string_byte(check, text[i], why))
                return i;
        } else {
            while (i < length && text[i] != '"' && text[i] != '\v' && text[i] != '\f')
                i++;
            if (i == length)
                break;
            if (text[i] != '"') {
                *why = stray_space;
                return i;
            }
            check->in_string = true;
        }
        i++;
    }
    return length;
}
