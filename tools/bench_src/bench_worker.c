/*
 * bench_worker: the worker tools/bench starts under dynsup. Built by the
 * bench itself (cc -shared -fPIC -I core/include), never installed.
 *
 * Arguments (any order):
 *   --exit            return 0 as soon as run is entered
 *   --report PATH     on entering run, send one datagram to the Unix
 *                     datagram socket PATH: "PID MONOTONIC_NS\n", the
 *                     CLOCK_MONOTONIC time at which run was entered
 *   (otherwise)       wait until asked to stop (SIGTERM), then return 0
 *
 * Why a datagram socket opened by path: a worker holds no descriptor but
 * 0, 1 and 2, so the moment "run entered" must leave the worker through
 * something it opens itself; a datagram is one syscall, never blocks the
 * worker on a slow reader, and keeps the reading side simple.
 *
 * The wait uses sigsuspend with SIGTERM blocked in between, so a SIGTERM
 * landing between the check and the wait cannot be lost: an idle worker
 * costs no wake-up at all.
 */
#define _GNU_SOURCE

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <dynsup/plugin.h>

static void report_run_entered(const char *path)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    char message[64];
    int length = snprintf(message, sizeof message, "%d %lld\n", (int)getpid(),
                          (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path)
        return;
    strcpy(address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sendto(fd, message, (size_t)length, 0, (struct sockaddr *)&address, sizeof address);
    close(fd);
}

static void wait_for_stop(dynsup_worker *w)
{
    sigset_t term, previous;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &previous);
    sigset_t waiting = previous;
    sigdelset(&waiting, SIGTERM);
    while (!dynsup_should_stop(w))
        sigsuspend(&waiting);
    sigprocmask(SIG_SETMASK, &previous, NULL);
}

static int bench_worker_run(dynsup_worker *w, int argc, char **argv)
{
    bool exit_at_once = false;
    const char *report_path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--exit") == 0)
            exit_at_once = true;
        else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
            report_path = argv[++i];
    }
    if (report_path)
        report_run_entered(report_path);
    if (exit_at_once)
        return 0;
    wait_for_stop(w);
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "bench_worker",
    .version = "1.0.0",
    .run = bench_worker_run,
};
