/* Test plugin: its descriptor's name differs from its file name
 * (wrong_name.so); the loader must refuse it naming both. */
#include <dynsup/plugin.h>

static int wrong_name_run(dynsup_worker *w, int argc, char **argv)
{
    (void)w, (void)argc, (void)argv;
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "renamed_plugin",
    .version = "1.0.0",
    .run = wrong_name_run,
};
