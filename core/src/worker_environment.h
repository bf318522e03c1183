/*
 * A worker's execution environment, applied in the worker before init
 * (SPEC section 9): the job settings of its child spec (job_settings.h).
 */
#ifndef DYNSUP_WORKER_ENVIRONMENT_H
#define DYNSUP_WORKER_ENVIRONMENT_H

#include <stddef.h>

#include "worker.h"

/* Workers keep at most this soft descriptor limit unless their spec sets
 * limit_nofile: the host raises its own for its many pipes, and plugin
 * code using select() breaks above FD_SETSIZE. */
#define WORKER_DEFAULT_NOFILE 1024

/* Applies the settings (job_settings.h; the array's environment pointers
 * are moved past their tags, and environ ends up pointing into it, so it
 * must live as long as the process): limits, nice, umask, then supplementary groups,
 * group and user for good (no_new_privs, and a check that root cannot be
 * regained), then the working directory and the environment. Returns 0,
 * or -1 with `error` naming the step and the reason. */
WORKER_PATH int worker_apply_environment(char **settings, int count, char *error,
                                         size_t error_size);

#endif
