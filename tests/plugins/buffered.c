/*
 * buffered: a test plugin that leaves output in stdio's buffers when its
 * worker ends, for the runtime to flush (tests/integration/test_workers.py).
 * Never installed.
 *
 * Arguments, in any order:
 *   stop        run waits until asked to stop (otherwise it returns at once)
 *   threaded    a second thread runs (the process is not single-threaded)
 *   wide        stdout is wide-oriented (wprintf)
 *   quiet       writes nothing at all
 *   file=PATH   also fopen PATH and write a line to it, never fclose'd
 *
 * Otherwise it writes "buffered line from PID" and then "unfinished PID"
 * without a newline on stdout, which is a pipe and so fully buffered: both
 * are still in the process's memory when run returns.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <dynsup/plugin.h>

static void *idle_thread(void *unused)
{
    (void)unused;
    for (;;)
        pause();
    return NULL;
}

static int buffered_run(dynsup_worker *w, int argc, char **argv)
{
    int stop = 0, threaded = 0, wide = 0, quiet = 0;
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        stop |= strcmp(argv[i], "stop") == 0;
        threaded |= strcmp(argv[i], "threaded") == 0;
        wide |= strcmp(argv[i], "wide") == 0;
        quiet |= strcmp(argv[i], "quiet") == 0;
        if (strncmp(argv[i], "file=", 5) == 0)
            path = argv[i] + 5;
    }
    if (threaded) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, idle_thread, NULL) != 0)
            return 2;
        pthread_detach(thread);
    }
    if (path) {
        FILE *file = fopen(path, "w");
        if (!file)
            return 3;
        fprintf(file, "buffered file line from %d\n", (int)getpid());
    }
    if (!quiet && wide) {
        wprintf(L"buffered line from %d\n", (int)getpid());
        wprintf(L"unfinished %d", (int)getpid());
    } else if (!quiet) {
        printf("buffered line from %d\n", (int)getpid());
        printf("unfinished %d", (int)getpid());
    }
    if (stop)
        dynsup_wait_for_stop(w, -1);
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "buffered",
    .version = "1.0.0",
    .run = buffered_run,
};
