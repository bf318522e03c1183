/* The rules document schema of SPEC §7, and the path every refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

static long validate(const char *text, struct loader_error *err)
{
    return rules_validate_document(text, strlen(text), err);
}

static void assert_accepted_with_rules(const char *text, long expected_rules)
{
    struct loader_error err = {{0}};
    long count = validate(text, &err);
    if (count < 0)
        fail_msg("refused: %s", err.message);
    assert_int_equal(count, expected_rules);
}

static void assert_refused_saying(const char *text, const char *expected_message)
{
    struct loader_error err = {{0}};
    assert_int_equal(validate(text, &err), -1);
    assert_string_equal(err.message, expected_message);
}

static void test_the_spec_example_is_accepted_with_two_rules(void **state)
{
    (void)state;
    assert_accepted_with_rules(
        "{\"version\": 7, \"rules\": [{\"client\": \"billing\", \"service\": \"payments\"},"
        " {\"client\": \"web\", \"service\": \"catalog\", \"methods\": [\"GET\"]}]}",
        2);
}

static void test_version_is_optional(void **state)
{
    (void)state;
    assert_accepted_with_rules("{\"rules\": [{\"client\": \"a\", \"service\": \"b\"}]}", 1);
}

static void test_an_empty_rule_list_is_valid(void **state)
{
    (void)state;
    assert_accepted_with_rules("{\"version\": 0, \"rules\": []}", 0);
}

static void test_unknown_keys_are_allowed_everywhere(void **state)
{
    (void)state;
    assert_accepted_with_rules(
        "{\"rules\": [{\"client\": \"a\", \"service\": \"b\", \"comment\": {\"x\": [1, 2]},"
        " \"methods\": []}], \"generated_by\": \"auth-service 3.1\", \"extra\": null}",
        1);
}

static void test_a_document_that_is_not_an_object_is_refused(void **state)
{
    (void)state;
    assert_refused_saying("[]", "document: expected a JSON object, found an array");
    assert_refused_saying("\"rules\"", "document: expected a JSON object, found a string");
    assert_refused_saying("null", "document: expected a JSON object, found null");
}

static void test_a_syntax_error_names_line_and_column(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    assert_int_equal(validate("{\"rules\": [\n  {\"client\": \"a\",, }]}", &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON at line 2 column "));
}

static void test_an_empty_body_is_invalid_json(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    assert_int_equal(validate("", &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON at line 1 column 0:"));
}

static void test_trailing_garbage_is_invalid_json(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    assert_int_equal(validate("{\"rules\": []} x", &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON at line 1"));
}

static void test_a_duplicate_key_is_refused(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    assert_int_equal(validate("{\"rules\": [], \"rules\": [{}]}", &err), -1);
    assert_non_null(strstr(err.message, "duplicate object key"));
}

static void test_a_nul_byte_inside_the_body_is_refused(void **state)
{
    (void)state;
    static const char body[] = "{\"rules\": []}\0{\"x\": 1}";
    struct loader_error err = {{0}};
    assert_int_equal(rules_validate_document(body, sizeof body - 1, &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON"));
}

static void test_version_must_be_a_non_negative_integer(void **state)
{
    (void)state;
    assert_refused_saying("{\"version\": -1, \"rules\": []}",
                          "version: expected a non-negative integer, found a negative integer");
    assert_refused_saying("{\"version\": \"7\", \"rules\": []}",
                          "version: expected a non-negative integer, found a string");
    assert_refused_saying("{\"version\": 7.5, \"rules\": []}",
                          "version: expected a non-negative integer, found a number with a "
                          "fraction");
    assert_refused_saying("{\"version\": null, \"rules\": []}",
                          "version: expected a non-negative integer, found null");
}

static void test_missing_rules_are_refused(void **state)
{
    (void)state;
    assert_refused_saying("{\"version\": 7}",
                          "rules: missing (expected an array of rule objects)");
}

static void test_rules_that_are_not_an_array_are_refused(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": {\"client\": \"a\", \"service\": \"b\"}}",
                          "rules: expected an array of rule objects, found an object");
}

static void test_a_rule_that_is_not_an_object_is_refused_by_index(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"client\": \"a\", \"service\": \"b\"}, {\"client\":"
                          " \"c\", \"service\": \"d\"}, \"web:catalog\"]}",
                          "rules[2]: expected an object, found a string");
}

static void test_a_missing_client_is_named_by_its_path(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"service\": \"b\"}]}",
                          "rules[0].client: missing (expected a non-empty string)");
}

static void test_a_client_that_is_not_a_string_is_refused(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"client\": \"a\", \"service\": \"b\"},"
                          " {\"client\": 42, \"service\": \"b\"}]}",
                          "rules[1].client: expected a non-empty string, found an integer");
}

static void test_an_empty_service_is_refused(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"client\": \"a\", \"service\": \"b\"},"
                          " {\"client\": \"a\", \"service\": \"b\"},"
                          " {\"client\": \"a\", \"service\": \"b\"},"
                          " {\"client\": \"a\", \"service\": \"\"}]}",
                          "rules[3].service: expected a non-empty string, found an empty string");
}

static void test_a_null_service_is_refused(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"client\": \"a\", \"service\": null}]}",
                          "rules[0].service: expected a non-empty string, found null");
}

static void test_methods_must_be_an_array(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"client\": \"a\", \"service\": \"b\","
                          " \"methods\": \"GET\"}]}",
                          "rules[0].methods: expected an array of strings, found a string");
}

static void test_every_method_must_be_a_string(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"client\": \"a\", \"service\": \"b\","
                          " \"methods\": [\"GET\", true]}]}",
                          "rules[0].methods[1]: expected a string, found a boolean");
}

/* Builds `depth` nested arrays: "[[[...]]]". The caller frees. */
static char *nested_arrays(size_t depth)
{
    char *text = malloc(2 * depth + 1);
    assert_non_null(text);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    text[2 * depth] = '\0';
    return text;
}

static void test_absurdly_deep_nesting_is_refused_without_crashing(void **state)
{
    (void)state;
    char *deep = nested_arrays(200000);
    struct loader_error err = {{0}};
    assert_int_equal(validate(deep, &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON"));
    free(deep);
}

static void test_deep_but_sane_nesting_under_an_unknown_key_is_accepted(void **state)
{
    (void)state;
    char *deep = nested_arrays(500);
    size_t size = strlen(deep) + 64;
    char *text = malloc(size);
    assert_non_null(text);
    snprintf(text, size, "{\"rules\": [], \"extra\": %s}", deep);
    assert_accepted_with_rules(text, 0);
    free(text);
    free(deep);
}

static void test_random_bytes_are_refused_without_crashing(void **state)
{
    (void)state;
    unsigned int seed = 12345;
    char bytes[256];
    for (int round = 0; round < 500; round++) {
        for (size_t i = 0; i < sizeof bytes; i++) {
            seed = seed * 1103515245u + 12345u;
            bytes[i] = (char)(seed >> 16);
        }
        struct loader_error err = {{0}};
        assert_int_equal(rules_validate_document(bytes, sizeof bytes, &err), -1);
        assert_true(err.message[0] != '\0');
    }
}


/* Feeds `text` to a stream `piece` bytes at a time. */
static long validate_in_pieces(const char *text, size_t piece, long long *version,
                               struct loader_error *err)
{
    struct rules_stream *stream = rules_stream_begin();
    assert_non_null(stream);
    size_t length = strlen(text);
    for (size_t offset = 0; offset < length; offset += piece)
        rules_stream_feed(stream, text + offset, length - offset < piece ? length - offset : piece);
    return rules_stream_end(stream, version, err);
}

static void test_a_document_fed_byte_by_byte_is_judged_as_a_whole(void **state)
{
    (void)state;
    static const char *const documents[] = {
        "{\"version\": 12345, \"rules\": [{\"client\": \"billing\", \"service\": \"payments\"},"
        " {\"client\": \"web\", \"service\": \"catalog\", \"methods\": [\"GET\"]}]}",
        "{\"rules\": [{\"client\": \"a\", \"service\": \"b\"}, {\"client\": \"\\u00e9\","
        " \"service\": \"d\", \"methods\": [\"GET\", 7]}]}",
        "{\"rules\": [], \"rules\": []}",
        "{\"rules\": [{\"client\": \"a\",, }]}",
        "{\"rules\": [], \"note\": \"caf\xc3\xa9 \xf0\x9f\x98\x80 \\ud83d\\ude00\"}",
        "{\"rules\": [], \"note\": \"\xf0\x9f\x98\"}",
        "{\"rules\": [], \"note\": \"\\ud83d\\u0041\"}",
    };
    for (size_t i = 0; i < sizeof documents / sizeof documents[0]; i++) {
        struct loader_error whole_err = {{0}}, pieces_err = {{0}};
        long long whole_version = -2, pieces_version = -2;
        long whole = rules_validate_document_version(documents[i], strlen(documents[i]),
                                                     &whole_version, &whole_err);
        long pieces = validate_in_pieces(documents[i], 1, &pieces_version, &pieces_err);
        assert_int_equal(pieces, whole);
        assert_int_equal(pieces_version, whole_version);
        assert_string_equal(pieces_err.message, whole_err.message);
    }
    long long version = 0;
    struct loader_error err = {{0}};
    assert_int_equal(validate_in_pieces(documents[0], 3, &version, &err), 2);
    assert_int_equal(version, 12345);
}

static void test_a_bad_version_is_reported_before_a_bad_rule_that_comes_first(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"service\": \"b\"}], \"version\": \"7\"}",
                          "version: expected a non-negative integer, found a string");
}

static void test_a_syntax_error_is_reported_before_a_schema_fault_that_comes_first(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    assert_int_equal(validate("{\"rules\": [{\"service\": \"b\"}]} x", &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON at line 1"));
}

static void test_a_rules_client_is_reported_before_its_service_whatever_their_order(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"service\": \"\", \"client\": 1}]}",
                          "rules[0].client: expected a non-empty string, found an integer");
}

static void test_the_first_bad_rule_is_the_one_reported(void **state)
{
    (void)state;
    assert_refused_saying("{\"rules\": [{\"client\": \"a\", \"service\": \"b\"},"
                          " {\"client\": \"a\", \"service\": \"b\", \"methods\": {}},"
                          " {\"client\": \"a\"}]}",
                          "rules[1].methods: expected an array of strings, found an object");
}

static void test_a_duplicate_key_in_a_large_object_is_refused(void **state)
{
    (void)state;
    char text[2048] = "{\"rules\": [], \"extra\": {";
    for (int i = 0; i < 40; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "\"k%d\": %d, ", i, i);
    strcat(text, "\"k7\": 0}}");
    struct loader_error err = {{0}};
    assert_int_equal(validate(text, &err), -1);
    assert_non_null(strstr(err.message, "duplicate object key \"k7\""));
    /* the same keys once each: accepted */
    text[strlen(text) - strlen("\"k7\": 0}}") - 2] = '\0';
    strcat(text, "}}");
    assert_accepted_with_rules(text, 0);
}

static void test_a_nul_character_in_a_string_is_refused(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    assert_int_equal(validate("{\"rules\": [{\"client\": \"a\\u0000b\", \"service\": \"s\"}]}",
                              &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON"));
    assert_int_equal(validate("{\"rules\": [], \"x\\u0000\": 1}", &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON"));
}

/* Found by fuzz_rules: yajl reads them as whitespace, JSON (and jansson,
 * and whatever else reads the store) does not. */
static void test_a_vertical_tab_or_form_feed_between_tokens_is_invalid_json(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    assert_int_equal(validate("{\"rules\":[\v]}", &err), -1);
    assert_string_equal(err.message, "invalid JSON at line 1 column 10: a vertical tab or form "
                                     "feed is not JSON whitespace");
    assert_int_equal(validate("{\"rules\": []\n\f}", &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON at line 2 column 0:"));
    assert_int_equal(validate("{\"rules\": [], \"a\": \"x\fy\"}", &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON"));
}

/* Strict UTF-8 (RFC 3629) and \u escapes that make characters, as jansson
 * required: the store is read by other programs. */
static void test_text_that_is_not_unicode_is_invalid_json(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "\"a\xc0\x80" "b\"",         /* overlong NUL */
        "\"a\xe0\x80\x80" "b\"",     /* overlong, three bytes */
        "\"a\xed\xa0\x80" "b\"",     /* a surrogate, encoded */
        "\"a\xf4\x90\x80\x80" "b\"", /* beyond U+10FFFF */
        "\"a\xc3\"",                 /* cut short */
        "\"a\\ud800b\"",             /* a lone high surrogate */
        "\"a\\ud800\"",
        "\"a\\ud800\\n\"",
        "\"a\\ud800\\u0041\"",
        "\"a\\udc00\"",              /* a lone low surrogate */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"rules\": [], \"note\": %s}", refused[i]);
        struct loader_error err = {{0}};
        if (validate(text, &err) != -1)
            fail_msg("accepted %s", refused[i]);
        assert_non_null(strstr(err.message, "invalid JSON at line 1 column "));
    }
    assert_accepted_with_rules("{\"rules\": [], \"note\": \"caf\xc3\xa9 \xf0\x9f\x98\x80 "
                               "\\ud83d\\ude00 \\\\ud800 \\u00e9 \xef\xbf\xbf\"}", 0);
}

/* Found by fuzz_rules: yajl waits for the end of a string that starts
 * after the document, and at the end of input lets it go. */
static void test_an_unterminated_string_after_the_document_is_invalid_json(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    assert_int_equal(validate("{\"rules\":[]}\"\r", &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON at line 1"));
    assert_int_equal(validate("{\"rules\": []} \"abc", &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON at line 1"));
}

static void test_the_version_of_a_trusted_document_ignores_its_rules(void **state)
{
    (void)state;
    static const char text[] = "{\"rules\": 5, \"version\": 9}";
    long long version = -2;
    struct loader_error err = {{0}};
    struct rules_stream *stream = rules_stream_begin();
    assert_non_null(stream);
    rules_stream_feed(stream, text, strlen(text));
    assert_int_equal(rules_stream_end_version(stream, &version, &err), 0);
    assert_int_equal(version, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_spec_example_is_accepted_with_two_rules),
        cmocka_unit_test(test_version_is_optional),
        cmocka_unit_test(test_an_empty_rule_list_is_valid),
        cmocka_unit_test(test_unknown_keys_are_allowed_everywhere),
        cmocka_unit_test(test_a_document_that_is_not_an_object_is_refused),
        cmocka_unit_test(test_a_syntax_error_names_line_and_column),
        cmocka_unit_test(test_an_empty_body_is_invalid_json),
        cmocka_unit_test(test_trailing_garbage_is_invalid_json),
        cmocka_unit_test(test_a_duplicate_key_is_refused),
        cmocka_unit_test(test_a_nul_byte_inside_the_body_is_refused),
        cmocka_unit_test(test_version_must_be_a_non_negative_integer),
        cmocka_unit_test(test_missing_rules_are_refused),
        cmocka_unit_test(test_rules_that_are_not_an_array_are_refused),
        cmocka_unit_test(test_a_rule_that_is_not_an_object_is_refused_by_index),
        cmocka_unit_test(test_a_missing_client_is_named_by_its_path),
        cmocka_unit_test(test_a_client_that_is_not_a_string_is_refused),
        cmocka_unit_test(test_an_empty_service_is_refused),
        cmocka_unit_test(test_a_null_service_is_refused),
        cmocka_unit_test(test_methods_must_be_an_array),
        cmocka_unit_test(test_every_method_must_be_a_string),
        cmocka_unit_test(test_absurdly_deep_nesting_is_refused_without_crashing),
        cmocka_unit_test(test_deep_but_sane_nesting_under_an_unknown_key_is_accepted),
        cmocka_unit_test(test_random_bytes_are_refused_without_crashing),
        cmocka_unit_test(test_a_document_fed_byte_by_byte_is_judged_as_a_whole),
        cmocka_unit_test(test_a_bad_version_is_reported_before_a_bad_rule_that_comes_first),
        cmocka_unit_test(test_a_syntax_error_is_reported_before_a_schema_fault_that_comes_first),
        cmocka_unit_test(test_a_rules_client_is_reported_before_its_service_whatever_their_order),
        cmocka_unit_test(test_the_first_bad_rule_is_the_one_reported),
        cmocka_unit_test(test_a_duplicate_key_in_a_large_object_is_refused),
        cmocka_unit_test(test_a_nul_character_in_a_string_is_refused),
        cmocka_unit_test(test_the_version_of_a_trusted_document_ignores_its_rules),
        cmocka_unit_test(test_a_vertical_tab_or_form_feed_between_tokens_is_invalid_json),
        cmocka_unit_test(test_text_that_is_not_unicode_is_invalid_json),
        cmocka_unit_test(test_an_unterminated_string_after_the_document_is_invalid_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
