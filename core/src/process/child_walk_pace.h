/*
 * How often a spawner may walk its whole list of children (pure: numbers
 * in, an interval out; spawner_containment.c does the walking).
 *
 * A spawner walks the list for two reasons: waitid(P_ALL) finds exits
 * whose SIGCHLDs merged into one (the named one is reaped directly), and
 * the sweep reads /proc's list to find daemons that left a dead worker's
 * group. Either holds the kernel's task list lock for time that grows
 * with the number of children (about 0.15 us and 1.5 us per child on our
 * VMs), and every fork and exit on the machine waits for that lock: with
 * 10,000 live workers, walking after every lone exit was the restart p99
 * (issue 13). So a walk comes at most every so often, the interval
 * growing with the children so that walking keeps the lock well under 1 %
 * of the time, and short again while walks keep finding something (a
 * burst of exits, daemons being killed).
 */
#ifndef DYNSUP_CHILD_WALK_PACE_H
#define DYNSUP_CHILD_WALK_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The shortest intervals: a merged exit is reaped within this while exits
 * come in bursts; a daemon is killed within this while sweeps find some. */
#define PACE_SCAN_MIN_MS 5
#define PACE_SWEEP_MIN_MS 100
/* And the longest: a poll() timeout (an int) must hold it. */
#define PACE_MAX_MS 60000

/* Between two waitid(P_ALL) walks for merged exits: PACE_SCAN_MIN_MS while
 * the last walk found exits, else 30 us per live child (300 ms at 10,000). */
uint32_t pace_scan_interval_ms(size_t live_children, bool last_walk_found_exits);

/* Between two sweeps for daemons: PACE_SWEEP_MIN_MS while the last sweep
 * killed something, else 300 us per live child (3 s at 10,000). */
uint32_t pace_sweep_interval_ms(size_t live_children, bool last_sweep_killed);

#endif
