/*
 * dynsup-host: `run` and `check` are the daemon; every other command is a
 * client of its control socket (cli.c).
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dynsup/plugin.h"
#include "spawner.h"
#include "host.h"
#include "host_notify.h"
#include "metrics_http.h"
#include "log.h"

static void print_daemon_usage(FILE *out, const char *command)
{
    if (strcmp(command, "run") == 0)
        fprintf(out, "usage: dynsup-host run [-c CONFIG] [--log-level LEVEL]\n"
                     "Run the host in the foreground. SIGTERM, SIGINT or the stop request stop\n"
                     "every child in parallel and exit 0. Log lines go to stderr; under the\n"
                     "systemd journal (JOURNAL_STREAM) each starts with its <priority>.\n"
                     "  --log-level LEVEL     debug, info, notice, warning or error: lines below\n"
                     "                        it are dropped (wins over [host] log_level; default info)\n");
    else
        fprintf(out, "usage: dynsup-host check [-c CONFIG]\n"
                     "Validate the config and every plugin; print every error; exit 2 on any.\n");
    fprintf(out, "  -c, --config CONFIG   host config file (default: %s)\n"
                 "  -h, --help            this help\n",
            cli_default_config());
}

static int daemon_command(int argc, char **argv)
{
    const char *command = argv[0];
    const char *config_path = cli_default_config();
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"log-level", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    bool is_run = strcmp(command, "run") == 0;
    optind = 1;
    opterr = 0; /* worded below, like the client commands' */
    int option;
    while ((option = getopt_long(argc, argv, "+:c:h", options, NULL)) != -1) {
        switch (option) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            print_daemon_usage(stdout, command);
            return EXIT_OK;
        case 'l':
            if (!is_run || log_level_parse(optarg) < 0) {
                fprintf(stderr, is_run ? "dynsup-host run: --log-level: expected debug, info, "
                                         "notice, warning or error, found \"%s\"\n"
                                       : "dynsup-host check: --log-level is only for run\n",
                        optarg);
                print_daemon_usage(stderr, command);
                return EXIT_USAGE;
            }
            log_set_threshold(log_level_parse(optarg));
            break;
        case ':':
            fprintf(stderr, "dynsup-host %s: option %s needs a value\n", command, argv[optind - 1]);
            print_daemon_usage(stderr, command);
            return EXIT_USAGE;
        default:
            if (optopt != 0)
                fprintf(stderr, "dynsup-host %s: unknown option -%c\n", command, optopt);
            else
                fprintf(stderr, "dynsup-host %s: unknown option %s\n", command, argv[optind - 1]);
            print_daemon_usage(stderr, command);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "dynsup-host %s: unexpected argument \"%s\"\n", command, argv[optind]);
        print_daemon_usage(stderr, command);
        return EXIT_USAGE;
    }
    if (!is_run)
        return host_check(config_path);
    log_set_priority_prefix(log_stderr_is_journal());
    return host_run(config_path);
}

/* One line a script can parse, then what this build can do: optional
 * libraries leave features out (cmake/DynsupOptionalDeps.cmake). */
static void print_version(void)
{
    printf("dynsup-host %s\n"
           "plugin ABI %u\n"
           "sd_notify (systemd readiness, watchdog): %s\n"
           "metrics endpoint (libmicrohttpd): %s\n",
           DYNSUP_VERSION, DYNSUP_PLUGIN_ABI_VERSION,
           host_notify_built() ? "built" : "not built (no libsystemd at build time)",
           metrics_http_built() ? "built" : "not built (no libmicrohttpd at build time)");
}

/* A host started with stdin, stdout or stderr closed would hand those
 * numbers to its first sockets, and log lines would land in them. */
static void ensure_standard_descriptors(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1)
            continue;
        int opened = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (opened >= 0 && opened != fd) {
            dup2(opened, fd);
            close(opened);
        }
    }
}

int main(int argc, char **argv)
{
    ensure_standard_descriptors();
    if (argc < 2) {
        cli_print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    /* A spawner, exec'ed by the host (spawner.c): not a command for people. */
    if (strcmp(command, SPAWNER_EXEC_MARK) == 0)
        return spawner_exec_main(argc, argv);
    if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0 || strcmp(command, "help") == 0) {
        cli_print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "-V") == 0 ||
        strcmp(command, "version") == 0) {
        print_version();
        return EXIT_OK;
    }
    if (strcmp(command, "run") == 0 || strcmp(command, "check") == 0)
        return daemon_command(argc - 1, argv + 1);
    if (cli_is_client_command(command))
        return cli_client_main(argc - 1, argv + 1);
    fprintf(stderr, "dynsup-host: unknown command \"%s\"\n", command);
    cli_print_usage(stderr);
    return EXIT_USAGE;
}
