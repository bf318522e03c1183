/*
 * Bench-only instrumentation of the restart path: each hop stamps
 * CLOCK_MONOTONIC into a shared file mapping (no system call on the path
 * but the vDSO clock). Compiled to nothing unless DYNSUP_HOP_TRACE is
 * defined; the file is named by the environment variable
 * DYNSUP_HOP_TRACE_FILE (inherited by the spawners and their workers).
 */
#ifndef DYNSUP_HOP_TRACE_H
#define DYNSUP_HOP_TRACE_H

#ifdef DYNSUP_HOP_TRACE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define HOP_TRACE_SLOTS 65536
struct hop_trace_entry {
    uint32_t tag;
    int32_t pid;
    int64_t ns;
};
struct hop_trace_file {
    uint64_t count;
    uint64_t pad;
    struct hop_trace_entry entries[HOP_TRACE_SLOTS];
};
/* weak: one variable for the whole program, whichever file stamps */
struct hop_trace_file *hop_trace_map __attribute__((weak));

static inline __attribute__((unused)) void hop_trace_open(void)
{
    const char *path = getenv("DYNSUP_HOP_TRACE_FILE");
    if (!path)
        return;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    void *map = mmap(NULL, sizeof(struct hop_trace_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map != MAP_FAILED)
        hop_trace_map = map;
}

static inline __attribute__((unused)) void hop_trace(uint32_t tag, int32_t pid)
{
    if (!hop_trace_map)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t slot = __atomic_fetch_add(&hop_trace_map->count, 1, __ATOMIC_RELAXED) % HOP_TRACE_SLOTS;
    hop_trace_map->entries[slot] = (struct hop_trace_entry){
        .tag = tag, .pid = pid, .ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec};
}
#include <sys/resource.h>
static inline __attribute__((unused)) int32_t hop_minflt(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (int32_t)usage.ru_minflt;
}
#define HOP_TRACE_OPEN() hop_trace_open()
#define HOP_TRACE(tag, pid) hop_trace((tag), (pid))
#else
#define HOP_TRACE_OPEN() ((void)0)
#define HOP_TRACE(tag, pid) ((void)0)
#define hop_minflt() 0
#endif

/* The hops, in path order. */
enum hop_tag {
    HOP_SPAWNER_WOKE = 1,   /* the spawner's poll returned with SIGCHLD pending */
    HOP_SPAWNER_REAPED,     /* waitid returned the worker's status */
    HOP_SPAWNER_SENT,       /* EXITED sent to the host */
    HOP_HOST_WOKE,          /* the host's loop called on_spawner_event */
    HOP_HOST_DECIDED,       /* the tree returned its actions for the exit */
    HOP_HOST_HANDED,        /* the job was written to the spare's pipe */
    HOP_HOST_DONE,          /* the host is done with the exit (actions applied) */
    HOP_SPARE_WOKE,         /* the spare's ppoll returned */
    HOP_SPARE_DECODED,      /* the spare read and decoded its job */
    HOP_RUN_CALLED,         /* worker_become calls the plugin's run */
    HOP_SPAWNER_SPARE_FORKED, /* a new spare forked (refill) */
};

#endif
