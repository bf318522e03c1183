/*
 * auth_loader: downloads the access rules from the auth service and keeps
 * them in a local store (SPEC §7). Started as
 *
 *     URL STORE [--timeout-ms N] [--connect-timeout-ms N] [--max-bytes N]
 *               [--public-key FILE]...
 *
 * Its log tells the story: "started with URL ..." → "load data from ..."
 * → ["load signature from URL.minisig" → "signature verified: key ID"]
 * → "save data (N rules) to ..." → "work done" (or "rules unchanged (304
 * Not Modified)" → "work done"). A failure is one error line naming the
 * cause; the store then keeps its old bytes.
 *
 * Exit status (run's return value), one per class of failure so an
 * operator can tell them apart in the supervisor's log:
 *   0  rules saved (200) or unchanged (304)
 *   2  bad arguments (also init's answer, so start_child says init_failed)
 *   3  cannot connect (refused, unreachable, host not resolved)
 *   4  connect or total timeout
 *   5  HTTP status other than 200 / 304
 *   6  body over --max-bytes
 *   7  too many redirects
 *   8  invalid document (JSON syntax or rules schema)
 *   9  cannot save the store
 *  10  stopped by the supervisor
 *  11  any other transfer failure (TLS, refused protocol, ...)
 *  12  no signature (URL.minisig answered 404 or 410), with --public-key
 *  13  malformed signature (not a minisign signature file)
 *  14  signed by a key not given by --public-key
 *  15  bad signature (document or trusted comment not what the key signed)
 *  16  refused: the document's version is older than the stored one's
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <dynsup/plugin.h>

#include "fetch.h"
#include "options.h"
#include "rules.h"
#include "store.h"
#include "trust.h"
#include "version_guard.h"

#define AUTH_LOADER_VERSION "1.0.0"
#define AUTH_LOADER_MAX_REDIRECTS 5

enum loader_exit {
    EXIT_DONE = 0,
    EXIT_BAD_ARGUMENTS = 2,
    EXIT_CANNOT_CONNECT = 3,
    EXIT_TIMEOUT = 4,
    EXIT_HTTP_STATUS = 5,
    EXIT_TOO_LARGE = 6,
    EXIT_TOO_MANY_REDIRECTS = 7,
    EXIT_INVALID_DOCUMENT = 8,
    EXIT_CANNOT_SAVE = 9,
    EXIT_STOPPED = 10,
    EXIT_TRANSFER_FAILED = 11,
    EXIT_NO_SIGNATURE = 12,
    EXIT_MALFORMED_SIGNATURE = 13,
    EXIT_UNKNOWN_KEY = 14,
    EXIT_BAD_SIGNATURE = 15,
    EXIT_OLDER_VERSION = 16,
};

/* One worker process runs one plugin instance, so init can hand its
 * parsed options to run through a static; the strings point into the
 * host-owned argv. */
static struct loader_options parsed_options;
static struct trust trusted_keys;

/* The store's folder must exist and STORE must not be a folder: checked
 * up front so a wrong path is an init failure, not an endless retry. */
static int check_store_path(const char *store_path, struct loader_error *err)
{
    char folder[4096];
    const char *slash = strrchr(store_path, '/');
    if (slash == NULL) {
        strcpy(folder, ".");
    } else {
        size_t length = slash == store_path ? 1 : (size_t)(slash - store_path);
        if (length >= sizeof folder || slash[1] == '\0') {
            loader_error_set(err, "STORE \"%s\": expected a file path", store_path);
            return -1;
        }
        memcpy(folder, store_path, length);
        folder[length] = '\0';
    }
    struct stat info;
    if (stat(folder, &info) != 0) {
        loader_error_set(err, "STORE \"%s\": folder %s: %s", store_path, folder,
                         strerror(errno));
        return -1;
    }
    if (!S_ISDIR(info.st_mode)) {
        loader_error_set(err, "STORE \"%s\": %s is not a folder", store_path, folder);
        return -1;
    }
    if (stat(store_path, &info) == 0 && S_ISDIR(info.st_mode)) {
        loader_error_set(err, "STORE \"%s\": is a folder, expected a file", store_path);
        return -1;
    }
    return 0;
}

static int parse_arguments(dynsup_worker *w, int argc, char **argv,
                           struct loader_options *options)
{
    struct loader_error err = {{0}};
    if (options_parse(argc, argv, options, &err) != 0 ||
        check_store_path(options->store_path, &err) != 0 ||
        trust_load_keys(options, &trusted_keys, &err) != 0) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "bad arguments: %s", err.message);
        return -1;
    }
    return 0;
}

static int auth_loader_init(dynsup_worker *w, int argc, char **argv)
{
    if (parse_arguments(w, argc, argv, &parsed_options) != 0)
        return EXIT_BAD_ARGUMENTS;
    w->plugin_data = &parsed_options;
    return 0;
}

static int worker_should_stop(void *context)
{
    return dynsup_should_stop(context);
}

static enum loader_exit exit_for_fetch(enum fetch_status status)
{
    switch (status) {
    case FETCH_OK:
    case FETCH_NOT_MODIFIED:
        return EXIT_DONE;
    case FETCH_CONNECT_FAILED:
        return EXIT_CANNOT_CONNECT;
    case FETCH_TIMEOUT:
        return EXIT_TIMEOUT;
    case FETCH_HTTP_STATUS:
        return EXIT_HTTP_STATUS;
    case FETCH_TOO_LARGE:
        return EXIT_TOO_LARGE;
    case FETCH_TOO_MANY_REDIRECTS:
        return EXIT_TOO_MANY_REDIRECTS;
    case FETCH_STOPPED:
        return EXIT_STOPPED;
    case FETCH_FAILED:
        break;
    }
    return EXIT_TRANSFER_FAILED;
}

/* Leftovers of a run killed mid-save, and the validators to send: only
 * when the store exists, or a 304 would leave us without any rules. */
static void prepare_store(dynsup_worker *w, const char *store_path, struct store_meta *meta)
{
    struct loader_error err = {{0}};
    int removed = 0;
    char *meta_path = store_meta_path(store_path);
    const char *paths[] = {store_path, meta_path};
    for (size_t i = 0; i < 2; i++) {
        if (paths[i] == NULL)
            continue;
        if (store_remove_stale_temps(paths[i], &removed, &err) != 0)
            dynsup_log(w, DYNSUP_LOG_WARNING, "%s", err.message);
        else if (removed > 0)
            dynsup_log(w, DYNSUP_LOG_INFO, "removed %d temp file(s) left beside %s by an "
                       "interrupted run", removed, paths[i]);
    }
    free(meta_path);

    struct stat info;
    if (stat(store_path, &info) != 0 || !S_ISREG(info.st_mode))
        return;
    if (store_meta_load(store_path, meta, &err) != 0)
        dynsup_log(w, DYNSUP_LOG_WARNING, "%s", err.message);
}

/* Runs right before the new body replaces the store: the old validators
 * go first. Killed between that rename and writing the new validators, we
 * would otherwise leave validators of the old body beside the new one, and
 * a service gone back to the old body would answer 304 for rules we do not
 * hold. Without validators the next request is simply unconditional. (Not
 * earlier: a save that fails while writing keeps store and validators.) */
static int drop_validators(void *store_path, struct loader_error *err)
{
    struct store_meta none = {0};
    return store_meta_save(store_path, &none, err);
}

/* Validates and saves a 200 body, then its validators. `streamed` is the
 * validation fed while the body arrived (taken over here), or NULL: then
 * the body is validated now, in one piece. */
static enum loader_exit save_rules(dynsup_worker *w, const struct loader_options *options,
                                   const struct fetch_response *response,
                                   struct rules_stream *streamed)
{
    struct loader_error err = {{0}};
    long long version = VERSION_NONE, stored_version = VERSION_NONE;
    struct loader_error stored_err = {{0}};
    long rule_count = streamed != NULL
                          ? rules_stream_end(streamed, &version, &err)
                          : rules_validate_document_version(response->body, response->body_length,
                                                            &version, &err);
    int stored_status = rule_count < 0 ? 0 : version_of_store(options->store_path,
                                                              &stored_version, &stored_err);
    if (rule_count < 0) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "invalid rules from %s: %s", options->url, err.message);
        return EXIT_INVALID_DOCUMENT;
    }
    if (stored_status != 0) {
        /* A store we cannot read is what this document repairs; whoever
         * can corrupt it could as well write it, so nothing is lost. */
        dynsup_log(w, DYNSUP_LOG_WARNING, "no version check against the stored rules: %s",
                   stored_err.message);
    } else if (version_guard_allows(stored_version, version, &err) != 0) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "refused rules from %s: %s", options->url, err.message);
        return EXIT_OLDER_VERSION;
    }
    if (dynsup_should_stop(w)) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "stopped by supervisor before saving; %s unchanged",
                   options->store_path);
        return EXIT_STOPPED;
    }
    dynsup_log(w, DYNSUP_LOG_INFO, "save data (%ld rule%s) to %s", rule_count,
               rule_count == 1 ? "" : "s", options->store_path);
    if (store_save_atomic_then(options->store_path, response->body, response->body_length,
                               drop_validators, (void *)options->store_path, &err) != 0) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "save data to %s failed: %s", options->store_path,
                   err.message);
        return EXIT_CANNOT_SAVE;
    }
    /* Only now: validators of a body that is not in the store would make
     * the next request answer 304 for rules we do not hold. */
    struct store_meta meta = {.etag = response->etag, .last_modified = response->last_modified};
    if (store_meta_save(options->store_path, &meta, &err) != 0) {
        /* The old validators are already gone (above): nothing stale remains. */
        dynsup_log(w, DYNSUP_LOG_WARNING, "rules saved, but not their validators (the next "
                   "request is unconditional): %s", err.message);
    }
    return EXIT_DONE;
}

/* libcurl's global set-up (TLS included) done once, where the plugin is
 * loaded (the spawner), rather than in every worker: about 5 ms of a
 * fresh worker's time. The run below still pairs its own init and cleanup
 * (counted by libcurl >= 7.84, so cheap here), so nothing depends on this
 * having happened. No destructor: a spawner ends with _exit. */
__attribute__((constructor)) static void set_up_libcurl_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static enum loader_exit exit_for_trust(enum trust_outcome outcome, enum fetch_status status)
{
    switch (outcome) {
    case TRUST_VERIFIED:
        return EXIT_DONE;
    case TRUST_NO_SIGNATURE:
        return EXIT_NO_SIGNATURE;
    case TRUST_MALFORMED:
        return EXIT_MALFORMED_SIGNATURE;
    case TRUST_UNKNOWN_KEY:
        return EXIT_UNKNOWN_KEY;
    case TRUST_BAD_SIGNATURE:
        return EXIT_BAD_SIGNATURE;
    case TRUST_FETCH_FAILED:
        break;
    }
    return status == FETCH_OK ? EXIT_TRANSFER_FAILED : exit_for_fetch(status);
}

/* With --public-key: fetches URL.minisig and checks the 200's body
 * against it, before anything parses that body. */
static enum loader_exit verify_signature(dynsup_worker *w, const struct fetch_request *request,
                                         const struct fetch_response *response)
{
    struct loader_error err = {{0}};
    char *signature_url = trust_signature_url(request->url, &err);
    if (signature_url == NULL) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "load signature of %s failed: %s", request->url,
                   err.message);
        return EXIT_TRANSFER_FAILED;
    }
    dynsup_log(w, DYNSUP_LOG_INFO, "load signature from %s", signature_url);
    enum fetch_status status = FETCH_OK;
    char signer[17] = "";
    enum trust_outcome outcome = trust_check(&trusted_keys, request, signature_url, response->body,
                                             response->body_length, &status, signer, &err);
    free(signature_url);
    if (outcome == TRUST_VERIFIED)
        dynsup_log(w, DYNSUP_LOG_INFO, "signature verified: key %s", signer);
    else
        dynsup_log(w, DYNSUP_LOG_ERROR, "%s", err.message);
    return exit_for_trust(outcome, status);
}

static void feed_rules(void *stream, const char *bytes, size_t length)
{
    rules_stream_feed(stream, bytes, length);
}

static int auth_loader_run(dynsup_worker *w, int argc, char **argv)
{
    const struct loader_options *options = w->plugin_data;
    if (options == NULL) { /* a host that skipped init: parse here */
        if (parse_arguments(w, argc, argv, &parsed_options) != 0)
            return EXIT_BAD_ARGUMENTS;
        options = &parsed_options;
    }
    dynsup_log(w, DYNSUP_LOG_INFO, "started with URL %s", options->url);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        dynsup_log(w, DYNSUP_LOG_ERROR, "cannot initialise libcurl");
        return EXIT_TRANSFER_FAILED;
    }

    struct store_meta meta = {0};
    prepare_store(w, options->store_path, &meta);

    struct fetch_request request = {
        .url = options->url,
        .connect_timeout_ms = options->connect_timeout_ms,
        .total_timeout_ms = options->timeout_ms,
        .max_bytes = options->max_bytes,
        .max_redirects = AUTH_LOADER_MAX_REDIRECTS,
        .if_none_match = meta.etag,
        .if_modified_since = meta.last_modified,
        .user_agent = "dynsup-auth_loader/" AUTH_LOADER_VERSION,
        .should_stop = worker_should_stop,
        .stop_context = w,
    };
    /* Without keys nothing has to be checked before the body is parsed:
     * it is validated while it arrives, and the parse is over when the
     * transfer is. With keys the signature comes first (verify_signature). */
    struct rules_stream *streamed = NULL;
    if (trusted_keys.key_count == 0 && (streamed = rules_stream_begin()) != NULL) {
        request.on_body = feed_rules;
        request.body_context = streamed;
    }
    struct fetch_response response = {0};
    struct loader_error err = {{0}};
    dynsup_log(w, DYNSUP_LOG_INFO, "load data from %s", options->url);
    enum fetch_status status = fetch_rules(&request, &response, &err);

    enum loader_exit outcome = exit_for_fetch(status);
    int asked_conditionally = meta.etag != NULL || meta.last_modified != NULL;
    if (status == FETCH_NOT_MODIFIED && !asked_conditionally) {
        /* "unchanged" would leave us claiming rules we do not hold */
        dynsup_log(w, DYNSUP_LOG_ERROR, "load data from %s failed: HTTP status 304 to an "
                   "unconditional request", options->url);
        outcome = EXIT_HTTP_STATUS;
    } else if (status == FETCH_NOT_MODIFIED) {
        dynsup_log(w, DYNSUP_LOG_INFO, "rules unchanged (304 Not Modified)");
    } else if (status == FETCH_OK) {
        if (trusted_keys.key_count > 0)
            outcome = verify_signature(w, &request, &response);
        if (outcome == EXIT_DONE) {
            outcome = save_rules(w, options, &response, streamed);
            streamed = NULL; /* taken over */
        }
    } else {
        dynsup_log(w, DYNSUP_LOG_ERROR, "load data from %s failed: %s", options->url,
                   err.message);
    }
    if (outcome == EXIT_DONE)
        dynsup_log(w, DYNSUP_LOG_INFO, "work done");

    rules_stream_abandon(streamed);
    fetch_response_clear(&response);
    store_meta_clear(&meta);
    curl_global_cleanup();
    return outcome;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "auth_loader",
    .version = AUTH_LOADER_VERSION,
    .init = auth_loader_init,
    .run = auth_loader_run,
};
