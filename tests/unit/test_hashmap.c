/*
 * The hash map under the supervisor's O(1) lookups: what is put is found,
 * what is removed is gone and leaves every other entry findable (removal
 * shifts probe runs back), whatever the growth and the key kind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hashmap.h"

#define KEYS 5000

static int values[KEYS];

/* A pseudo-random walk of puts and removes checked against a plain array:
 * after every step each key is present exactly when the array says so. */
static void test_number_keys_found_until_removed_through_growth(void **state)
{
    (void)state;
    struct hashmap map;
    hashmap_init(&map);
    bool present[KEYS] = {false};
    size_t expected = 0;
    uint64_t seed = 12345;
    for (int step = 0; step < 4 * KEYS; step++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t key = (size_t)(seed >> 33) % KEYS;
        if (present[key] && (seed & 3) == 0) {
            assert_ptr_equal(hashmap_remove_number(&map, key), &values[key]);
            present[key] = false;
            expected--;
        } else if (!present[key]) {
            assert_int_equal(hashmap_put_number(&map, key, &values[key]), 0);
            present[key] = true;
            expected++;
        }
        assert_int_equal(map.count, expected);
    }
    for (size_t key = 0; key < KEYS; key++)
        assert_ptr_equal(hashmap_get_number(&map, key), present[key] ? &values[key] : NULL);
    assert_null(hashmap_remove_number(&map, KEYS + 1));
    hashmap_free(&map);
}

static void test_putting_a_present_key_replaces_its_value(void **state)
{
    (void)state;
    struct hashmap map;
    hashmap_init(&map);
    assert_null(hashmap_get_number(&map, 7));
    assert_int_equal(hashmap_put_number(&map, 7, &values[0]), 0);
    assert_int_equal(hashmap_put_number(&map, 7, &values[1]), 0);
    assert_int_equal(map.count, 1);
    assert_ptr_equal(hashmap_get_number(&map, 7), &values[1]);
    hashmap_free(&map);
}

static void test_string_keys_compare_by_content(void **state)
{
    (void)state;
    static char names[KEYS][16];
    struct hashmap map;
    hashmap_init(&map);
    for (int i = 0; i < KEYS; i++) {
        snprintf(names[i], sizeof names[i], "child-%d", i);
        assert_int_equal(hashmap_put_string(&map, names[i], &values[i]), 0);
    }
    for (int i = 0; i < KEYS; i += 2)
        assert_ptr_equal(hashmap_remove_string(&map, names[i]), &values[i]);
    for (int i = 0; i < KEYS; i++) {
        char asked[16];
        snprintf(asked, sizeof asked, "child-%d", i); /* another pointer, same text */
        assert_ptr_equal(hashmap_get_string(&map, asked), i % 2 ? &values[i] : NULL);
    }
    assert_int_equal(map.count, KEYS / 2);
    hashmap_free(&map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_keys_found_until_removed_through_growth),
        cmocka_unit_test(test_putting_a_present_key_replaces_its_value),
        cmocka_unit_test(test_string_keys_compare_by_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
