#include "fetch.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <curl/curl.h>

/* What the write callback needs; lives on fetch_rules' stack. */
struct receive_state {
    CURL *easy;
    size_t max_bytes;
    char *body;
    size_t length;
    size_t capacity;
    int too_large;        /* aborted: the body went over max_bytes */
    long refused_status;  /* aborted: the response was not a 200 */
    int out_of_memory;
    const struct fetch_request *request; /* for on_body */
};

/* Faults in the whole pages of a fresh block (a hint: fine if refused). */
static void populate(char *block, size_t size)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = ((uintptr_t)block + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)block + size) & ~(page - 1);
    if (end > first)
        madvise((void *)first, end - first, MADV_POPULATE_WRITE);
#else
    (void)block;
    (void)size;
#endif
}

/* Appends received bytes, refusing to go over the cap: returning less
 * than given makes libcurl abort the transfer with CURLE_WRITE_ERROR, so
 * an endless body costs at most max_bytes of memory. A non-200 body is
 * not wanted at all: the status is enough to report. */
static size_t receive_body(char *data, size_t size, size_t count, void *user)
{
    struct receive_state *state = user;
    size_t incoming = size * count;
    long status = 0;
    curl_easy_getinfo(state->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        state->refused_status = status;
        return 0;
    }
    if (incoming > state->max_bytes - state->length) {
        state->too_large = 1;
        return 0;
    }
    size_t needed = state->length + incoming + 1; /* + NUL for convenience */
    if (needed > state->capacity) {
        size_t capacity = state->capacity ? state->capacity : 16384;
        while (capacity < needed)
            capacity *= 2;
        /* The whole announced body at once (bounded by max_bytes, which
         * the announcement was already checked against): no regrowing,
         * and its pages faulted in by one call instead of one fault per
         * page, which is most of a fresh worker's cost here. */
        curl_off_t announced = -1;
        if (state->capacity == 0 &&
            curl_easy_getinfo(state->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) ==
                CURLE_OK &&
            announced > 0 && (curl_off_t)needed <= announced + 1 &&
            (uint64_t)announced <= state->max_bytes)
            capacity = (size_t)announced + 1;
        char *grown = realloc(state->body, capacity);
        if (grown == NULL) {
            state->out_of_memory = 1;
            return 0;
        }
        state->body = grown;
        if (state->capacity == 0)
            populate(grown, capacity);
        state->capacity = capacity;
    }
    memcpy(state->body + state->length, data, incoming);
    state->length += incoming;
    state->body[state->length] = '\0';
    if (state->request->on_body != NULL)
        state->request->on_body(state->request->body_context, data, incoming);
    return incoming;
}

/* A copy of the last response's header `name`, or NULL. libcurl's header
 * API already picks the final response of a redirect chain. */
static char *copy_response_header(CURL *easy, const char *name)
{
    struct curl_header *header = NULL;
    if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK)
        return NULL;
    return strdup(header->value);
}

/* A validator read back from our meta file goes into a request header:
 * refuse one that would split the header. */
static int header_value_is_safe(const char *value)
{
    return value != NULL && *value != '\0' && strpbrk(value, "\r\n") == NULL;
}

static int add_validator(struct curl_slist **headers, const char *name, const char *value)
{
    if (!header_value_is_safe(value))
        return 0;
    char line[1024];
    int written = snprintf(line, sizeof line, "%s: %s", name, value);
    if (written < 0 || (size_t)written >= sizeof line)
        return 0; /* absurdly long: send the request unconditionally */
    struct curl_slist *grown = curl_slist_append(*headers, line);
    if (grown == NULL)
        return -1;
    *headers = grown;
    return 0;
}

static int configure(CURL *easy, const struct fetch_request *request,
                     struct receive_state *state, struct curl_slist *headers, char *curl_message)
{
    CURLcode rc = CURLE_OK;
#define SET(option, value) \
    do { if (rc == CURLE_OK) rc = curl_easy_setopt(easy, option, value); } while (0)
    SET(CURLOPT_URL, request->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, request->max_redirects);
    SET(CURLOPT_CONNECTTIMEOUT_MS, request->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, request->total_timeout_ms);
    /* Refused before the body when Content-Length announces more. */
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)request->max_bytes);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    /* No SIGALRM-based DNS timeouts in a worker whose signals matter. */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_WRITEFUNCTION, receive_body);
    SET(CURLOPT_WRITEDATA, state);
    SET(CURLOPT_ERRORBUFFER, curl_message);
    SET(CURLOPT_HTTPHEADER, headers);
    if (request->user_agent)
        SET(CURLOPT_USERAGENT, request->user_agent);
#undef SET
    return rc == CURLE_OK ? 0 : -1;
}

/* Drives the transfer in short poll slices, asking should_stop between
 * them. Returns 1 when stopped, 0 when the transfer finished (*result
 * set), -1 on a multi-interface failure (err set). */
static int run_transfer(CURL *easy, const struct fetch_request *request, CURLcode *result,
                        struct loader_error *err)
{
    CURLM *multi = curl_multi_init();
    if (multi == NULL || curl_multi_add_handle(multi, easy) != CURLM_OK) {
        loader_error_set(err, "cannot set up the transfer (libcurl multi handle)");
        if (multi)
            curl_multi_cleanup(multi);
        return -1;
    }
    int outcome = 0;
    int running = 1;
    for (;;) {
        if (request->should_stop && request->should_stop(request->stop_context)) {
            outcome = 1;
            break;
        }
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc == CURLM_OK && running)
            mc = curl_multi_poll(multi, NULL, 0, FETCH_POLL_SLICE_MS, NULL);
        if (mc != CURLM_OK) {
            loader_error_set(err, "transfer failed: %s", curl_multi_strerror(mc));
            outcome = -1;
            break;
        }
        if (!running) {
            int queued = 0;
            CURLMsg *message = curl_multi_info_read(multi, &queued);
            *result = message && message->msg == CURLMSG_DONE ? message->data.result
                                                               : CURLE_RECV_ERROR;
            break;
        }
    }
    curl_multi_remove_handle(multi, easy);
    curl_multi_cleanup(multi);
    return outcome;
}

/* Maps a finished transfer that libcurl reports as failed to our
 * status and one readable cause. */
static enum fetch_status classify_failure(CURL *easy, CURLcode result,
                                          const struct fetch_request *request,
                                          const struct receive_state *state,
                                          const char *curl_message, struct loader_error *err)
{
    const char *detail = curl_message[0] ? curl_message : curl_easy_strerror(result);
    if (state->refused_status != 0) {
        loader_error_set(err, "HTTP status %ld", state->refused_status);
        return FETCH_HTTP_STATUS;
    }
    if (state->too_large || result == CURLE_FILESIZE_EXCEEDED) {
        loader_error_set(err, "body exceeds %zu bytes%s", request->max_bytes,
                         state->too_large ? "" : " (announced by Content-Length)");
        return FETCH_TOO_LARGE;
    }
    if (state->out_of_memory) {
        loader_error_set(err, "out of memory while receiving the body");
        return FETCH_FAILED;
    }
    switch (result) {
    case CURLE_COULDNT_CONNECT: {
        long os_error = 0;
        curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_error);
        if (os_error == ECONNREFUSED)
            loader_error_set(err, "connection refused");
        else
            loader_error_set(err, "cannot connect: %s", detail);
        return FETCH_CONNECT_FAILED;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        loader_error_set(err, "cannot resolve host: %s", detail);
        return FETCH_CONNECT_FAILED;
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected_after = 0;
        curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connected_after);
        if (connected_after == 0)
            loader_error_set(err, "connect timeout after %ld ms", request->connect_timeout_ms);
        else
            loader_error_set(err, "timeout after %ld ms", request->total_timeout_ms);
        return FETCH_TIMEOUT;
    }
    case CURLE_TOO_MANY_REDIRECTS:
        loader_error_set(err, "too many redirects (more than %ld)", request->max_redirects);
        return FETCH_TOO_MANY_REDIRECTS;
    case CURLE_PEER_FAILED_VERIFICATION:
        loader_error_set(err, "TLS certificate not accepted: %s", detail);
        return FETCH_FAILED;
    case CURLE_SSL_CONNECT_ERROR:
        loader_error_set(err, "TLS handshake failed: %s", detail);
        return FETCH_FAILED;
    case CURLE_UNSUPPORTED_PROTOCOL:
        loader_error_set(err, "refused a non-http(s) URL: %s", detail);
        return FETCH_FAILED;
    default:
        loader_error_set(err, "%s", detail);
        return FETCH_FAILED;
    }
}

enum fetch_status fetch_rules(const struct fetch_request *request,
                              struct fetch_response *response, struct loader_error *err)
{
    char curl_message[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    struct receive_state state = {.max_bytes = request->max_bytes, .request = request};
    enum fetch_status status = FETCH_FAILED;

    CURL *easy = curl_easy_init();
    if (easy == NULL) {
        loader_error_set(err, "cannot set up the transfer (libcurl easy handle)");
        return FETCH_FAILED;
    }
    state.easy = easy;
    if (add_validator(&headers, "If-None-Match", request->if_none_match) != 0 ||
        add_validator(&headers, "If-Modified-Since", request->if_modified_since) != 0 ||
        configure(easy, request, &state, headers, curl_message) != 0) {
        loader_error_set(err, "cannot set up the transfer (libcurl options)");
        goto done;
    }

    CURLcode result = CURLE_OK;
    int outcome = run_transfer(easy, request, &result, err);
    if (outcome == 1) {
        loader_error_set(err, "stopped by supervisor");
        status = FETCH_STOPPED;
        goto done;
    }
    if (outcome < 0)
        goto done;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response->http_status);
    if (result != CURLE_OK) {
        status = classify_failure(easy, result, request, &state, curl_message, err);
        goto done;
    }
    if (response->http_status != 200 && response->http_status != 304) {
        /* e.g. a 500 or 404 with an empty body, never seen by receive_body */
        loader_error_set(err, "HTTP status %ld", response->http_status);
        status = FETCH_HTTP_STATUS;
        goto done;
    }
    response->etag = copy_response_header(easy, "ETag");
    response->last_modified = copy_response_header(easy, "Last-Modified");
    if (response->http_status == 304) {
        status = FETCH_NOT_MODIFIED;
        goto done;
    }
    if (state.body == NULL) { /* an empty 200: keep "body is a string" true */
        state.body = calloc(1, 1);
        if (state.body == NULL) {
            loader_error_set(err, "out of memory");
            goto done;
        }
    }
    response->body = state.body;
    response->body_length = state.length;
    state.body = NULL;
    status = FETCH_OK;

done:
    free(state.body);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    return status;
}

void fetch_response_clear(struct fetch_response *response)
{
    free(response->body);
    free(response->etag);
    free(response->last_modified);
    *response = (struct fetch_response){0};
}
