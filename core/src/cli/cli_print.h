/*
 * Human-readable rendering of the host's answers for the client commands
 * (cli.c). Each printer takes a parsed answer whose "result" is "ok"; the
 * answer stays owned by the caller.
 */
#ifndef DYNSUP_CLI_PRINT_H
#define DYNSUP_CLI_PRINT_H

#include <jansson.h>
#include <stdio.h>

typedef void cli_print_fn(const json_t *answer, FILE *out);

/* start-child, emit: "ok PID" */
cli_print_fn cli_print_started;
/* terminate-child, stop: "ok" */
cli_print_fn cli_print_plain_ok;
/* which-children: a table KEY ID PID STATE RESTARTS UPTIME LAST_EXIT RESTART_IN PLUGIN
 * VERSION NAME ARGS; with "all_supervisors": true (--all), a SUPERVISOR column first,
 * read from each child's "supervisor" field. */
cli_print_fn cli_print_children;
/* count-children: "specs N active N supervisors N workers N" */
cli_print_fn cli_print_counts;
/* status: the tree, one supervisor a line */
cli_print_fn cli_print_status;
/* plugins: one "NAME VERSION FILE" line each, columns aligned */
cli_print_fn cli_print_plugins;
/* reload: each change as a diff line (cli_print_reload.c) */
cli_print_fn cli_print_reload;
/* metrics: the text as is */
cli_print_fn cli_print_metrics;

/* An error answer: "error REASON [PID]" on out, its detail (if any) on err. */
void cli_print_error(const json_t *answer, const char *command_name, FILE *out, FILE *err);

#endif
