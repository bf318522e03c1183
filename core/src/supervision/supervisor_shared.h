/*
 * Private to the supervisor core: the texts many children have in common
 * (their child spec's id, its plugin, their argument list), kept once and
 * counted instead of copied into every child. Ten thousand children
 * started from one spec hold one "sleeper", one "bench_worker" and one
 * argument list between them (issue 13: host bytes per live child).
 *
 * A shared text is immutable and lives while anyone holds it: every
 * share_* is matched by one release_*. Pure bookkeeping, no system call.
 *
 * Ownership: the table owns the texts; holders own a reference each.
 */
#ifndef DYNSUP_SUPERVISOR_SHARED_H
#define DYNSUP_SUPERVISOR_SHARED_H

#include "hashmap.h"

struct shared_texts {
    struct hashmap strings;        /* text -> struct shared_string */
    struct hashmap argument_lists; /* encoded list -> struct shared_arguments */
};

void shared_texts_init(struct shared_texts *texts);
/* Every reference must have been released. */
void shared_texts_free(struct shared_texts *texts);

/* A shared copy of text (equal content, one copy), referenced once more. */
const char *share_string(struct shared_texts *texts, const char *text);
void release_string(struct shared_texts *texts, const char *shared);

/* A shared copy of argv[0..argc) with its NULL after the last, likewise.
 * Released with the same argc. */
char **share_arguments(struct shared_texts *texts, char *const *argv, int argc);
void release_arguments(struct shared_texts *texts, char **shared, int argc);

#endif
