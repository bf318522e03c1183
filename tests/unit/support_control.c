/*
 * The fixture of the control socket server tests. See support_control.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "log.h"

#include "support_control.h"

/* ---- the fake host ----------------------------------------------------- */

char *echo_line(const char *event, size_t padding)
{
    char *pad = malloc(padding + 1);
    memset(pad, 'x', padding);
    pad[padding] = '\0';
    char *line = NULL;
    assert_true(asprintf(&line, "{\"result\":\"ok\",\"echo\":\"%s\"%s%s%s}\n", event,
                         padding ? ",\"pad\":\"" : "", pad, padding ? "\"" : "") > 0);
    free(pad);
    return line;
}

void answer_deferred_in_reverse(struct fixture *f)
{
    while (f->deferred_count > 0) {
        uint64_t token = f->deferred[--f->deferred_count];
        char event[32];
        snprintf(event, sizeof event, "token_%llu", (unsigned long long)token);
        control_reply(f->server, token, echo_line(event, 0));
    }
}

static void on_deferred_timer(uv_timer_t *timer)
{
    answer_deferred_in_reverse(timer->data);
}

/* A request that keeps the loop busy, as a costly answer does. */
static void work_for_ms(long milliseconds)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L <
           milliseconds);
}

static void on_request(void *context, const struct request *request, uint64_t token)
{
    struct fixture *f = context;
    assert_true(token > f->last_token); /* never 0, never reused */
    f->last_token = token;
    f->requests_seen++;
    if (request->cmd != CMD_EMIT) {
        control_reply(f->server, token, strdup("{\"result\":\"ok\"}\n"));
    } else if (strncmp(request->event, "now_", 4) == 0) {
        control_reply(f->server, token, echo_line(request->event, 0));
    } else if (strncmp(request->event, "big_", 4) == 0) {
        control_reply(f->server, token, echo_line(request->event, BIG_ANSWER_SIZE));
    } else if (strncmp(request->event, "slow_", 5) == 0) {
        work_for_ms(SLOW_REQUEST_MS);
        assert_true(f->slow_count < SLOW_ORDER_MAX);
        f->slow_order[f->slow_count++] = (unsigned)strtoul(request->event + 5, NULL, 10);
        control_reply(f->server, token, echo_line(request->event, 0));
    } else {
        if (f->deferred_count == f->deferred_capacity) {
            f->deferred_capacity = f->deferred_capacity ? f->deferred_capacity * 2 : 64;
            f->deferred = realloc(f->deferred, f->deferred_capacity * sizeof *f->deferred);
        }
        f->deferred[f->deferred_count++] = token;
        if (f->answer_deferred_from_timer)
            uv_timer_start(&f->deferred_timer, on_deferred_timer, 0, 0);
    }
}

/* The deferred answer for the n-th token handed out (tokens count from 1). */
char *deferred_echo(uint64_t token)
{
    char event[32];
    snprintf(event, sizeof event, "token_%llu", (unsigned long long)token);
    return echo_line(event, 0);
}

/* ---- loop and clients -------------------------------------------------- */

void start_waiting(struct fixture *f)
{
    clock_gettime(CLOCK_MONOTONIC, &f->deadline);
    f->deadline.tv_sec += WAIT_LIMIT_MS / 1000;
}

static int ms_left(const struct fixture *f)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long left = (f->deadline.tv_sec - now.tv_sec) * 1000LL +
                     (f->deadline.tv_nsec - now.tv_nsec) / 1000000LL;
    return left > 0 ? (int)left : 0;
}

/* Waits for `fd` (if >= 0) to be ready for `events` or for the loop to
 * have work, then runs the loop once. */
void pump(struct fixture *f, int fd, short events)
{
    int left = ms_left(f);
    if (left == 0)
        fail_msg("timed out waiting for the server");
    int timeout = uv_backend_timeout(&f->loop);
    if (timeout < 0 || timeout > left)
        timeout = left;
    struct pollfd fds[2] = {{.fd = uv_backend_fd(&f->loop), .events = POLLIN},
                            {.fd = fd, .events = events}};
    poll(fds, fd >= 0 ? 2 : 1, timeout);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* Runs the loop until it has nothing ready right now. */
void settle(struct fixture *f)
{
    for (int i = 0; i < 8; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
}

struct client client_connect(struct fixture *f)
{
    struct client c = {.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)};
    assert_true(c.fd >= 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, f->path);
    assert_int_equal(connect(c.fd, (struct sockaddr *)&address, sizeof address), 0);
    return c;
}

void client_send(struct fixture *f, struct client *c, const char *data, size_t length)
{
    start_waiting(f);
    while (length > 0) {
        ssize_t written = write(c->fd, data, length);
        if (written > 0) {
            data += written;
            length -= (size_t)written;
        } else {
            assert_true(written < 0 && errno == EAGAIN);
            pump(f, c->fd, POLLOUT);
        }
    }
}

void client_send_text(struct fixture *f, struct client *c, const char *text)
{
    client_send(f, c, text, strlen(text));
}

/* The next line the server sent (malloc'd, with its '\n'), or NULL at EOF. */
static char *client_line(struct fixture *f, struct client *c)
{
    start_waiting(f);
    for (;;) {
        char *newline = c->length > 0 ? memchr(c->input, '\n', c->length) : NULL;
        if (newline) {
            size_t size = (size_t)(newline - c->input) + 1;
            char *line = strndup(c->input, size);
            memmove(c->input, c->input + size, c->length - size);
            c->length -= size;
            return line;
        }
        if (c->eof)
            return NULL;
        if (c->capacity - c->length < 65536) {
            c->capacity = c->capacity * 2 + 65536;
            c->input = realloc(c->input, c->capacity);
        }
        ssize_t got = read(c->fd, c->input + c->length, c->capacity - c->length);
        if (got > 0)
            c->length += (size_t)got;
        else if (got == 0)
            c->eof = true;
        else if (errno == EAGAIN)
            pump(f, c->fd, POLLIN);
        else
            fail_msg("client read: %s", strerror(errno));
    }
}

void expect_line(struct fixture *f, struct client *c, char *expected)
{
    char *line = client_line(f, c);
    assert_non_null(line);
    assert_string_equal(line, expected);
    free(line);
    free(expected);
}

void expect_bad_request(struct fixture *f, struct client *c, const char *detail_part)
{
    char *line = client_line(f, c);
    assert_non_null(line);
    assert_non_null(strstr(line, "\"error\":\"bad_request\""));
    assert_non_null(strstr(line, detail_part));
    free(line);
}

void expect_eof(struct fixture *f, struct client *c)
{
    char *line = client_line(f, c);
    if (line)
        fail_msg("expected EOF, got %s", line);
}

void client_close(struct client *c)
{
    close(c->fd);
    free(c->input);
}

void wait_for_requests(struct fixture *f, unsigned count)
{
    start_waiting(f);
    while (f->requests_seen < count)
        pump(f, -1, 0);
}

void wait_for_connections(struct fixture *f, unsigned count)
{
    start_waiting(f);
    while (control_server_connection_count(f->server) != count)
        pump(f, -1, 0);
}

/* ---- fixture ----------------------------------------------------------- */

int start_server_with(struct fixture *f, const struct control_access *access,
                             struct control_server **server, struct error_list *errors)
{
    struct control_callbacks callbacks = {.on_request = on_request};
    return control_server_start(&f->loop, f->path, access, &callbacks, f, server, errors);
}

void start_server(struct fixture *f, const struct control_access *access)
{
    struct error_list errors;
    error_list_init(&errors);
    int status = start_server_with(f, access, &f->server, &errors);
    if (status != 0)
        fail_msg("start failed: %s", errors.count ? errors.messages[0] : "?");
    error_list_free(&errors);
}

int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->deferred_timer);
    f->deferred_timer.data = f;
    f->answer_deferred_from_timer = true;
    strcpy(f->dir, "/tmp/dynsup-control-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/control.sock", f->dir);
    *state = f;
    return 0;
}

void on_server_closed(void *context)
{
    ((struct fixture *)context)->closed = true;
}

void wait_until_closed(struct fixture *f)
{
    f->server = NULL;
    start_waiting(f);
    while (!f->closed)
        pump(f, -1, 0);
}

static void close_server(struct fixture *f)
{
    control_server_close(f->server, on_server_closed, f);
    wait_until_closed(f);
}

int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->server)
        close_server(f);
    uv_close((uv_handle_t *)&f->deferred_timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle was closed */
    unlink(f->path);
    assert_int_equal(rmdir(f->dir), 0);
    free(f->deferred);
    free(f);
    return 0;
}
