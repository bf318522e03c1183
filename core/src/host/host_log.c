/*
 * The host's log output, driven by its loop (issue 9 item 9): log.c keeps
 * what a slow reader of stderr cannot take yet in a bounded backlog; here a
 * timer writes that backlog out as the reader catches up.
 *
 * Why a timer and not a poll on the descriptor: libuv's uv_poll_init sets
 * O_NONBLOCK on the descriptor, and for a socket (the journal's stream)
 * that descriptor's file description is the one the host shares with its
 * spawners. The timer runs only while a backlog exists, so an idle host
 * still costs no wake-up, and it does not keep the loop alive: a host that
 * is done exits, after one last bounded attempt (host_log_finish).
 */
#include "host_log.h"

#include <poll.h>
#include <stdbool.h>
#include <time.h>

#include "log.h"

#define LOG_RETRY_MS 20
/* At exit, how long the last lines may wait for a reader. */
#define LOG_DRAIN_MS 1000

static uv_timer_t retry_timer;
static bool timer_ready, timer_armed;
/* Runs as each loop turn ends, before the loop waits: the turn's lines,
 * held (log_hold_lines), go out in one write. */
static uv_prepare_t turn_end;
static bool holding_lines;

static void on_turn_end(uv_prepare_t *handle)
{
    (void)handle;
    log_write_held();
}

/* A regular file never makes a writer wait, so its lines can wait until
 * the turn ends (at most one turn: a host that blocks inside a turn, a
 * plugin's load, writes them first). Other outputs keep their backlog. */
static void hold_lines_per_turn(uv_loop_t *loop)
{
    uv_prepare_init(loop, &turn_end);
    uv_unref((uv_handle_t *)&turn_end);
    uv_prepare_start(&turn_end, on_turn_end);
    holding_lines = true;
    log_hold_lines(true);
}

static void on_retry(uv_timer_t *timer);

static void arm_retry(void)
{
    if (!timer_ready || timer_armed)
        return;
    timer_armed = true;
    uv_timer_start(&retry_timer, on_retry, LOG_RETRY_MS, 0);
}

static void on_retry(uv_timer_t *timer)
{
    (void)timer;
    timer_armed = false;
    if (log_flush())
        arm_retry();
}

void host_log_start(uv_loop_t *loop)
{
    if (log_output_is_regular_file()) {
        hold_lines_per_turn(loop);
        return; /* written blocking, and a file never makes a writer wait */
    }
    if (log_use_nonblocking_output() != 0) {
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
                  "log output: cannot write stderr without blocking (no reader, or /proc not "
                  "mounted); a reader that stops reading will stall the host");
        return;
    }
    uv_timer_init(loop, &retry_timer);
    uv_unref((uv_handle_t *)&retry_timer);
    timer_ready = true;
    log_set_backlog_callback(arm_retry);
}

static long long monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void host_log_finish(uv_loop_t *loop)
{
    if (holding_lines) {
        log_hold_lines(false);
        uv_close((uv_handle_t *)&turn_end, NULL);
        uv_run(loop, UV_RUN_NOWAIT); /* its close callback */
        holding_lines = false;
    }
    log_set_backlog_callback(NULL);
    if (timer_ready) {
        uv_close((uv_handle_t *)&retry_timer, NULL);
        uv_run(loop, UV_RUN_NOWAIT); /* its close callback */
        timer_ready = timer_armed = false;
    }
    long long deadline = monotonic_ms() + LOG_DRAIN_MS;
    while (log_flush()) {
        long long left = deadline - monotonic_ms();
        if (left <= 0)
            break;
        /* The log's own descriptor is not known here; a short sleep keeps
         * this simple and bounded. */
        poll(NULL, 0, left < LOG_RETRY_MS ? (int)left : LOG_RETRY_MS);
    }
}
