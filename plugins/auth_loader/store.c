#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define TEMP_SUFFIX_LENGTH 6
#define TEMP_CREATE_ATTEMPTS 100

/* Splits `path` into its folder ("." when there is none) and its last
 * component. Both are written into caller buffers; -1 if they do not fit
 * or the last component is empty ("dir/"). */
static int split_path(const char *path, char *folder, size_t folder_size, char *name,
                      size_t name_size)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (*base == '\0' || strlen(base) >= name_size)
        return -1;
    memcpy(name, base, strlen(base) + 1);
    if (slash == NULL) {
        snprintf(folder, folder_size, ".");
        return 0;
    }
    size_t folder_length = slash == path ? 1 : (size_t)(slash - path); /* "/x" → "/" */
    if (folder_length >= folder_size)
        return -1;
    memcpy(folder, path, folder_length);
    folder[folder_length] = '\0';
    return 0;
}

/* Creates ".NAME.tmp.XXXXXX" beside `path` with O_EXCL, like mkstemp but
 * with mode 0666 (the umask applies) rather than mkstemp's fixed 0600.
 * Fills temp_path; returns the descriptor or -1 with err set. */
static int create_temp_beside(const char *path, char *temp_path, size_t temp_size,
                              struct loader_error *err)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char folder[4096];
    char name[256];
    if (split_path(path, folder, sizeof folder, name, sizeof name) != 0) {
        loader_error_set(err, "%s: not a usable file path", path);
        return -1;
    }
    for (int attempt = 0; attempt < TEMP_CREATE_ATTEMPTS; attempt++) {
        unsigned char random_bytes[TEMP_SUFFIX_LENGTH];
        if (getrandom(random_bytes, sizeof random_bytes, 0) != (ssize_t)sizeof random_bytes) {
            loader_error_set(err, "%s: cannot get random bytes for a temp name: %s", path,
                             strerror(errno));
            return -1;
        }
        char suffix[TEMP_SUFFIX_LENGTH + 1];
        for (int i = 0; i < TEMP_SUFFIX_LENGTH; i++)
            suffix[i] = alphabet[random_bytes[i] % (sizeof alphabet - 1)];
        suffix[TEMP_SUFFIX_LENGTH] = '\0';
        int written = snprintf(temp_path, temp_size, "%s/.%s.tmp.%s", folder, name, suffix);
        if (written < 0 || (size_t)written >= temp_size) {
            loader_error_set(err, "%s: path too long", path);
            return -1;
        }
        int fd = open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST) {
            loader_error_set(err, "cannot create a temp file in %s: %s", folder, strerror(errno));
            return -1;
        }
    }
    loader_error_set(err, "cannot create a temp file in %s: every name tried exists", folder);
    return -1;
}

static int write_all(int fd, const unsigned char *bytes, size_t length)
{
    while (length > 0) {
        ssize_t written = write(fd, bytes, length);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        bytes += written;
        length -= (size_t)written;
    }
    return 0;
}

static int fsync_folder_of(const char *path, struct loader_error *err)
{
    char folder[4096];
    char name[256];
    if (split_path(path, folder, sizeof folder, name, sizeof name) != 0) {
        loader_error_set(err, "%s: not a usable file path", path);
        return -1;
    }
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        loader_error_set(err, "cannot sync folder %s: %s", folder, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int store_save_atomic(const char *path, const void *bytes, size_t length,
                      struct loader_error *err)
{
    return store_save_atomic_then(path, bytes, length, NULL, NULL, err);
}

int store_save_atomic_then(const char *path, const void *bytes, size_t length,
                           int (*before_rename)(void *context, struct loader_error *err),
                           void *context, struct loader_error *err)
{
    char temp_path[4096 + 300];
    int fd = create_temp_beside(path, temp_path, sizeof temp_path, err);
    if (fd < 0)
        return -1;

    struct stat old;
    if (stat(path, &old) == 0 && S_ISREG(old.st_mode) && fchmod(fd, old.st_mode & 07777) != 0) {
        loader_error_set(err, "%s: cannot copy the mode of %s: %s", temp_path, path,
                         strerror(errno));
        goto fail;
    }
    if (write_all(fd, bytes, length) != 0) {
        loader_error_set(err, "cannot write %s: %s", temp_path, strerror(errno));
        goto fail;
    }
    if (fsync(fd) != 0) {
        loader_error_set(err, "cannot sync %s: %s", temp_path, strerror(errno));
        goto fail;
    }
    int close_status = close(fd);
    fd = -1;
    if (close_status != 0) {
        loader_error_set(err, "cannot close %s: %s", temp_path, strerror(errno));
        goto fail;
    }
    if (before_rename != NULL && before_rename(context, err) != 0)
        goto fail;
    if (rename(temp_path, path) != 0) {
        loader_error_set(err, "cannot replace %s: %s", path, strerror(errno));
        goto fail;
    }
    /* From here the new bytes are in place; a failed folder sync only
     * weakens durability, yet we report it so the caller does not claim
     * more than it knows. */
    return fsync_folder_of(path, err);

fail:
    if (fd >= 0)
        close(fd);
    unlink(temp_path);
    return -1;
}

/* ".NAME.tmp." followed by exactly TEMP_SUFFIX_LENGTH name characters. */
static int is_our_temp_name(const char *entry, const char *prefix, size_t prefix_length)
{
    if (strncmp(entry, prefix, prefix_length) != 0)
        return 0;
    const char *suffix = entry + prefix_length;
    if (strlen(suffix) != TEMP_SUFFIX_LENGTH)
        return 0;
    for (const char *c = suffix; *c; c++) {
        int alnum = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
        if (!alnum)
            return 0;
    }
    return 1;
}

int store_remove_stale_temps(const char *path, int *removed, struct loader_error *err)
{
    char folder[4096];
    char name[256];
    if (removed)
        *removed = 0;
    if (split_path(path, folder, sizeof folder, name, sizeof name) != 0) {
        loader_error_set(err, "%s: not a usable file path", path);
        return -1;
    }
    char prefix[300];
    snprintf(prefix, sizeof prefix, ".%s.tmp.", name);
    size_t prefix_length = strlen(prefix);

    DIR *dir = opendir(folder);
    if (dir == NULL) {
        loader_error_set(err, "cannot read folder %s: %s", folder, strerror(errno));
        return -1;
    }
    int status = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (!is_our_temp_name(entry->d_name, prefix, prefix_length))
            continue;
        /* unlinkat on the open folder: no path joining, and a directory
         * that happens to match the pattern is refused (no AT_REMOVEDIR). */
        if (unlinkat(dirfd(dir), entry->d_name, 0) == 0) {
            if (removed)
                (*removed)++;
        } else if (errno != ENOENT) {
            loader_error_set(err, "cannot remove stale %s/%s: %s", folder, entry->d_name,
                             strerror(errno));
            status = -1;
        }
    }
    closedir(dir);
    return status;
}

char *store_meta_path(const char *store_path)
{
    size_t length = strlen(store_path);
    char *meta_path = malloc(length + sizeof ".meta");
    if (meta_path == NULL)
        return NULL;
    memcpy(meta_path, store_path, length);
    memcpy(meta_path + length, ".meta", sizeof ".meta");
    return meta_path;
}

void store_meta_clear(struct store_meta *meta)
{
    free(meta->etag);
    free(meta->last_modified);
    meta->etag = NULL;
    meta->last_modified = NULL;
}

/* Copies the string member `key` of `object` into *out (NULL if absent);
 * -1 when present but not a string, or out of memory. */
static int copy_optional_string(const json_t *object, const char *key, char **out)
{
    const json_t *value = json_object_get(object, key);
    if (value == NULL || json_is_null(value))
        return 0;
    if (!json_is_string(value))
        return -1;
    *out = strdup(json_string_value(value));
    return *out == NULL ? -1 : 0;
}

int store_meta_load(const char *store_path, struct store_meta *meta, struct loader_error *err)
{
    char *meta_path = store_meta_path(store_path);
    if (meta_path == NULL) {
        loader_error_set(err, "out of memory");
        return -1;
    }
    int status = 0;
    json_error_t parse_error;
    json_t *document = json_load_file(meta_path, JSON_REJECT_DUPLICATES, &parse_error);
    if (document == NULL) {
        if (access(meta_path, F_OK) != 0 && errno == ENOENT)
            goto done; /* no validators yet: a plain request */
        loader_error_set(err, "%s: %s (ignored; the next request is unconditional)", meta_path,
                         parse_error.text);
        status = -1;
        goto done;
    }
    if (!json_is_object(document) || copy_optional_string(document, "etag", &meta->etag) != 0 ||
        copy_optional_string(document, "last_modified", &meta->last_modified) != 0) {
        store_meta_clear(meta);
        loader_error_set(err, "%s: expected an object with string \"etag\" and "
                         "\"last_modified\" (ignored; the next request is unconditional)",
                         meta_path);
        status = -1;
    }
    json_decref(document);
done:
    free(meta_path);
    return status;
}

int store_meta_save(const char *store_path, const struct store_meta *meta,
                    struct loader_error *err)
{
    char *meta_path = store_meta_path(store_path);
    if (meta_path == NULL) {
        loader_error_set(err, "out of memory");
        return -1;
    }
    int status = -1;
    if (meta->etag == NULL && meta->last_modified == NULL) {
        if (unlink(meta_path) == 0 || errno == ENOENT)
            status = 0;
        else
            loader_error_set(err, "cannot remove %s: %s", meta_path, strerror(errno));
        free(meta_path);
        return status;
    }
    json_t *document = json_object();
    char *text = NULL;
    if (document == NULL ||
        json_object_set_new(document, "etag", meta->etag ? json_string(meta->etag) : json_null()) ||
        json_object_set_new(document, "last_modified",
                            meta->last_modified ? json_string(meta->last_modified) : json_null()) ||
        (text = json_dumps(document, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
        /* json_string() refuses invalid UTF-8: a header we cannot keep. */
        loader_error_set(err, "%s: cannot encode the validators as JSON", meta_path);
    } else {
        /* json_dumps gives no trailing newline; a text file wants one. */
        size_t length = strlen(text);
        char *line = realloc(text, length + 2);
        if (line == NULL) {
            loader_error_set(err, "out of memory");
        } else {
            text = line;
            memcpy(text + length, "\n", 2);
            status = store_save_atomic(meta_path, text, length + 1, err);
        }
    }
    free(text);
    json_decref(document);
    free(meta_path);
    return status;
}
