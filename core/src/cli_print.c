/*
 * Human-readable answers for the client commands. Answers come from the
 * host, so every field is read defensively: a missing or ill-typed field
 * prints as "?" instead of crashing the client.
 */
#include "cli_print.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_COLUMNS 6

static const char *text_field(const json_t *object, const char *key, const char *fallback)
{
    const char *text = json_string_value(json_object_get(object, key));
    return text ? text : fallback;
}

/* Integer field as text: "-" when null (no pid, infinity...), "?" when absent. */
static void number_field(const json_t *object, const char *key, const char *null_text,
                         char *buffer, size_t size)
{
    const json_t *value = json_object_get(object, key);
    if (json_is_integer(value))
        snprintf(buffer, size, "%lld", (long long)json_integer_value(value));
    else
        snprintf(buffer, size, "%s", json_is_null(value) ? null_text : "?");
}

void cli_print_started(const json_t *answer, FILE *out)
{
    char pid[32];
    number_field(answer, "pid", "-", pid, sizeof pid);
    fprintf(out, "ok %s\n", pid);
}

void cli_print_plain_ok(const json_t *answer, FILE *out)
{
    (void)answer;
    fprintf(out, "ok\n");
}

void cli_print_error(const json_t *answer, const char *command_name, FILE *out, FILE *err)
{
    fprintf(out, "error %s", text_field(answer, "error", "?"));
    if (json_object_get(answer, "pid")) {
        char pid[32];
        number_field(answer, "pid", "-", pid, sizeof pid);
        fprintf(out, " %s", pid);
    }
    fputc('\n', out);
    const char *detail = text_field(answer, "detail", NULL);
    if (detail)
        fprintf(err, "dynsup-host %s: %s\n", command_name, detail);
}

void cli_print_counts(const json_t *answer, FILE *out)
{
    static const char *const keys[] = {"specs", "active", "supervisors", "workers"};
    for (size_t i = 0; i < 4; i++) {
        char value[32];
        number_field(answer, keys[i], "?", value, sizeof value);
        fprintf(out, "%s%s %s", i ? " " : "", keys[i], value);
    }
    fputc('\n', out);
}

/* ---- which-children ---- */

/* An argument as a shell user would type it back: bare when it is plain,
 * else in single quotes (a ' inside written as '\''). */
static void write_shell_word(FILE *out, const char *word)
{
    if (*word && !strpbrk(word, " \t\n'\"\\$`*?[]{}();&|<>#~")) {
        fputs(word, out);
        return;
    }
    fputc('\'', out);
    for (const char *c = word; *c; c++) {
        if (*c == '\'')
            fputs("'\\''", out);
        else
            fputc(*c, out);
    }
    fputc('\'', out);
}

static char *args_cell(const json_t *args)
{
    char *text = NULL;
    size_t size = 0;
    FILE *cell = open_memstream(&text, &size);
    if (!cell)
        return NULL;
    size_t index;
    const json_t *arg;
    json_array_foreach(args, index, arg) {
        if (index > 0)
            fputc(' ', cell);
        write_shell_word(cell, json_is_string(arg) ? json_string_value(arg) : "?");
    }
    if (!json_is_array(args) || json_array_size(args) == 0)
        fputc('-', cell);
    fclose(cell);
    return text;
}

/* Fills one row of cells (malloc'd) for a child; returns false on OOM. */
static bool child_row(const json_t *child, char **cells)
{
    char pid[32];
    number_field(child, "pid", "-", pid, sizeof pid);
    cells[0] = strdup(text_field(child, "id", "?"));
    cells[1] = strdup(pid);
    cells[2] = strdup(text_field(child, "plugin", "?"));
    cells[3] = strdup(text_field(child, "name", "-"));
    cells[4] = args_cell(json_object_get(child, "args"));
    cells[5] = strdup(text_field(child, "state", "?"));
    for (int column = 0; column < TABLE_COLUMNS; column++)
        if (!cells[column])
            return false;
    return true;
}

void cli_print_children(const json_t *answer, FILE *out)
{
    static const char *const headings[TABLE_COLUMNS] = {"ID", "PID", "PLUGIN", "NAME", "ARGS",
                                                        "STATE"};
    const json_t *children = json_object_get(answer, "children");
    size_t rows = json_array_size(children) + 1;
    char **cells = calloc(rows * TABLE_COLUMNS, sizeof *cells);
    if (!cells) {
        fprintf(out, "(out of memory)\n");
        return;
    }
    bool complete = true;
    for (int column = 0; column < TABLE_COLUMNS; column++) {
        cells[column] = strdup(headings[column]);
        complete = complete && cells[column];
    }
    for (size_t row = 1; row < rows && complete; row++)
        complete = child_row(json_array_get(children, row - 1), cells + row * TABLE_COLUMNS);

    size_t widths[TABLE_COLUMNS] = {0};
    for (size_t i = 0; i < rows * TABLE_COLUMNS; i++) {
        size_t length = cells[i] ? strlen(cells[i]) : 0;
        if (length > widths[i % TABLE_COLUMNS])
            widths[i % TABLE_COLUMNS] = length;
    }
    for (size_t row = 0; row < rows && complete; row++) {
        for (int column = 0; column < TABLE_COLUMNS; column++) {
            const char *cell = cells[row * TABLE_COLUMNS + column];
            if (column == TABLE_COLUMNS - 1)
                fprintf(out, "%s\n", cell);
            else
                fprintf(out, "%-*s  ", (int)widths[column], cell);
        }
    }
    if (!complete)
        fprintf(out, "(out of memory)\n");
    for (size_t i = 0; i < rows * TABLE_COLUMNS; i++)
        free(cells[i]);
    free(cells);
}

/* ---- status ---- */

static void write_duration(FILE *out, double seconds)
{
    if (seconds < 60) {
        fprintf(out, "%.1fs", seconds);
        return;
    }
    long long whole = (long long)seconds;
    long long days = whole / 86400, hours = whole / 3600 % 24, minutes = whole / 60 % 60;
    if (days > 0)
        fprintf(out, "%lldd ", days);
    if (days > 0 || hours > 0)
        fprintf(out, "%lldh ", hours);
    fprintf(out, "%lldm %llds", minutes, whole % 60);
}

/* "restarts 1 of max 3 in 5s" */
static void write_intensity(FILE *out, const json_t *object)
{
    char restarts[32], max_restarts[32], max_seconds[32];
    number_field(object, "restarts_in_window", "?", restarts, sizeof restarts);
    number_field(object, "max_restarts", "?", max_restarts, sizeof max_restarts);
    number_field(object, "max_seconds", "?", max_seconds, sizeof max_seconds);
    fprintf(out, "restarts %s of max %s in %ss", restarts, max_restarts, max_seconds);
}

void cli_print_status(const json_t *answer, FILE *out)
{
    char pid[32];
    number_field(answer, "pid", "?", pid, sizeof pid);
    fprintf(out, "dynsup-host pid %s, up ", pid);
    write_duration(out, json_number_value(json_object_get(answer, "uptime_s")));
    fprintf(out, "\nroot: ");
    write_intensity(out, json_object_get(answer, "root"));
    fputc('\n', out);

    const json_t *supervisors = json_object_get(answer, "supervisors");
    size_t count = json_array_size(supervisors);
    if (count == 0)
        fprintf(out, "`-- (no supervisors)\n");
    for (size_t i = 0; i < count; i++) {
        const json_t *supervisor = json_array_get(supervisors, i);
        fprintf(out, "%s %s%s: ", i + 1 < count ? "|--" : "`--",
                text_field(supervisor, "name", "?"),
                json_is_true(json_object_get(supervisor, "stopping")) ? " (stopping)" : "");
        static const char *const counts[] = {"specs", "active", "workers", "supervisors"};
        for (size_t c = 0; c < 4; c++) {
            char value[32];
            number_field(supervisor, counts[c], "?", value, sizeof value);
            fprintf(out, "%s %s, ", counts[c], value);
        }
        char max_children[32], times_restarted[32];
        number_field(supervisor, "max_children", "infinity", max_children, sizeof max_children);
        number_field(supervisor, "times_restarted", "?", times_restarted, sizeof times_restarted);
        fprintf(out, "max_children %s, ", max_children);
        write_intensity(out, supervisor);
        fprintf(out, ", restarted by root %s times\n", times_restarted);
    }
}

/* ---- plugins ---- */

void cli_print_plugins(const json_t *answer, FILE *out)
{
    const json_t *plugins = json_object_get(answer, "plugins");
    int name_width = 0, version_width = 0;
    size_t index;
    const json_t *plugin;
    json_array_foreach(plugins, index, plugin) {
        int name_length = (int)strlen(text_field(plugin, "name", "?"));
        int version_length = (int)strlen(text_field(plugin, "version", "?"));
        name_width = name_length > name_width ? name_length : name_width;
        version_width = version_length > version_width ? version_length : version_width;
    }
    json_array_foreach(plugins, index, plugin) {
        fprintf(out, "%-*s  %-*s  %s\n", name_width, text_field(plugin, "name", "?"),
                version_width, text_field(plugin, "version", "?"),
                text_field(plugin, "file", "?"));
    }
}

void cli_print_metrics(const json_t *answer, FILE *out)
{
    fputs(text_field(answer, "metrics", ""), out);
}
