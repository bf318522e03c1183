/*
 * What a spawner does so that nothing a worker forks outlives it
 * (spawner_containment.c says how and why).
 */
#ifndef DYNSUP_SPAWNER_CONTAINMENT_H
#define DYNSUP_SPAWNER_CONTAINMENT_H

#include <stdbool.h>
#include <sys/types.h>

/* The signal a spawner gets when the host dies (PR_SET_PDEATHSIG): a
 * catchable one, read from the spawner's signalfd, so that it can kill
 * its workers' groups before it goes. */
#define SPAWNER_HOST_DEATH_SIGNAL (SIGRTMIN + 2)

/* Once, in the spawner: becomes a child subreaper and makes room for its
 * table of workers. Returns 0, or -1 (errno set). */
int containment_init(void);

/* A worker (or spare) this spawner forked, until it is reaped. */
void containment_track(pid_t pid);
bool containment_is_worker(pid_t pid);

/* SIGCHLD came, naming `signalled` (count pids; others may have merged
 * into the same signal): reaps those children at once, and every child
 * that exited now or, during a burst of exits, within a few ms
 * (containment_reap_if_due). For a worker, kills what is left of its
 * process group first and then calls `exited`; adopted descendants are
 * reaped silently. */
void containment_reap(const pid_t *signalled, int count,
                      void (*exited)(pid_t pid, int wait_status, void *context), void *context);
/* The deferred part of containment_reap, when it is due. */
void containment_reap_if_due(void (*exited)(pid_t pid, int wait_status, void *context),
                             void *context);

/* How long the spawner's poll may sleep before containment_reap_if_due
 * or containment_sweep_if_due has work (-1: none pending). */
int containment_timeout_ms(void);

/* Kills adopted processes that no live worker's group holds any more,
 * when a reap asked for it and the last sweep is old enough. */
void containment_sweep_if_due(void);

/* Kills every worker's group and every adopted process, then _exit. */
_Noreturn void containment_end_all(int status);

#endif
