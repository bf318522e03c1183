#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* Parses a decimal integer in [1, max]; -1 with err otherwise. */
static int parse_bounded(const char *option, const char *text, long long max, long long *out,
                         struct loader_error *err)
{
    char *end = NULL;
    errno = 0;
    long long value = (text[0] >= '0' && text[0] <= '9') ? strtoll(text, &end, 10) : -1;
    if (end == NULL || *end != '\0' || errno == ERANGE || value < 1 || value > max) {
        loader_error_set(err, "%s: expected a whole number from 1 to %lld, got \"%s\"", option,
                         max, text);
        return -1;
    }
    *out = value;
    return 0;
}

/* http or https, and a URL libcurl can parse: checked here so a typo is
 * an init failure the operator sees at start_child, not a retry loop. */
static int check_url(const char *url, struct loader_error *err)
{
    CURLU *handle = curl_url();
    if (handle == NULL) {
        loader_error_set(err, "out of memory");
        return -1;
    }
    char *scheme = NULL;
    int status = -1;
    CURLUcode rc = curl_url_set(handle, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        loader_error_set(err, "URL \"%s\": %s", url, curl_url_strerror(rc));
    } else if (curl_url_get(handle, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        loader_error_set(err, "URL \"%s\": only http and https are allowed", url);
    } else {
        status = 0;
    }
    curl_free(scheme);
    curl_url_cleanup(handle);
    return status;
}

static const struct {
    const char *name;
    long long max;
} known_options[] = {
    {"--timeout-ms", 24LL * 3600 * 1000},
    {"--connect-timeout-ms", 24LL * 3600 * 1000},
    {"--max-bytes", 1LL << 30},
};

static int apply_option(struct loader_options *options, size_t which, long long value)
{
    switch (which) {
    case 0:
        options->timeout_ms = (long)value;
        return 0;
    case 1:
        options->connect_timeout_ms = (long)value;
        return 0;
    default:
        options->max_bytes = (size_t)value;
        return 0;
    }
}

static int add_public_key(struct loader_options *options, const char *path,
                          struct loader_error *err)
{
    if (path[0] == '\0') {
        loader_error_set(err, "--public-key: expected a file path, got an empty word");
        return -1;
    }
    if (options->public_key_count == OPTIONS_MAX_PUBLIC_KEYS) {
        loader_error_set(err, "--public-key: at most %d keys, got \"%s\" as one more",
                         OPTIONS_MAX_PUBLIC_KEYS, path);
        return -1;
    }
    options->public_key_paths[options->public_key_count++] = path;
    return 0;
}

/* The value of option `name` written as argv[*index] (either "--name=V"
 * or "--name V"); advances *index past it. NULL with err if missing. */
static const char *option_value(int argc, char **argv, int *index, const char *name,
                                struct loader_error *err)
{
    const char *equals = strchr(argv[*index], '=');
    if (equals != NULL)
        return equals + 1;
    if (*index + 1 >= argc) {
        loader_error_set(err, "%s: missing its value", name);
        return NULL;
    }
    return argv[++*index];
}

/* Handles argv[*index], an option word; advances *index past its value. */
static int parse_option(int argc, char **argv, int *index, struct loader_options *options,
                        struct loader_error *err)
{
    const char *word = argv[*index];
    const char *equals = strchr(word, '=');
    size_t name_length = equals ? (size_t)(equals - word) : strlen(word);
    if (name_length == strlen("--public-key") && strncmp(word, "--public-key", name_length) == 0) {
        const char *path = option_value(argc, argv, index, "--public-key", err);
        return path == NULL ? -1 : add_public_key(options, path, err);
    }
    for (size_t which = 0; which < sizeof known_options / sizeof known_options[0]; which++) {
        const char *name = known_options[which].name;
        if (strlen(name) != name_length || strncmp(word, name, name_length) != 0)
            continue;
        const char *value = option_value(argc, argv, index, name, err);
        if (value == NULL)
            return -1;
        long long number = 0;
        if (parse_bounded(name, value, known_options[which].max, &number, err) != 0)
            return -1;
        return apply_option(options, which, number);
    }
    loader_error_set(err, "unknown option \"%s\" (known: --timeout-ms, --connect-timeout-ms, "
                     "--max-bytes, --public-key)", word);
    return -1;
}

int options_parse(int argc, char **argv, struct loader_options *options,
                  struct loader_error *err)
{
    *options = (struct loader_options){
        .timeout_ms = OPTIONS_DEFAULT_TIMEOUT_MS,
        .connect_timeout_ms = OPTIONS_DEFAULT_CONNECT_TIMEOUT_MS,
        .max_bytes = OPTIONS_DEFAULT_MAX_BYTES,
    };
    for (int index = 0; index < argc; index++) {
        const char *word = argv[index];
        if (strncmp(word, "--", 2) == 0) {
            if (parse_option(argc, argv, &index, options, err) != 0)
                return -1;
        } else if (options->url == NULL) {
            options->url = word;
        } else if (options->store_path == NULL) {
            options->store_path = word;
        } else {
            loader_error_set(err, "unexpected argument \"%s\" (usage: URL STORE [--timeout-ms N] "
                             "[--connect-timeout-ms N] [--max-bytes N] [--public-key FILE]...)", word);
            return -1;
        }
    }
    if (options->url == NULL || options->store_path == NULL) {
        loader_error_set(err, "missing %s (usage: URL STORE [--timeout-ms N] "
                         "[--connect-timeout-ms N] [--max-bytes N] [--public-key FILE]...)",
                         options->url == NULL ? "URL and STORE" : "STORE");
        return -1;
    }
    if (options->store_path[0] == '\0') {
        loader_error_set(err, "STORE: expected a file path, got an empty word");
        return -1;
    }
    return check_url(options->url, err);
}
