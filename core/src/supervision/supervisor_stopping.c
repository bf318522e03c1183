/*
 * Stopping children (private to the supervisor core): the shutdown
 * sequence of one child by its shutdown mode, of all of a supervisor's
 * children, and of the host; and the end of a stop, when whoever asked is
 * answered. Actions out, no system call; the events that lead here are in
 * supervisor.c.
 */
#include "supervisor_stopping.h"

#include "supervisor_actions.h"
#include "supervisor_tree.h"

#include <signal.h>

void send_shutdown_signals(struct child *child, struct action_list *out)
{
    const char *sup = child->supervisor->name;
    switch (child->info.shutdown) {
    case SHUTDOWN_BRUTAL_KILL:
        emit_signal(out, sup, child->process_pid, SIGKILL);
        break;
    case SHUTDOWN_TIMEOUT:
        emit_signal(out, sup, child->process_pid, SIGTERM);
        if (child->info.shutdown_ms != DS_INFINITY) {
            emit_timer_start(out, sup, child->info.key, child->info.shutdown_ms);
            child->timer_armed = true;
        }
        break;
    case SHUTDOWN_INFINITY:
        emit_signal(out, sup, child->process_pid, SIGTERM);
        break;
    }
}

/* Moves a child to STOPPING and signals its process by its shutdown mode.
 * A child whose spawn is still in flight is signalled when its pid comes
 * (tree_spawned). One with no process and nothing in flight has nothing
 * to wait for: a child waiting for its restart stops at once (its timer
 * cancelled, whoever asked answered), a restart that was refused is just
 * removed. */
void begin_shutdown(struct tree *tree, struct child *child, struct action_list *out)
{
    if (child->info.state == CHILD_STOPPING)
        return; /* already on its way; its signals were sent */
    bool was_waiting = child->restart_waiting;
    child->restart_waiting = false;
    child->info.next_restart_at = -1;
    set_state(child, CHILD_STOPPING);
    if (child->process_pid != 0)
        send_shutdown_signals(child, out);
    else if (was_waiting)
        finish_stopping(tree, child, "it was waiting to restart", out);
    else if (!child->spawn_in_flight)
        remove_child(tree, child);
}

void answer_pending_start(struct child *child, enum reply_error error, const char *detail,
                          struct action_list *out)
{
    if (!child->start_pending)
        return;
    child->start_pending = false;
    emit_reply(out, child->supervisor->name, child->start_token, REPLY_ERROR, error, 0, detail);
}

void shut_down_all_children(struct tree *tree, struct supervisor *sup, const char *why,
                            struct action_list *out)
{
    struct child *next;
    for (struct child *child = sup->first; child != NULL; child = next) {
        next = child->next;
        answer_pending_start(child, ERR_SHUTTING_DOWN, why, out);
        begin_shutdown(tree, child, out);
    }
}

/* The stopping child's process is gone (or never came): answer everyone
 * who asked for it to stop. */
void finish_stopping(struct tree *tree, struct child *child, const char *how,
                     struct action_list *out)
{
    const char *sup = child->supervisor->name;
    if (child->timer_armed) {
        emit_timer_cancel(out, sup, child->info.key);
        child->timer_armed = false;
    }
    emit_log(out, LOG_LEVEL_INFO, sup, child->info.id, child->info.key, child->process_pid, "child %s stopped (%s)",
             child->info.id, how);
    for (uint32_t i = 0; i < child->terminate_count; i++)
        emit_reply(out, sup, child->terminate_tokens[i], REPLY_OK, ERR_NONE, 0, NULL);
    child->terminate_count = 0;
    remove_child(tree, child);
}

void stop_host(struct tree *tree, int exit_status, struct action_list *out)
{
    if (tree->stopping)
        return;
    tree->stopping = true;
    tree->exit_status = exit_status;
    emit_log(out, LOG_LEVEL_INFO, NULL, NULL, 0, 0, "host stopping: shutting down %zu children",
             tree->child_total);
    for (size_t i = 0; i < tree->supervisor_count; i++)
        shut_down_all_children(tree, tree->supervisors[i], "the host is shutting down", out);
}

void shutdown_deadline_passed(struct child *child, struct action_list *out)
{
    if (child->process_pid == 0)
        return;
    emit_log(out, LOG_LEVEL_WARNING, child->supervisor->name, child->info.id, child->info.key,
             child->process_pid, "child %s did not stop within %u ms; killing it", child->info.id,
             child->info.shutdown_ms);
    emit_signal(out, child->supervisor->name, child->process_pid, SIGKILL);
}
