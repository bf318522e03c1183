/*
 * Shared between the client command files (cli.c, cli_which_all.c).
 */
#ifndef DYNSUP_CLI_INTERNAL_H
#define DYNSUP_CLI_INTERNAL_H

/* One request, one answer over a fresh connection. Returns EXIT_OK with
 * *answer (malloc'd, without its '\n'), else the exit status after
 * saying on stderr what went wrong. */
int cli_exchange(const char *socket_path, const char *command_name, const char *request,
                 char **answer);

/* which-children --all: given the status answer in *answer, asks each
 * supervisor for its children and replaces *answer with one answer whose
 * children carry their "supervisor" and which says "all_supervisors":
 * true (a supervisor gone in between is left out). Returns EXIT_OK, else
 * the exit status after saying why. */
int cli_which_children_of_all(const char *socket_path, const char *command_name, char **answer);

#endif
