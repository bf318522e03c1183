/*
 * The plugin folder's listing (plugin_dir_listing.c), for plugin_loader.c.
 */
#ifndef DYNSUP_PLUGIN_DIR_LISTING_H
#define DYNSUP_PLUGIN_DIR_LISTING_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h" /* struct error_list */

/* The plugin names of the folder open as dir_fd (dir names it in
 * messages), sorted; each *.so that is not a regular file is an error in
 * errors, counted in *refused. Returns 0, or -1 with errno set when the
 * folder cannot be read. Free the names with plugin_names_free. */
int plugin_files_list(int dir_fd, const char *dir, char ***names_out, size_t *count_out,
                      size_t *refused, struct error_list *errors);

#define PLUGIN_SUFFIX ".so"

/* file_name ends in PLUGIN_SUFFIX and has something before it. */
bool plugin_file_name_has_suffix(const char *file_name);

#endif
