/*
 * The tagged strings of a worker's execution environment. See
 * job_settings.h.
 */
#include "job_settings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char job_limit_letter(enum job_limit limit)
{
    static const char letters[JOB_LIMIT_COUNT] = {'n', 'm', 'c', 'k'};
    return limit < JOB_LIMIT_COUNT ? letters[limit] : '?';
}

__attribute__((hot)) static int parse_unsigned(const char *text, int base, unsigned long long *value, const char **end)
{
    char *stop;
    errno = 0;
    if (*text < '0' || *text > '9')
        return -1;
    *value = strtoull(text, &stop, base);
    *end = stop;
    return errno == 0 ? 0 : -1;
}

__attribute__((hot)) static int parse_limit_value(const char *text, rlim_t *value, const char **end)
{
    if (strncmp(text, "inf", 3) == 0) {
        *value = RLIM_INFINITY;
        *end = text + 3;
        return 0;
    }
    unsigned long long number;
    if (parse_unsigned(text, 10, &number, end) != 0)
        return -1;
    *value = (rlim_t)number;
    return 0;
}

__attribute__((hot)) static int parse_limit(const char *text, struct job_settings *settings)
{
    for (int limit = 0; limit < JOB_LIMIT_COUNT; limit++) {
        if (text[0] != job_limit_letter((enum job_limit)limit))
            continue;
        const char *end;
        if (parse_limit_value(text + 1, &settings->limits[limit].soft, &end) != 0 || *end != ':' ||
            parse_limit_value(end + 1, &settings->limits[limit].hard, &end) != 0 || *end != '\0')
            return -1;
        settings->limits[limit].set = true;
        return 0;
    }
    return -1;
}

int job_settings_groups(const char *list, gid_t *groups)
{
    int count = 0;
    while (*list) {
        unsigned long long gid;
        const char *end;
        if (count == JOB_MAX_GROUPS || parse_unsigned(list, 10, &gid, &end) != 0 ||
            (*end != ',' && *end != '\0'))
            return -1;
        groups[count++] = (gid_t)gid;
        list = *end == ',' ? end + 1 : end;
    }
    return count;
}

__attribute__((hot)) static int parse_one(char **string, struct job_settings *settings)
{
    const char *value = *string + 1, *end = NULL;
    unsigned long long number = 0;
    if (settings->environment && **string != 'E')
        return -1; /* the environment comes last */
    switch (**string) {
    case 'U':
        settings->set_uid = true;
        if (parse_unsigned(value, 10, &number, &end) != 0 || *end)
            return -1;
        settings->uid = (uid_t)number;
        return 0;
    case 'G':
        settings->set_gid = true;
        if (parse_unsigned(value, 10, &number, &end) != 0 || *end)
            return -1;
        settings->gid = (gid_t)number;
        return 0;
    case 'S':
        settings->groups = value;
        return 0;
    case 'L':
        return parse_limit(value, settings);
    case 'N': {
        char *stop;
        errno = 0;
        long nice = strtol(value, &stop, 10);
        if (errno || stop == value || *stop || nice < -20 || nice > 19)
            return -1;
        settings->set_nice = true;
        settings->nice = (int)nice;
        return 0;
    }
    case 'M':
        if (parse_unsigned(value, 8, &number, &end) != 0 || *end || number > 0777)
            return -1;
        settings->set_umask = true;
        settings->umask = (mode_t)number;
        return 0;
    case 'D':
        if (!*value)
            return -1;
        settings->directory = value;
        return 0;
    case 'E':
        if (!strchr(value, '='))
            return -1;
        if (!settings->environment)
            settings->environment = string;
        settings->environment_count++;
        *string += 1; /* now "KEY=value": the environment in place */
        return 0;
    }
    return -1;
}

int job_settings_parse(char **strings, int count, struct job_settings *settings, char *error,
                       size_t error_size)
{
    memset(settings, 0, sizeof *settings);
    for (int i = 0; i < count; i++) {
        if (parse_one(&strings[i], settings) != 0) {
            snprintf(error, error_size, "malformed job setting \"%.40s\"", strings[i]);
            return -1;
        }
    }
    return 0;
}

void job_settings_add(struct job_settings_text *text, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int length = vsnprintf(NULL, 0, format, ap);
    va_end(ap);
    if (length < 0 || text->out_of_memory) {
        text->out_of_memory = true;
        return;
    }
    if (text->length + (size_t)length + 1 > text->capacity) {
        size_t capacity = (text->capacity ? text->capacity * 2 : 256) + (size_t)length + 1;
        char *grown = realloc(text->data, capacity);
        if (!grown) {
            text->out_of_memory = true;
            return;
        }
        text->data = grown;
        text->capacity = capacity;
    }
    va_start(ap, format);
    vsnprintf(text->data + text->length, (size_t)length + 1, format, ap);
    va_end(ap);
    text->length += (size_t)length + 1;
    text->count++;
}

void job_settings_text_free(struct job_settings_text *text)
{
    free(text->data);
    *text = (struct job_settings_text){0};
}
