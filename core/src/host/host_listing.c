/*
 * which_children off the loop (issue 13): formatting 10,000 children costs
 * about a hundred milliseconds of CPU, and a client asking in a loop would
 * keep the host busy all that time. Slicing the work between the loop's
 * other turns was not enough: the loop answered a death at once, but the
 * host still ate its whole CPU, and the processes a restart needs (the
 * spawner, the new worker) waited for a CPU behind it; under a real-time
 * policy the kernel even throttled the busy CPU for tens of milliseconds.
 * Supervision must never wait behind a query, so queries get what the
 * machine can spare:
 *
 *   1. on the loop, a snapshot: every child of the supervisor, its fields
 *      and strings copied into memory the listing owns, SNAPSHOT_SLICE
 *      children per loop turn (an idle handle, active only while one is
 *      being taken);
 *   2. in libuv's thread pool, the formatting, at a lower priority than
 *      the host's (SCHED_BATCH, nice + FORMAT_NICENESS): any supervision
 *      work, in this process or another, runs first;
 *   3. on the loop again, the answer goes out, still in its connection's
 *      request order (control.c keeps that).
 *
 * What the answer shows: every child that existed when the request came
 * and still existed when its turn in the snapshot came, as it was then.
 * A short listing is formatted at once on the loop, as before.
 *
 * Ownership: the host owns its queue of listings being snapshotted; a
 * listing handed to the thread pool is owned by its work request until
 * the loop's after-work callback frees it. The host uses the thread pool
 * for nothing else, so lowering the priority of its threads is ours to do.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "host_internal.h"
#include "protocol.h"

#define SHORT_LISTING 64
#define SNAPSHOT_SLICE 512
#define FORMAT_NICENESS 5
#define ARENA_BLOCK (64 * 1024)

/* Strings of the snapshot, in blocks that never move. */
struct arena_block {
    struct arena_block *next;
    size_t used, size;
    _Alignas(max_align_t) char bytes[];
};

struct listing {
    struct listing *next;
    struct host *host;
    uint64_t token;
    int64_t unix_ms_at_zero;
    child_key *keys;        /* the children asked about, in tree order */
    size_t count, done;
    struct child_info *entries;
    const char **versions;
    size_t entry_count;
    struct arena_block *arena;
    bool out_of_memory;
    bool abandoned;         /* the host is exiting: the answer goes nowhere */
    uv_work_t work;
    char *line;             /* the thread's answer, or NULL (out of memory) */
};

static void *arena_take(struct listing *listing, size_t size)
{
    size = (size + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
    struct arena_block *block = listing->arena;
    if (!block || block->size - block->used < size) {
        size_t capacity = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        block = malloc(sizeof *block + capacity);
        if (!block) {
            listing->out_of_memory = true;
            return NULL;
        }
        block->next = listing->arena;
        block->used = 0;
        block->size = capacity;
        listing->arena = block;
    }
    void *taken = block->bytes + block->used;
    block->used += size;
    return taken;
}

static const char *arena_copy(struct listing *listing, const char *text)
{
    if (!text)
        return NULL;
    size_t length = strlen(text) + 1;
    char *copy = arena_take(listing, length);
    if (copy)
        memcpy(copy, text, length);
    return copy;
}

static void listing_free(struct listing *listing)
{
    while (listing->arena) {
        struct arena_block *next = listing->arena->next;
        free(listing->arena);
        listing->arena = next;
    }
    free(listing->keys);
    free(listing->entries);
    free(listing->versions);
    free(listing->line);
    free(listing);
}

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
    const struct spawner_link *next = host_restart_generation(host, child->plugin);
    return next ? next->version : NULL;
}

/* Copies the child as it is now; what the entry points to is the
 * listing's own from here on. */
static void snapshot_child(struct listing *listing, const struct child_info *child)
{
    struct child_info *entry = &listing->entries[listing->entry_count];
    *entry = *child;
    entry->shell_data = NULL;
    entry->id = arena_copy(listing, child->id);
    entry->plugin = arena_copy(listing, child->plugin);
    entry->name = arena_copy(listing, child->name);
    entry->argv = child->argc > 0 ? arena_take(listing, (size_t)child->argc * sizeof(char *))
                                  : NULL;
    for (int i = 0; entry->argv && i < child->argc; i++)
        entry->argv[i] = (char *)arena_copy(listing, child->argv[i]);
    listing->versions[listing->entry_count] =
        arena_copy(listing, plugin_version_of(listing->host, child));
    if (!listing->out_of_memory)
        listing->entry_count++;
}

static void snapshot_up_to(struct listing *listing, size_t up_to)
{
    for (; listing->done < up_to && !listing->out_of_memory; listing->done++) {
        const struct child_info *child = tree_find_child(listing->host->tree,
                                                         listing->keys[listing->done]);
        if (child)
            snapshot_child(listing, child);
    }
}

static char *format_answer(struct listing *listing)
{
    if (listing->out_of_memory)
        return NULL; /* control_reply answers that it ran out of memory */
    struct children_writer *writer = children_writer_new(listing->unix_ms_at_zero);
    for (size_t i = 0; i < listing->entry_count; i++)
        children_writer_add(writer, &listing->entries[i], listing->versions[i]);
    return children_writer_finish(writer);
}

static void answer(struct host *host, struct listing *listing)
{
    if (host->control && !listing->abandoned) {
        control_reply(host->control, listing->token, listing->line);
        listing->line = NULL;
    }
    listing_free(listing);
}

/* In a thread of the pool: the CPU it uses is what supervision leaves. */
static void lower_this_thread(void)
{
    static _Thread_local bool lowered;
    if (lowered)
        return;
    lowered = true;
    struct sched_param none = {.sched_priority = 0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &none);
    pid_t thread = gettid();
    errno = 0;
    int niceness = getpriority(PRIO_PROCESS, (id_t)thread);
    if (errno == 0)
        setpriority(PRIO_PROCESS, (id_t)thread,
                    niceness + FORMAT_NICENESS > 19 ? 19 : niceness + FORMAT_NICENESS);
}

static void on_format(uv_work_t *work)
{
    struct listing *listing = work->data;
    lower_this_thread();
    listing->line = format_answer(listing);
}

static void on_formatted(uv_work_t *work, int status)
{
    struct listing *listing = work->data;
    struct host *host = listing->host;
    struct listing **link = &host->formatting;
    while (*link != listing)
        link = &(*link)->next;
    *link = listing->next;
    if (status != 0) /* cancelled: the host is exiting */
        listing->abandoned = true;
    answer(host, listing);
}

static void hand_to_thread(struct host *host, struct listing *listing)
{
    listing->work.data = listing;
    listing->next = host->formatting;
    host->formatting = listing;
    /* libuv starts its pool in the first uv_queue_work, on this thread:
     * with every signal blocked here, its threads never take one of the
     * host's (they all belong to the loop). */
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    int queued = uv_queue_work(&host->loop, &listing->work, on_format, on_formatted);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    if (queued != 0) {
        host->formatting = listing->next;
        listing->line = format_answer(listing); /* cannot happen with a live loop */
        answer(host, listing);
    }
}

static void on_listing_turn(uv_idle_t *idle)
{
    struct host *host = idle->data;
    struct listing *listing = host->listings;
    if (!listing) {
        uv_idle_stop(idle);
        return;
    }
    size_t up_to = listing->done + SNAPSHOT_SLICE;
    snapshot_up_to(listing, up_to < listing->count ? up_to : listing->count);
    if (listing->done < listing->count && !listing->out_of_memory)
        return;
    host->listings = listing->next;
    hand_to_thread(host, listing);
    if (!host->listings)
        uv_idle_stop(idle);
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

int host_list_children(struct host *host, const char *supervisor, uint64_t token,
                       int64_t unix_ms_at_zero)
{
    struct key_collector collector = {NULL, 0, 0, false};
    if (tree_each_child(host->tree, supervisor, collect_key, &collector) < 0) {
        free(collector.keys);
        return -1;
    }
    struct listing *listing = calloc(1, sizeof *listing);
    if (!listing) {
        free(collector.keys);
        if (host->control)
            control_reply(host->control, token, NULL); /* out of memory: said so */
        return 0;
    }
    listing->host = host;
    listing->token = token;
    listing->unix_ms_at_zero = unix_ms_at_zero;
    listing->keys = collector.keys;
    listing->count = collector.count;
    listing->out_of_memory = collector.out_of_memory;
    if (listing->count > 0) {
        listing->entries = malloc(listing->count * sizeof *listing->entries);
        listing->versions = malloc(listing->count * sizeof *listing->versions);
        if (!listing->entries || !listing->versions)
            listing->out_of_memory = true;
    }
    if (listing->out_of_memory || (listing->count <= SHORT_LISTING && !host->listings)) {
        snapshot_up_to(listing, listing->count);
        listing->line = format_answer(listing);
        answer(host, listing);
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

/* Listings still being snapshotted go now; one in the thread pool is
 * cancelled if it has not begun, and its callback frees it either way
 * (the loop runs until it has). */
void host_listings_close(struct host *host)
{
    for (struct listing *listing = host->formatting; listing; listing = listing->next) {
        listing->abandoned = true;
        uv_cancel((uv_req_t *)&listing->work);
    }
    while (host->listings) {
        struct listing *listing = host->listings;
        host->listings = listing->next;
        listing_free(listing);
    }
    if (host->listing_idle_started) {
        host->listing_idle_started = false;
        uv_close((uv_handle_t *)&host->listing_idle, NULL);
    }
}
