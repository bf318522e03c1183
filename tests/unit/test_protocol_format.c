/*
 * The control protocol (SPEC section 5), outgoing side: every reply,
 * writer and CLI request builder read back with jansson to check what a
 * client (or the host) sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "protocol.h"

#include "support_protocol.h"

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
                                 .pid = 501, .key = 7, .started_at = 1500, .restarts = 0,
                                 .next_restart_at = -1};
    struct child_info restarting = {.id = "sleeper", .plugin = "sleep", .name = NULL,
                                    .argv = NULL, .argc = 0, .state = CHILD_RESTARTING, .pid = 0,
                                    .key = 9, .started_at = -1, .restarts = 4,
                                    .has_exited = true, .last_exit = {.signal = SIGKILL},
                                    .last_exit_at = 2000, .next_restart_at = 2750};
    /* The tree's clock read 0 at Unix time 1700000000000 ms. */
    struct children_writer *writer = children_writer_new(1700000000000);
    children_writer_add(writer, &running, "1.2.0");
    children_writer_add(writer, &restarting, NULL);
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
    assert_field_integer(first, "key", 7);
    assert_field_string(first, "plugin_version", "1.2.0");
    assert_field_integer(first, "started_at", 1700000001500);
    assert_field_integer(first, "restarts", 0);
    assert_field_null(first, "last_exit");
    assert_field_null(first, "next_restart_at");

    json_t *second = json_array_get(children, 1);
    assert_field_string(second, "id", "sleeper");
    assert_field_null(second, "pid");
    assert_field_null(second, "name");
    assert_field_string(second, "state", "restarting");
    assert_int_equal(json_array_size(json_object_get(second, "args")), 0);
    assert_field_integer(second, "key", 9);
    assert_field_null(second, "started_at");
    assert_field_integer(second, "restarts", 4);
    json_t *last_exit = json_object_get(second, "last_exit");
    assert_field_string(last_exit, "signal", "SIGKILL");
    assert_null(json_object_get(last_exit, "status"));
    assert_field_integer(last_exit, "at", 1700000002000);
    assert_field_integer(second, "next_restart_at", 1700000002750);
    json_decref(root);
}

static void test_which_children_shows_an_exit_status_as_status(void **state)
{
    (void)state;
    struct child_info child = {.id = "c", .plugin = "p", .state = CHILD_RESTARTING, .key = 1,
                               .started_at = -1, .has_exited = true,
                               .last_exit = {.exit_code = 3}, .last_exit_at = 10,
                               .next_restart_at = -1};
    struct children_writer *writer = children_writer_new(0);
    children_writer_add(writer, &child, "1");
    json_t *root = load_line(children_writer_finish(writer));
    json_t *last_exit = json_object_get(json_array_get(json_object_get(root, "children"), 0),
                                        "last_exit");
    assert_field_integer(last_exit, "status", 3);
    assert_null(json_object_get(last_exit, "signal"));
    assert_field_integer(last_exit, "at", 10);
    json_decref(root);
}

static void test_which_children_names_starting_and_stopping_states(void **state)
{
    (void)state;
    struct child_info child = {.id = "c", .plugin = "p", .state = CHILD_STARTING};
    struct children_writer *writer = children_writer_new(0);
    children_writer_add(writer, &child, NULL);
    child.state = CHILD_STOPPING;
    child.pid = 9;
    children_writer_add(writer, &child, NULL);
    json_t *root = load_line(children_writer_finish(writer));
    json_t *children = json_object_get(root, "children");
    assert_field_string(json_array_get(children, 0), "state", "starting");
    assert_field_string(json_array_get(children, 1), "state", "stopping");
    json_decref(root);
}

static void test_which_children_of_an_empty_supervisor_is_an_empty_list(void **state)
{
    (void)state;
    json_t *root = load_line(children_writer_finish(children_writer_new(0)));
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
    struct request request = parse_built(protocol_build_terminate_child("auth_rules", 31337, NULL, 0));
    assert_int_equal(request.cmd, CMD_TERMINATE_CHILD);
    assert_string_equal(request.supervisor, "auth_rules");
    assert_int_equal(request.pid, 31337);
    request_free(&request);
    request = parse_built(protocol_build_terminate_child("auth_rules", 0, "loader", 0));
    assert_string_equal(request.name, "loader");
    assert_int_equal(request.pid, 0);
    request_free(&request);
    request = parse_built(protocol_build_terminate_child("auth_rules", 0, NULL, 42));
    assert_int_equal(request.key, 42);
    assert_null(request.name);
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
        cmocka_unit_test(test_ok_reply_carries_the_pid),
        cmocka_unit_test(test_ok_reply_without_a_pid_is_a_bare_ok),
        cmocka_unit_test(test_ignore_reply_has_only_the_result),
        cmocka_unit_test(test_already_started_reply_names_the_existing_pid),
        cmocka_unit_test(test_error_reply_carries_detail_only_when_given),
        cmocka_unit_test(test_detail_that_is_not_utf8_is_still_sent),
        cmocka_unit_test(test_bad_request_forbidden_and_plain_errors_are_formatted),
        cmocka_unit_test(test_which_children_lists_every_child_with_its_state),
        cmocka_unit_test(test_which_children_names_starting_and_stopping_states),
        cmocka_unit_test(test_which_children_shows_an_exit_status_as_status),
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
