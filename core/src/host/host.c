/*
 * The host's shell: boot, the loop's signals and timers, and carrying out
 * what the tree decides. Every decision lives in supervisor.c; this file
 * only turns real happenings into tree events and actions into syscalls.
 */
#include "host.h"

#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hop_trace.h"
#include "host_internal.h"
#include "host_log.h"
#include "host_notify.h"
#include "log.h"
#include "plugin_loader.h"
#include "protocol.h"
#include "spawner_program.h"

struct shutdown_timer {
    uv_timer_t timer;
    struct host *host;
    child_key key;
};

ds_time_ms host_now(struct host *host)
{
    return (ds_time_ms)(uv_hrtime() / 1000000u) - (ds_time_ms)host->started_at_ms;
}

static void on_handle_closed_free(uv_handle_t *handle)
{
    free(handle->data);
}

/* ---------------------------------------------------------------- actions */

static void on_shutdown_timer(uv_timer_t *timer)
{
    struct shutdown_timer *shutdown = timer->data;
    struct host *host = shutdown->host;
    child_key key = shutdown->key;
    hashmap_remove_number(&host->timers_by_key, key);
    uv_close((uv_handle_t *)timer, on_handle_closed_free);
    struct action_list actions;
    action_list_init(&actions);
    tree_timer_fired(host->tree, key, host_now(host), &actions);
    host_apply(host, &actions);
    action_list_free(&actions);
}

static void start_shutdown_timer(struct host *host, child_key key, uint32_t timeout_ms)
{
    struct shutdown_timer *shutdown = calloc(1, sizeof *shutdown);
    if (!shutdown) {
        log_event(DYNSUP_LOG_ERROR, NULL, NULL, 0, "out of memory arming a shutdown timer");
        return;
    }
    shutdown->host = host;
    shutdown->key = key;
    shutdown->timer.data = shutdown;
    uv_timer_init(&host->loop, &shutdown->timer);
    uv_timer_start(&shutdown->timer, on_shutdown_timer, timeout_ms, 0);
    hashmap_put_number(&host->timers_by_key, key, shutdown);
}

static void cancel_shutdown_timer(struct host *host, child_key key)
{
    struct shutdown_timer *shutdown = hashmap_remove_number(&host->timers_by_key, key);
    if (shutdown) {
        uv_timer_stop(&shutdown->timer);
        uv_close((uv_handle_t *)&shutdown->timer, on_handle_closed_free);
    }
}

void host_log_unclaimed_answer(const char *supervisor, const struct reply *reply)
{
    /* ok is already told by the tree's "child X started" line. */
    if (reply->kind == REPLY_OK)
        return;
    if (reply->kind == REPLY_IGNORE)
        log_event(DYNSUP_LOG_INFO, supervisor, NULL, 0, "start_child: ignore");
    else
        log_event(reply->error == ERR_ALREADY_STARTED ? DYNSUP_LOG_INFO : DYNSUP_LOG_WARNING,
                  supervisor, NULL, reply->pid, "start_child: error %s%s%s",
                  reply_error_name(reply->error), reply->detail ? ": " : "",
                  reply->detail ? reply->detail : "");
}

static void begin_exit(struct host *host, int status);

int host_reserve_deferred(struct host *host)
{
    if (host->deferred_count < host->deferred_capacity)
        return 0;
    size_t capacity = host->deferred_capacity ? host->deferred_capacity * 2 : 8;
    void *grown = realloc(host->deferred, capacity * sizeof *host->deferred);
    if (!grown)
        return -1;
    host->deferred = grown;
    host->deferred_capacity = capacity;
    return 0;
}

static struct deferred_start *defer_start(struct host *host, child_key key)
{
    if (host_reserve_deferred(host) != 0)
        return NULL;
    struct deferred_start *start = &host->deferred[host->deferred_count++];
    memset(start, 0, sizeof *start);
    start->key = key;
    return start;
}

void host_defer_spawn_failure(struct host *host, child_key key, const char *detail)
{
    struct deferred_start *failure = defer_start(host, key);
    if (failure)
        snprintf(failure->detail, sizeof failure->detail, "%s", detail);
}

void host_defer_spare_start(struct host *host, child_key key, size_t spawner_index, pid_t pid,
                            int output_fd, int report_fd)
{
    struct deferred_start *start = defer_start(host, key); /* reserved: cannot fail */
    start->spawner_index = spawner_index;
    start->pid = pid;
    start->fds[0] = output_fd;
    start->fds[1] = report_fd;
}

/* To the worker's process group (SPEC section 9): what the worker forked
 * stops with it. The spawner made the group before the host heard of the
 * pid; the pid alone is the fallback should it not exist. */
static int signal_worker(pid_t pid, int signal_number)
{
    if (kill(-pid, signal_number) == 0)
        return 0;
    if (kill(pid, signal_number) == 0 || errno == ESRCH)
        return 0;
    return -1;
}

static void apply_one(struct host *host, const struct action *action)
{
    metrics_record_action(&host->counters, action, host_now(host));
    switch (action->kind) {
    case ACTION_SPAWN: {
        const char *why = NULL;
        if (host_send_spawn(host, action, &why) < 0)
            host_defer_spawn_failure(host, action->key, why);
        break;
    }
    case ACTION_SIGNAL:
        /* Once exiting, the spawner (and with it every worker) is going or
         * gone: a pid we would signal may already belong to someone else. */
        if (action->pid > 0 && !host->exiting && signal_worker(action->pid, action->signal) < 0)
            log_event(DYNSUP_LOG_WARNING, action->supervisor, NULL, action->pid,
                      "cannot send signal %d: %s", action->signal, strerror(errno));
        /* Its exit must now come at once: make sure its spawner answers. */
        if (action->signal == SIGKILL && !host->exiting && host_worker_kill_sent(host, action->pid))
            host_liveness_watch(host);
        break;
    case ACTION_TIMER_START:
        start_shutdown_timer(host, action->key, action->timeout_ms);
        break;
    case ACTION_TIMER_CANCEL:
        cancel_shutdown_timer(host, action->key);
        break;
    case ACTION_REPLY:
        if (action->token == 0)
            host_log_unclaimed_answer(action->supervisor, &action->reply);
        else if (host->control)
            control_reply(host->control, action->token, protocol_format_reply(&action->reply));
        break;
    case ACTION_LOG:
        log_event(action->level, action->supervisor, action->child_id, action->pid, "%s",
                  action->message);
        break;
    case ACTION_EXIT:
        begin_exit(host, action->exit_status);
        break;
    case ACTION_SUPERVISOR_ADDED:
        host_autostart_later(host, action->supervisor);
        break;
    }
}

void host_apply(struct host *host, struct action_list *actions)
{
    for (size_t i = 0; i < actions->count; i++)
        apply_one(host, &actions->items[i]);
    action_list_clear(actions);
    /* Fed back only now: a tree call while walking its own action list
     * could free what later actions point to. */
    while (host->deferred_count > 0) {
        struct deferred_start start = host->deferred[--host->deferred_count];
        if (start.pid > 0 && host->exiting) {
            /* the workers' pipes are closed already: this one goes too */
            kill(start.pid, SIGKILL);
            close(start.fds[0]);
            close(start.fds[1]);
        } else if (start.pid > 0) {
            struct spawner_spawned spawned = {.key = start.key, .pid = start.pid};
            host_worker_spawned_into(host, start.spawner_index, &spawned, start.fds, 2, 0, actions);
        } else {
            tree_spawn_failed(host->tree, start.key, start.detail, host_now(host), actions);
        }
        for (size_t i = 0; i < actions->count; i++)
            apply_one(host, &actions->items[i]);
        action_list_clear(actions);
    }
    host_run_due_autostarts(host);
    /* A worker's exit, a terminate, an escalation: a child may have left
     * the tree, and with it the last need of a retired generation. */
    if (host->retired_connected > 0 && !host->exiting)
        host_spawners_release_idle(host);
    host_notify_after_actions(host);
}

/* ---------------------------------------------------------------- stopping */

void host_begin_stop(struct host *host, const char *why)
{
    if (host->stopping) {
        log_event(DYNSUP_LOG_INFO, NULL, NULL, 0, "%s: already stopping", why);
        return;
    }
    host->stopping = true;
    host_notify_stopping(host);
    log_event(DYNSUP_LOG_INFO, NULL, NULL, 0, "%s: stopping every child", why);
    host_liveness_watch(host);
    struct action_list actions;
    action_list_init(&actions);
    tree_stop(host->tree, host_now(host), &actions);
    host_apply(host, &actions);
    action_list_free(&actions);
}

static void on_control_closed(void *context)
{
    (void)context;
}

static void begin_exit(struct host *host, int status)
{
    if (host->exiting)
        return;
    host->exiting = true;
    host->exit_status = status;
    host_listings_close(host);
    host_signals_close(host);
    host_liveness_close(host);
    host_watch_stop(host);
    uv_close((uv_handle_t *)&host->child_signal, NULL);
    host_events_close(host);
    /* Shutdown timers left when the exit is abnormal (the spawner died):
     * they would hold the loop open and then SIGKILL reaped pids. */
    for (size_t i = 0; i < host->timers_by_key.capacity; i++) {
        struct shutdown_timer *shutdown = host->timers_by_key.slots[i].value;
        if (shutdown) {
            uv_timer_stop(&shutdown->timer);
            uv_close((uv_handle_t *)&shutdown->timer, on_handle_closed_free);
        }
    }
    hashmap_free(&host->timers_by_key);
    hashmap_init(&host->timers_by_key);
    if (host->control) {
        control_server_close(host->control, on_control_closed, host);
        host->control = NULL;
    }
    host_notify_close(host);
    metrics_http_stop(host->metrics_http);
    host->metrics_http = NULL;
    host_spawners_close(host);
    host_workers_close(host);
}

/* A new generation of a lost plugin process, with the lost one's code
 * (its own copy: not whatever its file holds by now, which only a reload
 * may load, validated), so that its workers' restarts have somewhere to
 * run. A retired generation comes back retired: it serves restarts only.
 * Counts toward the root's intensity: a plugin whose process keeps dying
 * ends in an escalation, not a loop. */
static void relaunch(struct host *host, struct spawner_link *lost)
{
    struct action_list actions;
    action_list_init(&actions);
    char what[160];
    snprintf(what, sizeof what, "the plugin process of %s died", lost->plugin);
    bool may_go_on = tree_root_restart(host->tree, what, host_now(host), &actions);
    host_apply(host, &actions);
    action_list_free(&actions);
    if (!may_go_on)
        return;
    struct error_list errors;
    error_list_init(&errors);
    struct spawner_link *link = host_spawner_load_again(host, lost, &errors);
    if (link && host_spawner_adopt(host, link, true) == 0) {
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, link->pid,
                  "plugin %s relaunched: %s (generation %u, the code of generation %u) serves "
                  "its restarts", link->plugin, link->version, link->generation, lost->generation);
        if (lost->retired)
            host_spawner_retire(link);
    } else {
        if (link)
            host_spawner_give_up(host, link);
        log_event(DYNSUP_LOG_ERROR, NULL, NULL, 0,
                  "plugin %s cannot be relaunched; its children's restarts will fail:",
                  lost->plugin);
        for (size_t i = 0; i < errors.count; i++)
            log_event(DYNSUP_LOG_ERROR, NULL, NULL, 0, "  %s", errors.messages[i]);
    }
    error_list_free(&errors);
}

/* SPEC section 8: the host lives on. The plugin process's workers died
 * with it (PR_SET_PDEATHSIG): each is an exit by SIGKILL, handled by its
 * own restart policy, the restarts running in a relaunched process. */
void host_spawner_lost(struct host *host, struct spawner_link *link, const char *how)
{
    if (host->exiting || link->lost)
        return;
    bool served_restarts = host_restart_generation(host, link->plugin) == link;
    link->lost = true;
    log_event(DYNSUP_LOG_ERROR, NULL, NULL, 0,
              "the plugin process of %s (generation %u) is gone (%s); its %zu workers died with it",
              link->plugin, link->generation, how, link->worker_count);
    host_spawner_disconnect(link);
    if (served_restarts && !host->stopping)
        relaunch(host, link);
    host_spawner_forget_copy(link);
    host_spawner_fail_pending(link, "the plugin process died");
    host_workers_lost(host, link->index);
    struct action_list actions; /* empty: feeds back the failed starts */
    action_list_init(&actions);
    host_apply(host, &actions);
    action_list_free(&actions);
}

/* Only the spawners are the host's children: workers are theirs. */
static void on_child_signal(uv_signal_t *handle, int signal_number)
{
    (void)signal_number;
    host_spawners_reap(handle->data);
}

/* ---------------------------------------------------------------- boot */

static void print_errors(const struct error_list *errors)
{
    for (size_t i = 0; i < errors->count; i++)
        fprintf(stderr, "%s\n", errors->messages[i]);
}

/* 10,000 workers need 10,000 descriptors in the host (one output pipe
 * each), more than the usual soft limit. */
static void raise_descriptor_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return;
    rlim_t wanted = 1u << 20;
    if (limit.rlim_max < wanted) {
        struct rlimit raised = {.rlim_cur = wanted, .rlim_max = wanted};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            return; /* root may raise the hard limit too */
    }
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
}

/* Loads config and plugins; on success the spawners are running. */
static int load_everything(struct host *host, const char *config_path, bool keep_spawner)
{
    struct error_list errors;
    error_list_init(&errors);
    int failed = config_load(config_path, &host->config, &errors) < 0;
    char *copy = strdup(config_path);
    host->work_dir = copy ? strdup(dirname(copy)) : NULL;
    free(copy);
    spawner_set_config_path(config_path);
    if (host->config.plugin_dir && host->work_dir) {
        if (host_spawners_launch(host, host->config.plugin_dir, &errors) == 0) {
            const char **names = calloc(host->spawner_count + 1, sizeof *names);
            for (size_t i = 0; names && i < host->spawner_count; i++)
                names[i] = host->spawners[i]->name;
            config_check_plugins(&host->config, names, host->spawner_count, &errors);
            free(names);
        }
        if (failed || errors.count > 0 || !keep_spawner)
            host_spawners_stop(host, false, true);
    }
    failed = failed || errors.count > 0;
    if (failed)
        print_errors(&errors);
    error_list_free(&errors);
    return failed ? -1 : 0;
}

int host_check(const char *config_path)
{
    struct host host;
    memset(&host, 0, sizeof host);
    char spawner_program[PATH_MAX + 256];
    spawner_program_choose(spawner_program, sizeof spawner_program);
    int result = load_everything(&host, config_path, false);
    if (result == 0)
        printf("%s: ok (%zu supervisors, %zu child specs, %zu events, %zu plugins)\n", config_path,
               host.config.supervisor_count, host.config.child_count, host.config.event_count,
               host.spawner_count);
    host_spawners_free(&host);
    free(host.work_dir);
    config_free(&host.config);
    return result == 0 ? 0 : 2;
}

/* Backoff jitter only spreads restarts apart; it needs no cryptographic
 * quality, just a different sequence per host (xorshift32 seeded once). */
static uint32_t next_jitter(void *context)
{
    uint32_t *state = context;
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static int build_tree(struct host *host)
{
    host->tree = tree_new(host->config.max_restarts, host->config.max_seconds);
    if (!host->tree)
        return -1;
    static uint32_t jitter_state;
    jitter_state = (uint32_t)uv_hrtime() ^ ((uint32_t)getpid() << 16) ^ 0x9e3779b9u;
    if (jitter_state == 0)
        jitter_state = 1;
    tree_set_random_source(host->tree, (struct random_source){next_jitter, &jitter_state});
    for (size_t i = 0; i < host->config.supervisor_count; i++) {
        struct supervisor_config supervisor = host_supervisor_settings(&host->config.supervisors[i]);
        if (tree_add_supervisor(host->tree, &supervisor) < 0)
            return -1;
    }
    return 0;
}

struct supervisor_config host_supervisor_settings(const struct supervisor_spec *spec)
{
    return (struct supervisor_config){
        .name = spec->name,
        .max_children = spec->max_children,
        .max_restarts = spec->max_restarts,
        .max_seconds = spec->max_seconds,
    };
}

void host_autostart(struct host *host, const struct supervisor_spec *spec)
{
    for (int j = 0; j < spec->autostart_count && !host->stopping; j++) {
        log_event(DYNSUP_LOG_INFO, spec->name, spec->autostart[j], 0, "autostart");
        host_start_child(host, spec->name, spec->autostart[j], NULL, NULL, 0, 0);
    }
}

static void autostart(struct host *host)
{
    for (size_t i = 0; i < host->config.supervisor_count; i++)
        host_autostart(host, &host->config.supervisors[i]);
}

static char *render_metrics(void *context)
{
    return host_metrics_text(context);
}

int host_run(const char *config_path)
{
    static struct host host; /* the loop keeps pointers into it until the end */
    memset(&host, 0, sizeof host);
    host.signal_fd = -1;
    HOP_TRACE_OPEN();
    host_signals_block();
    /* A long listing's answer is built in a pool thread and freed on the
     * loop. Under glibc's moving threshold it would come from that
     * thread's arena, whose lock a preempted low-priority thread may hold
     * when the loop frees; a fixed threshold keeps blocks over 128 KiB
     * mmap'ed (a listing of more than a few hundred children). Smaller
     * answers still come from that arena: a short wait, rarely. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* Once for the host's life: reloads and relaunches run the same file. */
    char spawner_program[PATH_MAX + 256];
    spawner_program_choose(spawner_program, sizeof spawner_program);
    if (load_everything(&host, config_path, true) < 0) {
        host_spawners_free(&host);
        free(host.work_dir);
        config_free(&host.config);
        return 2;
    }
    if (host.config.log_level >= 0)
        log_set_configured_threshold(host.config.log_level);
    log_event(DYNSUP_LOG_INFO, NULL, NULL, 0, "%s", spawner_program); /* at the config's level */
    /* After the spawners are forked: workers keep the usual limit (select()
     * in plugin code, and no huge close loop on old kernels). */
    raise_descriptor_limit();
    host.started_at_ms = uv_hrtime() / 1000000u;
    struct timespec wall_clock;
    clock_gettime(CLOCK_REALTIME, &wall_clock);
    host.started_at_unix = (double)wall_clock.tv_sec + (double)wall_clock.tv_nsec / 1e9;
    metrics_counters_init(&host.counters);
    host.counters.last_good_config_unix = host.started_at_unix;
    hashmap_init(&host.workers_by_pid);
    hashmap_init(&host.timers_by_key);
    uv_loop_init(&host.loop);
    host.loop.data = &host;
    host_log_start(&host.loop); /* from here on a stalled log reader cannot stall the host */
    if (host_workers_open(&host) != 0) {
        log_hold_lines(false); /* what was logged comes before the reason */
        fprintf(stderr, "dynsup-host: cannot start: epoll: %s\n", strerror(errno));
        host_spawners_stop(&host, true, true);
        return 2;
    }

    struct error_list errors;
    error_list_init(&errors);
    struct control_access access = {
        .allow_uids = host.config.allow_uids,
        .allow_uid_count = host.config.allow_user_count,
        .has_allow_group = host.config.allow_group != NULL,
        .allow_gid = host.config.allow_gid,
    };
    struct control_callbacks callbacks = {.on_request = host_on_request};
    bool others_allowed = host.config.allow_user_count > 0 || host.config.allow_group != NULL;
    if (host_prepare_socket_folder(host.config.socket_path, others_allowed, &errors) < 0 || build_tree(&host) < 0 ||
        host_spawners_watch(&host) < 0 ||
        control_server_start(&host.loop, host.config.socket_path, &access, &callbacks, &host,
                             &host.control, &errors) < 0 ||
        host_events_start(&host) < 0 || host_signals_start(&host) < 0 ||
        (host.config.metrics_listen &&
         metrics_http_start(&host.loop, host.config.metrics_listen, render_metrics, &host,
                            &host.metrics_http, &errors) < 0)) {
        log_hold_lines(false); /* what was logged comes before the reasons */
        print_errors(&errors);
        if (errors.count == 0)
            fprintf(stderr, "dynsup-host: cannot start: out of memory\n");
        error_list_free(&errors);
        host_spawners_stop(&host, true, true);
        return 2;
    }
    error_list_free(&errors);

    uv_signal_init(&host.loop, &host.child_signal);
    host.child_signal.data = &host;
    uv_signal_start(&host.child_signal, on_child_signal, SIGCHLD);
    on_child_signal(&host.child_signal, SIGCHLD); /* it may have died before we listened */

    log_event(DYNSUP_LOG_INFO, NULL, NULL, getpid(),
              "dynsup-host started: %zu supervisors, %zu plugins, control socket %s",
              host.config.supervisor_count, host.spawner_count, host.config.socket_path);
    host_notify_start(&host);
    autostart(&host);
    host_notify_boot_done(&host);
    host_watch_update(&host);
    uv_run(&host.loop, UV_RUN_DEFAULT);

    log_write_held(); /* the last turn's lines: out before the spawners' wait */
    host_spawners_stop(&host, false, true);
    log_event(host.exit_status ? DYNSUP_LOG_ERROR : DYNSUP_LOG_INFO, NULL, NULL, getpid(),
              "dynsup-host stopped (exit status %d)", host.exit_status);
    host_log_finish(&host.loop);
    uv_loop_close(&host.loop);
    tree_free(host.tree);
    hashmap_free(&host.workers_by_pid);
    hashmap_free(&host.timers_by_key);
    metrics_counters_free(&host.counters);
    free(host.deferred);
    host_spawners_free(&host);
    free(host.work_dir);
    host_reload_free(&host);
    config_free(&host.config);
    return host.exit_status;
}
