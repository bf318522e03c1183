/*
 * The control socket's folder at boot: created when missing (as `mkdir -p`
 * would), then checked again as it really is, since `check` validated it
 * a moment earlier and the folder may have been made or changed since.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host_internal.h"
#include "log.h"
#include "plugin_loader.h"

/* Creates the missing folders of `folder`: the parents as `mkdir -p`
 * would, the folder itself 0700, or 0711 when other users are allowed on
 * the socket (they must be able to reach it, not to list or write the
 * folder). The umask can only narrow that. */
static int create_socket_folder(const char *folder, mode_t mode, struct error_list *errors)
{
    char *path = strdup(folder);
    if (!path) {
        error_list_add(errors, "control socket folder %s: out of memory", folder);
        return -1;
    }
    int result = 0;
    for (char *slash = strchr(path + 1, '/'); slash && result == 0; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            error_list_add(errors, "control socket folder %s: cannot create %s: %s", folder, path,
                           strerror(errno));
            result = -1;
        }
        *slash = '/';
    }
    if (result == 0 && mkdir(path, mode) != 0 && errno != EEXIST) {
        error_list_add(errors, "control socket folder %s: cannot create: %s", folder, strerror(errno));
        result = -1;
    }
    free(path);
    return result;
}

/* Whoever can write the socket's folder can put a socket of their own in
 * its place and read what clients send the host (or answer for it), so the
 * folder must pass the same rule as the plugins: owned by root or the
 * host's user, writable by that owner only. A missing one is created. */
int host_prepare_socket_folder(const char *socket_path, bool others_allowed,
                                 struct error_list *errors)
{
    char *copy = strdup(socket_path);
    if (!copy) {
        error_list_add(errors, "control socket %s: out of memory", socket_path);
        return -1;
    }
    const char *folder = dirname(copy);
    int result = -1;
    struct stat info;
    char reason[160];
    bool found = stat(folder, &info) == 0;
    if (!found && errno == ENOENT) {
        if (create_socket_folder(folder, others_allowed ? 0711 : 0700, errors) != 0) {
            free(copy);
            return -1;
        }
        found = stat(folder, &info) == 0;
    }
    if (!found) {
        error_list_add(errors, "control socket folder %s: %s", folder, strerror(errno));
    } else if (!S_ISDIR(info.st_mode)) {
        error_list_add(errors, "control socket folder %s: not a folder", folder);
    } else if (trust_refusal(&info, "control socket folders", reason, sizeof reason)) {
        error_list_add(errors, "control socket folder %s: refused: %s", folder, reason);
    } else {
        result = 0;
        if (others_allowed && (info.st_mode & S_IXOTH) == 0)
            log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0,
                      "control socket folder %s (mode %04o) cannot be passed through by other "
                      "users: allow_users/allow_group can not connect until it can (chmod o+x)",
                      folder, (unsigned)(info.st_mode & 07777));
    }
    free(copy);
    return result;
}
