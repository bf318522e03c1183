/*
 * The control protocol (SPEC section 5): strict request parsing, and every
 * reply/writer/builder read back with jansson to check what a client sees.
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

/* ---- helpers ---- */

static struct request parse_ok_n(const char *line, size_t length)
{
    struct request request;
    char detail[256] = "";
    int status = protocol_parse_request(line, length, &request, detail, sizeof detail);
    if (status != 0)
        fail_msg("expected %s to parse, got: %s", line, detail);
    return request;
}

static struct request parse_ok(const char *line)
{
    return parse_ok_n(line, strlen(line));
}

/* Parses a line that must be refused and checks the detail says exactly `expected`. */
static void expect_refused_n(const char *line, size_t length, const char *expected)
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

static void expect_refused(const char *line, const char *expected)
{
    expect_refused_n(line, strlen(line), expected);
}

/* Same, but only the start of the detail is fixed (jansson writes the rest). */
static void expect_refused_prefix(const char *line, const char *prefix)
{
    struct request request;
    char detail[256] = "";
    assert_int_equal(protocol_parse_request(line, strlen(line), &request, detail, sizeof detail), -1);
    if (strncmp(detail, prefix, strlen(prefix)) != 0)
        fail_msg("detail \"%s\" does not start with \"%s\"", detail, prefix);
}

/* Takes a formatted line (freed here): exactly one '\n', at the end, and
 * valid JSON before it. Returns the parsed object (caller decrefs). */
static json_t *load_line(char *line)
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

static void assert_field_string(const json_t *object, const char *key, const char *expected)
{
    const json_t *value = json_object_get(object, key);
    if (!json_is_string(value))
        fail_msg("field %s is not a string", key);
    assert_string_equal(json_string_value(value), expected);
}

static void assert_field_integer(const json_t *object, const char *key, json_int_t expected)
{
    const json_t *value = json_object_get(object, key);
    if (!json_is_integer(value))
        fail_msg("field %s is not an integer", key);
    assert_int_equal(json_integer_value(value), expected);
}

static void assert_field_null(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    if (!json_is_null(value))
        fail_msg("field %s is not null", key);
}

static char *repeat(char c, size_t count)
{
    char *text = malloc(count + 1);
    assert_non_null(text);
    memset(text, c, count);
    text[count] = '\0';
    return text;
}

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
                   "field \"pid\" is required for cmd \"terminate_child\"");
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

/* ---- replies ---- */

static void test_ok_reply_carries_the_pid(void **state)
{
    (void)state;
    struct reply reply = {.kind = REPLY_OK, .pid = 1234};
    json_t *root = load_line(protocol_format_reply(&reply));
    assert_field_string(root, "result", "ok");
    assert_field_integer(root, "pid", 1234);
    assert_int_equal(json_object_size(root), 2);
    json_decref(root);
}

static void test_ok_reply_without_a_pid_is_a_bare_ok(void **state)
{
    (void)state;
    struct reply reply = {.kind = REPLY_OK};
    json_t *root = load_line(protocol_format_reply(&reply));
    assert_field_string(root, "result", "ok");
    assert_int_equal(json_object_size(root), 1);
    json_decref(root);
    root = load_line(protocol_format_ok());
    assert_field_string(root, "result", "ok");
    assert_int_equal(json_object_size(root), 1);
    json_decref(root);
}

static void test_ignore_reply_has_only_the_result(void **state)
{
    (void)state;
    struct reply reply = {.kind = REPLY_IGNORE};
    json_t *root = load_line(protocol_format_reply(&reply));
    assert_field_string(root, "result", "ignore");
    assert_int_equal(json_object_size(root), 1);
    json_decref(root);
}

static void test_already_started_reply_names_the_existing_pid(void **state)
{
    (void)state;
    struct reply reply = {.kind = REPLY_ERROR, .error = ERR_ALREADY_STARTED, .pid = 77};
    json_t *root = load_line(protocol_format_reply(&reply));
    assert_field_string(root, "result", "error");
    assert_field_string(root, "error", "already_started");
    assert_field_integer(root, "pid", 77);
    assert_null(json_object_get(root, "detail"));
    json_decref(root);

    /* The existing child may have no pid yet (restarting). */
    reply.pid = 0;
    root = load_line(protocol_format_reply(&reply));
    assert_field_null(root, "pid");
    json_decref(root);
}

static void test_error_reply_carries_detail_only_when_given(void **state)
{
    (void)state;
    struct reply reply = {.kind = REPLY_ERROR, .error = ERR_INIT_FAILED,
                          .detail = "init returned 3\nsecond \"line\""};
    json_t *root = load_line(protocol_format_reply(&reply));
    assert_field_string(root, "error", "init_failed");
    assert_field_string(root, "detail", "init returned 3\nsecond \"line\"");
    assert_null(json_object_get(root, "pid"));
    json_decref(root);

    reply = (struct reply){.kind = REPLY_ERROR, .error = ERR_MAX_CHILDREN};
    root = load_line(protocol_format_reply(&reply));
    assert_field_string(root, "result", "error");
    assert_field_string(root, "error", "max_children");
    assert_int_equal(json_object_size(root), 2);
    json_decref(root);
}

static void test_detail_that_is_not_utf8_is_still_sent(void **state)
{
    (void)state;
    struct reply reply = {.kind = REPLY_ERROR, .error = ERR_INIT_FAILED, .detail = "bad \xff byte"};
    json_t *root = load_line(protocol_format_reply(&reply));
    assert_field_string(root, "detail", "bad ? byte");
    json_decref(root);
}

static void test_bad_request_forbidden_and_plain_errors_are_formatted(void **state)
{
    (void)state;
    json_t *root = load_line(protocol_format_bad_request("unknown cmd \"foo\""));
    assert_field_string(root, "result", "error");
    assert_field_string(root, "error", "bad_request");
    assert_field_string(root, "detail", "unknown cmd \"foo\"");
    json_decref(root);

    root = load_line(protocol_format_forbidden());
    assert_field_string(root, "error", "forbidden");
    assert_int_equal(json_object_size(root), 2);
    json_decref(root);

    root = load_line(protocol_format_error("unknown_event", NULL));
    assert_field_string(root, "error", "unknown_event");
    assert_null(json_object_get(root, "detail"));
    json_decref(root);

    root = load_line(protocol_format_error("unknown_child", "no child spec \"x\""));
    assert_field_string(root, "detail", "no child spec \"x\"");
    json_decref(root);
}

/* ---- writers ---- */

static void test_which_children_lists_every_child_with_its_state(void **state)
{
    (void)state;
    char *running_args[] = {"http://127.0.0.1:8080/rules", "var/a b.json", NULL};
    struct child_info running = {.id = "auth_loader", .plugin = "auth_loader", .name = "loader",
                                 .argv = running_args, .argc = 2, .state = CHILD_RUNNING,
                                 .pid = 501};
    struct child_info restarting = {.id = "sleeper", .plugin = "sleep", .name = NULL,
                                    .argv = NULL, .argc = 0, .state = CHILD_RESTARTING, .pid = 0};
    struct children_writer *writer = children_writer_new();
    children_writer_add(writer, &running);
    children_writer_add(writer, &restarting);
    json_t *root = load_line(children_writer_finish(writer));
    assert_field_string(root, "result", "ok");
    json_t *children = json_object_get(root, "children");
    assert_int_equal(json_array_size(children), 2);

    json_t *first = json_array_get(children, 0);
    assert_field_string(first, "id", "auth_loader");
    assert_field_integer(first, "pid", 501);
    assert_field_string(first, "type", "worker");
    assert_field_string(first, "plugin", "auth_loader");
    assert_field_string(first, "name", "loader");
    assert_field_string(first, "state", "running");
    json_t *args = json_object_get(first, "args");
    assert_int_equal(json_array_size(args), 2);
    assert_string_equal(json_string_value(json_array_get(args, 1)), "var/a b.json");

    json_t *second = json_array_get(children, 1);
    assert_field_string(second, "id", "sleeper");
    assert_field_null(second, "pid");
    assert_field_null(second, "name");
    assert_field_string(second, "state", "restarting");
    assert_int_equal(json_array_size(json_object_get(second, "args")), 0);
    json_decref(root);
}

static void test_which_children_names_starting_and_stopping_states(void **state)
{
    (void)state;
    struct child_info child = {.id = "c", .plugin = "p", .state = CHILD_STARTING};
    struct children_writer *writer = children_writer_new();
    children_writer_add(writer, &child);
    child.state = CHILD_STOPPING;
    child.pid = 9;
    children_writer_add(writer, &child);
    json_t *root = load_line(children_writer_finish(writer));
    json_t *children = json_object_get(root, "children");
    assert_field_string(json_array_get(children, 0), "state", "starting");
    assert_field_string(json_array_get(children, 1), "state", "stopping");
    json_decref(root);
}

static void test_which_children_of_an_empty_supervisor_is_an_empty_list(void **state)
{
    (void)state;
    json_t *root = load_line(children_writer_finish(children_writer_new()));
    json_t *children = json_object_get(root, "children");
    assert_true(json_is_array(children));
    assert_int_equal(json_array_size(children), 0);
    json_decref(root);
}

static void test_count_children_reports_every_count(void **state)
{
    (void)state;
    struct child_counts counts = {.specs = 2, .active = 3, .supervisors = 0, .workers = 4};
    json_t *root = load_line(protocol_format_counts(&counts));
    assert_field_string(root, "result", "ok");
    assert_field_integer(root, "specs", 2);
    assert_field_integer(root, "active", 3);
    assert_field_integer(root, "supervisors", 0);
    assert_field_integer(root, "workers", 4);
    json_decref(root);
}

static void test_status_describes_the_root_and_every_supervisor(void **state)
{
    (void)state;
    struct status_writer *writer = status_writer_new(12.3456789, 4000, 3, 5, 1);
    struct supervisor_status limited = {.name = "auth_rules",
                                        .counts = {.specs = 1, .active = 1, .workers = 1},
                                        .restarts_in_window = 2, .times_restarted = 1};
    struct supervisor_status unlimited = {.name = "jobs", .stopping = true};
    status_writer_add(writer, &limited, 1, 3, 5);
    status_writer_add(writer, &unlimited, DS_INFINITY, 10, 60);
    json_t *root = load_line(status_writer_finish(writer));

    assert_field_string(root, "result", "ok");
    assert_true(json_is_real(json_object_get(root, "uptime_s")));
    assert_float_equal(json_real_value(json_object_get(root, "uptime_s")), 12.346, 1e-6);
    assert_field_integer(root, "pid", 4000);
    json_t *root_supervisor = json_object_get(root, "root");
    assert_field_integer(root_supervisor, "max_restarts", 3);
    assert_field_integer(root_supervisor, "max_seconds", 5);
    assert_field_integer(root_supervisor, "restarts_in_window", 1);

    json_t *supervisors = json_object_get(root, "supervisors");
    assert_int_equal(json_array_size(supervisors), 2);
    json_t *first = json_array_get(supervisors, 0);
    assert_field_string(first, "name", "auth_rules");
    assert_field_integer(first, "specs", 1);
    assert_field_integer(first, "active", 1);
    assert_field_integer(first, "workers", 1);
    assert_field_integer(first, "supervisors", 0);
    assert_field_integer(first, "restarts_in_window", 2);
    assert_field_integer(first, "max_restarts", 3);
    assert_field_integer(first, "max_seconds", 5);
    assert_field_integer(first, "max_children", 1);
    assert_field_integer(first, "times_restarted", 1);
    assert_true(json_is_false(json_object_get(first, "stopping")));
    json_t *second = json_array_get(supervisors, 1);
    assert_field_string(second, "name", "jobs");
    assert_field_null(second, "max_children");
    assert_field_integer(second, "max_seconds", 60);
    assert_true(json_is_true(json_object_get(second, "stopping")));
    json_decref(root);
}

static void test_plugins_lists_name_version_and_file(void **state)
{
    (void)state;
    struct plugins_writer *writer = plugins_writer_new();
    plugins_writer_add(writer, "auth_loader", "1.0.0", "/usr/lib/dynsup/auth_loader.so");
    plugins_writer_add(writer, "sleep", "0.1", "plugins/sleep.so");
    json_t *root = load_line(plugins_writer_finish(writer));
    json_t *plugins = json_object_get(root, "plugins");
    assert_int_equal(json_array_size(plugins), 2);
    assert_field_string(json_array_get(plugins, 0), "name", "auth_loader");
    assert_field_string(json_array_get(plugins, 0), "version", "1.0.0");
    assert_field_string(json_array_get(plugins, 0), "file", "/usr/lib/dynsup/auth_loader.so");
    assert_field_string(json_array_get(plugins, 1), "file", "plugins/sleep.so");
    json_decref(root);
}

/* ---- builders: what the CLI sends is what the host accepts ---- */

static struct request parse_built(char *line)
{
    assert_non_null(line);
    size_t length = strlen(line);
    assert_int_equal(line[length - 1], '\n');
    assert_null(memchr(line, '\n', length - 1));
    struct request request = parse_ok_n(line, length - 1);
    free(line);
    return request;
}

static void test_built_start_child_round_trips(void **state)
{
    (void)state;
    char *args[] = {"--url", "http://h/r#frag", "two words", "quote \" and \\ and \xc3\xa9", NULL};
    struct request request =
        parse_built(protocol_build_start_child("auth_rules", "auth_loader", "loader", args, 4));
    assert_int_equal(request.cmd, CMD_START_CHILD);
    assert_string_equal(request.supervisor, "auth_rules");
    assert_string_equal(request.child, "auth_loader");
    assert_string_equal(request.name, "loader");
    assert_int_equal(request.argc, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(request.args[i], args[i]);
    request_free(&request);

    request = parse_built(protocol_build_start_child("s", "c", NULL, NULL, 0));
    assert_null(request.name);
    assert_int_equal(request.argc, 0);
    request_free(&request);
}

static void test_built_terminate_child_round_trips(void **state)
{
    (void)state;
    struct request request = parse_built(protocol_build_terminate_child("auth_rules", 31337));
    assert_int_equal(request.cmd, CMD_TERMINATE_CHILD);
    assert_string_equal(request.supervisor, "auth_rules");
    assert_int_equal(request.pid, 31337);
    request_free(&request);
}

static void test_built_simple_requests_round_trip(void **state)
{
    (void)state;
    struct request request =
        parse_built(protocol_build_simple("which_children", "supervisor", "auth_rules"));
    assert_int_equal(request.cmd, CMD_WHICH_CHILDREN);
    assert_string_equal(request.supervisor, "auth_rules");
    request_free(&request);

    request = parse_built(protocol_build_simple("count_children", "supervisor", "jobs"));
    assert_int_equal(request.cmd, CMD_COUNT_CHILDREN);
    request_free(&request);

    request = parse_built(protocol_build_simple("emit", "event", "update_auth_rules"));
    assert_int_equal(request.cmd, CMD_EMIT);
    assert_string_equal(request.event, "update_auth_rules");
    request_free(&request);

    const char *bare[] = {"status", "plugins", "stop"};
    const enum request_cmd expected[] = {CMD_STATUS, CMD_PLUGINS, CMD_STOP};
    for (size_t i = 0; i < 3; i++) {
        request = parse_built(protocol_build_simple(bare[i], NULL, NULL));
        assert_int_equal(request.cmd, expected[i]);
        request_free(&request);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_child_with_every_field_is_parsed),
        cmocka_unit_test(test_start_child_without_args_gets_an_empty_argument_list),
        cmocka_unit_test(test_terminate_child_is_parsed),
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
        cmocka_unit_test(test_ok_reply_carries_the_pid),
        cmocka_unit_test(test_ok_reply_without_a_pid_is_a_bare_ok),
        cmocka_unit_test(test_ignore_reply_has_only_the_result),
        cmocka_unit_test(test_already_started_reply_names_the_existing_pid),
        cmocka_unit_test(test_error_reply_carries_detail_only_when_given),
        cmocka_unit_test(test_detail_that_is_not_utf8_is_still_sent),
        cmocka_unit_test(test_bad_request_forbidden_and_plain_errors_are_formatted),
        cmocka_unit_test(test_which_children_lists_every_child_with_its_state),
        cmocka_unit_test(test_which_children_names_starting_and_stopping_states),
        cmocka_unit_test(test_which_children_of_an_empty_supervisor_is_an_empty_list),
        cmocka_unit_test(test_count_children_reports_every_count),
        cmocka_unit_test(test_status_describes_the_root_and_every_supervisor),
        cmocka_unit_test(test_plugins_lists_name_version_and_file),
        cmocka_unit_test(test_built_start_child_round_trips),
        cmocka_unit_test(test_built_terminate_child_round_trips),
        cmocka_unit_test(test_built_simple_requests_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
