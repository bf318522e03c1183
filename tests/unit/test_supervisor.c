/*
 * The supervision core, tested like the OTP DynamicSupervisor docs read:
 * each test feeds events to a tree with a hand-driven clock and checks the
 * actions that come out (spawns, signals, timers, replies, logs, exit).
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

/* ---- the harness ---- */

struct world {
    struct tree *tree;
    struct action_list out; /* actions of the last event only */
    ds_time_ms now;
};

#define SUP "workers"

static int setup(void **state)
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

static int teardown(void **state)
{
    struct world *w = *state;
    tree_free(w->tree);
    action_list_free(&w->out);
    free(w);
    return 0;
}

static void add_supervisor(struct world *w, const char *name, uint32_t max_children,
                           uint32_t max_restarts, uint32_t max_seconds)
{
    struct supervisor_config config = {name, max_children, max_restarts, max_seconds};
    assert_int_equal(tree_add_supervisor(w->tree, &config), 0);
}

static struct child_start worker(const char *id, enum restart_policy restart)
{
    return (struct child_start){.id = id, .plugin = "demo", .restart = restart,
                                .shutdown = SHUTDOWN_TIMEOUT, .shutdown_ms = 5000};
}

static struct child_start with_shutdown(struct child_start start, enum shutdown_mode mode,
                                        uint32_t shutdown_ms)
{
    start.shutdown = mode;
    start.shutdown_ms = shutdown_ms;
    return start;
}

static struct child_start named(struct child_start start, const char *name)
{
    start.name = name;
    return start;
}

static size_t count_kind(const struct world *w, enum action_kind kind)
{
    size_t count = 0;
    for (size_t i = 0; i < w->out.count; i++)
        count += w->out.items[i].kind == kind;
    return count;
}

static const struct action *nth_kind(const struct world *w, enum action_kind kind, size_t n)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == kind && n-- == 0)
            return &w->out.items[i];
    fail_msg("no action %d number %zu among %zu actions", (int)kind, n, w->out.count);
    return NULL;
}

static const struct action *reply_for(const struct world *w, request_token token)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_REPLY && w->out.items[i].token == token)
            return &w->out.items[i];
    fail_msg("no reply for token %llu", (unsigned long long)token);
    return NULL;
}

static bool has_reply_for(const struct world *w, request_token token)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_REPLY && w->out.items[i].token == token)
            return true;
    return false;
}

static void assert_error_reply(const struct world *w, request_token token, enum reply_error error)
{
    const struct action *reply = reply_for(w, token);
    assert_int_equal(reply->reply.kind, REPLY_ERROR);
    assert_string_equal(reply_error_name(reply->reply.error), reply_error_name(error));
}

static void assert_ok_reply(const struct world *w, request_token token, pid_t pid)
{
    const struct action *reply = reply_for(w, token);
    assert_int_equal(reply->reply.kind, REPLY_OK);
    assert_int_equal(reply->reply.pid, pid);
}

static bool has_signal(const struct world *w, pid_t pid, int signal_number)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_SIGNAL && w->out.items[i].pid == pid &&
            w->out.items[i].signal == signal_number)
            return true;
    return false;
}

static bool has_timer_start(const struct world *w, child_key key, uint32_t timeout_ms)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_TIMER_START && w->out.items[i].key == key &&
            w->out.items[i].timeout_ms == timeout_ms)
            return true;
    return false;
}

static const struct action *log_containing(const struct world *w, const char *text)
{
    for (size_t i = 0; i < w->out.count; i++)
        if (w->out.items[i].kind == ACTION_LOG && strstr(w->out.items[i].message, text) != NULL)
            return &w->out.items[i];
    return NULL;
}

static void assert_log(const struct world *w, int level, const char *text)
{
    const struct action *log = log_containing(w, text);
    if (log == NULL)
        fail_msg("no log line containing \"%s\"", text);
    assert_int_equal(log->level, level);
}

/* ---- events: each clears the list, so it holds this event's actions ---- */

static void start(struct world *w, const char *sup, struct child_start start_spec,
                  request_token token)
{
    action_list_clear(&w->out);
    tree_start_child(w->tree, sup, &start_spec, token, w->now, &w->out);
}

static child_key start_spawning(struct world *w, const char *sup, struct child_start start_spec,
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

static void spawned(struct world *w, child_key key, pid_t pid)
{
    action_list_clear(&w->out);
    tree_spawned(w->tree, key, pid, w->now, &w->out);
}

static void spawn_failed(struct world *w, child_key key, const char *detail)
{
    action_list_clear(&w->out);
    tree_spawn_failed(w->tree, key, detail, w->now, &w->out);
}

static void init_reported(struct world *w, child_key key, enum init_result result,
                          const char *detail)
{
    action_list_clear(&w->out);
    tree_init_reported(w->tree, key, result, detail, w->now, &w->out);
}

static void exited(struct world *w, pid_t pid, int exit_code)
{
    action_list_clear(&w->out);
    tree_child_exited(w->tree, pid, (struct child_exit){.exit_code = exit_code}, w->now, &w->out);
}

static void killed(struct world *w, pid_t pid, int signal_number)
{
    action_list_clear(&w->out);
    tree_child_exited(w->tree, pid, (struct child_exit){.signal = signal_number}, w->now, &w->out);
}

static void terminate(struct world *w, const char *sup, pid_t pid, request_token token)
{
    action_list_clear(&w->out);
    tree_terminate_child(w->tree, sup, pid, token, w->now, &w->out);
}

static void timer_fired(struct world *w, child_key key)
{
    action_list_clear(&w->out);
    tree_shutdown_timer(w->tree, key, w->now, &w->out);
}

static void stop(struct world *w)
{
    action_list_clear(&w->out);
    tree_stop(w->tree, w->now, &w->out);
}

/* start_child all the way to "ok pid". */
static child_key run_child(struct world *w, const char *sup, struct child_start start_spec,
                           pid_t pid)
{
    child_key key = start_spawning(w, sup, start_spec, 9000 + (request_token)pid);
    spawned(w, key, pid);
    init_reported(w, key, INIT_OK, NULL);
    assert_ok_reply(w, 9000 + (request_token)pid, pid);
    return key;
}

/* A restart was asked for: one SPAWN of key. */
static void assert_respawned(const struct world *w, child_key key)
{
    assert_int_equal(count_kind(w, ACTION_SPAWN), 1);
    assert_int_equal(nth_kind(w, ACTION_SPAWN, 0)->key, key);
}

/* A running child dies and its restart completes with new_pid. */
static void crash_and_restart(struct world *w, pid_t pid, child_key key, pid_t new_pid)
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

static void assert_counts(const struct world *w, const char *sup, size_t specs, size_t active,
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

static struct supervisor_status status_of(const struct world *w, const char *sup)
{
    memset(&status_seen, 0, sizeof status_seen);
    tree_each_supervisor(w->tree, w->now, remember_status, (void *)sup);
    assert_non_null(status_seen.name);
    return status_seen;
}

struct child_list {
    child_key keys[16];
    pid_t pids[16];
    enum child_state states[16];
    size_t count;
};

static void collect_child(const struct child_info *child, void *context)
{
    struct child_list *list = context;
    if (list->count < 16) {
        list->keys[list->count] = child->key;
        list->pids[list->count] = child->pid;
        list->states[list->count] = child->state;
    }
    list->count++;
}

static struct child_list children_of(const struct world *w, const char *sup)
{
    struct child_list list = {0};
    assert_int_equal(tree_each_child(w->tree, sup, collect_child, &list), 0);
    return list;
}


/* ---- starting children ---- */

static void test_supervisor_starts_with_no_children(void **state)
{
    struct world *w = *state;
    assert_counts(w, SUP, 0, 0, 0);
    assert_int_equal(children_of(w, SUP).count, 0);
    assert_false(tree_is_stopping(w->tree));
    assert_true(tree_has_supervisor(w->tree, SUP));
}

static void test_start_child_spawns_and_replies_only_after_init_returned_ok(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    assert_false(has_reply_for(w, 7));
    spawned(w, key, 100);
    assert_int_equal(w->out.count, 0);
    init_reported(w, key, INIT_OK, NULL);
    assert_ok_reply(w, 7, 100);
    assert_log(w, 6, "child job started (pid 100)");
    assert_int_equal(tree_find_child(w->tree, key)->state, CHILD_RUNNING);
    assert_int_equal(tree_find_child(w->tree, key)->pid, 100);
}

static void test_start_child_copies_everything_it_is_given(void **state)
{
    struct world *w = *state;
    char id[] = "job", plugin[] = "demo", name[] = "alpha", arg0[] = "--x", arg1[] = "1";
    char *argv[] = {arg0, arg1, NULL};
    struct child_start spec = {.id = id, .plugin = plugin, .name = name, .argv = argv, .argc = 2,
                               .restart = RESTART_TRANSIENT, .shutdown = SHUTDOWN_INFINITY};
    child_key key = start_spawning(w, SUP, spec, 1);
    id[0] = plugin[0] = name[0] = arg0[0] = arg1[0] = '?';
    const struct child_info *child = tree_find_child(w->tree, key);
    assert_string_equal(child->id, "job");
    assert_string_equal(child->plugin, "demo");
    assert_string_equal(child->name, "alpha");
    assert_int_equal(child->argc, 2);
    assert_string_equal(child->argv[0], "--x");
    assert_string_equal(child->argv[1], "1");
    assert_null(child->argv[2]);
    assert_int_equal(child->restart, RESTART_TRANSIENT);
    assert_int_equal(child->shutdown, SHUTDOWN_INFINITY);
    assert_string_equal(tree_child_supervisor(w->tree, key), SUP);
}

static void test_init_ignore_answers_ignore_and_keeps_no_child(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    init_reported(w, key, INIT_IGNORE, NULL);
    assert_int_equal(reply_for(w, 7)->reply.kind, REPLY_IGNORE);
    assert_null(tree_find_child(w->tree, key));
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_init_failure_answers_init_failed_with_its_reason(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    init_reported(w, key, INIT_FAILED, "no database");
    assert_error_reply(w, 7, ERR_INIT_FAILED);
    assert_string_equal(reply_for(w, 7)->reply.detail, "no database");
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_null(tree_find_child(w->tree, key));
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_worker_exit_after_init_refused_is_an_unknown_pid(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    init_reported(w, key, INIT_FAILED, "bad");
    exited(w, 100, 1);
    assert_int_equal(w->out.count, 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_spawn_failure_answers_init_failed_with_its_reason(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawn_failed(w, key, "fork: out of memory");
    assert_error_reply(w, 7, ERR_INIT_FAILED);
    assert_string_equal(reply_for(w, 7)->reply.detail, "fork: out of memory");
    assert_null(tree_find_child(w->tree, key));
}

static void test_worker_exiting_during_init_answers_init_failed_with_exit_status(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    exited(w, 100, 3);
    assert_error_reply(w, 7, ERR_INIT_FAILED);
    assert_string_equal(reply_for(w, 7)->reply.detail, "worker exited during init: exit status 3");
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_worker_killed_during_init_answers_init_failed_with_signal(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    killed(w, 100, SIGSEGV);
    assert_string_equal(reply_for(w, 7)->reply.detail,
                        "worker exited during init: killed by signal 11");
}

static void test_start_child_on_unknown_supervisor_is_refused(void **state)
{
    struct world *w = *state;
    start(w, "nope", worker("job", RESTART_PERMANENT), 7);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 7, ERR_UNKNOWN_SUPERVISOR);
}

static void test_child_keys_are_unique_across_supervisors(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    child_key a = start_spawning(w, SUP, worker("a", RESTART_PERMANENT), 1);
    child_key b = start_spawning(w, "other", worker("b", RESTART_PERMANENT), 2);
    spawn_failed(w, a, "x");
    child_key c = start_spawning(w, SUP, worker("c", RESTART_PERMANENT), 3);
    assert_true(a != b && b != c && a != c);
    assert_string_equal(tree_child_supervisor(w->tree, b), "other");
    assert_null(tree_find_child(w->tree, a));
}

static void test_duplicate_supervisor_name_is_refused(void **state)
{
    struct world *w = *state;
    struct supervisor_config config = {SUP, 1, 1, 1};
    assert_int_equal(tree_add_supervisor(w->tree, &config), -1);
}

/* ---- max_children ---- */

static void test_max_children_refuses_a_start_when_full(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 2, 3, 5);
    run_child(w, "small", worker("a", RESTART_PERMANENT), 100);
    run_child(w, "small", worker("b", RESTART_PERMANENT), 101);
    start(w, "small", worker("c", RESTART_PERMANENT), 7);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 7, ERR_MAX_CHILDREN);
}

static void test_children_still_starting_count_toward_max_children(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    start_spawning(w, "small", worker("a", RESTART_PERMANENT), 1);
    start(w, "small", worker("b", RESTART_PERMANENT), 2);
    assert_error_reply(w, 2, ERR_MAX_CHILDREN);
}

static void test_restarting_children_count_toward_max_children(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    child_key key = run_child(w, "small", worker("a", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    assert_respawned(w, key);
    start(w, "small", worker("b", RESTART_PERMANENT), 2);
    assert_error_reply(w, 2, ERR_MAX_CHILDREN);
}

static void test_slot_is_freed_once_the_child_is_gone(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    run_child(w, "small", worker("a", RESTART_TEMPORARY), 100);
    exited(w, 100, 0);
    start_spawning(w, "small", worker("b", RESTART_PERMANENT), 2);
}

static void test_stopping_children_count_toward_max_children_until_reaped(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    run_child(w, "small", worker("a", RESTART_PERMANENT), 100);
    terminate(w, "small", 100, 5);
    start(w, "small", worker("b", RESTART_PERMANENT), 6);
    assert_error_reply(w, 6, ERR_MAX_CHILDREN);
    exited(w, 100, 0);
    start_spawning(w, "small", worker("b", RESTART_PERMANENT), 7);
}

static void test_infinite_max_children_never_refuses(void **state)
{
    struct world *w = *state;
    for (int i = 0; i < 200; i++)
        start_spawning(w, SUP, worker("job", RESTART_PERMANENT), (request_token)i);
    assert_counts(w, SUP, 200, 0, 200);
}

/* ---- registered names ---- */

static void test_name_in_use_answers_already_started_with_the_existing_pid(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 7, ERR_ALREADY_STARTED);
    assert_int_equal(reply_for(w, 7)->reply.pid, 100);
    assert_counts(w, SUP, 1, 1, 1);
}

/* OTP handles a start_child only after the previous one's init returned,
 * so a request naming a child still in init waits and learns its pid. */
static void test_start_naming_a_child_still_in_init_waits_and_gets_its_pid(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 1);
    spawned(w, key, 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    assert_int_equal(w->out.count, 0); /* neither answered nor spawned: waiting */
    init_reported(w, key, INIT_OK, NULL);
    assert_ok_reply(w, 1, 100);
    assert_error_reply(w, 7, ERR_ALREADY_STARTED);
    assert_int_equal(reply_for(w, 7)->reply.pid, 100);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_counts(w, SUP, 1, 1, 1);
}

static void test_start_waiting_on_a_name_starts_afresh_when_the_holder_fails_init(void **state)
{
    struct world *w = *state;
    child_key first = start_spawning(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 1);
    spawned(w, first, 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    init_reported(w, first, INIT_FAILED, "boom");
    assert_error_reply(w, 1, ERR_INIT_FAILED);
    assert_false(has_reply_for(w, 7));
    assert_int_equal(count_kind(w, ACTION_SPAWN), 1);
    child_key second = nth_kind(w, ACTION_SPAWN, 0)->key;
    assert_true(second != first);
    spawned(w, second, 101);
    init_reported(w, second, INIT_OK, NULL);
    assert_ok_reply(w, 7, 101);
    assert_counts(w, SUP, 1, 1, 1);
}

static void test_starts_waiting_on_one_name_are_served_in_request_order(void **state)
{
    struct world *w = *state;
    child_key first = start_spawning(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 1);
    spawned(w, first, 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 8);
    init_reported(w, first, INIT_IGNORE, NULL);
    assert_int_equal(reply_for(w, 1)->reply.kind, REPLY_IGNORE);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 1); /* 7 starts; 8 waits on it */
    child_key second = nth_kind(w, ACTION_SPAWN, 0)->key;
    spawned(w, second, 101);
    init_reported(w, second, INIT_OK, NULL);
    assert_ok_reply(w, 7, 101);
    assert_error_reply(w, 8, ERR_ALREADY_STARTED);
    assert_int_equal(reply_for(w, 8)->reply.pid, 101);
}

static void test_start_naming_a_restarting_child_gets_the_restarted_pid(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    exited(w, 100, 1);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    assert_int_equal(w->out.count, 0);
    spawned(w, key, 101);
    init_reported(w, key, INIT_OK, NULL);
    assert_error_reply(w, 7, ERR_ALREADY_STARTED);
    assert_int_equal(reply_for(w, 7)->reply.pid, 101);
}

static void test_start_waiting_on_a_name_answers_shutting_down_when_the_host_stops(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 1);
    spawned(w, key, 100);
    start(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    stop(w);
    assert_error_reply(w, 1, ERR_SHUTTING_DOWN);
    assert_false(has_reply_for(w, 7));
    exited(w, 100, 0);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

static void test_name_is_free_again_after_the_child_is_gone(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, named(worker("a", RESTART_TRANSIENT), "alpha"), 100);
    exited(w, 100, 0);
    run_child(w, SUP, named(worker("a", RESTART_TRANSIENT), "alpha"), 101);
    assert_counts(w, SUP, 1, 1, 1);
}

static void test_same_name_in_another_supervisor_is_allowed(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    run_child(w, "other", named(worker("a", RESTART_PERMANENT), "alpha"), 101);
}

static void test_name_check_comes_before_max_children(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 3, 5);
    run_child(w, "small", named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    start(w, "small", named(worker("a", RESTART_PERMANENT), "alpha"), 7);
    assert_error_reply(w, 7, ERR_ALREADY_STARTED);
}

/* ---- restart policies ---- */

static void test_permanent_child_exiting_normally_is_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 0);
    assert_respawned(w, key);
    assert_log(w, 6, "child job exited normally (exit status 0); restarting (permanent)");
    assert_int_equal(tree_find_child(w->tree, key)->state, CHILD_RESTARTING);
}

static void test_permanent_child_exiting_abnormally_is_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    killed(w, 100, SIGKILL);
    assert_respawned(w, key);
    assert_log(w, 4, "exited abnormally (killed by signal 9); restarting (permanent)");
}

static void test_transient_child_exiting_normally_is_not_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 6, "exited normally (exit status 0); not restarted (transient)");
    assert_null(tree_find_child(w->tree, key));
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_transient_child_exiting_with_non_zero_status_is_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    exited(w, 100, 2);
    assert_respawned(w, key);
    assert_log(w, 4, "exited abnormally (exit status 2); restarting (transient)");
}

static void test_transient_child_killed_by_a_signal_is_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    killed(w, 100, SIGSEGV);
    assert_respawned(w, key);
}

static void test_temporary_child_exiting_abnormally_is_not_restarted(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_TEMPORARY), 100);
    killed(w, 100, SIGKILL);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 4, "exited abnormally (killed by signal 9); not restarted (temporary)");
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_temporary_child_exiting_normally_is_not_restarted(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_TEMPORARY), 100);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_restarted_child_keeps_its_key_spec_and_place(void **state)
{
    struct world *w = *state;
    char arg[] = "--fast";
    char *argv[] = {arg, NULL};
    struct child_start spec = worker("first", RESTART_PERMANENT);
    spec.argv = argv;
    spec.argc = 1;
    child_key first = run_child(w, SUP, spec, 100);
    child_key second = run_child(w, SUP, worker("second", RESTART_PERMANENT), 101);
    exited(w, 100, 1);
    const struct action *spawn = nth_kind(w, ACTION_SPAWN, 0);
    assert_int_equal(spawn->key, first);
    assert_string_equal(spawn->child->id, "first");
    assert_string_equal(spawn->child->argv[0], "--fast");

    struct child_list list = children_of(w, SUP);
    assert_int_equal(list.count, 2);
    assert_int_equal(list.keys[0], first);
    assert_int_equal(list.pids[0], 0);
    assert_int_equal(list.states[0], CHILD_RESTARTING);

    spawned(w, first, 200);
    init_reported(w, first, INIT_OK, NULL);
    assert_int_equal(count_kind(w, ACTION_REPLY), 0); /* nobody asked for a restart */
    assert_log(w, 6, "child first restarted (pid 200)");
    list = children_of(w, SUP);
    assert_int_equal(list.keys[0], first);
    assert_int_equal(list.pids[0], 200);
    assert_int_equal(list.keys[1], second);
}

static void test_old_pid_of_a_restarted_child_is_forgotten(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    crash_and_restart(w, 100, key, 200);
    exited(w, 100, 1);
    assert_int_equal(w->out.count, 0);
    terminate(w, SUP, 100, 5);
    assert_error_reply(w, 5, ERR_NOT_FOUND);
}

static void test_exit_of_an_unknown_pid_is_ignored(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    killed(w, 4242, SIGKILL);
    assert_int_equal(w->out.count, 0);
    assert_counts(w, SUP, 1, 1, 1);
}

/* ---- restart intensity ---- */

static void test_max_restarts_within_max_seconds_are_allowed(void **state)
{
    struct world *w = *state; /* max_restarts 3, max_seconds 5 */
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++) {
        w->now += 1000;
        crash_and_restart(w, pid, key, pid + 1);
    }
    assert_int_equal(status_of(w, SUP).restarts_in_window, 3);
    assert_false(status_of(w, SUP).stopping);
    assert_counts(w, SUP, 1, 1, 1);
}

static void test_one_restart_more_than_max_restarts_escalates(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, key, pid + 1);
    exited(w, 103, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 3, "restart intensity exceeded: 4 restarts within 5 s (max_restarts 3)");
    /* It was the only child, so the supervisor terminated and the root restarted it. */
    assert_log(w, 4, "restarted empty by the root");
    assert_counts(w, SUP, 0, 0, 0);
    assert_int_equal(status_of(w, SUP).times_restarted, 1);
}

static void test_restart_one_ms_inside_the_window_still_counts(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, key, pid + 1); /* all at t = 0 */
    w->now = 4999;
    exited(w, 103, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_non_null(log_containing(w, "restart intensity exceeded"));
}

static void test_restart_exactly_max_seconds_old_drops_out_of_the_window(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, key, pid + 1); /* all at t = 0 */
    w->now = 5000;
    assert_int_equal(status_of(w, SUP).restarts_in_window, 0);
    exited(w, 103, 1);
    assert_respawned(w, key);
    assert_null(log_containing(w, "restart intensity exceeded"));
    assert_int_equal(status_of(w, SUP).restarts_in_window, 1);
}

static void test_sliding_window_forgets_only_the_oldest_restarts(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    w->now = 0;
    crash_and_restart(w, 100, key, 101);
    w->now = 3000;
    crash_and_restart(w, 101, key, 102);
    crash_and_restart(w, 102, key, 103);
    w->now = 5000; /* the restart at 0 leaves; two remain, this is the third */
    crash_and_restart(w, 103, key, 104);
    assert_int_equal(status_of(w, SUP).restarts_in_window, 3);
    w->now = 7999; /* the ones at 3000 are still in: a fourth is too many */
    exited(w, 104, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
}

static void test_max_restarts_zero_escalates_on_the_first_restart(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "strict", DS_INFINITY, 0, 5);
    run_child(w, "strict", worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_non_null(log_containing(w, "restart intensity exceeded"));
    assert_int_equal(status_of(w, "strict").times_restarted, 1);
}

static void test_exits_without_restart_do_not_count_toward_intensity(void **state)
{
    struct world *w = *state;
    for (pid_t pid = 100; pid < 110; pid++) {
        run_child(w, SUP, worker("job", RESTART_TEMPORARY), pid);
        killed(w, pid, SIGKILL);
    }
    assert_int_equal(status_of(w, SUP).restarts_in_window, 0);
}

/* ---- failed restarts ---- */

static void test_failed_restart_keeps_the_child_restarting_and_retries(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    init_reported(w, key, INIT_FAILED, "config missing");
    assert_respawned(w, key);
    assert_log(w, 3, "child job: restart failed (config missing); retrying");
    const struct child_info *child = tree_find_child(w->tree, key);
    assert_int_equal(child->state, CHILD_RESTARTING);
    assert_int_equal(child->pid, 0);
    assert_counts(w, SUP, 1, 0, 1);
    assert_int_equal(status_of(w, SUP).restarts_in_window, 2);
}

static void test_failed_restart_counts_toward_max_children(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 10, 5);
    child_key key = run_child(w, "small", worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    init_reported(w, key, INIT_FAILED, "nope");
    start(w, "small", worker("other", RESTART_PERMANENT), 7);
    assert_error_reply(w, 7, ERR_MAX_CHILDREN);
}

static void test_failed_restarts_escalate_when_they_exceed_the_intensity(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1); /* restart 1 */
    pid_t pid = 200;
    for (int retry = 0; retry < 2; retry++) { /* restarts 2 and 3 */
        spawned(w, key, pid);
        init_reported(w, key, INIT_FAILED, "nope");
        assert_respawned(w, key);
        pid++;
    }
    spawned(w, key, pid);
    init_reported(w, key, INIT_FAILED, "nope"); /* restart 4: too many */
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_non_null(log_containing(w, "restart intensity exceeded"));
    assert_null(tree_find_child(w->tree, key));
    assert_int_equal(status_of(w, SUP).times_restarted, 1);
}

static void test_failed_restart_by_spawn_failure_is_retried(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawn_failed(w, key, "fork: resource temporarily unavailable");
    assert_respawned(w, key);
    assert_non_null(log_containing(w, "fork: resource temporarily unavailable"));
    assert_int_equal(tree_find_child(w->tree, key)->state, CHILD_RESTARTING);
}

static void test_failed_restart_by_exit_during_init_is_retried(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    killed(w, 200, SIGABRT);
    assert_respawned(w, key);
    assert_non_null(log_containing(w, "worker exited during init: killed by signal 6"));
}

static void test_restart_whose_init_answers_ignore_removes_the_child(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    init_reported(w, key, INIT_IGNORE, NULL);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_REPLY), 0);
    assert_null(tree_find_child(w->tree, key));
    assert_counts(w, SUP, 0, 0, 0);
    exited(w, 200, 0); /* it exits by itself: an unknown pid by now */
    assert_int_equal(w->out.count, 0);
}

static void test_failed_restart_forgets_the_pid_of_the_failed_try(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    init_reported(w, key, INIT_FAILED, "nope");
    exited(w, 200, 1);
    assert_int_equal(w->out.count, 0);
    assert_int_equal(status_of(w, SUP).restarts_in_window, 2);
}

/* ---- escalation: a supervisor gives up ---- */

/* Three running children with each shutdown mode, plus the crasher. */
static child_key escalate_with_three_siblings(struct world *w, const char *sup)
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

static void test_escalation_shuts_down_all_children_at_once_by_their_shutdown(void **state)
{
    struct world *w = *state;
    child_key crasher = escalate_with_three_siblings(w, SUP);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 3);
    assert_true(has_signal(w, 301, SIGKILL));
    assert_true(has_signal(w, 302, SIGTERM));
    assert_true(has_signal(w, 303, SIGTERM));
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 1);
    const struct child_list list = children_of(w, SUP);
    assert_int_equal(list.count, 3); /* the crasher had no process: gone at once */
    assert_null(tree_find_child(w->tree, crasher));
    assert_true(has_timer_start(w, list.keys[1], 2000));
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(list.states[i], CHILD_STOPPING);
    assert_true(status_of(w, SUP).stopping);
    assert_int_equal(status_of(w, SUP).times_restarted, 0);
}

static void test_escalated_supervisor_is_restarted_empty_after_the_last_child_is_reaped(void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    const struct child_list list = children_of(w, SUP);
    killed(w, 301, SIGKILL);
    assert_null(log_containing(w, "restarted empty"));
    exited(w, 302, 0);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 1);
    assert_int_equal(nth_kind(w, ACTION_TIMER_CANCEL, 0)->key, list.keys[1]);
    killed(w, 303, SIGTERM);
    assert_log(w, 4, "supervisor terminated and restarted empty by the root (restart 1 since boot)");
    assert_string_equal(log_containing(w, "restarted empty")->supervisor, SUP);
    struct supervisor_status status = status_of(w, SUP);
    assert_false(status.stopping);
    assert_int_equal(status.times_restarted, 1);
    assert_int_equal(status.restarts_in_window, 0);
    assert_int_equal(tree_root_restarts_in_window(w->tree, w->now), 1);
    assert_counts(w, SUP, 0, 0, 0);
    run_child(w, SUP, worker("fresh", RESTART_PERMANENT), 400);
}

static void test_escalating_supervisor_refuses_new_starts(void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    start(w, SUP, worker("late", RESTART_PERMANENT), 7);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
}

static void test_escalation_answers_pending_starts_shutting_down(void **state)
{
    struct world *w = *state;
    child_key pending = start_spawning(w, SUP, worker("pending", RESTART_PERMANENT), 7);
    spawned(w, pending, 500);
    child_key crasher = run_child(w, SUP, worker("crasher", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, crasher, pid + 1);
    exited(w, 103, 1);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    assert_true(has_signal(w, 500, SIGTERM));
    init_reported(w, pending, INIT_OK, NULL); /* too late: it is being stopped */
    assert_int_equal(w->out.count, 0);
    exited(w, 500, 0);
    assert_non_null(log_containing(w, "restarted empty"));
}

static void test_escalation_signals_a_child_spawned_later_when_its_pid_arrives(void **state)
{
    struct world *w = *state;
    child_key late = start_spawning(w, SUP, with_shutdown(worker("late", RESTART_PERMANENT),
                                                          SHUTDOWN_BRUTAL_KILL, 0), 7);
    child_key crasher = run_child(w, SUP, worker("crasher", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, crasher, pid + 1);
    exited(w, 103, 1);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0);
    assert_counts(w, SUP, 1, 0, 1);
    spawned(w, late, 600);
    assert_true(has_signal(w, 600, SIGKILL));
    killed(w, 600, SIGKILL);
    assert_non_null(log_containing(w, "restarted empty"));
}

static void test_escalation_removes_a_child_whose_spawn_then_fails(void **state)
{
    struct world *w = *state;
    child_key late = start_spawning(w, SUP, worker("late", RESTART_PERMANENT), 7);
    child_key crasher = run_child(w, SUP, worker("crasher", RESTART_PERMANENT), 100);
    for (pid_t pid = 100; pid < 103; pid++)
        crash_and_restart(w, pid, crasher, pid + 1);
    exited(w, 103, 1);
    spawn_failed(w, late, "fork failed");
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0);
    assert_null(tree_find_child(w->tree, late));
    assert_non_null(log_containing(w, "restarted empty"));
}

static void test_child_exiting_abnormally_while_its_supervisor_shuts_down_is_not_restarted(
    void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    killed(w, 303, SIGSEGV);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 6, "child patient stopped (killed by signal 11)");
    assert_counts(w, SUP, 2, 0, 2);
}

static void test_escalation_leaves_other_supervisors_alone(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, "other", worker("bystander", RESTART_PERMANENT), 900);
    escalate_with_three_siblings(w, SUP);
    assert_false(has_signal(w, 900, SIGTERM));
    assert_false(status_of(w, "other").stopping);
    assert_counts(w, "other", 1, 1, 1);
    run_child(w, "other", worker("newcomer", RESTART_PERMANENT), 901);
}

static void test_root_intensity_exceeded_stops_the_host_with_status_one(void **state)
{
    struct world *w = *state; /* root: 3 restarts in 5 s */
    add_supervisor(w, "strict", DS_INFINITY, 0, 5);
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, "other", worker("bystander", RESTART_PERMANENT), 900);
    for (pid_t pid = 100; pid < 103; pid++) {
        run_child(w, "strict", worker("job", RESTART_PERMANENT), pid);
        exited(w, pid, 1);
        assert_non_null(log_containing(w, "restarted empty"));
    }
    assert_int_equal(tree_root_restarts_in_window(w->tree, w->now), 3);
    run_child(w, "strict", worker("job", RESTART_PERMANENT), 103);
    exited(w, 103, 1);
    assert_log(w, 3, "root restart intensity exceeded: 4 supervisor restarts within 5 s");
    assert_null(log_containing(w, "restarted empty"));
    assert_true(tree_is_stopping(w->tree));
    assert_true(has_signal(w, 900, SIGTERM));
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    start(w, "other", worker("late", RESTART_PERMANENT), 7);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    exited(w, 900, 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 1);
}

static void test_root_restarts_older_than_the_root_window_drop_out(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "strict", DS_INFINITY, 0, 5);
    for (pid_t pid = 100; pid < 110; pid++) {
        w->now += 2000; /* at most 3 in any 5 s */
        run_child(w, "strict", worker("job", RESTART_PERMANENT), pid);
        exited(w, pid, 1);
        assert_non_null(log_containing(w, "restarted empty"));
    }
    assert_false(tree_is_stopping(w->tree));
    assert_int_equal(status_of(w, "strict").times_restarted, 10);
}

static void test_root_intensity_exceeded_with_no_children_left_exits_at_once(void **state)
{
    struct world *w = *state;
    struct tree *strict_root = tree_new(0, 5);
    tree_free(w->tree);
    w->tree = strict_root;
    add_supervisor(w, "strict", DS_INFINITY, 0, 5);
    run_child(w, "strict", worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 1);
}

/* ---- terminate_child ---- */

static void test_terminate_child_with_an_unknown_pid_answers_not_found(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 4242, 5);
    assert_int_equal(w->out.count, 1);
    assert_error_reply(w, 5, ERR_NOT_FOUND);
}

static void test_terminate_child_of_another_supervisor_answers_not_found(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, "other", worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    assert_error_reply(w, 5, ERR_NOT_FOUND);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0);
}

static void test_terminate_child_on_unknown_supervisor_is_refused(void **state)
{
    struct world *w = *state;
    terminate(w, "nope", 100, 5);
    assert_error_reply(w, 5, ERR_UNKNOWN_SUPERVISOR);
}

static void test_terminate_child_answers_ok_only_after_the_child_is_reaped(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    assert_false(has_reply_for(w, 5));
    assert_true(has_signal(w, 100, SIGTERM));
    assert_int_equal(tree_find_child(w->tree, key)->state, CHILD_STOPPING);
    assert_counts(w, SUP, 1, 0, 1);
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_terminated_permanent_child_is_not_restarted(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    killed(w, 100, SIGTERM);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(status_of(w, SUP).restarts_in_window, 0);
}

static void test_stopping_child_exiting_abnormally_still_counts_as_normal(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    terminate(w, SUP, 100, 5);
    exited(w, 100, 143);
    assert_ok_reply(w, 5, 0);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 6, "child job stopped (exit status 143)");
}

static void test_terminate_brutal_kill_child_sends_sigkill_without_a_timer(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, with_shutdown(worker("job", RESTART_PERMANENT), SHUTDOWN_BRUTAL_KILL, 0), 100);
    terminate(w, SUP, 100, 5);
    assert_true(has_signal(w, 100, SIGKILL));
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 1);
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 0);
    killed(w, 100, SIGKILL);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 0);
    assert_ok_reply(w, 5, 0);
}

static void test_terminate_timeout_child_sends_sigterm_then_sigkill_when_the_timer_fires(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, with_shutdown(worker("job", RESTART_PERMANENT),
                                                    SHUTDOWN_TIMEOUT, 3000), 100);
    terminate(w, SUP, 100, 5);
    assert_true(has_signal(w, 100, SIGTERM));
    assert_true(has_timer_start(w, key, 3000));
    assert_log(w, 6, "SIGTERM, SIGKILL after 3000 ms");
    w->now += 3000;
    timer_fired(w, key);
    assert_true(has_signal(w, 100, SIGKILL));
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 0);
    assert_log(w, 4, "child job did not stop within 3000 ms");
    killed(w, 100, SIGKILL);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 0); /* it already fired */
    assert_ok_reply(w, 5, 0);
}

static void test_child_stopping_in_time_cancels_its_shutdown_timer(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 1);
    assert_int_equal(nth_kind(w, ACTION_TIMER_CANCEL, 0)->key, key);
    timer_fired(w, key); /* a late timer for a gone child does nothing */
    assert_int_equal(w->out.count, 0);
}

static void test_terminate_infinity_child_sends_sigterm_and_waits(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, with_shutdown(worker("job", RESTART_PERMANENT), SHUTDOWN_INFINITY, 0), 100);
    terminate(w, SUP, 100, 5);
    assert_true(has_signal(w, 100, SIGTERM));
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 0);
    w->now += 3600 * 1000;
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
}

static void test_terminating_a_stopping_child_again_answers_both_when_reaped(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    terminate(w, SUP, 100, 5);
    terminate(w, SUP, 100, 6);
    assert_int_equal(w->out.count, 0); /* no second signal, no answer yet */
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
    assert_ok_reply(w, 6, 0);
}

static void test_terminating_a_child_during_init_fails_its_pending_start(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("job", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    terminate(w, SUP, 100, 5);
    assert_error_reply(w, 7, ERR_INIT_FAILED);
    assert_string_equal(reply_for(w, 7)->reply.detail, "stopped before init returned");
    assert_true(has_signal(w, 100, SIGTERM));
    init_reported(w, key, INIT_OK, NULL);
    assert_int_equal(w->out.count, 0);
    exited(w, 100, 0);
    assert_ok_reply(w, 5, 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_terminate_child_works_on_a_supervisor_already_shutting_down(void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    terminate(w, SUP, 303, 5);
    assert_int_equal(w->out.count, 0);
    exited(w, 303, 0);
    assert_ok_reply(w, 5, 0);
}

/* ---- stopping the host ---- */

static void test_host_stop_with_no_children_exits_zero_at_once(void **state)
{
    struct world *w = *state;
    stop(w);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 0);
    assert_true(tree_is_stopping(w->tree));
}

static void test_host_stop_shuts_down_every_child_and_exits_after_the_last_reap(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "other", DS_INFINITY, 3, 5);
    run_child(w, SUP, with_shutdown(worker("a", RESTART_PERMANENT), SHUTDOWN_BRUTAL_KILL, 0), 100);
    run_child(w, SUP, worker("b", RESTART_TRANSIENT), 101);
    run_child(w, "other", with_shutdown(worker("c", RESTART_PERMANENT), SHUTDOWN_INFINITY, 0), 102);
    stop(w);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 3);
    assert_true(has_signal(w, 100, SIGKILL));
    assert_true(has_signal(w, 101, SIGTERM));
    assert_true(has_signal(w, 102, SIGTERM));
    assert_int_equal(count_kind(w, ACTION_TIMER_START), 1);
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    assert_true(status_of(w, "other").stopping);
    killed(w, 100, SIGKILL);
    exited(w, 102, 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    killed(w, 101, SIGTERM);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 0);
}

static void test_host_stop_is_idempotent(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    stop(w);
    stop(w);
    assert_int_equal(w->out.count, 0);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
    stop(w);
    assert_int_equal(w->out.count, 0);
}

static void test_host_stop_answers_pending_starts_shutting_down(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("a", RESTART_PERMANENT), 7);
    spawned(w, key, 100);
    stop(w);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    assert_true(has_signal(w, 100, SIGTERM));
    start(w, SUP, worker("b", RESTART_PERMANENT), 8);
    assert_error_reply(w, 8, ERR_SHUTTING_DOWN);
}

static void test_host_stop_signals_a_spawn_in_flight_once_its_pid_arrives(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("a", RESTART_PERMANENT), 7);
    stop(w);
    assert_error_reply(w, 7, ERR_SHUTTING_DOWN);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    spawned(w, key, 100);
    assert_true(has_signal(w, 100, SIGTERM));
    assert_true(has_timer_start(w, key, 5000));
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_TIMER_CANCEL), 1);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

static void test_host_stop_removes_a_spawn_in_flight_that_fails(void **state)
{
    struct world *w = *state;
    child_key key = start_spawning(w, SUP, worker("a", RESTART_PERMANENT), 7);
    stop(w);
    spawn_failed(w, key, "fork failed");
    assert_int_equal(count_kind(w, ACTION_REPLY), 0); /* it was answered at the stop */
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

static void test_host_stop_stops_a_restart_in_flight(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    stop(w);
    assert_int_equal(count_kind(w, ACTION_EXIT), 0);
    spawned(w, key, 200);
    assert_true(has_signal(w, 200, SIGTERM));
    init_reported(w, key, INIT_FAILED, "too late anyway");
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    exited(w, 200, 1);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

static void test_host_stop_during_an_escalation_exits_zero_without_restarting(void **state)
{
    struct world *w = *state;
    escalate_with_three_siblings(w, SUP);
    stop(w);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), 0); /* all were signalled already */
    killed(w, 301, SIGKILL);
    exited(w, 302, 0);
    exited(w, 303, 0);
    assert_null(log_containing(w, "restarted empty"));
    assert_int_equal(nth_kind(w, ACTION_EXIT, 0)->exit_status, 0);
    assert_int_equal(status_of(w, SUP).times_restarted, 0);
}

/* ---- which_children / count_children / status ---- */

static void test_count_children_counts_every_state(void **state)
{
    struct world *w = *state;
    child_key starting = start_spawning(w, SUP, worker("starting", RESTART_PERMANENT), 1);
    assert_counts(w, SUP, 1, 0, 1);
    spawned(w, starting, 100);
    assert_counts(w, SUP, 1, 0, 1);
    run_child(w, SUP, worker("running", RESTART_PERMANENT), 101);
    assert_counts(w, SUP, 2, 1, 2);
    run_child(w, SUP, worker("restarting", RESTART_PERMANENT), 102);
    exited(w, 102, 1);
    assert_counts(w, SUP, 3, 1, 3);
    run_child(w, SUP, worker("stopping", RESTART_PERMANENT), 103);
    assert_counts(w, SUP, 4, 2, 4);
    terminate(w, SUP, 103, 5);
    assert_counts(w, SUP, 4, 1, 4);
    exited(w, 103, 0);
    assert_counts(w, SUP, 3, 1, 3);
}

static void test_which_children_lists_in_start_order_with_pid_zero_when_not_running(void **state)
{
    struct world *w = *state;
    child_key a = run_child(w, SUP, worker("a", RESTART_PERMANENT), 100);
    child_key b = start_spawning(w, SUP, worker("b", RESTART_PERMANENT), 1);
    spawned(w, b, 101);
    child_key c = run_child(w, SUP, worker("c", RESTART_PERMANENT), 102);
    exited(w, 102, 1);
    child_key d = run_child(w, SUP, worker("d", RESTART_PERMANENT), 103);
    struct child_list list = children_of(w, SUP);
    assert_int_equal(list.count, 4);
    child_key keys[] = {a, b, c, d};
    pid_t pids[] = {100, 0, 0, 103};
    enum child_state states[] = {CHILD_RUNNING, CHILD_STARTING, CHILD_RESTARTING, CHILD_RUNNING};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(list.keys[i], keys[i]);
        assert_int_equal(list.pids[i], pids[i]);
        assert_int_equal(list.states[i], states[i]);
    }
    exited(w, 100, 0); /* a restarts and keeps its place */
    run_child(w, SUP, worker("e", RESTART_PERMANENT), 104);
    list = children_of(w, SUP);
    assert_int_equal(list.count, 5);
    assert_int_equal(list.keys[0], a);
}

static void test_queries_on_an_unknown_supervisor_answer_minus_one(void **state)
{
    struct world *w = *state;
    struct child_counts counts;
    struct child_list list = {0};
    assert_int_equal(tree_count_children(w->tree, "nope", &counts), -1);
    assert_int_equal(tree_each_child(w->tree, "nope", collect_child, &list), -1);
    assert_false(tree_has_supervisor(w->tree, "nope"));
    assert_null(tree_find_child(w->tree, 12345));
    assert_null(tree_child_supervisor(w->tree, 12345));
}

static void visit_name(const struct supervisor_status *status, void *context)
{
    char *names = context;
    strcat(names, status->name);
    strcat(names, " ");
}

static void test_status_visits_supervisors_in_the_order_they_were_added(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "b", DS_INFINITY, 3, 5);
    add_supervisor(w, "a", DS_INFINITY, 3, 5);
    char names[64] = "";
    tree_each_supervisor(w->tree, w->now, visit_name, names);
    assert_string_equal(names, SUP " b a ");
}

static void test_reply_errors_have_their_wire_names(void **state)
{
    (void)state;
    assert_string_equal(reply_error_name(ERR_NONE), "none");
    assert_string_equal(reply_error_name(ERR_MAX_CHILDREN), "max_children");
    assert_string_equal(reply_error_name(ERR_ALREADY_STARTED), "already_started");
    assert_string_equal(reply_error_name(ERR_INIT_FAILED), "init_failed");
    assert_string_equal(reply_error_name(ERR_UNKNOWN_SUPERVISOR), "unknown_supervisor");
    assert_string_equal(reply_error_name(ERR_UNKNOWN_CHILD), "unknown_child");
    assert_string_equal(reply_error_name(ERR_UNKNOWN_EVENT), "unknown_event");
    assert_string_equal(reply_error_name(ERR_NOT_FOUND), "not_found");
    assert_string_equal(reply_error_name(ERR_SHUTTING_DOWN), "shutting_down");
}

static void test_spawned_for_an_unknown_child_kills_the_stray_worker(void **state)
{
    struct world *w = *state;
    spawned(w, 777, 100);
    assert_true(has_signal(w, 100, SIGKILL));
    exited(w, 100, 0);
    assert_int_equal(w->out.count, 0);
}

static void test_log_lines_carry_supervisor_key_and_pid(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    const struct action *log = log_containing(w, "started");
    assert_non_null(log);
    assert_string_equal(log->supervisor, SUP);
    assert_int_equal(log->key, key);
    assert_int_equal(log->pid, 100);
}

static void test_freeing_a_tree_with_live_children_is_clean(void **state)
{
    struct world *w = *state; /* teardown frees; ASan checks nothing leaks */
    run_child(w, SUP, named(worker("a", RESTART_PERMANENT), "alpha"), 100);
    child_key b = run_child(w, SUP, worker("b", RESTART_PERMANENT), 101);
    exited(w, 101, 1);
    spawned(w, b, 201);
    terminate(w, SUP, 100, 5);
    start_spawning(w, SUP, worker("c", RESTART_PERMANENT), 6);
}

/* ---- scale ---- */

#define MANY 10000

static void test_ten_thousand_children_start_crash_and_stop(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "big", DS_INFINITY, MANY * 2, 5);
    static child_key keys[MANY];
    char name[32];
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof name, "n%d", i);
        struct child_start spec = named(worker("job", RESTART_PERMANENT), name);
        keys[i] = start_spawning(w, "big", spec, (request_token)i);
        spawned(w, keys[i], 10000 + i);
        init_reported(w, keys[i], INIT_OK, NULL);
    }
    assert_counts(w, "big", MANY, MANY, MANY);
    start(w, "big", named(worker("job", RESTART_PERMANENT), "n4321"), 1);
    assert_int_equal(reply_for(w, 1)->reply.pid, 10000 + 4321);
    /* Every third child crashes and comes back with a new pid. */
    for (int i = 0; i < MANY; i += 3) {
        exited(w, 10000 + i, 1);
        assert_respawned(w, keys[i]);
        spawned(w, keys[i], 30000 + i);
        init_reported(w, keys[i], INIT_OK, NULL);
    }
    /* Every seventh is terminated. */
    for (int i = 0; i < MANY; i += 7) {
        pid_t pid = i % 3 == 0 ? 30000 + i : 10000 + i;
        terminate(w, "big", pid, 5);
        exited(w, pid, 0);
        assert_ok_reply(w, 5, 0);
    }
    size_t left = MANY - (MANY + 6) / 7;
    assert_counts(w, "big", left, left, left);
    stop(w);
    assert_int_equal(count_kind(w, ACTION_SIGNAL), left);
    for (int i = 0; i < MANY; i++) {
        if (i % 7 == 0)
            continue;
        exited(w, i % 3 == 0 ? 30000 + i : 10000 + i, 0);
    }
    assert_int_equal(count_kind(w, ACTION_EXIT), 1);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_supervisor_starts_with_no_children),
        TEST(test_start_child_spawns_and_replies_only_after_init_returned_ok),
        TEST(test_start_child_copies_everything_it_is_given),
        TEST(test_init_ignore_answers_ignore_and_keeps_no_child),
        TEST(test_init_failure_answers_init_failed_with_its_reason),
        TEST(test_worker_exit_after_init_refused_is_an_unknown_pid),
        TEST(test_spawn_failure_answers_init_failed_with_its_reason),
        TEST(test_worker_exiting_during_init_answers_init_failed_with_exit_status),
        TEST(test_worker_killed_during_init_answers_init_failed_with_signal),
        TEST(test_start_child_on_unknown_supervisor_is_refused),
        TEST(test_child_keys_are_unique_across_supervisors),
        TEST(test_duplicate_supervisor_name_is_refused),
        TEST(test_max_children_refuses_a_start_when_full),
        TEST(test_children_still_starting_count_toward_max_children),
        TEST(test_restarting_children_count_toward_max_children),
        TEST(test_slot_is_freed_once_the_child_is_gone),
        TEST(test_stopping_children_count_toward_max_children_until_reaped),
        TEST(test_infinite_max_children_never_refuses),
        TEST(test_name_in_use_answers_already_started_with_the_existing_pid),
        TEST(test_start_naming_a_child_still_in_init_waits_and_gets_its_pid),
        TEST(test_start_waiting_on_a_name_starts_afresh_when_the_holder_fails_init),
        TEST(test_starts_waiting_on_one_name_are_served_in_request_order),
        TEST(test_start_naming_a_restarting_child_gets_the_restarted_pid),
        TEST(test_start_waiting_on_a_name_answers_shutting_down_when_the_host_stops),
        TEST(test_name_is_free_again_after_the_child_is_gone),
        TEST(test_same_name_in_another_supervisor_is_allowed),
        TEST(test_name_check_comes_before_max_children),
        TEST(test_permanent_child_exiting_normally_is_restarted),
        TEST(test_permanent_child_exiting_abnormally_is_restarted),
        TEST(test_transient_child_exiting_normally_is_not_restarted),
        TEST(test_transient_child_exiting_with_non_zero_status_is_restarted),
        TEST(test_transient_child_killed_by_a_signal_is_restarted),
        TEST(test_temporary_child_exiting_abnormally_is_not_restarted),
        TEST(test_temporary_child_exiting_normally_is_not_restarted),
        TEST(test_restarted_child_keeps_its_key_spec_and_place),
        TEST(test_old_pid_of_a_restarted_child_is_forgotten),
        TEST(test_exit_of_an_unknown_pid_is_ignored),
        TEST(test_max_restarts_within_max_seconds_are_allowed),
        TEST(test_one_restart_more_than_max_restarts_escalates),
        TEST(test_restart_one_ms_inside_the_window_still_counts),
        TEST(test_restart_exactly_max_seconds_old_drops_out_of_the_window),
        TEST(test_sliding_window_forgets_only_the_oldest_restarts),
        TEST(test_max_restarts_zero_escalates_on_the_first_restart),
        TEST(test_exits_without_restart_do_not_count_toward_intensity),
        TEST(test_failed_restart_keeps_the_child_restarting_and_retries),
        TEST(test_failed_restart_counts_toward_max_children),
        TEST(test_failed_restarts_escalate_when_they_exceed_the_intensity),
        TEST(test_failed_restart_by_spawn_failure_is_retried),
        TEST(test_failed_restart_by_exit_during_init_is_retried),
        TEST(test_restart_whose_init_answers_ignore_removes_the_child),
        TEST(test_failed_restart_forgets_the_pid_of_the_failed_try),
        TEST(test_escalation_shuts_down_all_children_at_once_by_their_shutdown),
        TEST(test_escalated_supervisor_is_restarted_empty_after_the_last_child_is_reaped),
        TEST(test_escalating_supervisor_refuses_new_starts),
        TEST(test_escalation_answers_pending_starts_shutting_down),
        TEST(test_escalation_signals_a_child_spawned_later_when_its_pid_arrives),
        TEST(test_escalation_removes_a_child_whose_spawn_then_fails),
        TEST(test_child_exiting_abnormally_while_its_supervisor_shuts_down_is_not_restarted),
        TEST(test_escalation_leaves_other_supervisors_alone),
        TEST(test_root_intensity_exceeded_stops_the_host_with_status_one),
        TEST(test_root_restarts_older_than_the_root_window_drop_out),
        TEST(test_root_intensity_exceeded_with_no_children_left_exits_at_once),
        TEST(test_terminate_child_with_an_unknown_pid_answers_not_found),
        TEST(test_terminate_child_of_another_supervisor_answers_not_found),
        TEST(test_terminate_child_on_unknown_supervisor_is_refused),
        TEST(test_terminate_child_answers_ok_only_after_the_child_is_reaped),
        TEST(test_terminated_permanent_child_is_not_restarted),
        TEST(test_stopping_child_exiting_abnormally_still_counts_as_normal),
        TEST(test_terminate_brutal_kill_child_sends_sigkill_without_a_timer),
        TEST(test_terminate_timeout_child_sends_sigterm_then_sigkill_when_the_timer_fires),
        TEST(test_child_stopping_in_time_cancels_its_shutdown_timer),
        TEST(test_terminate_infinity_child_sends_sigterm_and_waits),
        TEST(test_terminating_a_stopping_child_again_answers_both_when_reaped),
        TEST(test_terminating_a_child_during_init_fails_its_pending_start),
        TEST(test_terminate_child_works_on_a_supervisor_already_shutting_down),
        TEST(test_host_stop_with_no_children_exits_zero_at_once),
        TEST(test_host_stop_shuts_down_every_child_and_exits_after_the_last_reap),
        TEST(test_host_stop_is_idempotent),
        TEST(test_host_stop_answers_pending_starts_shutting_down),
        TEST(test_host_stop_signals_a_spawn_in_flight_once_its_pid_arrives),
        TEST(test_host_stop_removes_a_spawn_in_flight_that_fails),
        TEST(test_host_stop_stops_a_restart_in_flight),
        TEST(test_host_stop_during_an_escalation_exits_zero_without_restarting),
        TEST(test_count_children_counts_every_state),
        TEST(test_which_children_lists_in_start_order_with_pid_zero_when_not_running),
        TEST(test_queries_on_an_unknown_supervisor_answer_minus_one),
        TEST(test_status_visits_supervisors_in_the_order_they_were_added),
        TEST(test_reply_errors_have_their_wire_names),
        TEST(test_spawned_for_an_unknown_child_kills_the_stray_worker),
        TEST(test_log_lines_carry_supervisor_key_and_pid),
        TEST(test_freeing_a_tree_with_live_children_is_clean),
        TEST(test_ten_thousand_children_start_crash_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
