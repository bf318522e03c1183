/*
 * How many errors each file of a config load gets to show (declared in
 * config_values.h). A file of junk lines would otherwise bury every other
 * file's errors (and the host, the socket and the terminal) under
 * hundreds of thousands of messages: each file shows its first
 * CONFIG_FILE_MAX_ERRORS, and the end of the load says how many more it
 * had.
 */
#include "config_values.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void config_problems_init(struct config_problems *problems, struct error_list *errors)
{
    *problems = (struct config_problems){.errors = errors};
    hashmap_init(&problems->files_by_name);
}

/* The tally of `file`, added if new; NULL when out of memory. */
static struct config_file_tally *tally_of(struct config_problems *problems, const char *file)
{
    /* Most reports in a row are about the same file: no hashing then. */
    if (problems->file_count > 0 &&
        strcmp(problems->files[problems->file_count - 1].file, file) == 0)
        return &problems->files[problems->file_count - 1];
    uintptr_t position = (uintptr_t)hashmap_get_string(&problems->files_by_name, file);
    if (position > 0)
        return &problems->files[position - 1];
    if (problems->file_count == problems->file_capacity) {
        size_t capacity = problems->file_capacity == 0 ? 8 : problems->file_capacity * 2;
        struct config_file_tally *grown = realloc(problems->files, capacity * sizeof *grown);
        if (grown == NULL)
            return NULL;
        problems->files = grown;
        problems->file_capacity = capacity;
    }
    char *copy = strdup(file);
    if (copy == NULL)
        return NULL;
    /* The map's keys are the tallies' names, which move with the array
     * but not in memory (each is its own allocation). */
    if (hashmap_put_string(&problems->files_by_name, copy,
                           (void *)(uintptr_t)(problems->file_count + 1)) != 0) {
        free(copy);
        return NULL;
    }
    problems->files[problems->file_count] = (struct config_file_tally){.file = copy};
    return &problems->files[problems->file_count++];
}

bool config_problems_admit(struct config_problems *problems, const char *file)
{
    problems->count++;
    if (file == NULL)
        return true;
    struct config_file_tally *tally = tally_of(problems, file);
    if (tally == NULL)
        return true; /* out of memory: the list's own cap still holds */
    if (tally->shown < CONFIG_FILE_MAX_ERRORS) {
        tally->shown++;
        return true;
    }
    tally->hidden++;
    return false;
}

void config_problems_finish(struct config_problems *problems)
{
    for (size_t i = 0; i < problems->file_count; i++) {
        const struct config_file_tally *tally = &problems->files[i];
        if (tally->hidden == 0)
            continue;
        error_list_add_summary(problems->errors, tally->hidden,
                               "%s: ... and %zu more error%s in this file (not shown)",
                               tally->file, tally->hidden, tally->hidden == 1 ? "" : "s");
    }
    for (size_t i = 0; i < problems->file_count; i++)
        free(problems->files[i].file);
    free(problems->files);
    hashmap_free(&problems->files_by_name);
    struct error_list *errors = problems->errors;
    size_t count = problems->count;
    *problems = (struct config_problems){.errors = errors, .count = count};
}
