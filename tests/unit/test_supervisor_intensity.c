/*
 * The supervision core: restart intensity (max_restarts in max_seconds,
 * a sliding window on the injected clock) and escalation, a supervisor
 * giving up, up to the root stopping the host. Each test feeds events to
 * a tree and checks the actions that come out (support_supervisor.h).
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

/* ---- restart intensity ---- */

static void test_max_restarts_within_max_seconds_are_allowed(void **state)
{
    struct world *w = *state; /* max_restarts 3, max_seconds 5 */
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++) {
        w->now += 1000;
        crash_and_restart(w, pid, key, pid + 1);
    }
    assert_int_equal(status_of(w, SUP).restarts_in_window, 3);
    assert_false(status_of(w, SUP).stopping);
    assert_counts(w, SUP, 1, 1, 1);
}

static void test_one_restart_more_than_max_restarts_escalates(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, key, pid + 1);
    exited(w, 103, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 3, "restart intensity exceeded: 4 restarts within 5 s (max_restarts 3)");
    /* It was the only child, so the supervisor terminated and the root restarted it. */
    assert_log(w, 4, "restarted empty by the root");
    assert_counts(w, SUP, 0, 0, 0);
    assert_int_equal(status_of(w, SUP).times_restarted, 1);
}

static void test_restart_one_ms_inside_the_window_still_counts(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, key, pid + 1); /* all at t = 0 */
    w->now = 4999;
    exited(w, 103, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_non_null(log_containing(w, "restart intensity exceeded"));
}

static void test_restart_exactly_max_seconds_old_drops_out_of_the_window(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, key, pid + 1); /* all at t = 0 */
    w->now = 5000;
    assert_int_equal(status_of(w, SUP).restarts_in_window, 0);
    exited(w, 103, 1);
    assert_respawned(w, key);
    assert_null(log_containing(w, "restart intensity exceeded"));
    assert_int_equal(status_of(w, SUP).restarts_in_window, 1);
}

static void test_sliding_window_forgets_only_the_oldest_restarts(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    w->now = 0;
    crash_and_restart(w, 100, key, 101);
    w->now = 3000;
    crash_and_restart(w, 101, key, 102);
    crash_and_restart(w, 102, key, 103);
    w->now = 5000; /* the restart at 0 leaves; two remain, this is the third */
    crash_and_restart(w, 103, key, 104);
    assert_int_equal(status_of(w, SUP).restarts_in_window, 3);
    w->now = 7999; /* the ones at 3000 are still in: a fourth is too many */
    exited(w, 104, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
}

static void test_max_restarts_zero_escalates_on_the_first_restart(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "strict", DS_INFINITY, 0, 5);
    run_child(w, "strict", worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_non_null(log_containing(w, "restart intensity exceeded"));
    assert_int_equal(status_of(w, "strict").times_restarted, 1);
}

static void test_exits_without_restart_do_not_count_toward_intensity(void **state)
{
    struct world *w = *state;
    for (pid_t pid = 100; pid < 110; pid++) {
        run_child(w, SUP, worker("job", RESTART_TEMPORARY), pid);
        killed(w, pid, SIGKILL);
    }
    assert_int_equal(status_of(w, SUP).restarts_in_window, 0);
}

/* ---- escalation: a supervisor gives up ---- */

static void test_escalation_shuts_down_all_children_at_once_by_their_shutdown(void **state)
{
    struct world *w = *state;
    child_key crasher = escalate_with_three_siblings(w, SUP);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 3);
    assert_true(has_signal(w, 301, SIGKILL));
    assert_true(has_signal(w, 302, SIGTERM));
    assert_true(has_signal(w, 303, SIGTERM));
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 1);
    const struct child_list list = children_of(w, SUP);
    assert_int_equal(list.count, 3); /* the crasher had no process: gone at once */
    assert_null(tree_find_child(w->tree, crasher));
    assert_true(has_timer_start(w, list.keys[1], 2000));
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(list.states[i], CHILD_STOPPING);
    assert_true(status_of(w, SUP).stopping);
    assert_int_equal(status_of(w, SUP).times_restarted, 0);
}

static void test_escalated_supervisor_is_restarted_empty_after_the_last_child_is_reaped(void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    const struct child_list list = children_of(w, SUP);
    killed(w, 301, SIGKILL);
    assert_null(log_containing(w, "restarted empty"));
    exited(w, 302, 0);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 1);
    assert_int_equal(nth_kind(w, ACTION_TIMER_CANCEL, 0)->key, list.keys[1]);
    killed(w, 303, SIGTERM);
    assert_log(w, 4, "supervisor terminated and restarted empty by the root (restart 1 since boot)");
    assert_string_equal(log_containing(w, "restarted empty")->supervisor, SUP);
    struct supervisor_status status = status_of(w, SUP);
    assert_false(status.stopping);
    assert_int_equal(status.times_restarted, 1);
    assert_int_equal(status.restarts_in_window, 0);
    assert_int_equal(tree_root_restarts_in_window(w->tree, w->now), 1);
    assert_counts(w, SUP, 0, 0, 0);
    run_child(w, SUP, worker("fresh", RESTART_PERMANENT), 400);
}

static void test_escalating_supervisor_refuses_new_starts(void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    start(w, SUP, worker("late", RESTART_PERMANENT), 7);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
}

static void test_escalation_answers_pending_starts_shutting_down(void **state)
{
    struct world *w = *state;
    child_key pending = start_spawning(w, SUP, worker("pending", RESTART_PERMANENT), 7);
    spawned(w, pending, 500);
    child_key crasher = run_child(w, SUP, worker("crasher", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, crasher, pid + 1);
    exited(w, 103, 1);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    assert_true(has_signal(w, 500, SIGTERM));
    init_reported(w, pending, INIT_OK, NULL); /* too late: it is being stopped */
    assert_int_equal(w->out.count, 0);
    exited(w, 500, 0);
    assert_non_null(log_containing(w, "restarted empty"));
}

static void test_escalation_signals_a_child_spawned_later_when_its_pid_arrives(void **state)
{
    struct world *w = *state;
    child_key late = start_spawning(w, SUP, with_shutdown(worker("late", RESTART_PERMANENT),
                                                          SHUTDOWN_BRUTAL_KILL, 0), 7);
    child_key crasher = run_child(w, SUP, worker("crasher", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, crasher, pid + 1);
    exited(w, 103, 1);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0);
    assert_counts(w, SUP, 1, 0, 1);
    spawned(w, late, 600);
    assert_true(has_signal(w, 600, SIGKILL));
    killed(w, 600, SIGKILL);
    assert_non_null(log_containing(w, "restarted empty"));
}

static void test_escalation_removes_a_child_whose_spawn_then_fails(void **state)
{
    struct world *w = *state;
    child_key late = start_spawning(w, SUP, worker("late", RESTART_PERMANENT), 7);
    child_key crasher = run_child(w, SUP, worker("crasher", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, crasher, pid + 1);
    exited(w, 103, 1);
    spawn_failed(w, late, "fork failed");
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0);
    assert_null(tree_find_child(w->tree, late));
    assert_non_null(log_containing(w, "restarted empty"));
}

static void test_child_exiting_abnormally_while_its_supervisor_shuts_down_is_not_restarted(
    void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    killed(w, 303, SIGSEGV);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 6, "child patient stopped (killed by signal 11)");
    assert_counts(w, SUP, 2, 0, 2);
}

static void test_escalation_leaves_other_supervisors_alone(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, "other", worker("bystander", RESTART_PERMANENT), 900);
    escalate_with_three_siblings(w, SUP);
    assert_false(has_signal(w, 900, SIGTERM));
    assert_false(status_of(w, "other").stopping);
    assert_counts(w, "other", 1, 1, 1);
    run_child(w, "other", worker("newcomer", RESTART_PERMANENT), 901);
}

static void test_root_intensity_exceeded_stops_the_host_with_status_one(void **state)
{
    struct world *w = *state; /* root: 3 restarts in 5 s */
    add_supervisor(w, "strict", DS_INFINITY, 0, 5);
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, "other", worker("bystander", RESTART_PERMANENT), 900);
    for (pid_t pid = 100; pid < 103; pid++) {
        run_child(w, "strict", worker("job", RESTART_PERMANENT), pid);
        exited(w, pid, 1);
        assert_non_null(log_containing(w, "restarted empty"));
    }
    assert_int_equal(tree_root_restarts_in_window(w->tree, w->now), 3);
    run_child(w, "strict", worker("job", RESTART_PERMANENT), 103);
    exited(w, 103, 1);
    assert_log(w, 3, "root restart intensity exceeded: 4 supervisor restarts within 5 s");
    assert_null(log_containing(w, "restarted empty"));
    assert_true(tree_is_stopping(w->tree));
    assert_true(has_signal(w, 900, SIGTERM));
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    start(w, "other", worker("late", RESTART_PERMANENT), 7);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    exited(w, 900, 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 1);
}

static void test_root_restarts_older_than_the_root_window_drop_out(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "strict", DS_INFINITY, 0, 5);
    for (pid_t pid = 100; pid < 110; pid++) {
        w->now += 2000; /* at most 3 in any 5 s */
        run_child(w, "strict", worker("job", RESTART_PERMANENT), pid);
        exited(w, pid, 1);
        assert_non_null(log_containing(w, "restarted empty"));
    }
    assert_false(tree_is_stopping(w->tree));
    assert_int_equal(status_of(w, "strict").times_restarted, 10);
}

static void test_root_intensity_exceeded_with_no_children_left_exits_at_once(void **state)
{
    struct world *w = *state;
    struct tree *strict_root = tree_new(0, 5);
    tree_free(w->tree);
    w->tree = strict_root;
    add_supervisor(w, "strict", DS_INFINITY, 0, 5);
    run_child(w, "strict", worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 1);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_max_restarts_within_max_seconds_are_allowed),
        TEST(test_one_restart_more_than_max_restarts_escalates),
        TEST(test_restart_one_ms_inside_the_window_still_counts),
        TEST(test_restart_exactly_max_seconds_old_drops_out_of_the_window),
        TEST(test_sliding_window_forgets_only_the_oldest_restarts),
        TEST(test_max_restarts_zero_escalates_on_the_first_restart),
        TEST(test_exits_without_restart_do_not_count_toward_intensity),
        TEST(test_escalation_shuts_down_all_children_at_once_by_their_shutdown),
        TEST(test_escalated_supervisor_is_restarted_empty_after_the_last_child_is_reaped),
        TEST(test_escalating_supervisor_refuses_new_starts),
        TEST(test_escalation_answers_pending_starts_shutting_down),
        TEST(test_escalation_signals_a_child_spawned_later_when_its_pid_arrives),
        TEST(test_escalation_removes_a_child_whose_spawn_then_fails),
        TEST(test_child_exiting_abnormally_while_its_supervisor_shuts_down_is_not_restarted),
        TEST(test_escalation_leaves_other_supervisors_alone),
        TEST(test_root_intensity_exceeded_stops_the_host_with_status_one),
        TEST(test_root_restarts_older_than_the_root_window_drop_out),
        TEST(test_root_intensity_exceeded_with_no_children_left_exits_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
