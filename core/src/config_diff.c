/*
 * config_diff: what a reload changes, compared field by field. Each spec
 * kind has one function listing its fields' differences into one detail
 * ("restart transient -> permanent, args a -> a b"); what counts as a
 * change is exactly what a new start, event or autostart would do
 * differently.
 */
#include "config_diff.h"

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void change_list_init(struct change_list *list)
{
    memset(list, 0, sizeof *list);
}

void change_list_free(struct change_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].id);
        free(list->items[i].detail);
    }
    free(list->items);
    change_list_init(list);
}

static char *duplicate_or_die(const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        abort();
    return copy;
}

void change_list_add(struct change_list *list, enum change_kind kind, enum change_type change,
                     const char *id, const char *detail_format, ...)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 8;
        struct config_change *grown = realloc(list->items, capacity * sizeof *grown);
        if (!grown)
            abort();
        list->items = grown;
        list->capacity = capacity;
    }
    struct config_change *item = &list->items[list->count++];
    item->kind = kind;
    item->change = change;
    item->id = duplicate_or_die(id);
    item->detail = NULL;
    if (detail_format) {
        va_list ap;
        va_start(ap, detail_format);
        if (vasprintf(&item->detail, detail_format, ap) < 0)
            abort();
        va_end(ap);
    }
}

const char *change_kind_name(enum change_kind kind)
{
    static const char *const names[] = {"plugin", "child", "supervisor", "event", "host"};
    return names[kind];
}

const char *change_type_name(enum change_type change)
{
    static const char *const names[] = {"added", "removed", "changed"};
    return names[change];
}

/* ---------------------------------------------------------------- details */

/* One detail being built: "field old -> new" pieces joined by ", ". */
struct detail {
    char text[1024];
    size_t length;
};

static void detail_add(struct detail *detail, const char *field, const char *before,
                       const char *after)
{
    if (detail->length >= sizeof detail->text - 1)
        return;
    int n = snprintf(detail->text + detail->length, sizeof detail->text - detail->length,
                     "%s%s %s -> %s", detail->length ? ", " : "", field, before, after);
    if (n > 0)
        detail->length += (size_t)n < sizeof detail->text - detail->length
                              ? (size_t)n
                              : sizeof detail->text - detail->length - 1;
}

static bool same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void compare_strings(struct detail *detail, const char *field, const char *before,
                            const char *after)
{
    if (!same_string(before, after))
        detail_add(detail, field, before ? before : "(none)", after ? after : "(none)");
}

static void number_text(uint32_t value, char *text, size_t size)
{
    if (value == DS_INFINITY)
        snprintf(text, size, "infinity");
    else
        snprintf(text, size, "%u", value);
}

static void compare_numbers(struct detail *detail, const char *field, uint32_t before,
                            uint32_t after)
{
    if (before == after)
        return;
    char a[16], b[16];
    number_text(before, a, sizeof a);
    number_text(after, b, sizeof b);
    detail_add(detail, field, a, b);
}

/* Words as one line, each quoted only when it needs it: "a 'b c'". */
static void words_text(char *const *words, int count, char *text, size_t size)
{
    size_t used = 0;
    text[0] = '\0';
    if (count == 0) {
        snprintf(text, size, "(none)");
        return;
    }
    for (int i = 0; i < count && used < size; i++) {
        bool plain = words[i][0] != '\0' && strpbrk(words[i], " \t'\"\\") == NULL;
        int n = snprintf(text + used, size - used, plain ? "%s%s" : "%s'%s'", i ? " " : "",
                         words[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static bool same_words(char *const *a, int a_count, char *const *b, int b_count)
{
    if (a_count != b_count)
        return false;
    for (int i = 0; i < a_count; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

static void compare_words(struct detail *detail, const char *field, char *const *before,
                          int before_count, char *const *after, int after_count)
{
    if (same_words(before, before_count, after, after_count))
        return;
    char a[400], b[400];
    words_text(before, before_count, a, sizeof a);
    words_text(after, after_count, b, sizeof b);
    detail_add(detail, field, a, b);
}

/* restart_delay keys: CONFIG_UNSET means "not written" (the default or
 * the supervisor's value applies). */
static void compare_delays(struct detail *detail, const char *field, uint32_t before,
                           uint32_t after)
{
    if (before == after)
        return;
    char a[24], b[24];
    snprintf(a, sizeof a, before == CONFIG_UNSET ? "(unset)" : "%u", before);
    snprintf(b, sizeof b, after == CONFIG_UNSET ? "(unset)" : "%u", after);
    detail_add(detail, field, a, b);
}

static const char *restart_text(enum restart_policy restart)
{
    return restart == RESTART_PERMANENT ? "permanent"
           : restart == RESTART_TRANSIENT ? "transient"
                                          : "temporary";
}

static void shutdown_text(enum shutdown_mode mode, uint32_t ms, char *text, size_t size)
{
    if (mode == SHUTDOWN_BRUTAL_KILL)
        snprintf(text, size, "brutal_kill");
    else if (mode == SHUTDOWN_INFINITY)
        snprintf(text, size, "infinity");
    else
        snprintf(text, size, "%u", ms);
}

static void signal_text(int signal_number, char *text, size_t size)
{
    const char *name = signal_number ? sigabbrev_np(signal_number) : NULL;
    if (signal_number == 0)
        snprintf(text, size, "(none)");
    else if (name)
        snprintf(text, size, "SIG%s", name);
    else
        snprintf(text, size, "%d", signal_number);
}

/* ---------------------------------------------------------------- per kind */

static void diff_child(const struct child_spec *a, const struct child_spec *b,
                       struct change_list *changes)
{
    struct detail detail = {.length = 0};
    compare_strings(&detail, "plugin", a->plugin, b->plugin);
    compare_words(&detail, "args", a->args, a->argc, b->args, b->argc);
    if (a->restart != b->restart)
        detail_add(&detail, "restart", restart_text(a->restart), restart_text(b->restart));
    char before[24], after[24];
    shutdown_text(a->shutdown, a->shutdown_ms, before, sizeof before);
    shutdown_text(b->shutdown, b->shutdown_ms, after, sizeof after);
    if (strcmp(before, after) != 0)
        detail_add(&detail, "shutdown", before, after);
    compare_strings(&detail, "name", a->name, b->name);
    compare_delays(&detail, "restart_delay", a->restart_delay_ms, b->restart_delay_ms);
    compare_delays(&detail, "restart_delay_max", a->restart_delay_max_ms, b->restart_delay_max_ms);
    if (a->request_args != b->request_args)
        detail_add(&detail, "request_args", a->request_args ? "yes" : "no",
                   b->request_args ? "yes" : "no");
    if (a->job_settings.length != b->job_settings.length ||
        (a->job_settings.length &&
         memcmp(a->job_settings.data, b->job_settings.data, a->job_settings.length) != 0))
        detail_add(&detail, "execution environment", "(old)", "(new)");
    if (detail.length)
        change_list_add(changes, CHANGE_CHILD, CHANGE_CHANGED, b->id, "%s", detail.text);
}

static void diff_supervisor(const struct supervisor_spec *a, const struct supervisor_spec *b,
                            struct change_list *changes)
{
    struct detail detail = {.length = 0};
    compare_numbers(&detail, "max_children", a->max_children, b->max_children);
    compare_numbers(&detail, "max_restarts", a->max_restarts, b->max_restarts);
    compare_numbers(&detail, "max_seconds", a->max_seconds, b->max_seconds);
    compare_words(&detail, "extra_arguments", a->extra_args, a->extra_argc, b->extra_args,
                  b->extra_argc);
    compare_words(&detail, "autostart", a->autostart, a->autostart_count, b->autostart,
                  b->autostart_count);
    compare_delays(&detail, "restart_delay", a->restart_delay_ms, b->restart_delay_ms);
    compare_delays(&detail, "restart_delay_max", a->restart_delay_max_ms, b->restart_delay_max_ms);
    compare_words(&detail, "children", a->children, a->children_count, b->children,
                  b->children_count);
    if (detail.length)
        change_list_add(changes, CHANGE_SUPERVISOR, CHANGE_CHANGED, b->name, "%s", detail.text);
}

static void diff_event(const struct event_spec *a, const struct event_spec *b,
                       struct change_list *changes)
{
    struct detail detail = {.length = 0};
    compare_strings(&detail, "supervisor", a->supervisor, b->supervisor);
    compare_strings(&detail, "child", a->child, b->child);
    char before[24], after[24];
    signal_text(a->signal, before, sizeof before);
    signal_text(b->signal, after, sizeof after);
    if (a->signal != b->signal)
        detail_add(&detail, "signal", before, after);
    compare_numbers(&detail, "interval", a->interval_s, b->interval_s);
    compare_numbers(&detail, "jitter", a->jitter_s, b->jitter_s);
    if (detail.length)
        change_list_add(changes, CHANGE_EVENT, CHANGE_CHANGED, b->name, "%s", detail.text);
}

static void diff_host(const struct config *a, const struct config *b, struct change_list *changes,
                      struct error_list *errors)
{
    const struct {
        const char *key;
        const char *before, *after;
    } needs_restart[] = {
        {"socket", a->socket_path, b->socket_path},
        {"plugin_dir", a->plugin_dir, b->plugin_dir},
        {"children_dir", a->children_dir, b->children_dir},
    };
    for (size_t i = 0; i < sizeof needs_restart / sizeof needs_restart[0]; i++)
        if (!same_string(needs_restart[i].before, needs_restart[i].after))
            error_list_add(errors, "%s: [host] %s: changed from %s to %s: needs a restart of the "
                           "host (a reload cannot move it)", b->path, needs_restart[i].key,
                           needs_restart[i].before ? needs_restart[i].before : "(none)",
                           needs_restart[i].after ? needs_restart[i].after : "(none)");
    struct detail users = {.length = 0};
    compare_words(&users, "allow_users", a->allow_users, a->allow_user_count, b->allow_users,
                  b->allow_user_count);
    if (users.length)
        change_list_add(changes, CHANGE_HOST, CHANGE_CHANGED, "allow_users", "%s", users.text);
    struct detail group = {.length = 0};
    compare_strings(&group, "allow_group", a->allow_group, b->allow_group);
    if (group.length)
        change_list_add(changes, CHANGE_HOST, CHANGE_CHANGED, "allow_group", "%s", group.text);
    struct detail restarts = {.length = 0};
    compare_numbers(&restarts, "max_restarts", a->max_restarts, b->max_restarts);
    if (restarts.length)
        change_list_add(changes, CHANGE_HOST, CHANGE_CHANGED, "max_restarts", "%s", restarts.text);
    if (a->log_level != b->log_level) {
        char before[16], after[16];
        snprintf(before, sizeof before, "%d", a->log_level);
        snprintf(after, sizeof after, "%d", b->log_level);
        change_list_add(changes, CHANGE_HOST, CHANGE_CHANGED, "log_level",
                        "log_level %s -> %s (syslog levels)", before, after);
    }
    if (a->watch != b->watch)
        change_list_add(changes, CHANGE_HOST, CHANGE_CHANGED, "watch", "watch %s -> %s",
                        a->watch ? "yes" : "no", b->watch ? "yes" : "no");
    struct detail seconds = {.length = 0};
    compare_numbers(&seconds, "max_seconds", a->max_seconds, b->max_seconds);
    if (seconds.length)
        change_list_add(changes, CHANGE_HOST, CHANGE_CHANGED, "max_seconds", "%s", seconds.text);
}

void config_diff(const struct config *old, const struct config *new, struct change_list *changes,
                 struct error_list *errors)
{
    diff_host(old, new, changes, errors);

    for (size_t i = 0; i < new->supervisor_count; i++) {
        const struct supervisor_spec *before = config_find_supervisor(old, new->supervisors[i].name);
        if (!before)
            change_list_add(changes, CHANGE_SUPERVISOR, CHANGE_ADDED, new->supervisors[i].name, NULL);
        else
            diff_supervisor(before, &new->supervisors[i], changes);
    }
    for (size_t i = 0; i < old->supervisor_count; i++)
        if (!config_find_supervisor(new, old->supervisors[i].name))
            change_list_add(changes, CHANGE_SUPERVISOR, CHANGE_REMOVED, old->supervisors[i].name,
                            NULL);

    for (size_t i = 0; i < new->child_count; i++) {
        const struct child_spec *before = config_find_child(old, new->children[i].id);
        if (!before)
            change_list_add(changes, CHANGE_CHILD, CHANGE_ADDED, new->children[i].id, "plugin %s",
                            new->children[i].plugin);
        else
            diff_child(before, &new->children[i], changes);
    }
    for (size_t i = 0; i < old->child_count; i++)
        if (!config_find_child(new, old->children[i].id))
            change_list_add(changes, CHANGE_CHILD, CHANGE_REMOVED, old->children[i].id, NULL);

    for (size_t i = 0; i < new->event_count; i++) {
        const struct event_spec *before = config_find_event(old, new->events[i].name);
        if (!before)
            change_list_add(changes, CHANGE_EVENT, CHANGE_ADDED, new->events[i].name, NULL);
        else
            diff_event(before, &new->events[i], changes);
    }
    for (size_t i = 0; i < old->event_count; i++)
        if (!config_find_event(new, old->events[i].name))
            change_list_add(changes, CHANGE_EVENT, CHANGE_REMOVED, old->events[i].name, NULL);
}
