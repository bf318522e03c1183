/*
 * How many control connections the host keeps open at once, and what one
 * more gets: one `busy` line, then EOF (CONNECTIONS_MOST says how many).
 *
 * A flood of refusals must neither fill the log nor vanish from it: they
 * are logged as a count, at most one line a second, and the refusals after
 * the last line are counted in a line of their own once that second is
 * over (or the server closes), whether or not another refusal comes.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "control_internal.h"
#include "dynsup/plugin.h"
#include "log.h"
#include "protocol.h"

#define REFUSALS_LOGGED_EVERY_MS 1000u

void control_limit_set(struct control_server *server)
{
    struct rlimit descriptors;
    rlim_t eighth = getrlimit(RLIMIT_NOFILE, &descriptors) == 0 ? descriptors.rlim_cur / 8 : CONNECTIONS_MOST;
    server->most_connections = eighth > CONNECTIONS_MOST  ? CONNECTIONS_MOST
                               : eighth < CONNECTIONS_LEAST ? CONNECTIONS_LEAST
                                                            : (unsigned)eighth;
    unsigned kept = server->most_connections / 8 < 2 ? 2 : server->most_connections / 8;
    server->most_for_others = server->most_connections - kept;
}

static void log_refusals(struct control_server *server)
{
    log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
              "control socket: too many control connections: refused %u (the last from uid %u "
              "pid %d) with %u open; at most %u, %u of them for users other than root and "
              "the host's", server->busy_unlogged, (unsigned)server->busy_last_uid,
              (int)server->busy_last_pid, server->admitted_count, server->most_connections,
              server->most_for_others);
    server->busy_logged_ms = uv_now(server->loop);
    server->busy_unlogged = 0;
    /* A line logged at once (the loop's clock passed the second before
     * the timer ran) makes the pending one moot: left armed, it would log
     * the next refusal in the same millisecond. */
    uv_timer_stop(&server->busy_summary);
}

void control_limit_log_the_rest(struct control_server *server)
{
    if (server->busy_unlogged > 0)
        log_refusals(server);
}

static void on_refusals_due(uv_timer_t *timer)
{
    control_limit_log_the_rest(timer->data);
}

bool connection_over_limit(struct connection *connection)
{
    struct control_server *server = connection->server;
    bool admin = connection->peer.uid == 0 || connection->peer.uid == geteuid();
    unsigned most = admin ? server->most_connections : server->most_for_others;
    if (server->admitted_count < most)
        return false;
    server->busy_unlogged++;
    server->busy_last_uid = connection->peer.uid;
    server->busy_last_pid = connection->peer.pid;
    uint64_t now = uv_now(server->loop);
    uint64_t since = now - server->busy_logged_ms;
    if (server->busy_logged_ms == 0 || since >= REFUSALS_LOGGED_EVERY_MS)
        log_refusals(server);
    else if (!uv_is_active((uv_handle_t *)&server->busy_summary))
        uv_timer_start(&server->busy_summary, on_refusals_due, REFUSALS_LOGGED_EVERY_MS - since, 0);
    char detail[96];
    snprintf(detail, sizeof detail, "too many control connections (%u open); try again later",
             server->admitted_count);
    connection_answer_now(connection, protocol_format_busy(detail));
    connection_finish(connection);
    return true;
}
