/*
 * Where the control socket may live, judged when the config is read, so
 * that `check` refuses every socket place that `run` would (issue 9 item
 * 6): a path a unix socket cannot hold, something that is not a socket
 * already at the path, and a folder that is not a folder or that others
 * may write (anyone who can write it can put a socket of their own in the
 * host's place). The messages are the ones `run` prints.
 *
 * `run` checks again when it binds (control_socket.c, host.c): the folder
 * may be created or changed after the config was read, and a stale socket
 * there is only replaced at that moment. A missing folder is fine here
 * when `run` can create it (mode 0700), and allow_group when `run` can
 * hand the socket to that group.
 */
#include "config_values.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "file_trust.h"

/* `run` creates a missing folder as `mkdir -p` would: the first missing
 * one must go into a folder the host may write. */
static void check_folder_can_be_created(const struct section_reader *r, const char *key, int line,
                                        const char *folder)
{
    char *missing = strdup(folder); /* the first missing folder on the way */
    char *existing = strdup(folder);
    if (missing == NULL || existing == NULL) {
        section_key_error(r, key, line, "out of memory");
    } else {
        struct stat info;
        for (;;) {
            char *slash = strrchr(existing, '/');
            if (slash == NULL) {
                strcpy(existing, ".");
            } else if (slash == existing) {
                existing[1] = '\0';
            } else {
                *slash = '\0';
            }
            if (stat(existing, &info) == 0 || errno != ENOENT ||
                strcmp(existing, ".") == 0 || strcmp(existing, "/") == 0)
                break;
            strcpy(missing, existing);
        }
        if (access(existing, W_OK | X_OK) != 0) {
            if (strcmp(missing, folder) == 0)
                section_key_error(r, key, line, "control socket folder %s: cannot create: %s", folder,
                                  strerror(errno));
            else
                section_key_error(r, key, line, "control socket folder %s: cannot create %s: %s",
                                  folder, missing, strerror(errno));
        }
    }
    free(missing);
    free(existing);
}

bool config_may_give_socket_to_group(gid_t group)
{
    if (geteuid() == 0 || getegid() == group)
        return true;
    int count = getgroups(0, NULL);
    gid_t *groups = count > 0 ? calloc((size_t)count, sizeof *groups) : NULL;
    bool member = false;
    if (groups != NULL && (count = getgroups(count, groups)) > 0)
        for (int i = 0; i < count && !member; i++)
            member = groups[i] == group;
    free(groups);
    return member;
}

void config_check_socket_group(const struct section_reader *r, const char *key, gid_t group,
                               const char *name)
{
    if (!config_may_give_socket_to_group(group))
        section_key_error(r, key, ini_layout_line(&r->file->layout, r->section->name, key),
                          "the host's user (uid %u) is not in group %s, so `run` could not give "
                          "the control socket to it; run the host as root or as a member",
                          (unsigned)geteuid(), name);
}

void config_check_socket_place(const struct section_reader *r, const char *key, const char *path)
{
    int line = ini_layout_line(&r->file->layout, r->section->name, key);
    struct sockaddr_un address;
    if (strlen(path) >= sizeof address.sun_path) {
        section_key_error(r, key, line,
                          "control socket %s: the path is too long for a unix socket (at most %zu "
                          "bytes)",
                          path, sizeof address.sun_path - 1);
        return;
    }
    struct stat info;
    if (lstat(path, &info) == 0 && !S_ISSOCK(info.st_mode))
        section_key_error(r, key, line, "control socket: %s exists and is not a socket; not replacing it",
                          path);

    char *copy = strdup(path);
    if (copy == NULL) {
        section_key_error(r, key, line, "out of memory");
        return;
    }
    const char *folder = dirname(copy);
    char reason[160];
    if (stat(folder, &info) != 0) {
        if (errno != ENOENT)
            section_key_error(r, key, line, "control socket folder %s: %s", folder, strerror(errno));
        else
            check_folder_can_be_created(r, key, line, folder);
    } else if (!S_ISDIR(info.st_mode)) {
        section_key_error(r, key, line, "control socket folder %s: not a folder", folder);
    } else if (trust_refusal(&info, "control socket folders", reason, sizeof reason)) {
        section_key_error(r, key, line, "control socket folder %s: refused: %s", folder, reason);
    }
    free(copy);
}
