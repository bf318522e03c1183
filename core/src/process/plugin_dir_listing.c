/*
 * Which files of the plugin folder are plugins: the names of its regular
 * files ending in .so, sorted, so the load order (and the order of
 * errors) does not depend on the file system. Anything else named like a
 * plugin (a FIFO, a folder, a symlink to a device or to nothing) is
 * refused as loudly as a broken plugin: operators drop plugins there.
 */
#include "plugin_dir_listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_kind.h"
#include "plugin_loader.h"

bool plugin_file_name_has_suffix(const char *file_name)
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

void plugin_names_free(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int plugin_files_list(int dir_fd, const char *dir, char ***names_out, size_t *count_out,
                      size_t *refused, struct error_list *errors)
{
    *refused = 0;
    int stream_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    DIR *stream = stream_fd < 0 ? NULL : fdopendir(stream_fd);
    if (stream == NULL) {
        int saved = errno;
        if (stream_fd >= 0)
            close(stream_fd);
        errno = saved;
        return -1;
    }

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
        if (!plugin_file_name_has_suffix(dirent->d_name))
            continue;
        /* stat (not d_type): d_type may be DT_UNKNOWN, and a symlink to a
         * plugin is a fine way to enable one. */
        struct stat info;
        if (fstatat(dirfd(stream), dirent->d_name, &info, 0) != 0) {
            int error = errno;
            struct stat link;
            if (error == ENOENT &&
                fstatat(dirfd(stream), dirent->d_name, &link, AT_SYMLINK_NOFOLLOW) != 0)
                continue; /* removed since readdir (a deploy's rm + cp): not there */
            (*refused)++;
            if (error == ENOENT)
                error_list_add(errors, "%s/%s: refused: a symlink to nothing", dir, dirent->d_name);
            else
                error_list_add(errors, "%s/%s: cannot check: %s", dir, dirent->d_name,
                               strerror(error));
            continue;
        }
        if (!S_ISREG(info.st_mode)) {
            (*refused)++;
            error_list_add(errors, "%s/%s: refused: not a regular file but %s", dir,
                           dirent->d_name, file_kind_name(info.st_mode));
            continue;
        }
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
        plugin_names_free(names, count);
        errno = saved_errno;
        return -1;
    }
    if (count > 0)
        qsort(names, count, sizeof *names, compare_strings);
    *names_out = names;
    *count_out = count;
    return 0;
}
