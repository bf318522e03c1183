/*
 * What a client sends, turned into requests (see control.c's header for
 * the contract): split into lines, parsed, handed to the host one at a
 * time, within the connection's bounds and its budget of requests per
 * loop turn; what cannot be handled yet is kept and handled later, before
 * anything more is read from that client.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_internal.h"
#include "protocol.h"

static struct answer_slot *connection_push_slot(struct connection *connection)
{
    struct answer_slot *slot = calloc(1, sizeof *slot);
    if (!slot)
        return NULL;
    slot->connection = connection;
    if (connection->tail)
        connection->tail->next = slot;
    else
        connection->head = slot;
    connection->tail = slot;
    connection->slot_count++;
    return slot;
}

void connection_answer_now(struct connection *connection, char *line)
{
    struct answer_slot *slot = line ? connection_push_slot(connection) : NULL;
    if (!slot) {
        free(line);
        connection_out_of_memory(connection);
        return;
    }
    slot_fill(slot, line);
    connection_flush(connection);
}

static void connection_answer_oversize(struct connection *connection)
{
    char detail[64];
    snprintf(detail, sizeof detail, "request line exceeds %d bytes", PROTOCOL_MAX_LINE);
    connection_answer_now(connection, protocol_format_bad_request(detail));
}

static bool is_blank(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (text[i] != ' ' && text[i] != '\t')
            return false;
    return true;
}

/* One complete line, without its '\n'. */
static void connection_handle_line(struct connection *connection, const char *line, size_t length)
{
    if (length > 0 && line[length - 1] == '\r')
        length--;
    if (is_blank(line, length))
        return;
    if (length > PROTOCOL_MAX_LINE) {
        connection_answer_oversize(connection);
        return;
    }
    struct request request;
    char detail[256];
    if (protocol_parse_request(line, length, &request, detail, sizeof detail) != 0) {
        connection_answer_now(connection, protocol_format_bad_request(detail));
        return;
    }
    struct control_server *server = connection->server;
    struct answer_slot *slot = connection_push_slot(connection);
    if (!slot || hashmap_put_number(&server->tokens, server->next_token, slot) != 0) {
        request_free(&request);
        connection_out_of_memory(connection); /* frees the slot with the others */
        return;
    }
    slot->token = server->next_token++;
    /* The host may answer (control_reply) or even close the server from
     * inside this call; the caller checks connection->closing after it. */
    server->callbacks.on_request(server->context, &request, slot->token);
    request_free(&request);
}

static int connection_append(struct connection *connection, const char *data, size_t length)
{
    size_t needed = connection->line_length + length;
    if (needed > connection->line_capacity) {
        size_t capacity = connection->line_capacity ? connection->line_capacity : 256;
        while (capacity < needed)
            capacity *= 2;
        char *grown = realloc(connection->line, capacity);
        if (!grown)
            return -1;
        connection->line = grown;
        connection->line_capacity = capacity;
    }
    memcpy(connection->line + connection->line_length, data, length);
    connection->line_length = needed;
    return 0;
}

/* ---- budgets and the waiting queue ------------------------------------ */

bool server_turn_budget_spent(const struct control_server *server)
{
    return server->turn_spent_ns >= TURN_BUDGET_NS;
}

/* Check handles run once per loop turn, after its I/O callbacks: what the
 * next turn's on_resume and reads handle counts in a new turn. */
static void on_turn_end(uv_check_t *check)
{
    struct control_server *server = check->data;
    server->turn_spent_ns = 0;
    server->turn_serial++;
    server->turn_active = false;
    uv_check_stop(check);
}

void server_charge_turn(struct control_server *server, uint64_t nanoseconds)
{
    server->turn_spent_ns += nanoseconds;
    if (server->turn_active || server->closing)
        return;
    server->turn_active = true;
    uv_check_start(&server->turn_end, on_turn_end);
}

static unsigned connection_turn_requests(const struct connection *connection)
{
    return connection->turn_serial == connection->server->turn_serial ? connection->turn_requests
                                                                      : 0;
}

static void connection_count_request(struct connection *connection)
{
    if (connection->turn_serial != connection->server->turn_serial) {
        connection->turn_serial = connection->server->turn_serial;
        connection->turn_requests = 0;
    }
    connection->turn_requests++;
}

static void connection_start_waiting(struct connection *connection)
{
    struct control_server *server = connection->server;
    connection->waiting = true;
    connection->waiting_next = NULL;
    connection->waiting_previous = server->waiting_tail;
    if (server->waiting_tail)
        server->waiting_tail->waiting_next = connection;
    else
        server->waiting_head = connection;
    server->waiting_tail = connection;
    server->waiting_count++;
}

void connection_stop_waiting(struct connection *connection)
{
    if (!connection->waiting)
        return;
    struct control_server *server = connection->server;
    if (connection->waiting_previous)
        connection->waiting_previous->waiting_next = connection->waiting_next;
    else
        server->waiting_head = connection->waiting_next;
    if (connection->waiting_next)
        connection->waiting_next->waiting_previous = connection->waiting_previous;
    else
        server->waiting_tail = connection->waiting_previous;
    connection->waiting_previous = connection->waiting_next = NULL;
    connection->waiting = false;
    server->waiting_count--;
}

/* ---- handling what arrived --------------------------------------------- */

/* Splits what arrived into lines and handles them, one request at a time,
 * until the data ends, `most` requests were handled, the connection is
 * over its bounds or used its turn's budget, or the loop turn's budget is
 * spent. Returns the bytes used (the rest is the caller's to keep).
 * A line may be up to PROTOCOL_MAX_LINE bytes plus an optional '\r';
 * beyond that it is answered bad_request as soon as that is certain, and
 * the rest of it is skipped. */
static size_t connection_consume(struct connection *connection, const char *data, size_t length,
                                 unsigned most)
{
    const size_t longest = PROTOCOL_MAX_LINE + 1;
    const char *start = data;
    struct control_server *server = connection->server;
    unsigned handled = 0;
    uint64_t clock = uv_hrtime();
    while (length > 0 && !connection->closing) {
        if (handled >= most || connection_turn_requests(connection) >= REQUESTS_PER_TURN ||
            server_turn_budget_spent(server) || connection_over_bounds(connection))
            break;
        const char *newline = memchr(data, '\n', length);
        size_t chunk = newline ? (size_t)(newline - data) : length;
        size_t used = newline ? chunk + 1 : chunk;
        bool request = false;
        if (connection->skipping_oversize_line) {
            if (newline)
                connection->skipping_oversize_line = false;
        } else if (connection->line_length + chunk > longest) {
            connection->line_length = 0;
            connection->skipping_oversize_line = newline == NULL;
            connection_answer_oversize(connection);
        } else if (newline && connection->line_length == 0) {
            connection_handle_line(connection, data, chunk); /* whole line in this read: no copy */
            request = true;
        } else if (connection_append(connection, data, chunk) != 0) {
            connection_out_of_memory(connection);
        } else if (newline) {
            size_t complete = connection->line_length;
            connection->line_length = 0;
            connection_handle_line(connection, connection->line, complete);
            request = true;
        }
        if (request) {
            handled++;
            connection_count_request(connection);
        }
        data += used;
        length -= used;
        uint64_t now = uv_hrtime();
        server_charge_turn(server, now - clock);
        clock = now;
    }
    return (size_t)(data - start);
}

/* Keeps what a read brought that was not handled yet (a copy: the read
 * buffer is shared), for connection_resume; the connection waits in the
 * server's queue meanwhile. */
static void connection_keep_unparsed(struct connection *connection, const char *data, size_t length)
{
    char *copy = malloc(length);
    if (!copy) {
        connection_out_of_memory(connection);
        return;
    }
    memcpy(copy, data, length);
    free(connection->unparsed);
    connection->unparsed = copy;
    connection->unparsed_offset = 0;
    connection->unparsed_length = length;
    if (!connection->waiting)
        connection_start_waiting(connection);
}

/* Handles the next request kept from an earlier read. */
static void connection_resume(struct connection *connection)
{
    connection->unparsed_offset +=
        connection_consume(connection, connection->unparsed + connection->unparsed_offset,
                           connection->unparsed_length - connection->unparsed_offset, 1);
    if (connection->closing)
        return;
    if (!connection_has_unparsed(connection)) {
        free(connection->unparsed);
        connection->unparsed = NULL;
        connection->unparsed_offset = connection->unparsed_length = 0;
        connection_stop_waiting(connection);
    }
    connection_apply_backpressure(connection);
}

static bool connection_may_resume(const struct connection *connection)
{
    return !connection->closing && connection_has_unparsed(connection) &&
           !connection_over_bounds(connection);
}

/* One loop turn: the waiting connections with room for their answers
 * handle their next requests, one each in turn (the one served goes to
 * the back of the queue), until the turn's budget is spent or a whole
 * round found none that could go on. So a client waits for at most one
 * request of each other waiting client, however many each pipelined. The
 * idle handle keeps running (the loop polls without blocking) only while
 * one of them still can. */
static void on_resume(uv_idle_t *idle)
{
    struct control_server *server = idle->data;
    size_t visits_without_request = 0;
    while (server->waiting_head && visits_without_request < server->waiting_count &&
           !server_turn_budget_spent(server)) {
        struct connection *connection = server->waiting_head;
        connection_stop_waiting(connection);
        connection_start_waiting(connection);
        if (connection_may_resume(connection) &&
            connection_turn_requests(connection) < REQUESTS_PER_TURN) {
            connection_resume(connection); /* may leave the queue, or close */
            visits_without_request = 0;
        } else {
            visits_without_request++;
        }
    }
    bool more = false;
    for (struct connection *connection = server->waiting_head; connection && !more;
         connection = connection->waiting_next)
        more = connection_may_resume(connection);
    if (!more) {
        uv_idle_stop(idle);
        server->resume_active = false;
    }
}

void server_schedule_resume(struct control_server *server)
{
    if (server->resume_active || server->closing)
        return;
    server->resume_active = true;
    uv_idle_start(&server->resume, on_resume);
}

/* Linux reports POLLHUP on a Unix stream socket once the peer shut down
 * both directions (close or exit), and only POLLIN/RDHUP after a
 * shutdown(SHUT_WR). */
static bool peer_hung_up(struct connection *connection)
{
    struct pollfd probe = {.events = POLLIN};
    if (uv_fileno((uv_handle_t *)&connection->pipe, &probe.fd) != 0)
        return true;
    return poll(&probe, 1, 0) == 1 && (probe.revents & (POLLHUP | POLLERR));
}

void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer)
{
    (void)suggested;
    struct connection *connection = handle->data;
    *buffer = uv_buf_init(connection->server->read_buffer, READ_BUFFER_SIZE);
}

void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buffer)
{
    struct connection *connection = stream->data;
    if (nread > 0) {
        size_t used =
            connection_consume(connection, buffer->base, (size_t)nread, REQUESTS_PER_TURN);
        if (!connection->closing && used < (size_t)nread)
            connection_keep_unparsed(connection, buffer->base + used, (size_t)nread - used);
        if (!connection->closing)
            connection_apply_backpressure(connection);
        return;
    }
    if (nread == 0 || connection->closing)
        return;
    if (nread != UV_EOF) {
        connection_close(connection);
        return;
    }
    /* EOF. A client that closed its socket altogether is gone: nobody to
     * answer. One that only shut down its writing side (`printf ... |
     * socat`) still gets what it is owed, a last line without '\n' too. */
    if (peer_hung_up(connection)) {
        connection_close(connection);
        return;
    }
    uv_read_stop(stream);
    connection->reading = false;
    connection->read_eof = true;
    if (!connection->skipping_oversize_line && connection->line_length > 0) {
        size_t length = connection->line_length;
        connection->line_length = 0;
        connection_handle_line(connection, connection->line, length);
    }
    if (!connection->closing)
        connection_finish_if_done(connection);
}
