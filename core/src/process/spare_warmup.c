/* What a spare touches while it waits: see spare_warmup.h. */
#include "spare_warmup.h"

#include <link.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* The program's read-only segments (code, constants): a spare reads one
 * byte of each page, which maps it (a read of a shared file page copies
 * nothing). dynsup-spawner is a few pages; a larger program (dynsup-host
 * running its own spawner, the fallback) is left alone: every page mapped
 * is one more for each worker's exit to unmap. */
#define WARMUP_MAX_RANGES 4
#define WARMUP_MAX_PAGES 32
static struct {
    uintptr_t start, end;
} read_only[WARMUP_MAX_RANGES];
static int read_only_count;
static uintptr_t page_size = 4096;

static int note_program(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum && read_only_count < WARMUP_MAX_RANGES; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || (segment->p_flags & PF_W))
            continue;
        uintptr_t start = info->dlpi_addr + segment->p_vaddr;
        read_only[read_only_count].start = start & ~(page_size - 1);
        read_only[read_only_count].end = start + segment->p_memsz;
        read_only_count++;
    }
    return 1; /* the first object listed is the program itself */
}

void spare_warmup_set_up(void)
{
    long size = sysconf(_SC_PAGESIZE);
    if (size > 0)
        page_size = (uintptr_t)size;
    read_only_count = 0;
    dl_iterate_phdr(note_program, NULL);
    uintptr_t pages = 0;
    for (int i = 0; i < read_only_count; i++)
        pages += (read_only[i].end - read_only[i].start + page_size - 1) / page_size;
    if (pages > WARMUP_MAX_PAGES)
        read_only_count = 0;
}

/* The frames a job's path puts below the spare's own (decoding, becoming
 * the worker, the calls into libc on the way to init): their first pages,
 * written now. */
__attribute__((noinline)) WORKER_PATH static void touch_stack_below(void)
{
    volatile char below[2 * 4096];
    for (size_t i = 0; i < sizeof below; i += 4096)
        below[i] = 0;
}

static void read_page_of(uintptr_t address)
{
    (void)*(volatile const unsigned char *)address;
}

void spare_warm_up(const struct dynsup_plugin *plugin)
{
    touch_stack_below();
    /* Every worker sets its environment (worker_environment.c): the page
     * holding `environ` is copied on that write; copied here instead. */
    char **volatile *environment = &environ;
    *environment = *environment;
    for (int i = 0; i < read_only_count; i++)
        for (uintptr_t page = read_only[i].start; page < read_only[i].end; page += page_size)
            read_page_of(page);
    /* libc's copy, which decoding the job runs first (an address taken
     * here is the variant libc chose for this CPU). */
    read_page_of((uintptr_t)memcpy);
    /* The plugin's first instructions: its entry points' pages. */
    if (plugin->init)
        read_page_of((uintptr_t)plugin->init);
    read_page_of((uintptr_t)plugin->run);
}
