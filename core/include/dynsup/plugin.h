/*
 * dynsup plugin ABI, version 1.
 *
 * A plugin is one shared object that exports exactly one symbol,
 * `dynsup_plugin`, a `const struct dynsup_plugin`. Build it with
 *
 *     cc -shared -fPIC -I core/include plugin.c -o NAME.so
 *
 * No library needs to be linked: everything a worker may ask of the host
 * goes through function pointers the host hands to the worker, wrapped by
 * the static inline helpers at the end of this file.
 *
 * Life of a worker
 * ----------------
 * Every child is its own OS process, forked by the host's spawner with the
 * plugin already loaded. In that process the host calls, in order:
 *
 *   1. init(w, argc, argv)   optional. Return 0 to go on, DYNSUP_IGNORE to
 *                            say "nothing to do" (the start_child request
 *                            answers `ignore` and no child is kept), any
 *                            other value to fail (the request answers
 *                            `init_failed`). start_child replies only after
 *                            init returned.
 *   2. run(w, argc, argv)    required. Its return value is the process's
 *                            exit status: 0 is a normal exit, anything else
 *                            is abnormal (see `restart` in the child spec).
 *
 * argv holds the arguments only: the supervisor's extra_arguments, then
 * the child spec's args, then the start_child request's args;
 * argv[argc] == NULL. The strings belong to the host; do not free them.
 *
 * Stopping: the supervisor asks a worker to stop with SIGTERM. The worker
 * runtime catches it and from then on dynsup_should_stop() returns 1;
 * blocking calls such as sleep() or read() return early with EINTR, and
 * dynsup_wait_for_stop() returns 1. A worker is expected to notice, clean
 * up and return from run(). If it does not do so within the child spec's
 * `shutdown` time, it is sent SIGKILL.
 *
 * Output: the worker's stdout and stderr reach the host's log one line at
 * a time, tagged with the child id and pid. dynsup_log() writes a line with
 * an explicit level.
 *
 * Isolation: the worker has default signal dispositions (but SIGTERM, see
 * above), an empty signal mask, and is killed when the host dies.
 *
 * Descriptors: a worker holds exactly these when init and run are called:
 *   0  /dev/null
 *   1  stdout, and
 *   2  stderr: one pipe to the host's log (one line, one log line)
 * and, during init only, one descriptor of the runtime's: the pipe that
 * carries init's answer to the host. It sits far from the low numbers
 * (1023, or just under a lower RLIMIT_NOFILE soft limit), so your first
 * open() gets 3, and it is closed before run is called. Do not close descriptors
 * you did not open: a worker that closes the runtime's one during init
 * fails its start (`init_failed`) and is killed. Nothing of the host's
 * (its control socket, other workers' pipes) is ever open in a worker.
 *
 * Processes a worker forks: every worker leads its own process group, and
 * what it forks (fork, system("cmd &"), popen) stays in that group. The
 * supervisor's stop signals go to the whole group, and when the worker
 * exits, whatever is left of its group is killed with SIGKILL; nothing a
 * worker started outlives it, not even when the host is killed. A process
 * that leaves the group (setsid, setpgid, daemon(3)) is killed as soon as
 * the runtime notices it is no longer with its worker. `kill(0, sig)`
 * reaches the worker's own processes only. A plugin that really wants a
 * long-lived background process must not fork one: make it a child of
 * its own (another child spec, started with start_child) so that it is
 * supervised, or run it under the system's service manager.
 */
#ifndef DYNSUP_PLUGIN_H
#define DYNSUP_PLUGIN_H

#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header's contract. The host refuses a plugin whose
 * abi_version differs, naming the expected and the found value. */
#define DYNSUP_PLUGIN_ABI_VERSION 1u

/* init's answer for "this child has nothing to do; keep no child". */
#define DYNSUP_IGNORE 0x1D5

/* Log levels for dynsup_log(), the syslog numbers. */
enum dynsup_log_level {
    DYNSUP_LOG_ERROR = 3,
    DYNSUP_LOG_WARNING = 4,
    DYNSUP_LOG_INFO = 6,
    DYNSUP_LOG_DEBUG = 7,
};

typedef struct dynsup_worker dynsup_worker;

/* What the host offers a worker. Filled by the host; a plugin only calls
 * it through the helpers below. `size` lets later versions append
 * functions without breaking ABI 1. */
struct dynsup_worker_api {
    uint32_t size;
    int (*should_stop)(const dynsup_worker *w);
    void (*vlog)(dynsup_worker *w, int level, const char *fmt, va_list ap);
    int (*wait_for_stop)(const dynsup_worker *w, long timeout_ms); /* appended in 1.1 */
};

/* The worker's view of itself. Owned by the host (lives as long as the
 * worker process); read-only for the plugin. */
struct dynsup_worker {
    uint32_t abi_version;                 /* DYNSUP_PLUGIN_ABI_VERSION */
    const struct dynsup_worker_api *api;
    const char *supervisor;               /* e.g. "auth_rules" */
    const char *child_id;                 /* e.g. "auth_loader" */
    const char *name;                     /* registered name, or NULL */
    void *plugin_data;                    /* free for the plugin: init may set it for run */
};

typedef int (*dynsup_init_fn)(dynsup_worker *w, int argc, char **argv);
typedef int (*dynsup_run_fn)(dynsup_worker *w, int argc, char **argv);

/* The one symbol a plugin exports, as `const struct dynsup_plugin
 * dynsup_plugin = { .abi_version = DYNSUP_PLUGIN_ABI_VERSION, ... };`
 * Fields may only be appended in later ABI versions. */
struct dynsup_plugin {
    uint32_t abi_version;   /* must be DYNSUP_PLUGIN_ABI_VERSION */
    const char *name;       /* must equal the file name without ".so"; [a-z0-9_]+ */
    const char *version;    /* the plugin's own version string, shown by `dynsup-host plugins` */
    dynsup_init_fn init;    /* optional, may be NULL */
    dynsup_run_fn run;      /* required */
};

/* Symbol name the host looks up. */
#define DYNSUP_PLUGIN_SYMBOL "dynsup_plugin"

/* Marks the exported descriptor visible even when the plugin is built
 * with -fvisibility=hidden. */
#if defined(__GNUC__)
#define DYNSUP_EXPORT __attribute__((visibility("default")))
#else
#define DYNSUP_EXPORT
#endif

/* 1 once the supervisor asked this worker to stop, else 0. Cheap: safe to
 * call in tight loops and from libcurl progress callbacks. */
static inline int dynsup_should_stop(const dynsup_worker *w)
{
    return w->api->should_stop(w);
}

/* Sleeps until the supervisor asks this worker to stop (returns 1) or
 * timeout_ms milliseconds have passed (returns 0); a negative timeout_ms
 * waits for the stop alone. An idle worker should wait here rather than
 * in a loop of short sleeps: it costs no wake-up at all while it waits,
 * and no stop can slip in between a look and a sleep. Any thread may call
 * it, whichever thread the SIGTERM reaches. On a host older than this
 * header (whose runtime does not offer the call) it looks every 100 ms
 * instead, with the same answers. */
static inline int dynsup_wait_for_stop(const dynsup_worker *w, long timeout_ms)
{
    if (w->api->size >= offsetof(struct dynsup_worker_api, wait_for_stop) + sizeof w->api->wait_for_stop &&
        w->api->wait_for_stop)
        return w->api->wait_for_stop(w, timeout_ms);
    /* Counted in whole steps: a step a signal cut short does not count,
     * so the wait may run over, never end early; and whole seconds of
     * time() bound it, 2 s over at most, however often the plugin's own
     * signals cut steps short. (No finer clock is declared in C99 and C++
     * without feature macros.) */
    long waited = 0;
    time_t start = time(NULL);
    for (;;) {
        if (w->api->should_stop(w))
            return 1;
        if (timeout_ms >= 0 && (waited >= timeout_ms || time(NULL) - start >= timeout_ms / 1000 + 2))
            return 0;
        int step = timeout_ms >= 0 && timeout_ms - waited < 100 ? (int)(timeout_ms - waited) : 100;
        if (poll(NULL, 0, step) == 0) /* a SIGTERM ends it early (EINTR) */
            waited += step;
    }
}

/* Log one line through the host, at `level` (enum dynsup_log_level).
 * A trailing newline is not needed. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void dynsup_log(dynsup_worker *w, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    w->api->vlog(w, level, fmt, ap);
    va_end(ap);
}

#ifdef __cplusplus
}
#endif
#endif /* DYNSUP_PLUGIN_H */
