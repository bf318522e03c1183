/*
 * Plugin loading: scan a folder, dlopen each *.so, check its descriptor.
 *
 * A refused plugin is dlclosed at once, so nothing of it stays mapped; the
 * caller only ever sees descriptors that passed plugin_validate. A plugin
 * that fails the trust checks (plugin_loader.h) is never even dlopen'ed:
 * its constructors would run before any descriptor check could refuse it.
 */
#include "plugin_loader.h"
#include "plugin_copy.h"
#include "plugin_dir_listing.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest descriptor string quoted in a refusal; a plugin is foreign code
 * and its "name" may be anything, so messages stay one short line. */
#define QUOTED_MAX 64

static void unload(void *handle, int fd);

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
        unload(entry->handle, entry->fd);
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

/* A version travels in the load report and in log and status lines: no
 * control characters (a tab or newline there would forge report fields). */
static bool is_printable_version(const char *version)
{
    size_t length = strlen(version);
    if (length == 0 || length > 64)
        return false;
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)version[i] < 0x20 || version[i] == 0x7f)
            return false;
    return true;
}

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
    } else if (!is_printable_version(plugin->version)) {
        quote_for_message(plugin->version, quoted, sizeof quoted);
        error_list_add(errors, "%s: version: expected 1 to 64 printable characters, found %s", file,
                       quoted);
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

/* "/proc/self/fd/N": the name a checked descriptor is dlopen'ed by. */
#define FD_PATH_SIZE 32
static void descriptor_path(int fd, char out[FD_PATH_SIZE])
{
    snprintf(out, FD_PATH_SIZE, "/proc/self/fd/%d", fd);
}

/* Adds "PATH: what: TEXT" with the loader's text, where the loader named
 * the object by its /proc/self/fd name: the user should read the file. */
static void add_dl_error(struct error_list *errors, const char *path, const char *what,
                         const char *text, int fd)
{
    char fd_path[FD_PATH_SIZE];
    descriptor_path(fd, fd_path);
    size_t fd_path_length = strlen(fd_path);
    const char *found = strstr(text, fd_path);
    if (found && (found[fd_path_length] < '0' || found[fd_path_length] > '9'))
        error_list_add(errors, "%s: %s: %.*s%s%s", path, what, (int)(found - text), text, path,
                       found + fd_path_length);
    else
        error_list_add(errors, "%s: %s: %s", path, what, text);
}

/* Unloads a handle opened through `fd`, then closes fd, unless the library
 * stays mapped (a DF_1_NODELETE one): glibc finds an already loaded
 * library by name before anything else, so while a library named
 * /proc/self/fd/N is mapped, fd N must stay ours or the next plugin opened
 * as fd N would silently get the old library. */
static void unload(void *handle, int fd)
{
    dlclose(handle);
    char fd_path[FD_PATH_SIZE];
    descriptor_path(fd, fd_path);
    void *still_mapped = dlopen(fd_path, RTLD_LAZY | RTLD_NOLOAD);
    if (still_mapped != NULL) {
        dlclose(still_mapped);
        return;
    }
    close(fd);
}

/* The real path of what fd designates, as the kernel knows it (no symlink
 * left in it). Returns 0, or -1 with errno set. */
static int descriptor_real_path(int fd, char *out, size_t out_size)
{
    char fd_path[FD_PATH_SIZE];
    descriptor_path(fd, fd_path);
    ssize_t length = readlink(fd_path, out, out_size - 1);
    if (length < 0)
        return -1;
    if ((size_t)length >= out_size - 1) {
        errno = ENAMETOOLONG;
        return -1;
    }
    out[length] = '\0';
    return 0;
}

static bool is_below(const char *path, const char *folder)
{
    size_t length = strlen(folder);
    return strncmp(path, folder, length) == 0 && path[length] == '/';
}

/* A symlink may lead into a subfolder of the plugin folder: every folder
 * from the file's up to (not including) the plugin folder must be as
 * trustworthy as the plugin folder itself. */
static int check_subfolders(const char *path, const char *real_file, const char *real_dir,
                            struct error_list *errors)
{
    char folder[PATH_MAX];
    snprintf(folder, sizeof folder, "%s", real_file);
    for (;;) {
        char *slash = strrchr(folder, '/');
        if (slash == NULL)
            return 0;
        *slash = '\0';
        if (strlen(folder) <= strlen(real_dir))
            return 0;
        struct stat info;
        char reason[160];
        if (stat(folder, &info) != 0) {
            error_list_add(errors, "%s: refused: cannot check folder %s: %s", path, folder, strerror(errno));
            return -1;
        }
        if (trust_refusal(&info, "plugin folders", reason, sizeof reason)) {
            error_list_add(errors, "%s: refused: its folder %s is %s", path, folder, reason);
            return -1;
        }
    }
}

/* Opens plugin `name` of the folder open as dir_fd (real path real_dir)
 * and checks the file it opened. Returns the descriptor, or -1 with the
 * reason in errors.
 *
 * The checks look at the opened descriptor (fstat, and /proc's name for
 * it), and the caller dlopens that same descriptor through
 * /proc/self/fd/N: checking a path and then dlopening the path would let
 * someone swap the file in between and have an unchecked one loaded. */
static int open_trusted_plugin(int dir_fd, const char *real_dir, const char *name,
                               const char *path, struct error_list *errors)
{
    struct stat link_info;
    bool is_symlink = fstatat(dir_fd, name, &link_info, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISLNK(link_info.st_mode);
    /* O_NONBLOCK: should a FIFO take the file's place, open must not hang. */
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        error_list_add(errors, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char real_file[PATH_MAX];
    struct stat info;
    char reason[160];
    if (descriptor_real_path(fd, real_file, sizeof real_file) != 0) {
        error_list_add(errors, "%s: cannot tell where it leads (is /proc mounted?): %s", path,
                       strerror(errno));
    } else if (!is_below(real_file, real_dir)) {
        error_list_add(errors, "%s: refused: %s %s, outside the plugin folder", path,
                       is_symlink ? "symlink to" : "resolves to", real_file);
    } else if (check_subfolders(path, real_file, real_dir, errors) != 0) {
        /* reported */
    } else if (fstat(fd, &info) != 0) {
        error_list_add(errors, "%s: cannot check: %s", path, strerror(errno));
    } else if (!S_ISREG(info.st_mode)) {
        error_list_add(errors, "%s: refused: not a regular file", path);
    } else if (trust_refusal(&info, "plugins", reason, sizeof reason)) {
        error_list_add(errors, "%s: refused: %s", path, reason);
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

/* dlopens the private copy fd (of the file `path`), checks the
 * descriptor and on success adds it to set, which then owns fd. Returns 0,
 * or -1 with the reason in errors (nothing left loaded, fd closed). */
static int load_copy(struct plugin_set *set, int fd, const char *path, const char *expected_name,
                     struct error_list *errors)
{
    char fd_path[FD_PATH_SIZE];
    descriptor_path(fd, fd_path);
    void *handle = dlopen(fd_path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        add_dl_error(errors, path, "cannot load", last_dl_error(), fd);
        close(fd);
        return -1;
    }

    /* The symbol's address could in theory be NULL, so the error is told
     * apart from the value by clearing and re-reading dlerror(). */
    dlerror();
    const struct dynsup_plugin *plugin = dlsym(handle, DYNSUP_PLUGIN_SYMBOL);
    const char *symbol_error = dlerror();
    if (plugin == NULL) {
        char what[64];
        snprintf(what, sizeof what, "no symbol %s", DYNSUP_PLUGIN_SYMBOL);
        add_dl_error(errors, path, what, symbol_error ? symbol_error : "its address is NULL", fd);
        unload(handle, fd);
        return -1;
    }

    if (plugin_validate(plugin, path, expected_name, errors) != 0) {
        unload(handle, fd);
        return -1;
    }

    struct loaded_plugin entry = {
        .name = strdup(plugin->name),
        .version = strdup(plugin->version),
        .file = strdup(path),
        .handle = handle,
        .fd = fd,
        .plugin = plugin,
    };
    if (entry.name == NULL || entry.version == NULL || entry.file == NULL ||
        append_plugin(set, &entry) != 0) {
        error_list_add(errors, "%s: cannot load: out of memory", path);
        free(entry.name);
        free(entry.version);
        free(entry.file);
        unload(handle, fd);
        return -1;
    }
    return 0;
}

/* Opens the plugin folder and checks it. Returns its descriptor with its
 * real path in real_dir, or -1 with the reason in errors. */
static int open_trusted_folder(const char *dir, char *real_dir, size_t real_dir_size,
                               struct error_list *errors)
{
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        error_list_add(errors, "%s: cannot read plugin folder: %s", dir, strerror(errno));
        return -1;
    }
    struct stat info;
    char reason[160];
    if (fstat(dir_fd, &info) != 0 || descriptor_real_path(dir_fd, real_dir, real_dir_size) != 0)
        error_list_add(errors, "%s: cannot check plugin folder: %s", dir, strerror(errno));
    else if (trust_refusal(&info, "plugin folders", reason, sizeof reason))
        error_list_add(errors, "%s: refused: plugin folder %s", dir, reason);
    else
        return dir_fd;
    close(dir_fd);
    return -1;
}

int plugin_dir_list(const char *dir, char ***names, size_t *count, struct error_list *errors)
{
    char real_dir[PATH_MAX];
    int dir_fd = open_trusted_folder(dir, real_dir, sizeof real_dir, errors);
    if (dir_fd < 0)
        return -1;
    size_t refused;
    int result = plugin_files_list(dir_fd, dir, names, count, &refused, errors);
    if (result == 0 && refused > 0) { /* said why: load none */
        plugin_names_free(*names, *count);
        *names = NULL;
        *count = 0;
        close(dir_fd);
        return -1;
    }
    if (result != 0)
        error_list_add(errors, "%s: cannot read plugin folder: %s", dir, strerror(errno));
    close(dir_fd);
    return result;
}

/* Loads file_name of the folder open as dir_fd (real path real_dir). */
/* The file's path and the plugin name it must hold; -1 (said) if it is
 * not a .so file or out of memory. The caller frees both. */
static int name_file(const char *dir, const char *file_name, char **path, char **expected_name,
                     struct error_list *errors)
{
    size_t dir_length = strlen(dir);
    const char *separator = dir_length > 0 && dir[dir_length - 1] == '/' ? "" : "/";
    *path = NULL;
    *expected_name = plugin_file_name_has_suffix(file_name)
                         ? strndup(file_name, strlen(file_name) - strlen(PLUGIN_SUFFIX))
                         : NULL;
    if (*expected_name == NULL || asprintf(path, "%s%s%s", dir, separator, file_name) < 0) {
        error_list_add(errors, "%s%s%s: cannot load: %s", dir, separator, file_name,
                       *expected_name ? "out of memory" : "not a " PLUGIN_SUFFIX " file");
        free(*expected_name);
        *path = *expected_name = NULL;
        return -1;
    }
    return 0;
}

static int load_from(struct plugin_set *set, int dir_fd, const char *real_dir, const char *dir,
                     const char *file_name, struct error_list *errors)
{
    char *path, *expected_name;
    if (name_file(dir, file_name, &path, &expected_name, errors) != 0)
        return -1;
    int fd = open_trusted_plugin(dir_fd, real_dir, file_name, path, errors);
    if (fd >= 0)
        fd = plugin_private_copy(fd, path, expected_name, errors);
    int result = fd < 0 || load_copy(set, fd, path, expected_name, errors) != 0 ? -1 : 0;
    free(path);
    free(expected_name);
    return result;
}

int plugin_set_load_copy(struct plugin_set *set, const char *dir, const char *file_name,
                         int copy_fd, struct error_list *errors)
{
    char *path, *expected_name;
    if (name_file(dir, file_name, &path, &expected_name, errors) != 0) {
        close(copy_fd);
        return -1;
    }
    int result = load_copy(set, copy_fd, path, expected_name, errors);
    free(path);
    free(expected_name);
    return result;
}

/* The plugin folder, opened and checked, its real path in real_dir ("" for
 * "/": its files are "/x.so"). Returns its descriptor or -1 (said). */
static int open_plugin_folder(const char *dir, char real_dir[PATH_MAX], struct error_list *errors)
{
    int dir_fd = open_trusted_folder(dir, real_dir, PATH_MAX, errors);
    if (dir_fd >= 0 && strcmp(real_dir, "/") == 0)
        real_dir[0] = '\0';
    return dir_fd;
}

/* The folder is opened and checked again for each file: its checks must
 * hold when the file is loaded, which may be a moment after the listing. */
int plugin_set_load_file(struct plugin_set *set, const char *dir, const char *file_name,
                         struct error_list *errors)
{
    char real_dir[PATH_MAX];
    int dir_fd = open_plugin_folder(dir, real_dir, errors);
    if (dir_fd < 0)
        return -1;
    int result = load_from(set, dir_fd, real_dir, dir, file_name, errors);
    close(dir_fd);
    return result;
}

int plugin_set_load_dir(struct plugin_set *set, const char *dir, struct error_list *errors)
{
    char real_dir[PATH_MAX];
    int dir_fd = open_plugin_folder(dir, real_dir, errors);
    if (dir_fd < 0)
        return -1;

    char **names = NULL;
    size_t count = 0;
    size_t refused;
    if (plugin_files_list(dir_fd, dir, &names, &count, &refused, errors) != 0) {
        error_list_add(errors, "%s: cannot read plugin folder: %s", dir, strerror(errno));
        close(dir_fd);
        return -1;
    }
    int result = refused > 0 ? -1 : 0;
    for (size_t i = 0; i < count; i++)
        if (load_from(set, dir_fd, real_dir, dir, names[i], errors) != 0)
            result = -1;
    plugin_names_free(names, count);
    close(dir_fd);
    return result;
}
