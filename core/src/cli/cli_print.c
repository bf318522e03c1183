/*
 * Human-readable answers for the client commands. Answers come from the
 * host, so every field is read defensively: a missing or ill-typed field
 * prints as "?" instead of crashing the client. Text fields carry what
 * clients, file names and workers wrote, so they are printed escaped
 * (text_escape.h): no control character reaches the terminal raw.
 */
#include "cli_print.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text_escape.h"

#define TABLE_COLUMNS 13 /* SUPERVISOR (with --all), then the 12 of one supervisor */

/* The escaped text of a string field (NULs inside it included), or
 * `fallback` when absent or not a string; malloc'd, NULL when out of
 * memory or when absent without a fallback. */
static char *text_field(const json_t *object, const char *key, const char *fallback)
{
    const json_t *value = json_object_get(object, key);
    if (!json_is_string(value))
        return fallback ? strdup(fallback) : NULL;
    size_t length = json_string_length(value);
    char *escaped = malloc(length * TEXT_ESCAPE_MAX_GROWTH + 1);
    if (escaped)
        text_escape(escaped, length * TEXT_ESCAPE_MAX_GROWTH + 1, json_string_value(value), length);
    return escaped;
}

/* Prints a text field, escaped, padded to `width` (0: as it is). */
static void print_text_field(FILE *out, int width, const json_t *object, const char *key,
                             const char *fallback)
{
    char *text = text_field(object, key, fallback);
    fprintf(out, "%-*s", width, text ? text : "?");
    free(text);
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
    fputs("error ", out);
    print_text_field(out, 0, answer, "error", "?");
    if (json_object_get(answer, "pid")) {
        char pid[32];
        number_field(answer, "pid", "-", pid, sizeof pid);
        fprintf(out, " %s", pid);
    }
    fputc('\n', out);
    char *detail = text_field(answer, "detail", NULL);
    if (detail)
        fprintf(err, "dynsup-host %s: %s\n", command_name, detail);
    free(detail);
    /* invalid_config: every error, each as `check` prints it */
    size_t index;
    const json_t *error;
    json_array_foreach(json_object_get(answer, "errors"), index, error)
        if (json_is_string(error))
            fprintf(err, "%s\n", json_string_value(error));
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
 * else in single quotes (a ' inside written as '\''); one holding control
 * characters or bytes that are not UTF-8 in bash's $'...' quoting, those
 * escaped (\n, \t, \xHH), so the terminal shows them instead of obeying them. */
static void write_shell_word(FILE *out, const char *word, size_t length)
{
    char *escaped = malloc(length * TEXT_ESCAPE_MAX_GROWTH + 1);
    if (!escaped) {
        fputc('?', out);
        return;
    }
    text_escape(escaped, length * TEXT_ESCAPE_MAX_GROWTH + 1, word, length);
    bool needs_escapes = strlen(escaped) != length || memcmp(escaped, word, length) != 0;
    if (needs_escapes) {
        /* Inside $'...', a backslash and a ' of the word itself need one. */
        fputs("$'", out);
        const char *from = word;
        for (const char *c = word; c < word + length; c++) {
            if (*c != '\\' && *c != '\'')
                continue;
            text_escape(escaped, (size_t)(c - from) * TEXT_ESCAPE_MAX_GROWTH + 1, from, (size_t)(c - from));
            fprintf(out, "%s\\%c", escaped, *c);
            from = c + 1;
        }
        text_escape(escaped, (size_t)(word + length - from) * TEXT_ESCAPE_MAX_GROWTH + 1, from,
                    (size_t)(word + length - from));
        fprintf(out, "%s'", escaped);
    } else if (*word && !strpbrk(word, " \t\n'\"\\$`*?[]{}();&|<>#~")) {
        fputs(word, out);
    } else {
        fputc('\'', out);
        for (const char *c = word; *c; c++) {
            if (*c == '\'')
                fputs("'\\''", out);
            else
                fputc(*c, out);
        }
        fputc('\'', out);
    }
    free(escaped);
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
        if (json_is_string(arg))
            write_shell_word(cell, json_string_value(arg), json_string_length(arg));
        else
            fputc('?', cell);
    }
    if (!json_is_array(args) || json_array_size(args) == 0)
        fputc('-', cell);
    fclose(cell);
    return text;
}

/* A span of milliseconds, short and without blanks: "850ms", "12.3s",
 * "5m03s", "2h05m", "3d04h". */
static void span_text(long long ms, char *buffer, size_t size)
{
    long long s = ms / 1000;
    if (ms < 1000)
        snprintf(buffer, size, "%lldms", ms < 0 ? 0 : ms);
    else if (s < 60)
        snprintf(buffer, size, "%.1fs", (double)ms / 1000.0);
    else if (s < 3600)
        snprintf(buffer, size, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buffer, size, "%lldh%02lldm", s / 3600, s / 60 % 60);
    else
        snprintf(buffer, size, "%lldd%02lldh", s / 86400, s / 3600 % 24);
}

/* now - field (since) or field - now (until), or "-" when null. */
static char *time_cell(const json_t *object, const char *key, long long now_ms, bool until)
{
    const json_t *value = json_object_get(object, key);
    if (!json_is_integer(value))
        return strdup(json_is_null(value) || !value ? "-" : "?");
    long long at = (long long)json_integer_value(value);
    char text[32];
    span_text(until ? at - now_ms : now_ms - at, text, sizeof text);
    return strdup(text);
}

/* "status=1" or "SIGKILL", and how long ago, or "-" */
static char *last_exit_cell(const json_t *child, long long now_ms)
{
    const json_t *last_exit = json_object_get(child, "last_exit");
    if (!json_is_object(last_exit))
        return strdup("-");
    char how[48], status[32], ago[32], *cell = NULL;
    char *signal = text_field(last_exit, "signal", NULL);
    number_field(last_exit, "status", "?", status, sizeof status);
    if (signal)
        snprintf(how, sizeof how, "%s", signal);
    else
        snprintf(how, sizeof how, "status=%s", status);
    free(signal);
    const json_t *at = json_object_get(last_exit, "at");
    span_text(json_is_integer(at) ? now_ms - (long long)json_integer_value(at) : 0, ago, sizeof ago);
    if (asprintf(&cell, "%s,%s_ago", how, ago) < 0)
        return NULL;
    return cell;
}

static long long unix_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Fills one row of cells (malloc'd) for a child; returns false on OOM.
 * The SUPERVISOR cell is left NULL: the caller decides whether it shows. */
static bool child_row(const json_t *child, char **cells, long long now_ms)
{
    char pid[32], key[32], restarts[32];
    number_field(child, "pid", "-", pid, sizeof pid);
    number_field(child, "key", "?", key, sizeof key);
    number_field(child, "restarts", "?", restarts, sizeof restarts);
    cells[0] = text_field(child, "supervisor", "?");
    cells[1] = strdup(key);
    cells[2] = text_field(child, "id", "?");
    cells[3] = strdup(pid);
    cells[4] = text_field(child, "state", "?");
    cells[5] = strdup(restarts);
    cells[6] = time_cell(child, "started_at", now_ms, false);
    cells[7] = last_exit_cell(child, now_ms);
    cells[8] = time_cell(child, "next_restart_at", now_ms, true);
    cells[9] = text_field(child, "plugin", "?");
    cells[10] = text_field(child, "plugin_version", "?");
    cells[11] = text_field(child, "name", "-");
    cells[12] = args_cell(json_object_get(child, "args"));
    for (int column = 0; column < TABLE_COLUMNS; column++)
        if (!cells[column])
            return false;
    return true;
}

void cli_print_children(const json_t *answer, FILE *out)
{
    static const char *const headings[TABLE_COLUMNS] = {
        "SUPERVISOR", "KEY", "ID", "PID", "STATE", "RESTARTS", "UPTIME", "LAST_EXIT",
        "RESTART_IN", "PLUGIN", "VERSION", "NAME", "ARGS"};
    const json_t *children = json_object_get(answer, "children");
    /* which-children --all tags each child with its supervisor */
    bool with_supervisor = json_is_true(json_object_get(answer, "all_supervisors"));
    int first_column = with_supervisor ? 0 : 1;
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
    long long now_ms = unix_now_ms();
    for (size_t row = 1; row < rows && complete; row++)
        complete = child_row(json_array_get(children, row - 1), cells + row * TABLE_COLUMNS, now_ms);

    size_t widths[TABLE_COLUMNS] = {0};
    for (size_t i = 0; i < rows * TABLE_COLUMNS; i++) {
        size_t length = cells[i] ? strlen(cells[i]) : 0;
        if (length > widths[i % TABLE_COLUMNS])
            widths[i % TABLE_COLUMNS] = length;
    }
    for (size_t row = 0; row < rows && complete; row++) {
        for (int column = first_column; column < TABLE_COLUMNS; column++) {
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
    number_field(object, "max_restarts", "infinity", max_restarts, sizeof max_restarts);
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
        fprintf(out, "%s ", i + 1 < count ? "|--" : "`--");
        print_text_field(out, 0, supervisor, "name", "?");
        fprintf(out, "%s: ", json_is_true(json_object_get(supervisor, "stopping")) ? " (stopping)" : "");
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
        char *name = text_field(plugin, "name", "?"), *version = text_field(plugin, "version", "?");
        int name_length = name ? (int)strlen(name) : 1;
        int version_length = version ? (int)strlen(version) : 1;
        name_width = name_length > name_width ? name_length : name_width;
        version_width = version_length > version_width ? version_length : version_width;
        free(name);
        free(version);
    }
    json_array_foreach(plugins, index, plugin) {
        print_text_field(out, name_width, plugin, "name", "?");
        fputs("  ", out);
        print_text_field(out, version_width, plugin, "version", "?");
        fputs("  ", out);
        print_text_field(out, 0, plugin, "file", "?");
        /* a generation (SPEC section 8): which one new starts use, and
         * how many workers each still has */
        const json_t *generation = json_object_get(plugin, "generation");
        if (json_is_integer(generation))
            fprintf(out, "  generation %lld, %lld workers%s",
                    (long long)json_integer_value(generation),
                    (long long)json_integer_value(json_object_get(plugin, "workers")),
                    json_is_true(json_object_get(plugin, "current")) ? " (current)" : " (retiring)");
        fputc('\n', out);
    }
}

/* As is, not escaped like other fields: the text is the host's own
 * Prometheus exposition (label values already escaped by its rules), and
 * node_exporter reads it byte for byte. */
void cli_print_metrics(const json_t *answer, FILE *out)
{
    const json_t *text = json_object_get(answer, "metrics");
    if (json_is_string(text))
        fwrite(json_string_value(text), 1, json_string_length(text), out);
}
