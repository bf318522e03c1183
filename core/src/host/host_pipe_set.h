/*
 * The workers' pipes, watched together: one epoll instance of the host's
 * own, which the loop watches as a single descriptor (uv_poll_t).
 *
 * Why not a libuv handle per pipe: a uv_pipe_t is 264 bytes and libuv's
 * table of watched descriptors grows with the highest one, so 10,000 live
 * workers cost the host 2.8 MB that way; here a pipe costs the host only
 * the kernel's epoll entry and what its owner keeps (host_workers.c), and
 * the host stays under 512 bytes per live child (README, Benchmarks).
 *
 * Readiness is level-triggered: a pipe not read to the end is reported
 * again on the next loop turn, so one busy pipe cannot hold the loop.
 * Each pipe is identified by an entry pointer its owner chooses.
 */
#ifndef DYNSUP_HOST_PIPE_SET_H
#define DYNSUP_HOST_PIPE_SET_H

#include <stdbool.h>
#include <sys/epoll.h>
#include <uv.h>

#define PIPE_SET_BATCH 64

struct pipe_set {
    int epoll_fd;                    /* -1 when not open */
    uv_poll_t watcher;
    void (*ready)(void *context, void *entry);
    void *context;
    /* The readiness being dispatched: entries removed meanwhile are
     * cleared from it, so none is called after its owner let it go. */
    struct epoll_event batch[PIPE_SET_BATCH];
    int batch_count, batch_next;
};

/* Returns 0, or -1 with errno. `ready` is called for each pipe that has
 * data or an end of file to read. (EPOLLHUP without EPOLLIN does not
 * prove the pipe empty: the kernel reads its count and its writers
 * without a lock, so a write and a close in between show HUP alone with
 * data still there; only a read tells.) */
int pipe_set_open(struct pipe_set *set, uv_loop_t *loop,
                  void (*ready)(void *context, void *entry), void *context);
/* Makes fd (which the caller still owns) non-blocking and watches it for
 * reading. Returns 0 or -1. */
int pipe_set_add(struct pipe_set *set, int fd, void *entry);
/* Stops watching fd; `entry` is not called again, not even for readiness
 * already fetched. Call before closing fd. */
void pipe_set_remove(struct pipe_set *set, int fd, void *entry);
/* Closes the set (the pipes stay the caller's). */
void pipe_set_close(struct pipe_set *set);

#endif
