/*
 * The CLOCK_MONOTONIC time `ms` milliseconds from now, as the absolute
 * deadline pthread_cond_timedwait (with a monotonic condattr) and
 * FUTEX_WAIT_BITSET take.
 */
#ifndef DYNSUP_MONOTONIC_DEADLINE_H
#define DYNSUP_MONOTONIC_DEADLINE_H

#include <time.h>

static inline struct timespec monotonic_deadline_after_ms(long ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return deadline;
}

#endif
