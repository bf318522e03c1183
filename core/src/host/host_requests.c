/*
 * Control requests (and events) turned into tree calls and answers.
 * Lookups of config names happen here; every supervision decision is the
 * tree's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config_diff.h"
#include "host_internal.h"
#include "log.h"
#include "protocol.h"

static void answer(struct host *host, uint64_t token, char *line)
{
    if (token != 0 && host->control)
        control_reply(host->control, token, line);
    else
        free(line);
}

static void answer_error(struct host *host, uint64_t token, const char *supervisor,
                         enum reply_error error, const char *detail)
{
    if (token == 0) {
        struct reply reply = {.kind = REPLY_ERROR, .error = error, .detail = detail};
        host_log_unclaimed_answer(supervisor, &reply);
        return;
    }
    answer(host, token, protocol_format_error(reply_error_name(error), detail));
}

void host_start_child(struct host *host, const char *supervisor, const char *child_id,
                      const char *name, char *const *request_args, int request_argc,
                      uint64_t token)
{
    const struct supervisor_spec *supervisor_spec = config_find_supervisor(&host->config, supervisor);
    if (!supervisor_spec) {
        char detail[160];
        snprintf(detail, sizeof detail, "no supervisor \"%s\"", supervisor);
        return answer_error(host, token, supervisor, ERR_UNKNOWN_SUPERVISOR, detail);
    }
    const struct child_spec *spec = config_find_child(&host->config, child_id);
    if (!spec) {
        char detail[160];
        snprintf(detail, sizeof detail, "no child spec \"%s\"", child_id);
        return answer_error(host, token, supervisor, ERR_UNKNOWN_CHILD, detail);
    }
    char refusal[512];
    switch (config_start_refusal(supervisor_spec, spec, request_argc, refusal, sizeof refusal)) {
    case START_ALLOWED:
        break;
    case START_REFUSED_NOT_LISTED:
        return answer_error(host, token, supervisor, ERR_UNKNOWN_CHILD, refusal);
    case START_REFUSED_REQUEST_ARGS:
        /* only requests carry args: there is always someone to answer */
        return answer(host, token, protocol_format_bad_request(refusal));
    }
    /* OTP's order: the supervisor's extra arguments, then the spec's, then
     * the caller's. */
    int argc = supervisor_spec->extra_argc + spec->argc + request_argc;
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    if (!argv)
        return answer_error(host, token, supervisor, ERR_INIT_FAILED, "out of memory");
    int used = 0;
    for (int i = 0; i < supervisor_spec->extra_argc; i++)
        argv[used++] = supervisor_spec->extra_args[i];
    for (int i = 0; i < spec->argc; i++)
        argv[used++] = spec->args[i];
    for (int i = 0; i < request_argc; i++)
        argv[used++] = request_args[i];
    struct child_start start = {
        .id = spec->id,
        .plugin = spec->plugin,
        .name = name ? name : spec->name,
        .argv = argv,
        .argc = argc,
        .restart = spec->restart,
        .shutdown = spec->shutdown,
        .shutdown_ms = spec->shutdown_ms,
        .backoff = config_restart_backoff(supervisor_spec, spec),
        /* kept by the child for its restarts; the config it points into
         * lives until the host exits, reloads or not (host_reload.c) */
        .shell_data = &spec->job_settings,
    };
    struct action_list actions;
    action_list_init(&actions);
    metrics_start_requested(&host->counters, token, host_now(host));
    tree_start_child(host->tree, supervisor, &start, token, host_now(host), &actions);
    free(argv);
    host_apply(host, &actions);
    action_list_free(&actions);
}

void host_fire_event(struct host *host, const struct event_spec *event, uint64_t token,
                     const char *source)
{
    log_event(DYNSUP_LOG_INFO, event->supervisor, event->child, 0, "event %s fired (%s)",
              event->name, source);
    host_start_child(host, event->supervisor, event->child, NULL, NULL, 0, token);
}

/* The wall clock (Unix ms) when the tree's clock read 0. */
/* The wall-clock time of the tree's zero, for the times which_children
 * shows. Both clocks are read in whole milliseconds, so the difference
 * computed afresh moves by one now and then, and every entry's times with
 * it: two listings of unchanged children must be equal. It is kept, and
 * taken afresh only when the wall clock was set (it moved by more than a
 * second). */
static int64_t unix_ms_at_tree_zero(struct host *host)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t unix_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int64_t fresh = unix_ms - host_now(host);
    int64_t moved = fresh - host->unix_ms_at_zero;
    if (host->unix_ms_at_zero == 0 || moved > 1000 || moved < -1000)
        host->unix_ms_at_zero = fresh;
    return host->unix_ms_at_zero;
}

struct status_context {
    struct host *host;
    struct status_writer *writer;
};

static void add_supervisor_status(const struct supervisor_status *status, void *context)
{
    struct status_context *status_context = context;
    const struct supervisor_spec *spec =
        config_find_supervisor(&status_context->host->config, status->name);
    status_writer_add(status_context->writer, status, spec ? spec->max_children : DS_INFINITY,
                      spec ? spec->max_restarts : 0, spec ? spec->max_seconds : 0);
}

static char *unknown_supervisor(const char *supervisor)
{
    char detail[160];
    snprintf(detail, sizeof detail, "no supervisor \"%s\"", supervisor);
    return protocol_format_error(reply_error_name(ERR_UNKNOWN_SUPERVISOR), detail);
}

void host_on_request(void *context, const struct request *request, uint64_t token)
{
    struct host *host = context;
    switch (request->cmd) {
    case CMD_START_CHILD:
        host_start_child(host, request->supervisor, request->child, request->name, request->args,
                         request->argc, token);
        return;
    case CMD_EMIT: {
        const struct event_spec *event = config_find_event(&host->config, request->event);
        if (!event) {
            char detail[160];
            snprintf(detail, sizeof detail, "no event \"%s\"", request->event);
            answer(host, token, protocol_format_error(reply_error_name(ERR_UNKNOWN_EVENT), detail));
            return;
        }
        host_fire_event(host, event, token, "emit request");
        return;
    }
    case CMD_TERMINATE_CHILD: {
        struct action_list actions;
        action_list_init(&actions);
        struct child_selector which = {request->pid, request->key, request->name};
        tree_terminate_child(host->tree, request->supervisor, &which, token, host_now(host),
                             &actions);
        host_apply(host, &actions);
        action_list_free(&actions);
        return;
    }
    case CMD_WHICH_CHILDREN:
        if (host_list_children(host, request->supervisor, token, unix_ms_at_tree_zero(host)) < 0)
            answer(host, token, unknown_supervisor(request->supervisor));
        return;
    case CMD_COUNT_CHILDREN: {
        struct child_counts counts;
        if (tree_count_children(host->tree, request->supervisor, &counts) < 0)
            answer(host, token, unknown_supervisor(request->supervisor));
        else
            answer(host, token, protocol_format_counts(&counts));
        return;
    }
    case CMD_STATUS: {
        ds_time_ms now = host_now(host);
        struct status_writer *writer = status_writer_new(
            (double)now / 1000.0, getpid(), host->config.max_restarts, host->config.max_seconds,
            tree_root_restarts_in_window(host->tree, now));
        struct status_context status_context = {host, writer};
        tree_each_supervisor(host->tree, now, add_supervisor_status, &status_context);
        answer(host, token, status_writer_finish(writer));
        return;
    }
    case CMD_PLUGINS: {
        struct plugins_writer *writer = plugins_writer_new();
        for (size_t i = 0; i < host->spawner_count; i++) {
            const struct spawner_link *link = host->spawners[i];
            if (link->pid > 0 && !link->lost)
                plugins_writer_add_generation(writer, link->name, link->version, link->file,
                                              link->generation, link->worker_count, !link->retired);
        }
        answer(host, token, plugins_writer_finish(writer));
        return;
    }
    case CMD_METRICS:
        answer(host, token, host_metrics_reply(host));
        return;
    case CMD_RELOAD: {
        if (host->stopping) {
            answer(host, token, protocol_format_error("shutting_down", "the host is stopping"));
            return;
        }
        struct change_list changes;
        struct error_list errors;
        change_list_init(&changes);
        error_list_init(&errors);
        if (host_reload(host, request->dry_run, &changes, &errors) != 0) {
            log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
                      "reload request refused, nothing changed (%zu errors)",
                      error_list_total(&errors));
            answer(host, token, protocol_format_invalid_config(&errors));
        } else {
            log_event(DYNSUP_LOG_INFO, NULL, NULL, 0, "reload request%s: %zu changes",
                      request->dry_run ? " (dry run)" : "", changes.count);
            answer(host, token, protocol_format_changes(&changes, request->dry_run));
        }
        change_list_free(&changes);
        error_list_free(&errors);
        return;
    }
    case CMD_STOP:
        answer(host, token, protocol_format_ok());
        host_begin_stop(host, "stop request");
        return;
    }
}
