/*
 * Private to the supervisor core: building the action list (supervisor.h)
 * and the small texts that go into it, plus the allocation policy.
 *
 * Strings passed to emit_* are copied into the list when the list must own
 * them (messages, reply details); supervisor names and child_info pointers
 * are stored as given and must stay valid until the next tree event (the
 * tree guarantees that, see supervisor.c).
 */
#ifndef DYNSUP_SUPERVISOR_ACTIONS_H
#define DYNSUP_SUPERVISOR_ACTIONS_H

#include "supervisor.h"

#include <stddef.h>

/* syslog levels, as ACTION_LOG carries them */
enum {
    LOG_LEVEL_ERROR = 3,
    LOG_LEVEL_WARNING = 4,
    LOG_LEVEL_INFO = 6,
};

/* An event of the tree cannot fail halfway without leaving children nobody
 * tracks; when memory runs out we abort instead (the host is then restarted
 * by its own supervisor, and workers die with it). */
_Noreturn void out_of_memory(void);
void *must_allocate(size_t size); /* zeroed */
void *must_reallocate(void *pointer, size_t size);
char *must_copy(const char *text);

void emit_spawn(struct action_list *out, const char *supervisor, const struct child_info *child);
void emit_signal(struct action_list *out, const char *supervisor, pid_t pid, int signal);
void emit_timer_start(struct action_list *out, const char *supervisor, child_key key,
                      uint32_t timeout_ms);
void emit_timer_cancel(struct action_list *out, const char *supervisor, child_key key);
void emit_reply(struct action_list *out, const char *supervisor, request_token token,
                enum reply_kind kind, enum reply_error error, pid_t pid, const char *detail);
void emit_log(struct action_list *out, int level, const char *supervisor, const char *child_id,
              child_key key, pid_t pid,
              const char *format, ...) __attribute__((format(printf, 7, 8)));
void emit_exit(struct action_list *out, int exit_status);
void emit_supervisor_added(struct action_list *out, const char *supervisor);

/* "exit status 3" / "killed by signal 9" */
void describe_exit(struct child_exit how, char *buffer, size_t size);
/* "SIGTERM, SIGKILL after 5000 ms" and the like */
void describe_shutdown(enum shutdown_mode mode, uint32_t shutdown_ms, char *buffer, size_t size);

#endif
