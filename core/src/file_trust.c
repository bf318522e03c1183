/*
 * The host's trust rule. See file_trust.h.
 */
#include "file_trust.h"

#include <stdio.h>
#include <unistd.h>

/* Whoever can write a plugin or its folder runs code as the host, and
 * whoever can write the control socket's folder can put a socket of their
 * own in its place; so each must belong to root or the host's user and be
 * writable by that owner only. */
bool trust_refusal(const struct stat *info, const char *rule_subject, char *reason,
                   size_t reason_size)
{
    uid_t host_uid = geteuid();
    if (info->st_uid != 0 && info->st_uid != host_uid) {
        if (host_uid == 0)
            snprintf(reason, reason_size, "owned by uid %u, expected root (the host's user)",
                     (unsigned)info->st_uid);
        else
            snprintf(reason, reason_size, "owned by uid %u, expected root or uid %u (the host's user)",
                     (unsigned)info->st_uid, (unsigned)host_uid);
        return true;
    }
    mode_t writable = info->st_mode & (S_IWGRP | S_IWOTH);
    if (writable != 0) {
        const char *by = writable == S_IWGRP ? "group" : writable == S_IWOTH ? "others" : "group and others";
        snprintf(reason, reason_size, "writable by %s (mode %04o); %s must be writable only by their owner",
                 by, (unsigned)(info->st_mode & 07777), rule_subject);
        return true;
    }
    return false;
}
