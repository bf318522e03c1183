/* Test plugin: the classic mistake of a plugin built with
 * -fvisibility=hidden whose descriptor lacks DYNSUP_EXPORT. The descriptor
 * exists but is not exported (hidden here explicitly, whatever the flags),
 * so the loader must report the missing symbol with dlerror()'s text. */
#include <dynsup/plugin.h>

static int no_symbol_run(dynsup_worker *w, int argc, char **argv)
{
    (void)w, (void)argc, (void)argv;
    return 0;
}

__attribute__((visibility("hidden"))) const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "no_symbol",
    .version = "1.0.0",
    .run = no_symbol_run,
};
