/*
 * The host's side of a spawner's birth: forking and exec'ing it
 * (spawner.h says why exec'ed), and reading its load report, with the
 * private copy of the plugin it loaded (kept by the host for a relaunch).
 */
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawner_program.h"

/* How long boot waits for the plugins to load. */
#define LOAD_TIMEOUT_MS 30000

static const char *spawner_config_path = "-";

void spawner_set_config_path(const char *config_path)
{
    spawner_config_path = config_path;
}

/* In the forked child: the socket on SPAWNER_SOCKET_FD and the copy, if
 * any, on the first free number above it (the program's own descriptor
 * for execveat may hold any other), both kept across exec; the copy's
 * number goes in argv[7]. */
static _Noreturn void exec_spawner(int socket_end, int copy_fd, char **argv)
{
    if (socket_end != SPAWNER_SOCKET_FD) {
        dup2(socket_end, SPAWNER_SOCKET_FD); /* without close-on-exec */
        close(socket_end);
    } else {
        fcntl(SPAWNER_SOCKET_FD, F_SETFD, 0);
    }
    char copy_word[sizeof SPAWNER_FROM_COPY_MARK + 16];
    if (copy_fd >= 0) {
        int copy = fcntl(copy_fd, F_DUPFD, SPAWNER_SOCKET_FD + 1); /* without close-on-exec */
        if (copy < 0)
            _exit(127);
        snprintf(copy_word, sizeof copy_word, "%s=%d", SPAWNER_FROM_COPY_MARK, copy);
        argv[7] = copy_word;
    }
    spawner_program_exec(argv);
}

/* The load report, and the descriptor sent with it (-1 if none). */
static ssize_t receive_report(int fd, char *report, size_t size, int *sent_fd)
{
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec io = {.iov_base = report, .iov_len = size};
    struct msghdr message = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control.bytes,
                             .msg_controllen = sizeof control.bytes};
    ssize_t length = recvmsg(fd, &message, MSG_CMSG_CLOEXEC);
    *sent_fd = -1;
    for (struct cmsghdr *header = length >= 0 ? CMSG_FIRSTHDR(&message) : NULL; header;
         header = CMSG_NXTHDR(&message, header))
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS &&
            header->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(sent_fd, CMSG_DATA(header), sizeof(int));
    return length;
}

int spawner_launch(const char *plugin_dir, const char *file_name, const char *work_dir,
                   int copy_fd, pid_t *spawner_pid, int *socket_fd, int *loaded_copy_fd,
                   struct plugin_list *plugins, struct error_list *errors)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
        error_list_add(errors, "cannot create the spawner's socket: %s", strerror(errno));
        return -1;
    }
    /* One record must fit in the socket buffer: SPAWN requests carry argv. */
    int buffer_size = SPAWNER_MAX_MESSAGE + 4096;
    for (int i = 0; i < 2; i++) {
        setsockopt(pair[i], SOL_SOCKET, SO_SNDBUF, &buffer_size, sizeof buffer_size);
        setsockopt(pair[i], SOL_SOCKET, SO_RCVBUF, &buffer_size, sizeof buffer_size);
    }
    pid_t host_pid = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        error_list_add(errors, "cannot fork the spawner: %s", strerror(errno));
        close(pair[0]);
        close(pair[1]);
        return -1;
    }
    if (pid == 0) {
        close(pair[0]);
        char host_pid_text[24];
        snprintf(host_pid_text, sizeof host_pid_text, "%d", (int)host_pid);
        char *argv[] = {"dynsup-spawner", SPAWNER_EXEC_MARK, (char *)spawner_config_path,
                        (char *)plugin_dir, (char *)file_name, (char *)(work_dir ? work_dir : ""),
                        host_pid_text, NULL, NULL};
        exec_spawner(pair[1], copy_fd, argv);
    }
    close(pair[1]);

    char *report = malloc(SPAWNER_MAX_MESSAGE + 1);
    ssize_t length = -1;
    int sent_fd = -1;
    struct pollfd readable = {.fd = pair[0], .events = POLLIN};
    int ready;
    while ((ready = poll(&readable, 1, LOAD_TIMEOUT_MS)) < 0 && errno == EINTR)
        ;
    if (report && ready == 1)
        length = receive_report(pair[0], report, SPAWNER_MAX_MESSAGE, &sent_fd);
    uint32_t type = 0;
    if (length >= (ssize_t)sizeof type)
        memcpy(&type, report, sizeof type);
    if (length < (ssize_t)sizeof type || type != SPAWNER_LOADED) {
        if (sent_fd >= 0)
            close(sent_fd);
        kill(pid, SIGKILL);
        int wait_status = 0;
        waitpid(pid, &wait_status, 0);
        char how[128];
        describe_wait_status(wait_status, how, sizeof how);
        if (ready == 0)
            error_list_add(errors, "%s/%s: loading the plugin took over %d ms; gave up",
                           plugin_dir, file_name, LOAD_TIMEOUT_MS);
        else
            error_list_add(errors,
                           "%s/%s: the process loading the plugin died (%s): the plugin crashed "
                           "while being loaded",
                           plugin_dir, file_name, how);
        free(report);
        close(pair[0]);
        return -1;
    }
    int result = spawner_parse_load_report(report + sizeof type, (size_t)length - sizeof type, plugins,
                                   errors);
    free(report);
    if (result < 0) {
        if (sent_fd >= 0)
            close(sent_fd);
        close(pair[0]);
        waitpid(pid, NULL, 0);
        return -1;
    }
    fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK);
    *spawner_pid = pid;
    *socket_fd = pair[0];
    *loaded_copy_fd = sent_fd;
    return 0;
}
