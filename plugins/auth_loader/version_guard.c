#include "version_guard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int version_of_store(const char *store_path, long long *version, struct loader_error *err)
{
    FILE *file = fopen(store_path, "rb");
    if (file == NULL) {
        if (errno == ENOENT) {
            *version = VERSION_NONE;
            return 0;
        }
        loader_error_set(err, "cannot read %s: %s", store_path, strerror(errno));
        return -1;
    }
    json_error_t parse_error;
    json_t *document = json_loadf(file, JSON_DECODE_ANY, &parse_error);
    fclose(file);
    if (document == NULL) {
        loader_error_set(err, "%s: invalid JSON at line %d column %d: %s", store_path,
                         parse_error.line, parse_error.column, parse_error.text);
        return -1;
    }
    const json_t *value = json_is_object(document) ? json_object_get(document, "version") : NULL;
    int status = 0;
    if (value == NULL) {
        *version = VERSION_NONE;
    } else if (json_is_integer(value) && json_integer_value(value) >= 0) {
        *version = json_integer_value(value);
    } else {
        loader_error_set(err, "%s: version: expected a non-negative integer", store_path);
        status = -1;
    }
    json_decref(document);
    return status;
}

int version_guard_allows(long long stored, long long incoming, struct loader_error *err)
{
    if (stored == VERSION_NONE || (incoming != VERSION_NONE && incoming >= stored))
        return 0;
    if (incoming == VERSION_NONE)
        loader_error_set(err, "it has no version, older than the stored version %lld", stored);
    else
        loader_error_set(err, "version %lld is older than the stored version %lld", incoming,
                         stored);
    return -1;
}
