/*
 * One log line per event, written with a single write(2) so lines from the
 * host never interleave mid-line even when stderr is shared.
 */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dynsup/plugin.h"
#include "text_escape.h"

static int log_threshold = DYNSUP_LOG_INFO;
static int log_fd = STDERR_FILENO;

void log_set_threshold(int level)
{
    log_threshold = level;
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

const char *log_level_name(int level)
{
    if (level <= DYNSUP_LOG_ERROR)
        return "error";
    if (level == DYNSUP_LOG_WARNING)
        return "warning";
    if (level <= DYNSUP_LOG_INFO)
        return "info";
    return "debug";
}

void log_eventv(int level, const char *supervisor, const char *child, pid_t pid, const char *fmt,
                va_list ap)
{
    if (level > log_threshold)
        return;
    char line[4096];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r(&now.tv_sec, &utc);
    size_t used = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &utc);
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
    ssize_t ignored = write(log_fd, line, used);
    (void)ignored;
}

void log_event(int level, const char *supervisor, const char *child, pid_t pid, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_eventv(level, supervisor, child, pid, fmt, ap);
    va_end(ap);
}
