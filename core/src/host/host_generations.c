/*
 * Plugin generations (SPEC section 8): loading a plugin file in a new
 * spawner, which generation of a plugin serves its starts and restarts,
 * and when a generation no one needs any more is released.
 *
 * A plugin's newest connected generation that is not retired is its
 * current one: new starts and restarts run it. A reload that removes the
 * plugin's file retires it without a successor; its children then keep
 * running, and so do their restarts, in the newest retired generation
 * still connected (the code they kept). Such a generation is released
 * only once the tree holds no child of the plugin (none running, none
 * waiting for its restart), or a new generation of the plugin is loaded;
 * any other retired one with its last worker. Whether that time has come
 * is checked after the tree's actions are carried out (host_apply): a
 * worker's exit, a terminate, an escalation or a reload.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_internal.h"
#include "log.h"
#include "plugin_loader.h"

void host_spawner_forget_copy(struct spawner_link *link)
{
    if (link->copy_fd >= 0)
        close(link->copy_fd);
    link->copy_fd = -1;
}

static void free_link(struct spawner_link *link)
{
    host_spawner_forget_copy(link);
    free(link->name);
    free(link->version);
    free(link->file);
    free(link->file_name);
    free(link->in_flight);
    free(link->held);
    free(link);
}

/* The file, or with copy_fd >= 0 that copy of it (a relaunch). */
static struct spawner_link *load(struct host *host, const char *plugin_dir, const char *file_name,
                                 int copy_fd, struct error_list *errors)
{
    struct spawner_link *link = calloc(1, sizeof *link);
    struct plugin_list loaded = {NULL, 0};
    if (!link) {
        error_list_add(errors, "%s/%s: cannot load: out of memory", plugin_dir, file_name);
        return NULL;
    }
    link->host = host;
    link->fd = -1;
    link->copy_fd = -1;
    /* Taken before the spawner opens the file: a file replaced in between
     * reads as changed at the next reload, which loads it again. */
    if (plugin_identity_of(plugin_dir, file_name, &link->identity) != 0)
        memset(&link->identity, 0, sizeof link->identity);
    log_write_held(); /* a load may take seconds: what was logged before it is out first */
    if (spawner_launch(plugin_dir, file_name, host->work_dir, copy_fd, &link->pid, &link->fd,
                       &link->copy_fd, &loaded, errors) != 0) {
        plugin_list_free(&loaded);
        free(link);
        return NULL;
    }
    if (loaded.count != 1) { /* a load report without its plugin */
        error_list_add(errors, "%s/%s: the spawner reported no plugin", plugin_dir, file_name);
        plugin_list_free(&loaded);
        host_spawner_discard(link);
        return NULL;
    }
    link->name = strdup(loaded.items[0].name);
    link->version = strdup(loaded.items[0].version);
    link->file = strdup(loaded.items[0].file);
    link->file_name = strdup(file_name);
    link->plugin = link->name;
    plugin_list_free(&loaded);
    if (!link->name || !link->version || !link->file || !link->file_name) {
        error_list_add(errors, "%s/%s: cannot load: out of memory", plugin_dir, file_name);
        host_spawner_discard(link);
        return NULL;
    }
    return link;
}

struct spawner_link *host_spawner_load(struct host *host, const char *plugin_dir,
                                       const char *file_name, struct error_list *errors)
{
    return load(host, plugin_dir, file_name, -1, errors);
}

struct spawner_link *host_spawner_load_again(struct host *host, const struct spawner_link *lost,
                                             struct error_list *errors)
{
    const char *plugin_dir = host->config.plugin_dir;
    struct plugin_identity now;
    bool file_unchanged = plugin_identity_of(plugin_dir, lost->file_name, &now) == 0 &&
                          plugin_identity_same(&now, &lost->identity);
    if (lost->copy_fd < 0 && !file_unchanged) {
        error_list_add(errors, "%s/%s: changed or gone since generation %u was loaded from it, "
                       "and that generation's own copy is lost; a reload loads the file as a new "
                       "generation", plugin_dir, lost->file_name, lost->generation);
        return NULL;
    }
    struct spawner_link *link = load(host, plugin_dir, lost->file_name, lost->copy_fd, errors);
    if (link && strcmp(link->name, lost->name) != 0) { /* a copy holds what it held */
        error_list_add(errors, "%s/%s: holds plugin %s now, not %s", plugin_dir, lost->file_name,
                       link->name, lost->name);
        host_spawner_discard(link);
        return NULL;
    }
    /* The file as it was then: if it changed since, the next reload loads
     * it as a new generation, validated as any. */
    if (link)
        link->identity = lost->identity;
    return link;
}

void host_spawner_discard(struct spawner_link *link)
{
    if (link->fd >= 0)
        close(link->fd); /* EOF: the spawner exits */
    if (link->pid > 0) {
        kill(link->pid, SIGKILL);
        waitpid(link->pid, NULL, 0);
    }
    free_link(link);
}

static bool connected(const struct spawner_link *link)
{
    return !link->lost && link->fd >= 0 && link->watching;
}

struct spawner_link *host_current_generation(struct host *host, const char *plugin)
{
    for (size_t i = host->spawner_count; i-- > 0;) {
        struct spawner_link *link = host->spawners[i];
        if (!link->retired && !link->lost && strcmp(link->plugin, plugin) == 0)
            return link;
    }
    return NULL;
}

/* The plugin's newest generation, if it can serve: current, or retired
 * (its file removed, or a retired one relaunched) and connected. Never an
 * older one: a replaced generation must not take over from a newest one
 * that died and could not be relaunched. */
struct spawner_link *host_restart_generation(struct host *host, const char *plugin)
{
    for (size_t i = host->spawner_count; i-- > 0;) {
        struct spawner_link *link = host->spawners[i];
        if (strcmp(link->plugin, plugin) == 0)
            return (!link->retired && !link->lost) || connected(link) ? link : NULL;
    }
    return NULL;
}

void host_spawner_release_if_idle(struct spawner_link *link)
{
    struct host *host = link->host;
    if (!link->retired || link->worker_count > 0 || link->in_flight_count > 0 ||
        link->outgoing_head || !connected(link))
        return;
    /* The code a child of the tree may still restart into stays. */
    if (host->tree && tree_count_plugin_children(host->tree, link->plugin) > 0 &&
        host_restart_generation(host, link->plugin) == link)
        return;
    log_event(DYNSUP_LOG_INFO, NULL, NULL, link->pid,
              "plugin %s %s (generation %u) has no worker left: released", link->plugin,
              link->version, link->generation);
    host_spawner_forget_copy(link);
    host_spawner_disconnect(link); /* EOF: the spawner exits, reaped by SIGCHLD */
}

void host_spawners_release_idle(struct host *host)
{
    for (size_t i = 0; i < host->spawner_count && host->retired_connected > 0; i++)
        if (host->spawners[i]->retired)
            host_spawner_release_if_idle(host->spawners[i]);
}

/* A retired generation serves no new start again: its spare goes at once. */
void host_spawner_retire(struct spawner_link *link)
{
    if (link->retired)
        return;
    link->retired = true;
    if (link->watching)
        link->host->retired_connected++;
    host_spare_drop(link);
    host_spawner_release_if_idle(link);
}

void host_spawner_give_up(struct host *host, struct spawner_link *link)
{
    if (link->index >= host->spawner_count || host->spawners[link->index] != link) {
        host_spawner_discard(link);
        return;
    }
    /* Adopted, but its watch failed: listed, so it is never freed here.
     * Lost, it serves nothing; its spawner reads EOF and exits. */
    link->lost = true;
    if (link->watching) {
        host_spawner_disconnect(link);
    } else if (link->fd >= 0) {
        close(link->fd);
        link->fd = -1;
    }
}

int host_spawner_adopt(struct host *host, struct spawner_link *link, bool watch)
{
    if (host->spawner_count == host->spawner_capacity) {
        size_t capacity = host->spawner_capacity ? host->spawner_capacity * 2 : 8;
        struct spawner_link **grown = realloc(host->spawners, capacity * sizeof *grown);
        if (!grown)
            return -1;
        host->spawners = grown;
        host->spawner_capacity = capacity;
    }
    unsigned generation = 1;
    for (size_t i = 0; i < host->spawner_count; i++)
        if (strcmp(host->spawners[i]->plugin, link->plugin) == 0 &&
            host->spawners[i]->generation >= generation)
            generation = host->spawners[i]->generation + 1;
    struct spawner_link *previous = host_current_generation(host, link->plugin);
    link->generation = generation;
    link->index = host->spawner_count;
    host->spawners[host->spawner_count++] = link;
    if (previous)
        host_spawner_retire(previous);
    return watch ? host_spawner_watch(link) : 0;
}

int host_spawners_launch(struct host *host, const char *plugin_dir, struct error_list *errors)
{
    char **names = NULL;
    size_t count = 0;
    if (plugin_dir_list(plugin_dir, &names, &count, errors) != 0)
        return -1;
    int result = 0;
    for (size_t i = 0; i < count; i++) {
        struct spawner_link *link = host_spawner_load(host, plugin_dir, names[i], errors);
        if (!link || host_spawner_adopt(host, link, false) != 0) {
            if (link)
                host_spawner_discard(link);
            result = -1;
        }
    }
    plugin_names_free(names, count);
    return result;
}

void host_spawners_free(struct host *host)
{
    for (size_t i = 0; i < host->spawner_count; i++)
        free_link(host->spawners[i]);
    free(host->spawners);
    host->spawners = NULL;
    host->spawner_count = host->spawner_capacity = 0;
}
