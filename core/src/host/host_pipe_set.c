/*
 * One epoll set for the workers' pipes, watched by the loop as one
 * descriptor. See host_pipe_set.h.
 */
#include "host_pipe_set.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void on_set_readable(uv_poll_t *watcher, int status, int events)
{
    (void)events;
    struct pipe_set *set = watcher->data;
    if (status < 0)
        return;
    int count;
    do
        count = epoll_wait(set->epoll_fd, set->batch, PIPE_SET_BATCH, 0);
    while (count < 0 && errno == EINTR);
    set->batch_count = count > 0 ? count : 0;
    for (set->batch_next = 0; set->batch_next < set->batch_count; set->batch_next++) {
        void *entry = set->batch[set->batch_next].data.ptr;
        if (entry)
            set->ready(set->context, entry);
    }
    set->batch_count = set->batch_next = 0;
}

int pipe_set_open(struct pipe_set *set, uv_loop_t *loop,
                  void (*ready)(void *context, void *entry), void *context)
{
    set->batch_count = set->batch_next = 0;
    set->ready = ready;
    set->context = context;
    set->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (set->epoll_fd < 0)
        return -1;
    if (uv_poll_init(loop, &set->watcher, set->epoll_fd) != 0) {
        close(set->epoll_fd);
        set->epoll_fd = -1;
        errno = ENOMEM;
        return -1;
    }
    set->watcher.data = set;
    uv_poll_start(&set->watcher, UV_READABLE, on_set_readable);
    return 0;
}

int pipe_set_add(struct pipe_set *set, int fd, void *entry)
{
    /* Reads must never wait: a pipe is read until it is empty, and a
     * process the worker forked may hold its other end for ever. */
    int non_blocking = 1;
    if (ioctl(fd, FIONBIO, &non_blocking) != 0)
        return -1;
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = entry};
    return epoll_ctl(set->epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

void pipe_set_remove(struct pipe_set *set, int fd, void *entry)
{
    if (set->epoll_fd >= 0)
        epoll_ctl(set->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    for (int i = set->batch_next + 1; i < set->batch_count; i++)
        if (set->batch[i].data.ptr == entry)
            set->batch[i].data.ptr = NULL;
}

static void on_watcher_closed(uv_handle_t *handle)
{
    struct pipe_set *set = handle->data;
    close(set->epoll_fd);
    set->epoll_fd = -1;
}

void pipe_set_close(struct pipe_set *set)
{
    if (set->epoll_fd < 0 || uv_is_closing((uv_handle_t *)&set->watcher))
        return;
    uv_close((uv_handle_t *)&set->watcher, on_watcher_closed);
}
