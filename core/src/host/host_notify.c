/*
 * The host's side of systemd's notify protocol (see host_notify.h). The
 * decisions (when is the host ready, what does STATUS= say) are made from
 * the tree's query API; only sd_notify itself needs libsystemd, so without
 * it this file keeps its logic and sends nothing.
 */
#include "host_notify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host_internal.h"
#include "log.h"

#ifdef DYNSUP_HAVE_LIBSYSTEMD
#include <dlfcn.h>
#include <systemd/sd-daemon.h>

/* libsystemd is opened when systemd asks for notifications, not linked
 * into dynsup-host: the spawners are exec'ed from that binary, so what it
 * links (libsystemd brings compression and crypto libraries) would be in
 * every spawner and every worker they fork, slowing every start. */
static __typeof__(sd_notify) *notify_fn;
static __typeof__(sd_watchdog_enabled) *watchdog_enabled_fn;

static bool load_libsystemd(void)
{
    if (notify_fn && watchdog_enabled_fn)
        return true;
    void *library = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
                  "NOTIFY_SOCKET is set but libsystemd cannot be loaded (%s): no notifications",
                  dlerror());
        return false;
    }
    *(void **)&notify_fn = dlsym(library, "sd_notify");
    *(void **)&watchdog_enabled_fn = dlsym(library, "sd_watchdog_enabled");
    if (!notify_fn || !watchdog_enabled_fn) {
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
                  "libsystemd lacks sd_notify or sd_watchdog_enabled: no notifications");
        dlclose(library);
        notify_fn = NULL;
        watchdog_enabled_fn = NULL;
        return false;
    }
    return true;
}
#endif

/* Often enough to follow a busy host, seldom enough to cost nothing. */
#define STATUS_REFRESH_MS 1000

bool host_notify_built(void)
{
#ifdef DYNSUP_HAVE_LIBSYSTEMD
    return true;
#else
    return false;
#endif
}

static void send_state(struct host *host, const char *state)
{
    if (!host->notify.enabled)
        return;
#ifdef DYNSUP_HAVE_LIBSYSTEMD
    /* A failure (the manager went away) is not the host's problem: it keeps
     * supervising; one line tells the operator. */
    int result = notify_fn(0, state);
    if (result < 0)
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0, "sd_notify failed: %s", strerror(-result));
#else
    (void)state;
#endif
}

/* ---------------------------------------------------------------- STATUS= */

struct status_totals {
    size_t supervisors, workers, active;
    uint32_t restarts_in_window, escalations;
};

static void add_supervisor(const struct supervisor_status *status, void *context)
{
    struct status_totals *totals = context;
    totals->supervisors++;
    totals->workers += status->counts.workers;
    totals->active += status->counts.active;
    totals->restarts_in_window += status->restarts_in_window;
    totals->escalations += status->times_restarted;
}

static void send_status(struct host *host, const char *phase)
{
    struct status_totals totals = {0};
    if (host->tree)
        tree_each_supervisor(host->tree, host_now(host), add_supervisor, &totals);
    char line[256];
    snprintf(line, sizeof line,
             "STATUS=%s: %zu workers (%zu running) in %zu supervisors; %" PRIu32
             " restarts in the intensity windows, %" PRIu32 " supervisor restarts since boot",
             phase, totals.workers, totals.active, totals.supervisors, totals.restarts_in_window,
             totals.escalations);
    host->notify.status_dirty = false;
    send_state(host, line);
}

static void on_status_timer(uv_timer_t *timer)
{
    struct host *host = timer->data;
    host->notify.status_timer_running = false;
    if (host->notify.status_dirty && !host->stopping)
        send_status(host, "running");
}

/* ---------------------------------------------------------------- watchdog */

#ifdef DYNSUP_HAVE_LIBSYSTEMD
static void on_watchdog(uv_timer_t *timer)
{
    struct host *host = timer->data;
    /* Sent from the loop itself: a loop stuck anywhere stops the pings and
     * systemd restarts the host. */
    send_state(host, "WATCHDOG=1");
}
#endif

void host_notify_start(struct host *host)
{
    struct host_notify *notify = &host->notify;
#ifdef DYNSUP_HAVE_LIBSYSTEMD
    const char *socket_path = getenv("NOTIFY_SOCKET");
    notify->enabled = socket_path != NULL && socket_path[0] != '\0' && load_libsystemd();
#else
    notify->enabled = false;
#endif
    if (!notify->enabled)
        return;
    uv_timer_init(&host->loop, &notify->status_timer);
    notify->status_timer.data = host;
    notify->status_timer_running = false;
#ifdef DYNSUP_HAVE_LIBSYSTEMD
    uint64_t watchdog_usec = 0;
    if (watchdog_enabled_fn(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
        uint64_t period_ms = watchdog_usec / 2000u;
        if (period_ms == 0)
            period_ms = 1;
        uv_timer_init(&host->loop, &notify->watchdog);
        notify->watchdog.data = host;
        uv_timer_start(&notify->watchdog, on_watchdog, period_ms, period_ms);
        notify->watchdog_running = true;
        log_event(DYNSUP_LOG_INFO, NULL, NULL, 0, "systemd watchdog: a ping every %" PRIu64 " ms",
                  period_ms);
    }
#endif
}

/* ---------------------------------------------------------------- READY=1 */

struct starting_search {
    const struct tree *tree;
    bool found;
};

static void look_for_starting_child(const struct child_info *child, void *context)
{
    struct starting_search *search = context;
    if (child->state == CHILD_STARTING)
        search->found = true;
}

static void look_in_supervisor(const struct supervisor_status *status, void *context)
{
    struct starting_search *search = context;
    if (!search->found)
        tree_each_child(search->tree, status->name, look_for_starting_child, search);
}

/* Autostart has answered when no child waits for its first init answer
 * (a child whose answer came is running, or gone, or restarting by its
 * policy: all of those are answers). Walked only until READY=1 went. */
static bool autostart_answered(struct host *host)
{
    struct starting_search search = {host->tree, false};
    tree_each_supervisor(host->tree, host_now(host), look_in_supervisor, &search);
    return !search.found;
}

static void send_ready(struct host *host)
{
    if (!host->notify.enabled || host->stopping)
        return;
    host->notify.ready_sent = true;
    host->notify.awaiting_ready = false;
    send_state(host, "READY=1");
    send_status(host, "running");
}

/* After a reload: only once boot's READY=1 went (a reload during boot
 * leaves readiness to autostart's answers). */
void host_notify_ready(struct host *host)
{
    if (host->notify.enabled && host->notify.ready_sent)
        send_ready(host);
}

void host_notify_boot_done(struct host *host)
{
    if (!host->notify.enabled || host->stopping)
        return;
    host->notify.awaiting_ready = true;
    host_notify_after_actions(host);
}

void host_notify_after_actions(struct host *host)
{
    struct host_notify *notify = &host->notify;
    if (!notify->enabled)
        return;
    if (notify->awaiting_ready) {
        if (autostart_answered(host))
            send_ready(host);
        return;
    }
    if (!notify->ready_sent || host->exiting)
        return;
    notify->status_dirty = true;
    if (!notify->status_timer_running) {
        notify->status_timer_running = true;
        uv_timer_start(&notify->status_timer, on_status_timer, STATUS_REFRESH_MS, 0);
    }
}

void host_notify_reloading(struct host *host)
{
    if (!host->notify.enabled || !host->notify.ready_sent || host->stopping)
        return;
    /* systemd 253+ wants the monotonic time with RELOADING=1 (Type=notify-reload);
     * older ones ignore it. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    char line[96];
    snprintf(line, sizeof line, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
             (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);
    send_state(host, line);
}

void host_notify_stopping(struct host *host)
{
    if (!host->notify.enabled)
        return;
    host->notify.awaiting_ready = false;
    send_state(host, "STOPPING=1");
    send_status(host, "stopping");
}

void host_notify_close(struct host *host)
{
    struct host_notify *notify = &host->notify;
    if (!notify->enabled)
        return;
    notify->enabled = false;
    uv_close((uv_handle_t *)&notify->status_timer, NULL);
    if (notify->watchdog_running)
        uv_close((uv_handle_t *)&notify->watchdog, NULL);
    notify->watchdog_running = false;
}
