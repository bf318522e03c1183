/*
 * [event:X] jitter: each periodic firing comes a random 0..jitter seconds
 * after it is due, counted from due times so delays never add up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "event_jitter.h"

static void test_no_jitter_means_no_delay(void **state)
{
    (void)state;
    assert_int_equal(event_jitter_ms(0, 0), 0);
    assert_int_equal(event_jitter_ms(0, UINT64_MAX), 0);
}

static void test_the_delay_covers_zero_to_jitter_both_included(void **state)
{
    (void)state;
    assert_int_equal(event_jitter_ms(60, 0), 0);
    assert_int_equal(event_jitter_ms(60, 60000), 60000);
    assert_int_equal(event_jitter_ms(60, 60001), 0);
    assert_int_equal(event_jitter_ms(UINT32_MAX, UINT64_MAX) <= (uint64_t)UINT32_MAX * 1000u, 1);
}

/* splitmix64: a deterministic stand-in for the kernel's random bits. */
static uint64_t next_bits(uint64_t *seed)
{
    uint64_t value = (*seed += 0x9e3779b97f4a7c15u);
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9u;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebu;
    return value ^ (value >> 31);
}

static void test_delays_spread_evenly_over_the_window(void **state)
{
    (void)state;
    /* 100,000 draws of jitter = 10 s in ten 1 s buckets: each holds about
     * a tenth (the binomial's standard deviation is ~95, so ±1,000 is
     * beyond ten of them), and the extremes are reached. */
    uint64_t seed = 42;
    int buckets[11] = {0};
    uint64_t lowest = UINT64_MAX, highest = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t delay = event_jitter_ms(10, next_bits(&seed));
        assert_true(delay <= 10000);
        buckets[delay / 1000]++;
        lowest = delay < lowest ? delay : lowest;
        highest = delay > highest ? delay : highest;
    }
    for (int b = 0; b < 10; b++) {
        assert_true(buckets[b] > 9000);
        assert_true(buckets[b] < 11000);
    }
    assert_true(lowest < 10);
    assert_true(highest > 9990);
}

static void test_the_wait_runs_from_now_to_due_plus_jitter(void **state)
{
    (void)state;
    assert_int_equal(event_wait_ms(1000, 61000, 0), 60000);
    assert_int_equal(event_wait_ms(1000, 61000, 2500), 62500);
}

static void test_a_firing_already_past_is_not_waited_for(void **state)
{
    (void)state;
    assert_int_equal(event_wait_ms(70000, 61000, 2500), 0);
}

static void test_firings_keep_their_period_whatever_the_delays(void **state)
{
    (void)state;
    /* The k-th firing of interval 60 jitter 30 lies in [60k, 60k + 30] s,
     * however late the previous ones came: the host re-arms from the due
     * time, and the loop's clock is where the previous firing happened. */
    uint64_t seed = 7, due = 0, now = 0;
    for (int k = 1; k <= 1000; k++) {
        due += 60000;
        now += event_wait_ms(now, due, event_jitter_ms(30, next_bits(&seed)));
        assert_true(now >= (uint64_t)k * 60000);
        assert_true(now <= (uint64_t)k * 60000 + 30000);
    }
}

static void test_the_next_due_time_is_one_period_later(void **state)
{
    (void)state;
    assert_int_equal(event_next_due_ms(60000, 60000, 60001), 120000);
    /* fired late, even by almost a period: still the next one in line */
    assert_int_equal(event_next_due_ms(60000, 60000, 119999), 120000);
}

static void test_firings_missed_while_held_up_are_skipped_not_burst(void **state)
{
    (void)state;
    /* Handled the firing due at 60 s only at 10 min 30 s (a suspended VM):
     * one firing at once (the one due at 10 min), then 11 min; not the
     * eight firings due at 2, 3, ... 9 min in a burst. */
    assert_int_equal(event_next_due_ms(60000, 60000, 630000), 660000 - 60000);
    assert_true(event_next_due_ms(60000, 60000, 630000) + 60000 > 630000);
}

static void test_the_random_source_gives_different_bits(void **state)
{
    (void)state;
    uint64_t first = event_random_bits();
    int differ = 0;
    for (int i = 0; i < 4; i++)
        differ += event_random_bits() != first;
    assert_true(differ > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_jitter_means_no_delay),
        cmocka_unit_test(test_the_delay_covers_zero_to_jitter_both_included),
        cmocka_unit_test(test_delays_spread_evenly_over_the_window),
        cmocka_unit_test(test_the_wait_runs_from_now_to_due_plus_jitter),
        cmocka_unit_test(test_a_firing_already_past_is_not_waited_for),
        cmocka_unit_test(test_firings_keep_their_period_whatever_the_delays),
        cmocka_unit_test(test_the_next_due_time_is_one_period_later),
        cmocka_unit_test(test_firings_missed_while_held_up_are_skipped_not_burst),
        cmocka_unit_test(test_the_random_source_gives_different_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
