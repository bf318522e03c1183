/*
 * The control socket server against real sockets: a real libuv loop runs
 * the server on a temporary path; the test's clients are plain
 * nonblocking sockets. Waiting is poll(2) on the client and the loop's
 * backend descriptor (never a sleep), bounded by a deadline.
 *
 * The fake host answers {"cmd":"emit","event":"now_N"} at once, from
 * inside on_request, defers "later_N" (answered in reverse order from a
 * 0 ms timer, unless a test answers them itself) and answers "big_N" with
 * a 64 KiB line.
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

#define WAIT_LIMIT_MS 20000
#define BIG_ANSWER_SIZE (64 * 1024)

struct fixture {
    uv_loop_t loop;
    char dir[64];
    char path[128];
    struct control_server *server;
    uv_timer_t deferred_timer;
    bool answer_deferred_from_timer;
    uint64_t *deferred;
    size_t deferred_count, deferred_capacity;
    unsigned requests_seen;
    uint64_t last_token;
    bool closed;
    struct timespec deadline;
};

struct client {
    int fd;
    char *input;
    size_t length, capacity;
    bool eof;
};

/* ---- the fake host ----------------------------------------------------- */

static char *echo_line(const char *event, size_t padding)
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

static void answer_deferred_in_reverse(struct fixture *f)
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
static char *deferred_echo(uint64_t token)
{
    char event[32];
    snprintf(event, sizeof event, "token_%llu", (unsigned long long)token);
    return echo_line(event, 0);
}

/* ---- loop and clients -------------------------------------------------- */

static void start_waiting(struct fixture *f)
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
static void pump(struct fixture *f, int fd, short events)
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
static void settle(struct fixture *f)
{
    for (int i = 0; i < 8; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
}

static struct client client_connect(struct fixture *f)
{
    struct client c = {.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)};
    assert_true(c.fd >= 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, f->path);
    assert_int_equal(connect(c.fd, (struct sockaddr *)&address, sizeof address), 0);
    return c;
}

static void client_send(struct fixture *f, struct client *c, const char *data, size_t length)
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

static void client_send_text(struct fixture *f, struct client *c, const char *text)
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

static void expect_line(struct fixture *f, struct client *c, char *expected)
{
    char *line = client_line(f, c);
    assert_non_null(line);
    assert_string_equal(line, expected);
    free(line);
    free(expected);
}

static void expect_bad_request(struct fixture *f, struct client *c, const char *detail_part)
{
    char *line = client_line(f, c);
    assert_non_null(line);
    assert_non_null(strstr(line, "\"error\":\"bad_request\""));
    assert_non_null(strstr(line, detail_part));
    free(line);
}

static void expect_eof(struct fixture *f, struct client *c)
{
    char *line = client_line(f, c);
    if (line)
        fail_msg("expected EOF, got %s", line);
}

static void client_close(struct client *c)
{
    close(c->fd);
    free(c->input);
}

static void wait_for_requests(struct fixture *f, unsigned count)
{
    start_waiting(f);
    while (f->requests_seen < count)
        pump(f, -1, 0);
}

static void wait_for_connections(struct fixture *f, unsigned count)
{
    start_waiting(f);
    while (control_server_connection_count(f->server) != count)
        pump(f, -1, 0);
}

/* ---- fixture ----------------------------------------------------------- */

static int start_server_with(struct fixture *f, const struct control_access *access,
                             struct control_server **server, struct error_list *errors)
{
    struct control_callbacks callbacks = {.on_request = on_request};
    return control_server_start(&f->loop, f->path, access, &callbacks, f, server, errors);
}

static void start_server(struct fixture *f, const struct control_access *access)
{
    struct error_list errors;
    error_list_init(&errors);
    int status = start_server_with(f, access, &f->server, &errors);
    if (status != 0)
        fail_msg("start failed: %s", errors.count ? errors.messages[0] : "?");
    error_list_free(&errors);
}

static int setup(void **state)
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

static void on_server_closed(void *context)
{
    ((struct fixture *)context)->closed = true;
}

static void wait_until_closed(struct fixture *f)
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

static int teardown(void **state)
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

#define EMIT(event) "{\"cmd\":\"emit\",\"event\":\"" event "\"}\n"

/* ---- socket file ------------------------------------------------------- */

static void test_socket_is_created_with_mode_0600(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct stat status;
    assert_int_equal(lstat(f->path, &status), 0);
    assert_true(S_ISSOCK(status.st_mode));
    assert_int_equal(status.st_mode & 07777, 0600);
}

static void test_socket_with_allowed_group_is_mode_0660_in_that_group(void **state)
{
    struct fixture *f = *state;
    struct control_access access = {.has_allow_group = 1, .allow_gid = getegid()};
    start_server(f, &access);
    struct stat status;
    assert_int_equal(lstat(f->path, &status), 0);
    assert_int_equal(status.st_mode & 07777, 0660);
    assert_int_equal(status.st_gid, getegid());
}

static void test_second_server_on_a_live_socket_is_refused(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct control_server *second = NULL;
    struct error_list errors;
    error_list_init(&errors);
    assert_int_equal(start_server_with(f, NULL, &second, &errors), -1);
    assert_null(second);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.messages[0], "another dynsup-host is already listening on"));
    assert_non_null(strstr(errors.messages[0], f->path));
    error_list_free(&errors);

    struct client c = client_connect(f); /* the first one still serves */
    client_send_text(f, &c, EMIT("now_1"));
    expect_line(f, &c, echo_line("now_1", 0));
    client_close(&c);
}

static void test_stale_socket_file_is_replaced(void **state)
{
    struct fixture *f = *state;
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, f->path);
    assert_int_equal(bind(stale, (struct sockaddr *)&address, sizeof address), 0);
    close(stale); /* the file stays, nobody listens: a killed host's leftover */

    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, EMIT("now_1"));
    expect_line(f, &c, echo_line("now_1", 0));
    client_close(&c);
}

static void test_file_that_is_not_a_socket_is_refused_and_kept(void **state)
{
    struct fixture *f = *state;
    FILE *file = fopen(f->path, "w");
    fputs("precious", file);
    fclose(file);

    struct control_server *server = NULL;
    struct error_list errors;
    error_list_init(&errors);
    assert_int_equal(start_server_with(f, NULL, &server, &errors), -1);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.messages[0], "exists and is not a socket"));
    assert_non_null(strstr(errors.messages[0], f->path));
    error_list_free(&errors);

    char content[16] = {0};
    file = fopen(f->path, "r");
    assert_non_null(fgets(content, sizeof content, file));
    fclose(file);
    assert_string_equal(content, "precious");
}

static void test_closing_the_server_unlinks_the_socket_and_disconnects_clients(void **state)
{
    struct fixture *f = *state;
    f->answer_deferred_from_timer = false;
    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, EMIT("now_1") EMIT("later_2"));
    expect_line(f, &c, echo_line("now_1", 0));
    wait_for_requests(f, 2);

    control_server_close(f->server, on_server_closed, f);
    answer_deferred_in_reverse(f); /* too late: dropped */
    wait_until_closed(f);
    assert_int_equal(access(f->path, F_OK), -1);
    expect_eof(f, &c);
    client_close(&c);
}

/* ---- ordering and framing ---------------------------------------------- */

static void test_answers_come_in_request_order_when_some_are_deferred(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, EMIT("later_1") EMIT("now_2") EMIT("later_3") EMIT("now_4"));
    expect_line(f, &c, deferred_echo(1));
    expect_line(f, &c, echo_line("now_2", 0));
    expect_line(f, &c, deferred_echo(3));
    expect_line(f, &c, echo_line("now_4", 0));
    client_close(&c);
}

static void test_thousand_pipelined_requests_in_one_write_are_answered_in_order(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct client c = client_connect(f);
    size_t size = 0;
    char *all = NULL;
    FILE *stream = open_memstream(&all, &size);
    for (int i = 1; i <= 1000; i++)
        fprintf(stream, "{\"cmd\":\"emit\",\"event\":\"%s_%d\"}\n", i % 3 ? "now" : "later", i);
    fclose(stream);
    client_send(f, &c, all, size);
    free(all);
    for (int i = 1; i <= 1000; i++) {
        char event[32];
        snprintf(event, sizeof event, "now_%d", i);
        expect_line(f, &c, i % 3 ? echo_line(event, 0) : deferred_echo((uint64_t)i));
    }
    client_close(&c);
}

static void test_request_split_across_writes_is_answered_once_complete(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, "{\"cmd\":\"em");
    settle(f);
    assert_int_equal(f->requests_seen, 0);
    client_send_text(f, &c, "it\",\"event\":\"now_1\"}");
    settle(f);
    assert_int_equal(f->requests_seen, 0);
    client_send_text(f, &c, "\n");
    expect_line(f, &c, echo_line("now_1", 0));
    client_close(&c);
}

static void test_crlf_and_blank_lines_are_accepted(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, "{\"cmd\":\"emit\",\"event\":\"now_1\"}\r\n\r\n  \t\n\n"
                            "{\"cmd\":\"emit\",\"event\":\"now_2\"}\r\n");
    shutdown(c.fd, SHUT_WR);
    expect_line(f, &c, echo_line("now_1", 0));
    expect_line(f, &c, echo_line("now_2", 0));
    expect_eof(f, &c); /* blank lines got no answer */
    client_close(&c);
}

static void test_malformed_and_unknown_requests_get_bad_request_and_connection_stays(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, "{\"cmd\":\n{\"cmd\":\"dance\"}\n" EMIT("now_1"));
    expect_bad_request(f, &c, "invalid JSON");
    expect_bad_request(f, &c, "unknown cmd");
    expect_line(f, &c, echo_line("now_1", 0));
    assert_int_equal(f->requests_seen, 1);
    client_close(&c);
}

static char *padded_request(size_t length, const char *ending)
{
    const char *json = "{\"cmd\":\"emit\",\"event\":\"now_1\"}";
    char *line = malloc(length + strlen(ending) + 1);
    memset(line, ' ', length);
    memcpy(line, json, strlen(json));
    strcpy(line + length, ending);
    return line;
}

static void test_oversize_line_gets_bad_request_and_next_line_still_works(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct client c = client_connect(f);
    char *huge = padded_request(3 * PROTOCOL_MAX_LINE, "\n");
    client_send_text(f, &c, huge);
    free(huge);
    char *just_over = padded_request(PROTOCOL_MAX_LINE + 1, "\n");
    client_send_text(f, &c, just_over);
    free(just_over);
    client_send_text(f, &c, EMIT("now_2"));
    expect_bad_request(f, &c, "request line exceeds 65536 bytes");
    expect_bad_request(f, &c, "request line exceeds 65536 bytes");
    expect_line(f, &c, echo_line("now_2", 0));
    assert_int_equal(f->requests_seen, 1);
    client_close(&c);
}

static void test_line_of_exactly_the_limit_is_accepted_even_with_cr(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct client c = client_connect(f);
    char *exact = padded_request(PROTOCOL_MAX_LINE, "\r\n");
    client_send_text(f, &c, exact);
    free(exact);
    expect_line(f, &c, echo_line("now_1", 0));
    client_close(&c);
}

static void test_after_eof_outstanding_answers_are_sent_then_connection_closes(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, EMIT("later_1") EMIT("now_2") "{\"cmd\":\"emit\",\"event\":\"now_3\"}");
    shutdown(c.fd, SHUT_WR); /* like `printf ... | socat`: the last line has no '\n' */
    expect_line(f, &c, deferred_echo(1));
    expect_line(f, &c, echo_line("now_2", 0));
    expect_line(f, &c, echo_line("now_3", 0));
    expect_eof(f, &c);
    wait_for_connections(f, 0);
    client_close(&c);
}

static void test_vanished_client_late_answers_are_dropped(void **state)
{
    struct fixture *f = *state;
    f->answer_deferred_from_timer = false;
    start_server(f, NULL);
    struct client c = client_connect(f);
    struct client other = client_connect(f);
    client_send_text(f, &c, EMIT("later_1") EMIT("later_2") EMIT("now_3"));
    wait_for_requests(f, 3);
    wait_for_connections(f, 2);
    client_close(&c);
    wait_for_connections(f, 1);
    answer_deferred_in_reverse(f); /* their connection is gone: freed, not sent */

    client_send_text(f, &other, EMIT("now_4")); /* the others are unaffected */
    expect_line(f, &other, echo_line("now_4", 0));
    client_close(&other);
}

static void test_client_gone_after_half_close_costs_only_its_connection(void **state)
{
    struct fixture *f = *state;
    f->answer_deferred_from_timer = false;
    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, EMIT("later_1"));
    shutdown(c.fd, SHUT_WR);
    wait_for_requests(f, 1);
    settle(f); /* the server saw EOF and waits to answer */
    assert_int_equal(control_server_connection_count(f->server), 1);
    client_close(&c);
    answer_deferred_in_reverse(f); /* the write fails (EPIPE): no SIGPIPE death */
    wait_for_connections(f, 0);
}

static void test_client_not_reading_is_read_no_further_until_it_catches_up(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct client c = client_connect(f);
    char batch[64 * 40];
    size_t used = 0;
    for (int i = 1; i <= 40; i++)
        used += (size_t)snprintf(batch + used, sizeof batch - used,
                                 "{\"cmd\":\"emit\",\"event\":\"big_%d\"}\n", i);
    client_send(f, &c, batch, used); /* 40 x 64 KiB of answers: far above 1 MiB */
    wait_for_requests(f, 40);
    client_send_text(f, &c, EMIT("now_41"));
    settle(f);
    assert_int_equal(f->requests_seen, 40);

    for (int i = 1; i <= 40; i++) {
        char event[16];
        snprintf(event, sizeof event, "big_%d", i);
        expect_line(f, &c, echo_line(event, BIG_ANSWER_SIZE));
    }
    expect_line(f, &c, echo_line("now_41", 0));
    assert_int_equal(f->requests_seen, 41);
    client_close(&c);
}

/* ---- peer credentials (root only: needs another uid) ------------------- */

/* Forks a client that runs as uid/gid, sends `request` (may be NULL),
 * shuts down its side and reads to EOF; returns what it read. */
static char *talk_as(struct fixture *f, uid_t uid, gid_t gid, const char *request)
{
    int result[2];
    assert_int_equal(pipe(result), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(result[0]);
        alarm(20);
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(2);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        strcpy(address.sun_path, f->path);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0)
            _exit(3);
        if (request && write(fd, request, strlen(request)) != (ssize_t)strlen(request))
            _exit(4);
        shutdown(fd, SHUT_WR);
        char buffer[4096];
        ssize_t got;
        while ((got = read(fd, buffer, sizeof buffer)) > 0)
            if (write(result[1], buffer, (size_t)got) != got)
                _exit(5);
        _exit(got == 0 ? 0 : 6);
    }
    close(result[1]);
    fcntl(result[0], F_SETFL, O_NONBLOCK);
    char *text = calloc(1, 8192);
    size_t length = 0;
    start_waiting(f);
    for (;;) {
        ssize_t got = read(result[0], text + length, 8191 - length);
        if (got > 0)
            length += (size_t)got;
        else if (got == 0)
            break;
        else
            pump(f, result[0], POLLIN);
    }
    close(result[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return text;
}

/* Lets another uid reach the socket file, so that SO_PEERCRED is what
 * decides (as it does when allow_group or a permissive folder let a user in). */
static void open_socket_to_everyone(struct fixture *f)
{
    assert_int_equal(chmod(f->dir, 0711), 0);
    assert_int_equal(chmod(f->path, 0666), 0);
}

static void test_peer_of_another_uid_gets_forbidden_then_eof_and_a_warning(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0)
        skip();
    start_server(f, NULL);
    open_socket_to_everyone(f);
    char log_path[128];
    snprintf(log_path, sizeof log_path, "%s/log", f->dir);
    int log_fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    log_set_fd(log_fd);

    char *text = talk_as(f, 65534, 65534, NULL);
    log_set_fd(STDERR_FILENO);
    assert_string_equal(text, "{\"result\":\"error\",\"error\":\"forbidden\"}\n");
    free(text);

    char logged[1024] = {0};
    assert_true(pread(log_fd, logged, sizeof logged - 1, 0) > 0);
    close(log_fd);
    unlink(log_path);
    assert_non_null(strstr(logged, "warning"));
    assert_non_null(strstr(logged, "uid 65534 pid "));
    assert_ptr_equal(strchr(logged, '\n'), logged + strlen(logged) - 1); /* one line */
    assert_int_equal(f->requests_seen, 0);
}

static void test_peer_listed_in_allow_uids_is_served(void **state)
{
    struct fixture *f = *state;
    uid_t allowed[] = {12345, 65534};
    struct control_access access = {.allow_uids = allowed, .allow_uid_count = 2};
    if (geteuid() != 0)
        skip();
    start_server(f, &access);
    open_socket_to_everyone(f);
    char *text = talk_as(f, 65534, 65534, EMIT("now_1"));
    char *expected = echo_line("now_1", 0);
    assert_string_equal(text, expected);
    free(expected);
    free(text);
}

static void test_peer_whose_group_is_the_allowed_group_is_served(void **state)
{
    struct fixture *f = *state;
    struct control_access access = {.has_allow_group = 1, .allow_gid = 4242};
    if (geteuid() != 0)
        skip();
    start_server(f, &access);
    open_socket_to_everyone(f);
    char *text = talk_as(f, 65534, 4242, EMIT("now_1"));
    char *expected = echo_line("now_1", 0);
    assert_string_equal(text, expected);
    free(expected);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_socket_is_created_with_mode_0600),
        TEST(test_socket_with_allowed_group_is_mode_0660_in_that_group),
        TEST(test_second_server_on_a_live_socket_is_refused),
        TEST(test_stale_socket_file_is_replaced),
        TEST(test_file_that_is_not_a_socket_is_refused_and_kept),
        TEST(test_closing_the_server_unlinks_the_socket_and_disconnects_clients),
        TEST(test_answers_come_in_request_order_when_some_are_deferred),
        TEST(test_thousand_pipelined_requests_in_one_write_are_answered_in_order),
        TEST(test_request_split_across_writes_is_answered_once_complete),
        TEST(test_crlf_and_blank_lines_are_accepted),
        TEST(test_malformed_and_unknown_requests_get_bad_request_and_connection_stays),
        TEST(test_oversize_line_gets_bad_request_and_next_line_still_works),
        TEST(test_line_of_exactly_the_limit_is_accepted_even_with_cr),
        TEST(test_after_eof_outstanding_answers_are_sent_then_connection_closes),
        TEST(test_vanished_client_late_answers_are_dropped),
        TEST(test_client_gone_after_half_close_costs_only_its_connection),
        TEST(test_client_not_reading_is_read_no_further_until_it_catches_up),
        TEST(test_peer_of_another_uid_gets_forbidden_then_eof_and_a_warning),
        TEST(test_peer_listed_in_allow_uids_is_served),
        TEST(test_peer_whose_group_is_the_allowed_group_is_served),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
