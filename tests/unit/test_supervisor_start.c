/*
 * The supervision core, tested like the OTP DynamicSupervisor docs read:
 * starting children (init ok, ignore, failure), max_children, and
 * registered names. Each test feeds events to a tree with a hand-driven
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

/* ---- starting children ---- */

static void test_supervisor_starts_with_no_children(void **state)
{
    struct world *w = *state;
    assert_counts(w, SUP, 0, 0, 0);
    assert_int_equal(children_of(w, SUP).count, 0);
    assert_false(tree_is_stopping(w->tree));
    assert_true(tree_has_supervisor(w->tree, SUP));
}

static void test_start_child_spawns_and_replies_only_after_init_returned_ok(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    assert_false(has_reply_for(w, 7));
    spawned(w, key, 100);
    assert_int_equal(w->out.count, 0);
    init_reported(w, key, INIT_OK, NULL);
    assert_ok_reply(w, 7, 100);
    assert_log(w, 6, "child job started (pid 100)");
    assert_int_equal(tree_find_child(w->tree, key)->state, CHILD_RUNNING);
    assert_int_equal(tree_find_child(w->tree, key)->pid, 100);
}

static void test_start_child_copies_everything_it_is_given(void **state)
{
    struct world *w = *state;
    char id[] = "job", plugin[] = "demo", name[] = "alpha", arg0[] = "--x", arg1[] = "1";
    char *argv[] = {arg0, arg1, NULL};
    struct child_start spec = {.id = id, .plugin = plugin, .name = name, .argv = argv, .argc = 2,
                               .restart = RESTART_TRANSIENT, .shutdown = SHUTDOWN_INFINITY};
    child_key key = start_spawning(w, SUP, spec, 1);
    id[0] = plugin[0] = name[0] = arg0[0] = arg1[0] = '?';
    const struct child_info *child = tree_find_child(w->tree, key);
    assert_string_equal(child->id, "job");
    assert_string_equal(child->plugin, "demo");
    assert_string_equal(child->name, "alpha");
    assert_int_equal(child->argc, 2);
    assert_string_equal(child->argv[0], "--x");
    assert_string_equal(child->argv[1], "1");
    assert_null(child->argv[2]);
    assert_int_equal(child->restart, RESTART_TRANSIENT);
    assert_int_equal(child->shutdown, SHUTDOWN_INFINITY);
    assert_string_equal(tree_child_supervisor(w->tree, key), SUP);
}

static void test_init_ignore_answers_ignore_and_keeps_no_child(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    init_reported(w, key, INIT_IGNORE, NULL);
    assert_int_equal(reply_for(w, 7)->reply.kind, REPLY_IGNORE);
    assert_null(tree_find_child(w->tree, key));
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_init_failure_answers_init_failed_with_its_reason(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    init_reported(w, key, INIT_FAILED, "no database");
    assert_error_reply(w, 7, ERR_INIT_FAILED);
    assert_string_equal(reply_for(w, 7)->reply.detail, "no database");
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_null(tree_find_child(w->tree, key));
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_worker_exit_after_init_refused_is_an_unknown_pid(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    init_reported(w, key, INIT_FAILED, "bad");
    exited(w, 100, 1);
    assert_int_equal(w->out.count, 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_spawn_failure_answers_init_failed_with_its_reason(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawn_failed(w, key, "fork: out of memory");
    assert_error_reply(w, 7, ERR_INIT_FAILED);
    assert_string_equal(reply_for(w, 7)->reply.detail, "fork: out of memory");
    assert_null(tree_find_child(w->tree, key));
}

static void test_worker_exiting_during_init_answers_init_failed_with_exit_status(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    exited(w, 100, 3);
    assert_error_reply(w, 7, ERR_INIT_FAILED);
    assert_string_equal(reply_for(w, 7)->reply.detail, "worker exited during init: exit status 3");
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_worker_killed_during_init_answers_init_failed_with_signal(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    killed(w, 100, SIGSEGV);
    assert_string_equal(reply_for(w, 7)->reply.detail,
                        "worker exited during init: killed by signal 11");
}

static void test_start_child_on_unknown_supervisor_is_refused(void **state)
{
    struct world *w = *state;
    start(w, "nope", worker("job", RESTART_PERMANENT), 7);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 7, ERR_UNKNOWN_SUPERVISOR);
}

static void test_child_keys_are_unique_across_supervisors(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    child_key a = start_spawning(w, SUP, worker("a", RESTART_PERMANENT), 1);
    child_key b = start_spawning(w, "other", worker("b", RESTART_PERMANENT), 2);
    spawn_failed(w, a, "x");
    child_key c = start_spawning(w, SUP, worker("c", RESTART_PERMANENT), 3);
    assert_true(a != b && b != c && a != c);
    assert_string_equal(tree_child_supervisor(w->tree, b), "other");
    assert_null(tree_find_child(w->tree, a));
}

static void test_duplicate_supervisor_name_is_refused(void **state)
{
    struct world *w = *state;
    struct supervisor_config config = {SUP, 1, 1, 1};
    assert_int_equal(tree_add_supervisor(w->tree, &config), -1);
}

/* ---- max_children ---- */

static void test_max_children_refuses_a_start_when_full(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 2, 3, 5);
    run_child(w, "small", worker("a", RESTART_PERMANENT), 100);
    run_child(w, "small", worker("b", RESTART_PERMANENT), 101);
    start(w, "small", worker("c", RESTART_PERMANENT), 7);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 7, ERR_MAX_CHILDREN);
}

static void test_children_still_starting_count_toward_max_children(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    start_spawning(w, "small", worker("a", RESTART_PERMANENT), 1);
    start(w, "small", worker("b", RESTART_PERMANENT), 2);
    assert_error_reply(w, 2, ERR_MAX_CHILDREN);
}

static void test_restarting_children_count_toward_max_children(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    child_key key = run_child(w, "small", worker("a", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    assert_respawned(w, key);
    start(w, "small", worker("b", RESTART_PERMANENT), 2);
    assert_error_reply(w, 2, ERR_MAX_CHILDREN);
}

static void test_slot_is_freed_once_the_child_is_gone(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    run_child(w, "small", worker("a", RESTART_TEMPORARY), 100);
    exited(w, 100, 0);
    start_spawning(w, "small", worker("b", RESTART_PERMANENT), 2);
}

static void test_stopping_children_count_toward_max_children_until_reaped(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    run_child(w, "small", worker("a", RESTART_PERMANENT), 100);
    terminate(w, "small", 100, 5);
    start(w, "small", worker("b", RESTART_PERMANENT), 6);
    assert_error_reply(w, 6, ERR_MAX_CHILDREN);
    exited(w, 100, 0);
    start_spawning(w, "small", worker("b", RESTART_PERMANENT), 7);
}

static void test_max_children_zero_refuses_every_start(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "closed", 0, 3, 5);
    start(w, "closed", worker("a", RESTART_PERMANENT), 7);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 7, ERR_MAX_CHILDREN);
    assert_counts(w, "closed", 0, 0, 0);
}

static void test_infinite_max_children_never_refuses(void **state)
{
    struct world *w = *state;
    for (int i = 0; i < 200; i++)
        start_spawning(w, SUP, worker("job", RESTART_PERMANENT), (request_token)i);
    assert_counts(w, SUP, 200, 0, 200);
}

/* ---- registered names ---- */

static void test_name_in_use_answers_already_started_with_the_existing_pid(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 7, ERR_ALREADY_STARTED);
    assert_int_equal(reply_for(w, 7)->reply.pid, 100);
    assert_counts(w, SUP, 1, 1, 1);
}

/* OTP handles a start_child only after the previous one's init returned,
 * so a request naming a child still in init waits and learns its pid. */
static void test_start_naming_a_child_still_in_init_waits_and_gets_its_pid(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 1);
    spawned(w, key, 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    assert_int_equal(w->out.count, 0); /* neither answered nor spawned: waiting */
    init_reported(w, key, INIT_OK, NULL);
    assert_ok_reply(w, 1, 100);
    assert_error_reply(w, 7, ERR_ALREADY_STARTED);
    assert_int_equal(reply_for(w, 7)->reply.pid, 100);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_counts(w, SUP, 1, 1, 1);
}

static void test_start_waiting_on_a_name_starts_afresh_when_the_holder_fails_init(void **state)
{
    struct world *w = *state;
    child_key first = start_spawning(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 1);
    spawned(w, first, 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    init_reported(w, first, INIT_FAILED, "boom");
    assert_error_reply(w, 1, ERR_INIT_FAILED);
    assert_false(has_reply_for(w, 7));
    assert_int_equal(count_kind(w, ACTION_SPAWN), 1);
    child_key second = nth_kind(w, ACTION_SPAWN, 0)->key;
    assert_true(second != first);
    spawned(w, second, 101);
    init_reported(w, second, INIT_OK, NULL);
    assert_ok_reply(w, 7, 101);
    assert_counts(w, SUP, 1, 1, 1);
}

static void test_starts_waiting_on_one_name_are_served_in_request_order(void **state)
{
    struct world *w = *state;
    child_key first = start_spawning(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 1);
    spawned(w, first, 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 8);
    init_reported(w, first, INIT_IGNORE, NULL);
    assert_int_equal(reply_for(w, 1)->reply.kind, REPLY_IGNORE);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 1); /* 7 starts; 8 waits on it */
    child_key second = nth_kind(w, ACTION_SPAWN, 0)->key;
    spawned(w, second, 101);
    init_reported(w, second, INIT_OK, NULL);
    assert_ok_reply(w, 7, 101);
    assert_error_reply(w, 8, ERR_ALREADY_STARTED);
    assert_int_equal(reply_for(w, 8)->reply.pid, 101);
}

static void test_start_naming_a_restarting_child_gets_the_restarted_pid(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    exited(w, 100, 1);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    assert_int_equal(w->out.count, 0);
    spawned(w, key, 101);
    init_reported(w, key, INIT_OK, NULL);
    assert_error_reply(w, 7, ERR_ALREADY_STARTED);
    assert_int_equal(reply_for(w, 7)->reply.pid, 101);
}

static void test_start_waiting_on_a_name_answers_shutting_down_when_the_host_stops(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 1);
    spawned(w, key, 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    stop(w);
    assert_error_reply(w, 1, ERR_SHUTTING_DOWN);
    assert_false(has_reply_for(w, 7));
    exited(w, 100, 0);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

static void test_name_is_free_again_after_the_child_is_gone(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, named(worker("a", RESTART_TRANSIENT), "alpha"), 100);
    exited(w, 100, 0);
    run_child(w, SUP, named(worker("a", RESTART_TRANSIENT), "alpha"), 101);
    assert_counts(w, SUP, 1, 1, 1);
}

static void test_same_name_in_another_supervisor_is_allowed(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    run_child(w, "other", named(worker("a", RESTART_PERMANENT), "alpha"), 101);
}

static void test_name_check_comes_before_max_children(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    run_child(w, "small", named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    start(w, "small", named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    assert_error_reply(w, 7, ERR_ALREADY_STARTED);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_supervisor_starts_with_no_children),
        TEST(test_start_child_spawns_and_replies_only_after_init_returned_ok),
        TEST(test_start_child_copies_everything_it_is_given),
        TEST(test_init_ignore_answers_ignore_and_keeps_no_child),
        TEST(test_init_failure_answers_init_failed_with_its_reason),
        TEST(test_worker_exit_after_init_refused_is_an_unknown_pid),
        TEST(test_spawn_failure_answers_init_failed_with_its_reason),
        TEST(test_worker_exiting_during_init_answers_init_failed_with_exit_status),
        TEST(test_worker_killed_during_init_answers_init_failed_with_signal),
        TEST(test_start_child_on_unknown_supervisor_is_refused),
        TEST(test_child_keys_are_unique_across_supervisors),
        TEST(test_duplicate_supervisor_name_is_refused),
        TEST(test_max_children_refuses_a_start_when_full),
        TEST(test_children_still_starting_count_toward_max_children),
        TEST(test_restarting_children_count_toward_max_children),
        TEST(test_slot_is_freed_once_the_child_is_gone),
        TEST(test_stopping_children_count_toward_max_children_until_reaped),
        TEST(test_max_children_zero_refuses_every_start),
        TEST(test_infinite_max_children_never_refuses),
        TEST(test_name_in_use_answers_already_started_with_the_existing_pid),
        TEST(test_start_naming_a_child_still_in_init_waits_and_gets_its_pid),
        TEST(test_start_waiting_on_a_name_starts_afresh_when_the_holder_fails_init),
        TEST(test_starts_waiting_on_one_name_are_served_in_request_order),
        TEST(test_start_naming_a_restarting_child_gets_the_restarted_pid),
        TEST(test_start_waiting_on_a_name_answers_shutting_down_when_the_host_stops),
        TEST(test_name_is_free_again_after_the_child_is_gone),
        TEST(test_same_name_in_another_supervisor_is_allowed),
        TEST(test_name_check_comes_before_max_children),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
