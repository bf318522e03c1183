/*
 * Escaping untrusted text (text_escape.h): control characters become
 * escapes, what follows a NUL is kept, printable text and UTF-8 pass as
 * they are, and a short buffer never holds half an escape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text_escape.h"

/* The length of a literal, NULs inside it included. */
#define LITERAL(text) text, sizeof text - 1

static void assert_escapes_to(const char *text, size_t length, const char *expected)
{
    char out[256];
    size_t written = text_escape(out, sizeof out, text, length);
    assert_string_equal(out, expected);
    assert_int_equal(written, strlen(expected));
}

static void test_printable_text_passes_unchanged(void **state)
{
    (void)state;
    assert_escapes_to(LITERAL("plain text, 100% (ok) ~ \\ \""), "plain text, 100% (ok) ~ \\ \"");
    assert_escapes_to(LITERAL(""), "");
}

static void test_newline_tab_and_return_read_as_their_c_escapes(void **state)
{
    (void)state;
    assert_escapes_to(LITERAL("a\nb\tc\rd"), "a\\nb\\tc\\rd");
}

static void test_a_nul_is_escaped_and_what_follows_it_is_kept(void **state)
{
    (void)state;
    assert_escapes_to(LITERAL("before\0after"), "before\\x00after");
}

static void test_terminal_escapes_and_other_controls_become_hex(void **state)
{
    (void)state;
    assert_escapes_to(LITERAL("\x1b[31mred\x07\x7f"), "\\x1b[31mred\\x07\\x7f");
}

static void test_utf8_passes_but_c1_controls_and_broken_bytes_are_escaped(void **state)
{
    (void)state;
    assert_escapes_to(LITERAL("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    /* U+009B is CSI, a control sequence introducer on 8-bit terminals */
    assert_escapes_to(LITERAL("\xc2\x9b" "2J"), "\\xc2\\x9b2J");
    /* a lone continuation byte, an overlong '/', a surrogate, a cut character */
    assert_escapes_to(LITERAL("\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82"),
                      "\\x80|\\xc0\\xaf|\\xed\\xa0\\x80|\\xe2\\x82");
}

static void test_escaping_twice_reads_the_same_as_once(void **state)
{
    (void)state;
    char *once = text_escape_string("a\nb\x1b\\x");
    assert_non_null(once);
    char *twice = text_escape_string(once);
    assert_non_null(twice);
    assert_string_equal(once, "a\\nb\\x1b\\x");
    assert_string_equal(twice, once);
    free(once);
    free(twice);
}

static void test_a_short_buffer_never_holds_half_an_escape(void **state)
{
    (void)state;
    char out[6];
    assert_int_equal(text_escape(out, sizeof out, "abcd\n", 5), 4);
    assert_string_equal(out, "abcd");
    assert_int_equal(text_escape(out, sizeof out, "ab\x01", 3), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(text_escape(out, sizeof out, "abc\xe2\x82\xac", 6), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(text_escape(out, 1, "abc", 3), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable_text_passes_unchanged),
        cmocka_unit_test(test_newline_tab_and_return_read_as_their_c_escapes),
        cmocka_unit_test(test_a_nul_is_escaped_and_what_follows_it_is_kept),
        cmocka_unit_test(test_terminal_escapes_and_other_controls_become_hex),
        cmocka_unit_test(test_utf8_passes_but_c1_controls_and_broken_bytes_are_escaped),
        cmocka_unit_test(test_escaping_twice_reads_the_same_as_once),
        cmocka_unit_test(test_a_short_buffer_never_holds_half_an_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
