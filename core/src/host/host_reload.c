/*
 * Reload (SPEC section 8): re-read the config file, children_dir and
 * plugin_dir, validate all of it as `check` does, and only then apply the
 * difference, the way nginx's master does on SIGHUP. Nothing running is
 * touched: a child keeps the spec and arguments it was started with (the
 * tree holds its own copy), running workers keep the plugin generation
 * they were forked from, and a new or changed plugin file is loaded into
 * a new spawner (a new generation) that new starts and restarts use.
 *
 * Steps, each undone if a later check fails:
 *   1. load the config into a new struct config (every error collected);
 *   2. the difference with the running config (config_diff; a moved
 *      socket, plugin_dir or children_dir is an error: needs a restart);
 *   3. every *.so whose file is new or changed is loaded in a new spawner
 *      (trust, ELF, ABI checked there as at boot); a file that is gone
 *      makes its plugin unavailable to new starts;
 *   4. every child spec's plugin must be available;
 *   5. dry run: undo and report. Otherwise apply: adopt the new
 *      generations (retiring the old ones, released with their last
 *      worker), swap the config, update the tree's supervisors, the root
 *      intensity, the control socket's access and the events' timers.
 *
 * Configs replaced by a reload are kept until the host exits: a running
 * worker's log tags point into the config it was started under (a few
 * kilobytes per reload).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config_diff.h"
#include "host_internal.h"
#include "log.h"
#include "plugin_loader.h"

/* What a plugin file is on disk, to tell at a reload whether it changed
 * (a copy in place keeps the inode but changes the times; a file renamed
 * over it changes the inode). Taken at every load too (host_spawners.c). */
int plugin_identity_of(const char *plugin_dir, const char *file_name, struct plugin_identity *out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", plugin_dir, file_name);
    struct stat info;
    if (stat(path, &info) != 0)
        return -1;
    *out = (struct plugin_identity){.device = info.st_dev, .inode = info.st_ino,
                                    .size = info.st_size, .modified = info.st_mtim,
                                    .changed = info.st_ctim};
    return 0;
}

bool plugin_identity_same(const struct plugin_identity *a, const struct plugin_identity *b)
{
    return a->device == b->device && a->inode == b->inode && a->size == b->size &&
           a->modified.tv_sec == b->modified.tv_sec && a->modified.tv_nsec == b->modified.tv_nsec &&
           a->changed.tv_sec == b->changed.tv_sec && a->changed.tv_nsec == b->changed.tv_nsec;
}

/* A plugin file as the reload found it. */
struct plugin_file {
    char *file_name;
    struct spawner_link *current;   /* the generation serving it now, or NULL */
    struct spawner_link *loaded;    /* a new generation loaded by this reload, or NULL */
};

struct reload_plan {
    struct config next;
    struct plugin_file *files;
    size_t file_count;
    struct spawner_link **gone;     /* current generations whose file is gone */
    size_t gone_count;
};

static void plan_free(struct reload_plan *plan, bool discard_loaded)
{
    for (size_t i = 0; i < plan->file_count; i++) {
        if (discard_loaded && plan->files[i].loaded)
            host_spawner_discard(plan->files[i].loaded);
        free(plan->files[i].file_name);
    }
    free(plan->files);
    free(plan->gone);
}

/* The generation currently serving file_name (the newest one loaded from
 * it that is not retired). */
static struct spawner_link *serving_file(struct host *host, const char *file_name)
{
    for (size_t i = host->spawner_count; i-- > 0;) {
        struct spawner_link *link = host->spawners[i];
        if (!link->retired && !link->lost && strcmp(link->file_name, file_name) == 0)
            return link;
    }
    return NULL;
}

static int scan_plugins(struct host *host, struct reload_plan *plan, struct change_list *changes,
                        struct error_list *errors)
{
    const char *plugin_dir = host->config.plugin_dir;
    char **names = NULL;
    size_t count = 0;
    if (plugin_dir_list(plugin_dir, &names, &count, errors) != 0)
        return -1;
    plan->files = calloc(count + 1, sizeof *plan->files);
    plan->gone = calloc(host->spawner_count + 1, sizeof *plan->gone);
    if (!plan->files || !plan->gone) {
        plugin_names_free(names, count);
        error_list_add(errors, "%s: out of memory", plugin_dir);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        struct plugin_file *file = &plan->files[plan->file_count++];
        file->file_name = strdup(names[i]);
        file->current = serving_file(host, names[i]);
        struct plugin_identity now;
        bool unchanged = file->current && plugin_identity_of(plugin_dir, names[i], &now) == 0 &&
                         plugin_identity_same(&now, &file->current->identity);
        if (unchanged)
            continue;
        file->loaded = host_spawner_load(host, plugin_dir, names[i], errors);
        if (!file->loaded)
            continue; /* its errors are in the list: the reload is refused */
        if (!file->current)
            change_list_add(changes, CHANGE_PLUGIN, CHANGE_ADDED, file->loaded->name,
                            "version %s", file->loaded->version);
        else if (strcmp(file->current->version, file->loaded->version) != 0)
            change_list_add(changes, CHANGE_PLUGIN, CHANGE_CHANGED, file->loaded->name,
                            "version %s -> %s (a new generation; running workers keep %s)",
                            file->current->version, file->loaded->version, file->current->version);
        else
            change_list_add(changes, CHANGE_PLUGIN, CHANGE_CHANGED, file->loaded->name,
                            "file changed, version %s (a new generation)", file->loaded->version);
    }
    plugin_names_free(names, count);
    for (size_t i = 0; i < host->spawner_count; i++) {
        struct spawner_link *link = host->spawners[i];
        if (link->retired || link->lost)
            continue;
        bool found = false;
        for (size_t j = 0; j < plan->file_count && !found; j++)
            found = strcmp(plan->files[j].file_name, link->file_name) == 0;
        if (!found) {
            plan->gone[plan->gone_count++] = link;
            change_list_add(changes, CHANGE_PLUGIN, CHANGE_REMOVED, link->name,
                            "file %s is gone; its %zu running workers keep their code",
                            link->file_name, link->worker_count);
        }
    }
    return 0;
}

static void check_plugins_available(const struct reload_plan *plan, struct error_list *errors)
{
    const char **names = calloc(plan->file_count + 1, sizeof *names);
    if (!names)
        return;
    size_t count = 0;
    for (size_t i = 0; i < plan->file_count; i++) {
        const struct spawner_link *link =
            plan->files[i].loaded ? plan->files[i].loaded : plan->files[i].current;
        if (link)
            names[count++] = link->name;
    }
    config_check_plugins(&plan->next, names, count, errors);
    free(names);
}

/* ---------------------------------------------------------------- applying */

static void keep_retired_config(struct host *host, struct config *config)
{
    struct config *kept = malloc(sizeof *kept);
    struct config **grown = realloc(host->retired_configs,
                                    (host->retired_config_count + 1) * sizeof *grown);
    if (!kept || !grown) {
        /* Leaking it is safe; freeing it is not (workers point into it). */
        free(kept);
        if (grown)
            host->retired_configs = grown;
        return;
    }
    *kept = *config;
    host->retired_configs = grown;
    host->retired_configs[host->retired_config_count++] = kept;
}

/* The actions of each tree call are carried out before the next call: a
 * call frees the supervisor the previous one removed, which its actions
 * name. An added supervisor's autostart runs when the tree announces it
 * (ACTION_SUPERVISOR_ADDED): at once, or, if one of that name is still
 * being removed, once that one is gone. */
static void apply_supervisors(struct host *host, const struct config *old,
                              struct action_list *actions)
{
    const struct config *next = &host->config;
    for (size_t i = 0; i < old->supervisor_count; i++)
        if (!config_find_supervisor(next, old->supervisors[i].name)) {
            tree_remove_supervisor(host->tree, old->supervisors[i].name, host_now(host), actions);
            host_apply(host, actions);
        }
    for (size_t i = 0; i < next->supervisor_count; i++) {
        const struct supervisor_spec *spec = &next->supervisors[i];
        struct supervisor_config settings = host_supervisor_settings(spec);
        bool existed = config_find_supervisor(old, spec->name) != NULL;
        int result = existed ? tree_update_supervisor(host->tree, &settings)
                             : tree_add_supervisor_by_reload(host->tree, &settings, actions);
        if (result != 0) /* a bug: the tree and the config the host holds disagree */
            log_event(DYNSUP_LOG_ERROR, spec->name, NULL, 0,
                      "cannot %s the supervisor: the running tree %s one of that name",
                      existed ? "update" : "add", existed ? "has no" : "already has");
        host_apply(host, actions);
    }
}

/* A supervisor the reload adds while one of that name, removed by an
 * earlier reload, still stops its children is created once that one is
 * gone: the answer says so (start_child meanwhile answers shutting_down). */
static void note_delayed_additions(struct host *host, struct change_list *changes)
{
    for (size_t i = 0; i < changes->count; i++) {
        struct config_change *item = &changes->items[i];
        if (item->kind == CHANGE_SUPERVISOR && item->change == CHANGE_ADDED && !item->detail &&
            tree_has_supervisor(host->tree, item->id))
            item->detail = strdup("created once the one removed by an earlier reload "
                                  "has stopped its children");
    }
}

/* ACTION_SUPERVISOR_ADDED: its autostart runs once the action list is
 * carried out (a start now would be a tree call in the middle of it). */
void host_autostart_later(struct host *host, const char *supervisor)
{
    char **grown = realloc(host->due_autostarts,
                           (host->due_autostart_count + 1) * sizeof *grown);
    char *name = strdup(supervisor);
    if (!grown || !name) {
        free(name);
        if (grown)
            host->due_autostarts = grown;
        log_event(DYNSUP_LOG_ERROR, supervisor, NULL, 0,
                  "cannot run the autostart of the added supervisor: out of memory");
        return;
    }
    host->due_autostarts = grown;
    host->due_autostarts[host->due_autostart_count++] = name;
}

void host_run_due_autostarts(struct host *host)
{
    /* Taken whole first: each start carries out its own actions, which
     * comes back here. */
    while (host->due_autostart_count > 0) {
        char **names = host->due_autostarts;
        size_t count = host->due_autostart_count;
        host->due_autostarts = NULL;
        host->due_autostart_count = 0;
        for (size_t i = 0; i < count; i++) {
            /* the config of now: a change made while it waited applies */
            const struct supervisor_spec *spec = config_find_supervisor(&host->config, names[i]);
            if (spec)
                host_autostart(host, spec);
            free(names[i]);
        }
        free(names);
    }
}

static bool plugin_named_by_a_spec(const struct config *config, const char *plugin)
{
    for (size_t i = 0; i < config->child_count; i++)
        if (strcmp(config->children[i].plugin, plugin) == 0)
            return true;
    return false;
}

static void apply(struct host *host, struct reload_plan *plan)
{
    for (size_t i = 0; i < plan->file_count; i++) {
        struct spawner_link *link = plan->files[i].loaded;
        if (!link)
            continue;
        plan->files[i].loaded = NULL;
        if (host_spawner_adopt(host, link, true) != 0) {
            log_event(DYNSUP_LOG_ERROR, NULL, NULL, link->pid,
                      "plugin %s: cannot watch its new plugin process: out of memory", link->name);
            host_spawner_give_up(host, link);
            continue;
        }
        log_event(DYNSUP_LOG_INFO, NULL, NULL, link->pid, "plugin %s %s loaded (generation %u)",
                  link->name, link->version, link->generation);
        /* A plugin this reload loaded (added, or a new version) that a
         * spec names is readied for its next start, as a start would leave
         * it: that start then becomes a spare instead of forking (issue
         * 10: within 2x a normal start), once the spare has come, a few
         * hundred microseconds after this. The generation it replaces
         * dropped its own spare when it was retired. */
        if (plugin_named_by_a_spec(&plan->next, link->name))
            host_spawner_ready_spare(link);
    }
    for (size_t i = 0; i < plan->gone_count; i++)
        host_spawner_retire(plan->gone[i]);

    struct config old = host->config;
    host->config = plan->next;
    memset(&plan->next, 0, sizeof plan->next);
    tree_set_root_intensity(host->tree, host->config.max_restarts, host->config.max_seconds);
    log_set_configured_threshold(host->config.log_level >= 0 ? host->config.log_level
                                                             : DYNSUP_LOG_INFO);
    if (host->control) {
        struct control_access access = {
            .allow_uids = host->config.allow_uids,
            .allow_uid_count = host->config.allow_user_count,
            .has_allow_group = host->config.allow_group != NULL,
            .allow_gid = host->config.allow_gid,
        };
        struct error_list errors;
        error_list_init(&errors);
        if (control_server_set_access(host->control, &access, &errors) != 0)
            for (size_t i = 0; i < errors.count; i++)
                log_event(DYNSUP_LOG_ERROR, NULL, NULL, 0, "%s", errors.messages[i]);
        error_list_free(&errors);
    }
    host_events_restart(host);
    host_watch_update(host);
    struct action_list actions;
    action_list_init(&actions);
    apply_supervisors(host, &old, &actions);
    action_list_free(&actions);
    keep_retired_config(host, &old);
}

static int reload(struct host *host, bool dry_run, struct change_list *changes,
                  struct error_list *errors);

/* systemd hears RELOADING=1 ... READY=1 around it; the metrics count it. */
int host_reload(struct host *host, bool dry_run, struct change_list *changes,
                struct error_list *errors)
{
    if (!dry_run)
        host_notify_reloading(host);
    int result = reload(host, dry_run, changes, errors);
    if (!dry_run) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        metrics_record_reload(&host->counters, result == 0,
                              (double)now.tv_sec + (double)now.tv_nsec / 1e9);
        host_notify_ready(host);
    }
    return result;
}

static int reload(struct host *host, bool dry_run, struct change_list *changes,
                  struct error_list *errors)
{
    struct reload_plan plan;
    memset(&plan, 0, sizeof plan);
    /* Every error at once, as `check` prints them: the plugins are
     * looked at even when the config has errors. */
    bool config_ok = config_load(host->config.path, &plan.next, errors) == 0;
    if (config_ok) {
        config_diff(&host->config, &plan.next, changes, errors);
        note_delayed_additions(host, changes);
    }
    scan_plugins(host, &plan, changes, errors);
    if (config_ok)
        check_plugins_available(&plan, errors);
    if (errors->count > 0 || dry_run) {
        plan_free(&plan, true);
        config_free(&plan.next);
        if (errors->count > 0) {
            change_list_free(changes);
            return -1;
        }
        return 0;
    }
    apply(host, &plan);
    plan_free(&plan, false);
    host->reload_count++;
    return 0;
}

void host_reload_and_log(struct host *host, const char *why)
{
    struct change_list changes;
    struct error_list errors;
    change_list_init(&changes);
    error_list_init(&errors);
    if (host->stopping) {
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0, "%s: not reloading: the host is stopping", why);
    } else if (host_reload(host, false, &changes, &errors) != 0) {
        log_event(DYNSUP_LOG_ERROR, NULL, NULL, 0,
                  "%s: reload refused, nothing changed (%zu errors):", why,
                  error_list_total(&errors));
        for (size_t i = 0; i < errors.count; i++)
            log_event(DYNSUP_LOG_ERROR, NULL, NULL, 0, "  %s", errors.messages[i]);
    } else {
        log_event(DYNSUP_LOG_INFO, NULL, NULL, 0, "%s: reloaded (%zu changes)", why, changes.count);
        for (size_t i = 0; i < changes.count; i++)
            log_event(DYNSUP_LOG_INFO, NULL, NULL, 0, "  %s %s %s%s%s",
                      change_kind_name(changes.items[i].kind), changes.items[i].id,
                      change_type_name(changes.items[i].change),
                      changes.items[i].detail ? ": " : "",
                      changes.items[i].detail ? changes.items[i].detail : "");
    }
    change_list_free(&changes);
    error_list_free(&errors);
}

void host_reload_free(struct host *host)
{
    for (size_t i = 0; i < host->retired_config_count; i++) {
        config_free(host->retired_configs[i]);
        free(host->retired_configs[i]);
    }
    free(host->retired_configs);
    host->retired_configs = NULL;
    host->retired_config_count = 0;
    for (size_t i = 0; i < host->due_autostart_count; i++)
        free(host->due_autostarts[i]);
    free(host->due_autostarts);
    host->due_autostarts = NULL;
    host->due_autostart_count = 0;
}
