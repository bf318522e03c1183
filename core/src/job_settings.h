/*
 * A worker's execution environment as it travels in its job (SPAWN record
 * or spare job, spawner.h): a few NUL-terminated strings, each a one-letter
 * tag and a value, only for what the child spec sets, so a spec that sets
 * nothing costs its jobs nothing but the environment (SPEC section 9):
 *
 *   U<uid>  G<gid>  S<gid>,<gid>,...   user, group, supplementary groups
 *   Ln<soft>:<hard>  (n nofile, m memory (address space), c cpu seconds,
 *                     k core bytes; "inf" for no limit)
 *   N<nice>  M<umask, octal>  D<working directory>  E<KEY=value>
 *
 * The host builds them once per child spec (config_environment.c); the
 * worker reads them (job_settings_parse) and applies them before init
 * (worker_environment.c). Pure: no system calls here.
 */
#ifndef DYNSUP_JOB_SETTINGS_H
#define DYNSUP_JOB_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

enum job_limit { JOB_LIMIT_NOFILE, JOB_LIMIT_MEMORY, JOB_LIMIT_CPU, JOB_LIMIT_CORE, JOB_LIMIT_COUNT };

#define JOB_MAX_GROUPS 256       /* supplementary groups carried */
#define JOB_MAX_ENVIRONMENT 256  /* KEY=value strings */

struct job_settings {
    bool set_uid, set_gid, set_groups, set_nice, set_umask;
    uid_t uid;
    gid_t gid;
    gid_t groups[JOB_MAX_GROUPS];
    int group_count;
    int nice;
    mode_t umask;
    const char *directory;               /* NULL: the spawner's (the config's folder) */
    struct { bool set; rlim_t soft, hard; } limits[JOB_LIMIT_COUNT];
    char **environment;                  /* caller's array, NULL-terminated; NULL if none */
    int environment_count;
};

/* The letter of a limit in its tag ('n', 'm', 'c', 'k'). */
char job_limit_letter(enum job_limit limit);

/* Reads count tagged strings into settings (environment pointers go into
 * `environment`, capacity JOB_MAX_ENVIRONMENT + 1, and point into the
 * strings). Returns 0, or -1 with `error` saying which string is bad. */
int job_settings_parse(char *const *strings, int count, struct job_settings *settings,
                       char **environment, char *error, size_t error_size);

/* A growing buffer of tagged strings, as a child spec keeps them. */
struct job_settings_text {
    char *data;              /* NUL-separated strings */
    size_t length, capacity;
    uint32_t count;
    bool out_of_memory;
};
/* Appends one tagged string, printf-style. */
void job_settings_add(struct job_settings_text *text, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void job_settings_text_free(struct job_settings_text *text);

#endif
