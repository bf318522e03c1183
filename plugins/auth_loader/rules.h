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
 * - unknown keys are allowed everywhere (newer services may add fields);
 * - a duplicate key in any object, a NUL character in a string, or nesting
 *   deeper than 2048 makes the document invalid JSON.
 *
 * Errors name the path of the offending value, e.g.
 * "rules[3].service: expected a non-empty string, found null". When a
 * document has several faults, the one reported is, in this order: the
 * first JSON syntax error, a document that is not an object, a bad
 * "version", a missing or non-array "rules", then the first bad rule (and
 * in a rule: client, service, methods).
 *
 * Why a stream (yajl's event parser) and no tree: a 1 MB document took
 * jansson 25-30 ms to build into a tree on the bench machine, more than
 * `curl -o` needs to download it; the events take about 4 ms, need no
 * memory per value, and can be fed while the body arrives.
 */
#ifndef AUTH_LOADER_RULES_H
#define AUTH_LOADER_RULES_H

#include <stddef.h>

#include "error.h"

/* A validation in progress: bytes are fed as they come, in any pieces. */
struct rules_stream;

/* NULL when out of memory. */
struct rules_stream *rules_stream_begin(void);

/* Feeds the next piece of the document. After a syntax error the rest is
 * ignored (the error is reported by rules_stream_end). */
void rules_stream_feed(struct rules_stream *stream, const char *bytes, size_t length);

/* Ends the document and frees the stream. Returns the number of rules
 * (>= 0), or -1 with err naming the cause: "invalid JSON at line L column
 * C: ..." or a schema path message. *version (may be NULL) gets the
 * document's "version", or -1 when it has none (VERSION_NONE of
 * version_guard.h). */
long rules_stream_end(struct rules_stream *stream, long long *version, struct loader_error *err);

/* Frees a stream without a verdict (NULL is fine). */
void rules_stream_abandon(struct rules_stream *stream);

/* The whole document at once: rules_stream_begin, feed, end. */
long rules_validate_document(const char *bytes, size_t length, struct loader_error *err);
long rules_validate_document_version(const char *bytes, size_t length, long long *version,
                                     struct loader_error *err);

/* For a document already trusted as rules (the store), instead of
 * rules_stream_end: only that it is JSON and what its "version" says,
 * whatever its rules. Frees the stream. Returns 0 with *version
 * (VERSION_NONE when absent or when the document is not an object), or -1
 * with err for invalid JSON or a bad "version". */
int rules_stream_end_version(struct rules_stream *stream, long long *version,
                             struct loader_error *err);

#endif
