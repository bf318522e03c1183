/*
 * One process as /proc/PID/stat shows it: what the host needs to tell a
 * live process from one on its way out (a worker whose report pipe ended)
 * and a working one from a stuck one (a silent spawner).
 */
#ifndef DYNSUP_PROC_STAT_H
#define DYNSUP_PROC_STAT_H

#include <stdbool.h>
#include <sys/types.h>

struct proc_stat {
    char state;               /* /proc's letter: R, S, D, T, t, Z, X ... */
    unsigned long flags;      /* the kernel's PF_* flags */
    unsigned long long cpu;   /* utime + stime, in clock ticks */
};

/* The kernel sets it at the start of exit, before the descriptors close. */
#define PROC_STAT_EXITING 0x4ul /* PF_EXITING */

/* Returns false when there is no such process (or /proc cannot say). */
bool proc_stat_read(pid_t pid, struct proc_stat *stat);

#endif
