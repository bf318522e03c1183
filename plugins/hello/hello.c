/*
 * hello: the smallest useful plugin. It greets through the host's log,
 * writes one line to stdout and one to stderr (both reach the host's log,
 * tagged with the child), and exits normally.
 *
 *   cc -shared -fPIC -I core/include plugins/hello/hello.c -o hello.so
 */
#include <stdio.h>
#include <string.h>

#include <dynsup/plugin.h>

static int hello_run(dynsup_worker *w, int argc, char **argv)
{
    char joined[512] = "";
    size_t used = 0;
    for (int i = 0; i < argc && used < sizeof joined; i++) {
        int written = snprintf(joined + used, sizeof joined - used, "%s%s", i ? " " : "", argv[i]);
        if (written < 0)
            break;
        used += (size_t)written;
    }
    dynsup_log(w, DYNSUP_LOG_INFO, "hello from %s, args: %s", w->child_id, joined);
    dynsup_log(w, DYNSUP_LOG_DEBUG, "hello, in detail, from %s", w->child_id);

    printf("hello on stdout from %s\n", w->child_id);
    fprintf(stderr, "hello on stderr from %s\n", w->child_id);
    /* stdout is a pipe here, hence fully buffered: push the line out now
     * rather than trust that the process exits through exit(). */
    fflush(stdout);
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "hello",
    .version = "1.0.0",
    .run = hello_run,
};
