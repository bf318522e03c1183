/*
 * Validation of an access-rules document (SPEC §7):
 *
 *     {"version": 7, "rules": [{"client": "web", "service": "catalog",
 *                               "methods": ["GET"]}, ...]}
 *
 * - the document is a JSON object;
 * - "version" is optional; when present it is a non-negative integer;
 * - "rules" is required: an array of objects, each with non-empty strings
 *   "client" and "service" and an optional "methods" array of strings;
 * - unknown keys are allowed everywhere (newer services may add fields).
 *
 * Errors name the path of the offending value, e.g.
 * "rules[3].service: expected a non-empty string, found null".
 */
#ifndef AUTH_LOADER_RULES_H
#define AUTH_LOADER_RULES_H

#include <stddef.h>

#include <jansson.h>

#include "error.h"

/* Parses `length` bytes (not NUL-terminated) as JSON and validates them.
 * Returns the number of rules (>= 0), or -1 with err naming the cause:
 * "invalid JSON at line L column C: ..." or a schema path message. */
long rules_validate_document(const char *bytes, size_t length, struct loader_error *err);

/* As rules_validate_document, and *version (may be NULL) gets the
 * document's "version", or -1 when it has none (VERSION_NONE of
 * version_guard.h). */
long rules_validate_document_version(const char *bytes, size_t length, long long *version,
                                     struct loader_error *err);

/* Validates an already parsed document (borrowed, not modified).
 * Returns the number of rules or -1 with err set. */
long rules_validate_json(const json_t *document, struct loader_error *err);

#endif
