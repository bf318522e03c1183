/*
 * Every signal the host can be sent from outside has a defined, logged
 * behaviour, and none ends it without its clean stop (SPEC section 9):
 *
 *   SIGTERM, SIGINT, SIGQUIT      clean stop (children by their shutdown)
 *   SIGXCPU                       clean stop: the CPU limit is near, and
 *                                 the kernel kills at the hard one
 *   SIGHUP, SIGUSR1, SIGUSR2      the events bound to them; unbound, logged
 *                                 and ignored
 *   SIGCHLD                       a spawner died (host_spawners_reap)
 *   SIGPIPE                       ignored: a client that went away is seen
 *                                 as a write error
 *   SIGWINCH, SIGURG, SIGCONT     the default: nothing happens
 *   SIGTSTP, SIGTTIN, SIGTTOU     the default: the host is stopped (job
 *                                 control in a terminal), not ended
 *   SIGKILL, SIGSTOP              cannot be caught: every worker dies with
 *                                 the host (PR_SET_PDEATHSIG)
 *   everything else               logged with its sender and ignored
 *
 * "Everything else" includes SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
 * SIGTRAP and SIGSYS when another process sends them with kill(). They
 * are blocked and read from a signalfd: a blocked signal sent by kill()
 * only waits there, while a real fault of the host's own still ends it
 * with a core dump (the kernel unblocks a fault it raises itself), and
 * abort() unblocks SIGABRT before raising it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "host_internal.h"
#include "log.h"

static const int stop_signal_numbers[] = {SIGTERM, SIGINT, SIGQUIT};
static const int event_signal_numbers[] = {SIGHUP, SIGUSR1, SIGUSR2};
/* Read from the signalfd; SIGXCPU stops, the others are ignored. */
static const int logged_signal_numbers[] = {SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
                                            SIGXCPU, SIGXFSZ, SIGSTKFLT, SIGTRAP, SIGSYS,
                                            SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

/* "SIGTERM", "SIGRTMIN+3": the name an operator types with kill -s. */
static void signal_name(int signal_number, char *name, size_t size)
{
    if (signal_number >= SIGRTMIN && signal_number <= SIGRTMAX) {
        snprintf(name, size, "SIGRTMIN+%d", signal_number - SIGRTMIN);
        return;
    }
    const char *abbreviation = sigabbrev_np(signal_number);
    if (abbreviation)
        snprintf(name, size, "SIG%s", abbreviation);
    else
        snprintf(name, size, "signal %d", signal_number);
}

void host_signals_block(void)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof logged_signal_numbers / sizeof logged_signal_numbers[0]; i++)
        sigaddset(&set, logged_signal_numbers[i]);
    for (int number = SIGRTMIN; number <= SIGRTMAX; number++)
        sigaddset(&set, number);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void on_stop_signal(uv_signal_t *handle, int signal_number)
{
    char name[32], why[64];
    signal_name(signal_number, name, sizeof name);
    snprintf(why, sizeof why, "received signal %d (%s)", signal_number, name);
    host_begin_stop(handle->data, why);
}

static void on_event_signal(uv_signal_t *handle, int signal_number)
{
    struct host *host = handle->data;
    if (signal_number == SIGHUP) { /* the reload signal (SPEC section 8) */
        host_reload_and_log(host, "received signal 1 (SIGHUP)");
        return;
    }
    bool fired = false;
    for (size_t i = 0; i < host->config.event_count; i++)
        if (host->config.events[i].signal == signal_number) {
            host_fire_event(host, &host->config.events[i], 0, "signal");
            fired = true;
        }
    if (!fired) {
        char name[32];
        signal_name(signal_number, name, sizeof name);
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
                  "received signal %d (%s): no event is bound to it; ignored", signal_number, name);
    }
}

static void on_logged_signal(uv_poll_t *watcher, int status, int events)
{
    (void)events;
    struct host *host = watcher->data;
    if (status < 0)
        return;
    struct signalfd_siginfo info;
    while (read(host->signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        int number = (int)info.ssi_signo;
        char name[32];
        signal_name(number, name, sizeof name);
        if (number == SIGXCPU) {
            char why[96];
            snprintf(why, sizeof why, "received signal %d (%s, CPU time limit)", number, name);
            host_begin_stop(host, why);
            continue;
        }
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
                  "received signal %d (%s) from pid %u (uid %u): ignored", number, name,
                  info.ssi_pid, info.ssi_uid);
    }
}

int host_signals_start(struct host *host)
{
    for (size_t i = 0; i < HOST_STOP_SIGNALS; i++) {
        uv_signal_init(&host->loop, &host->stop_signals[i]);
        host->stop_signals[i].data = host;
        uv_signal_start(&host->stop_signals[i], on_stop_signal, stop_signal_numbers[i]);
    }
    for (size_t i = 0; i < HOST_EVENT_SIGNALS; i++) {
        uv_signal_init(&host->loop, &host->event_signals[i]);
        host->event_signals[i].data = host;
        uv_signal_start(&host->event_signals[i], on_event_signal, event_signal_numbers[i]);
    }
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof logged_signal_numbers / sizeof logged_signal_numbers[0]; i++)
        sigaddset(&set, logged_signal_numbers[i]);
    for (int number = SIGRTMIN; number <= SIGRTMAX; number++)
        sigaddset(&set, number);
    host->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (host->signal_fd < 0 || uv_poll_init(&host->loop, &host->signal_watcher, host->signal_fd) != 0)
        return -1;
    host->signal_watcher.data = host;
    host->signals_started = true;
    return uv_poll_start(&host->signal_watcher, UV_READABLE, on_logged_signal) == 0 ? 0 : -1;
}

static void on_signal_watcher_closed(uv_handle_t *handle)
{
    struct host *host = handle->data;
    close(host->signal_fd);
    host->signal_fd = -1;
}

void host_signals_close(struct host *host)
{
    if (!host->signals_started)
        return;
    host->signals_started = false;
    for (size_t i = 0; i < HOST_STOP_SIGNALS; i++)
        uv_close((uv_handle_t *)&host->stop_signals[i], NULL);
    for (size_t i = 0; i < HOST_EVENT_SIGNALS; i++)
        uv_close((uv_handle_t *)&host->event_signals[i], NULL);
    uv_close((uv_handle_t *)&host->signal_watcher, on_signal_watcher_closed);
}
