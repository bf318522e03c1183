/*
 * A small open-addressing hash map (linear probing, deletion by backward
 * shift, so no tombstones pile up) keyed either by a 64-bit number or by a
 * string. The supervisor uses it to find a child by pid, by key and by
 * registered name in O(1), whatever the number of children.
 *
 * Use one kind of key per map: the *_number functions or the *_string ones.
 *
 * A slot is two words, the key and the value: the host keeps three maps
 * with an entry per live child, so every byte of a slot is paid tens of
 * thousands of times (README, Benchmarks). The hash is not stored; it is
 * recomputed when a slot moves (growth, removal), which is rare next to
 * lookups, and for numbers costs a few multiplications.
 *
 * Ownership: a map owns its slot array only. String keys and all values
 * belong to the caller and must outlive their entry. Values are never NULL
 * (NULL is what a lookup returns for "absent").
 */
#ifndef DYNSUP_HASHMAP_H
#define DYNSUP_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashmap_slot {
    union {
        uint64_t number;
        const char *string;
    } key;
    void *value; /* NULL: empty slot */
};

struct hashmap {
    struct hashmap_slot *slots;
    size_t capacity; /* 0 or a power of two */
    size_t count;
    bool string_keys; /* set by the first put */
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
