/*
 * One config file, read both ways (declared in config_values.h): checked
 * and copied into memory first, then its layout scanned (ini_layout.c)
 * and its values parsed by iniparser, both from that one copy.
 *
 * Why a copy. The host file and every *.ini of children_dir are opened by
 * `check`, `run` and every client command (for the socket path), so a file
 * there that blocks (a FIFO nobody writes) or never ends (/dev/zero, a file
 * without a newline that grows) would hang or bloat all of them. So a
 * config file must be a regular file (a symlink to one is fine: Kubernetes
 * mounts ConfigMaps so), it is opened with O_NONBLOCK (opening a FIFO then
 * returns at once) and checked with fstat on the opened descriptor, and it
 * may hold at most CONFIG_FILE_MAX_BYTES, no line over
 * CONFIG_LINE_MAX_BYTES.
 *
 * Why iniparser reads a memfd. iniparser 4.1 (Debian 12) only loads by
 * path (iniparser_load; no FILE* or buffer entry point). Handing it the
 * checked path again would race: the file could be swapped for a FIFO in
 * between and block it. The validated bytes go to a memfd instead, and
 * iniparser opens that by its /proc/self/fd name (as the plugin loader
 * does for dlopen): it reads exactly the bytes the layout scan read, and
 * nothing that can block.
 */
#include "config_values.h"

#include <errno.h>
#include <fcntl.h>
#include <iniparser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the checked copy --------------------------------------------------- */

static const char *file_type_name(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISDIR(mode))
        return "a folder";
    return "not a file";
}

static void __attribute__((format(printf, 4, 5)))
refuse(struct config_problems *problems, const char *path, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_vreport(problems, path, line, NULL, NULL, fmt, ap);
    va_end(ap);
}

static int refuse_type(struct config_problems *problems, const char *path, mode_t mode)
{
    refuse(problems, path, 0,
           "not a regular file (%s); config files must be regular files (a symlink to one is fine)",
           file_type_name(mode));
    return -1;
}

/* The whole file into *bytes (malloc'd, NUL-terminated; NULs inside are
 * kept and counted in *length). Returns -1 (reported) when it is not a
 * regular file, cannot be read, or breaks a limit. */
static int read_checked_copy(const char *path, char **bytes, size_t *length,
                             struct config_problems *problems)
{
    /* stat first, so that a device is never even opened (opening some has
     * effects); then fstat the descriptor, which is what counts: the path
     * may have changed in between. */
    struct stat info;
    if (stat(path, &info) != 0) {
        refuse(problems, path, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(info.st_mode))
        return refuse_type(problems, path, info.st_mode);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        refuse(problems, path, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        return refuse_type(problems, path, info.st_mode);
    }
    /* Read one byte past the limit: a file that grew since fstat is
     * caught as well as one that was too big from the start. */
    size_t capacity = (size_t)info.st_size < CONFIG_FILE_MAX_BYTES ? (size_t)info.st_size + 1
                                                                     : CONFIG_FILE_MAX_BYTES + 1;
    char *buffer = malloc(capacity + 1);
    size_t used = 0;
    int read_errno = 0;
    while (buffer != NULL && used < CONFIG_FILE_MAX_BYTES + 1) {
        if (used == capacity) {
            size_t grown_capacity = capacity * 2 < CONFIG_FILE_MAX_BYTES + 1 ? capacity * 2
                                                                            : CONFIG_FILE_MAX_BYTES + 1;
            char *grown = realloc(buffer, grown_capacity + 1);
            if (grown == NULL) {
                free(buffer);
                buffer = NULL;
                break;
            }
            buffer = grown;
            capacity = grown_capacity;
        }
        ssize_t got = read(fd, buffer + used, capacity - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            read_errno = errno;
        if (got <= 0)
            break;
        used += (size_t)got;
    }
    close(fd);
    if (buffer == NULL) {
        refuse(problems, path, 0, "out of memory");
        return -1;
    }
    int result = -1;
    if (read_errno != 0) {
        refuse(problems, path, 0, "cannot read: %s", strerror(read_errno));
    } else if (used > CONFIG_FILE_MAX_BYTES) {
        refuse(problems, path, 0, "%lld bytes, more than a config file may hold (%d)",
               (long long)(info.st_size > (off_t)used ? info.st_size : (off_t)used),
               CONFIG_FILE_MAX_BYTES);
    } else {
        result = 0;
        int line = 1;
        size_t line_start = 0;
        for (size_t i = 0; i <= used && result == 0; i++) {
            if (i < used && buffer[i] != '\n')
                continue;
            if (i - line_start > CONFIG_LINE_MAX_BYTES) {
                refuse(problems, path, line, "line longer than %d bytes", CONFIG_LINE_MAX_BYTES);
                result = -1;
            }
            line++;
            line_start = i + 1;
        }
    }
    if (result != 0) {
        free(buffer);
        return -1;
    }
    buffer[used] = '\0';
    *bytes = buffer;
    *length = used;
    return 0;
}

/* ---- iniparser on the copy ---------------------------------------------- */

/* iniparser reports through a global callback without a context pointer,
 * so its words are collected here while one file loads (config loading
 * is single-threaded). */
static char iniparser_messages[1024];

static int collect_iniparser_message(const char *fmt, ...)
{
    size_t used = strlen(iniparser_messages);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(iniparser_messages + used, sizeof iniparser_messages - used, fmt, ap);
    va_end(ap);
    return 0;
}

/* iniparser_load on a memfd holding `bytes`; its complaints, if any, in
 * iniparser_messages. NULL when it refused the file (or no memfd). */
static dictionary *parse_copy(const char *bytes, size_t length, char *memfd_name,
                              size_t memfd_name_size)
{
    int fd = memfd_create("dynsup-config", MFD_CLOEXEC);
    if (fd < 0) {
        snprintf(iniparser_messages, sizeof iniparser_messages, "memfd_create: %s", strerror(errno));
        return NULL;
    }
    for (size_t written = 0; written < length;) {
        ssize_t n = write(fd, bytes + written, length - written);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(iniparser_messages, sizeof iniparser_messages, "writing a memfd: %s",
                     strerror(errno));
            close(fd);
            return NULL;
        }
        written += (size_t)n;
    }
    snprintf(memfd_name, memfd_name_size, "/proc/self/fd/%d", fd);
    iniparser_set_error_callback(collect_iniparser_message);
    dictionary *dict = iniparser_load(memfd_name);
    iniparser_set_error_callback(NULL); /* back to iniparser's default */
    close(fd);
    return dict;
}

/* iniparser names the file it was given, our memfd; say the real name. */
static void rename_in_messages(const char *memfd_name, const char *path)
{
    char renamed[sizeof iniparser_messages];
    size_t used = 0;
    size_t memfd_length = strlen(memfd_name);
    for (const char *c = iniparser_messages; *c != '\0' && used + 1 < sizeof renamed;) {
        if (memfd_length > 0 && strncmp(c, memfd_name, memfd_length) == 0) {
            used += (size_t)snprintf(renamed + used, sizeof renamed - used, "%s", path);
            used = used < sizeof renamed ? used : sizeof renamed - 1;
            c += memfd_length;
        } else {
            renamed[used++] = *c++;
        }
    }
    renamed[used] = '\0';
    memcpy(iniparser_messages, renamed, used + 1);
}

/* ---- one file ------------------------------------------------------------ */

int ini_file_open(const char *path, struct ini_file *file, struct config_problems *problems)
{
    *file = (struct ini_file){.path = path};
    char *bytes;
    size_t length;
    if (read_checked_copy(path, &bytes, &length, problems) != 0)
        return -1;
    ini_layout_scan(path, bytes, length, &file->layout, problems);
    file->base_dir = config_path_dirname(path);
    if (file->base_dir == NULL) {
        config_report(problems, path, 0, NULL, NULL, "out of memory");
        free(bytes);
        return -1;
    }
    iniparser_messages[0] = '\0';
    char memfd_name[64] = "";
    file->dict = parse_copy(bytes, length, memfd_name, sizeof memfd_name);
    free(bytes);
    /* The scan has reported the lines iniparser refuses; anything else it
     * objects to (an over-long line, say) is passed on in its words. */
    if (file->dict == NULL && file->layout.syntax_errors == 0) {
        rename_in_messages(memfd_name, path);
        for (char *c = iniparser_messages; *c != '\0'; c++)
            if (*c == '\n')
                *c = ' ';
        config_report(problems, path, 0, NULL, NULL, "the INI reader refused the file: %s",
                      config_trim(iniparser_messages));
    }
    return 0;
}

void ini_file_close(struct ini_file *file)
{
    if (file->dict != NULL)
        iniparser_freedict(file->dict);
    ini_layout_free(&file->layout);
    free(file->base_dir);
    *file = (struct ini_file){0};
}
