/*
 * The harness of the supervision core tests (test_supervisor_*.c): a world
 * holding a tree, a hand-driven clock and the actions of the last event;
 * one function per event (each clears the action list first) and the
 * checks the tests make on what came out.
 *
 * Ownership: setup allocates the world (cmocka's state), teardown frees it.
 */
#ifndef DYNSUP_TEST_SUPPORT_SUPERVISOR_H
#define DYNSUP_TEST_SUPPORT_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor.h"

struct world {
    struct tree *tree;
    struct action_list out; /* actions of the last event only */
    ds_time_ms now;
};

#define SUP "workers"

struct child_list {
    child_key keys[16];
    pid_t pids[16];
    enum child_state states[16];
    size_t count;
};

int setup(void **state);
int teardown(void **state);
void add_supervisor(struct world *w, const char *name, uint32_t max_children,
                    uint32_t max_restarts, uint32_t max_seconds);
struct child_start worker(const char *id, enum restart_policy restart);
struct child_start with_shutdown(struct child_start start, enum shutdown_mode mode,
                                 uint32_t shutdown_ms);
struct child_start named(struct child_start start, const char *name);
struct child_start with_backoff(struct child_start start, uint32_t delay_ms, uint32_t delay_max_ms);
size_t count_kind(const struct world *w, enum action_kind kind);
const struct action *nth_kind(const struct world *w, enum action_kind kind, size_t n);
const struct action *reply_for(const struct world *w, request_token token);
bool has_reply_for(const struct world *w, request_token token);
void assert_error_reply(const struct world *w, request_token token, enum reply_error error);
void assert_ok_reply(const struct world *w, request_token token, pid_t pid);
bool has_signal(const struct world *w, pid_t pid, int signal_number);
bool has_timer_start(const struct world *w, child_key key, uint32_t timeout_ms);
const struct action *log_containing(const struct world *w, const char *text);
void assert_log(const struct world *w, int level, const char *text);

/* ---- events: each clears the list, so it holds this event's actions ---- */
void start(struct world *w, const char *sup, struct child_start start_spec, request_token token);
child_key start_spawning(struct world *w, const char *sup, struct child_start start_spec,
                         request_token token);
void spawned(struct world *w, child_key key, pid_t pid);
void spawn_failed(struct world *w, child_key key, const char *detail);
void init_reported(struct world *w, child_key key, enum init_result result, const char *detail);
void exited(struct world *w, pid_t pid, int exit_code);
void killed(struct world *w, pid_t pid, int signal_number);
void terminate(struct world *w, const char *sup, pid_t pid, request_token token);
void terminate_which(struct world *w, const char *sup, struct child_selector which,
                     request_token token);
void timer_fired(struct world *w, child_key key);
void stop(struct world *w);

/* start_child all the way to "ok pid". */
child_key run_child(struct world *w, const char *sup, struct child_start start_spec, pid_t pid);

/* A restart was asked for: one SPAWN of key. */
void assert_respawned(const struct world *w, child_key key);

/* A running child dies and its restart completes with new_pid. */
void crash_and_restart(struct world *w, pid_t pid, child_key key, pid_t new_pid);
void assert_counts(const struct world *w, const char *sup, size_t specs, size_t active,
                   size_t workers);
struct supervisor_status status_of(const struct world *w, const char *sup);
void collect_child(const struct child_info *child, void *context);
struct child_list children_of(const struct world *w, const char *sup);

/* Three running children with each shutdown mode, plus the crasher. */
child_key escalate_with_three_siblings(struct world *w, const char *sup);

#endif
