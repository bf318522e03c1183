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

#include "hashmap.h"
#include "job_settings.h"
#include "supervisor.h" /* enum restart_policy, enum shutdown_mode, DS_INFINITY */

/* The most messages a list keeps: past them, one last message says how
 * many more there were ("... and 348990 more errors (not shown)"), so a
 * file of junk lines cannot turn into megabytes of answer, log and
 * terminal output (nor seconds of formatting them). */
#define ERROR_LIST_MAX_MESSAGES 100

struct error_list {
    char **messages;          /* at most ERROR_LIST_MAX_MESSAGES, then the summary */
    size_t count, capacity;
    size_t hidden;            /* errors counted in the summary, not kept */
    size_t total;             /* every error added, summed up or hidden */
};
void error_list_init(struct error_list *errors);
void error_list_add(struct error_list *errors, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void error_list_free(struct error_list *errors);
/* One message that stands for `errors_summed` errors ("FILE: ... and 20
 * more errors in this file"); counted as that many when the list is full. */
void error_list_add_summary(struct error_list *errors, size_t errors_summed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether a new message would only be counted (the list holds
 * ERROR_LIST_MAX_MESSAGES). */
bool error_list_is_full(const struct error_list *errors);
/* Counts `more` errors that are not kept, in the summary message. */
void error_list_hide(struct error_list *errors, size_t more);
/* Every error added or summed up, kept or not. */
size_t error_list_total(const struct error_list *errors);

/* The longest id of a supervisor, child spec, event or registered name:
 * the control socket takes none longer (protocol.c's PROTOCOL_MAX_ID), so
 * `check` refuses one. */
#define CONFIG_ID_MAX 64

/* A restart key that was not written (then a default or the supervisor's
 * value applies). */
#define CONFIG_UNSET UINT32_MAX

struct supervisor_spec {
    char *name;               /* from [supervisor:NAME] */
    char *file;               /* config file it came from */
    uint32_t max_children;    /* DS_INFINITY = infinity (default) */
    uint32_t max_restarts;    /* default 3; DS_INFINITY = infinity */
    uint32_t max_seconds;     /* default 5 */
    uint32_t restart_delay_ms, restart_delay_max_ms; /* CONFIG_UNSET when not written */
    char **extra_args;        /* NULL-terminated */
    int extra_argc;
    char **autostart;         /* child ids, NULL-terminated */
    int autostart_count;
    bool children_listed;     /* `children` was written: only those specs may be started */
    char **children;          /* child ids, NULL-terminated */
    int children_count;
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
    uint32_t restart_delay_ms, restart_delay_max_ms; /* CONFIG_UNSET: the supervisor's */
    bool request_args;        /* default true: start_child requests may add args */
    /* user, group, limit_*, nice, umask, working_directory, environment:
     * the tagged strings every job of this spec carries (job_settings.h) */
    struct job_settings_text job_settings;
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
    int log_level;            /* [host] log_level as a syslog level; -1 when not written */
    uint32_t max_restarts;    /* root intensity, default 3 */
    uint32_t max_seconds;     /* default 5 */
    bool watch;               /* reload by itself when a file changes (default no) */
    char *metrics_listen;     /* "ADDRESS:PORT" of the metrics HTTP endpoint, or NULL (none) */
    struct supervisor_spec *supervisors; size_t supervisor_count;  /* file order */
    struct child_spec *children; size_t child_count;               /* sorted file name, then file order */
    struct hashmap children_by_id;  /* id -> position + 1 in children (config_find_child) */
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

/* The host file alone (its [host] keys, supervisors and events; no child
 * spec is read and no reference checked): what a client command needs to
 * reach the host, whatever children_dir holds. */
int config_load_host_file(const char *path, struct config *cfg, struct error_list *errors);

/* Adds an error for every child spec whose plugin is not among `names`. */
void config_check_plugins(const struct config *cfg, const char *const *names, size_t count,
                          struct error_list *errors);

void config_free(struct config *cfg);

/* The backoff of a child of `child` started by `supervisor`: the child
 * spec's keys, else the supervisor's, else off (restart_delay 0);
 * restart_delay_max defaults to 60000 ms and is never below the delay. */
struct restart_backoff config_restart_backoff(const struct supervisor_spec *supervisor,
                                              const struct child_spec *child);

/* Whether `supervisor` may start `child` (its `children` list, when it
 * has one). */
bool config_supervisor_lists_child(const struct supervisor_spec *supervisor, const char *child_id);

enum start_refusal {
    START_ALLOWED,
    START_REFUSED_NOT_LISTED,   /* answered unknown_child */
    START_REFUSED_REQUEST_ARGS, /* answered bad_request */
};
/* Whether a start_child of `child` under `supervisor` with request_argc
 * request args is allowed; if not, `detail` says why, naming the file,
 * section and key that refuse it. */
enum start_refusal config_start_refusal(const struct supervisor_spec *supervisor,
                                        const struct child_spec *child, int request_argc,
                                        char *detail, size_t detail_size);

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
