/*
 * The metrics HTTP endpoint (see metrics_http.h): libmicrohttpd's thread
 * on one side, the loop on the other, a mutex-guarded snapshot between.
 */
#include "metrics_http.h"

#include <stdlib.h>
#include <string.h>

#include "listen_address.h"
#include "log.h"
#include "monotonic_deadline.h"

#ifndef DYNSUP_HAVE_MICROHTTPD

bool metrics_http_built(void)
{
    return false;
}

int metrics_http_start(uv_loop_t *loop, const char *address, metrics_render_fn *render,
                       void *context, struct metrics_http **out, struct error_list *errors)
{
    (void)loop, (void)render, (void)context, (void)errors;
    *out = NULL;
    log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
              "metrics_listen = %s: this dynsup-host was built without libmicrohttpd, so there is "
              "no HTTP endpoint (dynsup-host metrics still works)",
              address);
    return 0;
}

void metrics_http_stop(struct metrics_http *http)
{
    (void)http;
}

#else

#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

/*
 * libmicrohttpd is opened when an endpoint is asked for, not linked into
 * dynsup-host: the spawners are exec'ed from that binary, so whatever it
 * links (here GnuTLS and p11-kit, whose fork handlers run in every child)
 * would be in every spawner and every worker it forks, slowing every
 * start (measured: start p50 0.36-0.43 ms lean against 0.55-0.74 ms
 * linked, tools/bench --quick).
 */
static struct {
    bool loaded;
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
} mhd;

static int load_microhttpd(const char *address, struct error_list *errors)
{
    if (mhd.loaded)
        return 0;
    void *library = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        error_list_add(errors, "metrics_listen %s: cannot load libmicrohttpd: %s", address,
                       dlerror());
        return -1;
    }
    *(void **)&mhd.start_daemon = dlsym(library, "MHD_start_daemon");
    *(void **)&mhd.stop_daemon = dlsym(library, "MHD_stop_daemon");
    *(void **)&mhd.create_response_from_buffer = dlsym(library, "MHD_create_response_from_buffer");
    *(void **)&mhd.add_response_header = dlsym(library, "MHD_add_response_header");
    *(void **)&mhd.queue_response = dlsym(library, "MHD_queue_response");
    *(void **)&mhd.destroy_response = dlsym(library, "MHD_destroy_response");
    if (!mhd.start_daemon || !mhd.stop_daemon || !mhd.create_response_from_buffer ||
        !mhd.add_response_header || !mhd.queue_response || !mhd.destroy_response) {
        error_list_add(errors, "metrics_listen %s: libmicrohttpd lacks a function dynsup uses",
                       address);
        dlclose(library);
        return -1;
    }
    mhd.loaded = true;
    return 0;
}

/* How long a scrape waits for the loop before it gets the last copy. */
#define LOOP_ANSWER_TIMEOUT_MS 2000

struct metrics_http {
    struct MHD_Daemon *daemon;
    uv_async_t wake_loop;           /* the scrape thread's "render now, please" */
    metrics_render_fn *render;
    void *context;

    /* Shared with the scrape thread, under `lock`. */
    pthread_mutex_t lock;
    pthread_cond_t published;
    char *snapshot;                 /* the last text the loop rendered, or NULL */
    size_t snapshot_length;
    uint64_t wanted;                /* scrapes asked for so far */
    uint64_t served;                /* the `wanted` the snapshot answers */
    bool closing;
};

bool metrics_http_built(void)
{
    return true;
}

/* On the loop: render, publish, wake the waiting scrapes. */
static void on_wake_loop(uv_async_t *handle)
{
    struct metrics_http *http = handle->data;
    pthread_mutex_lock(&http->lock);
    uint64_t answering = http->wanted;
    pthread_mutex_unlock(&http->lock);

    char *text = http->render(http->context);

    pthread_mutex_lock(&http->lock);
    if (text) {
        free(http->snapshot);
        http->snapshot = text;
        http->snapshot_length = strlen(text);
    }
    http->served = answering;
    pthread_cond_broadcast(&http->published);
    pthread_mutex_unlock(&http->lock);
}

static enum MHD_Result answer(struct MHD_Connection *connection, unsigned status, char *body,
                              size_t length, const char *type)
{
    struct MHD_Response *response =
        mhd.create_response_from_buffer(length, body, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free(body);
        return MHD_NO;
    }
    mhd.add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result result = mhd.queue_response(connection, status, response);
    mhd.destroy_response(response);
    return result;
}

static enum MHD_Result plain(struct MHD_Connection *connection, unsigned status, const char *text)
{
    char *body = strdup(text);
    return body ? answer(connection, status, body, strlen(body), "text/plain; charset=utf-8") : MHD_NO;
}

/* On the scrape thread: ask the loop for a fresh text and wait for it. */
static char *fresh_snapshot(struct metrics_http *http, size_t *length)
{
    struct timespec deadline = monotonic_deadline_after_ms(LOOP_ANSWER_TIMEOUT_MS);
    pthread_mutex_lock(&http->lock);
    uint64_t mine = ++http->wanted;
    uv_async_send(&http->wake_loop);
    while (http->served < mine && !http->closing &&
           pthread_cond_timedwait(&http->published, &http->lock, &deadline) != ETIMEDOUT) {
    }
    char *copy = http->snapshot ? malloc(http->snapshot_length + 1) : NULL;
    if (copy) {
        memcpy(copy, http->snapshot, http->snapshot_length + 1);
        *length = http->snapshot_length;
    }
    pthread_mutex_unlock(&http->lock);
    return copy;
}

static enum MHD_Result on_request(void *context, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_context)
{
    (void)version, (void)upload_data, (void)upload_data_size, (void)request_context;
    struct metrics_http *http = context;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return plain(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n");
    if (strcmp(url, "/metrics") != 0)
        return plain(connection, MHD_HTTP_NOT_FOUND, "dynsup-host serves /metrics only\n");
    size_t length = 0;
    char *text = fresh_snapshot(http, &length);
    if (!text)
        return plain(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "no metrics yet\n");
    return answer(connection, MHD_HTTP_OK, text, length, "text/plain; version=0.0.4; charset=utf-8");
}

static void on_wake_loop_closed(uv_handle_t *handle)
{
    struct metrics_http *http = handle->data;
    pthread_cond_destroy(&http->published);
    pthread_mutex_destroy(&http->lock);
    free(http->snapshot);
    free(http);
}

int metrics_http_start(uv_loop_t *loop, const char *address, metrics_render_fn *render,
                       void *context, struct metrics_http **out, struct error_list *errors)
{
    *out = NULL;
    struct sockaddr_storage socket_address;
    socklen_t socket_length;
    char problem[160];
    if (listen_address_parse(address, &socket_address, &socket_length, problem, sizeof problem) < 0) {
        error_list_add(errors, "metrics_listen %s: %s", address, problem);
        return -1;
    }
    if (load_microhttpd(address, errors) != 0)
        return -1;
    struct metrics_http *http = calloc(1, sizeof *http);
    if (!http) {
        error_list_add(errors, "metrics_listen %s: out of memory", address);
        return -1;
    }
    http->render = render;
    http->context = context;
    pthread_mutex_init(&http->lock, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&http->published, &attributes);
    pthread_condattr_destroy(&attributes);

    uv_async_init(loop, &http->wake_loop, on_wake_loop);
    http->wake_loop.data = http;

    /* The server's thread takes the mask it is created with: every signal
     * blocked, so the host's signals (SIGCHLD, SIGTERM, events) all reach
     * the loop's thread. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (socket_address.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = socket_address.ss_family == AF_INET6
                        ? ntohs(((struct sockaddr_in6 *)&socket_address)->sin6_port)
                        : ntohs(((struct sockaddr_in *)&socket_address)->sin_port);
    errno = 0;
    http->daemon = mhd.start_daemon(flags, port, NULL, NULL, on_request, http,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&socket_address,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_END);
    int start_errno = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (!http->daemon) {
        error_list_add(errors, "metrics_listen %s: cannot listen%s%s", address,
                       start_errno ? ": " : "", start_errno ? strerror(start_errno) : "");
        uv_close((uv_handle_t *)&http->wake_loop, on_wake_loop_closed);
        return -1;
    }
    log_event(DYNSUP_LOG_INFO, NULL, NULL, 0, "metrics on http://%s/metrics", address);
    *out = http;
    return 0;
}

void metrics_http_stop(struct metrics_http *http)
{
    if (!http)
        return;
    /* Waiting scrapes return at once: the loop that would answer them is
     * the one stopping the thread. */
    pthread_mutex_lock(&http->lock);
    http->closing = true;
    pthread_cond_broadcast(&http->published);
    pthread_mutex_unlock(&http->lock);
    mhd.stop_daemon(http->daemon);
    uv_close((uv_handle_t *)&http->wake_loop, on_wake_loop_closed);
}

#endif
