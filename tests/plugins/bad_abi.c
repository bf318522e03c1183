/* Test plugin: built for a future ABI; the loader must refuse it naming
 * abi_version, the expected and the found value. */
#include <dynsup/plugin.h>

static int bad_abi_run(dynsup_worker *w, int argc, char **argv)
{
    (void)w, (void)argc, (void)argv;
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION + 1,
    .name = "bad_abi",
    .version = "1.0.0",
    .run = bad_abi_run,
};
