/*
 * The restart keys of the configuration (SPEC section 9): max_restarts =
 * infinity, restart_delay and restart_delay_max in [supervisor:X] and
 * [child:ID], and how a child's backoff is found from both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "config.h"

#include "support_config.h"

static void test_a_supervisor_may_restart_its_children_forever(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\n");
    load_host(s, HOST "[supervisor:s]\nmax_restarts = infinity\n");
    assert_loaded_cleanly(s);
    assert_int_equal(s->cfg.supervisors[0].max_restarts, DS_INFINITY);
}

static void test_backoff_keys_are_read_from_supervisor_and_child(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini",
               "[child:a]\nplugin = p\nrestart_delay = 250\nrestart_delay_max = 4000\n"
               "[child:b]\nplugin = p\n");
    load_host(s, HOST "[supervisor:s]\nrestart_delay = 100\nrestart_delay_max = 10000\n"
                      "[supervisor:plain]\n");
    assert_loaded_cleanly(s);
    const struct supervisor_spec *sup = config_find_supervisor(&s->cfg, "s");
    const struct supervisor_spec *plain = config_find_supervisor(&s->cfg, "plain");
    const struct child_spec *a = config_find_child(&s->cfg, "a");
    const struct child_spec *b = config_find_child(&s->cfg, "b");

    /* The child's own keys win. */
    struct restart_backoff backoff = config_restart_backoff(sup, a);
    assert_int_equal(backoff.delay_ms, 250);
    assert_int_equal(backoff.delay_max_ms, 4000);
    /* A child without them takes its supervisor's. */
    backoff = config_restart_backoff(sup, b);
    assert_int_equal(backoff.delay_ms, 100);
    assert_int_equal(backoff.delay_max_ms, 10000);
    /* Neither says anything: restarts at once, as in OTP. */
    backoff = config_restart_backoff(plain, b);
    assert_int_equal(backoff.delay_ms, 0);
    assert_int_equal(backoff.delay_max_ms, 0);
}

static void test_restart_delay_max_defaults_to_a_minute_and_never_below_the_delay(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nrestart_delay = 500\n"
                                      "[child:slow]\nplugin = p\nrestart_delay = 90000\n");
    load_host(s, HOST "[supervisor:s]\n[supervisor:capped]\nrestart_delay_max = 2000\n");
    assert_loaded_cleanly(s);
    const struct supervisor_spec *sup = config_find_supervisor(&s->cfg, "s");
    struct restart_backoff backoff = config_restart_backoff(sup, config_find_child(&s->cfg, "a"));
    assert_int_equal(backoff.delay_ms, 500);
    assert_int_equal(backoff.delay_max_ms, 60000);
    backoff = config_restart_backoff(sup, config_find_child(&s->cfg, "slow"));
    assert_int_equal(backoff.delay_max_ms, 90000);
    /* A supervisor's cap below a child's own delay is raised to it. */
    backoff = config_restart_backoff(config_find_supervisor(&s->cfg, "capped"),
                                     config_find_child(&s->cfg, "slow"));
    assert_int_equal(backoff.delay_max_ms, 90000);
}

static const char *const bad_restart_values[][2] = {
    {HOST "[supervisor:s]\nrestart_delay = soon\n", "dynsup.ini:5: [supervisor:s] restart_delay: expected a number (decimal digits only), found \"soon\""},
    {HOST "[supervisor:s]\nrestart_delay = 86400001\n", "dynsup.ini:5: [supervisor:s] restart_delay: expected at most 86400000 ms (one day), found 86400001"},
    {HOST "[supervisor:s]\nrestart_delay_max = 0\n", "dynsup.ini:5: [supervisor:s] restart_delay_max: expected at least 1, found \"0\""},
    {HOST "[supervisor:s]\nrestart_delay = 5000\nrestart_delay_max = 1000\n", "dynsup.ini:6: [supervisor:s] restart_delay_max: must be at least restart_delay (5000 ms), found 1000"},
    {HOST "[supervisor:s]\nmax_restarts = forever\n", "dynsup.ini:5: [supervisor:s] max_restarts: expected a number of restarts or infinity, found \"forever\""},
};

static void test_bad_restart_values_name_file_section_and_key(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\n");
    for (size_t i = 0; i < sizeof bad_restart_values / sizeof bad_restart_values[0]; i++) {
        load_host(s, bad_restart_values[i][0]);
        assert_error(s, bad_restart_values[i][1]);
    }
}

static void test_bad_child_restart_values_are_all_reported_at_once(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini",
               "[child:a]\nplugin = p\nrestart_delay = -1\nrestart_delay_max = 1.5\n");
    load_host(s, HOST);
    assert_error(s, "a.ini:3: [child:a] restart_delay: expected a number (decimal digits only), found \"-1\"");
    assert_error(s, "a.ini:4: [child:a] restart_delay_max: expected a number (decimal digits only), found \"1.5\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_a_supervisor_may_restart_its_children_forever),
        TEST(test_backoff_keys_are_read_from_supervisor_and_child),
        TEST(test_restart_delay_max_defaults_to_a_minute_and_never_below_the_delay),
        TEST(test_bad_restart_values_name_file_section_and_key),
        TEST(test_bad_child_restart_values_are_all_reported_at_once),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
