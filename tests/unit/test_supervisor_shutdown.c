/*
 * The supervision core: terminate_child by each shutdown mode (brutal_kill,
 * timeout, infinity) and stopping the host. Each test feeds events to a
 * tree with a hand-driven clock and checks the actions that come out
 * (support_supervisor.h).
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

/* ---- terminate_child ---- */

static void test_terminate_child_with_an_unknown_pid_answers_not_found(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 4242, 5);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 5, ERR_NOT_FOUND);
}

static void test_terminate_child_of_another_supervisor_answers_not_found(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, "other", worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    assert_error_reply(w, 5, ERR_NOT_FOUND);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0);
}

static void test_terminate_child_on_unknown_supervisor_is_refused(void **state)
{
    struct world *w = *state;
    terminate(w, "nope", 100, 5);
    assert_error_reply(w, 5, ERR_UNKNOWN_SUPERVISOR);
}

static void test_terminate_child_answers_ok_only_after_the_child_is_reaped(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    assert_false(has_reply_for(w, 5));
    assert_true(has_signal(w, 100, SIGTERM));
    assert_int_equal(tree_find_child(w->tree, key)->state, CHILD_STOPPING);
    assert_counts(w, SUP, 1, 0, 1);
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_terminated_permanent_child_is_not_restarted(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    killed(w, 100, SIGTERM);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(status_of(w, SUP).restarts_in_window, 0);
}

static void test_stopping_child_exiting_abnormally_still_counts_as_normal(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    terminate(w, SUP, 100, 5);
    exited(w, 100, 143);
    assert_ok_reply(w, 5, 0);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 6, "child job stopped (exit status 143)");
}

static void test_terminate_brutal_kill_child_sends_sigkill_without_a_timer(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, with_shutdown(worker("job", RESTART_PERMANENT), SHUTDOWN_BRUTAL_KILL, 0), 100);
    terminate(w, SUP, 100, 5);
    assert_true(has_signal(w, 100, SIGKILL));
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 1);
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 0);
    killed(w, 100, SIGKILL);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 0);
    assert_ok_reply(w, 5, 0);
}

static void test_terminate_timeout_child_sends_sigterm_then_sigkill_when_the_timer_fires(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, with_shutdown(worker("job", RESTART_PERMANENT),
                                                    SHUTDOWN_TIMEOUT, 3000), 100);
    terminate(w, SUP, 100, 5);
    assert_true(has_signal(w, 100, SIGTERM));
    assert_true(has_timer_start(w, key, 3000));
    assert_log(w, 6, "SIGTERM, SIGKILL after 3000 ms");
    w->now += 3000;
    timer_fired(w, key);
    assert_true(has_signal(w, 100, SIGKILL));
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 0);
    assert_log(w, 4, "child job did not stop within 3000 ms");
    killed(w, 100, SIGKILL);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 0); /* it already fired */
    assert_ok_reply(w, 5, 0);
}

static void test_child_stopping_in_time_cancels_its_shutdown_timer(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 1);
    assert_int_equal(nth_kind(w, ACTION_TIMER_CANCEL, 0)->key, key);
    timer_fired(w, key); /* a late timer for a gone child does nothing */
    assert_int_equal(w->out.count, 0);
}

static void test_terminate_infinity_child_sends_sigterm_and_waits(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, with_shutdown(worker("job", RESTART_PERMANENT), SHUTDOWN_INFINITY, 0), 100);
    terminate(w, SUP, 100, 5);
    assert_true(has_signal(w, 100, SIGTERM));
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 0);
    w->now += 3600 * 1000;
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
}

static void test_terminating_a_stopping_child_again_answers_both_when_reaped(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    terminate(w, SUP, 100, 6);
    assert_int_equal(w->out.count, 0); /* no second signal, no answer yet */
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
    assert_ok_reply(w, 6, 0);
}

static void test_terminating_a_child_during_init_fails_its_pending_start(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    terminate(w, SUP, 100, 5);
    assert_error_reply(w, 7, ERR_INIT_FAILED);
    assert_string_equal(reply_for(w, 7)->reply.detail, "stopped before init returned");
    assert_true(has_signal(w, 100, SIGTERM));
    init_reported(w, key, INIT_OK, NULL);
    assert_int_equal(w->out.count, 0);
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_terminate_child_works_on_a_supervisor_already_shutting_down(void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    terminate(w, SUP, 303, 5);
    assert_int_equal(w->out.count, 0);
    exited(w, 303, 0);
    assert_ok_reply(w, 5, 0);
}

/* ---- stopping the host ---- */

static void test_host_stop_with_no_children_exits_zero_at_once(void **state)
{
    struct world *w = *state;
    stop(w);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 0);
    assert_true(tree_is_stopping(w->tree));
}

static void test_host_stop_shuts_down_every_child_and_exits_after_the_last_reap(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, SUP, with_shutdown(worker("a", RESTART_PERMANENT), SHUTDOWN_BRUTAL_KILL, 0), 100);
    run_child(w, SUP, worker("b", RESTART_TRANSIENT), 101);
    run_child(w, "other", with_shutdown(worker("c", RESTART_PERMANENT), SHUTDOWN_INFINITY, 0), 102);
    stop(w);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 3);
    assert_true(has_signal(w, 100, SIGKILL));
    assert_true(has_signal(w, 101, SIGTERM));
    assert_true(has_signal(w, 102, SIGTERM));
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 1);
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    assert_true(status_of(w, "other").stopping);
    killed(w, 100, SIGKILL);
    exited(w, 102, 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    killed(w, 101, SIGTERM);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 0);
}

static void test_host_stop_is_idempotent(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    stop(w);
    stop(w);
    assert_int_equal(w->out.count, 0);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    stop(w);
    assert_int_equal(w->out.count, 0);
}

static void test_host_stop_answers_pending_starts_shutting_down(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("a", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    stop(w);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    assert_true(has_signal(w, 100, SIGTERM));
    start(w, SUP, worker("b", RESTART_PERMANENT), 8);
    assert_error_reply(w, 8, ERR_SHUTTING_DOWN);
}

static void test_host_stop_signals_a_spawn_in_flight_once_its_pid_arrives(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("a", RESTART_PERMANENT), 7);
    stop(w);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    spawned(w, key, 100);
    assert_true(has_signal(w, 100, SIGTERM));
    assert_true(has_timer_start(w, key, 5000));
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 1);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

static void test_host_stop_removes_a_spawn_in_flight_that_fails(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("a", RESTART_PERMANENT), 7);
    stop(w);
    spawn_failed(w, key, "fork failed");
    assert_int_equal(count_kind(w, ACTION_REPLY), 0); /* it was answered at the stop */
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

static void test_host_stop_stops_a_restart_in_flight(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    stop(w);
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    spawned(w, key, 200);
    assert_true(has_signal(w, 200, SIGTERM));
    init_reported(w, key, INIT_FAILED, "too late anyway");
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    exited(w, 200, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

static void test_host_stop_during_an_escalation_exits_zero_without_restarting(void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    stop(w);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0); /* all were signalled already */
    killed(w, 301, SIGKILL);
    exited(w, 302, 0);
    exited(w, 303, 0);
    assert_null(log_containing(w, "restarted empty"));
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 0);
    assert_int_equal(status_of(w, SUP).times_restarted, 0);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_terminate_child_with_an_unknown_pid_answers_not_found),
        TEST(test_terminate_child_of_another_supervisor_answers_not_found),
        TEST(test_terminate_child_on_unknown_supervisor_is_refused),
        TEST(test_terminate_child_answers_ok_only_after_the_child_is_reaped),
        TEST(test_terminated_permanent_child_is_not_restarted),
        TEST(test_stopping_child_exiting_abnormally_still_counts_as_normal),
        TEST(test_terminate_brutal_kill_child_sends_sigkill_without_a_timer),
        TEST(test_terminate_timeout_child_sends_sigterm_then_sigkill_when_the_timer_fires),
        TEST(test_child_stopping_in_time_cancels_its_shutdown_timer),
        TEST(test_terminate_infinity_child_sends_sigterm_and_waits),
        TEST(test_terminating_a_stopping_child_again_answers_both_when_reaped),
        TEST(test_terminating_a_child_during_init_fails_its_pending_start),
        TEST(test_terminate_child_works_on_a_supervisor_already_shutting_down),
        TEST(test_host_stop_with_no_children_exits_zero_at_once),
        TEST(test_host_stop_shuts_down_every_child_and_exits_after_the_last_reap),
        TEST(test_host_stop_is_idempotent),
        TEST(test_host_stop_answers_pending_starts_shutting_down),
        TEST(test_host_stop_signals_a_spawn_in_flight_once_its_pid_arrives),
        TEST(test_host_stop_removes_a_spawn_in_flight_that_fails),
        TEST(test_host_stop_stops_a_restart_in_flight),
        TEST(test_host_stop_during_an_escalation_exits_zero_without_restarting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
