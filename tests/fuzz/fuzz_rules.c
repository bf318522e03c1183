/*
 * Fuzz target: auth_loader's access-rules validator (SPEC section 7), the
 * code that judges whatever body an HTTP auth service sends back before it
 * may replace the store.
 *
 * Besides "never crashes": a refusal always says why; a document that
 * passes is one jansson (duplicate keys refused) reads as an object whose
 * "rules" array has exactly the counted rules, each with non-empty
 * "client" and "service" strings, so the store never holds what the schema
 * forbids; and the verdict does not depend on how the bytes arrive (the
 * document fed in two pieces, split anywhere, is judged the same; only the
 * column of a syntax error may differ, when the piece ends inside a token).
 */
#include <jansson.h>
#include <string.h>

#include "fuzz_target.h"
#include "rules.h"

static void check_accepted_document(const uint8_t *data, size_t size, long count)
{
    json_error_t parse_error;
    json_t *document = json_loadb((const char *)data, size,
                                  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &parse_error);
    fuzz_check(document != NULL);
    fuzz_check(json_is_object(document));
    const json_t *rules = json_object_get(document, "rules");
    fuzz_check(json_is_array(rules) && json_array_size(rules) == (size_t)count);
    for (size_t i = 0; i < json_array_size(rules); i++) {
        const json_t *rule = json_array_get(rules, i);
        fuzz_check(json_string_length(json_object_get(rule, "client")) > 0);
        fuzz_check(json_string_length(json_object_get(rule, "service")) > 0);
    }
    json_decref(document);
}

/* A message without the line and column of a syntax error. */
static const char *without_position(const char *message)
{
    static const char prefix[] = "invalid JSON at line ";
    if (strncmp(message, prefix, sizeof prefix - 1) != 0)
        return message;
    const char *after = strchr(message + sizeof prefix - 1, ':');
    return after != NULL ? after : message;
}

/* The same bytes in two pieces, split at a place the input chooses. */
static long validate_in_two_pieces(const uint8_t *data, size_t size, struct loader_error *err)
{
    size_t split = size > 0 ? data[0] % (size + 1) : 0;
    struct rules_stream *stream = rules_stream_begin();
    fuzz_check(stream != NULL);
    rules_stream_feed(stream, (const char *)data, split);
    rules_stream_feed(stream, (const char *)data + split, size - split);
    return rules_stream_end(stream, NULL, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct loader_error err = {{0}};
    long count = rules_validate_document((const char *)data, size, &err);
    struct loader_error pieces_err = {{0}};
    fuzz_check(validate_in_two_pieces(data, size, &pieces_err) == count);
    fuzz_check(strcmp(without_position(pieces_err.message), without_position(err.message)) == 0);
    if (count < 0) {
        fuzz_check(count == -1);
        fuzz_check(err.message[0] != '\0');
        fuzz_check(memchr(err.message, '\0', sizeof err.message) != NULL);
        return 0;
    }
    check_accepted_document(data, size, count);
    return 0;
}
