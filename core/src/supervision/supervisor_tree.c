/*
 * Storage of the supervision tree: entries, maps, counts, restart windows,
 * and the read-only queries of supervisor.h. See supervisor_tree.h.
 */
#include "supervisor_tree.h"

#include "supervisor_actions.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- restart intensity ---- */

static int64_t window_ms(uint32_t max_seconds)
{
    return (int64_t)max_seconds * 1000;
}

static ds_time_ms window_at(const struct restart_window *window, size_t index)
{
    return window->times[(window->first + index) % window->capacity];
}

void window_clear(struct restart_window *window)
{
    window->first = 0;
    window->count = 0;
}

void window_free(struct restart_window *window)
{
    free(window->times);
    *window = (struct restart_window){0};
}

bool window_record(struct restart_window *window, ds_time_ms now, uint32_t max_restarts,
                   uint32_t max_seconds)
{
    while (window->count > 0 && now - window_at(window, 0) >= window_ms(max_seconds)) {
        window->first = (window->first + 1) % window->capacity;
        window->count--;
    }
    if (window->count == window->capacity) {
        size_t capacity = window->capacity == 0 ? 4 : window->capacity * 2;
        ds_time_ms *times = must_allocate(capacity * sizeof *times);
        for (size_t i = 0; i < window->count; i++)
            times[i] = window_at(window, i);
        free(window->times);
        window->times = times;
        window->capacity = capacity;
        window->first = 0;
    }
    window->times[(window->first + window->count) % window->capacity] = now;
    window->count++;
    return window->count <= max_restarts;
}

uint32_t window_count_at(const struct restart_window *window, ds_time_ms now,
                         uint32_t max_seconds)
{
    uint32_t count = 0;
    for (size_t i = 0; i < window->count; i++)
        if (now - window_at(window, i) < window_ms(max_seconds))
            count++;
    return count;
}

/* ---- child entries ---- */

/* The map's values are counts (never 0: an absent plugin has no entry).
 * Keyed by the child's shared plugin text, which lives as long as any
 * child holds it, so as long as the entry. */
static void count_plugin_child(struct tree *tree, const char *plugin, int change)
{
    uintptr_t count = (uintptr_t)hashmap_get_string(&tree->children_by_plugin, plugin);
    count = change > 0 ? count + 1 : count - 1;
    if (count == 0)
        hashmap_remove_string(&tree->children_by_plugin, plugin);
    else if (hashmap_put_string(&tree->children_by_plugin, plugin, (void *)count) != 0)
        out_of_memory();
}

struct supervisor *find_supervisor(const struct tree *tree, const char *name)
{
    return name == NULL ? NULL : hashmap_get_string(&tree->supervisors_by_name, name);
}

struct child *find_child(const struct tree *tree, child_key key)
{
    return hashmap_get_number(&tree->children_by_key, key);
}

struct child *new_child(struct tree *tree, struct supervisor *sup, const struct child_start *start,
                        request_token token)
{
    struct child *child = must_allocate(sizeof *child);
    child->info.key = tree->next_key++;
    child->info.id = share_string(&tree->shared, start->id != NULL ? start->id : "");
    child->info.plugin = share_string(&tree->shared, start->plugin != NULL ? start->plugin : "");
    child->info.name = start->name != NULL && start->name[0] != '\0' ? must_copy(start->name) : NULL;
    int argc = start->argc > 0 ? start->argc : 0;
    child->info.argv = share_arguments(&tree->shared, start->argv, argc);
    child->info.argc = argc;
    child->info.restart = start->restart;
    child->info.shutdown = start->shutdown;
    child->info.shutdown_ms = start->shutdown_ms;
    child->info.state = CHILD_STARTING;
    child->info.backoff = start->backoff;
    child->info.shell_data = start->shell_data;
    child->info.started_at = -1;
    child->info.next_restart_at = -1;
    child->supervisor = sup;
    child->start_pending = true;
    child->start_token = token;

    child->previous = sup->last;
    if (sup->last != NULL)
        sup->last->next = child;
    else
        sup->first = child;
    sup->last = child;
    if (hashmap_put_number(&tree->children_by_key, child->info.key, child) != 0)
        out_of_memory();
    if (child->info.name != NULL &&
        hashmap_put_string(&sup->children_by_name, child->info.name, child) != 0)
        out_of_memory();
    sup->counts.specs++;
    sup->counts.workers++;
    tree->child_total++;
    count_plugin_child(tree, child->info.plugin, +1);
    return child;
}

void park_start(struct child *holder, const char *supervisor, const struct child_start *start,
                request_token token)
{
    struct parked_start *parked = must_allocate(sizeof *parked);
    parked->next = NULL;
    parked->supervisor = must_copy(supervisor);
    parked->token = token;
    parked->start = *start;
    parked->start.id = must_copy(start->id != NULL ? start->id : "");
    parked->start.plugin = must_copy(start->plugin != NULL ? start->plugin : "");
    parked->start.name = must_copy(start->name);
    int argc = start->argc > 0 ? start->argc : 0;
    char **argv = must_allocate(((size_t)argc + 1) * sizeof *argv);
    for (int i = 0; i < argc; i++)
        argv[i] = must_copy(start->argv[i]);
    argv[argc] = NULL;
    parked->start.argv = argv;
    parked->start.argc = argc;
    if (holder->parked_last != NULL)
        holder->parked_last->next = parked;
    else
        holder->parked_first = parked;
    holder->parked_last = parked;
}

void free_parked(struct parked_start *parked)
{
    free(parked->supervisor);
    free((char *)parked->start.id);
    free((char *)parked->start.plugin);
    free((char *)parked->start.name);
    for (int i = 0; i < parked->start.argc; i++)
        free(parked->start.argv[i]);
    free((char **)parked->start.argv);
    free(parked);
}

struct parked_start *take_unparked(struct tree *tree)
{
    struct parked_start *parked = tree->unparked_first;
    if (parked != NULL) {
        tree->unparked_first = parked->next;
        if (tree->unparked_first == NULL)
            tree->unparked_last = NULL;
        parked->next = NULL;
    }
    return parked;
}

void free_child(struct tree *tree, struct child *child)
{
    while (child->parked_first != NULL) {
        struct parked_start *parked = child->parked_first;
        child->parked_first = parked->next;
        free_parked(parked);
    }
    release_string(&tree->shared, child->info.id);
    release_string(&tree->shared, child->info.plugin);
    free((char *)child->info.name);
    release_arguments(&tree->shared, child->info.argv, child->info.argc);
    free(child->terminate_tokens);
    free(child);
}

static void free_supervisor(struct tree *tree, struct supervisor *sup)
{
    struct child *next;
    for (struct child *child = sup->first; child != NULL; child = next) {
        next = child->next;
        free_child(tree, child);
    }
    hashmap_free(&sup->children_by_name);
    window_free(&sup->restarts);
    free(sup->name);
    free(sup);
}

void free_removed_children(struct tree *tree)
{
    while (tree->removed != NULL) {
        struct child *child = tree->removed;
        tree->removed = child->next_removed;
        free_child(tree, child);
    }
    while (tree->removed_supervisors != NULL) {
        struct supervisor *sup = tree->removed_supervisors;
        tree->removed_supervisors = sup->next_removed;
        free_supervisor(tree, sup);
    }
}

void detach_supervisor(struct tree *tree, struct supervisor *sup)
{
    for (size_t i = 0; i < tree->supervisor_count; i++)
        if (tree->supervisors[i] == sup) {
            memmove(&tree->supervisors[i], &tree->supervisors[i + 1],
                    (tree->supervisor_count - i - 1) * sizeof *tree->supervisors);
            tree->supervisor_count--;
            break;
        }
    hashmap_remove_string(&tree->supervisors_by_name, sup->name);
    sup->next_removed = tree->removed_supervisors;
    tree->removed_supervisors = sup;
}

void set_state(struct child *child, enum child_state state)
{
    struct child_counts *counts = &child->supervisor->counts;
    if (child->info.state == CHILD_RUNNING && state != CHILD_RUNNING)
        counts->active--;
    if (child->info.state != CHILD_RUNNING && state == CHILD_RUNNING)
        counts->active++;
    child->info.state = state;
}

void set_process(struct tree *tree, struct child *child, pid_t pid)
{
    child->process_pid = pid;
    if (hashmap_put_number(&tree->children_by_pid, (uint64_t)pid, child) != 0)
        out_of_memory();
}

void forget_process(struct tree *tree, struct child *child)
{
    if (child->process_pid != 0 &&
        hashmap_get_number(&tree->children_by_pid, (uint64_t)child->process_pid) == child)
        hashmap_remove_number(&tree->children_by_pid, (uint64_t)child->process_pid);
    child->process_pid = 0;
    child->info.started_at = -1;
}

void remove_child(struct tree *tree, struct child *child)
{
    struct supervisor *sup = child->supervisor;
    set_state(child, CHILD_STOPPING); /* leaves `active` if it was running */
    forget_process(tree, child);
    if (child->previous != NULL)
        child->previous->next = child->next;
    else
        sup->first = child->next;
    if (child->next != NULL)
        child->next->previous = child->previous;
    else
        sup->last = child->previous;
    hashmap_remove_number(&tree->children_by_key, child->info.key);
    if (child->info.name != NULL)
        hashmap_remove_string(&sup->children_by_name, child->info.name);
    sup->counts.specs--;
    sup->counts.workers--;
    tree->child_total--;
    count_plugin_child(tree, child->info.plugin, -1);
    /* Whoever waited for this name gets its turn, in order. */
    if (child->parked_first != NULL) {
        if (tree->unparked_last != NULL)
            tree->unparked_last->next = child->parked_first;
        else
            tree->unparked_first = child->parked_first;
        tree->unparked_last = child->parked_last;
        child->parked_first = child->parked_last = NULL;
    }
    child->next_removed = tree->removed;
    tree->removed = child;
}

void add_terminate_token(struct child *child, request_token token)
{
    if (child->terminate_count == child->terminate_capacity) {
        if (child->terminate_capacity >= UINT32_MAX / 2)
            out_of_memory(); /* four billion waiting terminate_child requests */
        uint32_t capacity = child->terminate_capacity == 0 ? 2 : child->terminate_capacity * 2;
        child->terminate_tokens =
            must_reallocate(child->terminate_tokens, capacity * sizeof *child->terminate_tokens);
        child->terminate_capacity = capacity;
    }
    child->terminate_tokens[child->terminate_count++] = token;
}
/* ---- the tree ---- */

/* Without an injected source every backoff wait is its nominal delay:
 * the middle of the jitter range. */
static uint32_t no_jitter(void *context)
{
    (void)context;
    return UINT32_C(1) << 31;
}

void tree_set_random_source(struct tree *tree, struct random_source source)
{
    tree->random = source.next != NULL ? source : (struct random_source){no_jitter, NULL};
}

struct tree *tree_new(uint32_t root_max_restarts, uint32_t root_max_seconds)
{
    struct tree *tree = must_allocate(sizeof *tree);
    hashmap_init(&tree->supervisors_by_name);
    hashmap_init(&tree->children_by_key);
    hashmap_init(&tree->children_by_pid);
    hashmap_init(&tree->children_by_plugin);
    shared_texts_init(&tree->shared);
    tree->next_key = 1;
    tree->root_max_restarts = root_max_restarts;
    tree->root_max_seconds = root_max_seconds;
    tree->random = (struct random_source){no_jitter, NULL};
    return tree;
}

void tree_free(struct tree *tree)
{
    if (tree == NULL)
        return;
    free_removed_children(tree);
    for (struct parked_start *parked; (parked = take_unparked(tree)) != NULL;)
        free_parked(parked);
    for (size_t i = 0; i < tree->supervisor_count; i++)
        free_supervisor(tree, tree->supervisors[i]);
    free(tree->supervisors);
    hashmap_free(&tree->supervisors_by_name);
    hashmap_free(&tree->children_by_key);
    hashmap_free(&tree->children_by_pid);
    hashmap_free(&tree->children_by_plugin);
    shared_texts_free(&tree->shared);
    window_free(&tree->root_restarts);
    free(tree);
}

int tree_add_supervisor(struct tree *tree, const struct supervisor_config *config)
{
    if (config->name == NULL || find_supervisor(tree, config->name) != NULL)
        return -1;
    struct supervisor *sup = must_allocate(sizeof *sup);
    sup->name = must_copy(config->name);
    sup->max_children = config->max_children;
    sup->max_restarts = config->max_restarts;
    sup->max_seconds = config->max_seconds;
    hashmap_init(&sup->children_by_name);
    if (tree->supervisor_count == tree->supervisor_capacity) {
        size_t capacity = tree->supervisor_capacity == 0 ? 4 : tree->supervisor_capacity * 2;
        tree->supervisors = must_reallocate(tree->supervisors, capacity * sizeof *tree->supervisors);
        tree->supervisor_capacity = capacity;
    }
    tree->supervisors[tree->supervisor_count++] = sup;
    if (hashmap_put_string(&tree->supervisors_by_name, sup->name, sup) != 0)
        out_of_memory();
    return 0;
}

/* ---- queries ---- */

bool tree_has_supervisor(const struct tree *tree, const char *supervisor)
{
    return find_supervisor(tree, supervisor) != NULL;
}

bool tree_is_stopping(const struct tree *tree)
{
    return tree->stopping;
}

int tree_each_child(const struct tree *tree, const char *supervisor,
                    void (*visit)(const struct child_info *child, void *context), void *context)
{
    const struct supervisor *sup = find_supervisor(tree, supervisor);
    if (sup == NULL)
        return -1;
    for (const struct child *child = sup->first; child != NULL; child = child->next)
        visit(&child->info, context);
    return 0;
}

int tree_count_children(const struct tree *tree, const char *supervisor,
                        struct child_counts *counts)
{
    const struct supervisor *sup = find_supervisor(tree, supervisor);
    if (sup == NULL)
        return -1;
    *counts = sup->counts;
    return 0;
}

void tree_each_supervisor(const struct tree *tree, ds_time_ms now,
                          void (*visit)(const struct supervisor_status *status, void *context),
                          void *context)
{
    for (size_t i = 0; i < tree->supervisor_count; i++) {
        const struct supervisor *sup = tree->supervisors[i];
        struct supervisor_status status = {
            .name = sup->name,
            .counts = sup->counts,
            .restarts_in_window = window_count_at(&sup->restarts, now, sup->max_seconds),
            .times_restarted = sup->times_restarted,
            .stopping = sup->terminating || tree->stopping,
        };
        visit(&status, context);
    }
}

size_t tree_count_plugin_children(const struct tree *tree, const char *plugin)
{
    return (uintptr_t)hashmap_get_string(&tree->children_by_plugin, plugin);
}

uint32_t tree_root_restarts_in_window(const struct tree *tree, ds_time_ms now)
{
    return window_count_at(&tree->root_restarts, now, tree->root_max_seconds);
}

const struct child_info *tree_find_child(const struct tree *tree, child_key key)
{
    const struct child *child = find_child(tree, key);
    return child != NULL ? &child->info : NULL;
}

const char *tree_child_supervisor(const struct tree *tree, child_key key)
{
    const struct child *child = find_child(tree, key);
    return child != NULL ? child->supervisor->name : NULL;
}
