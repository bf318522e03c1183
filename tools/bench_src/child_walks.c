/*
 * child_walks N: what a process with N children pays the kernel for the two
 * walks of its children a spawner makes: reading /proc/self/task/PID/children
 * (the sweep for escaped daemons) and a waitid(P_ALL) that finds nothing (the
 * look for exits whose SIGCHLDs merged). Prints 5 measurements of each.
 *
 *   cc -std=c11 -O2 -o child_walks tools/bench_src/child_walks.c && ./child_walks 10000
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    if (count <= 0) {
        fprintf(stderr, "usage: child_walks N\n");
        return 2;
    }
    pid_t *children = calloc((size_t)count, sizeof *children);
    if (!children) {
        perror("calloc");
        return 1;
    }
    for (long i = 0; i < count; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            pause();
            _exit(0);
        }
        children[i] = pid;
    }
    sleep(1); /* every child asleep */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    for (int round = 0; round < 5; round++) {
        int64_t start = now_ns();
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        static char buffer[2048];
        long bytes = 0, reads = 0;
        ssize_t length;
        while (fd >= 0 && (length = read(fd, buffer, sizeof buffer)) > 0) {
            bytes += length;
            reads++;
        }
        if (fd >= 0)
            close(fd);
        int64_t listed = now_ns();
        siginfo_t info;
        memset(&info, 0, sizeof info);
        waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
        int64_t walked = now_ns();
        printf("list of children: %ld bytes in %ld reads, %.2f ms; waitid(P_ALL) finding none: "
               "%.3f ms\n", bytes, reads, (double)(listed - start) / 1e6,
               (double)(walked - listed) / 1e6);
        fflush(stdout);
    }
    for (long i = 0; i < count; i++)
        kill(children[i], SIGKILL);
    while (wait(NULL) > 0)
        ;
    free(children);
    return 0;
}
