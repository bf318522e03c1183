/*
 * The control protocol (SPEC section 5), incoming side: every cmd parses,
 * and parsing is strict, each malformed request refused with a detail
 * naming what is wrong.
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

/* ---- every cmd parses ---- */

static void test_start_child_with_every_field_is_parsed(void **state)
{
    (void)state;
    struct request request = parse_ok("{\"cmd\":\"start_child\",\"supervisor\":\"auth_rules\","
                                      "\"child\":\"auth_loader\",\"name\":\"loader_1\","
                                      "\"args\":[\"--timeout-ms\",\"5000\",\"\"]}");
    assert_int_equal(request.cmd, CMD_START_CHILD);
    assert_string_equal(request.supervisor, "auth_rules");
    assert_string_equal(request.child, "auth_loader");
    assert_string_equal(request.name, "loader_1");
    assert_int_equal(request.argc, 3);
    assert_string_equal(request.args[0], "--timeout-ms");
    assert_string_equal(request.args[1], "5000");
    assert_string_equal(request.args[2], "");
    assert_null(request.args[3]);
    request_free(&request);
}

static void test_start_child_without_args_gets_an_empty_argument_list(void **state)
{
    (void)state;
    struct request request =
        parse_ok("{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"c\"}");
    assert_null(request.name);
    assert_int_equal(request.argc, 0);
    assert_non_null(request.args);
    assert_null(request.args[0]);
    request_free(&request);
}

static void test_terminate_child_is_parsed(void **state)
{
    (void)state;
    struct request request =
        parse_ok("{\"pid\":4242,\"cmd\":\"terminate_child\",\"supervisor\":\"auth_rules\"}");
    assert_int_equal(request.cmd, CMD_TERMINATE_CHILD);
    assert_string_equal(request.supervisor, "auth_rules");
    assert_int_equal(request.pid, 4242);
    request_free(&request);
}

static void test_terminate_child_by_name_or_key_is_parsed(void **state)
{
    (void)state;
    struct request request =
        parse_ok("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"name\":\"loader\"}");
    assert_string_equal(request.name, "loader");
    assert_int_equal(request.pid, 0);
    assert_int_equal(request.key, 0);
    request_free(&request);
    request = parse_ok("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"key\":17}");
    assert_int_equal(request.key, 17);
    assert_null(request.name);
    request_free(&request);
}

static void test_terminate_child_takes_exactly_one_way_to_name_the_child(void **state)
{
    (void)state;
    expect_refused("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"pid\":5,\"key\":3}",
                   "terminate_child takes exactly one of \"pid\", \"name\" or \"key\" (2 given)");
    expect_refused("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"key\":0}",
                   "field \"key\" must be a positive integer");
    expect_refused("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"key\":\"3\"}",
                   "field \"key\" must be a positive integer");
}

static void test_supervisor_queries_are_parsed(void **state)
{
    (void)state;
    struct request request = parse_ok("{\"cmd\":\"which_children\",\"supervisor\":\"a1\"}");
    assert_int_equal(request.cmd, CMD_WHICH_CHILDREN);
    assert_string_equal(request.supervisor, "a1");
    request_free(&request);

    request = parse_ok("{\"cmd\":\"count_children\",\"supervisor\":\"b_2\"}");
    assert_int_equal(request.cmd, CMD_COUNT_CHILDREN);
    assert_string_equal(request.supervisor, "b_2");
    request_free(&request);
}

static void test_emit_is_parsed(void **state)
{
    (void)state;
    struct request request = parse_ok("{\"cmd\":\"emit\",\"event\":\"update_auth_rules\"}");
    assert_int_equal(request.cmd, CMD_EMIT);
    assert_string_equal(request.event, "update_auth_rules");
    request_free(&request);
}

static void test_commands_without_fields_are_parsed(void **state)
{
    (void)state;
    struct request request = parse_ok("{\"cmd\":\"status\"}");
    assert_int_equal(request.cmd, CMD_STATUS);
    request_free(&request);
    request = parse_ok(" {\"cmd\":\"plugins\"}\r");
    assert_int_equal(request.cmd, CMD_PLUGINS);
    request_free(&request);
    request = parse_ok("{\"cmd\":\"stop\"}");
    assert_int_equal(request.cmd, CMD_STOP);
    assert_null(request.supervisor);
    request_free(&request);
}

/* ---- malformed requests ---- */

static void test_text_that_is_not_json_is_refused_with_its_column(void **state)
{
    (void)state;
    expect_refused_prefix("{\"cmd\" \"status\"}",
                          "invalid JSON at column 15: ':' expected near '\"status\"'");
    expect_refused_prefix("hello", "invalid JSON at column ");
    expect_refused_prefix("{\"cmd\":\"status\"} {}", "invalid JSON at column ");
    expect_refused("", "empty request");
}

static void test_json_that_is_not_an_object_is_refused(void **state)
{
    (void)state;
    expect_refused("[\"status\"]", "request must be a JSON object");
    expect_refused("\"status\"", "request must be a JSON object");
    expect_refused("42", "request must be a JSON object");
    expect_refused("null", "request must be a JSON object");
}

static void test_request_without_cmd_is_refused(void **state)
{
    (void)state;
    expect_refused("{}", "field \"cmd\" is required");
    expect_refused("{\"supervisor\":\"s\"}", "field \"cmd\" is required");
}

static void test_cmd_that_is_not_a_string_is_refused(void **state)
{
    (void)state;
    expect_refused("{\"cmd\":7}", "field \"cmd\" must be a string");
    expect_refused("{\"cmd\":[\"status\"]}", "field \"cmd\" must be a string");
}

static void test_unknown_cmd_is_refused_by_name(void **state)
{
    (void)state;
    expect_refused("{\"cmd\":\"foo\"}", "unknown cmd \"foo\"");
    expect_refused("{\"cmd\":\"start-child\"}", "unknown cmd \"start-child\"");
    expect_refused("{\"cmd\":\"STATUS\"}", "unknown cmd \"STATUS\"");
}

static void test_unknown_field_is_refused_by_name(void **state)
{
    (void)state;
    expect_refused("{\"cmd\":\"status\",\"verbose\":true}",
                   "unknown field \"verbose\" for cmd \"status\"");
    /* A field of another cmd is unknown here too. */
    expect_refused("{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"c\",\"pid\":1}",
                   "unknown field \"pid\" for cmd \"start_child\"");
    expect_refused("{\"cmd\":\"emit\",\"event\":\"e\",\"supervisor\":\"s\"}",
                   "unknown field \"supervisor\" for cmd \"emit\"");
}

static void test_duplicate_key_is_refused(void **state)
{
    (void)state;
    expect_refused_prefix("{\"cmd\":\"emit\",\"event\":\"a\",\"event\":\"b\"}",
                          "invalid JSON at column ");
    struct request request;
    char detail[256];
    assert_int_equal(protocol_parse_request("{\"cmd\":\"stop\",\"cmd\":\"stop\"}", 27, &request,
                                            detail, sizeof detail),
                     -1);
    assert_non_null(strstr(detail, "duplicate"));
}

static void test_missing_required_field_is_refused_by_name(void **state)
{
    (void)state;
    expect_refused("{\"cmd\":\"start_child\",\"supervisor\":\"s\"}",
                   "field \"child\" is required for cmd \"start_child\"");
    expect_refused("{\"cmd\":\"start_child\",\"child\":\"c\"}",
                   "field \"supervisor\" is required for cmd \"start_child\"");
    expect_refused("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\"}",
                   "terminate_child takes exactly one of \"pid\", \"name\" or \"key\" (0 given)");
    expect_refused("{\"cmd\":\"which_children\"}",
                   "field \"supervisor\" is required for cmd \"which_children\"");
    expect_refused("{\"cmd\":\"count_children\"}",
                   "field \"supervisor\" is required for cmd \"count_children\"");
    expect_refused("{\"cmd\":\"emit\"}", "field \"event\" is required for cmd \"emit\"");
}

static void test_fields_of_the_wrong_type_are_refused(void **state)
{
    (void)state;
    expect_refused("{\"cmd\":\"which_children\",\"supervisor\":3}",
                   "field \"supervisor\" must be a string");
    expect_refused("{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":true}",
                   "field \"child\" must be a string");
    expect_refused("{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"c\",\"name\":null}",
                   "field \"name\" must be a string");
    expect_refused("{\"cmd\":\"emit\",\"event\":{}}", "field \"event\" must be a string");
    expect_refused("{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"c\",\"args\":\"-v\"}",
                   "field \"args\" must be an array of strings");
    expect_refused("{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"c\","
                   "\"args\":[\"ok\",5]}",
                   "args[1] must be a string");
    expect_refused("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"pid\":\"12\"}",
                   "field \"pid\" must be a positive integer");
    expect_refused("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"pid\":12.0}",
                   "field \"pid\" must be a positive integer");
}

static void test_pid_must_be_a_positive_integer_fitting_pid_t(void **state)
{
    (void)state;
    expect_refused("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"pid\":0}",
                   "field \"pid\" must be a positive integer");
    expect_refused("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"pid\":-5}",
                   "field \"pid\" must be a positive integer");
    expect_refused("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"pid\":2147483648}",
                   "field \"pid\" is out of range (at most 2147483647)");
    expect_refused_prefix("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\","
                          "\"pid\":99999999999999999999999}",
                          "invalid JSON at column ");
    struct request request =
        parse_ok("{\"cmd\":\"terminate_child\",\"supervisor\":\"s\",\"pid\":2147483647}");
    assert_int_equal(request.pid, 2147483647);
    request_free(&request);
}

static void test_ids_must_be_lowercase_words_of_at_most_64_characters(void **state)
{
    (void)state;
    const char *message = "field \"supervisor\" must be 1 to 64 characters of [a-z0-9_]";
    expect_refused("{\"cmd\":\"which_children\",\"supervisor\":\"Auth\"}", message);
    expect_refused("{\"cmd\":\"which_children\",\"supervisor\":\"auth-rules\"}", message);
    expect_refused("{\"cmd\":\"which_children\",\"supervisor\":\"\"}", message);
    expect_refused("{\"cmd\":\"which_children\",\"supervisor\":\"a b\"}", message);
    expect_refused("{\"cmd\":\"which_children\",\"supervisor\":\"caf\\u00e9\"}", message);
    expect_refused("{\"cmd\":\"emit\",\"event\":\"../x\"}",
                   "field \"event\" must be 1 to 64 characters of [a-z0-9_]");
    expect_refused("{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"c\",\"name\":\"N\"}",
                   "field \"name\" must be 1 to 64 characters of [a-z0-9_]");

    char *longest = repeat('a', 64);
    char line[256];
    snprintf(line, sizeof line, "{\"cmd\":\"start_child\",\"supervisor\":\"%s\",\"child\":\"c\"}",
             longest);
    struct request request = parse_ok(line);
    assert_string_equal(request.supervisor, longest);
    request_free(&request);
    snprintf(line, sizeof line, "{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"%sa\"}",
             longest);
    expect_refused(line, "field \"child\" must be 1 to 64 characters of [a-z0-9_]");
    free(longest);
}

static void test_strings_with_an_embedded_nul_are_refused(void **state)
{
    (void)state;
    expect_refused("{\"cmd\":\"emit\",\"event\":\"a\\u0000b\"}",
                   "field \"event\" must not contain a NUL character");
    expect_refused("{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"c\","
                   "\"args\":[\"x\",\"-\\u0000-\"]}",
                   "args[1] must not contain a NUL character");
    expect_refused("{\"cmd\":\"unknown\\u0000\"}", "field \"cmd\" must not contain a NUL character");
    expect_refused_prefix("{\"cmd\\u0000x\":\"stop\"}", "invalid JSON at column ");
    /* A raw NUL byte inside the line. */
    static const char raw[] = "{\"cmd\":\"stop\"}\0garbage";
    expect_refused_n(raw, sizeof raw - 1, "request contains a NUL byte");
}

static void test_at_most_256_args_are_accepted(void **state)
{
    (void)state;
    for (int count = 256; count <= 257; count++) {
        size_t size = 128 + (size_t)count * 4;
        char *line = malloc(size);
        assert_non_null(line);
        size_t used = (size_t)snprintf(line, size,
                                       "{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"c\","
                                       "\"args\":[");
        for (int i = 0; i < count; i++)
            used += (size_t)snprintf(line + used, size - used, "%s\"x\"", i ? "," : "");
        snprintf(line + used, size - used, "]}");
        if (count == 256) {
            struct request request = parse_ok(line);
            assert_int_equal(request.argc, 256);
            assert_null(request.args[256]);
            request_free(&request);
        } else {
            expect_refused(line, "field \"args\" has 257 items, at most 256 are allowed");
        }
        free(line);
    }
}

static void test_an_arg_longer_than_4096_bytes_is_refused(void **state)
{
    (void)state;
    for (size_t length = 4096; length <= 4097; length++) {
        char *arg = repeat('x', length);
        char *line = malloc(length + 128);
        assert_non_null(line);
        snprintf(line, length + 128,
                 "{\"cmd\":\"start_child\",\"supervisor\":\"s\",\"child\":\"c\",\"args\":[\"a\",\"%s\"]}",
                 arg);
        if (length == 4096) {
            struct request request = parse_ok(line);
            assert_int_equal(strlen(request.args[1]), 4096);
            request_free(&request);
        } else {
            expect_refused(line, "args[1] is longer than 4096 bytes");
        }
        free(line);
        free(arg);
    }
}

static void test_a_line_longer_than_the_limit_is_refused(void **state)
{
    (void)state;
    char *line = repeat(' ', PROTOCOL_MAX_LINE + 1);
    memcpy(line, "{\"cmd\":\"stop\"}", 14);
    expect_refused(line, "request is longer than 65536 bytes");
    free(line);
}

static void test_a_small_detail_buffer_is_truncated_not_overrun(void **state)
{
    (void)state;
    struct request request;
    char detail[8];
    assert_int_equal(protocol_parse_request("{\"cmd\":\"foo\"}", 13, &request, detail, sizeof detail),
                     -1);
    assert_string_equal(detail, "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_child_with_every_field_is_parsed),
        cmocka_unit_test(test_start_child_without_args_gets_an_empty_argument_list),
        cmocka_unit_test(test_terminate_child_is_parsed),
        cmocka_unit_test(test_terminate_child_by_name_or_key_is_parsed),
        cmocka_unit_test(test_terminate_child_takes_exactly_one_way_to_name_the_child),
        cmocka_unit_test(test_supervisor_queries_are_parsed),
        cmocka_unit_test(test_emit_is_parsed),
        cmocka_unit_test(test_commands_without_fields_are_parsed),
        cmocka_unit_test(test_text_that_is_not_json_is_refused_with_its_column),
        cmocka_unit_test(test_json_that_is_not_an_object_is_refused),
        cmocka_unit_test(test_request_without_cmd_is_refused),
        cmocka_unit_test(test_cmd_that_is_not_a_string_is_refused),
        cmocka_unit_test(test_unknown_cmd_is_refused_by_name),
        cmocka_unit_test(test_unknown_field_is_refused_by_name),
        cmocka_unit_test(test_duplicate_key_is_refused),
        cmocka_unit_test(test_missing_required_field_is_refused_by_name),
        cmocka_unit_test(test_fields_of_the_wrong_type_are_refused),
        cmocka_unit_test(test_pid_must_be_a_positive_integer_fitting_pid_t),
        cmocka_unit_test(test_ids_must_be_lowercase_words_of_at_most_64_characters),
        cmocka_unit_test(test_strings_with_an_embedded_nul_are_refused),
        cmocka_unit_test(test_at_most_256_args_are_accepted),
        cmocka_unit_test(test_an_arg_longer_than_4096_bytes_is_refused),
        cmocka_unit_test(test_a_line_longer_than_the_limit_is_refused),
        cmocka_unit_test(test_a_small_detail_buffer_is_truncated_not_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
