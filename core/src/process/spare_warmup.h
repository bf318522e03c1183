/*
 * What a spare touches while it waits, so that the pages a job's path
 * needs first are already in its page tables when the job arrives (issue
 * 13: five page faults between a spare's read of its job and init's
 * answer, a few microseconds each, on every start and restart a spare
 * serves). Only pages that path touches anyway: a worker holds no page
 * more than it would have.
 */
#ifndef DYNSUP_SPARE_WARMUP_H
#define DYNSUP_SPARE_WARMUP_H

#include "dynsup/plugin.h"
#include "worker.h"

/* In the spawner, once: finds the program's read-only pages (its code and
 * constants) for spare_warm_up. */
void spare_warmup_set_up(void);

/* In a spare, prepared, before it waits for its job. */
WORKER_PATH void spare_warm_up(const struct dynsup_plugin *plugin);

#endif
