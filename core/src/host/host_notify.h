/*
 * Telling the service manager (systemd, with Type=notify) how the host is
 * doing, through libsystemd's sd_notify: READY=1 once the control socket
 * accepts requests and every autostart child has answered, RELOADING=1 and
 * READY=1 around a reload, STOPPING=1, a STATUS= line, and WATCHDOG=1 from
 * a loop timer when the unit sets WatchdogSec=.
 *
 * Without NOTIFY_SOCKET in the environment (not started by systemd) every
 * call is a cheap no-op and no timer exists: the idle host keeps zero
 * wake-ups. Built without libsystemd, every call is a no-op.
 */
#ifndef DYNSUP_HOST_NOTIFY_H
#define DYNSUP_HOST_NOTIFY_H

#include <stdbool.h>
#include <uv.h>

struct host;

/* Owned by struct host; the timers are closed by host_notify_close. */
struct host_notify {
    bool enabled;            /* NOTIFY_SOCKET was set and libsystemd is built in */
    bool awaiting_ready;     /* boot done, READY=1 waits for autostart's answers */
    bool ready_sent;
    bool status_dirty;       /* the tree changed since the last STATUS= */
    bool watchdog_running;
    bool status_timer_running;
    uv_timer_t watchdog;     /* WATCHDOG=1 every half WATCHDOG_USEC */
    uv_timer_t status_timer; /* one STATUS= at most every second, only after a change */
};

/* Whether this build can talk to systemd ("sd_notify" in --version). */
bool host_notify_built(void);

/* Reads NOTIFY_SOCKET and WATCHDOG_USEC; starts the watchdog timer on the
 * host's loop when asked for one. Call once the loop exists. */
void host_notify_start(struct host *host);

/* Boot is done (socket listening, autostart requested): READY=1 goes as
 * soon as no autostart child waits for its init answer. */
void host_notify_boot_done(struct host *host);

/* After every batch of tree actions: READY=1 when it is due, and a STATUS=
 * refresh soon after a change. Cheap when nothing waits. */
void host_notify_after_actions(struct host *host);

/* Around a reload (host_reload: the request, SIGHUP, watch): RELOADING=1
 * with MONOTONIC_USEC before re-reading the config, then READY=1 once the
 * new config is applied or refused. Both do nothing before boot's READY=1. */
void host_notify_reloading(struct host *host);
void host_notify_ready(struct host *host);

/* STOPPING=1: the host began its clean shutdown. */
void host_notify_stopping(struct host *host);

/* Closes the timers (host exit). */
void host_notify_close(struct host *host);

#endif
