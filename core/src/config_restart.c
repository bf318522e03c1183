/*
 * The restart keys of [supervisor:X] and [child:ID]: max_restarts (which
 * may be infinity) and the opt-in backoff restart_delay /
 * restart_delay_max (SPEC section 9), and how a child's backoff is found
 * from its spec and the supervisor that starts it.
 */
#include "config.h"

#include <string.h>

#include "config_values.h"

/* A day: longer waits are surely a typo, and it keeps every sum of a
 * delay and the tree's clock far from overflowing. */
#define RESTART_DELAY_LIMIT_MS 86400000u
/* restart_delay_max when only restart_delay is written. */
#define RESTART_DELAY_MAX_DEFAULT_MS 60000u

void section_read_max_restarts(const struct section_reader *r, uint32_t *out)
{
    int line;
    const char *value = section_value(r, "max_restarts", &line);
    if (value != NULL && strcmp(value, "infinity") == 0)
        *out = DS_INFINITY;
    else if (value != NULL && config_parse_uint32(value, out) != NULL)
        section_key_error(r, "max_restarts", line,
                          "expected a number of restarts or infinity, found \"%s\"", value);
}

static void read_delay(const struct section_reader *r, const char *key, uint32_t minimum,
                       uint32_t *out)
{
    uint32_t delay = CONFIG_UNSET;
    section_read_number(r, key, minimum, &delay);
    if (delay != CONFIG_UNSET && delay > RESTART_DELAY_LIMIT_MS)
        section_key_error(r, key, ini_layout_line(&r->file->layout, r->section->name, key),
                          "expected at most %u ms (one day), found %u", RESTART_DELAY_LIMIT_MS,
                          delay);
    else if (delay != CONFIG_UNSET)
        *out = delay;
}

void section_read_restart_delays(const struct section_reader *r, uint32_t *delay_ms,
                                 uint32_t *delay_max_ms)
{
    read_delay(r, "restart_delay", 0, delay_ms);
    read_delay(r, "restart_delay_max", 1, delay_max_ms);
    if (*delay_ms != CONFIG_UNSET && *delay_max_ms != CONFIG_UNSET && *delay_max_ms < *delay_ms)
        section_key_error(r, "restart_delay_max",
                          ini_layout_line(&r->file->layout, r->section->name, "restart_delay_max"),
                          "must be at least restart_delay (%u ms), found %u", *delay_ms,
                          *delay_max_ms);
}

struct restart_backoff config_restart_backoff(const struct supervisor_spec *supervisor,
                                              const struct child_spec *child)
{
    uint32_t delay = child->restart_delay_ms != CONFIG_UNSET ? child->restart_delay_ms
                     : supervisor->restart_delay_ms != CONFIG_UNSET ? supervisor->restart_delay_ms
                     : 0;
    uint32_t delay_max = child->restart_delay_max_ms != CONFIG_UNSET ? child->restart_delay_max_ms
                         : supervisor->restart_delay_max_ms != CONFIG_UNSET
                             ? supervisor->restart_delay_max_ms
                             : RESTART_DELAY_MAX_DEFAULT_MS;
    /* A child's own delay above the supervisor's cap raises the cap. */
    if (delay_max < delay)
        delay_max = delay;
    return (struct restart_backoff){delay, delay > 0 ? delay_max : 0};
}
