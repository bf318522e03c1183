/*
 * The control protocol, incoming side: request lines -> struct request,
 * with jansson. Building replies and requests is protocol_format.c.
 *
 * Parsing is strict on purpose: a request is checked against a small table
 * (which fields each cmd allows and requires), so a typo in a client shows
 * up as a bad_request naming the field instead of being silently ignored.
 */
#include "protocol.h"

#include "config.h" /* CONFIG_ID_MAX */

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROTOCOL_MAX_ID 64      /* supervisor/child/name/event ids */
_Static_assert(PROTOCOL_MAX_ID == CONFIG_ID_MAX, "check refuses the ids the socket refuses");
#define PROTOCOL_MAX_ARG 4096   /* bytes in one request arg */
#define PROTOCOL_MAX_ARGS 256   /* args in one request */

/* ---- parsing ---- */

enum request_field {
    FIELD_SUPERVISOR = 1 << 0,
    FIELD_CHILD = 1 << 1,
    FIELD_NAME = 1 << 2,
    FIELD_ARGS = 1 << 3,
    FIELD_PID = 1 << 4,
    FIELD_EVENT = 1 << 5,
    FIELD_KEY = 1 << 6,
    FIELD_DRY_RUN = 1 << 7,
};

static const struct {
    enum request_field field;
    const char *key;
} field_keys[] = {
    {FIELD_SUPERVISOR, "supervisor"}, {FIELD_CHILD, "child"}, {FIELD_NAME, "name"},
    {FIELD_ARGS, "args"},             {FIELD_PID, "pid"},     {FIELD_EVENT, "event"},
    {FIELD_KEY, "key"},
    {FIELD_DRY_RUN, "dry_run"},
};

/* What each cmd accepts (SPEC section 5). "cmd" itself is always allowed. */
static const struct {
    const char *name;
    enum request_cmd cmd;
    unsigned required;
    unsigned optional;
} command_rules[] = {
    {"start_child", CMD_START_CHILD, FIELD_SUPERVISOR | FIELD_CHILD, FIELD_NAME | FIELD_ARGS},
    /* exactly one of pid, name, key: checked after the table */
    {"terminate_child", CMD_TERMINATE_CHILD, FIELD_SUPERVISOR, FIELD_PID | FIELD_NAME | FIELD_KEY},
    {"which_children", CMD_WHICH_CHILDREN, FIELD_SUPERVISOR, 0},
    {"count_children", CMD_COUNT_CHILDREN, FIELD_SUPERVISOR, 0},
    {"emit", CMD_EMIT, FIELD_EVENT, 0},
    {"status", CMD_STATUS, 0, 0},
    {"plugins", CMD_PLUGINS, 0, 0},
    {"stop", CMD_STOP, 0, 0},
    {"reload", CMD_RELOAD, 0, FIELD_DRY_RUN},
    {"metrics", CMD_METRICS, 0, 0},
};

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

__attribute__((format(printf, 3, 4))) static int fail(char *detail, size_t detail_size,
                                                      const char *fmt, ...)
{
    if (detail && detail_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, detail_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

bool protocol_id_is_valid(const char *text)
{
    size_t length = strlen(text);
    if (length == 0 || length > PROTOCOL_MAX_ID)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* A string value without NUL (we decode with JSON_ALLOW_NUL only to be able
 * to say so clearly). `what` names it in the message: field "x" or args[i]. */
static int take_string(const json_t *value, const char *what, char **out, char *detail,
                       size_t detail_size)
{
    if (!json_is_string(value))
        return fail(detail, detail_size, "%s must be a string", what);
    const char *text = json_string_value(value);
    size_t length = json_string_length(value);
    if (memchr(text, '\0', length))
        return fail(detail, detail_size, "%s must not contain a NUL character", what);
    *out = strdup(text);
    if (!*out)
        return fail(detail, detail_size, "out of memory");
    return 0;
}

static int take_id(const json_t *value, const char *key, char **out, char *detail,
                   size_t detail_size)
{
    char what[32];
    snprintf(what, sizeof what, "field \"%s\"", key);
    if (take_string(value, what, out, detail, detail_size) < 0)
        return -1;
    if (!protocol_id_is_valid(*out)) {
        free(*out);
        *out = NULL;
        return fail(detail, detail_size, "field \"%s\" must be 1 to %d characters of [a-z0-9_]",
                    key, PROTOCOL_MAX_ID);
    }
    return 0;
}

static int take_args(const json_t *value, struct request *request, char *detail,
                     size_t detail_size)
{
    if (!json_is_array(value))
        return fail(detail, detail_size, "field \"args\" must be an array of strings");
    size_t count = json_array_size(value);
    if (count > PROTOCOL_MAX_ARGS)
        return fail(detail, detail_size, "field \"args\" has %zu items, at most %d are allowed",
                    count, PROTOCOL_MAX_ARGS);
    request->args = calloc(count + 1, sizeof *request->args);
    if (!request->args)
        return fail(detail, detail_size, "out of memory");
    for (size_t i = 0; i < count; i++) {
        char what[32];
        snprintf(what, sizeof what, "args[%zu]", i);
        if (take_string(json_array_get(value, i), what, &request->args[i], detail, detail_size) < 0)
            return -1;
        request->argc = (int)i + 1;
        if (strlen(request->args[i]) > PROTOCOL_MAX_ARG)
            return fail(detail, detail_size, "args[%zu] is longer than %d bytes", i,
                        PROTOCOL_MAX_ARG);
    }
    return 0;
}

static int take_pid(const json_t *value, pid_t *out, char *detail, size_t detail_size)
{
    if (!json_is_integer(value) || json_integer_value(value) <= 0)
        return fail(detail, detail_size, "field \"pid\" must be a positive integer");
    json_int_t pid = json_integer_value(value);
    /* pid_t is a signed int on every platform we target. */
    if (pid > INT_MAX)
        return fail(detail, detail_size, "field \"pid\" is out of range (at most %d)", INT_MAX);
    *out = (pid_t)pid;
    return 0;
}

/* Child keys are positive and fit in 53 bits: every JSON reader keeps
 * them exact. */
static int take_key(const json_t *value, uint64_t *out, char *detail, size_t detail_size)
{
    if (!json_is_integer(value) || json_integer_value(value) <= 0)
        return fail(detail, detail_size, "field \"key\" must be a positive integer");
    *out = (uint64_t)json_integer_value(value);
    return 0;
}

static int take_field(enum request_field field, const json_t *value, struct request *request,
                      char *detail, size_t detail_size)
{
    switch (field) {
    case FIELD_SUPERVISOR:
        return take_id(value, "supervisor", &request->supervisor, detail, detail_size);
    case FIELD_CHILD:
        return take_id(value, "child", &request->child, detail, detail_size);
    case FIELD_NAME:
        return take_id(value, "name", &request->name, detail, detail_size);
    case FIELD_EVENT:
        return take_id(value, "event", &request->event, detail, detail_size);
    case FIELD_ARGS:
        return take_args(value, request, detail, detail_size);
    case FIELD_PID:
        return take_pid(value, &request->pid, detail, detail_size);
    case FIELD_DRY_RUN:
        if (!json_is_boolean(value))
            return fail(detail, detail_size, "field \"dry_run\" must be true or false");
        request->dry_run = json_is_true(value);
        return 0;
    case FIELD_KEY:
        return take_key(value, &request->key, detail, detail_size);
    }
    return fail(detail, detail_size, "internal error: unhandled field");
}

/* The first key of `object` that `cmd_index` does not allow, or NULL.
 * Key lengths are compared too (jansson refuses NUL in keys today; this
 * keeps a key like "cmd\u0000x" from ever passing for "cmd"). */
static const char *first_unknown_key(const json_t *object, size_t cmd_index)
{
    unsigned allowed = command_rules[cmd_index].required | command_rules[cmd_index].optional;
    const char *key;
    size_t key_length;
    const json_t *value;
    json_object_keylen_foreach((json_t *)object, key, key_length, value) {
        bool known = key_length == strlen(key) && strcmp(key, "cmd") == 0;
        for (size_t i = 0; !known && i < COUNT_OF(field_keys); i++)
            known = (allowed & field_keys[i].field) && key_length == strlen(key) &&
                    strcmp(key, field_keys[i].key) == 0;
        if (!known)
            return key;
    }
    return NULL;
}

static int parse_object(const json_t *object, struct request *request, char *detail,
                        size_t detail_size)
{
    if (!json_is_object(object))
        return fail(detail, detail_size, "request must be a JSON object");
    const json_t *cmd = json_object_get(object, "cmd");
    if (!cmd)
        return fail(detail, detail_size, "field \"cmd\" is required");
    if (!json_is_string(cmd))
        return fail(detail, detail_size, "field \"cmd\" must be a string");
    if (memchr(json_string_value(cmd), '\0', json_string_length(cmd)))
        return fail(detail, detail_size, "field \"cmd\" must not contain a NUL character");

    size_t cmd_index = COUNT_OF(command_rules);
    for (size_t i = 0; i < COUNT_OF(command_rules); i++)
        if (strcmp(json_string_value(cmd), command_rules[i].name) == 0)
            cmd_index = i;
    if (cmd_index == COUNT_OF(command_rules))
        return fail(detail, detail_size, "unknown cmd \"%.64s\"", json_string_value(cmd));
    request->cmd = command_rules[cmd_index].cmd;

    const char *unknown = first_unknown_key(object, cmd_index);
    if (unknown)
        return fail(detail, detail_size, "unknown field \"%.64s\" for cmd \"%s\"", unknown,
                    command_rules[cmd_index].name);

    for (size_t i = 0; i < COUNT_OF(field_keys); i++) {
        const json_t *value = json_object_get(object, field_keys[i].key);
        if (!value) {
            if (command_rules[cmd_index].required & field_keys[i].field)
                return fail(detail, detail_size, "field \"%s\" is required for cmd \"%s\"",
                            field_keys[i].key, command_rules[cmd_index].name);
            continue;
        }
        if (take_field(field_keys[i].field, value, request, detail, detail_size) < 0)
            return -1;
    }
    if (request->cmd == CMD_TERMINATE_CHILD) {
        int given = (request->pid > 0) + (request->name != NULL) + (request->key > 0);
        if (given != 1)
            return fail(detail, detail_size, "terminate_child takes exactly one of \"pid\", "
                        "\"name\" or \"key\" (%d given)", given);
    }
    if (request->cmd == CMD_START_CHILD && !request->args) {
        /* args is optional on the wire but always an array for the caller. */
        request->args = calloc(1, sizeof *request->args);
        if (!request->args)
            return fail(detail, detail_size, "out of memory");
    }
    return 0;
}

int protocol_parse_request(const char *line, size_t length, struct request *request,
                           char *detail, size_t detail_size)
{
    memset(request, 0, sizeof *request);
    if (length > PROTOCOL_MAX_LINE)
        return fail(detail, detail_size, "request is longer than %d bytes", PROTOCOL_MAX_LINE);
    if (length == 0)
        return fail(detail, detail_size, "empty request");
    if (memchr(line, '\0', length))
        return fail(detail, detail_size, "request contains a NUL byte");

    /* DECODE_ANY and ALLOW_NUL only let us name those faults ourselves. */
    size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_error_t error;
    json_t *root = json_loadb(line, length, flags, &error);
    if (!root)
        return fail(detail, detail_size, "invalid JSON at column %d: %s", error.column, error.text);
    int status = parse_object(root, request, detail, detail_size);
    json_decref(root);
    if (status < 0)
        request_free(request);
    return status;
}

void request_free(struct request *request)
{
    free(request->supervisor);
    free(request->child);
    free(request->name);
    free(request->event);
    if (request->args)
        for (int i = 0; i < request->argc; i++)
            free(request->args[i]);
    free(request->args);
    memset(request, 0, sizeof *request);
}
