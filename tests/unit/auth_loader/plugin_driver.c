/*
 * A stand-in for the host, for auth_loader's scenario tests: loads a
 * plugin .so, then calls init and run in this process, the way a worker
 * process would.
 *
 *     plugin_driver PLUGIN.so [ARG...]
 *
 * Log lines go to stdout as "LEVEL message". SIGTERM makes
 * dynsup_should_stop() answer 1, like the real worker runtime (installed
 * without SA_RESTART so blocking calls return early). The exit status is
 * run's return value, or init's when init did not answer 0; an init
 * "ignore" prints "init: ignore" and exits 0. Load failures exit 120.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <dynsup/plugin.h>

static volatile sig_atomic_t stop_requested;

static void note_stop_request(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static int driver_should_stop(const dynsup_worker *w)
{
    (void)w;
    return stop_requested != 0;
}

static const char *level_name(int level)
{
    switch (level) {
    case DYNSUP_LOG_ERROR:
        return "error";
    case DYNSUP_LOG_WARNING:
        return "warning";
    case DYNSUP_LOG_INFO:
        return "info";
    case DYNSUP_LOG_DEBUG:
        return "debug";
    }
    return "level?";
}

static void driver_vlog(dynsup_worker *w, int level, const char *fmt, va_list ap)
{
    (void)w;
    printf("%s ", level_name(level));
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: plugin_driver PLUGIN.so [ARG...]\n");
        return 120;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = note_stop_request;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);

    void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        fprintf(stderr, "plugin_driver: %s\n", dlerror());
        return 120;
    }
    const struct dynsup_plugin *plugin = dlsym(library, DYNSUP_PLUGIN_SYMBOL);
    if (plugin == NULL || plugin->abi_version != DYNSUP_PLUGIN_ABI_VERSION || plugin->run == NULL) {
        fprintf(stderr, "plugin_driver: %s: no usable %s\n", argv[1], DYNSUP_PLUGIN_SYMBOL);
        dlclose(library);
        return 120;
    }

    static const struct dynsup_worker_api api = {
        .size = sizeof api,
        .should_stop = driver_should_stop,
        .vlog = driver_vlog,
    };
    dynsup_worker worker = {
        .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
        .api = &api,
        .supervisor = "test",
        .child_id = plugin->name,
    };
    int plugin_argc = argc - 2;
    char **plugin_argv = argv + 2; /* argv[argc] == NULL holds for the tail too */

    int status = 0;
    if (plugin->init != NULL)
        status = plugin->init(&worker, plugin_argc, plugin_argv);
    if (status == DYNSUP_IGNORE) {
        printf("init: ignore\n");
        status = 0;
    } else if (status != 0) {
        printf("init failed: %d\n", status);
    } else {
        status = plugin->run(&worker, plugin_argc, plugin_argv);
    }
    fflush(stdout);
    dlclose(library);
    return status;
}
