/*
 * Helpers of the control protocol tests. See support_protocol.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "protocol.h"

#include "support_protocol.h"

/* ---- helpers ---- */

struct request parse_ok_n(const char *line, size_t length)
{
    struct request request;
    char detail[256] = "";
    int status = protocol_parse_request(line, length, &request, detail, sizeof detail);
    if (status != 0)
        fail_msg("expected %s to parse, got: %s", line, detail);
    return request;
}

struct request parse_ok(const char *line)
{
    return parse_ok_n(line, strlen(line));
}

/* Parses a line that must be refused and checks the detail says exactly `expected`. */
void expect_refused_n(const char *line, size_t length, const char *expected)
{
    struct request request;
    char detail[256] = "";
    assert_int_equal(protocol_parse_request(line, length, &request, detail, sizeof detail), -1);
    assert_string_equal(detail, expected);
    /* Nothing is left allocated in a refused request. */
    assert_null(request.supervisor);
    assert_null(request.child);
    assert_null(request.name);
    assert_null(request.args);
    assert_null(request.event);
}

void expect_refused(const char *line, const char *expected)
{
    expect_refused_n(line, strlen(line), expected);
}

/* Same, but only the start of the detail is fixed (jansson writes the rest). */
void expect_refused_prefix(const char *line, const char *prefix)
{
    struct request request;
    char detail[256] = "";
    assert_int_equal(protocol_parse_request(line, strlen(line), &request, detail, sizeof detail), -1);
    if (strncmp(detail, prefix, strlen(prefix)) != 0)
        fail_msg("detail \"%s\" does not start with \"%s\"", detail, prefix);
}

/* Takes a formatted line (freed here): exactly one '\n', at the end, and
 * valid JSON before it. Returns the parsed object (caller decrefs). */
json_t *load_line(char *line)
{
    assert_non_null(line);
    size_t length = strlen(line);
    assert_true(length > 1);
    assert_int_equal(line[length - 1], '\n');
    assert_null(memchr(line, '\n', length - 1));
    json_error_t error;
    json_t *root = json_loads(line, JSON_REJECT_DUPLICATES, &error);
    if (!root)
        fail_msg("not JSON: %s (%s)", line, error.text);
    assert_true(json_is_object(root));
    free(line);
    return root;
}

void assert_field_string(const json_t *object, const char *key, const char *expected)
{
    const json_t *value = json_object_get(object, key);
    if (!json_is_string(value))
        fail_msg("field %s is not a string", key);
    assert_string_equal(json_string_value(value), expected);
}

void assert_field_integer(const json_t *object, const char *key, json_int_t expected)
{
    const json_t *value = json_object_get(object, key);
    if (!json_is_integer(value))
        fail_msg("field %s is not an integer", key);
    assert_int_equal(json_integer_value(value), expected);
}

void assert_field_null(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    if (!json_is_null(value))
        fail_msg("field %s is not null", key);
}

char *repeat(char c, size_t count)
{
    char *text = malloc(count + 1);
    assert_non_null(text);
    memset(text, c, count);
    text[count] = '\0';
    return text;
}
