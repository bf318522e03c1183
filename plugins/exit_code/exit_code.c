/*
 * exit_code: ends the way it is told to, for testing restart policies.
 *
 * Arguments (any order; a supervisor's extra_arguments may come first):
 *   --delay-ms N   wait N milliseconds first (a stop request cuts the wait
 *                  short and the worker returns 0, as a well-behaved worker
 *                  does)
 *   --signal N     then kill itself with signal N (abnormal exit)
 *   --abort        then call abort()
 *   CODE           the last argument that is not an option: the exit
 *                  status, 0..255 (default 0)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <dynsup/plugin.h>

#define MAX_DELAY_MS 86400000 /* a day: anything longer is a typo */

static int parse_number(const char *text, long long max, long long *value)
{
    char *end;
    errno = 0;
    long long parsed = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || parsed < 0 || parsed > max)
        return -1;
    *value = parsed;
    return 0;
}

static int die_by_signal(dynsup_worker *w, int signal_number)
{
    dynsup_log(w, DYNSUP_LOG_INFO, "killing myself with signal %d", signal_number);
    /* The worker runtime catches SIGTERM (and a test may pick any signal):
     * restore the default action and unblock it so the signal really ends
     * the process. */
    signal(signal_number, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, signal_number);
    sigprocmask(SIG_UNBLOCK, &only, NULL);
    raise(signal_number);
    dynsup_log(w, DYNSUP_LOG_ERROR, "still alive after signal %d", signal_number);
    return 1;
}

static int exit_code_run(dynsup_worker *w, int argc, char **argv)
{
    long long delay_ms = 0, code = 0, signal_number = 0;
    bool do_abort = false;
    const char *code_text = NULL;
    for (int i = 0; i < argc; i++) {
        const char *option = argv[i];
        if (strcmp(option, "--abort") == 0) {
            do_abort = true;
        } else if (strcmp(option, "--delay-ms") == 0) {
            if (i + 1 >= argc || parse_number(argv[i + 1], MAX_DELAY_MS, &delay_ms) != 0) {
                dynsup_log(w, DYNSUP_LOG_ERROR, "--delay-ms needs a number of milliseconds");
                return 2;
            }
            i++;
        } else if (strcmp(option, "--signal") == 0) {
            if (i + 1 >= argc || parse_number(argv[i + 1], SIGRTMAX, &signal_number) != 0 ||
                signal_number == 0) {
                dynsup_log(w, DYNSUP_LOG_ERROR, "--signal needs a signal number 1..%d", SIGRTMAX);
                return 2;
            }
            i++;
        } else {
            code_text = option;
        }
    }
    if (code_text != NULL && parse_number(code_text, 255, &code) != 0) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "last argument \"%s\" is not an exit code 0..255", code_text);
        return 2;
    }

    if (delay_ms > 0 && dynsup_wait_for_stop(w, (long)delay_ms) != 0) {
        dynsup_log(w, DYNSUP_LOG_INFO, "stopping");
        return 0;
    }
    if (signal_number != 0)
        return die_by_signal(w, (int)signal_number);
    if (do_abort) {
        dynsup_log(w, DYNSUP_LOG_INFO, "aborting");
        abort();
    }
    dynsup_log(w, DYNSUP_LOG_INFO, "exiting with %lld", code);
    return (int)code;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "exit_code",
    .version = "1.0.0",
    .run = exit_code_run,
};
