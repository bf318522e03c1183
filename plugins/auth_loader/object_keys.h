/*
 * The keys of the JSON objects open while a document streams by, so that
 * a key given twice in one object is caught (rules.h refuses such a
 * document: which "rules" counts would depend on the reader, and the store
 * is read by other programs).
 *
 * Objects nest; their keys are kept on one stack of bytes. An object marks
 * where its keys begin (object_keys_mark) and drops them at its end
 * (object_keys_close), so only the open objects' keys are held.
 */
#ifndef AUTH_LOADER_OBJECT_KEYS_H
#define AUTH_LOADER_OBJECT_KEYS_H

#include <stddef.h>

struct object_key;

struct object_keys {
    struct object_key *keys;
    size_t count, capacity;
    char *bytes;
    size_t bytes_used, bytes_capacity;
};

/* Where an object's keys begin: taken when the object opens. */
struct object_keys_mark {
    size_t first_key;
    size_t first_byte;
};

struct object_keys_mark object_keys_mark(const struct object_keys *keys);

/* Adds a key to the object opened at `mark`. Returns 0; -1 when the
 * object already has it (`why` says which); -2 when out of memory. Small
 * objects are checked here, large ones also at their close. */
int object_keys_add(struct object_keys *keys, struct object_keys_mark mark, const char *text,
                    size_t length, char *why, size_t why_size);

/* The object opened at `mark` ends: its last check, then its keys go.
 * Returns 0, or -1 with `why` for a duplicate. */
int object_keys_close(struct object_keys *keys, struct object_keys_mark mark, char *why,
                      size_t why_size);

void object_keys_free(struct object_keys *keys);

/* Makes room for `needed` items of item_size in *items (doubling, from 64);
 * 0, or -1 when memory ran out (*items untouched). The rules parser's
 * stack of open containers grows the same way. */
int object_keys_grow(void **items, size_t *capacity, size_t needed, size_t item_size);

#endif
