/*
 * The host's links to its spawners, one per plugin file (spawner.h says
 * why): forking them at boot, starting workers (by writing the job to the
 * plugin's spare when it has one, else by queueing a SPAWN to its
 * spawner), reading SPAWNED, SPARE and EXITED back, and noticing a
 * spawner's death.
 *
 * The host never blocks on a spawner: requests wait in a per-link queue
 * while its socket is full. A spawner that dies takes its workers with it,
 * and the host exits (host_spawner_lost): the tree can no longer tell
 * which of its children are alive.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_internal.h"
#include "plugin_loader.h"

/* ---------------------------------------------------------------- boot */

int host_spawners_launch(struct host *host, const char *plugin_dir, const char *work_dir,
                         struct error_list *errors)
{
    char **names = NULL;
    size_t count = 0;
    if (plugin_dir_list(plugin_dir, &names, &count, errors) != 0)
        return -1;
    host->spawners = calloc(count + 1, sizeof *host->spawners);
    if (!host->spawners) {
        plugin_names_free(names, count);
        error_list_add(errors, "%s: cannot load the plugins: out of memory", plugin_dir);
        return -1;
    }
    int result = 0;
    for (size_t i = 0; i < count; i++) {
        struct spawner_link *link = &host->spawners[host->spawner_count];
        size_t loaded_before = host->plugins.count;
        if (spawner_launch(plugin_dir, names[i], work_dir, &link->pid, &link->fd, &host->plugins,
                           errors) != 0) {
            result = -1;
            continue;
        }
        if (host->plugins.count != loaded_before + 1) { /* a load report without its plugin */
            error_list_add(errors, "%s/%s: the spawner reported no plugin", plugin_dir, names[i]);
            close(link->fd);
            waitpid(link->pid, NULL, 0);
            result = -1;
            continue;
        }
        link->host = host;
        link->plugin_index = loaded_before;
        host->spawner_count++;
    }
    /* Names are taken once the list stopped growing (realloc moves it). */
    for (size_t i = 0; i < host->spawner_count; i++)
        host->spawners[i].plugin = host->plugins.items[host->spawners[i].plugin_index].name;
    plugin_names_free(names, count);
    return result;
}

void host_spawners_stop(struct host *host, bool kill_them, bool wait)
{
    for (size_t i = 0; i < host->spawner_count; i++) {
        struct spawner_link *link = &host->spawners[i];
        if (kill_them && link->pid > 0)
            kill(link->pid, SIGKILL);
        if (link->fd >= 0 && !link->watching) { /* else its close callback closes it */
            close(link->fd);
            link->fd = -1;
        }
    }
    for (size_t i = 0; wait && i < host->spawner_count; i++)
        if (host->spawners[i].pid > 0) {
            waitpid(host->spawners[i].pid, NULL, 0);
            host->spawners[i].pid = 0;
        }
}

void host_spawners_reap(struct host *host)
{
    for (size_t i = 0; i < host->spawner_count; i++) {
        struct spawner_link *link = &host->spawners[i];
        int wait_status;
        if (link->pid <= 0 || waitpid(link->pid, &wait_status, WNOHANG) != link->pid)
            continue;
        link->pid = 0;
        char how[160];
        describe_wait_status(wait_status, how, sizeof how);
        size_t length = strlen(how);
        snprintf(how + length, sizeof how - length, "; it forked plugin %s's workers", link->plugin);
        host_spawner_lost(host, how);
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
                host_spawner_lost(host, "its socket closed");
                return;
            }
            /* This one request cannot go (ENOBUFS, EMSGSIZE...): fail it
             * rather than block every later start behind it. Key 0 (no
             * child's) is a SPARE_WANTED: the next start asks again. */
            char detail[128];
            snprintf(detail, sizeof detail, "cannot send the start to the spawner: %s",
                     strerror(errno));
            if (message->key)
                host_defer_spawn_failure(host, message->key, detail);
            else
                link->spare_requested = false;
        }
        link->outgoing_head = message->next;
        if (!link->outgoing_head)
            link->outgoing_tail = NULL;
        free(message);
    }
    want_writable(link, false);
}

static struct spawner_link *link_of_plugin(struct host *host, const char *plugin)
{
    /* A handful of plugins: a scan is as quick as a lookup table. */
    for (size_t i = 0; i < host->spawner_count; i++)
        if (strcmp(host->spawners[i].plugin, plugin) == 0)
            return &host->spawners[i];
    return NULL;
}

static int queue_message(struct spawner_link *link, child_key key, const void *data, size_t length)
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

/* Closes our ends of the spare's pipes: a spare that never got a job then
 * reads EOF and exits (its exit is reaped and ignored: read_spawner). */
static void drop_spare(struct spawner_link *link)
{
    if (!link->spare.pid)
        return;
    close(link->spare.job_fd);
    close(link->spare.output_fd);
    close(link->spare.report_fd);
    link->spare.pid = 0;
}

/* One spare at a time, asked for when a start finds none (the plugin's
 * first start, or its spare was taken or died): a spare that keeps dying
 * costs one fork per start at most, never a loop. */
static void want_spare(struct spawner_link *link)
{
    if (link->spare.pid || link->spare_requested || link->host->exiting)
        return;
    uint32_t type = SPAWNER_SPARE_WANTED;
    if (queue_message(link, 0, &type, sizeof type) == 0)
        link->spare_requested = true;
}

/* Writes the job to the spare, which becomes the worker. Returns false
 * (the spare dropped) if it could not take it. */
static bool hand_to_spare(struct spawner_link *link, child_key key, const char *job, size_t length)
{
    ssize_t written;
    while ((written = write(link->spare.job_fd, job, length)) < 0 && errno == EINTR)
        ;
    if (written != (ssize_t)length) { /* EPIPE: it died before we heard of it */
        drop_spare(link);
        return false;
    }
    close(link->spare.job_fd);
    host_defer_spare_start(link->host, key, link->spare.pid, link->spare.output_fd,
                           link->spare.report_fd);
    link->spare.pid = 0;
    return true;
}

int host_send_spawn(struct host *host, const struct action *spawn, const char **why)
{
    static char buffer[SPAWNER_MAX_MESSAGE];
    const struct child_info *child = spawn->child;
    struct spawner_link *link = link_of_plugin(host, child->plugin);
    if (!link || link->fd < 0) {
        *why = "its plugin is not loaded";
        return -1;
    }
    /* The execution environment is the spec's, kept once per spec. */
    const struct child_spec *spec = config_find_child(&host->config, child->id);
    ssize_t length = spawner_encode_spawn(buffer, sizeof buffer, spawn->key, spawn->supervisor,
                                          child->id, child->name, child->plugin, child->argv,
                                          child->argc, spec ? &spec->job_settings : NULL);
    if (length < 0) {
        *why = "the worker's arguments are too large";
        return -1;
    }
    /* Room for the start's outcome first: once the job is written the
     * worker runs, and the tree must hear of it. */
    bool handed = link->spare.pid && (size_t)length <= SPARE_JOB_MAX &&
                  host_reserve_deferred(host) == 0 &&
                  hand_to_spare(link, spawn->key, buffer, (size_t)length);
    if (!handed && queue_message(link, spawn->key, buffer, (size_t)length) != 0) {
        *why = "out of memory in the host";
        return -1;
    }
    want_spare(link);
    return 0;
}

/* ---------------------------------------------------------------- messages in */

static void read_spawner(struct spawner_link *link)
{
    struct host *host = link->host;
    for (int budget = 0; budget < 4096 && !host->exiting; budget++) {
        char data[sizeof(uint32_t) + sizeof(struct spawner_spawned)];
        union {
            struct cmsghdr align;
            char bytes[CMSG_SPACE(4 * sizeof(int))];
        } control;
        struct iovec io = {.iov_base = data, .iov_len = sizeof data};
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
        if (type == SPAWNER_SPAWNED && (size_t)length == sizeof data) {
            struct spawner_spawned spawned;
            memcpy(&spawned, data + sizeof type, sizeof spawned);
            host_worker_spawned(host, &spawned, fds, fd_count, message.msg_flags);
            continue;
        }
        if (type == SPAWNER_SPARE && (size_t)length == sizeof type + sizeof(struct spawner_spare)) {
            struct spawner_spare spare;
            memcpy(&spare, data + sizeof type, sizeof spare);
            link->spare_requested = false;
            if (spare.pid > 0 && fd_count == 3 && !link->spare.pid) {
                link->spare = (struct spare_worker){.pid = spare.pid, .job_fd = fds[0],
                                                   .output_fd = fds[1], .report_fd = fds[2]};
                continue;
            }
            for (int i = 0; i < fd_count; i++)
                close(fds[i]);
            continue;
        }
        for (int i = 0; i < fd_count; i++)
            close(fds[i]);
        if (type == SPAWNER_EXITED && (size_t)length == sizeof type + sizeof(struct spawner_exited)) {
            struct spawner_exited exited;
            memcpy(&exited, data + sizeof type, sizeof exited);
            if (exited.pid == link->spare.pid) /* a spare without a job: no worker of ours */
                drop_spare(link);
            else
                host_worker_exited(host, &exited);
        }
    }
}

static void on_spawner_event(uv_poll_t *watcher, int status, int events)
{
    struct spawner_link *link = watcher->data;
    struct host *host = link->host;
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

int host_spawners_watch(struct host *host)
{
    for (size_t i = 0; i < host->spawner_count; i++) {
        struct spawner_link *link = &host->spawners[i];
        if (uv_poll_init(&host->loop, &link->watcher, link->fd) != 0)
            return -1;
        link->watcher.data = link;
        link->watching = true;
        if (uv_poll_start(&link->watcher, UV_READABLE, on_spawner_event) != 0)
            return -1;
    }
    return 0;
}

static void on_spawner_watcher_closed(uv_handle_t *handle)
{
    struct spawner_link *link = handle->data;
    close(link->fd); /* EOF tells the spawner to exit */
    link->fd = -1;
}

void host_spawners_close(struct host *host)
{
    for (size_t i = 0; i < host->spawner_count; i++) {
        struct spawner_link *link = &host->spawners[i];
        while (link->outgoing_head) {
            struct outgoing_message *message = link->outgoing_head;
            link->outgoing_head = message->next;
            free(message);
        }
        link->outgoing_tail = NULL;
        drop_spare(link);
        if (link->watching) {
            link->watching = false;
            uv_close((uv_handle_t *)&link->watcher, on_spawner_watcher_closed);
        }
    }
}
