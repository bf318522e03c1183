/*
 * The list of errors a config load (and a reload, and a plugin load)
 * collects, so that every problem is reported at once, not the first only.
 * At most ERROR_LIST_MAX_MESSAGES of them are kept; the rest are counted,
 * and one last message says how many.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "text_escape.h"

/* "... and 18446744073709551615 more errors (not shown)" */
#define SUMMARY_SIZE 64

void error_list_init(struct error_list *errors)
{
    *errors = (struct error_list){0};
}

bool error_list_is_full(const struct error_list *errors)
{
    return errors->count >= ERROR_LIST_MAX_MESSAGES;
}

size_t error_list_total(const struct error_list *errors)
{
    return errors->total;
}

/* The room for one more message (or the summary). */
static int reserve(struct error_list *errors)
{
    if (errors->count < errors->capacity)
        return 0;
    size_t capacity = errors->capacity == 0 ? 8 : errors->capacity * 2;
    if (capacity > ERROR_LIST_MAX_MESSAGES + 1)
        capacity = ERROR_LIST_MAX_MESSAGES + 1;
    char **grown = realloc(errors->messages, capacity * sizeof *grown);
    if (grown == NULL)
        return -1;
    errors->messages = grown;
    errors->capacity = capacity;
    return 0;
}

void error_list_hide(struct error_list *errors, size_t more)
{
    if (more == 0)
        return;
    errors->total += more;
    if (errors->hidden == 0) {
        char *summary = malloc(SUMMARY_SIZE);
        if (summary == NULL || reserve(errors) != 0) {
            free(summary);
            return;
        }
        errors->messages[errors->count++] = summary;
    }
    errors->hidden += more;
    snprintf(errors->messages[errors->count - 1], SUMMARY_SIZE, "... and %zu more error%s (not shown)",
             errors->hidden, errors->hidden == 1 ? "" : "s");
}

static void __attribute__((format(printf, 3, 0)))
add(struct error_list *errors, size_t weight, const char *fmt, va_list ap)
{
    /* Before any formatting: a file of 349,000 junk lines must not cost
     * 349,000 messages written and thrown away. The summary, once
     * there, stays the last message. */
    if (error_list_is_full(errors) || errors->hidden > 0) {
        error_list_hide(errors, weight);
        return;
    }
    errors->total += weight;
    if (reserve(errors) != 0)
        return;
    char *message;
    if (vasprintf(&message, fmt, ap) < 0)
        return;
    /* A file name or a client's text in a message is printed to a
     * terminal and travels in line-based reports (the spawner's load
     * report): a newline in it would cut the message short there. */
    errors->messages[errors->count] = text_escape_string(message);
    free(message);
    if (errors->messages[errors->count] != NULL)
        errors->count++;
}

void error_list_add(struct error_list *errors, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(errors, 1, fmt, ap);
    va_end(ap);
}

void error_list_add_summary(struct error_list *errors, size_t errors_summed, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(errors, errors_summed, fmt, ap);
    va_end(ap);
}

void error_list_free(struct error_list *errors)
{
    for (size_t i = 0; i < errors->count; i++)
        free(errors->messages[i]);
    free(errors->messages);
    error_list_init(errors);
}
