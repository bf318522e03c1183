/*
 * The control socket server (SPEC section 5): a Unix stream socket,
 * newline-delimited JSON, pipelining, many clients at once, answers in
 * request order on each connection, peers checked with SO_PEERCRED.
 *
 * It parses requests (protocol.h) and hands each good one to the host's
 * callback with a token; the host answers, now or later, with
 * control_reply(token, line). Bad requests are answered here. A slow
 * client is read no further while much output waits for it; a vanished
 * client's late answers are dropped.
 *
 * Ownership: the server owns its connections and buffers; control_reply
 * takes ownership of `line` (malloc'd). control_server_close closes
 * everything, unlinks the socket path and frees the server in libuv's
 * close callbacks, then calls `closed`.
 */
#ifndef DYNSUP_CONTROL_H
#define DYNSUP_CONTROL_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "config.h"
#include "protocol.h"

/* Who may talk to the host besides root and the host's own uid. */
struct control_access {
    const uid_t *allow_uids;
    int allow_uid_count;
    int has_allow_group;
    gid_t allow_gid;    /* members of this group (primary or supplementary) */
};

struct control_callbacks {
    /* A well-formed request; token is never 0. The request is only valid
     * during the call (copy what you keep). */
    void (*on_request)(void *context, const struct request *request, uint64_t token);
};

struct control_server;

/* Creates the socket at `path` (mode 0600, or 0660 with the allowed group
 * as its group), refusing to take over a socket a live host answers on;
 * a stale socket file is replaced. Returns 0, or -1 with an error naming
 * the path. */
int control_server_start(uv_loop_t *loop, const char *path, const struct control_access *access,
                         const struct control_callbacks *callbacks, void *context,
                         struct control_server **server, struct error_list *errors);

/* Answer the request with `token`. Takes `line` ('\n'-terminated). A token
 * whose connection is gone is dropped silently. */
void control_reply(struct control_server *server, uint64_t token, char *line);

/* Stop accepting, close every connection (after flushing what is queued,
 * best effort), unlink the socket, free; `closed` (may be NULL) runs
 * when all handles are closed. */
void control_server_close(struct control_server *server, void (*closed)(void *context),
                          void *context);

/* A reload's new allow_users / allow_group: applies to the next
 * connection, and closes the open ones it no longer allows; the socket
 * file's mode follows. Returns 0, or -1 with the error: out of memory
 * (then only root and the host's user are allowed), or a mode that could
 * not follow (the rule changed all the same). */
int control_server_set_access(struct control_server *server, const struct control_access *access,
                              struct error_list *errors);

/* For status: connections open now. */
unsigned control_server_connection_count(const struct control_server *server);

#endif
