/*
 * The per-child execution environment keys of [child:ID] (SPEC section 9):
 * user, group, limit_nofile, limit_memory, limit_cpu, limit_core, nice,
 * umask, working_directory, environment. Each is validated here, at load
 * time, including what the host could not do (switch users without root,
 * raise a hard limit, lower nice), so `check` refuses it rather than every
 * start failing; names are resolved here too (users, groups, supplementary
 * groups), so a worker needs no user database after fork. The result is
 * the spec's job settings (job_settings.h), built once per spec and sent
 * with every job: the host keeps nothing of it per child.
 *
 * The base environment every worker starts from (README "Per-child
 * execution environment"): PATH, HOME, USER, LOGNAME, LANG, then the
 * spec's `environment` words over it.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_values.h"
#include "job_settings.h"

#define BASE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool host_is_root(void)
{
    return geteuid() == 0;
}

/* A uid or gid written as a plain decimal number. */
static bool parse_id_number(const char *text, unsigned long *number)
{
    char *end;
    errno = 0;
    *number = strtoul(text, &end, 10);
    return !errno && end != text && !*end && text[0] != '-';
}

/* A name from the user or group database, or a number. */
static bool lookup_user(const char *text, struct passwd *found, char *buffer, size_t size)
{
    struct passwd *result = NULL;
    if (getpwnam_r(text, found, buffer, size, &result) == 0 && result)
        return true;
    unsigned long number;
    if (!parse_id_number(text, &number))
        return false;
    if (getpwuid_r((uid_t)number, found, buffer, size, &result) == 0 && result)
        return true;
    /* a bare uid without a name: no home, no supplementary groups */
    *found = (struct passwd){.pw_name = NULL, .pw_uid = (uid_t)number, .pw_gid = (gid_t)-1,
                             .pw_dir = NULL};
    return true;
}

static bool lookup_group(const char *text, gid_t *gid)
{
    struct group *group = getgrnam(text);
    if (group) {
        *gid = group->gr_gid;
        return true;
    }
    unsigned long number;
    if (!parse_id_number(text, &number))
        return false;
    *gid = (gid_t)number;
    return true;
}

struct identity {
    bool has_user;
    char user_name[256], home[1024];
};

static void read_user_and_group(const struct section_reader *r, struct child_spec *spec,
                                struct identity *identity)
{
    int user_line, group_line;
    const char *user = section_value(r, "user", &user_line);
    const char *group = section_value(r, "group", &group_line);
    struct passwd account;
    char buffer[4096];
    gid_t gid = (gid_t)-1;
    bool user_ok = false;
    if (user != NULL && !lookup_user(user, &account, buffer, sizeof buffer)) {
        section_key_error(r, "user", user_line, "unknown user \"%s\"", user);
    } else if (user != NULL && !host_is_root() && account.pw_uid != geteuid()) {
        section_key_error(r, "user", user_line,
                          "running as user \"%s\" needs a root host: dynsup-host runs as uid %u",
                          user, (unsigned)geteuid());
    } else if (user != NULL) {
        user_ok = true;
        identity->has_user = true;
        snprintf(identity->user_name, sizeof identity->user_name, "%s",
                 account.pw_name ? account.pw_name : user);
        snprintf(identity->home, sizeof identity->home, "%s", account.pw_dir ? account.pw_dir : "/");
        gid = account.pw_gid;
    }
    if (group != NULL && !lookup_group(group, &gid)) {
        section_key_error(r, "group", group_line, "unknown group \"%s\"", group);
        return;
    }
    if (group != NULL && !host_is_root() && gid != getegid()) {
        section_key_error(r, "group", group_line,
                          "running as group \"%s\" needs a root host: dynsup-host runs as uid %u",
                          group, (unsigned)geteuid());
        return;
    }
    if (user != NULL && !user_ok)
        return;
    if (user == NULL && group == NULL)
        return;
    if (gid == (gid_t)-1) {
        section_key_error(r, "user", user_line,
                          "user \"%s\" has no entry in the user database: give its group too", user);
        return;
    }
    if (!host_is_root())
        return; /* already this user and group: nothing to change */
    /* Supplementary groups are the user's (as login would give them), or
     * only the group itself; resolved now, not after fork. */
    gid_t groups[JOB_MAX_GROUPS];
    int count = 1;
    groups[0] = gid;
    if (user != NULL && account.pw_name) {
        count = JOB_MAX_GROUPS;
        if (getgrouplist(account.pw_name, gid, groups, &count) < 0) {
            section_key_error(r, "user", user_line, "user \"%s\" is in more than %d groups", user,
                              JOB_MAX_GROUPS);
            return;
        }
    }
    char list[JOB_MAX_GROUPS * 11 + 1] = "";
    size_t used = 0;
    for (int i = 0; i < count; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%u", i ? "," : "",
                                 (unsigned)groups[i]);
    job_settings_add(&spec->job_settings, "S%s", list);
    job_settings_add(&spec->job_settings, "G%u", (unsigned)gid);
    if (user != NULL)
        job_settings_add(&spec->job_settings, "U%u", (unsigned)account.pw_uid);
}

/* "infinity", or a number with an optional K, M, G or T (binary) suffix
 * when `sizes`. */
static const char *parse_limit(const char *text, bool sizes, bool infinity_allowed,
                               unsigned long long *value)
{
    if (strcmp(text, "infinity") == 0) {
        if (!infinity_allowed)
            return "expected a number (infinity is not allowed for descriptors)";
        *value = RLIM_INFINITY;
        return NULL;
    }
    char *end;
    errno = 0;
    if (text[0] < '0' || text[0] > '9')
        return sizes ? "expected a number of bytes (K, M, G, T suffixes allowed) or infinity"
                     : "expected a number or infinity";
    unsigned long long number = strtoull(text, &end, 10);
    unsigned shift = 0;
    if (sizes && *end && !end[1]) {
        const char *suffixes = "KMGT", *found = strchr(suffixes, *end);
        if (found) {
            shift = 10 * (unsigned)(found - suffixes + 1);
            end++;
        }
    }
    if (errno || *end || (shift && number > (~0ull >> shift)))
        return sizes ? "expected a number of bytes (K, M, G, T suffixes allowed) or infinity"
                     : "expected a number or infinity";
    *value = number << shift;
    if (*value >= RLIM_INFINITY)
        return "too large";
    return NULL;
}

static unsigned long long system_nr_open(void)
{
    FILE *file = fopen("/proc/sys/fs/nr_open", "r");
    unsigned long long value = 1048576;
    if (file) {
        if (fscanf(file, "%llu", &value) != 1)
            value = 1048576;
        fclose(file);
    }
    return value;
}

static void read_limits(const struct section_reader *r, struct child_spec *spec)
{
    static const struct {
        const char *key;
        int resource;
        enum job_limit limit;
        bool sizes;
    } keys[] = {
        {"limit_nofile", RLIMIT_NOFILE, JOB_LIMIT_NOFILE, false},
        {"limit_memory", RLIMIT_AS, JOB_LIMIT_MEMORY, true},
        {"limit_cpu", RLIMIT_CPU, JOB_LIMIT_CPU, false},
        {"limit_core", RLIMIT_CORE, JOB_LIMIT_CORE, true},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int line;
        const char *text = section_value(r, keys[i].key, &line);
        if (text == NULL)
            continue;
        unsigned long long value;
        const char *problem =
            parse_limit(text, keys[i].sizes, keys[i].limit != JOB_LIMIT_NOFILE, &value);
        if (problem) {
            section_value_problem(r, keys[i].key, line, problem, text);
            continue;
        }
        struct rlimit current;
        getrlimit(keys[i].resource, &current);
        if (keys[i].limit == JOB_LIMIT_NOFILE && value > system_nr_open()) {
            section_key_error(r, keys[i].key, line,
                              "%llu is above the system's maximum (fs.nr_open = %llu)", value,
                              system_nr_open());
            continue;
        }
        if (!host_is_root() && current.rlim_max != RLIM_INFINITY && value > current.rlim_max) {
            section_key_error(r, keys[i].key, line,
                              "%s is above the host's hard limit (%llu): raising it needs a root "
                              "host", text, (unsigned long long)current.rlim_max);
            continue;
        }
        if (value == RLIM_INFINITY)
            job_settings_add(&spec->job_settings, "L%cinf:inf", job_limit_letter(keys[i].limit));
        else
            job_settings_add(&spec->job_settings, "L%c%llu:%llu", job_limit_letter(keys[i].limit),
                             value, value);
    }
}

static void read_nice_and_umask(const struct section_reader *r, struct child_spec *spec)
{
    int line;
    const char *text = section_value(r, "nice", &line);
    if (text != NULL) {
        char *end;
        errno = 0;
        long nice = strtol(text, &end, 10);
        if (errno || end == text || *end || nice < -20 || nice > 19)
            section_value_problem(r, "nice", line, "expected a number from -20 to 19", text);
        else if (!host_is_root() && nice < getpriority(PRIO_PROCESS, 0))
            section_key_error(r, "nice", line,
                              "%ld is a higher priority than the host's (%d): needs a root host",
                              nice, getpriority(PRIO_PROCESS, 0));
        else
            job_settings_add(&spec->job_settings, "N%ld", nice);
    }
    text = section_value(r, "umask", &line);
    if (text != NULL) {
        char *end;
        errno = 0;
        unsigned long mask = strtoul(text, &end, 8);
        if (errno || end == text || *end || mask > 0777 || text[0] == '-')
            section_value_problem(r, "umask", line, "expected an octal mask from 000 to 777", text);
        else
            job_settings_add(&spec->job_settings, "M%03lo", mask);
    }
}

static void read_working_directory(const struct section_reader *r, struct child_spec *spec)
{
    char *directory = NULL;
    section_read_path(r, "working_directory", &directory);
    if (directory == NULL)
        return;
    int line;
    section_value(r, "working_directory", &line);
    struct stat info;
    if (stat(directory, &info) != 0)
        section_key_error(r, "working_directory", line, "%s: %s", directory, strerror(errno));
    else if (!S_ISDIR(info.st_mode))
        section_key_error(r, "working_directory", line, "%s: not a folder", directory);
    else if (directory[0] != '/') {
        /* relative to the config's folder; workers start in that folder */
        char *absolute = realpath(directory, NULL);
        job_settings_add(&spec->job_settings, "D%s", absolute ? absolute : directory);
        free(absolute);
    } else {
        job_settings_add(&spec->job_settings, "D%s", directory);
    }
    free(directory);
}

static bool is_environment_name(const char *text, size_t length)
{
    if (length == 0 || (text[0] >= '0' && text[0] <= '9'))
        return false;
    for (size_t i = 0; i < length; i++)
        if (!(text[i] == '_' || (text[i] >= 'A' && text[i] <= 'Z') ||
              (text[i] >= 'a' && text[i] <= 'z') || (text[i] >= '0' && text[i] <= '9')))
            return false;
    return true;
}

/* The spec's words win over the base variables of the same name. */
static bool written(char **words, int count, const char *name)
{
    size_t length = strlen(name);
    for (int i = 0; i < count; i++)
        if (strncmp(words[i], name, length) == 0 && words[i][length] == '=')
            return true;
    return false;
}

static void read_environment(const struct section_reader *r, struct child_spec *spec,
                             const struct identity *identity)
{
    char **words = NULL;
    int count = 0;
    int line = section_read_words(r, "environment", &words, &count);
    for (int i = 0; i < count; i++) {
        const char *equals = strchr(words[i], '=');
        if (!equals || !is_environment_name(words[i], (size_t)(equals - words[i])))
            section_value_problem(r, "environment", line,
                                  "expected KEY=value words (KEY: letters, digits and _)", words[i]);
    }
    if (count > JOB_MAX_ENVIRONMENT - 8)
        section_key_error(r, "environment", line, "at most %d variables", JOB_MAX_ENVIRONMENT - 8);

    const char *host_home = getenv("HOME");
    const char *user = identity->has_user ? identity->user_name : r->host_user;
    const char *home = identity->has_user ? identity->home : host_home ? host_home : "/";
    const struct { const char *name, *value; } base[] = {
        {"PATH", BASE_PATH}, {"HOME", home}, {"USER", user}, {"LOGNAME", user}, {"LANG", "C.UTF-8"},
    };
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (base[i].value[0] && !written(words, count, base[i].name))
            job_settings_add(&spec->job_settings, "E%s=%s", base[i].name, base[i].value);
    for (int i = 0; i < count; i++)
        job_settings_add(&spec->job_settings, "E%s", words[i]);
    words_free(words);
}

void config_host_user(char *name, size_t size)
{
    const struct passwd *self = getpwuid(geteuid());
    snprintf(name, size, "%s", self != NULL && self->pw_name != NULL ? self->pw_name : "");
}

void section_read_environment(const struct section_reader *r, struct child_spec *spec)
{
    struct identity identity = {0};
    read_limits(r, spec);
    read_nice_and_umask(r, spec);
    read_user_and_group(r, spec, &identity);
    read_working_directory(r, spec);
    read_environment(r, spec, &identity);
    if (spec->job_settings.out_of_memory)
        section_key_error(r, "environment", 0, "out of memory");
}
