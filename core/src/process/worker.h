/*
 * The child side of a worker start: what runs in the freshly forked
 * process before and around the plugin's code.
 */
#ifndef DYNSUP_WORKER_H
#define DYNSUP_WORKER_H

#include <sys/types.h>

#include "dynsup/plugin.h"

struct worker_job {
    const char *supervisor;
    const char *child_id;
    const char *name;     /* NULL if none */
    char **argv;          /* NULL-terminated */
    int argc;
    char **settings;      /* the child spec's execution environment (job_settings.h) */
    int setting_count;
    pid_t supervisor_pid; /* the host: only its SIGTERM is a stop request (see worker.c) */
};

/* Marks the functions a worker runs between fork and its plugin's code.
 * GCC and clang put hot functions in .text.hot, which the linker lays out
 * together: a fresh process pays a page fault for each code page it runs
 * (tens of microseconds on the VMs we measured), and this path then fits
 * in one or two pages instead of one per function. */
#define WORKER_PATH __attribute__((hot))

/* The runtime's own descriptors in a worker (the report pipe during init,
 * a spare's job pipe while it waits) sit at the top of the descriptor
 * table (1023, or just under a lower RLIMIT_NOFILE soft limit), so that the plugin's
 * first open() gets 3 and nothing of the runtime's is where a plugin
 * expects its own (SPEC section 9). Set by worker_set_up_descriptors. */
extern int worker_job_fd;

/* Spawner side, once after loading its plugin, with SIGTERM blocked:
 * installs the workers' SIGTERM handler (inherited through fork) and notes
 * the signals a plugin's constructor changed, which worker_prepare puts
 * back to default. */
void worker_set_up_signals(void);

/* Spawner side, once: picks the numbers of the runtime's descriptors in a
 * worker from the descriptor limit every worker inherits. */
void worker_set_up_descriptors(void);

/* Spawner side, once: finds libc's list of stdio streams, which a worker
 * reads as it ends to skip a flush with nothing to write (worker.c). */
void worker_set_up_stdio(void);

/* In the forked child: makes the process a clean worker-to-be, leader of
 * its own process group (fds 0/1/2 only, plus keep_fd moved to
 * worker_job_fd when >= 0 and the report pipe at the top of the table;
 * stdout and stderr on output_fd; default signals but SIGTERM, which only
 * `supervisor` may send as a stop request; killed when `parent` dies).
 * Exits at once if `parent` is already gone. */
WORKER_PATH void worker_prepare(int output_fd, int report_fd, int keep_fd, pid_t parent, pid_t supervisor);

/* Never returns: runs init, reports its answer on the report pipe, then
 * run, whose return value becomes the exit status. */
WORKER_PATH _Noreturn void worker_become(const struct worker_job *job, const struct dynsup_plugin *plugin);

/* Both of the above, for a worker forked on request. */
WORKER_PATH _Noreturn void worker_main(const struct worker_job *job, const struct dynsup_plugin *plugin,
                           int output_fd, int report_fd, pid_t parent);

/* Whether a SIGTERM came (a spare waiting for its job ends by one). */
WORKER_PATH int worker_stop_requested(void);

/* Ends the process by SIGTERM (a spare asked to stop before its job). */
_Noreturn void worker_end_by_stop(void);

#endif
