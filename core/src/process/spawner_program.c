#include "spawner_program.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spawner.h"

extern char **environ;

#define SPAWNER_PROGRAM_NAME "dynsup-spawner"

#ifndef DYNSUP_SPAWNER_INSTALLED_PATH
#error "DYNSUP_SPAWNER_INSTALLED_PATH (the installed dynsup-spawner) is set by core/CMakeLists.txt"
#endif

/* The chosen dynsup-spawner, opened O_PATH; -1: run the host's own image. */
static int spawner_program_fd = -1;

/* Opens path if it is an executable regular file; -1 otherwise. */
static int open_program(const char *path)
{
    if (access(path, X_OK) != 0)
        return -1;
    int opened = open(path, O_PATH | O_CLOEXEC);
    if (opened < 0)
        return -1;
    /* Above the descriptors the launching child sets up (the socket goes to
     * SPAWNER_SOCKET_FD, which would otherwise be this very number). */
    int fd = fcntl(opened, F_DUPFD_CLOEXEC, SPAWNER_SOCKET_FD + 1);
    close(opened);
    if (fd < 0)
        return -1;
    struct stat status;
    if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* "<folder of the running dynsup-host>/dynsup-spawner", or "" when
 * /proc/self/exe cannot be read. */
static void path_beside_host(char *path, size_t size)
{
    char self[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    path[0] = '\0';
    if (length <= 0)
        return;
    self[length] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return;
    slash[1] = '\0';
    if ((size_t)snprintf(path, size, "%s%s", self, SPAWNER_PROGRAM_NAME) >= size)
        path[0] = '\0';
}

void spawner_program_choose(char *why, size_t size)
{
    if (spawner_program_fd >= 0)
        close(spawner_program_fd);
    char beside[PATH_MAX];
    path_beside_host(beside, sizeof beside);
    if (beside[0] && (spawner_program_fd = open_program(beside)) >= 0) {
        snprintf(why, size, "spawners run %s (found beside dynsup-host)", beside);
        return;
    }
    spawner_program_fd = open_program(DYNSUP_SPAWNER_INSTALLED_PATH);
    if (spawner_program_fd >= 0) {
        snprintf(why, size, "spawners run %s (its installed path)", DYNSUP_SPAWNER_INSTALLED_PATH);
        return;
    }
    snprintf(why, size,
             "spawners run as dynsup-host %s: no executable %s beside dynsup-host (%s) nor at %s; "
             "each worker then maps the host's libraries too",
             SPAWNER_EXEC_MARK, SPAWNER_PROGRAM_NAME, beside[0] ? beside : "unknown folder",
             DYNSUP_SPAWNER_INSTALLED_PATH);
}

/* An exec that failed is said in the load report's own words, so that the
 * host tells a program it cannot run from a plugin that died loading (which
 * may exit with any status, 127 too). Only what is safe after a fork in a
 * threaded process: snprintf of strings and numbers, send. */
static _Noreturn void report_exec_failure(char **argv)
{
    int exec_errno = errno;
    const char *name = strerrorname_np(exec_errno);
    char report[512];
    uint32_t loaded = SPAWNER_LOADED;
    memcpy(report, &loaded, sizeof loaded);
    size_t room = sizeof report - sizeof loaded;
    int n = snprintf(report + sizeof loaded, room,
                     "error\t%s/%s: cannot run the spawner program (%s, errno %d): is "
                     "dynsup-spawner still there and executable?\n",
                     argv[3], argv[4], name ? name : "?", exec_errno);
    if (n > 0)
        send(SPAWNER_SOCKET_FD, report, sizeof loaded + ((size_t)n < room ? (size_t)n : room - 1),
             0);
    _exit(127);
}

void spawner_program_exec(char **argv)
{
    if (spawner_program_fd >= 0) {
        argv[0] = SPAWNER_PROGRAM_NAME;
        execveat(spawner_program_fd, "", argv, environ, AT_EMPTY_PATH);
    } else {
        argv[0] = "dynsup-host";
        execv("/proc/self/exe", argv);
    }
    report_exec_failure(argv);
}
