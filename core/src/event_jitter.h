/*
 * When a periodic event fires (SPEC §4/§7, `[event:X] interval` and
 * `jitter`): the k-th firing is due k × interval after the host started
 * and comes a random 0..jitter seconds after that, so a fleet of hosts
 * started together (a rollout, a power cut) does not poll the auth
 * service in the same second, and keeps not doing so: each firing draws
 * anew, and firings are counted from their due times, not from the
 * previous (jittered) firing, so delays never add up.
 *
 * The arithmetic is pure (the random bits are passed in) so it can be
 * tested without waiting; event_random_bits() is the one impure part.
 */
#ifndef DYNSUP_EVENT_JITTER_H
#define DYNSUP_EVENT_JITTER_H

#include <stdint.h>

/* A delay in [0, jitter_s × 1000] ms, uniform up to a 2^-64 bias, from
 * 64 random bits. */
uint64_t event_jitter_ms(uint32_t jitter_s, uint64_t random_bits);

/* The due time after `due_ms` (a firing just handled): one period later,
 * or, if the loop was held up for more than a period (a suspended VM, a
 * stopped process), the last due time not after now_ms: missed firings are
 * skipped, not fired in a burst. */
uint64_t event_next_due_ms(uint64_t due_ms, uint64_t period_ms, uint64_t now_ms);

/* How long to wait from now_ms for the firing due at due_ms, delayed by
 * jitter_ms: 0 when that moment is already past (a loop that was busy). */
uint64_t event_wait_ms(uint64_t now_ms, uint64_t due_ms, uint64_t jitter_ms);

/* 64 bits from the kernel's random source (getrandom); if it cannot
 * answer, bits mixed from the clock and the pid, which still differ
 * between hosts. */
uint64_t event_random_bits(void);

#endif
