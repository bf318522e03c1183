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
#include <stdbool.h>
#include <sys/types.h>

#include "dynsup/plugin.h" /* enum dynsup_log_level */

/* Lines below this level are dropped (default: info). Set by the command
 * line (run --log-level), it wins over the config's. */
void log_set_threshold(int level);
/* The config's [host] log_level: applies unless the command line chose. */
void log_set_configured_threshold(int level);
/* Start every line with "<N>", its syslog priority, as the journal reads
 * stderr lines (sd-daemon(3)), so `journalctl -p err` finds errors. */
void log_set_priority_prefix(bool on);
/* Where lines go (default: stderr), written blocking until
 * log_use_nonblocking_output. */
void log_set_fd(int fd);

/* From now on, never wait for the reader (see log.c for how, without
 * touching the description stderr shares with others): a line that cannot
 * be written at once waits in a bounded backlog (256 KiB), one that does
 * not fit is dropped and counted. Returns 0, or -1 when the output cannot
 * be made non-blocking (writes then stay blocking, as before). */
int log_use_nonblocking_output(void);
/* Called when the backlog stops being empty: the caller should call
 * log_flush until it returns false (e.g. from a timer). NULL: none. */
void log_set_backlog_callback(void (*callback)(void));
/* Writes what the backlog holds that the reader takes now; once it is
 * empty, logs the number of lines dropped meanwhile. Returns true while
 * something still waits. */
bool log_flush(void);

/* Lines written together: while held (the host's loop holds them for
 * each turn), lines for output that never waits (a regular file; the only
 * kind written blocking) gather in a buffer of 64 KiB, written in one
 * write(2) by log_write_held (at the turn's end, and before any answer to
 * a client) or when the next line would not fit. Other outputs are
 * written line by line as before. log_hold_lines(false) writes what is
 * held first. */
void log_hold_lines(bool on);
/* Whether lines go to a regular file, written blocking. */
bool log_output_is_regular_file(void);
void log_write_held(void);

void log_event(int level, const char *supervisor, const char *child, pid_t pid, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void log_eventv(int level, const char *supervisor, const char *child, pid_t pid, const char *fmt,
                va_list ap);
/* "error", "warning", "notice", "info", "debug". */
const char *log_level_name(int level);

/* log_setup.c */
/* "debug", "info", "notice", "warning", "error" as a syslog level; -1 for
 * anything else. */
int log_level_parse(const char *name);
/* True when stderr is the systemd journal's stream: JOURNAL_STREAM holds
 * "DEVICE:INODE" of the socket the journal gave us, and stderr is still it
 * (not redirected since). */
bool log_stderr_is_journal(void);

#endif
