/*
 * Applying a child spec's execution environment in its worker. See
 * worker_environment.h.
 *
 * The order matters: limits and nice first, while the worker may still be
 * root (raising a hard limit or a priority needs it); then the groups and
 * the user, dropped for good; then the folder, entered as the new user
 * (so its permissions apply to the worker as they will later), and last
 * the environment. Changing credentials clears the parent-death signal,
 * so it is set again, and the parent checked again.
 */
#include "worker_environment.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_settings.h"

extern char **environ;

static int fail(char *error, size_t size, const char *what)
{
    snprintf(error, size, "cannot %s: %s", what, strerror(errno));
    return -1;
}

WORKER_PATH static int apply_limits(const struct job_settings *settings, char *error, size_t size)
{
    static const int resources[JOB_LIMIT_COUNT] = {RLIMIT_NOFILE, RLIMIT_AS, RLIMIT_CPU,
                                                   RLIMIT_CORE};
    static const char *const names[JOB_LIMIT_COUNT] = {
        "set limit_nofile", "set limit_memory", "set limit_cpu", "set limit_core"};
    for (int i = 0; i < JOB_LIMIT_COUNT; i++) {
        if (!settings->limits[i].set)
            continue;
        struct rlimit limit = {settings->limits[i].soft, settings->limits[i].hard};
        if (setrlimit(resources[i], &limit) != 0)
            return fail(error, size, names[i]);
    }
    struct rlimit descriptors;
    if (!settings->limits[JOB_LIMIT_NOFILE].set && getrlimit(RLIMIT_NOFILE, &descriptors) == 0 &&
        descriptors.rlim_cur > WORKER_DEFAULT_NOFILE) {
        descriptors.rlim_cur = WORKER_DEFAULT_NOFILE;
        setrlimit(RLIMIT_NOFILE, &descriptors); /* lowering a soft limit cannot fail */
    }
    return 0;
}

/* Rare (a spec with user or group): kept off the hot path. */
static int drop_privileges(const struct job_settings *settings, char *error, size_t size)
{
    pid_t parent = getppid();
    gid_t groups[JOB_MAX_GROUPS];
    int group_count = settings->groups ? job_settings_groups(settings->groups, groups) : 0;
    if (group_count < 0) {
        snprintf(error, size, "malformed supplementary groups \"%.40s\"", settings->groups);
        return -1;
    }
    if (settings->groups && setgroups((size_t)group_count, groups) != 0)
        return fail(error, size, "set the supplementary groups");
    if (settings->set_gid && setresgid(settings->gid, settings->gid, settings->gid) != 0)
        return fail(error, size, "set the group");
    if (settings->set_uid && setresuid(settings->uid, settings->uid, settings->uid) != 0)
        return fail(error, size, "set the user");
    /* For good: no way back to root, and no setuid binary gives it back. */
    if (settings->set_uid && settings->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(error, size, "cannot drop root: setuid(0) still succeeds");
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail(error, size, "set no_new_privs");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    return 0;
}

int worker_apply_environment(char **strings, int count, char *error, size_t error_size)
{
    struct job_settings settings;
    if (job_settings_parse(strings, count, &settings, error, error_size) != 0)
        return -1;
    if (apply_limits(&settings, error, error_size) != 0)
        return -1;
    if (settings.set_nice && setpriority(PRIO_PROCESS, 0, settings.nice) != 0)
        return fail(error, error_size, "set nice");
    if (settings.set_umask)
        umask(settings.umask);
    if ((settings.groups || settings.set_gid || settings.set_uid) &&
        drop_privileges(&settings, error, error_size) != 0)
        return -1;
    if (settings.directory && chdir(settings.directory) != 0) {
        snprintf(error, error_size, "cannot enter working_directory %s: %s", settings.directory,
                 strerror(errno));
        return -1;
    }
    if (settings.environment)
        environ = settings.environment;
    return 0;
}
