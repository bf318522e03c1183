/*
 * The list of errors a config load (and a reload, and a plugin load)
 * collects, so that every problem is reported at once, not the first only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "text_escape.h"

void error_list_init(struct error_list *errors)
{
    *errors = (struct error_list){NULL, 0, 0};
}

void error_list_add(struct error_list *errors, const char *fmt, ...)
{
    if (errors->count == errors->capacity) {
        size_t capacity = errors->capacity == 0 ? 8 : errors->capacity * 2;
        char **grown = realloc(errors->messages, capacity * sizeof *grown);
        if (grown == NULL)
            return;
        errors->messages = grown;
        errors->capacity = capacity;
    }
    va_list ap;
    va_start(ap, fmt);
    char *message;
    int length = vasprintf(&message, fmt, ap);
    va_end(ap);
    if (length < 0)
        return;
    /* A file name or a client's text in a message is printed to a
     * terminal and travels in line-based reports (the spawner's load
     * report): a newline in it would cut the message short there. */
    errors->messages[errors->count] = text_escape_string(message);
    free(message);
    if (errors->messages[errors->count] != NULL)
        errors->count++;
}

void error_list_free(struct error_list *errors)
{
    for (size_t i = 0; i < errors->count; i++)
        free(errors->messages[i]);
    free(errors->messages);
    error_list_init(errors);
}
