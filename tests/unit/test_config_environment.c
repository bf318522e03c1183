/*
 * The per-child execution environment keys (SPEC section 9) as the config
 * reads them: every bad value named by file, section and key, all at once;
 * good values turned into the job settings each worker of the spec gets
 * (job_settings.h), read back as the worker reads them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "job_settings.h"

#include "support_config.h"

/* The spec's job settings as a worker reads them (from a copy: the
 * environment pointers are moved past their tags in place). */
static char job_copy[4096];
static char *job_strings[65];
static struct job_settings settings_of(const struct child_spec *spec)
{
    assert_true(spec->job_settings.length <= sizeof job_copy && spec->job_settings.count <= 64);
    memcpy(job_copy, spec->job_settings.data, spec->job_settings.length);
    const char *cursor = job_copy;
    for (uint32_t i = 0; i < spec->job_settings.count; i++) {
        job_strings[i] = (char *)cursor;
        cursor += strlen(cursor) + 1;
    }
    job_strings[spec->job_settings.count] = NULL;
    struct job_settings settings;
    char error[128];
    assert_int_equal(job_settings_parse(job_strings, (int)spec->job_settings.count, &settings,
                                        error, sizeof error), 0);
    return settings;
}

static const char *variable(char **environment, const char *name)
{
    size_t length = strlen(name);
    for (char **item = environment; *item; item++)
        if (strncmp(*item, name, length) == 0 && (*item)[length] == '=')
            return *item + length + 1;
    return NULL;
}

static void test_good_values_become_the_workers_settings(void **state)
{
    struct scratch *s = *state;
    assert_int_equal(mkdir(scratch_path(s, "work"), 0700), 0);
    write_file(s, "children.d/a.ini",
               "[child:a]\nplugin = p\nlimit_nofile = 64\nlimit_memory = 512M\nlimit_cpu = infinity\n"
               "limit_core = 0\nnice = 7\numask = 077\nworking_directory = ../work\n"
               "environment = A=1 'B=two words' HOME=/srv\n");
    load_host(s, HOST);
    assert_loaded_cleanly(s);
    struct job_settings settings = settings_of(config_find_child(&s->cfg, "a"));
    char **environment = settings.environment;
    assert_true(settings.limits[JOB_LIMIT_NOFILE].set);
    assert_int_equal(settings.limits[JOB_LIMIT_NOFILE].soft, 64);
    assert_int_equal(settings.limits[JOB_LIMIT_MEMORY].hard, 512u << 20);
    assert_true(settings.limits[JOB_LIMIT_CPU].soft == RLIM_INFINITY);
    assert_int_equal(settings.limits[JOB_LIMIT_CORE].soft, 0);
    assert_true(settings.set_nice);
    assert_int_equal(settings.nice, 7);
    assert_int_equal(settings.umask, 077);
    assert_non_null(strstr(settings.directory, "/work"));
    assert_true(settings.directory[0] == '/'); /* resolved against the config's folder */
    assert_string_equal(variable(environment, "A"), "1");
    assert_string_equal(variable(environment, "B"), "two words");
    assert_string_equal(variable(environment, "HOME"), "/srv"); /* the spec wins over the base */
    assert_non_null(variable(environment, "PATH"));
    assert_string_equal(variable(environment, "LANG"), "C.UTF-8");
    assert_false(settings.set_uid);
}

static void test_a_spec_without_keys_carries_only_the_base_environment(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\n");
    load_host(s, HOST);
    assert_loaded_cleanly(s);
    struct job_settings settings = settings_of(config_find_child(&s->cfg, "a"));
    assert_false(settings.limits[JOB_LIMIT_NOFILE].set);
    assert_false(settings.set_nice || settings.set_umask || settings.set_uid || settings.set_gid);
    assert_null(settings.directory);
    assert_int_equal(settings.environment_count, 5); /* PATH HOME USER LOGNAME LANG */
    assert_null(settings.environment[5]);
}

static void test_a_user_brings_its_group_and_supplementary_groups(void **state)
{
    struct scratch *s = *state;
    if (geteuid() != 0)
        skip();
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nuser = nobody\n");
    load_host(s, HOST);
    assert_loaded_cleanly(s);
    struct job_settings settings = settings_of(config_find_child(&s->cfg, "a"));
    char **environment = settings.environment;
    assert_true(settings.set_uid && settings.set_gid && settings.groups);
    assert_int_equal(settings.uid, 65534);
    assert_int_equal(settings.gid, 65534);
    gid_t groups[JOB_MAX_GROUPS];
    assert_true(job_settings_groups(settings.groups, groups) >= 1);
    assert_int_equal(groups[0], 65534);
    assert_string_equal(variable(environment, "USER"), "nobody");
}

static const char *const bad_environment_values[][2] = {
    {"user = no_such_user_dynsup\n", "a.ini:3: [child:a] user: unknown user \"no_such_user_dynsup\""},
    {"group = no_such_group_dynsup\n", "a.ini:3: [child:a] group: unknown group \"no_such_group_dynsup\""},
    {"limit_nofile = infinity\n", "a.ini:3: [child:a] limit_nofile: expected a number (infinity is not allowed for descriptors), found \"infinity\""},
    {"limit_nofile = 99999999\n", "a.ini:3: [child:a] limit_nofile: 99999999 is above the system's maximum (fs.nr_open = "},
    {"limit_memory = lots\n", "a.ini:3: [child:a] limit_memory: expected a number of bytes (K, M, G, T suffixes allowed) or infinity, found \"lots\""},
    {"limit_memory = 5X\n", "a.ini:3: [child:a] limit_memory: expected a number of bytes"},
    {"limit_cpu = -1\n", "a.ini:3: [child:a] limit_cpu: expected a number or infinity, found \"-1\""},
    {"nice = 20\n", "a.ini:3: [child:a] nice: expected a number from -20 to 19, found \"20\""},
    {"umask = 999\n", "a.ini:3: [child:a] umask: expected an octal mask from 000 to 777, found \"999\""},
    {"working_directory = no_such_folder\n", "a.ini:3: [child:a] working_directory: "},
    {"environment = NOEQUALS\n", "a.ini:3: [child:a] environment: expected KEY=value words (KEY: letters, digits and _), found \"NOEQUALS\""},
    {"environment = 1BAD=x\n", "a.ini:3: [child:a] environment: expected KEY=value words"},
};

static void test_bad_environment_values_name_file_section_and_key(void **state)
{
    struct scratch *s = *state;
    for (size_t i = 0; i < sizeof bad_environment_values / sizeof bad_environment_values[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "[child:a]\nplugin = p\n%s", bad_environment_values[i][0]);
        write_file(s, "children.d/a.ini", text);
        load_host(s, HOST);
        assert_error(s, bad_environment_values[i][1]);
    }
}

static void test_every_bad_environment_value_is_reported_at_once(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini",
               "[child:a]\nplugin = p\nnice = high\numask = x\nlimit_cpu = soon\n");
    load_host(s, HOST);
    assert_error(s, "a.ini:3: [child:a] nice:");
    assert_error(s, "a.ini:4: [child:a] umask:");
    assert_error(s, "a.ini:5: [child:a] limit_cpu:");
}

static void test_malformed_job_settings_are_refused(void **state)
{
    (void)state;
    char nice[] = "Nloud", env[] = "EA=1", after[] = "M022", bare[] = "Eno_equals", limit[] = "Lx1:1";
    struct job_settings settings;
    char error[128];
    char *one[] = {nice, NULL};
    assert_int_equal(job_settings_parse(one, 1, &settings, error, sizeof error), -1);
    assert_string_equal(error, "malformed job setting \"Nloud\"");
    char *late[] = {env, after, NULL}; /* the environment must come last */
    assert_int_equal(job_settings_parse(late, 2, &settings, error, sizeof error), -1);
    char *no_value[] = {bare, NULL};
    assert_int_equal(job_settings_parse(no_value, 1, &settings, error, sizeof error), -1);
    char *no_limit[] = {limit, NULL};
    assert_int_equal(job_settings_parse(no_limit, 1, &settings, error, sizeof error), -1);
    gid_t groups[JOB_MAX_GROUPS];
    assert_int_equal(job_settings_groups("1,x", groups), -1);
    assert_int_equal(job_settings_groups("5,6", groups), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_good_values_become_the_workers_settings),
        TEST(test_a_spec_without_keys_carries_only_the_base_environment),
        TEST(test_a_user_brings_its_group_and_supplementary_groups),
        TEST(test_bad_environment_values_name_file_section_and_key),
        TEST(test_every_bad_environment_value_is_reported_at_once),
        cmocka_unit_test(test_malformed_job_settings_are_refused),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
