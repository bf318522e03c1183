/*
 * Configuration: the host file (etc/dynsup.ini) and the child specs
 * (the *.ini files in children_dir), read with iniparser and validated completely.
 * Every problem is collected (not just the first) as
 * "FILE: [SECTION] KEY: message", so `dynsup-host check` can print them all.
 *
 * Ownership: config_load fills a struct config that owns every string and
 * array inside it; config_free releases it. A struct error_list owns its
 * messages; error_list_free releases them.
 */
#ifndef DYNSUP_CONFIG_H
#define DYNSUP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor.h" /* enum restart_policy, enum shutdown_mode, DS_INFINITY */

struct error_list {
    char **messages;
    size_t count, capacity;
};
void error_list_init(struct error_list *errors);
void error_list_add(struct error_list *errors, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void error_list_free(struct error_list *errors);

struct supervisor_spec {
    char *name;               /* from [supervisor:NAME] */
    char *file;               /* config file it came from */
    uint32_t max_children;    /* DS_INFINITY = infinity (default) */
    uint32_t max_restarts;    /* default 3 */
    uint32_t max_seconds;     /* default 5 */
    char **extra_args;        /* NULL-terminated */
    int extra_argc;
    char **autostart;         /* child ids, NULL-terminated */
    int autostart_count;
};

struct child_spec {
    char *id;                 /* from [child:ID] */
    char *file;               /* the children.d file it came from */
    char *plugin;
    char **args;              /* NULL-terminated; split like a shell */
    int argc;
    enum restart_policy restart;   /* default permanent */
    enum shutdown_mode shutdown;   /* default SHUTDOWN_TIMEOUT */
    uint32_t shutdown_ms;          /* default 5000 */
    char *name;               /* registered name or NULL */
};

struct event_spec {
    char *name;               /* from [event:NAME] */
    char *file;
    char *supervisor;
    char *child;
    int signal;               /* 0 = none, else e.g. SIGUSR1 */
    uint32_t interval_s;      /* 0 = none */
    uint32_t jitter_s;        /* each periodic firing comes 0..jitter_s s late; <= interval_s */
};

struct config {
    char *path;               /* the host file, as given */
    char *plugin_dir;         /* absolute or relative to cwd, already resolved against the host file's folder */
    char *children_dir;       /* resolved likewise */
    char *socket_path;        /* resolved likewise */
    char **allow_users;       /* user names, NULL-terminated (may be empty) */
    int allow_user_count;
    uid_t *allow_uids;        /* resolved from allow_users */
    char *allow_group;        /* NULL if none */
    gid_t allow_gid;
    uint32_t max_restarts;    /* root intensity, default 3 */
    uint32_t max_seconds;     /* default 5 */
    bool watch;               /* reload by itself when a file changes (default no) */
    char *metrics_listen;     /* "ADDRESS:PORT" of the metrics HTTP endpoint, or NULL (none) */
    struct supervisor_spec *supervisors; size_t supervisor_count;  /* file order */
    struct child_spec *children; size_t child_count;               /* sorted file name, then file order */
    struct event_spec *events; size_t event_count;
};

/* Reads and validates everything; returns 0 if there were no errors, else
 * -1 with every error appended to `errors` (cfg is still filled as far as
 * it could be and must be freed). Checks: unknown keys and sections, bad
 * values, duplicate keys in a section, duplicate sections/ids across
 * files, names [a-z0-9_]+, references (autostart child ids, event
 * supervisor/child) and unknown users/groups. Plugins are checked
 * separately (config_check_plugins). */
int config_load(const char *path, struct config *cfg, struct error_list *errors);

/* Adds an error for every child spec whose plugin is not among `names`. */
void config_check_plugins(const struct config *cfg, const char *const *names, size_t count,
                          struct error_list *errors);

void config_free(struct config *cfg);

const struct supervisor_spec *config_find_supervisor(const struct config *cfg, const char *name);
const struct child_spec *config_find_child(const struct config *cfg, const char *id);
const struct event_spec *config_find_event(const struct config *cfg, const char *name);

/* Split `text` into words like a POSIX shell would for quoting only:
 * blanks separate words, '...' and "..." keep blanks together (quotes
 * removed), backslash escapes the next character outside single quotes;
 * no expansion of any kind. Returns 0 and a NULL-terminated malloc'd
 * array (free with words_free), or -1 with *error set to a static message
 * (e.g. "unterminated double quote"). */
int words_split(const char *text, char ***words, int *count, const char **error);
void words_free(char **words);

#endif
