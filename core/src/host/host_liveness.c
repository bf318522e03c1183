/*
 * Is each spawner still there? A spawner that is stopped (SIGSTOP, a
 * debugger) or stuck (a plugin's pthread_atfork handler that blocks in
 * fork) reaps nothing and reports nothing: its workers' exits never reach
 * the tree, and a stop would wait for them for ever while the log blamed
 * the workers. So while the host awaits answers (stopping, or after it
 * sent a SIGKILL) it pings every spawner that has workers or starts in
 * flight; one that has said nothing for SPAWNER_ANSWER_DEADLINE_MS since
 * the ping is killed and declared lost (host_spawner_lost), with a log
 * line saying what state /proc shows it in. Any message from a spawner
 * counts as an answer: a spawner busy with a burst of forks is alive.
 *
 * Idle, the timer does not run: no wake-ups.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "host_internal.h"
#include "log.h"
#include "proc_stat.h"

#define LIVENESS_TICK_MS 250
/* CPU time (clock ticks, 10 ms each) a silent spawner may use over a
 * deadline and still count as asleep rather than working. */
#define LIVENESS_IDLE_TICKS 5

static uint64_t monotonic_ms(void)
{
    return uv_hrtime() / 1000000u;
}

struct process_sample {
    char state;                /* /proc's letter; 0 if the process is gone */
    unsigned long long cpu;    /* utime + stime, in clock ticks */
    char wait_channel[64];
};

static void sample_process(pid_t pid, struct process_sample *sample)
{
    memset(sample, 0, sizeof *sample);
    struct proc_stat stat;
    if (!proc_stat_read(pid, &stat))
        return;
    sample->state = stat.state;
    sample->cpu = stat.cpu;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
    FILE *file = fopen(path, "re");
    if (file) {
        size_t got = fread(sample->wait_channel, 1, sizeof sample->wait_channel - 1, file);
        sample->wait_channel[got] = '\0';
        fclose(file);
        if (strcmp(sample->wait_channel, "0") == 0)
            sample->wait_channel[0] = '\0';
    }
}

/* Silent past the deadline, and not working either: stopped, or asleep
 * without using the CPU (a fork handler that blocks). A spawner that runs
 * or is in the kernel (forking thousands of workers on a loaded machine)
 * is busy, not lost. */
static bool looks_stuck(const struct spawner_link *link, const struct process_sample *now)
{
    if (now->state == 'T' || now->state == 't')
        return true;
    return now->state == 'S' && now->cpu <= link->ping_cpu + LIVENESS_IDLE_TICKS;
}

static void describe_state(const struct process_sample *sample, char *text, size_t size)
{
    if (sample->state == 'T' || sample->state == 't')
        snprintf(text, size, "it is stopped (SIGSTOP or a debugger)");
    else if (sample->state == 0 || sample->state == 'Z')
        snprintf(text, size, "it has exited");
    else
        snprintf(text, size, "it is stuck, asleep without using the CPU%s%s: a plugin's fork "
                 "handler or constructor blocks it", sample->wait_channel[0] ? " in " : "",
                 sample->wait_channel);
}

/* Stopping, every exit and start is awaited; otherwise only the exits of
 * workers the host SIGKILLed (an idle host pings nobody). */
static bool awaits_answers(const struct host *host, const struct spawner_link *link)
{
    if (link->pid <= 0 || link->lost)
        return false;
    if (host->stopping)
        return link->worker_count > 0 || link->in_flight_count > 0;
    return link->kills_awaited > 0;
}

static void ping(struct spawner_link *link, uint64_t now)
{
    struct process_sample sample;
    sample_process(link->pid, &sample);
    link->ping_cpu = sample.cpu;
    uint32_t type = SPAWNER_PING;
    /* A full socket means the spawner is not reading: the deadline runs
     * from now either way. */
    send(link->fd, &type, sizeof type, MSG_DONTWAIT | MSG_NOSIGNAL);
    link->ping_outstanding = true;
    link->ping_sent_ms = now;
}

static void on_liveness_tick(uv_timer_t *timer)
{
    struct host *host = timer->data;
    uint64_t now = monotonic_ms();
    bool any = false;
    for (size_t i = 0; i < host->spawner_count && !host->exiting; i++) {
        struct spawner_link *link = host->spawners[i];
        if (!awaits_answers(host, link)) {
            link->ping_outstanding = false;
            continue;
        }
        any = true;
        if (!link->ping_outstanding) {
            ping(link, now);
            continue;
        }
        uint64_t since = link->ping_sent_ms > link->last_heard_ms ? link->ping_sent_ms
                                                                  : link->last_heard_ms;
        if (now - since < SPAWNER_ANSWER_DEADLINE_MS)
            continue;
        struct process_sample sample;
        sample_process(link->pid, &sample);
        if (!looks_stuck(link, &sample)) {
            link->ping_sent_ms = now; /* busy: give it another deadline */
            link->ping_cpu = sample.cpu;
            continue;
        }
        char state[200];
        describe_state(&sample, state, sizeof state);
        log_event(DYNSUP_LOG_ERROR, NULL, NULL, link->pid,
                  "plugin process of %s (pid %d) did not answer within %d ms: %s; its %zu workers' "
                  "exits cannot be reported; killing it",
                  link->plugin, (int)link->pid, SPAWNER_ANSWER_DEADLINE_MS, state, link->worker_count);
        kill(link->pid, SIGKILL); /* its workers die with it (PR_SET_PDEATHSIG) */
        char how[200];
        snprintf(how, sizeof how, "killed by the host after %d ms without an answer",
                 SPAWNER_ANSWER_DEADLINE_MS);
        host_spawner_lost(host, link, how);
    }
    /* Stopped once nothing is awaited: no wake-up of an idle host. */
    if (host->exiting || !any) {
        uv_timer_stop(timer);
        host->liveness_running = false;
    }
}

void host_liveness_watch(struct host *host)
{
    if (host->exiting)
        return;
    if (host->liveness_running)
        return;
    if (!host->liveness_started) {
        uv_timer_init(&host->loop, &host->liveness_timer);
        host->liveness_timer.data = host;
        host->liveness_started = true;
    }
    host->liveness_running = true;
    uv_timer_start(&host->liveness_timer, on_liveness_tick, LIVENESS_TICK_MS, LIVENESS_TICK_MS);
}

void host_liveness_heard(struct spawner_link *link, bool pong)
{
    link->last_heard_ms = monotonic_ms();
    if (pong)
        link->ping_outstanding = false;
}

void host_liveness_close(struct host *host)
{
    if (host->liveness_started) {
        host->liveness_started = false;
        host->liveness_running = false;
        uv_close((uv_handle_t *)&host->liveness_timer, NULL);
    }
}
