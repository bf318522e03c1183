/*
 * auth_loader's arguments: URL STORE [--timeout-ms N]
 * [--connect-timeout-ms N] [--max-bytes N] [--public-key FILE]...
 *
 * Options may come before, between or after the two positional words and
 * may be written "--name N" or "--name=N". When an option is given twice
 * the later one wins: the worker's argv is the supervisor's
 * extra_arguments, then the child spec's args, then the start_child
 * request's args, so a request can override the spec. --public-key is
 * the exception: every one given is trusted (two at once let a fleet
 * rotate keys), up to OPTIONS_MAX_PUBLIC_KEYS.
 */
#ifndef AUTH_LOADER_OPTIONS_H
#define AUTH_LOADER_OPTIONS_H

#include <stddef.h>

#include "error.h"

#define OPTIONS_DEFAULT_TIMEOUT_MS 30000L
#define OPTIONS_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define OPTIONS_DEFAULT_MAX_BYTES ((size_t)4 << 20)
#define OPTIONS_MAX_PUBLIC_KEYS 8

/* The strings point into the argv given to options_parse() (owned by the
 * host, alive as long as the worker); nothing here is freed. */
struct loader_options {
    const char *url;
    const char *store_path;
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_bytes;
    const char *public_key_paths[OPTIONS_MAX_PUBLIC_KEYS]; /* --public-key, in order */
    size_t public_key_count;                               /* 0: signatures not checked */
};

/* Fills *options from argv[0..argc-1]. Returns 0, or -1 with err naming
 * the bad word: a missing URL or STORE, a URL that is not http(s), an
 * unknown option, a number that is not a positive integer in range,
 * more than OPTIONS_MAX_PUBLIC_KEYS public keys. */
int options_parse(int argc, char **argv, struct loader_options *options,
                  struct loader_error *err);

#endif
