/*
 * Fuzz target: auth_loader's access-rules validator (SPEC section 7), the
 * code that judges whatever body an HTTP auth service sends back before it
 * may replace the store.
 *
 * Besides "never crashes": a refusal always says why, and a document that
 * passes is an object whose "rules" array has exactly the counted rules,
 * each with non-empty "client" and "service" strings, so the store never
 * holds what the schema forbids.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz_target.h"
#include "rules.h"

static void check_accepted_document(const uint8_t *data, size_t size, long count)
{
    json_error_t parse_error;
    json_t *document = json_loadb((const char *)data, size, JSON_DECODE_ANY, &parse_error);
    fuzz_check(document != NULL);
    fuzz_check(json_is_object(document));
    const json_t *rules = json_object_get(document, "rules");
    fuzz_check(json_is_array(rules) && json_array_size(rules) == (size_t)count);
    for (size_t i = 0; i < json_array_size(rules); i++) {
        const json_t *rule = json_array_get(rules, i);
        fuzz_check(json_string_length(json_object_get(rule, "client")) > 0);
        fuzz_check(json_string_length(json_object_get(rule, "service")) > 0);
    }
    struct loader_error err = {{0}};
    fuzz_check(rules_validate_json(document, &err) == count);
    json_decref(document);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct loader_error err = {{0}};
    long count = rules_validate_document((const char *)data, size, &err);
    if (count < 0) {
        fuzz_check(count == -1);
        fuzz_check(err.message[0] != '\0');
        fuzz_check(memchr(err.message, '\0', sizeof err.message) != NULL);
        return 0;
    }
    check_accepted_document(data, size, count);
    return 0;
}
