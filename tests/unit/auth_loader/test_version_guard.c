/* No rollback: which versions may replace the stored ones, and reading the
 * stored version from STORE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rules.h"
#include "version_guard.h"

static void assert_allowed(long long stored, long long incoming)
{
    struct loader_error err = {{0}};
    assert_int_equal(version_guard_allows(stored, incoming, &err), 0);
}

static void assert_refused(long long stored, long long incoming, const char *message)
{
    struct loader_error err = {{0}};
    assert_int_equal(version_guard_allows(stored, incoming, &err), -1);
    assert_string_equal(err.message, message);
}

static void test_a_newer_version_replaces_the_stored_one(void **state)
{
    (void)state;
    assert_allowed(7, 8);
    assert_allowed(0, 1000000000000LL);
}

static void test_the_same_version_is_accepted(void **state)
{
    (void)state;
    assert_allowed(7, 7);
}

static void test_an_older_version_is_refused_saying_so(void **state)
{
    (void)state;
    assert_refused(7, 6, "version 6 is older than the stored version 7");
    assert_refused(1, 0, "version 0 is older than the stored version 1");
}

static void test_a_document_without_version_cannot_replace_a_versioned_one(void **state)
{
    (void)state;
    assert_refused(7, VERSION_NONE, "it has no version, older than the stored version 7");
}

static void test_without_a_stored_version_anything_goes(void **state)
{
    (void)state;
    assert_allowed(VERSION_NONE, VERSION_NONE);
    assert_allowed(VERSION_NONE, 0);
    assert_allowed(VERSION_NONE, 5);
}

static void test_a_document_reports_its_version(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    long long version = 0;
    const char *v9 = "{\"version\": 9, \"rules\": []}";
    assert_int_equal(rules_validate_document_version(v9, strlen(v9), &version, &err), 0);
    assert_int_equal(version, 9);
    const char *none = "{\"rules\": []}";
    assert_int_equal(rules_validate_document_version(none, strlen(none), &version, &err), 0);
    assert_int_equal(version, VERSION_NONE);
}

/* Writes `text` to a new temp file (or none if NULL) and reads its version. */
static int stored(const char *text, long long *version, struct loader_error *err)
{
    char path[] = "/tmp/version_guard_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    if (text != NULL)
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    if (text == NULL)
        unlink(path);
    int status = version_of_store(path, version, err);
    if (text != NULL)
        unlink(path);
    return status;
}

static void test_the_stored_version_is_read_from_the_store(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    long long version = 0;
    assert_int_equal(stored("{\"version\": 7, \"rules\": []}\n", &version, &err), 0);
    assert_int_equal(version, 7);
    assert_int_equal(stored("{\"rules\": []}\n", &version, &err), 0);
    assert_int_equal(version, VERSION_NONE);
    assert_int_equal(stored(NULL, &version, &err), 0);
    assert_int_equal(version, VERSION_NONE);
}

static void test_a_store_that_is_not_json_is_an_error_naming_it(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    long long version = 0;
    assert_int_equal(stored("{\"version\": 7, \"rul", &version, &err), -1);
    assert_non_null(strstr(err.message, "invalid JSON at line 1"));
    assert_int_equal(stored("{\"version\": \"7\"}", &version, &err), -1);
    assert_non_null(strstr(err.message, "version: expected a non-negative integer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_newer_version_replaces_the_stored_one),
        cmocka_unit_test(test_the_same_version_is_accepted),
        cmocka_unit_test(test_an_older_version_is_refused_saying_so),
        cmocka_unit_test(test_a_document_without_version_cannot_replace_a_versioned_one),
        cmocka_unit_test(test_without_a_stored_version_anything_goes),
        cmocka_unit_test(test_a_document_reports_its_version),
        cmocka_unit_test(test_the_stored_version_is_read_from_the_store),
        cmocka_unit_test(test_a_store_that_is_not_json_is_an_error_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
