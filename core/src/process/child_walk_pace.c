/* How often a spawner may walk its children: see child_walk_pace.h. */
#include "child_walk_pace.h"

/* Microseconds of interval per live child: a walk costs about 0.15 us
 * (waitid) or 1.5 us (the sweep) per child, so these keep each under
 * 0.5 % of the time. */
#define SCAN_US_PER_CHILD 30
#define SWEEP_US_PER_CHILD 300

static uint32_t grown(size_t live_children, uint32_t us_per_child, uint32_t floor_ms)
{
    uint64_t ms = (uint64_t)live_children * us_per_child / 1000;
    if (ms < floor_ms)
        return floor_ms;
    return ms > PACE_MAX_MS ? PACE_MAX_MS : (uint32_t)ms;
}

uint32_t pace_scan_interval_ms(size_t live_children, bool last_walk_found_exits)
{
    if (last_walk_found_exits)
        return PACE_SCAN_MIN_MS;
    return grown(live_children, SCAN_US_PER_CHILD, PACE_SCAN_MIN_MS);
}

uint32_t pace_sweep_interval_ms(size_t live_children, bool last_sweep_killed)
{
    if (last_sweep_killed)
        return PACE_SWEEP_MIN_MS;
    return grown(live_children, SWEEP_US_PER_CHILD, PACE_SWEEP_MIN_MS);
}
