/*
 * initcheck: a plugin with an init step whose answer is chosen by its
 * first argument, for testing start_child's ok / ignore / init_failed
 * answers and failed restarts. (Use it under a supervisor without
 * extra_arguments, or those come first.)
 *
 * First argument, read by init:
 *   ok                    init returns 0
 *   ignore                init returns DYNSUP_IGNORE
 *   fail                  init logs "init failed on request" and returns 1
 *   crash                 init calls abort()
 *   slow=N                init sleeps N ms, then returns 0
 *   fail-if-exists=PATH   init fails if PATH exists, else returns 0
 *   fail-if-missing=PATH  init fails unless PATH exists
 * (a test makes restarts fail or succeed by creating or removing PATH).
 *
 * Then run sleeps until asked to stop, like sleeper. After the first
 * argument it accepts:
 *   --exit-after-ms N     return on its own after N ms (default: never)
 *   --exit-code N         the status to return then (default 0; without
 *                         --exit-after-ms, run returns it at once)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dynsup/plugin.h>

#define USAGE "ok, ignore, fail, crash, slow=N, fail-if-exists=PATH or fail-if-missing=PATH"

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

static const char *value_after(const char *argument, const char *prefix)
{
    size_t length = strlen(prefix);
    return strncmp(argument, prefix, length) == 0 ? argument + length : NULL;
}

static int initcheck_init(dynsup_worker *w, int argc, char **argv)
{
    if (argc < 1) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "init failed: first argument missing (" USAGE ")");
        return 1;
    }
    const char *mode = argv[0];
    const char *value;
    if (strcmp(mode, "ok") == 0)
        return 0;
    if (strcmp(mode, "ignore") == 0) {
        dynsup_log(w, DYNSUP_LOG_INFO, "nothing to do: ignore");
        return DYNSUP_IGNORE;
    }
    if (strcmp(mode, "fail") == 0) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "init failed on request");
        return 1;
    }
    if (strcmp(mode, "crash") == 0) {
        dynsup_log(w, DYNSUP_LOG_INFO, "crashing in init on request");
        abort();
    }
    if ((value = value_after(mode, "slow=")) != NULL) {
        long long ms;
        if (parse_number(value, INT_MAX, &ms) != 0) {
            dynsup_log(w, DYNSUP_LOG_ERROR, "init failed: slow= needs a number of milliseconds");
            return 1;
        }
        dynsup_wait_for_stop(w, (long)ms);
        return 0;
    }
    if ((value = value_after(mode, "fail-if-exists=")) != NULL) {
        if (access(value, F_OK) == 0) {
            dynsup_log(w, DYNSUP_LOG_ERROR, "init failed: %s exists", value);
            return 1;
        }
        return 0;
    }
    if ((value = value_after(mode, "fail-if-missing=")) != NULL) {
        if (access(value, F_OK) != 0) {
            dynsup_log(w, DYNSUP_LOG_ERROR, "init failed: %s is missing", value);
            return 1;
        }
        return 0;
    }
    dynsup_log(w, DYNSUP_LOG_ERROR, "init failed: unknown first argument \"%s\" (" USAGE ")", mode);
    return 1;
}

static int initcheck_run(dynsup_worker *w, int argc, char **argv)
{
    long long exit_after_ms = -1, exit_code = -1;
    for (int i = 1; i < argc; i++) {
        bool is_delay = strcmp(argv[i], "--exit-after-ms") == 0;
        if (!is_delay && strcmp(argv[i], "--exit-code") != 0)
            continue;
        long long *target = is_delay ? &exit_after_ms : &exit_code;
        if (i + 1 >= argc || parse_number(argv[i + 1], is_delay ? INT_MAX : 255, target) != 0) {
            dynsup_log(w, DYNSUP_LOG_ERROR, "%s needs a number", argv[i]);
            return 2;
        }
        i++;
    }

    long long wait_ms = -1; /* until asked to stop */
    if (exit_after_ms >= 0)
        wait_ms = exit_after_ms;
    else if (exit_code >= 0)
        wait_ms = 0; /* --exit-code alone: return it at once */
    if (exit_code < 0)
        exit_code = 0;
    if (dynsup_wait_for_stop(w, (long)wait_ms) == 1) {
        dynsup_log(w, DYNSUP_LOG_INFO, "stopping");
        return 0;
    }
    dynsup_log(w, DYNSUP_LOG_INFO, "exiting with %lld", exit_code);
    return (int)exit_code;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "initcheck",
    .version = "1.0.0",
    .init = initcheck_init,
    .run = initcheck_run,
};
