/*
 * Configuration values: quoting and continuation lines read as iniparser
 * reads them, good values of every kind are accepted, and every bad one is
 * reported as "FILE:LINE: [SECTION] KEY: what was expected, found ...".
 */
#include <ftw.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* A line ending in a backslash goes on on the next one (iniparser's rule).
 * When that next line reads as a key or a section header, it was surely
 * not meant as part of the value: an error, not a key silently gone. */
static const char *const swallowing_continuations[][2] = {
    {HOST "[supervisor:demo]\nextra_arguments = --dir C:\\\nmax_children = 1\n",
     "dynsup.ini:5: [supervisor:demo] extra_arguments: the line ends with a backslash, which "
     "continues it on line 6, but line 6 reads as a key (\"max_children = 1\"); drop the "
     "backslash; or, if the value must end in one, end the value in a quote (--dir 'C:\\'); "
     "or, if that line belongs to the value, quote it"},
    {HOST "[supervisor:a]\nextra_arguments = --x \\\n[supervisor:b]\nmax_children = 2\n",
     "dynsup.ini:5: [supervisor:a] extra_arguments: the line ends with a backslash, which "
     "continues it on line 6, but line 6 reads as a section header (\"[supervisor:b]\")"},
    {HOST "[supervisor:a]\n; files in C:\\\n[supervisor:b]\n",
     "dynsup.ini:5: [supervisor:a]: the comment ends with a backslash, which continues it on "
     "line 6, but line 6 reads as a section header (\"[supervisor:b]\")"},
    {HOST "[supervisor:a]\nextra_arguments = --x \\\n  --y \\\n\tmax_restarts=3\n",
     "dynsup.ini:5: [supervisor:a] extra_arguments: the line ends with a backslash, which "
     "continues it on line 7, but line 7 reads as a key (\"max_restarts=3\")"},
};

static void test_a_backslash_that_swallows_a_key_or_a_header_is_an_error(void **state)
{
    struct scratch *s = *state;
    for (size_t i = 0; i < sizeof swallowing_continuations / sizeof swallowing_continuations[0]; i++) {
        load_host(s, swallowing_continuations[i][0]);
        assert_error(s, swallowing_continuations[i][1]);
        /* and it tells how to write what was meant */
        assert_error(s, "drop the backslash");
    }
}

/* What the error tells: a value that must end in a backslash ends in a
 * quote instead; a continued line meant as part of the value is quoted. */
static void test_a_value_ending_in_a_backslash_is_written_in_quotes(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nenvironment = A=1 \\\n 'b=2'\n");
    load_host(s, HOST "[supervisor:demo]\nextra_arguments = --dir 'C:\\'\nmax_children = 1\n");
    assert_loaded_cleanly(s);
    const struct supervisor_spec *demo = config_find_supervisor(&s->cfg, "demo");
    assert_int_equal(demo->extra_argc, 2);
    assert_string_equal(demo->extra_args[1], "C:\\");
    assert_int_equal(demo->max_children, 1);
}

/* OTP's max_children is any non-negative number: 0 is a supervisor that
 * takes nothing for now (every start answers max_children). */
static void test_max_children_zero_is_accepted(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\n");
    load_host(s, HOST "[supervisor:s]\nmax_children = 0\n");
    assert_loaded_cleanly(s);
    assert_int_equal(s->cfg.supervisors[0].max_children, 0);
}

/* What `run` would refuse about the control socket's place, `check`
 * (config_load) refuses too (issue 9 item 6). */
static void test_socket_place_that_run_would_refuse_is_a_config_error(void **state)
{
    struct scratch *s = *state;
    char text[512];
    snprintf(text, sizeof text, "[host]\nplugin_dir = p\nsocket = run/%0120d.sock\n", 7);
    load_host(s, text);
    assert_error(s, "dynsup.ini:3: [host] socket: control socket ");
    assert_error(s, "is too long for a unix socket (at most 107 bytes)");

    mkdir(scratch_path(s, "open"), 0700);
    chmod(scratch_path(s, "open"), 0777);
    load_host(s, "[host]\nplugin_dir = p\nsocket = open/s.sock\n");
    assert_error(s, "dynsup.ini:3: [host] socket: control socket folder ");
    assert_error(s, "open: refused: writable by group and others (mode 0777); control socket folders "
                    "must be writable only by their owner");

    write_file(s, "file.sock", "not a socket");
    load_host(s, "[host]\nplugin_dir = p\nsocket = file.sock\n");
    assert_error(s, "dynsup.ini:3: [host] socket: control socket: ");
    assert_error(s, "file.sock exists and is not a socket; not replacing it");

    write_file(s, "plain", "a file");
    load_host(s, "[host]\nplugin_dir = p\nsocket = plain/s.sock\n");
    assert_error(s, "plain: not a folder");

    /* a missing folder is fine: run creates it... */
    load_host(s, "[host]\nplugin_dir = p\nsocket = run/deeper/s.sock\n");
    assert_loaded_cleanly(s);
    /* ...unless what should hold it is a file */
    load_host(s, "[host]\nplugin_dir = p\nsocket = plain/deeper/s.sock\n");
    assert_error(s, "dynsup.ini:3: [host] socket: control socket folder ");
    assert_error(s, "plain/deeper: Not a directory");
}

/* Two things run refuses only when the host is not root: handing the
 * socket to allow_group with chown(2), allowed only for a group the host
 * belongs to, and creating a missing socket folder where it may not write.
 * Loaded as uid/gid 65534 (nobody), in a forked child when the test runs
 * as root. */
static bool has_error(const struct error_list *errors, const char *first, const char *second)
{
    for (size_t i = 0; i < errors->count; i++)
        if (strstr(errors->messages[i], first) && strstr(errors->messages[i], second))
            return true;
    return false;
}

static void test_what_run_refuses_to_a_host_that_is_not_root_is_a_config_error(void **state)
{
    struct scratch *s = *state;
    write_file(s, "dynsup.ini", "[host]\nplugin_dir = p\nsocket = newdir/s.sock\nallow_group = root\n");
    chmod(scratch_path(s, "children.d"), 0755);
    chmod(s->dir, 0755);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        if (getegid() == 0 || access(s->dir, W_OK) == 0)
            _exit(0); /* nothing to prove for this user */
        struct config cfg;
        struct error_list errors;
        error_list_init(&errors);
        int status = config_load(scratch_path(s, "dynsup.ini"), &cfg, &errors);
        bool found = has_error(&errors, "dynsup.ini:4: [host] allow_group: ", "is not in group root") &&
                     has_error(&errors, "dynsup.ini:3: [host] socket: control socket folder ",
                               "newdir: cannot create: Permission denied");
        for (size_t i = 0; !found && i < errors.count; i++)
            fprintf(stderr, "  error: %s\n", errors.messages[i]);
        config_free(&cfg);
        error_list_free(&errors);
        _exit(status == -1 && found ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_good_values_of_every_kind_are_accepted(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nshutdown = 1\nname = a_1\n");
    load_host(s, "[host]\nplugin_dir = p\nsocket = s\nmax_restarts = 0\nmax_seconds = 4294967295\n"
                 "[supervisor:s]\nmax_children = infinity\nmax_restarts = 0\nmax_seconds = 1\n"
                 "[event:e1]\nsupervisor = s\nchild = a\nsignal = usr2\ninterval = 1\n"
                 "[event:e2]\nsupervisor = s\nchild = a\nsignal = SIGUSR1\n"
                 "[event:e3]\nsupervisor = s\nchild = a\ninterval = 600\njitter = 600\n"
                 "[event:e4]\nsupervisor = s\nchild = a\ninterval = 60\njitter = 0\n");
    assert_loaded_cleanly(s);
    assert_int_equal(s->cfg.max_restarts, 0);
    assert_int_equal(s->cfg.max_seconds, UINT32_MAX);
    assert_int_equal(s->cfg.supervisors[0].max_restarts, 0);
    assert_int_equal(s->cfg.events[0].signal, SIGUSR2);
    assert_int_equal(s->cfg.events[1].signal, SIGUSR1);
    assert_int_equal(s->cfg.events[0].jitter_s, 0); /* the default */
    assert_int_equal(s->cfg.events[2].jitter_s, 600);
    assert_int_equal(s->cfg.events[3].jitter_s, 0);
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
    {HOST "[supervisor:s]\nmax_children = lots\n", "[supervisor:s] max_children: expected a number or infinity, found \"lots\""},
    {HOST "[supervisor:s]\nmax_children = -1\n", "[supervisor:s] max_children: expected a number or infinity, found \"-1\""},
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
    {HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = a\njitter = 5\n", "dynsup.ini:8: [event:e] jitter: needs interval (jitter delays the periodic firings)"},
    {HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = a\ninterval = 60\njitter = 61\n", "dynsup.ini:9: [event:e] jitter: expected at most interval (60), found \"61\""},
    {HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = a\ninterval = 60\njitter = 1m\n", "[event:e] jitter: expected a number (decimal digits only), found \"1m\""},
    {HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = a\ninterval = 60\njitter = -1\n", "[event:e] jitter: expected a number (decimal digits only), found \"-1\""},
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

/* The control socket takes ids of at most 64 characters (PROTOCOL_MAX_ID):
 * a longer one `check` let through could never be started, stopped or
 * listed by name. */
#define ID64 "a123456789b123456789c123456789d123456789e123456789f123456789g123"
#define ID65 ID64 "h"
#define TOO_LONG "expected at most 64 characters (the control socket's limit for ids), found 65"

static void test_ids_longer_than_the_socket_takes_are_refused_naming_file_section_and_key(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:" ID65 "]\nplugin = p\n");
    load_host(s, HOST);
    assert_error(s, "a.ini:1: [child:" ID65 "]: the id is too long: " TOO_LONG);

    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nname = " ID65 "\n");
    load_host(s, HOST "[supervisor:" ID65 "]\n[supervisor:s]\nautostart = " ID65 "\nchildren = a "
                      ID65 "\n[event:" ID65 "]\nsupervisor = " ID65 "\nchild = " ID65 "\n");
    assert_error(s, "a.ini:3: [child:a] name: " TOO_LONG);
    assert_error(s, "dynsup.ini:4: [supervisor:" ID65 "]: the id is too long: " TOO_LONG);
    assert_error(s, "dynsup.ini:6: [supervisor:s] autostart: " TOO_LONG);
    assert_error(s, "dynsup.ini:7: [supervisor:s] children: " TOO_LONG);
    assert_error(s, "dynsup.ini:8: [event:" ID65 "]: the id is too long: " TOO_LONG);
    assert_error(s, "dynsup.ini:9: [event:" ID65 "] supervisor: " TOO_LONG);
    assert_error(s, "dynsup.ini:10: [event:" ID65 "] child: " TOO_LONG);

    /* 64 is fine */
    write_file(s, "children.d/a.ini", "[child:" ID64 "]\nplugin = p\nname = " ID64 "\n");
    load_host(s, HOST "[supervisor:" ID64 "]\nautostart = " ID64 "\nchildren = " ID64 "\n[event:"
                      ID64 "]\nsupervisor = " ID64 "\nchild = " ID64 "\nsignal = usr1\n");
    assert_loaded_cleanly(s);
}

static void test_signals_the_host_uses_itself_cannot_fire_events(void **state)
{
    struct scratch *s = *state;
    static const char *const refused[] = {"SIGTERM", "SIGINT", "SIGKILL", "SIGCHLD", "TERM",
                                          "SIGFOO",  "10",     "SIGUSR3", "SIGHUP"};
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\n");
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char text[256], expected[256];
        snprintf(text, sizeof text,
                 HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = a\nsignal = %s\n", refused[i]);
        snprintf(expected, sizeof expected, "dynsup.ini:8: [event:e] signal: %s, found \"%s\"",
                 i < 5   ? "this signal is used by the host itself; expected SIGUSR1 or SIGUSR2"
                 : i < 8 ? "expected SIGUSR1 or SIGUSR2"
                         : "SIGHUP is the host's reload signal (dynsup-host reload); expected SIGUSR1 or SIGUSR2",
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
        TEST(test_a_backslash_that_swallows_a_key_or_a_header_is_an_error),
        TEST(test_a_value_ending_in_a_backslash_is_written_in_quotes),
        TEST(test_max_children_zero_is_accepted),
        TEST(test_socket_place_that_run_would_refuse_is_a_config_error),
        TEST(test_what_run_refuses_to_a_host_that_is_not_root_is_a_config_error),
        TEST(test_good_values_of_every_kind_are_accepted),
        TEST(test_each_bad_host_value_is_named_with_file_section_and_key),
        TEST(test_ids_longer_than_the_socket_takes_are_refused_naming_file_section_and_key),
        TEST(test_signals_the_host_uses_itself_cannot_fire_events),
        TEST(test_each_bad_child_value_is_named_with_file_section_and_key),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
