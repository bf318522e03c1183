/*
 * The client's one exchange with the host: connect to the control socket,
 * send a request line, read the answer line.
 *
 * This is a short-lived client, so plain blocking POSIX I/O is the simple
 * and right tool here; only the waits are bounded (poll), so a wedged host
 * cannot hang a script forever.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_internal.h"
#include "file_kind.h"

/* Generous: start_child waits for the plugin's init, which may be slow. */
#define CLI_ANSWER_TIMEOUT_MS 60000
/* which_children of a big supervisor is long, but not this long. */
#define CLI_MAX_ANSWER (64 * 1024 * 1024)

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the deadline. Returns 1 ready, 0 timed
 * out, -1 error (errno). */
static int wait_until(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - monotonic_ms();
        if (left <= 0)
            return 0;
        struct pollfd poll_fd = {.fd = fd, .events = events};
        int ready = poll(&poll_fd, 1, (int)left);
        if (ready >= 0)
            return ready;
        if (errno != EINTR)
            return -1;
    }
}

/* What a failed connect() means to whoever typed the command: "not
 * running" and "not allowed" call for different fixes. */
static const char *unreachable_hint(int error, const char *socket_path)
{
    static char not_a_socket[96];
    struct stat file;
    switch (error) {
    case ENOENT:
        return "no socket there: is dynsup-host running? Is -c/-s the host's?";
    case ECONNREFUSED:
        /* A stale socket may be deleted: never call another file one. */
        if (stat(socket_path, &file) == 0 && !S_ISSOCK(file.st_mode)) {
            snprintf(not_a_socket, sizeof not_a_socket,
                     "it is not a socket but %s: is -c/-s the host's?", file_kind_name(file.st_mode));
            return not_a_socket;
        }
        return "nothing listens on it: dynsup-host is not running (the socket file is stale)";
    case EACCES:
    case EPERM:
        return "you may not use it: run as root or the host's user, or be listed in the host's "
               "allow_users / allow_group";
    case EAGAIN:
    case ETIMEDOUT:
        return "the host does not accept connections: it is overloaded or stuck";
    default:
        return "is dynsup-host running?";
    }
}

static int connect_to_host(const char *socket_path, const char *command_name, int *fd_out)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (socket_path[0] == '\0') {
        fprintf(stderr, "dynsup-host %s: the socket path is empty\n", command_name);
        return EXIT_USAGE;
    }
    if (strlen(socket_path) >= sizeof address.sun_path) {
        fprintf(stderr, "dynsup-host %s: socket path %s is too long (at most %zu bytes)\n",
                command_name, socket_path, sizeof address.sun_path - 1);
        return EXIT_USAGE;
    }
    memcpy(address.sun_path, socket_path, strlen(socket_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "dynsup-host %s: socket: %s\n", command_name, strerror(errno));
        return EXIT_UNREACHABLE;
    }
    /* A full listen backlog makes connect() block; bound it like the rest. */
    struct timeval timeout = {.tv_sec = CLI_ANSWER_TIMEOUT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    while (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        if (errno == EINTR)
            continue;
        int error = errno;
        fprintf(stderr, "dynsup-host %s: cannot reach the host at %s: %s (%s)\n", command_name,
                socket_path, strerror(error), unreachable_hint(error, socket_path));
        close(fd);
        return EXIT_UNREACHABLE;
    }
    *fd_out = fd;
    return EXIT_OK;
}

static int send_request(int fd, const char *request, int64_t deadline)
{
    size_t length = strlen(request), sent = 0;
    while (sent < length) {
        int ready = wait_until(fd, POLLOUT, deadline);
        if (ready == 0)
            errno = ETIMEDOUT;
        if (ready <= 0)
            return -1;
        /* MSG_NOSIGNAL: a host gone away is an error to report, not SIGPIPE. */
        ssize_t written = send(fd, request + sent, length - sent, MSG_NOSIGNAL);
        if (written < 0 && errno != EINTR && errno != EAGAIN)
            return -1;
        if (written > 0)
            sent += (size_t)written;
    }
    return 0;
}

/* Reads up to the first '\n'. Returns 0 with *answer (malloc'd, without
 * the '\n'), or -1: errno ETIMEDOUT, EPIPE (closed before the line ended),
 * EMSGSIZE (too long) or a socket error. */
static int receive_answer(int fd, int64_t deadline, char **answer)
{
    size_t length = 0, capacity = 4096;
    char *buffer = malloc(capacity);
    if (!buffer)
        return -1;
    for (;;) {
        int ready = wait_until(fd, POLLIN, deadline);
        if (ready <= 0) {
            if (ready == 0)
                errno = ETIMEDOUT;
            break;
        }
        if (capacity - length < 4096) {
            char *bigger = length + 4096 > CLI_MAX_ANSWER ? NULL : realloc(buffer, capacity * 2);
            if (!bigger) {
                errno = EMSGSIZE;
                break;
            }
            buffer = bigger;
            capacity *= 2;
        }
        ssize_t got = recv(fd, buffer + length, capacity - length - 1, 0);
        if (got == 0) {
            errno = EPIPE;
            break;
        }
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            break;
        }
        char *newline = memchr(buffer + length, '\n', (size_t)got);
        length += (size_t)got;
        if (newline) {
            *newline = '\0';
            *answer = buffer;
            return 0;
        }
    }
    int saved = errno;
    free(buffer);
    errno = saved;
    return -1;
}

int cli_exchange(const char *socket_path, const char *command_name, const char *request,
                 char **answer)
{
    int fd;
    int status = connect_to_host(socket_path, command_name, &fd);
    if (status != EXIT_OK)
        return status;
    int64_t deadline = monotonic_ms() + CLI_ANSWER_TIMEOUT_MS;
    if (send_request(fd, request, deadline) < 0 || receive_answer(fd, deadline, answer) < 0) {
        if (errno == ETIMEDOUT)
            fprintf(stderr, "dynsup-host %s: no answer from the host at %s within %d s\n",
                    command_name, socket_path, CLI_ANSWER_TIMEOUT_MS / 1000);
        else if (errno == EPIPE || errno == ECONNRESET)
            fprintf(stderr, "dynsup-host %s: the host at %s closed the connection before answering\n",
                    command_name, socket_path);
        else
            fprintf(stderr, "dynsup-host %s: talking to the host at %s: %s\n", command_name,
                    socket_path, strerror(errno));
        status = errno == EMSGSIZE ? EXIT_ERROR_RESULT : EXIT_UNREACHABLE;
    }
    close(fd);
    return status;
}
