/*
 * The control socket's file and its peers, for control.c (private): making
 * room for the socket (a stale one is replaced, a live host's is not taken
 * over), binding it with the mode its access rules need, unlinking it only
 * while it is still ours, surviving writes to vanished clients (SIGPIPE),
 * and deciding from SO_PEERCRED whether a peer may talk to the host. No
 * libuv here: plain sockets and files.
 *
 * Errors are added to `errors` naming the path; nothing is allocated that
 * the caller must free.
 */
#ifndef DYNSUP_CONTROL_SOCKET_H
#define DYNSUP_CONTROL_SOCKET_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "config.h"  /* struct error_list */
#include "control.h" /* struct control_access */

/* Makes room for our socket at `path`: nothing there, or a stale socket
 * that nobody answers on (removed). Returns 0, or -1 when the path is too
 * long for a socket, is not a socket, a live host answers on it, or it
 * cannot be checked. */
int control_socket_clear_path(const char *path, struct error_list *errors);

/* The socket file's mode for `access` (NULL: none): 0666 with
 * allow_users, 0660 with allow_group alone (the file in that group), else
 * 0600. Who may talk is decided by SO_PEERCRED (control_peer_allowed);
 * the mode only keeps out, in advance, whom that would refuse anyway. */
mode_t control_socket_mode(const struct control_access *access);

/* Publishes a listening socket at `path`, with the mode `access` needs
 * (0600, 0660 in the allowed group, 0666 for allow_users), and fills
 * `created` with its file's identity. The file appears only once the
 * socket listens, and never replaces a file that appeared at `path` after
 * control_socket_clear_path. Returns the descriptor (close-on-exec,
 * listening with `backlog`), or -1 with nothing left behind. `access` may
 * be NULL. */
int control_socket_bind(const char *path, const struct control_access *access, int backlog,
                        struct stat *created, struct error_list *errors);

/* Unlinks `path` only if it is still the socket file (device, inode) we
 * created: a successor host may have replaced it. */
void control_socket_unlink_if_ours(const char *path, dev_t device, ino_t inode);

/* SIGPIPE ignored unless the process chose its own handling: a client that
 * vanishes while we write must not kill the host. */
void control_socket_ignore_sigpipe(void);

/* The peer's pid, uid and gid (SO_PEERCRED). Returns 0 or -1. */
int control_socket_peer_credentials(int fd, struct ucred *peer);

/* Root, the host's own user, a uid in allow_uids, or a member (primary or
 * supplementary) of the allowed group. */
bool control_peer_allowed(const struct control_access *access, const struct ucred *peer);

#endif
