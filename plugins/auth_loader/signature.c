#include "signature.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#define ALGORITHM_BYTES 2
#define SIGNATURE_BYTES crypto_sign_BYTES /* 64 */
#define PUBLIC_KEY_RECORD_BYTES (ALGORITHM_BYTES + SIGNATURE_KEY_ID_BYTES + SIGNATURE_PUBLIC_KEY_BYTES)
#define SIGNATURE_RECORD_BYTES (ALGORITHM_BYTES + SIGNATURE_KEY_ID_BYTES + SIGNATURE_BYTES)

static const char untrusted_prefix[] = "untrusted comment:";
static const char trusted_prefix[] = "trusted comment: ";

int signature_library_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

/* One line of a text that is not NUL-terminated: [start, start+length),
 * without its "\n" or "\r\n". */
struct line {
    const char *start;
    size_t length;
};

/* Splits text into at most `max` lines. Returns the number found, or -1
 * when there are more non-empty lines than `max` (empty lines at the end,
 * a final newline say, are not counted). */
static int split_lines(const char *text, size_t length, struct line *lines, int max)
{
    int count = 0;
    size_t at = 0;
    while (at < length) {
        const char *newline = memchr(text + at, '\n', length - at);
        size_t end = newline ? (size_t)(newline - text) : length;
        struct line line = {text + at, end - at};
        if (line.length > 0 && line.start[line.length - 1] == '\r')
            line.length--;
        at = newline ? end + 1 : length;
        if (line.length == 0 && count >= max)
            continue;
        if (count >= max)
            return -1;
        lines[count++] = line;
    }
    while (count > 0 && lines[count - 1].length == 0)
        count--;
    return count;
}

static bool line_starts_with(const struct line *line, const char *prefix)
{
    size_t prefix_length = strlen(prefix);
    return line->length >= prefix_length && memcmp(line->start, prefix, prefix_length) == 0;
}

/* Decodes a base64 line that must hold exactly `expected` bytes. */
static bool decode_exactly(const struct line *line, unsigned char *out, size_t expected)
{
    size_t decoded = 0;
    const char *end = NULL;
    if (memchr(line->start, '\0', line->length) != NULL)
        return false;
    return sodium_base642bin(out, expected, line->start, line->length, NULL, &decoded, &end,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           decoded == expected && end == line->start + line->length;
}

void signature_key_id_text(const unsigned char id[SIGNATURE_KEY_ID_BYTES], char out[17])
{
    /* minisign stores the id little-endian and prints it as a hex number,
     * without leading zeros, in the public key file's comment: printed
     * alike, an operator finds the key by searching for it. */
    unsigned long long number = 0;
    for (int i = SIGNATURE_KEY_ID_BYTES - 1; i >= 0; i--)
        number = number << 8 | id[i];
    snprintf(out, 17, "%llX", number);
}

int signature_parse_public_key(const char *text, size_t length, struct trusted_key *key,
                               struct loader_error *err)
{
    struct line lines[2];
    int count = split_lines(text, length, lines, 2);
    int first = count > 0 && line_starts_with(&lines[0], untrusted_prefix) ? 1 : 0;
    if (count < 0 || count - first != 1) {
        loader_error_set(err, "not a minisign public key (expected an \"untrusted comment:\" "
                         "line and one base64 line, as minisign -G writes)");
        return -1;
    }
    unsigned char record[PUBLIC_KEY_RECORD_BYTES];
    if (!decode_exactly(&lines[first], record, sizeof record)) {
        loader_error_set(err, "not a minisign public key (the key line is not base64 of "
                         "%d bytes)", PUBLIC_KEY_RECORD_BYTES);
        return -1;
    }
    if (memcmp(record, "Ed", ALGORITHM_BYTES) != 0) {
        loader_error_set(err, "unsupported public key algorithm \"%c%c\" (expected \"Ed\")",
                         record[0], record[1]);
        return -1;
    }
    memcpy(key->id, record + ALGORITHM_BYTES, SIGNATURE_KEY_ID_BYTES);
    memcpy(key->public_key, record + ALGORITHM_BYTES + SIGNATURE_KEY_ID_BYTES,
           SIGNATURE_PUBLIC_KEY_BYTES);
    return 0;
}

/* A signature file taken apart; the pointers borrow the caller's text. */
struct parsed_signature {
    unsigned char algorithm[ALGORITHM_BYTES];
    unsigned char key_id[SIGNATURE_KEY_ID_BYTES];
    unsigned char signature[SIGNATURE_BYTES];
    struct line trusted_comment;
    unsigned char comment_signature[SIGNATURE_BYTES];
};

static int parse_signature(const char *text, size_t length, struct parsed_signature *parsed,
                           struct loader_error *err)
{
    struct line lines[4];
    int count = split_lines(text, length, lines, 4);
    if (count != 4 || !line_starts_with(&lines[0], untrusted_prefix) ||
        !line_starts_with(&lines[2], trusted_prefix)) {
        loader_error_set(err, "malformed signature: expected 4 lines (untrusted comment, "
                         "signature, trusted comment, comment signature) as minisign -S writes");
        return -1;
    }
    unsigned char record[SIGNATURE_RECORD_BYTES];
    if (!decode_exactly(&lines[1], record, sizeof record)) {
        loader_error_set(err, "malformed signature: line 2 is not base64 of %d bytes",
                         SIGNATURE_RECORD_BYTES);
        return -1;
    }
    if (!decode_exactly(&lines[3], parsed->comment_signature, SIGNATURE_BYTES)) {
        loader_error_set(err, "malformed signature: line 4 is not base64 of %d bytes",
                         SIGNATURE_BYTES);
        return -1;
    }
    memcpy(parsed->algorithm, record, ALGORITHM_BYTES);
    memcpy(parsed->key_id, record + ALGORITHM_BYTES, SIGNATURE_KEY_ID_BYTES);
    memcpy(parsed->signature, record + ALGORITHM_BYTES + SIGNATURE_KEY_ID_BYTES, SIGNATURE_BYTES);
    if (memcmp(parsed->algorithm, "ED", ALGORITHM_BYTES) != 0 &&
        memcmp(parsed->algorithm, "Ed", ALGORITHM_BYTES) != 0) {
        loader_error_set(err, "malformed signature: unsupported algorithm \"%c%c\" (expected "
                         "\"ED\", prehashed, or \"Ed\", legacy)",
                         parsed->algorithm[0], parsed->algorithm[1]);
        return -1;
    }
    parsed->trusted_comment = (struct line){lines[2].start + strlen(trusted_prefix),
                                            lines[2].length - strlen(trusted_prefix)};
    return 0;
}

static const struct trusted_key *find_key(const unsigned char id[SIGNATURE_KEY_ID_BYTES],
                                          const struct trusted_key *keys, size_t key_count)
{
    for (size_t i = 0; i < key_count; i++)
        if (memcmp(keys[i].id, id, SIGNATURE_KEY_ID_BYTES) == 0)
            return &keys[i];
    return NULL;
}

static bool document_signature_holds(const struct parsed_signature *parsed,
                                     const void *document, size_t length,
                                     const struct trusted_key *key)
{
    if (parsed->algorithm[1] == 'D') { /* "ED": the BLAKE2b-512 hash was signed */
        unsigned char hash[crypto_generichash_BYTES_MAX];
        crypto_generichash(hash, sizeof hash, document, length, NULL, 0);
        return crypto_sign_verify_detached(parsed->signature, hash, sizeof hash,
                                           key->public_key) == 0;
    }
    return crypto_sign_verify_detached(parsed->signature, document, length,
                                       key->public_key) == 0;
}

/* The second signature covers the first one and the trusted comment. */
static bool comment_signature_holds(const struct parsed_signature *parsed,
                                    const struct trusted_key *key)
{
    unsigned char signed_bytes[SIGNATURE_BYTES + SIGNATURE_MAX_FILE_BYTES];
    size_t comment_length = parsed->trusted_comment.length;
    if (comment_length > SIGNATURE_MAX_FILE_BYTES)
        return false;
    memcpy(signed_bytes, parsed->signature, SIGNATURE_BYTES);
    memcpy(signed_bytes + SIGNATURE_BYTES, parsed->trusted_comment.start, comment_length);
    return crypto_sign_verify_detached(parsed->comment_signature, signed_bytes,
                                       SIGNATURE_BYTES + comment_length, key->public_key) == 0;
}

enum signature_verdict signature_verify(const void *document, size_t document_length,
                                        const char *signature, size_t signature_length,
                                        const struct trusted_key *keys, size_t key_count,
                                        const struct trusted_key **signer,
                                        struct loader_error *err)
{
    if (signature_length > SIGNATURE_MAX_FILE_BYTES) {
        loader_error_set(err, "malformed signature: %zu bytes, more than a minisign signature "
                         "file holds (%d)", signature_length, SIGNATURE_MAX_FILE_BYTES);
        return SIGNATURE_MALFORMED;
    }
    struct parsed_signature parsed;
    if (parse_signature(signature, signature_length, &parsed, err) != 0)
        return SIGNATURE_MALFORMED;
    char id_text[17];
    signature_key_id_text(parsed.key_id, id_text);
    const struct trusted_key *key = find_key(parsed.key_id, keys, key_count);
    if (key == NULL) {
        loader_error_set(err, "signed by unknown key %s (trusted: %zu key%s given by "
                         "--public-key)", id_text, key_count, key_count == 1 ? "" : "s");
        return SIGNATURE_UNKNOWN_KEY;
    }
    if (!document_signature_holds(&parsed, document, document_length, key)) {
        loader_error_set(err, "bad signature: key %s did not sign this document", id_text);
        return SIGNATURE_BAD;
    }
    if (!comment_signature_holds(&parsed, key)) {
        loader_error_set(err, "bad signature: the trusted comment was not signed by key %s",
                         id_text);
        return SIGNATURE_BAD;
    }
    if (signer != NULL)
        *signer = key;
    return SIGNATURE_VALID;
}
