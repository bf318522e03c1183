/*
 * sleeper: a long-running worker that does nothing until it is asked to
 * stop, the pattern every idle plugin follows: wait in
 * dynsup_wait_for_stop(), which costs no wake-up while nothing happens;
 * a plugin with work to do does a bounded piece of it, checks
 * dynsup_should_stop(), and repeats.
 *
 * Arguments (others, such as a supervisor's extra_arguments, are ignored):
 *   --exit-after-ms N   return 0 on its own after N milliseconds
 *   --ignore-stop       never honour a stop request (runs until SIGKILL;
 *                       for testing shutdown timeouts)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dynsup/plugin.h>

/* Sleeps the whole time, whatever signal comes (--ignore-stop). */
static void sleep_ms(long long ms)
{
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

static int parse_ms(const char *text, long long *ms)
{
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 0)
        return -1;
    *ms = value;
    return 0;
}

static int sleeper_run(dynsup_worker *w, int argc, char **argv)
{
    long long exit_after_ms = -1; /* -1: only on request */
    bool ignore_stop = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--ignore-stop") == 0) {
            ignore_stop = true;
        } else if (strcmp(argv[i], "--exit-after-ms") == 0) {
            if (i + 1 >= argc || parse_ms(argv[i + 1], &exit_after_ms) != 0) {
                dynsup_log(w, DYNSUP_LOG_ERROR, "--exit-after-ms needs a number of milliseconds");
                return 2;
            }
            i++;
        }
    }

    dynsup_log(w, DYNSUP_LOG_INFO, "sleeping%s", ignore_stop ? " (ignoring stop requests)" : "");
    if (ignore_stop && exit_after_ms < 0) {
        for (;;)
            pause(); /* until SIGKILL */
    } else if (ignore_stop) {
        sleep_ms(exit_after_ms);
    } else if (dynsup_wait_for_stop(w, (long)exit_after_ms) == 1) {
        dynsup_log(w, DYNSUP_LOG_INFO, "stopping");
        return 0;
    }
    dynsup_log(w, DYNSUP_LOG_INFO, "done after %lld ms", exit_after_ms);
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "sleeper",
    .version = "1.0.0",
    .run = sleeper_run,
};
