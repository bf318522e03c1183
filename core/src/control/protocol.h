/*
 * The control protocol (SPEC section 5): one JSON object per line, in both
 * directions, parsed and built with jansson. This module only translates
 * between bytes and structs; it does no I/O.
 *
 * Ownership: protocol_parse_request fills a struct request whose strings
 * and args are owned by it (request_free releases them). Formatting
 * functions return a malloc'd line ending in '\n' (caller frees).
 */
#ifndef DYNSUP_PROTOCOL_H
#define DYNSUP_PROTOCOL_H

#include <stddef.h>
#include <sys/types.h>

#include "supervisor.h"

/* A request line longer than this is answered bad_request and skipped. */
#define PROTOCOL_MAX_LINE 65536

enum request_cmd {
    CMD_START_CHILD,
    CMD_TERMINATE_CHILD,
    CMD_WHICH_CHILDREN,
    CMD_COUNT_CHILDREN,
    CMD_EMIT,
    CMD_STATUS,
    CMD_PLUGINS,
    CMD_STOP,
    CMD_RELOAD,
    CMD_METRICS,   /* {"result":"ok","metrics":TEXT}, TEXT in Prometheus format (metrics.h) */
};

struct request {
    enum request_cmd cmd;
    char *supervisor;   /* start_child, terminate_child, which_children, count_children */
    char *child;        /* start_child */
    char *name;         /* start_child, optional (NULL) */
    char **args;        /* start_child, optional: NULL-terminated, possibly empty */
    int argc;
    pid_t pid;          /* terminate_child: exactly one of pid (> 0), name, key (> 0) */
    uint64_t key;
    char *event;        /* emit */
    bool dry_run;       /* reload, optional (false) */
};

/* Parses one line (without the '\n'). Returns 0, or -1 with `detail`
 * (a static or caller-buffer message, at most detail_size bytes) saying
 * what is wrong: not JSON, not an object, unknown cmd, missing/ill-typed
 * field, unknown field. */
int protocol_parse_request(const char *line, size_t length, struct request *request,
                           char *detail, size_t detail_size);
void request_free(struct request *request);

/* {"result":"ok","pid":P} / {"result":"ignore"} / {"result":"error","error":E[,"pid":P][,"detail":D]} */
char *protocol_format_reply(const struct reply *reply);
/* {"result":"error","error":"bad_request","detail":D} */
char *protocol_format_bad_request(const char *detail);
/* {"result":"error","error":"forbidden"} */
char *protocol_format_forbidden(void);
/* {"result":"error","error":"busy","detail":...}: no room for another connection. */
char *protocol_format_busy(const char *detail);
/* {"result":"error","error":E,"detail":D}; detail may be NULL */
char *protocol_format_error(const char *error, const char *detail);
/* {"result":"ok"} */
char *protocol_format_ok(void);
/* reload's answers (SPEC section 8): {"result":"ok","changes":[{"kind":K,
 * "id":X,"change":C[,"detail":D]}]} and {"result":"error","error":
 * "invalid_config","errors":[...]} */
struct change_list;
struct error_list;
char *protocol_format_changes(const struct change_list *changes, bool dry_run);
char *protocol_format_invalid_config(const struct error_list *errors);

/* which_children: {"result":"ok","children":[{"id","pid"(null if 0),"type":"worker",
 * "plugin","name"(null if none),"args":[...],"state":"running"|...,"key","plugin_version",
 * "started_at","restarts","last_exit","next_restart_at"}]}. Times of the tree's clock
 * become Unix ms by adding unix_ms_at_zero (the wall clock when the tree's clock read 0). */
struct children_writer;
struct children_writer *children_writer_new(int64_t unix_ms_at_zero);
void children_writer_add(struct children_writer *writer, const struct child_info *child,
                         const char *plugin_version);
char *children_writer_finish(struct children_writer *writer); /* frees writer */

/* {"result":"ok","specs":n,"active":n,"supervisors":n,"workers":n} */
char *protocol_format_counts(const struct child_counts *counts);

/* status: {"result":"ok","uptime_s":U,"pid":HOSTPID,"root":{"max_restarts","max_seconds",
 * "restarts_in_window"},"supervisors":[{"name","specs","active","workers","supervisors",
 * "restarts_in_window","max_restarts","max_seconds","max_children"(null=infinity),
 * "times_restarted","stopping"}]} */
struct status_writer;
struct status_writer *status_writer_new(double uptime_s, pid_t host_pid, uint32_t root_max_restarts,
                                        uint32_t root_max_seconds, uint32_t root_restarts_in_window);
void status_writer_add(struct status_writer *writer, const struct supervisor_status *status,
                       uint32_t max_children, uint32_t max_restarts, uint32_t max_seconds);
char *status_writer_finish(struct status_writer *writer);

/* plugins: {"result":"ok","plugins":[{"name","version","file"}]} */
struct plugins_writer;
struct plugins_writer *plugins_writer_new(void);
void plugins_writer_add(struct plugins_writer *writer, const char *name, const char *version,
                        const char *file);
/* The same with a generation of a plugin file (SPEC section 8): its
 * number, its workers, and whether new starts use it. */
void plugins_writer_add_generation(struct plugins_writer *writer, const char *name,
                                   const char *version, const char *file, unsigned generation,
                                   size_t workers, bool current);
char *plugins_writer_finish(struct plugins_writer *writer);

/* A supervisor, child, event or registered name the protocol takes: 1 to
 * 64 characters of [a-z0-9_]. */
bool protocol_id_is_valid(const char *text);

/* Request builders for the CLI client (one line each, '\n'-terminated, malloc'd). */
char *protocol_build_start_child(const char *supervisor, const char *child, const char *name,
                                 char *const *args, int argc);
/* Exactly one of pid (> 0), name (non-NULL) or key (> 0). */
char *protocol_build_terminate_child(const char *supervisor, pid_t pid, const char *name,
                                     uint64_t key);
char *protocol_build_reload(bool dry_run);
char *protocol_build_simple(const char *cmd, const char *key, const char *value); /* key NULL for none */

#endif
