/*
 * The control socket's file and its peers. See control_socket.h.
 */
#include "control_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the socket file --------------------------------------------------- */

/* Makes room for our socket at `path`: nothing there, or a stale socket
 * that nobody answers on (left by a host that was killed). */
int control_socket_clear_path(const char *path, struct error_list *errors)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) {
        error_list_add(errors, "control socket %s: path is too long (at most %zu bytes)", path,
                       sizeof address.sun_path - 1);
        return -1;
    }
    struct stat status;
    if (lstat(path, &status) != 0) {
        if (errno == ENOENT)
            return 0;
        error_list_add(errors, "control socket %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(status.st_mode)) {
        error_list_add(errors, "control socket: %s exists and is not a socket; not replacing it",
                       path);
        return -1;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0) {
        error_list_add(errors, "control socket %s: socket: %s", path, strerror(errno));
        return -1;
    }
    memcpy(address.sun_path, path, strlen(path) + 1);
    int connected = connect(probe, (struct sockaddr *)&address, sizeof address);
    int connect_errno = errno;
    close(probe);
    /* EAGAIN: a live listener whose backlog is full. */
    if (connected == 0 || connect_errno == EAGAIN || connect_errno == EINPROGRESS) {
        error_list_add(errors, "control socket: another dynsup-host is already listening on %s",
                       path);
        return -1;
    }
    if (connect_errno != ECONNREFUSED) {
        error_list_add(errors, "control socket %s: cannot tell whether a host listens on it: %s",
                       path, strerror(connect_errno));
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        error_list_add(errors, "control socket %s: cannot remove the stale socket: %s", path,
                       strerror(errno));
        return -1;
    }
    return 0;
}

/* The folder of `path` (opened O_PATH) and the name in it, or -1. */
static int open_folder_of(const char *path, const char **name, struct error_list *errors)
{
    const char *slash = strrchr(path, '/');
    char folder[sizeof((struct sockaddr_un *)0)->sun_path] = ".";
    if (slash) {
        size_t length = slash == path ? 1 : (size_t)(slash - path);
        if (length >= sizeof folder) {
            error_list_add(errors, "control socket %s: path is too long (at most %zu bytes)", path,
                           sizeof folder - 1);
            return -1;
        }
        memcpy(folder, path, length);
        folder[length] = '\0';
    }
    *name = slash ? slash + 1 : path;
    int fd = open(folder, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        error_list_add(errors, "control socket %s: cannot open its folder %s: %s", path, folder,
                       strerror(errno));
    return fd;
}

/* Users named in allow_users must be able to connect(), which takes write
 * permission on the socket file; no mode names single users, so the file
 * is opened to all and SO_PEERCRED on every connection is the boundary
 * (the D-Bus system socket works the same way). */
mode_t control_socket_mode(const struct control_access *access)
{
    if (access && access->allow_uid_count > 0)
        return 0666;
    return access && access->has_allow_group ? 0660 : 0600;
}

/* Gives the socket file `name` in `folder` the mode `access` needs, in
 * the allowed group with allow_group. */
static int give_access_mode(int folder, const char *name, const struct control_access *access,
                            const char *path, struct error_list *errors)
{
    mode_t mode = control_socket_mode(access);
    if (mode == 0600)
        return 0;
    if (access->has_allow_group &&
        fchownat(folder, name, (uid_t)-1, access->allow_gid, AT_SYMLINK_NOFOLLOW) != 0) {
        error_list_add(errors, "control socket %s: cannot give it to group %u: %s", path,
                       (unsigned)access->allow_gid, strerror(errno));
        return -1;
    }
    if (fchmodat(folder, name, mode, 0) != 0) {
        error_list_add(errors, "control socket %s: cannot set its mode %04o: %s", path,
                       (unsigned)mode, strerror(errno));
        return -1;
    }
    return 0;
}

/* Links `temporary` to `name`, both in `folder`. link() fails when `name`
 * exists: whatever another process put there stays. */
static int link_into_place(int folder, const char *temporary, const char *name, const char *path,
                           struct error_list *errors)
{
    if (linkat(folder, temporary, folder, name, 0) == 0)
        return 0;
    int link_errno = errno;
    struct stat there;
    if (link_errno == EEXIST && fstatat(folder, name, &there, AT_SYMLINK_NOFOLLOW) == 0)
        error_list_add(errors,
                       S_ISSOCK(there.st_mode)
                           ? "control socket: another dynsup-host is already listening on %s"
                           : "control socket: %s appeared while the host started and is not a "
                             "socket; not replacing it",
                       path);
    else
        error_list_add(errors, "control socket %s: cannot put it in place: %s", path,
                       strerror(link_errno));
    return -1;
}

/* Why a temporary name: bind() creates the file before listen() makes it
 * answer, and a client (or a second host deciding whether the socket is
 * stale) that came in between would be refused. So the socket is bound,
 * given its mode and made to listen under a name of its own in the same
 * folder, and only then linked to `path` (link_into_place), which never
 * replaces a socket another host published after control_socket_clear_path
 * looked. The folder is reached through /proc/self/fd, so the temporary
 * name fits in sun_path however long the folder's name is.
 *
 * The socket is born 0600: the umask covers the moment between bind() and
 * give_access_mode, so it is never wider than meant. */
int control_socket_bind(const char *path, const struct control_access *access, int backlog,
                        struct stat *created, struct error_list *errors)
{
    const char *name;
    int folder = open_folder_of(path, &name, errors);
    if (folder < 0)
        return -1;
    char temporary[64];
    snprintf(temporary, sizeof temporary, ".dynsup-host.%ld.sock", (long)getpid());
    struct stat leftover; /* from a killed host that had our pid */
    if (fstatat(folder, temporary, &leftover, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(leftover.st_mode))
        unlinkat(folder, temporary, 0);

    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "/proc/self/fd/%d/%s", folder, temporary);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_list_add(errors, "control socket %s: socket: %s", path, strerror(errno));
        close(folder);
        return -1;
    }
    mode_t previous_umask = umask(0177);
    int bound = bind(fd, (struct sockaddr *)&address, sizeof address);
    int bind_errno = errno;
    umask(previous_umask);
    if (bound != 0) {
        error_list_add(errors, "control socket %s: cannot create: %s", path, strerror(bind_errno));
        close(fd);
        close(folder);
        return -1;
    }

    int status = give_access_mode(folder, temporary, access, path, errors);
    if (status == 0 && listen(fd, backlog) != 0) {
        error_list_add(errors, "control socket %s: cannot listen: %s", path, strerror(errno));
        status = -1;
    }
    if (status == 0 && fstatat(folder, temporary, created, AT_SYMLINK_NOFOLLOW) != 0) {
        error_list_add(errors, "control socket %s: cannot stat it: %s", path, strerror(errno));
        status = -1;
    }
    if (status == 0)
        status = link_into_place(folder, temporary, name, path, errors);
    unlinkat(folder, temporary, 0);
    close(folder);
    if (status != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void control_socket_unlink_if_ours(const char *path, dev_t device, ino_t inode)
{
    struct stat status;
    if (lstat(path, &status) == 0 && status.st_dev == device && status.st_ino == inode)
        unlink(path);
}

/* A client that vanishes while we write would otherwise kill the host with
 * SIGPIPE (libuv writes with write(2)). Only the default is replaced, so a
 * host that chose its own handling keeps it. */
void control_socket_ignore_sigpipe(void)
{
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL) {
        struct sigaction ignore = {.sa_handler = SIG_IGN};
        sigemptyset(&ignore.sa_mask);
        sigaction(SIGPIPE, &ignore, NULL);
    }
}

/* ---- peers ------------------------------------------------------------- */

int control_socket_peer_credentials(int fd, struct ucred *peer)
{
    socklen_t peer_size = sizeof *peer;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, peer, &peer_size) == 0 ? 0 : -1;
}

/* Is `uid` (whose primary group is `gid` now) a member of `group` in the
 * group database? Asked only when the cheaper checks failed. */
static bool user_in_group(uid_t uid, gid_t gid, gid_t group)
{
    long suggested = sysconf(_SC_GETPW_R_SIZE_MAX);
    size_t size = suggested > 0 ? (size_t)suggested : 16384;
    char *text = NULL;
    struct passwd entry, *found = NULL;
    for (;;) {
        char *grown = realloc(text, size);
        if (!grown)
            break;
        text = grown;
        int status = getpwuid_r(uid, &entry, text, size, &found);
        if (status != ERANGE)
            break;
        found = NULL;
        size *= 2;
    }
    bool member = false;
    if (found) {
        int count = 64;
        gid_t *groups = NULL;
        for (int tries = 0; tries < 4 && !member; tries++) {
            gid_t *grown = realloc(groups, (size_t)count * sizeof *groups);
            if (!grown)
                break;
            groups = grown;
            int wanted = count;
            if (getgrouplist(found->pw_name, gid, groups, &wanted) >= 0) {
                for (int i = 0; i < wanted && !member; i++)
                    member = groups[i] == group;
                break;
            }
            count = wanted > count ? wanted : count * 2; /* the list did not fit */
        }
        free(groups);
    }
    free(text);
    return member;
}

bool control_peer_allowed(const struct control_access *access, const struct ucred *peer)
{
    if (peer->uid == 0 || peer->uid == geteuid())
        return true;
    for (int i = 0; i < access->allow_uid_count; i++)
        if (access->allow_uids[i] == peer->uid)
            return true;
    if (!access->has_allow_group)
        return false;
    return peer->gid == access->allow_gid || user_in_group(peer->uid, peer->gid, access->allow_gid);
}
