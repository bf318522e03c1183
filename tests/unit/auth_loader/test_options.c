/* auth_loader's arguments: URL STORE [--timeout-ms N] [--connect-timeout-ms N]
 * [--max-bytes N] [--public-key FILE]..., and the message of every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

#define ARGS(...) ((char *[]){__VA_ARGS__, NULL})
#define COUNT(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define PARSE(options, err, ...) options_parse(COUNT(__VA_ARGS__), ARGS(__VA_ARGS__), options, err)

static void assert_refused_saying(int argc, char **argv, const char *expected)
{
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(options_parse(argc, argv, &options, &err), -1);
    assert_string_equal(err.message, expected);
}

#define REFUSED(expected, ...) assert_refused_saying(COUNT(__VA_ARGS__), ARGS(__VA_ARGS__), expected)

static void test_url_and_store_alone_get_the_defaults(void **state)
{
    (void)state;
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(PARSE(&options, &err, "http://127.0.0.1:8080/rules", "var/rules.json"), 0);
    assert_string_equal(options.url, "http://127.0.0.1:8080/rules");
    assert_string_equal(options.store_path, "var/rules.json");
    assert_int_equal(options.timeout_ms, OPTIONS_DEFAULT_TIMEOUT_MS);
    assert_int_equal(options.connect_timeout_ms, OPTIONS_DEFAULT_CONNECT_TIMEOUT_MS);
    assert_int_equal(options.max_bytes, OPTIONS_DEFAULT_MAX_BYTES);
}

static void test_options_may_come_anywhere_in_both_spellings(void **state)
{
    (void)state;
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(PARSE(&options, &err, "--timeout-ms", "2000", "https://auth.example/rules",
                           "--max-bytes=65536", "rules.json", "--connect-timeout-ms=300"),
                     0);
    assert_string_equal(options.url, "https://auth.example/rules");
    assert_string_equal(options.store_path, "rules.json");
    assert_int_equal(options.timeout_ms, 2000);
    assert_int_equal(options.connect_timeout_ms, 300);
    assert_int_equal(options.max_bytes, 65536);
}

static void test_a_later_option_overrides_an_earlier_one(void **state)
{
    (void)state;
    /* extra_arguments, then spec args, then request args: the request wins */
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(PARSE(&options, &err, "http://h/rules", "rules.json", "--timeout-ms", "5000",
                           "--timeout-ms", "100"),
                     0);
    assert_int_equal(options.timeout_ms, 100);
}

static void test_no_arguments_ask_for_url_and_store(void **state)
{
    (void)state;
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(options_parse(0, ARGS(NULL), &options, &err), -1);
    assert_non_null(strstr(err.message, "missing URL and STORE (usage: URL STORE"));
}

static void test_a_missing_store_is_named(void **state)
{
    (void)state;
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(PARSE(&options, &err, "http://h/rules", "--timeout-ms", "10"), -1);
    assert_non_null(strstr(err.message, "missing STORE (usage:"));
}

static void test_a_third_word_is_refused(void **state)
{
    (void)state;
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(PARSE(&options, &err, "http://h/rules", "a.json", "b.json"), -1);
    assert_non_null(strstr(err.message, "unexpected argument \"b.json\""));
}

static void test_an_empty_store_is_refused(void **state)
{
    (void)state;
    REFUSED("STORE: expected a file path, got an empty word", "http://h/rules", "");
}

static void test_a_url_of_another_scheme_is_refused(void **state)
{
    (void)state;
    REFUSED("URL \"ftp://h/rules\": only http and https are allowed", "ftp://h/rules", "r.json");
    REFUSED("URL \"file:///etc/passwd\": only http and https are allowed", "file:///etc/passwd",
            "r.json");
}

static void test_a_url_without_scheme_is_refused(void **state)
{
    (void)state;
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(PARSE(&options, &err, "127.0.0.1:8080/rules", "r.json"), -1);
    assert_non_null(strstr(err.message, "URL \"127.0.0.1:8080/rules\""));
}

static void test_an_uppercase_scheme_is_accepted(void **state)
{
    (void)state;
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(PARSE(&options, &err, "HTTPS://auth.example/rules", "r.json"), 0);
}

static void test_numbers_must_be_positive_whole_numbers_in_range(void **state)
{
    (void)state;
    REFUSED("--timeout-ms: expected a whole number from 1 to 86400000, got \"abc\"",
            "http://h/", "r", "--timeout-ms", "abc");
    REFUSED("--timeout-ms: expected a whole number from 1 to 86400000, got \"0\"",
            "http://h/", "r", "--timeout-ms", "0");
    REFUSED("--connect-timeout-ms: expected a whole number from 1 to 86400000, got \"-5\"",
            "http://h/", "r", "--connect-timeout-ms=-5");
    REFUSED("--max-bytes: expected a whole number from 1 to 1073741824, got \"12k\"",
            "http://h/", "r", "--max-bytes", "12k");
    REFUSED("--max-bytes: expected a whole number from 1 to 1073741824, got \"99999999999999999999\"",
            "http://h/", "r", "--max-bytes", "99999999999999999999");
    REFUSED("--max-bytes: expected a whole number from 1 to 1073741824, got \" 5\"",
            "http://h/", "r", "--max-bytes", " 5");
}

static void test_an_option_without_its_value_is_refused(void **state)
{
    (void)state;
    REFUSED("--max-bytes: missing its value", "http://h/", "r", "--max-bytes");
}

static void test_an_unknown_option_is_refused_listing_the_known_ones(void **state)
{
    (void)state;
    REFUSED("unknown option \"--timeout\" (known: --timeout-ms, --connect-timeout-ms, "
            "--max-bytes, --public-key)",
            "http://h/", "r", "--timeout", "5");
}

static void test_every_public_key_is_kept_in_order(void **state)
{
    (void)state;
    /* Two keys at once: the fleet trusts the old and the new while rotating. */
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(PARSE(&options, &err, "http://h/", "r", "--public-key", "old.pub",
                           "--public-key=new.pub"),
                     0);
    assert_int_equal(options.public_key_count, 2);
    assert_string_equal(options.public_key_paths[0], "old.pub");
    assert_string_equal(options.public_key_paths[1], "new.pub");
}

static void test_without_a_public_key_no_signature_is_asked_for(void **state)
{
    (void)state;
    struct loader_options options;
    struct loader_error err = {{0}};
    assert_int_equal(PARSE(&options, &err, "http://h/", "r"), 0);
    assert_int_equal(options.public_key_count, 0);
}

static void test_public_key_refusals_name_the_option(void **state)
{
    (void)state;
    REFUSED("--public-key: missing its value", "http://h/", "r", "--public-key");
    REFUSED("--public-key: expected a file path, got an empty word", "http://h/", "r",
            "--public-key=");
    REFUSED("--public-key: at most 8 keys, got \"9.pub\" as one more", "http://h/", "r",
            "--public-key=1.pub", "--public-key=2.pub", "--public-key=3.pub", "--public-key=4.pub",
            "--public-key=5.pub", "--public-key=6.pub", "--public-key=7.pub", "--public-key=8.pub",
            "--public-key=9.pub");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_and_store_alone_get_the_defaults),
        cmocka_unit_test(test_options_may_come_anywhere_in_both_spellings),
        cmocka_unit_test(test_a_later_option_overrides_an_earlier_one),
        cmocka_unit_test(test_no_arguments_ask_for_url_and_store),
        cmocka_unit_test(test_a_missing_store_is_named),
        cmocka_unit_test(test_a_third_word_is_refused),
        cmocka_unit_test(test_an_empty_store_is_refused),
        cmocka_unit_test(test_a_url_of_another_scheme_is_refused),
        cmocka_unit_test(test_a_url_without_scheme_is_refused),
        cmocka_unit_test(test_an_uppercase_scheme_is_accepted),
        cmocka_unit_test(test_numbers_must_be_positive_whole_numbers_in_range),
        cmocka_unit_test(test_an_option_without_its_value_is_refused),
        cmocka_unit_test(test_an_unknown_option_is_refused_listing_the_known_ones),
        cmocka_unit_test(test_every_public_key_is_kept_in_order),
        cmocka_unit_test(test_without_a_public_key_no_signature_is_asked_for),
        cmocka_unit_test(test_public_key_refusals_name_the_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
