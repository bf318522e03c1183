/*
 * dynsup-host's client commands: parse the command line, build one request
 * with the protocol module, send it over the control socket and print the
 * answer (cli_print.c renders the human form; cli_exchange.c talks to the
 * host).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_internal.h"
#include "cli_print.h"
#include "config.h"
#include "protocol.h"

#define CLI_DEFAULT_CONFIG "/etc/dynsup/dynsup.ini"

/* What the command line asked for. operands points into argv. */
struct cli_options {
    const char *config_path;   /* -c, or NULL for the default */
    const char *socket_path;   /* -s, wins over the config */
    const char *name;          /* --name (start-child, terminate-child) */
    const char *key;           /* --key (terminate-child) */
    bool all;                  /* --all (which-children) */
    bool dry_run;              /* --dry-run (reload only) */
    bool json;
    bool help;
    char **operands;           /* malloc'd array of argv pointers */
    int operand_count;
};

struct client_command;
/* Builds the request line (malloc'd), or NULL with *problem set to a
 * usage message (or left NULL when memory ran out). */
typedef char *build_request_fn(const struct client_command *command,
                               const struct cli_options *options, const char **problem);

struct client_command {
    const char *name;          /* on the command line: "start-child" */
    const char *wire_cmd;      /* in the protocol: "start_child" */
    const char *wire_key;      /* field carrying the single operand, or NULL */
    const char *synopsis;      /* operands, for usage */
    const char *summary;       /* one line for the global usage */
    const char *description;   /* paragraph for the command's --help */
    int min_operands;
    int max_operands;          /* -1: any number (start-child's ARGs) */
    build_request_fn *build;
    cli_print_fn *print_ok;
};

static build_request_fn build_start_child, build_terminate_child, build_which_children,
    build_simple, build_reload;

static const struct client_command client_commands[] = {
    {"start-child", "start_child", NULL, "[--name NAME] SUP CHILD [ARG...]",
     "start a child of SUP from child spec CHILD",
     "Start a child of supervisor SUP from child spec CHILD. The ARGs are appended to the\n"
     "child's arguments, exactly as given: options are read only before CHILD.\n"
     "Prints \"ok PID\", \"ignore\" or \"error REASON [PID]\".",
     2, -1, build_start_child, cli_print_started},
    {"terminate-child", "terminate_child", NULL, "SUP PID | --name NAME | --key KEY",
     "stop one child of SUP",
     "Stop one child of supervisor SUP using its shutdown setting; it is not restarted.\n"
     "The child is the one running as PID, the holder of the registered NAME, or the\n"
     "child with the stable KEY that which-children shows (a key outlives restarts; a\n"
     "pid does not). A child waiting to restart is removed at once.\n"
     "Prints \"ok\" or \"error not_found\".",
     1, 2, build_terminate_child, cli_print_plain_ok},
    {"which-children", "which_children", "supervisor", "SUP | --all",
     "list the children of SUP (or of every supervisor)",
     "List the children of supervisor SUP, or with --all of every supervisor: the stable\n"
     "key, id, pid (\"-\" while it has no process), state, restarts since its first start,\n"
     "uptime of its current process, how and how long ago it last ended, when a waiting\n"
     "restart is due, plugin and version, registered name and arguments.",
     0, 1, build_which_children, cli_print_children},
    {"count-children", "count_children", "supervisor", "SUP", "count the children of SUP",
     "Print the counts of supervisor SUP: specs, active, supervisors, workers.", 1, 1,
     build_simple, cli_print_counts},
    {"status", "status", NULL, "", "show the supervision tree",
     "Show the host's supervision tree: uptime, root intensity, and each supervisor\n"
     "with its counts and restarts.",
     0, 0, build_simple, cli_print_status},
    {"plugins", "plugins", NULL, "", "list the loaded plugins",
     "List the plugins the host loaded: name, version and file.", 0, 0, build_simple,
     cli_print_plugins},
    {"emit", "emit", "event", "EVENT", "fire the named event EVENT",
     "Fire the event EVENT: its child is started as by start-child, and the answer is\n"
     "printed the same way.",
     1, 1, build_simple, cli_print_started},
    {"reload", "reload", NULL, "[--dry-run]", "apply config and plugin changes live",
     "Re-read the config file, children_dir and plugin_dir, validate all of it as check\n"
     "does, then apply the difference without touching running children. Prints each\n"
     "change (+ added, - removed, ~ changed); on any error nothing changes and every\n"
     "error is printed. --dry-run validates and lists the changes, applying nothing.",
     0, 0, build_reload, cli_print_reload},
    {"stop", "stop", NULL, "", "stop the host cleanly",
     "Ask the host to shut down as on SIGTERM. Prints \"ok\".", 0, 0, build_simple,
     cli_print_plain_ok},
    {"metrics", "metrics", NULL, "", "print the metrics in Prometheus' text format",
     "Print the host's metrics in Prometheus' text format, as the HTTP endpoint of\n"
     "[host] metrics_listen serves them (for node_exporter's textfile collector:\n"
     "dynsup-host metrics > DIR/dynsup.prom.tmp && mv DIR/dynsup.prom.tmp DIR/dynsup.prom).",
     0, 0, build_simple, cli_print_metrics},
};

#define COMMAND_COUNT (sizeof client_commands / sizeof client_commands[0])

static const struct client_command *find_command(const char *name)
{
    for (size_t i = 0; name && i < COMMAND_COUNT; i++)
        if (strcmp(client_commands[i].name, name) == 0)
            return &client_commands[i];
    return NULL;
}

int cli_is_client_command(const char *command)
{
    return find_command(command) != NULL;
}

const char *cli_default_config(void)
{
    const char *from_environment = getenv("DYNSUP_CONFIG");
    return from_environment && *from_environment ? from_environment : CLI_DEFAULT_CONFIG;
}

/* ---- usage ---- */

static const char exit_status_text[] =
    "Exit status: 0 ok or ignore, 1 the host answered an error, 2 usage or config error,\n"
    "3 host unreachable.\n";

void cli_print_usage(FILE *out)
{
    fprintf(out, "usage: dynsup-host COMMAND [OPTIONS] [ARGUMENTS]\n\n"
                 "Commands:\n"
                 "  %-46s %s\n  %-46s %s\n",
            "run [-c CONFIG]", "run the host in the foreground", "check [-c CONFIG]",
            "validate the config and plugins, print every error");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s %s", client_commands[i].name, client_commands[i].synopsis);
        fprintf(out, "  %-46s %s\n", line, client_commands[i].summary);
    }
    fprintf(out,
            "\nClient commands talk to a running host over its control socket and take\n"
            "-c CONFIG, -s SOCKET and --json. CONFIG defaults to $DYNSUP_CONFIG, else %s.\n"
            "'dynsup-host COMMAND --help' describes one command.\n\n%s",
            CLI_DEFAULT_CONFIG, exit_status_text);
}

static void print_command_usage(const struct client_command *command, FILE *out)
{
    fprintf(out, "usage: dynsup-host %s [-c CONFIG | -s SOCKET] [--json]%s%s\n\n%s\n\n",
            command->name, *command->synopsis ? " " : "", command->synopsis, command->description);
    fprintf(out,
            "Options:\n"
            "  -c, --config CONFIG  read the control socket path from CONFIG\n"
            "                       (default: $DYNSUP_CONFIG, else %s)\n"
            "  -s, --socket SOCKET  connect to SOCKET (wins over -c)\n"
            "      --json           print the host's answer line as is\n",
            CLI_DEFAULT_CONFIG);
    if (command->build == build_start_child)
        fprintf(out, "      --name NAME      register the child under NAME (unique while alive)\n");
    if (command->build == build_reload)
        fprintf(out, "      --dry-run        validate and list the changes; apply nothing\n");
    if (command->build == build_which_children)
        fprintf(out, "      --all            the children of every supervisor\n");
    if (command->build == build_terminate_child)
        fprintf(out, "      --name NAME      the child registered under NAME\n"
                     "      --key KEY        the child with this stable key (which-children)\n");
    fprintf(out, "  -h, --help           show this help\n\n%s", exit_status_text);
}

/* ---- arguments ---- */

enum parse_result { PARSE_OK, PARSE_HELP, PARSE_USAGE_ERROR };

/* Options may appear anywhere among the operands (`status --json` and
 * `--json status` both work), except that start-child stops reading
 * options after CHILD: the rest are the child's own arguments, passed on
 * untouched. "--" ends the options everywhere. */
static enum parse_result parse_arguments(const struct client_command *command, int argc,
                                         char **argv, struct cli_options *options)
{
    static const struct option long_options[] = {
        {"config", required_argument, NULL, 'c'}, {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},         {"name", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {"key", required_argument, NULL, 'k'},
        {"all", no_argument, NULL, 'a'},          {"dry-run", no_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    bool passes_arguments = command->max_operands < 0;
    options->operands = calloc((size_t)argc + 1, sizeof *options->operands);
    if (!options->operands) {
        fprintf(stderr, "dynsup-host %s: out of memory\n", command->name);
        return PARSE_USAGE_ERROR;
    }
    opterr = 0;  /* we word the messages ourselves */
    optind = 0;  /* glibc: start afresh, whatever parsed argv before */
    bool options_ended = false;
    while (!options_ended) {
        if (passes_arguments && options->operand_count >= command->min_operands)
            break;
        int before = optind > 0 ? optind : 1;
        int option = getopt_long(argc, argv, "+:c:s:h", long_options, NULL);
        if (option == -1) {
            if (optind >= argc)
                break;
            if (optind == before + 1 && strcmp(argv[before], "--") == 0) {
                options_ended = true;
                break;
            }
            options->operands[options->operand_count++] = argv[optind++];
            continue;
        }
        switch (option) {
        case 'c': options->config_path = optarg; break;
        case 's': options->socket_path = optarg; break;
        case 'j': options->json = true; break;
        case 'h': options->help = true; break;
        case 'd':
            if (command->build != build_reload) {
                fprintf(stderr, "dynsup-host %s: --dry-run is only for reload\n", command->name);
                return PARSE_USAGE_ERROR;
            }
            options->dry_run = true;
            break;
        case 'n':
            if (command->build != build_start_child && command->build != build_terminate_child) {
                fprintf(stderr, "dynsup-host %s: --name is only for start-child and "
                                "terminate-child\n", command->name);
                return PARSE_USAGE_ERROR;
            }
            options->name = optarg;
            break;
        case 'a':
            if (command->build != build_which_children) {
                fprintf(stderr, "dynsup-host %s: --all is only for which-children\n",
                        command->name);
                return PARSE_USAGE_ERROR;
            }
            options->all = true;
            break;
        case 'k':
            if (command->build != build_terminate_child) {
                fprintf(stderr, "dynsup-host %s: --key is only for terminate-child\n",
                        command->name);
                return PARSE_USAGE_ERROR;
            }
            options->key = optarg;
            break;
        case ':':
            fprintf(stderr, "dynsup-host %s: option %s needs a value\n", command->name,
                    argv[optind - 1]);
            return PARSE_USAGE_ERROR;
        default:
            fprintf(stderr, "dynsup-host %s: unknown option %s\n", command->name,
                    argv[optind - 1]);
            return PARSE_USAGE_ERROR;
        }
    }
    while (optind > 0 && optind < argc)
        options->operands[options->operand_count++] = argv[optind++];

    if (options->help)
        return PARSE_HELP;
    if (options->operand_count < command->min_operands) {
        fprintf(stderr, "dynsup-host %s: missing arguments: expected %s\n", command->name,
                command->synopsis);
        return PARSE_USAGE_ERROR;
    }
    if (command->max_operands >= 0 && options->operand_count > command->max_operands) {
        fprintf(stderr, "dynsup-host %s: unexpected argument \"%s\"\n", command->name,
                options->operands[command->max_operands]);
        return PARSE_USAGE_ERROR;
    }
    return PARSE_OK;
}

/* The ids a command names (SUP, CHILD, EVENT, --name): one the protocol
 * would refuse (protocol_id_is_valid) is a usage error here, said before
 * asking the host. */
static const char *const NOT_AN_ID =
    "SUP, CHILD, EVENT and NAME are ids: 1 to 64 characters of a-z, 0-9 and _";

static char *build_start_child(const struct client_command *command,
                               const struct cli_options *options, const char **problem)
{
    (void)command;
    if (!protocol_id_is_valid(options->operands[0]) ||
        !protocol_id_is_valid(options->operands[1]) ||
        (options->name && !protocol_id_is_valid(options->name))) {
        *problem = NOT_AN_ID;
        return NULL;
    }
    return protocol_build_start_child(options->operands[0], options->operands[1], options->name,
                                      options->operands + 2, options->operand_count - 2);
}

static char *build_terminate_child(const struct client_command *command,
                                   const struct cli_options *options, const char **problem)
{
    (void)command;
    int given = (options->operand_count > 1) + (options->name != NULL) + (options->key != NULL);
    if (given != 1) {
        *problem = "give exactly one of PID, --name NAME or --key KEY";
        return NULL;
    }
    if (!protocol_id_is_valid(options->operands[0]) || (options->name && !protocol_id_is_valid(options->name))) {
        *problem = NOT_AN_ID;
        return NULL;
    }
    if (options->name)
        return protocol_build_terminate_child(options->operands[0], 0, options->name, 0);
    const char *text = options->key ? options->key : options->operands[1];
    char *end;
    errno = 0;
    unsigned long long number = strtoull(text, &end, 10);
    /* Digits only: strtoull would also take leading blanks and a sign. */
    bool digits = text[0] >= '0' && text[0] <= '9';
    if (options->key && (errno != 0 || end == text || *end != '\0' || !digits ||
                         number == 0 || number > (1ull << 53))) {
        *problem = "KEY must be a positive integer";
        return NULL;
    }
    if (options->key)
        return protocol_build_terminate_child(options->operands[0], 0, NULL, number);
    if (errno != 0 || end == text || *end != '\0' || !digits || number == 0 ||
        number > INT_MAX) {
        *problem = "PID must be a positive integer";
        return NULL;
    }
    return protocol_build_terminate_child(options->operands[0], (pid_t)number, NULL, 0);
}

/* With --all the first request is status: it names every supervisor. */
static char *build_which_children(const struct client_command *command,
                                  const struct cli_options *options, const char **problem)
{
    if ((options->operand_count == 1) == options->all) {
        *problem = "give exactly one of SUP or --all";
        return NULL;
    }
    if (options->all)
        return protocol_build_simple("status", NULL, NULL);
    return build_simple(command, options, problem);
}

static char *build_simple(const struct client_command *command, const struct cli_options *options,
                          const char **problem)
{
    if (command->wire_key && !protocol_id_is_valid(options->operands[0])) {
        *problem = NOT_AN_ID;
        return NULL;
    }
    return protocol_build_simple(command->wire_cmd, command->wire_key,
                                 command->wire_key ? options->operands[0] : NULL);
}

static char *build_reload(const struct client_command *command, const struct cli_options *options,
                          const char **problem)
{
    (void)command;
    (void)problem;
    return protocol_build_reload(options->dry_run);
}

/* ---- the socket path ---- */

/* -s wins; else the [host] socket of the config file. A config with errors
 * elsewhere still gives its socket path: a client should not refuse to
 * talk to a running host over, say, a child spec being edited. */
static int resolve_socket_path(const struct cli_options *options, const char *command_name,
                               char **socket_path)
{
    if (options->socket_path) {
        *socket_path = strdup(options->socket_path);
        return *socket_path ? EXIT_OK : EXIT_USAGE;
    }
    const char *config_path = options->config_path ? options->config_path : cli_default_config();
    struct config cfg;
    struct error_list errors;
    memset(&cfg, 0, sizeof cfg);
    error_list_init(&errors);
    config_load_host_file(config_path, &cfg, &errors);
    *socket_path = cfg.socket_path ? strdup(cfg.socket_path) : NULL;
    if (!*socket_path) {
        for (size_t i = 0; i < errors.count; i++)
            fprintf(stderr, "dynsup-host %s: %s\n", command_name, errors.messages[i]);
        fprintf(stderr, "dynsup-host %s: no control socket path from %s (give -s SOCKET or fix "
                        "the config)\n",
                command_name, config_path);
    }
    config_free(&cfg);
    error_list_free(&errors);
    return *socket_path ? EXIT_OK : EXIT_USAGE;
}

/* Prints the answer (as is with --json, else human) and maps it to an exit status. */
static int present_answer(const struct client_command *command, const struct cli_options *options,
                          const char *answer)
{
    if (options->json)
        printf("%s\n", answer);
    json_error_t error;
    json_t *root = json_loads(answer, 0, &error);
    const char *result = json_string_value(json_object_get(root, "result"));
    int status;
    if (!result) {
        fprintf(stderr, "dynsup-host %s: the host's answer is not a protocol response: %s\n",
                command->name, answer);
        status = EXIT_ERROR_RESULT;
    } else if (strcmp(result, "ok") == 0) {
        if (!options->json)
            command->print_ok(root, stdout);
        status = EXIT_OK;
    } else if (strcmp(result, "ignore") == 0) {
        if (!options->json)
            printf("ignore\n");
        status = EXIT_OK;
    } else {
        if (!options->json)
            cli_print_error(root, command->name, stdout, stderr);
        status = EXIT_ERROR_RESULT;
    }
    json_decref(root);
    return status;
}

int cli_client_main(int argc, char **argv)
{
    const struct client_command *command = argc > 0 ? find_command(argv[0]) : NULL;
    if (!command) {
        fprintf(stderr, "dynsup-host: unknown command \"%s\"\n", argc > 0 ? argv[0] : "");
        cli_print_usage(stderr);
        return EXIT_USAGE;
    }
    struct cli_options options = {0};
    char *request = NULL, *socket_path = NULL, *answer = NULL;
    int status;
    switch (parse_arguments(command, argc, argv, &options)) {
    case PARSE_HELP:
        print_command_usage(command, stdout);
        status = EXIT_OK;
        goto done;
    case PARSE_USAGE_ERROR:
        print_command_usage(command, stderr);
        status = EXIT_USAGE;
        goto done;
    case PARSE_OK:
        break;
    }

    const char *problem = NULL;
    request = command->build(command, &options, &problem);
    if (!request) {
        fprintf(stderr, "dynsup-host %s: %s\n", command->name, problem ? problem : "out of memory");
        if (problem)
            print_command_usage(command, stderr);
        status = EXIT_USAGE;
        goto done;
    }
    status = resolve_socket_path(&options, command->name, &socket_path);
    if (status == EXIT_OK)
        status = cli_exchange(socket_path, command->name, request, &answer);
    if (status == EXIT_OK && options.all)
        status = cli_which_children_of_all(socket_path, command->name, &answer);
    if (status == EXIT_OK) {
        status = present_answer(command, &options, answer);
        fflush(stdout);
    }
done:
    free(answer);
    free(socket_path);
    free(request);
    free(options.operands);
    return status;
}
