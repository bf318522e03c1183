/*
 * The scratch folder of the configuration tests (test_config_*.c): setup
 * makes a fresh folder under /tmp, the tests write small host and child
 * files into it and load them; teardown frees the config and removes the
 * folder. The realistic example and the five-mistakes file live in
 * $DYNSUP_TEST_DATA/config (test_data()).
 *
 * Ownership: setup allocates the scratch (cmocka's state), teardown frees
 * it with its config and errors.
 */
#ifndef DYNSUP_TEST_SUPPORT_CONFIG_H
#define DYNSUP_TEST_SUPPORT_CONFIG_H

#include "config.h"

/* Line 1 [host], 2 plugin_dir, 3 socket: appended sections start at 4. */
#define HOST "[host]\nplugin_dir = plugins\nsocket = run/dynsup.sock\n"

struct scratch {
    char dir[64];
    char path[512]; /* last answer of scratch_path */
    struct config cfg;
    struct error_list errors;
    int status;
};

int setup(void **state);
int teardown(void **state);
const char *scratch_path(struct scratch *s, const char *name);

/* Writes dir/name; a name under children.d/ creates that folder. */
void write_file(struct scratch *s, const char *name, const char *text);
int load_path(struct scratch *s, const char *path);

/* Writes the host file (and an empty children.d) and loads it. */
int load_host(struct scratch *s, const char *host_text);
void print_errors(const struct scratch *s);
void assert_loaded_cleanly(const struct scratch *s);
void assert_error(const struct scratch *s, const char *fragment);
const char *test_data(void);

#endif
