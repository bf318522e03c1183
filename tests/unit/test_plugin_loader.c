/*
 * Plugin loading: the example plugins load under their own names; every
 * bad plugin is refused with a message naming the file and what is wrong
 * (field, expected, found, or dlerror()'s text), and is not kept loaded.
 *
 * Needs DYNSUP_PLUGIN_DIR (the built example plugins) and
 * DYNSUP_BAD_PLUGIN_DIR (tests/plugins, built); ctest sets both.
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

static const char *required_env(const char *name)
{
    const char *value = getenv(name);
    if (value == NULL || *value == '\0')
        fail_msg("%s is not set: run this test through ctest", name);
    return value;
}

static char *join_path(const char *dir, const char *file)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, file) >= 0);
    return path;
}

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

/* ---- trust: who may have written a plugin ----------------------------- */

/* Each trust test gets a fresh folder (mkdtemp: 0700, ours) under /tmp and
 * copies of the built example plugins in it; the folder goes afterwards. */
struct trust_dir {
    char path[PATH_MAX];     /* as given to the loader */
    char real[PATH_MAX];     /* realpath, as the loader reports symlink targets */
};

static int remove_entry(const char *path, const struct stat *info, int type, struct FTW *walk)
{
    (void)info, (void)type, (void)walk;
    return remove(path);
}

static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int make_trust_dir(void **state)
{
    struct trust_dir *dir = calloc(1, sizeof *dir);
    if (dir == NULL)
        return -1;
    snprintf(dir->path, sizeof dir->path, "/tmp/dynsup-trust-XXXXXX");
    if (mkdtemp(dir->path) == NULL || realpath(dir->path, dir->real) == NULL) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int remove_trust_dir(void **state)
{
    struct trust_dir *dir = *state;
    remove_tree(dir->path);
    free(dir);
    return 0;
}

/* Copies the built example plugin `example` (e.g. "hello.so") to
 * folder/file_name with `mode`; returns the new path (caller frees). */
static char *copy_example(const char *example, const char *folder, const char *file_name, mode_t mode)
{
    char *source = join_path(required_env("DYNSUP_PLUGIN_DIR"), example);
    char *target = join_path(folder, file_name);
    int in = open(source, O_RDONLY | O_CLOEXEC);
    int out = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(in >= 0 && out >= 0);
    char buffer[65536];
    ssize_t got;
    while ((got = read(in, buffer, sizeof buffer)) > 0)
        assert_int_equal(write(out, buffer, (size_t)got), got);
    assert_int_equal(got, 0);
    close(in);
    close(out);
    assert_int_equal(chmod(target, mode), 0); /* exactly, whatever the umask */
    free(source);
    return target;
}

static bool resident(const char *path)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (handle != NULL)
        dlclose(handle);
    return handle != NULL;
}

/* Loads dir and expects exactly one refusal, `expected`, and nothing
 * loaded; the candidate file `path` must not be mapped afterwards. */
static void assert_only_refusal(const char *dir, const char *path, const char *expected)
{
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);
    assert_int_equal(plugin_set_load_dir(&set, dir, &errors), -1);
    for (size_t i = 0; errors.count != 1 && i < errors.count; i++)
        print_message("loader said: %s\n", errors.messages[i]);
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.messages[0], expected);
    assert_int_equal(set.count, 0);
    assert_false(resident(path));
    plugin_set_free(&set);
    error_list_free(&errors);
}

static char *format_text(const char *format, ...) __attribute__((format(printf, 1, 2)));
static char *format_text(const char *format, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, format);
    assert_true(vasprintf(&text, format, ap) >= 0);
    va_end(ap);
    return text;
}

static void skip_unless_root(void)
{
    if (geteuid() != 0) {
        print_message("skipped: giving a file to another user needs root\n");
        skip();
    }
}

static void test_plugin_writable_by_its_group_is_refused_before_loading(void **state)
{
    struct trust_dir *dir = *state;
    char *plugin = copy_example("hello.so", dir->path, "hello.so", 0664);
    char *expected = format_text("%s: refused: writable by group (mode 0664); plugins must be "
                                 "writable only by their owner", plugin);
    assert_only_refusal(dir->path, plugin, expected);
    free(expected);
    free(plugin);
}

static void test_plugin_writable_by_everyone_is_refused(void **state)
{
    struct trust_dir *dir = *state;
    char *plugin = copy_example("hello.so", dir->path, "hello.so", 0646);
    char *expected = format_text("%s: refused: writable by others (mode 0646); plugins must be "
                                 "writable only by their owner", plugin);
    assert_only_refusal(dir->path, plugin, expected);
    free(expected);
    free(plugin);
}

static char *expected_owner_reason(unsigned owner)
{
    if (geteuid() == 0)
        return format_text("owned by uid %u, expected root (the host's user)", owner);
    return format_text("owned by uid %u, expected root or uid %u (the host's user)", owner,
                       (unsigned)geteuid());
}

static void test_plugin_owned_by_another_user_is_refused(void **state)
{
    skip_unless_root();
    struct trust_dir *dir = *state;
    char *plugin = copy_example("hello.so", dir->path, "hello.so", 0755);
    assert_int_equal(chown(plugin, 65534, 65534), 0);
    char *reason = expected_owner_reason(65534);
    char *expected = format_text("%s: refused: %s", plugin, reason);
    assert_only_refusal(dir->path, plugin, expected);
    free(expected);
    free(reason);
    free(plugin);
}

static void test_plugin_folder_writable_by_its_group_is_refused_and_nothing_loaded(void **state)
{
    struct trust_dir *dir = *state;
    char *plugin = copy_example("hello.so", dir->path, "hello.so", 0755);
    assert_int_equal(chmod(dir->path, 0770), 0);
    char *expected = format_text("%s: refused: plugin folder writable by group (mode 0770); plugin "
                                 "folders must be writable only by their owner", dir->path);
    assert_only_refusal(dir->path, plugin, expected);
    free(expected);
    free(plugin);
}

static void test_plugin_folder_owned_by_another_user_is_refused(void **state)
{
    skip_unless_root();
    struct trust_dir *dir = *state;
    char *plugin = copy_example("hello.so", dir->path, "hello.so", 0755);
    assert_int_equal(chown(dir->path, 65534, 65534), 0);
    char *reason = expected_owner_reason(65534);
    char *expected = format_text("%s: refused: plugin folder %s", dir->path, reason);
    assert_only_refusal(dir->path, plugin, expected);
    free(expected);
    free(reason);
    free(plugin);
}

static void test_symlink_to_a_plugin_outside_the_folder_is_refused_naming_the_target(void **state)
{
    struct trust_dir *dir = *state;
    char *plugins = join_path(dir->path, "plugins");
    char *elsewhere = join_path(dir->path, "elsewhere");
    assert_int_equal(mkdir(plugins, 0755), 0);
    assert_int_equal(mkdir(elsewhere, 0755), 0);
    /* A perfectly good plugin: only where it lives is wrong. */
    char *target = copy_example("hello.so", elsewhere, "hello.so", 0755);
    char *link = join_path(plugins, "hello.so");
    assert_int_equal(symlink(target, link), 0);
    char *expected = format_text("%s: refused: symlink to %s/elsewhere/hello.so, outside the plugin "
                                 "folder", link, dir->real);
    assert_only_refusal(plugins, target, expected);
    free(expected);
    free(link);
    free(target);
    free(elsewhere);
    free(plugins);
}

static void test_relative_symlink_climbing_out_of_the_folder_is_refused(void **state)
{
    struct trust_dir *dir = *state;
    char *plugins = join_path(dir->path, "plugins");
    assert_int_equal(mkdir(plugins, 0755), 0);
    char *target = copy_example("hello.so", dir->path, "outside.so.1", 0755);
    char *link = join_path(plugins, "hello.so");
    assert_int_equal(symlink("../outside.so.1", link), 0);
    char *expected = format_text("%s: refused: symlink to %s/outside.so.1, outside the plugin folder",
                                 link, dir->real);
    assert_only_refusal(plugins, target, expected);
    free(expected);
    free(link);
    free(target);
    free(plugins);
}

static void test_symlink_to_a_file_inside_the_folder_loads_under_the_link_name(void **state)
{
    struct trust_dir *dir = *state;
    char *target = copy_example("hello.so", dir->path, "hello.so.1.0", 0755);
    char *link = join_path(dir->path, "hello.so");
    assert_int_equal(symlink("hello.so.1.0", link), 0);
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);

    assert_int_equal(plugin_set_load_dir(&set, dir->path, &errors), 0);
    assert_int_equal(errors.count, 0);
    assert_int_equal(set.count, 1);
    assert_string_equal(set.items[0].name, "hello");
    assert_string_equal(set.items[0].file, link);
    assert_true(resident(target));

    plugin_set_free(&set);
    error_list_free(&errors);
    assert_false(resident(target));
    free(link);
    free(target);
}

static void test_symlink_into_a_writable_subfolder_is_refused_naming_that_folder(void **state)
{
    struct trust_dir *dir = *state;
    char *versions = join_path(dir->path, "versions");
    assert_int_equal(mkdir(versions, 0755), 0);
    assert_int_equal(chmod(versions, 0777), 0);
    char *target = copy_example("hello.so", versions, "hello.so", 0755);
    char *link = join_path(dir->path, "hello.so");
    assert_int_equal(symlink("versions/hello.so", link), 0);
    char *expected = format_text("%s: refused: its folder %s/versions is writable by group and others "
                                 "(mode 0777); plugin folders must be writable only by their owner",
                                 link, dir->real);
    assert_only_refusal(dir->path, target, expected);
    free(expected);
    free(link);
    free(target);
    free(versions);
}

static void test_only_the_untrusted_plugin_is_refused_the_others_load(void **state)
{
    struct trust_dir *dir = *state;
    char *good = copy_example("hello.so", dir->path, "hello.so", 0755);
    char *bad = copy_example("sleeper.so", dir->path, "sleeper.so", 0666);
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);

    assert_int_equal(plugin_set_load_dir(&set, dir->path, &errors), -1);
    assert_int_equal(errors.count, 1);
    char *expected = format_text("%s: refused: writable by group and others (mode 0666); plugins "
                                 "must be writable only by their owner", bad);
    assert_string_equal(errors.messages[0], expected);
    assert_int_equal(set.count, 1);
    assert_string_equal(set.items[0].name, "hello");
    assert_false(resident(bad));

    plugin_set_free(&set);
    error_list_free(&errors);
    free(expected);
    free(bad);
    free(good);
}

/* The loader checks an open descriptor and dlopens that very descriptor:
 * the plugin in the set is the file that was checked, even when its path
 * now names another file. */
static void test_loaded_plugin_is_the_checked_file_even_if_its_path_is_replaced(void **state)
{
    struct trust_dir *dir = *state;
    char *plugin = copy_example("hello.so", dir->path, "hello.so", 0755);
    struct stat checked;
    assert_int_equal(stat(plugin, &checked), 0);
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);
    assert_int_equal(plugin_set_load_dir(&set, dir->path, &errors), 0);

    char *replacement = copy_example("sleeper.so", dir->path, "replacement", 0755);
    assert_int_equal(rename(replacement, plugin), 0);
    struct stat held;
    assert_int_equal(fstat(set.items[0].fd, &held), 0);
    assert_true(held.st_ino == checked.st_ino && held.st_dev == checked.st_dev);
    Dl_info where;
    assert_true(dladdr(set.items[0].plugin, &where) != 0);
    char fd_path[64];
    snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", set.items[0].fd);
    assert_string_equal(where.dli_fname, fd_path);
    assert_string_equal(set.items[0].plugin->name, "hello");

    plugin_set_free(&set);
    error_list_free(&errors);
    free(replacement);
    free(plugin);
}

/* glibc finds a loaded library by name first: two sets loaded at once
 * must still each get their own files, not a library already mapped under
 * a reused /proc/self/fd name. */
static void test_sets_loaded_one_after_another_each_get_their_own_files(void **state)
{
    struct trust_dir *dir = *state;
    char *first_dir = join_path(dir->path, "first");
    char *second_dir = join_path(dir->path, "second");
    assert_int_equal(mkdir(first_dir, 0755), 0);
    assert_int_equal(mkdir(second_dir, 0755), 0);
    free(copy_example("hello.so", first_dir, "hello.so", 0755));
    free(copy_example("sleeper.so", second_dir, "sleeper.so", 0755));
    free(copy_example("exit_code.so", second_dir, "exit_code.so", 0755));
    struct plugin_set first, second, third;
    struct error_list errors;
    plugin_set_init(&first);
    plugin_set_init(&second);
    plugin_set_init(&third);
    error_list_init(&errors);

    assert_int_equal(plugin_set_load_dir(&first, first_dir, &errors), 0);
    plugin_set_free(&first);                   /* its descriptor number is free again */
    assert_int_equal(plugin_set_load_dir(&first, first_dir, &errors), 0);
    assert_int_equal(plugin_set_load_dir(&second, second_dir, &errors), 0);
    plugin_set_free(&first);
    assert_int_equal(plugin_set_load_dir(&third, second_dir, &errors), 0);
    assert_int_equal(errors.count, 0);
    assert_int_equal(second.count, 2);
    assert_int_equal(third.count, 2);
    assert_string_equal(plugin_set_find(&second, "sleeper")->plugin->name, "sleeper");
    assert_string_equal(plugin_set_find(&third, "exit_code")->plugin->name, "exit_code");

    plugin_set_free(&second);
    plugin_set_free(&third);
    error_list_free(&errors);
    free(first_dir);
    free(second_dir);
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
    assert_string_equal(fake.log, "hello from child_1, args: a b c\n");
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

int main(void)
{
    const struct CMUnitTest examples[] = {
        cmocka_unit_test(test_example_plugins_all_load_under_their_file_names),
        cmocka_unit_test(test_plugins_are_listed_in_file_name_order),
        cmocka_unit_test(test_folder_with_trailing_slash_gives_paths_without_double_slash),
        cmocka_unit_test(test_unknown_plugin_name_is_not_found),
        cmocka_unit_test(test_missing_folder_is_one_error_naming_it),
    };
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
        cmocka_unit_test(test_every_problem_of_a_descriptor_is_reported),
        cmocka_unit_test(test_abi_mismatch_is_the_only_error_since_the_layout_may_differ),
    };
    const struct CMUnitTest at_work[] = {
        cmocka_unit_test(test_hello_logs_its_child_id_and_arguments),
        cmocka_unit_test(test_sleeper_returns_normally_once_asked_to_stop),
        cmocka_unit_test(test_exit_code_returns_its_last_argument),
        cmocka_unit_test(test_initcheck_init_answers_as_its_first_argument_says),
        cmocka_unit_test(test_initcheck_run_returns_the_exit_code_it_was_given),
    };
#define TRUST_TEST(name) cmocka_unit_test_setup_teardown(name, make_trust_dir, remove_trust_dir)
    const struct CMUnitTest trust[] = {
        TRUST_TEST(test_plugin_writable_by_its_group_is_refused_before_loading),
        TRUST_TEST(test_plugin_writable_by_everyone_is_refused),
        TRUST_TEST(test_plugin_owned_by_another_user_is_refused),
        TRUST_TEST(test_plugin_folder_writable_by_its_group_is_refused_and_nothing_loaded),
        TRUST_TEST(test_plugin_folder_owned_by_another_user_is_refused),
        TRUST_TEST(test_symlink_to_a_plugin_outside_the_folder_is_refused_naming_the_target),
        TRUST_TEST(test_relative_symlink_climbing_out_of_the_folder_is_refused),
        TRUST_TEST(test_symlink_to_a_file_inside_the_folder_loads_under_the_link_name),
        TRUST_TEST(test_symlink_into_a_writable_subfolder_is_refused_naming_that_folder),
        TRUST_TEST(test_only_the_untrusted_plugin_is_refused_the_others_load),
        TRUST_TEST(test_loaded_plugin_is_the_checked_file_even_if_its_path_is_replaced),
        TRUST_TEST(test_sets_loaded_one_after_another_each_get_their_own_files),
    };
    int failed = cmocka_run_group_tests_name("example plugins", examples, NULL, NULL);
    failed += cmocka_run_group_tests_name("plugin trust", trust, NULL, NULL);
    failed += cmocka_run_group_tests_name("bad plugins", bad_plugins, load_bad_plugins, free_bad_plugins);
    failed += cmocka_run_group_tests_name("descriptor validation", validation, NULL, NULL);
    failed += cmocka_run_group_tests_name("example plugins at work", at_work, load_example_plugins,
                                          free_example_plugins);
    return failed;
}
