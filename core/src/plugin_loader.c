/*
 * Plugin loading: scan a folder, dlopen each *.so, check its descriptor.
 *
 * A refused plugin is dlclosed at once, so nothing of it stays mapped; the
 * caller only ever sees descriptors that passed plugin_validate.
 */
#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PLUGIN_SUFFIX ".so"

/* Longest descriptor string quoted in a refusal; a plugin is foreign code
 * and its "name" may be anything, so messages stay one short line. */
#define QUOTED_MAX 64

void plugin_set_init(struct plugin_set *set)
{
    set->items = NULL;
    set->count = 0;
    set->capacity = 0;
}

void plugin_set_free(struct plugin_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        struct loaded_plugin *entry = &set->items[i];
        free(entry->name);
        free(entry->version);
        free(entry->file);
        dlclose(entry->handle);
    }
    free(set->items);
    plugin_set_init(set);
}

const struct loaded_plugin *plugin_set_find(const struct plugin_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++) {
        if (strcmp(set->items[i].name, name) == 0)
            return &set->items[i];
    }
    return NULL;
}

static bool is_plugin_name(const char *name)
{
    if (*name == '\0')
        return false;
    for (const char *c = name; *c; c++) {
        bool allowed = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
        if (!allowed)
            return false;
    }
    return true;
}

/* Writes `text` in double quotes into out, with control and non-ASCII bytes
 * as \xNN and a "..." tail when longer than QUOTED_MAX, so a hostile or
 * broken descriptor cannot split or flood a log line. */
static void quote_for_message(const char *text, char *out, size_t out_size)
{
    size_t used = 0;
    out[used++] = '"';
    size_t i = 0;
    for (; text[i] && i < QUOTED_MAX; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            used += (size_t)snprintf(out + used, out_size - used, "\\x%02x", c);
        else
            out[used++] = (char)c;
    }
    if (text[i])
        used += (size_t)snprintf(out + used, out_size - used, "...");
    out[used++] = '"';
    out[used] = '\0';
}

/* Room for QUOTED_MAX escaped bytes, quotes, "..." and the terminator. */
#define QUOTED_SIZE (QUOTED_MAX * 4 + 8)

int plugin_validate(const struct dynsup_plugin *plugin, const char *file, const char *expected_name,
                    struct error_list *errors)
{
    /* A descriptor of another ABI may have another layout: reading any
     * field after abi_version could be reading garbage, so stop here. */
    if (plugin->abi_version != DYNSUP_PLUGIN_ABI_VERSION) {
        error_list_add(errors, "%s: abi_version: expected %u, found %u", file,
                       (unsigned)DYNSUP_PLUGIN_ABI_VERSION, (unsigned)plugin->abi_version);
        return -1;
    }

    int result = 0;
    char quoted[QUOTED_SIZE];
    if (plugin->name == NULL) {
        error_list_add(errors, "%s: name: missing (required)", file);
        result = -1;
    } else if (!is_plugin_name(plugin->name)) {
        quote_for_message(plugin->name, quoted, sizeof quoted);
        error_list_add(errors, "%s: name: expected [a-z0-9_]+, found %s", file, quoted);
        result = -1;
    } else if (strcmp(plugin->name, expected_name) != 0) {
        char quoted_expected[QUOTED_SIZE];
        quote_for_message(expected_name, quoted_expected, sizeof quoted_expected);
        quote_for_message(plugin->name, quoted, sizeof quoted);
        error_list_add(errors, "%s: name: expected %s (the file name), found %s", file,
                       quoted_expected, quoted);
        result = -1;
    }
    if (plugin->version == NULL) {
        error_list_add(errors, "%s: version: missing (required)", file);
        result = -1;
    }
    if (plugin->run == NULL) {
        error_list_add(errors, "%s: run: missing (required)", file);
        result = -1;
    }
    return result;
}

static int append_plugin(struct plugin_set *set, const struct loaded_plugin *entry)
{
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 8;
        struct loaded_plugin *items = realloc(set->items, capacity * sizeof *items);
        if (items == NULL)
            return -1;
        set->items = items;
        set->capacity = capacity;
    }
    set->items[set->count++] = *entry;
    return 0;
}

/* dlerror() after a failure; never NULL, so it can go into a message. */
static const char *last_dl_error(void)
{
    const char *text = dlerror();
    return text ? text : "unknown dynamic loader error";
}

/* dlopens `path`, checks it and on success adds it to set. Returns 0, or
 * -1 with the reason in errors (and nothing left loaded). */
static int load_one(struct plugin_set *set, const char *path, const char *expected_name,
                    struct error_list *errors)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        error_list_add(errors, "%s: cannot load: %s", path, last_dl_error());
        return -1;
    }

    /* The symbol's address could in theory be NULL, so the error is told
     * apart from the value by clearing and re-reading dlerror(). */
    dlerror();
    const struct dynsup_plugin *plugin = dlsym(handle, DYNSUP_PLUGIN_SYMBOL);
    const char *symbol_error = dlerror();
    if (plugin == NULL) {
        error_list_add(errors, "%s: no symbol %s: %s", path, DYNSUP_PLUGIN_SYMBOL,
                       symbol_error ? symbol_error : "its address is NULL");
        dlclose(handle);
        return -1;
    }

    if (plugin_validate(plugin, path, expected_name, errors) != 0) {
        dlclose(handle);
        return -1;
    }

    struct loaded_plugin entry = {
        .name = strdup(plugin->name),
        .version = strdup(plugin->version),
        .file = strdup(path),
        .handle = handle,
        .plugin = plugin,
    };
    if (entry.name == NULL || entry.version == NULL || entry.file == NULL ||
        append_plugin(set, &entry) != 0) {
        error_list_add(errors, "%s: cannot load: out of memory", path);
        free(entry.name);
        free(entry.version);
        free(entry.file);
        dlclose(handle);
        return -1;
    }
    return 0;
}

static bool has_plugin_suffix(const char *file_name)
{
    size_t length = strlen(file_name);
    size_t suffix_length = strlen(PLUGIN_SUFFIX);
    return length > suffix_length &&
           strcmp(file_name + length - suffix_length, PLUGIN_SUFFIX) == 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_strings(char **strings, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

/* Collects the names of dir's regular files ending in .so, sorted, so the
 * load order (and the order of errors) does not depend on the file system.
 * Returns 0 or -1 with errno set. */
static int list_plugin_files(const char *dir, char ***names_out, size_t *count_out)
{
    DIR *stream = opendir(dir);
    if (stream == NULL)
        return -1;

    char **names = NULL;
    size_t count = 0, capacity = 0;
    int saved_errno = 0;
    for (;;) {
        errno = 0;
        struct dirent *dirent = readdir(stream);
        if (dirent == NULL) {
            saved_errno = errno;
            break;
        }
        if (!has_plugin_suffix(dirent->d_name))
            continue;
        /* stat (not d_type): d_type may be DT_UNKNOWN, and a symlink to a
         * plugin is a fine way to enable one. */
        struct stat info;
        if (fstatat(dirfd(stream), dirent->d_name, &info, 0) != 0 || !S_ISREG(info.st_mode))
            continue;
        if (count == capacity) {
            size_t new_capacity = capacity ? capacity * 2 : 16;
            char **grown = realloc(names, new_capacity * sizeof *grown);
            if (grown == NULL) {
                saved_errno = ENOMEM;
                break;
            }
            names = grown;
            capacity = new_capacity;
        }
        if ((names[count] = strdup(dirent->d_name)) == NULL) {
            saved_errno = ENOMEM;
            break;
        }
        count++;
    }
    closedir(stream);
    if (saved_errno != 0) {
        free_strings(names, count);
        errno = saved_errno;
        return -1;
    }
    if (count > 0)
        qsort(names, count, sizeof *names, compare_strings);
    *names_out = names;
    *count_out = count;
    return 0;
}

int plugin_set_load_dir(struct plugin_set *set, const char *dir, struct error_list *errors)
{
    char **names = NULL;
    size_t count = 0;
    if (list_plugin_files(dir, &names, &count) != 0) {
        error_list_add(errors, "%s: cannot read plugin folder: %s", dir, strerror(errno));
        return -1;
    }

    size_t dir_length = strlen(dir);
    const char *separator = dir_length > 0 && dir[dir_length - 1] == '/' ? "" : "/";
    int result = 0;
    for (size_t i = 0; i < count; i++) {
        char *path = NULL;
        char *expected_name = strndup(names[i], strlen(names[i]) - strlen(PLUGIN_SUFFIX));
        if (expected_name == NULL || asprintf(&path, "%s%s%s", dir, separator, names[i]) < 0) {
            error_list_add(errors, "%s%s%s: cannot load: out of memory", dir, separator, names[i]);
            free(expected_name);
            result = -1;
            continue;
        }
        if (load_one(set, path, expected_name, errors) != 0)
            result = -1;
        free(path);
        free(expected_name);
    }
    free_strings(names, count);
    return result;
}
