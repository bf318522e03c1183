/*
 * The control socket's file and its peers. See control_socket.h.
 */
#include "control_socket.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
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

/* Binds a socket at `path` that is born 0600: the umask covers the moment
 * between bind() creating the file and any chmod, so it is never wider
 * than meant. It is widened before listen(), so no peer can connect
 * earlier: 0660 with its group for allow_group, 0666 for allow_users. */
int control_socket_bind(const char *path, const struct control_access *access,
                        struct stat *created, struct error_list *errors)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_list_add(errors, "control socket %s: socket: %s", path, strerror(errno));
        return -1;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    memcpy(address.sun_path, path, strlen(path) + 1);
    mode_t previous_umask = umask(0177);
    int bound = bind(fd, (struct sockaddr *)&address, sizeof address);
    int bind_errno = errno;
    umask(previous_umask);
    if (bound != 0) {
        error_list_add(errors, "control socket %s: cannot create: %s", path, strerror(bind_errno));
        close(fd);
        return -1;
    }
    if (access && access->has_allow_group) {
        if (chown(path, (uid_t)-1, access->allow_gid) != 0 || chmod(path, 0660) != 0) {
            error_list_add(errors, "control socket %s: cannot give it to group %u (mode 0660): %s",
                           path, (unsigned)access->allow_gid, strerror(errno));
            unlink(path);
            close(fd);
            return -1;
        }
    }
    /* Users named in allow_users must be able to connect(), which takes
     * write permission on the socket file; no mode names single users, so
     * the file is opened to all and SO_PEERCRED on every connection is the
     * boundary (the D-Bus system socket works the same way). */
    if (access && access->allow_uid_count > 0 && chmod(path, 0666) != 0) {
        error_list_add(errors, "control socket %s: cannot open it to allow_users (mode 0666): %s",
                       path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    if (stat(path, created) != 0) {
        error_list_add(errors, "control socket %s: %s", path, strerror(errno));
        unlink(path);
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
