/*
 * Private to the supervisor core: the tree's data (supervisors, child
 * entries, the maps that find them, the counts, restart windows) and the
 * bookkeeping that keeps them consistent. What the events *mean* lives in
 * supervisor.c; this part only knows how entries are stored.
 *
 * Ownership: the tree owns its supervisors; a supervisor owns its child
 * entries; a child owns its registered name (copied from the start
 * request) and one reference each to its id, plugin and argument list,
 * which children started alike share (tree->shared).
 */
#ifndef DYNSUP_SUPERVISOR_TREE_H
#define DYNSUP_SUPERVISOR_TREE_H

#include "hashmap.h"
#include "supervisor.h"
#include "supervisor_shared.h"

/* A start_child naming a registered name whose holder has no pid yet (its
 * init is still running, or it is between restarts). OTP's supervisor
 * would only get to such a request after that init returned, so it waits
 * on the holder: answered already_started with the holder's real pid once
 * it runs, or started afresh once the holder is gone. Owns a deep copy of
 * the request. */
struct parked_start {
    struct parked_start *next;
    char *supervisor;
    request_token token;
    struct child_start start;
};

struct child {
    struct child_info info;      /* the public view; info.pid is the pid shown */
    struct supervisor *supervisor;
    struct child *previous, *next; /* start order */
    pid_t process_pid;           /* the live OS process, 0 if none */
    bool spawn_in_flight;        /* SPAWN emitted, no tree_spawned/spawn_failed yet */
    bool timer_armed;            /* TIMER_START emitted, not cancelled or fired */
    bool start_pending;          /* a start_child waits for init's answer */
    bool restart_waiting;        /* RESTARTING with its restart timer armed (backoff) */
    uint32_t backoff_step;       /* restarts in the current backoff series */
    request_token start_token;
    request_token *terminate_tokens; /* terminate_child requests waiting for the exit */
    /* 32 bits: an entry of 200 bytes rather than 208 lands in a smaller
     * malloc bin, 16 bytes less per child (tools/bench) */
    uint32_t terminate_count, terminate_capacity;
    struct parked_start *parked_first, *parked_last; /* waiting for this child's name */
    struct child *next_removed;  /* in tree->removed */
};

/* Times of recent restarts, oldest first, in a ring buffer. */
struct restart_window {
    ds_time_ms *times;
    size_t first, count, capacity;
};

struct supervisor {
    char *name;
    uint32_t max_children, max_restarts, max_seconds;
    struct child *first, *last;
    struct hashmap children_by_name; /* registered name -> child, any state */
    struct child_counts counts;
    struct restart_window restarts;
    uint32_t times_restarted;
    bool terminating; /* intensity exceeded: its children are being shut down */
    bool removing;    /* removed by a reload: gone once its children are */
    /* Removing, and a later reload added the name back: a new supervisor
     * with these settings (name NULL) replaces it once it is gone. */
    bool re_added;
    struct supervisor_config re_added_settings;
    struct supervisor *next_removed; /* in tree->removed_supervisors */
};

struct tree {
    struct supervisor **supervisors; /* in the order they were added */
    size_t supervisor_count, supervisor_capacity;
    struct hashmap supervisors_by_name;
    struct hashmap children_by_key;
    struct hashmap children_by_pid; /* every child with a live process */
    /* plugin name (a child's shared text) -> how many children run it,
     * stored as a number in the value: tree_count_plugin_children */
    struct hashmap children_by_plugin;
    size_t child_total;
    child_key next_key;
    uint32_t root_max_restarts, root_max_seconds;
    struct restart_window root_restarts;
    struct random_source random;    /* backoff jitter */
    bool stopping;  /* the host is stopping */
    bool exited;    /* ACTION_EXIT was emitted */
    int exit_status;
    struct shared_texts shared; /* children's ids, plugins, argument lists */
    struct child *removed; /* freed at the start of the next event */
    struct supervisor *removed_supervisors; /* likewise: actions may still name them */
    /* parked starts whose holder is gone: started again before the event ends */
    struct parked_start *unparked_first, *unparked_last;
};

void window_clear(struct restart_window *window);
void window_free(struct restart_window *window);
/* Records a restart at now. Returns false when this restart is one too many:
 * more than max_restarts within max_seconds (restarts exactly max_seconds
 * old no longer count). */
bool window_record(struct restart_window *window, ds_time_ms now, uint32_t max_restarts,
                   uint32_t max_seconds);
/* Restarts younger than max_seconds at now. */
uint32_t window_count_at(const struct restart_window *window, ds_time_ms now,
                         uint32_t max_seconds);

struct supervisor *find_supervisor(const struct tree *tree, const char *name);
struct child *find_child(const struct tree *tree, child_key key);
/* A new STARTING entry at the end of sup's start order, counted. */
struct child *new_child(struct tree *tree, struct supervisor *sup, const struct child_start *start,
                        request_token token);
void free_child(struct tree *tree, struct child *child);
/* Frees the entries removed during the previous event. */
void free_removed_children(struct tree *tree);
/* Takes an empty supervisor out of the tree; freed with the removed
 * children (the current event's actions may still name it). */
void detach_supervisor(struct tree *tree, struct supervisor *sup);
/* The only way to change a child's state, so `active` stays exact. */
void set_state(struct child *child, enum child_state state);
/* The child's process is pid (now findable by pid). */
void set_process(struct tree *tree, struct child *child, pid_t pid);
/* The process is gone, or will exit by itself and no longer concerns us:
 * its later exit is then an unknown pid, ignored. */
void forget_process(struct tree *tree, struct child *child);
/* Takes the entry out of the tree (maps, order, counts); freed at the next
 * event so that this event's actions may still point into it. */
void remove_child(struct tree *tree, struct child *child);
void add_terminate_token(struct child *child, request_token token);
/* Parks a copy of the request on holder (FIFO). */
void park_start(struct child *holder, const char *supervisor, const struct child_start *start,
                request_token token);
/* The next request whose holder went away, or NULL; the caller frees it. */
struct parked_start *take_unparked(struct tree *tree);
void free_parked(struct parked_start *parked);

#endif
