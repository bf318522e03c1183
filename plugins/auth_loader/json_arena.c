#include "json_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <jansson.h>

#define HUGE_PAGE (2u * 1024u * 1024u)

static char *arena_base;
static size_t arena_size, arena_used;

static void *arena_malloc(size_t size)
{
    size_t aligned = (size + 15u) & ~(size_t)15u;
    if (aligned >= size && arena_size - arena_used >= aligned) {
        void *block = arena_base + arena_used;
        arena_used += aligned;
        return block;
    }
    return malloc(size);
}

static void arena_free(void *block)
{
    char *address = block;
    if (address >= arena_base && address < arena_base + arena_size)
        return; /* released with the whole arena */
    free(block);
}

int json_arena_begin(size_t size)
{
    if (arena_base != NULL || size == 0 || size > SIZE_MAX - HUGE_PAGE)
        return -1;
    size_t rounded = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    void *mapping = mmap(NULL, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED)
        return -1;
    /* Huge pages first (a hint, fine if refused), then fault everything in
     * with one call instead of one fault per page. */
    madvise(mapping, rounded, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
    madvise(mapping, rounded, MADV_POPULATE_WRITE);
#endif
    arena_base = mapping;
    arena_size = rounded;
    arena_used = 0;
    json_set_alloc_funcs(arena_malloc, arena_free);
    return 0;
}

void json_arena_end(void)
{
    if (arena_base == NULL)
        return;
    json_set_alloc_funcs(malloc, free);
    munmap(arena_base, arena_size);
    arena_base = NULL;
    arena_size = arena_used = 0;
}
