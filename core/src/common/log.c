/*
 * One log line per event, written with a single write(2) so lines from the
 * host never interleave mid-line even when stderr is shared.
 *
 * Output that never blocks (issue 9 item 9). A reader of the host's
 * stderr that stops reading (a full pipe, a terminal on hold) must not
 * stall supervision, so once the host asks for it (log_use_nonblocking_
 * output), a line that cannot be written at once waits in a bounded
 * backlog, written out as the reader catches up (log_flush, which the
 * host's loop calls until the backlog is gone); a line that does not fit
 * there is dropped, counted, and the count logged once the backlog drained.
 * A line is written whole or dropped whole, never cut.
 *
 * Why not O_NONBLOCK on stderr itself: the flag belongs to the open file
 * description, which the host shares with whoever started it (the shell
 * or terminal would then see EAGAIN on its own reads and writes) and with
 * its spawners (forked before the loop; they write nothing there once
 * their plugin is loaded, and workers write to their own output pipe,
 * dup'ed onto 1 and 2, never to the host's stderr). Instead the host writes through a description of its own:
 * a pipe, FIFO or terminal is opened again (/proc/self/fd/2) with
 * O_NONBLOCK; a socket (systemd's journal stream) is written with
 * send(MSG_DONTWAIT), which is non-blocking for that call only; a regular
 * file never waits on a reader and is written as before.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dynsup/plugin.h"
#include "text_escape.h"

#define LOG_LINE_MAX 4096
/* What may wait for a slow reader: about 2,500 typical lines. */
#define LOG_BACKLOG_MAX (256 * 1024)

enum log_output {
    LOG_OUTPUT_BLOCKING,    /* write(2) and wait (the default; regular files) */
    LOG_OUTPUT_OWN_FD,      /* our own O_NONBLOCK description of a pipe or terminal */
    LOG_OUTPUT_SOCKET,      /* send(MSG_DONTWAIT) */
};

static int log_threshold = DYNSUP_LOG_INFO;
static bool log_threshold_from_command_line;
static bool log_priority_prefix;
static int log_fd = STDERR_FILENO;
static enum log_output log_output = LOG_OUTPUT_BLOCKING;

/* The backlog: bytes [backlog_start, backlog_end) wait to be written. One
 * line more than the limit fits, for the rest of a line cut by a partial
 * write (which is kept whatever the limit: a line is never cut). */
static char backlog[LOG_BACKLOG_MAX + LOG_LINE_MAX];
static size_t backlog_start, backlog_end;

/* Held lines (log_hold_lines): why, a write(2) per line was a tenth of the
 * host's CPU in a stop of 2,000 children (one line each), and on a
 * restart's path the exit's line was written before the replacement's job
 * (issue 13). A buffer of whole lines, so a write never cuts one. */
#define LOG_HELD_MAX (64 * 1024)
static char held[LOG_HELD_MAX];
static size_t held_length;
static bool holding;
static unsigned long dropped_lines;
static void (*backlog_callback)(void);

void log_set_threshold(int level)
{
    log_threshold = level;
    log_threshold_from_command_line = true;
}

void log_set_configured_threshold(int level)
{
    if (!log_threshold_from_command_line)
        log_threshold = level;
}

void log_set_priority_prefix(bool on)
{
    log_priority_prefix = on;
}

void log_set_fd(int fd)
{
    log_write_held();
    if (log_output == LOG_OUTPUT_OWN_FD)
        close(log_fd);
    log_fd = fd;
    log_output = LOG_OUTPUT_BLOCKING;
}

bool log_output_is_regular_file(void)
{
    struct stat info;
    return log_output == LOG_OUTPUT_BLOCKING && fstat(log_fd, &info) == 0 && S_ISREG(info.st_mode);
}

int log_use_nonblocking_output(void)
{
    log_write_held();
    struct stat info;
    if (fstat(log_fd, &info) != 0)
        return -1;
    if (S_ISSOCK(info.st_mode)) {
        log_output = LOG_OUTPUT_SOCKET;
    } else if (S_ISFIFO(info.st_mode) || S_ISCHR(info.st_mode)) {
        char name[32];
        snprintf(name, sizeof name, "/proc/self/fd/%d", log_fd);
        int fd = open(name, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
            return -1; /* no reader (ENXIO) or no /proc: writes stay as they were */
        log_fd = fd;
        log_output = LOG_OUTPUT_OWN_FD;
    }
    return 0;
}

void log_set_backlog_callback(void (*callback)(void))
{
    backlog_callback = callback;
}

const char *log_level_name(int level)
{
    if (level <= DYNSUP_LOG_ERROR)
        return "error";
    if (level == DYNSUP_LOG_WARNING)
        return "warning";
    if (level == DYNSUP_LOG_WARNING + 1)
        return "notice";
    if (level <= DYNSUP_LOG_INFO)
        return "info";
    return "debug";
}

/* ---- output ------------------------------------------------------------ */

static ssize_t write_now(const char *data, size_t length)
{
    for (;;) {
        ssize_t written = log_output == LOG_OUTPUT_SOCKET
                              ? send(log_fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL)
                              : write(log_fd, data, length);
        if (written >= 0 || errno != EINTR)
            return written;
    }
}

static bool would_block(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

static void backlog_append(const char *data, size_t length)
{
    if (backlog_end + length > sizeof backlog) {
        memmove(backlog, backlog + backlog_start, backlog_end - backlog_start);
        backlog_end -= backlog_start;
        backlog_start = 0;
    }
    memcpy(backlog + backlog_end, data, length);
    backlog_end += length;
}

static void write_blocking(const char *data, size_t length)
{
    while (length > 0) {
        ssize_t written = write_now(data, length);
        if (written <= 0)
            return; /* nobody can take it (a full disk): as before, the line is lost */
        data += written;
        length -= (size_t)written;
    }
}

void log_write_held(void)
{
    size_t length = held_length;
    held_length = 0;
    write_blocking(held, length);
}

void log_hold_lines(bool on)
{
    if (!on)
        log_write_held();
    holding = on;
}

static void emit(const char *line, size_t length)
{
    if (log_output == LOG_OUTPUT_BLOCKING) {
        if (!holding) {
            write_blocking(line, length);
            return;
        }
        if (held_length + length > sizeof held)
            log_write_held();
        memcpy(held + held_length, line, length); /* a line is at most LOG_LINE_MAX */
        held_length += length;
        return;
    }
    if (backlog_end > backlog_start) {
        if (backlog_end - backlog_start + length > LOG_BACKLOG_MAX)
            dropped_lines++;
        else
            backlog_append(line, length);
        return;
    }
    ssize_t written = write_now(line, length);
    if (written == (ssize_t)length || (written < 0 && !would_block()))
        return; /* out, or nobody will ever read it (EPIPE): nothing to wait for */
    size_t done = written > 0 ? (size_t)written : 0;
    backlog_append(line + done, length - done);
    if (backlog_callback != NULL)
        backlog_callback();
}

bool log_flush(void)
{
    while (backlog_end > backlog_start) {
        ssize_t written = write_now(backlog + backlog_start, backlog_end - backlog_start);
        if (written < 0 && would_block())
            return true;
        if (written <= 0) {
            backlog_start = backlog_end = 0; /* the reader is gone */
            break;
        }
        backlog_start += (size_t)written;
    }
    backlog_start = backlog_end = 0;
    if (dropped_lines > 0) {
        unsigned long count = dropped_lines;
        dropped_lines = 0;
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
                  "dropped %lu log lines: the reader of this log did not keep up", count);
    }
    return backlog_end > backlog_start;
}

/* ---- lines ------------------------------------------------------------- */

void log_eventv(int level, const char *supervisor, const char *child, pid_t pid, const char *fmt,
                va_list ap)
{
    if (level > log_threshold)
        return;
    char line[LOG_LINE_MAX];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r(&now.tv_sec, &utc);
    size_t used = 0;
    if (log_priority_prefix)
        used = (size_t)snprintf(line, sizeof line, "<%d>", level < 0 ? 0 : level > 7 ? 7 : level);
    used += strftime(line + used, sizeof line - used, "%Y-%m-%dT%H:%M:%S", &utc);
    char pid_text[16] = "-";
    if (pid > 0)
        snprintf(pid_text, sizeof pid_text, "%d", (int)pid);
    int n = snprintf(line + used, sizeof line - used, ".%03ldZ %-7s sup=%s child=%s pid=%s ",
                     now.tv_nsec / 1000000L, log_level_name(level), supervisor ? supervisor : "-",
                     child ? child : "-", pid_text);
    if (n > 0)
        used += (size_t)n < sizeof line - used ? (size_t)n : sizeof line - used - 1;
    /* Keep the one-line promise: control characters in a message (a file
     * name, a client's text, a worker's line) must neither forge log lines
     * nor drive the terminal, so they are escaped (text_escape.h). */
    char message[sizeof line];
    n = vsnprintf(message, sizeof message, fmt, ap);
    if (n > 0)
        used += text_escape(line + used, sizeof line - 1 - used, message,
                            (size_t)n < sizeof message ? (size_t)n : sizeof message - 1);
    line[used++] = '\n';
    emit(line, used);
}

void log_event(int level, const char *supervisor, const char *child, pid_t pid, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_eventv(level, supervisor, child, pid, fmt, ap);
    va_end(ap);
}
