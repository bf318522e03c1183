/*
 * A worker process from fork to exit. The order matters:
 *
 * 1. Parent-death signal first, then compare getppid() with the parent we
 *    were forked by: if the spawner died between fork and prctl we would
 *    otherwise live on as an orphan nobody supervises.
 * 2. Descriptors: the process was forked, not exec'ed, so close-on-exec
 *    flags mean nothing here. Everything but stdin, the output pipe (as
 *    stdout and stderr) and the report pipe is closed explicitly.
 * 3. Signals: the spawner blocks the ones meant for the host and had all
 *    of them blocked around fork; a plugin must start from defaults (and
 *    the SIGTERM handler, installed in the spawner and inherited).
 * 4. init, then its answer on the report pipe (closed right after, so the
 *    host holds one descriptor per running worker), then run.
 *
 * Steps 1-3 (worker_prepare) may run ahead of the request, in a spare
 * (spawner.c); step 4 (worker_become) runs once the job is known.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define WORKER_READS_STDIO_LIST 1
#include <dlfcn.h>
#include <sys/single_threaded.h>
#endif

#include "hop_trace.h"
#include "monotonic_deadline.h"
#include "spawner.h"
#include "supervisor.h"
#include "worker_environment.h"

/* Where the runtime's descriptors go when the limit is too small to keep
 * them out of the way (worker_set_up_descriptors). */
#define LOW_REPORT_FD 3
#define LOW_JOB_FD 4

static int report_fd = LOW_REPORT_FD;
int worker_job_fd = LOW_JOB_FD;
/* The report pipe as the runtime made it: a plugin may have closed it and
 * opened a file of its own under the same number, which must never
 * receive the runtime's record. */
static dev_t report_device;
static ino_t report_inode;

/* Atomic (lock-free, so safe in the handler) rather than sig_atomic_t:
 * a thread that waits in worker_wait_for_stop sleeps on this word as a
 * futex, and the handler may run in another thread. */
static _Atomic int stop_requested;
static _Atomic int stop_waiters; /* threads in worker_wait_for_stop */
/* A SIGTERM from anyone but the supervisor still stops the worker cleanly,
 * but its exit must read as abnormal (SPEC: killed by a signal the
 * supervisor did not send): the worker then ends by that SIGTERM. */
static volatile sig_atomic_t stopped_by_outsider;
static pid_t supervisor_pid;
static int initialising;
static char init_error[sizeof(((struct worker_report *)0)->detail)];

WORKER_PATH static void on_stop_signal(int signal_number, siginfo_t *info, void *context)
{
    (void)signal_number;
    (void)context;
    if (info == NULL || info->si_code > 0 || info->si_pid != supervisor_pid)
        stopped_by_outsider = 1; /* si_code > 0: sent by the kernel, not by kill() */
    stop_requested = 1;
    /* Only a waiter needs the wake-up, and most workers never wait: a
     * waiter announces itself before it sleeps, and the futex sleeps only
     * while the flag still reads 0, so no wake can be missed. */
    if (stop_waiters > 0) {
        int saved_errno = errno; /* of the code the signal interrupted */
        syscall(SYS_futex, &stop_requested, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        errno = saved_errno;
    }
}

_Noreturn void worker_end_by_stop(void)
{
    signal(SIGTERM, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &only, NULL);
    raise(SIGTERM);
    _exit(128 + SIGTERM); /* not reached */
}

#ifdef WORKER_READS_STDIO_LIST
/* glibc's list of open streams, what its flush of all streams walks:
 * libc's own variable, found once in the spawner (worker_set_up_stdio). Not
 * an `extern` of ours: a program gets its own copy of a library's
 * variable it names (a copy relocation), filled once at load, which libc
 * never updates; it would not show a stream opened later. NULL: unknown,
 * so always flush. */
static FILE **stdio_list;

void worker_set_up_stdio(void)
{
    void *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
    stdio_list = libc ? dlsym(libc, "_IO_list_all") : NULL;
    if (libc)
        dlclose(libc);
}
#else
void worker_set_up_stdio(void)
{
}
#endif

/* Whether some stdio stream may hold output not yet written; read without
 * taking a lock or writing a byte. Why: libc's flush of every stream locks
 * each one, and the first time in a worker that costs three page faults
 * (two pages of libc's code, and a copy of the page its lock is on), about
 * a third of a stopping worker's CPU (issue 13), where stdout, line
 * buffered (spawner.c), usually holds nothing. glibc only, and only while
 * the process has a single thread (another one may open or close a stream
 * meanwhile); anything else answers yes, and a wide-oriented stream too,
 * so that the flush then happens as always. */
WORKER_PATH static bool stdio_output_may_be_pending(void)
{
#ifdef WORKER_READS_STDIO_LIST
    if (!stdio_list || !__libc_single_threaded)
        return true;
    /* The condition glibc's own flush of all streams tests, stream by stream. */
    for (FILE *stream = *stdio_list; stream; stream = stream->_chain)
        if (stream->_mode > 0 || stream->_IO_write_ptr > stream->_IO_write_base)
            return true;
    return false;
#else
    return true;
#endif
}

/* Ends the process with `status`, or by SIGTERM when an outsider asked it
 * to stop (see stopped_by_outsider). */
WORKER_PATH static _Noreturn void worker_exit(int status)
{
    if (stdio_output_may_be_pending())
        fflush(NULL);
    if (stopped_by_outsider)
        worker_end_by_stop();
    _exit(status);
}

WORKER_PATH static int worker_should_stop(const dynsup_worker *w)
{
    (void)w;
    return stop_requested;
}

/* A futex, not sigsuspend or ppoll with SIGTERM unblocked: those wake the
 * thread the signal is delivered to, and in a worker with threads that
 * may be another one. FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC
 * deadline, so a wait interrupted by some other signal resumes with no
 * time to recompute. */
static int worker_wait_for_stop(const dynsup_worker *w, long timeout_ms)
{
    (void)w;
    struct timespec deadline, *until = NULL;
    if (timeout_ms >= 0) {
        deadline = monotonic_deadline_after_ms(timeout_ms);
        until = &deadline;
    }
    stop_waiters++;
    while (!stop_requested) {
        /* Returns at the wake, at the deadline (ETIMEDOUT), at any other
         * signal (EINTR), or at once if the flag is already set (EAGAIN). */
        long result = syscall(SYS_futex, &stop_requested, FUTEX_WAIT_BITSET_PRIVATE, 0, until, NULL,
                              FUTEX_BITSET_MATCH_ANY);
        if (result != 0 && errno == ETIMEDOUT)
            break;
    }
    stop_waiters--;
    return stop_requested ? 1 : 0;
}

/* A log line travels on stderr with a "<LEVEL>" prefix, the convention
 * systemd also reads; the host turns it into a log line of that level. */
static void worker_vlog(dynsup_worker *w, int level, const char *fmt, va_list ap)
{
    (void)w;
    char line[4096];
    int prefix = snprintf(line, sizeof line, "<%d>", level);
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(line + prefix, sizeof line - (size_t)prefix - 1, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    size_t length = (size_t)prefix + ((size_t)n < sizeof line - (size_t)prefix - 1
                                          ? (size_t)n
                                          : sizeof line - (size_t)prefix - 2);
    for (size_t i = (size_t)prefix; i < length; i++)
        if (line[i] == '\n')
            line[i] = ' ';
    if (initialising && level <= DYNSUP_LOG_ERROR)
        snprintf(init_error, sizeof init_error, "%s", line + prefix);
    line[length++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, length);
    (void)ignored;
}

static const struct dynsup_worker_api worker_api = {
    .size = sizeof(struct dynsup_worker_api),
    .should_stop = worker_should_stop,
    .vlog = worker_vlog,
    .wait_for_stop = worker_wait_for_stop,
};

WORKER_PATH static void close_range_between(int first, int last)
{
    if (syscall(SYS_close_range, (unsigned)first, (unsigned)last, 0) == 0)
        return;
    for (int fd = first; fd <= last; fd++)
        close(fd);
}

WORKER_PATH static void close_all_from(int first)
{
    if (syscall(SYS_close_range, (unsigned)first, ~0u, 0) == 0)
        return;
    struct rlimit limit;
    int last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                   ? (int)limit.rlim_cur
                   : 65536;
    for (int fd = first; fd < last; fd++)
        close(fd);
}

/* What a worker's signals are set from (worker_set_up_signals): the
 * signals a plugin's constructor gave a handler while loading, to put back
 * to default, and the empty mask. */
static int inherited_signals[NSIG];
static int inherited_signal_count;
static sigset_t no_signals;

void worker_set_up_signals(void)
{
    /* The SIGTERM handler is installed here, in the spawner, where
     * SIGTERM stays blocked: every worker inherits it and sets no
     * disposition itself. No SA_RESTART: a stop request must interrupt
     * sleep(), read(), poll(). */
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_stop_signal;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);

    inherited_signal_count = 0;
    for (int signal_number = 1; signal_number < NSIG; signal_number++) {
        struct sigaction current;
        if (signal_number == SIGKILL || signal_number == SIGSTOP || signal_number == SIGTERM ||
            sigaction(signal_number, NULL, &current) != 0) /* EINVAL: reserved by libc */
            continue;
        if ((current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL)
            inherited_signals[inherited_signal_count++] = signal_number;
    }
    sigemptyset(&no_signals);
}

/* Usually no syscall but the mask (plugins rarely install handlers while
 * loading): see worker_set_up_signals. */
WORKER_PATH static void reset_signals(void)
{
    if (inherited_signal_count > 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = SIG_DFL;
        sigemptyset(&action.sa_mask);
        for (int i = 0; i < inherited_signal_count; i++)
            sigaction(inherited_signals[i], &action, NULL);
    }
    sigprocmask(SIG_SETMASK, &no_signals, NULL);
}

void worker_set_up_descriptors(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return;
    /* Below 64 descriptors there is no "far away": keep the old places. */
    if (limit.rlim_cur < 64)
        return;
    /* Not the limit itself when it is high: a descriptor at N makes the
     * kernel grow the worker's table to N entries (8 MiB for 1,048,576).
     * 1023 stays below FD_SETSIZE too, for plugins that use select(). */
    rlim_t top = limit.rlim_cur > 1024 ? 1024 : limit.rlim_cur;
    report_fd = (int)top - 1;
    worker_job_fd = (int)top - 2;
}

/* The plugin closed the report pipe (and maybe reused its number): the
 * record goes nowhere and the host, reading EOF without an answer while
 * the worker lives, fails the start and kills the worker. */
WORKER_PATH static bool report_pipe_is_ours(void)
{
    struct stat info;
    return fstat(report_fd, &info) == 0 && info.st_dev == report_device &&
           info.st_ino == report_inode;
}

WORKER_PATH static void report_init(enum init_result result, const char *detail)
{
    struct worker_report report;
    memset(&report, 0, sizeof report);
    report.init_result = (int32_t)result;
    if (detail)
        snprintf(report.detail, sizeof report.detail, "%s", detail);
    if (!report_pipe_is_ours()) {
        /* The host reads EOF with no answer while we live: it fails the
         * start and kills us. Running the plugin's run() meanwhile would
         * do work for a start that is being refused. */
        static const char why[] = "<3>the plugin closed the runtime's init report descriptor; "
                                  "waiting for the supervisor to end this worker\n";
        ssize_t ignored = write(STDERR_FILENO, why, sizeof why - 1);
        (void)ignored;
        for (;;)
            pause();
    }
    ssize_t ignored = write(report_fd, &report, sizeof report);
    (void)ignored;
    close(report_fd);
}

void worker_prepare(int output_fd, int report_pipe, int keep_fd, pid_t parent, pid_t supervisor)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    supervisor_pid = supervisor;
    /* Its own process group (the spawner sets it too, so that it holds
     * before the host can hear of the pid): the supervisor's stop signals
     * reach whatever the worker forks, what is left of the group when the
     * worker exits is killed (spawner.c), and a worker's `kill 0` reaches
     * its own processes only. */
    setpgid(0, 0);

    /* output_fd, report_pipe and keep_fd are >= 4 and far below the
     * runtime's places: 0-2 are stdio and 3 is the spawner's socket. */
    if (dup2(output_fd, STDOUT_FILENO) < 0 || dup2(output_fd, STDERR_FILENO) < 0 ||
        dup2(report_pipe, report_fd) < 0 || (keep_fd >= 0 && dup2(keep_fd, worker_job_fd) < 0))
        _exit(127);
    bool keeps_job = keep_fd >= 0;
    int lowest = keeps_job && worker_job_fd < report_fd ? worker_job_fd : report_fd;
    int highest = keeps_job && worker_job_fd > report_fd ? worker_job_fd : report_fd;
    if (lowest > 3)
        close_range_between(3, lowest - 1);
    close_all_from(highest + 1);
    struct stat info;
    if (fstat(report_fd, &info) == 0) {
        report_device = info.st_dev;
        report_inode = info.st_ino;
    }
    reset_signals();
}

_Noreturn void worker_become(const struct worker_job *job, const struct dynsup_plugin *plugin)
{
    /* A plain copy, not snprintf: every code page a fresh worker runs
     * for the first time is a page fault, and printf's are many. */
    char comm[16] = {0};
    for (size_t i = 0; i + 1 < sizeof comm && job->child_id[i]; i++)
        comm[i] = job->child_id[i];
    prctl(PR_SET_NAME, comm);

    /* user, limits, folder, environment... before any plugin code runs;
     * a failure is init's failure, with the reason */
    char environment_error[sizeof init_error];
    if (worker_apply_environment(job->settings, job->setting_count, environment_error,
                                 sizeof environment_error) != 0) {
        report_init(INIT_FAILED, environment_error);
        _exit(1);
    }

    struct dynsup_worker worker = {
        .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
        .api = &worker_api,
        .supervisor = job->supervisor,
        .child_id = job->child_id,
        .name = job->name,
        .plugin_data = NULL,
    };

    if (plugin->init) {
        initialising = 1;
        int answer = plugin->init(&worker, job->argc, job->argv);
        initialising = 0;
        if (answer == DYNSUP_IGNORE) {
            report_init(INIT_IGNORE, NULL);
            fflush(NULL);
            _exit(0);  /* the child is gone from the tree: how it ends no longer matters */
        }
        if (answer != 0) {
            char detail[sizeof init_error];
            if (init_error[0])
                snprintf(detail, sizeof detail, "%s", init_error);
            else
                snprintf(detail, sizeof detail, "init returned %d", answer);
            report_init(INIT_FAILED, detail);
            fflush(NULL);
            _exit(1);
        }
    }
    report_init(INIT_OK, NULL);

    HOP_TRACE(HOP_RUN_CALLED, hop_minflt());
    int status = plugin->run(&worker, job->argc, job->argv);
    /* _exit, not exit: atexit handlers inherited from the spawner (and
     * sanitizer leak checks) are not the worker's business. A non-zero
     * return whose low byte is 0 must still read as abnormal. */
    worker_exit(status == 0 ? 0 : (status & 0xff) ? (status & 0xff) : 1);
}

_Noreturn void worker_main(const struct worker_job *job, const struct dynsup_plugin *plugin,
                           int output_fd, int report_pipe, pid_t parent)
{
    worker_prepare(output_fd, report_pipe, -1, parent, job->supervisor_pid);
    worker_become(job, plugin);
}

int worker_stop_requested(void)
{
    return stop_requested;
}
