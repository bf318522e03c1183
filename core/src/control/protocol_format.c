/*
 * The control protocol, outgoing side: replies, the list writers
 * (which_children, status, plugins) and the CLI's request builders, all
 * built as jansson trees and serialised as one '\n'-terminated line.
 * Parsing requests is protocol.c.
 */
#include "protocol.h"

#include "config_diff.h"

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON string for text that may come from anywhere (plugin messages,
 * config args): jansson refuses invalid UTF-8, so such text is sent with
 * every non-ASCII byte shown as '?' rather than dropping the whole line. */
static json_t *json_text(const char *text)
{
    if (!text)
        return json_null();
    json_t *value = json_string(text);
    if (value)
        return value;
    char *ascii = strdup(text);
    if (!ascii)
        return NULL;
    for (char *c = ascii; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    value = json_string(ascii);
    free(ascii);
    return value;
}

static json_t *json_pid(pid_t pid)
{
    return pid > 0 ? json_integer(pid) : json_null();
}

/* Sets object[key] = value (stolen); returns -1 if anything was NULL. */
static int put(json_t *object, const char *key, json_t *value)
{
    if (!object || !value) {
        json_decref(value);
        return -1;
    }
    return json_object_set_new(object, key, value);
}

/* Serialises root (consumed) as one '\n'-terminated malloc'd line, or NULL
 * if building it failed (`broken`) or memory ran out. */
static char *finish_line(json_t *root, bool broken, size_t flags)
{
    char *dumped = NULL;
    if (root && !broken)
        dumped = json_dumps(root, JSON_COMPACT | flags);
    json_decref(root);
    if (!dumped)
        return NULL;
    size_t length = strlen(dumped);
    char *line = malloc(length + 2);
    if (line) {
        memcpy(line, dumped, length);
        line[length] = '\n';
        line[length + 1] = '\0';
    }
    free(dumped);
    return line;
}

static json_t *result_object(const char *result)
{
    json_t *object = json_object();
    if (put(object, "result", json_string(result)) < 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

char *protocol_format_reply(const struct reply *reply)
{
    json_t *root;
    int status = 0;
    switch (reply->kind) {
    case REPLY_OK:
        /* terminate_child's ok carries no pid. */
        root = result_object("ok");
        if (reply->pid > 0)
            status |= put(root, "pid", json_integer(reply->pid));
        break;
    case REPLY_IGNORE:
        root = result_object("ignore");
        break;
    case REPLY_ERROR:
    default:
        root = result_object("error");
        status |= put(root, "error", json_string(reply_error_name(reply->error)));
        if (reply->error == ERR_ALREADY_STARTED)
            status |= put(root, "pid", json_pid(reply->pid));
        if (reply->detail)
            status |= put(root, "detail", json_text(reply->detail));
        break;
    }
    return finish_line(root, status != 0, 0);
}

char *protocol_format_error(const char *error, const char *detail)
{
    json_t *root = result_object("error");
    int status = put(root, "error", json_text(error));
    if (detail)
        status |= put(root, "detail", json_text(detail));
    return finish_line(root, status != 0, 0);
}

char *protocol_format_bad_request(const char *detail)
{
    return protocol_format_error("bad_request", detail);
}

char *protocol_format_forbidden(void)
{
    return protocol_format_error("forbidden", NULL);
}

char *protocol_format_busy(const char *detail)
{
    return protocol_format_error("busy", detail);
}

char *protocol_format_ok(void)
{
    return finish_line(result_object("ok"), false, 0);
}

static json_t *string_array(char *const *items, int count)
{
    json_t *array = json_array();
    for (int i = 0; array && i < count; i++) {
        if (json_array_append_new(array, json_text(items[i])) < 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

static const char *child_state_name(enum child_state state)
{
    switch (state) {
    case CHILD_STARTING: return "starting";
    case CHILD_RUNNING: return "running";
    case CHILD_STOPPING: return "stopping";
    case CHILD_RESTARTING: return "restarting";
    }
    return "unknown";
}

/* Writers collect items into a jansson tree; a failed allocation marks the
 * writer broken and finish returns NULL, so callers check only once. */
/* which_children's answer is written as text, one entry at a time, so that
 * a listing of thousands of children can be built in slices between the
 * loop's other work (host_requests.c) and never as one big tree dumped at
 * once: {"result":"ok","children":[ENTRY,ENTRY...]} */
struct children_writer {
    char *text;
    size_t length, capacity;
    size_t entries;
    int64_t unix_ms_at_zero;
    bool broken;
};

static void writer_append(struct children_writer *writer, const char *text, size_t length)
{
    if (writer->broken)
        return;
    if (writer->length + length + 1 > writer->capacity) {
        size_t capacity = writer->capacity ? writer->capacity : 256;
        while (capacity < writer->length + length + 1)
            capacity *= 2;
        char *grown = realloc(writer->text, capacity);
        if (!grown) {
            writer->broken = true;
            return;
        }
        writer->text = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->text + writer->length, text, length);
    writer->length += length;
    writer->text[writer->length] = '\0';
}

struct children_writer *children_writer_new(int64_t unix_ms_at_zero)
{
    struct children_writer *writer = calloc(1, sizeof *writer);
    if (!writer)
        return NULL;
    writer->unix_ms_at_zero = unix_ms_at_zero;
    static const char start[] = "{\"result\":\"ok\",\"children\":[";
    writer_append(writer, start, sizeof start - 1);
    return writer;
}

/* A time of the tree's clock as Unix ms, or null (negative: none). */
static json_t *json_unix_ms(const struct children_writer *writer, ds_time_ms at)
{
    return at >= 0 ? json_integer((json_int_t)(writer->unix_ms_at_zero + at)) : json_null();
}

/* null, or {"status":N,"at":T} / {"signal":"SIGKILL","at":T} */
static json_t *json_last_exit(const struct children_writer *writer, const struct child_info *child)
{
    if (!child->has_exited)
        return json_null();
    json_t *exit = json_object();
    int status;
    if (child->last_exit.signal != 0) {
        const char *abbreviation = sigabbrev_np(child->last_exit.signal);
        char name[32];
        if (abbreviation)
            snprintf(name, sizeof name, "SIG%s", abbreviation);
        else
            snprintf(name, sizeof name, "%d", child->last_exit.signal);
        status = put(exit, "signal", json_string(name));
    } else {
        status = put(exit, "status", json_integer(child->last_exit.exit_code));
    }
    status |= put(exit, "at", json_unix_ms(writer, child->last_exit_at));
    if (status != 0) {
        json_decref(exit);
        return NULL;
    }
    return exit;
}

void children_writer_add(struct children_writer *writer, const struct child_info *child,
                         const char *plugin_version)
{
    if (!writer || writer->broken)
        return;
    json_t *item = json_object();
    int status = put(item, "id", json_text(child->id));
    status |= put(item, "pid", json_pid(child->pid));
    status |= put(item, "type", json_string("worker"));
    status |= put(item, "plugin", json_text(child->plugin));
    status |= put(item, "name", json_text(child->name));
    status |= put(item, "args", string_array(child->argv, child->argc));
    status |= put(item, "state", json_string(child_state_name(child->state)));
    status |= put(item, "key", json_integer((json_int_t)child->key));
    status |= put(item, "plugin_version", json_text(plugin_version));
    status |= put(item, "started_at", json_unix_ms(writer, child->started_at));
    status |= put(item, "restarts", json_integer(child->restarts));
    status |= put(item, "last_exit", json_last_exit(writer, child));
    status |= put(item, "next_restart_at", json_unix_ms(writer, child->next_restart_at));
    char *entry = status == 0 ? json_dumps(item, JSON_COMPACT) : NULL;
    json_decref(item);
    if (!entry) {
        writer->broken = true;
        return;
    }
    if (writer->entries++ > 0)
        writer_append(writer, ",", 1);
    writer_append(writer, entry, strlen(entry));
    free(entry);
}

char *children_writer_finish(struct children_writer *writer)
{
    if (!writer)
        return NULL;
    writer_append(writer, "]}\n", 3);
    char *line = writer->broken ? NULL : writer->text;
    if (!line)
        free(writer->text);
    free(writer);
    return line;
}

static int put_counts(json_t *object, const struct child_counts *counts)
{
    int status = put(object, "specs", json_integer((json_int_t)counts->specs));
    status |= put(object, "active", json_integer((json_int_t)counts->active));
    status |= put(object, "supervisors", json_integer((json_int_t)counts->supervisors));
    status |= put(object, "workers", json_integer((json_int_t)counts->workers));
    return status;
}

char *protocol_format_counts(const struct child_counts *counts)
{
    json_t *root = result_object("ok");
    int status = put_counts(root, counts);
    return finish_line(root, status != 0, 0);
}

struct status_writer {
    json_t *root;
    json_t *supervisors;
    bool broken;
};

struct status_writer *status_writer_new(double uptime_s, pid_t host_pid, uint32_t root_max_restarts,
                                        uint32_t root_max_seconds, uint32_t root_restarts_in_window)
{
    struct status_writer *writer = calloc(1, sizeof *writer);
    if (!writer)
        return NULL;
    json_t *root_supervisor = json_object();
    int status = put(root_supervisor, "max_restarts", json_integer(root_max_restarts));
    status |= put(root_supervisor, "max_seconds", json_integer(root_max_seconds));
    status |= put(root_supervisor, "restarts_in_window", json_integer(root_restarts_in_window));

    writer->root = result_object("ok");
    writer->supervisors = json_array();
    /* Milliseconds are plenty, and keep the number short on the wire
     * (rounded by hand: the core does not link libm). */
    double uptime_ms = uptime_s > 0 ? (double)(long long)(uptime_s * 1000.0 + 0.5) : 0.0;
    status |= put(writer->root, "uptime_s", json_real(uptime_ms / 1000.0));
    status |= put(writer->root, "pid", json_integer(host_pid));
    status |= put(writer->root, "root", root_supervisor);
    status |= put(writer->root, "supervisors", json_incref(writer->supervisors));
    writer->broken = status != 0;
    return writer;
}

void status_writer_add(struct status_writer *writer, const struct supervisor_status *status,
                       uint32_t max_children, uint32_t max_restarts, uint32_t max_seconds)
{
    if (!writer || writer->broken)
        return;
    json_t *item = json_object();
    int failed = put(item, "name", json_text(status->name));
    failed |= put_counts(item, &status->counts);
    failed |= put(item, "restarts_in_window", json_integer(status->restarts_in_window));
    failed |= put(item, "max_restarts",
                  max_restarts == DS_INFINITY ? json_null() : json_integer(max_restarts));
    failed |= put(item, "max_seconds", json_integer(max_seconds));
    failed |= put(item, "max_children",
                  max_children == DS_INFINITY ? json_null() : json_integer(max_children));
    failed |= put(item, "times_restarted", json_integer(status->times_restarted));
    failed |= put(item, "stopping", json_boolean(status->stopping));
    if (failed != 0 || json_array_append_new(writer->supervisors, item) < 0)
        writer->broken = true;
}

char *status_writer_finish(struct status_writer *writer)
{
    if (!writer)
        return NULL;
    json_decref(writer->supervisors);
    char *line = finish_line(writer->root, writer->broken, JSON_REAL_PRECISION(15));
    free(writer);
    return line;
}

struct plugins_writer {
    json_t *root;
    json_t *plugins;
    bool broken;
};

struct plugins_writer *plugins_writer_new(void)
{
    struct plugins_writer *writer = calloc(1, sizeof *writer);
    if (!writer)
        return NULL;
    writer->root = result_object("ok");
    writer->plugins = json_array();
    writer->broken = put(writer->root, "plugins", json_incref(writer->plugins)) < 0;
    return writer;
}

void plugins_writer_add(struct plugins_writer *writer, const char *name, const char *version,
                        const char *file)
{
    if (!writer || writer->broken)
        return;
    json_t *item = json_object();
    int status = put(item, "name", json_text(name));
    status |= put(item, "version", json_text(version));
    status |= put(item, "file", json_text(file));
    if (status != 0 || json_array_append_new(writer->plugins, item) < 0)
        writer->broken = true;
}

void plugins_writer_add_generation(struct plugins_writer *writer, const char *name,
                                   const char *version, const char *file, unsigned generation,
                                   size_t workers, bool current)
{
    plugins_writer_add(writer, name, version, file);
    if (!writer || writer->broken)
        return;
    json_t *item = json_array_get(writer->plugins, json_array_size(writer->plugins) - 1);
    int status = put(item, "generation", json_integer(generation));
    status |= put(item, "workers", json_integer((json_int_t)workers));
    status |= put(item, "current", json_boolean(current));
    if (status != 0)
        writer->broken = true;
}

char *plugins_writer_finish(struct plugins_writer *writer)
{
    if (!writer)
        return NULL;
    json_decref(writer->plugins);
    char *line = finish_line(writer->root, writer->broken, 0);
    free(writer);
    return line;
}

/* ---- reload ---- */

char *protocol_format_changes(const struct change_list *changes, bool dry_run)
{
    json_t *root = result_object("ok");
    json_t *list = json_array();
    bool broken = put(root, "dry_run", json_boolean(dry_run)) < 0;
    broken |= put(root, "changes", json_incref(list)) < 0;
    for (size_t i = 0; i < changes->count && !broken; i++) {
        const struct config_change *change = &changes->items[i];
        json_t *item = json_object();
        int status = put(item, "kind", json_text(change_kind_name(change->kind)));
        status |= put(item, "id", json_text(change->id));
        status |= put(item, "change", json_text(change_type_name(change->change)));
        if (change->detail)
            status |= put(item, "detail", json_text(change->detail));
        broken = status != 0 || json_array_append_new(list, item) < 0;
    }
    json_decref(list);
    return finish_line(root, broken, 0);
}

char *protocol_format_invalid_config(const struct error_list *errors)
{
    json_t *root = result_object("error");
    json_t *list = json_array();
    bool broken = put(root, "error", json_text("invalid_config")) < 0;
    broken |= put(root, "errors", json_incref(list)) < 0;
    for (size_t i = 0; i < errors->count && !broken; i++)
        broken = json_array_append_new(list, json_text(errors->messages[i])) < 0;
    json_decref(list);
    return finish_line(root, broken, 0);
}

/* ---- request builders (CLI side) ---- */

static json_t *request_object(const char *cmd)
{
    json_t *object = json_object();
    if (put(object, "cmd", json_text(cmd)) < 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

char *protocol_build_start_child(const char *supervisor, const char *child, const char *name,
                                 char *const *args, int argc)
{
    json_t *root = request_object("start_child");
    int status = put(root, "supervisor", json_text(supervisor));
    status |= put(root, "child", json_text(child));
    if (name)
        status |= put(root, "name", json_text(name));
    if (argc > 0)
        status |= put(root, "args", string_array(args, argc));
    return finish_line(root, status != 0, 0);
}

char *protocol_build_terminate_child(const char *supervisor, pid_t pid, const char *name,
                                     uint64_t key)
{
    json_t *root = request_object("terminate_child");
    int status = put(root, "supervisor", json_text(supervisor));
    if (pid > 0)
        status |= put(root, "pid", json_integer(pid));
    else if (name)
        status |= put(root, "name", json_text(name));
    else
        status |= put(root, "key", json_integer((json_int_t)key));
    return finish_line(root, status != 0, 0);
}

char *protocol_build_reload(bool dry_run)
{
    json_t *root = request_object("reload");
    int status = dry_run ? put(root, "dry_run", json_true()) : 0;
    return finish_line(root, status != 0, 0);
}

char *protocol_build_simple(const char *cmd, const char *key, const char *value)
{
    json_t *root = request_object(cmd);
    int status = key ? put(root, key, json_text(value)) : 0;
    return finish_line(root, status != 0, 0);
}
