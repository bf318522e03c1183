/*
 * Configuration: a realistic host file and child specs load into the
 * values a user wrote (defaults where they wrote nothing, paths resolved
 * against the host file's folder), and every mistake is reported, all at
 * once, as "FILE:LINE: [SECTION] KEY: what was expected, found ...".
 *
 * Most cases write small files into a scratch folder; the realistic
 * example and the five-mistakes file live in $DYNSUP_TEST_DATA/config.
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

/* Line 1 [host], 2 plugin_dir, 3 socket: appended sections start at 4. */
#define HOST "[host]\nplugin_dir = plugins\nsocket = run/dynsup.sock\n"

struct scratch {
    char dir[64];
    char path[512]; /* last answer of scratch_path */
    struct config cfg;
    struct error_list errors;
    int status;
};

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *walk)
{
    (void)info, (void)flag, (void)walk;
    return remove(path);
}

static int setup(void **state)
{
    struct scratch *s = calloc(1, sizeof *s);
    assert_non_null(s);
    strcpy(s->dir, "/tmp/dynsup-config-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    error_list_init(&s->errors);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct scratch *s = *state;
    config_free(&s->cfg);
    error_list_free(&s->errors);
    nftw(s->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(s);
    return 0;
}

static const char *scratch_path(struct scratch *s, const char *name)
{
    snprintf(s->path, sizeof s->path, "%s/%s", s->dir, name);
    return s->path;
}

/* Writes dir/name; a name under children.d/ creates that folder. */
static void write_file(struct scratch *s, const char *name, const char *text)
{
    mkdir(scratch_path(s, "children.d"), 0700);
    FILE *out = fopen(scratch_path(s, name), "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
}

static int load_path(struct scratch *s, const char *path)
{
    config_free(&s->cfg);
    error_list_free(&s->errors);
    s->status = config_load(path, &s->cfg, &s->errors);
    return s->status;
}

/* Writes the host file (and an empty children.d) and loads it. */
static int load_host(struct scratch *s, const char *host_text)
{
    write_file(s, "dynsup.ini", host_text);
    char path[512];
    snprintf(path, sizeof path, "%s/dynsup.ini", s->dir);
    return load_path(s, path);
}

static void print_errors(const struct scratch *s)
{
    for (size_t i = 0; i < s->errors.count; i++)
        print_message("  error: %s\n", s->errors.messages[i]);
}

static void assert_loaded_cleanly(const struct scratch *s)
{
    if (s->status != 0 || s->errors.count != 0) {
        print_errors(s);
        fail_msg("expected no errors, got %zu", s->errors.count);
    }
}

static void assert_error(const struct scratch *s, const char *fragment)
{
    for (size_t i = 0; i < s->errors.count; i++)
        if (strstr(s->errors.messages[i], fragment) != NULL) {
            assert_int_equal(s->status, -1);
            return;
        }
    print_errors(s);
    fail_msg("no error contains: %s", fragment);
}

static const char *test_data(void)
{
    const char *dir = getenv("DYNSUP_TEST_DATA");
    if (dir == NULL || *dir == '\0')
        fail_msg("DYNSUP_TEST_DATA is not set: run this test through ctest");
    return dir;
}

/* ---- a realistic example --------------------------------------------- */

static void test_realistic_example_loads_every_value_as_written(void **state)
{
    struct scratch *s = *state;
    char path[512], expected[600];
    snprintf(path, sizeof path, "%s/config/valid/dynsup.ini", test_data());
    load_path(s, path);
    assert_loaded_cleanly(s);
    const struct config *cfg = &s->cfg;

    snprintf(expected, sizeof expected, "%s/config/valid/../../../../build/plugins", test_data());
    assert_string_equal(cfg->plugin_dir, expected);
    snprintf(expected, sizeof expected, "%s/config/valid/children.d", test_data());
    assert_string_equal(cfg->children_dir, expected);
    snprintf(expected, sizeof expected, "%s/config/valid/run/dynsup.sock", test_data());
    assert_string_equal(cfg->socket_path, expected);
    assert_int_equal(cfg->allow_user_count, 1);
    assert_string_equal(cfg->allow_users[0], "root");
    assert_int_equal(cfg->allow_uids[0], 0);
    assert_string_equal(cfg->allow_group, "root");
    assert_int_equal(cfg->allow_gid, 0);
    assert_int_equal(cfg->max_restarts, 5);
    assert_int_equal(cfg->max_seconds, 10);

    assert_int_equal(cfg->supervisor_count, 2);
    const struct supervisor_spec *rules = &cfg->supervisors[0];
    assert_string_equal(rules->name, "auth_rules");
    assert_int_equal(rules->max_children, 1);
    assert_int_equal(rules->extra_argc, 2);
    assert_string_equal(rules->extra_args[0], "http://127.0.0.1:8080/rules#v2");
    assert_string_equal(rules->extra_args[1], "var/auth_rules.json");
    assert_null(rules->extra_args[2]);
    assert_int_equal(rules->autostart_count, 1);
    assert_string_equal(rules->autostart[0], "auth_loader");
    assert_string_equal(cfg->supervisors[1].name, "jobs");
    assert_int_equal(cfg->supervisors[1].max_children, DS_INFINITY);

    /* Children: by file name (auth_loader.ini, jobs.ini), then file order. */
    assert_int_equal(cfg->child_count, 3);
    const struct child_spec *loader = &cfg->children[0], *pinger = &cfg->children[1];
    assert_string_equal(loader->id, "auth_loader");
    assert_non_null(strstr(loader->file, "children.d/auth_loader.ini"));
    assert_int_equal(loader->argc, 2);
    assert_string_equal(loader->args[1], "5000");
    assert_int_equal(loader->restart, RESTART_TRANSIENT);
    assert_int_equal(loader->shutdown, SHUTDOWN_TIMEOUT);
    assert_int_equal(loader->shutdown_ms, 5000);
    assert_string_equal(loader->name, "auth_loader");
    assert_string_equal(pinger->id, "pinger");
    assert_int_equal(pinger->argc, 4);
    assert_string_equal(pinger->args[1], "hello world");
    assert_string_equal(pinger->args[3], "a \"quoted\" word");
    assert_int_equal(pinger->restart, RESTART_TEMPORARY);
    assert_int_equal(pinger->shutdown, SHUTDOWN_BRUTAL_KILL);
    assert_string_equal(cfg->children[2].id, "sleeper");
    assert_int_equal(cfg->children[2].shutdown, SHUTDOWN_INFINITY);
    assert_int_equal(cfg->children[2].shutdown_ms, DS_INFINITY);

    assert_int_equal(cfg->event_count, 2);
    const struct event_spec *update = config_find_event(cfg, "update_auth_rules");
    assert_non_null(update);
    assert_string_equal(update->supervisor, "auth_rules");
    assert_string_equal(update->child, "auth_loader");
    assert_int_equal(update->signal, SIGUSR1);
    assert_int_equal(update->interval_s, 3600);
    assert_int_equal(config_find_event(cfg, "ping")->signal, SIGHUP);
    assert_int_equal(config_find_event(cfg, "ping")->interval_s, 0);
}

static void test_find_functions_answer_by_name_or_null(void **state)
{
    struct scratch *s = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/config/valid/dynsup.ini", test_data());
    load_path(s, path);
    assert_string_equal(config_find_supervisor(&s->cfg, "jobs")->name, "jobs");
    assert_null(config_find_supervisor(&s->cfg, "nope"));
    assert_string_equal(config_find_child(&s->cfg, "sleeper")->plugin, "sleeper");
    assert_null(config_find_child(&s->cfg, "nope"));
    assert_null(config_find_event(&s->cfg, "nope"));
}

/* ---- defaults and paths ---------------------------------------------- */

static void test_absent_keys_take_their_defaults(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\n");
    load_host(s, HOST "[supervisor:s]\n[event:e]\nsupervisor = s\nchild = a\n");
    assert_loaded_cleanly(s);
    const struct config *cfg = &s->cfg;
    assert_string_equal(cfg->children_dir, scratch_path(s, "children.d"));
    assert_int_equal(cfg->max_restarts, 3);
    assert_int_equal(cfg->max_seconds, 5);
    assert_int_equal(cfg->allow_user_count, 0);
    assert_null(cfg->allow_users[0]);
    assert_null(cfg->allow_group);

    const struct supervisor_spec *sup = config_find_supervisor(cfg, "s");
    assert_int_equal(sup->max_children, DS_INFINITY);
    assert_int_equal(sup->max_restarts, 3);
    assert_int_equal(sup->max_seconds, 5);
    assert_int_equal(sup->extra_argc, 0);
    assert_null(sup->extra_args[0]);
    assert_int_equal(sup->autostart_count, 0);
    assert_null(sup->autostart[0]);

    const struct child_spec *child = config_find_child(cfg, "a");
    assert_int_equal(child->restart, RESTART_PERMANENT);
    assert_int_equal(child->shutdown, SHUTDOWN_TIMEOUT);
    assert_int_equal(child->shutdown_ms, 5000);
    assert_int_equal(child->argc, 0);
    assert_null(child->args[0]);
    assert_null(child->name);

    assert_int_equal(cfg->events[0].signal, 0);
    assert_int_equal(cfg->events[0].interval_s, 0);
}

static void test_relative_paths_resolve_against_the_host_file_folder(void **state)
{
    struct scratch *s = *state;
    mkdir(scratch_path(s, "conf"), 0700);
    mkdir(scratch_path(s, "conf/kids"), 0700);
    load_host(s, "[host]\nplugin_dir = ./plugins/\nsocket = ../run//dynsup.sock\n"
                 "children_dir = ./conf/./kids\n");
    assert_loaded_cleanly(s);
    assert_string_equal(s->cfg.plugin_dir, scratch_path(s, "plugins"));
    assert_string_equal(s->cfg.socket_path, scratch_path(s, "../run/dynsup.sock"));
    assert_string_equal(s->cfg.children_dir, scratch_path(s, "conf/kids"));

    load_host(s, "[host]\nplugin_dir = /usr/lib/dynsup\nsocket = /run/dynsup.sock\n");
    assert_string_equal(s->cfg.plugin_dir, "/usr/lib/dynsup");
    assert_string_equal(s->cfg.socket_path, "/run/dynsup.sock");
}

static void test_host_file_in_the_current_folder_gives_plain_relative_paths(void **state)
{
    struct scratch *s = *state;
    char previous[512];
    assert_non_null(getcwd(previous, sizeof previous));
    write_file(s, "dynsup.ini", HOST);
    assert_int_equal(chdir(s->dir), 0);
    load_path(s, "dynsup.ini");
    assert_int_equal(chdir(previous), 0);
    assert_loaded_cleanly(s);
    assert_string_equal(s->cfg.plugin_dir, "plugins");
    assert_string_equal(s->cfg.children_dir, "children.d");
    assert_string_equal(s->cfg.socket_path, "run/dynsup.sock");
}

static void test_path_join_tidies_dots_and_slashes(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {".", "a", "a"},         {".", "./a/./b/", "a/b"},  {"etc", "children.d", "etc/children.d"},
        {"etc/", "./x", "etc/x"}, {"etc", "../x", "etc/../x"}, {"etc", "/abs//p", "/abs/p"},
        {"/", "run", "/run"},    {".", ".", "."},           {"/etc", ".", "/etc"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *joined = config_path_join(cases[i][0], cases[i][1]);
        assert_string_equal(joined, cases[i][2]);
        free(joined);
    }
    char *dir = config_path_dirname("dynsup.ini");
    assert_string_equal(dir, ".");
    free(dir);
    dir = config_path_dirname("/etc/dynsup/dynsup.ini");
    assert_string_equal(dir, "/etc/dynsup");
    free(dir);
}

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
    {HOST "[supervisor:s]\nmax_restarts = many\n", "[supervisor:s] max_restarts: expected a number (decimal digits only), found \"many\""},
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
    {"[child:a]\nplugin = p\ncolour = red\n", "a.ini:3: [child:a] colour: unknown key (expected one of: plugin, args, restart, shutdown, name)"},
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

/* ---- files and folders ----------------------------------------------- */

static void test_unreadable_host_file_is_reported_and_nothing_else(void **state)
{
    struct scratch *s = *state;
    assert_int_equal(load_path(s, scratch_path(s, "missing.ini")), -1);
    assert_int_equal(s->errors.count, 1);
    assert_error(s, "missing.ini: cannot read: No such file or directory");
}

static void test_missing_children_dir_is_reported_against_its_key(void **state)
{
    struct scratch *s = *state;
    load_host(s, HOST "children_dir = nowhere\n");
    assert_error(s, "dynsup.ini:4: [host] children_dir: cannot read folder \"");
    assert_error(s, "nowhere\": No such file or directory");
}

static void test_empty_children_dir_gives_no_children_and_no_errors(void **state)
{
    struct scratch *s = *state;
    load_host(s, HOST "[supervisor:s]\n");
    assert_loaded_cleanly(s);
    assert_int_equal(s->cfg.child_count, 0);
}

static void test_only_ini_files_are_read_in_file_name_order(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/b.ini", "[child:from_b]\nplugin = p\n");
    write_file(s, "children.d/a.ini", "[child:from_a2]\nplugin = p\n[child:from_a1]\nplugin = p\n");
    write_file(s, "children.d/c.ini.bak", "[child:backup]\nplugin = p\n");
    write_file(s, "children.d/.hidden.ini", "[child:hidden]\nplugin = p\n");
    write_file(s, "children.d/notes.txt", "not a spec\n");
    load_host(s, HOST);
    assert_loaded_cleanly(s);
    assert_int_equal(s->cfg.child_count, 3);
    assert_string_equal(s->cfg.children[0].id, "from_a2");
    assert_string_equal(s->cfg.children[1].id, "from_a1");
    assert_string_equal(s->cfg.children[2].id, "from_b");
}

static void test_unreadable_child_file_is_reported_and_the_others_still_read(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/b.ini", "[child:b]\nplugin = p\n");
    assert_int_equal(symlink("nowhere.ini", scratch_path(s, "children.d/a.ini")), 0);
    load_host(s, HOST);
    assert_error(s, "children.d/a.ini: cannot read: No such file or directory");
    assert_non_null(config_find_child(&s->cfg, "b"));
}

static void test_overlong_line_is_reported_in_iniparser_words(void **state)
{
    struct scratch *s = *state;
    char text[2048];
    snprintf(text, sizeof text, HOST "[supervisor:s]\nextra_arguments = %01500d\n", 7);
    load_host(s, text);
    assert_error(s, "dynsup.ini: the INI reader refused the file: iniparser: input line too long");
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
    assert_error(s, "dynsup.ini:9: [supervisor:auth_rules] max_children: expected a positive number or infinity, found \"none\"");
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

/* ---- plugins ---------------------------------------------------------- */

static void test_child_whose_plugin_is_not_loaded_is_reported(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = auth_loader\n[child:b]\nplugin = pinger\n");
    load_host(s, HOST);
    assert_loaded_cleanly(s);
    const char *const names[] = {"pinger", "sleeper"};
    config_check_plugins(&s->cfg, names, 2, &s->errors);
    assert_int_equal(s->errors.count, 1);
    char expected[600];
    snprintf(expected, sizeof expected, "%s: [child:a] plugin: no plugin \"auth_loader\" in %s",
             scratch_path(s, "children.d/a.ini"), s->cfg.plugin_dir);
    assert_string_equal(s->errors.messages[0], expected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_realistic_example_loads_every_value_as_written),
        TEST(test_find_functions_answer_by_name_or_null),
        TEST(test_absent_keys_take_their_defaults),
        TEST(test_relative_paths_resolve_against_the_host_file_folder),
        TEST(test_host_file_in_the_current_folder_gives_plain_relative_paths),
        TEST(test_path_join_tidies_dots_and_slashes),
        TEST(test_quoted_values_keep_semicolons_and_hashes),
        TEST(test_text_after_a_closing_quote_is_an_error_not_dropped),
        TEST(test_backslash_continues_a_value_on_the_next_line),
        TEST(test_good_values_of_every_kind_are_accepted),
        TEST(test_each_bad_host_value_is_named_with_file_section_and_key),
        TEST(test_signals_the_host_uses_itself_cannot_fire_events),
        TEST(test_each_bad_child_value_is_named_with_file_section_and_key),
        TEST(test_malformed_and_repeated_names_are_reported_with_their_line),
        TEST(test_repeated_key_is_reported_once),
        TEST(test_same_child_id_in_two_files_is_an_error),
        TEST(test_same_child_id_twice_in_one_file_is_an_error),
        TEST(test_unreadable_host_file_is_reported_and_nothing_else),
        TEST(test_missing_children_dir_is_reported_against_its_key),
        TEST(test_empty_children_dir_gives_no_children_and_no_errors),
        TEST(test_only_ini_files_are_read_in_file_name_order),
        TEST(test_unreadable_child_file_is_reported_and_the_others_still_read),
        TEST(test_overlong_line_is_reported_in_iniparser_words),
        TEST(test_every_error_of_a_file_is_reported_at_once),
        TEST(test_a_syntax_error_does_not_hide_the_other_errors),
        TEST(test_child_whose_plugin_is_not_loaded_is_reported),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
