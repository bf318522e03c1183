/*
 * probe: reports what a worker process looks like from the inside, then
 * sleeps until asked to stop. A test aid (the integration tests check
 * isolation with it) and an example of a plugin that writes a file
 * atomically.
 *
 * Arguments: OUTFILE [more args...], or --out=OUTFILE anywhere among them
 * (for when a supervisor's extra_arguments come first). OUTFILE is written once, complete
 * (OUTFILE.tmp, then rename), as plain "key: value" lines:
 *
 *   pid: 1234
 *   ppid: 1200
 *   supervisor: demo
 *   child_id: probe
 *   name: (none)                  registered name, "(none)" if there is none
 *   cwd: /srv/dynsup
 *   sigterm: caught               caught | default | ignored
 *   non_default_signals: (none)   other signals whose action is not SIG_DFL
 *   blocked_signals: (none)       the signal mask
 *   pdeathsig: 9                  signal sent when the parent dies, 0 if none
 *   argc: 2
 *   arg: /tmp/probe.out           every argument, in order, one per line
 *   arg: extra
 *   fd: 0 -> /dev/null            every open descriptor, in /proc order
 *   uid: 0 0                      real and effective (likewise gid)
 *   groups: 0 27                  supplementary groups, "(none)" if none
 *   no_new_privs: 0
 *   nice: 0
 *   umask: 0022
 *   limit_nofile: 1024 1048576    soft and hard, "infinity" for none (also
 *                                 limit_memory, limit_cpu, limit_core)
 *   env: PATH=/usr/bin:/bin       every environment variable, in order
 *
 * Signal lists are numbers separated by blanks. A build with sanitizers
 * installs its own handlers (SIGSEGV, SIGBUS, SIGFPE...): expect those.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dynsup/plugin.h>

/* Lists every descriptor but the one reading /proc/self/fd itself. */
static int report_fds(FILE *out)
{
    DIR *fds = opendir("/proc/self/fd");
    if (fds == NULL)
        return -1;
    int own_fd = dirfd(fds);
    struct dirent *entry;
    while ((entry = readdir(fds)) != NULL) {
        if (entry->d_name[0] == '.' || atoi(entry->d_name) == own_fd)
            continue;
        char target[PATH_MAX];
        ssize_t length = readlinkat(own_fd, entry->d_name, target, sizeof target - 1);
        if (length < 0)
            length = 0;
        target[length] = '\0';
        fprintf(out, "fd: %s -> %s\n", entry->d_name, target);
    }
    closedir(fds);
    return 0;
}

/* "default", "ignored", "caught", or NULL for the signals the C library
 * keeps for itself (glibc's 32 and 33 refuse sigaction). */
static const char *disposition(int signal_number)
{
    struct sigaction action;
    if (sigaction(signal_number, NULL, &action) != 0)
        return NULL;
    if (action.sa_handler == SIG_DFL)
        return "default";
    if (action.sa_handler == SIG_IGN)
        return "ignored";
    return "caught";
}

static void report_signals(FILE *out)
{
    const char *sigterm = disposition(SIGTERM);
    fprintf(out, "sigterm: %s\n", sigterm ? sigterm : "unknown");

    fprintf(out, "non_default_signals:");
    bool any = false;
    for (int s = 1; s <= SIGRTMAX; s++) {
        if (s == SIGTERM || s == SIGKILL || s == SIGSTOP)
            continue;
        const char *action = disposition(s);
        if (action != NULL && strcmp(action, "default") != 0) {
            fprintf(out, " %d", s);
            any = true;
        }
    }
    fprintf(out, "%s\n", any ? "" : " (none)");

    sigset_t blocked;
    sigprocmask(SIG_BLOCK, NULL, &blocked);
    fprintf(out, "blocked_signals:");
    any = false;
    for (int s = 1; s <= SIGRTMAX; s++) {
        if (sigismember(&blocked, s) == 1) {
            fprintf(out, " %d", s);
            any = true;
        }
    }
    fprintf(out, "%s\n", any ? "" : " (none)");

    int death_signal = 0;
    prctl(PR_GET_PDEATHSIG, &death_signal);
    fprintf(out, "pdeathsig: %d\n", death_signal);
}

static void report_limit(FILE *out, const char *name, int resource)
{
    struct rlimit limit;
    getrlimit(resource, &limit);
    fprintf(out, "%s:", name);
    rlim_t values[2] = {limit.rlim_cur, limit.rlim_max};
    for (int i = 0; i < 2; i++) {
        if (values[i] == RLIM_INFINITY)
            fprintf(out, " infinity");
        else
            fprintf(out, " %llu", (unsigned long long)values[i]);
    }
    fprintf(out, "\n");
}

extern char **environ;

/* Who the worker runs as, and the environment it was given. */
static void report_identity(FILE *out)
{
    fprintf(out, "uid: %ld %ld\ngid: %ld %ld\ngroups:", (long)getuid(), (long)geteuid(),
            (long)getgid(), (long)getegid());
    gid_t groups[256];
    int count = getgroups(256, groups);
    for (int i = 0; i < count; i++)
        fprintf(out, " %ld", (long)groups[i]);
    fprintf(out, "%s\n", count > 0 ? "" : " (none)");
    fprintf(out, "no_new_privs: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    errno = 0;
    fprintf(out, "nice: %d\n", getpriority(PRIO_PROCESS, 0));
    mode_t mask = umask(0);
    umask(mask);
    fprintf(out, "umask: %04o\n", (unsigned)mask);
    report_limit(out, "limit_nofile", RLIMIT_NOFILE);
    report_limit(out, "limit_memory", RLIMIT_AS);
    report_limit(out, "limit_cpu", RLIMIT_CPU);
    report_limit(out, "limit_core", RLIMIT_CORE);
    for (char **variable = environ; variable && *variable; variable++)
        fprintf(out, "env: %s\n", *variable);
}

/* Writes the report to path atomically. Returns 0 or -1 (errno set). */
static int write_file_atomically(const char *path, const char *text, size_t length)
{
    size_t temp_size = strlen(path) + sizeof ".tmp";
    char *temp_path = malloc(temp_size);
    if (temp_path == NULL)
        return -1;
    snprintf(temp_path, temp_size, "%s.tmp", path);
    FILE *file = fopen(temp_path, "w");
    int result = -1;
    if (file != NULL) {
        bool written = fwrite(text, 1, length, file) == length;
        if (fclose(file) == 0 && written && rename(temp_path, path) == 0)
            result = 0;
    }
    if (result != 0) {
        int saved_errno = errno;
        unlink(temp_path);
        errno = saved_errno;
    }
    free(temp_path);
    return result;
}

static int probe_run(dynsup_worker *w, int argc, char **argv)
{
    const char *out_path = argc > 0 ? argv[0] : NULL;
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "--out=", 6) == 0)
            out_path = argv[i] + 6;
    if (!out_path) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "usage: OUTFILE [args...]");
        return 2;
    }

    /* Built in memory (open_memstream holds no descriptor), and the
     * descriptors listed before OUTFILE is opened, so the report shows
     * only what the worker was given. */
    char *report = NULL;
    size_t report_length = 0;
    FILE *out = open_memstream(&report, &report_length);
    if (out == NULL) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "cannot build report: %s", strerror(errno));
        return 1;
    }
    char cwd[PATH_MAX];
    fprintf(out, "pid: %ld\nppid: %ld\n", (long)getpid(), (long)getppid());
    fprintf(out, "supervisor: %s\nchild_id: %s\nname: %s\n", w->supervisor, w->child_id,
            w->name ? w->name : "(none)");
    fprintf(out, "cwd: %s\n", getcwd(cwd, sizeof cwd) ? cwd : "(unknown)");
    report_signals(out);
    report_identity(out);
    fprintf(out, "argc: %d\n", argc);
    for (int i = 0; i < argc; i++)
        fprintf(out, "arg: %s\n", argv[i]);
    int fds_errno = report_fds(out) == 0 ? 0 : errno;
    fclose(out);

    if (fds_errno != 0) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "cannot list /proc/self/fd: %s", strerror(fds_errno));
        free(report);
        return 1;
    }
    if (write_file_atomically(out_path, report, report_length) != 0) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "cannot write %s: %s", out_path, strerror(errno));
        free(report);
        return 1;
    }
    free(report);
    dynsup_log(w, DYNSUP_LOG_INFO, "report written to %s", out_path);

    dynsup_wait_for_stop(w, -1);
    dynsup_log(w, DYNSUP_LOG_INFO, "stopping");
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "probe",
    .version = "1.0.0",
    .run = probe_run,
};
