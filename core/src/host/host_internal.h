/*
 * Shared between the host's rooms: host.c (boot, signals, timers, carrying
 * out the tree's actions), host_spawners.c (the links to the spawners),
 * host_workers.c (each worker's pipes) and host_requests.c (control
 * requests).
 *
 * Ownership: struct host owns everything hanging off it; shutdown timers
 * are freed in their libuv close callbacks, a worker's record and pipes
 * as soon as its exit is heard (host_workers.c).
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
#include "host_pipe_set.h"
#include "spawner.h"
#include "supervisor.h"

struct outgoing_message {
    struct outgoing_message *next;
    child_key key;       /* the child this SPAWN is for */
    size_t length;
    char data[];
};

/* What a plugin file was when a generation was loaded from it: a file
 * that differs in any of these at a reload is a new generation. */
struct plugin_identity {
    dev_t device;
    ino_t inode;
    off_t size;
    struct timespec modified, changed;
};

/* The host's end of one spawner: one generation of one plugin file (see
 * spawner.h). Links are never moved (libuv holds their watcher) and keep
 * their index in host->spawners for the host's life: workers are keyed by
 * it. Ownership: the host owns the link and its strings. */
struct spawner_link {
    struct host *host;
    size_t index;        /* in host->spawners */
    const char *plugin;  /* = name */
    char *name, *version, *file, *file_name;  /* plugin name, its version, path, file in plugin_dir */
    unsigned generation; /* 1 for the first load of this plugin name, then 2, 3... */
    struct plugin_identity identity;
    /* The private copy the spawner loaded (plugin_copy.h), -1 if none: a
     * relaunch loads it, not the file, whatever the file holds by then. */
    int copy_fd;
    bool retired;        /* a newer generation (or nothing) serves new starts */
    pid_t pid;           /* 0 once reaped */
    int fd;              /* -1 once closed */
    uv_poll_t watcher;
    bool watching, writable_wanted;
    struct outgoing_message *outgoing_head, *outgoing_tail;
    /* The spare the spawner handed over (spawner.c), pid 0 if none; its
     * three pipe ends are the host's until a start takes it. */
    struct spare_worker { pid_t pid; int job_fd, output_fd, report_fd; } spare;
    bool spare_requested;  /* SPARE_WANTED sent, SPARE not back yet */
    struct held_start *held; /* a start waiting for that spare, or NULL (host_spares.c) */
    /* Starts sent whose SPAWNED has not come back, in the order sent (a
     * spawner answers in order): failed if the spawner is lost. */
    child_key *in_flight;
    size_t in_flight_head, in_flight_count, in_flight_capacity;
    size_t worker_count;   /* workers of this spawner the host knows */
    size_t kills_awaited;  /* of those, SIGKILLed: their exits must come */
    /* Liveness (host_liveness.c) */
    uint64_t last_heard_ms, ping_sent_ms;
    unsigned long long ping_cpu; /* its CPU time (ticks) when pinged */
    bool ping_outstanding;
    bool lost;             /* declared dead: its workers were reported gone */
};

/* A folder watched for [host] watch = yes (host_watch.c). */
struct watched_folder {
    uv_fs_event_t handle;
    struct host *host;
    char *path;
    char *only_name;      /* the one file name that counts, or NULL: ... */
    const char *suffix;   /* ... every name with this suffix */
};

struct host {
    uv_loop_t loop;
    struct config config;
    struct tree *tree;
    char *work_dir;                  /* the config's folder: where workers start */
    uint64_t started_at_ms;
    int64_t unix_ms_at_zero;         /* host_requests.c: wall-clock time of host_now() 0 */
    bool stopping;       /* tree_stop was called */
    bool exiting;        /* ACTION_EXIT came: closing handles */
    int exit_status;

    struct spawner_link **spawners;  /* every generation ever loaded, in load order */
    size_t spawner_count, spawner_capacity;
    size_t retired_connected;        /* retired generations not yet released */

    /* host_signals.c */
#define HOST_STOP_SIGNALS 3
#define HOST_EVENT_SIGNALS 3
    uv_signal_t stop_signals[HOST_STOP_SIGNALS];   /* SIGTERM, SIGINT, SIGQUIT */
    uv_signal_t event_signals[HOST_EVENT_SIGNALS]; /* SIGHUP, SIGUSR1, SIGUSR2 */
    int signal_fd;                 /* every other signal, logged (signalfd) */
    uv_poll_t signal_watcher;
    bool signals_started;
    uv_signal_t child_signal;      /* SIGCHLD: the spawners only */
    /* host_liveness.c: pings spawners while an answer from them is
     * awaited (stopping, or after a SIGKILL to a worker) */
    uv_timer_t liveness_timer;
    bool liveness_started, liveness_running;
    struct event_timer {           /* one per event with an interval; freed on close */
        uv_timer_t handle;
        const struct event_spec *event;
        uint64_t due_ms;           /* loop time of the next firing before its jitter */
    } **event_timers;
    size_t event_timer_count;
    /* host_reload.c: configs replaced by a reload, kept to the end
     * (running workers' log tags point into them) */
    struct config **retired_configs;
    size_t retired_config_count;
    uint64_t reload_count;
    /* supervisors the tree announced as added, whose autostart runs
     * once the current action list is carried out */
    char **due_autostarts;
    size_t due_autostart_count;
    /* host_listing.c: which_children answers being snapshotted in slices,
     * and those the thread pool is formatting */
    struct listing *listings;
    struct listing *formatting;
    uv_idle_t listing_idle;
    bool listing_idle_started;
    struct {
        struct watched_folder *folders[3];
        size_t count;
        uv_timer_t settle;     /* the burst is over: reload */
        bool timer_started;
    } watch;

    struct control_server *control;
    struct host_notify notify;       /* systemd's notify protocol (host_notify.c) */
    struct metrics_counters counters;   /* history for the metrics (host_metrics.c) */
    struct metrics_http *metrics_http;  /* the [host] metrics_listen endpoint, or NULL */
    double started_at_unix;             /* process_start_time_seconds */
    struct {                            /* process_open_fds by listing, reused a while */
        double count;
        ds_time_ms at;
        bool done;
    } open_fds_listing;                 /* (host_metrics.c: count_open_fds) */
    /* worker_key(spawner index, pid) -> struct worker_io: a pid alone is
     * not enough, see tree_worker_exited */
    struct hashmap workers_by_pid;
    struct pipe_set worker_pipes;    /* every worker's output and report pipe */
    struct hashmap timers_by_key;    /* child_key -> struct shutdown_timer */

    /* start outcomes found while carrying out actions, fed back after: a
     * failure (pid 0, detail), or a spare that took the job (pid, fds) */
    struct deferred_start {
        child_key key;
        size_t spawner_index;
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
void host_spawner_lost(struct host *host, struct spawner_link *link, const char *how);
/* A spawn that failed while actions were being carried out; fed back to
 * the tree by host_apply once the current list is done. */
void host_defer_spawn_failure(struct host *host, child_key key, const char *detail);
/* Makes room for one more deferred start; -1 if out of memory. */
int host_reserve_deferred(struct host *host);
/* Likewise for a spare that took the job: pid with its output and report
 * pipes (now owned by the host's worker I/O). Call host_reserve_deferred
 * first, before the job is written: this one cannot fail then. */
void host_defer_spare_start(struct host *host, child_key key, size_t spawner_index, pid_t pid,
                            int output_fd, int report_fd);

/* host_liveness.c: a spawner that stops answering (SIGSTOP, a debugger,
 * a plugin's fork handler that blocks) is declared lost after
 * SPAWNER_ANSWER_DEADLINE_MS, so that no stop waits for it for ever. */
#define SPAWNER_ANSWER_DEADLINE_MS 2000
/* Start checking the spawners: the check runs while answers are awaited
 * (a stop, or a SIGKILLed worker's exit) and stops by itself after. */
void host_liveness_watch(struct host *host);
void host_liveness_heard(struct spawner_link *link, bool pong);
void host_liveness_close(struct host *host);

/* host_listing.c: answers which_children for `token`, at once or in
 * slices between the loop's other work. Returns -1 for an unknown
 * supervisor (nothing answered). */
int host_list_children(struct host *host, const char *supervisor, uint64_t token,
                       int64_t unix_ms_at_zero);
void host_listings_close(struct host *host);

/* host_reload.c (SPEC section 8) */
struct change_list;
/* Validates the config, children_dir and plugin_dir as `check` does and
 * applies the difference (unless dry_run). Returns 0 with the changes, or
 * -1 with every error (nothing changed). */
int host_reload(struct host *host, bool dry_run, struct change_list *changes,
                struct error_list *errors);
/* The same, its outcome logged (SIGHUP, watch). */
void host_reload_and_log(struct host *host, const char *why);
void host_reload_free(struct host *host);
/* ACTION_SUPERVISOR_ADDED: the supervisor's autostart is due ... */
void host_autostart_later(struct host *host, const char *supervisor);
/* ... and runs here, after the action list (host_apply). */
void host_run_due_autostarts(struct host *host);
/* host_watch.c: follows host->config.watch (boot, and after a reload) */
void host_watch_update(struct host *host);
void host_watch_stop(struct host *host);
/* host_socket_folder.c: makes the control socket's folder if missing and
 * checks it (owned by root or the host's user, writable by it alone).
 * Returns 0, or -1 with the error. */
int host_prepare_socket_folder(const char *socket_path, bool others_allowed,
                               struct error_list *errors);
/* host.c: a supervisor spec as the tree takes it, at boot and on reload */
struct supervisor_config host_supervisor_settings(const struct supervisor_spec *spec);
/* Starts the supervisor's autostart children (at boot, or when a reload adds it). */
void host_autostart(struct host *host, const struct supervisor_spec *spec);
/* host_events.c: the events' interval timers, from host->config (made
 * anew by a reload: they point at their event_spec) */
int host_events_start(struct host *host);
void host_events_close(struct host *host);
void host_events_restart(struct host *host);

/* host_signals.c */
/* Before anything forks or starts a thread: blocks the signals that are
 * read from the signalfd (so a kill() of them only waits), ignores SIGPIPE. */
void host_signals_block(void);
int host_signals_start(struct host *host);
void host_signals_close(struct host *host);

/* host_generations.c */
/* Launches one spawner per plugin file of plugin_dir (each starting its
 * workers in host->work_dir). Returns 0, or -1 with every loading error
 * (spawners already launched stay, for host_spawners_stop). */
int host_spawners_launch(struct host *host, const char *plugin_dir, struct error_list *errors);
/* Loads one plugin file in a new spawner: a link not yet in the host (see
 * host_spawner_adopt), or NULL with every error. */
struct spawner_link *host_spawner_load(struct host *host, const char *plugin_dir,
                                       const char *file_name, struct error_list *errors);
/* Loads the generation of a lost link again, from its own copy (or from
 * its file if that is unchanged since); NULL with every error. */
struct spawner_link *host_spawner_load_again(struct host *host, const struct spawner_link *lost,
                                             struct error_list *errors);
/* Closes the link's copy of its plugin: no relaunch will need it. */
void host_spawner_forget_copy(struct spawner_link *link);
/* Makes a loaded link one of the host's (a new generation of its plugin:
 * the current one, if any, is retired). Watches it when `watch`. */
int host_spawner_adopt(struct host *host, struct spawner_link *link, bool watch);
/* Ends a link that was never adopted (a refused reload). */
void host_spawner_discard(struct spawner_link *link);
/* The generation of `plugin` new starts use, or NULL (the plugin's file
 * is gone, or its process is being relaunched). */
struct spawner_link *host_current_generation(struct host *host, const char *plugin);
/* The generation a start or restart of a child running `plugin` goes to:
 * the current one, else the newest retired one still connected (its file
 * is gone: the code its children kept), else NULL. */
/* A link that host_spawner_adopt refused: freed if it was not listed;
 * if it was (its watch failed), marked lost and disconnected instead. */
void host_spawner_give_up(struct host *host, struct spawner_link *link);
struct spawner_link *host_restart_generation(struct host *host, const char *plugin);
/* No new start will use it: released (its spawner let go) as soon as it
 * has no worker and no start in flight, and no child of the tree may
 * restart into it (host_restart_generation). */
void host_spawner_retire(struct spawner_link *link);
void host_spawner_release_if_idle(struct spawner_link *link);
/* The same for every retired generation (after the tree's actions: a
 * child may have left the tree). */
void host_spawners_release_idle(struct host *host);
/* Frees every link (after the loop ended). */
void host_spawners_free(struct host *host);

/* host_spawners.c */
/* Starts reading the link's spawner; 0 or -1. */
int host_spawner_watch(struct spawner_link *link);
/* Asks the spawner for a spare now, ahead of the plugin's next start
 * (a reload that loaded a plugin some child spec names). */
void host_spawner_ready_spare(struct spawner_link *link);
/* Queues a message to the spawner (key: the start it carries, 0 for none);
 * -1 out of memory. */
int host_spawner_queue(struct spawner_link *link, child_key key, const void *data, size_t length);

/* host_spares.c: the link's spare. */
void host_spare_drop(struct spawner_link *link);
void host_spare_want(struct spawner_link *link);
/* A start's job: handed to the spare (and the next one asked for), or held
 * for the spare on its way. False: neither, the caller sends it to the
 * spawner. */
bool host_spare_take(struct spawner_link *link, child_key key, const char *job, size_t length);
/* SPARE came (pid 0: its fork failed), with its three pipe ends; a held
 * start takes it, or goes to the spawner. */
void host_spare_arrived(struct spawner_link *link, pid_t pid, const int *fds, int fd_count);
/* The spawner is lost, or the request for the spare could not be sent. */
void host_spare_fail_held(struct spawner_link *link, const char *detail);
/* A file's identity now; -1 if it cannot be read. */
int plugin_identity_of(const char *plugin_dir, const char *file_name, struct plugin_identity *out);
bool plugin_identity_same(const struct plugin_identity *a, const struct plugin_identity *b);
int host_spawners_watch(struct host *host);
/* Closes every link (EOF tells each spawner to exit); with `wait`, reaps
 * them; with `kill`, SIGKILLs them first. */
void host_spawners_stop(struct host *host, bool kill_them, bool wait);
/* Fails every start queued for the spawner or sent and not answered. */
void host_spawner_fail_pending(struct spawner_link *link, const char *detail);
/* Stops reading the spawner and closes the host's end (EOF tells it to
 * exit); its spare is let go. */
void host_spawner_disconnect(struct spawner_link *link);
/* Closes the watchers and sockets from the loop (host exit). */
void host_spawners_close(struct host *host);
/* Reaps spawners that died: any death is host_spawner_lost. */
void host_spawners_reap(struct host *host);
/* Queues a SPAWN for the child's plugin's spawner; -1 with the reason in
 * `why` if the request cannot go. */
int host_send_spawn(struct host *host, const struct action *spawn, const char **why);

/* host_workers.c: workers are known by the spawner that forked them and
 * their pid (worker_key). */
static inline uint64_t worker_key(size_t spawner_index, pid_t pid)
{
    return ((uint64_t)spawner_index << 32) | (uint32_t)pid;
}
void host_worker_spawned(struct host *host, size_t spawner_index,
                         const struct spawner_spawned *spawned, const int *fds, int fd_count,
                         int message_flags);
/* The same, with the tree's actions appended to `out` (not carried out). */
void host_worker_spawned_into(struct host *host, size_t spawner_index,
                              const struct spawner_spawned *spawned, const int *fds, int fd_count,
                              int message_flags, struct action_list *out);
void host_worker_exited(struct host *host, size_t spawner_index,
                        const struct spawner_exited *exited);
/* The host sent SIGKILL to the worker `pid`: its exit is awaited (the
 * liveness check pings its spawner until it comes). False if unknown. */
bool host_worker_kill_sent(struct host *host, pid_t pid);
/* Every worker of the spawner is gone with it: each is an exit by SIGKILL. */
void host_workers_lost(struct host *host, size_t spawner_index);
/* Starts watching workers' pipes (host->worker_pipes); 0 or -1. */
int host_workers_open(struct host *host);
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
