/*
 * rogue: a test plugin that reaches past itself in the ways SPEC §9 says a
 * worker must not be able to (tests/integration/test_containment.py).
 * Never installed.
 *
 * The first argument that is a mode (others, such as extra_arguments, are
 * skipped) says what it does in run(), then it sleeps until asked to stop:
 *
 *   fork            fork() a child that sleeps (pause) forever
 *   system          system("sleep 1000 &"): a background shell job
 *   popen           popen("sleep 1000") and never pclose it
 *   daemon          fork, setsid, fork: a grandchild in a session of its own
 *                   (the middle process waits for its "descendant" line)
 *   kill-group SIG  kill(0, SIG): the shell idiom `trap 'kill 0' EXIT`
 *   wait-elsewhere  dynsup_wait_for_stop() in a second thread, while the
 *                   main one (which the SIGTERM reaches) joins it: logs
 *                   "waited N ms for a stop: R" (a 200 ms timeout), then
 *                   waits for the stop
 *   open FILE       (in init) open FILE, write "init\n"; run writes
 *                   "fd N\n" with the descriptor it got, then "run\n"
 *   close-open FILE (in init) close every descriptor above 2 that it did
 *                   not open, then as `open` (descriptors it believes foreign)
 *
 * Every process it forks writes "descendant PID" on stdout, so the test
 * knows which pids to look for.
 *
 * DYNSUP_TEST_ROGUE_BLOCK_FORK=PATH in the host's environment: while PATH
 * exists, a fork in the plugin's process blocks in a pthread_atfork
 * handler (a stuck plugin process).
 */


#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <dynsup/plugin.h>

static int file_fd = -1;

/* Says its pid, then closes `said_fd` (-1: none) to tell whoever waits
 * for the line that it is out, and sleeps for ever. */
static _Noreturn void descendant_forever(int said_fd)
{
    printf("descendant %d\n", (int)getpid());
    fflush(stdout);
    if (said_fd >= 0)
        close(said_fd);
    for (;;)
        pause();
}

static long long monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* wait-elsewhere: the stop is awaited by a second thread while the main
 * thread waits for it in pthread_join: the kernel hands a process's
 * SIGTERM to the main thread first, so the waiting thread never receives
 * the signal, and its wait must end anyway. */
static void *wait_off_the_main_thread(void *worker)
{
    dynsup_worker *w = worker;
    long long before = monotonic_ms();
    int answer = dynsup_wait_for_stop(w, 200);
    dynsup_log(w, DYNSUP_LOG_INFO, "waited %lld ms for a stop: %d", monotonic_ms() - before, answer);
    answer = dynsup_wait_for_stop(w, -1);
    dynsup_log(w, DYNSUP_LOG_INFO, "the stop reached the waiting thread: %d", answer);
    return answer == 1 ? w : NULL;
}

static int wait_in_a_thread_the_signal_misses(dynsup_worker *w)
{
    pthread_t waiter;
    void *result = NULL;
    if (pthread_create(&waiter, NULL, wait_off_the_main_thread, w) != 0 ||
        pthread_join(waiter, &result) != 0)
        return 4;
    return result ? 0 : 5;
}

static const char *block_path;

static void block_while_marked(void)
{
    struct stat info;
    while (block_path && stat(block_path, &info) == 0) {
        struct timespec step = {.tv_sec = 0, .tv_nsec = 50 * 1000000};
        nanosleep(&step, NULL);
    }
}

__attribute__((constructor)) static void rogue_loaded(void)
{
    block_path = getenv("DYNSUP_TEST_ROGUE_BLOCK_FORK");
    if (block_path)
        pthread_atfork(block_while_marked, NULL, NULL);
}

static int find_mode(int argc, char **argv, const char *mode)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], mode) == 0)
            return i;
    return -1;
}

static int rogue_init(dynsup_worker *w, int argc, char **argv)
{
    int at = find_mode(argc, argv, "open");
    int closing = find_mode(argc, argv, "close-open");
    if (closing >= 0) {
        syscall(SYS_close_range, 3u, ~0u, 0u);
        at = closing;
    }
    if (at < 0)
        return 0;
    if (at + 1 >= argc) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "open needs a file");
        return 2;
    }
    file_fd = open(argv[at + 1], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (file_fd < 0 || write(file_fd, "init\n", 5) != 5)
        return 3;
    return 0;
}

static int rogue_run(dynsup_worker *w, int argc, char **argv)
{
    if (file_fd >= 0) {
        dprintf(file_fd, "fd %d\nrun\n", file_fd);
    } else if (find_mode(argc, argv, "wait-elsewhere") >= 0) {
        return wait_in_a_thread_the_signal_misses(w);
    } else if (find_mode(argc, argv, "fork") >= 0) {
        if (fork() == 0)
            descendant_forever(-1);
    } else if (find_mode(argc, argv, "system") >= 0) {
        if (system("sleep 1000 & echo descendant $!") != 0)
            return 4;
    } else if (find_mode(argc, argv, "popen") >= 0) {
        FILE *pipe = popen("echo descendant $$ >&2; exec sleep 1000", "r");
        if (!pipe)
            return 4;
    } else if (find_mode(argc, argv, "daemon") >= 0) {
        /* The middle process leaves only once the daemon said its pid:
         * from then on the daemon is adopted by the runtime, which kills
         * it whenever it next looks, and a test must know every pid it
         * checks (it once looked before the line was written). */
        int said[2];
        if (pipe(said) != 0)
            return 4;
        pid_t middle = fork();
        if (middle == 0) {
            setsid();
            if (fork() == 0) {
                close(said[0]);
                descendant_forever(said[1]);
            }
            close(said[1]);
            char ignored;
            while (read(said[0], &ignored, 1) < 0 && errno == EINTR)
                ;
            _exit(0);
        }
        close(said[0]);
        close(said[1]);
    } else {
        int at = find_mode(argc, argv, "kill-group");
        if (at >= 0 && at + 1 < argc) {
            dynsup_log(w, DYNSUP_LOG_INFO, "kill(0, %s)", argv[at + 1]);
            kill(0, atoi(argv[at + 1]));
        }
    }
    dynsup_log(w, DYNSUP_LOG_INFO, "running");
    dynsup_wait_for_stop(w, -1);
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "rogue",
    .version = "1.0.0",
    .init = rogue_init,
    .run = rogue_run,
};
