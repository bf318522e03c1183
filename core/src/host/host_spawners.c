/*
 * The host's links to its spawners, one per plugin file (spawner.h says
 * why): starting workers (by writing the job to the plugin's spare when it
 * has one, else by queueing a SPAWN to its spawner), reading SPAWNED,
 * SPARE and EXITED back, and noticing a spawner's death. Loading the
 * spawners, and which generation serves what, is host_generations.c's.
 *
 * The host never blocks on a spawner: requests wait in a per-link queue
 * while its socket is full. A spawner that dies takes its workers with it
 * (host_spawner_lost, host.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hop_trace.h"
#include "host_internal.h"
#include "log.h"
#include "plugin_loader.h"

static void on_spawner_event(uv_poll_t *watcher, int status, int events);

/* Reaps the child pid once it has exited; false if it still lives at
 * deadline_ms (uv_hrtime's clock). Why a pidfd: it is readable the moment
 * the process exits, where a sleep of a few milliseconds between looks
 * put up to that much into every stop of the host (issue 13: a stop of
 * 2,000 children is 120-150 ms at the floor). */
static bool reaped_by(pid_t pid, uint64_t deadline_ms)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    bool reaped = false, looked_exited = false;
    for (;;) {
        if (waitpid(pid, NULL, WNOHANG) != 0) { /* reaped, or not ours any more */
            reaped = true;
            break;
        }
        uint64_t now = uv_hrtime() / 1000000u;
        if (now >= deadline_ms)
            break;
        int left = deadline_ms - now > 1000 ? 1000 : (int)(deadline_ms - now);
        struct pollfd exited = {.fd = pidfd, .events = POLLIN};
        /* No pidfds (a kernel before 5.3), or one that says exited while
         * waitpid cannot reap yet (a tracer holds the zombie): look again
         * in a millisecond rather than spin. */
        if (pidfd < 0 || (poll(&exited, 1, left) < 0 && errno != EINTR) || looked_exited) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
            nanosleep(&pause, NULL);
        }
        looked_exited = pidfd >= 0 && (exited.revents & POLLIN);
    }
    if (pidfd >= 0)
        close(pidfd);
    return reaped;
}

void host_spawners_stop(struct host *host, bool kill_them, bool wait)
{
    for (size_t i = 0; i < host->spawner_count; i++) {
        struct spawner_link *link = host->spawners[i];
        if (kill_them && link->pid > 0)
            kill(link->pid, SIGKILL);
        if (link->fd >= 0 && !link->watching) { /* else its close callback closes it */
            close(link->fd);
            link->fd = -1;
        }
    }
    /* EOF makes a spawner exit at once; one that is stopped or stuck
     * would never read it, so the wait has a deadline too. */
    uint64_t deadline = uv_hrtime() / 1000000u + SPAWNER_ANSWER_DEADLINE_MS;
    for (size_t i = 0; wait && i < host->spawner_count; i++) {
        struct spawner_link *link = host->spawners[i];
        if (link->pid > 0 && !reaped_by(link->pid, deadline)) {
            log_event(DYNSUP_LOG_ERROR, NULL, NULL, link->pid,
                      "plugin process of %s (pid %d) did not exit within %d ms of the host's "
                      "stop; killing it", link->plugin ? link->plugin : "?", (int)link->pid,
                      SPAWNER_ANSWER_DEADLINE_MS);
            kill(link->pid, SIGKILL);
            waitpid(link->pid, NULL, 0);
        }
        link->pid = 0;
    }
}

void host_spawners_reap(struct host *host)
{
    for (size_t i = 0; i < host->spawner_count; i++) {
        struct spawner_link *link = host->spawners[i];
        int wait_status;
        if (link->pid <= 0 || waitpid(link->pid, &wait_status, WNOHANG) != link->pid)
            continue;
        link->pid = 0;
        if (link->retired && !link->watching && link->worker_count == 0)
            continue; /* a released generation, gone as asked */
        char how[160];
        describe_wait_status(wait_status, how, sizeof how);
        size_t length = strlen(how);
        snprintf(how + length, sizeof how - length, "; it forked plugin %s's workers", link->plugin);
        host_spawner_lost(host, link, how);
    }
}

/* ---------------------------------------------------------------- requests out */

static void on_spawner_event(uv_poll_t *watcher, int status, int events);

static void want_writable(struct spawner_link *link, bool wanted)
{
    if (link->writable_wanted == wanted || link->host->exiting || !link->watching)
        return;
    link->writable_wanted = wanted;
    uv_poll_start(&link->watcher, UV_READABLE | (wanted ? UV_WRITABLE : 0), on_spawner_event);
}

/* Out of memory here only loses the ability to fail this start should
 * the spawner die before answering. */
static void remember_in_flight(struct spawner_link *link, child_key key)
{
    if (link->in_flight_head > 0 && link->in_flight_head == link->in_flight_count) {
        link->in_flight_head = link->in_flight_count = 0;
    }
    if (link->in_flight_count == link->in_flight_capacity) {
        size_t capacity = link->in_flight_capacity ? link->in_flight_capacity * 2 : 16;
        child_key *grown = realloc(link->in_flight, capacity * sizeof *grown);
        if (!grown)
            return;
        link->in_flight = grown;
        link->in_flight_capacity = capacity;
    }
    link->in_flight[link->in_flight_count++] = key;
}

static void forget_in_flight(struct spawner_link *link, child_key key)
{
    for (size_t i = link->in_flight_head; i < link->in_flight_count; i++)
        if (link->in_flight[i] == key) {
            link->in_flight[i] = link->in_flight[link->in_flight_head++];
            break;
        }
    if (link->in_flight_head == link->in_flight_count)
        link->in_flight_head = link->in_flight_count = 0;
}

void host_spawner_fail_pending(struct spawner_link *link, const char *detail)
{
    struct host *host = link->host;
    for (size_t i = link->in_flight_head; i < link->in_flight_count; i++)
        host_defer_spawn_failure(host, link->in_flight[i], detail);
    link->in_flight_head = link->in_flight_count = 0;
    while (link->outgoing_head) {
        struct outgoing_message *message = link->outgoing_head;
        link->outgoing_head = message->next;
        if (message->key)
            host_defer_spawn_failure(host, message->key, detail);
        free(message);
    }
    link->outgoing_tail = NULL;
    link->spare_requested = false;
    host_spare_fail_held(link, detail);
}

static void flush_outgoing(struct spawner_link *link)
{
    struct host *host = link->host;
    while (link->outgoing_head) {
        struct outgoing_message *message = link->outgoing_head;
        ssize_t sent = send(link->fd, message->data, message->length, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                want_writable(link, true);
                return;
            }
            if (errno == EPIPE || errno == ECONNRESET) {
                host_spawner_lost(host, link, "its socket closed");
                return;
            }
            /* This one request cannot go (ENOBUFS, EMSGSIZE...): fail it
             * rather than block every later start behind it. Key 0 (no
             * child's) is a SPARE_WANTED: the next start asks again. */
            char detail[128];
            snprintf(detail, sizeof detail, "cannot send the start to the spawner: %s",
                     strerror(errno));
            if (message->key) {
                host_defer_spawn_failure(host, message->key, detail);
            } else {
                link->spare_requested = false;
                host_spare_fail_held(link, detail);
            }
        }
        else if (message->key)
            remember_in_flight(link, message->key);
        link->outgoing_head = message->next;
        if (!link->outgoing_head)
            link->outgoing_tail = NULL;
        free(message);
    }
    want_writable(link, false);
}

int host_spawner_queue(struct spawner_link *link, child_key key, const void *data, size_t length)
{
    struct outgoing_message *message = malloc(sizeof *message + length);
    if (!message)
        return -1;
    message->next = NULL;
    message->key = key;
    message->length = length;
    memcpy(message->data, data, length);
    bool was_empty = link->outgoing_head == NULL;
    if (link->outgoing_tail)
        link->outgoing_tail->next = message;
    else
        link->outgoing_head = message;
    link->outgoing_tail = message;
    if (was_empty)
        flush_outgoing(link);
    return 0;
}

int host_send_spawn(struct host *host, const struct action *spawn, const char **why)
{
    static char buffer[SPAWNER_MAX_MESSAGE];
    const struct child_info *child = spawn->child;
    /* New starts and restarts alike run the newest generation; a plugin
     * whose file is gone, its newest retired one (host_generations.c). */
    struct spawner_link *link = host_restart_generation(host, child->plugin);
    if (!link || link->fd < 0) {
        *why = "its plugin is not loaded";
        return -1;
    }
    /* The execution environment of the spec as it was at the child's
     * start (host_start_child), kept once per spec, not per child. */
    ssize_t length = spawner_encode_spawn(buffer, sizeof buffer, spawn->key, spawn->supervisor,
                                          child->id, child->name, child->plugin, child->argv,
                                          child->argc, child->shell_data);
    if (length < 0) {
        *why = "the worker's arguments are too large";
        return -1;
    }
    if (host_spare_take(link, spawn->key, buffer, (size_t)length))
        return 0; /* handed to the spare, or held for the one on its way */
    if (host_spawner_queue(link, spawn->key, buffer, (size_t)length) != 0) {
        *why = "out of memory in the host";
        return -1;
    }
    if (!link->retired) /* a retired generation has no spare, only restarts to run */
        host_spare_want(link);
    return 0;
}

/* ---------------------------------------------------------------- messages in */

static void read_spawner(struct spawner_link *link)
{
    struct host *host = link->host;
    /* Counted in messages and exits: a burst of EXITED records is taken
     * a few thousand exits at a time, between the loop's other work. */
    for (size_t budget = 0; budget < 4096 && !host->exiting; budget++) {
        enum { SPAWNED_LENGTH = sizeof(uint32_t) + sizeof(struct spawner_spawned) };
        union {
            char bytes[SPAWNED_LENGTH];
            struct spawner_exited_batch exits;
        } received;
        char *data = received.bytes;
        union {
            struct cmsghdr align;
            char bytes[CMSG_SPACE(4 * sizeof(int))];
        } control;
        struct iovec io = {.iov_base = data, .iov_len = sizeof received};
        struct msghdr message = {.msg_iov = &io, .msg_iovlen = 1,
                                 .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
        ssize_t length = recvmsg(link->fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (length < 0 && errno == EINTR)
            continue;
        if (length == 0 || (length < 0 && errno != EAGAIN)) {
            /* A spawner closes its end only by dying: stop polling a dead
             * socket (it would wake us forever) and let SIGCHLD tell how it
             * died. host_run checks once for a death before it listened. */
            uv_poll_stop(&link->watcher);
            return;
        }
        if (length < 0)
            return;
        uint32_t kind = 0;
        if ((size_t)length >= sizeof kind)
            memcpy(&kind, data, sizeof kind);
        host_liveness_heard(link, kind == SPAWNER_PONG);
        int fds[4];
        int fd_count = 0;
        for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header;
             header = CMSG_NXTHDR(&message, header)) {
            if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS)
                continue;
            int count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < count && fd_count < 4; i++)
                memcpy(&fds[fd_count++], CMSG_DATA(header) + (size_t)i * sizeof(int), sizeof(int));
        }
        uint32_t type = 0;
        if ((size_t)length >= sizeof type)
            memcpy(&type, data, sizeof type);
        if (type == SPAWNER_SPAWNED && (size_t)length == SPAWNED_LENGTH) {
            struct spawner_spawned spawned;
            memcpy(&spawned, data + sizeof type, sizeof spawned);
            forget_in_flight(link, spawned.key);
            host_worker_spawned(host, link->index, &spawned, fds, fd_count,
                                message.msg_flags);
            continue;
        }
        if (type == SPAWNER_SPARE && (size_t)length == sizeof type + sizeof(struct spawner_spare)) {
            struct spawner_spare spare;
            memcpy(&spare, data + sizeof type, sizeof spare);
            host_spare_arrived(link, spare.pid, fds, fd_count);
            continue;
        }
        for (int i = 0; i < fd_count; i++)
            close(fds[i]);
        size_t exit_count = (size_t)length > sizeof type
                                ? ((size_t)length - sizeof type) / sizeof(struct spawner_exited)
                                : 0;
        if (type == SPAWNER_EXITED && exit_count > 0 &&
            (size_t)length == sizeof type + exit_count * sizeof(struct spawner_exited)) {
            const struct spawner_exited *exits = received.exits.exits;
            for (size_t i = 0; i < exit_count && !host->exiting; i++) {
                if (exits[i].pid == link->spare.pid) /* a spare without a job: no worker of ours */
                    host_spare_drop(link);
                else
                    host_worker_exited(host, link->index, &exits[i]);
            }
            budget += exit_count - 1;
        }
    }
}

static void on_spawner_event(uv_poll_t *watcher, int status, int events)
{
    struct spawner_link *link = watcher->data;
    struct host *host = link->host;
    HOP_TRACE(HOP_HOST_WOKE, 0);
    if (status < 0) {
        uv_poll_stop(watcher); /* as for EOF: SIGCHLD reports the death */
        return;
    }
    if (events & UV_READABLE)
        read_spawner(link);
    if ((events & UV_WRITABLE) && !host->exiting) {
        flush_outgoing(link);
        struct action_list actions; /* empty: only feeds back failed sends */
        action_list_init(&actions);
        host_apply(host, &actions);
        action_list_free(&actions);
    }
}

int host_spawner_watch(struct spawner_link *link)
{
    if (uv_poll_init(&link->host->loop, &link->watcher, link->fd) != 0)
        return -1;
    link->watcher.data = link;
    link->watching = true;
    if (link->retired)
        link->host->retired_connected++;
    return uv_poll_start(&link->watcher, UV_READABLE, on_spawner_event) == 0 ? 0 : -1;
}

int host_spawners_watch(struct host *host)
{
    for (size_t i = 0; i < host->spawner_count; i++)
        if (host_spawner_watch(host->spawners[i]) != 0)
            return -1;
    return 0;
}

static void on_spawner_watcher_closed(uv_handle_t *handle)
{
    struct spawner_link *link = handle->data;
    close(link->fd); /* EOF tells the spawner to exit */
    link->fd = -1;
}

void host_spawner_disconnect(struct spawner_link *link)
{
    host_spare_drop(link);
    if (link->watching) {
        if (link->retired)
            link->host->retired_connected--;
        link->watching = false;
        uv_close((uv_handle_t *)&link->watcher, on_spawner_watcher_closed);
    }
}

void host_spawners_close(struct host *host)
{
    for (size_t i = 0; i < host->spawner_count; i++) {
        struct spawner_link *link = host->spawners[i];
        while (link->outgoing_head) {
            struct outgoing_message *message = link->outgoing_head;
            link->outgoing_head = message->next;
            free(message);
        }
        link->outgoing_tail = NULL;
        free(link->in_flight);
        link->in_flight = NULL;
        link->in_flight_head = link->in_flight_count = link->in_flight_capacity = 0;
        host_spawner_disconnect(link);
    }
}
