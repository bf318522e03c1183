/*
 * words_split: the quoting half of a POSIX shell's word splitting, for
 * `args` and `extra_arguments` values. Nothing is expanded ($, ~, * stay
 * literal), because a child spec is configuration, not a script.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

struct word_list {
    char **words;
    int count;
    size_t capacity;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int word_list_append(struct word_list *list, const char *text, size_t length)
{
    if ((size_t)list->count + 2 > list->capacity) {
        size_t capacity = list->capacity == 0 ? 8 : list->capacity * 2;
        char **grown = realloc(list->words, capacity * sizeof *grown);
        if (grown == NULL)
            return -1;
        list->words = grown;
        list->capacity = capacity;
    }
    char *word = strndup(text, length);
    if (word == NULL)
        return -1;
    list->words[list->count++] = word;
    list->words[list->count] = NULL;
    return 0;
}

/* Copies the inside of a '...' or "..." starting at *in (just past the
 * opening quote) to *out; leaves *in past the closing quote. */
static const char *copy_quoted(const char **in, char **out, char quote)
{
    const char *p = *in;
    for (;;) {
        if (*p == '\0')
            return quote == '\'' ? "unterminated single quote" : "unterminated double quote";
        if (*p == quote)
            break;
        /* Inside double quotes a backslash only escapes " and \ ; before
         * anything else it is an ordinary character. */
        if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
            p++;
        *(*out)++ = *p++;
    }
    *in = p + 1;
    return NULL;
}

int words_split(const char *text, char ***words, int *count, const char **error)
{
    struct word_list list = {NULL, 0, 0};
    /* One scratch buffer holds the word being built: unquoting only ever
     * removes characters, so it can never outgrow the input. */
    char *scratch = malloc(strlen(text) + 1);
    const char *problem = scratch == NULL ? "out of memory" : NULL;
    const char *in = text;
    char *out = scratch;
    bool in_word = false; /* true even for "" so that it yields an empty word */

    while (problem == NULL) {
        char c = *in;
        if (c == '\0' || is_blank(c)) {
            if (in_word && word_list_append(&list, scratch, (size_t)(out - scratch)) != 0)
                problem = "out of memory";
            in_word = false;
            out = scratch;
            if (c == '\0')
                break;
            in++;
            continue;
        }
        in_word = true;
        if (c == '\'' || c == '"') {
            in++;
            problem = copy_quoted(&in, &out, c);
        } else if (c == '\\') {
            if (in[1] == '\0') {
                problem = "trailing backslash";
            } else {
                *out++ = in[1];
                in += 2;
            }
        } else {
            *out++ = c;
            in++;
        }
    }
    free(scratch);

    /* An empty input still gets its terminating NULL. */
    if (problem == NULL && list.words == NULL) {
        list.words = calloc(1, sizeof *list.words);
        if (list.words == NULL)
            problem = "out of memory";
    }
    if (problem != NULL) {
        words_free(list.words);
        *words = NULL;
        *count = 0;
        if (error != NULL)
            *error = problem;
        return -1;
    }
    *words = list.words;
    *count = list.count;
    return 0;
}

void words_free(char **words)
{
    if (words == NULL)
        return;
    for (char **word = words; *word != NULL; word++)
        free(*word);
    free(words);
}
