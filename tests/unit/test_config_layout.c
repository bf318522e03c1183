/*
 * Configuration layout: malformed or repeated section and key names, the
 * same child id twice, and every error of a file reported at once (a
 * syntax error hiding none of the others).
 */
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_values.h"

#include "support_config.h"

/* ---- names, sections, duplicates ------------------------------------- */

static const char *const bad_layouts[][2] = {
    {"[Host]\nplugin_dir = p\nsocket = s\n", "dynsup.ini:1: [Host]: invalid section name: use lowercase letters, digits and _"},
    {HOST "Max_Restarts = 1\n", "dynsup.ini:4: [host] Max_Restarts: invalid key name: use lowercase letters, digits and _"},
    {HOST "[supervisor:Auth]\n", "dynsup.ini:4: [supervisor:Auth]: invalid section name"},
    {HOST "[supervisor:a:b]\n", "dynsup.ini:4: [supervisor:a:b]: invalid section name"},
    {HOST "[supervisor]\n", "dynsup.ini:4: [supervisor]: missing name: write [supervisor:NAME]"},
    {HOST "[host:x]\n", "dynsup.ini:4: [host:x]: [host] takes no name"},
    {HOST "[service:x]\n", "dynsup.ini:4: [service:x]: unknown section type (expected [host], [supervisor:NAME] or [event:NAME])"},
    {"socket = s\n" HOST, "dynsup.ini:1: socket: key outside of any section"},
    {"; only a comment\n", "dynsup.ini: missing [host] section"},
    {HOST "socket = other\n", "dynsup.ini:4: [host] socket: key given twice (first at line 3)"},
    {HOST "[supervisor:s]\n[supervisor:s]\n", "dynsup.ini:5: [supervisor:s]: section given twice (first at line 4)"},
    {HOST "[host]\n", "dynsup.ini:4: [host]: section given twice (first at line 1)"},
    {HOST "just words\n", "dynsup.ini:4: cannot parse \"just words\": expected [section], key = value or a comment"},
    {HOST "[supervisor:s] ; comment\n", "dynsup.ini:4: cannot parse \"[supervisor:s] ; comment\""},
};

static void test_malformed_and_repeated_names_are_reported_with_their_line(void **state)
{
    struct scratch *s = *state;
    for (size_t i = 0; i < sizeof bad_layouts / sizeof bad_layouts[0]; i++) {
        load_host(s, bad_layouts[i][0]);
        assert_error(s, bad_layouts[i][1]);
    }
}

static void test_repeated_key_is_reported_once(void **state)
{
    struct scratch *s = *state;
    load_host(s, HOST "max_restarts = 1\nmax_restarts = 2\n");
    assert_int_equal(s->errors.count, 1);
    assert_error(s, "[host] max_restarts: key given twice (first at line 4)");
}

static void test_same_child_id_in_two_files_is_an_error(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:x]\nplugin = p\n");
    write_file(s, "children.d/b.ini", "[child:y]\nplugin = p\n[child:x]\nplugin = q\n");
    load_host(s, HOST);
    assert_error(s, "children.d/b.ini:3: [child:x]: child id \"x\" is already defined in ");
    assert_error(s, "children.d/a.ini");
    assert_int_equal(s->cfg.child_count, 2);
    assert_string_equal(config_find_child(&s->cfg, "x")->plugin, "p");
}

static void test_same_child_id_twice_in_one_file_is_an_error(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:x]\nplugin = p\n\n[child:x]\nplugin = q\n");
    load_host(s, HOST);
    assert_error(s, "children.d/a.ini:4: [child:x]: section given twice (first at line 1)");
}

/* ---- all at once ------------------------------------------------------ */

static void test_every_error_of_a_file_is_reported_at_once(void **state)
{
    struct scratch *s = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/config/five_errors/dynsup.ini", test_data());
    assert_int_equal(load_path(s, path), -1);
    if (s->errors.count != 5)
        print_errors(s);
    assert_int_equal(s->errors.count, 5);
    assert_error(s, "dynsup.ini:5: [host] colour: unknown key");
    assert_error(s, "dynsup.ini:8: [supervisor:auth_rules] strategy: unsupported strategy \"one_for_all\"");
    assert_error(s, "dynsup.ini:9: [supervisor:auth_rules] max_children: expected a number or infinity, found \"none\"");
    assert_error(s, "dynsup.ini:14: [event:update] signal:");
    assert_error(s, "dynsup.ini:16: [event:update]: section given twice (first at line 11)");
}

static void test_a_syntax_error_does_not_hide_the_other_errors(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nrestart = sometimes\n");
    load_host(s, HOST "garbage line\nsocket = again\n[supervisor:s]\nautostart = a\n");
    assert_error(s, "dynsup.ini:4: cannot parse \"garbage line\"");
    assert_error(s, "dynsup.ini:5: [host] socket: key given twice");
    assert_error(s, "a.ini:3: [child:a] restart:");
    /* The host file's values are lost with the syntax error, not its ids. */
    assert_non_null(config_find_supervisor(&s->cfg, "s"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_malformed_and_repeated_names_are_reported_with_their_line),
        TEST(test_repeated_key_is_reported_once),
        TEST(test_same_child_id_in_two_files_is_an_error),
        TEST(test_same_child_id_twice_in_one_file_is_an_error),
        TEST(test_every_error_of_a_file_is_reported_at_once),
        TEST(test_a_syntax_error_does_not_hide_the_other_errors),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
