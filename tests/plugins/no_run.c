/* Test plugin: has an init but no run; the loader must refuse it because
 * run is required. */
#include <stddef.h>

#include <dynsup/plugin.h>

static int no_run_init(dynsup_worker *w, int argc, char **argv)
{
    (void)w, (void)argc, (void)argv;
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "no_run",
    .version = "1.0.0",
    .init = no_run_init,
    .run = NULL,
};
