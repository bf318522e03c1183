/*
 * History counters for the metrics (see metrics_counters.h). Pure: no
 * system calls, so tested with cmocka like the tree.
 */
#include "metrics_counters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double start_latency_buckets[START_LATENCY_BUCKET_COUNT] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
};

struct pending_start {
    ds_time_ms requested_at;
};

const char *exit_kind_name(enum exit_kind kind)
{
    switch (kind) {
    case EXIT_KIND_NORMAL:
        return "normal";
    case EXIT_KIND_ERROR:
        return "error";
    case EXIT_KIND_SIGNAL:
    case EXIT_KIND_COUNT:
        break;
    }
    return "signal";
}

enum exit_kind exit_kind_of(const struct child_exit *how)
{
    if (how->signal != 0)
        return EXIT_KIND_SIGNAL;
    return how->exit_code == 0 ? EXIT_KIND_NORMAL : EXIT_KIND_ERROR;
}

const char *start_result_name(int result)
{
    if (result == START_RESULT_OK)
        return "ok";
    if (result == START_RESULT_IGNORE)
        return "ignore";
    return reply_error_name((enum reply_error)(result - 2));
}

void metrics_counters_init(struct metrics_counters *counters)
{
    memset(counters, 0, sizeof *counters);
    hashmap_init(&counters->children_by_key);
    hashmap_init(&counters->supervisors_by_name);
    hashmap_init(&counters->start_times);
}

void metrics_counters_free(struct metrics_counters *counters)
{
    for (size_t i = 0; i < counters->child_count; i++) {
        /* the map's string key is the entry's own copy: free after the map */
        free(counters->children[i]->supervisor);
        free(counters->children[i]->child);
    }
    hashmap_free(&counters->children_by_key);
    hashmap_free(&counters->supervisors_by_name);
    for (size_t i = 0; i < counters->start_times.capacity; i++)
        free(counters->start_times.slots[i].value);
    hashmap_free(&counters->start_times);
    for (size_t i = 0; i < counters->child_count; i++)
        free(counters->children[i]);
    for (size_t i = 0; i < counters->supervisor_count; i++) {
        free(counters->supervisors[i]->supervisor);
        free(counters->supervisors[i]);
    }
    free(counters->children);
    free(counters->supervisors);
    memset(counters, 0, sizeof *counters);
}

static int grow(void ***items, size_t count, size_t *capacity)
{
    if (count < *capacity)
        return 0;
    size_t wanted = *capacity ? *capacity * 2 : 8;
    void **grown = realloc(*items, wanted * sizeof *grown);
    if (!grown)
        return -1;
    *items = grown;
    *capacity = wanted;
    return 0;
}

/* The key is "supervisor\nchild": neither name may hold a newline. The
 * map keeps a pointer to it, so it lives in the entry (after the struct). */
static struct child_counters *child_entry(struct metrics_counters *counters, const char *supervisor,
                                          const char *child)
{
    char key[256];
    if (snprintf(key, sizeof key, "%s\n%s", supervisor, child) >= (int)sizeof key)
        return NULL;
    struct child_counters *found = hashmap_get_string(&counters->children_by_key, key);
    if (found)
        return found;
    size_t key_size = strlen(key) + 1;
    struct child_counters *entry = calloc(1, sizeof *entry + key_size);
    if (!entry || grow((void ***)&counters->children, counters->child_count,
                       &counters->child_capacity) != 0) {
        free(entry);
        return NULL;
    }
    char *stored_key = (char *)(entry + 1);
    memcpy(stored_key, key, key_size);
    entry->supervisor = strdup(supervisor);
    entry->child = strdup(child);
    if (!entry->supervisor || !entry->child ||
        hashmap_put_string(&counters->children_by_key, stored_key, entry) != 0) {
        free(entry->supervisor);
        free(entry->child);
        free(entry);
        return NULL;
    }
    counters->children[counters->child_count++] = entry;
    return entry;
}

static struct supervisor_counters *supervisor_entry(struct metrics_counters *counters,
                                                    const char *supervisor)
{
    struct supervisor_counters *found = hashmap_get_string(&counters->supervisors_by_name, supervisor);
    if (found)
        return found;
    struct supervisor_counters *entry = calloc(1, sizeof *entry);
    if (!entry || grow((void ***)&counters->supervisors, counters->supervisor_count,
                       &counters->supervisor_capacity) != 0) {
        free(entry);
        return NULL;
    }
    entry->supervisor = strdup(supervisor);
    if (!entry->supervisor ||
        hashmap_put_string(&counters->supervisors_by_name, entry->supervisor, entry) != 0) {
        free(entry->supervisor);
        free(entry);
        return NULL;
    }
    counters->supervisors[counters->supervisor_count++] = entry;
    return entry;
}

/* Which start result a reply is, or -1 when it answers something else
 * (terminate_child's ok and not_found carry no pid). */
static int start_result_of(const struct reply *reply)
{
    switch (reply->kind) {
    case REPLY_OK:
        return reply->pid > 0 ? START_RESULT_OK : -1;
    case REPLY_IGNORE:
        return START_RESULT_IGNORE;
    case REPLY_ERROR:
        /* unknown_supervisor: the name is the caller's, not a label we
         * may let grow without bound */
        if (reply->error == ERR_NOT_FOUND || reply->error == ERR_NONE ||
            reply->error == ERR_UNKNOWN_SUPERVISOR || reply->error > ERR_SHUTTING_DOWN)
            return -1;
        return 2 + (int)reply->error;
    }
    return -1;
}

void metrics_start_requested(struct metrics_counters *counters, request_token token, ds_time_ms now)
{
    if (token == 0)
        return;
    struct pending_start *pending = malloc(sizeof *pending);
    if (!pending)
        return;
    pending->requested_at = now;
    free(hashmap_remove_number(&counters->start_times, token));
    if (hashmap_put_number(&counters->start_times, token, pending) != 0)
        free(pending);
}

static void observe_latency(struct supervisor_counters *entry, double seconds)
{
    for (size_t i = 0; i < START_LATENCY_BUCKET_COUNT; i++)
        if (seconds <= start_latency_buckets[i])
            entry->latency_buckets[i]++;
    entry->latency_count++;
    entry->latency_sum_seconds += seconds;
}

void metrics_record_action(struct metrics_counters *counters, const struct action *action,
                           ds_time_ms now)
{
    if (action->kind == ACTION_SPAWN && action->child && action->supervisor &&
        action->child->state == CHILD_RESTARTING) {
        struct child_counters *entry = child_entry(counters, action->supervisor, action->child->id);
        if (entry)
            entry->restarts++;
    } else if (action->kind == ACTION_REPLY && action->supervisor) {
        /* Any answer ends the wait, even one that is not a start's. */
        struct pending_start *pending =
            action->token ? hashmap_remove_number(&counters->start_times, action->token) : NULL;
        int result = start_result_of(&action->reply);
        struct supervisor_counters *entry =
            result >= 0 ? supervisor_entry(counters, action->supervisor) : NULL;
        if (entry) {
            entry->starts[result]++;
            if (pending)
                observe_latency(entry, (double)(now - pending->requested_at) / 1000.0);
        }
        free(pending);
    }
}

void metrics_record_reload(struct metrics_counters *counters, bool ok, double now_unix)
{
    if (ok) {
        counters->reloads_ok++;
        counters->last_good_config_unix = now_unix;
    } else {
        counters->reloads_failed++;
    }
}

void metrics_record_exit(struct metrics_counters *counters, const char *supervisor,
                         const char *child, const struct child_exit *how)
{
    struct child_counters *entry =
        child_entry(counters, supervisor ? supervisor : "", child ? child : "");
    if (entry)
        entry->exits[exit_kind_of(how)]++;
}
