/*
 * The supervision tree (see supervisor.h): OTP's DynamicSupervisor with the
 * one_for_one strategy, as events in and actions out.
 *
 * Each event is one function with one `switch` on the child's state; the
 * cells of that table are the small functions above it. Lookups by pid, by
 * child key and by registered name go through hash maps and the counts are
 * kept up to date on every transition, so a start, an exit or a query costs
 * the same with ten children or ten thousand. Only stopping a supervisor
 * (or the host) walks every child, which it must do anyway.
 *
 * Children that leave the tree are not freed at once but parked until the
 * next event: the actions of the current event may still point at their
 * strings (see the lifetime rule in supervisor.h).
 */
#include "supervisor.h"

#include "supervisor_actions.h"
#include "supervisor_backoff.h"
#include "supervisor_stopping.h"
#include "supervisor_tree.h"

#include <signal.h>
#include <stdio.h>

static const char *restart_name(enum restart_policy restart)
{
    switch (restart) {
    case RESTART_PERMANENT: return "permanent";
    case RESTART_TRANSIENT: return "transient";
    case RESTART_TEMPORARY: return "temporary";
    }
    return "?";
}

/* The supervisor shut all its children down after exceeding its intensity;
 * the root restarts it empty unless that exceeds the root's own intensity. */
static void supervisor_terminated(struct tree *tree, struct supervisor *sup, ds_time_ms now,
                                  struct action_list *out)
{
    sup->terminating = false;
    window_clear(&sup->restarts);
    if (!window_record(&tree->root_restarts, now, tree->root_max_restarts, tree->root_max_seconds)) {
        emit_log(out, LOG_LEVEL_ERROR, NULL, NULL, 0, 0,
                 "root restart intensity exceeded: %zu supervisor restarts within %u s "
                 "(max_restarts %u) after supervisor %s terminated; stopping the host",
                 tree->root_restarts.count, tree->root_max_seconds, tree->root_max_restarts,
                 sup->name);
        stop_host(tree, 1, out);
        return;
    }
    sup->times_restarted++;
    emit_log(out, LOG_LEVEL_WARNING, sup->name, NULL, 0, 0,
             "supervisor terminated and restarted empty by the root (restart %u since boot)",
             sup->times_restarted);
}

static void start_child_now(struct tree *tree, const char *supervisor,
                            const struct child_start *start, request_token token,
                            struct action_list *out);

/* A reload added the name back while `removed` stopped its children: the
 * new supervisor takes its place, empty, now that it is gone. */
static void create_re_added(struct tree *tree, const struct supervisor *removed,
                            struct action_list *out)
{
    struct supervisor_config settings = removed->re_added_settings;
    settings.name = removed->name;
    if (tree_add_supervisor(tree, &settings) != 0)
        return; /* cannot be: `removed` was detached, the name is free */
    const char *name = find_supervisor(tree, removed->name)->name;
    emit_log(out, LOG_LEVEL_INFO, name, NULL, 0, 0,
             "supervisor added (re-added by a reload while the removed one stopped)");
    emit_supervisor_added(out, name);
}

/* Called at the end of every event: completes a supervisor's termination
 * or removal (creating the one re-added meanwhile) or the host's stop once
 * the last child is gone. */
static void settle(struct tree *tree, struct supervisor *sup, ds_time_ms now,
                   struct action_list *out)
{
    /* Requests that waited on a name whose holder is now gone. */
    for (struct parked_start *parked; (parked = take_unparked(tree)) != NULL;) {
        start_child_now(tree, parked->supervisor, &parked->start, parked->token, out);
        free_parked(parked);
    }
    if (sup != NULL && sup->removing && sup->counts.workers == 0) {
        emit_log(out, LOG_LEVEL_INFO, sup->name, NULL, 0, 0, "supervisor removed");
        detach_supervisor(tree, sup);
        if (sup->re_added && !tree->stopping)
            create_re_added(tree, sup, out);
    } else if (!tree->stopping && sup != NULL && sup->terminating && sup->counts.workers == 0) {
        supervisor_terminated(tree, sup, now, out);
    }
    if (tree->stopping && !tree->exited && tree->child_total == 0) {
        tree->exited = true;
        emit_log(out, LOG_LEVEL_INFO, NULL, NULL, 0, 0, "all children stopped; exiting with status %d",
                 tree->exit_status);
        emit_exit(out, tree->exit_status);
    }
}

/* ---- restarts ---- */

static void answer_parked(struct child *child, struct action_list *out);

/* The restart happens now: spawn the child again, unless this restart is
 * one too many for its supervisor, which then gives up and shuts
 * everything down. A restart that waited (backoff) is counted here, when
 * it happens, not when it was decided. */
static void restart_now(struct tree *tree, struct child *child, ds_time_ms now,
                        struct action_list *out)
{
    struct supervisor *sup = child->supervisor;
    if (!window_record(&sup->restarts, now, sup->max_restarts, sup->max_seconds)) {
        emit_log(out, LOG_LEVEL_ERROR, sup->name, child->info.id, child->info.key, 0,
                 "restart intensity exceeded: %zu restarts within %u s (max_restarts %u) "
                 "at child %s; shutting down all %zu children and terminating",
                 sup->restarts.count, sup->max_seconds, sup->max_restarts, child->info.id,
                 sup->counts.workers);
        sup->terminating = true;
        shut_down_all_children(tree, sup, "the supervisor is shutting down", out);
        return;
    }
    child->info.restarts++;
    child->spawn_in_flight = true;
    emit_spawn(out, sup->name, &child->info);
}

/* The wait before the next restart of a series; 0 without backoff. */
static uint32_t next_backoff_delay(struct tree *tree, struct child *child)
{
    if (child->info.backoff.delay_ms == 0)
        return 0;
    if (child->backoff_step < UINT32_MAX)
        child->backoff_step++;
    return backoff_delay_ms(child->info.backoff, child->backoff_step,
                            tree->random.next(tree->random.context));
}

/* The child has no process any more and is due a restart: at once (as OTP
 * does), or, with backoff, once its restart timer fires. While it waits
 * its name stays taken: those who asked for the name are told it is taken
 * now rather than kept waiting through the delay. */
static void restart_child(struct tree *tree, struct child *child, ds_time_ms now,
                          struct action_list *out)
{
    set_state(child, CHILD_RESTARTING);
    child->info.pid = 0;
    uint32_t delay = next_backoff_delay(tree, child);
    if (delay == 0) {
        restart_now(tree, child, now, out);
        return;
    }
    const char *sup = child->supervisor->name;
    child->restart_waiting = true;
    child->info.next_restart_at = now + delay;
    emit_timer_start(out, sup, child->info.key, delay);
    child->timer_armed = true;
    emit_log(out, LOG_LEVEL_INFO, sup, child->info.id, child->info.key, 0,
             "child %s: restart in %u ms (backoff, restart %u of this series)", child->info.id,
             delay, child->backoff_step);
    answer_parked(child, out);
}

/* A child that ran at least restart_delay_max without failing starts a
 * new backoff series (systemd's RestartSteps idea): one crash after a
 * long healthy run is retried quickly again. */
static void note_healthy_run(struct child *child, ds_time_ms now)
{
    struct restart_backoff backoff = child->info.backoff;
    uint32_t long_enough = backoff.delay_max_ms > backoff.delay_ms ? backoff.delay_max_ms
                                                                   : backoff.delay_ms;
    if (child->info.started_at >= 0 && now - child->info.started_at >= (ds_time_ms)long_enough)
        child->backoff_step = 0;
}

static void restart_failed(struct tree *tree, struct child *child, const char *why, ds_time_ms now,
                           struct action_list *out)
{
    emit_log(out, LOG_LEVEL_ERROR, child->supervisor->name, child->info.id, child->info.key, child->process_pid,
             "child %s: restart failed (%s); retrying", child->info.id, why);
    forget_process(tree, child);
    restart_child(tree, child, now, out);
}

static void first_start_failed(struct tree *tree, struct child *child, const char *detail,
                               struct action_list *out)
{
    const char *sup = child->supervisor->name;
    emit_log(out, LOG_LEVEL_WARNING, sup, child->info.id, child->info.key, child->process_pid,
             "child %s: start failed: %s", child->info.id, detail);
    answer_pending_start(child, ERR_INIT_FAILED, detail, out);
    remove_child(tree, child);
}

/* ---- events ---- */

/* start_child proper; also runs again for requests that waited on a name.
 * Does not free removed children: it may run while this event's actions
 * still point into them. */
static void start_child_now(struct tree *tree, const char *supervisor,
                            const struct child_start *start, request_token token,
                            struct action_list *out)
{
    struct supervisor *sup = find_supervisor(tree, supervisor);
    if (sup == NULL) {
        emit_reply(out, supervisor, token, REPLY_ERROR, ERR_UNKNOWN_SUPERVISOR, 0, NULL);
        return;
    }
    if (tree->stopping || sup->terminating) {
        emit_reply(out, sup->name, token, REPLY_ERROR, ERR_SHUTTING_DOWN, 0,
                   tree->stopping ? "the host is shutting down" : "the supervisor is shutting down");
        return;
    }
    if (start->name != NULL && start->name[0] != '\0') {
        struct child *holder = hashmap_get_string(&sup->children_by_name, start->name);
        if (holder != NULL && holder->restart_waiting) {
            emit_reply(out, sup->name, token, REPLY_ERROR, ERR_ALREADY_STARTED, 0,
                       "the child holding this name is waiting to restart");
            return;
        }
        if (holder != NULL && holder->info.pid == 0) {
            park_start(holder, sup->name, start, token);
            return;
        }
        if (holder != NULL) {
            emit_reply(out, sup->name, token, REPLY_ERROR, ERR_ALREADY_STARTED, holder->info.pid,
                       NULL);
            return;
        }
    }
    if (sup->max_children != DS_INFINITY && sup->counts.workers >= sup->max_children) {
        emit_reply(out, sup->name, token, REPLY_ERROR, ERR_MAX_CHILDREN, 0, NULL);
        return;
    }
    struct child *child = new_child(tree, sup, start, token);
    child->spawn_in_flight = true;
    emit_spawn(out, sup->name, &child->info);
}

void tree_start_child(struct tree *tree, const char *supervisor, const struct child_start *start,
                      request_token token, ds_time_ms now, struct action_list *out)
{
    (void)now;
    free_removed_children(tree);
    start_child_now(tree, supervisor, start, token, out);
}

/* The child holding a name now runs: those who waited for the name learn
 * its pid. */
static void answer_parked(struct child *child, struct action_list *out)
{
    while (child->parked_first != NULL) {
        struct parked_start *parked = child->parked_first;
        child->parked_first = parked->next;
        emit_reply(out, child->supervisor->name, parked->token, REPLY_ERROR, ERR_ALREADY_STARTED,
                   child->info.pid, NULL);
        free_parked(parked);
    }
    child->parked_last = NULL;
}

void tree_spawned(struct tree *tree, child_key key, pid_t pid, ds_time_ms now,
                  struct action_list *out)
{
    free_removed_children(tree);
    struct child *child = find_child(tree, key);
    if (child == NULL || !child->spawn_in_flight) {
        /* Nobody supervises this process: do not leave it running. */
        emit_log(out, LOG_LEVEL_WARNING, NULL, child ? child->info.id : NULL, key, pid,
                 "worker spawned for an unknown child; killing it");
        emit_signal(out, NULL, pid, SIGKILL);
        return;
    }
    child->spawn_in_flight = false;
    set_process(tree, child, pid);
    child->info.started_at = now;
    if (child->info.state == CHILD_STOPPING)
        send_shutdown_signals(child, out);
}

void tree_spawn_failed(struct tree *tree, child_key key, const char *detail, ds_time_ms now,
                       struct action_list *out)
{
    free_removed_children(tree);
    struct child *child = find_child(tree, key);
    if (child == NULL || !child->spawn_in_flight)
        return;
    struct supervisor *sup = child->supervisor;
    child->spawn_in_flight = false;
    if (detail == NULL)
        detail = "could not start the worker";
    switch (child->info.state) {
    case CHILD_STARTING:
        first_start_failed(tree, child, detail, out);
        break;
    case CHILD_RESTARTING:
        restart_failed(tree, child, detail, now, out);
        break;
    case CHILD_STOPPING:
        finish_stopping(tree, child, "its worker never started", out);
        break;
    case CHILD_RUNNING:
        break;
    }
    settle(tree, sup, now, out);
}

void tree_init_reported(struct tree *tree, child_key key, enum init_result result,
                        const char *detail, ds_time_ms now, struct action_list *out)
{
    free_removed_children(tree);
    struct child *child = find_child(tree, key);
    if (child == NULL)
        return;
    struct supervisor *sup = child->supervisor;
    const char *failure = detail != NULL ? detail : "init failed";
    enum child_state state = child->info.state;
    if (state != CHILD_STARTING && state != CHILD_RESTARTING)
        return; /* running already, or being stopped: its exit decides */
    bool restart = state == CHILD_RESTARTING;
    switch (result) {
    case INIT_OK:
        set_state(child, CHILD_RUNNING);
        child->info.pid = child->process_pid;
        emit_log(out, LOG_LEVEL_INFO, sup->name, child->info.id, key, child->process_pid, "child %s %s (pid %d)",
                 child->info.id, restart ? "restarted" : "started", (int)child->process_pid);
        if (child->start_pending) {
            child->start_pending = false;
            emit_reply(out, sup->name, child->start_token, REPLY_OK, ERR_NONE, child->process_pid,
                       NULL);
        }
        answer_parked(child, out);
        break;
    case INIT_IGNORE:
        emit_log(out, LOG_LEVEL_INFO, sup->name, child->info.id, key, child->process_pid,
                 "child %s: init answered ignore%s; removed", child->info.id,
                 restart ? " on restart" : "");
        if (child->start_pending) {
            child->start_pending = false;
            emit_reply(out, sup->name, child->start_token, REPLY_IGNORE, ERR_NONE, 0, NULL);
        }
        remove_child(tree, child);
        break;
    case INIT_FAILED:
        if (restart)
            restart_failed(tree, child, failure, now, out);
        else
            first_start_failed(tree, child, failure, out);
        break;
    }
    settle(tree, sup, now, out);
}

static void exited_while_running(struct tree *tree, struct child *child, bool normal,
                                 const char *how, ds_time_ms now, struct action_list *out)
{
    struct supervisor *sup = child->supervisor;
    bool restart = child->info.restart == RESTART_PERMANENT ||
                   (child->info.restart == RESTART_TRANSIENT && !normal);
    emit_log(out, normal ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING, sup->name, child->info.id, child->info.key,
             child->process_pid, "child %s exited %s (%s); %s (%s)", child->info.id,
             normal ? "normally" : "abnormally", how, restart ? "restarting" : "not restarted",
             restart_name(child->info.restart));
    note_healthy_run(child, now);
    forget_process(tree, child);
    if (restart)
        restart_child(tree, child, now, out);
    else
        remove_child(tree, child);
}

static void child_exited(struct tree *tree, struct child *child, struct child_exit how,
                         ds_time_ms now, struct action_list *out);

void tree_child_exited(struct tree *tree, pid_t pid, struct child_exit how, ds_time_ms now,
                       struct action_list *out)
{
    free_removed_children(tree);
    struct child *child = pid > 0 ? hashmap_get_number(&tree->children_by_pid, (uint64_t)pid) : NULL;
    if (child != NULL)
        child_exited(tree, child, how, now, out);
}

void tree_worker_exited(struct tree *tree, child_key key, pid_t pid, struct child_exit how,
                        ds_time_ms now, struct action_list *out)
{
    free_removed_children(tree);
    struct child *child = find_child(tree, key);
    /* Another process of this child by now (the exit of one whose init
     * failed, say), or the child is gone: nothing of the tree's ended. */
    if (child != NULL && pid > 0 && child->process_pid == pid)
        child_exited(tree, child, how, now, out);
}

static void child_exited(struct tree *tree, struct child *child, struct child_exit how,
                         ds_time_ms now, struct action_list *out)
{
    struct supervisor *sup = child->supervisor;
    char how_text[64];
    describe_exit(how, how_text, sizeof how_text);
    child->info.has_exited = true;
    child->info.last_exit = how;
    child->info.last_exit_at = now;
    switch (child->info.state) {
    case CHILD_STOPPING:
        finish_stopping(tree, child, how_text, out);
        break;
    case CHILD_STARTING: {
        char detail[96];
        snprintf(detail, sizeof detail, "worker exited during init: %s", how_text);
        first_start_failed(tree, child, detail, out);
        break;
    }
    case CHILD_RESTARTING: {
        char why[96];
        snprintf(why, sizeof why, "worker exited during init: %s", how_text);
        restart_failed(tree, child, why, now, out);
        break;
    }
    case CHILD_RUNNING:
        exited_while_running(tree, child, how.signal == 0 && how.exit_code == 0, how_text, now, out);
        break;
    }
    settle(tree, sup, now, out);
}

/* The child a terminate_child designates: by its live process, its key
 * or its registered name; NULL if none of this supervisor's. */
static struct child *select_child(const struct tree *tree, const struct supervisor *sup,
                                  const struct child_selector *which)
{
    struct child *child = NULL;
    if (which->pid > 0)
        child = hashmap_get_number(&tree->children_by_pid, (uint64_t)which->pid);
    else if (which->key > 0)
        child = find_child(tree, which->key);
    else if (which->name != NULL)
        child = hashmap_get_string(&sup->children_by_name, which->name);
    return child != NULL && child->supervisor == sup ? child : NULL;
}

void tree_terminate_child(struct tree *tree, const char *supervisor,
                          const struct child_selector *which, request_token token,
                          ds_time_ms now, struct action_list *out)
{
    free_removed_children(tree);
    struct supervisor *sup = find_supervisor(tree, supervisor);
    if (sup == NULL) {
        emit_reply(out, supervisor, token, REPLY_ERROR, ERR_UNKNOWN_SUPERVISOR, 0, NULL);
        return;
    }
    struct child *child = select_child(tree, sup, which);
    if (child == NULL) {
        emit_reply(out, sup->name, token, REPLY_ERROR, ERR_NOT_FOUND, 0, NULL);
        return;
    }
    add_terminate_token(child, token);
    if (child->info.state == CHILD_STOPPING)
        return;
    char mode[64];
    describe_shutdown(child->info.shutdown, child->info.shutdown_ms, mode, sizeof mode);
    emit_log(out, LOG_LEVEL_INFO, sup->name, child->info.id, child->info.key, child->process_pid,
             "child %s: terminate requested; shutting down (%s)", child->info.id, mode);
    answer_pending_start(child, ERR_INIT_FAILED, "stopped before init returned", out);
    begin_shutdown(tree, child, out);
    settle(tree, sup, now, out);
}

void tree_timer_fired(struct tree *tree, child_key key, ds_time_ms now, struct action_list *out)
{
    free_removed_children(tree);
    struct child *child = find_child(tree, key);
    if (child == NULL || !child->timer_armed)
        return;
    struct supervisor *sup = child->supervisor;
    child->timer_armed = false;
    switch (child->info.state) {
    case CHILD_STOPPING:
        shutdown_deadline_passed(child, out);
        break;
    case CHILD_RESTARTING:
        if (!child->restart_waiting)
            break;
        child->restart_waiting = false;
        child->info.next_restart_at = -1;
        restart_now(tree, child, now, out);
        break;
    case CHILD_STARTING:
    case CHILD_RUNNING:
        break;
    }
    settle(tree, sup, now, out);
}

void tree_stop(struct tree *tree, ds_time_ms now, struct action_list *out)
{
    free_removed_children(tree);
    stop_host(tree, 0, out);
    settle(tree, NULL, now, out);
}


/* ---- reconfiguration (a reload, SPEC section 8) ---- */

int tree_update_supervisor(struct tree *tree, const struct supervisor_config *config)
{
    struct supervisor *sup = find_supervisor(tree, config->name);
    if (sup != NULL && sup->removing && sup->re_added) {
        sup->re_added_settings = *config;
        sup->re_added_settings.name = NULL; /* not ours to keep; the old one's name is used */
        return 0;
    }
    if (sup == NULL || sup->removing)
        return -1;
    /* A lowered max_children only refuses new starts: nobody is stopped. */
    sup->max_children = config->max_children;
    sup->max_restarts = config->max_restarts;
    sup->max_seconds = config->max_seconds;
    return 0;
}

void tree_remove_supervisor(struct tree *tree, const char *supervisor, ds_time_ms now,
                            struct action_list *out)
{
    free_removed_children(tree);
    struct supervisor *sup = find_supervisor(tree, supervisor);
    if (sup != NULL && sup->removing && sup->re_added) {
        sup->re_added = false;
        emit_log(out, LOG_LEVEL_INFO, sup->name, NULL, 0, 0,
                 "removed again by a reload: it will not be re-added");
        return;
    }
    if (sup == NULL || sup->removing)
        return;
    sup->removing = true;
    sup->terminating = true; /* refuses new starts while its children stop */
    emit_log(out, LOG_LEVEL_INFO, sup->name, NULL, 0, 0,
             "supervisor removed by a reload: shutting down its %zu children", sup->counts.workers);
    shut_down_all_children(tree, sup, "the supervisor was removed", out);
    settle(tree, sup, now, out);
}

int tree_add_supervisor_by_reload(struct tree *tree, const struct supervisor_config *config,
                                  struct action_list *out)
{
    struct supervisor *old = find_supervisor(tree, config->name);
    if (old == NULL) {
        if (tree_add_supervisor(tree, config) != 0)
            return -1;
        emit_supervisor_added(out, find_supervisor(tree, config->name)->name);
        return 0;
    }
    if (!old->removing)
        return -1;
    /* Created once the old one is gone, not beside it: its autostart
     * would otherwise run next to the old children still stopping, under
     * the same name. */
    old->re_added = true;
    old->re_added_settings = *config;
    old->re_added_settings.name = NULL;
    emit_log(out, LOG_LEVEL_INFO, old->name, NULL, 0, 0,
             "added back by a reload: created once the removed one's %zu children have stopped",
             old->counts.workers);
    return 0;
}

void tree_set_root_intensity(struct tree *tree, uint32_t max_restarts, uint32_t max_seconds)
{
    tree->root_max_restarts = max_restarts;
    tree->root_max_seconds = max_seconds;
}

bool tree_root_restart(struct tree *tree, const char *what, ds_time_ms now,
                       struct action_list *out)
{
    free_removed_children(tree);
    if (tree->stopping)
        return false;
    if (window_record(&tree->root_restarts, now, tree->root_max_restarts, tree->root_max_seconds))
        return true;
    emit_log(out, LOG_LEVEL_ERROR, NULL, NULL, 0, 0,
             "root restart intensity exceeded: %zu restarts within %u s (max_restarts %u) after %s; "
             "stopping the host",
             tree->root_restarts.count, tree->root_max_seconds, tree->root_max_restarts, what);
    stop_host(tree, 1, out);
    settle(tree, NULL, now, out);
    return false;
}
