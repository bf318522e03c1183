#include "object_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Up to this many keys an object's keys are compared as they come (the
 * error then points at the duplicate); beyond it the rest are found by
 * sorting them all at the object's end: O(k log k), not O(k^2), for an
 * object of a million keys. */
#define KEYS_COMPARED_ON_ARRIVAL 16
#define QUOTED_KEY_MAX 64

struct object_key {
    size_t offset; /* in keys->bytes */
    size_t length;
};

int object_keys_grow(void **items, size_t *capacity, size_t needed, size_t item_size)
{
    if (needed <= *capacity)
        return 0;
    size_t capacity_wanted = *capacity ? *capacity : 64;
    while (capacity_wanted < needed)
        capacity_wanted *= 2;
    void *grown = realloc(*items, capacity_wanted * item_size);
    if (grown == NULL)
        return -1;
    *items = grown;
    *capacity = capacity_wanted;
    return 0;
}

struct object_keys_mark object_keys_mark(const struct object_keys *keys)
{
    return (struct object_keys_mark){.first_key = keys->count, .first_byte = keys->bytes_used};
}

static void say_duplicate(const struct object_keys *keys, const struct object_key *key, char *why,
                          size_t why_size)
{
    int shown = key->length > QUOTED_KEY_MAX ? QUOTED_KEY_MAX : (int)key->length;
    snprintf(why, why_size, "duplicate object key \"%.*s\"%s", shown, keys->bytes + key->offset,
             key->length > QUOTED_KEY_MAX ? "..." : "");
}

int object_keys_add(struct object_keys *keys, struct object_keys_mark mark, const char *text,
                    size_t length, char *why, size_t why_size)
{
    if (keys->count - mark.first_key < KEYS_COMPARED_ON_ARRIVAL) {
        for (size_t i = mark.first_key; i < keys->count; i++) {
            const struct object_key *key = &keys->keys[i];
            if (key->length == length && memcmp(keys->bytes + key->offset, text, length) == 0) {
                say_duplicate(keys, key, why, why_size);
                return -1;
            }
        }
    }
    if (object_keys_grow((void **)&keys->keys, &keys->capacity, keys->count + 1, sizeof *keys->keys) != 0 ||
        object_keys_grow((void **)&keys->bytes, &keys->bytes_capacity, keys->bytes_used + length + 1, 1) != 0)
        return -2;
    memcpy(keys->bytes + keys->bytes_used, text, length);
    keys->keys[keys->count++] = (struct object_key){.offset = keys->bytes_used, .length = length};
    keys->bytes_used += length;
    return 0;
}

static int compare_keys(const void *a, const void *b, void *all_keys)
{
    const struct object_key *left = a, *right = b;
    const char *bytes = ((const struct object_keys *)all_keys)->bytes;
    size_t common = left->length < right->length ? left->length : right->length;
    int order = memcmp(bytes + left->offset, bytes + right->offset, common);
    if (order != 0)
        return order;
    return (left->length > right->length) - (left->length < right->length);
}

int object_keys_close(struct object_keys *keys, struct object_keys_mark mark, char *why,
                      size_t why_size)
{
    size_t count = keys->count - mark.first_key;
    int status = 0;
    if (count > KEYS_COMPARED_ON_ARRIVAL) {
        struct object_key *own = keys->keys + mark.first_key;
        qsort_r(own, count, sizeof *own, compare_keys, keys);
        for (size_t i = 1; i < count && status == 0; i++) {
            if (compare_keys(&own[i - 1], &own[i], keys) == 0) {
                say_duplicate(keys, &own[i], why, why_size);
                status = -1;
            }
        }
    }
    /* This object's keys are the last ones held (inner objects dropped
     * theirs at their end). */
    keys->count = mark.first_key;
    keys->bytes_used = mark.first_byte;
    return status;
}

void object_keys_free(struct object_keys *keys)
{
    free(keys->keys);
    free(keys->bytes);
    *keys = (struct object_keys){0};
}
