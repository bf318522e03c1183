#include "hashmap.h"

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

/* The key a lookup asks for, with its hash computed once. */
struct probe {
    uint64_t hash;
    uint64_t number;
    const char *string; /* NULL for a number key */
};

static struct probe number_probe(uint64_t number)
{
    return (struct probe){hash_number(number), number, NULL};
}

static struct probe string_probe(const char *string)
{
    return (struct probe){hash_string(string), 0, string};
}

static uint64_t slot_hash(const struct hashmap *map, const struct hashmap_slot *slot)
{
    return map->string_keys ? hash_string(slot->key.string) : hash_number(slot->key.number);
}

static bool slot_matches(const struct hashmap_slot *slot, const struct probe *probe)
{
    return probe->string != NULL ? strcmp(slot->key.string, probe->string) == 0
                                 : slot->key.number == probe->number;
}

/* Index of the slot holding the key, or of the empty slot where it would go. */
static size_t find_slot(const struct hashmap *map, const struct probe *probe)
{
    size_t mask = map->capacity - 1;
    size_t index = (size_t)probe->hash & mask;
    while (map->slots[index].value != NULL && !slot_matches(&map->slots[index], probe))
        index = (index + 1) & mask;
    return index;
}

static int grow(struct hashmap *map)
{
    size_t capacity = map->capacity == 0 ? 16 : map->capacity * 2;
    struct hashmap_slot *slots = calloc(capacity, sizeof *slots);
    if (slots == NULL)
        return -1;
    struct hashmap_slot *old = map->slots;
    size_t old_capacity = map->capacity;
    map->slots = slots;
    map->capacity = capacity;
    size_t mask = capacity - 1;
    for (size_t i = 0; i < old_capacity; i++) {
        if (old[i].value == NULL)
            continue;
        /* Every key is distinct: the first empty slot of its run is its place. */
        size_t index = (size_t)slot_hash(map, &old[i]) & mask;
        while (slots[index].value != NULL)
            index = (index + 1) & mask;
        slots[index] = old[i];
    }
    free(old);
    return 0;
}

static int put(struct hashmap *map, const struct probe *probe, void *value)
{
    /* Keep the load under 3/4 so probe runs stay short. */
    if ((map->count + 1) * 4 > map->capacity * 3 && grow(map) != 0)
        return -1;
    map->string_keys = probe->string != NULL;
    struct hashmap_slot *slot = &map->slots[find_slot(map, probe)];
    if (slot->value == NULL)
        map->count++;
    if (probe->string != NULL)
        slot->key.string = probe->string;
    else
        slot->key.number = probe->number;
    slot->value = value;
    return 0;
}

static void *get(const struct hashmap *map, const struct probe *probe)
{
    if (map->count == 0)
        return NULL;
    return map->slots[find_slot(map, probe)].value;
}

/* Removing from a linear-probing table leaves a hole that would cut the
 * probe run of later entries; pull back every entry of the run whose home
 * slot is not between the hole and itself. */
static void *remove_key(struct hashmap *map, const struct probe *probe)
{
    if (map->count == 0)
        return NULL;
    size_t mask = map->capacity - 1;
    size_t hole = find_slot(map, probe);
    void *value = map->slots[hole].value;
    if (value == NULL)
        return NULL;
    map->slots[hole].value = NULL;
    map->count--;
    for (size_t next = (hole + 1) & mask; map->slots[next].value != NULL; next = (next + 1) & mask) {
        size_t home = (size_t)slot_hash(map, &map->slots[next]) & mask;
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
    struct probe probe = number_probe(key);
    return put(map, &probe, value);
}

void *hashmap_get_number(const struct hashmap *map, uint64_t key)
{
    struct probe probe = number_probe(key);
    return get(map, &probe);
}

void *hashmap_remove_number(struct hashmap *map, uint64_t key)
{
    struct probe probe = number_probe(key);
    return remove_key(map, &probe);
}

int hashmap_put_string(struct hashmap *map, const char *key, void *value)
{
    struct probe probe = string_probe(key);
    return put(map, &probe, value);
}

void *hashmap_get_string(const struct hashmap *map, const char *key)
{
    struct probe probe = string_probe(key);
    return get(map, &probe);
}

void *hashmap_remove_string(struct hashmap *map, const char *key)
{
    struct probe probe = string_probe(key);
    return remove_key(map, &probe);
}
