/*
 * A plugin generation's private copy of its file (plugin_copy.c says why):
 * what the spawner dlopens instead of the file itself.
 */
#ifndef DYNSUP_PLUGIN_COPY_H
#define DYNSUP_PLUGIN_COPY_H

#include "config.h" /* struct error_list */

/* Copies the checked file open on `fd` (closed either way) into a memfd
 * named `name`, refusing one whose loadable segments run past its end.
 * Returns the copy's descriptor, or -1 with the reason (naming `path`) in
 * errors. */
int plugin_private_copy(int fd, const char *path, const char *name, struct error_list *errors);

#endif
