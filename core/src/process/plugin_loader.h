/*
 * Finding and loading plugins: every *.so in plugin_dir is dlopen'ed with
 * RTLD_NOW | RTLD_LOCAL and its `dynsup_plugin` descriptor checked (ABI
 * version, name equal to the file name, run set). A refusal names the file,
 * the field, the expected and the found value (or dlerror()'s text).
 *
 * Runs in the spawner process (and in `check`), never in the host itself,
 * so a plugin's constructors cannot touch the host.
 *
 * Trust: a plugin folder or file that is group- or world-writable, owned
 * by someone else than root or the host's user, or reached through a
 * symlink that leads out of the plugin folder is refused (and never
 * dlopen'ed): whoever can change a plugin runs code as the host.
 *
 * Ownership: a plugin_set owns its entries, their strings, dl handles and
 * descriptors; plugin_set_free dlcloses, closes and frees them.
 */
#ifndef DYNSUP_PLUGIN_LOADER_H
#define DYNSUP_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "config.h"
#include "dynsup/plugin.h"
#include "file_trust.h" /* trust_refusal, used with the loader's checks */

struct loaded_plugin {
    char *name;                          /* descriptor name == file name without .so */
    char *version;
    char *file;                          /* full path */
    void *handle;                        /* dlopen handle */
    int fd;                              /* the checked file, dlopen'ed as /proc/self/fd/N;
                                            open while handle is */
    const struct dynsup_plugin *plugin;  /* inside the handle */
};

struct plugin_set {
    struct loaded_plugin *items;
    size_t count, capacity;
};

void plugin_set_init(struct plugin_set *set);
/* Loads every *.so of dir (sorted by name). Returns 0 if all loaded; -1
 * if any was refused (or dir unreadable or untrusted: then nothing is
 * loaded), each refusal appended to errors as "FILE: reason"; the good ones
 * are in set either way. */
int plugin_set_load_dir(struct plugin_set *set, const char *dir, struct error_list *errors);
/* The *.so file names of dir (sorted), after the folder's trust check;
 * nothing is opened or loaded. Returns 0, or -1 with the reasons in errors
 * (also when some *.so is not a regular file: then no name is given).
 * The caller frees the names with plugin_names_free. */
int plugin_dir_list(const char *dir, char ***names, size_t *count, struct error_list *errors);
void plugin_names_free(char **names, size_t count);
/* Loads one file (a name plugin_dir_list gave) of dir into set, with the
 * same checks as plugin_set_load_dir. Returns 0, or -1 with the reason. */
int plugin_set_load_file(struct plugin_set *set, const char *dir, const char *file_name,
                         struct error_list *errors);
/* The same from copy_fd, the private copy a spawner made of that file
 * when it first loaded it (plugin_copy.h), whatever the file holds now:
 * a relaunched plugin process runs its generation's own bytes. The set
 * owns copy_fd on success; it is closed on failure. */
int plugin_set_load_copy(struct plugin_set *set, const char *dir, const char *file_name,
                         int copy_fd, struct error_list *errors);
const struct loaded_plugin *plugin_set_find(const struct plugin_set *set, const char *name);
void plugin_set_free(struct plugin_set *set);

/* Checks one descriptor loaded from `file`; expected_name is the file
 * name without ".so". Returns 0, or -1 with one error per problem. */
int plugin_validate(const struct dynsup_plugin *plugin, const char *file, const char *expected_name,
                    struct error_list *errors);

#endif
