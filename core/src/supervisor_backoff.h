/*
 * Restart backoff (SPEC section 9), the arithmetic only: how long the n-th
 * consecutive restart of a child waits. Pure: the random number is passed
 * in. When a child's count starts over is decided by supervisor.c.
 */
#ifndef DYNSUP_SUPERVISOR_BACKOFF_H
#define DYNSUP_SUPERVISOR_BACKOFF_H

#include <stdint.h>

#include "supervisor.h"

/* The nominal wait of restart number `step` (1 for the first of a series):
 * delay_ms * 2^(step-1), capped at delay_max_ms. 0 when backoff is off. */
uint32_t backoff_nominal_ms(struct restart_backoff backoff, uint32_t step);

/* The nominal wait spread by +-25 %: nominal * (0.75 + 0.5 * random/2^32),
 * at least 1 ms. 0 when backoff is off. */
uint32_t backoff_delay_ms(struct restart_backoff backoff, uint32_t step, uint32_t random);

#endif
