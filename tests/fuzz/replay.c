/*
 * Runs a fuzz target without libFuzzer: feeds LLVMFuzzerTestOneInput every
 * file of the folders (or the files) named on the command line, in name
 * order, one at a time. Built in the normal build and run by ctest
 * (fuzz_replay.TARGET) over tests/fuzz/regressions/TARGET and the seed
 * corpus, so an input that once crashed a target is checked in every test
 * run, with whatever compiler and sanitizers that build uses.
 *
 *     replay_fuzz_config tests/fuzz/regressions/fuzz_config tests/fuzz/corpus/fuzz_config
 *
 * A folder that does not exist is reported and skipped (a target may have
 * no regressions yet). Exit status 0 when every input ran; a crash ends the
 * process with the sanitizer's report right after the "replaying" line
 * naming the input.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_target.h"

/* Reads all of `path` into a malloc'd buffer; returns -1 with a message. */
static int read_whole_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *in = fopen(path, "rb");
    if (in == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buffer = NULL;
    size_t length = 0, capacity = 0;
    for (;;) {
        if (length == capacity) {
            capacity = capacity == 0 ? 4096 : capacity * 2;
            uint8_t *grown = realloc(buffer, capacity);
            if (grown == NULL) {
                fprintf(stderr, "replay: out of memory reading %s\n", path);
                free(buffer);
                fclose(in);
                return -1;
            }
            buffer = grown;
        }
        size_t got = fread(buffer + length, 1, capacity - length, in);
        length += got;
        if (got == 0)
            break;
    }
    int failed = ferror(in);
    fclose(in);
    if (failed) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buffer);
        return -1;
    }
    *data = buffer;
    *size = length;
    return 0;
}

static int replay_file(const char *path)
{
    uint8_t *data;
    size_t size;
    if (read_whole_file(path, &data, &size) != 0)
        return -1;
    /* Printed before the run: if the target crashes, this names the input. */
    printf("replaying %s (%zu bytes)\n", path, size);
    fflush(stdout);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int is_visible(const struct dirent *entry)
{
    return entry->d_name[0] != '.';
}

/* Replays every regular file of `dir`; returns the count or -1. */
static int replay_folder(const char *dir)
{
    struct dirent **entries;
    int count = scandir(dir, &entries, is_visible, alphasort);
    if (count < 0) {
        fprintf(stderr, "replay: cannot read folder %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int replayed = 0, status = 0;
    for (int i = 0; i < count; i++) {
        char *path;
        struct stat info;
        if (asprintf(&path, "%s/%s", dir, entries[i]->d_name) < 0) {
            status = -1;
        } else {
            if (stat(path, &info) == 0 && S_ISREG(info.st_mode)) {
                if (replay_file(path) == 0)
                    replayed++;
                else
                    status = -1;
            }
            free(path);
        }
        free(entries[i]);
    }
    free(entries);
    return status == 0 ? replayed : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FOLDER_OR_FILE...\n", argv[0]);
        return 2;
    }
    int total = 0, status = 0;
    for (int i = 1; i < argc; i++) {
        struct stat info;
        if (stat(argv[i], &info) != 0) {
            printf("no %s: nothing to replay there\n", argv[i]);
            continue;
        }
        int replayed = S_ISDIR(info.st_mode) ? replay_folder(argv[i])
                                             : (replay_file(argv[i]) == 0 ? 1 : -1);
        if (replayed < 0)
            status = 1;
        else
            total += replayed;
    }
    printf("%d inputs replayed without a crash\n", total);
    return status;
}
