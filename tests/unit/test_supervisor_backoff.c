/*
 * The supervision core: restart backoff (SPEC section 9). A child spec may
 * ask that its restarts wait: the n-th consecutive restart waits
 * restart_delay * 2^(n-1), capped at restart_delay_max, spread by +-25 %
 * jitter; a child that ran restart_delay_max without failing starts over.
 * A waiting restart is not a restart until it happens. Each test walks the
 * clock by hand (support_supervisor.h); the jitter's random numbers are
 * injected.
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
#include "supervisor_backoff.h"

#include "support_supervisor.h"

/* restart_delay 100 ms, restart_delay_max 1000 ms */
static struct child_start backing_off(const char *id, enum restart_policy restart)
{
    return with_backoff(worker(id, restart), 100, 1000);
}

/* The one TIMER_START of the last event: the wait before the restart. */
static uint32_t restart_wait(const struct world *w, child_key key)
{
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 1);
    const struct action *timer = nth_kind(w, ACTION_TIMER_START, 0);
    assert_int_equal(timer->key, key);
    return timer->timeout_ms;
}

static const struct child_info *child_of(const struct world *w, child_key key)
{
    const struct child_info *child = tree_find_child(w->tree, key);
    assert_non_null(child);
    return child;
}

/* Time passes until the waiting restart is due, and it happens. */
static void wait_and_restart(struct world *w, child_key key, uint32_t wait, pid_t new_pid)
{
    w->now += wait;
    timer_fired(w, key);
    assert_respawned(w, key);
    spawned(w, key, new_pid);
    init_reported(w, key, INIT_OK, NULL);
    assert_int_equal(child_of(w, key)->state, CHILD_RUNNING);
}

/* ---- the waits ---- */

static void test_without_backoff_a_restart_happens_at_once(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    assert_respawned(w, key);
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 0);
}

static void test_the_first_restart_waits_restart_delay_while_the_child_is_restarting(void **state)
{
    struct world *w = *state;
    w->now = 5000;
    child_key key = run_child(w, SUP, backing_off("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    assert_int_equal(restart_wait(w, key), 100);
    assert_log(w, 6, "child job: restart in 100 ms (backoff, restart 1 of this series)");
    const struct child_info *child = child_of(w, key);
    assert_int_equal(child->state, CHILD_RESTARTING);
    assert_int_equal(child->pid, 0);
    assert_int_equal(child->next_restart_at, 5100);
    assert_int_equal(child->restarts, 0); /* not a restart until it happens */
    assert_counts(w, SUP, 1, 0, 1);       /* still counted toward max_children */

    w->now = 5100;
    timer_fired(w, key);
    assert_respawned(w, key);
    assert_int_equal(child_of(w, key)->next_restart_at, -1);
    assert_int_equal(child_of(w, key)->restarts, 1);
}

static void test_each_consecutive_restart_waits_twice_as_long_up_to_the_cap(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "patient", DS_INFINITY, DS_INFINITY, 5); /* intensity is not the point */
    child_key key = run_child(w, "patient", backing_off("job", RESTART_PERMANENT), 100);
    static const uint32_t expected[] = {100, 200, 400, 800, 1000, 1000, 1000};
    pid_t pid = 100;
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        w->now += 10; /* each run is short: the series goes on */
        exited(w, pid, 1);
        uint32_t wait = restart_wait(w, key);
        assert_int_equal(wait, expected[i]);
        wait_and_restart(w, key, wait, ++pid);
    }
    assert_int_equal(child_of(w, key)->restarts, 7);
}

static void test_a_child_that_ran_restart_delay_max_without_failing_starts_over(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "patient", DS_INFINITY, DS_INFINITY, 5); /* intensity is not the point */
    child_key key = run_child(w, "patient", backing_off("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    wait_and_restart(w, key, restart_wait(w, key), 101);   /* 100 */
    exited(w, 101, 1);
    wait_and_restart(w, key, restart_wait(w, key), 102);   /* 200 */
    exited(w, 102, 1);
    assert_int_equal(restart_wait(w, key), 400);
    wait_and_restart(w, key, 400, 103);

    w->now += 999; /* not quite restart_delay_max: the series goes on */
    exited(w, 103, 1);
    assert_int_equal(restart_wait(w, key), 800);
    wait_and_restart(w, key, 800, 104);

    w->now += 1000; /* a whole restart_delay_max of healthy running */
    exited(w, 104, 1);
    assert_int_equal(restart_wait(w, key), 100);
}

static void test_a_restart_whose_init_fails_is_retried_after_the_next_wait(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, backing_off("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    w->now += restart_wait(w, key);
    timer_fired(w, key);
    spawned(w, key, 101);
    init_reported(w, key, INIT_FAILED, "service down");
    assert_log(w, 3, "child job: restart failed (service down); retrying");
    assert_int_equal(restart_wait(w, key), 200);
    assert_int_equal(child_of(w, key)->state, CHILD_RESTARTING);
}

static void test_a_transient_child_that_finished_is_not_restarted_even_with_backoff(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, backing_off("job", RESTART_TRANSIENT), 100);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 0);
    assert_null(tree_find_child(w->tree, key));
}

/* ---- jitter ---- */

static uint32_t sequence_values[8];
static size_t sequence_next;
static uint32_t next_in_sequence(void *context)
{
    (void)context;
    return sequence_values[sequence_next++ % 8];
}

static void test_each_wait_is_spread_by_up_to_a_quarter_either_way(void **state)
{
    struct world *w = *state;
    sequence_values[0] = 0;           /* the shortest: 3/4 of the nominal wait */
    sequence_values[1] = UINT32_MAX;  /* the longest: just under 5/4 */
    sequence_values[2] = UINT32_C(1) << 31; /* the middle: the nominal wait */
    sequence_next = 0;
    tree_set_random_source(w->tree, (struct random_source){next_in_sequence, NULL});
    child_key key = run_child(w, SUP, with_backoff(worker("job", RESTART_PERMANENT), 400, 10000), 100);
    exited(w, 100, 1);
    assert_int_equal(restart_wait(w, key), 300);          /* 400 * 0.75 */
    wait_and_restart(w, key, 300, 101);
    exited(w, 101, 1);
    assert_int_equal(restart_wait(w, key), 999);          /* 800 * (1.25 - 2^-32) */
    wait_and_restart(w, key, 999, 102);
    exited(w, 102, 1);
    assert_int_equal(restart_wait(w, key), 1600);
    assert_int_equal(child_of(w, key)->next_restart_at, w->now + 1600);
}

static void test_the_delay_arithmetic_caps_without_overflowing(void **state)
{
    (void)state;
    struct restart_backoff backoff = {1000, 86400000};
    assert_int_equal(backoff_nominal_ms(backoff, 1), 1000);
    assert_int_equal(backoff_nominal_ms(backoff, 17), 65536000);
    assert_int_equal(backoff_nominal_ms(backoff, 18), 86400000);
    assert_int_equal(backoff_nominal_ms(backoff, UINT32_MAX), 86400000);
    assert_int_equal(backoff_delay_ms(backoff, UINT32_MAX, UINT32_MAX), 107999999);
    assert_int_equal(backoff_delay_ms((struct restart_backoff){0, 0}, 3, 0), 0);
    assert_int_equal(backoff_delay_ms((struct restart_backoff){1, 1}, 1, 0), 1); /* never 0 */
}

/* ---- intensity ---- */

static void test_a_waiting_restart_counts_toward_the_intensity_only_when_it_happens(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "strict", DS_INFINITY, 1, 60);
    child_key key = run_child(w, "strict", backing_off("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    assert_int_equal(status_of(w, "strict").restarts_in_window, 0);
    wait_and_restart(w, key, restart_wait(w, key), 101);
    assert_int_equal(status_of(w, "strict").restarts_in_window, 1);

    exited(w, 101, 1);
    uint32_t wait = restart_wait(w, key); /* waiting is allowed... */
    assert_int_equal(status_of(w, "strict").restarts_in_window, 1);
    w->now += wait;
    timer_fired(w, key); /* ...but the second restart within 60 s is one too many */
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 3, "restart intensity exceeded: 2 restarts within 60 s (max_restarts 1)");
    assert_log(w, 4, "supervisor terminated and restarted empty by the root");
    assert_counts(w, "strict", 0, 0, 0);
}

static void test_max_restarts_infinity_never_gives_up(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "forever", DS_INFINITY, DS_INFINITY, 5);
    child_key key = run_child(w, "forever", worker("job", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 1100; pid++) {
        w->now += 1;
        crash_and_restart(w, pid, key, pid + 1);
    }
    assert_int_equal(child_of(w, key)->state, CHILD_RUNNING);
    assert_int_equal(child_of(w, key)->restarts, 1000);
    assert_int_equal(status_of(w, "forever").times_restarted, 0);
}

/* ---- stopping a child that waits ---- */

static void test_terminate_child_by_key_cancels_a_waiting_restart(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, backing_off("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    restart_wait(w, key);
    terminate_which(w, SUP, (struct child_selector){.key = key}, 7);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 1);
    assert_int_equal(nth_kind(w, ACTION_TIMER_CANCEL, 0)->key, key);
    assert_ok_reply(w, 7, 0);
    assert_log(w, 6, "child job stopped (it was waiting to restart)");
    assert_null(tree_find_child(w->tree, key));
    assert_counts(w, SUP, 0, 0, 0);
    timer_fired(w, key); /* a timer that fires anyway changes nothing */
    assert_int_equal(w->out.count, 0);
}

static void test_the_host_stops_at_once_with_only_waiting_children(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, backing_off("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    restart_wait(w, key);
    stop(w);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 1);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 0);
}

static void test_a_start_for_a_name_whose_holder_waits_is_answered_at_once(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, named(backing_off("job", RESTART_PERMANENT), "loader"), 100);
    exited(w, 100, 1);
    restart_wait(w, key);
    start(w, SUP, named(worker("job", RESTART_PERMANENT), "loader"), 8);
    const struct action *reply = reply_for(w, 8);
    assert_int_equal(reply->reply.error, ERR_ALREADY_STARTED);
    assert_int_equal(reply->reply.pid, 0);
    assert_string_equal(reply->reply.detail, "the child holding this name is waiting to restart");
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_without_backoff_a_restart_happens_at_once),
        TEST(test_the_first_restart_waits_restart_delay_while_the_child_is_restarting),
        TEST(test_each_consecutive_restart_waits_twice_as_long_up_to_the_cap),
        TEST(test_a_child_that_ran_restart_delay_max_without_failing_starts_over),
        TEST(test_a_restart_whose_init_fails_is_retried_after_the_next_wait),
        TEST(test_a_transient_child_that_finished_is_not_restarted_even_with_backoff),
        TEST(test_each_wait_is_spread_by_up_to_a_quarter_either_way),
        TEST(test_the_delay_arithmetic_caps_without_overflowing),
        TEST(test_a_waiting_restart_counts_toward_the_intensity_only_when_it_happens),
        TEST(test_max_restarts_infinity_never_gives_up),
        TEST(test_terminate_child_by_key_cancels_a_waiting_restart),
        TEST(test_the_host_stops_at_once_with_only_waiting_children),
        TEST(test_a_start_for_a_name_whose_holder_waits_is_answered_at_once),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
