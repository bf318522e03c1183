/*
 * Plugin trust: who may have written a plugin. A plugin or folder that
 * someone else could have written, or a symlink leading out of the folder,
 * is refused before it is loaded, with a message naming what is wrong;
 * the file loaded is the very file checked.
 *
 * Needs DYNSUP_PLUGIN_DIR (the built example plugins); ctest sets it.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <elf.h>
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

/* Whether the descriptor holds exactly the bytes of the file at path. */
static bool same_bytes(int fd, const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return false;
    bool same = true;
    char mine[4096], theirs[4096];
    for (off_t offset = 0; same;) {
        size_t got = fread(theirs, 1, sizeof theirs, file);
        ssize_t held = pread(fd, mine, sizeof mine, offset);
        same = held == (ssize_t)got && memcmp(mine, theirs, got) == 0;
        if (got == 0)
            break;
        offset += (off_t)got;
    }
    fclose(file);
    return same;
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
    assert_true(same_bytes(set.items[0].fd, target));

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
    /* What is mapped is a private copy of the checked bytes (a plugin's
     * generation is immune to writes to its file), not the new file. */
    struct stat held;
    assert_int_equal(fstat(set.items[0].fd, &held), 0);
    assert_int_equal(held.st_size, checked.st_size);
    Dl_info where;
    assert_true(dladdr(set.items[0].plugin, &where) != 0);
    char fd_path[64];
    snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", set.items[0].fd);
    assert_string_equal(where.dli_fname, fd_path);
    assert_string_equal(set.items[0].plugin->name, "hello");
    /* and that copy is sealed: kept for the generation's whole life (a
     * relaunch runs it), nobody may change its bytes or size */
    int seals = fcntl(set.items[0].fd, F_GET_SEALS);
    assert_true(seals >= 0);
    assert_int_equal(seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
                     F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    assert_int_equal(write(set.items[0].fd, "x", 1), -1);

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

/* A copy still being written: dlopen may map it, and a worker would fault
 * on the missing bytes; the loader refuses it by its segments. */
static void test_a_plugin_cut_short_is_refused_as_truncated(void **state)
{
    struct trust_dir *dir = *state;
    char *plugin = copy_example("hello.so", dir->path, "hello.so", 0755);
    /* cut inside the last loadable segment (debug sections after it may
     * go without harm) */
    int fd = open(plugin, O_RDONLY);
    assert_true(fd >= 0);
    Elf64_Ehdr header;
    assert_int_equal(pread(fd, &header, sizeof header, 0), (ssize_t)sizeof header);
    uint64_t end = 0;
    for (unsigned i = 0; i < header.e_phnum; i++) {
        Elf64_Phdr segment;
        assert_int_equal(pread(fd, &segment, sizeof segment,
                               (off_t)(header.e_phoff + i * sizeof segment)),
                         (ssize_t)sizeof segment);
        if (segment.p_type == PT_LOAD && segment.p_offset + segment.p_filesz > end)
            end = segment.p_offset + segment.p_filesz;
    }
    close(fd);
    assert_true(end > 64);
    assert_int_equal(truncate(plugin, (off_t)end - 64), 0);
    struct plugin_set set;
    struct error_list errors;
    plugin_set_init(&set);
    error_list_init(&errors);
    assert_int_not_equal(plugin_set_load_dir(&set, dir->path, &errors), 0);
    assert_int_equal(set.count, 0);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.messages[0], "truncated"));
    plugin_set_free(&set);
    error_list_free(&errors);
    free(plugin);
}

int main(void)
{
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
        TRUST_TEST(test_a_plugin_cut_short_is_refused_as_truncated),
    };
    return cmocka_run_group_tests_name("plugin trust", trust, NULL, NULL);
}
