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
 *
 * Why in parts. iniparser's dictionary is an array searched from the start
 * for every key it stores or finds, so one dictionary for a file of
 * thousands of child specs costs time in the square of its size (most of
 * `check` with 40,000 specs). A file the scan found clean is given to
 * iniparser a few sections at a time instead, each part its own small
 * dictionary, cut where a section's header line starts: nothing iniparser
 * carries from line to line (the current section, a continued line)
 * crosses such a cut, so each section reads the same values as from the
 * whole. A file the scan reported anything in (a repeated section, whose
 * keys iniparser merges; a line it cannot sort) is read whole, as are
 * files whose parts iniparser refuses: what it says then, and which
 * values it gives, stay exactly those of the whole file.
 */
#include "config_values.h"
#include "file_kind.h"

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
           file_kind_name(mode));
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
            if (i < used && buffer[i] == '\0') { /* iniparser would call it a long line */
                refuse(problems, path, line, "a NUL byte (column %zu): config files are text",
                       i - line_start + 1);
                result = -1;
            }
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

/* A memfd that iniparser reads by its /proc/self/fd name, rewritten for
 * each part. */
struct parse_target {
    int fd;
    char name[64];
};

static int parse_target_open(struct parse_target *target)
{
    target->fd = memfd_create("dynsup-config", MFD_CLOEXEC);
    if (target->fd < 0) {
        snprintf(iniparser_messages, sizeof iniparser_messages, "memfd_create: %s", strerror(errno));
        return -1;
    }
    snprintf(target->name, sizeof target->name, "/proc/self/fd/%d", target->fd);
    return 0;
}

/* iniparser_load on the memfd holding just `bytes`; its complaints, if
 * any, in iniparser_messages. NULL when it refused them. */
static dictionary *parse_bytes(const struct parse_target *target, const char *bytes, size_t length)
{
    if (ftruncate(target->fd, 0) != 0) {
        snprintf(iniparser_messages, sizeof iniparser_messages, "emptying a memfd: %s",
                 strerror(errno));
        return NULL;
    }
    for (size_t written = 0; written < length;) {
        ssize_t n = pwrite(target->fd, bytes + written, length - written, (off_t)written);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(iniparser_messages, sizeof iniparser_messages, "writing a memfd: %s",
                     strerror(errno));
            return NULL;
        }
        written += (size_t)n;
    }
    iniparser_set_error_callback(collect_iniparser_message);
    dictionary *dict = iniparser_load(target->name);
    iniparser_set_error_callback(NULL); /* back to iniparser's default */
    return dict;
}

static void free_parts(struct ini_file *file)
{
    for (size_t i = 0; i < file->part_count; i++)
        iniparser_freedict(file->parts[i]);
    free(file->parts);
    file->parts = NULL;
    file->part_count = 0;
}

/* 256: a part's dictionary stays small enough that iniparser's searches
 * in it cost next to nothing, and a file of 1,000 specs is a few dozen
 * loads. */
size_t config_file_part_max_entries = 256;

/* The file in parts, each section's part noted in the layout. Returns -1
 * (parts freed) if iniparser refused one, or memory ran out. */
static int parse_in_parts(const struct parse_target *target, const char *bytes, size_t length,
                          struct ini_file *file)
{
    struct ini_layout *layout = &file->layout;
    size_t capacity = layout->count / 8 + 1;
    file->parts = malloc(capacity * sizeof *file->parts);
    if (file->parts == NULL)
        return -1;
    size_t first = 0; /* the first section of the part */
    while (first < layout->count) {
        size_t end = first, entries = 0;
        do {
            entries += 1 + layout->sections[end].key_count;
            end++;
        } while (end < layout->count &&
                 entries + 1 + layout->sections[end].key_count <= config_file_part_max_entries);
        /* The first part starts at the file's start (comments before the
         * first section), the last ends at its end. */
        size_t from = file->part_count == 0 ? 0 : layout->sections[first].offset;
        size_t to = end < layout->count ? layout->sections[end].offset : length;
        if (file->part_count == capacity) {
            capacity *= 2;
            dictionary **grown = realloc(file->parts, capacity * sizeof *grown);
            if (grown == NULL) {
                free_parts(file);
                return -1;
            }
            file->parts = grown;
        }
        dictionary *dict = parse_bytes(target, bytes + from, to - from);
        if (dict == NULL) {
            free_parts(file);
            return -1;
        }
        file->parts[file->part_count] = dict;
        for (size_t i = first; i < end; i++)
            layout->sections[i].part = file->part_count;
        file->part_count++;
        first = end;
    }
    return 0;
}

/* The whole file as one dictionary; NULL parts when iniparser refused it
 * (its words in iniparser_messages). */
static void parse_whole(const struct parse_target *target, const char *bytes, size_t length,
                        struct ini_file *file)
{
    iniparser_messages[0] = '\0';
    dictionary *dict = parse_bytes(target, bytes, length);
    file->parts = dict != NULL ? malloc(sizeof *file->parts) : NULL;
    if (file->parts == NULL) {
        if (dict != NULL) {
            iniparser_freedict(dict);
            snprintf(iniparser_messages, sizeof iniparser_messages, "out of memory");
        }
        return;
    }
    file->parts[0] = dict;
    file->part_count = 1;
    for (size_t i = 0; i < file->layout.count; i++)
        file->layout.sections[i].part = 0;
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

/* iniparser keeps one flat list of names: a section's entry is its name,
 * a key's is "section:key". So [host:socket] and the socket key of [host]
 * are one entry in a dictionary of the whole file and two in two parts. A
 * file where a section's name before its ':' names another section is read
 * whole, as before. (Only clean files come here: their names are lowercase
 * with at most one ':', the layout scan reports any other.) */
static bool names_could_meet(const struct ini_layout *layout)
{
    for (size_t i = 0; i < layout->count; i++) {
        const char *name = layout->sections[i].name;
        const char *colon = strchr(name, ':');
        if (colon == NULL)
            continue;
        char prefix[256];
        size_t length = (size_t)(colon - name);
        if (length >= sizeof prefix)
            return true;
        memcpy(prefix, name, length);
        prefix[length] = '\0';
        if (hashmap_get_string(&layout->by_name, prefix) != NULL)
            return true;
    }
    return false;
}

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
    /* iniparser refuses a file with a line it cannot sort (it returns no
     * values at all), and the scan has reported those lines already: not
     * asking it saves a second, slower pass (its sscanf calls, and its
     * complaint formatted for every such line) over what may be a whole
     * mebibyte of junk. */
    if (file->layout.syntax_errors > 0) {
        free(bytes);
        return 0;
    }
    struct parse_target target = {.fd = -1, .name = ""};
    bool in_parts = file->layout.problems == 0 && file->layout.count > 1 &&
                    config_file_part_max_entries > 0 && !names_could_meet(&file->layout);
    if (parse_target_open(&target) == 0 &&
        (!in_parts || parse_in_parts(&target, bytes, length, file) != 0))
        parse_whole(&target, bytes, length, file);
    if (target.fd >= 0)
        close(target.fd);
    free(bytes);
    /* The scan has reported the lines iniparser refuses; anything else it
     * objects to (an over-long line, say) is passed on in its words. */
    if (file->parts == NULL && file->layout.syntax_errors == 0) {
        rename_in_messages(target.name, path);
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
    free_parts(file);
    ini_layout_free(&file->layout);
    free(file->base_dir);
    *file = (struct ini_file){0};
}
