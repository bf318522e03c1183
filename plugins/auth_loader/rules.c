#include "rules.h"

/* A short human name of a JSON value's type, for "found ..." in messages. */
static const char *json_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return json_string_length(value) == 0 ? "an empty string" : "a string";
    case JSON_INTEGER:
        return json_integer_value(value) < 0 ? "a negative integer" : "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "an unknown value";
}

static int is_non_empty_string(const json_t *value)
{
    return json_is_string(value) && json_string_length(value) > 0;
}

static int validate_methods(const json_t *methods, size_t rule_index, struct loader_error *err)
{
    if (!json_is_array(methods)) {
        loader_error_set(err, "rules[%zu].methods: expected an array of strings, found %s",
                         rule_index, json_type_name(methods));
        return -1;
    }
    size_t method_index;
    const json_t *method;
    json_array_foreach(methods, method_index, method) {
        if (!json_is_string(method)) {
            loader_error_set(err, "rules[%zu].methods[%zu]: expected a string, found %s",
                             rule_index, method_index, json_type_name(method));
            return -1;
        }
    }
    return 0;
}

static int validate_rule(const json_t *rule, size_t rule_index, struct loader_error *err)
{
    if (!json_is_object(rule)) {
        loader_error_set(err, "rules[%zu]: expected an object, found %s", rule_index,
                         json_type_name(rule));
        return -1;
    }
    static const char *const required_strings[] = {"client", "service"};
    for (size_t i = 0; i < sizeof required_strings / sizeof required_strings[0]; i++) {
        const char *key = required_strings[i];
        const json_t *value = json_object_get(rule, key);
        if (value == NULL) {
            loader_error_set(err, "rules[%zu].%s: missing (expected a non-empty string)",
                             rule_index, key);
            return -1;
        }
        if (!is_non_empty_string(value)) {
            loader_error_set(err, "rules[%zu].%s: expected a non-empty string, found %s",
                             rule_index, key, json_type_name(value));
            return -1;
        }
    }
    const json_t *methods = json_object_get(rule, "methods");
    if (methods != NULL && validate_methods(methods, rule_index, err) != 0)
        return -1;
    return 0;
}

long rules_validate_json(const json_t *document, struct loader_error *err)
{
    if (!json_is_object(document)) {
        loader_error_set(err, "document: expected a JSON object, found %s",
                         json_type_name(document));
        return -1;
    }
    const json_t *version = json_object_get(document, "version");
    if (version != NULL && !(json_is_integer(version) && json_integer_value(version) >= 0)) {
        loader_error_set(err, "version: expected a non-negative integer, found %s",
                         json_type_name(version));
        return -1;
    }
    const json_t *rules = json_object_get(document, "rules");
    if (rules == NULL) {
        loader_error_set(err, "rules: missing (expected an array of rule objects)");
        return -1;
    }
    if (!json_is_array(rules)) {
        loader_error_set(err, "rules: expected an array of rule objects, found %s",
                         json_type_name(rules));
        return -1;
    }
    size_t rule_index;
    const json_t *rule;
    json_array_foreach(rules, rule_index, rule) {
        if (validate_rule(rule, rule_index, err) != 0)
            return -1;
    }
    return (long)json_array_size(rules);
}

long rules_validate_document(const char *bytes, size_t length, struct loader_error *err)
{
    return rules_validate_document_version(bytes, length, NULL, err);
}

long rules_validate_document_version(const char *bytes, size_t length, long long *version,
                                     struct loader_error *err)
{
    json_error_t parse_error;
    /* Duplicate keys are refused: with them, which "rules" counts would
     * depend on the reader, and the store is read by other programs.
     * Any JSON value is parsed, so "42" gets the clearer schema message. */
    json_t *document =
        json_loadb(bytes, length, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &parse_error);
    if (document == NULL) {
        loader_error_set(err, "invalid JSON at line %d column %d: %s", parse_error.line,
                         parse_error.column, parse_error.text);
        return -1;
    }
    long count = rules_validate_json(document, err);
    if (count >= 0 && version != NULL) {
        const json_t *value = json_object_get(document, "version");
        *version = value != NULL ? (long long)json_integer_value(value) : -1;
    }
    json_decref(document);
    return count;
}
