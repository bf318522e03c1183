/*
 * Private to the supervisor core: how children are stopped
 * (supervisor_stopping.c), shared by the events of supervisor.c.
 */
#ifndef DYNSUP_SUPERVISOR_STOPPING_H
#define DYNSUP_SUPERVISOR_STOPPING_H

#include "supervisor.h"
#include "supervisor_tree.h"

/* Signals a child's process by its shutdown mode, arming its deadline. */
void send_shutdown_signals(struct child *child, struct action_list *out);
/* Moves a child to STOPPING and signals its process by its shutdown mode
 * (nothing if it is already stopping). */
void begin_shutdown(struct tree *tree, struct child *child, struct action_list *out);
/* A start still waiting for the child's init gets this error instead. */
void answer_pending_start(struct child *child, enum reply_error error, const char *detail,
                          struct action_list *out);
void shut_down_all_children(struct tree *tree, struct supervisor *sup, const char *why,
                            struct action_list *out);
/* The stopping child's process is gone: answer who asked, remove it. */
void finish_stopping(struct tree *tree, struct child *child, const char *how,
                     struct action_list *out);
/* Once: every child of every supervisor is shut down, then the host exits. */
void stop_host(struct tree *tree, int exit_status, struct action_list *out);
/* A child's shutdown timeout passed: it is killed. */
void shutdown_deadline_passed(struct child *child, struct action_list *out);

#endif
