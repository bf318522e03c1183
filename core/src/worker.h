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
    pid_t supervisor_pid; /* the host: only its SIGTERM is a stop request (see worker.c) */
};

/* Never returns. Makes the process a clean worker (only fds 0/1/2 open,
 * stdout and stderr on output_fd, default signals but SIGTERM, killed when
 * `parent` dies), runs init, reports its answer on report_fd, then run,
 * whose return value becomes the exit status. */
_Noreturn void worker_main(const struct worker_job *job, const struct dynsup_plugin *plugin,
                           int output_fd, int report_fd, pid_t parent);

#endif
