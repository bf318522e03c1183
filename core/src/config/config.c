/*
 * What dynsup's config files mean: which sections and keys exist, their
 * defaults, and how they refer to each other.
 *
 * Each file is read twice, for two different things (config_values.c):
 * iniparser gives the values (quotes, comments, continuations), and a
 * layout scan gives which sections and keys are written, in which order
 * and on which line (iniparser loses that, and silently keeps the last of
 * two equal keys). This file walks the layout in file order and asks for
 * each key's value, so every error names file, line, section and key.
 *
 * Order of work: the host file (its [host] section says where the child
 * specs are), then every *.ini in children_dir by file name, then the
 * references between them (autostart, events), which may cross files.
 * Looking things up in a loaded config and freeing it: config_use.c; the
 * error list: error_list.c.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <iniparser.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_values.h"
#include "listen_address.h"
#include "log.h"
#include "text_escape.h"

/* ---- loader state ---------------------------------------------------- */

struct loader {
    struct config *cfg;
    struct config_problems problems;
    size_t supervisor_capacity, child_capacity, event_capacity;
    char host_user[256]; /* section_reader's host_user */
};

static void __attribute__((format(printf, 6, 7)))
fail(struct loader *ld, const char *file, int line, const char *section, const char *key,
     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_vreport(&ld->problems, file, line, section, key, fmt, ap);
    va_end(ap);
}

static char *copy_text(struct loader *ld, const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL)
        fail(ld, ld->cfg->path, 0, NULL, NULL, "out of memory");
    return copy;
}

/* Returns a zeroed new last element of a growing array, or NULL. */
static void *append_item(struct loader *ld, void **items, size_t *count, size_t *capacity,
                         size_t size)
{
    if (*count == *capacity) {
        size_t grown_capacity = *capacity == 0 ? 4 : *capacity * 2;
        void *grown = realloc(*items, grown_capacity * size);
        if (grown == NULL) {
            fail(ld, ld->cfg->path, 0, NULL, NULL, "out of memory");
            return NULL;
        }
        *items = grown;
        *capacity = grown_capacity;
    }
    void *item = (char *)*items + *count * size;
    memset(item, 0, size);
    (*count)++;
    return item;
}

/* ---- [host] ---------------------------------------------------------- */

/* [host] metrics_listen: checked here so that `check` reports a bad one. */
static void read_metrics_listen(const struct section_reader *r, struct config *cfg)
{
    section_read_string(r, "metrics_listen", &cfg->metrics_listen);
    struct sockaddr_storage address;
    socklen_t length;
    char problem[160];
    if (cfg->metrics_listen &&
        listen_address_parse(cfg->metrics_listen, &address, &length, problem, sizeof problem) < 0)
        section_key_error(r, "metrics_listen", ini_layout_line(&r->file->layout, "host", "metrics_listen"),
                          "%s", problem);
}

static const char *const host_keys[] = {"plugin_dir",   "children_dir", "socket",
                                        "allow_users",  "allow_group",  "max_restarts",
                                        "max_seconds",  "log_level",    "watch",
                                        "metrics_listen", NULL};

/* Peers other than root and the host's own user allowed on the socket. */
static void read_allowed_peers(struct loader *ld, const struct section_reader *r)
{
    struct config *cfg = ld->cfg;
    int line = section_read_words(r, "allow_users", &cfg->allow_users, &cfg->allow_user_count);
    if (cfg->allow_user_count > 0) {
        cfg->allow_uids = calloc((size_t)cfg->allow_user_count, sizeof *cfg->allow_uids);
        if (cfg->allow_uids == NULL)
            section_key_error(r, "allow_users", line, "out of memory");
    }
    for (int i = 0; cfg->allow_uids != NULL && i < cfg->allow_user_count; i++) {
        const struct passwd *user = getpwnam(cfg->allow_users[i]);
        if (user == NULL)
            section_key_error(r, "allow_users", line, "unknown user \"%s\"", cfg->allow_users[i]);
        else
            cfg->allow_uids[i] = user->pw_uid;
    }

    section_read_string(r, "allow_group", &cfg->allow_group);
    if (cfg->allow_group != NULL) {
        const struct group *group = getgrnam(cfg->allow_group);
        if (group == NULL)
            section_key_error(r, "allow_group", ini_layout_line(&r->file->layout, "host", "allow_group"),
                              "unknown group \"%s\"", cfg->allow_group);
        else
            cfg->allow_gid = group->gr_gid;
        if (group != NULL)
            config_check_socket_group(r, "allow_group", cfg->allow_gid, cfg->allow_group);
    }
}

static void read_host_section(struct loader *ld, const struct section_reader *r)
{
    struct config *cfg = ld->cfg;
    section_reject_unknown_keys(r, host_keys);
    section_require_key(r, "plugin_dir");
    section_require_key(r, "socket");
    section_read_path(r, "plugin_dir", &cfg->plugin_dir);
    section_read_path(r, "children_dir", &cfg->children_dir);
    section_read_path(r, "socket", &cfg->socket_path);
    if (cfg->socket_path != NULL)
        config_check_socket_place(r, "socket", cfg->socket_path);
    read_allowed_peers(ld, r);
    section_read_number(r, "max_restarts", 0, &cfg->max_restarts);
    section_read_number(r, "max_seconds", 1, &cfg->max_seconds);
    char *watch = NULL;
    section_read_string(r, "watch", &watch);
    if (watch && strcmp(watch, "yes") == 0)
        cfg->watch = true;
    else if (watch && strcmp(watch, "no") != 0)
        section_key_error(r, "watch", ini_layout_line(&r->file->layout, "host", "watch"),
                          "expected yes or no, found \"%s\"", watch);
    free(watch);
    int line;
    const char *level = section_value(r, "log_level", &line);
    if (level != NULL && (cfg->log_level = log_level_parse(level)) < 0)
        section_value_problem(r, "log_level", line, "expected debug, info, notice, warning or error",
                              level);
    read_metrics_listen(r, cfg);
}

/* ---- [supervisor:NAME] ------------------------------------------------ */

static const char *const supervisor_keys[] = {
    "strategy",        "max_children", "max_restarts",  "max_seconds",       "extra_arguments",
    "autostart",       "restart_delay", "restart_delay_max", "children",          NULL};

static void read_supervisor_section(struct loader *ld, const struct section_reader *r,
                                    const char *name)
{
    struct supervisor_spec *spec = append_item(ld, (void **)&ld->cfg->supervisors,
                                               &ld->cfg->supervisor_count,
                                               &ld->supervisor_capacity, sizeof *spec);
    if (spec == NULL)
        return;
    spec->name = copy_text(ld, name);
    spec->file = copy_text(ld, r->file->path);
    spec->max_children = DS_INFINITY;
    spec->max_restarts = 3;
    spec->max_seconds = 5;
    spec->restart_delay_ms = spec->restart_delay_max_ms = CONFIG_UNSET;
    section_reject_unknown_keys(r, supervisor_keys);

    int line;
    const char *value = section_value(r, "strategy", &line);
    if (value != NULL && strcmp(value, "one_for_one") != 0)
        section_key_error(r, "strategy", line, "unsupported strategy \"%s\" (only one_for_one)",
                          value);
    value = section_value(r, "max_children", &line);
    if (value != NULL)
        section_value_problem(r, "max_children", line,
                              config_parse_max_children(value, &spec->max_children), value);
    section_read_max_restarts(r, &spec->max_restarts);
    section_read_number(r, "max_seconds", 1, &spec->max_seconds);
    section_read_restart_delays(r, &spec->restart_delay_ms, &spec->restart_delay_max_ms);
    section_read_allowed_children(r, spec);
    section_read_words(r, "extra_arguments", &spec->extra_args, &spec->extra_argc);

    /* Whether each child exists is checked once all child specs are read. */
    section_read_id_list(r, "autostart", &spec->autostart, &spec->autostart_count);
}

/* ---- [event:NAME] ----------------------------------------------------- */

static const char *const event_keys[] = {"supervisor", "child", "signal", "interval", "jitter",
                                          NULL};

static void read_event_section(struct loader *ld, const struct section_reader *r, const char *name)
{
    struct event_spec *spec = append_item(ld, (void **)&ld->cfg->events, &ld->cfg->event_count,
                                          &ld->event_capacity, sizeof *spec);
    if (spec == NULL)
        return;
    spec->name = copy_text(ld, name);
    spec->file = copy_text(ld, r->file->path);
    section_reject_unknown_keys(r, event_keys);
    section_require_key(r, "supervisor");
    section_require_key(r, "child");
    /* Whether they exist is checked once every file is read. */
    section_read_id(r, "supervisor", &spec->supervisor);
    section_read_id(r, "child", &spec->child);

    int line;
    const char *value = section_value(r, "signal", &line);
    if (value != NULL)
        section_value_problem(r, "signal", line, config_parse_event_signal(value, &spec->signal),
                              value);
    section_read_number(r, "interval", 1, &spec->interval_s);
    /* A firing delayed by more than its interval would overtake the next
     * one: jitter spreads firings within the period, never across it. */
    section_read_number(r, "jitter", 0, &spec->jitter_s);
    value = section_value(r, "jitter", &line);
    if (value != NULL && spec->jitter_s > 0 && spec->interval_s == 0)
        section_key_error(r, "jitter", line, "needs interval (jitter delays the periodic "
                          "firings)");
    else if (value != NULL && spec->jitter_s > spec->interval_s)
        section_key_error(r, "jitter", line, "expected at most interval (%u), found \"%s\"",
                          spec->interval_s, value);
}

/* ---- [child:ID] ------------------------------------------------------- */

static const char *const child_keys[] = {
    "plugin",       "args",         "restart",           "shutdown",    "name",
    "restart_delay", "restart_delay_max", "request_args", "user",       "group",
    "limit_nofile", "limit_memory", "limit_cpu",         "limit_core",  "nice",
    "umask",        "working_directory", "environment",  NULL};

static void read_child_section(struct loader *ld, const struct section_reader *r, const char *id)
{
    /* A repeat within one file is caught by the layout scan; this is the
     * same id in two files. */
    const struct child_spec *first = config_find_child(ld->cfg, id);
    if (first != NULL) {
        fail(ld, r->file->path, r->section->line, r->section->name, NULL,
             "child id \"%s\" is already defined in %s", id, first->file);
        return;
    }
    struct child_spec *spec = append_item(ld, (void **)&ld->cfg->children, &ld->cfg->child_count,
                                          &ld->child_capacity, sizeof *spec);
    if (spec == NULL)
        return;
    spec->id = copy_text(ld, id);
    /* Indexed by position (the array moves as it grows): lookups and the
     * duplicate check above stay O(1) with tens of thousands of specs. */
    if (spec->id != NULL &&
        hashmap_put_string(&ld->cfg->children_by_id, spec->id,
                           (void *)(uintptr_t)ld->cfg->child_count) != 0)
        fail(ld, r->file->path, r->section->line, r->section->name, NULL, "out of memory");
    spec->file = copy_text(ld, r->file->path);
    spec->restart = RESTART_PERMANENT;
    spec->shutdown = SHUTDOWN_TIMEOUT;
    spec->shutdown_ms = 5000;
    spec->restart_delay_ms = spec->restart_delay_max_ms = CONFIG_UNSET;
    spec->request_args = true;
    section_reject_unknown_keys(r, child_keys);
    section_require_key(r, "plugin");
    section_read_name(r, "plugin", &spec->plugin);
    section_read_words(r, "args", &spec->args, &spec->argc);

    int line;
    const char *value = section_value(r, "restart", &line);
    if (value != NULL)
        section_value_problem(r, "restart", line, config_parse_restart(value, &spec->restart), value);
    value = section_value(r, "shutdown", &line);
    if (value != NULL)
        section_value_problem(r, "shutdown", line,
                              config_parse_shutdown(value, &spec->shutdown, &spec->shutdown_ms),
                              value);
    section_read_id(r, "name", &spec->name);
    section_read_restart_delays(r, &spec->restart_delay_ms, &spec->restart_delay_max_ms);
    section_read_request_args(r, spec);
    section_read_environment(r, spec);
}

/* ---- files ----------------------------------------------------------- */

/* True if section `name` is `type` or `type:ID`; *id is then ID or NULL. */
static bool section_is(const char *name, const char *type, const char **id)
{
    size_t length = strlen(type);
    if (strncmp(name, type, length) != 0 || (name[length] != '\0' && name[length] != ':'))
        return false;
    *id = name[length] == ':' ? name + length + 1 : NULL;
    return true;
}

static void read_host_file(struct loader *ld, const struct ini_file *file)
{
    bool host_seen = false;
    for (size_t i = 0; i < file->layout.count; i++) {
        const struct ini_section *section = &file->layout.sections[i];
        struct section_reader r = {&ld->problems, file, section, ld->host_user};
        const char *name = section->name, *id;
        if (section_is(name, "host", &id))
            host_seen = true;
        if (!section->usable)
            continue;
        if (section_is(name, "host", &id) && id == NULL)
            read_host_section(ld, &r);
        else if (section_is(name, "host", &id))
            fail(ld, file->path, section->line, name, NULL, "[host] takes no name");
        else if (section_is(name, "supervisor", &id) && id != NULL)
            read_supervisor_section(ld, &r, id);
        else if (section_is(name, "event", &id) && id != NULL)
            read_event_section(ld, &r, id);
        else if (section_is(name, "supervisor", &id) || section_is(name, "event", &id))
            fail(ld, file->path, section->line, name, NULL, "missing name: write [%s:NAME]", name);
        else if (section_is(name, "child", &id))
            fail(ld, file->path, section->line, name, NULL,
                 "child specs belong in a file of children_dir (%s)", ld->cfg->children_dir);
        else
            fail(ld, file->path, section->line, name, NULL,
                 "unknown section type (expected [host], [supervisor:NAME] or [event:NAME])");
    }
    if (!host_seen)
        fail(ld, file->path, 0, NULL, NULL,
             "missing [host] section (plugin_dir and socket are required)");
}

static void read_child_file(struct loader *ld, const char *path)
{
    struct ini_file file;
    if (ini_file_open(path, &file, &ld->problems) == 0) {
        for (size_t i = 0; i < file.layout.count; i++) {
            const struct ini_section *section = &file.layout.sections[i];
            struct section_reader r = {&ld->problems, &file, section, ld->host_user};
            const char *id;
            if (!section->usable)
                continue;
            if (section_is(section->name, "child", &id) && id != NULL)
                read_child_section(ld, &r, id);
            else
                fail(ld, path, section->line, section->name, NULL,
                     "only [child:ID] sections belong in a child spec file");
        }
    }
    ini_file_close(&file);
}

static int is_ini_file_name(const struct dirent *entry)
{
    size_t length = strlen(entry->d_name);
    return entry->d_name[0] != '.' && length > 4 && strcmp(entry->d_name + length - 4, ".ini") == 0;
}

/* Byte order, not the locale's: the same files load in the same order
 * everywhere. */
static int compare_file_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void read_children_dir(struct loader *ld, const struct ini_file *host)
{
    const char *dir = ld->cfg->children_dir;
    if (dir == NULL)
        return;
    struct dirent **entries;
    int count = scandir(dir, &entries, is_ini_file_name, compare_file_names);
    if (count < 0) {
        fail(ld, host->path, ini_layout_line(&host->layout, "host", "children_dir"), "host",
             "children_dir", "cannot read folder \"%s\": %s", dir, strerror(errno));
        return;
    }
    for (int i = 0; i < count; i++) {
        char *path = config_path_join(dir, entries[i]->d_name);
        struct stat info;
        if (path == NULL)
            fail(ld, host->path, 0, NULL, NULL, "out of memory");
        else if (stat(path, &info) != 0 || !S_ISDIR(info.st_mode))
            read_child_file(ld, path); /* reports a file it cannot read */
        free(path);
        free(entries[i]);
    }
    free(entries);
}

/* "HOST:LINE: [TYPE:ID] KEY: unknown WHAT "NAME"" */
static void reference_error(struct loader *ld, const struct ini_file *host, const char *type,
                            const char *id, const char *key, const char *what, const char *name)
{
    char *section;
    if (asprintf(&section, "%s:%s", type, id) < 0) {
        ld->problems.count++;
        return;
    }
    fail(ld, host->path, ini_layout_line(&host->layout, section, key), section, key,
         "unknown %s \"%s\"", what, name);
    free(section);
}

/* "HOST:LINE: [TYPE:ID] KEY: supervisor "S" may not start child "C" (...)" */
static void not_listed_error(struct loader *ld, const struct ini_file *host, const char *type,
                             const char *id, const char *key,
                             const struct supervisor_spec *supervisor, const char *child)
{
    char *section;
    if (asprintf(&section, "%s:%s", type, id) < 0) {
        ld->problems.count++;
        return;
    }
    fail(ld, host->path, ini_layout_line(&host->layout, section, key), section, key,
         "supervisor \"%s\" may not start child \"%s\" (not in its children list)",
         supervisor->name, child);
    free(section);
}

/* Run once every file is read: autostart and events name child specs and
 * supervisors that may be defined anywhere. */
static void check_references(struct loader *ld, const struct ini_file *host)
{
    const struct config *cfg = ld->cfg;
    for (size_t i = 0; i < cfg->supervisor_count; i++) {
        const struct supervisor_spec *spec = &cfg->supervisors[i];
        for (int k = 0; k < spec->autostart_count; k++)
            if (config_name_is_valid(spec->autostart[k]) &&
                !config_find_child(cfg, spec->autostart[k]))
                reference_error(ld, host, "supervisor", spec->name, "autostart", "child",
                                spec->autostart[k]);
            else if (!config_supervisor_lists_child(spec, spec->autostart[k]))
                not_listed_error(ld, host, "supervisor", spec->name, "autostart", spec,
                                 spec->autostart[k]);
        for (int k = 0; k < spec->children_count; k++)
            if (config_name_is_valid(spec->children[k]) &&
                !config_find_child(cfg, spec->children[k]))
                reference_error(ld, host, "supervisor", spec->name, "children", "child",
                                spec->children[k]);
    }
    for (size_t i = 0; i < cfg->event_count; i++) {
        const struct event_spec *spec = &cfg->events[i];
        if (spec->supervisor != NULL && !config_find_supervisor(cfg, spec->supervisor))
            reference_error(ld, host, "event", spec->name, "supervisor", "supervisor",
                            spec->supervisor);
        if (spec->child != NULL && !config_find_child(cfg, spec->child))
            reference_error(ld, host, "event", spec->name, "child", "child", spec->child);
        const struct supervisor_spec *supervisor =
            spec->supervisor != NULL ? config_find_supervisor(cfg, spec->supervisor) : NULL;
        if (supervisor != NULL && spec->child != NULL && config_find_child(cfg, spec->child) &&
            !config_supervisor_lists_child(supervisor, spec->child))
            not_listed_error(ld, host, "event", spec->name, "child", supervisor, spec->child);
    }
}

static int load(const char *path, struct config *cfg, struct error_list *errors, bool children)
{
    *cfg = (struct config){.max_restarts = 3, .max_seconds = 5, .allow_gid = (gid_t)-1,
                           .log_level = -1};
    struct loader ld = {.cfg = cfg};
    config_problems_init(&ld.problems, errors);
    cfg->path = strdup(path);
    if (cfg->path == NULL) {
        error_list_add(errors, "%s: out of memory", path);
        return -1;
    }
    struct ini_file host;
    if (ini_file_open(path, &host, &ld.problems) == 0) {
        cfg->children_dir = config_path_join(host.base_dir, "children.d");
        read_host_file(&ld, &host);
        if (cfg->allow_users == NULL && words_split("", &cfg->allow_users, &cfg->allow_user_count, NULL) != 0)
            fail(&ld, path, 0, NULL, NULL, "out of memory");
        if (children) {
            config_host_user(ld.host_user, sizeof ld.host_user);
            read_children_dir(&ld, &host);
            check_references(&ld, &host);
        }
    }
    ini_file_close(&host);
    config_problems_finish(&ld.problems);
    return ld.problems.count == 0 ? 0 : -1;
}

int config_load(const char *path, struct config *cfg, struct error_list *errors)
{
    return load(path, cfg, errors, true);
}

int config_load_host_file(const char *path, struct config *cfg, struct error_list *errors)
{
    return load(path, cfg, errors, false);
}
