#include "rules.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json_text_check.h"
#include "object_keys.h"

/* jansson's limit, which validated these documents before: a document it
 * refused for depth is refused here too. */
#define MAX_DEPTH 2048

/* What a value is, in the words of the error messages. */
enum value_kind {
    KIND_OBJECT,
    KIND_ARRAY,
    KIND_STRING,
    KIND_EMPTY_STRING,
    KIND_INTEGER,
    KIND_NEGATIVE_INTEGER,
    KIND_FRACTION,
    KIND_BOOLEAN,
    KIND_NULL,
};

static const char *kind_name(enum value_kind kind)
{
    static const char *const names[] = {
        [KIND_OBJECT] = "an object",
        [KIND_ARRAY] = "an array",
        [KIND_STRING] = "a string",
        [KIND_EMPTY_STRING] = "an empty string",
        [KIND_INTEGER] = "an integer",
        [KIND_NEGATIVE_INTEGER] = "a negative integer",
        [KIND_FRACTION] = "a number with a fraction",
        [KIND_BOOLEAN] = "a boolean",
        [KIND_NULL] = "null",
    };
    return names[kind];
}

/* What the schema expects of the next value, decided by where it is. */
enum slot {
    SLOT_DOCUMENT,
    SLOT_VERSION,
    SLOT_RULES,
    SLOT_RULE,
    SLOT_CLIENT,
    SLOT_SERVICE,
    SLOT_METHODS,
    SLOT_METHOD,
    SLOT_IGNORED,
};

/* The containers the schema looks into; every other one is ROLE_OTHER. */
enum role { ROLE_OTHER, ROLE_DOCUMENT, ROLE_RULES, ROLE_RULE, ROLE_METHODS };

struct frame {
    bool is_object;
    enum role role;
    enum slot next;     /* objects: what the value after the last key is */
    struct object_keys_mark keys; /* objects: where its keys begin */
    size_t elements;    /* arrays: values so far */
};

/* A string field of the rule being read: absent, fine, or of this kind. */
struct field_state {
    bool present;
    bool valid;
    enum value_kind kind;
};

struct rules_stream {
    yajl_handle parser;
    struct frame *frames;
    size_t depth, frames_capacity;
    struct object_keys keys; /* of the open objects */

    struct json_text_check text_check; /* what yajl lets through */
    /* where the bytes fed so far end, for "line L column C" */
    size_t offset, line, line_start;
    bool failed;
    char syntax_error[300];

    struct loader_error document_error; /* empty message: no error */
    struct loader_error version_error;
    struct loader_error rules_error;
    struct loader_error rule_error;      /* the first bad rule */
    long long version;
    bool rules_seen;
    long rule_count;

    /* the rule being read */
    size_t rule_index;
    struct field_state client, service;
    struct loader_error methods_error;
};

static void fail(struct rules_stream *s, const char *message)
{
    snprintf(s->syntax_error, sizeof s->syntax_error, "%s", message);
}

static struct frame *top(struct rules_stream *s)
{
    return s->depth ? &s->frames[s->depth - 1] : NULL;
}

/* Where the value now starting sits in the schema; counts array elements. */
static enum slot slot_of_next_value(struct rules_stream *s, size_t *index)
{
    struct frame *parent = top(s);
    if (parent == NULL)
        return SLOT_DOCUMENT;
    if (parent->is_object)
        return parent->next;
    *index = parent->elements++;
    if (parent->role == ROLE_RULES)
        return SLOT_RULE;
    if (parent->role == ROLE_METHODS)
        return SLOT_METHOD;
    return SLOT_IGNORED;
}

static void note_string_field(struct field_state *field, enum value_kind kind)
{
    field->present = true;
    field->valid = kind == KIND_STRING;
    field->kind = kind;
}

/* The schema's verdict on one value (a scalar, or a container starting).
 * Returns the role the container gets when it is one. */
static enum role check_value(struct rules_stream *s, enum value_kind kind)
{
    size_t index = 0;
    switch (slot_of_next_value(s, &index)) {
    case SLOT_DOCUMENT:
        if (kind == KIND_OBJECT)
            return ROLE_DOCUMENT;
        loader_error_set(&s->document_error, "document: expected a JSON object, found %s",
                         kind_name(kind));
        return ROLE_OTHER;
    case SLOT_VERSION:
        if (kind != KIND_INTEGER)
            loader_error_set(&s->version_error,
                             "version: expected a non-negative integer, found %s", kind_name(kind));
        return ROLE_OTHER;
    case SLOT_RULES:
        s->rules_seen = true;
        if (kind == KIND_ARRAY)
            return ROLE_RULES;
        loader_error_set(&s->rules_error, "rules: expected an array of rule objects, found %s",
                         kind_name(kind));
        return ROLE_OTHER;
    case SLOT_RULE:
        if (kind == KIND_OBJECT) {
            s->rule_index = index;
            s->client = s->service = (struct field_state){0};
            s->methods_error.message[0] = '\0';
            return ROLE_RULE;
        }
        if (s->rule_error.message[0] == '\0')
            loader_error_set(&s->rule_error, "rules[%zu]: expected an object, found %s", index,
                             kind_name(kind));
        return ROLE_OTHER;
    case SLOT_CLIENT:
        note_string_field(&s->client, kind);
        return ROLE_OTHER;
    case SLOT_SERVICE:
        note_string_field(&s->service, kind);
        return ROLE_OTHER;
    case SLOT_METHODS:
        if (kind == KIND_ARRAY)
            return ROLE_METHODS;
        loader_error_set(&s->methods_error,
                         "rules[%zu].methods: expected an array of strings, found %s",
                         s->rule_index, kind_name(kind));
        return ROLE_OTHER;
    case SLOT_METHOD:
        if (kind != KIND_STRING && kind != KIND_EMPTY_STRING &&
            s->methods_error.message[0] == '\0')
            loader_error_set(&s->methods_error,
                             "rules[%zu].methods[%zu]: expected a string, found %s",
                             s->rule_index, index, kind_name(kind));
        return ROLE_OTHER;
    case SLOT_IGNORED:
        break;
    }
    return ROLE_OTHER;
}

static void report_field(struct loader_error *err, size_t rule_index, const char *name,
                         const struct field_state *field)
{
    if (!field->present)
        loader_error_set(err, "rules[%zu].%s: missing (expected a non-empty string)", rule_index,
                         name);
    else
        loader_error_set(err, "rules[%zu].%s: expected a non-empty string, found %s", rule_index,
                         name, kind_name(field->kind));
}

/* A rule's object ended: its first fault, client before service before
 * methods, becomes the document's if no earlier rule had one. */
static void finish_rule(struct rules_stream *s)
{
    if (s->rule_error.message[0] != '\0')
        return;
    if (!s->client.valid)
        report_field(&s->rule_error, s->rule_index, "client", &s->client);
    else if (!s->service.valid)
        report_field(&s->rule_error, s->rule_index, "service", &s->service);
    else if (s->methods_error.message[0] != '\0')
        s->rule_error = s->methods_error;
}

static int push(struct rules_stream *s, bool is_object, enum role role)
{
    if (s->depth >= MAX_DEPTH) {
        fail(s, "maximum parsing depth reached");
        return 0;
    }
    if (object_keys_grow((void **)&s->frames, &s->frames_capacity, s->depth + 1, sizeof *s->frames) != 0) {
        fail(s, "out of memory");
        return 0;
    }
    s->frames[s->depth++] = (struct frame){
        .is_object = is_object,
        .role = role,
        .next = SLOT_IGNORED,
        .keys = object_keys_mark(&s->keys),
    };
    return 1;
}

static int on_scalar(struct rules_stream *s, enum value_kind kind)
{
    check_value(s, kind);
    return 1;
}

static int on_null(void *context)
{
    return on_scalar(context, KIND_NULL);
}

static int on_boolean(void *context, int value)
{
    (void)value;
    return on_scalar(context, KIND_BOOLEAN);
}

static int on_integer(void *context, long long value)
{
    struct rules_stream *s = context;
    struct frame *parent = top(s);
    if (value >= 0 && parent != NULL && parent->is_object && parent->next == SLOT_VERSION)
        s->version = value;
    return on_scalar(s, value < 0 ? KIND_NEGATIVE_INTEGER : KIND_INTEGER);
}

static int on_double(void *context, double value)
{
    (void)value;
    return on_scalar(context, KIND_FRACTION);
}

static int on_string(void *context, const unsigned char *text, size_t length)
{
    struct rules_stream *s = context;
    /* Refused as jansson refused it: the store is read by C programs. */
    if (memchr(text, '\0', length) != NULL) {
        fail(s, "\\u0000 is not allowed in a string");
        return 0;
    }
    return on_scalar(s, length == 0 ? KIND_EMPTY_STRING : KIND_STRING);
}

static int on_start_map(void *context)
{
    struct rules_stream *s = context;
    return push(s, true, check_value(s, KIND_OBJECT));
}

static int on_start_array(void *context)
{
    struct rules_stream *s = context;
    return push(s, false, check_value(s, KIND_ARRAY));
}

static enum slot slot_of_key(enum role role, const char *text, size_t length)
{
#define IS(word) (length == sizeof word - 1 && memcmp(text, word, length) == 0)
    if (role == ROLE_DOCUMENT)
        return IS("version") ? SLOT_VERSION : IS("rules") ? SLOT_RULES : SLOT_IGNORED;
    if (role == ROLE_RULE)
        return IS("client")    ? SLOT_CLIENT
               : IS("service") ? SLOT_SERVICE
               : IS("methods") ? SLOT_METHODS
                               : SLOT_IGNORED;
#undef IS
    return SLOT_IGNORED;
}

static int on_map_key(void *context, const unsigned char *key_text, size_t length)
{
    struct rules_stream *s = context;
    const char *text = (const char *)key_text;
    struct frame *object = top(s);
    if (memchr(text, '\0', length) != NULL) {
        fail(s, "\\u0000 is not allowed in an object key");
        return 0;
    }
    int added = object_keys_add(&s->keys, object->keys, text, length, s->syntax_error,
                                sizeof s->syntax_error);
    if (added != 0) {
        if (added == -2)
            fail(s, "out of memory");
        return 0;
    }
    object->next = slot_of_key(object->role, text, length);
    return 1;
}

static int on_end_map(void *context)
{
    struct rules_stream *s = context;
    struct frame *object = top(s);
    if (object_keys_close(&s->keys, object->keys, s->syntax_error, sizeof s->syntax_error) != 0)
        return 0;
    if (object->role == ROLE_RULE)
        finish_rule(s);
    s->depth--;
    return 1;
}

static int on_end_array(void *context)
{
    struct rules_stream *s = context;
    struct frame *array = top(s);
    if (array->role == ROLE_RULES)
        s->rule_count = (long)array->elements;
    s->depth--;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_integer = on_integer,
    .yajl_double = on_double,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

struct rules_stream *rules_stream_begin(void)
{
    struct rules_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    /* yajl's defaults are strict JSON: no comments, UTF-8 checked, one
     * value, nothing after it. */
    s->parser = yajl_alloc(&callbacks, NULL, s);
    if (s->parser == NULL) {
        free(s);
        return NULL;
    }
    s->line = 1;
    s->version = -1;
    return s;
}

/* Moves the line/column position over `length` bytes fed. */
static void advance(struct rules_stream *s, const char *bytes, size_t length)
{
    const char *end = bytes + length;
    for (const char *newline = memchr(bytes, '\n', length); newline != NULL;
         newline = memchr(newline + 1, '\n', (size_t)(end - newline - 1))) {
        s->line++;
        s->line_start = s->offset + (size_t)(newline - bytes) + 1;
    }
    s->offset += length;
}

/* yajl's own description of its error, without its trailing newline. */
static void take_parser_error(struct rules_stream *s)
{
    if (s->syntax_error[0] != '\0')
        return; /* one of ours, the parser only says "cancelled" */
    unsigned char *text = yajl_get_error(s->parser, 0, NULL, 0);
    fail(s, text ? (const char *)text : "parse error");
    size_t length = strlen(s->syntax_error);
    while (length > 0 &&
           (s->syntax_error[length - 1] == '\n' || s->syntax_error[length - 1] == ' '))
        s->syntax_error[--length] = '\0';
    if (text)
        yajl_free_error(s->parser, text);
}

/* Parses one piece; false (the stream failed) on a syntax error. */
static bool parse_piece(struct rules_stream *s, const char *bytes, size_t length)
{
    yajl_status status = yajl_parse(s->parser, (const unsigned char *)bytes, length);
    if (status == yajl_status_ok) {
        advance(s, bytes, length);
        return true;
    }
    size_t consumed = yajl_get_bytes_consumed(s->parser);
    advance(s, bytes, consumed < length ? consumed : length);
    take_parser_error(s);
    s->failed = true;
    return false;
}

void rules_stream_feed(struct rules_stream *s, const char *bytes, size_t length)
{
    if (s->failed || length == 0)
        return;
    const char *why = NULL;
    size_t fine = json_text_check_scan(&s->text_check, bytes, length, &why);
    /* What comes before the offending byte is parsed first: an earlier
     * error, yajl's, wins. */
    if (fine > 0 && !parse_piece(s, bytes, fine))
        return;
    if (fine < length) {
        fail(s, why);
        s->failed = true;
    }
}

void rules_stream_abandon(struct rules_stream *s)
{
    if (s == NULL)
        return;
    yajl_free(s->parser);
    free(s->frames);
    object_keys_free(&s->keys);
    free(s);
}

/* Ends the parse; -1 with err on a syntax error. */
static int end_parse(struct rules_stream *s, struct loader_error *err)
{
    if (!s->failed && yajl_complete_parse(s->parser) != yajl_status_ok) {
        take_parser_error(s);
        s->failed = true;
    }
    /* yajl, at the end of input, lets go of a string still open after the
     * document ("{...} \"abc"): it is still waiting for its end. */
    if (!s->failed && s->text_check.in_string) {
        fail(s, "trailing garbage: an unterminated string");
        s->failed = true;
    }
    if (!s->failed)
        return 0;
    loader_error_set(err, "invalid JSON at line %zu column %zu: %s", s->line,
                     s->offset - s->line_start, s->syntax_error);
    return -1;
}

static bool is_set(const struct loader_error *error)
{
    return error->message[0] != '\0';
}

long rules_stream_end(struct rules_stream *s, long long *version, struct loader_error *err)
{
    long count = -1;
    const struct loader_error *fault = NULL;
    if (end_parse(s, err) != 0)
        goto done;
    if (is_set(&s->document_error))
        fault = &s->document_error;
    else if (is_set(&s->version_error))
        fault = &s->version_error;
    else if (!s->rules_seen)
        loader_error_set(err, "rules: missing (expected an array of rule objects)");
    else if (is_set(&s->rules_error))
        fault = &s->rules_error;
    else if (is_set(&s->rule_error))
        fault = &s->rule_error;
    else
        count = s->rule_count;
    if (fault != NULL && err != NULL)
        *err = *fault;
    if (count >= 0 && version != NULL)
        *version = s->version;
done:
    rules_stream_abandon(s);
    return count;
}

long rules_validate_document(const char *bytes, size_t length, struct loader_error *err)
{
    return rules_validate_document_version(bytes, length, NULL, err);
}

long rules_validate_document_version(const char *bytes, size_t length, long long *version,
                                     struct loader_error *err)
{
    struct rules_stream *s = rules_stream_begin();
    if (s == NULL) {
        loader_error_set(err, "out of memory");
        return -1;
    }
    rules_stream_feed(s, bytes, length);
    return rules_stream_end(s, version, err);
}

int rules_stream_end_version(struct rules_stream *s, long long *version,
                             struct loader_error *err)
{
    int status = end_parse(s, err);
    if (status == 0 && is_set(&s->version_error)) {
        if (err != NULL)
            *err = s->version_error;
        status = -1;
    }
    if (status == 0)
        *version = s->version;
    rules_stream_abandon(s);
    return status;
}
