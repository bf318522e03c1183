/*
 * death_notice: how soon another process can know that a SIGKILLed
 * process died (docs/benchmarks.md, issue 13 item 5).
 *
 *   death_notice [--load FILE.so]... N
 *
 * N times: forks a victim that takes a process-shared robust mutex and
 * sleeps; a watcher process blocks on the same mutex; the parent kills the
 * victim with SIGKILL and waits for it. Prints per kill, in ns from the
 * kill: when the parent's waitpid returned (what SIGCHLD, waitid and a
 * pidfd tell: the kernel's exit_notify, after the victim's address space
 * was torn down) and when the watcher held the mutex (the kernel walks a
 * dying task's robust list at the start of exit_mm, before the teardown).
 * --load dlopens FILE first, so the victim has a bigger address space, as
 * a worker forked from a spawner has.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
    pthread_mutex_t life;   /* held by the living victim */
    volatile int64_t noticed_ns;
};

static int64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void fail(const char *what)
{
    fprintf(stderr, "death_notice: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void send_byte(int fd)
{
    while (write(fd, "x", 1) < 0)
        if (errno != EINTR)
            fail("write");
}

static int receive_byte(int fd)
{
    char byte;
    ssize_t n;
    while ((n = read(fd, &byte, 1)) < 0 && errno == EINTR)
        ;
    return n == 1;
}

static void take(pthread_mutex_t *mutex)
{
    if (pthread_mutex_lock(mutex) == EOWNERDEAD)
        pthread_mutex_consistent(mutex);
}

int main(int argc, char **argv)
{
    while (argc > 2 && strcmp(argv[1], "--load") == 0) {
        if (!dlopen(argv[2], RTLD_NOW | RTLD_LOCAL)) {
            fprintf(stderr, "death_notice: %s\n", dlerror());
            return 1;
        }
        argc -= 2;
        argv += 2;
    }
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    if (count <= 0) {
        fprintf(stderr, "usage: death_notice [--load FILE.so]... N\n");
        return 2;
    }
    struct shared *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        fail("mmap");
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&shared->life, &attributes);
    int go[2], ready[2], noticed[2];
    if (pipe(go) < 0 || pipe(ready) < 0 || pipe(noticed) < 0)
        fail("pipe");
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    pid_t watcher = fork();
    if (watcher < 0)
        fail("fork");
    if (watcher == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        while (receive_byte(go[0])) {
            take(&shared->life); /* blocks while the victim lives */
            shared->noticed_ns = monotonic_ns();
            pthread_mutex_unlock(&shared->life);
            send_byte(noticed[1]);
        }
        _exit(0);
    }
    for (long i = 0; i < count; i++) {
        pid_t victim = fork();
        if (victim < 0)
            fail("fork");
        if (victim == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            take(&shared->life);
            send_byte(ready[1]);
            for (;;)
                pause();
        }
        receive_byte(ready[0]);
        send_byte(go[1]);
        struct timespec settle = {0, 2000000}; /* the watcher is asleep in the lock */
        nanosleep(&settle, NULL);
        int64_t killed = monotonic_ns();
        kill(victim, SIGKILL);
        waitpid(victim, NULL, 0);
        int64_t reaped = monotonic_ns();
        receive_byte(noticed[0]);
        printf("%lld %lld\n", (long long)(reaped - killed), (long long)(shared->noticed_ns - killed));
    }
    kill(watcher, SIGKILL);
    waitpid(watcher, NULL, 0);
    return 0;
}
