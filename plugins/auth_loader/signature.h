/*
 * Detached minisign signatures over the rules document (SPEC §7 "Trust"),
 * checked with libsodium.
 *
 * A public key file, as `minisign -G` writes it:
 *
 *     untrusted comment: minisign public key 5A8F03E1C2B4D6E7
 *     RWTn1rTC4QOPWk...            base64 of: "Ed" | key id (8) | Ed25519 key (32)
 *
 * A signature file, as `minisign -S` writes it (URL.minisig beside URL):
 *
 *     untrusted comment: signature from minisign secret key
 *     RUTn1rTC4QOPWk...            base64 of: algorithm (2) | key id (8) | signature (64)
 *     trusted comment: timestamp:1765000000	file:rules.json
 *     h5Jm...                      base64 of: signature (64) over signature | trusted comment
 *
 * The algorithm is "ED" (the document's BLAKE2b-512 hash was signed, the
 * default since minisign 0.10) or "Ed" (legacy: the document itself).
 * The untrusted comment is ignored, as its name says; the trusted comment
 * is covered by the second signature and is verified with the same key,
 * so a signature cannot be replayed with a different trusted comment.
 *
 * Everything here is pure: text in, a verdict out. Reading the key files
 * is the caller's business (auth_loader.c).
 */
#ifndef AUTH_LOADER_SIGNATURE_H
#define AUTH_LOADER_SIGNATURE_H

#include <stddef.h>

#include "error.h"

#define SIGNATURE_KEY_ID_BYTES 8
#define SIGNATURE_PUBLIC_KEY_BYTES 32
/* minisign's own limit for a trusted comment, plus room for the other
 * three lines: a larger signature file is not one minisign writes. */
#define SIGNATURE_MAX_FILE_BYTES (8192 + 1024)

struct trusted_key {
    unsigned char id[SIGNATURE_KEY_ID_BYTES];
    unsigned char public_key[SIGNATURE_PUBLIC_KEY_BYTES];
};

enum signature_verdict {
    SIGNATURE_VALID,
    SIGNATURE_MALFORMED,    /* not a minisign signature file, or an unknown algorithm */
    SIGNATURE_UNKNOWN_KEY,  /* well formed, by a key we do not trust */
    SIGNATURE_BAD,          /* by a trusted key, but not over these bytes or this comment */
};

/* Must succeed once before any other call (libsodium's set-up; cheap
 * after the first). Returns 0 or -1. */
int signature_library_init(void);

/* Parses the text of a minisign public key file (or the bare base64 line).
 * Returns 0, or -1 with err saying what is wrong with it. */
int signature_parse_public_key(const char *text, size_t length, struct trusted_key *key,
                               struct loader_error *err);

/* The key id as minisign prints it in a public key file's comment (up to
 * 16 uppercase hex digits, no leading zeros); `out` holds 17 bytes. */
void signature_key_id_text(const unsigned char id[SIGNATURE_KEY_ID_BYTES], char out[17]);

/* Checks `signature` (the text of a .minisig file) over `document` against
 * the `key_count` trusted keys. On SIGNATURE_VALID, *signer (may be NULL)
 * points at the key that made it. On anything else err says why, in words
 * an operator can act on. */
enum signature_verdict signature_verify(const void *document, size_t document_length,
                                        const char *signature, size_t signature_length,
                                        const struct trusted_key *keys, size_t key_count,
                                        const struct trusted_key **signer,
                                        struct loader_error *err);

#endif
