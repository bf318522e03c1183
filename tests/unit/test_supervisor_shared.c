/*
 * Texts children share (supervisor_shared.c): equal texts are kept once,
 * unequal ones never mixed up, and a text lives exactly as long as one of
 * its holders does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "supervisor_shared.h"

static void test_equal_strings_are_kept_once_until_the_last_holder_releases(void **state)
{
    (void)state;
    struct shared_texts texts;
    shared_texts_init(&texts);
    char first[] = "sleeper", second[] = "sleeper";
    const char *a = share_string(&texts, first);
    const char *b = share_string(&texts, second);
    const char *other = share_string(&texts, "auth_loader");
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, first);
    assert_string_equal(a, "sleeper");
    assert_string_equal(other, "auth_loader");
    assert_int_equal(texts.strings.count, 2);
    release_string(&texts, a);
    assert_string_equal(b, "sleeper"); /* still held once */
    release_string(&texts, b);
    release_string(&texts, other);
    assert_int_equal(texts.strings.count, 0);
    shared_texts_free(&texts);
}

static void test_argument_lists_are_shared_by_content_never_by_a_join(void **state)
{
    (void)state;
    struct shared_texts texts;
    shared_texts_init(&texts);
    char *const one_word[] = {"a b"};
    char *const two_words[] = {"a", "b"};
    char *const two_again[] = {"a", "b"};
    char *const colon[] = {"1:a"};
    char *const one_letter[] = {"a"};
    char **joined = share_arguments(&texts, one_word, 1);
    char **split = share_arguments(&texts, two_words, 2);
    char **again = share_arguments(&texts, two_again, 2);
    char **tricky = share_arguments(&texts, colon, 1);
    char **plain = share_arguments(&texts, one_letter, 1);
    assert_ptr_equal(split, again);
    assert_ptr_not_equal(joined, split);
    assert_ptr_not_equal(tricky, plain);
    assert_string_equal(joined[0], "a b");
    assert_null(joined[1]);
    assert_string_equal(split[0], "a");
    assert_string_equal(split[1], "b");
    assert_null(split[2]);
    assert_string_equal(tricky[0], "1:a");
    assert_string_equal(plain[0], "a");
    assert_int_equal(texts.argument_lists.count, 4);
    release_arguments(&texts, split, 2);
    assert_string_equal(again[1], "b");
    release_arguments(&texts, again, 2);
    release_arguments(&texts, joined, 1);
    release_arguments(&texts, tricky, 1);
    release_arguments(&texts, plain, 1);
    assert_int_equal(texts.argument_lists.count, 0);
    shared_texts_free(&texts);
}

static void test_no_arguments_is_an_empty_list_that_costs_nothing(void **state)
{
    (void)state;
    struct shared_texts texts;
    shared_texts_init(&texts);
    char **none = share_arguments(&texts, NULL, 0);
    assert_non_null(none);
    assert_null(none[0]);
    assert_int_equal(texts.argument_lists.count, 0);
    release_arguments(&texts, none, 0);
    shared_texts_free(&texts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_strings_are_kept_once_until_the_last_holder_releases),
        cmocka_unit_test(test_argument_lists_are_shared_by_content_never_by_a_join),
        cmocka_unit_test(test_no_arguments_is_an_empty_list_that_costs_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
