/*
 * One bounded HTTP GET with libcurl, for the rules document.
 *
 * Bounds: http and https only (also for redirects), at most
 * `max_redirects` redirects, a connect and a total timeout, a body cap
 * enforced while receiving (and up front when Content-Length announces
 * more), TLS verification as libcurl's defaults (peer and host name).
 *
 * Stopping: the transfer runs on a curl multi handle polled in slices of
 * at most FETCH_POLL_SLICE_MS; between slices `should_stop` is asked, so a
 * stop request ends the transfer within that slice. (libcurl's progress
 * callback would be simpler but is called only about once per second while
 * a transfer is idle, which is the whole of our 1 s budget.)
 */
#ifndef AUTH_LOADER_FETCH_H
#define AUTH_LOADER_FETCH_H

#include <stddef.h>

#include "error.h"

#define FETCH_POLL_SLICE_MS 100

enum fetch_status {
    FETCH_OK,                 /* 200 with a body within the cap */
    FETCH_NOT_MODIFIED,       /* 304: the validators still match */
    FETCH_CONNECT_FAILED,     /* connection refused, unreachable, DNS failure */
    FETCH_TIMEOUT,            /* connect or total timeout */
    FETCH_HTTP_STATUS,        /* any status but 200 and 304 */
    FETCH_TOO_LARGE,          /* body (announced or received) over max_bytes */
    FETCH_TOO_MANY_REDIRECTS,
    FETCH_STOPPED,            /* should_stop answered 1 */
    FETCH_FAILED,             /* anything else: TLS, refused protocol, ... */
};

/* Everything is borrowed for the duration of fetch_rules(). */
struct fetch_request {
    const char *url;
    long connect_timeout_ms;
    long total_timeout_ms;
    size_t max_bytes;
    long max_redirects;
    const char *if_none_match;       /* sent as If-None-Match when not NULL */
    const char *if_modified_since;   /* sent as If-Modified-Since when not NULL */
    const char *user_agent;          /* may be NULL */
    int (*should_stop)(void *context); /* may be NULL */
    void *stop_context;
    /* May be NULL: called with each piece of a 200's body as it arrives,
     * so the caller can look at it while the rest is on its way. */
    void (*on_body)(void *context, const char *bytes, size_t length);
    void *body_context;
};

/* Filled by fetch_rules(); every pointer is heap memory owned by the
 * struct (NULL when absent), freed by fetch_response_clear(). */
struct fetch_response {
    long http_status;       /* of the last response; 0 if none arrived */
    char *body;             /* FETCH_OK only; exactly the bytes received, plus a NUL */
    size_t body_length;
    char *etag;             /* the response's ETag header, verbatim */
    char *last_modified;    /* the response's Last-Modified header, verbatim */
};

/* Call curl_global_init() before the first fetch. The response must be
 * zeroed. On anything but FETCH_OK / FETCH_NOT_MODIFIED err holds one
 * line naming the cause ("connection refused", "timeout after 2000 ms",
 * "HTTP status 500", "body exceeds 1048576 bytes", ...). */
enum fetch_status fetch_rules(const struct fetch_request *request,
                              struct fetch_response *response, struct loader_error *err);

void fetch_response_clear(struct fetch_response *response);

#endif
