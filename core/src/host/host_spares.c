/*
 * Each spawner link's spare, from the host's side (the spawner's side is
 * spawner.c): a worker forked and prepared ahead, blocked on a job pipe
 * whose write end the host holds. A start writes its job to the spare
 * and asks for the next one; a start that finds the spare still on its
 * way (asked for, not yet come) waits for it rather than sending a fork
 * request to the spawner behind that spare's fork; a start that finds
 * neither goes to the spawner and asks for a spare.
 *
 * Ownership: the link owns its spare's three pipe ends and its held start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hop_trace.h"
#include "host_internal.h"

/* A start waiting for the spare on its way. */
struct held_start {
    child_key key;
    size_t length;
    char job[];
};

/* Closes our ends of the spare's pipes: a spare that never got a job then
 * reads EOF and exits (its exit is reaped and ignored: read_spawner). */
void host_spare_drop(struct spawner_link *link)
{
    if (!link->spare.pid)
        return;
    close(link->spare.job_fd);
    close(link->spare.output_fd);
    close(link->spare.report_fd);
    link->spare.pid = 0;
}

/* One spare at a time, asked for when a start finds none (the plugin's
 * first start, or its spare was taken or died), or by a reload for a
 * plugin it loaded (host_spawner_ready_spare): a spare that keeps dying
 * costs one fork per start at most, never a loop. */
void host_spare_want(struct spawner_link *link)
{
    if (link->spare.pid || link->spare_requested || link->host->exiting)
        return;
    uint32_t type = SPAWNER_SPARE_WANTED;
    if (host_spawner_queue(link, 0, &type, sizeof type) == 0)
        link->spare_requested = true;
}

void host_spawner_ready_spare(struct spawner_link *link)
{
    host_spare_want(link);
}

/* Writes the job to the spare, which becomes the worker. Returns false
 * (the spare dropped) if it could not take it. */
static bool hand_to_spare(struct spawner_link *link, child_key key, const char *job, size_t length)
{
    ssize_t written;
    while ((written = write(link->spare.job_fd, job, length)) < 0 && errno == EINTR)
        ;
    if (written != (ssize_t)length) { /* EPIPE: it died before we heard of it */
        host_spare_drop(link);
        return false;
    }
    HOP_TRACE(HOP_HOST_HANDED, link->spare.pid);
    close(link->spare.job_fd);
    host_defer_spare_start(link->host, key, link->index, link->spare.pid,
                           link->spare.output_fd, link->spare.report_fd);
    link->spare.pid = 0;
    return true;
}

bool host_spare_take(struct spawner_link *link, child_key key, const char *job, size_t length)
{
    if (length > SPARE_JOB_MAX)
        return false;
    if (link->spare.pid) {
        /* Room for the start's outcome first: once the job is written the
         * worker runs, and the tree must hear of it. */
        if (host_reserve_deferred(link->host) != 0 || !hand_to_spare(link, key, job, length))
            return false;
        host_spare_want(link);
        return true;
    }
    /* One start waits for the spare on its way; any other would fork
     * anyway, so it goes to the spawner as before. */
    if (!link->spare_requested || link->held)
        return false;
    struct held_start *held = malloc(sizeof *held + length);
    if (!held)
        return false;
    held->key = key;
    held->length = length;
    memcpy(held->job, job, length);
    link->held = held;
    return true;
}

void host_spare_arrived(struct spawner_link *link, pid_t pid, const int *fds, int fd_count)
{
    link->spare_requested = false;
    if (pid > 0 && fd_count == 3 && !link->spare.pid && !link->retired)
        link->spare = (struct spare_worker){.pid = pid, .job_fd = fds[0], .output_fd = fds[1],
                                           .report_fd = fds[2]};
    else
        for (int i = 0; i < fd_count; i++)
            close(fds[i]);
    struct held_start *held = link->held;
    if (!held)
        return;
    link->held = NULL;
    /* No spare after all (its fork failed, or this generation retired):
     * the start goes to the spawner as if it had never waited. */
    if (!host_spare_take(link, held->key, held->job, held->length)) {
        if (host_spawner_queue(link, held->key, held->job, held->length) != 0)
            host_defer_spawn_failure(link->host, held->key, "out of memory in the host");
        host_spare_want(link);
    }
    free(held);
    /* The start's outcome (the worker spawned, or the failure) is fed to
     * the tree by host_apply, here outside of one. */
    struct action_list actions;
    action_list_init(&actions);
    host_apply(link->host, &actions);
    action_list_free(&actions);
}

void host_spare_fail_held(struct spawner_link *link, const char *detail)
{
    if (!link->held)
        return;
    host_defer_spawn_failure(link->host, link->held->key, detail);
    free(link->held);
    link->held = NULL;
}
