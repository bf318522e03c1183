/*
 * The host's trust rule for a file or folder that decides what runs as the
 * host or what it listens to (plugins, their folder, the control socket's
 * folder): owned by root or the host's euid, writable by that owner only.
 * Shared by the plugin loader, the config check and the host's boot, so
 * that `check` and `run` judge alike.
 */
#ifndef DYNSUP_FILE_TRUST_H
#define DYNSUP_FILE_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Returns true, with the reason in `reason` ("writable by group (mode
 * 0775); SUBJECT must be writable only by their owner", "owned by uid
 * 1234, expected ..."), when `info` breaks the rule. */
bool trust_refusal(const struct stat *info, const char *rule_subject, char *reason,
                   size_t reason_size);

#endif
