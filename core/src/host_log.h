/*
 * The host's log output through its loop (host_log.c): from host_log_start
 * on, log lines never wait for a slow reader of stderr; what waits is
 * written out from a timer while the loop runs, and host_log_finish makes
 * one last bounded attempt after it stopped.
 */
#ifndef DYNSUP_HOST_LOG_H
#define DYNSUP_HOST_LOG_H

#include <uv.h>

void host_log_start(uv_loop_t *loop);
/* After the loop ran to its end and before uv_loop_close. */
void host_log_finish(uv_loop_t *loop);

#endif
