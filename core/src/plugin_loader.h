/*
 * Finding and loading plugins: every *.so in plugin_dir is dlopen'ed with
 * RTLD_NOW | RTLD_LOCAL and its `dynsup_plugin` descriptor checked (ABI
 * version, name equal to the file name, run set). A refusal names the file,
 * the field, the expected and the found value (or dlerror()'s text).
 *
 * Runs in the spawner process (and in `check`), never in the host itself,
 * so a plugin's constructors cannot touch the host.
 *
 * Ownership: a plugin_set owns its entries, their strings and dl handles;
 * plugin_set_free dlcloses and frees them.
 */
#ifndef DYNSUP_PLUGIN_LOADER_H
#define DYNSUP_PLUGIN_LOADER_H

#include <stddef.h>

#include "config.h"
#include "dynsup/plugin.h"

struct loaded_plugin {
    char *name;                          /* descriptor name == file name without .so */
    char *version;
    char *file;                          /* full path */
    void *handle;                        /* dlopen handle */
    const struct dynsup_plugin *plugin;  /* inside the handle */
};

struct plugin_set {
    struct loaded_plugin *items;
    size_t count, capacity;
};

void plugin_set_init(struct plugin_set *set);
/* Loads every *.so of dir (sorted by name). Returns 0 if all loaded; -1
 * if any was refused (or dir unreadable), each refusal appended to errors
 * as "FILE: reason"; the good ones are in set either way. */
int plugin_set_load_dir(struct plugin_set *set, const char *dir, struct error_list *errors);
const struct loaded_plugin *plugin_set_find(const struct plugin_set *set, const char *name);
void plugin_set_free(struct plugin_set *set);

/* Checks one descriptor loaded from `file`; expected_name is the file
 * name without ".so". Returns 0, or -1 with one error per problem. */
int plugin_validate(const struct dynsup_plugin *plugin, const char *file, const char *expected_name,
                    struct error_list *errors);

#endif
