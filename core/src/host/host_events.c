/*
 * The events' interval timers (SPEC sections 4 and 7): one per event with
 * an `interval`, each firing at its due time plus a fresh random `jitter`
 * (event_jitter.c has the arithmetic). Signals need no handle of their own
 * here: host_signals.c looks the event up when the signal comes.
 */
#include <stdlib.h>

#include "event_jitter.h"
#include "host_internal.h"
#include "log.h"

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle); /* the handle is an event_timer's first member */
}


/* One-shot, re-armed for the next due time plus a fresh jitter: see
 * event_jitter.h for why firings are counted from their due times. */
static void arm_event_timer(struct event_timer *timer);

static void on_event_timer(uv_timer_t *handle)
{
    struct host *host = handle->loop->data;
    struct event_timer *timer = handle->data;
    host_fire_event(host, timer->event, 0, "interval");
    if (!host->exiting)
        arm_event_timer(timer);
}

static void arm_event_timer(struct event_timer *timer)
{
    const struct event_spec *event = timer->event;
    uint64_t period = (uint64_t)event->interval_s * 1000u;
    timer->due_ms = event_next_due_ms(timer->due_ms, period, uv_now(timer->handle.loop));
    uint64_t jitter = event_jitter_ms(event->jitter_s, event->jitter_s ? event_random_bits() : 0);
    uv_timer_start(&timer->handle, on_event_timer,
                   event_wait_ms(uv_now(timer->handle.loop), timer->due_ms, jitter), 0);
}

void host_events_close(struct host *host)
{
    for (size_t i = 0; i < host->event_timer_count; i++)
        uv_close((uv_handle_t *)&host->event_timers[i]->handle, on_timer_closed);
    free(host->event_timers);
    host->event_timers = NULL;
    host->event_timer_count = 0;
}

/* Interval timers point at their event_spec in host->config: a reload
 * makes them anew from the new config (signals are looked up when they
 * come, so they follow by themselves). */
int host_events_start(struct host *host)
{
    const struct config *config = &host->config;
    host->event_timers = calloc(config->event_count + 1, sizeof *host->event_timers);
    if (!host->event_timers)
        return -1;
    for (size_t i = 0; i < config->event_count; i++) {
        const struct event_spec *event = &config->events[i];
        if (event->interval_s) {
            struct event_timer *timer = calloc(1, sizeof *timer);
            if (!timer)
                return -1;
            host->event_timers[host->event_timer_count++] = timer;
            uv_timer_init(&host->loop, &timer->handle);
            timer->handle.data = timer;
            timer->event = event;
            timer->due_ms = uv_now(&host->loop);
            arm_event_timer(timer);
        }
    }
    return 0;
}

void host_events_restart(struct host *host)
{
    host_events_close(host);
    if (host_events_start(host) != 0)
        log_event(DYNSUP_LOG_ERROR, NULL, NULL, 0, "out of memory starting the events' timers");
}
