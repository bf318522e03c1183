/*
 * words_split: the quoting rules of a POSIX shell, and nothing else (no
 * expansion). Each case is an input and the words it must give, or the
 * error it must report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define MAX_WORDS 6

struct split_case {
    const char *input;
    int count;
    const char *words[MAX_WORDS];
};

static const struct split_case good_cases[] = {
    {"", 0, {NULL}},
    {" \t  ", 0, {NULL}},
    {"one", 1, {"one"}},
    {"a b\tc", 3, {"a", "b", "c"}},
    {"  a   b  ", 2, {"a", "b"}},
    {"--timeout-ms 5000", 2, {"--timeout-ms", "5000"}},
    {"'a b'", 1, {"a b"}},
    {"\"a b\"", 1, {"a b"}},
    {"a\"b c\"d", 1, {"ab cd"}},
    {"'x'\"y\"z", 1, {"xyz"}},
    {"''", 1, {""}},
    {"\"\"", 1, {""}},
    {"a '' b", 3, {"a", "", "b"}},
    {"'a\\b'", 1, {"a\\b"}},                  /* no escapes inside '...' */
    {"'say \"hi\"'", 1, {"say \"hi\""}},
    {"\"a\\\"b\"", 1, {"a\"b"}},              /* \" inside "..." */
    {"\"a\\\\b\"", 1, {"a\\b"}},              /* \\ inside "..." */
    {"\"a\\nb\"", 1, {"a\\nb"}},              /* any other \ stays inside "..." */
    {"\"it's\"", 1, {"it's"}},
    {"a\\ b", 1, {"a b"}},                     /* \ outside quotes escapes anything */
    {"\\'x \\\"y", 2, {"'x", "\"y"}},
    {"\\\\", 1, {"\\"}},
    {"'don'\\''t'", 1, {"don't"}},
    {"$HOME ~ *.c `id`", 4, {"$HOME", "~", "*.c", "`id`"}},
    {"--url=\"http://h/r#frag\" x;y", 2, {"--url=http://h/r#frag", "x;y"}},
    {"\"a  b\"  'c\td'", 2, {"a  b", "c\td"}},
};

static void test_words_are_split_like_a_shell_quotes_them(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good_cases / sizeof good_cases[0]; i++) {
        const struct split_case *c = &good_cases[i];
        char **words = NULL;
        int count = -1;
        const char *error = NULL;
        if (words_split(c->input, &words, &count, &error) != 0)
            fail_msg("[%s]: refused: %s", c->input, error);
        if (count != c->count)
            fail_msg("[%s]: %d words, expected %d", c->input, count, c->count);
        for (int w = 0; w < count; w++)
            if (strcmp(words[w], c->words[w]) != 0)
                fail_msg("[%s]: word %d is [%s], expected [%s]", c->input, w, words[w], c->words[w]);
        assert_null(words[count]);
        words_free(words);
    }
}

static void test_bad_quoting_is_refused_with_a_reason(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"'open", "unterminated single quote"},
        {"a 'b c", "unterminated single quote"},
        {"\"open", "unterminated double quote"},
        {"\"a\\\"", "unterminated double quote"}, /* the \" does not close */
        {"end\\", "trailing backslash"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char **words = (char **)&cases; /* must be reset */
        int count = -1;
        const char *error = NULL;
        assert_int_equal(words_split(cases[i][0], &words, &count, &error), -1);
        assert_string_equal(error, cases[i][1]);
        assert_null(words);
        assert_int_equal(count, 0);
    }
}

static void test_error_pointer_may_be_null(void **state)
{
    (void)state;
    char **words;
    int count;
    assert_int_equal(words_split("'open", &words, &count, NULL), -1);
    assert_null(words);
}

static void test_words_free_accepts_null(void **state)
{
    (void)state;
    words_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_are_split_like_a_shell_quotes_them),
        cmocka_unit_test(test_bad_quoting_is_refused_with_a_reason),
        cmocka_unit_test(test_error_pointer_may_be_null),
        cmocka_unit_test(test_words_free_accepts_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
