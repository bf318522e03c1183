/*
 * The imperative side of signatures: the trusted keys read from the
 * --public-key files, and fetching URL.minisig to check a document with
 * signature.h.
 *
 * A 200 is saved only once its signature verifies; a 304 needs none (what
 * we hold was verified when it was saved). The signature is fetched after
 * the document and checked before the document is even parsed: bytes that
 * no trusted key vouches for never reach the JSON parser.
 */
#ifndef AUTH_LOADER_TRUST_H
#define AUTH_LOADER_TRUST_H

#include <stddef.h>

#include "error.h"
#include "fetch.h"
#include "options.h"
#include "signature.h"

struct trust {
    struct trusted_key keys[OPTIONS_MAX_PUBLIC_KEYS];
    size_t key_count; /* 0: no --public-key, documents are not checked */
};

/* Reads every --public-key file (relative paths from the working folder).
 * Returns 0, or -1 with err naming the file and what is wrong with it. */
int trust_load_keys(const struct loader_options *options, struct trust *trust,
                    struct loader_error *err);

/* URL with ".minisig" appended to its path (query and fragment kept where
 * they were). malloc'ed; NULL with err set if URL cannot be parsed. */
char *trust_signature_url(const char *url, struct loader_error *err);

enum trust_outcome {
    TRUST_VERIFIED,
    TRUST_NO_SIGNATURE,   /* URL.minisig answered 404 or 410 */
    TRUST_MALFORMED,      /* not a minisign signature (or larger than one) */
    TRUST_UNKNOWN_KEY,
    TRUST_BAD_SIGNATURE,
    TRUST_FETCH_FAILED,   /* any other failure to fetch it: *fetch_status says which */
};

/* Fetches `signature_url` (from trust_signature_url) with the bounds of
 * `request`, the document's (its validators are not sent), and checks
 * `body`, the document, against it.
 * On TRUST_VERIFIED, signer_id (17 bytes) gets the key id; otherwise err
 * holds the one line to log. */
enum trust_outcome trust_check(const struct trust *trust, const struct fetch_request *request,
                               const char *signature_url, const char *body, size_t body_length,
                               enum fetch_status *fetch_status, char signer_id[17],
                               struct loader_error *err);

#endif
