/*
 * Fuzz target: the INI config loader (config_load) and the shell-like word
 * splitter (words_split) behind `args` and `extra_arguments`.
 *
 * config_load reads real files, so the input is cut into up to three
 * files at lines holding only "%%":
 *
 *     host file  \n%%\n  children.d/a.ini  \n%%\n  children.d/b.ini
 *
 * They live in one temporary folder made once per process and rewritten
 * for every input (a file the input does not have is removed), which keeps
 * a run at thousands of inputs per second. The folder goes away at exit.
 *
 * The loader gives iniparser a file a few sections at a time
 * (config_file.c, "Why in parts"). Here it cuts before every section, the
 * most cuts there can be, and the result must be exactly that of the whole
 * file as one piece: the same errors in the same words, the same config.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_diff.h"
#include "config_values.h"
#include "fuzz_target.h"

#define FILE_SEPARATOR "\n%%\n"
#define CHILD_FILE_COUNT 2

static char *work_dir;
static char *host_path;
static char *children_dir;
static char *child_paths[CHILD_FILE_COUNT];

static void remove_work_dir(void)
{
    for (int i = 0; i < CHILD_FILE_COUNT; i++)
        unlink(child_paths[i]);
    rmdir(children_dir);
    unlink(host_path);
    rmdir(work_dir);
}

static char *path_in(const char *dir, const char *name)
{
    char *path;
    fuzz_check(asprintf(&path, "%s/%s", dir, name) >= 0);
    return path;
}

static void make_work_dir_once(void)
{
    if (work_dir != NULL)
        return;
    /* A RAM-backed folder (Linux's /dev/shm) more than doubles the inputs
     * per second; $TMPDIR, when set, wins. */
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
    char *template = path_in(tmp, "dynsup-fuzz-config.XXXXXX");
    work_dir = mkdtemp(template);
    if (work_dir == NULL) {
        fprintf(stderr, "fuzz_config: cannot make a temporary folder %s: %s\n", template,
                strerror(errno));
        abort();
    }
    host_path = path_in(work_dir, "dynsup.ini");
    children_dir = path_in(work_dir, "children.d");
    child_paths[0] = path_in(children_dir, "a.ini");
    child_paths[1] = path_in(children_dir, "b.ini");
    fuzz_check(mkdir(children_dir, 0700) == 0);
    atexit(remove_work_dir);
}

/* Writes `size` bytes to `path`, or removes the file when `data` is NULL. */
static void write_or_remove(const char *path, const uint8_t *data, size_t size)
{
    if (data == NULL) {
        fuzz_check(unlink(path) == 0 || errno == ENOENT);
        return;
    }
    FILE *out = fopen(path, "wb");
    fuzz_check(out != NULL);
    fuzz_check(size == 0 || fwrite(data, 1, size, out) == size);
    fuzz_check(fclose(out) == 0);
}

static void write_config_files(const uint8_t *data, size_t size)
{
    const uint8_t *starts[1 + CHILD_FILE_COUNT] = {data, NULL, NULL};
    size_t sizes[1 + CHILD_FILE_COUNT] = {size, 0, 0};
    size_t separator_length = strlen(FILE_SEPARATOR);
    for (int i = 1; i <= CHILD_FILE_COUNT; i++) {
        const uint8_t *separator = memmem(starts[i - 1], sizes[i - 1], FILE_SEPARATOR, separator_length);
        if (separator == NULL)
            break;
        starts[i] = separator + separator_length;
        sizes[i] = sizes[i - 1] - (size_t)(starts[i] - starts[i - 1]);
        sizes[i - 1] = (size_t)(separator - starts[i - 1]) + 1; /* keep the '\n' */
    }
    write_or_remove(host_path, starts[0], sizes[0]);
    for (int i = 0; i < CHILD_FILE_COUNT; i++)
        write_or_remove(child_paths[i], starts[i + 1], sizes[i + 1]);
}

/* What a successful load promises its users (the host, `check`). */
static void check_valid_config(const struct config *cfg)
{
    fuzz_check(cfg->plugin_dir != NULL && cfg->socket_path != NULL);
    fuzz_check(cfg->allow_users != NULL && cfg->allow_users[cfg->allow_user_count] == NULL);
    for (size_t i = 0; i < cfg->supervisor_count; i++) {
        const struct supervisor_spec *spec = &cfg->supervisors[i];
        fuzz_check(config_find_supervisor(cfg, spec->name) == spec);
        fuzz_check(spec->extra_args != NULL && spec->extra_args[spec->extra_argc] == NULL);
        for (int k = 0; k < spec->autostart_count; k++)
            fuzz_check(config_find_child(cfg, spec->autostart[k]) != NULL);
    }
    for (size_t i = 0; i < cfg->child_count; i++) {
        const struct child_spec *spec = &cfg->children[i];
        fuzz_check(config_find_child(cfg, spec->id) == spec);
        fuzz_check(spec->plugin != NULL);
        fuzz_check(spec->args != NULL && spec->args[spec->argc] == NULL);
    }
    for (size_t i = 0; i < cfg->event_count; i++) {
        const struct event_spec *spec = &cfg->events[i];
        fuzz_check(config_find_event(cfg, spec->name) == spec);
        fuzz_check(config_find_supervisor(cfg, spec->supervisor) != NULL);
        fuzz_check(config_find_child(cfg, spec->child) != NULL);
    }
}

/* A reload's difference (config_diff): the config against a fresh load of
 * the same files is no change at all; against an empty config every
 * supervisor, child and event is "added", each exactly once. */
static void check_reload_difference(const struct config *cfg)
{
    struct config again;
    struct error_list errors;
    struct change_list changes;
    error_list_init(&errors);
    change_list_init(&changes);
    fuzz_check(config_load(host_path, &again, &errors) == 0);
    config_diff(cfg, &again, &changes, &errors);
    fuzz_check(changes.count == 0 && errors.count == 0);
    config_free(&again);

    struct config empty;
    memset(&empty, 0, sizeof empty);
    empty.path = cfg->path;
    empty.plugin_dir = cfg->plugin_dir;
    empty.children_dir = cfg->children_dir;
    empty.socket_path = cfg->socket_path;
    empty.allow_users = cfg->allow_users;
    empty.allow_user_count = cfg->allow_user_count;
    empty.allow_group = cfg->allow_group;
    empty.max_restarts = cfg->max_restarts;
    empty.max_seconds = cfg->max_seconds;
    empty.watch = cfg->watch;
    empty.log_level = cfg->log_level;
    config_diff(&empty, cfg, &changes, &errors);
    fuzz_check(errors.count == 0);
    fuzz_check(changes.count == cfg->supervisor_count + cfg->child_count + cfg->event_count);
    for (size_t i = 0; i < changes.count; i++)
        fuzz_check(changes.items[i].change == CHANGE_ADDED && changes.items[i].id[0] != '\0');
    change_list_free(&changes);
    error_list_free(&errors);
}

/* The same files read whole (one dictionary per file) load as they did in
 * parts: `status`, `errors` and `cfg` are the load in parts. */
static void check_same_as_whole(int status, const struct config *cfg,
                                const struct error_list *errors)
{
    size_t in_parts = config_file_part_max_entries;
    config_file_part_max_entries = 0;
    struct config whole;
    struct error_list whole_errors;
    error_list_init(&whole_errors);
    int whole_status = config_load(host_path, &whole, &whole_errors);
    config_file_part_max_entries = in_parts;
    fuzz_check(whole_status == status && whole_errors.count == errors->count);
    for (size_t i = 0; i < errors->count; i++)
        fuzz_check(strcmp(whole_errors.messages[i], errors->messages[i]) == 0);
    if (status == 0) {
        struct change_list changes;
        change_list_init(&changes);
        config_diff(&whole, cfg, &changes, &whole_errors);
        fuzz_check(changes.count == 0 && whole_errors.count == 0);
        change_list_free(&changes);
    }
    error_list_free(&whole_errors);
    config_free(&whole);
}

static void fuzz_config_load(const uint8_t *data, size_t size)
{
    write_config_files(data, size);
    struct config cfg;
    struct error_list errors;
    error_list_init(&errors);
    config_file_part_max_entries = 1;
    int status = config_load(host_path, &cfg, &errors);
    fuzz_check((status == 0) == (errors.count == 0));
    check_same_as_whole(status, &cfg, &errors);
    for (size_t i = 0; i < errors.count; i++)
        fuzz_check(errors.messages[i] != NULL && errors.messages[i][0] != '\0');
    if (status == 0) {
        check_valid_config(&cfg);
        check_reload_difference(&cfg);
    }

    /* The host checks plugins against what it found in plugin_dir. */
    static const char *const plugin_names[] = {"auth_loader", "hello", "sleeper"};
    config_check_plugins(&cfg, plugin_names, sizeof plugin_names / sizeof plugin_names[0], &errors);
    error_list_free(&errors);
    config_free(&cfg);
}

/* Quotes `word` so that words_split gives it back unchanged: inside '...'
 * nothing is special but the quote itself, written as '\''. */
static void append_quoted(char **out, const char *word)
{
    *(*out)++ = '\'';
    for (const char *c = word; *c != '\0'; c++) {
        if (*c == '\'') {
            memcpy(*out, "'\\''", 4);
            *out += 4;
        } else {
            *(*out)++ = *c;
        }
    }
    *(*out)++ = '\'';
}

/* Splits the input, then checks that quoting the words and splitting again
 * gives the same words: what a config writer relies on. */
static void fuzz_words_split(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    fuzz_check(text != NULL);
    char **words;
    int count;
    const char *error = NULL;
    if (words_split(text, &words, &count, &error) != 0) {
        fuzz_check(words == NULL && count == 0 && error != NULL);
        free(text);
        return;
    }
    fuzz_check(words[count] == NULL);

    /* Each byte becomes at most 4, plus two quotes and a blank per word. */
    char *quoted = malloc(4 * strlen(text) + 3 * (size_t)count + 1);
    fuzz_check(quoted != NULL);
    char *end = quoted;
    for (int i = 0; i < count; i++) {
        fuzz_check(words[i] != NULL);
        if (i > 0)
            *end++ = ' ';
        append_quoted(&end, words[i]);
    }
    *end = '\0';

    char **again;
    int again_count;
    fuzz_check(words_split(quoted, &again, &again_count, &error) == 0);
    fuzz_check(again_count == count);
    for (int i = 0; i < count; i++)
        fuzz_check(strcmp(words[i], again[i]) == 0);
    words_free(again);
    words_free(words);
    free(quoted);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    make_work_dir_once();
    fuzz_config_load(data, size);
    fuzz_words_split(data, size);
    return 0;
}
