/*
 * Shared between the host's rooms: host.c (boot, signals, timers, carrying
 * out the tree's actions), host_workers.c (the spawner link and each
 * worker's pipes) and host_requests.c (control requests).
 *
 * Ownership: struct host owns everything hanging off it; worker_io and
 * shutdown timers are freed in their libuv close callbacks.
 */
#ifndef DYNSUP_HOST_INTERNAL_H
#define DYNSUP_HOST_INTERNAL_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"
#include "control.h"
#include "hashmap.h"
#include "spawner.h"
#include "supervisor.h"

struct outgoing_message {
    struct outgoing_message *next;
    child_key key;       /* the child this SPAWN is for */
    size_t length;
    char data[];
};

struct host {
    uv_loop_t loop;
    struct config config;
    struct tree *tree;
    struct plugin_list plugins;
    uint64_t started_at_ms;
    bool stopping;       /* tree_stop was called */
    bool exiting;        /* ACTION_EXIT came: closing handles */
    int exit_status;

    pid_t spawner_pid;
    int spawner_fd;
    uv_poll_t spawner_watcher;
    bool spawner_writable_wanted;
    struct outgoing_message *outgoing_head, *outgoing_tail;

    uv_signal_t stop_signals[2];   /* SIGTERM, SIGINT */
    uv_signal_t child_signal;      /* SIGCHLD: the spawner only */
    uv_signal_t *event_signals;    /* one per event with a signal */
    size_t event_signal_count;
    uv_timer_t *event_timers;      /* one per event with an interval */
    size_t event_timer_count;

    struct control_server *control;
    struct hashmap workers_by_pid;   /* pid -> struct worker_io */
    struct hashmap timers_by_key;    /* child_key -> struct shutdown_timer */

    /* spawn failures found while carrying out actions, fed back after */
    struct deferred_failure { child_key key; char detail[128]; } *deferred;
    size_t deferred_count, deferred_capacity;
};

/* host.c */
ds_time_ms host_now(struct host *host);
/* Carries out and clears `actions`; feeds back spawn failures. */
void host_apply(struct host *host, struct action_list *actions);
void host_begin_stop(struct host *host, const char *why);
/* Logs the answer to a start nobody waits for (autostart, signal, interval). */
void host_log_unclaimed_answer(const char *supervisor, const struct reply *reply);
/* The spawner is gone (or its socket is): every worker went with it. */
void host_spawner_lost(struct host *host, const char *how);
/* A spawn that failed while actions were being carried out; fed back to
 * the tree by host_apply once the current list is done. */
void host_defer_spawn_failure(struct host *host, child_key key, const char *detail);

/* host_workers.c */
int host_workers_start(struct host *host);
void host_workers_close(struct host *host);
/* Queues a SPAWN for the spawner; -1 if the request cannot be encoded. */
int host_send_spawn(struct host *host, const struct action *spawn);

/* host_requests.c */
void host_on_request(void *context, const struct request *request, uint64_t token);
/* Starts `child_id` under `supervisor` with extra words; token 0 logs the answer. */
void host_start_child(struct host *host, const char *supervisor, const char *child_id,
                      const char *name, char *const *request_args, int request_argc,
                      uint64_t token);
void host_fire_event(struct host *host, const struct event_spec *event, uint64_t token,
                     const char *source);

#endif
