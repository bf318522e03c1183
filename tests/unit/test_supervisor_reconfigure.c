/*
 * The supervision core under a reload (SPEC section 8): a supervisor's new
 * settings apply from now on without touching its children; a removed
 * supervisor stops its children as a host stop would, then is gone; one
 * added back while that runs is created once the old one is gone; a
 * plugin process relaunched by the root counts toward the root's
 * intensity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "supervisor.h"

#include "support_supervisor.h"

static void test_a_lowered_max_children_only_refuses_new_starts(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    run_child(w, SUP, worker("b", RESTART_PERMANENT), 101);
    struct supervisor_config lowered = {.name = SUP, .max_children = 1, .max_restarts = 3,
                                        .max_seconds = 5};
    assert_int_equal(tree_update_supervisor(w->tree, &lowered), 0);
    assert_false(has_signal(w, 100, SIGTERM) || has_signal(w, 101, SIGTERM));
    start(w, SUP, worker("c", RESTART_PERMANENT), 9);
    assert_error_reply(w, 9, ERR_MAX_CHILDREN);
    assert_counts(w, SUP, 2, 2, 2);
}

static void test_a_removed_supervisor_stops_its_children_then_is_gone(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    run_child(w, SUP, worker("b", RESTART_PERMANENT), 101);
    action_list_clear(&w->out);
    tree_remove_supervisor(w->tree, SUP, w->now, &w->out);
    assert_true(has_signal(w, 100, SIGTERM));
    assert_true(has_signal(w, 101, SIGTERM));
    assert_true(tree_has_supervisor(w->tree, SUP));
    start(w, SUP, worker("c", RESTART_PERMANENT), 9);
    assert_error_reply(w, 9, ERR_SHUTTING_DOWN);
    exited(w, 100, 0);
    assert_true(tree_has_supervisor(w->tree, SUP));
    exited(w, 101, 0);
    assert_false(tree_has_supervisor(w->tree, SUP));
    assert_non_null(log_containing(w, "supervisor removed"));
    /* not a restart by the root: the host carries on */
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    assert_int_equal(tree_root_restarts_in_window(w->tree, w->now), 0);
}

static void test_an_empty_supervisor_is_removed_at_once(void **state)
{
    struct world *w = *state;
    action_list_clear(&w->out);
    tree_remove_supervisor(w->tree, SUP, w->now, &w->out);
    assert_false(tree_has_supervisor(w->tree, SUP));
}

static const struct supervisor_config ONE_CHILD = {.name = SUP, .max_children = 1,
                                                   .max_restarts = 3, .max_seconds = 5};

static void add_by_reload(struct world *w, const struct supervisor_config *config, int expected)
{
    action_list_clear(&w->out);
    assert_int_equal(tree_add_supervisor_by_reload(w->tree, config, &w->out), expected);
}

static void remove_by_reload(struct world *w, const char *name)
{
    action_list_clear(&w->out);
    tree_remove_supervisor(w->tree, name, w->now, &w->out);
}

static bool announced(const struct world *w, const char *name)
{
    return count_kind(w, ACTION_SUPERVISOR_ADDED) == 1 &&
           strcmp(nth_kind(w, ACTION_SUPERVISOR_ADDED, 0)->supervisor, name) == 0;
}

static void test_a_supervisor_added_by_a_reload_exists_at_once_and_is_announced(void **state)
{
    struct world *w = *state;
    struct supervisor_config fresh = {.name = "fresh", .max_children = DS_INFINITY,
                                      .max_restarts = 3, .max_seconds = 5};
    add_by_reload(w, &fresh, 0);
    assert_true(tree_has_supervisor(w->tree, "fresh"));
    assert_true(announced(w, "fresh"));
}

static void test_a_supervisor_of_a_name_in_use_is_not_added(void **state)
{
    struct world *w = *state;
    add_by_reload(w, &ONE_CHILD, -1);
    assert_int_equal(count_kind(w, ACTION_SUPERVISOR_ADDED), 0);
}

static void test_one_re_added_while_its_removal_runs_is_created_once_the_old_one_is_gone(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    run_child(w, SUP, worker("b", RESTART_PERMANENT), 101);
    remove_by_reload(w, SUP);
    add_by_reload(w, &ONE_CHILD, 0);
    assert_int_equal(count_kind(w, ACTION_SUPERVISOR_ADDED), 0);
    assert_non_null(log_containing(w, "created once the removed one's 2 children have stopped"));
    /* meanwhile the name is the old supervisor's, stopping */
    assert_true(status_of(w, SUP).stopping);
    start(w, SUP, worker("c", RESTART_PERMANENT), 9);
    assert_error_reply(w, 9, ERR_SHUTTING_DOWN);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_SUPERVISOR_ADDED), 0);
    exited(w, 101, 0);
    assert_non_null(log_containing(w, "supervisor removed"));
    assert_true(announced(w, SUP));
    /* empty, with the settings it was re-added with */
    assert_true(tree_has_supervisor(w->tree, SUP));
    assert_false(status_of(w, SUP).stopping);
    assert_counts(w, SUP, 0, 0, 0);
    run_child(w, SUP, worker("c", RESTART_PERMANENT), 102);
    start(w, SUP, worker("d", RESTART_PERMANENT), 10);
    assert_error_reply(w, 10, ERR_MAX_CHILDREN);
}

static void test_a_change_to_a_pending_re_add_is_what_it_is_created_with(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    remove_by_reload(w, SUP);
    struct supervisor_config unlimited = ONE_CHILD;
    unlimited.max_children = DS_INFINITY;
    add_by_reload(w, &unlimited, 0);
    assert_int_equal(tree_update_supervisor(w->tree, &ONE_CHILD), 0);
    exited(w, 100, 0);
    assert_true(announced(w, SUP));
    run_child(w, SUP, worker("c", RESTART_PERMANENT), 102);
    start(w, SUP, worker("d", RESTART_PERMANENT), 10);
    assert_error_reply(w, 10, ERR_MAX_CHILDREN);
}

static void test_a_pending_re_add_removed_again_is_never_created(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    remove_by_reload(w, SUP);
    add_by_reload(w, &ONE_CHILD, 0);
    remove_by_reload(w, SUP);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_SUPERVISOR_ADDED), 0);
    assert_false(tree_has_supervisor(w->tree, SUP));
    start(w, SUP, worker("c", RESTART_PERMANENT), 9);
    assert_error_reply(w, 9, ERR_UNKNOWN_SUPERVISOR);
}

static void test_a_pending_re_add_is_dropped_when_the_host_stops(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    remove_by_reload(w, SUP);
    add_by_reload(w, &ONE_CHILD, 0);
    stop(w);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_SUPERVISOR_ADDED), 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

static void test_relaunches_count_toward_the_root_intensity(void **state)
{
    struct world *w = *state;
    /* the harness's root allows 3 restarts in 5 s */
    for (int i = 0; i < 3; i++) {
        action_list_clear(&w->out);
        assert_true(tree_root_restart(w->tree, "plugin process of x", w->now, &w->out));
    }
    action_list_clear(&w->out);
    assert_false(tree_root_restart(w->tree, "plugin process of x", w->now, &w->out));
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 1);
    assert_non_null(log_containing(w, "root restart intensity exceeded"));
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_a_lowered_max_children_only_refuses_new_starts),
        TEST(test_a_removed_supervisor_stops_its_children_then_is_gone),
        TEST(test_an_empty_supervisor_is_removed_at_once),
        TEST(test_a_supervisor_added_by_a_reload_exists_at_once_and_is_announced),
        TEST(test_a_supervisor_of_a_name_in_use_is_not_added),
        TEST(test_one_re_added_while_its_removal_runs_is_created_once_the_old_one_is_gone),
        TEST(test_a_change_to_a_pending_re_add_is_what_it_is_created_with),
        TEST(test_a_pending_re_add_removed_again_is_never_created),
        TEST(test_a_pending_re_add_is_dropped_when_the_host_stops),
        TEST(test_relaunches_count_toward_the_root_intensity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
