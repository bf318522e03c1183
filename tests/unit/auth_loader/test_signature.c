/* minisign signatures as the real minisign tool writes them: keys, documents
 * and signatures come from minisign_fixtures.py (SIGNATURE_FIXTURES). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "signature.h"

struct text {
    char *bytes;
    size_t length;
};

static struct text fixture(const char *name)
{
    const char *folder = getenv("SIGNATURE_FIXTURES");
    assert_non_null(folder);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    struct text text = {malloc(65536), 0};
    assert_non_null(text.bytes);
    text.length = fread(text.bytes, 1, 65535, file);
    text.bytes[text.length] = '\0';
    fclose(file);
    return text;
}

static struct trusted_key key_from(const char *name)
{
    struct text text = fixture(name);
    struct trusted_key key;
    struct loader_error err = {{0}};
    assert_int_equal(signature_parse_public_key(text.bytes, text.length, &key, &err), 0);
    free(text.bytes);
    return key;
}

/* Verifies fixture signature `signature_name` over `document` against keys. */
static enum signature_verdict verify_text(const struct text *document, const char *signature,
                                          const struct trusted_key *keys, size_t key_count,
                                          struct loader_error *err)
{
    return signature_verify(document->bytes, document->length, signature, strlen(signature),
                            keys, key_count, NULL, err);
}

static enum signature_verdict verify(const char *signature_name, const struct trusted_key *keys,
                                     size_t key_count, struct loader_error *err)
{
    struct text document = fixture("doc.json");
    struct text signature = fixture(signature_name);
    enum signature_verdict verdict = verify_text(&document, signature.bytes, keys, key_count, err);
    free(document.bytes);
    free(signature.bytes);
    return verdict;
}

/* The signature file with line `number` (1-based) replaced by `line`. */
static char *with_line(const char *signature_name, int number, const char *line)
{
    struct text signature = fixture(signature_name);
    char *out = calloc(1, signature.length + strlen(line) + 2);
    assert_non_null(out);
    char *cursor = signature.bytes;
    for (int at = 1; *cursor != '\0'; at++) {
        char *newline = strchr(cursor, '\n');
        size_t length = newline ? (size_t)(newline - cursor) : strlen(cursor);
        if (at == number)
            strcat(out, line);
        else
            strncat(out, cursor, length);
        strcat(out, "\n");
        cursor += length + (newline ? 1 : 0);
    }
    free(signature.bytes);
    return out;
}

/* Line `number` of a fixture file, without its newline (malloc'ed). */
static char *line_of(const char *name, int number)
{
    struct text text = fixture(name);
    char *cursor = text.bytes;
    for (int at = 1; at < number; at++)
        cursor = strchr(cursor, '\n') + 1;
    char *line = strndup(cursor, strcspn(cursor, "\n"));
    free(text.bytes);
    return line;
}

static void test_a_prehashed_signature_by_a_trusted_key_verifies(void **state)
{
    (void)state;
    struct trusted_key old = key_from("old.pub");
    struct loader_error err = {{0}};
    assert_int_equal(verify("doc.json.minisig", &old, 1, &err), SIGNATURE_VALID);
}

static void test_a_legacy_signature_verifies(void **state)
{
    (void)state;
    struct trusted_key old = key_from("old.pub");
    struct loader_error err = {{0}};
    assert_int_equal(verify("doc.json.legacy.minisig", &old, 1, &err), SIGNATURE_VALID);
}

static void test_during_a_rotation_either_trusted_key_verifies(void **state)
{
    (void)state;
    struct trusted_key keys[2] = {key_from("old.pub"), key_from("new.pub")};
    struct text document = fixture("doc.json");
    struct text by_new = fixture("doc.json.new.minisig");
    const struct trusted_key *signer = NULL;
    struct loader_error err = {{0}};
    assert_int_equal(signature_verify(document.bytes, document.length, by_new.bytes,
                                      by_new.length, keys, 2, &signer, &err),
                     SIGNATURE_VALID);
    assert_ptr_equal(signer, &keys[1]);
    assert_int_equal(verify("doc.json.minisig", keys, 2, &err), SIGNATURE_VALID);
    free(document.bytes);
    free(by_new.bytes);
}

static void test_a_signature_by_another_key_names_that_key(void **state)
{
    (void)state;
    struct trusted_key old = key_from("old.pub");
    struct loader_error err = {{0}};
    assert_int_equal(verify("doc.json.new.minisig", &old, 1, &err), SIGNATURE_UNKNOWN_KEY);
    /* the id minisign wrote into new.pub's untrusted comment */
    char *comment = line_of("new.pub", 1);
    const char *new_id = strrchr(comment, ' ') + 1;
    char expected[160];
    snprintf(expected, sizeof expected,
             "signed by unknown key %s (trusted: 1 key given by --public-key)", new_id);
    assert_string_equal(err.message, expected);
    free(comment);
}

static void test_the_key_id_reads_as_minisign_prints_it(void **state)
{
    (void)state;
    struct trusted_key old = key_from("old.pub");
    char id[17];
    signature_key_id_text(old.id, id);
    char *comment = line_of("old.pub", 1);
    assert_string_equal(comment + strlen("untrusted comment: minisign public key "), id);
    free(comment);
}

static void test_one_changed_byte_of_the_document_is_a_bad_signature(void **state)
{
    (void)state;
    struct trusted_key old = key_from("old.pub");
    const char *variants[] = {"doc.json.minisig", "doc.json.legacy.minisig"};
    for (size_t i = 0; i < 2; i++) {
        struct text document = fixture("doc.json");
        struct text sig = fixture(variants[i]);
        document.bytes[12] ^= 1;
        struct loader_error err = {{0}};
        assert_int_equal(verify_text(&document, sig.bytes, &old, 1, &err), SIGNATURE_BAD);
        assert_non_null(strstr(err.message, "bad signature: key "));
        assert_non_null(strstr(err.message, "did not sign this document"));
        free(document.bytes);
        free(sig.bytes);
    }
}

static void test_a_changed_trusted_comment_is_a_bad_signature(void **state)
{
    (void)state;
    struct trusted_key old = key_from("old.pub");
    struct text document = fixture("doc.json");
    char *forged = with_line("doc.json.minisig", 3, "trusted comment: rules version 4");
    struct loader_error err = {{0}};
    assert_int_equal(verify_text(&document, forged, &old, 1, &err), SIGNATURE_BAD);
    assert_non_null(strstr(err.message, "the trusted comment was not signed by key"));
    free(forged);
    free(document.bytes);
}

static void test_the_untrusted_comment_may_say_anything(void **state)
{
    (void)state;
    struct trusted_key old = key_from("old.pub");
    struct text document = fixture("doc.json");
    char *edited = with_line("doc.json.minisig", 1, "untrusted comment: edited by a proxy");
    struct loader_error err = {{0}};
    assert_int_equal(verify_text(&document, edited, &old, 1, &err), SIGNATURE_VALID);
    free(edited);
    free(document.bytes);
}

static void test_crlf_line_ends_are_accepted(void **state)
{
    (void)state;
    struct trusted_key old = key_from("old.pub");
    struct text document = fixture("doc.json");
    struct text signature = fixture("doc.json.minisig");
    char crlf[8192] = "";
    for (char *line = strtok(signature.bytes, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        strcat(crlf, line);
        strcat(crlf, "\r\n");
    }
    struct loader_error err = {{0}};
    assert_int_equal(verify_text(&document, crlf, &old, 1, &err), SIGNATURE_VALID);
    free(document.bytes);
    free(signature.bytes);
}

static void assert_malformed(const char *signature, const char *message)
{
    struct trusted_key old = key_from("old.pub");
    struct text document = fixture("doc.json");
    struct loader_error err = {{0}};
    assert_int_equal(verify_text(&document, signature, &old, 1, &err), SIGNATURE_MALFORMED);
    assert_non_null(strstr(err.message, message));
    free(document.bytes);
}

static void test_what_is_not_a_signature_file_is_malformed(void **state)
{
    (void)state;
    assert_malformed("", "malformed signature: expected 4 lines");
    assert_malformed("<html>404 Not Found</html>\n", "malformed signature: expected 4 lines");
    char *three_lines = with_line("doc.json.minisig", 4, "");
    assert_malformed(three_lines, "malformed signature: expected 4 lines");
    char *not_base64 = with_line("doc.json.minisig", 2, "RUS!!!not base64!!!");
    assert_malformed(not_base64, "malformed signature: line 2 is not base64 of 74 bytes");
    char *short_global = with_line("doc.json.minisig", 4, "AAAA");
    assert_malformed(short_global, "malformed signature: line 4 is not base64 of 64 bytes");
    char *untagged = with_line("doc.json.minisig", 3, "version 1");
    assert_malformed(untagged, "malformed signature: expected 4 lines");
    free(three_lines);
    free(not_base64);
    free(short_global);
    free(untagged);
}

static void test_an_unknown_algorithm_is_malformed(void **state)
{
    (void)state;
    char *line = line_of("doc.json.minisig", 2);
    unsigned char record[74];
    size_t decoded = 0;
    assert_int_equal(sodium_base642bin(record, sizeof record, line, strlen(line), NULL, &decoded,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    record[0] = 'X';
    record[1] = 'Y';
    char encoded[sodium_base64_ENCODED_LEN(74, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(encoded, sizeof encoded, record, sizeof record,
                      sodium_base64_VARIANT_ORIGINAL);
    char *changed = with_line("doc.json.minisig", 2, encoded);
    assert_malformed(changed, "unsupported algorithm \"XY\"");
    free(changed);
    free(line);
}

static void test_an_oversized_signature_file_is_malformed(void **state)
{
    (void)state;
    char *huge = malloc(SIGNATURE_MAX_FILE_BYTES + 2);
    assert_non_null(huge);
    memset(huge, 'A', SIGNATURE_MAX_FILE_BYTES + 1);
    huge[SIGNATURE_MAX_FILE_BYTES + 1] = '\0';
    assert_malformed(huge, "more than a minisign signature file holds");
    free(huge);
}

static void test_a_public_key_line_alone_is_accepted(void **state)
{
    (void)state;
    char *line = line_of("old.pub", 2);
    struct trusted_key bare, full = key_from("old.pub");
    struct loader_error err = {{0}};
    assert_int_equal(signature_parse_public_key(line, strlen(line), &bare, &err), 0);
    assert_memory_equal(&bare, &full, sizeof bare);
    free(line);
}

static void test_what_is_not_a_public_key_is_refused(void **state)
{
    (void)state;
    struct trusted_key key;
    struct loader_error err = {{0}};
    const char *empty = "";
    assert_int_equal(signature_parse_public_key(empty, 0, &key, &err), -1);
    assert_non_null(strstr(err.message, "not a minisign public key (expected"));
    /* a secret key file's first line, then something else */
    const char *wrong = "untrusted comment: minisign encrypted secret key\nRWQAAA==\n";
    assert_int_equal(signature_parse_public_key(wrong, strlen(wrong), &key, &err), -1);
    assert_string_equal(err.message,
                        "not a minisign public key (the key line is not base64 of 42 bytes)");
    char *signature_line = line_of("doc.json.minisig", 2); /* 74 bytes, not 42 */
    assert_int_equal(signature_parse_public_key(signature_line, strlen(signature_line), &key,
                                                &err),
                     -1);
    free(signature_line);
    const char *three = "untrusted comment: x\nAAAA\nBBBB\n";
    assert_int_equal(signature_parse_public_key(three, strlen(three), &key, &err), -1);
}

static int set_up(void **state)
{
    (void)state;
    return signature_library_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_prehashed_signature_by_a_trusted_key_verifies),
        cmocka_unit_test(test_a_legacy_signature_verifies),
        cmocka_unit_test(test_during_a_rotation_either_trusted_key_verifies),
        cmocka_unit_test(test_a_signature_by_another_key_names_that_key),
        cmocka_unit_test(test_the_key_id_reads_as_minisign_prints_it),
        cmocka_unit_test(test_one_changed_byte_of_the_document_is_a_bad_signature),
        cmocka_unit_test(test_a_changed_trusted_comment_is_a_bad_signature),
        cmocka_unit_test(test_the_untrusted_comment_may_say_anything),
        cmocka_unit_test(test_crlf_line_ends_are_accepted),
        cmocka_unit_test(test_what_is_not_a_signature_file_is_malformed),
        cmocka_unit_test(test_an_unknown_algorithm_is_malformed),
        cmocka_unit_test(test_an_oversized_signature_file_is_malformed),
        cmocka_unit_test(test_a_public_key_line_alone_is_accepted),
        cmocka_unit_test(test_what_is_not_a_public_key_is_refused),
    };
    return cmocka_run_group_tests(tests, set_up, NULL);
}
