/*
 * Helpers of the control protocol tests (test_protocol_*.c): parse a line
 * that must be accepted or refused (checking the detail), and read a
 * formatted line back with jansson to check its fields.
 */
#ifndef DYNSUP_TEST_SUPPORT_PROTOCOL_H
#define DYNSUP_TEST_SUPPORT_PROTOCOL_H

#include <stddef.h>

#include <jansson.h>

#include "protocol.h"

struct request parse_ok_n(const char *line, size_t length);
struct request parse_ok(const char *line);

/* Parses a line that must be refused and checks the detail says exactly `expected`. */
void expect_refused_n(const char *line, size_t length, const char *expected);
void expect_refused(const char *line, const char *expected);

/* Same, but only the start of the detail is fixed (jansson writes the rest). */
void expect_refused_prefix(const char *line, const char *prefix);

/* Takes a formatted line (freed here): exactly one '\n', at the end, and
 * valid JSON before it. Returns the parsed object (caller decrefs). */
json_t *load_line(char *line);
void assert_field_string(const json_t *object, const char *key, const char *expected);
void assert_field_integer(const json_t *object, const char *key, json_int_t expected);
void assert_field_null(const json_t *object, const char *key);
char *repeat(char c, size_t count);

#endif
