/*
 * The harness of the supervision core tests. See support_supervisor.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor.h"

#include "support_supervisor.h"

int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->tree = tree_new(3, 5);
    action_list_init(&w->out);
    struct supervisor_config config = {SUP, DS_INFINITY, 3, 5};
    assert_int_equal(tree_add_supervisor(w->tree, &config), 0);
    *state = w;
    return 0;
}

int teardown(void **state)
{
    struct world *w = *state;
    tree_free(w->tree);
    action_list_free(&w->out);
    free(w);
    return 0;
}

void add_supervisor(struct world *w, const char *name, uint32_t max_children,
                           uint32_t max_restarts, uint32_t max_seconds)
{
    struct supervisor_config config = {name, max_children, max_restarts, max_seconds};
    assert_int_equal(tree_add_supervisor(w->tree, &config), 0);
}

struct child_start worker(const char *id, enum restart_policy restart)
{
    return (struct child_start){.id = id, .plugin = "demo", .restart = restart,
                                .shutdown = SHUTDOWN_TIMEOUT, .shutdown_ms = 5000};
}

struct child_start with_shutdown(struct child_start start, enum shutdown_mode mode,
                                        uint32_t shutdown_ms)
{
    start.shutdown = mode;
    start.shutdown_ms = shutdown_ms;
    return start;
}

struct child_start named(struct child_start start, const char *name)
{
    start.name = name;
    return start;
}

struct child_start with_backoff(struct child_start start, uint32_t delay_ms, uint32_t delay_max_ms)
{
    start.backoff = (struct restart_backoff){delay_ms, delay_max_ms};
    return start;
}

size_t count_kind(const struct world *w, enum action_kind kind)
{
    size_t count = 0;
    for (size_t i = 0; i < w->out.count; i++)
        count += w->out.items[i].kind == kind;
    return count;
}

const struct action *nth_kind(const struct world *w, enum action_kind kind, size_t n)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == kind && n-- == 0)
            return &w->out.items[i];
    fail_msg("no action %d number %zu among %zu actions", (int)kind, n, w->out.count);
    return NULL;
}

const struct action *reply_for(const struct world *w, request_token token)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_REPLY && w->out.items[i].token == token)
            return &w->out.items[i];
    fail_msg("no reply for token %llu", (unsigned long long)token);
    return NULL;
}

bool has_reply_for(const struct world *w, request_token token)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_REPLY && w->out.items[i].token == token)
            return true;
    return false;
}

void assert_error_reply(const struct world *w, request_token token, enum reply_error error)
{
    const struct action *reply = reply_for(w, token);
    assert_int_equal(reply->reply.kind, REPLY_ERROR);
    assert_string_equal(reply_error_name(reply->reply.error), reply_error_name(error));
}

void assert_ok_reply(const struct world *w, request_token token, pid_t pid)
{
    const struct action *reply = reply_for(w, token);
    assert_int_equal(reply->reply.kind, REPLY_OK);
    assert_int_equal(reply->reply.pid, pid);
}

bool has_signal(const struct world *w, pid_t pid, int signal_number)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_SIGNAL && w->out.items[i].pid == pid &&
            w->out.items[i].signal == signal_number)
            return true;
    return false;
}

bool has_timer_start(const struct world *w, child_key key, uint32_t timeout_ms)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_TIMER_START && w->out.items[i].key == key &&
            w->out.items[i].timeout_ms == timeout_ms)
            return true;
    return false;
}

const struct action *log_containing(const struct world *w, const char *text)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_LOG && strstr(w->out.items[i].message, text) != NULL)
            return &w->out.items[i];
    return NULL;
}

void assert_log(const struct world *w, int level, const char *text)
{
    const struct action *log = log_containing(w, text);
    if (log == NULL)
        fail_msg("no log line containing \"%s\"", text);
    assert_int_equal(log->level, level);
}

/* ---- events: each clears the list, so it holds this event's actions ---- */

void start(struct world *w, const char *sup, struct child_start start_spec,
                  request_token token)
{
    action_list_clear(&w->out);
    tree_start_child(w->tree, sup, &start_spec, token, w->now, &w->out);
}

child_key start_spawning(struct world *w, const char *sup, struct child_start start_spec,
                                request_token token)
{
    start(w, sup, start_spec, token);
    assert_int_equal(w->out.count, 1);
    const struct action *spawn = nth_kind(w, ACTION_SPAWN, 0);
    assert_non_null(spawn->child);
    assert_int_equal(spawn->child->key, spawn->key);
    assert_string_equal(spawn->supervisor, sup);
    return spawn->key;
}

void spawned(struct world *w, child_key key, pid_t pid)
{
    action_list_clear(&w->out);
    tree_spawned(w->tree, key, pid, w->now, &w->out);
}

void spawn_failed(struct world *w, child_key key, const char *detail)
{
    action_list_clear(&w->out);
    tree_spawn_failed(w->tree, key, detail, w->now, &w->out);
}

void init_reported(struct world *w, child_key key, enum init_result result,
                          const char *detail)
{
    action_list_clear(&w->out);
    tree_init_reported(w->tree, key, result, detail, w->now, &w->out);
}

void exited(struct world *w, pid_t pid, int exit_code)
{
    action_list_clear(&w->out);
    tree_child_exited(w->tree, pid, (struct child_exit){.exit_code = exit_code}, w->now, &w->out);
}

void killed(struct world *w, pid_t pid, int signal_number)
{
    action_list_clear(&w->out);
    tree_child_exited(w->tree, pid, (struct child_exit){.signal = signal_number}, w->now, &w->out);
}

void terminate(struct world *w, const char *sup, pid_t pid, request_token token)
{
    action_list_clear(&w->out);
    struct child_selector which = {.pid = pid};
    tree_terminate_child(w->tree, sup, &which, token, w->now, &w->out);
}

void terminate_which(struct world *w, const char *sup, struct child_selector which,
                     request_token token)
{
    action_list_clear(&w->out);
    tree_terminate_child(w->tree, sup, &which, token, w->now, &w->out);
}

void timer_fired(struct world *w, child_key key)
{
    action_list_clear(&w->out);
    tree_timer_fired(w->tree, key, w->now, &w->out);
}

void stop(struct world *w)
{
    action_list_clear(&w->out);
    tree_stop(w->tree, w->now, &w->out);
}

/* start_child all the way to "ok pid". */
child_key run_child(struct world *w, const char *sup, struct child_start start_spec,
                           pid_t pid)
{
    child_key key = start_spawning(w, sup, start_spec, 9000 + (request_token)pid);
    spawned(w, key, pid);
    init_reported(w, key, INIT_OK, NULL);
    assert_ok_reply(w, 9000 + (request_token)pid, pid);
    return key;
}

/* A restart was asked for: one SPAWN of key. */
void assert_respawned(const struct world *w, child_key key)
{
    assert_int_equal(count_kind(w, ACTION_SPAWN), 1);
    assert_int_equal(nth_kind(w, ACTION_SPAWN, 0)->key, key);
}

/* A running child dies and its restart completes with new_pid. */
void crash_and_restart(struct world *w, pid_t pid, child_key key, pid_t new_pid)
{
    exited(w, pid, 1);
    assert_respawned(w, key);
    spawned(w, key, new_pid);
    init_reported(w, key, INIT_OK, NULL);
}

static struct child_counts counts_of(const struct world *w, const char *sup)
{
    struct child_counts counts;
    assert_int_equal(tree_count_children(w->tree, sup, &counts), 0);
    return counts;
}

void assert_counts(const struct world *w, const char *sup, size_t specs, size_t active,
                          size_t workers)
{
    struct child_counts counts = counts_of(w, sup);
    assert_int_equal(counts.specs, specs);
    assert_int_equal(counts.active, active);
    assert_int_equal(counts.workers, workers);
    assert_int_equal(counts.supervisors, 0);
}

static struct supervisor_status status_seen;
static void remember_status(const struct supervisor_status *status, void *context)
{
    if (strcmp(status->name, context) == 0)
        status_seen = *status;
}

struct supervisor_status status_of(const struct world *w, const char *sup)
{
    memset(&status_seen, 0, sizeof status_seen);
    tree_each_supervisor(w->tree, w->now, remember_status, (void *)sup);
    assert_non_null(status_seen.name);
    return status_seen;
}

void collect_child(const struct child_info *child, void *context)
{
    struct child_list *list = context;
    if (list->count < 16) {
        list->keys[list->count] = child->key;
        list->pids[list->count] = child->pid;
        list->states[list->count] = child->state;
    }
    list->count++;
}

struct child_list children_of(const struct world *w, const char *sup)
{
    struct child_list list = {0};
    assert_int_equal(tree_each_child(w->tree, sup, collect_child, &list), 0);
    return list;
}

/* Three running children with each shutdown mode, plus the crasher. */
child_key escalate_with_three_siblings(struct world *w, const char *sup)
{
    run_child(w, sup, with_shutdown(worker("brutal", RESTART_PERMANENT), SHUTDOWN_BRUTAL_KILL, 0),
              301);
    run_child(w, sup, with_shutdown(worker("polite", RESTART_PERMANENT), SHUTDOWN_TIMEOUT, 2000),
              302);
    run_child(w, sup, with_shutdown(worker("patient", RESTART_PERMANENT), SHUTDOWN_INFINITY, 0),
              303);
    child_key crasher = run_child(w, sup, worker("crasher", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, crasher, pid + 1);
    exited(w, 103, 1);
    return crasher;
}
