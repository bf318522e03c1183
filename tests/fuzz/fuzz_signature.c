/*
 * Fuzz target: auth_loader's minisign signature and public key parsers
 * (plugins/auth_loader/signature.c), which read URL.minisig as the network
 * delivers it and the --public-key files.
 *
 * An input starting with a NUL byte is a public key file (the rest of the
 * input); any other input is a signature file checked against DOCUMENT
 * and the one trusted key below. The seeds are that key's real signatures
 * of DOCUMENT, made by `minisign -S` (prehashed and legacy), so mutations
 * start from a valid file.
 *
 * Besides "never crashes": every verdict but "valid" says why; "valid"
 * comes only with the trusted key as signer; a key that parses has the
 * 8-byte id and 32-byte key that a second parse of the same text gives.
 */
#include <string.h>

#include "fuzz_target.h"
#include "signature.h"

static const char DOCUMENT[] = "a document the fuzz target checks\n";
static const char TRUSTED_KEY[] = "untrusted comment: minisign public key 46078C4DC85EF09D\n"
                                  "RWSd8F7ITYwHRhWsC+kRs+Hjft1uHF1r97pj7pgVLn/tgD81rtH5SbVa\n";

static void fuzz_public_key(const uint8_t *data, size_t size)
{
    struct trusted_key first, second;
    struct loader_error err = {{0}};
    if (signature_parse_public_key((const char *)data, size, &first, &err) != 0) {
        fuzz_check(err.message[0] != '\0');
        return;
    }
    fuzz_check(signature_parse_public_key((const char *)data, size, &second, &err) == 0);
    fuzz_check(memcmp(&first, &second, sizeof first) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_check(signature_library_init() == 0);
    if (size > 0 && data[0] == 0) {
        fuzz_public_key(data + 1, size - 1);
        return 0;
    }
    struct trusted_key key;
    struct loader_error err = {{0}};
    fuzz_check(signature_parse_public_key(TRUSTED_KEY, strlen(TRUSTED_KEY), &key, &err) == 0);
    const struct trusted_key *signer = NULL;
    enum signature_verdict verdict = signature_verify(DOCUMENT, strlen(DOCUMENT),
                                                      (const char *)data, size, &key, 1,
                                                      &signer, &err);
    if (verdict == SIGNATURE_VALID) {
        fuzz_check(signer == &key);
    } else {
        fuzz_check(verdict == SIGNATURE_MALFORMED || verdict == SIGNATURE_UNKNOWN_KEY ||
                   verdict == SIGNATURE_BAD);
        fuzz_check(err.message[0] != '\0');
        fuzz_check(memchr(err.message, '\0', sizeof err.message) != NULL);
    }
    return 0;
}
