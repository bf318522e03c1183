/*
 * Configuration: a realistic host file and child specs load into the
 * values a user wrote, with defaults where they wrote nothing and paths
 * resolved against the host file's folder.
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

/* ---- a realistic example --------------------------------------------- */

static void test_realistic_example_loads_every_value_as_written(void **state)
{
    /* The example gives the control socket to group root: the loader
     * refuses that for a host that could not do it, as `check` would. */
    if (!config_may_give_socket_to_group(0)) {
        print_message("skip: the example names group root, which this user may not give "
                      "the socket to (run the tests as root to load it)\n");
        skip();
    }
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
    assert_int_equal(config_find_event(cfg, "ping")->signal, SIGUSR2);
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
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
