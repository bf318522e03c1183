/*
 * How often a spawner may walk its children (child_walk_pace.h): often
 * while walks find something, rarely among thousands of children.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "child_walk_pace.h"

static void test_few_children_walk_at_the_shortest_interval(void **state)
{
    (void)state;
    assert_int_equal(pace_scan_interval_ms(0, false), PACE_SCAN_MIN_MS);
    assert_int_equal(pace_scan_interval_ms(100, false), PACE_SCAN_MIN_MS);
    assert_int_equal(pace_sweep_interval_ms(0, false), PACE_SWEEP_MIN_MS);
    assert_int_equal(pace_sweep_interval_ms(300, false), PACE_SWEEP_MIN_MS);
}

static void test_the_interval_grows_with_the_children(void **state)
{
    (void)state;
    assert_int_equal(pace_scan_interval_ms(10000, false), 300);
    assert_int_equal(pace_sweep_interval_ms(10000, false), 3000);
    assert_int_equal(pace_scan_interval_ms(1000, false), 30);
    assert_true(pace_scan_interval_ms(20000, false) > pace_scan_interval_ms(10000, false));
}

static void test_walks_that_find_something_keep_the_shortest_interval(void **state)
{
    (void)state;
    assert_int_equal(pace_scan_interval_ms(10000, true), PACE_SCAN_MIN_MS);
    assert_int_equal(pace_sweep_interval_ms(10000, true), PACE_SWEEP_MIN_MS);
}

static void test_no_overflow_at_absurd_counts(void **state)
{
    (void)state;
    assert_int_equal(pace_scan_interval_ms(SIZE_MAX / 64, false), PACE_MAX_MS);
    assert_int_equal(pace_sweep_interval_ms(SIZE_MAX / 512, false), PACE_MAX_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_few_children_walk_at_the_shortest_interval),
        cmocka_unit_test(test_the_interval_grows_with_the_children),
        cmocka_unit_test(test_walks_that_find_something_keep_the_shortest_interval),
        cmocka_unit_test(test_no_overflow_at_absurd_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
