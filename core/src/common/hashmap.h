/*
 * A small open-addressing hash map (linear probing, deletion by backward
 * shift, so no tombstones pile up) keyed either by a 64-bit number or by a
 * string. The supervisor uses it to find a child by pid, by key and by
 * registered name in O(1), whatever the number of children.
 *
 * Use one kind of key per map: the *_number functions or the *_string ones.
 *
 * Ownership: a map owns its slot array only. String keys and all values
 * belong to the caller and must outlive their entry. Values are never NULL
 * (NULL is what a lookup returns for "absent").
 */
#ifndef DYNSUP_HASHMAP_H
#define DYNSUP_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hashmap_slot {
    uint64_t hash;
    uint64_t number;
    const char *string;
    void *value; /* NULL: empty slot */
};

struct hashmap {
    struct hashmap_slot *slots;
    size_t capacity; /* 0 or a power of two */
    size_t count;
};

void hashmap_init(struct hashmap *map);
void hashmap_free(struct hashmap *map);

/* Insert or replace. Returns 0, or -1 when out of memory (map unchanged). */
int hashmap_put_number(struct hashmap *map, uint64_t key, void *value);
void *hashmap_get_number(const struct hashmap *map, uint64_t key);
/* Returns the removed value, or NULL if the key was absent. */
void *hashmap_remove_number(struct hashmap *map, uint64_t key);

int hashmap_put_string(struct hashmap *map, const char *key, void *value);
void *hashmap_get_string(const struct hashmap *map, const char *key);
void *hashmap_remove_string(struct hashmap *map, const char *key);

#endif
