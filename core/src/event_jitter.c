#include "event_jitter.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t event_jitter_ms(uint32_t jitter_s, uint64_t random_bits)
{
    if (jitter_s == 0)
        return 0;
    uint64_t span = (uint64_t)jitter_s * 1000u + 1u; /* both ends included */
    return random_bits % span;
}

uint64_t event_next_due_ms(uint64_t due_ms, uint64_t period_ms, uint64_t now_ms)
{
    uint64_t next = due_ms + period_ms;
    if (period_ms > 0 && now_ms >= next + period_ms)
        next += (now_ms - next) / period_ms * period_ms;
    return next;
}

uint64_t event_wait_ms(uint64_t now_ms, uint64_t due_ms, uint64_t jitter_ms)
{
    uint64_t fire_at = due_ms + jitter_ms;
    return fire_at > now_ms ? fire_at - now_ms : 0;
}

/* splitmix64's finaliser: spreads a few changing bits over all 64. */
static uint64_t mix(uint64_t value)
{
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9u;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebu;
    return value ^ (value >> 31);
}

uint64_t event_random_bits(void)
{
    uint64_t bits = 0;
    if (getrandom(&bits, sizeof bits, GRND_NONBLOCK) == (ssize_t)sizeof bits)
        return bits;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return mix((uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 30) ^ ((uint64_t)getpid() << 48));
}
