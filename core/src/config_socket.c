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
 * there is only replaced at that moment. A missing folder is fine here:
 * `run` creates it (mode 0700).
 */
#include "config_values.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "file_trust.h"

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
    } else if (!S_ISDIR(info.st_mode)) {
        section_key_error(r, key, line, "control socket folder %s: not a folder", folder);
    } else if (trust_refusal(&info, "control socket folders", reason, sizeof reason)) {
        section_key_error(r, key, line, "control socket folder %s: refused: %s", folder, reason);
    }
    free(copy);
}
