/*
 * Shared between the host's rooms: host.c (boot, signals, timers, carrying
 * out the tree's actions), host_spawners.c (the links to the spawners),
 * host_workers.c (each worker's pipes) and host_requests.c (control
 * requests).
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
#include "host_notify.h"
#include "metrics_counters.h"
#include "metrics_http.h"
#include "spawner.h"
#include "supervisor.h"

struct outgoing_message {
    struct outgoing_message *next;
    child_key key;       /* the child this SPAWN is for */
    size_t length;
    char data[];
};

/* The host's end of one spawner (one per plugin file, see spawner.h). */
struct spawner_link {
    struct host *host;
    const char *plugin;  /* owned by host->plugins */
    size_t plugin_index; /* in host->plugins */
    pid_t pid;           /* 0 once reaped */
    int fd;              /* -1 once closed */
    uv_poll_t watcher;
    bool watching, writable_wanted;
    struct outgoing_message *outgoing_head, *outgoing_tail;
    /* The spare the spawner handed over (spawner.c), pid 0 if none; its
     * three pipe ends are the host's until a start takes it. */
    struct spare_worker { pid_t pid; int job_fd, output_fd, report_fd; } spare;
    bool spare_requested;  /* SPARE_WANTED sent, SPARE not back yet */
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

    struct spawner_link *spawners;   /* one per plugin, in host->plugins' order */
    size_t spawner_count;

    uv_signal_t stop_signals[2];   /* SIGTERM, SIGINT */
    uv_signal_t child_signal;      /* SIGCHLD: the spawners only */
    uv_signal_t *event_signals;    /* one per event with a signal */
    size_t event_signal_count;
    uv_timer_t *event_timers;      /* one per event with an interval */
    size_t event_timer_count;

    struct control_server *control;
    struct host_notify notify;       /* systemd's notify protocol (host_notify.c) */
    struct metrics_counters counters;   /* history for the metrics (host_metrics.c) */
    struct metrics_http *metrics_http;  /* the [host] metrics_listen endpoint, or NULL */
    double started_at_unix;             /* process_start_time_seconds */
    struct hashmap workers_by_pid;   /* pid -> struct worker_io */
    struct hashmap timers_by_key;    /* child_key -> struct shutdown_timer */

    /* start outcomes found while carrying out actions, fed back after: a
     * failure (pid 0, detail), or a spare that took the job (pid, fds) */
    struct deferred_start {
        child_key key;
        pid_t pid;
        int fds[2];
        char detail[128];
    } *deferred;
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
/* Makes room for one more deferred start; -1 if out of memory. */
int host_reserve_deferred(struct host *host);
/* Likewise for a spare that took the job: pid with its output and report
 * pipes (now owned by the host's worker I/O). Call host_reserve_deferred
 * first, before the job is written: this one cannot fail then. */
void host_defer_spare_start(struct host *host, child_key key, pid_t pid, int output_fd,
                            int report_fd);

/* host_spawners.c */
/* Forks one spawner per plugin file of plugin_dir; fills host->plugins.
 * Returns 0, or -1 with every loading error (spawners already forked
 * stay, for host_spawners_stop). */
int host_spawners_launch(struct host *host, const char *plugin_dir, const char *work_dir,
                         struct error_list *errors);
int host_spawners_watch(struct host *host);
/* Closes every link (EOF tells each spawner to exit); with `wait`, reaps
 * them; with `kill`, SIGKILLs them first. */
void host_spawners_stop(struct host *host, bool kill_them, bool wait);
/* Closes the watchers and sockets from the loop (host exit). */
void host_spawners_close(struct host *host);
/* Reaps spawners that died: any death is host_spawner_lost. */
void host_spawners_reap(struct host *host);
/* Queues a SPAWN for the child's plugin's spawner; -1 with the reason in
 * `why` if the request cannot go. */
int host_send_spawn(struct host *host, const struct action *spawn, const char **why);

/* host_workers.c */
void host_worker_spawned(struct host *host, const struct spawner_spawned *spawned, const int *fds,
                         int fd_count, int message_flags);
/* The same, with the tree's actions appended to `out` (not carried out). */
void host_worker_spawned_into(struct host *host, const struct spawner_spawned *spawned,
                              const int *fds, int fd_count, int message_flags,
                              struct action_list *out);
void host_worker_exited(struct host *host, const struct spawner_exited *exited);
void host_workers_close(struct host *host);

/* host_metrics.c */
/* The metrics text (metrics.h) / the metrics request's answer line, malloc'd. */
char *host_metrics_text(struct host *host);
char *host_metrics_reply(struct host *host);

/* host_requests.c */
void host_on_request(void *context, const struct request *request, uint64_t token);
/* Starts `child_id` under `supervisor` with extra words; token 0 logs the answer. */
void host_start_child(struct host *host, const char *supervisor, const char *child_id,
                      const char *name, char *const *request_args, int request_argc,
                      uint64_t token);
void host_fire_event(struct host *host, const struct event_spec *event, uint64_t token,
                     const char *source);

#endif
