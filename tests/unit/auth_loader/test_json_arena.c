/* The jansson arena of auth_loader: documents parse the same inside it,
 * allocations beyond it fall back to malloc, and jansson is back on
 * malloc after json_arena_end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_arena.h"
#include "rules.h"

static char *rules_document(int count, size_t *length)
{
    size_t capacity = 64 + (size_t)count * 80;
    char *text = malloc(capacity);
    assert_non_null(text);
    size_t used = (size_t)snprintf(text, capacity, "{\"version\": 3, \"rules\": [");
    for (int i = 0; i < count; i++)
        used += (size_t)snprintf(text + used, capacity - used,
                                 "%s{\"client\": \"c%d\", \"service\": \"s%d\", \"methods\": [\"GET\"]}",
                                 i ? "," : "", i, i);
    used += (size_t)snprintf(text + used, capacity - used, "]}");
    *length = used;
    return text;
}

static void test_document_validates_the_same_inside_the_arena(void **state)
{
    (void)state;
    size_t length;
    char *text = rules_document(5000, &length);
    struct loader_error err = {{0}};
    long outside = rules_validate_document(text, length, &err);
    assert_int_equal(json_arena_begin(length * 12), 0);
    long inside = rules_validate_document(text, length, &err);
    json_arena_end();
    assert_int_equal(outside, 5000);
    assert_int_equal(inside, 5000);
    free(text);
}

static void test_allocations_beyond_the_arena_fall_back_to_malloc(void **state)
{
    (void)state;
    size_t length;
    char *text = rules_document(20000, &length); /* a tree far larger than 2 MiB */
    struct loader_error err = {{0}};
    assert_int_equal(json_arena_begin(1), 0); /* rounded up to one 2 MiB page */
    long count = rules_validate_document(text, length, &err);
    json_arena_end();
    assert_int_equal(count, 20000);
    free(text);
}

static void test_invalid_document_is_refused_inside_the_arena_too(void **state)
{
    (void)state;
    const char *text = "{\"rules\": [{\"client\": \"\", \"service\": \"x\"}]}";
    struct loader_error err = {{0}};
    assert_int_equal(json_arena_begin(1 << 20), 0);
    long count = rules_validate_document(text, strlen(text), &err);
    json_arena_end();
    assert_int_equal(count, -1);
    assert_non_null(strstr(err.message, "rules[0].client"));
}

static void test_jansson_is_back_on_malloc_after_the_arena(void **state)
{
    (void)state;
    assert_int_equal(json_arena_begin(1 << 20), 0);
    json_arena_end();
    json_malloc_t current_malloc;
    json_free_t current_free;
    json_get_alloc_funcs(&current_malloc, &current_free);
    assert_ptr_equal(current_malloc, malloc);
    assert_ptr_equal(current_free, free);
    /* and a value made now outlives any arena */
    json_t *value = json_string("after");
    assert_non_null(value);
    json_decref(value);
}

static void test_a_second_begin_without_end_is_refused(void **state)
{
    (void)state;
    assert_int_equal(json_arena_begin(1 << 20), 0);
    assert_int_equal(json_arena_begin(1 << 20), -1);
    json_arena_end();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_validates_the_same_inside_the_arena),
        cmocka_unit_test(test_allocations_beyond_the_arena_fall_back_to_malloc),
        cmocka_unit_test(test_invalid_document_is_refused_inside_the_arena_too),
        cmocka_unit_test(test_jansson_is_back_on_malloc_after_the_arena),
        cmocka_unit_test(test_a_second_begin_without_end_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
