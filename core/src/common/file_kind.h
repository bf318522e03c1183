/*
 * What kind of file a mode says, as words for a message: "a FIFO", "a
 * folder", ... One wording for every refusal that names a file's kind.
 */
#ifndef DYNSUP_FILE_KIND_H
#define DYNSUP_FILE_KIND_H

#include <sys/types.h>

/* A static string: "a regular file", "a folder", "a FIFO", "a character
 * device", "a block device", "a socket", "a symlink", or "a file of an
 * unknown kind". */
const char *file_kind_name(mode_t mode);

#endif
