/*
 * Helpers of the plugin loader tests (test_plugin_loader_*.c): the folders
 * ctest names in the environment, DYNSUP_PLUGIN_DIR (the built example
 * plugins) and DYNSUP_BAD_PLUGIN_DIR (tests/plugins, built).
 */
#ifndef DYNSUP_TEST_SUPPORT_PLUGIN_LOADER_H
#define DYNSUP_TEST_SUPPORT_PLUGIN_LOADER_H

#include "plugin_loader.h"

/* The value of an environment variable ctest sets; fails the test when it
 * is missing (the test was not run through ctest). */
const char *required_env(const char *name);

/* "dir/file", malloc'd (caller frees). */
char *join_path(const char *dir, const char *file);

#endif
