/*
 * Configuration files and folders: unreadable files, children.d and which
 * of its files are read in which order, overlong lines, and a child whose
 * plugin is not loaded.
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

static void test_a_nul_byte_is_named_with_its_line_not_as_a_long_line(void **state)
{
    struct scratch *s = *state;
    static const char text[] = "[child:a]\nplugin = p\nargs = x\0y\n";
    write_file(s, "children.d/a.ini", ""); /* makes the folder */
    FILE *file = fopen(scratch_path(s, "children.d/a.ini"), "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(text, 1, sizeof text - 1, file), sizeof text - 1);
    fclose(file);
    load_host(s, HOST);
    assert_error(s, "children.d/a.ini:3: a NUL byte (column 9): config files are text");
}

/* ---- what a config file may be (issue 9 item 5) ------------------------ */

/* A file that could block or grow without end must fail at once, not hang
 * the test: should it block after all, SIGALRM ends the test as failed. */
#define NO_HANG_SECONDS 20

static void test_a_fifo_in_children_dir_is_refused_without_blocking(void **state)
{
    struct scratch *s = *state;
    alarm(NO_HANG_SECONDS);
    write_file(s, "children.d/b.ini", "[child:b]\nplugin = p\n");
    assert_int_equal(mkfifo(scratch_path(s, "children.d/a.ini"), 0600), 0);
    load_host(s, HOST);
    alarm(0);
    assert_error(s, "children.d/a.ini: not a regular file (a FIFO); config files must be regular files");
    assert_non_null(config_find_child(&s->cfg, "b"));
}

static void test_a_device_as_child_file_is_refused_without_reading_it(void **state)
{
    struct scratch *s = *state;
    alarm(NO_HANG_SECONDS);
    mkdir(scratch_path(s, "children.d"), 0700);
    assert_int_equal(symlink("/dev/zero", scratch_path(s, "children.d/zero.ini")), 0);
    load_host(s, HOST);
    alarm(0);
    assert_error(s, "children.d/zero.ini: not a regular file (a character device)");
}

static void test_a_fifo_as_host_file_is_refused_without_blocking(void **state)
{
    struct scratch *s = *state;
    alarm(NO_HANG_SECONDS);
    assert_int_equal(mkfifo(scratch_path(s, "host.ini"), 0600), 0);
    assert_int_equal(load_path(s, scratch_path(s, "host.ini")), -1);
    alarm(0);
    assert_int_equal(s->errors.count, 1);
    assert_error(s, "host.ini: not a regular file (a FIFO)");
}

static void test_a_file_over_one_mebibyte_is_refused_naming_the_limit(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/big.ini", "[child:big]\nplugin = p\n");
    assert_int_equal(truncate(scratch_path(s, "children.d/big.ini"), 1024 * 1024 + 1), 0);
    load_host(s, HOST);
    assert_error(s, "children.d/big.ini: 1048577 bytes, more than a config file may hold (1048576)");
    assert_null(config_find_child(&s->cfg, "big"));
}

static void test_a_line_over_4096_bytes_is_refused_naming_its_number(void **state)
{
    struct scratch *s = *state;
    char text[8192];
    snprintf(text, sizeof text, "[child:a]\nplugin = p\n; %05000d\n", 7);
    write_file(s, "children.d/long.ini", text);
    load_host(s, HOST);
    assert_error(s, "children.d/long.ini:3: line longer than 4096 bytes");
}

static void test_a_symlink_to_a_regular_file_is_read_like_a_configmap(void **state)
{
    struct scratch *s = *state;
    /* Kubernetes mounts a ConfigMap as symlinks into a ..data folder. */
    mkdir(scratch_path(s, "children.d"), 0700);
    assert_int_equal(mkdir(scratch_path(s, "children.d/..data"), 0700), 0);
    write_file(s, "children.d/..data/a.ini", "[child:a]\nplugin = p\n");
    assert_int_equal(symlink("..data/a.ini", scratch_path(s, "children.d/a.ini")), 0);
    load_host(s, HOST);
    assert_loaded_cleanly(s);
    assert_non_null(config_find_child(&s->cfg, "a"));
}

static void test_every_file_that_is_not_a_config_file_is_named_at_once(void **state)
{
    struct scratch *s = *state;
    alarm(NO_HANG_SECONDS);
    mkdir(scratch_path(s, "children.d"), 0700);
    assert_int_equal(mkfifo(scratch_path(s, "children.d/a.ini"), 0600), 0);
    assert_int_equal(symlink("/dev/zero", scratch_path(s, "children.d/b.ini")), 0);
    write_file(s, "children.d/c.ini", "");
    assert_int_equal(truncate(scratch_path(s, "children.d/c.ini"), 2 * 1024 * 1024), 0);
    write_file(s, "children.d/d.ini", "[child:d]\nplugin = p\n");
    load_host(s, HOST "[supervisor:s]\nstrategy = none\n");
    alarm(0);
    assert_error(s, "children.d/a.ini: not a regular file");
    assert_error(s, "children.d/b.ini: not a regular file");
    assert_error(s, "children.d/c.ini: 2097152 bytes, more than");
    assert_error(s, "[supervisor:s] strategy:");
    assert_int_equal(s->errors.count, 4);
    assert_non_null(config_find_child(&s->cfg, "d"));
}

static void test_overlong_line_is_reported_in_iniparser_words(void **state)
{
    struct scratch *s = *state;
    char text[2048];
    snprintf(text, sizeof text, HOST "[supervisor:s]\nextra_arguments = %01500d\n", 7);
    load_host(s, text);
    assert_error(s, "dynsup.ini: the INI reader refused the file: iniparser: input line too long");
}

/* ---- files of many specs, read in parts --------------------------------- */

/* A children file of `count` specs; spec i has args "--n i" (written on a
 * continued line for every 7th), restart temporary for odd i, a comment
 * before every 5th. Spec `bad` (if < count) has restart "sometimes". Each
 * spec takes 4 lines (a comment one more): *bad_line is its restart's. */
static char *many_specs(int count, int bad, int *bad_line)
{
    size_t size = (size_t)count * 120 + 1;
    char *text = malloc(size);
    assert_non_null(text);
    size_t used = 0;
    int line = 1;
    for (int i = 0; i < count; i++) {
        if (i % 5 == 0) {
            used += (size_t)snprintf(text + used, size - used, "; spec %d\n", i);
            line++;
        }
        const char *restart = i == bad ? "sometimes" : i % 2 ? "temporary" : "permanent";
        if (i == bad)
            *bad_line = line + 3;
        used += (size_t)snprintf(text + used, size - used,
                                 i % 7 == 0 ? "[child:c%d]\nplugin = p\nargs = --n \\\n%d\nrestart = %s\n"
                                            : "[child:c%d]\nplugin = p\nargs = --n %d\nrestart = %s\n",
                                 i, i, restart);
        line += i % 7 == 0 ? 5 : 4;
        if (i % 7 == 0 && i == bad)
            (*bad_line)++;
    }
    return text;
}

static void test_many_specs_keep_their_values_whatever_the_parts(void **state)
{
    struct scratch *s = *state;
    int unused;
    char *text = many_specs(700, 700, &unused);
    write_file(s, "children.d/a.ini", text);
    free(text);
    load_host(s, HOST);
    assert_loaded_cleanly(s);
    assert_int_equal(s->cfg.child_count, 700);
    for (int i = 0; i < 700; i++) {
        char id[16], number[16];
        snprintf(id, sizeof id, "c%d", i);
        snprintf(number, sizeof number, "%d", i);
        const struct child_spec *spec = config_find_child(&s->cfg, id);
        assert_non_null(spec);
        assert_int_equal(spec->argc, 2);
        assert_string_equal(spec->args[1], number);
        assert_int_equal(spec->restart, i % 2 ? RESTART_TEMPORARY : RESTART_PERMANENT);
    }
}

static void test_bad_value_far_down_a_big_file_names_its_line(void **state)
{
    struct scratch *s = *state;
    int bad_line = 0;
    char *text = many_specs(700, 651, &bad_line);
    write_file(s, "children.d/a.ini", text);
    free(text);
    load_host(s, HOST);
    assert_int_equal(s->errors.count, 1);
    char expected[600];
    snprintf(expected, sizeof expected,
             "%s:%d: [child:c651] restart: expected permanent, transient or temporary, found "
             "\"sometimes\"", scratch_path(s, "children.d/a.ini"), bad_line);
    assert_string_equal(s->errors.messages[0], expected);
}

/* iniparser refuses the line in one part; what it says is what it says of
 * the whole file: the line counted from the file's start. */
static void test_overlong_line_far_down_a_big_file_names_its_line(void **state)
{
    struct scratch *s = *state;
    int unused;
    char *specs = many_specs(700, 700, &unused);
    size_t size = strlen(specs) + 2048;
    char *text = malloc(size);
    assert_non_null(text);
    snprintf(text, size, "%s[child:long]\nplugin = p\nargs = %01500d\n", specs, 7);
    free(specs);
    int long_line = 1;
    for (const char *c = text; *c != '\0'; c++)
        long_line += *c == '\n';
    long_line -= 1; /* the args line, the file's last */
    write_file(s, "children.d/a.ini", text);
    free(text);
    load_host(s, HOST);
    assert_int_equal(s->errors.count, 1);
    char expected[600];
    snprintf(expected, sizeof expected, "iniparser: input line too long in %s (%d)",
             scratch_path(s, "children.d/a.ini"), long_line);
    assert_error(s, expected);
}

/* iniparser strips the blanks at the end of the joined line, not only of
 * the line just read: "x\\ \\" then a blank line leaves a backslash at
 * the end again, and the line goes on, swallowing the next header. The
 * layout scan must see the same line (or it finds a section iniparser
 * never had, and its line numbers go wrong), and says what was
 * swallowed: a header joined to a value is an error, not a section gone
 * without a word. */
static void test_a_continued_line_that_swallows_a_header_reads_as_iniparser_reads_it(void **state)
{
    struct scratch *s = *state;
    enum { PAIRS = 3 };
    size_t size = PAIRS * 120 + 1, used = 0;
    char *text = malloc(size);
    assert_non_null(text);
    for (int i = 0; i < PAIRS; i++)
        used += (size_t)snprintf(text + used, size - used,
                                 "[child:c%d]\nplugin = p\nargs = --n \\ \\\n\n[child:gone%d]\n"
                                 "[child:d%d]\nplugin = p\n",
                                 i, i, i);
    write_file(s, "children.d/a.ini", text);
    free(text);
    load_host(s, HOST);
    assert_int_equal(s->errors.count, PAIRS);
    assert_int_equal(s->cfg.child_count, 2 * PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        char id[32], swallowed[32], error[160];
        snprintf(error, sizeof error,
                 "a.ini:%d: [child:c%d] args: the line ends with a backslash, which continues it "
                 "on line %d, but line %d reads as a section header (\"[child:gone%d]\")",
                 7 * i + 3, i, 7 * i + 5, 7 * i + 5, i);
        assert_error(s, error);
        snprintf(id, sizeof id, "c%d", i);
        snprintf(swallowed, sizeof swallowed, "[child:gone%d]", i);
        const struct child_spec *spec = config_find_child(&s->cfg, id);
        assert_non_null(spec);
        assert_int_equal(spec->argc, 2);
        assert_string_equal(spec->args[0], "--n");
        assert_string_equal(spec->args[1], swallowed);
        snprintf(id, sizeof id, "gone%d", i);
        assert_null(config_find_child(&s->cfg, id));
    }
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
        TEST(test_unreadable_host_file_is_reported_and_nothing_else),
        TEST(test_many_specs_keep_their_values_whatever_the_parts),
        TEST(test_bad_value_far_down_a_big_file_names_its_line),
        TEST(test_overlong_line_far_down_a_big_file_names_its_line),
        TEST(test_a_continued_line_that_swallows_a_header_reads_as_iniparser_reads_it),
        TEST(test_missing_children_dir_is_reported_against_its_key),
        TEST(test_empty_children_dir_gives_no_children_and_no_errors),
        TEST(test_only_ini_files_are_read_in_file_name_order),
        TEST(test_unreadable_child_file_is_reported_and_the_others_still_read),
        TEST(test_a_nul_byte_is_named_with_its_line_not_as_a_long_line),
        TEST(test_a_fifo_in_children_dir_is_refused_without_blocking),
        TEST(test_a_device_as_child_file_is_refused_without_reading_it),
        TEST(test_a_fifo_as_host_file_is_refused_without_blocking),
        TEST(test_a_file_over_one_mebibyte_is_refused_naming_the_limit),
        TEST(test_a_line_over_4096_bytes_is_refused_naming_its_number),
        TEST(test_a_symlink_to_a_regular_file_is_read_like_a_configmap),
        TEST(test_every_file_that_is_not_a_config_file_is_named_at_once),
        TEST(test_overlong_line_is_reported_in_iniparser_words),
        TEST(test_child_whose_plugin_is_not_loaded_is_reported),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
