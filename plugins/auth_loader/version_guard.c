#include "version_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"

int version_of_store(const char *store_path, long long *version, struct loader_error *err)
{
    int fd = open(store_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            *version = VERSION_NONE;
            return 0;
        }
        loader_error_set(err, "cannot read %s: %s", store_path, strerror(errno));
        return -1;
    }
    struct rules_stream *stream = rules_stream_begin();
    if (stream == NULL) {
        close(fd);
        loader_error_set(err, "out of memory");
        return -1;
    }
    /* Read in pieces and fed as read: no copy of the whole store. */
    char piece[65536];
    for (;;) {
        ssize_t got = read(fd, piece, sizeof piece);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            loader_error_set(err, "cannot read %s: %s", store_path, strerror(errno));
            rules_stream_abandon(stream);
            close(fd);
            return -1;
        }
        if (got == 0)
            break;
        rules_stream_feed(stream, piece, (size_t)got);
    }
    close(fd);
    struct loader_error why = {{0}};
    if (rules_stream_end_version(stream, version, &why) != 0) {
        loader_error_set(err, "%s: %s", store_path, why.message);
        return -1;
    }
    return 0;
}

int version_guard_allows(long long stored, long long incoming, struct loader_error *err)
{
    if (stored == VERSION_NONE || (incoming != VERSION_NONE && incoming >= stored))
        return 0;
    if (incoming == VERSION_NONE)
        loader_error_set(err, "it has no version, older than the stored version %lld", stored);
    else
        loader_error_set(err, "version %lld is older than the stored version %lld", incoming,
                         stored);
    return -1;
}
