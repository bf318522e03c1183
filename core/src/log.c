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

static int log_threshold = DYNSUP_LOG_INFO;
static bool log_threshold_from_command_line;
static bool log_priority_prefix;
static int log_fd = STDERR_FILENO;

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
    log_fd = fd;
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
    n = vsnprintf(line + used, sizeof line - used, fmt, ap);
    if (n > 0)
        used += (size_t)n < sizeof line - used ? (size_t)n : sizeof line - used - 1;
    /* Keep the one-line promise: control characters from worker output
     * (a stray \r or \n inside a message) must not forge log lines. */
    for (size_t i = 0; i < used; i++)
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            line[i] = ' ';
    if (used >= sizeof line - 1)
        used = sizeof line - 2;
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
