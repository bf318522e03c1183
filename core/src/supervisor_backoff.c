/*
 * Restart backoff delays. See supervisor_backoff.h.
 *
 * Why jitter: children of one supervisor that failed together (their
 * service went away) would otherwise retry in lockstep and hit the
 * service at the same instant every time; +-25 % spreads them out, as
 * systemd and most retry libraries do.
 */
#include "supervisor_backoff.h"

uint32_t backoff_nominal_ms(struct restart_backoff backoff, uint32_t step)
{
    if (backoff.delay_ms == 0)
        return 0;
    uint32_t cap = backoff.delay_max_ms > backoff.delay_ms ? backoff.delay_max_ms : backoff.delay_ms;
    uint32_t doublings = step > 0 ? step - 1 : 0;
    /* Shift only while it cannot overflow or pass the cap. */
    uint64_t delay = backoff.delay_ms;
    for (uint32_t i = 0; i < doublings && delay < cap; i++)
        delay *= 2;
    return delay < cap ? (uint32_t)delay : cap;
}

uint32_t backoff_delay_ms(struct restart_backoff backoff, uint32_t step, uint32_t random)
{
    uint64_t nominal = backoff_nominal_ms(backoff, step);
    if (nominal == 0)
        return 0;
    /* nominal * 3/4 + nominal * (random / 2^32) / 2, in integers. */
    uint64_t delay = nominal * 3 / 4 + ((nominal * random) >> 33);
    if (delay == 0)
        delay = 1;
    return delay > UINT32_MAX ? UINT32_MAX : (uint32_t)delay;
}
