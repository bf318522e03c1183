/*
 * dynsup-host's client commands (everything but `run` and `check`): build
 * one request, send it over the control socket, print the answer.
 */
#ifndef DYNSUP_CLI_H
#define DYNSUP_CLI_H

#include <stdio.h>

/* Exit statuses of every dynsup-host command (SPEC section 6). */
enum cli_exit {
    EXIT_OK = 0,          /* ok or ignore */
    EXIT_ERROR_RESULT = 1,/* the host answered an error */
    EXIT_USAGE = 2,       /* bad usage or config error */
    EXIT_UNREACHABLE = 3, /* host unreachable */
};

/* argv[0] is the command ("start-child", "status", ...). Returns an enum cli_exit. */
int cli_client_main(int argc, char **argv);
/* true if `command` is one of the client commands. */
int cli_is_client_command(const char *command);

/* The config file used when -c is not given: $DYNSUP_CONFIG, else
 * /etc/dynsup/dynsup.ini. */
const char *cli_default_config(void);

/* The overview of every command, for `dynsup-host --help`. */
void cli_print_usage(FILE *out);

#endif
