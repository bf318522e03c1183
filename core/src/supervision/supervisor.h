/*
 * The supervision tree's semantics, as a pure module: events in, actions
 * out, time injected. No system calls, no clocks, no signals: the shell
 * (host.c) turns real happenings into calls below and carries out the
 * actions it gets back, in order.
 *
 * Shape of the tree: one root (the host) with N dynamic supervisors, each
 * with its children. Every row of SPEC section 1 is decided here.
 *
 * Child states (a child is one entry in a supervisor; its OS process may
 * come and go across restarts):
 *
 *   STARTING    a spawn was asked for; waiting for the pid and for init's
 *               answer. Counted in workers and toward max_children.
 *   RUNNING     init said ok; pid known. Counted as active.
 *   STOPPING    we signalled it (terminate_child, supervisor stop); waiting
 *               for its exit. An exit now is always normal.
 *   RESTARTING  its process died and it is due a restart (or a restart's
 *               init failed); pid null; a spawn is in flight, or, with
 *               restart backoff, the child waits for its restart timer
 *               (next_restart_at).
 *
 * Ownership: a `struct tree` owns its supervisors, their children, and
 * every string it was given (it copies what it is passed). Action lists
 * are owned by the caller (action_list_init / action_list_clear); strings
 * inside actions point into the tree or into the action list and are valid
 * until the next call into the tree or action_list_clear.
 */
#ifndef DYNSUP_SUPERVISOR_H
#define DYNSUP_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Milliseconds on a monotonic clock, supplied by the caller. */
typedef int64_t ds_time_ms;

/* Opaque to the core: the shell's handle for a pending request (connection
 * + sequence). 0 means "nobody waits for this answer" (autostart, an event
 * fired by a signal or interval): the shell only logs the result. */
typedef uint64_t request_token;

/* Host-wide unique, never reused key of a child entry; stays the same
 * across restarts of that child. Lets the shell refer to a child before
 * its pid is known. */
typedef uint64_t child_key;

#define DS_INFINITY UINT32_MAX /* for max_children and shutdown_ms */

enum restart_policy { RESTART_PERMANENT, RESTART_TRANSIENT, RESTART_TEMPORARY };

enum shutdown_mode {
    SHUTDOWN_BRUTAL_KILL, /* SIGKILL at once */
    SHUTDOWN_TIMEOUT,     /* SIGTERM, SIGKILL after shutdown_ms */
    SHUTDOWN_INFINITY,    /* SIGTERM and wait */
};

enum child_state { CHILD_STARTING, CHILD_RUNNING, CHILD_STOPPING, CHILD_RESTARTING };

/* Opt-in restart backoff (SPEC section 9): the n-th consecutive restart of
 * a child waits delay_ms * 2^(n-1), capped at delay_max_ms, with +-25 %
 * jitter; a child that ran delay_max_ms without failing starts over.
 * delay_ms 0 restarts at once (OTP's behaviour, the default). */
struct restart_backoff {
    uint32_t delay_ms;
    uint32_t delay_max_ms;
};

/* Where the jitter of backoff delays comes from: a uniformly distributed
 * 32-bit number per call. Injected so tests walk a known sequence. */
struct random_source {
    uint32_t (*next)(void *context);
    void *context;
};

/* What a start_child needs, resolved by the shell from the child spec and
 * the request. The tree copies all of it. */
struct child_start {
    const char *id;          /* child spec id, e.g. "auth_loader" */
    const char *plugin;      /* plugin name */
    const char *name;        /* registered name or NULL */
    char *const *argv;       /* extra_arguments + spec args + request args */
    int argc;
    enum restart_policy restart;
    enum shutdown_mode shutdown;
    uint32_t shutdown_ms;    /* for SHUTDOWN_TIMEOUT */
    struct restart_backoff backoff; /* {0, 0}: restart at once, as OTP does */
    /* The shell's, opaque to the tree and kept with the child for all its
     * restarts: the host's job settings of the spec as it was at this
     * start (a reload must not change them under a running child). Must
     * outlive the child. */
    const void *shell_data;
};

struct supervisor_config {
    const char *name;        /* copied */
    uint32_t max_children;   /* DS_INFINITY for infinity */
    uint32_t max_restarts;   /* DS_INFINITY: never gives up */
    uint32_t max_seconds;
};

/* How a process ended, from waitpid. */
struct child_exit {
    int exit_code;   /* valid when signal == 0 */
    int signal;      /* terminating signal number, or 0 */
};

enum reply_kind { REPLY_OK, REPLY_IGNORE, REPLY_ERROR };

enum reply_error {
    ERR_NONE,
    ERR_MAX_CHILDREN,
    ERR_ALREADY_STARTED,  /* pid: the existing child's pid (0 if it has none yet) */
    ERR_INIT_FAILED,      /* detail says why */
    ERR_UNKNOWN_SUPERVISOR,
    ERR_UNKNOWN_CHILD,    /* decided by the shell (no such child spec); here for naming */
    ERR_UNKNOWN_EVENT,    /* decided by the shell */
    ERR_NOT_FOUND,
    ERR_SHUTTING_DOWN,    /* the supervisor (or host) is stopping */
};

/* Wire name of an error ("max_children", ...). */
const char *reply_error_name(enum reply_error error);

struct reply {
    enum reply_kind kind;
    enum reply_error error;
    pid_t pid;               /* ok: the new child; already_started: the existing one; else 0 */
    const char *detail;      /* NULL or a human-readable reason */
};

enum action_kind {
    ACTION_SPAWN,        /* fork a worker: key, supervisor, child (argv etc.). Answer with
                            tree_spawned() or tree_spawn_failed(). */
    ACTION_SIGNAL,       /* send signal (SIGTERM or SIGKILL, from <signal.h>) to pid */
    ACTION_TIMER_START,  /* arm the timer of key for timeout_ms (its shutdown deadline, or
                            its restart when it waits for one); fire tree_timer_fired() */
    ACTION_TIMER_CANCEL, /* disarm the timer of key */
    ACTION_REPLY,        /* answer request token with reply */
    ACTION_LOG,          /* one log line: level (syslog number), supervisor, key/pid, message */
    ACTION_EXIT,         /* the whole host stopped: exit with exit_status */
    ACTION_SUPERVISOR_ADDED, /* the supervisor a reload added exists now, empty: run its
                                autostart (tree_add_supervisor_by_reload) */
};

struct action {
    enum action_kind kind;
    const char *supervisor;  /* supervisor name, or NULL for the root */
    const char *child_id;    /* LOG: the child's id, or NULL when the line is not about one */
    child_key key;           /* SPAWN, TIMER_*, LOG (0 if none) */
    pid_t pid;               /* SIGNAL, LOG (0 if none) */
    const struct child_info *child; /* SPAWN: what to run */
    int signal;              /* SIGNAL */
    uint32_t timeout_ms;     /* TIMER_START */
    request_token token;     /* REPLY */
    struct reply reply;      /* REPLY */
    int level;               /* LOG */
    const char *message;     /* LOG */
    int exit_status;         /* EXIT */
};

/* Growable array of actions; message strings are owned by the list. */
struct action_list {
    struct action *items;
    size_t count, capacity;
    char **strings;          /* formatted messages to free on clear */
    size_t string_count, string_capacity;
};
void action_list_init(struct action_list *list);
void action_list_clear(struct action_list *list); /* drop items, keep capacity */
void action_list_free(struct action_list *list);

/* A child as which_children shows it. Owned by the tree. */
struct child_info {
    child_key key;
    const char *id;
    const char *plugin;
    const char *name;        /* NULL if none */
    char **argv;
    int argc;
    enum restart_policy restart;
    enum shutdown_mode shutdown;
    uint32_t shutdown_ms;
    enum child_state state;
    pid_t pid;               /* 0 while it has none (restarting, or starting before init ok) */
    struct restart_backoff backoff;
    const void *shell_data;  /* child_start's, as given */
    /* What an operator sees of its history (times on the tree's clock): */
    ds_time_ms started_at;   /* when its current process was spawned; -1 without one */
    uint32_t restarts;       /* restarts since its first start */
    bool has_exited;         /* last_exit is set */
    struct child_exit last_exit;
    ds_time_ms last_exit_at;
    ds_time_ms next_restart_at; /* when a waiting restart is due; -1 when not waiting */
};

struct child_counts {
    size_t specs, active, supervisors, workers;
};

struct tree;

/* Root intensity: more than max_restarts supervisor restarts within
 * max_seconds stops the host with exit status 1. */
struct tree *tree_new(uint32_t root_max_restarts, uint32_t root_max_seconds);
void tree_free(struct tree *tree);

/* Add a supervisor (at boot, in file order). Returns 0, or -1 if the name
 * is taken. */
int tree_add_supervisor(struct tree *tree, const struct supervisor_config *config);

/* ---- events ---- */

/* start_child: replies at once with an error, or emits SPAWN and replies
 * later (after tree_init_reported/tree_spawn_failed/exit during init).
 * Checks, in order: supervisor known, not shutting down, registered name
 * free (already_started with the existing pid), max_children. */
void tree_start_child(struct tree *tree, const char *supervisor, const struct child_start *start,
                      request_token token, ds_time_ms now, struct action_list *out);

/* The spawner forked the worker of `key` as `pid`. */
void tree_spawned(struct tree *tree, child_key key, pid_t pid, ds_time_ms now,
                  struct action_list *out);
/* The spawner could not fork (detail says why): like an init failure. */
void tree_spawn_failed(struct tree *tree, child_key key, const char *detail, ds_time_ms now,
                       struct action_list *out);

enum init_result { INIT_OK, INIT_IGNORE, INIT_FAILED };
/* The worker of `key` reported init's answer (detail: reason for INIT_FAILED).
 * A worker whose init did not say ok exits by itself; its exit then comes
 * as a tree_child_exited for a pid the tree no longer knows (ignored). */
void tree_init_reported(struct tree *tree, child_key key, enum init_result result,
                        const char *detail, ds_time_ms now, struct action_list *out);

/* waitpid reaped pid. Unknown pids are ignored. */
void tree_child_exited(struct tree *tree, pid_t pid, struct child_exit how, ds_time_ms now,
                       struct action_list *out);
/* The process `pid` of the child `key` was reaped. Known by key, not by
 * pid: pids are only unique among live processes, and two plugin
 * processes' reports are not ordered with each other, so the pid of an
 * exit read late may already be another child's. Ignored unless pid is
 * the child's current process. */
void tree_worker_exited(struct tree *tree, child_key key, pid_t pid, struct child_exit how,
                        ds_time_ms now, struct action_list *out);

/* Which child a terminate_child means: exactly one of the three is set
 * (the shell checks that). */
struct child_selector {
    pid_t pid;               /* > 0: the child whose live process this is */
    child_key key;           /* > 0: the child's stable key */
    const char *name;        /* non-NULL: the holder of this registered name */
};

/* terminate_child: replies ok once the child is gone, or not_found at once.
 * A child waiting for its restart is removed at once (its timer
 * cancelled). */
void tree_terminate_child(struct tree *tree, const char *supervisor,
                          const struct child_selector *which, request_token token,
                          ds_time_ms now, struct action_list *out);

/* The timer of key fired: a stopping child past its shutdown time is
 * SIGKILLed; a child waiting for its restart is restarted. */
void tree_timer_fired(struct tree *tree, child_key key, ds_time_ms now, struct action_list *out);

/* Where backoff jitter comes from (default: none, every wait exactly its
 * nominal delay). */
void tree_set_random_source(struct tree *tree, struct random_source source);

/* Stop the host (SIGTERM, the stop request): every child of every
 * supervisor is shut down at the same time; ACTION_EXIT(0) when all are
 * reaped (at once if there are none). Pending start requests answer
 * shutting_down. Idempotent. */
void tree_stop(struct tree *tree, ds_time_ms now, struct action_list *out);

/* A request the shell no longer can answer (its client went away) is
 * forgotten: later REPLY actions for it may still come; the shell drops them. */

/* ---- reconfiguration (a reload) ---- */

/* New max_children and intensity for an existing supervisor; its children
 * are untouched (a lowered max_children only refuses new starts). For one
 * re-added while its removal runs, the settings it will be created with.
 * Returns -1 if there is no such supervisor. */
int tree_update_supervisor(struct tree *tree, const struct supervisor_config *config);
/* Stops every child of the supervisor in parallel, each by its shutdown,
 * as a host stop would, then removes the supervisor (new starts answer
 * shutting_down meanwhile). A re-add waiting for it is cancelled. */
void tree_remove_supervisor(struct tree *tree, const char *supervisor, ds_time_ms now,
                            struct action_list *out);
/* A supervisor a reload added: created empty at once, ACTION_SUPERVISOR_ADDED
 * in out. If one of that name is still being removed (an earlier reload),
 * it is created, and announced, once that one's children are gone, with
 * the settings of the last tree_update_supervisor; until then the name is
 * the old one's (new starts answer shutting_down). Not created when the
 * host stops first. Returns -1 if a supervisor of that name exists and is
 * not being removed. */
int tree_add_supervisor_by_reload(struct tree *tree, const struct supervisor_config *config,
                                  struct action_list *out);
void tree_set_root_intensity(struct tree *tree, uint32_t max_restarts, uint32_t max_seconds);
/* Something the root restarted that is not a supervisor (a plugin process
 * relaunched): counts toward the root's intensity. Returns true if it may
 * go on; false once the intensity is exceeded, the host then stopping
 * with exit status 1 (actions in out). */
bool tree_root_restart(struct tree *tree, const char *what, ds_time_ms now,
                       struct action_list *out);

/* ---- queries (read-only) ---- */

bool tree_has_supervisor(const struct tree *tree, const char *supervisor);
bool tree_is_stopping(const struct tree *tree);
/* which_children: calls visit for each child, in start order. Returns -1 if
 * the supervisor is unknown. */
int tree_each_child(const struct tree *tree, const char *supervisor,
                    void (*visit)(const struct child_info *child, void *context), void *context);
/* count_children in O(1). Returns -1 if unknown. */
int tree_count_children(const struct tree *tree, const char *supervisor,
                        struct child_counts *counts);

struct supervisor_status {
    const char *name;
    struct child_counts counts;
    uint32_t restarts_in_window;   /* restarts still inside max_seconds at `now` */
    uint32_t times_restarted;      /* by the root, since boot */
    bool stopping;
};
/* status: visit each supervisor in order. */
void tree_each_supervisor(const struct tree *tree, ds_time_ms now,
                          void (*visit)(const struct supervisor_status *status, void *context),
                          void *context);
/* How many children of the tree (any state: starting, running, stopping,
 * or due a restart) run `plugin`, in O(1). The shell keeps a plugin's
 * code loaded while one of them may still start a worker. */
size_t tree_count_plugin_children(const struct tree *tree, const char *plugin);
/* Root restarts inside the root window at now. */
uint32_t tree_root_restarts_in_window(const struct tree *tree, ds_time_ms now);

/* The child entry of key, or NULL. (The shell uses it to tag log lines.) */
const struct child_info *tree_find_child(const struct tree *tree, child_key key);
/* The supervisor name of the child with key, or NULL. */
const char *tree_child_supervisor(const struct tree *tree, child_key key);

#endif
