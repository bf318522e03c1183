/*
 * The metrics over HTTP ([host] metrics_listen), served by libmicrohttpd
 * in its own thread. That thread never touches the loop's data: for each
 * scrape it wakes the loop (uv_async_send), the loop renders the text and
 * publishes it under a mutex, and the thread serves that copy. So the
 * figures are fresh at every scrape, and an idle host has no timer and no
 * wake-up at all. A loop that does not answer within 2 s gets the last
 * published copy served (or 503 before the first).
 *
 * Built without libmicrohttpd, metrics_http_start logs that the endpoint is
 * not built and returns 0: the host runs on.
 */
#ifndef DYNSUP_METRICS_HTTP_H
#define DYNSUP_METRICS_HTTP_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"

struct metrics_http;

/* On the loop's thread: the current metrics text, malloc'd, or NULL. */
typedef char *metrics_render_fn(void *context);

bool metrics_http_built(void);

/* Listens on `address` (listen_address.h). Returns 0 with *out set (NULL
 * when not built), or -1 with the reason in `errors`. Start it after the
 * spawners are forked: it starts a thread. */
int metrics_http_start(uv_loop_t *loop, const char *address, metrics_render_fn *render,
                       void *context, struct metrics_http **out, struct error_list *errors);

/* Stops the thread, then closes the loop handle (freed in its close
 * callback). NULL is fine. */
void metrics_http_stop(struct metrics_http *http);

#endif
