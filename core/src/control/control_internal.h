/*
 * What control.c (connections, output, accepting, the server),
 * control_input.c (turning what a client sends into requests, within its
 * bounds and its turn) and control_limit.c (how many connections, and
 * what one more gets) share about a connection. Private to those three.
 */
#ifndef DYNSUP_CONTROL_INTERNAL_H
#define DYNSUP_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

#include "control.h"
#include "hashmap.h"

/* A client that does not read its answers is read no further once this
 * much output waits for it, and read again when it fell below the low mark:
 * memory per slow client stays bounded without dropping anything. */
#define OUTPUT_HIGH_WATER (1024u * 1024u)
#define OUTPUT_LOW_WATER (256u * 1024u)
/* Requests read but not yet answered on one connection. A start_child
 * waiting on a registered name is answered only when that child's init
 * returns, so a pipelining client could otherwise pile up slots without
 * end; past this, the connection is read no further (at most one read
 * buffer's worth of requests more). */
#define OWED_HIGH_WATER 1024u
#define OWED_LOW_WATER 256u
#define READ_BUFFER_SIZE (64u * 1024u)
/* Connections open at once: an eighth of the descriptor limit, at most
 * CONNECTIONS_MOST (the rest stays for workers' pipes and the host), and
 * the last eighth of them kept for root and the host's user, so an
 * allowed user holding every connection cannot lock the operator out. */
#define CONNECTIONS_MOST 1024u
#define CONNECTIONS_LEAST 16u
/* At most this many requests of one connection per loop turn: a client
 * pipelining thousands cannot hold the loop (timers, exits, other clients). */
#define REQUESTS_PER_TURN 32u
/* And all connections together stop handling requests in a loop turn once
 * that turn's request work took this long (checked after each request):
 * with hundreds of clients each pipelining costly requests, per-connection
 * budgets alone let one turn last seconds, holding back exits, restarts
 * and every other client. The rest waits for the next turn. */
#define TURN_BUDGET_NS (2u * 1000u * 1000u)
#define LISTEN_BACKLOG 128

/* One request's answer, in the connection's FIFO. `line` is NULL until the
 * answer arrives; while it is NULL the token is in the server's map. */
struct answer_slot {
    struct answer_slot *next;
    struct connection *connection;
    uint64_t token;
    char *line;
    size_t length;
};

struct connection {
    uv_pipe_t pipe;                 /* first: the handle's address is the connection's */
    struct control_server *server;
    struct connection *previous, *next;
    struct answer_slot *head, *tail;
    size_t slot_count;              /* slots in head..tail: answers owed or not yet handed on */
    size_t filled_bytes;            /* answers filled but not yet handed to libuv */
    char *line;                     /* a request line that arrived in pieces */
    size_t line_length, line_capacity;
    bool skipping_oversize_line;    /* drop bytes up to the next '\n' */
    char *unparsed;                 /* read but not handled yet (bounds, turn budget) */
    size_t unparsed_offset, unparsed_length;
    struct connection *waiting_previous, *waiting_next; /* in the server's waiting queue */
    bool waiting;                   /* has unparsed requests: in that queue */
    uint64_t turn_serial;           /* the loop turn turn_requests counts in */
    unsigned turn_requests;         /* its requests handled in that turn */
    bool reading;
    bool read_eof;
    bool shutting_down;
    bool closing;
    uv_shutdown_t shutdown_request;
    struct ucred peer;              /* SO_PEERCRED at accept: checked again when access narrows */
    bool admitted;                  /* allowed and within the limit: counted in admitted_count */
};

/* Lines handed to libuv in one uv_write; freed when the write is done. */
struct write_batch {
    uv_write_t request;
    struct connection *connection;
    size_t count;
    uv_buf_t buffers[];
};

struct control_server {
    uv_pipe_t listener;
    uv_loop_t *loop;
    char *path;
    dev_t socket_device;            /* identify our socket file, so closing */
    ino_t socket_inode;             /* never unlinks a successor's socket */
    uid_t *allow_uids;              /* our copy; access.allow_uids points at it */
    struct control_access access;
    struct control_callbacks callbacks;
    void *context;
    struct connection *connections;
    unsigned connection_count;      /* open, not closing */
    unsigned admitted_count;        /* of them, admitted (refused ones are on their way out) */
    unsigned most_connections;      /* see CONNECTIONS_MOST */
    unsigned most_for_others;       /* of them, for peers other than root and the host's user */
    uint64_t busy_logged_ms;        /* refusals are logged at most once a second */
    unsigned busy_unlogged;         /* refused since that line */
    uid_t busy_last_uid;            /* the last refused peer, named in the line */
    pid_t busy_last_pid;
    uv_timer_t busy_summary;        /* logs the refusals the last line did not count */
    unsigned open_handles;          /* listener + connections not yet closed */
    struct hashmap tokens;          /* token -> unanswered struct answer_slot */
    uint64_t next_token;
    char *read_buffer;              /* shared: libuv hands it to one read callback at a time */
    uv_idle_t resume;               /* active while a connection waits for its next turn */
    bool resume_active;
    /* Connections with requests read but not handled yet, in the order
     * on_resume serves them, one request each at a time. */
    struct connection *waiting_head, *waiting_tail;
    size_t waiting_count;
    uint64_t turn_serial;           /* counts the loop turns that handled requests */
    uint64_t turn_spent_ns;         /* request work in this loop turn, all connections */
    uv_check_t turn_end;            /* active while turn_spent_ns counts: ends the turn */
    bool turn_active;
    bool closing;
    void (*closed)(void *context);
    void *closed_context;
};

/* control.c */
void connection_close(struct connection *connection);
void connection_out_of_memory(struct connection *connection);
void connection_finish_if_done(struct connection *connection);
/* Hands libuv every answered slot at the head of the FIFO. */
void connection_flush(struct connection *connection);
/* Reading and request handling paused or resumed by the bounds. */
void connection_apply_backpressure(struct connection *connection);
void slot_fill(struct answer_slot *slot, char *line);
/* Closes after what is owed is written, reading nothing more. */
void connection_finish(struct connection *connection);
/* Too much owed to this client: handle none of its requests for now. */
bool connection_over_bounds(const struct connection *connection);
bool connection_has_unparsed(const struct connection *connection);

/* control_limit.c */
/* Sets most_connections and most_for_others from RLIMIT_NOFILE. */
void control_limit_set(struct control_server *server);
/* No room for this connection: answers `busy`, finishes it, counts the
 * refusal for the log; true then. Only admitted connections count:
 * refused ones (forbidden, busy) are on their way out and must not use up
 * the room kept for root and the host's user. */
bool connection_over_limit(struct connection *connection);
/* Logs the refusals no line counted yet (a second after the last line,
 * or when the server closes). */
void control_limit_log_the_rest(struct control_server *server);

/* control_input.c */
void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer);
void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buffer);
/* Answers at once, in the connection's order (a bad request, forbidden). */
void connection_answer_now(struct connection *connection, char *line);
/* Runs the idle handle that gives waiting connections their next turn. */
void server_schedule_resume(struct control_server *server);
/* Out of the server's waiting queue (closing). */
void connection_stop_waiting(struct connection *connection);
/* The loop turn's request budget (TURN_BUDGET_NS), shared by all
 * connections: used up, or add the time one request took. */
bool server_turn_budget_spent(const struct control_server *server);
void server_charge_turn(struct control_server *server, uint64_t nanoseconds);

#endif
