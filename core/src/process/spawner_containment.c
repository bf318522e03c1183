/*
 * A spawner keeps whatever its workers fork from outliving them (SPEC
 * section 9), the way s6 and systemd do with process groups and cgroups:
 *
 *  - every worker leads its own process group (worker.c and fork_worker);
 *    the host sends its stop signals to the group;
 *  - when a worker has exited, its group is killed before the worker is
 *    reaped: the zombie still holds the pid, so the group id cannot have
 *    been handed to anyone else in between (waitid with WNOWAIT);
 *  - the spawner is a child subreaper, so a worker's descendants whose
 *    parent died are re-parented to it, not to PID 1: it reaps them (no
 *    zombies) and kills those that left their worker's group (setsid, a
 *    daemon) once their worker is gone, when it next looks (after reaping
 *    a worker, as often as child_walk_pace.h allows);
 *  - when the host dies the spawner is told by a catchable parent-death
 *    signal and kills every group and adopted process before it exits
 *    (its workers would die with it anyway, their descendants would not).
 *
 * Reaping costs the kernel a walk of the spawner's list of children for
 * each waitid(P_ALL): with 10,000 live workers that walk was most of a
 * spawner's CPU time during a stop (issue 13, perf: wait_consider_task),
 * and the walk that finds nothing left is the longest. So the pid each
 * SIGCHLD names is reaped directly (waitid(P_PID), no walk), and the walk
 * that catches the exits whose SIGCHLD coalesced with another's runs as
 * often as child_walk_pace.h allows: every few ms while walks find such
 * exits (a burst), rarely while they find none (lone exits, whose signals
 * name them all). A lone exit is reaped at once; an exit whose signal
 * merged with another's, within that interval.
 *
 * The spawner keeps one bit per possible pid to know its own workers (and
 * spares) from adopted processes: pid_max bits, 4 KiB for the usual
 * 32,768, 512 KiB at the largest pid_max, untouched pages costing nothing.
 */
#include "spawner_containment.h"

#include "child_walk_pace.h"

#include <errno.h>
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


static uint64_t *workers;      /* bit per pid: forked by this spawner, not reaped yet */
static size_t worker_words;
static size_t live_workers;    /* bits set in workers */
static bool sweep_wanted;
static int64_t last_sweep_ms = INT64_MIN / 2;
static bool last_sweep_killed;
static bool scan_wanted;
static unsigned long reaps;    /* children reaped so far, to know if a sweep saw the list move */
static int64_t last_scan_ms = INT64_MIN / 2;
static bool last_scan_found_exits;

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static long read_pid_max(void)
{
    long pid_max = 4194304; /* the kernel's largest */
    FILE *file = fopen("/proc/sys/kernel/pid_max", "re");
    if (file) {
        long value;
        if (fscanf(file, "%ld", &value) == 1 && value > 0 && value <= pid_max)
            pid_max = value;
        fclose(file);
    }
    return pid_max;
}

int containment_init(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        return -1;
    worker_words = ((size_t)read_pid_max() + 63) / 64 + 1;
    workers = calloc(worker_words, sizeof *workers);
    return workers ? 0 : -1;
}

static bool in_range(pid_t pid)
{
    return pid > 0 && (size_t)pid / 64 < worker_words;
}

void containment_track(pid_t pid)
{
    if (in_range(pid) && !containment_is_worker(pid)) {
        workers[pid / 64] |= UINT64_C(1) << (pid % 64);
        live_workers++;
    }
}

bool containment_is_worker(pid_t pid)
{
    return in_range(pid) && (workers[pid / 64] >> (pid % 64)) & 1;
}

static void forget(pid_t pid)
{
    if (containment_is_worker(pid)) {
        workers[pid / 64] &= ~(UINT64_C(1) << (pid % 64));
        live_workers--;
    }
}

typedef void exit_report(pid_t pid, int wait_status, void *context);

/* Reaps one exited child that waitid(idtype, id) finds, if any: a
 * worker's group is killed first (the zombie still holds the pid, so the
 * group id cannot have been handed to anyone else), then the worker is
 * reported. Returns 1 for a worker, 0 for an adopted descendant, -1 when
 * there was none. */
static int reap_one(idtype_t idtype, id_t id, exit_report *exited, void *context)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(idtype, id, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0)
        return -1;
    pid_t pid = info.si_pid;
    bool worker = containment_is_worker(pid);
    if (worker)
        kill(-pid, SIGKILL); /* what is left of its group; ESRCH when nothing is */
    int wait_status;
    if (waitpid(pid, &wait_status, WNOHANG) != pid)
        return 0;
    reaps++;
    if (!worker)
        return 0; /* an adopted descendant: nobody's child to the host */
    forget(pid);
    exited(pid, wait_status, context);
    sweep_wanted = true;
    return 1;
}

static int scan_timeout_ms(void)
{
    if (!scan_wanted)
        return -1;
    int64_t wait = last_scan_ms + pace_scan_interval_ms(live_workers, last_scan_found_exits) -
                   monotonic_ms();
    return wait > 0 ? (int)wait : 0;
}

void containment_reap_if_due(exit_report *exited, void *context)
{
    if (!scan_wanted || scan_timeout_ms() > 0)
        return;
    scan_wanted = false;
    last_scan_ms = monotonic_ms();
    last_scan_found_exits = false;
    while (reap_one(P_ALL, 0, exited, context) >= 0)
        last_scan_found_exits = true;
}

void containment_reap(const pid_t *signalled, int count, exit_report *exited, void *context)
{
    for (int i = 0; i < count; i++)
        if (signalled[i] > 0)
            reap_one(P_PID, (id_t)signalled[i], exited, context);
    /* The walk for merged signals comes after the caller has sent these
     * exits on (containment_reap_if_due, same loop turn): with 10,000 live
     * workers the walk takes a millisecond, which a restart must not wait. */
    scan_wanted = true;
}

/* The pids of the spawner's children, from /proc (needs no table of
 * adopted processes: the kernel keeps it). Returns how many, at most
 * capacity; -1 if the list cannot be read. */
static int read_children(pid_t *pids, int capacity)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int count = 0;
    char buffer[4096];
    long current = -1;
    ssize_t length;
    while ((length = read(fd, buffer, sizeof buffer)) > 0) {
        for (ssize_t i = 0; i < length; i++) {
            if (buffer[i] >= '0' && buffer[i] <= '9') {
                current = (current < 0 ? 0 : current * 10) + (buffer[i] - '0');
            } else if (current >= 0) {
                if (count < capacity)
                    pids[count++] = (pid_t)current;
                current = -1;
            }
        }
    }
    if (current >= 0 && count < capacity)
        pids[count++] = (pid_t)current;
    close(fd);
    return count;
}

/* Kills a child unless it is a live worker or still in a live worker's
 * group (everything: kills every child and group). */
static void sweep_child(pid_t pid, bool everything)
{
    if (containment_is_worker(pid)) {
        if (everything) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
        return;
    }
    pid_t group = getpgid(pid);
    if (!everything && group > 0 && containment_is_worker(group))
        return; /* still with its worker, which is alive: its group goes with it */
    last_sweep_killed = true;
    kill(pid, SIGKILL);
    if (group == pid && group != getpgrp())
        kill(-group, SIGKILL);
}

/* Kills adopted processes that belong to no live worker: those whose
 * group is not a live worker's (they left it, or their worker is gone).
 * Their exits are reaped like any child's. All at once: for the end. */
static void sweep(bool everything)
{
    static pid_t children[65536];
    int count = read_children(children, (int)(sizeof children / sizeof children[0]));
    for (int i = 0; i < count; i++)
        sweep_child(children[i], everything);
}

/* The sweep in the spawner's loop goes a piece at a time: listing 10,000
 * children costs the kernel 10-20 ms, and a death in that time would wait
 * for it. Each loop turn reads one SWEEP_SLICE_BYTES piece of the list (a
 * few hundred children, under a millisecond) after the turn's own work.
 * Two things follow from the kernel finding where a read starts by
 * counting positions in the list:
 *  - a child reaped between two pieces shifts the rest: the next piece
 *    skips one entry per reap. So a sweep that saw any reap goes again
 *    (at the usual interval) until one sees none, which has read every
 *    entry;
 *  - a pid cut by a piece's end is finished in the same turn, a byte at
 *    a time (the kernel serves the rest of that entry as formatted), never
 *    carried to a later turn in which that child may be reaped and its pid
 *    given to another process. */
#define SWEEP_SLICE_BYTES 2048

static int sweep_fd = -1;
static unsigned long reaps_at_sweep_start;

static ssize_t read_piece(char *buffer, size_t size)
{
    ssize_t length;
    do
        length = read(sweep_fd, buffer, size);
    while (length < 0 && errno == EINTR);
    return length;
}

static void sweep_step(void)
{
    char buffer[SWEEP_SLICE_BYTES];
    ssize_t length = read_piece(buffer, sizeof buffer);
    long pid = -1;
    for (ssize_t i = 0; i < length; i++) {
        if (buffer[i] >= '0' && buffer[i] <= '9') {
            pid = (pid < 0 ? 0 : pid * 10) + (buffer[i] - '0');
        } else if (pid >= 0) {
            sweep_child((pid_t)pid, false);
            pid = -1;
        }
    }
    char digit;
    while (pid >= 0 && read_piece(&digit, 1) == 1 && digit >= '0' && digit <= '9')
        pid = pid * 10 + (digit - '0');
    if (pid >= 0)
        sweep_child((pid_t)pid, false);
    if (length > 0)
        return;
    close(sweep_fd);
    sweep_fd = -1;
    if (reaps != reaps_at_sweep_start)
        sweep_wanted = true; /* the list moved under it: go again */
}

static int sweep_timeout_ms(void)
{
    if (!sweep_wanted)
        return -1;
    int64_t wait = last_sweep_ms + pace_sweep_interval_ms(live_workers, last_sweep_killed) -
                   monotonic_ms();
    return wait > 0 ? (int)wait : 0;
}

int containment_timeout_ms(void)
{
    if (sweep_fd >= 0)
        return 0; /* a sweep under way: its next piece after any pending event */
    int sweep = sweep_timeout_ms(), scan = scan_timeout_ms();
    if (sweep < 0 || (scan >= 0 && scan < sweep))
        return scan;
    return sweep;
}

void containment_sweep_if_due(void)
{
    if (sweep_fd < 0) {
        if (!sweep_wanted || sweep_timeout_ms() > 0)
            return;
        sweep_wanted = false;
        last_sweep_ms = monotonic_ms();
        last_sweep_killed = false;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
        sweep_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (sweep_fd < 0)
            return;
        reaps_at_sweep_start = reaps;
    }
    sweep_step();
}

_Noreturn void containment_end_all(int status)
{
    /* Every worker's group first (the bit set covers the workers that
     * the children list would not show once re-parented), then every
     * child, adopted ones included. */
    for (size_t word = 0; word < worker_words; word++)
        for (uint64_t bits = workers[word]; bits; bits &= bits - 1) {
            pid_t pid = (pid_t)(word * 64 + (size_t)__builtin_ctzll(bits));
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
    sweep(true);
    _exit(status);
}
