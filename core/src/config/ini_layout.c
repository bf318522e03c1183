/*
 * The layout scan of an INI file (declared in config_values.h): which
 * sections and keys are written, where, and whether a name is repeated or
 * malformed. It reads the raw lines (the checked copy of config_file.c)
 * and never interprets values; config_values.c reads those through
 * iniparser.
 */
#include "config_values.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan {
    const char *file;
    struct ini_layout *layout;
    struct config_problems *problems;
};

static void __attribute__((format(printf, 5, 6)))
scan_report(struct scan *scan, int line, const char *section, const char *key, const char *fmt, ...)
{
    scan->layout->problems++;
    va_list ap;
    va_start(ap, fmt);
    config_vreport(scan->problems, scan->file, line, section, key, fmt, ap);
    va_end(ap);
}

/* TYPE or TYPE:ID, each [a-z0-9_]+ */
static bool section_name_is_valid(const char *name)
{
    const char *colon = strchr(name, ':');
    if (colon == NULL)
        return config_name_is_valid(name);
    char *type = strndup(name, (size_t)(colon - name));
    bool valid = type != NULL && config_name_is_valid(type) && config_name_is_valid(colon + 1);
    free(type);
    return valid;
}

/* iniparser 4.1 takes a value that starts with a quote as quoted up to
 * the next same quote or the end of the line, whatever follows: `"a b" c`
 * reads as `a b`, and `"open` as `open`. Both would lose what the user
 * wrote without a word, so the scan names them. */
static const char *quote_problem(const char *value)
{
    char quote = value[0];
    if (quote != '"' && quote != '\'')
        return NULL;
    const char *close = strchr(value + 1, quote);
    if (value[1] == quote) /* "" or '': not a quoted value to iniparser */
        return NULL;
    if (close == NULL)
        return "the closing quote is missing (the INI reader would drop the opening one)";
    const char *rest = close + 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest != '\0' && *rest != ';' && *rest != '#')
        return "text after the closing quote would be dropped; quote the whole value, "
               "e.g. '\"a b\" c' in single quotes";
    return NULL;
}

static void scan_section(struct scan *scan, const char *name, int line, size_t offset)
{
    struct ini_layout *layout = scan->layout;
    bool usable = true;
    if (!section_name_is_valid(name)) {
        scan_report(scan, line, name, NULL,
                    "invalid section name: use lowercase letters, digits and _ "
                    "(as in [supervisor:auth_rules])");
        usable = false;
    }
    const char *colon = strchr(name, ':');
    char problem[128];
    if (usable && colon != NULL && config_id_length_problem(colon + 1, problem, sizeof problem))
        scan_report(scan, line, name, NULL, "the id is too long: %s", problem);
    /* By name, not by a walk over the sections before: a file of
     * children_dir may hold thousands. */
    uintptr_t first = (uintptr_t)hashmap_get_string(&layout->by_name, name);
    if (usable && first > 0) {
        scan_report(scan, line, name, NULL, "section given twice (first at line %d)",
                    layout->sections[first - 1].line);
        usable = false;
    }
    if (layout->count == layout->capacity) {
        size_t capacity = layout->capacity == 0 ? 8 : layout->capacity * 2;
        struct ini_section *grown = realloc(layout->sections, capacity * sizeof *grown);
        if (grown == NULL) {
            scan_report(scan, line, NULL, NULL, "out of memory");
            return;
        }
        layout->sections = grown;
        layout->capacity = capacity;
    }
    char *copy = strdup(name);
    if (copy == NULL) {
        scan_report(scan, line, NULL, NULL, "out of memory");
        return;
    }
    if (first == 0 && hashmap_put_string(&layout->by_name, copy,
                                         (void *)(uintptr_t)(layout->count + 1)) != 0) {
        free(copy);
        scan_report(scan, line, NULL, NULL, "out of memory");
        return;
    }
    layout->sections[layout->count++] =
        (struct ini_section){.name = copy, .line = line, .offset = offset, .usable = usable};
}

static void scan_key(struct scan *scan, const char *name, const char *value, int line)
{
    if (scan->layout->count == 0) {
        scan_report(scan, line, NULL, name, "key outside of any section");
        return;
    }
    struct ini_section *section = &scan->layout->sections[scan->layout->count - 1];
    if (!section->usable)
        return; /* its header was reported; its keys would only add noise */
    if (!config_name_is_valid(name)) {
        scan_report(scan, line, section->name, name,
                    "invalid key name: use lowercase letters, digits and _");
        return;
    }
    const struct ini_key *first = ini_section_key(section, name);
    if (first != NULL) {
        scan_report(scan, line, section->name, name, "key given twice (first at line %d)",
                    first->line);
        return;
    }
    if (section->key_count == section->key_capacity) {
        size_t capacity = section->key_capacity == 0 ? 8 : section->key_capacity * 2;
        struct ini_key *grown = realloc(section->keys, capacity * sizeof *grown);
        if (grown == NULL) {
            scan_report(scan, line, NULL, NULL, "out of memory");
            return;
        }
        section->keys = grown;
        section->key_capacity = capacity;
    }
    char *copy = strdup(name);
    if (copy == NULL) {
        scan_report(scan, line, NULL, NULL, "out of memory");
        return;
    }
    section->keys[section->key_count++] = (struct ini_key){copy, line, quote_problem(value)};
}

#define QUOTED_LINE_MAX 80

/* How much of a line of `length` bytes an error message quotes: all of it
 * up to QUOTED_LINE_MAX bytes, else that much without half a UTF-8
 * character. */
static size_t quoted_length(const char *text, size_t length)
{
    if (length <= QUOTED_LINE_MAX)
        return length;
    size_t cut = QUOTED_LINE_MAX;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

/* Sorts one logical line the way iniparser_line() does. */
static void scan_line(struct scan *scan, char *raw, int line, size_t offset)
{
    char *text = config_trim(raw);
    size_t length = strlen(text);
    if (length == 0 || text[0] == '#' || text[0] == ';')
        return;
    char *equals = strchr(text, '=');
    if (text[0] == '[' && text[length - 1] == ']') {
        *strchr(text, ']') = '\0';
        scan_section(scan, config_trim(text + 1), line, offset);
    } else if (equals != NULL && equals != text) {
        *equals = '\0';
        scan_key(scan, config_trim(text), config_trim(equals + 1), line);
    } else {
        scan->layout->syntax_errors++;
        /* A long line is quoted by its start: enough to find it, and the
         * message stays one line on a terminal. */
        size_t quoted = quoted_length(text, length);
        char note[48] = "";
        if (quoted < length)
            snprintf(note, sizeof note, "...\" (%zu characters)", length);
        scan_report(scan, line, NULL, NULL,
                    "cannot parse \"%.*s%s: expected [section], key = value or a comment",
                    (int)quoted, text, quoted < length ? note : "\"");
    }
}

/* What a line joined to the one before by a backslash reads as on its
 * own: "a key" (a lowercase name, then '='), "a section header" ([...]),
 * else NULL. Such a line was surely not meant as part of the value: the
 * backslash ended a path (C:\) or a comment. An environment variable
 * (A=1) is uppercase by custom, so it does not read as a key. */
static const char *joined_line_kind(const char *line, size_t length)
{
    while (length > 0 && isblank((unsigned char)*line)) {
        line++;
        length--;
    }
    if (length == 0)
        return NULL;
    if (line[0] == '[' && line[length - 1] == ']')
        return "a section header";
    size_t at = 0;
    while (at < length && ((line[at] >= 'a' && line[at] <= 'z') ||
                           (line[at] >= '0' && line[at] <= '9') || line[at] == '_'))
        at++;
    if (at == 0)
        return NULL;
    while (at < length && isblank((unsigned char)line[at]))
        at++;
    return at < length && line[at] == '=' ? "a key" : NULL;
}

/* "FILE:LINE: [SECTION] KEY: the line ends with a backslash, which
 * continues it on line N, but line N reads as a key (...)" and how to
 * write what was meant. `logical` is the continued line so far. */
static void report_joined_line(struct scan *scan, const char *logical, int first_line, int line,
                               const char *kind, const char *joined, size_t joined_length)
{
    while (isblank((unsigned char)*joined)) {
        joined++;
        joined_length--;
    }
    while (isblank((unsigned char)*logical))
        logical++;
    const struct ini_layout *layout = scan->layout;
    const char *section = layout->count > 0 ? layout->sections[layout->count - 1].name : NULL;
    bool comment = logical[0] == ';' || logical[0] == '#';
    char key[128] = "";
    const char *equals = strchr(logical, '=');
    if (!comment && logical[0] != '[' && equals != NULL) {
        size_t key_length = (size_t)(equals - logical);
        if (key_length >= sizeof key)
            key_length = sizeof key - 1;
        memcpy(key, logical, key_length);
        key[key_length] = '\0';
    }
    const char *key_name = config_trim(key);
    size_t quoted = quoted_length(joined, joined_length);
    scan_report(scan, first_line, section, *key_name != '\0' ? key_name : NULL,
                "the %s ends with a backslash, which continues it on line %d, but line %d reads "
                "as %s (\"%.*s%s\"); %s",
                comment ? "comment" : "line", line, line, kind, (int)quoted, joined,
                quoted < joined_length ? "..." : "",
                comment ? "drop the backslash, or end the comment with another character"
                        : "drop the backslash; or, if the value must end in one, end the value "
                          "in a quote (--dir 'C:\\'); or, if that line belongs to the value, "
                          "quote it");
}

void ini_layout_scan(const char *file, const char *text, size_t length, struct ini_layout *layout,
                     struct config_problems *problems)
{
    *layout = (struct ini_layout){0};
    struct scan scan = {file, layout, problems};
    char *logical = NULL;
    size_t logical_length = 0, logical_capacity = 0;
    int line = 0, first_line = 0;
    size_t first_offset = 0;
    for (size_t start = 0; start < length;) {
        const char *newline = memchr(text + start, '\n', length - start);
        size_t end = newline != NULL ? (size_t)(newline - text) : length;
        size_t got = end - start;
        line++;
        /* A NUL ends the line for the scan, as it does for iniparser. */
        const char *nul = memchr(text + start, '\0', got);
        if (nul != NULL)
            got = (size_t)(nul - (text + start));
        while (got > 0 && isspace((unsigned char)text[start + got - 1]))
            got--;
        if (logical_length + got + 1 > logical_capacity) {
            /* Doubled: a line continued thousands of times is not copied
             * thousands of times. */
            size_t capacity = 2 * logical_capacity > logical_length + got + 1
                                  ? 2 * logical_capacity
                                  : logical_length + got + 1;
            char *grown = realloc(logical, capacity);
            if (grown == NULL) {
                scan_report(&scan, line, NULL, NULL, "out of memory");
                break;
            }
            logical = grown;
            logical_capacity = capacity;
        }
        if (logical_length > 0) {
            logical[logical_length] = '\0';
            const char *kind = joined_line_kind(text + start, got);
            if (kind != NULL)
                report_joined_line(&scan, logical, first_line, line, kind, text + start, got);
        }
        memcpy(logical + logical_length, text + start, got);
        logical[logical_length + got] = '\0';
        if (logical_length == 0) {
            first_line = line;
            first_offset = start;
        }
        logical_length += got;
        start = end + 1;
        /* Like iniparser, which strips the blanks at the end of the whole
         * joined line, not only of the line just read: "x\ \" then a blank
         * line ends in a backslash again, and goes on. */
        while (logical_length > 0 && isspace((unsigned char)logical[logical_length - 1]))
            logical[--logical_length] = '\0';
        /* Like iniparser: a line ending in a backslash goes on on the next
         * one, the backslash removed (and a next line that reads as a key
         * or a header is reported above). */
        if (logical_length > 0 && logical[logical_length - 1] == '\\') {
            logical[--logical_length] = '\0';
            continue;
        }
        scan_line(&scan, logical, first_line, first_offset);
        logical_length = 0;
    }
    /* iniparser drops a continued line that nothing follows. */
    if (logical_length > 0)
        scan_report(&scan, first_line, NULL, NULL,
                    "the last line ends with a backslash (a continuation) but no line follows");
    free(logical);
}

const struct ini_key *ini_section_key(const struct ini_section *section, const char *key)
{
    for (size_t i = 0; i < section->key_count; i++)
        if (strcmp(section->keys[i].name, key) == 0)
            return &section->keys[i];
    return NULL;
}

int ini_layout_line(const struct ini_layout *layout, const char *section, const char *key)
{
    uintptr_t position = (uintptr_t)hashmap_get_string(&layout->by_name, section);
    if (position == 0)
        return 0;
    const struct ini_key *found = ini_section_key(&layout->sections[position - 1], key);
    return found != NULL ? found->line : layout->sections[position - 1].line;
}

void ini_layout_free(struct ini_layout *layout)
{
    for (size_t i = 0; i < layout->count; i++) {
        for (size_t k = 0; k < layout->sections[i].key_count; k++)
            free(layout->sections[i].keys[k].name);
        free(layout->sections[i].keys);
        free(layout->sections[i].name);
    }
    free(layout->sections);
    hashmap_free(&layout->by_name);
    *layout = (struct ini_layout){0};
}
