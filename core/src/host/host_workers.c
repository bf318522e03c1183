/*
 * The host's side of workers: what SPAWNED and EXITED (from the spawners,
 * host_spawners.c) mean for the tree, and each worker's two pipes (output
 * lines to the log; init's answer).
 *
 * A worker costs the host one descriptor while it runs (the output pipe)
 * and one more during init (the report pipe). Reads go into one shared
 * buffer: only an unfinished line is kept per worker.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dynsup/plugin.h"
#include "hop_trace.h"
#include "host_internal.h"
#include "log.h"
#include "proc_stat.h"
#include "text_escape.h"

/* A line longer than this is logged in pieces. Well below log.c's 4096
 * byte line, which also holds the prefix (time, level, supervisor, child,
 * pid): a piece as long as that line lost its last bytes to truncation. */
#define OUTPUT_LINE_MAX 3072
/* What is read synchronously from a dead worker's output: a full pipe. */
#define DRAIN_LIMIT (64u * 1024u)

/* What a pipe in host->worker_pipes stands for: its entry starts with
 * one of these. */
enum watched_pipe { WATCHED_OUTPUT = 1, WATCHED_REPORT };

/* Init's answer is awaited only while the worker initialises, so the pipe
 * and the answer live apart from worker_io and are freed once it is read.
 * Ownership: the worker_io owns it, and its descriptor. */
struct init_answer_reader {
    unsigned char kind;      /* WATCHED_REPORT */
    int fd;
    struct worker_io *io;
    size_t length;
    struct worker_report answer;
};

/* A running worker costs the host this record (56 bytes, a 64-byte
 * malloc chunk), its slot in workers_by_pid and the output pipe's
 * descriptor; the kernel's side is in README (Benchmarks). Ownership:
 * host->workers_by_pid owns it, and its descriptors. */
struct worker_io {
    unsigned char kind;       /* WATCHED_OUTPUT */
    uint8_t output_ended : 1; /* its end of file was read: no longer watched */
    uint8_t kill_awaited : 1; /* SIGKILLed: its exit must come (host_liveness.c) */
    uint16_t partial_length;  /* <= OUTPUT_LINE_MAX */
    pid_t pid;
    int output_fd;
    uint32_t spawner_index;
    child_key key;
    const char *supervisor;   /* owned by host->config, which outlives every worker */
    const char *child_id;     /* likewise */
    char *partial_line;       /* unfinished output line, or NULL */
    struct init_answer_reader *report; /* NULL once init's answer was read */
};

static char shared_read_buffer[65536];

/* ---------------------------------------------------------------- output lines */

static void log_output_line(struct worker_io *io, const char *line, size_t length)
{
    int level = DYNSUP_LOG_INFO;
    /* "<N>" is how dynsup_log marks its level (systemd's convention too). */
    if (length >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>') {
        level = line[1] - '0';
        line += 3;
        length -= 3;
    }
    /* Escaped here, with its length: a NUL is part of the line, and what
     * follows it must reach the log too. */
    char escaped[OUTPUT_LINE_MAX * TEXT_ESCAPE_MAX_GROWTH + 1];
    text_escape(escaped, sizeof escaped, line, length);
    log_event(level, io->supervisor, io->child_id, io->pid, "%s", escaped);
}

static void flush_partial_output(struct worker_io *io)
{
    if (io->partial_length > 0)
        log_output_line(io, io->partial_line, io->partial_length);
    free(io->partial_line);
    io->partial_line = NULL;
    io->partial_length = 0;
}

static void take_output(struct worker_io *io, const char *data, size_t length)
{
    while (length > 0) {
        const char *newline = memchr(data, '\n', length);
        size_t piece = newline ? (size_t)(newline - data) : length;
        size_t room = OUTPUT_LINE_MAX - io->partial_length;
        bool too_long = piece >= room;
        if (too_long)
            piece = room;
        bool line_ends = too_long || newline != NULL;
        if (io->partial_length > 0 || !line_ends) {
            char *grown = realloc(io->partial_line, io->partial_length + piece);
            if (!grown)
                return;
            io->partial_line = grown;
            memcpy(io->partial_line + io->partial_length, data, piece);
            io->partial_length = (uint16_t)(io->partial_length + piece);
            if (line_ends)
                flush_partial_output(io);
        } else {
            log_output_line(io, data, piece);
        }
        bool at_newline = piece < length && data[piece] == '\n';
        data += piece + (at_newline ? 1 : 0);
        length -= piece + (at_newline ? 1 : 0);
    }
}

/* Returns what read() returned: > 0 bytes taken, 0 at the end, < 0 nothing
 * (EAGAIN: spurious readiness). */
static ssize_t read_output(struct worker_io *io)
{
    ssize_t count;
    do
        count = read(io->output_fd, shared_read_buffer, sizeof shared_read_buffer);
    while (count < 0 && errno == EINTR);
    if (count > 0)
        take_output(io, shared_read_buffer, (size_t)count);
    return count;
}

static void output_ready(struct host *host, struct worker_io *io)
{
    ssize_t count = read_output(io);
    /* The end (the worker is gone, or closed its stdout): nothing more to
     * watch; the descriptor stays open until the worker's exit is heard. */
    if (count == 0 || (count < 0 && errno != EAGAIN)) {
        pipe_set_remove(&host->worker_pipes, io->output_fd, io);
        io->output_ended = true;
    }
}

/* ---------------------------------------------------------------- init answer */

/* Stops watching init's report pipe and takes it from io (NULL when it
 * has none); release_report closes and frees it. Apart, so that a start's
 * reply need not wait for the close, which frees the pipe (5-10 us, issue
 * 13). */
static struct init_answer_reader *detach_report(struct host *host, struct worker_io *io)
{
    struct init_answer_reader *reader = io->report;
    if (reader)
        pipe_set_remove(&host->worker_pipes, reader->fd, reader);
    io->report = NULL;
    return reader;
}

static void release_report(struct init_answer_reader *reader)
{
    if (!reader)
        return;
    close(reader->fd);
    free(reader);
}

static void close_report(struct host *host, struct worker_io *io)
{
    release_report(detach_report(host, io));
}

static void take_answer(struct host *host, struct worker_io *io, const char *data, size_t length)
{
    struct init_answer_reader *reader = io->report;
    size_t room = sizeof reader->answer - reader->length;
    size_t used = length < room ? length : room;
    memcpy((char *)&reader->answer + reader->length, data, used);
    reader->length += used;
    if (reader->length < sizeof reader->answer)
        return;
    struct worker_report answer = reader->answer;
    detach_report(host, io); /* released once the answer went out */
    answer.detail[sizeof answer.detail - 1] = '\0';
    enum init_result result = answer.init_result == INIT_OK       ? INIT_OK
                              : answer.init_result == INIT_IGNORE ? INIT_IGNORE
                                                                  : INIT_FAILED;
    struct action_list actions;
    action_list_init(&actions);
    tree_init_reported(host->tree, io->key, result, answer.detail, host_now(host), &actions);
    host_apply(host, &actions);
    action_list_free(&actions);
    release_report(reader);
}

/* Whether pid lives and is not on its way out. A process closes its
 * descriptors while it exits, before it becomes a zombie: the kernel's
 * PF_EXITING flag (0x4 in /proc/PID/stat's flags field) tells those apart
 * from a live process that closed its end itself. */
static bool still_running(pid_t pid)
{
    struct proc_stat stat;
    return proc_stat_read(pid, &stat) && stat.state != 'Z' && stat.state != 'X' &&
           (stat.flags & PROC_STAT_EXITING) == 0;
}

/* The report pipe ended without an answer. A worker that died during init
 * is told by its EXITED; one that lives on closed the runtime's
 * descriptor itself, and would otherwise sit in `starting` for ever: its
 * start fails and it is killed (SPEC section 9). */
static void report_ended(struct host *host, struct worker_io *io)
{
    bool answered_nothing = io->report && io->report->length == 0;
    close_report(host, io);
    if (!answered_nothing || !still_running(io->pid))
        return;
    kill(-io->pid, SIGKILL);
    kill(io->pid, SIGKILL);
    struct action_list actions;
    action_list_init(&actions);
    tree_init_reported(host->tree, io->key, INIT_FAILED,
                       "the worker closed the runtime's init report descriptor before init "
                       "answered (a plugin must not close descriptors it did not open); killed",
                       host_now(host), &actions);
    host_apply(host, &actions);
    action_list_free(&actions);
}

/* Returns what read() returned, as read_output does. */
static ssize_t read_report(struct host *host, struct worker_io *io)
{
    ssize_t count;
    do
        count = read(io->report->fd, shared_read_buffer, sizeof shared_read_buffer);
    while (count < 0 && errno == EINTR);
    if (count > 0)
        take_answer(host, io, shared_read_buffer, (size_t)count);
    return count;
}

/* A pipe of host->worker_pipes has something to read. */
static void worker_pipe_ready(void *context, void *entry)
{
    struct host *host = context;
    if (*(unsigned char *)entry == WATCHED_OUTPUT) {
        output_ready(host, entry);
        return;
    }
    struct worker_io *io = ((struct init_answer_reader *)entry)->io;
    ssize_t count = read_report(host, io);
    if (count == 0 || (count < 0 && errno != EAGAIN))
        report_ended(host, io);
}

/* The worker is dead, so everything it wrote is already in its pipes:
 * read it now, before the tree hears of the exit, so that init's answer
 * and the last lines come first. */
static void drain_worker(struct host *host, struct worker_io *io)
{
    while (io->report && read_report(host, io) > 0)
        ;
    close_report(host, io);
    /* At most one pipe's worth: a process the worker forked may still hold
     * the pipe and write forever, and the loop must not wait for it. Our
     * end is closed right after, so such a writer then gets EPIPE. */
    size_t drained = 0;
    ssize_t count;
    while (!io->output_ended && drained < DRAIN_LIMIT && (count = read_output(io)) > 0) {
        drained += (size_t)count;
        /* A pipe's read returns all it holds: a short one emptied it, and
         * the worker, dead, writes nothing more (one read less per exit). */
        if ((size_t)count < sizeof shared_read_buffer)
            break;
    }
    flush_partial_output(io);
}

/* The pipes are closed and the record freed at once: nothing in the loop
 * refers to them once they left the pipe set. */
static void free_worker_io(struct host *host, struct worker_io *io)
{
    close_report(host, io);
    if (!io->output_ended)
        pipe_set_remove(&host->worker_pipes, io->output_fd, io);
    close(io->output_fd);
    free(io->partial_line);
    free(io);
}

/* ---------------------------------------------------------------- spawner messages */

void host_worker_spawned(struct host *host, size_t spawner_index,
                         const struct spawner_spawned *spawned, const int *fds, int fd_count,
                         int message_flags)
{
    struct action_list actions;
    action_list_init(&actions);
    host_worker_spawned_into(host, spawner_index, spawned, fds, fd_count, message_flags, &actions);
    host_apply(host, &actions);
    action_list_free(&actions);
}

void host_worker_spawned_into(struct host *host, size_t spawner_index,
                              const struct spawner_spawned *spawned, const int *fds, int fd_count,
                              int message_flags, struct action_list *out)
{
    struct worker_io *io = NULL;
    bool out_of_descriptors = (message_flags & MSG_CTRUNC) != 0;
    if (spawned->pid > 0 && fd_count == 2)
        io = calloc(1, sizeof *io);
    if (io)
        io->kind = WATCHED_OUTPUT;
    /* An output pipe that cannot be watched cannot be read safely either:
     * like running out of memory, the start fails. */
    if (io && pipe_set_add(&host->worker_pipes, fds[0], io) != 0) {
        free(io);
        io = NULL;
    }
    if (spawned->pid > 0 && io) {
        const struct child_info *child = tree_find_child(host->tree, spawned->key);
        const char *supervisor = tree_child_supervisor(host->tree, spawned->key);
        const struct supervisor_spec *supervisor_spec =
            supervisor ? config_find_supervisor(&host->config, supervisor) : NULL;
        const struct child_spec *child_spec = child ? config_find_child(&host->config, child->id) : NULL;
        io->key = spawned->key;
        io->pid = spawned->pid;
        io->output_fd = fds[0];
        io->spawner_index = (uint32_t)spawner_index;
        io->supervisor = supervisor_spec ? supervisor_spec->name : "-";
        io->child_id = child_spec ? child_spec->id : "-";
        io->report = calloc(1, sizeof *io->report);
        if (io->report) {
            io->report->kind = WATCHED_REPORT;
            io->report->fd = fds[1];
            io->report->io = io;
        }
        /* Unwatched, a pipe is still read when the worker's exit is heard
         * (drain_worker); a report pipe that cannot be watched is given up
         * (its worker then counts as never answering, like a lost answer). */
        if (io->report && pipe_set_add(&host->worker_pipes, fds[1], io->report) != 0) {
            free(io->report);
            io->report = NULL;
        }
        if (!io->report)
            close(fds[1]);
        hashmap_put_number(&host->workers_by_pid, worker_key(spawner_index, io->pid), io);
        host->spawners[spawner_index]->worker_count++;
        tree_spawned(host->tree, spawned->key, spawned->pid, host_now(host), out);
    } else {
        for (int i = 0; i < fd_count; i++)
            close(fds[i]);
        char detail[sizeof spawned->detail + 32];
        snprintf(detail, sizeof detail, "cannot start the worker: %.*s", (int)sizeof spawned->detail,
                 spawned->pid <= 0        ? spawned->detail
                 : out_of_descriptors     ? "the host is out of file descriptors"
                                          : "out of memory in the host");
        if (spawned->pid > 0)
            kill(spawned->pid, SIGKILL);
        tree_spawn_failed(host->tree, spawned->key, detail, host_now(host), out);
    }
}

static void worker_gone(struct host *host, struct worker_io *io, int wait_status)
{
    const char *supervisor = io->supervisor, *child_id = io->child_id;
    struct spawner_link *link = host->spawners[io->spawner_index];
    link->worker_count--;
    if (io->kill_awaited)
        link->kills_awaited--;
    /* Whether its generation is released waits for the tree's decision
     * (host_apply): a restart may need it. */
    child_key key = io->key;
    pid_t pid = io->pid;
    drain_worker(host, io);
    struct child_exit how = {0, 0};
    if (WIFSIGNALED(wait_status))
        how.signal = WTERMSIG(wait_status);
    else
        how.exit_code = WEXITSTATUS(wait_status);
    metrics_record_exit(&host->counters, supervisor, child_id, &how);
    struct action_list actions;
    action_list_init(&actions);
    tree_worker_exited(host->tree, key, pid, how, host_now(host), &actions);
    HOP_TRACE(HOP_HOST_DECIDED, pid);
    host_apply(host, &actions);
    HOP_TRACE(HOP_HOST_DONE, pid);
    action_list_free(&actions);
    /* After the decision is carried out: closing the pipe frees it (5-10
     * us), which a restart's replacement need not wait for (issue 13). */
    free_worker_io(host, io);
}

void host_worker_exited(struct host *host, size_t spawner_index,
                        const struct spawner_exited *exited)
{
    /* Unknown: a spare the host let go, or a worker whose start it
     * refused (out of descriptors); nothing of the tree's. */
    struct worker_io *io = hashmap_remove_number(&host->workers_by_pid,
                                                 worker_key(spawner_index, exited->pid));
    if (io)
        worker_gone(host, io, exited->wait_status);
}

void host_workers_lost(struct host *host, size_t spawner_index)
{
    for (;;) {
        struct worker_io *found = NULL;
        for (size_t i = 0; i < host->workers_by_pid.capacity && !found; i++) {
            struct worker_io *io = host->workers_by_pid.slots[i].value;
            if (io && io->spawner_index == spawner_index)
                found = io;
        }
        if (!found || host->exiting)
            return;
        hashmap_remove_number(&host->workers_by_pid, worker_key(spawner_index, found->pid));
        worker_gone(host, found, SIGKILL); /* a wait status: killed by SIGKILL */
    }
}

int host_workers_open(struct host *host)
{
    return pipe_set_open(&host->worker_pipes, &host->loop, worker_pipe_ready, host);
}

void host_workers_close(struct host *host)
{
    /* Workers still listed only when the host exits abnormally (a
     * spawner died): close their pipes too. */
    for (size_t i = 0; i < host->workers_by_pid.capacity; i++) {
        struct worker_io *io = host->workers_by_pid.slots[i].value;
        if (io)
            free_worker_io(host, io);
    }
    hashmap_free(&host->workers_by_pid);
    hashmap_init(&host->workers_by_pid);
    pipe_set_close(&host->worker_pipes);
}

bool host_worker_kill_sent(struct host *host, pid_t pid)
{
    for (size_t i = 0; i < host->spawner_count; i++) {
        struct worker_io *io = hashmap_get_number(&host->workers_by_pid, worker_key(i, pid));
        if (io) {
            if (!io->kill_awaited) {
                io->kill_awaited = 1;
                host->spawners[i]->kills_awaited++;
            }
            return true;
        }
    }
    return false;
}
