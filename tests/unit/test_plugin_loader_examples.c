/*
 * Plugin loading: the example plugins load under their own names, in file
 * name order, and then work in this process as the host would call them
 * (init, run, logging, stopping).
 *
 * Needs DYNSUP_PLUGIN_DIR (the built example plugins); ctest sets it.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_loader.h"

#include "support_plugin_loader.h"

/* ---- the example plugins -------------------------------------------- */

static void test_example_plugins_all_load_under_their_file_names(void **state)
{
    (void)state;
    const char *dir = required_env("DYNSUP_PLUGIN_DIR");
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);

    int result = plugin_set_load_dir(&set, dir, &errors);
    for (size_t i = 0; i < errors.count; i++)
        print_error("unexpected: %s\n", errors.messages[i]);
    assert_int_equal(result, 0);
    assert_int_equal(errors.count, 0);

    const char *examples[] = {"exit_code", "hello", "initcheck", "probe", "sleeper"};
    for (size_t i = 0; i < sizeof examples / sizeof *examples; i++) {
        const struct loaded_plugin *loaded = plugin_set_find(&set, examples[i]);
        assert_non_null(loaded);
        assert_string_equal(loaded->name, examples[i]);
        assert_string_equal(loaded->version, "1.0.0");
        char *file_name = NULL;
        assert_true(asprintf(&file_name, "%s.so", examples[i]) >= 0);
        char *path = join_path(dir, file_name);
        assert_string_equal(loaded->file, path);
        free(path);
        free(file_name);
        assert_non_null(loaded->handle);
        assert_ptr_equal(loaded->plugin, dlsym(loaded->handle, DYNSUP_PLUGIN_SYMBOL));
        assert_non_null(loaded->plugin->run);
    }
    assert_non_null(plugin_set_find(&set, "initcheck")->plugin->init);
    assert_null(plugin_set_find(&set, "hello")->plugin->init);

    plugin_set_free(&set);
    error_list_free(&errors);
}

static void test_plugins_are_listed_in_file_name_order(void **state)
{
    (void)state;
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);
    plugin_set_load_dir(&set, required_env("DYNSUP_PLUGIN_DIR"), &errors);

    assert_true(set.count >= 5);
    for (size_t i = 1; i < set.count; i++)
        assert_true(strcmp(set.items[i - 1].file, set.items[i].file) < 0);

    plugin_set_free(&set);
    error_list_free(&errors);
}

static void test_folder_with_trailing_slash_gives_paths_without_double_slash(void **state)
{
    (void)state;
    char *dir = NULL;
    assert_true(asprintf(&dir, "%s/", required_env("DYNSUP_PLUGIN_DIR")) >= 0);
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);
    plugin_set_load_dir(&set, dir, &errors);

    const struct loaded_plugin *hello = plugin_set_find(&set, "hello");
    assert_non_null(hello);
    char *expected = NULL;
    assert_true(asprintf(&expected, "%shello.so", dir) >= 0);
    assert_string_equal(hello->file, expected);

    free(expected);
    free(dir);
    plugin_set_free(&set);
    error_list_free(&errors);
}

static void test_unknown_plugin_name_is_not_found(void **state)
{
    (void)state;
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);
    plugin_set_load_dir(&set, required_env("DYNSUP_PLUGIN_DIR"), &errors);

    assert_null(plugin_set_find(&set, "no_such_plugin"));
    assert_null(plugin_set_find(&set, "hell"));

    plugin_set_free(&set);
    error_list_free(&errors);
}

static void test_missing_folder_is_one_error_naming_it(void **state)
{
    (void)state;
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);

    assert_int_equal(plugin_set_load_dir(&set, "/nonexistent/dynsup-plugins", &errors), -1);
    assert_int_equal(set.count, 0);
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.messages[0],
                        "/nonexistent/dynsup-plugins: cannot read plugin folder: "
                        "No such file or directory");

    plugin_set_free(&set);
    error_list_free(&errors);
}

/* ---- the example plugins at work, in this process --------------------- */

/* A worker as the host would hand it over, with a stop flag the test sets
 * and the log lines collected. */
struct fake_worker {
    dynsup_worker worker; /* first: the plugin's pointer is ours */
    int stop_requested;
    char log[4096];
};

static int fake_should_stop(const dynsup_worker *w)
{
    return ((const struct fake_worker *)w)->stop_requested;
}

/* The flag is set before run is called, so there is nothing to wait for:
 * the answer is at once. */
static int fake_wait_for_stop(const dynsup_worker *w, long timeout_ms)
{
    (void)timeout_ms;
    return fake_should_stop(w);
}

static void fake_vlog(dynsup_worker *w, int level, const char *fmt, va_list ap)
{
    (void)level;
    struct fake_worker *fake = (struct fake_worker *)w;
    size_t used = strlen(fake->log);
    vsnprintf(fake->log + used, sizeof fake->log - used, fmt, ap);
    used = strlen(fake->log);
    snprintf(fake->log + used, sizeof fake->log - used, "\n");
}

static const struct dynsup_worker_api fake_api = {
    .size = sizeof fake_api,
    .should_stop = fake_should_stop,
    .vlog = fake_vlog,
    .wait_for_stop = fake_wait_for_stop,
};

/* A host older than dynsup_wait_for_stop: its table ends before it. */
static const struct dynsup_worker_api older_host_api = {
    .size = offsetof(struct dynsup_worker_api, wait_for_stop),
    .should_stop = fake_should_stop,
    .vlog = fake_vlog,
};

/* A host whose table is as long as this header's but leaves the call out. */
static const struct dynsup_worker_api incomplete_api = {
    .size = sizeof incomplete_api,
    .should_stop = fake_should_stop,
    .vlog = fake_vlog,
};

static void fake_worker_init(struct fake_worker *fake)
{
    memset(fake, 0, sizeof *fake);
    fake->worker.abi_version = DYNSUP_PLUGIN_ABI_VERSION;
    fake->worker.api = &fake_api;
    fake->worker.supervisor = "tests";
    fake->worker.child_id = "child_1";
}

static int load_example_plugins(void **state)
{
    struct plugin_set *set = malloc(sizeof *set);
    struct error_list errors;
    if (set == NULL)
        return -1;
    plugin_set_init(set);
    error_list_init(&errors);
    int result = plugin_set_load_dir(set, required_env("DYNSUP_PLUGIN_DIR"), &errors);
    error_list_free(&errors);
    *state = set;
    return result;
}

static int free_example_plugins(void **state)
{
    plugin_set_free(*state);
    free(*state);
    return 0;
}

/* Calls the named plugin's init (or run) with the given words. */
static int call_plugin(void **state, const char *name, bool call_init, struct fake_worker *fake,
                       int argc, char **argv)
{
    const struct loaded_plugin *loaded = plugin_set_find(*state, name);
    assert_non_null(loaded);
    dynsup_run_fn function = call_init ? loaded->plugin->init : loaded->plugin->run;
    assert_non_null(function);
    return function(&fake->worker, argc, argv);
}

#define ARGS(...) (int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)), (char *[]){__VA_ARGS__, NULL}

static void test_hello_logs_its_child_id_and_arguments(void **state)
{
    struct fake_worker fake;
    fake_worker_init(&fake);
    assert_int_equal(call_plugin(state, "hello", false, &fake, ARGS("a", "b c")), 0);
    assert_string_equal(fake.log, "hello from child_1, args: a b c\nhello, in detail, from child_1\n");
}

static void test_sleeper_returns_normally_once_asked_to_stop(void **state)
{
    struct fake_worker fake;
    fake_worker_init(&fake);
    fake.stop_requested = 1;
    assert_int_equal(call_plugin(state, "sleeper", false, &fake, ARGS("--exit-after-ms", "60000")), 0);
    assert_non_null(strstr(fake.log, "stopping\n"));
}

static void test_exit_code_returns_its_last_argument(void **state)
{
    struct fake_worker fake;
    fake_worker_init(&fake);
    assert_int_equal(call_plugin(state, "exit_code", false, &fake, ARGS("7")), 7);
    assert_int_equal(call_plugin(state, "exit_code", false, &fake, ARGS("extra", "--delay-ms", "0", "42")), 42);
    assert_int_equal(call_plugin(state, "exit_code", false, &fake, 0, (char *[]){NULL}), 0);
    fake_worker_init(&fake);
    assert_int_equal(call_plugin(state, "exit_code", false, &fake, ARGS("seven")), 2);
    assert_string_equal(fake.log, "last argument \"seven\" is not an exit code 0..255\n");
}

static void test_initcheck_init_answers_as_its_first_argument_says(void **state)
{
    const char *existing = required_env("DYNSUP_PLUGIN_DIR");
    char *if_exists = NULL, *if_missing = NULL;
    assert_true(asprintf(&if_exists, "fail-if-exists=%s", existing) >= 0);
    assert_true(asprintf(&if_missing, "fail-if-missing=%s", existing) >= 0);
    struct fake_worker fake;
    fake_worker_init(&fake);

    assert_int_equal(call_plugin(state, "initcheck", true, &fake, ARGS("ok")), 0);
    assert_int_equal(call_plugin(state, "initcheck", true, &fake, ARGS("ignore")), DYNSUP_IGNORE);
    assert_int_equal(call_plugin(state, "initcheck", true, &fake, ARGS("slow=0")), 0);
    assert_int_equal(call_plugin(state, "initcheck", true, &fake, ARGS(if_missing)), 0);
    assert_int_equal(call_plugin(state, "initcheck", true, &fake, ARGS("fail-if-exists=/nonexistent/x")), 0);
    assert_int_equal(call_plugin(state, "initcheck", true, &fake, ARGS(if_exists)), 1);
    assert_int_equal(call_plugin(state, "initcheck", true, &fake, ARGS("fail-if-missing=/nonexistent/x")), 1);
    fake_worker_init(&fake);
    assert_int_equal(call_plugin(state, "initcheck", true, &fake, ARGS("fail")), 1);
    assert_string_equal(fake.log, "init failed on request\n");
    free(if_exists);
    free(if_missing);
}

static void test_initcheck_run_returns_the_exit_code_it_was_given(void **state)
{
    struct fake_worker fake;
    fake_worker_init(&fake);
    assert_int_equal(call_plugin(state, "initcheck", false, &fake, ARGS("ok", "--exit-code", "3")), 3);
    assert_int_equal(call_plugin(state, "initcheck", false, &fake,
                                 ARGS("ok", "--exit-after-ms", "0", "--exit-code", "4")), 4);
}

static long long monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* A plugin built against this header on a host without the call: the
 * header's helper looks every 100 ms instead, so a plugin waits as long as
 * it was told (exit_code used to take the missing call for a stop and
 * end at once; a NULL entry crashed it). */
static void test_waits_fall_back_to_looking_on_a_host_without_the_call(void **state)
{
    const struct dynsup_worker_api *hosts[] = {&older_host_api, &incomplete_api};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        struct fake_worker fake;
        fake_worker_init(&fake);
        fake.worker.api = hosts[i];
        long long before = monotonic_ms();
        assert_int_equal(dynsup_wait_for_stop(&fake.worker, 150), 0);
        assert_true(monotonic_ms() - before >= 150);
        fake.stop_requested = 1;
        assert_int_equal(dynsup_wait_for_stop(&fake.worker, -1), 1);

        fake_worker_init(&fake);
        fake.worker.api = hosts[i];
        before = monotonic_ms();
        assert_int_equal(call_plugin(state, "exit_code", false, &fake, ARGS("--delay-ms", "200", "7")), 7);
        assert_true(monotonic_ms() - before >= 200);
        before = monotonic_ms();
        assert_int_equal(call_plugin(state, "initcheck", true, &fake, ARGS("slow=200")), 0);
        assert_true(monotonic_ms() - before >= 200);
    }
}

static struct fake_worker *alarmed_worker;
static int alarms;

/* Another signal of the plugin's, every 20 ms. Were the wait never to
 * end, the 150th alarm (3 s) asks the stop, so the test fails, not hangs. */
static void on_alarm(int signal_number)
{
    (void)signal_number;
    if (++alarms == 150)
        alarmed_worker->stop_requested = 1;
}

/* The fallback counted only the 100 ms steps no signal cut short: a plugin
 * with a signal of its own more often than that never saw its timeout. */
static void test_the_fallback_wait_ends_at_its_timeout_among_other_signals(void **state)
{
    (void)state;
    struct fake_worker fake;
    fake_worker_init(&fake);
    fake.worker.api = &older_host_api;
    alarmed_worker = &fake;
    alarms = 0;
    struct sigaction action = {.sa_handler = on_alarm};
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, NULL);
    struct itimerval every_20_ms = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &every_20_ms, NULL);
    long long before = monotonic_ms();
    int answer = dynsup_wait_for_stop(&fake.worker, 300);
    long long waited = monotonic_ms() - before;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_DFL);
    assert_int_equal(answer, 0);
    assert_true(waited >= 300);
}

int main(void)
{
    const struct CMUnitTest examples[] = {
        cmocka_unit_test(test_example_plugins_all_load_under_their_file_names),
        cmocka_unit_test(test_plugins_are_listed_in_file_name_order),
        cmocka_unit_test(test_folder_with_trailing_slash_gives_paths_without_double_slash),
        cmocka_unit_test(test_unknown_plugin_name_is_not_found),
        cmocka_unit_test(test_missing_folder_is_one_error_naming_it),
    };
    const struct CMUnitTest at_work[] = {
        cmocka_unit_test(test_hello_logs_its_child_id_and_arguments),
        cmocka_unit_test(test_sleeper_returns_normally_once_asked_to_stop),
        cmocka_unit_test(test_exit_code_returns_its_last_argument),
        cmocka_unit_test(test_waits_fall_back_to_looking_on_a_host_without_the_call),
        cmocka_unit_test(test_the_fallback_wait_ends_at_its_timeout_among_other_signals),
        cmocka_unit_test(test_initcheck_init_answers_as_its_first_argument_says),
        cmocka_unit_test(test_initcheck_run_returns_the_exit_code_it_was_given),
    };
    int failed = cmocka_run_group_tests_name("example plugins", examples, NULL, NULL);
    failed += cmocka_run_group_tests_name("example plugins at work", at_work, load_example_plugins,
                                          free_example_plugins);
    return failed;
}
