/*
 * versioned: a test plugin built twice, as 1.0.0 and 1.1.0
 * (test-plugins/versions/1.0 and 1.1), for the live upgrade tests
 * (tests/integration/test_reload.py). Never installed.
 *
 * It logs "versioned VERSION running" when it starts and "versioned
 * VERSION stopping" when asked to stop, so a test can tell which
 * generation's code a worker runs from its first line to its last. The
 * 1.1.0 build carries extra code ahead of run(), so its functions sit at
 * other offsets: a worker whose mapped file was overwritten in place
 * would jump into the wrong code.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <dynsup/plugin.h>

/* A plugin that can no longer be loaded from some moment on (a relaunch
 * that fails): once the file VERSIONED_REFUSE_LOAD names exists, loading
 * it aborts the process that loads it. */
__attribute__((constructor)) static void versioned_loaded(void)
{
    const char *refuse = getenv("VERSIONED_REFUSE_LOAD");
    if (refuse && access(refuse, F_OK) == 0)
        abort();
}

#ifndef VERSIONED_VERSION
#define VERSIONED_VERSION "1.0.0"
#endif

#ifdef VERSIONED_PADDING
/* Never called: it only moves the code after it. */
__attribute__((used, noinline)) int versioned_padding(int value);
__attribute__((used, noinline)) int versioned_padding(int value)
{
    volatile int sum = value;
    for (int i = 0; i < 100; i++) {
        sum = sum * 31 + i; sum ^= sum >> 3; sum += 7; sum = sum * 17 - i; sum ^= sum << 5;
        sum = sum * 13 + i; sum ^= sum >> 7; sum += 3; sum = sum * 11 - i; sum ^= sum << 2;
    }
    return sum;
}
#endif

static int versioned_run(dynsup_worker *w, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    dynsup_log(w, DYNSUP_LOG_INFO, "versioned %s running", VERSIONED_VERSION);
    dynsup_wait_for_stop(w, -1);
    dynsup_log(w, DYNSUP_LOG_INFO, "versioned %s stopping", VERSIONED_VERSION);
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "versioned",
    .version = VERSIONED_VERSION,
    .run = versioned_run,
};
