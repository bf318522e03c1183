/*
 * baseline: what tools/bench compares dynsup with. The same work as a
 * supervisor does per figure, with no supervisor logic at all: a tiny
 * process forks children that write one byte (or a timestamp) on a pipe.
 *
 *   baseline throughput N      fork → child acks and exits → read ack → waitpid,
 *                              N times in a loop; prints the total in ns
 *   baseline latency N         fork → ack read, N times (waitpid outside the
 *                              timed part); prints one sample (ns) per line
 *   baseline restart N         a child that sleeps; N times: kill -9 → waitpid
 *                              (notice) → fork → the new child writes its
 *                              CLOCK_MONOTONIC entry time; prints entry - kill (ns)
 *   baseline stop N            N children ack and sleep until SIGTERM; then
 *                              SIGTERM to each and reap all; prints that time (ns)
 *   baseline command N PROG..  fork + exec PROG + waitpid, N times; prints samples
 *
 * --load FILE.so (repeatable, before the figure) dlopens FILE first: the
 * same loop from a process that holds what dynsup's spawner holds, which
 * tells the cost of forking a bigger process from the cost of supervising.
 *
 * Every child dies with this process (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void fail(const char *what)
{
    fprintf(stderr, "baseline: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void write_all(int fd, const void *data, size_t length)
{
    while (write(fd, data, length) < 0 && errno == EINTR)
        ;
}

static void read_exactly(int fd, void *data, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t n = read(fd, (char *)data + done, length - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail("read");
        done += (size_t)n;
    }
}

static void on_term(int signal_number)
{
    (void)signal_number;
}

/* Child side of "ack and sleep until SIGTERM". */
static _Noreturn void sleep_until_term(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigsuspend(&none);
    _exit(0);
}

static pid_t fork_child(void)
{
    pid_t pid = fork();
    if (pid < 0)
        fail("fork");
    if (pid == 0)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    return pid;
}

static void run_throughput(long count)
{
    int ack[2];
    if (pipe(ack) < 0)
        fail("pipe");
    int64_t start = monotonic_ns();
    for (long i = 0; i < count; i++) {
        pid_t pid = fork_child();
        if (pid == 0) {
            write_all(ack[1], "x", 1);
            _exit(0);
        }
        char byte;
        read_exactly(ack[0], &byte, 1);
        waitpid(pid, NULL, 0);
    }
    printf("%lld\n", (long long)(monotonic_ns() - start));
}

static void run_latency(long count)
{
    int ack[2];
    if (pipe(ack) < 0)
        fail("pipe");
    for (long i = 0; i < count; i++) {
        int64_t start = monotonic_ns();
        pid_t pid = fork_child();
        if (pid == 0) {
            write_all(ack[1], "x", 1);
            _exit(0);
        }
        char byte;
        read_exactly(ack[0], &byte, 1);
        int64_t acked = monotonic_ns();
        waitpid(pid, NULL, 0);
        printf("%lld\n", (long long)(acked - start));
    }
}

static pid_t start_timestamped_sleeper(int report_fd)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        int64_t entered = monotonic_ns();
        write_all(report_fd, &entered, sizeof entered);
        sleep_until_term();
    }
    return pid;
}

static void run_restart(long count)
{
    int report[2];
    if (pipe(report) < 0)
        fail("pipe");
    int64_t entered;
    pid_t pid = start_timestamped_sleeper(report[1]);
    read_exactly(report[0], &entered, sizeof entered);
    for (long i = 0; i < count; i++) {
        int64_t killed_at = monotonic_ns();
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = start_timestamped_sleeper(report[1]);
        read_exactly(report[0], &entered, sizeof entered);
        printf("%lld\n", (long long)(entered - killed_at));
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Starts count children that ack, then sleep until SIGTERM; returns their
 * pids (calloc'ed) once every one is asleep. */
static pid_t *start_sleepers(long count)
{
    pid_t *pids = calloc((size_t)count, sizeof *pids);
    if (!pids)
        fail("calloc");
    int ack[2];
    if (pipe(ack) < 0)
        fail("pipe");
    for (long i = 0; i < count; i++) {
        pids[i] = fork_child();
        if (pids[i] == 0) {
            write_all(ack[1], "x", 1);
            sleep_until_term();
        }
    }
    for (long i = 0; i < count; i++) { /* every one asleep before the figure */
        char byte;
        read_exactly(ack[0], &byte, 1);
    }
    close(ack[0]);
    close(ack[1]);
    return pids;
}

static void run_stop(long count)
{
    /* Children inherit the handler and the blocked SIGTERM, so none can
     * miss its SIGTERM between the ack and sigsuspend. */
    struct sigaction action = {.sa_handler = on_term};
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
    pid_t *pids = start_sleepers(count);
    int64_t start = monotonic_ns();
    for (long i = 0; i < count; i++)
        kill(pids[i], SIGTERM);
    for (long i = 0; i < count; i++)
        if (wait(NULL) < 0)
            fail("wait");
    printf("%lld\n", (long long)(monotonic_ns() - start));
    free(pids);
}

static void run_command(long count, char **argv)
{
    for (long i = 0; i < count; i++) {
        int64_t start = monotonic_ns();
        pid_t pid = fork_child();
        if (pid == 0) {
            execvp(argv[0], argv);
            _exit(127);
        }
        int status;
        waitpid(pid, &status, 0);
        int64_t done = monotonic_ns();
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "baseline: %s failed (status %d)\n", argv[0], status);
            exit(1);
        }
        printf("%lld\n", (long long)(done - start));
    }
}

/* --live N: N children (start_sleepers) that sleep through the figure and
 * are killed after it (stop_live), as a supervisor's
 * live workers do. A restart among thousands of processes that share the
 * parent's pages costs the kernel more than one alone (every fork and exit
 * updates the reverse maps those pages share, and whatever walks them,
 * reclaim or a memory monitor, walks them all); dynsup measured with N
 * live workers compares with this. */
static void stop_live(pid_t *pids, long count)
{
    for (long i = 0; i < count; i++)
        kill(pids[i], SIGKILL);
    for (long i = 0; i < count; i++)
        waitpid(pids[i], NULL, 0);
    free(pids);
}

int main(int argc, char **argv)
{
    long live = 0;
    while (argc > 2 && (strcmp(argv[1], "--load") == 0 || strcmp(argv[1], "--live") == 0)) {
        if (strcmp(argv[1], "--live") == 0) {
            live = strtol(argv[2], NULL, 10);
        } else if (!dlopen(argv[2], RTLD_NOW | RTLD_LOCAL)) {
            fprintf(stderr, "baseline: %s\n", dlerror());
            return 1;
        }
        argc -= 2;
        argv += 2;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: baseline [--load FILE.so]... [--live N] throughput|latency|restart|stop N | command N PROG [ARG...]\n");
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    if (count <= 0) {
        fprintf(stderr, "baseline: N must be a positive number\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (live > 0 && strcmp(argv[1], "restart") != 0) {
        fprintf(stderr, "baseline: --live goes with restart only\n");
        return 2;
    }
    pid_t *live_pids = live > 0 ? start_sleepers(live) : NULL;
    if (strcmp(argv[1], "throughput") == 0)
        run_throughput(count);
    else if (strcmp(argv[1], "latency") == 0)
        run_latency(count);
    else if (strcmp(argv[1], "restart") == 0)
        run_restart(count);
    else if (strcmp(argv[1], "stop") == 0)
        run_stop(count);
    else if (strcmp(argv[1], "command") == 0 && argc > 3)
        run_command(count, argv + 3);
    else {
        fprintf(stderr, "baseline: unknown figure %s\n", argv[1]);
        return 2;
    }
    if (live_pids)
        stop_live(live_pids, live);
    return 0;
}
