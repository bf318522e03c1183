/*
 * The local store: the rules file STORE and, beside it, STORE.meta with
 * the HTTP validators of the response it holds.
 *
 * Every write is atomic (SPEC §7): the bytes go to a new file
 * ".NAME.tmp.XXXXXX" in the same folder (so rename stays on one file
 * system), which is written in full, fsync'ed, renamed over NAME, and then
 * the folder is fsync'ed so the rename itself survives a power cut. Readers
 * see the old file or the new one, never a mix. On any failure the temp
 * file is removed and NAME keeps its old bytes.
 *
 * A worker killed with SIGKILL between create and rename leaves its temp
 * file behind; store_remove_stale_temps() removes those of ours on the
 * next run. That is safe because the supervisor runs one auth_loader per
 * store at a time (registered name, max_children = 1).
 */
#ifndef AUTH_LOADER_STORE_H
#define AUTH_LOADER_STORE_H

#include <stddef.h>

#include "error.h"

/* Replaces the file at `path` with `length` bytes, atomically. A new file
 * gets mode 0666 minus the umask; a replaced file keeps its mode.
 * Returns 0, or -1 with err set (the old file untouched, no temp left). */
int store_save_atomic(const char *path, const void *bytes, size_t length,
                      struct loader_error *err);

/* As store_save_atomic, and calls before_rename(context, err) once the new
 * bytes are written and synced, right before they replace the old file:
 * the last moment to undo something that must not outlive the old bytes.
 * If it returns -1 (with err set) the save stops there, as a failure. */
int store_save_atomic_then(const char *path, const void *bytes, size_t length,
                           int (*before_rename)(void *context, struct loader_error *err),
                           void *context, struct loader_error *err);

/* Removes the files ".NAME.tmp.XXXXXX" (exactly six suffix characters)
 * in path's folder; nothing else. *removed (may be NULL) gets the count.
 * Returns 0, or -1 with err set when the folder cannot be read. */
int store_remove_stale_temps(const char *path, int *removed, struct loader_error *err);

/* The validators of the response held in the store. Both strings are
 * owned by the struct (heap, may be NULL) and freed by
 * store_meta_clear(). */
struct store_meta {
    char *etag;
    char *last_modified;
};

/* "STORE.meta" for "STORE"; malloc'ed, the caller frees; NULL if out of
 * memory. */
char *store_meta_path(const char *store_path);

/* Reads STORE.meta into *meta (which must be zeroed or cleared). A missing
 * file gives an empty meta and 0. A file that is not the JSON object we
 * write gives an empty meta and -1 with err set: the caller may warn and
 * go on without validators. */
int store_meta_load(const char *store_path, struct store_meta *meta, struct loader_error *err);

/* Writes STORE.meta atomically (as store_save_atomic). With no validator
 * at all the meta file is removed instead, so no stale one survives. */
int store_meta_save(const char *store_path, const struct store_meta *meta,
                    struct loader_error *err);

void store_meta_clear(struct store_meta *meta);

#endif
