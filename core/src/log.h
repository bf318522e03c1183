/*
 * The host's log: one line per event on stderr (so a terminal or systemd's
 * journal shows it as is):
 *
 *   2026-11-25T11:40:14.123Z info  sup=auth_rules child=auth_loader pid=1234 message
 *
 * Fields that do not apply are "-". Levels are the syslog numbers of
 * enum dynsup_log_level (plugin.h).
 */
#ifndef DYNSUP_LOG_H
#define DYNSUP_LOG_H

#include <stdarg.h>
#include <sys/types.h>

#include "dynsup/plugin.h" /* enum dynsup_log_level */

/* Lines below this level are dropped (default: info). */
void log_set_threshold(int level);
/* Where lines go (default: stderr). */
void log_set_fd(int fd);

void log_event(int level, const char *supervisor, const char *child, pid_t pid, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void log_eventv(int level, const char *supervisor, const char *child, pid_t pid, const char *fmt,
                va_list ap);
/* "error", "warning", "info", "debug". */
const char *log_level_name(int level);

#endif
