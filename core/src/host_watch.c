/*
 * [host] watch = yes (SPEC section 8): the host reloads by itself when a
 * file of its config changes: the config file, a *.ini of children_dir or
 * a *.so of plugin_dir (inotify through libuv's fs events, one per
 * folder). A burst of writes, or a slow copy, gives one reload once it has
 * been quiet for WATCH_SETTLE_MS; a half-written plugin that fails to load
 * makes that reload fail (logged, nothing changed), and the write that
 * completes it tries again.
 *
 * Only those names count, so that files the host or its workers write
 * next to the config (a log, a store) never trigger a reload. "..data"
 * counts too: a Kubernetes ConfigMap volume swaps that symlink atomically
 * when its content changes.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"
#include "log.h"

#define WATCH_SETTLE_MS 500

static bool ends_with(const char *name, const char *suffix)
{
    size_t length = strlen(name), suffix_length = strlen(suffix);
    return length > suffix_length && strcmp(name + length - suffix_length, suffix) == 0;
}

static bool counts(const struct watched_folder *folder, const char *name)
{
    if (!name)
        return true; /* the kernel did not say which: look anyway */
    if (strcmp(name, "..data") == 0)
        return true;
    if (name[0] == '.')
        return false; /* a temp file: its rename into place counts */
    if (folder->only_name)
        return strcmp(name, folder->only_name) == 0;
    return ends_with(name, folder->suffix);
}

static void on_settled(uv_timer_t *timer)
{
    struct host *host = timer->data;
    host_reload_and_log(host, "a watched file changed");
}

static void on_change(uv_fs_event_t *handle, const char *name, int events, int status)
{
    (void)events;
    struct watched_folder *folder = handle->data;
    struct host *host = folder->host;
    if (status < 0 || !counts(folder, name) || host->stopping || host->exiting)
        return;
    uv_timer_start(&host->watch.settle, on_settled, WATCH_SETTLE_MS, 0);
}

static void on_folder_closed(uv_handle_t *handle)
{
    struct watched_folder *folder = handle->data;
    free(folder->path);
    free(folder->only_name);
    free(folder);
}

void host_watch_stop(struct host *host)
{
    for (size_t i = 0; i < host->watch.count; i++)
        uv_close((uv_handle_t *)&host->watch.folders[i]->handle, on_folder_closed);
    host->watch.count = 0;
    if (host->watch.timer_started) {
        uv_timer_stop(&host->watch.settle);
        if (host->exiting) {
            uv_close((uv_handle_t *)&host->watch.settle, NULL);
            host->watch.timer_started = false;
        }
    }
}

static void watch_folder(struct host *host, const char *path, const char *only_name,
                         const char *suffix)
{
    struct watched_folder *folder = calloc(1, sizeof *folder);
    if (!folder)
        return;
    folder->host = host;
    folder->path = strdup(path);
    folder->only_name = only_name ? strdup(only_name) : NULL;
    folder->suffix = suffix;
    folder->handle.data = folder;
    uv_fs_event_init(&host->loop, &folder->handle);
    int result = folder->path ? uv_fs_event_start(&folder->handle, on_change, folder->path, 0) : -1;
    host->watch.folders[host->watch.count++] = folder;
    if (result != 0)
        log_event(DYNSUP_LOG_WARNING, NULL, NULL, 0, "watch: cannot watch %s: %s", path,
                  result < 0 && folder->path ? uv_strerror(result) : "out of memory");
}

void host_watch_update(struct host *host)
{
    host_watch_stop(host);
    if (!host->config.watch || host->exiting)
        return;
    if (!host->watch.timer_started) {
        uv_timer_init(&host->loop, &host->watch.settle);
        host->watch.settle.data = host;
        host->watch.timer_started = true;
    }
    char *copy = strdup(host->config.path);
    if (copy) {
        char *name = strdup(basename(copy));
        free(copy);
        copy = strdup(host->config.path);
        if (name && copy)
            watch_folder(host, dirname(copy), name, NULL);
        free(name);
        free(copy);
    }
    if (host->config.children_dir)
        watch_folder(host, host->config.children_dir, NULL, ".ini");
    watch_folder(host, host->config.plugin_dir, NULL, ".so");
    log_event(DYNSUP_LOG_INFO, NULL, NULL, 0,
              "watch: reloading by itself when the config, a child spec or a plugin changes");
}
