/*
 * The fixture of the control socket server tests (test_control_*.c): a
 * real libuv loop runs the server on a temporary path; the test's clients
 * are plain nonblocking sockets. Waiting is poll(2) on the client and the
 * loop's backend descriptor (never a sleep), bounded by a deadline.
 *
 * The fake host answers {"cmd":"emit","event":"now_N"} at once, from
 * inside on_request, defers "later_N" (answered in reverse order from a
 * 0 ms timer, unless a test answers them itself), answers "big_N" with
 * a 64 KiB line and "slow_C_N" (client C's N-th) after SLOW_REQUEST_MS of
 * work, noting C in slow_order.
 *
 * Ownership: setup allocates the fixture (cmocka's state) and its
 * temporary folder; teardown closes the server and the loop and removes
 * both. A client's input buffer is freed by client_close.
 */
#ifndef DYNSUP_TEST_SUPPORT_CONTROL_H
#define DYNSUP_TEST_SUPPORT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "control.h"

#define WAIT_LIMIT_MS 20000
#define BIG_ANSWER_SIZE (64 * 1024)
#define SLOW_REQUEST_MS 1
#define SLOW_ORDER_MAX 4096

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
    unsigned slow_order[SLOW_ORDER_MAX]; /* the client of each slow request handled */
    unsigned slow_count;
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

#define EMIT(event) "{\"cmd\":\"emit\",\"event\":\"" event "\"}\n"

/* ---- the fake host ----------------------------------------------------- */
char *echo_line(const char *event, size_t padding);
void answer_deferred_in_reverse(struct fixture *f);

/* The deferred answer for the n-th token handed out (tokens count from 1). */
char *deferred_echo(uint64_t token);

/* ---- loop and clients -------------------------------------------------- */
void start_waiting(struct fixture *f);

/* Waits for `fd` (if >= 0) to be ready for `events` or for the loop to
 * have work, then runs the loop once. */
void pump(struct fixture *f, int fd, short events);

/* Runs the loop until it has nothing ready right now. */
void settle(struct fixture *f);
struct client client_connect(struct fixture *f);
void client_send(struct fixture *f, struct client *c, const char *data, size_t length);
void client_send_text(struct fixture *f, struct client *c, const char *text);
void expect_line(struct fixture *f, struct client *c, char *expected);
void expect_bad_request(struct fixture *f, struct client *c, const char *detail_part);
void expect_eof(struct fixture *f, struct client *c);
void client_close(struct client *c);
void wait_for_requests(struct fixture *f, unsigned count);
void wait_for_connections(struct fixture *f, unsigned count);

/* ---- fixture ----------------------------------------------------------- */
int start_server_with(struct fixture *f, const struct control_access *access,
                      struct control_server **server, struct error_list *errors);
void start_server(struct fixture *f, const struct control_access *access);
int setup(void **state);
void on_server_closed(void *context);
void wait_until_closed(struct fixture *f);
int teardown(void **state);

#endif
