#include "supervisor_actions.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

_Noreturn void out_of_memory(void)
{
    log_write_held(); /* the lines before the end, then the reason */
    fputs("dynsup: out of memory in the supervisor core\n", stderr);
    abort();
}

void *must_allocate(size_t size)
{
    void *pointer = calloc(1, size);
    if (pointer == NULL)
        out_of_memory();
    return pointer;
}

void *must_reallocate(void *pointer, size_t size)
{
    void *grown = realloc(pointer, size);
    if (grown == NULL)
        out_of_memory();
    return grown;
}

char *must_copy(const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL)
        out_of_memory();
    return copy;
}

const char *reply_error_name(enum reply_error error)
{
    switch (error) {
    case ERR_NONE: return "none";
    case ERR_MAX_CHILDREN: return "max_children";
    case ERR_ALREADY_STARTED: return "already_started";
    case ERR_INIT_FAILED: return "init_failed";
    case ERR_UNKNOWN_SUPERVISOR: return "unknown_supervisor";
    case ERR_UNKNOWN_CHILD: return "unknown_child";
    case ERR_UNKNOWN_EVENT: return "unknown_event";
    case ERR_NOT_FOUND: return "not_found";
    case ERR_SHUTTING_DOWN: return "shutting_down";
    }
    return "unknown_error";
}

/* ---- the list ---- */

void action_list_init(struct action_list *list)
{
    *list = (struct action_list){0};
}

void action_list_clear(struct action_list *list)
{
    for (size_t i = 0; i < list->string_count; i++)
        free(list->strings[i]);
    list->string_count = 0;
    list->count = 0;
}

void action_list_free(struct action_list *list)
{
    action_list_clear(list);
    free(list->items);
    free(list->strings);
    action_list_init(list);
}

static struct action *push(struct action_list *list, enum action_kind kind, const char *supervisor)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity == 0 ? 16 : list->capacity * 2;
        list->items = must_reallocate(list->items, capacity * sizeof *list->items);
        list->capacity = capacity;
    }
    struct action *action = &list->items[list->count++];
    *action = (struct action){.kind = kind, .supervisor = supervisor};
    return action;
}

static const char *keep(struct action_list *list, char *owned)
{
    if (list->string_count == list->string_capacity) {
        size_t capacity = list->string_capacity == 0 ? 16 : list->string_capacity * 2;
        list->strings = must_reallocate(list->strings, capacity * sizeof *list->strings);
        list->string_capacity = capacity;
    }
    list->strings[list->string_count++] = owned;
    return owned;
}

/* ---- the actions ---- */

void emit_spawn(struct action_list *out, const char *supervisor, const struct child_info *child)
{
    struct action *action = push(out, ACTION_SPAWN, supervisor);
    action->key = child->key;
    action->child = child;
}

void emit_signal(struct action_list *out, const char *supervisor, pid_t pid, int signal)
{
    struct action *action = push(out, ACTION_SIGNAL, supervisor);
    action->pid = pid;
    action->signal = signal;
}

void emit_timer_start(struct action_list *out, const char *supervisor, child_key key,
                      uint32_t timeout_ms)
{
    struct action *action = push(out, ACTION_TIMER_START, supervisor);
    action->key = key;
    action->timeout_ms = timeout_ms;
}

void emit_timer_cancel(struct action_list *out, const char *supervisor, child_key key)
{
    push(out, ACTION_TIMER_CANCEL, supervisor)->key = key;
}

void emit_reply(struct action_list *out, const char *supervisor, request_token token,
                enum reply_kind kind, enum reply_error error, pid_t pid, const char *detail)
{
    /* The caller's detail may live on its stack or in a child about to go. */
    const char *kept = detail != NULL ? keep(out, must_copy(detail)) : NULL;
    struct action *action = push(out, ACTION_REPLY, supervisor);
    action->token = token;
    action->reply = (struct reply){.kind = kind, .error = error, .pid = pid, .detail = kept};
}

void emit_log(struct action_list *out, int level, const char *supervisor, const char *child_id,
              child_key key, pid_t pid, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(NULL, 0, format, arguments);
    va_end(arguments);
    if (length < 0)
        return; /* a bad format is a bug in this module; drop the line */
    char *message = must_allocate((size_t)length + 1);
    va_start(arguments, format);
    vsnprintf(message, (size_t)length + 1, format, arguments);
    va_end(arguments);
    keep(out, message);
    struct action *action = push(out, ACTION_LOG, supervisor);
    action->level = level;
    action->child_id = child_id;
    action->key = key;
    action->pid = pid;
    action->message = message;
}

void emit_exit(struct action_list *out, int exit_status)
{
    push(out, ACTION_EXIT, NULL)->exit_status = exit_status;
}

void emit_supervisor_added(struct action_list *out, const char *supervisor)
{
    push(out, ACTION_SUPERVISOR_ADDED, supervisor);
}

/* ---- texts ---- */

void describe_exit(struct child_exit how, char *buffer, size_t size)
{
    if (how.signal != 0)
        snprintf(buffer, size, "killed by signal %d", how.signal);
    else
        snprintf(buffer, size, "exit status %d", how.exit_code);
}

void describe_shutdown(enum shutdown_mode mode, uint32_t shutdown_ms, char *buffer, size_t size)
{
    if (mode == SHUTDOWN_BRUTAL_KILL)
        snprintf(buffer, size, "SIGKILL at once");
    else if (mode == SHUTDOWN_TIMEOUT && shutdown_ms != DS_INFINITY)
        snprintf(buffer, size, "SIGTERM, SIGKILL after %u ms", shutdown_ms);
    else
        snprintf(buffer, size, "SIGTERM, no time limit");
}
