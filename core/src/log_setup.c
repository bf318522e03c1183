/*
 * Setting up the log: level names, and whether stderr is the journal.
 */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int log_level_parse(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {
        {"error", DYNSUP_LOG_ERROR}, {"warning", DYNSUP_LOG_WARNING}, {"notice", DYNSUP_LOG_WARNING + 1},
        {"info", DYNSUP_LOG_INFO},   {"debug", DYNSUP_LOG_DEBUG},
    };
    for (size_t i = 0; name != NULL && i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(name, levels[i].name) == 0)
            return levels[i].level;
    return -1;
}

/* systemd sets JOURNAL_STREAM only for a stream it connected; a child
 * that redirected stderr elsewhere inherits the variable, so the device
 * and inode must still match. */
bool log_stderr_is_journal(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long device, inode;
    char extra;
    if (stream == NULL || sscanf(stream, "%llu:%llu%c", &device, &inode, &extra) != 2)
        return false;
    struct stat info;
    if (fstat(STDERR_FILENO, &info) != 0)
        return false;
    return (unsigned long long)info.st_dev == device && (unsigned long long)info.st_ino == inode;
}
