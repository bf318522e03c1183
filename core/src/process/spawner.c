/*
 * The spawner process itself (load its plugin, fork workers, reap them);
 * the host launches it with spawner_launch (spawner_launch.c). The
 * messages' formats are in spawner_protocol.c.
 *
 * The spawner's loop is a plain poll() over its only two inputs: the
 * socket to the host and SIGCHLD, read from a signalfd. Not libuv, on
 * purpose: libuv's first loop registers a pthread_atfork handler that
 * rebuilds its signal pipe in every forked child, four syscalls and half
 * a dozen page faults in each worker before it may start, for machinery a
 * worker never uses; worse, in a child it closes the descriptor numbers
 * its signal pipe had in the parent, whatever they are there. The spawner
 * is exec'ed (spawner_exec_main), so it inherits no such handler even
 * when the host launches it while its loop runs (a reload). It keeps no table of
 * workers at all: a worker's pipes go to the host and its exit status is
 * forwarded as is, so the spawner stays the same size with 10 or 10,000
 * children.
 */
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hop_trace.h"
#include "plugin_loader.h"
#include "spare_warmup.h"
#include "spawner_containment.h"
#include "worker.h"

#define SPAWNER_NAME "dynsup-spawner"
#define SPARE_NAME "dynsup-spare"
/* More words than any request can carry (the request line is capped). */
#define SPAWN_MAX_ARGS 8192

/* ---------------------------------------------------------------- spawner process */

/*
 * Spares. Forking and preparing a worker is most of a start's latency (a
 * fresh process pays a page fault for each page it touches, 20-50 us each
 * on the VMs we measured), so on the host's SPARE_WANTED the spawner forks
 * a worker ahead, prepared (worker_prepare: descriptors, signals,
 * parent-death signal) and blocked on a job pipe, and hands the host that
 * pipe's write end with the worker's two read ends (SPARE). The host then
 * writes a start's job straight to the spare: the start skips both the fork
 * and the hop through the spawner. The spawner keeps no state about
 * spares: it reaps them and reports their exits like any child's, and the
 * host tells a spare that never got a job from a worker.
 */
struct spawner {
    int socket_fd;
    int child_exit_fd;   /* signalfd of SIGCHLD (blocked in the spawner) */
    pid_t host_pid;
    struct plugin_set plugins;  /* the one plugin of this spawner, if it loaded */
    char request[SPAWNER_MAX_MESSAGE];
};

/* Blocking send: the host never blocks on us (it queues), so waiting here
 * for it to read cannot deadlock. The host gone means we are done. */
static void send_or_die(int fd, const void *data, size_t length, const int *fds, int fd_count)
{
    struct iovec io = {.iov_base = (void *)data, .iov_len = length};
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(3 * sizeof(int))];
    } control;
    struct msghdr message = {.msg_iov = &io, .msg_iovlen = 1};
    if (fd_count > 0) {
        memset(&control, 0, sizeof control);
        message.msg_control = control.bytes;
        message.msg_controllen = CMSG_SPACE((size_t)fd_count * sizeof(int));
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN((size_t)fd_count * sizeof(int));
        memcpy(CMSG_DATA(header), fds, (size_t)fd_count * sizeof(int));
    }
    while (sendmsg(fd, &message, MSG_NOSIGNAL) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            struct pollfd wait_writable = {.fd = fd, .events = POLLOUT};
            poll(&wait_writable, 1, -1);
            continue;
        }
        containment_end_all(0); /* the host is gone */
    }
}

static void reply_spawn_failure(struct spawner *spawner, uint64_t key, int error, const char *what)
{
    struct spawner_spawned reply = {.key = key, .pid = 0, .error = error};
    snprintf(reply.detail, sizeof reply.detail, "%s%s%s", what, error ? ": " : "",
             error ? strerror(error) : "");
    uint32_t type = SPAWNER_SPAWNED;
    char message[sizeof type + sizeof reply];
    memcpy(message, &type, sizeof type);
    memcpy(message + sizeof type, &reply, sizeof reply);
    send_or_die(spawner->socket_fd, message, sizeof message, NULL, 0);
}

/* SPAWNED for pid, with the read ends of its pipes, which the host now owns. */
static void reply_spawned(struct spawner *spawner, uint64_t key, pid_t pid, int output_fd,
                          int report_fd)
{
    struct spawner_spawned reply = {.key = key, .pid = pid, .error = 0};
    uint32_t type = SPAWNER_SPAWNED;
    char message[sizeof type + sizeof reply];
    memcpy(message, &type, sizeof type);
    memcpy(message + sizeof type, &reply, sizeof reply);
    int fds[2] = {output_fd, report_fd};
    send_or_die(spawner->socket_fd, message, sizeof message, fds, 2);
    close(output_fd);
    close(report_fd);
}

/* Runs in the spare: prepared, it waits for one job record (at most
 * SPARE_JOB_MAX bytes, written by the host in one write, so it arrives in
 * one read) and becomes that worker. */
WORKER_PATH static _Noreturn void spare_main(const struct dynsup_plugin *plugin, int output_fd, int report_fd,
                                 int job_fd, pid_t parent, pid_t host_pid)
{
    worker_prepare(output_fd, report_fd, job_fd, parent, host_pid);
    /* SIGTERM (from anyone: the host never signals a spare) stays blocked
     * but while waiting, so that one landing before the wait cannot be
     * missed and then stop the job that comes next: the spare ends by it
     * instead, and a start that raced with it reads "killed by signal". */
    sigset_t term, none;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &term, NULL);
    _Static_assert(SPARE_JOB_MAX <= PIPE_BUF, "a job must arrive in one read");
    char record[SPARE_JOB_MAX];
    char *argv[SPARE_JOB_MAX + 1];
    struct worker_job job;
    /* This frame's pages that the job's read and decoding write first,
     * then the rest of the job's path: see spare_warmup.h. */
    *(volatile char *)record = 0;
    *(char *volatile *)&argv[0] = NULL;
    *(volatile char *)&job = 0;
    spare_warm_up(plugin);
    struct pollfd job_ready = {.fd = worker_job_fd, .events = POLLIN};
    while (!worker_stop_requested() && ppoll(&job_ready, 1, NULL, &none) < 0 && errno == EINTR)
        ;
    HOP_TRACE(HOP_SPARE_WOKE, hop_minflt());
    if (worker_stop_requested())
        worker_end_by_stop();
    ssize_t length;
    while ((length = read(worker_job_fd, record, sizeof record)) < 0 && errno == EINTR)
        ;
    if (length <= 0)
        _exit(0); /* the host let it go */
    close(worker_job_fd);
    sigprocmask(SIG_SETMASK, &none, NULL); /* a worker now: a SIGTERM is a stop request */
    uint64_t key;
    if (!spawner_decode_spawn(record, (size_t)length, &job, argv, sizeof argv / sizeof argv[0], &key))
        _exit(127); /* cannot happen: the spawner decoded it first */
    job.supervisor_pid = host_pid;
    HOP_TRACE(HOP_SPARE_DECODED, hop_minflt());
    worker_become(&job, plugin);
}

/* Forks a worker: a spare when job is NULL. Returns its pid with the read
 * ends of its pipes (and the write end of its job pipe for a spare), or -1
 * with errno and the failed step in *what. */
WORKER_PATH static pid_t fork_worker(struct spawner *spawner, const struct worker_job *job,
                         const struct dynsup_plugin *plugin, int *output_fd, int *report_fd,
                         int *job_fd, const char **what)
{
    int output[2] = {-1, -1}, report[2] = {-1, -1}, jobs[2] = {-1, -1};
    if (pipe2(output, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0 ||
        (!job && pipe2(jobs, O_CLOEXEC) < 0)) {
        int error = errno;
        for (int i = 0; i < 2; i++) {
            if (output[i] >= 0)
                close(output[i]);
            if (report[i] >= 0)
                close(report[i]);
        }
        *what = "pipe";
        errno = error;
        return -1;
    }
    /* Signals stay blocked across fork so that no handler of ours runs in
     * the child before it has reset them. */
    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &previous);
    pid_t spawner_pid = getpid();
    /* A spare carries its name from birth: whoever lists the spawner's
     * children (ps, the tests) never takes it for a worker. */
    if (!job)
        prctl(PR_SET_NAME, SPARE_NAME);
    pid_t pid = fork();
    if (!job && pid != 0)
        prctl(PR_SET_NAME, SPAWNER_NAME);
    if (pid == 0) {
        if (job)
            worker_main(job, plugin, output[1], report[1], spawner_pid);
        spare_main(plugin, output[1], report[1], jobs[0], spawner_pid, spawner->host_pid);
    }
    int fork_error = errno;
    if (pid > 0) {
        /* The worker does the same: whichever runs first, the group
         * exists before the host can hear of the pid and signal it. */
        setpgid(pid, pid);
        containment_track(pid);
    }
    sigprocmask(SIG_SETMASK, &previous, NULL);
    close(output[1]);
    close(report[1]);
    if (!job)
        close(jobs[0]);
    if (pid < 0) {
        close(output[0]);
        close(report[0]);
        if (!job)
            close(jobs[1]);
        *what = "fork";
        errno = fork_error;
        return -1;
    }
    *output_fd = output[0];
    *report_fd = report[0];
    if (!job)
        *job_fd = jobs[1];
    return pid;
}

/* Forks a spare and hands it to the host (SPARE; pid 0 if it failed). */
static void send_spare(struct spawner *spawner)
{
    struct spawner_spare reply = {0};
    int fds[3] = {-1, -1, -1};
    const char *what = NULL;
    pid_t pid = spawner->plugins.count == 0
                    ? -1
                    : fork_worker(spawner, NULL, spawner->plugins.items[0].plugin, &fds[1],
                                  &fds[2], &fds[0], &what);
    HOP_TRACE(HOP_SPAWNER_SPARE_FORKED, pid);
    reply.pid = pid > 0 ? pid : 0;
    reply.error = pid > 0 ? 0 : errno;
    uint32_t type = SPAWNER_SPARE;
    char message[sizeof type + sizeof reply];
    memcpy(message, &type, sizeof type);
    memcpy(message + sizeof type, &reply, sizeof reply);
    send_or_die(spawner->socket_fd, message, sizeof message, fds, pid > 0 ? 3 : 0);
    for (int i = 0; pid > 0 && i < 3; i++)
        close(fds[i]);
}

static void spawn_worker(struct spawner *spawner, size_t length)
{
    /* The worker gets its own copy of these through fork, so nothing is
     * allocated. */
    static char *argv[SPAWN_MAX_ARGS + 1];
    struct worker_job job;
    uint64_t key = 0;
    const char *plugin_name = spawner_decode_spawn(spawner->request, length, &job, argv,
                                           sizeof argv / sizeof argv[0], &key);
    if (!plugin_name)
        return reply_spawn_failure(spawner, key, 0, "malformed spawn request");
    const struct loaded_plugin *plugin = plugin_set_find(&spawner->plugins, plugin_name);
    if (!plugin)
        return reply_spawn_failure(spawner, key, 0, "plugin is not loaded");
    job.supervisor_pid = spawner->host_pid; /* the spawner dies with it */
    int output_fd, report_fd;
    const char *what;
    pid_t pid = fork_worker(spawner, &job, plugin->plugin, &output_fd, &report_fd, NULL, &what);
    if (pid < 0)
        return reply_spawn_failure(spawner, key, errno, what);
    reply_spawned(spawner, key, pid, output_fd, report_fd);
}

static void read_host_messages(struct spawner *spawner)
{
    for (;;) {
        ssize_t length = recv(spawner->socket_fd, spawner->request, sizeof spawner->request,
                              MSG_DONTWAIT);
        if (length == 0 || (length < 0 && errno != EINTR && errno != EAGAIN))
            containment_end_all(0); /* the host closed its end: it is stopping or gone */
        if (length < 0) {
            if (errno == EAGAIN)
                return;
            continue;
        }
        uint32_t type = 0;
        if ((size_t)length >= sizeof type)
            memcpy(&type, spawner->request, sizeof type);
        if (type == SPAWNER_SPAWN && (size_t)length >= sizeof(struct spawn_header))
            spawn_worker(spawner, (size_t)length);
        else if (type == SPAWNER_SPARE_WANTED)
            send_spare(spawner);
        else if (type == SPAWNER_PING) {
            uint32_t pong = SPAWNER_PONG;
            send_or_die(spawner->socket_fd, &pong, sizeof pong, NULL, 0);
        }
    }
}

/* Exits reaped in the current pass, sent as one EXITED record by
 * send_exits at the end of the pass (or when it is full). */
static struct spawner_exited_batch exit_batch = {.type = SPAWNER_EXITED};
static size_t exit_batch_count;

static void send_exits(struct spawner *spawner)
{
    if (exit_batch_count == 0)
        return;
    send_or_die(spawner->socket_fd, &exit_batch,
                sizeof exit_batch.type + exit_batch_count * sizeof exit_batch.exits[0], NULL, 0);
    HOP_TRACE(HOP_SPAWNER_SENT, exit_batch.exits[exit_batch_count - 1].pid);
    exit_batch_count = 0;
}

static void report_exit(pid_t pid, int wait_status, void *context)
{
    HOP_TRACE(HOP_SPAWNER_REAPED, pid);
    if (exit_batch_count == SPAWNER_EXITED_MAX)
        send_exits(context);
    exit_batch.exits[exit_batch_count++] = (struct spawner_exited){.pid = pid,
                                                                   .wait_status = wait_status};
}

/* SIGCHLDs coalesce: one readable signalfd may stand for many exits;
 * containment_reap reaps the ones named and looks for the others. The
 * host's death comes on the same signalfd. */
static void reap_children(struct spawner *spawner)
{
    struct signalfd_siginfo pending[16];
    pid_t signalled[16];
    int count = 0;
    ssize_t length;
    while ((length = read(spawner->child_exit_fd, pending, sizeof pending)) > 0)
        for (size_t i = 0; i < (size_t)length / sizeof pending[0]; i++) {
            if ((int)pending[i].ssi_signo == SPAWNER_HOST_DEATH_SIGNAL)
                containment_end_all(0);
            if (count < 16)
                signalled[count++] = (pid_t)pending[i].ssi_pid;
        }
    containment_reap(signalled, count, report_exit, spawner);
    send_exits(spawner);
}

static void send_load_report(struct spawner *spawner, const struct error_list *errors)
{
    size_t capacity = SPAWNER_MAX_MESSAGE, used = sizeof(uint32_t);
    char *report = malloc(capacity);
    if (!report)
        _exit(1);
    uint32_t type = SPAWNER_LOADED;
    memcpy(report, &type, sizeof type);
    for (size_t i = 0; i < spawner->plugins.count; i++) {
        const struct loaded_plugin *plugin = &spawner->plugins.items[i];
        int n = snprintf(report + used, capacity - used, "plugin\t%s\t%s\t%s\n", plugin->name,
                         plugin->version, plugin->file);
        if (n > 0 && (size_t)n < capacity - used)
            used += (size_t)n;
    }
    for (size_t i = 0; i < errors->count; i++) {
        int n = snprintf(report + used, capacity - used, "error\t%s\n", errors->messages[i]);
        if (n > 0 && (size_t)n < capacity - used)
            used += (size_t)n;
    }
    /* With the private copy it loaded (plugin_copy.h): should this process
     * die, the host relaunches the generation from these very bytes. */
    int copy_fd = spawner->plugins.count == 1 ? spawner->plugins.items[0].fd : -1;
    send_or_die(spawner->socket_fd, report, used, &copy_fd, copy_fd >= 0 ? 1 : 0);
    free(report);
}

static _Noreturn void spawner_main(int socket_fd, const char *plugin_dir, const char *file_name,
                                   const char *work_dir, pid_t host_pid, int copy_fd)
{
    /* Not SIGKILL: when the host dies, the spawner kills its workers'
     * process groups before it goes (spawner_containment.c). */
    prctl(PR_SET_PDEATHSIG, SPAWNER_HOST_DEATH_SIGNAL);
    if (getppid() != host_pid)
        _exit(0);
    prctl(PR_SET_NAME, SPAWNER_NAME);
    HOP_TRACE_OPEN();
    /* Own session: a Ctrl-C in the host's terminal must reach the host
     * (which then stops the workers in order), not every worker at once. */
    setsid();
    /* Signals meant for the host reach the spawner too (systemctl kill,
     * pkill -f dynsup-host): none of them may end it and with it every
     * worker. The event signals (SIGUSR1/2, SIGHUP) included. Blocked for
     * good rather than ignored: a blocked signal only waits (and is never
     * inherited), and the dispositions stay the defaults a worker needs,
     * so a worker resets no disposition at all, only its mask. SIGCHLD is
     * read from a signalfd. */
    static const int blocked[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR1,
                                  SIGUSR2, SIGQUIT, SIGALRM, SIGCHLD};
    sigset_t blocked_set;
    sigemptyset(&blocked_set);
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        sigaddset(&blocked_set, blocked[i]);
    sigaddset(&blocked_set, SPAWNER_HOST_DEATH_SIGNAL);
    sigprocmask(SIG_BLOCK, &blocked_set, NULL);
    if (getppid() != host_pid) /* died before the mask: its signal is gone */
        _exit(0);
    /* The host ignores SIGPIPE; blocked here, it may be the default again,
     * which spares every worker a sigaction. */
    signal(SIGPIPE, SIG_DFL);

    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0 && null_fd != STDIN_FILENO) {
        dup2(null_fd, STDIN_FILENO);
        close(null_fd);
    }
    if (socket_fd != SPAWNER_SOCKET_FD) {
        dup2(socket_fd, SPAWNER_SOCKET_FD);
        close(socket_fd);
    }
    bool from_copy = copy_fd >= 0;
    if (from_copy && copy_fd != SPAWNER_COPY_FD) {
        dup2(copy_fd, SPAWNER_COPY_FD);
        close(copy_fd);
    }
    int last_kept = from_copy ? SPAWNER_COPY_FD : SPAWNER_SOCKET_FD;
    syscall(SYS_close_range, (unsigned)last_kept + 1, ~0u, 0);

    static struct spawner spawner;
    spawner.socket_fd = SPAWNER_SOCKET_FD;
    spawner.host_pid = host_pid;
    plugin_set_init(&spawner.plugins);
    struct error_list errors;
    error_list_init(&errors);
    if (from_copy) {
        fcntl(SPAWNER_COPY_FD, F_SETFD, FD_CLOEXEC);
        plugin_set_load_copy(&spawner.plugins, plugin_dir, file_name, SPAWNER_COPY_FD, &errors);
    } else {
        plugin_set_load_file(&spawner.plugins, plugin_dir, file_name, &errors);
    }
    if (work_dir && chdir(work_dir) < 0)
        error_list_add(&errors, "%s: cannot enter the config's folder: %s", work_dir, strerror(errno));
    send_load_report(&spawner, &errors);
    error_list_free(&errors);
    /* Set once here, inherited by every worker: stdout on a pipe is fully
     * buffered by default, and line buffering makes a worker's printf
     * lines reach the log as they happen. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    worker_set_up_signals();
    worker_set_up_descriptors();
    worker_set_up_stdio();
    spare_warmup_set_up();
    if (containment_init() != 0)
        _exit(1);

    /* A worker starts from an empty mask (worker_prepare). */
    sigset_t child_exits;
    sigemptyset(&child_exits);
    sigaddset(&child_exits, SIGCHLD);
    sigaddset(&child_exits, SPAWNER_HOST_DEATH_SIGNAL);
    spawner.child_exit_fd = signalfd(-1, &child_exits, SFD_NONBLOCK | SFD_CLOEXEC);
    if (spawner.child_exit_fd < 0)
        _exit(1);
    struct pollfd watched[2] = {
        {.fd = spawner.socket_fd, .events = POLLIN},
        {.fd = spawner.child_exit_fd, .events = POLLIN},
    };
    for (;;) {
        /* No timeout while idle: only a pending sweep of adopted
         * processes, or the look for exits a burst merged, wakes the
         * spawner on its own. */
        if (poll(watched, 2, containment_timeout_ms()) < 0) {
            if (errno == EINTR)
                continue;
            containment_end_all(1);
        }
        if (watched[1].revents) {
            HOP_TRACE(HOP_SPAWNER_WOKE, 0);
            reap_children(&spawner);
        }
        if (watched[0].revents)
            read_host_messages(&spawner); /* exits when the host closed its end */
        containment_reap_if_due(report_exit, &spawner);
        send_exits(&spawner);
        containment_sweep_if_due();
    }
}

int spawner_exec_main(int argc, char **argv)
{
    const size_t mark_length = strlen(SPAWNER_FROM_COPY_MARK);
    long copy_fd = -1;
    char *end;
    if (argc == 8 && strncmp(argv[7], SPAWNER_FROM_COPY_MARK "=", mark_length + 1) == 0) {
        copy_fd = strtol(argv[7] + mark_length + 1, &end, 10);
        if (*end != '\0' || copy_fd <= SPAWNER_SOCKET_FD || copy_fd > INT_MAX)
            return 2;
    } else if (argc != 7) {
        return 2;
    }
    long host_pid = strtol(argv[6], &end, 10);
    if (*end != '\0' || host_pid <= 0)
        return 2;
    spawner_main(SPAWNER_SOCKET_FD, argv[3], argv[4], argv[5][0] ? argv[5] : NULL,
                 (pid_t)host_pid, (int)copy_fd);
}
