/*
 * A one-shot memory arena for jansson while a rules document is parsed.
 *
 * Why: a worker is a fresh process; parsing a 1 MB document builds a tree
 * of ~10 MB in tens of thousands of small allocations, and on these
 * machines every first touch of a heap page is a page fault of 20-50 us:
 * the parse was dominated by faults (about 2,800 of them, ~70 ms). The
 * arena is one mapping, populated at once (and backed by huge pages where
 * the kernel offers them); frees inside it are no-ops, and the whole arena
 * goes away with json_arena_end. jansson's documented allocator hook
 * (json_set_alloc_funcs) is what plugs it in.
 *
 * Use: json_arena_begin(hint) ... parse, use and json_decref everything ...
 * json_arena_end(). Allocations beyond the arena fall back to malloc, and
 * frees of those reach free. Not thread-safe (jansson's hook is global);
 * a worker parses on one thread.
 */
#ifndef AUTH_LOADER_JSON_ARENA_H
#define AUTH_LOADER_JSON_ARENA_H

#include <stddef.h>

/* Routes jansson's allocations into a fresh arena of about `size` bytes.
 * Returns 0, or -1 (no arena: jansson keeps using malloc). */
int json_arena_begin(size_t size);

/* Back to malloc/free; releases the arena. Every value allocated in it
 * must have been released (json_decref) before. */
void json_arena_end(void);

#endif
