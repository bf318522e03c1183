#include "plugin_copy.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * A private copy of the checked file, in memory: the copy is what gets
 * mapped. Code pages mapped from the file itself are shared with the page
 * cache, so `cp new.so plugins/x.so` (which rewrites the file in place)
 * would change the code under every running worker and crash them; a
 * generation of a plugin must be immune to later writes to its file
 * (SPEC section 8). Returns the copy's descriptor (fd closed), or -1 with
 * the reason in errors (fd closed too).
 */
/*
 * A file cut short (a copy still being written) can pass dlopen: the
 * loader maps whole pages, and a segment that runs past the end of the file
 * only faults (SIGBUS) when its missing bytes are first touched, in a
 * worker. So every loadable segment must lie inside the file.
 */
static int check_segments_inside(int fd, off_t size, const char *path, struct error_list *errors)
{
    Elf64_Ehdr header;
    if (pread(fd, &header, sizeof header, 0) != (ssize_t)sizeof header ||
        memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64)
        return 0; /* not a 64-bit ELF file: dlopen says what is wrong */
    for (unsigned i = 0; i < header.e_phnum; i++) {
        Elf64_Phdr segment;
        off_t at = (off_t)header.e_phoff + (off_t)i * (off_t)sizeof segment;
        if (pread(fd, &segment, sizeof segment, at) != (ssize_t)sizeof segment) {
            error_list_add(errors, "%s: refused: truncated (%lld bytes): its program headers "
                           "end past the end of the file", path, (long long)size);
            return -1;
        }
        if (segment.p_type == PT_LOAD && segment.p_offset + segment.p_filesz > (uint64_t)size) {
            error_list_add(errors, "%s: refused: truncated (%lld bytes): a loadable segment ends "
                           "at byte %llu (a copy still being written?)", path, (long long)size,
                           (unsigned long long)(segment.p_offset + segment.p_filesz));
            return -1;
        }
    }
    return 0;
}

int plugin_private_copy(int fd, const char *path, const char *name, struct error_list *errors)
{
    int copy = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (copy < 0) {
        error_list_add(errors, "%s: cannot load: cannot make a private copy: %s", path,
                       strerror(errno));
        close(fd);
        return -1;
    }
    char buffer[65536];
    off_t offset = 0;
    for (;;) {
        ssize_t got = pread(fd, buffer, sizeof buffer, offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got < 0) {
                error_list_add(errors, "%s: cannot read: %s", path, strerror(errno));
                close(copy);
                close(fd);
                return -1;
            }
            break;
        }
        for (ssize_t done = 0; done < got;) {
            ssize_t put = write(copy, buffer + done, (size_t)(got - done));
            if (put < 0 && errno == EINTR)
                continue;
            if (put <= 0) {
                error_list_add(errors, "%s: cannot load: cannot make a private copy: %s", path,
                               strerror(errno));
                close(copy);
                close(fd);
                return -1;
            }
            done += put;
        }
        offset += got;
    }
    close(fd);
    if (check_segments_inside(copy, offset, path, errors) != 0) {
        close(copy);
        return -1;
    }
    /* Kept for the generation's life (a relaunch runs it again): its
     * bytes are fixed from here on, whoever holds it. */
    if (fcntl(copy, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        error_list_add(errors, "%s: cannot load: cannot seal its private copy: %s", path,
                       strerror(errno));
        close(copy);
        return -1;
    }
    return copy;
}
