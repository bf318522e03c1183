/*
 * Validation helpers for config.c, kept apart so that config.c reads as
 * the list of dynsup's sections and keys and what they mean:
 *  - the one formatter of every config error message;
 *  - pure parsers for names, numbers and keywords, and path tidying;
 *  - the layout scan of an INI file (which sections and keys are written,
 *    where, and whether a name is repeated or malformed; in ini_layout.c);
 *  - reading one file (layout + iniparser) and the typed key readers.
 *
 * Parsers return NULL on success (result stored through the out pointer)
 * or a static description of what was expected; the caller adds
 * ", found "VALUE"". Path helpers return malloc'd strings (NULL when out of
 * memory).
 */
#ifndef DYNSUP_CONFIG_VALUES_H
#define DYNSUP_CONFIG_VALUES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"     /* struct error_list */
#include "hashmap.h"
#include "supervisor.h" /* enum restart_policy, enum shutdown_mode, DS_INFINITY */

/* The most errors reported for one file: past them, one message at the
 * end of the load says how many more that file had. */
#define CONFIG_FILE_MAX_ERRORS 20

struct config_file_tally {
    char *file;
    size_t shown, hidden;
};

/* Where the problems of one config_load go. `count` counts every report,
 * even one the list had no memory left to keep, or that the file's cap
 * hid, so the load still fails. Ownership: owns its tallies until
 * config_problems_finish (config_problems.c). */
struct config_problems {
    struct error_list *errors;
    size_t count;
    struct config_file_tally *files; /* files reported, in the order first reported */
    size_t file_count, file_capacity;
    struct hashmap files_by_name;    /* file -> position + 1 in files */
};
void config_problems_init(struct config_problems *problems, struct error_list *errors);
/* Counts a report about `file` (NULL: about no one file); false when the
 * file has shown CONFIG_FILE_MAX_ERRORS already (then it is only counted:
 * don't format it). */
bool config_problems_admit(struct config_problems *problems, const char *file);
/* Adds "FILE: ... and N more errors in this file (not shown)" for every
 * file that had more, and frees the tallies (count stays). */
void config_problems_finish(struct config_problems *problems);

/* Adds "FILE:LINE: [SECTION] KEY: message"; line 0, a NULL section or a
 * NULL key leave their part out. */
void config_report(struct config_problems *problems, const char *file, int line,
                   const char *section, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void config_vreport(struct config_problems *problems, const char *file, int line,
                    const char *section, const char *key, const char *fmt, va_list ap);

/* Drops leading and trailing blanks in place; returns the first non-blank. */
char *config_trim(char *text);

/* Section names, keys, ids and plugin names: [a-z0-9_]+ */
bool config_name_is_valid(const char *text);

/* NULL if `id` is at most CONFIG_ID_MAX bytes long, else (in `problem`,
 * `size` bytes) what was expected and found, for an error message. */
const char *config_id_length_problem(const char *id, char *problem, size_t size);

/* Decimal digits only, no sign or blanks, fitting in uint32_t. */
const char *config_parse_uint32(const char *text, uint32_t *value);

/* "infinity" (DS_INFINITY) or a number >= 0 (0: every start is refused). */
const char *config_parse_max_children(const char *text, uint32_t *value);

/* permanent | transient | temporary */
const char *config_parse_restart(const char *text, enum restart_policy *policy);

/* brutal_kill (ms 0) | infinity (ms DS_INFINITY) | milliseconds >= 1 */
const char *config_parse_shutdown(const char *text, enum shutdown_mode *mode, uint32_t *ms);

/* SIGUSR1 | SIGUSR2 | SIGHUP, with or without the SIG prefix, any case. The
 * signals the host itself handles (TERM, INT, CHLD, KILL...) are refused. */
const char *config_parse_event_signal(const char *text, int *signal_number);

/* The folder of `file` ("." when it has none). */
char *config_path_dirname(const char *file);

/* `path` resolved against `base_dir` when relative, then tidied: "."
 * components and repeated or trailing slashes are dropped ("./a//b/" ->
 * "a/b"); ".." is kept as is (no realpath: the folder may not exist yet). */
char *config_path_join(const char *base_dir, const char *path);

/*
 * The layout of an INI file: its sections and keys as written, in file
 * order, with line numbers. iniparser 4.1 cannot give this: it keeps the
 * last of two equal keys without a word, merges repeated sections,
 * lowercases names and forgets order and lines. The scan sorts lines the
 * way iniparser does (comment, [section], key = value, backslash
 * continuation) but never interprets values: those come from iniparser.
 *
 * Ownership: the layout owns its sections, keys and names;
 * ini_layout_free releases them.
 */
struct ini_key {
    char *name;
    int line;
    const char *quote_problem; /* static; `k = "a b" c`: iniparser would drop ` c` */
};

struct ini_section {
    char *name;            /* as written, e.g. "supervisor:auth_rules" */
    int line;
    size_t offset;         /* of its header's (logical) line in the file */
    size_t part;           /* which of the file's dictionaries holds its values */
    bool usable;           /* false: malformed or repeated name (reported) */
    struct ini_key *keys;  /* well-formed names, first occurrences only */
    size_t key_count, key_capacity;
};

struct ini_layout {
    struct ini_section *sections;
    size_t count, capacity;
    struct hashmap by_name; /* section name -> position + 1 (the first of a repeated name) */
    size_t syntax_errors;  /* lines that are neither comment, section nor key */
    size_t problems;       /* everything the scan reported, syntax errors included */
};

/* Scans `text` (`length` bytes, the contents of `file`) with every
 * malformed, misplaced or repeated name reported. */
void ini_layout_scan(const char *file, const char *text, size_t length, struct ini_layout *layout,
                     struct config_problems *problems);
const struct ini_key *ini_section_key(const struct ini_section *section, const char *key);
/* Line of `key` in section `section`, else of the section, else 0. */
int ini_layout_line(const struct ini_layout *layout, const char *section, const char *key);
void ini_layout_free(struct ini_layout *layout);

/*
 * One config file, read both ways (config_file.c). Ownership: owns
 * base_dir, the layout and the dictionary; ini_file_close releases them.
 *
 * What a config file may be: a regular file (or a symlink to one) of at
 * most CONFIG_FILE_MAX_BYTES, no line longer than CONFIG_LINE_MAX_BYTES
 * (iniparser itself then refuses lines over 1024 bytes, in its words).
 * Anything else (a FIFO, a device, a folder, a bigger file) is refused
 * without being read, and without blocking.
 */
#define CONFIG_FILE_MAX_BYTES (1024 * 1024)
#define CONFIG_LINE_MAX_BYTES 4096
typedef struct _dictionary_ dictionary;
struct ini_file {
    const char *path;          /* borrowed */
    char *base_dir;            /* folder of path: base of its relative paths */
    struct ini_layout layout;
    /* iniparser's values, one dictionary per part of the file (a section
     * says which: config_file.c); NULL if iniparser refused the file. */
    dictionary **parts;
    size_t part_count;
};

/* The most sections and keys (a section counts one, each key one) that
 * iniparser is given at a time (config_file.c: "Why in parts"); a section
 * with more is a part of its own. 0: every file whole. The fuzz target
 * compares 1 (a part per section) with 0. */
extern size_t config_file_part_max_entries;

/* Returns -1 if the file cannot be read at all or is not a config file
 * (reported). Either way the file must be closed. */
int ini_file_open(const char *path, struct ini_file *file, struct config_problems *problems);
void ini_file_close(struct ini_file *file);

/*
 * Typed readers for the keys of one section. A missing key leaves `*out`
 * as it was (the default); a bad value is reported as
 * "FILE:LINE: [SECTION] KEY: what was expected, found "VALUE"" and also
 * leaves `*out` alone. Strings are malloc'd into *out (the old one freed).
 */
struct section_reader {
    struct config_problems *problems;
    const struct ini_file *file;
    const struct ini_section *section;
    /* The host's own user name ("" if the user database has none): the
     * USER of a child spec without `user`. Looked up once per load, not
     * once per spec (each lookup reads the user database). */
    const char *host_user;
};

void section_key_error(const struct section_reader *r, const char *key, int line,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Reports every key of the section that is not in `allowed` (NULL-ended). */
void section_reject_unknown_keys(const struct section_reader *r, const char *const *allowed);
void section_require_key(const struct section_reader *r, const char *key);
/* The raw value of `key` or NULL (absent, or the file's values are
 * unavailable after a syntax error); *line is the key's line, else the
 * section's. Pointer valid while the file is open. */
const char *section_value(const struct section_reader *r, const char *key, int *line);
/* Non-empty text. */
void section_read_string(const struct section_reader *r, const char *key, char **out);
/* [a-z0-9_]+ */
void section_read_name(const struct section_reader *r, const char *key, char **out);
/* [a-z0-9_]+ of at most CONFIG_ID_MAX characters: a supervisor, child or
 * registered name the control socket can name. */
void section_read_id(const struct section_reader *r, const char *key, char **out);
/* Reports `id`, a word of `key`, if it is longer than CONFIG_ID_MAX. */
void section_check_id_length(const struct section_reader *r, const char *key, int line,
                             const char *id);
/* A path, resolved against the folder of the file it is written in. */
void section_read_path(const struct section_reader *r, const char *key, char **out);
/* A number >= minimum. */
void section_read_number(const struct section_reader *r, const char *key, uint32_t minimum,
                         uint32_t *out);
/* Shell-like words (words_split) into a NULL-terminated array, always set
 * (empty when the key is absent or bad) unless memory ran out. Returns the
 * key's line. */
int section_read_words(const struct section_reader *r, const char *key, char ***words, int *count);
/* A list of child ids, as section_read_words, each checked and reported
 * when it is not one; "a, b" reads as "a b". Returns the key's line. */
int section_read_id_list(const struct section_reader *r, const char *key, char ***ids, int *count);
/* The control socket at `path` (config_socket.c): reports what `run`
 * would refuse (a path too long for a unix socket, a non-socket in its
 * place, a folder that is not one or that others may write). */
void config_check_socket_place(const struct section_reader *r, const char *key, const char *path);
/* allow_group: `run` hands the socket to that group with chown(2), which a
 * host that is not root may do only for a group of its own. */
bool config_may_give_socket_to_group(gid_t group);
void config_check_socket_group(const struct section_reader *r, const char *key, gid_t group,
                               const char *name);
/* config_restart.c: max_restarts (a number or infinity) and the backoff
 * keys restart_delay (ms, 0 = off) and restart_delay_max (ms >= 1, at
 * least restart_delay); unwritten keys leave *out alone. */
void section_read_max_restarts(const struct section_reader *r, uint32_t *out);
void section_read_restart_delays(const struct section_reader *r, uint32_t *delay_ms,
                                 uint32_t *delay_max_ms);
/* config_permissions.c: [supervisor:X] children (child ids, "a, b" or
 * "a b"; whether they exist is checked with the other references) and
 * [child:ID] request_args (yes | no). */
void section_read_allowed_children(const struct section_reader *r, struct supervisor_spec *spec);
void section_read_request_args(const struct section_reader *r, struct child_spec *spec);
/* config_environment.c: the per-child execution environment keys (user,
 * group, limit_*, nice, umask, working_directory, environment) into the
 * spec's job settings; refuses what this host cannot do. */
void section_read_environment(const struct section_reader *r, struct child_spec *spec);
/* The host's own user name into `name` ("" if the user database has none):
 * section_reader's host_user. */
void config_host_user(char *name, size_t size);
/* For a keyword parser of this file: reports `problem` (if not NULL). */
void section_value_problem(const struct section_reader *r, const char *key, int line,
                           const char *problem, const char *value);

#endif
