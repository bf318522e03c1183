/*
 * The supervision core: each child's identity (SPEC sections 5 and 9). A
 * child has a key that outlives its restarts and is never given to another
 * child; which_children shows when its process started, how often it was
 * restarted and how it last ended; terminate_child finds it by pid, by
 * registered name or by key.
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

static const struct child_info *child_of(const struct world *w, child_key key)
{
    const struct child_info *child = tree_find_child(w->tree, key);
    assert_non_null(child);
    return child;
}

static void test_a_key_is_positive_stable_across_restarts_and_never_reused(void **state)
{
    struct world *w = *state;
    child_key first = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    assert_true(first > 0);
    crash_and_restart(w, 100, first, 101);
    assert_int_equal(children_of(w, SUP).keys[0], first);
    assert_int_equal(children_of(w, SUP).pids[0], 101);

    terminate(w, SUP, 101, 1);
    exited(w, 101, 0);
    child_key second = run_child(w, SUP, worker("job", RESTART_PERMANENT), 102);
    assert_true(second > first);
}

static void test_which_children_shows_start_time_restarts_and_last_exit(void **state)
{
    struct world *w = *state;
    w->now = 1000;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 1);
    assert_int_equal(child_of(w, key)->started_at, -1); /* no process yet */
    assert_false(child_of(w, key)->has_exited);
    w->now = 1010;
    spawned(w, key, 100);
    init_reported(w, key, INIT_OK, NULL);
    assert_int_equal(child_of(w, key)->started_at, 1010);
    assert_int_equal(child_of(w, key)->restarts, 0);

    w->now = 2000;
    killed(w, 100, SIGKILL);
    const struct child_info *child = child_of(w, key);
    assert_int_equal(child->state, CHILD_RESTARTING);
    assert_int_equal(child->started_at, -1); /* its process is gone */
    assert_true(child->has_exited);
    assert_int_equal(child->last_exit.signal, SIGKILL);
    assert_int_equal(child->last_exit_at, 2000);
    assert_int_equal(child->restarts, 1);
    assert_int_equal(child->next_restart_at, -1); /* restarting at once, not waiting */

    w->now = 2005;
    spawned(w, key, 101);
    init_reported(w, key, INIT_OK, NULL);
    assert_int_equal(child_of(w, key)->started_at, 2005);
    w->now = 3000;
    crash_and_restart(w, 101, key, 102);
    assert_int_equal(child_of(w, key)->last_exit.exit_code, 1);
    assert_int_equal(child_of(w, key)->last_exit.signal, 0);
    assert_int_equal(child_of(w, key)->restarts, 2);
}

static void test_terminate_child_by_registered_name(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, named(worker("job", RESTART_PERMANENT), "loader"), 100);
    terminate_which(w, SUP, (struct child_selector){.name = "loader"}, 5);
    assert_true(has_signal(w, 100, SIGTERM));
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
    assert_null(tree_find_child(w->tree, key));
}

static void test_terminate_child_by_key_of_a_running_child(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate_which(w, SUP, (struct child_selector){.key = key}, 5);
    assert_true(has_signal(w, 100, SIGTERM));
    assert_log(w, 6, "child job: terminate requested; shutting down (SIGTERM, SIGKILL after 5000 ms)");
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
}

static void test_terminate_child_of_an_unknown_name_or_key_is_not_found(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    child_key elsewhere = run_child(w, "other", named(worker("job", RESTART_PERMANENT), "x"), 100);
    terminate_which(w, SUP, (struct child_selector){.key = elsewhere}, 1);
    assert_error_reply(w, 1, ERR_NOT_FOUND); /* a key of another supervisor */
    terminate_which(w, SUP, (struct child_selector){.name = "x"}, 2);
    assert_error_reply(w, 2, ERR_NOT_FOUND); /* names are per supervisor */
    terminate_which(w, SUP, (struct child_selector){.key = 999}, 3);
    assert_error_reply(w, 3, ERR_NOT_FOUND);
    assert_false(has_signal(w, 100, SIGTERM));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_a_key_is_positive_stable_across_restarts_and_never_reused),
        TEST(test_which_children_shows_start_time_restarts_and_last_exit),
        TEST(test_terminate_child_by_registered_name),
        TEST(test_terminate_child_by_key_of_a_running_child),
        TEST(test_terminate_child_of_an_unknown_name_or_key_is_not_found),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
