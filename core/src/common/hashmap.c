#include "hashmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Keys are pids and sequential child keys: mix the bits so that
 * consecutive numbers do not land in one run of neighbouring slots. */
static uint64_t hash_number(uint64_t key)
{
    key ^= key >> 33;
    key *= UINT64_C(0xff51afd7ed558ccd);
    key ^= key >> 33;
    key *= UINT64_C(0xc4ceb9fe1a85ec53);
    key ^= key >> 33;
    return key;
}

/* FNV-1a, then the same mixing for the low bits we index with. */
static uint64_t hash_string(const char *key)
{
    uint64_t hash = UINT64_C(0xcbf29ce484222325);
    for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
        hash ^= *p;
        hash *= UINT64_C(0x100000001b3);
    }
    return hash_number(hash);
}

static bool slot_matches(const struct hashmap_slot *slot, uint64_t hash, uint64_t number,
                         const char *string)
{
    if (slot->hash != hash)
        return false;
    return string != NULL ? strcmp(slot->string, string) == 0 : slot->number == number;
}

/* Index of the slot holding the key, or of the empty slot where it would go. */
static size_t find_slot(const struct hashmap *map, uint64_t hash, uint64_t number,
                        const char *string)
{
    size_t mask = map->capacity - 1;
    size_t index = (size_t)hash & mask;
    while (map->slots[index].value != NULL && !slot_matches(&map->slots[index], hash, number, string))
        index = (index + 1) & mask;
    return index;
}

static int grow(struct hashmap *map)
{
    size_t capacity = map->capacity == 0 ? 16 : map->capacity * 2;
    struct hashmap_slot *slots = calloc(capacity, sizeof *slots);
    if (slots == NULL)
        return -1;
    struct hashmap old = *map;
    map->slots = slots;
    map->capacity = capacity;
    for (size_t i = 0; i < old.capacity; i++) {
        if (old.slots[i].value == NULL)
            continue;
        size_t index = find_slot(map, old.slots[i].hash, old.slots[i].number, old.slots[i].string);
        map->slots[index] = old.slots[i];
    }
    free(old.slots);
    return 0;
}

static int put(struct hashmap *map, uint64_t hash, uint64_t number, const char *string, void *value)
{
    /* Keep the load under 3/4 so probe runs stay short. */
    if ((map->count + 1) * 4 > map->capacity * 3 && grow(map) != 0)
        return -1;
    size_t index = find_slot(map, hash, number, string);
    if (map->slots[index].value == NULL)
        map->count++;
    map->slots[index] = (struct hashmap_slot){hash, number, string, value};
    return 0;
}

static void *get(const struct hashmap *map, uint64_t hash, uint64_t number, const char *string)
{
    if (map->capacity == 0)
        return NULL;
    return map->slots[find_slot(map, hash, number, string)].value;
}

/* Removing from a linear-probing table leaves a hole that would cut the
 * probe run of later entries; pull back every entry of the run whose home
 * slot is not between the hole and itself. */
static void *remove_key(struct hashmap *map, uint64_t hash, uint64_t number, const char *string)
{
    if (map->capacity == 0)
        return NULL;
    size_t mask = map->capacity - 1;
    size_t hole = find_slot(map, hash, number, string);
    void *value = map->slots[hole].value;
    if (value == NULL)
        return NULL;
    map->slots[hole].value = NULL;
    map->count--;
    for (size_t next = (hole + 1) & mask; map->slots[next].value != NULL; next = (next + 1) & mask) {
        size_t home = (size_t)map->slots[next].hash & mask;
        bool home_after_hole = ((next - home) & mask) < ((next - hole) & mask);
        if (home_after_hole)
            continue;
        map->slots[hole] = map->slots[next];
        map->slots[next].value = NULL;
        hole = next;
    }
    return value;
}

void hashmap_init(struct hashmap *map)
{
    *map = (struct hashmap){0};
}

void hashmap_free(struct hashmap *map)
{
    free(map->slots);
    hashmap_init(map);
}

int hashmap_put_number(struct hashmap *map, uint64_t key, void *value)
{
    return put(map, hash_number(key), key, NULL, value);
}

void *hashmap_get_number(const struct hashmap *map, uint64_t key)
{
    return get(map, hash_number(key), key, NULL);
}

void *hashmap_remove_number(struct hashmap *map, uint64_t key)
{
    return remove_key(map, hash_number(key), key, NULL);
}

int hashmap_put_string(struct hashmap *map, const char *key, void *value)
{
    return put(map, hash_string(key), 0, key, value);
}

void *hashmap_get_string(const struct hashmap *map, const char *key)
{
    return get(map, hash_string(key), 0, key);
}

void *hashmap_remove_string(struct hashmap *map, const char *key)
{
    return remove_key(map, hash_string(key), 0, key);
}
