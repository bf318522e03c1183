/*
 * No rollback (SPEC §7): a document whose "version" is lower than the
 * stored one's is refused, so an attacker (or a stale cache, or a service
 * restored from an old backup) cannot take a node back to rules it has
 * already replaced, even with a signature that was once valid.
 *
 * The rules, decided here:
 * - a higher version replaces the store;
 * - an equal version is accepted too: it is what a node gets after its
 *   validators were lost (an unconditional request for the same rules),
 *   and a publisher re-signing the same document must not brick a fleet;
 * - a document without "version" cannot replace a stored one that has a
 *   version (it would be the way around the check); without a stored
 *   version anything goes, as before versions were used;
 * - the stored version is read from STORE itself, the bytes we trust, not
 *   from a side file that could be lost on its own.
 */
#ifndef AUTH_LOADER_VERSION_GUARD_H
#define AUTH_LOADER_VERSION_GUARD_H

#include <stddef.h>

#include "error.h"

/* No "version" in the document (or no document). A new document's
 * version comes from rules_validate_document_version (rules.h). */
#define VERSION_NONE (-1LL)

/* The version of the rules held in STORE: VERSION_NONE when there is no
 * STORE. Returns 0, or -1 with err when STORE cannot be read or parsed. */
int version_of_store(const char *store_path, long long *version, struct loader_error *err);

/* 0 when a document of version `incoming` may replace one of version
 * `stored`; -1 with err saying it is older otherwise. Pure. */
int version_guard_allows(long long stored, long long incoming, struct loader_error *err);

#endif
