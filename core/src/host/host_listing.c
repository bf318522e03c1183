/*
 * which_children in slices (issue 13): listing 10,000 children costs tens
 * of milliseconds of formatting, and the loop must not wait behind it: a
 * child dying meanwhile is to be noticed and restarted at once, whatever
 * any client asks. So a long listing takes a snapshot of the children's
 * keys and is formatted LISTING_SLICE entries per loop turn (an idle
 * handle, active only while a listing is pending), the loop's other work
 * running in between; the answer goes out when the last slice is done,
 * still in its connection's request order (control.c keeps that).
 *
 * What the answer shows: every child that existed when the request came
 * and still exists when its entry is written, each entry as it is at that
 * moment. A short listing is written at once, as before.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"
#include "protocol.h"

#define LISTING_SLICE 64

struct listing {
    struct listing *next;
    uint64_t token;
    child_key *keys;
    size_t count, done;
    struct children_writer *writer;
};

/* The version of the plugin generation the child's process runs (each
 * generation keeps its own after a reload, SPEC section 8); without a
 * process, the one its next start or restart will run. */
static const char *plugin_version_of(struct host *host, const struct child_info *child)
{
    if (child->pid > 0)
        for (size_t i = 0; i < host->spawner_count; i++) {
            const struct spawner_link *link = host->spawners[i];
            if (strcmp(link->plugin, child->plugin) == 0 &&
                hashmap_get_number(&host->workers_by_pid, worker_key(i, child->pid)))
                return link->version;
        }
    const struct spawner_link *current = host_current_generation(host, child->plugin);
    return current ? current->version : NULL;
}

struct key_collector {
    child_key *keys;
    size_t count, capacity;
    bool out_of_memory;
};

static void collect_key(const struct child_info *child, void *context)
{
    struct key_collector *collector = context;
    if (collector->count == collector->capacity) {
        size_t capacity = collector->capacity ? collector->capacity * 2 : 64;
        child_key *grown = realloc(collector->keys, capacity * sizeof *grown);
        if (!grown) {
            collector->out_of_memory = true;
            return;
        }
        collector->keys = grown;
        collector->capacity = capacity;
    }
    collector->keys[collector->count++] = child->key;
}

static void write_entries(struct host *host, struct listing *listing, size_t up_to)
{
    for (; listing->done < up_to; listing->done++) {
        const struct child_info *child = tree_find_child(host->tree, listing->keys[listing->done]);
        if (child)
            children_writer_add(listing->writer, child, plugin_version_of(host, child));
    }
}

static void finish(struct host *host, struct listing *listing)
{
    char *line = children_writer_finish(listing->writer);
    if (host->control)
        control_reply(host->control, listing->token, line);
    else
        free(line);
    free(listing->keys);
    free(listing);
}

static void on_listing_turn(uv_idle_t *idle)
{
    struct host *host = idle->data;
    struct listing *listing = host->listings;
    if (!listing) {
        uv_idle_stop(idle);
        return;
    }
    size_t up_to = listing->done + LISTING_SLICE;
    write_entries(host, listing, up_to < listing->count ? up_to : listing->count);
    /* Between slices the host offers its CPU: a spawner or a new worker
     * waiting on this CPU runs now, even under a real-time policy where
     * nothing of the same priority would preempt a busy host. */
    sched_yield();
    if (listing->done < listing->count)
        return;
    host->listings = listing->next;
    finish(host, listing);
    if (!host->listings)
        uv_idle_stop(idle);
}

int host_list_children(struct host *host, const char *supervisor, uint64_t token,
                       int64_t unix_ms_at_zero)
{
    struct key_collector collector = {NULL, 0, 0, false};
    if (tree_each_child(host->tree, supervisor, collect_key, &collector) < 0) {
        free(collector.keys);
        return -1;
    }
    struct listing *listing = calloc(1, sizeof *listing);
    if (listing) {
        listing->token = token;
        listing->keys = collector.keys;
        listing->count = collector.count;
        listing->writer = children_writer_new(unix_ms_at_zero);
    }
    if (!listing || !listing->writer || collector.out_of_memory) {
        if (listing)
            free(children_writer_finish(listing->writer));
        free(listing);
        free(collector.keys);
        if (host->control)
            control_reply(host->control, token, NULL); /* out of memory: said so */
        return 0;
    }
    if (listing->count <= LISTING_SLICE && !host->listings) {
        write_entries(host, listing, listing->count);
        finish(host, listing);
        return 0;
    }
    struct listing **tail = &host->listings;
    while (*tail)
        tail = &(*tail)->next;
    *tail = listing;
    if (!host->listing_idle_started) {
        uv_idle_init(&host->loop, &host->listing_idle);
        host->listing_idle.data = host;
        host->listing_idle_started = true;
    }
    uv_idle_start(&host->listing_idle, on_listing_turn);
    return 0;
}

void host_listings_close(struct host *host)
{
    while (host->listings) {
        struct listing *listing = host->listings;
        host->listings = listing->next;
        free(children_writer_finish(listing->writer));
        free(listing->keys);
        free(listing);
    }
    if (host->listing_idle_started) {
        host->listing_idle_started = false;
        uv_close((uv_handle_t *)&host->listing_idle, NULL);
    }
}
