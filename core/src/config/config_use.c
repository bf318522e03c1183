/*
 * Using a loaded config: checking its plugin names, finding its
 * supervisors, child specs and events, and freeing it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void config_check_plugins(const struct config *cfg, const char *const *names, size_t count,
                          struct error_list *errors)
{
    for (size_t i = 0; i < cfg->child_count; i++) {
        const struct child_spec *spec = &cfg->children[i];
        bool found = spec->plugin == NULL; /* missing plugin key: already an error */
        for (size_t k = 0; k < count && !found; k++)
            found = strcmp(names[k], spec->plugin) == 0;
        if (!found)
            error_list_add(errors, "%s: [child:%s] plugin: no plugin \"%s\" in %s", spec->file,
                           spec->id, spec->plugin, cfg->plugin_dir != NULL ? cfg->plugin_dir : "plugin_dir");
    }
}

const struct supervisor_spec *config_find_supervisor(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->supervisor_count; i++)
        if (cfg->supervisors[i].name != NULL && strcmp(cfg->supervisors[i].name, name) == 0)
            return &cfg->supervisors[i];
    return NULL;
}

const struct child_spec *config_find_child(const struct config *cfg, const char *id)
{
    if (cfg->children_by_id.count > 0) {
        uintptr_t position = (uintptr_t)hashmap_get_string(&cfg->children_by_id, id);
        return position > 0 && position <= cfg->child_count ? &cfg->children[position - 1] : NULL;
    }
    for (size_t i = 0; i < cfg->child_count; i++)
        if (cfg->children[i].id != NULL && strcmp(cfg->children[i].id, id) == 0)
            return &cfg->children[i];
    return NULL;
}

const struct event_spec *config_find_event(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->event_count; i++)
        if (cfg->events[i].name != NULL && strcmp(cfg->events[i].name, name) == 0)
            return &cfg->events[i];
    return NULL;
}

void config_free(struct config *cfg)
{
    hashmap_free(&cfg->children_by_id);
    for (size_t i = 0; i < cfg->supervisor_count; i++) {
        struct supervisor_spec *spec = &cfg->supervisors[i];
        free(spec->name);
        free(spec->file);
        words_free(spec->extra_args);
        words_free(spec->autostart);
        words_free(spec->children);
    }
    for (size_t i = 0; i < cfg->child_count; i++) {
        struct child_spec *spec = &cfg->children[i];
        free(spec->id);
        free(spec->file);
        free(spec->plugin);
        words_free(spec->args);
        free(spec->name);
        job_settings_text_free(&spec->job_settings);
    }
    for (size_t i = 0; i < cfg->event_count; i++) {
        struct event_spec *spec = &cfg->events[i];
        free(spec->name);
        free(spec->file);
        free(spec->supervisor);
        free(spec->child);
    }
    free(cfg->metrics_listen);
    free(cfg->supervisors);
    free(cfg->children);
    free(cfg->events);
    free(cfg->path);
    free(cfg->plugin_dir);
    free(cfg->children_dir);
    free(cfg->socket_path);
    words_free(cfg->allow_users);
    free(cfg->allow_uids);
    free(cfg->allow_group);
    *cfg = (struct config){0};
}
