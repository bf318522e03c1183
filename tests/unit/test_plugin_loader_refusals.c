/*
 * Plugin loading: every bad plugin is refused with a message naming the
 * file and what is wrong (field, expected, found, or dlerror()'s text),
 * and is not kept loaded; plugin_validate on hand-made descriptors.
 *
 * Needs DYNSUP_BAD_PLUGIN_DIR (tests/plugins, built); ctest sets it.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_loader.h"

#include "support_plugin_loader.h"

/* The one error that starts with "<bad dir>/<file>: ", or NULL. */
static const char *error_for_file(const struct error_list *errors, const char *file)
{
    char *prefix = NULL;
    assert_true(asprintf(&prefix, "%s/%s: ", required_env("DYNSUP_BAD_PLUGIN_DIR"), file) >= 0);
    const char *found = NULL;
    for (size_t i = 0; i < errors->count; i++) {
        if (strncmp(errors->messages[i], prefix, strlen(prefix)) == 0) {
            assert_null(found); /* one message per bad file */
            found = errors->messages[i];
        }
    }
    free(prefix);
    return found;
}

static char *expected_message(const char *file, const char *reason_format, ...)
    __attribute__((format(printf, 2, 3)));
static char *expected_message(const char *file, const char *reason_format, ...)
{
    char *reason = NULL, *message = NULL;
    va_list ap;
    va_start(ap, reason_format);
    assert_true(vasprintf(&reason, reason_format, ap) >= 0);
    va_end(ap);
    char *path = join_path(required_env("DYNSUP_BAD_PLUGIN_DIR"), file);
    assert_true(asprintf(&message, "%s: %s", path, reason) >= 0);
    free(path);
    free(reason);
    return message;
}

static void assert_not_resident(const char *file)
{
    char *path = join_path(required_env("DYNSUP_BAD_PLUGIN_DIR"), file);
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (handle != NULL) {
        dlclose(handle);
        fail_msg("%s is still loaded after its refusal", path);
    }
    free(path);
}

/* ---- the bad plugins: loaded once for the group ---------------------- */

struct bad_load {
    int result;
    struct plugin_set set;
    struct error_list errors;
};

static int load_bad_plugins(void **state)
{
    struct bad_load *load = calloc(1, sizeof *load);
    if (load == NULL)
        return -1;
    plugin_set_init(&load->set);
    error_list_init(&load->errors);
    load->result = plugin_set_load_dir(&load->set, required_env("DYNSUP_BAD_PLUGIN_DIR"), &load->errors);
    *state = load;
    return 0;
}

static int free_bad_plugins(void **state)
{
    struct bad_load *load = *state;
    plugin_set_free(&load->set);
    error_list_free(&load->errors);
    free(load);
    return 0;
}

static void test_every_bad_plugin_is_refused_and_none_kept(void **state)
{
    struct bad_load *load = *state;
    assert_int_equal(load->result, -1);
    assert_int_equal(load->set.count, 0);
    assert_int_equal(load->errors.count, 5);
    const char *files[] = {"bad_abi.so", "junk.so", "no_run.so", "no_symbol.so", "wrong_name.so"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        assert_non_null(error_for_file(&load->errors, files[i]));
        assert_not_resident(files[i]);
    }
}

static void test_plugin_of_another_abi_is_refused_naming_expected_and_found(void **state)
{
    struct bad_load *load = *state;
    char *expected = expected_message("bad_abi.so", "abi_version: expected %u, found %u",
                                      DYNSUP_PLUGIN_ABI_VERSION, DYNSUP_PLUGIN_ABI_VERSION + 1);
    assert_string_equal(error_for_file(&load->errors, "bad_abi.so"), expected);
    free(expected);
}

static void test_plugin_named_unlike_its_file_is_refused_naming_both(void **state)
{
    struct bad_load *load = *state;
    char *expected = expected_message(
        "wrong_name.so", "name: expected \"wrong_name\" (the file name), found \"renamed_plugin\"");
    assert_string_equal(error_for_file(&load->errors, "wrong_name.so"), expected);
    free(expected);
}

static void test_plugin_without_run_is_refused(void **state)
{
    struct bad_load *load = *state;
    char *expected = expected_message("no_run.so", "run: missing (required)");
    assert_string_equal(error_for_file(&load->errors, "no_run.so"), expected);
    free(expected);
}

static void test_plugin_not_exporting_the_descriptor_is_refused_with_dlerror(void **state)
{
    struct bad_load *load = *state;
    char *path = join_path(required_env("DYNSUP_BAD_PLUGIN_DIR"), "no_symbol.so");
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(handle);
    assert_null(dlsym(handle, DYNSUP_PLUGIN_SYMBOL));
    char *expected = expected_message("no_symbol.so", "no symbol dynsup_plugin: %s", dlerror());
    dlclose(handle);

    assert_string_equal(error_for_file(&load->errors, "no_symbol.so"), expected);
    free(expected);
    free(path);
}

static void test_file_that_is_not_a_shared_object_is_refused_with_dlerror(void **state)
{
    struct bad_load *load = *state;
    char *path = join_path(required_env("DYNSUP_BAD_PLUGIN_DIR"), "junk.so");
    assert_null(dlopen(path, RTLD_NOW | RTLD_LOCAL));
    char *expected = expected_message("junk.so", "cannot load: %s", dlerror());

    assert_string_equal(error_for_file(&load->errors, "junk.so"), expected);
    free(expected);
    free(path);
}

/* ---- plugin_validate on hand-made descriptors ------------------------ */

static int run_nothing(dynsup_worker *w, int argc, char **argv)
{
    (void)w, (void)argc, (void)argv;
    return 0;
}

static const struct dynsup_plugin good_descriptor = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "good",
    .version = "2.1",
    .run = run_nothing,
};

/* Validates `plugin` as plugins/good.so and returns the errors. */
static struct error_list validate_as_good(const struct dynsup_plugin *plugin, int expected_result)
{
    struct error_list errors;
    error_list_init(&errors);
    assert_int_equal(plugin_validate(plugin, "plugins/good.so", "good", &errors), expected_result);
    return errors;
}

static void test_complete_descriptor_is_accepted(void **state)
{
    (void)state;
    struct error_list errors = validate_as_good(&good_descriptor, 0);
    assert_int_equal(errors.count, 0);
    error_list_free(&errors);
}

static void test_descriptor_without_name_is_refused(void **state)
{
    (void)state;
    struct dynsup_plugin plugin = good_descriptor;
    plugin.name = NULL;
    struct error_list errors = validate_as_good(&plugin, -1);
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.messages[0], "plugins/good.so: name: missing (required)");
    error_list_free(&errors);
}

static void test_name_outside_lowercase_letters_digits_underscore_is_refused(void **state)
{
    (void)state;
    struct dynsup_plugin plugin = good_descriptor;
    plugin.name = "Good-1";
    struct error_list errors = validate_as_good(&plugin, -1);
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.messages[0],
                        "plugins/good.so: name: expected [a-z0-9_]+, found \"Good-1\"");
    error_list_free(&errors);
}

static void test_refusal_escapes_control_characters_in_a_name(void **state)
{
    (void)state;
    struct dynsup_plugin plugin = good_descriptor;
    plugin.name = "evil\nline";
    struct error_list errors = validate_as_good(&plugin, -1);
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.messages[0],
                        "plugins/good.so: name: expected [a-z0-9_]+, found \"evil\\x0aline\"");
    error_list_free(&errors);
}

/* The version travels in the spawner's tab-separated load report: a tab or
 * newline in it would forge report fields. */
static void test_version_with_control_characters_is_refused(void **state)
{
    (void)state;
    struct dynsup_plugin plugin = good_descriptor;
    plugin.version = "1.0\terror\tforged";
    struct error_list errors = validate_as_good(&plugin, -1);
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.messages[0],
                        "plugins/good.so: version: expected 1 to 64 printable characters, "
                        "found \"1.0\\x09error\\x09forged\"");
    error_list_free(&errors);
}

static void test_every_problem_of_a_descriptor_is_reported(void **state)
{
    (void)state;
    struct dynsup_plugin plugin = good_descriptor;
    plugin.name = "other";
    plugin.version = NULL;
    plugin.run = NULL;
    struct error_list errors = validate_as_good(&plugin, -1);
    assert_int_equal(errors.count, 3);
    assert_string_equal(errors.messages[0],
                        "plugins/good.so: name: expected \"good\" (the file name), found \"other\"");
    assert_string_equal(errors.messages[1], "plugins/good.so: version: missing (required)");
    assert_string_equal(errors.messages[2], "plugins/good.so: run: missing (required)");
    error_list_free(&errors);
}

static void test_abi_mismatch_is_the_only_error_since_the_layout_may_differ(void **state)
{
    (void)state;
    struct dynsup_plugin plugin = good_descriptor;
    plugin.abi_version = 0;
    plugin.name = NULL;
    struct error_list errors = validate_as_good(&plugin, -1);
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.messages[0], "plugins/good.so: abi_version: expected 1, found 0");
    error_list_free(&errors);
}

int main(void)
{
    const struct CMUnitTest bad_plugins[] = {
        cmocka_unit_test(test_every_bad_plugin_is_refused_and_none_kept),
        cmocka_unit_test(test_plugin_of_another_abi_is_refused_naming_expected_and_found),
        cmocka_unit_test(test_plugin_named_unlike_its_file_is_refused_naming_both),
        cmocka_unit_test(test_plugin_without_run_is_refused),
        cmocka_unit_test(test_plugin_not_exporting_the_descriptor_is_refused_with_dlerror),
        cmocka_unit_test(test_file_that_is_not_a_shared_object_is_refused_with_dlerror),
    };
    const struct CMUnitTest validation[] = {
        cmocka_unit_test(test_complete_descriptor_is_accepted),
        cmocka_unit_test(test_descriptor_without_name_is_refused),
        cmocka_unit_test(test_name_outside_lowercase_letters_digits_underscore_is_refused),
        cmocka_unit_test(test_refusal_escapes_control_characters_in_a_name),
        cmocka_unit_test(test_version_with_control_characters_is_refused),
        cmocka_unit_test(test_every_problem_of_a_descriptor_is_reported),
        cmocka_unit_test(test_abi_mismatch_is_the_only_error_since_the_layout_may_differ),
    };
    int failed = cmocka_run_group_tests_name("bad plugins", bad_plugins, load_bad_plugins,
                                             free_bad_plugins);
    failed += cmocka_run_group_tests_name("descriptor validation", validation, NULL, NULL);
    return failed;
}
