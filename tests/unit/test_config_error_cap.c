/*
 * A config with a huge number of errors (a 1 MiB file of junk lines, say)
 * reports the first few of each file and of the whole, then one line
 * saying how many more there are: `check`, a reload's answer, the log
 * and the CLI stay small, and the host does not spend seconds formatting
 * messages nobody reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "config_values.h"

#include "support_config.h"

/* `lines` copies of `line` */
static char *repeated(const char *line, size_t lines)
{
    size_t length = strlen(line);
    char *text = malloc(length * lines + 1);
    assert_non_null(text);
    for (size_t i = 0; i < lines; i++)
        memcpy(text + i * length, line, length);
    text[length * lines] = '\0';
    return text;
}

static void test_an_error_list_keeps_the_first_messages_and_counts_the_rest(void **state)
{
    (void)state;
    struct error_list errors;
    error_list_init(&errors);
    for (int i = 0; i < ERROR_LIST_MAX_MESSAGES + 50; i++)
        error_list_add(&errors, "error %d", i);
    assert_int_equal(errors.count, ERROR_LIST_MAX_MESSAGES + 1);
    assert_string_equal(errors.messages[0], "error 0");
    char last[32];
    snprintf(last, sizeof last, "error %d", ERROR_LIST_MAX_MESSAGES - 1);
    assert_string_equal(errors.messages[ERROR_LIST_MAX_MESSAGES - 1], last);
    assert_string_equal(errors.messages[ERROR_LIST_MAX_MESSAGES], "... and 50 more errors (not shown)");
    assert_int_equal(error_list_total(&errors), ERROR_LIST_MAX_MESSAGES + 50);
    error_list_free(&errors);
    assert_int_equal(errors.count, 0);
}

static void test_a_file_of_junk_lines_reports_its_first_errors_and_how_many_more(void **state)
{
    struct scratch *s = *state;
    char *junk = repeated("[x\n", 10000);
    write_file(s, "children.d/bad.ini", junk);
    free(junk);
    load_host(s, HOST);
    assert_int_equal(s->status, -1);
    if (s->errors.count != CONFIG_FILE_MAX_ERRORS + 1)
        print_errors(s);
    assert_int_equal(s->errors.count, CONFIG_FILE_MAX_ERRORS + 1);
    assert_error(s, "children.d/bad.ini:1: cannot parse \"[x\"");
    char shown_last[64];
    snprintf(shown_last, sizeof shown_last, "bad.ini:%d: cannot parse", CONFIG_FILE_MAX_ERRORS);
    assert_error(s, shown_last);
    char more[128];
    snprintf(more, sizeof more, "children.d/bad.ini: ... and %d more errors in this file (not shown)",
             10000 - CONFIG_FILE_MAX_ERRORS);
    assert_error(s, more);
    assert_int_equal(error_list_total(&s->errors), 10000);
}

static void test_many_bad_files_are_capped_in_total(void **state)
{
    struct scratch *s = *state;
    char *junk = repeated("[x\n", CONFIG_FILE_MAX_ERRORS + 10);
    size_t files = ERROR_LIST_MAX_MESSAGES / CONFIG_FILE_MAX_ERRORS * 2;
    for (size_t i = 0; i < files; i++) {
        char name[64];
        snprintf(name, sizeof name, "children.d/bad%02zu.ini", i);
        write_file(s, name, junk);
    }
    free(junk);
    load_host(s, HOST);
    assert_int_equal(s->status, -1);
    assert_int_equal(s->errors.count, ERROR_LIST_MAX_MESSAGES + 1);
    assert_error(s, "children.d/bad00.ini:1: cannot parse");
    /* every error is counted: the ones shown, and the rest in the last line */
    char more[64];
    snprintf(more, sizeof more, "... and %zu more errors (not shown)",
             files * (CONFIG_FILE_MAX_ERRORS + 10) - ERROR_LIST_MAX_MESSAGES);
    assert_string_equal(s->errors.messages[ERROR_LIST_MAX_MESSAGES], more);
    assert_int_equal(error_list_total(&s->errors), files * (CONFIG_FILE_MAX_ERRORS + 10));
}

/* The quoted text of a line that cannot be parsed is cut short: a 4 KiB
 * line of junk does not make a 4 KiB message. */
static void test_a_long_junk_line_is_quoted_short(void **state)
{
    struct scratch *s = *state;
    char *junk = repeated("x", 4000);
    write_file(s, "children.d/long.ini", junk);
    free(junk);
    load_host(s, HOST);
    assert_error(s, "long.ini:1: cannot parse \"xxxx");
    assert_int_equal(s->errors.count, 1);
    assert_true(strlen(s->errors.messages[0]) < 300);
    assert_non_null(strstr(s->errors.messages[0], "...\" (4000 characters)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_an_error_list_keeps_the_first_messages_and_counts_the_rest),
        TEST(test_a_file_of_junk_lines_reports_its_first_errors_and_how_many_more),
        TEST(test_many_bad_files_are_capped_in_total),
        TEST(test_a_long_junk_line_is_quoted_short),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
