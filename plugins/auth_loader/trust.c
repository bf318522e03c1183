#include "trust.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/* A public key file is two short lines; anything much longer is not one. */
#define PUBLIC_KEY_FILE_MAX 4096

static int load_key(const char *path, struct trusted_key *key, struct loader_error *err)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        loader_error_set(err, "--public-key %s: %s", path, strerror(errno));
        return -1;
    }
    char text[PUBLIC_KEY_FILE_MAX + 1];
    size_t length = fread(text, 1, sizeof text, file);
    int read_failed = ferror(file);
    fclose(file);
    if (read_failed) {
        loader_error_set(err, "--public-key %s: cannot read it", path);
        return -1;
    }
    if (length > PUBLIC_KEY_FILE_MAX) {
        loader_error_set(err, "--public-key %s: not a minisign public key (over %d bytes)", path,
                         PUBLIC_KEY_FILE_MAX);
        return -1;
    }
    struct loader_error why = {{0}};
    if (signature_parse_public_key(text, length, key, &why) != 0) {
        loader_error_set(err, "--public-key %s: %s", path, why.message);
        return -1;
    }
    return 0;
}

int trust_load_keys(const struct loader_options *options, struct trust *trust,
                    struct loader_error *err)
{
    trust->key_count = 0;
    if (options->public_key_count == 0)
        return 0;
    if (signature_library_init() != 0) {
        loader_error_set(err, "cannot initialise libsodium");
        return -1;
    }
    for (size_t i = 0; i < options->public_key_count; i++) {
        if (load_key(options->public_key_paths[i], &trust->keys[i], err) != 0)
            return -1;
        trust->key_count++;
    }
    return 0;
}

char *trust_signature_url(const char *url, struct loader_error *err)
{
    CURLU *handle = curl_url();
    char *path = NULL, *signature_url = NULL, *result = NULL;
    if (handle == NULL || curl_url_set(handle, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(handle, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        loader_error_set(err, "URL \"%s\": cannot derive its signature URL", url);
        goto done;
    }
    size_t length = strlen(path) + sizeof ".minisig";
    char *signed_path = malloc(length);
    if (signed_path == NULL) {
        loader_error_set(err, "out of memory");
        goto done;
    }
    snprintf(signed_path, length, "%s.minisig", path);
    CURLUcode rc = curl_url_set(handle, CURLUPART_PATH, signed_path, 0);
    free(signed_path);
    if (rc != CURLUE_OK || curl_url_get(handle, CURLUPART_URL, &signature_url, 0) != CURLUE_OK) {
        loader_error_set(err, "URL \"%s\": cannot derive its signature URL", url);
        goto done;
    }
    result = strdup(signature_url);
    if (result == NULL)
        loader_error_set(err, "out of memory");
done:
    curl_free(path);
    curl_free(signature_url);
    curl_url_cleanup(handle);
    return result;
}

static enum trust_outcome verdict_outcome(enum signature_verdict verdict)
{
    switch (verdict) {
    case SIGNATURE_VALID:
        return TRUST_VERIFIED;
    case SIGNATURE_MALFORMED:
        return TRUST_MALFORMED;
    case SIGNATURE_UNKNOWN_KEY:
        return TRUST_UNKNOWN_KEY;
    case SIGNATURE_BAD:
        break;
    }
    return TRUST_BAD_SIGNATURE;
}

enum trust_outcome trust_check(const struct trust *trust, const struct fetch_request *request,
                               const char *signature_url, const char *body, size_t body_length,
                               enum fetch_status *fetch_status, char signer_id[17],
                               struct loader_error *err)
{
    struct loader_error why = {{0}};
    struct fetch_request signature_request = *request;
    signature_request.url = signature_url;
    signature_request.if_none_match = NULL;
    signature_request.if_modified_since = NULL;
    signature_request.on_body = NULL; /* the signature is not the document */
    /* one byte over the largest signature file, to tell "too large" apart */
    signature_request.max_bytes = SIGNATURE_MAX_FILE_BYTES + 1;
    struct fetch_response response = {0};
    enum trust_outcome outcome = TRUST_FETCH_FAILED;
    *fetch_status = fetch_rules(&signature_request, &response, &why);
    if (*fetch_status == FETCH_HTTP_STATUS &&
        (response.http_status == 404 || response.http_status == 410)) {
        loader_error_set(err, "no signature for %s: %s answered HTTP status %ld", request->url,
                         signature_url, response.http_status);
        outcome = TRUST_NO_SIGNATURE;
    } else if (*fetch_status == FETCH_TOO_LARGE) {
        loader_error_set(err, "signature of %s refused: malformed signature: %s is larger than "
                         "a minisign signature file (%d bytes)", request->url, signature_url,
                         SIGNATURE_MAX_FILE_BYTES);
        outcome = TRUST_MALFORMED;
    } else if (*fetch_status == FETCH_NOT_MODIFIED) {
        loader_error_set(err, "load signature from %s failed: HTTP status 304 to an "
                         "unconditional request", signature_url);
        *fetch_status = FETCH_HTTP_STATUS;
    } else if (*fetch_status != FETCH_OK) {
        loader_error_set(err, "load signature from %s failed: %s", signature_url, why.message);
    } else {
        const struct trusted_key *signer = NULL;
        enum signature_verdict verdict =
            signature_verify(body, body_length, response.body, response.body_length,
                             trust->keys, trust->key_count, &signer, &why);
        outcome = verdict_outcome(verdict);
        if (outcome == TRUST_VERIFIED)
            signature_key_id_text(signer->id, signer_id);
        else
            loader_error_set(err, "signature of %s refused: %s", request->url, why.message);
    }
    fetch_response_clear(&response);
    return outcome;
}
