/*
 * The metrics formatter and its history counters, without a host: a tree
 * driven by hand, actions fed to the counters as the host would, and the
 * text checked line by line. Also the metrics_listen address parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "listen_address.h"
#include "metrics.h"
#include "metrics_counters.h"
#include "supervisor.h"

static void assert_has_line(const char *text, const char *line)
{
    size_t length = strlen(line);
    for (const char *at = text; (at = strstr(at, line)) != NULL; at++) {
        if ((at == text || at[-1] == '\n') && at[length] == '\n')
            return;
    }
    fail_msg("no line \"%s\" in:\n%s", line, text);
}

/* Feeds a tree call's actions to the counters, as host_apply does. */
static void record(struct metrics_counters *counters, struct action_list *actions, ds_time_ms now)
{
    for (size_t i = 0; i < actions->count; i++)
        metrics_record_action(counters, &actions->items[i], now);
    action_list_clear(actions);
}

static child_key spawn_key(const struct action_list *actions)
{
    for (size_t i = 0; i < actions->count; i++)
        if (actions->items[i].kind == ACTION_SPAWN)
            return actions->items[i].key;
    fail_msg("no SPAWN action");
    return 0;
}

static void test_children_by_state_starts_restarts_and_exits_are_counted(void **state)
{
    (void)state;
    struct tree *tree = tree_new(3, 5);
    struct supervisor_config work = {.name = "work", .max_children = DS_INFINITY, .max_restarts = 5,
                                     .max_seconds = 5};
    assert_int_equal(tree_add_supervisor(tree, &work), 0);
    struct metrics_counters counters;
    metrics_counters_init(&counters);
    struct action_list actions;
    action_list_init(&actions);

    char *argv[] = {NULL};
    struct child_start start = {.id = "loader", .plugin = "auth_loader", .argv = argv,
                                .restart = RESTART_PERMANENT, .shutdown = SHUTDOWN_TIMEOUT,
                                .shutdown_ms = 1000};
    metrics_start_requested(&counters, 7, 0);
    tree_start_child(tree, "work", &start, 7, 0, &actions);
    child_key key = spawn_key(&actions);
    record(&counters, &actions, 0);
    tree_spawned(tree, key, 100, 1, &actions);
    record(&counters, &actions, 1);
    /* init answers 2 ms after the request: one latency sample of 0.002 s */
    tree_init_reported(tree, key, INIT_OK, NULL, 2, &actions);
    record(&counters, &actions, 2);
    /* A crash: the permanent child is restarted (a SPAWN while RESTARTING). */
    struct child_exit crash = {.signal = 11};
    tree_child_exited(tree, 100, crash, 3, &actions);
    metrics_record_exit(&counters, "work", "loader", &crash);
    record(&counters, &actions, 3);

    struct metrics_input input = {.tree = tree, .now = 4, .uptime_seconds = 1.5,
                                  .counters = &counters, .version = "0.2.0"};
    char *text = metrics_format(&input);
    assert_non_null(text);
    assert_has_line(text, "# TYPE dynsup_supervisor_children gauge");
    assert_has_line(text, "dynsup_supervisor_children{supervisor=\"work\",state=\"restarting\"} 1");
    assert_has_line(text, "dynsup_supervisor_children{supervisor=\"work\",state=\"running\"} 0");
    assert_has_line(text, "dynsup_children{supervisor=\"work\",child=\"loader\",plugin=\"auth_loader\","
                          "state=\"restarting\"} 1");
    assert_has_line(text, "dynsup_child_starts_total{supervisor=\"work\",result=\"ok\"} 1");
    assert_has_line(text, "dynsup_child_restarts_total{supervisor=\"work\",child=\"loader\"} 1");
    assert_has_line(text, "dynsup_child_exits_total{supervisor=\"work\",child=\"loader\",kind=\"signal\"} 1");
    assert_has_line(text, "dynsup_child_exits_total{supervisor=\"work\",child=\"loader\",kind=\"normal\"} 0");
    assert_has_line(text, "dynsup_uptime_seconds 1.5");
    assert_has_line(text, "# TYPE dynsup_start_latency_seconds histogram");
    assert_has_line(text, "dynsup_start_latency_seconds_bucket{supervisor=\"work\",le=\"0.001\"} 0");
    assert_has_line(text, "dynsup_start_latency_seconds_bucket{supervisor=\"work\",le=\"0.0025\"} 1");
    assert_has_line(text, "dynsup_start_latency_seconds_bucket{supervisor=\"work\",le=\"+Inf\"} 1");
    assert_has_line(text, "dynsup_start_latency_seconds_sum{supervisor=\"work\"} 0.002");
    assert_has_line(text, "dynsup_start_latency_seconds_count{supervisor=\"work\"} 1");
    assert_null(strstr(text, "pid"));
    free(text);

    action_list_free(&actions);
    metrics_counters_free(&counters);
    tree_free(tree);
}

static void test_terminate_answers_are_not_start_results(void **state)
{
    (void)state;
    struct metrics_counters counters;
    metrics_counters_init(&counters);
    struct action terminate_ok = {.kind = ACTION_REPLY, .supervisor = "s",
                                  .reply = {.kind = REPLY_OK, .pid = 0}};
    struct action not_found = {.kind = ACTION_REPLY, .supervisor = "s",
                               .reply = {.kind = REPLY_ERROR, .error = ERR_NOT_FOUND}};
    struct action unknown = {.kind = ACTION_REPLY, .supervisor = "made_up",
                             .reply = {.kind = REPLY_ERROR, .error = ERR_UNKNOWN_SUPERVISOR}};
    struct action max_children = {.kind = ACTION_REPLY, .supervisor = "s",
                                  .reply = {.kind = REPLY_ERROR, .error = ERR_MAX_CHILDREN}};
    metrics_record_action(&counters, &terminate_ok, 0);
    metrics_record_action(&counters, &not_found, 0);
    metrics_record_action(&counters, &unknown, 0);
    metrics_record_action(&counters, &max_children, 0);
    assert_int_equal(counters.supervisor_count, 1);
    struct metrics_input input = {.counters = &counters, .version = "0.2.0"};
    char *text = metrics_format(&input);
    assert_has_line(text, "dynsup_child_starts_total{supervisor=\"s\",result=\"max_children\"} 1");
    assert_has_line(text, "dynsup_child_starts_total{supervisor=\"s\",result=\"ok\"} 0");
    assert_null(strstr(text, "made_up"));
    free(text);
    metrics_counters_free(&counters);
}

static void test_label_values_are_escaped(void **state)
{
    (void)state;
    struct metrics_plugin plugin = {.name = "p", .version = "1 \"beta\"\\x\n\033[2J", .file = "/f"};
    struct metrics_input input = {.plugins = &plugin, .plugin_count = 1, .version = "0.2.0"};
    char *text = metrics_format(&input);
    assert_has_line(text, "dynsup_plugin_info{plugin=\"p\",version=\"1 \\\"beta\\\"\\\\x\\n?[2J\",file=\"/f\"} 1");
    free(text);
}

static void test_listen_addresses(void **state)
{
    (void)state;
    struct sockaddr_storage address;
    socklen_t length;
    char problem[160];
    assert_int_equal(listen_address_parse("127.0.0.1:9464", &address, &length, problem, sizeof problem), 0);
    assert_int_equal(address.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&address)->sin_port), 9464);
    assert_int_equal(listen_address_parse("[::1]:80", &address, &length, problem, sizeof problem), 0);
    assert_int_equal(address.ss_family, AF_INET6);
    assert_int_equal(listen_address_parse("localhost:9464", &address, &length, problem, sizeof problem), -1);
    assert_non_null(strstr(problem, "not an IPv4 address"));
    assert_int_equal(listen_address_parse("127.0.0.1:0", &address, &length, problem, sizeof problem), -1);
    assert_non_null(strstr(problem, "1 to 65535"));
    assert_int_equal(listen_address_parse("9464", &address, &length, problem, sizeof problem), -1);
    assert_non_null(strstr(problem, "ADDRESS:PORT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_children_by_state_starts_restarts_and_exits_are_counted),
        cmocka_unit_test(test_terminate_answers_are_not_start_results),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_listen_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
