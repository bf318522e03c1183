/*
 * The one entry point every fuzz target defines, declared for both of its
 * drivers: libFuzzer (the fuzz build, tests/fuzz/CMakeLists.txt) and
 * replay.c (the normal build, which feeds it the saved regression inputs).
 *
 * A target returns 0 for every input; a bug shows up as a sanitizer report
 * or as abort() from a broken invariant (fuzz_check).
 */
#ifndef DYNSUP_FUZZ_TARGET_H
#define DYNSUP_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: when it does not hold, the input
 * is a bug, so stop loudly where libFuzzer (and replay) will see it. */
#define fuzz_check(condition)                                                             \
    do {                                                                                  \
        if (!(condition)) {                                                               \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#endif
