/*
 * Shared texts of the supervisor core. See supervisor_shared.h.
 *
 * A string is one block: its reference count, then its text, which is
 * also its key in the table; its holder finds the block back from the
 * text's address. An argument list is one block too: its count, its key,
 * the argv array (what holders get), then the texts. Its key encodes the
 * list without ambiguity as "<length>:<text>" per argument (a C string
 * holds no NUL, so the key is a C string too).
 */
#include "supervisor_shared.h"

#include "supervisor_actions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shared_string {
    uint32_t references;
    char text[];
};

struct shared_arguments {
    uint32_t references;
    const char *key;   /* inside this block */
    char *argv[];      /* argc + 1 pointers, then the key, then the texts */
};

/* No list to share: every child without arguments holds this one. */
static char *no_arguments[1] = {NULL};

void shared_texts_init(struct shared_texts *texts)
{
    hashmap_init(&texts->strings);
    hashmap_init(&texts->argument_lists);
}

void shared_texts_free(struct shared_texts *texts)
{
    hashmap_free(&texts->strings);
    hashmap_free(&texts->argument_lists);
}

const char *share_string(struct shared_texts *texts, const char *text)
{
    struct shared_string *shared = hashmap_get_string(&texts->strings, text);
    if (shared == NULL) {
        size_t length = strlen(text);
        shared = must_allocate(sizeof *shared + length + 1);
        memcpy(shared->text, text, length + 1);
        if (hashmap_put_string(&texts->strings, shared->text, shared) != 0)
            out_of_memory();
    }
    shared->references++;
    return shared->text;
}

void release_string(struct shared_texts *texts, const char *text)
{
    if (text == NULL)
        return;
    struct shared_string *shared =
        (struct shared_string *)(void *)((char *)text - offsetof(struct shared_string, text));
    if (--shared->references > 0)
        return;
    hashmap_remove_string(&texts->strings, shared->text);
    free(shared);
}

/* The key of argv, in a buffer the caller frees. */
static char *encode_arguments(char *const *argv, int argc, size_t *key_length)
{
    size_t length = 0;
    for (int i = 0; i < argc; i++)
        length += strlen(argv[i]) + 21; /* the length in decimal and ':' */
    char *key = must_allocate(length + 1);
    size_t used = 0;
    for (int i = 0; i < argc; i++)
        used += (size_t)snprintf(key + used, length + 1 - used, "%zu:%s", strlen(argv[i]), argv[i]);
    *key_length = used;
    return key;
}

char **share_arguments(struct shared_texts *texts, char *const *argv, int argc)
{
    if (argc <= 0)
        return no_arguments;
    size_t key_length;
    char *key = encode_arguments(argv, argc, &key_length);
    struct shared_arguments *shared = hashmap_get_string(&texts->argument_lists, key);
    if (shared == NULL) {
        size_t texts_length = 0;
        for (int i = 0; i < argc; i++)
            texts_length += strlen(argv[i]) + 1;
        size_t pointers = ((size_t)argc + 1) * sizeof(char *);
        shared = must_allocate(sizeof *shared + pointers + key_length + 1 + texts_length);
        char *place = (char *)shared->argv + pointers;
        memcpy(place, key, key_length + 1);
        shared->key = place;
        place += key_length + 1;
        for (int i = 0; i < argc; i++) {
            size_t length = strlen(argv[i]) + 1;
            memcpy(place, argv[i], length);
            shared->argv[i] = place;
            place += length;
        }
        shared->argv[argc] = NULL;
        if (hashmap_put_string(&texts->argument_lists, shared->key, shared) != 0)
            out_of_memory();
    }
    free(key);
    shared->references++;
    return shared->argv;
}

void release_arguments(struct shared_texts *texts, char **argv, int argc)
{
    if (argc <= 0 || argv == NULL)
        return;
    struct shared_arguments *shared =
        (struct shared_arguments *)(void *)((char *)argv - offsetof(struct shared_arguments, argv));
    if (--shared->references > 0)
        return;
    hashmap_remove_string(&texts->argument_lists, shared->key);
    free(shared);
}
