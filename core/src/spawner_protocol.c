/*
 * The formats of the messages between the host and its spawners (see
 * spawner.h): a SPAWN record (its header, then NUL-separated strings),
 * the load report, and how a wait status reads in the log. Both sides
 * use this file, so a format lives in one place.
 */
#include "spawner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "worker.h"

void plugin_list_free(struct plugin_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].name);
        free(list->items[i].version);
        free(list->items[i].file);
    }
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static int append_string(char *buffer, size_t capacity, size_t *used, const char *text)
{
    size_t length = strlen(text) + 1;
    if (*used + length > capacity)
        return -1;
    memcpy(buffer + *used, text, length);
    *used += length;
    return 0;
}

ssize_t spawner_encode_spawn(char *buffer, size_t capacity, uint64_t key, const char *supervisor,
                             const char *child_id, const char *name, const char *plugin,
                             char *const *argv, int argc, const struct job_settings_text *settings)
{
    struct spawn_header header = {.type = SPAWNER_SPAWN, .argc = (uint32_t)argc, .key = key,
                                  .setting_count = settings ? settings->count : 0};
    if (capacity < sizeof header)
        return -1;
    memcpy(buffer, &header, sizeof header);
    size_t used = sizeof header;
    if (append_string(buffer, capacity, &used, supervisor) < 0 ||
        append_string(buffer, capacity, &used, child_id) < 0 ||
        append_string(buffer, capacity, &used, name ? name : "") < 0 ||
        append_string(buffer, capacity, &used, plugin) < 0)
        return -1;
    for (int i = 0; i < argc; i++)
        if (append_string(buffer, capacity, &used, argv[i]) < 0)
            return -1;
    if (settings && settings->length > 0) {
        if (used + settings->length > capacity)
            return -1;
        memcpy(buffer + used, settings->data, settings->length);
        used += settings->length;
    }
    return (ssize_t)used;
}

/* Unpacks a SPAWN record in place: the NUL-separated strings stay where
 * they are and job points into them. Returns the plugin's name, or NULL if
 * the record is malformed. */
const char *spawner_decode_spawn(char *record, size_t length, struct worker_job *job, char **argv,
                                 size_t argv_capacity, uint64_t *key)
{
    struct spawn_header header;
    if (length < sizeof header)
        return NULL;
    memcpy(&header, record, sizeof header);
    *key = header.key;
    enum { FIXED_STRINGS = 4 };
    char *strings[FIXED_STRINGS];
    char *cursor = record + sizeof header, *end = record + length;
    /* argv[]: the arguments, NULL, the settings, NULL */
    if (header.argc >= argv_capacity || header.setting_count >= argv_capacity - header.argc - 1)
        return NULL;
    uint32_t total = FIXED_STRINGS + header.argc + header.setting_count;
    for (uint32_t i = 0; i < total; i++) {
        char *terminator = cursor < end ? memchr(cursor, '\0', (size_t)(end - cursor)) : NULL;
        if (!terminator)
            return NULL;
        if (i < FIXED_STRINGS)
            strings[i] = cursor;
        else if (i < FIXED_STRINGS + header.argc)
            argv[i - FIXED_STRINGS] = cursor;
        else
            argv[i - FIXED_STRINGS + 1] = cursor;
        cursor = terminator + 1;
    }
    argv[header.argc] = NULL;
    argv[header.argc + 1 + header.setting_count] = NULL;
    *job = (struct worker_job){
        .supervisor = strings[0],
        .child_id = strings[1],
        .name = strings[2][0] ? strings[2] : NULL,
        .argv = argv,
        .argc = (int)header.argc,
        .settings = argv + header.argc + 1,
        .setting_count = (int)header.setting_count,
    };
    return strings[3];
}

int spawner_parse_load_report(char *text, size_t length, struct plugin_list *plugins,
                              struct error_list *errors)
{
    int failed = 0;
    text[length] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "error\t", 6) == 0) {
            error_list_add(errors, "%s", line + 6);
            failed = 1;
            continue;
        }
        char *fields[4] = {0};
        char *field_save = NULL;
        int count = 0;
        for (char *field = strtok_r(line, "\t", &field_save); field && count < 4;
             field = strtok_r(NULL, "\t", &field_save))
            fields[count++] = field;
        if (count != 4 || strcmp(fields[0], "plugin") != 0)
            continue;
        struct plugin_entry *grown =
            realloc(plugins->items, (plugins->count + 1) * sizeof *plugins->items);
        if (!grown)
            return -1;
        plugins->items = grown;
        plugins->items[plugins->count++] = (struct plugin_entry){
            .name = strdup(fields[1]), .version = strdup(fields[2]), .file = strdup(fields[3])};
    }
    return failed ? -1 : 0;
}

void describe_wait_status(int wait_status, char *text, size_t size)
{
    if (WIFSIGNALED(wait_status))
        snprintf(text, size, "killed by signal %d (%s)", WTERMSIG(wait_status),
                 strsignal(WTERMSIG(wait_status)));
    else
        snprintf(text, size, "exit status %d", WEXITSTATUS(wait_status));
}

