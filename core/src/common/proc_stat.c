#include "proc_stat.h"

#include <stdio.h>
#include <string.h>

bool proc_stat_read(pid_t pid, struct proc_stat *stat)
{
    memset(stat, 0, sizeof *stat);
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "re");
    if (!file)
        return false;
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[length] = '\0';
    /* The name may hold anything, ")" included: the fields start after
     * the last one. */
    const char *after_name = strrchr(text, ')');
    if (!after_name || after_name[1] != ' ')
        return false;
    unsigned long long user = 0, system = 0;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(after_name + 2, "%c %*d %*d %*d %*d %*d %lu %*u %*u %*u %*u %llu %llu",
               &stat->state, &stat->flags, &user, &system) != 4)
        return false;
    stat->cpu = user + system;
    return true;
}
