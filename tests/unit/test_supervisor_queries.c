/*
 * The supervision core: which_children, count_children and status, the
 * wire names of reply errors, logs, stray workers, and ten thousand
 * children at once. Each test feeds events to a tree with a hand-driven
 * clock and checks the actions that come out (support_supervisor.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor.h"

#include "support_supervisor.h"

/* ---- which_children / count_children / status ---- */

static void test_count_children_counts_every_state(void **state)
{
    struct world *w = *state;
    child_key starting = start_spawning(w, SUP, worker("starting", RESTART_PERMANENT), 1);
    assert_counts(w, SUP, 1, 0, 1);
    spawned(w, starting, 100);
    assert_counts(w, SUP, 1, 0, 1);
    run_child(w, SUP, worker("running", RESTART_PERMANENT), 101);
    assert_counts(w, SUP, 2, 1, 2);
    run_child(w, SUP, worker("restarting", RESTART_PERMANENT), 102);
    exited(w, 102, 1);
    assert_counts(w, SUP, 3, 1, 3);
    run_child(w, SUP, worker("stopping", RESTART_PERMANENT), 103);
    assert_counts(w, SUP, 4, 2, 4);
    terminate(w, SUP, 103, 5);
    assert_counts(w, SUP, 4, 1, 4);
    exited(w, 103, 0);
    assert_counts(w, SUP, 3, 1, 3);
}

static void test_which_children_lists_in_start_order_with_pid_zero_when_not_running(void **state)
{
    struct world *w = *state;
    child_key a = run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    child_key b = start_spawning(w, SUP, worker("b", RESTART_PERMANENT), 1);
    spawned(w, b, 101);
    child_key c = run_child(w, SUP, worker("c", RESTART_PERMANENT), 102);
    exited(w, 102, 1);
    child_key d = run_child(w, SUP, worker("d", RESTART_PERMANENT), 103);
    struct child_list list = children_of(w, SUP);
    assert_int_equal(list.count, 4);
    child_key keys[] = {a, b, c, d};
    pid_t pids[] = {100, 0, 0, 103};
    enum child_state states[] = {CHILD_RUNNING, CHILD_STARTING, CHILD_RESTARTING, CHILD_RUNNING};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(list.keys[i], keys[i]);
        assert_int_equal(list.pids[i], pids[i]);
        assert_int_equal(list.states[i], states[i]);
    }
    exited(w, 100, 0); /* a restarts and keeps its place */
    run_child(w, SUP, worker("e", RESTART_PERMANENT), 104);
    list = children_of(w, SUP);
    assert_int_equal(list.count, 5);
    assert_int_equal(list.keys[0], a);
}

static void test_queries_on_an_unknown_supervisor_answer_minus_one(void **state)
{
    struct world *w = *state;
    struct child_counts counts;
    struct child_list list = {0};
    assert_int_equal(tree_count_children(w->tree, "nope", &counts), -1);
    assert_int_equal(tree_each_child(w->tree, "nope", collect_child, &list), -1);
    assert_false(tree_has_supervisor(w->tree, "nope"));
    assert_null(tree_find_child(w->tree, 12345));
    assert_null(tree_child_supervisor(w->tree, 12345));
}

static struct child_start of_plugin(const char *id, const char *plugin,
                                   enum restart_policy restart)
{
    struct child_start start = worker(id, restart);
    start.plugin = plugin;
    return start;
}

/* The host keeps a retired plugin's code while one of its children may
 * still start a worker: every state counts until the child leaves. */
static void test_children_of_a_plugin_are_counted_in_every_state_until_they_leave(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "b", DS_INFINITY, 3, 5);
    assert_int_equal(tree_count_plugin_children(w->tree, "chaos"), 0);
    /* An id equal to another child's plugin name counts for nothing. */
    run_child(w, SUP, of_plugin("chaos", "sleeper", RESTART_PERMANENT), 99);
    child_key waiting = run_child(w, SUP,
                                  with_backoff(of_plugin("c", "chaos", RESTART_PERMANENT), 1000, 8000),
                                  100);
    child_key starting = start_spawning(w, "b", of_plugin("d", "chaos", RESTART_TEMPORARY), 7);
    assert_int_equal(tree_count_plugin_children(w->tree, "chaos"), 2);
    assert_int_equal(tree_count_plugin_children(w->tree, "sleeper"), 1);
    exited(w, 100, 1); /* waits for its restart */
    assert_int_equal(tree_find_child(w->tree, waiting)->state, CHILD_RESTARTING);
    assert_int_equal(tree_count_plugin_children(w->tree, "chaos"), 2);
    spawned(w, starting, 200);
    init_reported(w, starting, INIT_OK, NULL);
    terminate(w, "b", 200, 8);
    assert_int_equal(tree_count_plugin_children(w->tree, "chaos"), 2); /* stopping */
    exited(w, 200, 0);
    assert_int_equal(tree_count_plugin_children(w->tree, "chaos"), 1);
    terminate_which(w, SUP, (struct child_selector){.key = waiting}, 9);
    assert_ok_reply(w, 9, 0);
    assert_int_equal(tree_count_plugin_children(w->tree, "chaos"), 0);
    assert_int_equal(tree_count_plugin_children(w->tree, "sleeper"), 1);
}

static void visit_name(const struct supervisor_status *status, void *context)
{
    char *names = context;
    strcat(names, status->name);
    strcat(names, " ");
}

static void test_status_visits_supervisors_in_the_order_they_were_added(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "b", DS_INFINITY, 3, 5);
    add_supervisor(w, "a", DS_INFINITY, 3, 5);
    char names[64] = "";
    tree_each_supervisor(w->tree, w->now, visit_name, names);
    assert_string_equal(names, SUP " b a ");
}

static void test_reply_errors_have_their_wire_names(void **state)
{
    (void)state;
    assert_string_equal(reply_error_name(ERR_NONE), "none");
    assert_string_equal(reply_error_name(ERR_MAX_CHILDREN), "max_children");
    assert_string_equal(reply_error_name(ERR_ALREADY_STARTED), "already_started");
    assert_string_equal(reply_error_name(ERR_INIT_FAILED), "init_failed");
    assert_string_equal(reply_error_name(ERR_UNKNOWN_SUPERVISOR), "unknown_supervisor");
    assert_string_equal(reply_error_name(ERR_UNKNOWN_CHILD), "unknown_child");
    assert_string_equal(reply_error_name(ERR_UNKNOWN_EVENT), "unknown_event");
    assert_string_equal(reply_error_name(ERR_NOT_FOUND), "not_found");
    assert_string_equal(reply_error_name(ERR_SHUTTING_DOWN), "shutting_down");
}

static void test_spawned_for_an_unknown_child_kills_the_stray_worker(void **state)
{
    struct world *w = *state;
    spawned(w, 777, 100);
    assert_true(has_signal(w, 100, SIGKILL));
    exited(w, 100, 0);
    assert_int_equal(w->out.count, 0);
}

static void test_log_lines_carry_supervisor_key_and_pid(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    const struct action *log = log_containing(w, "started");
    assert_non_null(log);
    assert_string_equal(log->supervisor, SUP);
    assert_int_equal(log->key, key);
    assert_int_equal(log->pid, 100);
}

static void test_freeing_a_tree_with_live_children_is_clean(void **state)
{
    struct world *w = *state; /* teardown frees; ASan checks nothing leaks */
    run_child(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    child_key b = run_child(w, SUP, worker("b", RESTART_PERMANENT), 101);
    exited(w, 101, 1);
    spawned(w, b, 201);
    terminate(w, SUP, 100, 5);
    start_spawning(w, SUP, worker("c", RESTART_PERMANENT), 6);
}

/* ---- scale ---- */

#define MANY 10000

static void test_ten_thousand_children_start_crash_and_stop(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "big", DS_INFINITY, MANY * 2, 5);
    static child_key keys[MANY];
    char name[32];
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof name, "n%d", i);
        struct child_start spec = named(worker("job", RESTART_PERMANENT), name);
        keys[i] = start_spawning(w, "big", spec, (request_token)i);
        spawned(w, keys[i], 10000 + i);
        init_reported(w, keys[i], INIT_OK, NULL);
    }
    assert_counts(w, "big", MANY, MANY, MANY);
    start(w, "big", named(worker("job", RESTART_PERMANENT), "n4321"), 1);
    assert_int_equal(reply_for(w, 1)->reply.pid, 10000 + 4321);
    /* Every third child crashes and comes back with a new pid. */
    for (int i = 0; i < MANY; i += 3) {
        exited(w, 10000 + i, 1);
        assert_respawned(w, keys[i]);
        spawned(w, keys[i], 30000 + i);
        init_reported(w, keys[i], INIT_OK, NULL);
    }
    /* Every seventh is terminated. */
    for (int i = 0; i < MANY; i += 7) {
        pid_t pid = i % 3 == 0 ? 30000 + i : 10000 + i;
        terminate(w, "big", pid, 5);
        exited(w, pid, 0);
        assert_ok_reply(w, 5, 0);
    }
    size_t left = MANY - (MANY + 6) / 7;
    assert_counts(w, "big", left, left, left);
    stop(w);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), left);
    for (int i = 0; i < MANY; i++) {
        if (i % 7 == 0)
            continue;
        exited(w, i % 3 == 0 ? 30000 + i : 10000 + i, 0);
    }
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_count_children_counts_every_state),
        TEST(test_which_children_lists_in_start_order_with_pid_zero_when_not_running),
        TEST(test_queries_on_an_unknown_supervisor_answer_minus_one),
        TEST(test_children_of_a_plugin_are_counted_in_every_state_until_they_leave),
        TEST(test_status_visits_supervisors_in_the_order_they_were_added),
        TEST(test_reply_errors_have_their_wire_names),
        TEST(test_spawned_for_an_unknown_child_kills_the_stray_worker),
        TEST(test_log_lines_carry_supervisor_key_and_pid),
        TEST(test_freeing_a_tree_with_live_children_is_clean),
        TEST(test_ten_thousand_children_start_crash_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
