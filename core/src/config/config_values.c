#include "config_values.h"

#include <ctype.h>
#include <errno.h>
#include <iniparser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- error messages ---------------------------------------------------- */

void config_vreport(struct config_problems *problems, const char *file, int line,
                    const char *section, const char *key, const char *fmt, va_list ap)
{
    struct error_list *errors = problems->errors;
    if (!config_problems_admit(problems, file))
        return;
    if (error_list_is_full(errors)) {
        error_list_hide(errors, 1); /* without formatting what nobody will read */
        return;
    }
    char *message;
    if (vasprintf(&message, fmt, ap) < 0)
        return;
    char at[24] = "";
    if (line > 0)
        snprintf(at, sizeof at, ":%d", line);
    if (section != NULL && key != NULL)
        error_list_add(errors, "%s%s: [%s] %s: %s", file, at, section, key, message);
    else if (section != NULL)
        error_list_add(errors, "%s%s: [%s]: %s", file, at, section, message);
    else if (key != NULL)
        error_list_add(errors, "%s%s: %s: %s", file, at, key, message);
    else
        error_list_add(errors, "%s%s: %s", file, at, message);
    free(message);
}

void config_report(struct config_problems *problems, const char *file, int line,
                   const char *section, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_vreport(problems, file, line, section, key, fmt, ap);
    va_end(ap);
}

/* ---- names, numbers, keywords ------------------------------------------ */

char *config_trim(char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    char *end = text + strlen(text);
    while (end > text && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return text;
}

bool config_name_is_valid(const char *text)
{
    if (text == NULL || *text == '\0')
        return false;
    for (const char *p = text; *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok)
            return false;
    }
    return true;
}

const char *config_id_length_problem(const char *id, char *problem, size_t size)
{
    size_t length = strlen(id);
    if (length <= CONFIG_ID_MAX)
        return NULL;
    snprintf(problem, size,
             "expected at most %d characters (the control socket's limit for ids), found %zu",
             CONFIG_ID_MAX, length);
    return problem;
}

const char *config_parse_uint32(const char *text, uint32_t *value)
{
    /* strtoul would accept blanks, a sign, "0x" and wrap negative numbers;
     * a config value is plain decimal digits, nothing else. */
    if (*text == '\0')
        return "expected a number";
    uint64_t result = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return "expected a number (decimal digits only)";
        result = result * 10 + (uint64_t)(*p - '0');
        if (result > UINT32_MAX)
            return "expected a number no larger than 4294967295";
    }
    *value = (uint32_t)result;
    return NULL;
}

const char *config_parse_max_children(const char *text, uint32_t *value)
{
    /* Any non-negative number, as in OTP: 0 is a supervisor that takes no
     * child for now (every start answers max_children). */
    static const char expected[] = "expected a number or infinity";
    if (strcmp(text, "infinity") == 0) {
        *value = DS_INFINITY;
        return NULL;
    }
    uint32_t number;
    if (config_parse_uint32(text, &number) != NULL)
        return expected;
    *value = number;
    return NULL;
}

const char *config_parse_restart(const char *text, enum restart_policy *policy)
{
    static const struct {
        const char *name;
        enum restart_policy policy;
    } policies[] = {
        {"permanent", RESTART_PERMANENT},
        {"transient", RESTART_TRANSIENT},
        {"temporary", RESTART_TEMPORARY},
    };
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        if (strcmp(text, policies[i].name) == 0) {
            *policy = policies[i].policy;
            return NULL;
        }
    }
    return "expected permanent, transient or temporary";
}

const char *config_parse_shutdown(const char *text, enum shutdown_mode *mode, uint32_t *ms)
{
    if (strcmp(text, "brutal_kill") == 0) {
        *mode = SHUTDOWN_BRUTAL_KILL;
        *ms = 0;
        return NULL;
    }
    if (strcmp(text, "infinity") == 0) {
        *mode = SHUTDOWN_INFINITY;
        *ms = DS_INFINITY;
        return NULL;
    }
    uint32_t number;
    if (config_parse_uint32(text, &number) != NULL || number == 0)
        return "expected brutal_kill, infinity or a positive number of milliseconds";
    *mode = SHUTDOWN_TIMEOUT;
    *ms = number;
    return NULL;
}

const char *config_parse_event_signal(const char *text, int *signal_number)
{
    static const struct {
        const char *name;
        int number;
    } allowed[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}};
    /* The host's own signals: firing an event on them would steal the
     * clean-stop or child-reaping path. */
    static const char *const reserved[] = {"TERM", "INT", "KILL", "CHLD", "STOP", "PIPE", "QUIT"};
    if (strcasecmp(text, "SIGHUP") == 0 || strcasecmp(text, "HUP") == 0)
        return "SIGHUP is the host's reload signal (dynsup-host reload); expected SIGUSR1 or SIGUSR2";

    const char *name = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (strcasecmp(name, allowed[i].name) == 0) {
            *signal_number = allowed[i].number;
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (strcasecmp(name, reserved[i]) == 0)
            return "this signal is used by the host itself; expected SIGUSR1 or SIGUSR2";
    }
    return "expected SIGUSR1 or SIGUSR2";
}

/* ---- paths -------------------------------------------------------------- */

char *config_path_dirname(const char *file)
{
    const char *slash = strrchr(file, '/');
    if (slash == NULL)
        return strdup(".");
    /* Skip a run of slashes ("a//b" -> "a"); keep "/" for "/b". */
    while (slash > file && slash[-1] == '/')
        slash--;
    if (slash == file)
        return strdup("/");
    return strndup(file, (size_t)(slash - file));
}

char *config_path_join(const char *base_dir, const char *path)
{
    bool absolute = path[0] == '/';
    size_t base_length = absolute ? 0 : strlen(base_dir);
    char *joined = malloc(base_length + 1 + strlen(path) + 1);
    if (joined == NULL)
        return NULL;
    if (absolute)
        strcpy(joined, path);
    else
        strcat(strcat(strcpy(joined, base_dir), "/"), path);

    /* Rebuild in place, component by component: the output never gets
     * longer than the input. */
    char *out = joined;
    const char *in = joined;
    bool rooted = joined[0] == '/';
    if (rooted)
        *out++ = '/';
    while (*in != '\0') {
        while (*in == '/')
            in++;
        const char *end = strchrnul(in, '/');
        size_t length = (size_t)(end - in);
        bool skip = length == 0 || (length == 1 && in[0] == '.');
        if (!skip) {
            if (out > joined && out[-1] != '/')
                *out++ = '/';
            memmove(out, in, length);
            out += length;
        }
        in = end;
    }
    if (out == joined)
        *out++ = '.';
    *out = '\0';
    return joined;
}

/* ---- typed readers for the keys of one section ------------------------- */

void section_key_error(const struct section_reader *r, const char *key, int line,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_vreport(r->problems, r->file->path, line, r->section->name, key, fmt, ap);
    va_end(ap);
}

void section_reject_unknown_keys(const struct section_reader *r, const char *const *allowed)
{
    for (size_t i = 0; i < r->section->key_count; i++) {
        const struct ini_key *key = &r->section->keys[i];
        bool known = false;
        for (const char *const *name = allowed; *name != NULL && !known; name++)
            known = strcmp(*name, key->name) == 0;
        if (known)
            continue;
        /* Written out only for a key that needs it: most sections have none. */
        char expected[256] = "";
        for (const char *const *name = allowed; *name != NULL; name++)
            snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s%s",
                     name == allowed ? "" : ", ", *name);
        section_key_error(r, key->name, key->line, "unknown key (expected one of: %s)", expected);
    }
}

void section_require_key(const struct section_reader *r, const char *key)
{
    if (ini_section_key(r->section, key) == NULL)
        section_key_error(r, key, r->section->line, "missing (required)");
}

const char *section_value(const struct section_reader *r, const char *key, int *line)
{
    const struct ini_key *found = ini_section_key(r->section, key);
    *line = found != NULL ? found->line : r->section->line;
    if (found == NULL || r->file->parts == NULL)
        return NULL;
    /* iniparser's name for it, "SECTION:KEY"; on the stack as a rule (this
     * runs for every key of every spec). */
    size_t section_length = strlen(r->section->name), key_length = strlen(key);
    char stack[256];
    char *lookup = section_length + key_length + 2 <= sizeof stack
                       ? stack
                       : malloc(section_length + key_length + 2);
    if (lookup == NULL) {
        section_key_error(r, key, *line, "out of memory");
        return NULL;
    }
    memcpy(lookup, r->section->name, section_length);
    lookup[section_length] = ':';
    memcpy(lookup + section_length + 1, key, key_length + 1);
    const char *value = iniparser_getstring(r->file->parts[r->section->part], lookup, NULL);
    if (lookup != stack)
        free(lookup);
    if (value == NULL)
        section_key_error(r, key, *line, "the INI reader found no value here");
    else if (found->quote_problem != NULL)
        section_key_error(r, key, *line, "%s", found->quote_problem);
    return value;
}

void section_value_problem(const struct section_reader *r, const char *key, int line,
                           const char *problem, const char *value)
{
    if (problem != NULL)
        section_key_error(r, key, line, "%s, found \"%s\"", problem, value);
}

static void replace_text(const struct section_reader *r, const char *key, int line, char **out,
                         char *text)
{
    if (text == NULL)
        section_key_error(r, key, line, "out of memory");
    free(*out);
    *out = text;
}

void section_read_string(const struct section_reader *r, const char *key, char **out)
{
    int line;
    const char *value = section_value(r, key, &line);
    if (value != NULL && *value == '\0')
        section_key_error(r, key, line, "empty value");
    else if (value != NULL)
        replace_text(r, key, line, out, strdup(value));
}

void section_read_name(const struct section_reader *r, const char *key, char **out)
{
    int line;
    const char *value = section_value(r, key, &line);
    if (value != NULL && !config_name_is_valid(value))
        section_value_problem(r, key, line, "expected lowercase letters, digits and _", value);
    else if (value != NULL)
        replace_text(r, key, line, out, strdup(value));
}

void section_check_id_length(const struct section_reader *r, const char *key, int line,
                             const char *id)
{
    char problem[128];
    if (config_id_length_problem(id, problem, sizeof problem) != NULL)
        section_key_error(r, key, line, "%s", problem);
}

void section_read_id(const struct section_reader *r, const char *key, char **out)
{
    int line;
    const char *value = section_value(r, key, &line);
    char problem[128];
    if (value != NULL && config_name_is_valid(value) &&
        config_id_length_problem(value, problem, sizeof problem) != NULL)
        section_key_error(r, key, line, "%s", problem);
    else
        section_read_name(r, key, out);
}

void section_read_path(const struct section_reader *r, const char *key, char **out)
{
    int line;
    const char *value = section_value(r, key, &line);
    if (value != NULL && *value == '\0')
        section_key_error(r, key, line, "empty value");
    else if (value != NULL)
        replace_text(r, key, line, out, config_path_join(r->file->base_dir, value));
}

void section_read_number(const struct section_reader *r, const char *key, uint32_t minimum,
                         uint32_t *out)
{
    int line;
    const char *value = section_value(r, key, &line);
    if (value == NULL)
        return;
    uint32_t number;
    const char *problem = config_parse_uint32(value, &number);
    if (problem != NULL)
        section_value_problem(r, key, line, problem, value);
    else if (number < minimum)
        section_key_error(r, key, line, "expected at least %u, found \"%s\"", minimum, value);
    else
        *out = number;
}

int section_read_words(const struct section_reader *r, const char *key, char ***words, int *count)
{
    int line;
    const char *value = section_value(r, key, &line);
    const char *problem = NULL;
    if (words_split(value != NULL ? value : "", words, count, &problem) != 0) {
        if (value != NULL)
            section_key_error(r, key, line, "%s in \"%s\"", problem, value);
        if (words_split("", words, count, &problem) != 0)
            section_key_error(r, key, line, "out of memory");
    }
    return line;
}

int section_read_id_list(const struct section_reader *r, const char *key, char ***ids, int *count)
{
    int line = section_read_words(r, key, ids, count);
    for (int i = 0; i < *count; i++) { /* "a, b" and "a b" both read as a list */
        size_t length = strlen((*ids)[i]);
        if (length > 0 && (*ids)[i][length - 1] == ',')
            (*ids)[i][length - 1] = '\0';
        if (!config_name_is_valid((*ids)[i]))
            section_value_problem(r, key, line,
                                  "expected child ids (lowercase letters, digits and _)", (*ids)[i]);
        else
            section_check_id_length(r, key, line, (*ids)[i]);
    }
    return line;
}
