/*
 * How `dynsup-host reload` prints the host's answer: one line per change,
 * like a diff ("+" added, "-" removed, "~" changed), then a line saying
 * whether it was applied. Every error of a refused reload is printed by
 * cli_print_error from the answer's "errors".
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli_print.h"

static const char *text(const json_t *object, const char *key)
{
    const char *value = json_string_value(json_object_get(object, key));
    return value ? value : "?";
}

void cli_print_reload(const json_t *answer, FILE *out)
{
    const json_t *changes = json_object_get(answer, "changes");
    bool dry_run = json_is_true(json_object_get(answer, "dry_run"));
    size_t index;
    const json_t *change;
    json_array_foreach(changes, index, change) {
        const char *kind = text(change, "change");
        char mark = strcmp(kind, "added") == 0 ? '+' : strcmp(kind, "removed") == 0 ? '-' : '~';
        const char *detail = json_string_value(json_object_get(change, "detail"));
        fprintf(out, "%c %s %s%s%s\n", mark, text(change, "kind"), text(change, "id"),
                detail ? ": " : "", detail ? detail : "");
    }
    size_t count = json_array_size(changes);
    if (count == 0)
        fprintf(out, "no change\n");
    fprintf(out, "%s (%zu change%s)\n", dry_run ? "dry run: nothing applied" : "reloaded", count,
            count == 1 ? "" : "s");
}
