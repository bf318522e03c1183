/*
 * Configuration values: quoting and continuation lines read as iniparser
 * reads them, good values of every kind are accepted, and every bad one is
 * reported as "FILE:LINE: [SECTION] KEY: what was expected, found ...".
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

/* ---- values -------------------------------------------------------- */

static void test_quoted_values_keep_semicolons_and_hashes(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini",
               "[child:a]\nplugin = p ; a comment\nargs = '\"two words\" --x' # comment\n");
    load_host(s, "[host]\nplugin_dir = plugins\nsocket = \"run/a;b#c.sock\" ; comment\n"
                 "[supervisor:s]\nextra_arguments = \"http://h/r?a=1;b=2#frag out.json\"\n");
    assert_loaded_cleanly(s);
    assert_string_equal(s->cfg.socket_path, scratch_path(s, "run/a;b#c.sock"));
    assert_string_equal(s->cfg.supervisors[0].extra_args[0], "http://h/r?a=1;b=2#frag");
    assert_string_equal(s->cfg.supervisors[0].extra_args[1], "out.json");
    assert_string_equal(s->cfg.children[0].plugin, "p");
    assert_int_equal(s->cfg.children[0].argc, 2);
    assert_string_equal(s->cfg.children[0].args[0], "two words");
}

static void test_text_after_a_closing_quote_is_an_error_not_dropped(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nargs = \"two words\" --flag\n");
    load_host(s, HOST);
    assert_error(s, "a.ini:3: [child:a] args: text after the closing quote would be dropped");
}

static void test_backslash_continues_a_value_on_the_next_line(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nargs = --one \\\n  --two\n"
                                      "restart = never\n");
    load_host(s, HOST);
    assert_int_equal(s->cfg.children[0].argc, 2);
    assert_string_equal(s->cfg.children[0].args[1], "--two");
    assert_error(s, "a.ini:5: [child:a] restart:"); /* lines still counted right */
}

static void test_good_values_of_every_kind_are_accepted(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nshutdown = 1\nname = a_1\n");
    load_host(s, "[host]\nplugin_dir = p\nsocket = s\nmax_restarts = 0\nmax_seconds = 4294967295\n"
                 "[supervisor:s]\nmax_children = infinity\nmax_restarts = 0\nmax_seconds = 1\n"
                 "[event:e1]\nsupervisor = s\nchild = a\nsignal = usr2\ninterval = 1\n"
                 "[event:e2]\nsupervisor = s\nchild = a\nsignal = SIGHUP\n");
    assert_loaded_cleanly(s);
    assert_int_equal(s->cfg.max_restarts, 0);
    assert_int_equal(s->cfg.max_seconds, UINT32_MAX);
    assert_int_equal(s->cfg.supervisors[0].max_restarts, 0);
    assert_int_equal(s->cfg.events[0].signal, SIGUSR2);
    assert_int_equal(s->cfg.events[1].signal, SIGHUP);
    assert_int_equal(s->cfg.children[0].shutdown_ms, 1);
}

/* Each case: a host file (children.d/a.ini defines child "a"), and a piece
 * of the one error it must produce. */
static const char *const bad_host_files[][2] = {
    {"[host]\nsocket = s\n", "dynsup.ini:1: [host] plugin_dir: missing (required)"},
    {"[host]\nplugin_dir = p\n", "dynsup.ini:1: [host] socket: missing (required)"},
    {"[host]\nplugin_dir =\nsocket = s\n", "dynsup.ini:2: [host] plugin_dir: empty value"},
    {HOST "max_seconds = 0\n", "dynsup.ini:4: [host] max_seconds: expected at least 1, found \"0\""},
    {HOST "max_restarts = -1\n", "[host] max_restarts: expected a number (decimal digits only), found \"-1\""},
    {HOST "max_restarts = +1\n", "[host] max_restarts: expected a number (decimal digits only), found \"+1\""},
    {HOST "max_restarts = 0x10\n", "[host] max_restarts: expected a number (decimal digits only), found \"0x10\""},
    {HOST "max_restarts = 3s\n", "[host] max_restarts: expected a number (decimal digits only), found \"3s\""},
    {HOST "max_restarts = 4294967296\n", "[host] max_restarts: expected a number no larger than 4294967295, found \"4294967296\""},
    {HOST "max_restarts =\n", "[host] max_restarts: expected a number, found \"\""},
    {HOST "allow_users = root no_such_user_dynsup\n", "dynsup.ini:4: [host] allow_users: unknown user \"no_such_user_dynsup\""},
    {HOST "allow_group = no_such_group_dynsup\n", "dynsup.ini:4: [host] allow_group: unknown group \"no_such_group_dynsup\""},
    {HOST "colour = blue\n", "dynsup.ini:4: [host] colour: unknown key (expected one of: plugin_dir, children_dir, socket,"},
    {HOST "[supervisor:s]\nstrategy = one_for_all\n", "dynsup.ini:5: [supervisor:s] strategy: unsupported strategy \"one_for_all\" (only one_for_one)"},
    {HOST "[supervisor:s]\nmax_children = 0\n", "[supervisor:s] max_children: expected a positive number or infinity, found \"0\""},
    {HOST "[supervisor:s]\nmax_children = lots\n", "[supervisor:s] max_children: expected a positive number or infinity, found \"lots\""},
    {HOST "[supervisor:s]\nmax_restarts = many\n", "[supervisor:s] max_restarts: expected a number of restarts or infinity, found \"many\""},
    {HOST "[supervisor:s]\nmax_seconds = 0\n", "[supervisor:s] max_seconds: expected at least 1, found \"0\""},
    {HOST "[supervisor:s]\nextra_arguments = a 'open\n", "[supervisor:s] extra_arguments: unterminated single quote in \"a 'open\""},
    {HOST "[supervisor:s]\nautostart = a nope\n", "dynsup.ini:5: [supervisor:s] autostart: unknown child \"nope\""},
    {HOST "[supervisor:s]\nautostart = Bad-Id\n", "[supervisor:s] autostart: expected child ids (lowercase letters, digits and _), found \"Bad-Id\""},
    {HOST "[supervisor:s]\nrestart = permanent\n", "dynsup.ini:5: [supervisor:s] restart: unknown key (expected one of: strategy,"},
    {HOST "[event:e]\nchild = a\n", "dynsup.ini:4: [event:e] supervisor: missing (required)"},
    {HOST "[supervisor:s]\n[event:e]\nsupervisor = s\n", "dynsup.ini:5: [event:e] child: missing (required)"},
    {HOST "[event:e]\nsupervisor = nope\nchild = a\n", "dynsup.ini:5: [event:e] supervisor: unknown supervisor \"nope\""},
    {HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = nope\n", "dynsup.ini:7: [event:e] child: unknown child \"nope\""},
    {HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = a\ninterval = 0\n", "[event:e] interval: expected at least 1, found \"0\""},
    {HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = a\ninterval = 1h\n", "[event:e] interval: expected a number (decimal digits only), found \"1h\""},
    {HOST "[child:a]\nplugin = p\n", "dynsup.ini:4: [child:a]: child specs belong in a file of children_dir"},
};

static void test_each_bad_host_value_is_named_with_file_section_and_key(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\n");
    for (size_t i = 0; i < sizeof bad_host_files / sizeof bad_host_files[0]; i++) {
        load_host(s, bad_host_files[i][0]);
        assert_error(s, bad_host_files[i][1]);
    }
}

static void test_signals_the_host_uses_itself_cannot_fire_events(void **state)
{
    struct scratch *s = *state;
    static const char *const refused[] = {"SIGTERM", "SIGINT", "SIGKILL", "SIGCHLD", "TERM",
                                          "SIGFOO",  "10",     "SIGUSR3"};
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\n");
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char text[256], expected[256];
        snprintf(text, sizeof text,
                 HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = a\nsignal = %s\n", refused[i]);
        snprintf(expected, sizeof expected, "dynsup.ini:8: [event:e] signal: %s, found \"%s\"",
                 i < 5 ? "this signal is used by the host itself; expected SIGUSR1, SIGUSR2 or SIGHUP"
                       : "expected SIGUSR1, SIGUSR2 or SIGHUP",
                 refused[i]);
        load_host(s, text);
        assert_error(s, expected);
    }
}

static const char *const bad_child_files[][2] = {
    {"[child:a]\nplugin = p\nrestart = sometimes\n", "a.ini:3: [child:a] restart: expected permanent, transient or temporary, found \"sometimes\""},
    {"[child:a]\nargs = x\n", "a.ini:1: [child:a] plugin: missing (required)"},
    {"[child:a]\nplugin = Auth-Loader\n", "a.ini:2: [child:a] plugin: expected lowercase letters, digits and _, found \"Auth-Loader\""},
    {"[child:a]\nplugin = p\nshutdown = 0\n", "[child:a] shutdown: expected brutal_kill, infinity or a positive number of milliseconds, found \"0\""},
    {"[child:a]\nplugin = p\nshutdown = soon\n", "[child:a] shutdown: expected brutal_kill, infinity or a positive number of milliseconds, found \"soon\""},
    {"[child:a]\nplugin = p\nshutdown = -5\n", "[child:a] shutdown: expected brutal_kill, infinity or a positive number of milliseconds, found \"-5\""},
    {"[child:a]\nplugin = p\nname = My Name\n", "[child:a] name: expected lowercase letters, digits and _, found \"My Name\""},
    {"[child:a]\nplugin = p\nargs = --x \"open\n", "a.ini:3: [child:a] args: unterminated double quote in \"--x \"open\""},
    {"[child:a]\nplugin = p\nargs = \"open\n", "a.ini:3: [child:a] args: the closing quote is missing"},
    {"[child:a]\nplugin = p\nargs = 'a;b\n", "a.ini:3: [child:a] args: the closing quote is missing"},
    {"[child:a]\nplugin = p\nargs = end \\", "a.ini:3: the last line ends with a backslash (a continuation) but no line follows"},
    {"[child:a]\nplugin = p\ncolour = red\n", "a.ini:3: [child:a] colour: unknown key (expected one of: plugin, args, restart, shutdown, name, restart_delay, restart_delay_max, request_args, user, group, limit_nofile, limit_memory, limit_cpu, limit_core, nice, umask, working_directory, environment)"},
    {"[child:a]\nplugin = p\n[host]\n", "a.ini:3: [host]: only [child:ID] sections belong in a child spec file"},
    {"[child]\nplugin = p\n", "a.ini:1: [child]: only [child:ID] sections belong in a child spec file"},
};

static void test_each_bad_child_value_is_named_with_file_section_and_key(void **state)
{
    struct scratch *s = *state;
    for (size_t i = 0; i < sizeof bad_child_files / sizeof bad_child_files[0]; i++) {
        write_file(s, "children.d/a.ini", bad_child_files[i][0]);
        load_host(s, HOST);
        assert_error(s, bad_child_files[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_quoted_values_keep_semicolons_and_hashes),
        TEST(test_text_after_a_closing_quote_is_an_error_not_dropped),
        TEST(test_backslash_continues_a_value_on_the_next_line),
        TEST(test_good_values_of_every_kind_are_accepted),
        TEST(test_each_bad_host_value_is_named_with_file_section_and_key),
        TEST(test_signals_the_host_uses_itself_cannot_fire_events),
        TEST(test_each_bad_child_value_is_named_with_file_section_and_key),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
