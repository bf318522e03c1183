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
 * The E strings come last. The host builds them once per child spec
 * (config_environment.c); the worker reads them (job_settings_parse) and
 * applies them before init (worker_environment.c). Pure: no system calls
 * here. Reading them is on the path of every start, so it allocates
 * nothing, copies nothing and touches no page but the job's (see
 * worker.h's WORKER_PATH).
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
    bool set_uid, set_gid, set_nice, set_umask;
    uid_t uid;
    gid_t gid;
    const char *groups;                  /* "gid,gid,..." (job_settings_groups), or NULL */
    int nice;
    mode_t umask;
    const char *directory;               /* NULL: the spawner's (the config's folder) */
    struct { bool set; rlim_t soft, hard; } limits[JOB_LIMIT_COUNT];
    char **environment;                  /* "KEY=value", NULL-terminated; NULL if none */
    int environment_count;
};

/* The letter of a limit in its tag ('n', 'm', 'c', 'k'). */
char job_limit_letter(enum job_limit limit);

/* Reads count tagged strings (strings[count] must be NULL) into settings.
 * The environment is the trailing E strings themselves: their pointers in
 * `strings` are moved past the tag, and settings->environment points at
 * the first of them. Returns 0, or -1 with `error` saying which string is
 * bad. */
__attribute__((hot)) int job_settings_parse(char **strings, int count,
                                            struct job_settings *settings, char *error,
                                            size_t error_size);
/* The groups of a "gid,gid,..." list into groups (capacity
 * JOB_MAX_GROUPS); returns their number, or -1 if the list is malformed. */
int job_settings_groups(const char *list, gid_t *groups);

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
